//! `q8` weights: integer dot products, the same bits on every ISA.
//!
//! For input row `x` and output column `j` (see `docs/FORMAT.md` for the byte layout):
//!
//! ```text
//! a[k]   = x[k] * scale[k]                              f32, one rounding
//! amax   = max_k |a[k]|;   step = amax / 2047          f32
//! act[k] = round_ties_even(a[k] * (2047 / amax))        integer in -2047..=2047
//! acc[j] = sum_k act[k] * q[k][j]                       exact int32 (|acc| < 2^31 by the d_in bound)
//! y[j]   = (bias[j] + f32(acc[j]) * step) + diag[j] * x[j]
//! ```
//!
//! (`act` is `a[k] / amax * 2047` when `2047 / amax` overflows, for a subnormal `amax`; a row of
//! zeros has `step = 0` and gives exactly the bias; a row with a NaN or infinite input gives NaN
//! outputs; the diagonal term exists for `j < d_in` only.)
//!
//! The float steps are per input and per output, never per multiply-add, and are computed here,
//! once, for every kernel: a kernel only computes the exact `acc` of a panel (`Dot`), so two
//! kernels cannot differ in a bit, and an FPU-less core spends soft-float calls on `d_in + d_out`
//! values per row, not `d_in * d_out`.

use super::io::{InputRows, OutputRows};
use super::NR;
use crate::dtype::WeightDtype;
use crate::format::{weight_offset, Q8_ACT_MAX, Q8_GROUP};

/// The largest `d_in` this build can run: the quantized activations of a row live on the stack.
/// Bare-metal builds keep the buffer at 2 KiB (`Transform::new` rejects wider `q8` blobs there);
/// hosted builds take every `d_in` the format allows.
pub const ACT_LEN: usize = if cfg!(target_os = "none") { 1024 } else { crate::format::Q8_MAX_D_IN as usize };

/// A borrowed view of the panels of a `q8` blob.
#[derive(Clone, Copy, Debug)]
pub struct Q8Panels<'a> {
    /// Folded f32 bias, `panels * NR`.
    pub(crate) bias: &'a [f32],
    /// Weight section: per panel `round_up(d_in, 4) / 4` groups of `NR x 4` int8 (column-major
    /// within a group), at `stride` bytes apart.
    pub(crate) q: &'a [i8],
    /// Per-input-row f32 scales, `round_up(d_in, NR)`.
    pub(crate) scales: &'a [f32],
    /// Per-column f32 diagonal `W'[j][j]`, `panels * NR` (0 for `j >= min(d_in, d_out)`).
    pub(crate) diag: &'a [f32],
    /// Per-column sums of the stored int8 weights, `panels * NR` (validated): what a kernel
    /// that offsets its activations (`VPDPBUSD` takes unsigned ones) subtracts again.
    #[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
    pub(crate) sums: &'a [i32],
    pub(crate) d_in: usize,
    pub(crate) d_out: usize,
    /// Bytes from one panel to the next.
    pub(crate) stride: usize,
}

impl Q8Panels<'_> {
    /// Inputs per panel with the padding to whole groups of four.
    pub(crate) fn rows(&self) -> usize {
        self.d_in.div_ceil(Q8_GROUP) * Q8_GROUP
    }

    /// The stored weight `W'[k][j]` as the kernel uses it (`scale[k] * q[k][j]`, plus the
    /// diagonal), or `None` out of range.
    pub(crate) fn weight(&self, k: usize, j: usize) -> Option<f32> {
        if k >= self.d_in || j >= self.d_out {
            return None;
        }
        let at = (j / NR) * self.stride + weight_offset(WeightDtype::Q8, k, j % NR);
        let off = *self.scales.get(k)? * *self.q.get(at)? as f32;
        Some(if k == j { off + *self.diag.get(j)? } else { off })
    }
}

/// What a `q8` kernel computes: `acc[c] = sum_k act[k] * q[k][c]` over one panel, exactly.
/// `act` holds `rows()` activations (zero past `d_in`), `panel` at least `rows() * NR` weights.
pub(crate) type Dot = fn(act: &[i16], panel: &[i8], acc: &mut [i32; NR]);

