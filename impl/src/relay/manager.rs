//! The management server 103 (note 2.6): its tables as data, the derivation of the tables from
//! the customer's input (step 903), each device's copy of them, the configuration invariant C1
//! (note 6.1) as a typed validation, and item (C) of program 501, "the presence or absence of
//! log entries remaining within the remote copy network".
//!
//! # The tables
//!
//! | Table | Type | Rows | Held by |
//! |---|---|---|---|
//! | storage connection information 503 | [`StorageRow`] | at most [`MAX_STORAGES`] | MS |
//! | virtual storage information 404 | [`VirtualRow`] | at most [`MAX_VIRTUAL`] | MS, edges |
//! | access control information 405 | [`AccessRow`] | at most [`MAX_ACCESS`] | MS, edges |
//! | routing information 408 | [`RouteRow`] in a [`Routing`] | at most [`MAX_ROUTES`] | MS, edges, cores |
//! | pair information 411 | [`PairRow`] | at most [`MAX_PAIRS`] | MS, edges |
//!
//! Every table is a `heapless::Vec` of fixed capacity, like every structure of this crate. The
//! MS's 408 has the capacity of one device's copy ([`MAX_ROUTES`]), so that any device can
//! hold all of it.
//!
//! **Edge ids.** The text gives an edge device an "ID" (611, 613, 621, 631) and never says what
//! it is. Here it is the edge's IP address, an [`Addr`]: the value a transit route 714 names
//! the edge by, so that "the route starts at the pair's SE" compares like with like. A core is
//! known only by its [`Addr`] in the routes; a device is an edge if some 503 row names it.
//!
//! # Configuration (step 903)
//!
//! [`Manager::configure`] takes an [`Input`], the customer's entries through 501: each external
//! storage's WWN with its edge ((A), l. 234), the order-assured volume pairs ((B), l. 236), each
//! with an optional ID (method B of 411, l. 320) or else an ID given by method
//! ([`IdMethod`]), and per storage pair either a whole route or the cores to pass
//! ([`RouteInput`]). It derives the tables of the **base embodiment** (l. 264-304): a virtual
//! storage's WWN is the WWN of the storage it impersonates (the Fig. 2 variant, where they
//! differ, is described by the same rows, but [`Manager::configure`] does not make it). The
//! derived tables must pass C1 (with the given faults) or configuration fails.
//!
//! [`Tables::edge_copy`] and [`Tables::core_copy`] give a device its (partial, l. 332-334) copy:
//! an edge its own 404, 405 and 411 rows and the 408 rows whose routes pass it; a core the 408
//! rows whose routes pass it. For a device on an entry's path a partial copy gives the same next
//! hop as the whole 408, provided C1 holds (no two rows for one storage pair). A device *off*
//! the path may answer differently from the whole table (a reverse row it lies on, walked back,
//! can stand in for a forward row it is not on); such a device never sees the entry unless
//! something else is already wrong.
//!
//! # C1
//!
//! [`check_c1`] returns every violation it finds, each a [`C1Violation`] with a message; it
//! never panics. The checks, in the order they are reported:
//!
//! 1. **Attachment (503).** Every storage a 411 row or a 404 row (614) names is attached to an
//!    edge, and no storage is attached to two edges: a pair's SE is the one edge of its source
//!    storage, its TE the one edge of its target storage.
//! 2. **One SE and one TE per ID (411).** All rows of an ID have the same SE and the same TE.
//! 3. **One 408 row per storage pair**: otherwise the row a device picks depends on which rows
//!    its partial copy holds.
//! 4. **Routes (408).** For every 411 row, entries from its source storage to its target
//!    storage (LE(WR) and the other forward entries) and entries the other way (LE(WROK) and the
//!    other answers, 801/802 swapped) each find a row ([`Routing::row`]: the configured row, or
//!    the reverse row walked back when the devices do that). The path the entries take (the
//!    row's route, reversed when walked back) starts at the sending edge, ends at the receiving
//!    edge and names no device twice. Fault B26 lets a repeated device through. A route is
//!    never longer than [`MAX_HOPS`]: the capacity of [`Route`] makes a longer one
//!    unrepresentable, and [`Manager::configure`] refuses a longer input
//!    ([`ConfigError::RouteTooLong`]).
//! 5. **Translation (404, note 4.10).** On each edge, the virtual storages are in bijection with
//!    the storages paired with that edge's own storages: no virtual WWN for two storages, no
//!    storage behind two virtual WWNs, every pair's partner present on both edges, no virtual
//!    storage that serves no pair, no virtual WWN equal to a storage attached to the same edge,
//!    and the corresponding edge 613 is the edge 503 attaches the storage 614 to.
//! 6. **Access control (405).** A row admits a storage attached to that edge to a virtual
//!    storage of that edge only if the storage and the storage behind the virtual storage form a
//!    pair of 411: the paired storage and nothing else.
//!
//! C1 checks neither that a row of 405 exists for every pair (a missing row stops the pair; it
//! breaks no ordering) nor customers: 632 is carried, not compared.
//!
//! # Item (C): are log entries left in the network?
//!
//! [`entries_remain`] answers from what the edges report per ID ([`IdReport`]): SE its CC and
//! DC and the entries it holds, TE the entries it stores. The roles that fill in the reports
//! live elsewhere; this module knows only the report. The answer is as trustworthy as the
//! reports and no more (note S9): a DC that drifted (fault B21) makes CC - DC too small, an
//! SE's held count is what its log says it holds, a core's buffer and the links are reported by
//! no one (an entry in flight is normally still held by SE, which keeps every LE(WR) until its
//! LE(WROK) comes back, but a stale duplicate of an entry SE already deleted is invisible), and
//! an edge that does not report is not seen at all ([`Tables::entries_remain`] counts a missing
//! report as "entries may remain").

use super::fault::Fault;
use super::route::{RouteRow, Routing, MAX_ROUTES};
use super::types::{Addr, Bitmap, Id, Lun, PairRow, PairState, Route, Seq, VolRef, Wwn, MAX_HOPS};
use crate::fault::FaultSet;
use serde::{Deserialize, Serialize};
use std::fmt;

