//! glocal on a Cortex-M4F/M7 or (built for `thumbv8m.main-none-eabihf` with
//! `-C target-cpu=cortex-m55`, see .cargo/config.toml) a Cortex-M55 with Helium: the real resnet18/avgpool gLocal transform (d = 512, f16
//! weights, 512 KiB) embedded in flash, applied to golden inputs whose float64 references are
//! known. Prints the error and exits 0 (pass) or 1 (fail) through semihosting.
#![no_std]
#![no_main]

use cortex_m as _; // critical-section implementation for semihosting
use cortex_m_rt::{entry, exception, ExceptionFrame};
use cortex_m_semihosting::{debug, hprintln};
use glocal::kernel::Isa;
use glocal::Transform;

mod golden {
    include!(concat!(env!("OUT_DIR"), "/golden.rs"));
}
use golden::{D_IN, D_OUT, ROWS};

/// The packed transform, in flash, 64-byte aligned, used in place.
static BLOB: &[u8] = glocal::embed_blob!(concat!(env!("OUT_DIR"), "/transform_f16.glw"));

/// Absolute error allowed against the float64 formula: f16 storage of the folded weights
/// gives about 1.6e-4 on this transform (|y| <= 0.52); f32 accumulation adds ~1e-6.
const TOLERANCE: f64 = 1e-3;

/// How far the Helium (fused multiply-add) results may be from the portable kernel's here:
/// 512 terms of |x w| summing to ~0.5 differ by at most a few ulps of 0.5 (6e-8 each).
const FUSED_AGREEMENT: f32 = 2e-6;

fn exit(ok: bool) -> ! {
    debug::exit(if ok { debug::EXIT_SUCCESS } else { debug::EXIT_FAILURE });
    #[allow(clippy::empty_loop)]
    loop {}
}

fn run() -> Result<f64, glocal::Error> {
    let t = Transform::new(BLOB)?;
    let h = t.header();
    hprintln!(
        "glocal firmware: {}/{} d={}x{} {} weights, blob {} bytes in flash, kernel {}",
        h.model(),
        h.module(),
        t.d_in(),
        t.d_out(),
        t.dtype(),
        BLOB.len(),
        t.kernel().name
    );
    let mut x = [0f32; ROWS * D_IN];
    for (v, &b) in x.iter_mut().zip(golden::X_BITS.iter()) {
        *v = f32::from_bits(b);
    }
    let mut y = [f32::NAN; ROWS * D_OUT];
    let rows = t.apply(&x, &mut y)?;
    // The portable kernel must agree bit for bit with the Cortex-M4F/M7 kernel (same operations
    // in the same order); the Helium kernels fuse each multiply-add (one rounding instead of
    // two), so on the M55 they agree within a few f32 ulps of the sum.
    let scalar = Transform::with_isa(BLOB, Isa::Scalar)?;
    let mut ys = [f32::NAN; D_OUT];
    scalar.apply(&x[..D_IN], &mut ys)?;
    let fused = t.kernel().isa.name() == "helium";
    let same = y[..D_OUT]
        .iter()
        .zip(&ys)
        .all(|(a, b)| a.to_bits() == b.to_bits() || (fused && (a - b).abs() <= FUSED_AGREEMENT));
    let (mut max_err, mut max_ref) = (0f64, 0f64);
    for (&got, &bits) in y.iter().zip(golden::Y_REF_BITS.iter()) {
        let r = f64::from_bits(bits);
        max_err = max_err.max(if got.is_nan() { f64::INFINITY } else { (got as f64 - r).abs() });
        max_ref = max_ref.max(r.abs());
    }
    hprintln!("rows {}: y[0][0..4] = {:?}", rows, &y[..4]);
    hprintln!("max |y - y_ref| = {:e} (max |y_ref| = {:.4}, tolerance {:e})", max_err, max_ref, TOLERANCE);
    if fused {
        hprintln!("scalar kernel within {:e} on row 0 (fused multiply-adds): {}", FUSED_AGREEMENT, same);
    } else {
        hprintln!("scalar kernel bit-identical on row 0: {}", same);
    }
    Ok(if same { max_err } else { f64::INFINITY })
}

#[entry]
fn main() -> ! {
    match run() {
        Ok(err) if err <= TOLERANCE => {
            hprintln!("PASS");
            exit(true)
        }
        Ok(_) => {
            hprintln!("FAIL: error above tolerance or kernels disagree");
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
