//! Golden end-to-end: the nine real gLocal transforms in ../shared, packed in every dtype,
//! applied to the golden inputs by every kernel this CPU runs for that dtype (scalar and SIMD),
//! against thingsvision's formula evaluated in f64.

mod common;

use glocal::kernel::KERNELS;
use glocal::pack::{npy::Npy, npz};
use glocal::{pack, Transform, WeightDtype};

/// Error bound relative to max |y_ref| per weight dtype (issue 2).
fn tolerance(dtype: WeightDtype) -> f64 {
    match dtype {
        WeightDtype::F32 => 4e-6,
        WeightDtype::F16 => 1e-3,
        _ => 8e-3,
    }
}

#[test]
fn golden_all_transforms_all_dtypes() {
    let Some(shared) = common::shared_dir("golden_all_transforms_all_dtypes") else { return };
    let mut worst = [0.0f64; WeightDtype::ALL.len()];
    for (path, golden) in common::SHARED_TRANSFORMS {
        let npz_bytes = std::fs::read(shared.join("transforms").join(path).join("transform.npz")).unwrap();
        let source = npz::read_transform(&npz_bytes).unwrap();
        let x_bytes = std::fs::read(shared.join("golden").join(golden).join("x.npy")).unwrap();
        let y_bytes = std::fs::read(shared.join("golden").join(golden).join("y_ref.npy")).unwrap();
        let x = Npy::parse(&x_bytes).unwrap().to_f32();
        let y_ref = Npy::parse(&y_bytes).unwrap().to_f64();
        let rows = x.len() / source.d_in;
        assert_eq!(rows, 16, "{golden}: golden inputs are 16 rows");
        let scale = y_ref.iter().fold(0.0f64, |m, v| m.max(v.abs()));

        // The f64 oracle itself must reproduce y_ref (it is the same formula).
        let w32: Vec<f32> = source.weights.iter().map(|&v| v as f32).collect();
        let b32: Option<Vec<f32>> = source.bias.as_ref().map(|b| b.iter().map(|&v| v as f32).collect());
        let mut y_oracle = vec![f64::NAN; rows * source.d_out];
        glocal::reference::affine_f64(
            &x,
            &w32,
            b32.as_deref(),
            source.mean,
            source.std,
            source.d_in,
            source.d_out,
            &mut y_oracle,
        );
        let (oracle_err, _) = common::max_abs_diff(&y_oracle, &y_ref);
        assert!(oracle_err / scale < 1e-12, "{golden}: oracle differs from y_ref by {oracle_err}");

        for (di, dtype) in WeightDtype::ALL.into_iter().enumerate() {
            let blob = pack::pack(&source, dtype, path, "").unwrap();
            let kernels: Vec<_> =
                KERNELS.iter().filter(|k| k.dtype == dtype && k.isa.is_available()).collect();
            assert!(kernels.len() >= 1, "{dtype}: no kernel runs");
            for k in kernels {
                let t = Transform::with_isa(blob.as_bytes(), k.isa).unwrap();
                assert_eq!(t.kernel().name, k.name);
                let mut y = vec![f32::NAN; rows * source.d_out];
                assert_eq!(t.apply(&x, &mut y).unwrap(), rows);
                let y64: Vec<f64> = y.iter().map(|&v| v as f64).collect();
                let (err, at) = common::max_abs_diff(&y64, &y_ref);
                let rel = err / scale;
                println!(
                    "{golden:48} {dtype:5} kernel {:28} max abs err {err:.3e} (rel {rel:.3e}) at {at}",
                    t.kernel().name
                );
                assert!(
                    rel <= tolerance(dtype),
                    "{golden} {dtype}: rel err {rel:.3e} > {:.0e} at index {at}: got {}, want {}",
                    tolerance(dtype),
                    y64[at],
                    y_ref[at]
                );
                worst[di] = worst[di].max(rel);
            }
        }
    }
    for (dtype, w) in WeightDtype::ALL.into_iter().zip(worst) {
        println!("worst relative error: {dtype} {w:.3e}");
    }
}

/// The single-row path and f16/bf16 inputs and outputs agree with the batch path.
#[test]
fn golden_rows_and_io_dtypes_agree() {
    let Some(shared) = common::shared_dir("golden_rows_and_io_dtypes_agree") else { return };
    let npz_bytes = std::fs::read(shared.join("transforms/resnet18/avgpool/transform.npz")).unwrap();
    let source = npz::read_transform(&npz_bytes).unwrap();
    let x =
        Npy::parse(&std::fs::read(shared.join("golden/resnet18__avgpool/x.npy")).unwrap()).unwrap().to_f32();
    let blob = pack::pack(&source, WeightDtype::F16, "resnet18", "avgpool").unwrap();
    let t = Transform::new(blob.as_bytes()).unwrap();
    let (d_in, d_out) = (t.d_in(), t.d_out());
    let mut batch = vec![f32::NAN; 16 * d_out];
    t.apply(&x, &mut batch).unwrap();
    for r in 0..16 {
        let mut row = vec![f32::NAN; d_out];
        t.apply(&x[r * d_in..(r + 1) * d_in], &mut row).unwrap();
        assert_eq!(row, batch[r * d_out..(r + 1) * d_out], "row {r} alone differs from the batch");
    }
    // f16 in, bf16 out: the same as rounding the f32 path's inputs and outputs.
    let x16: Vec<glocal::f16> = x.iter().map(|&v| glocal::f16::from_f32(v)).collect();
    let x16_as_f32: Vec<f32> = x16.iter().map(|v| v.to_f32()).collect();
    let mut want = vec![f32::NAN; 16 * d_out];
    t.apply(&x16_as_f32, &mut want).unwrap();
    let mut got = vec![glocal::bf16::from_f32(f32::NAN); 16 * d_out];
    t.apply(&x16, &mut got).unwrap();
    for (i, (g, w)) in got.iter().zip(&want).enumerate() {
        assert_eq!(g.to_bits(), glocal::bf16::from_f32(*w).to_bits(), "element {i}");
    }
}
