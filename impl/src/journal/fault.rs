//! The seeded faults of note section 6, each a fault point in this module's roles: one bug of
//! the note's list for each property it names.

use crate::fault::FaultSet;
use serde::{Deserialize, Serialize};

/// A seeded fault of the journal protocol.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug, Serialize, Deserialize)]
pub enum Fault {
    /// S1.i: P acknowledges the host when it reserves ring space, before the journal is on I.
    B1 = 1,
    /// S1.ii: the drain stops at the end P last published (no scan on, 1306-1307 omitted).
    B2 = 2,
    /// S1.iv: each write is acknowledged when its own journal completes, not in id order.
    B3 = 3,
    /// S2: free space from the next position and the queue end only, ignoring the head.
    B4 = 4,
    /// S2/L2: P sets its head 626 from its own 631 instead of from S's 632.
    B5 = 5,
    /// S5: P publishes its reserved next position 628, journals still being written included.
    B6 = 6,
    /// S4: the drain omits the consecutive-id and increasing-time-stamp checks (1306).
    B7 = 7,
    /// S4: the drain checks only the first unit of a journal, not every block and the trailer.
    B8 = 8,
    /// S6: P drops a write's update info 108 when it acknowledges the host.
    B9 = 9,
    /// S7: S publishes its progress when it has read journals, before applying them.
    B10 = 10,
    /// S8: P's bitmap starts at the failure, not at the oldest unconfirmed journal.
    B11 = 11,
    /// S13.i: one unchanged heartbeat reading declares the peer dead.
    B12 = 12,
    /// S13.ii: S bumps its heartbeat only when it publishes progress, so an idle S looks dead.
    B13 = 13,
    /// S15: a coarse clock stamps consecutive journals alike (the text's drain test is
    /// "greater than").
    B14 = 14,
    /// S17: after a partial fetch S moves its head to the end of the cut journal.
    B15 = 15,
    /// L1: the region P publishes is refreshed only on host writes (1003 runs only then).
    B16 = 16,
    /// L4: a failed read of the peer's control info counts as a fresh heartbeat.
    B17 = 17,
}

impl Fault {
    pub const ALL: [Fault; 17] = [
        Fault::B1,
        Fault::B2,
        Fault::B3,
        Fault::B4,
        Fault::B5,
        Fault::B6,
        Fault::B7,
        Fault::B8,
        Fault::B9,
        Fault::B10,
        Fault::B11,
        Fault::B12,
        Fault::B13,
        Fault::B14,
        Fault::B15,
        Fault::B16,
        Fault::B17,
    ];

    pub fn name(self) -> &'static str {
        const NAMES: [&str; 17] = [
            "B1", "B2", "B3", "B4", "B5", "B6", "B7", "B8", "B9", "B10", "B11", "B12", "B13", "B14", "B15", "B16",
            "B17",
        ];
        NAMES[self as usize - 1]
    }

    pub fn from_name(name: &str) -> Option<Fault> {
        Fault::ALL.into_iter().find(|f| f.name().eq_ignore_ascii_case(name))
    }

    /// The fault point: is this fault on in `set`?
    #[inline(always)]
    pub fn on(self, set: FaultSet) -> bool {
        set.on(self as u32)
    }
}
