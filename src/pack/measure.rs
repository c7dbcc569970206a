//! Measuring a packed blob's error against the f64 formula, and recording it in its header.
//!
//! The metric is the one the project states its error bounds in:
//!
//! ```text
//! error = max |y - y_ref| / max |y_ref|        both maxima over every element of every probe row
//! ```
//!
//! with `y` the blob's output through [`Transform::apply`] (the kernel [`Transform::new`] picks,
//! so `GLOCAL_FORCE_ISA` is honoured) and `y_ref = ((x - mean) / std) @ W + b` evaluated in f64
//! from the [`Source`] (the transform as given, not the folded weights). Both see the same f32
//! probe rows `x`, so the number is the blob's error alone (storage rounding or quantisation
//! of the weights, f32 bias, f32 accumulation), not that of rounding the inputs.
//!
//! Host-side only (feature `alloc`): nothing here is on the path of [`Transform::apply`]; a
//! reader only sees the recorded number ([`Header::measured_error`](crate::format::Header::measured_error)).

#![forbid(unsafe_code)]

use alloc::vec::Vec;
use core::fmt;

use super::{PackError, Source};
use crate::aligned::AlignedBlob;
use crate::error::Error;
use crate::format::{self, ErrorRecord, Header, ProbeKind, HEADER_LEN};
use crate::transform::Transform;

/// Rows of the default probe.
pub const DEFAULT_PROBE_ROWS: usize = 64;

/// Seed of the default probe's generator (SplitMix64): fixed, so the recorded number is
/// reproducible for a given transform, dtype and kernel.
pub const PROBE_SEED: u64 = 0x676c_6f63_616c_0023;

/// Rows applied and compared at a time (bounds the memory of a large user probe).
const CHUNK_ROWS: usize = 256;

/// Why a measurement could not be made.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum MeasureError {
    /// The source transform is invalid (see [`Source::validate`]).
    Source(PackError),
    /// The blob does not load (or its dims are not the source's).
    Blob(Error),
    /// The probe's length is zero or not a multiple of `d_in`.
    ProbeLength {
        /// Elements given.
        found: usize,
        /// The transform's `d_in`.
        d_in: usize,
    },
    /// A probe value is NaN or infinite.
    NonFiniteProbe {
        /// Row.
        row: usize,
        /// Column.
        col: usize,
        /// The value.
        value: f32,
    },
    /// Every reference output is zero while the blob's are not: the relative error is undefined.
    ZeroReference,
    /// The error is not finite: the probe's values overflow f32 arithmetic in the blob's kernel.
    NotFinite,
}

impl fmt::Display for MeasureError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MeasureError::Source(e) => write!(f, "{e}"),
            MeasureError::Blob(e) => write!(f, "packed blob does not validate: {e}"),
            MeasureError::ProbeLength { found, d_in } => {
                write!(f, "probe has {found} values: need a positive multiple of d_in = {d_in}")
            }
            MeasureError::NonFiniteProbe { row, col, value } => {
                write!(f, "probe value [{row}, {col}] is {value}: probe values must be finite")
            }
            MeasureError::ZeroReference => f.write_str(
                "every reference output on the probe is 0, so the error relative to max |y_ref| is undefined; use other probe rows",
            ),
            MeasureError::NotFinite => f.write_str(
                "the blob's outputs on the probe are not finite (probe values too large for f32 arithmetic)",
            ),
        }
    }
}

impl core::error::Error for MeasureError {}

/// SplitMix64: a tiny, well-mixed generator whose output is fixed by its definition
/// (Steele, Lea and Flood 2014), so the probe never changes with a dependency's version.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `(0, 1]`: 53 random bits, never 0 (the logarithm below needs that).
    fn unit(&mut self) -> f64 {
        ((self.next() >> 11) + 1) as f64 * (1.0 / (1u64 << 53) as f64)
    }
}

/// The default probe: `rows` rows of `d_in` f32 features drawn as `mean + std * z`, `z`
/// standard normal (Box-Muller over SplitMix64 seeded with [`PROBE_SEED`]), each rounded to f32.
///
/// That is the distribution the transform's normalisation assumes (the centred, scaled inputs
/// `(x - mean) / std` are N(0, 1)), and the one the project's golden sets use. Real features
/// have more structure (a few large dimensions, correlations): `glocal pack --probe` measures on
/// the user's own rows instead.
pub fn random_probe(d_in: usize, mean: f64, std: f64, rows: usize) -> Vec<f32> {
    let mut rng = SplitMix64(PROBE_SEED);
    let n = rows * d_in;
    let mut out = Vec::with_capacity(n + 1);
    while out.len() < n {
        let (u1, u2) = (rng.unit(), rng.unit());
        let r = libm::sqrt(-2.0 * libm::log(u1));
        let t = 2.0 * core::f64::consts::PI * u2;
        out.push((mean + std * r * libm::cos(t)) as f32);
        out.push((mean + std * r * libm::sin(t)) as f32);
    }
    out.truncate(n);
    out
}

/// `y_ref` for `x` (`rows x d_in`) in f64: `((x - mean) / std) @ W + b`, written to `y`
/// (`rows x d_out`).
// Offline measurement, not the hot path: every index is below a length checked on entry.
#[allow(clippy::indexing_slicing)]
fn reference_rows(s: &Source, x: &[f32], y: &mut [f64]) {
    let (d_in, d_out) = (s.d_in, s.d_out);
    for (xr, yr) in x.chunks_exact(d_in).zip(y.chunks_exact_mut(d_out)) {
        match &s.bias {
            Some(b) => yr.copy_from_slice(&b[..d_out]),
            None => yr.fill(0.0),
        }
        for (k, &xk) in xr.iter().enumerate() {
            let c = (xk as f64 - s.mean) / s.std;
            for (acc, &w) in yr.iter_mut().zip(&s.weights[k * d_out..(k + 1) * d_out]) {
                *acc += c * w;
            }
        }
    }
}

