//! Every kernel of the registry that this CPU can run, against the f64 oracle (tolerance) and
//! exactly against the scalar kernel (integer-valued data), over the edge-shape matrix,
//! exhaustive f16/bf16 weight widening, forced-ISA dispatch, and random shapes (proptest).
//!
//! Self-contained: needs no `../shared` data.

mod common;

use common::Rng;
use glocal::format::FLAG_NORM_FOLDED;
use glocal::kernel::{Isa, KernelInfo, KERNELS};
use glocal::pack::{self, BlobSpec, Source};
use glocal::{bf16, f16, AlignedBlob, Element, Error, PostOp, Transform, WeightDtype};
use proptest::prelude::*;

/// Kernels of the registry this CPU can run.
fn runnable() -> Vec<&'static KernelInfo> {
    // q8 kernels are exact integer kernels with their own oracle (tests/q8.rs, bit for bit);
    // the float error bounds here do not describe them.
    let ks: Vec<_> = KERNELS.iter().filter(|k| k.isa.is_available() && k.dtype != WeightDtype::Q8).collect();
    assert!(ks.iter().any(|k| k.isa == Isa::Scalar), "the scalar kernels must always run");
    ks
}

/// The SIMD kernels this CPU can run (prints a notice when there are none).
fn simd_kernels() -> Vec<&'static KernelInfo> {
    let ks: Vec<_> = runnable().into_iter().filter(|k| k.isa != Isa::Scalar).collect();
    if ks.is_empty() {
        eprintln!("notice: no SIMD kernel runs on this CPU; only the scalar kernels are checked");
    }
    ks
}

/// A random transform: integer-valued (exact in every dtype, mean 0, std 1) or general.
fn source(d_in: usize, d_out: usize, seed: u64, integer: bool) -> Source {
    let mut r = Rng::new(seed);
    let mut draw = |a: f64, ia: i64| if integer { r.int_in(-ia, ia) as f64 } else { r.uniform(a) };
    let weights = (0..d_in * d_out).map(|_| draw(0.5, 4)).collect();
    let bias = Some((0..d_out).map(|_| draw(1.0, 8)).collect());
    let (mean, std) = if integer { (0.0, 1.0) } else { (0.3, 1.7) };
    Source { d_in, d_out, weights, bias, mean, std }
}

/// Random inputs, rounded to `I` (so the oracle sees exactly what the kernel reads).
fn inputs<I: Element>(n: usize, seed: u64, integer: bool) -> (Vec<I>, Vec<f32>) {
    let mut r = Rng::new(seed ^ 0xA5A5);
    let x: Vec<I> = (0..n)
        .map(|_| I::from_f32(if integer { r.int_in(-8, 8) as f64 } else { r.uniform(2.0) } as f32))
        .collect();
    let xf = x.iter().map(|v| v.to_f32()).collect();
    (x, xf)
}

fn type_name<T>() -> &'static str {
    std::any::type_name::<T>().rsplit("::").next().unwrap_or("?")
}

/// Runs `kernel` on `blob` with inputs `x`, output prefilled with NaN; returns the outputs as f32.
fn run<I: Element, O: Element>(blob: &AlignedBlob, kernel: &KernelInfo, x: &[I], rows: usize) -> Vec<f32> {
    let t = Transform::with_isa(blob.as_bytes(), kernel.isa).expect("blob loads");
    assert_eq!(t.kernel().name, kernel.name, "with_isa chose another kernel");
    let mut y = vec![O::from_f32(f32::NAN); rows * t.d_out()];
    assert_eq!(t.apply(x, &mut y), Ok(rows), "{}", kernel.name);
    y.iter().map(|v| v.to_f32()).collect()
}

/// Unit roundoff of a weight or I/O dtype.
fn unit(dtype: WeightDtype) -> f64 {
    match dtype {
        WeightDtype::F32 => f64::powi(2.0, -24),
        WeightDtype::F16 => f64::powi(2.0, -11),
        WeightDtype::Bf16 => f64::powi(2.0, -8),
        _ => 1.0,
    }
}

fn elem_dtype<T: Element>() -> WeightDtype {
    match type_name::<T>() {
        "f32" => WeightDtype::F32,
        "f16" => WeightDtype::F16,
        _ => WeightDtype::Bf16,
    }
}

