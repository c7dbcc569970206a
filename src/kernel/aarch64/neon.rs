//! aarch64 Advanced SIMD (NEON) kernels: a `6x16` register tile for the blocked driver
//! (`driver.rs`) and a four-panel streamer for the single-row driver (`stream.rs`).
//!
//! * **Batches**: 24 accumulator registers (6 rows x 4 vectors of 4 columns). Each `k` step
//!   loads one row of 16 weights and multiplies it by each row's input *by element*
//!   (`fmla v.4s, v.4s, v.s[i]`), the inputs of several rows or steps loaded as whole vectors:
//!   a broadcast (`ld1r`/`dup`) per row would take a vector-pipe slot per FMA group. With
//!   packed inputs (the driver's workspace) the full tile on f32 (or already widened) weights
//!   is inline assembly ([`tile6_packed_f32`]): LLVM does not keep all 24 accumulators,
//!   4 weight vectors and the inputs in the 32 registers on its own. Other heights and input
//!   layouts use intrinsics with the same by-element FMAs.
//! * **Batch 1**: four panels in flight (16 accumulators), `prfm pldl1keep` ahead in every
//!   panel. f16 weights are widened with integer operations instead of `FCVTL` (three uops on
//!   Cortex-A57): `SSHLL #13` then `BIC` of bits 28-30 turns every finite half into the f32
//!   `w * 2^-112` exactly (normals and subnormals alike) when every weight is finite (checked
//!   once when the transform is built), and the input is scaled by `2^112` once per chunk, so each product is
//!   exactly `x * w` and the results are bit-identical to `FCVTL`'s. Inputs of magnitude
//!   `2^16` or more (they would overflow once scaled) and a flush-to-zero FPCR (it would flush
//!   the subnormal `w * 2^-112`) take the `FCVTL` path. bf16 is widened by `SHLL #16`, int8
//!   by `SXTL` twice and `SCVTF` (exact).
//! * `FCVTL`, `PRFM`, `MRS` and the assembly tile are inline `asm!`, which Miri cannot run:
//!   under `cfg(miri)` the widening is done in software, the prefetch skipped and the
//!   intrinsic tile used; all else is as written.

#![allow(unsafe_code)]

use core::arch::aarch64::*;

use super::Neon;
use crate::dtype::WeightDtype;
use crate::kernel::driver::{self, Acc, Inputs, Microkernel, Prefetch, KC, RC};
use crate::kernel::i8d::{self, I8dPanels};
use crate::kernel::io::{InputRows, OutputRows};
use crate::kernel::stream::{self, Streamer};
use crate::kernel::tiling::{batch_rows, i8d_view, panels_in_bounds};
use crate::kernel::{scalar, Panels, WeightElem, NR};

/// Rows of the register tile (24 accumulators + 4 weight vectors + inputs, of 32 q registers).
pub const MR: usize = 6;
/// Panels streamed at once on the batch-1 path.
const GROUP: usize = 4;
/// Software prefetch distance on the batch-1 path, in weight rows (of `NR` elements).
const PREFETCH_ROWS: usize = 24;
/// Inputs scaled per chunk on the f16 batch-1 path (see the module docs).
const XC: usize = 256;
/// `2^112`: the factor between an f16 weight and its integer-widened f32 (`w * 2^-112`).
const F16_REBIAS: f32 = 5192296858534827628530496329220096.0;

const _: () = assert!(RC.is_multiple_of(MR) && (RC / 2).is_multiple_of(MR) && NR == 16);
const _: () = assert!(F16_REBIAS == (1u128 << 112) as f32);

type V16 = [float32x4_t; 4];

simd_entry!(Neon, "neon", apply, apply_i8d);

/// `y = x @ W + bias` for every row of `x`; the token is the proof NEON exists.
///
/// Lengths and panel bounds are checked again so the raw-pointer code is sound on its own;
/// on a mismatch (impossible through `Transform`) the scalar kernel runs instead.
fn apply<W: WeightElem>(
    _token: Neon,
    p: &Panels<'_, W>,
    x: InputRows<'_>,
    y: &mut OutputRows<'_>,
    ws: &mut [f32],
) {
    let Some(rows) = batch_rows(p.d_in, p.d_out, x.len(), y.len()).filter(|_| panels_in_bounds(p)) else {
        debug_assert!(false, "neon: lengths or panel bounds that Transform never passes");
        return scalar::apply(p, x, y);
    };
    // SAFETY: `_token` proves the CPU has NEON; panel bounds and x/y lengths checked above.
    unsafe {
        if rows == 1 && W::DTYPE == WeightDtype::F16 && p.finite {
            stream::gemv::<Streamer4<true>, W, GROUP, 2>(p, None, x, y)
        } else if rows == 1 {
            stream::gemv::<Streamer4<false>, W, GROUP, 2>(p, None, x, y)
        } else {
            driver::gemm::<Tile6, W>(p, None, x, y, rows, ws)
        }
    }
}

