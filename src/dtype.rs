//! Element types: how weights are stored in a blob, and which types `apply` reads and writes.

#![forbid(unsafe_code)]

use half::{bf16, f16};

/// How the folded weights of a blob are stored.
///
/// The numeric values are the on-disk codes (header byte `0x10`); they are never reused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
#[non_exhaustive]
pub enum WeightDtype {
    /// IEEE-754 binary32.
    F32 = 1,
    /// IEEE-754 binary16 (`half::f16`).
    F16 = 2,
    /// bfloat16 (`half::bf16`): the top 16 bits of a binary32.
    Bf16 = 3,
    /// `i8d`: the diagonal of `W'` exact in f32, every off-diagonal weight as int8 times a
    /// per-input-row f32 scale (about half the bytes of f16 at bf16-level error on gLocal's
    /// diagonal-dominant matrices). Scales and diagonal live in the blob's `aux` section.
    I8d = 4,
    /// `q8`: int8 weights for integer dot products. Like `i8d`, per-input-row f32 scales and an
    /// exact f32 diagonal; unlike it, the inputs are quantized per row to 12-bit integers and
    /// the sum over k is an exact int32 (bit-identical on every ISA and on FPU-less cores).
    /// Weights are grouped by four inputs per column (the order of `SDOT`/`VPDPBUSD`); scales,
    /// diagonal and column sums live in the `aux` section. See `docs/FORMAT.md`.
    Q8 = 5,
}

impl WeightDtype {
    /// All weight dtypes this build can read, in code order.
    pub const ALL: [WeightDtype; 5] =
        [WeightDtype::F32, WeightDtype::F16, WeightDtype::Bf16, WeightDtype::I8d, WeightDtype::Q8];

    /// The dtype with on-disk code `code`, if this build knows it.
    pub const fn from_code(code: u8) -> Option<Self> {
        match code {
            1 => Some(Self::F32),
            2 => Some(Self::F16),
            3 => Some(Self::Bf16),
            4 => Some(Self::I8d),
            5 => Some(Self::Q8),
            _ => None,
        }
    }

    /// The on-disk code.
    pub const fn code(self) -> u8 {
        self as u8
    }

    /// Bytes per stored weight in the weight section (for `i8d` and `q8` the int8 part; their
    /// scales and diagonal are in the `aux` section).
    pub const fn size(self) -> usize {
        match self {
            Self::F32 => 4,
            Self::F16 | Self::Bf16 => 2,
            Self::I8d | Self::Q8 => 1,
        }
    }

    /// Lower-case name as used on the command line (`f32`, `f16`, `bf16`, `i8d`, `q8`).
    pub const fn name(self) -> &'static str {
        match self {
            Self::F32 => "f32",
            Self::F16 => "f16",
            Self::Bf16 => "bf16",
            Self::I8d => "i8d",
            Self::Q8 => "q8",
        }
    }

    /// Parses a command-line name (`f32`, `f16`, `bf16`, `i8d`, `q8`).
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|d| d.name() == name)
    }
}

impl core::fmt::Display for WeightDtype {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.name())
    }
}

/// Rounds an f32 to f16 (nearest even; overflow to infinity; NaN stays NaN, quieted, with the
/// top payload bits kept).
///
/// Natively this is `half`'s `f16::from_f32`, which compiles to F16C `vcvtps2ph` when the target
/// has F16C (e.g. `-C target-cpu=haswell`). Miri cannot interpret that instruction
/// ("unsupported operation: llvm.x86.vcvtps2ph.128"), so under `cfg(miri)` the same rounding
/// runs in `half`'s software implementation (`from_f32_const`), which gives the same bits for
/// every f32 (`tests/convert.rs` compares the two natively over random and edge-case inputs).
/// The other direction (`vcvtph2ps`, a plain `simd_cast`) Miri interprets, so it is unchanged.
#[inline(always)]
pub(crate) fn f16_from_f32(v: f32) -> f16 {
    #[cfg(miri)]
    return f16::from_f32_const(v);
    #[cfg(not(miri))]
    return f16::from_f32(v);
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for f32 {}
    impl Sealed for half::f16 {}
    impl Sealed for half::bf16 {}
}

/// An element type `apply` can read inputs from and write outputs to: `f32`, [`struct@f16`] or [`bf16`].
///
/// Arithmetic is always f32: inputs are widened exactly, outputs are rounded once
/// (round to nearest, ties to even) from the f32 accumulator.
pub trait Element: Copy + bytemuck::Pod + sealed::Sealed + 'static {
    /// Widens to f32 (exact for every value; NaN stays NaN).
    fn to_f32(self) -> f32;
    /// Rounds an f32 to this type (round to nearest even; overflow gives infinity).
    fn from_f32(v: f32) -> Self;
    /// The same slice viewed as f32 when `Self` is f32, so f32 inputs need no copy.
    fn as_f32_slice(s: &[Self]) -> Option<&[f32]>;
}

impl Element for f32 {
    #[inline(always)]
    fn to_f32(self) -> f32 {
        self
    }
    #[inline(always)]
    fn from_f32(v: f32) -> Self {
        v
    }
    #[inline(always)]
    fn as_f32_slice(s: &[Self]) -> Option<&[f32]> {
        Some(s)
    }
}

impl Element for f16 {
    #[inline(always)]
    fn to_f32(self) -> f32 {
        f16::to_f32(self)
    }
    #[inline(always)]
    fn from_f32(v: f32) -> Self {
        f16_from_f32(v)
    }
    #[inline(always)]
    fn as_f32_slice(_: &[Self]) -> Option<&[f32]> {
        None
    }
}

impl Element for bf16 {
    #[inline(always)]
    fn to_f32(self) -> f32 {
        bf16::to_f32(self)
    }
    #[inline(always)]
    fn from_f32(v: f32) -> Self {
        bf16::from_f32(v)
    }
    #[inline(always)]
    fn as_f32_slice(_: &[Self]) -> Option<&[f32]> {
        None
    }
}
