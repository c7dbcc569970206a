//! Packing (feature `alloc`): fold a thingsvision transform's normalisation into its weights
//! in f64, round once to the storage dtype, and lay the result out as a blob.
//!
//! Reading thingsvision's `transform.npz` itself is [`npz`] (feature `npz`).

#![forbid(unsafe_code)]

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use crate::aligned::AlignedBlob;
use crate::dtype::WeightDtype;
use crate::format::{
    self, Header, Layout, FLAG_HAS_BIAS, FLAG_NORM_FOLDED, I8D_MAX_SCALE, MAX_DIM, NR, Q8_MAX_D_IN,
    Q8_MAX_SCALE,
};

pub mod measure;
#[cfg(feature = "npz")]
pub mod npy;
#[cfg(feature = "npz")]
pub mod npz;
mod round;

/// A transform as thingsvision stores it: `y = ((x - mean) / std) @ weights + bias`.
#[derive(Clone, Debug, PartialEq)]
pub struct Source {
    /// Input dimension (rows of `weights`).
    pub d_in: usize,
    /// Output dimension (columns of `weights`).
    pub d_out: usize,
    /// `[d_in, d_out]`, row-major.
    pub weights: Vec<f64>,
    /// `[d_out]`, absent for e.g. clip_ViT-L/14.
    pub bias: Option<Vec<f64>>,
    /// The scalar mean subtracted from every feature.
    pub mean: f64,
    /// The scalar std every centred feature is divided by.
    pub std: f64,
}

/// Why a transform could not be packed. Names the array and the element where it applies.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum PackError {
    /// `d_in` or `d_out` is zero or above [`MAX_DIM`].
    Dims {
        /// Input dimension.
        d_in: usize,
        /// Output dimension.
        d_out: usize,
    },
    /// An array has the wrong number of elements.
    Length {
        /// Array name.
        array: &'static str,
        /// Elements expected.
        expected: usize,
        /// Elements found.
        found: usize,
    },
    /// A weight or bias value is NaN or infinite.
    NonFinite {
        /// Array name.
        array: &'static str,
        /// Row (0 for the bias).
        row: usize,
        /// Column.
        col: usize,
        /// The value.
        value: f64,
    },
    /// `mean` is not finite, or `std` is not finite and positive.
    Normalisation {
        /// `mean` or `std`.
        field: &'static str,
        /// The value.
        value: f64,
    },
    /// A folded weight does not fit the storage dtype (rounds to infinity).
    Overflow {
        /// Storage dtype.
        dtype: WeightDtype,
        /// Row.
        row: usize,
        /// Column.
        col: usize,
        /// The folded value.
        value: f64,
    },
    /// A folded bias value does not fit f32 (the bias section's type): it rounds to infinity,
    /// or is NaN because `mean / std` overflowed.
    BiasOverflow {
        /// Column.
        col: usize,
        /// The folded value.
        value: f64,
    },
    /// A name is longer than 64 bytes or contains NUL.
    Name {
        /// `model` or `module`.
        field: &'static str,
        /// The name given.
        name: String,
    },
}

impl fmt::Display for PackError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PackError::Dims { d_in, d_out } => {
                write!(f, "weights are {d_in} x {d_out}: each dim must be 1..={MAX_DIM}")
            }
            PackError::Length { array, expected, found } => {
                write!(f, "{array}: expected {expected} elements, found {found}")
            }
            PackError::NonFinite { array, row, col, value } => {
                write!(f, "{array}[{row}, {col}] is {value}: weights and bias must be finite")
            }
            PackError::Normalisation { field, value } => write!(
                f,
                "{field} is {value}: must be finite{}",
                if *field == "std" { " and > 0" } else { "" }
            ),
            PackError::Overflow { dtype, row, col, value } => {
                write!(f, "folded weight [{row}, {col}] = {value} overflows {dtype}; pack as f32")
            }
            PackError::BiasOverflow { col, value } => {
                write!(f, "folded bias [{col}] = {value} does not fit f32 (mean / std too large)")
            }
            PackError::Name { field, name } => {
                write!(f, "{field} name {name:?} is longer than 64 bytes or contains NUL")
            }
        }
    }
}

