//! The synthetic transform and inputs every Arm cost measurement uses, shared (by `#[path]`)
//! between the aarch64 bench binary and the firmware's build script, so glocal and its peers
//! see the same numbers and the same f64 oracle.
//!
//! The matrix is shaped like gLocal's (a strong diagonal plus small dense off-diagonal
//! weights), so `i8d` is measured on the kind of transform it is meant for. Values are f32
//! numbers (stored as f64) so the f64 oracle sees exactly what was packed from.

use glocal::pack::Source;

/// The fixed seed: every run measures the same data.
pub const SEED: u64 = 0x676c_6f63_616c_2121;

/// splitmix64: tiny, fixed, and the same on every host (no crate version can change it).
pub struct Rng(u64);

impl Rng {
    /// A generator for stream `stream` of the fixed seed.
    pub fn new(stream: u64) -> Self {
        Rng(SEED ^ stream.wrapping_mul(0x9e37_79b9_7f4a_7c15))
    }

    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in [-1, 1), an f32 value.
    pub fn unit(&mut self) -> f32 {
        ((self.next_u64() >> 40) as f32) * (2.0 / (1u64 << 24) as f32) - 1.0
    }
}

/// A `d x d` gLocal-like transform: `W = 0.8 I + 0.03 U(-1, 1)`, bias `0.1 U`, scalar mean
/// and std as thingsvision stores them.
pub fn source(d: usize) -> Source {
    let mut rng = Rng::new(1);
    let mut weights = vec![0.0f64; d * d];
    for k in 0..d {
        for j in 0..d {
            let diag = if k == j { 0.8f32 } else { 0.0 };
            weights[k * d + j] = (diag + 0.03 * rng.unit()) as f64;
        }
    }
    let bias = (0..d).map(|_| (0.1 * rng.unit()) as f64).collect();
    Source { d_in: d, d_out: d, weights, bias: Some(bias), mean: 0.0625, std: 1.75 }
}

/// `rows x d` inputs, uniform in [-2, 2).
pub fn inputs(d: usize, rows: usize) -> Vec<f32> {
    let mut rng = Rng::new(2);
    (0..rows * d).map(|_| 2.0 * rng.unit()).collect()
}

/// The f64 oracle of thingsvision's formula on `x` (`rows x d_in`): glocal's own reference.
pub fn oracle(src: &Source, x: &[f32]) -> Vec<f64> {
    let w: Vec<f32> = src.weights.iter().map(|&v| v as f32).collect();
    let b: Option<Vec<f32>> = src.bias.as_ref().map(|b| b.iter().map(|&v| v as f32).collect());
    let rows = x.len() / src.d_in;
    let mut y = vec![0.0f64; rows * src.d_out];
    glocal::reference::affine_f64(x, &w, b.as_deref(), src.mean, src.std, src.d_in, src.d_out, &mut y);
    y
}

/// The folded weights (`d_in x d_out`, row-major) and bias in f32, for peers that only
/// multiply (OpenBLAS, CMSIS-DSP): the normalisation folded exactly as glocal's packer does.
pub fn folded_f32(src: &Source) -> (Vec<f32>, Vec<f32>) {
    let (w, b) = src.fold();
    (w.iter().map(|&v| v as f32).collect(), b.iter().map(|&v| v as f32).collect())
}
