//! `glocal_status`: numbered result codes in fixed ranges, and their static messages.

use core::ffi::{c_char, CStr};

use glocal_core::Error;

/// The result of every fallible glocal call. `GLOCAL_STATUS_OK` is 0; every error is non-zero.
///
/// Values live in fixed ranges and are never renumbered or reused; new codes are only added:
/// - `1xx`: the caller broke the contract (NULL, length, alignment, an uninitialised transform);
/// - `2xx`: the blob was rejected (one code per kind of defect, `299` for kinds added later);
/// - `3xx`: the platform cannot run the transform;
/// - `4xx`: file errors (hosted builds, `glocal_mapped_open`);
/// - `9xx`: internal errors (a bug in glocal: please report it).
///
/// `glocal_status_str` gives a static message for any value, unknown ones included.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum glocal_status {
    /// Success.
    GLOCAL_STATUS_OK = 0,

    /// A required pointer argument is NULL.
    GLOCAL_STATUS_NULL_POINTER = 100,
    /// The `glocal_transform` was never initialised, its `glocal_transform_init` failed, or its
    /// storage was overwritten (detected with a magic number, not by undefined behaviour).
    GLOCAL_STATUS_NOT_INITIALIZED = 101,
    /// `x_len` is zero or not a multiple of `dim_in` (rows must be at least 1).
    GLOCAL_STATUS_INPUT_LENGTH = 102,
    /// `y_len` is smaller than `rows * dim_out`.
    GLOCAL_STATUS_OUTPUT_LENGTH = 103,
    /// A `glocal_transform`, `x` or `y` pointer is not aligned for its type.
    GLOCAL_STATUS_MISALIGNED_POINTER = 104,
    /// `x` and `y` overlap: glocal does not transform in place.
    GLOCAL_STATUS_BUFFERS_OVERLAP = 105,
    /// The `flags` of a `glocal_apply_*_ex` call hold a bit this library does not define (a
    /// `GLOCAL_APPLY_*` flag from a newer header, or not a flag at all).
    GLOCAL_STATUS_UNKNOWN_FLAGS = 106,
    /// A value a decision depends on is NaN, so the result is undefined (the NaN came from the
    /// caller's data). No function of this version returns it; reserved for the similarity
    /// functions of the Rust API.
    GLOCAL_STATUS_NOT_A_NUMBER = 107,
    /// The scale of quantized inputs (`glocal_apply_s8`, `glocal_apply_u8`) is NaN, infinite,
    /// zero or negative.
    GLOCAL_STATUS_BAD_INPUT_SCALE = 108,
    /// The zero point of quantized inputs is outside the element type's range: `-128..=127`
    /// for `glocal_apply_s8`, `0..=255` for `glocal_apply_u8`.
    GLOCAL_STATUS_BAD_INPUT_ZERO_POINT = 109,

    /// The blob is shorter than its 256-byte header.
    GLOCAL_STATUS_BLOB_TRUNCATED_HEADER = 200,
    /// The blob does not start with the glocal magic bytes: not a glocal blob.
    GLOCAL_STATUS_BLOB_BAD_MAGIC = 201,
    /// The blob's format version is not one this library reads.
    GLOCAL_STATUS_BLOB_UNSUPPORTED_VERSION = 202,
    /// The header length field is not 256.
    GLOCAL_STATUS_BLOB_BAD_HEADER_LENGTH = 203,
    /// The endianness marker is wrong: a byte-swapped blob, or a big-endian target.
    GLOCAL_STATUS_BLOB_WRONG_ENDIANNESS = 204,
    /// The weight dtype code is unknown to this library.
    GLOCAL_STATUS_BLOB_UNKNOWN_DTYPE = 205,
    /// The panel width is not the one the kernels are built for.
    GLOCAL_STATUS_BLOB_UNSUPPORTED_PANEL_WIDTH = 206,
    /// Unknown flag bits are set, or the normalisation is not folded.
    GLOCAL_STATUS_BLOB_BAD_FLAGS = 207,
    /// `d_in` or `d_out` is zero or above the limit (65536).
    GLOCAL_STATUS_BLOB_BAD_DIMS = 208,
    /// A layout field (panels, an offset, a length, the stride) disagrees with the dims.
    GLOCAL_STATUS_BLOB_BAD_LAYOUT = 209,
    /// `mean` is not finite, or `std` is not finite and positive.
    GLOCAL_STATUS_BLOB_BAD_NORMALISATION = 210,
    /// A model or module name is not NUL-padded UTF-8.
    GLOCAL_STATUS_BLOB_BAD_NAME = 211,
    /// A reserved header byte is not zero.
    GLOCAL_STATUS_BLOB_RESERVED_NOT_ZERO = 212,
    /// `blob_len` differs from the length the header declares (truncated or trailing bytes).
    GLOCAL_STATUS_BLOB_LENGTH_MISMATCH = 213,
    /// The CRC-32C does not match: the blob is corrupt.
    GLOCAL_STATUS_BLOB_CHECKSUM_MISMATCH = 214,
    /// The blob does not start on a 4-byte boundary (use an aligned buffer, an mmap, or
    /// `_Alignas(64)` for a blob compiled in as an array).
    GLOCAL_STATUS_BLOB_MISALIGNED = 215,
    /// An `i8d` blob's aux section holds a row scale outside `0..=2^120` (NaN, infinite,
    /// negative or too large), a non-finite diagonal entry, or non-zero padding.
    GLOCAL_STATUS_BLOB_BAD_AUX = 216,
    /// The header's error record (flag `ERROR_RECORDED`) holds a measured error that is
    /// negative, NaN or infinite, a probe row count of 0, or an unknown probe kind.
    GLOCAL_STATUS_BLOB_BAD_ERROR_RECORD = 217,
    /// The blob was rejected for a reason this version has no specific code for.
    GLOCAL_STATUS_BLOB_INVALID = 299,

    /// The kernel requested (the `GLOCAL_FORCE_ISA` environment variable on hosted builds)
    /// is unknown, not compiled in, or cannot run on this CPU.
    GLOCAL_STATUS_KERNEL_UNAVAILABLE = 300,

    /// The blob file could not be opened (missing, permission denied, ...).
    GLOCAL_STATUS_FILE_OPEN_FAILED = 400,
    /// The blob file could not be memory-mapped (a directory, a device, out of address space).
    GLOCAL_STATUS_FILE_MAP_FAILED = 401,

    /// A Rust panic was caught at the boundary: a bug in glocal; please report it.
    GLOCAL_STATUS_INTERNAL_PANIC = 900,
    /// The core returned an error this C API has no code for: a bug in glocal; please report it.
    GLOCAL_STATUS_INTERNAL_UNMAPPED_ERROR = 901,

    /// Not a status: forces the enum to 32 bits on every ABI (arm-none-eabi-gcc uses short
    /// enums), so values can be added without changing its size. Never returned.
    GLOCAL_STATUS_MAX_ENUM = 0x7FFF_FFFF,
}

