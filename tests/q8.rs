//! dtype `q8` (int8 weights, 12-bit activations, exact int32 sums): every kernel against an
//! integer oracle written from the formula in docs/FORMAT.md (bit for bit), the f64 formula on
//! the nine real transforms (error and size targets), the edge rows, and every error path.

mod common;

use common::Rng;
use glocal::format::{offsets, Layout, Q8_MAX_D_IN};
use glocal::kernel::{Isa, KernelInfo, KERNELS};
use glocal::pack::{self, PackError, Source};
use glocal::{Error, QuantizedRows, Transform, WeightDtype};

/// gLocal-like: a strong diagonal, small off-diagonal weights of varying row magnitude.
fn source(d_in: usize, d_out: usize, rng: &mut Rng) -> Source {
    let row_mag: Vec<f64> = (0..d_in).map(|_| 1e-3 * (1.0 + 20.0 * rng.unit().abs())).collect();
    let weights = (0..d_in * d_out)
        .map(|i| {
            let (k, j) = (i / d_out, i % d_out);
            if k == j {
                0.08 + 0.04 * rng.unit()
            } else {
                row_mag[k] * rng.unit()
            }
        })
        .collect();
    Source {
        d_in,
        d_out,
        weights,
        bias: Some((0..d_out).map(|_| rng.unit() * 0.1).collect()),
        mean: 0.2,
        std: 1.3,
    }
}

fn q8_kernels() -> Vec<&'static KernelInfo> {
    let ks: Vec<_> = KERNELS.iter().filter(|k| k.dtype == WeightDtype::Q8 && k.isa.is_available()).collect();
    assert!(!ks.is_empty(), "no q8 kernel available");
    ks
}

/// The documented q8 formula, written independently of the library: activations quantized
/// per row in f32, an i64 sum (checked to fit i32), one f32 epilogue.
fn oracle(source: &Source, t: &Transform<'_>, x: &[f32]) -> Vec<f32> {
    let (d_in, d_out) = (source.d_in, source.d_out);
    let (w, _) = source.fold();
    let quant = pack::quantize_q8(&w, d_in, d_out).unwrap();
    let biases: Vec<f32> = (0..d_out).map(|j| t.folded_bias(j).unwrap()).collect();
    oracle_raw(&quant.q, &quant.scales, &quant.diag, &biases, x)
}

/// [`oracle`] from the stored values: `q` row-major `[d_in][d_out]`, `d_in` scales, `d_out`
/// diagonal values and biases.
fn oracle_raw(q: &[i8], scales: &[f32], diag: &[f32], biases: &[f32], x: &[f32]) -> Vec<f32> {
    let (d_in, d_out) = (scales.len(), biases.len());
    let mut y = Vec::new();
    for row in x.chunks_exact(d_in) {
        let a: Vec<f32> = row.iter().zip(scales).map(|(&x, &s)| x * s).collect();
        if a.iter().any(|v| !v.is_finite()) {
            y.extend(std::iter::repeat_n(f32::NAN, d_out));
            continue;
        }
        let amax = a.iter().fold(0f32, |m, v| m.max(v.abs()));
        let (act, step): (Vec<i64>, f32) = if amax == 0.0 {
            (vec![0; d_in], 0.0)
        } else {
            let r = 2047.0 / amax;
            let act = a
                .iter()
                .map(|&v| (if r.is_finite() { v * r } else { v / amax * 2047.0 }).round_ties_even() as i64)
                .collect();
            (act, amax / 2047.0)
        };
        for (j, &bias) in biases.iter().enumerate() {
            let acc: i64 = (0..d_in).map(|k| act[k] * q[k * d_out + j] as i64).sum();
            assert!(acc.abs() < 1 << 31, "int32 bound broken: {acc}");
            let diag = if j < d_in { diag[j] * row[j] } else { 0.0 };
            y.push((bias + acc as i32 as f32 * step) + diag);
        }
    }
    y
}

fn assert_bits(got: &[f32], want: &[f32], what: &str) {
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(
            g.to_bits() == w.to_bits() || (g.is_nan() && w.is_nan()),
            "{what}: y[{i}] = {g:e}, oracle {w:e}"
        );
    }
}

