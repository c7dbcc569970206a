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

/// Flops per iteration of [`fma_chains_512`]: 12 chains x 16 lanes x 2.
pub const FLOP_PER_ITER_512: u64 = 12 * 16 * 2;

/// [`fma_chains`] with zmm registers (`vfmadd231ps zmm`): the peak of a CPU with AVX-512F, whose
/// kernels (glocal's `avx512` tile, OpenBLAS's SkylakeX ones) issue 16 lanes per FMA.
///
/// # Safety
/// avx512f present.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
pub unsafe fn fma_chains_512(iters: u64) -> f32 {
    let m = _mm512_set1_ps(0.999_999);
    let a = _mm512_set1_ps(1e-7);
    let mut c = [_mm512_set1_ps(1.0); 12];
    for _ in 0..iters {
        for ci in c.iter_mut() {
            *ci = _mm512_fmadd_ps(*ci, m, a);
        }
    }
    c.iter().map(|&ci| _mm512_reduce_add_ps(ci)).sum()
}

/// The widest FMA peak loop this CPU runs (zmm with AVX-512F, else ymm): `iters` iterations,
/// returning the flops done (and a value so nothing is optimised away) and the loop's name.
///
/// # Safety
/// avx2 and fma present.
#[cfg(target_arch = "x86_64")]
pub unsafe fn widest(iters: u64) -> (u64, f32, &'static str) {
    if std::is_x86_feature_detected!("avx512f") {
        // SAFETY: avx512f detected just above.
        (iters * FLOP_PER_ITER_512, unsafe { fma_chains_512(iters) }, "12 chains of vfmadd231ps zmm")
    } else {
        // SAFETY: avx2 and fma present (this function's contract).
        (iters * FLOP_PER_ITER, unsafe { fma_chains(iters) }, "12 chains of vfmadd231ps ymm")
    }
}
