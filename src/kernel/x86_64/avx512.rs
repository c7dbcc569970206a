//! AVX-512 (F and BW) kernels: a `12x16` register tile in zmm registers for batches and an
//! eight-panel streamer for single rows.
//!
//! On a CPU with two 512-bit FMA units (Xeon Skylake-SP and later) a zmm FMA does twice the
//! work of a ymm one per issue slot.
//!
//! * **Batches**: `driver.rs`'s loop nest around a tile of [`MR`] rows, one zmm accumulator per
//!   row (one panel of 16 columns). Each `k` step loads one row of 16 weights (widened for f16
//!   by `vcvtph2ps`, for bf16 by zero-extension and a shift, for int8 by `vpmovsxbd` +
//!   `vcvtdq2ps`, all exact) and issues `MR` FMAs, each with its input as an embedded
//!   broadcast (`{1to16}`) memory operand: one weight load and `MR` fused load-FMAs per step.
//!   Twelve independent FMA chains cover the 4-cycle latency of two FMA units. The first tile
//!   of each K-block widens 16-bit and int8 weights for the others as it streams them
//!   ([`Microkernel::tile_widen`]: one store per row instead of a separate pass).
//! * **Batch 1** ([`gemv`]): [`GROUP`] panels at once, one zmm row of 16 weights per panel and
//!   `k` step, `k` in order in one FMA chain per panel, so a row gives the same bits alone as in
//!   a batch. f16 rows, four at a time, run in inline assembly with `vcvtph2ps` reading memory
//!   ([`stream8_f16_quads`]). bf16 rows are widened by one `vpshufb` into a column order of
//!   their own ([`load16_bf16_stream`], AVX-512BW), the accumulators converted at both ends.
//!
//! Stack use (the frames `objdump` shows): about 39 KiB in the batch path with 16-bit or int8
//! weights (a tile's inputs take 12 KiB here, 6 KiB with AVX2), 23 KiB with f32 weights.
//!
//! Results are fused multiply-adds, so they may differ from the scalar kernel in the last bit
//! on general inputs; on integer-valued data of moderate size they are identical.

#![allow(unsafe_code)]

use core::arch::x86_64::*;

use super::Avx512;
use crate::dtype::WeightDtype;
use crate::kernel::driver::{self, k_loop, widen_then_tile, Acc, Inputs, Microkernel, Prefetch, KC, RC};
use crate::kernel::i8d::{self, I8dPanels};
use crate::kernel::io::{InputRows, OutputRows};
use crate::kernel::stream::{self, Streamer};
use crate::kernel::tiling::{batch_rows, i8d_view, panels_in_bounds, I8dAux};
use crate::kernel::{scalar, Panels, WeightElem, NR};

/// Rows of the register tile: 12 zmm accumulators, one weight vector, the inputs broadcast
/// from memory by the FMAs.
pub const MR: usize = 12;

/// Panels streamed at once on the batch-1 path (remainders in groups of 4, 2 and 1).
const GROUP: usize = 8;

const _: () = assert!(RC.is_multiple_of(MR) && (RC / 2).is_multiple_of(MR) && NR == 16 && GROUP == 8);

simd_entry!(Avx512, "avx512", apply, apply_i8d);

/// `y = x @ W + bias` for every row of `x`; the token is the proof AVX-512F/BW, AVX2, FMA and
/// F16C exist.
///
/// The lengths and panel bounds are checked again, as in the AVX2 kernel, so the raw-pointer
/// code is sound on its own; on a mismatch the scalar kernel runs.
fn apply<W: WeightElem>(
    _token: Avx512,
    p: &Panels<'_, W>,
    x: InputRows<'_>,
    y: &mut OutputRows<'_>,
    ws: &mut [f32],
) {
    let Some(rows) = batch_rows(p.d_in, p.d_out, x.len(), y.len()).filter(|_| panels_in_bounds(p)) else {
        debug_assert!(false, "avx512: lengths or panel bounds that Transform never passes");
        return scalar::apply(p, x, y);
    };
    // SAFETY: `_token` proves the CPU has avx512f, avx512bw, avx2, fma and f16c (the features
    // these functions enable); the panel bounds and x/y lengths they rely on were checked just
    // above.
    unsafe {
        if rows == 1 {
            gemv(p, None, x, y)
        } else {
            gemm(p, None, x, y, rows, ws)
        }
    }
}

