//! AVX2 + FMA kernels (F16C for f16 weights): a `6x16` register tile for batches and a
//! multi-panel streamer for single rows.
//!
//! * **Batch 1** ([`gemv`]): several panels in flight at once, `k` unrolled by two. 16-bit
//!   weights: [`GROUP_16`] panels, eight independent FMA chains, in inline assembly
//!   ([`stream4`]: in intrinsics LLVM spills two of the eight accumulators). int8 weights:
//!   [`GROUP`] panels (six chains, the most LLVM keeps in registers). Both prefetch
//!   [`PREFETCH_ROWS`] rows ahead in every panel. f32 weights: [`GROUP_F32`] panels,
//!   loads folded into the FMAs, no software prefetch (the hardware prefetchers stream six
//!   sequential panels faster on their own). Each weight is read exactly once. bf16 rows
//!   are widened by interleaving with zero words, with the accumulators in a permuted column
//!   order that is undone once per panel ([`load16s`]). Every output starts from its bias
//!   and adds `x[k] * w[k]` in the order of `k`, as the batch tile does, so a row gives the
//!   same bits alone as in a batch (a lone last panel too: it no longer splits the rows into
//!   four partial sums).
//! * **Batches** ([`gemm()`]): the loop nest of `gemm.rs` (chunks of rows, one panel at a time,
//!   K-blocks, inputs packed `k`-major, next block and outputs prefetched) around a `6x16`
//!   register tile ([`tile`]). 16-bit weights are widened once per K-block into a buffer from
//!   two tiles' rows on; with fewer, in registers (`vcvtph2ps`, or zero-extend and shift for
//!   bf16) inside the tile.
//! * Ragged edges: panels are zero padded to 16 columns (the kernels compute all 16 and the
//!   store writes the valid ones); the row remainder gets a tile of its own height (a
//!   const-generic tile, chosen once per tile). No per-element branch in any hot loop.
//! * f32 inputs are read in place; f16/bf16 inputs are widened chunk by chunk into a stack
//!   buffer. Outputs are rounded once from the f32 accumulators.
//!
//! * **i8d** ([`apply_i8d`]): the same loop nest on the int8 panels (`vpmovsxbd` +
//!   `vcvtdq2ps`, exact), fed with the scaled input `x[k] * scale[k]` formed once per input
//!   chunk in the stack buffer the f16-input path uses; the exact diagonal term is added to
//!   each finished accumulator row before the store (`add_diag`).
//!
//! Stack use (the frames `objdump` shows): about 33 KiB in the batch path with 16-bit or int8
//! weights (the accumulators of a chunk 9 KiB, the widened weights 16 KiB, a tile's inputs
//! 6 KiB), 17 KiB with f32 weights; the packed inputs live in the caller's workspace, never on
//! the stack.
//! Results are fused multiply-adds, so they may differ from the scalar kernel in the last
//! bit on general inputs; on integer-valued data of moderate size they are identical.

#![allow(unsafe_code)]

use core::arch::x86_64::*;

use super::Avx2;
use crate::dtype::WeightDtype;
use crate::kernel::driver::{self, k_loop, Acc, Inputs, Microkernel, Prefetch, KC, RC};
use crate::kernel::i8d::{self, I8dPanels};
use crate::kernel::io::{InputRows, OutputRows};
use crate::kernel::stream::{self, Streamer};
use crate::kernel::tiling::{batch_rows, i8d_view, panels_in_bounds, I8dAux};
use crate::kernel::{scalar, Panels, WeightElem, NR};

/// Rows of the register tile (12 accumulators + 2 weight vectors + 1 broadcast = 15 of 16 ymm).
pub const MR: usize = 6;
/// Panels streamed at once on the batch-1 path for int8 weights, and for the last panels of
/// 16-bit ones. Three, not four: with four (8 accumulators, 2 broadcasts and the widened
/// weights of two rows) LLVM spills accumulators to the stack.
const GROUP: usize = 3;
/// Panels streamed at once on the batch-1 path for 16-bit weights, by [`stream4`] (inline
/// assembly, so all eight accumulators stay in registers): eight FMA chains instead of six,
/// whose 4-cycle latency bounds the three-panel loop at 12 weights per cycle.
const GROUP_16: usize = 4;
/// Panels streamed at once on the batch-1 path for f32 weights. Their loads fold into the
/// FMAs, so six panels (12 accumulators, 2 broadcasts) fit in registers, and six streams in
/// flight read the outer caches and DRAM faster than three.
const GROUP_F32: usize = 6;
/// Software prefetch distance on the batch-1 path for 16-bit and int8 weights, in weight rows
/// (of `NR` elements). f32 weights are not prefetched: the hardware prefetchers alone stream
/// them faster.
const PREFETCH_ROWS: usize = 24;
// `stream4`'s assembly is written for four panels of 16 columns.
const _: () = assert!(RC.is_multiple_of(MR) && (RC / 2).is_multiple_of(MR) && NR == 16 && GROUP_16 == 4);

