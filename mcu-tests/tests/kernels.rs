//! Every kernel compiled for this target against the f64 oracle (for `i8d`: of the weights
//! it stores) and, exactly, against the portable scalar kernel (the Helium kernels, which fuse
//! multiply-adds, exactly on integer-valued data and within the oracle's bound otherwise); edge shapes
//! {1, 15, 16, 17, 35}^2 x rows 1..=5, all weight dtypes, all input/output element types. Outputs are prefilled with NaN so an unwritten value fails.
#![no_std]
#![no_main]

extern crate alloc;

use alloc::vec::Vec;

use glocal::kernel::{Isa, KernelInfo, KERNELS};
use glocal::pack::{pack, Source};
use glocal::{bf16, f16, reference, Element, Error, QuantizedRows, Transform, WeightDtype};
use mcu_tests::{entry, run, Check, Rng, Suite};

const DIMS: [usize; 5] = [1, 15, 16, 17, 35];
const MAX_ROWS: usize = 5;

fn source(rng: &mut Rng, d_in: usize, d_out: usize, integer: bool) -> Source {
    let (weights, bias, mean, std) = if integer {
        let w = (0..d_in * d_out).map(|_| rng.int(-4, 4) as f64).collect();
        let b = (0..d_out).map(|_| rng.int(-8, 8) as f64).collect();
        (w, b, 0.0, 1.0)
    } else {
        let w = (0..d_in * d_out).map(|_| rng.uniform(-1.0, 1.0)).collect();
        let b = (0..d_out).map(|_| rng.uniform(-0.5, 0.5)).collect();
        (w, b, 0.25, 1.75)
    };
    Source { d_in, d_out, weights, bias: Some(bias), mean, std }
}

/// Relative error of storing one folded weight in `dtype`.
fn weight_eps(dtype: WeightDtype) -> f64 {
    match dtype {
        WeightDtype::F16 => 1.0 / 2048.0,
        WeightDtype::Bf16 => 1.0 / 256.0,
        _ => 1.0 / 16_777_216.0,
    }
}

fn out_eps<O: 'static>() -> f64 {
    use core::any::TypeId;
    if TypeId::of::<O>() == TypeId::of::<f16>() {
        1.0 / 2048.0
    } else if TypeId::of::<O>() == TypeId::of::<bf16>() {
        1.0 / 256.0
    } else {
        1.0 / 16_777_216.0
    }
}

struct Case<'a> {
    kernel: &'a KernelInfo,
    src: &'a Source,
    fast: Transform<'a>,
    scalar: Transform<'a>,
    rows: usize,
}

