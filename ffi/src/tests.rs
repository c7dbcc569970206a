//! Rust-side tests of the exported functions, so the unsafe code of the boundary also runs
//! under Miri (`cargo +nightly miri test -p glocal-ffi --lib`). The C test
//! (`ffi/tests/c/test_glocal.c`) covers the same contract from C, error path by error path.

use core::ffi::CStr;
use core::mem::MaybeUninit;

use glocal_core::{pack, WeightDtype};
use std::vec::Vec;

use crate::glocal_status::{self, *};
use crate::*;

/// `y = ((x - 1) / 2) @ W + b` with small dyadic values: exact in every dtype.
fn blob(dtype: WeightDtype, d_in: usize, d_out: usize) -> glocal_core::AlignedBlob {
    let weights = (0..d_in * d_out).map(|i| ((i * 5 % 7) as f64 - 3.0) / 4.0).collect();
    let bias = Some((0..d_out).map(|j| j as f64 / 2.0).collect());
    let source = pack::Source { d_in, d_out, weights, bias, mean: 1.0, std: 2.0 };
    pack::pack(&source, dtype, "test", "ffi").expect("pack")
}

fn reference(d_in: usize, d_out: usize, x: &[f32]) -> Vec<f32> {
    let mut y = Vec::new();
    for row in x.chunks(d_in) {
        for j in 0..d_out {
            let mut acc = j as f64 / 2.0;
            for (k, &xv) in row.iter().enumerate() {
                acc += (xv as f64 - 1.0) / 2.0 * (((k * d_out + j) * 5 % 7) as f64 - 3.0) / 4.0;
            }
            y.push(acc as f32);
        }
    }
    y
}

fn init(t: &mut glocal_transform, bytes: &[u8]) -> glocal_status {
    // SAFETY: `t` is valid storage; `bytes` outlives every use of `t` in these tests.
    unsafe { glocal_transform_init(t, bytes.as_ptr(), bytes.len()) }
}

#[test]
fn init_query_apply_and_copy() {
    let (d_in, d_out, rows) = (19, 17, 5);
    let b = blob(WeightDtype::F16, d_in, d_out);
    let mut t = glocal_transform { _opaque: MaybeUninit::zeroed() };
    assert_eq!(init(&mut t, b.as_bytes()), GLOCAL_STATUS_OK);
    // SAFETY: `t` is initialised storage for all calls below.
    unsafe {
        assert_eq!((glocal_transform_dim_in(&t), glocal_transform_dim_out(&t)), (d_in, d_out));
        assert_eq!(glocal_transform_dtype(&t), glocal_dtype::GLOCAL_DTYPE_F16);
        let name = CStr::from_ptr(glocal_transform_kernel(&t)).to_str().unwrap();
        assert!(name.starts_with("f16_f32acc_"), "{name}");
    }
    let x: Vec<f32> = (0..rows * d_in).map(|i| (i % 9) as f32 - 4.0).collect();
    let want = reference(d_in, d_out, &x);
    let mut y = std::vec![f32::NAN; rows * d_out + 3];
    // SAFETY: pointers and lengths describe the vectors above.
    let st = unsafe { glocal_apply_f32(&t, x.as_ptr(), x.len(), y.as_mut_ptr(), y.len()) };
    assert_eq!(st, GLOCAL_STATUS_OK);
    assert_eq!(&y[..rows * d_out], &want[..]);
    assert!(y[rows * d_out..].iter().all(|v| v.is_nan()), "wrote past rows * d_out");

    // A bitwise copy is a valid transform; wiping the original does not affect it.
    // SAFETY: glocal_transform is plain old data.
    let copy: glocal_transform = unsafe { core::ptr::read(&t) };
    t._opaque = MaybeUninit::zeroed();
    let xh: Vec<u16> = x.iter().map(|&v| glocal_core::f16::from_f32(v).to_bits()).collect();
    let mut yh = std::vec![0u16; rows * d_out];
    // SAFETY: as above.
    unsafe {
        assert_eq!(
            glocal_apply_f16(&t, xh.as_ptr(), xh.len(), yh.as_mut_ptr(), yh.len()),
            GLOCAL_STATUS_NOT_INITIALIZED
        );
        assert_eq!(
            glocal_apply_f16(&copy, xh.as_ptr(), xh.len(), yh.as_mut_ptr(), yh.len()),
            GLOCAL_STATUS_OK
        );
    }
    for (got, want) in yh.iter().zip(&want) {
        assert_eq!(*got, glocal_core::f16::from_f32(*want).to_bits());
    }
    let xb: Vec<u16> = x.iter().map(|&v| glocal_core::bf16::from_f32(v).to_bits()).collect();
    // SAFETY: as above.
    let st = unsafe { glocal_apply_bf16(&copy, xb.as_ptr(), xb.len(), yh.as_mut_ptr(), yh.len()) };
    assert_eq!(st, GLOCAL_STATUS_OK);
    for (got, want) in yh.iter().zip(&want) {
        assert_eq!(*got, glocal_core::bf16::from_f32(*want).to_bits());
    }
}

