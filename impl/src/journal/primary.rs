//! P, the primary storage subsystem: the host write path of Fig. 9, the control-info loop of
//! Fig. 10 and the failure processing of Fig. 11.
//!
//! P reserves ring space for a journal, the caller writes the journal's units to I at the
//! position given (M3) and reports completion ([`Primary::journal_written`]); P acknowledges
//! host writes and publishes its next position only over the contiguous prefix of completed
//! journals (note S1.iv, S5), so that several writes may be in flight at once.

use super::fault::Fault;
use super::types::{Bitmap, Detector, ControlInfo, Geometry, JournalMeta, Owner, PairState, Pos, ReqId, Ts, Variant};
use crate::fault::FaultSet;
use serde::{Deserialize, Serialize};

/// What P does when the ring has no room for a journal (step 912).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FullPolicy {
    /// (a) Answer the host BUSY.
    Busy,
    /// (b) Treat it as a failure of I: suspend (Fig. 11), record the write in the bitmap and
    /// complete it.
    Suspend,
}

/// P's settings, from configuration info 106.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub struct PrimaryConfig {
    pub geometry: Geometry,
    /// Blocks per bitmap region.
    pub region_blocks: u32,
    /// Consecutive unchanged heartbeat readings that declare S dead (1002; the text's example
    /// is 5 readings a second apart).
    pub threshold: u8,
    /// Heartbeats count modulo this (at least 2): `u32::MAX` in production, small in a model.
    pub heartbeat_modulus: u32,
    pub full: FullPolicy,
}

/// A journal reserved and being written to I.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub struct Inflight {
    pub meta: JournalMeta,
    pub pos: Pos,
    pub units: u32,
    /// I answered GOOD for every unit.
    pub complete: bool,
    /// The host has been told (only ever ahead of `complete` with faults B1, B3).
    pub acked: bool,
}

/// An entry of update info 108: what P needs to rebuild the bitmap if I fails.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub struct UpdateInfo {
    pub meta: JournalMeta,
    pub pos: Pos,
    pub units: u32,
}

/// A journal to write to I: units `[pos, pos + units)` of the ring, wrapping at its end.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub struct Reserved {
    pub meta: JournalMeta,
    pub pos: Pos,
    pub units: u32,
    /// Fault B1: the host is acknowledged now, before the journal is written.
    pub ack_now: bool,
}

/// What became of a host write (Fig. 9).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub enum Written {
    /// 902: the volume is not remote-copied: store locally and complete.
    Local,
    /// 910: suspended: the bitmap has the write's region; store locally and complete.
    /// `suspended_now` when this write's full ring suspended the pair (912(b)): report it.
    Marked { suspended_now: bool },
    /// 907: write this journal to I; complete the host on [`Primary::journal_written`].
    Journal(Reserved),
}

/// A host write P cannot take now.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, thiserror::Error, Serialize, Deserialize)]
pub enum Refused {
    #[error("BUSY: the journal ring has no room for this write (912(a))")]
    Busy,
    #[error("BUSY: {0} writes are already in flight")]
    InflightFull(usize),
    #[error("BUSY: update info 108 holds {0} entries, its bound")]
    UpdateInfoFull(usize),
    #[error("a journal of {0} blocks can never fit the ring")]
    TooLarge(u16),
    #[error("request ids or ring positions are spent")]
    Spent,
    #[error("intermediate {0} is down, or not the path in use")]
    PathDown(u8),
}

/// Host writes completed by a journal's completion: ids `from..=to`, in order (with fault B3,
/// one id that may be out of order).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub struct Acks {
    pub from: ReqId,
    pub to: ReqId,
}

impl Acks {
    pub fn contains(&self, id: ReqId) -> bool {
        self.from <= id && id <= self.to
    }
}

/// What P's control-info loop does with what it read of 632 (Fig. 10).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub enum ControlStep {
    /// 1003: write this record to I as 631.
    Publish(ControlInfo),
    /// 1006: S (or the path to I) failed: P ran failure processing ([`Primary::fail`]) and
    /// is suspended; report it to the console (1103).
    PeerFailed(Failure),
    /// Not in PAIR: nothing to exchange.
    Idle,
}

