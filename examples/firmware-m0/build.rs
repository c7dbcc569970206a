//! Host side of the FPU-less firmware examples (this crate on a Cortex-M0 and
//! examples/firmware-c-m3 on a Cortex-M3): crops the real resnet18/avgpool gLocal transform
//! (d = 512) to its first 256 inputs and 256 outputs, packs the crop as a `q8` blob, and writes
//! into OUT_DIR
//! - `transform_q8.glw` (for `glocal::embed_blob!`) and `transform_q8.c` (the same bytes as a C
//!   array),
//! - `golden.rs` / `golden_q8.h`: the first golden input rows cropped to 256 features, as f32
//!   and as int8 with one scale and zero point; for both, the float64 reference of the cropped
//!   transform (thingsvision's formula, in f64, on the inputs exactly as the kernel reads them)
//!   and this host's own `q8` result (f32 bits) for the same blob and inputs.
//!
//! The host result is what the firmware must reproduce bit for bit: `q8` computes exact int32
//! sums and the same few f32 roundings on every target, so a Cortex-M0 with soft float and an
//! x86 host agree in every bit. This script also checks the host's best kernel against the
//! portable one before anything is written.
//!
//! Why a crop: the whole d = 512 transform as q8 is about 270 KB, more than the 256 KiB of flash
//! of the micro:bit's nRF51; the 256 x 256 crop (66 KB) keeps real weights, including the
//! diagonal that gLocal transforms are dominated by. Reads `../shared` (beside the checkout) or
//! `$GLOCAL_SHARED`; the shared data is never copied into the repository.
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::{env, fs};

use glocal::kernel::Isa;
use glocal::pack::{npy::Npy, npz::read_transform, pack, Source};
use glocal::{QuantizedRows, Transform, WeightDtype};

const MODEL: &str = "resnet18";
const MODULE: &str = "avgpool";
/// The crop: inputs and outputs kept (the first ones).
const D: usize = 256;
/// Golden rows embedded in the firmware.
const ROWS: usize = 4;

fn fail(msg: String) -> ! {
    eprintln!("error: {msg}");
    panic!("{msg}");
}

fn read(path: &Path) -> Vec<u8> {
    fs::read(path).unwrap_or_else(|e| {
        fail(format!(
            "cannot read {} ({e}). This firmware embeds a crop of the real {MODEL}/{MODULE} gLocal \
             transform from the project's shared data: put `shared/` beside the checkout or set GLOCAL_SHARED.",
            path.display()
        ))
    })
}

/// thingsvision's formula in f64: `y = ((x - mean) / std) @ W + b`.
fn reference(s: &Source, x: &[f32]) -> Vec<f64> {
    let mut y = Vec::with_capacity(x.len() / s.d_in * s.d_out);
    for row in x.chunks_exact(s.d_in) {
        for j in 0..s.d_out {
            let acc: f64 = row
                .iter()
                .enumerate()
                .map(|(k, &v)| ((v as f64 - s.mean) / s.std) * s.weights[k * s.d_out + j])
                .sum();
            y.push(acc + s.bias.as_ref().map_or(0.0, |b| b[j]));
        }
    }
    y
}

/// The host's q8 result with its best kernel, checked bit for bit against the portable kernel.
fn host_q8(blob: &[u8], x: Input<'_>) -> Vec<f32> {
    let run = |isa: Option<Isa>| {
        let t = match isa {
            Some(isa) => Transform::with_isa(blob, isa),
            None => Transform::new(blob),
        }
        .unwrap_or_else(|e| fail(format!("host load: {e}")));
        let mut y = vec![f32::NAN; ROWS * D];
        match x {
            Input::F32(x) => t.apply(x, &mut y),
            Input::I8(q) => t.apply_quantized(q, &mut y),
        }
        .unwrap_or_else(|e| fail(format!("host apply: {e}")));
        (y, t.kernel().name)
    };
    let (best, name) = run(None);
    let (portable, _) = run(Some(Isa::Scalar));
    if best.iter().zip(&portable).any(|(a, b)| a.to_bits() != b.to_bits()) {
        fail(format!("host q8 kernels disagree: {name} vs the portable kernel"));
    }
    best
}

