//! The one blocked driver: the loop nest of every SIMD batch kernel (x86_64 AVX2 and AVX-512,
//! aarch64 NEON), generic over a [`Microkernel`] that computes one register tile.
//!
//! For a chunk of up to [`chunk_rows`] rows and one panel, `d_in` is walked in blocks of [`KC`]
//! rows so the weights of a block stay in L1 while every `MR`-row tile of the chunk uses them
//! (the tile's `k` loop unrolled by [`TILE_UNROLL`], [`k_loop`]). The tiles of the first block
//! start their accumulators from the bias, those of the last store f32 outputs straight into
//! `y`, and between blocks the accumulators of all rows wait in a small stack scratch ([`Acc`];
//! other outputs and `i8d` go through the scratch and an epilogue that adds the `i8d` diagonal
//! term and converts). The rows of a chunk are split into the fewest tiles, as equal as
//! possible (`row_blocks`): a short tile leaves FMA chains idle. With two tiles' rows or more,
//! 16-bit and int8 weights are widened to f32 once per block into a stack buffer (16 KiB) and
//! reused by all tiles, the first tile of the block widening them as it streams them where the
//! ISA does so ([`Microkernel::tile_widen`]); with fewer rows, they are widened in registers
//! inside the tile. While the tiles of a block run, they prefetch the next block into L1, each
//! tile its share, one line every few `k` steps: without it the first tile of each block waits
//! on the outer caches.
//!
//! Given a workspace (`Transform::apply_with_workspace`), batches of [`PACK_MIN_ROWS`] rows or
//! more first copy each chunk of inputs into it, `k`-major per tile ([`pack_chunk`]; f32 inputs
//! through the ISA's register transpose where it has one, [`Microkernel::pack_f32`]), so every
//! tile reads one sequential stream; without one they read the rows in place. During a panel's
//! last block each tile also prefetches the outputs of its rows, which it then stores without a
//! miss.
//!
//! Inputs and outputs of every element type arrive as [`InputRows`] and [`OutputRows`]: the
//! nest is compiled once per ISA and weight dtype, and converts elements only where it copies
//! inputs into a buffer and where it stores a finished row.
//!
//! Each ISA instantiates [`gemm`] inside a function that enables its target features, so the
//! whole nest, tiles included, is compiled for that ISA.

#![allow(unsafe_code)]

use crate::dtype::WeightDtype;
use crate::kernel::io::{InputRows, OutputRows};
use crate::kernel::tiling::{add_diag, row_blocks, CacheAligned, I8dAux};
use crate::kernel::{Panels, WeightElem, NR};

/// Depth of one K-block: `KC * NR` f32 = 16 KiB, within the L1d of every core it targets.
pub(crate) const KC: usize = 256;
/// Most rows per chunk sharing the K-blocks of a panel (a multiple of every tile's `MR`): the
/// scratch rows the driver keeps on the stack. See [`chunk_rows`].
pub(crate) const RC: usize = 144;

/// Rows per chunk for `d_in` inputs: [`RC`] while the packed chunk (`RC * d_in` f32) stays
/// within a 2 MiB L2 with room for the panels passing over it (`d_in <= 1024`), half of it
/// beyond. Every chunk widens the 16-bit weights of all panels again, so the taller the chunk
/// the less of that work per row.
pub(crate) const fn chunk_rows(d_in: usize) -> usize {
    if d_in <= 1024 {
        RC
    } else {
        RC / 2
    }
}
/// `k` steps per iteration of the tile's inner loop. Unrolled, the loop issues fewer
/// instructions per FMA (the loop counter and the input-row addresses are shared by the
/// steps), and fewer of those scalar uops compete with the FMAs for issue slots.
pub(crate) const TILE_UNROLL: usize = 8;
/// From this many rows on, the inputs are packed into the caller's workspace when it is large
/// enough ([`workspace_len`]).
const PACK_MIN_ROWS: usize = 12;

const _: () = assert!(KC.is_multiple_of(TILE_UNROLL));

