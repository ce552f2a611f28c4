//! Standard output that fails cleanly: a closed pipe (`| head`) or a full disk ends the
//! command with a message and exit 1 instead of a panic, and nothing already written is lost.

use crate::error::Error;
use std::io::Write;

/// Write `text` to standard output.
pub fn print(text: &str) -> Result<(), Error> {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes()).and_then(|_| out.flush()).map_err(Error::Output)
}

/// Write `text` and a newline to standard output.
pub fn println(text: &str) -> Result<(), Error> {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes()).and_then(|_| out.write_all(b"\n")).and_then(|_| out.flush()).map_err(Error::Output)
}

/// `println!` onto standard output, returning an [`Error`] instead of panicking.
#[macro_export]
macro_rules! outln {
    () => { $crate::output::println("") };
    ($($arg:tt)*) => { $crate::output::println(&format!($($arg)*)) };
}

/// A message on standard error; an error writing it is ignored (there is nowhere left to say
/// it).
pub fn note(text: &str) {
    let _ = writeln!(std::io::stderr(), "{text}");
}
