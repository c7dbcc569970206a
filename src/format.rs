//! The packed blob format, version 1: header layout, parsing and validation.
//!
//! `docs/FORMAT.md` describes the same layout byte by byte; the constants here are the
//! single source of truth for both the reader and the packer.

#![forbid(unsafe_code)]

use crate::dtype::WeightDtype;
use crate::error::Error;

/// The eight magic bytes every blob starts with.
pub const MAGIC: [u8; 8] = *b"GLOCALW\x1a";
/// The format version this build reads and writes.
pub const VERSION: u16 = 1;
/// Size of the fixed header, in bytes. Every section offset is a multiple of [`SECTION_ALIGN`].
pub const HEADER_LEN: usize = 256;
/// Alignment of every section relative to the blob start (a cache line).
pub const SECTION_ALIGN: usize = 64;
/// Alignment the blob's first byte must have in memory for the payload to be used in place.
pub const BLOB_ALIGN: usize = 4;
/// Written little-endian; reads back as this value only on a little-endian target.
pub const ENDIAN_MARKER: u32 = 0x0102_0304;
/// Panel width: output columns per packed panel. One width serves every target.
pub const NR: usize = 16;
/// Largest `d_in` or `d_out` accepted (keeps every size computation far from overflow).
pub const MAX_DIM: u32 = 1 << 16;
/// Bytes of a name field (model, module), NUL padded.
pub const NAME_LEN: usize = 64;
/// Largest `i8d` row scale a blob may hold: 2^120 (about 1.33e36).
///
/// Every stored weight `scale * q` (`|q| <= 127`) is then a finite f32 (127 * 2^120 is about
/// 1.7e38 < f32::MAX), and the packer refuses to quantise a row whose scale would exceed it
/// (its off-diagonal weights would then not fit f32 either). Validation rejects larger scales,
/// negative ones, NaN and infinity ([`Error::BadAux`]).
pub const I8D_MAX_SCALE: f32 = f32::from_bits(0x7B80_0000);
const _: () = assert!(I8D_MAX_SCALE == (1u128 << 120) as f32 && (I8D_MAX_SCALE * 127.0).is_finite());

/// Largest `q8` row scale: 1. Every folded input `x * scale` of a finite `x` is then a finite
/// f32, so quantizing a row of finite inputs never overflows (gLocal's scales are near 1e-4;
/// the packer refuses weights beyond `127` in magnitude). Validation rejects larger scales,
/// negative ones, NaN and infinity ([`Error::BadAux`]).
pub const Q8_MAX_SCALE: f32 = 1.0;
/// Largest `|a|` of a `q8` activation: inputs are quantized per row to 12-bit integers.
pub const Q8_ACT_MAX: i32 = 2047;
/// Inputs per `q8` weight group: the four int8 weights of one column for four consecutive
/// inputs are adjacent (one 32-bit lane of `SDOT`, `VPDPBUSD` or `SMLAD`'s pair of pairs).
pub const Q8_GROUP: usize = 4;
/// Largest `d_in` of a `q8` blob: the exact int32 sum is then bounded by construction,
/// `Q8_MAX_D_IN * Q8_ACT_MAX * 128 = 2,146,435,072 < 2^31`.
pub const Q8_MAX_D_IN: u32 = 8192;
const _: () = assert!((Q8_MAX_D_IN as i64) * (Q8_ACT_MAX as i64) * 128 < i32::MAX as i64);

/// Flag: the source transform had a bias vector (clip_ViT-L/14 has none).
pub const FLAG_HAS_BIAS: u16 = 1 << 0;
/// Flag: mean and std are folded into weights and bias. Always set in version 1.
pub const FLAG_NORM_FOLDED: u16 = 1 << 1;
/// Flag: the packer measured the blob's error and recorded it at [`offsets::MEASURED_ERROR`],
/// [`offsets::PROBE_ROWS`] and [`offsets::PROBE_KIND`] (see [`Header::measured_error`]). When
/// clear, those bytes are reserved and must be zero (blobs packed before the field existed).
pub const FLAG_ERROR_RECORDED: u16 = 1 << 2;
const KNOWN_FLAGS: u16 = FLAG_HAS_BIAS | FLAG_NORM_FOLDED | FLAG_ERROR_RECORDED;

