//! `cfg` aliases for the kernel registry, so each condition is spelled once:
//!
//! - `glocal_cortex_m`: bare-metal hard-float Arm (Cortex-M4F/M7/M33/M55/M85), where the
//!   Cortex-M kernels are compiled;
//! - `glocal_portable`: the portable scalar kernels are compiled (everywhere, except Cortex-M
//!   firmware without the `cortexm-scalar` feature, which keeps them out of flash);
//! - `glocal_helium`: the build targets a Cortex-M core with MVE (Helium);
//! - `glocal_cortex_m_fpu`: the scalar-FPU Cortex-M kernels (`Isa::CortexM`) are compiled: on
//!   every `glocal_cortex_m` target but Helium builds without `cortexm-scalar` (Helium always
//!   wins there, so they would only take flash; the feature keeps them to test against).
//! - `glocal_thumbv6m`: Armv6-M (Cortex-M0/M0+), where the portable q8 kernel's loop is
//!   assembly (`src/kernel/q8_v6m.s`) and q8's quantization multiplies in integers;
//! - `glocal_cortex_m_dsp`: `glocal_cortex_m_fpu` on a v7E-M core (M4F, M7), which always has
//!   the DSP extension (SXTB16, SMLAD: the q8 kernel). Not on `thumbv8m.main`: the extension is
//!   optional there, and `global_asm!` is not assembled with the features `target-cpu` implies
//!   (a Cortex-M55 build rejects SMLAD), so those builds keep the portable q8 kernel.
//!
//! Stable rustc reports no Arm target features through `cfg(target_feature)` on the
//! `thumbv8m.main` targets (`rustc --print cfg -C target-cpu=cortex-m55` lists none), and there
//! is no `thumbv8.1m` target: the core is named only by `-C target-cpu`. So the flags are read
//! here: `target-cpu=cortex-m55` or `cortex-m85` (both have MVE with floating point), or an
//! explicit `target-feature=+mve.fp`, on the bare-metal hard-float `thumbv8m.main` target.
//! A Cortex-M33/M35P (no MVE) keeps the scalar-FPU Cortex-M kernels.

use std::env;

fn main() {
    println!("cargo::rustc-check-cfg=cfg(glocal_cortex_m)");
    println!("cargo::rustc-check-cfg=cfg(glocal_portable)");
    println!("cargo::rustc-check-cfg=cfg(glocal_helium)");
    println!("cargo::rustc-check-cfg=cfg(glocal_cortex_m_fpu)");
    println!("cargo::rustc-check-cfg=cfg(glocal_cortex_m_dsp)");
    println!("cargo::rustc-check-cfg=cfg(glocal_thumbv6m)");
    println!("cargo:rerun-if-env-changed=CARGO_ENCODED_RUSTFLAGS");
    let var = |k: &str| env::var(k).unwrap_or_default();
    let cortex_m = var("CARGO_CFG_TARGET_ARCH") == "arm"
        && var("CARGO_CFG_TARGET_ABI") == "eabihf"
        && var("CARGO_CFG_TARGET_OS") == "none";
    if cortex_m {
        println!("cargo::rustc-cfg=glocal_cortex_m");
    }
    if var("TARGET").starts_with("thumbv6m") {
        println!("cargo::rustc-cfg=glocal_thumbv6m");
    }
    let scalar_feature = env::var_os("CARGO_FEATURE_CORTEXM_SCALAR").is_some();
    if !cortex_m || scalar_feature {
        println!("cargo::rustc-cfg=glocal_portable");
    }
    // A future rustc may report the feature itself.
    let helium = cortex_m
        && var("TARGET").starts_with("thumbv8m.main")
        && (var("CARGO_CFG_TARGET_FEATURE").split(',').any(|f| f == "mve.fp")
            || flags_select_mve(&var("CARGO_ENCODED_RUSTFLAGS")));
    if helium {
        println!("cargo::rustc-cfg=glocal_helium");
    }
    if cortex_m && (!helium || scalar_feature) {
        println!("cargo::rustc-cfg=glocal_cortex_m_fpu");
        if var("TARGET").starts_with("thumbv7em") {
            println!("cargo::rustc-cfg=glocal_cortex_m_dsp");
        }
    }
}

/// Whether the codegen flags (0x1f-separated, as cargo encodes them) name an MVE core or
/// enable `mve.fp`. The last `target-cpu` wins, as in rustc; `-C x` and `-Cx` both count.
fn flags_select_mve(encoded: &str) -> bool {
    let mut cpu = None;
    let mut mve = None;
    let mut args = encoded.split('\x1f').filter(|a| !a.is_empty());
    while let Some(a) = args.next() {
        let opt = match a {
            "-C" | "--codegen" => args.next().unwrap_or(""),
            _ => a.strip_prefix("-C").or_else(|| a.strip_prefix("--codegen=")).unwrap_or(""),
        };
        if let Some(c) = opt.strip_prefix("target-cpu=") {
            cpu = Some(c.to_string());
        } else if let Some(fs) = opt.strip_prefix("target-feature=") {
            for f in fs.split(',') {
                match f {
                    "+mve.fp" => mve = Some(true),
                    "-mve.fp" | "-mve" => mve = Some(false),
                    _ => {}
                }
            }
        }
    }
    let cpu_has_mve = matches!(cpu.as_deref(), Some("cortex-m55" | "cortex-m85"));
    mve.unwrap_or(cpu_has_mve)
}