/// The portable [`Dot`]: plain integer multiply-adds, on every target (Cortex-M0, RISC-V
/// `rv32imac`, and every core without an integer dot-product instruction).
// Unused by an M4F/M7 build without the portable kernels: its Cortex-M q8 kernel has no
// fallback to it.
#[cfg_attr(all(glocal_cortex_m_dsp, not(glocal_portable)), allow(dead_code))]
pub(crate) fn dot_portable(act: &[i16], panel: &[i8], acc: &mut [i32; NR]) {
    #[cfg(glocal_thumbv6m)]
    if let Some(()) = v6m::dot(act, panel, acc) {
        return;
    }
    // 32-bit Arm: a column's four weights in one word load (Cortex-M0 has no sign-extending
    // byte load with an immediate offset, and each load is a cycle or two on every M core),
    // sign-extended by shifts. Where the panel is not 4-byte aligned, the byte loop.
    #[cfg(target_arch = "arm")]
    if let Ok(words) = bytemuck::try_cast_slice::<i8, i32>(panel) {
        return dot_words(act, words, acc);
    }
    #[cfg(target_arch = "riscv32")]
    return dot_blocks(act, panel, acc);
    #[cfg(not(target_arch = "riscv32"))]
    dot_bytes(act, panel, acc);
}

/// [`dot_portable`] one byte load per weight, all 16 columns per group.
#[cfg_attr(any(target_arch = "riscv32", all(glocal_cortex_m_dsp, not(glocal_portable))), allow(dead_code))]
#[inline(always)]
fn dot_bytes(act: &[i16], panel: &[i8], acc: &mut [i32; NR]) {
    *acc = [0; NR];
    for (a, group) in act.chunks_exact(Q8_GROUP).zip(panel.chunks_exact(NR * Q8_GROUP)) {
        let a = [a[0] as i32, a[1] as i32, a[2] as i32, a[3] as i32];
        for (s, w) in acc.iter_mut().zip(group.chunks_exact(Q8_GROUP)) {
            *s += a[0] * w[0] as i32 + a[1] * w[1] as i32 + a[2] * w[2] as i32 + a[3] * w[3] as i32;
        }
    }
}

/// The Armv6-M (Cortex-M0/M0+) loop of [`dot_portable`], in assembly: compiled Rust spills
/// the activations and sums of this loop out of the core's eight low registers
/// (`q8_v6m.s` has the register plan).
#[cfg(glocal_thumbv6m)]
#[allow(unsafe_code)]
mod v6m {
    use super::{NR, Q8_GROUP};

    core::arch::global_asm!(include_str!("q8_v6m.s"), options(raw));

    extern "C" {
        fn __glocal_v6m_q8_dot(acc: *mut i32, act: *const i16, panel: *const i8, groups: usize);
    }

    /// The panel sums, or `None` (nothing written) when the slices do not have the routine's
    /// shape: `act` whole groups, `panel` as many groups and 4-byte aligned.
    #[inline(always)]
    pub(super) fn dot(act: &[i16], panel: &[i8], acc: &mut [i32; NR]) -> Option<()> {
        let groups = act.len() / Q8_GROUP;
        let fits = act.len().is_multiple_of(Q8_GROUP) && panel.len() / (NR * Q8_GROUP) >= groups;
        if !fits || !(panel.as_ptr() as usize).is_multiple_of(4) {
            return None;
        }
        // SAFETY: the routine reads `groups * 4` i16 at `act` (its length; LDRH needs the
        // 2-byte alignment of the type), `groups * 64` bytes at `panel` (checked above, and
        // 4-byte aligned as its LDR needs) and writes the 16 i32 of `acc` (aligned by type).
        // It follows the AAPCS (restores r4-r7, r8, r10 and sp) and touches no other memory.
        unsafe { __glocal_v6m_q8_dot(acc.as_mut_ptr(), act.as_ptr(), panel.as_ptr(), groups) };
        Some(())
    }
}

/// [`dot_portable`] four columns per pass over the depth: their sums, the group's four
/// activations and sixteen weights stay in RISC-V's 31 registers (with all 16 columns in one
/// loop body the compiler hoisted the loads and spilled).
#[cfg(target_arch = "riscv32")]
#[inline(always)]
fn dot_blocks(act: &[i16], panel: &[i8], acc: &mut [i32; NR]) {
    const COLS: usize = 4;
    for (block, out) in acc.chunks_exact_mut(COLS).enumerate() {
        let mut s = [0i32; COLS];
        let cols = block * COLS * Q8_GROUP..(block + 1) * COLS * Q8_GROUP;
        for (a, group) in act.chunks_exact(Q8_GROUP).zip(panel.chunks_exact(NR * Q8_GROUP)) {
            let a = [a[0] as i32, a[1] as i32, a[2] as i32, a[3] as i32];
            let Some(w) = group.get(cols.clone()) else { break };
            for (sj, w) in s.iter_mut().zip(w.chunks_exact(Q8_GROUP)) {
                *sj += a[0] * w[0] as i32 + a[1] * w[1] as i32 + a[2] * w[2] as i32 + a[3] * w[3] as i32;
            }
        }
        out.copy_from_slice(&s);
    }
}

