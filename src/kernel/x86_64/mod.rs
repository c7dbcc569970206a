//! x86_64 kernels and the capability token that licenses them.

pub(crate) mod avx2;
pub(crate) mod avx512;
#[cfg(feature = "q8")]
pub(crate) mod q8;

/// Asks the CPU once (with `std`) whether `$yes` holds, caching the answer in a static.
macro_rules! cached_detect {
    ($yes:expr) => {{
        #[cfg(feature = "std")]
        {
            use core::sync::atomic::{AtomicU8, Ordering};
            // 0: not asked yet, 1: yes, 2: no.
            static CACHE: AtomicU8 = AtomicU8::new(0);
            match CACHE.load(Ordering::Relaxed) {
                0 => {
                    let yes = $yes;
                    CACHE.store(if yes { 1 } else { 2 }, Ordering::Relaxed);
                    yes
                }
                v => v == 1,
            }
        }
        #[cfg(not(feature = "std"))]
        {
            false
        }
    }};
}

/// Proof that this CPU runs AVX2, FMA and F16C instructions.
///
/// Zero-sized; the only way to get one is [`Avx2::detect`], so holding one is the proof the
/// `avx2` kernels may run. Every kernel entry point takes it by value.
#[derive(Clone, Copy, Debug)]
pub struct Avx2 {
    _proof: (),
}

impl Avx2 {
    /// The token, if the CPU has AVX2, FMA and F16C.
    ///
    /// With `std`: asks the CPU (`is_x86_feature_detected!`) the first time and caches the
    /// answer. Without `std`: compile time, from `cfg!(target_feature = ..)` (build with
    /// `-C target-feature=+avx2,+fma,+f16c` or a matching `target-cpu` to enable it).
    #[inline]
    pub fn detect() -> Option<Avx2> {
        if cfg!(all(target_feature = "avx2", target_feature = "fma", target_feature = "f16c")) {
            return Some(Avx2 { _proof: () });
        }
        #[cfg(feature = "std")]
        {
            use core::sync::atomic::{AtomicU8, Ordering};
            // 0: not asked yet, 1: yes, 2: no.
            static CACHE: AtomicU8 = AtomicU8::new(0);
            let known = match CACHE.load(Ordering::Relaxed) {
                0 => {
                    let yes = std::is_x86_feature_detected!("avx2")
                        && std::is_x86_feature_detected!("fma")
                        && std::is_x86_feature_detected!("f16c");
                    CACHE.store(if yes { 1 } else { 2 }, Ordering::Relaxed);
                    yes
                }
                v => v == 1,
            };
            if known {
                return Some(Avx2 { _proof: () });
            }
        }
        None
    }
}

/// Proof that this CPU runs AVX-512F and AVX-512BW as well as AVX2, FMA and F16C.
///
/// Zero-sized; the only way to get one is [`Avx512::detect`]. It also yields the [`Avx2`]
/// token ([`Avx512::avx2`]), which such a CPU always has.
#[derive(Clone, Copy, Debug)]
pub struct Avx512 {
    avx2: Avx2,
}

impl Avx512 {
    /// The token, if the CPU has AVX-512F, AVX-512BW, AVX2, FMA and F16C.
    ///
    /// With `std`: asks the CPU (`is_x86_feature_detected!`) the first time and caches the
    /// answer (the operating system's support for the zmm state included). Without `std`:
    /// compile time, from `cfg!(target_feature = ..)`.
    #[inline]
    pub fn detect() -> Option<Avx512> {
        let avx2 = Avx2::detect()?;
        if cfg!(all(target_feature = "avx512f", target_feature = "avx512bw")) {
            return Some(Avx512 { avx2 });
        }
        #[cfg(feature = "std")]
        {
            use core::sync::atomic::{AtomicU8, Ordering};
            // 0: not asked yet, 1: yes, 2: no.
            static CACHE: AtomicU8 = AtomicU8::new(0);
            let known = match CACHE.load(Ordering::Relaxed) {
                0 => {
                    let yes =
                        std::is_x86_feature_detected!("avx512f") && std::is_x86_feature_detected!("avx512bw");
                    CACHE.store(if yes { 1 } else { 2 }, Ordering::Relaxed);
                    yes
                }
                v => v == 1,
            };
            if known {
                return Some(Avx512 { avx2 });
            }
        }
        None
    }

    /// The AVX2 token this one implies.
    #[inline]
    pub fn avx2(self) -> Avx2 {
        self.avx2
    }
}

/// Proof that this CPU runs AVX-512 VNNI (`vpdpbusd` on zmm registers) besides everything
/// [`Avx512`] proves (Xeon Cascade Lake, Ice Lake, Sapphire Rapids and later; Zen 4 and later).
///
/// Zero-sized; the only way to get one is [`Avx512Vnni::detect`]. Only `q8` kernels use it.
#[derive(Clone, Copy, Debug)]
pub struct Avx512Vnni {
    avx512: Avx512,
}

impl Avx512Vnni {
    /// The token, if the CPU has AVX-512 VNNI as well as AVX-512F/BW, AVX2, FMA and F16C.
    ///
    /// With `std`: asks the CPU the first time and caches the answer. Without `std`: compile
    /// time, from `cfg!(target_feature = "avx512vnni")`.
    #[inline]
    pub fn detect() -> Option<Avx512Vnni> {
        let avx512 = Avx512::detect()?;
        if cfg!(target_feature = "avx512vnni") || cached_detect!(std::is_x86_feature_detected!("avx512vnni"))
        {
            return Some(Avx512Vnni { avx512 });
        }
        None
    }

    /// The AVX-512 token this one implies.
    #[inline]
    pub fn avx512(self) -> Avx512 {
        self.avx512
    }
}

/// Proof that this CPU runs AVX-VNNI (the VEX-encoded `vpdpwssd` and `vpdpbusd` on ymm
/// registers) besides AVX2, FMA and F16C: Alder Lake and later client cores, which lack
/// AVX-512, and Sapphire Rapids and later Xeons, which have both.
///
/// Zero-sized; the only way to get one is [`AvxVnni::detect`]. Only `q8` kernels use it.
#[derive(Clone, Copy, Debug)]
pub struct AvxVnni {
    avx2: Avx2,
}

impl AvxVnni {
    /// The token, if the CPU has AVX-VNNI as well as AVX2, FMA and F16C.
    ///
    /// With `std`: asks the CPU the first time and caches the answer. Without `std`: compile
    /// time, from `cfg!(target_feature = "avxvnni")`.
    #[inline]
    pub fn detect() -> Option<AvxVnni> {
        let avx2 = Avx2::detect()?;
        if cfg!(target_feature = "avxvnni") || cached_detect!(std::is_x86_feature_detected!("avxvnni")) {
            return Some(AvxVnni { avx2 });
        }
        None
    }

    /// The AVX2 token this one implies.
    #[inline]
    pub fn avx2(self) -> Avx2 {
        self.avx2
    }
}
