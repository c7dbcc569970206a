//! The portable scalar kernel: compiled on every target, the exact reference for the SIMD
//! kernels on integer-valued inputs, and the fallback everywhere.
//!
//! Register tile `MR x NR` of f32 accumulators started from the bias; plain `a + x * w`
//! (not fused), so results match on every target whether or not it has an FMA unit.
//! Stack use is bounded (a tile plus one `MR x KC` input chunk, under 1 KiB), whatever the dims.

#![forbid(unsafe_code)]
#![cfg_attr(not(test), deny(clippy::indexing_slicing))]

use super::io::{InputRows, OutputRows};
use super::{Panels, WeightElem, NR};

/// Rows per register tile.
pub const MR: usize = 4;
/// Input elements converted per chunk when inputs are f16 or bf16.
const KC: usize = 32;

type Tile = [[f32; NR]; MR];

/// `y = x @ W + bias` for all rows, one `MR`-row block and one panel at a time. Lengths were
/// checked by the caller (`x.len() == rows * d_in`, `y.len() == rows * d_out`).
#[inline(never)]
pub(crate) fn apply<W: WeightElem>(p: &Panels<'_, W>, x: InputRows<'_>, y: &mut OutputRows<'_>) {
    let (d_in, d_out) = (p.d_in, p.d_out);
    debug_assert!(
        d_in >= 1 && x.len().checked_div(d_in).map(|r| r * d_out) == Some(y.len()),
        "scalar: lengths"
    );
    let Some(rows) = x.len().checked_div(d_in) else { return };
    for r0 in (0..rows).step_by(MR) {
        let n = MR.min(rows - r0);
        for (panel, (bias, w)) in p.iter().enumerate() {
            let mut acc: Tile = [*bias; MR];
            match x.as_f32() {
                // f32 inputs are read in place, the whole depth in one pass.
                Some(xf) => tile(w, xf.get(r0 * d_in..).unwrap_or(&[]), d_in, 0, d_in, n, &mut acc),
                // 16-bit inputs are widened one chunk at a time into a small stack buffer.
                None => {
                    let mut buf = [0f32; MR * KC];
                    for k0 in (0..d_in).step_by(KC) {
                        let kc = KC.min(d_in - k0);
                        for (r, dst) in buf.chunks_exact_mut(KC).take(n).enumerate() {
                            x.widen_into(dst.get_mut(..kc).unwrap_or(&mut []), (r0 + r) * d_in + k0, None);
                        }
                        let w_chunk = w.get(k0 * NR..(k0 + kc) * NR).unwrap_or(&[]);
                        tile(w_chunk, &buf, KC, 0, kc, n, &mut acc);
                    }
                }
            }
            let col0 = panel * NR;
            let cols = NR.min(d_out - col0);
            for (r, acc_row) in acc.iter().take(n).enumerate() {
                y.store((r0 + r) * d_out + col0, acc_row.get(..cols).unwrap_or(&[]));
            }
        }
    }
}

/// `acc[r] += sum_{k < kc} x[r * x_stride + x_off + k] * w[k]` for `r < rows`.
#[inline(never)]
fn tile<W: WeightElem>(
    w: &[W],
    x: &[f32],
    x_stride: usize,
    x_off: usize,
    kc: usize,
    rows: usize,
    acc: &mut Tile,
) {
    for (k, w_row) in w.chunks_exact(NR).take(kc).enumerate() {
        let mut wf = [0f32; NR];
        for (d, s) in wf.iter_mut().zip(w_row) {
            *d = s.widen();
        }
        for (r, acc_row) in acc.iter_mut().take(rows).enumerate() {
            let xv = x.get(r * x_stride + x_off + k).copied().unwrap_or(0.0);
            for (a, wv) in acc_row.iter_mut().zip(wf) {
                *a += xv * wv;
            }
        }
    }
}
