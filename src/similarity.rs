//! Similarity helpers for aligned embeddings: L2 normalisation, cosine similarity matrices and
//! the triplet odd-one-out decision gLocal is evaluated with.
//!
//! `no_std`, no allocation, no panic: every function works on the caller's buffers and reports
//! a length mismatch as an [`Error`]. Arithmetic is f32 with eight independent partial sums per
//! dot product (so the compiler can vectorise it and the rounding error grows like `sqrt(d)`,
//! not `d`); the tests hold it to numpy's float64 results within a few f32 ulps.
//!
//! ## Conventions
//! - Embeddings are rows of `d` f32 values, row-major, as [`Transform::apply`](crate::Transform::apply)
//!   writes them.
//! - A **zero vector** has no direction: [`l2_normalize_rows`] leaves it zero, and its cosine
//!   similarity with anything (itself included) is defined as `0.0` (as scikit-learn's
//!   `cosine_similarity` does), never NaN.
//! - A NaN or infinite component makes the row's normalisation all NaN and its cosine
//!   similarities NaN; [`odd_one_out`] then returns [`Error::NotANumber`].
//!
//! ```
//! use glocal::similarity::{cosine_matrix, l2_normalize_rows, odd_one_out};
//! let mut x = [3.0f32, 4.0, 0.0, 0.0, 0.0, 2.0];
//! assert_eq!(l2_normalize_rows(&mut x, 2).unwrap(), 3);
//! assert_eq!(x, [0.6, 0.8, 0.0, 0.0, 0.0, 1.0]);
//!
//! let rows = [1.0f32, 0.0, 0.0, 1.0, 1.0, 1.0];
//! let mut s = [f32::NAN; 9];
//! cosine_matrix(&rows, &rows, 2, &mut s).unwrap();
//! assert!((s[1 * 3 + 2] - core::f32::consts::FRAC_1_SQRT_2).abs() < 1e-7);
//!
//! // (1,0) and (0.9,0.1) are the most similar pair, so (0,1) is the odd one out.
//! assert_eq!(odd_one_out(&[1.0, 0.0], &[0.0, 1.0], &[0.9, 0.1]).unwrap(), 1);
//! ```

use crate::dtype::Element;
use crate::error::Error;

/// Independent partial sums per dot product.
const LANES: usize = 8;

/// `(sum a*b, sum a*a, sum b*b)` in f32 with [`LANES`] partial sums each.
#[inline]
fn dot3(a: &[f32], b: &[f32]) -> (f32, f32, f32) {
    let mut ab = [0f32; LANES];
    let mut aa = [0f32; LANES];
    let mut bb = [0f32; LANES];
    let (ca, cb) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    // Lane l accumulates elements l, l + LANES, ...: whole chunks first, then the remainder.
    let accumulate =
        |x: &[f32], y: &[f32], ab: &mut [f32; LANES], aa: &mut [f32; LANES], bb: &mut [f32; LANES]| {
            let lanes = ab.iter_mut().zip(aa.iter_mut()).zip(bb.iter_mut());
            for (((ab, aa), bb), (&x, &y)) in lanes.zip(x.iter().zip(y)) {
                *ab += x * y;
                *aa += x * x;
                *bb += y * y;
            }
        };
    for (x, y) in ca.zip(cb) {
        accumulate(x, y, &mut ab, &mut aa, &mut bb);
    }
    accumulate(ra, rb, &mut ab, &mut aa, &mut bb);
    (hsum(&ab), hsum(&aa), hsum(&bb))
}

/// Sum of squares of `a` (widened to f32) with [`LANES`] partial sums.
#[inline]
fn sum_sq<E: Element>(a: &[E]) -> f32 {
    let mut s = [0f32; LANES];
    let c = a.chunks_exact(LANES);
    let r = c.remainder();
    for x in c.chain(core::iter::once(r)) {
        for (s, v) in s.iter_mut().zip(x) {
            let v = v.to_f32();
            *s += v * v;
        }
    }
    hsum(&s)
}

/// Pairwise horizontal sum (fixed order: results do not depend on the target).
#[inline]
fn hsum(s: &[f32; LANES]) -> f32 {
    ((s[0] + s[4]) + (s[1] + s[5])) + ((s[2] + s[6]) + (s[3] + s[7]))
}

