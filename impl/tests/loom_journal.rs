//! Loom checks of [`rcopy::journal::shared::SharedPrimary`], the piece of P that host threads
//! share (note `shared/protocols/seed-003.md`, S1 (iv), S5 and section 9 "P write path").
//!
//! `SharedPrimary` is written against the `rcopy::sync` facade, so under `--cfg loom` its mutex,
//! condition variable and clock are loom's, and loom explores every interleaving of the threads
//! below (bounded where stated) against the code exactly as it is compiled.
//!
//! The scenario: each host thread reserves one journal (`reserve`), "writes" it to the
//! intermediate (no real I/O: it sets its journal's bit in a loom atomic, a step of its own
//! between reservation and completion, mirrored in a std atomic that is the checks' ground
//! truth of "this journal is completely on I"), reports it (`complete`), and then tells its
//! host: at once if the `Acks` it got back contain its own id, otherwise once `wait_acked`
//! returns. At the observation points of the test (see below) a thread also reads
//! `acked_through` and `published_end`. In every execution, whenever a thread observes it:
//!
//! * S1.iv: an id is acknowledged (in an `Acks` that `complete` returned, at or below
//!   `acked_through`, or its host told) only if its journal and every lower id's journal are
//!   completely written;
//! * S5: `published_end` covers no journal that is not completely written, and lies on a
//!   journal boundary;
//! * each reservation gets the next id, its ring position (journals back to back) and a time
//!   stamp above the previous one's;
//! * at the end every write was acknowledged exactly once across all returned `Acks`, every
//!   host was told (`wait_acked` answered `InOrder`), `done == next`, nothing is in flight and
//!   `acked_through` is the last id.
//!
//! Against vacuity, each passing test also checks, after `loom::model` returns, that every order
//! in which the journals finished writing occurred, that some `complete` returned `None` (a
//! journal completed while a lower one was still being written, so its host waited in
//! `wait_acked`), that some `complete` acknowledged another thread's write, and that in some
//! execution every `complete` acknowledged exactly its own write.
//!
//! - `in_order_acknowledgement`: 2 hosts, exhaustive (no preemption bound); threads observe
//!   with their journal written but not yet reported, and after `complete`.
//! - `in_order_acknowledgement_every_step`: 2 hosts, observing after every step (reserve,
//!   write, complete, host told); at most 4 preemptions.
//! - `in_order_acknowledgement_three_hosts`: 3 hosts, observing as the first test; at most 3
//!   preemptions.
//! - `b3_out_of_order_ack_found_by_loom` (only with the cargo feature `faults`): the first
//!   test's scenario with seeded fault B3 switched on in P's `FaultSet`: each write is
//!   acknowledged on its own journal's completion. The test asserts that loom finds the S1.iv
//!   violation: the model must panic with the S1.iv assertion's message. The panic message and
//!   backtrace that the default hook prints for this test are expected.
//!
//! How to run (the file is empty unless compiled with `--cfg loom`; `--release` keeps it fast):
//!
//! ```text
//! RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=target/loom \
//!     cargo test -p rcopy --features faults --release --test loom_journal
//! RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=target/loom \
//!     cargo test -p rcopy --release --test loom_journal          # B3 test compiled out
//! ```
//!
//! Loom's usual environment variables (`LOOM_MAX_PREEMPTIONS`, `LOOM_LOG`, ...) apply, except
//! where a test sets a field of `loom::model::Builder` itself (the exhaustive tests' preemption
//! bound). Each test prints how many executions it explored (`-- --nocapture`).
#![cfg(loom)]

use loom::sync::atomic::{AtomicU32, Ordering};
use loom::sync::Arc;
use loom::thread;
use rcopy::fault::FaultSet;
use rcopy::journal::shared::{Acked, Clock, SharedPrimary};
use rcopy::journal::{
    Acks, FullPolicy, Geometry, JournalMeta, Pos, Primary, PrimaryConfig, ReqId, Ts, Variant, Written,
};
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU32 as StdAtomicU32, AtomicUsize, Ordering as StdOrdering};
use std::sync::Mutex as StdMutex;

/// The prefix of the S1.iv assertion's panic message; the B3 test looks for it.
const S1IV_VIOLATED: &str = "S1.iv violated";
/// Units of a one-block journal: header, data, trailer.
const UNITS: u32 = 3;

