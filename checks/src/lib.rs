//! The rcopy harness: the registry of checks with their expected verdicts, runners over
//! stateright, traces as data, renderers, replay, benchmarks, and the `rcopy-check` CLI.

pub mod bench;
pub mod cli;
pub mod error;
pub mod registry;
pub mod render;
pub mod replay;
pub mod runner;
pub mod trace;

pub use error::Error;
