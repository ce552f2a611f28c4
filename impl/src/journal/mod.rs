//! Seed 003: a journal ring on a plain intermediate storage (`shared/protocols/seed-003.md`).
pub mod file;
pub mod format;
mod types;

pub use types::{Bitmap, ControlInfo, Geometry, JournalMeta, Owner, PairState, Pos, ReqId, Ts, UnitTag, Variant};
mod fault;
pub mod multi;
mod primary;
pub mod resync;
mod secondary;
pub mod shared;

pub use fault::Fault;
pub use primary::{Acks, ControlStep, Failure, FullPolicy, Inflight, Primary, PrimaryConfig, Refused, Reserved, UpdateInfo, Written};
pub use resync::{Direction, DuringResync, Plan, Resync, Side, Why};
pub use secondary::{Apply, Declined, Current, Fetched, Mode, Pending, Poll, Secondary, SecondaryConfig};
pub use types::Detector;