/// What the rows a recorded error was measured on were ([`ErrorRecord::probe_kind`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum ProbeKind {
    /// glocal's default probe: fixed-seed pseudo-random rows `mean + std * N(0, 1)`
    /// (`glocal::pack::measure::random_probe`), code 1.
    Random,
    /// Rows the packer's caller supplied (`glocal pack --probe FILE.npy`), code 2.
    User,
}

impl ProbeKind {
    /// The byte stored at [`offsets::PROBE_KIND`].
    pub const fn code(self) -> u8 {
        match self {
            ProbeKind::Random => 1,
            ProbeKind::User => 2,
        }
    }

    /// The kind of a stored code, or `None` for a code this build does not know.
    pub const fn from_code(code: u8) -> Option<ProbeKind> {
        match code {
            1 => Some(ProbeKind::Random),
            2 => Some(ProbeKind::User),
            _ => None,
        }
    }

    /// `random` or `user`.
    pub const fn name(self) -> &'static str {
        match self {
            ProbeKind::Random => "random",
            ProbeKind::User => "user",
        }
    }
}

/// The accuracy a packer measured and recorded in a blob (flag [`FLAG_ERROR_RECORDED`]).
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct ErrorRecord {
    /// `max |y - y_ref| / max |y_ref|` over the probe rows: `y` from the blob, `y_ref` the
    /// f64 formula on the source transform. Finite and `>= 0`; rounded up to f32, so it is
    /// never below the measured value.
    pub error: f32,
    /// Probe rows it was measured on (at least 1).
    pub probe_rows: u32,
    /// Where the probe rows came from.
    pub probe_kind: ProbeKind,
}

/// Byte offsets of the header fields (see `docs/FORMAT.md`).
pub mod offsets {
    /// `[u8; 8]` magic.
    pub const MAGIC: usize = 0x00;
    /// `u16` format version.
    pub const VERSION: usize = 0x08;
    /// `u16` header length (256).
    pub const HEADER_LEN: usize = 0x0A;
    /// `u32` endianness marker.
    pub const ENDIAN: usize = 0x0C;
    /// `u8` weight dtype code.
    pub const DTYPE: usize = 0x10;
    /// `u8` panel width.
    pub const NR: usize = 0x11;
    /// `u16` flags.
    pub const FLAGS: usize = 0x12;
    /// `u32` input dimension.
    pub const D_IN: usize = 0x14;
    /// `u32` output dimension.
    pub const D_OUT: usize = 0x18;
    /// `u32` number of panels.
    pub const PANELS: usize = 0x1C;
    /// `f64` original mean.
    pub const MEAN: usize = 0x20;
    /// `f64` original std.
    pub const STD: usize = 0x28;
    /// `u64` total blob length.
    pub const TOTAL_LEN: usize = 0x30;
    /// `u64` bias section offset.
    pub const BIAS_OFFSET: usize = 0x38;
    /// `u64` bias section length.
    pub const BIAS_LEN: usize = 0x40;
    /// `u64` weight section offset.
    pub const WEIGHTS_OFFSET: usize = 0x48;
    /// `u64` weight section length.
    pub const WEIGHTS_LEN: usize = 0x50;
    /// `u64` bytes from one panel to the next.
    pub const PANEL_STRIDE: usize = 0x58;
    /// `u64` auxiliary section offset (`i8d`: row scales and diagonal; 0 for other dtypes).
    pub const AUX_OFFSET: usize = 0x60;
    /// `u64` auxiliary section length (`i8d`: `(round_up(d_in, NR) + panels * NR) * 4`; else 0).
    pub const AUX_LEN: usize = 0x68;
    /// `[u8; 64]` model name.
    pub const MODEL: usize = 0x70;
    /// `[u8; 64]` module name.
    pub const MODULE: usize = 0xB0;
    /// `[u8; 12]` reserved, zero, unless flag `ERROR_RECORDED` is set; then it holds the
    /// error record (`MEASURED_ERROR`, `PROBE_ROWS`, `PROBE_KIND`) and 3 reserved zero bytes
    /// at `RESERVED_TAIL`.
    pub const RESERVED: usize = 0xF0;
    /// `f32` measured error (flag `ERROR_RECORDED`): finite, `>= 0`.
    pub const MEASURED_ERROR: usize = 0xF0;
    /// `u32` probe rows the error was measured on (flag `ERROR_RECORDED`): `>= 1`.
    pub const PROBE_ROWS: usize = 0xF4;
    /// `u8` probe kind (flag `ERROR_RECORDED`): 1 random, 2 user.
    pub const PROBE_KIND: usize = 0xF8;
    /// `[u8; 3]` reserved, zero, in every blob.
    pub const RESERVED_TAIL: usize = 0xF9;
    /// `u32` CRC-32C of the blob with this field read as zero.
    pub const CRC: usize = 0xFC;
}

