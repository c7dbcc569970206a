//! Kernels: the packed-panel view they read, the ISA registry, and dispatch.
//!
//! A kernel computes `y[r][j] = bias[j] + sum_k x[r][k] * w[k][j]` over packed panels of
//! [`NR`] output columns (see `docs/FORMAT.md`). Each kernel is one value of [`KernelInfo`] in
//! [`KERNELS`]: the same list drives dispatch, the per-kernel tests and the benchmarks, so an
//! untested kernel cannot exist.

use half::{bf16, f16};

use crate::dtype::{Element, WeightDtype};
use crate::error::Error;

#[cfg(all(target_arch = "arm", target_abi = "eabihf", target_os = "none"))]
pub(crate) mod arm;
pub(crate) mod i8d;
// Bare-metal hard-float Arm has a Cortex-M kernel for every dtype: the portable kernels are
// compiled there only with the `cortexm-scalar` feature (tests compare against them), which
// keeps them out of firmware flash.
#[cfg(not(all(
    target_arch = "arm",
    target_abi = "eabihf",
    target_os = "none",
    not(feature = "cortexm-scalar")
)))]
pub(crate) mod scalar;
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
mod tiling;

#[cfg(target_arch = "aarch64")]
pub mod aarch64;
#[cfg(target_arch = "x86_64")]
pub mod x86_64;

pub use crate::format::NR;

/// A weight element the kernels stream: f32, f16 or bf16, widened to f32 exactly.
pub trait WeightElem: Copy + bytemuck::Pod + 'static {
    /// The blob dtype this element type is stored as.
    const DTYPE: WeightDtype;
    /// Widens to f32. Exact; NaN stays NaN (payload may be quieted).
    fn widen(self) -> f32;
}

impl WeightElem for f32 {
    const DTYPE: WeightDtype = WeightDtype::F32;
    #[inline(always)]
    fn widen(self) -> f32 {
        self
    }
}

impl WeightElem for f16 {
    const DTYPE: WeightDtype = WeightDtype::F16;
    #[inline(always)]
    fn widen(self) -> f32 {
        self.to_f32()
    }
}

impl WeightElem for bf16 {
    const DTYPE: WeightDtype = WeightDtype::Bf16;
    #[inline(always)]
    fn widen(self) -> f32 {
        // bf16 is the top half of an f32: widening is a shift, exact for every pattern
        // (unlike half's to_f32 it keeps signalling NaNs signalling, like the SIMD kernels).
        f32::from_bits((self.to_bits() as u32) << 16)
    }
}

/// The int8 panel of an `i8d` blob, as the SIMD `i8d` drivers stream it: widened exactly
/// (`q as f32`). On its own it is *not* a weight: the per-input-row scales and the exact
/// diagonal of the blob complete it (see `i8d.rs`), so a `Panels<i8>` is only ever built, and
/// only read, by those drivers.
impl WeightElem for i8 {
    const DTYPE: WeightDtype = WeightDtype::I8d;
    #[inline(always)]
    fn widen(self) -> f32 {
        self as f32
    }
}

/// A borrowed view of the packed panels of one blob, with weight element `W`.
///
/// Panel `p` covers output columns `p*NR .. p*NR+NR`: its bias is `bias[p*NR..][..NR]` and its
/// weights are `d_in` rows of `NR` elements at `weights[p*stride..][..d_in*NR]`, zero padded.
#[derive(Clone, Copy, Debug)]
pub struct Panels<'a, W> {
    pub(crate) bias: &'a [f32],
    pub(crate) weights: &'a [W],
    pub(crate) d_in: usize,
    pub(crate) d_out: usize,
    /// Elements from one panel to the next.
    pub(crate) stride: usize,
}

impl<'a, W: WeightElem> Panels<'a, W> {
    /// Input dimension (rows of every panel).
    pub fn d_in(&self) -> usize {
        self.d_in
    }
    /// Output dimension (valid columns over all panels).
    pub fn d_out(&self) -> usize {
        self.d_out
    }
    /// Number of panels.
    pub fn count(&self) -> usize {
        self.d_out.div_ceil(NR)
    }
    /// The bias and weights of every panel, in column order. Lengths are guaranteed by
    /// construction: `NR` bias values and `d_in * NR` weights per panel.
    pub fn iter(&self) -> impl Iterator<Item = (&'a [f32; NR], &'a [W])> + '_ {
        let body = self.d_in * NR;
        self.bias
            .chunks_exact(NR)
            .zip(self.weights.chunks(self.stride.max(1)))
            .filter_map(move |(b, w)| Some((b.try_into().ok()?, w.get(..body)?)))
    }
}

