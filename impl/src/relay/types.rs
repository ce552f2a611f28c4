//! Identifiers, the log entry 211 of Fig. 8, pair states, bitmaps and routes.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A storage port's World Wide Name (FC), or its IP/MAC address in the IP variant (4.10).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, Deserialize)]
pub struct Wwn(pub u64);

/// A logical unit number inside one storage.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Debug, Serialize, Deserialize)]
pub struct Lun(pub u16);

/// A volume: the storage's WWN and the volume's LUN (fields 801 and 802 of a log entry).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, Deserialize)]
pub struct VolRef {
    pub wwn: Wwn,
    pub lun: Lun,
}

/// The IP address of an edge or core device: an element of a transit route 714.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, Deserialize)]
pub struct Addr(pub u32);

/// Order assurance ID (726 in pair information, 731 in order assurance information, 803 in a
/// log entry): a consistency group, one sequence space reflected in one total order.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, Deserialize)]
pub struct Id(pub u16);

/// The sequential number of field 804, per ID.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, Deserialize)]
pub struct Seq(pub u32);

/// The hardened variant's pair epoch: bumped at every resync, carried by every log entry, so
/// that an entry of an earlier epoch is never reflected and never acknowledges anything
/// (note S14). The faithful variant leaves it at 0.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, Deserialize)]
pub struct Epoch(pub u16);

/// The I/O time of field 804: SE's clock when it created the entry (1902(D)), in its own unit.
/// Used only for the reflection delay 735; ordering uses the seq alone.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, Deserialize)]
pub struct Time(pub u32);

/// A block address in a volume.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, Deserialize)]
pub struct Block(pub u32);

macro_rules! show {
    ($t:ty, $fmt:literal) => {
        impl fmt::Debug for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, $fmt, self.0)
            }
        }
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Debug::fmt(self, f)
            }
        }
    };
}
show!(Wwn, "W{:x}");
show!(Addr, "@{}");
show!(Id, "id{}");
show!(Seq, "#{}");
show!(Epoch, "e{}");
show!(Time, "t{}");
show!(Block, "b{}");

impl fmt::Debug for VolRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}/{}", self.wwn, self.lun.0)
    }
}

impl Seq {
    pub fn next(self) -> Seq {
        Seq(self.0.wrapping_add(1))
    }
}

/// Which reading of the text a role follows.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub enum Variant {
    /// The text: no dedup or re-ack at TE, control entries not gated (2104, 2204), the
    /// literal SOK (1308 without "no missing"), no fence after 1310, leftovers applied after
    /// the restart (l. 510), counter bases as configured.
    Faithful,
    /// The note's INTERPRETATIONs: dedup on (ID, seq) and re-ack of seq <= RC; one gate and one
    /// (ID, seq) match for control and data entries; CC and RC from one base; LE(SOK) numbered
    /// from CC and "no missing" = no gap below it; the fence at 1310 for the whole ID;
    /// leftovers in seq order up to the first gap, before the restart; epochs and re-basing at
    /// resync; log and counters durable before 1904.
    Hardened,
}

impl Variant {
    pub fn name(self) -> &'static str {
        match self {
            Variant::Faithful => "faithful",
            Variant::Hardened => "hardened",
        }
    }

    pub fn from_name(name: &str) -> Option<Variant> {
        match name {
            "faithful" => Some(Variant::Faithful),
            "hardened" => Some(Variant::Hardened),
            _ => None,
        }
    }
}

/// Pair state 725 (2.3): the synchronous program's five states, and failure Suspend (S entered
/// automatically on a failure) kept apart from a planned Suspend.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug, Serialize, Deserialize)]
pub enum PairState {
    Simplex,
    InitialCopying,
    Duplex,
    Suspend,
    FailureSuspend,
    DuplexPending,
}

impl PairState {
    /// Update copying runs: IC, D or DP (the guard of 1901/1902).
    pub fn copying(self) -> bool {
        matches!(self, PairState::InitialCopying | PairState::Duplex | PairState::DuplexPending)
    }

    /// Suspended, planned or on a failure.
    pub fn suspended(self) -> bool {
        matches!(self, PairState::Suspend | PairState::FailureSuspend)
    }

    /// The rank of S10's chain X < IC < D (other states have none).
    pub fn rank(self) -> Option<u8> {
        match self {
            PairState::Simplex => Some(0),
            PairState::InitialCopying => Some(1),
            PairState::Duplex => Some(2),
            _ => None,
        }
    }

    pub fn short(self) -> &'static str {
        match self {
            PairState::Simplex => "X",
            PairState::InitialCopying => "IC",
            PairState::Duplex => "D",
            PairState::Suspend => "S",
            PairState::FailureSuspend => "FS",
            PairState::DuplexPending => "DP",
        }
    }
}

