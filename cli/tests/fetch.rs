//! `glocal fetch`, `glocal models` and `glocal align <model>` against a loopback HTTP server
//! (127.0.0.1 only, inside this test process, bounded in connections and time) serving
//! `../shared/transforms`, plus a tampered file, a 404, a stalled server and an unreachable port.

mod common;
use common::*;

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A minimal HTTP/1.1 file server on 127.0.0.1: `GET /transforms/<path>` serves `root/<path>`
/// (or an override), anything else is 404. Serves at most `MAX_CONNECTIONS`, then stops.
struct Server {
    base: String,
    requests: Arc<AtomicUsize>,
}

const MAX_CONNECTIONS: usize = 64;

impl Server {
    fn start(root: PathBuf, overrides: HashMap<String, Vec<u8>>) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let requests = Arc::new(AtomicUsize::new(0));
        let counter = requests.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().take(MAX_CONNECTIONS) {
                let Ok(stream) = stream else { continue };
                counter.fetch_add(1, Ordering::SeqCst);
                let _ = serve(stream, &root, &overrides);
            }
        });
        Server { base: format!("http://127.0.0.1:{port}/transforms"), requests }
    }
    fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }
}

fn serve(mut s: TcpStream, root: &Path, overrides: &HashMap<String, Vec<u8>>) -> std::io::Result<()> {
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    s.set_write_timeout(Some(Duration::from_secs(5)))?;
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 16384 {
        let n = s.read(&mut buf)?;
        if n == 0 {
            return Ok(());
        }
        head.extend_from_slice(&buf[..n]);
    }
    let text = String::from_utf8_lossy(&head);
    let path = text.split_whitespace().nth(1).unwrap_or("/").to_string();
    let rel = path.strip_prefix("/transforms/").unwrap_or("");
    let body = match overrides.get(rel) {
        Some(b) => Some(b.clone()),
        None if !rel.is_empty() && !rel.contains("..") => std::fs::read(root.join(rel)).ok(),
        None => None,
    };
    match body {
        Some(b) => {
            write!(s, "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nContent-Type: application/octet-stream\r\nConnection: close\r\n\r\n", b.len())?;
            s.write_all(&b)?;
        }
        None => {
            s.write_all(
                b"HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\nConnection: close\r\n\r\nnot found",
            )?;
        }
    }
    s.flush()
}

fn fetch_cmd(server_base: &str, cache: &Path) -> std::process::Command {
    let mut c = cmd();
    c.env("GLOCAL_BASE_URL", server_base).env("GLOCAL_CACHE_DIR", cache);
    c
}

fn sha256_hex(path: &Path) -> String {
    use sha2::Digest;
    let d = sha2::Sha256::digest(std::fs::read(path).unwrap());
    d.iter().map(|b| format!("{b:02x}")).collect()
}

fn no_part_files(dir: &Path) {
    if !dir.exists() {
        return;
    }
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            no_part_files(&p);
        } else {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            assert!(!name.ends_with(".part"), "temporary file left behind: {}", p.display());
        }
    }
}