/// Why P or S entered failure processing.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub enum Failure {
    /// The peer's heartbeat did not change for `threshold` readings.
    PeerSilent,
    /// I answered an error or did not answer.
    Io,
    /// The ring was full and the policy is to suspend (912(b)).
    QueueFull,
    /// P itself crashed and restarted ([`Primary::restart`]).
    Restart,
}

/// The most secondaries one P's control round reads (embodiment 5); the configuration format
/// allows more (`format::MAX_SECONDARIES`), a bound for a later, larger P.
pub const MAX_SECONDARIES: usize = 4;

/// P, with at most `INFLIGHT` journals in flight and `UPDATES` entries of update info 108.
#[derive(Clone, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub struct Primary<const INFLIGHT: usize = 64, const UPDATES: usize = 4096> {
    pub config: PrimaryConfig,
    pub variant: Variant,
    pub faults: FaultSet,
    pub pair: PairState,
    /// Head 626: the oldest position S has not confirmed.
    pub head: Pos,
    /// Next position 628: where the next journal goes (reserved up to here).
    pub next: Pos,
    /// The end of the contiguous prefix of completed journals: what P may publish.
    pub done: Pos,
    /// B16 only: the end P publishes, refreshed on host writes alone.
    pub stale_done: Pos,
    /// The id the next journal gets.
    pub next_id: ReqId,
    pub last_ts: Ts,
    pub inflight: heapless::Vec<Inflight, INFLIGHT>,
    /// Update info 108, in id order.
    pub updates: heapless::Vec<UpdateInfo, UPDATES>,
    pub bitmap: Bitmap,
    /// P's heartbeat 621.
    pub heartbeat: u32,
    /// The heartbeat check on each S's 632 (embodiment 5 has several secondaries).
    pub detectors: [Detector; MAX_SECONDARIES],
}

impl<const INFLIGHT: usize, const UPDATES: usize> Primary<INFLIGHT, UPDATES> {
    /// P at the start of remote copy: the ring empty from `start`, ids from `first_id`.
    pub fn new(config: PrimaryConfig, variant: Variant, faults: FaultSet, start: Pos, first_id: ReqId) -> Self {
        assert!(config.heartbeat_modulus >= 2, "heartbeat modulus must be at least 2");
        assert!(config.threshold >= 1, "threshold must be at least 1");
        Primary {
            config,
            variant,
            faults,
            pair: PairState::Pair,
            head: start,
            next: start,
            done: start,
            stale_done: start,
            next_id: first_id,
            last_ts: Ts(0),
            inflight: heapless::Vec::new(),
            updates: heapless::Vec::new(),
            bitmap: Bitmap::default(),
            heartbeat: 0,
            detectors: [Detector::default(); MAX_SECONDARIES],
        }
    }

    /// Size 627: the region under remote copy.
    pub fn size(&self) -> u32 {
        self.next.since(self.head)
    }

    /// Free units of the ring as P computes them at 904.
    pub fn free(&self) -> u32 {
        let q = self.config.geometry.queue_units;
        if Fault::B4.on(self.faults) {
            // The free space from the next position to the queue's physical end, then from
            // its start again: the head is never consulted.
            let slot = self.next.slot(q);
            return if slot == 0 { q } else { q - slot };
        }
        q.saturating_sub(self.size())
    }