/// The most rows of storage connection information 503: external storages connected to the
/// network (one row each).
pub const MAX_STORAGES: usize = 8;

/// The most rows of pair information 411: order-assured volume pairs.
pub const MAX_PAIRS: usize = 8;

/// The most rows of virtual storage information 404: two per storage pair (one at each end).
pub const MAX_VIRTUAL: usize = 2 * MAX_PAIRS;

/// The most rows of access control information 405: two per storage pair.
pub const MAX_ACCESS: usize = 2 * MAX_PAIRS;

/// A customer ID 632, assigned by the provider at step 902.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Debug, Serialize, Deserialize)]
pub struct CustomerId(pub u32);

/// A row of storage connection information 503: an external storage and the edge it is
/// connected to.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub struct StorageRow {
    /// 631: the edge's ID, its IP address.
    pub edge: Addr,
    /// 632.
    pub customer: CustomerId,
    /// 633: the storage's WWN.
    pub wwn: Wwn,
}

/// A row of virtual storage information 404: a virtual storage that an edge presents to its
/// attached storages, impersonating a storage attached to another edge.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub struct VirtualRow {
    /// 611: the edge that provides the virtual storage.
    pub edge: Addr,
    /// 612: the virtual storage's WWN (in the base embodiment, the impersonated storage's).
    pub virtual_wwn: Wwn,
    /// 613: the edge the impersonated storage is attached to.
    pub corresponding_edge: Addr,
    /// 614: the impersonated storage's WWN (the text once writes "613").
    pub corresponding_wwn: Wwn,
}

/// A row of access control information 405: which storage may use a virtual storage.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub struct AccessRow {
    /// 621: the edge.
    pub edge: Addr,
    /// 622: the virtual storage's WWN.
    pub virtual_wwn: Wwn,
    /// 623: the storage permitted to use it.
    pub permitted: Wwn,
}

/// The management server's tables 503, 404, 405, 408 and 411 (the order assurance
/// information 412 lives at the edges and is not configured here).
#[derive(Clone, PartialEq, Eq, Hash, Default, Debug, Serialize, Deserialize)]
pub struct Tables {
    /// Storage connection information 503.
    pub storage: heapless::Vec<StorageRow, MAX_STORAGES>,
    /// Virtual storage information 404.
    pub virtual_storage: heapless::Vec<VirtualRow, MAX_VIRTUAL>,
    /// Access control information 405.
    pub access: heapless::Vec<AccessRow, MAX_ACCESS>,
    /// Routing information 408: the rows, and whether the devices walk a forward row back for
    /// an entry of the reverse direction that has no row of its own (note 4.6).
    pub routing: Routing,
    /// Pair information 411.
    pub pairs: heapless::Vec<PairRow, MAX_PAIRS>,
}

/// An edge's copy of the tables (l. 332-334): its own rows of 404, 405 and 411, and the rows of
/// 408 whose routes pass it.
#[derive(Clone, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub struct EdgeTables {
    /// The edge's ID, its IP address.
    pub edge: Addr,
    /// The 404 rows with 611 = this edge.
    pub virtual_storage: heapless::Vec<VirtualRow, MAX_VIRTUAL>,
    /// The 405 rows with 621 = this edge.
    pub access: heapless::Vec<AccessRow, MAX_ACCESS>,
    /// The 411 rows whose source or target storage 503 attaches to this edge: the edge is the
    /// pair's SE or TE.
    pub pairs: heapless::Vec<PairRow, MAX_PAIRS>,
    /// The 408 rows whose routes pass this edge, and the MS's `walk_back`.
    pub routing: Routing,
}

/// A device's copy: an edge's tables, or a core's routing information. (Unboxed: a copy is
/// made once per device at distribution, and a bounded value is the crate's rule.)
#[allow(clippy::large_enum_variant)]
#[derive(Clone, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub enum DeviceCopy {
    Edge(EdgeTables),
    Core(Routing),
}

/// The rows of `rows` that `keep` accepts. Never overflows: at most as many rows as `rows`,
/// in a vector of the same capacity.
fn subset<T: Clone, const N: usize>(rows: &[T], keep: impl Fn(&T) -> bool) -> heapless::Vec<T, N> {
    rows.iter().filter(|r| keep(r)).cloned().collect()
}

impl Tables {
    /// The edge 503 attaches storage `wwn` to: `None` if no row, or rows naming two edges.
    pub fn edge_of(&self, wwn: Wwn) -> Option<Addr> {
        let mut edges = self.storage.iter().filter(|s| s.wwn == wwn).map(|s| s.edge);
        let first = edges.next()?;
        edges.all(|e| e == first).then_some(first)
    }

    /// Whether 503 attaches storage `wwn` to `edge` (one of its rows does).
    pub fn attached(&self, wwn: Wwn, edge: Addr) -> bool {
        self.storage.iter().any(|s| s.wwn == wwn && s.edge == edge)
    }

    /// Whether `device` is an edge: some 503 row names it.
    pub fn is_edge(&self, device: Addr) -> bool {
        self.storage.iter().any(|s| s.edge == device)
    }

    /// The SE of a 411 row: the edge of its source storage (721).
    pub fn source_edge(&self, row: &PairRow) -> Option<Addr> {
        self.edge_of(row.source.wwn)
    }

    /// The TE of a 411 row: the edge of its target storage (723).
    pub fn target_edge(&self, row: &PairRow) -> Option<Addr> {
        self.edge_of(row.target.wwn)
    }

    /// The 408 rows whose routes pass `device`, with the MS's `walk_back`.
    fn routing_through(&self, device: Addr) -> Routing {
        Routing {
            rows: subset(&self.routing.rows, |r: &RouteRow| r.route.hops().contains(&device)),
            walk_back: self.routing.walk_back,
        }
    }