impl From<Error> for glocal_status {
    fn from(e: Error) -> Self {
        use glocal_status::*;
        // Every variant by name. `Error` is `#[non_exhaustive]`, so a match outside its crate
        // needs the last arm; a variant added to the core lands there as an internal error
        // (not as a blob defect), and `every_core_error_has_its_own_status` fails until it is
        // given its code here.
        match e {
            Error::TruncatedHeader { .. } => GLOCAL_STATUS_BLOB_TRUNCATED_HEADER,
            Error::BadMagic { .. } => GLOCAL_STATUS_BLOB_BAD_MAGIC,
            Error::UnsupportedVersion { .. } => GLOCAL_STATUS_BLOB_UNSUPPORTED_VERSION,
            Error::BadHeaderLength { .. } => GLOCAL_STATUS_BLOB_BAD_HEADER_LENGTH,
            Error::WrongEndianness { .. } => GLOCAL_STATUS_BLOB_WRONG_ENDIANNESS,
            Error::UnknownDtype { .. } => GLOCAL_STATUS_BLOB_UNKNOWN_DTYPE,
            Error::UnsupportedPanelWidth { .. } => GLOCAL_STATUS_BLOB_UNSUPPORTED_PANEL_WIDTH,
            Error::BadFlags { .. } => GLOCAL_STATUS_BLOB_BAD_FLAGS,
            Error::BadDims { .. } => GLOCAL_STATUS_BLOB_BAD_DIMS,
            Error::BadLayout { .. } => GLOCAL_STATUS_BLOB_BAD_LAYOUT,
            Error::BadNormalisation { .. } => GLOCAL_STATUS_BLOB_BAD_NORMALISATION,
            Error::BadName { .. } => GLOCAL_STATUS_BLOB_BAD_NAME,
            Error::ReservedNotZero { .. } => GLOCAL_STATUS_BLOB_RESERVED_NOT_ZERO,
            Error::LengthMismatch { .. } => GLOCAL_STATUS_BLOB_LENGTH_MISMATCH,
            Error::ChecksumMismatch { .. } => GLOCAL_STATUS_BLOB_CHECKSUM_MISMATCH,
            Error::Misaligned { .. } => GLOCAL_STATUS_BLOB_MISALIGNED,
            Error::BadAux { .. } => GLOCAL_STATUS_BLOB_BAD_AUX,
            Error::BadErrorRecord { .. } => GLOCAL_STATUS_BLOB_BAD_ERROR_RECORD,
            Error::KernelUnavailable { .. } => GLOCAL_STATUS_KERNEL_UNAVAILABLE,
            Error::InputLength { .. } => GLOCAL_STATUS_INPUT_LENGTH,
            Error::OutputLength { .. } => GLOCAL_STATUS_OUTPUT_LENGTH,
            Error::NotANumber { .. } => GLOCAL_STATUS_NOT_A_NUMBER,
            Error::BadInputScale { .. } => GLOCAL_STATUS_BAD_INPUT_SCALE,
            Error::BadInputZeroPoint { .. } => GLOCAL_STATUS_BAD_INPUT_ZERO_POINT,
            _ => GLOCAL_STATUS_INTERNAL_UNMAPPED_ERROR,
        }
    }
}