/// Whether the batch-1 path handles weights `W` as f32 ([`GROUP_F32`] panels, no prefetch).
#[inline(always)]
fn is_f32<W: WeightElem>() -> bool {
    W::DTYPE == WeightDtype::F32
}

/// Whether the batch-1 path streams weights `W` in [`GROUP_16`] panels ([`stream4`]).
#[inline(always)]
fn is_16bit<W: WeightElem>() -> bool {
    matches!(W::DTYPE, WeightDtype::F16 | WeightDtype::Bf16)
}

simd_entry!(Avx2, "avx2", apply, apply_i8d);

/// `y = x @ W + bias` for every row of `x`; the token is the proof AVX2, FMA and F16C exist.
///
/// The caller (`Transform::apply`) checked `x.len() == rows * d_in` and
/// `y.len() == rows * d_out`; this is checked again (with the panel bounds) so the raw-pointer
/// code below is sound on its own, falling back to the scalar kernel on a mismatch.
fn apply<W: WeightElem>(
    _token: Avx2,
    p: &Panels<'_, W>,
    x: InputRows<'_>,
    y: &mut OutputRows<'_>,
    ws: &mut [f32],
) {
    let Some(rows) = batch_rows(p.d_in, p.d_out, x.len(), y.len()).filter(|_| panels_in_bounds(p)) else {
        debug_assert!(false, "avx2: lengths or panel bounds that Transform never passes");
        return scalar::apply(p, x, y);
    };
    if rows == 1 {
        // SAFETY: `_token` proves the CPU has avx2, fma and f16c (the features these functions
        // enable); the panel bounds and x/y lengths they rely on were checked just above.
        unsafe { gemv(p, None, x, y) }
    } else {
        // SAFETY: as above.
        unsafe { gemm(p, None, x, y, rows, ws) }
    }
}

/// `y = x @ W' + bias` with `i8d` weights (see `kernel/i8d.rs` for the formula); the token is
/// the proof AVX2, FMA and F16C exist.
///
/// Lengths and the bounds of the int8 panels, scales and diagonal are checked again so the
/// raw-pointer code is sound on its own; on a mismatch the scalar `i8d` kernel runs instead.
fn apply_i8d(_token: Avx2, p: &I8dPanels<'_>, x: InputRows<'_>, y: &mut OutputRows<'_>, ws: &mut [f32]) {
    let Some((rows, (q, aux))) = batch_rows(p.d_in, p.d_out, x.len(), y.len()).zip(i8d_view(p)) else {
        debug_assert!(false, "avx2: lengths or i8d bounds that Transform never passes");
        return i8d::apply(p, x, y);
    };
    if rows == 1 {
        // SAFETY: `_token` proves avx2, fma and f16c; i8d_view checked the panel bounds of `q`
        // and the lengths of `aux` (d_in scales, NR diagonal values per panel); x/y lengths
        // were checked with it.
        unsafe { gemv(&q, Some(aux), x, y) }
    } else {
        // SAFETY: as above.
        unsafe { gemm(&q, Some(aux), x, y, rows, ws) }
    }
}

