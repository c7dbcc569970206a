//! The single-core f32 FMA peak loop, shared by `machine.rs` (which reports it) and `paired.rs`
//! (which runs it between the kernels' windows, so a kernel's fraction of the peak compares
//! rates measured in the same phase of this VM).

#[cfg(target_arch = "x86_64")]
use core::arch::x86_64::*;

/// Flops per iteration of [`fma_chains`]: 12 chains x 8 lanes x 2.
pub const FLOP_PER_ITER: u64 = 12 * 8 * 2;

/// The sum of every lane of every accumulator (so nothing is optimised away).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx")]
pub fn hsum(c: &[__m256]) -> f32 {
    let mut s = _mm256_setzero_ps();
    for &ci in c {
        s = _mm256_add_ps(s, ci);
    }
    let mut out = [0f32; 8];
    // SAFETY: out holds 8 f32.
    unsafe { _mm256_storeu_ps(out.as_mut_ptr(), s) };
    out.iter().sum()
}

/// `iters` iterations of 12 independent chains of `vfmadd231ps ymm`: enough to cover FMA
/// latency x throughput on Zen 3 / Skylake (4 cycles x 2 pipes). Returns a value depending on
/// every chain so nothing is optimised away.
///
/// # Safety
/// avx2 and fma present.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
pub unsafe fn fma_chains(iters: u64) -> f32 {
    let m = _mm256_set1_ps(0.999_999);
    let a = _mm256_set1_ps(1e-7);
    let mut c = [_mm256_set1_ps(1.0); 12];
    for _ in 0..iters {
        for ci in c.iter_mut() {
            *ci = _mm256_fmadd_ps(*ci, m, a);
        }
    }
    hsum(&c)
}
