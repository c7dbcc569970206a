//! [`AlignedBlob`]: an owned, 64-byte aligned byte buffer for blobs built or read at run time.

#![forbid(unsafe_code)]

use alloc::vec::Vec;

#[derive(Clone, Copy, bytemuck::Zeroable, bytemuck::Pod)]
#[repr(C, align(64))]
struct CacheLine([u8; 64]);

/// Owned bytes whose first byte is 64-byte aligned, so a [`Transform`](crate::Transform) can
/// borrow them in place. `Vec<u8>` only guarantees 1-byte alignment.
#[derive(Clone, Default)]
pub struct AlignedBlob {
    lines: Vec<CacheLine>,
    len: usize,
}

impl AlignedBlob {
    /// A zero-filled buffer of `len` bytes.
    pub fn zeroed(len: usize) -> Self {
        AlignedBlob { lines: alloc::vec![CacheLine([0; 64]); len.div_ceil(64)], len }
    }

    /// An aligned copy of `bytes`.
    pub fn from_bytes(bytes: &[u8]) -> Self {
        let mut blob = Self::zeroed(bytes.len());
        blob.as_bytes_mut().copy_from_slice(bytes);
        blob
    }

    /// The bytes.
    pub fn as_bytes(&self) -> &[u8] {
        let all: &[u8] = bytemuck::cast_slice(&self.lines);
        debug_assert!(
            self.len <= all.len(),
            "AlignedBlob: length {} beyond its {} bytes",
            self.len,
            all.len()
        );
        all.get(..self.len).unwrap_or(&[])
    }

    /// The bytes, mutably.
    pub fn as_bytes_mut(&mut self) -> &mut [u8] {
        let all: &mut [u8] = bytemuck::cast_slice_mut(&mut self.lines);
        debug_assert!(
            self.len <= all.len(),
            "AlignedBlob: length {} beyond its {} bytes",
            self.len,
            all.len()
        );
        all.get_mut(..self.len).unwrap_or(&mut [])
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the buffer is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl core::fmt::Debug for AlignedBlob {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "AlignedBlob({} bytes)", self.len)
    }
}

impl AsRef<[u8]> for AlignedBlob {
    fn as_ref(&self) -> &[u8] {
        self.as_bytes()
    }
}
