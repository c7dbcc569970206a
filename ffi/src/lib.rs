//! # glocal-ffi: the C API of glocal
//!
//! This crate builds `libglocal.a` and `libglocal.so` (`-lglocal`) with the header
//! `include/glocal.h`, generated from this source by cbindgen. `ffi/README.md` states the API
//! conventions (ownership and lifetimes, threading, errors, alignment); the doc comments below
//! are copied into the header.
//!
//! ## Panics at the boundary
//! No Rust panic ever crosses into C:
//! - With the `std` feature (hosted targets) every exported function that reaches the core or
//!   the standard library runs inside [`boundary::guard`] (`catch_unwind`); a panic, which the
//!   core is written never to raise, becomes `GLOCAL_STATUS_INTERNAL_PANIC` (or 0 / NULL for
//!   the queries). `glocal_status_str`, `glocal_status_name`, `glocal_version` and
//!   `glocal_mapped_transform` are not wrapped: each is a table lookup, a constant or an
//!   address computation, panic-free by construction.
//! - Without `std` (bare metal, `target_os = "none"`, where panics abort) the crate's panic
//!   handler executes a permanently undefined instruction (`udf`) on Arm, which raises a
//!   HardFault the firmware handles, and spins elsewhere. The apply path is panic-free: the
//!   core validates every size once, at init, and the kernels index only through iterators and
//!   checked `get`.
//!
//! ## Memory
//! Nothing here allocates except `glocal_mapped_open` (one `Box` per mapping, hosted only).
//! `glocal_transform` storage belongs to the caller.

#![no_std]
#![allow(non_camel_case_types)]

#[cfg(any(feature = "std", test))]
extern crate std;

mod boundary;
#[cfg(feature = "std")]
mod mapped;
mod status;
#[cfg(all(test, feature = "std"))]
mod tests;
mod transform;

#[cfg(feature = "std")]
pub use mapped::{glocal_mapped, glocal_mapped_close, glocal_mapped_open, glocal_mapped_transform};
pub use status::{glocal_status, glocal_status_code, glocal_status_name, glocal_status_str};
pub use transform::{
    glocal_apply_bf16, glocal_apply_bf16_ex, glocal_apply_bf16_ws, glocal_apply_f16, glocal_apply_f16_ex,
    glocal_apply_f16_ws, glocal_apply_f32, glocal_apply_f32_ex, glocal_apply_f32_ws, glocal_apply_s8,
    glocal_apply_u8, glocal_dtype, glocal_transform, glocal_transform_dim_in, glocal_transform_dim_out,
    glocal_transform_dtype, glocal_transform_init, glocal_transform_kernel, glocal_transform_measured_error,
    glocal_workspace_len, GLOCAL_APPLY_L2_NORMALIZE, GLOCAL_TRANSFORM_SIZE,
};

use core::ffi::c_char;

/// Major version of this header. The library's version is `glocal_version()`.
pub const GLOCAL_VERSION_MAJOR: u32 = 0;
/// Minor version of this header.
pub const GLOCAL_VERSION_MINOR: u32 = 1;
/// Patch version of this header.
pub const GLOCAL_VERSION_PATCH: u32 = 0;

/// Parses a decimal `CARGO_PKG_VERSION_*` component at compile time.
const fn parse_u32(s: &str) -> u32 {
    let b = s.as_bytes();
    let mut i = 0;
    let mut v = 0u32;
    while i < b.len() {
        assert!(b[i].is_ascii_digit(), "version component is not a decimal number");
        v = v * 10 + (b[i] - b'0') as u32;
        i += 1;
    }
    v
}

// The header's version macros come from the constants above (cbindgen cannot evaluate
// `env!`); these asserts fail the build when they drift from ffi/Cargo.toml.
const _: () = assert!(GLOCAL_VERSION_MAJOR == parse_u32(env!("CARGO_PKG_VERSION_MAJOR")));
const _: () = assert!(GLOCAL_VERSION_MINOR == parse_u32(env!("CARGO_PKG_VERSION_MINOR")));
const _: () = assert!(GLOCAL_VERSION_PATCH == parse_u32(env!("CARGO_PKG_VERSION_PATCH")));

static VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), "\0");

/// The library's version, `"MAJOR.MINOR.PATCH"`: a static NUL-terminated string.
///
/// Compare with the `GLOCAL_VERSION_*` macros to detect a header/library mismatch.
#[no_mangle]
pub extern "C" fn glocal_version() -> *const c_char {
    VERSION.as_ptr().cast()
}

/// Bare metal: a panic (which the apply path cannot raise) traps instead of unwinding into C.
#[cfg(all(target_os = "none", not(test)))]
#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    #[cfg(target_arch = "arm")]
    // SAFETY: `udf` is the architecturally undefined instruction; it raises a UsageFault or
    // HardFault and never returns, which is what `noreturn` promises.
    unsafe {
        core::arch::asm!("udf #0xfe", options(noreturn, nomem, nostack))
    }
    #[cfg(not(target_arch = "arm"))]
    loop {
        core::hint::spin_loop();
    }
}