#[test]
fn errors_leave_y_untouched_and_failed_init_invalidates() {
    let b = blob(WeightDtype::F32, 4, 3);
    let mut t = glocal_transform { _opaque: MaybeUninit::zeroed() };
    let x = [1.0f32; 12];
    let mut y = [7.0f32; 9];
    let apply = |t: &glocal_transform, xl: usize, yl: usize, y: &mut [f32]| {
        // SAFETY: xl <= x.len() and yl <= y.len() in every call below.
        unsafe { glocal_apply_f32(t, x.as_ptr(), xl, y.as_mut_ptr(), yl) }
    };
    assert_eq!(apply(&t, 4, 3, &mut y), GLOCAL_STATUS_NOT_INITIALIZED);
    assert_eq!(init(&mut t, b.as_bytes()), GLOCAL_STATUS_OK);
    assert_eq!(apply(&t, 0, 3, &mut y), GLOCAL_STATUS_INPUT_LENGTH);
    assert_eq!(apply(&t, 5, 3, &mut y), GLOCAL_STATUS_INPUT_LENGTH);
    assert_eq!(apply(&t, 12, 8, &mut y), GLOCAL_STATUS_OUTPUT_LENGTH);
    assert_eq!(y, [7.0; 9]);
    // SAFETY: NULL pointers are part of the contract.
    unsafe {
        assert_eq!(glocal_apply_f32(&t, core::ptr::null(), 4, y.as_mut_ptr(), 3), GLOCAL_STATUS_NULL_POINTER);
        assert_eq!(
            glocal_apply_f32(core::ptr::null(), x.as_ptr(), 4, y.as_mut_ptr(), 3),
            GLOCAL_STATUS_NULL_POINTER
        );
        assert_eq!(
            glocal_transform_init(core::ptr::null_mut(), b.as_bytes().as_ptr(), 1),
            GLOCAL_STATUS_NULL_POINTER
        );
        assert_eq!(glocal_transform_dim_in(core::ptr::null()), 0);
        assert!(glocal_transform_kernel(core::ptr::null()).is_null());
    }
    assert_eq!(y, [7.0; 9]);

    // Overlap: y inside x.
    let mut both = [1.0f32; 16];
    let p = both.as_mut_ptr();
    // SAFETY: both ranges lie inside `both`; the library must refuse before touching them.
    let st = unsafe { glocal_apply_f32(&t, p, 4, p.add(2), 3) };
    assert_eq!(st, GLOCAL_STATUS_BUFFERS_OVERLAP);

    // A corrupt blob invalidates a previously valid transform.
    let mut bad = glocal_core::AlignedBlob::from_bytes(b.as_bytes());
    let last = bad.len() - 1;
    bad.as_bytes_mut()[last] ^= 1;
    assert_eq!(init(&mut t, bad.as_bytes()), GLOCAL_STATUS_BLOB_CHECKSUM_MISMATCH);
    assert_eq!(apply(&t, 4, 3, &mut y), GLOCAL_STATUS_NOT_INITIALIZED);
    // Misaligned blob.
    let shifted = glocal_core::AlignedBlob::from_bytes(&[&[0u8][..], b.as_bytes()].concat());
    let st = init(&mut t, &shifted.as_bytes()[1..]);
    assert_eq!(st, GLOCAL_STATUS_BLOB_MISALIGNED);
}