#[test]
fn every_kernel_matches_the_integer_oracle_bit_for_bit() {
    let mut rng = Rng::new(98);
    // d_in padded to 4..=16 past whole chunks of 16 activations (the SIMD kernels' tails).
    let shapes = [(1, 1), (3, 5), (4, 16), (5, 17), (13, 33), (44, 20), (64, 48), (100, 130), (257, 31)];
    let mut cases = 0;
    for (d_in, d_out) in shapes {
        let src = source(d_in, d_out, &mut rng);
        let blob = pack::pack(&src, WeightDtype::Q8, "m", "q8").unwrap();
        for rows in [1, 2, 3, 7] {
            let mut x: Vec<f32> = (0..rows * d_in).map(|_| (rng.unit() * 3.0) as f32).collect();
            // Edge rows: all zero; one huge value beside tiny ones; only subnormals.
            if rows >= 3 {
                x[..d_in].fill(0.0);
                x[d_in..2 * d_in]
                    .iter_mut()
                    .enumerate()
                    .for_each(|(k, v)| *v = if k == 0 { 3e38 } else { 1e-30 });
                x[2 * d_in..3 * d_in].iter_mut().for_each(|v| *v = 1e-44 * v.signum());
            }
            for k in q8_kernels() {
                let t = Transform::with_isa(blob.as_bytes(), k.isa).unwrap();
                assert_eq!(t.kernel(), k);
                let want = oracle(&src, &t, &x);
                let mut y = vec![0f32; rows * d_out];
                t.apply(&x, &mut y).unwrap();
                assert_bits(&y, &want, &format!("{} {d_in}x{d_out} rows {rows}", k.name));
                assert!(y.iter().all(|v| v.is_finite()), "{}: NaN or infinity from finite input", k.name);
                if rows >= 3 {
                    for (j, v) in y.iter().take(d_out).enumerate() {
                        assert_eq!(
                            v.to_bits(),
                            t.folded_bias(j).unwrap().to_bits(),
                            "zero row is not the bias"
                        );
                    }
                }
                cases += 1;
            }
        }
    }
    assert!(cases >= shapes.len() * 4);
}

/// The largest tile of any q8 kernel (rows per panel pass).
fn max_tile() -> usize {
    q8_kernels().iter().map(|k| k.mr).max().unwrap()
}

#[test]
fn tile_paths_match_the_oracle_for_every_row_count() {
    // Every row count up to two full tiles and one more, so each kernel runs every partial tile;
    // d_in not a multiple of 4, 16 or 64 (and one that is), d_out not a multiple of 16; d_in
    // above 1364 shrinks the tile (the activation buffer holds 16384).
    let mut rng = Rng::new(41);
    let rows_max = 2 * max_tile() + 1;
    for (d_in, d_out) in [(5, 17), (67, 33), (130, 47), (256, 16), (1366, 20)] {
        let src = source(d_in, d_out, &mut rng);
        let blob = pack::pack(&src, WeightDtype::Q8, "", "").unwrap();
        let x: Vec<f32> = (0..rows_max * d_in).map(|_| (rng.unit() * 2.0) as f32).collect();
        for rows in 1..=rows_max {
            let x = &x[..rows * d_in];
            for k in q8_kernels() {
                let t = Transform::with_isa(blob.as_bytes(), k.isa).unwrap();
                let want = oracle(&src, &t, x);
                let mut y = vec![0f32; rows * d_out];
                t.apply(x, &mut y).unwrap();
                assert_bits(&y, &want, &format!("{} {d_in}x{d_out} rows {rows}", k.name));
            }
        }
    }
}

/// A q8 blob with arbitrary stored bytes `q` (row-major `[d_in][d_out]`, -128 included, which
/// the packer never writes), row scales 1, no diagonal, zero bias.
fn crafted_blob(q: &[i8], d_in: usize, d_out: usize) -> glocal::AlignedBlob {
    let spec = pack::BlobSpec {
        dtype: WeightDtype::Q8,
        d_in,
        d_out,
        flags: glocal::format::FLAG_NORM_FOLDED,
        mean: 0.0,
        std: 1.0,
        model: "",
        module: "",
    };
    let mut blob =
        pack::write_blob(spec, &vec![0.0; d_out], |k, j, out| out[0] = q[k * d_out + j] as u8).unwrap();
    pack::write_aux(&mut blob, &vec![1.0; d_in], &vec![0.0; d_out]);
    blob
}

