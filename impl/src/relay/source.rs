//! SE, the source-side edge device 104: pair creation (Fig. 17), the Duplex transition
//! (Fig. 18), the write path (Fig. 19), resend and give-up into bitmap 727 (4.7), resync
//! (data 1202-1210, 4.8) and the Suspend instruction of failover (1304 (A)-(C), 4.9).
//!
//! SE holds every entry it created in its log storage area 413 until the answer with the same
//! (ID, seq) arrives (the hardened match; the text matches control answers by pair). An entry
//! is *pending* while it waits to be sent (new, resent, or pushed out by 1304(A)); the caller
//! sends what [`SourceEdge::sendable`] offers with [`SourceEdge::transmit`], which applies 1905
//! (the next hop after SE on the entry's route). Timers are the caller's: a held entry that was
//! sent may time out ([`SourceEdge::timeout`]), which resends it or, past `r_max` resends,
//! gives the pair up.

use super::fault::Fault;
use super::route::{NextHop, Routing};
use super::types::{Addr, Bitmap, Block, Body, Epoch, Id, Kind, LogEntry, PairRow, PairState, Seq, Time, Variant, VolRef};
use crate::fault::FaultSet;
use serde::{Deserialize, Serialize};

/// The most pairs (411 rows) and order assurance IDs one edge serves.
pub const MAX_PAIRS: usize = 4;
pub const MAX_IDS: usize = 4;

/// SE's settings.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub struct SourceConfig {
    /// SE's IP address (its place on the routes).
    pub me: Addr,
    pub variant: Variant,
    pub faults: FaultSet,
    /// Resends of one entry before SE gives its pair up (4.7, "even after such resending").
    pub r_max: u8,
    /// CC's initial value: the seq of the first entry (hardened: the one base, with TE's RC
    /// one less; the text gives none, F3).
    pub first_seq: Seq,
    /// The log, CC, DC and 727 survive a crash (disk 313; hardened: durable before 1904).
    pub durable: bool,
    /// Blocks per bitmap region.
    pub region_blocks: u32,
}

/// Order assurance information 412 at SE, per ID.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub struct SourceCounters {
    pub id: Id,
    /// CC 732: the seq the next entry gets.
    pub cc: Seq,
    /// DC 734: entries deleted (answered, or converted at give-up).
    pub dc: u32,
    pub epoch: Epoch,
}

/// An entry of SE's log storage area 413.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub struct Held<D> {
    pub entry: LogEntry<D>,
    /// Its 411 row.
    pub pair: u8,
    /// Waiting to be sent (new, resent or pushed out by 1304(A)).
    pub pending: bool,
    /// Sent at least once (its timer runs).
    pub sent: bool,
    pub resends: u8,
    /// Fault B11: answered to SS but not numbered yet (numbered when sent).
    pub numbered: bool,
    /// Kept until answered; an LE(SOK) is sent once and forgotten.
    pub retained: bool,
}

/// An entry to send, and where (1905-1906).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub struct Transmit<D> {
    pub to: Addr,
    pub entry: LogEntry<D>,
}

/// What [`SourceEdge::transmit`] did: the entry to send, and (fault B25 only) what SS is told
/// as it leaves.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub struct Sent<D> {
    pub transmit: Transmit<D>,
    pub reply: Option<(u8, SsReply)>,
}

/// What SE answers external storage SS, through virtual storage 106.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub enum SsReply {
    /// RIO(WROK), 1904: the write is logged.
    Wrok,
    /// RIO(ICOK), 1708.
    Icok,
    /// RIO(DOK), 1808.
    Dok,
    /// RIO(DPOK) with the merged bitmap 1209, data 1210.
    Dpok(Bitmap),
    /// The instruction to enter failure Suspend (give-up, l. 446).
    FailureSuspend,
}

/// An RIO SE cannot take now.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, thiserror::Error, Serialize, Deserialize)]
pub enum Refused {
    #[error("no pair of this edge copies {0:?} to {1:?}")]
    NoPair(VolRef, VolRef),
    #[error("the pair is in {0:?}, which does not take this request")]
    State(PairState),
    /// Back-pressure: the log storage area is full; SS retries (or suspends) later.
    #[error("the log storage area holds {0} entries, its bound")]
    LogFull(usize),
    #[error("the edge is down")]
    Down,
    #[error("sequence numbers of ID {0:?} are spent")]
    Spent(Id),
}

