//! aarch64 `q8` kernels: the exact panel sums ([`q8::Dot`]) that `q8::drive` asks for, one
//! with the Armv8.2 `SDOT` (`neondot`) and one with Armv8.0 NEON only (`neon`, the Cortex-A57's).
//! Both compute integer sums exactly, so every float step stays in `q8::drive` and the results
//! are the portable kernel's bit for bit.
//!
//! * **`SDOT`** multiplies int8 by int8, and the activations have 12 bits: each is split into
//!   two int8 digits, `a = 64 * hi + lo` with `hi = (a + 32) >> 6` in `-32..=32` (`SRSHR #6`)
//!   and `lo = a - 64 * hi` in `-32..=31`, sixteen at a time, once per panel (a handful of
//!   vector operations per 32 `SDOT`s). A panel's group of four inputs is 64 bytes, column
//!   `c`'s four bytes at `4c`: four 16-byte vectors, each exactly the operand of
//!   `sdot v.4s, w.16b, digits.4b[g]` for four columns. Two accumulator sets (`hi` and `lo`)
//!   are combined once per panel: `acc = (acc_hi << 6) + acc_lo`.
//! * **NEON** (no `SDOT`): `LD4` deinterleaves a group into four vectors of sixteen columns (one
//!   per input), `SXTL`/`SXTL2` widen them to int16, and `SMLAL`/`SMLAL2` by element multiply
//!   them by the int16 activation and add into int32, no digit split.
//! * `SDOT` is unstable as an intrinsic (`vdotq_laneq_s32`): inline `asm!`, which Miri cannot
//!   run; under `cfg(miri)` the same `SDOT` is computed in software.

#![allow(unsafe_code)]

use core::arch::aarch64::*;

use super::{Neon, NeonDot};
use crate::format::{Q8_ACT_MAX, Q8_GROUP};
use crate::kernel::io::{InputRows, OutputRows};
use crate::kernel::q8;
use crate::kernel::{portable, PackedWeights, NR};

/// Activations per digit split: one vector of sixteen int8 digits, four groups.
const CHUNK: usize = 16;
/// Bytes of one group of four inputs over the panel's sixteen columns.
const GROUP_BYTES: usize = NR * Q8_GROUP;

const _: () = assert!(NR == 16 && Q8_GROUP == 4 && Q8_ACT_MAX == 2047);

/// The registry's entry for the `neondot` `q8` kernel (the ISA has no other kernel: any other
/// blob, which `Transform` never sends here, runs portably).
pub(crate) fn run_dot(weights: &PackedWeights<'_>, x: InputRows<'_>, mut y: OutputRows<'_>, ws: &mut [f32]) {
    match weights {
        PackedWeights::Q8(p) if NeonDot::detect().is_some() => q8::drive(p, x, &mut y, dot_neondot, None),
        _ => {
            debug_assert!(matches!(weights, PackedWeights::Q8(_)), "neondot: only q8 kernels");
            portable(weights, x, y, ws)
        }
    }
}

/// The registry's entry for the `neon` `q8` kernel (the other dtypes' `neon` kernels have
/// their own entry, `neon::run`).
pub(crate) fn run_neon(weights: &PackedWeights<'_>, x: InputRows<'_>, mut y: OutputRows<'_>, ws: &mut [f32]) {
    match weights {
        PackedWeights::Q8(p) if Neon::detect().is_some() => q8::drive(p, x, &mut y, dot_neon, None),
        _ => portable(weights, x, y, ws),
    }
}

/// Whether `act` and `panel` meet [`q8::Dot`]'s contract, which the raw-pointer loops rely on:
/// whole groups, and a panel of at least as many groups.
#[inline(always)]
fn in_bounds(act: &[i16], panel: &[i8]) -> bool {
    debug_assert!(act.iter().all(|a| a.unsigned_abs() <= Q8_ACT_MAX as u16), "q8: activation beyond 12 bits");
    act.len().is_multiple_of(Q8_GROUP) && panel.len() / GROUP_BYTES >= act.len() / Q8_GROUP
}

/// [`q8::Dot`] with `SDOT`.
fn dot_neondot(act: &[i16], panel: &[i8], acc: &mut [i32; NR]) {
    match NeonDot::detect() {
        // SAFETY: the token proves `dotprod` (and NEON); `in_bounds` checked the lengths.
        Some(t) if in_bounds(act, panel) => unsafe { sdot_panel(t, act, panel, acc) },
        _ => {
            debug_assert!(false, "neondot: q8 kernel without dotprod or with short slices");
            q8::dot_portable(act, panel, acc)
        }
    }
}

/// [`q8::Dot`] with Armv8.0 NEON only.
fn dot_neon(act: &[i16], panel: &[i8], acc: &mut [i32; NR]) {
    match Neon::detect() {
        // SAFETY: the token proves NEON; `in_bounds` checked the lengths.
        Some(t) if in_bounds(act, panel) => unsafe { smlal_panel(t, act, panel, acc) },
        _ => {
            debug_assert!(false, "neon: q8 kernel with short slices");
            q8::dot_portable(act, panel, acc)
        }
    }
}

