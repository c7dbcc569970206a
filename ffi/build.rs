//! Gives the shared library an ELF SONAME, `libglocal.so.<major>`, so programs record the ABI
//! they were linked against (`ffi/install.sh` installs the versioned file names it points to).

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let elf = std::env::var("CARGO_CFG_TARGET_FAMILY").is_ok_and(|f| f.split(',').any(|f| f == "unix"))
        && std::env::var("CARGO_CFG_TARGET_VENDOR").is_ok_and(|v| v != "apple");
    if elf {
        let major = env!("CARGO_PKG_VERSION_MAJOR");
        println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libglocal.so.{major}");
    }
}