impl core::error::Error for PackError {}

impl Source {
    /// Checks shapes and values: dims within limits, every weight and bias finite,
    /// `mean` finite, `std` finite and positive.
    pub fn validate(&self) -> Result<(), PackError> {
        let (d_in, d_out) = (self.d_in, self.d_out);
        if d_in == 0 || d_out == 0 || d_in > MAX_DIM as usize || d_out > MAX_DIM as usize {
            return Err(PackError::Dims { d_in, d_out });
        }
        if self.weights.len() != d_in * d_out {
            return Err(PackError::Length {
                array: "weights",
                expected: d_in * d_out,
                found: self.weights.len(),
            });
        }
        if let Some((i, &value)) = self.weights.iter().enumerate().find(|(_, v)| !v.is_finite()) {
            return Err(PackError::NonFinite { array: "weights", row: i / d_out, col: i % d_out, value });
        }
        if let Some(bias) = &self.bias {
            if bias.len() != d_out {
                return Err(PackError::Length { array: "bias", expected: d_out, found: bias.len() });
            }
            if let Some((j, &value)) = bias.iter().enumerate().find(|(_, v)| !v.is_finite()) {
                return Err(PackError::NonFinite { array: "bias", row: 0, col: j, value });
            }
        }
        if !self.mean.is_finite() {
            return Err(PackError::Normalisation { field: "mean", value: self.mean });
        }
        if !(self.std.is_finite() && self.std > 0.0) {
            return Err(PackError::Normalisation { field: "std", value: self.std });
        }
        Ok(())
    }

    /// The folded transform in f64: `W' = W / std`, `b' = b - (mean / std) * colsum(W)`,
    /// so that `y = x @ W' + b'` equals thingsvision's formula exactly in real arithmetic.
    pub fn fold(&self) -> (Vec<f64>, Vec<f64>) {
        let (d_in, d_out) = (self.d_in, self.d_out);
        let folded: Vec<f64> = self.weights.iter().map(|w| w / self.std).collect();
        let mut colsum = alloc::vec![0.0f64; d_out];
        for row in self.weights.chunks_exact(d_out).take(d_in) {
            for (s, w) in colsum.iter_mut().zip(row) {
                *s += w;
            }
        }
        let shift = self.mean / self.std;
        let bias = colsum
            .iter()
            .enumerate()
            .map(|(j, s)| {
                let b = self.bias.as_ref().and_then(|b| b.get(j)).copied();
                // `validate` checked the bias length; a missing bias is zero.
                debug_assert!(self.bias.is_none() || b.is_some(), "bias shorter than d_out");
                let b = b.unwrap_or(0.0);
                b - shift * s
            })
            .collect();
        (folded, bias)
    }
}

/// Rounds one folded f64 weight to the storage dtype (round to nearest even, once).
fn store_weight(dtype: WeightDtype, v: f64, out: &mut [u8]) -> bool {
    match dtype {
        WeightDtype::F32 => {
            let r = v as f32;
            out.copy_from_slice(&r.to_le_bytes());
            r.is_finite()
        }
        WeightDtype::F16 => {
            let r = round::f16_from_f64(v);
            out.copy_from_slice(&r.to_bits().to_le_bytes());
            r.is_finite()
        }
        WeightDtype::Bf16 => {
            let r = round::bf16_from_f64(v);
            out.copy_from_slice(&r.to_bits().to_le_bytes());
            r.is_finite()
        }
        // Quantised per input row by `pack_quantized`, never one weight at a time.
        WeightDtype::I8d | WeightDtype::Q8 => false,
    }
}

