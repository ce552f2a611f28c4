//! TE, the target-side edge device 105: storing what arrives (2001-2002), reflecting each ID
//! strictly in seq order, one RIO at a time (2003-2011, and the control entries of Figs. 21
//! and 22), the resync's handshake (data 1204-1207) and the failover machine of Fig. 13
//! (1303-1310), with the fence and the read-out of leftovers (l. 510).
//!
//! TE keeps the entries it received in its log storage area 413 until it reflected and
//! answered them. The caller asks [`TargetEdge::reflectable`] which IDs have an entry TS may
//! take now, sends TS the RIO that [`TargetEdge::reflect`] gives, and reports TS's answer with
//! [`TargetEdge::ts_answer`], which returns the answering entry to send back toward SE.

use super::fault::Fault;
use super::route::{NextHop, Routing};
use super::source::{Transmit, MAX_IDS, MAX_PAIRS};
use super::types::{Addr, Bitmap, Body, Epoch, Id, Kind, LogEntry, PairRow, PairState, Seq, Time, Variant, VolRef};
use crate::fault::FaultSet;
use serde::{Deserialize, Serialize};

/// TE's settings.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub struct TargetConfig {
    pub me: Addr,
    pub variant: Variant,
    pub faults: FaultSet,
    /// RC's initial value (hardened: SE's first seq less one).
    pub rc0: Seq,
    /// The log and RC survive a crash.
    pub durable: bool,
    /// Failover by the modification of l. 510: 1310-1312 right after 1303, leftovers read
    /// out; otherwise the drain of 1305-1309 until LE(SOK) or the timeout.
    pub immediate: bool,
}

/// Order assurance information at TE, per ID.
#[derive(Clone, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub struct TargetCounters {
    pub id: Id,
    /// RC 733: the last seq reflected.
    pub rc: Seq,
    pub epoch: Epoch,
    /// 735: the last reflection's delay (TE's clock less the entry's I/O time).
    pub delay: u32,
    /// The entries sent to TS and not answered yet, by seq and epoch (one, except under B10).
    pub inflight: heapless::Vec<(Seq, Epoch), 2>,
    /// Fault B5: the seq last reflected, whose other copies are reflected too.
    pub last: Option<Seq>,
    /// Hardened: fenced at 1310 (the whole ID): nothing more is reflected.
    pub fenced: bool,
}

/// Where TE's failover of one pair stands (Fig. 13; note 4.9's machine).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub enum Failover {
    Idle,
    /// 1305-1309: reflecting until LE(SOK) or the timeout. `sok`: the SOK seen, waiting for
    /// the gap below it to close (strict). `armed`: the timer runs (B33: never armed).
    Draining { sok: Option<Seq>, armed: bool },
    /// 1310 is due: waiting for TS to answer the RIO in flight.
    Fencing,
    /// 1310 done: failure Suspend, RIO(SOK) sent to TS.
    Done,
}

/// A pair at TE: its 411 row and its failover.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub struct TargetPair {
    pub row: PairRow,
    pub failover: Failover,
    /// Immediate mode: the leftovers were read out and applied (l. 510).
    pub leftovers_taken: bool,
}

/// An RIO TE sends TS (2005, 2105, 2205, 1205, 1310).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub struct ToTs<D> {
    pub pair: u8,
    pub id: Id,
    pub seq: Seq,
    pub rio: Body<D>,
}

/// What [`TargetEdge::reflect`] did.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub enum Reflected<D> {
    /// Send TS this RIO and report its answer.
    ToTs(ToTs<D>),
    /// Fault B31: the entry's pair is fenced, so it was counted and dropped unapplied.
    PassedOver { pair: u8, seq: Seq },
}

/// TS's answer to the RIO in flight.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub enum TsAnswer {
    /// RIO(WROK) / RIO(ICOK) / RIO(DOK).
    Ok,
    /// RIO(DPOK) with TS's bitmap 1213 (data 1206).
    Dpok(Bitmap),
    /// TS did not take it (failure Suspend, a transient error).
    Rejected,
}

/// What became of an entry TE received.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub enum TargetReceived<D> {
    /// Stored in 413 (2002).
    Stored,
    /// Hardened: a copy of an entry already stored: dropped.
    Duplicate,
    /// Hardened: already reflected (seq <= RC): answered again, not stored.
    Reack(LogEntry<D>),
    /// Fault B2: stored and answered at once.
    StoredAndAcked(LogEntry<D>),
    /// Hardened: of an earlier epoch, or for a fenced ID: dropped.
    Stale,
    /// No room in 413: dropped (SE resends).
    Full,
    /// LE(SOK) while draining (1307-1308): 1310 is due (or, strict, due once the gap below it
    /// closes).
    Sok,
    /// Not an entry TE acts on, or TE is down.
    Ignored,
}

