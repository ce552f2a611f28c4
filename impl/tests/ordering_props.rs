//! Property tests of the seed-002 ordering roles (`shared/protocols/seed-002.md`) and of their
//! wire encoding, against naive or brute-force reference computations.
//!
//! Every role here runs with `FaultSet::NONE`: these properties describe the correct code, in
//! both variants where the variant matters. Sizes are bounded so that each property stays fast.

use quickcheck::{quickcheck, Arbitrary, Gen, TestResult};
use rcopy::fault::FaultSet;
use rcopy::ordering::wire::{self, WireError};
use rcopy::ordering::{
    Accepted, ClockReading, DataPacket, Destage, HostWrite, LdsId, LimitCoordinator, Message, Receiver, RemoteAddr,
    Sender, Seq, StreamId, Ts, Variant,
};
use std::collections::BTreeSet;

/// Fail the property with a message unless `cond` holds.
macro_rules! ensure {
    ($cond:expr, $($fmt:tt)+) => {
        if !$cond {
            return TestResult::error(format!($($fmt)+));
        }
    };
}

/// A number in `0..n` (`n > 0`).
fn below(g: &mut Gen, n: usize) -> usize {
    usize::arbitrary(g) % n
}

fn variant(g: &mut Gen) -> Variant {
    *g.choose(&Variant::ALL).unwrap()
}

/// Candidates for shrinking a list of steps: drop the back half, the front half, then each step.
fn shrink_steps<T: Clone + 'static>(v: &[T]) -> Vec<Vec<T>> {
    // Every candidate is strictly shorter, so shrinking terminates.
    let mut out = Vec::new();
    if v.len() >= 2 {
        out.push(v[..v.len() / 2].to_vec());
        out.push(v[v.len() / 2..].to_vec());
    }
    for i in 0..v.len().min(64) {
        let mut w = v.to_vec();
        w.remove(i);
        out.push(w);
    }
    out
}

// =============================================================================================
// Frontier and frontier_min against a recomputation from the delivered set
// =============================================================================================

/// One step of a receiver's life: a packet arrives, or a limit arrives and the destage process
/// drains what it allows. The limit is `limit` clamped to the receiver's own frontier minimum,
/// so it is one a master could grant (possibly a stale, lower one); with no finite frontier
/// minimum no limit arrives and the destage process runs with the stored one.
///
/// The clamp matters: a limit above the frontier would let the destage process remove a packet
/// above a gap, and the receiver, which finds contiguous seqs in its cache, would then stop its
/// frontier below that packet once the gap fills.
#[derive(Clone, Debug)]
enum RecvOp {
    Deliver { stream: usize, seq: Seq },
    Destage { limit: Ts },
}

#[derive(Clone, Debug)]
struct RecvCase {
    variant: Variant,
    streams: usize,
    /// Seqs `s` with `(s + stream) % 4 == 3` are heartbeats (no payload) when set.
    heartbeats: bool,
    ops: Vec<RecvOp>,
}

const RDS: u16 = 0;

fn recv_stream(key: usize) -> StreamId {
    StreamId { lds: 0, rds: RDS, key: key as u16 }
}

/// One clock across streams, increasing in seq within a stream (A1), distinct across streams.
fn recv_ts(stream: usize, seq: Seq) -> Ts {
    Ts::new(1000 + 10 * seq + stream as u64, 0)
}

fn recv_packet(case: &RecvCase, stream: usize, seq: Seq) -> DataPacket<Vec<u8>> {
    let heartbeat = case.heartbeats && (seq + stream as u64) % 4 == 3;
    DataPacket {
        stream: recv_stream(stream),
        seq,
        ts: recv_ts(stream, seq),
        addr: RemoteAddr { unit: stream as u16, pos: seq as u32 },
        payload: if heartbeat { None } else { Some(vec![stream as u8, seq as u8]) },
    }
}

impl Arbitrary for RecvCase {
    fn arbitrary(g: &mut Gen) -> RecvCase {
        let streams = 1 + below(g, 3);
        let max_seq = 1 + below(g, 14) as u64;
        let len = below(g, 80);
        let ops = (0..len)
            .map(|_| {
                if below(g, 6) == 0 {
                    let time = 990 + below(g, 10 * max_seq as usize + 30) as u64;
                    RecvOp::Destage { limit: Ts::new(time, 0) }
                } else {
                    RecvOp::Deliver { stream: below(g, streams), seq: below(g, max_seq as usize + 1) as u64 }
                }
            })
            .collect();
        RecvCase { variant: variant(g), streams, heartbeats: bool::arbitrary(g), ops }
    }

    fn shrink(&self) -> Box<dyn Iterator<Item = RecvCase>> {
        let base = self.clone();
        Box::new(shrink_steps(&self.ops).into_iter().map(move |ops| RecvCase { ops, ..base.clone() }))
    }
}

/// The naive frontier: the highest k with 0..=k all delivered, and its ts.
fn naive_frontier(delivered: &BTreeSet<Seq>, stream: usize) -> Option<(Seq, Ts)> {
    let mut k = 0;
    while delivered.contains(&k) {
        k += 1;
    }
    k.checked_sub(1).map(|top| (top, recv_ts(stream, top)))
}