/// f32 elements of workspace [`gemm`] packs the inputs of a `rows`-row batch into: one chunk
/// of up to [`chunk_rows`] rows, 0 below [`PACK_MIN_ROWS`] rows.
pub(crate) fn workspace_len(d_in: usize, rows: usize) -> usize {
    if rows >= PACK_MIN_ROWS {
        chunk_rows(d_in).min(rows).saturating_mul(d_in)
    } else {
        0
    }
}

/// One ISA's register tile, as [`gemm`] drives it.
///
/// A new ISA implements this (and the single-row `stream::Streamer`), wraps [`gemm`] in a
/// function that enables its target features, and adds one registry entry per weight dtype in
/// `kernel/mod.rs`: see the module documentation there.
///
/// # Safety
/// Implementors guarantee that `MR` divides [`RC`] and `RC / 2` (both chunk heights), that
/// `1 <= MIN_TILE <= MR` and that [`Microkernel::input_buf`] holds at least `MR * KC` values:
/// the driver's raw-pointer code relies on them.
pub(crate) unsafe trait Microkernel {
    /// Rows of the register tile.
    const MR: usize;
    /// The shortest tile the ISA compiles (`tile_n` takes `MIN_TILE ..= MR` rows): the driver
    /// pads shorter ones, which only small batches and a chunk's last rows have, so each
    /// ISA compiles a few tile heights rather than `MR` of them.
    const MIN_TILE: usize;
    /// The buffer the inputs of one tile are widened (or scaled) into, `MR` rows of [`KC`],
    /// when they are not packed and not f32: sized by the tile, not by the tallest one, to
    /// keep the stack small.
    type InputBuf: AsRef<[f32]> + AsMut<[f32]>;

    /// A zeroed [`Microkernel::InputBuf`].
    fn input_buf() -> Self::InputBuf;

    /// A hint to load the cache line at `p` into L1 (`prefetcht0`, `prfm pldl1keep`). It never
    /// faults and needs no valid address.
    fn prefetch(p: *const u8);

    /// Widens `kc` rows of `NR` weights at `w` into `dst`.
    ///
    /// # Safety
    /// The ISA's features present; `kc * NR` weights readable at `w`; `kc <= KC`.
    unsafe fn widen_block<W: WeightElem>(w: *const W, kc: usize, dst: &mut [f32; KC * NR]);

    /// `dst(r) = src(r) + sum_{k < kc} x(r, k) * w[k]` for the `n` rows of one tile, `src(r)`
    /// and `dst(r)` rows of `NR` accumulators where `acc` says, `w[k]` a row of `NR` weights,
    /// the inputs where `xs` says, issuing the `pf` hints along the way.
    ///
    /// # Safety
    /// The ISA's features present; `1 <= n <= MR` (other values do nothing); `kc * NR`
    /// weights readable at `w`; for `r < n`, `kc` inputs of row `r` readable as `xs` lays them
    /// out from `x`, `NR` f32 readable at `acc.src + r * acc.src_stride` and writable at
    /// `acc.dst + r * acc.dst_stride`.
    unsafe fn tile_n<W: WeightElem>(
        w: *const W,
        x: *const f32,
        xs: Inputs,
        kc: usize,
        n: usize,
        acc: Acc,
        pf: Prefetch,
    );

    /// Packs the leading `k` steps of one tile of [`pack_chunk`] from f32 inputs in registers:
    /// `n` rows of `d_in` inputs (`src`), each times `scales[k]` for `i8d` (one f32 rounding, as
    /// [`scale_input`]), into steps of `n` values (`dst`). Returns how many steps it packed, the
    /// rest left to the scalar copy; this default packs none.
    ///
    /// # Safety
    /// The ISA's features present.
    #[inline(always)]
    unsafe fn pack_f32(dst: &mut [f32], src: &[f32], scales: Option<&[f32]>, d_in: usize, n: usize) -> usize {
        let _ = (dst, src, scales, d_in, n);
        0
    }