/// A call TE cannot carry out.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, thiserror::Error, Serialize, Deserialize)]
pub enum TargetNotNow {
    #[error("nothing of ID {0:?} may be reflected now")]
    Nothing(Id),
    #[error("no RIO of ID {0:?} is in flight")]
    NotInFlight(Id),
    #[error("pair {0} is not in a state for this")]
    State(u8),
    #[error("no route back from this edge for the entry")]
    NoRoute,
    #[error("the edge is down")]
    Down,
}

/// TE with a log storage area of `LOG` entries.
#[derive(Clone, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub struct TargetEdge<D, const LOG: usize> {
    pub config: TargetConfig,
    pub pairs: heapless::Vec<TargetPair, MAX_PAIRS>,
    pub oa: heapless::Vec<TargetCounters, MAX_IDS>,
    /// Log storage area 413, in arrival order.
    pub log: heapless::Vec<LogEntry<D>, LOG>,
    pub up: bool,
}

impl<D: Clone + PartialEq, const LOG: usize> TargetEdge<D, LOG> {
    pub fn new(config: TargetConfig, pairs: &[PairRow]) -> Self {
        let mut oa: heapless::Vec<TargetCounters, MAX_IDS> = heapless::Vec::new();
        for p in pairs {
            if !oa.iter().any(|c| c.id == p.id) {
                let c = TargetCounters {
                    id: p.id,
                    rc: config.rc0,
                    epoch: Epoch(0),
                    delay: 0,
                    inflight: heapless::Vec::new(),
                    last: None,
                    fenced: false,
                };
                assert!(oa.push(c).is_ok(), "more than {MAX_IDS} order assurance IDs at one edge");
            }
        }
        let rows: heapless::Vec<TargetPair, MAX_PAIRS> =
            pairs.iter().map(|row| TargetPair { row: *row, failover: Failover::Idle, leftovers_taken: false }).collect();
        assert!(rows.len() == pairs.len(), "more than {MAX_PAIRS} pairs at one edge");
        TargetEdge { config, pairs: rows, oa, log: heapless::Vec::new(), up: true }
    }

    fn fault(&self, f: Fault) -> bool {
        f.on(self.config.faults)
    }

    fn hardened(&self) -> bool {
        self.config.variant == Variant::Hardened
    }

    pub fn counters(&self, id: Id) -> Option<&TargetCounters> {
        self.oa.iter().find(|c| c.id == id)
    }

    fn counters_mut(&mut self, id: Id) -> Option<&mut TargetCounters> {
        self.oa.iter_mut().find(|c| c.id == id)
    }

    /// The pair of volumes `source` -> `target`.
    pub fn pair_of(&self, source: VolRef, target: VolRef) -> Option<u8> {
        self.pairs.iter().position(|p| p.row.source == source && p.row.target == target).map(|i| i as u8)
    }

    /// Whether an entry of `kind` waits for RC+1 (2003). The text gates data entries only
    /// (2104, 2204 apply control entries as they come: F4); hardened gates all (B12 not).
    fn gated(&self, kind: Kind) -> bool {
        kind == Kind::Wr || (self.hardened() && !self.fault(Fault::B12))
    }

    /// The answer to `e` of `body`: 2008 swaps 801/802 (B27 copies them; B3 takes RC+1 for a
    /// WROK's seq).
    fn answer(&self, e: &LogEntry<D>, body: Body<D>) -> LogEntry<D> {
        let mut a = if self.fault(Fault::B27) { LogEntry { body, ..e.clone() } } else { e.answer(body) };
        if a.kind() == Kind::Wrok && self.fault(Fault::B3) {
            if let Some(c) = self.counters(e.id) {
                a.seq = c.rc.next();
            }
        }
        a
    }

