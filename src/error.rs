//! The core's error type: every way a blob or an `apply` call can be rejected.

#![forbid(unsafe_code)]

use core::fmt;

/// Why a blob was rejected or an `apply` call refused. Every variant names what and where.
///
/// With the `defmt` feature it implements `defmt::Format`, so firmware can log it over RTT
/// (`defmt::error!("{}", e)`) without `core::fmt`.
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum Error {
    /// The blob is shorter than the fixed 256-byte header.
    TruncatedHeader {
        /// Bytes present.
        found: usize,
    },
    /// The first 8 bytes are not the glocal magic.
    BadMagic {
        /// The 8 bytes found.
        found: [u8; 8],
    },
    /// The format version is not one this build reads.
    UnsupportedVersion {
        /// Version in the header.
        found: u16,
        /// Version this build reads.
        supported: u16,
    },
    /// The header length field is not 256.
    BadHeaderLength {
        /// Value found.
        found: u16,
    },
    /// The endianness marker does not read back as written: the blob is byte-swapped
    /// or this target is big-endian (blobs are little-endian and used in place).
    WrongEndianness {
        /// The marker as read on this target.
        found: u32,
    },
    /// The weight dtype code is unknown to this build.
    UnknownDtype {
        /// Code found in the header.
        found: u8,
    },
    /// The panel width is not the one the kernels are built for.
    UnsupportedPanelWidth {
        /// Width found.
        found: u8,
        /// Width the kernels use.
        expected: u8,
    },
    /// Unknown flag bits are set, or the normalisation is not folded.
    BadFlags {
        /// Flags found.
        found: u16,
    },
    /// `d_in` or `d_out` is zero or above the limit.
    BadDims {
        /// Input dimension.
        d_in: u32,
        /// Output dimension.
        d_out: u32,
    },
    /// A header number is not what the dims imply (field named).
    BadLayout {
        /// Header field.
        field: &'static str,
        /// Value found.
        found: u64,
        /// Value the dims and dtype imply.
        expected: u64,
    },
    /// `mean` or `std` is NaN or infinite, or `std <= 0`.
    BadNormalisation {
        /// Header field (`mean` or `std`).
        field: &'static str,
        /// Value found.
        value: f64,
    },
    /// A name field is not NUL-padded UTF-8.
    BadName {
        /// Header field (`model` or `module`).
        field: &'static str,
    },
    /// A reserved byte is not zero.
    ReservedNotZero {
        /// Offset of the first non-zero reserved byte.
        offset: usize,
    },
    /// The blob length does not match the header's `total_len` (truncated or over-long).
    LengthMismatch {
        /// Length the header declares.
        declared: u64,
        /// Length of the buffer given.
        found: usize,
    },
    /// The CRC-32C over header and payload does not match: the blob is corrupt.
    ChecksumMismatch {
        /// Checksum stored in the header.
        stored: u32,
        /// Checksum computed over the bytes.
        computed: u32,
    },
    /// A value in the `i8d` or `q8` aux section is outside what the format allows: a row scale
    /// not in `0..=`[`I8D_MAX_SCALE`](crate::format::I8D_MAX_SCALE) (`i8d`) or
    /// `0..=`[`Q8_MAX_SCALE`](crate::format::Q8_MAX_SCALE) (`q8`) (NaN, infinite, negative or
    /// too large), a diagonal entry that is not finite, padding that is not zero, or a `q8`
    /// column sum that is not the sum of its column's weights.
    BadAux {
        /// `scale`, `diag`, `scale padding`, `diag padding` or `column sum`.
        field: &'static str,
        /// Index of the entry: the input row `k` of a scale, the column `j` of a diagonal entry.
        index: usize,
        /// Value found.
        value: f32,
    },
    /// The error record (header flag `ERROR_RECORDED`, bytes `0xF0..0xF9`) is invalid: a
    /// measured error that is negative, NaN or infinite, a probe row count of 0, or an
    /// unknown probe kind.
    BadErrorRecord {
        /// `measured_error`, `probe_rows` or `probe_kind`.
        field: &'static str,
        /// Value found (the probe row count and kind code widened to f64).
        value: f64,
    },
    /// The blob does not start on a 4-byte boundary, so the payload cannot be used in place.
    Misaligned {
        /// Alignment required, in bytes.
        required: usize,
        /// Address of the blob.
        address: usize,
    },
    /// The requested kernel cannot run on this CPU or was not compiled in.
    KernelUnavailable {
        /// Name of the ISA requested.
        isa: &'static str,
    },
    /// The input length is zero or not a multiple of `d_in`.
    InputLength {
        /// Elements given.
        found: usize,
        /// `d_in`.
        d_in: usize,
    },
    /// The output length is not `rows * d_out`.
    OutputLength {
        /// Elements given.
        found: usize,
        /// Elements needed.
        expected: usize,
    },
    /// A value a decision depends on is NaN (e.g. a similarity in the odd-one-out task).
    NotANumber {
        /// What is NaN.
        what: &'static str,
    },
    /// The scale of quantized inputs ([`QuantizedRows`](crate::QuantizedRows)) is NaN,
    /// infinite, zero or negative.
    BadInputScale {
        /// Scale given.
        value: f32,
    },
    /// The zero point of quantized inputs is outside the element type's range (`-128..=127`
    /// for int8, `0..=255` for uint8).
    BadInputZeroPoint {
        /// Zero point given.
        value: i32,
        /// Smallest allowed.
        min: i32,
        /// Largest allowed.
        max: i32,
    },
}

