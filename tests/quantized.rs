//! Quantized inputs (`Transform::apply_quantized`, issue 23): int8 and uint8 rows with a scale
//! and zero point, through every kernel this CPU runs and every weight dtype and output type.
//!
//! - bit for bit what `apply` gives on the dequantized f32 inputs, with the same kernel (single
//!   rows, tile remainders, several chunks, packed batches with a workspace, post-ops);
//! - within the golden tolerance of the f64 formula on the dequantized inputs (../shared);
//! - a row of zero points gives exactly the bias;
//! - every error: scale zero, negative, NaN, infinite; zero point outside the type's range;
//!   input and output lengths; `y` untouched each time.

mod common;

use common::Rng;
use glocal::kernel::{Isa, KernelInfo, KERNELS};
use glocal::pack::{self, Source};
use glocal::{bf16, f16, Element, Error, PostOp, QuantizedRows, Transform, WeightDtype};

/// Kernels of the registry this CPU can run.
fn runnable() -> Vec<&'static KernelInfo> {
    let ks: Vec<_> = KERNELS.iter().filter(|k| k.isa.is_available()).collect();
    assert!(ks.iter().any(|k| k.isa == Isa::Scalar), "the scalar kernels must always run");
    ks
}

/// A general (non-integer) random transform.
fn source(d_in: usize, d_out: usize, seed: u64) -> Source {
    let mut r = Rng::new(seed);
    let weights = r.uniform_vec(d_in * d_out, 0.5);
    let bias = Some(r.uniform_vec(d_out, 1.0));
    Source { d_in, d_out, weights, bias, mean: 0.3, std: 1.7 }
}

/// The quantized elements of one test: int8 or uint8.
#[derive(Clone, Debug)]
enum Q {
    I8(Vec<i8>),
    U8(Vec<u8>),
}

impl Q {
    fn random(signed: bool, n: usize, seed: u64) -> Q {
        let mut r = Rng::new(seed ^ 0x51);
        if signed {
            Q::I8((0..n).map(|_| r.int_in(-128, 127) as i8).collect())
        } else {
            Q::U8((0..n).map(|_| r.int_in(0, 255) as u8).collect())
        }
    }
    fn rows(&self, scale: f32, zp: i32) -> QuantizedRows<'_> {
        match self {
            Q::I8(v) => QuantizedRows::i8(v, scale, zp),
            Q::U8(v) => QuantizedRows::u8(v, scale, zp),
        }
    }
    /// The dequantized inputs, by the documented formula, written out here independently.
    fn dequantized(&self, scale: f32, zp: i32) -> Vec<f32> {
        match self {
            Q::I8(v) => v.iter().map(|&q| ((q as i32 - zp) as f32) * scale).collect(),
            Q::U8(v) => v.iter().map(|&q| ((q as i32 - zp) as f32) * scale).collect(),
        }
    }
}

fn type_name<T>() -> &'static str {
    std::any::type_name::<T>().rsplit("::").next().unwrap_or("?")
}

/// Same bits, or both NaN.
fn same<O: Element>(a: &[O], b: &[O]) -> Option<usize> {
    a.iter().zip(b).position(|(x, y)| {
        let (x, y) = (x.to_f32(), y.to_f32());
        !(x.to_bits() == y.to_bits() || (x.is_nan() && y.is_nan()))
    })
}

