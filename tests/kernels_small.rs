//! Every kernel this build can run, on small edge shapes, through the zero-copy byte views:
//! natively a grid of shapes around the panel width and the register tiles; under Miri
//! (`.ci/steps/85-miri.sh`: AVX2 with `-C target-cpu=haswell`, NEON on aarch64) a targeted
//! list, [`MIRI_CASES`], that reaches every code path of the SIMD drivers at the least cost.
//! Only the public API (`Transform::with_isa`, `KERNELS`) is used, so the cases survive a
//! rewrite of the kernels; `.ci/steps/85-miri.sh` runs every test of this file under Miri.
//!
//! Weights are multiples of 1/32 in -127/32..=127/32 with one weight of magnitude exactly
//! 127/32 in every row (so the `i8d` row scale is exactly 1/32 and `i8d` stores every weight
//! exactly too), inputs are small integers: every partial sum is exact in f32 whatever the
//! summation order or FMA use, so each kernel must match the f64 oracle bit for bit (after the
//! one rounding to the output type). Outputs are prefilled with NaN.
//!
//! `GLOCAL_EXPECT_ISA=<name>` makes the run fail unless a kernel of that ISA was exercised
//! (so a Miri run meant for AVX2 or NEON cannot silently test only the scalar kernels).
//! `GLOCAL_SMALL_ISAS=<name>,<name>` restricts the kernels to those ISAs (the NEON Miri run
//! uses it to skip the scalar kernels the AVX2 run already interpreted: same MIR).

use glocal::kernel::{KernelInfo, KERNELS};
use glocal::pack::{self, Source};
use glocal::{bf16, f16, AlignedBlob, Element, PostOp, Transform, WeightDtype};

/// Native grid: shapes around the panel width (1 panel, 2 panels, exactly one, 4 and 5
/// panels, a deep narrow one, one K-block plus one row), each with every row count.
const SHAPES: &[(usize, usize)] = &[(1, 1), (3, 17), (17, 16), (9, 49), (40, 5), (7, 70), (257, 3)];
const ROWS: &[usize] = &[1, 2, 3, 5, 6, 7, 11, 13];

/// Input -> output element types a case runs.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Io {
    F32ToF16,
    F16ToBf16,
    F32ToF32,
    Bf16ToF32,
}
use Io::*;

/// One shape of the Miri list, the conversions and weight dtypes it runs there (natively every
/// case runs every conversion and dtype), and the driver paths it is there for.
struct MiriCase {
    d_in: usize,
    d_out: usize,
    rows: usize,
    io: &'static [Io],
    dtypes: &'static [WeightDtype],
    reaches: &'static str,
}

// q8 is not exact on these inputs (its activations are quantized): tests/q8.rs checks it bit
// for bit against its integer oracle instead.
const ALL_DTYPES: &[WeightDtype] = &[WeightDtype::F32, WeightDtype::F16, WeightDtype::Bf16, WeightDtype::I8d];
const FLOAT_DTYPES: &[WeightDtype] = &[WeightDtype::F32, WeightDtype::F16, WeightDtype::Bf16];

