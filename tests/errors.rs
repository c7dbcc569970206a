//! Every core error variant, reached on purpose, with the output left untouched.

use glocal::format::{self, offsets, Layout, FLAG_HAS_BIAS, FLAG_NORM_FOLDED};
use glocal::pack::{self, PackError, Source};
use glocal::{AlignedBlob, Error, Transform, WeightDtype};

fn source(d_in: usize, d_out: usize) -> Source {
    Source {
        d_in,
        d_out,
        weights: (0..d_in * d_out).map(|i| (i % 7) as f64 * 0.125 - 0.25).collect(),
        bias: Some((0..d_out).map(|j| j as f64 * 0.5).collect()),
        mean: 0.25,
        std: 2.0,
    }
}

fn blob() -> AlignedBlob {
    pack::pack(&source(5, 19), WeightDtype::F16, "model", "module").unwrap()
}

/// The blob with one header field overwritten, and its checksum fixed up so that only the
/// field is wrong.
fn patched(at: usize, bytes: &[u8]) -> AlignedBlob {
    let mut b = blob();
    b.as_bytes_mut()[at..at + bytes.len()].copy_from_slice(bytes);
    let crc = format::checksum(b.as_bytes());
    b.as_bytes_mut()[offsets::CRC..offsets::CRC + 4].copy_from_slice(&crc.to_le_bytes());
    b
}

fn err(b: &[u8]) -> Error {
    Transform::new(b).expect_err("blob must be rejected")
}

#[test]
fn header_field_errors() {
    assert_eq!(err(&blob().as_bytes()[..100]), Error::TruncatedHeader { found: 100 });
    assert_eq!(err(patched(0, b"GLOCALX\x1a").as_bytes()), Error::BadMagic { found: *b"GLOCALX\x1a" });
    assert_eq!(
        err(patched(offsets::VERSION, &2u16.to_le_bytes()).as_bytes()),
        Error::UnsupportedVersion { found: 2, supported: 1 }
    );
    assert_eq!(
        err(patched(offsets::HEADER_LEN, &512u16.to_le_bytes()).as_bytes()),
        Error::BadHeaderLength { found: 512 }
    );
    assert_eq!(
        err(patched(offsets::ENDIAN, &0x0102_0304u32.to_be_bytes()).as_bytes()),
        Error::WrongEndianness { found: 0x0403_0201 }
    );
    assert_eq!(err(patched(offsets::DTYPE, &[0]).as_bytes()), Error::UnknownDtype { found: 0 });
    assert_eq!(err(patched(offsets::DTYPE, &[9]).as_bytes()), Error::UnknownDtype { found: 9 });
    assert_eq!(
        err(patched(offsets::NR, &[8]).as_bytes()),
        Error::UnsupportedPanelWidth { found: 8, expected: 16 }
    );
    assert_eq!(
        err(patched(offsets::FLAGS, &FLAG_HAS_BIAS.to_le_bytes()).as_bytes()),
        Error::BadFlags { found: FLAG_HAS_BIAS }
    );
    assert_eq!(
        err(patched(offsets::FLAGS, &(FLAG_NORM_FOLDED | 0x80).to_le_bytes()).as_bytes()),
        Error::BadFlags { found: FLAG_NORM_FOLDED | 0x80 }
    );
    assert_eq!(
        err(patched(offsets::D_IN, &0u32.to_le_bytes()).as_bytes()),
        Error::BadDims { d_in: 0, d_out: 19 }
    );
    assert_eq!(
        err(patched(offsets::D_OUT, &(1u32 << 17).to_le_bytes()).as_bytes()),
        Error::BadDims { d_in: 5, d_out: 1 << 17 }
    );
    // A different d_in with the old layout fields: the first derived field that disagrees is named.
    // (d_in 5 -> 6 would keep every size: 5 and 6 rows of f16 both pad to a 192-byte panel.)
    let other = Layout::new(WeightDtype::F16, 7, 19);
    assert_eq!(
        err(patched(offsets::D_IN, &7u32.to_le_bytes()).as_bytes()),
        Error::BadLayout { field: "total_len", found: blob().len() as u64, expected: other.total_len }
    );
    assert_eq!(
        err(patched(offsets::PANELS, &3u32.to_le_bytes()).as_bytes()),
        Error::BadLayout { field: "panels", found: 3, expected: 2 }
    );
    assert_eq!(
        err(patched(offsets::AUX_LEN, &64u64.to_le_bytes()).as_bytes()),
        Error::BadLayout { field: "aux_len", found: 64, expected: 0 }
    );
    match err(patched(offsets::MEAN, &f64::NAN.to_le_bytes()).as_bytes()) {
        Error::BadNormalisation { field: "mean", value } => assert!(value.is_nan()),
        e => panic!("unexpected {e:?}"),
    }
    assert_eq!(
        err(patched(offsets::STD, &0.0f64.to_le_bytes()).as_bytes()),
        Error::BadNormalisation { field: "std", value: 0.0 }
    );
    assert_eq!(
        err(patched(offsets::STD, &(-1.0f64).to_le_bytes()).as_bytes()),
        Error::BadNormalisation { field: "std", value: -1.0 }
    );
    assert_eq!(err(patched(offsets::MODEL, &[0xff]).as_bytes()), Error::BadName { field: "model" });
    assert_eq!(err(patched(offsets::MODULE + 10, b"x").as_bytes()), Error::BadName { field: "module" });
    assert_eq!(
        err(patched(offsets::RESERVED + 3, &[1]).as_bytes()),
        Error::ReservedNotZero { offset: offsets::RESERVED + 3 }
    );
}