/// [`dot_portable`] over the panel as little-endian words (word `c` of a group = column `c`'s
/// four weights, input `4g + i` in byte `i`).
#[cfg(target_arch = "arm")]
#[cfg_attr(all(glocal_cortex_m_dsp, not(glocal_portable)), allow(dead_code))]
#[inline(always)]
fn dot_words(act: &[i16], words: &[i32], acc: &mut [i32; NR]) {
    *acc = [0; NR];
    for (a, group) in act.chunks_exact(Q8_GROUP).zip(words.chunks_exact(NR)) {
        let (a0, a1, a2, a3) = (a[0] as i32, a[1] as i32, a[2] as i32, a[3] as i32);
        for (s, &w) in acc.iter_mut().zip(group) {
            let w = i32::from_le(w);
            *s += a0 * ((w << 24) >> 24) + a1 * ((w << 16) >> 24) + a2 * ((w << 8) >> 24) + a3 * (w >> 24);
        }
    }
}

/// `round_ties_even(q).clamp(-2047, 2047) as i16` for a finite `q`, from its bits: the
/// integer part of the significand, rounded to nearest even by its dropped bits. The same
/// integer as rounding in floating point (exact either way), but integer instructions only:
/// on cores without an FPU each float addition or comparison would be a library call.
#[inline(always)]
fn round_clamp(q: f32) -> i16 {
    let bits = q.to_bits();
    let exp = (bits >> 23) & 0xff;
    let mag = if exp < 126 {
        // |q| < 0.5 (zero and subnormals included).
        0
    } else if exp >= 150 {
        // |q| >= 2^23: an integer already, beyond the clamp.
        Q8_ACT_MAX as u32
    } else {
        // |q| = mant * 2^-sh with 1 <= sh <= 24.
        let sh = 150 - exp;
        let mant = (bits & 0x007f_ffff) | 0x0080_0000;
        (mant + ((1 << (sh - 1)) - 1) + ((mant >> sh) & 1)) >> sh
    };
    let m = mag.min(Q8_ACT_MAX as u32) as i16;
    if bits >> 31 != 0 {
        -m
    } else {
        m
    }
}

/// Quantizes input row `x[start .. start + d_in]` (`d_in = act.len()` up to the padding, which
/// is zeroed) into `act` with the row scales; returns the step (`amax / 2047`), or `None` when
/// an input is NaN or infinite. Inlined, so that x86's tile drivers vectorize it with their
/// kernel's instruction set.
#[inline(always)]
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
pub(crate) fn quantize_row(
    x: &InputRows<'_>,
    start: usize,
    d_in: usize,
    scales: &[f32],
    act: &mut [i16],
) -> Option<f32> {
    quantize_row_with(x, start, d_in, scales, act, None)
}

/// [`quantize_row`] into the layout of `ops` (if any): its loops on f32 rows, else the shared
/// code followed by its in-place re-encoding. The same activations either way.
#[inline(always)]
fn quantize_row_with(
    x: &InputRows<'_>,
    start: usize,
    d_in: usize,
    scales: &[f32],
    act: &mut [i16],
    ops: Option<&RowOps>,
) -> Option<f32> {
    // f32 inputs on a core with an FPU: straight from the slices, rounded by the FPU.
    if HARD_FLOAT {
        let xs = x.as_f32().and_then(|s| s.get(start..start + d_in));
        if let (Some(xs), Some(sc)) = (xs, scales.get(..d_in)) {
            if d_in <= act.len() {
                return quantize_f32(xs, sc, act, ops);
            }
        }
    }
    // The folded inputs `x * scale` are formed by `widen_into` a chunk at a time (the same
    // single f32 rounding as per element), so the loops below run over plain slices and
    // vectorize: 1 KiB of stack on hosts, 64 bytes on bare metal (beside the 2 KiB of
    // activations, within the firmware examples' 3 KiB).
    const CHUNK: usize = if cfg!(target_os = "none") { 16 } else { 256 };
    let mut buf = [0f32; CHUNK];
    let chunk = |c0: usize, buf: &mut [f32; CHUNK]| -> usize {
        let n = CHUNK.min(d_in - c0);
        let a = buf.get_mut(..n).unwrap_or_default();
        a.fill(0.0);
        x.widen_into(a, start + c0, Some(scales.get(c0..).unwrap_or_default()));
        n
    };
    // `|a|` as bits orders like the values; NaN and the infinities lie above every finite value.
    // (`scale <= 1`, validated: only a non-finite input gives a non-finite `a`.)
    let mut max_bits = 0u32;
    for c0 in (0..d_in).step_by(CHUNK) {
        let n = chunk(c0, &mut buf);
        max_bits = buf.iter().take(n).fold(max_bits, |m, v| m.max(v.to_bits() & 0x7fff_ffff));
    }
    if max_bits >= 0x7f80_0000 {
        return None;
    }
    let amax = f32::from_bits(max_bits);
    act.fill(0);
    if amax == 0.0 {
        return Some(0.0);
    }
    let max = Q8_ACT_MAX as f32;
    let r = max / amax;
    for c0 in (0..d_in).step_by(CHUNK) {
        let n = chunk(c0, &mut buf);
        let out = act.get_mut(c0..c0 + n).unwrap_or_default();
        let a = buf.iter().take(n);
        if r.is_finite() {
            out.iter_mut().zip(a).for_each(|(v, &a)| *v = round_clamp(mul(a, r)));
        } else {
            out.iter_mut().zip(a).for_each(|(v, &a)| *v = round_clamp(a / amax * max));
        }
    }
    if let Some(ops) = ops {
        (ops.pair)(act);
    }
    Some(amax / max)
}