type Shared = SharedPrimary<4, 8>;

fn shared(faults: FaultSet) -> Shared {
    let config = PrimaryConfig {
        geometry: Geometry { queue_units: 16, header_units: 1, trailer_units: 1 },
        region_blocks: 1,
        threshold: 2,
        heartbeat_modulus: u32::MAX,
        full: FullPolicy::Busy,
    };
    let p = Primary::<4, 8>::new(config, Variant::Hardened, faults, Pos(0), ReqId(1));
    SharedPrimary::new(p, Clock::new(Ts(100)))
}

/// Journal `id`'s ring position: one-block journals are reserved back to back from 0.
fn pos_of(id: u32) -> u32 {
    (id - 1) * UNITS
}

/// One execution's shared world: P, and the ground truth of which journals are on I.
struct World {
    s: Shared,
    /// The intermediate: bit `id - 1` is set when journal `id` is completely written (a loom
    /// atomic, so the write is a step of its own that loom interleaves with the others).
    intermediate: AtomicU32,
    /// The checks' ground truth: a std mirror of `intermediate`, set right after it with no
    /// loom operation between, so reading it is not a step of the model. Loom runs one thread
    /// at a time, so this is what is written at the moment a check reads it; bits only ever
    /// get set, so a journal found unwritten by a check was unwritten at every earlier point.
    written: StdAtomicU32,
    /// How many journals the scenario writes.
    n: u32,
    /// The ids in the order their journals finished writing (a std structure outside loom's
    /// model, pushed right after the loom store it records, with no loom operation between).
    write_order: StdMutex<Vec<u32>>,
}

impl World {
    /// The journals completely written so far.
    fn written(&self) -> u32 {
        self.written.load(StdOrdering::SeqCst)
    }

    /// S1.iv: write `id` was acknowledged (`how`), so its journal and every lower one must be
    /// completely written. The flags only ever go from unwritten to written, so one found
    /// unwritten now was unwritten when the acknowledgement was given.
    fn check_acked(&self, id: u32, how: &str) {
        assert!(id <= self.n, "write {id} acknowledged ({how}) but never reserved");
        let written = self.written();
        for j in 1..=id {
            assert!(
                written & (1 << (j - 1)) != 0,
                "{S1IV_VIOLATED}: write {id} acknowledged ({how}) while journal {j} is not completely written"
            );
        }
    }

    /// Everything a thread can observe of P at any point: `acked_through` and `published_end`.
    fn observe(&self, at: &str) {
        let through = self.s.acked_through().0;
        self.check_acked(through, &format!("acked_through {through}, observed {at}"));
        let end = self.s.published_end().0;
        assert!(end % UNITS == 0, "S5 violated: published end {end} is not a journal boundary ({at})");
        let written = self.written();
        for id in 1..=self.n {
            assert!(
                pos_of(id) >= end || written & (1 << (id - 1)) != 0,
                "S5 violated: published end {end} covers journal {id}, not completely written ({at})"
            );
        }
    }
}

/// What one host thread saw.
struct Host {
    meta: JournalMeta,
    /// What its `complete` returned.
    acks: Option<Acks>,
}

/// After which steps a host thread observes P (`acked_through` and `published_end`). Each
/// observation takes P's lock twice, so every point multiplies the interleavings.
#[derive(Clone, Copy)]
struct Points {
    reserve: bool,
    write: bool,
    complete: bool,
    told: bool,
}

/// Observe where it matters most: with its own journal written but not yet reported (others'
/// journals may be anywhere), and after its `complete`.
const KEY_POINTS: Points = Points { reserve: false, write: true, complete: true, told: false };
/// Observe after every step.
const EVERY_STEP: Points = Points { reserve: true, write: true, complete: true, told: true };