    /// Fig. 9 for a write of `blocks` blocks at `addr` of `volume`; `replicated` is the volume's
    /// remote-copy attribute (902), `reading` P's clock (or the host's time stamp).
    pub fn host_write(
        &mut self,
        volume: u16,
        addr: u32,
        blocks: u16,
        replicated: bool,
        reading: Ts,
    ) -> Result<Written, Refused> {
        if !replicated {
            return Ok(Written::Local);
        }
        if self.pair == PairState::Suspend {
            self.bitmap.mark_blocks(addr, blocks, self.config.region_blocks);
            return Ok(Written::Marked { suspended_now: false });
        }
        let units = self.config.geometry.journal_units(blocks).ok_or(Refused::TooLarge(blocks))?;
        if units > self.free() {
            return match self.config.full {
                FullPolicy::Busy => Err(Refused::Busy),
                FullPolicy::Suspend => {
                    self.fail(Failure::QueueFull);
                    self.bitmap.mark_blocks(addr, blocks, self.config.region_blocks);
                    Ok(Written::Marked { suspended_now: true })
                }
            };
        }
        if self.inflight.is_full() {
            return Err(Refused::InflightFull(INFLIGHT));
        }
        if self.updates.is_full() {
            return Err(Refused::UpdateInfoFull(UPDATES));
        }
        let end = self.next.plus(units).ok_or(Refused::Spent)?;
        let after = self.next_id.next().ok_or(Refused::Spent)?;
        // 705: strictly increasing stamps (note S15), unless the clock is coarse (B14).
        let ts = if Fault::B14.on(self.faults) {
            reading.max(self.last_ts)
        } else if reading > self.last_ts {
            reading
        } else {
            Ts(self.last_ts.0.checked_add(1).ok_or(Refused::Spent)?)
        };
        let meta = JournalMeta { id: self.next_id, ts, volume, addr, blocks };
        let pos = self.next;
        let ack_now = Fault::B1.on(self.faults);
        // Both pushes have room: checked above.
        let pushed = self.inflight.push(Inflight { meta, pos, units, complete: false, acked: ack_now });
        debug_assert!(pushed.is_ok());
        let pushed = self.updates.push(UpdateInfo { meta, pos, units });
        debug_assert!(pushed.is_ok());
        self.next = end;
        self.next_id = after;
        self.last_ts = ts;
        if Fault::B16.on(self.faults) {
            self.stale_done = self.done;
        }
        Ok(Written::Journal(Reserved { meta, pos, units, ack_now }))
    }

    /// I answered GOOD for every unit of journal `id` (M3 done). Returns the host writes to
    /// complete now: the contiguous prefix of completed journals (step 909 in id order), or
    /// `None` when this completion releases none.
    pub fn journal_written(&mut self, id: ReqId) -> Option<Acks> {
        let i = self.inflight.iter().position(|j| j.meta.id == id)?;
        if self.inflight[i].complete {
            return None;
        }
        self.inflight[i].complete = true;
        let mut out: Option<Acks> = None;
        if Fault::B3.on(self.faults) && !self.inflight[i].acked {
            // Acknowledged on its own completion, whatever is still in flight before it.
            self.inflight[i].acked = true;
            out = Some(Acks { from: id, to: id });
        }
        // The contiguous completed prefix: release it, advance `done`, acknowledge in order.
        while let Some(first) = self.inflight.first().copied() {
            if !first.complete {
                break;
            }
            self.inflight.remove(0);
            self.done = Pos(first.pos.0.saturating_add(first.units));
            if !first.acked {
                out = Some(match out {
                    Some(a) if !Fault::B3.on(self.faults) => Acks { from: a.from, to: first.meta.id },
                    _ => Acks { from: first.meta.id, to: first.meta.id },
                });
            }
            if Fault::B9.on(self.faults) {
                self.updates.retain(|u| u.meta.id != first.meta.id);
            }
        }
        debug_assert!(self.done <= self.next);
        out
    }

    /// The record P publishes as 631 (1003), heartbeat bumped.
    fn record(&mut self) -> ControlInfo {
        self.heartbeat = (self.heartbeat + 1) % self.config.heartbeat_modulus;
        let end = if Fault::B6.on(self.faults) {
            self.next
        } else if Fault::B16.on(self.faults) {
            self.stale_done.max(self.head)
        } else {
            self.done
        };
        ControlInfo { owner: Owner::Primary, head: self.head, size: end.since(self.head), heartbeat: self.heartbeat }
    }

    /// Fig. 10, one round: `read` is 632 as read from I (1001), or `None` when the read failed.
    pub fn control(&mut self, read: Option<ControlInfo>) -> ControlStep {
        self.control_all(&[read])
    }