impl Case<'_> {
    /// The oracle `y_ref` for widened inputs `xf`, and the error bound of every output before
    /// output rounding: weight rounding and f32 accumulation over `sum |x'| |w|`.
    fn oracle(&self, xf: &[f32]) -> (Vec<f64>, Vec<f64>) {
        let (d_in, d_out, rows) = (self.src.d_in, self.src.d_out, self.rows);
        if self.kernel.dtype == WeightDtype::I8d {
            return self.oracle_stored(xf);
        }
        let w32: Vec<f32> = self.src.weights.iter().map(|&v| v as f32).collect();
        let b32: Vec<f32> = self.src.bias.as_deref().unwrap_or(&[]).iter().map(|&v| v as f32).collect();
        let mut yr = alloc::vec![0f64; rows * d_out];
        reference::affine_f64(xf, &w32, Some(&b32), self.src.mean, self.src.std, d_in, d_out, &mut yr);
        let (m, s) = (self.src.mean, self.src.std);
        let eps_w = weight_eps(self.kernel.dtype) + (d_in as f64 + 2.0) / 16_777_216.0;
        let mut tol = alloc::vec![0f64; rows * d_out];
        for (i, t) in tol.iter_mut().enumerate() {
            let (r, j) = (i / d_out, i % d_out);
            let mut mag = self.src.bias.as_ref().map_or(0.0, |b| b[j].abs());
            for k in 0..d_in {
                let w = self.src.weights[k * d_out + j].abs();
                mag += ((xf[r * d_in + k] as f64 - m).abs() / s + m.abs() / s) * w;
            }
            *t = eps_w * mag + 1e-30;
        }
        (yr, tol)
    }

    /// `i8d` quantises: the oracle is the f64 product with the weights the blob stores
    /// (`folded_weight`, i.e. `scale[k] * q` plus the exact diagonal) and its folded bias; the
    /// bound covers f32 accumulation and the rounding of `x * scale` and of each product.
    fn oracle_stored(&self, xf: &[f32]) -> (Vec<f64>, Vec<f64>) {
        let (d_in, d_out, rows) = (self.src.d_in, self.src.d_out, self.rows);
        let mut yr = alloc::vec![0f64; rows * d_out];
        let mut tol = alloc::vec![0f64; rows * d_out];
        for i in 0..rows * d_out {
            let (r, j) = (i / d_out, i % d_out);
            let mut acc = self.fast.folded_bias(j).unwrap_or(f32::NAN) as f64;
            let mut mag = acc.abs();
            for k in 0..d_in {
                let term = xf[r * d_in + k] as f64 * self.fast.folded_weight(k, j).unwrap_or(f32::NAN) as f64;
                acc += term;
                mag += term.abs();
            }
            yr[i] = acc;
            tol[i] = (d_in as f64 + 4.0) / 8_388_608.0 * mag + 1e-30;
        }
        (yr, tol)
    }

    /// Runs both kernels on `x`; checks rows, every value written, bit-equality with scalar,
    /// the oracle within the bound, and (for integer data) the exact integer result.
    fn check<I: Element, O: Element>(&self, c: &mut Check, x: &[I], yr: &[f64], tol: &[f64], integer: bool) {
        let (d_in, d_out, rows) = (self.src.d_in, self.src.d_out, self.rows);
        let name = self.kernel.name;
        let mut y = alloc::vec![O::from_f32(f32::NAN); rows * d_out];
        let mut ys = alloc::vec![O::from_f32(f32::NAN); rows * d_out];
        let r = self.fast.apply(x, &mut y);
        c.that(r == Ok(rows), format_args!("{name} {d_in}x{d_out} rows {rows}: apply returned {r:?}"));
        let _ = self.scalar.apply(x, &mut ys);
        for i in 0..rows * d_out {
            let (r, j) = (i / d_out, i % d_out);
            let got = y[i].to_f32();
            if !c.that(
                !got.is_nan(),
                format_args!("{name} {d_in}x{d_out} rows {rows}: y[{r}][{j}] not written (NaN)"),
            ) {
                continue;
            }
            // The Helium kernels fuse each multiply-add (one rounding): bit-identical to the
            // portable kernel's `a + x * w` only where every product and sum is exact, i.e. on
            // integer data with weights stored exactly (not i8d, whose `x * scale` is not).
            let exact_expected =
                self.kernel.isa.name() != "helium" || (integer && self.kernel.dtype != WeightDtype::I8d);
            c.that(
                !exact_expected || got.to_bits() == ys[i].to_f32().to_bits(),
                format_args!(
                    "{name} {d_in}x{d_out}: y[{r}][{j}] = {got} but scalar gives {}",
                    ys[i].to_f32()
                ),
            );
            let bound = tol[i] + out_eps::<O>() * yr[i].abs();
            let err = (got as f64 - yr[i]).abs();
            c.that(
                err <= bound,
                format_args!(
                    "{name} {d_in}x{d_out}: y[{r}][{j}] = {got}, oracle {} (err {err:e} > {bound:e})",
                    yr[i]
                ),
            );
            // i8d stores `scale * q`, not the integers themselves: no exact result to expect.
            if integer && self.kernel.dtype != WeightDtype::I8d {
                c.that(
                    got as f64 == yr[i],
                    format_args!("{name} {d_in}x{d_out}: y[{r}][{j}] = {got}, exact {}", yr[i]),
                );
            }
        }
    }
}

