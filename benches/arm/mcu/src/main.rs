//! The Cortex-M half of the Arm cost harness (`benches/arm/run.py` builds it per core and runs
//! it under `qemu-system-arm` with the instruction-count plugin).
//!
//! The blobs (one per weight dtype), the inputs and the f64 oracle's outputs are produced at
//! build time by `build.rs` from `benches/arm/common/synth.rs`. Each `case` line printed over
//! semihosting belongs to one measurement window between the two marker functions, in order;
//! the first window is empty (markers only). Errors are judged by run.py; a CMSIS-DSP q7
//! result that differs from its integer oracle, or a glocal q8 result that differs from the
//! host's (bit for bit), prints `FAIL` here.
#![no_std]
#![no_main]

use core::hint::black_box;

#[cfg(target_arch = "arm")]
use cortex_m as _; // critical-section implementation for semihosting
#[cfg(target_arch = "arm")]
use cortex_m_rt::{entry, exception, ExceptionFrame};
#[cfg(target_arch = "arm")]
use cortex_m_semihosting::{debug, hprintln};
use glocal::Transform;

/// riscv32imac under `qemu-riscv32` (user mode): entry point, output and exit by Linux system
/// calls, in place of cortex-m-rt and semihosting.
#[cfg(target_arch = "riscv32")]
#[macro_use]
mod rv32;
#[cfg(target_arch = "riscv32")]
use rv32::exit_code;

/// 64-byte aligned storage: blobs must be 64-byte aligned, and the f32/f64 views need 8.
#[repr(C, align(64))]
pub struct Aligned<T: ?Sized>(pub T);

mod data {
    use super::Aligned;
    include!(concat!(env!("OUT_DIR"), "/bench_data.rs"));
}
use data::{BATCHES, D, MAX_B};

#[cfg(glocal_cmsis)]
mod cmsis;

/// Opens a measurement window (the plugin starts counting at its first instruction).
/// Distinct bodies keep identical-code folding from merging the two markers.
#[no_mangle]
#[inline(never)]
pub extern "C" fn glocal_bench_start(tag: u32) -> u32 {
    black_box(tag.wrapping_mul(3))
}

/// Closes a measurement window.
#[no_mangle]
#[inline(never)]
pub extern "C" fn glocal_bench_stop(tag: u32) -> u32 {
    black_box(tag.wrapping_add(0x5a5a))
}

/// Outputs of every case (RAM: the Cortex-M0 board has 16 KiB).
static mut Y: [f32; MAX_B * D] = [0.0; MAX_B * D];

/// `bytes` as f32 values.
fn as_f32(bytes: &'static Aligned<[u8]>) -> &'static [f32] {
    // SAFETY: the storage is 64-byte aligned (so 4-byte aligned), lives forever, and every bit
    // pattern is a valid f32; the length is rounded down to whole elements.
    unsafe { core::slice::from_raw_parts(bytes.0.as_ptr().cast::<f32>(), bytes.0.len() / 4) }
}

/// `bytes` as f64 values.
fn as_f64(bytes: &'static Aligned<[u8]>) -> &'static [f64] {
    // SAFETY: as in `as_f32`, with 8-byte elements (the storage is 64-byte aligned).
    unsafe { core::slice::from_raw_parts(bytes.0.as_ptr().cast::<f64>(), bytes.0.len() / 8) }
}

/// The inputs (`MAX_B x D`, f32) and the oracle's outputs (`MAX_B x D`, f64).
pub fn inputs() -> (&'static [f32], &'static [f64]) {
    (as_f32(&data::X), as_f64(&data::Y_REF))
}

/// Largest |y - y_ref| (a NaN or infinity counts as infinite) and largest |y_ref|.
pub fn error(y: &[f32], y_ref: &[f64]) -> (f64, f64) {
    let (mut e, mut r) = (0f64, 0f64);
    for (&a, &b) in y.iter().zip(y_ref) {
        e = e.max(if a.is_finite() { (a as f64 - b).abs() } else { f64::INFINITY });
        r = r.max(b.abs());
    }
    (e, r)
}

/// The output buffer.
pub fn y_buf() -> &'static mut [f32; MAX_B * D] {
    // SAFETY: single-threaded firmware without interrupts touching Y; each caller uses the
    // reference only until its next call (no two live at once).
    unsafe { &mut *core::ptr::addr_of_mut!(Y) }
}

fn exit(ok: bool) -> ! {
    #[cfg(target_arch = "riscv32")]
    exit_code(if ok { 0 } else { 1 });
    #[cfg(target_arch = "arm")]
    {
        debug::exit(if ok { debug::EXIT_SUCCESS } else { debug::EXIT_FAILURE });
        #[allow(clippy::empty_loop)]
        loop {}
    }
}

#[cfg(target_arch = "arm")]
#[entry]
fn main() -> ! {
    bench()
}

/// Every case, then exit.
fn bench() -> ! {
    let (x, y_ref) = inputs();
    glocal_bench_start(0);
    glocal_bench_stop(0);
    hprintln!("case empty - 0 0 0 0 -");
    for &(name, blob) in data::BLOBS {
        let t = match Transform::new(&blob.0) {
            Ok(t) => t,
            Err(e) => {
                hprintln!("FAIL {}: {}", name, e);
                exit(false)
            }
        };
        for &b in BATCHES {
            let (xb, yb) = (&x[..b * D], &mut y_buf()[..b * D]);
            yb.fill(f32::NAN);
            let _ = t.apply(xb, yb); // warm-up, as on aarch64 (nothing to warm here)
            yb.fill(f32::NAN);
            glocal_bench_start(1);
            let r = t.apply(black_box(xb), yb);
            glocal_bench_stop(1);
            if let Err(e) = r {
                hprintln!("FAIL {} apply: {}", name, e);
                exit(false)
            }
            #[cfg(glocal_q8)]
            if name == "q8" {
                let want = &as_f32(&data::Y_Q8)[..b * D];
                if let Some(i) = (0..b * D).find(|&i| yb[i].to_bits() != want[i].to_bits()) {
                    hprintln!(
                        "FAIL q8 batch {}: y[{}] = {:e}, the host's portable kernel gives {:e}",
                        b,
                        i,
                        yb[i],
                        want[i]
                    );
                    exit(false)
                }
            }
            let (e, m) = error(yb, &y_ref[..b * D]);
            hprintln!("case glocal {} {} {} {:e} {:e} {}", name, b, b * D * D, e, m, t.kernel().name);
        }
    }
    #[cfg(glocal_cmsis)]
    if !cmsis::run() {
        exit(false)
    }
    exit(true)
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    hprintln!("FAIL (panic): {}", info);
    exit(false)
}

#[cfg(target_arch = "arm")]
#[exception]
unsafe fn HardFault(ef: &ExceptionFrame) -> ! {
    // SAFETY: CFSR (0xE000ED28) is a read-only status register of the SCB.
    let cfsr = unsafe { core::ptr::read_volatile(0xE000_ED28 as *const u32) };
    hprintln!("FAIL (HardFault): CFSR={:#010x} pc={:#010x}", cfsr, ef.pc());
    exit(false)
}