/// `y = x @ W' + bias` with `i8d` weights (see `kernel/i8d.rs` for the formula); the token is
/// the proof NEON exists. Bounds are checked again as in [`apply`].
fn apply_i8d(_token: Neon, p: &I8dPanels<'_>, x: InputRows<'_>, y: &mut OutputRows<'_>, ws: &mut [f32]) {
    let Some((rows, (q, aux))) = batch_rows(p.d_in, p.d_out, x.len(), y.len()).zip(i8d_view(p)) else {
        debug_assert!(false, "neon: lengths or i8d bounds that Transform never passes");
        return i8d::apply(p, x, y);
    };
    // SAFETY: `_token` proves NEON; i8d_view checked the panel bounds of `q` and the lengths
    // of `aux` (d_in scales, NR diagonal values per panel); x/y lengths were checked with it.
    unsafe {
        if rows == 1 {
            stream::gemv::<Streamer4<false>, i8, GROUP, 2>(&q, Some(aux), x, y)
        } else {
            driver::gemm::<Tile6, i8>(&q, Some(aux), x, y, rows, ws)
        }
    }
}

/// Widens 8 f16 (as bits) to two f32x4 with `FCVTL` / `FCVTL2`.
///
/// # Safety
/// NEON present.
#[cfg(not(miri))]
#[inline(always)]
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
#[inline(always)]
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

/// 8 finite f16 (as bits) as two f32x4 holding `w * 2^-112` exactly: the sign-extending
/// widening shift puts sign, exponent and mantissa in place (the sign also lands in bits
/// 28-30, which the `BIC` clears), so the f32 exponent field is the f16 one unbiased by 112
/// and a subnormal half stays a subnormal with the same mantissa.
///
/// # Safety
/// NEON present.
#[inline(always)]
unsafe fn f16x8_to_f32_rebiased(h: uint16x8_t) -> (float32x4_t, float32x4_t) {
    // SAFETY: register-only NEON operations (NEON present).
    unsafe {
        let h = vreinterpretq_s16_u16(h);
        let mask = vdupq_n_s32(0x7000_0000);
        let lo = vbicq_s32(vshll_n_s16::<13>(vget_low_s16(h)), mask);
        let hi = vbicq_s32(vshll_high_n_s16::<13>(h), mask);
        (vreinterpretq_f32_s32(lo), vreinterpretq_f32_s32(hi))
    }
}

/// Whether the FPCR flushes subnormals to zero (`FZ`): the rebiased f16 widening needs them.
#[inline(always)]
fn flushes_subnormals() -> bool {
    #[cfg(not(miri))]
    {
        let fpcr: u64;
        // SAFETY: reading FPCR has no side effect and is allowed at EL0.
        unsafe {
            core::arch::asm!("mrs {r}, fpcr", r = out(reg) fpcr, options(nomem, nostack, preserves_flags))
        };
        fpcr & (1 << 24) != 0
    }
    // Miri's floats never flush.
    #[cfg(miri)]
    false
}