impl Error {
    /// The number of variants. For the C API's test that each has its own status code: a
    /// `#[non_exhaustive]` enum cannot be matched exhaustively outside this crate.
    /// `variant_count_is_current` below keeps it right.
    #[doc(hidden)]
    pub const VARIANT_COUNT: usize = 24;
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Error::TruncatedHeader { found } => {
                write!(f, "blob truncated: {found} bytes, the header alone needs 256")
            }
            Error::BadMagic { found } => write!(f, "not a glocal blob: magic is {found:02x?}"),
            Error::UnsupportedVersion { found, supported } => write!(
                f,
                "unsupported blob format version {found} (this build reads version {supported})"
            ),
            Error::BadHeaderLength { found } => {
                write!(f, "header field header_len: expected 256, found {found}")
            }
            Error::WrongEndianness { found } => write!(
                f,
                "header field endian: read {found:#010x}, expected 0x01020304 (byte-swapped blob or big-endian target)"
            ),
            Error::UnknownDtype { found } => {
                write!(f, "header field dtype: unknown weight dtype code {found}")
            }
            Error::UnsupportedPanelWidth { found, expected } => {
                write!(f, "header field nr: panel width {found}, kernels use {expected}")
            }
            Error::BadFlags { found } => write!(
                f,
                "header field flags: {found:#06x} (unknown bits set, or normalisation not folded)"
            ),
            Error::BadDims { d_in, d_out } => write!(
                f,
                "header fields d_in/d_out: {d_in} x {d_out} (each must be 1..={})",
                crate::format::MAX_DIM
            ),
            Error::BadLayout { field, found, expected } => {
                write!(f, "header field {field}: expected {expected}, found {found}")
            }
            Error::BadNormalisation { field, value } => write!(
                f,
                "header field {field}: {value} (must be finite{})",
                if field == "std" { " and > 0" } else { "" }
            ),
            Error::BadName { field } => {
                write!(f, "header field {field}: not NUL-padded UTF-8")
            }
            Error::ReservedNotZero { offset } => {
                write!(f, "reserved header byte at offset {offset:#x} is not zero")
            }
            Error::LengthMismatch { declared, found } => write!(
                f,
                "blob length {found} bytes, header declares {declared} ({})",
                if (found as u64) < declared { "truncated" } else { "trailing bytes" }
            ),
            Error::ChecksumMismatch { stored, computed } => write!(
                f,
                "checksum mismatch: header says {stored:#010x}, bytes give {computed:#010x} (corrupt blob)"
            ),
            Error::BadAux { field, index, value } => {
                let must = match field {
                    "scale" => "must be in 0..=2^120 for i8d, 0..=1 for q8",
                    "diag" => "must be finite",
                    "column sum" => "must be the sum of the column's stored weights",
                    _ => "padding must be zero",
                };
                write!(f, "aux section: {field}[{index}] is {value:e} ({must})")
            }
            Error::BadErrorRecord { field, value } => {
                match field {
                    "measured_error" => {
                        write!(f, "header field {field}: {value:e} (must be finite and >= 0)")
                    }
                    "probe_rows" => write!(f, "header field {field}: {value} (must be at least 1)"),
                    _ => write!(f, "header field {field}: {value} (must be 1, random, or 2, user)"),
                }
            }
            Error::Misaligned { required, address } => write!(
                f,
                "blob at address {address:#x} is not {required}-byte aligned (use glocal::embed_blob!, an mmap, or an aligned buffer)"
            ),
            Error::KernelUnavailable { isa } => {
                write!(f, "kernel {isa} is not available on this CPU or build")
            }
            Error::InputLength { found, d_in } => write!(
                f,
                "input has {found} elements: need a positive multiple of d_in = {d_in}"
            ),
            Error::OutputLength { found, expected } => {
                write!(f, "output has {found} elements: need rows x d_out = {expected}")
            }
            Error::NotANumber { what } => write!(f, "{what} is NaN: the result is undefined"),
            Error::BadInputScale { value } => {
                write!(f, "quantized input scale is {value:e}: must be finite and > 0")
            }
            Error::BadInputZeroPoint { value, min, max } => write!(
                f,
                "quantized input zero point is {value}: must be in {min}..={max} for its element type"
            ),
        }
    }
}

