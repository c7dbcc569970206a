//! Helpers shared by the CLI integration tests: running the binary, reading and writing .npy/.npz.
#![allow(dead_code)]

use std::ffi::OsStr;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use glocal::pack::npy::Npy;

/// What a run of `glocal` produced.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// A `glocal` command with a clean environment for the variables the tool reads.
pub fn cmd() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_glocal"));
    for v in [
        "GLOCAL_BASE_URL",
        "GLOCAL_CACHE_DIR",
        "GLOCAL_FORCE_ISA",
        "http_proxy",
        "HTTP_PROXY",
        "https_proxy",
        "HTTPS_PROXY",
        "all_proxy",
        "ALL_PROXY",
    ] {
        c.env_remove(v);
    }
    c
}

/// Runs a command and captures its result.
pub fn run_cmd(c: &mut Command) -> Run {
    let out = c.output().expect("spawn glocal");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Runs `glocal args...`.
pub fn glocal<I, S>(args: I) -> Run
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    run_cmd(cmd().args(args))
}

/// `glocal pack NPZ -o BLOB --dtype DTYPE --quiet`, which must succeed.
pub fn pack(npz: &Path, blob: &Path, dtype: &str) {
    let args = [
        OsStr::new("pack"),
        npz.as_os_str(),
        "-o".as_ref(),
        blob.as_os_str(),
        "--dtype".as_ref(),
        dtype.as_ref(),
    ];
    ok(&glocal(args.into_iter().chain(["--quiet".as_ref()])));
}

/// `glocal align TRANSFORM X -o Y --quiet EXTRA...`.
pub fn align(transform: &Path, x: &Path, y: &Path, extra: &[&str]) -> Run {
    let mut c = cmd();
    c.arg("align").arg(transform).arg(x).arg("-o").arg(y).arg("--quiet").args(extra);
    run_cmd(&mut c)
}

/// Asserts success, showing stderr otherwise.
pub fn ok(r: &Run) {
    assert_eq!(r.code, 0, "glocal failed:\nstdout: {}\nstderr: {}", r.stdout, r.stderr);
    assert!(!r.stderr.contains("panicked"), "{}", r.stderr);
}

/// Asserts the error contract: exit 1, exactly one stderr line `glocal: <place>: ...` containing
/// every `needle`, and no panic text.
pub fn fails(r: &Run, place: &str, needles: &[&str]) {
    assert_eq!(r.code, 1, "expected exit 1:\nstdout: {}\nstderr: {}", r.stdout, r.stderr);
    let lines: Vec<&str> = r
        .stderr
        .lines()
        .filter(|l| !l.starts_with("glocal: note:") && !l.starts_with("glocal: caution:"))
        .collect();
    assert_eq!(lines.len(), 1, "expected one error line, got: {:?}", r.stderr);
    let line = lines[0];
    assert!(
        line.starts_with(&format!("glocal: {place}")),
        "error line {line:?} does not start with 'glocal: {place}'"
    );
    for n in needles {
        assert!(line.contains(n), "error line {line:?} lacks {n:?}");
    }
    assert!(!r.stderr.contains("panicked") && !r.stderr.contains("internal error"), "{}", r.stderr);
}

/// Names of the entries of `dir`, sorted.
pub fn listing(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// Prints a notice that cargo's output capture does not swallow (written to the stderr handle
/// directly, not through `eprintln!`), so a skipped test is visible in every run.
pub fn notice(msg: &str) {
    let _ = writeln!(std::io::stderr(), "NOTICE: {msg}");
}

/// `../shared` beside the repository, or `None` after printing a notice (tests then skip).
pub fn shared(test: &str) -> Option<PathBuf> {
    // GLOCAL_SHARED_DIR points elsewhere (e.g. to a missing directory, to check the skip path).
    let p = std::env::var_os("GLOCAL_SHARED_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared"));
    if p.join("golden/index.json").is_file() {
        Some(p)
    } else {
        notice(&format!("{test}: skipped, ../shared (the gLocal transforms and golden data) is absent"));
        None
    }
}

/// The nine shared transforms: (golden dir name, model, module, path of transform.npz).
pub fn shared_transforms(shared: &Path) -> Vec<(String, String, String, PathBuf)> {
    let list = [
        ("clip_RN50", "visual"),
        ("clip_ViT-L/14", "visual"),
        ("OpenCLIP_ViT-L-14_laion400m_e32", "visual"),
        ("OpenCLIP_ViT-L-14_laion2b_s32b_b82k", "visual"),
        ("dinov2-vit-base-p14", "norm"),
        ("dinov2-vit-large-p14", "norm"),
        ("dino-vit-base-p16", "norm"),
        ("dino-vit-base-p8", "norm"),
        ("resnet18", "avgpool"),
    ];
    list.iter()
        .map(|(m, md)| {
            (
                format!("{}__{md}", m.replace('/', "_")),
                m.to_string(),
                md.to_string(),
                shared.join("transforms").join(m).join(md).join("transform.npz"),
            )
        })
        .collect()
}

