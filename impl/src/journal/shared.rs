//! The piece of P that production threads share: one [`Primary`] behind a lock, used by many
//! host threads at once (note section 9, "P write path"; S1.iv, S5).
//!
//! Each host thread [`reserve`](SharedPrimary::reserve)s ring space (request id, time stamp and
//! ring position are taken in one critical section, so id order, time-stamp order and position
//! order agree), writes its journal to the intermediate *outside* the lock (the caller's I/O),
//! and reports the write with [`complete`](SharedPrimary::complete). Journals therefore finish
//! in any order. The invariant this piece keeps:
//!
//! - a host write is acknowledged (it appears in an [`Acks`] that `complete` returns, or at or
//!   below [`acked_through`](SharedPrimary::acked_through)) only once its own journal and every
//!   journal of a lower id are completely written (S1.iv: in-order acknowledgement);
//! - the end P publishes ([`published_end`](SharedPrimary::published_end)) never covers a
//!   journal still being written (S5).
//!
//! A host thread whose own id is not in the [`Acks`] its `complete` returned tells its host
//! only once [`wait_acked`](SharedPrimary::wait_acked) returns: a lower journal was still in
//! flight, and the thread that completes it acknowledges the whole prefix.
//!
//! Everything is written against the [`crate::sync`] facade, so under `--cfg loom` the lock and
//! atomics are loom's, and loom checks this structure exactly as it is compiled
//! (`impl/tests/loom_journal.rs`).

use super::primary::{Acks, ControlStep, Failure, Primary, Refused, Written};
use super::types::{ControlInfo, PairState, Pos, ReqId, Ts};
use crate::sync::{AtomicU64, Mutex, MutexGuard, Ordering};

#[cfg(loom)]
use loom::thread::yield_now;
#[cfg(not(loom))]
use std::thread::yield_now;

/// P's time base for journal time stamps 705: strictly increasing readings.
#[derive(Debug, Default)]
pub struct Clock(AtomicU64);

impl Clock {
    /// A clock whose first reading is `start + 1`.
    pub fn new(start: Ts) -> Clock {
        Clock(AtomicU64::new(u64::from(start.0)))
    }

    /// The next reading; no two callers get the same one. Saturates at the largest time stamp
    /// (P then refuses further writes as spent rather than stamp two alike).
    pub fn tick(&self) -> Ts {
        let t = self.0.fetch_add(1, Ordering::SeqCst) + 1;
        Ts(u32::try_from(t).unwrap_or(u32::MAX))
    }
}

/// How a wait for a host write's acknowledgement ended ([`SharedPrimary::wait_acked`]).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Acked {
    /// The write and every lower one are acknowledged: their journals are on the intermediate.
    InOrder,
    /// The pair is suspended (Fig. 11): the write is recorded in P's bitmap, so the host may be
    /// completed although its journal (or a lower one) was not confirmed written.
    Suspended,
}

/// The bit of the progress word that says the pair is suspended; the low 32 bits are the id
/// acknowledged through.
const SUSPENDED: u64 = 1 << 32;

/// A [`Primary`] shared by host threads (and P's control-info loop).
#[derive(Debug)]
pub struct SharedPrimary<const INFLIGHT: usize = 64, const UPDATES: usize = 4096> {
    primary: Mutex<Primary<INFLIGHT, UPDATES>>,
    clock: Clock,
    /// A lock-free mirror of P's acknowledgement progress, written only under the lock (so it
    /// never goes backwards): the id acknowledged through, plus the suspended bit.
    progress: AtomicU64,
}

impl<const INFLIGHT: usize, const UPDATES: usize> SharedPrimary<INFLIGHT, UPDATES> {
    /// Share `primary`, stamping journals from `clock`.
    pub fn new(primary: Primary<INFLIGHT, UPDATES>, clock: Clock) -> Self {
        let progress = AtomicU64::new(progress_of(&primary));
        SharedPrimary { primary: Mutex::new(primary), clock, progress }
    }