#[test]
fn fetch_verify_cache_and_align_by_name() {
    let Some(shared) = shared("fetch_verify_cache_and_align_by_name") else { return };
    let mut overrides = HashMap::new();
    // Tampered: dino-vit-base-p8's file with one byte changed.
    let mut tampered = std::fs::read(shared.join("transforms/dino-vit-base-p8/norm/transform.npz")).unwrap();
    let mid = tampered.len() / 2;
    tampered[mid] ^= 0x01;
    overrides.insert("dino-vit-base-p8/norm/transform.npz".to_string(), tampered);
    let server = Server::start(shared.join("transforms"), overrides);
    let cache = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();

    // A pinned model: downloaded, verified, cached; its path printed on stdout.
    let r = run_cmd(fetch_cmd(&server.base, cache.path()).args(["fetch", "resnet18"]));
    ok(&r);
    let cached = cache.path().join("resnet18/avgpool/transform.npz");
    assert_eq!(r.stdout.trim(), cached.display().to_string());
    assert_eq!(sha256_hex(&cached), "7a2bb20c8662eff5b3c0e27e5614b56be782479ec99d26d1ffd01a01777d7d3c");
    assert!(r.stderr.contains("caution: resnet18 is an ImageNet model"), "{}", r.stderr);
    assert_eq!(server.requests(), 1);
    // Second fetch: from the cache, no request.
    let r = run_cmd(fetch_cmd(&server.base, cache.path()).args(["fetch", "resnet18"]));
    ok(&r);
    assert!(r.stderr.contains("already cached and verified"), "{}", r.stderr);
    assert_eq!(server.requests(), 1);
    // --quiet silences notes and cautions but still prints the path.
    let r = run_cmd(fetch_cmd(&server.base, cache.path()).args(["fetch", "resnet18", "--quiet"]));
    ok(&r);
    assert!(r.stderr.is_empty(), "{}", r.stderr);
    assert_eq!(r.stdout.trim(), cached.display().to_string());

    // glocal models shows it as cached.
    let r = run_cmd(fetch_cmd(&server.base, cache.path()).args(["models"]));
    ok(&r);
    let line = r.stdout.lines().find(|l| l.starts_with("resnet18 ")).unwrap();
    assert!(line.contains(" yes "), "{line}");
    assert!(r.stdout.lines().find(|l| l.starts_with("clip_RN50 ")).unwrap().contains(" no "));
    assert_eq!(
        r.stdout
            .lines()
            .filter(|l| l.contains("  visual  ")
                || l.contains(" norm ")
                || l.contains(" avgpool ")
                || l.contains(" classifier."))
            .count(),
        12
    );

    // align by model name equals align with the file.
    let x = shared.join("golden/resnet18__avgpool/x.npy");
    let (y_name, y_file) = (work.path().join("by_name.npy"), work.path().join("by_file.npy"));
    let r = run_cmd(
        fetch_cmd(&server.base, cache.path())
            .arg("align")
            .arg("resnet18")
            .arg(&x)
            .arg("-o")
            .arg(&y_name)
            .args(["--dtype", "f16"]),
    );
    ok(&r);
    assert!(r.stderr.contains("ImageNet model"), "{}", r.stderr);
    let r = run_cmd(cmd().arg("align").arg(&cached).arg(&x).arg("-o").arg(&y_file).args(["--dtype", "f16"]));
    ok(&r);
    assert_eq!(std::fs::read(&y_name).unwrap(), std::fs::read(&y_file).unwrap());
    assert_eq!(server.requests(), 1, "align by name of a cached model must not download");

    // align by name of a model not yet cached fetches it (clip_ViT-L/14: a slash in the name).
    let x = shared.join("golden/clip_ViT-L_14__visual/x.npy");
    let y = work.path().join("clip.npy");
    let r = run_cmd(
        fetch_cmd(&server.base, cache.path()).arg("align").arg("clip_ViT-L/14").arg(&x).arg("-o").arg(&y),
    );
    ok(&r);
    assert!(r.stderr.contains("not in the cache: fetching"), "{}", r.stderr);
    assert_eq!(server.requests(), 2);
    assert!(cache.path().join("clip_ViT-L/14/visual/transform.npz").is_file());
    let (_, got) = read_npy(&y);
    let (_, want) = read_npy(&shared.join("golden/clip_ViT-L_14__visual/y_ref.npy"));
    assert!(rel_err(&got, &want) <= 4e-6);

    // A corrupted cached pinned file is noticed and fetched again.
    std::fs::write(&cached, b"garbage").unwrap();
    let r = run_cmd(fetch_cmd(&server.base, cache.path()).args(["fetch", "resnet18"]));
    ok(&r);
    assert!(
        r.stderr.contains("is corrupt or was replaced") && r.stderr.contains("downloading again"),
        "{}",
        r.stderr
    );
    assert_eq!(sha256_hex(&cached), "7a2bb20c8662eff5b3c0e27e5614b56be782479ec99d26d1ffd01a01777d7d3c");

    // Tampered download: refused, not cached, no temporary file left.
    let r = run_cmd(fetch_cmd(&server.base, cache.path()).args(["fetch", "dino-vit-base-p8"]));
    fails(
        &r,
        &format!("{}/dino-vit-base-p8/norm/transform.npz", server.base),
        &[
            "sha256 mismatch",
            "583ff8178d769e687f7444be935e444e831bf501c8c5343debe69b57cef660cc",
            "refused and not cached",
        ],
    );
    assert!(!cache.path().join("dino-vit-base-p8/norm/transform.npz").exists());
    // The same through align: no output either.
    let y = work.path().join("never.npy");
    let r = run_cmd(
        fetch_cmd(&server.base, cache.path()).arg("align").arg("dino-vit-base-p8").arg(&x).arg("-o").arg(&y),
    );
    assert_eq!(r.code, 1);
    assert!(!y.exists());

    // 404: an unknown module.
    let r = run_cmd(fetch_cmd(&server.base, cache.path()).args(["fetch", "resnet18", "--module", "layer4"]));
    fails(&r, &format!("{}/resnet18/layer4/transform.npz", server.base), &["HTTP 404"]);
    assert!(!cache.path().join("resnet18/layer4/transform.npz").exists());
    no_part_files(cache.path());
}

