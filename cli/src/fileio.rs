//! File plumbing: read-only memory maps, all-or-nothing output files, `.npy` headers.
#![allow(unsafe_code)]

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use memmap2::Mmap;

use crate::error::{CliError, Result};

/// A short description of an I/O error (without the OS error number noise where a kind says it).
pub fn io_text(e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::NotFound => "no such file or directory".into(),
        io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ => e.to_string(),
    }
}

/// Memory-maps `path` read-only. The bytes are never copied into a buffer: a blob is used in place.
///
/// Refuses directories and empty files (an empty mapping is an error on some platforms, and no
/// valid input is empty).
pub fn map_file(path: &Path) -> Result<Mmap> {
    let file = File::open(path).map_err(|e| CliError::file(path, format!("cannot open: {}", io_text(&e))))?;
    let meta = file.metadata().map_err(|e| CliError::file(path, io_text(&e)))?;
    if meta.is_dir() {
        return Err(CliError::file(path, "is a directory, expected a file"));
    }
    if meta.len() == 0 {
        return Err(CliError::file(path, "empty file (0 bytes)"));
    }
    // SAFETY: the mapping is read-only and private to this process. memmap2 cannot stop another
    // process from truncating or rewriting the file while it is mapped; that would change (or
    // unmap, raising SIGBUS) bytes we have already validated. The tool accepts this standard
    // trade-off of mapped input files and documents it in docs/CLI.md; it never writes through
    // the mapping, and outputs go to a new file that replaces the destination by rename.
    let map = unsafe { Mmap::map(&file) }.map_err(|e| CliError::file(path, format!("cannot map: {e}")))?;
    Ok(map)
}

/// Temporary files in flight, removed by the Ctrl-C handler ([`remove_pending`]) before exiting.
static PENDING: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// Registers a temporary file for removal on interruption while this guard lives.
pub struct Pending(PathBuf);

impl Pending {
    /// Tracks `path`.
    pub fn track(path: &Path) -> Pending {
        if let Ok(mut list) = PENDING.lock() {
            list.push(path.to_path_buf());
        }
        Pending(path.to_path_buf())
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        if let Ok(mut list) = PENDING.lock() {
            list.retain(|p| p != &self.0);
        }
    }
}

/// Removes every temporary file in flight (called from the Ctrl-C handler thread).
pub fn remove_pending() {
    if let Ok(list) = PENDING.lock() {
        for p in list.iter() {
            let _ = std::fs::remove_file(p);
        }
    }
}

/// On Linux, writeback of an output to disk is started every this many bytes (see
/// [`AtomicOutput::write_all`]).
#[cfg(target_os = "linux")]
const WRITEBACK_EVERY: u64 = 4 << 20;

/// An output file that appears at its destination only when complete.
///
/// Data goes to a temporary file in the destination's directory; [`AtomicOutput::commit`] flushes,
/// syncs and renames it over the destination. Dropped without commit (an error, a panic),
/// the temporary file is removed, so a failed command never leaves a partial output behind.
pub struct AtomicOutput {
    dest: PathBuf,
    writer: BufWriter<tempfile::NamedTempFile>,
    _pending: Pending,
    /// Bytes handed to the writer so far.
    #[cfg(target_os = "linux")]
    written: u64,
    /// Offset up to which writeback to disk has been started.
    #[cfg(target_os = "linux")]
    writeback_from: u64,
}