/// Packs a validated source into a blob with weights stored as `dtype`.
///
/// ```
/// use glocal::{pack, Transform, WeightDtype};
/// // y = ((x - 1) / 2) @ [[1, 0], [0, 3]] + [0.5, 0]
/// let source = pack::Source {
///     d_in: 2, d_out: 2,
///     weights: vec![1.0, 0.0, 0.0, 3.0],
///     bias: Some(vec![0.5, 0.0]),
///     mean: 1.0, std: 2.0,
/// };
/// let blob = pack::pack(&source, WeightDtype::F32, "toy", "demo").unwrap();
/// let t = Transform::new(blob.as_bytes()).unwrap();
/// let mut y = [0.0f32; 2];
/// t.apply(&[3.0f32, 5.0], &mut y).unwrap();
/// assert_eq!(y, [1.5, 6.0]);
/// ```
///
/// # Errors
/// Any [`PackError`] from [`Source::validate`], an overflow of the storage dtype, or a name
/// that does not fit its 64-byte field.
pub fn pack(
    source: &Source,
    dtype: WeightDtype,
    model: &str,
    module: &str,
) -> Result<AlignedBlob, PackError> {
    source.validate()?;
    let (weights, bias) = source.fold();
    // The bias section is f32: a folded bias that rounds to infinity (or is NaN because
    // `mean / std` overflowed) would silently give inf/NaN outputs.
    if let Some((col, &value)) = bias.iter().enumerate().find(|(_, &b)| !(b as f32).is_finite()) {
        return Err(PackError::BiasOverflow { col, value });
    }
    let flags = FLAG_NORM_FOLDED | if source.bias.is_some() { FLAG_HAS_BIAS } else { 0 };
    if matches!(dtype, WeightDtype::I8d | WeightDtype::Q8) {
        return pack_quantized(dtype, source, &weights, &bias, flags, model, module);
    }
    let mut overflow = None;
    let blob = write_blob(
        BlobSpec {
            dtype,
            d_in: source.d_in,
            d_out: source.d_out,
            flags,
            mean: source.mean,
            std: source.std,
            model,
            module,
        },
        &bias,
        |k, j, out| {
            // In range by construction (k < d_in, j < d_out); NaN would be reported as overflow.
            let v = weights.get(k * source.d_out + j).copied();
            debug_assert!(v.is_some(), "weight [{k}][{j}] beyond the folded weights");
            let v = v.unwrap_or(f64::NAN);
            if !store_weight(dtype, v, out) && overflow.is_none() {
                overflow = Some(PackError::Overflow { dtype, row: k, col: j, value: v });
            }
        },
    )?;
    match overflow {
        Some(e) => Err(e),
        None => Ok(blob),
    }
}

/// The `i8d` quantisation of folded weights `w` (`d_in x d_out`, row-major f64), as stored.
///
/// For each output column `j`: `diag[j] = f32(w[j][j])` when `j < min(d_in, d_out)` (else 0).
/// For each input row `k`: `scale[k] = f32(max_{j != k} |w[k][j]| / 127)` and
/// `q[k][j] = round(w[k][j] / scale[k])` (half away from zero, within `-127..=127`, the stored
/// f32 scale used) for `j != k`, `q[k][k] = 0`. A row without off-diagonal weight gets scale 0
/// and all-zero `q`.
///
/// Scales are per input row, not per output column: a few input features of gLocal's matrices
/// carry weights 10-20x the typical size (clip_ViT-L/14: off-diagonal max 0.054, median column
/// max 0.0029), and a per-column scale would spend every column's int8 range on them (worst
/// golden error 1.1e-2 of max|y| per column, 1.7e-3 per row). The kernel applies a row scale
/// to the input element once per row, so it costs nothing in the inner loop.
#[derive(Clone, Debug, PartialEq)]
pub struct I8dQuant {
    /// `[d_in, d_out]` int8, row-major.
    pub q: Vec<i8>,
    /// `[d_in]` f32 row scales.
    pub scales: Vec<f32>,
    /// `[d_out]` f32 diagonal.
    pub diag: Vec<f32>,
}