/// `(m, s)` with `m = max |v_i|` and `s = sqrt(sum (v_i / m)^2)`, so `|v| = m * s` without
/// overflow or underflow. `(NaN, NaN)` if a component is NaN or infinite; `(0, 0)` for zeros.
fn scaled_norm<E: Element>(v: &[E]) -> (f32, f32) {
    let m = v.iter().map(|x| x.to_f32().abs()).fold(0f32, |m, a| if a > m || a.is_nan() { a } else { m });
    if !m.is_finite() {
        return (f32::NAN, f32::NAN);
    }
    if m == 0.0 {
        return (0.0, 0.0);
    }
    let mut t = [0f32; LANES];
    for (i, x) in v.iter().enumerate() {
        let q = x.to_f32() / m;
        if let Some(t) = t.get_mut(i % LANES) {
            *t += q * q;
        }
    }
    (m, libm::sqrtf(hsum(&t)))
}

/// The L2 norm of `v`, without spurious underflow: when the plain sum of squares leaves the
/// normal f32 range the vector is rescaled by its largest magnitude first. NaN if a component
/// is NaN or infinite; `+inf` only when the norm itself exceeds `f32::MAX`.
pub fn l2_norm(v: &[f32]) -> f32 {
    let s = sum_sq(v);
    if s.is_finite() && s >= f32::MIN_POSITIVE {
        return libm::sqrtf(s);
    }
    let (m, s) = scaled_norm(v);
    m * s
}

/// Divides `row` by its L2 norm in place. A zero row stays zero; a row with a NaN or infinite
/// component becomes all NaN. Each element is divided (not multiplied by a reciprocal), so
/// the result is correctly rounded given the norm (rows whose norm leaves the normal f32 range
/// are divided by their largest magnitude first, then by the rescaled norm).
#[inline]
pub fn l2_normalize(row: &mut [f32]) {
    l2_normalize_elems(row)
}

/// [`l2_normalize`] for any output element: the norm is taken from the stored values widened
/// to f32 and each quotient is rounded once back to `E` (for f16/bf16 rows that is the
/// normalisation of the already rounded row: at most one extra rounding of `E`).
#[inline]
pub(crate) fn l2_normalize_elems<E: Element>(row: &mut [E]) {
    let s = sum_sq(row);
    if s.is_finite() && s >= f32::MIN_POSITIVE {
        let n = libm::sqrtf(s);
        for v in row.iter_mut() {
            *v = E::from_f32(v.to_f32() / n);
        }
        return;
    }
    let (m, n) = scaled_norm(row);
    if m == 0.0 {
        return;
    }
    for v in row.iter_mut() {
        *v = E::from_f32(if m.is_nan() { f32::NAN } else { (v.to_f32() / m) / n });
    }
}

/// Scales every row of `x` (`rows * d` values) to unit L2 norm in place; see [`l2_normalize`]
/// for zero and non-finite rows. Returns the number of rows.
///
/// # Errors
/// [`Error::InputLength`] when `x` is empty, `d == 0`, or `x.len()` is not a multiple of `d`
/// (then `x` is untouched).
pub fn l2_normalize_rows(x: &mut [f32], d: usize) -> Result<usize, Error> {
    if d == 0 || x.is_empty() || !x.len().is_multiple_of(d) {
        return Err(Error::InputLength { found: x.len(), d_in: d });
    }
    for row in x.chunks_exact_mut(d) {
        l2_normalize(row);
    }
    Ok(x.len() / d)
}

/// Cosine similarity of two vectors of equal length: `a.b / (|a| |b|)`, clamped to `[-1, 1]`;
/// `0.0` when either is a zero vector; NaN when either has a NaN or infinite component.
///
/// # Errors
/// [`Error::InputLength`] when the lengths differ or are zero.
pub fn cosine(a: &[f32], b: &[f32]) -> Result<f32, Error> {
    if a.is_empty() || a.len() != b.len() {
        return Err(Error::InputLength { found: b.len(), d_in: a.len() });
    }
    Ok(cosine_unchecked(a, b))
}

