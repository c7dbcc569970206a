//! glocal on a Cortex-M0 (no FPU; qemu `microbit`, nRF51: 256 KiB flash, 16 KiB RAM): a `q8`
//! blob of a 256 x 256 crop of the real resnet18/avgpool gLocal transform in flash, applied to
//! golden rows as f32 and as int8. Each result must be within 8e-3 of max |y_ref| of the float64
//! reference and bit for bit the host's `q8` result for the same blob and inputs (build.rs). Also
//! measures the stack of `Transform::apply` by stack painting. Prints through semihosting and
//! exits 0 (pass) or 1 (fail).
#![no_std]
#![no_main]

use cortex_m as _; // critical-section implementation for semihosting
use cortex_m_rt::{entry, exception, ExceptionFrame};
use cortex_m_semihosting::{debug, hprintln};
use glocal::QuantizedRows;

/// Every call into glocal, kept out of line so that the code LTO inlines from glocal lands in
/// these symbols (`footprint.py` counts them as glocal's) and not in the firmware's `main`.
mod api {
    use glocal::{Error, QuantizedRows, Transform};

    #[inline(never)]
    pub fn load(blob: &[u8]) -> Result<Transform<'_>, Error> {
        Transform::new(blob)
    }

    #[inline(never)]
    pub fn apply(t: &Transform<'_>, x: &[f32], y: &mut [f32]) -> Result<usize, Error> {
        t.apply(x, y)
    }

    #[inline(never)]
    pub fn apply_s8(t: &Transform<'_>, x: QuantizedRows<'_>, y: &mut [f32]) -> Result<usize, Error> {
        t.apply_quantized(x, y)
    }
}

mod golden {
    include!(concat!(env!("OUT_DIR"), "/golden.rs"));
}
use golden::{D_IN, D_OUT, ROWS};

/// The packed transform, in flash, 64-byte aligned, used in place.
static BLOB: &[u8] = glocal::embed_blob!(concat!(env!("OUT_DIR"), "/transform_q8.glw"));

/// Error allowed against the float64 formula, relative to max |y_ref| (q8's golden worst is
/// about 3.2e-3 on the full transforms).
const TOLERANCE: f64 = 8e-3;

/// Reported stack limit: q8 keeps its 2 KiB activation buffer (1024 i16) on the stack here.
const STACK_LIMIT: usize = 3 * 1024;

fn exit(ok: bool) -> ! {
    debug::exit(if ok { debug::EXIT_SUCCESS } else { debug::EXIT_FAILURE });
    #[allow(clippy::empty_loop)]
    loop {}
}

/// Compares `y` with the float64 reference (relative error) and the host's bits; prints both.
fn check(what: &str, y: &[f32], reference: &[u64], host: &[u32]) -> bool {
    let (mut max_err, mut max_ref) = (0f64, 0f64);
    for (&got, &bits) in y.iter().zip(reference) {
        let r = f64::from_bits(bits);
        max_err = max_err.max(if got.is_nan() { f64::INFINITY } else { (got as f64 - r).abs() });
        max_ref = max_ref.max(r.abs());
    }
    let rel = max_err / max_ref;
    let differ = y.iter().zip(host).filter(|(a, &b)| a.to_bits() != b).count();
    hprintln!(
        "{}: max |y - y_ref| = {:.3e} = {:.3e} of max |y_ref| {:.4} (tolerance {:e}); bits differing from the host's q8: {} of {}",
        what,
        max_err,
        rel,
        max_ref,
        TOLERANCE,
        differ,
        y.len()
    );
    rel <= TOLERANCE && differ == 0 && y.len() == host.len()
}

extern "C" {
    /// First free RAM word after `.bss`/`.uninit` (cortex-m-rt's link.x): the painted stack
    /// region must stay above it.
    static __sheap: u32;
}