/// The brute-force slave minimum: a stream that has delivered nothing contiguous is minus
/// infinity, and so is the minimum.
fn brute_min(delivered: &[BTreeSet<Seq>]) -> Option<Ts> {
    let per_stream: Option<Vec<Ts>> =
        delivered.iter().enumerate().map(|(s, d)| naive_frontier(d, s).map(|(_, ts)| ts)).collect();
    per_stream.and_then(|v| v.into_iter().min())
}

/// Runs `case`, calling `check` after every step with the receiver and the delivered sets.
fn run_receiver(
    case: &RecvCase,
    mut check: impl FnMut(&mut Receiver<Vec<u8>>, &[BTreeSet<Seq>]) -> Result<(), String>,
) -> TestResult {
    let ids: Vec<StreamId> = (0..case.streams).map(recv_stream).collect();
    let mut r: Receiver<Vec<u8>> = Receiver::new(RDS, &ids, case.variant, FaultSet::NONE);
    let mut delivered = vec![BTreeSet::new(); case.streams];
    for (step, op) in case.ops.iter().enumerate() {
        match *op {
            RecvOp::Deliver { stream, seq } => {
                let ack = r.on_data(recv_packet(case, stream, seq));
                ensure!(
                    ack == Ok(Message::Ack { stream: ids[stream], seq }),
                    "step {step}: on_data acked {ack:?} for {stream}/{seq}"
                );
                delivered[stream].insert(seq);
            }
            RecvOp::Destage { limit } => {
                if let Some(fmin) = r.frontier_min() {
                    r.on_limit(limit.min(fmin));
                }
                let limit = r.limit.unwrap_or(Ts::new(0, 0));
                let mut last: Option<Ts> = None;
                while let Some(d) = r.poll_destage() {
                    ensure!(d.ts <= limit, "step {step}: destaged {d:?} above the limit {limit:?}");
                    ensure!(last.is_none_or(|t| t <= d.ts), "step {step}: destaged {d:?} after {last:?}");
                    last = Some(d.ts);
                }
                ensure!(
                    r.limit.is_none() || r.earliest_cached().is_none_or(|t| t > limit),
                    "step {step}: left a destageable entry"
                );
            }
        }
        if let Err(e) = check(&mut r, &delivered) {
            return TestResult::error(format!("step {step} ({op:?}): {e}"));
        }
    }
    TestResult::passed()
}

fn prop_frontier_matches_naive(case: RecvCase) -> TestResult {
    run_receiver(&case, |r, delivered| {
        for (s, d) in delivered.iter().enumerate() {
            let (got, want) = (r.frontier(recv_stream(s)), naive_frontier(d, s));
            if got != want {
                return Err(format!("stream {s}: frontier {got:?}, naive {want:?} from {d:?}"));
            }
        }
        Ok(())
    })
}

fn prop_frontier_min_matches_brute_force(case: RecvCase) -> TestResult {
    let mut reported: Option<Ts> = None;
    run_receiver(&case, |r, delivered| {
        let (got, want) = (r.frontier_min(), brute_min(delivered));
        if got != want {
            return Err(format!("frontier_min {got:?}, brute force {want:?}"));
        }
        // Step 902: report the minimum when it is finite and differs from the last report.
        let expect = match want {
            Some(ts) if reported != Some(ts) => {
                reported = Some(ts);
                Some(Message::Report { rds: RDS, ts })
            }
            _ => None,
        };
        let report = r.report();
        if report != expect {
            return Err(format!("report {report:?}, expected {expect:?}"));
        }
        Ok(())
    })
}

#[test]
fn frontier_matches_naive_recomputation() {
    quickcheck(prop_frontier_matches_naive as fn(RecvCase) -> TestResult);
}

#[test]
fn frontier_min_matches_brute_force() {
    quickcheck(prop_frontier_min_matches_brute_force as fn(RecvCase) -> TestResult);
}

// =============================================================================================
// The master: limit = minimum of the latest reports, only once every slave has reported
// =============================================================================================

#[derive(Clone, Debug)]
struct CoordCase {
    slaves: u16,
    /// (rds, ts); an rds equal to `slaves` is unknown to the master.
    reports: Vec<(u16, Ts)>,
}

impl Arbitrary for CoordCase {
    fn arbitrary(g: &mut Gen) -> CoordCase {
        let slaves = 1 + below(g, 5) as u16;
        let len = below(g, 40);
        let reports = (0..len)
            .map(|_| {
                let rds = if below(g, 12) == 0 { slaves } else { below(g, slaves as usize) as u16 };
                (rds, Ts::new(below(g, 30) as u64, below(g, 2) as LdsId))
            })
            .collect();
        CoordCase { slaves, reports }
    }

    fn shrink(&self) -> Box<dyn Iterator<Item = CoordCase>> {
        let slaves = self.slaves;
        Box::new(shrink_steps(&self.reports).into_iter().map(move |reports| CoordCase { slaves, reports }))
    }
}