#[test]
fn length_checksum_and_alignment_errors() {
    let good = blob();
    let len = good.len();
    assert_eq!(
        err(&good.as_bytes()[..len - 1]),
        Error::LengthMismatch { declared: len as u64, found: len - 1 }
    );
    let mut longer = AlignedBlob::zeroed(len + 64);
    longer.as_bytes_mut()[..len].copy_from_slice(good.as_bytes());
    assert_eq!(err(longer.as_bytes()), Error::LengthMismatch { declared: len as u64, found: len + 64 });

    let mut flipped = good.clone();
    flipped.as_bytes_mut()[len - 10] ^= 0x04;
    match err(flipped.as_bytes()) {
        Error::ChecksumMismatch { stored, computed } => {
            assert_eq!(stored, format::checksum(good.as_bytes()));
            assert_ne!(stored, computed);
        }
        e => panic!("unexpected {e:?}"),
    }

    let mut shifted = AlignedBlob::zeroed(len + 2);
    shifted.as_bytes_mut()[2..].copy_from_slice(good.as_bytes());
    let at = &shifted.as_bytes()[2..];
    assert_eq!(err(at), Error::Misaligned { required: 4, address: at.as_ptr() as usize });
}

#[test]
fn apply_length_errors_leave_output_untouched() {
    let b = blob();
    let t = Transform::new(b.as_bytes()).unwrap();
    let mut y = vec![f32::NAN; 2 * 19];
    let check_untouched = |y: &[f32]| assert!(y.iter().all(|v| v.is_nan()), "output was written");
    assert_eq!(t.apply(&[0.0f32; 0], &mut y[..0]), Err(Error::InputLength { found: 0, d_in: 5 }));
    assert_eq!(t.apply(&[0.0f32; 7], &mut y), Err(Error::InputLength { found: 7, d_in: 5 }));
    check_untouched(&y);
    assert_eq!(t.apply(&[0.0f32; 10], &mut y[..37]), Err(Error::OutputLength { found: 37, expected: 38 }));
    check_untouched(&y);
    assert_eq!(t.apply(&[0.0f32; 5], &mut y), Err(Error::OutputLength { found: 38, expected: 19 }));
    check_untouched(&y);
    assert_eq!(t.apply(&[0.0f32; 10], &mut y), Ok(2));
    assert!(y.iter().all(|v| v.is_finite()));
}

/// NaN in a row gives NaN in every output of that row, and only that row.
#[test]
fn nan_rows_stay_confined() {
    let b = blob();
    let t = Transform::new(b.as_bytes()).unwrap();
    let mut x = vec![1.0f32; 3 * 5];
    x[5 + 2] = f32::NAN;
    let mut y = vec![0.0f32; 3 * 19];
    t.apply(&x, &mut y).unwrap();
    assert!(y[..19].iter().all(|v| v.is_finite()));
    assert!(y[19..38].iter().all(|v| v.is_nan()));
    assert!(y[38..].iter().all(|v| v.is_finite()));
}