#[cfg(not(target_os = "none"))]
const CRC32C: crc::Crc<u32> = crc::Crc::<u32>::new(&crc::CRC_32_ISCSI);

/// Computes the blob checksum: CRC-32C (Castagnoli) over every byte of the blob except
/// the 4-byte checksum field itself. Detects every single-bit and every burst error up to 32 bits.
pub fn checksum(blob: &[u8]) -> u32 {
    let (head, payload) = (blob.get(..offsets::CRC).unwrap_or(blob), blob.get(HEADER_LEN..).unwrap_or(&[]));
    #[cfg(target_os = "none")]
    return !crc32c_nibbles(crc32c_nibbles(!0, head), payload);
    #[cfg(not(target_os = "none"))]
    {
        let mut digest = CRC32C.digest();
        digest.update(head);
        digest.update(payload);
        digest.finalize()
    }
}

/// CRC-32C (reflected, polynomial 0x82F63B78) of `data` continuing from `crc`, without the
/// final inversion: four bits per step from a 64-byte table. Bare metal uses it instead of the
/// `crc` crate's 1 KiB byte table (flash matters more there than the ~2x slower init,
/// docs/EMBEDDED.md); hosts keep the byte table, and a test checks that both agree.
#[cfg_attr(not(any(target_os = "none", test)), allow(dead_code))]
fn crc32c_nibbles(crc: u32, data: &[u8]) -> u32 {
    // In bounds: i < 16.
    #[allow(clippy::indexing_slicing)]
    const TABLE: [u32; 16] = {
        let mut t = [0u32; 16];
        let mut i = 0;
        while i < 16 {
            let mut c = i as u32;
            let mut k = 0;
            while k < 4 {
                c = if c & 1 != 0 { (c >> 1) ^ 0x82F6_3B78 } else { c >> 1 };
                k += 1;
            }
            t[i] = c;
            i += 1;
        }
        t
    };
    // `& 15` keeps the index in bounds: the fallback is never taken, and compiled out.
    let step = |c: u32| (c >> 4) ^ TABLE.get((c & 15) as usize).copied().unwrap_or(0);
    data.iter().fold(crc, |crc, &b| step(step(crc ^ b as u32)))
}

/// Sizes of every section, derived from dtype and dims alone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Layout {
    /// Number of panels, `ceil(d_out / NR)`.
    pub panels: u64,
    /// Bytes from one panel to the next in the weight section.
    pub panel_stride: u64,
    /// Offset of the f32 bias section.
    pub bias_offset: u64,
    /// Length of the bias section (`panels * NR * 4`).
    pub bias_len: u64,
    /// Offset of the weight section.
    pub weights_offset: u64,
    /// Length of the weight section (`panels * panel_stride`).
    pub weights_len: u64,
    /// Offset of the auxiliary section: for `i8d` right after the weight section (64-aligned),
    /// holding `round_up(d_in, NR)` f32 row scales then `panels * NR` f32 diagonal values; 0
    /// for every other dtype.
    pub aux_offset: u64,
    /// Length of the auxiliary section (`i8d`: `(round_up(d_in, NR) + panels * NR) * 4`; else 0).
    pub aux_len: u64,
    /// Length of the whole blob.
    pub total_len: u64,
}

