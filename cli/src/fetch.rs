//! `glocal fetch`: download a published transform into the cache, verified; resolve model names.

use std::fs::File;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::error::{CliError, Result};
use crate::fileio::{io_text, map_file};
use crate::registry::{self, Entry};
use crate::ui;

/// Largest download accepted (a 4096 x 4096 float32 transform is 64 MiB).
pub const MAX_DOWNLOAD: u64 = 1 << 30;
/// Default network timeout (connect, first response byte, and each read), seconds.
pub const DEFAULT_TIMEOUT_SECS: u64 = 30;

/// Which published transform, and which of its files.
#[derive(Clone, Debug)]
pub struct Target {
    /// Registry entry.
    pub entry: &'static Entry,
    /// Module (the registry's unless overridden).
    pub module: String,
    /// The first upload of dinov2-vit-base-p14 instead of the published duplicate.
    pub first_upload: bool,
}

impl Target {
    /// Resolves a model name (and optional module) against the registry.
    pub fn new(model: &str, module: Option<&str>, first_upload: bool) -> Result<Target> {
        let entry = registry::lookup(model).ok_or_else(|| {
            let known: Vec<&str> = registry::REGISTRY.iter().map(|e| e.model).collect();
            CliError::at(
                model,
                format!("not a file, and not a published gLocal model (known: {})", known.join(", ")),
            )
        })?;
        let module = module.unwrap_or(entry.module);
        if module.is_empty()
            || module.starts_with('.')
            || !module.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
        {
            return Err(CliError::at(
                module,
                "--module must be a module name (letters, digits, '.', '_', '-', not starting with '.')",
            ));
        }
        if first_upload && entry.model != registry::DINOV2_B14 {
            return Err(CliError::at(
                entry.model,
                format!("--first-upload applies only to {}", registry::DINOV2_B14),
            ));
        }
        Ok(Target { entry, module: module.to_string(), first_upload })
    }

    /// The sha256 the file must have, if pinned.
    pub fn pinned_sha256(&self) -> Option<&'static str> {
        if self.first_upload {
            Some(registry::DINOV2_B14_FIRST_UPLOAD_SHA256)
        } else if self.module == self.entry.module {
            self.entry.sha256
        } else {
            None
        }
    }

    /// Where the file lives in the cache: `<cache>/<model>/<module>/transform.npz`
    /// (`transform.d1860d3.npz` for the first upload).
    pub fn cache_file(&self, cache: &Path) -> PathBuf {
        let name = if self.first_upload { "transform.d1860d3.npz" } else { "transform.npz" };
        let mut p = cache.to_path_buf();
        p.extend(self.entry.model.split('/'));
        p.push(&self.module);
        p.push(name);
        p
    }

    /// `<base>/<model>/<module>/transform.npz`.
    pub fn url(&self, base: &str) -> String {
        format!("{}/{}/{}/transform.npz", base.trim_end_matches('/'), self.entry.model, self.module)
    }

    /// `model/module`, for messages.
    pub fn label(&self) -> String {
        format!(
            "{}/{}{}",
            self.entry.model,
            self.module,
            if self.first_upload { " (first upload)" } else { "" }
        )
    }
}

/// The cache directory: `GLOCAL_CACHE_DIR`, else `<platform cache dir>/glocal`.
pub fn cache_dir() -> Result<PathBuf> {
    match std::env::var_os("GLOCAL_CACHE_DIR") {
        Some(dir) if !dir.is_empty() => Ok(PathBuf::from(dir)),
        _ => dirs::cache_dir()
            .map(|d| d.join("glocal"))
            .ok_or_else(|| CliError::msg("no platform cache directory: set GLOCAL_CACHE_DIR")),
    }
}

/// The download base: `GLOCAL_BASE_URL`, else the gLocal repository's raw-file URL.
pub fn base_url() -> String {
    match std::env::var("GLOCAL_BASE_URL") {
        Ok(b) if !b.trim().is_empty() => b.trim().to_string(),
        _ => registry::DEFAULT_BASE_URL.to_string(),
    }
}

/// Lower-case hex of a digest.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// sha256 of a file, streamed.
pub fn sha256_file(path: &Path) -> Result<String> {
    let mut file =
        File::open(path).map_err(|e| CliError::file(path, format!("cannot open: {}", io_text(&e))))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf).map_err(|e| CliError::file(path, io_text(&e)))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex(&hasher.finalize()))
}

fn recorded_sha_path(file: &Path) -> PathBuf {
    let mut name = file.as_os_str().to_os_string();
    name.push(".sha256");
    PathBuf::from(name)
}