    /// An edge's copy, distributed at step 903: `None` if no 503 row names `edge`.
    pub fn edge_copy(&self, edge: Addr) -> Option<EdgeTables> {
        if !self.is_edge(edge) {
            return None;
        }
        Some(EdgeTables {
            edge,
            virtual_storage: subset(&self.virtual_storage, |r: &VirtualRow| r.edge == edge),
            access: subset(&self.access, |r: &AccessRow| r.edge == edge),
            pairs: subset(&self.pairs, |r: &PairRow| {
                self.attached(r.source.wwn, edge) || self.attached(r.target.wwn, edge)
            }),
            routing: self.routing_through(edge),
        })
    }

    /// A core's copy: the 408 rows whose routes pass it (none for a device no route names).
    pub fn core_copy(&self, core: Addr) -> Routing {
        self.routing_through(core)
    }

    /// The copy of `device`: an edge's if some 503 row names it, else a core's.
    pub fn copy_for(&self, device: Addr) -> DeviceCopy {
        match self.edge_copy(device) {
            Some(tables) => DeviceCopy::Edge(tables),
            None => DeviceCopy::Core(self.core_copy(device)),
        }
    }

    /// Item (C) with the MS's knowledge of who must report: [`entries_remain`] of `reports`,
    /// and also `true` (entries may remain) if an ID of 411 has no SE report from its SE or no
    /// TE report from its TE, or its SE or TE is unknown (C1 broken).
    pub fn entries_remain(&self, reports: &[IdReport]) -> bool {
        let reported = |id: Id, edge: Option<Addr>, source: bool| {
            edge.is_some_and(|e| {
                reports.iter().any(|r| r.id == id && r.edge == e && matches!(r.holds, Holds::Source { .. }) == source)
            })
        };
        let missing = self
            .pairs
            .iter()
            .any(|p| !reported(p.id, self.source_edge(p), true) || !reported(p.id, self.target_edge(p), false));
        missing || entries_remain(reports)
    }
}

// =============================================================================================
// C1
// =============================================================================================

/// The edges found where C1 wants one (at most one per 503 row).
pub type Edges = heapless::Vec<Addr, MAX_STORAGES>;

/// A violation of C1. `from` and `to` of a route violation are the storages an entry travels
/// from and to (its 802 and 801): a pair's own (721, 723) for LE(WR), swapped for LE(WROK).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Debug, Serialize, Deserialize, thiserror::Error)]
pub enum C1Violation {
    /// A storage named by 411 or 404 (614) is attached to no edge in 503.
    #[error("storage {wwn:?} is named in 411 or 404 but no row of 503 attaches it to an edge")]
    Unattached { wwn: Wwn },
    /// 503 attaches a storage to several edges: which one is SE or TE is ambiguous.
    #[error("storage {wwn:?} is attached to several edges in 503: {edges:?}")]
    AttachedTwice { wwn: Wwn, edges: Edges },
    /// The rows of an ID name several SEs: the ID has no single owner of its CC.
    #[error("order assurance ID {id:?} has several source edges (SE): {edges:?}")]
    ManySources { id: Id, edges: Edges },
    /// The rows of an ID name several TEs: the ID has no single owner of its RC.
    #[error("order assurance ID {id:?} has several target edges (TE): {edges:?}")]
    ManyTargets { id: Id, edges: Edges },
    /// 408 has several rows for one storage pair.
    #[error("408 has several rows from storage {from:?} to storage {to:?}")]
    DuplicateRoute { from: Wwn, to: Wwn },
    /// Entries between the storages of a pair find no row of 408 in this direction.
    #[error("entries from storage {from:?} to storage {to:?} find no row in 408 (nor a reverse row to walk back)")]
    NoRoute { from: Wwn, to: Wwn },
    /// The path does not start at the sending edge.
    #[error(
        "the path from storage {from:?} to storage {to:?} starts at {found:?}, not at the sending edge {expected:?}"
    )]
    WrongStart { from: Wwn, to: Wwn, expected: Addr, found: Option<Addr> },
    /// The path does not end at the receiving edge.
    #[error(
        "the path from storage {from:?} to storage {to:?} ends at {found:?}, not at the receiving edge {expected:?}"
    )]
    WrongEnd { from: Wwn, to: Wwn, expected: Addr, found: Option<Addr> },
    /// The path names a device twice (`device`: the first device met again): "the next
    /// address after its own" is ambiguous and entries can loop (S15).
    #[error("the path from storage {from:?} to storage {to:?} visits device {device:?} twice")]
    RepeatedDevice { from: Wwn, to: Wwn, device: Addr },
    /// 404 on `edge` translates one virtual WWN to several storages (or corresponding edges).
    #[error("404 on edge {edge:?}: virtual storage {virtual_wwn:?} stands for several storages")]
    VirtualTwice { edge: Addr, virtual_wwn: Wwn },
    /// 404 on `edge` gives one storage several virtual WWNs.
    #[error("404 on edge {edge:?}: storage {storage:?} is behind several virtual storages")]
    StorageTwice { edge: Addr, storage: Wwn },
    /// A virtual WWN on `edge` is the WWN of a storage attached to that same edge.
    #[error("404 on edge {edge:?}: virtual storage {virtual_wwn:?} has the WWN of a storage attached to that edge")]
    VirtualShadowsStorage { edge: Addr, virtual_wwn: Wwn },
    /// A 404 row's corresponding edge 613 is not the edge 503 attaches its storage 614 to.
    #[error("404 on edge {edge:?}: virtual storage {virtual_wwn:?} names edge {named:?} for storage {storage:?}, which 503 attaches to {attached:?}")]
    WrongCorrespondingEdge { edge: Addr, virtual_wwn: Wwn, storage: Wwn, named: Addr, attached: Addr },
    /// A pair's partner storage has no virtual storage on the edge (its SE lacks the target,
    /// or its TE the source).
    #[error(
        "404 on edge {edge:?}: no virtual storage for storage {storage:?}, which a pair of this edge's storages needs"
    )]
    MissingVirtual { edge: Addr, storage: Wwn },
    /// A virtual storage on `edge` impersonates a storage no pair of this edge's storages
    /// names.
    #[error("404 on edge {edge:?}: virtual storage {virtual_wwn:?} serves no pair of 411")]
    UnpairedVirtual { edge: Addr, virtual_wwn: Wwn },
    /// A 405 row names a virtual storage that 404 does not give this edge.
    #[error("405 on edge {edge:?}: virtual storage {virtual_wwn:?} is not in this edge's 404")]
    AccessUnknownVirtual { edge: Addr, virtual_wwn: Wwn },
    /// A 405 row admits a storage that is not attached to this edge or is not paired with the
    /// storage behind the virtual storage.
    #[error("405 on edge {edge:?}: storage {permitted:?} is admitted to virtual storage {virtual_wwn:?} but is not its paired storage on this edge")]
    AccessNotPaired { edge: Addr, virtual_wwn: Wwn, permitted: Wwn },
}

