//! Loop-nest helpers shared by the SIMD drivers: which rows form a register tile, the bounds
//! every raw-pointer kernel relies on, the ragged-edge store, cache-aligned stack buffers, and
//! the two additions the `i8d` dtype makes to the f32/f16/bf16 loop nest (scaled inputs, the
//! exact diagonal term).

use super::i8d::I8dPanels;
use super::{Panels, WeightElem, NR};
use crate::dtype::Element;

/// A value on its own 64-byte cache lines: the batch drivers' stack buffers (weights widened to
/// f32, accumulator rows between K-blocks), which the tiles read and write a whole vector at a
/// time, so that none of those accesses splits a line. As plain `f32` arrays they had 4-byte
/// alignment (the accumulator rows sat 8 bytes past a 16-byte boundary in the build before).
/// AVX-512, d = 512, batch 64, best of 2 s in three alternating rounds: f32 199.8 -> 192.5 us,
/// f16 216.4 -> 205.2 us, bf16 209.6 -> 201.2 us; paired against OpenBLAS (6 x 9, batches 8, 64
/// and 1024 at d = 512, 1024 and 2048): 0.648 -> 0.637x, 16-bit batch 64 at 0.88-0.89 of the FMA
/// peak instead of 0.86-0.87. NEON's driver keeps the same buffers in it (not measured on Arm
/// hardware).
#[repr(C, align(64))]
pub(crate) struct CacheAligned<T>(pub(crate) T);

/// What an `i8d` blob adds to its int8 panels: per-input-row scales and the exact diagonal.
///
/// The SIMD drivers run an `i8d` blob as the int8 panels ([`Panels<i8>`], bias included) fed
/// with the scaled input `x[k] * scales[k]` (rounded to f32 once, as the scalar `i8d` kernel
/// does), then add `diag[j] * x[j]` to each finished accumulator before it is stored:
/// `y[j] = (bias[j] + sum_k (x[k] * scale[k]) * q[k][j]) + diag[j] * x[j]`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct I8dAux<'a> {
    /// At least `d_in` values.
    pub(crate) scales: &'a [f32],
    /// At least `panels * NR` values.
    pub(crate) diag: &'a [f32],
}

/// The int8 panels and the extras of an `i8d` blob, if its slices hold everything the
/// raw-pointer kernels read (see [`panels_in_bounds`]; also `d_in` scales and `NR` diagonal
/// values per panel). `None` only for a view `Transform` would never build.
pub(crate) fn i8d_view<'a>(p: &I8dPanels<'a>) -> Option<(Panels<'a, i8>, I8dAux<'a>)> {
    let v = Panels { bias: p.bias, weights: p.q, d_in: p.d_in, d_out: p.d_out, stride: p.stride };
    let ok = panels_in_bounds(&v) && p.scales.len() >= p.d_in && p.diag.len() >= v.count() * NR;
    ok.then_some((v, I8dAux { scales: p.scales, diag: p.diag }))
}

/// One input as the kernels form it ([`widen_x`], the AVX2 packing): `v` as f32, times `scale`
/// for `i8d` (one f32 rounding). Without a scale nothing is multiplied, so every input's bits
/// pass unchanged.
#[inline(always)]
pub(crate) fn scale_input<I: Element>(v: &I, scale: Option<&f32>) -> f32 {
    match scale {
        Some(&c) => v.to_f32() * c,
        None => v.to_f32(),
    }
}

/// Widens one chunk of inputs into `dst`: `src[k]` as f32, times `scales[k]` for `i8d` (one
/// f32 rounding, exactly as the scalar `i8d` kernel forms `x * scale`). Once per chunk of
/// inputs, not per weight: outside the hot loop.
#[inline(always)]
pub(crate) fn widen_x<I: Element>(dst: &mut [f32], src: &[I], scales: Option<&[f32]>) {
    match scales {
        None => {
            for (d, s) in dst.iter_mut().zip(src) {
                *d = scale_input(s, None);
            }
        }
        Some(sc) => {
            for ((d, s), c) in dst.iter_mut().zip(src).zip(sc) {
                *d = scale_input(s, Some(c));
            }
        }
    }
}

/// The `i8d` epilogue of one finished accumulator row of panel `col0 / NR`:
/// `acc[c] = acc[c] + diag[j] * x_row[j]` for `j = col0 + c < min(d_in, d_out)`, where
/// `x_row` is the row's unscaled input (`d_in` values). Beyond `d_in` there is no term at all
/// (not `diag * 0`: a crafted blob's padding may hold NaN or infinity). Nothing without `aux`.
/// Once per panel and row, outside the hot loop; the ranges come from slice bounds, not a
/// per-element test.
#[inline(always)]
pub(crate) fn add_diag<I: Element>(
    acc: &mut [f32; NR],
    aux: Option<I8dAux<'_>>,
    x_row: &[I],
    col0: usize,
    d_out: usize,
) {
    let Some(aux) = aux else { return };
    let n = d_out.saturating_sub(col0);
    let (Some(diag), Some(xs)) = (aux.diag.get(col0..), x_row.get(col0..)) else { return };
    for ((a, &d), x) in acc.iter_mut().zip(diag).zip(xs).take(n) {
        *a += d * x.to_f32();
    }
}