/// One host thread: reserve, write, complete, tell the host; observing P at the points `at`.
fn host(w: &World, h: u16, at: Points) -> Host {
    let r = match w.s.reserve(0, u32::from(h), 1) {
        Ok(Written::Journal(r)) => r,
        other => panic!("host {h}: expected a journal reservation, got {other:?}"),
    };
    let id = r.meta.id.0;
    assert_eq!((r.pos, r.units, r.ack_now), (Pos(pos_of(id)), UNITS, false), "host {h}: reservation {r:?}");
    if at.reserve {
        w.observe("after reserve");
    }
    // The journal write to the intermediate, outside the lock.
    w.intermediate.fetch_or(1 << (id - 1), Ordering::SeqCst);
    w.written.fetch_or(1 << (id - 1), StdOrdering::SeqCst);
    w.write_order.lock().unwrap().push(id);
    if at.write {
        w.observe("after the journal write");
    }
    let acks = w.s.complete(r.meta.id);
    if let Some(a) = acks {
        assert!(a.from <= a.to, "empty acks {a:?}");
        for k in a.from.0..=a.to.0 {
            w.check_acked(k, &format!("in {a:?} returned to the completer of {id}"));
        }
    }
    if at.complete {
        w.observe("after complete");
    }
    if !acks.is_some_and(|a| a.contains(r.meta.id)) {
        // A lower journal was still being written: its completer acknowledges this write.
        assert_eq!(w.s.wait_acked(r.meta.id), Acked::InOrder, "host {h}: the pair never suspends here");
    }
    w.check_acked(id, "host told");
    if at.told {
        w.observe("after the host was told");
    }
    Host { meta: r.meta, acks }
}

/// What one execution produced, for the checks against vacuity.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Debug)]
struct Trace {
    write_order: Vec<u32>,
    /// By id: what that journal's `complete` returned (`Acks` `from` and `to`).
    acks: Vec<Option<(u32, u32)>>,
}

/// The scenario with `hosts` host threads; checks every execution and returns its trace.
fn run_scenario(faults: FaultSet, hosts: u16, at: Points) -> Trace {
    let n = u32::from(hosts);
    let w = Arc::new(World {
        s: shared(faults),
        intermediate: AtomicU32::new(0),
        written: StdAtomicU32::new(0),
        n,
        write_order: StdMutex::new(Vec::new()),
    });
    let handles: Vec<_> = (0..hosts)
        .map(|h| {
            let w = w.clone();
            thread::spawn(move || host(&w, h, at))
        })
        .collect();
    let mut seen: Vec<Host> = handles.into_iter().map(|t| t.join().unwrap()).collect();
    seen.sort_by_key(|x| x.meta.id);
    // Ids 1..=n, one each, stamped in id order (stamping and reservation are one critical section).
    let ids: Vec<u32> = seen.iter().map(|x| x.meta.id.0).collect();
    assert_eq!(ids, (1..=n).collect::<Vec<_>>(), "ids given out");
    assert!(seen.windows(2).all(|p| p[0].meta.ts < p[1].meta.ts), "time stamps not ascending in id order");
    // Every write acknowledged exactly once.
    for id in 1..=n {
        let times = seen.iter().filter(|x| x.acks.is_some_and(|a| a.contains(ReqId(id)))).count();
        assert_eq!(times, 1, "write {id} acknowledged {times} times");
    }
    let end = Pos(n * UNITS);
    let snap = w.s.snapshot();
    assert_eq!((snap.done, snap.next), (end, end), "done must reach next");
    assert!(snap.inflight.is_empty(), "left in flight: {:?}", snap.inflight);
    assert_eq!(snap.next_id, ReqId(n + 1));
    assert_eq!(w.s.acked_through(), ReqId(n));
    assert_eq!(w.s.published_end(), end);
    w.observe("after the joins");
    let write_order = w.write_order.lock().unwrap().clone();
    Trace { write_order, acks: seen.iter().map(|x| x.acks.map(|a| (a.from.0, a.to.0))).collect() }
}

/// Counts the executions a model explored (a std atomic: it lives outside loom's model).
fn model_counted(builder: &loom::model::Builder, f: impl Fn() + Sync + Send + 'static) -> usize {
    let count = std::sync::Arc::new(AtomicUsize::new(0));
    let c = count.clone();
    builder.check(move || {
        c.fetch_add(1, StdOrdering::Relaxed);
        f();
    });
    let n = count.load(StdOrdering::Relaxed);
    eprintln!("explored {n} executions");
    n
}

