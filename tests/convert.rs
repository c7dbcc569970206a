//! Exhaustive 16-bit conversions through every kernel on this CPU, against the half crate:
//! all 65,536 f16 and bf16 bit patterns as weights, as inputs, and rounding of outputs.

mod common;

use glocal::format::FLAG_NORM_FOLDED;
use glocal::kernel::{Isa, KERNELS};
use glocal::pack::{write_blob, BlobSpec};
use glocal::{bf16, f16, pack, Transform, WeightDtype};

fn spec(dtype: WeightDtype, d_in: usize, d_out: usize) -> BlobSpec<'static> {
    BlobSpec { dtype, d_in, d_out, flags: FLAG_NORM_FOLDED, mean: 0.0, std: 1.0, model: "", module: "" }
}

/// The available ISAs with float kernels (not the q8-only ones).
fn isas() -> Vec<Isa> {
    let mut isas: Vec<Isa> = KERNELS
        .iter()
        .filter(|k| k.dtype == glocal::WeightDtype::F32)
        .map(|k| k.isa)
        .filter(|isa| isa.is_available())
        .collect();
    isas.dedup();
    isas
}

fn same(got: f32, want: f32) -> bool {
    (got.is_nan() && want.is_nan()) || got == want
}

/// Weights: every 16-bit pattern as a weight of a 1 x 65536 transform applied to x = [1]:
/// y_j = 0 + 1 * w_j must be exactly the widened weight (NaN as NaN; -0 + 0 gives +0).
#[test]
fn every_f16_and_bf16_weight_widens_exactly() {
    for dtype in [WeightDtype::F16, WeightDtype::Bf16] {
        let blob = write_blob(spec(dtype, 1, 65536), &vec![0.0; 65536], |_, j, out| {
            out.copy_from_slice(&(j as u16).to_le_bytes())
        })
        .unwrap();
        for isa in isas() {
            let t = Transform::with_isa(blob.as_bytes(), isa).unwrap();
            let mut y = vec![0.5f32; 65536];
            t.apply(&[1.0f32], &mut y).unwrap();
            for (bits, &got) in y.iter().enumerate() {
                let want = match dtype {
                    WeightDtype::F16 => f16::from_bits(bits as u16).to_f32(),
                    _ => bf16::from_bits(bits as u16).to_f32(),
                };
                assert!(
                    same(got, want),
                    "{} weight bits {bits:#06x}: got {got:e}, want {want:e}",
                    t.kernel().name
                );
            }
        }
    }
}

/// Weights: every finite f16 pattern (a blob without infinities or NaNs, which kernels may
/// widen by integer operations: NEON's batch 1), times inputs of several magnitudes: 1, a
/// subnormal, 2^15 (the largest power of two the integer widening takes) and 2^16 (the first
/// it leaves to FCVTL). Each output must be the exact product `x * w`.
#[test]
fn every_finite_f16_weight_widens_exactly() {
    let finite: Vec<u16> = (0..=u16::MAX).filter(|b| b & 0x7c00 != 0x7c00).collect();
    let blob = write_blob(spec(WeightDtype::F16, 1, finite.len()), &vec![0.0; finite.len()], |_, j, out| {
        out.copy_from_slice(&finite[j].to_le_bytes())
    })
    .unwrap();
    for isa in isas() {
        let t = Transform::with_isa(blob.as_bytes(), isa).unwrap();
        let mut y = vec![0.5f32; finite.len()];
        for x in [1.0f32, f32::from_bits(0x0000_0400), 32768.0, 65536.0, -3.0] {
            t.apply(&[x], &mut y).unwrap();
            for (&bits, &got) in finite.iter().zip(&y) {
                let want = 0.0 + x * f16::from_bits(bits).to_f32();
                assert!(
                    same(got, want),
                    "{} x {x:e}, weight bits {bits:#06x}: got {got:e}, want {want:e}",
                    t.kernel().name
                );
            }
        }
    }
}

