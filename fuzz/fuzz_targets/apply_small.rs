//! Arbitrary small transforms (finite values), packed with `glocal::pack::pack` in every
//! weight dtype, applied to arbitrary inputs with f32/f16/bf16 inputs and outputs, and
//! compared with the f64 oracle `glocal::reference::affine_f64` within a tolerance derived
//! from the magnitudes involved (an a-priori bound, not a fudge factor).

#![no_main]

use arbitrary::{Arbitrary, Unstructured};
use glocal::pack::{self, PackError, Source};
use glocal::{bf16, f16, Element, Transform, WeightDtype};
use libfuzzer_sys::fuzz_target;

/// Unit roundoff (half an ulp at 1) of each type.
const U32: f64 = 1.0 / (1u64 << 24) as f64;
const U16: f64 = 1.0 / (1u64 << 11) as f64;
const UBF: f64 = 1.0 / (1u64 << 8) as f64;

#[derive(Debug)]
struct Case {
    d_in: usize,
    d_out: usize,
    rows: usize,
    dtype: WeightDtype,
    in_ty: u8,
    out_ty: u8,
    weights: Vec<f32>,
    bias: Option<Vec<f32>>,
    mean: f32,
    std: f32,
    x: Vec<f32>,
}

/// A finite f32: either a raw bit pattern (any exponent) or a small integer scaled by a power
/// of two (the well-conditioned regime), chosen by the fuzzer.
fn value(u: &mut Unstructured<'_>, scale: i32) -> arbitrary::Result<f32> {
    Ok(if u.ratio(1, 8)? {
        let v = f32::from_bits(u.arbitrary()?);
        if v.is_finite() {
            v
        } else {
            0.0
        }
    } else {
        i16::arbitrary(u)? as f32 * (scale as f32).exp2()
    })
}

fn values(u: &mut Unstructured<'_>, n: usize, scale: i32) -> arbitrary::Result<Vec<f32>> {
    (0..n).map(|_| value(u, scale)).collect()
}

impl<'a> Arbitrary<'a> for Case {
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Self> {
        let d_in = u.int_in_range(1..=40)?;
        let d_out = u.int_in_range(1..=40)?;
        let rows = u.int_in_range(1..=6)?;
        // The dtypes whose stored weights round each value once (relative error bound below);
        // lossy i8d has its own error model and oracle tests (tests/i8d.rs).
        let dtype = *u.choose(&[WeightDtype::F32, WeightDtype::F16, WeightDtype::Bf16])?;
        let (in_ty, out_ty) = (u.int_in_range(0..=2)?, u.int_in_range(0..=2)?);
        let wscale = u.int_in_range(-20..=0)?;
        let xscale = u.int_in_range(-16..=0)?;
        let weights = values(u, d_in * d_out, wscale)?;
        let bias = if u.arbitrary()? { Some(values(u, d_out, wscale)?) } else { None };
        let x = values(u, rows * d_in, xscale)?;
        let mean = value(u, xscale)?;
        let std = value(u, -8)?.abs();
        let std = if std > 0.0 { std } else { 1.0 };
        Ok(Case { d_in, d_out, rows, dtype, in_ty, out_ty, weights, bias, mean, std, x })
    }
}

fuzz_target!(|case: Case| {
    let source = Source {
        d_in: case.d_in,
        d_out: case.d_out,
        weights: case.weights.iter().map(|&v| v as f64).collect(),
        bias: case.bias.as_ref().map(|b| b.iter().map(|&v| v as f64).collect()),
        mean: case.mean as f64,
        std: case.std as f64,
    };
    let blob = match pack::pack(&source, case.dtype, "fuzz", "apply_small") {
        Ok(blob) => blob,
        // Legitimate only when a folded value really does not fit the storage type.
        Err(PackError::Overflow { value, dtype, .. }) => {
            let max = if dtype == WeightDtype::F16 { 65504.0 } else { f32::MAX as f64 };
            assert!(value.abs() > max * 0.99, "spurious overflow {value} for {dtype}");
            return;
        }
        Err(PackError::BiasOverflow { value, .. }) => {
            assert!(value.abs() > f32::MAX as f64 * 0.99, "spurious bias overflow {value}");
            return;
        }
        Err(e) => panic!("pack rejected a valid source: {e}"),
    };
    let t = Transform::new(blob.as_bytes()).expect("a packed blob must validate");
    match case.in_ty {
        0 => run::<f32>(&t, &case, &source),
        1 => run::<f16>(&t, &case, &source),
        _ => run::<bf16>(&t, &case, &source),
    }
});

