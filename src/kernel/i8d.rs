//! `i8d` weights: the diagonal of `W'` exact, the off-diagonal part int8 with per-input-row scales.
//!
//! For output column `j`:
//!
//! ```text
//! y[r][j] = (bias[j] + sum_k (x[r][k] * scale[k]) * q[k][j]) + diag[j] * x[r][j]
//! ```
//!
//! where `q` is the int8 panel (its diagonal entries are stored as 0) and the `diag[j] * x[r][j]`
//! term exists for `j < min(d_in, d_out)` (`diag[j]` is 0 beyond). The int8 sum is accumulated
//! in f32 (`a + x * q`, not fused; every int8 is exact in f32), so the scalar kernel gives the
//! same bits on every target. See `docs/FORMAT.md` for the byte layout.

#[cfg(glocal_portable)]
use super::io::{InputRows, OutputRows};
use super::NR;

/// Rows per register tile of the scalar `i8d` kernel.
#[cfg(glocal_portable)]
pub const MR: usize = 4;

/// A borrowed view of the panels of an `i8d` blob.
#[derive(Clone, Copy, Debug)]
pub struct I8dPanels<'a> {
    /// Folded f32 bias, `panels * NR`.
    pub(crate) bias: &'a [f32],
    /// Weight section: per panel `d_in` rows of `NR` int8, at `stride` bytes apart.
    pub(crate) q: &'a [i8],
    /// Per-input-row f32 scales, `round_up(d_in, NR)`.
    pub(crate) scales: &'a [f32],
    /// Per-column f32 diagonal `W'[j][j]`, `panels * NR` (0 for `j >= min(d_in, d_out)`).
    pub(crate) diag: &'a [f32],
    pub(crate) d_in: usize,
    pub(crate) d_out: usize,
    /// Bytes from one panel to the next.
    pub(crate) stride: usize,
}

impl I8dPanels<'_> {
    /// The stored weight `W'[k][j]` as the kernel uses it, or `None` out of range.
    pub(crate) fn weight(&self, k: usize, j: usize) -> Option<f32> {
        if k >= self.d_in || j >= self.d_out {
            return None;
        }
        let q = *self.q.get((j / NR) * self.stride + k * NR + j % NR)?;
        let off = *self.scales.get(k)? * q as f32;
        Some(if k == j { off + *self.diag.get(j)? } else { off })
    }
}

/// `y = x @ W' + b'` for all rows with `i8d` weights. Lengths were checked by the caller
/// (`x.len() == rows * d_in`, `y.len() == rows * d_out`); anything short is skipped, never indexed.
// Never inlined: its tile would otherwise join the frame of every caller, whatever kernel runs.
#[inline(never)]
#[cfg(glocal_portable)]
pub(crate) fn apply(p: &I8dPanels<'_>, x: InputRows<'_>, y: &mut OutputRows<'_>) {
    let (d_in, d_out) = (p.d_in, p.d_out);
    debug_assert!(d_in >= 1 && x.len().checked_div(d_in).map(|r| r * d_out) == Some(y.len()), "i8d: lengths");
    let Some(rows) = x.len().checked_div(d_in) else { return };
    if d_out == 0 {
        return;
    }
    let body = d_in * NR;
    let Some(scales) = p.scales.get(..d_in) else {
        debug_assert!(false, "i8d: fewer scales than inputs");
        return;
    };
    for r0 in (0..rows).step_by(MR) {
        let n = MR.min(rows - r0);
        for (panel, q) in p.q.chunks(p.stride.max(1)).take(d_out.div_ceil(NR)).enumerate() {
            let col0 = panel * NR;
            let lanes = col0..col0 + NR;
            let (Some(q), Some(bias), Some(diag)) =
                (q.get(..body), p.bias.get(lanes.clone()), p.diag.get(lanes))
            else {
                debug_assert!(false, "i8d: panel {panel} out of the blob's bounds");
                return;
            };
            let mut acc = [[0f32; NR]; MR];
            for (k, (q_row, &scale)) in q.chunks_exact(NR).zip(scales).enumerate() {
                let mut wf = [0f32; NR];
                for (d, &s) in wf.iter_mut().zip(q_row) {
                    *d = s as f32;
                }
                for (r, acc_row) in acc.iter_mut().take(n).enumerate() {
                    let xv = x.get((r0 + r) * d_in + k).unwrap_or(0.0) * scale;
                    for (a, w) in acc_row.iter_mut().zip(wf) {
                        *a += xv * w;
                    }
                }
            }
            let cols = NR.min(d_out - col0);
            for (r, acc_row) in acc.iter().take(n).enumerate() {
                let row = (r0 + r) * d_in;
                let mut out = [0f32; NR];
                // Zipped, not indexed: the slices' lengths are not known to the compiler, and an
                // index would link a bounds-check panic path into soft-float firmware.
                let lanes = out.iter_mut().zip(acc_row).zip(bias.iter().zip(diag)).take(cols);
                for (c, ((o, &acc), (&bias, &diag))) in lanes.enumerate() {
                    // Beyond d_in there is no diagonal term at all (not `diag * 0`: a crafted
                    // blob's padding could hold a NaN or an infinity there).
                    let j = col0 + c;
                    let diag_term = if j < d_in { x.get(row + j).map_or(0.0, |v| diag * v) } else { 0.0 };
                    *o = (bias + acc) + diag_term;
                }
                y.store((r0 + r) * d_out + col0, out.get(..cols).unwrap_or(&[]));
            }
        }
    }
}
