//! aarch64 Advanced SIMD (NEON) kernels: a `6x16` register tile for batches and a multi-panel
//! streamer for single rows. Same loop nest as the AVX2 kernels (`x86_64/avx2.rs`).
//!
//! * **Batch 1** ([`gemv`]): [`GROUP`] panels in flight (16 accumulators), `k` unrolled by two,
//!   `prfm pldl1keep` [`PREFETCH_ROWS`] rows ahead in every panel. Each weight is read once.
//! * **Batches** ([`gemm`]): a chunk of up to [`RC`] rows keeps its accumulators in a stack
//!   scratch started from the bias; K-blocks of [`KC`] rows; `MR x 16` tiles of 24 accumulator
//!   registers (of 32) with `fmla v.4s, v.4s, v.s[0]`. With [`WIDEN_MIN_ROWS`] rows or more,
//!   16-bit weights are widened once per K-block into a 16 KiB stack buffer shared by all tiles.
//! * **f16 weights** are widened with `FCVTL`/`FCVTL2` (ARMv8.0 AdvSIMD, so Cortex-A57 class
//!   CPUs have it) through inline `asm!`, because the f16 intrinsics are not stable; Miri cannot
//!   run inline assembly, so under `cfg(miri)` an intrinsic-free scalar widening replaces it.
//!   **bf16** is widened by `SHLL #16` (`vshll_n_u16`).
//! * **i8d** ([`apply_i8d`]): the same loop nest on the int8 panels (`SXTL`/`SXTL2` twice, then
//!   `SCVTF`, exact), fed with the scaled input `x[k] * scale[k]` formed once per input chunk
//!   in the stack buffer the f16-input path uses; the exact diagonal term is added to each
//!   finished accumulator row before the store ([`add_diag`]).
//! * Ragged edges as on AVX2: zero-padded panels, a tile of its own height for the row
//!   remainder, no per-element branch in a hot loop.

#![allow(unsafe_code)]

use core::arch::aarch64::*;

use super::Neon;
use crate::dtype::{Element, WeightDtype};
use crate::kernel::i8d::{self, I8dPanels};
use crate::kernel::tiling::{
    add_diag, batch_rows, i8d_view, panels_in_bounds, row_blocks, store_row, widen_x, CacheAligned, I8dAux,
};
use crate::kernel::{scalar, Panels, WeightElem, NR};

/// Rows of the register tile (24 accumulators + 4 weight vectors + inputs, of 32 q registers).
pub const MR: usize = 6;
/// Depth of one K-block: `KC * NR` f32 = 16 KiB.
const KC: usize = 256;
/// Rows per chunk sharing the K-blocks of a panel (a multiple of `MR`).
const RC: usize = 72;
/// Input elements widened per chunk on the batch-1 path with f16/bf16 inputs.
const XC: usize = 256;
/// Panels streamed at once on the batch-1 path.
const GROUP: usize = 4;
/// Software prefetch distance on the batch-1 path, in weight rows (of `NR` elements).
const PREFETCH_ROWS: usize = 24;
/// From this many rows on, 16-bit weights are widened once per K-block into a buffer.
const WIDEN_MIN_ROWS: usize = 2 * MR;

// `gemv` has a match arm for every group size up to GROUP: a larger GROUP would skip panels.
const _: () = assert!(RC % MR == 0 && NR == 16 && GROUP >= 1 && GROUP <= 4);

type V16 = [float32x4_t; 4];

/// `y = x @ W + bias` for every row of `x`; the token is the proof NEON exists.
///
/// Lengths and panel bounds are checked again so the raw-pointer code is sound on its own;
/// on a mismatch (impossible through `Transform`) the scalar kernel runs instead.
pub(crate) fn apply<W: WeightElem, I: Element, O: Element>(
    _token: Neon,
    p: &Panels<'_, W>,
    x: &[I],
    y: &mut [O],
) {
    let Some(rows) = batch_rows(p.d_in, p.d_out, x.len(), y.len()).filter(|_| panels_in_bounds(p)) else {
        return scalar::apply(p, x, y);
    };
    if rows == 1 {
        // SAFETY: `_token` proves the CPU has NEON; panel bounds and x/y lengths checked above.
        unsafe { gemv(p, None, x, y) }
    } else {
        // SAFETY: as above.
        unsafe { gemm(p, None, x, y, rows) }
    }
}

