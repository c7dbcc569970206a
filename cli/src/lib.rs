//! The library half of `glocal-cli`: the registry of published transforms, the cache and its
//! verified downloads, and loading a transform from a blob, a `transform.npz` or a model name.
//!
//! The `glocal` tool and the Python package (`python/`) both use it, so a model name resolves
//! the same way everywhere: the same sha256 pins, cache layout, `GLOCAL_CACHE_DIR` and
//! `GLOCAL_BASE_URL`, cautions and one-line errors.

pub mod error;
pub mod fetch;
pub mod fileio;
pub mod load;
pub mod registry;
pub mod ui;
