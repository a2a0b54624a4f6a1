//! Errors: fatal faults ([`Error`]) stop a run; per-invoice problems ([`Violation`]) are data.

use std::path::PathBuf;

/// A fault that stops the run. Every variant names the file or resource involved.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An input, output, key or config file could not be read or written.
    #[error("{path}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The configuration file is not valid.
    #[error("{path}: invalid configuration: {message}")]
    Config { path: PathBuf, message: String },
    /// A master data or taxpayer file is not valid.
    #[error("{path}: invalid master data: {message}")]
    Master { path: PathBuf, message: String },
    /// The registry (RocksDB) failed: locked, corrupt, disk full.
    #[error("registry {path}: {message}")]
    Registry { path: PathBuf, message: String },
    /// Key material could not be loaded or used.
    #[error(transparent)]
    Sign(#[from] crate::sign::SignError),
    /// A pipeline thread panicked; the registry is left at its last commit.
    #[error("pipeline stage {stage} failed: {message}")]
    Stage {
        stage: &'static str,
        message: String,
    },
    /// A command-line value is not valid.
    #[error("{0}")]
    Usage(String),
    /// A fault stopped `register` or `cancel` after its run began. Everything committed stays
    /// committed and the same command resumes the run: the operator's next step, so the
    /// message says it.
    #[error(
        "{command} stopped part-way (what it committed so far is kept; \
         run the same command again to finish the run)"
    )]
    Interrupted {
        command: &'static str,
        #[source]
        source: Box<Error>,
    },
}

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Error {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}

/// `Result` with the library's fatal [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// One rule an invoice breaks: a NIC error code and its message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    /// NIC's error code, e.g. 2150 (rendered as a string in responses, as NIC does).
    pub code: u16,
    /// A message in NIC's wording, with the field or item it concerns.
    pub message: String,
}

impl Violation {
    pub fn new(code: u16, message: impl Into<String>) -> Violation {
        Violation {
            code,
            message: message.into(),
        }
    }
}