/// Inputs: 65536 rows of a 1 x 1 identity transform, one row per 16-bit pattern.
#[test]
fn every_f16_and_bf16_input_widens_exactly() {
    let blob = write_blob(spec(WeightDtype::F32, 1, 1), &[0.0], |_, _, out| {
        out.copy_from_slice(&1.0f32.to_le_bytes())
    })
    .unwrap();
    for isa in isas() {
        let t = Transform::with_isa(blob.as_bytes(), isa).unwrap();
        let x16: Vec<f16> = (0..=u16::MAX).map(f16::from_bits).collect();
        let xb16: Vec<bf16> = (0..=u16::MAX).map(bf16::from_bits).collect();
        let mut y = vec![0.5f32; 65536];
        t.apply(&x16, &mut y).unwrap();
        for (x, &got) in x16.iter().zip(&y) {
            assert!(same(got, x.to_f32()), "{} f16 input {:#06x}: got {got:e}", t.kernel().name, x.to_bits());
        }
        t.apply(&xb16, &mut y).unwrap();
        for (x, &got) in xb16.iter().zip(&y) {
            assert!(
                same(got, x.to_f32()),
                "{} bf16 input {:#06x}: got {got:e}",
                t.kernel().name,
                x.to_bits()
            );
        }
    }
}

/// Outputs: f32 accumulators are rounded once to f16/bf16 exactly as half rounds them
/// (round to nearest even), including overflow to infinity and subnormals. (An input of -0
/// comes out as +0: the accumulator starts from the +0 bias.)
#[test]
fn f16_and_bf16_outputs_round_like_half() {
    let blob = write_blob(spec(WeightDtype::F32, 1, 1), &[0.0], |_, _, out| {
        out.copy_from_slice(&1.0f32.to_le_bytes())
    })
    .unwrap();
    let mut rng = common::Rng::new(0x9E37_79B9_7F4A_7C15);
    // Random f32 bit patterns cover every exponent; add the edges by hand.
    let mut x: Vec<f32> = (0..200_000).map(|_| f32::from_bits(rng.next_u64() as u32)).collect();
    x.extend([0.0, -0.0, 65504.0, 65520.0, 65519.99, 5.96e-8, 2.98e-8, 1.0 + f32::EPSILON, f32::MAX]);
    for isa in isas() {
        let t = Transform::with_isa(blob.as_bytes(), isa).unwrap();
        let mut y16 = vec![f16::NAN; x.len()];
        let mut yb16 = vec![bf16::NAN; x.len()];
        t.apply(&x, &mut y16).unwrap();
        t.apply(&x, &mut yb16).unwrap();
        for (i, &v) in x.iter().enumerate() {
            let (w16, wb16) = (f16::from_f32(v), bf16::from_f32(v));
            assert!(
                same(y16[i].to_f32(), w16.to_f32())
                    && (v.is_nan() || v == 0.0 || y16[i].to_bits() == w16.to_bits()),
                "{} f16 output of {v:e}",
                t.kernel().name
            );
            assert!(
                same(yb16[i].to_f32(), wb16.to_f32())
                    && (v.is_nan() || v == 0.0 || yb16[i].to_bits() == wb16.to_bits()),
                "{} bf16 output of {v:e}",
                t.kernel().name
            );
        }
    }
}

/// Under Miri, `Element::from_f32` for f16 runs `half`'s software rounding (`from_f32_const`)
/// instead of F16C `vcvtps2ph`, which Miri cannot interpret (see `dtype::f16_from_f32`), and
/// so does the packer's final f32 -> f16 step. Natively they must give the same bits as the
/// paths used here, so that what Miri checks is what runs: all 65,536 values of the upper 16
/// bits (sign, exponent, top of the mantissa, the rounding position for f16 subnormals) times
/// 32 patterns of the lower 16 (f16 LSB, round bit and sticky bits, each set and clear).
/// Bit for bit, NaN payloads included.
#[test]
fn software_f16_rounding_matches_the_native_path() {
    let mut lows = Vec::new();
    for lsb in [0u32, 0x2000] {
        for round in [0u32, 0x1000] {
            for sticky in [0u32, 1, 0x800, 0xFFF] {
                for upper in [0u32, 0xC000] {
                    lows.push(upper | lsb | round | sticky);
                }
            }
        }
    }
    for high in 0..=u16::MAX as u32 {
        for &low in &lows {
            let v = f32::from_bits(high << 16 | low);
            let (native, soft) = (f16::from_f32(v), f16::from_f32_const(v));
            assert!(
                native.to_bits() == soft.to_bits(),
                "{v:e} ({:#010x}): native {:#06x}, software {:#06x}",
                v.to_bits(),
                native.to_bits(),
                soft.to_bits()
            );
        }
    }
}