/// `y = x @ W' + bias` with `i8d` weights (see `kernel/i8d.rs` for the formula); the token is
/// the proof NEON exists.
///
/// Lengths and the bounds of the int8 panels, scales and diagonal are checked again so the
/// raw-pointer code is sound on its own; on a mismatch the scalar `i8d` kernel runs instead.
pub(crate) fn apply_i8d<I: Element, O: Element>(_token: Neon, p: &I8dPanels<'_>, x: &[I], y: &mut [O]) {
    let Some((rows, (q, aux))) = batch_rows(p.d_in, p.d_out, x.len(), y.len()).zip(i8d_view(p)) else {
        return i8d::apply(p, x, y);
    };
    if rows == 1 {
        // SAFETY: `_token` proves NEON; i8d_view checked the panel bounds of `q` and the
        // lengths of `aux` (d_in scales, NR diagonal values per panel); x/y lengths were
        // checked with it.
        unsafe { gemv(&q, Some(aux), x, y) }
    } else {
        // SAFETY: as above.
        unsafe { gemm(&q, Some(aux), x, y, rows) }
    }
}

/// Widens 8 f16 (as bits) to two f32x4 with `FCVTL` / `FCVTL2`.
///
/// # Safety
/// NEON present.
#[cfg(not(miri))]
#[inline]
#[target_feature(enable = "neon")]
unsafe fn f16x8_to_f32(h: uint16x8_t) -> (float32x4_t, float32x4_t) {
    let lo: float32x4_t;
    let hi: float32x4_t;
    // SAFETY: FCVTL/FCVTL2 are ARMv8.0 AdvSIMD instructions (NEON is present); they only read
    // and write vector registers. `out` operands never share a register with the input, so
    // `h` is intact for the second instruction.
    unsafe {
        core::arch::asm!(
            "fcvtl {lo:v}.4s, {h:v}.4h",
            "fcvtl2 {hi:v}.4s, {h:v}.8h",
            h = in(vreg) h,
            lo = out(vreg) lo,
            hi = out(vreg) hi,
            options(pure, nomem, nostack, preserves_flags),
        );
    }
    (lo, hi)
}

/// Miri cannot interpret inline assembly: the same widening without it.
///
/// # Safety
/// NEON present.
#[cfg(miri)]
#[inline]
#[target_feature(enable = "neon")]
unsafe fn f16x8_to_f32(h: uint16x8_t) -> (float32x4_t, float32x4_t) {
    let mut bits = [0u16; 8];
    let mut f = [0f32; 8];
    // SAFETY: bits holds 8 u16, f holds 8 f32.
    unsafe {
        vst1q_u16(bits.as_mut_ptr(), h);
        for (d, &b) in f.iter_mut().zip(&bits) {
            *d = half::f16::from_bits(b).to_f32();
        }
        (vld1q_f32(f.as_ptr()), vld1q_f32(f.as_ptr().add(4)))
    }
}