/// The violations found so far, each once, in the order found.
#[derive(Default)]
struct Found(Vec<C1Violation>);

impl Found {
    fn add(&mut self, v: C1Violation) {
        if !self.0.contains(&v) {
            self.0.push(v);
        }
    }
}

/// The distinct values of `items`, ascending (at most one per 503 row by construction; extra
/// ones, which cannot occur, are dropped rather than panicking).
fn distinct_sorted(items: impl Iterator<Item = Addr>) -> Edges {
    let mut out = Edges::new();
    for a in items {
        if !out.contains(&a) {
            let _ = out.push(a);
        }
    }
    out.sort_unstable();
    out
}

/// The device met a second time first on `path`, if any.
fn first_repeat(path: &[Addr]) -> Option<Addr> {
    path.iter().enumerate().find(|(i, a)| path[..*i].contains(a)).map(|(_, a)| *a)
}

/// C1 (note 6.1): the checks of the module docs, every violation reported once, in check order.
/// `faults`: fault B26 lets a route that repeats a device pass.
pub fn check_c1(tables: &Tables, faults: FaultSet) -> Result<(), Vec<C1Violation>> {
    let mut found = Found::default();
    check_attachment(tables, &mut found);
    check_ids(tables, &mut found);
    check_routes(tables, faults, &mut found);
    check_translation(tables, &mut found);
    check_access(tables, &mut found);
    if found.0.is_empty() {
        Ok(())
    } else {
        Err(found.0)
    }
}

fn check_attachment(t: &Tables, found: &mut Found) {
    let named = t
        .pairs
        .iter()
        .flat_map(|p| [p.source.wwn, p.target.wwn])
        .chain(t.virtual_storage.iter().map(|v| v.corresponding_wwn));
    for wwn in named {
        if !t.storage.iter().any(|s| s.wwn == wwn) {
            found.add(C1Violation::Unattached { wwn });
        }
    }
    for s in &t.storage {
        let edges = distinct_sorted(t.storage.iter().filter(|r| r.wwn == s.wwn).map(|r| r.edge));
        if edges.len() > 1 {
            found.add(C1Violation::AttachedTwice { wwn: s.wwn, edges });
        }
    }
}

fn check_ids(t: &Tables, found: &mut Found) {
    for p in &t.pairs {
        let rows = || t.pairs.iter().filter(|r| r.id == p.id);
        let sources = distinct_sorted(rows().filter_map(|r| t.source_edge(r)));
        if sources.len() > 1 {
            found.add(C1Violation::ManySources { id: p.id, edges: sources });
        }
        let targets = distinct_sorted(rows().filter_map(|r| t.target_edge(r)));
        if targets.len() > 1 {
            found.add(C1Violation::ManyTargets { id: p.id, edges: targets });
        }
    }
}

fn check_routes(t: &Tables, faults: FaultSet, found: &mut Found) {
    let rows = &t.routing.rows;
    for (i, r) in rows.iter().enumerate() {
        if rows[..i].iter().any(|q| q.source == r.source && q.target == r.target) {
            found.add(C1Violation::DuplicateRoute { from: r.source, to: r.target });
        }
    }
    for p in &t.pairs {
        let (Some(se), Some(te)) = (t.source_edge(p), t.target_edge(p)) else {
            continue; // reported by check_attachment
        };
        let (s, d) = (p.source.wwn, p.target.wwn);
        for (from, to, sender, receiver) in [(s, d, se, te), (d, s, te, se)] {
            let Some((route, back)) = t.routing.row(from, to) else {
                found.add(C1Violation::NoRoute { from, to });
                continue;
            };
            let mut path: heapless::Vec<Addr, MAX_HOPS> = route.0.clone();
            if back {
                path.reverse();
            }
            if path.first() != Some(&sender) {
                found.add(C1Violation::WrongStart { from, to, expected: sender, found: path.first().copied() });
            }
            if path.last() != Some(&receiver) {
                found.add(C1Violation::WrongEnd { from, to, expected: receiver, found: path.last().copied() });
            }
            if let Some(device) = first_repeat(&path) {
                if !Fault::B26.on(faults) {
                    found.add(C1Violation::RepeatedDevice { from, to, device });
                }
            }
        }
    }
}