/// `y = x @ W' + bias` with `i8d` weights (see `kernel/i8d.rs`); the token is the proof
/// AVX-512F/BW, AVX2, FMA and F16C exist. Bounds are checked again as in the AVX2 kernel.
fn apply_i8d(_token: Avx512, p: &I8dPanels<'_>, x: InputRows<'_>, y: &mut OutputRows<'_>, ws: &mut [f32]) {
    let Some((rows, (q, aux))) = batch_rows(p.d_in, p.d_out, x.len(), y.len()).zip(i8d_view(p)) else {
        debug_assert!(false, "avx512: lengths or i8d bounds that Transform never passes");
        return i8d::apply(p, x, y);
    };
    // SAFETY: `_token` proves avx512f, avx512bw, avx2, fma and f16c; i8d_view checked the
    // panel bounds of `q` and the lengths of `aux`; x/y lengths were checked with it.
    unsafe {
        if rows == 1 {
            gemv(&q, Some(aux), x, y)
        } else {
            gemm(&q, Some(aux), x, y, rows, ws)
        }
    }
}

/// Single row: `stream.rs`'s driver around the zmm streamer, compiled for AVX-512.
///
/// # Safety
/// avx512f, avx512bw, avx2, fma and f16c present; `panels_in_bounds(p)`, `x.len() == d_in`,
/// `y.len() == d_out`; with `aux`, `d_in` scales and `count * NR` diagonal values.
#[target_feature(enable = "avx512f,avx512bw,avx2,fma,f16c")]
unsafe fn gemv<W: WeightElem>(
    p: &Panels<'_, W>,
    aux: Option<I8dAux<'_>>,
    x: InputRows<'_>,
    y: &mut OutputRows<'_>,
) {
    // SAFETY: the caller's contract is the driver's, with the streamer's features (enabled here).
    unsafe { stream::gemv::<ZmmStreamer, W, GROUP, 4>(p, aux, x, y) }
}

/// The AVX-512 streamer, as `stream.rs` drives it: a panel's accumulators are one zmm register;
/// panels in groups of [`GROUP`]. Eight panels are eight FMA chains, which
/// cover the latency of two FMA units; the widening, not the chains, bounds f16 weights
/// (`vcvtph2ps` is two uops); bf16 weights take one shuffle ([`load16_bf16_stream`]).
struct ZmmStreamer;

impl Streamer for ZmmStreamer {
    type Acc = __m512;

    #[inline(always)]
    unsafe fn from_bias<W: WeightElem>(b: *const f32) -> __m512 {
        // SAFETY: NR = 16 f32 readable at b (the caller's contract); unaligned load.
        // SAFETY: the ISA's features present (the caller's contract).
        unsafe { swap_stream_order::<W>(_mm512_loadu_ps(b)) }
    }

    #[inline(always)]
    unsafe fn stream<W: WeightElem, const P: usize>(
        w: *const W,
        stride: usize,
        x: *const f32,
        kc: usize,
        acc: &mut [__m512; P],
    ) {
        // SAFETY: forwarded contract.
        unsafe { stream::<W, P>(w, stride, x, kc, acc) }
    }

    #[inline(always)]
    unsafe fn to_row<W: WeightElem>(acc: __m512) -> [f32; NR] {
        let mut t = [0f32; NR];
        // SAFETY: t holds NR = 16 f32; unaligned store; avx512f (the caller's contract).
        unsafe { _mm512_storeu_ps(t.as_mut_ptr(), swap_stream_order::<W>(acc)) };
        t
    }
}

