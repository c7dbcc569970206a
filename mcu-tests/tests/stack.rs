//! Worst-case stack of `Transform::apply` for every kernel, weight dtype and input/output
//! element type, and of `Transform::apply_quantized` (int8 and uint8 inputs), measured by
//! stack painting on the emulated Cortex-M.
//!
//! Limits: 1 KiB for the kernels `Isa::best()` selects here (what `Transform::new` and the C
//! API run on a Cortex-M4F/M7); 2 KiB for the portable scalar kernel, which is only reached by
//! forcing it (`Transform::with_isa(.., Isa::Scalar)`) on this target and is reported as measured.
//! q8 (every kernel): its 2 KiB activation buffer plus 1 KiB (`Q8_LIMIT`), reported apart.
#![no_std]
#![no_main]

extern crate alloc;

use glocal::kernel::{Isa, KERNELS};
use glocal::pack::{pack, Source};
use glocal::{bf16, f16, Element, QuantizedRows, Transform, WeightDtype};
use mcu_tests::{entry, println, run, stack_high_water, Check, Suite};

const LIMIT: usize = 1024;
const SCALAR_LIMIT: usize = 2048;
/// q8 keeps a row's activations on the stack: `q8::ACT_LEN` (1024 on bare metal) i16, 2 KiB,
/// plus the driver's and kernel's frames.
const Q8_LIMIT: usize = 2 * glocal::kernel::q8::ACT_LEN + 1024;

fn one<I: Element, O: Element>(t: &Transform<'_>, rows: usize) -> usize {
    let x = alloc::vec![I::from_f32(0.5); rows * t.d_in()];
    let mut y = alloc::vec![O::from_f32(0.0); rows * t.d_out()];
    stack_high_water(|| {
        let _ = core::hint::black_box(t).apply(core::hint::black_box(&x[..]), &mut y[..]);
    })
}

fn quantized<O: Element>(t: &Transform<'_>, rows: usize, signed: bool) -> usize {
    let x = alloc::vec![0x85u8; rows * t.d_in()];
    let xi = alloc::vec![-123i8; rows * t.d_in()];
    let mut y = alloc::vec![O::from_f32(0.0); rows * t.d_out()];
    stack_high_water(|| {
        let q =
            if signed { QuantizedRows::i8(&xi[..], 0.5, -3) } else { QuantizedRows::u8(&x[..], 0.5, 128) };
        let r = core::hint::black_box(t).apply_quantized(core::hint::black_box(q), &mut y[..]);
        core::hint::black_box(r.is_ok());
    })
}

fn io_matrix(t: &Transform<'_>, rows: usize) -> usize {
    [
        quantized::<f32>(t, rows, true),
        quantized::<f32>(t, rows, false),
        quantized::<f16>(t, rows, true),
        quantized::<bf16>(t, rows, false),
        one::<f32, f32>(t, rows),
        one::<f32, f16>(t, rows),
        one::<f32, bf16>(t, rows),
        one::<f16, f32>(t, rows),
        one::<f16, f16>(t, rows),
        one::<f16, bf16>(t, rows),
        one::<bf16, f32>(t, rows),
        one::<bf16, f16>(t, rows),
        one::<bf16, bf16>(t, rows),
    ]
    .into_iter()
    .max()
    .unwrap_or(0)
}

fn cases(s: &mut Suite) {
    let mut worst = 0;
    for k in KERNELS.iter().filter(|k| k.isa.is_available()) {
        s.case(format_args!("stack {}", k.name), |c: &mut Check| {
            let d = 133;
            let src = Source {
                d_in: d,
                d_out: d,
                weights: (0..d * d).map(|i| ((i % 7) as f64 - 3.0) / 8.0).collect(),
                bias: Some(alloc::vec![0.25; d]),
                mean: 0.5,
                std: 2.0,
            };
            let blob = pack(&src, k.dtype, "stack", "test").expect("pack");
            let t = Transform::with_isa(blob.as_bytes(), k.isa).expect("load");
            let used = (1..=5).map(|rows| io_matrix(&t, rows)).max().unwrap_or(0);
            let limit = match (k.dtype, k.isa == Isa::best()) {
                (WeightDtype::Q8, _) => Q8_LIMIT,
                (_, true) => LIMIT,
                (_, false) => SCALAR_LIMIT,
            };
            println!("  {:<30} worst stack {} bytes (limit {})", k.name, used, limit);
            if k.isa == Isa::best() && k.dtype != WeightDtype::Q8 {
                worst = worst.max(used);
            }
            c.that(used > 0 && used <= limit, format_args!("{}: {used} bytes > {limit}", k.name));
        });
    }
    println!(
        "worst-case stack of Transform::apply and apply_quantized with the default kernel: {} bytes (limit {})",
        worst, LIMIT
    );
}

#[entry]
fn main() -> ! {
    run("stack", cases)
}
