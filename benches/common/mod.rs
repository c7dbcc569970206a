//! Helpers shared by the benchmarks.

use glocal::pack::Source;

/// `n` reproducible pseudo-random values, uniform in `[-scale, scale)`.
pub fn rand_vec(n: usize, seed: u64, scale: f64) -> Vec<f64> {
    glocal_test_support::Rng::new(seed).uniform_vec(n, scale)
}

/// The benchmarks' `d x d` transform (weights seeded by `d`, a bias, mean 0.01, std 0.5) with
/// its folded weights and bias in f32, which the peers use.
pub fn square_transform(d: usize) -> (Source, Vec<f32>, Vec<f32>) {
    let source = Source {
        d_in: d,
        d_out: d,
        weights: rand_vec(d * d, d as u64, 0.05),
        bias: Some(rand_vec(d, 7, 0.1)),
        mean: 0.01,
        std: 0.5,
    };
    let (wf, bf) = source.fold();
    let w32 = wf.iter().map(|&v| v as f32).collect();
    let b32 = bf.iter().map(|&v| v as f32).collect();
    (source, w32, b32)
}