/// Packing rounds each folded f64 weight to f16 or bf16 once, to nearest even. The reference
/// picks between the two neighbouring 16-bit values in exact f64 arithmetic. Cases:
/// - every midpoint between consecutive finite values (a tie: the even pattern wins);
/// - the f64 values just above and below each midpoint, where rounding through f32 first (half's
///   F16C path) or dropping the low 32 bits of the f64 (half's software paths) goes wrong;
/// - random f64 over each format's range, with random low mantissa bits.
///
/// A `1 x n` transform applied to `x = [1]` gives back each stored weight exactly
/// (`every_f16_and_bf16_weight_widens_exactly`).
#[test]
fn packed_f16_and_bf16_weights_are_rounded_once() {
    for dtype in [WeightDtype::F16, WeightDtype::Bf16] {
        let (max_bits, exps) = match dtype {
            WeightDtype::F16 => (0x7BFFu16, -26..16),
            _ => (0x7F7F, -135..128),
        };
        let widen = |b: u16| match dtype {
            WeightDtype::F16 => f16::from_bits(b).to_f64(),
            _ => bf16::from_bits(b).to_f64(),
        };
        // Every finite non-negative value, in order: pattern i is values[i].
        let values: Vec<f64> = (0..=max_bits).map(widen).collect();
        let max = values[values.len() - 1];
        let reference = |v: f64| {
            let a = v.abs();
            let i = values.partition_point(|&x| x <= a) - 1;
            let r = match values.get(i + 1) {
                None => values[i],
                Some(&hi) => {
                    // lo + hi and the halving are exact in f64.
                    let (lo, mid) = (values[i], (values[i] + hi) / 2.0);
                    if a < mid || (a == mid && i % 2 == 0) {
                        lo
                    } else {
                        hi
                    }
                }
            };
            r.copysign(v)
        };
        let mut weights = Vec::new();
        for (i, pair) in values.windows(2).enumerate() {
            let mid = (pair[0] + pair[1]) / 2.0;
            let sign = if i % 7 == 3 { -1.0 } else { 1.0 };
            for v in [mid, f64::from_bits(mid.to_bits() + 1), f64::from_bits(mid.to_bits() - 1)] {
                weights.push(sign * v);
            }
        }
        let mut rng = common::Rng::new(0xD1B5_4A32_D192_ED03);
        while weights.len() < 300_000 {
            let e = exps.start + (rng.next_u64() % (exps.end - exps.start) as u64) as i32;
            let v = 2f64.powi(e) * (1.0 + (rng.next_u64() >> 12) as f64 / (1u64 << 52) as f64);
            if v <= max {
                weights.push(if rng.next_u64() & 1 == 1 { -v } else { v });
            }
        }
        let mut wrong = Vec::new();
        for chunk in weights.chunks(1 << 16) {
            let source = pack::Source {
                d_in: 1,
                d_out: chunk.len(),
                weights: chunk.to_vec(),
                bias: None,
                mean: 0.0,
                std: 1.0,
            };
            let blob = pack::pack(&source, dtype, "rounding", "test").unwrap();
            let t = Transform::new(blob.as_bytes()).unwrap();
            let mut y = vec![f32::NAN; chunk.len()];
            t.apply(&[1.0f32], &mut y).unwrap();
            for (&v, &got) in chunk.iter().zip(&y) {
                let want = reference(v);
                if f64::from(got) != want {
                    wrong.push(format!("{v:e} ({:#018x}): stored {got:e}, want {want:e}", v.to_bits()));
                }
            }
        }
        assert!(
            wrong.is_empty(),
            "{dtype:?}: {} of {} weights not rounded once, e.g. {:?}",
            wrong.len(),
            weights.len(),
            &wrong[..wrong.len().min(3)]
        );
    }
}
