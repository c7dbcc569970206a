//! `glocal_mapped`: a blob file mapped into memory with its transform (hosted builds only).

use core::ffi::{c_char, CStr};
use std::boxed::Box;
use std::fs::File;
use std::path::PathBuf;

use memmap2::Mmap;

use crate::boundary::guard;
use crate::glocal_status::{self, *};
use crate::transform::{glocal_transform, glocal_transform_init};

/// A blob file mapped read-only into memory, with the transform initialised from it.
/// Opaque; created by `glocal_mapped_open`, released by `glocal_mapped_close`. Hosted builds
/// only (not in bare-metal libraries).
pub struct glocal_mapped {
    /// Initialised from `map`; borrows it, so it is declared (and dropped) first.
    transform: glocal_transform,
    /// The mapping. Its pages do not move when the Box does.
    map: Mmap,
}

#[cfg(unix)]
fn to_path(path: &CStr) -> Option<PathBuf> {
    use std::os::unix::ffi::OsStrExt;
    Some(std::ffi::OsStr::from_bytes(path.to_bytes()).into())
}

#[cfg(not(unix))]
fn to_path(path: &CStr) -> Option<PathBuf> {
    path.to_str().ok().map(PathBuf::from)
}

/// Opens the blob file at `path` (a NUL-terminated path in the OS's encoding; UTF-8 on
/// Windows), maps it read-only and validates it as `glocal_transform_init` does.
///
/// On success stores a new handle in `*out`; release it with `glocal_mapped_close`. On any
/// error stores NULL in `*out` (when `out` is not NULL) and returns
/// `GLOCAL_STATUS_NULL_POINTER`, `GLOCAL_STATUS_FILE_OPEN_FAILED`,
/// `GLOCAL_STATUS_FILE_MAP_FAILED`, a `GLOCAL_STATUS_BLOB_*` code or
/// `GLOCAL_STATUS_KERNEL_UNAVAILABLE`. The file must not be modified or truncated while it is
/// mapped (that is undefined behaviour for any mmap reader, and may raise SIGBUS).
/// Allocates one small handle; nothing else.
///
/// # Safety
/// `path` is NULL or a valid NUL-terminated string; `out` is NULL or points to writable
/// storage for one pointer.
#[no_mangle]
pub unsafe extern "C" fn glocal_mapped_open(
    path: *const c_char,
    out: *mut *mut glocal_mapped,
) -> glocal_status {
    guard(GLOCAL_STATUS_INTERNAL_PANIC, || {
        if out.is_null() {
            return GLOCAL_STATUS_NULL_POINTER;
        }
        // SAFETY: `out` is non-NULL and writable (caller's promise). Written before anything
        // can fail, so every error path leaves NULL there.
        unsafe { out.write(core::ptr::null_mut()) };
        if path.is_null() {
            return GLOCAL_STATUS_NULL_POINTER;
        }
        // SAFETY: `path` is a valid NUL-terminated string (caller's promise).
        let Some(path) = to_path(unsafe { CStr::from_ptr(path) }) else {
            return GLOCAL_STATUS_FILE_OPEN_FAILED;
        };
        let Ok(file) = File::open(path) else {
            return GLOCAL_STATUS_FILE_OPEN_FAILED;
        };
        // SAFETY: a read-only private mapping; the documented contract forbids modifying or
        // truncating the file while it is mapped, which is the one way the mapped bytes could
        // change under the shared references the transform holds.
        let Ok(map) = (unsafe { Mmap::map(&file) }) else {
            return GLOCAL_STATUS_FILE_MAP_FAILED;
        };
        let mut m = Box::new(glocal_mapped { transform: glocal_transform::ZEROED, map });
        // SAFETY: `m.transform` is writable storage; the blob is the mapping, which lives in
        // the same Box as the transform, at an address that does not change when the Box
        // moves, and is unmapped only after the transform is gone (glocal_mapped_close).
        let status = unsafe { glocal_transform_init(&mut m.transform, m.map.as_ptr(), m.map.len()) };
        if status != GLOCAL_STATUS_OK {
            return status;
        }
        // SAFETY: `out` is non-NULL and writable (checked above).
        unsafe { out.write(Box::into_raw(m)) };
        GLOCAL_STATUS_OK
    })
}

/// The transform of an open mapping, or NULL if `m` is NULL. Valid until
/// `glocal_mapped_close(m)`; use it with `glocal_apply_*` from any number of threads.
///
/// # Safety
/// `m` is NULL or a handle from `glocal_mapped_open` that has not been closed.
#[no_mangle]
pub unsafe extern "C" fn glocal_mapped_transform(m: *const glocal_mapped) -> *const glocal_transform {
    if m.is_null() {
        return core::ptr::null();
    }
    // SAFETY: `m` is a live handle (caller's promise); this only computes a field address,
    // nothing is read. Panic-free, so not wrapped in the boundary guard.
    unsafe { core::ptr::addr_of!((*m).transform) }
}

/// Unmaps the file and frees the handle. `NULL` is a no-op. Every pointer obtained through
/// `m` (its transform, its kernel name) is invalid afterwards. Closing twice is undefined.
///
/// # Safety
/// `m` is NULL or a handle from `glocal_mapped_open` not yet closed and not in use by
/// another thread.
#[no_mangle]
pub unsafe extern "C" fn glocal_mapped_close(m: *mut glocal_mapped) {
    if m.is_null() {
        return;
    }
    guard((), || {
        // SAFETY: `m` came from Box::into_raw in glocal_mapped_open and is closed once
        // (caller's promise); dropping the Box unmaps the file after the transform is gone.
        drop(unsafe { Box::from_raw(m) });
    })
}