/// Loads 8 weights at `p` widened to f32.
///
/// # Safety
/// 8 elements must be readable at `p` (any alignment); the CPU must have avx2 and f16c.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn load8<W: WeightElem>(p: *const W) -> __m256 {
    // SAFETY: the caller guarantees 8 readable elements (16 or 32 bytes) at `p`; the loads are
    // unaligned ones.
    unsafe {
        match W::DTYPE {
            WeightDtype::F32 => _mm256_loadu_ps(p.cast()),
            WeightDtype::F16 => _mm256_cvtph_ps(_mm_loadu_si128(p.cast())),
            WeightDtype::Bf16 => {
                _mm256_castsi256_ps(_mm256_slli_epi32::<16>(_mm256_cvtepu16_epi32(_mm_loadu_si128(p.cast()))))
            }
            // The int8 panel of an i8d blob (the only other WeightElem; q8 has its own
            // kernels): 8 signed bytes sign-extended (vpmovsxbd) and converted (vcvtdq2ps), exact.
            WeightDtype::I8d | WeightDtype::Q8 => {
                _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64(p.cast())))
            }
        }
    }
}

/// Loads one row of 16 weights widened to f32 in *stream order*: natural order (columns 0-7,
/// 8-15) for f32 and f16; for bf16 `(0-3, 8-11), (4-7, 12-15)`, because interleaving zero
/// words below the bf16 words (`vpunpck{l,h}wd`, one uop each, in-lane) widens 16 of them from
/// one 32-byte load. [`swap_order`] converts accumulators between the two orders.
///
/// # Safety
/// 16 elements readable at `p`; avx2 and f16c present.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn load16s<W: WeightElem>(p: *const W) -> [__m256; 2] {
    // SAFETY: the caller guarantees 16 readable elements (32 or 64 bytes) at `p`.
    unsafe {
        match W::DTYPE {
            WeightDtype::Bf16 => {
                let v = _mm256_loadu_si256(p.cast());
                let z = _mm256_setzero_si256();
                [
                    _mm256_castsi256_ps(_mm256_unpacklo_epi16(z, v)),
                    _mm256_castsi256_ps(_mm256_unpackhi_epi16(z, v)),
                ]
            }
            _ => [load8(p), load8(p.add(8))],
        }
    }
}

/// Converts a 16-column accumulator pair between natural and stream order (an involution;
/// the identity unless `W` is bf16). Once per panel, outside the hot loop.
///
/// # Safety
/// avx2 present.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn swap_order<W: WeightElem>(a: [__m256; 2]) -> [__m256; 2] {
    match W::DTYPE {
        WeightDtype::Bf16 => {
            [_mm256_permute2f128_ps::<0x20>(a[0], a[1]), _mm256_permute2f128_ps::<0x31>(a[0], a[1])]
        }
        _ => a,
    }
}

/// Single row: `stream.rs`'s driver around the AVX2 streamer, compiled for AVX2.
///
/// # Safety
/// avx2, fma and f16c present; `panels_in_bounds(p)`, `x.len() == d_in`, `y.len() == d_out`;
/// with `aux`, `d_in` scales and `count * NR` diagonal values.
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn gemv<W: WeightElem>(
    p: &Panels<'_, W>,
    aux: Option<I8dAux<'_>>,
    x: InputRows<'_>,
    y: &mut OutputRows<'_>,
) {
    // SAFETY: the caller's contract is the driver's, with the streamer's features (enabled here).
    unsafe {
        match W::DTYPE {
            WeightDtype::F32 => stream::gemv::<YmmStreamer, W, GROUP_F32, 3>(p, aux, x, y),
            WeightDtype::F16 | WeightDtype::Bf16 => stream::gemv::<YmmStreamer, W, GROUP_16, 2>(p, aux, x, y),
            _ => stream::gemv::<YmmStreamer, W, GROUP, 1>(p, aux, x, y),
        }
    }
}

/// The AVX2 streamer, as `stream.rs` drives it: a panel's accumulators are two ymm registers in
/// stream order ([`load16s`]). Panels in groups of [`GROUP_F32`] (f32 weights), [`GROUP_16`]
/// (16-bit) or [`GROUP`] (int8, and the last panels of 16-bit weights).
struct YmmStreamer;

impl Streamer for YmmStreamer {
    type Acc = [__m256; 2];

    #[inline(always)]
    unsafe fn from_bias<W: WeightElem>(b: *const f32) -> [__m256; 2] {
        // SAFETY: NR = 16 f32 readable at b (the caller's contract); unaligned loads.
        unsafe { swap_order::<W>([_mm256_loadu_ps(b), _mm256_loadu_ps(b.add(8))]) }
    }

