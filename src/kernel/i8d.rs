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

use super::NR;
#[cfg(not(all(
    target_arch = "arm",
    target_abi = "eabihf",
    target_os = "none",
    not(feature = "cortexm-scalar")
)))]
use crate::dtype::Element;

/// Rows per register tile of the scalar `i8d` kernel.
#[cfg(not(all(
    target_arch = "arm",
    target_abi = "eabihf",
    target_os = "none",
    not(feature = "cortexm-scalar")
)))]
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
#[cfg(not(all(
    target_arch = "arm",
    target_abi = "eabihf",
    target_os = "none",
    not(feature = "cortexm-scalar")
)))]
pub(crate) fn apply<I: Element, O: Element>(p: &I8dPanels<'_>, x: &[I], y: &mut [O]) {
    let (d_in, d_out) = (p.d_in, p.d_out);
    if d_in == 0 || d_out == 0 {
        return;
    }
    let body = d_in * NR;
    for (x_block, y_block) in x.chunks(MR * d_in).zip(y.chunks_mut(MR * d_out)) {
        let rows = x_block.len() / d_in;
        for (panel, q) in p.q.chunks(p.stride.max(1)).take(d_out.div_ceil(NR)).enumerate() {
            let Some(q) = q.get(..body) else { return };
            let col0 = panel * NR;
            let lanes = col0..col0 + NR;
            let (Some(bias), Some(diag), Some(scales)) =
                (p.bias.get(lanes.clone()), p.diag.get(lanes), p.scales.get(..d_in))
            else {
                return;
            };
            let mut acc = [[0f32; NR]; MR];
            for (k, (q_row, &scale)) in q.chunks_exact(NR).zip(scales).enumerate() {
                let mut wf = [0f32; NR];
                for (d, &s) in wf.iter_mut().zip(q_row) {
                    *d = s as f32;
                }
                for (r, acc_row) in acc.iter_mut().take(rows).enumerate() {
                    let xv = x_block.get(r * d_in + k).map_or(0.0, |v| v.to_f32()) * scale;
                    for (a, w) in acc_row.iter_mut().zip(wf) {
                        *a += xv * w;
                    }
                }
            }
            let cols = NR.min(d_out - col0);
            for (r, (acc_row, y_row)) in acc.iter().zip(y_block.chunks_mut(d_out)).take(rows).enumerate() {
                let x_row = x_block.get(r * d_in..(r + 1) * d_in).unwrap_or(&[]);
                let Some(dst) = y_row.get_mut(col0..col0 + cols) else { continue };
                for (c, d) in dst.iter_mut().enumerate() {
                    // Beyond d_in there is no diagonal term at all (not `diag * 0`: a crafted
                    // blob's padding could hold a NaN or an infinity there).
                    let diag_term = x_row.get(col0 + c).map_or(0.0, |v| diag[c] * v.to_f32());
                    *d = O::from_f32((bias[c] + acc_row[c]) + diag_term);
                }
            }
        }
    }
}
