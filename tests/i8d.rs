//! dtype `i8d` (int8 off-diagonal, exact f32 diagonal): quantiser, blob layout, kernel against
//! the f64 oracle of the stored weights, every error path, and the nine real transforms.

mod common;

use common::Rng;
use glocal::format::{offsets, Layout};
use glocal::kernel::{Isa, KernelInfo, KERNELS};
use glocal::pack::{self, quantize_i8d, PackError, Source};
use glocal::{bf16, f16, Error, Transform, WeightDtype};

fn source(d_in: usize, d_out: usize, rng: &mut Rng) -> Source {
    // gLocal-like: strong diagonal, small off-diagonal.
    let mut weights = vec![0f64; d_in * d_out];
    for k in 0..d_in {
        for j in 0..d_out {
            weights[k * d_out + j] = if k == j { 0.08 + 0.04 * rng.unit() } else { 3e-3 * rng.unit() };
        }
    }
    Source {
        d_in,
        d_out,
        weights,
        bias: Some((0..d_out).map(|_| rng.unit() * 0.1).collect()),
        mean: 0.2,
        std: 1.3,
    }
}

#[test]
fn quantizer_values() {
    // 3 x 2, folded values given directly.
    let w = [0.5, 0.254, /* row 1 */ -0.127, 2.0, /* row 2 */ 0.0635, -0.0001];
    let q = quantize_i8d(&w, 3, 2).unwrap();
    assert_eq!(q.diag, [0.5, 2.0]);
    // Row scales: max off-diagonal |w| of each input row / 127.
    assert_eq!(q.scales, [(0.254f64 / 127.0) as f32, (0.127f64 / 127.0) as f32, (0.0635f64 / 127.0) as f32]);
    assert_eq!(q.q, [0, 127, -127, 0, 127, 0]); // -0.0001 / 0.0005 = -0.2 rounds to 0
    assert!((q.weight(1, 1) - 2.0).abs() < 1e-12 && (q.weight(2, 0) - 0.0635).abs() < 1e-8);
    // Rounding is half away from zero on the stored scale: 1.5 and -2.5 steps.
    let q2 = quantize_i8d(&[0.0, 127.0, 1.5, -2.5], 1, 4).unwrap();
    assert_eq!((q2.scales[0], &q2.q[..]), (1.0, &[0i8, 127, 2, -3][..]));
    // A row with no off-diagonal weight: scale 0, q 0.
    let q = quantize_i8d(&[1.5], 1, 1).unwrap();
    assert_eq!((q.q, q.scales, q.diag), (vec![0], vec![0.0], vec![1.5]));
    // Overflow of f32 in the diagonal or a scale.
    assert_eq!(
        quantize_i8d(&[1e300, 0.0, 0.0, 1.0], 2, 2),
        Err(PackError::Overflow { dtype: WeightDtype::I8d, row: 0, col: 0, value: 1e300 })
    );
    assert_eq!(
        quantize_i8d(&[1.0, 1e300, 0.0, 1.0], 2, 2),
        Err(PackError::Overflow { dtype: WeightDtype::I8d, row: 0, col: 1, value: 1e300 })
    );
}

#[test]
fn layout_and_header() {
    let l = Layout::new(WeightDtype::I8d, 768, 768);
    assert_eq!((l.panels, l.panel_stride, l.weights_offset, l.weights_len), (48, 12_288, 3_328, 589_824));
    assert_eq!((l.aux_offset, l.aux_len, l.total_len), (593_152, 6_144, 599_296));
    let f16 = Layout::new(WeightDtype::F16, 768, 768);
    assert_eq!((f16.aux_offset, f16.aux_len), (0, 0), "other dtypes keep an empty aux section");
    assert!((l.total_len as f64 / f16.total_len as f64) < 0.51);
    // d_in = 1 (stride rounds up to 64), d_out = 17 (two panels).
    let l = Layout::new(WeightDtype::I8d, 1, 17);
    assert_eq!((l.panel_stride, l.weights_offset, l.aux_offset, l.aux_len), (64, 384, 512, 192));

    let mut rng = Rng::new(5);
    let blob = pack::pack(&source(20, 33, &mut rng), WeightDtype::I8d, "m", "n").unwrap();
    let b = blob.as_bytes();
    assert_eq!(b[offsets::DTYPE], 4);
    let u64_at = |at: usize| u64::from_le_bytes(b[at..at + 8].try_into().unwrap());
    let l = Layout::new(WeightDtype::I8d, 20, 33);
    assert_eq!((u64_at(offsets::AUX_OFFSET), u64_at(offsets::AUX_LEN)), (l.aux_offset, l.aux_len));
    assert_eq!(b.len() as u64, l.total_len);
    assert_eq!(WeightDtype::from_name("i8d"), Some(WeightDtype::I8d));
    assert_eq!(WeightDtype::I8d.to_string(), "i8d");
}