/// `apply_quantized` (and the workspace form) against `apply` on the dequantized inputs, same
/// kernel, for one blob, batch, element type and parameters.
fn check_bits<O: Element>(t: &Transform<'_>, q: &Q, scale: f32, zp: i32, rows: usize, case: &str) {
    let case =
        format!("{} {case} out {} scale {scale:e} zp {zp} rows {rows}", t.kernel().name, type_name::<O>());
    let xf = q.dequantized(scale, zp);
    let x = q.rows(scale, zp);
    for (i, v) in xf.iter().enumerate() {
        assert_eq!(x.dequantize(i).map(f32::to_bits), Some(v.to_bits()), "dequantize({i}), {case}");
    }
    let n = rows * t.d_out();
    let mut want = vec![O::from_f32(f32::NAN); n];
    assert_eq!(t.apply(&xf, &mut want), Ok(rows), "{case}");
    let mut got = vec![O::from_f32(f32::NAN); n];
    assert_eq!(t.apply_quantized(x, &mut got), Ok(rows), "{case}");
    assert!(want.iter().all(|v| !v.to_f32().is_nan()), "{case}: a NaN output");
    if let Some(i) = same(&got, &want) {
        panic!(
            "{case}: y[{i}] = {} but apply on the dequantized inputs gives {}",
            got[i].to_f32(),
            want[i].to_f32()
        );
    }
    // Workspace (packed inputs from 12 rows on the SIMD kernels) and a post-op.
    let mut ws = vec![0f32; t.workspace_len(rows)];
    let mut want_ws = vec![O::from_f32(f32::NAN); n];
    assert_eq!(t.apply_with_workspace(&xf, &mut want_ws, PostOp::L2Normalize, &mut ws), Ok(rows), "{case}");
    let mut got_ws = vec![O::from_f32(f32::NAN); n];
    assert_eq!(t.apply_quantized_with_workspace(x, &mut got_ws, PostOp::L2Normalize, &mut ws), Ok(rows));
    if let Some(i) = same(&got_ws, &want_ws) {
        panic!(
            "{case}, workspace + L2: y[{i}] = {} but f32 path gives {}",
            got_ws[i].to_f32(),
            want_ws[i].to_f32()
        );
    }
    let mut got_plain = vec![O::from_f32(f32::NAN); n];
    assert_eq!(t.apply_quantized_with_workspace(x, &mut got_plain, PostOp::None, &mut ws), Ok(rows));
    assert_eq!(same(&got_plain, &want), None, "{case}, workspace without post-op");
}

/// Every runnable kernel and weight dtype, int8 and uint8, several scales and zero points,
/// batches of 1 (the single-row stream), MR - 1, MR, MR + 1 of the kernel, and 150 (a chunk of
/// 144 rows and a remainder; packed with a workspace); `d_in` 300 spans two K-blocks of the
/// batch driver and several input chunks of the portable and Cortex-M drivers.
#[test]
fn bit_identical_to_the_f32_path_on_dequantized_inputs() {
    let (d_in, d_out) = (300, 37);
    let params: [(bool, f32, i32); 6] = [
        (true, 0.05, 0),
        (true, 0.0123, -128),
        (true, 3.5, 127),
        (false, 0.02, 128),
        (false, 1.0 / 255.0, 0),
        (false, 0.75, 255),
    ];
    for (di, dtype) in WeightDtype::ALL.into_iter().enumerate() {
        let blob = pack::pack(&source(d_in, d_out, 11 + di as u64), dtype, "t", "q").unwrap();
        for k in runnable().into_iter().filter(|k| k.dtype == dtype) {
            let t = Transform::with_isa(blob.as_bytes(), k.isa).unwrap();
            assert_eq!(t.kernel().name, k.name);
            let mut batches = vec![1, k.mr.saturating_sub(1).max(2), k.mr, k.mr + 1, 150];
            batches.dedup();
            for (pi, &(signed, scale, zp)) in params.iter().enumerate() {
                for &rows in &batches {
                    let q = Q::random(signed, rows * d_in, (pi * 1000 + rows) as u64);
                    let case = if signed { "int8" } else { "uint8" };
                    // The output types in turn, so the matrix stays affordable under qemu.
                    match (pi + rows) % 3 {
                        0 => check_bits::<f32>(&t, &q, scale, zp, rows, case),
                        1 => check_bits::<f16>(&t, &q, scale, zp, rows, case),
                        _ => check_bits::<bf16>(&t, &q, scale, zp, rows, case),
                    }
                }
            }
            // Every output type at least on the shapes that reach every driver path.
            for rows in [1, k.mr + 1, 150] {
                let q = Q::random(true, rows * d_in, 77 + rows as u64);
                check_bits::<f32>(&t, &q, 0.03, -5, rows, "int8");
                check_bits::<f16>(&t, &q, 0.03, -5, rows, "int8");
                check_bits::<bf16>(&t, &q, 0.03, -5, rows, "int8");
            }
        }
    }
}

