//! `glocal pack` measures the error of the blob it writes, prints it, records it in the header
//! (`glocal inspect` shows it), and `--max-error` refuses to write a blob above the limit.

mod common;
use common::*;

use std::path::{Path, PathBuf};

use glocal::format::{Header, ProbeKind};
use glocal::kernel::Isa;
use glocal::pack::measure;
use glocal::{Transform, WeightDtype};

const DTYPES: [(&str, WeightDtype); 4] = [
    ("f32", WeightDtype::F32),
    ("f16", WeightDtype::F16),
    ("bf16", WeightDtype::Bf16),
    ("i8d", WeightDtype::I8d),
];

/// A temp dir with a dense synthetic transform `t.npz` (40 x 33, with bias).
struct Fixture {
    dir: tempfile::TempDir,
    source: glocal::pack::Source,
}

impl Fixture {
    fn new() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let source = synthetic_npz(&dir.path().join("t.npz"), 40, 33, true);
        Fixture { dir, source }
    }
    fn p(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
    fn pack(&self, out: &str, extra: &[&str]) -> Run {
        let mut c = cmd();
        c.arg("pack").arg(self.p("t.npz")).arg("-o").arg(self.p(out)).args(extra);
        run_cmd(&mut c)
    }
}

/// The error recomputed here: the blob through the kernel the tool picks (no GLOCAL_FORCE_ISA
/// in its environment), the f64 formula of tests/common, the metric of tests/common.
fn recompute(s: &glocal::pack::Source, blob: &[u8], x: &[f32]) -> f64 {
    let h = Header::parse(blob).unwrap();
    let t = Transform::with_isa(blob, Isa::best_for(h.dtype)).unwrap();
    let mut y = vec![0f32; x.len() / s.d_in * s.d_out];
    t.apply(x, &mut y).unwrap();
    let x64: Vec<f64> = x.iter().map(|&v| v as f64).collect();
    let y64: Vec<f64> = y.iter().map(|&v| v as f64).collect();
    rel_err(&y64, &oracle(s, &x64))
}

/// The recorded f32 is the measurement rounded up: within one f32 step above the recomputation
/// (the oracle's f64 sums in another order move it by far less).
fn assert_recorded(recorded: f32, want: f64, what: &str) {
    let slack = want * 1e-9;
    assert!(
        recorded as f64 >= want - slack && (f32::from_bits(recorded.to_bits() - 1) as f64) < want + slack,
        "{what}: recorded {recorded:e}, recomputed {want:e}"
    );
}

/// The value printed in `... measured error <v> of max |y_ref| ...`.
fn printed_error(text: &str) -> f64 {
    let at = text.find("measured error ").expect("no measured error") + "measured error ".len();
    text[at..].split_whitespace().next().unwrap().parse().unwrap()
}

#[test]
fn pack_records_the_error_and_inspect_shows_it() {
    let f = Fixture::new();
    let x = measure::random_probe(40, 0.25, 1.5, 64);
    for (name, dtype) in DTYPES {
        let out = format!("t_{name}.glw");
        let r = f.pack(&out, &["--dtype", name]);
        ok(&r);
        // One line on stderr, nothing on stdout.
        assert_eq!(r.stdout, "");
        let line = r.stderr.trim_end();
        assert!(!line.contains('\n'), "{line}");
        assert!(line.starts_with("glocal: measured error "), "{line}");
        assert!(line.ends_with(&format!(" of max |y_ref| on 64 random probe rows ({name})")), "{line}");

        let blob = std::fs::read(f.p(&out)).unwrap();
        let blob = glocal::AlignedBlob::from_bytes(&blob);
        let h = *Transform::new(blob.as_bytes()).unwrap().header();
        let rec = h.error_record.unwrap();
        assert_eq!((rec.probe_rows, rec.probe_kind), (64, ProbeKind::Random));
        let want = recompute(&f.source, blob.as_bytes(), &x);
        assert_recorded(rec.error, want, name);
        // What each dtype costs on this dense matrix (non-zero for every rounded dtype).
        let (low, high) = match dtype {
            WeightDtype::F32 => (0.0, 4e-6),
            WeightDtype::F16 => (1e-5, 1e-3),
            _ => (1e-4, 8e-3),
        };
        assert!(low <= want && want < high, "{name}: {want:e}");
        // Printed to 3 significant digits.
        let printed = printed_error(line);
        assert!((printed - rec.error as f64).abs() <= 0.006 * rec.error as f64 + 1e-300, "{line}");

        let r = glocal(["inspect".as_ref(), f.p(&out).as_os_str()]);
        ok(&r);
        let shown = r.stdout.lines().find(|l| l.starts_with("measured_error ")).expect(&r.stdout);
        assert!(
            shown.ends_with(&format!(" of max |y_ref| on 64 random probe rows ({name} weights)")),
            "{shown}"
        );
        assert!(
            (printed_error(&shown.replacen("measured_error", "measured error", 1)) - rec.error as f64).abs()
                <= 6e-4 * rec.error as f64 + 1e-300
        );
        assert!(r.stdout.contains("error_recorded"), "{}", r.stdout);
        assert!(r.stdout.contains("reserved        zero"), "{}", r.stdout);
    }
}