/// Patches `bytes` at `at` and refreshes the checksum, so the named check is the one that fires.
fn patched(blob: &glocal::AlignedBlob, at: usize, bytes: &[u8]) -> glocal::AlignedBlob {
    let mut b = blob.clone();
    b.as_bytes_mut()[at..at + bytes.len()].copy_from_slice(bytes);
    let crc = glocal::format::checksum(b.as_bytes());
    b.as_bytes_mut()[offsets::CRC..][..4].copy_from_slice(&crc.to_le_bytes());
    b
}

#[test]
fn error_paths() {
    let mut rng = Rng::new(9);
    let blob = pack::pack(&source(16, 16, &mut rng), WeightDtype::I8d, "", "").unwrap();
    let l = Layout::new(WeightDtype::I8d, 16, 16);
    let err = |b: &glocal::AlignedBlob| Transform::new(b.as_bytes()).unwrap_err();
    assert_eq!(
        err(&patched(&blob, offsets::AUX_OFFSET, &0u64.to_le_bytes())),
        Error::BadLayout { field: "aux_offset", found: 0, expected: l.aux_offset }
    );
    assert_eq!(
        err(&patched(&blob, offsets::AUX_LEN, &64u64.to_le_bytes())),
        Error::BadLayout { field: "aux_len", found: 64, expected: l.aux_len }
    );
    // An f16 blob claiming an aux section is still rejected as before.
    let f = pack::pack(&source(16, 16, &mut rng), WeightDtype::F16, "", "").unwrap();
    assert_eq!(
        err(&patched(&f, offsets::AUX_LEN, &128u64.to_le_bytes())),
        Error::BadLayout { field: "aux_len", found: 128, expected: 0 }
    );
    // An i8d header on an f16-sized payload: total_len no longer matches.
    let fl = Layout::new(WeightDtype::F16, 16, 16);
    assert_eq!(
        err(&patched(&f, offsets::DTYPE, &[4])),
        Error::BadLayout { field: "total_len", found: fl.total_len, expected: l.total_len }
    );
    // Truncating the aux section.
    let short = &blob.as_bytes()[..blob.len() - 4];
    let mut copy = glocal::AlignedBlob::zeroed(short.len());
    copy.as_bytes_mut().copy_from_slice(short);
    assert_eq!(err(&copy), Error::LengthMismatch { declared: l.total_len, found: short.len() });
    // A flipped scale bit is caught by the checksum.
    let mut bad = blob.clone();
    bad.as_bytes_mut()[l.aux_offset as usize + 3] ^= 0x40;
    assert!(matches!(err(&bad), Error::ChecksumMismatch { .. }));
    // Every ISA but the q8-only ones (`avx512vnni`, `avxvnni`, `neondot`) has an i8d kernel:
    // forcing one runs it where the CPU has it, else it is refused clearly; the default is the
    // best ISA, as for the other dtypes.
    for &isa in Isa::ALL {
        if glocal::kernel::kernel_info(isa, WeightDtype::Q8).is_some()
            && glocal::kernel::kernel_info(isa, WeightDtype::F32).is_none()
        {
            assert_eq!(
                Transform::with_isa(blob.as_bytes(), isa).err(),
                Some(Error::KernelUnavailable { isa: isa.name() })
            );
            continue;
        }
        match Transform::with_isa(blob.as_bytes(), isa) {
            Ok(t) => {
                assert!(isa.is_available());
                let want = glocal::kernel::kernel_info(isa, WeightDtype::I8d).unwrap();
                assert_eq!((t.kernel().name, t.kernel().isa), (want.name, isa));
            }
            Err(e) => {
                let has = glocal::kernel::kernel_info(isa, WeightDtype::I8d).is_some();
                assert!(!isa.is_available() || !has, "{isa:?} is available but refused: {e}");
                assert_eq!(e, Error::KernelUnavailable { isa: isa.name() });
            }
        }
    }
    let t = Transform::new(blob.as_bytes()).unwrap();
    assert_eq!(Isa::best_for(WeightDtype::I8d), Isa::best());
    // Transform::new honours GLOCAL_FORCE_ISA (.ci/steps/10-isa.sh sets it), else the best ISA.
    // (A forced q8-only ISA has no i8d kernel: scalar runs.)
    let forced = Isa::default_choice().unwrap();
    let want =
        if glocal::kernel::kernel_info(forced, WeightDtype::I8d).is_some() { forced } else { Isa::Scalar };
    assert_eq!(t.kernel().isa, want);
    assert_eq!(Isa::best_for(WeightDtype::F16), Isa::best());
    // apply length errors leave y untouched.
    let mut y = [f32::INFINITY; 32];
    assert_eq!(t.apply(&[0f32; 17], &mut y), Err(Error::InputLength { found: 17, d_in: 16 }));
    assert_eq!(t.apply(&[0f32; 32], &mut y[..31]), Err(Error::OutputLength { found: 31, expected: 32 }));
    assert!(y.iter().all(|v| *v == f32::INFINITY));
}

