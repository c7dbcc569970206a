//! The `q8` dtype on target: every q8 kernel available here (the SXTB16/SMLAD Cortex-M kernel,
//! the portable one through `cortexm-scalar`, Helium's on the M55 build) bit for bit against
//! an integer oracle written from the formula in docs/FORMAT.md (as tests/q8.rs does on the
//! host), on edge shapes (d_in not a multiple of 4, 16 or 64; d_out not a multiple of 16;
//! d_in at the bare-metal limit of 1024) and edge rows (zeros, one huge value beside tiny
//! ones, subnormals, a NaN).
#![no_std]
#![no_main]

extern crate alloc;

use alloc::vec::Vec;

use glocal::kernel::{KernelInfo, KERNELS};
use glocal::pack::{pack, quantize_q8, Source};
use glocal::{Transform, WeightDtype};
use mcu_tests::{entry, run, Check, Rng, Suite};

/// gLocal-like: a strong diagonal, small off-diagonal weights of varying row magnitude.
fn source(rng: &mut Rng, d_in: usize, d_out: usize) -> Source {
    let row_mag: Vec<f64> = (0..d_in).map(|_| 1e-3 * (1.0 + 20.0 * rng.uniform(0.0, 1.0))).collect();
    let weights = (0..d_in * d_out)
        .map(|i| {
            let (k, j) = (i / d_out, i % d_out);
            if k == j {
                rng.uniform(0.04, 0.12)
            } else {
                row_mag[k] * rng.uniform(-1.0, 1.0)
            }
        })
        .collect();
    let bias = Some((0..d_out).map(|_| rng.uniform(-0.1, 0.1)).collect());
    Source { d_in, d_out, weights, bias, mean: 0.2, std: 1.3 }
}

/// Round to nearest, ties to even, of |v| < 2^22, by the float additions the formula names
/// (the library rounds from the bits: this checks one against the other on target too).
fn round_ties_even(v: f32) -> f32 {
    const MAGIC: f32 = 12_582_912.0;
    (v + MAGIC) - MAGIC
}

/// The documented q8 formula, independent of the library's code: activations quantized per
/// row in f32, an i64 sum (checked to fit i32), one f32 epilogue.
fn oracle(src: &Source, t: &Transform<'_>, x: &[f32]) -> Vec<f32> {
    let (d_in, d_out) = (src.d_in, src.d_out);
    let (w, _) = src.fold();
    let quant = quantize_q8(&w, d_in, d_out).expect("quantize");
    let mut y = Vec::new();
    for row in x.chunks_exact(d_in) {
        let a: Vec<f32> = row.iter().zip(&quant.scales).map(|(&x, &s)| x * s).collect();
        if a.iter().any(|v| !v.is_finite()) {
            y.extend(core::iter::repeat_n(f32::NAN, d_out));
            continue;
        }
        let amax = a.iter().fold(0f32, |m, v| m.max(v.abs()));
        let (act, step): (Vec<i64>, f32) = if amax == 0.0 {
            (alloc::vec![0; d_in], 0.0)
        } else {
            let r = 2047.0 / amax;
            let q = |v: f32| if r.is_finite() { v * r } else { v / amax * 2047.0 };
            (a.iter().map(|&v| round_ties_even(q(v)).clamp(-2047.0, 2047.0) as i64).collect(), amax / 2047.0)
        };
        for (j, &dg) in quant.diag.iter().enumerate() {
            let acc: i64 = (0..d_in).map(|k| act[k] * quant.q[k * d_out + j] as i64).sum();
            assert!(acc.abs() < 1 << 31, "int32 bound broken: {acc}");
            let diag = row.get(j).map_or(0.0, |&x| dg * x);
            y.push((t.folded_bias(j).unwrap_or(f32::NAN) + acc as i32 as f32 * step) + diag);
        }
    }
    y
}

fn check_bits(c: &mut Check, got: &[f32], want: &[f32], what: core::fmt::Arguments<'_>) {
    let bad =
        got.iter().zip(want).position(|(g, w)| g.to_bits() != w.to_bits() && !(g.is_nan() && w.is_nan()));
    if let Some(i) = bad {
        c.that(false, format_args!("{what}: y[{i}] = {:e}, oracle {:e}", got[i], want[i]));
    }
}

fn kernel_cases(s: &mut Suite, k: &KernelInfo) {
    let mut rng = Rng(0x0008_0008);
    let shapes = [(1, 1), (3, 5), (4, 16), (5, 17), (13, 33), (64, 48), (67, 31), (130, 20), (1024, 18)];
    for (d_in, d_out) in shapes {
        let src = source(&mut rng, d_in, d_out);
        let blob = pack(&src, WeightDtype::Q8, "q8", "mcu").expect("pack");
        let t = Transform::with_isa(blob.as_bytes(), k.isa).expect("load");
        s.case(format_args!("{} {d_in}x{d_out}", k.name), |c: &mut Check| {
            c.that(
                t.kernel() == k,
                format_args!("forced {} but the transform runs {}", k.name, t.kernel().name),
            );
            let rows = if d_in >= 1024 { 2 } else { 5 };
            let mut x: Vec<f32> = (0..rows * d_in).map(|_| rng.uniform(-3.0, 3.0) as f32).collect();
            if rows >= 4 {
                // Edge rows: zeros; one huge value beside tiny ones; subnormals; a NaN.
                x[..d_in].fill(0.0);
                x[d_in..2 * d_in]
                    .iter_mut()
                    .enumerate()
                    .for_each(|(k, v)| *v = if k == 0 { 3e38 } else { 1e-30 });
                x[2 * d_in..3 * d_in].iter_mut().for_each(|v| *v = 1e-44 * v.signum());
                x[3 * d_in + d_in / 2] = f32::NAN;
            }
            let want = oracle(&src, &t, &x);
            let mut y = alloc::vec![0f32; rows * d_out];
            let r = t.apply(&x, &mut y);
            c.that(r == Ok(rows), format_args!("{}: apply returned {r:?}", k.name));
            check_bits(c, &y, &want, format_args!("{} {d_in}x{d_out} rows {rows}", k.name));
            if rows >= 4 {
                c.that(
                    y[3 * d_out..4 * d_out].iter().all(|v| v.is_nan()),
                    format_args!("{}: the row with a NaN input is not all NaN", k.name),
                );
            }
            // One row alone gives the bits it has in the batch.
            let mut alone = alloc::vec![0f32; d_out];
            let _ = t.apply(&x[(rows - 1) * d_in..], &mut alone);
            check_bits(c, &alone, &y[(rows - 1) * d_out..], format_args!("{} last row alone", k.name));
        });
    }
}

#[entry]
fn main() -> ! {
    run("q8", |s| {
        let ks: Vec<&KernelInfo> =
            KERNELS.iter().filter(|k| k.dtype == WeightDtype::Q8 && k.isa.is_available()).collect();
        s.case(format_args!("q8 kernels available"), |c: &mut Check| {
            c.that(
                ks.len() >= 2,
                format_args!("{} q8 kernels (expected the Cortex-M and the portable one)", ks.len()),
            );
        });
        for k in ks {
            kernel_cases(s, k);
        }
    })
}