/// `acc[g] += x[k] * W_g[k]` for `k < kc` in the order of `k`, for the `P` panels
/// `W_g = w + g * stride`, the accumulators in the streamer's column order ([`load16_stream`]).
///
/// # Safety
/// avx512f, avx512bw, avx2, fma and f16c present; `kc` values readable at `x`; `kc` rows of
/// `NR` weights readable at `w + g * stride` for `g < P`.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx2,fma,f16c")]
unsafe fn stream<W: WeightElem, const P: usize>(
    w: *const W,
    stride: usize,
    x: *const f32,
    kc: usize,
    acc: &mut [__m512; P],
) {
    let mut a = *acc;
    let mut k = 0;
    #[cfg(not(miri))]
    if W::DTYPE == WeightDtype::F16 && kc >= 4 {
        if let Ok(a8) = <&mut [__m512; GROUP]>::try_from(a.as_mut_slice()) {
            // SAFETY: P = GROUP here; the caller's contract, for the kc / 4 quads of rows.
            unsafe { stream8_f16_quads(w.cast::<u16>(), stride, x, kc / 4, a8) };
            k = kc / 4 * 4;
        }
    }
    if W::DTYPE == WeightDtype::Bf16 {
        // One `k` at a time: the pair loop below, with the shuffle widening, measured slower.
        // SAFETY: every load reads row k < kc of a panel and x[k].
        unsafe {
            for k in 0..kc {
                let xk = _mm512_set1_ps(*x.add(k));
                for (g, ag) in a.iter_mut().enumerate() {
                    *ag = _mm512_fmadd_ps(xk, load16_stream(w.add(g * stride + k * NR)), *ag);
                }
            }
        }
        *acc = a;
        return;
    }
    // SAFETY: every load reads row k < kc of a panel and x[k].
    unsafe {
        while k + 2 <= kc {
            let x0 = _mm512_set1_ps(*x.add(k));
            let x1 = _mm512_set1_ps(*x.add(k + 1));
            for (g, ag) in a.iter_mut().enumerate() {
                let wp = w.add(g * stride + k * NR);
                *ag = _mm512_fmadd_ps(x0, load16_stream(wp), *ag);
                *ag = _mm512_fmadd_ps(x1, load16_stream(wp.add(NR)), *ag);
            }
            k += 2;
        }
        if k < kc {
            let x0 = _mm512_set1_ps(*x.add(k));
            for (g, ag) in a.iter_mut().enumerate() {
                *ag = _mm512_fmadd_ps(x0, load16_stream(w.add(g * stride + k * NR)), *ag);
            }
        }
    }
    *acc = a;
}

/// One panel's four rows in [`stream8_f16_quads`]: widen row `k + j` (`[{w} + 32 j]`) and add
/// `xj *` it into the panel's accumulator `$a`, for `j` = 0, 1, 2, 3 in order.
#[cfg(not(miri))]
#[rustfmt::skip]
macro_rules! f16_rows {
    ($base:literal, $a:literal) => {
        concat!(
            "vcvtph2ps zmm12, ymmword ptr [", $base, "]\n",
            "vcvtph2ps zmm13, ymmword ptr [", $base, " + 32]\n",
            "vfmadd231ps ", $a, ", zmm8, zmm12\n",
            "vfmadd231ps ", $a, ", zmm9, zmm13\n",
            "vcvtph2ps zmm12, ymmword ptr [", $base, " + 64]\n",
            "vcvtph2ps zmm13, ymmword ptr [", $base, " + 96]\n",
            "vfmadd231ps ", $a, ", zmm10, zmm12\n",
            "vfmadd231ps ", $a, ", zmm11, zmm13\n",
        )
    };
}

