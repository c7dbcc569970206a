//! Rounding the folded f64 weights to the 16-bit storage dtypes: once, to nearest even.

use half::{bf16, f16};

use crate::dtype;

/// `v` rounded to f32 *to odd*: toward zero, then the last significand bit set if anything was
/// lost. Rounding that f32 to nearest-even in a format with at least two fewer significand bits
/// (f16: 11, bf16: 8, against 24) gives `v` correctly rounded to nearest-even, as if rounded
/// once (Boldo and Melquiond, "Emulation of FMA and correctly rounded sums: proved algorithms
/// using rounding to odd", IEEE TC 2008); the f32 grid is also at least two bits finer than
/// theirs in the subnormal ranges. A plain `v as f32` first would round twice, and half's f64
/// conversions either do that (its F16C path) or drop the low 32 bits of `v` before rounding
/// (its software paths, both dtypes): on the nine published transforms, 11-65 weights per
/// transform (one in 10,000 to 23,000) came out one unit in the last place off. Infinity (also
/// for finite `v` beyond f32) and NaN pass through.
fn f32_round_odd(v: f64) -> f32 {
    let r = v as f32;
    if !r.is_finite() || f64::from(r) == v {
        return r;
    }
    // Inexact: step back toward zero if rounding went away from it (|r| > |v| >= 0, so the
    // magnitude bits are not zero), then mark the loss in the last bit.
    let bits = if f64::from(r).abs() > v.abs() { r.to_bits() - 1 } else { r.to_bits() };
    f32::from_bits(bits | 1)
}

/// `v` rounded to nearest-even f16, once ([`f32_round_odd`]).
pub(crate) fn f16_from_f64(v: f64) -> f16 {
    dtype::f16_from_f32(f32_round_odd(v))
}

/// `v` rounded to nearest-even bf16, once ([`f32_round_odd`]).
pub(crate) fn bf16_from_f64(v: f64) -> bf16 {
    bf16::from_f32(f32_round_odd(v))
}
