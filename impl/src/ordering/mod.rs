//! Seed 002: asynchronous remote copy over a network that reorders, made consistent by time
//! stamps, per-stream sequence numbers and a limit time (`shared/protocols/seed-002.md`).
//!
//! Roles:
//! - [`Sender`]: the local disk system (LDS). Fig. 5 (stamp a host write), Fig. 6/12/14 (send the
//!   earliest unsent write with the stream's next sequence number), Fig. 7 (release on ack).
//! - [`Receiver`]: the remote disk system (RDS). Fig. 8 (store and ack), Fig. 9/13/15 (the slave
//!   report: minimum frontier time stamp), Fig. 11 (destage in time-stamp order up to the limit).
//! - [`LimitCoordinator`]: the master limit time schedule process, Fig. 10.
//! - [`SharedSender`]: the piece production threads share: host threads stamp and enqueue while
//!   the sender thread numbers and sends (assumption A1 of the note).
//!
//! [`Variant::Faithful`] is the text as written; [`Variant::Hardened`] adds the fixes of note
//! sections 4.13 and 9: resend with the same sequence number and time stamp, duplicate
//! suppression with re-ack, heartbeats for idle streams. [`Fault`] lists the seeded faults.

mod coordinator;
mod fault;
mod message;
mod receiver;
mod sender;
mod shared;
mod topology;
mod types;
pub mod wire;

pub use coordinator::{Answer, LimitCoordinator, UnknownSlave};
pub use fault::Fault;
pub use message::{DataPacket, Message};
pub use receiver::{Cached, Destage, ForeignStream, NotStored, Receiver, RecvStream, DEFAULT_CACHE};
pub use sender::{Accepted, Entry, EntryState, HostWrite, Refused, SendStream, Sender, UnknownStream, DEFAULT_WINDOW};
pub use shared::{Clock, SharedSender};
pub use topology::{Pair, Scope, Topology, TopologyError};
pub use types::{ClockReading, GroupId, LdsId, PairId, RdsId, RemoteAddr, Seq, StreamId, Time, Ts, UnitId, Variant};
