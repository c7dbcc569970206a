//! `glocal align --normalize`, `--threads N` and `--dtype i8d` (issue 8), end to end through the
//! binary: compared with the library (bit for bit where the arithmetic is the same) and with the
//! f64 oracle.

mod common;
use common::*;

use std::path::{Path, PathBuf};

use glocal::{AlignedBlob, PostOp, Transform};

/// Deterministic features in [-2, 2), with a few exact zeros.
fn features(rows: usize, d_in: usize) -> Vec<f32> {
    (0..rows * d_in).map(|i| ((i * 2654435761usize) % 4001) as f32 / 1000.0 - 2.0).collect()
}

/// The data of an output `.npy` as raw bytes (after checking descr and shape).
fn out_data(path: &Path, descr: &str, shape: &[usize]) -> Vec<u8> {
    let (header, data) = read_npy_raw(path);
    assert!(header.contains(&format!("'descr': '{descr}'")), "{header}");
    let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    assert!(header.contains(&format!("'shape': ({})", dims.join(", "))), "{header}");
    data
}

/// The library's result for the same blob and features.
fn library<O: glocal::Element + Send + bytemuck_free::Bytes>(
    blob: &Path,
    x: &[f32],
    post: PostOp,
) -> Vec<u8> {
    let bytes = AlignedBlob::from_bytes(&std::fs::read(blob).unwrap());
    let t = Transform::new(bytes.as_bytes()).unwrap();
    let mut y = vec![O::from_f32(f32::NAN); x.len() / t.d_in() * t.d_out()];
    t.apply_with(x, &mut y, post).unwrap();
    y.iter().flat_map(|v| v.le()).collect()
}

/// Little-endian bytes of an output element (the tests do not depend on bytemuck).
mod bytemuck_free {
    pub trait Bytes: Copy {
        fn le(self) -> Vec<u8>;
    }
    impl Bytes for f32 {
        fn le(self) -> Vec<u8> {
            self.to_le_bytes().to_vec()
        }
    }
    impl Bytes for glocal::f16 {
        fn le(self) -> Vec<u8> {
            self.to_bits().to_le_bytes().to_vec()
        }
    }
    impl Bytes for glocal::bf16 {
        fn le(self) -> Vec<u8> {
            self.to_bits().to_le_bytes().to_vec()
        }
    }
}

struct Setup {
    dir: tempfile::TempDir,
}

