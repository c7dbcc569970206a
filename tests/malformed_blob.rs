//! Bad blobs never hurt: every truncation, over-long blobs, every single-bit flip, bursts,
//! every header field, the i8d aux values and alignment, through the Rust API. Each case asserts
//! the specific error, that nothing panics, and that `Header::validate_blob` agrees with
//! `Transform::new`. All fixtures are built here (tests/common/blobs.rs): nothing is read from
//! disk.

mod common;

use common::blobs::{patched, reject, small_blob};
use glocal::format::{self, offsets, Header, HEADER_LEN, MAX_DIM, NAME_LEN};
use glocal::{AlignedBlob, Error, Transform, WeightDtype};

// ---------------------------------------------------------------------------------------------
// Blobs: lengths.

#[test]
fn every_truncation_is_rejected() {
    for dtype in WeightDtype::ALL {
        let blob = small_blob(dtype);
        let full = blob.as_bytes();
        for len in 0..full.len() {
            let got = Transform::new(&full[..len]).err();
            let want = if len < HEADER_LEN {
                Error::TruncatedHeader { found: len }
            } else {
                Error::LengthMismatch { declared: full.len() as u64, found: len }
            };
            assert_eq!(got, Some(want), "{dtype}: prefix of {len} bytes");
        }
    }
}

