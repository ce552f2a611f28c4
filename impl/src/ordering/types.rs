//! Identifiers, time stamps and the protocol variant.

use serde::{Deserialize, Serialize};
use std::fmt;

pub type LdsId = u16;
pub type RdsId = u16;
pub type PairId = u16;
pub type GroupId = u16;
pub type UnitId = u16;
/// Sequence number 115. Per stream, dense from 0.
pub type Seq = u64;
/// A reading of the time base common to all local disk systems.
pub type Time = u64;

/// Time stamp 114: the common clock's reading when the LDS accepted the write (step 503), with
/// the LDS id and a per-LDS count of earlier stamps at the same reading as tie-breaks, so that
/// time stamps are a strict total order even on a coarse clock (note S12, INTERPRETATION:
/// "(ts, lds_id, per-LDS counter)").
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Ts {
    pub time: Time,
    pub lds: LdsId,
    /// Stamps this LDS gave earlier at the same `time`: 0 unless the clock did not move.
    #[serde(default)]
    pub tie: u32,
}

impl Ts {
    pub const fn new(time: Time, lds: LdsId) -> Ts {
        Ts { time, lds, tie: 0 }
    }
}

impl fmt::Debug for Ts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.tie {
            0 => write!(f, "{}.{}", self.time, self.lds),
            k => write!(f, "{}.{}.{k}", self.time, self.lds),
        }
    }
}

impl fmt::Display for Ts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// What the caller reads off the clocks when a host write arrives (step 503).
///
/// `common` is the time base shared by all local disk systems (the host's time stamp, \[0028\]);
/// `local` is this LDS's own clock, which may be skewed. Only fault B10 stamps with `local`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub struct ClockReading {
    pub common: Time,
    pub local: Time,
}

impl ClockReading {
    /// A reading with no skew.
    pub const fn at(time: Time) -> ClockReading {
        ClockReading { common: time, local: time }
    }
}

/// A stream: the writes that share one sequence counter (note section 2.4).
///
/// `key` is the remote copy pair (Fig. 2), 0 (Fig. 3) or the data integrity group (Fig. 4).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct StreamId {
    pub lds: LdsId,
    pub rds: RdsId,
    pub key: u16,
}

impl fmt::Debug for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "L{}R{}.{}", self.lds, self.rds, self.key)
    }
}

impl fmt::Display for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// Where a write lands on the remote side: remote disk address 208 and positioning info 209.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug, Serialize, Deserialize)]
pub struct RemoteAddr {
    pub unit: UnitId,
    pub pos: u32,
}

/// Which reading of the text a role follows.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug, Serialize, Deserialize)]
pub enum Variant {
    /// The patent text as written: no resend, no duplicate suppression (step 800 stores every
    /// packet), no heartbeat.
    Faithful,
    /// The INTERPRETATION fixes of note sections 4.13 and 9: resend with the same sequence number
    /// and time stamp, duplicate suppression with re-ack, heartbeats on idle streams.
    Hardened,
}

impl Variant {
    pub const ALL: [Variant; 2] = [Variant::Faithful, Variant::Hardened];

    pub fn name(self) -> &'static str {
        match self {
            Variant::Faithful => "faithful",
            Variant::Hardened => "hardened",
        }
    }

    pub fn from_name(name: &str) -> Option<Variant> {
        Variant::ALL.into_iter().find(|v| v.name() == name)
    }

    pub fn hardened(self) -> bool {
        self == Variant::Hardened
    }
}