    fn lock(&self) -> MutexGuard<'_, Primary<INFLIGHT, UPDATES>> {
        self.primary.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Mirror P's progress; called at the end of every critical section that may change it.
    fn publish(&self, p: &Primary<INFLIGHT, UPDATES>) {
        self.progress.store(progress_of(p), Ordering::SeqCst);
    }

    /// Fig. 9 for a host write of `blocks` blocks at `addr` of a remote-copied `volume` (902 is
    /// the caller's: a volume that is not remote-copied never comes here). Under one lock: the
    /// clock is read, and the request id, time stamp, ring position and update info 108 entry
    /// are taken. On [`Written::Journal`] the caller writes the journal's units to the
    /// intermediate, unlocked, then calls [`complete`](Self::complete).
    pub fn reserve(&self, volume: u16, addr: u32, blocks: u16) -> Result<Written, Refused> {
        let mut p = self.lock();
        let now = self.clock.tick();
        let written = p.host_write(volume, addr, blocks, true, now);
        self.publish(&p);
        written
    }

    /// The intermediate answered GOOD for every unit of journal `id`. Returns the host writes
    /// to acknowledge now (the contiguous prefix of completed journals, in id order), or `None`
    /// when a lower journal is still being written. Writes in the returned range that are not
    /// the caller's belong to threads waiting in [`wait_acked`](Self::wait_acked), which see
    /// them acknowledged once this returns.
    pub fn complete(&self, id: ReqId) -> Option<Acks> {
        let mut p = self.lock();
        let acks = p.journal_written(id);
        self.publish(&p);
        acks
    }

    /// Every host write with an id at or below this one is acknowledged (0: none yet). Lock-free.
    pub fn acked_through(&self) -> ReqId {
        ReqId(self.progress.load(Ordering::SeqCst) as u32)
    }

    /// Wait, spinning and yielding, until write `id` is acknowledged in order or the pair is
    /// suspended. A thread whose `complete` returned [`Acks`] containing `id` need not wait.
    /// It waits only on other threads' `complete` (or on [`fail`](Self::fail)): a journal
    /// whose write fails must be reported through `fail`, or waiters behind it never return.
    pub fn wait_acked(&self, id: ReqId) -> Acked {
        loop {
            let progress = self.progress.load(Ordering::SeqCst);
            if ReqId(progress as u32) >= id {
                return Acked::InOrder;
            }
            if progress & SUSPENDED != 0 {
                return Acked::Suspended;
            }
            yield_now();
        }
    }

    /// The end of the region P publishes (631): the end of the contiguous prefix of completed
    /// journals.
    pub fn published_end(&self) -> Pos {
        self.lock().done
    }

    /// Fig. 10, one round of P's control-info loop, on the shared state.
    pub fn control(&self, read: Option<ControlInfo>) -> ControlStep {
        let mut p = self.lock();
        let step = p.control(read);
        self.publish(&p);
        step
    }

    /// Fig. 11: failure processing (for instance the intermediate failed a journal write).
    /// Waiters in [`wait_acked`](Self::wait_acked) return [`Acked::Suspended`].
    pub fn fail(&self, why: Failure) {
        let mut p = self.lock();
        p.fail(why);
        self.publish(&p);
    }

    /// A copy of P's state, for inspection.
    pub fn snapshot(&self) -> Primary<INFLIGHT, UPDATES> {
        self.lock().clone()
    }
}