#[test]
fn worst_case_magnitudes_at_the_largest_d_in() {
    // d_in = 8192, every activation +-2047 and every weight -128 or 127: the int32 sums reach
    // -2,146,435,072 (all -128 against all +2047), the bound the format is sized for. Columns:
    // all -128, all 127, alternating by input, by group of four, and a pseudo-random mix.
    let (d_in, d_out) = (Q8_MAX_D_IN as usize, 21);
    let mut rng = Rng::new(8192);
    let q: Vec<i8> = (0..d_in * d_out)
        .map(|i| {
            let (k, j) = (i / d_out, i % d_out);
            let neg = match j % 5 {
                0 => true,
                1 => false,
                2 => k % 2 == 0,
                3 => (k / 4) % 2 == 0,
                _ => rng.unit() < 0.0,
            };
            if neg {
                -128
            } else {
                127
            }
        })
        .collect();
    let blob = crafted_blob(&q, d_in, d_out);
    // Rows: all +1, all -1, alternating signs, random signs, then the same again (two tiles at
    // this d_in for the widest kernel).
    let signs = |r: usize, k: usize, rng: &mut Rng| match r % 4 {
        0 => 1.0,
        1 => -1.0,
        2 => [1.0, -1.0][k % 2],
        _ => [1.0, -1.0][(rng.unit() < 0.0) as usize],
    };
    let rows = 5;
    let x: Vec<f32> = (0..rows * d_in).map(|i| signs(i / d_in, i % d_in, &mut rng) * 0.75).collect();
    let want = oracle_raw(&q, &vec![1.0; d_in], &vec![0.0; d_out], &vec![0.0; d_out], &x);
    // The extreme is reached: column 0 (all -128) against row 0 (all +2047).
    assert_eq!(want[0], (-2_146_435_072i64 as f32) * (0.75f32 / 2047.0));
    for k in q8_kernels() {
        let t = Transform::with_isa(blob.as_bytes(), k.isa).unwrap();
        for n in [1, 2, rows] {
            let mut y = vec![0f32; n * d_out];
            t.apply(&x[..n * d_in], &mut y).unwrap();
            assert_bits(&y, &want[..n * d_out], &format!("{} worst case, {n} rows", k.name));
        }
    }
}

#[test]
fn best_q8_isa_is_the_widest_integer_one_the_cpu_has() {
    use glocal::kernel::Isa;
    let best = Isa::best_for(WeightDtype::Q8);
    assert!(glocal::kernel::kernel_info(best, WeightDtype::Q8).is_some());
    #[cfg(target_arch = "x86_64")]
    {
        let avx2 = std::is_x86_feature_detected!("avx2")
            && std::is_x86_feature_detected!("fma")
            && std::is_x86_feature_detected!("f16c");
        let zmm =
            avx2 && std::is_x86_feature_detected!("avx512f") && std::is_x86_feature_detected!("avx512bw");
        let want = if zmm && std::is_x86_feature_detected!("avx512vnni") {
            Isa::Avx512Vnni
        } else if avx2 && std::is_x86_feature_detected!("avxvnni") {
            Isa::AvxVnni
        } else if zmm {
            Isa::Avx512
        } else if avx2 {
            Isa::Avx2
        } else {
            Isa::Scalar
        };
        assert_eq!(best, want);
        // The q8-only ISAs never become the default for other dtypes.
        assert!(![Isa::Avx512Vnni, Isa::AvxVnni].contains(&Isa::best()));
        // A blob of another dtype under a q8-only ISA is refused by with_isa (no kernel), and
        // new() with it forced runs scalar (tests/force_isa.rs).
        for isa in [Isa::Avx512Vnni, Isa::AvxVnni].into_iter().filter(|i| i.is_available()) {
            let src = source(4, 4, &mut Rng::new(1));
            let f32_blob = pack::pack(&src, WeightDtype::F32, "", "").unwrap();
            assert!(Transform::with_isa(f32_blob.as_bytes(), isa).is_err());
        }
    }
}

