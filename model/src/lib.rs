//! Stateright models of the rcopy protocols.
//!
//! Each model holds the `rcopy` roles as fields of its state and adds only the world around them:
//! hosts, clocks, the network, disks, crashes, and ghost history for the properties. It never
//! re-implements protocol logic: every protocol decision is a call into `rcopy`.
//!
//! [`protocol::Protocol`] is what a protocol gives the engine (`rcopy-checks`).

pub mod history;
pub mod journal;
pub mod ordering;
pub mod protocol;
pub mod relay;