/// Whether floating-point additions are instructions (not library calls): then
/// [`quantize_f32`] rounds with the FPU. The same results either way.
const HARD_FLOAT: bool = cfg!(any(glocal_cortex_m, target_arch = "x86_64", target_arch = "aarch64"));

/// [`quantize_row`] of f32 inputs `xs` (`d_in` of them, `scales` as many, `act` at least as
/// long) in two passes over the slices: the largest `|x * scale|`, then the activations. The
/// same operations as the general path, so the same bits. With `ops`, its loops (the same
/// operations) and its layout.
#[inline(always)]
fn quantize_f32(xs: &[f32], scales: &[f32], act: &mut [i16], ops: Option<&RowOps>) -> Option<f32> {
    let max_bits = match ops {
        Some(ops) => (ops.amax)(xs, scales),
        None => xs.iter().zip(scales).fold(0u32, |m, (&x, &s)| m.max((x * s).to_bits() & 0x7fff_ffff)),
    };
    if max_bits >= 0x7f80_0000 {
        return None;
    }
    let amax = f32::from_bits(max_bits);
    let (body, pad) = act.split_at_mut(xs.len().min(act.len()));
    pad.fill(0);
    let max = Q8_ACT_MAX as f32;
    let r = max / amax;
    if amax == 0.0 {
        body.fill(0);
        return Some(0.0);
    } else if r.is_finite() {
        // |x * scale| <= amax and r <= (2047 / amax) * (1 + 2^-24), so
        // |q| <= 2047 * (1 + 2^-24)^2 < 2047.5: `round_small` applies.
        let whole = match ops {
            // Whole groups of four by `ops`, the last partial one (if any) below.
            Some(ops) => {
                let n = xs.len() / Q8_GROUP * Q8_GROUP;
                if let (Some(v), Some(x), Some(s)) = (body.get_mut(..n), xs.get(..n), scales.get(..n)) {
                    (ops.round)(v, x, s, r);
                }
                n
            }
            None => 0,
        };
        let acts = body.iter_mut().zip(xs.iter().zip(scales)).skip(whole);
        acts.for_each(|(v, (&x, &s))| *v = round_small(x * s * r));
        if let Some(group) = ops.filter(|_| whole < xs.len()).zip(act.get_mut(whole..whole + Q8_GROUP)) {
            (group.0.pair)(group.1);
        }
    } else {
        let acts = body.iter_mut().zip(xs.iter().zip(scales));
        acts.for_each(|(v, (&x, &s))| *v = round_clamp(x * s / amax * max));
        if let Some(ops) = ops {
            (ops.pair)(act);
        }
    }
    Some(amax / max)
}

/// [`round_clamp`] for `|q| < 2047.5`, with one float addition: `q + 1.5 * 2^23` lies in
/// `[2^23, 2^24]`, where the spacing of f32 is 1, so the FPU rounds `q` to the nearest integer
/// (ties to even: 1.5 * 2^23 is even) and that integer is the sum's bits minus the constant's.
/// It lies in `-2047..=2047` already; the clamp to 12 bits (one `SSAT` on Arm) only keeps a
/// broken precondition inside the kernels' int32 bound.
#[inline(always)]
fn round_small(q: f32) -> i16 {
    const MAGIC: f32 = 12_582_912.0;
    let i = (q + MAGIC).to_bits() as i32 - MAGIC.to_bits() as i32;
    i.clamp(-2048, 2047) as i16
}

/// `a * b` as IEEE-754 rounds it (to nearest, ties to even). On Armv6-M (Cortex-M0, no FPU)
/// the common case (normal operands, normal product) in integers, fewer instructions than the
/// soft-float library's multiply, whose 48-bit significand product is a 64-bit multiply call
/// there; everything else goes to `a * b`. (Cortex-M3 and rv32imac have a widening multiply:
/// there the library's routine is as short.)
#[inline(always)]
fn mul(a: f32, b: f32) -> f32 {
    if cfg!(glocal_thumbv6m) {
        mul_normal(a, b).unwrap_or_else(|| mul_other(a, b))
    } else {
        a * b
    }
}