fn check_translation(t: &Tables, found: &mut Found) {
    let vs = &t.virtual_storage;
    for v in vs {
        let e = v.edge;
        if vs.iter().any(|w| {
            w.edge == e
                && w.virtual_wwn == v.virtual_wwn
                && (w.corresponding_wwn, w.corresponding_edge) != (v.corresponding_wwn, v.corresponding_edge)
        }) {
            found.add(C1Violation::VirtualTwice { edge: e, virtual_wwn: v.virtual_wwn });
        }
        if vs
            .iter()
            .any(|w| w.edge == e && w.corresponding_wwn == v.corresponding_wwn && w.virtual_wwn != v.virtual_wwn)
        {
            found.add(C1Violation::StorageTwice { edge: e, storage: v.corresponding_wwn });
        }
        if t.attached(v.virtual_wwn, e) {
            found.add(C1Violation::VirtualShadowsStorage { edge: e, virtual_wwn: v.virtual_wwn });
        }
        if let Some(attached) = t.edge_of(v.corresponding_wwn) {
            if attached != v.corresponding_edge {
                found.add(C1Violation::WrongCorrespondingEdge {
                    edge: e,
                    virtual_wwn: v.virtual_wwn,
                    storage: v.corresponding_wwn,
                    named: v.corresponding_edge,
                    attached,
                });
            }
        }
    }
    for p in &t.pairs {
        let (Some(se), Some(te)) = (t.source_edge(p), t.target_edge(p)) else {
            continue;
        };
        for (edge, storage) in [(se, p.target.wwn), (te, p.source.wwn)] {
            if !vs.iter().any(|v| v.edge == edge && v.corresponding_wwn == storage) {
                found.add(C1Violation::MissingVirtual { edge, storage });
            }
        }
    }
    for v in vs {
        let serves = t.pairs.iter().any(|p| {
            (t.attached(p.source.wwn, v.edge) && p.target.wwn == v.corresponding_wwn)
                || (t.attached(p.target.wwn, v.edge) && p.source.wwn == v.corresponding_wwn)
        });
        if !serves {
            found.add(C1Violation::UnpairedVirtual { edge: v.edge, virtual_wwn: v.virtual_wwn });
        }
    }
}

fn check_access(t: &Tables, found: &mut Found) {
    for a in &t.access {
        let mut behind =
            t.virtual_storage.iter().filter(|v| v.edge == a.edge && v.virtual_wwn == a.virtual_wwn).peekable();
        if behind.peek().is_none() {
            found.add(C1Violation::AccessUnknownVirtual { edge: a.edge, virtual_wwn: a.virtual_wwn });
            continue;
        }
        let paired = t.attached(a.permitted, a.edge)
            && behind.any(|v| {
                let w = v.corresponding_wwn;
                t.pairs.iter().any(|p| {
                    (p.source.wwn, p.target.wwn) == (a.permitted, w) || (p.source.wwn, p.target.wwn) == (w, a.permitted)
                })
            });
        if !paired {
            found.add(C1Violation::AccessNotPaired {
                edge: a.edge,
                virtual_wwn: a.virtual_wwn,
                permitted: a.permitted,
            });
        }
    }
}

/// C1's violations, one per line (for [`ConfigError::C1`]).
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Violations(pub Vec<C1Violation>);

impl fmt::Display for Violations {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, v) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{v}")?;
        }
        Ok(())
    }
}

// =============================================================================================
// Configuration (step 903)
// =============================================================================================

/// An external storage the customer connects: (A) of 501.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct StorageInput {
    pub wwn: Wwn,
    /// The edge it is connected to (its IP address).
    pub edge: Addr,
}

/// An order-assured volume pair: (B) of 501.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct PairInput {
    pub source: VolRef,
    pub target: VolRef,
    /// The ID entered by the manager (method B of 411), or `None` for the [`IdMethod`].
    pub id: Option<Id>,
}

/// How the pairs without an ID of their own get one (411, method A).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum IdMethod {
    /// one ID for all pairs from the same source storage to the same target storage.
    SameStorages,
    /// one ID for all pairs with the same SE and the same TE.
    SameEdges,
}

/// How entries between two storages travel (408).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Via<'a> {
    /// Through these cores, in order, from the source storage's edge to the target storage's.
    Cores(&'a [Addr]),
    /// Along this whole transit route 714, SE first and TE last (C1 checks that it is).
    Route(&'a [Addr]),
}

/// The route of entries from storage `source` to storage `target`. For a pair's storages in
/// the pair's direction it is the forward row; the other way it is the reverse row (entries
/// with 801/802 swapped).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct RouteInput<'a> {
    pub source: Wwn,
    pub target: Wwn,
    pub via: Via<'a>,
}

/// How answers (entries with 801/802 swapped) find their way back (note 4.6).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Reverse {
    /// 408 gets a row for the reverse direction of every storage pair: the one given, or else
    /// the forward route reversed. Devices do not walk rows back.
    Configured,
    /// 408 gets reverse rows only where one is given; devices walk the forward row back.
    WalkBack,
}

/// The customer's input at step 903.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct Input<'a> {
    /// The customer ID of step 902 (632 of every 503 row).
    pub customer: CustomerId,
    /// The storages and their edges: (A) of 501.
    pub storages: &'a [StorageInput],
    /// The order-assured volume pairs: (B) of 501.
    pub pairs: &'a [PairInput],
    /// IDs for the pairs without one.
    pub ids: IdMethod,
    /// Routes given per storage pair and direction. A storage pair with none is routed
    /// directly from edge to edge: the route with the fewest cores (l. 306), an INTERPRETATION
    /// (the text's program 502 computes routes from information not modelled here).
    pub routes: &'a [RouteInput<'a>],
    pub reverse: Reverse,
}

/// Why [`Manager::configure`] refuses an input.
#[derive(Clone, PartialEq, Eq, Debug, thiserror::Error)]
pub enum ConfigError {
    /// More of something than a table holds.
    #[error("too many {what}: at most {max}")]
    TooMany { what: &'static str, max: usize },
    /// A storage listed twice.
    #[error("storage {wwn:?} is listed twice (at edges {first:?} and {second:?})")]
    DuplicateStorage { wwn: Wwn, first: Addr, second: Addr },
    /// A pair names a storage not listed.
    #[error("pair #{pair} names storage {wwn:?}, which is not among the storages given")]
    UnknownStorage { pair: usize, wwn: Wwn },
    /// The same volume pair listed twice.
    #[error("pair #{pair} repeats pair #{first}")]
    DuplicatePair { pair: usize, first: usize },
    /// Two routes given for one direction between two storages.
    #[error("two routes are given from storage {from:?} to storage {to:?}")]
    DuplicateRoute { from: Wwn, to: Wwn },
    /// A route between two storages that form no pair (in either direction).
    #[error("a route is given from storage {from:?} to storage {to:?}, which form no pair")]
    RouteForNoPair { from: Wwn, to: Wwn },
    /// A route of more than [`MAX_HOPS`] devices (edges included).
    #[error("the route from storage {from:?} to storage {to:?} has {hops} devices, more than {MAX_HOPS}")]
    RouteTooLong { from: Wwn, to: Wwn, hops: usize },
    /// The derived tables fail C1.
    #[error("the configuration fails C1: {0}")]
    C1(Violations),
}

/// The management server: the tables it derived and distributes.
#[derive(Clone, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub struct Manager {
    pub tables: Tables,
}

