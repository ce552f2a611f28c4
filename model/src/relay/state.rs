//! A state of the relay world: SE, TE and the cores (the production roles), the network as a
//! sorted multiset of entries in flight, SS and TS as the environment, the budgets, and the
//! ghost history of note 6.0.

use super::config::{MAX_BLOCKS, MAX_CORES, MAX_NET, MAX_WRITES};
use rcopy::relay::shared::Reflector;
use rcopy::relay::{Bitmap, CoreDevice, Kind, LogEntry, PairState, Seq, SourceEdge, TargetEdge, ToTs};
use serde::{Deserialize, Serialize};

/// A write's id, which is also the value it writes (0: never written).
pub type Wid = u8;

/// Entries in an edge's log area (the model's bound).
pub const LOG: usize = 4;
/// Entries in a core's batch buffer: more than can be downstream of SE at once (its log, a
/// duplicate, the answers), so that the buffer never overflows into a loss beyond the budget.
pub const BUF: usize = 8;

pub type Se = SourceEdge<Wid, LOG>;
pub type Te = TargetEdge<Wid, LOG>;
pub type Core = CoreDevice<Wid, BUF>;

/// The devices: SE, TE, then the cores.
pub const SE: u8 = 0;
pub const TE: u8 = 1;
pub const CORE0: u8 = 2;

/// A log entry in flight from device `from` to device `to`; `visited` has a bit for each
/// device it passed (S15).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug, Serialize, Deserialize)]
pub struct Msg {
    pub to: u8,
    pub from: u8,
    pub visited: u8,
    pub entry: LogEntry<Wid>,
}

/// External storage SS and its host (the environment, note 4.11).
#[derive(Clone, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub struct Ss {
    /// SS's pair state.
    pub state: PairState,
    /// Host writes issued so far (the next is `issued + 1`).
    pub issued: u8,
    /// Writes waiting for RIO(WROK) (bit `wid`).
    pub outstanding: u8,
    /// For each write, the writes SS's host had been told of when it issued it (S2).
    pub before: [u8; MAX_WRITES + 1],
    /// SS asked for the pair's creation / the Duplex transition.
    pub asked_create: bool,
    pub asked_duplex: bool,
    /// 1211: writes SS made while suspended.
    pub bitmap: Bitmap,
    /// The source volume: the write last stored at each block.
    pub vol: [Wid; MAX_BLOCKS],
    /// The source site failed: SS and its host stopped.
    pub failed: bool,
}

/// External storage TS.
#[derive(Clone, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub struct Ts {
    pub state: PairState,
    pub vol: [Wid; MAX_BLOCKS],
    /// RIOs TE sent and TS has not answered (one, except under B10).
    pub inflight: heapless::Vec<ToTs<Wid>, 2>,
    /// Transient errors TS may still answer with.
    pub errors: u8,
    /// 1213: blocks the target application wrote after 1312.
    pub bitmap: Bitmap,
    /// Target application writes made.
    pub app: u8,
}

/// A log entry SE created, in numbering order (note 6.0's `H`).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub struct Created {
    pub seq: Seq,
    pub kind: Kind,
    /// For a write: its block and id.
    pub block: u8,
    pub wid: Wid,
    /// The sequence it belongs to: 0, then one more at each resync SE began.
    pub era: u8,
    /// Its order assurance ID's index (`Id(id + 1)`).
    pub id: u8,
}

