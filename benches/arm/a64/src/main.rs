//! The aarch64 half of the Arm cost harness (`benches/arm/run.py` builds and runs it under
//! `qemu-aarch64` with the instruction-count plugin).
//!
//! `glocal-arm-cost-a64 D BATCHES DTYPES`, e.g. `512 1,8,64 f32,f16,bf16,i8d`: packs the
//! synthetic transform of `benches/arm/common/synth.rs` into each dtype at run time, applies it
//! through the public API between the two marker functions, and prints one `case` line per
//! measurement window, in window order, with the error against the f64 oracle. Then the same
//! for OpenBLAS (`cblas_sgemv` for one row, `cblas_sgemm` for more) when
//! `GLOCAL_ARM_OPENBLAS` names a loadable library. The first window is empty (markers only).

use std::ffi::CString;
use std::hint::black_box;

use glocal::{pack, PostOp, Transform, WeightDtype};

#[path = "../../common/synth.rs"]
mod synth;

/// Opens a measurement window (the plugin starts counting at its first instruction).
/// Distinct bodies keep identical-code folding from merging the two markers.
#[no_mangle]
#[inline(never)]
pub extern "C" fn glocal_bench_start(tag: u32) -> u32 {
    black_box(tag.wrapping_mul(3))
}

/// Closes a measurement window.
#[no_mangle]
#[inline(never)]
pub extern "C" fn glocal_bench_stop(tag: u32) -> u32 {
    black_box(tag.wrapping_add(0x5a5a))
}

/// Largest |y - y_ref| (NaN counts as infinite) and largest |y_ref|.
fn error(y: &[f32], y_ref: &[f64]) -> (f64, f64) {
    let mut e = 0f64;
    let mut r = 0f64;
    for (&a, &b) in y.iter().zip(y_ref) {
        e = e.max(if a.is_finite() { (a as f64 - b).abs() } else { f64::INFINITY });
        r = r.max(b.abs());
    }
    (e, r)
}

fn parse_list(s: &str) -> Vec<String> {
    s.split(',').filter(|v| !v.is_empty()).map(str::to_owned).collect()
}

type SgemvFn =
    unsafe extern "C" fn(i32, i32, i32, i32, f32, *const f32, i32, *const f32, i32, f32, *mut f32, i32);
type SgemmFn = unsafe extern "C" fn(
    i32,
    i32,
    i32,
    i32,
    i32,
    i32,
    f32,
    *const f32,
    i32,
    *const f32,
    i32,
    f32,
    *mut f32,
    i32,
);
const ROW_MAJOR: i32 = 101;
const NO_TRANS: i32 = 111;
const TRANS: i32 = 112;

/// OpenBLAS's CBLAS entry points and the address its library is loaded at (for the hot-loop
/// disassembly: the plugin reports run-time addresses).
struct OpenBlas {
    sgemv: SgemvFn,
    sgemm: SgemmFn,
    base: usize,
}

fn openblas(path: &str) -> Result<OpenBlas, String> {
    let c = CString::new(path).map_err(|e| e.to_string())?;
    // SAFETY: a NUL-terminated path; dlopen has no other precondition.
    let lib = unsafe { libc::dlopen(c.as_ptr(), libc::RTLD_NOW) };
    if lib.is_null() {
        return Err(format!("dlopen {path} failed"));
    }
    let sym = |name: &str| {
        let n = CString::new(name).expect("symbol name");
        // SAFETY: a live handle and a NUL-terminated name.
        let p = unsafe { libc::dlsym(lib, n.as_ptr()) };
        if p.is_null() {
            Err(format!("{path} has no {name}"))
        } else {
            Ok(p)
        }
    };
    let (v, m) = (sym("cblas_sgemv")?, sym("cblas_sgemm")?);
    let mut info: libc::Dl_info = empty_dl_info();
    // SAFETY: `v` is an address inside the library and `info` is writable.
    if unsafe { libc::dladdr(v, &mut info) } == 0 {
        return Err("dladdr failed".into());
    }
    // SAFETY: the symbols are the LP64 CBLAS functions with these C signatures.
    let (sgemv, sgemm) = unsafe {
        (
            std::mem::transmute::<*mut libc::c_void, SgemvFn>(v),
            std::mem::transmute::<*mut libc::c_void, SgemmFn>(m),
        )
    };
    Ok(OpenBlas { sgemv, sgemm, base: info.dli_fbase as usize })
}