/// Checks `kernels` on one shape: exact against the scalar kernel of the same weight dtype on
/// integer-valued data, and within a rigorous bound of the f64 oracle on general data (the
/// oracle is computed once and shared). Outputs start as NaN, so an unwritten one fails.
fn check_shape<I: Element, O: Element>(
    kernels: &[&KernelInfo],
    d_in: usize,
    d_out: usize,
    rows: usize,
    seed: u64,
) {
    let io = format!("in {} out {}", type_name::<I>(), type_name::<O>());
    let shape = format!("d_in {d_in} d_out {d_out} rows {rows} {io}");

    // Exact against the scalar kernel on integer-valued data.
    let src = source(d_in, d_out, seed, true);
    let (x, _) = inputs::<I>(rows * d_in, seed, true);
    for dtype in WeightDtype::ALL.into_iter().filter(|&d| d != WeightDtype::Q8) {
        let simd: Vec<_> = kernels.iter().filter(|k| k.dtype == dtype && k.isa != Isa::Scalar).collect();
        if simd.is_empty() {
            continue;
        }
        let scalar = KERNELS.iter().find(|k| k.isa == Isa::Scalar && k.dtype == dtype).expect("scalar");
        let mut src = src.clone();
        if dtype == WeightDtype::I8d {
            // Row scales exactly 1: the quantisation is exact and so is every product and sum.
            common::i8d_exact(&mut src.weights, d_in, d_out);
        }
        let blob = pack::pack(&src, dtype, "t", "exact").expect("pack");
        let want = run::<I, O>(&blob, scalar, &x, rows);
        for k in simd {
            let got = run::<I, O>(&blob, k, &x, rows);
            for (i, (g, w)) in got.iter().zip(&want).enumerate() {
                assert!(
                    g.to_bits() == w.to_bits() || (*g == 0.0 && *w == 0.0),
                    "{} vs scalar, {shape}: y[{}][{}] expected {w} got {g}",
                    k.name,
                    i / d_out,
                    i % d_out
                );
            }
        }
    }

    // Against the f64 oracle of the unfolded formula on general data.
    let src = source(d_in, d_out, seed + 1, false);
    let (x, xf) = inputs::<I>(rows * d_in, seed + 1, false);
    let w32: Vec<f32> = src.weights.iter().map(|&v| v as f32).collect();
    let b32: Vec<f32> = src.bias.as_ref().expect("bias").iter().map(|&v| v as f32).collect();
    let mut want = vec![0f64; rows * d_out];
    glocal::reference::affine_f64(&xf, &w32, Some(&b32), src.mean, src.std, d_in, d_out, &mut want);
    // |error| <= (u_w + 2 (d_in + 2) u_f32) * S + u_o * |y|, with S bounding every partial sum
    // of both the unfolded and the folded form.
    let m = (src.mean / src.std).abs();
    let mut s = vec![0f64; rows * d_out];
    for (r, s_row) in s.chunks_exact_mut(d_out).enumerate() {
        for (s, b) in s_row.iter_mut().zip(&b32) {
            *s = b.abs() as f64;
        }
        for (i, w_row) in w32.chunks_exact(d_out).enumerate() {
            let a = (xf[r * d_in + i] as f64 / src.std).abs() + m;
            for (s, w) in s_row.iter_mut().zip(w_row) {
                *s += a * w.abs() as f64;
            }
        }
    }
    let uo = unit(elem_dtype::<O>());
    let accum = 2.0 * (d_in as f64 + 2.0) * unit(WeightDtype::F32);
    for dtype in WeightDtype::ALL.into_iter().filter(|&d| d != WeightDtype::Q8) {
        let ks: Vec<_> = kernels.iter().filter(|k| k.dtype == dtype).collect();
        if ks.is_empty() {
            continue;
        }
        let blob = pack::pack(&src, dtype, "t", "oracle").expect("pack");
        if dtype == WeightDtype::I8d {
            // Quantised weights: against the f64 oracle of the weights the blob stores.
            let t = Transform::new(blob.as_bytes()).expect("blob loads");
            let (want, tol) = common::i8d_stored_oracle(&t, &xf, rows);
            for k in ks {
                let got = run::<I, O>(&blob, k, &x, rows);
                for (i, ((&g, &w), &tol)) in got.iter().zip(&want).zip(&tol).enumerate() {
                    let (g, tol) = (g as f64, tol + uo * w.abs());
                    assert!(
                        (g - w).abs() <= tol,
                        "{} vs stored-weight oracle, {shape}: y[{}][{}] expected {w} got {g} (tol {tol})",
                        k.name,
                        i / d_out,
                        i % d_out,
                    );
                }
            }
            continue;
        }
        for k in ks {
            let got = run::<I, O>(&blob, k, &x, rows);
            for (i, ((&g, &w), &s)) in got.iter().zip(&want).zip(&s).enumerate() {
                let g = g as f64;
                let tol = (unit(dtype) + accum) * s + uo * w.abs() + 1e-30;
                assert!(
                    (g - w).abs() <= tol,
                    "{} vs oracle, {shape}: y[{}][{}] expected {w} got {g} (|err| {} > tol {tol})",
                    k.name,
                    i / d_out,
                    i % d_out,
                    (g - w).abs()
                );
            }
        }
    }
}

