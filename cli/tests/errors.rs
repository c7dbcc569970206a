//! Every error path of the tool: exit code 1 (2 for usage), one line naming the file and the
//! problem, no panic, and no output file (nor temporary file) left behind.

mod common;
use common::*;

use std::path::{Path, PathBuf};

/// A temp dir with a small valid transform (`t.npz`, `t.glw`) and features (`x.npy`, 4 x 8).
struct Fixture {
    dir: tempfile::TempDir,
}

impl Fixture {
    fn new() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let f = Fixture { dir };
        synthetic_npz(&f.p("t.npz"), 8, 5, true);
        ok(&glocal(["pack".as_ref(), f.p("t.npz").as_os_str(), "-o".as_ref(), f.p("t.glw").as_os_str()]));
        let x: Vec<f32> = (0..32).map(|i| i as f32 * 0.1).collect();
        write_f32(&f.p("x.npy"), &[4, 8], &x);
        f
    }
    fn p(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
    fn files(&self) -> Vec<String> {
        listing(self.dir.path())
    }
    /// Runs align with `transform` and `features` (names in the dir) to `out.npy`; asserts the
    /// error and that the directory is unchanged.
    fn align_fails(
        &self,
        transform: &str,
        features: &str,
        extra: &[&str],
        place: &str,
        needles: &[&str],
    ) -> Run {
        let before = self.files();
        let t = if Path::new(transform).is_absolute() || !self.p(transform).exists() {
            PathBuf::from(transform)
        } else {
            self.p(transform)
        };
        let mut c = cmd();
        c.arg("align").arg(&t).arg(self.p(features)).arg("-o").arg(self.p("out.npy")).args(extra);
        let r = run_cmd(&mut c);
        let place = place.replace("{dir}", &self.dir.path().display().to_string());
        fails(&r, &place, needles);
        assert_eq!(self.files(), before, "a failed align left files behind");
        r
    }
}

#[test]
fn missing_files() {
    let f = Fixture::new();
    f.align_fails("t.glw", "nope.npy", &[], "{dir}/nope.npy", &["cannot open", "no such file"]);
    f.align_fails(
        "/nonexistent/t.glw",
        "x.npy",
        &[],
        "/nonexistent/t.glw",
        &["not a file, and not a published gLocal model"],
    );
    let r = glocal(["pack", "/nonexistent.npz", "-o", "/tmp/never-written.glw"]);
    fails(&r, "/nonexistent.npz", &["no such file"]);
    let r = glocal(["inspect", "/nonexistent.glw"]);
    fails(&r, "/nonexistent.glw", &["no such file"]);
}

#[test]
fn not_an_npz_and_not_a_blob() {
    let f = Fixture::new();
    std::fs::write(f.p("text.npz"), "hello, not a zip\n").unwrap();
    let before = f.files();
    let r = glocal(["pack".as_ref(), f.p("text.npz").as_os_str(), "-o".as_ref(), f.p("o.glw").as_os_str()]);
    fails(&r, &f.p("text.npz").display().to_string(), &["not an .npz (zip) archive"]);
    assert_eq!(f.files(), before);
    f.align_fails(
        "text.npz",
        "x.npy",
        &[],
        "{dir}/text.npz",
        &["neither a glocal blob", "nor a transform.npz"],
    );
    // A zip that is not a valid archive past its signature.
    std::fs::write(f.p("broken.npz"), b"PK\x03\x04garbage").unwrap();
    f.align_fails("broken.npz", "x.npy", &[], "{dir}/broken.npz", &["not a readable .npz (zip) archive"]);
    // A blob given to pack, an npy given as transform, an empty file.
    let r = glocal(["pack".as_ref(), f.p("t.glw").as_os_str(), "-o".as_ref(), f.p("o.glw").as_os_str()]);
    fails(&r, &f.p("t.glw").display().to_string(), &["already a glocal blob"]);
    f.align_fails("x.npy", "x.npy", &[], "{dir}/x.npy", &["neither a glocal blob"]);
    std::fs::write(f.p("empty.glw"), b"").unwrap();
    f.align_fails("empty.glw", "x.npy", &[], "{dir}/empty.glw", &["empty file"]);
}

