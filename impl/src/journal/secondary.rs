//! S, the secondary storage subsystem: the fetch-and-apply loop of Fig. 12 (with the partial
//! fetch of \[0128\]-\[0130\]), its heartbeat on its own timer, the drain of Fig. 13 and the
//! takeover that follows it.
//!
//! S is given what it read of I as [`UnitTag`]s (the format layer checks each unit's protection
//! data) and says which units to apply where; the caller copies the data and then calls
//! [`Secondary::applied`], which moves the head and gives the record to publish as 632 (apply,
//! then 1206, then 1207: progress is published only after the data is applied).

use super::fault::Fault;
use super::primary::Failure;
use super::types::{Bitmap, ControlInfo, Detector, Geometry, JournalMeta, Owner, Pos, ReqId, UnitTag, Variant};
use crate::fault::FaultSet;
use serde::{Deserialize, Serialize};

/// S's settings, from configuration info 106.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub struct SecondaryConfig {
    pub geometry: Geometry,
    /// The fetch buffer, in units (\[0128\]: 10 MB).
    pub buffer_units: u32,
    /// Consecutive unchanged readings of 631 that declare P dead (1202).
    pub threshold: u8,
    /// Heartbeats count modulo this (at least 2).
    pub heartbeat_modulus: u32,
    /// Blocks per bitmap region.
    pub region_blocks: u32,
}

/// Where S stands.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub enum Mode {
    /// Fig. 12: fetch what P published, apply, publish progress.
    Normal,
    /// Fig. 13: P failed and I answers: apply every complete, valid journal, past the end P
    /// published, scanning at most one ring from `start`.
    Draining { start: Pos },
    /// 1308/1309: suspended; the bitmap records the secondary host's writes.
    Suspended,
    /// The secondary host writes to S's volumes.
    TakenOver,
}

/// The journal S is inside of: a partial fetch cut it (\[0129\]), or a drain is reading it.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub struct Current {
    pub meta: JournalMeta,
    /// Its first unit.
    pub first: Pos,
}

/// A unit to apply: the fetched unit at `index` holds the block `addr` of `volume`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub struct Apply {
    pub index: u32,
    pub volume: u16,
    pub addr: u32,
}

/// What S asks of I after reading 631 (Fig. 12).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub enum Poll {
    /// 1204: read units `[from, from + units)` of the ring.
    Fetch { from: Pos, units: u32 },
    /// 1208: nothing new (or a fetch is still being applied).
    Idle,
    /// 1209: P (or the path to I) failed: S started the drain, or suspended if I does not
    /// answer ([`Secondary::peer_failed`]).
    PeerFailed(Failure),
}

/// What S made of the units it read.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub struct Fetched {
    /// Units taken (applied or to apply); the rest failed a check or lie past the buffer.
    pub taken: u32,
    /// Fault B10: the record to publish now, before anything is applied.
    pub publish_early: Option<ControlInfo>,
}

/// Progress S has read but not yet applied (its volatile buffer).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub struct Pending {
    pub to: Pos,
    pub current: Option<Current>,
    pub last: JournalMeta,
}

/// S refused a request of the console or the secondary host.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, thiserror::Error, Serialize, Deserialize)]
pub enum Declined {
    #[error("takeover needs the pair suspended and the drain finished")]
    NotSuspended,
    #[error("takeover needs P fenced by the console first")]
    NotFenced,
    #[error("the secondary volumes are not writable before takeover")]
    NotWritable,
    #[error("the units read start at {got:?}, not at S's head {head:?}")]
    StaleRead { head: Pos, got: Pos },
    #[error("nothing was fetched")]
    NothingPending,
}

/// S, the `me`-th secondary.
#[derive(Clone, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub struct Secondary {
    pub config: SecondaryConfig,
    pub variant: Variant,
    pub faults: FaultSet,
    pub me: u8,
    pub mode: Mode,
    /// Head 629: the first unit not yet applied (durable with the volumes).
    pub head: Pos,
    /// 629 + 630: the end of what S knows P wrote.
    pub end: Pos,
    /// The journal the head is inside of, if any (durable with the head).
    pub current: Option<Current>,
    /// The last journal S took whole (its id and time stamp are the drain's reference).
    pub last: JournalMeta,
    /// Read and not yet applied.
    pub pending: Option<Pending>,
    /// S's heartbeat 621.
    pub heartbeat: u32,
    /// The heartbeat check on P's 631.
    pub detector: Detector,
    pub bitmap: Bitmap,
}

