//! A strict reader and a small writer for numpy's `.npy` format (versions 1, 2 and 3).
//!
//! [`Npy::parse`] reads floating-point arrays only (`f2`, `f4`, `f8`, either byte order, C or
//! Fortran order up to 2-D): transforms and float features. [`Npy::parse_features`] also reads
//! int8 and uint8 arrays (`i1`, `u1`), the embeddings of quantized pipelines, which the caller
//! dequantizes with a scale and zero point of its own. Everything else gets a specific error:
//! other integer, object and structured dtypes, malformed headers, and shapes that declare more
//! data than the file holds (the reader never allocates more than the input's size).

#![forbid(unsafe_code)]

use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;

use half::f16;

const MAGIC: &[u8; 6] = b"\x93NUMPY";

/// Why a `.npy` payload was rejected.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum NpyError {
    /// Not an npy file: the magic is wrong.
    BadMagic,
    /// An npy version other than 1.0, 2.0, 3.0.
    UnsupportedVersion(u8, u8),
    /// The file ends inside the header.
    TruncatedHeader,
    /// The header dictionary cannot be parsed (what was wrong).
    MalformedHeader(&'static str),
    /// A dtype that is not a float (`descr` given).
    UnsupportedDtype(String),
    /// A Fortran-order array with more than 2 dimensions.
    FortranOrderNd(usize),
    /// The shape's element count overflows.
    ShapeOverflow,
    /// The data length differs from what the shape declares.
    DataLength {
        /// Bytes the shape and dtype declare.
        declared: u128,
        /// Bytes present after the header.
        found: usize,
    },
}

impl fmt::Display for NpyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NpyError::BadMagic => f.write_str("not a .npy array (bad magic)"),
            NpyError::UnsupportedVersion(a, b) => write!(f, "unsupported .npy version {a}.{b}"),
            NpyError::TruncatedHeader => f.write_str(".npy header truncated"),
            NpyError::MalformedHeader(what) => write!(f, "malformed .npy header: {what}"),
            NpyError::UnsupportedDtype(d) => {
                let kind = match d.trim_start_matches(['<', '>', '|', '=']).chars().next() {
                    Some('i') | Some('u') => "integer",
                    Some('b') => "boolean",
                    Some('O') => "object",
                    Some('c') => "complex",
                    Some('U') | Some('S') => "string",
                    _ => "unsupported",
                };
                write!(f, "{kind} dtype {d:?}: only float16, float32 and float64 arrays are accepted")
            }
            NpyError::FortranOrderNd(n) => {
                write!(f, "Fortran-order array with {n} dimensions: only up to 2-D is supported")
            }
            NpyError::ShapeOverflow => f.write_str("shape element count overflows"),
            NpyError::DataLength { declared, found } => {
                write!(f, "shape declares {declared} bytes of data, the array holds {found}")
            }
        }
    }
}

impl core::error::Error for NpyError {}

/// Element type of an array: a float, or (from [`Npy::parse_features`] only) int8 or uint8.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum NpyFloat {
    /// float16
    F16,
    /// float32
    F32,
    /// float64
    F64,
    /// int8 (quantized features only)
    I8,
    /// uint8 (quantized features only)
    U8,
}

impl NpyFloat {
    /// Bytes per element.
    pub fn size(self) -> usize {
        match self {
            NpyFloat::I8 | NpyFloat::U8 => 1,
            NpyFloat::F16 => 2,
            NpyFloat::F32 => 4,
            NpyFloat::F64 => 8,
        }
    }
    /// Whether the elements are integers (int8, uint8).
    pub fn is_integer(self) -> bool {
        matches!(self, NpyFloat::I8 | NpyFloat::U8)
    }
    /// numpy's name.
    pub fn name(self) -> &'static str {
        match self {
            NpyFloat::F16 => "float16",
            NpyFloat::F32 => "float32",
            NpyFloat::F64 => "float64",
            NpyFloat::I8 => "int8",
            NpyFloat::U8 => "uint8",
        }
    }
}

/// A parsed `.npy` array, borrowing its data.
#[derive(Clone, Debug)]
pub struct Npy<'a> {
    /// Element type.
    pub dtype: NpyFloat,
    /// Whether elements are big-endian.
    pub big_endian: bool,
    /// Shape (empty for a 0-d scalar).
    pub shape: Vec<usize>,
    /// Whether the data is in Fortran (column-major) order.
    pub fortran_order: bool,
    data: &'a [u8],
}

fn parse_descr(descr: &str, int8: bool) -> Result<(NpyFloat, bool), NpyError> {
    let unsupported = || NpyError::UnsupportedDtype(descr.to_string());
    let (big_endian, code) = match descr.as_bytes().first() {
        Some(b'<') | Some(b'=') => (false, &descr[1..]),
        Some(b'>') => (true, &descr[1..]),
        Some(b'|') => (false, &descr[1..]),
        _ => (false, descr),
    };
    let dtype = match code {
        "f2" | "e" => NpyFloat::F16,
        "f4" | "f" => NpyFloat::F32,
        "f8" | "d" => NpyFloat::F64,
        "i1" | "b" if int8 => NpyFloat::I8,
        "u1" | "B" if int8 => NpyFloat::U8,
        _ => return Err(unsupported()),
    };
    Ok((dtype, big_endian))
}

