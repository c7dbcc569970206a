//! The one single-row driver: every SIMD kernel's batch-1 path, generic over a [`Streamer`].
//!
//! A single row reads every weight exactly once, so it is bound by how fast the weights stream
//! in and are widened, not by FMA throughput. The driver takes the panels in groups (the ISA
//! chooses the group size per weight dtype), starts each panel's accumulators from
//! its bias, streams the whole depth with `k` in order (one FMA chain per accumulator, so a row
//! gives the same bits alone as in a batch), then adds the `i8d` diagonal term and stores the
//! panel. The depth goes in chunks: f32 inputs are read in place, 16-bit inputs widened and
//! `i8d` inputs scaled into a stack buffer. Each ISA instantiates [`gemv`] inside a function that
//! enables its target features.

#![allow(unsafe_code)]

use crate::kernel::io::{InputRows, OutputRows};
use crate::kernel::tiling::{add_diag, I8dAux};
use crate::kernel::{Panels, WeightElem, NR};

/// Inputs per chunk of the depth (widened with f16/bf16 inputs or `i8d` scales; read in place
/// otherwise): the whole depth of most transforms in one call of the stream.
const XC: usize = 1024;

/// One ISA's streamer, as [`gemv`] drives it: the accumulators of one panel (`Acc`, in the
/// streamer's column order), and the stream over `kc` rows of a group of panels.
pub(crate) trait Streamer {
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

/// A single row: every panel, `G` at a time (the ISA chooses `G` per weight dtype, and `H`,
/// at most `G`, for the rest). The last panels, fewer than `G`, go as one group of `H` or `G`
/// that overlaps the group before it: its earlier panels are computed again, bit for bit as
/// before, and stored again (with fewer than `G` panels in all, groups of `H` cover them the
/// same way). Fewer panels than `H` go one at a time. So each ISA and dtype
/// compiles three group sizes, not one per remainder. With `aux` (i8d), the input is scaled and
/// the diagonal term added.
///
/// Always inlined into a function that enables `S`'s target features.
///
/// # Safety
/// `S`'s features present; `panels_in_bounds(p)`, `x.len() == d_in`, `y.len() == d_out`; with
/// `aux`, `d_in` scales and `count * NR` diagonal values.
#[inline(always)]
pub(crate) unsafe fn gemv<S: Streamer, W: WeightElem, const G: usize, const H: usize>(
    p: &Panels<'_, W>,
    aux: Option<I8dAux<'_>>,
    x: InputRows<'_>,
    y: &mut OutputRows<'_>,
) {
    const { assert!(1 <= H && H <= G) };
    debug_assert!(x.len() == p.d_in && y.len() == p.d_out, "gemv: lengths");
    // f32 inputs are read in place; others are widened (or i8d inputs scaled) a chunk at a time
    // into one buffer for the whole row, zeroed only when it is needed.
    let in_place = if aux.is_none() { x.as_f32() } else { None };
    let mut storage = in_place.is_none().then_some([0f32; XC]);
    let buf = &mut storage;
    let count = p.count();
    let mut q = 0;
    // SAFETY: every group below covers panels that exist (q + G, q + H or q + 1 <= count, and
    // count - G, count - H >= 0 where used); the rest is the caller's contract.
    unsafe {
        while q + G <= count {
            group::<S, W, G>(p, aux, q, x, y, in_place, buf);
            q += G;
        }
        if count - q > H && count >= G {
            group::<S, W, G>(p, aux, count - G, x, y, in_place, buf);
        } else if count >= H {
            while q + H <= count {
                group::<S, W, H>(p, aux, q, x, y, in_place, buf);
                q += H;
            }
            if q < count {
                group::<S, W, H>(p, aux, count - H, x, y, in_place, buf);
            }
        } else {
            for q in q..count {
                group::<S, W, 1>(p, aux, q, x, y, in_place, buf);
            }
        }
    }
}

/// Panels `q0 .. q0 + P` of a single row.
///
/// # Safety
/// As [`gemv`], and panels `q0 .. q0 + P` exist.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
unsafe fn group<S: Streamer, W: WeightElem, const P: usize>(
    p: &Panels<'_, W>,
    aux: Option<I8dAux<'_>>,
    q0: usize,
    x: InputRows<'_>,
    y: &mut OutputRows<'_>,
    in_place: Option<&[f32]>,
    buf: &mut Option<[f32; XC]>,
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
    // One chunk of the depth at a time, read in place or from `buf`. One call site of the
    // stream, so one copy of it.
    for k0 in (0..d_in).step_by(XC) {
        let kc = XC.min(d_in - k0);
        let xp = match (in_place, buf.as_mut()) {
            (Some(xf), _) => xf.get(k0..).unwrap_or(&[]).as_ptr(),
            (None, Some(b)) => {
                let scales = aux.map(|a| a.scales.get(k0..k0 + kc).unwrap_or(&[]));
                x.widen_into(b.get_mut(..kc).unwrap_or(&mut []), k0, scales);
                b.as_ptr()
            }
            (None, None) => {
                debug_assert!(false, "gemv: no input buffer for widened inputs");
                return;
            }
        };
        // SAFETY: kc >= 1 values readable at xp (x holds d_in values, buf XC >= kc); rows
        // k0 .. k0 + kc < d_in exist in each of the P panels.
        unsafe { S::stream::<W, P>(w.add(k0 * NR), p.stride, xp, kc, &mut acc) }
    }
    for (g, a) in acc.into_iter().enumerate() {
        // SAFETY: S's features (the caller's contract).
        let mut t = unsafe { S::to_row::<W>(a) };
        let col0 = (q0 + g) * NR;
        add_diag(&mut t, aux, x, 0, col0, d_in, p.d_out);
        y.store_panel(col0, &t, NR.min(p.d_out - col0));
    }
}
