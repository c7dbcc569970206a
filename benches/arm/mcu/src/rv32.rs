//! The riscv32imac runtime of the cost firmware under `qemu-riscv32` (user mode): the loader
//! sets up the stack and zeroes `.bss`, so `_start` only calls the bench; output and exit are
//! Linux system calls (`write` 64, `exit` 93).

use core::fmt::{self, Write};

/// Standard output through the `write` system call.
pub struct Stdout;

impl Write for Stdout {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let mut rest = s.as_bytes();
        while !rest.is_empty() {
            let n: isize;
            // SAFETY: `write(1, ptr, len)` reads `len` bytes at `ptr`, which `rest` holds; the
            // system call touches no other memory of this process.
            unsafe {
                core::arch::asm!("ecall", inlateout("a0") 1isize => n, in("a1") rest.as_ptr(),
                                 in("a2") rest.len(), in("a7") 64, options(nostack));
            }
            if n <= 0 {
                return Err(fmt::Error);
            }
            rest = rest.get(n as usize..).unwrap_or(&[]);
        }
        Ok(())
    }
}

/// Ends the process with `code`.
pub fn exit_code(code: i32) -> ! {
    // SAFETY: `exit` does not return and takes no memory.
    unsafe { core::arch::asm!("ecall", in("a0") code, in("a7") 93, options(noreturn, nostack)) }
}

/// `hprintln!` of cortex-m-semihosting, on standard output.
macro_rules! hprintln {
    ($($arg:tt)*) => {{
        let _ = core::fmt::Write::write_fmt(&mut $crate::rv32::Stdout, format_args!($($arg)*));
        let _ = core::fmt::Write::write_str(&mut $crate::rv32::Stdout, "\n");
    }};
}

/// The process entry (the ELF entry point of a `riscv32imac-unknown-none-elf` link).
#[no_mangle]
pub extern "C" fn _start() -> ! {
    crate::bench()
}