/// The i8d kernels this CPU can run (the scalar one always).
fn i8d_kernels() -> Vec<&'static KernelInfo> {
    let ks: Vec<_> = KERNELS.iter().filter(|k| k.dtype == WeightDtype::I8d && k.isa.is_available()).collect();
    assert!(ks.iter().any(|k| k.isa == Isa::Scalar));
    ks
}

/// Every i8d kernel against the f64 oracle of the weights it stores (`folded_weight`), edge
/// shapes, d_in != d_out both ways, batch 1 (streaming path) and tiles around MR = 4 and 6,
/// 16-bit I/O; and the stored weights against the quantiser.
#[test]
fn kernel_matches_f64_oracle_of_stored_weights() {
    for k in i8d_kernels() {
        oracle_of_stored_weights(k);
    }
}

fn oracle_of_stored_weights(kernel: &KernelInfo) {
    let mut rng = Rng::new(11);
    let dims = [1usize, 15, 16, 17, 35, 100];
    for &d_in in &dims {
        for &d_out in &dims {
            let src = source(d_in, d_out, &mut rng);
            let blob = pack::pack(&src, WeightDtype::I8d, "", "").unwrap();
            let t = Transform::with_isa(blob.as_bytes(), kernel.isa).unwrap();
            assert_eq!(t.kernel().name, kernel.name);
            let (wf, _) = src.fold();
            let quant = quantize_i8d(&wf, d_in, d_out).unwrap();
            let mut w = vec![0f64; d_in * d_out];
            for k in 0..d_in {
                for j in 0..d_out {
                    let stored = t.folded_weight(k, j).unwrap() as f64;
                    let want = quant.weight(k, j);
                    assert!((stored - want).abs() <= 1e-7 * want.abs(), "[{k}][{j}] {stored} vs {want}");
                    // Quantisation error: half a step off the diagonal, exact-ish on it.
                    let step = quant.scales[k] as f64;
                    assert!(
                        (stored - wf[k * d_out + j]).abs() <= 0.5 * step + 1e-7 * wf[k * d_out + j].abs()
                    );
                    w[k * d_out + j] = stored;
                }
            }
            assert_eq!(t.folded_weight(d_in, 0), None);
            assert_eq!(t.folded_weight(0, d_out), None);
            for rows in [1usize, 3, 4, 5, 6, 7, 9, 13] {
                let x: Vec<f32> = (0..rows * d_in).map(|_| rng.unit() as f32 * 3.0).collect();
                let mut y = vec![f32::NAN; rows * d_out];
                assert_eq!(t.apply(&x, &mut y), Ok(rows));
                for r in 0..rows {
                    for j in 0..d_out {
                        let mut acc = t.folded_bias(j).unwrap() as f64;
                        let mut mag = acc.abs();
                        for k in 0..d_in {
                            let term = x[r * d_in + k] as f64 * w[k * d_out + j];
                            acc += term;
                            mag += term.abs();
                        }
                        let got = y[r * d_out + j] as f64;
                        let tol = (d_in as f64 + 4.0) * f32::EPSILON as f64 * mag + 1e-30;
                        assert!(
                            (got - acc).abs() <= tol,
                            "{}: {d_in}x{d_out} rows {rows} y[{r}][{j}]: got {got}, want {acc}",
                            kernel.name
                        );
                    }
                }
                // 16-bit input, bf16 output: the same as rounding the f32 path's input and output.
                let x16: Vec<f16> = x.iter().map(|&v| f16::from_f32(v)).collect();
                let xw: Vec<f32> = x16.iter().map(|v| v.to_f32()).collect();
                let mut want = vec![f32::NAN; rows * d_out];
                t.apply(&xw, &mut want).unwrap();
                let mut got = vec![bf16::NAN; rows * d_out];
                t.apply(&x16, &mut got).unwrap();
                for (g, w) in got.iter().zip(&want) {
                    assert_eq!(g.to_bits(), bf16::from_f32(*w).to_bits());
                }
            }
            // A NaN in a row poisons that row only.
            let mut x = vec![0.5f32; 2 * d_in];
            x[d_in - 1] = f32::NAN;
            let mut y = vec![0f32; 2 * d_out];
            t.apply(&x, &mut y).unwrap();
            assert!(y[..d_out].iter().all(|v| v.is_nan()) && y[d_out..].iter().all(|v| v.is_finite()));
        }
    }
}

