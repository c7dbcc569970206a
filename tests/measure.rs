//! `glocal::pack::measure`: the default probe, the error metric against an independent f64
//! oracle, the record written into the header, and every way a measurement is refused.

mod common;

use glocal::format::{offsets, ErrorRecord, Header, ProbeKind, FLAG_ERROR_RECORDED};
use glocal::pack::measure::{self, MeasureError, DEFAULT_PROBE_ROWS};
use glocal::pack::{self, PackError, Source};
use glocal::{Error, Transform, WeightDtype};

/// A dense, non-diagonal transform with a bias: weights from a fixed LCG in [-0.5, 0.5).
fn dense(d_in: usize, d_out: usize) -> Source {
    let mut s = 0x1234_5678_u64;
    let mut next = || {
        s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (s >> 11) as f64 / (1u64 << 53) as f64 - 0.5
    };
    let weights = (0..d_in * d_out).map(|_| next()).collect();
    let bias = Some((0..d_out).map(|_| next()).collect());
    Source { d_in, d_out, weights, bias, mean: 0.3, std: 1.7 }
}

/// The metric, computed here independently: thingsvision's formula row by row in f64.
fn oracle_error(s: &Source, x: &[f32], y: &[f32]) -> f64 {
    let (mut diff, mut scale) = (0.0f64, 0.0f64);
    for (r, xr) in x.chunks(s.d_in).enumerate() {
        for j in 0..s.d_out {
            let mut acc = s.bias.as_ref().map_or(0.0, |b| b[j]);
            for (k, &xk) in xr.iter().enumerate() {
                acc += (xk as f64 - s.mean) / s.std * s.weights[k * s.d_out + j];
            }
            diff = diff.max((y[r * s.d_out + j] as f64 - acc).abs());
            scale = scale.max(acc.abs());
        }
    }
    diff / scale
}

#[test]
fn random_probe_is_fixed_and_standard_normal_after_normalisation() {
    let (d_in, mean, std) = (512, -0.25, 3.0);
    let x = measure::random_probe(d_in, mean, std, DEFAULT_PROBE_ROWS);
    assert_eq!(x.len(), 64 * 512);
    assert_eq!(x, measure::random_probe(d_in, mean, std, DEFAULT_PROBE_ROWS));
    // A shorter probe is a prefix of a longer one (odd lengths included).
    assert_eq!(measure::random_probe(3, mean, std, 3)[..], x[..9]);
    // Pinned: a changed generator changes every recorded number, so it must be deliberate.
    let z: Vec<f64> = x.iter().map(|&v| (v as f64 - mean) / std).collect();
    let head: Vec<String> = z[..4].iter().map(|v| format!("{v:.6}")).collect();
    assert_eq!(head, ["0.364254", "0.837861", "0.440920", "0.475686"], "{head:?}");
    let n = z.len() as f64;
    let m = z.iter().sum::<f64>() / n;
    let sd = (z.iter().map(|v| (v - m) * (v - m)).sum::<f64>() / n).sqrt();
    assert!(m.abs() < 0.02 && (sd - 1.0).abs() < 0.02, "mean {m}, sd {sd}");
    assert!(z.iter().all(|v| v.abs() < 6.0));
}

#[test]
fn measured_error_matches_an_independent_oracle() {
    let s = dense(40, 37);
    let x = measure::random_probe(s.d_in, s.mean, s.std, 9);
    // What each dtype must stay under on this dense, non-diagonal matrix, and at least reach
    // (every dtype but f32 rounds the weights visibly).
    for (dtype, low, high) in [
        (WeightDtype::F32, 1e-9, 4e-6),
        (WeightDtype::F16, 1e-5, 1e-3),
        (WeightDtype::Bf16, 1e-4, 8e-3),
        (WeightDtype::I8d, 1e-4, 2e-2),
    ] {
        let blob = pack::pack(&s, dtype, "dense", "").unwrap();
        let got = measure::measure(&s, blob.as_bytes(), &x).unwrap();
        let t = Transform::new(blob.as_bytes()).unwrap();
        let mut y = vec![0f32; 9 * s.d_out];
        t.apply(&x, &mut y).unwrap();
        let want = oracle_error(&s, &x, &y);
        assert!((got - want).abs() <= 1e-9 * want, "{dtype}: measured {got:e}, oracle {want:e}");
        assert!(low < got && got < high, "{dtype}: {got:e} outside ({low:e}, {high:e})");
    }
}

#[test]
fn measure_and_record_writes_a_valid_header() {
    let s = dense(20, 33);
    for dtype in WeightDtype::ALL {
        let mut blob = pack::pack(&s, dtype, "dense", "m").unwrap();
        let x = measure::random_probe(s.d_in, s.mean, s.std, 5);
        let measured = measure::measure(&s, blob.as_bytes(), &x).unwrap();
        let rec = measure::measure_and_record(&mut blob, &s, &x, ProbeKind::User).unwrap();
        assert_eq!(rec.probe_rows, 5);
        assert_eq!(rec.probe_kind, ProbeKind::User);
        // Rounded up to f32: never below the measurement, at most one f32 step above it.
        assert!(rec.error as f64 >= measured, "{dtype}");
        assert!((f32::from_bits(rec.error.to_bits() - 1) as f64) < measured, "{dtype}");
        // Checksum recomputed after the field was written: the blob loads and reports it.
        let t = Transform::new(blob.as_bytes()).unwrap();
        let h: &Header = t.header();
        assert_ne!(h.flags & FLAG_ERROR_RECORDED, 0);
        assert_eq!(h.measured_error(), Some(rec.error));
        assert_eq!(h.error_record, Some(rec));
        let b = blob.as_bytes();
        assert_eq!(b[offsets::MEASURED_ERROR..][..4], rec.error.to_le_bytes());
        assert_eq!(b[offsets::PROBE_ROWS..][..4], 5u32.to_le_bytes());
        assert_eq!(b[offsets::PROBE_KIND], 2);
        assert_eq!(b[offsets::RESERVED_TAIL..offsets::CRC], [0, 0, 0]);
        // The measurement did not change the payload: it still computes what it did.
        let plain = pack::pack(&s, dtype, "dense", "m").unwrap();
        assert_eq!(b[256..], plain.as_bytes()[256..], "{dtype}");
    }
}