/// The rows `k < 4 quads` of [`stream`] for [`GROUP`] panels of f16 weights, four rows per
/// iteration, in inline assembly: `vcvtph2ps` reads memory, and the eight panels are addressed
/// from three base registers and the panel stride (`w`, `w + 3 s`, `w + 6 s`, scaled by 1 or
/// 2), so the loop has four pointer increments and no other address arithmetic; LLVM loads each
/// row into a register first and forms the eight addresses with a chain of `lea`. Four rows
/// per iteration instead of two halve those scalar uops, some of which the core issues on the
/// two ports the conversions and FMAs share. Each accumulator gets the FMAs of [`stream`], in
/// its order.
///
/// # Safety
/// avx512f present; `4 quads` values readable at `x`; `4 quads` rows of `NR` f16 words
/// readable at `w + g * stride` for `g < GROUP`.
#[cfg(not(miri))]
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx2,fma,f16c")]
unsafe fn stream8_f16_quads(
    w: *const u16,
    stride: usize,
    x: *const f32,
    quads: usize,
    a: &mut [__m512; GROUP],
) {
    if quads == 0 {
        return;
    }
    // SAFETY: iteration i reads rows 4i .. 4i + 4 (128 bytes) of the eight panels at
    // w + g * stride (g < 8) and x[4i .. 4i + 4], for `quads` >= 1 iterations, within the
    // caller's ranges; the base pointers are formed with wrapping arithmetic and only
    // dereferenced at those addresses. Only the named registers and the flags are written; no
    // stack use.
    unsafe {
        core::arch::asm!(
            "2:",
            "vbroadcastss zmm8, dword ptr [{x}]",
            "vbroadcastss zmm9, dword ptr [{x} + 4]",
            "vbroadcastss zmm10, dword ptr [{x} + 8]",
            "vbroadcastss zmm11, dword ptr [{x} + 12]",
            f16_rows!("{w}", "zmm0"),
            f16_rows!("{w} + {s}", "zmm1"),
            f16_rows!("{w} + {s} * 2", "zmm2"),
            f16_rows!("{w3}", "zmm3"),
            f16_rows!("{w3} + {s}", "zmm4"),
            f16_rows!("{w3} + {s} * 2", "zmm5"),
            f16_rows!("{w6}", "zmm6"),
            f16_rows!("{w6} + {s}", "zmm7"),
            "add {w}, 128",
            "add {w3}, 128",
            "add {w6}, 128",
            "add {x}, 16",
            "dec {n}",
            "jnz 2b",
            w = inout(reg) w => _,
            w3 = inout(reg) w.wrapping_add(3 * stride) => _,
            w6 = inout(reg) w.wrapping_add(6 * stride) => _,
            x = inout(reg) x => _,
            n = inout(reg) quads => _,
            s = in(reg) stride * 2,
            // Fixed registers below zmm16: with AVX-512 enabled for the whole crate
            // (`-C target-cpu=x86-64-v4`), LLVM allocates zmm16-31 to `zmm_reg` operands and
            // prints some of them as invalid names ("R19BH"), which fails to assemble.
            out("zmm8") _,
            out("zmm9") _,
            out("zmm10") _,
            out("zmm11") _,
            out("zmm12") _,
            out("zmm13") _,
            inout("zmm0") a[0],
            inout("zmm1") a[1],
            inout("zmm2") a[2],
            inout("zmm3") a[3],
            inout("zmm4") a[4],
            inout("zmm5") a[5],
            inout("zmm6") a[6],
            inout("zmm7") a[7],
            options(nostack, readonly),
        );
    }
}

/// Several rows: `driver.rs`'s loop nest around the `12x16` zmm tile, compiled for AVX-512.
///
/// # Safety
/// avx512f, avx512bw, avx2, fma and f16c present; `panels_in_bounds(p)`, `d_in >= 1`,
/// `x.len() == rows * d_in`, `y.len() == rows * d_out`; with `aux`, `d_in` scales and
/// `count * NR` diagonal values.
#[target_feature(enable = "avx512f,avx512bw,avx2,fma,f16c")]
unsafe fn gemm<W: WeightElem>(
    p: &Panels<'_, W>,
    aux: Option<I8dAux<'_>>,
    x: InputRows<'_>,
    y: &mut OutputRows<'_>,
    rows: usize,
    ws: &mut [f32],
) {
    // SAFETY: the caller's contract is the driver's, with Zmm's features (enabled here).
    unsafe { driver::gemm::<Zmm, W>(p, aux, x, y, rows, ws) }
}

/// Loads one row of 16 weights at `p` widened to f32.
///
/// # Safety
/// 16 elements readable at `p` (any alignment); avx512f present.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx2,fma,f16c")]
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
            // i8d's int8 panel (the only other WeightElem; q8 has its own kernels).
            WeightDtype::I8d | WeightDtype::Q8 => {
                _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128(p.cast())))
            }
        }
    }
}