/// Loads one row of 16 weights at `p` widened to f32.
///
/// # Safety
/// 16 elements readable at `p` (any alignment); NEON present.
#[inline]
#[target_feature(enable = "neon")]
unsafe fn load16<W: WeightElem>(p: *const W) -> V16 {
    // SAFETY: the caller guarantees 16 readable elements at `p`; NEON loads have no alignment
    // requirement beyond the element's.
    unsafe {
        match W::DTYPE {
            WeightDtype::F32 => {
                let f = p.cast::<f32>();
                [vld1q_f32(f), vld1q_f32(f.add(4)), vld1q_f32(f.add(8)), vld1q_f32(f.add(12))]
            }
            WeightDtype::F16 => {
                let h = p.cast::<u16>();
                let (a, b) = f16x8_to_f32(vld1q_u16(h));
                let (c, d) = f16x8_to_f32(vld1q_u16(h.add(8)));
                [a, b, c, d]
            }
            WeightDtype::Bf16 => {
                let h = p.cast::<u16>();
                let lo = vld1q_u16(h);
                let hi = vld1q_u16(h.add(8));
                [
                    vreinterpretq_f32_u32(vshll_n_u16::<16>(vget_low_u16(lo))),
                    vreinterpretq_f32_u32(vshll_high_n_u16::<16>(lo)),
                    vreinterpretq_f32_u32(vshll_n_u16::<16>(vget_low_u16(hi))),
                    vreinterpretq_f32_u32(vshll_high_n_u16::<16>(hi)),
                ]
            }
            // The int8 panel of an i8d blob: 16 signed bytes sign-extended twice (SXTL/SXTL2)
            // and converted (SCVTF), exact.
            WeightDtype::I8d => {
                let b = vld1q_s8(p.cast::<i8>());
                let (lo, hi) = (vmovl_s8(vget_low_s8(b)), vmovl_high_s8(b));
                [
                    vcvtq_f32_s32(vmovl_s16(vget_low_s16(lo))),
                    vcvtq_f32_s32(vmovl_high_s16(lo)),
                    vcvtq_f32_s32(vmovl_s16(vget_low_s16(hi))),
                    vcvtq_f32_s32(vmovl_high_s16(hi)),
                ]
            }
        }
    }
}

/// Prefetch hint for the cache line at `p` (`prfm pldl1keep`); nothing under Miri.
#[inline(always)]
fn prefetch<T>(p: *const T) {
    #[cfg(not(miri))]
    // SAFETY: PRFM is a hint: it never faults, whatever the address, and changes no
    // architectural state.
    unsafe {
        core::arch::asm!("prfm pldl1keep, [{p}]", p = in(reg) p, options(nostack, readonly, preserves_flags));
    }
    #[cfg(miri)]
    let _ = p;
}

/// `a += w * x` on 16 lanes (`fmla v.4s, v.4s, v.s[0]`).
///
/// # Safety
/// NEON present.
#[inline]
#[target_feature(enable = "neon")]
unsafe fn fma16(a: &mut V16, w: &V16, x: f32) {
    for (ai, wi) in a.iter_mut().zip(w) {
        *ai = vfmaq_n_f32(*ai, *wi, x);
    }
}

/// Single row: panels in groups of [`GROUP`]. With `aux` (i8d), the input is scaled and the
/// diagonal term added.
///
/// # Safety
/// NEON present; `panels_in_bounds(p)`, `x.len() == d_in`, `y.len() == d_out`; with `aux`,
/// `d_in` scales and `count * NR` diagonal values.
#[target_feature(enable = "neon")]
unsafe fn gemv<W: WeightElem, I: Element, O: Element>(
    p: &Panels<'_, W>,
    aux: Option<I8dAux<'_>>,
    x: &[I],
    y: &mut [O],
) {
    let count = p.count();
    let mut q = 0;
    while q < count {
        let n = GROUP.min(count - q);
        // SAFETY: panels q .. q + n exist (n <= count - q); the rest is the caller's contract.
        unsafe {
            match n {
                4 => group::<W, I, O, 4>(p, aux, q, x, y),
                3 => group::<W, I, O, 3>(p, aux, q, x, y),
                2 => group::<W, I, O, 2>(p, aux, q, x, y),
                _ => group::<W, I, O, 1>(p, aux, q, x, y),
            }
        }
        q += n;
    }
}