fn prop_limit_is_min_of_largest_reports(case: CoordCase) -> TestResult {
    let mut c = LimitCoordinator::new(case.slaves, FaultSet::NONE);
    let mut latest: Vec<Option<Ts>> = vec![None; case.slaves as usize];
    let mut granted: Option<Ts> = None;
    let mut max_granted: Option<Ts> = None;
    for (step, &(rds, ts)) in case.reports.iter().enumerate() {
        let got = c.on_report(rds, ts);
        if rds >= case.slaves {
            ensure!(got.is_err(), "step {step}: a report from unknown slave {rds} gave {got:?}");
            ensure!(c.reports == latest, "step {step}: an unknown slave changed the reports");
            continue;
        }
        // A slave's frontier only grows, so a report older than one already received is a late
        // arrival (M3 reorders): the master keeps each slave's largest report.
        latest[rds as usize] = latest[rds as usize].max(Some(ts));
        // Brute force: the minimum of the slaves' largest reports, once all have reported.
        let all_reported = latest.iter().all(Option::is_some);
        let limit = if all_reported { latest.iter().flatten().copied().min() } else { None };
        let expect = match limit {
            Some(l) if granted != Some(l) => {
                granted = Some(l);
                max_granted = max_granted.max(Some(l));
                Some(l)
            }
            _ => None,
        };
        ensure!(got == Ok(expect), "step {step}: on_report({rds}, {ts:?}) gave {got:?}, expected {expect:?}");
        if !all_reported {
            ensure!(c.granted.is_none(), "step {step}: granted {:?} before every slave reported", c.granted);
        } else {
            ensure!(c.granted == limit, "step {step}: granted {:?}, brute-force minimum {limit:?}", c.granted);
        }
        ensure!(c.max_granted == max_granted, "step {step}: max_granted {:?}, expected {max_granted:?}", c.max_granted);
    }
    TestResult::passed()
}

#[test]
fn limit_is_min_of_largest_reports_once_all_reported() {
    quickcheck(prop_limit_is_min_of_largest_reports as fn(CoordCase) -> TestResult);
}

// =============================================================================================
// The sender: seq 0, 1, 2, ... in ascending ts order; every write sent exactly once
// =============================================================================================

#[derive(Clone, Debug)]
enum SendOp {
    /// A host write; the clock advances by `1 + gap` first.
    Write {
        stream: usize,
        gap: u8,
        pos: u32,
    },
    Send {
        stream: usize,
    },
    Ack {
        stream: usize,
        pick: usize,
    },
    /// The retransmission timer of a seq fires.
    Timeout {
        stream: usize,
        pick: usize,
    },
    /// The heartbeat timer fires; the clock advances by `1 + gap` first.
    Idle {
        stream: usize,
        gap: u8,
    },
}

#[derive(Clone, Debug)]
struct SendCase {
    variant: Variant,
    streams: usize,
    /// The LDS's own clock runs this far off the common time base (only the common one stamps).
    skew: i8,
    ops: Vec<SendOp>,
}

impl Arbitrary for SendCase {
    fn arbitrary(g: &mut Gen) -> SendCase {
        let streams = 1 + below(g, 3);
        let len = below(g, 100);
        let ops = (0..len)
            .map(|_| {
                let stream = below(g, streams);
                match below(g, 11) {
                    0..=3 => SendOp::Write { stream, gap: u8::arbitrary(g) % 4, pos: u32::arbitrary(g) % 8 },
                    4..=6 => SendOp::Send { stream },
                    7..=8 => SendOp::Ack { stream, pick: below(g, 64) },
                    9 => SendOp::Timeout { stream, pick: below(g, 64) },
                    _ => SendOp::Idle { stream, gap: u8::arbitrary(g) % 4 },
                }
            })
            .collect();
        SendCase { variant: variant(g), streams, skew: i8::arbitrary(g), ops }
    }

    fn shrink(&self) -> Box<dyn Iterator<Item = SendCase>> {
        let base = self.clone();
        Box::new(shrink_steps(&self.ops).into_iter().map(move |ops| SendCase { ops, ..base.clone() }))
    }
}

const SEND_LDS: LdsId = 3;

fn send_stream(key: usize) -> StreamId {
    StreamId { lds: SEND_LDS, rds: key as u16 % 2, key: key as u16 }
}

/// What the reference expects of one stream: every entry stamped on it (writes and heartbeats),
/// what was emitted, and which seqs were acknowledged.
#[derive(Default)]
struct StreamModel {
    stamped: Vec<(Ts, RemoteAddr, Option<Vec<u8>>)>,
    emitted: Vec<DataPacket<Vec<u8>>>,
    acked: BTreeSet<Seq>,
}

impl StreamModel {
    /// The next packet: the earliest-stamped entry not yet emitted, with the next seq.
    fn expected_next(&self, id: StreamId) -> Option<DataPacket<Vec<u8>>> {
        let mut sorted = self.stamped.clone();
        sorted.sort_by_key(|e| e.0);
        let n = self.emitted.len();
        sorted.get(n).map(|(ts, addr, payload)| DataPacket {
            stream: id,
            seq: n as Seq,
            ts: *ts,
            addr: *addr,
            payload: payload.clone(),
        })
    }
}

