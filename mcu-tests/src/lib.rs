//! A minimal on-target test harness for glocal on an emulated Cortex-M4F/M7/M55.
//!
//! Each `tests/*.rs` is a `#![no_std] #![no_main]` binary whose entry calls [`run`] with a
//! closure that registers cases on a [`Suite`]. A case fails when any of its checks fails;
//! every case runs (checks record failures instead of panicking), then the harness prints
//! `N passed, M failed` and exits QEMU with status 0 or 1 through semihosting. A panic or a
//! HardFault also prints the counts so far (plus the failure) and exits 1.
#![no_std]

extern crate alloc;

use core::fmt;
use core::sync::atomic::{AtomicU32, Ordering};

use cortex_m as _; // critical-section implementation for cortex-m-semihosting
pub use cortex_m_rt::entry;
use cortex_m_rt::{exception, ExceptionFrame};
use cortex_m_semihosting::{debug, hprintln};
use embedded_alloc::LlffHeap;

pub use cortex_m_semihosting::hprintln as println;

static PASSED: AtomicU32 = AtomicU32::new(0);
static FAILED: AtomicU32 = AtomicU32::new(0);

#[global_allocator]
static HEAP: LlffHeap = LlffHeap::empty();
/// Heap for building test blobs and oracle outputs (the code under test never allocates).
const HEAP_BYTES: usize = 3 << 20;

/// Checks of one case. Prints the first few failures with their message.
pub struct Check {
    failures: u32,
}

impl Check {
    /// Records a failure with `msg` when `ok` is false. Returns `ok`.
    pub fn that(&mut self, ok: bool, msg: fmt::Arguments<'_>) -> bool {
        if !ok {
            self.failures += 1;
            if self.failures <= 4 {
                hprintln!("    check failed: {}", msg);
            }
        }
        ok
    }

    /// Number of failed checks so far.
    pub fn failures(&self) -> u32 {
        self.failures
    }
}

/// A set of cases.
pub struct Suite {
    _private: (),
}

impl Suite {
    /// Runs one case named `name` now and counts it.
    pub fn case(&mut self, name: fmt::Arguments<'_>, f: impl FnOnce(&mut Check)) {
        let mut c = Check { failures: 0 };
        f(&mut c);
        if c.failures == 0 {
            PASSED.fetch_add(1, Ordering::Relaxed);
        } else {
            FAILED.fetch_add(1, Ordering::Relaxed);
            hprintln!("FAILED {} ({} checks)", name, c.failures);
        }
    }
}

fn finish() -> ! {
    let (p, f) = (PASSED.load(Ordering::Relaxed), FAILED.load(Ordering::Relaxed));
    hprintln!("{} passed, {} failed", p, f);
    debug::exit(if f == 0 && p > 0 { debug::EXIT_SUCCESS } else { debug::EXIT_FAILURE });
    #[allow(clippy::empty_loop)]
    loop {}
}

/// Initialises the heap, runs `body`, prints `N passed, M failed` and exits QEMU.
pub fn run(title: &str, body: impl FnOnce(&mut Suite)) -> ! {
    {
        use core::mem::MaybeUninit;
        static mut MEM: [MaybeUninit<u8>; HEAP_BYTES] = [MaybeUninit::uninit(); HEAP_BYTES];
        // SAFETY: called once, before any allocation; MEM is used only by the allocator.
        unsafe { HEAP.init(core::ptr::addr_of_mut!(MEM) as usize, HEAP_BYTES) }
    }
    hprintln!("running {} ({})", title, cpu_name());
    body(&mut Suite { _private: () });
    finish()
}

/// "Cortex-M4", "Cortex-M7", "Cortex-M55" or "Cortex-M85", from CPUID.
pub fn cpu_name() -> &'static str {
    // SAFETY: CPUID (0xE000ED00) is a read-only, always-present System Control Block register.
    let cpuid = unsafe { core::ptr::read_volatile(0xE000_ED00 as *const u32) };
    match (cpuid >> 4) & 0xFFF {
        0xC24 => "Cortex-M4",
        0xC27 => "Cortex-M7",
        0xD22 => "Cortex-M55",
        0xD23 => "Cortex-M85",
        _ => "unknown Cortex-M",
    }
}

/// A free-running count of executed instructions, from SysTick under `qemu -icount shift=0`
/// (one virtual nanosecond per instruction; SysTick counts the 25 MHz CPU clock, so one tick
/// is 40 instructions: [`Counter::calibrate`] measures that ratio instead of assuming it).
pub struct Counter {
    instr_per_tick: f64,
}

impl Counter {
    /// Starts SysTick on the core clock (24-bit, free-running) and calibrates it against a
    /// loop of known length.
    pub fn start() -> Counter {
        // SAFETY: single-threaded bare-metal test program; nothing else owns SysTick.
        let mut syst = unsafe { cortex_m::Peripherals::steal() }.SYST;
        syst.set_clock_source(cortex_m::peripheral::syst::SystClkSource::Core);
        syst.set_reload(0x00FF_FFFF);
        syst.clear_current();
        syst.enable_counter();
        let mut c = Counter { instr_per_tick: 1.0 };
        c.calibrate();
        c
    }

    fn ticks() -> u32 {
        cortex_m::peripheral::SYST::get_current()
    }

