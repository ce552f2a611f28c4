//! The ordering protocol (seed 002) as a stateright model.
//!
//! - [`config`]: worlds as TOML (`configs/*.toml`: the tiers' `tiny` and `standard`, `large`
//!   for benchmarks, and small worlds that each exercise one thing).
//! - [`state`]: the roles, the network, the clock and the ghost history (note section 6.0).
//! - [`model`]: the actions (note section 7, and a crash), how each drives the roles, and the
//!   fairness classes.
//! - [`properties`]: S1-S12, the `sometimes` sanity checks of 6.3, and L1-L4 (obligations).
//! - [`dispatch`]: the one dispatcher: what a step feeds the roles, and the function that
//!   feeds it (called by `next_state` and by replay on the roles).
//! - [`narrate`]: who did what in one step, and a summary of a state, for the renderers.
//! - [`checks`]: the registered checks and their expected verdicts.
//! - [`Ordering`]: the protocol as the engine sees it.

pub mod checks;
pub mod config;
pub mod dispatch;
pub mod model;
pub mod narrate;
pub mod properties;
mod protocol;
pub mod state;

pub use config::Config;
pub use model::{Action, OrderingModel};
pub use protocol::Ordering;
pub use state::{Envelope, Ghost, Node, Phase, Roles, State, Wid, WriteRec};