impl Secondary {
    /// S at the start of remote copy: the ring empty from `start`, ids from `first_id`.
    pub fn new(config: SecondaryConfig, variant: Variant, faults: FaultSet, me: u8, start: Pos, first_id: ReqId) -> Self {
        assert!(config.heartbeat_modulus >= 2, "heartbeat modulus must be at least 2");
        assert!(config.buffer_units >= 1, "the fetch buffer must hold a unit");
        Secondary {
            config,
            variant,
            faults,
            me,
            mode: Mode::Normal,
            head: start,
            end: start,
            current: None,
            last: JournalMeta { id: ReqId(first_id.0.saturating_sub(1)), ..JournalMeta::default() },
            pending: None,
            heartbeat: 0,
            detector: Detector::default(),
            bitmap: Bitmap::default(),
        }
    }

    /// S restarted from what it keeps durable with its volumes: its head (at a journal's
    /// start: a runtime that fetches whole journals), the last journal it took whole (the
    /// drain's reference, 1306), and the heartbeat it last wrote (so that the next one differs).
    pub fn resume(
        config: SecondaryConfig,
        variant: Variant,
        faults: FaultSet,
        me: u8,
        head: Pos,
        last: JournalMeta,
        heartbeat: u32,
    ) -> Self {
        let mut s = Secondary::new(config, variant, faults, me, head, ReqId(last.id.0.saturating_add(1)));
        s.last = last;
        s.heartbeat = heartbeat % config.heartbeat_modulus;
        s
    }

    fn record(&self) -> ControlInfo {
        ControlInfo {
            owner: Owner::Secondary(self.me),
            head: self.head,
            size: self.end.since(self.head),
            heartbeat: self.heartbeat,
        }
    }

    fn bump(&mut self) {
        self.heartbeat = (self.heartbeat + 1) % self.config.heartbeat_modulus;
    }

    /// The area S writes its control info records to: its own 632 (configuration info 612;
    /// claim 4, note S11). B23 is the misconfigured offset: 612 set to P's area 611.
    pub fn control_area(&self) -> Owner {
        if Fault::B23.on(self.faults) {
            Owner::Primary
        } else {
            Owner::Secondary(self.me)
        }
    }

    /// S's heartbeat timer: the record to write as 632, heartbeat bumped (B13: not bumped; only
    /// progress bumps it).
    pub fn heartbeat(&mut self) -> ControlInfo {
        if !Fault::B13.on(self.faults) {
            self.bump();
        }
        self.record()
    }

    /// Fig. 12, 1201-1204: `read` is 631 as read from I, or `None` when the read failed.
    pub fn poll(&mut self, read: Option<ControlInfo>) -> Poll {
        if self.mode != Mode::Normal {
            return Poll::Idle;
        }
        let Some(info) = read else {
            if Fault::B17.on(self.faults) {
                self.detector.unchanged = 0;
                return Poll::Idle;
            }
            self.peer_failed(Failure::Io);
            return Poll::PeerFailed(Failure::Io);
        };
        if self.detector.silent(info.heartbeat, self.config.threshold, self.faults) {
            self.peer_failed(Failure::PeerSilent);
            return Poll::PeerFailed(Failure::PeerSilent);
        }
        if info.end() > self.end {
            self.end = info.end();
        }
        if self.pending.is_some() {
            return Poll::Idle;
        }
        let units = self.end.since(self.head).min(self.config.buffer_units);
        if units == 0 {
            Poll::Idle
        } else {
            Poll::Fetch { from: self.head, units }
        }
    }