fn inputs<I: Element>(rng: &mut Rng, n: usize, integer: bool) -> Vec<I> {
    (0..n)
        .map(|_| I::from_f32(if integer { rng.int(-4, 4) as f32 } else { rng.uniform(-2.0, 2.0) as f32 }))
        .collect()
}

fn all_io<I: Element>(case: &Case<'_>, c: &mut Check, rng: &mut Rng, integer: bool) {
    let x: Vec<I> = inputs(rng, case.rows * case.src.d_in, integer);
    let xf: Vec<f32> = x.iter().map(|v| v.to_f32()).collect();
    let (yr, tol) = case.oracle(&xf);
    case.check::<I, f32>(c, &x, &yr, &tol, integer);
    // 16-bit outputs: integer results here stay within +-8 + 35*16, exact in f16 and bf16 (< 256).
    let small = !integer || case.src.d_in <= 15;
    if small {
        case.check::<I, f16>(c, &x, &yr, &tol, integer);
        case.check::<I, bf16>(c, &x, &yr, &tol, integer);
    }
}

fn kernel_cases(s: &mut Suite, k: &KernelInfo) {
    // q8 quantizes its inputs: checked bit for bit against its integer oracle in tests/q8.rs.
    if k.dtype == WeightDtype::Q8 {
        return;
    }
    let mut rng = Rng(0x9E37_79B9 ^ k.dtype.code() as u32);
    for &d_in in &DIMS {
        for &d_out in &DIMS {
            for integer in [false, true] {
                let src = source(&mut rng, d_in, d_out, integer);
                let blob = match pack(&src, k.dtype, "test", "kernels") {
                    Ok(b) => b,
                    Err(e) => {
                        s.case(format_args!("{} pack {d_in}x{d_out}", k.name), |c| {
                            c.that(false, format_args!("pack failed: {e:?}"));
                        });
                        continue;
                    }
                };
                let (fast, scalar) = match (
                    Transform::with_isa(blob.as_bytes(), k.isa),
                    Transform::with_isa(blob.as_bytes(), Isa::Scalar),
                ) {
                    (Ok(f), Ok(sc)) => (f, sc),
                    (f, sc) => {
                        s.case(format_args!("{} load {d_in}x{d_out}", k.name), |c| {
                            c.that(false, format_args!("{f:?} {sc:?}"));
                        });
                        continue;
                    }
                };
                let kind = if integer { "integer" } else { "random" };
                s.case(format_args!("{} {d_in}x{d_out} {kind}", k.name), |c| {
                    c.that(
                        fast.kernel() == k,
                        format_args!("forced {} but transform runs {}", k.name, fast.kernel().name),
                    );
                    for rows in 1..=MAX_ROWS {
                        let case = Case { kernel: k, src: &src, fast, scalar, rows };
                        all_io::<f32>(&case, c, &mut rng, integer);
                        all_io::<f16>(&case, c, &mut rng, integer);
                        all_io::<bf16>(&case, c, &mut rng, integer);
                    }
                });
            }
        }
    }
}

/// The ISA `Transform::new` must choose here: Helium on the Cortex-M55 build
/// (`-C target-cpu=cortex-m55`), the scalar-FPU Cortex-M kernels otherwise.
fn expected_best() -> &'static str {
    if cfg!(target_arch = "arm") && mcu_tests::cpu_name() == "Cortex-M55" {
        "helium"
    } else {
        "cortexm"
    }
}

fn dispatch(s: &mut Suite) {
    s.case(format_args!("dispatch"), |c| {
        let want = expected_best();
        let isas: Vec<&str> = Isa::ALL.iter().map(|i| i.name()).collect();
        c.that(isas.contains(&"cortexm"), format_args!("cortexm ISA missing: {isas:?}"));
        c.that(isas.contains(&want), format_args!("{want} ISA missing: {isas:?}"));
        c.that(
            Isa::best().name() == want,
            format_args!("best ISA is {}, expected {want}", Isa::best().name()),
        );
        let expected_n = if want == "helium" { 3 } else { 2 };
        for d in WeightDtype::ALL {
            let n = KERNELS.iter().filter(|k| k.dtype == d && k.isa.is_available()).count();
            c.that(n == expected_n, format_args!("{d}: {n} kernels available, expected {expected_n}"));
            c.that(
                Isa::best_for(d).name() == want,
                format_args!("{d}: best ISA {}, expected {want}", Isa::best_for(d).name()),
            );
        }
    });
}

