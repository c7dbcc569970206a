//! AVX-512F kernels: a `12x16` register tile in zmm registers for batches.
//!
//! On a CPU with two 512-bit FMA units (Xeon Skylake-SP and later, Zen 4 issues them as two
//! halves), a zmm FMA does twice the work of a ymm one per issue slot: OpenBLAS's AVX-512
//! sgemm runs 1.4-2x faster than the AVX2 `6x16` tile on this project's Xeon
//! (benches/README.md). So batches run `gemm.rs`'s loop nest around a tile of `MR` rows, one
//! zmm accumulator per row (one panel of 16 columns):
//!
//! * each `k` step loads one row of 16 weights (widened for f16 by `vcvtph2ps`, for bf16 by
//!   zero-extension and a shift, for int8 by `vpmovsxbd` + `vcvtdq2ps`, all exact) and issues
//!   `MR` FMAs, each with its input as an embedded broadcast (`{1to16}`) memory operand, so the
//!   loop is one weight load and `MR` fused load-FMAs per step;
//! * twelve accumulators: twelve independent FMA chains cover the 4-cycle latency of two FMA
//!   units, with 19 of the 32 zmm registers to spare.
//!
//! Batch 1 runs the AVX2 streamer ([`super::avx2::gemv`]): it reads each weight once, and the
//! widening and memory, not the FMA width, bound it.
//!
//! Results are fused multiply-adds, so they may differ from the scalar kernel in the last bit
//! on general inputs; on integer-valued data of moderate size they are identical.

#![allow(unsafe_code)]

use core::arch::x86_64::*;

use super::gemm::{self, k_loop, Inputs, Microkernel, Prefetch, KC, MAX_MR, RC};
use super::{avx2, Avx512};
use crate::dtype::{Element, WeightDtype};
use crate::kernel::i8d::{self, I8dPanels};
use crate::kernel::tiling::{batch_rows, i8d_view, panels_in_bounds, I8dAux};
use crate::kernel::{scalar, Panels, WeightElem, NR};

/// Rows of the register tile: 12 zmm accumulators, one weight vector, the inputs broadcast
/// from memory by the FMAs.
pub const MR: usize = 12;

const _: () = assert!(RC.is_multiple_of(MR) && MR <= MAX_MR && NR == 16);

/// `y = x @ W + bias` for every row of `x`; the token is the proof AVX-512F, AVX2, FMA and F16C
/// exist.
///
/// The lengths and panel bounds are checked again, as in [`avx2::apply`], so the raw-pointer
/// code is sound on its own; on a mismatch the scalar kernel runs.
pub(crate) fn apply<W: WeightElem, I: Element, O: Element>(
    token: Avx512,
    p: &Panels<'_, W>,
    x: &[I],
    y: &mut [O],
    ws: &mut [f32],
) {
    let Some(rows) = batch_rows(p.d_in, p.d_out, x.len(), y.len()).filter(|_| panels_in_bounds(p)) else {
        return scalar::apply(p, x, y);
    };
    if rows == 1 {
        avx2::apply(token.avx2(), p, x, y, ws);
    } else {
        // SAFETY: `token` proves the CPU has avx512f, avx2, fma and f16c (the features gemm
        // enables); the panel bounds and x/y lengths it relies on were checked just above.
        unsafe { gemm(p, None, x, y, rows, ws) }
    }
}

/// `y = x @ W' + bias` with `i8d` weights (see `kernel/i8d.rs`); the token is the proof
/// AVX-512F, AVX2, FMA and F16C exist. Bounds are checked again as in [`avx2::apply_i8d`].
pub(crate) fn apply_i8d<I: Element, O: Element>(
    token: Avx512,
    p: &I8dPanels<'_>,
    x: &[I],
    y: &mut [O],
    ws: &mut [f32],
) {
    let Some((rows, (q, aux))) = batch_rows(p.d_in, p.d_out, x.len(), y.len()).zip(i8d_view(p)) else {
        return i8d::apply(p, x, y);
    };
    if rows == 1 {
        avx2::apply_i8d(token.avx2(), p, x, y, ws);
    } else {
        // SAFETY: `token` proves avx512f, avx2, fma and f16c; i8d_view checked the panel bounds
        // of `q` and the lengths of `aux`; x/y lengths were checked with it.
        unsafe { gemm(&q, Some(aux), x, y, rows, ws) }
    }
}