/// Panels `q0 .. q0 + P` of a single row.
///
/// # Safety
/// As [`gemv`], and panels `q0 .. q0 + P` exist.
#[inline]
#[target_feature(enable = "neon")]
unsafe fn group<W: WeightElem, I: Element, O: Element, const P: usize>(
    p: &Panels<'_, W>,
    aux: Option<I8dAux<'_>>,
    q0: usize,
    x: &[I],
    y: &mut [O],
) {
    let d_in = p.d_in;
    // SAFETY: panel q0 starts at q0 * stride inside `weights`; `bias` holds NR values for each
    // of the P panels (panels_in_bounds).
    let (w, mut acc) = unsafe {
        let w = p.weights.as_ptr().add(q0 * p.stride);
        let mut acc = [[vdupq_n_f32(0.0); 4]; P];
        for (g, a) in acc.iter_mut().enumerate() {
            let b = p.bias.as_ptr().add((q0 + g) * NR);
            *a = [vld1q_f32(b), vld1q_f32(b.add(4)), vld1q_f32(b.add(8)), vld1q_f32(b.add(12))];
        }
        (w, acc)
    };
    match (I::as_f32_slice(x), aux) {
        // SAFETY: x holds d_in f32 values; each of the P panels holds d_in rows of NR weights.
        (Some(xf), None) => unsafe { stream::<W, P>(w, p.stride, xf.as_ptr(), d_in, &mut acc) },
        // 16-bit inputs are widened, i8d inputs scaled, one chunk at a time.
        _ => {
            let mut buf = [0f32; XC];
            for k0 in (0..d_in).step_by(XC) {
                let kc = XC.min(d_in - k0);
                let scales = aux.map(|a| a.scales.get(k0..).unwrap_or(&[]));
                widen_x(&mut buf, x.get(k0..k0 + kc).unwrap_or(&[]), scales);
                // SAFETY: buf holds kc >= 1 values; rows k0 .. k0 + kc exist in each panel.
                unsafe { stream::<W, P>(w.add(k0 * NR), p.stride, buf.as_ptr(), kc, &mut acc) };
            }
        }
    }
    for (g, a) in acc.iter().enumerate() {
        let mut t = [0f32; NR];
        for (i, v) in a.iter().enumerate() {
            // SAFETY: t holds 16 f32, i * 4 + 4 <= 16.
            unsafe { vst1q_f32(t.as_mut_ptr().add(i * 4), *v) };
        }
        add_diag(&mut t, aux, x, (q0 + g) * NR, p.d_out);
        store_row(&t, y, (q0 + g) * NR);
    }
}

/// `acc[g] += sum_{k < kc} x[k] * W_g[k]` for the `P` panels `W_g = w + g * stride`.
///
/// # Safety
/// NEON present; `kc` values readable at `x`; `kc` rows of `NR` weights readable at
/// `w + g * stride` for `g < P`.
#[inline]
#[target_feature(enable = "neon")]
unsafe fn stream<W: WeightElem, const P: usize>(
    w: *const W,
    stride: usize,
    x: *const f32,
    kc: usize,
    acc: &mut [V16; P],
) {
    let mut a = *acc;
    let ahead = PREFETCH_ROWS * NR;
    // Cache lines (64 bytes) per two weight rows: 2 for f32, 1 for 16-bit weights, half a line
    // for int8 (prefetched twice: one hint per step keeps the loop branch-free).
    let lines = (2 * NR * core::mem::size_of::<W>()).div_ceil(64);
    let mut k = 0;
    // SAFETY: every load reads rows k, k + 1 < kc of a panel and x[k], x[k + 1]; prefetch
    // addresses may lie past the panel (wrapping_add; a prefetch never faults).
    unsafe {
        while k + 2 <= kc {
            let x0 = *x.add(k);
            let x1 = *x.add(k + 1);
            for (g, ag) in a.iter_mut().enumerate() {
                let wp = w.add(g * stride + k * NR);
                for l in 0..lines {
                    prefetch(wp.wrapping_add(ahead + l * 64 / core::mem::size_of::<W>()));
                }
                fma16(ag, &load16(wp), x0);
                fma16(ag, &load16(wp.add(NR)), x1);
            }
            k += 2;
        }
        if k < kc {
            let x0 = *x.add(k);
            for (g, ag) in a.iter_mut().enumerate() {
                fma16(ag, &load16(w.add(g * stride + k * NR)), x0);
            }
        }
    }
    *acc = a;
}

