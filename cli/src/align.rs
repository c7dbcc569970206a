//! `glocal align`: apply a transform to a feature file, in chunks of rows with bounded memory.
//!
//! The data path copies as little as it can: a little-endian float32 C-order `.npy` is
//! memory-mapped and its rows go to the kernel in place (other feature dtypes are widened chunk
//! by chunk into one buffer); the kernel (on `--threads` cores) writes a chunk of output rows
//! into one buffer, whose bytes go to the output file in one write (on little-endian hosts the
//! buffer *is* the `.npy` data: no per-element conversion).

use std::io::{Cursor, Read};
use std::path::{Path, PathBuf};
use std::time::Instant;

use glocal::pack::npy::Npy;
use glocal::pack::npy::NpyFloat;
use glocal::{bf16, f16, Element, PostOp, QuantizedRows, Transform, WeightDtype};
use memmap2::Mmap;

use crate::error::{CliError, Result};
use crate::fetch::FetchOptions;
use crate::fileio::{map_file, npy_header, AtomicOutput};
use crate::load::{self, kind, Kind};
use crate::{registry, ui};

/// Bytes of the tool's own row buffers per chunk (converted input rows, if any, plus output rows).
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
    /// Scale each output row to unit L2 norm.
    pub normalize: bool,
    /// Threads for the transform (0: every available core).
    pub threads: usize,
    /// Array name in an `.npz` feature file.
    pub key: Option<String>,
    /// Scale of int8/uint8 features (required for them, refused for floats).
    pub input_scale: Option<f32>,
    /// Zero point of int8/uint8 features (default 0).
    pub input_zero_point: Option<i32>,
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
    let npy = Npy::parse_features(features.bytes()).map_err(|e| CliError::at(&label, e))?;
    let quantized = quantization(&npy, &args, &label)?;
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
    let post = if args.normalize { PostOp::L2Normalize } else { PostOp::None };
    let threads = match args.threads {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
        n => n,
    };
    let job = Job { t: &t, npy: &npy, quantized, rows, label: &label, bar: &bar, post, threads };
    let bad_rows = match args.out_dtype {
        WeightDtype::F32 => stream::<f32>(&job, &mut out)?,
        WeightDtype::F16 => stream::<f16>(&job, &mut out)?,
        _ => stream::<bf16>(&job, &mut out)?,
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
                "wrote {} {:?} {}{} with {} on {threads} thread{} in {:.2} s",
                args.output.display(),
                out_shape,
                args.out_dtype,
                if args.normalize { " (rows L2-normalised)" } else { "" },
                t.kernel().name,
                if threads == 1 { "" } else { "s" },
                start.elapsed().as_secs_f64()
            ),
        );
    }
    Ok(())
}

/// An output element type, stored little-endian in the `.npy`.
trait OutElem: Element + bytemuck::Pod + Send {
    /// The element's little-endian bytes (big-endian hosts only; little-endian hosts write the
    /// buffer as it is).
    fn put_le(self, dst: &mut [u8]);
}
impl OutElem for f32 {
    fn put_le(self, dst: &mut [u8]) {
        dst.copy_from_slice(&self.to_le_bytes());
    }
}
impl OutElem for f16 {
    fn put_le(self, dst: &mut [u8]) {
        dst.copy_from_slice(&self.to_bits().to_le_bytes());
    }
}
impl OutElem for bf16 {
    fn put_le(self, dst: &mut [u8]) {
        dst.copy_from_slice(&self.to_bits().to_le_bytes());
    }
}

/// The `.npy` bytes of output rows: the buffer itself on a little-endian host, else a
/// byte-swapped copy in `scratch`.
fn le_bytes<'b, O: OutElem>(y: &'b [O], scratch: &'b mut Vec<u8>) -> &'b [u8] {
    if cfg!(target_endian = "little") {
        return bytemuck::cast_slice(y);
    }
    let size = core::mem::size_of::<O>();
    scratch.resize(core::mem::size_of_val(y), 0);
    for (v, dst) in y.iter().zip(scratch.chunks_exact_mut(size)) {
        v.put_le(dst);
    }
    scratch
}