/// A short depth (less than one input chunk) and a wide one (above the single-row driver's
/// 1024-input chunk), so every chunking of the input conversion is reached.
#[test]
fn bit_identical_short_and_long_depths() {
    for (d_in, d_out) in [(3, 5), (1100, 17)] {
        for dtype in WeightDtype::ALL {
            let blob = pack::pack(&source(d_in, d_out, d_in as u64), dtype, "t", "q").unwrap();
            for k in runnable().into_iter().filter(|k| k.dtype == dtype) {
                let t = Transform::with_isa(blob.as_bytes(), k.isa).unwrap();
                for rows in [1, 2, k.mr + 1] {
                    let q = Q::random(rows % 2 == 0, rows * d_in, rows as u64);
                    check_bits::<f32>(&t, &q, 0.125, 3, rows, "depth");
                }
            }
        }
    }
}

/// Rows whose every element equals the zero point are the zero vector: the output is exactly
/// the stored bias, on every kernel and dtype, and rounded once to f16.
#[test]
fn a_row_of_zero_points_gives_exactly_the_bias() {
    let (d_in, d_out) = (40, 21);
    for dtype in WeightDtype::ALL {
        let blob = pack::pack(&source(d_in, d_out, 5), dtype, "t", "q").unwrap();
        for k in runnable().into_iter().filter(|k| k.dtype == dtype) {
            let t = Transform::with_isa(blob.as_bytes(), k.isa).unwrap();
            let bias: Vec<f32> = (0..d_out).map(|j| t.folded_bias(j).unwrap()).collect();
            assert!(bias.iter().any(|&b| b != 0.0), "the test needs a non-zero bias");
            for rows in [1, 3, 7] {
                for (q, zp) in [(Q::I8(vec![-7; rows * d_in]), -7), (Q::U8(vec![200; rows * d_in]), 200)] {
                    let x = q.rows(0.37, zp);
                    let mut y = vec![f32::NAN; rows * d_out];
                    assert_eq!(t.apply_quantized(x, &mut y), Ok(rows));
                    for (i, v) in y.iter().enumerate() {
                        assert_eq!(*v, bias[i % d_out], "{} rows {rows} y[{i}]", k.name);
                    }
                    let mut y16 = vec![f16::NAN; rows * d_out];
                    assert_eq!(t.apply_quantized(x, &mut y16), Ok(rows));
                    for (i, v) in y16.iter().enumerate() {
                        assert_eq!(
                            v.to_bits(),
                            f16::from_f32(bias[i % d_out]).to_bits(),
                            "{} f16 y[{i}]",
                            k.name
                        );
                    }
                }
            }
        }
    }
}

/// The extremes of both element types with extreme zero points: `q - zp` spans -255..=255,
/// exact in f32, so the dequantized value is `(q - zp) * scale` rounded once, also for a
/// scale that is not a power of two.
#[test]
fn dequantize_extremes() {
    let s = 0.1f32;
    let x = QuantizedRows::i8(&[-128, 127, 0], s, 127);
    assert_eq!(x.dequantize(0), Some(-255.0 * s));
    assert_eq!(x.dequantize(1), Some(0.0));
    assert_eq!(x.dequantize(2), Some(-127.0 * s));
    assert_eq!(x.dequantize(3), None);
    let x = QuantizedRows::i8(&[127], s, -128);
    assert_eq!(x.dequantize(0), Some(255.0 * s));
    let x = QuantizedRows::u8(&[255, 0], s, 0);
    assert_eq!(x.dequantize(0), Some(25.5f32));
    assert_eq!(x.dequantize(1), Some(0.0));
    let x = QuantizedRows::u8(&[0], s, 255);
    assert_eq!(x.dequantize(0), Some(-255.0 * s));
    // Accessors.
    assert_eq!((x.len(), x.is_empty(), x.scale(), x.zero_point()), (1, false, s, 255));
    assert_eq!(x.zero_point_range(), 0..=255);
    assert_eq!(QuantizedRows::i8(&[], 1.0, 0).zero_point_range(), -128..=127);
    assert!(QuantizedRows::i8(&[], 1.0, 0).is_empty());
    // Parameters apply_quantized refuses dequantize nothing.
    assert_eq!(QuantizedRows::u8(&[1], 0.0, 0).dequantize(0), None);
    assert_eq!(QuantizedRows::u8(&[1], f32::NAN, 0).dequantize(0), None);
    assert_eq!(QuantizedRows::i8(&[1], 1.0, 200).dequantize(0), None);
    assert_eq!(QuantizedRows::u8(&[1], 1.0, -1).dequantize(0), None);
}

