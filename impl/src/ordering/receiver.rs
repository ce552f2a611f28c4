//! The remote disk system's side: Fig. 8 (R-write data receive 214), Fig. 9/13/15 (slave limit
//! time schedule 116) and Fig. 11 (R-write data destage 215).

use super::fault::Fault;
use super::message::{DataPacket, Message};
use super::types::{RdsId, RemoteAddr, Seq, StreamId, Ts, Variant};
use crate::fault::FaultSet;
use serde::{Deserialize, Serialize};
/// The cache capacity of a receiver that [`Receiver::with_cache`] did not set.
pub const DEFAULT_CACHE: u32 = 1 << 16;

/// Per stream, the persistent frontier (note 2.3, INTERPRETATION required for safety): the
/// highest seq k such that every seq from 0 to k has been received, and that packet's time
/// stamp. `None` means nothing contiguous yet (minus infinity). It survives destaging.
#[derive(Clone, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub struct RecvStream {
    pub id: StreamId,
    pub contiguous: Option<(Seq, Ts)>,
    /// Sequence numbers received beyond a gap, ascending: they become contiguous when it fills.
    /// Kept apart from the cache, so that the frontier does not depend on what was destaged.
    pub beyond: Vec<(Seq, Ts)>,
    /// Fault B7 only: the largest time stamp received on the stream.
    pub max_ts: Option<(Seq, Ts)>,
}

/// A cache 203 entry. `payload` is `None` for a heartbeat.
#[derive(Clone, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub struct Cached<P> {
    pub stream: StreamId,
    pub seq: Seq,
    pub ts: Ts,
    pub addr: RemoteAddr,
    pub payload: Option<P>,
}

/// Step 1103: write `payload` to the remote unit at `addr`.
#[derive(Clone, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub struct Destage<P> {
    pub stream: StreamId,
    pub seq: Seq,
    pub ts: Ts,
    pub addr: RemoteAddr,
    pub payload: Option<P>,
}

/// A packet for a stream this RDS does not receive.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("stream {0} does not end at this remote disk system")]
pub struct ForeignStream(pub StreamId);

/// Why a packet was not taken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotStored {
    #[error(transparent)]
    Foreign(#[from] ForeignStream),
    /// BUSY: the cache is full. The packet is neither stored nor acknowledged, so the sender
    /// keeps it and sends it again.
    #[error("the cache is full ({0} entries)")]
    Busy(u32),
}

/// The RDS: its cache, its streams' frontiers, and the limit time it was granted.
#[derive(Clone, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub struct Receiver<P> {
    pub rds: RdsId,
    pub variant: Variant,
    pub faults: FaultSet,
    pub streams: Vec<RecvStream>,
    /// Cache 203, ordered by (stream, seq); in arrival order under fault B6.
    pub cache: Vec<Cached<P>>,
    /// Limit time 118 as stored at step 904; `None` is minus infinity (nothing may be destaged).
    pub limit: Option<Ts>,
    /// The last value this slave reported to the master.
    pub reported: Option<Ts>,
    /// The entries the cache may hold: a new packet beyond it is answered BUSY.
    pub capacity: u32,
}

impl<P: Clone> Receiver<P> {
    /// An RDS receiving `streams` (from `Topology::streams_into`).
    pub fn new(rds: RdsId, streams: &[StreamId], variant: Variant, faults: FaultSet) -> Receiver<P> {
        let mut ids = streams.to_vec();
        ids.sort();
        ids.dedup();
        assert!(ids.iter().all(|s| s.rds == rds), "a stream of another RDS");
        Receiver {
            rds,
            variant,
            faults,
            streams: ids
                .into_iter()
                .map(|id| RecvStream { id, contiguous: None, beyond: Vec::new(), max_ts: None })
                .collect(),
            cache: Vec::new(),
            limit: None,
            reported: None,
            capacity: DEFAULT_CACHE,
        }
    }

    /// This receiver with a cache of `capacity` entries (at least 1).
    pub fn with_cache(mut self, capacity: u32) -> Receiver<P> {
        self.capacity = capacity.max(1);
        self
    }

    fn fault(&self, f: Fault) -> bool {
        f.on(self.faults)
    }

    fn stream_index(&self, id: StreamId) -> Option<usize> {
        self.streams.iter().position(|s| s.id == id)
    }

