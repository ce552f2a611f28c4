//! The journal protocol (seed 003) as a stateright model.
//!
//! - [`config`]: worlds as TOML (`configs/*.toml`).
//! - [`state`]: P and S (the production roles), I as a plain block store, the volumes, the
//!   timers' bounded-delay counters and the ghost history (note 6.0).
//! - [`model`]: the actions of note 7, their guards and bookkeeping, the fairness classes.
//! - [`dispatch`]: the one dispatcher (what a step feeds P and S; replay uses it too).
//! - [`properties`]: S1-S8, S13-S15, S17 and L1, L2, L4.
//! - [`checks`]: the registered checks and their expected verdicts.
//! - [`Journal`]: the protocol as the engine sees it.

pub mod checks;
pub mod config;
pub mod dispatch;
pub mod history;
pub mod model;
pub mod properties;
mod protocol;
pub mod state;

pub use config::Config;
pub use model::{Action, JournalModel};
pub use protocol::Journal;
pub use state::State;