/// A differential bitmap (727, 1209, 1211, 1213): one bit per region, 64 regions (the bound: a
/// volume of more regions than that uses coarser ones; `region_blocks` is configuration).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, Deserialize)]
pub struct Bitmap(pub u64);

impl Bitmap {
    pub const EMPTY: Bitmap = Bitmap(0);

    /// Mark the regions that `count` blocks from `block` touch (at least one block), with
    /// regions of `region_blocks` blocks; a region past the 64th is folded onto the last.
    pub fn mark(&mut self, block: Block, count: u16, region_blocks: u32) {
        let r = region_blocks.max(1);
        let first = block.0 / r;
        let last = block.0.saturating_add(u32::from(count.max(1)) - 1) / r;
        for region in first..=last.min(first.saturating_add(63)) {
            self.0 |= 1u64 << region.min(63);
        }
    }

    pub fn marked(self, region: u32) -> bool {
        region < 64 && self.0 & (1u64 << region) != 0
    }

    /// "Combine" (data 1209, 1211): the union (INTERPRETATION; fault B15 replaces instead).
    pub fn union(self, other: Bitmap) -> Bitmap {
        Bitmap(self.0 | other.0)
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The marked regions, ascending.
    pub fn regions(self) -> impl Iterator<Item = u32> {
        (0..64).filter(move |r| self.0 & (1u64 << r) != 0)
    }
}

impl fmt::Debug for Bitmap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("{")?;
        for (i, r) in self.regions().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{r}")?;
        }
        f.write_str("}")
    }
}

/// The kind of a log entry, explicit on the wire (the text recognises it from the RIO in 805;
/// the note asks for it as a field).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug, Serialize, Deserialize)]
#[repr(u8)]
pub enum Kind {
    /// LE(WR), 1902: a write, numbered from CC.
    Wr = 1,
    /// LE(WROK), 2008: the same ID, seq and time as its LE(WR), 801/802 swapped.
    Wrok = 2,
    /// LE(pair creation), 1703: numbered from CC.
    PairCreate = 3,
    /// LE(ICOK), 2109: the pair-creation entry's ID and seq.
    Icok = 4,
    /// LE(Duplex transition), 1803: numbered from CC.
    Duplex = 5,
    /// LE(DOK), 2209.
    Dok = 6,
    /// LE(resynchronize), data 1203: numbered from CC (in a new epoch when hardened).
    Resync = 7,
    /// LE(DPOK), data 1207: carries TS's bitmap 1213.
    Dpok = 8,
    /// LE(Suspend instruction), 1304: TE to SE.
    Suspend = 9,
    /// LE(SOK), 1304(C): SE to TE, numbered from CC (not taking a seq: nothing follows it).
    Sok = 10,
}

impl Kind {
    pub const ALL: [Kind; 10] = [
        Kind::Wr,
        Kind::Wrok,
        Kind::PairCreate,
        Kind::Icok,
        Kind::Duplex,
        Kind::Dok,
        Kind::Resync,
        Kind::Dpok,
        Kind::Suspend,
        Kind::Sok,
    ];

    pub fn from_u8(b: u8) -> Option<Kind> {
        Kind::ALL.iter().copied().find(|k| *k as u8 == b)
    }

    /// Entries SE creates from CC and TE reflects through the RC+1 gate: the ID's total order.
    pub fn sequenced(self) -> bool {
        matches!(self, Kind::Wr | Kind::PairCreate | Kind::Duplex | Kind::Resync)
    }

    /// An answer TE sends back with the (ID, seq) of the entry it answers.
    pub fn answer(self) -> bool {
        matches!(self, Kind::Wrok | Kind::Icok | Kind::Dok | Kind::Dpok)
    }

    /// The answer to a sequenced kind.
    pub fn answered_by(self) -> Option<Kind> {
        match self {
            Kind::Wr => Some(Kind::Wrok),
            Kind::PairCreate => Some(Kind::Icok),
            Kind::Duplex => Some(Kind::Dok),
            Kind::Resync => Some(Kind::Dpok),
            _ => None,
        }
    }

    pub fn short(self) -> &'static str {
        match self {
            Kind::Wr => "WR",
            Kind::Wrok => "WROK",
            Kind::PairCreate => "PAIR",
            Kind::Icok => "ICOK",
            Kind::Duplex => "DUPLEX",
            Kind::Dok => "DOK",
            Kind::Resync => "RESYNC",
            Kind::Dpok => "DPOK",
            Kind::Suspend => "SUSPEND",
            Kind::Sok => "SOK",
        }
    }
}

