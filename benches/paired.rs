//! glocal's kernels against OpenBLAS, timed in **interleaved pairs**: the ratio the issue's
//! targets are stated in, measured so that the slow phases of this VM hit both sides alike.
//!
//! `GLOCAL_BENCH_OPENBLAS=/path/to/libopenblas.so cargo bench -p glocal-benches --bench paired`
//! (about 85 s). Optional: `GLOCAL_PAIRED_DIMS=768,1024`, `GLOCAL_PAIRED_BATCHES=1,8`,
//! `GLOCAL_PAIRED_PAIRS=41`.
//!
//! On this VM the same call runs at one speed for tens to hundreds of milliseconds and then at
//! another (bf16, d = 768, batch 1: 21-35 us; benches/README.md), so two implementations timed
//! one after the other, as criterion does, can land in different phases. Here each pair is a
//! window of about [`WINDOW_NS`] of calls to the glocal kernel and one of calls to OpenBLAS,
//! back to back, in alternating order (ABBA...), on the same folded W and x as `kernels.rs`.
//! Per cell it prints the median time of each side and the median, 10th and 90th percentile
//! of the per-pair ratio glocal / OpenBLAS, and both sides' GFLOP/s (2 n d^2 per call, from the
//! median times). Time is the thread's CPU time, as in `kernels.rs`. The glocal side is
//! `Transform::apply_with_workspace` with a workspace of `workspace_len(n)`, allocated once
//! outside the timing: batches of 12 rows or more have their inputs packed.
//!
//! From batch [`PEAK_MIN_BATCH`] on, where the issue also asks for a fraction of the FMA peak,
//! each pair gets a third window between its two: the peak loop of `machine.rs`
//! ([`peak::fma_chains`]). Each side's rate is divided by the peak measured next to it, and the
//! table gives the median of those fractions: the same VM phase on both sides of the division
//! (on this VM the peak loop itself reads 65-70 GFLOP/s in one phase and 90 in another).
//! Without `GLOCAL_BENCH_OPENBLAS` there is no peer, and the bench says so and exits.
//!
//! **q8 mode** (`GLOCAL_PAIRED_Q8=1`, no OpenBLAS needed; default dims 768, batches 1 and 64):
//! every q8 kernel this CPU runs (forced by ISA, `Transform::with_isa`) paired the same way
//! against glocal's own f16 and f32 kernels (`Isa::best`), the terms of the q8 targets
//! (batch 1: q8 time / f16 time; batches: f32 time / q8 time is the throughput ratio).

#[cfg(target_arch = "x86_64")]
use core::arch::x86_64::*;
use glocal::pack;
use glocal::{PostOp, Transform, WeightDtype};
use std::hint::black_box;

mod common;
use common::{rand_vec, square_transform};
mod clock;
use clock::thread_cpu_ns;
mod openblas;
use openblas::Cblas;
mod peak;

/// CPU time per window of calls (each side of a pair).
const WINDOW_NS: u64 = 5_000_000;
/// From this batch on, each pair also times the FMA peak (see the module documentation).
const PEAK_MIN_BATCH: usize = 64;

/// A comma-separated list from the environment, or the default.
fn list(var: &str, default: &[usize]) -> Vec<usize> {
    std::env::var(var)
        .ok()
        .map(|v| v.split(',').map(|s| s.trim().parse().expect("a list of integers")).collect())
        .unwrap_or_else(|| default.to_vec())
}

/// Calls per window so that a window takes about `WINDOW_NS` (at least one call).
fn calls_per_window(f: &mut dyn FnMut()) -> usize {
    f();
    let t0 = thread_cpu_ns();
    f();
    let one = (thread_cpu_ns() - t0).max(1);
    (WINDOW_NS / one).max(1) as usize
}

/// Mean CPU time per call over `calls` calls, in microseconds.
fn window(f: &mut dyn FnMut(), calls: usize) -> f64 {
    let t0 = thread_cpu_ns();
    for _ in 0..calls {
        f();
    }
    (thread_cpu_ns() - t0) as f64 / calls as f64 / 1e3
}

/// The `q` quantile (0..=1) of `v`, nearest rank.
fn quantile(v: &[f64], q: f64) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    s[((s.len() - 1) as f64 * q).round() as usize]
}

