//! Reading thingsvision's `transform.npz` (feature `npz`): a zip of `.npy` members.
//!
//! Two layouts are accepted:
//! - the published one: `weights` `[d_in, d_out]`, optional `bias` `[d_out]`, scalar `mean`
//!   and `std` (float32 or float64, 0-d or one element);
//! - the older single-array one: `transform` `[d, d + 1]` whose last column is the bias,
//!   with `mean` and `std` as above.
//!
//! Member sizes are checked against the archive before anything is allocated, so a member
//! that lies about its size cannot make the reader allocate more than the archive can hold.

#![forbid(unsafe_code)]

use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;
use std::io::{Cursor, Read};

use super::npy::{Npy, NpyError};
use super::{PackError, Source};

/// Largest uncompressed member accepted (a 4096 x 4096 float64 matrix is 128 MiB).
pub const MAX_MEMBER_BYTES: u64 = 1 << 30;
/// Deflate cannot expand data by more than about 1032:1; a member claiming more is lying.
const MAX_DEFLATE_RATIO: u64 = 1100;

/// Why a `transform.npz` could not be read.
#[derive(Debug)]
#[non_exhaustive]
pub enum NpzError {
    /// Not a readable zip archive.
    Zip(String),
    /// A required member is absent (names the member and what the archive holds).
    MissingMember {
        /// The member looked for.
        member: &'static str,
        /// Members present.
        found: Vec<String>,
    },
    /// A member's declared size is implausible or over the limit.
    MemberSize {
        /// Member name.
        member: String,
        /// Declared uncompressed size.
        declared: u64,
        /// Largest size accepted for it.
        limit: u64,
    },
    /// A member could not be read in full (corrupt data, CRC mismatch, short read).
    MemberRead {
        /// Member name.
        member: String,
        /// What went wrong.
        reason: String,
    },
    /// A member is not a valid float `.npy` array.
    Npy {
        /// Member name.
        member: String,
        /// The problem.
        error: NpyError,
    },
    /// A member has the wrong shape.
    Shape {
        /// Member name.
        member: &'static str,
        /// Shape expected, in words.
        expected: String,
        /// Shape found.
        found: Vec<usize>,
    },
    /// The arrays were read but do not form a valid transform.
    Invalid(PackError),
}

impl fmt::Display for NpzError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NpzError::Zip(e) => write!(f, "not a readable .npz (zip) archive: {e}"),
            NpzError::MissingMember { member, found } => {
                write!(f, "no '{member}' array in the archive (it holds: {})", found.join(", "))
            }
            NpzError::MemberSize { member, declared, limit } => write!(
                f,
                "member '{member}' declares {declared} bytes uncompressed, more than the {limit} it can hold"
            ),
            NpzError::MemberRead { member, reason } => write!(f, "member '{member}': {reason}"),
            NpzError::Npy { member, error } => write!(f, "member '{member}': {error}"),
            NpzError::Shape { member, expected, found } => {
                write!(f, "'{member}' has shape {found:?}, expected {expected}")
            }
            NpzError::Invalid(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for NpzError {}

impl From<PackError> for NpzError {
    fn from(e: PackError) -> Self {
        NpzError::Invalid(e)
    }
}

type Archive<'a> = zip::ZipArchive<Cursor<&'a [u8]>>;

/// Reads member `name` (or `name.npy`) fully, if present, with its size bounded.
fn read_member(
    archive: &mut Archive<'_>,
    name: &str,
    archive_len: u64,
) -> Result<Option<(String, Vec<u8>)>, NpzError> {
    let Some(member) = [alloc::format!("{name}.npy"), name.to_string()]
        .into_iter()
        .find(|m| archive.index_for_name(m).is_some())
    else {
        return Ok(None);
    };
    let mut file = archive
        .by_name(&member)
        .map_err(|e| NpzError::MemberRead { member: member.clone(), reason: e.to_string() })?;
    let declared = file.size();
    // The compressed size is a claim too: no member can hold more bytes than the archive.
    let compressed = file.compressed_size().min(archive_len);
    let limit = MAX_MEMBER_BYTES
        .min(compressed.max(1).saturating_mul(MAX_DEFLATE_RATIO))
        .min(if file.compression() == zip::CompressionMethod::Stored { archive_len } else { u64::MAX });
    if declared > limit {
        return Err(NpzError::MemberSize { member, declared, limit });
    }
    // Reserve no more than the archive itself could hold; the buffer grows only with bytes
    // actually inflated, so a lying size costs nothing until the data is really there.
    let mut data = Vec::with_capacity(declared.min(archive_len) as usize);
    // Read one byte past the declared size to catch members holding more than they claim.
    (&mut file)
        .take(declared.saturating_add(1))
        .read_to_end(&mut data)
        .map_err(|e| NpzError::MemberRead { member: member.clone(), reason: e.to_string() })?;
    if data.len() as u64 != declared {
        return Err(NpzError::MemberRead {
            member,
            reason: alloc::format!("declares {declared} bytes uncompressed, holds {}", data.len()),
        });
    }
    Ok(Some((member, data)))
}

fn parse<'d>(member: &str, data: &'d [u8]) -> Result<Npy<'d>, NpzError> {
    Npy::parse(data).map_err(|error| NpzError::Npy { member: member.to_string(), error })
}

