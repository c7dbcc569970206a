//! Property tests: random shapes, values and dtypes against the f64 oracle, for every kernel
//! this CPU can run.

mod common;

use glocal::kernel::{Isa, KERNELS};
use glocal::pack::{self, Source};
use glocal::reference::affine_f64;
use glocal::{bf16, f16, Transform, WeightDtype};
use proptest::prelude::*;

fn source_strategy() -> impl Strategy<Value = Source> {
    (1usize..80, 1usize..80, any::<bool>(), -2.0f64..2.0, 0.05f64..4.0).prop_flat_map(
        |(d_in, d_out, has_bias, mean, std)| {
            (
                proptest::collection::vec(-1.0f64..1.0, d_in * d_out),
                proptest::collection::vec(-1.0f64..1.0, d_out),
            )
                .prop_map(move |(weights, bias)| Source {
                    d_in,
                    d_out,
                    weights: weights.iter().map(|&w| w as f32 as f64).collect(),
                    bias: has_bias.then(|| bias.iter().map(|&b| b as f32 as f64).collect()),
                    mean,
                    std,
                })
        },
    )
}

/// Bound on |y - y_ref| for one output: the rounding of each folded weight (relative `eps_w`)
/// times the magnitude of the terms, plus f32 accumulation error, plus the f32 bias rounding.
fn bound(dtype: WeightDtype, x_row: &[f32], src: &Source, j: usize) -> f64 {
    let eps_w = match dtype {
        WeightDtype::F32 => f32::EPSILON as f64,
        WeightDtype::F16 => 1.0 / 1024.0,
        _ => 1.0 / 128.0,
    };
    let terms: f64 = x_row
        .iter()
        .enumerate()
        .map(|(i, &x)| ((x as f64) * src.weights[i * src.d_out + j] / src.std).abs())
        .sum();
    let shift: f64 =
        (0..src.d_in).map(|i| (src.mean / src.std * src.weights[i * src.d_out + j]).abs()).sum::<f64>();
    // The folded bias is rounded once to f32 too, and so is every partial sum up to |y|.
    let bias = src.bias.as_ref().map_or(0.0, |b| b[j].abs()) + shift;
    let acc_eps = (src.d_in as f64 + 2.0) * f32::EPSILON as f64;
    (terms + shift) * eps_w + (terms + 2.0 * bias) * acc_eps + 1e-30
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    /// i8d (lossy by design): every i8d kernel against the f64 oracle of the weights the blob
    /// stores, within the derived bound of `common::i8d_stored_oracle`; 16-bit outputs are the
    /// f32 outputs rounded once.
    #[test]
    fn every_i8d_kernel_matches_the_oracle_of_its_stored_weights(
        src in source_strategy(),
        rows in 1usize..14,
        seed in any::<u64>(),
    ) {
        let mut rng = common::Rng::new(seed | 1);
        let x: Vec<f32> = (0..rows * src.d_in).map(|_| (rng.unit() * 3.0) as f32).collect();
        let blob = pack::pack(&src, WeightDtype::I8d, "prop", "").unwrap();
        let (want, tol) = common::i8d_stored_oracle(&Transform::new(blob.as_bytes()).unwrap(), &x, rows);
        let mut ran = 0;
        for info in KERNELS.iter().filter(|k| k.dtype == WeightDtype::I8d && k.isa.is_available()) {
            let t = Transform::with_isa(blob.as_bytes(), info.isa).unwrap();
            prop_assert_eq!(t.kernel().name, info.name);
            let mut y = vec![f32::NAN; rows * src.d_out];
            prop_assert_eq!(t.apply(&x, &mut y).unwrap(), rows);
            for (i, ((&g, &w), &tol)) in y.iter().zip(&want).zip(&tol).enumerate() {
                prop_assert!(
                    (g as f64 - w).abs() <= tol,
                    "{} {}x{} rows {}: y[{}][{}] = {}, want {} (tol {:e})",
                    info.name, src.d_in, src.d_out, rows, i / src.d_out, i % src.d_out, g, w, tol
                );
            }
            let mut y16 = vec![f16::NAN; rows * src.d_out];
            t.apply(&x, &mut y16).unwrap();
            for i in 0..y.len() {
                prop_assert_eq!(y16[i].to_bits(), f16::from_f32(y[i]).to_bits(), "{} f16 out {}", info.name, i);
            }
            ran += 1;
        }
        prop_assert!(ran >= 1);
    }

    #[test]
    fn every_kernel_matches_the_f64_oracle(
        src in source_strategy(),
        rows in 1usize..9,
        seed in any::<u64>(),
        dtype_i in 0usize..3,
    ) {
        let dtype = WeightDtype::ALL[dtype_i];
        let mut rng = common::Rng::new(seed | 1);
        let x: Vec<f32> = (0..rows * src.d_in).map(|_| (rng.unit() * 3.0) as f32).collect();
        let w32: Vec<f32> = src.weights.iter().map(|&w| w as f32).collect();
        let b32: Option<Vec<f32>> = src.bias.as_ref().map(|b| b.iter().map(|&v| v as f32).collect());
        let mut y_ref = vec![f64::NAN; rows * src.d_out];
        affine_f64(&x, &w32, b32.as_deref(), src.mean, src.std, src.d_in, src.d_out, &mut y_ref);

        let blob = pack::pack(&src, dtype, "prop", "").unwrap();
        for info in KERNELS.iter().filter(|k| k.dtype == dtype && k.isa.is_available()) {
            let t = Transform::with_isa(blob.as_bytes(), info.isa).unwrap();
            let mut y = vec![f32::NAN; rows * src.d_out];
            prop_assert_eq!(t.apply(&x, &mut y).unwrap(), rows);
            for r in 0..rows {
                for j in 0..src.d_out {
                    let (got, want) = (y[r * src.d_out + j] as f64, y_ref[r * src.d_out + j]);
                    let tol = bound(dtype, &x[r * src.d_in..(r + 1) * src.d_in], &src, j);
                    prop_assert!(
                        (got - want).abs() <= tol,
                        "{} {}x{} rows {}: y[{}][{}] = {}, want {} (tol {:e})",
                        info.name, src.d_in, src.d_out, rows, r, j, got, want, tol
                    );
                }
            }
            // 16-bit outputs are the f32 outputs rounded once.
            let mut y16 = vec![f16::NAN; rows * src.d_out];
            let mut yb = vec![bf16::NAN; rows * src.d_out];
            t.apply(&x, &mut y16).unwrap();
            t.apply(&x, &mut yb).unwrap();
            for i in 0..y.len() {
                prop_assert_eq!(y16[i].to_bits(), f16::from_f32(y[i]).to_bits(), "{} f16 out {}", info.name, i);
                prop_assert_eq!(yb[i].to_bits(), bf16::from_f32(y[i]).to_bits(), "{} bf16 out {}", info.name, i);
            }
        }
    }
}