/// A write SE took (1904).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub enum WriteAck {
    /// Logged (numbered, unless B11) and answered RIO(WROK).
    Logged { id: Id, seq: Seq },
    /// Fault B20: suspended, yet answered RIO(WROK): neither logged nor in 727.
    Dropped,
    /// Fault B8: CC read, not stored yet: answered once [`SourceEdge::commit`] stores it.
    Staged,
}

/// What became of a log entry SE received.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub enum SourceReceived {
    /// An answer deleted its entry (1908-1910), and SS is told this (control answers).
    Deleted { pair: u8, reply: Option<SsReply> },
    /// Nothing held matches (a duplicate, stale or foreign answer): dropped.
    Unmatched,
    /// 1304: every held entry of the pair is pending again, the pair is in failure Suspend,
    /// and an LE(SOK) is pending behind them.
    Suspended { pair: u8 },
    /// Not an entry SE acts on, or SE is down.
    Ignored,
}

/// What a held entry's timer did.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub enum Timeout {
    /// The same entry is pending again (resend).
    Resend,
    /// Past `r_max`: the pair's held entries were converted into 727 and the pair is in
    /// failure Suspend; tell SS (and, through the management server, TE).
    GaveUp { pair: u8 },
}

/// A call SE cannot carry out.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, thiserror::Error, Serialize, Deserialize)]
pub enum NotNow {
    #[error("no held entry {0}")]
    NoEntry(usize),
    #[error("entry {0} is not offered now")]
    NotOffered(usize),
    #[error("no route from this edge for the entry")]
    NoRoute,
    #[error("the edge is down")]
    Down,
}

/// SE with a log storage area of `LOG` entries. `D` is a write's data.
#[derive(Clone, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub struct SourceEdge<D, const LOG: usize> {
    pub config: SourceConfig,
    /// Pair information 411 (SE's copy, with 725 and 727).
    pub pairs: heapless::Vec<PairRow, MAX_PAIRS>,
    pub oa: heapless::Vec<SourceCounters, MAX_IDS>,
    /// Log storage area 413, in creation order.
    pub log: heapless::Vec<Held<D>, LOG>,
    /// Fault B8 only: writes that read CC and are not stored yet (1902 and 1903 apart).
    pub staged: heapless::Vec<Held<D>, 2>,
    pub up: bool,
}

impl<D: Clone, const LOG: usize> SourceEdge<D, LOG> {
    /// SE with the pairs the management server distributed (each in its configured state).
    pub fn new(config: SourceConfig, pairs: &[PairRow]) -> Self {
        let mut oa: heapless::Vec<SourceCounters, MAX_IDS> = heapless::Vec::new();
        let first = if Fault::B7.on(config.faults) { Seq(config.first_seq.0.wrapping_sub(1)) } else { config.first_seq };
        for p in pairs {
            if !oa.iter().any(|c| c.id == p.id) {
                let pushed = oa.push(SourceCounters { id: p.id, cc: first, dc: 0, epoch: Epoch(0) });
                assert!(pushed.is_ok(), "more than {MAX_IDS} order assurance IDs at one edge");
            }
        }
        SourceEdge {
            config,
            pairs: heapless::Vec::from_slice(pairs).unwrap_or_else(|_| panic!("more than {MAX_PAIRS} pairs at one edge")),
            oa,
            log: heapless::Vec::new(),
            staged: heapless::Vec::new(),
            up: true,
        }
    }

    fn fault(&self, f: Fault) -> bool {
        f.on(self.config.faults)
    }

    fn hardened(&self) -> bool {
        self.config.variant == Variant::Hardened
    }

    /// The 411 row of the volume pair `source` -> `target`.
    pub fn pair_of(&self, source: VolRef, target: VolRef) -> Option<u8> {
        self.pairs.iter().position(|p| p.source == source && p.target == target).map(|i| i as u8)
    }

    pub fn counters(&self, id: Id) -> Option<&SourceCounters> {
        self.oa.iter().find(|c| c.id == id)
    }

    fn counters_mut(&mut self, id: Id) -> &mut SourceCounters {
        self.oa.iter_mut().find(|c| c.id == id).expect("every pair's ID has counters")
    }

