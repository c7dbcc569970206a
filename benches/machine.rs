//! Measures this machine's single-core f32 FMA peak and read bandwidth, the two numbers the
//! floor in `benches/README.md` is built from: `max(bytes(W) / bandwidth, 2 n d^2 / peak)`.
//!
//! `cargo bench -p glocal-benches --bench machine` (a plain binary, no criterion: it reports
//! rates, best of 7, timed in thread CPU time so other processes on this shared machine do not
//! count).
//! * Peak: 12 independent chains of `vfmadd231ps ymm` (12 x 8 lanes x 2 flops per iteration),
//!   enough to cover FMA latency x throughput on Zen 3 / Skylake (4 cycles x 2 pipes).
//! * Bandwidth: a sum over a buffer with 8 ymm accumulators (`vaddps ymm, ymm, [mem]`) and
//!   software prefetch 1 KiB ahead, for buffer sizes from L1 to DRAM; every byte read once per
//!   pass, passes repeated.
//! * Widening ceilings: how many weights per second one core can widen and multiply-add from
//!   L1 (a 16 KiB buffer, 8 accumulators), for f16 (`vcvtph2ps` + FMA) and int8 (`vpmovsxbd` +
//!   `vcvtdq2ps` + FMA, the i8d kernels' inner step). These bound the batch-1 streams whenever
//!   the weights come from cache, whatever the bandwidth.

// criterion_group! generates an undocumented public function.
#![allow(missing_docs)]

use std::hint::black_box;

mod clock;
mod peak;

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::peak::hsum;
    use core::arch::x86_64::*;

    /// `sum_k x * widen(w[k])` over `passes` passes of `buf`, 8 weights per step, 8 independent
    /// accumulators; `INT8` selects int8 weights (`vpmovsxbd` + `vcvtdq2ps`), else f16
    /// (`vcvtph2ps`). `buf.len()` a multiple of 128.
    ///
    /// # Safety
    /// avx2, fma and f16c present.
    #[target_feature(enable = "avx2,fma,f16c")]
    pub unsafe fn widen_fma<const INT8: bool>(buf: &[u8], passes: usize) -> f32 {
        let x = _mm256_set1_ps(1.000_1);
        let mut c = [_mm256_setzero_ps(); 8];
        let step = if INT8 { 8 } else { 16 };
        for _ in 0..passes {
            for chunk in buf.chunks_exact(8 * step) {
                for (i, ci) in c.iter_mut().enumerate() {
                    let p = chunk[i * step..].as_ptr();
                    // SAFETY: chunk holds 8 * step bytes; this step reads step bytes at i * step.
                    let w = unsafe {
                        if INT8 {
                            _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64(p.cast())))
                        } else {
                            _mm256_cvtph_ps(_mm_loadu_si128(p.cast()))
                        }
                    };
                    *ci = _mm256_fmadd_ps(x, w, *ci);
                }
            }
        }
        hsum(&c)
    }

    /// Sums `buf` (length a multiple of 64) with 8 accumulators.
    ///
    /// # Safety
    /// avx2 present.
    #[target_feature(enable = "avx2")]
    pub unsafe fn sum(buf: &[f32]) -> f32 {
        let mut c = [_mm256_setzero_ps(); 8];
        for chunk in buf.chunks_exact(64) {
            // Software prefetch 1 KiB ahead (as the kernels do; never faults, may point past
            // the end), so the figure is the bandwidth a streaming kernel can reach.
            for line in 0..4 {
                // A hint: never faults, reads nothing (a safe intrinsic in this avx2 context).
                _mm_prefetch::<_MM_HINT_T0>(chunk.as_ptr().wrapping_add(256 + 16 * line).cast());
            }
            for (i, ci) in c.iter_mut().enumerate() {
                // SAFETY: chunk holds 64 f32; i * 8 + 8 <= 64.
                *ci = _mm256_add_ps(*ci, unsafe { _mm256_loadu_ps(chunk.as_ptr().add(i * 8)) });
            }
        }
        hsum(&c)
    }
}

/// CPU time of this thread in seconds.
fn cpu_now() -> f64 {
    clock::thread_cpu_ns() as f64 * 1e-9
}

fn best_of<F: FnMut() -> f64>(n: usize, mut f: F) -> f64 {
    (0..n).map(|_| f()).fold(0.0, f64::max)
}

#[cfg(target_arch = "x86_64")]
fn main() {
    if !(std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma")) {
        println!("machine: no AVX2+FMA, nothing measured");
        return;
    }
    let iters = 50_000_000u64;
    let peak_gflops = best_of(7, || {
        let t = cpu_now();
        // SAFETY: avx2 and fma detected above.
        black_box(unsafe { peak::fma_chains(black_box(iters)) });
        (iters * peak::FLOP_PER_ITER) as f64 / (cpu_now() - t) / 1e9
    });
    println!("peak f32 FMA, one core: {peak_gflops:.1} GFLOP/s (12 chains of vfmadd231ps ymm, best of 7)");
    if std::is_x86_feature_detected!("avx512f") {
        let zmm = best_of(7, || {
            let t = cpu_now();
            // SAFETY: avx2 and fma detected above.
            let (flop, v, _) = unsafe { peak::widest(black_box(iters)) };
            black_box(v);
            flop as f64 / (cpu_now() - t) / 1e9
        });
        println!(
            "peak f32 FMA, one core, AVX-512F: {zmm:.1} GFLOP/s (12 chains of vfmadd231ps zmm, best of 7)"
        );
    }
    if std::is_x86_feature_detected!("f16c") {
        // Small finite f16 values and small int8 values; the bytes only need to be harmless.
        let buf: Vec<u8> = (0..16 * 1024).map(|i| (i * 37 % 61) as u8).collect();
        let passes = 20_000;
        for (name, int8) in [("f16 (vcvtph2ps + FMA)", false), ("int8 (vpmovsxbd + vcvtdq2ps + FMA)", true)] {
            let weights = (passes * buf.len() / if int8 { 1 } else { 2 }) as f64;
            let gw = best_of(7, || {
                let t = cpu_now();
                // SAFETY: avx2, fma (above) and f16c detected.
                black_box(unsafe {
                    if int8 {
                        x86::widen_fma::<true>(black_box(&buf), passes)
                    } else {
                        x86::widen_fma::<false>(black_box(&buf), passes)
                    }
                });
                weights / (cpu_now() - t) / 1e9
            });
            // The FMA peak in weights: one multiply-add (2 flops) per weight.
            println!(
                "widen + FMA from L1, {name}: {gw:.1} G weights/s ({:.2} of the FMA peak)",
                gw / (peak_gflops / 2.0)
            );
        }
    }
    for kib in [16usize, 256, 1 << 10, 2 << 10, 4 << 10, 8 << 10, 16 << 10, 32 << 10, 512 << 10] {
        let len = kib * 1024 / 4;
        let buf: Vec<f32> = (0..len).map(|i| (i % 7) as f32).collect();
        let passes = ((1usize << 31) / (kib * 1024)).max(2);
        let gbs = best_of(7, || {
            let t = cpu_now();
            for _ in 0..passes {
                // SAFETY: avx2 detected above.
                black_box(unsafe { x86::sum(black_box(&buf)) });
            }
            (passes * kib * 1024) as f64 / (cpu_now() - t) / 1e9
        });
        println!("read bandwidth, {kib:>7} KiB buffer: {gbs:6.1} GB/s");
    }
}

#[cfg(not(target_arch = "x86_64"))]
fn main() {
    println!("machine: only written for x86_64");
}