/// Every row of a batch has exactly the bits it has alone (as on the host, tests/kernels.rs):
/// a batch of 7 rows goes through every tile shape (3 + 3 + 1 rows, 2 + 2 + 2 + 1 for i8d).
fn rows_alone(s: &mut Suite, k: &KernelInfo) {
    let mut rng = Rng(0x5EED ^ k.dtype.code() as u32);
    for (d_in, d_out) in [(35, 35), (17, 40)] {
        let src = source(&mut rng, d_in, d_out, false);
        let Ok(blob) = pack(&src, k.dtype, "test", "alone") else { continue };
        let Ok(t) = Transform::with_isa(blob.as_bytes(), k.isa) else { continue };
        s.case(format_args!("{} {d_in}x{d_out} rows alone = in the batch", k.name), |c| {
            alone_vs_batch::<f32>(c, &t, &mut rng, k.name);
            alone_vs_batch::<f16>(c, &t, &mut rng, k.name);
        });
    }
}

fn alone_vs_batch<I: Element>(c: &mut Check, t: &Transform<'_>, rng: &mut Rng, name: &str) {
    const ROWS: usize = 7;
    let (d_in, d_out) = (t.d_in(), t.d_out());
    let x: Vec<I> = inputs(rng, ROWS * d_in, false);
    let mut batch = alloc::vec![f32::NAN; ROWS * d_out];
    let r = t.apply(&x, &mut batch);
    c.that(r == Ok(ROWS), format_args!("{name}: batch apply returned {r:?}"));
    for row in 0..ROWS {
        let mut alone = alloc::vec![f32::NAN; d_out];
        let _ = t.apply(&x[row * d_in..(row + 1) * d_in], &mut alone);
        for (j, (a, b)) in alone.iter().zip(&batch[row * d_out..(row + 1) * d_out]).enumerate() {
            c.that(
                a.to_bits() == b.to_bits(),
                format_args!("{name} {d_in}x{d_out}: row {row} column {j}: alone {a}, in the batch {b}"),
            );
        }
    }
}

