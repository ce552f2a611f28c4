//! What the history judges of every protocol (`journal::history`, `relay::history`) report:
//! a [`Violation`] names the property a recorded run breaks and the write it is about.

use std::fmt;

/// A property a history breaks.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Violation {
    /// The property's name, as the protocol's properties spell it.
    pub property: &'static str,
    /// The write it is about, if one.
    pub write: Option<u32>,
    /// What is wrong.
    pub detail: String,
}

impl Violation {
    pub fn new(property: &'static str, write: Option<u32>, detail: String) -> Violation {
        Violation { property, write, detail }
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.write {
            Some(w) => write!(f, "{} violated by write {w}: {}", self.property, self.detail),
            None => write!(f, "{} violated: {}", self.property, self.detail),
        }
    }
}

impl std::error::Error for Violation {}
