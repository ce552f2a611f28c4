//! Errors a user can cause: each becomes a clear message and exit code 2.

/// Bad input: an unknown name, an option that makes no sense, a trace file that is not one.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("unknown protocol `{0}` (valid: {1})")]
    UnknownProtocol(String, String),
    #[error("unknown config `{0}` for protocol {1} (valid: {2})")]
    UnknownConfig(String, String, String),
    #[error("unknown variant `{0}` (valid: {1})")]
    UnknownVariant(String, String),
    #[error("unknown fault `{0}` for protocol {1} (valid: {2})")]
    UnknownFault(String, String, String),
    #[error("unknown mode `{0}` (valid: {1})")]
    UnknownMode(String, String),
    #[error("unknown property `{0}` (valid: {1})")]
    UnknownProperty(String, String),
    #[error("{0}")]
    BadOption(String),
    #[error("cannot read {path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("{path} is not a trace file: {reason}")]
    BadTrace { path: String, reason: String },
    #[error("{path} has trace format version {found}; this rcopy-check reads version {expected}")]
    TraceVersion { path: String, found: u32, expected: u32 },
}