#[test]
fn dinov2_duplicate_warning_and_first_upload() {
    let Some(shared) = shared("dinov2_duplicate_warning_and_first_upload") else { return };
    let server = Server::start(shared.join("transforms"), HashMap::new());
    let cache = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    let first = shared.join("transforms-history/d1860d3/dinov2-vit-base-p14/norm/transform.npz");
    let published = shared.join("transforms/dinov2-vit-base-p14/norm/transform.npz");

    let r = run_cmd(fetch_cmd(&server.base, cache.path()).args(["fetch", "dinov2-vit-base-p14"]));
    ok(&r);
    assert!(r.stderr.contains("byte-identical to dino-vit-base-p16/norm's"), "{}", r.stderr);
    assert!(r.stderr.contains("--first-upload"), "{}", r.stderr);

    // The first upload is accepted only through the explicit option, from a local file.
    let r = run_cmd(
        fetch_cmd(&server.base, cache.path()).args(["fetch", "dinov2-vit-base-p14", "--from"]).arg(&first),
    );
    fails(
        &r,
        &first.display().to_string(),
        &["sha256 mismatch", "this is the first-upload file: add --first-upload"],
    );
    let r = run_cmd(
        fetch_cmd(&server.base, cache.path())
            .args(["fetch", "dinov2-vit-base-p14", "--first-upload", "--from"])
            .arg(&published),
    );
    fails(
        &r,
        &published.display().to_string(),
        &[
            "sha256 mismatch",
            "9cf041b79d8c4e16d4c9b1a4dc50c9c32f95bdcd3321ed0bf94b128c9b99b947",
            "published duplicate",
        ],
    );
    let x = shared.join("golden/dinov2-vit-base-p14__norm/x.npy");
    let y_first = work.path().join("first.npy");
    let r = run_cmd(
        fetch_cmd(&server.base, cache.path())
            .args(["align", "dinov2-vit-base-p14", "--first-upload"])
            .arg(&x)
            .arg("-o")
            .arg(&y_first),
    );
    fails(&r, "dinov2-vit-base-p14/norm (first upload)", &["not in the cache", "--first-upload --from FILE"]);
    let r = run_cmd(
        fetch_cmd(&server.base, cache.path())
            .args(["fetch", "dinov2-vit-base-p14", "--first-upload", "--from"])
            .arg(&first),
    );
    ok(&r);
    assert!(!r.stderr.contains("byte-identical"), "no duplicate warning for the first upload: {}", r.stderr);
    assert!(r.stdout.trim().ends_with("transform.d1860d3.npz"));

    let y_pub = work.path().join("pub.npy");
    let r = run_cmd(
        fetch_cmd(&server.base, cache.path())
            .args(["align", "dinov2-vit-base-p14"])
            .arg(&x)
            .arg("-o")
            .arg(&y_pub),
    );
    ok(&r);
    assert!(r.stderr.contains("byte-identical"), "{}", r.stderr);
    let r = run_cmd(
        fetch_cmd(&server.base, cache.path())
            .args(["align", "dinov2-vit-base-p14", "--first-upload"])
            .arg(&x)
            .arg("-o")
            .arg(&y_first),
    );
    ok(&r);
    assert!(!r.stderr.contains("byte-identical"), "{}", r.stderr);
    let (_, a) = read_npy(&y_pub);
    let (_, b) = read_npy(&y_first);
    assert!(rel_err(&a, &b) > 1e-2, "first upload and published duplicate must differ");
    // A blob packed from the first upload carries its std: no duplicate warning when used.
    let blob = work.path().join("first.glw");
    ok(&glocal(["pack".as_ref(), first.as_os_str(), "-o".as_ref(), blob.as_os_str()]));
    let r = run_cmd(cmd().arg("align").arg(&blob).arg(&x).arg("-o").arg(work.path().join("fb.npy")));
    ok(&r);
    assert!(!r.stderr.contains("byte-identical"), "{}", r.stderr);
}

