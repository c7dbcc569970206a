//! Similarity helpers against numpy (run at test time by tests/numpy/similarity.py when python3
//! with numpy is installed), against an f64 reference in Rust, and on every edge case.

mod common;

use common::Rng;
use glocal::similarity::{
    cosine, cosine_matrix, l2_norm, l2_normalize_rows, odd_one_out, odd_one_out_from_similarities,
};
use glocal::Error;

/// One f32 ulp at 1.0 is 1.2e-7; f32 dot products over d <= 1024 stay well within this.
const TOL: f64 = 2e-6;

/// f64 cosine, 0 for a zero vector (the documented convention).
fn cosine_f64(a: &[f32], b: &[f32]) -> f64 {
    let (mut ab, mut aa, mut bb) = (0f64, 0f64, 0f64);
    for (&x, &y) in a.iter().zip(b) {
        let (x, y) = (x as f64, y as f64);
        ab += x * y;
        aa += x * x;
        bb += y * y;
    }
    if aa == 0.0 || bb == 0.0 {
        0.0
    } else {
        (ab / (aa.sqrt() * bb.sqrt())).clamp(-1.0, 1.0)
    }
}

/// Synthetic "aligned embeddings": triplets where two items share a direction (plus noise) and
/// the third is independent, in a random position; a few zero rows; mixed scales.
fn synthetic(n_triplets: usize, d: usize, rng: &mut Rng) -> Vec<f32> {
    let mut x = Vec::with_capacity(3 * n_triplets * d);
    for t in 0..n_triplets {
        let base: Vec<f64> = (0..d).map(|_| rng.unit()).collect();
        let odd = rng.int_in(0, 2) as usize;
        let scale = [0.05, 1.0, 30.0][t % 3];
        for i in 0..3 {
            for &b in &base {
                let v = if i == odd { rng.unit() } else { b + 0.3 * rng.unit() };
                x.push((scale * v) as f32);
            }
        }
    }
    x
}

fn le_f64(bytes: &[u8]) -> Vec<f64> {
    bytes.chunks_exact(8).map(|c| f64::from_le_bytes(c.try_into().unwrap())).collect()
}