#[test]
fn npz_without_weights_and_bad_transforms() {
    let f = Fixture::new();
    let scalar = |v: f32| npy_bytes("<f4", &[], &v.to_le_bytes());
    write_npz(&f.p("noweights.npz"), &[("mean.npy", scalar(0.0)), ("std.npy", scalar(1.0))]);
    f.align_fails(
        "noweights.npz",
        "x.npy",
        &[],
        "{dir}/noweights.npz",
        &["no 'weights' array", "mean.npy, std.npy"],
    );
    let before = f.files();
    let r =
        glocal(["pack".as_ref(), f.p("noweights.npz").as_os_str(), "-o".as_ref(), f.p("o.glw").as_os_str()]);
    fails(&r, &f.p("noweights.npz").display().to_string(), &["no 'weights' array"]);
    assert_eq!(f.files(), before);
    // std <= 0.
    let w = npy_bytes("<f4", &[1, 1], &1.0f32.to_le_bytes());
    write_npz(
        &f.p("std0.npz"),
        &[("weights.npy", w.clone()), ("mean.npy", scalar(0.0)), ("std.npy", scalar(0.0))],
    );
    f.align_fails("std0.npz", "x.npy", &[], "{dir}/std0.npz", &["std is 0", "> 0"]);
    // NaN weight.
    let wn = npy_bytes("<f4", &[1, 1], &f32::NAN.to_le_bytes());
    write_npz(&f.p("nan.npz"), &[("weights.npy", wn), ("mean.npy", scalar(0.0)), ("std.npy", scalar(1.0))]);
    f.align_fails("nan.npz", "x.npy", &[], "{dir}/nan.npz", &["weights[0, 0] is NaN"]);
    // Integer weights.
    let wi = npy_bytes("<i4", &[1, 1], &1i32.to_le_bytes());
    write_npz(&f.p("int.npz"), &[("weights.npy", wi), ("mean.npy", scalar(0.0)), ("std.npy", scalar(1.0))]);
    f.align_fails("int.npz", "x.npy", &[], "{dir}/int.npz", &["member 'weights.npy'", "integer dtype"]);
}

#[test]
fn feature_shape_and_dtype_errors() {
    let f = Fixture::new();
    write_f32(&f.p("wide.npy"), &[4, 9], &[0.5; 36]);
    f.align_fails("t.glw", "wide.npy", &[], "{dir}/wide.npy", &["9 columns", "d_in is 8", "expected [4, 8]"]);
    write_f32(&f.p("wide1.npy"), &[9], &[0.5; 9]);
    f.align_fails("t.glw", "wide1.npy", &[], "{dir}/wide1.npy", &["length 9", "expected [8]"]);
    write_f32(&f.p("cube.npy"), &[2, 2, 8], &[0.5; 32]);
    f.align_fails("t.glw", "cube.npy", &[], "{dir}/cube.npy", &["shape [2, 2, 8]", "expected [n, 8] or [8]"]);
    write_f32(&f.p("zero.npy"), &[0, 8], &[]);
    f.align_fails("t.glw", "zero.npy", &[], "{dir}/zero.npy", &["0 rows"]);
    write_f32(&f.p("scalar.npy"), &[], &[1.0]);
    f.align_fails("t.glw", "scalar.npy", &[], "{dir}/scalar.npy", &["shape []"]);
    std::fs::write(f.p("int.npy"), npy_bytes("<i8", &[4, 8], &[0u8; 256])).unwrap();
    f.align_fails(
        "t.glw",
        "int.npy",
        &[],
        "{dir}/int.npy",
        &["integer dtype", "<i8", "float16, float32 and float64"],
    );
    std::fs::write(f.p("obj.npy"), npy_bytes("|O", &[4, 8], &[0u8; 256])).unwrap();
    f.align_fails("t.glw", "obj.npy", &[], "{dir}/obj.npy", &["object dtype"]);
    // A shape that declares more data than the file holds.
    std::fs::write(f.p("short.npy"), npy_bytes("<f4", &[1_000_000_000, 8], &[0u8; 64])).unwrap();
    f.align_fails(
        "t.glw",
        "short.npy",
        &[],
        "{dir}/short.npy",
        &["shape declares 32000000000 bytes", "holds 64"],
    );
    std::fs::write(f.p("junk.npy"), b"not numpy at all").unwrap();
    f.align_fails("t.glw", "junk.npy", &[], "{dir}/junk.npy", &["not a .npy array"]);
    // --key on an .npy; .npz features without or with a wrong key.
    f.align_fails("t.glw", "x.npy", &["--key", "a"], "{dir}/x.npy", &["--key applies only to .npz"]);
    let xb = npy_bytes("<f4", &[4, 8], &[0u8; 128]);
    write_npz(&f.p("two.npz"), &[("a.npy", xb.clone()), ("b.npy", xb)]);
    f.align_fails("t.glw", "two.npz", &[], "{dir}/two.npz", &["holds 2 arrays", "--key", "a, b"]);
    f.align_fails("t.glw", "two.npz", &["--key", "c"], "{dir}/two.npz", &["no array 'c'", "a, b"]);
    // A blob as features.
    f.align_fails("t.glw", "t.glw", &[], "{dir}/t.glw", &["is a glocal blob, expected features"]);
}