/// A crafted blob (valid checksum) whose padding holds NaN: the diagonal beyond
/// `min(d_in, d_out)` and the row scales beyond `d_in`. Validation refuses it (padding must be
/// zero, `Error::BadAux`), so no kernel ever sees it; the kernels do not read that padding
/// either (no diagonal term beyond `d_in`, not `diag * 0`), which the clean blob's exact
/// agreement across kernels and the fuzzers check.
#[test]
fn nan_in_aux_padding_is_refused() {
    let mut rng = Rng::new(21);
    for (d_in, d_out) in [(5usize, 40usize), (17, 33), (40, 5), (3, 3), (64, 100)] {
        let blob = pack::pack(&source(d_in, d_out, &mut rng), WeightDtype::I8d, "", "").unwrap();
        let l = Layout::new(WeightDtype::I8d, d_in as u32, d_out as u32);
        let scales_len = d_in.div_ceil(16) * 16;
        let mut crafted = blob.clone();
        {
            let b = crafted.as_bytes_mut();
            let aux = l.aux_offset as usize;
            let nan = f32::NAN.to_le_bytes();
            for i in d_in..scales_len {
                b[aux + 4 * i..][..4].copy_from_slice(&nan);
            }
            for j in d_in.min(d_out)..l.panels as usize * 16 {
                b[aux + 4 * (scales_len + j)..][..4].copy_from_slice(&nan);
            }
            let crc = glocal::format::checksum(b);
            b[offsets::CRC..][..4].copy_from_slice(&crc.to_le_bytes());
        }
        for k in i8d_kernels() {
            assert!(Transform::with_isa(blob.as_bytes(), k.isa).is_ok(), "{}", k.name);
            let err = Transform::with_isa(crafted.as_bytes(), k.isa).unwrap_err();
            assert!(matches!(err, glocal::Error::BadAux { .. }), "{}: {d_in}x{d_out}: {err}", k.name);
        }
    }
}

#[cfg(feature = "npz")]
#[test]
fn golden_nine_transforms() {
    use glocal::pack::{npy::Npy, npz};
    let Some(shared) = common::shared_dir("i8d golden_nine_transforms") else { return };
    let (mut worst_rel, mut worst_cos, mut worst_ratio) = (0f64, 1f64, 0f64);
    for (path, golden) in common::SHARED_TRANSFORMS {
        let npz_bytes = std::fs::read(shared.join("transforms").join(path).join("transform.npz")).unwrap();
        let source = npz::read_transform(&npz_bytes).unwrap();
        let x = Npy::parse(&std::fs::read(shared.join("golden").join(golden).join("x.npy")).unwrap())
            .unwrap()
            .to_f32();
        let y_ref = Npy::parse(&std::fs::read(shared.join("golden").join(golden).join("y_ref.npy")).unwrap())
            .unwrap()
            .to_f64();
        let scale = y_ref.iter().fold(0f64, |m, v| m.max(v.abs()));
        let blob = pack::pack(&source, WeightDtype::I8d, path, "").unwrap();
        let f16_blob = pack::pack(&source, WeightDtype::F16, path, "").unwrap();
        let ratio = blob.len() as f64 / f16_blob.len() as f64;
        let t = Transform::new(blob.as_bytes()).unwrap();
        let d = source.d_out;
        let mut y = vec![f32::NAN; x.len() / source.d_in * d];
        t.apply(&x, &mut y).unwrap();
        let y64: Vec<f64> = y.iter().map(|&v| v as f64).collect();
        let (err, at) = common::max_abs_diff(&y64, &y_ref);
        let rel = err / scale;
        let mut min_cos = 1f64;
        for (a, b) in y64.chunks_exact(d).zip(y_ref.chunks_exact(d)) {
            let dot: f64 = a.iter().zip(b).map(|(p, q)| p * q).sum();
            let na: f64 = a.iter().map(|p| p * p).sum::<f64>().sqrt();
            let nb: f64 = b.iter().map(|p| p * p).sum::<f64>().sqrt();
            min_cos = min_cos.min(dot / (na * nb));
        }
        println!(
            "{golden:48} i8d rel err {rel:.3e} (abs {err:.3e}), min row cosine 1 - {:.2e}, blob {} B = {ratio:.3}x f16",
            1.0 - min_cos,
            blob.len()
        );
        assert!(rel <= 8e-3, "{golden}: rel err {rel:.3e} at {at}: got {}, want {}", y64[at], y_ref[at]);
        assert!(ratio <= 0.56, "{golden}: i8d blob is {ratio:.3}x the f16 blob");
        assert!(1.0 - min_cos <= 1e-4, "{golden}: cosine to the exact output {min_cos}");
        worst_rel = worst_rel.max(rel);
        worst_cos = worst_cos.min(min_cos);
        worst_ratio = worst_ratio.max(ratio);
    }
    println!(
        "i8d worst: rel err {worst_rel:.3e}, row cosine 1 - {:.2e}, size {worst_ratio:.3}x f16",
        1.0 - worst_cos
    );
}