#[inline]
fn cosine_unchecked(a: &[f32], b: &[f32]) -> f32 {
    let (ab, aa, bb) = dot3(a, b);
    if ab.is_finite()
        && aa.is_finite()
        && bb.is_finite()
        && aa >= f32::MIN_POSITIVE
        && bb >= f32::MIN_POSITIVE
    {
        // sqrt(aa) * sqrt(bb) rather than sqrt(aa * bb): no overflow of the product.
        return (ab / (libm::sqrtf(aa) * libm::sqrtf(bb))).clamp(-1.0, 1.0);
    }
    // Rare: out of the normal range (huge, tiny, zero or non-finite vectors). Scale-invariant
    // recomputation: each vector divided by its largest magnitude.
    let ((ma, sa), (mb, sb)) = (scaled_norm(a), scaled_norm(b));
    if ma.is_nan() || mb.is_nan() {
        return f32::NAN;
    }
    if ma == 0.0 || mb == 0.0 {
        return 0.0;
    }
    let mut s = [0f32; LANES];
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        if let Some(s) = s.get_mut(i % LANES) {
            *s += (x / ma) * (y / mb);
        }
    }
    (hsum(&s) / (sa * sb)).clamp(-1.0, 1.0)
}

/// The cosine similarity matrix of the rows of `a` (`n_a x d`) against the rows of `b`
/// (`n_b x d`): `out[i * n_b + j] = cosine(a_i, b_j)`. Pass the same slice twice for the
/// symmetric `n x n` matrix of one set. Returns `(n_a, n_b)`.
///
/// Cost `3 * n_a * n_b * d` multiply-adds (norms are recomputed per pair: no scratch memory);
/// for large sets normalise once with [`l2_normalize_rows`] and use a GEMM.
///
/// # Errors
/// [`Error::InputLength`] when `d == 0` or `a` or `b` is empty or not a multiple of `d`;
/// [`Error::OutputLength`] when `out.len() != n_a * n_b`. On error `out` is untouched.
pub fn cosine_matrix(a: &[f32], b: &[f32], d: usize, out: &mut [f32]) -> Result<(usize, usize), Error> {
    for x in [a, b] {
        if d == 0 || x.is_empty() || x.len() % d != 0 {
            return Err(Error::InputLength { found: x.len(), d_in: d });
        }
    }
    let (na, nb) = (a.len() / d, b.len() / d);
    let expected =
        na.checked_mul(nb).ok_or(Error::OutputLength { found: out.len(), expected: usize::MAX })?;
    if out.len() != expected {
        return Err(Error::OutputLength { found: out.len(), expected });
    }
    for (ra, out_row) in a.chunks_exact(d).zip(out.chunks_exact_mut(nb)) {
        for (rb, o) in b.chunks_exact(d).zip(out_row.iter_mut()) {
            *o = cosine_unchecked(ra, rb);
        }
    }
    Ok((na, nb))
}

/// The odd one out of a triplet given its three pairwise similarities: the item outside the
/// most similar pair. Returns 0, 1 or 2.
///
/// **Ties** are broken by pair order `(0,1)`, `(0,2)`, `(1,2)`: the first pair with the
/// largest similarity wins, as `numpy.argmax([s01, s02, s12])` does; so with all three equal
/// the answer is 2.
///
/// # Errors
/// [`Error::NotANumber`] when a similarity is NaN (the decision is undefined).
pub fn odd_one_out_from_similarities(s01: f32, s02: f32, s12: f32) -> Result<usize, Error> {
    for (pair, s) in [("similarity (0, 1)", s01), ("similarity (0, 2)", s02), ("similarity (1, 2)", s12)] {
        if s.is_nan() {
            return Err(Error::NotANumber { what: pair });
        }
    }
    // Strict comparisons keep the earlier pair on ties.
    let mut best = (s01, 2);
    if s02 > best.0 {
        best = (s02, 1);
    }
    if s12 > best.0 {
        best = (s12, 0);
    }
    Ok(best.1)
}

/// The odd one out of three embeddings by cosine similarity (the triplet task gLocal is
/// evaluated on): the item outside the most similar pair, ties broken as in
/// [`odd_one_out_from_similarities`]. Returns 0 (`a`), 1 (`b`) or 2 (`c`).
///
/// # Errors
/// [`Error::InputLength`] when the lengths differ or are zero; [`Error::NotANumber`] when a
/// similarity is NaN (an input had a NaN or infinite component).
pub fn odd_one_out(a: &[f32], b: &[f32], c: &[f32]) -> Result<usize, Error> {
    for x in [b, c] {
        if a.is_empty() || x.len() != a.len() {
            return Err(Error::InputLength { found: x.len(), d_in: a.len() });
        }
    }
    odd_one_out_from_similarities(cosine_unchecked(a, b), cosine_unchecked(a, c), cosine_unchecked(b, c))
}