/// The ghost history the properties read.
#[derive(Clone, PartialEq, Eq, Hash, Debug, Default, Serialize, Deserialize)]
pub struct Ghost {
    pub created: heapless::Vec<Created, 12>,
    /// Seqs whose RIO TS applied in its era (`ts_era`), in order (the re-apply of the one TE's
    /// crash left unconfirmed, the same write again, is not listed twice).
    pub applied: heapless::Vec<(u8, Seq), 8>,
    /// Writes SE answered RIO(WROK) (bit `wid`).
    pub acked: u8,
    /// Writes SE converted into 727 at a give-up.
    pub converted: u8,
    /// Per ID, the numbered entries (control ones too) a give-up took out of SE's log: DC
    /// counted them (S9).
    pub given_up: [u8; 2],
    /// Writes acknowledged when failover's timeout path began (SE died, or TE's timer
    /// expired): the note's `accepted_loss`, which S8 does not judge (N4 shows it).
    pub accepted: u8,
    /// All four holders reached Duplex once (the pair's set-up is over: L3).
    pub setup_done: bool,
    /// S5: TE sent an answer for a seq not applied.
    pub early_answer: bool,
    /// S6: SE removed an entry without its answer or a conversion.
    pub se_dropped: bool,
    /// S7: TE removed an entry it had not reflected (nor recognised as a duplicate).
    pub te_dropped: bool,
    /// S15: an entry came to a device it had passed.
    pub revisited: bool,
    /// Devices that crashed (each crashes once).
    pub crashed: u8,
    /// SE's CC when the run began (S9).
    pub cc_base: u32,
    /// SE gave the pair up.
    pub gave_up: bool,
    /// The seq TS applied last when TE crashed (its answer lost): the restarted TE may send it
    /// again, once.
    pub unconfirmed: Option<(u8, Seq)>,
    /// The target host detected the source site's failure and suspended (1301-1303).
    pub detected: bool,
    /// SE died with the source site.
    pub se_dead: bool,
    /// TE's failover timer expired (the timeout path of 1306).
    pub expired: bool,
    /// The LE(SOK) TE took while draining: its ID's index and seq.
    pub sok: Option<(u8, Seq)>,
    /// Blocks the target application wrote.
    pub app_blocks: u8,
    /// S11: a RIO(WR) went to TS after 1310, or a leftover over the application's write.
    pub breach: bool,
    /// S12(b): TE fenced on the SOK while a write SE created before it was not applied.
    pub sok_loss: bool,
    /// The route is down (entries in flight stuck, new ones lost) / was mended.
    pub partitioned: bool,
    pub mended: bool,
    /// The management server told TE of SE's give-up.
    pub notified: bool,
    /// The epoch SE gave up in.
    pub gave_up_epoch: rcopy::relay::Epoch,
    /// Resyncs SE began (its sequence was re-based).
    pub era: u8,
    /// Resyncs TS took (data 1206): `applied` is this era's.
    pub ts_era: u8,
    /// S14: TS applied a write that is not this era's.
    pub resurrected: bool,
    /// N5: TS applied an entry of one ID after an entry of another ID numbered later.
    pub cross_order: bool,
    /// N6: the resync's copy overwrote a block the target application wrote.
    pub app_overwritten: bool,
}

/// A state of the world.
#[derive(Clone, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub struct State {
    pub se: Se,
    pub te: Te,
    pub cores: heapless::Vec<Core, MAX_CORES>,
    /// In flight, sorted (a multiset).
    pub net: heapless::Vec<Msg, MAX_NET>,
    pub ss: Ss,
    pub ts: Ts,
    /// What the network may still lose and duplicate.
    pub loss: u8,
    pub dup: u8,
    /// TE's reflector thread (awake throughout, but in the worlds with `reflector`).
    pub reflector: Reflector,
    pub ghost: Ghost,
}

impl State {
    /// Put `m` in flight, keeping the multiset sorted. `false` when the network is full.
    pub fn send(&mut self, m: Msg) -> bool {
        let at = self.net.iter().position(|x| *x > m).unwrap_or(self.net.len());
        self.net.insert(at, m).is_ok()
    }

    /// Every copy of a log entry in the world outside SE's log: in flight, in a core's buffer,
    /// in TE's log, at TS.
    pub fn copies(&self) -> impl Iterator<Item = &LogEntry<Wid>> + '_ {
        self.net
            .iter()
            .map(|m| &m.entry)
            .chain(self.cores.iter().flat_map(|c| c.buffer.iter()))
            .chain(self.te.log.iter())
    }

    /// The created write `wid` of TS's era, if numbered.
    pub fn created_write(&self, wid: Wid) -> Option<&Created> {
        self.created_now().find(|c| c.kind == Kind::Wr && c.wid == wid)
    }

    /// The entries SE created in TS's era: what `applied` is judged against.
    pub fn created_now(&self) -> impl Iterator<Item = &Created> + '_ {
        self.ghost.created.iter().filter(|c| c.era == self.ghost.ts_era)
    }

    /// Whether `seq` of the ID at index `id` was applied at TS.
    pub fn applied(&self, id: u8, seq: Seq) -> bool {
        self.ghost.applied.contains(&(id, seq))
    }

    /// How many entries of the ID at index `id` TS applied in its era.
    pub fn applied_count(&self, id: u8) -> usize {
        self.ghost.applied.iter().filter(|(i, _)| *i == id).count()
    }
}

/// Bit `wid` of a write set.
pub fn bit(wid: Wid) -> u8 {
    debug_assert!(usize::from(wid) <= MAX_WRITES && wid < 8);
    1u8 << wid
}