/// The packed weights of a blob, by dtype.
#[derive(Clone, Copy, Debug)]
pub(crate) enum PackedWeights<'a> {
    F32(Panels<'a, f32>),
    F16(Panels<'a, f16>),
    Bf16(Panels<'a, bf16>),
    I8d(i8d::I8dPanels<'a>),
}

/// An instruction-set family a kernel is written for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Isa {
    /// Portable scalar code: compiled on every target, the reference and the fallback.
    Scalar,
    /// x86_64 with AVX2, FMA and F16C (Haswell, Zen and later). Name `avx2`.
    Avx2,
    /// x86_64 with AVX-512F and AVX-512BW besides AVX2, FMA and F16C (Xeon Skylake-SP, Ice
    /// Lake, Sapphire Rapids and later; Zen 4 and later). Name `avx512`.
    Avx512,
    /// aarch64 Advanced SIMD (NEON), with FCVTL for f16. Name `neon`.
    Neon,
    /// Cortex-M4F/M7 single-precision FPU, `1 x 16` register tile (bare-metal hard-float Arm).
    #[cfg(all(target_arch = "arm", target_abi = "eabihf", target_os = "none"))]
    CortexM,
    /// Cortex-M55/M85 MVE (Helium), `3 x 8` tiles (i8d `2 x 8`), `1 x 16` for one row (bare-metal hard-float Arm built with
    /// `-C target-cpu=cortex-m55` or `cortex-m85`: see `build.rs`). Name `helium`.
    #[cfg(glocal_helium)]
    Helium,
}

impl Isa {
    /// Every ISA this build knows, best last.
    pub const ALL: &'static [Isa] = &[
        Isa::Scalar,
        Isa::Avx2,
        Isa::Avx512,
        Isa::Neon,
        #[cfg(all(target_arch = "arm", target_abi = "eabihf", target_os = "none"))]
        Isa::CortexM,
        #[cfg(glocal_helium)]
        Isa::Helium,
    ];

    /// Name used by `GLOCAL_FORCE_ISA` and in kernel names.
    pub const fn name(self) -> &'static str {
        match self {
            Isa::Scalar => "scalar",
            Isa::Avx2 => "avx2",
            Isa::Avx512 => "avx512",
            Isa::Neon => "neon",
            #[cfg(all(target_arch = "arm", target_abi = "eabihf", target_os = "none"))]
            Isa::CortexM => "cortexm",
            #[cfg(glocal_helium)]
            Isa::Helium => "helium",
        }
    }

    /// Parses a `GLOCAL_FORCE_ISA` value.
    pub fn from_name(name: &str) -> Option<Isa> {
        Isa::ALL.iter().copied().find(|isa| isa.name() == name)
    }

    /// Whether this ISA's kernels are compiled in and the CPU can run them.
    ///
    /// Without `std` this is decided at compile time (`cfg!(target_feature = ..)`); with `std`
    /// the CPU is asked once (`is_x86_feature_detected!` / `is_aarch64_feature_detected!`) and
    /// the answer is cached.
    pub fn is_available(self) -> bool {
        match self {
            Isa::Scalar => !cfg!(all(
                target_arch = "arm",
                target_abi = "eabihf",
                target_os = "none",
                not(feature = "cortexm-scalar")
            )),
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 => x86_64::Avx2::detect().is_some(),
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512 => x86_64::Avx512::detect().is_some(),
            #[cfg(target_arch = "aarch64")]
            Isa::Neon => aarch64::Neon::detect().is_some(),
            // Every eabihf Cortex-M has an FPU with half-precision conversions (FPv4-SP or later).
            #[cfg(all(target_arch = "arm", target_abi = "eabihf", target_os = "none"))]
            Isa::CortexM => true,
            // Compiled only for MVE cores (the build flags name one, see `build.rs`).
            #[cfg(glocal_helium)]
            Isa::Helium => true,
            #[allow(unreachable_patterns)]
            _ => false,
        }
    }

    /// The best ISA available on this CPU.
    pub fn best() -> Isa {
        Isa::ALL.iter().rev().copied().find(|isa| isa.is_available()).unwrap_or(Isa::Scalar)
    }

    /// The best available ISA with a registered kernel for `dtype` (an ISA without a kernel for
    /// `dtype` is skipped, down to the scalar kernels every dtype has).
    pub fn best_for(dtype: WeightDtype) -> Isa {
        Isa::ALL
            .iter()
            .rev()
            .copied()
            .find(|&isa| isa.is_available() && kernel_info(isa, dtype).is_some())
            .unwrap_or(Isa::Scalar)
    }

    /// The ISA to use by default: `GLOCAL_FORCE_ISA` when set (with `std`), else [`Isa::best`].
    pub fn default_choice() -> Result<Isa, Error> {
        #[cfg(feature = "std")]
        if let Ok(name) = std::env::var("GLOCAL_FORCE_ISA") {
            let isa = Isa::from_name(name.trim())
                .ok_or(Error::KernelUnavailable { isa: "unknown GLOCAL_FORCE_ISA value" })?;
            return isa.checked();
        }
        Ok(Isa::best())
    }

    /// `Ok(self)` if available, else the error naming it.
    pub fn checked(self) -> Result<Isa, Error> {
        if self.is_available() {
            Ok(self)
        } else {
            Err(Error::KernelUnavailable { isa: self.name() })
        }
    }
}

