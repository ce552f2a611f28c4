//! A state of the journal world: the roles P and S (the production structs), the
//! intermediate I as a plain block store (the ring's units and the two control areas), the
//! volumes, the timers' bounded-delay counters, the failures so far, and the ghost history of
//! note 6 (what was written, acknowledged and applied).

use super::config::{MAX_BLOCKS, MAX_QUEUE, MAX_WRITES};
use rcopy::journal::multi::{Held, Merger, Placed, Striper};
use rcopy::journal::{ControlInfo, Direction, JournalMeta, Owner, Pos, Primary, Resync, Secondary, UnitTag};
use serde::{Deserialize, Serialize};

/// P with the model's bounds: 4 journals in flight, 8 entries of update info.
pub type ModelPrimary = Primary<4, 8>;

/// A host write of the run (the ghost's record).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub struct WriteRec {
    pub addr: u8,
    pub blocks: u8,
    /// The value its blocks hold (the journal's id, or 200 + n for a write never journaled).
    pub value: u8,
    /// Its journal, if P journaled it, and the journal's first unit.
    pub journal: Option<(JournalMeta, Pos)>,
    /// Every unit of its journal is on I.
    pub complete: bool,
    /// P told the host it is done.
    pub acked: bool,
    /// Data units each S applied from it.
    pub applied: [u8; MAX_SIDES],
}

/// The ghost history (note 6.0) and flags set by the step that broke a property.
#[derive(Clone, PartialEq, Eq, Hash, Debug, Default, Serialize, Deserialize)]
pub struct Ghost {
    pub writes: heapless::Vec<WriteRec, MAX_WRITES>,
    /// S2: P wrote over a unit S had not consumed.
    pub overwrote: bool,
    /// S4: S applied a unit that is not part of a journal P wrote in full.
    pub garbage: bool,
    /// S13: a side declared a live, heartbeating peer dead.
    pub false_alarm: bool,
    /// A crash or a failure struck (L1, L2 are promised only where none does).
    pub failed: bool,
    /// Secondary-host writes made.
    pub secondary_writes: u8,
    /// P crashed at some point of the run (S12).
    pub p_crashed: bool,
    /// S10: the console accepted a resync whose two bitmaps together miss a block the sides
    /// differ in.
    pub unsound_plan: bool,
    /// The direction of the resync the console chose.
    pub direction: Option<Direction>,
}

/// The most secondaries a model's world has (embodiment 5 with two).
pub const MAX_SIDES: usize = 2;

/// One secondary S and what the world keeps for it.
#[derive(Clone, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub struct Side {
    pub role: Secondary,
    pub up: bool,
    /// Its control info area on I (632; one per secondary in embodiment 5).
    pub c632: ControlInfo,
    /// Its buffer: where its last read started, and the (address, value) pairs to apply.
    pub fetched_from: Pos,
    pub to_apply: heapless::Vec<super::model::ApplyRec, MAX_QUEUE>,
    pub vol: [u8; MAX_BLOCKS],
    /// Ghost: the end of what it applied, durably (the unit after the last one applied).
    pub applied_to: Pos,
    /// Bounded delay: P's timer firings since this S's last poll, its polls since P's last
    /// firing, its heartbeat firings since P's last reading, P's readings since its last
    /// heartbeat.
    pub p_fired: u8,
    pub polled: u8,
    pub beat: u8,
    pub p_read: u8,
}

/// One state of the world.
#[derive(Clone, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub struct State {
    pub p: ModelPrimary,
    /// The secondaries: the first is the one the console may let take over.
    pub ss: heapless::Vec<Side, MAX_SIDES>,
    /// The ring on I, one tag per unit (what a reader learns of it).
    pub ring: heapless::Vec<UnitTag, MAX_QUEUE>,
    /// Control info 631 on I.
    pub c631: ControlInfo,
    /// Journals P is writing: id and units on I so far.
    pub writing: heapless::Vec<(JournalMeta, Pos, u8), 4>,
    pub vol_p: [u8; MAX_BLOCKS],
    pub p_up: bool,
    pub i_up: bool,
    /// The console blocked P (1104).
    pub p_fenced: bool,
    /// P restarted without its volume's data (1406).
    pub p_lost: bool,
    /// The copy of the resync the console planned (Fig. 14), once it did.
    pub resync: Option<Resync>,
    /// Embodiment 3's world (several intermediates), when the config has them; the fields above
    /// for one intermediate then stay as they start, but for S's volume (`ss[0].vol`). Boxed so
    /// that the other worlds' states keep their size.
    pub multi: Option<Box<Multi>>,
    pub ghost: Ghost,
}