/// 16 bf16 weights at `p` widened exactly to f32 in stream order: the columns of 128-bit lanes
/// 1 and 2 swapped (`0-3, 8-11, 4-7, 12-15`; [`swap_stream_order`] converts). The row is
/// broadcast into both 256-bit halves by the load itself, and one `vpshufb` moves each word
/// into the high half of its own dword with zeros below: one shuffle per 16 weights, against
/// two (`vpmovzxwd` + `vpslld`) for the natural order. With the FMA that is two uops on the two
/// 512-bit ports per 16 weights, so the stream of a row can run at one row per cycle.
///
/// # Safety
/// 16 words readable at `p` (any alignment); avx512f and avx512bw present.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx2,fma,f16c")]
unsafe fn load16_bf16_stream(p: *const u16) -> __m512 {
    // Per 128-bit lane, dword j takes word j (lanes 0 and 1) or word 4 + j (lanes 2 and 3) of
    // the lane's 16 bytes into its bytes 2-3; index bytes with the top bit set write zero.
    const Z: i8 = -128;
    #[rustfmt::skip]
    let idx = _mm512_set_epi8(
        15, 14, Z, Z, 13, 12, Z, Z, 11, 10, Z, Z, 9, 8, Z, Z,
        15, 14, Z, Z, 13, 12, Z, Z, 11, 10, Z, Z, 9, 8, Z, Z,
        7, 6, Z, Z, 5, 4, Z, Z, 3, 2, Z, Z, 1, 0, Z, Z,
        7, 6, Z, Z, 5, 4, Z, Z, 3, 2, Z, Z, 1, 0, Z, Z,
    );
    // SAFETY: 32 bytes readable at p (the caller's contract); unaligned load.
    let row = unsafe { _mm256_loadu_si256(p.cast()) };
    _mm512_castsi512_ps(_mm512_shuffle_epi8(_mm512_broadcast_i64x4(row), idx))
}

/// One row of 16 weights at `p` widened to f32 in the streamer's column order: natural for
/// every dtype but bf16 ([`load16_bf16_stream`]).
///
/// # Safety
/// As [`load16`], and avx512bw present.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx2,fma,f16c")]
unsafe fn load16_stream<W: WeightElem>(p: *const W) -> __m512 {
    // SAFETY: the caller's contract; for bf16, 16 words at p.
    unsafe {
        if W::DTYPE == WeightDtype::Bf16 {
            load16_bf16_stream(p.cast())
        } else {
            load16(p)
        }
    }
}

/// Converts 16 accumulators between natural column order and the streamer's for `W`
/// ([`load16_stream`]): for bf16 it swaps 128-bit lanes 1 and 2, which is its own inverse;
/// for other dtypes the orders are the same.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx2,fma,f16c")]
fn swap_stream_order<W: WeightElem>(v: __m512) -> __m512 {
    if W::DTYPE == WeightDtype::Bf16 {
        _mm512_shuffle_f32x4::<0b11_01_10_00>(v, v)
    } else {
        v
    }
}

/// The AVX-512 `12x16` register tile, as `driver.rs` drives it.
struct Zmm;