/// One kernel: weight dtype, accumulator, register tile and ISA are one value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KernelInfo {
    /// `<wdtype>_f32acc_<MR>x<NR>__<isa>`: names the test and the benchmark too.
    pub name: &'static str,
    /// Instruction set.
    pub isa: Isa,
    /// Weight dtype it streams.
    pub dtype: WeightDtype,
    /// Rows of the register tile.
    pub mr: usize,
    /// Columns of the register tile (always the blob panel width).
    pub nr: usize,
}

/// The registry: every kernel compiled into this build.
pub const KERNELS: &[KernelInfo] = &[
    #[cfg(not(all(
        target_arch = "arm",
        target_abi = "eabihf",
        target_os = "none",
        not(feature = "cortexm-scalar")
    )))]
    KernelInfo {
        name: "f32_f32acc_4x16__scalar",
        isa: Isa::Scalar,
        dtype: WeightDtype::F32,
        mr: scalar::MR,
        nr: NR,
    },
    #[cfg(not(all(
        target_arch = "arm",
        target_abi = "eabihf",
        target_os = "none",
        not(feature = "cortexm-scalar")
    )))]
    KernelInfo {
        name: "f16_f32acc_4x16__scalar",
        isa: Isa::Scalar,
        dtype: WeightDtype::F16,
        mr: scalar::MR,
        nr: NR,
    },
    #[cfg(not(all(
        target_arch = "arm",
        target_abi = "eabihf",
        target_os = "none",
        not(feature = "cortexm-scalar")
    )))]
    KernelInfo {
        name: "bf16_f32acc_4x16__scalar",
        isa: Isa::Scalar,
        dtype: WeightDtype::Bf16,
        mr: scalar::MR,
        nr: NR,
    },
    #[cfg(all(target_arch = "arm", target_abi = "eabihf", target_os = "none"))]
    KernelInfo {
        name: "f32_f32acc_1x16__cortexm4f",
        isa: Isa::CortexM,
        dtype: WeightDtype::F32,
        mr: arm::cortex_m::MR,
        nr: NR,
    },
    #[cfg(all(target_arch = "arm", target_abi = "eabihf", target_os = "none"))]
    KernelInfo {
        name: "f16_f32acc_1x16__cortexm4f",
        isa: Isa::CortexM,
        dtype: WeightDtype::F16,
        mr: arm::cortex_m::MR,
        nr: NR,
    },
    #[cfg(all(target_arch = "arm", target_abi = "eabihf", target_os = "none"))]
    KernelInfo {
        name: "bf16_f32acc_1x16__cortexm4f",
        isa: Isa::CortexM,
        dtype: WeightDtype::Bf16,
        mr: arm::cortex_m::MR,
        nr: NR,
    },
    #[cfg(target_arch = "x86_64")]
    KernelInfo {
        name: "f32_f32acc_6x16__avx2_fma",
        isa: Isa::Avx2,
        dtype: WeightDtype::F32,
        mr: x86_64::avx2::MR,
        nr: NR,
    },
    #[cfg(target_arch = "x86_64")]
    KernelInfo {
        name: "f16_f32acc_6x16__avx2_fma_f16c",
        isa: Isa::Avx2,
        dtype: WeightDtype::F16,
        mr: x86_64::avx2::MR,
        nr: NR,
    },
    #[cfg(target_arch = "x86_64")]
    KernelInfo {
        name: "bf16_f32acc_6x16__avx2_fma",
        isa: Isa::Avx2,
        dtype: WeightDtype::Bf16,
        mr: x86_64::avx2::MR,
        nr: NR,
    },
    #[cfg(target_arch = "x86_64")]
    KernelInfo {
        name: "f32_f32acc_12x16__avx512f",
        isa: Isa::Avx512,
        dtype: WeightDtype::F32,
        mr: x86_64::avx512::MR,
        nr: NR,
    },
    #[cfg(target_arch = "x86_64")]
    KernelInfo {
        name: "f16_f32acc_12x16__avx512f",
        isa: Isa::Avx512,
        dtype: WeightDtype::F16,
        mr: x86_64::avx512::MR,
        nr: NR,
    },
    #[cfg(target_arch = "x86_64")]
    KernelInfo {
        name: "bf16_f32acc_12x16__avx512bw",
        isa: Isa::Avx512,
        dtype: WeightDtype::Bf16,
        mr: x86_64::avx512::MR,
        nr: NR,
    },
    #[cfg(target_arch = "aarch64")]
    KernelInfo {
        name: "f32_f32acc_6x16__neon",
        isa: Isa::Neon,
        dtype: WeightDtype::F32,
        mr: aarch64::neon::MR,
        nr: NR,
    },
    #[cfg(target_arch = "aarch64")]
    KernelInfo {
        name: "f16_f32acc_6x16__neon_fcvtl",
        isa: Isa::Neon,
        dtype: WeightDtype::F16,
        mr: aarch64::neon::MR,
        nr: NR,
    },
    #[cfg(target_arch = "aarch64")]
    KernelInfo {
        name: "bf16_f32acc_6x16__neon",
        isa: Isa::Neon,
        dtype: WeightDtype::Bf16,
        mr: aarch64::neon::MR,
        nr: NR,
    },
    #[cfg(all(target_arch = "arm", target_abi = "eabihf", target_os = "none"))]
    KernelInfo {
        name: "i8d_f32acc_1x16__cortexm4f",
        isa: Isa::CortexM,
        dtype: WeightDtype::I8d,
        mr: arm::cortex_m::MR,
        nr: NR,
    },
    #[cfg(glocal_helium)]
    KernelInfo {
        name: "f32_f32acc_3x8__helium",
        isa: Isa::Helium,
        dtype: WeightDtype::F32,
        mr: arm::helium::MR,
        nr: NR,
    },
    #[cfg(glocal_helium)]
    KernelInfo {
        name: "f16_f32acc_3x8__helium",
        isa: Isa::Helium,
        dtype: WeightDtype::F16,
        mr: arm::helium::MR,
        nr: NR,
    },
    #[cfg(glocal_helium)]
    KernelInfo {
        name: "bf16_f32acc_3x8__helium",
        isa: Isa::Helium,
        dtype: WeightDtype::Bf16,
        mr: arm::helium::MR,
        nr: NR,
    },
    #[cfg(glocal_helium)]
    KernelInfo {
        name: "i8d_f32acc_2x8__helium",
        isa: Isa::Helium,
        dtype: WeightDtype::I8d,
        mr: arm::helium::MR_I8D,
        nr: NR,
    },
    #[cfg(target_arch = "x86_64")]
    KernelInfo {
        name: "i8d_f32acc_6x16__avx2_fma",
        isa: Isa::Avx2,
        dtype: WeightDtype::I8d,
        mr: x86_64::avx2::MR,
        nr: NR,
    },
    #[cfg(target_arch = "x86_64")]
    KernelInfo {
        name: "i8d_f32acc_12x16__avx512f",
        isa: Isa::Avx512,
        dtype: WeightDtype::I8d,
        mr: x86_64::avx512::MR,
        nr: NR,
    },
    #[cfg(target_arch = "aarch64")]
    KernelInfo {
        name: "i8d_f32acc_6x16__neon",
        isa: Isa::Neon,
        dtype: WeightDtype::I8d,
        mr: aarch64::neon::MR,
        nr: NR,
    },
    #[cfg(not(all(
        target_arch = "arm",
        target_abi = "eabihf",
        target_os = "none",
        not(feature = "cortexm-scalar")
    )))]
    KernelInfo {
        name: "i8d_f32acc_4x16__scalar",
        isa: Isa::Scalar,
        dtype: WeightDtype::I8d,
        mr: i8d::MR,
        nr: NR,
    },
];