impl I8dQuant {
    /// The stored weight `[k][j]` in f64: `scale[k] * q[k][j]`, plus `diag[j]` when `k == j`
    /// (NaN when `[k][j]` is out of range).
    pub fn weight(&self, k: usize, j: usize) -> f64 {
        let d_out = self.diag.len();
        if j >= d_out {
            return f64::NAN;
        }
        let (Some(&scale), Some(&q)) = (self.scales.get(k), self.q.get(k * d_out + j)) else {
            return f64::NAN;
        };
        let diag = if k == j { self.diag.get(j).map_or(0.0, |&d| d as f64) } else { 0.0 };
        scale as f64 * q as f64 + diag
    }
}

/// Quantises folded weights to `i8d` (see [`I8dQuant`]).
///
/// # Errors
/// [`PackError::Overflow`] when a diagonal value does not fit f32 or a row scale exceeds
/// [`I8D_MAX_SCALE`] (an off-diagonal weight beyond about 1.7e38).
pub fn quantize_i8d(w: &[f64], d_in: usize, d_out: usize) -> Result<I8dQuant, PackError> {
    quantize_rows(WeightDtype::I8d, w, d_in, d_out)
}

/// Quantises folded weights to `q8`: the same rounding as [`quantize_i8d`] (per-input-row
/// scales, exact diagonal), with the row scales bounded by [`Q8_MAX_SCALE`].
///
/// # Errors
/// [`PackError::Overflow`] when a diagonal value does not fit f32 or an off-diagonal weight
/// exceeds 127 in magnitude (a row scale above 1).
pub fn quantize_q8(w: &[f64], d_in: usize, d_out: usize) -> Result<I8dQuant, PackError> {
    quantize_rows(WeightDtype::Q8, w, d_in, d_out)
}

/// The row quantisation of `i8d` and `q8`, which differ only in the largest scale allowed.
// Offline packing, not the hot path: every index is below the length of a vector allocated
// right here from dims that `Source::validate` bounded, or of a layout section `Header::parse` checked.
#[allow(clippy::indexing_slicing)]
fn quantize_rows(dtype: WeightDtype, w: &[f64], d_in: usize, d_out: usize) -> Result<I8dQuant, PackError> {
    let max_scale = if dtype == WeightDtype::Q8 { Q8_MAX_SCALE } else { I8D_MAX_SCALE };
    let overflow = |row, col, value| PackError::Overflow { dtype, row, col, value };
    let mut scales = alloc::vec![0f32; d_in];
    let mut diag = alloc::vec![0f32; d_out];
    let mut q = alloc::vec![0i8; d_in * d_out];
    for (k, row) in w.chunks_exact(d_out).take(d_in).enumerate() {
        let (mut max, mut at) = (0f64, 0);
        for (j, &v) in row.iter().enumerate() {
            if k == j {
                diag[j] = v as f32;
                if !diag[j].is_finite() {
                    return Err(overflow(k, j, v));
                }
            } else if v.abs() > max {
                (max, at) = (v.abs(), j);
            }
        }
        let s = (max / 127.0) as f32;
        // The bound validation enforces (docs/FORMAT.md): for i8d every stored weight
        // scale * q is then a finite f32, for q8 every folded input x * scale of a finite x.
        // (s is never NaN: the weights were validated finite.)
        if s > max_scale {
            return Err(overflow(k, at, row[at]));
        }
        scales[k] = s;
        if s > 0.0 {
            for (j, &v) in row.iter().enumerate().filter(|&(j, _)| j != k) {
                q[k * d_out + j] = libm::round(v / s as f64).clamp(-127.0, 127.0) as i8;
            }
        }
    }
    Ok(I8dQuant { q, scales, diag })
}