fn scalar(archive: &mut Archive<'_>, name: &'static str, len: u64) -> Result<f64, NpzError> {
    let (member, data) = read_member(archive, name, len)?
        .ok_or_else(|| NpzError::MissingMember { member: name, found: names(archive) })?;
    let npy = parse(&member, &data)?;
    match npy.to_f64().as_slice() {
        &[value] if npy.shape.iter().all(|&d| d == 1) => Ok(value),
        _ => Err(NpzError::Shape { member: name, expected: "a scalar".into(), found: npy.shape }),
    }
}

fn names(archive: &Archive<'_>) -> Vec<String> {
    archive.file_names().map(str::to_string).collect()
}

/// Reads a thingsvision `transform.npz` image into a validated [`Source`].
///
/// # Errors
/// [`NpzError`] naming the member and the problem.
pub fn read_transform(bytes: &[u8]) -> Result<Source, NpzError> {
    let len = bytes.len() as u64;
    let mut archive = zip::ZipArchive::new(Cursor::new(bytes)).map_err(|e| NpzError::Zip(e.to_string()))?;
    let mean = scalar(&mut archive, "mean", len)?;
    let std = scalar(&mut archive, "std", len)?;

    let source = if let Some((member, data)) = read_member(&mut archive, "weights", len)? {
        let w = parse(&member, &data)?;
        let [d_in, d_out] = w.shape[..] else {
            return Err(NpzError::Shape {
                member: "weights",
                expected: "2-D [d_in, d_out]".into(),
                found: w.shape,
            });
        };
        let bias = match read_member(&mut archive, "bias", len)? {
            None => None,
            Some((member, data)) => {
                let b = parse(&member, &data)?;
                if b.len() != d_out || b.shape.iter().rev().skip(1).any(|&d| d != 1) {
                    return Err(NpzError::Shape {
                        member: "bias",
                        expected: alloc::format!("[{d_out}] to match weights"),
                        found: b.shape,
                    });
                }
                Some(b.to_f64())
            }
        };
        Source { d_in, d_out, weights: w.to_f64(), bias, mean, std }
    } else if let Some((member, data)) = read_member(&mut archive, "transform", len)? {
        let t = parse(&member, &data)?;
        let (d, cols) = match t.shape[..] {
            [d, cols] if d.checked_add(1) == Some(cols) => (d, cols),
            _ => {
                return Err(NpzError::Shape {
                    member: "transform",
                    expected: "[d, d + 1] (weights, then the bias as last column)".into(),
                    found: t.shape,
                })
            }
        };
        let all = t.to_f64();
        let mut weights = Vec::with_capacity(d * d);
        let mut bias = Vec::with_capacity(d);
        for row in all.chunks_exact(cols) {
            if let Some((&b, w)) = row.split_last() {
                weights.extend_from_slice(w);
                bias.push(b);
            }
        }
        Source { d_in: d, d_out: d, weights, bias: Some(bias), mean, std }
    } else {
        return Err(NpzError::MissingMember { member: "weights", found: names(&archive) });
    };
    source.validate()?;
    Ok(source)
}