fn bounded(what: &'static str, found: usize, max: usize) -> Result<(), ConfigError> {
    if found > max {
        return Err(ConfigError::TooMany { what, max });
    }
    Ok(())
}

/// Push `x` unless it is there already.
fn push_new<T: PartialEq, const N: usize>(
    v: &mut heapless::Vec<T, N>,
    x: T,
    what: &'static str,
) -> Result<(), ConfigError> {
    if v.contains(&x) {
        return Ok(());
    }
    v.push(x).map_err(|_| ConfigError::TooMany { what, max: N })
}

impl Manager {
    /// Step 903 for the base embodiment: the tables of the module docs, derived from `input`,
    /// checked by C1 under `faults`.
    ///
    /// - 503: one row per storage, with the input's customer.
    /// - 411: one row per pair, state Simplex, bitmap empty, the pair's own ID or else the ID
    ///   of its group: the first ID a pair of the group was given, if any, or else a
    ///   fresh ID, the least from 1 up that no pair was given and no group took.
    /// - 404: per storage pair (S at SE, T at TE): SE presents T (612 = 614 = WWN(T), 613 =
    ///   TE); TE presents S (612 = 614 = WWN(S), 613 = SE). Rows shared by several pairs appear
    ///   once.
    /// - 405: per storage pair, SE admits S to the virtual storage WWN(T), TE admits T to the
    ///   virtual storage WWN(S).
    /// - 408: per storage pair, the forward row, then the reverse row (with
    ///   [`Reverse::Configured`], or where one is given). A row's route is the one given; else,
    ///   for a reverse row under [`Reverse::Configured`], the given forward route reversed;
    ///   else the direct route [edge of the sender, edge of the receiver].
    pub fn configure(input: &Input<'_>, faults: FaultSet) -> Result<Manager, ConfigError> {
        bounded("storages", input.storages.len(), MAX_STORAGES)?;
        bounded("pairs", input.pairs.len(), MAX_PAIRS)?;
        let mut tables = Tables::default();

        for (i, s) in input.storages.iter().enumerate() {
            if let Some(first) = input.storages[..i].iter().find(|t| t.wwn == s.wwn) {
                return Err(ConfigError::DuplicateStorage { wwn: s.wwn, first: first.edge, second: s.edge });
            }
            push_new(
                &mut tables.storage,
                StorageRow { edge: s.edge, customer: input.customer, wwn: s.wwn },
                "storages",
            )?;
        }
        let edge_of = |wwn: Wwn| input.storages.iter().find(|s| s.wwn == wwn).map(|s| s.edge);

        // Each pair's SE and TE.
        let mut ends: heapless::Vec<(Addr, Addr), MAX_PAIRS> = heapless::Vec::new();
        for (i, p) in input.pairs.iter().enumerate() {
            if let Some(first) = input.pairs[..i].iter().position(|q| (q.source, q.target) == (p.source, p.target)) {
                return Err(ConfigError::DuplicatePair { pair: i, first });
            }
            let known = |wwn: Wwn| edge_of(wwn).ok_or(ConfigError::UnknownStorage { pair: i, wwn });
            let se = known(p.source.wwn)?;
            let te = known(p.target.wwn)?;
            // One entry per pair (pairs with the same ends included); bounded above.
            ends.push((se, te)).map_err(|_| ConfigError::TooMany { what: "pairs", max: MAX_PAIRS })?;
        }

        let ids = assign_ids(input.pairs, &ends, input.ids);
        for (p, id) in input.pairs.iter().zip(&ids) {
            let row = PairRow {
                source: p.source,
                target: p.target,
                state: PairState::Simplex,
                id: *id,
                bitmap: Bitmap::EMPTY,
            };
            push_new(&mut tables.pairs, row, "pairs")?;
        }

        for (p, &(se, te)) in input.pairs.iter().zip(&ends) {
            let (s, t) = (p.source.wwn, p.target.wwn);
            let presents = |edge, storage, at| VirtualRow {
                edge,
                virtual_wwn: storage,
                corresponding_edge: at,
                corresponding_wwn: storage,
            };
            push_new(&mut tables.virtual_storage, presents(se, t, te), "virtual storage rows (404)")?;
            push_new(&mut tables.virtual_storage, presents(te, s, se), "virtual storage rows (404)")?;
            push_new(
                &mut tables.access,
                AccessRow { edge: se, virtual_wwn: t, permitted: s },
                "access control rows (405)",
            )?;
            push_new(
                &mut tables.access,
                AccessRow { edge: te, virtual_wwn: s, permitted: t },
                "access control rows (405)",
            )?;
        }

        tables.routing = routing(input, &edge_of)?;
        check_c1(&tables, faults).map_err(|v| ConfigError::C1(Violations(v)))?;
        Ok(Manager { tables })
    }

    /// A device's copy ([`Tables::copy_for`]).
    pub fn copy_for(&self, device: Addr) -> DeviceCopy {
        self.tables.copy_for(device)
    }
}

