//! Bad features never hurt: inputs of the wrong width, outputs of the wrong length, zero rows
//! and NaN rows, through the Rust API. Every test here goes through the byte views and the
//! kernels' batch path, so `.ci/steps/85-miri.sh` runs this whole file under Miri.

mod common;

use common::blobs::small_blob;
use glocal::{Error, Transform, WeightDtype};

#[test]
fn features_of_the_wrong_width_or_zero_rows() {
    let blob = small_blob(WeightDtype::F32);
    let t = Transform::new(blob.as_bytes()).unwrap();
    let mut y = [f32::NAN; 10];
    for n in [0usize, 1, 2, 4, 5, 7] {
        let x = vec![1.0f32; n];
        assert_eq!(t.apply(&x, &mut y), Err(Error::InputLength { found: n, d_in: 3 }), "{n} inputs");
    }
    for (n, m) in [(3usize, 0usize), (3, 4), (3, 6), (6, 5), (6, 11)] {
        let x = vec![1.0f32; n];
        let mut y = vec![f32::NAN; m];
        assert_eq!(
            t.apply(&x, &mut y),
            Err(Error::OutputLength { found: m, expected: n / 3 * 5 }),
            "{n} in, {m} out"
        );
        assert!(y.iter().all(|v| v.is_nan()), "output written on error");
    }
    // Also through the 16-bit paths.
    let x16 = [glocal::f16::ONE; 4];
    let mut y16 = [glocal::bf16::NAN; 5];
    assert_eq!(t.apply(&x16, &mut y16), Err(Error::InputLength { found: 4, d_in: 3 }));
    assert!(y16.iter().all(|v| v.is_nan()));
}

#[test]
fn nan_rows_give_nan_rows_only() {
    // Documented choice: a NaN (or infinite) feature makes every output of its row NaN
    // (or non-finite); the other rows are exactly what they would be alone.
    for dtype in WeightDtype::ALL {
        let blob = small_blob(dtype);
        let t = Transform::new(blob.as_bytes()).unwrap();
        let rows = 6; // a full 4-row tile and a tail
        let clean: Vec<f32> = (0..rows * 3).map(|i| i as f32 * 0.25 - 1.0).collect();
        let mut want = vec![f32::NAN; rows * 5];
        t.apply(&clean, &mut want).unwrap();
        for bad_row in [0usize, 3, 5] {
            let mut x = clean.clone();
            x[bad_row * 3 + 1] = f32::NAN;
            let mut y = vec![0.0f32; rows * 5];
            assert_eq!(t.apply(&x, &mut y), Ok(rows));
            for r in 0..rows {
                let (got, exp) = (&y[r * 5..][..5], &want[r * 5..][..5]);
                if r == bad_row {
                    assert!(got.iter().all(|v| v.is_nan()), "{dtype}: row {r}: {got:?}");
                } else {
                    assert_eq!(got, exp, "{dtype}: NaN in row {bad_row} leaked into row {r}");
                }
            }
            // f16 inputs and outputs follow the same rule. (Rounded through `Element`, which
            // Miri can run under -C target-cpu=haswell; half's own from_f32 is F16C there.)
            let x16: Vec<glocal::f16> =
                x.iter().map(|&v| <glocal::f16 as glocal::Element>::from_f32(v)).collect();
            let mut y16 = vec![glocal::f16::ZERO; rows * 5];
            t.apply(&x16, &mut y16).unwrap();
            for r in 0..rows {
                assert_eq!(y16[r * 5..][..5].iter().all(|v| v.is_nan()), r == bad_row, "{dtype} f16 row {r}");
            }
        }
    }
}