const NR: usize = 16;

/// {1, NR-1, NR, NR+1, 2NR+3, 512, 768, 1024}, square and paired with another size.
fn edge_shapes() -> Vec<(usize, usize)> {
    let dims = [1, NR - 1, NR, NR + 1, 2 * NR + 3, 512, 768, 1024];
    let mut v = Vec::new();
    for (i, &d) in dims.iter().enumerate() {
        v.push((d, d));
        v.push((d, dims[(i + 3) % dims.len()]));
    }
    v
}

fn edge_batches(mr: usize) -> [usize; 4] {
    [1, mr - 1, mr, mr + 1]
}

/// Kernels of one tile height (the edge batches depend on MR).
fn by_mr() -> Vec<(usize, Vec<&'static KernelInfo>)> {
    let mut v: Vec<(usize, Vec<&'static KernelInfo>)> = Vec::new();
    for k in runnable() {
        match v.iter_mut().find(|(mr, _)| *mr == k.mr) {
            Some((_, ks)) => ks.push(k),
            None => v.push((k.mr, vec![k])),
        }
    }
    v
}

#[test]
fn edge_shapes_f32_io_every_kernel() {
    for (mr, ks) in by_mr() {
        for (seed, (d_in, d_out)) in edge_shapes().into_iter().enumerate() {
            for rows in edge_batches(mr) {
                check_shape::<f32, f32>(&ks, d_in, d_out, rows, seed as u64 * 31 + rows as u64);
            }
        }
    }
}

/// Batch 1 over eight panels and a ragged ninth (the streamers' groups of panels, then their
/// tails) for every `d_in` up to 9 and one more: the streamers take rows two or four at a time
/// (AVX-512's f16 loop, four per iteration) and end with the rest one by one.
#[test]
fn single_rows_every_d_in_residue_every_kernel() {
    let ks = runnable();
    for d_in in (1..=9).chain([34]) {
        check_shape::<f32, f32>(&ks, d_in, 8 * NR + 2, 1, d_in as u64 * 13);
    }
}

/// Batches beyond the tile: the widened-weights path (>= 2 MR rows), several panels with a
/// ragged last one, several K-blocks (`d_in` 300), and more than one chunk of 144 rows. A
/// block's first tile widens 16-bit and int8 weights for the others, in the tile for some
/// heights and before it for the rest: 10 and 30 rows make it 10 high with 12-row tiles.
#[test]
fn large_batches_every_kernel() {
    for (mr, ks) in by_mr() {
        for &(d_in, d_out) in &[(NR + 1, 2 * NR + 3), (300, 40), (2 * NR + 3, 1), (300, 77), (70, 64)] {
            for rows in [2 * mr, 10, 13, 30, 73, 150, 300] {
                check_shape::<f32, f32>(&ks, d_in, d_out, rows, (d_in * 7 + rows) as u64);
            }
        }
    }
}

/// `apply_with_workspace` on one transform and batch: bit for bit what `apply` gives, with a
/// workspace of exactly `workspace_len`, one element short (runs unpacked), longer, or empty;
/// `workspace_len` is one chunk of inputs for the x86_64 kernels (AVX2, AVX-512) from 12 rows
/// on, `min(rows, 144) * d_in` up to `d_in` 1024 and `min(rows, 72) * d_in` beyond, else 0.
fn check_workspace<I: Element, O: Element>(t: &Transform<'_>, rows: usize, seed: u64) {
    let (d_in, d_out) = (t.d_in(), t.d_out());
    let case = format!(
        "{} d_in {d_in} d_out {d_out} rows {rows} in {} out {}",
        t.kernel().name,
        type_name::<I>(),
        type_name::<O>()
    );
    let (x, _) = inputs::<I>(rows * d_in, seed, false);
    let mut want = vec![O::from_f32(f32::NAN); rows * d_out];
    assert_eq!(t.apply(&x, &mut want), Ok(rows), "{case}");
    let len = t.workspace_len(rows);
    let packs = matches!(t.kernel().isa, Isa::Avx2 | Isa::Avx512 | Isa::Neon);
    let chunk = if d_in <= 1024 { 144 } else { 72 };
    let expected = if packs && rows >= 12 { rows.min(chunk) * d_in } else { 0 };
    assert_eq!(len, expected, "workspace_len, {case}");
    for ws_len in [len, len.saturating_sub(1), len + 7, 0] {
        let mut ws = vec![f32::NAN; ws_len];
        let mut got = vec![O::from_f32(f32::NAN); rows * d_out];
        assert_eq!(t.apply_with_workspace(&x, &mut got, PostOp::None, &mut ws), Ok(rows), "{case}");
        for (i, (g, w)) in got.iter().zip(&want).enumerate() {
            assert_eq!(
                g.to_f32().to_bits(),
                w.to_f32().to_bits(),
                "workspace of {ws_len}, {case}: y[{}][{}] {} against apply's {}",
                i / d_out,
                i % d_out,
                g.to_f32(),
                w.to_f32()
            );
        }
    }
    // Wrong lengths: the error `apply` gives, `y` untouched.
    let mut ws = vec![0f32; len];
    let mut y = vec![O::from_f32(7.0); rows * d_out - 1];
    assert_eq!(
        t.apply_with_workspace(&x, &mut y, PostOp::None, &mut ws),
        Err(Error::OutputLength { found: rows * d_out - 1, expected: rows * d_out }),
        "{case}"
    );
    assert!(y.iter().all(|v| v.to_f32() == 7.0), "y written on error, {case}");
}

/// Packed inputs (`apply_with_workspace`): every kernel and weight dtype, several K-blocks
/// (`d_in` 300 and 1030), a ragged last panel, one to three chunks of 144 rows (72 rows at
/// `d_in` 1030), tiles of every height the AVX-512 register transpose packs (6 to 12 rows, with
/// `d_in` not a multiple of 16), 16-bit inputs and outputs, and `i8d` (its scaled inputs are
/// packed).
#[test]
fn workspace_matches_apply_bit_for_bit_every_kernel() {
    for k in runnable() {
        for &(d_in, d_out) in &[(300, 77), (70, 64), (NR + 1, 2 * NR + 3), (1, 5), (1030, 19)] {
            let seed = (d_in * 5 + d_out) as u64;
            let mut src = source(d_in, d_out, seed, false);
            if k.dtype == WeightDtype::I8d {
                common::i8d_exact(&mut src.weights, d_in, d_out);
                // A different power-of-two scale per input row (1/4 .. 4), so packing that
                // paired an input with the wrong row's scale would change the result.
                for (kk, row) in src.weights.chunks_exact_mut(d_out).enumerate() {
                    row.iter_mut().for_each(|w| *w *= f64::powi(2.0, (kk % 5) as i32 - 2));
                }
            }
            let blob = pack::pack(&src, k.dtype, "t", "workspace").expect("pack");
            let t = Transform::with_isa(blob.as_bytes(), k.isa).expect("blob loads");
            assert_eq!(t.kernel().name, k.name, "with_isa chose another kernel");
            for rows in [1, 10, 11, 12, 13, 17, 30, 73, 150, 300] {
                check_workspace::<f32, f32>(&t, rows, seed + rows as u64);
                check_workspace::<f16, f32>(&t, rows, seed + rows as u64);
                check_workspace::<bf16, bf16>(&t, rows, seed + rows as u64);
            }
        }
    }
}

/// Every row of a batch has exactly the bits it has alone: the batch-1 streamers start from
/// the bias and add `x[k] * w[k]` in the order of `k`, as the register tiles do. General (not
/// integer-valued) data, every kernel, f32 and f16 inputs, panel counts that leave every
/// remainder group of the streamers (1 .. 8 panels past the full groups), odd `d_in`.
#[test]
fn rows_alone_match_the_batch_bit_for_bit_every_kernel() {
    for k in runnable() {
        for &(d_in, d_out) in &[(37, 16), (129, 5 * NR), (64, 7 * NR + 3), (300, 13 * NR), (9, 15 * NR)] {
            let seed = (d_in * 3 + d_out) as u64;
            let mut src = source(d_in, d_out, seed, false);
            if k.dtype == WeightDtype::I8d {
                common::i8d_exact(&mut src.weights, d_in, d_out);
            }
            let blob = pack::pack(&src, k.dtype, "t", "rows").expect("pack");
            check_rows_alone::<f32>(&blob, k, d_in, d_out, seed);
            check_rows_alone::<f16>(&blob, k, d_in, d_out, seed);
        }
    }
}

/// Rows 0, 1, 17 and 29 of a 30-row batch with inputs `I`, each applied alone, against the batch.
fn check_rows_alone<I: Element>(blob: &AlignedBlob, k: &KernelInfo, d_in: usize, d_out: usize, seed: u64) {
    let rows = 30;
    let (x, _) = inputs::<I>(rows * d_in, seed + 1, false);
    let batch = run::<I, f32>(blob, k, &x, rows);
    for r in [0, 1, 17, rows - 1] {
        let alone = run::<I, f32>(blob, k, &x[r * d_in..(r + 1) * d_in], 1);
        for (j, (a, b)) in alone.iter().zip(&batch[r * d_out..(r + 1) * d_out]).enumerate() {
            assert_eq!(
                a.to_bits(),
                b.to_bits(),
                "{} {} in, d_in {d_in} d_out {d_out}: row {r} column {j}: alone {a}, in the batch {b}",
                k.name,
                type_name::<I>()
            );
        }
    }
}

#[test]
fn sixteen_bit_inputs_and_outputs_every_kernel() {
    for (mr, ks) in by_mr() {
        let k = &ks[..];
        for &(d_in, d_out) in
            &[(1, NR + 1), (NR + 1, NR - 1), (2 * NR + 3, 768), (768, 2 * NR + 3), (300, 40)]
        {
            for rows in [1, mr - 1, mr + 1, 2 * mr + 1] {
                let seed = (d_in + 3 * d_out + rows) as u64;
                check_shape::<f16, f32>(k, d_in, d_out, rows, seed);
                check_shape::<bf16, f32>(k, d_in, d_out, rows, seed);
                check_shape::<f32, f16>(k, d_in, d_out, rows, seed);
                check_shape::<f32, bf16>(k, d_in, d_out, rows, seed);
                check_shape::<f16, f16>(k, d_in, d_out, rows, seed);
                check_shape::<bf16, bf16>(k, d_in, d_out, rows, seed);
            }
        }
    }
}

/// A blob whose 65,536 weights are every bit pattern of the 16-bit dtype, in order.
fn every_pattern_blob(dtype: WeightDtype) -> AlignedBlob {
    let spec = BlobSpec {
        dtype,
        d_in: 1,
        d_out: 1 << 16,
        flags: FLAG_NORM_FOLDED,
        mean: 0.0,
        std: 1.0,
        model: "every",
        module: "pattern",
    };
    pack::write_blob(spec, &vec![0.0; 1 << 16], |_, j, out| out.copy_from_slice(&(j as u16).to_le_bytes()))
        .expect("write_blob")
}

fn check_widening(dtype: WeightDtype, widen: impl Fn(u16) -> f32) {
    let blob = every_pattern_blob(dtype);
    for k in runnable().into_iter().filter(|k| k.dtype == dtype) {
        // One row (streaming path), a few rows (in-register widening), many (widen buffer).
        for rows in [1, 2, 2 * k.mr + 1] {
            let x = vec![1.0f32; rows];
            let y = run::<f32, f32>(&blob, k, &x, rows);
            for (i, &got) in y.iter().enumerate() {
                let bits = (i % (1 << 16)) as u16;
                let want = widen(bits);
                let ok = if want.is_nan() { got.is_nan() } else { got == want };
                assert!(ok, "{} rows {rows}: weight bits {bits:#06x} expected {want} got {got}", k.name);
            }
        }
    }
}

#[test]
fn exhaustive_f16_weight_widening() {
    check_widening(WeightDtype::F16, |b| f16::from_bits(b).to_f32());
}

#[test]
fn exhaustive_bf16_weight_widening() {
    check_widening(WeightDtype::Bf16, |b| bf16::from_bits(b).to_f32());
}

#[test]
fn best_isa_is_a_simd_one_where_the_cpu_has_it() {
    #[cfg(target_arch = "x86_64")]
    if std::is_x86_feature_detected!("avx2")
        && std::is_x86_feature_detected!("fma")
        && std::is_x86_feature_detected!("f16c")
    {
        let zmm = std::is_x86_feature_detected!("avx512f") && std::is_x86_feature_detected!("avx512bw");
        let want = if zmm { Isa::Avx512 } else { Isa::Avx2 };
        assert_eq!(Isa::best(), want);
    }
    #[cfg(target_arch = "aarch64")]
    assert_eq!(Isa::best(), Isa::Neon);
    // Every kernel the registry lists for the best ISA exists for all float dtypes and i8d; q8
    // has its own integer ISAs where the CPU has VNNI.
    for dtype in WeightDtype::ALL.into_iter().filter(|&d| d != WeightDtype::Q8) {
        assert!(glocal::kernel::kernel_info(Isa::best(), dtype).is_some(), "{dtype} on {:?}", Isa::best());
        assert_eq!(Isa::best_for(dtype), Isa::best(), "{dtype}");
    }
    let q8 = Isa::best_for(WeightDtype::Q8);
    assert!(glocal::kernel::kernel_info(q8, WeightDtype::Q8).is_some());
    #[cfg(target_arch = "x86_64")]
    if Isa::best() != Isa::Scalar {
        // A SIMD q8 kernel wherever there is a SIMD ISA: VNNI first, else the best ISA's own.
        let want = if Isa::Avx512Vnni.is_available() {
            Isa::Avx512Vnni
        } else if Isa::AvxVnni.is_available() {
            Isa::AvxVnni
        } else {
            Isa::best()
        };
        assert_eq!(q8, want);
        assert_eq!(
            Isa::Avx512Vnni.is_available(),
            Isa::Avx512.is_available() && std::is_x86_feature_detected!("avx512vnni")
        );
        assert_eq!(
            Isa::AvxVnni.is_available(),
            Isa::Avx2.is_available() && std::is_x86_feature_detected!("avxvnni")
        );
    }
}

#[test]
fn unavailable_isa_is_refused() {
    let blob = pack::pack(&source(3, 3, 1, true), WeightDtype::F32, "t", "m").expect("pack");
    for &isa in Isa::ALL.iter().filter(|isa| !isa.is_available()) {
        assert_eq!(
            Transform::with_isa(blob.as_bytes(), isa).err(),
            Some(Error::KernelUnavailable { isa: isa.name() }),
            "{isa:?}"
        );
    }
}

/// The dtype `force_isa_env_is_honoured` checks a forced ISA with: f16, or q8 for the ISAs
/// whose only kernels are q8 ones.
fn forced_dtype(isa: Isa) -> WeightDtype {
    if glocal::kernel::kernel_info(isa, WeightDtype::F16).is_some() {
        WeightDtype::F16
    } else {
        WeightDtype::Q8
    }
}

/// The child half of `force_isa_env_selects_the_kernel` (run by it in a child process with
/// `GLOCAL_FORCE_ISA` set). Also meaningful on its own when CI sets the variable for the
/// whole test run (`.ci/steps/10-isa.sh`): the forced ISA must then be the one used.
#[test]
fn force_isa_env_is_honoured() {
    let Ok(name) = std::env::var("GLOCAL_FORCE_ISA") else {
        eprintln!(
            "notice: GLOCAL_FORCE_ISA unset; checked in child processes by force_isa_env_selects_the_kernel"
        );
        return;
    };
    let isa = Isa::from_name(&name).expect("GLOCAL_FORCE_ISA names a known ISA");
    let blob = pack::pack(&source(20, 20, 2, true), forced_dtype(isa), "t", "m").expect("pack");
    match Transform::new(blob.as_bytes()) {
        Ok(t) => {
            assert_eq!(t.kernel().isa, isa, "GLOCAL_FORCE_ISA={name} but {} runs", t.kernel().name);
            println!("FORCED-ISA-RAN {}", t.kernel().name);
        }
        Err(e) => {
            assert!(!isa.is_available(), "GLOCAL_FORCE_ISA={name} is available but refused: {e}");
            assert_eq!(e, Error::KernelUnavailable { isa: isa.name() });
            println!("FORCED-ISA-REFUSED {name}");
        }
    }
}

/// A command running this test binary again: directly, or through the cargo runner this
/// process runs under (`CARGO_TARGET_<ARCH>_..._RUNNER`, e.g. qemu-aarch64, which cargo passes
/// down in the environment), since a cross binary cannot exec itself without it.
fn this_binary() -> std::process::Command {
    let exe = std::env::current_exe().expect("test binary path");
    let prefix = format!("CARGO_TARGET_{}_", std::env::consts::ARCH.to_uppercase());
    let runner =
        std::env::vars().find(|(k, _)| k.starts_with(&prefix) && k.ends_with("_RUNNER")).map(|(_, v)| v);
    match runner.as_deref().map(str::split_whitespace) {
        Some(mut words) if words.clone().next().is_some() => {
            let mut c = std::process::Command::new(words.next().unwrap_or_default());
            c.args(words).arg(exe);
            c
        }
        _ => std::process::Command::new(exe),
    }
}

#[test]
fn force_isa_env_selects_the_kernel() {
    for &isa in Isa::ALL {
        let out = this_binary()
            .args(["force_isa_env_is_honoured", "--exact", "--nocapture", "--test-threads=1"])
            .env("GLOCAL_FORCE_ISA", isa.name())
            .output()
            .expect("spawn the test binary");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "child with GLOCAL_FORCE_ISA={} failed:\n{stdout}", isa.name());
        let want = match glocal::kernel::kernel_info(isa, forced_dtype(isa)) {
            Some(k) if isa.is_available() => format!("FORCED-ISA-RAN {}", k.name),
            _ => format!("FORCED-ISA-REFUSED {}", isa.name()),
        };
        assert!(stdout.contains(&want), "GLOCAL_FORCE_ISA={}: expected `{want}` in:\n{stdout}", isa.name());
    }
    // An unknown name is an error, not a silent fallback.
    let out = this_binary()
        .args(["force_isa_env_is_honoured", "--exact", "--nocapture"])
        .env("GLOCAL_FORCE_ISA", "sse9")
        .output()
        .expect("spawn the test binary");
    assert!(!out.status.success(), "GLOCAL_FORCE_ISA=sse9 must fail");
}

fn prop_check(k: &[&KernelInfo], d_in: usize, d_out: usize, rows: usize, io: u8, seed: u64) {
    match io {
        0 => check_shape::<f32, f32>(k, d_in, d_out, rows, seed),
        1 => check_shape::<f16, f32>(k, d_in, d_out, rows, seed),
        2 => check_shape::<f32, bf16>(k, d_in, d_out, rows, seed),
        _ => check_shape::<bf16, f16>(k, d_in, d_out, rows, seed),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// Random shapes: every SIMD kernel exactly equals scalar on integers and stays within the
    /// oracle bound on general data.
    #[test]
    fn random_shapes_match_scalar_and_oracle(
        d_in in 1usize..80, d_out in 1usize..80, rows in 1usize..9, io in 0u8..4, seed in any::<u64>()
    ) {
        prop_check(&simd_kernels(), d_in, d_out, rows, io, seed);
    }
}
