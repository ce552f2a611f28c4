//! rcopy: the production data path of storage remote-copy protocols.
//!
//! Every protocol is a set of sans-IO roles: plain structs that take one input (a host write, a
//! message, a timer, a clock reading) and return outputs (messages, disk writes, completions).
//! The roles read no clock, sleep, spawn no thread and open no socket; the stateright model
//! (`rcopy-model`), the property tests and trace replay all drive these same structs. The one
//! exception to "no I/O" is `journal::file`, the intermediate on a file (positioned reads and
//! writes, a flush, an advisory lock), which holds no protocol logic: a runtime glues it to the
//! roles.
//!
//! Seeded faults (the numbered bugs of the protocol notes) are fault points compiled only with
//! the cargo feature `faults`; see [`fault`].

pub mod fault;
pub mod journal;
pub mod ordering;
pub mod relay;
pub mod sync;