    /// [`Microkernel::tile_n`] on `kc` rows of 16-bit or int8 weights at `w` that also leaves
    /// them widened in `wide` for the other tiles of the block (the first tile of each block
    /// runs this). This one widens the block first, then runs the tile on `wide`.
    ///
    /// # Safety
    /// As [`Microkernel::widen_block`] and [`Microkernel::tile_n`].
    #[allow(clippy::too_many_arguments)]
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
        // SAFETY: forwarded contract.
        unsafe { widen_then_tile::<Self, W>(w, wide, x, xs, kc, n, acc, pf) }
    }
}

/// [`Microkernel::tile_widen`] done in two steps: the block widened into `wide`, then the tile
/// run on it. The default, and the fallback of tiles that widen in place for some heights only.
///
/// # Safety
/// As [`Microkernel::widen_block`] and [`Microkernel::tile_n`].
#[allow(clippy::too_many_arguments)]
#[inline(always)]
pub(crate) unsafe fn widen_then_tile<M: Microkernel + ?Sized, W: WeightElem>(
    w: *const W,
    wide: &mut [f32; KC * NR],
    x: *const f32,
    xs: Inputs,
    kc: usize,
    n: usize,
    acc: Acc,
    pf: Prefetch,
) {
    // SAFETY: the caller's contract is both functions'.
    unsafe {
        M::widen_block(w, kc, wide);
        M::tile_n(wide.as_ptr(), x, xs, kc, n, acc, pf);
    }
}

/// Where a tile of `R` rows finds input `k` of its row `r`.
#[derive(Clone, Copy)]
pub(crate) enum Inputs {
    /// In place (or widened per tile): at `x + r * stride + k`.
    Rows(usize),
    /// Packed by [`pack_chunk`]: at `x + k * R + r`, the `R` values of one `k` step adjacent.
    Packed,
}

/// Cache lines a tile prefetches for the next K-block: `lines` consecutive lines from `at`.
/// Only hints: the addresses need not be valid.
#[derive(Clone, Copy)]
pub(crate) struct Prefetch {
    pub(crate) at: *const u8,
    pub(crate) lines: usize,
}

/// Where a tile's accumulator rows come from and go to: row `r` is read from
/// `src + r * src_stride` and written to `dst + r * dst_stride` (in f32). The first K-block of a
/// panel reads the bias (`src_stride` 0), the last writes f32 outputs straight into `y`
/// (`dst_stride` = `d_out`); the blocks between, and panels that need an epilogue, use the
/// chunk's scratch rows (stride `NR`).
#[derive(Clone, Copy)]
pub(crate) struct Acc {
    pub(crate) src: *const f32,
    pub(crate) src_stride: usize,
    pub(crate) dst: *mut f32,
    pub(crate) dst_stride: usize,
}

impl Acc {
    /// The accumulators of rows `r0 ..` of `self`.
    #[inline(always)]
    fn rows_from(self, r0: usize) -> Acc {
        Acc {
            src: self.src.wrapping_add(r0 * self.src_stride),
            src_stride: self.src_stride,
            dst: self.dst.wrapping_add(r0 * self.dst_stride),
            dst_stride: self.dst_stride,
        }
    }
}

/// The `k` loop of a tile: `step(k)` for `k` in `0 .. kc`, [`TILE_UNROLL`] at a time, with the
/// `pf` hints spread over it, one every `kc / pf.lines` steps: issued at once they fill the miss
/// buffers and stall the tile. At most one hint per iteration: lines of a tile's share beyond
/// `kc / TILE_UNROLL` are left to the hardware prefetchers (a second hint in some iterations
/// measured slower).
// NEON's tiles run plain loops (LLVM outlines their larger closures).
#[cfg_attr(target_arch = "aarch64", allow(dead_code))]
#[inline(always)]
pub(crate) fn k_loop<M: Microkernel + ?Sized>(kc: usize, pf: Prefetch, mut step: impl FnMut(usize)) {
    // Steps of `k` per prefetch hint, a multiple of the unroll.
    let seg = kc.checked_div(pf.lines).map_or(kc, |s| (s / TILE_UNROLL * TILE_UNROLL).max(TILE_UNROLL));
    let mut k = 0;
    let mut line = 0;
    while k < kc {
        if line < pf.lines {
            M::prefetch(pf.at.wrapping_add(line * 64));
            line += 1;
        }
        let end = (k + seg).min(kc);
        while k + TILE_UNROLL <= end {
            for u in 0..TILE_UNROLL {
                step(k + u);
            }
            k += TILE_UNROLL;
        }
        while k < end {
            step(k);
            k += 1;
        }
    }
}