#[test]
fn nan_features_give_nan_rows_and_a_note() {
    let f = Fixture::new();
    let mut x: Vec<f32> = (0..32).map(|i| i as f32 * 0.1).collect();
    x[8 + 3] = f32::NAN; // row 1
    write_f32(&f.p("nan.npy"), &[4, 8], &x);
    let mut c = cmd();
    c.arg("align").arg(f.p("t.glw")).arg(f.p("nan.npy")).arg("-o").arg(f.p("y.npy"));
    let r = run_cmd(&mut c);
    ok(&r);
    assert!(r.stderr.contains("1 of 4 rows contain NaN or infinite values"), "{}", r.stderr);
    let (shape, y) = read_npy(&f.p("y.npy"));
    assert_eq!(shape, vec![4, 5]);
    for (i, v) in y.iter().enumerate() {
        assert_eq!(v.is_nan(), i / 5 == 1, "y[{i}] = {v}");
    }
    let (_, y_clean) = {
        let mut c = cmd();
        c.arg("align").arg(f.p("t.glw")).arg(f.p("x.npy")).arg("-o").arg(f.p("y_clean.npy"));
        ok(&run_cmd(&mut c));
        read_npy(&f.p("y_clean.npy"))
    };
    for r in [0, 2, 3] {
        assert_eq!(y[r * 5..r * 5 + 5], y_clean[r * 5..r * 5 + 5], "row {r} changed by another row's NaN");
    }
}

