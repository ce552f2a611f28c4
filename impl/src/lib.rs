//! rcopy: the production data path of storage remote-copy protocols.
//!
//! Every protocol is a set of sans-IO roles: plain structs that take one input (a host write, a
//! message, a timer, a clock reading) and return outputs (messages, disk writes, completions).
//! Nothing in here reads a clock, sleeps, spawns a thread or opens a socket; the stateright model
//! (`rcopy-model`), the property tests and trace replay all drive these same structs.
//!
//! Seeded faults (the numbered bugs of the protocol notes) are fault points compiled only with
//! the cargo feature `faults`; see [`fault`].

pub mod fault;
pub mod journal;
pub mod ordering;
pub mod sync;
