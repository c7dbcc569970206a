//! Helpers shared by the integration tests.
#![allow(dead_code)]

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

/// A deterministic xorshift generator for test data (no dependency, reproducible).
pub struct Rng(pub u64);

impl Rng {
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    /// Uniform in [-1, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 52) as f64 - 1.0
    }
    /// Integer in [lo, hi].
    pub fn int(&mut self, lo: i64, hi: i64) -> i64 {
        lo + (self.next_u64() % (hi - lo + 1) as u64) as i64
    }
}
