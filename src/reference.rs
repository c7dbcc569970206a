//! The f64 oracle: thingsvision's formula evaluated exactly as written, in f64.
//!
//! Used by the tests, the fuzzers and the benchmarks to judge every kernel; never on a hot path.

#![forbid(unsafe_code)]

/// `y = ((x - mean) / std) @ w + bias`, all in f64.
///
/// `x` is `[rows, d_in]`, `w` is `[d_in, d_out]` row-major as stored in the `.npz`
/// (so `y[j] = sum_i x[i] * w[i][j]`), `bias` is `[d_out]` or absent, `y` is `[rows, d_out]`.
/// Rows are inferred from `x.len() / d_in`; mismatched lengths compute what fits.
// One argument per term of the formula keeps call sites readable next to thingsvision's line.
#[allow(clippy::too_many_arguments)]
pub fn affine_f64(
    x: &[f32],
    w: &[f32],
    bias: Option<&[f32]>,
    mean: f64,
    std: f64,
    d_in: usize,
    d_out: usize,
    y: &mut [f64],
) {
    if d_in == 0 || d_out == 0 {
        return;
    }
    // A short `w` or `bias` would read as zeros: a broken test, not a reference.
    debug_assert!(w.len() >= d_in * d_out, "w has {} values, d_in x d_out = {}", w.len(), d_in * d_out);
    debug_assert!(bias.is_none_or(|b| b.len() >= d_out), "bias shorter than d_out = {d_out}");
    for (x_row, y_row) in x.chunks_exact(d_in).zip(y.chunks_exact_mut(d_out)) {
        for (j, out) in y_row.iter_mut().enumerate() {
            let mut acc = 0.0f64;
            for (i, &xi) in x_row.iter().enumerate() {
                let wij = w.get(i * d_out + j).copied().unwrap_or(0.0);
                acc += ((xi as f64 - mean) / std) * wij as f64;
            }
            *out = acc + bias.and_then(|b| b.get(j)).map_or(0.0, |&b| b as f64);
        }
    }
}