/// Quantized inputs (`apply_quantized`, issue 23): int8 and uint8 rows with several scales and
/// zero points give bit for bit what `apply` gives on the dequantized f32 rows, with the same
/// kernel, for batches that reach every tile (1 to 4 rows and 7); a row of zero points gives
/// the bias exactly; a bad scale or zero point is refused with `y` untouched.
fn quantized(s: &mut Suite, k: &KernelInfo) {
    let mut rng = Rng(0x0951 ^ k.dtype.code() as u32);
    for (d_in, d_out) in [(35, 17), (17, 40), (70, 16)] {
        let src = source(&mut rng, d_in, d_out, false);
        let Ok(blob) = pack(&src, k.dtype, "test", "quantized") else { continue };
        let Ok(t) = Transform::with_isa(blob.as_bytes(), k.isa) else { continue };
        s.case(format_args!("{} {d_in}x{d_out} quantized inputs", k.name), |c| {
            let params: [(bool, f32, i32); 4] =
                [(true, 0.05, 0), (true, 0.3, -128), (false, 0.02, 128), (false, 1.5, 255)];
            for (signed, scale, zp) in params {
                for rows in [1, 2, 3, 4, 7] {
                    let bytes: Vec<u8> = (0..rows * d_in).map(|_| rng.int(0, 255) as u8).collect();
                    let signed_bytes: Vec<i8> = bytes.iter().map(|&b| b as i8).collect();
                    let (x, xf): (QuantizedRows<'_>, Vec<f32>) = if signed {
                        let xf = signed_bytes.iter().map(|&v| ((v as i32 - zp) as f32) * scale).collect();
                        (QuantizedRows::i8(&signed_bytes, scale, zp), xf)
                    } else {
                        let xf = bytes.iter().map(|&v| ((v as i32 - zp) as f32) * scale).collect();
                        (QuantizedRows::u8(&bytes, scale, zp), xf)
                    };
                    quantized_bits::<f32>(c, &t, x, &xf, rows, k.name);
                    quantized_bits::<f16>(c, &t, x, &xf, rows, k.name);
                    quantized_bits::<bf16>(c, &t, x, &xf, rows, k.name);
                }
            }
            // A row of zero points is the zero row: the bias, exactly.
            let zs = alloc::vec![-9i8; d_in];
            let mut y = alloc::vec![f32::NAN; d_out];
            let r = t.apply_quantized(QuantizedRows::i8(&zs, 0.37, -9), &mut y);
            c.that(r == Ok(1), format_args!("{}: zero-point row: {r:?}", k.name));
            for (j, v) in y.iter().enumerate() {
                let b = t.folded_bias(j).unwrap_or(f32::NAN);
                c.that(*v == b, format_args!("{}: zero-point row y[{j}] = {v}, bias {b}", k.name));
            }
            // Errors: nothing written.
            let xs = alloc::vec![1u8; d_in];
            let xi = alloc::vec![1i8; d_in];
            let mut y = alloc::vec![-2.5f32; d_out];
            let bad = [
                (QuantizedRows::u8(&xs, 0.0, 0), Error::BadInputScale { value: 0.0 }),
                (QuantizedRows::u8(&xs, -1.0, 0), Error::BadInputScale { value: -1.0 }),
                (QuantizedRows::u8(&xs, f32::INFINITY, 0), Error::BadInputScale { value: f32::INFINITY }),
                (QuantizedRows::u8(&xs, 1.0, 256), Error::BadInputZeroPoint { value: 256, min: 0, max: 255 }),
                (
                    QuantizedRows::i8(&xi, 1.0, 128),
                    Error::BadInputZeroPoint { value: 128, min: -128, max: 127 },
                ),
                (QuantizedRows::u8(&xs[1..], 1.0, 0), Error::InputLength { found: d_in - 1, d_in }),
            ];
            for (x, want) in bad {
                let r = t.apply_quantized(x, &mut y);
                c.that(r == Err(want), format_args!("{}: {x:?} gave {r:?}, expected {want:?}", k.name));
            }
            let r = t.apply_quantized(QuantizedRows::u8(&xs, f32::NAN, 0), &mut y);
            c.that(
                matches!(r, Err(Error::BadInputScale { value }) if value.is_nan()),
                format_args!("{}: NaN scale gave {r:?}", k.name),
            );
            c.that(y.iter().all(|&v| v == -2.5), format_args!("{}: y written on error", k.name));
        });
    }
}

fn quantized_bits<O: Element>(
    c: &mut Check,
    t: &Transform<'_>,
    x: QuantizedRows<'_>,
    xf: &[f32],
    rows: usize,
    name: &str,
) {
    let n = rows * t.d_out();
    let mut want = alloc::vec![O::from_f32(f32::NAN); n];
    let mut got = alloc::vec![O::from_f32(f32::NAN); n];
    let _ = t.apply(xf, &mut want);
    let r = t.apply_quantized(x, &mut got);
    c.that(r == Ok(rows), format_args!("{name} rows {rows}: apply_quantized returned {r:?}"));
    for (i, (g, w)) in got.iter().zip(&want).enumerate() {
        let (g, w) = (g.to_f32(), w.to_f32());
        c.that(
            !g.is_nan() && g.to_bits() == w.to_bits(),
            format_args!(
                "{name} {x:?} rows {rows}: y[{i}] = {g}, apply on the dequantized rows gives {w}",
                x = (x.scale(), x.zero_point())
            ),
        );
    }
}

#[entry]
fn main() -> ! {
    run("kernels", |s| {
        dispatch(s);
        for k in KERNELS.iter().filter(|k| k.isa.is_available()) {
            kernel_cases(s, k);
            rows_alone(s, k);
            quantized(s, k);
        }
    })
}
