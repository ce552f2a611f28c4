//! The local disk system's side: Fig. 5 (L-write data receive 210), Fig. 6/12/14 (L-write data
//! send 211) and Fig. 7 (L-write data send completion 212).

use super::fault::Fault;
use super::message::DataPacket;
use super::types::{ClockReading, LdsId, RemoteAddr, Seq, StreamId, Time, Ts, Variant};
use crate::fault::FaultSet;
use serde::{Deserialize, Serialize};
/// The window of a sender that [`Sender::with_window`] did not set: the entries (unsent and
/// unacknowledged) a stream may hold before host writes are answered BUSY.
pub const DEFAULT_WINDOW: u32 = 1 << 16;

/// A host write after the caller has resolved its pair to a stream (`Topology::stream_of`).
#[derive(Clone, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub struct HostWrite<P> {
    pub stream: StreamId,
    pub addr: RemoteAddr,
    pub payload: P,
}

/// Where a cache 202 entry stands. An acknowledged entry is released (removed), Fig. 7.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug, Serialize, Deserialize)]
pub enum EntryState {
    Unsent,
    /// Sent with this sequence number and waiting for its ack.
    Sent {
        seq: Seq,
    },
}

/// A cache 202 entry: write data 113, addresses 208/209, time stamp 114, and where it stands.
/// `payload` is `None` for a heartbeat.
#[derive(Clone, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub struct Entry<P> {
    pub payload: Option<P>,
    pub addr: RemoteAddr,
    pub ts: Ts,
    pub state: EntryState,
}

/// One sequence counter (207, 300 or 402) and the entries that wait on it, in accept order.
#[derive(Clone, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub struct SendStream<P> {
    pub id: StreamId,
    pub next_seq: Seq,
    /// The latest time stamp stamped on this stream (write or heartbeat).
    pub last_time: Option<Time>,
    pub entries: Vec<Entry<P>>,
}

/// What became of a host write (step 504 reports completion to the host with `ts`).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub struct Accepted {
    /// The time stamp the write was given at step 503.
    pub ts: Ts,
    /// Fault B9: stamped, but not yet visible to the send process.
    pub staged: bool,
    /// Fault B16: merged into an existing entry, which kept its old time stamp.
    pub coalesced: bool,
}

/// The LDS: its streams and their pending writes.
#[derive(Clone, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub struct Sender<P> {
    pub lds: LdsId,
    pub variant: Variant,
    pub faults: FaultSet,
    pub streams: Vec<SendStream<P>>,
    /// Fault B9 only: writes stamped but not yet enqueued.
    pub staged: Vec<(StreamId, Entry<P>)>,
    /// The entries a stream may hold (unsent and unacknowledged, staged ones included): a host
    /// write beyond it is answered BUSY, as a storage array answers a host it cannot take.
    pub window: u32,
    /// The last time stamp this LDS gave (a write's or a heartbeat's).
    pub last_stamp: Option<Ts>,
}

/// The sender was asked about a stream it does not own.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("stream {0} is not a stream of this local disk system")]
pub struct UnknownStream(pub StreamId);

/// Why a host write was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    #[error(transparent)]
    UnknownStream(#[from] UnknownStream),
    /// BUSY: the stream's window is full (back-pressure; the host retries later).
    #[error("stream {0} is busy: its window of {1} entries is full")]
    Busy(StreamId, u32),
}

impl<P: Clone> Sender<P> {
    /// An LDS sending on `streams` (from `Topology::streams_from`).
    pub fn new(lds: LdsId, streams: &[StreamId], variant: Variant, faults: FaultSet) -> Sender<P> {
        let mut ids = streams.to_vec();
        ids.sort();
        ids.dedup();
        assert!(ids.iter().all(|s| s.lds == lds), "a stream of another LDS");
        Sender {
            lds,
            variant,
            faults,
            streams: ids
                .into_iter()
                .map(|id| SendStream { id, next_seq: 0, last_time: None, entries: Vec::new() })
                .collect(),
            staged: Vec::new(),
            window: DEFAULT_WINDOW,
            last_stamp: None,
        }
    }

    /// This sender with a window of `window` entries per stream (at least 1).
    pub fn with_window(mut self, window: u32) -> Sender<P> {
        self.window = window.max(1);
        self
    }