/// One `align` run's transform, features and options.
struct Job<'j> {
    t: &'j Transform<'j>,
    npy: &'j Npy<'j>,
    quantized: Option<Quantization>,
    rows: usize,
    label: &'j str,
    bar: &'j indicatif::ProgressBar,
    post: PostOp,
    threads: usize,
}

/// The features as float32 rows usable in place: a little-endian float32 array whose storage
/// order is C order (not Fortran, or at most one dimension above 1), aligned for f32 (numpy
/// aligns the data to 64 bytes; a mapping starts on a page). `None`: convert chunk by chunk.
fn in_place_f32<'a>(npy: &Npy<'a>) -> Option<&'a [f32]> {
    let c_order = !npy.fortran_order || npy.shape.iter().filter(|&&d| d > 1).count() <= 1;
    let native = cfg!(target_endian = "little") && !npy.big_endian;
    if npy.dtype != NpyFloat::F32 || !native || !c_order {
        return None;
    }
    bytemuck::try_cast_slice(npy.data()).ok()
}

/// int8/uint8 features: their element type and the `--input-scale` / `--input-zero-point`.
#[derive(Clone, Copy)]
struct Quantization {
    signed: bool,
    scale: f32,
    zero_point: i32,
}

impl Quantization {
    /// `bytes` (an int8 as its two's complement byte) as quantized rows, which dequantize each
    /// element exactly as `Transform::apply_quantized` does.
    fn rows<'b>(&self, bytes: &'b [u8]) -> QuantizedRows<'b> {
        if self.signed {
            QuantizedRows::i8(bytemuck::cast_slice(bytes), self.scale, self.zero_point)
        } else {
            QuantizedRows::u8(bytes, self.scale, self.zero_point)
        }
    }
}

/// The quantization of integer features; usage errors (exit 2) when the options do not fit
/// the features' element type.
fn quantization(npy: &Npy<'_>, args: &AlignArgs, label: &str) -> Result<Option<Quantization>> {
    let name = npy.dtype.name();
    if !npy.dtype.is_integer() {
        if args.input_scale.is_some() || args.input_zero_point.is_some() {
            return Err(CliError::usage(
                label,
                format!("--input-scale and --input-zero-point are for int8/uint8 features; these are {name}"),
            ));
        }
        return Ok(None);
    }
    let Some(scale) = args.input_scale else {
        return Err(CliError::usage(
            label,
            format!("{name} features need --input-scale S (and --input-zero-point Z unless 0): element q is the real value S * (q - Z)"),
        ));
    };
    let q = Quantization {
        signed: npy.dtype == NpyFloat::I8,
        scale,
        zero_point: args.input_zero_point.unwrap_or(0),
    };
    let range = q.rows(&[]).zero_point_range();
    if !range.contains(&q.zero_point) {
        return Err(CliError::usage(
            label,
            format!(
                "--input-zero-point {} is outside {}..={} for {name} features",
                q.zero_point,
                range.start(),
                range.end()
            ),
        ));
    }
    Ok(Some(q))
}

/// Dequantizes the elements `[start, start + dst.len())` (C order) of integer `npy` into `dst`.
fn dequantize_into(npy: &Npy<'_>, q: Quantization, start: usize, dst: &mut [f32]) -> Option<()> {
    if npy.fortran_order {
        for (i, v) in dst.iter_mut().enumerate() {
            // The stored integer (exact in f64) back as its byte.
            let byte = npy.get(start + i)? as i64 as u8;
            *v = q.rows(&[byte]).dequantize(0)?;
        }
        return Some(());
    }
    let rows = q.rows(npy.data().get(start..start.checked_add(dst.len())?)?);
    for (i, v) in dst.iter_mut().enumerate() {
        *v = rows.dequantize(i)?;
    }
    Some(())
}