    /// The read of the ring that [`Secondary::poll`] asked for failed: I is not accessible
    /// (1302), so S suspends (1308-1309). With control info over I, `poll` finds this out
    /// itself; with control info over a direct path (embodiment 2) only the fetch does.
    pub fn read_failed(&mut self) -> Poll {
        if self.mode != Mode::Normal {
            return Poll::Idle;
        }
        self.peer_failed(Failure::Io);
        Poll::PeerFailed(Failure::Io)
    }

    /// 1301-1302: P failed. With I answering, start the drain; without (`Failure::Io`),
    /// suspend at once (1308-1309).
    pub fn peer_failed(&mut self, why: Failure) {
        if !matches!(self.mode, Mode::Normal) {
            return;
        }
        self.pending = None;
        if why == Failure::Io {
            self.suspend();
        } else {
            self.mode = Mode::Draining { start: self.head };
        }
    }

    /// The drain's next read (1303-1306): the units from the head to the end of its scan, or
    /// `None` when the scan is over (then [`Secondary::finish_drain`]).
    pub fn drain_window(&self) -> Option<(Pos, u32)> {
        let Mode::Draining { start } = self.mode else { return None };
        if self.pending.is_some() {
            return None;
        }
        // The scan goes past the end P published (1306), one ring at most (L3); B2 stops there.
        let limit = if Fault::B2.on(self.faults) {
            self.end
        } else {
            Pos(start.0.saturating_add(self.config.geometry.queue_units))
        };
        let units = limit.since(self.head);
        (units > 0).then_some((self.head, units))
    }

    /// The drain's scan reached its bound, or I does not answer: suspend (1308/1309), the
    /// bitmap from the last journal applied. (A read that finds no further valid journal ends
    /// the drain by itself, in [`Secondary::fetched`].)
    pub fn finish_drain(&mut self) {
        if matches!(self.mode, Mode::Draining { .. }) {
            self.suspend();
        }
    }

    fn suspend(&mut self) {
        self.mode = Mode::Suspended;
        self.pending = None;
        self.bitmap = Bitmap { bits: 0, start_id: ReqId(self.last.id.0.saturating_add(1)), start_ts: self.last.ts };
    }

    /// Whether `u` can be the header of the journal after `last` (1306's existence test).
    fn starts_next(&self, u: &UnitTag, last: &JournalMeta, draining: bool) -> bool {
        if !u.intact || u.serial != 0 || self.config.geometry.journal_units(u.meta.blocks).is_none() {
            return false;
        }
        if draining && Fault::B7.on(self.faults) {
            return true;
        }
        let next_id = u.meta.id.0 == last.id.0.wrapping_add(1);
        let later = match self.variant {
            // "Greater than the previous request's time stamp" ([0139]).
            Variant::Faithful => u.meta.ts > last.ts,
            // (time stamp, id) order: the id already tells equal stamps apart (note S15).
            Variant::Hardened => u.meta.ts >= last.ts,
        };
        next_id && later
    }

    /// Whether `u` is unit `serial` of journal `c` (1307: protection data of every block, and
    /// the trailer on the last).
    fn continues(&self, u: &UnitTag, c: &Current, serial: u32, draining: bool) -> bool {
        if draining && Fault::B8.on(self.faults) {
            return true;
        }
        u.intact && u.meta == c.meta && u32::from(u.serial) == serial
    }