/// Several rows: chunks of [`RC`] rows, one panel at a time, K-blocks of [`KC`], `MR x 16` tiles.
/// With `aux` (i8d), the input is scaled as it is copied into the tile's buffer and the
/// diagonal term added to each finished row.
///
/// # Safety
/// NEON present; `panels_in_bounds(p)`, `x.len() == rows * d_in`, `y.len() == rows * d_out`;
/// with `aux`, `d_in` scales and `count * NR` diagonal values.
#[target_feature(enable = "neon")]
unsafe fn gemm<W: WeightElem, I: Element, O: Element>(
    p: &Panels<'_, W>,
    aux: Option<I8dAux<'_>>,
    x: &[I],
    y: &mut [O],
    rows: usize,
) {
    let (d_in, d_out) = (p.d_in, p.d_out);
    let widen = W::DTYPE != WeightDtype::F32 && rows >= WIDEN_MIN_ROWS;
    let mut scratch = CacheAligned([[0f32; NR]; RC]);
    let scratch = &mut scratch.0;
    let mut xbuf = [0f32; MR * KC];
    let mut wbuf = CacheAligned([0f32; KC * NR]);
    let wbuf = &mut wbuf.0;
    // i8d inputs are always scaled into the buffer; f32 inputs are otherwise read in place.
    let xf = if aux.is_some() { None } else { I::as_f32_slice(x) };
    for r0 in (0..rows).step_by(RC) {
        let rc = RC.min(rows - r0);
        for (q, bias) in p.bias.chunks_exact(NR).take(p.count()).enumerate() {
            // SAFETY: panel q exists (panels_in_bounds).
            let panel = unsafe { p.weights.as_ptr().add(q * p.stride) };
            for s in scratch.iter_mut().take(rc) {
                s.copy_from_slice(bias);
            }
            for k0 in (0..d_in).step_by(KC) {
                let kc = KC.min(d_in - k0);
                // SAFETY: rows k0 .. k0 + kc of the panel exist (k0 + kc <= d_in).
                let wk = unsafe { panel.add(k0 * NR) };
                if widen {
                    // SAFETY: kc * NR weights readable at wk, wbuf holds KC * NR >= kc * NR.
                    unsafe { widen_block(wk, kc, wbuf) };
                }
                for (b0, n) in row_blocks(rc, MR) {
                    let row = r0 + b0;
                    let (xp, xs) = match xf {
                        // SAFETY: rows row .. row + n <= rows, columns k0 .. k0 + kc lie
                        // inside x (rows * d_in values).
                        Some(xf) => (unsafe { xf.as_ptr().add(row * d_in + k0) }, d_in),
                        None => {
                            let scales = aux.map(|a| a.scales.get(k0..).unwrap_or(&[]));
                            for (r, dst) in xbuf.chunks_exact_mut(KC).take(n).enumerate() {
                                let start = (row + r) * d_in + k0;
                                widen_x(dst, x.get(start..start + kc).unwrap_or(&[]), scales);
                            }
                            (xbuf.as_ptr(), KC)
                        }
                    };
                    let acc = scratch[b0..].as_mut_ptr();
                    // SAFETY: n <= MR rows of kc values at xp with stride xs; kc rows of NR
                    // weights at wk (or widened in wbuf); b0 + n <= rc <= RC scratch rows.
                    unsafe {
                        if widen {
                            tile_n(wbuf.as_ptr(), xp, xs, kc, n, acc)
                        } else {
                            tile_n(wk, xp, xs, kc, n, acc)
                        }
                    }
                }
            }
            for (r, s) in scratch.iter_mut().take(rc).enumerate() {
                let x_row = x.get((r0 + r) * d_in..(r0 + r + 1) * d_in).unwrap_or(&[]);
                add_diag(s, aux, x_row, q * NR, d_out);
                let start = (r0 + r) * d_out;
                if let Some(y_row) = y.get_mut(start..start + d_out) {
                    store_row(s, y_row, q * NR);
                }
            }
        }
    }
}

