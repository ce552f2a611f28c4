//! The vocabulary of seed 003: ring positions, request ids, time stamps, a journal's metadata,
//! what a reader sees of one unit of the ring, the control info records, pair states and bitmaps.

use serde::{Deserialize, Serialize};

/// A logical position in the journal ring, in units (blocks): monotone, never wrapped. The
/// physical unit is `pos % Q` (note 2.4: "use unbounded logical positions").
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Debug, Serialize, Deserialize)]
pub struct Pos(pub u32);

impl Pos {
    /// `self + n`, or `None` past the last position (the ring's lifetime is spent).
    pub fn plus(self, n: u32) -> Option<Pos> {
        self.0.checked_add(n).map(Pos)
    }

    /// Units from `earlier` to `self` (0 if `earlier` is not earlier).
    pub fn since(self, earlier: Pos) -> u32 {
        self.0.saturating_sub(earlier.0)
    }

    /// The physical unit of this position in a ring of `q` units.
    pub fn slot(self, q: u32) -> u32 {
        debug_assert!(q > 0);
        self.0 % q
    }
}

/// Request id 704: the serial number of a journal within its queue, from 1 (0: none yet).
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Debug, Serialize, Deserialize)]
pub struct ReqId(pub u32);

impl ReqId {
    pub fn next(self) -> Option<ReqId> {
        self.0.checked_add(1).map(ReqId)
    }
}

/// Time stamp 705, from P's clock (or the host's).
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Debug, Serialize, Deserialize)]
pub struct Ts(pub u32);

/// The text as written, or with the INTERPRETATIONs of the note that close its gaps.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub enum Variant {
    /// The text: the drain's existence test is the header's id and time stamp (1306) and the
    /// per-block protection data and trailer (1307); S's takeover is not gated by the console.
    Faithful,
    /// The note's INTERPRETATIONs: in-order acknowledgement over the contiguous completed
    /// prefix (S1.iv, S5), (time stamp, id) order, takeover only once the console fenced P (S14).
    Hardened,
}

impl Variant {
    pub fn name(self) -> &'static str {
        match self {
            Variant::Faithful => "faithful",
            Variant::Hardened => "hardened",
        }
    }

    pub fn from_name(name: &str) -> Option<Variant> {
        match name {
            "faithful" => Some(Variant::Faithful),
            "hardened" => Some(Variant::Hardened),
            _ => None,
        }
    }
}

/// The shape of the ring: its size and what a journal costs in units.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub struct Geometry {
    /// Queue size 610, in units.
    pub queue_units: u32,
    /// Units before a journal's data (the header 722; 0 when every unit carries the header's
    /// fields in its protection data, as the model's units do).
    pub header_units: u16,
    /// Units after the data (the trailer 724).
    pub trailer_units: u16,
}

impl Geometry {
    /// The units a journal of `data_units` occupies, or `None` if it could never fit the ring.
    pub fn journal_units(&self, data_units: u16) -> Option<u32> {
        let n = u32::from(self.header_units) + u32::from(data_units) + u32::from(self.trailer_units);
        (n > 0 && n <= self.queue_units).then_some(n)
    }
}

/// A journal's header fields that the protocol reads (701-708 less the logical checks, which
/// the on-storage format does): request id, time stamp and the host write's location.
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub struct JournalMeta {
    /// Request id 704.
    pub id: ReqId,
    /// Time stamp 705.
    pub ts: Ts,
    /// Volume id 706.
    pub volume: u16,
    /// Address within the volume 707, in blocks.
    pub addr: u32,
    /// Size 708, in data units (blocks).
    pub blocks: u16,
}

/// What a reader learns of one unit of the ring once its protection data (501-503) is
/// checked: the journal it claims to belong to (the header's fields, which every unit's
/// protection data and the trailer repeat), its serial within that journal (502), and whether
/// its error-detecting code matched (503).
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub struct UnitTag {
    pub meta: JournalMeta,
    /// Serial number within the request 502: 0 for the first unit.
    pub serial: u16,
    /// The code 503 (and, on the last unit, the trailer's 709) matched.
    pub intact: bool,
}

/// Who wrote a control info record (owner device id 618).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug, Serialize, Deserialize)]
pub enum Owner {
    Primary,
    /// A secondary, by index (embodiment 5 has several).
    Secondary(u8),
}

/// A control info record 631/632 (616-621): the region under remote copy as its owner sees it,
/// and a heartbeat. Group and queue (616, 617) are checked by the format.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub struct ControlInfo {
    /// Owner device id 618.
    pub owner: Owner,
    /// Head position 619.
    pub head: Pos,
    /// Size 620, in units: the region ends at `head + size`.
    pub size: u32,
    /// Heartbeat 621: changes every time the owner writes the record on its timer.
    pub heartbeat: u32,
}

impl ControlInfo {
    /// The end of the region this record covers (`head + size`, saturating).
    pub fn end(&self) -> Pos {
        Pos(self.head.0.saturating_add(self.size))
    }
}

/// A pair's state (note 2.9).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub enum PairState {
    /// Journals flow through the intermediate.
    Pair,
    /// Split: changed blocks are recorded in the bitmap.
    Suspend,
}

/// A difference bitmap (note 2.8): one bit per region of `region_blocks` blocks, 64 regions
/// (the bound: a volume of more regions than that uses coarser regions).
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub struct Bitmap {
    pub bits: u64,
    /// Metadata 2.8/1403: the first request id the bitmap covers (its start point), and the
    /// time stamp it was started at.
    pub start_id: ReqId,
    pub start_ts: Ts,
}

impl Bitmap {
    /// The bit of region `region` (0..64).
    pub fn mark(&mut self, region: u32) {
        assert!(region < 64, "bitmap region {region} out of range");
        self.bits |= 1u64 << region;
    }

    pub fn marked(&self, region: u32) -> bool {
        region < 64 && self.bits & (1u64 << region) != 0
    }

    /// Mark every region that `blocks` blocks from `addr` touch, with regions of
    /// `region_blocks` blocks (at least 1).
    pub fn mark_blocks(&mut self, addr: u32, blocks: u16, region_blocks: u32) {
        let r = region_blocks.max(1);
        let last = addr.saturating_add(u32::from(blocks).max(1) - 1);
        for region in (addr / r)..=(last / r) {
            self.mark(region);
        }
    }

    pub fn is_empty(&self) -> bool {
        self.bits == 0
    }
}

/// The heartbeat check of steps 1002 and 1202: the peer is declared dead after `threshold`
/// readings in a row that show the heartbeat it showed before.
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub struct Detector {
    /// The last heartbeat read.
    pub seen: Option<u32>,
    /// Readings in a row that did not change it.
    pub unchanged: u8,
}

impl Detector {
    /// One reading; `true` when the peer is now declared dead. Fault B12 declares it on the
    /// first unchanged reading.
    pub fn silent(&mut self, heartbeat: u32, threshold: u8, faults: crate::fault::FaultSet) -> bool {
        if self.seen == Some(heartbeat) {
            self.unchanged = self.unchanged.saturating_add(1);
        } else {
            self.seen = Some(heartbeat);
            self.unchanged = 0;
        }
        let threshold = if super::fault::Fault::B12.on(faults) { 1 } else { threshold.max(1) };
        self.unchanged >= threshold
    }
}
