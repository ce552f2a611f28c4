//! The relay protocol (seed 001) as a stateright model.
//!
//! - [`config`]: worlds as TOML (`configs/*.toml`).
//! - [`state`]: SE, TE and the cores (the production roles), the network as a multiset, SS
//!   and TS as the environment, the ghost history (note 6.0).
//! - [`model`]: the actions of note 8.2, their guards and bookkeeping, the fairness classes.
//! - [`dispatch`]: the one dispatcher (what a step feeds the roles; replay uses it too).
//! - [`history`]: S2-S5 and S8 over a run's history (real processes on loopback, or the model).
//! - [`properties`]: C1, S1-S15, L1-L6 and N1-N7.
//! - [`checks`]: the registered checks and their expected verdicts.
//! - [`Relay`]: the protocol as the engine sees it.

pub mod checks;
pub mod config;
pub mod dispatch;
pub mod history;
pub mod model;
pub mod properties;
mod protocol;
pub mod state;

pub use config::Config;
pub use model::{Action, RelayModel};
pub use protocol::Relay;
pub use state::State;