/// A `glocal_status` as C passes it in: any 32-bit value, including ones this version does not
/// know. The header spells it `glocal_status` (cbindgen renames it and does not emit it), so C
/// code passes its enum; Rust reads a plain integer, so an unknown value is not undefined
/// behaviour the way an out-of-range Rust enum would be.
#[repr(transparent)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct glocal_status_code(pub u32);

// The rename above is only sound if the C enum is exactly a 32-bit integer.
const _: () = assert!(core::mem::size_of::<glocal_status>() == 4);

/// Every status this version returns, with its name and message. A table rather than a
/// `match`: about half the code size on Cortex-M. `every_variant_is_in_the_table` keeps it complete.
static TABLE: [(glocal_status, &CStr, &CStr); 35] = {
    use glocal_status::*;
    [
        (GLOCAL_STATUS_OK, c"GLOCAL_STATUS_OK", c"success"),
        (GLOCAL_STATUS_NULL_POINTER, c"GLOCAL_STATUS_NULL_POINTER", c"a required pointer is NULL"),
        (
            GLOCAL_STATUS_NOT_INITIALIZED,
            c"GLOCAL_STATUS_NOT_INITIALIZED",
            c"transform not initialised (never, failed, or storage overwritten)",
        ),
        (
            GLOCAL_STATUS_INPUT_LENGTH,
            c"GLOCAL_STATUS_INPUT_LENGTH",
            c"x_len is 0 or not a multiple of dim_in",
        ),
        (GLOCAL_STATUS_OUTPUT_LENGTH, c"GLOCAL_STATUS_OUTPUT_LENGTH", c"y_len < rows * dim_out"),
        (
            GLOCAL_STATUS_MISALIGNED_POINTER,
            c"GLOCAL_STATUS_MISALIGNED_POINTER",
            c"transform, x or y pointer misaligned for its type",
        ),
        (
            GLOCAL_STATUS_BUFFERS_OVERLAP,
            c"GLOCAL_STATUS_BUFFERS_OVERLAP",
            c"x and y overlap (no in-place transform)",
        ),
        (GLOCAL_STATUS_UNKNOWN_FLAGS, c"GLOCAL_STATUS_UNKNOWN_FLAGS", c"flags has an undefined bit"),
        (GLOCAL_STATUS_NOT_A_NUMBER, c"GLOCAL_STATUS_NOT_A_NUMBER", c"a value a decision depends on is NaN"),
        (GLOCAL_STATUS_BAD_INPUT_SCALE, c"GLOCAL_STATUS_BAD_INPUT_SCALE", c"input scale not finite and > 0"),
        (
            GLOCAL_STATUS_BAD_INPUT_ZERO_POINT,
            c"GLOCAL_STATUS_BAD_INPUT_ZERO_POINT",
            c"input zero point out of range",
        ),
        (
            GLOCAL_STATUS_BLOB_TRUNCATED_HEADER,
            c"GLOCAL_STATUS_BLOB_TRUNCATED_HEADER",
            c"blob shorter than its 256-byte header",
        ),
        (GLOCAL_STATUS_BLOB_BAD_MAGIC, c"GLOCAL_STATUS_BLOB_BAD_MAGIC", c"not a glocal blob (bad magic)"),
        (
            GLOCAL_STATUS_BLOB_UNSUPPORTED_VERSION,
            c"GLOCAL_STATUS_BLOB_UNSUPPORTED_VERSION",
            c"blob format version not supported",
        ),
        (
            GLOCAL_STATUS_BLOB_BAD_HEADER_LENGTH,
            c"GLOCAL_STATUS_BLOB_BAD_HEADER_LENGTH",
            c"blob header length is not 256",
        ),
        (
            GLOCAL_STATUS_BLOB_WRONG_ENDIANNESS,
            c"GLOCAL_STATUS_BLOB_WRONG_ENDIANNESS",
            c"blob byte order wrong (byte-swapped, or big-endian target)",
        ),
        (GLOCAL_STATUS_BLOB_UNKNOWN_DTYPE, c"GLOCAL_STATUS_BLOB_UNKNOWN_DTYPE", c"blob weight dtype unknown"),
        (
            GLOCAL_STATUS_BLOB_UNSUPPORTED_PANEL_WIDTH,
            c"GLOCAL_STATUS_BLOB_UNSUPPORTED_PANEL_WIDTH",
            c"blob panel width is not 16",
        ),
        (
            GLOCAL_STATUS_BLOB_BAD_FLAGS,
            c"GLOCAL_STATUS_BLOB_BAD_FLAGS",
            c"blob flags: unknown bits, or normalisation not folded",
        ),
        (
            GLOCAL_STATUS_BLOB_BAD_DIMS,
            c"GLOCAL_STATUS_BLOB_BAD_DIMS",
            c"blob d_in or d_out is 0 or above 65536",
        ),
        (
            GLOCAL_STATUS_BLOB_BAD_LAYOUT,
            c"GLOCAL_STATUS_BLOB_BAD_LAYOUT",
            c"blob layout (offset, length, stride) disagrees with dims",
        ),
        (
            GLOCAL_STATUS_BLOB_BAD_NORMALISATION,
            c"GLOCAL_STATUS_BLOB_BAD_NORMALISATION",
            c"blob mean not finite, or std not finite and > 0",
        ),
        (
            GLOCAL_STATUS_BLOB_BAD_NAME,
            c"GLOCAL_STATUS_BLOB_BAD_NAME",
            c"blob model/module name not NUL-padded UTF-8",
        ),
        (
            GLOCAL_STATUS_BLOB_RESERVED_NOT_ZERO,
            c"GLOCAL_STATUS_BLOB_RESERVED_NOT_ZERO",
            c"blob reserved header byte not zero",
        ),
        (
            GLOCAL_STATUS_BLOB_LENGTH_MISMATCH,
            c"GLOCAL_STATUS_BLOB_LENGTH_MISMATCH",
            c"blob_len differs from the header's (truncated or trailing bytes)",
        ),
        (
            GLOCAL_STATUS_BLOB_CHECKSUM_MISMATCH,
            c"GLOCAL_STATUS_BLOB_CHECKSUM_MISMATCH",
            c"blob CRC-32C mismatch: corrupt",
        ),
        (GLOCAL_STATUS_BLOB_MISALIGNED, c"GLOCAL_STATUS_BLOB_MISALIGNED", c"blob not 4-byte aligned"),
        (GLOCAL_STATUS_BLOB_BAD_AUX, c"GLOCAL_STATUS_BLOB_BAD_AUX", c"bad i8d scale, diagonal or padding"),
        (
            GLOCAL_STATUS_BLOB_BAD_ERROR_RECORD,
            c"GLOCAL_STATUS_BLOB_BAD_ERROR_RECORD",
            c"bad recorded error (negative, NaN, inf), probe rows or probe kind",
        ),
        (GLOCAL_STATUS_BLOB_INVALID, c"GLOCAL_STATUS_BLOB_INVALID", c"blob rejected (no specific code)"),
        (
            GLOCAL_STATUS_KERNEL_UNAVAILABLE,
            c"GLOCAL_STATUS_KERNEL_UNAVAILABLE",
            c"kernel (GLOCAL_FORCE_ISA) unknown or cannot run here",
        ),
        (GLOCAL_STATUS_FILE_OPEN_FAILED, c"GLOCAL_STATUS_FILE_OPEN_FAILED", c"blob file could not be opened"),
        (
            GLOCAL_STATUS_FILE_MAP_FAILED,
            c"GLOCAL_STATUS_FILE_MAP_FAILED",
            c"blob file could not be memory-mapped",
        ),
        (
            GLOCAL_STATUS_INTERNAL_PANIC,
            c"GLOCAL_STATUS_INTERNAL_PANIC",
            c"internal error: panic caught at the C boundary (a glocal bug)",
        ),
        (
            GLOCAL_STATUS_INTERNAL_UNMAPPED_ERROR,
            c"GLOCAL_STATUS_INTERNAL_UNMAPPED_ERROR",
            c"internal error: an error the C API has no code for (a glocal bug)",
        ),
    ]
};