    /// 2001-2002 (2101-2103, 2202-2203, 1204, 1307-1308): an entry arrived.
    pub fn receive(&mut self, e: &LogEntry<D>) -> TargetReceived<D> {
        if !self.up {
            return TargetReceived::Ignored;
        }
        let kind = e.kind();
        if kind == Kind::Sok {
            return self.sok(e);
        }
        if !kind.sequenced() {
            return TargetReceived::Ignored;
        }
        let hardened = self.hardened();
        let rc0 = self.config.rc0;
        let b16 = self.fault(Fault::B16);
        if self.pair_of(e.source, e.target).is_none() {
            // No pair of this TE copies from 802 to 801: not an entry for it.
            return TargetReceived::Ignored;
        }
        let Some(c) = self.counters_mut(e.id) else {
            return TargetReceived::Ignored;
        };
        if hardened {
            if e.epoch < c.epoch {
                return TargetReceived::Stale;
            }
            if e.epoch > c.epoch || (b16 && kind == Kind::Resync && e.seq.0 == rc0.0.wrapping_add(1)) {
                // A new epoch (the resync re-based the sequence): RC from the base again,
                // and what is left of the old epoch goes (B16: re-based with no epoch).
                // An RIO of the old epoch still at TS stays in flight: nothing of the new one
                // goes to TS before TS answered it (its answer then finds nothing to count).
                c.epoch = e.epoch;
                c.rc = rc0;
                c.last = None;
                c.fenced = false;
                let (id, epoch) = (e.id, e.epoch);
                self.log.retain(|x| x.id != id || (x.epoch == epoch && !b16));
            }
        }
        let Some(c) = self.counters(e.id) else {
            return TargetReceived::Ignored;
        };
        if hardened && c.fenced && !self.fault(Fault::B14) {
            return TargetReceived::Stale;
        }
        let dedup = hardened && !self.fault(Fault::B5);
        if dedup && e.seq <= c.rc && self.gated(kind) {
            // Already reflected: answer again (the first answer may be lost), keep nothing.
            let body = match kind {
                Kind::Wr => Body::Wrok,
                Kind::PairCreate => Body::Icok,
                Kind::Duplex => Body::Dok,
                _ => {
                    let pair = self.pair_of(e.source, e.target);
                    Body::Dpok(pair.map(|p| self.pairs[usize::from(p)].row.bitmap).unwrap_or_default())
                }
            };
            return TargetReceived::Reack(self.answer(e, body));
        }
        if dedup && self.log.iter().any(|x| x.id == e.id && x.seq == e.seq && x.epoch == e.epoch) {
            return TargetReceived::Duplicate;
        }
        if self.log.push(e.clone()).is_err() {
            return TargetReceived::Full;
        }
        if kind == Kind::PairCreate {
            // 2103: the pair registered in Simplex.
            if let Some(p) = self.pair_of(e.source, e.target) {
                self.pairs[usize::from(p)].row.state = PairState::Simplex;
            }
        }
        if kind == Kind::Wr && self.fault(Fault::B2) {
            return TargetReceived::StoredAndAcked(self.answer(e, Body::Wrok));
        }
        TargetReceived::Stored
    }

    /// 1307-1308: LE(SOK) from SE.
    fn sok(&mut self, e: &LogEntry<D>) -> TargetReceived<D> {
        let Some(p) = self.pair_of(e.source, e.target) else {
            return TargetReceived::Ignored;
        };
        let pair = &mut self.pairs[usize::from(p)];
        match pair.failover {
            Failover::Draining { armed, .. } => {
                pair.failover = Failover::Draining { sok: Some(e.seq), armed };
                self.settle(p);
                TargetReceived::Sok
            }
            _ => TargetReceived::Ignored,
        }
    }

    /// Move pair `p`'s failover on if it can: a SOK seen and (strict) no gap below it goes to
    /// 1310; 1310 waits for the RIO in flight.
    fn settle(&mut self, p: u8) {
        let strict = self.hardened() && !self.fault(Fault::B13);
        let id = self.pairs[usize::from(p)].row.id;
        let (rc, idle) = self.counters(id).map_or((Seq(0), true), |c| (c.rc, c.inflight.is_empty()));
        let pair = &mut self.pairs[usize::from(p)];
        if let Failover::Draining { sok: Some(s), .. } = pair.failover {
            // "No missing log entries": every seq below the SOK's is reflected.
            if !strict || rc.next() >= s {
                pair.failover = Failover::Fencing;
            }
        }
        if pair.failover == Failover::Fencing && idle {
            pair.failover = Failover::Done;
            pair.row.state = PairState::FailureSuspend;
            // Hardened, the fence holds the whole ID (not under B14, and B31 fences the pair
            // alone); what is stored stays for the read-out of leftovers (l. 510).
            let whole_id = self.hardened() && !self.fault(Fault::B14) && !self.fault(Fault::B31);
            if whole_id {
                if let Some(c) = self.counters_mut(id) {
                    c.fenced = true;
                }
            }
        }
    }