fn prop_sender_sends_in_ts_order(case: SendCase) -> TestResult {
    let ids: Vec<StreamId> = (0..case.streams).map(send_stream).collect();
    let mut s: Sender<Vec<u8>> = Sender::new(SEND_LDS, &ids, case.variant, FaultSet::NONE);
    let mut model: Vec<StreamModel> = (0..case.streams).map(|_| StreamModel::default()).collect();
    let mut now: u64 = 500;
    let mut writes: u32 = 0;
    let clock = |now: u64| ClockReading { common: now, local: now.wrapping_add_signed(i64::from(case.skew)) };
    for (step, op) in case.ops.iter().enumerate() {
        match *op {
            SendOp::Write { stream, gap, pos } => {
                now += 1 + u64::from(gap);
                let addr = RemoteAddr { unit: stream as u16, pos };
                let payload = writes.to_be_bytes().to_vec();
                writes += 1;
                let got =
                    s.on_host_write(HostWrite { stream: ids[stream], addr, payload: payload.clone() }, clock(now));
                let ts = Ts::new(now, SEND_LDS);
                ensure!(
                    got == Ok(Accepted { ts, staged: false, coalesced: false }),
                    "step {step}: on_host_write gave {got:?}"
                );
                model[stream].stamped.push((ts, addr, Some(payload)));
            }
            SendOp::Send { stream } => {
                let m = &mut model[stream];
                let expect = m.expected_next(ids[stream]);
                ensure!(
                    s.has_unsent(ids[stream]) == expect.is_some(),
                    "step {step}: has_unsent disagrees with the reference"
                );
                let got = s.send_next(ids[stream]);
                ensure!(
                    got == expect.clone().map(|p| (p, false)),
                    "step {step}: send_next gave {got:?}, the sorted reference {expect:?}"
                );
                m.emitted.extend(expect);
            }
            SendOp::Ack { stream, pick } => {
                let m = &mut model[stream];
                let seq = if pick % 2 == 0 && !m.emitted.is_empty() {
                    m.emitted[pick % m.emitted.len()].seq
                } else {
                    (pick % (m.emitted.len() + 3)) as Seq
                };
                let expect = (seq as usize) < m.emitted.len() && !m.acked.contains(&seq);
                let got = s.on_ack(ids[stream], seq);
                ensure!(got == expect, "step {step}: on_ack(seq {seq}) gave {got}, expected {expect}");
                if got {
                    m.acked.insert(seq);
                }
                let unacked: BTreeSet<Seq> = s.unacked(ids[stream]).map(|(q, _)| q).collect();
                let want: BTreeSet<Seq> = m.emitted.iter().map(|p| p.seq).filter(|q| !m.acked.contains(q)).collect();
                ensure!(unacked == want, "step {step}: unacked {unacked:?}, expected {want:?}");
            }
            SendOp::Timeout { stream, pick } => {
                // Hardened: an unacknowledged packet is resent unchanged (same seq and ts, note
                // 4.13). Faithful: the text has no resend.
                let m = &model[stream];
                let seq = (pick % (m.emitted.len() + 2)) as Seq;
                let unacked = (seq as usize) < m.emitted.len() && !m.acked.contains(&seq);
                let expect = (case.variant.hardened() && unacked).then(|| m.emitted[seq as usize].clone());
                let got = s.on_timeout(ids[stream], seq);
                ensure!(got == expect, "step {step}: on_timeout(seq {seq}) gave {got:?}, expected {expect:?}");
            }
            SendOp::Idle { stream, gap } => {
                now += 1 + u64::from(gap);
                let m = &mut model[stream];
                let idle = m.emitted.len() == m.stamped.len();
                let got = s.on_idle(ids[stream], clock(now));
                if case.variant.hardened() && idle {
                    let hb = DataPacket {
                        stream: ids[stream],
                        seq: m.emitted.len() as Seq,
                        ts: Ts::new(now, SEND_LDS),
                        addr: RemoteAddr { unit: 0, pos: 0 },
                        payload: None,
                    };
                    ensure!(got.as_ref() == Some(&hb), "step {step}: on_idle gave {got:?}, expected {hb:?}");
                    m.stamped.push((hb.ts, hb.addr, None));
                    m.emitted.push(hb);
                } else {
                    ensure!(
                        got.is_none(),
                        "step {step}: on_idle sent {got:?} (variant {:?}, idle {idle})",
                        case.variant
                    );
                }
            }
        }
    }
    // Drain every stream, then compare with the sorted reference.
    let mut sent_ids = Vec::new();
    for (k, m) in model.iter_mut().enumerate() {
        while let Some((p, released)) = s.send_next(ids[k]) {
            ensure!(!released, "drain: an entry was released on send");
            m.emitted.push(p);
        }
        let mut reference = m.stamped.clone();
        reference.sort_by_key(|e| e.0);
        ensure!(
            m.emitted.len() == reference.len(),
            "stream {k}: {} sent of {} stamped",
            m.emitted.len(),
            reference.len()
        );
        for (i, (p, (ts, addr, payload))) in m.emitted.iter().zip(&reference).enumerate() {
            ensure!(p.seq == i as Seq, "stream {k}: packet {i} has seq {}", p.seq);
            ensure!(p.stream == ids[k], "stream {k}: packet {i} is on {:?}", p.stream);
            ensure!((p.ts, p.addr, &p.payload) == (*ts, *addr, payload), "stream {k}: packet {i} is {p:?}");
        }
        ensure!(m.emitted.windows(2).all(|w| w[0].ts < w[1].ts), "stream {k}: time stamps not ascending");
        sent_ids.extend(m.emitted.iter().filter_map(|p| p.payload.clone()));
    }
    sent_ids.sort();
    let all: Vec<Vec<u8>> = (0..writes).map(|w| w.to_be_bytes().to_vec()).collect();
    ensure!(sent_ids == all, "the writes sent are not exactly the writes accepted, once each");
    TestResult::passed()
}