#[test]
fn over_long_blobs_are_rejected() {
    let blob = small_blob(WeightDtype::F16);
    for extra in [1usize, 3, 4, 63, 64, 4096] {
        let mut long = AlignedBlob::zeroed(blob.len() + extra);
        long.as_bytes_mut()[..blob.len()].copy_from_slice(blob.as_bytes());
        assert_eq!(
            reject(&long),
            Error::LengthMismatch { declared: blob.len() as u64, found: blob.len() + extra },
            "{extra} trailing bytes"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Blobs: corruption.

#[test]
fn every_single_bit_flip_is_detected() {
    for dtype in WeightDtype::ALL {
        let blob = small_blob(dtype);
        let stored = Header::parse(blob.as_bytes()).unwrap().crc;
        let mut b = blob.clone();
        for bit in 0..blob.len() * 8 {
            let (byte, mask) = (bit / 8, 1u8 << (bit % 8));
            b.as_bytes_mut()[byte] ^= mask;
            let result = Transform::new(b.as_bytes());
            assert!(result.is_err(), "{dtype}: flip of bit {bit} (byte {byte:#x}) accepted");
            // The checksum alone catches it too, whatever field checks come first.
            if !(offsets::CRC..offsets::CRC + 4).contains(&byte) {
                assert_ne!(format::checksum(b.as_bytes()), stored, "{dtype}: CRC misses bit {bit}");
            }
            b.as_bytes_mut()[byte] ^= mask;
        }
        assert!(Transform::new(b.as_bytes()).is_ok());
    }
}

#[test]
fn every_payload_bit_flip_is_a_checksum_mismatch() {
    // Past the header no field check applies: the CRC is the only line of defence.
    let blob = small_blob(WeightDtype::F32);
    let mut b = blob.clone();
    for bit in HEADER_LEN * 8..blob.len() * 8 {
        let (byte, mask) = (bit / 8, 1u8 << (bit % 8));
        b.as_bytes_mut()[byte] ^= mask;
        assert!(
            matches!(Transform::new(b.as_bytes()), Err(Error::ChecksumMismatch { .. })),
            "payload bit {bit}"
        );
        b.as_bytes_mut()[byte] ^= mask;
    }
}

#[test]
fn burst_errors_up_to_32_bits_are_detected() {
    // CRC-32C detects every burst of length <= 32: check bursts at every byte offset with a
    // pseudo-random pattern whose first and last bits are set.
    let blob = small_blob(WeightDtype::F16);
    let stored = Header::parse(blob.as_bytes()).unwrap().crc;
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    for start in 0..blob.len() * 8 - 32 {
        let crc_bits = offsets::CRC * 8..(offsets::CRC + 4) * 8;
        if crc_bits.contains(&start) || crc_bits.contains(&(start + 31)) {
            continue;
        }
        state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        let len = 1 + (state >> 59) as usize; // 1..=32
        let pattern = ((state >> 16) as u32 | 1 | (1u32 << (len - 1))) & (u32::MAX >> (32 - len));
        let mut b = blob.clone();
        for i in 0..len {
            if pattern >> i & 1 == 1 {
                let bit = start + i;
                b.as_bytes_mut()[bit / 8] ^= 1 << (bit % 8);
            }
        }
        assert_ne!(format::checksum(b.as_bytes()), stored, "burst of {len} at bit {start}");
        assert!(Transform::new(b.as_bytes()).is_err());
    }
}

#[test]
fn wrong_checksum_field_is_a_checksum_mismatch() {
    let blob = small_blob(WeightDtype::F32);
    let stored = Header::parse(blob.as_bytes()).unwrap().crc;
    let mut b = blob.clone();
    b.as_bytes_mut()[offsets::CRC..][..4].copy_from_slice(&(stored ^ 0x8000_0001).to_le_bytes());
    assert_eq!(reject(&b), Error::ChecksumMismatch { stored: stored ^ 0x8000_0001, computed: stored });
}

// ---------------------------------------------------------------------------------------------
// Blobs: every header field.

#[test]
fn wrong_magic() {
    let blob = small_blob(WeightDtype::F32);
    let b = patched(&blob, offsets::MAGIC, b"GLOCALX\x1a");
    assert_eq!(reject(&b), Error::BadMagic { found: *b"GLOCALX\x1a" });
    let b = patched(&blob, offsets::MAGIC, &[0; 8]);
    assert_eq!(reject(&b), Error::BadMagic { found: [0; 8] });
}

#[test]
fn wrong_version() {
    let blob = small_blob(WeightDtype::F32);
    for v in [0u16, 2, 0x0100, u16::MAX] {
        let b = patched(&blob, offsets::VERSION, &v.to_le_bytes());
        assert_eq!(reject(&b), Error::UnsupportedVersion { found: v, supported: 1 });
    }
}

#[test]
fn wrong_header_length() {
    let blob = small_blob(WeightDtype::F32);
    for v in [0u16, 255, 257, 512] {
        let b = patched(&blob, offsets::HEADER_LEN, &v.to_le_bytes());
        assert_eq!(reject(&b), Error::BadHeaderLength { found: v });
    }
}

#[test]
fn byte_swapped_endian_marker() {
    let blob = small_blob(WeightDtype::F32);
    let b = patched(&blob, offsets::ENDIAN, &format::ENDIAN_MARKER.to_be_bytes());
    assert_eq!(reject(&b), Error::WrongEndianness { found: 0x0403_0201 });
}

#[test]
fn wrong_dtype_code() {
    let blob = small_blob(WeightDtype::F32);
    for code in [0u8, 6, 0x7f, 0xff] {
        let b = patched(&blob, offsets::DTYPE, &[code]);
        assert_eq!(reject(&b), Error::UnknownDtype { found: code });
    }
    // A known but different dtype: every size check then disagrees with the bytes.
    let b = patched(&blob, offsets::DTYPE, &[WeightDtype::F16.code()]);
    assert!(matches!(reject(&b), Error::BadLayout { field: "total_len", .. }));
}

#[test]
fn wrong_panel_width() {
    let blob = small_blob(WeightDtype::F32);
    for nr in [0u8, 4, 8, 15, 17, 32] {
        let b = patched(&blob, offsets::NR, &[nr]);
        assert_eq!(reject(&b), Error::UnsupportedPanelWidth { found: nr, expected: 16 });
    }
}

#[test]
fn wrong_flags() {
    let blob = small_blob(WeightDtype::F32);
    for flags in [0u16, format::FLAG_HAS_BIAS, format::FLAG_ERROR_RECORDED, 1 << 3, 1 << 15, u16::MAX] {
        let b = patched(&blob, offsets::FLAGS, &flags.to_le_bytes());
        assert_eq!(reject(&b), Error::BadFlags { found: flags }, "flags {flags:#x}");
    }
    // Clearing FLAG_HAS_BIAS is a valid header (the bias section is still read as stored).
    let b = patched(&blob, offsets::FLAGS, &format::FLAG_NORM_FOLDED.to_le_bytes());
    assert!(!Transform::new(b.as_bytes()).unwrap().header().has_bias());
}

#[test]
fn wrong_dims() {
    let blob = small_blob(WeightDtype::F32);
    for (d_in, d_out) in
        [(0u32, 5u32), (3, 0), (0, 0), (MAX_DIM + 1, 5), (3, MAX_DIM + 1), (u32::MAX, u32::MAX)]
    {
        let mut b = patched(&blob, offsets::D_IN, &d_in.to_le_bytes());
        b = patched(&b, offsets::D_OUT, &d_out.to_le_bytes());
        assert_eq!(reject(&b), Error::BadDims { d_in, d_out });
    }
    // Plausible dims that disagree with the layout fields: the first field that differs is named.
    let b = patched(&blob, offsets::D_IN, &4u32.to_le_bytes());
    assert_eq!(reject(&b), Error::BadLayout { field: "total_len", found: 512, expected: 576 });
    let b = patched(&blob, offsets::D_OUT, &17u32.to_le_bytes());
    assert_eq!(reject(&b), Error::BadLayout { field: "panels", found: 1, expected: 2 });
    // MAX_DIM x MAX_DIM is in range: its layout (2^32 weights) is then compared, no overflow.
    let mut b = patched(&blob, offsets::D_IN, &MAX_DIM.to_le_bytes());
    b = patched(&b, offsets::D_OUT, &MAX_DIM.to_le_bytes());
    assert!(matches!(reject(&b), Error::BadLayout { field: "panels", found: 1, expected: 4096 }));
}

#[test]
fn wrong_layout_fields() {
    let blob = small_blob(WeightDtype::F32);
    let h = Header::parse(blob.as_bytes()).unwrap();
    let l = h.layout;
    assert_eq!(
        (l.bias_offset, l.bias_len, l.weights_offset, l.weights_len, l.total_len),
        (256, 64, 320, 192, 512)
    );
    let u64_fields: [(&str, usize, u64); 8] = [
        ("total_len", offsets::TOTAL_LEN, l.total_len),
        ("bias_offset", offsets::BIAS_OFFSET, l.bias_offset),
        ("bias_len", offsets::BIAS_LEN, l.bias_len),
        ("weights_offset", offsets::WEIGHTS_OFFSET, l.weights_offset),
        ("weights_len", offsets::WEIGHTS_LEN, l.weights_len),
        ("panel_stride", offsets::PANEL_STRIDE, l.panel_stride),
        ("aux_offset", offsets::AUX_OFFSET, 0),
        ("aux_len", offsets::AUX_LEN, 0),
    ];
    for (field, at, expected) in u64_fields {
        for found in [expected + 1, expected.wrapping_sub(64), 1 << 40, u64::MAX] {
            let b = patched(&blob, at, &found.to_le_bytes());
            assert_eq!(reject(&b), Error::BadLayout { field, found, expected }, "{field} = {found}");
        }
    }
    for found in [0u32, 2, u32::MAX] {
        let b = patched(&blob, offsets::PANELS, &found.to_le_bytes());
        assert_eq!(reject(&b), Error::BadLayout { field: "panels", found: found as u64, expected: 1 });
    }
    // A blob whose total_len agrees with a longer buffer is still checked against the dims.
    let mut long = AlignedBlob::zeroed(blob.len() + 64);
    long.as_bytes_mut()[..blob.len()].copy_from_slice(blob.as_bytes());
    let b = patched(&long, offsets::TOTAL_LEN, &(blob.len() as u64 + 64).to_le_bytes());
    assert_eq!(reject(&b), Error::BadLayout { field: "total_len", found: 576, expected: 512 });
}

#[test]
fn non_finite_or_non_positive_normalisation() {
    let blob = small_blob(WeightDtype::F32);
    for mean in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
        let b = patched(&blob, offsets::MEAN, &mean.to_le_bytes());
        match reject(&b) {
            Error::BadNormalisation { field: "mean", value } => {
                assert!(value.to_bits() == mean.to_bits())
            }
            e => panic!("mean {mean}: {e:?}"),
        }
    }
    for std in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY, 0.0, -0.0, -1.0, -f64::MIN_POSITIVE] {
        let b = patched(&blob, offsets::STD, &std.to_le_bytes());
        match reject(&b) {
            Error::BadNormalisation { field: "std", value } => assert!(value.to_bits() == std.to_bits()),
            e => panic!("std {std}: {e:?}"),
        }
    }
}

#[test]
fn bad_names() {
    let blob = small_blob(WeightDtype::F32);
    for (field, at) in [("model", offsets::MODEL), ("module", offsets::MODULE)] {
        // Invalid UTF-8.
        let b = patched(&blob, at, &[0xff, 0xfe]);
        assert_eq!(reject(&b), Error::BadName { field });
        // Bytes after the NUL terminator.
        let b = patched(&blob, at + 10, b"x");
        assert_eq!(reject(&b), Error::BadName { field });
        let b = patched(&blob, at + NAME_LEN - 1, b"x");
        assert_eq!(reject(&b), Error::BadName { field });
        // A full 64-byte name with no NUL is valid.
        let b = patched(&blob, at, &[b'a'; NAME_LEN]);
        assert!(Transform::new(b.as_bytes()).is_ok());
    }
}

#[test]
fn reserved_bytes_must_be_zero() {
    let blob = small_blob(WeightDtype::F32);
    for i in 0..12 {
        let b = patched(&blob, offsets::RESERVED + i, &[0x01]);
        assert_eq!(reject(&b), Error::ReservedNotZero { offset: offsets::RESERVED + i });
    }
}

/// Flag `ERROR_RECORDED` set: the record at 0xF0 must be a finite error >= 0 (decided on the
/// bits: -0.0, NaN of either sign, infinities and every negative are refused), at least one
/// probe row and a known probe kind; the 3 bytes after it stay reserved.
#[test]
fn error_record_is_validated() {
    use format::{ErrorRecord, ProbeKind, FLAG_ERROR_RECORDED};
    let blob = small_blob(WeightDtype::F16);
    let flags = Header::parse(blob.as_bytes()).unwrap().flags | FLAG_ERROR_RECORDED;
    // A valid record: error, rows, kind.
    let with = |error: f32, rows: u32, kind: u8| {
        let b = patched(&blob, offsets::FLAGS, &flags.to_le_bytes());
        let b = patched(&b, offsets::MEASURED_ERROR, &error.to_le_bytes());
        let b = patched(&b, offsets::PROBE_ROWS, &rows.to_le_bytes());
        patched(&b, offsets::PROBE_KIND, &[kind])
    };
    for (e, rows, kind) in [
        (3.5e-4f32, 64u32, ProbeKind::Random),
        (0.0, 1, ProbeKind::User),
        (f32::MAX, u32::MAX, ProbeKind::Random),
    ] {
        let b = with(e, rows, kind.code());
        let h = *Transform::new(b.as_bytes()).unwrap().header();
        assert_eq!(h.measured_error(), Some(e));
        assert_eq!(h.error_record, Some(ErrorRecord { error: e, probe_rows: rows, probe_kind: kind }));
        // `to_bytes` writes exactly the header it parsed from (checksum field aside).
        let mut bytes = h.to_bytes();
        bytes[offsets::CRC..].copy_from_slice(&b.as_bytes()[offsets::CRC..HEADER_LEN]);
        assert_eq!(&bytes[..], &b.as_bytes()[..HEADER_LEN]);
    }
    let bad_error = |v: f32| Error::BadErrorRecord { field: "measured_error", value: v as f64 };
    for v in [-1e-3f32, -0.0, f32::INFINITY, f32::NEG_INFINITY, -f32::MIN_POSITIVE] {
        assert_eq!(reject(&with(v, 64, 1)), bad_error(v), "error {v}");
    }
    for bits in [0x7fc0_0000u32, 0xffc0_0000, 0x7f80_0001] {
        let got = reject(&with(f32::from_bits(bits), 64, 1));
        assert!(
            matches!(got, Error::BadErrorRecord { field: "measured_error", value } if value.is_nan()),
            "NaN {bits:#x}: {got:?}"
        );
    }
    assert_eq!(reject(&with(1e-3, 0, 1)), Error::BadErrorRecord { field: "probe_rows", value: 0.0 });
    for kind in [0u8, 3, 255] {
        assert_eq!(
            reject(&with(1e-3, 64, kind)),
            Error::BadErrorRecord { field: "probe_kind", value: kind as f64 },
            "kind {kind}"
        );
    }
    for i in 0..3 {
        let b = patched(&with(1e-3, 64, 1), offsets::RESERVED_TAIL + i, &[0x80]);
        assert_eq!(reject(&b), Error::ReservedNotZero { offset: offsets::RESERVED_TAIL + i });
    }
    // The record's bytes with the flag clear are reserved bytes, so a blob whose flag bit was
    // lost is rejected, not read as having no record.
    let b = patched(&with(1e-3, 64, 1), offsets::FLAGS, &(flags & !FLAG_ERROR_RECORDED).to_le_bytes());
    assert_eq!(reject(&b), Error::ReservedNotZero { offset: offsets::MEASURED_ERROR });
    // The flag with an all-zero record: 0 probe rows.
    let b = patched(&blob, offsets::FLAGS, &flags.to_le_bytes());
    assert_eq!(reject(&b), Error::BadErrorRecord { field: "probe_rows", value: 0.0 });
}

/// A blob packed without a measurement (flag clear, reserved bytes zero, as every blob before
/// the error record) still loads, and reports no measured error.
#[test]
fn blobs_without_an_error_record_load() {
    for dtype in WeightDtype::ALL {
        let blob = small_blob(dtype);
        assert_eq!(blob.as_bytes()[offsets::RESERVED..offsets::CRC], [0u8; 12]);
        let t = Transform::new(blob.as_bytes()).unwrap();
        assert_eq!(t.header().flags & format::FLAG_ERROR_RECORDED, 0);
        assert_eq!(t.header().measured_error(), None);
        assert_eq!(t.header().error_record, None);
    }
}

/// The `i8d` aux section is checked value by value after the checksum: row scales in
/// `0..=I8D_MAX_SCALE` (2^120), diagonal entries finite, padding zero. A crafted blob with a
/// valid checksum and a scale near f32::MAX would otherwise make `x * scale` overflow to
/// infinity and an int8 weight of 0 give NaN.
#[test]
fn i8d_aux_values_are_bounded() {
    use glocal::format::I8D_MAX_SCALE;
    // d_in 3, d_out 5: scales [0, 3), scale padding [3, 16), diagonal [0, 3) of the 16 stored
    // entries, diagonal padding [3, 16).
    let blob = small_blob(WeightDtype::I8d);
    let h = Header::parse(blob.as_bytes()).unwrap();
    let aux = h.layout.aux_offset as usize;
    let (scale, diag) = (|k: usize| aux + 4 * k, |j: usize| aux + 4 * (16 + j));
    let bad: [(usize, f32, &str, usize); 12] = [
        (scale(0), f32::MAX, "scale", 0),
        (scale(1), f32::INFINITY, "scale", 1),
        (scale(2), f32::NAN, "scale", 2),
        (scale(2), -1.0, "scale", 2),
        (scale(0), I8D_MAX_SCALE * 2.0, "scale", 0),
        (scale(1), f32::from_bits(I8D_MAX_SCALE.to_bits() + 1), "scale", 1),
        (scale(3), 1.0, "scale padding", 3),
        (scale(15), f32::NAN, "scale padding", 15),
        (diag(0), f32::INFINITY, "diag", 0),
        (diag(2), f32::NAN, "diag", 2),
        (diag(3), 0.5, "diag padding", 3),
        (diag(15), -f32::INFINITY, "diag padding", 15),
    ];
    for (at, value, field, index) in bad {
        let e = reject(&patched(&blob, at, &value.to_le_bytes()));
        match e {
            Error::BadAux { field: f, index: i, value: v } => {
                assert_eq!((f, i, v.to_bits()), (field, index, value.to_bits()), "{e}");
            }
            other => panic!("{field}[{index}] = {value}: {other}"),
        }
        assert!(e.to_string().contains(&format!("{field}[{index}]")), "{e}");
    }
    // The bound itself, zero and a tiny scale are accepted, and apply gives finite outputs.
    for value in [I8D_MAX_SCALE, 0.0, f32::from_bits(1)] {
        let b = patched(&blob, scale(1), &value.to_le_bytes());
        let t = Transform::new(b.as_bytes()).unwrap_or_else(|e| panic!("scale {value:e}: {e}"));
        let mut y = [f32::NAN; 5];
        t.apply(&[1.0f32, 1.0, 3.0], &mut y).unwrap();
        assert!(y.iter().all(|v| v.is_finite()), "scale {value:e}: {y:?}");
    }
    // Other dtypes have no aux section: nothing to check, nothing changes.
    for dtype in [WeightDtype::F32, WeightDtype::F16, WeightDtype::Bf16] {
        assert_eq!(Header::parse(small_blob(dtype).as_bytes()).unwrap().layout.aux_len, 0);
    }
}

/// Blobs accepted and used in place, through the zero-copy byte views (the unsafe code of the
/// blob reader): `.ci/steps/85-miri.sh` runs this module under Miri, and fails if it is empty.
mod in_place {
    use super::*;

    #[test]
    fn baseline_blob_is_valid() {
        for dtype in WeightDtype::ALL {
            let blob = small_blob(dtype);
            let t = Transform::new(blob.as_bytes()).unwrap();
            assert_eq!((t.d_in(), t.d_out(), t.dtype()), (3, 5, dtype));
        }
    }

    #[test]
    fn misaligned_blobs_are_rejected() {
        let blob = small_blob(WeightDtype::F32);
        let mut buf = AlignedBlob::zeroed(blob.len() + 8);
        for shift in 1..8 {
            buf.as_bytes_mut()[shift..shift + blob.len()].copy_from_slice(blob.as_bytes());
            let view = &buf.as_bytes()[shift..shift + blob.len()];
            let result = Transform::new(view);
            if shift % format::BLOB_ALIGN == 0 {
                assert!(result.is_ok(), "shift {shift}");
            } else {
                assert_eq!(
                    result.err(),
                    Some(Error::Misaligned { required: format::BLOB_ALIGN, address: view.as_ptr() as usize }),
                    "shift {shift}"
                );
                // The header itself is fine: only the in-place use needs alignment.
                assert!(Header::validate_blob(view).is_ok());
            }
        }
    }
}