/// Several rows: `gemm.rs`'s loop nest around the `12x16` zmm tile, compiled for AVX-512F.
///
/// # Safety
/// avx512f, avx2, fma and f16c present; `panels_in_bounds(p)`, `x.len() == rows * d_in`,
/// `y.len() == rows * d_out`; with `aux`, `d_in` scales and `count * NR` diagonal values.
#[target_feature(enable = "avx512f,avx2,fma,f16c")]
unsafe fn gemm<W: WeightElem, I: Element, O: Element>(
    p: &Panels<'_, W>,
    aux: Option<I8dAux<'_>>,
    x: &[I],
    y: &mut [O],
    rows: usize,
    ws: &mut [f32],
) {
    // SAFETY: the caller's contract is the driver's, with Zmm's features (enabled here).
    unsafe { gemm::gemm::<Zmm, W, I, O>(p, aux, x, y, rows, ws) }
}

/// Loads one row of 16 weights at `p` widened to f32.
///
/// # Safety
/// 16 elements readable at `p` (any alignment); avx512f present.
#[inline]
#[target_feature(enable = "avx512f,avx2,fma,f16c")]
unsafe fn load16<W: WeightElem>(p: *const W) -> __m512 {
    // SAFETY: the caller guarantees 16 readable elements (16, 32 or 64 bytes) at `p`; the
    // loads are unaligned ones.
    unsafe {
        match W::DTYPE {
            WeightDtype::F32 => _mm512_loadu_ps(p.cast()),
            WeightDtype::F16 => _mm512_cvtph_ps(_mm256_loadu_si256(p.cast())),
            WeightDtype::Bf16 => _mm512_castsi512_ps(_mm512_slli_epi32::<16>(_mm512_cvtepu16_epi32(
                _mm256_loadu_si256(p.cast()),
            ))),
            WeightDtype::I8d => _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128(p.cast()))),
        }
    }
}

/// The AVX-512 `12x16` register tile, as `gemm.rs` drives it.
struct Zmm;

impl Microkernel for Zmm {
    const MR: usize = MR;

    #[inline(always)]
    unsafe fn widen_block<W: WeightElem>(w: *const W, kc: usize, dst: &mut [f32; KC * NR]) {
        for (i, d) in dst.chunks_exact_mut(NR).take(kc).enumerate() {
            // SAFETY: row i < kc of NR weights is readable at w (the caller's contract); d
            // holds 16 f32; avx512f present (the caller's contract).
            unsafe { _mm512_storeu_ps(d.as_mut_ptr(), load16(w.add(i * NR))) };
        }
    }

