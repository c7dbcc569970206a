//! Bad input never hurts: malformed blobs, npz/npy files and features through the Rust API.
//!
//! Every case asserts the specific error, that nothing panics, that outputs are untouched on
//! error, and (for the readers) that memory stays bounded by the input size: a counting global
//! allocator records the largest single allocation each test thread makes.
//!
//! All fixtures are built here (pack, hand-written npy headers, the zip crate's writer):
//! nothing is read from disk.

use std::cell::Cell;

use glocal::format::{self, offsets, Header, HEADER_LEN, MAX_DIM, NAME_LEN};
use glocal::{pack, AlignedBlob, Error, Transform, WeightDtype};

// ---------------------------------------------------------------------------------------------
// Allocation meter.

struct Meter;

thread_local! {
    static LARGEST: Cell<usize> = const { Cell::new(0) };
}

fn note(size: usize) {
    let _ = LARGEST.try_with(|m| m.set(m.get().max(size)));
}

// SAFETY: forwards every call to the system allocator unchanged; only records sizes.
unsafe impl std::alloc::GlobalAlloc for Meter {
    unsafe fn alloc(&self, layout: std::alloc::Layout) -> *mut u8 {
        note(layout.size());
        // SAFETY: same contract as ours.
        unsafe { std::alloc::System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: std::alloc::Layout) {
        // SAFETY: same contract as ours.
        unsafe { std::alloc::System.dealloc(ptr, layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: std::alloc::Layout) -> *mut u8 {
        note(layout.size());
        // SAFETY: same contract as ours.
        unsafe { std::alloc::System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: std::alloc::Layout, new_size: usize) -> *mut u8 {
        note(new_size);
        // SAFETY: same contract as ours.
        unsafe { std::alloc::System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static METER: Meter = Meter;

#[cfg_attr(not(feature = "npz"), allow(dead_code))] // only the npz cases measure allocations
/// Runs `f` and returns its result with the largest single allocation it made on this thread.
fn largest_alloc<T>(f: impl FnOnce() -> T) -> (T, usize) {
    LARGEST.with(|m| m.set(0));
    let out = f();
    (out, LARGEST.with(|m| m.get()))
}

// ---------------------------------------------------------------------------------------------
// Fixtures.

/// A small transform with a bias: d_in 3, d_out 5 (one partial panel), values k + j/8.
fn source(d_in: usize, d_out: usize) -> pack::Source {
    pack::Source {
        d_in,
        d_out,
        weights: (0..d_in * d_out).map(|i| (i % 13) as f64 / 8.0 - 0.75).collect(),
        bias: Some((0..d_out).map(|j| j as f64 / 4.0).collect()),
        mean: 0.5,
        std: 2.0,
    }
}

fn small_blob(dtype: WeightDtype) -> AlignedBlob {
    pack::pack(&source(3, 5), dtype, "model", "module").unwrap()
}

/// A copy of `blob` with `bytes` written at `at`, and the checksum recomputed so the field
/// check (not the CRC) is what must reject it.
fn patched(blob: &AlignedBlob, at: usize, bytes: &[u8]) -> AlignedBlob {
    let mut b = blob.clone();
    b.as_bytes_mut()[at..at + bytes.len()].copy_from_slice(bytes);
    let crc = format::checksum(b.as_bytes());
    b.as_bytes_mut()[offsets::CRC..][..4].copy_from_slice(&crc.to_le_bytes());
    b
}

fn reject(blob: &AlignedBlob) -> Error {
    match Transform::new(blob.as_bytes()) {
        Ok(_) => panic!("malformed blob accepted"),
        Err(e) => {
            assert!(!e.to_string().is_empty());
            // Header::validate_blob agrees with Transform::new.
            assert_eq!(
                Header::validate_blob(blob.as_bytes()).err().map(|e| e.to_string()),
                Some(e.to_string())
            );
            e
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Blobs: lengths.

#[test]
fn baseline_blob_is_valid() {
    for dtype in WeightDtype::ALL {
        let blob = small_blob(dtype);
        let t = Transform::new(blob.as_bytes()).unwrap();
        assert_eq!((t.d_in(), t.d_out(), t.dtype()), (3, 5, dtype));
    }
}

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
    for code in [0u8, 5, 0x7f, 0xff] {
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
    for flags in [0u16, format::FLAG_HAS_BIAS, 1 << 2, 1 << 15, u16::MAX] {
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

/// The packer never writes a scale validation would refuse: a row whose largest off-diagonal
/// weight needs a scale above 2^120 is an overflow at pack time.
#[test]
fn packer_refuses_i8d_scales_above_the_bound() {
    let mut s = source(3, 5);
    s.std = 1.0;
    s.mean = 0.0;
    s.weights[1] = 1e38 * 2.0; // row 0, column 1: scale 1.57e36 > 2^120
    match pack::pack(&s, WeightDtype::I8d, "m", "m") {
        Err(pack::PackError::Overflow { dtype: WeightDtype::I8d, row: 0, col: 1, .. }) => {}
        other => panic!("{other:?}"),
    }
    s.weights[1] = 1e38; // scale 7.9e35 <= 2^120: packs, and validates
    let blob = pack::pack(&s, WeightDtype::I8d, "m", "m").unwrap();
    Transform::new(blob.as_bytes()).unwrap();
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

// ---------------------------------------------------------------------------------------------
// Features (inputs to apply).

#[test]
fn features_of_the_wrong_width_or_zero_rows() {
    let blob = small_blob(WeightDtype::F32);
    let t = Transform::new(blob.as_bytes()).unwrap();
    let mut y = [f32::NAN; 10];
    for n in [0usize, 1, 2, 4, 5, 7] {
        let x = vec![1.0f32; n];
        assert_eq!(t.apply(&x, &mut y), Err(Error::InputLength { found: n, d_in: 3 }), "{n} inputs");
    }
    for (n, m) in [(3usize, 0usize), (3, 4), (3, 6), (6, 5), (6, 11)] {
        let x = vec![1.0f32; n];
        let mut y = vec![f32::NAN; m];
        assert_eq!(
            t.apply(&x, &mut y),
            Err(Error::OutputLength { found: m, expected: n / 3 * 5 }),
            "{n} in, {m} out"
        );
        assert!(y.iter().all(|v| v.is_nan()), "output written on error");
    }
    // Also through the 16-bit paths.
    let x16 = [glocal::f16::ONE; 4];
    let mut y16 = [glocal::bf16::NAN; 5];
    assert_eq!(t.apply(&x16, &mut y16), Err(Error::InputLength { found: 4, d_in: 3 }));
    assert!(y16.iter().all(|v| v.is_nan()));
}

#[test]
fn nan_rows_give_nan_rows_only() {
    // Documented choice: a NaN (or infinite) feature makes every output of its row NaN
    // (or non-finite); the other rows are exactly what they would be alone.
    for dtype in WeightDtype::ALL {
        let blob = small_blob(dtype);
        let t = Transform::new(blob.as_bytes()).unwrap();
        let rows = 6; // a full 4-row tile and a tail
        let clean: Vec<f32> = (0..rows * 3).map(|i| i as f32 * 0.25 - 1.0).collect();
        let mut want = vec![f32::NAN; rows * 5];
        t.apply(&clean, &mut want).unwrap();
        for bad_row in [0usize, 3, 5] {
            let mut x = clean.clone();
            x[bad_row * 3 + 1] = f32::NAN;
            let mut y = vec![0.0f32; rows * 5];
            assert_eq!(t.apply(&x, &mut y), Ok(rows));
            for r in 0..rows {
                let (got, exp) = (&y[r * 5..][..5], &want[r * 5..][..5]);
                if r == bad_row {
                    assert!(got.iter().all(|v| v.is_nan()), "{dtype}: row {r}: {got:?}");
                } else {
                    assert_eq!(got, exp, "{dtype}: NaN in row {bad_row} leaked into row {r}");
                }
            }
            // f16 inputs and outputs follow the same rule. (Rounded through `Element`, which
            // Miri can run under -C target-cpu=haswell; half's own from_f32 is F16C there.)
            let x16: Vec<glocal::f16> =
                x.iter().map(|&v| <glocal::f16 as glocal::Element>::from_f32(v)).collect();
            let mut y16 = vec![glocal::f16::ZERO; rows * 5];
            t.apply(&x16, &mut y16).unwrap();
            for r in 0..rows {
                assert_eq!(y16[r * 5..][..5].iter().all(|v| v.is_nan()), r == bad_row, "{dtype} f16 row {r}");
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Packing.

#[test]
fn folded_bias_that_overflows_f32_is_refused() {
    // Regression (fuzz finding): b' = b - (mean / std) * colsum(W) is finite in f64 but not
    // in the f32 bias section; pack stored infinity and every output became inf or NaN.
    let mut s = source(3, 5);
    s.mean = 1e30;
    s.std = 1e-10;
    match pack::pack(&s, WeightDtype::F32, "m", "m") {
        Err(pack::PackError::BiasOverflow { col: 0, value }) => assert!(value.abs() > f32::MAX as f64),
        r => panic!("{r:?}"),
    }
    // mean / std overflowing f64 itself gives inf * 0 = NaN for a zero column sum: refused too.
    let mut s = source(1, 2);
    s.weights = vec![0.0, 1.0];
    s.mean = 1e300;
    s.std = 1e-300;
    match pack::pack(&s, WeightDtype::F16, "m", "m") {
        Err(pack::PackError::BiasOverflow { col: 0, value }) => assert!(value.is_nan()),
        r => panic!("{r:?}"),
    }
    // Just inside the range still packs.
    let mut s = source(1, 1);
    s.weights = vec![1.0];
    s.bias = None;
    s.mean = -3.0e38;
    s.std = 1.0;
    let blob = pack::pack(&s, WeightDtype::F32, "m", "m").unwrap();
    let t = Transform::new(blob.as_bytes()).unwrap();
    let mut y = [0.0f32];
    t.apply(&[0.0f32], &mut y).unwrap();
    assert_eq!(y[0], 3.0e38);
}

// ---------------------------------------------------------------------------------------------
// npz / npy.

#[cfg(feature = "npz")]
mod npz {
    use std::io::{Cursor, Write};

    use glocal::pack::npy::{Npy, NpyError};
    use glocal::pack::npz::{read_transform, NpzError, MAX_MEMBER_BYTES};
    use glocal::pack::PackError;
    use zip::write::SimpleFileOptions;
    use zip::CompressionMethod;

    use super::largest_alloc;

    /// An .npy image with a free-form dtype/order/shape and raw data bytes.
    fn npy(descr: &str, fortran: bool, shape: &str, data: &[u8]) -> Vec<u8> {
        let order = if fortran { "True" } else { "False" };
        let mut header = format!("{{'descr': '{descr}', 'fortran_order': {order}, 'shape': {shape}, }}");
        while (10 + header.len() + 1) % 64 != 0 {
            header.push(' ');
        }
        header.push('\n');
        let mut out = b"\x93NUMPY\x01\x00".to_vec();
        out.extend_from_slice(&(header.len() as u16).to_le_bytes());
        out.extend_from_slice(header.as_bytes());
        out.extend_from_slice(data);
        out
    }

    fn f32s(v: &[f32]) -> Vec<u8> {
        v.iter().flat_map(|x| x.to_le_bytes()).collect()
    }

    fn f64s(v: &[f64]) -> Vec<u8> {
        v.iter().flat_map(|x| x.to_le_bytes()).collect()
    }

    fn shape_text(shape: &[usize]) -> String {
        match shape {
            [] => "()".into(),
            [d] => format!("({d},)"),
            _ => format!("({})", shape.iter().map(|d| d.to_string()).collect::<Vec<_>>().join(", ")),
        }
    }

    fn f32_npy(shape: &[usize], v: &[f32]) -> Vec<u8> {
        npy("<f4", false, &shape_text(shape), &f32s(v))
    }

    fn zip_members(members: &[(&str, Vec<u8>)], method: CompressionMethod) -> Vec<u8> {
        let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
        for (name, data) in members {
            w.start_file(*name, SimpleFileOptions::default().compression_method(method)).unwrap();
            w.write_all(data).unwrap();
        }
        w.finish().unwrap().into_inner()
    }

    const D_IN: usize = 3;
    const D_OUT: usize = 4;

    fn weights() -> Vec<f32> {
        (0..D_IN * D_OUT).map(|i| i as f32 * 0.5 - 2.0).collect()
    }

    /// Members of a valid transform.npz (weights [3, 4], bias [4], f64 mean, f32 std).
    fn good_members() -> Vec<(&'static str, Vec<u8>)> {
        vec![
            ("weights.npy", f32_npy(&[D_IN, D_OUT], &weights())),
            ("bias.npy", f32_npy(&[D_OUT], &[0.5, -0.5, 1.0, 0.0])),
            ("mean.npy", npy("<f8", false, "()", &f64s(&[0.25]))),
            ("std.npy", f32_npy(&[], &[2.0])),
        ]
    }

    fn with(replace: &str, data: Option<Vec<u8>>) -> Vec<(&'static str, Vec<u8>)> {
        let mut m: Vec<_> = good_members().into_iter().filter(|(n, _)| *n != replace).collect();
        if let Some(d) = data {
            let name = good_members().into_iter().find(|(n, _)| *n == replace).unwrap().0;
            m.push((name, d));
        }
        m
    }

    fn read(members: &[(&str, Vec<u8>)]) -> Result<glocal::pack::Source, NpzError> {
        let bytes = zip_members(members, CompressionMethod::Deflated);
        let (result, largest) = largest_alloc(|| read_transform(&bytes));
        // Bounded memory: no allocation larger than a small multiple of the archive.
        assert!(
            largest <= 8 * bytes.len() + 65536,
            "allocated {largest} bytes for a {}-byte archive",
            bytes.len()
        );
        // Stored (uncompressed) archives give the same answer.
        let stored = zip_members(members, CompressionMethod::Stored);
        assert_eq!(
            read_transform(&stored).map_err(|e| e.to_string()),
            result.as_ref().map(Clone::clone).map_err(|e| e.to_string())
        );
        result
    }

    #[test]
    fn baseline_npz_reads_and_packs() {
        let s = read(&good_members()).unwrap();
        assert_eq!((s.d_in, s.d_out, s.mean, s.std), (D_IN, D_OUT, 0.25, 2.0));
        assert_eq!(s.weights, weights().iter().map(|&v| v as f64).collect::<Vec<_>>());
        assert_eq!(s.bias, Some(vec![0.5, -0.5, 1.0, 0.0]));
        // The older single-array layout: transform [d, d + 1], bias as last column.
        let t: Vec<f32> = (0..3 * 4).map(|i| i as f32).collect();
        let members = vec![
            ("transform.npy", f32_npy(&[3, 4], &t)),
            ("mean.npy", f32_npy(&[], &[0.0])),
            ("std.npy", f32_npy(&[1], &[1.0])),
        ];
        let s = read(&members).unwrap();
        assert_eq!(s.weights, vec![0.0, 1.0, 2.0, 4.0, 5.0, 6.0, 8.0, 9.0, 10.0]);
        assert_eq!(s.bias, Some(vec![3.0, 7.0, 11.0]));
    }

    #[test]
    fn npz_without_weights() {
        match read(&with("weights.npy", None)) {
            Err(NpzError::MissingMember { member: "weights", found }) => {
                assert_eq!(found, ["bias.npy", "mean.npy", "std.npy"])
            }
            r => panic!("{r:?}"),
        }
        assert!(matches!(read(&with("mean.npy", None)), Err(NpzError::MissingMember { member: "mean", .. })));
        assert!(matches!(read(&with("std.npy", None)), Err(NpzError::MissingMember { member: "std", .. })));
        // Not a zip at all, and an empty archive.
        assert!(matches!(read_transform(b"PK\x03\x04 not really"), Err(NpzError::Zip(_))));
        assert!(matches!(read_transform(&[]), Err(NpzError::Zip(_))));
        assert!(matches!(read(&[]), Err(NpzError::MissingMember { member: "mean", .. })));
    }

    #[test]
    fn npz_bias_is_optional() {
        let s = read(&with("bias.npy", None)).unwrap();
        assert_eq!(s.bias, None);
    }

    #[test]
    fn wrong_shapes() {
        let cases: [(&str, Vec<usize>); 4] = [
            ("weights.npy", vec![12]),
            ("weights.npy", vec![2, 3, 2]),
            ("weights.npy", vec![1, 3, 4]),
            ("weights.npy", vec![]),
        ];
        for (member, shape) in cases {
            let n: usize = shape.iter().product();
            match read(&with(member, Some(f32_npy(&shape, &vec![1.0; n])))) {
                Err(NpzError::Shape { member: "weights", found, .. }) => assert_eq!(found, shape),
                r => panic!("weights {shape:?}: {r:?}"),
            }
        }
        // Bias of the wrong length, or 2-D.
        for shape in [vec![3usize], vec![5], vec![2, 2], vec![4, 1]] {
            let n: usize = shape.iter().product();
            match read(&with("bias.npy", Some(f32_npy(&shape, &vec![0.0; n])))) {
                Err(NpzError::Shape { member: "bias", found, .. }) => assert_eq!(found, shape),
                r => panic!("bias {shape:?}: {r:?}"),
            }
        }
        // A [1, d_out] bias is accepted (numpy keeps such shapes after keepdims).
        assert!(read(&with("bias.npy", Some(f32_npy(&[1, D_OUT], &[0.0; D_OUT])))).is_ok());
        // mean/std that are not scalars.
        for shape in [vec![2usize], vec![1, 2], vec![0]] {
            let n: usize = shape.iter().product();
            match read(&with("mean.npy", Some(f32_npy(&shape, &vec![0.0; n])))) {
                Err(NpzError::Shape { member: "mean", found, .. }) => assert_eq!(found, shape),
                r => panic!("mean {shape:?}: {r:?}"),
            }
        }
        // Old layout with the wrong column count.
        let members = vec![
            ("transform.npy", f32_npy(&[3, 3], &[0.0; 9])),
            ("mean.npy", f32_npy(&[], &[0.0])),
            ("std.npy", f32_npy(&[], &[1.0])),
        ];
        assert!(matches!(read(&members), Err(NpzError::Shape { member: "transform", .. })));
        // Zero-sized weights.
        assert!(matches!(
            read(&with("weights.npy", Some(f32_npy(&[0, 4], &[])))),
            Err(NpzError::Invalid(PackError::Dims { d_in: 0, d_out: 4 }))
        ));
    }

    #[test]
    fn transform_layout_with_overflowing_shape_is_rejected_without_panic() {
        // Regression (fuzz finding): shape (usize::MAX, 0) declares 0 elements, so the data
        // length check passes; the column check computed `d + 1` and overflowed.
        let members = vec![
            ("transform.npy", npy("<f4", false, &format!("({}, 0)", usize::MAX), &[])),
            ("mean.npy", f32_npy(&[], &[0.0])),
            ("std.npy", f32_npy(&[], &[1.0])),
        ];
        match read(&members) {
            Err(NpzError::Shape { member: "transform", found, .. }) => assert_eq!(found, [usize::MAX, 0]),
            r => panic!("{r:?}"),
        }
    }

    #[test]
    fn std_not_positive_or_mean_not_finite() {
        for std in [0.0f32, -0.0, -1.0, f32::NAN, f32::INFINITY] {
            match read(&with("std.npy", Some(f32_npy(&[], &[std])))) {
                Err(NpzError::Invalid(PackError::Normalisation { field: "std", value })) => {
                    assert_eq!(value.to_bits(), (std as f64).to_bits())
                }
                r => panic!("std {std}: {r:?}"),
            }
        }
        for mean in [f64::NAN, f64::NEG_INFINITY] {
            assert!(matches!(
                read(&with("mean.npy", Some(npy("<f8", false, "()", &f64s(&[mean]))))),
                Err(NpzError::Invalid(PackError::Normalisation { field: "mean", .. }))
            ));
        }
    }

    #[test]
    fn nan_or_inf_weights_and_bias() {
        for (at, bad) in [(0usize, f32::NAN), (7, f32::INFINITY), (11, f32::NEG_INFINITY)] {
            let mut w = weights();
            w[at] = bad;
            match read(&with("weights.npy", Some(f32_npy(&[D_IN, D_OUT], &w)))) {
                Err(NpzError::Invalid(PackError::NonFinite { array: "weights", row, col, value })) => {
                    assert_eq!((row, col), (at / D_OUT, at % D_OUT));
                    assert_eq!(value.is_nan(), bad.is_nan());
                }
                r => panic!("{r:?}"),
            }
        }
        match read(&with("bias.npy", Some(f32_npy(&[D_OUT], &[0.0, 0.0, f32::NAN, 0.0])))) {
            Err(NpzError::Invalid(PackError::NonFinite { array: "bias", row: 0, col: 2, .. })) => {}
            r => panic!("{r:?}"),
        }
    }

    #[test]
    fn integer_bool_complex_string_object_and_structured_dtypes() {
        for descr in ["<i4", "<i8", "|u1", "<u2", "|b1", "<c8", "<U3", "|S4", "|O", "<M8[ns]"] {
            let data = vec![0u8; 12 * 16];
            let member = npy(descr, false, "(3, 4)", &data);
            match read(&with("weights.npy", Some(member))) {
                Err(e @ NpzError::Npy { .. }) => {
                    let NpzError::Npy { ref member, error: NpyError::UnsupportedDtype(ref d) } = e else {
                        panic!("{descr}: {e:?}")
                    };
                    assert_eq!((member.as_str(), d.as_str()), ("weights.npy", descr));
                    let kind = match &descr[1..2] {
                        "i" | "u" => "integer",
                        "b" => "boolean",
                        "O" => "object",
                        "c" => "complex",
                        "U" | "S" => "string",
                        _ => "unsupported",
                    };
                    assert!(e.to_string().contains(kind), "{descr}: {e}");
                }
                r => panic!("{descr}: {r:?}"),
            }
        }
        let structured = "{'descr': [('a', '<f4'), ('b', '<f4')], 'fortran_order': False, 'shape': (3,), }";
        let mut member = b"\x93NUMPY\x01\x00".to_vec();
        member.extend_from_slice(&(structured.len() as u16).to_le_bytes());
        member.extend_from_slice(structured.as_bytes());
        member.extend_from_slice(&[0; 24]);
        assert!(matches!(
            read(&with("weights.npy", Some(member))),
            Err(NpzError::Npy { error: NpyError::UnsupportedDtype(ref d), .. }) if d == "structured"
        ));
    }

    #[test]
    fn fortran_order_is_transposed_correctly() {
        // Column-major storage of the same [3, 4] matrix: element (r, c) at c * 3 + r.
        let w = weights();
        let mut col_major = vec![0.0f32; D_IN * D_OUT];
        for r in 0..D_IN {
            for c in 0..D_OUT {
                col_major[c * D_IN + r] = w[r * D_OUT + c];
            }
        }
        let member = npy("<f4", true, "(3, 4)", &f32s(&col_major));
        let s = read(&with("weights.npy", Some(member))).unwrap();
        assert_eq!(s.weights, w.iter().map(|&v| v as f64).collect::<Vec<_>>());
        // Fortran order beyond 2-D is refused by name.
        let member = npy("<f4", true, "(3, 2, 2)", &f32s(&w));
        assert!(matches!(
            read(&with("weights.npy", Some(member))),
            Err(NpzError::Npy { error: NpyError::FortranOrderNd(3), .. })
        ));
    }

    #[test]
    fn other_float_types_and_byte_orders() {
        let w = weights();
        let be: Vec<u8> = w.iter().flat_map(|x| x.to_be_bytes()).collect();
        let s = read(&with("weights.npy", Some(npy(">f4", false, "(3, 4)", &be)))).unwrap();
        assert_eq!(s.weights, w.iter().map(|&v| v as f64).collect::<Vec<_>>());
        let f16: Vec<u8> = w.iter().flat_map(|&x| glocal::f16::from_f32(x).to_le_bytes()).collect();
        let s = read(&with("weights.npy", Some(npy("<f2", false, "(3, 4)", &f16)))).unwrap();
        assert_eq!(s.weights, w.iter().map(|&v| v as f64).collect::<Vec<_>>());
        let f64b = f64s(&w.iter().map(|&v| v as f64).collect::<Vec<_>>());
        let s = read(&with("weights.npy", Some(npy("<f8", false, "(3, 4)", &f64b)))).unwrap();
        assert_eq!(s.weights, w.iter().map(|&v| v as f64).collect::<Vec<_>>());
    }

    #[test]
    fn huge_declared_shapes_fail_without_allocating() {
        let one_g = 1usize << 30;
        let cases: [(String, NpyError); 4] = [
            (format!("({}, {})", 1u64 << 40, 1u64 << 40), NpyError::ShapeOverflow),
            (format!("({}, {})", usize::MAX, 2), NpyError::ShapeOverflow),
            (format!("({one_g}, {one_g})"), NpyError::DataLength { declared: 1u128 << 62, found: 16 }),
            ("(3, 4)".into(), NpyError::DataLength { declared: 48, found: 16 }),
        ];
        for (shape, want) in cases {
            let bytes = npy("<f4", false, &shape, &[0u8; 16]);
            let (r, largest) = largest_alloc(|| Npy::parse(&bytes).map(|n| n.len()));
            assert_eq!(r, Err(want.clone()), "shape {shape}");
            assert!(largest < 4096, "shape {shape}: allocated {largest} bytes");
            match read(&with("weights.npy", Some(bytes))) {
                Err(NpzError::Npy { error, .. }) => assert_eq!(error, want),
                r => panic!("{shape}: {r:?}"),
            }
        }
    }

    #[test]
    fn malformed_npy_headers() {
        let good = f32_npy(&[2], &[1.0, 2.0]);
        assert_eq!(Npy::parse(&good).unwrap().to_f64(), [1.0, 2.0]);
        // Every truncation of a valid .npy.
        for len in 0..good.len() {
            assert!(Npy::parse(&good[..len]).is_err(), "prefix {len}");
        }
        assert_eq!(Npy::parse(b"\x93NUM").err(), Some(NpyError::TruncatedHeader));
        assert_eq!(Npy::parse(b"PK\x03\x04zipzip").err(), Some(NpyError::BadMagic));
        let mut v4 = good.clone();
        v4[6] = 4;
        assert_eq!(Npy::parse(&v4).err(), Some(NpyError::UnsupportedVersion(4, 0)));
        let mut long_header = good.clone();
        long_header[8..10].copy_from_slice(&u16::MAX.to_le_bytes());
        assert_eq!(Npy::parse(&long_header).err(), Some(NpyError::TruncatedHeader));
        for (header, what) in [
            ("not a dict", "not a dictionary"),
            ("{'fortran_order': False, 'shape': (2,), }", "no 'descr'"),
            ("{'descr': '<f4', 'shape': (2,), }", "no 'fortran_order'"),
            ("{'descr': '<f4', 'fortran_order': False, }", "no 'shape'"),
            (
                "{'descr': '<f4', 'fortran_order': Maybe, 'shape': (2,), }",
                "'fortran_order' is not True or False",
            ),
            ("{'descr': '<f4', 'fortran_order': False, 'shape': (two,), }", "'shape' holds a non-integer"),
            ("{'descr': '<f4', 'fortran_order': False, 'shape': (-2,), }", "'shape' holds a non-integer"),
            ("{'descr': '<f4', 'fortran_order': False, 'shape': 2, }", "'shape' is not a tuple"),
            ("{'descr': 4, 'fortran_order': False, 'shape': (2,), }", "'descr' is not a string"),
        ] {
            let mut b = b"\x93NUMPY\x01\x00".to_vec();
            b.extend_from_slice(&(header.len() as u16).to_le_bytes());
            b.extend_from_slice(header.as_bytes());
            b.extend_from_slice(&f32s(&[1.0, 2.0]));
            assert_eq!(Npy::parse(&b).err(), Some(NpyError::MalformedHeader(what)), "{header}");
        }
        // An unterminated descr string swallows the text up to the next quote: not a float type.
        let header = "{'descr': '<f4, 'fortran_order': False, 'shape': (2,), }";
        let mut b = b"\x93NUMPY\x01\x00".to_vec();
        b.extend_from_slice(&(header.len() as u16).to_le_bytes());
        b.extend_from_slice(header.as_bytes());
        assert_eq!(Npy::parse(&b).err(), Some(NpyError::UnsupportedDtype("<f4, ".into())));
        // Non-ASCII header in version 1.
        let mut b = b"\x93NUMPY\x01\x00\x02\x00\xc3\xa9".to_vec();
        b.extend_from_slice(&[0; 4]);
        assert_eq!(Npy::parse(&b).err(), Some(NpyError::MalformedHeader("header is not ASCII")));
    }

    /// Offsets of the size fields of the first member in a zip image.
    fn size_fields(zip: &[u8]) -> (usize, usize) {
        let local = zip.windows(4).position(|w| w == b"PK\x03\x04").unwrap();
        let central = zip.windows(4).position(|w| w == b"PK\x01\x02").unwrap();
        (local + 18, central + 20) // compressed size, then uncompressed size, 4 bytes each
    }

    fn patch_sizes(zip: &mut [u8], compressed: Option<u32>, uncompressed: Option<u32>) {
        let (local, central) = size_fields(zip);
        for at in [local, central] {
            if let Some(c) = compressed {
                zip[at..at + 4].copy_from_slice(&c.to_le_bytes());
            }
            if let Some(u) = uncompressed {
                zip[at + 4..at + 8].copy_from_slice(&u.to_le_bytes());
            }
        }
    }

    /// Zip with the `mean` member first (so its sizes are the first patched), then the rest.
    fn mean_first(method: CompressionMethod) -> (Vec<u8>, u32, u32) {
        let mut members = with("mean.npy", None);
        members.insert(0, ("mean.npy", npy("<f8", false, "()", &f64s(&[0.25]))));
        let zip = zip_members(&members, method);
        let (_, central) = size_fields(&zip);
        let c = u32::from_le_bytes(zip[central..central + 4].try_into().unwrap());
        let u = u32::from_le_bytes(zip[central + 4..central + 8].try_into().unwrap());
        (zip, c, u)
    }

    fn read_bounded(zip: &[u8]) -> Result<glocal::pack::Source, NpzError> {
        let (r, largest) = largest_alloc(|| read_transform(zip));
        assert!(
            largest <= 8 * zip.len() + 65536,
            "allocated {largest} bytes for a {}-byte archive",
            zip.len()
        );
        r
    }

    #[test]
    fn zip_members_that_lie_about_their_size() {
        for method in [CompressionMethod::Stored, CompressionMethod::Deflated] {
            let (zip, c, u) = mean_first(method);
            assert!(read_bounded(&zip).is_ok());
            let len = zip.len() as u64;

            // Claims (far) more than the archive can hold.
            for claim in [u32::MAX, 1 << 30, (len * 2000) as u32] {
                let mut z = zip.clone();
                patch_sizes(&mut z, None, Some(claim));
                match read_bounded(&z) {
                    Err(NpzError::MemberSize { member, declared, limit }) => {
                        assert_eq!((member.as_str(), declared), ("mean.npy", claim as u64), "{method:?}");
                        assert!(limit < declared);
                    }
                    r => panic!("{method:?} claim {claim}: {r:?}"),
                }
            }
            // Claims a huge compressed size too (regression: the compressed size was trusted
            // in the expansion bound, allowing a 1 GiB reservation for a tiny archive).
            let mut z = zip.clone();
            patch_sizes(&mut z, Some(u32::MAX - 1), Some((MAX_MEMBER_BYTES - 1) as u32));
            match read_bounded(&z) {
                Err(NpzError::MemberSize { member, declared, limit }) => {
                    assert_eq!((member.as_str(), declared), ("mean.npy", MAX_MEMBER_BYTES - 1));
                    assert!(limit <= len * 1100, "{limit}");
                }
                r => panic!("{method:?}: {r:?}"),
            }
            // Claims a little more or less than it holds: the short or long read is caught.
            for claim in [u - 1, u + 1, u + 100, 0] {
                let mut z = zip.clone();
                patch_sizes(&mut z, None, Some(claim));
                match read_bounded(&z) {
                    Err(NpzError::MemberRead { member, .. }) => assert_eq!(member, "mean.npy"),
                    Err(NpzError::Npy { member, .. }) => assert_eq!(member, "mean.npy"),
                    r => panic!("{method:?} claim {claim} (holds {u}): {r:?}"),
                }
            }
            // Compressed size that runs past the end of the archive or is too short. A deflate
            // stream ends itself, so a deflated member may still read correctly (its CRC-32 and
            // exact length are verified); a stored member cannot.
            for claim in [c + 1, c - 1, c + 1_000_000] {
                let mut z = zip.clone();
                patch_sizes(&mut z, Some(claim), None);
                match read_bounded(&z) {
                    Ok(s) if method == CompressionMethod::Deflated && claim > c => assert_eq!(s.mean, 0.25),
                    Err(NpzError::Zip(_) | NpzError::MemberRead { .. } | NpzError::MemberSize { .. }) => {}
                    r => panic!("{method:?} compressed claim {claim} (holds {c}): {r:?}"),
                }
            }
        }
    }

    #[test]
    fn corrupt_member_data_is_a_read_error() {
        for method in [CompressionMethod::Stored, CompressionMethod::Deflated] {
            let (zip, _, _) = mean_first(method);
            // Flip a byte inside the first member's data (after its 30-byte header and name).
            let local = zip.windows(4).position(|w| w == b"PK\x03\x04").unwrap();
            let at = local + 30 + "mean.npy".len() + 20;
            let mut z = zip.clone();
            z[at] ^= 0x40;
            let r = read_bounded(&z);
            assert!(
                matches!(r, Err(NpzError::MemberRead { ref member, .. } | NpzError::Npy { ref member, .. }) if member == "mean.npy"),
                "{method:?}: {r:?}"
            );
        }
    }

    #[test]
    fn every_truncation_of_an_npz_is_an_error() {
        let zip = zip_members(&good_members(), CompressionMethod::Deflated);
        for len in 0..zip.len() {
            let r = read_bounded(&zip[..len]);
            assert!(r.is_err(), "prefix {len} of {}", zip.len());
        }
    }
}
