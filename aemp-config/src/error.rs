//! What can go wrong with the rc file, a profile, or relaxed JSON.

use std::fmt;
use std::path::PathBuf;

/// What can go wrong with the rc file or a profile.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProfileError {
    /// Neither `AEMP_RC`, `PERL_ANYEVENT_MP_RC`, `HOME` nor `APPDATA` is set.
    #[error("cannot locate the configuration file: set AEMP_RC (or HOME)")]
    NoPath,
    /// The file exists but cannot be read.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// The file is not (relaxed) JSON.
    #[error("{}: line {line}, column {column}: {message}", path.display())]
    Syntax {
        /// The file.
        path: PathBuf,
        /// The line of the problem (from 1).
        line: usize,
        /// The column of the problem (from 1, in characters).
        column: usize,
        /// What is wrong.
        message: String,
    },
    /// The file is JSON but not of the rc file's shape.
    #[error("{}: {message}", path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// Saving failed (the old file is left as it was).
    #[error("cannot write {}: {source}", path.display())]
    Write {
        /// The file being written.
        path: PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// The `parent` keys form a loop.
    #[error("the profile parents form a loop: {}", chain.join(" -> "))]
    ParentLoop {
        /// The profiles of the loop, the first repeated at the end.
        chain: Vec<String>,
    },
    /// A setting has a value of the wrong kind.
    #[error("{key}: {message}")]
    Value {
        /// The key.
        key: String,
        /// What is wrong.
        message: String,
    },
}

/// A JSON syntax error, with its position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonError {
    /// The line (from 1).
    pub line: usize,
    /// The column (from 1, in characters).
    pub column: usize,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for JsonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "line {}, column {}: {}",
            self.line, self.column, self.message
        )
    }
}

impl std::error::Error for JsonError {}