#[test]
fn uninitialised_storage_is_detected_without_ub() {
    // Storage that was never written by init, with arbitrary (but initialised) bytes. (Truly
    // uninitialised storage can only come from C, where reading it gives an unspecified value.)
    let t = &glocal_transform { _opaque: MaybeUninit::new([0xA5A5_A5A5_A5A5_A5A5; 64]) };
    // SAFETY: `t` is valid storage.
    unsafe {
        assert_eq!(glocal_transform_dim_out(t), 0);
        assert_eq!(glocal_transform_dtype(t), glocal_dtype::GLOCAL_DTYPE_NONE);
        assert_eq!(glocal_transform_measured_error(t), -1.0);
    }
}

#[test]
fn measured_error_getter() {
    let (d_in, d_out) = (9, 7);
    let mut b = blob(WeightDtype::Bf16, d_in, d_out);
    let mut t = glocal_transform { _opaque: MaybeUninit::zeroed() };
    // Packed without a measurement: none recorded.
    assert_eq!(init(&mut t, b.as_bytes()), GLOCAL_STATUS_OK);
    // SAFETY: `t` is initialised storage; NULL is allowed.
    unsafe {
        assert_eq!(glocal_transform_measured_error(&t), -1.0);
        assert_eq!(glocal_transform_measured_error(core::ptr::null()), -1.0);
    }
    let weights = (0..d_in * d_out).map(|i| ((i * 5 % 7) as f64 - 3.0) / 4.0).collect();
    let bias = Some((0..d_out).map(|j| j as f64 / 2.0).collect());
    let source = pack::Source { d_in, d_out, weights, bias, mean: 1.0, std: 2.0 };
    let probe = pack::measure::random_probe(d_in, 1.0, 2.0, 4);
    let rec =
        pack::measure::measure_and_record(&mut b, &source, &probe, glocal_core::format::ProbeKind::Random)
            .unwrap();
    assert_eq!(init(&mut t, b.as_bytes()), GLOCAL_STATUS_OK);
    // SAFETY: as above.
    unsafe { assert_eq!(glocal_transform_measured_error(&t), rec.error) };
    // A corrupt record (NaN, checksum recomputed) is its own status, and leaves no transform.
    let mut bad = b.clone();
    let at = glocal_core::format::offsets::MEASURED_ERROR;
    bad.as_bytes_mut()[at..at + 4].copy_from_slice(&f32::NAN.to_le_bytes());
    let crc = glocal_core::format::checksum(bad.as_bytes());
    bad.as_bytes_mut()[glocal_core::format::offsets::CRC..][..4].copy_from_slice(&crc.to_le_bytes());
    assert_eq!(init(&mut t, bad.as_bytes()), GLOCAL_STATUS_BLOB_BAD_ERROR_RECORD);
    // SAFETY: as above.
    unsafe { assert_eq!(glocal_transform_measured_error(&t), -1.0) };
}