/// Field 805, the RIO a log entry carries, by kind. `D` is a write's data: bytes on a real
/// path, a write id in the model.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug, Serialize, Deserialize)]
pub enum Body<D> {
    /// RIO(WR): `count` blocks from `block`, with their data.
    Wr { block: Block, count: u16, data: D },
    Wrok,
    PairCreate,
    Icok,
    Duplex,
    Dok,
    Resync,
    /// RIO(DPOK) with TS's bitmap 1213.
    Dpok(Bitmap),
    Suspend,
    Sok,
}

impl<D> Body<D> {
    pub fn kind(&self) -> Kind {
        match self {
            Body::Wr { .. } => Kind::Wr,
            Body::Wrok => Kind::Wrok,
            Body::PairCreate => Kind::PairCreate,
            Body::Icok => Kind::Icok,
            Body::Duplex => Kind::Duplex,
            Body::Dok => Kind::Dok,
            Body::Resync => Kind::Resync,
            Body::Dpok(_) => Kind::Dpok,
            Body::Suspend => Kind::Suspend,
            Body::Sok => Kind::Sok,
        }
    }

    /// The body of a kind that carries nothing (`None` for WR and DPOK).
    pub fn bare(kind: Kind) -> Option<Body<D>> {
        Some(match kind {
            Kind::Wrok => Body::Wrok,
            Kind::PairCreate => Body::PairCreate,
            Kind::Icok => Body::Icok,
            Kind::Duplex => Body::Duplex,
            Kind::Dok => Body::Dok,
            Kind::Resync => Body::Resync,
            Kind::Suspend => Body::Suspend,
            Kind::Sok => Body::Sok,
            Kind::Wr | Kind::Dpok => return None,
        })
    }
}

/// Log entry 211 (Fig. 8, note 2.7): 801 target volume, 802 source volume, 803 order assurance
/// ID, 804 I/O time and seq, 805 the RIO (with its kind), and the hardened epoch.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug, Serialize, Deserialize)]
pub struct LogEntry<D> {
    /// 801: where the RIO is going.
    pub target: VolRef,
    /// 802: where it came from.
    pub source: VolRef,
    /// 803.
    pub id: Id,
    pub epoch: Epoch,
    /// 804: I/O time.
    pub time: Time,
    /// 804: sequential number.
    pub seq: Seq,
    /// 805.
    pub body: Body<D>,
}

impl<D> LogEntry<D> {
    pub fn kind(&self) -> Kind {
        self.body.kind()
    }

    /// The (ID, seq) that matches an answer to its entry (1908).
    pub fn key(&self) -> (Id, Seq) {
        (self.id, self.seq)
    }

    /// The answer of `kind` to this entry, as 2008 makes it: 801 and 802 swapped, 803 and 804
    /// copied, the RIO given.
    pub fn answer(&self, body: Body<D>) -> LogEntry<D> {
        LogEntry { target: self.source, source: self.target, id: self.id, epoch: self.epoch, time: self.time, seq: self.seq, body }
    }
}

/// The most devices on one transit route (SE, cores, TE).
pub const MAX_HOPS: usize = 8;

/// Transit route 714: the IP addresses an entry visits, SE first and TE last.
#[derive(Clone, PartialEq, Eq, Hash, Default, Debug, Serialize, Deserialize)]
pub struct Route(pub heapless::Vec<Addr, MAX_HOPS>);

impl Route {
    /// A route of these devices; `None` if more than [`MAX_HOPS`].
    pub fn of(hops: &[Addr]) -> Option<Route> {
        heapless::Vec::from_slice(hops).ok().map(Route)
    }

    pub fn hops(&self) -> &[Addr] {
        &self.0
    }

    /// 1905(B): the address after `me`'s first occurrence (the text's rule, which a route
    /// with a repeated device makes ambiguous: C1 forbids those).
    pub fn after(&self, me: Addr) -> Option<Addr> {
        let i = self.0.iter().position(|a| *a == me)?;
        self.0.get(i + 1).copied()
    }

    /// The address before `me`'s last occurrence: the route walked back (a reverse route that
    /// is not configured, 4.6).
    pub fn before(&self, me: Addr) -> Option<Addr> {
        let i = self.0.iter().rposition(|a| *a == me)?;
        i.checked_sub(1).and_then(|j| self.0.get(j).copied())
    }

    /// No device twice (C1).
    pub fn loop_free(&self) -> bool {
        self.0.iter().enumerate().all(|(i, a)| !self.0[..i].contains(a))
    }
}

/// A row of pair information 411: 721/722 source volume, 723/724 target volume, 725 pair state,
/// 726 order assurance ID, 727 differential bitmap. SE's row describes (source volume, virtual
/// volume 108), TE's (virtual volume 109, target volume); both name the real volumes.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub struct PairRow {
    pub source: VolRef,
    pub target: VolRef,
    pub state: PairState,
    pub id: Id,
    pub bitmap: Bitmap,
}