/// Every error, on every runnable kernel, and `y` untouched each time; parameters are checked
/// before lengths.
#[test]
fn errors_leave_y_untouched() {
    let (d_in, d_out) = (4, 3);
    let blob = pack::pack(&source(d_in, d_out, 1), WeightDtype::F32, "t", "q").unwrap();
    let bad_scales = [0.0f32, -0.0, -1.0, -f32::MIN_POSITIVE, f32::NAN, f32::INFINITY, f32::NEG_INFINITY];
    for k in runnable().into_iter().filter(|k| k.dtype == WeightDtype::F32) {
        let t = Transform::with_isa(blob.as_bytes(), k.isa).unwrap();
        let xi = [1i8; 8];
        let xu = [1u8; 8];
        let check = |x: QuantizedRows<'_>, y_len: usize, want: Error| {
            let mut y = vec![-7.25f32; y_len];
            // Compared as Debug text: NaN scales compare unequal, and -0.0 must stay -0.0.
            let got = t.apply_quantized(x, &mut y);
            assert_eq!(format!("{got:?}"), format!("{:?}", Err::<usize, _>(want)), "{} {x:?}", k.name);
            assert!(y.iter().all(|&v| v == -7.25), "{}: y written on error {want:?}", k.name);
            let mut y = vec![bf16::from_f32(-7.25); y_len];
            let mut ws = vec![0f32; 64];
            let got = t.apply_quantized_with_workspace(x, &mut y, PostOp::L2Normalize, &mut ws);
            assert_eq!(format!("{got:?}"), format!("{:?}", Err::<usize, _>(want)), "{} {x:?}", k.name);
            assert!(y.iter().all(|&v| v.to_f32() == -7.25), "{}: y written on error {want:?}", k.name);
        };
        for s in bad_scales {
            check(QuantizedRows::i8(&xi, s, 0), 6, Error::BadInputScale { value: s });
            check(QuantizedRows::u8(&xu, s, 0), 6, Error::BadInputScale { value: s });
            // The scale before the lengths.
            check(QuantizedRows::u8(&xu[..3], s, 0), 1, Error::BadInputScale { value: s });
        }
        for zp in [-129, 128, i32::MIN, i32::MAX] {
            check(
                QuantizedRows::i8(&xi, 1.0, zp),
                6,
                Error::BadInputZeroPoint { value: zp, min: -128, max: 127 },
            );
        }
        for zp in [-1, 256, -128, i32::MIN, i32::MAX] {
            check(
                QuantizedRows::u8(&xu, 1.0, zp),
                6,
                Error::BadInputZeroPoint { value: zp, min: 0, max: 255 },
            );
        }
        // The zero point before the lengths.
        check(
            QuantizedRows::u8(&xu[..3], 1.0, 300),
            6,
            Error::BadInputZeroPoint { value: 300, min: 0, max: 255 },
        );
        check(QuantizedRows::i8(&xi[..3], 1.0, 0), 6, Error::InputLength { found: 3, d_in });
        check(QuantizedRows::u8(&[], 1.0, 0), 0, Error::InputLength { found: 0, d_in });
        check(QuantizedRows::i8(&xi, 1.0, 0), 5, Error::OutputLength { found: 5, expected: 6 });
        check(QuantizedRows::u8(&xu, 1.0, 0), 7, Error::OutputLength { found: 7, expected: 6 });
        // The extremes that are valid.
        for (x, zp) in [
            (QuantizedRows::i8(&xi, f32::MIN_POSITIVE / 4.0, -128), -128),
            (QuantizedRows::u8(&xu, f32::MAX, 255), 255),
        ] {
            let mut y = vec![f32::NAN; 6];
            assert_eq!(t.apply_quantized(x, &mut y), Ok(2), "{} zp {zp}", k.name);
        }
    }
    // The messages say what and where.
    let e = Error::BadInputScale { value: -2.0 }.to_string();
    assert!(e.contains("quantized input scale") && e.contains("-2e0") && e.contains("> 0"), "{e}");
    let e = Error::BadInputZeroPoint { value: 256, min: 0, max: 255 }.to_string();
    assert!(e.contains("zero point is 256") && e.contains("0..=255"), "{e}");
}

/// Error bound relative to max |y_ref| per weight dtype, as tests/golden.rs.
#[cfg(feature = "npz")]
fn tolerance(dtype: WeightDtype) -> f64 {
    match dtype {
        WeightDtype::F32 => 4e-6,
        WeightDtype::F16 => 1e-3,
        _ => 8e-3,
    }
}

