//! Packs a blob file for the C examples and tests (CI runs it; nothing it writes is committed).
//!
//! ```text
//! pack_blob npz <transform.npz> <dtype> <out.glw> [model] [module]
//! pack_blob synthetic <d_in> <d_out> <dtype> <out.glw>
//! pack_blob identity <d> <dtype> <out.glw>
//! ```
//! `dtype` is `f32`, `f16`, `bf16` or `i8d`.
//!
//! `synthetic` writes the deterministic transform the C test (`ffi/tests/c/test_glocal.c`)
//! recomputes in double precision:
//! `W[k][j] = ((7k + 3j) mod 11 - 5) / 4`, `b[j] = ((j mod 5) - 2) / 2`, `mean = 0.5`,
//! `std = 2`. Every folded weight is a multiple of 1/8 below 1 and every folded bias a small
//! multiple of 1/16, so all three dtypes store them exactly and integer inputs give exact
//! outputs (`i8d` quantises the off-diagonal weights: the C test replays that quantisation).
//! It also stands in for the real transform when `../shared` is absent.
//!
//! `identity` writes `y = x` (`W = I`, no bias, `mean = 0`, `std = 1`): every output is the input,
//! so a zero input row gives a zero output row (the C test of L2 normalisation uses it).
use std::process::ExitCode;

use glocal_core::pack::{self, Source};
use glocal_core::WeightDtype;

fn synthetic(d_in: usize, d_out: usize) -> Source {
    let weights = (0..d_in)
        .flat_map(|k| (0..d_out).map(move |j| ((7 * k + 3 * j) % 11) as f64 - 5.0))
        .map(|w| w / 4.0)
        .collect();
    let bias = (0..d_out).map(|j| ((j % 5) as f64 - 2.0) / 2.0).collect();
    Source { d_in, d_out, weights, bias: Some(bias), mean: 0.5, std: 2.0 }
}

fn identity(d: usize) -> Source {
    let weights = (0..d * d).map(|i| f64::from(u8::from(i % (d + 1) == 0))).collect();
    Source { d_in: d, d_out: d, weights, bias: None, mean: 0.0, std: 1.0 }
}

fn run(args: &[String]) -> Result<(), String> {
    let dtype =
        |s: &str| WeightDtype::from_name(s).ok_or(format!("unknown dtype {s:?} (f32, f16, bf16, i8d)"));
    let dim = |s: &str| s.parse::<usize>().map_err(|e| format!("bad dimension {s:?}: {e}"));
    let (source, dtype, out, model, module) = match args {
        [cmd, npz, dt, out, rest @ ..] if cmd == "npz" && rest.len() <= 2 => {
            let bytes = std::fs::read(npz).map_err(|e| format!("{npz}: {e}"))?;
            let source = pack::npz::read_transform(&bytes).map_err(|e| format!("{npz}: {e}"))?;
            let model = rest.first().map_or("unknown", String::as_str);
            let module = rest.get(1).map_or("unknown", String::as_str);
            (source, dtype(dt)?, out, model, module)
        }
        [cmd, d_in, d_out, dt, out] if cmd == "synthetic" => {
            (synthetic(dim(d_in)?, dim(d_out)?), dtype(dt)?, out, "synthetic", "test")
        }
        [cmd, d, dt, out] if cmd == "identity" => (identity(dim(d)?), dtype(dt)?, out, "identity", "test"),
        _ => {
            return Err("usage: pack_blob npz <transform.npz> <dtype> <out.glw> [model] [module]\n       \
                        pack_blob synthetic <d_in> <d_out> <dtype> <out.glw>\n       \
                        pack_blob identity <d> <dtype> <out.glw>   (dtype: f32, f16, bf16, i8d)"
                .into())
        }
    };
    let blob = pack::pack(&source, dtype, model, module).map_err(|e| e.to_string())?;
    std::fs::write(out, blob.as_bytes()).map_err(|e| format!("{out}: {e}"))?;
    println!("{out}: {} x {} {dtype}, {} bytes", source.d_in, source.d_out, blob.len());
    Ok(())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("pack_blob: {e}");
            ExitCode::FAILURE
        }
    }
}
