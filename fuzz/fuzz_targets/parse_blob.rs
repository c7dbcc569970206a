//! Arbitrary bytes as a blob: validation must never panic, and every blob it accepts must
//! apply exactly as an independent decoding of the same bytes says.
//!
//! The first byte picks a mode, the rest is the blob:
//! - even: the bytes as given (checksum and all);
//! - odd: the checksum field is recomputed first, so mutations of header fields and payload
//!   reach the field checks and the kernels instead of stopping at the CRC.
//!
//! Every input is validated at three addresses: where libFuzzer put it, 64-byte aligned, and
//! 64-byte aligned plus one (always `Error::Misaligned` when the rest would be accepted).

#![no_main]

use glocal::format::{self, Header};
use glocal::{AlignedBlob, Error, Transform, WeightDtype};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, bytes)) = data.split_first() else { return };
    let mut aligned = AlignedBlob::from_bytes(bytes);
    if mode & 1 == 1 && aligned.len() >= format::HEADER_LEN {
        let crc = format::checksum(aligned.as_bytes());
        aligned.as_bytes_mut()[format::offsets::CRC..][..4].copy_from_slice(&crc.to_le_bytes());
    }
    let blob = aligned.as_bytes();

    // Header checks alone (they need no alignment).
    let validated = Header::validate_blob(blob);
    if let Ok(h) = &validated {
        assert_eq!(Header::parse(blob).as_ref(), Ok(h), "validate_blob accepted what parse rejects");
    }
    // In place, at whatever address libFuzzer gave: agrees with the aligned copy, or fails
    // only because of the address.
    if mode & 1 == 0 {
        // (compared as text: an error may carry a NaN, which is never equal to itself)
        assert_eq!(format!("{:?}", Header::validate_blob(bytes)), format!("{validated:?}"));
        match (Transform::new(bytes), &validated) {
            (Ok(t), Ok(h)) => assert_eq!(t.header(), h),
            (Ok(_), Err(e)) => panic!("accepted in place, rejected aligned: {e}"),
            (Err(Error::Misaligned { .. }), _) => {}
            (Err(e), Ok(_)) => panic!("rejected in place ({e}) but valid aligned"),
            (Err(_), Err(_)) => {}
        }
    }

    // Misaligned by one: never Ok.
    let mut shifted = AlignedBlob::zeroed(blob.len() + 1);
    shifted.as_bytes_mut()[1..].copy_from_slice(blob);
    match Transform::new(&shifted.as_bytes()[1..]) {
        Ok(_) => panic!("a blob at an odd address was accepted"),
        Err(e) => {
            let _ = e.to_string();
        }
    }

    match Transform::new(blob) {
        Err(e) => {
            assert!(validated.is_err() || matches!(e, Error::KernelUnavailable { .. }), "{e}");
            let _ = e.to_string();
        }
        Ok(t) => {
            let h = validated.expect("Transform::new accepted a blob validate_blob rejects");
            assert_eq!(t.header(), &h);
            check_apply(&t, blob, &h);
        }
    }
});