/// P over several intermediates, in the model: 8 journals kept.
pub type MultiPrimary = Striper<8>;
/// S over several intermediates, in the model: 8 journals in the reorder buffer.
pub type MultiSecondary = Merger<8>;
/// The most intermediates a model's world has.
pub const MAX_RINGS: usize = 2;

/// One unit of an intermediate's ring in embodiment 3's world: what a reader learns of it, and
/// the value its block carries (a resend may carry other data than its id says: B26).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default, Serialize, Deserialize)]
pub struct DataUnit {
    pub tag: UnitTag,
    pub value: u8,
}

/// Embodiment 3 (Fig. 16): P and S over several intermediates, each with a ring and its 631
/// and 632.
#[derive(Clone, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub struct Multi {
    pub p: MultiPrimary,
    pub s: MultiSecondary,
    pub rings: [heapless::Vec<DataUnit, MAX_QUEUE>; MAX_RINGS],
    pub c631: [ControlInfo; MAX_RINGS],
    pub c632: [ControlInfo; MAX_RINGS],
    pub up: [bool; MAX_RINGS],
    /// Journals P is writing, and units on I so far.
    pub writing: heapless::Vec<(Placed, u8), 4>,
    /// S's reorder buffer: each journal held and its blocks' values.
    pub held: heapless::Vec<(Held, [u8; 3]), 8>,
    /// Ghost: the ids S applied, in order (S16).
    pub applied: heapless::Vec<u8, 12>,
}

impl Multi {
    /// The unit at logical position `pos` of intermediate `ring`'s ring.
    pub fn unit(&self, ring: u8, pos: Pos) -> DataUnit {
        let units = &self.rings[usize::from(ring).min(MAX_RINGS - 1)];
        let q = (units.len() as u32).max(1);
        units.get(pos.slot(q) as usize).copied().unwrap_or_default()
    }
}

impl State {
    /// The unit at logical position `pos`.
    pub fn unit(&self, pos: Pos) -> UnitTag {
        let q = self.ring.len() as u32;
        self.ring.get(pos.slot(q.max(1)) as usize).copied().unwrap_or_default()
    }

    /// The units `[from, from + n)`, wrapping at the ring's end (note S17).
    pub fn read(&self, from: Pos, n: u32) -> heapless::Vec<UnitTag, MAX_QUEUE> {
        (0..n.min(MAX_QUEUE as u32)).map(|i| self.unit(Pos(from.0.saturating_add(i)))).collect()
    }

    /// Whether the units of `w`'s journal from position `from` on are on I, intact (the units
    /// before `from` S has applied: a partial fetch may have taken them, and P may reuse their
    /// place).
    pub fn live_from(&self, w: &WriteRec, from: Pos) -> bool {
        let Some((meta, pos)) = w.journal else { return false };
        (0..u32::from(meta.blocks)).filter(|k| pos.0 + k >= from.0).all(|k| {
            let u = self.unit(Pos(pos.0 + k));
            u.intact && u.meta == meta && u32::from(u.serial) == k
        })
    }

    /// Whether the `i`-th S applied every data unit of `w`'s journal.
    pub fn applied_at(w: &WriteRec, i: usize) -> bool {
        w.journal.is_some() && w.applied.get(i).is_some_and(|a| *a >= w.blocks)
    }

    /// Whether every S applied every data unit of `w`'s journal.
    pub fn applied_everywhere(&self, w: &WriteRec) -> bool {
        (0..self.ss.len()).all(|i| State::applied_at(w, i))
    }

    /// The secondary the console deals with (takeover, resync): the first.
    pub fn s0(&self) -> &Side {
        &self.ss[0]
    }

    /// A resync is planned and not yet over.
    pub fn resyncing(&self) -> bool {
        self.resync.is_some_and(|r| !r.done())
    }

    /// The resync is over: every region copied.
    pub fn resynced(&self) -> bool {
        self.resync.is_some_and(|r| r.done())
    }

    /// The primary's control info as it starts: nothing published.
    pub fn blank(owner: Owner, head: Pos) -> ControlInfo {
        ControlInfo { owner, head, size: 0, heartbeat: 0 }
    }
}