#[test]
fn sender_sends_dense_seqs_in_ts_order_exactly_once() {
    quickcheck(prop_sender_sends_in_ts_order as fn(SendCase) -> TestResult);
}

// =============================================================================================
// Destage order: a prefix of the time-stamp order, never above the stored limit
// =============================================================================================

#[derive(Clone, Debug)]
enum DStep {
    /// The next packet of the delivery order arrives.
    Deliver,
    /// The slave reports; a limit the master grants goes in flight (M4).
    Round,
    /// One of the limits in flight arrives (M4s reorder: possibly a stale one).
    Limit(usize),
    /// The destage process runs once.
    Poll,
}

#[derive(Clone, Debug)]
struct DestageCase {
    variant: Variant,
    streams: usize,
    /// The stream of each host write, in clock order.
    writes: Vec<usize>,
    /// Indices into the packets (sent in ts order per stream): a permutation, with duplicates
    /// in the hardened variant (the faithful text has no duplicate suppression).
    order: Vec<usize>,
    steps: Vec<DStep>,
}

impl Arbitrary for DestageCase {
    fn arbitrary(g: &mut Gen) -> DestageCase {
        let variant = variant(g);
        let streams = 1 + below(g, 3);
        let n = below(g, 25);
        let writes: Vec<usize> = (0..n).map(|_| below(g, streams)).collect();
        let mut order: Vec<usize> = (0..n).collect();
        for i in (1..n).rev() {
            order.swap(i, below(g, i + 1));
        }
        if variant.hardened() && n > 0 {
            for _ in 0..below(g, n / 2 + 1) {
                let at = below(g, order.len() + 1);
                order.insert(at, below(g, n));
            }
        }
        let steps = (0..3 * n + 5)
            .map(|_| match below(g, 7) {
                0..=2 => DStep::Deliver,
                3 => DStep::Round,
                4 => DStep::Limit(below(g, 8)),
                _ => DStep::Poll,
            })
            .collect();
        DestageCase { variant, streams, writes, order, steps }
    }

    fn shrink(&self) -> Box<dyn Iterator<Item = DestageCase>> {
        let base = self.clone();
        Box::new(shrink_steps(&self.steps).into_iter().map(move |steps| DestageCase { steps, ..base.clone() }))
    }
}