    /// Whether a stored entry may go to TS now (2003): the next seq of its ID, or an
    /// ungated control entry; nothing of a fenced ID.
    fn ready(&self, e: &LogEntry<D>) -> bool {
        let Some(c) = self.counters(e.id) else {
            return false;
        };
        if c.fenced && !self.fault(Fault::B14) {
            return false;
        }
        let kind = e.kind();
        if !kind.sequenced() {
            return false;
        }
        if self.fault(Fault::B9) && kind == Kind::Wr {
            return true;
        }
        if !self.gated(kind) {
            return true;
        }
        // B10 pipelines: the next seq after those in flight.
        let ahead = if self.fault(Fault::B10) { c.inflight.len() as u32 } else { 0 };
        e.seq.0 == c.rc.0.wrapping_add(1).wrapping_add(ahead) || (self.fault(Fault::B5) && c.last == Some(e.seq))
    }

    /// The IDs with an entry TS may take now (2003): nothing in flight (B10: one more), and a
    /// ready entry.
    pub fn reflectable(&self) -> impl Iterator<Item = Id> + '_ {
        let cap = if self.fault(Fault::B10) { 2 } else { 1 };
        self.oa
            .iter()
            .filter(move |c| self.up && c.inflight.len() < cap && self.log.iter().any(|e| e.id == c.id && self.ready(e) && !c.inflight.iter().any(|f| f.0 == e.seq)))
            .map(|c| c.id)
    }

    /// 2004-2005 (2104-2105, 2204-2205, 1205): the next RIO of ID `id` for TS.
    pub fn reflect(&mut self, id: Id) -> Result<Reflected<D>, TargetNotNow> {
        if !self.up {
            return Err(TargetNotNow::Down);
        }
        if !self.reflectable().any(|i| i == id) {
            return Err(TargetNotNow::Nothing(id));
        }
        let c = self.counters(id).ok_or(TargetNotNow::Nothing(id))?;
        let e = self
            .log
            .iter()
            .find(|e| e.id == id && self.ready(e) && !c.inflight.iter().any(|f| f.0 == e.seq))
            .cloned()
            .ok_or(TargetNotNow::Nothing(id))?;
        let pair = self.pair_of(e.source, e.target).unwrap_or(0);
        let b32 = self.fault(Fault::B32);
        let b31 = self.fault(Fault::B31);
        let fenced_pair = self.pairs.get(usize::from(pair)).is_some_and(|p| p.failover == Failover::Done);
        let c = self.counters_mut(id).ok_or(TargetNotNow::Nothing(id))?;
        if b31 && fenced_pair {
            // B31: the pair is fenced, not its ID: its entry is passed over, and the ID goes on.
            c.rc = e.seq;
            self.remove(&e);
            return Ok(Reflected::PassedOver { pair, seq: e.seq });
        }
        let _ = c.inflight.push((e.seq, e.epoch));
        if b32 {
            c.rc = e.seq;
        }
        Ok(Reflected::ToTs(ToTs { pair, id, seq: e.seq, rio: e.body }))
    }

    fn remove(&mut self, e: &LogEntry<D>) {
        if let Some(i) = self.log.iter().position(|x| x == e) {
            self.log.remove(i);
        }
    }

    /// 2006-2011 (2106-2112, 2206-2212, 1206-1207): TS answered the RIO of `id` with seq
    /// `seq`. Returns the answering entry to send back toward SE, if any.
    pub fn ts_answer(&mut self, id: Id, seq: Seq, answer: TsAnswer, now: Time) -> Result<Option<LogEntry<D>>, TargetNotNow> {
        if !self.up {
            return Err(TargetNotNow::Down);
        }
        let c = self.counters_mut(id).ok_or(TargetNotNow::NotInFlight(id))?;
        let Some(k) = c.inflight.iter().position(|s| s.0 == seq) else {
            return Err(TargetNotNow::NotInFlight(id));
        };
        // The entry of the epoch it was sent in: an answer to an RIO sent before a re-base
        // finds nothing (its entry went with the old epoch) and counts nothing.
        let (_, epoch) = c.inflight.remove(k);
        let Some(e) = self.log.iter().find(|e| e.id == id && e.seq == seq && e.epoch == epoch && e.kind().sequenced()).cloned() else {
            for p in 0..self.pairs.len() as u8 {
                self.settle(p);
            }
            return Ok(None);
        };
        let pair = self.pair_of(e.source, e.target);
        if answer == TsAnswer::Rejected {
            // Stays stored; TE offers it again (B32 counted it already).
            self.settle_id(id);
            return Ok(None);
        }
        let b32 = self.fault(Fault::B32);
        let c = self.counters_mut(id).ok_or(TargetNotNow::NotInFlight(id))?;
        if !b32 {
            // 2007 (2107, 2207): counted once TS confirmed (B32 counted it when sent).
            c.rc = c.rc.next();
        }
        c.delay = now.0.saturating_sub(e.time.0);
        c.last = Some(seq);
        let body = match (e.kind(), answer) {
            (Kind::Wr, _) => Body::Wrok,
            (Kind::PairCreate, _) => Body::Icok,
            (Kind::Duplex, _) => Body::Dok,
            (_, TsAnswer::Dpok(b)) => Body::Dpok(b),
            _ => Body::Dpok(Bitmap::EMPTY),
        };
        if let Some(p) = pair {
            let row = &mut self.pairs[usize::from(p)].row;
            match &body {
                Body::Icok => row.state = PairState::InitialCopying,
                Body::Dok => row.state = PairState::Duplex,
                Body::Dpok(b) => {
                    row.state = PairState::DuplexPending;
                    row.bitmap = *b;
                }
                _ => {}
            }
        }
        let reply = self.answer(&e, body);
        self.remove(&e);
        // Every pair of the ID: one pair's fence may wait for another pair's RIO at TS.
        self.settle_id(id);
        Ok(Some(reply))
    }

    /// [`Self::settle`] every pair of ID `id`.
    fn settle_id(&mut self, id: Id) {
        for p in 0..self.pairs.len() as u8 {
            if self.pairs[usize::from(p)].row.id == id {
                self.settle(p);
            }
        }
    }

    /// Where TE sends an entry it made (2009-2010: "similar to step 1905").
    pub fn route(&self, routing: &Routing, e: LogEntry<D>) -> Result<Transmit<D>, TargetNotNow> {
        match routing.next(self.config.me, e.source.wwn, e.target.wwn) {
            NextHop::To(to) => Ok(Transmit { to, entry: e }),
            NextHop::Here | NextHop::NoRoute => Err(TargetNotNow::NoRoute),
        }
    }

    /// 1303-1305: TS passed on the target host's Suspend instruction for pair `p`. Returns the
    /// LE(Suspend instruction) for SE. Immediate mode (l. 510) goes to 1310 at once.
    pub fn suspend(&mut self, p: u8, now: Time) -> Result<LogEntry<D>, TargetNotNow> {
        if !self.up {
            return Err(TargetNotNow::Down);
        }
        let pair = self.pairs.get(usize::from(p)).copied().ok_or(TargetNotNow::State(p))?;
        if pair.failover != Failover::Idle {
            return Err(TargetNotNow::State(p));
        }
        let c = self.counters(pair.row.id).ok_or(TargetNotNow::State(p))?;
        let entry = LogEntry {
            target: pair.row.source,
            source: pair.row.target,
            id: pair.row.id,
            epoch: c.epoch,
            time: now,
            seq: c.rc,
            body: Body::Suspend,
        };
        let armed = !self.fault(Fault::B33);
        self.pairs[usize::from(p)].failover =
            if self.config.immediate { Failover::Fencing } else { Failover::Draining { sok: None, armed } };
        self.settle(p);
        Ok(entry)
    }

    /// SE gave pair `p` up (l. 446), as the management server relays it over network 150: the
    /// pair is in failure Suspend, and TE tells TS to go there too. Hardened, TE stops
    /// reflecting the pair's ID (what the give-up converted is in 727; the resync's new epoch
    /// lifts this).
    ///
    /// `epoch` is the epoch SE gave up in: a notice older than the epoch TE is in (the resync
    /// overtook it) is ignored.
    pub fn given_up(&mut self, p: u8, epoch: Epoch) -> Result<(), TargetNotNow> {
        if !self.up {
            return Err(TargetNotNow::Down);
        }
        let id = self.pairs.get(usize::from(p)).ok_or(TargetNotNow::State(p))?.row.id;
        if self.hardened() && self.counters(id).is_some_and(|c| c.epoch > epoch) {
            return Ok(());
        }
        self.pairs[usize::from(p)].row.state = PairState::FailureSuspend;
        if self.hardened() {
            if let Some(c) = self.counters_mut(id) {
                c.fenced = true;
            }
        }
        Ok(())
    }

    /// 1306: the failover timer of pair `p` expired: 1310 is due.
    pub fn expire(&mut self, p: u8) -> Result<(), TargetNotNow> {
        match self.pairs.get(usize::from(p)).map(|x| x.failover) {
            Some(Failover::Draining { armed: true, .. }) if self.up => {
                self.pairs[usize::from(p)].failover = Failover::Fencing;
                self.settle(p);
                Ok(())
            }
            _ => Err(TargetNotNow::State(p)),
        }
    }

    /// Whether pair `p`'s timer can expire now.
    pub fn can_expire(&self, p: u8) -> bool {
        self.up && matches!(self.pairs.get(usize::from(p)).map(|x| x.failover), Some(Failover::Draining { armed: true, .. }))
    }

    /// l. 510: the entries left in TE's log for pair `p`'s ID after 1310, read out through
    /// the management server, in the order to apply them: seq order from RC+1 up to the first
    /// gap (B19: every one, across gaps).
    pub fn leftovers(&self, p: u8) -> heapless::Vec<LogEntry<D>, LOG> {
        let mut out: heapless::Vec<LogEntry<D>, LOG> = heapless::Vec::new();
        let Some(pair) = self.pairs.get(usize::from(p)) else {
            return out;
        };
        let Some(c) = self.counters(pair.row.id) else {
            return out;
        };
        let mut mine: heapless::Vec<&LogEntry<D>, LOG> =
            self.log.iter().filter(|e| e.id == c.id && e.kind() == Kind::Wr && e.seq > c.rc).collect();
        mine.sort_unstable_by_key(|e| e.seq);
        let mut want = c.rc.next();
        for e in mine {
            if e.seq != want && !self.fault(Fault::B19) {
                if e.seq < want {
                    continue;
                }
                break;
            }
            want = e.seq.next();
            let _ = out.push(e.clone());
        }
        out
    }

    /// 1312: whether the target host may restart its application on pair `p`'s volume: once
    /// 1310 is done and, in immediate mode, once the leftovers are applied (hardened: they must
    /// not land over the application's writes; the text restarts first, and so does B18).
    pub fn app_may_restart(&self, p: u8) -> bool {
        let Some(pair) = self.pairs.get(usize::from(p)) else { return false };
        if pair.failover != Failover::Done {
            return false;
        }
        let first = self.config.immediate && self.hardened() && !self.fault(Fault::B18);
        !first || pair.leftovers_taken
    }

    /// The read-out applied (l. 510): the leftovers of pair `p` leave the log, and RC counts
    /// them as reflected. Only once the pair is fenced (1310 done).
    pub fn take_leftovers(&mut self, p: u8) -> Result<heapless::Vec<LogEntry<D>, LOG>, TargetNotNow> {
        if self.pairs.get(usize::from(p)).map(|x| x.failover) != Some(Failover::Done) {
            return Err(TargetNotNow::State(p));
        }
        let out = self.leftovers(p);
        if let Some(x) = self.pairs.get_mut(usize::from(p)) {
            x.leftovers_taken = true;
        }
        for e in &out {
            self.remove(e);
            if let Some(c) = self.counters_mut(e.id) {
                c.rc = c.rc.max(e.seq);
            }
        }
        Ok(out)
    }

    /// A crash: TE stops; a volatile TE (or B22) loses its log and RC.
    pub fn crash(&mut self) {
        self.up = false;
        let lose = !self.config.durable || self.fault(Fault::B22);
        for c in self.oa.iter_mut() {
            c.inflight.clear();
            if lose {
                c.rc = self.config.rc0;
                c.last = None;
            }
        }
        if lose {
            self.log.clear();
        }
    }

    /// TE up again: a failover that was waiting for TS's answer (lost with the crash) goes on.
    pub fn restart(&mut self) {
        self.up = true;
        for p in 0..self.pairs.len() as u8 {
            self.settle(p);
        }
    }

    /// Whether TE keeps stored entry `e` to reflect it: it will answer it in turn (a copy at
    /// or below RC that the text's TE stores is never answered; nothing of a fenced ID is).
    pub fn awaits(&self, e: &LogEntry<D>) -> bool {
        let Some(c) = self.counters(e.id) else { return false };
        if !self.log.contains(e) || (c.fenced && !self.fault(Fault::B14)) {
            return false;
        }
        self.fault(Fault::B9) || !self.gated(e.kind()) || e.seq > c.rc
    }

    /// The pair's state at TE.
    pub fn state(&self, p: u8) -> Option<PairState> {
        self.pairs.get(usize::from(p)).map(|x| x.row.state)
    }
}