impl Setup {
    /// A `d_in x d_out` synthetic transform packed as `dtype` (`t.glw`) and `rows` features (`x.npy`).
    fn new(d_in: usize, d_out: usize, rows: usize, dtype: &str) -> (Setup, Vec<f32>) {
        let s = Setup { dir: tempfile::tempdir().unwrap() };
        synthetic_npz(&s.p("t.npz"), d_in, d_out, true);
        pack(&s.p("t.npz"), &s.p("t.glw"), dtype);
        let x = features(rows, d_in);
        write_f32(&s.p("x.npy"), &[rows, d_in], &x);
        (s, x)
    }
    fn p(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

#[test]
fn normalize_gives_the_librarys_unit_norm_rows() {
    let (d_in, d_out, rows) = (40, 24, 50);
    let (s, x) = Setup::new(d_in, d_out, rows, "f32");
    for (out_dtype, descr, rel) in
        [("f32", "<f4", 0.0), ("f16", "<f2", 1.0 / 2048.0), ("bf16", "<u2", 1.0 / 256.0)]
    {
        let y = s.p(&format!("y_{out_dtype}.npy"));
        ok(&align(&s.p("t.glw"), &s.p("x.npy"), &y, &["--normalize", "--out-dtype", out_dtype]));
        let got = out_data(&y, descr, &[rows, d_out]);
        let want = match out_dtype {
            "f32" => library::<f32>(&s.p("t.glw"), &x, PostOp::L2Normalize),
            "f16" => library::<glocal::f16>(&s.p("t.glw"), &x, PostOp::L2Normalize),
            _ => library::<glocal::bf16>(&s.p("t.glw"), &x, PostOp::L2Normalize),
        };
        assert_eq!(got, want, "--normalize --out-dtype {out_dtype} differs from Transform::apply_with");
        // Unit norm, within f32 rounding plus one rounding of the output type per element.
        let values: Vec<f64> = got
            .chunks_exact(if out_dtype == "f32" { 4 } else { 2 })
            .map(|b| match out_dtype {
                "f32" => f32::from_le_bytes(b.try_into().unwrap()) as f64,
                "f16" => glocal::f16::from_le_bytes(b.try_into().unwrap()).to_f64(),
                _ => glocal::bf16::from_le_bytes(b.try_into().unwrap()).to_f64(),
            })
            .collect();
        for row in values.chunks_exact(d_out) {
            let norm = row.iter().map(|v| v * v).sum::<f64>().sqrt();
            let bound = 2.0 * ((d_out + 4) as f64 * f32::EPSILON as f64 + rel);
            assert!((norm - 1.0).abs() <= bound, "{out_dtype}: row norm {norm}");
        }
    }
    // Without --normalize the rows are not unit-norm (the flag did something).
    let y = s.p("plain.npy");
    ok(&align(&s.p("t.glw"), &s.p("x.npy"), &y, &[]));
    assert_eq!(out_data(&y, "<f4", &[rows, d_out]), library::<f32>(&s.p("t.glw"), &x, PostOp::None));
    assert_ne!(out_data(&y, "<f4", &[rows, d_out]), out_data(&s.p("y_f32.npy"), "<f4", &[rows, d_out]));
}

#[test]
fn normalize_keeps_nan_rows_nan_and_notes_them() {
    let (d_in, d_out, rows) = (8, 5, 4);
    let (s, mut x) = Setup::new(d_in, d_out, rows, "f32");
    x[d_in + 3] = f32::NAN;
    write_f32(&s.p("x.npy"), &[rows, d_in], &x);
    let y = s.p("y.npy");
    let mut c = cmd();
    c.arg("align").arg(s.p("t.glw")).arg(s.p("x.npy")).arg("-o").arg(&y).arg("--normalize");
    let r = run_cmd(&mut c);
    ok(&r);
    assert!(r.stderr.contains("1 of 4 rows contain NaN or infinite values"), "{}", r.stderr);
    let (_, v) = read_npy(&y);
    for (i, row) in v.chunks_exact(d_out).enumerate() {
        assert_eq!(row.iter().all(|v| v.is_nan()), i == 1, "row {i}: {row:?}");
        assert!(i == 1 || (row.iter().map(|v| v * v).sum::<f64>().sqrt() - 1.0).abs() < 1e-5);
    }
}

#[test]
fn threads_give_byte_identical_output_across_chunks_and_feature_dtypes() {
    // 3000 rows x 512 outputs: several 4 MiB chunks, each split over the threads.
    let (d_in, d_out, rows) = (64, 512, 3000);
    let (s, x) = Setup::new(d_in, d_out, rows, "f16");
    let x64: Vec<f64> = x.iter().map(|&v| v as f64).collect();
    write_f64(&s.p("x64.npy"), &[rows, d_in], &x64);
    let want = library::<f32>(&s.p("t.glw"), &x, PostOp::None);
    let want_norm = library::<f32>(&s.p("t.glw"), &x, PostOp::L2Normalize);
    for features in ["x.npy", "x64.npy"] {
        for threads in ["1", "2", "3", "7", "0"] {
            let y = s.p(&format!("y_{features}_{threads}.npy"));
            ok(&align(&s.p("t.glw"), &s.p(features), &y, &["--threads", threads]));
            let got = out_data(&y, "<f4", &[rows, d_out]);
            assert!(got == want, "{features} --threads {threads}: output differs from the library's");
            ok(&align(&s.p("t.glw"), &s.p(features), &y, &["--threads", threads, "--normalize"]));
            let got = out_data(&y, "<f4", &[rows, d_out]);
            assert!(got == want_norm, "{features} --threads {threads} --normalize: output differs");
        }
    }
}

#[test]
fn threads_out_of_range_and_bad_dtypes_are_usage_errors() {
    let (s, _) = Setup::new(8, 5, 4, "f32");
    let y = s.p("y.npy");
    let before = listing(s.dir.path());
    for extra in [
        &["--threads", "1025"][..],
        &["--threads", "100000"],
        &["--threads=-1"],
        &["--threads", "two"],
        &["--out-dtype", "i8d"],
        &["--dtype", "i4"],
    ] {
        let r = align(&s.p("t.glw"), &s.p("x.npy"), &y, extra);
        assert_eq!(r.code, 2, "{extra:?}: {r:?}");
        assert!(r.stderr.contains("invalid value"), "{extra:?}: {}", r.stderr);
        assert_eq!(listing(s.dir.path()), before, "{extra:?} left files behind");
    }
    let r = align(&s.p("t.glw"), &s.p("x.npy"), &y, &["--threads", "1025"]);
    assert!(r.stderr.contains("0..=1024"), "{}", r.stderr);
}

#[test]
fn i8d_pack_inspect_align_round_trip_within_8e_3_of_the_oracle() {
    let (d_in, d_out, rows) = (96, 80, 33);
    let s = Setup { dir: tempfile::tempdir().unwrap() };
    let source = synthetic_npz(&s.p("t.npz"), d_in, d_out, true);
    pack(&s.p("t.npz"), &s.p("i8d.glw"), "i8d");
    pack(&s.p("t.npz"), &s.p("f16.glw"), "f16");
    let r = glocal(["inspect".as_ref(), s.p("i8d.glw").as_os_str()]);
    ok(&r);
    assert!(r.stdout.contains("dtype           4 (i8d)"), "{}", r.stdout);
    assert!(r.stdout.contains("status          valid"), "{}", r.stdout);
    // The scales and the diagonal are i8d's aux section, not a mismatch or padding: 96 row
    // scales and 80 diagonal values as f32.
    assert!(!r.stdout.contains("MISMATCH"), "{}", r.stdout);
    assert!(r.stdout.contains(&format!("aux_len         {}", (96 + 80) * 4)), "{}", r.stdout);
    assert!(r.stdout.contains(&format!("+ scales and diagonal {}", (96 + 80) * 4)), "{}", r.stdout);
    let (i8d_len, f16_len) =
        (std::fs::metadata(s.p("i8d.glw")).unwrap().len(), std::fs::metadata(s.p("f16.glw")).unwrap().len());
    assert!(i8d_len * 100 <= f16_len * 60, "i8d blob {i8d_len} B vs f16 {f16_len} B");

    let x = features(rows, d_in);
    write_f32(&s.p("x.npy"), &[rows, d_in], &x);
    let w: Vec<f32> = source.weights.iter().map(|&v| v as f32).collect();
    let b: Vec<f32> = source.bias.as_ref().unwrap().iter().map(|&v| v as f32).collect();
    let mut y_ref = vec![0.0f64; rows * d_out];
    glocal::reference::affine_f64(&x, &w, Some(&b), source.mean, source.std, d_in, d_out, &mut y_ref);
    // A blob and an .npz packed in memory with --dtype i8d give the same result.
    for (transform, extra) in [("i8d.glw", &[][..]), ("t.npz", &["--dtype", "i8d"][..])] {
        let y = s.p("y.npy");
        ok(&align(&s.p(transform), &s.p("x.npy"), &y, extra));
        let (shape, got) = read_npy(&y);
        assert_eq!(shape, [rows, d_out]);
        let e = rel_err(&got, &y_ref);
        println!("i8d via {transform}: max error {e:.3e} of max |y_ref|");
        assert!(e <= 8e-3, "{transform}: i8d error {e:e} > 8e-3");
        assert!(e > 0.0, "i8d is not exact on this transform: the comparison must see its error");
    }
    // The blob keeps its dtype: another --dtype is an error naming both, and writes nothing.
    let before = listing(s.dir.path());
    let r = align(&s.p("i8d.glw"), &s.p("x.npy"), &s.p("z.npy"), &["--dtype", "f16"]);
    fails(&r, &s.p("i8d.glw").display().to_string(), &["stores i8d weights", "--dtype asks for f16"]);
    assert_eq!(listing(s.dir.path()), before);
}

#[test]
fn i8d_on_a_shared_transform_within_8e_3_of_golden() {
    let Some(shared) = shared("i8d_on_a_shared_transform_within_8e_3_of_golden") else { return };
    let dir = tempfile::tempdir().unwrap();
    let golden = shared.join("golden/resnet18__avgpool");
    let blob = dir.path().join("r18.glw");
    pack(&shared.join("transforms/resnet18/avgpool/transform.npz"), &blob, "i8d");
    let y = dir.path().join("y.npy");
    ok(&align(&blob, &golden.join("x.npy"), &y, &["--threads", "2"]));
    let (_, got) = read_npy(&y);
    let (_, y_ref) = read_npy(&golden.join("y_ref.npy"));
    let e = rel_err(&got, &y_ref);
    println!("resnet18/avgpool i8d: max error {e:.3e} of max |y_ref|");
    assert!(e <= 8e-3, "{e:e}");
}