#[test]
fn error_as_f32_rounds_up() {
    assert_eq!(measure::error_as_f32(0.0), 0.0);
    assert_eq!(measure::error_as_f32(0.5), 0.5);
    let e = 1e-3f64; // not an f32
    let r = measure::error_as_f32(e);
    assert!(r as f64 > e && (f32::from_bits(r.to_bits() - 1) as f64) < e);
    let r = measure::error_as_f32(0.1f32 as f64 - 1e-12);
    assert_eq!(r, 0.1f32);
}

#[test]
fn bad_measurements_are_refused() {
    let s = dense(8, 5);
    let blob = pack::pack(&s, WeightDtype::F16, "", "").unwrap();
    let b = blob.as_bytes();
    let x = measure::random_probe(8, s.mean, s.std, 3);
    assert_eq!(measure::measure(&s, b, &[]), Err(MeasureError::ProbeLength { found: 0, d_in: 8 }));
    assert_eq!(measure::measure(&s, b, &x[..12]), Err(MeasureError::ProbeLength { found: 12, d_in: 8 }));
    for v in [f32::NAN, f32::INFINITY] {
        let mut bad = x.clone();
        bad[8 + 2] = v;
        let got = measure::measure(&s, b, &bad);
        assert!(
            matches!(got, Err(MeasureError::NonFiniteProbe { row: 1, col: 2, value }) if value.to_bits() == v.to_bits()),
            "{got:?}"
        );
    }
    // Inputs so large the blob's f32 arithmetic overflows (y_ref, in f64, does not).
    let ones = Source { weights: vec![1.0; 40], bias: None, mean: 0.0, std: 1.0, ..dense(8, 5) };
    let ones_blob = pack::pack(&ones, WeightDtype::F32, "", "").unwrap();
    assert_eq!(measure::measure(&ones, ones_blob.as_bytes(), &[3e38f32; 8]), Err(MeasureError::NotFinite));
    // Rows equal to the mean with no bias: every y_ref is 0, the f16 blob's outputs are not.
    let nb = Source { bias: None, mean: 0.25, ..dense(8, 5) };
    let nb_blob = pack::pack(&nb, WeightDtype::F16, "", "").unwrap();
    assert_eq!(measure::measure(&nb, nb_blob.as_bytes(), &[0.25f32; 16]), Err(MeasureError::ZeroReference));
    // ... while a blob that reproduces them exactly (all-zero transform) measures 0.
    let zero = Source { weights: vec![0.0; 40], ..nb.clone() };
    let zero_blob = pack::pack(&zero, WeightDtype::F16, "", "").unwrap();
    assert_eq!(measure::measure(&zero, zero_blob.as_bytes(), &x), Ok(0.0));
    // A source that is not the blob's, or not valid at all.
    let other = dense(9, 5);
    assert_eq!(
        measure::measure(&other, b, &measure::random_probe(9, 0.0, 1.0, 1)),
        Err(MeasureError::Blob(Error::BadDims { d_in: 8, d_out: 5 }))
    );
    let broken = Source { weights: vec![0.0; 3], ..dense(8, 5) };
    assert_eq!(
        measure::measure(&broken, b, &x),
        Err(MeasureError::Source(PackError::Length { array: "weights", expected: 40, found: 3 }))
    );
    assert!(matches!(
        measure::measure(&s, &b[..300], &x),
        Err(MeasureError::Blob(Error::LengthMismatch { .. }))
    ));
    // Every refusal has a message.
    for e in [MeasureError::ZeroReference, MeasureError::NotFinite] {
        assert!(!e.to_string().is_empty());
    }
}

#[test]
fn record_refuses_what_validation_would_reject() {
    let s = dense(8, 5);
    let mut blob = pack::pack(&s, WeightDtype::F32, "", "").unwrap();
    let before = blob.as_bytes().to_vec();
    for (error, rows, field) in [
        (f32::NAN, 1, "measured_error"),
        (-1e-3, 1, "measured_error"),
        (-0.0, 1, "measured_error"),
        (f32::INFINITY, 1, "measured_error"),
        (1e-3, 0, "probe_rows"),
    ] {
        let rec = ErrorRecord { error, probe_rows: rows, probe_kind: ProbeKind::Random };
        match measure::record(&mut blob, rec) {
            Err(Error::BadErrorRecord { field: f, .. }) => assert_eq!(f, field, "{rec:?}"),
            other => panic!("{rec:?}: {other:?}"),
        }
        assert_eq!(blob.as_bytes(), &before[..], "a refused record changed the blob");
    }
}
