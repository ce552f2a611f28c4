//! The state of the ordering world: the `rcopy` roles, the network, the clock, and the ghost
//! history the properties read (note section 6.0).

use rcopy::ordering::{
    GroupId, LdsId, LimitCoordinator, Message, PairId, RdsId, Receiver, RemoteAddr, Sender, Seq, StreamId, Time, Ts,
};
use serde::{Deserialize, Serialize};

/// A write id: the index of the write in the history. It is also the write's data, so the
/// remote image records which write it holds (note B16).
pub type Wid = u8;

/// Where a message is going.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug, Serialize, Deserialize)]
pub enum Node {
    Lds(LdsId),
    Rds(RdsId),
    Master,
}

/// A message in flight.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Debug, Serialize, Deserialize)]
pub struct Envelope {
    pub dst: Node,
    pub msg: Message<Wid>,
}

impl State {
    /// Whether RDS `r` crashed.
    pub fn is_crashed(&self, r: RdsId) -> bool {
        r < 8 && self.crashed & (1 << r) != 0
    }
}

/// Whether the local site is still up.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub enum Phase {
    Running,
    /// A local-site disaster struck and the remote site took over (note S8).
    TakenOver,
}

/// A write of the history H, as accepted at step 503.
#[derive(Clone, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub struct WriteRec {
    pub pair: PairId,
    pub group: GroupId,
    pub stream: StreamId,
    pub addr: RemoteAddr,
    /// The time stamp the host was told at step 504.
    pub ts: Ts,
}

/// A packet ever sent (M1), as (stream, seq, ts, write). Heartbeats have no write.
pub type SentRec = (StreamId, Seq, Ts, Option<Wid>);

/// History the properties need and the roles do not keep.
#[derive(Clone, PartialEq, Eq, Hash, Debug, Default, Serialize, Deserialize)]
pub struct Ghost {
    /// H, in accept order: the index is the write id.
    pub writes: Vec<WriteRec>,
    /// Writes ever stored in a remote cache (step 800), one bit per write id.
    pub arrived: u64,
    /// Per stream, the sequence numbers ever stored at the remote, one bit each.
    pub arrived_seqs: Vec<(StreamId, u64)>,
    /// Every packet ever sent, as a set.
    pub sent: Vec<SentRec>,
    /// Every ack delivered to a sender, as a set.
    pub acked: Vec<(StreamId, Seq)>,
    /// Per RDS, the log of writes destaged (step 1103), in order.
    pub destaged: Vec<Vec<Wid>>,
    /// Per stream, the highest sequence number destaged.
    pub destaged_max: Vec<(StreamId, Seq)>,
    /// The remote image: which write each remote position holds.
    pub image: Vec<(RemoteAddr, Wid)>,
    /// A destage passed the gate with a time stamp above the limit it was checked against (S5).
    pub bad_gate: bool,
    /// A write was destaged while an earlier write of its group had not arrived (S6).
    pub missing_predecessor: bool,
    /// A write was destaged twice, or over newer data (S9).
    pub bad_apply: bool,
    /// A sender released an entry without its ack (S11).
    pub bad_release: bool,
    /// The takeover image is not the history cut at the largest granted limit (S8).
    pub bad_takeover: bool,
    /// A packet filled a gap, so the frontier jumped by more than one (6.3).
    pub gap_filled: bool,
    /// After a gap was filled, a slave's limit advanced (6.3).
    pub gap_then_limit: bool,
    /// A limit arrived at a slave older than the one it stored (N3: M4 messages reorder).
    pub limit_regressed: bool,
}

/// The `rcopy` roles of the world: the production code under check.
#[derive(Clone, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub struct Roles {
    pub senders: Vec<Sender<Wid>>,
    pub receivers: Vec<Receiver<Wid>>,
    pub master: LimitCoordinator,
}

/// The whole world.
#[derive(Clone, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub struct State {
    pub roles: Roles,
    /// The network: an unordered multiset of messages in flight, kept sorted.
    pub net: Vec<Envelope>,
    /// The common time base: the reading of the latest host write or tick.
    pub now: Time,
    /// How often the clock moved on its own (not with a host write): heartbeats wait for a
    /// tick, so that they are stamped after the writes before them.
    pub ticks: u8,
    pub loss_left: u8,
    pub dup_left: u8,
    /// The RDSs that crashed, one bit each.
    pub crashed: u8,
    pub phase: Phase,
    pub ghost: Ghost,
}

impl Ghost {
    pub fn write_bit(w: Wid) -> u64 {
        1u64 << w
    }

    pub fn has_arrived(&self, w: Wid) -> bool {
        self.arrived & Ghost::write_bit(w) != 0
    }

    /// The sequence numbers of `stream` ever stored at the remote.
    pub fn seqs_arrived(&self, stream: StreamId) -> u64 {
        self.arrived_seqs.iter().find(|(s, _)| *s == stream).map_or(0, |(_, m)| *m)
    }

    /// The true frontier of `stream` (S3): the highest k with every seq up to k arrived, and
    /// the time stamp that packet was sent with.
    pub fn frontier(&self, stream: StreamId) -> Option<(Seq, Ts)> {
        let mask = self.seqs_arrived(stream);
        let run = mask.trailing_ones() as u64;
        if run == 0 {
            return None;
        }
        let k = run - 1;
        self.sent.iter().find(|(s, q, _, _)| *s == stream && *q == k).map(|(_, _, ts, _)| (k, *ts))
    }

    pub fn is_destaged(&self, w: Wid) -> bool {
        self.destaged.iter().any(|log| log.contains(&w))
    }

    pub fn image_at(&self, addr: RemoteAddr) -> Option<Wid> {
        self.image.iter().find(|(a, _)| *a == addr).map(|(_, w)| *w)
    }
}

/// Insert into a sorted vector kept as a set.
pub(crate) fn set_insert<T: Ord>(v: &mut Vec<T>, x: T) {
    if let Err(i) = v.binary_search(&x) {
        v.insert(i, x);
    }
}