    /// Entries held for ID `id` (CC - DC when the counters are coherent, note S9).
    pub fn held(&self, id: Id) -> usize {
        self.log.iter().filter(|h| h.retained && h.entry.id == id).count()
    }

    /// 1902-1903 (1703-1704, 1803-1804, data 1203): a new entry numbered from CC, held and
    /// pending. `numbered` false only for B11's write path.
    fn create(&mut self, pair: u8, body: Body<D>, now: Time, numbered: bool) -> Result<Seq, Refused> {
        if self.log.is_full() {
            return Err(Refused::LogFull(LOG));
        }
        let row = self.pairs[usize::from(pair)];
        let c = self.counters_mut(row.id);
        let seq = c.cc;
        if numbered {
            c.cc = c.cc.0.checked_add(1).map(Seq).ok_or(Refused::Spent(row.id))?;
        }
        let entry = LogEntry { target: row.target, source: row.source, id: row.id, epoch: c.epoch, time: now, seq, body };
        let held = Held { entry, pair, pending: true, sent: false, resends: 0, numbered, retained: true };
        // Room checked above.
        let _ = self.log.push(held);
        Ok(seq)
    }

    fn row(&self, source: VolRef, target: VolRef) -> Result<u8, Refused> {
        if !self.up {
            return Err(Refused::Down);
        }
        self.pair_of(source, target).ok_or(Refused::NoPair(source, target))
    }

    /// RIO(pair creation), 1701-1706: the pair's 725 := Simplex, LE(pair creation) created.
    pub fn pair_create(&mut self, source: VolRef, target: VolRef, now: Time) -> Result<Seq, Refused> {
        let p = self.row(source, target)?;
        self.pairs[usize::from(p)].state = PairState::Simplex;
        self.create(p, Body::PairCreate, now, true)
    }

    /// RIO(Duplex transition), 1802-1806 (also DP -> D after a resync's differential copy).
    pub fn duplex(&mut self, source: VolRef, target: VolRef, now: Time) -> Result<Seq, Refused> {
        let p = self.row(source, target)?;
        let state = self.pairs[usize::from(p)].state;
        if !matches!(state, PairState::InitialCopying | PairState::DuplexPending) {
            return Err(Refused::State(state));
        }
        self.create(p, Body::Duplex, now, true)
    }

    /// RIO(WR) of `count` blocks from `block`, 1901-1904: logged and numbered, then answered.
    /// A suspended pair refuses it (SS records the write in its 1211), except under B20.
    pub fn write(&mut self, source: VolRef, target: VolRef, block: Block, count: u16, data: D, now: Time) -> Result<WriteAck, Refused> {
        let p = self.row(source, target)?;
        let row = self.pairs[usize::from(p)];
        if !row.state.copying() {
            if row.state.suspended() && self.fault(Fault::B20) {
                return Ok(WriteAck::Dropped);
            }
            return Err(Refused::State(row.state));
        }
        if self.fault(Fault::B8) {
            // B8: 1902 reads CC now; storing it and 1903 come in a later step ([`Self::commit`]).
            if self.log.len() + self.staged.len() >= LOG || self.staged.is_full() {
                return Err(Refused::LogFull(LOG));
            }
            let c = self.counters(row.id).copied().expect("every pair's ID has counters");
            let entry = LogEntry { target: row.target, source: row.source, id: row.id, epoch: c.epoch, time: now, seq: c.cc, body: Body::Wr { block, count, data } };
            let _ = self.staged.push(Held { entry, pair: p, pending: true, sent: false, resends: 0, numbered: true, retained: true });
            return Ok(WriteAck::Staged);
        }
        let numbered = !self.fault(Fault::B11);
        let seq = self.create(p, Body::Wr { block, count, data }, now, numbered)?;
        Ok(WriteAck::Logged { id: row.id, seq })
    }

    /// Fault B8's second step: staged write `k` is stored with the CC it read, and CC is set
    /// past it (1903 as `CC := seq + 1`, from the value read before).
    pub fn commit(&mut self, k: usize) -> Result<WriteAck, NotNow> {
        if k >= self.staged.len() {
            return Err(NotNow::NoEntry(k));
        }
        if !self.up {
            return Err(NotNow::Down);
        }
        let h = self.staged.remove(k);
        let (id, seq) = h.entry.key();
        self.counters_mut(id).cc = seq.next();
        // Room was kept for it when it was staged.
        let _ = self.log.push(h);
        Ok(WriteAck::Logged { id, seq })
    }