#[test]
fn non_finite_inputs_give_nan_rows_only() {
    let mut rng = Rng::new(7);
    let src = source(20, 24, &mut rng);
    let blob = pack::pack(&src, WeightDtype::Q8, "", "").unwrap();
    for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
        let mut x = vec![0.5f32; 3 * 20];
        x[20 + 7] = bad;
        for k in q8_kernels() {
            let t = Transform::with_isa(blob.as_bytes(), k.isa).unwrap();
            let mut y = vec![0f32; 3 * 24];
            t.apply(&x, &mut y).unwrap();
            assert!(y[24..48].iter().all(|v| v.is_nan()), "{}: {bad} row", k.name);
            assert!(y[..24].iter().chain(&y[48..]).all(|v| v.is_finite()), "{}: other rows", k.name);
        }
    }
}

#[test]
fn quantized_and_16_bit_inputs_and_outputs_follow_the_same_formula() {
    let mut rng = Rng::new(11);
    let src = source(37, 40, &mut rng);
    let blob = pack::pack(&src, WeightDtype::Q8, "", "").unwrap();
    let q: Vec<i8> = (0..2 * 37).map(|_| rng.int_in(-128, 127) as i8).collect();
    let (scale, zp) = (0.05f32, 3);
    let x: Vec<f32> = q.iter().map(|&v| scale * (v as i32 - zp) as f32).collect();
    for k in q8_kernels() {
        let t = Transform::with_isa(blob.as_bytes(), k.isa).unwrap();
        let want = oracle(&src, &t, &x);
        let mut y = vec![0f32; 2 * 40];
        t.apply_quantized(QuantizedRows::i8(&q, scale, zp), &mut y).unwrap();
        assert_bits(&y, &want, &format!("{} int8 inputs", k.name));
        let mut y16 = vec![glocal::f16::ZERO; 2 * 40];
        t.apply(&x, &mut y16).unwrap();
        for (a, b) in y16.iter().zip(&want) {
            assert_eq!(a.to_bits(), glocal::f16::from_f32(*b).to_bits(), "{} f16 outputs", k.name);
        }
    }
}

#[test]
fn layout_size_and_names() {
    let l = Layout::new(WeightDtype::Q8, 768, 768);
    // 48 panels of 768 x 16 bytes; aux: 768 scales, 768 diagonal, 768 column sums.
    assert_eq!((l.panels, l.panel_stride, l.weights_len, l.aux_len), (48, 12_288, 589_824, 9_216));
    let f16 = Layout::new(WeightDtype::F16, 768, 768);
    let ratio = l.total_len as f64 / f16.total_len as f64;
    assert!(ratio <= 0.56, "q8 at d = 768 is {ratio:.3}x f16");
    // d_in padded to a multiple of four inputs per panel.
    assert_eq!(Layout::new(WeightDtype::Q8, 5, 16).panel_stride, 128);
    assert_eq!(WeightDtype::from_name("q8"), Some(WeightDtype::Q8));
    assert_eq!((WeightDtype::Q8.to_string(), WeightDtype::Q8.code()), ("q8".to_string(), 5));
}

#[test]
fn weights_are_grouped_by_four_inputs_per_column() {
    // Integer weights with row scale 1: q == w, so the stored bytes are readable directly.
    let (d_in, d_out) = (6, 18);
    let mut weights: Vec<f64> = (0..d_in * d_out).map(|i| ((i * 7) % 200) as f64 - 100.0).collect();
    for k in 0..d_in {
        weights[k * d_out + (k + 1) % d_out] = 127.0;
    }
    let src = Source { d_in, d_out, weights: weights.clone(), bias: None, mean: 0.0, std: 1.0 };
    let blob = pack::pack(&src, WeightDtype::Q8, "", "").unwrap();
    let l = Layout::new(WeightDtype::Q8, d_in as u32, d_out as u32);
    let b = blob.as_bytes();
    for k in 0..d_in {
        for j in (0..d_out).filter(|&j| j != k) {
            let at = l.weights_offset as usize
                + (j / 16) * l.panel_stride as usize
                + (k / 4) * 64
                + (j % 16) * 4
                + k % 4;
            assert_eq!(b[at] as i8 as f64, weights[k * d_out + j], "[{k}][{j}]");
        }
    }
    // Column sums after the scales and diagonal, over every stored byte.
    let sums_at = l.aux_offset as usize + 16 * 4 + 32 * 4;
    for j in 0..d_out {
        let want: i32 = (0..d_in).filter(|&k| k != j).map(|k| weights[k * d_out + j] as i32).sum();
        assert_eq!(i32::from_le_bytes(b[sums_at + 4 * j..][..4].try_into().unwrap()), want, "sum {j}");
    }
}

