//! Loom checks of [`rcopy::ordering::SharedSender`], the piece production threads share.
//!
//! `SharedSender` is written against the `rcopy::sync` facade, so under `--cfg loom` its mutex
//! and the common [`Clock`]'s atomic are loom's and loom explores every interleaving of the
//! threads below (bounded where stated) against the code exactly as it is compiled.
//!
//! What is checked (note `shared/protocols/seed-002.md`, sections 4.1 and 4.12, assumption A1):
//!
//! - `a1_two_hosts_one_write_each` (exhaustive: 2 hosts x 1 write, 2 send attempts) and
//!   `a1_two_hosts_two_writes_each` (2 hosts x 2 writes, 3 send attempts, at most 3 preemptions
//!   unless `LOOM_MAX_PREEMPTIONS` says otherwise): two host threads call `host_write` on one
//!   stream while a sender thread makes a bounded number of `send_next` attempts; after the
//!   joins the main thread drains the rest. In every execution
//!   * the packets' seqs are 0, 1, 2, ... in send order (A2, density);
//!   * their time stamps are strictly ascending in seq order (A1: sequence order equals
//!     time-stamp order);
//!   * every write was sent exactly once (no loss, no duplicate; writes are told apart by
//!     payload), nothing is left staged or unsent, and the stream's counter equals the count;
//!   * the time stamp each host got back from `host_write` is the one its packet carries.
//!
//!   Against vacuity, each test also checks that every send order keeping each host's own order
//!   occurred, and that the sender thread numbered every count from 0 to its attempts.
//! - `b9_detached_stamping_breaks_a1` (only with the cargo feature `faults`): the same scenario
//!   with seeded fault B9 switched on in the sender's `FaultSet`. Stamping and enqueueing are then
//!   two critical sections, so a later-stamped write can be numbered first. The test asserts
//!   that loom finds the A1 violation (preemption bound 2; one preemption suffices): the model
//!   must panic with the A1 assertion's message. The panic message and backtrace that the
//!   default hook prints for this test are expected.
//! - `ack_racing_send_releases_exactly_the_acked_entry`: an ack thread races a sender thread;
//!   an ack releases exactly the entry with that seq, and an ack for a seq not yet given out
//!   releases nothing (exhaustive; both outcomes of the race must occur).
//!
//! How to run (the file is empty unless compiled with `--cfg loom`; `--release` keeps it fast):
//!
//! ```text
//! make loom        # from the workspace root; or by hand:
//! RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=target/loom \
//!     cargo test -p rcopy --features faults --release --test loom_ordering
//! RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=target/loom \
//!     cargo test -p rcopy --release --test loom_ordering          # B9 test compiled out
//! ```
//!
//! Loom's usual environment variables (`LOOM_MAX_PREEMPTIONS`, `LOOM_LOG`, `LOOM_CHECKPOINT_FILE`,
//! ...) apply, except where a test sets a field of `loom::model::Builder` itself (the preemption
//! bound of the exhaustive tests and of the B9 test). Each test prints how many executions it
//! explored (`-- --nocapture`).
#![cfg(loom)]

use loom::sync::Arc;
use loom::thread;
use rcopy::fault::FaultSet;
use rcopy::ordering::{
    Clock, DataPacket, EntryState, HostWrite, RemoteAddr, Sender, SharedSender, StreamId, Ts, Variant,
};
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicUsize, Ordering as StdOrdering};

const LDS: u16 = 1;
const STREAM: StreamId = StreamId { lds: LDS, rds: 2, key: 0 };
/// The prefix of the A1 assertion's panic message; the B9 test looks for it.
const A1_VIOLATED: &str = "A1 violated";

fn shared(faults: FaultSet) -> SharedSender<u32> {
    let sender = Sender::new(LDS, &[STREAM], Variant::Faithful, faults);
    SharedSender::new(sender, Clock::new(100))
}

fn write(payload: u32) -> HostWrite<u32> {
    HostWrite { stream: STREAM, addr: RemoteAddr { unit: 0, pos: payload }, payload }
}

/// What one execution of the scenario produced.
struct Outcome {
    s: Arc<SharedSender<u32>>,
    /// The packets in send order.
    sent: Vec<DataPacket<u32>>,
    /// Each write's payload and the ts `host_write` returned for it.
    stamped: Vec<(u32, Ts)>,
    /// How many packets the sender thread numbered (the rest were drained after the joins).
    by_sender_thread: usize,
}