/// `acc += w (four columns of four int8) . a.4b[L]` (`SDOT` by element).
///
/// # Safety
/// The CPU has `dotprod`.
#[cfg(not(miri))]
#[inline(always)]
unsafe fn sdot<const L: i32>(mut acc: int32x4_t, w: int8x16_t, a: int8x16_t) -> int32x4_t {
    // SAFETY: SDOT exists (the caller's guarantee); it reads and writes vector registers only.
    unsafe {
        core::arch::asm!(
            "sdot {acc:v}.4s, {w:v}.16b, {a:v}.4b[{l}]",
            acc = inout(vreg) acc,
            w = in(vreg) w,
            a = in(vreg) a,
            l = const L,
            options(pure, nomem, nostack, preserves_flags),
        );
    }
    acc
}

/// Miri cannot interpret inline assembly: the same `SDOT` without it.
///
/// # Safety
/// NEON present.
#[cfg(miri)]
#[inline(always)]
unsafe fn sdot<const L: i32>(acc: int32x4_t, w: int8x16_t, a: int8x16_t) -> int32x4_t {
    let (mut s, mut wb, mut ab) = ([0i32; 4], [0i8; 16], [0i8; 16]);
    // SAFETY: each buffer holds exactly one vector.
    unsafe {
        vst1q_s32(s.as_mut_ptr(), acc);
        vst1q_s8(wb.as_mut_ptr(), w);
        vst1q_s8(ab.as_mut_ptr(), a);
    }
    for (c, s) in s.iter_mut().enumerate() {
        for k in 0..4 {
            *s = s.wrapping_add(wb[4 * c + k] as i32 * ab[4 * L as usize + k] as i32);
        }
    }
    // SAFETY: `s` holds one vector.
    unsafe { vld1q_s32(s.as_ptr()) }
}

/// The two int8 digits of sixteen activations in `-2047..=2047`: `(hi, lo)` with
/// `a = 64 * hi + lo`, `hi = (a + 32) >> 6` in `-32..=32`, `lo` in `-32..=31`. `lo` is
/// computed modulo 256 from the low bytes, exact because it fits in int8.
///
/// # Safety
/// NEON present.
#[inline(always)]
unsafe fn digits(a0: int16x8_t, a1: int16x8_t) -> (int8x16_t, int8x16_t) {
    // SAFETY: register-only NEON operations (NEON present). Narrowing by lanes (`XTN`), not
    // by reinterpreting bytes, keeps lane order independent of the byte order.
    unsafe {
        let hi = vmovn_high_s16(vmovn_s16(vrshrq_n_s16::<6>(a0)), vrshrq_n_s16::<6>(a1));
        let low = vmovn_high_s16(vmovn_s16(a0), a1);
        (hi, vsubq_s8(low, vshlq_n_s8::<6>(hi)))
    }
}

/// One group of four inputs (64 bytes at `w`) into both accumulator sets, digits in lane `L`.
///
/// # Safety
/// `dotprod` present; 64 bytes readable at `w`.
#[inline(always)]
unsafe fn sdot_group<const L: i32>(
    h: &mut [int32x4_t; 4],
    l: &mut [int32x4_t; 4],
    w: *const i8,
    hi: int8x16_t,
    lo: int8x16_t,
) {
    // SAFETY: the caller guarantees 64 readable bytes at `w` and `dotprod`.
    unsafe {
        for (i, (h, l)) in h.iter_mut().zip(l.iter_mut()).enumerate() {
            let wv = vld1q_s8(w.add(16 * i));
            *h = sdot::<L>(*h, wv, hi);
            *l = sdot::<L>(*l, wv, lo);
        }
    }
}