// Offline packing, not the hot path: every index is below the length of a vector allocated
// right here from dims that `Source::validate` bounded, or of a layout section `Header::parse` checked.
#[allow(clippy::indexing_slicing)]
fn pack_quantized(
    dtype: WeightDtype,
    source: &Source,
    weights: &[f64],
    bias: &[f64],
    flags: u16,
    model: &str,
    module: &str,
) -> Result<AlignedBlob, PackError> {
    let (d_in, d_out) = (source.d_in, source.d_out);
    if dtype == WeightDtype::Q8 && d_in > Q8_MAX_D_IN as usize {
        return Err(PackError::Dims { d_in, d_out });
    }
    let quant = quantize_rows(dtype, weights, d_in, d_out)?;
    // Fold the mean with the weights as stored, not as given: b'' = b - mean * colsum(W'_q),
    // so the blob computes ((x - mean) / std) @ W_q + b exactly and the quantisation error
    // only multiplies the centred input (the mean's share of it would be a systematic bias:
    // gLocal features have |mean| comparable to std).
    let mut bias = bias.to_vec();
    for (j, b) in bias.iter_mut().enumerate() {
        let delta: f64 = (0..d_in).map(|k| quant.weight(k, j) - weights[k * d_out + j]).sum();
        *b -= source.mean * delta;
    }
    let spec = BlobSpec { dtype, d_in, d_out, flags, mean: source.mean, std: source.std, model, module };
    let mut blob = write_blob(spec, &bias, |k, j, out| out[0] = quant.q[k * d_out + j] as u8)?;
    write_aux(&mut blob, &quant.scales, &quant.diag);
    Ok(blob)
}

/// Writes the aux section of an `i8d` or `q8` blob made by [`write_blob`] and refreshes its
/// checksum: the row scales, zero padded to `round_up(d_in, NR)`, then the diagonal, zero
/// padded to `panels * NR`, and for `q8` the column sums of the weights already written.
/// Values beyond `d_in` / `d_out` are ignored. A blob of another dtype is a caller bug: debug
/// builds assert, release builds leave the blob as it is.
// Offline packing, not the hot path: every index is below the length of a vector allocated
// right here from dims that `Source::validate` bounded, or of a layout section `Header::parse` checked.
#[allow(clippy::indexing_slicing)]
pub fn write_aux(blob: &mut AlignedBlob, scales: &[f32], diag: &[f32]) {
    let parsed = Header::parse(blob.as_bytes());
    let quantized = |h: &Header| matches!(h.dtype, WeightDtype::I8d | WeightDtype::Q8);
    debug_assert!(
        parsed.as_ref().is_ok_and(quantized),
        "write_aux on a blob that is not an i8d or q8 blob: {:?}",
        parsed.as_ref().map(|h| h.dtype)
    );
    let Ok(h) = parsed else { return };
    if !quantized(&h) {
        return;
    }
    let (d_in, d_out) = (h.d_in as usize, h.d_out as usize);
    // Column sums over every stored byte of each column, padding rows included (q8 only).
    let sums: Vec<i32> = match h.dtype {
        WeightDtype::Q8 => (0..h.layout.panels as usize)
            .flat_map(|p| format::q8_column_sums(blob.as_bytes(), &h, p))
            .collect(),
        _ => Vec::new(),
    };
    let parts = h.aux_parts();
    let bytes = blob.as_bytes_mut();
    debug_assert!(bytes.len() >= parts.sums.end, "aux section outside a parsed blob");
    fn put(dst: Option<&mut [u8]>, values: impl Iterator<Item = [u8; 4]>) {
        for (d, v) in dst.unwrap_or_default().chunks_exact_mut(4).zip(values) {
            d.copy_from_slice(&v);
        }
    }
    put(bytes.get_mut(parts.scales), scales.iter().take(d_in).map(|v| v.to_le_bytes()));
    put(bytes.get_mut(parts.diag), diag.iter().take(d_out).map(|v| v.to_le_bytes()));
    put(bytes.get_mut(parts.sums), sums.iter().map(|v| v.to_le_bytes()));
    let crc = format::checksum(blob.as_bytes());
    blob.as_bytes_mut()[format::offsets::CRC..][..4].copy_from_slice(&crc.to_le_bytes());
}

/// Everything in a blob header that is not derived from the payload.
#[derive(Clone, Copy, Debug)]
pub struct BlobSpec<'n> {
    /// Storage dtype.
    pub dtype: WeightDtype,
    /// Input dimension.
    pub d_in: usize,
    /// Output dimension.
    pub d_out: usize,
    /// Header flags; [`FLAG_NORM_FOLDED`] must be set for the blob to load.
    pub flags: u16,
    /// Original mean (informational once folded).
    pub mean: f64,
    /// Original std (informational once folded).
    pub std: f64,
    /// Model name (at most 64 bytes).
    pub model: &'n str,
    /// Module name (at most 64 bytes).
    pub module: &'n str,
}