/// Every permutation of `1..=n`.
fn permutations(n: u32) -> BTreeSet<Vec<u32>> {
    if n == 0 {
        return BTreeSet::from([Vec::new()]);
    }
    let mut out = BTreeSet::new();
    for p in permutations(n - 1) {
        for i in 0..=p.len() {
            let mut q = p.clone();
            q.insert(i, n);
            out.insert(q);
        }
    }
    out
}

/// Runs the scenario with `hosts` threads under `builder`, and checks it was not vacuous.
fn check_in_order(builder: &loom::model::Builder, hosts: u16, at: Points) {
    let seen: std::sync::Arc<StdMutex<BTreeSet<Trace>>> = Default::default();
    let rec = seen.clone();
    model_counted(builder, move || {
        let t = run_scenario(FaultSet::NONE, hosts, at);
        rec.lock().unwrap().insert(t);
    });
    let seen = seen.lock().unwrap();
    let orders: BTreeSet<Vec<u32>> = seen.iter().map(|t| t.write_order.clone()).collect();
    assert_eq!(orders, permutations(u32::from(hosts)), "journal write orders explored");
    // Out-of-order completion: some journal completed while a lower one was being written.
    assert!(seen.iter().any(|t| t.acks.iter().any(Option::is_none)), "no complete ever held acks back");
    // And its waiting host was then acknowledged by another thread's complete.
    let by_other =
        |t: &Trace| t.acks.iter().enumerate().any(|(i, a)| a.is_some_and(|a| a != (i as u32 + 1, i as u32 + 1)));
    assert!(seen.iter().any(by_other), "no complete ever acknowledged another thread's write");
    // And the in-order case too: every complete acknowledged exactly its own write.
    assert!(
        seen.iter().any(|t| t.acks.iter().enumerate().all(|(i, a)| *a == Some((i as u32 + 1, i as u32 + 1)))),
        "journals never completed in id order"
    );
    let held: usize = seen.iter().filter(|t| t.acks.iter().any(Option::is_none)).count();
    eprintln!("{} distinct outcomes, {} write orders, {held} with a held-back ack", seen.len(), orders.len());
}

#[test]
fn in_order_acknowledgement() {
    // Exhaustive (no preemption bound): 2 hosts x 1 write, observing at the key points.
    let mut b = loom::model::Builder::new();
    b.preemption_bound = None;
    check_in_order(&b, 2, KEY_POINTS);
}

#[test]
fn in_order_acknowledgement_every_step() {
    // 2 hosts x 1 write, observing after every step; bounded to 4 preemptions (exhaustive
    // takes minutes; `LOOM_MAX_PREEMPTIONS` overrides the bound).
    let mut b = loom::model::Builder::new();
    b.preemption_bound = b.preemption_bound.or(Some(4));
    check_in_order(&b, 2, EVERY_STEP);
}

#[test]
fn in_order_acknowledgement_three_hosts() {
    // 3 hosts x 1 write, observing at the key points; bounded to 3 preemptions to stay within
    // seconds (`LOOM_MAX_PREEMPTIONS` overrides the bound).
    let mut b = loom::model::Builder::new();
    b.preemption_bound = b.preemption_bound.or(Some(3));
    check_in_order(&b, 3, KEY_POINTS);
}

#[cfg(feature = "faults")]
#[test]
fn b3_out_of_order_ack_found_by_loom() {
    use rcopy::journal::Fault;
    let b3 = FaultSet::NONE.with(Fault::B3 as u32).expect("built with feature faults");
    let mut b = loom::model::Builder::new();
    b.preemption_bound = None;
    let count = std::sync::Arc::new(AtomicUsize::new(0));
    let c = count.clone();
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        b.check(move || {
            c.fetch_add(1, StdOrdering::Relaxed);
            run_scenario(b3, 2, KEY_POINTS);
        });
    }));
    eprintln!("B3: the violation surfaced in execution {}", count.load(StdOrdering::Relaxed));
    let payload = result.expect_err("loom found no interleaving that breaks S1.iv under fault B3");
    let msg = payload
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| payload.downcast_ref::<&str>().copied())
        .unwrap_or("<non-string panic>");
    assert!(msg.starts_with(S1IV_VIOLATED), "loom panicked, but not with the S1.iv assertion: {msg}");
    eprintln!("B3 found as expected: {msg}");
}