/// Loads one row of 16 weights at `p` widened to f32.
///
/// # Safety
/// 16 elements readable at `p` (any alignment); NEON present.
#[inline(always)]
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
            // The int8 panel of an i8d blob (the only other WeightElem; q8 has its own
            // kernels): 16 signed bytes sign-extended twice (SXTL/SXTL2) and converted (SCVTF),
            // exact.
            WeightDtype::I8d | WeightDtype::Q8 => {
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
fn prefetch(p: *const u8) {
    #[cfg(not(miri))]
    // SAFETY: PRFM is a hint: it never faults, whatever the address, and changes no
    // architectural state.
    unsafe {
        core::arch::asm!("prfm pldl1keep, [{p}]", p = in(reg) p, options(nostack, readonly, preserves_flags));
    }
    #[cfg(miri)]
    let _ = p;
}

/// `a += w * v[LANE]` on 16 columns (`fmla v.4s, v.4s, v.s[LANE]`).
///
/// # Safety
/// NEON present.
#[inline(always)]
unsafe fn fma16_lane<const LANE: i32>(a: &mut V16, w: &V16, v: float32x4_t) {
    for (ai, wi) in a.iter_mut().zip(w) {
        // SAFETY: register-only NEON operation (NEON present).
        *ai = unsafe { vfmaq_laneq_f32::<LANE>(*ai, *wi, v) };
    }
}

/// `a += w * v[lane]`, the lane a value known when the caller is unrolled.
///
/// # Safety
/// NEON present.
#[inline(always)]
unsafe fn fma16_by(a: &mut V16, w: &V16, v: float32x4_t, lane: usize) {
    // SAFETY: NEON present (the caller's contract).
    unsafe {
        match lane {
            0 => fma16_lane::<0>(a, w, v),
            1 => fma16_lane::<1>(a, w, v),
            2 => fma16_lane::<2>(a, w, v),
            _ => fma16_lane::<3>(a, w, v),
        }
    }
}

/// The NEON streamer, as `stream.rs` drives it: a panel's 16 accumulators are four vectors,
/// four panels at a time. With `REBIAS`, f16 weights (all finite: `Panels::finite`) are
/// widened by integer operations ([`stream_f16_rebiased`]).
struct Streamer4<const REBIAS: bool>;

impl<const REBIAS: bool> Streamer for Streamer4<REBIAS> {
    type Acc = V16;

    #[inline(always)]
    unsafe fn from_bias<W: WeightElem>(b: *const f32) -> V16 {
        // SAFETY: NR = 16 f32 readable at b (the caller's contract).
        unsafe { [vld1q_f32(b), vld1q_f32(b.add(4)), vld1q_f32(b.add(8)), vld1q_f32(b.add(12))] }
    }

    #[inline(always)]
    unsafe fn stream<W: WeightElem, const P: usize>(
        w: *const W,
        stride: usize,
        x: *const f32,
        kc: usize,
        acc: &mut [V16; P],
    ) {
        // SAFETY: forwarded contract.
        unsafe {
            if REBIAS && W::DTYPE == WeightDtype::F16 && !flushes_subnormals() {
                stream_f16_rebiased::<P>(w.cast(), stride, x, kc, acc)
            } else if W::DTYPE == WeightDtype::Bf16 {
                stream16::<P, false>(w.cast(), stride, x, kc, acc)
            } else {
                stream_rows::<W, P>(w, stride, x, kc, acc)
            }
        }
    }

    #[inline(always)]
    unsafe fn to_row<W: WeightElem>(acc: V16) -> [f32; NR] {
        let mut t = [0f32; NR];
        for (i, v) in acc.iter().enumerate() {
            // SAFETY: t holds 16 f32, i * 4 + 4 <= 16.
            unsafe { vst1q_f32(t.as_mut_ptr().add(i * 4), *v) };
        }
        t
    }
}

/// `acc[g] += sum_{k < kc} x[k] * W_g[k]` for the `P` panels `W_g = w + g * stride`, four `k`
/// at a time with the inputs as one vector, each row widened by [`load16`].
///
/// # Safety
/// NEON present; `kc` values readable at `x`; `kc` rows of `NR` weights readable at
/// `w + g * stride` for `g < P`.
#[inline(always)]
unsafe fn stream_rows<W: WeightElem, const P: usize>(
    w: *const W,
    stride: usize,
    x: *const f32,
    kc: usize,
    acc: &mut [V16; P],
) {
    let mut a = *acc;
    let ahead = PREFETCH_ROWS * NR * core::mem::size_of::<W>();
    // Cache lines (64 bytes) per four weight rows: 4 for f32, 2 for 16-bit, 1 for int8.
    let lines = 4 * NR * core::mem::size_of::<W>() / 64;
    let mut k = 0;
    // SAFETY: every load reads rows k .. k + 4 <= kc of a panel and x[k .. k + 4] (k + 4 <= kc);
    // prefetch addresses may lie past the panel (a prefetch never faults).
    unsafe {
        while k + 4 <= kc {
            let xv = vld1q_f32(x.add(k));
            for (g, ag) in a.iter_mut().enumerate() {
                let wp = w.add(g * stride + k * NR);
                for l in 0..lines {
                    prefetch(wp.cast::<u8>().wrapping_add(ahead + l * 64));
                }
                fma16_lane::<0>(ag, &load16(wp), xv);
                fma16_lane::<1>(ag, &load16(wp.add(NR)), xv);
                fma16_lane::<2>(ag, &load16(wp.add(2 * NR)), xv);
                fma16_lane::<3>(ag, &load16(wp.add(3 * NR)), xv);
            }
            k += 4;
        }
        while k < kc {
            let xv = vld1q_dup_f32(x.add(k));
            for (g, ag) in a.iter_mut().enumerate() {
                fma16_lane::<0>(ag, &load16(w.add(g * stride + k * NR)), xv);
            }
            k += 1;
        }
    }
    *acc = a;
}

/// [`stream_rows`] for f16 weights widened by [`f16x8_to_f32_rebiased`], the inputs scaled by
/// `2^112` a chunk at a time ([`XC`]). A chunk with an input of magnitude `2^16` or more (or a
/// NaN: the comparison fails) goes through [`stream_rows`] with `FCVTL` instead.
///
/// # Safety
/// As [`stream_rows`] with `W = f16`.
#[inline(always)]
unsafe fn stream_f16_rebiased<const P: usize>(
    w: *const u16,
    stride: usize,
    x: *const f32,
    kc: usize,
    acc: &mut [V16; P],
) {
    let mut buf = [0f32; XC];
    let mut k0 = 0;
    while k0 < kc {
        let n = XC.min(kc - k0);
        // SAFETY: x[k0 .. k0 + n] readable (k0 + n <= kc, the caller's contract).
        let xs = unsafe { core::slice::from_raw_parts(x.add(k0), n) };
        let fits = xs.iter().all(|v| v.abs() < 65536.0);
        // SAFETY: rows k0 .. k0 + n of each panel exist (the caller's contract).
        let wk = unsafe { w.add(k0 * NR) };
        if !fits {
            // SAFETY: as the caller's contract, for rows k0 .. k0 + n.
            unsafe { stream_rows::<half::f16, P>(wk.cast(), stride, xs.as_ptr(), n, acc) };
            k0 += n;
            continue;
        }
        for (d, v) in buf.iter_mut().zip(xs) {
            *d = v * F16_REBIAS;
        }
        // SAFETY: rows k0 .. k0 + n of each panel at wk (the caller's contract) and n values
        // in buf.
        unsafe { stream16::<P, true>(wk, stride, buf.as_ptr(), n, acc) };
        k0 += n;
    }
}

/// `acc[g] += sum_{k < kc} x[k] * W_g[k]` for `P` panels of 16-bit weights at
/// `W_g = w + g * stride`, widened in registers: with `F16`, f16 weights by
/// [`f16x8_to_f32_rebiased`] (the caller has scaled `x` by `2^112`); otherwise bf16 weights by
/// `SHLL #16`. Four panels run four `k` at a time in inline assembly ([`stream4_16`]): with
/// intrinsics LLVM keeps the 16 accumulators in memory; other group sizes and the last `k`
/// use intrinsics. Each accumulator gets the FMAs of [`stream_rows`] in its order, so the
/// results are bit-identical to it.
///
/// # Safety
/// NEON present; `kc` values readable at `x`; `kc` rows of `NR` 16-bit weights readable at
/// `w + g * stride` for `g < P`.
#[inline(always)]
unsafe fn stream16<const P: usize, const F16: bool>(
    w: *const u16,
    stride: usize,
    x: *const f32,
    kc: usize,
    acc: &mut [V16; P],
) {
    let widen = |h: uint16x8_t| -> (float32x4_t, float32x4_t) {
        // SAFETY: register-only NEON operations (NEON present, the caller's contract).
        unsafe {
            if F16 {
                f16x8_to_f32_rebiased(h)
            } else {
                (
                    vreinterpretq_f32_u32(vshll_n_u16::<16>(vget_low_u16(h))),
                    vreinterpretq_f32_u32(vshll_high_n_u16::<16>(h)),
                )
            }
        }
    };
    let mut k = 0;
    #[cfg(not(miri))]
    if let Ok(acc4) = <&mut [V16; 4]>::try_from(acc.as_mut_slice()) {
        let quads = kc / 4;
        if quads > 0 {
            // SAFETY: P = 4; the caller's contract for rows 0 .. 4 quads <= kc.
            unsafe { stream4_16::<F16>(w, stride, x, quads, acc4) };
        }
        k = quads * 4;
    }
    // SAFETY: rows k .. kc of each panel and x[k .. kc] (the caller's contract).
    unsafe {
        while k < kc {
            let xv = vld1q_dup_f32(x.add(k));
            for (g, ag) in acc.iter_mut().enumerate() {
                let r = w.add(g * stride + k * NR);
                let (w0, w1) = widen(vld1q_u16(r));
                let (w2, w3) = widen(vld1q_u16(r.add(8)));
                fma16_lane::<0>(ag, &[w0, w1, w2, w3], xv);
            }
            k += 1;
        }
    }
}

/// One row of 16 weights of one panel in [`stream4_16`]: load (post-incrementing the panel's
/// pointer), widen into `v3-v6` (or `v9-v12`), and add `x[j] *` them into the panel's four
/// accumulators.
#[cfg(not(miri))]
#[rustfmt::skip]
macro_rules! row16 {
    (f16, $w:literal, $t0:literal, $t1:literal, $a:literal, $b:literal, $c:literal, $d:literal, $e:literal, $f:literal, $j:literal) => {
        concat!(
            "ldp q", $t0, ", q", $t1, ", [", $w, "], #32\n",
            "sshll v", $c, ".4s, v", $t0, ".4h, #13\n",
            "sshll2 v", $d, ".4s, v", $t0, ".8h, #13\n",
            "sshll v", $e, ".4s, v", $t1, ".4h, #13\n",
            "sshll2 v", $f, ".4s, v", $t1, ".8h, #13\n",
            "bic v", $c, ".4s, #0x70, lsl #24\n",
            "bic v", $d, ".4s, #0x70, lsl #24\n",
            "bic v", $e, ".4s, #0x70, lsl #24\n",
            "bic v", $f, ".4s, #0x70, lsl #24\n",
            row16!(fma, $a, $c, $d, $e, $f, $j),
        )
    };
    (bf16, $w:literal, $t0:literal, $t1:literal, $a:literal, $b:literal, $c:literal, $d:literal, $e:literal, $f:literal, $j:literal) => {
        concat!(
            "ldp q", $t0, ", q", $t1, ", [", $w, "], #32\n",
            "shll v", $c, ".4s, v", $t0, ".4h, #16\n",
            "shll2 v", $d, ".4s, v", $t0, ".8h, #16\n",
            "shll v", $e, ".4s, v", $t1, ".4h, #16\n",
            "shll2 v", $f, ".4s, v", $t1, ".8h, #16\n",
            row16!(fma, $a, $c, $d, $e, $f, $j),
        )
    };
    (fma, $a:literal, $c:literal, $d:literal, $e:literal, $f:literal, $j:literal) => {
        concat!(
            "fmla {", $a, "0:v}.4s, v", $c, ".4s, v0.s[", $j, "]\n",
            "fmla {", $a, "1:v}.4s, v", $d, ".4s, v0.s[", $j, "]\n",
            "fmla {", $a, "2:v}.4s, v", $e, ".4s, v0.s[", $j, "]\n",
            "fmla {", $a, "3:v}.4s, v", $f, ".4s, v0.s[", $j, "]\n",
        )
    };
}

/// The four rows `k .. k + 4` of one panel in [`stream4_16`], alternating two sets of
/// temporaries so consecutive rows do not wait on each other's registers.
#[cfg(not(miri))]
#[rustfmt::skip]
macro_rules! panel16 {
    ($kind:ident, $w:literal, $a:literal) => {
        concat!(
            "prfm pldl1keep, [", $w, ", #", stringify!(768), "]\n",
            "prfm pldl1keep, [", $w, ", #", stringify!(832), "]\n",
            row16!($kind, $w, "1", "2", $a, "", "3", "4", "5", "6", "0"),
            row16!($kind, $w, "7", "8", $a, "", "9", "10", "11", "12", "1"),
            row16!($kind, $w, "1", "2", $a, "", "3", "4", "5", "6", "2"),
            row16!($kind, $w, "7", "8", $a, "", "9", "10", "11", "12", "3"),
        )
    };
}

/// The loop of [`stream4_16`] for one widening.
#[cfg(not(miri))]
macro_rules! stream4_16_loop {
    ($kind:ident, $w:expr, $stride:expr, $x:expr, $quads:expr, $acc:expr) => {{
        let [a, b, c, d] = $acc;
        core::arch::asm!(
            "2:",
            "ldr q0, [{x}], #16",
            panel16!($kind, "{w0}", "a"),
            panel16!($kind, "{w1}", "b"),
            panel16!($kind, "{w2}", "c"),
            panel16!($kind, "{w3}", "d"),
            "subs {n}, {n}, #1",
            "b.ne 2b",
            x = inout(reg) $x => _,
            n = inout(reg) $quads => _,
            w0 = inout(reg) $w => _,
            w1 = inout(reg) $w.wrapping_add($stride) => _,
            w2 = inout(reg) $w.wrapping_add(2 * $stride) => _,
            w3 = inout(reg) $w.wrapping_add(3 * $stride) => _,
            a0 = inout(vreg) a[0], a1 = inout(vreg) a[1], a2 = inout(vreg) a[2], a3 = inout(vreg) a[3],
            b0 = inout(vreg) b[0], b1 = inout(vreg) b[1], b2 = inout(vreg) b[2], b3 = inout(vreg) b[3],
            c0 = inout(vreg) c[0], c1 = inout(vreg) c[1], c2 = inout(vreg) c[2], c3 = inout(vreg) c[3],
            d0 = inout(vreg) d[0], d1 = inout(vreg) d[1], d2 = inout(vreg) d[2], d3 = inout(vreg) d[3],
            out("v0") _, out("v1") _, out("v2") _, out("v3") _, out("v4") _, out("v5") _, out("v6") _,
            out("v7") _, out("v8") _, out("v9") _, out("v10") _, out("v11") _, out("v12") _,
            options(nostack, readonly),
        );
    }};
}

/// Four panels of 16-bit weights, `4 quads` rows, in inline assembly: per iteration one
/// vector of four inputs, then for each panel its four rows (loaded with post-increment,
/// widened, 16 by-element FMAs) and two prefetch hints `PREFETCH_ROWS` rows ahead.
///
/// # Safety
/// NEON present; `4 quads` values readable at `x`; `4 quads` rows of `NR` 16-bit weights
/// readable at `w + g * stride` for `g < 4`; `quads >= 1`.
#[cfg(not(miri))]
#[inline(always)]
unsafe fn stream4_16<const F16: bool>(
    w: *const u16,
    stride: usize,
    x: *const f32,
    quads: usize,
    acc: &mut [V16; 4],
) {
    const _: () = assert!(PREFETCH_ROWS * NR * 2 == 768);
    debug_assert!(quads >= 1);
    // SAFETY: iteration i reads x[4i .. 4i + 4] and rows 4i .. 4i + 4 (128 bytes) of the four
    // panels at w + g * stride, within the caller's ranges; the prefetch addresses may lie past
    // the panels (a prefetch never faults). Only the named registers and the flags are
    // written; no stack use.
    unsafe {
        if F16 {
            stream4_16_loop!(f16, w, stride, x, quads, acc)
        } else {
            stream4_16_loop!(bf16, w, stride, x, quads, acc)
        }
    }
}

/// The NEON `6x16` register tile, as `driver.rs` drives it.
struct Tile6;

// SAFETY: MR = 6 divides RC and RC / 2 (asserted above); the input buffer holds MR * KC values.
unsafe impl Microkernel for Tile6 {
    const MR: usize = MR;
    const MIN_TILE: usize = 4;
    type InputBuf = [f32; MR * KC];

    #[inline(always)]
    fn input_buf() -> [f32; MR * KC] {
        [0.0; MR * KC]
    }

    #[inline(always)]
    fn prefetch(p: *const u8) {
        prefetch(p)
    }

    #[inline(always)]
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

    #[inline(always)]
    unsafe fn tile_n<W: WeightElem>(
        w: *const W,
        x: *const f32,
        xs: Inputs,
        kc: usize,
        n: usize,
        acc: Acc,
        pf: Prefetch,
    ) {
        // SAFETY: forwarded contract (MIN_TILE <= n <= MR rows; other values do nothing).
        unsafe {
            match (n, xs) {
                #[cfg(not(miri))]
                (6, Inputs::Packed) if W::DTYPE == WeightDtype::F32 => {
                    tile6_packed_f32(w.cast(), x, kc, acc, pf)
                }
                (6, Inputs::Packed) => tile_packed::<W, 6>(w, x, kc, acc, pf),
                (5, Inputs::Packed) => tile_packed::<W, 5>(w, x, kc, acc, pf),
                (4, Inputs::Packed) => tile_packed::<W, 4>(w, x, kc, acc, pf),
                (6, Inputs::Rows(s)) => tile_rows::<W, 6>(w, x, s, kc, acc, pf),
                (5, Inputs::Rows(s)) => tile_rows::<W, 5>(w, x, s, kc, acc, pf),
                (4, Inputs::Rows(s)) => tile_rows::<W, 4>(w, x, s, kc, acc, pf),
                _ => debug_assert!(false, "neon: tile of {n} rows"),
            }
        }
    }
}

/// The accumulators of `R` rows loaded from `acc`.
///
/// # Safety
/// NEON present; `NR` f32 readable at `acc.src + r * acc.src_stride` for `r < R`.
#[inline(always)]
unsafe fn load_acc<const R: usize>(acc: Acc) -> [V16; R] {
    // SAFETY: the caller's contract.
    unsafe {
        core::array::from_fn(|r| {
            let a = acc.src.add(r * acc.src_stride);
            [vld1q_f32(a), vld1q_f32(a.add(4)), vld1q_f32(a.add(8)), vld1q_f32(a.add(12))]
        })
    }
}

/// Stores the accumulators of `R` rows to `acc`.
///
/// # Safety
/// NEON present; `NR` f32 writable at `acc.dst + r * acc.dst_stride` for `r < R`.
#[inline(always)]
unsafe fn store_acc<const R: usize>(c: &[V16; R], acc: Acc) {
    for (r, cr) in c.iter().enumerate() {
        // SAFETY: the caller's contract.
        unsafe {
            let a = acc.dst.add(r * acc.dst_stride);
            for (i, v) in cr.iter().enumerate() {
                vst1q_f32(a.add(4 * i), *v);
            }
        }
    }
}

/// The tile on packed inputs: `dst(r) = src(r) + sum_{k < kc} x[k * R + r] * w[k]` for `r < R`,
/// the `R` inputs of a step loaded as vectors and used by element.
///
/// # Safety
/// NEON present; `kc * NR` weights readable at `w`; `kc * R` values readable at `x`; the
/// accumulator rows as [`load_acc`] and [`store_acc`] require.
#[inline(always)]
unsafe fn tile_packed<W: WeightElem, const R: usize>(
    w: *const W,
    x: *const f32,
    kc: usize,
    acc: Acc,
    pf: Prefetch,
) {
    // SAFETY: every access stays within the caller's ranges: x[k * R .. k * R + R] and
    // w[k * NR .. k * NR + 16] for k < kc; loads of fewer than 4 inputs use narrower loads.
    unsafe {
        let mut c = load_acc::<R>(acc);
        let mut hints = Hints::new(pf, kc);
        for k in 0..kc {
            hints.tick();
            let wv = load16(w.add(k * NR));
            let xp = x.add(k * R);
            let mut r = 0;
            while r < R {
                let v = match R - r {
                    1 => vld1q_dup_f32(xp.add(r)),
                    2 | 3 => vcombine_f32(vld1_f32(xp.add(r)), vdup_n_f32(0.0)),
                    _ => vld1q_f32(xp.add(r)),
                };
                let take = match R - r {
                    1 => 1,
                    2 | 3 => 2,
                    _ => 4,
                };
                for l in 0..take {
                    if let Some(cr) = c.get_mut(r + l) {
                        fma16_by(cr, &wv, v, l);
                    }
                }
                r += take;
            }
        }
        store_acc::<R>(&c, acc);
    }
}

/// The tile on inputs in rows `xs` apart: `dst(r) = src(r) + sum_{k < kc} x[r * xs + k] * w[k]`
/// for `r < R`, each row's inputs of four `k` steps loaded as one vector and used by element.
///
/// # Safety
/// NEON present; `kc * NR` weights readable at `w`; for `r < R`, `kc` values readable at
/// `x + r * xs`; the accumulator rows as [`load_acc`] and [`store_acc`] require.
#[inline(always)]
unsafe fn tile_rows<W: WeightElem, const R: usize>(
    w: *const W,
    x: *const f32,
    xs: usize,
    kc: usize,
    acc: Acc,
    pf: Prefetch,
) {
    // SAFETY: every access stays within the caller's ranges: x[r * xs + k .. + 4] with
    // k + 4 <= kc (single values beyond), w[k * NR .. k * NR + 16] for k < kc.
    unsafe {
        let mut c = load_acc::<R>(acc);
        let quads = kc / 4;
        // Plain loops, not the driver's `k_loop` closure: LLVM outlines a closure this large,
        // and the accumulators then live in memory.
        let mut hints = Hints::new(pf, quads);
        for q in 0..quads {
            hints.tick();
            let k = 4 * q;
            let xv: [float32x4_t; R] = core::array::from_fn(|r| vld1q_f32(x.add(r * xs + k)));
            for j in 0..4 {
                let wv = load16(w.add((k + j) * NR));
                for (cr, v) in c.iter_mut().zip(&xv) {
                    fma16_by(cr, &wv, *v, j);
                }
            }
        }
        for k in 4 * quads..kc {
            let wv = load16(w.add(k * NR));
            for (r, cr) in c.iter_mut().enumerate() {
                fma16_lane::<0>(cr, &wv, vld1q_dup_f32(x.add(r * xs + k)));
            }
        }
        store_acc::<R>(&c, acc);
    }
}

/// The driver's prefetch hints ([`Prefetch`]) spread over `iterations` of a tile's loop: one
/// line every `iterations / lines` iterations, at most one per iteration.
struct Hints {
    at: *const u8,
    left: usize,
    every: usize,
    countdown: usize,
}

impl Hints {
    #[inline(always)]
    fn new(pf: Prefetch, iterations: usize) -> Hints {
        let every = iterations.checked_div(pf.lines).unwrap_or(usize::MAX).max(1);
        Hints { at: pf.at, left: pf.lines, every, countdown: 0 }
    }

    /// Issues the next hint when its iteration has come.
    #[inline(always)]
    fn tick(&mut self) {
        if self.countdown == 0 && self.left > 0 {
            prefetch(self.at);
            self.at = self.at.wrapping_add(64);
            self.left -= 1;
            self.countdown = self.every;
        }
        self.countdown = self.countdown.saturating_sub(1);
    }
}

/// One `k` step of [`tile6_packed_f32`]: the 16 weights of the step in `v24-v27`, the six
/// inputs in `v28` (rows 0-3) and `v29` (rows 4-5), 24 by-element FMAs into `v0-v23`
/// (row `r`, columns `4c .. 4c + 4` in `v(4r + c)`).
#[cfg(not(miri))]
#[rustfmt::skip]
macro_rules! tile6_step {
    () => {
        concat!(
            "ldp q24, q25, [{w}], #32\n",
            "ldp q26, q27, [{w}], #32\n",
            "ldr q28, [{x}], #16\n",
            "ldr d29, [{x}], #8\n",
            "fmla v0.4s, v24.4s, v28.s[0]\n", "fmla v1.4s, v25.4s, v28.s[0]\n",
            "fmla v2.4s, v26.4s, v28.s[0]\n", "fmla v3.4s, v27.4s, v28.s[0]\n",
            "fmla v4.4s, v24.4s, v28.s[1]\n", "fmla v5.4s, v25.4s, v28.s[1]\n",
            "fmla v6.4s, v26.4s, v28.s[1]\n", "fmla v7.4s, v27.4s, v28.s[1]\n",
            "fmla v8.4s, v24.4s, v28.s[2]\n", "fmla v9.4s, v25.4s, v28.s[2]\n",
            "fmla v10.4s, v26.4s, v28.s[2]\n", "fmla v11.4s, v27.4s, v28.s[2]\n",
            "fmla v12.4s, v24.4s, v28.s[3]\n", "fmla v13.4s, v25.4s, v28.s[3]\n",
            "fmla v14.4s, v26.4s, v28.s[3]\n", "fmla v15.4s, v27.4s, v28.s[3]\n",
            "fmla v16.4s, v24.4s, v29.s[0]\n", "fmla v17.4s, v25.4s, v29.s[0]\n",
            "fmla v18.4s, v26.4s, v29.s[0]\n", "fmla v19.4s, v27.4s, v29.s[0]\n",
            "fmla v20.4s, v24.4s, v29.s[1]\n", "fmla v21.4s, v25.4s, v29.s[1]\n",
            "fmla v22.4s, v26.4s, v29.s[1]\n", "fmla v23.4s, v27.4s, v29.s[1]\n",
        )
    };
}

/// The full tile on packed inputs and f32 weights (a blob's, or widened by the driver) in
/// inline assembly: 24 accumulators in `v0-v23`, four `k` steps per iteration, one prefetch
/// hint of the driver's share per iteration. Each accumulator gets the FMAs of
/// [`tile_packed`], in its order, so the results are bit-identical to it.
///
/// # Safety
/// NEON present; `kc * NR` f32 readable at `w`; `6 kc` values readable at `x`; `NR` f32
/// readable at `acc.src + r * acc.src_stride` and writable at `acc.dst + r * acc.dst_stride`
/// for `r < 6`.
#[cfg(not(miri))]
#[inline(always)]
unsafe fn tile6_packed_f32(w: *const f32, x: *const f32, kc: usize, acc: Acc, pf: Prefetch) {
    // SAFETY: the caller's contract for the accumulator rows.
    let mut c = unsafe { load_acc::<6>(acc) };
    let quads = kc / 4;
    let mut wp = w;
    let mut xp = x;
    if quads > 0 {
        // One hint every `step` iterations spreads the driver's share over the loop.
        let every = quads.checked_div(pf.lines).unwrap_or(quads + 1).max(1);
        let mut hint = pf.at;
        let mut left = pf.lines;
        let [c0, c1, c2, c3, c4, c5] = &mut c;
        let mut it = 0;
        while it < quads {
            let run = every.min(quads - it);
            if left > 0 {
                prefetch(hint);
                hint = hint.wrapping_add(64);
                left -= 1;
            }
            // SAFETY: `run` iterations read 4 * run rows of 16 f32 at wp and 4 * run steps of 6
            // inputs at xp, within the caller's ranges (it + run <= kc / 4); only the named
            // registers and the flags are written; no stack use.
            unsafe {
                core::arch::asm!(
                    "2:",
                    tile6_step!(),
                    tile6_step!(),
                    tile6_step!(),
                    tile6_step!(),
                    "subs {n}, {n}, #1",
                    "b.ne 2b",
                    w = inout(reg) wp,
                    x = inout(reg) xp,
                    n = inout(reg) run => _,
                    inout("v0") c0[0], inout("v1") c0[1], inout("v2") c0[2], inout("v3") c0[3],
                    inout("v4") c1[0], inout("v5") c1[1], inout("v6") c1[2], inout("v7") c1[3],
                    inout("v8") c2[0], inout("v9") c2[1], inout("v10") c2[2], inout("v11") c2[3],
                    inout("v12") c3[0], inout("v13") c3[1], inout("v14") c3[2], inout("v15") c3[3],
                    inout("v16") c4[0], inout("v17") c4[1], inout("v18") c4[2], inout("v19") c4[3],
                    inout("v20") c5[0], inout("v21") c5[1], inout("v22") c5[2], inout("v23") c5[3],
                    out("v24") _, out("v25") _, out("v26") _, out("v27") _, out("v28") _, out("v29") _,
                    options(nostack, readonly),
                );
            }
            it += run;
        }
    }
    // SAFETY: the remaining kc % 4 steps at wp / xp, within the caller's ranges; the
    // accumulator rows as the caller guarantees.
    unsafe {
        for k in 0..kc % 4 {
            let wv = load16(wp.add(k * NR));
            let xk = xp.add(k * 6);
            let (v, u) = (vld1q_f32(xk), vcombine_f32(vld1_f32(xk.add(4)), vdup_n_f32(0.0)));
            for (r, cr) in c.iter_mut().enumerate() {
                if r < 4 {
                    fma16_by(cr, &wv, v, r);
                } else {
                    fma16_by(cr, &wv, u, r - 4);
                }
            }
        }
        store_acc::<6>(&c, acc);
    }
}
