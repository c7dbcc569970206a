//! The instruction-count bench: `Transform::apply` between two marker functions, for every
//! weight dtype at d = 512 (f32 inputs and outputs), batch 1 and batch 8, with the kernel
//! `Transform::new` chooses. `insncount.sh` runs it under the qemu TCG plugin of
//! `../shared/tools/qemu-insncount`, which counts the instructions between the markers; this
//! binary prints, in the same order, one `window <label> <macs>` line per counted window (the
//! first is empty: the markers' own overhead, subtracted by the script).
//!
//! Run without the plugin (plain `cargo test`) it only checks that every call succeeds.
#![no_std]
#![no_main]

extern crate alloc;

use glocal::{Transform, WeightDtype};
use mcu_tests::{entry, println, random_blob, run, Check, Rng, Suite};

const D: usize = 512;

/// The window opens at this function's first instruction.
#[inline(never)]
#[no_mangle]
pub extern "C" fn bench_start() {
    // A body different from `bench_stop`'s, so identical-code folding cannot merge them.
    core::hint::black_box(1u32);
}

/// The window closes at this function's first instruction.
#[inline(never)]
#[no_mangle]
pub extern "C" fn bench_stop() {
    core::hint::black_box(2u64);
}

fn cases(s: &mut Suite) {
    bench_start();
    bench_stop();
    println!("window empty 0");
    for dtype in WeightDtype::ALL {
        let blob = random_blob(dtype, D, "insncount");
        let t = Transform::new(blob.as_bytes()).expect("load");
        for rows in [1usize, 8] {
            let mut rng = Rng(7);
            let x: alloc::vec::Vec<f32> = (0..rows * D).map(|_| rng.uniform(-2.0, 2.0) as f32).collect();
            let mut y = alloc::vec![f32::NAN; rows * D];
            let (t, x) = (core::hint::black_box(&t), core::hint::black_box(&x[..]));
            bench_start();
            let r = t.apply(x, &mut y);
            bench_stop();
            println!("window {}:{}:batch{} {}", dtype, t.kernel().name, rows, rows * D * D);
            s.case(format_args!("apply {dtype} batch {rows}"), |c: &mut Check| {
                c.that(r == Ok(rows), format_args!("apply returned {r:?}"));
                c.that(y.iter().all(|v| v.is_finite()), format_args!("an output is not finite"));
            });
        }
    }
}

#[entry]
fn main() -> ! {
    run("insncount", cases)
}
