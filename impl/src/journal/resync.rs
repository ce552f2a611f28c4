//! Resync, Fig. 14 (note 4.8, \[0143\]-\[0154\]): the console's plan from both sides' bitmaps,
//! and the copy that carries it out.
//!
//! [`plan`] is steps 1403-1413 as one decision. Its inputs are what the console learnt at 1401:
//! each side's difference bitmap with its start metadata (2.8), or `None` when a side lost it,
//! whether a side lost data, and the direction the administrator chose (1407). Its output is
//! a [`Plan`]:
//!
//! - **1403 fails**: P's bitmap starts after S's (P's start id is newer than S's). Journals
//!   between the two are in neither bitmap, so resync is refused (1414) and an initial copy of
//!   every region is planned instead (1413).
//! - **1406**: a side lost data, or its bitmap. The result is an initial copy too.
//! - **Otherwise**: resync by the **OR** of both bitmaps (1408 for P to S, 1411 for S to P).
//!   The OR is needed because blocks written on the target side after the split must be
//!   overwritten as well.
//!
//! A [`Resync`] is the copy (1409 or 1412). [`Resync::next`] names the next region to copy,
//! from the source's volume to the target's. [`Resync::copied`] clears the region's bit once the
//! target has stored it. A host write during the resync (1410) is **mirrored**: the source
//! writes it to both sides. This is the INTERPRETATION of "copy on write" in note 4.8: the
//! write reaches the target directly, so it never dirties a region again, and the copy
//! terminates (L5).

use super::fault::Fault;
use super::types::{Bitmap, ReqId, Variant};
use crate::fault::FaultSet;
use serde::{Deserialize, Serialize};

/// The side whose data the pair is aligned to (1407).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub enum Direction {
    /// S could not apply while P kept working: P's data wins (1408-1409).
    PrimaryToSecondary,
    /// The work moved to S (takeover, maintenance): S's data wins (1411-1412).
    SecondaryToPrimary,
}

/// What the console knows of one side at 1401.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub struct Side {
    /// Its difference bitmap with start metadata, or `None` if the side lost it.
    pub bitmap: Option<Bitmap>,
    /// The side lost the data of its volumes (1406).
    pub lost_data: bool,
}

/// Why the plan is an initial copy.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub enum Why {
    /// 1403: P's bitmap starts after S's first journal not applied (1414).
    Inconsistent { p_start: ReqId, s_start: ReqId },
    /// 1406: a side lost data.
    LostData,
    /// A side has no bitmap (it lost its difference info).
    NoBitmap,
}

/// The console's plan (1403-1413).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub enum Plan {
    /// Resync the regions of `bitmap` (the OR of both sides') in `direction`.
    Resync { direction: Direction, bitmap: Bitmap },
    /// Copy every region in `direction` (1413).
    InitialCopy { direction: Direction, why: Why },
}

impl Plan {
    pub fn direction(&self) -> Direction {
        match *self {
            Plan::Resync { direction, .. } | Plan::InitialCopy { direction, .. } => direction,
        }
    }
}

/// The 1403 rule: P's bitmap must start at or before S's, which is the first journal S has
/// not applied. B19 compares them with the roles swapped.
fn consistent(p: &Bitmap, s: &Bitmap, faults: FaultSet) -> bool {
    if Fault::B19.on(faults) {
        s.start_id <= p.start_id
    } else {
        p.start_id <= s.start_id
    }
}

/// Steps 1403-1413: the plan for resyncing the pair of `p` and `s` in `direction`.
pub fn plan(p: &Side, s: &Side, direction: Direction, _variant: Variant, faults: FaultSet) -> Plan {
    if p.lost_data || s.lost_data {
        return Plan::InitialCopy { direction, why: Why::LostData };
    }
    let (Some(pb), Some(sb)) = (p.bitmap, s.bitmap) else {
        return Plan::InitialCopy { direction, why: Why::NoBitmap };
    };
    if !consistent(&pb, &sb, faults) {
        return Plan::InitialCopy { direction, why: Why::Inconsistent { p_start: pb.start_id, s_start: sb.start_id } };
    }
    let (source, target) = match direction {
        Direction::PrimaryToSecondary => (pb, sb),
        Direction::SecondaryToPrimary => (sb, pb),
    };
    // 1408 / 1411: the OR of both bitmaps (B18: the source's alone).
    let bits = if Fault::B18.on(faults) { source.bits } else { source.bits | target.bits };
    let start = if pb.start_id <= sb.start_id { pb } else { sb };
    Plan::Resync { direction, bitmap: Bitmap { bits, start_id: start.start_id, start_ts: start.start_ts } }
}

/// What the source does with a host write during the resync (1410).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub enum DuringResync {
    /// Write it to both sides: its regions are the same on both once it is done.
    Mirror,
    /// Store it at the source only; its regions are dirty again (B21).
    Dirty,
}

/// The copy of a plan (1409 / 1412): the regions still to copy.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub struct Resync {
    pub direction: Direction,
    /// Regions still to copy.
    pub dirty: Bitmap,
    /// Blocks per region.
    pub region_blocks: u32,
    /// Why the plan is an initial copy; `None` for a resync by the bitmaps.
    pub initial: Option<Why>,
    pub faults: FaultSet,
}

impl Resync {
    /// The copy of `plan` over a volume of `regions` regions (at most 64) of `region_blocks`
    /// blocks each.
    pub fn start(plan: &Plan, regions: u32, region_blocks: u32, faults: FaultSet) -> Resync {
        assert!(regions <= 64, "a bitmap has 64 regions");
        let (dirty, initial) = match *plan {
            Plan::Resync { bitmap, .. } => (bitmap, None),
            Plan::InitialCopy { why, .. } => {
                let bits = if regions == 64 { u64::MAX } else { (1u64 << regions) - 1 };
                (Bitmap { bits, ..Bitmap::default() }, Some(why))
            }
        };
        Resync { direction: plan.direction(), dirty, region_blocks: region_blocks.max(1), initial, faults }
    }

    /// The next region to copy from the source to the target, lowest first; `None` when the
    /// copy is done.
    pub fn next(&self) -> Option<u32> {
        (!self.dirty.is_empty()).then(|| self.dirty.bits.trailing_zeros())
    }

    /// The target stored region `region` as the source had it: it is clean.
    pub fn copied(&mut self, region: u32) {
        if region < 64 {
            self.dirty.bits &= !(1u64 << region);
        }
    }

    /// A host write at the source during the resync (1410).
    pub fn host_write(&mut self, addr: u32, blocks: u16) -> DuringResync {
        if Fault::B21.on(self.faults) {
            self.dirty.mark_blocks(addr, blocks, self.region_blocks);
            DuringResync::Dirty
        } else {
            DuringResync::Mirror
        }
    }

    /// Every region is copied: the pair may return to PAIR.
    pub fn done(&self) -> bool {
        self.dirty.is_empty()
    }
}