fn with_crc(mut b: Vec<u8>) -> Vec<u8> {
    let crc = glocal::format::checksum(&b);
    b[offsets::CRC..offsets::CRC + 4].copy_from_slice(&crc.to_le_bytes());
    b
}

#[test]
fn every_error_path() {
    let mut rng = Rng::new(3);
    let src = source(10, 20, &mut rng);
    let blob = pack::pack(&src, WeightDtype::Q8, "", "").unwrap().as_bytes().to_vec();
    let l = Layout::new(WeightDtype::Q8, 10, 20);
    let aux = l.aux_offset as usize;
    let aligned = |b: &[u8]| glocal::AlignedBlob::from_bytes(b);
    // A column sum that does not match its column.
    let mut b = blob.clone();
    let at = aux + 16 * 4 + 32 * 4 + 4 * 5;
    b[at] = b[at].wrapping_add(1);
    let e = Transform::new(aligned(&with_crc(b)).as_bytes()).unwrap_err();
    assert!(matches!(e, Error::BadAux { field: "column sum", index: 5, .. }), "{e:?}");
    assert!(e.to_string().contains("sum of the column's stored weights"), "{e}");
    // A weight changed without its sum.
    let mut b = blob.clone();
    b[l.weights_offset as usize + 3] ^= 0x10;
    assert!(matches!(
        Transform::new(aligned(&with_crc(b)).as_bytes()),
        Err(Error::BadAux { field: "column sum", index: 0, .. })
    ));
    // A row scale above q8's limit of 1 (i8d allows up to 2^120), negative, or NaN.
    for bad in [1.5f32, -1e-3, f32::NAN] {
        let mut b = blob.clone();
        b[aux + 8..aux + 12].copy_from_slice(&bad.to_le_bytes());
        let e = Transform::new(aligned(&with_crc(b)).as_bytes()).unwrap_err();
        assert!(matches!(e, Error::BadAux { field: "scale", index: 2, .. }), "{bad}: {e:?}");
    }
    // d_in beyond the int32 bound.
    let mut b = blob.clone();
    b[offsets::D_IN..offsets::D_IN + 4].copy_from_slice(&(Q8_MAX_D_IN + 1).to_le_bytes());
    assert!(
        matches!(Transform::new(aligned(&b).as_bytes()), Err(Error::BadDims { d_in, .. }) if d_in == Q8_MAX_D_IN + 1)
    );
    // The packer: an off-diagonal weight above 127 (row scale above 1), and d_in above the bound.
    let mut big = source(3, 3, &mut rng);
    big.std = 1.0;
    big.weights[1] = 200.0;
    assert_eq!(
        pack::pack(&big, WeightDtype::Q8, "", "").unwrap_err(),
        PackError::Overflow { dtype: WeightDtype::Q8, row: 0, col: 1, value: 200.0 }
    );
    let wide = Source {
        d_in: Q8_MAX_D_IN as usize + 1,
        d_out: 1,
        weights: vec![0.0; Q8_MAX_D_IN as usize + 1],
        bias: None,
        mean: 0.0,
        std: 1.0,
    };
    assert!(matches!(pack::pack(&wide, WeightDtype::Q8, "", ""), Err(PackError::Dims { .. })));
}

