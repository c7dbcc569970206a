//! End to end through the binary: pack and align every shared transform in every dtype and
//! compare with the float64 golden outputs; npz direct; blob vs npz; feature dtypes and shapes.

mod common;
use common::*;

use std::path::Path;

const TOL: [(&str, f64); 3] = [("f32", 4e-6), ("f16", 1e-3), ("bf16", 8e-3)];

#[test]
fn golden_pack_then_align_all_transforms_all_dtypes() {
    let Some(shared) = shared("golden_pack_then_align_all_transforms_all_dtypes") else { return };
    let dir = tempfile::tempdir().unwrap();
    let mut worst = [0.0f64; 3];
    let mut checked = 0;
    for (golden, model, module, npz) in shared_transforms(&shared) {
        let x = shared.join("golden").join(&golden).join("x.npy");
        let (ref_shape, y_ref) = read_npy(&shared.join("golden").join(&golden).join("y_ref.npy"));
        for (i, (dtype, tol)) in TOL.iter().enumerate() {
            let blob = dir.path().join(format!("{golden}.{dtype}.glw"));
            let r = glocal([
                "pack".as_ref(),
                npz.as_os_str(),
                "-o".as_ref(),
                blob.as_os_str(),
                "--dtype".as_ref(),
                dtype.as_ref(),
            ]);
            ok(&r);
            // The header carries the names inferred from the repository layout.
            let r = glocal(["inspect".as_ref(), blob.as_os_str()]);
            ok(&r);
            assert!(
                r.stdout.contains(&format!("{model:?}")) && r.stdout.contains(&format!("{module:?}")),
                "{}",
                r.stdout
            );
            assert!(r.stdout.contains("status          valid"));
            let y = dir.path().join(format!("{golden}.{dtype}.npy"));
            let r = glocal([
                "align".as_ref(),
                blob.as_os_str(),
                x.as_os_str(),
                "-o".as_ref(),
                y.as_os_str(),
                "--quiet".as_ref(),
            ]);
            ok(&r);
            assert!(r.stderr.is_empty(), "--quiet must silence cautions: {}", r.stderr);
            let (shape, got) = read_npy(&y);
            assert_eq!(shape, ref_shape, "{golden} {dtype}");
            let e = rel_err(&got, &y_ref);
            println!("{golden:<45} {dtype:<5} max rel err {e:.3e}");
            assert!(e <= *tol, "{golden} {dtype}: error {e:e} > {tol:e}");
            worst[i] = worst[i].max(e);
            checked += 1;
        }
    }
    assert_eq!(checked, 27);
    println!("worst: f32 {:.3e}, f16 {:.3e}, bf16 {:.3e}", worst[0], worst[1], worst[2]);
}

fn align_to(transform: &Path, x: &Path, y: &Path, extra: &[&str]) -> Run {
    let mut c = cmd();
    c.arg("align").arg(transform).arg(x).arg("-o").arg(y).args(extra);
    run_cmd(&mut c)
}