// SAFETY: MR = 12 divides RC and RC / 2 (asserted above); the input buffer holds MR * KC values.
unsafe impl Microkernel for Zmm {
    const MR: usize = MR;
    const MIN_TILE: usize = 8;
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
        acc: Acc,
        pf: Prefetch,
    ) {
        // SAFETY: forwarded contract.
        unsafe { tile_n(w, x, xs, kc, n, acc, pf) }
    }

    #[inline(always)]
    unsafe fn pack_f32(dst: &mut [f32], src: &[f32], scales: Option<&[f32]>, d_in: usize, n: usize) -> usize {
        // SAFETY: avx512f, avx512bw, avx2, fma and f16c present (the caller's contract).
        unsafe { pack_transposed(dst, src, scales, d_in, n) }
    }

    #[inline(always)]
    unsafe fn tile_widen<W: WeightElem>(
        w: *const W,
        wide: &mut [f32; KC * NR],
        x: *const f32,
        xs: Inputs,
        kc: usize,
        n: usize,
        acc: Acc,
        pf: Prefetch,
    ) {
        let w16 = wide.as_mut_ptr();
        // SAFETY: forwarded contract; `wide` holds KC * NR >= kc * NR f32.
        unsafe {
            match (n, xs) {
                // Widening as the tile streams, for the heights a block's first tile usually
                // has (row_blocks: 12 in full chunks, 11 for 64 rows, 8 for a batch of 8);
                // the others widen the block first (one copy of the tile per height, not per
                // height and weight dtype).
                (12, Inputs::Packed) => tile::<W, 12, true, true>(w, w16, x, 0, kc, acc, pf),
                (11, Inputs::Packed) => tile::<W, 11, true, true>(w, w16, x, 0, kc, acc, pf),
                (8, Inputs::Packed) => tile::<W, 8, true, true>(w, w16, x, 0, kc, acc, pf),
                (12, Inputs::Rows(s)) => tile::<W, 12, false, true>(w, w16, x, s, kc, acc, pf),
                (11, Inputs::Rows(s)) => tile::<W, 11, false, true>(w, w16, x, s, kc, acc, pf),
                (8, Inputs::Rows(s)) => tile::<W, 8, false, true>(w, w16, x, s, kc, acc, pf),
                _ => widen_then_tile::<Self, W>(w, wide, x, xs, kc, n, acc, pf),
            }
        }
    }
}

/// Dispatches a tile of `n` rows to its const-generic height. Never inlined: the tiles on f32
/// (or already widened) weights are then one copy shared by the drivers of every weight dtype.
///
/// # Safety
/// As [`tile`] with `R = n` and without widening; `MIN_TILE <= n <= MR` (other values do
/// nothing).
#[inline(never)]
#[target_feature(enable = "avx512f,avx512bw,avx2,fma,f16c")]
unsafe fn tile_n<W: WeightElem>(
    w: *const W,
    x: *const f32,
    xs: Inputs,
    kc: usize,
    n: usize,
    acc: Acc,
    pf: Prefetch,
) {
    let none = core::ptr::null_mut();
    // SAFETY: forwarded contract: n rows (the const height), the inputs as `xs` says.
    unsafe {
        match (n, xs) {
            (12, Inputs::Rows(s)) => tile::<W, 12, false, false>(w, none, x, s, kc, acc, pf),
            (11, Inputs::Rows(s)) => tile::<W, 11, false, false>(w, none, x, s, kc, acc, pf),
            (10, Inputs::Rows(s)) => tile::<W, 10, false, false>(w, none, x, s, kc, acc, pf),
            (9, Inputs::Rows(s)) => tile::<W, 9, false, false>(w, none, x, s, kc, acc, pf),
            (8, Inputs::Rows(s)) => tile::<W, 8, false, false>(w, none, x, s, kc, acc, pf),
            (12, Inputs::Packed) => tile::<W, 12, true, false>(w, none, x, 0, kc, acc, pf),
            (11, Inputs::Packed) => tile::<W, 11, true, false>(w, none, x, 0, kc, acc, pf),
            (10, Inputs::Packed) => tile::<W, 10, true, false>(w, none, x, 0, kc, acc, pf),
            (9, Inputs::Packed) => tile::<W, 9, true, false>(w, none, x, 0, kc, acc, pf),
            (8, Inputs::Packed) => tile::<W, 8, true, false>(w, none, x, 0, kc, acc, pf),
            _ => debug_assert!(false, "avx512: tile of {n} rows"),
        }
    }
}