#[cfg(feature = "npz")]
#[test]
fn golden_nine_transforms() {
    use glocal::pack::{npy::Npy, npz};
    let Some(shared) = common::shared_dir("q8 golden_nine_transforms") else { return };
    let mut worst = (0f64, 0f64, 0f64);
    for (path, golden) in common::SHARED_TRANSFORMS {
        let read = |f: &str| std::fs::read(shared.join("golden").join(golden).join(f)).unwrap();
        let npz_bytes = std::fs::read(shared.join("transforms").join(path).join("transform.npz")).unwrap();
        let source = npz::read_transform(&npz_bytes).unwrap();
        let x = Npy::parse(&read("x.npy")).unwrap().to_f32();
        let y_ref = Npy::parse(&read("y_ref.npy")).unwrap().to_f64();
        let scale = y_ref.iter().fold(0f64, |m, v| m.max(v.abs()));
        let blob = pack::pack(&source, WeightDtype::Q8, path, "").unwrap();
        let ratio = blob.len() as f64 / pack::pack(&source, WeightDtype::F16, path, "").unwrap().len() as f64;
        let t = Transform::new(blob.as_bytes()).unwrap();
        let (d_in, d) = (source.d_in, source.d_out);
        let mut y = vec![f32::NAN; x.len() / d_in * d];
        t.apply(&x, &mut y).unwrap();
        let y64: Vec<f64> = y.iter().map(|&v| v as f64).collect();
        let rel = common::max_abs_diff(&y64, &y_ref).0 / scale;
        // int8 inputs of a quantized backbone: per-tensor scale and zero point from the data,
        // against the f64 formula on the dequantized input.
        let (lo, hi) = x.iter().fold((f32::MAX, f32::MIN), |(l, h), &v| (l.min(v), h.max(v)));
        let qs = (hi - lo) / 255.0;
        let zp = (-128.0 - lo / qs).round() as i32;
        let q: Vec<i8> = x.iter().map(|&v| ((v / qs).round() as i32 + zp).clamp(-128, 127) as i8).collect();
        let xd: Vec<f64> = q.iter().map(|&v| qs as f64 * (v as i32 - zp) as f64).collect();
        let w_ref: Vec<f64> = source.fold().0;
        let b_ref: Vec<f64> = source.fold().1;
        let mut yq = vec![f32::NAN; y.len()];
        t.apply_quantized(QuantizedRows::i8(&q, qs, zp), &mut yq).unwrap();
        let mut rel_q = 0f64;
        for (r, row) in xd.chunks_exact(d_in).enumerate() {
            for j in 0..d {
                let want: f64 = b_ref[j] + (0..d_in).map(|k| row[k] * w_ref[k * d + j]).sum::<f64>();
                rel_q = rel_q.max((yq[r * d + j] as f64 - want).abs() / scale);
            }
        }
        println!(
            "{golden:48} q8 rel err {rel:.3e}, int8 inputs {rel_q:.3e}, blob {} B = {ratio:.3}x f16",
            blob.len()
        );
        assert!(rel <= 8e-3, "{golden}: rel err {rel:.3e}");
        assert!(rel_q <= 8e-3, "{golden}: int8-input rel err {rel_q:.3e}");
        assert!(ratio <= 0.56, "{golden}: q8 blob is {ratio:.3}x the f16 blob");
        worst = (worst.0.max(rel), worst.1.max(rel_q), worst.2.max(ratio));
    }
    println!("q8 worst: rel err {:.3e}, int8 inputs {:.3e}, size {:.3}x f16", worst.0, worst.1, worst.2);
}

#[test]
fn views_at_every_aligned_offset() {
    // Used in place at 4-byte (not 64-byte) aligned addresses: the same bits as aligned.
    let mut rng = Rng::new(5);
    let src = source(17, 20, &mut rng);
    let blob = pack::pack(&src, WeightDtype::Q8, "", "").unwrap();
    let x: Vec<f32> = (0..2 * 17).map(|_| rng.unit() as f32).collect();
    let mut want = vec![0f32; 40];
    Transform::new(blob.as_bytes()).unwrap().apply(&x, &mut want).unwrap();
    let mut buf = glocal::AlignedBlob::zeroed(blob.len() + 64);
    for off in (4..64).step_by(4) {
        buf.as_bytes_mut()[off..off + blob.len()].copy_from_slice(blob.as_bytes());
        let mut y = vec![0f32; 40];
        Transform::new(&buf.as_bytes()[off..off + blob.len()]).unwrap().apply(&x, &mut y).unwrap();
        assert_bits(&y, &want, &format!("offset {off}"));
    }
}