/// Under Miri (about 10^4 times slower than native), a targeted list that reaches every path
/// of the AVX2 and NEON drivers at the least cost. The `reaches` texts name the drivers'
/// constants at the time of writing (one blocked driver: `KC` = 256, chunks of 144 rows, tiles
/// of `MIN_TILE` = 4 to `MR` = 6 rows on AVX2 and NEON, shorter ones padded, 16-bit and int8
/// weights widened once per K-block; one single-row driver: chunks of 1024 inputs, groups of
/// G then one overlapping group of H: AVX2 6/3 f32, 4/2 16-bit, 3/1 i8d; NEON 4/2). The coverage table is not kept
/// by hand: under Miri `every_kernel_small_shapes_exact` prints one line per case with the
/// kernels and conversions that actually ran, and `.ci/steps/85-miri.sh` shows those lines.
/// A single row takes the streamer; the scalar kernels (`MR` = 4) see remainders of 2, 3 and 1 rows on
/// the way.
const MIRI_CASES: &[MiriCase] = &[
    MiriCase {
        d_in: 7,
        d_out: 198,
        rows: 1,
        io: &[F32ToF16, F16ToBf16],
        dtypes: ALL_DTYPES,
        reaches: "batch-1 streamer: 13 panels = full groups + the rest (AVX2: 6+6 and an overlapping 3 f32, 4+4+4 and an overlapping 2 f16/bf16, 3+3+3+3+1 i8d; NEON: 4+4+4 and an overlapping 2), last panel ragged (6 columns); d_in 7 = the 2-row (AVX2) and 4-row (NEON) unrolls + their tails",
    },
    MiriCase {
        d_in: 3,
        d_out: 17,
        rows: 2,
        io: &[F32ToF16, F16ToBf16],
        dtypes: ALL_DTYPES,
        reaches: "a 2-row batch: a tile padded to MIN_TILE rows from the tile buffer, outputs through the scratch rows; 2 panels, the second ragged (1 column)",
    },
    MiriCase {
        d_in: 3,
        d_out: 17,
        rows: 11,
        io: &[F32ToF16, F16ToBf16],
        dtypes: ALL_DTYPES,
        reaches: "tiles of heights 6 and 5; 16-bit and int8 weights widened once per K-block by the first tile",
    },
    MiriCase {
        d_in: 257,
        d_out: 3,
        rows: 13,
        io: &[F16ToBf16],
        dtypes: ALL_DTYPES,
        reaches: "K-block edge (256 + 1 rows); 16-bit weights widened once per K-block into the buffer (incl. a 1-row block); tiles of heights 5, 4, 4; with a workspace: inputs packed, packed tiles at both K-blocks",
    },
    MiriCase {
        d_in: 257,
        d_out: 3,
        rows: 1,
        io: &[F16ToBf16],
        dtypes: ALL_DTYPES,
        reaches: "batch 1 with d_in = 257: 16-bit inputs widened in one chunk; NEON's f16 stream rescales its inputs in chunks of 256 and 1",
    },
    MiriCase {
        d_in: 2,
        d_out: 32,
        rows: 151,
        io: &[F32ToF32],
        dtypes: FLOAT_DTYPES,
        reaches: "past the first row chunk (144 + 7 rows): the chunk offsets of the batch driver, with and without the packed workspace; f32 outputs stored straight into y by the tiles of two full panels in the first chunk, the second (tiles of 4 and a padded 3) through the scratch rows (no i8d: its diagonal term goes through the scratch rows)",
    },
];