#[test]
fn error_messages_say_what_and_where() {
    let msg = Error::BadLayout { field: "panel_stride", found: 3, expected: 64 }.to_string();
    assert_eq!(msg, "header field panel_stride: expected 64, found 3");
    let msg = Error::LengthMismatch { declared: 100, found: 90 }.to_string();
    assert!(msg.contains("truncated"), "{msg}");
    let msg = Error::ChecksumMismatch { stored: 1, computed: 2 }.to_string();
    assert!(msg.contains("corrupt"), "{msg}");
}

fn pack_err(s: &Source, dtype: WeightDtype, model: &str, module: &str) -> PackError {
    pack::pack(s, dtype, model, module).expect_err("source must be rejected")
}

#[test]
fn pack_errors() {
    let mut s = source(3, 4);
    s.d_in = 0;
    assert_eq!(pack_err(&s, WeightDtype::F32, "", ""), PackError::Dims { d_in: 0, d_out: 4 });
    let mut s = source(3, 4);
    s.weights.pop();
    assert_eq!(
        pack_err(&s, WeightDtype::F32, "", ""),
        PackError::Length { array: "weights", expected: 12, found: 11 }
    );
    let mut s = source(3, 4);
    s.weights[6] = f64::INFINITY;
    assert_eq!(
        pack_err(&s, WeightDtype::F32, "", ""),
        PackError::NonFinite { array: "weights", row: 1, col: 2, value: f64::INFINITY }
    );
    let mut s = source(3, 4);
    s.bias = Some(vec![0.0; 3]);
    assert_eq!(
        pack_err(&s, WeightDtype::F32, "", ""),
        PackError::Length { array: "bias", expected: 4, found: 3 }
    );
    let mut s = source(3, 4);
    s.bias.as_mut().unwrap()[1] = f64::NAN;
    assert!(matches!(
        pack_err(&s, WeightDtype::F32, "", ""),
        PackError::NonFinite { array: "bias", row: 0, col: 1, .. }
    ));
    let mut s = source(3, 4);
    s.std = 0.0;
    assert_eq!(pack_err(&s, WeightDtype::F32, "", ""), PackError::Normalisation { field: "std", value: 0.0 });
    let mut s = source(3, 4);
    s.mean = f64::NEG_INFINITY;
    assert_eq!(
        pack_err(&s, WeightDtype::F32, "", ""),
        PackError::Normalisation { field: "mean", value: f64::NEG_INFINITY }
    );
    let mut s = source(3, 4);
    s.weights[5] = 2.0e5;
    assert_eq!(
        pack_err(&s, WeightDtype::F16, "", ""),
        PackError::Overflow { dtype: WeightDtype::F16, row: 1, col: 1, value: 1.0e5 }
    );
    assert!(pack::pack(&s, WeightDtype::F32, "", "").is_ok(), "f32 holds 1e5");
    let long = "m".repeat(65);
    assert_eq!(
        pack_err(&source(3, 4), WeightDtype::F32, &long, ""),
        PackError::Name { field: "model", name: long.clone() }
    );
    assert_eq!(
        pack_err(&source(3, 4), WeightDtype::F32, "", "a\0b"),
        PackError::Name { field: "module", name: "a\0b".into() }
    );
}

#[cfg(feature = "nalgebra")]
#[test]
fn nalgebra_view_matches_apply() {
    let b = pack::pack(&source(5, 19), WeightDtype::Bf16, "", "").unwrap();
    let t = Transform::new(b.as_bytes()).unwrap();
    let (w, bias) = t.to_nalgebra();
    assert_eq!((w.nrows(), w.ncols(), bias.len()), (5, 19, 19));
    let x = nalgebra::DVector::from_vec(vec![1.0f32, -2.0, 0.5, 3.0, 0.25]);
    let want = w.transpose() * &x + bias;
    let mut y = vec![f32::NAN; 19];
    t.apply(x.as_slice(), &mut y).unwrap();
    for j in 0..19 {
        assert!(
            (y[j] - want[j]).abs() <= 1e-5 * want[j].abs().max(1.0),
            "column {j}: {} vs {}",
            y[j],
            want[j]
        );
    }
    assert_eq!(t.folded_weight(5, 0), None);
    assert_eq!(t.folded_bias(19), None);
}