/// Several rows: chunks of [`chunk_rows`] rows, one panel at a time, K-blocks of [`KC`],
/// `M::MR x 16` tiles. With `aux` (i8d), the input is scaled as it is copied into the tile's
/// buffer (or the packed chunk) and the diagonal term added to each finished row. When `ws`
/// holds [`workspace_len`]`(d_in, rows)` values (and that is not 0), each chunk of inputs is
/// packed into it once and every tile reads its rows from there.
///
/// Always inlined into a function that enables `M`'s target features.
///
/// # Safety
/// `M`'s features present; `panels_in_bounds(p)`, `d_in >= 1` (`batch_rows` refuses 0), so the
/// first K-block writes every accumulator row; `x.len() == rows * d_in`,
/// `y.len() == rows * d_out`; with `aux`, `d_in` scales and `count * NR` diagonal values.
#[inline(always)]
pub(crate) unsafe fn gemm<M: Microkernel, W: WeightElem>(
    p: &Panels<'_, W>,
    aux: Option<I8dAux<'_>>,
    x: InputRows<'_>,
    y: &mut OutputRows<'_>,
    rows: usize,
    ws: &mut [f32],
) {
    let (d_in, d_out) = (p.d_in, p.d_out);
    debug_assert!(d_in >= 1 && x.len() == rows * d_in && y.len() == rows * d_out, "gemm: lengths");
    // 16-bit and int8 weights are widened once per K-block into a buffer that every tile of
    // the block then reads as f32 (the first tile widening as it streams, where the ISA does
    // so): the tiles are compiled for f32 weights only.
    let widen = W::DTYPE != WeightDtype::F32;
    // The packed chunk: rows r0 .. r0 + rc, each tile's rows `k`-major (see `pack_chunk`).
    let mut pack = ws.get_mut(..workspace_len(d_in, rows)).filter(|w| !w.is_empty());
    let mut scratch = CacheAligned([[0f32; NR]; RC]);
    let scratch = &mut scratch.0;
    let mut xbuf = M::input_buf();
    let mut wbuf = CacheAligned([0f32; KC * NR]);
    let wbuf = &mut wbuf.0;
    // i8d inputs are always scaled into the buffer; f32 inputs are otherwise read in place.
    let xf = if aux.is_some() { None } else { x.as_f32() };
    // f32 outputs without an i8d diagonal term are stored by the tiles of a panel's last
    // K-block, straight from their registers; others go through the scratch rows and the
    // epilogue (`add_diag`, `OutputRows::store`). Every write to y goes through `y`'s one
    // pointer, so no reference to y outlives a write through another.
    let y_direct = if aux.is_none() { y.f32_ptr() } else { None };
    // Cache lines of one K-block of weights: the tiles of a block prefetch the next one, each
    // its share.
    let block_lines = KC * NR * core::mem::size_of::<W>() / 64;
    let chunk = chunk_rows(d_in);
    for r0 in (0..rows).step_by(chunk) {
        let rc = chunk.min(rows - r0);
        let lines_per_tile = block_lines.div_ceil(row_blocks(rc, M::MR).count());
        // Padded tiles (see below) end in scratch rows, so a chunk with one goes through the
        // epilogue.
        let padded = row_blocks(rc, M::MR).any(|(_, n)| n < M::MIN_TILE);
        if let Some(pack) = pack.as_deref_mut() {
            // SAFETY: M's features (the caller's contract).
            unsafe { pack_chunk::<M>(pack, x, d_in, r0, rc, aux.map(|a| a.scales)) };
        }
        for (q, bias) in p.bias.chunks_exact(NR).take(p.count()).enumerate() {
            // SAFETY: panel q exists (panels_in_bounds).
            let panel = unsafe { p.weights.as_ptr().add(q * p.stride) };
            // One pointer for reading and writing the scratch rows (renewed per panel: the
            // epilogue below borrows scratch).
            let sp = scratch.as_mut_ptr().cast::<f32>();
            let scratch_rows = Acc { src: sp, src_stride: NR, dst: sp, dst_stride: NR };
            // Rows of a full panel's outputs in y (a partial last panel goes through scratch).
            let y_rows = y_direct.filter(|_| (q + 1) * NR <= d_out && !padded).map(|yf| Acc {
                // In bounds: rows r0 .. r0 + rc < rows, columns q * NR .. (q + 1) * NR <= d_out.
                dst: yf.wrapping_add(r0 * d_out + q * NR),
                dst_stride: d_out,
                ..scratch_rows
            });
            for k0 in (0..d_in).step_by(KC) {
                let kc = KC.min(d_in - k0);
                // SAFETY: rows k0 .. k0 + kc of the panel exist (k0 + kc <= d_in).
                let wk = unsafe { panel.add(k0 * NR) };
                // The next K-block: of this panel, or the first of the next panel (past the
                // last panel the hints point past the weights: harmless, never dereferenced).
                let last_block = k0 + kc == d_in;
                let next = if last_block { panel.wrapping_add(p.stride) } else { wk.wrapping_add(kc * NR) };
                // The first block starts every row from the bias; the last of a full f32 panel
                // ends in y.
                let mut rows_acc = if last_block { y_rows.unwrap_or(scratch_rows) } else { scratch_rows };
                if k0 == 0 {
                    rows_acc.src = bias.as_ptr();
                    rows_acc.src_stride = 0;
                }
                for (t, (b0, n)) in row_blocks(rc, M::MR).enumerate() {
                    let first = (t * lines_per_tile).min(block_lines);
                    let pf = Prefetch {
                        at: next.cast::<u8>().wrapping_add(first * 64),
                        lines: (block_lines - first).min(lines_per_tile),
                    };
                    let row = r0 + b0;
                    if last_block {
                        // The outputs this tile's rows get once the panel is done: without the
                        // hint each row's store misses (y is rarely in L1) and the stores stall.
                        for r in 0..n {
                            let at = (row + r) * d_out + q * NR;
                            M::prefetch(y.hint_addr(at));
                            M::prefetch(y.hint_addr(at + NR - 1));
                        }
                    }
                    // A tile shorter than MIN_TILE runs as a MIN_TILE one on its rows' inputs
                    // copied into xbuf, its accumulators in scratch (whose extra rows, and the
                    // extra inputs, only feed the rows nobody stores).
                    let pad = n < M::MIN_TILE;
                    let (xp, xs) = match (pack.as_deref().filter(|_| !pad), xf.filter(|_| !pad)) {
                        // SAFETY: `pk` holds min(chunk, rows) * d_in >= rc * d_in values, and the
                        // tile reads b0 * d_in + k0 * n .. b0 * d_in + (k0 + kc) * n, which ends
                        // at or before (b0 + n) * d_in <= rc * d_in (k0 + kc <= d_in).
                        (Some(pk), _) => (unsafe { pk.as_ptr().add(b0 * d_in + k0 * n) }, Inputs::Packed),
                        // SAFETY: row + n <= rows, so rows row .. row + n, columns k0 .. k0 + kc
                        // lie inside x (rows * d_in values).
                        (None, Some(xf)) => (unsafe { xf.as_ptr().add(row * d_in + k0) }, Inputs::Rows(d_in)),
                        _ => {
                            let scales = aux.map(|a| a.scales.get(k0..k0 + kc).unwrap_or(&[]));
                            for (r, dst) in xbuf.as_mut().chunks_exact_mut(KC).take(n).enumerate() {
                                let dst = dst.get_mut(..kc).unwrap_or(&mut []);
                                x.widen_into(dst, (row + r) * d_in + k0, scales);
                            }
                            (xbuf.as_ref().as_ptr(), Inputs::Rows(KC))
                        }
                    };
                    let (acc, n) = if pad {
                        debug_assert!(b0 + M::MIN_TILE <= RC, "padded tile past the scratch rows");
                        let into_scratch = Acc { dst: scratch_rows.dst, dst_stride: NR, ..rows_acc };
                        (into_scratch.rows_from(b0), M::MIN_TILE)
                    } else {
                        (rows_acc.rows_from(b0), n)
                    };
                    // SAFETY: n <= MR rows of kc inputs at xp, laid out as xs says (shown above;
                    // xbuf holds MR rows of KC, the Microkernel contract); kc rows of NR weights
                    // at wk (or widened in wbuf); the accumulator rows: the bias (NR values),
                    // scratch rows b0 .. b0 + n <= RC, or y's rows row .. row + n <= rows at
                    // columns q * NR .. (q + 1) * NR <= d_out, which only the tile writes while
                    // it runs; M's features (the caller's contract).
                    unsafe {
                        if !widen {
                            // f32 weights (`widen` is false only then): the cast is the
                            // identity, and keeps the tiles compiled for f32 weights only.
                            M::tile_n(wk.cast::<f32>(), xp, xs, kc, n, acc, pf)
                        } else if t == 0 {
                            // 16-bit and int8 weights: the block's first tile widens them into
                            // wbuf for the others.
                            M::tile_widen(wk, wbuf, xp, xs, kc, n, acc, pf)
                        } else {
                            M::tile_n(wbuf.as_ptr(), xp, xs, kc, n, acc, pf)
                        }
                    }
                }
            }
            if y_rows.is_some() {
                continue;
            }
            let cols = NR.min(d_out - q * NR);
            for (r, s) in scratch.iter_mut().take(rc).enumerate() {
                add_diag(s, aux, x, (r0 + r) * d_in, q * NR, d_in, d_out);
                y.store_panel((r0 + r) * d_out + q * NR, s, cols);
            }
        }
    }
}