#[test]
fn npz_direct_equals_blob_and_feature_dtypes_and_1d() {
    let Some(shared) = shared("npz_direct_equals_blob_and_feature_dtypes_and_1d") else { return };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let npz = shared.join("transforms/clip_ViT-L/14/visual/transform.npz"); // no bias, float64 mean/std
    let golden = shared.join("golden/clip_ViT-L_14__visual");
    let x_path = golden.join("x.npy");
    let (x_shape, x) = read_npy(&x_path);
    let (_, y_ref) = read_npy(&golden.join("y_ref.npy"));
    for dtype in ["f32", "f16", "bf16"] {
        let blob = d.join(format!("t.{dtype}.glw"));
        ok(&glocal([
            "pack".as_ref(),
            npz.as_os_str(),
            "-o".as_ref(),
            blob.as_os_str(),
            "--dtype".as_ref(),
            dtype.as_ref(),
        ]));
        let (yb, yn) = (d.join(format!("b.{dtype}.npy")), d.join(format!("n.{dtype}.npy")));
        ok(&align_to(&blob, &x_path, &yb, &[]));
        ok(&align_to(&npz, &x_path, &yn, &["--dtype", dtype]));
        assert_eq!(
            std::fs::read(&yb).unwrap(),
            std::fs::read(&yn).unwrap(),
            "blob and npz outputs differ ({dtype})"
        );
    }
    // Default --dtype for an npz is f32.
    let y_default = d.join("default.npy");
    ok(&align_to(&npz, &x_path, &y_default, &[]));
    assert_eq!(std::fs::read(&y_default).unwrap(), std::fs::read(d.join("b.f32.npy")).unwrap());

    // float64 and float16 features give the result of their float32 rounding.
    let x64 = d.join("x64.npy");
    write_f64(&x64, &x_shape, &x);
    let y64 = d.join("y64.npy");
    ok(&align_to(&npz, &x64, &y64, &[]));
    assert_eq!(std::fs::read(&y64).unwrap(), std::fs::read(&y_default).unwrap(), "float64 features");
    let x16: Vec<u8> = x.iter().flat_map(|v| glocal::f16::from_f64(*v).to_bits().to_le_bytes()).collect();
    let x16_path = d.join("x16.npy");
    std::fs::write(&x16_path, npy_bytes("<f2", &x_shape, &x16)).unwrap();
    let x16_as_f32: Vec<f32> = x.iter().map(|v| glocal::f16::from_f64(*v).to_f32()).collect();
    let x16_f32_path = d.join("x16f32.npy");
    write_f32(&x16_f32_path, &x_shape, &x16_as_f32);
    let (ya, yb) = (d.join("y16.npy"), d.join("y16f32.npy"));
    ok(&align_to(&npz, &x16_path, &ya, &[]));
    ok(&align_to(&npz, &x16_f32_path, &yb, &[]));
    assert_eq!(std::fs::read(&ya).unwrap(), std::fs::read(&yb).unwrap(), "float16 features");
    let (_, y16) = read_npy(&ya);
    assert!(rel_err(&y16, &y_ref) < 2e-3, "float16 features far from y_ref");

    // 1-D features: one row in, one row out with shape [d_out].
    let d_in = x_shape[1];
    let x1 = d.join("x1.npy");
    write_f64(&x1, &[d_in], &x[d_in * 3..d_in * 4]);
    let y1 = d.join("y1.npy");
    ok(&align_to(&npz, &x1, &y1, &[]));
    let (shape1, got1) = read_npy(&y1);
    assert_eq!(shape1, vec![768]);
    let (_, all) = read_npy(&y_default);
    assert_eq!(got1, all[768 * 3..768 * 4].to_vec());

    // Output dtypes: f16 is '<f2' (the f32 result rounded once); bf16 is '<u2' bit patterns.
    let (yh, ybf) = (d.join("yh.npy"), d.join("ybf.npy"));
    ok(&align_to(&npz, &x_path, &yh, &["--out-dtype", "f16"]));
    ok(&align_to(&npz, &x_path, &ybf, &["--out-dtype", "bf16"]));
    let (h16, raw16) = read_npy_raw(&yh);
    assert!(h16.contains("'descr': '<f2'") && h16.contains("(16, 768)"), "{h16}");
    let (hbf, rawbf) = read_npy_raw(&ybf);
    assert!(hbf.contains("'descr': '<u2'") && hbf.contains("(16, 768)"), "{hbf}");
    assert_eq!(raw16.len(), 16 * 768 * 2);
    for (i, y32) in all.iter().enumerate() {
        let h = glocal::f16::from_bits(u16::from_le_bytes([raw16[2 * i], raw16[2 * i + 1]]));
        assert_eq!(h, glocal::f16::from_f32(*y32 as f32), "f16 output [{i}]");
        let b = glocal::bf16::from_bits(u16::from_le_bytes([rawbf[2 * i], rawbf[2 * i + 1]]));
        assert_eq!(b, glocal::bf16::from_f32(*y32 as f32), "bf16 output [{i}]");
    }
}

