//! The tool's error: one line, naming the file (or URL) and what is wrong with it.

use std::fmt;
use std::path::Path;

/// An error that ends the command with exit code 1 (2 for a usage error), printed as
/// `glocal: <where>: <what>`.
#[derive(Debug)]
pub struct CliError {
    /// The file, URL or model the problem is about, if any.
    pub place: Option<String>,
    /// What is wrong (field, expected vs found), one line.
    pub what: String,
    /// A usage error that only the inputs reveal (exit 2, as clap's own).
    pub usage: bool,
}

impl CliError {
    /// An error about `place`.
    pub fn at(place: impl fmt::Display, what: impl fmt::Display) -> Self {
        CliError { place: Some(place.to_string()), what: one_line(&what.to_string()), usage: false }
    }

    /// An error about `path`.
    pub fn file(path: &Path, what: impl fmt::Display) -> Self {
        Self::at(path.display(), what)
    }

    /// An error not tied to one file.
    pub fn msg(what: impl fmt::Display) -> Self {
        CliError { place: None, what: one_line(&what.to_string()), usage: false }
    }

    /// A usage error about `place`: the options do not fit the input (exit 2).
    pub fn usage(place: impl fmt::Display, what: impl fmt::Display) -> Self {
        CliError { usage: true, ..Self::at(place, what) }
    }
}

/// Keeps a message on one line (library errors sometimes carry newlines).
fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.place {
            Some(p) => write!(f, "{p}: {}", self.what),
            None => f.write_str(&self.what),
        }
    }
}

/// Result of a command.
pub type Result<T, E = CliError> = std::result::Result<T, E>;