/// The sha256 a cached file must have: the pin, else the one recorded at its first fetch.
fn expected_sha256(target: &Target, file: &Path) -> Option<String> {
    target.pinned_sha256().map(str::to_string).or_else(|| {
        std::fs::read_to_string(recorded_sha_path(file))
            .ok()
            .and_then(|s| s.split_whitespace().next().map(str::to_string))
    })
}

/// Options of a download.
#[derive(Clone, Copy, Debug)]
pub struct FetchOptions {
    /// Network timeout (connect, response, each read).
    pub timeout: Duration,
    /// Download again even if cached.
    pub force: bool,
    /// No notes, no progress.
    pub quiet: bool,
}

/// Outcome of [`fetch`].
#[derive(Debug, PartialEq, Eq)]
pub enum Fetched {
    /// The file was already in the cache and verified.
    Cached,
    /// The file was downloaded (or installed from a local file) and verified.
    Stored,
}

/// Checks a cached file. `Ok(true)`: present and verified; `Ok(false)`: absent.
fn check_cached(target: &Target, file: &Path) -> Result<bool> {
    if !file.is_file() {
        return Ok(false);
    }
    let found = sha256_file(file)?;
    match expected_sha256(target, file) {
        Some(expected) if expected != found => Err(CliError::file(
            file,
            format!(
                "cached {} is corrupt or was replaced (sha256 expected {expected}, found {found}); \
                 run `glocal fetch {} --force`{}",
                target.label(),
                target.entry.model,
                if target.first_upload { " --first-upload --from FILE" } else { "" }
            ),
        )),
        _ => Ok(true),
    }
}

/// Makes sure the target's file is in the cache (downloading it, or installing `from`), verified.
/// Returns the cached path.
pub fn fetch(target: &Target, from: Option<&Path>, opts: FetchOptions) -> Result<(PathBuf, Fetched)> {
    let cache = cache_dir()?;
    let file = target.cache_file(&cache);
    if from.is_none() && !opts.force {
        match check_cached(target, &file) {
            Ok(true) => return Ok((file, Fetched::Cached)),
            Ok(false) => {}
            // A pinned file can simply be fetched again; an unpinned one needs --force.
            Err(e) if target.pinned_sha256().is_none() => return Err(e),
            Err(e) => ui::note(opts.quiet, &format!("{e}; downloading again")),
        }
    }
    if target.first_upload && from.is_none() {
        return Err(CliError::at(
            target.label(),
            format!(
                "the first upload is not published at the repository head: install a copy you have with \
                 `glocal fetch {} --first-upload --from FILE` (sha256 {})",
                registry::DINOV2_B14,
                registry::DINOV2_B14_FIRST_UPLOAD_SHA256
            ),
        ));
    }
    let dir = file.parent().unwrap_or(&cache);
    std::fs::create_dir_all(dir)
        .map_err(|e| CliError::file(dir, format!("cannot create cache directory: {}", io_text(&e))))?;
    let mut tmp = tempfile::Builder::new()
        .prefix(".fetch-")
        .suffix(".part")
        .tempfile_in(dir)
        .map_err(|e| CliError::file(dir, format!("cannot write to cache directory: {}", io_text(&e))))?;
    let _pending = crate::fileio::Pending::track(tmp.path());
    let (source_name, sha) = match from {
        Some(path) => {
            let mut src = File::open(path)
                .map_err(|e| CliError::file(path, format!("cannot open: {}", io_text(&e))))?;
            let sha = copy_hashing(&mut src, tmp.as_file_mut(), None, opts.quiet)
                .map_err(|e| CliError::file(path, format!("cannot copy into the cache: {}", io_text(&e))))?;
            (path.display().to_string(), sha)
        }
        None => {
            let url = target.url(&base_url());
            let sha = download(&url, target.entry.model, tmp.as_file_mut(), opts)?;
            (url, sha)
        }
    };
    // Verify before anything reaches the cache: on any error `tmp` is dropped and removed.
    if let Some(expected) = target.pinned_sha256() {
        if sha != expected {
            let hint = if target.entry.model == registry::DINOV2_B14
                && !target.first_upload
                && sha == registry::DINOV2_B14_FIRST_UPLOAD_SHA256
            {
                " (this is the first-upload file: add --first-upload)"
            } else if target.first_upload && sha == registry::DINO_B16_SHA256 {
                " (this is the published duplicate of dino-vit-base-p16's file, not the first upload)"
            } else {
                ""
            };
            return Err(CliError::at(
                source_name,
                format!(
                    "sha256 mismatch for {}: expected {expected}, found {sha}{hint}; the file was refused and not cached",
                    target.label()
                ),
            ));
        }
    }
    validate_transform(tmp.path(), target).map_err(|e| CliError::at(&source_name, e.what))?;
    tmp.as_file().sync_all().map_err(|e| CliError::file(&file, io_text(&e)))?;
    tmp.persist(&file)
        .map_err(|e| CliError::file(&file, format!("cannot store in cache: {}", io_text(&e.error))))?;
    // Record the checksum: it verifies unpinned files on later use (trust on first use).
    let record = format!("{sha}  transform.npz\n");
    std::fs::write(recorded_sha_path(&file), record)
        .map_err(|e| CliError::file(&file, format!("cannot record sha256: {}", io_text(&e))))?;
    if target.pinned_sha256().is_none() {
        ui::note(
            opts.quiet,
            &format!("{}: no pinned sha256; recorded {sha} to verify later uses", target.label()),
        );
    }
    Ok((file, Fetched::Stored))
}