impl Layout {
    /// The layout of a blob with these dims and dtype. Dims must be within `1..=MAX_DIM`
    /// (then nothing here can overflow a `u64`).
    // Inlined: firmware calls it once (validation), and a returned struct of nine u64 costs a
    // copy per field on a 32-bit core.
    #[inline(always)]
    pub const fn new(dtype: WeightDtype, d_in: u32, d_out: u32) -> Layout {
        // In u32 where the dims bound the value (d <= 2^16: a panel is at most 2^22 bytes, the
        // aux section 2^19), u64 from the product of panels and panel stride on: no 64-bit
        // multiply or division on 32-bit cores beyond the one that needs it.
        let panels = d_out.div_ceil(NR as u32);
        // q8 groups four inputs per column: its rows are padded to a multiple of four.
        let rows = match dtype {
            WeightDtype::Q8 => d_in.next_multiple_of(Q8_GROUP as u32),
            _ => d_in,
        };
        let panel_stride =
            (rows * NR as u32 * dtype.size() as u32).next_multiple_of(SECTION_ALIGN as u32) as u64;
        let bias_offset = HEADER_LEN as u64;
        let bias_len = (panels * NR as u32 * 4) as u64;
        let weights_offset = (bias_offset + bias_len).next_multiple_of(SECTION_ALIGN as u64);
        let weights_len = panels as u64 * panel_stride;
        let end = weights_offset + weights_len;
        // Row scales (d_in rounded up to NR f32), then NR f32 of diagonal per panel, and for q8
        // NR int32 column sums of the stored weights per panel; `end` is already 64-aligned and
        // every part is a multiple of 64 bytes.
        let per_panel = match dtype {
            WeightDtype::I8d => 1,
            WeightDtype::Q8 => 2,
            _ => 0,
        };
        let (aux_offset, aux_len) = if per_panel == 0 {
            (0, 0)
        } else {
            (end, ((d_in.next_multiple_of(NR as u32) + per_panel * panels * NR as u32) * 4) as u64)
        };
        Layout {
            panels: panels as u64,
            panel_stride,
            bias_offset,
            bias_len,
            weights_offset,
            weights_len,
            aux_offset,
            aux_len,
            total_len: end + aux_len,
        }
    }
}

/// Byte offset of weight `[k][c]` (input `k`, column `c` of the panel) from the start of its
/// panel: row-major rows of `NR` for f32, f16, bf16 and i8d; for q8 groups of four inputs, each
/// group `NR` columns of four adjacent bytes.
pub const fn weight_offset(dtype: WeightDtype, k: usize, c: usize) -> usize {
    match dtype {
        WeightDtype::Q8 => (k / Q8_GROUP) * NR * Q8_GROUP + c * Q8_GROUP + k % Q8_GROUP,
        _ => (k * NR + c) * dtype.size(),
    }
}

/// A parsed and validated header. Obtained from [`Header::parse`]; describes, it does not own.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Header {
    /// Weight storage dtype.
    pub dtype: WeightDtype,
    /// Input dimension.
    pub d_in: u32,
    /// Output dimension.
    pub d_out: u32,
    /// Flags ([`FLAG_HAS_BIAS`], [`FLAG_NORM_FOLDED`]).
    pub flags: u16,
    /// The transform's original mean (already folded into the weights; informational).
    pub mean: f64,
    /// The transform's original std (already folded into the weights; informational).
    pub std: f64,
    /// Section layout.
    pub layout: Layout,
    /// Model name bytes, NUL padded.
    pub model: [u8; NAME_LEN],
    /// Module name bytes, NUL padded.
    pub module: [u8; NAME_LEN],
    /// The measured error, when the packer recorded one (flag [`FLAG_ERROR_RECORDED`]).
    pub error_record: Option<ErrorRecord>,
    /// Stored checksum.
    pub crc: u32,
}

fn read<const N: usize>(bytes: &[u8], at: usize) -> [u8; N] {
    let mut out = [0u8; N];
    if let Some(src) = bytes.get(at..at + N) {
        out.copy_from_slice(src);
    }
    out
}
fn read_u16(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes(read(b, at))
}
fn read_u32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(read(b, at))
}
fn read_u64(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(read(b, at))
}
fn read_f64(b: &[u8], at: usize) -> f64 {
    f64::from_le_bytes(read(b, at))
}