    #[inline(always)]
    unsafe fn stream<W: WeightElem, const P: usize>(
        w: *const W,
        stride: usize,
        x: *const f32,
        kc: usize,
        acc: &mut [[__m256; 2]; P],
    ) {
        // SAFETY: forwarded contract.
        unsafe { stream::<W, P>(w, stride, x, kc, acc) }
    }

    #[inline(always)]
    unsafe fn to_row<W: WeightElem>(acc: [__m256; 2]) -> [f32; NR] {
        let mut t = [0f32; NR];
        // SAFETY: t holds NR = 16 f32; unaligned stores; avx2 (the caller's contract).
        unsafe {
            let a = swap_order::<W>(acc);
            _mm256_storeu_ps(t.as_mut_ptr(), a[0]);
            _mm256_storeu_ps(t.as_mut_ptr().add(8), a[1]);
        }
        t
    }
}

/// `acc[g] += sum_{k < kc} x[k] * W_g[k]` for the `P` panels `W_g = w + g * stride`, the
/// accumulators in stream order (see [`load16s`]).
///
/// # Safety
/// avx2, fma and f16c present; `kc` values readable at `x`; `kc` rows of `NR` weights readable
/// at `w + g * stride` for `g < P`.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn stream<W: WeightElem, const P: usize>(
    w: *const W,
    stride: usize,
    x: *const f32,
    kc: usize,
    acc: &mut [[__m256; 2]; P],
) {
    // Under Miri, which cannot run inline assembly, the intrinsics below take P = 4 too.
    #[cfg(not(miri))]
    if let Ok(acc4) = <&mut [[__m256; 2]; GROUP_16]>::try_from(acc.as_mut_slice()) {
        // SAFETY: P = 4 here; the caller's contract is stream4's.
        if unsafe { stream4(w, stride, x, kc, acc4) } {
            return;
        }
    }
    let mut a = *acc;
    let ahead = PREFETCH_ROWS * NR;
    // Cache lines per two weight rows: 2 for f32, 1 for 16-bit weights, half a line for int8
    // (prefetched twice: one hint per step keeps the loop branch-free).
    let lines = (2 * NR * core::mem::size_of::<W>()).div_ceil(64);
    let mut k = 0;
    // SAFETY: every load reads rows k, k + 1 < kc of a panel and x[k], x[k + 1] with k + 1 < kc;
    // prefetches may point past the panel (wrapping_add, never dereferenced: a prefetch does
    // not fault).
    unsafe {
        while k + 2 <= kc {
            let x0 = _mm256_broadcast_ss(&*x.add(k));
            let x1 = _mm256_broadcast_ss(&*x.add(k + 1));
            for (g, ag) in a.iter_mut().enumerate() {
                let wp = w.add(g * stride + k * NR);
                if !is_f32::<W>() {
                    for l in 0..lines {
                        _mm_prefetch::<_MM_HINT_T0>(
                            wp.wrapping_add(ahead + l * 64 / core::mem::size_of::<W>()).cast(),
                        );
                    }
                }
                let [w0, w1] = load16s(wp);
                let [w2, w3] = load16s(wp.add(NR));
                ag[0] = _mm256_fmadd_ps(x0, w0, ag[0]);
                ag[1] = _mm256_fmadd_ps(x0, w1, ag[1]);
                ag[0] = _mm256_fmadd_ps(x1, w2, ag[0]);
                ag[1] = _mm256_fmadd_ps(x1, w3, ag[1]);
            }
            k += 2;
        }
        if k < kc {
            stream_row(w, stride, x, k, &mut a);
        }
    }
    *acc = a;
}

/// `acc[g] += x[k] * W_g[k]` for the `P` panels `W_g = w + g * stride`: the odd last row of
/// [`stream`] and [`stream4`].
///
/// # Safety
/// avx2, fma and f16c present; `x[k]` readable; row `k` (`NR` weights) readable in each of the
/// `P` panels.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn stream_row<W: WeightElem, const P: usize>(
    w: *const W,
    stride: usize,
    x: *const f32,
    k: usize,
    acc: &mut [[__m256; 2]; P],
) {
    // SAFETY: the caller guarantees x[k] and row k of each panel.
    unsafe {
        let xv = _mm256_broadcast_ss(&*x.add(k));
        for (g, ag) in acc.iter_mut().enumerate() {
            let [w0, w1] = load16s(w.add(g * stride + k * NR));
            ag[0] = _mm256_fmadd_ps(xv, w0, ag[0]);
            ag[1] = _mm256_fmadd_ps(xv, w1, ag[1]);
        }
    }
}