/// (name, message) of a known code.
fn describe(code: u32) -> Option<(&'static CStr, &'static CStr)> {
    TABLE.iter().find(|(s, _, _)| *s as u32 == code).map(|&(_, name, msg)| (name, msg))
}

/// A static, NUL-terminated English message for `status`. Never NULL: unknown values (from a
/// newer library, or not a status at all) give `"unknown glocal_status value"`.
#[no_mangle]
pub extern "C" fn glocal_status_str(status: glocal_status_code) -> *const c_char {
    describe(status.0).map_or(c"unknown glocal_status value", |(_, msg)| msg).as_ptr()
}

/// The enumerator's name for `status` (`"GLOCAL_STATUS_BLOB_BAD_MAGIC"`), a static
/// NUL-terminated string, for logs. Never NULL: unknown values give `"GLOCAL_STATUS_UNKNOWN"`.
#[no_mangle]
pub extern "C" fn glocal_status_name(status: glocal_status_code) -> *const c_char {
    describe(status.0).map_or(c"GLOCAL_STATUS_UNKNOWN", |(name, _)| name).as_ptr()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_has_a_distinct_name_matching_its_variant_and_a_message() {
        let mut seen = [0u32; 35];
        let mut n = 0;
        for code in 0..=1000u32 {
            if let Some((name, msg)) = describe(code) {
                assert!(name.to_bytes().starts_with(b"GLOCAL_STATUS_"));
                assert!(!msg.to_bytes().is_empty());
                seen[n] = code;
                n += 1;
            }
        }
        assert_eq!(n, 35, "codes found: {:?}", &seen[..n]);
        assert_eq!(describe(glocal_status::GLOCAL_STATUS_MAX_ENUM as u32), None);
        assert_eq!(describe(u32::MAX), None);
    }

    #[test]
    fn every_variant_is_in_the_table() {
        use glocal_status::*;
        // The match fails to compile when a variant is added; the table must then grow too.
        let listed = |s: glocal_status| match s {
            GLOCAL_STATUS_MAX_ENUM => false,
            GLOCAL_STATUS_OK
            | GLOCAL_STATUS_NULL_POINTER
            | GLOCAL_STATUS_NOT_INITIALIZED
            | GLOCAL_STATUS_INPUT_LENGTH
            | GLOCAL_STATUS_OUTPUT_LENGTH
            | GLOCAL_STATUS_MISALIGNED_POINTER
            | GLOCAL_STATUS_BUFFERS_OVERLAP
            | GLOCAL_STATUS_UNKNOWN_FLAGS
            | GLOCAL_STATUS_NOT_A_NUMBER
            | GLOCAL_STATUS_BAD_INPUT_SCALE
            | GLOCAL_STATUS_BAD_INPUT_ZERO_POINT
            | GLOCAL_STATUS_BLOB_TRUNCATED_HEADER
            | GLOCAL_STATUS_BLOB_BAD_MAGIC
            | GLOCAL_STATUS_BLOB_UNSUPPORTED_VERSION
            | GLOCAL_STATUS_BLOB_BAD_HEADER_LENGTH
            | GLOCAL_STATUS_BLOB_WRONG_ENDIANNESS
            | GLOCAL_STATUS_BLOB_UNKNOWN_DTYPE
            | GLOCAL_STATUS_BLOB_UNSUPPORTED_PANEL_WIDTH
            | GLOCAL_STATUS_BLOB_BAD_FLAGS
            | GLOCAL_STATUS_BLOB_BAD_DIMS
            | GLOCAL_STATUS_BLOB_BAD_LAYOUT
            | GLOCAL_STATUS_BLOB_BAD_NORMALISATION
            | GLOCAL_STATUS_BLOB_BAD_NAME
            | GLOCAL_STATUS_BLOB_RESERVED_NOT_ZERO
            | GLOCAL_STATUS_BLOB_LENGTH_MISMATCH
            | GLOCAL_STATUS_BLOB_CHECKSUM_MISMATCH
            | GLOCAL_STATUS_BLOB_MISALIGNED
            | GLOCAL_STATUS_BLOB_BAD_AUX
            | GLOCAL_STATUS_BLOB_BAD_ERROR_RECORD
            | GLOCAL_STATUS_BLOB_INVALID
            | GLOCAL_STATUS_KERNEL_UNAVAILABLE
            | GLOCAL_STATUS_FILE_OPEN_FAILED
            | GLOCAL_STATUS_FILE_MAP_FAILED
            | GLOCAL_STATUS_INTERNAL_PANIC
            | GLOCAL_STATUS_INTERNAL_UNMAPPED_ERROR => true,
        };
        let mut seen = std::vec::Vec::new();
        for (s, name, _) in TABLE {
            assert!(listed(s) && !seen.contains(&s), "{s:?} listed twice or not a status");
            seen.push(s);
            // The C name is the variant's own (Debug prints the Rust variant name).
            assert_eq!(name.to_str().unwrap(), std::format!("{s:?}"));
        }
    }

    /// One value of every core `Error` variant with the status it must map to. A variant added to
    /// the core changes `Error::VARIANT_COUNT` (kept by an exhaustive match in the core), and
    /// this list must then grow.
    fn every_error() -> std::vec::Vec<(Error, glocal_status)> {
        use glocal_status::*;
        std::vec![
            (Error::TruncatedHeader { found: 3 }, GLOCAL_STATUS_BLOB_TRUNCATED_HEADER),
            (Error::BadMagic { found: [0; 8] }, GLOCAL_STATUS_BLOB_BAD_MAGIC),
            (Error::UnsupportedVersion { found: 9, supported: 1 }, GLOCAL_STATUS_BLOB_UNSUPPORTED_VERSION),
            (Error::BadHeaderLength { found: 1 }, GLOCAL_STATUS_BLOB_BAD_HEADER_LENGTH),
            (Error::WrongEndianness { found: 0x0403_0201 }, GLOCAL_STATUS_BLOB_WRONG_ENDIANNESS),
            (Error::UnknownDtype { found: 99 }, GLOCAL_STATUS_BLOB_UNKNOWN_DTYPE),
            (
                Error::UnsupportedPanelWidth { found: 3, expected: 16 },
                GLOCAL_STATUS_BLOB_UNSUPPORTED_PANEL_WIDTH
            ),
            (Error::BadFlags { found: 0x8000 }, GLOCAL_STATUS_BLOB_BAD_FLAGS),
            (Error::BadDims { d_in: 0, d_out: 1 }, GLOCAL_STATUS_BLOB_BAD_DIMS),
            (Error::BadLayout { field: "stride", found: 1, expected: 2 }, GLOCAL_STATUS_BLOB_BAD_LAYOUT),
            (Error::BadNormalisation { field: "std", value: 0.0 }, GLOCAL_STATUS_BLOB_BAD_NORMALISATION),
            (Error::BadName { field: "model" }, GLOCAL_STATUS_BLOB_BAD_NAME),
            (Error::ReservedNotZero { offset: 200 }, GLOCAL_STATUS_BLOB_RESERVED_NOT_ZERO),
            (Error::LengthMismatch { declared: 300, found: 299 }, GLOCAL_STATUS_BLOB_LENGTH_MISMATCH),
            (Error::ChecksumMismatch { stored: 1, computed: 2 }, GLOCAL_STATUS_BLOB_CHECKSUM_MISMATCH),
            (Error::BadAux { field: "scale", index: 0, value: f32::NAN }, GLOCAL_STATUS_BLOB_BAD_AUX),
            (Error::Misaligned { required: 4, address: 1 }, GLOCAL_STATUS_BLOB_MISALIGNED),
            (
                Error::BadErrorRecord { field: "measured_error", value: f64::NAN },
                GLOCAL_STATUS_BLOB_BAD_ERROR_RECORD
            ),
            (Error::KernelUnavailable { isa: "avx512" }, GLOCAL_STATUS_KERNEL_UNAVAILABLE),
            (Error::InputLength { found: 0, d_in: 4 }, GLOCAL_STATUS_INPUT_LENGTH),
            (Error::OutputLength { found: 1, expected: 2 }, GLOCAL_STATUS_OUTPUT_LENGTH),
            (Error::NotANumber { what: "similarity" }, GLOCAL_STATUS_NOT_A_NUMBER),
            (Error::BadInputScale { value: 0.0 }, GLOCAL_STATUS_BAD_INPUT_SCALE),
            (Error::BadInputZeroPoint { value: 256, min: 0, max: 255 }, GLOCAL_STATUS_BAD_INPUT_ZERO_POINT),
        ]
    }

    #[test]
    fn every_core_error_has_its_own_status() {
        use glocal_status::*;
        let all = every_error();
        assert_eq!(all.len(), Error::VARIANT_COUNT, "a core Error variant is missing from every_error()");
        let mut seen = std::vec::Vec::new();
        for (e, want) in all {
            let got = glocal_status::from(e);
            assert_eq!(got, want, "{e:?} ({e})");
            // Each variant has its own code, never the catch-alls.
            assert!(
                got != GLOCAL_STATUS_BLOB_INVALID && got != GLOCAL_STATUS_INTERNAL_UNMAPPED_ERROR,
                "{e:?}"
            );
            assert!(!seen.contains(&got), "{e:?}: {got:?} already used by another variant");
            seen.push(got);
            // Blob defects are 2xx, caller errors 1xx, platform 3xx.
            let class = match e {
                Error::KernelUnavailable { .. } => 3,
                Error::InputLength { .. }
                | Error::OutputLength { .. }
                | Error::NotANumber { .. }
                | Error::BadInputScale { .. }
                | Error::BadInputZeroPoint { .. } => 1,
                _ => 2,
            };
            assert_eq!(got as u32 / 100, class, "{e:?} -> {got:?}");
        }
    }
}
