//! Every kernel this build can run, on small edge shapes, through the zero-copy byte views:
//! the subset `.ci/steps/85-miri.sh` runs under Miri (scalar; AVX2 with
//! `-C target-cpu=haswell`; NEON on aarch64), and a plain test everywhere else.
//!
//! Values are small integers, so every partial sum is exact in f32 whatever the summation
//! order or FMA use: each kernel must match the f64 oracle bit for bit (after the one rounding
//! to the output type). Shapes sit around the 16-wide panel and the 4/6-row tiles, with
//! batch 1 (the streaming path) included; outputs are prefilled with NaN.
//!
//! `GLOCAL_EXPECT_ISA=<name>` makes the run fail unless a kernel of that ISA was exercised
//! (so a Miri run meant for AVX2 or NEON cannot silently test only the scalar kernel).

mod common;

use glocal::kernel::{KernelInfo, KERNELS};
use glocal::pack::{self, Source};
use glocal::{bf16, f16, AlignedBlob, Element, Transform, WeightDtype};

/// Shapes around the panel width (1 panel, 2 panels, exactly one, 4 panels) and a deep narrow
/// one, each with batch 1 (streaming path), a tile minus/plus one for MR = 4 and 6, and two
/// tiles plus a tail.
const SHAPES: &[(usize, usize)] = &[(1, 1), (3, 17), (17, 16), (9, 49), (40, 5)];
const ROWS: &[usize] = &[1, 3, 5, 6, 7, 13];
/// Under Miri (about 10^4 times slower): three (d_in, d_out, rows) cases covering batch 1,
/// a ragged second panel and a tile plus tail.
const MIRI_CASES: &[(usize, usize, usize)] = &[(1, 1, 1), (3, 17, 7), (17, 16, 1)];

fn cases() -> Vec<(usize, usize, usize)> {
    if cfg!(miri) {
        return MIRI_CASES.to_vec();
    }
    SHAPES.iter().flat_map(|&(d_in, d_out)| ROWS.iter().map(move |&r| (d_in, d_out, r))).collect()
}

/// Small integer weights; for `i8d` every input row also gets one off-diagonal 127, so its row
/// scale is exactly 1 and the quantisation exact (`common::i8d_exact`).
fn source(d_in: usize, d_out: usize, dtype: WeightDtype) -> Source {
    let mut weights: Vec<f64> = (0..d_in * d_out).map(|i| ((i * 7 + 3) % 9) as f64 - 4.0).collect();
    if dtype == WeightDtype::I8d {
        common::i8d_exact(&mut weights, d_in, d_out);
    }
    Source {
        d_in,
        d_out,
        weights,
        bias: Some((0..d_out).map(|j| (j % 5) as f64 - 2.0).collect()),
        mean: 0.0,
        std: 1.0,
    }
}

/// Every kernel this build can run (all are exact on these values, `i8d` included).
fn runnable() -> Vec<&'static KernelInfo> {
    KERNELS.iter().filter(|k| k.isa.is_available()).collect()
}

/// Runs `kernel` on `rows` rows and checks every output against the exact answer.
fn check<I: Element, O: Element>(kernel: &KernelInfo, blob: &[u8], s: &Source, rows: usize) {
    let t = Transform::with_isa(blob, kernel.isa).unwrap();
    assert_eq!(t.kernel().name, kernel.name);
    let (d_in, d_out) = (s.d_in, s.d_out);
    let xf: Vec<f32> = (0..rows * d_in).map(|i| ((i * 5 + 1) % 7) as f32 - 3.0).collect();
    let x: Vec<I> = xf.iter().map(|&v| I::from_f32(v)).collect();
    let mut y: Vec<O> = vec![O::from_f32(f32::NAN); rows * d_out];
    assert_eq!(t.apply(&x, &mut y), Ok(rows));
    let w: Vec<f32> = s.weights.iter().map(|&v| v as f32).collect();
    let b: Vec<f32> = s.bias.as_ref().unwrap().iter().map(|&v| v as f32).collect();
    let mut want = vec![f64::NAN; rows * d_out];
    glocal::reference::affine_f64(&xf, &w, Some(&b), 0.0, 1.0, d_in, d_out, &mut want);
    for (i, (got, want)) in y.iter().zip(&want).enumerate() {
        let want = O::from_f32(*want as f32).to_f32();
        assert_eq!(
            got.to_f32().to_bits(),
            want.to_bits(),
            "{}: {d_in}x{d_out}, {rows} rows, row {} col {}: got {}, want {want} ({} -> {})",
            kernel.name,
            i / d_out,
            i % d_out,
            got.to_f32(),
            std::any::type_name::<I>(),
            std::any::type_name::<O>(),
        );
    }
}

#[test]
fn every_kernel_small_shapes_exact() {
    let kernels = runnable();
    for (d_in, d_out, rows) in cases() {
        for dtype in WeightDtype::ALL {
            let s = source(d_in, d_out, dtype);
            let blob = pack::pack(&s, dtype, "small", "shapes").unwrap();
            for k in kernels.iter().filter(|k| k.dtype == dtype) {
                check::<f32, f32>(k, blob.as_bytes(), &s, rows);
                check::<f16, bf16>(k, blob.as_bytes(), &s, rows);
                if !cfg!(miri) {
                    check::<f32, f16>(k, blob.as_bytes(), &s, rows);
                    check::<bf16, f32>(k, blob.as_bytes(), &s, rows);
                }
            }
        }
    }
    if let Ok(isa) = std::env::var("GLOCAL_EXPECT_ISA") {
        assert!(
            kernels.iter().any(|k| k.isa.name() == isa),
            "GLOCAL_EXPECT_ISA={isa}, but the runnable kernels are {:?}",
            kernels.iter().map(|k| k.name).collect::<Vec<_>>()
        );
    }
}

#[test]
fn views_at_every_aligned_offset() {
    // The blob used in place at 4-byte (not 64-byte) aligned addresses: the f32 bias and the
    // f32/f16/bf16 weight views must read the same values as from an aligned copy.
    for dtype in WeightDtype::ALL {
        let s = source(17, 16, dtype);
        let blob = pack::pack(&s, dtype, "small", "views").unwrap();
        let mut buf = AlignedBlob::zeroed(blob.len() + 64);
        let shifts: &[usize] = if cfg!(miri) { &[4] } else { &[4, 8, 12, 60] };
        for &shift in shifts {
            buf.as_bytes_mut()[shift..shift + blob.len()].copy_from_slice(blob.as_bytes());
            let view = &buf.as_bytes()[shift..shift + blob.len()];
            for k in runnable().into_iter().filter(|k| k.dtype == dtype) {
                check::<f32, f32>(k, view, &s, 7);
            }
        }
    }
}