/// The error record at 0xF0 (flag set) or the check that those bytes are zero (flag clear),
/// then the three reserved bytes every blob has.
fn parse_error_record(blob: &[u8], flags: u16) -> Result<Option<ErrorRecord>, Error> {
    let record = if flags & FLAG_ERROR_RECORDED != 0 {
        let error = f32::from_le_bytes(read(blob, offsets::MEASURED_ERROR));
        // Finite and >= 0, decided on the bits (sign clear, below the infinity pattern): no
        // float comparison, so bare-metal builds need nothing for it. -0.0 is refused too.
        if error.to_bits() >= f32::INFINITY.to_bits() {
            return Err(Error::BadErrorRecord { field: "measured_error", value: error as f64 });
        }
        let probe_rows = read_u32(blob, offsets::PROBE_ROWS);
        if probe_rows == 0 {
            return Err(Error::BadErrorRecord { field: "probe_rows", value: 0.0 });
        }
        let [code] = read::<1>(blob, offsets::PROBE_KIND);
        let probe_kind = ProbeKind::from_code(code)
            .ok_or(Error::BadErrorRecord { field: "probe_kind", value: code as f64 })?;
        Some(ErrorRecord { error, probe_rows, probe_kind })
    } else {
        let unused: [u8; 9] = read(blob, offsets::RESERVED);
        if let Some(i) = unused.iter().position(|&b| b != 0) {
            return Err(Error::ReservedNotZero { offset: offsets::RESERVED + i });
        }
        None
    };
    let tail: [u8; 3] = read(blob, offsets::RESERVED_TAIL);
    if let Some(i) = tail.iter().position(|&b| b != 0) {
        return Err(Error::ReservedNotZero { offset: offsets::RESERVED_TAIL + i });
    }
    Ok(record)
}

/// The text of a NUL-padded name field, if it is valid.
pub fn name_str(field: &[u8; NAME_LEN]) -> Option<&str> {
    let end = field.iter().position(|&b| b == 0).unwrap_or(NAME_LEN);
    let (text, pad) = field.split_at(end);
    if pad.iter().any(|&b| b != 0) {
        return None;
    }
    core::str::from_utf8(text).ok()
}

/// Where the parts of an `i8d` or `q8` aux section lie in the blob (byte ranges): the row
/// scales (`d_in` rounded up to `NR` f32), the diagonal (`NR` f32 per panel) and, for `q8`, the
/// int32 column sums (`NR` per panel; empty for `i8d`). The one place that knows this layout:
/// the packer writes, validation checks and `Transform` borrows these ranges.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct AuxParts {
    pub(crate) scales: core::ops::Range<usize>,
    pub(crate) diag: core::ops::Range<usize>,
    pub(crate) sums: core::ops::Range<usize>,
}

impl Header {
    /// The parts of this blob's aux section ([`AuxParts`]); meaningful for `i8d` and `q8`.
    pub(crate) fn aux_parts(&self) -> AuxParts {
        let l = &self.layout;
        let scales_end = l.aux_offset as usize + (self.d_in as usize).div_ceil(NR) * NR * 4;
        let cols = l.panels as usize * NR * 4;
        let sums_len = if self.dtype == WeightDtype::Q8 { cols } else { 0 };
        AuxParts {
            scales: l.aux_offset as usize..scales_end,
            diag: scales_end..scales_end + cols,
            sums: scales_end + cols..scales_end + cols + sums_len,
        }
    }

