//! Seed 001: log entries relayed hop by hop through a remote copy network, acknowledged,
//! resent and given up (`shared/protocols/seed-001.md`).
mod fault;
pub mod manager;
pub mod route;
mod types;
pub mod wire;

pub use fault::Fault;
pub use manager::{
    check_c1, entries_remain, fig1, AccessRow, C1Violation, ConfigError, CustomerId, DeviceCopy, EdgeTables, Fig1,
    Holds, IdMethod, IdReport, Input, Manager, PairInput, Reverse, RouteInput, StorageInput, StorageRow, Tables, Via,
    VirtualRow,
};
pub use route::{NextHop, RouteRow, Routing};
pub use types::{Addr, Bitmap, Block, Body, Epoch, Id, Kind, LogEntry, Lun, PairRow, PairState, Route, Seq, Time, Variant, VolRef, Wwn, MAX_HOPS};
mod source;
pub use source::{Held, NotNow, Refused, Sent, SourceConfig, SourceCounters, SourceEdge, SourceReceived, SsReply, Timeout, Transmit, WriteAck, MAX_IDS, MAX_PAIRS};
mod target;
pub use target::{Failover, TargetConfig, TargetCounters, TargetEdge, TargetNotNow, TargetPair, TargetReceived, Reflected, ToTs, TsAnswer};
mod core;
pub use self::core::{CoreConfig, CoreDevice, CoreStep};
pub mod shared;