/// The widening in `panel_rows!`: the 16 weights at `[base + off]` into `{t0}` (columns 0-7)
/// and `{t1}` (8-15): `vcvtph2ps` for f16; for bf16, zero words interleaved below them
/// (stream order, see [`load16s`]; `{z}` holds zero).
#[cfg(not(miri))]
#[rustfmt::skip]
macro_rules! widen_row {
    (f16, $base:literal, $off:literal) => {
        concat!(
            "vcvtph2ps {t0}, xmmword ptr [", $base, " + ", $off, "]\n",
            "vcvtph2ps {t1}, xmmword ptr [", $base, " + ", $off, " + 16]\n",
        )
    };
    (bf16, $base:literal, $off:literal) => {
        concat!(
            "vpunpcklwd {t0}, {z}, ymmword ptr [", $base, " + ", $off, "]\n",
            "vpunpckhwd {t1}, {z}, ymmword ptr [", $base, " + ", $off, "]\n",
        )
    };
}

/// One panel's two weight rows (`k`, `k + 1`) in [`stream4`]'s loop: prefetch ahead, then for
/// each row widen its 16 weights and add `x0 * row k` and `x1 * row k + 1` to the accumulator
/// pair `a`, `b`.
#[cfg(not(miri))]
#[rustfmt::skip]
macro_rules! panel_rows {
    ($kind:ident, $base:literal, $a:literal, $b:literal) => {
        concat!(
            "prefetcht0 [", $base, " + {ahead}]\n",
            widen_row!($kind, $base, "0"),
            "vfmadd231ps {", $a, "}, {x0}, {t0}\n",
            "vfmadd231ps {", $b, "}, {x0}, {t1}\n",
            widen_row!($kind, $base, "32"),
            "vfmadd231ps {", $a, "}, {x1}, {t0}\n",
            "vfmadd231ps {", $b, "}, {x1}, {t1}\n",
        )
    };
}

/// The loop of [`stream4`] for one widening (`$kind`, see [`widen_row`]): pairs of rows, four
/// panels at `{w}`, `{w1} = {w} + {s}`, `{w} + 2 {s}` and `{w1} + 2 {s}` (`{s}`: the panel
/// stride in bytes, two per 16-bit weight).
#[cfg(not(miri))]
macro_rules! stream4_loop {
    ($kind:ident, $w:expr, $stride:expr, $x:expr, $pairs:expr, $a:ident, $($extra:tt)*) => {
        core::arch::asm!(
            concat!(
                "2:\n",
                "vbroadcastss {x0}, dword ptr [{x}]\n",
                "vbroadcastss {x1}, dword ptr [{x} + 4]\n",
                panel_rows!($kind, "{w}", "a0", "a1"),
                panel_rows!($kind, "{w1}", "a2", "a3"),
                panel_rows!($kind, "{w} + {s} * 2", "a4", "a5"),
                panel_rows!($kind, "{w1} + {s} * 2", "a6", "a7"),
                "add {w}, 64\n",
                "add {w1}, 64\n",
                "add {x}, 8\n",
                "dec {n}\n",
                "jnz 2b\n",
            ),
            w = inout(reg) $w => _,
            w1 = inout(reg) $w.wrapping_add($stride) => _,
            x = inout(reg) $x => _,
            n = inout(reg) $pairs => _,
            s = in(reg) $stride * 2,
            ahead = const PREFETCH_ROWS * NR * 2,
            x0 = out(ymm_reg) _,
            x1 = out(ymm_reg) _,
            t0 = out(ymm_reg) _,
            t1 = out(ymm_reg) _,
            a0 = inout(ymm_reg) $a[0][0],
            a1 = inout(ymm_reg) $a[0][1],
            a2 = inout(ymm_reg) $a[1][0],
            a3 = inout(ymm_reg) $a[1][1],
            a4 = inout(ymm_reg) $a[2][0],
            a5 = inout(ymm_reg) $a[2][1],
            a6 = inout(ymm_reg) $a[3][0],
            a7 = inout(ymm_reg) $a[3][1],
            $($extra)*
            options(nostack, readonly),
        )
    };
}

