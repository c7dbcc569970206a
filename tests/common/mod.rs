//! Helpers shared by the integration tests.
#![allow(dead_code)]

pub mod blobs;

use std::path::PathBuf;

/// `../shared` beside the checkout, or `None` after printing a notice (the test then skips).
pub fn shared_dir(test: &str) -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared");
    if dir.join("transforms").is_dir() && dir.join("golden").is_dir() {
        Some(dir)
    } else {
        eprintln!("NOTICE: {test} skipped: ../shared (transforms and golden data) is absent");
        None
    }
}

/// The nine transforms in ../shared: (path under transforms/, golden directory name).
pub const SHARED_TRANSFORMS: [(&str, &str); 9] = [
    ("clip_RN50/visual", "clip_RN50__visual"),
    ("clip_ViT-L/14/visual", "clip_ViT-L_14__visual"),
    ("OpenCLIP_ViT-L-14_laion400m_e32/visual", "OpenCLIP_ViT-L-14_laion400m_e32__visual"),
    ("OpenCLIP_ViT-L-14_laion2b_s32b_b82k/visual", "OpenCLIP_ViT-L-14_laion2b_s32b_b82k__visual"),
    ("dinov2-vit-base-p14/norm", "dinov2-vit-base-p14__norm"),
    ("dinov2-vit-large-p14/norm", "dinov2-vit-large-p14__norm"),
    ("dino-vit-base-p16/norm", "dino-vit-base-p16__norm"),
    ("dino-vit-base-p8/norm", "dino-vit-base-p8__norm"),
    ("resnet18/avgpool", "resnet18__avgpool"),
];

/// Max |a - b| over all elements, and the index where it occurs.
pub fn max_abs_diff(a: &[f64], b: &[f64]) -> (f64, usize) {
    assert_eq!(a.len(), b.len());
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).enumerate().fold((0.0, 0), |(m, mi), (i, d)| {
        if d > m || d.is_nan() {
            (d, i)
        } else {
            (m, mi)
        }
    })
}

#[allow(unused_imports)] // not every test file draws random data
pub use glocal_test_support::Rng;

/// Makes integer-valued weights exact under `i8d` quantisation: off-diagonal values are
/// clamped to [-127, 127] and every input row gets one off-diagonal 127, so each row scale is
/// exactly 1 and `q == w` (a row without an off-diagonal entry gets scale 0). With small
/// integer inputs every product and partial sum of every `i8d` kernel is then exact, so they
/// must agree bit for bit whatever the summation order or FMA use.
pub fn i8d_exact(weights: &mut [f64], d_in: usize, d_out: usize) {
    for k in 0..d_in {
        for j in 0..d_out {
            if k != j {
                let w = &mut weights[k * d_out + j];
                *w = w.clamp(-127.0, 127.0);
            }
        }
        let j = (k + 1) % d_out;
        if j != k {
            weights[k * d_out + j] = 127.0;
        }
    }
}

/// f64 oracle of an `i8d` blob's *stored* weights (`folded_weight`, `folded_bias`) and the
/// bound a correct kernel stays within, per output of `rows` rows of `x`.
///
/// Bound: with `S = |b'| + sum_k |x_k W'_kj|` and `u = 2^-24`, a kernel forms `x_k * scale_k`
/// (one rounding), multiplies by `q` (one rounding, or none when fused), sums `d_in + 1` terms
/// in any order (at most `d_in` roundings) and adds `diag * x` (two roundings); the stored
/// `W'` itself is `scale * q` rounded once. Each rounding costs at most `u` relative to a
/// partial sum bounded by `S`, so `|y - oracle| <= (d_in + 6) * 2u * S` (doubled for the
/// first-order slack).
pub fn i8d_stored_oracle(t: &glocal::Transform<'_>, x: &[f32], rows: usize) -> (Vec<f64>, Vec<f64>) {
    let (d_in, d_out) = (t.d_in(), t.d_out());
    let w: Vec<f64> =
        (0..d_in * d_out).map(|i| t.folded_weight(i / d_out, i % d_out).unwrap() as f64).collect();
    let mut want = vec![0f64; rows * d_out];
    let mut tol = vec![0f64; rows * d_out];
    for r in 0..rows {
        for j in 0..d_out {
            let b = t.folded_bias(j).unwrap() as f64;
            let (mut acc, mut mag) = (b, b.abs());
            for k in 0..d_in {
                let term = x[r * d_in + k] as f64 * w[k * d_out + j];
                acc += term;
                mag += term.abs();
            }
            want[r * d_out + j] = acc;
            tol[r * d_out + j] = (d_in as f64 + 6.0) * f32::EPSILON as f64 * mag + 1e-30;
        }
    }
    (want, tol)
}