/// The error of `blob` (packed from `source`) on `probe` (`rows x d_in` f32 values): `max |y -
/// y_ref| / max |y_ref|` in f64, see the module documentation. 0 when the blob reproduces every
/// reference output exactly (even all-zero ones).
///
/// # Errors
/// [`MeasureError::Source`] for an invalid source; [`MeasureError::Blob`] if the blob does not load or does not have the source's dims;
/// [`MeasureError::ProbeLength`], [`MeasureError::NonFiniteProbe`] for a bad probe;
/// [`MeasureError::ZeroReference`], [`MeasureError::NotFinite`] when the ratio is undefined.
pub fn measure(source: &Source, blob: &[u8], probe: &[f32]) -> Result<f64, MeasureError> {
    source.validate().map_err(MeasureError::Source)?;
    let t = Transform::new(blob).map_err(MeasureError::Blob)?;
    let (d_in, d_out) = (source.d_in, source.d_out);
    if t.d_in() != d_in || t.d_out() != d_out {
        return Err(MeasureError::Blob(Error::BadDims { d_in: t.d_in() as u32, d_out: t.d_out() as u32 }));
    }
    if probe.is_empty() || !probe.len().is_multiple_of(d_in) {
        return Err(MeasureError::ProbeLength { found: probe.len(), d_in });
    }
    if let Some((i, &value)) = probe.iter().enumerate().find(|(_, v)| !v.is_finite()) {
        return Err(MeasureError::NonFiniteProbe { row: i / d_in, col: i % d_in, value });
    }
    let (mut max_diff, mut max_ref) = (0.0f64, 0.0f64);
    let mut y = alloc::vec![0f32; CHUNK_ROWS.min(probe.len() / d_in) * d_out];
    let mut y_ref = alloc::vec![0f64; y.len()];
    for x in probe.chunks(CHUNK_ROWS * d_in) {
        let n = x.len() / d_in * d_out;
        let (y, y_ref) = (y.get_mut(..n).unwrap_or_default(), y_ref.get_mut(..n).unwrap_or_default());
        t.apply(x, y).map_err(MeasureError::Blob)?;
        reference_rows(source, x, y_ref);
        for (&a, &r) in y.iter().zip(y_ref.iter()) {
            let diff = (a as f64 - r).abs();
            // NaN must not vanish in `max`: it makes the measurement fail below.
            max_diff = if diff.is_nan() { f64::NAN } else { max_diff.max(diff) };
            max_ref = max_ref.max(r.abs());
        }
    }
    if max_diff.is_nan() || max_diff.is_infinite() {
        return Err(MeasureError::NotFinite);
    }
    if max_diff == 0.0 {
        return Ok(0.0);
    }
    if max_ref == 0.0 {
        return Err(MeasureError::ZeroReference);
    }
    let e = max_diff / max_ref;
    if e.is_finite() {
        Ok(e)
    } else {
        Err(MeasureError::NotFinite)
    }
}

/// `e` (finite, `>= 0`) as the f32 a header records: the nearest f32 not below it.
pub fn error_as_f32(e: f64) -> f32 {
    let r = e as f32;
    if (r as f64) < e && r.is_finite() {
        f32::from_bits(r.to_bits() + 1)
    } else {
        r
    }
}

/// Writes `record` into `blob`'s header (flag `ERROR_RECORDED`, bytes `0xF0..0xF9`) and
/// recomputes the checksum over the updated header.
///
/// # Errors
/// The blob's header does not parse, or [`Error::BadErrorRecord`] for a record that
/// validation would reject (an error that is negative, NaN or infinite; 0 probe rows).
pub fn record(blob: &mut AlignedBlob, record: ErrorRecord) -> Result<(), Error> {
    let mut header = Header::parse(blob.as_bytes())?;
    if !(record.error.is_finite() && record.error.is_sign_positive()) {
        return Err(Error::BadErrorRecord { field: "measured_error", value: record.error as f64 });
    }
    if record.probe_rows == 0 {
        return Err(Error::BadErrorRecord { field: "probe_rows", value: 0.0 });
    }
    header.error_record = Some(record);
    let bytes = blob.as_bytes_mut();
    if let Some(dst) = bytes.get_mut(..HEADER_LEN) {
        // `to_bytes` sets the flag from the record and leaves the checksum field zero.
        dst.copy_from_slice(&header.to_bytes());
    }
    // Last, over the header as it now is.
    let crc = format::checksum(blob.as_bytes());
    if let Some(dst) = blob.as_bytes_mut().get_mut(format::offsets::CRC..format::offsets::CRC + 4) {
        dst.copy_from_slice(&crc.to_le_bytes());
    }
    Ok(())
}

/// Measures `blob` (packed from `source`) on `probe` and records the result in its header.
/// Returns the record written.
///
/// # Errors
/// As [`measure`]; a probe of more than `u32::MAX` rows is [`MeasureError::ProbeLength`].
pub fn measure_and_record(
    blob: &mut AlignedBlob,
    source: &Source,
    probe: &[f32],
    probe_kind: ProbeKind,
) -> Result<ErrorRecord, MeasureError> {
    let e = measure(source, blob.as_bytes(), probe)?;
    let probe_rows = u32::try_from(probe.len() / source.d_in)
        .map_err(|_| MeasureError::ProbeLength { found: probe.len(), d_in: source.d_in })?;
    let rec = ErrorRecord { error: error_as_f32(e), probe_rows, probe_kind };
    self::record(blob, rec).map_err(MeasureError::Blob)?;
    Ok(rec)
}