impl AtomicOutput {
    /// Starts writing `dest`.
    pub fn create(dest: &Path) -> Result<Self> {
        if dest.is_dir() {
            return Err(CliError::file(dest, "is a directory, expected an output file name"));
        }
        let dir = match dest.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        let mut builder = tempfile::Builder::new();
        builder.prefix(".glocal-").suffix(".part");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            // As for any new file: 0666 less the umask (tempfile's default would be 0600).
            builder.permissions(std::fs::Permissions::from_mode(0o666));
        }
        let tmp = builder.tempfile_in(dir).map_err(|e| {
            CliError::file(dest, format!("cannot create output in {}: {}", dir.display(), io_text(&e)))
        })?;
        let pending = Pending::track(tmp.path());
        Ok(AtomicOutput {
            dest: dest.to_path_buf(),
            writer: BufWriter::with_capacity(1 << 20, tmp),
            _pending: pending,
            #[cfg(target_os = "linux")]
            written: 0,
            #[cfg(target_os = "linux")]
            writeback_from: 0,
        })
    }

    /// Writes all of `bytes`.
    ///
    /// On Linux, every `WRITEBACK_EVERY` bytes it also asks the kernel to start writing the
    /// new stretch to disk (`sync_file_range(SYNC_FILE_RANGE_WRITE)`, asynchronous), so the
    /// device works while the next rows are computed and the `fsync` of [`AtomicOutput::commit`]
    /// waits for the last stretch only, not for the whole file. This is a hint with no effect on
    /// durability: `commit` still syncs everything before the rename.
    pub fn write_all(&mut self, bytes: &[u8]) -> Result<()> {
        let fail = |e: io::Error| CliError::file(&self.dest, format!("write failed: {}", io_text(&e)));
        self.writer.write_all(bytes).map_err(fail)?;
        #[cfg(target_os = "linux")]
        {
            self.written += bytes.len() as u64;
            if self.written - self.writeback_from >= WRITEBACK_EVERY {
                // Only bytes in the page cache can be written back: push out the buffer first.
                self.writer.flush().map_err(fail)?;
                self.start_writeback();
            }
        }
        Ok(())
    }

    /// Starts asynchronous writeback of `[writeback_from, written)` (all of it is in the page
    /// cache: the caller flushed the buffer).
    #[cfg(target_os = "linux")]
    fn start_writeback(&mut self) {
        use std::os::fd::AsRawFd;
        let fd = self.writer.get_ref().as_file().as_raw_fd();
        let (from, len) = (self.writeback_from, self.written - self.writeback_from);
        if let (Ok(from), Ok(len)) = (libc::off64_t::try_from(from), libc::off64_t::try_from(len)) {
            // SAFETY: `fd` is the open descriptor of the temporary file, owned by `self.writer`
            // for the duration of the call; sync_file_range only reads the range arguments and
            // touches no memory of this process. Its result is ignored on purpose: it is a
            // hint, and a real write error is reported again by the fsync in `commit`.
            let _ = unsafe { libc::sync_file_range(fd, from, len, libc::SYNC_FILE_RANGE_WRITE) };
        }
        self.writeback_from = self.written;
    }

    /// Flushes, syncs and renames the file into place.
    pub fn commit(self) -> Result<()> {
        let AtomicOutput { dest, writer, .. } = self;
        let fail = |e: io::Error| CliError::file(&dest, format!("write failed: {}", io_text(&e)));
        let tmp = writer.into_inner().map_err(|e| fail(e.into_error()))?;
        tmp.as_file().sync_all().map_err(fail)?;
        tmp.persist(&dest).map_err(|e| fail(e.error))?;
        Ok(())
    }
}

/// The header of a version 1.0 `.npy` file for a C-order array of `descr` with `shape`,
/// padded (with spaces, then `\n`) so the data starts on a 64-byte boundary, as numpy does.
pub fn npy_header(descr: &str, shape: &[usize]) -> Vec<u8> {
    let dims: Vec<String> = shape.iter().map(usize::to_string).collect();
    let shape_text = match dims.len() {
        1 => format!("({},)", dims[0]),
        _ => format!("({})", dims.join(", ")),
    };
    let mut dict = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape_text}, }}");
    let total = (10 + dict.len() + 1).div_ceil(64) * 64;
    while 10 + dict.len() + 1 < total {
        dict.push(' ');
    }
    dict.push('\n');
    let mut out = Vec::with_capacity(total);
    out.extend_from_slice(b"\x93NUMPY\x01\x00");
    out.extend_from_slice(&(dict.len() as u16).to_le_bytes());
    out.extend_from_slice(dict.as_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn npy_header_is_64_byte_aligned_and_parses() {
        for shape in [&[3usize][..], &[16, 768], &[0, 1], &[123456789, 4096]] {
            let mut bytes = npy_header("<f4", shape);
            assert_eq!(bytes.len() % 64, 0);
            let n: usize = shape.iter().product();
            if n < 100_000 {
                bytes.extend(std::iter::repeat_n(0u8, n * 4));
                let npy = glocal::pack::npy::Npy::parse(&bytes).unwrap();
                assert_eq!(npy.shape, shape);
            }
        }
    }

    #[test]
    fn atomic_output_leaves_nothing_when_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("out.bin");
        let mut out = AtomicOutput::create(&dest).unwrap();
        out.write_all(b"partial").unwrap();
        drop(out);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
        let mut out = AtomicOutput::create(&dest).unwrap();
        out.write_all(b"whole").unwrap();
        out.commit().unwrap();
        assert_eq!(std::fs::read(&dest).unwrap(), b"whole");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