    /// Parses and validates the header fields of `blob` (not the checksum, not the length:
    /// [`Header::validate_blob`] does both). Checks run in byte order, so the first bad field is reported.
    pub fn parse(blob: &[u8]) -> Result<Header, Error> {
        if blob.len() < HEADER_LEN {
            return Err(Error::TruncatedHeader { found: blob.len() });
        }
        let magic: [u8; 8] = read(blob, offsets::MAGIC);
        if magic != MAGIC {
            return Err(Error::BadMagic { found: magic });
        }
        let version = read_u16(blob, offsets::VERSION);
        if version != VERSION {
            return Err(Error::UnsupportedVersion { found: version, supported: VERSION });
        }
        let header_len = read_u16(blob, offsets::HEADER_LEN);
        if header_len as usize != HEADER_LEN {
            return Err(Error::BadHeaderLength { found: header_len });
        }
        let endian = u32::from_ne_bytes(read(blob, offsets::ENDIAN));
        if endian != ENDIAN_MARKER {
            return Err(Error::WrongEndianness { found: endian });
        }
        let [code] = read::<1>(blob, offsets::DTYPE);
        let dtype = WeightDtype::from_code(code).ok_or(Error::UnknownDtype { found: code })?;
        // A build without the feature `q8` has no q8 kernel: refused here, before its layout
        // and aux checks, which such firmware then need not carry.
        #[cfg(not(feature = "q8"))]
        if dtype == WeightDtype::Q8 {
            return Err(Error::KernelUnavailable { isa: "q8" });
        }
        let [nr] = read::<1>(blob, offsets::NR);
        if nr as usize != NR {
            return Err(Error::UnsupportedPanelWidth { found: nr, expected: NR as u8 });
        }
        let flags = read_u16(blob, offsets::FLAGS);
        if flags & !KNOWN_FLAGS != 0 || flags & FLAG_NORM_FOLDED == 0 {
            return Err(Error::BadFlags { found: flags });
        }
        let d_in = read_u32(blob, offsets::D_IN);
        let d_out = read_u32(blob, offsets::D_OUT);
        if d_in == 0 || d_out == 0 || d_in > MAX_DIM || d_out > MAX_DIM {
            return Err(Error::BadDims { d_in, d_out });
        }
        #[cfg(feature = "q8")]
        if dtype == WeightDtype::Q8 && d_in > Q8_MAX_D_IN {
            return Err(Error::BadDims { d_in, d_out });
        }
        let layout = Layout::new(dtype, d_in, d_out);
        let checks: [(&'static str, u64, u64); 8] = [
            ("panels", read_u32(blob, offsets::PANELS) as u64, layout.panels),
            ("total_len", read_u64(blob, offsets::TOTAL_LEN), layout.total_len),
            ("bias_offset", read_u64(blob, offsets::BIAS_OFFSET), layout.bias_offset),
            ("bias_len", read_u64(blob, offsets::BIAS_LEN), layout.bias_len),
            ("weights_offset", read_u64(blob, offsets::WEIGHTS_OFFSET), layout.weights_offset),
            ("weights_len", read_u64(blob, offsets::WEIGHTS_LEN), layout.weights_len),
            ("panel_stride", read_u64(blob, offsets::PANEL_STRIDE), layout.panel_stride),
            ("aux_offset", read_u64(blob, offsets::AUX_OFFSET), layout.aux_offset),
        ];
        for (field, found, expected) in checks {
            if found != expected {
                return Err(Error::BadLayout { field, found, expected });
            }
        }
        let aux_len = read_u64(blob, offsets::AUX_LEN);
        if aux_len != layout.aux_len {
            return Err(Error::BadLayout { field: "aux_len", found: aux_len, expected: layout.aux_len });
        }
        let mean = read_f64(blob, offsets::MEAN);
        if !mean.is_finite() {
            return Err(Error::BadNormalisation { field: "mean", value: mean });
        }
        let std = read_f64(blob, offsets::STD);
        // `std` finite and > 0, decided on the bits (sign clear, not +0, below the infinity
        // pattern) so that bare-metal builds need no soft-float f64 comparison for it.
        if !(std.to_bits() != 0 && std.to_bits() < f64::INFINITY.to_bits()) {
            return Err(Error::BadNormalisation { field: "std", value: std });
        }
        let model: [u8; NAME_LEN] = read(blob, offsets::MODEL);
        if name_str(&model).is_none() {
            return Err(Error::BadName { field: "model" });
        }
        let module: [u8; NAME_LEN] = read(blob, offsets::MODULE);
        if name_str(&module).is_none() {
            return Err(Error::BadName { field: "module" });
        }
        let error_record = parse_error_record(blob, flags)?;
        Ok(Header {
            dtype,
            d_in,
            d_out,
            flags,
            mean,
            std,
            layout,
            model,
            module,
            error_record,
            crc: read_u32(blob, offsets::CRC),
        })
    }

    /// Parses the header, then checks the blob length against `total_len` and the checksum, then
    /// the values of an `i8d` or `q8` aux section (`q8`'s only with the feature `q8`).
    pub fn validate_blob(blob: &[u8]) -> Result<Header, Error> {
        let header = Header::parse(blob)?;
        if blob.len() as u64 != header.layout.total_len {
            return Err(Error::LengthMismatch { declared: header.layout.total_len, found: blob.len() });
        }
        let computed = checksum(blob);
        if computed != header.crc {
            return Err(Error::ChecksumMismatch { stored: header.crc, computed });
        }
        match header.dtype {
            WeightDtype::I8d => check_aux(blob, &header, I8D_MAX_SCALE)?,
            // (Without the feature `parse` refused q8 blobs.)
            #[cfg(feature = "q8")]
            WeightDtype::Q8 => {
                check_aux(blob, &header, Q8_MAX_SCALE)?;
                check_q8_column_sums(blob, &header)?;
            }
            _ => {}
        }
        Ok(header)
    }

    /// Model name (empty when unknown).
    pub fn model(&self) -> &str {
        name_str(&self.model).unwrap_or("")
    }

    /// Module name (empty when unknown).
    pub fn module(&self) -> &str {
        name_str(&self.module).unwrap_or("")
    }

    /// Whether the source transform had a bias vector.
    pub fn has_bias(&self) -> bool {
        self.flags & FLAG_HAS_BIAS != 0
    }

    /// The error the packer measured for this blob, if it recorded one: `max |y - y_ref| /
    /// max |y_ref|` over its probe rows (`y` from this blob, `y_ref` the f64 formula on the
    /// source transform). `None` for blobs packed without a measurement.
    pub fn measured_error(&self) -> Option<f32> {
        self.error_record.map(|r| r.error)
    }

    /// Serialises a header for a blob with this layout. The checksum field is left zero:
    /// the packer fills it with [`checksum`] once the payload is written.
    pub fn to_bytes(&self) -> [u8; HEADER_LEN] {
        let mut h = [0u8; HEADER_LEN];
        let mut put = |at: usize, bytes: &[u8]| {
            if let Some(dst) = h.get_mut(at..at + bytes.len()) {
                dst.copy_from_slice(bytes);
            }
        };
        let l = &self.layout;
        put(offsets::MAGIC, &MAGIC);
        put(offsets::VERSION, &VERSION.to_le_bytes());
        put(offsets::HEADER_LEN, &(HEADER_LEN as u16).to_le_bytes());
        put(offsets::ENDIAN, &ENDIAN_MARKER.to_le_bytes());
        put(offsets::DTYPE, &[self.dtype.code()]);
        put(offsets::NR, &[NR as u8]);
        // The flag says whether the record is there: derived from it, never contradicting it.
        let flags = (self.flags & !FLAG_ERROR_RECORDED)
            | if self.error_record.is_some() { FLAG_ERROR_RECORDED } else { 0 };
        put(offsets::FLAGS, &flags.to_le_bytes());
        put(offsets::D_IN, &self.d_in.to_le_bytes());
        put(offsets::D_OUT, &self.d_out.to_le_bytes());
        put(offsets::PANELS, &(l.panels as u32).to_le_bytes());
        put(offsets::MEAN, &self.mean.to_le_bytes());
        put(offsets::STD, &self.std.to_le_bytes());
        put(offsets::TOTAL_LEN, &l.total_len.to_le_bytes());
        put(offsets::BIAS_OFFSET, &l.bias_offset.to_le_bytes());
        put(offsets::BIAS_LEN, &l.bias_len.to_le_bytes());
        put(offsets::WEIGHTS_OFFSET, &l.weights_offset.to_le_bytes());
        put(offsets::WEIGHTS_LEN, &l.weights_len.to_le_bytes());
        put(offsets::PANEL_STRIDE, &l.panel_stride.to_le_bytes());
        put(offsets::AUX_OFFSET, &l.aux_offset.to_le_bytes());
        put(offsets::AUX_LEN, &l.aux_len.to_le_bytes());
        put(offsets::MODEL, &self.model);
        put(offsets::MODULE, &self.module);
        if let Some(r) = self.error_record {
            put(offsets::MEASURED_ERROR, &r.error.to_le_bytes());
            put(offsets::PROBE_ROWS, &r.probe_rows.to_le_bytes());
            put(offsets::PROBE_KIND, &[r.probe_kind.code()]);
        }
        h
    }
}

/// The scales and diagonal of an `i8d` or `q8` aux section (after the checksum, so corruption
/// is reported as such): row scales `k < d_in` in `0..=max_scale`, diagonal entries
/// `j < min(d_in, d_out)` finite, every padding value (scales `d_in..`, diagonal
/// `min(d_in, d_out)..`) zero. Each value is read once, so this is linear in `d_in + d_out`,
/// far below the checksum's cost.
fn check_aux(blob: &[u8], h: &Header, max_scale: f32) -> Result<(), Error> {
    let (d_in, d_out) = (h.d_in as usize, h.d_out as usize);
    let parts = h.aux_parts();
    let value = |at: usize, i: usize| f32::from_le_bytes(read(blob, at + 4 * i));
    for k in 0..parts.scales.len() / 4 {
        let s = value(parts.scales.start, k);
        let ok = if k < d_in { (0.0..=max_scale).contains(&s) } else { s == 0.0 };
        if !ok {
            let field = if k < d_in { "scale" } else { "scale padding" };
            return Err(Error::BadAux { field, index: k, value: s });
        }
    }
    let n = d_in.min(d_out);
    for j in 0..parts.diag.len() / 4 {
        let d = value(parts.diag.start, j);
        let ok = if j < n { d.is_finite() } else { d == 0.0 };
        if !ok {
            let field = if j < n { "diag" } else { "diag padding" };
            return Err(Error::BadAux { field, index: j, value: d });
        }
    }
    Ok(())
}

/// The column sums of a `q8` aux section (after the scales and diagonal): each must be the sum
/// of its column's stored int8 weights, padding rows included, because the kernels that add an
/// offset to the activations (`VPDPBUSD` takes unsigned ones) subtract `offset * sum` again.
/// One pass over the weights, like the checksum's.
#[cfg(feature = "q8")]
fn check_q8_column_sums(blob: &[u8], h: &Header) -> Result<(), Error> {
    let sums_at = h.aux_parts().sums.start;
    for p in 0..h.layout.panels as usize {
        for (c, &sum) in q8_column_sums(blob, h, p).iter().enumerate() {
            let stored = i32::from_le_bytes(read(blob, sums_at + 4 * (p * NR + c)));
            if stored != sum {
                return Err(Error::BadAux { field: "column sum", index: p * NR + c, value: stored as f32 });
            }
        }
    }
    Ok(())
}

/// The sums of the stored int8 weights of panel `p`'s 16 columns in a `q8` blob, padding rows
/// included: what the aux section must hold (the packer writes them, validation compares).
#[cfg(any(feature = "q8", feature = "alloc"))]
pub(crate) fn q8_column_sums(blob: &[u8], h: &Header, p: usize) -> [i32; NR] {
    let l = &h.layout;
    let groups = (h.d_in as usize).div_ceil(Q8_GROUP);
    let mut sums = [0i32; NR];
    let panel = blob.get(l.weights_offset as usize + p * l.panel_stride as usize..).unwrap_or(&[]);
    for group in panel.chunks_exact(NR * Q8_GROUP).take(groups) {
        for (sum, col) in sums.iter_mut().zip(group.chunks_exact(Q8_GROUP)) {
            *sum += col.iter().map(|&b| b as i8 as i32).sum::<i32>();
        }
    }
    sums
}

/// Copies `name` into a NUL-padded field, or `None` if it does not fit (or contains NUL).
pub fn name_field(name: &str) -> Option<[u8; NAME_LEN]> {
    let bytes = name.as_bytes();
    if bytes.len() > NAME_LEN || bytes.contains(&0) {
        return None;
    }
    let mut field = [0u8; NAME_LEN];
    for (dst, &src) in field.iter_mut().zip(bytes) {
        *dst = src;
    }
    Some(field)
}

#[cfg(test)]
mod tests {
    /// The bare-metal nibble CRC agrees with the `crc` crate's CRC-32C (the check value of the
    /// catalogue, and split inputs as `checksum` feeds them).
    #[test]
    fn nibble_crc_matches_the_crc_crate() {
        assert_eq!(!super::crc32c_nibbles(!0, b"123456789"), 0xE306_9283);
        let data: [u8; 1000] = core::array::from_fn(|i| (i * 7 + i / 13) as u8);
        let (a, b) = data.split_at(333);
        assert_eq!(!super::crc32c_nibbles(super::crc32c_nibbles(!0, a), b), super::CRC32C.checksum(&data));
    }
}
