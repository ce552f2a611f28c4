//! Property tests of the seed-001 relay roles (`shared/protocols/seed-001.md`) against naive or
//! brute-force reference computations:
//!
//! 1. reflection at a hardened TE is the longest gap-free prefix of what was delivered (S3,
//!    S5, S7; 2.10's no-orphan rule), per ID, whatever the delivery order and duplicates;
//! 2. SE's bookkeeping: held = created - acked - converted, CC - DC = held (S9), an answer that
//!    matches nothing changes nothing, a resend is the same entry (S1), give-up marks every
//!    converted write in 727 (S8), a resync of one pair of a multi-pair ID converts (not
//!    drops) the other pairs' entries, in both variants;
//! 3. the next hop of 1905 on random routes, both ways, with and without walking back (S15);
//! 4. bitmaps: "combine" is the union, `mark` marks exactly the regions a block range touches,
//!    and SE's DPOK merge (data 1209) is 727 | 1213 and clears 727;
//! 5. with the cargo feature `faults`: the same properties fail on seeded faults (B1-B6, B9,
//!    B10, B15, B21, B30, B32), on a small hand-made input (which passes without the fault)
//!    and in a seeded quickcheck search, so the properties can fail:
//!
//!        cargo test -p rcopy --features faults --test relay_props
//!
//! Sizes are bounded so that each property stays well under a second.

use quickcheck::{quickcheck, Arbitrary, Gen, QuickCheck, TestResult};
use rcopy::fault::FaultSet;
use rcopy::relay::route::MAX_ROUTES;
use rcopy::relay::{
    Addr, Bitmap, Block, Body, Epoch, Id, Kind, LogEntry, Lun, NextHop, PairRow, PairState, Reflected, Refused, Route,
    RouteRow, Routing, Seq, SourceConfig, SourceEdge, SourceReceived, SsReply, TargetConfig, TargetEdge,
    TargetReceived, Time, Timeout, ToTs, TsAnswer, Variant, VolRef, WriteAck, Wwn, MAX_HOPS,
};
use std::collections::{BTreeMap, BTreeSet};

/// Fail the property with a message unless `cond` holds.
macro_rules! ensure {
    ($cond:expr, $($fmt:tt)+) => {
        if !$cond {
            return Err(format!($($fmt)+));
        }
    };
}

/// A property's verdict from a check that explains its failure.
fn verdict(r: Result<(), String>) -> TestResult {
    match r {
        Ok(()) => TestResult::passed(),
        Err(e) => TestResult::error(e),
    }
}