/// Copies rows `r0 .. r0 + rc` of `x` (as f32, times `scales[k]` for `i8d`, rounded once as
/// [`InputRows::widen_into`] does) into `pack`, tile by tile as [`row_blocks`]`(rc, M::MR)`
/// forms them: the tile of `n` rows starting at chunk row `b0` occupies
/// `pack[b0 * d_in .. (b0 + n) * d_in]`, with input `k` of its row `r` at
/// `b0 * d_in + k * n + r`. Every tile then reads its inputs as one sequential stream, `n`
/// adjacent values per `k` step, instead of `n` rows `d_in` apart. Once per chunk, reused by
/// every panel. f32 inputs go through the ISA's register transpose ([`Microkernel::pack_f32`])
/// first, the steps it leaves through [`pack_tile`].
///
/// Not inlined into [`gemm`]: it runs once per chunk.
///
/// # Safety
/// `M`'s features present.
unsafe fn pack_chunk<M: Microkernel>(
    pack: &mut [f32],
    x: InputRows<'_>,
    d_in: usize,
    r0: usize,
    rc: usize,
    scales: Option<&[f32]>,
) {
    // Tiles shorter than MIN_TILE read their inputs from the tile buffer instead.
    for (b0, n) in row_blocks(rc, M::MR).filter(|&(_, n)| n >= M::MIN_TILE) {
        let Some(dst) = pack.get_mut(b0 * d_in..(b0 + n) * d_in) else {
            debug_assert!(false, "pack_chunk: workspace shorter than the chunk");
            return;
        };
        let start = (r0 + b0) * d_in;
        let done = match x.as_f32().and_then(|xf| xf.get(start..start + n * d_in)) {
            // SAFETY: M's features (the caller's contract).
            Some(src) => unsafe { M::pack_f32(dst, src, scales, d_in, n) },
            None => 0,
        };
        pack_rest(dst, x, start, d_in, n, done, scales);
    }
}

