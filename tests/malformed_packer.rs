//! The packer refuses what validation would refuse later: i8d scales above the format's bound
//! and folded biases that overflow f32.

mod common;

use common::blobs::source;
use glocal::{pack, Transform, WeightDtype};

/// The packer never writes a scale validation would refuse: a row whose largest off-diagonal
/// weight needs a scale above 2^120 is an overflow at pack time.
#[test]
fn packer_refuses_i8d_scales_above_the_bound() {
    let mut s = source(3, 5);
    s.std = 1.0;
    s.mean = 0.0;
    s.weights[1] = 1e38 * 2.0; // row 0, column 1: scale 1.57e36 > 2^120
    match pack::pack(&s, WeightDtype::I8d, "m", "m") {
        Err(pack::PackError::Overflow { dtype: WeightDtype::I8d, row: 0, col: 1, .. }) => {}
        other => panic!("{other:?}"),
    }
    s.weights[1] = 1e38; // scale 7.9e35 <= 2^120: packs, and validates
    let blob = pack::pack(&s, WeightDtype::I8d, "m", "m").unwrap();
    Transform::new(blob.as_bytes()).unwrap();
}

#[test]
fn folded_bias_that_overflows_f32_is_refused() {
    // Regression (fuzz finding): b' = b - (mean / std) * colsum(W) is finite in f64 but not
    // in the f32 bias section; pack stored infinity and every output became inf or NaN.
    let mut s = source(3, 5);
    s.mean = 1e30;
    s.std = 1e-10;
    match pack::pack(&s, WeightDtype::F32, "m", "m") {
        Err(pack::PackError::BiasOverflow { col: 0, value }) => assert!(value.abs() > f32::MAX as f64),
        r => panic!("{r:?}"),
    }
    // mean / std overflowing f64 itself gives inf * 0 = NaN for a zero column sum: refused too.
    let mut s = source(1, 2);
    s.weights = vec![0.0, 1.0];
    s.mean = 1e300;
    s.std = 1e-300;
    match pack::pack(&s, WeightDtype::F16, "m", "m") {
        Err(pack::PackError::BiasOverflow { col: 0, value }) => assert!(value.is_nan()),
        r => panic!("{r:?}"),
    }
    // Just inside the range still packs.
    let mut s = source(1, 1);
    s.weights = vec![1.0];
    s.bias = None;
    s.mean = -3.0e38;
    s.std = 1.0;
    let blob = pack::pack(&s, WeightDtype::F32, "m", "m").unwrap();
    let t = Transform::new(blob.as_bytes()).unwrap();
    let mut y = [0.0f32];
    t.apply(&[0.0f32], &mut y).unwrap();
    assert_eq!(y[0], 3.0e38);
}
