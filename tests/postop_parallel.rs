//! Fused L2 normalisation (`apply_with`) against the f64 oracle, and multi-core batches
//! (`apply_parallel`) bit-for-bit against the single-threaded apply, on every available ISA.

mod common;

use common::Rng;
use glocal::kernel::Isa;
use glocal::{bf16, f16, pack, Error, PostOp, Transform, WeightDtype};

fn source(d_in: usize, d_out: usize, rng: &mut Rng) -> pack::Source {
    pack::Source {
        d_in,
        d_out,
        weights: (0..d_in * d_out).map(|_| rng.unit() * 0.1).collect(),
        bias: Some((0..d_out).map(|_| rng.unit()).collect()),
        mean: 0.3,
        std: 1.7,
    }
}

fn isas() -> Vec<Isa> {
    Isa::ALL.iter().copied().filter(|i| i.is_available()).collect()
}

/// Every dtype the build knows.
fn dtypes() -> Vec<WeightDtype> {
    WeightDtype::ALL.to_vec()
}

#[test]
fn l2_normalize_postop_matches_oracle() {
    let mut rng = Rng::new(7);
    for &(d_in, d_out) in &[(1, 1), (15, 17), (33, 16), (768, 768)] {
        let src = source(d_in, d_out, &mut rng);
        let rows = 7;
        let x: Vec<f32> = (0..rows * d_in).map(|_| rng.unit() as f32 * 2.0).collect();
        let w32: Vec<f32> = src.weights.iter().map(|&v| v as f32).collect();
        let b32: Vec<f32> = src.bias.as_ref().unwrap().iter().map(|&v| v as f32).collect();
        let mut y_ref = vec![f64::NAN; rows * d_out];
        glocal::reference::affine_f64(&x, &w32, Some(&b32), src.mean, src.std, d_in, d_out, &mut y_ref);
        for row in y_ref.chunks_exact_mut(d_out) {
            let n = row.iter().map(|v| v * v).sum::<f64>().sqrt();
            row.iter_mut().for_each(|v| *v /= n);
        }
        for dtype in dtypes() {
            let blob = pack::pack(&src, dtype, "", "").unwrap();
            // Every registered kernel for this dtype that can run here (i8d: scalar only).
            for isa in isas().into_iter().filter(|&i| glocal::kernel::kernel_info(i, dtype).is_some()) {
                let t = Transform::with_isa(blob.as_bytes(), isa).unwrap();
                let mut y = vec![f32::NAN; rows * d_out];
                assert_eq!(t.apply_with(&x, &mut y, PostOp::L2Normalize), Ok(rows));
                // Weight rounding dominates: f16 ~5e-4, bf16/i8d ~4e-3 of the row scale (1 here).
                let tol = if dtype == WeightDtype::F32 { 1e-5 } else { 1e-2 };
                for (i, (&g, &w)) in y.iter().zip(&y_ref).enumerate() {
                    assert!(
                        (g as f64 - w).abs() <= tol,
                        "{} {d_in}x{d_out} [{}][{}]: got {g}, want {w}",
                        t.kernel().name,
                        i / d_out,
                        i % d_out
                    );
                }
                for row in y.chunks_exact(d_out) {
                    let n: f64 = row.iter().map(|&v| v as f64 * v as f64).sum::<f64>().sqrt();
                    assert!((n - 1.0).abs() < 2e-6, "{}: norm {n}", t.kernel().name);
                }
                // Exactly the plain apply followed by the public helper.
                let mut plain = vec![f32::NAN; rows * d_out];
                t.apply(&x, &mut plain).unwrap();
                glocal::similarity::l2_normalize_rows(&mut plain, d_out).unwrap();
                assert_eq!(y, plain, "{}: fused differs from apply + l2_normalize_rows", t.kernel().name);
                // 16-bit outputs: the normalisation of the rounded row, rounded once more.
                let mut y16 = vec![f16::NAN; rows * d_out];
                t.apply_with(&x, &mut y16, PostOp::L2Normalize).unwrap();
                for (g, p) in y16.iter().zip(&plain) {
                    assert!((g.to_f32() - p).abs() <= 2e-3, "f16 output {g} vs f32 {p}");
                }
            }
        }
    }
}