/// A window of the widest FMA peak loop (zmm with AVX-512F): GFLOP/s.
///
/// # Safety
/// avx2 and fma present.
#[cfg(target_arch = "x86_64")]
unsafe fn peak_window(iters: u64) -> f64 {
    let t0 = thread_cpu_ns();
    // SAFETY: avx2 and fma present (this function's contract).
    let (flop, v, _) = unsafe { peak::widest(black_box(iters)) };
    black_box(v);
    flop as f64 / (thread_cpu_ns() - t0).max(1) as f64
}

/// `pairs` interleaved pairs (ABAB.. / BABA..) of windows of `a` and `b`: the median time of
/// each side (us) and the per-pair ratios a / b.
fn paired_windows(a: &mut dyn FnMut(), b: &mut dyn FnMut(), pairs: usize) -> (f64, f64, Vec<f64>) {
    let (ca, cb) = (calls_per_window(a), calls_per_window(b));
    let (mut ta, mut tb, mut r) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..pairs {
        let (x, y) = if i % 2 == 0 {
            let x = window(a, ca);
            (x, window(b, cb))
        } else {
            let y = window(b, cb);
            (window(a, ca), y)
        };
        ta.push(x);
        tb.push(y);
        r.push(x / y);
    }
    (quantile(&ta, 0.5), quantile(&tb, 0.5), r)
}

/// Multiply-adds per `vpdpbusd` of glocal's q8 kernel: 16 lanes x 4 byte products, and each
/// 12-bit activation takes two of them (one per 6-bit digit).
const Q8_MACS_PER_DPBUSD: u64 = 16 * 4 / 2;

/// [`peak::fma_chains_512`] with `vpdpbusd zmm` (AVX-512 VNNI): the issue rate of the q8 kernel's
/// multiply-add, measured beside the FMA's to show the ceiling of the q8 / f32 throughput.
/// Returns the number of `vpdpbusd` executed and a value so nothing is optimised away.
///
/// # Safety
/// avx512f, avx512bw and avx512vnni present.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
unsafe fn dpbusd_chains_512(iters: u64) -> (u64, i32) {
    let u = _mm512_set1_epi32(0x0102_0304);
    let s = _mm512_set1_epi32(0x01ff_01ff);
    let mut c = [_mm512_setzero_si512(); 12];
    for _ in 0..iters {
        for ci in c.iter_mut() {
            *ci = _mm512_dpbusd_epi32(*ci, u, s);
        }
    }
    (iters * 12, c.iter().map(|&ci| _mm512_reduce_add_epi32(ci)).fold(0, i32::wrapping_add))
}

/// The ceiling of the q8 / f32 throughput ratio on this CPU, measured: `vpdpbusd` and
/// `vfmadd231ps` (zmm) issue rates, each the median of 7 windows, times the multiply-adds each
/// instruction does for its kernel (q8: [`Q8_MACS_PER_DPBUSD`], f32: 16). Without
/// AVX-512 VNNI it says so.
#[cfg(target_arch = "x86_64")]
fn print_q8_ceiling() {
    if !(std::is_x86_feature_detected!("avx512vnni") && std::is_x86_feature_detected!("avx512bw")) {
        println!("q8 ceiling: this CPU has no AVX-512 VNNI; not measured");
        return;
    }
    let rate = |f: &mut dyn FnMut() -> u64| {
        let mut v: Vec<f64> = (0..7)
            .map(|_| {
                let t0 = thread_cpu_ns();
                let n = f();
                n as f64 / (thread_cpu_ns() - t0).max(1) as f64
            })
            .collect();
        v.sort_by(f64::total_cmp);
        v[3]
    };
    let iters = 2_000_000;
    let dp = rate(&mut || {
        // SAFETY: avx512f, avx512bw and avx512vnni detected above.
        let (n, v) = unsafe { dpbusd_chains_512(black_box(iters)) };
        black_box(v);
        n
    });
    let fma = rate(&mut || {
        // SAFETY: avx512f detected above (avx512bw implies it).
        black_box(unsafe { peak::fma_chains_512(black_box(iters)) });
        iters * 12
    });
    println!(
        "q8 ceiling: vpdpbusd zmm {dp:.2} G/s, vfmadd231ps zmm {fma:.2} G/s: q8's {} MACs per vpdpbusd \
         against f32's 16 per FMA give at most {:.2}x the f32 throughput at equal efficiency",
        Q8_MACS_PER_DPBUSD,
        dp * Q8_MACS_PER_DPBUSD as f64 / (fma * 16.0)
    );
}