#[test]
fn against_numpy_at_test_time() {
    let (n_triplets, d) = (40, 77);
    let mut rng = Rng::new(0x5eed_cafe_f00d_1234);
    let mut x = synthetic(n_triplets, d, &mut rng);
    // Row 7 is a zero vector (its triplet's decision is still defined).
    x[7 * d..8 * d].fill(0.0);
    let n = 3 * n_triplets;

    let dir = std::env::temp_dir().join(format!("glocal-sim-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (src, dst) = (dir.join("x.f32"), dir.join("out.bin"));
    std::fs::write(&src, x.iter().flat_map(|v| v.to_le_bytes()).collect::<Vec<u8>>()).unwrap();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/numpy/similarity.py");
    let status = std::process::Command::new("python3")
        .args([script, src.to_str().unwrap(), dst.to_str().unwrap(), &n.to_string(), &d.to_string()])
        .stderr(std::process::Stdio::piped())
        .output();
    let out = match status {
        Ok(o) if o.status.success() => std::fs::read(&dst).unwrap(),
        Ok(o) => {
            let msg = String::from_utf8_lossy(&o.stderr);
            assert!(
                msg.contains("No module named 'numpy'"),
                "tests/numpy/similarity.py failed (not for lack of numpy): {msg}"
            );
            eprintln!("NOTICE: against_numpy_at_test_time skipped: numpy is not installed");
            return;
        }
        Err(e) => {
            eprintln!("NOTICE: against_numpy_at_test_time skipped: python3 not runnable ({e})");
            return;
        }
    };
    std::fs::remove_dir_all(&dir).ok();
    assert_eq!(out.len(), 8 * (n * n + n * d + n_triplets), "numpy output size");
    let cos_np = le_f64(&out[..8 * n * n]);
    let unit_np = le_f64(&out[8 * n * n..8 * (n * n + n * d)]);
    let odd_np: Vec<i64> = out[8 * (n * n + n * d)..]
        .chunks_exact(8)
        .map(|c| i64::from_le_bytes(c.try_into().unwrap()))
        .collect();

    let mut cos = vec![f32::NAN; n * n];
    assert_eq!(cosine_matrix(&x, &x, d, &mut cos).unwrap(), (n, n));
    let mut worst = 0f64;
    for (i, (&g, &w)) in cos.iter().zip(&cos_np).enumerate() {
        let e = (g as f64 - w).abs();
        assert!(e <= TOL, "cosine[{}][{}]: glocal {g}, numpy {w}", i / n, i % n);
        worst = worst.max(e);
    }
    assert_eq!(cos[7 * n + 7], 0.0, "zero row: self-similarity is defined as 0");

    let mut unit = x.clone();
    assert_eq!(l2_normalize_rows(&mut unit, d).unwrap(), n);
    for (i, (&g, &w)) in unit.iter().zip(&unit_np).enumerate() {
        assert!((g as f64 - w).abs() <= 1e-6 * w.abs().max(1e-3), "unit[{}][{}]: {g} vs {w}", i / d, i % d);
    }

    for t in 0..n_triplets {
        let r = |i: usize| &x[(3 * t + i) * d..(3 * t + i + 1) * d];
        let got = odd_one_out(r(0), r(1), r(2)).unwrap();
        assert_eq!(got as i64, odd_np[t], "triplet {t}: glocal {got}, numpy {}", odd_np[t]);
    }
    println!("numpy: {n}x{n} cosine matrix max abs diff {worst:.2e}; {n_triplets} triplets agree");
}

#[test]
fn against_f64_reference() {
    let mut rng = Rng::new(42);
    for &d in &[1usize, 7, 8, 9, 16, 33, 512, 768, 1024] {
        let x = synthetic(4, d, &mut rng);
        let n = 12;
        let mut cos = vec![f32::NAN; n * 5];
        assert_eq!(cosine_matrix(&x, &x[..5 * d], d, &mut cos).unwrap(), (n, 5));
        for i in 0..n {
            for j in 0..5 {
                let want = cosine_f64(&x[i * d..][..d], &x[j * d..][..d]);
                let got = cos[i * 5 + j];
                assert!((got as f64 - want).abs() <= TOL, "d {d} [{i}][{j}]: {got} vs {want}");
                assert_eq!(got, cosine(&x[i * d..][..d], &x[j * d..][..d]).unwrap());
            }
        }
        let mut unit = x.clone();
        l2_normalize_rows(&mut unit, d).unwrap();
        for row in unit.chunks_exact(d) {
            let norm: f64 = row.iter().map(|&v| v as f64 * v as f64).sum::<f64>().sqrt();
            assert!((norm - 1.0).abs() < 1e-6, "d {d}: norm after normalising {norm}");
        }
    }
}

/// Values checked with numpy (float64) once; the inputs are exact in f32.
#[test]
fn numpy_checked_fixture() {
    let x = [
        0.5f32, -1.25, 2.0, 0.0, 3.0, //
        1.0, 1.0, -0.5, 0.25, 2.0, //
        -2.0, 0.75, 1.5, 1.0, -0.5,
    ];
    let want_cos =
        [[1.0, 0.43951536, -0.040034], [0.43951536, 1.0, -0.38547581], [-0.040034, -0.38547581, 1.0]];
    let want_unit = [
        [0.12991396, -0.3247849, 0.51965584, 0.0, 0.77948376],
        [0.39801488, 0.39801488, -0.19900744, 0.09950372, 0.79602975],
        [-0.70436073, 0.26413527, 0.52827054, 0.35218036, -0.17609018],
    ];
    let mut cos = [f32::NAN; 9];
    cosine_matrix(&x, &x, 5, &mut cos).unwrap();
    for i in 0..3 {
        for j in 0..3 {
            assert!((cos[i * 3 + j] as f64 - want_cos[i][j]).abs() < 1e-6, "[{i}][{j}] = {}", cos[i * 3 + j]);
        }
    }
    let mut unit = x;
    l2_normalize_rows(&mut unit, 5).unwrap();
    for (i, row) in unit.chunks_exact(5).enumerate() {
        for (j, &v) in row.iter().enumerate() {
            assert!((v as f64 - want_unit[i][j]).abs() < 1e-7, "unit[{i}][{j}] = {v}");
        }
    }
    // Most similar pair (0, 1) at 0.4395: item 2 is the odd one out.
    assert_eq!(odd_one_out(&x[..5], &x[5..10], &x[10..]).unwrap(), 2);
    // Reordered: the same item wherever it sits.
    assert_eq!(odd_one_out(&x[10..], &x[..5], &x[5..10]).unwrap(), 0);
    assert_eq!(odd_one_out(&x[..5], &x[10..], &x[5..10]).unwrap(), 1);
}

#[test]
fn odd_one_out_ties_follow_pair_order() {
    assert_eq!(odd_one_out_from_similarities(0.5, 0.5, 0.5), Ok(2));
    assert_eq!(odd_one_out_from_similarities(0.1, 0.5, 0.5), Ok(1));
    assert_eq!(odd_one_out_from_similarities(0.5, 0.1, 0.5), Ok(2));
    assert_eq!(odd_one_out_from_similarities(0.1, 0.2, 0.3), Ok(0));
    assert_eq!(odd_one_out_from_similarities(-0.0, 0.0, -1.0), Ok(2), "-0 == +0 is a tie");
    assert_eq!(odd_one_out_from_similarities(f32::NEG_INFINITY, -1.0, -1.0), Ok(1));
    // Three identical vectors: all similarities 1, ties to pair (0,1), so item 2.
    let v = [0.3f32, -0.7, 0.1];
    assert_eq!(odd_one_out(&v, &v, &v), Ok(2));
    // Three zero vectors: all similarities 0 by convention, same tie rule.
    assert_eq!(odd_one_out(&[0.0; 3], &[0.0; 3], &[0.0; 3]), Ok(2));
}

#[test]
fn zero_huge_tiny_and_non_finite_vectors() {
    // Zero rows stay zero, other rows are normalised.
    let mut x = [0.0f32, 0.0, 3.0, -4.0];
    assert_eq!(l2_normalize_rows(&mut x, 2), Ok(2));
    assert_eq!(x, [0.0, 0.0, 0.6, -0.8]);
    assert_eq!(cosine(&[0.0, 0.0], &[1.0, 2.0]), Ok(0.0));
    // Squares overflow f32 (1e30^2) or underflow (1e-30^2): the scaled path keeps exact results.
    for s in [1e30f32, 1e-30, 1e-42] {
        let mut v = [3.0 * s, 4.0 * s];
        assert_eq!(l2_norm(&v), 5.0 * s, "norm at scale {s:e}");
        l2_normalize_rows(&mut v, 2).unwrap();
        assert!((v[0] - 0.6).abs() < 1e-6 && (v[1] - 0.8).abs() < 1e-6, "scale {s:e}: {v:?}");
        let c = cosine(&[3.0 * s, 4.0 * s], &[4.0 * s, 3.0 * s]).unwrap();
        assert!((c - 0.96).abs() < 1e-6, "cosine at scale {s:e}: {c}");
    }
    assert_eq!(cosine(&[f32::MAX, f32::MAX], &[f32::MAX, f32::MAX]), Ok(1.0));
    // NaN or infinity: the row becomes NaN, cosine NaN, the decision an error.
    for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
        let mut v = [1.0f32, bad, 2.0, 2.0, 1.0, 2.0];
        l2_normalize_rows(&mut v, 3).unwrap();
        assert!(v[..3].iter().all(|v| v.is_nan()), "{bad}: {v:?}");
        assert_eq!(&v[3..], &[2.0 / 3.0, 1.0 / 3.0, 2.0 / 3.0], "the other row is unaffected");
        assert!(cosine(&[1.0, bad], &[1.0, 1.0]).unwrap().is_nan());
        assert_eq!(
            odd_one_out(&[1.0, 0.0], &[bad, 1.0], &[1.0, 1.0]),
            Err(Error::NotANumber { what: "similarity (0, 1)" })
        );
    }
    assert_eq!(
        odd_one_out_from_similarities(0.0, 0.0, f32::NAN),
        Err(Error::NotANumber { what: "similarity (1, 2)" })
    );
    let msg = Error::NotANumber { what: "similarity (0, 2)" }.to_string();
    assert!(msg.contains("similarity (0, 2)") && msg.contains("NaN"), "{msg}");
}

#[test]
fn length_errors_leave_buffers_untouched() {
    let mut x = [1.0f32; 6];
    assert_eq!(l2_normalize_rows(&mut x, 4), Err(Error::InputLength { found: 6, d_in: 4 }));
    assert_eq!(l2_normalize_rows(&mut x, 0), Err(Error::InputLength { found: 6, d_in: 0 }));
    assert_eq!(l2_normalize_rows(&mut [], 3), Err(Error::InputLength { found: 0, d_in: 3 }));
    assert_eq!(x, [1.0; 6]);

    let mut out = [f32::NAN; 4];
    assert_eq!(cosine_matrix(&x, &x[..5], 3, &mut out), Err(Error::InputLength { found: 5, d_in: 3 }));
    assert_eq!(cosine_matrix(&[], &x, 3, &mut out), Err(Error::InputLength { found: 0, d_in: 3 }));
    assert_eq!(cosine_matrix(&x, &x, 0, &mut out), Err(Error::InputLength { found: 6, d_in: 0 }));
    assert_eq!(cosine_matrix(&x, &x[..3], 3, &mut out), Err(Error::OutputLength { found: 4, expected: 2 }));
    assert!(out.iter().all(|v| v.is_nan()), "out untouched on error");
    assert_eq!(cosine_matrix(&x, &x, 3, &mut out), Ok((2, 2)));
    assert_eq!(out, [1.0; 4]);

    assert_eq!(cosine(&[1.0], &[1.0, 2.0]), Err(Error::InputLength { found: 2, d_in: 1 }));
    assert_eq!(cosine(&[], &[]), Err(Error::InputLength { found: 0, d_in: 0 }));
    assert_eq!(odd_one_out(&[1.0], &[1.0, 2.0], &[1.0]), Err(Error::InputLength { found: 2, d_in: 1 }));
    assert_eq!(odd_one_out(&[1.0], &[1.0], &[]), Err(Error::InputLength { found: 0, d_in: 1 }));
    assert_eq!(odd_one_out(&[], &[], &[]), Err(Error::InputLength { found: 0, d_in: 0 }));
}