    /// RIO(resynchronize), data 1202-1203: LE(resynchronize) for a suspended pair. Hardened,
    /// the ID's sequence is re-based in a new epoch (CC from its base, DC from 0), so the hole
    /// a give-up left cannot stall it and no entry of the old epoch can count in the new. The
    /// held entries of the ID (this pair's, left by 1304, and its other pairs') are converted
    /// into their pairs' 727, and those pairs go to failure Suspend, as at a give-up.
    pub fn resync(&mut self, source: VolRef, target: VolRef, now: Time) -> Result<Seq, Refused> {
        let p = self.row(source, target)?;
        let row = self.pairs[usize::from(p)];
        if !row.state.suspended() {
            return Err(Refused::State(row.state));
        }
        if self.log.is_full() {
            return Err(Refused::LogFull(LOG));
        }
        if self.hardened() && !self.fault(Fault::B17) {
            // The re-based sequence leaves the entries of the ID's other pairs (a multi-pair
            // ID) unanswerable too: TE drops them at the new epoch, and SE would drop them
            // below, though SS was told they were logged (S8). Convert them into their own
            // pair's 727, as a give-up would, and that pair goes to failure Suspend.
            let mut others = 0u32;
            // The pair itself too: after 1304 (a failover with SE alive) it still holds what
            // TE had not answered, which the resync must copy.
            for h in self.log.iter().filter(|h| h.entry.id == row.id && h.retained) {
                others |= 1 << h.pair;
            }
            for q in 0..self.pairs.len() as u8 {
                if others & (1 << q) != 0 {
                    self.give_up(q);
                }
            }
            let first = self.config.first_seq;
            let bump = !self.fault(Fault::B16);
            let c = self.counters_mut(row.id);
            c.cc = first;
            c.dc = 0;
            if bump {
                c.epoch = Epoch(c.epoch.0.wrapping_add(1));
            }
            // The pair's entries of the old epoch can no longer be answered: they were
            // converted at the give-up, or their writes are covered by 727 and the resync (the
            // other pairs' were converted above).
            let id = row.id;
            self.log.retain(|h| h.entry.id != id);
        }
        self.create(p, Body::Resync, now, true)
    }