/// Widens `kc` rows of `NR` weights at `w` into `dst`.
///
/// # Safety
/// NEON present; `kc * NR` weights readable at `w`; `kc <= KC`.
#[inline]
#[target_feature(enable = "neon")]
unsafe fn widen_block<W: WeightElem>(w: *const W, kc: usize, dst: &mut [f32; KC * NR]) {
    for (k, d) in dst.chunks_exact_mut(NR).take(kc).enumerate() {
        // SAFETY: row k < kc of NR weights readable at w; d holds 16 f32.
        unsafe {
            let v = load16(w.add(k * NR));
            for (i, vi) in v.iter().enumerate() {
                vst1q_f32(d.as_mut_ptr().add(4 * i), *vi);
            }
        }
    }
}

/// Dispatches a tile of `n` rows to its const-generic height.
///
/// # Safety
/// As [`tile`] with `R = n`; `1 <= n <= MR` (other values do nothing).
#[inline]
#[target_feature(enable = "neon")]
unsafe fn tile_n<W: WeightElem>(
    w: *const W,
    x: *const f32,
    xs: usize,
    kc: usize,
    n: usize,
    acc: *mut [f32; NR],
) {
    // SAFETY: forwarded contract.
    unsafe {
        match n {
            6 => tile::<W, 6>(w, x, xs, kc, acc),
            5 => tile::<W, 5>(w, x, xs, kc, acc),
            4 => tile::<W, 4>(w, x, xs, kc, acc),
            3 => tile::<W, 3>(w, x, xs, kc, acc),
            2 => tile::<W, 2>(w, x, xs, kc, acc),
            1 => tile::<W, 1>(w, x, xs, kc, acc),
            _ => {}
        }
    }
}

/// The microkernel: `acc[r] += sum_{k < kc} x[r * xs + k] * w[k]` for `r < R`, each `w[k]` a
/// row of 16 weights, all `4 R` accumulators in registers.
///
/// # Safety
/// NEON present; `kc * NR` weights readable at `w`; for `r < R`, `kc` values readable at
/// `x + r * xs`; `R` rows of `NR` f32 readable and writable at `acc`.
#[inline]
#[target_feature(enable = "neon")]
unsafe fn tile<W: WeightElem, const R: usize>(
    w: *const W,
    x: *const f32,
    xs: usize,
    kc: usize,
    acc: *mut [f32; NR],
) {
    // SAFETY: every access stays within the caller's ranges: acc rows r < R, x[r * xs + k] and
    // w[k * NR .. k * NR + 16] for k < kc.
    unsafe {
        let mut c = [[vdupq_n_f32(0.0); 4]; R];
        let mut xr = [x; R];
        for (r, (cr, xp)) in c.iter_mut().zip(xr.iter_mut()).enumerate() {
            let a = acc.add(r).cast::<f32>();
            *cr = [vld1q_f32(a), vld1q_f32(a.add(4)), vld1q_f32(a.add(8)), vld1q_f32(a.add(12))];
            *xp = x.add(r * xs);
        }
        for k in 0..kc {
            let wv = load16(w.add(k * NR));
            for (cr, xp) in c.iter_mut().zip(xr.iter()) {
                fma16(cr, &wv, *xp.add(k));
            }
        }
        for (r, cr) in c.iter().enumerate() {
            let a = acc.add(r).cast::<f32>();
            for (i, v) in cr.iter().enumerate() {
                vst1q_f32(a.add(4 * i), *v);
            }
        }
    }
}