/// [`stream`] for four panels of 16-bit weights, the pairs of rows in inline assembly. In
/// intrinsics, LLVM spills two of the eight accumulators and copies the other six every
/// iteration (it picks `vfmadd213ps`, which overwrites the widened weights), slower than three
/// panels. Here the eight accumulators, two broadcasts and two scratch registers
/// stay put, and eight FMA chains lift the bound that the FMA latency puts on six. The FMAs of
/// each accumulator run in [`stream`]'s order, so the results are bit-identical to it.
///
/// Returns false, having done nothing, unless `W` is f16 or bf16.
///
/// # Safety
/// As [`stream`] with `P = 4`.
#[cfg(not(miri))]
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn stream4<W: WeightElem>(
    w: *const W,
    stride: usize,
    x: *const f32,
    kc: usize,
    acc: &mut [[__m256; 2]; 4],
) -> bool {
    if !is_16bit::<W>() {
        return false;
    }
    let pairs = kc / 2;
    if pairs > 0 {
        // SAFETY: each iteration reads rows k, k + 1 < kc (32 bytes each) of the four panels at
        // w + g * stride (g < 4, the caller's contract) and x[k], x[k + 1], for `pairs` >= 1
        // iterations. The prefetch addresses may lie past a panel: a prefetch never faults.
        // Only the named registers and the flags are written; no stack use.
        unsafe {
            if W::DTYPE == WeightDtype::Bf16 {
                stream4_loop!(bf16, w, stride, x, pairs, acc, z = in(ymm_reg) _mm256_setzero_ps(),)
            } else {
                stream4_loop!(f16, w, stride, x, pairs, acc,)
            }
        }
    }
    if kc % 2 == 1 {
        // SAFETY: row kc - 1 of each panel and x[kc - 1] are readable (the caller's contract).
        unsafe { stream_row(w, stride, x, kc - 1, acc) };
    }
    true
}

/// Several rows: `driver.rs`'s loop nest around the `6x16` tile, compiled for AVX2.
///
/// # Safety
/// avx2, fma and f16c present; `panels_in_bounds(p)`, `d_in >= 1`, `x.len() == rows * d_in`,
/// `y.len() == rows * d_out`; with `aux`, `d_in` scales and `count * NR` diagonal values.
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn gemm<W: WeightElem>(
    p: &Panels<'_, W>,
    aux: Option<I8dAux<'_>>,
    x: InputRows<'_>,
    y: &mut OutputRows<'_>,
    rows: usize,
    ws: &mut [f32],
) {
    // SAFETY: the caller's contract is the driver's, with Ymm's features (enabled here).
    unsafe { driver::gemm::<Ymm, W>(p, aux, x, y, rows, ws) }
}

/// The AVX2 `6x16` register tile, as `driver.rs` drives it.
struct Ymm;

// SAFETY: MR = 6 divides RC and RC / 2 (asserted above); the input buffer holds MR * KC values.
unsafe impl Microkernel for Ymm {
    const MR: usize = MR;
    const MIN_TILE: usize = 4;
    type InputBuf = [f32; MR * KC];

    #[inline(always)]
    fn input_buf() -> [f32; MR * KC] {
        [0.0; MR * KC]
    }

    #[inline(always)]
    fn prefetch(p: *const u8) {
        // SAFETY: a prefetch is only a hint: it never faults and needs no valid address.
        unsafe { _mm_prefetch::<_MM_HINT_T0>(p.cast()) }
    }

    #[inline(always)]
    unsafe fn widen_block<W: WeightElem>(w: *const W, kc: usize, dst: &mut [f32; KC * NR]) {
        // SAFETY: forwarded contract (avx2 and f16c present, kc * NR weights at w).
        unsafe { widen_block(w, kc, dst) }
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
        // SAFETY: forwarded contract.
        unsafe { tile_n(w, x, xs, kc, n, acc, pf) }
    }
}

/// Widens `kc` rows of `NR` weights at `w` into `dst`.
///
/// # Safety
/// avx2 and f16c present; `kc * NR` weights readable at `w`; `kc <= KC`.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn widen_block<W: WeightElem>(w: *const W, kc: usize, dst: &mut [f32; KC * NR]) {
    for (i, d) in dst.chunks_exact_mut(8).take(kc * NR / 8).enumerate() {
        // SAFETY: i * 8 + 8 <= kc * NR weights readable at w; d holds 8 f32.
        unsafe { _mm256_storeu_ps(d.as_mut_ptr(), load8(w.add(i * 8))) };
    }
}

