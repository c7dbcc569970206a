//! Executed instructions per multiply-add of `Transform::apply` on the emulated Cortex-M,
//! counted with SysTick under `qemu -icount shift=0` (one virtual ns per instruction).
//! d_in = d_out = 512 (resnet18/avgpool's shape), random weights, f32 inputs and outputs
//! unless stated. Also guards the kernel against regressions: fails above the limits below.
#![no_std]
#![no_main]

extern crate alloc;

use glocal::kernel::{Isa, KERNELS};
use glocal::{f16, Element, Transform, WeightDtype};
use mcu_tests::{entry, println, random_blob, run, Check, Counter, Rng, Suite};

const D: usize = 512;

/// Instructions per multiply-add the default kernel must stay under (batch 1, f32 in/out):
/// the Cortex-M kernel on M4F/M7, the Helium kernel (issue 22's targets) on M55.
fn limit(isa: Isa, dtype: WeightDtype) -> f64 {
    match (isa.name(), dtype) {
        // q8: the SXTB16/SMLAD kernel (the portable one on M55, autovectorised, until Helium
        // has its own) plus the per-row quantization and per-output epilogue.
        (_, WeightDtype::Q8) => 1.50,
        ("helium", WeightDtype::F32) => 0.60,
        ("helium", WeightDtype::F16 | WeightDtype::Bf16) => 0.70,
        ("helium", _) => 0.95,
        (_, WeightDtype::F32) => 1.20,
        (_, WeightDtype::F16) => 2.30,
        (_, WeightDtype::Bf16) => 2.85,
        _ => 4.00,
    }
}

fn per_mac<I: Element>(ctr: &Counter, t: &Transform<'_>, rows: usize) -> f64 {
    let mut rng = Rng(7);
    let x: alloc::vec::Vec<I> = (0..rows * D).map(|_| I::from_f32(rng.uniform(-2.0, 2.0) as f32)).collect();
    let mut y = alloc::vec![0f32; rows * D];
    let _ = t.apply(&x, &mut y); // warm: same code path, nothing to warm in qemu but harmless
    let n = ctr.measure(|| {
        let _ = core::hint::black_box(t).apply(core::hint::black_box(&x[..]), &mut y[..]);
    });
    n / (rows * D * D) as f64
}

fn cases(s: &mut Suite) {
    let ctr = Counter::start();
    println!("instructions per SysTick tick (calibrated): {:.3}", ctr.instr_per_tick());
    println!("| weights | kernel | batch 1 | batch 4 | batch 8 | batch 1, f16 in |");
    println!("|---|---|---|---|---|---|");
    for dtype in WeightDtype::ALL {
        let blob = random_blob(dtype, D, "cost");
        let (mut fast, mut fast8, mut scalar) = (0.0, 0.0, 0.0);
        for k in KERNELS.iter().filter(|k| k.dtype == dtype && k.isa.is_available()) {
            let t = Transform::with_isa(blob.as_bytes(), k.isa).expect("load");
            let (b1, b4, b8, h1) = (
                per_mac::<f32>(&ctr, &t, 1),
                per_mac::<f32>(&ctr, &t, 4),
                per_mac::<f32>(&ctr, &t, 8),
                per_mac::<f16>(&ctr, &t, 1),
            );
            println!("| {} | {} | {:.3} | {:.3} | {:.3} | {:.3} |", dtype, k.name, b1, b4, b8, h1);
            if k.isa == Isa::Scalar {
                scalar = b1;
            } else if k.isa == Isa::best() {
                (fast, fast8) = (b1, b8);
            }
        }
        let best = Isa::best();
        s.case(format_args!("cost {dtype}"), |c: &mut Check| {
            let lim = limit(best, dtype);
            c.that(
                fast > 0.25 && fast <= lim,
                format_args!("{dtype}: {} {fast:.3} instr/MAC, limit {lim}", best.name()),
            );
            // (Helium's q8 entry runs the portable kernel until it has its own.)
            let same_kernel = dtype == WeightDtype::Q8 && best.name() == "helium";
            c.that(
                fast < scalar || same_kernel,
                format_args!("{dtype}: {} {fast:.3} not below scalar {scalar:.3}", best.name()),
            );
            // Helium reuses each widened weight vector across a tile of rows: batch 8 must cost
            // at least 25 % less per multiply-add than batch 1.
            // (Not q8: its driver quantizes and sums one row at a time.)
            if best.name() == "helium" && dtype != WeightDtype::Q8 {
                c.that(
                    fast8 <= 0.75 * fast,
                    format_args!("{dtype}: batch 8 {fast8:.3} instr/MAC not 25 % below batch 1 {fast:.3}"),
                );
            }
        });
    }
}

#[entry]
fn main() -> ! {
    run("cost", cases)
}
