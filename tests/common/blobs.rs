//! Fixtures of the malformed-input tests (tests/malformed_*.rs): a small valid blob of every
//! dtype, field patches with the checksum recomputed, and the rejection check.

use glocal::format::{self, offsets, Header};
use glocal::{pack, AlignedBlob, Error, Transform, WeightDtype};

/// A small transform with a bias: d_in 3, d_out 5 (one partial panel), values k + j/8.
pub fn source(d_in: usize, d_out: usize) -> pack::Source {
    pack::Source {
        d_in,
        d_out,
        weights: (0..d_in * d_out).map(|i| (i % 13) as f64 / 8.0 - 0.75).collect(),
        bias: Some((0..d_out).map(|j| j as f64 / 4.0).collect()),
        mean: 0.5,
        std: 2.0,
    }
}

pub fn small_blob(dtype: WeightDtype) -> AlignedBlob {
    pack::pack(&source(3, 5), dtype, "model", "module").unwrap()
}

/// A copy of `blob` with `bytes` written at `at`, and the checksum recomputed so the field
/// check (not the CRC) is what must reject it.
pub fn patched(blob: &AlignedBlob, at: usize, bytes: &[u8]) -> AlignedBlob {
    let mut b = blob.clone();
    b.as_bytes_mut()[at..at + bytes.len()].copy_from_slice(bytes);
    let crc = format::checksum(b.as_bytes());
    b.as_bytes_mut()[offsets::CRC..][..4].copy_from_slice(&crc.to_le_bytes());
    b
}

/// The error `Transform::new` gives `blob` (it must give one), after checking that
/// `Header::validate_blob` agrees.
pub fn reject(blob: &AlignedBlob) -> Error {
    match Transform::new(blob.as_bytes()) {
        Ok(_) => panic!("malformed blob accepted"),
        Err(e) => {
            assert!(!e.to_string().is_empty());
            // Header::validate_blob agrees with Transform::new.
            assert_eq!(
                Header::validate_blob(blob.as_bytes()).err().map(|e| e.to_string()),
                Some(e.to_string())
            );
            e
        }
    }
}