/// The scenario: host `h` writes the payloads `hosts[h]` in order, the sender thread makes
/// `attempts` calls of `send_next`, and the main thread drains the rest after the joins.
fn run_scenario(faults: FaultSet, hosts: &'static [&'static [u32]], attempts: usize) -> Outcome {
    let s = Arc::new(shared(faults));
    let host_handles: Vec<_> = hosts
        .iter()
        .map(|&payloads| {
            let s = s.clone();
            thread::spawn(move || {
                payloads.iter().map(|&p| (p, s.host_write(write(p)).expect("known stream"))).collect::<Vec<_>>()
            })
        })
        .collect();
    let sender = {
        let s = s.clone();
        thread::spawn(move || (0..attempts).filter_map(|_| s.send_next(STREAM)).collect::<Vec<_>>())
    };
    let stamped: Vec<(u32, Ts)> = host_handles.into_iter().flat_map(|h| h.join().unwrap()).collect();
    let mut sent = sender.join().unwrap();
    let by_sender_thread = sent.len();
    // Everything is published now; drain on this thread. The loop is bounded by the number of
    // writes: each call numbers one unsent entry.
    while let Some(p) = s.send_next(STREAM) {
        sent.push(p);
    }
    Outcome { s, sent, stamped, by_sender_thread }
}

/// The checks of the scenario's outcome. The A1 check comes first and has its own message, so
/// the B9 test can tell it from the others.
fn check_outcome(o: &Outcome) {
    let Outcome { s, sent, stamped, .. } = o;
    let seqs: Vec<u64> = sent.iter().map(|p| p.seq).collect();
    let tss: Vec<Ts> = sent.iter().map(|p| p.ts).collect();
    assert!(
        (0..sent.len() as u64).eq(seqs.iter().copied()),
        "A2 violated: seqs in send order are {seqs:?} (ts {tss:?})"
    );
    assert!(
        tss.windows(2).all(|w| w[0] < w[1]),
        "{A1_VIOLATED}: ts in seq order are not strictly ascending: seqs {seqs:?} ts {tss:?}"
    );
    for &(payload, ts) in stamped.iter() {
        let packets: Vec<&DataPacket<u32>> = sent.iter().filter(|p| p.payload == Some(payload)).collect();
        assert_eq!(packets.len(), 1, "write {payload} sent {} times: {sent:?}", packets.len());
        let p = packets[0];
        assert_eq!(p.ts, ts, "write {payload}: host got ts {ts:?}, packet carries {:?}", p.ts);
        assert_eq!(p.stream, STREAM);
        assert_eq!(p.addr, RemoteAddr { unit: 0, pos: payload });
    }
    assert_eq!(sent.len(), stamped.len(), "packets that no host wrote: {sent:?}");
    let snap = s.snapshot();
    assert!(snap.staged.is_empty(), "writes left staged: {:?}", snap.staged);
    let st = snap.stream(STREAM).unwrap();
    assert_eq!(st.next_seq, sent.len() as u64);
    assert_eq!(st.entries.len(), sent.len(), "an entry was lost or released without an ack");
    assert!(st.entries.iter().all(|e| e.state != EntryState::Unsent), "unsent after drain");
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

/// Runs the scenario under `builder`, checks every execution, and checks that the exploration
/// was not vacuous: every send order that keeps each host's own order occurred, and the sender
/// thread numbered every count of writes from 0 to `attempts` in some execution.
fn check_a1(builder: &loom::model::Builder, hosts: &'static [&'static [u32]], attempts: usize) {
    type Seen = std::sync::Arc<std::sync::Mutex<BTreeSet<(Vec<u32>, usize)>>>;
    let seen: Seen = Default::default();
    let rec = seen.clone();
    model_counted(builder, move || {
        let o = run_scenario(FaultSet::NONE, hosts, attempts);
        check_outcome(&o);
        let order = o.sent.iter().map(|p| p.payload.unwrap()).collect();
        rec.lock().unwrap().insert((order, o.by_sender_thread));
    });
    let seen = seen.lock().unwrap();
    let orders: BTreeSet<&Vec<u32>> = seen.iter().map(|(o, _)| o).collect();
    let counts: BTreeSet<usize> = seen.iter().map(|&(_, n)| n).collect();
    let expected = interleavings(hosts);
    assert_eq!(orders, expected.iter().collect(), "send orders explored");
    let writes: usize = hosts.iter().map(|h| h.len()).sum();
    assert_eq!(counts, (0..=attempts.min(writes)).collect(), "sender-thread counts explored");
    eprintln!("{} send orders, sender thread numbered {counts:?} writes", orders.len());
}