/// The row count of a batch if `x_len` and `y_len` are exactly `rows * d_in` and
/// `rows * d_out` for some `rows >= 1`: the length check every raw-pointer driver repeats at
/// entry so it is sound on its own.
pub(crate) fn batch_rows(d_in: usize, d_out: usize, x_len: usize, y_len: usize) -> Option<usize> {
    let rows = x_len.checked_div(d_in)?;
    (rows >= 1 && x_len == rows * d_in && rows.checked_mul(d_out) == Some(y_len)).then_some(rows)
}

/// Splits `rows` into register tiles: the fewest of at most `mr` rows, as equal as possible, as
/// `(first_row, rows)`. A short tile leaves FMA chains idle: 64 rows are 11, 11, 11, 11, 10, 10
/// with a 12-row tile, not four of 12 and two of 8, whose eight chains barely cover the FMA
/// latency (AVX-512, batch 64: 0.99 -> 0.83x OpenBLAS at d = 512, 0.82 -> 0.69x at d = 1024,
/// f32; benches/README.md). The tiles and the packed inputs are laid out by it alike.
pub(crate) fn row_blocks(rows: usize, mr: usize) -> impl Iterator<Item = (usize, usize)> {
    let tiles = rows.div_ceil(mr.max(1));
    let (base, extra) = (rows / tiles.max(1), rows % tiles.max(1));
    (0..tiles).map(move |t| (t * base + t.min(extra), base + usize::from(t < extra)))
}

/// Whether the slices of `p` hold everything the raw-pointer kernels read: `NR` bias values
/// per panel, `d_in * NR` weights per panel at `stride`. True for every view built by
/// `Transform` (the header validation guarantees it); checked again so each kernel's
/// pointer arithmetic is sound on its own.
pub(crate) fn panels_in_bounds<W: WeightElem>(p: &Panels<'_, W>) -> bool {
    let count = p.count();
    let body = p.d_in.checked_mul(NR);
    let need = count.checked_sub(1).and_then(|c| c.checked_mul(p.stride)).zip(body).map(|(a, b)| a + b);
    count >= 1
        && p.d_in >= 1
        && body.is_some_and(|b| p.stride >= b)
        && p.bias.len() >= count * NR
        && need.is_some_and(|n| p.weights.len() >= n)
}

/// Writes the valid columns `col0 .. min(col0 + NR, d_out)` of one accumulator row into `y_row`.
/// Once per panel and row: outside the hot loop.
#[inline(always)]
pub(crate) fn store_row<O: Element>(acc: &[f32; NR], y_row: &mut [O], col0: usize) {
    let Some(dst) = y_row.get_mut(col0..) else { return };
    // A full panel as a fixed-length array: the copy is inlined, not a `memcpy` call per row.
    if let Some(full) = dst.first_chunk_mut::<NR>() {
        for (d, &a) in full.iter_mut().zip(acc) {
            *d = O::from_f32(a);
        }
    } else {
        for (d, &a) in dst.iter_mut().zip(acc) {
            *d = O::from_f32(a);
        }
    }
}

#[cfg(all(test, feature = "std"))]
mod tests {
    use super::row_blocks;

    #[test]
    fn row_blocks_are_the_fewest_tiles_as_equal_as_possible() {
        for mr in 1..=12 {
            for rows in 0..200 {
                let blocks: std::vec::Vec<_> = row_blocks(rows, mr).collect();
                assert_eq!(blocks.len(), rows.div_ceil(mr), "rows {rows} mr {mr}: {blocks:?}");
                let mut next = 0;
                for &(r0, n) in &blocks {
                    assert_eq!(r0, next, "rows {rows} mr {mr}: {blocks:?}");
                    // 1..=mr rows, and no tile more than one row shorter than the first.
                    assert!((1..=mr).contains(&n) && n + 1 >= blocks[0].1, "rows {rows} mr {mr}: {blocks:?}");
                    next += n;
                }
                assert_eq!(next, rows, "rows {rows} mr {mr}: {blocks:?}");
            }
        }
        assert_eq!(row_blocks(8, 6).collect::<std::vec::Vec<_>>(), [(0, 4), (4, 4)]);
        assert_eq!(row_blocks(10, 6).collect::<std::vec::Vec<_>>(), [(0, 5), (5, 5)]);
        let tall: std::vec::Vec<_> = row_blocks(64, 12).collect();
        assert_eq!(tall, [(0, 11), (11, 11), (22, 11), (33, 11), (44, 10), (54, 10)]);
        assert_eq!(row_blocks(72, 12).map(|t| t.1).collect::<std::vec::Vec<_>>(), [12; 6]);
    }
}