/// The exact sums of one panel with `SDOT`.
///
/// Bounds: `|hi|, |lo| <= 32` and `|q| <= 128` (a crafted blob may hold -128), so each digit
/// sum is at most `32 * 128 * 8192 = 2^25` in magnitude over `d_in <= 8192` inputs; the true
/// sum `64 * hi_sum + lo_sum` is below `2^31` (`Q8_MAX_D_IN`'s bound), and the combination
/// wraps modulo `2^32` (`SHL`, `ADD`), so it is exact even where `64 * hi_sum` alone is not.
///
/// # Safety
/// `act.len()` a multiple of 4; `panel` holds at least `act.len() / 4` groups of 64 bytes.
#[target_feature(enable = "dotprod")]
unsafe fn sdot_panel(_t: NeonDot, act: &[i16], panel: &[i8], out: &mut [i32; NR]) {
    let chunks = act.len() / CHUNK;
    let rest = act.len() % CHUNK;
    // SAFETY: `_t` proves `dotprod`. Chunk `c` reads activations `16c..16c+16` (< act.len())
    // and groups `4c..4c+4`; the tail reads the `rest` activations left (`rest / 4` whole
    // groups, the missing ones zero) and as many groups of weights, all within the caller's
    // bounds.
    unsafe {
        let mut h = [vdupq_n_s32(0); 4];
        let mut l = [vdupq_n_s32(0); 4];
        let mut a = act.as_ptr();
        let mut w = panel.as_ptr();
        for _ in 0..chunks {
            let (hi, lo) = digits(vld1q_s16(a), vld1q_s16(a.add(8)));
            sdot_group::<0>(&mut h, &mut l, w, hi, lo);
            sdot_group::<1>(&mut h, &mut l, w.add(GROUP_BYTES), hi, lo);
            sdot_group::<2>(&mut h, &mut l, w.add(2 * GROUP_BYTES), hi, lo);
            sdot_group::<3>(&mut h, &mut l, w.add(3 * GROUP_BYTES), hi, lo);
            a = a.add(CHUNK);
            w = w.add(4 * GROUP_BYTES);
        }
        if rest > 0 {
            let zero = vdup_n_s16(0);
            let group = |g: usize| if g * Q8_GROUP < rest { vld1_s16(a.add(g * Q8_GROUP)) } else { zero };
            let (hi, lo) = digits(vcombine_s16(group(0), group(1)), vcombine_s16(group(2), zero));
            sdot_group::<0>(&mut h, &mut l, w, hi, lo);
            if rest > Q8_GROUP {
                sdot_group::<1>(&mut h, &mut l, w.add(GROUP_BYTES), hi, lo);
            }
            if rest > 2 * Q8_GROUP {
                sdot_group::<2>(&mut h, &mut l, w.add(2 * GROUP_BYTES), hi, lo);
            }
        }
        let o = out.as_mut_ptr();
        for (i, (h, l)) in h.iter().zip(&l).enumerate() {
            vst1q_s32(o.add(4 * i), vaddq_s32(vshlq_n_s32::<6>(*h), *l));
        }
    }
}

/// One group of four inputs (64 bytes at `$w`) into the four accumulators with `SMLAL`,
/// activations in lanes `$k0..$k0+3` of `$a`: `LD4` puts input `k`'s sixteen columns in one
/// vector, widened in halves of eight.
macro_rules! smlal_group {
    ($s:ident, $w:expr, $a:ident, $k0:literal, $k1:literal, $k2:literal, $k3:literal) => {{
        let v = vld4q_s8($w);
        smlal_group!(@k $s, v.0, $a, $k0);
        smlal_group!(@k $s, v.1, $a, $k1);
        smlal_group!(@k $s, v.2, $a, $k2);
        smlal_group!(@k $s, v.3, $a, $k3);
    }};
    (@k $s:ident, $v:expr, $a:ident, $lane:literal) => {{
        let lo = vmovl_s8(vget_low_s8($v));
        let hi = vmovl_high_s8($v);
        $s[0] = vmlal_laneq_s16::<$lane>($s[0], vget_low_s16(lo), $a);
        $s[1] = vmlal_high_laneq_s16::<$lane>($s[1], lo, $a);
        $s[2] = vmlal_laneq_s16::<$lane>($s[2], vget_low_s16(hi), $a);
        $s[3] = vmlal_high_laneq_s16::<$lane>($s[3], hi, $a);
    }};
}

/// The exact sums of one panel with NEON `SMLAL` (no digit split: int16 x int16 products into
/// int32, `|sum| <= 2047 * 128 * 8192 < 2^31`).
///
/// # Safety
/// As [`sdot_panel`], with NEON instead of `dotprod`.
#[inline(always)]
unsafe fn smlal_panel(_t: Neon, act: &[i16], panel: &[i8], out: &mut [i32; NR]) {
    let pairs = act.len() / (2 * Q8_GROUP);
    // SAFETY: `_t` proves NEON. Pair `p` reads activations `8p..8p+8` (< act.len()) and groups
    // `2p, 2p+1`; a last single group reads its four activations and its 64 bytes, all within
    // the caller's bounds.
    unsafe {
        let mut s = [vdupq_n_s32(0); 4];
        let mut a = act.as_ptr();
        let mut w = panel.as_ptr();
        for _ in 0..pairs {
            let av = vld1q_s16(a);
            smlal_group!(s, w, av, 0, 1, 2, 3);
            smlal_group!(s, w.add(GROUP_BYTES), av, 4, 5, 6, 7);
            a = a.add(2 * Q8_GROUP);
            w = w.add(2 * GROUP_BYTES);
        }
        if !act.len().is_multiple_of(2 * Q8_GROUP) {
            let av = vcombine_s16(vld1_s16(a), vdup_n_s16(0));
            smlal_group!(s, w, av, 0, 1, 2, 3);
        }
        let o = out.as_mut_ptr();
        for (i, s) in s.iter().enumerate() {
            vst1q_s32(o.add(4 * i), *s);
        }
    }
}