/// A number in `0..n` (`n > 0`).
fn below(g: &mut Gen, n: usize) -> usize {
    usize::arbitrary(g) % n
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
// The set-up: SE, one core and TE on one route; pair k copies (SS, 113+k) to (TS, 123+k)
// =============================================================================================

const SE_ADDR: Addr = Addr(104);
const CORE_ADDR: Addr = Addr(202);
const TE_ADDR: Addr = Addr(105);
const SS_WWN: Wwn = Wwn(0x112);
const TS_WWN: Wwn = Wwn(0x122);
const FIRST_SEQ: u32 = 1;

/// Writes carry their write id as data.
type Se = SourceEdge<u32, 32>;
type Te = TargetEdge<u32, 32>;

fn src(pair: usize) -> VolRef {
    VolRef { wwn: SS_WWN, lun: Lun(113 + pair as u16) }
}

fn tgt(pair: usize) -> VolRef {
    VolRef { wwn: TS_WWN, lun: Lun(123 + pair as u16) }
}

fn routing() -> Routing {
    let route = Route::of(&[SE_ADDR, CORE_ADDR, TE_ADDR]).unwrap();
    Routing::new(&[RouteRow { source: SS_WWN, target: TS_WWN, route }], true).unwrap()
}

/// Pair k in Duplex with order assurance ID `ids[k]`.
fn pair_rows(ids: &[Id]) -> Vec<PairRow> {
    ids.iter()
        .enumerate()
        .map(|(k, id)| PairRow {
            source: src(k),
            target: tgt(k),
            state: PairState::Duplex,
            id: *id,
            bitmap: Bitmap::EMPTY,
        })
        .collect()
}

fn se_config(variant: Variant, faults: FaultSet, r_max: u8, region_blocks: u32) -> SourceConfig {
    SourceConfig { me: SE_ADDR, variant, faults, r_max, first_seq: Seq(FIRST_SEQ), durable: true, region_blocks }
}

fn te_config(variant: Variant, faults: FaultSet) -> TargetConfig {
    TargetConfig { me: TE_ADDR, variant, faults, rc0: Seq(FIRST_SEQ - 1), durable: true, immediate: false }
}

/// The held entry SE offers to send first.
fn first_sendable<const LOG: usize>(se: &SourceEdge<u32, LOG>) -> Option<usize> {
    se.sendable().next()
}

/// The regions a write of `count` blocks from `block` touches, one block at a time: block `b`
/// is in region `b / region_blocks` (at least one block per region, at least one block
/// written), a region past the 64th folded onto the last, and no block past the last address.
fn brute_regions(block: u32, count: u16, region_blocks: u32) -> BTreeSet<u32> {
    let r = u64::from(region_blocks.max(1));
    let last = (u64::from(block) + u64::from(count.max(1)) - 1).min(u64::from(u32::MAX));
    (u64::from(block)..=last).map(|b| (b / r).min(63) as u32).collect()
}

fn bitmap_of(regions: &BTreeSet<u32>) -> Bitmap {
    Bitmap(regions.iter().fold(0u64, |acc, r| acc | 1u64 << r))
}

// =============================================================================================
// 1. Reflection at a hardened TE is the longest gap-free prefix of what was delivered
// =============================================================================================

#[derive(Clone, Debug)]
enum TeOp {
    /// Sent entry `pick` (modulo the number sent) arrives at TE: any order, any repeats.
    Deliver(usize),
    /// TE sends TS the next RIO of ID `id` (modulo the IDs), if it has one.
    Reflect(usize),
    /// TS answers the oldest RIO of ID `id` in flight: RIO(WROK), or a rejection.
    Answer { id: usize, ok: bool },
}

#[derive(Clone, Debug)]
struct ReflCase {
    /// Writes per ID: ID k + 1 is pair k's.
    writes: Vec<u8>,
    ops: Vec<TeOp>,
}

impl Arbitrary for ReflCase {
    fn arbitrary(g: &mut Gen) -> ReflCase {
        let ids = 1 + below(g, 2);
        let writes: Vec<u8> = (0..ids).map(|_| below(g, 9) as u8).collect();
        let len = below(g, 60);
        let ops = (0..len)
            .map(|_| match below(g, 8) {
                0..=3 => TeOp::Deliver(below(g, 64)),
                4 | 5 => TeOp::Reflect(below(g, ids)),
                _ => TeOp::Answer { id: below(g, ids), ok: below(g, 8) != 0 },
            })
            .collect();
        ReflCase { writes, ops }
    }

    fn shrink(&self) -> Box<dyn Iterator<Item = ReflCase>> {
        let writes = self.writes.clone();
        Box::new(shrink_steps(&self.ops).into_iter().map(move |ops| ReflCase { writes: writes.clone(), ops }))
    }
}

/// SE takes `writes[k]` writes for pair k and sends them all; returns what it sent.
fn numbered_writes(writes: &[u8]) -> Result<(Vec<Id>, Vec<LogEntry<u32>>), String> {
    let ids: Vec<Id> = (0..writes.len()).map(|k| Id(1 + k as u16)).collect();
    let mut se = Se::new(se_config(Variant::Hardened, FaultSet::NONE, 3, 1), &pair_rows(&ids));
    let mut wid = 0u32;
    for (k, &n) in writes.iter().enumerate() {
        for i in 0..u32::from(n) {
            wid += 1;
            let got = se.write(src(k), tgt(k), Block(wid), 1, wid, Time(wid));
            let want = WriteAck::Logged { id: ids[k], seq: Seq(FIRST_SEQ + i) };
            ensure!(got == Ok(want), "write {wid} of pair {k}: {got:?}, expected {want:?} (S1: numbered 1..n)");
        }
    }
    let mut sent = Vec::new();
    while let Some(i) = first_sendable(&se) {
        sent.push(se.transmit(i, &routing()).map_err(|e| format!("transmit: {e}"))?.transmit.entry);
    }
    ensure!(sent.len() == usize::from(writes.iter().map(|n| u16::from(*n)).sum::<u16>()), "SE sent {sent:?}");
    Ok((ids, sent))
}

/// The longest prefix 1..=k of the seqs contained in `delivered`.
fn longest_prefix(delivered: &BTreeSet<u32>) -> u32 {
    let mut k = FIRST_SEQ - 1;
    while delivered.contains(&(k + 1)) {
        k += 1;
    }
    k
}

/// `applied` is exactly 1, 2, ..., m: each once, in order, no gap.
fn check_prefix(id: Id, applied: &[u32]) -> Result<(), String> {
    let mut seen = BTreeSet::new();
    for s in applied {
        ensure!(seen.insert(*s), "{id:?}: TS applied #{s} twice: {applied:?}");
    }
    for (j, s) in applied.iter().enumerate() {
        let want = FIRST_SEQ + j as u32;
        ensure!(*s == want, "{id:?}: TS applied {applied:?}: #{s} in place of #{want} (out of order, or across a gap)");
    }
    Ok(())
}

/// An answer TE made: the WROK of a delivered entry (2008: 801/802 swapped, 803/804 copied),
/// for a seq already reflected (S5).
fn check_answer(a: &LogEntry<u32>, sent: &[LogEntry<u32>], delivered: &BTreeSet<u32>, rc: Seq) -> Result<(), String> {
    ensure!(a.seq <= rc, "answer {a:?} for a seq above RC {rc:?} (S5: ack implies applied)");
    ensure!(delivered.contains(&a.seq.0), "answer {a:?} for a seq never delivered");
    let Some(wr) = sent.iter().find(|e| e.id == a.id && e.seq == a.seq) else {
        return Err(format!("answer {a:?} for no entry SE sent"));
    };
    let want = wr.answer(Body::Wrok);
    ensure!(*a == want, "answer {a:?}, expected {want:?} (2008)");
    Ok(())
}

fn run_reflection(case: &ReflCase, faults: FaultSet) -> Result<(), String> {
    let (ids, sent) = numbered_writes(&case.writes)?;
    let mut te = Te::new(te_config(Variant::Hardened, faults), &pair_rows(&ids));
    let n = ids.len();
    let mut delivered = vec![BTreeSet::<u32>::new(); n];
    let mut applied = vec![Vec::<u32>::new(); n];
    let mut inflight: Vec<Vec<ToTs<u32>>> = vec![Vec::new(); n];
    let idx = |id: Id| usize::from(id.0.saturating_sub(1));
    let rc = |te: &Te, k: usize| te.counters(ids[k]).map(|c| c.rc).unwrap_or_default();

    // TE sends TS the next RIO of ID k: the entry SE sent for RC + 1.
    let reflect = |te: &mut Te, k: usize, inflight: &mut Vec<Vec<ToTs<u32>>>| -> Result<(), String> {
        let offered = te.reflectable().any(|i| i == ids[k]);
        let got = te.reflect(ids[k]);
        if !offered {
            ensure!(got.is_err(), "{:?} is not reflectable, yet reflect gave {got:?}", ids[k]);
            return Ok(());
        }
        let rio = match got {
            Ok(Reflected::ToTs(rio)) => rio,
            other => return Err(format!("reflect({:?}) gave {other:?}", ids[k])),
        };
        let wr = sent.iter().find(|e| e.id == ids[k] && e.seq == rio.seq);
        ensure!(
            wr.is_some_and(|e| e.body == rio.rio && rio.pair as usize == k),
            "reflect({:?}) sent TS {rio:?}, not the entry SE sent",
            ids[k]
        );
        inflight[k].push(rio);
        Ok(())
    };
    // TS answers the oldest RIO of ID k in flight; an applied write's answer goes back.
    let answer = |te: &mut Te,
                  k: usize,
                  ok: bool,
                  inflight: &mut Vec<Vec<ToTs<u32>>>,
                  applied: &mut Vec<Vec<u32>>,
                  delivered: &[BTreeSet<u32>]|
     -> Result<(), String> {
        if inflight[k].is_empty() {
            return Ok(());
        }
        let rio = inflight[k].remove(0);
        let before = rc(te, k);
        let ts = if ok { TsAnswer::Ok } else { TsAnswer::Rejected };
        let got = te.ts_answer(ids[k], rio.seq, ts, Time(100)).map_err(|e| format!("ts_answer: {e}"))?;
        if !ok {
            ensure!(got.is_none(), "a rejected RIO was answered: {got:?}");
            ensure!(rc(te, k) == before, "a rejected RIO moved RC from {before:?} to {:?}", rc(te, k));
            return Ok(());
        }
        applied[k].push(rio.seq.0);
        check_prefix(ids[k], &applied[k])?;
        let Some(a) = got else {
            return Err(format!("TS applied {rio:?}, and TE made no answer"));
        };
        check_answer(&a, &sent, &delivered[idx(a.id).min(n - 1)], rc(te, idx(a.id).min(n - 1)))
    };

    for (step, op) in case.ops.iter().enumerate() {
        let r = match *op {
            TeOp::Deliver(pick) => {
                if sent.is_empty() {
                    continue;
                }
                let e = &sent[pick % sent.len()];
                let k = idx(e.id);
                delivered[k].insert(e.seq.0);
                match te.receive(e) {
                    TargetReceived::Stored | TargetReceived::Duplicate => Ok(()),
                    TargetReceived::Reack(a) | TargetReceived::StoredAndAcked(a) => {
                        check_answer(&a, &sent, &delivered[k], rc(&te, k))
                    }
                    other => Err(format!("receive({e:?}) gave {other:?}")),
                }
            }
            TeOp::Reflect(k) => reflect(&mut te, k % n, &mut inflight),
            TeOp::Answer { id, ok } => answer(&mut te, id % n, ok, &mut inflight, &mut applied, &delivered),
        };
        let r = r.and_then(|()| {
            for k in 0..n {
                check_prefix(ids[k], &applied[k])?;
                let want = Seq(FIRST_SEQ - 1 + applied[k].len() as u32);
                ensure!(rc(&te, k) == want, "{:?}: RC {:?} after {:?} applied", ids[k], rc(&te, k), applied[k]);
                ensure!(inflight[k].len() <= 1, "{:?}: {} RIOs in flight at TS (2003: one)", ids[k], inflight[k].len());
            }
            Ok(())
        });
        r.map_err(|e| format!("step {step} ({op:?}): {e}"))?;
    }

    // Drain: TS answers everything in flight, TE reflects everything it can.
    for _ in 0..1000 {
        let mut busy = false;
        for k in 0..n {
            while !inflight[k].is_empty() {
                answer(&mut te, k, true, &mut inflight, &mut applied, &delivered).map_err(|e| format!("drain: {e}"))?;
                busy = true;
            }
        }
        let ready: Vec<Id> = te.reflectable().collect();
        for id in ready {
            reflect(&mut te, idx(id), &mut inflight).map_err(|e| format!("drain: {e}"))?;
            busy = true;
        }
        if !busy {
            break;
        }
    }
    for k in 0..n {
        let id = ids[k];
        check_prefix(id, &applied[k]).map_err(|e| format!("drained: {e}"))?;
        let top = longest_prefix(&delivered[k]);
        let want: Vec<u32> = (FIRST_SEQ..=top).collect();
        ensure!(
            applied[k] == want,
            "{id:?}: TS applied {:?}, delivered {:?}: expected {want:?}",
            applied[k],
            delivered[k]
        );
        ensure!(rc(&te, k) == Seq(top), "{id:?}: RC {:?}, longest delivered prefix {top}", rc(&te, k));
        ensure!(inflight[k].is_empty(), "{id:?}: still in flight after the drain");
        // No orphan (2.10): nothing at or below RC stays; above it, each delivered seq once.
        let mut stored: Vec<u32> = te.log.iter().filter(|e| e.id == id).map(|e| e.seq.0).collect();
        stored.sort_unstable();
        ensure!(stored.iter().all(|s| *s > top), "{id:?}: TE keeps {stored:?} with RC {top} (an orphan)");
        let waiting: Vec<u32> = delivered[k].iter().copied().filter(|s| *s > top).collect();
        ensure!(stored == waiting, "{id:?}: TE keeps {stored:?}, expected each waiting seq once: {waiting:?}");
    }
    ensure!(te.reflectable().next().is_none(), "reflectable after the drain");
    Ok(())
}

fn prop_reflection_is_longest_prefix(case: ReflCase) -> TestResult {
    verdict(run_reflection(&case, FaultSet::NONE))
}

#[test]
fn hardened_te_reflects_the_longest_gap_free_prefix() {
    QuickCheck::new().tests(2000).quickcheck(prop_reflection_is_longest_prefix as fn(ReflCase) -> TestResult);
}

/// The examples of the property by hand: a gap holds everything above it; duplicates and
/// re-deliveries of reflected seqs neither reflect twice nor stay; two IDs do not wait for
/// each other.
#[test]
fn reflection_examples() {
    use TeOp::{Answer, Deliver, Reflect};
    let ok = |id| Answer { id, ok: true };
    // Entries: ID 1 seqs 1..=3 at 0..=2, ID 2 seqs 1..=2 at 3..=4.
    let cases = [
        vec![Deliver(2), Deliver(1), Reflect(0), Deliver(0), Deliver(0), Reflect(0), ok(0), Reflect(0), ok(0)],
        vec![Deliver(0), Reflect(0), Deliver(0), ok(0), Deliver(0), Deliver(2), Reflect(0), Deliver(4), Reflect(1)],
        vec![Deliver(3), Deliver(4), Reflect(1), Answer { id: 1, ok: false }, Reflect(1), ok(1), Deliver(3)],
    ];
    for ops in cases {
        let case = ReflCase { writes: vec![3, 2], ops };
        if let Err(e) = run_reflection(&case, FaultSet::NONE) {
            panic!("{case:?}: {e}");
        }
    }
}

// =============================================================================================
// 2. SE's bookkeeping against a naive model of created, acked and converted entries
// =============================================================================================

#[derive(Clone, Debug)]
enum SeOp {
    Write {
        pair: usize,
        block: u32,
        count: u16,
    },
    /// SE sends the entry it offers first.
    Transmit,
    /// The timer of the `pick`-th held entry whose timer runs fires.
    Timeout {
        pick: usize,
    },
    /// An answer arrives: for an even `pick` the answer to the `pick / 2`-th held entry (if
    /// any); otherwise a WROK (or DPOK with `bits`) for `seq` of the pair's ID, in SE's epoch
    /// or, `stale`, another one: possibly a duplicate, possibly for nothing SE ever held.
    Answer {
        pair: usize,
        pick: usize,
        seq: u32,
        dpok: bool,
        bits: u64,
        stale: bool,
    },
    GiveUp {
        pair: usize,
    },
    Resync {
        pair: usize,
    },
}

#[derive(Clone, Debug)]
struct SeCase {
    variant: Variant,
    /// Pair 2 shares pair 0's ID (a multi-pair consistency group); otherwise pairs 0 and 1 only.
    shared: bool,
    r_max: u8,
    region_blocks: u32,
    ops: Vec<SeOp>,
}

/// SE's log storage area in this property: small, so that it fills.
const SE_LOG: usize = 6;
type SmallSe = SourceEdge<u32, SE_LOG>;

impl SeCase {
    fn ids(&self) -> Vec<Id> {
        let mut ids = vec![Id(1), Id(2)];
        if self.shared {
            ids.push(Id(1));
        }
        ids
    }
}

fn arbitrary_se_op(g: &mut Gen, pairs: usize) -> SeOp {
    let pair = below(g, pairs);
    match below(g, 20) {
        0..=5 => SeOp::Write { pair, block: below(g, 24) as u32, count: below(g, 4) as u16 },
        6..=9 => SeOp::Transmit,
        10..=12 => SeOp::Timeout { pick: below(g, 8) },
        13..=16 => SeOp::Answer {
            pair,
            pick: below(g, 16),
            seq: below(g, 9) as u32,
            dpok: below(g, 4) == 0,
            bits: u64::from(u8::arbitrary(g)) << below(g, 4),
            stale: below(g, 5) == 0,
        },
        17 | 18 => SeOp::GiveUp { pair },
        _ => SeOp::Resync { pair },
    }
}

impl Arbitrary for SeCase {
    fn arbitrary(g: &mut Gen) -> SeCase {
        let variant = *g.choose(&[Variant::Faithful, Variant::Hardened]).unwrap();
        let shared = bool::arbitrary(g);
        let pairs = if shared { 3 } else { 2 };
        let len = below(g, 70);
        let ops = (0..len).map(|_| arbitrary_se_op(g, pairs)).collect();
        SeCase { variant, shared, r_max: below(g, 4) as u8, region_blocks: 1 + below(g, 4) as u32, ops }
    }

    fn shrink(&self) -> Box<dyn Iterator<Item = SeCase>> {
        let base = self.clone();
        Box::new(shrink_steps(&self.ops).into_iter().map(move |ops| SeCase { ops, ..base.clone() }))
    }
}

/// An entry the model knows SE holds.
#[derive(Clone, Debug, PartialEq)]
struct MHeld {
    pair: usize,
    entry: LogEntry<u32>,
    pending: bool,
    sent: bool,
    resends: u8,
}

impl MHeld {
    fn key(&self) -> (Id, Epoch, Seq) {
        (self.entry.id, self.entry.epoch, self.entry.seq)
    }
}

/// The naive model: what SE created and still holds, in creation order; CC and the epoch per
/// ID; each pair's state and 727; the first copy of each entry sent.
struct SeModel {
    variant: Variant,
    r_max: u8,
    region_blocks: u32,
    ids: Vec<Id>,
    held: Vec<MHeld>,
    cc: BTreeMap<Id, Seq>,
    epoch: BTreeMap<Id, Epoch>,
    state: Vec<PairState>,
    bitmap: Vec<Bitmap>,
    first_sent: BTreeMap<(Id, Epoch, Seq), LogEntry<u32>>,
}

impl SeModel {
    fn new(case: &SeCase) -> SeModel {
        let ids = case.ids();
        SeModel {
            variant: case.variant,
            r_max: case.r_max,
            region_blocks: case.region_blocks,
            cc: ids.iter().map(|id| (*id, Seq(FIRST_SEQ))).collect(),
            epoch: ids.iter().map(|id| (*id, Epoch(0))).collect(),
            state: vec![PairState::Duplex; ids.len()],
            bitmap: vec![Bitmap::EMPTY; ids.len()],
            held: Vec::new(),
            first_sent: BTreeMap::new(),
            ids,
        }
    }

    /// A new entry of pair `pair`, numbered from CC, pending.
    fn create(&mut self, pair: usize, body: Body<u32>, now: Time) -> Seq {
        let id = self.ids[pair];
        let cc = self.cc.get_mut(&id).unwrap();
        let seq = *cc;
        *cc = cc.next();
        let entry = LogEntry { target: tgt(pair), source: src(pair), id, epoch: self.epoch[&id], time: now, seq, body };
        self.held.push(MHeld { pair, entry, pending: true, sent: false, resends: 0 });
        seq
    }

    /// Give-up: every held entry of the pair converted, its write's regions into 727.
    fn give_up(&mut self, pair: usize) -> Vec<(u32, u16)> {
        let mut converted = Vec::new();
        for h in self.held.iter().filter(|h| h.pair == pair) {
            if let Body::Wr { block, count, .. } = h.entry.body {
                converted.push((block.0, count));
                let marked = bitmap_of(&brute_regions(block.0, count, self.region_blocks));
                self.bitmap[pair] = Bitmap(self.bitmap[pair].0 | marked.0);
            }
        }
        self.held.retain(|h| h.pair != pair);
        self.state[pair] = PairState::FailureSuspend;
        converted
    }

    /// The held entry an answer matches: the same ID and seq (and epoch, hardened), of the kind
    /// it answers.
    fn matching(&self, a: &LogEntry<u32>) -> Option<usize> {
        self.held.iter().position(|h| {
            h.entry.kind().answered_by() == Some(a.kind())
                && h.entry.id == a.id
                && h.entry.seq == a.seq
                && (self.variant == Variant::Faithful || h.entry.epoch == a.epoch)
        })
    }
}

/// SE agrees with the model: the held entries (created - acked - converted, in order, with
/// their send state), CC, CC - DC = held (S9, counted from the ID's base), each pair's state
/// and 727.
fn check_se(se: &SmallSe, m: &SeModel) -> Result<(), String> {
    let got: Vec<MHeld> = se
        .log
        .iter()
        .map(|h| MHeld {
            pair: usize::from(h.pair),
            entry: h.entry,
            pending: h.pending,
            sent: h.sent,
            resends: h.resends,
        })
        .collect();
    ensure!(got == m.held, "SE holds {got:?}, the model (created - acked - converted) {:?}", m.held);
    for id in m.cc.keys() {
        let c = se.counters(*id).ok_or(format!("no counters for {id:?}"))?;
        ensure!(c.cc == m.cc[id], "{id:?}: CC {:?}, the model {:?}", c.cc, m.cc[id]);
        ensure!(c.epoch == m.epoch[id], "{id:?}: epoch {:?}, the model {:?}", c.epoch, m.epoch[id]);
        let held = m.held.iter().filter(|h| h.entry.id == *id).count() as i64;
        let diff = i64::from(c.cc.0) - i64::from(FIRST_SEQ) - i64::from(c.dc);
        ensure!(diff == held, "{id:?}: CC {:?} - DC {} = {diff} from the base, {held} held (S9)", c.cc, c.dc);
        ensure!(se.held(*id) as i64 == held, "{id:?}: SE::held says {}, {held} held", se.held(*id));
    }
    for (k, row) in se.pairs.iter().enumerate() {
        ensure!(row.state == m.state[k], "pair {k}: state {:?}, the model {:?}", row.state, m.state[k]);
        ensure!(row.bitmap == m.bitmap[k], "pair {k}: 727 = {:?}, the model {:?}", row.bitmap, m.bitmap[k]);
    }
    Ok(())
}

fn run_source(case: &SeCase, faults: FaultSet) -> Result<(), String> {
    let ids = case.ids();
    let cfg = se_config(case.variant, faults, case.r_max, case.region_blocks);
    let mut se = SmallSe::new(cfg, &pair_rows(&ids));
    let mut m = SeModel::new(case);
    let routing = routing();
    for (step, op) in case.ops.iter().enumerate() {
        let now = Time(step as u32);
        // An answer that matched nothing: SE as it was before it (it must not have changed).
        let mut unchanged: Option<SmallSe> = None;
        let r: Result<(), String> = (|| {
            match *op {
                SeOp::Write { pair, block, count } => {
                    let got = se.write(src(pair), tgt(pair), Block(block), count, step as u32, now);
                    let state = m.state[pair];
                    let want = if !state.copying() {
                        Err(Refused::State(state))
                    } else if m.held.len() == SE_LOG {
                        Err(Refused::LogFull(SE_LOG))
                    } else {
                        let body = Body::Wr { block: Block(block), count, data: step as u32 };
                        Ok(WriteAck::Logged { id: ids[pair], seq: m.create(pair, body, now) })
                    };
                    ensure!(got == want, "write gave {got:?}, expected {want:?}");
                }
                SeOp::Transmit => {
                    let offered = se.sendable().next();
                    let first = m.held.iter().position(|h| h.pending);
                    ensure!(offered == first, "SE offers {offered:?}, the first pending is {first:?}");
                    let Some(i) = offered else { return Ok(()) };
                    let sent = se.transmit(i, &routing).map_err(|e| format!("transmit: {e}"))?;
                    ensure!(sent.reply.is_none(), "transmit told SS {:?}", sent.reply);
                    ensure!(sent.transmit.to == CORE_ADDR, "sent to {:?}, not the core", sent.transmit.to);
                    let h = &mut m.held[i];
                    ensure!(sent.transmit.entry == h.entry, "sent {:?}, held {:?}", sent.transmit.entry, h.entry);
                    h.pending = false;
                    h.sent = true;
                    // S1: a resend is the same entry: same seq, data, time and epoch.
                    let first = m.first_sent.entry(h.key()).or_insert(h.entry);
                    ensure!(*first == sent.transmit.entry, "resent {:?}, first sent {first:?}", sent.transmit.entry);
                }
                SeOp::Timeout { pick } => {
                    let timers: Vec<usize> = se.timers().collect();
                    let want: Vec<usize> =
                        (0..m.held.len()).filter(|j| m.held[*j].sent && !m.held[*j].pending).collect();
                    ensure!(timers == want, "timers run for {timers:?}, expected {want:?}");
                    if timers.is_empty() {
                        return Ok(());
                    }
                    let i = timers[pick % timers.len()];
                    let got = se.timeout(i).map_err(|e| format!("timeout: {e}"))?;
                    let h = &mut m.held[i];
                    let want = if h.resends < m.r_max {
                        h.resends += 1;
                        h.pending = true;
                        Timeout::Resend
                    } else {
                        let pair = h.pair;
                        m.give_up(pair);
                        Timeout::GaveUp { pair: pair as u8 }
                    };
                    ensure!(got == want, "timeout gave {got:?}, expected {want:?}");
                }
                SeOp::Answer { pair, pick, seq, dpok, bits, stale } => {
                    let a = if pick % 2 == 0 && !m.held.is_empty() {
                        let h = &m.held[(pick / 2) % m.held.len()];
                        let body = match h.entry.kind().answered_by() {
                            Some(Kind::Dpok) => Body::Dpok(Bitmap(bits)),
                            Some(k) => Body::bare(k).unwrap(),
                            None => Body::Wrok,
                        };
                        h.entry.answer(body)
                    } else {
                        let id = ids[pair];
                        let epoch = m.epoch[&id];
                        let epoch = if stale { Epoch(epoch.0.checked_sub(1).unwrap_or(epoch.0 + 1)) } else { epoch };
                        let body = if dpok { Body::Dpok(Bitmap(bits)) } else { Body::Wrok };
                        LogEntry { target: src(pair), source: tgt(pair), id, epoch, time: now, seq: Seq(seq), body }
                    };
                    let before = se.clone();
                    let got = se.receive(&a);
                    let want = match m.matching(&a) {
                        None => {
                            unchanged = Some(before);
                            SourceReceived::Unmatched
                        }
                        Some(j) => {
                            let h = m.held.remove(j);
                            let reply = match a.body {
                                Body::Dpok(b) => {
                                    // Data 1209: 727 | 1213, handed to SS; 727 cleared.
                                    let merged = Bitmap(m.bitmap[h.pair].0 | b.0);
                                    m.bitmap[h.pair] = Bitmap::EMPTY;
                                    m.state[h.pair] = PairState::DuplexPending;
                                    Some(SsReply::Dpok(merged))
                                }
                                _ => None,
                            };
                            SourceReceived::Deleted { pair: h.pair as u8, reply }
                        }
                    };
                    ensure!(got == want, "receive({a:?}) gave {got:?}, expected {want:?}");
                }
                SeOp::GiveUp { pair } => {
                    let converted = m.give_up(pair);
                    se.give_up(pair as u8);
                    // S8: every converted write's regions are marked in the pair's 727.
                    let bits = se.pairs[pair].bitmap;
                    for (block, count) in converted {
                        for r in brute_regions(block, count, case.region_blocks) {
                            ensure!(
                                bits.marked(r),
                                "give-up converted a write of b{block}+{count}; 727 = {bits:?} lacks region {r}"
                            );
                        }
                    }
                }
                SeOp::Resync { pair } => {
                    let got = se.resync(src(pair), tgt(pair), now);
                    let state = m.state[pair];
                    let want = if !state.suspended() {
                        Err(Refused::State(state))
                    } else if m.held.len() == SE_LOG {
                        Err(Refused::LogFull(SE_LOG))
                    } else {
                        if case.variant == Variant::Hardened {
                            // Re-based in a new epoch: the pair's old entries (unanswerable now)
                            // go; another pair of the ID has its entries converted into its 727
                            // and is suspended, as at a give-up (S8: not dropped).
                            let id = ids[pair];
                            for (q, other) in ids.iter().enumerate() {
                                if q != pair && *other == id && m.held.iter().any(|h| h.pair == q) {
                                    m.give_up(q);
                                }
                            }
                            m.cc.insert(id, Seq(FIRST_SEQ));
                            let e = m.epoch.get_mut(&id).unwrap();
                            *e = Epoch(e.0 + 1);
                            m.held.retain(|h| h.pair != pair);
                        }
                        Ok(m.create(pair, Body::Resync, now))
                    };
                    ensure!(got == want, "resync gave {got:?}, expected {want:?}");
                }
            }
            Ok(())
        })();
        let r = r.and_then(|()| check_se(&se, &m)).and_then(|()| match unchanged {
            Some(before) if before != se => Err("an answer that matched nothing changed SE".to_string()),
            _ => Ok(()),
        });
        r.map_err(|e| format!("step {step} ({op:?}): {e}"))?;
    }
    Ok(())
}

fn prop_source_bookkeeping(case: SeCase) -> TestResult {
    verdict(run_source(&case, FaultSet::NONE))
}

#[test]
fn se_bookkeeping_matches_the_naive_model() {
    QuickCheck::new().tests(2000).quickcheck(prop_source_bookkeeping as fn(SeCase) -> TestResult);
}

/// A resync of one pair of a multi-pair ID re-bases the whole ID: the write another pair of the
/// ID holds is converted into that pair's 727, and that pair is suspended, not dropped. (Found
/// by the property above: SE dropped it, 727 unmarked, the pair still in Duplex, though SS had
/// been told the write was logged.)
#[test]
fn resync_of_one_pair_keeps_the_other_pairs_writes() {
    let ids = [Id(1), Id(2), Id(1)];
    let mut se = Se::new(se_config(Variant::Hardened, FaultSet::NONE, 1, 1), &pair_rows(&ids));
    se.give_up(2);
    assert_eq!(se.write(src(0), tgt(0), Block(20), 3, 7, Time(1)), Ok(WriteAck::Logged { id: Id(1), seq: Seq(1) }));
    assert_eq!(se.resync(src(2), tgt(2), Time(2)), Ok(Seq(1)));
    assert_eq!(se.pairs[0].bitmap, bitmap_of(&brute_regions(20, 3, 1)), "pair 0's logged write is in its 727");
    assert_eq!(se.pairs[0].state, PairState::FailureSuspend);
    assert_eq!(se.pairs[1].state, PairState::Duplex, "another ID is not touched");
    let c = se.counters(Id(1)).unwrap();
    assert_eq!((c.cc, c.dc, c.epoch, se.held(Id(1))), (Seq(2), 0, Epoch(1), 1), "only the resync is held");
}

// =============================================================================================
// 3. Next hop (1905) on random routes against a brute-force walk
// =============================================================================================

#[derive(Clone, Debug)]
struct RouteCase {
    /// (source WWN, target WWN, hops), each small so that they collide.
    rows: Vec<(u64, u64, Vec<u32>)>,
    walk_back: bool,
}

impl Arbitrary for RouteCase {
    fn arbitrary(g: &mut Gen) -> RouteCase {
        let n = below(g, MAX_ROUTES + 1);
        let rows = (0..n)
            .map(|_| {
                let len = below(g, MAX_HOPS + 1);
                let repeats = below(g, 4) == 0;
                let mut hops: Vec<u32> = Vec::new();
                while hops.len() < len {
                    let a = 1 + below(g, 9) as u32;
                    if repeats || !hops.contains(&a) {
                        hops.push(a);
                    }
                }
                (1 + below(g, 3) as u64, 1 + below(g, 3) as u64, hops)
            })
            .collect();
        RouteCase { rows, walk_back: bool::arbitrary(g) }
    }

    fn shrink(&self) -> Box<dyn Iterator<Item = RouteCase>> {
        let walk_back = self.walk_back;
        Box::new(shrink_steps(&self.rows).into_iter().map(move |rows| RouteCase { rows, walk_back }))
    }
}

/// Brute force: the device after `me` in `path` (its first occurrence); `None` if `me` is not
/// on it, `Some(None)` if it ends the path.
fn brute_after(path: &[u32], me: u32) -> Option<Option<u32>> {
    for i in 0..path.len() {
        if path[i] == me {
            return Some(if i + 1 < path.len() { Some(path[i + 1]) } else { None });
        }
    }
    None
}

/// Brute force of 1905 (4.6): the first row from `s` to `t`, walked forward; with none and
/// `walk_back`, the first row from `t` to `s` reversed and walked forward.
fn brute_next(case: &RouteCase, me: u32, s: u64, t: u64) -> NextHop {
    let mut path: Option<Vec<u32>> = None;
    for (rs, rt, hops) in &case.rows {
        if (*rs, *rt) == (s, t) {
            path = Some(hops.clone());
            break;
        }
    }
    if path.is_none() && case.walk_back {
        for (rs, rt, hops) in &case.rows {
            if (*rs, *rt) == (t, s) {
                path = Some(hops.iter().rev().copied().collect());
                break;
            }
        }
    }
    match path.as_deref().map(|p| brute_after(p, me)) {
        None | Some(None) => NextHop::NoRoute,
        Some(Some(None)) => NextHop::Here,
        Some(Some(Some(a))) => NextHop::To(Addr(a)),
    }
}

fn run_routes(case: &RouteCase) -> Result<(), String> {
    let rows: Vec<RouteRow> = case
        .rows
        .iter()
        .map(|(s, t, hops)| {
            let hops: Vec<Addr> = hops.iter().map(|a| Addr(*a)).collect();
            RouteRow { source: Wwn(*s), target: Wwn(*t), route: Route::of(&hops).unwrap() }
        })
        .collect();
    let routing = Routing::new(&rows, case.walk_back).map_err(|e| e.to_string())?;
    // Route::after / before / loop_free against the brute force.
    for (row, (_, _, hops)) in rows.iter().zip(&case.rows) {
        let back: Vec<u32> = hops.iter().rev().copied().collect();
        let distinct: BTreeSet<u32> = hops.iter().copied().collect();
        ensure!(row.route.loop_free() == (distinct.len() == hops.len()), "loop_free({hops:?})");
        for me in 0..=10 {
            let after = row.route.after(Addr(me)).map(|a| a.0);
            ensure!(after == brute_after(hops, me).flatten(), "{hops:?}.after({me}) = {after:?}");
            let before = row.route.before(Addr(me)).map(|a| a.0);
            ensure!(before == brute_after(&back, me).flatten(), "{hops:?}.before({me}) = {before:?}");
        }
    }
    // Routing::next for every device and both directions of every pair of storages.
    for me in 0..=10 {
        for s in 0..=4 {
            for t in 0..=4 {
                let got = routing.next(Addr(me), Wwn(s), Wwn(t));
                let want = brute_next(case, me, s, t);
                ensure!(got == want, "next(@{me}, W{s:x} -> W{t:x}) = {got:?}, brute force {want:?}");
            }
        }
    }
    // S15: on a loop-free route, an entry walks it from its first device to its last, and an
    // answer (802/801 swapped) walks it back when no reverse row is configured first.
    for (s, t, hops) in &case.rows {
        let distinct: BTreeSet<u32> = hops.iter().copied().collect();
        if hops.is_empty() || distinct.len() != hops.len() {
            continue;
        }
        let first_row = case.rows.iter().find(|r| (r.0, r.1) == (*s, *t)).map(|r| &r.2);
        if first_row == Some(hops) {
            ensure!(walk(&routing, hops[0], *s, *t) == Ok(hops.clone()), "{hops:?} is not walked forward");
        }
        let reverse_row = case.rows.iter().any(|r| (r.0, r.1) == (*t, *s));
        if case.walk_back && !reverse_row && first_row == Some(hops) {
            let back: Vec<u32> = hops.iter().rev().copied().collect();
            ensure!(walk(&routing, back[0], *t, *s) == Ok(back.clone()), "{hops:?} is not walked back");
        }
    }
    Ok(())
}

/// The devices an entry from `s` to `t` visits, starting at `from`, until a device finds it
/// is for itself; an error on a lost entry or a loop.
fn walk(routing: &Routing, from: u32, s: u64, t: u64) -> Result<Vec<u32>, NextHop> {
    let mut at = from;
    let mut path = vec![at];
    for _ in 0..=MAX_HOPS {
        match routing.next(Addr(at), Wwn(s), Wwn(t)) {
            NextHop::Here => return Ok(path),
            NextHop::To(a) => {
                at = a.0;
                path.push(at);
            }
            NextHop::NoRoute => return Err(NextHop::NoRoute),
        }
    }
    Err(NextHop::To(Addr(at)))
}

fn prop_next_hop_matches_brute_force(case: RouteCase) -> TestResult {
    verdict(run_routes(&case))
}

#[test]
fn next_hop_matches_brute_force() {
    QuickCheck::new().tests(500).quickcheck(prop_next_hop_matches_brute_force as fn(RouteCase) -> TestResult);
}

// =============================================================================================
// 4. Bitmaps: union, mark, and SE's DPOK merge
// =============================================================================================

#[derive(Clone, Debug)]
struct MarkCase {
    start: u64,
    block: u32,
    count: u16,
    region_blocks: u32,
}

impl Arbitrary for MarkCase {
    fn arbitrary(g: &mut Gen) -> MarkCase {
        let block = match below(g, 4) {
            0 => u32::arbitrary(g),
            1 => u32::MAX - below(g, 300) as u32,
            _ => below(g, 600) as u32,
        };
        let count = if below(g, 5) == 0 { u16::arbitrary(g) } else { below(g, 20) as u16 };
        let region_blocks = match below(g, 5) {
            0 => u32::arbitrary(g),
            1 => 0,
            _ => 1 + below(g, 12) as u32,
        };
        let start = if bool::arbitrary(g) { u64::arbitrary(g) } else { 0 };
        MarkCase { start, block, count, region_blocks }
    }
}

fn prop_mark_is_brute_force(case: MarkCase) -> TestResult {
    verdict((|| {
        let mut b = Bitmap(case.start);
        b.mark(Block(case.block), case.count, case.region_blocks);
        let want = Bitmap(case.start | bitmap_of(&brute_regions(case.block, case.count, case.region_blocks)).0);
        ensure!(
            b == want,
            "{:?}.mark(b{}, {}, {}) = {b:?}, brute force {want:?}",
            Bitmap(case.start),
            case.block,
            case.count,
            case.region_blocks
        );
        Ok(())
    })())
}

fn prop_union_is_or(a: u64, b: u64) -> TestResult {
    verdict((|| {
        let u = Bitmap(a).union(Bitmap(b));
        for r in 0..70 {
            let want = Bitmap(a).marked(r) || Bitmap(b).marked(r);
            ensure!(u.marked(r) == want, "region {r}: {:?} | {:?} = {u:?}", Bitmap(a), Bitmap(b));
            ensure!(Bitmap(a).marked(r) == (r < 64 && (a >> r) & 1 == 1), "marked({r}) of {a:#x}");
        }
        let regions: Vec<u32> = u.regions().collect();
        let want: Vec<u32> = (0..64).filter(|r| (a | b) >> r & 1 == 1).collect();
        ensure!(regions == want, "regions of {u:?}: {regions:?}");
        ensure!(u.is_empty() == (a | b == 0), "is_empty of {u:?}");
        Ok(())
    })())
}

#[test]
fn bitmap_mark_matches_brute_force() {
    QuickCheck::new().tests(1000).quickcheck(prop_mark_is_brute_force as fn(MarkCase) -> TestResult);
}

#[test]
fn bitmap_union_is_bitwise_or() {
    quickcheck(prop_union_is_or as fn(u64, u64) -> TestResult);
}

#[derive(Clone, Debug)]
struct MergeCase {
    variant: Variant,
    /// (block, count) of each write; the first `sent` are sent before the give-up.
    writes: Vec<(u32, u16)>,
    sent: usize,
    region_blocks: u32,
    /// TS's bitmap 1213 in the DPOK.
    target_bits: u64,
}

impl Arbitrary for MergeCase {
    fn arbitrary(g: &mut Gen) -> MergeCase {
        let writes = (0..below(g, 7)).map(|_| (below(g, 200) as u32, below(g, 9) as u16)).collect();
        MergeCase {
            variant: *g.choose(&[Variant::Faithful, Variant::Hardened]).unwrap(),
            writes,
            sent: below(g, 8),
            region_blocks: 1 + below(g, 8) as u32,
            target_bits: u64::arbitrary(g),
        }
    }
}

/// Writes, a give-up, a resync, TE's DPOK: SE hands SS 727 | 1213 and clears 727 (data 1209).
fn run_merge(case: &MergeCase, faults: FaultSet) -> Result<(), String> {
    let ids = [Id(1)];
    let mut se = Se::new(se_config(case.variant, faults, 1, case.region_blocks), &pair_rows(&ids));
    let mut want727 = BTreeSet::new();
    for (i, (block, count)) in case.writes.iter().enumerate() {
        let got = se.write(src(0), tgt(0), Block(*block), *count, i as u32, Time(i as u32));
        ensure!(matches!(got, Ok(WriteAck::Logged { .. })), "write: {got:?}");
        want727.extend(brute_regions(*block, *count, case.region_blocks));
    }
    for _ in 0..case.sent {
        if let Some(i) = first_sendable(&se) {
            se.transmit(i, &routing()).map_err(|e| e.to_string())?;
        }
    }
    se.give_up(0);
    let b727 = se.pairs[0].bitmap;
    ensure!(b727 == bitmap_of(&want727), "727 = {b727:?} after the give-up, expected {:?}", bitmap_of(&want727));
    let seq = se.resync(src(0), tgt(0), Time(50)).map_err(|e| e.to_string())?;
    let i = se.sendable().next().ok_or("the resync is not offered")?;
    let rs = se.transmit(i, &routing()).map_err(|e| e.to_string())?.transmit.entry;
    ensure!(rs.kind() == Kind::Resync && rs.seq == seq, "sent {rs:?}");
    let dpok = rs.answer(Body::Dpok(Bitmap(case.target_bits)));
    let got = se.receive(&dpok);
    let merged = Bitmap(b727.0 | case.target_bits);
    let want = SourceReceived::Deleted { pair: 0, reply: Some(SsReply::Dpok(merged)) };
    ensure!(got == want, "DPOK gave {got:?}, expected {want:?} (1209 = 727 | 1213)");
    ensure!(se.pairs[0].bitmap.is_empty(), "727 = {:?} after the DPOK", se.pairs[0].bitmap);
    ensure!(se.pairs[0].state == PairState::DuplexPending, "pair in {:?}", se.pairs[0].state);
    Ok(())
}

fn prop_dpok_merge(case: MergeCase) -> TestResult {
    verdict(run_merge(&case, FaultSet::NONE))
}

#[test]
fn se_dpok_merge_is_union_and_clears_727() {
    QuickCheck::new().tests(500).quickcheck(prop_dpok_merge as fn(MergeCase) -> TestResult);
}

// =============================================================================================
// 5. The properties fail on seeded faults
// =============================================================================================

/// Each test below runs a property's check on a small hand-made input, which passes without
/// the fault and fails with it for the reason the note gives; then a seeded quickcheck search
/// with the fault on, which must find a failing case by itself.
#[cfg(feature = "faults")]
mod seeded_faults {
    use super::*;
    use rcopy::relay::Fault;
    use std::cell::Cell;

    thread_local! {
        /// The faults the search's properties run with (quickcheck takes plain functions).
        static FAULTS: Cell<FaultSet> = const { Cell::new(FaultSet::NONE) };
    }

    fn one(f: Fault) -> FaultSet {
        FaultSet::NONE.with(f as u32).expect("built with feature faults")
    }

    fn faulty_reflection(case: ReflCase) -> TestResult {
        verdict(run_reflection(&case, FAULTS.with(Cell::get)))
    }

    fn faulty_source(case: SeCase) -> TestResult {
        verdict(run_source(&case, FAULTS.with(Cell::get)))
    }

    fn faulty_merge(case: MergeCase) -> TestResult {
        verdict(run_merge(&case, FAULTS.with(Cell::get)))
    }

    /// `run` passes without `fault`, and fails with it saying `want`.
    fn fails_only_with(fault: Fault, run: impl Fn(FaultSet) -> Result<(), String>, want: &str) {
        if let Err(e) = run(FaultSet::NONE) {
            panic!("{fault:?}: the hand-made input fails without the fault: {e}");
        }
        match run(one(fault)) {
            Ok(()) => panic!("{fault:?}: the hand-made input passes with the fault"),
            Err(e) => assert!(e.contains(want), "{fault:?}: failed, but not for \"{want}\": {e}"),
        }
    }

    /// A seeded search with `fault` on finds (and shrinks) a failing case of `prop`.
    fn search<A: Arbitrary + std::fmt::Debug>(fault: Fault, prop: fn(A) -> TestResult) {
        FAULTS.with(|f| f.set(one(fault)));
        let found = QuickCheck::new().rng(Gen::from_size_and_seed(100, 1)).tests(3000).max_tests(3000).quicktest(prop);
        FAULTS.with(|f| f.set(FaultSet::NONE));
        match found {
            Ok(n) => panic!("{fault:?}: no failing case in {n} cases"),
            Err(witness) => eprintln!("{fault:?}: {witness:?}"),
        }
    }

    fn refl(writes: &[u8], ops: Vec<TeOp>) -> impl Fn(FaultSet) -> Result<(), String> {
        let case = ReflCase { writes: writes.to_vec(), ops };
        move |f| run_reflection(&case, f)
    }

    fn source(ops: Vec<SeOp>) -> impl Fn(FaultSet) -> Result<(), String> {
        let case = SeCase { variant: Variant::Hardened, shared: false, r_max: 2, region_blocks: 1, ops };
        move |f| run_source(&case, f)
    }

    /// An answer to `seq` of pair `pair`'s ID, in SE's epoch (an odd pick: not a held entry's).
    fn wrok(pair: usize, seq: u32) -> SeOp {
        SeOp::Answer { pair, pick: 1, seq, dpok: false, bits: 0, stale: false }
    }

    use TeOp::{Deliver, Reflect};
    const OK: TeOp = TeOp::Answer { id: 0, ok: true };

    /// B5 breaks "each once": seq 1 and its duplicate are both stored and both reflected.
    #[test]
    fn b5_reflects_a_duplicate_twice() {
        fails_only_with(Fault::B5, refl(&[2], vec![Deliver(0), Deliver(0), Reflect(0), OK, Reflect(0), OK]), "twice");
        search(Fault::B5, faulty_reflection);
    }

    /// B9 breaks "in order": seq 2 arrives first and is reflected before seq 1.
    #[test]
    fn b9_reflects_in_arrival_order() {
        fails_only_with(Fault::B9, refl(&[2], vec![Deliver(1), Reflect(0), OK]), "out of order");
        search(Fault::B9, faulty_reflection);
    }

    /// B10 breaks stop-and-wait: two RIOs of one ID at TS at once.
    #[test]
    fn b10_pipelines_reflection() {
        fails_only_with(
            Fault::B10,
            refl(&[2], vec![Deliver(0), Deliver(1), Reflect(0), Reflect(0)]),
            "2 RIOs in flight",
        );
        search(Fault::B10, faulty_reflection);
    }

    /// B2 breaks S5: TE answers an entry on receipt, before TS applied it.
    #[test]
    fn b2_answers_on_receipt() {
        fails_only_with(Fault::B2, refl(&[1], vec![Deliver(0)]), "above RC");
        search(Fault::B2, faulty_reflection);
    }

    /// B3 breaks S5: the WROK carries RC + 1, a seq not reflected.
    #[test]
    fn b3_answers_the_wrong_seq() {
        fails_only_with(Fault::B3, refl(&[1], vec![Deliver(0), Reflect(0), OK]), "above RC");
        search(Fault::B3, faulty_reflection);
    }

    /// B32 breaks RC = |applied|: RC counts the RIO when it is sent, before TS answers.
    #[test]
    fn b32_counts_before_ts_confirms() {
        fails_only_with(Fault::B32, refl(&[1], vec![Deliver(0), Reflect(0)]), "RC #1 after [] applied");
        search(Fault::B32, faulty_reflection);
    }

    /// B21 breaks CC - DC = held: a duplicate WROK counts a deletion.
    #[test]
    fn b21_counts_a_duplicate_wrok() {
        let ops = vec![SeOp::Write { pair: 0, block: 0, count: 1 }, SeOp::Transmit, wrok(0, 1), wrok(0, 1)];
        fails_only_with(Fault::B21, source(ops), "(S9)");
        search(Fault::B21, faulty_source);
    }

    /// B6 breaks "an answer for nothing held changes nothing": ID 1's WROK deletes ID 2's write.
    #[test]
    fn b6_matches_by_seq_alone() {
        let ops = vec![SeOp::Write { pair: 1, block: 0, count: 1 }, wrok(0, 1)];
        fails_only_with(Fault::B6, source(ops), "expected Unmatched");
        search(Fault::B6, faulty_source);
    }

    /// B1 breaks held = created - acked - converted: the write is deleted as it leaves.
    #[test]
    fn b1_deletes_at_send() {
        fails_only_with(
            Fault::B1,
            source(vec![SeOp::Write { pair: 0, block: 0, count: 1 }, SeOp::Transmit]),
            "SE holds []",
        );
        search(Fault::B1, faulty_source);
    }

    /// B4 breaks "a resend is the same entry": the timeout renumbers it.
    #[test]
    fn b4_renumbers_a_resend() {
        let ops = vec![SeOp::Write { pair: 0, block: 0, count: 1 }, SeOp::Transmit, SeOp::Timeout { pick: 0 }];
        fails_only_with(Fault::B4, source(ops), "seq: #2");
        search(Fault::B4, faulty_source);
    }

    /// B30 breaks S8: give-up drops the held write without marking 727.
    #[test]
    fn b30_gives_up_without_conversion() {
        let ops = vec![SeOp::Write { pair: 0, block: 5, count: 1 }, SeOp::GiveUp { pair: 0 }];
        fails_only_with(Fault::B30, source(ops), "lacks region 5");
        search(Fault::B30, faulty_source);
    }

    /// B15 breaks data 1209: the DPOK's 1213 replaces 727 instead of joining it.
    #[test]
    fn b15_replaces_727() {
        let case = MergeCase {
            variant: Variant::Hardened,
            writes: vec![(0, 1)],
            sent: 0,
            region_blocks: 1,
            target_bits: 0b100,
        };
        fails_only_with(Fault::B15, |f| run_merge(&case, f), "1209 = 727 | 1213");
        search(Fault::B15, faulty_merge);
    }
}