/// Every merge of the hosts' sequences that keeps each host's own order.
fn interleavings(hosts: &[&[u32]]) -> BTreeSet<Vec<u32>> {
    if hosts.iter().all(|h| h.is_empty()) {
        return BTreeSet::from([Vec::new()]);
    }
    let mut out = BTreeSet::new();
    for (i, h) in hosts.iter().enumerate() {
        if let Some((&first, rest)) = h.split_first() {
            let mut next = hosts.to_vec();
            next[i] = rest;
            for mut tail in interleavings(&next) {
                tail.insert(0, first);
                out.insert(tail);
            }
        }
    }
    out
}

#[test]
fn a1_two_hosts_one_write_each() {
    // Exhaustive (no preemption bound): 2 hosts x 1 write, 2 send attempts.
    let mut b = loom::model::Builder::new();
    b.preemption_bound = None;
    check_a1(&b, &[&[1], &[2]], 2);
}

#[test]
fn a1_two_hosts_two_writes_each() {
    // 2 hosts x 2 writes, 3 send attempts; bounded to 3 preemptions to stay within seconds
    // (`LOOM_MAX_PREEMPTIONS` overrides the bound).
    let mut b = loom::model::Builder::new();
    b.preemption_bound = b.preemption_bound.or(Some(3));
    check_a1(&b, &[&[1, 2], &[3, 4]], 3);
}

#[cfg(feature = "faults")]
#[test]
fn b9_detached_stamping_breaks_a1() {
    use rcopy::ordering::Fault;
    let b9 = FaultSet::NONE.with(Fault::B9 as u32).expect("built with feature faults");
    let mut b = loom::model::Builder::new();
    b.preemption_bound = Some(2);
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        b.check(move || {
            check_outcome(&run_scenario(b9, &[&[1], &[2]], 1));
        });
    }));
    let payload = result.expect_err("loom found no interleaving that breaks A1 under fault B9");
    let msg = payload
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| payload.downcast_ref::<&str>().copied())
        .unwrap_or("<non-string panic>");
    assert!(msg.starts_with(A1_VIOLATED), "loom panicked, but not with the A1 assertion: {msg}");
    eprintln!("B9 found as expected: {msg}");
}

#[test]
fn ack_racing_send_releases_exactly_the_acked_entry() {
    let mut b = loom::model::Builder::new();
    b.preemption_bound = None;
    let seen: std::sync::Arc<std::sync::Mutex<BTreeSet<bool>>> = Default::default();
    let rec = seen.clone();
    model_counted(&b, move || {
        let s = Arc::new(shared(FaultSet::NONE));
        for p in [1, 2, 3] {
            s.host_write(write(p)).unwrap();
        }
        let first = s.send_next(STREAM).unwrap();
        assert_eq!((first.seq, first.payload), (0, Some(1)));
        let acker = {
            let s = s.clone();
            // Acks seq 0 (sent) and seq 1 (which the sender thread may not have given out yet).
            thread::spawn(move || (s.on_ack(STREAM, 0), s.on_ack(STREAM, 1)))
        };
        let sender = {
            let s = s.clone();
            thread::spawn(move || {
                let a = s.send_next(STREAM).unwrap();
                let b = s.send_next(STREAM).unwrap();
                (a, b)
            })
        };
        let (ack0, ack1) = acker.join().unwrap();
        let (a, b) = sender.join().unwrap();
        assert_eq!((a.seq, a.payload), (1, Some(2)));
        assert_eq!((b.seq, b.payload), (2, Some(3)));
        assert!(ack0, "the ack of a sent entry released nothing");
        let snap = s.snapshot();
        let entries: Vec<(Option<u32>, EntryState)> =
            snap.stream(STREAM).unwrap().entries.iter().map(|e| (e.payload, e.state)).collect();
        let mut expected = Vec::new();
        if !ack1 {
            // The ack of seq 1 came before seq 1 was given out: it released nothing.
            expected.push((Some(2), EntryState::Sent { seq: 1 }));
        }
        expected.push((Some(3), EntryState::Sent { seq: 2 }));
        assert_eq!(entries, expected, "ack1 released: {ack1}");
        // A late ack of an already released entry releases nothing.
        assert!(!s.on_ack(STREAM, 0));
        rec.lock().unwrap().insert(ack1);
    });
    // Both races happened: the ack of seq 1 before and after seq 1 was given out.
    assert_eq!(*seen.lock().unwrap(), BTreeSet::from([false, true]));
}