/// Widens (or, for integer features, dequantizes) the elements `[start, start + dst.len())`
/// (C order) of `npy` to f32 in `dst`. `None` if the array is shorter (its shape was checked
/// against the data, so it is not).
fn widen_into(npy: &Npy<'_>, quantized: Option<Quantization>, start: usize, dst: &mut [f32]) -> Option<()> {
    if let Some(q) = quantized {
        return dequantize_into(npy, q, start, dst);
    }
    if npy.fortran_order {
        // Column-major storage: element by element through the index mapping.
        for (i, v) in dst.iter_mut().enumerate() {
            *v = npy.get(start + i)? as f32;
        }
        return Some(());
    }
    let size = npy.dtype.size();
    let bytes = npy.data().get(start * size..(start + dst.len()) * size)?;
    let be = npy.big_endian;
    let elems = dst.iter_mut().zip(bytes.chunks_exact(size));
    match npy.dtype {
        NpyFloat::F32 => elems.for_each(|(v, b)| {
            let b = b.try_into().unwrap_or([0xff; 4]);
            *v = if be { f32::from_be_bytes(b) } else { f32::from_le_bytes(b) };
        }),
        NpyFloat::F16 => elems.for_each(|(v, b)| {
            let b = b.try_into().unwrap_or([0xff; 2]);
            *v = if be { f16::from_be_bytes(b) } else { f16::from_le_bytes(b) }.to_f32();
        }),
        // Rounded to nearest f32, like numpy's astype(float32).
        NpyFloat::F64 => elems.for_each(|(v, b)| {
            let b = b.try_into().unwrap_or([0xff; 8]);
            *v = if be { f64::from_be_bytes(b) } else { f64::from_le_bytes(b) } as f32;
        }),
        // Integer features always come with their quantization (above).
        _ => return None,
    }
    Some(())
}

/// Rows of `x` (rows of `d_in`) holding a NaN or infinity.
fn non_finite_rows(x: &[f32], d_in: usize) -> usize {
    // A branch-free fold per row, which the compiler vectorises.
    x.chunks_exact(d_in).filter(|row| !row.iter().fold(true, |ok, v| ok & v.is_finite())).count()
}

/// Applies the transform to all rows in chunks and writes the output rows. Returns the number
/// of rows with a non-finite input value.
fn stream<O: OutElem>(job: &Job<'_>, out: &mut AtomicOutput) -> Result<usize> {
    let (t, rows, label) = (job.t, job.rows, job.label);
    let (d_in, d_out) = (t.d_in(), t.d_out());
    let in_place = in_place_f32(job.npy);
    let in_row_bytes = if in_place.is_some() { 0 } else { 4 * d_in };
    let chunk_rows = (CHUNK_BYTES / (in_row_bytes + core::mem::size_of::<O>() * d_out)).clamp(1, rows);
    let mut x_buf = vec![0.0f32; if in_place.is_some() { 0 } else { chunk_rows * d_in }];
    // NaN until the kernel writes it: a value never computed could not pass for a result.
    let mut y = vec![O::from_f32(f32::NAN); chunk_rows * d_out];
    let mut scratch = Vec::new();
    let mut bad_rows = 0;
    let mut r0 = 0;
    while r0 < rows {
        let n = chunk_rows.min(rows - r0);
        let x: &[f32] = match in_place {
            Some(all) => all
                .get(r0 * d_in..(r0 + n) * d_in)
                .ok_or_else(|| CliError::at(label, "features shorter than their shape"))?,
            None => {
                let x = &mut x_buf[..n * d_in];
                widen_into(job.npy, job.quantized, r0 * d_in, x)
                    .ok_or_else(|| CliError::at(label, "features shorter than their shape"))?;
                x
            }
        };
        bad_rows += non_finite_rows(x, d_in);
        let y = &mut y[..n * d_out];
        t.apply_parallel_with(x, y, job.post, job.threads).map_err(|e| CliError::at(label, e))?;
        out.write_all(le_bytes(y, &mut scratch))?;
        r0 += n;
        job.bar.inc(n as u64);
    }
    Ok(bad_rows)
}