fn empty_dl_info() -> libc::Dl_info {
    libc::Dl_info {
        dli_fname: std::ptr::null(),
        dli_fbase: std::ptr::null_mut(),
        dli_sname: std::ptr::null(),
        dli_saddr: std::ptr::null_mut(),
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 4 {
        eprintln!("usage: {} D BATCHES DTYPES   (e.g. 512 1,8,64 f32,f16,bf16,i8d)", args[0]);
        std::process::exit(2);
    }
    let d: usize = args[1].parse().expect("D");
    let batches: Vec<usize> = parse_list(&args[2]).iter().map(|b| b.parse().expect("batch")).collect();
    let dtypes = parse_list(&args[3]);
    let max_b = batches.iter().copied().max().unwrap_or(1);

    let src = synth::source(d);
    let x = synth::inputs(d, max_b);
    let y_ref = synth::oracle(&src, &x);
    let mut y = vec![f32::NAN; max_b * d];

    glocal_bench_start(0);
    glocal_bench_stop(0);
    println!("case empty - 0 0 0 0 -");

    for name in &dtypes {
        let Some(dtype) = WeightDtype::from_name(name) else {
            println!("error unknown dtype {name}");
            std::process::exit(1);
        };
        let blob = pack::pack(&src, dtype, "synthetic", "arm-cost").expect("pack");
        let t = Transform::new(blob.as_bytes()).expect("transform");
        for &b in &batches {
            let (xb, yb) = (&x[..b * d], &mut y[..b * d]);
            // Batches go through the workspace API, as an application that batches would
            // (inputs packed once per chunk of rows); batch 1 needs none.
            let mut ws = vec![0f32; t.workspace_len(b)];
            yb.fill(f32::NAN);
            t.apply_with_workspace(xb, yb, PostOp::None, &mut ws).expect("warm-up apply");
            yb.fill(f32::NAN);
            glocal_bench_start(1);
            let r = t.apply_with_workspace(black_box(xb), yb, PostOp::None, &mut ws);
            glocal_bench_stop(1);
            r.expect("apply");
            let (e, m) = error(yb, &y_ref[..b * d]);
            println!("case glocal {name} {b} {} {e:e} {m:e} {}", b * d * d, t.kernel().name);
        }
    }

    if let Ok(path) = std::env::var("GLOCAL_ARM_OPENBLAS") {
        let ob = match openblas(&path) {
            Ok(ob) => ob,
            Err(e) => {
                println!("error {e}");
                std::process::exit(1);
            }
        };
        println!("info openblas_base {:#x}", ob.base);
        let (w, bias) = synth::folded_f32(&src);
        // sgemv_t streams W' transposed (d_out x d_in): a peer may choose its layout when it
        // prepares its weights, as glocal's packer does, so both sgemv forms are measured.
        let mut wt = vec![0f32; d * d];
        for k in 0..d {
            for j in 0..d {
                wt[j * d + k] = w[k * d + j];
            }
        }
        let di = d as i32;
        let mut peers: Vec<(&str, usize)> = vec![("sgemv_n", 1), ("sgemv_t", 1)];
        peers.extend(batches.iter().filter(|&&b| b > 1).map(|&b| ("sgemm", b)));
        for (f, b) in peers {
            let (xb, yb) = (&x[..b * d], &mut y[..b * d]);
            for pass in 0..2 {
                yb.fill(f32::NAN);
                if pass == 1 {
                    glocal_bench_start(2);
                }
                // SAFETY: w and wt are d x d, x is b x d, y is b x d, all row-major with the
                // strides passed; y does not overlap the inputs.
                unsafe {
                    match f {
                        // y = W'^T x with W' row-major (d_in x d_out): column-major no-trans.
                        "sgemv_n" => (ob.sgemv)(
                            ROW_MAJOR,
                            TRANS,
                            di,
                            di,
                            1.0,
                            w.as_ptr(),
                            di,
                            xb.as_ptr(),
                            1,
                            0.0,
                            yb.as_mut_ptr(),
                            1,
                        ),
                        // y = (W'^T) x with W'^T row-major: dot products along rows.
                        "sgemv_t" => (ob.sgemv)(
                            ROW_MAJOR,
                            NO_TRANS,
                            di,
                            di,
                            1.0,
                            wt.as_ptr(),
                            di,
                            xb.as_ptr(),
                            1,
                            0.0,
                            yb.as_mut_ptr(),
                            1,
                        ),
                        _ => (ob.sgemm)(
                            ROW_MAJOR,
                            NO_TRANS,
                            NO_TRANS,
                            b as i32,
                            di,
                            di,
                            1.0,
                            xb.as_ptr(),
                            di,
                            w.as_ptr(),
                            di,
                            0.0,
                            yb.as_mut_ptr(),
                            di,
                        ),
                    }
                }
                if pass == 1 {
                    glocal_bench_stop(2);
                }
            }
            // The bias is added outside the window: the peer is measured on the multiply only.
            for row in yb.chunks_exact_mut(d) {
                for (v, bj) in row.iter_mut().zip(&bias) {
                    *v += bj;
                }
            }
            let (e, m) = error(yb, &y_ref[..b * d]);
            println!("case openblas {f} {b} {} {e:e} {m:e} -", b * d * d);
        }
    }
}
