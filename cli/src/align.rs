//! `glocal align`: apply a transform to a feature file, in chunks of rows with bounded memory.

use std::io::{Cursor, Read};
use std::path::{Path, PathBuf};
use std::time::Instant;

use glocal::pack::npy::Npy;
use glocal::{bf16, f16, Element, Transform, WeightDtype};
use memmap2::Mmap;

use crate::error::{CliError, Result};
use crate::fetch::FetchOptions;
use crate::fileio::{map_file, npy_header, AtomicOutput};
use crate::load::{self, kind, Kind};
use crate::{registry, ui};

/// Bytes of input plus output rows processed per chunk (bounds the tool's own buffers).
const CHUNK_BYTES: usize = 4 << 20;
/// Multiply-adds above which a run counts as long enough for a progress bar.
const LONG_RUN_MACS: u128 = 2_000_000_000;
/// Largest decompressed `.npz` feature member accepted.
const MAX_NPZ_MEMBER: u64 = 16 << 30;

/// Everything `align` was asked to do.
pub struct AlignArgs {
    /// Blob file, transform.npz or model name.
    pub transform: String,
    /// Feature file.
    pub features: PathBuf,
    /// Output `.npy`.
    pub output: PathBuf,
    /// Weight dtype for packing (`None`: f32, or the blob's own).
    pub dtype: Option<WeightDtype>,
    /// Output element type.
    pub out_dtype: WeightDtype,
    /// Array name in an `.npz` feature file.
    pub key: Option<String>,
    /// Module override for a model name.
    pub module: Option<String>,
    /// dinov2-vit-base-p14's first upload.
    pub first_upload: bool,
    /// No progress, notes or cautions.
    pub quiet: bool,
    /// Network options when a model must be fetched.
    pub fetch: FetchOptions,
}

/// Feature bytes: a mapped `.npy`, or an `.npz` member read into memory.
enum FeatureBytes {
    Mapped(Mmap),
    Owned(Vec<u8>),
}

impl FeatureBytes {
    fn bytes(&self) -> &[u8] {
        match self {
            FeatureBytes::Mapped(m) => m,
            FeatureBytes::Owned(v) => v,
        }
    }
}

/// Opens the feature file; returns the bytes and a label naming the array (file, or file:member).
fn open_features(path: &Path, key: Option<&str>) -> Result<(FeatureBytes, String)> {
    let map = map_file(path)?;
    match kind(&map) {
        Kind::Npy => {
            if key.is_some() {
                return Err(CliError::file(
                    path,
                    "--key applies only to .npz feature files; this is a .npy array",
                ));
            }
            Ok((FeatureBytes::Mapped(map), path.display().to_string()))
        }
        Kind::Npz => {
            let (member, data) = read_npz_member(path, &map, key)?;
            Ok((FeatureBytes::Owned(data), format!("{}:{member}", path.display())))
        }
        Kind::Blob => Err(CliError::file(path, "is a glocal blob, expected features (.npy or .npz)")),
        Kind::Unknown => Err(CliError::file(path, "not a .npy array (bad magic) nor an .npz archive")),
    }
}

fn read_npz_member(path: &Path, bytes: &[u8], key: Option<&str>) -> Result<(String, Vec<u8>)> {
    let mut archive = zip::ZipArchive::new(Cursor::new(bytes))
        .map_err(|e| CliError::file(path, format!("not a readable .npz (zip) archive: {e}")))?;
    let names: Vec<String> = archive.file_names().map(str::to_string).collect();
    let listing = || {
        let mut arrays: Vec<&str> = names.iter().map(|n| n.strip_suffix(".npy").unwrap_or(n)).collect();
        arrays.sort_unstable();
        arrays.join(", ")
    };
    let member = match key {
        Some(k) => {
            [format!("{k}.npy"), k.to_string()].into_iter().find(|m| names.contains(m)).ok_or_else(|| {
                CliError::file(path, format!("no array '{k}' in the archive (it holds: {})", listing()))
            })?
        }
        None if names.len() == 1 => names[0].clone(),
        None => {
            return Err(CliError::file(
                path,
                format!(
                    "the archive holds {} arrays: name one with --key (it holds: {})",
                    names.len(),
                    listing()
                ),
            ))
        }
    };
    let mut file =
        archive.by_name(&member).map_err(|e| CliError::file(path, format!("member '{member}': {e}")))?;
    let declared = file.size();
    let limit = if file.compression() == zip::CompressionMethod::Stored {
        bytes.len() as u64
    } else {
        file.compressed_size().max(1).saturating_mul(1100).min(MAX_NPZ_MEMBER)
    };
    if declared > limit {
        return Err(CliError::file(
            path,
            format!(
                "member '{member}' declares {declared} bytes uncompressed, more than the {limit} it can hold"
            ),
        ));
    }
    let mut data = Vec::with_capacity(declared as usize);
    (&mut file)
        .take(declared + 1)
        .read_to_end(&mut data)
        .map_err(|e| CliError::file(path, format!("member '{member}': {e}")))?;
    if data.len() as u64 != declared {
        return Err(CliError::file(
            path,
            format!("member '{member}' declares {declared} bytes uncompressed, holds {}", data.len()),
        ));
    }
    let name = member.strip_suffix(".npy").unwrap_or(&member).to_string();
    Ok((name, data))
}

