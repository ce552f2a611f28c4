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
//! flight, and the thread that completes it acknowledges the whole prefix. Waiters block on a
//! condition variable that every critical section advancing the acknowledged prefix (or
//! suspending the pair) notifies.
//!
//! Everything is written against the [`crate::sync`] facade (and its loom or std condition
//! variable), so under `--cfg loom` the lock, condition variable and clock are loom's, and loom
//! checks this structure exactly as it is compiled (`impl/tests/loom_journal.rs`).

use super::primary::{Acks, ControlStep, Failure, Primary, Refused, Written};
use super::types::{ControlInfo, PairState, Pos, ReqId, Ts};
use crate::sync::{AtomicU64, Mutex, MutexGuard, Ordering};

#[cfg(loom)]
use loom::sync::Condvar;
#[cfg(not(loom))]
use std::sync::Condvar;

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

/// A [`Primary`] shared by host threads (and P's control-info loop).
#[derive(Debug)]
pub struct SharedPrimary<const INFLIGHT: usize = 64, const UPDATES: usize = 4096> {
    primary: Mutex<Primary<INFLIGHT, UPDATES>>,
    /// Notified when the acknowledged prefix advances or the pair suspends.
    progress: Condvar,
    clock: Clock,
}

type Guard<'a, const INFLIGHT: usize, const UPDATES: usize> = MutexGuard<'a, Primary<INFLIGHT, UPDATES>>;

impl<const INFLIGHT: usize, const UPDATES: usize> SharedPrimary<INFLIGHT, UPDATES> {
    /// Share `primary`, stamping journals from `clock`.
    pub fn new(primary: Primary<INFLIGHT, UPDATES>, clock: Clock) -> Self {
        SharedPrimary { primary: Mutex::new(primary), progress: Condvar::new(), clock }
    }

    fn lock(&self) -> Guard<'_, INFLIGHT, UPDATES> {
        self.primary.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Run `f` on P under the lock; wake the waiters if it advanced the acknowledged prefix
    /// or suspended the pair.
    fn update<R>(&self, f: impl FnOnce(&mut Primary<INFLIGHT, UPDATES>) -> R) -> R {
        let mut p = self.lock();
        let before = progress_of(&p);
        let out = f(&mut p);
        let advanced = progress_of(&p) != before;
        drop(p);
        if advanced {
            self.progress.notify_all();
        }
        out
    }

    /// Fig. 9 for a host write of `blocks` blocks at `addr` of a remote-copied `volume` (902 is
    /// the caller's: a volume that is not remote-copied never comes here). Under one lock: the
    /// clock is read, and the request id, time stamp, ring position and update info 108 entry
    /// are taken. On [`Written::Journal`] the caller writes the journal's units to the
    /// intermediate, unlocked, then calls [`complete`](Self::complete).
    pub fn reserve(&self, volume: u16, addr: u32, blocks: u16) -> Result<Written, Refused> {
        self.update(|p| p.host_write(volume, addr, blocks, true, self.clock.tick()))
    }

    /// The intermediate answered GOOD for every unit of journal `id`. Returns the host writes
    /// to acknowledge now (the contiguous prefix of completed journals, in id order), or `None`
    /// when a lower journal is still being written. Writes in the returned range that are not
    /// the caller's belong to threads waiting in [`wait_acked`](Self::wait_acked), which this
    /// wakes.
    pub fn complete(&self, id: ReqId) -> Option<Acks> {
        self.update(|p| p.journal_written(id))
    }

    /// Every host write with an id at or below this one is acknowledged (0: none yet).
    pub fn acked_through(&self) -> ReqId {
        acked_through(&self.lock())
    }

    /// Block until write `id` is acknowledged in order or the pair is suspended. A thread whose
    /// `complete` returned [`Acks`] containing `id` need not wait. It waits only on other
    /// threads' `complete` (or on [`fail`](Self::fail)): a journal whose write fails must be
    /// reported through `fail`, or waiters behind it never return.
    pub fn wait_acked(&self, id: ReqId) -> Acked {
        let mut p = self.lock();
        loop {
            if acked_through(&p) >= id {
                return Acked::InOrder;
            }
            if p.pair == PairState::Suspend {
                return Acked::Suspended;
            }
            p = self.progress.wait(p).unwrap_or_else(|poisoned| poisoned.into_inner());
        }
    }

    /// The end of the region P publishes (631): `done`, the end of the contiguous prefix of
    /// completed journals (seeded faults B6 and B16 make P publish something else).
    pub fn published_end(&self) -> Pos {
        self.lock().done
    }

    /// Fig. 10, one round of P's control-info loop, on the shared state.
    pub fn control(&self, read: Option<ControlInfo>) -> ControlStep {
        self.update(|p| p.control(read))
    }

    /// Fig. 11: failure processing (for instance the intermediate failed a journal write).
    /// Waiters in [`wait_acked`](Self::wait_acked) return [`Acked::Suspended`].
    pub fn fail(&self, why: Failure) {
        self.update(|p| p.fail(why))
    }

    /// A copy of P's state, for inspection.
    pub fn snapshot(&self) -> Primary<INFLIGHT, UPDATES> {
        self.lock().clone()
    }
}

/// Every id below the oldest journal whose host is not yet told is acknowledged (journals are
/// in flight in id order; with fault B3 a later one may be told first, and does not count).
fn acked_through<const INFLIGHT: usize, const UPDATES: usize>(p: &Primary<INFLIGHT, UPDATES>) -> ReqId {
    let first_unacked = p.inflight.iter().find(|j| !j.acked).map_or(p.next_id, |j| j.meta.id);
    ReqId(first_unacked.0.saturating_sub(1))
}

/// What waiters wait for: the acknowledged prefix and whether the pair is suspended.
fn progress_of<const INFLIGHT: usize, const UPDATES: usize>(p: &Primary<INFLIGHT, UPDATES>) -> (ReqId, bool) {
    (acked_through(p), p.pair == PairState::Suspend)
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
