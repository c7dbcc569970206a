//! aarch64 kernels and the capability token that licenses them.

pub(crate) mod neon;
#[cfg(feature = "q8")]
pub(crate) mod q8;

/// Proof that this CPU runs Advanced SIMD (NEON) instructions, FCVTL included.
///
/// Zero-sized; the only way to get one is [`Neon::detect`], so holding one is the proof the
/// `neon` kernels may run. Every kernel entry point takes it by value.
#[derive(Clone, Copy, Debug)]
pub struct Neon {
    _proof: (),
}

impl Neon {
    /// The token, if the CPU has NEON (every aarch64 Linux CPU does; a `-softfloat` bare-metal
    /// target does not).
    ///
    /// Without `std`: compile time, `cfg!(target_feature = "neon")`. With `std`: asks the CPU
    /// (`is_aarch64_feature_detected!`) the first time and caches the answer.
    #[inline]
    pub fn detect() -> Option<Neon> {
        if cfg!(target_feature = "neon") {
            return Some(Neon { _proof: () });
        }
        #[cfg(feature = "std")]
        {
            use core::sync::atomic::{AtomicU8, Ordering};
            // 0: not asked yet, 1: yes, 2: no.
            static CACHE: AtomicU8 = AtomicU8::new(0);
            let known = match CACHE.load(Ordering::Relaxed) {
                0 => {
                    let yes = std::arch::is_aarch64_feature_detected!("neon");
                    CACHE.store(if yes { 1 } else { 2 }, Ordering::Relaxed);
                    yes
                }
                v => v == 1,
            };
            if known {
                return Some(Neon { _proof: () });
            }
        }
        None
    }
}

/// Proof that this CPU runs the Armv8.2 dot-product instructions (`SDOT`, feature `dotprod`:
/// Cortex-A55/A75 and later, Jetson Orin's Cortex-A78AE; not the Cortex-A57) besides NEON.
///
/// Obtained only from [`NeonDot::detect`], like [`Neon`].
#[derive(Clone, Copy, Debug)]
pub struct NeonDot {
    _proof: (),
}

impl NeonDot {
    /// The token, if the CPU has NEON and `dotprod`.
    ///
    /// Without `std`: compile time (`cfg!(target_feature = "dotprod")`). With `std`: asks the
    /// CPU the first time and caches the answer.
    #[inline]
    pub fn detect() -> Option<NeonDot> {
        Neon::detect()?;
        if cfg!(target_feature = "dotprod") {
            return Some(NeonDot { _proof: () });
        }
        #[cfg(feature = "std")]
        {
            use core::sync::atomic::{AtomicU8, Ordering};
            // 0: not asked yet, 1: yes, 2: no.
            static CACHE: AtomicU8 = AtomicU8::new(0);
            let known = match CACHE.load(Ordering::Relaxed) {
                0 => {
                    let yes = std::arch::is_aarch64_feature_detected!("dotprod");
                    CACHE.store(if yes { 1 } else { 2 }, Ordering::Relaxed);
                    yes
                }
                v => v == 1,
            };
            if known {
                return Some(NeonDot { _proof: () });
            }
        }
        None
    }
}