/// Lays out a blob from already folded values: `bias` is the folded f32 bias (`d_out` values)
/// and `weight(k, j, out)` writes the little-endian bytes of stored weight `[k, j]` into `out`.
/// Panel padding is zero; the checksum is filled in last.
///
/// This is the layout step alone, without validation of values: tests and fuzzers use it
/// to build blobs with any bit pattern. Most callers want [`pack`].
///
/// # Errors
/// [`PackError::Dims`], [`PackError::Length`] for a bias of the wrong length, or
/// [`PackError::Name`].
pub fn write_blob(
    spec: BlobSpec<'_>,
    bias: &[f64],
    mut weight: impl FnMut(usize, usize, &mut [u8]),
) -> Result<AlignedBlob, PackError> {
    let BlobSpec { dtype, d_in, d_out, .. } = spec;
    if d_in == 0 || d_out == 0 || d_in > MAX_DIM as usize || d_out > MAX_DIM as usize {
        return Err(PackError::Dims { d_in, d_out });
    }
    if bias.len() != d_out {
        return Err(PackError::Length { array: "bias", expected: d_out, found: bias.len() });
    }
    let name = |field: &'static str, name: &str| {
        format::name_field(name).ok_or(PackError::Name { field, name: name.into() })
    };
    let layout = Layout::new(dtype, d_in as u32, d_out as u32);
    let header = Header {
        dtype,
        d_in: d_in as u32,
        d_out: d_out as u32,
        flags: spec.flags,
        mean: spec.mean,
        std: spec.std,
        layout,
        model: name("model", spec.model)?,
        module: name("module", spec.module)?,
        error_record: None,
        crc: 0,
    };
    let mut blob = AlignedBlob::zeroed(layout.total_len as usize);
    let bytes = blob.as_bytes_mut();
    // Every range below lies inside the buffer by construction of `Layout` (header, then
    // bias, then weights, `total_len` = end of weights); `get_mut` keeps that argument out
    // of the panic path: a missing section would leave zeros, which fail validation.
    let range = |off: u64, len: u64| off as usize..(off + len) as usize;
    let header_section = bytes.get_mut(..format::HEADER_LEN);
    debug_assert!(header_section.is_some(), "blob shorter than its header");
    if let Some(dst) = header_section {
        dst.copy_from_slice(&header.to_bytes());
    }

    let bias_section = bytes.get_mut(range(layout.bias_offset, layout.bias_len));
    debug_assert!(bias_section.is_some(), "bias section outside the blob");
    let bias_section = bias_section.unwrap_or_default();
    for (dst, &b) in bias_section.chunks_exact_mut(4).zip(bias) {
        dst.copy_from_slice(&(b as f32).to_le_bytes());
    }

    let es = dtype.size();
    let weight_section = bytes.get_mut(range(layout.weights_offset, layout.weights_len));
    debug_assert!(weight_section.is_some(), "weight section outside the blob");
    let weight_section = weight_section.unwrap_or_default();
    for (p, panel) in weight_section.chunks_exact_mut(layout.panel_stride as usize).enumerate() {
        for k in 0..d_in {
            for c in 0..NR.min(d_out.saturating_sub(p * NR)) {
                let at = format::weight_offset(dtype, k, c);
                let out = panel.get_mut(at..at + es);
                debug_assert!(out.is_some(), "weight [{k}][{c}] outside its panel");
                if let Some(out) = out {
                    weight(k, p * NR + c, out);
                }
            }
        }
    }

    let crc = format::checksum(blob.as_bytes());
    if let Some(dst) = blob.as_bytes_mut().get_mut(format::offsets::CRC..format::offsets::CRC + 4) {
        dst.copy_from_slice(&crc.to_le_bytes());
    }
    Ok(blob)
}