#[test]
fn l2_normalize_postop_zero_and_nan_rows() {
    // Identity without bias: a zero input row gives a zero output row.
    let src = pack::Source {
        d_in: 3,
        d_out: 3,
        weights: vec![1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0],
        bias: None,
        mean: 0.0,
        std: 1.0,
    };
    let blob = pack::pack(&src, WeightDtype::F32, "", "").unwrap();
    for isa in isas().into_iter().filter(|&i| glocal::kernel::kernel_info(i, WeightDtype::F32).is_some()) {
        let t = Transform::with_isa(blob.as_bytes(), isa).unwrap();
        let x = [0.0f32, 0.0, 0.0, 2.0, 0.0, 0.0, f32::NAN, 1.0, 1.0, 1e30, 1e30, 0.0];
        let mut y = [f32::INFINITY; 12];
        assert_eq!(t.apply_with(&x, &mut y, PostOp::L2Normalize), Ok(4));
        assert_eq!(&y[..6], &[0.0, 0.0, 0.0, 1.0, 0.0, 0.0], "{isa:?}");
        assert!(y[6..9].iter().all(|v| v.is_nan()), "{isa:?}: NaN row {:?}", &y[6..9]);
        let s = core::f32::consts::FRAC_1_SQRT_2;
        assert!((y[9] - s).abs() < 1e-7 && (y[10] - s).abs() < 1e-7 && y[11] == 0.0, "{:?}", &y[9..]);
        let mut yb = [bf16::NAN; 12];
        t.apply_with(&x, &mut yb, PostOp::L2Normalize).unwrap();
        assert_eq!(yb[3].to_f32(), 1.0);
        assert_eq!(yb[0].to_f32(), 0.0);
        // Errors leave y untouched.
        let mut y = [f32::INFINITY; 12];
        assert_eq!(
            t.apply_with(&x[..11], &mut y, PostOp::L2Normalize),
            Err(Error::InputLength { found: 11, d_in: 3 })
        );
        assert_eq!(
            t.apply_with(&x, &mut y[..9], PostOp::L2Normalize),
            Err(Error::OutputLength { found: 9, expected: 12 })
        );
        assert!(y.iter().all(|v| *v == f32::INFINITY));
    }
}

#[test]
fn apply_parallel_is_bit_identical_to_apply() {
    let mut rng = Rng::new(0xdead_beef);
    for &(d_in, d_out) in &[(1, 1), (17, 33), (64, 16), (200, 50)] {
        let src = source(d_in, d_out, &mut rng);
        for dtype in dtypes() {
            let blob = pack::pack(&src, dtype, "", "").unwrap();
            // Every registered kernel for this dtype that can run here (i8d: scalar only).
            for isa in isas().into_iter().filter(|&i| glocal::kernel::kernel_info(i, dtype).is_some()) {
                let t = Transform::with_isa(blob.as_bytes(), isa).unwrap();
                // 289 and 1009 rows: more blocks than threads (dynamic claiming) for every
                // kernel's MR. The split depends on the rows only, so one shape (ragged: 33
                // columns) runs them: on all four shapes this test took 107 s under
                // qemu-aarch64 in CI, with one 36 s.
                let many: &[usize] = if (d_in, d_out) == (17, 33) { &[289, 1009] } else { &[] };
                for &rows in [1usize, 2, 3, 5, 6, 7, 8, 13, 17, 25, 64, 101].iter().chain(many) {
                    let x: Vec<f32> = (0..rows * d_in).map(|_| rng.unit() as f32).collect();
                    for post in [PostOp::None, PostOp::L2Normalize] {
                        let mut want = vec![f32::NAN; rows * d_out];
                        t.apply_with(&x, &mut want, post).unwrap();
                        for threads in [0usize, 1, 2, 3, 4, 7, 64] {
                            let mut got = vec![f32::NAN; rows * d_out];
                            assert_eq!(t.apply_parallel_with(&x, &mut got, post, threads), Ok(rows));
                            let same = got.iter().zip(&want).all(|(a, b)| a.to_bits() == b.to_bits());
                            assert!(
                                same,
                                "{} {d_in}x{d_out} rows {rows} threads {threads} {post:?}: differs",
                                t.kernel().name
                            );
                        }
                    }
                    // 16-bit in and out through the threaded path too.
                    let x16: Vec<f16> = x.iter().map(|&v| f16::from_f32(v)).collect();
                    let mut want = vec![bf16::NAN; rows * d_out];
                    t.apply(&x16, &mut want).unwrap();
                    let mut got = vec![bf16::NAN; rows * d_out];
                    assert_eq!(t.apply_parallel(&x16, &mut got, 2), Ok(rows));
                    assert!(got.iter().zip(&want).all(|(a, b)| a.to_bits() == b.to_bits()));
                }
            }
        }
    }
}

#[test]
fn apply_parallel_errors_leave_output_untouched() {
    let mut rng = Rng::new(3);
    let blob = pack::pack(&source(5, 4, &mut rng), WeightDtype::F16, "", "").unwrap();
    let t = Transform::new(blob.as_bytes()).unwrap();
    let mut y = [f32::INFINITY; 8];
    assert_eq!(t.apply_parallel(&[0.0f32; 11], &mut y, 2), Err(Error::InputLength { found: 11, d_in: 5 }));
    assert_eq!(t.apply_parallel(&[0.0f32; 0], &mut y, 2), Err(Error::InputLength { found: 0, d_in: 5 }));
    assert_eq!(
        t.apply_parallel(&[0.0f32; 10], &mut y[..7], 2),
        Err(Error::OutputLength { found: 7, expected: 8 })
    );
    assert_eq!(
        t.apply_parallel_with(&[0.0f32; 15], &mut y, PostOp::L2Normalize, 0),
        Err(Error::OutputLength { found: 8, expected: 12 })
    );
    assert!(y.iter().all(|v| *v == f32::INFINITY));
}