/// Method for the pairs without an ID (see [`Manager::configure`]).
fn assign_ids(pairs: &[PairInput], ends: &[(Addr, Addr)], method: IdMethod) -> heapless::Vec<Id, MAX_PAIRS> {
    let same_group = |i: usize, j: usize| match method {
        IdMethod::SameStorages => {
            (pairs[i].source.wwn, pairs[i].target.wwn) == (pairs[j].source.wwn, pairs[j].target.wwn)
        }
        IdMethod::SameEdges => ends[i] == ends[j],
    };
    let mut ids: heapless::Vec<Id, MAX_PAIRS> = heapless::Vec::new();
    for (i, p) in pairs.iter().enumerate() {
        let id = p.id.unwrap_or_else(|| {
            let explicit =
                (0..pairs.len()).find(|&j| same_group(i, j) && pairs[j].id.is_some()).and_then(|j| pairs[j].id);
            let earlier = (0..i).find(|&j| same_group(i, j)).map(|j| ids[j]);
            explicit.or(earlier).unwrap_or_else(|| {
                let taken = |n: u16| pairs.iter().any(|q| q.id == Some(Id(n))) || ids.contains(&Id(n));
                // At most 2 * MAX_PAIRS IDs are taken, so one of 1..=2 * MAX_PAIRS + 1 is free.
                Id((1..=u16::MAX).find(|&n| !taken(n)).unwrap_or(u16::MAX))
            })
        });
        let _ = ids.push(id); // one per pair, and pairs.len() <= MAX_PAIRS
    }
    ids
}

/// 408 for [`Manager::configure`].
fn routing(input: &Input<'_>, edge_of: &dyn Fn(Wwn) -> Option<Addr>) -> Result<Routing, ConfigError> {
    let given = |source: Wwn, target: Wwn| input.routes.iter().find(|r| r.source == source && r.target == target);
    for (i, r) in input.routes.iter().enumerate() {
        if input.routes[..i].iter().any(|q| q.source == r.source && q.target == r.target) {
            return Err(ConfigError::DuplicateRoute { from: r.source, to: r.target });
        }
        let pairs_them = input.pairs.iter().any(|p| {
            (p.source.wwn, p.target.wwn) == (r.source, r.target) || (p.source.wwn, p.target.wwn) == (r.target, r.source)
        });
        if !pairs_them {
            return Err(ConfigError::RouteForNoPair { from: r.source, to: r.target });
        }
    }
    // The devices of a given route; edges of storages that are known (checked by the caller).
    let build = |r: &RouteInput<'_>| -> Result<Route, ConfigError> {
        let mut hops: heapless::Vec<Addr, MAX_HOPS> = heapless::Vec::new();
        let too_long = |hops| ConfigError::RouteTooLong { from: r.source, to: r.target, hops };
        match r.via {
            Via::Route(route) => hops.extend_from_slice(route).map_err(|_| too_long(route.len()))?,
            Via::Cores(cores) => {
                let all = cores.len() + 2;
                let ends = (edge_of(r.source), edge_of(r.target));
                let (Some(from), Some(to)) = ends else {
                    return Err(ConfigError::RouteForNoPair { from: r.source, to: r.target });
                };
                hops.push(from).map_err(|_| too_long(all))?;
                hops.extend_from_slice(cores).map_err(|_| too_long(all))?;
                hops.push(to).map_err(|_| too_long(all))?;
            }
        }
        Ok(Route(hops))
    };
    let row = |source: Wwn, target: Wwn| -> Result<RouteRow, ConfigError> {
        let route = if let Some(r) = given(source, target) {
            build(r)?
        } else if let (Reverse::Configured, Some(r)) = (input.reverse, given(target, source)) {
            let mut back = build(r)?;
            back.0.reverse();
            back
        } else {
            let direct = [edge_of(source), edge_of(target)];
            let [Some(from), Some(to)] = direct else {
                return Err(ConfigError::RouteForNoPair { from: source, to: target });
            };
            Route(heapless::Vec::from_iter([from, to]))
        };
        Ok(RouteRow { source, target, route })
    };
    let mut rows: heapless::Vec<RouteRow, MAX_ROUTES> = heapless::Vec::new();
    let mut keys: heapless::Vec<(Wwn, Wwn), { 2 * MAX_PAIRS }> = heapless::Vec::new();
    for p in input.pairs {
        let (s, t) = (p.source.wwn, p.target.wwn);
        let reverse = input.reverse == Reverse::Configured || given(t, s).is_some();
        for key in [Some((s, t)), reverse.then_some((t, s))].into_iter().flatten() {
            if keys.contains(&key) {
                continue;
            }
            let _ = keys.push(key); // two keys per pair at most
            let r = row(key.0, key.1)?;
            rows.push(r).map_err(|_| ConfigError::TooMany { what: "routing rows (408)", max: MAX_ROUTES })?;
        }
    }
    Ok(Routing { rows, walk_back: input.reverse == Reverse::WalkBack })
}

// =============================================================================================
// Item (C) of 501
// =============================================================================================

/// What an edge holds for one ID, as it reports it to 501.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub enum Holds {
    /// SE: its log creation counter CC 732 and log deletion counter DC 734 (counted from one
    /// base, so that CC - DC is the number of entries created and not yet deleted), and the
    /// number of entries its log storage area 413 holds for the ID.
    Source { cc: Seq, dc: Seq, held: u32 },
    /// TE: the number of entries its log storage area 413 stores for the ID (reflected or not).
    Target { stored: u32 },
}

/// One edge's report for one ID.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub struct IdReport {
    /// The reporting edge.
    pub edge: Addr,
    pub id: Id,
    pub holds: Holds,
}

impl IdReport {
    /// Whether this report shows an entry left: SE's CC - DC (wrapping; a DC past CC shows as
    /// a large count) or held count is not zero, or TE stores an entry.
    pub fn shows_entries(&self) -> bool {
        match self.holds {
            Holds::Source { cc, dc, held } => cc.0.wrapping_sub(dc.0) != 0 || held != 0,
            Holds::Target { stored } => stored != 0,
        }
    }

    /// Whether an SE's report agrees with itself: CC - DC equals the held count (S9, before
    /// any give-up; after a give-up the text leaves CC - DC counting the converted entries).
    /// A TE's report is always coherent.
    pub fn coherent(&self) -> bool {
        match self.holds {
            Holds::Source { cc, dc, held } => cc.0.wrapping_sub(dc.0) == held,
            Holds::Target { .. } => true,
        }
    }
}