    fn fault(&self, f: Fault) -> bool {
        f.on(self.faults)
    }

    pub fn stream(&self, id: StreamId) -> Option<&SendStream<P>> {
        self.streams.iter().find(|s| s.id == id)
    }

    fn stream_index(&self, id: StreamId) -> Result<usize, UnknownStream> {
        self.streams.iter().position(|s| s.id == id).ok_or(UnknownStream(id))
    }

    /// The clock reading this LDS stamps with: the common time base, or under B10 its own clock.
    fn reading(&self, clock: ClockReading) -> Time {
        if self.fault(Fault::B10) {
            clock.local
        } else {
            clock.common
        }
    }

    /// Step 503: the time stamp, and this LDS's last one recorded. A reading equal to the last
    /// stamp's (a coarse clock) takes the next tie, so that stamps stay strictly ordered.
    fn stamp(&mut self, clock: ClockReading) -> Ts {
        let time = self.reading(clock);
        let tie = match self.last_stamp {
            // 2^32 stamps at one reading cannot happen; saturate rather than wrap.
            Some(last) if last.time == time => last.tie.saturating_add(1),
            _ => 0,
        };
        let ts = Ts { time, lds: self.lds, tie };
        self.last_stamp = Some(ts);
        ts
    }

    /// Fig. 5, steps 500-504: cache the write, stamp it, and make it visible to the send process
    /// in one step (A1: stamping and enqueueing are one critical section).
    ///
    /// The caller's clock must not go back across the host writes of one LDS; it may stand
    /// still (a coarse clock): equal readings are ordered by the stamp's tie count.
    /// A write the stream's window cannot take is refused BUSY, before it is stamped.
    pub fn on_host_write(&mut self, write: HostWrite<P>, clock: ClockReading) -> Result<Accepted, Refused> {
        let i = self.stream_index(write.stream)?;
        let held = self.streams[i].entries.len() + self.staged.iter().filter(|(s, _)| *s == write.stream).count();
        if held >= self.window as usize {
            return Err(Refused::Busy(write.stream, self.window));
        }
        let ts = self.stamp(clock);
        if self.fault(Fault::B16) {
            let same = self.streams[i].entries.iter_mut().find(|e| e.addr == write.addr && e.payload.is_some());
            if let Some(e) = same {
                e.payload = Some(write.payload);
                return Ok(Accepted { ts, staged: false, coalesced: true });
            }
        }
        let entry = Entry { payload: Some(write.payload), addr: write.addr, ts, state: EntryState::Unsent };
        if self.fault(Fault::B9) {
            self.staged.push((write.stream, entry));
            return Ok(Accepted { ts, staged: true, coalesced: false });
        }
        self.enqueue(i, entry);
        Ok(Accepted { ts, staged: false, coalesced: false })
    }

    fn enqueue(&mut self, i: usize, entry: Entry<P>) {
        let s = &mut self.streams[i];
        s.last_time = Some(s.last_time.map_or(entry.ts.time, |t| t.max(entry.ts.time)));
        s.entries.push(entry);
    }

    /// Fault B9 only: the stamped write `index` of [`Sender::staged`] becomes visible to the
    /// send process. Returns false when there is no such staged write.
    pub fn publish(&mut self, index: usize) -> bool {
        if index >= self.staged.len() {
            return false;
        }
        let (stream, entry) = self.staged.remove(index);
        let i = self.stream_index(stream).expect("staged on a known stream");
        self.enqueue(i, entry);
        true
    }

    /// Is there an unsent write on `stream` (step 603)?
    pub fn has_unsent(&self, stream: StreamId) -> bool {
        self.stream(stream).is_some_and(|s| s.entries.iter().any(|e| e.state == EntryState::Unsent))
    }

