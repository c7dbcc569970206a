//! Loop-nest helpers shared by the SIMD drivers: which rows form a register tile, the bounds
//! every raw-pointer kernel relies on, and the ragged-edge store.

use super::{Panels, WeightElem, NR};
use crate::dtype::Element;

/// Splits `rows` into register-tile blocks of at most `mr` rows, as `(first_row, rows)`.
///
/// Full blocks of `mr`, except that a small remainder (`<= mr / 2`) is merged with the last
/// full block and the pair split evenly (`mr + 2` rows become two blocks of `mr / 2 + 1`),
/// because a 1- or 2-row tile leaves most FMA pipes idle. Every block has `1..=mr` rows.
pub(crate) fn row_blocks(rows: usize, mr: usize) -> impl Iterator<Item = (usize, usize)> {
    let mr = mr.max(1);
    let (full, rem) = (rows / mr, rows % mr);
    let merge = rem != 0 && full >= 1 && rem <= mr / 2;
    let plain = if merge { full - 1 } else { full };
    let tail = rows - plain * mr;
    let (a, b) = match (merge, rem) {
        (true, _) => (tail.div_ceil(2), tail / 2),
        (false, 0) => (0, 0),
        (false, r) => (r, 0),
    };
    (0..plain)
        .map(move |i| (i * mr, mr))
        .chain([(plain * mr, a), (plain * mr + a, b)].into_iter().filter(|&(_, n)| n > 0))
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
    if let Some(dst) = y_row.get_mut(col0..) {
        for (d, &a) in dst.iter_mut().zip(acc) {
            *d = O::from_f32(a);
        }
    }
}

#[cfg(all(test, feature = "std"))]
mod tests {
    use super::row_blocks;

    #[test]
    fn row_blocks_cover_every_row_once_with_legal_sizes() {
        for mr in 1..=8 {
            for rows in 0..60 {
                let blocks: std::vec::Vec<_> = row_blocks(rows, mr).collect();
                let mut next = 0;
                for &(r0, n) in &blocks {
                    assert_eq!(r0, next, "rows {rows} mr {mr}: {blocks:?}");
                    assert!((1..=mr).contains(&n), "rows {rows} mr {mr}: {blocks:?}");
                    next += n;
                }
                assert_eq!(next, rows, "rows {rows} mr {mr}: {blocks:?}");
            }
        }
        assert_eq!(row_blocks(8, 6).collect::<std::vec::Vec<_>>(), [(0, 4), (4, 4)]);
        assert_eq!(row_blocks(10, 6).collect::<std::vec::Vec<_>>(), [(0, 6), (6, 4)]);
    }
}