/// `(d_in, d_out, rows, conversions, weight dtypes, what the case is for)` of this run: under
/// Miri [`MIRI_CASES`] as listed; natively those with every conversion and dtype, and the grid.
type Case = (usize, usize, usize, &'static [Io], &'static [WeightDtype], &'static str);

fn cases() -> Vec<Case> {
    const EVERY_IO: &[Io] = &[F32ToF16, F16ToBf16, F32ToF32, Bf16ToF32];
    let mut cases: Vec<_> = MIRI_CASES
        .iter()
        .map(|c| {
            let (io, dtypes) = if cfg!(miri) { (c.io, c.dtypes) } else { (EVERY_IO, ALL_DTYPES) };
            (c.d_in, c.d_out, c.rows, io, dtypes, c.reaches)
        })
        .collect();
    if !cfg!(miri) {
        cases.extend(SHAPES.iter().flat_map(|&(d_in, d_out)| {
            ROWS.iter().map(move |&r| (d_in, d_out, r, EVERY_IO, ALL_DTYPES, "native grid"))
        }));
    }
    cases
}

/// Weights `v / 32` with `v` in -127..=127; in every row the first off-diagonal weight is
/// +-127/32, the largest magnitude, so `i8d` quantises each row with scale exactly 1/32.
fn source(d_in: usize, d_out: usize) -> Source {
    let weights = (0..d_in * d_out)
        .map(|i| {
            let (k, j) = (i / d_out, i % d_out);
            let first_off_diagonal = if k == 0 { 1 } else { 0 };
            let v = if j == first_off_diagonal {
                if k % 2 == 0 {
                    127
                } else {
                    -127
                }
            } else {
                ((i * 37 + 11) % 255) as i64 - 127
            };
            v as f64 / 32.0
        })
        .collect();
    Source {
        d_in,
        d_out,
        weights,
        bias: Some((0..d_out).map(|j| (j % 5) as f64 - 2.0).collect()),
        mean: 0.0,
        std: 1.0,
    }
}

/// Every runnable kernel, restricted to the ISAs in `GLOCAL_SMALL_ISAS` when it is set.
fn runnable() -> Vec<&'static KernelInfo> {
    let only = std::env::var("GLOCAL_SMALL_ISAS").ok();
    let selected =
        |k: &KernelInfo| only.as_deref().is_none_or(|l| l.split(',').any(|n| n.trim() == k.isa.name()));
    KERNELS.iter().filter(|k| k.isa.is_available() && selected(k) && ALL_DTYPES.contains(&k.dtype)).collect()
}

/// Runs `t` on `rows` rows and checks every output against the exact answer.
fn check<I: Element, O: Element>(t: &Transform<'_>, s: &Source, rows: usize) {
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
            t.kernel().name,
            i / d_out,
            i % d_out,
            got.to_f32(),
            std::any::type_name::<I>(),
            std::any::type_name::<O>(),
        );
    }
    // With a workspace (AVX2 from 12 rows on: the packed inputs), the same bits.
    let ws_len = t.workspace_len(rows);
    if ws_len > 0 {
        let mut ws = vec![f32::NAN; ws_len];
        let mut packed: Vec<O> = vec![O::from_f32(f32::NAN); rows * d_out];
        assert_eq!(t.apply_with_workspace(&x, &mut packed, PostOp::None, &mut ws), Ok(rows));
        let bits = |v: &[O]| v.iter().map(|e| e.to_f32().to_bits()).collect::<Vec<_>>();
        assert_eq!(
            bits(&packed),
            bits(&y),
            "{}: {d_in}x{d_out}, {rows} rows, with a workspace",
            t.kernel().name
        );
    }
}