/// The rare products of [`mul`], out of line: a plain `a * b` beside the fast path could be
/// computed speculatively, and without an FPU it is a library call.
#[cold]
#[inline(never)]
fn mul_other(a: f32, b: f32) -> f32 {
    a * b
}

/// `a * b` when both operands and the rounded product are normal, else `None`.
#[cfg_attr(not(any(glocal_thumbv6m, test)), allow(dead_code))]
#[inline(always)]
fn mul_normal(a: f32, b: f32) -> Option<f32> {
    let (x, y) = (a.to_bits(), b.to_bits());
    let (ea, eb) = ((x >> 23) & 0xff, (y >> 23) & 0xff);
    if ea.wrapping_sub(1) >= 254 || eb.wrapping_sub(1) >= 254 {
        return None; // zero, subnormal, infinity or NaN
    }
    let (ma, mb) = ((x & 0x007f_ffff) | 0x0080_0000, (y & 0x007f_ffff) | 0x0080_0000);
    // ma * mb = hi * 2^24 + lo (2^46 <= product < 2^48) from 12-bit halves: every partial
    // product fits MULS's 32 bits (a 64-bit product would be a library call).
    let (ah, al, bh, bl) = (ma >> 12, ma & 0xfff, mb >> 12, mb & 0xfff);
    let mid = ah * bl + al * bh;
    let low = al * bl + ((mid & 0xfff) << 12);
    let (hi, lo) = (ah * bh + (mid >> 12) + (low >> 24), low & 0x00ff_ffff);
    // A 24-bit significand and the 24 bits below it.
    let (mut m, rem, mut e) = if hi >= 1 << 23 {
        (hi, lo, ea + eb)
    } else {
        ((hi << 1) | (lo >> 23), (lo << 1) & 0x00ff_ffff, ea + eb - 1)
    };
    // Biased exponent of m * 2^(e - 126 - 23): e - 126; a subnormal or overflowing product
    // (its rounding differs) goes to the library.
    if e <= 126 {
        return None;
    }
    e -= 126;
    if rem > 1 << 23 || (rem == 1 << 23 && m & 1 == 1) {
        m += 1;
        if m == 1 << 24 {
            m >>= 1;
            e += 1;
        }
    }
    if e >= 255 {
        return None;
    }
    Some(f32::from_bits(((x ^ y) & 0x8000_0000) | (e << 23) | (m & 0x007f_ffff)))
}

/// The float epilogue of one row over one panel, the same code for every kernel and driver:
/// `y[j] = (bias[j] + f32(acc[j]) * step) + diag[j] * x[j]` (NaN for a row without a step).
#[inline(always)]
fn finish_panel(
    p: &Q8Panels<'_>,
    x: &InputRows<'_>,
    y: &mut OutputRows<'_>,
    r: usize,
    panel: usize,
    step: Option<f32>,
    acc: &[i32; NR],
) {
    let (d_in, d_out) = (p.d_in, p.d_out);
    let col0 = panel * NR;
    let lanes = col0..col0 + NR;
    // As arrays, so that indexing by a column below NR has no bounds-check panic path (which
    // soft-float firmware would link).
    fn array(s: &[f32], r: core::ops::Range<usize>) -> Option<&[f32; NR]> {
        s.get(r).and_then(|s| s.try_into().ok())
    }
    let (Some(bias), Some(diag)) = (array(p.bias, lanes.clone()), array(p.diag, lanes)) else {
        debug_assert!(false, "q8: panel {panel} out of the blob's bounds");
        return;
    };
    let mut out = [f32::NAN; NR];
    // f32 inputs with all 16 columns below d_in: the same operations on slices, vectorized.
    let xs = x
        .as_f32()
        .and_then(|s| array(s, r * d_in + col0..r * d_in + col0 + NR))
        .filter(|_| col0 + NR <= d_in);
    if let (Some(step), Some(xs)) = (step, xs) {
        let terms = bias.iter().zip(acc).zip(diag.iter().zip(xs));
        for (o, ((&b, &a), (&dg, &xv))) in out.iter_mut().zip(terms) {
            *o = (b + a as f32 * step) + dg * xv;
        }
    } else if let Some(step) = step {
        for (c, o) in out.iter_mut().enumerate() {
            let j = col0 + c;
            // Beyond d_in there is no diagonal term at all (not `diag * 0`: padding of a
            // crafted blob could hold an infinity... validation forbids it, but the formula
            // does not depend on it).
            let diag_term = if j < d_in { x.get(r * d_in + j).map_or(0.0, |v| diag[c] * v) } else { 0.0 };
            *o = (bias[c] + acc[c] as f32 * step) + diag_term;
        }
    }
    y.store_panel(r * d_out + col0, &out, NR.min(d_out - col0));
}