/// Runs `align`.
pub fn run(args: AlignArgs) -> Result<()> {
    let loaded =
        load::load(&args.transform, args.dtype, args.module.as_deref(), args.first_upload, args.fetch)?;
    let t = Transform::new(loaded.blob.bytes()).map_err(|e| CliError::at(&loaded.label, e))?;
    for c in registry::cautions(t.header().model(), Some(t.header().std)) {
        ui::caution(args.quiet, &c);
    }

    let (features, label) = open_features(&args.features, args.key.as_deref())?;
    let npy = Npy::parse(features.bytes()).map_err(|e| CliError::at(&label, e))?;
    let d_in = t.d_in();
    let (rows, out_shape): (usize, Vec<usize>) = match npy.shape[..] {
        [d] if d == d_in => (1, vec![t.d_out()]),
        [d] => {
            return Err(CliError::at(
                &label,
                format!("1-D features of length {d}, the transform's d_in is {d_in} (shape [{d}], expected [{d_in}])"),
            ))
        }
        [0, _] => return Err(CliError::at(&label, format!("features have 0 rows (shape {:?}): nothing to align", npy.shape))),
        [n, d] if d == d_in => (n, vec![n, t.d_out()]),
        [n, d] => {
            return Err(CliError::at(
                &label,
                format!(
                    "features have {d} columns, the transform's d_in is {d_in} (shape [{n}, {d}], expected [{n}, {d_in}])"
                ),
            ))
        }
        _ => {
            return Err(CliError::at(
                &label,
                format!("features have shape {:?}: expected [n, {d_in}] or [{d_in}]", npy.shape),
            ))
        }
    };

    let descr = match args.out_dtype {
        WeightDtype::F32 => "<f4",
        WeightDtype::F16 => "<f2",
        // numpy has no bfloat16: store the bit patterns as uint16 (see docs/CLI.md).
        _ => "<u2",
    };
    let mut out = AtomicOutput::create(&args.output)?;
    out.write_all(&npy_header(descr, &out_shape))?;

    let start = Instant::now();
    let macs = rows as u128 * d_in as u128 * t.d_out() as u128;
    let bar = ui::row_progress(args.quiet, rows as u64, macs >= LONG_RUN_MACS);
    let bad_rows = match args.out_dtype {
        WeightDtype::F32 => stream::<f32>(&t, &npy, rows, &mut out, &label, &bar)?,
        WeightDtype::F16 => stream::<f16>(&t, &npy, rows, &mut out, &label, &bar)?,
        _ => stream::<bf16>(&t, &npy, rows, &mut out, &label, &bar)?,
    };
    bar.finish_and_clear();
    out.commit()?;
    if bad_rows > 0 {
        ui::note(
            args.quiet,
            &format!("{label}: {bad_rows} of {rows} rows contain NaN or infinite values; their outputs are NaN or infinite"),
        );
    }
    if ui::interactive(args.quiet) {
        ui::note(
            false,
            &format!(
                "wrote {} {:?} {} with {} in {:.2} s",
                args.output.display(),
                out_shape,
                args.out_dtype,
                t.kernel().name,
                start.elapsed().as_secs_f64()
            ),
        );
    }
    Ok(())
}

/// An output element's little-endian bytes.
trait OutBytes: Element {
    const SIZE: usize;
    fn put(self, dst: &mut [u8]);
}
impl OutBytes for f32 {
    const SIZE: usize = 4;
    fn put(self, dst: &mut [u8]) {
        dst.copy_from_slice(&self.to_le_bytes());
    }
}
impl OutBytes for f16 {
    const SIZE: usize = 2;
    fn put(self, dst: &mut [u8]) {
        dst.copy_from_slice(&self.to_bits().to_le_bytes());
    }
}
impl OutBytes for bf16 {
    const SIZE: usize = 2;
    fn put(self, dst: &mut [u8]) {
        dst.copy_from_slice(&self.to_bits().to_le_bytes());
    }
}

/// Converts, applies and writes `rows` rows in chunks. Returns the number of rows with a
/// non-finite input value.
fn stream<O: OutBytes>(
    t: &Transform<'_>,
    npy: &Npy<'_>,
    rows: usize,
    out: &mut AtomicOutput,
    label: &str,
    bar: &indicatif::ProgressBar,
) -> Result<usize> {
    let (d_in, d_out) = (t.d_in(), t.d_out());
    let chunk_rows = (CHUNK_BYTES / (4 * (d_in + d_out))).clamp(1, rows);
    let mut x = vec![0.0f32; chunk_rows * d_in];
    let mut y = vec![O::from_f32(f32::NAN); chunk_rows * d_out];
    let mut bytes = vec![0u8; chunk_rows * d_out * O::SIZE];
    let mut bad_rows = 0;
    let mut r0 = 0;
    while r0 < rows {
        let n = chunk_rows.min(rows - r0);
        let x = &mut x[..n * d_in];
        for (r, row) in x.chunks_exact_mut(d_in).enumerate() {
            let base = (r0 + r) * d_in;
            let mut finite = true;
            for (k, v) in row.iter_mut().enumerate() {
                // The shape was checked against the data length, so every index is present.
                let value = npy
                    .get(base + k)
                    .ok_or_else(|| CliError::at(label, "features shorter than their shape"))?;
                *v = value as f32;
                finite &= v.is_finite();
            }
            bad_rows += usize::from(!finite);
        }
        let y = &mut y[..n * d_out];
        y.fill(O::from_f32(f32::NAN));
        t.apply(x, y).map_err(|e| CliError::at(label, e))?;
        let bytes = &mut bytes[..n * d_out * O::SIZE];
        for (v, dst) in y.iter().zip(bytes.chunks_exact_mut(O::SIZE)) {
            v.put(dst);
        }
        out.write_all(bytes)?;
        r0 += n;
        bar.inc(n as u64);
    }
    Ok(bad_rows)
}