#[test]
fn the_default_probe_is_reproducible() {
    let f = Fixture::new();
    ok(&f.pack("a.glw", &["--dtype", "bf16"]));
    ok(&f.pack("b.glw", &["--dtype", "bf16", "--quiet"]));
    assert_eq!(std::fs::read(f.p("a.glw")).unwrap(), std::fs::read(f.p("b.glw")).unwrap());
}

#[test]
fn probe_from_a_user_file() {
    let f = Fixture::new();
    // float64 rows far from the default distribution (so the number differs from the default's).
    let rows = 5;
    let x64: Vec<f64> = (0..rows * 40).map(|i| ((i * 37 % 101) as f64 - 50.0) / 7.0 + 1e-9).collect();
    write_f64(&f.p("probe.npy"), &[rows, 40], &x64);
    // A 1-D row of float32.
    let one: Vec<f32> = (0..40).map(|i| i as f32 * 0.125 - 2.0).collect();
    write_f32(&f.p("row.npy"), &[40], &one);
    for (probe, n, x) in [
        ("probe.npy", rows, x64.iter().map(|&v| v as f32).collect::<Vec<f32>>()),
        ("row.npy", 1, one.clone()),
    ] {
        for (name, _) in DTYPES {
            let out = format!("u_{name}.glw");
            let r = f.pack(&out, &["--dtype", name, "--probe", f.p(probe).to_str().unwrap()]);
            ok(&r);
            let want_tail =
                format!(" of max |y_ref| on {n} probe rows from {} ({name})", f.p(probe).display());
            assert!(r.stderr.trim_end().ends_with(&want_tail), "{}", r.stderr);
            let blob = glocal::AlignedBlob::from_bytes(&std::fs::read(f.p(&out)).unwrap());
            let rec = Header::validate_blob(blob.as_bytes()).unwrap().error_record.unwrap();
            assert_eq!((rec.probe_rows, rec.probe_kind), (n as u32, ProbeKind::User));
            assert_recorded(rec.error, recompute(&f.source, blob.as_bytes(), &x), &format!("{probe} {name}"));
            let r = glocal(["inspect".as_ref(), f.p(&out).as_os_str()]);
            assert!(r.stdout.contains(&format!("on {n} user probe rows ({name} weights)")), "{}", r.stdout);
        }
    }
}

#[test]
fn max_error_below_the_measured_error_writes_nothing() {
    let f = Fixture::new();
    ok(&f.pack("ref.glw", &["--dtype", "i8d"]));
    let blob = glocal::AlignedBlob::from_bytes(&std::fs::read(f.p("ref.glw")).unwrap());
    let e = Header::parse(blob.as_bytes()).unwrap().measured_error().unwrap() as f64;
    let input = f.p("t.npz").display().to_string();
    for (dtype, hint) in
        [("i8d", "try a wider dtype: --dtype f16 or f32"), ("f32", "f32 is already the most precise")]
    {
        let limit = if dtype == "i8d" { format!("{:e}", e * 0.9) } else { "1e-12".to_string() };
        // No output yet: none afterwards.
        let before = listing(f.dir.path());
        let r = f.pack("new.glw", &["--dtype", dtype, "--max-error", &limit]);
        fails(
            &r,
            &input,
            &[
                "measured error",
                "of max |y_ref| on 64 random probe rows",
                "exceeds --max-error",
                dtype,
                hint,
                "nothing written",
            ],
        );
        assert_eq!(listing(f.dir.path()), before, "a refused pack left files behind");
        // An existing output is left as it was (the write is atomic, and never started).
        std::fs::write(f.p("old.glw"), b"previous contents").unwrap();
        let r = f.pack("old.glw", &["--dtype", dtype, "--max-error", &limit]);
        assert_eq!(r.code, 1, "{}", r.stderr);
        assert_eq!(std::fs::read(f.p("old.glw")).unwrap(), b"previous contents");
        std::fs::remove_file(f.p("old.glw")).unwrap();
    }
    // The printed value and the limit: 8.53e-3 style, the limit as given.
    let r = f.pack("new.glw", &["--dtype", "i8d", "--max-error", "1e-9"]);
    assert!(r.stderr.contains(&format!("measured error {:.3e}", e as f32)), "{}", r.stderr);
    assert!(r.stderr.contains("exceeds --max-error 1e-9"), "{}", r.stderr);
    // At or above the measured error: written, and identical to the unlimited pack.
    for limit in [format!("{:e}", e as f32), format!("{:e}", e * 1.5)] {
        ok(&f.pack("at.glw", &["--dtype", "i8d", "--max-error", &limit]));
        assert_eq!(std::fs::read(f.p("at.glw")).unwrap(), blob.as_bytes());
    }
}