fn prop_destage_is_ts_ordered_prefix(case: DestageCase) -> TestResult {
    let ids: Vec<StreamId> = (0..case.streams).map(|k| StreamId { lds: 0, rds: 0, key: k as u16 }).collect();
    // The packets, from a real sender.
    let mut sender: Sender<Vec<u8>> = Sender::new(0, &ids, case.variant, FaultSet::NONE);
    for (i, &k) in case.writes.iter().enumerate() {
        let w =
            HostWrite { stream: ids[k], addr: RemoteAddr { unit: k as u16, pos: i as u32 }, payload: vec![i as u8] };
        sender.on_host_write(w, ClockReading::at(100 + 3 * i as u64)).unwrap();
    }
    let mut packets = Vec::new();
    for &id in &ids {
        while let Some((p, _)) = sender.send_next(id) {
            packets.push(p);
        }
    }
    let mut by_ts = packets.clone();
    by_ts.sort_by_key(|p| p.ts);

    let mut r: Receiver<Vec<u8>> = Receiver::new(0, &ids, case.variant, FaultSet::NONE);
    let mut master = LimitCoordinator::new(1, FaultSet::NONE);
    let mut in_flight: Vec<Ts> = Vec::new();
    let mut destaged: Vec<Destage<Vec<u8>>> = Vec::new();
    let mut next = 0;

    fn round(r: &mut Receiver<Vec<u8>>, master: &mut LimitCoordinator, in_flight: &mut Vec<Ts>) {
        if let Some(Message::Report { rds, ts }) = r.report() {
            in_flight.extend(master.on_report(rds, ts).unwrap());
        }
    }
    // One poll; checks the limit and that everything destaged so far is a prefix of ts order.
    fn poll(
        r: &mut Receiver<Vec<u8>>,
        destaged: &mut Vec<Destage<Vec<u8>>>,
        by_ts: &[DataPacket<Vec<u8>>],
    ) -> Result<bool, String> {
        let Some(d) = r.poll_destage() else { return Ok(false) };
        match r.limit {
            Some(l) if d.ts <= l => {}
            l => return Err(format!("destaged {d:?} with the limit at {l:?}")),
        }
        let i = destaged.len();
        let same = by_ts.get(i).is_some_and(|p| {
            (p.stream, p.seq, p.ts, p.addr, &p.payload) == (d.stream, d.seq, d.ts, d.addr, &d.payload)
        });
        if !same {
            return Err(format!("destage #{i} is {d:?}, the ts order has {:?}", by_ts.get(i)));
        }
        destaged.push(d);
        Ok(true)
    }

    for (step, op) in case.steps.iter().enumerate() {
        match *op {
            DStep::Deliver => {
                if let Some(&k) = case.order.get(next) {
                    next += 1;
                    r.on_data(packets[k].clone()).unwrap();
                }
            }
            DStep::Round => round(&mut r, &mut master, &mut in_flight),
            DStep::Limit(k) => {
                if !in_flight.is_empty() {
                    let l = in_flight.remove(k % in_flight.len());
                    r.on_limit(l);
                }
            }
            DStep::Poll => {
                if let Err(e) = poll(&mut r, &mut destaged, &by_ts) {
                    return TestResult::error(format!("step {step}: {e}"));
                }
            }
        }
    }
    // Everything arrives, one last round, every limit in flight lands (the newest last), drain.
    for &k in &case.order[next.min(case.order.len())..] {
        r.on_data(packets[k].clone()).unwrap();
    }
    round(&mut r, &mut master, &mut in_flight);
    for l in in_flight.drain(..) {
        r.on_limit(l);
    }
    // A stale M4 applied during the run may have lowered the stored limit below the master's
    // current one, which the master does not resend unless it changes: let it arrive again.
    if let Some(l) = master.granted {
        r.on_limit(l);
    }
    loop {
        match poll(&mut r, &mut destaged, &by_ts) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => return TestResult::error(format!("final drain: {e}")),
        }
    }
    // The final limit is the brute-force minimum of the streams' last time stamps (minus
    // infinity if a stream never carried a write), and exactly the writes up to it are destaged.
    let last: Option<Vec<Ts>> =
        ids.iter().map(|&id| packets.iter().filter(|p| p.stream == id).map(|p| p.ts).max()).collect();
    let final_limit = last.and_then(|v| v.into_iter().min());
    ensure!(r.limit == final_limit, "final limit {:?}, brute force {final_limit:?}", r.limit);
    let expect = by_ts.iter().filter(|p| final_limit.is_some_and(|l| p.ts <= l)).count();
    ensure!(destaged.len() == expect, "{} destaged, {expect} at or below {final_limit:?}", destaged.len());
    TestResult::passed()
}

#[test]
fn destage_is_a_ts_ordered_prefix_at_or_below_the_limit() {
    quickcheck(prop_destage_is_ts_ordered_prefix as fn(DestageCase) -> TestResult);
}

// =============================================================================================
// Wire encoding
// =============================================================================================

/// A message of any kind (`Message` is foreign to this crate, hence the wrapper).
#[derive(Clone, Debug, PartialEq)]
struct Msg(Message<Vec<u8>>);

fn arb_ts(g: &mut Gen) -> Ts {
    Ts { time: u64::arbitrary(g), lds: u16::arbitrary(g), tie: u32::arbitrary(g) % 4 }
}

fn arb_stream(g: &mut Gen) -> StreamId {
    StreamId { lds: u16::arbitrary(g), rds: u16::arbitrary(g), key: u16::arbitrary(g) }
}

impl Arbitrary for Msg {
    fn arbitrary(g: &mut Gen) -> Msg {
        Msg(match below(g, 5) {
            k @ (0 | 1) => Message::Data(DataPacket {
                stream: arb_stream(g),
                seq: u64::arbitrary(g),
                ts: arb_ts(g),
                addr: RemoteAddr { unit: u16::arbitrary(g), pos: u32::arbitrary(g) },
                payload: (k == 0).then(|| Vec::<u8>::arbitrary(g)),
            }),
            2 => Message::Ack { stream: arb_stream(g), seq: u64::arbitrary(g) },
            3 => Message::Report { rds: u16::arbitrary(g), ts: arb_ts(g) },
            _ => Message::Limit { ts: arb_ts(g) },
        })
    }

    fn shrink(&self) -> Box<dyn Iterator<Item = Msg>> {
        match &self.0 {
            Message::Data(p) => {
                let p = p.clone();
                let heartbeat = Msg(Message::Data(DataPacket { payload: None, ..p.clone() }));
                let shorter = p.payload.clone().map(|d| d.shrink()).into_iter().flatten();
                let shrunk = shorter.map(move |d| Msg(Message::Data(DataPacket { payload: Some(d), ..p.clone() })));
                Box::new(
                    std::iter::once(heartbeat).filter(|h| *h != *self).chain(shrunk).collect::<Vec<_>>().into_iter(),
                )
            }
            _ => Box::new(std::iter::empty()),
        }
    }
}

