//! `glocal pack`: transform.npz to blob, with its measured error recorded in the header.

use std::path::{Path, PathBuf};

use glocal::format::ProbeKind;
use glocal::pack::measure::{self, DEFAULT_PROBE_ROWS};
use glocal::pack::npy::Npy;
use glocal::WeightDtype;

use crate::error::{CliError, Result};
use crate::fileio::{map_file, AtomicOutput};
use crate::load::{kind, Kind};
use crate::{registry, ui};

/// Everything `pack` was asked to do.
pub struct PackArgs<'a> {
    /// The transform.npz.
    pub input: &'a Path,
    /// Output blob.
    pub output: &'a Path,
    /// Weight storage dtype.
    pub dtype: WeightDtype,
    /// Model name for the header (default: from the path).
    pub model: Option<&'a str>,
    /// Module name for the header (default: from the path).
    pub module: Option<&'a str>,
    /// Probe rows from a `.npy` file instead of the default random ones.
    pub probe: Option<PathBuf>,
    /// Refuse to write a blob whose measured error exceeds this.
    pub max_error: Option<f64>,
    /// No line about the measured error.
    pub quiet: bool,
}

/// Reads the `--probe` rows: a float `.npy` of shape `[n, d_in]` or `[d_in]`, n >= 1.
fn read_probe(path: &Path, d_in: usize) -> Result<Vec<f32>> {
    let map = map_file(path)?;
    if kind(&map) != Kind::Npy {
        return Err(CliError::file(
            path,
            "--probe: not a .npy array (bad magic); expected [n, d_in] float features",
        ));
    }
    let npy = Npy::parse(&map).map_err(|e| CliError::file(path, format!("--probe: {e}")))?;
    match npy.shape[..] {
        [d] | [_, d] if d != d_in => Err(CliError::file(
            path,
            format!("--probe: shape {:?} has {d} columns, the transform's d_in is {d_in}", npy.shape),
        )),
        [0, _] => Err(CliError::file(path, format!("--probe: shape {:?} has 0 rows", npy.shape))),
        [_] | [_, _] => {
            let x = npy.to_f32();
            if let Some((i, v)) = x.iter().enumerate().find(|(_, v)| !v.is_finite()) {
                return Err(CliError::file(
                    path,
                    format!(
                        "--probe: value [{}, {}] is {v} (as float32): probe values must be finite",
                        i / d_in,
                        i % d_in
                    ),
                ));
            }
            Ok(x)
        }
        _ => Err(CliError::file(
            path,
            format!("--probe: shape {:?}: expected [n, {d_in}] or [{d_in}]", npy.shape),
        )),
    }
}

/// The dtypes with a smaller error than `dtype` on gLocal transforms, for the `--max-error` hint.
fn wider(dtype: WeightDtype) -> &'static str {
    match dtype {
        WeightDtype::F32 => "f32 is already the most precise dtype: raise the limit",
        WeightDtype::F16 => "try --dtype f32",
        // bf16, i8d and q8 have errors of the same order; f16 is about 8x smaller.
        _ => "try a wider dtype: --dtype f16 or f32",
    }
}

/// Packs `input` into `output`, measures and records the blob's error, enforces `--max-error`.
pub fn run(args: PackArgs<'_>) -> Result<()> {
    let input = args.input;
    let map = map_file(input)?;
    match kind(&map) {
        Kind::Npz => {}
        Kind::Blob => return Err(CliError::file(input, "is already a glocal blob (see `glocal inspect`)")),
        Kind::Npy => {
            return Err(CliError::file(
                input,
                "is a single .npy array, expected a transform.npz (zip of weights, bias, mean, std)",
            ))
        }
        Kind::Unknown => {
            return Err(CliError::file(
                input,
                "not an .npz (zip) archive: expected thingsvision's transform.npz",
            ))
        }
    }
    let inferred = registry::from_path(input);
    let model = args.model.unwrap_or(inferred.map_or("", |e| e.model));
    let module = args.module.unwrap_or(inferred.map_or("", |e| e.module));
    let source = glocal::pack::npz::read_transform(&map).map_err(|e| CliError::file(input, e))?;
    // A bad probe file fails before the (longer) packing.
    let (probe, probe_kind, probe_text) = match &args.probe {
        Some(p) => {
            let x = read_probe(p, source.d_in)?;
            let text = format!("probe rows from {}", p.display());
            (x, ProbeKind::User, text)
        }
        None => (
            measure::random_probe(source.d_in, source.mean, source.std, DEFAULT_PROBE_ROWS),
            ProbeKind::Random,
            "random probe rows".to_string(),
        ),
    };
    let mut blob =
        glocal::pack::pack(&source, args.dtype, model, module).map_err(|e| CliError::file(input, e))?;
    // Measuring loads the blob through `Transform::new`: the packer's output is validated
    // before anything is written.
    let rec = measure::measure_and_record(&mut blob, &source, &probe, probe_kind).map_err(|e| {
        let place = match (&e, &args.probe) {
            (measure::MeasureError::Blob(_), _) | (_, None) => input,
            (_, Some(p)) => p.as_path(),
        };
        CliError::file(place, e)
    })?;
    let dtype = args.dtype;
    let rows = rec.probe_rows;
    if let Some(limit) = args.max_error {
        if rec.error as f64 > limit {
            return Err(CliError::file(
                input,
                format!(
                    "measured error {:.3e} of max |y_ref| on {rows} {probe_text} exceeds --max-error {limit:e} for {dtype} weights; {}; nothing written",
                    rec.error,
                    wider(dtype)
                ),
            ));
        }
    }
    let mut out = AtomicOutput::create(args.output)?;
    out.write_all(blob.as_bytes())?;
    out.commit()?;
    ui::info(
        args.quiet,
        &format!("measured error {:.2e} of max |y_ref| on {rows} {probe_text} ({dtype})", rec.error),
    );
    Ok(())
}