    /// The held entries the caller may send now, by index: the first pending one (SE sends in
    /// log order); with B11, any pending one (the sender numbers what it sends).
    pub fn sendable(&self) -> impl Iterator<Item = usize> + '_ {
        let any = self.fault(Fault::B11);
        let first = self.log.iter().position(|h| h.pending);
        self.log
            .iter()
            .enumerate()
            .filter(move |(i, h)| self.up && h.pending && (any || Some(*i) == first))
            .map(|(i, _)| i)
    }

    /// 1905-1906: send held entry `i` to the next device on its route.
    pub fn transmit(&mut self, i: usize, routing: &Routing) -> Result<Sent<D>, NotNow> {
        if !self.up {
            return Err(NotNow::Down);
        }
        if !self.sendable().any(|j| j == i) {
            return Err(if i < self.log.len() { NotNow::NotOffered(i) } else { NotNow::NoEntry(i) });
        }
        let h = &self.log[i];
        let to = match routing.next(self.config.me, h.entry.source.wwn, h.entry.target.wwn) {
            NextHop::To(a) => a,
            NextHop::Here | NextHop::NoRoute => return Err(NotNow::NoRoute),
        };
        if !h.numbered {
            // B11: numbered only now, in whatever order the sender picked.
            let id = h.entry.id;
            let c = self.counters_mut(id);
            let seq = c.cc;
            c.cc = c.cc.next();
            self.log[i].entry.seq = seq;
            self.log[i].numbered = true;
        }
        let h = &mut self.log[i];
        h.pending = false;
        h.sent = true;
        let out = Transmit { to, entry: h.entry.clone() };
        let pair = h.pair;
        let kind = h.entry.kind();
        let mut reply = None;
        if self.fault(Fault::B25) {
            // B25: the pair moves on when the control entry leaves, not when its answer comes.
            let row = &mut self.pairs[usize::from(pair)];
            match kind {
                Kind::PairCreate => {
                    row.state = PairState::InitialCopying;
                    reply = Some((pair, SsReply::Icok));
                }
                Kind::Duplex => {
                    row.state = PairState::Duplex;
                    reply = Some((pair, SsReply::Dok));
                }
                _ => {}
            }
        }
        if !self.log[i].retained || (kind == Kind::Wr && self.fault(Fault::B1)) {
            // An LE(SOK) is not kept; B1 deletes a write as it leaves.
            let gone = self.log.remove(i);
            if gone.retained {
                self.counters_mut(gone.entry.id).dc += 1;
            }
        }
        Ok(Sent { transmit: out, reply })
    }

    /// Whether an answer of `kind` matches held entry `h`: the same (ID, seq) and epoch, and
    /// the kind it answers (hardened); the text matches a WROK by (ID, seq) (1908) and a
    /// control answer by pair (1709, 1809); B6 matches a WROK by seq alone.
    fn matches(&self, h: &Held<D>, e: &LogEntry<D>) -> bool {
        if !h.retained || h.entry.kind().answered_by() != Some(e.kind()) {
            return false;
        }
        let same_pair = h.entry.source == e.target && h.entry.target == e.source;
        match e.kind() {
            Kind::Wrok if self.fault(Fault::B6) => h.entry.seq == e.seq,
            Kind::Icok | Kind::Dok if !self.hardened() => same_pair,
            _ => h.entry.id == e.id && h.entry.seq == e.seq && (!self.hardened() || h.entry.epoch == e.epoch),
        }
    }

    /// An entry arrived for SE: an answer (1907-1910, 1707-1711, 1807-1811, data 1208-1210),
    /// or TE's Suspend instruction (1304).
    pub fn receive(&mut self, e: &LogEntry<D>) -> SourceReceived {
        if !self.up {
            return SourceReceived::Ignored;
        }
        match e.kind() {
            Kind::Wrok | Kind::Icok | Kind::Dok | Kind::Dpok => {}
            Kind::Suspend => return self.suspend(e),
            _ => return SourceReceived::Ignored,
        }
        let Some(i) = self.log.iter().position(|h| self.matches(h, e)) else {
            if self.fault(Fault::B21) {
                // B21: counted as a deletion although nothing was deleted.
                if let Some(c) = self.oa.iter_mut().find(|c| c.id == e.id) {
                    c.dc += 1;
                }
            }
            return SourceReceived::Unmatched;
        };
        let held = self.log.remove(i);
        self.counters_mut(held.entry.id).dc += 1;
        let b15 = self.fault(Fault::B15);
        let row = &mut self.pairs[usize::from(held.pair)];
        let reply = match &e.body {
            Body::Wrok => None,
            Body::Icok => {
                row.state = PairState::InitialCopying;
                Some(SsReply::Icok)
            }
            Body::Dok => {
                row.state = PairState::Duplex;
                Some(SsReply::Dok)
            }
            Body::Dpok(target_bits) => {
                // 1209: 727 combined with TS's 1213 (B15 replaces), handed to SS and cleared.
                let merged = if b15 { *target_bits } else { row.bitmap.union(*target_bits) };
                row.bitmap = Bitmap::EMPTY;
                row.state = PairState::DuplexPending;
                Some(SsReply::Dpok(merged))
            }
            _ => None,
        };
        SourceReceived::Deleted { pair: held.pair, reply }
    }

    /// 1304: (A) every held entry of the pair pending again, (B) failure Suspend, (C) an
    /// LE(SOK) numbered from CC (without taking the number: nothing follows it), pending behind
    /// them.
    fn suspend(&mut self, e: &LogEntry<D>) -> SourceReceived {
        // TE's entry names the pair from the target side: 801 is the source volume.
        let Some(p) = self.pair_of(e.target, e.source) else {
            return SourceReceived::Ignored;
        };
        let id = self.pairs[usize::from(p)].id;
        if self.hardened() && self.counters(id).is_some_and(|c| e.epoch < c.epoch) {
            // An instruction of an earlier epoch (a late or duplicated copy from before a
            // resync): the pair it meant is gone; the resynced pair is not suspended by it.
            return SourceReceived::Ignored;
        }
        for h in self.log.iter_mut().filter(|h| h.pair == p) {
            h.pending = true;
        }
        let row = &mut self.pairs[usize::from(p)];
        row.state = PairState::FailureSuspend;
        let row = *row;
        if !self.log.is_full() {
            let c = self.counters(row.id).copied().expect("every pair's ID has counters");
            let entry = LogEntry { target: row.target, source: row.source, id: row.id, epoch: c.epoch, time: e.time, seq: c.cc, body: Body::Sok };
            let _ = self.log.push(Held { entry, pair: p, pending: true, sent: false, resends: 0, numbered: true, retained: false });
        }
        SourceReceived::Suspended { pair: p }
    }

    /// The held entries whose timer may fire: sent, kept, and not pending.
    pub fn timers(&self) -> impl Iterator<Item = usize> + '_ {
        self.log.iter().enumerate().filter(move |(_, h)| self.up && h.retained && h.sent && !h.pending).map(|(i, _)| i)
    }

    /// Held entry `i`'s timer fired with no answer (4.7): resend the same entry, or past
    /// `r_max` resends give its pair up (B34: never give up).
    pub fn timeout(&mut self, i: usize) -> Result<Timeout, NotNow> {
        if !self.timers().any(|j| j == i) {
            return Err(if !self.up { NotNow::Down } else if i < self.log.len() { NotNow::NotOffered(i) } else { NotNow::NoEntry(i) });
        }
        if self.log[i].resends < self.config.r_max || self.fault(Fault::B34) {
            if self.fault(Fault::B4) {
                // B4: the resend is numbered again, as a new entry.
                let id = self.log[i].entry.id;
                let c = self.counters_mut(id);
                let seq = c.cc;
                c.cc = c.cc.next();
                self.log[i].entry.seq = seq;
            }
            let counted = !self.fault(Fault::B34);
            let h = &mut self.log[i];
            if counted {
                h.resends = h.resends.saturating_add(1);
            }
            h.pending = true;
            return Ok(Timeout::Resend);
        }
        let pair = self.log[i].pair;
        self.give_up(pair);
        Ok(Timeout::GaveUp { pair })
    }

    /// Give-up (l. 446): the pair's held entries converted into 727 (B30: dropped), the pair
    /// in failure Suspend.
    pub fn give_up(&mut self, pair: u8) {
        if usize::from(pair) >= self.pairs.len() {
            return;
        }
        let region = self.config.region_blocks;
        let convert = !self.fault(Fault::B30);
        let mut bits = self.pairs[usize::from(pair)].bitmap;
        let mut converted = 0u32;
        let mut id = None;
        self.log.retain(|h| {
            if h.pair != pair {
                return true;
            }
            if let (Body::Wr { block, count, .. }, true) = (&h.entry.body, convert) {
                bits.mark(*block, *count, region);
            }
            if h.retained {
                converted += 1;
                id = Some(h.entry.id);
            }
            false
        });
        if let Some(id) = id {
            self.counters_mut(id).dc += converted;
        }
        let row = &mut self.pairs[usize::from(pair)];
        row.bitmap = bits;
        row.state = PairState::FailureSuspend;
    }

    /// A crash: SE stops. What a durable SE keeps is on disk 313; a volatile one (or B24)
    /// loses its log and 727, and B23 its CC.
    pub fn crash(&mut self) {
        self.up = false;
        let lose_log = !self.config.durable || self.fault(Fault::B24);
        let lose_cc = !self.config.durable || self.fault(Fault::B23);
        self.staged.clear();
        if lose_log {
            self.log.clear();
            for p in self.pairs.iter_mut() {
                p.bitmap = Bitmap::EMPTY;
            }
        }
        if lose_cc {
            let first = if self.fault(Fault::B7) { Seq(self.config.first_seq.0.wrapping_sub(1)) } else { self.config.first_seq };
            for c in self.oa.iter_mut() {
                c.cc = first;
                c.dc = 0;
            }
        }
    }

    /// SE up again after a crash: what it kept is pending again (its timers died with it).
    pub fn restart(&mut self) {
        self.up = true;
        for h in self.log.iter_mut() {
            if h.sent {
                h.pending = true;
            }
        }
    }
}