#[derive(Clone, Copy)]
enum Input<'a> {
    F32(&'a [f32]),
    I8(QuantizedRows<'a>),
}

fn rust_array<T>(src: &mut String, doc: &str, decl: &str, values: &[T], fmt: impl Fn(&T) -> String) {
    writeln!(src, "/// {doc}\npub static {decl}; {}] = [", values.len()).unwrap();
    for line in values.chunks(16) {
        let items: Vec<String> = line.iter().map(&fmt).collect();
        writeln!(src, "    {},", items.join(", ")).unwrap();
    }
    writeln!(src, "];").unwrap();
}

fn c_array<T>(h: &mut String, decl: &str, values: &[T], fmt: impl Fn(&T) -> String) {
    writeln!(h, "static const {decl}[{}] = {{", values.len()).unwrap();
    for line in values.chunks(16) {
        let items: Vec<String> = line.iter().map(&fmt).collect();
        writeln!(h, "  {},", items.join(", ")).unwrap();
    }
    writeln!(h, "}};").unwrap();
}

fn main() {
    let manifest = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("OUT_DIR"));
    // The board's layout as memory.x for cortex-m-rt (a file of that name in the package
    // directory would shadow it: the linker looks there first).
    fs::copy(manifest.join("memory-microbit.x"), out.join("memory.x")).expect("copy memory.x");
    println!("cargo:rustc-link-search={}", out.display());
    println!("cargo:rerun-if-changed=memory-microbit.x");
    println!("cargo:rerun-if-env-changed=GLOCAL_SHARED");

    let shared = env::var_os("GLOCAL_SHARED").map_or_else(|| manifest.join("../../../shared"), PathBuf::from);
    let npz = shared.join(format!("transforms/{MODEL}/{MODULE}/transform.npz"));
    let golden = shared.join(format!("golden/{MODEL}__{MODULE}"));
    for p in [&npz, &golden.join("x.npy")] {
        println!("cargo:rerun-if-changed={}", p.display());
    }

    let full = read_transform(&read(&npz)).unwrap_or_else(|e| fail(format!("{}: {e}", npz.display())));
    if full.d_in < D || full.d_out < D {
        fail(format!("{MODEL}/{MODULE} is {} x {}, smaller than the {D} x {D} crop", full.d_in, full.d_out));
    }
    let crop = Source {
        d_in: D,
        d_out: D,
        weights: (0..D).flat_map(|k| full.weights[k * full.d_out..k * full.d_out + D].to_vec()).collect(),
        bias: full.bias.as_ref().map(|b| b[..D].to_vec()),
        mean: full.mean,
        std: full.std,
    };
    let module = format!("{MODULE}[:{D},:{D}]");
    let blob = pack(&crop, WeightDtype::Q8, MODEL, &module).unwrap_or_else(|e| fail(format!("pack: {e}")));
    let blob = blob.as_bytes();
    fs::write(out.join("transform_q8.glw"), blob).expect("write blob");

    let x_bytes = read(&golden.join("x.npy"));
    let x = Npy::parse(&x_bytes).unwrap_or_else(|e| fail(format!("x.npy: {e}")));
    if x.shape.len() != 2 || x.shape[1] != full.d_in || x.shape[0] < ROWS {
        fail(format!("golden x shape {:?} does not match d_in = {}", x.shape, full.d_in));
    }
    let xv: Vec<f32> = x.to_f32().chunks_exact(full.d_in).take(ROWS).flat_map(|r| r[..D].to_vec()).collect();

    // int8 inputs as an int8 pipeline would hand them over: one scale and zero point for all
    // rows, the range [min(x, 0), max(x, 0)] onto -128..=127 (these features, after ReLU and
    // pooling, are never negative: the zero point is then -128).
    let (lo, hi) = xv.iter().fold((0f32, 0f32), |(l, h), &v| (l.min(v), h.max(v)));
    let scale = (hi - lo) / 255.0;
    let zero_point = -128 + (-lo / scale).round() as i32;
    let xq: Vec<i8> =
        xv.iter().map(|&v| ((v / scale).round() as i32 + zero_point).clamp(-128, 127) as i8).collect();
    let q = QuantizedRows::i8(&xq, scale, zero_point);
    q.check().unwrap_or_else(|e| fail(format!("int8 inputs: {e}")));
    // The float64 reference of the int8 rows is taken on the values the kernel reads.
    let xq_f32: Vec<f32> = (0..xq.len()).map(|i| q.dequantize(i).expect("in range")).collect();

    let y_ref = reference(&crop, &xv);
    let yq_ref = reference(&crop, &xq_f32);
    let y_host = host_q8(blob, Input::F32(&xv));
    let yq_host = host_q8(blob, Input::I8(q));

    let mut src = String::new();
    writeln!(src, "// Generated by build.rs from a {D} x {D} crop of {MODEL}/{MODULE}; not committed.")
        .unwrap();
    writeln!(
        src,
        "pub const D_IN: usize = {D};\npub const D_OUT: usize = {D};\npub const ROWS: usize = {ROWS};"
    )
    .unwrap();
    writeln!(src, "pub const XQ_SCALE: f32 = f32::from_bits({:#x});", scale.to_bits()).unwrap();
    writeln!(src, "pub const XQ_ZERO_POINT: i32 = {zero_point};").unwrap();
    rust_array(&mut src, "Golden input rows (f32).", "X: [f32", &xv, |v| {
        format!("f32::from_bits({:#x})", v.to_bits())
    });
    rust_array(&mut src, "The same rows as int8.", "XQ: [i8", &xq, |v| v.to_string());
    rust_array(&mut src, "float64 reference on X, as f64 bits.", "Y_REF_BITS: [u64", &y_ref, |v| {
        format!("{:#x}", v.to_bits())
    });
    rust_array(
        &mut src,
        "float64 reference on XQ dequantized, as f64 bits.",
        "YQ_REF_BITS: [u64",
        &yq_ref,
        |v| format!("{:#x}", v.to_bits()),
    );
    rust_array(&mut src, "The host's q8 result on X, as f32 bits.", "Y_HOST_BITS: [u32", &y_host, |v| {
        format!("{:#x}", v.to_bits())
    });
    rust_array(&mut src, "The host's q8 result on XQ, as f32 bits.", "YQ_HOST_BITS: [u32", &yq_host, |v| {
        format!("{:#x}", v.to_bits())
    });
    fs::write(out.join("golden.rs"), src).expect("write golden.rs");

    // The same data for the C firmware (examples/firmware-c-m3).
    let mut c = String::new();
    writeln!(
        c,
        "/* Generated by examples/firmware-m0/build.rs: q8 blob of a {D} x {D} crop of {MODEL}/{MODULE}. */"
    )
    .unwrap();
    writeln!(c, "#include <stdint.h>\n#include <stddef.h>").unwrap();
    writeln!(c, "const size_t glocal_q8_blob_len = {};", blob.len()).unwrap();
    writeln!(c, "__attribute__((aligned(64))) const uint8_t glocal_q8_blob[{}] = {{", blob.len()).unwrap();
    for line in blob.chunks(32) {
        let items: Vec<String> = line.iter().map(|b| b.to_string()).collect();
        writeln!(c, "{},", items.join(",")).unwrap();
    }
    writeln!(c, "}};").unwrap();
    fs::write(out.join("transform_q8.c"), c).expect("write transform_q8.c");

    let mut h = String::new();
    writeln!(h, "/* Generated by examples/firmware-m0/build.rs from a {D} x {D} crop of {MODEL}/{MODULE}; not committed. */")
        .unwrap();
    writeln!(h, "#include <stdint.h>\n#include <stddef.h>").unwrap();
    writeln!(h, "#define GOLDEN_D_IN {D}\n#define GOLDEN_D_OUT {D}\n#define GOLDEN_ROWS {ROWS}").unwrap();
    writeln!(
        h,
        "#define GOLDEN_XQ_SCALE_BITS {:#x}u\n#define GOLDEN_XQ_ZERO_POINT {zero_point}",
        scale.to_bits()
    )
    .unwrap();
    writeln!(h, "extern const uint8_t glocal_q8_blob[];\nextern const size_t glocal_q8_blob_len;").unwrap();
    c_array(&mut h, "uint32_t golden_x_bits", &xv, |v| format!("{:#x}u", v.to_bits()));
    c_array(&mut h, "int8_t golden_xq", &xq, |v| v.to_string());
    // The C firmware gets the float64 references rounded to f32 (a relative 6e-8, nothing
    // against the 8e-3 tolerance) so that it computes no double arithmetic: on an FPU-less core
    // that would be resolved from libglocal.a's compiler-builtins and counted as glocal's flash.
    c_array(&mut h, "uint32_t golden_y_ref_f32_bits", &y_ref, |v| format!("{:#x}u", (*v as f32).to_bits()));
    c_array(&mut h, "uint32_t golden_yq_ref_f32_bits", &yq_ref, |v| format!("{:#x}u", (*v as f32).to_bits()));
    c_array(&mut h, "uint32_t golden_y_host_bits", &y_host, |v| format!("{:#x}u", v.to_bits()));
    c_array(&mut h, "uint32_t golden_yq_host_bits", &yq_host, |v| format!("{:#x}u", v.to_bits()));
    fs::write(out.join("golden_q8.h"), h).expect("write golden_q8.h");
}