    /// Fig. 8: store the packet (step 800) and acknowledge it with its sequence number (step
    /// 801). Hardened: a packet at or below the frontier, or already cached, is a duplicate: it
    /// is not stored again but is acknowledged again, since its first ack may have been lost.
    ///
    /// A new packet the full cache cannot take is refused BUSY: neither stored nor acknowledged.
    pub fn on_data(&mut self, packet: DataPacket<P>) -> Result<Message<P>, NotStored> {
        let i = self.stream_index(packet.stream).ok_or(ForeignStream(packet.stream))?;
        let ack = Message::Ack { stream: packet.stream, seq: packet.seq };
        let dedup = self.variant.hardened() && !self.fault(Fault::B11);
        if dedup {
            let below = self.streams[i].contiguous.is_some_and(|(k, _)| packet.seq <= k);
            let cached = self.cache.iter().any(|c| c.stream == packet.stream && c.seq == packet.seq);
            if below || cached {
                return Ok(ack);
            }
        }
        if self.cache.len() >= self.capacity as usize {
            if self.fault(Fault::B18) {
                return Ok(ack);
            }
            return Err(NotStored::Busy(self.capacity));
        }
        if self.fault(Fault::B7) {
            let s = &mut self.streams[i];
            if s.max_ts.is_none_or(|(_, t)| t < packet.ts) {
                s.max_ts = Some((packet.seq, packet.ts));
            }
        }
        let entry = Cached {
            stream: packet.stream,
            seq: packet.seq,
            ts: packet.ts,
            addr: packet.addr,
            payload: packet.payload,
        };
        let (seq, ts) = (entry.seq, entry.ts);
        if self.fault(Fault::B6) {
            self.cache.push(entry);
        } else {
            let at = self.cache.partition_point(|c| (c.stream, c.seq) <= (entry.stream, entry.seq));
            self.cache.insert(at, entry);
        }
        self.advance(i, seq, ts);
        Ok(ack)
    }

    /// Record the arrival of (seq, ts) on stream `i`, advance its frontier over what is now
    /// contiguous, and drop heartbeats it has passed: they carry no data and have done their work.
    fn advance(&mut self, i: usize, seq: Seq, ts: Ts) {
        let s = &mut self.streams[i];
        // At the last sequence number nothing can come after the frontier.
        let Some(next) = s.contiguous.map_or(Some(0), |(k, _)| k.checked_add(1)) else { return };
        if seq < next {
            return;
        }
        if let Err(at) = s.beyond.binary_search_by_key(&seq, |(k, _)| *k) {
            s.beyond.insert(at, (seq, ts));
        }
        while let Some(&(k, t)) = s.beyond.first() {
            if Some(k) != s.contiguous.map_or(Some(0), |(c, _)| c.checked_add(1)) {
                break;
            }
            s.contiguous = Some((k, t));
            s.beyond.remove(0);
        }
        let id = s.id;
        if let Some((k, _)) = s.contiguous {
            self.cache.retain(|c| !(c.stream == id && c.payload.is_none() && c.seq <= k));
        }
    }

    /// The frontier of `stream` as the slave sees it (steps 900/901): the highest sequence
    /// number of the run anchored at the next expected one, and its time stamp.
    pub fn frontier(&self, stream: StreamId) -> Option<(Seq, Ts)> {
        let s = &self.streams[self.stream_index(stream)?];
        if self.fault(Fault::B7) {
            return s.max_ts;
        }
        if self.fault(Fault::B1) {
            if let Some(run) = self.longest_run(stream) {
                return Some(run);
            }
        }
        if self.fault(Fault::B17) {
            return self.cached_run(stream, s.contiguous);
        }
        s.contiguous
    }

    /// Fault B17: the frontier from what is cached alone: the run of the stream's cached
    /// sequence numbers that continues the persistent frontier; an empty cache, or one that
    /// starts after a gap, is "no information".
    fn cached_run(&self, stream: StreamId, contiguous: Option<(Seq, Ts)>) -> Option<(Seq, Ts)> {
        let mut seqs: Vec<(Seq, Ts)> =
            self.cache.iter().filter(|c| c.stream == stream && c.payload.is_some()).map(|c| (c.seq, c.ts)).collect();
        seqs.sort();
        let (first, _) = *seqs.first()?;
        if contiguous.is_some_and(|(k, _)| first > k) || contiguous.is_none() && first > 0 {
            return None;
        }
        let mut run = seqs[0];
        for &(k, t) in &seqs[1..] {
            if Some(k) != run.0.checked_add(1) {
                break;
            }
            run = (k, t);
        }
        Some(run.max(contiguous.unwrap_or(run)))
    }

    /// Fault B1: the longest run of consecutive sequence numbers anywhere in the cache.
    fn longest_run(&self, stream: StreamId) -> Option<(Seq, Ts)> {
        let mut seqs: Vec<(Seq, Ts)> =
            self.cache.iter().filter(|c| c.stream == stream).map(|c| (c.seq, c.ts)).collect();
        seqs.sort();
        seqs.dedup_by_key(|x| x.0);
        let (mut best, mut best_len, mut len) = (None, 0, 0);
        for (k, &(seq, ts)) in seqs.iter().enumerate() {
            len = if k > 0 && seqs[k - 1].0.checked_add(1) == Some(seq) { len + 1 } else { 1 };
            if len >= best_len {
                best_len = len;
                best = Some((seq, ts));
            }
        }
        best
    }