    #[inline(always)]
    unsafe fn tile_n<W: WeightElem>(
        w: *const W,
        x: *const f32,
        xs: Inputs,
        kc: usize,
        n: usize,
        acc: *mut [f32; NR],
        pf: Prefetch,
    ) {
        // SAFETY: forwarded contract: n rows (the const height), the inputs as `xs` says.
        unsafe {
            match (n, xs) {
                (12, Inputs::Rows(s)) => tile::<W, 12, false>(w, x, s, kc, acc, pf),
                (11, Inputs::Rows(s)) => tile::<W, 11, false>(w, x, s, kc, acc, pf),
                (10, Inputs::Rows(s)) => tile::<W, 10, false>(w, x, s, kc, acc, pf),
                (9, Inputs::Rows(s)) => tile::<W, 9, false>(w, x, s, kc, acc, pf),
                (8, Inputs::Rows(s)) => tile::<W, 8, false>(w, x, s, kc, acc, pf),
                (7, Inputs::Rows(s)) => tile::<W, 7, false>(w, x, s, kc, acc, pf),
                (6, Inputs::Rows(s)) => tile::<W, 6, false>(w, x, s, kc, acc, pf),
                (5, Inputs::Rows(s)) => tile::<W, 5, false>(w, x, s, kc, acc, pf),
                (4, Inputs::Rows(s)) => tile::<W, 4, false>(w, x, s, kc, acc, pf),
                (3, Inputs::Rows(s)) => tile::<W, 3, false>(w, x, s, kc, acc, pf),
                (2, Inputs::Rows(s)) => tile::<W, 2, false>(w, x, s, kc, acc, pf),
                (1, Inputs::Rows(s)) => tile::<W, 1, false>(w, x, s, kc, acc, pf),
                (12, Inputs::Packed) => tile::<W, 12, true>(w, x, 0, kc, acc, pf),
                (11, Inputs::Packed) => tile::<W, 11, true>(w, x, 0, kc, acc, pf),
                (10, Inputs::Packed) => tile::<W, 10, true>(w, x, 0, kc, acc, pf),
                (9, Inputs::Packed) => tile::<W, 9, true>(w, x, 0, kc, acc, pf),
                (8, Inputs::Packed) => tile::<W, 8, true>(w, x, 0, kc, acc, pf),
                (7, Inputs::Packed) => tile::<W, 7, true>(w, x, 0, kc, acc, pf),
                (6, Inputs::Packed) => tile::<W, 6, true>(w, x, 0, kc, acc, pf),
                (5, Inputs::Packed) => tile::<W, 5, true>(w, x, 0, kc, acc, pf),
                (4, Inputs::Packed) => tile::<W, 4, true>(w, x, 0, kc, acc, pf),
                (3, Inputs::Packed) => tile::<W, 3, true>(w, x, 0, kc, acc, pf),
                (2, Inputs::Packed) => tile::<W, 2, true>(w, x, 0, kc, acc, pf),
                (1, Inputs::Packed) => tile::<W, 1, true>(w, x, 0, kc, acc, pf),
                _ => {}
            }
        }
    }
}

/// The microkernel: `acc[r] += sum_{k < kc} x[r * xs + k] * w[k]` for `r < R`, each `w[k]` a
/// row of 16 weights, the `R` accumulators in zmm registers; the `pf` hints spread over the
/// `k` loop ([`k_loop`]).
///
/// # Safety
/// avx512f, avx2, fma and f16c present; `kc * NR` weights readable at `w`; for `r < R`, `kc`
/// values readable at `x + r * xs` (`PACKED`: `kc * R` values readable at `x`, `xs` unused);
/// `R` rows of `NR` f32 readable and writable at `acc`.
#[inline]
#[target_feature(enable = "avx512f,avx2,fma,f16c")]
unsafe fn tile<W: WeightElem, const R: usize, const PACKED: bool>(
    w: *const W,
    x: *const f32,
    xs: usize,
    kc: usize,
    acc: *mut [f32; NR],
    pf: Prefetch,
) {
    // SAFETY: every access stays within the ranges the caller guarantees: acc rows r < R,
    // x[r * xs + k] (PACKED: x[k * R + r]) and w[k * NR .. k * NR + 16] for k < kc.
    unsafe {
        let mut c = [_mm512_setzero_ps(); R];
        let mut xr = [x; R];
        for (r, (cr, xp)) in c.iter_mut().zip(xr.iter_mut()).enumerate() {
            *cr = _mm512_loadu_ps(acc.add(r).cast());
            *xp = if PACKED { x.add(r) } else { x.add(r * xs) };
        }
        // Distance between the inputs of consecutive `k` steps of one row.
        let ks = if PACKED { R } else { 1 };
        // One `k` step: one weight vector, R FMAs with broadcast inputs.
        let step = |c: &mut [__m512; R], k: usize| {
            let wv = load16(w.add(k * NR));
            for (cr, xp) in c.iter_mut().zip(xr.iter()) {
                *cr = _mm512_fmadd_ps(_mm512_set1_ps(*xp.add(k * ks)), wv, *cr);
            }
        };
        k_loop(kc, pf, |k| step(&mut c, k));
        for (r, cr) in c.iter().enumerate() {
            _mm512_storeu_ps(acc.add(r).cast(), *cr);
        }
    }
}