    /// Fig. 10 with several secondaries (embodiment 5, Fig. 18): `reads[i]` is the i-th S's 632
    /// (`None`: the read failed). Every S's heartbeat is checked; the new head 626 is the
    /// **slowest** S's head (1003), so no journal any S still needs is freed (S2). B24 takes the
    /// fastest instead.
    pub fn control_all(&mut self, reads: &[Option<ControlInfo>]) -> ControlStep {
        assert!(!reads.is_empty() && reads.len() <= MAX_SECONDARIES, "1 to {MAX_SECONDARIES} secondaries");
        if self.pair != PairState::Pair {
            return ControlStep::Idle;
        }
        let mut slowest: Option<Pos> = None;
        let mut fastest: Option<Pos> = None;
        for (detector, read) in self.detectors.iter_mut().zip(reads) {
            let Some(info) = read else {
                if Fault::B17.on(self.faults) {
                    detector.unchanged = 0;
                    continue;
                }
                self.fail(Failure::Io);
                return ControlStep::PeerFailed(Failure::Io);
            };
            if detector.silent(info.heartbeat, self.config.threshold, self.faults) {
                self.fail(Failure::PeerSilent);
                return ControlStep::PeerFailed(Failure::PeerSilent);
            }
            slowest = Some(slowest.map_or(info.head, |h| h.min(info.head)));
            fastest = Some(fastest.map_or(info.head, |h| h.max(info.head)));
        }
        // 1003: the head S confirmed (never past what P has written, never backwards).
        let confirmed = if Fault::B24.on(self.faults) { fastest } else { slowest };
        if let (Some(confirmed), false) = (confirmed, Fault::B5.on(self.faults)) {
            let confirmed = confirmed.min(self.done);
            if confirmed > self.head {
                self.head = confirmed;
            }
        }
        // 1004: update info before the head is S's to forget.
        let head = self.head;
        self.updates.retain(|u| Pos(u.pos.0.saturating_add(u.units)) > head);
        ControlStep::Publish(self.record())
    }

    /// Fig. 11 (1106-1107): suspend and start the bitmap at the oldest journal S has not
    /// confirmed, from update info 108 (B11: from the failure on).
    pub fn fail(&mut self, _why: Failure) {
        if self.pair == PairState::Suspend {
            return;
        }
        self.pair = PairState::Suspend;
        let mut bitmap = Bitmap { bits: 0, start_id: self.next_id, start_ts: self.last_ts };
        if !Fault::B11.on(self.faults) {
            for u in &self.updates {
                if u.meta.id < bitmap.start_id {
                    bitmap.start_id = u.meta.id;
                    bitmap.start_ts = u.meta.ts;
                }
                bitmap.mark_blocks(u.meta.addr, u.meta.blocks, self.config.region_blocks);
            }
        }
        self.bitmap = bitmap;
    }

    /// P crashed and restarts: the journals it was writing are gone, and so is its view of
    /// the peer; its volumes are durable. P comes back suspended.
    ///
    /// - **Faithful**: the text keeps update info 108 in memory 205 (2.2), so the crash loses it,
    ///   and any bitmap P had. The bitmap restarts empty, from P's next request id, as S's does
    ///   at its failure point (1309). Step 1403 must then refuse a resync whenever S lacks a
    ///   journal P issued.
    /// - **Hardened** (INTERPRETATION): 108 and the bitmap are durable (disk 210, note 2.8). A P
    ///   that was in PAIR builds its bitmap from 108 as in Fig. 11. That includes the journals
    ///   still in flight at the crash: their data is on P's volume and perhaps nowhere else
    ///   (note S12). B20 leaves those out of the bits and keeps the start point.
    pub fn restart(&mut self) {
        self.detectors = [Detector::default(); MAX_SECONDARIES];
        if self.variant == Variant::Faithful {
            self.updates.clear();
            self.pair = PairState::Suspend;
            self.bitmap = Bitmap { bits: 0, start_id: self.next_id, start_ts: self.last_ts };
        } else if self.pair == PairState::Pair {
            if Fault::B20.on(self.faults) {
                let start = self.updates.first().map(|u| (u.meta.id, u.meta.ts));
                let cut: heapless::Vec<ReqId, INFLIGHT> =
                    self.inflight.iter().filter(|j| !j.complete).map(|j| j.meta.id).collect();
                self.updates.retain(|u| !cut.contains(&u.meta.id));
                self.fail(Failure::Restart);
                if let Some((id, ts)) = start {
                    if id < self.bitmap.start_id {
                        self.bitmap.start_id = id;
                        self.bitmap.start_ts = ts;
                    }
                }
            } else {
                self.fail(Failure::Restart);
            }
        }
        self.inflight.clear();
    }
}
