//! The ordering protocol (seed 002) as a stateright model.
//!
//! - [`config`]: named worlds (`tiny`, `single`, `standard`, `large`).
//! - [`state`]: the roles, the network, the clock and the ghost history (note section 6.0).
//! - [`model`]: the actions (note section 7) and how each drives the roles.
//! - [`properties`]: S1-S12, the `sometimes` sanity checks of 6.3, and L1.
//! - [`narrate`]: who did what in one step, for the trace renderers.

pub mod config;
pub mod model;
pub mod narrate;
pub mod properties;
pub mod state;

pub use config::{Config, Mode};
pub use model::{Action, OrderingModel};
pub use state::{Envelope, Ghost, Node, Phase, State, Wid, WriteRec};