#[test]
fn every_kernel_small_shapes_exact() {
    let kernels = runnable();
    for (d_in, d_out, rows, io, dtypes, reaches) in cases() {
        let s = source(d_in, d_out);
        let mut ran = Vec::new();
        for &dtype in dtypes {
            let blob = pack::pack(&s, dtype, "small", "shapes").unwrap();
            for k in kernels.iter().filter(|k| k.dtype == dtype) {
                let t = Transform::with_isa(blob.as_bytes(), k.isa).unwrap();
                assert_eq!(t.kernel().name, k.name);
                for &pair in io {
                    match pair {
                        F32ToF16 => check::<f32, f16>(&t, &s, rows),
                        F16ToBf16 => check::<f16, bf16>(&t, &s, rows),
                        F32ToF32 => check::<f32, f32>(&t, &s, rows),
                        Bf16ToF32 => check::<bf16, f32>(&t, &s, rows),
                    }
                }
                ran.push(k.name);
            }
        }
        if cfg!(miri) {
            // One row of the coverage table .ci/steps/85-miri.sh prints.
            println!("miri-case | ({d_in}, {d_out}, {rows}) | {io:?} | {} | {reaches}", ran.join(" "));
        }
        assert!(!ran.is_empty() || kernels.is_empty(), "({d_in}, {d_out}, {rows}): no kernel ran");
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
fn i8d_stores_the_test_weights_exactly() {
    // The premise of the exact comparison above: with one +-127/32 weight per row, i8d's row
    // scales are exactly 1/32 and every stored weight equals the source weight.
    let s = source(9, 20);
    let quant = pack::quantize_i8d(&s.weights, s.d_in, s.d_out).unwrap();
    assert!(quant.scales.iter().all(|&sc| sc == 1.0 / 32.0), "{:?}", quant.scales);
    for k in 0..s.d_in {
        for j in 0..s.d_out {
            assert_eq!(quant.weight(k, j), s.weights[k * s.d_out + j], "[{k}][{j}]");
        }
    }
}

#[test]
fn views_at_every_aligned_offset() {
    // The blob used in place at 4-byte (not 64-byte) aligned addresses: the f32 bias and the
    // f32/f16/bf16/i8d views must read the same values as from an aligned copy.
    let s = source(17, 16);
    for &dtype in ALL_DTYPES {
        let blob = pack::pack(&s, dtype, "small", "views").unwrap();
        let mut buf = AlignedBlob::zeroed(blob.len() + 64);
        let shifts: &[usize] = if cfg!(miri) { &[4] } else { &[4, 8, 12, 60] };
        for &shift in shifts {
            buf.as_bytes_mut()[shift..shift + blob.len()].copy_from_slice(blob.as_bytes());
            let view = &buf.as_bytes()[shift..shift + blob.len()];
            // Every runnable kernel whatever GLOCAL_SMALL_ISAS says: this is about the views.
            for k in KERNELS.iter().filter(|k| k.dtype == dtype && k.isa.is_available()) {
                let t = Transform::with_isa(view, k.isa).unwrap();
                check::<bf16, f32>(&t, &s, 7);
            }
        }
    }
}

/// The SIMD q8 kernels (their exact integer sums) against the portable one, bit for bit, on
/// shapes that reach their group remainders and row tiles: under Miri (`GLOCAL_SMALL_ISAS`
/// selects the AVX2 or NEON ones) this interprets their unsafe loads. The integer oracle and
/// the larger shapes are in tests/q8.rs.
#[test]
fn q8_kernels_match_the_portable_kernel() {
    let only = std::env::var("GLOCAL_SMALL_ISAS").ok();
    let selected =
        |k: &KernelInfo| only.as_deref().is_none_or(|l| l.split(',').any(|n| n.trim() == k.isa.name()));
    let kernels: Vec<_> = KERNELS
        .iter()
        .filter(|k| {
            k.dtype == WeightDtype::Q8 && k.isa.is_available() && k.isa.name() != "scalar" && selected(k)
        })
        .collect();
    let mut ran = 0;
    for (d_in, d_out, rows) in [(5, 17, 1), (22, 16, 7), (3, 33, 13)] {
        let s = source(d_in, d_out);
        let blob = pack::pack(&s, WeightDtype::Q8, "small", "q8").unwrap();
        let x: Vec<f32> = (0..rows * d_in).map(|i| ((i * 5 + 1) % 7) as f32 - 3.0).collect();
        let mut want = vec![f32::NAN; rows * d_out];
        Transform::with_isa(blob.as_bytes(), glocal::kernel::Isa::Scalar)
            .unwrap()
            .apply(&x, &mut want)
            .unwrap();
        for k in &kernels {
            let mut y = vec![f32::NAN; rows * d_out];
            Transform::with_isa(blob.as_bytes(), k.isa).unwrap().apply(&x, &mut y).unwrap();
            let bits = |v: &[f32]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&y), bits(&want), "{} ({d_in}, {d_out}, {rows})", k.name);
            ran += 1;
        }
    }
    if cfg!(miri) {
        println!("miri-q8 | {}", kernels.iter().map(|k| k.name).collect::<Vec<_>>().join(" "));
    }
    assert!(ran > 0 || kernels.is_empty());
}