    /// Fig. 6 steps 600-602 (Fig. 12 step 1200, Fig. 14 step 1400): select the unsent write with
    /// the earliest time stamp, give it the stream's next sequence number, and send it. The
    /// second value is true when the entry was released at once (fault B13).
    pub fn send_next(&mut self, stream: StreamId) -> Option<(DataPacket<P>, bool)> {
        let b8 = self.fault(Fault::B8);
        let b13 = self.fault(Fault::B13);
        let i = self.stream_index(stream).ok()?;
        let s = &mut self.streams[i];
        let unsent = s.entries.iter().enumerate().filter(|(_, e)| e.state == EntryState::Unsent);
        let pick = if b8 {
            unsent.max_by_key(|(_, e)| e.ts).map(|(k, _)| k)
        } else {
            unsent.min_by_key(|(_, e)| e.ts).map(|(k, _)| k)
        }?;
        let seq = s.next_seq;
        // The sequence space is spent (never in practice: 2^64 packets): send nothing more.
        s.next_seq = seq.checked_add(1)?;
        let e = &mut s.entries[pick];
        e.state = EntryState::Sent { seq };
        let packet = DataPacket { stream, seq, ts: e.ts, addr: e.addr, payload: e.payload.clone() };
        if b13 {
            s.entries.remove(pick);
        }
        Some((packet, b13))
    }

    /// Fig. 7, step 700: the RDS acknowledged (stream, seq); release the entry (its time stamp
    /// and sequence number become NULL; the local destage 213 may follow). Returns whether an
    /// entry was released: an ack for an unknown or already released entry is ignored.
    pub fn on_ack(&mut self, stream: StreamId, seq: Seq) -> bool {
        let Ok(i) = self.stream_index(stream) else { return false };
        let s = &mut self.streams[i];
        match s.entries.iter().position(|e| e.state == EntryState::Sent { seq }) {
            Some(k) => {
                s.entries.remove(k);
                true
            }
            None => false,
        }
    }

    /// Hardened: the retransmission timer of (stream, seq) fired; resend the entry with the
    /// same sequence number and time stamp (note 4.13). Faithful: the text has no resend.
    pub fn on_timeout(&mut self, stream: StreamId, seq: Seq) -> Option<DataPacket<P>> {
        if !self.variant.hardened() {
            return None;
        }
        let b12 = self.fault(Fault::B12);
        let i = self.stream_index(stream).ok()?;
        let s = &mut self.streams[i];
        let k = s.entries.iter().position(|e| e.state == EntryState::Sent { seq })?;
        let seq = if b12 {
            let fresh = s.next_seq;
            s.next_seq = fresh.checked_add(1)?;
            s.entries[k].state = EntryState::Sent { seq: fresh };
            fresh
        } else {
            seq
        };
        let e = &s.entries[k];
        Some(DataPacket { stream, seq, ts: e.ts, addr: e.addr, payload: e.payload.clone() })
    }

    /// Hardened: the heartbeat timer of an idle stream fired. If nothing is waiting to be sent
    /// on `stream` and the clock has passed its last time stamp, send a heartbeat: a packet
    /// without data that consumes the next sequence number, so the remote frontier of an idle
    /// stream advances (note section 9; the fix of gap B15). It goes through the same
    /// earliest-first order as data, so A1 holds. The entry waits for its ack like data.
    pub fn on_idle(&mut self, stream: StreamId, clock: ClockReading) -> Option<DataPacket<P>> {
        if !self.heartbeat_due(stream, clock) {
            return None;
        }
        let ts = self.stamp(clock);
        let i = self.stream_index(stream).ok()?;
        let addr = RemoteAddr { unit: 0, pos: 0 };
        self.enqueue(i, Entry { payload: None, addr, ts, state: EntryState::Unsent });
        self.send_next(stream).map(|(p, _)| p)
    }

    /// Whether [`Sender::on_idle`] would send a heartbeat on `stream` now.
    pub fn heartbeat_due(&self, stream: StreamId, clock: ClockReading) -> bool {
        if !self.variant.hardened() || self.staged.iter().any(|(s, _)| *s == stream) {
            return false;
        }
        let time = self.reading(clock);
        self.stream(stream).is_some_and(|s| {
            !s.entries.iter().any(|e| e.state == EntryState::Unsent)
                && s.last_time.is_none_or(|t| t < time)
                && s.entries.len() < self.window as usize
        })
    }

    /// The entries sent and not yet acknowledged on `stream`, as (seq, entry).
    pub fn unacked(&self, stream: StreamId) -> impl Iterator<Item = (Seq, &Entry<P>)> {
        self.stream(stream).into_iter().flat_map(|s| {
            s.entries.iter().filter_map(|e| match e.state {
                EntryState::Sent { seq } => Some((seq, e)),
                EntryState::Unsent => None,
            })
        })
    }
}