impl core::error::Error for Error {}

#[cfg(test)]
mod tests {
    use super::Error;

    /// Exhaustive (no `_` arm): a new variant does not compile until it is numbered here, and
    /// then `variant_count_is_current` fails until `VARIANT_COUNT` counts it.
    fn ordinal(e: &Error) -> usize {
        match e {
            Error::TruncatedHeader { .. } => 0,
            Error::BadMagic { .. } => 1,
            Error::UnsupportedVersion { .. } => 2,
            Error::BadHeaderLength { .. } => 3,
            Error::WrongEndianness { .. } => 4,
            Error::UnknownDtype { .. } => 5,
            Error::UnsupportedPanelWidth { .. } => 6,
            Error::BadFlags { .. } => 7,
            Error::BadDims { .. } => 8,
            Error::BadLayout { .. } => 9,
            Error::BadNormalisation { .. } => 10,
            Error::BadName { .. } => 11,
            Error::ReservedNotZero { .. } => 12,
            Error::LengthMismatch { .. } => 13,
            Error::ChecksumMismatch { .. } => 14,
            Error::BadAux { .. } => 15,
            Error::Misaligned { .. } => 16,
            Error::KernelUnavailable { .. } => 17,
            Error::InputLength { .. } => 18,
            Error::OutputLength { .. } => 19,
            Error::NotANumber { .. } => 20,
            Error::BadErrorRecord { .. } => 21,
            Error::BadInputScale { .. } => 22,
            Error::BadInputZeroPoint { .. } => 23,
        }
    }

    #[test]
    fn variant_count_is_current() {
        let last = Error::BadInputZeroPoint { value: 256, min: 0, max: 255 };
        assert_eq!(ordinal(&last) + 1, Error::VARIANT_COUNT);
        assert_eq!(ordinal(&Error::TruncatedHeader { found: 0 }), 0);
    }
}