/// A kernel's own versions of [`drive`]'s per-input and per-output loops: the same operations
/// in the same order (so the same bits), in the layout its [`Dot`] takes (e.g. the halfword
/// pairs of the Cortex-M `SMLAD` kernel), once per row rather than once per panel.
pub(crate) struct RowOps {
    /// Re-encodes a row of `rows()` activations (whole groups of four) in place, after the
    /// shared quantization.
    pub(crate) pair: fn(act: &mut [i16]),
    /// [`quantize_f32`]'s first loop: `max_k bits(|x[k] * scale[k]|)` (`&` `0x7fff_ffff`).
    pub(crate) amax: fn(xs: &[f32], scales: &[f32]) -> u32,
    /// [`quantize_f32`]'s second loop on whole groups of four, encoded: `act[k] =
    /// round_small(x[k] * scale[k] * r)` (its precondition holds).
    pub(crate) round: fn(act: &mut [i16], xs: &[f32], scales: &[f32], r: f32),
    /// [`drive`]'s panel loop over the whole panels of a row of f32 inputs below both `d_in`
    /// and `d_out` (the caller's `x`: the row's first `16 n` inputs for `n` such panels): the
    /// sums of `act` as `dot` computes them and [`finish_panel`]'s f32 epilogue (the same
    /// operations) into outputs `start ..` of `y`. Returns the panels done, from the first
    /// (all `n`, or 0 where it does not apply: then [`drive`] runs them one by one).
    pub(crate) panels: Panels,
}

/// [`RowOps::panels`].
pub(crate) type Panels =
    fn(p: &Q8Panels<'_>, act: &[i16], x: &[f32], y: &mut OutputRows<'_>, start: usize, step: f32) -> usize;

/// A stack buffer of `N` activations, 4-byte aligned (word loads of the kernels), of which a
/// driver initialises only the part its rows use ([`ActBuf::zeroed`]): the drivers quantize
/// into all of that part before a kernel reads it, and clearing the whole buffer on every call
/// (2 KiB on bare metal, 16 and 32 KiB on hosts) was a batch-1 call's largest cost after the
/// kernel and the quantization.
#[repr(C, align(4))]
struct ActBuf<const N: usize>([i16; N]);

impl<const N: usize> ActBuf<N> {
    /// The first `len` activations of `buf`, zeroed, or `None` if `len > N`.
    #[allow(unsafe_code)]
    fn zeroed(buf: &mut core::mem::MaybeUninit<Self>, len: usize) -> Option<&mut [i16]> {
        if len > N {
            return None;
        }
        let ptr = buf.as_mut_ptr().cast::<i16>();
        // SAFETY: `ptr` is the start of the buffer's `[i16; N]` (`ActBuf` is `repr(C)` with that
        // one field, so at offset 0 and aligned for i16); its first `len <= N` elements are
        // zeroed here, so the slice covers exactly initialised memory, and it borrows `buf`
        // mutably for as long as it lives.
        unsafe {
            ptr.write_bytes(0, len);
            Some(core::slice::from_raw_parts_mut(ptr, len))
        }
    }
}

/// `y = x @ W' + b'` for all rows with `q8` weights, the panel sums by `dot`, one row at a
/// time; `ops` (if any) are the kernel's own per-row loops and layout for `dot`. Lengths were
/// checked by the caller (`x.len() == rows * d_in`, `y.len() == rows * d_out`, `d_in <=`
/// [`ACT_LEN`]); anything short is skipped, never indexed.
// Never inlined: its 16 KiB activation buffer must not join the frame of every caller.
#[inline(never)]
pub(crate) fn drive(
    p: &Q8Panels<'_>,
    x: InputRows<'_>,
    y: &mut OutputRows<'_>,
    dot: Dot,
    ops: Option<&RowOps>,
) {
    let (d_in, d_out) = (p.d_in, p.d_out);
    debug_assert!(d_in >= 1 && x.len().checked_div(d_in).map(|r| r * d_out) == Some(y.len()), "q8: lengths");
    debug_assert!(p.rows() <= ACT_LEN, "q8: d_in {d_in} beyond the activation buffer");
    let Some(rows) = x.len().checked_div(d_in) else { return };
    let mut buf = core::mem::MaybeUninit::<ActBuf<ACT_LEN>>::uninit();
    let Some(act) = ActBuf::zeroed(&mut buf, p.rows()) else { return };
    let body = p.rows() * NR;
    // The whole panels below d_in and d_out go to `ops` (f32 inputs), the others are done here.
    let whole = d_in.min(d_out) / NR * NR;
    for r in 0..rows {
        let step = quantize_row_with(&x, r * d_in, d_in, p.scales, act, ops);
        let xs = x.as_f32().and_then(|s| s.get(r * d_in..r * d_in + whole));
        let done = match (ops, step, xs) {
            (Some(ops), Some(step), Some(xs)) => (ops.panels)(p, act, xs, y, r * d_out, step),
            _ => 0,
        };
        for (panel, q) in p.q.chunks(p.stride.max(1)).take(d_out.div_ceil(NR)).enumerate().skip(done) {
            let mut acc = [0i32; NR];
            if step.is_some() {
                let Some(q) = q.get(..body) else {
                    debug_assert!(false, "q8: panel {panel} out of the blob's bounds");
                    return;
                };
                dot(act, q, &mut acc);
            }
            finish_panel(p, &x, y, r, panel, step, &acc);
        }
    }
}