#[test]
fn synthetic_shapes_fortran_and_big_endian_features() {
    // Needs nothing from ../shared: a synthetic transform of odd shape against the f64 oracle.
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let npz = d.join("transform.npz");
    let src = synthetic_npz(&npz, 37, 21, true);
    let rows = 9;
    let x: Vec<f64> = (0..rows * 37).map(|i| ((i * 13 % 29) as f64 - 14.0) * 0.1).collect();
    let x_path = d.join("x.npy");
    write_f64(&x_path, &[rows, 37], &x);
    let y_path = d.join("y.npy");
    ok(&align_to(&npz, &x_path, &y_path, &[]));
    let (shape, y) = read_npy(&y_path);
    assert_eq!(shape, vec![rows, 21]);
    let want = oracle(&src, &x);
    assert!(rel_err(&y, &want) < 4e-6, "{}", rel_err(&y, &want));

    // Fortran order: the same matrix stored column-major.
    let mut xf = vec![0.0f64; x.len()];
    for r in 0..rows {
        for c in 0..37 {
            xf[c * rows + r] = x[r * 37 + c];
        }
    }
    let data: Vec<u8> = xf.iter().flat_map(|v| v.to_le_bytes()).collect();
    let hdr = npy_bytes("<f8", &[rows, 37], &data);
    let text =
        String::from_utf8_lossy(&hdr[10..]).replace("'fortran_order': False", "'fortran_order': True ");
    let mut fortran = hdr[..10].to_vec();
    fortran.extend_from_slice(&text.as_bytes()[..hdr.len() - 10 - data.len()]);
    fortran.extend_from_slice(&data);
    let xf_path = d.join("xf.npy");
    std::fs::write(&xf_path, fortran).unwrap();
    let yf_path = d.join("yf.npy");
    ok(&align_to(&npz, &xf_path, &yf_path, &[]));
    assert_eq!(std::fs::read(&yf_path).unwrap(), std::fs::read(&y_path).unwrap(), "Fortran-order features");

    // Big-endian float32.
    let data: Vec<u8> = x.iter().flat_map(|v| (*v as f32).to_be_bytes()).collect();
    let xb_path = d.join("xb.npy");
    std::fs::write(&xb_path, npy_bytes(">f4", &[rows, 37], &data)).unwrap();
    let yb_path = d.join("yb.npy");
    ok(&align_to(&npz, &xb_path, &yb_path, &[]));
    assert_eq!(std::fs::read(&yb_path).unwrap(), std::fs::read(&y_path).unwrap(), "big-endian features");
}

#[test]
fn many_rows_cross_chunk_boundaries() {
    // More rows than one chunk holds (4 MiB / (4 * (d_in + d_out)) rows), so the chunked loop,
    // its tail and the output offsets are all exercised.
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let npz = d.join("transform.npz");
    // Narrow rows keep the run cheap while spanning several chunks.
    let (d_in, d_out) = (6, 3);
    let src = synthetic_npz(&npz, d_in, d_out, false);
    let per_chunk = 4 * 1024 * 1024 / (4 * (d_in + d_out));
    let rows = 2 * per_chunk + 7;
    let x: Vec<f32> = (0..rows * d_in).map(|i| ((i * 31 % 97) as f32 - 48.0) * 0.02).collect();
    let x_path = d.join("x.npy");
    write_f32(&x_path, &[rows, d_in], &x);
    let y_path = d.join("y.npy");
    ok(&align_to(&npz, &x_path, &y_path, &["--quiet"]));
    let (shape, y) = read_npy(&y_path);
    assert_eq!(shape, vec![rows, d_out]);
    // Every row against the oracle (first, chunk boundaries, tail included).
    let xs: Vec<f64> = x.iter().map(|&v| v as f64).collect();
    let want = oracle(&src, &xs);
    let e = rel_err(&y, &want);
    assert!(e < 4e-6, "{e:e}");
}

#[test]
fn npz_features_with_key() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let npz = d.join("transform.npz");
    let src = synthetic_npz(&npz, 8, 5, true);
    let x: Vec<f32> = (0..3 * 8).map(|i| i as f32 * 0.25 - 2.0).collect();
    let xb: Vec<u8> = x.iter().flat_map(|v| v.to_le_bytes()).collect();
    let feats = d.join("feats.npz");
    write_npz(
        &feats,
        &[
            ("penultimate.npy", npy_bytes("<f4", &[3, 8], &xb)),
            ("labels.npy", npy_bytes("<f4", &[3], &[0u8; 12])),
        ],
    );
    let y = d.join("y.npy");
    ok(&align_to(&npz, &feats, &y, &["--key", "penultimate"]));
    let (shape, got) = read_npy(&y);
    assert_eq!(shape, vec![3, 5]);
    let want = oracle(&src, &x.iter().map(|&v| v as f64).collect::<Vec<_>>());
    assert!(rel_err(&got, &want) < 4e-6);
    // A single-array archive needs no --key.
    let single = d.join("single.npz");
    write_npz(&single, &[("arr_0.npy", npy_bytes("<f4", &[3, 8], &xb))]);
    let y2 = d.join("y2.npy");
    ok(&align_to(&npz, &single, &y2, &[]));
    assert_eq!(std::fs::read(&y).unwrap(), std::fs::read(&y2).unwrap());
}
