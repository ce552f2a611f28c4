//! Reading a user's file: refused by its size before it is read, required to be UTF-8 text,
//! every failure a clear [`Error`] naming the file.

use crate::error::Error;

/// The text of the file at `path`, if it is at most `limit` bytes of UTF-8; `what` names the
/// kind of file in the error (e.g. "a trace file").
pub fn read_text(path: &str, limit: u64, what: &str) -> Result<String, Error> {
    let io = |source| Error::Io { path: path.into(), source };
    let size = std::fs::metadata(path).map_err(io)?.len();
    if size > limit {
        return Err(Error::TooLarge { path: path.into(), size, limit, what: what.into() });
    }
    let bytes = std::fs::read(path).map_err(io)?;
    String::from_utf8(bytes).map_err(|_| Error::NotText { path: path.into(), what: what.into() })
}