fn run<I: Element>(t: &Transform<'_>, case: &Case, source: &Source) {
    // Inputs are values of I: round them once here, and give the oracle the same values.
    let x: Vec<I> = case.x.iter().map(|&v| I::from_f32(v)).collect();
    match case.out_ty {
        0 => check::<I, f32>(t, case, source, &x, U32, 0.0, f32::MAX as f64),
        1 => check::<I, f16>(t, case, source, &x, U16, 2f64.powi(-25), 65504.0),
        _ => check::<I, bf16>(t, case, source, &x, UBF, 2f64.powi(-134), f32::MAX as f64),
    }
}

fn check<I: Element, O: Element>(
    t: &Transform<'_>,
    case: &Case,
    source: &Source,
    x: &[I],
    u_out: f64,
    abs_out: f64,
    max_out: f64,
) {
    let (d_in, d_out, rows) = (case.d_in, case.d_out, case.rows);
    let xf: Vec<f32> = x.iter().map(|v| v.to_f32()).collect();
    let mut y = vec![O::from_f32(f32::NAN); rows * d_out];
    assert_eq!(t.apply(x, &mut y), Ok(rows));

    let mut reference = vec![f64::NAN; rows * d_out];
    let bias32 = case.bias.as_deref();
    glocal::reference::affine_f64(
        &xf,
        &case.weights,
        bias32,
        source.mean,
        source.std,
        d_in,
        d_out,
        &mut reference,
    );

    // Storage rounding of the folded weights: relative u_w, plus half the smallest subnormal.
    let (u_w, abs_w) = match case.dtype {
        WeightDtype::F32 => (U32, 2f64.powi(-150)),
        WeightDtype::F16 => (U16, 2f64.powi(-25)),
        _ => (UBF, 2f64.powi(-134)),
    };
    let (folded, folded_bias) = source.fold();
    let n = d_in as f64;
    for r in 0..rows {
        for j in 0..d_out {
            let want = reference[r * d_out + j];
            let got = y[r * d_out + j].to_f32() as f64;
            // Sum of |terms| the kernel adds (stored weights are within u_w of the folded ones).
            let mut terms = folded_bias[j].abs();
            let mut w_err = U32 * folded_bias[j].abs() + 2f64.powi(-150);
            // The oracle's own f64 evaluation error, relative to its term magnitudes.
            let mut oracle_mag = source.bias.as_ref().map_or(0.0, |b| b[j].abs());
            for k in 0..d_in {
                let xk = xf[r * d_in + k] as f64;
                let w = folded[k * d_out + j];
                terms += (xk * w).abs() * (1.0 + u_w);
                w_err += xk.abs() * (u_w * w.abs() + abs_w);
                oracle_mag +=
                    ((xk.abs() + source.mean.abs()) / source.std + 1.0) * source.weights[k * d_out + j].abs();
            }
            let accumulate = (n + 2.0) * U32 * terms + (n + 2.0) * 2f64.powi(-149);
            let tol_f32 = w_err + accumulate + (n + 8.0) * f64::EPSILON * oracle_mag;
            let tol = tol_f32 + u_out * (want.abs() + tol_f32) + abs_out;
            if !(terms.is_finite() && want.is_finite()) || terms > 1e36 || want.abs() + tol > max_out {
                // An input that rounded to infinity (f16 inputs), or results near the top of the
                // output range: only the overflow behaviour is defined, not a value to compare.
                continue;
            }
            assert!(
                (got - want).abs() <= tol,
                "row {r} col {j}: got {got:e}, oracle {want:e}, |diff| {:e} > tol {tol:e}; \
                 kernel {}, d_in {d_in}, d_out {d_out}, rows {rows}, in {}, out {}",
                (got - want).abs(),
                t.kernel().name,
                core::any::type_name::<I>(),
                core::any::type_name::<O>(),
            );
        }
    }
}
