//! Pieces the SIMD drivers share: which rows form a register tile, the bounds every
//! raw-pointer kernel relies on, cache-aligned stack buffers, and the two additions the `i8d`
//! dtype makes to the f32/f16/bf16 loop nest (scaled inputs, the exact diagonal term).

use super::i8d::I8dPanels;
use super::io::InputRows;
use super::{Panels, WeightElem, NR};

/// A value on its own 64-byte cache lines: the batch driver's stack buffers (weights widened to
/// f32, accumulator rows between K-blocks), which the tiles read and write a whole vector at a
/// time, so that none of those accesses splits a line.
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
    let v =
        Panels { bias: p.bias, weights: p.q, d_in: p.d_in, d_out: p.d_out, stride: p.stride, finite: true };
    let ok = panels_in_bounds(&v) && p.scales.len() >= p.d_in && p.diag.len() >= v.count() * NR;
    ok.then_some((v, I8dAux { scales: p.scales, diag: p.diag }))
}

/// The `i8d` epilogue of one finished accumulator row of panel `col0 / NR`:
/// `acc[c] = acc[c] + diag[j] * x[row + j]` for `j = col0 + c < min(d_in, d_out)`, where `row`
/// is the index of the row's first input. Beyond `d_in` there is no term at all (not
/// `diag * 0`: a crafted blob's padding may hold NaN or infinity). Nothing without `aux`.
/// Once per panel and row, outside the hot loop: not inlined.
#[inline]
pub(crate) fn add_diag(
    acc: &mut [f32; NR],
    aux: Option<I8dAux<'_>>,
    x: InputRows<'_>,
    row: usize,
    col0: usize,
    d_in: usize,
    d_out: usize,
) {
    if let Some(aux) = aux {
        add_diag_terms(acc, aux, x, row, col0, d_in, d_out);
    }
}

/// The terms of [`add_diag`].
#[inline(never)]
fn add_diag_terms(
    acc: &mut [f32; NR],
    aux: I8dAux<'_>,
    x: InputRows<'_>,
    row: usize,
    col0: usize,
    d_in: usize,
    d_out: usize,
) {
    let n = d_out.min(d_in).saturating_sub(col0).min(NR);
    debug_assert!(aux.diag.len() >= col0 + n, "add_diag: diagonal shorter than the panels");
    for (c, (a, &d)) in acc.iter_mut().zip(aux.diag.get(col0..).unwrap_or(&[])).take(n).enumerate() {
        if let Some(v) = x.get(row + col0 + c) {
            *a += d * v;
        }
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
/// with a 12-row tile, not four of 12 and two of 8. The tiles and the packed inputs are laid
/// out by it alike.
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