/// The steps `done ..` of one tile of [`pack_chunk`]: `n` rows of `x` from element `start` on.
/// Compiled once, not per ISA. f32 tiles of 4 to 6 rows (AVX2 and NEON, whose `pack_f32` packs
/// none) with `n` a constant ([`pack_tile`]); the rest by one generic loop: 16-bit inputs (rare
/// in large batches) and the steps AVX-512's `pack_f32` leaves (fewer than one block).
#[inline(never)]
fn pack_rest(
    dst: &mut [f32],
    x: InputRows<'_>,
    start: usize,
    d_in: usize,
    n: usize,
    done: usize,
    scales: Option<&[f32]>,
) {
    let f32_rows = x.as_f32().and_then(|xf| xf.get(start..start + n * d_in));
    match (n, f32_rows) {
        (6, Some(src)) => pack_tile::<6>(dst, src, d_in, done, scales),
        (5, Some(src)) => pack_tile::<5>(dst, src, d_in, done, scales),
        (4, Some(src)) => pack_tile::<4>(dst, src, d_in, done, scales),
        _ => {
            for (k, step) in dst.chunks_exact_mut(n.max(1)).enumerate().skip(done) {
                let c = scales.and_then(|sc| sc.get(k));
                for (r, d) in step.iter_mut().enumerate() {
                    let v = x.get(start + r * d_in + k).unwrap_or(0.0);
                    *d = scale_input(v, c);
                }
            }
        }
    }
}

