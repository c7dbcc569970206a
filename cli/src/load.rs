//! Getting blob bytes from what the user named: a blob file (mapped), a transform.npz (packed in
//! memory) or a published model name (resolved through the cache).

use std::path::Path;

use glocal::format::{BLOB_ALIGN, MAGIC};
use glocal::{AlignedBlob, WeightDtype};
use memmap2::Mmap;

use crate::error::{CliError, Result};
use crate::fetch::{self, FetchOptions, Target};
use crate::fileio::map_file;
use crate::registry;

/// What a file starts with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A glocal blob (magic `GLOCALW\x1a`).
    Blob,
    /// A zip archive (an `.npz`).
    Npz,
    /// A `.npy` array.
    Npy,
    /// Anything else.
    Unknown,
}

/// Sniffs the first bytes.
pub fn kind(bytes: &[u8]) -> Kind {
    if bytes.starts_with(&MAGIC) {
        Kind::Blob
    } else if bytes.starts_with(b"PK\x03\x04") || bytes.starts_with(b"PK\x05\x06") {
        Kind::Npz
    } else if bytes.starts_with(b"\x93NUMPY") {
        Kind::Npy
    } else {
        Kind::Unknown
    }
}

/// Blob bytes: mapped from a file, or packed in memory.
pub enum BlobBytes {
    /// A blob file, memory-mapped.
    Mapped(Mmap),
    /// Packed from a transform.npz.
    Packed(AlignedBlob),
}

impl BlobBytes {
    /// The bytes.
    pub fn bytes(&self) -> &[u8] {
        match self {
            BlobBytes::Mapped(m) => m,
            BlobBytes::Packed(b) => b.as_bytes(),
        }
    }
}

/// A loaded transform and where it came from.
pub struct Loaded {
    /// The blob.
    pub blob: BlobBytes,
    /// File or model name, for messages.
    pub label: String,
}

/// Maps a blob file, checking that the mapping can be used in place.
pub fn map_blob(path: &Path) -> Result<Mmap> {
    let map = map_file(path)?;
    // mmap returns page-aligned memory; the check states the requirement rather than trusting it.
    if !(map.as_ptr() as usize).is_multiple_of(BLOB_ALIGN) {
        return Err(CliError::file(
            path,
            format!("mapping at {:p} is not {BLOB_ALIGN}-byte aligned", map.as_ptr()),
        ));
    }
    Ok(map)
}

/// Packs a transform.npz image.
pub fn pack_npz(
    path: &Path,
    bytes: &[u8],
    dtype: WeightDtype,
    model: &str,
    module: &str,
) -> Result<AlignedBlob> {
    let source = glocal::pack::npz::read_transform(bytes).map_err(|e| CliError::file(path, e))?;
    glocal::pack::pack(&source, dtype, model, module).map_err(|e| CliError::file(path, e))
}

/// Loads the `<transform>` argument of `align`: a file if one exists at `spec`, else a model name.
pub fn load(
    spec: &str,
    dtype: Option<WeightDtype>,
    module: Option<&str>,
    first_upload: bool,
    opts: FetchOptions,
) -> Result<Loaded> {
    let path = Path::new(spec);
    // A file wins; a directory that happens to carry a model's name (`./resnet18/`) does not.
    if path.is_file() || (path.exists() && registry::lookup(spec).is_none()) {
        if module.is_some() || first_upload {
            return Err(CliError::file(path, "--module and --first-upload apply only to model names"));
        }
        return load_file(path, dtype);
    }
    load_model(spec, dtype, module, first_upload, opts)
}

/// Loads a blob file (mapped) or a transform.npz (packed in memory as `dtype`, default f32).
pub fn load_file(path: &Path, dtype: Option<WeightDtype>) -> Result<Loaded> {
    let spec = path.display().to_string();
    let map = map_blob(path)?;
    match kind(&map) {
        Kind::Blob => {
            if let Some(d) = dtype {
                let stored = glocal::format::Header::parse(&map).map(|h| h.dtype).ok();
                if stored.is_some_and(|s| s != d) {
                    return Err(CliError::file(
                        path,
                        format!(
                            "the blob stores {} weights, --dtype asks for {d}: --dtype applies to \
                             .npz transforms and model names (repack with `glocal pack --dtype {d}`)",
                            stored.map_or("?", WeightDtype::name)
                        ),
                    ));
                }
            }
            Ok(Loaded { blob: BlobBytes::Mapped(map), label: spec })
        }
        Kind::Npz => {
            let (model, module) = registry::from_path(path).map_or(("", ""), |e| (e.model, e.module));
            let blob = pack_npz(path, &map, dtype.unwrap_or(WeightDtype::F32), model, module)?;
            Ok(Loaded { blob: BlobBytes::Packed(blob), label: spec })
        }
        Kind::Npy | Kind::Unknown => Err(CliError::file(
            path,
            "neither a glocal blob (magic GLOCALW\\x1a) nor a transform.npz (zip archive)",
        )),
    }
}

/// Loads a published model's transform from the cache (fetching it first if absent), packed
/// in memory as `dtype` (default f32).
pub fn load_model(
    model: &str,
    dtype: Option<WeightDtype>,
    module: Option<&str>,
    first_upload: bool,
    opts: FetchOptions,
) -> Result<Loaded> {
    let target = Target::new(model, module, first_upload)?;
    let file = if first_upload {
        let file = target.cache_file(&fetch::cache_dir()?);
        if !file.is_file() {
            return Err(CliError::at(
                target.label(),
                format!(
                    "not in the cache: install it with `glocal fetch {} --first-upload --from FILE`",
                    registry::DINOV2_B14
                ),
            ));
        }
        fetch::fetch(&target, None, opts)?.0
    } else {
        fetch::resolve(&target, opts)?
    };
    let map = map_file(&file)?;
    let blob = pack_npz(&file, &map, dtype.unwrap_or(WeightDtype::F32), target.entry.model, &target.module)?;
    Ok(Loaded { blob: BlobBytes::Packed(blob), label: target.label() })
}
