//! The portable scalar kernel: compiled on every target, the exact reference for the SIMD
//! kernels on integer-valued inputs, and the fallback everywhere.
//!
//! Register tile `MR x NR` of f32 accumulators started from the bias; plain `a + x * w`
//! (not fused), so results match on every target whether or not it has an FMA unit.
//! Stack use is bounded (a tile plus one `MR x KC` input chunk, under 1 KiB), whatever the dims.

#![forbid(unsafe_code)]
#![cfg_attr(not(test), deny(clippy::indexing_slicing))]

use super::{Panels, WeightElem, NR};
use crate::dtype::Element;

/// Rows per register tile.
pub const MR: usize = 4;
/// Input elements converted per chunk when inputs are f16 or bf16.
const KC: usize = 32;

type Tile = [[f32; NR]; MR];

/// `y = x @ W + bias` for all rows, one `MR`-row block and one panel at a time.
#[inline(never)]
pub(crate) fn apply<W: WeightElem, I: Element, O: Element>(p: &Panels<'_, W>, x: &[I], y: &mut [O]) {
    let (d_in, d_out) = (p.d_in, p.d_out);
    for (x_block, y_block) in x.chunks(MR * d_in).zip(y.chunks_mut(MR * d_out)) {
        let rows = x_block.len() / d_in;
        for (panel, (bias, w)) in p.iter().enumerate() {
            let mut acc: Tile = [*bias; MR];
            match I::as_f32_slice(x_block) {
                // f32 inputs are read in place, the whole depth in one pass.
                Some(xf) => tile(w, xf, d_in, 0, d_in, rows, &mut acc),
                // 16-bit inputs are widened one chunk at a time into a small stack buffer.
                None => {
                    let mut buf = [0f32; MR * KC];
                    for k0 in (0..d_in).step_by(KC) {
                        let kc = KC.min(d_in - k0);
                        for (r, dst) in buf.chunks_exact_mut(KC).take(rows).enumerate() {
                            let src = x_block.iter().skip(r * d_in + k0).take(kc);
                            for (d, s) in dst.iter_mut().zip(src) {
                                *d = s.to_f32();
                            }
                        }
                        let w_chunk = w.get(k0 * NR..(k0 + kc) * NR).unwrap_or(&[]);
                        tile(w_chunk, &buf, KC, 0, kc, rows, &mut acc);
                    }
                }
            }
            store(&acc, rows, panel * NR, d_out, y_block);
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

/// Writes the valid columns of a tile (`col0 .. min(col0 + NR, d_out)`) for `rows` rows.
#[inline]
fn store<O: Element>(acc: &Tile, rows: usize, col0: usize, d_out: usize, y: &mut [O]) {
    let cols = NR.min(d_out - col0);
    for (acc_row, y_row) in acc.iter().take(rows).zip(y.chunks_mut(d_out)) {
        if let Some(dst) = y_row.get_mut(col0..col0 + cols) {
            for (d, &a) in dst.iter_mut().zip(acc_row) {
                *d = O::from_f32(a);
            }
        }
    }
}