/// Most rows a [`Tile`] kernel computes per panel pass.
#[cfg(target_arch = "x86_64")]
pub(crate) const TILE_ROWS: usize = 12;

/// Activations (`i16`) of the tile buffer of [`drive_tiles`]: 32 KiB of stack, enough for
/// [`TILE_ROWS`] rows up to `d_in = 1364` and at least two rows at the largest `d_in` (8192),
/// so a tile never needs more and the frame stays bounded for every blob.
#[cfg(target_arch = "x86_64")]
const TILE_ACT: usize = 16 * 1024;

#[cfg(target_arch = "x86_64")]
const _: () = assert!(TILE_ACT >= 2 * crate::format::Q8_MAX_D_IN as usize);

/// A `q8` kernel over a tile of rows: the exact sums of up to [`Tile::MR`] rows over one
/// panel per pass, so each 64-byte weight group is loaded once for all of them. Implemented by
/// capability tokens (holding one is the proof its instructions run).
#[cfg(target_arch = "x86_64")]
pub(crate) trait Tile: Copy {
    /// Rows per panel pass (at most [`TILE_ROWS`]).
    const MR: usize;
    /// Re-encodes one row of activations (`-2047..=2047`, zero padded to a multiple of four) in
    /// place into the kernel's own layout, once per row (not per panel).
    fn encode(self, act: &mut [i16]);
    /// `acc[i][c] = sum_k act_i[k] * q[k][c]` over `panel` for the `rows <= MR` encoded rows
    /// `act[i * len ..][.. len]`; `sums` are the panel's column sums (`Q8Panels::sums`).
    fn dot(
        self,
        act: &[i16],
        len: usize,
        rows: usize,
        panel: &[i8],
        sums: &[i32; NR],
        acc: &mut [[i32; NR]; TILE_ROWS],
    );
}

/// [`drive`] for tile kernels: up to `T::MR` rows are quantized into one stack buffer
/// ([`TILE_ACT`]), then each panel is passed over once for all of them. The float steps are
/// the same functions as in [`drive`] (quantization and epilogue), so the results are too.
/// Always inlined: each kernel's caller is compiled with its instruction set
/// (`#[target_feature]`), so those steps vectorize with it; that caller holds the buffer.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
pub(crate) fn drive_tiles<T: Tile>(t: T, p: &Q8Panels<'_>, x: InputRows<'_>, y: &mut OutputRows<'_>) {
    let (d_in, d_out) = (p.d_in, p.d_out);
    debug_assert!(d_in >= 1 && x.len().checked_div(d_in).map(|r| r * d_out) == Some(y.len()), "q8: lengths");
    let Some(rows) = x.len().checked_div(d_in) else { return };
    let len = p.rows();
    // `len <= 8192` (validated), so at least two rows fit; never more than the kernel's tile.
    let mr = T::MR.min(TILE_ROWS).min(TILE_ACT / len.max(1)).max(1);
    let body = len * NR;
    let mut buf = core::mem::MaybeUninit::<ActBuf<TILE_ACT>>::uninit();
    let Some(buf) = ActBuf::zeroed(&mut buf, mr * len) else { return };
    let mut steps = [None; TILE_ROWS];
    let mut r0 = 0;
    while r0 < rows {
        let n = mr.min(rows - r0);
        for (i, (act, step)) in buf.chunks_exact_mut(len).zip(steps.iter_mut()).take(n).enumerate() {
            *step = quantize_row(&x, (r0 + i) * d_in, d_in, p.scales, act);
            if step.is_none() {
                // The row's outputs are NaN; its sums only have to stay in bounds.
                act.fill(0);
            }
            t.encode(act);
        }
        let Some(act) = buf.get(..n * len) else { return };
        for (panel, q) in p.q.chunks(p.stride.max(1)).take(d_out.div_ceil(NR)).enumerate() {
            let (Some(q), Some(sums)) = (
                q.get(..body),
                p.sums.get(panel * NR..panel * NR + NR).and_then(|s| <&[i32; NR]>::try_from(s).ok()),
            ) else {
                debug_assert!(false, "q8: panel {panel} out of the blob's bounds");
                return;
            };
            let mut acc = [[0i32; NR]; TILE_ROWS];
            t.dot(act, len, n, q, sums, &mut acc);
            for (i, (acc, &step)) in acc.iter().zip(&steps).take(n).enumerate() {
                finish_panel(p, &x, y, r0 + i, panel, step, acc);
            }
        }
        r0 += n;
    }
}