fn prop_round_trip(m: Msg) -> TestResult {
    let frame = wire::encode(&m.0);
    ensure!(frame.len() >= wire::HEADER_LEN + wire::CHECKSUM_LEN, "frame too short: {}", frame.len());
    ensure!(frame[..4] == wire::MAGIC && frame[4] == wire::VERSION, "bad header {:?}", &frame[..6]);
    let (body, crc) = frame.split_at(frame.len() - wire::CHECKSUM_LEN);
    ensure!(crc == wire::crc32c(body).to_be_bytes(), "the trailer is not the CRC-32C of the rest");
    let back = wire::decode(&frame);
    ensure!(back.as_ref() == Ok(&m.0), "decode gave {back:?}");
    ensure!(wire::decode_prefix(&frame) == Ok((m.0.clone(), frame.len())), "decode_prefix disagrees");
    TestResult::passed()
}

/// Whatever `decode` makes of `bytes`, it is consistent: an accepted frame is the unique
/// encoding of its message, and an error describes the bytes truthfully.
fn check_decode(bytes: &[u8]) -> Result<Option<Message<Vec<u8>>>, String> {
    let result = wire::decode(bytes);
    match &result {
        Ok(m) => {
            if wire::encode(m) != bytes {
                return Err(format!("accepted {bytes:02x?} as {m:?}, which encodes differently"));
            }
        }
        Err(WireError::Truncated { needed, available }) => {
            if *available != bytes.len() || needed <= available {
                return Err(format!(
                    "Truncated {{ needed: {needed}, available: {available} }} for {} bytes",
                    bytes.len()
                ));
            }
        }
        Err(WireError::BadMagic { found }) => {
            if bytes.get(..4) != Some(&found[..]) || *found == wire::MAGIC {
                return Err(format!("BadMagic {found:?} for {bytes:02x?}"));
            }
        }
        Err(WireError::UnsupportedVersion { found }) => {
            if bytes.get(4) != Some(found) || *found == wire::VERSION {
                return Err(format!("UnsupportedVersion {found} for {bytes:02x?}"));
            }
        }
        Err(WireError::UnknownKind { found }) => {
            if bytes.get(5) != Some(found) || (1..=5).contains(found) {
                return Err(format!("UnknownKind {found} for {bytes:02x?}"));
            }
        }
        Err(WireError::PayloadTooLarge { len, max }) => {
            if *len <= *max as u64 || bytes.get(5) != Some(&wire::kind::DATA) {
                return Err(format!("PayloadTooLarge {len} > {max}"));
            }
        }
        Err(WireError::BadChecksum { expected, computed }) => {
            if expected == computed {
                return Err("BadChecksum with equal checksums".into());
            }
        }
        Err(WireError::TrailingBytes { extra }) => {
            let prefix = wire::decode_prefix(bytes);
            if *extra == 0 || !prefix.as_ref().is_ok_and(|(_, n)| n + extra == bytes.len()) {
                return Err(format!("TrailingBytes {extra}, but decode_prefix gives {prefix:?}"));
            }
        }
    }
    Ok(result.ok())
}

fn prop_decode_arbitrary_bytes(bytes: Vec<u8>) -> TestResult {
    match check_decode(&bytes) {
        Ok(_) => TestResult::passed(),
        Err(e) => TestResult::error(e),
    }
}

/// Bytes behind a valid header, so that decoding gets past magic and version: a kind byte
/// (possibly unknown), a body, and a checksum that is right or random.
#[derive(Clone, Debug)]
struct Framed {
    kind: u8,
    body: Vec<u8>,
    fix_crc: bool,
    crc: u32,
}

/// The body length of each kind, Data without its length prefix and payload.
fn fixed_body(kind: u8) -> Option<usize> {
    match kind {
        wire::kind::DATA | wire::kind::HEARTBEAT => Some(34),
        wire::kind::ACK => Some(14),
        wire::kind::REPORT => Some(16),
        wire::kind::LIMIT => Some(14),
        _ => None,
    }
}

impl Arbitrary for Framed {
    fn arbitrary(g: &mut Gen) -> Framed {
        let kind = below(g, 8) as u8;
        let mut body: Vec<u8> = match fixed_body(kind) {
            Some(n) if bool::arbitrary(g) => (0..n).map(|_| u8::arbitrary(g)).collect(),
            _ => Vec::arbitrary(g),
        };
        // For Data, half the time: a length prefix that agrees with the bytes behind it.
        if kind == wire::kind::DATA && bool::arbitrary(g) {
            body.truncate(30);
            body.resize(30, 0);
            let payload = Vec::<u8>::arbitrary(g);
            body.extend_from_slice(&(payload.len() as u32).to_be_bytes());
            body.extend_from_slice(&payload);
        }
        Framed { kind, body, fix_crc: bool::arbitrary(g), crc: u32::arbitrary(g) }
    }
}

impl Framed {
    fn bytes(&self) -> Vec<u8> {
        let mut out = wire::MAGIC.to_vec();
        out.push(wire::VERSION);
        out.push(self.kind);
        out.extend_from_slice(&self.body);
        let crc = if self.fix_crc { wire::crc32c(&out) } else { self.crc };
        out.extend_from_slice(&crc.to_be_bytes());
        out
    }

