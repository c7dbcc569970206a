//! `glocal emit-c` / `emit-rs`: a blob as source code, 64-byte aligned, ready to link into firmware.

use std::path::{Path, PathBuf};

use glocal::Transform;

use crate::error::{CliError, Result};
use crate::fileio::AtomicOutput;
use crate::load::map_blob;

/// Target language.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lang {
    /// C source + header.
    C,
    /// Rust source.
    Rust,
}

const C_KEYWORDS: &[&str] = &[
    "auto",
    "break",
    "case",
    "char",
    "const",
    "continue",
    "default",
    "do",
    "double",
    "else",
    "enum",
    "extern",
    "float",
    "for",
    "goto",
    "if",
    "inline",
    "int",
    "long",
    "register",
    "restrict",
    "return",
    "short",
    "signed",
    "sizeof",
    "static",
    "struct",
    "switch",
    "typedef",
    "union",
    "unsigned",
    "void",
    "volatile",
    "while",
    "bool",
    "true",
    "false",
    "alignas",
    "alignof",
    "nullptr",
    "static_assert",
    "thread_local",
    "typeof",
    "asm",
    // C++ keywords matter too: the header is included from C++.
    "class",
    "namespace",
    "new",
    "delete",
    "template",
    "this",
    "operator",
    "private",
    "protected",
    "public",
    "virtual",
    "friend",
    "using",
    "try",
    "catch",
    "throw",
    "explicit",
    "mutable",
    "typename",
];

const RUST_KEYWORDS: &[&str] = &[
    "as", "async", "await", "break", "const", "continue", "crate", "dyn", "else", "enum", "extern", "false",
    "fn", "for", "gen", "if", "impl", "in", "let", "loop", "match", "mod", "move", "mut", "pub", "ref",
    "return", "self", "Self", "static", "struct", "super", "trait", "true", "try", "type", "unsafe", "use",
    "where", "while", "abstract", "become", "box", "do", "final", "macro", "override", "priv", "typeof",
    "unsized", "virtual", "yield",
];

fn check_symbol(lang: Lang, symbol: &str) -> Result<()> {
    let mut chars = symbol.chars();
    let ident = matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    let keywords = if lang == Lang::C { C_KEYWORDS } else { RUST_KEYWORDS };
    let reserved = symbol.starts_with("__")
        || (symbol.starts_with('_') && symbol[1..].starts_with(|c: char| c.is_ascii_uppercase()))
        || symbol == "_";
    if !ident || keywords.contains(&symbol) || reserved || symbol.len() > 63 {
        return Err(CliError::at(
            symbol,
            "--symbol must be an identifier ([A-Za-z_][A-Za-z0-9_]*, at most 63 characters), not a keyword, \
             not '_' and not reserved (starting with '__' or '_' and a capital)",
        ));
    }
    Ok(())
}

fn check_section(section: &str) -> Result<()> {
    if section.is_empty()
        || section.len() > 255
        || !section.bytes().all(|b| b.is_ascii_graphic() && b != b'"' && b != b'\\')
    {
        return Err(CliError::at(
            section,
            "--section must be printable ASCII without spaces, quotes or backslashes",
        ));
    }
    Ok(())
}

/// The one-line description of a blob for the generated comment.
fn describe(path: &Path, t: &Transform<'_>, len: usize) -> String {
    let h = t.header();
    let text = format!(
        "glocal blob v{}: model {:?}, module {:?}, {} weights, {} -> {}, {len} bytes, crc32c {:#010x}, from {}",
        glocal::format::VERSION,
        h.model(),
        h.module(),
        h.dtype,
        h.d_in,
        h.d_out,
        h.crc,
        path.file_name().map_or_else(|| path.display().to_string(), |n| n.to_string_lossy().into_owned()),
    );
    comment_safe(&text)
}

