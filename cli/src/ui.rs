//! What the tool tells a person: notes and cautions on stderr, progress bars on a terminal only.

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressStyle};

/// Prints `glocal: note: <msg>` on stderr unless quiet.
pub fn note(quiet: bool, msg: &str) {
    if !quiet {
        eprintln!("glocal: note: {msg}");
    }
}

/// Prints `glocal: <msg>` on stderr unless quiet: a result the user asked for that is not
/// the command's output (`pack`'s measured error).
pub fn info(quiet: bool, msg: &str) {
    if !quiet {
        eprintln!("glocal: {msg}");
    }
}

/// Prints `glocal: caution: <msg>` on stderr unless quiet.
pub fn caution(quiet: bool, msg: &str) {
    if !quiet {
        eprintln!("glocal: caution: {msg}");
    }
}

/// Whether progress may be drawn: not quiet and stderr is a terminal (never when piped or in CI logs).
pub fn interactive(quiet: bool) -> bool {
    !quiet && std::io::stderr().is_terminal()
}

/// A byte-count bar for downloads (hidden unless [`interactive`]).
pub fn byte_progress(quiet: bool, len: Option<u64>) -> ProgressBar {
    if !interactive(quiet) {
        return ProgressBar::hidden();
    }
    match len {
        Some(len) => {
            let bar = ProgressBar::new(len);
            if let Ok(style) =
                ProgressStyle::with_template("glocal: fetch {bar:30} {bytes}/{total_bytes}, eta {eta}")
            {
                bar.set_style(style);
            }
            bar
        }
        None => {
            let bar = ProgressBar::new_spinner();
            if let Ok(style) = ProgressStyle::with_template("glocal: fetch {spinner} {bytes}") {
                bar.set_style(style);
            }
            bar
        }
    }
}

/// A row-count bar for `align` (hidden unless [`interactive`] and the run is long).
pub fn row_progress(quiet: bool, rows: u64, long_run: bool) -> ProgressBar {
    if !long_run || !interactive(quiet) {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(rows);
    if let Ok(style) = ProgressStyle::with_template("glocal: align {bar:30} {pos}/{len} rows, eta {eta}") {
        bar.set_style(style);
    }
    bar
}

/// Writes `text` to stdout. A closed pipe (`glocal models | head -1`) is not an error.
pub fn print_stdout(text: &str) -> crate::error::Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(crate::error::CliError::at("stdout", e)),
    }
}
