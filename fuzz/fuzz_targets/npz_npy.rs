//! Arbitrary bytes into the `.npz` and `.npy` readers: never panic, never allocate more
//! than the input can justify (CI runs this target with `-malloc_limit_mb`), and whatever
//! they accept is a valid transform that packs.

#![no_main]

use glocal::pack::npy::Npy;
use glocal::pack::{self, npz};
use glocal::WeightDtype;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // The same bytes as a bare .npy array.
    if let Ok(npy) = Npy::parse(data) {
        let n = npy.len();
        assert!(n * npy.dtype.size() <= data.len(), "npy claims more elements than bytes");
        assert_eq!(npy.shape.iter().product::<usize>(), n);
        let all = npy.to_f64();
        assert_eq!(all.len(), n);
        let f32s = npy.to_f32();
        for (a, b) in all.iter().zip(&f32s) {
            assert!(a.is_nan() == b.is_nan());
        }
        if let Some(h) = npy.to_f16() {
            assert_eq!(h.len(), n);
        }
    }

    // As an .npz archive.
    match npz::read_transform(data) {
        Err(e) => {
            let _ = e.to_string();
        }
        Ok(source) => {
            assert_eq!(source.validate(), Ok(()));
            assert!(source.weights.len() * 8 <= data.len().saturating_mul(1100 * 8));
            // Accepted sources pack (or overflow the storage type, which is reported).
            if source.d_in * source.d_out <= 1 << 16 {
                match pack::pack(&source, WeightDtype::F32, "fuzz", "npz") {
                    Ok(blob) => {
                        glocal::Transform::new(blob.as_bytes()).expect("packed blob validates");
                    }
                    Err(pack::PackError::Overflow { .. } | pack::PackError::BiasOverflow { .. }) => {}
                    Err(e) => panic!("validated source failed to pack: {e}"),
                }
            }
        }
    }
});