    /// Runs `f` and returns the instructions it executed (including call overhead of ~10).
    pub fn measure(&self, f: impl FnOnce()) -> f64 {
        let t0 = Self::ticks();
        f();
        let t1 = Self::ticks();
        // SysTick counts down, wrapping at 2^24 ticks (6.7e8 instructions).
        let ticks = t0.wrapping_sub(t1) & 0x00FF_FFFF;
        ticks as f64 * self.instr_per_tick
    }

    /// Measures ticks for a loop of exactly 2 * N + small instructions.
    fn calibrate(&mut self) {
        const N: u32 = 4_000_000;
        let t0 = Self::ticks();
        spin(N);
        let t1 = Self::ticks();
        let ticks = t0.wrapping_sub(t1) & 0x00FF_FFFF;
        self.instr_per_tick = (2 * N) as f64 / ticks as f64;
    }

    /// Instructions per SysTick tick as calibrated (40 under `-icount shift=0`).
    pub fn instr_per_tick(&self) -> f64 {
        self.instr_per_tick
    }
}

/// Executes exactly `2 * n` instructions in its loop (`subs` + `bne`).
#[inline(never)]
fn spin(n: u32) {
    // SAFETY: a register-only countdown loop; touches no memory.
    unsafe {
        core::arch::asm!("1:", "subs {0}, {0}, #1", "bne 1b", inout(reg) n => _, options(nomem, nostack));
    }
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    hprintln!("FAILED (panic): {}", info);
    FAILED.fetch_add(1, Ordering::Relaxed);
    finish()
}

#[exception]
unsafe fn HardFault(ef: &ExceptionFrame) -> ! {
    // SAFETY: CFSR (0xE000ED28) is a read-only status register of the SCB.
    let cfsr = unsafe { core::ptr::read_volatile(0xE000_ED28 as *const u32) };
    hprintln!("FAILED (HardFault): CFSR={:#010x} pc={:#010x} lr={:#010x}", cfsr, ef.pc(), ef.lr());
    FAILED.fetch_add(1, Ordering::Relaxed);
    finish()
}

/// A small deterministic generator (xorshift32) for test data.
pub struct Rng(pub u32);

impl Rng {
    /// Next raw 32 bits.
    pub fn next_u32(&mut self) -> u32 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        self.0 = x;
        x
    }
    /// Uniform in `[lo, hi)`.
    pub fn uniform(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * (self.next_u32() >> 8) as f64 / (1u32 << 24) as f64
    }
    /// Integer in `lo..=hi`.
    pub fn int(&mut self, lo: i32, hi: i32) -> i32 {
        lo + (self.next_u32() % (hi - lo + 1) as u32) as i32
    }
}

/// A `d x d` blob of `dtype` with random weights in [-0.1, 0.1) and bias 0.125, for the cost
/// benches (`tests/cost.rs`, `tests/insncount.rs`): the same blob for the same dtype and `d`.
/// i8d gets per-row scales about 0.1 / 127 and a diagonal near 0.1, as in gLocal matrices.
pub fn random_blob(dtype: glocal::WeightDtype, d: usize, model: &str) -> glocal::AlignedBlob {
    use glocal::pack::{write_aux, write_blob, BlobSpec};
    use glocal::{bf16, f16, WeightDtype};
    let mut rng = Rng(0xC0DE ^ dtype.code() as u32);
    let bias = alloc::vec![0.125f64; d];
    let spec = BlobSpec {
        dtype,
        d_in: d,
        d_out: d,
        flags: glocal::format::FLAG_NORM_FOLDED | glocal::format::FLAG_HAS_BIAS,
        mean: 0.0,
        std: 1.0,
        model,
        module: "random",
    };
    let mut blob = write_blob(spec, &bias, |_, _, out| {
        let v = rng.uniform(-0.1, 0.1);
        match dtype {
            WeightDtype::F32 => out.copy_from_slice(&(v as f32).to_le_bytes()),
            WeightDtype::F16 => out.copy_from_slice(&f16::from_f64(v).to_le_bytes()),
            WeightDtype::Bf16 => out.copy_from_slice(&bf16::from_f64(v).to_le_bytes()),
            _ => out[0] = (v * 1270.0) as i8 as u8,
        }
    })
    .expect("blob");
    let scales: alloc::vec::Vec<f32> = (0..d).map(|_| (rng.uniform(0.5, 1.0) / 1270.0) as f32).collect();
    let diag: alloc::vec::Vec<f32> = (0..d).map(|_| rng.uniform(0.06, 0.12) as f32).collect();
    write_aux(&mut blob, &scales, &diag);
    blob
}

/// Bytes of stack below the caller's stack pointer that `f` writes (its high-water mark),
/// found by painting 16 KiB below the stack pointer with a pattern and scanning for the
/// lowest word that changed. Exact for code that runs without interrupts, as here.
#[inline(never)]
pub fn stack_high_water(mut f: impl FnMut()) -> usize {
    const PAINT: usize = 16 * 1024;
    const PATTERN: u32 = 0xC0FF_EE42;
    let sp = cortex_m::register::msp::read() as usize;
    // Leave a small gap for this function's own spills between reading SP and calling `f`.
    let top = (sp - 64) & !3;
    let bottom = top - PAINT;
    for a in (bottom..top).step_by(4) {
        // SAFETY: [bottom, top) lies below the current stack pointer inside the RAM region
        // reserved for the stack (the heap and statics end megabytes lower); no interrupt is
        // enabled, so nothing else uses that memory until `f` runs.
        unsafe { core::ptr::write_volatile(a as *mut u32, PATTERN) };
    }
    // An opaque indirect call: `f` must not be inlined into this frame (which lies above `sp`).
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
    sp - lowest
}
