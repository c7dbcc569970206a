//! Both thingsvision layouts of `transform.npz` read into the same transform: the published one
//! (`weights`, `bias`, `mean`, `std`; float32 or float64 scalars; bias optional) and the older
//! single-array one (`transform` `[d, d + 1]`, bias as last column).
#![cfg(feature = "npz")]

use glocal::pack::npy::write_f32;
use glocal::pack::npz::{read_transform, NpzError};
use glocal_test_support::npy::f64_scalar as npy_f64_scalar;
use glocal_test_support::npz;

/// A `.npz` of `members`, deflated as `np.savez_compressed` writes it.
fn npz(members: &[(&str, Vec<u8>)]) -> Vec<u8> {
    npz::archive(members, npz::CompressionMethod::Deflated)
}

const D: usize = 3;

fn weights() -> Vec<f32> {
    (0..D * D).map(|i| i as f32 * 0.5 - 1.0).collect()
}
fn bias() -> Vec<f32> {
    vec![0.25, -0.5, 2.0]
}

#[test]
fn published_and_single_array_forms_agree() {
    let published = npz(&[
        ("weights.npy", write_f32(&[D, D], &weights())),
        ("bias.npy", write_f32(&[D], &bias())),
        ("mean.npy", npy_f64_scalar(0.125)),
        ("std.npy", npy_f64_scalar(1.5)),
    ]);
    let mut combined = Vec::new();
    for r in 0..D {
        combined.extend_from_slice(&weights()[r * D..(r + 1) * D]);
        combined.push(bias()[r]);
    }
    let single = npz(&[
        ("transform.npy", write_f32(&[D, D + 1], &combined)),
        ("mean.npy", write_f32(&[], &[0.125])),
        ("std.npy", write_f32(&[1], &[1.5])),
    ]);
    let a = read_transform(&published).unwrap();
    let b = read_transform(&single).unwrap();
    assert_eq!(a, b);
    assert_eq!((a.d_in, a.d_out, a.mean, a.std), (D, D, 0.125, 1.5));
    assert_eq!(a.weights, weights().iter().map(|&v| v as f64).collect::<Vec<_>>());
    assert_eq!(a.bias.unwrap(), bias().iter().map(|&v| v as f64).collect::<Vec<_>>());
}

#[test]
fn bias_is_optional_and_scalars_are_required() {
    let no_bias = npz(&[
        ("weights.npy", write_f32(&[D, D], &weights())),
        ("mean.npy", npy_f64_scalar(0.0)),
        ("std.npy", npy_f64_scalar(1.0)),
    ]);
    assert_eq!(read_transform(&no_bias).unwrap().bias, None);

    let no_std = npz(&[("weights.npy", write_f32(&[D, D], &weights())), ("mean.npy", npy_f64_scalar(0.0))]);
    match read_transform(&no_std) {
        Err(NpzError::MissingMember { member: "std", found }) => {
            assert_eq!(found, ["weights.npy", "mean.npy"]);
        }
        other => panic!("expected a missing 'std' member, got {other:?}"),
    }
    let bad_single = npz(&[
        ("transform.npy", write_f32(&[D, D], &weights())),
        ("mean.npy", npy_f64_scalar(0.0)),
        ("std.npy", npy_f64_scalar(1.0)),
    ]);
    let err = read_transform(&bad_single).unwrap_err();
    assert!(matches!(err, NpzError::Shape { member: "transform", .. }), "{err:?}");
    assert!(err.to_string().contains("[d, d + 1]"), "{err}");
}