/// Stack bytes below the caller's stack pointer that `f` writes: paint the free RAM below SP
/// with a pattern, call `f` through an opaque pointer (so it cannot be inlined into this frame),
/// find the lowest changed word. The approach of mcu-tests' `stack_high_water`, bounded by the
/// end of the statics since this RAM is 16 KiB.
fn stack_high_water(mut f: impl FnMut()) -> usize {
    const PATTERN: u32 = 0xC0FF_EE42;
    let sp = cortex_m::register::msp::read() as usize;
    // Leave a small gap for this function's own spills between reading SP and calling `f`.
    let top = (sp - 64) & !3;
    let bottom = (core::ptr::addr_of!(__sheap) as usize + 3) & !3;
    for a in (bottom..top).step_by(4) {
        // SAFETY: [bottom, top) lies between the end of the statics and the current stack
        // pointer: memory no live object uses; no interrupt is enabled, so nothing else writes
        // it until `f` runs.
        unsafe { core::ptr::write_volatile(a as *mut u32, PATTERN) };
    }
    let f: &mut dyn FnMut() = core::hint::black_box(&mut f);
    f();
    let mut lowest = top;
    for a in (bottom..top).step_by(4) {
        // SAFETY: as above; reading back the painted region.
        if unsafe { core::ptr::read_volatile(a as *const u32) } != PATTERN {
            lowest = a;
            break;
        }
    }
    if lowest == bottom {
        hprintln!("stack painting: the whole free region ({} bytes) was used", top - bottom);
    }
    sp - lowest
}

fn run() -> Result<bool, glocal::Error> {
    let t = api::load(BLOB)?;
    let h = t.header();
    hprintln!(
        "glocal firmware (Cortex-M0, no FPU): {}/{} d={}x{} {} weights, blob {} bytes in flash, kernel {}",
        h.model(),
        h.module(),
        t.d_in(),
        t.d_out(),
        t.dtype(),
        BLOB.len(),
        t.kernel().name
    );
    let mut y = [f32::NAN; ROWS * D_OUT];
    api::apply(&t, &golden::X, &mut y)?;
    hprintln!("rows {}: y[0][0..4] = {:?}", ROWS, &y[..4]);
    let f32_ok = check("f32 inputs ", &y, &golden::Y_REF_BITS, &golden::Y_HOST_BITS);

    y.fill(f32::NAN);
    let xq = QuantizedRows::i8(&golden::XQ, golden::XQ_SCALE, golden::XQ_ZERO_POINT);
    api::apply_s8(&t, xq, &mut y)?;
    let s8_ok = check("int8 inputs", &y, &golden::YQ_REF_BITS, &golden::YQ_HOST_BITS);

    let one = stack_high_water(|| {
        let r =
            api::apply(core::hint::black_box(&t), core::hint::black_box(&golden::X[..D_IN]), &mut y[..D_OUT]);
        core::hint::black_box(r.is_ok());
    });
    let all = stack_high_water(|| {
        let r = api::apply(core::hint::black_box(&t), core::hint::black_box(&golden::X[..]), &mut y[..]);
        core::hint::black_box(r.is_ok());
    });
    let quantized = stack_high_water(|| {
        let r = api::apply_s8(core::hint::black_box(&t), core::hint::black_box(xq), &mut y[..]);
        core::hint::black_box(r.is_ok());
    });
    let worst = one.max(all).max(quantized);
    hprintln!(
        "stack high-water: apply 1 row {} bytes, {} rows {}, apply_quantized {} rows {} (limit {})",
        one,
        ROWS,
        all,
        ROWS,
        quantized,
        STACK_LIMIT
    );
    Ok(f32_ok && s8_ok && worst <= STACK_LIMIT)
}

#[entry]
fn main() -> ! {
    match run() {
        Ok(true) => {
            hprintln!("PASS");
            exit(true)
        }
        Ok(false) => {
            hprintln!(
                "FAIL: error above tolerance, bits differing from the host's, or stack above the limit"
            );
            exit(false)
        }
        Err(e) => {
            hprintln!("FAIL: {}", e);
            exit(false)
        }
    }
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    hprintln!("FAIL (panic): {}", info);
    exit(false)
}

#[exception]
unsafe fn HardFault(ef: &ExceptionFrame) -> ! {
    hprintln!("FAIL (HardFault) pc={:#010x}", ef.pc());
    exit(false)
}
