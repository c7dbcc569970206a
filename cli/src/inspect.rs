//! `glocal inspect`: every header field, checksum status, sizes and the kernel, even for a bad blob.

use std::fmt::Write as _;
use std::path::Path;

use glocal::format::{self, offsets, Layout, HEADER_LEN, NAME_LEN};
use glocal::kernel::Isa;
use glocal::{Transform, WeightDtype};

use crate::error::{CliError, Result};
use crate::load::{kind, map_blob, Kind};
use crate::ui;

fn get<const N: usize>(b: &[u8], at: usize) -> Option<[u8; N]> {
    b.get(at..at + N)?.try_into().ok()
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    get(b, at).map(u16::from_le_bytes)
}
fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    get(b, at).map(u32::from_le_bytes)
}
fn u64_at(b: &[u8], at: usize) -> Option<u64> {
    get(b, at).map(u64::from_le_bytes)
}
fn f64_at(b: &[u8], at: usize) -> Option<f64> {
    get(b, at).map(f64::from_le_bytes)
}

fn name_text(field: &[u8; NAME_LEN]) -> String {
    match format::name_str(field) {
        Some(s) => format!("{s:?}"),
        None => {
            format!("<invalid: {}>", String::from_utf8_lossy(field).trim_end_matches('\0').escape_debug())
        }
    }
}

/// The report, one field per line; fields past the end of a short file are omitted.
fn report(path: &Path, b: &[u8]) -> String {
    let mut r = String::new();
    let mut line = |name: &str, value: String| {
        let _ = writeln!(r, "{name:<15} {value}");
    };
    line("file", path.display().to_string());
    line("file_size", format!("{} bytes", b.len()));
    if let Some(m) = get::<8>(b, offsets::MAGIC) {
        let ok = if m == format::MAGIC { "ok" } else { "NOT a glocal blob" };
        line("magic", format!("{} ({ok})", m.escape_ascii()));
    }
    if let Some(v) = u16_at(b, offsets::VERSION) {
        line("version", format!("{v} (this build reads {})", format::VERSION));
    }
    if let Some(v) = u16_at(b, offsets::HEADER_LEN) {
        line("header_len", v.to_string());
    }
    if let Some(raw) = get::<4>(b, offsets::ENDIAN) {
        let v = u32::from_le_bytes(raw);
        let what = if v == format::ENDIAN_MARKER { "little-endian, ok" } else { "WRONG (byte-swapped?)" };
        line("endian", format!("{v:#010x} ({what})"));
    }
    let dtype = b.get(offsets::DTYPE).and_then(|&c| WeightDtype::from_code(c));
    if let Some(&c) = b.get(offsets::DTYPE) {
        line("dtype", format!("{c} ({})", dtype.map_or("unknown", |d| d.name())));
    }
    if let Some(&nr) = b.get(offsets::NR) {
        line("nr", format!("{nr} (kernels use {})", format::NR));
    }
    if let Some(f) = u16_at(b, offsets::FLAGS) {
        let mut names = Vec::new();
        if f & format::FLAG_HAS_BIAS != 0 {
            names.push("has_bias");
        }
        if f & format::FLAG_NORM_FOLDED != 0 {
            names.push("norm_folded");
        }
        if f & format::FLAG_ERROR_RECORDED != 0 {
            names.push("error_recorded");
        }
        if f & !(format::FLAG_HAS_BIAS | format::FLAG_NORM_FOLDED | format::FLAG_ERROR_RECORDED) != 0 {
            names.push("UNKNOWN BITS");
        }
        line("flags", format!("{f:#06x} ({})", names.join(", ")));
    }
    let d_in = u32_at(b, offsets::D_IN);
    let d_out = u32_at(b, offsets::D_OUT);
    if let Some(v) = d_in {
        line("d_in", v.to_string());
    }
    if let Some(v) = d_out {
        line("d_out", v.to_string());
    }
    if let Some(v) = u32_at(b, offsets::PANELS) {
        line("panels", v.to_string());
    }
    if let Some(v) = f64_at(b, offsets::MEAN) {
        line("mean", format!("{v:e} (folded into the weights)"));
    }
    if let Some(v) = f64_at(b, offsets::STD) {
        line("std", format!("{v:e} (folded into the weights)"));
    }
    // Layout fields, with what dtype and dims imply.
    let expected = match (dtype, d_in, d_out) {
        (Some(dt), Some(i), Some(o))
            if (1..=format::MAX_DIM).contains(&i) && (1..=format::MAX_DIM).contains(&o) =>
        {
            Some(Layout::new(dt, i, o))
        }
        _ => None,
    };
    let fields: [(&str, usize, Option<u64>); 8] = [
        ("total_len", offsets::TOTAL_LEN, expected.map(|l| l.total_len)),
        ("bias_offset", offsets::BIAS_OFFSET, expected.map(|l| l.bias_offset)),
        ("bias_len", offsets::BIAS_LEN, expected.map(|l| l.bias_len)),
        ("weights_offset", offsets::WEIGHTS_OFFSET, expected.map(|l| l.weights_offset)),
        ("weights_len", offsets::WEIGHTS_LEN, expected.map(|l| l.weights_len)),
        ("panel_stride", offsets::PANEL_STRIDE, expected.map(|l| l.panel_stride)),
        ("aux_offset", offsets::AUX_OFFSET, expected.map(|l| l.aux_offset)),
        ("aux_len", offsets::AUX_LEN, expected.map(|l| l.aux_len)),
    ];
    for (name, at, want) in fields {
        if let Some(v) = u64_at(b, at) {
            let check = match want {
                Some(w) if w == v => String::new(),
                Some(w) => format!(" (MISMATCH: dims and dtype imply {w})"),
                None => String::new(),
            };
            line(name, format!("{v}{check}"));
        }
    }
    if let Some(m) = get::<NAME_LEN>(b, offsets::MODEL) {
        line("model", name_text(&m));
    }
    if let Some(m) = get::<NAME_LEN>(b, offsets::MODULE) {
        line("module", name_text(&m));
    }
    let recorded = u16_at(b, offsets::FLAGS).is_some_and(|f| f & format::FLAG_ERROR_RECORDED != 0);
    if recorded {
        let error = get::<4>(b, offsets::MEASURED_ERROR).map(f32::from_le_bytes);
        let rows = u32_at(b, offsets::PROBE_ROWS);
        let probe = b.get(offsets::PROBE_KIND).copied();
        if let (Some(e), Some(rows), Some(code)) = (error, rows, probe) {
            let kind = match format::ProbeKind::from_code(code) {
                Some(k) => k.name().to_string(),
                None => format!("UNKNOWN probe kind {code}"),
            };
            let bad = if e.is_finite() && e.is_sign_positive() && rows > 0 { "" } else { " (INVALID)" };
            let dt = dtype.map_or("?", |d| d.name());
            line(
                "measured_error",
                format!("{e:.3e} of max |y_ref| on {rows} {kind} probe rows ({dt} weights){bad}"),
            );
        }
    } else if u16_at(b, offsets::FLAGS).is_some() && b.len() >= offsets::CRC {
        line("measured_error", "not recorded (packed without a measurement)".into());
    }
    let unused = if recorded { offsets::RESERVED_TAIL } else { offsets::RESERVED };
    if let Some(res) = b.get(unused..offsets::CRC) {
        line("reserved", if res.iter().all(|&x| x == 0) { "zero".into() } else { "NOT ZERO".into() });
    }
    if let Some(stored) = u32_at(b, offsets::CRC) {
        let computed = format::checksum(b);
        let status = if stored == computed { "ok" } else { "MISMATCH (corrupt blob)" };
        line("crc32c", format!("stored {stored:#010x}, computed {computed:#010x} ({status})"));
    }
    if let (Some(l), Some(dt), Some(i), Some(o)) = (expected, dtype, d_in, d_out) {
        let payload = i as u64 * o as u64 * dt.size() as u64;
        let aux = match dt {
            WeightDtype::I8d => format!(" + scales and diagonal {}", l.aux_len),
            WeightDtype::Q8 => format!(" + scales, diagonal and column sums {}", l.aux_len),
            _ => String::new(),
        };
        line(
            "sizes",
            format!(
                "header {HEADER_LEN} + bias {} + weights {}{aux} = {} bytes ({payload} bytes of {i}x{o} {dt} weights, {} padding)",
                l.bias_len,
                l.weights_len,
                l.total_len,
                l.total_len - HEADER_LEN as u64 - l.bias_len - payload - l.aux_len
            ),
        );
    }
    r
}

