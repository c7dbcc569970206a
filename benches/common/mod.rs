//! Helpers shared by the benchmarks.

use glocal::pack::Source;

/// `n` reproducible pseudo-random values, uniform in `[-scale, scale)` (xorshift64*).
pub fn rand_vec(n: usize, seed: u64, scale: f64) -> Vec<f64> {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..n)
        .map(|_| {
            s ^= s >> 12;
            s ^= s << 25;
            s ^= s >> 27;
            ((s.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0) * scale
        })
        .collect()
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