/// The registry entry for `isa` and `dtype`.
pub fn kernel_info(isa: Isa, dtype: WeightDtype) -> Option<&'static KernelInfo> {
    KERNELS.iter().find(|k| k.isa == isa && k.dtype == dtype)
}

/// f32 elements of workspace the kernel of `isa` uses for a batch of `rows` rows of `d_in`
/// inputs (0 when it uses none). See `Transform::apply_with_workspace`.
pub(crate) fn workspace_len(isa: Isa, d_in: usize, rows: usize) -> usize {
    match isa {
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2 | Isa::Avx512 => x86_64::gemm::workspace_len(d_in, rows),
        _ => {
            let _ = (d_in, rows);
            0
        }
    }
}

/// Runs the kernel of `isa` on `weights`. Lengths were checked by the caller:
/// `x.len() == rows * d_in`, `y.len() == rows * d_out`.
#[inline]
pub(crate) fn run<I: Element, O: Element>(isa: Isa, weights: &PackedWeights<'_>, x: &[I], y: &mut [O]) {
    run_in(isa, weights, x, y, &mut []);
}

/// [`run`] with a workspace: kernels that pack the inputs of large batches do so in `ws` when it
/// holds [`workspace_len`] elements, and run unpacked otherwise (same results either way).
#[inline]
pub(crate) fn run_in<I: Element, O: Element>(
    isa: Isa,
    weights: &PackedWeights<'_>,
    x: &[I],
    y: &mut [O],
    ws: &mut [f32],
) {
    // Only the x86_64 kernels pack their inputs.
    #[cfg(not(target_arch = "x86_64"))]
    let _ = ws;
    // The SIMD arms re-obtain their capability token: a cached load under `std`, a constant
    // without it. Construction checked availability, so the scalar fallback below is never
    // taken in practice; it keeps this function total without `unsafe`.
    match isa {
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2 => {
            if let Some(t) = x86_64::Avx2::detect() {
                return match weights {
                    PackedWeights::F32(p) => x86_64::avx2::apply(t, p, x, y, ws),
                    PackedWeights::F16(p) => x86_64::avx2::apply(t, p, x, y, ws),
                    PackedWeights::Bf16(p) => x86_64::avx2::apply(t, p, x, y, ws),
                    PackedWeights::I8d(p) => x86_64::avx2::apply_i8d(t, p, x, y, ws),
                };
            }
        }
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 => {
            if let Some(t) = x86_64::Avx512::detect() {
                return match weights {
                    PackedWeights::F32(p) => x86_64::avx512::apply(t, p, x, y, ws),
                    PackedWeights::F16(p) => x86_64::avx512::apply(t, p, x, y, ws),
                    PackedWeights::Bf16(p) => x86_64::avx512::apply(t, p, x, y, ws),
                    PackedWeights::I8d(p) => x86_64::avx512::apply_i8d(t, p, x, y, ws),
                };
            }
        }
        #[cfg(target_arch = "aarch64")]
        Isa::Neon => {
            if let Some(t) = aarch64::Neon::detect() {
                return match weights {
                    PackedWeights::F32(p) => aarch64::neon::apply(t, p, x, y),
                    PackedWeights::F16(p) => aarch64::neon::apply(t, p, x, y),
                    PackedWeights::Bf16(p) => aarch64::neon::apply(t, p, x, y),
                    PackedWeights::I8d(p) => aarch64::neon::apply_i8d(t, p, x, y),
                };
            }
        }
        #[cfg(all(target_arch = "arm", target_abi = "eabihf", target_os = "none"))]
        Isa::CortexM => return arm::cortex_m::run(weights, x, y),
        #[cfg(glocal_helium)]
        Isa::Helium => return arm::helium::run(weights, x, y),
        _ => {}
    }
    // Without the portable kernels (see `mod scalar`) the Cortex-M kernels are the only ones.
    #[cfg(all(
        target_arch = "arm",
        target_abi = "eabihf",
        target_os = "none",
        not(feature = "cortexm-scalar")
    ))]
    arm::cortex_m::run(weights, x, y);
    #[cfg(not(all(
        target_arch = "arm",
        target_abi = "eabihf",
        target_os = "none",
        not(feature = "cortexm-scalar")
    )))]
    match weights {
        PackedWeights::F32(p) => scalar::apply(p, x, y),
        PackedWeights::F16(p) => scalar::apply(p, x, y),
        PackedWeights::Bf16(p) => scalar::apply(p, x, y),
        PackedWeights::I8d(p) => i8d::apply(p, x, y),
    }
}
