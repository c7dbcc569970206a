//! Puts the board's memory layout on the linker search path as memory.x for cortex-m-rt's
//! link.x: mps2-an386/an500 (Cortex-M4F/M7) for thumbv7em, mps3-an547 (Cortex-M55) for
//! thumbv8m.main.
use std::{env, fs, path::PathBuf};

fn main() {
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("OUT_DIR"));
    let target = env::var("TARGET").unwrap_or_default();
    let src = if target.starts_with("thumbv8m.main") { "memory-an547.x" } else { "memory-mps2.x" };
    fs::copy(src, out.join("memory.x")).expect("copy memory.x");
    println!("cargo:rustc-link-search={}", out.display());
    println!("cargo:rerun-if-changed=memory-mps2.x");
    println!("cargo:rerun-if-changed=memory-an547.x");
}
