//! # glocal: gLocal human-alignment transforms on any device
//!
//! The gLocal paper (Muttenthaler et al., NeurIPS 2023) learned, for a dozen vision models,
//! an affine transform that makes a model's embeddings agree with human similarity judgments.
//! thingsvision applies it in Python as
//!
//! ```text
//! y = ((x - mean) / std) @ W + b        x: [n, d_in], W: [d_in, d_out], b: [d_out] (optional)
//! ```
//!
//! glocal applies the same transforms where Python cannot go: microcontrollers, Jetson
//! boards, C and C++ edge stacks, Rust firmware.
//!
//! ## How it works
//! 1. **Pack once, offline** ([`pack`], feature `alloc`; [`pack::npz`], feature `npz`):
//!    the normalisation is folded in f64 (`W' = W / std`, `b' = b - (mean / std) * colsum(W)`),
//!    the weights are rounded once to the storage dtype and laid out in the kernels' own panel
//!    layout (`docs/FORMAT.md`), with a CRC-32C over everything.
//! 2. **Use in place, anywhere**: [`Transform::new`] validates a blob once (magic, version,
//!    every header field, length, alignment, checksum) and borrows it: from flash
//!    ([`embed_blob!`]), an mmap, or any aligned buffer. No copy, no repacking.
//! 3. **Apply**: [`Transform::apply`] computes `y = x @ W' + b'` with f32 accumulation for one row
//!    or a batch, reading and writing f32, f16 or bf16. It never allocates and never panics.
//!    Quantized int8/uint8 inputs with a scale and zero point (TFLite Micro, Ethos-U, NPUs)
//!    go through [`Transform::apply_quantized`] ([`QuantizedRows`]), dequantized as the
//!    kernels read them: `((q - zero_point) as f32) * scale`, one rounding, on every kernel.
//!
//! ```
//! use glocal::{pack, Transform, WeightDtype};
//! let source = pack::Source {
//!     d_in: 2, d_out: 2,
//!     weights: vec![0.5, 0.0, 0.0, 0.25],
//!     bias: None, mean: 0.0, std: 1.0,
//! };
//! let blob = pack::pack(&source, WeightDtype::F16, "toy", "demo").unwrap();
//! let t = Transform::new(blob.as_bytes()).unwrap();
//! let mut y = [0.0f32; 4];
//! t.apply(&[2.0f32, 4.0, 6.0, 8.0], &mut y).unwrap(); // two rows
//! assert_eq!(y, [1.0, 1.0, 3.0, 2.0]);
//! ```
//!
//! ## Weight formats
//! | dtype | bytes/weight | error on the golden set (relative to max abs y) |
//! |---|---|---|
//! | `f32` | 4 | about 1e-6 |
//! | `f16` | 2 | about 5e-4 |
//! | `bf16` | 2 | about 4e-3 |
//! | `i8d` | about 1 | about 3e-3 (int8 off-diagonal with per-row scales, exact f32 diagonal; scalar kernel) |
//! | `q8` | about 1 | about 3e-3 (stored like `i8d`; inputs quantized per row to 12 bits, exact int32 sums: the same bits on every ISA, integer speed without an FPU; feature `q8`, part of `std`) |
//!
//! The bias is always stored as f32.
//!
//! ## Hardware
//! | target | ISA (`GLOCAL_FORCE_ISA`) | kernels | needs |
//! |---|---|---|---|
//! | any | `scalar` | `{f32,f16,bf16,i8d}_f32acc_4x16__scalar`: portable, unfused `a + x * w` (the reference and fallback) | nothing |
//! | x86_64 | `avx2` | `f32_f32acc_6x16__avx2_fma`, `f16_f32acc_6x16__avx2_fma_f16c` (`vcvtph2ps`), `bf16_f32acc_6x16__avx2_fma` (zero-extend + shift), `i8d_f32acc_6x16__avx2_fma` | AVX2, FMA, F16C (Haswell, Zen 1 and later) |
//! | x86_64 | `avx512` | `{f32,f16,i8d}_f32acc_12x16__avx512f`, `bf16_f32acc_12x16__avx512bw`: a `12 x 16` zmm tile with broadcast memory operands for batches; batch 1 streams eight panels in zmm registers (bf16 widened by one `vpshufb` per 16 weights) | AVX-512F and AVX-512BW besides AVX2, FMA, F16C (Xeon Skylake-SP and later, Zen 4 and later) |
//! | x86_64 | `avx2`, `avx512` | `q8_i32acc_3x16__avx2_vpmaddwd`, `q8_i32acc_3x16__avx512_vpmaddwd_ymm`: `q8` sums by `vpmaddwd` on sign-extended weights, `3 x 16` tiles | as `avx2` |
//! | x86_64 | `avxvnni` | `q8_i32acc_3x16__avxvnni_vpdpwssd` (`q8` only) | AVX-VNNI besides AVX2 (Alder Lake and later) |
//! | x86_64 | `avx512vnni` | `q8_i32acc_12x16__avx512vnni_vpdpbusd` (`q8` only): activations split into two unsigned 6-bit halves, `12 x 16` tiles | AVX-512 VNNI besides `avx512` (Cascade Lake and later, Zen 4) |
//! | Cortex-M4F/M7 (`thumbv7em-none-eabihf`) | `cortexm` | `{f32,f16,bf16,i8d}_f32acc_1x16__cortexm4f`: 16 accumulators in FPU registers, `VLDM` weight rows, `VCVTB/VCVTT` for f16, `SBFX` + `VCVT.F32.S32` for i8d (hand-written assembly, bit-identical to scalar) | FPv4-SP (every eabihf Cortex-M4F/M7) |
//! | Cortex-M55/M85 (`thumbv8m.main-none-eabihf` + `-C target-cpu=cortex-m55`/`cortex-m85`) | `helium` | `{f32,f16,bf16}_f32acc_3x8__helium`, `i8d_f32acc_2x8__helium`: MVE `VFMA` by a broadcast core register, `1 x 16` for one row, `3 x 8` tiles for batches (generated assembly; `docs/EMBEDDED.md`) | MVE with floating point, named by `target-cpu` (read by `build.rs`) |
//! | aarch64 | `neon` | `{f32,f16,bf16,i8d}_f32acc_6x16__neon`: a `6 x 16` tile of by-element FMAs; batch 1 widens f16 by `SSHLL` + `BIC` (or `FCVTL`), bf16 by `SHLL #16` | ARMv8.0 Advanced SIMD (Cortex-A53/A57/A72, Jetson Nano/TX2/Xavier/Orin, Apple M, Graviton) |
//!
//! The SIMD kernels use fused multiply-add; they have two shapes of work: a single row streams
//! every packed panel exactly once, several panels in flight (with software prefetch where it
//! pays), and a batch runs register tiles (`6 x 16` AVX2 and NEON, `12 x 16` AVX-512) over
//! K-blocks of the inputs (16-bit weights widened once per block and reused by every tile of a
//! chunk of rows). Stack use stays under 40 KiB; no allocation.
//! [`Transform::apply_with_workspace`] lends the SIMD kernels a caller-owned buffer
//! ([`Transform::workspace_len`] f32, at most `rows * d_in`) to pack the inputs of large
//! batches: same results bit for bit, a few percent faster.
//! On integer-valued data they give exactly the scalar kernel's results; otherwise they differ
//! from it only by the rounding of fused vs separate multiply-add.
//!
//! The kernel is chosen once, at construction: [`kernel::Isa::best`] (with `std`, the CPU is
//! asked once, `is_x86_feature_detected!` / `is_aarch64_feature_detected!`; without `std`,
//! compile-time `target_feature`s decide, e.g. `-C target-cpu=haswell`), or the ISA named by
//! the environment variable `GLOCAL_FORCE_ISA` (`scalar`, `avx2`, `avx512`, `avxvnni`, `avx512vnni`, `neon`) when the `std`
//! feature is on: naming an ISA this CPU lacks is an error, never a silent fallback.
//! [`Transform::with_isa`] forces one explicitly.
//!
//! ## Cargo features
//! | feature | default | what it adds |
//! |---|---|---|
//! | `std` | yes | runtime CPU detection, `GLOCAL_FORCE_ISA`; implies `alloc` |
//! | `alloc` | via `std` | [`pack`]: folding and laying out blobs, [`AlignedBlob`] |
//! | `npz` | no | [`pack::npz`], [`pack::npy`]: reading thingsvision's `transform.npz` |
//! | `nalgebra` | no | conversions to nalgebra matrices |
//! | `cortexm-scalar` | no | bare-metal hard-float Arm only: the portable scalar kernels (`Isa::Scalar`) and, on Helium builds, the scalar-FPU `cortexm` kernels (`Isa::CortexM`), to test the faster kernels against; left out of firmware without it |
//! | `defmt` | no | `defmt::Format` for [`Error`], for firmware that logs with defmt |
//!
//! ## `no_std`
//! The crate is `#![no_std]` always. Without features it needs neither an allocator nor an
//! operating system: validation and [`Transform::apply`] use only the caller's buffers and a
//! bounded stack (under 1 KiB in the scalar kernel, under 40 KiB in the SIMD kernels).
//!
//! ## NaN and rounding
//! A NaN anywhere in an input row gives NaN in every output of that row. f16/bf16 outputs are
//! rounded once from the f32 accumulator, to nearest even.