/// Runs `inspect`: prints the report on stdout; exits 1 (with the reason on stderr) if invalid.
pub fn run(path: &Path) -> Result<()> {
    let map = map_blob(path)?;
    let mut text = report(path, &map);
    // Validity does not depend on the CPU: check with the scalar kernel, which always exists;
    // then the kernel `align` would choose here (GLOCAL_FORCE_ISA honoured).
    let verdict = Transform::with_isa(&map, Isa::Scalar).map(|_| Transform::new(&map));
    match &verdict {
        Ok(Ok(t)) => {
            let _ = writeln!(text, "{:<15} {}", "kernel", t.kernel().name);
            let _ = writeln!(text, "{:<15} valid", "status");
        }
        Ok(Err(e)) => {
            let _ = writeln!(text, "{:<15} unavailable: {e}", "kernel");
            let _ = writeln!(text, "{:<15} valid", "status");
        }
        Err(e) => {
            let _ = writeln!(text, "{:<15} INVALID: {e}", "status");
        }
    }
    ui::print_stdout(&text)?;
    match verdict {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(CliError::file(path, format!("valid blob, but no kernel can run it here: {e}"))),
        Err(e) => {
            let hint =
                if kind(&map) == Kind::Npz { " (this is an .npz: pack it with `glocal pack`)" } else { "" };
            Err(CliError::file(path, format!("invalid blob: {e}{hint}")))
        }
    }
}