/// The int32 bound at its edge: d_in = 8192, every activation +-2047 (digits 32 / -1 in the
/// split kernels) and every weight +-127 (packed) or -128 (crafted: column sums and checksum
/// rewritten), so the column sums reach 2,146,435,072 of 2^31. Every kernel against the
/// scalar one (itself checked against the oracle above) and the packed case against the oracle.
#[test]
fn int32_bound_at_the_largest_d_in() {
    let (d_in, d_out) = (Q8_MAX_D_IN as usize, 20);
    let weights: Vec<f64> =
        (0..d_in * d_out).map(|i| if (i / d_out + i % d_out) % 3 == 0 { -1.0 } else { 1.0 }).collect();
    let src = Source { d_in, d_out, weights, bias: None, mean: 0.0, std: 1.0 };
    let packed = pack::pack(&src, WeightDtype::Q8, "", "").unwrap();
    // Column 1's signs: its sum is +-(d_in - 1) * 2047 * 127.
    let x: Vec<f32> = (0..2 * d_in)
        .map(|i| {
            if i < d_in {
                if (i + 1) % 3 == 0 {
                    -1.0
                } else {
                    1.0
                }
            } else {
                -1.0
            }
        })
        .collect();
    let mut crafted = packed.as_bytes().to_vec();
    let l = Layout::new(WeightDtype::Q8, d_in as u32, d_out as u32);
    let (w0, w1) = (l.weights_offset as usize, (l.weights_offset + l.weights_len) as usize);
    crafted[w0..w1].iter_mut().for_each(|b| *b = 0x80);
    let sums_at = l.aux_offset as usize + d_in.div_ceil(16) * 16 * 4 + l.panels as usize * 16 * 4;
    for j in 0..l.panels as usize * 16 {
        crafted[sums_at + 4 * j..][..4].copy_from_slice(&(-128 * d_in as i32).to_le_bytes());
    }
    let crafted = glocal::AlignedBlob::from_bytes(&with_crc(crafted));
    for (blob, oracle_too) in [(packed.as_bytes(), true), (crafted.as_bytes(), false)] {
        let scalar = Transform::with_isa(blob, Isa::Scalar).unwrap();
        let mut want = vec![0f32; 2 * d_out];
        scalar.apply(&x, &mut want).unwrap();
        if oracle_too {
            assert_bits(&want, &oracle(&src, &scalar, &x), "scalar at the bound");
        }
        for k in q8_kernels() {
            let t = Transform::with_isa(blob, k.isa).unwrap();
            let mut y = vec![0f32; 2 * d_out];
            t.apply(&x, &mut y).unwrap();
            assert_bits(&y, &want, &format!("{} at the int32 bound (crafted {})", k.name, !oracle_too));
        }
    }
}

/// The default q8 kernel is the best ISA's with a q8 kernel (on aarch64 `neondot` where the
/// CPU has the dot product, else `neon`); `GLOCAL_FORCE_ISA` (set by CI, e.g. `neon` on a CPU
/// with the dot product) picks its ISA's q8 kernel, or the scalar one for an ISA without.
#[test]
fn default_and_forced_q8_kernel() {
    let mut rng = Rng::new(12);
    let blob = pack::pack(&source(24, 20, &mut rng), WeightDtype::Q8, "", "").unwrap();
    let t = Transform::new(blob.as_bytes()).unwrap();
    let best = Isa::best_for(WeightDtype::Q8);
    #[cfg(target_arch = "aarch64")]
    assert_eq!(best, if Isa::NeonDot.is_available() { Isa::NeonDot } else { Isa::Neon });
    match std::env::var("GLOCAL_FORCE_ISA") {
        Ok(name) => {
            let isa = Isa::from_name(&name).expect("a known ISA");
            let want = glocal::kernel::kernel_info(isa, WeightDtype::Q8)
                .or_else(|| glocal::kernel::kernel_info(Isa::Scalar, WeightDtype::Q8))
                .unwrap();
            assert_eq!(t.kernel(), want, "GLOCAL_FORCE_ISA={name}");
            println!("GLOCAL_FORCE_ISA={name}: q8 runs {}", t.kernel().name);
        }
        Err(_) => assert_eq!(t.kernel().isa, best),
    }
}