#[test]
fn unpinned_model_is_recorded_on_first_fetch() {
    // resnet50 (2048-d) has no pinned sha256: serve a synthetic transform of its shape.
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("resnet50/avgpool");
    std::fs::create_dir_all(&dir).unwrap();
    let src = synthetic_npz(&dir.join("transform.npz"), 2048, 2048, true);
    let server = Server::start(root.path().to_path_buf(), HashMap::new());
    let cache = tempfile::tempdir().unwrap();
    let r = run_cmd(fetch_cmd(&server.base, cache.path()).args(["fetch", "resnet50"]));
    ok(&r);
    assert!(r.stderr.contains("no pinned sha256; recorded"), "{}", r.stderr);
    assert!(r.stderr.contains("ImageNet model"), "{}", r.stderr);
    let cached = cache.path().join("resnet50/avgpool/transform.npz");
    let recorded =
        std::fs::read_to_string(cache.path().join("resnet50/avgpool/transform.npz.sha256")).unwrap();
    assert!(recorded.starts_with(&sha256_hex(&cached)));

    // It works once fetched.
    let work = tempfile::tempdir().unwrap();
    let x: Vec<f64> = (0..2 * 2048).map(|i| ((i % 17) as f64 - 8.0) * 0.05).collect();
    let xp = work.path().join("x.npy");
    write_f64(&xp, &[2, 2048], &x);
    let y = work.path().join("y.npy");
    ok(&run_cmd(
        fetch_cmd(&server.base, cache.path())
            .arg("align")
            .arg("resnet50")
            .arg(&xp)
            .arg("-o")
            .arg(&y)
            .arg("-q"),
    ));
    let (shape, got) = read_npy(&y);
    assert_eq!(shape, vec![2, 2048]);
    assert!(rel_err(&got, &oracle(&src, &x)) < 4e-6);

    // A cached file that no longer matches what was recorded is an error (not silently replaced).
    let mut bytes = std::fs::read(&cached).unwrap();
    let n = bytes.len();
    bytes[n / 2] ^= 1;
    std::fs::write(&cached, bytes).unwrap();
    let r = run_cmd(
        fetch_cmd(&server.base, cache.path())
            .arg("align")
            .arg("resnet50")
            .arg(&xp)
            .arg("-o")
            .arg(work.path().join("z.npy")),
    );
    fails(
        &r,
        &cached.display().to_string(),
        &["is corrupt or was replaced", "glocal fetch resnet50 --force"],
    );
    let r = run_cmd(fetch_cmd(&server.base, cache.path()).args(["fetch", "resnet50", "--force", "-q"]));
    ok(&r);
    ok(&run_cmd(
        fetch_cmd(&server.base, cache.path())
            .arg("align")
            .arg("resnet50")
            .arg(&xp)
            .arg("-o")
            .arg(work.path().join("z.npy"))
            .arg("-q"),
    ));
}

#[test]
fn offline_unreachable_and_stalled() {
    let cache = tempfile::tempdir().unwrap();
    // Unreachable: a port that was just free (bound, then closed).
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let base = format!("http://127.0.0.1:{port}/transforms");
    let r = run_cmd(fetch_cmd(&base, cache.path()).args(["fetch", "resnet18", "--timeout", "5"]));
    fails(
        &r,
        &format!("{base}/resnet18/avgpool/transform.npz"),
        &["cannot download", "offline?", "GLOCAL_BASE_URL", "--from FILE"],
    );
    assert!(!cache.path().join("resnet18/avgpool/transform.npz").exists());
    no_part_files(cache.path());

    // Stalled: accepts, reads, never answers. --timeout 1 must end it quickly.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://127.0.0.1:{}/transforms", listener.local_addr().unwrap().port());
    let holder = std::thread::spawn(move || {
        // Bounded: one connection, held at most 10 s.
        if let Ok((mut s, _)) = listener.accept() {
            let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
            let mut buf = [0u8; 1024];
            let _ = s.read(&mut buf);
            std::thread::sleep(Duration::from_secs(4));
        }
    });
    let t0 = Instant::now();
    let r = run_cmd(fetch_cmd(&base, cache.path()).args(["fetch", "resnet18", "--timeout", "1"]));
    fails(&r, &format!("{base}/resnet18/avgpool/transform.npz"), &["timed out", "limit 1 s"]);
    assert!(t0.elapsed() < Duration::from_secs(4), "timeout not honoured: {:?}", t0.elapsed());
    holder.join().unwrap();
    no_part_files(cache.path());
}