    /// Steps 901 (Fig. 9), 1300 (Fig. 13), 1500 (Fig. 15): the earliest frontier time stamp
    /// over this RDS's streams. A stream that has received nothing contiguous counts as minus
    /// infinity (`None`), and so does the result.
    pub fn frontier_min(&self) -> Option<Ts> {
        let b2 = self.fault(Fault::B2);
        let mut min: Option<Option<Ts>> = None;
        for s in &self.streams {
            if b2 && !self.cache.iter().any(|c| c.stream == s.id) {
                continue;
            }
            let ts = self.frontier(s.id).map(|(_, t)| t);
            min = Some(match min {
                None => ts,
                Some(m) => m.min(ts),
            });
        }
        min.flatten()
    }

    /// The slave's step 902: the report for the master (M3), when there is one to make: minus
    /// infinity is not reported (it cannot raise the limit), nor is the value last reported.
    pub fn report(&mut self) -> Option<Message<P>> {
        let ts = self.frontier_min()?;
        if self.reported == Some(ts) {
            return None;
        }
        self.reported = Some(ts);
        if self.fault(Fault::B3) {
            self.limit = Some(ts);
        }
        Some(Message::Report { rds: self.rds, ts })
    }

    /// Hardened: the slave's round, retried (note L2: a lost M3 or M4 stalls the limit "unless
    /// rounds are retried"): the value last reported, again. The text's slave reports once per
    /// round and waits at step 903; faithful gives nothing.
    pub fn report_again(&self) -> Option<Message<P>> {
        let ts = self.reported.filter(|_| self.variant.hardened() && !self.fault(Fault::B20))?;
        Some(Message::Report { rds: self.rds, ts })
    }

    /// Whether [`Receiver::report`] would report now.
    pub fn report_due(&self) -> bool {
        self.frontier_min().is_some_and(|ts| self.reported != Some(ts))
    }

    /// Step 904: store the limit time granted by the master. M4 messages reorder, so a limit
    /// may arrive older than the one stored; any granted limit is safe (note 4.12, stability),
    /// and keeping the larger one is what the text's slave gets by waiting for its own round's
    /// limit (step 903). Storing a stale limit would strand writes that a newer one released.
    pub fn on_limit(&mut self, ts: Ts) {
        self.limit = self.limit.max(Some(ts));
    }

    /// Fig. 11, steps 1100-1104: the cached write with the earliest time stamp, destaged and
    /// removed from the cache if its time stamp is at or before the limit time.
    pub fn poll_destage(&mut self) -> Option<Destage<P>> {
        let k = self.destage_candidate()?;
        let c = self.cache.remove(k);
        Some(Destage { stream: c.stream, seq: c.seq, ts: c.ts, addr: c.addr, payload: c.payload })
    }

    /// Whether [`Receiver::poll_destage`] would destage something now.
    pub fn can_destage(&self) -> bool {
        self.destage_candidate().is_some()
    }

    fn destage_candidate(&self) -> Option<usize> {
        if self.fault(Fault::B5) {
            // Each stream's contiguous prefix, the limit ignored.
            let streams = &self.streams;
            return self
                .cache
                .iter()
                .enumerate()
                .filter(|(_, c)| {
                    streams.iter().any(|s| s.id == c.stream && s.contiguous.is_some_and(|(k, _)| c.seq <= k))
                })
                .min_by_key(|(_, c)| c.ts)
                .map(|(k, _)| k);
        }
        let k = if self.fault(Fault::B6) {
            if self.cache.is_empty() {
                return None;
            }
            0
        } else {
            self.cache.iter().enumerate().min_by_key(|(_, c)| c.ts)?.0
        };
        let ts = self.cache[k].ts;
        let limit = self.limit?;
        let open = if self.fault(Fault::B14) { ts < limit } else { ts <= limit };
        open.then_some(k)
    }

    /// Takeover after a local-site disaster (note S8, INTERPRETATION): destage every cached
    /// write at or before `limit` (the largest limit the master ever granted) in time-stamp
    /// order, and discard the rest. Returns the destages, in order.
    pub fn takeover(&mut self, limit: Option<Ts>) -> Vec<Destage<P>> {
        self.limit = limit;
        let mut out = Vec::new();
        while let Some(d) = self.poll_destage() {
            out.push(d);
        }
        if !self.fault(Fault::B19) {
            self.cache.clear();
        }
        out
    }

    /// Whether this RDS holds packet (stream, seq): cached, covered by the persistent
    /// frontier, or recorded beyond a gap. A packet it acknowledged must be held.
    pub fn holds(&self, stream: StreamId, seq: Seq) -> bool {
        let cached = self.cache.iter().any(|c| c.stream == stream && c.seq == seq);
        let recorded =
            self.streams.iter().find(|st| st.id == stream).is_some_and(|st| {
                st.contiguous.is_some_and(|(k, _)| seq <= k) || st.beyond.iter().any(|(k, _)| *k == seq)
            });
        cached || recorded
    }

    /// The earliest time stamp in the cache, if any.
    pub fn earliest_cached(&self) -> Option<Ts> {
        self.cache.iter().map(|c| c.ts).min()
    }
}