/// Dispatches a tile of `n` rows to its const-generic height. Never inlined: the tiles on f32
/// (or already widened) weights are then one copy shared by the drivers of every weight dtype.
///
/// # Safety
/// As [`tile`] with `R = n`; `MIN_TILE <= n <= MR` (other values do nothing).
#[inline(never)]
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn tile_n<W: WeightElem>(
    w: *const W,
    x: *const f32,
    xs: Inputs,
    kc: usize,
    n: usize,
    acc: Acc,
    pf: Prefetch,
) {
    // SAFETY: forwarded contract.
    unsafe {
        match (n, xs) {
            (6, Inputs::Rows(s)) => tile::<W, 6, false>(w, x, s, kc, acc, pf),
            (5, Inputs::Rows(s)) => tile::<W, 5, false>(w, x, s, kc, acc, pf),
            (4, Inputs::Rows(s)) => tile::<W, 4, false>(w, x, s, kc, acc, pf),
            (6, Inputs::Packed) => tile::<W, 6, true>(w, x, 0, kc, acc, pf),
            (5, Inputs::Packed) => tile::<W, 5, true>(w, x, 0, kc, acc, pf),
            (4, Inputs::Packed) => tile::<W, 4, true>(w, x, 0, kc, acc, pf),
            _ => debug_assert!(false, "avx2: tile of {n} rows"),
        }
    }
}

/// The microkernel: `dst(r) = src(r) + sum_{k < kc} x[r * xs + k] * w[k]` for `r < R`, the
/// accumulator rows where `acc` says, each `w[k]` a row of 16 weights, all `2 R` accumulators
/// in registers; the `pf` hints spread over the `k` loop ([`k_loop`]).
///
/// # Safety
/// avx2, fma and f16c present; `kc * NR` weights readable at `w`; for `r < R`, `kc` values
/// readable at `x + r * xs` (`PACKED`: `kc * R` values readable at `x`, `xs` unused), `NR` f32
/// readable at `acc.src + r * acc.src_stride` and writable at `acc.dst + r * acc.dst_stride`.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn tile<W: WeightElem, const R: usize, const PACKED: bool>(
    w: *const W,
    x: *const f32,
    xs: usize,
    kc: usize,
    acc: Acc,
    pf: Prefetch,
) {
    // SAFETY: every access stays within the ranges the caller guarantees: accumulator rows
    // r < R, x[r * xs + k] (PACKED: x[k * R + r]) and w[k * NR .. k * NR + 16] for k < kc.
    unsafe {
        let mut c = [[_mm256_setzero_ps(); 2]; R];
        let mut xr = [x; R];
        for (r, (cr, xp)) in c.iter_mut().zip(xr.iter_mut()).enumerate() {
            let a = acc.src.add(r * acc.src_stride);
            *cr = [_mm256_loadu_ps(a), _mm256_loadu_ps(a.add(8))];
            *xp = if PACKED { x.add(r) } else { x.add(r * xs) };
        }
        // Distance between the inputs of consecutive `k` steps of one row.
        let ks = if PACKED { R } else { 1 };
        // One `k` step: two weight vectors, R broadcasts, 2 R FMAs.
        let step = |c: &mut [[__m256; 2]; R], k: usize| {
            let wp = w.add(k * NR);
            let w0 = load8(wp);
            let w1 = load8(wp.add(8));
            for (cr, xp) in c.iter_mut().zip(xr.iter()) {
                let xv = _mm256_broadcast_ss(&*xp.add(k * ks));
                cr[0] = _mm256_fmadd_ps(xv, w0, cr[0]);
                cr[1] = _mm256_fmadd_ps(xv, w1, cr[1]);
            }
        };
        k_loop::<Ymm>(kc, pf, |k| step(&mut c, k));
        for (r, cr) in c.iter().enumerate() {
            let a = acc.dst.add(r * acc.dst_stride);
            _mm256_storeu_ps(a, cr[0]);
            _mm256_storeu_ps(a.add(8), cr[1]);
        }
    }
}