/// Item (C) of 501: whether log entries may remain in the network, from the edges' reports.
/// `false` ("none remain") only if every report shows nothing: every SE has CC = DC and holds
/// nothing, every TE stores nothing. An SE report whose CC - DC and held count disagree shows
/// an entry by one of them, so it counts as "entries remain".
///
/// Trustworthy only as far as the reports are (note S9): see the module docs. IDs or edges
/// that did not report are not seen; [`Tables::entries_remain`] checks that every ID's SE and
/// TE reported.
pub fn entries_remain(reports: &[IdReport]) -> bool {
    reports.iter().any(IdReport::shows_entries)
}

// =============================================================================================
// The Fig. 1 fixture (note 9)
// =============================================================================================

/// The concrete values of the Fig. 1 fixture ([`fig1`]): the text gives the tables' shape, not
/// numbers, so these are chosen. WWNs are NAA-5 names ending in the reference numeral (in
/// hexadecimal digits), LUNs are the last two digits of the volume's numeral, IPs are
/// 10.0.x.y with x.y the device's numeral.
pub struct Fig1;

impl Fig1 {
    /// The customer ID 632.
    pub const CUSTOMER: CustomerId = CustomerId(1);
    /// SS 112's WWN, 0x5006_0e80_0000_0112 (also virtual storage 107's).
    pub const SS: Wwn = Wwn(0x5006_0e80_0000_0112);
    /// TS 122's WWN, 0x5006_0e80_0000_0122 (also virtual storage 106's).
    pub const TS: Wwn = Wwn(0x5006_0e80_0000_0122);
    /// Source volume 113: SS, LUN 13 (also virtual volume 109).
    pub const VOL_113: VolRef = VolRef { wwn: Fig1::SS, lun: Lun(13) };
    /// Target volume 123: TS, LUN 23 (also virtual volume 108).
    pub const VOL_123: VolRef = VolRef { wwn: Fig1::TS, lun: Lun(23) };
    /// SE 104: 10.0.1.4.
    pub const SE: Addr = Addr(u32::from_be_bytes([10, 0, 1, 4]));
    /// Core 202: 10.0.2.2.
    pub const CORE: Addr = Addr(u32::from_be_bytes([10, 0, 2, 2]));
    /// TE 105: 10.0.1.5.
    pub const TE: Addr = Addr(u32::from_be_bytes([10, 0, 1, 5]));
    /// The pair's order assurance ID 726.
    pub const ID: Id = Id(1);

    /// The customer's input that [`Manager::configure`] turns into [`fig1`] (with
    /// [`Reverse::WalkBack`]) or into [`fig1`] plus the reverse row (with
    /// [`Reverse::Configured`]).
    pub fn input(reverse: Reverse) -> Input<'static> {
        Input {
            customer: Fig1::CUSTOMER,
            storages: &[StorageInput { wwn: Fig1::SS, edge: Fig1::SE }, StorageInput { wwn: Fig1::TS, edge: Fig1::TE }],
            pairs: &[PairInput { source: Fig1::VOL_113, target: Fig1::VOL_123, id: Some(Fig1::ID) }],
            ids: IdMethod::SameStorages,
            routes: &[RouteInput { source: Fig1::SS, target: Fig1::TS, via: Via::Cores(&[Fig1::CORE]) }],
            reverse,
        }
    }
}

/// The Fig. 1 configuration exactly as note section 9 gives it (l. 264-304), with the values of
/// [`Fig1`]: SE 104, one core 202, TE 105, SS 112 with volume 113, TS 122 with volume 123, one
/// ID, the pair in Simplex (X) with an empty bitmap.
///
/// - 503: (104, customer, WWN(112)), (105, customer, WWN(122)).
/// - 404: (104, WWN(122), 105, WWN(122)) for virtual storage 106; (105, WWN(112), 104,
///   WWN(112)) for 107.
/// - 405: (104, WWN(122), WWN(112)); (105, WWN(112), WWN(122)).
/// - 408: (WWN(112), WWN(122), [IP(104), IP(202), IP(105)]), the only row; the note gives no
///   reverse row, so the devices walk it back for LE(WROK) (`walk_back`).
/// - 411: (WWN(112), LUN(113), WWN(122), LUN(123), X, ID, {}).
pub fn fig1() -> Tables {
    let storage = [
        StorageRow { edge: Fig1::SE, customer: Fig1::CUSTOMER, wwn: Fig1::SS },
        StorageRow { edge: Fig1::TE, customer: Fig1::CUSTOMER, wwn: Fig1::TS },
    ];
    let virtual_storage = [
        VirtualRow { edge: Fig1::SE, virtual_wwn: Fig1::TS, corresponding_edge: Fig1::TE, corresponding_wwn: Fig1::TS },
        VirtualRow { edge: Fig1::TE, virtual_wwn: Fig1::SS, corresponding_edge: Fig1::SE, corresponding_wwn: Fig1::SS },
    ];
    let access = [
        AccessRow { edge: Fig1::SE, virtual_wwn: Fig1::TS, permitted: Fig1::SS },
        AccessRow { edge: Fig1::TE, virtual_wwn: Fig1::SS, permitted: Fig1::TS },
    ];
    let route = Route(heapless::Vec::from_iter([Fig1::SE, Fig1::CORE, Fig1::TE]));
    let pair = PairRow {
        source: Fig1::VOL_113,
        target: Fig1::VOL_123,
        state: PairState::Simplex,
        id: Fig1::ID,
        bitmap: Bitmap::EMPTY,
    };
    Tables {
        storage: heapless::Vec::from_iter(storage),
        virtual_storage: heapless::Vec::from_iter(virtual_storage),
        access: heapless::Vec::from_iter(access),
        routing: Routing {
            rows: heapless::Vec::from_iter([RouteRow { source: Fig1::SS, target: Fig1::TS, route }]),
            walk_back: true,
        },
        pairs: heapless::Vec::from_iter([pair]),
    }
}
