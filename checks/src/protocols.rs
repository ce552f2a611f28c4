//! The one list that registers protocols: the only place the engine names one. Adding a
//! protocol is a line here (see ARCHITECTURE.md, "Adding a protocol").

use crate::registry::Registered;

/// Every protocol the engine checks.
pub fn all() -> Vec<&'static dyn Registered> {
    vec![&rcopy_model::ordering::Ordering, &rcopy_model::journal::Journal, &rcopy_model::relay::Relay]
}
