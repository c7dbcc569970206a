//! The single-row driver shared by the x86_64 streamers (AVX2 in ymm registers, AVX-512 in
//! zmm registers): a group of `P` panels streamed at once, from the bias, with 16-bit inputs
//! widened and `i8d` inputs scaled a chunk at a time, and the `i8d` diagonal term added
//! before the store. Each ISA chooses its group sizes and instantiates [`group`] inside a
//! function that enables its target features.

#![allow(unsafe_code)]

use crate::dtype::Element;
use crate::kernel::tiling::{add_diag, store_row, widen_x, I8dAux};
use crate::kernel::{Panels, WeightElem, NR};

/// Input elements widened per chunk with f16/bf16 inputs or `i8d` scales.
const XC: usize = 256;

/// One ISA's streamer, as [`group`] drives it: the accumulators of one panel (`Acc`, in the
/// streamer's column order), and the stream over `kc` rows.
pub(super) trait Streamer {
    /// The `NR` accumulators of one panel.
    type Acc: Copy;

    /// The accumulators of a panel started from its `NR` bias values at `b`.
    ///
    /// # Safety
    /// The ISA's features present; `NR` f32 readable at `b`.
    unsafe fn from_bias<W: WeightElem>(b: *const f32) -> Self::Acc;

    /// `acc[g] += x[k] * W_g[k]` for `k < kc` in the order of `k`, for the `P` panels
    /// `W_g = w + g * stride`.
    ///
    /// # Safety
    /// The ISA's features present; `kc >= 1` values readable at `x`; `kc` rows of `NR` weights
    /// readable at `w + g * stride` for `g < P`.
    unsafe fn stream<W: WeightElem, const P: usize>(
        w: *const W,
        stride: usize,
        x: *const f32,
        kc: usize,
        acc: &mut [Self::Acc; P],
    );

    /// The `NR` sums of a panel, in column order.
    ///
    /// # Safety
    /// The ISA's features present.
    unsafe fn to_row<W: WeightElem>(acc: Self::Acc) -> [f32; NR];
}

/// Panels `q0 .. q0 + P` of a single row. With `aux` (i8d), the input is scaled and the
/// diagonal term added.
///
/// Always inlined into a function that enables `S`'s target features.
///
/// # Safety
/// `S`'s features present; `panels_in_bounds(p)`, `x.len() == d_in`, `y.len() == d_out`;
/// panels `q0 .. q0 + P` exist; with `aux`, `d_in` scales and `count * NR` diagonal values.
#[inline(always)]
pub(super) unsafe fn group<S: Streamer, W: WeightElem, I: Element, O: Element, const P: usize>(
    p: &Panels<'_, W>,
    aux: Option<I8dAux<'_>>,
    q0: usize,
    x: &[I],
    y: &mut [O],
) {
    let d_in = p.d_in;
    // SAFETY: panel q0 starts at q0 * stride inside `weights` and `bias` holds NR values for
    // each of the P panels (panels_in_bounds); S's features (the caller's contract).
    let (w, mut acc) = unsafe {
        let w = p.weights.as_ptr().add(q0 * p.stride);
        let acc: [S::Acc; P] =
            core::array::from_fn(|g| S::from_bias::<W>(p.bias.as_ptr().add((q0 + g) * NR)));
        (w, acc)
    };
    match (I::as_f32_slice(x), aux) {
        // SAFETY: x holds d_in f32 values; each of the P panels holds d_in rows of NR weights.
        (Some(xf), None) => unsafe { S::stream::<W, P>(w, p.stride, xf.as_ptr(), d_in, &mut acc) },
        // 16-bit inputs are widened, i8d inputs scaled, one chunk at a time.
        _ => {
            let mut buf = [0f32; XC];
            for k0 in (0..d_in).step_by(XC) {
                let kc = XC.min(d_in - k0);
                let scales = aux.map(|a| a.scales.get(k0..).unwrap_or(&[]));
                widen_x(&mut buf, x.get(k0..k0 + kc).unwrap_or(&[]), scales);
                // SAFETY: buf holds kc >= 1 values (XC >= kc); rows k0 .. k0 + kc < d_in exist
                // in each of the P panels.
                unsafe { S::stream::<W, P>(w.add(k0 * NR), p.stride, buf.as_ptr(), kc, &mut acc) }
            }
        }
    }
    for (g, a) in acc.into_iter().enumerate() {
        // SAFETY: S's features (the caller's contract).
        let mut t = unsafe { S::to_row::<W>(a) };
        add_diag(&mut t, aux, x, (q0 + g) * NR, p.d_out);
        store_row(&t, y, (q0 + g) * NR);
    }
}