    /// 1204-1205 (and 1304-1307 in a drain): the units read from `from` (S's head). Calls
    /// `apply` for every unit to apply, in ring order; in a drain only whole journals that
    /// passed every check are applied. Then the caller applies them and calls
    /// [`Secondary::applied`].
    pub fn fetched(&mut self, from: Pos, units: &[UnitTag], mut apply: impl FnMut(Apply)) -> Result<Fetched, Declined> {
        if from != self.head {
            return Err(Declined::StaleRead { head: self.head, got: from });
        }
        let draining = matches!(self.mode, Mode::Draining { .. });
        let header = u32::from(self.config.geometry.header_units);
        let mut current = self.current;
        let mut last = self.last;
        // Units taken so far, and (in a drain) up to where whole journals were taken.
        let mut taken: u32 = 0;
        let mut whole: u32 = 0;
        for (i, u) in units.iter().enumerate() {
            let i = i as u32;
            let pos = Pos(from.0.saturating_add(i));
            let c = match current {
                None => {
                    if !self.starts_next(u, &last, draining) {
                        break;
                    }
                    Current { meta: u.meta, first: pos }
                }
                Some(c) => {
                    if !self.continues(u, &c, pos.since(c.first), draining) {
                        break;
                    }
                    c
                }
            };
            let serial = pos.since(c.first);
            let total = self.config.geometry.journal_units(c.meta.blocks).unwrap_or(1);
            taken = i + 1;
            if serial + 1 >= total {
                last = c.meta;
                current = None;
                if draining {
                    // The journal passed every check: apply its data units (those at or past
                    // `from`: a partial fetch may have applied the others already).
                    for s in 0..u32::from(c.meta.blocks) {
                        let at = Pos(c.first.0.saturating_add(header + s));
                        if at >= from {
                            apply(Apply { index: at.since(from), volume: c.meta.volume, addr: c.meta.addr.saturating_add(s) });
                        }
                    }
                    whole = taken;
                }
            } else {
                current = Some(c);
            }
            if !draining && serial >= header && serial < header + u32::from(c.meta.blocks) {
                apply(Apply { index: i, volume: c.meta.volume, addr: c.meta.addr.saturating_add(serial - header) });
            }
        }
        let (taken, current) = if draining { (whole, None) } else { (taken, current) };
        let mut to = Pos(from.0.saturating_add(taken));
        let mut current = current;
        if let (Some(c), true) = (current, Fault::B15.on(self.faults)) {
            // The cut journal's suffix is skipped: the head jumps to its end.
            let total = self.config.geometry.journal_units(c.meta.blocks).unwrap_or(1);
            to = Pos(c.first.0.saturating_add(total));
            last = c.meta;
            current = None;
        }
        if taken == 0 {
            // 1306: in a drain, a read that takes nothing found no further journal: the drain is
            // over (L3). B22 waits instead, as normal mode waits for a journal being written.
            if draining && !Fault::B22.on(self.faults) {
                self.suspend();
            }
            return Ok(Fetched { taken, publish_early: None });
        }
        self.pending = Some(Pending { to, current, last });
        let publish_early = if Fault::B10.on(self.faults) {
            self.commit();
            Some(self.record())
        } else {
            None
        };
        Ok(Fetched { taken, publish_early })
    }

    fn commit(&mut self) {
        if let Some(p) = self.pending {
            self.head = p.to;
            self.current = p.current;
            self.last = p.last;
            if self.head > self.end {
                self.end = self.head;
            }
        }
    }

    /// 1206-1207: the units of the last fetch are applied (durably): move the head over them
    /// and return the record to write as 632.
    pub fn applied(&mut self) -> Result<ControlInfo, Declined> {
        if self.pending.is_none() {
            return Err(Declined::NothingPending);
        }
        if !Fault::B10.on(self.faults) {
            self.commit();
        }
        self.pending = None;
        if Fault::B13.on(self.faults) {
            self.bump();
        }
        Ok(self.record())
    }

    /// S crashed and restarted: what it read but did not apply is gone, as is its heartbeat
    /// check; the head and the journal it is inside of are durable with the volumes.
    pub fn restart(&mut self) {
        self.pending = None;
        self.detector = Detector::default();
    }

    /// The console lets the secondary host take over (after the drain). Hardened: only once
    /// the console fenced P (note S14).
    pub fn take_over(&mut self, p_fenced: bool) -> Result<(), Declined> {
        if self.mode != Mode::Suspended {
            return Err(Declined::NotSuspended);
        }
        if self.variant == Variant::Hardened && !p_fenced {
            return Err(Declined::NotFenced);
        }
        self.mode = Mode::TakenOver;
        Ok(())
    }

    /// A secondary-host write after takeover: recorded in the bitmap (claim 6).
    pub fn host_write(&mut self, addr: u32, blocks: u16) -> Result<(), Declined> {
        if self.mode != Mode::TakenOver {
            return Err(Declined::NotWritable);
        }
        self.bitmap.mark_blocks(addr, blocks, self.config.region_blocks);
        Ok(())
    }
}
