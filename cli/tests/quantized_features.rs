//! `glocal align` on int8/uint8 features with `--input-scale` / `--input-zero-point` (issue 23):
//! bit for bit what the library's `Transform::apply_quantized` gives on the same blob, within
//! the f64 formula's bound on the dequantized features, and every usage error (exit 2, one line,
//! no output file).

mod common;
use common::*;

use glocal::{AlignedBlob, QuantizedRows, Transform};

const D_IN: usize = 40;
const D_OUT: usize = 23;
const ROWS: usize = 9;

/// Deterministic bytes covering the whole range.
fn quantized(n: usize) -> Vec<u8> {
    (0..n).map(|i| ((i * 2654435761usize) >> 7) as u8).collect()
}

#[test]
fn int8_and_uint8_features_match_apply_quantized_bit_for_bit() {
    let dir = tempfile::tempdir().unwrap();
    let p = |name: &str| dir.path().join(name);
    let source = synthetic_npz(&p("t.npz"), D_IN, D_OUT, true);
    let q = quantized(ROWS * D_IN);
    // (descr, scale, zero point): symmetric int8, asymmetric int8 and uint8.
    for (descr, scale, zp) in [("|i1", 0.03125f32, 0i32), ("|i1", 0.021, -7), ("|u1", 0.0173, 131)] {
        std::fs::write(p("x.npy"), npy_bytes(descr, &[ROWS, D_IN], &q)).unwrap();
        let rows = |bytes: &[u8]| {
            let signed: Vec<i8> = bytes.iter().map(|&b| b as i8).collect();
            (signed, bytes.to_vec())
        };
        let (signed, unsigned) = rows(&q);
        let x = if descr == "|i1" {
            QuantizedRows::i8(&signed, scale, zp)
        } else {
            QuantizedRows::u8(&unsigned, scale, zp)
        };
        let dequantized: Vec<f64> = (0..x.len()).map(|i| x.dequantize(i).unwrap() as f64).collect();
        let y_ref = oracle(&source, &dequantized);
        for (dtype, bound) in [("f32", 4e-6), ("f16", 1e-3), ("bf16", 8e-3), ("i8d", 8e-3)] {
            pack(&p("t.npz"), &p("t.glw"), dtype);
            let (s, z) = (scale.to_string(), zp.to_string());
            let r = align(
                &p("t.glw"),
                &p("x.npy"),
                &p("y.npy"),
                &["--input-scale", &s, "--input-zero-point", &z],
            );
            ok(&r);
            let (shape, got) = read_npy(&p("y.npy"));
            assert_eq!(shape, [ROWS, D_OUT]);
            let blob = AlignedBlob::from_bytes(&std::fs::read(p("t.glw")).unwrap());
            let t = Transform::new(blob.as_bytes()).unwrap();
            let mut want = vec![f32::NAN; ROWS * D_OUT];
            assert_eq!(t.apply_quantized(x, &mut want), Ok(ROWS));
            let want: Vec<f64> = want.iter().map(|&v| v as f64).collect();
            assert!(
                got.iter().zip(&want).all(|(a, b)| a.to_bits() == b.to_bits()),
                "{descr} {dtype}: not bit-identical"
            );
            let e = rel_err(&got, &y_ref);
            assert!(e <= bound, "{descr} {dtype}: error {e:e} > {bound:e}");
        }
        // The same features stored column-major give the same rows.
        let fortran: Vec<u8> = (0..q.len()).map(|s| q[(s % ROWS) * D_IN + s / ROWS]).collect();
        let shape = format!("({ROWS}, {D_IN})");
        std::fs::write(p("xf.npy"), glocal_test_support::npy::image(descr, true, &shape, &fortran)).unwrap();
        let (s, z) = (scale.to_string(), zp.to_string());
        ok(&align(&p("t.glw"), &p("xf.npy"), &p("yf.npy"), &["--input-scale", &s, "--input-zero-point", &z]));
        assert_eq!(read_npy(&p("yf.npy")), read_npy(&p("y.npy")), "{descr}: Fortran order");
    }
}

/// Usage errors only the features reveal: exit 2, one line naming the file, no output.
#[test]
fn options_that_do_not_fit_the_features_are_usage_errors() {
    let dir = tempfile::tempdir().unwrap();
    let p = |name: &str| dir.path().join(name);
    synthetic_npz(&p("t.npz"), D_IN, D_OUT, true);
    pack(&p("t.npz"), &p("t.glw"), "f16");
    std::fs::write(p("i8.npy"), npy_bytes("|i1", &[ROWS, D_IN], &quantized(ROWS * D_IN))).unwrap();
    std::fs::write(p("u8.npy"), npy_bytes("|u1", &[ROWS, D_IN], &quantized(ROWS * D_IN))).unwrap();
    write_f32(&p("f.npy"), &[ROWS, D_IN], &vec![0.5; ROWS * D_IN]);
    let cases: [(&str, &[&str], &[&str]); 6] = [
        ("i8.npy", &[], &["int8 features need --input-scale"]),
        ("i8.npy", &["--input-zero-point", "3"], &["--input-scale"]),
        ("i8.npy", &["--input-scale", "0.1", "--input-zero-point", "128"], &["-128..=127", "128"]),
        ("u8.npy", &["--input-scale", "0.1", "--input-zero-point", "-1"], &["0..=255", "-1"]),
        ("f.npy", &["--input-scale", "0.1"], &["int8/uint8 features", "float32"]),
        ("f.npy", &["--input-zero-point", "0"], &["int8/uint8 features", "float32"]),
    ];
    for (x, extra, needles) in cases {
        let r = align(&p("t.glw"), &p(x), &p("y.npy"), extra);
        assert_eq!(r.code, 2, "{x} {extra:?}: {}", r.stderr);
        let lines: Vec<&str> = r.stderr.lines().collect();
        assert_eq!(lines.len(), 1, "{x} {extra:?}: {}", r.stderr);
        assert!(lines[0].starts_with(&format!("glocal: {}", p(x).display())), "{}", lines[0]);
        for n in needles {
            assert!(lines[0].contains(n), "{x} {extra:?}: {} lacks {n:?}", lines[0]);
        }
        assert!(!p("y.npy").exists(), "{x} {extra:?}: output written");
    }
    // A scale that is not finite and positive is refused by the argument parser (exit 2).
    for s in ["0", "-0.5", "nan", "inf", "x"] {
        let r = align(&p("t.glw"), &p("i8.npy"), &p("y.npy"), &["--input-scale", s]);
        assert_eq!(r.code, 2, "--input-scale {s}: {}", r.stderr);
        assert!(r.stderr.contains("--input-scale"), "{}", r.stderr);
        assert!(!p("y.npy").exists());
    }
}