#[test]
fn corrupt_and_truncated_blobs() {
    let f = Fixture::new();
    let blob = std::fs::read(f.p("t.glw")).unwrap();
    // One flipped bit in the weights.
    let mut flipped = blob.clone();
    let at = blob.len() - 40;
    flipped[at] ^= 0x10;
    std::fs::write(f.p("flip.glw"), &flipped).unwrap();
    f.align_fails("flip.glw", "x.npy", &[], "{dir}/flip.glw", &["checksum mismatch", "corrupt blob"]);
    let r = glocal(["inspect".as_ref(), f.p("flip.glw").as_os_str()]);
    fails(&r, &f.p("flip.glw").display().to_string(), &["invalid blob", "checksum mismatch"]);
    assert!(
        r.stdout.contains("MISMATCH (corrupt blob)") && r.stdout.contains("status          INVALID"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("d_in            8"), "inspect must still print the fields: {}", r.stdout);
    // Truncated payload, truncated header, trailing bytes.
    std::fs::write(f.p("trunc.glw"), &blob[..blob.len() - 64]).unwrap();
    f.align_fails(
        "trunc.glw",
        "x.npy",
        &[],
        "{dir}/trunc.glw",
        &["truncated", &format!("header declares {}", blob.len())],
    );
    std::fs::write(f.p("head.glw"), &blob[..100]).unwrap();
    f.align_fails("head.glw", "x.npy", &[], "{dir}/head.glw", &["blob truncated: 100 bytes"]);
    let r = glocal(["inspect".as_ref(), f.p("head.glw").as_os_str()]);
    fails(&r, &f.p("head.glw").display().to_string(), &["blob truncated"]);
    assert!(
        r.stdout.contains("file_size       100 bytes")
            && r.stdout.contains("d_in            8")
            && !r.stdout.contains("model"),
        "{}",
        r.stdout
    );
    let mut long = blob.clone();
    long.extend_from_slice(&[0; 64]);
    std::fs::write(f.p("long.glw"), &long).unwrap();
    f.align_fails("long.glw", "x.npy", &[], "{dir}/long.glw", &["trailing bytes"]);
    // Wrong version and dtype fields.
    let mut v = blob.clone();
    v[8] = 9;
    std::fs::write(f.p("ver.glw"), &v).unwrap();
    f.align_fails("ver.glw", "x.npy", &[], "{dir}/ver.glw", &["unsupported blob format version 9"]);
    let mut d = blob.clone();
    d[0x10] = 77;
    std::fs::write(f.p("dt.glw"), &d).unwrap();
    f.align_fails("dt.glw", "x.npy", &[], "{dir}/dt.glw", &["dtype", "unknown weight dtype code 77"]);
    let r = glocal(["inspect".as_ref(), f.p("dt.glw").as_os_str()]);
    assert_eq!(r.code, 1);
    assert!(r.stdout.contains("dtype           77 (unknown)"), "{}", r.stdout);
    // --dtype that contradicts the blob.
    f.align_fails(
        "t.glw",
        "x.npy",
        &["--dtype", "f16"],
        "{dir}/t.glw",
        &["stores f32 weights", "--dtype asks for f16"],
    );
    // --module with a file.
    f.align_fails(
        "t.glw",
        "x.npy",
        &["--module", "visual"],
        "{dir}/t.glw",
        &["--module and --first-upload apply only to model names"],
    );
}

#[test]
fn output_errors_leave_nothing() {
    let f = Fixture::new();
    // Output into a missing directory, and onto a directory.
    let mut c = cmd();
    c.arg("align").arg(f.p("t.glw")).arg(f.p("x.npy")).arg("-o").arg(f.p("missing/y.npy"));
    fails(
        &run_cmd(&mut c),
        &f.p("missing/y.npy").display().to_string(),
        &["cannot create output", "no such file"],
    );
    std::fs::create_dir(f.p("adir")).unwrap();
    let mut c = cmd();
    c.arg("align").arg(f.p("t.glw")).arg(f.p("x.npy")).arg("-o").arg(f.p("adir"));
    fails(&run_cmd(&mut c), &f.p("adir").display().to_string(), &["is a directory"]);
    // An existing output is replaced only on success: a failing run keeps the old file intact.
    std::fs::write(f.p("keep.npy"), b"old").unwrap();
    write_f32(&f.p("wide.npy"), &[4, 9], &[0.5; 36]);
    let mut c = cmd();
    c.arg("align").arg(f.p("t.glw")).arg(f.p("wide.npy")).arg("-o").arg(f.p("keep.npy"));
    assert_eq!(run_cmd(&mut c).code, 1);
    assert_eq!(std::fs::read(f.p("keep.npy")).unwrap(), b"old");
    assert!(!listing(f.dir.path()).iter().any(|n| n.ends_with(".part")));
}

#[test]
fn usage_errors_exit_2() {
    let f = Fixture::new();
    for args in [
        vec!["align".to_string(), f.p("t.glw").display().to_string(), f.p("x.npy").display().to_string()],
        vec![
            "pack".into(),
            f.p("t.npz").display().to_string(),
            "-o".into(),
            "o.glw".into(),
            "--dtype".into(),
            "f64".into(),
        ],
        vec!["frobnicate".into()],
        vec!["fetch".into(), "resnet18".into(), "--first-upload".into()],
    ] {
        let r = glocal(&args);
        assert_eq!(r.code, 2, "{args:?}: {}", r.stderr);
        assert!(!r.stderr.contains("panicked"));
    }
    let r = glocal(["--help"]);
    assert_eq!(r.code, 0);
    for sub in ["pack", "align", "inspect", "models", "fetch", "emit-c", "emit-rs"] {
        assert!(r.stdout.contains(sub), "--help lacks {sub}");
    }
}

#[test]
fn emit_errors() {
    let f = Fixture::new();
    let before = f.files();
    let r = glocal([
        "emit-c".as_ref(),
        f.p("t.glw").as_os_str(),
        "-o".as_ref(),
        f.p("b.c").as_os_str(),
        "--symbol".as_ref(),
        "int".as_ref(),
    ]);
    fails(&r, "int", &["--symbol must be an identifier"]);
    let r = glocal([
        "emit-c".as_ref(),
        f.p("t.glw").as_os_str(),
        "-o".as_ref(),
        f.p("b.c").as_os_str(),
        "--symbol".as_ref(),
        "ok_name".as_ref(),
        "--section".as_ref(),
        "a\"b".as_ref(),
    ]);
    fails(&r, "a\"b", &["--section must be printable ASCII"]);
    let mut bad = std::fs::read(f.p("t.glw")).unwrap();
    let n = bad.len();
    bad[n - 1] ^= 1;
    std::fs::write(f.p("bad.glw"), &bad).unwrap();
    let before_bad = f.files();
    let r = glocal([
        "emit-c".as_ref(),
        f.p("bad.glw").as_os_str(),
        "-o".as_ref(),
        f.p("b.c").as_os_str(),
        "--symbol".as_ref(),
        "ok_name".as_ref(),
    ]);
    fails(&r, &f.p("bad.glw").display().to_string(), &["invalid blob", "checksum mismatch"]);
    let r = glocal([
        "emit-rs".as_ref(),
        f.p("bad.glw").as_os_str(),
        "-o".as_ref(),
        f.p("b.rs").as_os_str(),
        "--symbol".as_ref(),
        "OK".as_ref(),
    ]);
    fails(&r, &f.p("bad.glw").display().to_string(), &["invalid blob"]);
    assert_eq!(f.files(), before_bad);
    let r = glocal([
        "emit-c".as_ref(),
        f.p("t.glw").as_os_str(),
        "-o".as_ref(),
        f.p("b.h").as_os_str(),
        "--symbol".as_ref(),
        "ok_name".as_ref(),
    ]);
    fails(&r, &f.p("b.h").display().to_string(), &["must not end in .h"]);
    let _ = before;
}

#[test]
fn model_name_errors() {
    let f = Fixture::new();
    f.align_fails(
        "resnet18",
        "x.npy",
        &["--module", "../../etc"],
        "../../etc",
        &["--module must be a module name"],
    );
    f.align_fails(
        "resnet18",
        "x.npy",
        &["--first-upload"],
        "resnet18",
        &["--first-upload applies only to dinov2-vit-base-p14"],
    );
    let r = glocal(["fetch", "no-such-model"]);
    fails(&r, "no-such-model", &["not a published gLocal model", "resnet50"]);
}

#[test]
fn inspect_separates_blob_validity_from_kernel_choice() {
    let f = Fixture::new();
    let mut c = cmd();
    c.arg("inspect").arg(f.p("t.glw")).env("GLOCAL_FORCE_ISA", "no-such-isa");
    let r = run_cmd(&mut c);
    fails(&r, &f.p("t.glw").display().to_string(), &["valid blob, but no kernel can run it here"]);
    assert!(
        r.stdout.contains("status          valid") && r.stdout.contains("kernel          unavailable"),
        "{}",
        r.stdout
    );
    let mut c = cmd();
    c.arg("inspect").arg(f.p("t.glw")).env("GLOCAL_FORCE_ISA", "scalar");
    let r = run_cmd(&mut c);
    ok(&r);
    assert!(r.stdout.contains("kernel          f32_f32acc_4x16__scalar"), "{}", r.stdout);
    // An .npz given to inspect: not a blob, with a hint.
    let r = glocal(["inspect".as_ref(), f.p("t.npz").as_os_str()]);
    fails(
        &r,
        &f.p("t.npz").display().to_string(),
        &["invalid blob", "not a glocal blob", "pack it with `glocal pack`"],
    );
}

#[test]
fn a_directory_named_like_a_model_is_not_taken_for_a_file() {
    let f = Fixture::new();
    std::fs::create_dir(f.p("resnet18")).unwrap();
    // Resolved as the model name: with an unreachable base URL the error is about the download.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut c = cmd();
    c.current_dir(f.dir.path())
        .env("GLOCAL_CACHE_DIR", f.p("cache"))
        .env("GLOCAL_BASE_URL", format!("http://127.0.0.1:{port}"))
        .args(["align", "resnet18", "x.npy", "-o", "y.npy", "--timeout", "5"]);
    let r = run_cmd(&mut c);
    fails(&r, &format!("http://127.0.0.1:{port}/resnet18/avgpool/transform.npz"), &["cannot download"]);
    assert!(!f.p("y.npy").exists());
}

#[cfg(unix)]
#[test]
fn ctrl_c_leaves_no_temporary_file() {
    let f = Fixture::new();
    synthetic_npz(&f.p("big.npz"), 512, 512, true);
    let rows = 20_000;
    let x: Vec<f32> = (0..rows * 512).map(|i| (i % 101) as f32 * 0.01).collect();
    write_f32(&f.p("bigx.npy"), &[rows, 512], &x);
    let before = f.files();
    let mut child = cmd()
        .arg("align")
        .arg(f.p("big.npz"))
        .arg(f.p("bigx.npy"))
        .arg("-o")
        .arg(f.p("y.npy"))
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until the temporary output exists, then interrupt.
    let t0 = std::time::Instant::now();
    while !listing(f.dir.path()).iter().any(|n| n.ends_with(".part")) {
        assert!(t0.elapsed().as_secs() < 60, "no temporary output appeared");
        if let Some(status) = child.try_wait().unwrap() {
            panic!("align finished before it could be interrupted ({status}); make the input larger");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let kill = std::process::Command::new("kill").arg("-INT").arg(child.id().to_string()).status().unwrap();
    assert!(kill.success());
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("glocal: interrupted"));
    assert_eq!(f.files(), before, "an interrupted align left files behind");
}