/// Extracts the value text following `'key':` in a header dict.
fn dict_value<'h>(header: &'h str, key: &str) -> Option<&'h str> {
    for quote in ['\'', '"'] {
        let pattern = alloc::format!("{quote}{key}{quote}");
        if let Some(pos) = header.find(&pattern) {
            let rest = header[pos + pattern.len()..].trim_start();
            return rest.strip_prefix(':').map(str::trim_start);
        }
    }
    None
}

fn parse_header(text: &str, int8: bool) -> Result<(NpyFloat, bool, bool, Vec<usize>), NpyError> {
    let text = text.trim();
    if !(text.starts_with('{') && text.ends_with('}')) {
        return Err(NpyError::MalformedHeader("not a dictionary"));
    }
    let descr_text = dict_value(text, "descr").ok_or(NpyError::MalformedHeader("no 'descr'"))?;
    let descr = match descr_text.chars().next() {
        Some(q @ ('\'' | '"')) => {
            let body = &descr_text[1..];
            let end = body.find(q).ok_or(NpyError::MalformedHeader("unterminated 'descr'"))?;
            &body[..end]
        }
        Some('[') => return Err(NpyError::UnsupportedDtype("structured".into())),
        _ => return Err(NpyError::MalformedHeader("'descr' is not a string")),
    };
    let (dtype, big_endian) = parse_descr(descr, int8)?;
    let fortran_text =
        dict_value(text, "fortran_order").ok_or(NpyError::MalformedHeader("no 'fortran_order'"))?;
    let fortran_order = if fortran_text.starts_with("True") {
        true
    } else if fortran_text.starts_with("False") {
        false
    } else {
        return Err(NpyError::MalformedHeader("'fortran_order' is not True or False"));
    };
    let shape_text = dict_value(text, "shape").ok_or(NpyError::MalformedHeader("no 'shape'"))?;
    let shape_text = shape_text
        .strip_prefix('(')
        .and_then(|s| s.find(')').map(|end| &s[..end]))
        .ok_or(NpyError::MalformedHeader("'shape' is not a tuple"))?;
    let mut shape = Vec::new();
    for part in shape_text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let dim = part.trim_end_matches('L');
        shape.push(
            dim.parse::<usize>().map_err(|_| NpyError::MalformedHeader("'shape' holds a non-integer"))?,
        );
    }
    Ok((dtype, big_endian, fortran_order, shape))
}

impl<'a> Npy<'a> {
    /// Parses an `.npy` byte image of floats. Checks that the data length matches the shape
    /// exactly.
    pub fn parse(bytes: &'a [u8]) -> Result<Npy<'a>, NpyError> {
        Npy::parse_as(bytes, false)
    }

    /// [`Npy::parse`], also accepting int8 and uint8 arrays: features from a quantized
    /// pipeline, which [`Npy::get`] and [`Npy::data`] give as the stored integers.
    pub fn parse_features(bytes: &'a [u8]) -> Result<Npy<'a>, NpyError> {
        Npy::parse_as(bytes, true)
    }

    fn parse_as(bytes: &'a [u8], int8: bool) -> Result<Npy<'a>, NpyError> {
        let lead: Option<[u8; 8]> = bytes.get(..8).and_then(|b| b.try_into().ok());
        let (major, minor) = match lead {
            Some([m0, m1, m2, m3, m4, m5, major, minor]) if [m0, m1, m2, m3, m4, m5] == *MAGIC => {
                (major, minor)
            }
            _ => {
                // A non-empty prefix of the magic that ends early is a truncated file.
                let prefix = !bytes.is_empty()
                    && bytes.len() < 8
                    && MAGIC.starts_with(bytes.get(..6).unwrap_or(bytes));
                return Err(if prefix { NpyError::TruncatedHeader } else { NpyError::BadMagic });
            }
        };
        let (len_size, utf8) = match (major, minor) {
            (1, 0) => (2, false),
            (2, 0) => (4, false),
            (3, 0) => (4, true),
            _ => return Err(NpyError::UnsupportedVersion(major, minor)),
        };
        let len_bytes = bytes.get(8..8 + len_size).ok_or(NpyError::TruncatedHeader)?;
        let header_len = match *len_bytes {
            [a, b] => u16::from_le_bytes([a, b]) as usize,
            [a, b, c, d] => u32::from_le_bytes([a, b, c, d]) as usize,
            _ => return Err(NpyError::TruncatedHeader),
        };
        let start = 8 + len_size;
        let header = bytes.get(start..start.saturating_add(header_len)).ok_or(NpyError::TruncatedHeader)?;
        let text = if utf8 {
            core::str::from_utf8(header).map_err(|_| NpyError::MalformedHeader("header is not UTF-8"))?
        } else {
            if !header.is_ascii() {
                return Err(NpyError::MalformedHeader("header is not ASCII"));
            }
            core::str::from_utf8(header).map_err(|_| NpyError::MalformedHeader("header is not ASCII"))?
        };
        let (dtype, big_endian, fortran_order, shape) = parse_header(text, int8)?;
        if fortran_order && shape.len() > 2 {
            return Err(NpyError::FortranOrderNd(shape.len()));
        }
        let count =
            shape.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d)).ok_or(NpyError::ShapeOverflow)?;
        let data = bytes.get(start.saturating_add(header_len)..).ok_or(NpyError::TruncatedHeader)?;
        let declared = count as u128 * dtype.size() as u128;
        if declared != data.len() as u128 {
            return Err(NpyError::DataLength { declared, found: data.len() });
        }
        Ok(Npy { dtype, big_endian, shape, fortran_order, data })
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.data.len() / self.dtype.size()
    }

    /// Whether the array has no elements.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// The raw data bytes, `len() * dtype.size()` of them, borrowed from the parsed image: in
    /// storage order (C, or Fortran when `fortran_order`) and byte order (`big_endian`). Lets a
    /// caller use a little-endian C-order array in place (e.g. as `&[f32]` from a memory map).
    pub fn data(&self) -> &'a [u8] {
        self.data
    }