#[test]
#[cfg_attr(miri, ignore = "mmap is a foreign call Miri cannot run")]
fn mapped_open_apply_close() {
    let b = blob(WeightDtype::Bf16, 8, 20);
    let dir = std::env::temp_dir().join(std::format!("glocal-ffi-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("t.glw");
    std::fs::write(&path, b.as_bytes()).unwrap();
    let cpath = std::ffi::CString::new(path.to_str().unwrap()).unwrap();
    let mut m: *mut glocal_mapped = core::ptr::null_mut();
    // SAFETY: valid C string and out pointer; the handle is closed once.
    unsafe {
        assert_eq!(glocal_mapped_open(cpath.as_ptr(), &mut m), GLOCAL_STATUS_OK);
        let t = glocal_mapped_transform(m);
        assert_eq!((glocal_transform_dim_in(t), glocal_transform_dim_out(t)), (8, 20));
        let x = [2.0f32; 16];
        let mut y = [0.0f32; 40];
        assert_eq!(glocal_apply_f32(t, x.as_ptr(), 16, y.as_mut_ptr(), 40), GLOCAL_STATUS_OK);
        assert_eq!(&y[..], &reference(8, 20, &x)[..]);
        glocal_mapped_close(m);
        glocal_mapped_close(core::ptr::null_mut());
        let missing = std::ffi::CString::new(dir.join("missing.glw").to_str().unwrap()).unwrap();
        assert_eq!(glocal_mapped_open(missing.as_ptr(), &mut m), GLOCAL_STATUS_FILE_OPEN_FAILED);
        assert!(m.is_null());
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn apply_ex_normalises_rows_and_refuses_unknown_flags() {
    let (d_in, d_out, rows) = (19, 17, 4);
    let b = blob(WeightDtype::F32, d_in, d_out);
    let mut t = glocal_transform { _opaque: MaybeUninit::zeroed() };
    assert_eq!(init(&mut t, b.as_bytes()), GLOCAL_STATUS_OK);
    let x: Vec<f32> = (0..rows * d_in).map(|i| (i % 9) as f32 - 4.0).collect();
    let want = reference(d_in, d_out, &x);
    let ex = |x: &[f32], y: &mut [f32], flags: u32| {
        // SAFETY: pointers and lengths describe the slices.
        unsafe { glocal_apply_f32_ex(&t, x.as_ptr(), x.len(), y.as_mut_ptr(), y.len(), flags) }
    };
    let mut y = std::vec![f32::NAN; rows * d_out];
    assert_eq!(ex(&x, &mut y, 0), GLOCAL_STATUS_OK);
    assert_eq!(y, want, "flags = 0 is the plain call");
    assert_eq!(ex(&x, &mut y, GLOCAL_APPLY_L2_NORMALIZE), GLOCAL_STATUS_OK);
    for (got, plain) in y.chunks(d_out).zip(want.chunks(d_out)) {
        let n = plain.iter().map(|&v| v as f64 * v as f64).sum::<f64>().sqrt();
        for (g, p) in got.iter().zip(plain) {
            let w = *p as f64 / n;
            assert!(
                (*g as f64 - w).abs() <= (d_out + 4) as f64 * f32::EPSILON as f64 * w.abs(),
                "{g} vs {w}"
            );
        }
    }
    // Unknown bits: refused first (even before a NULL transform), y untouched.
    let before = y.clone();
    for flags in [2, 1 << 31, u32::MAX, GLOCAL_APPLY_L2_NORMALIZE | 4] {
        assert_eq!(ex(&x, &mut y, flags), GLOCAL_STATUS_UNKNOWN_FLAGS);
        // SAFETY: NULL pointers are part of the contract.
        let st = unsafe {
            glocal_apply_f16_ex(core::ptr::null(), core::ptr::null(), 0, core::ptr::null_mut(), 0, flags)
        };
        assert_eq!(st, GLOCAL_STATUS_UNKNOWN_FLAGS);
    }
    assert_eq!(
        y.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
        before.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
    );
    // A zero output row stays zero: an all-zero input through a transform without bias.
    let source = pack::Source {
        d_in: 2,
        d_out: 2,
        weights: std::vec![1.0, 0.0, 0.0, 1.0],
        bias: None,
        mean: 0.0,
        std: 1.0,
    };
    let id = pack::pack(&source, WeightDtype::Bf16, "id", "").unwrap();
    assert_eq!(init(&mut t, id.as_bytes()), GLOCAL_STATUS_OK);
    let xb: Vec<u16> =
        [3.0f32, 4.0, 0.0, 0.0].iter().map(|&v| glocal_core::bf16::from_f32(v).to_bits()).collect();
    let mut yb = [0xFFFFu16; 4];
    // SAFETY: as above.
    let st =
        unsafe { glocal_apply_bf16_ex(&t, xb.as_ptr(), 4, yb.as_mut_ptr(), 4, GLOCAL_APPLY_L2_NORMALIZE) };
    assert_eq!(st, GLOCAL_STATUS_OK);
    let got: Vec<f32> = yb.iter().map(|&h| glocal_core::bf16::from_bits(h).to_f32()).collect();
    assert_eq!(
        got,
        [glocal_core::bf16::from_f32(0.6).to_f32(), glocal_core::bf16::from_f32(0.8).to_f32(), 0.0, 0.0]
    );
}

#[test]
fn quantized_weight_blobs_work_through_the_same_functions() {
    let (d_in, d_out) = (19, 17);
    for (dtype, code, prefix) in [
        (WeightDtype::I8d, glocal_dtype::GLOCAL_DTYPE_I8D, "i8d_f32acc_"),
        (WeightDtype::Q8, glocal_dtype::GLOCAL_DTYPE_Q8, "q8_i32acc_"),
    ] {
        let b = blob(dtype, d_in, d_out);
        let mut t = glocal_transform { _opaque: MaybeUninit::zeroed() };
        assert_eq!(init(&mut t, b.as_bytes()), GLOCAL_STATUS_OK);
        // SAFETY: `t` is initialised.
        unsafe {
            assert_eq!(glocal_transform_dtype(&t), code);
            let name = CStr::from_ptr(glocal_transform_kernel(&t)).to_str().unwrap();
            assert!(name.starts_with(prefix), "{name}");
        }
        let x: Vec<f32> = (0..2 * d_in).map(|i| (i % 9) as f32 - 4.0).collect();
        let want = reference(d_in, d_out, &x);
        let mut y = std::vec![f32::NAN; 2 * d_out];
        // SAFETY: pointers and lengths describe the vectors.
        let st = unsafe { glocal_apply_f32(&t, x.as_ptr(), x.len(), y.as_mut_ptr(), y.len()) };
        assert_eq!(st, GLOCAL_STATUS_OK);
        // The issues' bound for both: 8e-3 of max |y_ref| (the C test replays i8d exactly).
        let max = want.iter().fold(0f32, |m, v| m.max(v.abs()));
        for (g, w) in y.iter().zip(&want) {
            assert!((g - w).abs() <= 8e-3 * max, "{dtype}: {g} vs {w}");
        }
        // The same inputs as int8 with scale 1: the same bits, whatever the weights.
        let xq: Vec<i8> = x.iter().map(|&v| v as i8).collect();
        let mut yq = std::vec![f32::NAN; 2 * d_out];
        // SAFETY: pointers and lengths describe the vectors.
        let st = unsafe { glocal_apply_s8(&t, xq.as_ptr(), xq.len(), 1.0, 0, yq.as_mut_ptr(), yq.len()) };
        assert_eq!(st, GLOCAL_STATUS_OK);
        assert_eq!(yq, y, "{dtype}");
    }
}

#[test]
fn apply_ws_matches_apply_ex_and_checks_the_workspace() {
    let (d_in, d_out, rows) = (19, 17, 40);
    let b = blob(WeightDtype::F32, d_in, d_out);
    let mut t = glocal_transform { _opaque: MaybeUninit::zeroed() };
    // SAFETY: NULL and zeroed (never initialised) storage are part of the contract.
    unsafe {
        assert_eq!(glocal_workspace_len(core::ptr::null(), rows), 0);
        assert_eq!(glocal_workspace_len(&t, rows), 0, "uninitialised storage");
    }
    assert_eq!(init(&mut t, b.as_bytes()), GLOCAL_STATUS_OK);
    // SAFETY: `t` is initialised.
    let (len, kernel) = unsafe {
        (glocal_workspace_len(&t, rows), CStr::from_ptr(glocal_transform_kernel(&t)).to_str().unwrap())
    };
    // Packing is the x86_64 kernels' (not Miri's scalar one): 40 rows, 40 * d_in floats.
    let packs = kernel.contains("avx2") || kernel.contains("avx512");
    assert_eq!(len, if packs { rows * d_in } else { 0 }, "{kernel}");
    let x: Vec<f32> = (0..rows * d_in).map(|i| (i % 9) as f32 - 4.0).collect();
    let ws_call = |x: &[f32], y: &mut [f32], flags: u32, ws: *mut f32, ws_len: usize| {
        // SAFETY: x and y describe the slices; ws is NULL or points to ws_len floats (below).
        unsafe { glocal_apply_f32_ws(&t, x.as_ptr(), x.len(), y.as_mut_ptr(), y.len(), flags, ws, ws_len) }
    };
    for flags in [0, GLOCAL_APPLY_L2_NORMALIZE] {
        let mut want = std::vec![f32::NAN; rows * d_out];
        // SAFETY: pointers and lengths describe the vectors.
        let st =
            unsafe { glocal_apply_f32_ex(&t, x.as_ptr(), x.len(), want.as_mut_ptr(), want.len(), flags) };
        assert_eq!(st, GLOCAL_STATUS_OK);
        for ws_len in [len, len + 3, len.saturating_sub(1), 0] {
            let mut ws = std::vec![f32::NAN; ws_len];
            let mut y = std::vec![f32::NAN; rows * d_out];
            assert_eq!(ws_call(&x, &mut y, flags, ws.as_mut_ptr(), ws_len), GLOCAL_STATUS_OK);
            assert_eq!(y, want, "workspace of {ws_len}, flags {flags}");
        }
        let mut y = std::vec![f32::NAN; rows * d_out];
        assert_eq!(ws_call(&x, &mut y, flags, core::ptr::null_mut(), 0), GLOCAL_STATUS_OK);
        assert_eq!(y, want, "NULL workspace of 0");
    }
    // A workspace the kernel would use must be non-NULL, aligned and disjoint from x and y;
    // on refusal nothing is written. (Only checked where the kernel packs.)
    if len > 0 {
        let mut y = std::vec![7.0f32; rows * d_out];
        assert_eq!(ws_call(&x, &mut y, 0, core::ptr::null_mut(), len), GLOCAL_STATUS_NULL_POINTER);
        let mut raw = std::vec![0u8; len * 4 + 8];
        let odd = raw.as_mut_ptr().wrapping_add(1).cast::<f32>();
        assert_eq!(ws_call(&x, &mut y, 0, odd, len), GLOCAL_STATUS_MISALIGNED_POINTER);
        let mut both = std::vec![0f32; rows * d_in + len];
        let (xb, wb) = both.split_at_mut(rows * d_in);
        xb.copy_from_slice(&x);
        // The workspace starts one float inside x.
        let inside = wb.as_mut_ptr().wrapping_sub(1);
        // SAFETY: xb, y describe live buffers; `inside` points to len floats within `both`.
        let st = unsafe {
            glocal_apply_f32_ws(&t, xb.as_ptr(), xb.len(), y.as_mut_ptr(), y.len(), 0, inside, len)
        };
        assert_eq!(st, GLOCAL_STATUS_BUFFERS_OVERLAP);
        let mut yw = std::vec![0f32; rows * d_out + len];
        let (yb, wy) = yw.split_at_mut(rows * d_out);
        let into_y = wy.as_mut_ptr().wrapping_sub(2);
        // SAFETY: as above, with the workspace starting two floats inside y.
        let st = unsafe {
            glocal_apply_f32_ws(&t, x.as_ptr(), x.len(), yb.as_mut_ptr(), yb.len(), 0, into_y, len)
        };
        assert_eq!(st, GLOCAL_STATUS_BUFFERS_OVERLAP);
        assert!(y.iter().all(|&v| v == 7.0), "y written on error");
    }
    // The 16-bit forms: the same bits as their _ex functions.
    let x16: Vec<u16> = x.iter().map(|&v| glocal_core::f16::from_f32(v).to_bits()).collect();
    let xb16: Vec<u16> = x.iter().map(|&v| glocal_core::bf16::from_f32(v).to_bits()).collect();
    type Ex = unsafe extern "C" fn(
        *const glocal_transform,
        *const u16,
        usize,
        *mut u16,
        usize,
        u32,
    ) -> glocal_status;
    type Ws = unsafe extern "C" fn(
        *const glocal_transform,
        *const u16,
        usize,
        *mut u16,
        usize,
        u32,
        *mut f32,
        usize,
    ) -> glocal_status;
    let forms: [(&str, Ex, Ws, &[u16]); 2] = [
        ("f16", glocal_apply_f16_ex, glocal_apply_f16_ws, &x16),
        ("bf16", glocal_apply_bf16_ex, glocal_apply_bf16_ws, &xb16),
    ];
    let mut ws = std::vec![0f32; len];
    for (name, ex, with_ws, xh) in forms {
        let (mut a, mut b2) = (std::vec![0u16; rows * d_out], std::vec![1u16; rows * d_out]);
        // SAFETY: pointers and lengths describe the vectors above.
        unsafe {
            assert_eq!(ex(&t, xh.as_ptr(), xh.len(), a.as_mut_ptr(), a.len(), 0), GLOCAL_STATUS_OK);
            let st = with_ws(&t, xh.as_ptr(), xh.len(), b2.as_mut_ptr(), b2.len(), 0, ws.as_mut_ptr(), len);
            assert_eq!(st, GLOCAL_STATUS_OK);
        }
        assert_eq!(a, b2, "{name}");
    }
}

#[test]
fn apply_s8_u8_match_apply_f32_on_dequantized_rows_and_check_their_arguments() {
    let (d_in, d_out, rows) = (19, 17, 3);
    for dtype in [WeightDtype::F32, WeightDtype::I8d] {
        let b = blob(dtype, d_in, d_out);
        let mut t = glocal_transform { _opaque: MaybeUninit::zeroed() };
        assert_eq!(init(&mut t, b.as_bytes()), GLOCAL_STATUS_OK);
        let qs: Vec<i8> = (0..rows * d_in).map(|i| ((i * 37 + 11) % 256) as i32 as u8 as i8).collect();
        let qu: Vec<u8> = (0..rows * d_in).map(|i| ((i * 53 + 3) % 256) as u8).collect();
        for (scale, zs, zu) in [(0.5f32, -128, 255), (0.07, 3, 128)] {
            let xs: Vec<f32> = qs.iter().map(|&q| ((q as i32 - zs) as f32) * scale).collect();
            let xu: Vec<f32> = qu.iter().map(|&q| ((q as i32 - zu) as f32) * scale).collect();
            let (mut want_s, mut want_u) = (std::vec![0f32; rows * d_out], std::vec![0f32; rows * d_out]);
            let (mut ys, mut yu) =
                (std::vec![f32::NAN; rows * d_out + 1], std::vec![f32::NAN; rows * d_out + 1]);
            // SAFETY: pointers and lengths describe the vectors; `t` is initialised.
            unsafe {
                let n = rows * d_out;
                assert_eq!(
                    glocal_apply_f32(&t, xs.as_ptr(), xs.len(), want_s.as_mut_ptr(), n),
                    GLOCAL_STATUS_OK
                );
                assert_eq!(
                    glocal_apply_f32(&t, xu.as_ptr(), xu.len(), want_u.as_mut_ptr(), n),
                    GLOCAL_STATUS_OK
                );
                let st = glocal_apply_s8(&t, qs.as_ptr(), qs.len(), scale, zs, ys.as_mut_ptr(), ys.len());
                assert_eq!(st, GLOCAL_STATUS_OK);
                let st = glocal_apply_u8(&t, qu.as_ptr(), qu.len(), scale, zu, yu.as_mut_ptr(), yu.len());
                assert_eq!(st, GLOCAL_STATUS_OK);
            }
            let bits = |v: &[f32]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&ys[..rows * d_out]), bits(&want_s), "{dtype} s8 scale {scale}");
            assert_eq!(bits(&yu[..rows * d_out]), bits(&want_u), "{dtype} u8 scale {scale}");
            assert!(ys[rows * d_out].is_nan() && yu[rows * d_out].is_nan(), "wrote past rows * d_out");
            // Real values: within f32 rounding (f32 blob) or the i8d bound of the reference.
            let want = reference(d_in, d_out, &xs);
            let max = want.iter().fold(0f32, |m, v| m.max(v.abs()));
            let tol = if dtype == WeightDtype::F32 { 1e-5 } else { 8e-3 };
            assert!(ys.iter().zip(&want).all(|(g, w)| (g - w).abs() <= tol * max), "{dtype}");
        }

        // Errors: each status, nothing written.
        let mut y = std::vec![-1.5f32; 2 * d_out];
        let q = std::vec![0i8; 2 * d_in];
        let call_s = |t: *const glocal_transform, x: *const i8, xl, s, z, y: *mut f32, yl| {
            // SAFETY: x/y are NULL or describe the vectors (lengths never beyond them).
            unsafe { glocal_apply_s8(t, x, xl, s, z, y, yl) }
        };
        let call_u = |t: *const glocal_transform, x: *const i8, xl, s, z, y: *mut f32, yl| {
            // SAFETY: as above; u8 and i8 have the same size and alignment.
            unsafe { glocal_apply_u8(t, x.cast(), xl, s, z, y, yl) }
        };
        let yp = y.as_mut_ptr();
        for (call, zmin, zmax) in
            [(&call_s as &dyn Fn(_, _, _, _, _, _, _) -> _, -128, 127), (&call_u, 0, 255)]
        {
            assert_eq!(
                call(core::ptr::null(), q.as_ptr(), d_in, 1.0, 0, yp, d_out),
                GLOCAL_STATUS_NULL_POINTER
            );
            assert_eq!(call(&t, core::ptr::null(), d_in, 1.0, 0, yp, d_out), GLOCAL_STATUS_NULL_POINTER);
            assert_eq!(
                call(&t, q.as_ptr(), d_in, 1.0, 0, core::ptr::null_mut(), d_out),
                GLOCAL_STATUS_NULL_POINTER
            );
            for s in [0.0, -0.0, -2.0, f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
                assert_eq!(call(&t, q.as_ptr(), d_in, s, 0, yp, d_out), GLOCAL_STATUS_BAD_INPUT_SCALE, "{s}");
            }
            for z in [zmin - 1, zmax + 1, i32::MIN, i32::MAX] {
                assert_eq!(
                    call(&t, q.as_ptr(), d_in, 1.0, z, yp, d_out),
                    GLOCAL_STATUS_BAD_INPUT_ZERO_POINT,
                    "{z}"
                );
            }
            assert_eq!(call(&t, q.as_ptr(), 0, 1.0, 0, yp, d_out), GLOCAL_STATUS_INPUT_LENGTH);
            assert_eq!(call(&t, q.as_ptr(), d_in + 1, 1.0, 0, yp, 2 * d_out), GLOCAL_STATUS_INPUT_LENGTH);
            assert_eq!(
                call(&t, q.as_ptr(), 2 * d_in, 1.0, 0, yp, 2 * d_out - 1),
                GLOCAL_STATUS_OUTPUT_LENGTH
            );
            // SAFETY: one past the start of y, inside it: only its alignment is checked.
            let yo = unsafe { yp.cast::<u8>().add(1) }.cast::<f32>();
            assert_eq!(call(&t, q.as_ptr(), d_in, 1.0, 0, yo, d_out), GLOCAL_STATUS_MISALIGNED_POINTER);
            assert_eq!(call(&t, yp.cast::<i8>(), d_in, 1.0, 0, yp, d_out), GLOCAL_STATUS_BUFFERS_OVERLAP);
        }
        assert!(y.iter().all(|&v| v == -1.5), "y written on error");
        let mut zeroed = glocal_transform { _opaque: MaybeUninit::zeroed() };
        assert_eq!(call_s(&mut zeroed, q.as_ptr(), d_in, 1.0, 0, yp, d_out), GLOCAL_STATUS_NOT_INITIALIZED);
    }
}