/// Decodes weight `[k][j]` and bias `j` straight from the bytes (independently of the
/// crate's panel view) and checks `apply` against the f64 sum of the same values.
fn check_apply(t: &Transform<'_>, blob: &[u8], h: &Header) {
    if h.dtype == WeightDtype::Q8 {
        return check_q8(t, blob, h);
    }
    let (d_in, d_out) = (h.d_in as usize, h.d_out as usize);
    let l = h.layout;
    let es = h.dtype.size();
    let plain = |w: f64| (w, w.abs());
    // (value, magnitude): an i8d weight is two terms, int8 x scale and the diagonal, which the
    // kernel rounds separately, so its error bound scales with |q x scale| + |diag|, not with
    // their (possibly cancelling) sum.
    let weight = |k: usize, j: usize| -> (f64, f64) {
        let at = l.weights_offset as usize + (j / 16) * l.panel_stride as usize + (k * 16 + j % 16) * es;
        let b = &blob[at..at + es];
        match h.dtype {
            WeightDtype::F32 => plain(f32::from_le_bytes([b[0], b[1], b[2], b[3]]) as f64),
            WeightDtype::F16 => plain(glocal::f16::from_le_bytes([b[0], b[1]]).to_f64()),
            WeightDtype::Bf16 => plain(f32::from_bits((u16::from_le_bytes([b[0], b[1]]) as u32) << 16) as f64),
            WeightDtype::I8d => {
                // int8 times the input row's f32 scale, plus the f32 diagonal (docs/FORMAT.md).
                let f32_at = |at: usize| f32::from_le_bytes(blob[at..at + 4].try_into().unwrap()) as f64;
                let aux = l.aux_offset as usize;
                let scale = f32_at(aux + 4 * k);
                let diag = if k == j { f32_at(aux + 4 * (d_in.div_ceil(16) * 16 + j)) } else { 0.0 };
                let quantized = b[0] as i8 as f64 * scale;
                (quantized + diag, quantized.abs() + diag.abs())
            }
            // q8 is checked bit for bit by check_q8.
            _ => unreachable!("new dtype: extend the fuzzer"),
        }
    };
    // i8d forms x * scale[k] first (then times int8 q). Validation bounds every scale by
    // I8D_MAX_SCALE = 2^120 (and the diagonal to finite values), so with |x| <= 5 below that
    // product is always a finite f32 and needs no guard of its own: check the bound holds.
    if h.dtype == WeightDtype::I8d {
        let f32_at = |at: usize| f32::from_le_bytes(blob[at..at + 4].try_into().unwrap());
        let aux = l.aux_offset as usize;
        for k in 0..d_in {
            let s = f32_at(aux + 4 * k);
            assert!((0.0..=format::I8D_MAX_SCALE).contains(&s), "accepted scale[{k}] = {s:e}");
        }
        for j in 0..d_in.min(d_out) {
            let d = f32_at(aux + 4 * (d_in.div_ceil(16) * 16 + j));
            assert!(d.is_finite(), "accepted diag[{j}] = {d:e}");
        }
    }
    let bias = |j: usize| -> f64 {
        let at = l.bias_offset as usize + j * 4;
        f32::from_le_bytes(blob[at..at + 4].try_into().unwrap()) as f64
    };
    // Keep the work per input bounded: large blobs are checked on their first columns only
    // through a 1-row apply (still the whole kernel path).
    if d_in * d_out > 1 << 16 {
        return;
    }
    let rows = 5; // one full 4-row tile plus a tail row
    let x: Vec<f32> = (0..rows * d_in).map(|i| ((i * 7 + 3) % 11) as f32 - 5.0).collect();
    let mut y = vec![f32::NAN; rows * d_out];
    assert_eq!(t.apply(&x, &mut y), Ok(rows));
    for r in 0..rows {
        for j in 0..d_out {
            let (mut sum, mut mag) = (bias(j), bias(j).abs());
            for k in 0..d_in {
                let (w, w_mag) = weight(k, j);
                sum += x[r * d_in + k] as f64 * w;
                mag += (x[r * d_in + k] as f64).abs() * w_mag;
            }
            let got = y[r * d_out + j];
            if sum.is_nan() {
                assert!(got.is_nan(), "row {r} col {j}: expected NaN, got {got}");
            } else if mag < 1e30 {
                let tol = mag * (d_in as f64 + 2.0) * f32::EPSILON as f64 + 1e-37;
                assert!(
                    (got as f64 - sum).abs() <= tol,
                    "row {r} col {j}: got {got}, expected {sum} (tol {tol}), kernel {}",
                    t.kernel().name
                );
            }
        }
    }
}

/// q8 is exact by definition (docs/FORMAT.md): decode the bytes independently, quantize the
/// inputs by the documented formula, sum in i64 and compare `apply` bit for bit.
fn check_q8(t: &Transform<'_>, blob: &[u8], h: &Header) {
    let (d_in, d_out) = (h.d_in as usize, h.d_out as usize);
    let l = h.layout;
    if d_in * d_out > 1 << 16 {
        return;
    }
    let f32_at = |at: usize| f32::from_le_bytes(blob[at..at + 4].try_into().unwrap());
    let aux = l.aux_offset as usize;
    let scale = |k: usize| f32_at(aux + 4 * k);
    let diag = |j: usize| f32_at(aux + 4 * (d_in.div_ceil(16) * 16 + j));
    let q = |k: usize, j: usize| {
        let at = l.weights_offset as usize + (j / 16) * l.panel_stride as usize + (k / 4) * 64 + (j % 16) * 4 + k % 4;
        blob[at] as i8 as i64
    };
    for k in 0..d_in {
        assert!((0.0..=format::Q8_MAX_SCALE).contains(&scale(k)), "accepted scale[{k}] = {:e}", scale(k));
    }
    let rows = 3;
    let x: Vec<f32> = (0..rows * d_in).map(|i| ((i * 7 + 3) % 11) as f32 - 5.0).collect();
    let mut y = vec![f32::NAN; rows * d_out];
    assert_eq!(t.apply(&x, &mut y), Ok(rows));
    for (r, row) in x.chunks_exact(d_in).enumerate() {
        let a: Vec<f32> = (0..d_in).map(|k| row[k] * scale(k)).collect();
        let amax = a.iter().fold(0f32, |m, v| m.max(v.abs()));
        let ratio = 2047.0 / amax;
        let act: Vec<i64> = a
            .iter()
            .map(|&v| {
                if amax == 0.0 {
                    0
                } else {
                    (if ratio.is_finite() { v * ratio } else { v / amax * 2047.0 }).round_ties_even() as i64
                }
            })
            .collect();
        let step = amax / 2047.0;
        for j in 0..d_out {
            let acc: i64 = (0..d_in).map(|k| act[k] * q(k, j)).sum();
            assert!(acc.abs() < 1 << 31, "q8 sum {acc} beyond int32");
            let bias = f32_at(l.bias_offset as usize + 4 * j);
            let diag_term = if j < d_in { diag(j) * row[j] } else { 0.0 };
            let want = (bias + acc as f32 * step) + diag_term;
            let got = y[r * d_out + j];
            assert!(got.to_bits() == want.to_bits() || (got.is_nan() && want.is_nan()), "q8 y[{r}][{j}] = {got:e}, want {want:e}");
        }
    }
}
