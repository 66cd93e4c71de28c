//! The CLI's error: a message for a person, printed as one line.

use std::fmt;
use std::path::Path;

/// Why a command failed. Carries only a message: the CLI reports errors, it never matches on them.
#[derive(Debug)]
pub(crate) struct CliError(String);

impl CliError {
    pub(crate) fn new(message: impl Into<String>) -> Self {
        CliError(message.into())
    }

    /// An I/O failure on `path` while doing `what` (e.g. "read", "create").
    pub(crate) fn io(what: &str, path: &Path, err: std::io::Error) -> Self {
        CliError(format!("cannot {what} `{}`: {err}", path.display()))
    }

    /// The message with any line breaks folded, so a driver's multi-line error stays one line.
    pub(crate) fn one_line(&self) -> String {
        self.0.split_whitespace().collect::<Vec<_>>().join(" ")
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

pub(crate) type CliResult<T> = Result<T, CliError>;
