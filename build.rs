//! `cfg` aliases for the kernel registry, so each condition is spelled once:
//!
//! - `glocal_cortex_m`: bare-metal hard-float Arm (Cortex-M4F/M7/M33/M55/M85), where the
//!   Cortex-M kernels are compiled;
//! - `glocal_portable`: the portable scalar kernels are compiled (everywhere, except Cortex-M
//!   firmware without the `cortexm-scalar` feature, which keeps them out of flash).

fn main() {
    println!("cargo::rustc-check-cfg=cfg(glocal_cortex_m)");
    println!("cargo::rustc-check-cfg=cfg(glocal_portable)");
    let var = |name: &str| std::env::var(name).unwrap_or_default();
    let cortex_m = var("CARGO_CFG_TARGET_ARCH") == "arm"
        && var("CARGO_CFG_TARGET_ABI") == "eabihf"
        && var("CARGO_CFG_TARGET_OS") == "none";
    if cortex_m {
        println!("cargo::rustc-cfg=glocal_cortex_m");
    }
    if !cortex_m || std::env::var_os("CARGO_FEATURE_CORTEXM_SCALAR").is_some() {
        println!("cargo::rustc-cfg=glocal_portable");
    }
}