/// Every kernel agrees exactly with the scalar kernel when all products and sums are exact
/// (small integers), whatever the summation order or fusing.
#[test]
fn kernels_match_scalar_exactly_on_integers() {
    let mut rng = common::Rng::new(7);
    for (d_in, d_out, rows) in [(1, 1, 1), (15, 17, 3), (16, 16, 4), (33, 35, 5), (70, 3, 9), (512, 48, 7)] {
        // q8 quantizes its inputs, so it is not exact here: tests/q8.rs has its integer oracle.
        for dtype in WeightDtype::ALL.into_iter().filter(|&d| d != WeightDtype::Q8) {
            let mut weights: Vec<f64> = (0..d_in * d_out).map(|_| rng.int_in(-8, 8) as f64).collect();
            if dtype == WeightDtype::I8d {
                // i8d quantises with scale max/127 per input row: make every scale exactly 1.
                common::i8d_exact(&mut weights, d_in, d_out);
            }
            let src = Source {
                d_in,
                d_out,
                weights,
                bias: Some((0..d_out).map(|_| rng.int_in(-100, 100) as f64).collect()),
                mean: 0.0,
                std: 1.0,
            };
            let x: Vec<f32> = (0..rows * d_in).map(|_| rng.int_in(-16, 16) as f32).collect();
            let blob = pack::pack(&src, dtype, "", "").unwrap();
            let scalar = Transform::with_isa(blob.as_bytes(), Isa::Scalar).unwrap();
            let mut want = vec![f32::NAN; rows * d_out];
            scalar.apply(&x, &mut want).unwrap();
            // The scalar result is itself exact: check it against integer arithmetic.
            for r in 0..rows {
                for j in 0..d_out {
                    let exact: f64 = src.bias.as_ref().unwrap()[j]
                        + (0..d_in).map(|i| x[r * d_in + i] as f64 * src.weights[i * d_out + j]).sum::<f64>();
                    assert_eq!(want[r * d_out + j] as f64, exact, "scalar {dtype} {d_in}x{d_out} [{r}][{j}]");
                }
            }
            for info in KERNELS.iter().filter(|k| k.dtype == dtype && k.isa.is_available()) {
                let t = Transform::with_isa(blob.as_bytes(), info.isa).unwrap();
                let mut y = vec![f32::NAN; rows * d_out];
                t.apply(&x, &mut y).unwrap();
                assert_eq!(y, want, "{} {d_in}x{d_out} rows {rows}", info.name);
            }
        }
    }
}