/// Reads a float .npy as (shape, values in C order as f64).
pub fn read_npy(path: &Path) -> (Vec<usize>, Vec<f64>) {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let npy = Npy::parse(&bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    (npy.shape.clone(), npy.to_f64())
}

/// The header and raw data of an .npy, for dtypes the parser does not take ('<u2').
pub fn read_npy_raw(path: &Path) -> (String, Vec<u8>) {
    let bytes = std::fs::read(path).unwrap();
    assert_eq!(&bytes[..8], b"\x93NUMPY\x01\x00");
    let hl = u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
    assert_eq!((10 + hl) % 64, 0, "data not 64-byte aligned");
    (String::from_utf8(bytes[10..10 + hl].to_vec()).unwrap(), bytes[10 + hl..].to_vec())
}

/// An .npy image with any descr, shape and raw data.
pub fn npy_bytes(descr: &str, shape: &[usize], data: &[u8]) -> Vec<u8> {
    glocal_test_support::npy::array(descr, shape, data)
}

/// Writes float32 values as .npy.
pub fn write_f32(path: &Path, shape: &[usize], v: &[f32]) {
    let data: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
    std::fs::write(path, npy_bytes("<f4", shape, &data)).unwrap();
}

/// Writes float64 values as .npy.
pub fn write_f64(path: &Path, shape: &[usize], v: &[f64]) {
    let data: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
    std::fs::write(path, npy_bytes("<f8", shape, &data)).unwrap();
}

/// Writes a zip (npz) of named members, stored.
pub fn write_npz(path: &Path, members: &[(&str, Vec<u8>)]) {
    use glocal_test_support::npz;
    std::fs::write(path, npz::archive(members, npz::CompressionMethod::Stored)).unwrap();
}

/// A small synthetic transform.npz: W[k][j] = 0.01 * ((k * 7 + j * 3) % 11) - 0.05 (+0.5 on the
/// diagonal), bias j * 0.001, mean 0.25, std 1.5. Returns its Source for the oracle.
pub fn synthetic_npz(path: &Path, d_in: usize, d_out: usize, with_bias: bool) -> glocal::pack::Source {
    let w: Vec<f32> = (0..d_in * d_out)
        .map(|i| {
            let (k, j) = (i / d_out, i % d_out);
            0.01 * ((k * 7 + j * 3) % 11) as f32 - 0.05 + if k == j { 0.5 } else { 0.0 }
        })
        .collect();
    let b: Vec<f32> = (0..d_out).map(|j| j as f32 * 0.001).collect();
    let f32s = |v: &[f32]| v.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<u8>>();
    let mut members = vec![
        ("weights.npy", npy_bytes("<f4", &[d_in, d_out], &f32s(&w))),
        ("mean.npy", npy_bytes("<f4", &[], &0.25f32.to_le_bytes())),
        ("std.npy", npy_bytes("<f4", &[], &1.5f32.to_le_bytes())),
    ];
    if with_bias {
        members.push(("bias.npy", npy_bytes("<f4", &[d_out], &f32s(&b))));
    }
    write_npz(path, &members);
    glocal::pack::Source {
        d_in,
        d_out,
        weights: w.iter().map(|&x| x as f64).collect(),
        bias: with_bias.then(|| b.iter().map(|&x| x as f64).collect()),
        mean: 0.25,
        std: 1.5,
    }
}

/// The f64 oracle for `rows` rows of `x`.
pub fn oracle(s: &glocal::pack::Source, x: &[f64]) -> Vec<f64> {
    let rows = x.len() / s.d_in;
    let mut y = vec![f64::NAN; rows * s.d_out];
    for r in 0..rows {
        for j in 0..s.d_out {
            let mut acc = s.bias.as_ref().map_or(0.0, |b| b[j]);
            for k in 0..s.d_in {
                acc += (x[r * s.d_in + k] - s.mean) / s.std * s.weights[k * s.d_out + j];
            }
            y[r * s.d_out + j] = acc;
        }
    }
    y
}

/// Largest |a - b| relative to max |b| (NaN counts as infinitely wrong).
pub fn rel_err(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len());
    let scale = b.iter().fold(0.0f64, |m, v| m.max(v.abs())).max(f64::MIN_POSITIVE);
    a.iter()
        .zip(b)
        .map(|(x, y)| if x.is_nan() { f64::INFINITY } else { (x - y).abs() / scale })
        .fold(0.0, f64::max)
}