/// The target's file from the cache, fetching it first if absent.
pub fn resolve(target: &Target, opts: FetchOptions) -> Result<PathBuf> {
    let cache = cache_dir()?;
    let file = target.cache_file(&cache);
    if !file.is_file() {
        ui::note(
            opts.quiet,
            &format!("{} not in the cache: fetching {}", target.label(), target.url(&base_url())),
        );
    }
    fetch(target, None, opts).map(|(path, _)| path)
}

/// Checks that a fetched file is a readable transform of the registry's dims.
fn validate_transform(path: &Path, target: &Target) -> Result<()> {
    let map = map_file(path)?;
    let source = glocal::pack::npz::read_transform(&map).map_err(|e| CliError::file(path, e))?;
    if target.module == target.entry.module
        && (source.d_in != target.entry.dim || source.d_out != target.entry.dim)
    {
        return Err(CliError::file(
            path,
            format!(
                "weights are {} x {}, expected {} x {} for {}",
                source.d_in,
                source.d_out,
                target.entry.dim,
                target.entry.dim,
                target.label()
            ),
        ));
    }
    Ok(())
}

fn copy_hashing(src: &mut dyn Read, dst: &mut File, len: Option<u64>, quiet: bool) -> io::Result<String> {
    let bar = ui::byte_progress(quiet, len);
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut total = 0u64;
    loop {
        let n = match src.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        total += n as u64;
        if total > MAX_DOWNLOAD {
            return Err(io::Error::other(format!("larger than the {MAX_DOWNLOAD}-byte limit")));
        }
        hasher.update(&buf[..n]);
        dst.write_all(&buf[..n])?;
        bar.inc(n as u64);
    }
    bar.finish_and_clear();
    Ok(hex(&hasher.finalize()))
}

fn network_hint(model: &str) -> String {
    format!(
        "offline? set GLOCAL_BASE_URL to a reachable mirror, or install a copy you have with \
         `glocal fetch {model} --from FILE`"
    )
}

/// Downloads `url` into `dst`, returning the sha256 of what was written.
fn download(url: &str, model: &str, dst: &mut File, opts: FetchOptions) -> Result<String> {
    let t = Some(opts.timeout);
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_resolve(t)
        .timeout_connect(t)
        .timeout_recv_response(t)
        .timeout_per_read(t)
        .user_agent(concat!("glocal/", env!("CARGO_PKG_VERSION")))
        .build()
        .into();
    let response = agent.get(url).call().map_err(|e| {
        let why = match &e {
            ureq::Error::HostNotFound => "host not found".to_string(),
            ureq::Error::ConnectionFailed => "connection failed".to_string(),
            ureq::Error::Timeout(t) => format!("timed out ({t}, limit {} s)", opts.timeout.as_secs()),
            ureq::Error::Io(io) => io_text(io),
            other => other.to_string(),
        };
        CliError::at(url, format!("cannot download: {why}; {}", network_hint(model)))
    })?;
    let status = response.status();
    if !status.is_success() {
        let what = if status.as_u16() == 404 {
            "HTTP 404 Not Found: no such transform at this base (check the model and --module; see `glocal models`)"
                .to_string()
        } else {
            format!("HTTP {status}")
        };
        return Err(CliError::at(url, what));
    }
    let mut body = response.into_body();
    let len = body.content_length();
    if let Some(len) = len.filter(|&l| l > MAX_DOWNLOAD) {
        return Err(CliError::at(
            url,
            format!("declares {len} bytes, more than the {MAX_DOWNLOAD}-byte limit"),
        ));
    }
    let mut reader = body.with_config().limit(MAX_DOWNLOAD).reader();
    copy_hashing(&mut reader, dst, len, opts.quiet).map_err(|e| {
        let why = match e.get_ref().and_then(|inner| inner.downcast_ref::<ureq::Error>()) {
            Some(ureq::Error::Timeout(t)) => format!("timed out ({t}, limit {} s)", opts.timeout.as_secs()),
            _ => io_text(&e),
        };
        CliError::at(url, format!("download interrupted: {why}; {}", network_hint(model)))
    })
}