/// One input as the kernels form it: `v`, times `scale` for `i8d` (one f32 rounding).
/// Without a scale nothing is multiplied, so every input's bits pass unchanged.
#[inline(always)]
fn scale_input(v: f32, scale: Option<&f32>) -> f32 {
    match scale {
        Some(&c) => v * c,
        None => v,
    }
}

/// One tile of [`pack_chunk`] from step `from` on: `R` rows of `d_in` f32 inputs (`src`) into
/// steps of `R` values (`dst`), eight steps at a time. Each row (and the block's `i8d` scales)
/// is read as an array of eight, and with `R` a constant the compiler proves every store index
/// in range, so no bounds test is left per input. Each input is formed by [`scale_input`],
/// exactly as [`InputRows::widen_into`] does.
#[inline(always)]
fn pack_tile<const R: usize>(dst: &mut [f32], src: &[f32], d_in: usize, from: usize, scales: Option<&[f32]>) {
    let mut rows: [&[f32]; R] = [&[]; R];
    for (slot, row) in rows.iter_mut().zip(src.chunks_exact(d_in.max(1))) {
        *slot = row;
    }
    let mut blocks = dst.get_mut(from.saturating_mul(R)..).unwrap_or(&mut []).chunks_exact_mut(8 * R);
    let mut k = from;
    for block in &mut blocks {
        let block_scales = scales.and_then(|sc| sc.get(k..)).and_then(|sc| sc.first_chunk::<8>());
        for (r, row) in rows.iter().enumerate() {
            let Some(run) = row.get(k..).and_then(|row| row.first_chunk::<8>()) else { return };
            for (j, v) in run.iter().enumerate() {
                if let Some(d) = block.get_mut(j * R + r) {
                    *d = scale_input(*v, block_scales.and_then(|c| c.get(j)));
                }
            }
        }
        k += 8;
    }
    for step in blocks.into_remainder().chunks_exact_mut(R) {
        let c = scales.and_then(|sc| sc.get(k));
        for (d, row) in step.iter_mut().zip(&rows) {
            if let Some(v) = row.get(k) {
                *d = scale_input(*v, c);
            }
        }
        k += 1;
    }
}