#![no_std]
#![deny(unsafe_code)]
#![warn(missing_docs)]
// No panic paths outside tests (docs/SECURITY.md): no unwrap/expect/panic!, no indexing or
// slicing that can go out of bounds. A site that needs indexing for speed allows the lint
// locally with the argument why it cannot panic.
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing,
        clippy::unreachable,
        clippy::todo,
        clippy::unimplemented
    )
)]

#[cfg(feature = "alloc")]
extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

pub mod dtype;
mod error;
pub mod format;
// The SIMD kernels index fixed-size register-tile arrays and their scratch tile with constant or
// loop-bounded indices in the hot loops (each argued at the site by a SAFETY comment where
// pointers are involved); `indexing_slicing` is allowed for kernel/ as a whole and denied again
// in kernel/scalar.rs. unwrap/expect/panic stay denied everywhere.
#[allow(clippy::indexing_slicing)]
pub mod kernel;
mod quantized;
pub mod reference;
pub mod similarity;
mod transform;

#[cfg(feature = "alloc")]
mod aligned;
#[cfg(feature = "alloc")]
pub mod pack;

#[cfg(feature = "alloc")]
pub use aligned::AlignedBlob;
pub use dtype::{Element, WeightDtype};
pub use error::Error;
pub use half::{bf16, f16};
pub use quantized::QuantizedRows;
pub use transform::{PostOp, Transform};

/// Embeds a blob file in the binary, aligned to 64 bytes, as a `&'static [u8]`.
///
/// `include_bytes!` alone gives 1-byte alignment; a blob must start on a 4-byte boundary to
/// be used in place (64 keeps every section on a cache line).
///
/// ```ignore
/// static BLOB: &[u8] = glocal::embed_blob!("../resnet18_f16.glw");
/// let t = glocal::Transform::new(BLOB)?;
/// ```
#[macro_export]
macro_rules! embed_blob {
    ($path:expr) => {{
        #[repr(C, align(64))]
        struct Aligned<T: ?Sized>(T);
        static ALIGNED: &Aligned<[u8]> = &Aligned(*include_bytes!($path));
        &ALIGNED.0
    }};
}
