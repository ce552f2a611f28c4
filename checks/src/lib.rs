//! rcopy's engine: a protocol-generic harness with its own explorer.
//!
//! - [`explorer`]: exhaustive (breadth-first, depth-first) and random search over any
//!   [`stateright::Model`], on N threads, bounded by states, depth, time and memory, with
//!   shortest traces, specified fingerprints, coverage and symmetry.
//! - A protocol plugs in by implementing [`Protocol`] (its configs, variants, faults,
//!   properties, registered checks, narration, dispatcher, fairness, symmetry);
//!   [`protocols::all`] is the one list of the protocols rcopy ships.
//! - [`runner::run`] runs a [`Check`] of a protocol and judges it; [`trace`], [`render`] and
//!   [`replay`] make, show and re-run its counterexamples; [`cli`] is `rcopy-check`.
//!
//! A storage engineer checks a model of their own protocol from their own `cargo test`:
//! see `checks/examples/mirror.rs`.

pub mod bench;
pub mod cli;
pub mod config;
pub mod error;
pub mod explorer;
mod guard;
mod input;
pub mod output;
pub mod protocols;
pub mod registry;
pub mod render;
pub mod replay;
pub mod runner;
pub mod stateright_engine;
pub mod summary;
pub mod trace;

pub use error::Error;
pub use rcopy_model::protocol::{
    Check, Event, Expect, Fairness, FaultInfo, Field, Gap, Kind, NamedConfig, PropertyInfo, Protocol, Tier,
};
pub use runner::{Engine, Options, Outcome};