/// The progress word of `p`: every id below the oldest journal whose host is not yet told is
/// acknowledged (journals are in flight in id order), plus the suspended bit.
fn progress_of<const INFLIGHT: usize, const UPDATES: usize>(p: &Primary<INFLIGHT, UPDATES>) -> u64 {
    let first_unacked = p.inflight.iter().find(|j| !j.acked).map_or(p.next_id, |j| j.meta.id);
    let through = u64::from(first_unacked.0.saturating_sub(1));
    let suspended = if p.pair == PairState::Suspend { SUSPENDED } else { 0 };
    through | suspended
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use crate::fault::FaultSet;
    use crate::journal::{FullPolicy, Geometry, PrimaryConfig, Variant};
    use std::sync::Arc;

    fn shared() -> SharedPrimary<8, 16> {
        let config = PrimaryConfig {
            geometry: Geometry { queue_units: 64, header_units: 1, trailer_units: 1 },
            region_blocks: 1,
            threshold: 2,
            heartbeat_modulus: u32::MAX,
            full: FullPolicy::Busy,
        };
        let p = Primary::new(config, Variant::Hardened, FaultSet::NONE, Pos(0), ReqId(1));
        SharedPrimary::new(p, Clock::new(Ts(0)))
    }

    fn reserve(s: &SharedPrimary<8, 16>, addr: u32) -> ReqId {
        match s.reserve(0, addr, 1).unwrap() {
            Written::Journal(r) => r.meta.id,
            other => panic!("expected a journal, got {other:?}"),
        }
    }

    #[test]
    fn out_of_order_completion_acknowledges_in_order() {
        let s = shared();
        let (a, b) = (reserve(&s, 0), reserve(&s, 1));
        assert_eq!((a, b), (ReqId(1), ReqId(2)));
        assert_eq!(s.complete(b), None);
        assert_eq!(s.acked_through(), ReqId(0));
        assert_eq!(s.published_end(), Pos(0));
        assert_eq!(s.complete(a), Some(Acks { from: a, to: b }));
        assert_eq!(s.acked_through(), b);
        assert_eq!(s.wait_acked(b), Acked::InOrder);
        assert_eq!(s.published_end(), Pos(6));
        let snap = s.snapshot();
        assert_eq!((snap.done, snap.next), (Pos(6), Pos(6)));
        assert!(snap.last_ts > Ts(0));
    }

    #[test]
    fn failure_releases_waiters() {
        let s = shared();
        let (_a, b) = (reserve(&s, 0), reserve(&s, 1));
        assert_eq!(s.complete(b), None);
        s.fail(Failure::Io);
        assert_eq!(s.wait_acked(b), Acked::Suspended);
        assert_eq!(s.acked_through(), ReqId(0));
    }

    #[test]
    fn host_threads_are_told_in_order() {
        let s = Arc::new(shared());
        let beat = Arc::new(std::sync::atomic::AtomicU32::new(0));
        let handles: Vec<_> = (0..4u32)
            .map(|t| {
                let (s, beat) = (s.clone(), beat.clone());
                std::thread::spawn(move || {
                    let mut told = Vec::new();
                    for i in 0..25u32 {
                        let id = loop {
                            match s.reserve(0, t * 25 + i, 1) {
                                Ok(Written::Journal(r)) => break r.meta.id,
                                Ok(other) => panic!("expected a journal, got {other:?}"),
                                // The ring (64 units) holds at most 21 journals: let S confirm.
                                Err(_) => {
                                    let done = s.published_end();
                                    s.control(Some(ControlInfo {
                                        owner: crate::journal::Owner::Secondary(0),
                                        head: done,
                                        size: 0,
                                        heartbeat: beat.fetch_add(1, std::sync::atomic::Ordering::SeqCst),
                                    }));
                                    std::thread::yield_now();
                                }
                            }
                        };
                        let own = s.complete(id).is_some_and(|a| a.contains(id));
                        if !own {
                            assert_eq!(s.wait_acked(id), Acked::InOrder);
                        }
                        assert!(s.acked_through() >= id);
                        told.push(id);
                    }
                    told
                })
            })
            .collect();
        let mut all: Vec<ReqId> = handles.into_iter().flat_map(|h| h.join().unwrap()).collect();
        all.sort();
        assert_eq!(all, (1..=100).map(ReqId).collect::<Vec<_>>());
        let snap = s.snapshot();
        assert_eq!(snap.done, snap.next);
        assert!(snap.inflight.is_empty());
        assert_eq!(s.acked_through(), ReqId(100));
    }
}