/// Packs `n` rows of `d_in` f32 inputs (`src`), each times `scales[k]` for `i8d` (one f32
/// rounding, as the scalar copy), into steps of `n` values (`dst`, step `k` at `k * n`), 16
/// steps at a time, for the tile heights `row_blocks` forms from [`MR`] rows (6 to 12; others
/// return 0 and are packed by the scalar copy). Returns the steps packed, a multiple of 16; 0
/// when the lengths do not fit.
///
/// # Safety
/// avx512f, avx512bw, avx2, fma and f16c present.
#[target_feature(enable = "avx512f,avx512bw,avx2,fma,f16c")]
unsafe fn pack_transposed(
    dst: &mut [f32],
    src: &[f32],
    scales: Option<&[f32]>,
    d_in: usize,
    n: usize,
) -> usize {
    let Some(len) = n.checked_mul(d_in) else { return 0 };
    if dst.len() < len || src.len() < len || scales.is_some_and(|sc| sc.len() < d_in) {
        return 0;
    }
    let sc = scales.map(<[f32]>::as_ptr);
    // SAFETY: n rows of d_in values in src, n * d_in values in dst and d_in scales (checked
    // above); the features (this function's).
    unsafe {
        match n {
            12 => pack_block::<12>(dst.as_mut_ptr(), src.as_ptr(), sc, d_in),
            11 => pack_block::<11>(dst.as_mut_ptr(), src.as_ptr(), sc, d_in),
            10 => pack_block::<10>(dst.as_mut_ptr(), src.as_ptr(), sc, d_in),
            9 => pack_block::<9>(dst.as_mut_ptr(), src.as_ptr(), sc, d_in),
            8 => pack_block::<8>(dst.as_mut_ptr(), src.as_ptr(), sc, d_in),
            7 => pack_block::<7>(dst.as_mut_ptr(), src.as_ptr(), sc, d_in),
            6 => pack_block::<6>(dst.as_mut_ptr(), src.as_ptr(), sc, d_in),
            _ => 0,
        }
    }
}

/// [`pack_transposed`] for `N` rows: the 16 inputs of each row loaded into a zmm register, the
/// 16 x 16 block (rows `N` to 15 zero) transposed in registers ([`transpose16`]), one masked
/// store of `N` values per step; with `scales`, each row times the 16 scales of its steps
/// first. A scalar load and store per input took 8 % of batch 64 at d = 512 (perf); this
/// takes about a fifth of that.
///
/// # Safety
/// avx512f, avx512bw, avx2, fma and f16c present; `N <= 16`; `N` rows of `d_in` values
/// readable at `src`, `N * d_in` values writable at `dst`, `d_in` values readable at `scales`.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx2,fma,f16c")]
unsafe fn pack_block<const N: usize>(
    dst: *mut f32,
    src: *const f32,
    scales: Option<*const f32>,
    d_in: usize,
) -> usize {
    let steps = d_in / 16 * 16;
    let mask: __mmask16 = ((1u32 << N) - 1) as __mmask16;
    let mut k = 0;
    while k < steps {
        // SAFETY: rows r < N hold d_in >= k + 16 values from src + r * d_in, and so do the
        // scales; the masked stores write N values at (k + j) * N for j < 16, ending at
        // (k + 16) * N <= N * d_in; the loads and stores are unaligned ones.
        unsafe {
            let mut r = [_mm512_setzero_ps(); 16];
            for (i, ri) in r.iter_mut().enumerate().take(N) {
                *ri = _mm512_loadu_ps(src.add(i * d_in + k));
            }
            if let Some(sc) = scales {
                let c = _mm512_loadu_ps(sc.add(k));
                for ri in r.iter_mut().take(N) {
                    *ri = _mm512_mul_ps(*ri, c);
                }
            }
            let out = dst.add(k * N);
            for (j, tj) in transpose16(&r).iter().enumerate() {
                _mm512_mask_storeu_ps(out.add(j * N), mask, *tj);
            }
        }
        k += 16;
    }
    steps
}