    /// Element `i` in storage order, as f64 (exact for every element type).
    fn raw(&self, i: usize) -> f64 {
        // `i < len()` at every call site; an index out of range would read as NaN, which
        // validation then rejects, rather than panic.
        debug_assert!(i < self.len(), "npy element {i} of {}", self.len());
        let s = self.dtype.size();
        let Some(b) = i.checked_mul(s).and_then(|at| self.data.get(at..at.saturating_add(s))) else {
            return f64::NAN;
        };
        match (self.dtype, self.big_endian, b) {
            (NpyFloat::F16, false, &[a, b]) => f16::from_le_bytes([a, b]).to_f64(),
            (NpyFloat::F16, true, &[a, b]) => f16::from_be_bytes([a, b]).to_f64(),
            (NpyFloat::F32, false, &[a, b, c, d]) => f32::from_le_bytes([a, b, c, d]) as f64,
            (NpyFloat::F32, true, &[a, b, c, d]) => f32::from_be_bytes([a, b, c, d]) as f64,
            (NpyFloat::F64, false, b) => b.try_into().map_or(f64::NAN, f64::from_le_bytes),
            (NpyFloat::F64, true, b) => b.try_into().map_or(f64::NAN, f64::from_be_bytes),
            (NpyFloat::I8, _, &[q]) => q as i8 as f64,
            (NpyFloat::U8, _, &[q]) => q as f64,
            _ => f64::NAN,
        }
    }

    /// Storage index of the element at C-order position `i`.
    fn storage_index(&self, i: usize) -> usize {
        match (self.fortran_order, self.shape.as_slice()) {
            (true, [rows, cols]) => {
                let (r, c) = (i / cols, i % cols);
                c * rows + r
            }
            _ => i,
        }
    }

    /// The element at C-order (row-major) position `i`, widened to f64 (exact for every float
    /// type); `None` past the end. Lets a caller convert a range of rows without copying the array.
    pub fn get(&self, i: usize) -> Option<f64> {
        (i < self.len()).then(|| self.raw(self.storage_index(i)))
    }

    /// All elements in C (row-major) order, widened to f64.
    pub fn to_f64(&self) -> Vec<f64> {
        (0..self.len()).map(|i| self.raw(self.storage_index(i))).collect()
    }

    /// All elements in C order, rounded to f32 (exact for float16 and float32 arrays).
    pub fn to_f32(&self) -> Vec<f32> {
        (0..self.len()).map(|i| self.raw(self.storage_index(i)) as f32).collect()
    }

    /// All elements in C order as f16 bits; `None` unless the array is float16.
    pub fn to_f16(&self) -> Option<Vec<f16>> {
        (self.dtype == NpyFloat::F16)
            .then(|| (0..self.len()).map(|i| f16::from_f64(self.raw(self.storage_index(i)))).collect())
    }
}

/// Serialises a little-endian float32 C-order array as `.npy` version 1.0.
pub fn write_f32(shape: &[usize], data: &[f32]) -> Vec<u8> {
    let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    let shape_text = match dims.as_slice() {
        [d] => alloc::format!("({d},)"),
        _ => alloc::format!("({})", dims.join(", ")),
    };
    let mut header = alloc::format!("{{'descr': '<f4', 'fortran_order': False, 'shape': {shape_text}, }}");
    // Pad so the data starts on a 64-byte boundary, ending the header with '\n' as numpy does.
    let total = (10 + header.len() + 1).div_ceil(64) * 64;
    while 10 + header.len() + 1 < total {
        header.push(' ');
    }
    header.push('\n');
    let mut out = Vec::with_capacity(total + data.len() * 4);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&[1, 0]);
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    for v in data {
        out.extend_from_slice(&v.to_le_bytes());
    }
    out
}