/// The nine real transforms of ../shared on their golden inputs quantized to int8 (symmetric,
/// zero point 0) and uint8 (asymmetric, zero point from the range), through every kernel and
/// dtype, against thingsvision's formula in f64 on the dequantized inputs.
/// (Reads `.npz`/`.npy`: with the `npz` feature, as tests/golden.rs.)
#[cfg(feature = "npz")]
#[test]
fn golden_quantized_against_the_f64_formula() {
    use glocal::pack::{npy::Npy, npz};
    let Some(shared) = common::shared_dir("golden_quantized_against_the_f64_formula") else { return };
    let mut worst = [[0.0f64; 2]; WeightDtype::ALL.len()];
    for (path, golden) in common::SHARED_TRANSFORMS {
        let npz_bytes = std::fs::read(shared.join("transforms").join(path).join("transform.npz")).unwrap();
        let source = npz::read_transform(&npz_bytes).unwrap();
        let x_bytes = std::fs::read(shared.join("golden").join(golden).join("x.npy")).unwrap();
        let x = Npy::parse(&x_bytes).unwrap().to_f32();
        let rows = x.len() / source.d_in;
        let (lo, hi) = x.iter().fold((f32::MAX, f32::MIN), |(l, h), &v| (l.min(v), h.max(v)));
        let amax = lo.abs().max(hi.abs());
        // int8 symmetric; uint8 asymmetric over [lo, hi].
        let s8 = amax / 127.0;
        let qi: Vec<i8> = x.iter().map(|&v| (v / s8).round().clamp(-128.0, 127.0) as i8).collect();
        let su = (hi - lo) / 255.0;
        let zu = (-lo / su).round().clamp(0.0, 255.0) as i32;
        let qu: Vec<u8> = x.iter().map(|&v| (v / su + zu as f32).round().clamp(0.0, 255.0) as u8).collect();
        let cases = [(Q::I8(qi), s8, 0), (Q::U8(qu), su, zu)];
        let w32: Vec<f32> = source.weights.iter().map(|&v| v as f32).collect();
        let b32: Option<Vec<f32>> = source.bias.as_ref().map(|b| b.iter().map(|&v| v as f32).collect());
        for (ci, (q, scale, zp)) in cases.iter().enumerate() {
            let xd = q.dequantized(*scale, *zp);
            // The quantization is coarse but real: the inputs differ from the golden ones.
            assert!(xd.iter().zip(&x).any(|(a, b)| a != b));
            let mut y_ref = vec![f64::NAN; rows * source.d_out];
            glocal::reference::affine_f64(
                &xd,
                &w32,
                b32.as_deref(),
                source.mean,
                source.std,
                source.d_in,
                source.d_out,
                &mut y_ref,
            );
            let ymax = y_ref.iter().fold(0.0f64, |m, v| m.max(v.abs()));
            for (di, dtype) in WeightDtype::ALL.into_iter().enumerate() {
                let blob = pack::pack(&source, dtype, path, "").unwrap();
                for k in runnable().into_iter().filter(|k| k.dtype == dtype) {
                    let t = Transform::with_isa(blob.as_bytes(), k.isa).unwrap();
                    let mut y = vec![f32::NAN; rows * source.d_out];
                    assert_eq!(t.apply_quantized(q.rows(*scale, *zp), &mut y), Ok(rows));
                    let y64: Vec<f64> = y.iter().map(|&v| v as f64).collect();
                    let (err, at) = common::max_abs_diff(&y64, &y_ref);
                    let rel = err / ymax;
                    println!(
                        "{golden:48} {:5} {dtype:5} {:28} rel err {rel:.3e}",
                        ["int8", "uint8"][ci],
                        k.name
                    );
                    assert!(
                        rel <= tolerance(dtype),
                        "{golden} {dtype} {}: rel err {rel:.3e} > {:.0e} at {at}",
                        k.name,
                        tolerance(dtype)
                    );
                    worst[di][ci] = worst[di][ci].max(rel);
                }
            }
        }
    }
    for (dtype, w) in WeightDtype::ALL.into_iter().zip(worst) {
        println!("worst {dtype:5}: int8 {:.3e}, uint8 {:.3e} (limit {:.0e})", w[0], w[1], tolerance(dtype));
    }
}
