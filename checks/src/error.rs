//! Errors a user can cause, each a clear message. Bad input exits 2; a failure to write
//! standard output (a closed pipe, a full disk) exits 1.

/// What went wrong, said so that the user can fix it.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("unknown protocol `{0}` (valid: {1})")]
    UnknownProtocol(String, String),
    #[error("unknown config `{0}` for protocol {1} (valid: {2}, or a path to a .toml file)")]
    UnknownConfig(String, String, String),
    #[error("unknown variant `{0}` for protocol {1} (valid: {2})")]
    UnknownVariant(String, String, String),
    #[error("unknown fault `{0}` for protocol {1} (valid: {2}, or none)")]
    UnknownFault(String, String, String),
    #[error("unknown mode `{0}` for protocol {1} (valid: {2})")]
    UnknownMode(String, String, String),
    #[error("unknown property `{0}` (valid: {1})")]
    UnknownProperty(String, String),
    /// A config file, a `--set`, or a config that makes no sense.
    #[error("{origin}: {message}")]
    BadConfig { origin: String, message: String },
    #[error("{0}")]
    BadOption(String),
    #[error("cannot read {path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("cannot write {path}: {source}")]
    CannotWrite { path: String, source: std::io::Error },
    #[error("{path} is not a trace file: {reason}")]
    BadTrace { path: String, reason: String },
    #[error("{path} has trace format version {found}; this rcopy-check reads version {expected}")]
    TraceVersion { path: String, found: u32, expected: u32 },
    #[error("{path} was written by an older rcopy (trace format version 1; this rcopy-check reads version {expected}): regenerate it with `{regenerate}`")]
    OldTrace { path: String, expected: u32, regenerate: String },
    #[error("{path} is {size} bytes, more than {what} may be ({limit} bytes)")]
    TooLarge { path: String, size: u64, limit: u64, what: String },
    #[error("{path} is not {what}: it is not UTF-8 text")]
    NotText { path: String, what: String },
    #[error("cannot serve the Explorer on {addr}: {source}")]
    Serve { addr: String, source: std::io::Error },
    /// Writing to standard output failed.
    #[error("cannot write to standard output: {0}")]
    Output(std::io::Error),
}

impl Error {
    /// The process exit code: 2 for bad input (a name, an option, a file, a port), 1 when the
    /// output could not be written.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Output(_) => 1,
            _ => 2,
        }
    }
}
