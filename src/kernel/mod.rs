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
pub(crate) mod scalar;

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
}

/// An instruction-set family a kernel is written for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Isa {
    /// Portable scalar code: compiled on every target, the reference and the fallback.
    Scalar,
    /// Cortex-M4F/M7 single-precision FPU, `1 x 16` register tile (bare-metal hard-float Arm).
    #[cfg(all(target_arch = "arm", target_abi = "eabihf", target_os = "none"))]
    CortexM,
}

impl Isa {
    /// Every ISA this build knows, best last.
    pub const ALL: &'static [Isa] = &[
        Isa::Scalar,
        #[cfg(all(target_arch = "arm", target_abi = "eabihf", target_os = "none"))]
        Isa::CortexM,
    ];

    /// Name used by `GLOCAL_FORCE_ISA` and in kernel names.
    pub const fn name(self) -> &'static str {
        match self {
            Isa::Scalar => "scalar",
            #[cfg(all(target_arch = "arm", target_abi = "eabihf", target_os = "none"))]
            Isa::CortexM => "cortexm",
        }
    }

    /// Parses a `GLOCAL_FORCE_ISA` value.
    pub fn from_name(name: &str) -> Option<Isa> {
        Isa::ALL.iter().copied().find(|isa| isa.name() == name)
    }

    /// Whether this ISA's kernels are compiled in and the CPU can run them.
    pub fn is_available(self) -> bool {
        match self {
            Isa::Scalar => true,
            // Every eabihf Cortex-M has an FPU with half-precision conversions (FPv4-SP or later).
            #[cfg(all(target_arch = "arm", target_abi = "eabihf", target_os = "none"))]
            Isa::CortexM => true,
        }
    }

    /// The best ISA available on this CPU.
    pub fn best() -> Isa {
        Isa::ALL.iter().rev().copied().find(|isa| isa.is_available()).unwrap_or(Isa::Scalar)
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
    KernelInfo {
        name: "f32_f32acc_4x16__scalar",
        isa: Isa::Scalar,
        dtype: WeightDtype::F32,
        mr: scalar::MR,
        nr: NR,
    },
    KernelInfo {
        name: "f16_f32acc_4x16__scalar",
        isa: Isa::Scalar,
        dtype: WeightDtype::F16,
        mr: scalar::MR,
        nr: NR,
    },
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
];

/// The registry entry for `isa` and `dtype`.
pub fn kernel_info(isa: Isa, dtype: WeightDtype) -> Option<&'static KernelInfo> {
    KERNELS.iter().find(|k| k.isa == isa && k.dtype == dtype)
}

/// Runs the kernel of `isa` on `weights`. Lengths were checked by the caller:
/// `x.len() == rows * d_in`, `y.len() == rows * d_out`.
#[inline]
pub(crate) fn run<I: Element, O: Element>(isa: Isa, weights: &PackedWeights<'_>, x: &[I], y: &mut [O]) {
    match (isa, weights) {
        (Isa::Scalar, PackedWeights::F32(p)) => scalar::apply(p, x, y),
        (Isa::Scalar, PackedWeights::F16(p)) => scalar::apply(p, x, y),
        (Isa::Scalar, PackedWeights::Bf16(p)) => scalar::apply(p, x, y),
        #[cfg(all(target_arch = "arm", target_abi = "eabihf", target_os = "none"))]
        (Isa::CortexM, PackedWeights::F32(p)) => arm::cortex_m::apply(p, x, y),
        #[cfg(all(target_arch = "arm", target_abi = "eabihf", target_os = "none"))]
        (Isa::CortexM, PackedWeights::F16(p)) => arm::cortex_m::apply(p, x, y),
        #[cfg(all(target_arch = "arm", target_abi = "eabihf", target_os = "none"))]
        (Isa::CortexM, PackedWeights::Bf16(p)) => arm::cortex_m::apply(p, x, y),
    }
}