#[test]
fn bad_max_error_is_a_usage_error() {
    let f = Fixture::new();
    for bad in ["0", "-1", "-0.001", "nan", "inf", "-inf", "abc", ""] {
        let before = listing(f.dir.path());
        let r = f.pack("o.glw", &["--max-error", bad]);
        assert_eq!(r.code, 2, "--max-error {bad:?}: {}", r.stderr);
        assert!(r.stderr.contains("--max-error"), "{bad:?}: {}", r.stderr);
        assert!(!r.stderr.contains("panicked"), "{}", r.stderr);
        assert_eq!(listing(f.dir.path()), before);
    }
    for bad in ["0", "-1", "nan", "inf"] {
        let r = f.pack("o.glw", &["--max-error", bad]);
        assert!(r.stderr.contains("must be finite and > 0"), "{bad}: {}", r.stderr);
    }
}

#[test]
fn bad_probe_files_are_refused() {
    let f = Fixture::new();
    write_f32(&f.p("cols.npy"), &[3, 39], &[0.5; 3 * 39]);
    write_f32(&f.p("row39.npy"), &[39], &[0.5; 39]);
    write_f32(&f.p("zero.npy"), &[0, 40], &[]);
    write_f32(&f.p("cube.npy"), &[2, 2, 10], &[0.5; 40]);
    write_f32(&f.p("scalar.npy"), &[], &[0.5]);
    let mut nan = vec![0.5f32; 80];
    nan[40 + 7] = f32::NAN;
    write_f32(&f.p("nan.npy"), &[2, 40], &nan);
    // A float64 value beyond float32 becomes infinite when rounded.
    let mut big = vec![0.5f64; 40];
    big[3] = 1e300;
    write_f64(&f.p("big.npy"), &[1, 40], &big);
    std::fs::write(f.p("int.npy"), npy_bytes("<i4", &[1, 40], &[0u8; 160])).unwrap();
    std::fs::copy(f.p("t.npz"), f.p("npz.npy")).unwrap();
    let cases: [(&str, &[&str]); 10] = [
        ("missing.npy", &["cannot open", "no such file"]),
        ("cols.npy", &["--probe", "shape [3, 39] has 39 columns", "d_in is 40"]),
        ("row39.npy", &["--probe", "shape [39] has 39 columns", "d_in is 40"]),
        ("zero.npy", &["--probe", "0 rows"]),
        ("cube.npy", &["--probe", "shape [2, 2, 10]", "expected [n, 40] or [40]"]),
        ("scalar.npy", &["--probe", "shape []", "expected [n, 40] or [40]"]),
        ("nan.npy", &["--probe", "value [1, 7] is NaN", "must be finite"]),
        ("big.npy", &["--probe", "value [0, 3] is inf", "must be finite"]),
        ("int.npy", &["--probe", "integer dtype"]),
        ("npz.npy", &["--probe", "not a .npy array"]),
    ];
    for (file, needles) in cases {
        let before = listing(f.dir.path());
        let r = f.pack("o.glw", &["--probe", f.p(file).to_str().unwrap()]);
        fails(&r, &f.p(file).display().to_string(), needles);
        assert_eq!(listing(f.dir.path()), before, "{file}: files left behind");
    }
}

#[test]
fn quiet_pack_prints_nothing() {
    let f = Fixture::new();
    let r = f.pack("q.glw", &["--dtype", "f16", "-q"]);
    ok(&r);
    assert_eq!((r.stdout.as_str(), r.stderr.as_str()), ("", ""));
    assert!(Path::new(&f.p("q.glw")).is_file());
}