    /// Whether this is a well-formed frame, which decode must accept.
    fn well_formed(&self) -> bool {
        let right_crc = self.fix_crc || {
            let mut head = wire::MAGIC.to_vec();
            head.push(wire::VERSION);
            head.push(self.kind);
            head.extend_from_slice(&self.body);
            wire::crc32c(&head) == self.crc
        };
        let right_len = match fixed_body(self.kind) {
            Some(n) if self.kind == wire::kind::DATA => self
                .body
                .get(n..n + 4)
                .is_some_and(|l| u32::from_be_bytes([l[0], l[1], l[2], l[3]]) as usize + n + 4 == self.body.len()),
            Some(n) => self.body.len() == n,
            None => false,
        };
        right_crc && right_len
    }
}

fn prop_decode_framed_bytes(f: Framed) -> TestResult {
    let bytes = f.bytes();
    match check_decode(&bytes) {
        Err(e) => TestResult::error(e),
        Ok(decoded) => {
            ensure!(
                decoded.is_some() == f.well_formed(),
                "well-formed {} but decode gave {:?}",
                f.well_formed(),
                wire::decode(&bytes)
            );
            TestResult::passed()
        }
    }
}

#[derive(Clone, Debug)]
enum Mutation {
    FlipBit(usize),
    SetByte(usize, u8),
    Truncate(usize),
    Insert(usize, u8),
    Remove(usize),
    Append(Vec<u8>),
}

impl Arbitrary for Mutation {
    fn arbitrary(g: &mut Gen) -> Mutation {
        let at = usize::arbitrary(g);
        match below(g, 6) {
            0 => Mutation::FlipBit(at),
            1 => Mutation::SetByte(at, u8::arbitrary(g)),
            2 => Mutation::Truncate(at),
            3 => Mutation::Insert(at, u8::arbitrary(g)),
            4 => Mutation::Remove(at),
            _ => Mutation::Append(Vec::arbitrary(g)),
        }
    }
}

impl Mutation {
    fn apply(&self, b: &mut Vec<u8>) {
        let n = b.len();
        match self {
            Mutation::FlipBit(i) if n > 0 => b[(i / 8) % n] ^= 1 << (i % 8),
            Mutation::SetByte(i, v) if n > 0 => b[i % n] = *v,
            Mutation::Truncate(i) => b.truncate(i % (n + 1)),
            Mutation::Insert(i, v) => b.insert(i % (n + 1), *v),
            Mutation::Remove(i) if n > 0 => {
                b.remove(i % n);
            }
            Mutation::Append(tail) => b.extend_from_slice(tail),
            _ => {}
        }
    }
}

fn prop_mutated_frames(m: Msg, mutations: Vec<Mutation>) -> TestResult {
    let frame = wire::encode(&m.0);
    let mut bytes = frame.clone();
    for mu in mutations.iter().take(4) {
        mu.apply(&mut bytes);
    }
    match check_decode(&bytes) {
        Err(e) => TestResult::error(e),
        Ok(Some(back)) if bytes == frame => {
            ensure!(back == m.0, "the unmutated frame decoded to {back:?}");
            TestResult::passed()
        }
        Ok(None) if bytes == frame => TestResult::error("the unmutated frame was rejected"),
        Ok(_) => TestResult::passed(),
    }
}

/// The mutations whose outcome is certain: one flipped bit, a strict truncation, bytes
/// appended.
fn prop_simple_damage_is_rejected(m: Msg, bit: usize, cut: usize, tail: Vec<u8>) -> TestResult {
    let frame = wire::encode(&m.0);
    let mut flipped = frame.clone();
    Mutation::FlipBit(bit).apply(&mut flipped);
    let r = wire::decode(&flipped);
    ensure!(r.is_err(), "bit {} flipped, decode gave {r:?}", bit % (frame.len() * 8));

    let short = &frame[..cut % frame.len()];
    let r = wire::decode(short);
    ensure!(matches!(r, Err(WireError::Truncated { .. })), "truncated to {} bytes, decode gave {r:?}", short.len());

    if !tail.is_empty() {
        let mut long = frame.clone();
        long.extend_from_slice(&tail);
        let r = wire::decode(&long);
        ensure!(
            r == Err(WireError::TrailingBytes { extra: tail.len() }),
            "{} bytes appended, decode gave {r:?}",
            tail.len()
        );
        ensure!(wire::decode_prefix(&long) == Ok((m.0.clone(), frame.len())), "decode_prefix of a longer buffer");
    }
    TestResult::passed()
}

#[test]
fn wire_round_trip() {
    quickcheck(prop_round_trip as fn(Msg) -> TestResult);
}

#[test]
fn wire_decode_arbitrary_bytes_never_panics() {
    quickcheck(prop_decode_arbitrary_bytes as fn(Vec<u8>) -> TestResult);
}

#[test]
fn wire_decode_bytes_behind_a_valid_header() {
    quickcheck(prop_decode_framed_bytes as fn(Framed) -> TestResult);
}

#[test]
fn wire_mutated_frames_are_rejected_or_canonical() {
    quickcheck(prop_mutated_frames as fn(Msg, Vec<Mutation>) -> TestResult);
}

#[test]
fn wire_simple_damage_is_rejected() {
    quickcheck(prop_simple_damage_is_rejected as fn(Msg, usize, usize, Vec<u8>) -> TestResult);
}
