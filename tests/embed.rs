//! `embed_blob!` gives a 64-byte aligned `&'static [u8]` that a Transform borrows in place.
//! The embedded blob is synthetic (a 20 x 3 transform); this test also rebuilds it from its
//! source and fails if the committed bytes went stale (set GLOCAL_REGEN=1 to rewrite them).

use glocal::{pack, Transform, WeightDtype};

static BLOB: &[u8] = glocal::embed_blob!("data/synthetic_20x3_f16.glw");

fn source() -> pack::Source {
    pack::Source {
        d_in: 20,
        d_out: 3,
        weights: (0..60).map(|i| (i as f64 - 30.0) / 64.0).collect(),
        bias: Some(vec![0.5, -0.25, 1.0]),
        mean: 0.5,
        std: 2.0,
    }
}

#[test]
fn embedded_blob_is_aligned_current_and_usable() {
    let fresh = pack::pack(&source(), WeightDtype::F16, "synthetic", "test").unwrap();
    if std::env::var_os("GLOCAL_REGEN").is_some() {
        std::fs::write(
            concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/synthetic_20x3_f16.glw"),
            fresh.as_bytes(),
        )
        .unwrap();
    }
    assert_eq!(
        BLOB,
        fresh.as_bytes(),
        "tests/data/synthetic_20x3_f16.glw is stale: rerun with GLOCAL_REGEN=1"
    );
    assert_eq!(BLOB.as_ptr() as usize % 64, 0, "embed_blob! must align to 64 bytes");
    let t: Transform<'static> = Transform::new(BLOB).unwrap();
    assert_eq!((t.d_in(), t.d_out(), t.header().model()), (20, 3, "synthetic"));
    let x = [1.0f32; 20];
    let mut y = [f32::NAN; 3];
    t.apply(&x, &mut y).unwrap();
    // ((1 - 0.5) / 2) * colsum(W) + b, with colsum(W)_j = sum_i (3i + j - 30) / 64.
    for (j, &got) in y.iter().enumerate() {
        let colsum: f64 = (0..20).map(|i| (3.0 * i as f64 + j as f64 - 30.0) / 64.0).sum();
        let want = 0.25 * colsum + [0.5, -0.25, 1.0][j];
        assert!((got as f64 - want).abs() < 1e-3, "y[{j}] = {got}, want {want}");
    }
}