/// The portable `q8` kernel (the Cortex-M entries call [`drive`] with their own [`Dot`]).
#[cfg(glocal_portable)]
pub(crate) fn apply(p: &Q8Panels<'_>, x: InputRows<'_>, y: &mut OutputRows<'_>) {
    drive(p, x, y, dot_portable, None);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The float formula `round_clamp` replaces.
    fn by_floats(q: f32) -> i16 {
        const MAGIC: f32 = 12_582_912.0; // 1.5 * 2^23: no fraction bits left for |q| < 2^22
        let max = Q8_ACT_MAX as f32;
        if q.abs() >= 4_194_304.0 {
            return q.clamp(-max, max) as i16;
        }
        ((q + MAGIC) - MAGIC).clamp(-max, max) as i16
    }

    #[test]
    fn mul_normal_is_the_float_product() {
        // Random bit patterns of every class, then products near the rounding boundaries
        // (significands with long runs of ones) and near underflow and overflow.
        let mut z = 0x1234_5678_9abc_def0u64;
        let mut next = || {
            z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut v = z;
            v = (v ^ (v >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            v = (v ^ (v >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            (v ^ (v >> 31)) as u32
        };
        let mut normal = 0;
        for i in 0..4_000_000u32 {
            let (mut x, mut y) = (next(), next());
            match i % 4 {
                1 => x |= 0x007f_f000,
                // Exponent sums near underflow (2) and overflow (3).
                2 | 3 => {
                    let sum = if i % 4 == 2 { 126 + i % 5 } else { 377 + i % 5 };
                    let eb = sum.saturating_sub(x >> 23 & 0xff).clamp(1, 254);
                    y = (y & 0x807f_ffff) | (eb << 23);
                }
                _ => {}
            }
            let (a, b) = (f32::from_bits(x), f32::from_bits(y));
            if let Some(p) = mul_normal(a, b) {
                assert_eq!(p.to_bits(), (a * b).to_bits(), "{a:e} * {b:e}");
                normal += 1;
            }
        }
        assert!(normal > 1_000_000, "{normal} normal products only");
        // The boundaries themselves: the smallest normal product, the largest, and ties.
        let m = f32::MIN_POSITIVE;
        for (a, b) in [(m, 1.0), (m * 2.0, 0.5), (f32::MAX, 1.0), (f32::MAX, 0.5), (1.5, 1.0 + f32::EPSILON)]
        {
            if let Some(p) = mul_normal(a, b) {
                assert_eq!(p.to_bits(), (a * b).to_bits(), "{a:e} * {b:e}");
            }
        }
    }

    #[test]
    fn round_small_is_round_clamp() {
        // Every tie and its neighbours up to 2047.5, then a sweep of the bit patterns below it.
        for k in -4094..=4094 {
            let t = k as f32 * 0.5;
            for q in [t, f32::from_bits(t.to_bits() + 1), f32::from_bits(t.to_bits().saturating_sub(1))] {
                if q.abs() < 2047.5 {
                    assert_eq!(round_small(q), round_clamp(q), "{q:e}");
                }
            }
        }
        let mut bits = 0u32;
        while f32::from_bits(bits) < 2047.5 {
            let q = f32::from_bits(bits);
            assert_eq!(round_small(q), round_clamp(q), "{q:e}");
            assert_eq!(round_small(-q), round_clamp(-q), "{:e}", -q);
            bits += 61;
        }
    }

    #[test]
    fn round_clamp_is_the_float_rounding() {
        // Every tie and its neighbours around the clamp, then a sweep of bit patterns from
        // zero through subnormals to 2^32 (both signs).
        for k in -4200..=4200 {
            let t = k as f32 * 0.5;
            for q in [t, f32::from_bits(t.to_bits() + 1), f32::from_bits(t.to_bits().saturating_sub(1))] {
                assert_eq!(round_clamp(q), by_floats(q), "{q:e}");
                assert_eq!(round_clamp(-q), by_floats(-q), "{:e}", -q);
            }
        }
        let mut bits = 0u32;
        while bits < 0x4f80_0000 {
            let q = f32::from_bits(bits);
            assert_eq!(round_clamp(q), by_floats(q), "{q:e}");
            assert_eq!(round_clamp(-q), by_floats(-q), "{:e}", -q);
            bits += 997;
        }
    }
}