/// The transpose of the 16 x 16 block whose rows are `r`: element `j` of result `i` is
/// element `i` of `r[j]`. Four rounds of 16 shuffles: 32-bit and 64-bit interleaves within each
/// 128-bit lane, then two rounds of 128-bit lane selections.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx2,fma,f16c")]
fn transpose16(r: &[__m512; 16]) -> [__m512; 16] {
    let mut t = [_mm512_setzero_ps(); 16];
    for i in 0..8 {
        t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
    // u[4q + c], lane L: column 4L + c of rows 4q .. 4q + 4.
    let mut u = [_mm512_setzero_ps(); 16];
    for q in 0..4 {
        let (a, b) = (t[4 * q], t[4 * q + 2]);
        let (c, d) = (t[4 * q + 1], t[4 * q + 3]);
        let pd = |v: __m512| _mm512_castps_pd(v);
        u[4 * q] = _mm512_castpd_ps(_mm512_unpacklo_pd(pd(a), pd(b)));
        u[4 * q + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(pd(a), pd(b)));
        u[4 * q + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(pd(c), pd(d)));
        u[4 * q + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(pd(c), pd(d)));
    }
    let mut out = [_mm512_setzero_ps(); 16];
    for c in 0..4 {
        // Lanes 0-1 and 2-3 of rows 0-7 and of rows 8-15, then one lane of each quarter.
        let v0 = _mm512_shuffle_f32x4::<0x44>(u[c], u[4 + c]);
        let v1 = _mm512_shuffle_f32x4::<0xEE>(u[c], u[4 + c]);
        let v2 = _mm512_shuffle_f32x4::<0x44>(u[8 + c], u[12 + c]);
        let v3 = _mm512_shuffle_f32x4::<0xEE>(u[8 + c], u[12 + c]);
        out[c] = _mm512_shuffle_f32x4::<0x88>(v0, v2);
        out[4 + c] = _mm512_shuffle_f32x4::<0xDD>(v0, v2);
        out[8 + c] = _mm512_shuffle_f32x4::<0x88>(v1, v3);
        out[12 + c] = _mm512_shuffle_f32x4::<0xDD>(v1, v3);
    }
    out
}

/// The microkernel: `dst(r) = src(r) + sum_{k < kc} x[r * xs + k] * w[k]` for `r < R`, the
/// accumulator rows where `acc` says, each `w[k]` a row of 16 weights, the `R` accumulators in
/// zmm registers; the `pf` hints spread over the
/// `k` loop ([`k_loop`]). With `WIDEN`, each row is also stored widened at `wide + k * NR`
/// (the block's first tile widens 16-bit weights for the others: one store per step, against
/// a separate pass that loads, widens and stores them).
///
/// # Safety
/// avx512f, avx512bw, avx2, fma and f16c present; `kc * NR` weights readable at `w`; for
/// `r < R`, `kc` values readable at `x + r * xs` (`PACKED`: `kc * R` values readable at `x`,
/// `xs` unused), `NR` f32 readable at `acc.src + r * acc.src_stride` and writable at
/// `acc.dst + r * acc.dst_stride`; with `WIDEN`, `kc * NR` f32 writable at `wide`.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx2,fma,f16c")]
unsafe fn tile<W: WeightElem, const R: usize, const PACKED: bool, const WIDEN: bool>(
    w: *const W,
    wide: *mut f32,
    x: *const f32,
    xs: usize,
    kc: usize,
    acc: Acc,
    pf: Prefetch,
) {
    // SAFETY: every access stays within the ranges the caller guarantees: accumulator rows
    // r < R, x[r * xs + k] (PACKED: x[k * R + r]) and w[k * NR .. k * NR + 16] for k < kc.
    unsafe {
        let mut c = [_mm512_setzero_ps(); R];
        let mut xr = [x; R];
        for (r, (cr, xp)) in c.iter_mut().zip(xr.iter_mut()).enumerate() {
            *cr = _mm512_loadu_ps(acc.src.add(r * acc.src_stride));
            *xp = if PACKED { x.add(r) } else { x.add(r * xs) };
        }
        // Distance between the inputs of consecutive `k` steps of one row.
        let ks = if PACKED { R } else { 1 };
        // One `k` step: one weight vector, R FMAs with broadcast inputs.
        let step = |c: &mut [__m512; R], k: usize| {
            let wv = load16(w.add(k * NR));
            if WIDEN {
                _mm512_storeu_ps(wide.add(k * NR), wv);
            }
            for (cr, xp) in c.iter_mut().zip(xr.iter()) {
                *cr = _mm512_fmadd_ps(_mm512_set1_ps(*xp.add(k * ks)), wv, *cr);
            }
        };
        k_loop::<Zmm>(kc, pf, |k| step(&mut c, k));
        for (r, cr) in c.iter().enumerate() {
            _mm512_storeu_ps(acc.dst.add(r * acc.dst_stride), *cr);
        }
    }
}