/// Text that cannot end or escape a C block comment or a Rust line comment: everything but
/// printable ASCII escaped (no newline, no bidirectional overrides), and `*/` and `/*` broken up.
/// Names in a blob header are untrusted.
fn comment_safe(text: &str) -> String {
    let escaped: String = text
        .chars()
        .flat_map(|c| {
            if c.is_ascii_graphic() || c == ' ' {
                vec![c]
            } else {
                c.escape_default().collect::<Vec<_>>()
            }
        })
        .collect();
    escaped.replace("*/", "*\\/").replace("/*", "/\\*")
}

/// Runs `emit-c` or `emit-rs`.
pub fn run(lang: Lang, blob: &Path, output: &Path, symbol: &str, section: Option<&str>) -> Result<()> {
    check_symbol(lang, symbol)?;
    if let Some(s) = section {
        check_section(s)?;
    }
    let map = map_blob(blob)?;
    // Only a valid blob goes into firmware.
    let t = Transform::new(&map).map_err(|e| CliError::file(blob, format!("invalid blob: {e}")))?;
    let about = describe(blob, &t, map.len());
    match lang {
        Lang::C => emit_c(&map, output, symbol, section, &about),
        Lang::Rust => emit_rs(&map, output, symbol, section, &about),
    }
}

fn header_path(output: &Path) -> Result<PathBuf> {
    match output.extension() {
        Some(e) if e == "h" => {
            Err(CliError::file(output, "the C output must not end in .h (the header is written beside it)"))
        }
        Some(_) => Ok(output.with_extension("h")),
        None => {
            let mut name = output.as_os_str().to_os_string();
            name.push(".h");
            Ok(PathBuf::from(name))
        }
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

fn emit_c(bytes: &[u8], output: &Path, symbol: &str, section: Option<&str>, about: &str) -> Result<()> {
    let header = header_path(output)?;
    let header_name = header.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let n = bytes.len();
    let guard: String = format!("GLOCAL_EMBED_{}_H", symbol.to_ascii_uppercase());
    let version = env!("CARGO_PKG_VERSION");

    let h = format!(
        "/* Generated by glocal emit-c {version}. Do not edit.\n * {about}\n */\n\
         #ifndef {guard}\n#define {guard}\n\n#include <stddef.h>\n#include <stdint.h>\n\n\
         #ifdef __cplusplus\nextern \"C\" {{\n#endif\n\n\
         /* The packed blob, 64-byte aligned in its definition: use it in place (no copy). */\n\
         extern const uint8_t {symbol}[{n}];\n\
         /* Its length in bytes ({n}). */\nextern const size_t {symbol}_len;\n\n\
         #ifdef __cplusplus\n}}\n#endif\n\n#endif /* {guard} */\n"
    );

    let section_attr = match section {
        Some(s) => format!(
            "#if defined(__GNUC__) || defined(__clang__)\n\
             #  define GLOCAL_EMBED_SECTION __attribute__((section(\"{s}\"), used))\n\
             #elif defined(_MSC_VER)\n\
             #  pragma section(\"{s}\", read)\n\
             #  define GLOCAL_EMBED_SECTION __declspec(allocate(\"{s}\"))\n\
             #else\n\
             #  error \"glocal emit-c: no known way to place {symbol} in section {s} with this compiler\"\n\
             #endif\n"
        ),
        None => "#define GLOCAL_EMBED_SECTION\n".to_string(),
    };
    let mut src = format!(
        "/* Generated by glocal emit-c {version}. Do not edit.\n * {about}\n */\n\
         #include \"{header_name}\"\n\n\
         #if defined(__STDC_VERSION__) && __STDC_VERSION__ >= 201112L\n\
         #  define GLOCAL_EMBED_ALIGN64 _Alignas(64)\n\
         #elif defined(__GNUC__) || defined(__clang__)\n\
         #  define GLOCAL_EMBED_ALIGN64 __attribute__((aligned(64)))\n\
         #elif defined(_MSC_VER)\n\
         #  define GLOCAL_EMBED_ALIGN64 __declspec(align(64))\n\
         #else\n\
         #  error \"glocal emit-c: no known way to align {symbol} to 64 bytes with this compiler\"\n\
         #endif\n\
         {section_attr}\n\
         GLOCAL_EMBED_SECTION GLOCAL_EMBED_ALIGN64 const uint8_t {symbol}[{n}] = {{\n"
    );
    let mut out = AtomicOutput::create(output)?;
    let mut hout = AtomicOutput::create(&header)?;
    hout.write_all(h.as_bytes())?;
    out.write_all(src.as_bytes())?;
    src.clear();
    let mut line = Vec::with_capacity(16 * 5 + 4);
    for chunk in bytes.chunks(16) {
        line.clear();
        line.push(b' ');
        for &b in chunk {
            line.extend_from_slice(&[b'0', b'x', HEX[(b >> 4) as usize], HEX[(b & 15) as usize], b',']);
        }
        line.push(b'\n');
        out.write_all(&line)?;
    }
    let tail = format!(
        "}};\nconst size_t {symbol}_len = {n};\n\n#undef GLOCAL_EMBED_ALIGN64\n#undef GLOCAL_EMBED_SECTION\n"
    );
    out.write_all(tail.as_bytes())?;
    hout.commit()?;
    out.commit()
}

fn emit_rs(bytes: &[u8], output: &Path, symbol: &str, section: Option<&str>, about: &str) -> Result<()> {
    let version = env!("CARGO_PKG_VERSION");
    let n = bytes.len();
    let link = match section {
        Some(s) => format!("    #[unsafe(link_section = \"{s}\")]\n    #[used]\n"),
        None => String::new(),
    };
    let head = format!(
        "// Generated by glocal emit-rs {version}. Do not edit.\n// {about}\n\n\
         /// The packed glocal blob, 64-byte aligned: `glocal::Transform::new({symbol})` uses it in place.\n\
         #[allow(non_upper_case_globals)]\n\
         pub static {symbol}: &[u8] = {{\n\
         \x20   #[repr(C, align(64))]\n\
         \x20   struct Aligned64<const N: usize>([u8; N]);\n\
         {link}\
         \x20   static STORAGE: Aligned64<{n}> = Aligned64(*b\"\\\n"
    );
    let mut out = AtomicOutput::create(output)?;
    out.write_all(head.as_bytes())?;
    let mut line = Vec::with_capacity(32 * 4 + 4);
    for chunk in bytes.chunks(32) {
        line.clear();
        for &b in chunk {
            line.extend_from_slice(&[b'\\', b'x', HEX[(b >> 4) as usize], HEX[(b & 15) as usize]]);
        }
        line.extend_from_slice(b"\\\n");
        out.write_all(&line)?;
    }
    out.write_all(b"\");\n    &STORAGE.0\n};\n")?;
    out.commit()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symbols() {
        for ok in ["blob", "glocal_resnet18_f16", "_x", "B1"] {
            assert!(check_symbol(Lang::C, ok).is_ok(), "{ok}");
            assert!(check_symbol(Lang::Rust, ok).is_ok(), "{ok}");
        }
        for bad in ["", "1x", "a-b", "int", "__x", "_X", "_", "a b", "class"] {
            assert!(check_symbol(Lang::C, bad).is_err(), "{bad}");
        }
        assert!(check_symbol(Lang::Rust, "fn").is_err());
        assert!(check_section(".rodata.glocal").is_ok());
        assert!(check_section("a\"b").is_err());
        assert!(check_section("").is_err());
    }

    #[test]
    fn comments_cannot_be_escaped() {
        let s = comment_safe("a */ int x; /* b\nfn evil() {} \u{202e}");
        assert!(!s.contains("*/") && !s.contains("/*") && !s.contains('\n') && s.is_ascii(), "{s}");
    }
}