/// The q8 mode (see the module documentation).
fn q8_main(pairs: usize) {
    use glocal::kernel::{Isa, KERNELS};
    let dims = list("GLOCAL_PAIRED_DIMS", &[768]);
    let batches = list("GLOCAL_PAIRED_BATCHES", &[1, 64]);
    let base_isa = Isa::best();
    println!(
        "{pairs} interleaved pairs of ~{} ms windows per cell; glocal f16/f32 kernels: {}",
        WINDOW_NS / 1_000_000,
        base_isa.name()
    );
    #[cfg(target_arch = "x86_64")]
    print_q8_ceiling();
    println!();
    println!("| d | n | q8 kernel | q8 us | peer | peer us | q8 / peer time (median of pairs) | p10 - p90 | peer / q8 (throughput) |");
    println!("|---:|---:|---|---:|---|---:|---:|---|---:|");
    for &d in &dims {
        let (source, _, _) = square_transform(d);
        let blob = |dt| pack::pack(&source, dt, "bench", "bench").expect("pack");
        let (b32, b16, bq8) = (blob(WeightDtype::F32), blob(WeightDtype::F16), blob(WeightDtype::Q8));
        let t32 = Transform::with_isa(b32.as_bytes(), base_isa).expect("f32");
        let t16 = Transform::with_isa(b16.as_bytes(), base_isa).expect("f16");
        let q8s: Vec<_> = KERNELS
            .iter()
            .filter(|k| k.dtype == WeightDtype::Q8 && k.isa != Isa::Scalar && k.isa.is_available())
            .map(|k| Transform::with_isa(bq8.as_bytes(), k.isa).expect("q8"))
            .collect();
        for &n in &batches {
            let x: Vec<f32> = rand_vec(n * d, 11, 1.0).iter().map(|&v| v as f32).collect();
            for q in &q8s {
                for (peer, name) in [(&t16, "f16"), (&t32, "f32")] {
                    let (mut yq, mut yp) = (vec![0f32; n * d], vec![0f32; n * d]);
                    let mut wsq = vec![0f32; q.workspace_len(n)];
                    let mut wsp = vec![0f32; peer.workspace_len(n)];
                    let mut a = || {
                        q.apply_with_workspace(
                            black_box(&x[..]),
                            black_box(&mut yq[..]),
                            PostOp::None,
                            &mut wsq,
                        )
                        .expect("apply");
                    };
                    let mut b = || {
                        peer.apply_with_workspace(
                            black_box(&x[..]),
                            black_box(&mut yp[..]),
                            PostOp::None,
                            &mut wsp,
                        )
                        .expect("apply");
                    };
                    let (ta, tb, r) = paired_windows(&mut a, &mut b, pairs);
                    println!(
                        "| {d} | {n} | {} | {ta:.1} | {name} {} | {tb:.1} | {:.3} | {:.3} - {:.3} | {:.2} |",
                        q.kernel().name,
                        peer.kernel().name,
                        quantile(&r, 0.5),
                        quantile(&r, 0.1),
                        quantile(&r, 0.9),
                        1.0 / quantile(&r, 0.5),
                    );
                }
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
fn main() {
    if !(std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma")) {
        eprintln!("paired: no AVX2+FMA, nothing measured");
        return;
    }
    if std::env::var_os("GLOCAL_PAIRED_Q8").is_some() {
        let pairs = std::env::var("GLOCAL_PAIRED_PAIRS")
            .map_or(21, |v| v.trim().parse().expect("GLOCAL_PAIRED_PAIRS: an integer"))
            .max(2);
        return q8_main(pairs);
    }
    let Some(blas) = Cblas::load() else {
        eprintln!("paired: set GLOCAL_BENCH_OPENBLAS to an OpenBLAS library (see benches/README.md)");
        return;
    };
    blas.check();
    let dims = list("GLOCAL_PAIRED_DIMS", &[512, 768, 1024, 2048, 4096]);
    let batches = list("GLOCAL_PAIRED_BATCHES", &[1, 8, 64, 1024]);
    let pairs = std::env::var("GLOCAL_PAIRED_PAIRS")
        .map_or(41, |v| v.trim().parse().expect("GLOCAL_PAIRED_PAIRS: an integer"))
        .max(2);
    let dtypes = [WeightDtype::F32, WeightDtype::F16, WeightDtype::Bf16];
    println!(
        "{pairs} interleaved pairs of ~{} ms windows per cell; ratio = glocal / OpenBLAS",
        WINDOW_NS / 1_000_000
    );
    // Iterations of the peak loop per window, from a short calibration run.
    // SAFETY: avx2 and fma checked at the top of main (also for peak_window below).
    let (flop_per_iter, _, peak_name) = unsafe { peak::widest(1) };
    // SAFETY: as above.
    let peak_iters = (WINDOW_NS as f64 * unsafe { peak_window(200_000) } / flop_per_iter as f64) as u64;
    println!("peak loop: {peak_name}; glocal kernels: {}", glocal::kernel::Isa::best().name());
    println!();
    println!(
        "| d | n | weights | glocal us | OpenBLAS us | ratio (median of pairs) | p10 - p90 | GFLOP/s glocal / OpenBLAS | of peak glocal / OpenBLAS |"
    );
    println!("|---:|---:|---|---:|---:|---:|---|---|---|");
    for &d in &dims {
        // The same transform, folded W and inputs as kernels.rs.
        let (source, w32, b32) = square_transform(d);
        let blobs: Vec<_> =
            dtypes.iter().map(|&dt| pack::pack(&source, dt, "bench", "bench").expect("pack")).collect();
        let transforms: Vec<_> = blobs.iter().map(|b| Transform::new(b.as_bytes()).expect("blob")).collect();
        for &n in &batches {
            // As in kernels.rs: d = 4096 with n = 1024 (34 GFLOP per call) is not run.
            if d == 4096 && n == 1024 {
                continue;
            }
            let x: Vec<f32> = rand_vec(n * d, 11, 1.0).iter().map(|&v| v as f32).collect();
            let mut y_peer = vec![0f32; n * d];
            let mut peer = || {
                for row in y_peer.chunks_exact_mut(d) {
                    row.copy_from_slice(&b32);
                }
                blas.gemm_acc(n, d, black_box(&x), &w32, &mut y_peer);
            };
            let peer_calls = calls_per_window(&mut peer);
            for (dt, t) in dtypes.iter().zip(&transforms) {
                let mut y = vec![0f32; n * d];
                let mut ws = vec![0f32; t.workspace_len(n)];
                let mut ours = || {
                    t.apply_with_workspace(black_box(&x[..]), black_box(&mut y[..]), PostOp::None, &mut ws)
                        .expect("apply");
                };
                let our_calls = calls_per_window(&mut ours);
                let gflops = |us: f64| 2.0 * (n * d * d) as f64 / us / 1e3;
                let with_peak = n >= PEAK_MIN_BATCH;
                let (mut a, mut b, mut r) = (Vec::new(), Vec::new(), Vec::new());
                let (mut a_peak, mut b_peak) = (Vec::new(), Vec::new());
                for i in 0..pairs {
                    // AB, BA, ...; the peak window, if any, between the two.
                    let first_ours = i % 2 == 0;
                    let t1 =
                        if first_ours { window(&mut ours, our_calls) } else { window(&mut peer, peer_calls) };
                    // SAFETY: avx2 and fma checked at the top of main.
                    let gp = with_peak.then(|| unsafe { peak_window(peak_iters) });
                    let t2 =
                        if first_ours { window(&mut peer, peer_calls) } else { window(&mut ours, our_calls) };
                    let (ta, tb) = if first_ours { (t1, t2) } else { (t2, t1) };
                    a.push(ta);
                    b.push(tb);
                    r.push(ta / tb);
                    if let Some(gp) = gp {
                        a_peak.push(gflops(ta) / gp);
                        b_peak.push(gflops(tb) / gp);
                    }
                }
                let (ta, tb) = (quantile(&a, 0.5), quantile(&b, 0.5));
                let of_peak = if with_peak {
                    format!("{:.2} / {:.2}", quantile(&a_peak, 0.5), quantile(&b_peak, 0.5))
                } else {
                    "-".to_string()
                };
                println!(
                    "| {d} | {n} | {dt:?} | {ta:.1} | {tb:.1} | {:.2} | {:.2} - {:.2} | {:.0} / {:.0} | {of_peak} |",
                    quantile(&r, 0.5),
                    quantile(&r, 0.1),
                    quantile(&r, 0.9),
                    gflops(ta),
                    gflops(tb),
                );
            }
        }
    }
}

#[cfg(not(target_arch = "x86_64"))]
fn main() {
    println!("paired: only written for x86_64");
}
