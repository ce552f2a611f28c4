//! Tests of the seed-001 management server (`shared/protocols/seed-001.md` 2.6, 4.6, 6.1 C1
//! and S15, 9): the Fig. 1 fixture, the next-hop rule of step 1905 and C1 against brute-force
//! references, configuration (step 903), and item (C) of 501.
//!
//! The tests of fault B26 need the cargo feature `faults`:
//! `cargo test -p rcopy --features faults --test relay_manager`.

use quickcheck::{quickcheck, Arbitrary, Gen, TestResult};
use rcopy::fault::FaultSet;
use rcopy::relay::manager::{
    check_c1, entries_remain, fig1, AccessRow, C1Violation, ConfigError, DeviceCopy, Edges, Fig1, Holds, IdMethod,
    IdReport, Input, Manager, PairInput, Reverse, RouteInput, StorageInput, StorageRow, Tables, Via, VirtualRow,
    MAX_ACCESS, MAX_PAIRS, MAX_STORAGES, MAX_VIRTUAL,
};
use rcopy::relay::route::MAX_ROUTES;
use rcopy::relay::{
    Addr, Bitmap, Block, Body, Epoch, Id, LogEntry, Lun, NextHop, PairRow, PairState, Route, RouteRow, Routing, Seq,
    Time, VolRef, Wwn, MAX_HOPS,
};
use std::collections::{BTreeMap, BTreeSet};

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

// =============================================================================================
// Walking an entry through the devices, each with its own copy
// =============================================================================================

/// How a walk ended.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum End {
    /// The device found itself at the end of the route.
    Arrived(Addr),
    /// The device found no route for the entry.
    NoRoute(Addr),
    /// The entry came to a device a second time (the last element of the visits).
    Revisited(Addr),
}

/// The routing copy a device holds.
fn copy_of(tables: &Tables, device: Addr) -> Routing {
    match tables.copy_for(device) {
        DeviceCopy::Edge(e) => e.routing,
        DeviceCopy::Core(r) => r,
    }
}

/// Step 1905 applied from `start` over and over for an entry from storage `source` to storage
/// `target`, each device using its own copy: the devices visited, in order, and how it ended.
fn walk(tables: &Tables, start: Addr, source: Wwn, target: Wwn) -> (Vec<Addr>, End) {
    let mut visits = vec![start];
    let mut at = start;
    loop {
        match copy_of(tables, at).next(at, source, target) {
            NextHop::Here => return (visits, End::Arrived(at)),
            NextHop::NoRoute => return (visits, End::NoRoute(at)),
            NextHop::To(next) => {
                let again = visits.contains(&next);
                visits.push(next);
                if again {
                    return (visits, End::Revisited(next));
                }
                at = next;
            }
        }
    }
}

// =============================================================================================
// The Fig. 1 fixture
// =============================================================================================

/// Fig. 1 with the reverse row (TS, SS) configured and no walking back.
fn fig1_reverse_configured() -> Tables {
    let mut t = fig1();
    let mut back = t.routing.rows[0].route.clone();
    back.0.reverse();
    t.routing.rows.push(RouteRow { source: Fig1::TS, target: Fig1::SS, route: back }).unwrap();
    t.routing.walk_back = false;
    t
}

#[test]
fn fig1_is_section_9() {
    let t = fig1();
    let cust = Fig1::CUSTOMER;
    assert_eq!(
        t.storage.as_slice(),
        [
            StorageRow { edge: Fig1::SE, customer: cust, wwn: Fig1::SS },
            StorageRow { edge: Fig1::TE, customer: cust, wwn: Fig1::TS },
        ]
    );
    // 404: 106 at 104 impersonates TS 122 (612 = 614 = WWN(122), 613 = 105); 107 at 105
    // impersonates SS 112.
    assert_eq!(
        t.virtual_storage.as_slice(),
        [
            VirtualRow {
                edge: Fig1::SE,
                virtual_wwn: Fig1::TS,
                corresponding_edge: Fig1::TE,
                corresponding_wwn: Fig1::TS
            },
            VirtualRow {
                edge: Fig1::TE,
                virtual_wwn: Fig1::SS,
                corresponding_edge: Fig1::SE,
                corresponding_wwn: Fig1::SS
            },
        ]
    );
    // 405: SS may use 106 at 104; TS may use 107 at 105.
    assert_eq!(
        t.access.as_slice(),
        [
            AccessRow { edge: Fig1::SE, virtual_wwn: Fig1::TS, permitted: Fig1::SS },
            AccessRow { edge: Fig1::TE, virtual_wwn: Fig1::SS, permitted: Fig1::TS },
        ]
    );
    assert_eq!(t.routing.rows.len(), 1);
    assert_eq!((t.routing.rows[0].source, t.routing.rows[0].target), (Fig1::SS, Fig1::TS));
    assert_eq!(t.routing.rows[0].route.hops(), [Fig1::SE, Fig1::CORE, Fig1::TE]);
    assert!(t.routing.walk_back);
    assert_eq!(
        t.pairs.as_slice(),
        [PairRow {
            source: VolRef { wwn: Fig1::SS, lun: Lun(13) },
            target: VolRef { wwn: Fig1::TS, lun: Lun(23) },
            state: PairState::Simplex,
            id: Fig1::ID,
            bitmap: Bitmap::EMPTY,
        }]
    );
    // The virtual volumes keep the LUNs of the volumes they impersonate (l. 282): 108 is TS's
    // LUN under WWN(122) at SE, 109 is SS's LUN under WWN(112) at TE: the pair row names both.
}

#[test]
fn fig1_passes_c1() {
    assert_eq!(check_c1(&fig1(), FaultSet::NONE), Ok(()));
    assert_eq!(check_c1(&fig1_reverse_configured(), FaultSet::NONE), Ok(()));
}

#[test]
fn fig1_is_what_configure_derives() {
    let m = Manager::configure(&Fig1::input(Reverse::WalkBack), FaultSet::NONE).unwrap();
    assert_eq!(m.tables, fig1());
    let m = Manager::configure(&Fig1::input(Reverse::Configured), FaultSet::NONE).unwrap();
    assert_eq!(m.tables, fig1_reverse_configured());
}

#[test]
fn fig1_next_hops() {
    // A write from SS's volume 113 to TS's volume 123, and TE's answer to it (2008: 801/802
    // swapped).
    let wr: LogEntry<u32> = LogEntry {
        target: Fig1::VOL_123,
        source: Fig1::VOL_113,
        id: Fig1::ID,
        epoch: Epoch(0),
        time: Time(0),
        seq: Seq(1),
        body: Body::Wr { block: Block(0), count: 1, data: 7 },
    };
    let wrok = wr.answer(Body::Wrok);
    assert_eq!((wrok.source, wrok.target), (Fig1::VOL_123, Fig1::VOL_113));

    for (name, t) in [("walk back", fig1()), ("reverse row", fig1_reverse_configured())] {
        let fwd = walk(&t, Fig1::SE, wr.source.wwn, wr.target.wwn);
        assert_eq!(fwd, (vec![Fig1::SE, Fig1::CORE, Fig1::TE], End::Arrived(Fig1::TE)), "{name}: LE(WR)");
        let back = walk(&t, Fig1::TE, wrok.source.wwn, wrok.target.wwn);
        assert_eq!(back, (vec![Fig1::TE, Fig1::CORE, Fig1::SE], End::Arrived(Fig1::SE)), "{name}: LE(WROK)");
        // Hop by hop, with the whole table.
        let r = &t.routing;
        assert_eq!(r.next(Fig1::SE, Fig1::SS, Fig1::TS), NextHop::To(Fig1::CORE));
        assert_eq!(r.next(Fig1::CORE, Fig1::SS, Fig1::TS), NextHop::To(Fig1::TE));
        assert_eq!(r.next(Fig1::TE, Fig1::SS, Fig1::TS), NextHop::Here);
        assert_eq!(r.next(Fig1::TE, Fig1::TS, Fig1::SS), NextHop::To(Fig1::CORE));
        assert_eq!(r.next(Fig1::CORE, Fig1::TS, Fig1::SS), NextHop::To(Fig1::SE));
        assert_eq!(r.next(Fig1::SE, Fig1::TS, Fig1::SS), NextHop::Here);
    }

    // Neither a reverse row nor walking back: the answer has no way home, and C1 says so.
    let mut t = fig1();
    t.routing.walk_back = false;
    assert_eq!(walk(&t, Fig1::TE, Fig1::TS, Fig1::SS), (vec![Fig1::TE], End::NoRoute(Fig1::TE)));
    assert_eq!(check_c1(&t, FaultSet::NONE), Err(vec![C1Violation::NoRoute { from: Fig1::TS, to: Fig1::SS }]));
}

#[test]
fn fig1_device_copies() {
    let t = fig1();
    let DeviceCopy::Edge(se) = t.copy_for(Fig1::SE) else { panic!("104 is an edge") };
    assert_eq!(se.edge, Fig1::SE);
    assert_eq!(se.virtual_storage.as_slice(), &t.virtual_storage[..1]);
    assert_eq!(se.access.as_slice(), &t.access[..1]);
    assert_eq!(se.pairs, t.pairs);
    assert_eq!(se.routing, t.routing);
    let DeviceCopy::Edge(te) = t.copy_for(Fig1::TE) else { panic!("105 is an edge") };
    assert_eq!(te.virtual_storage.as_slice(), &t.virtual_storage[1..]);
    assert_eq!(te.access.as_slice(), &t.access[1..]);
    assert_eq!(te.pairs, t.pairs);
    assert_eq!(t.copy_for(Fig1::CORE), DeviceCopy::Core(t.routing.clone()));
    assert_eq!(t.edge_copy(Fig1::CORE), None);
    // A core no route passes gets no rows.
    let other = Addr(u32::from_be_bytes([10, 0, 2, 3]));
    assert!(t.core_copy(other).rows.is_empty());
}

// =============================================================================================
// C1: hand-made violations and messages
// =============================================================================================

#[test]
fn c1_violations_by_hand() {
    // Two IDs' worth of damage on Fig. 1, one table at a time.
    let e3 = Addr(u32::from_be_bytes([10, 0, 1, 6]));
    let other = Wwn(0x5006_0e80_0000_0132);

    // A second pair of the same ID from a storage on another edge: two SEs for one ID, and
    // the new storage pair has no route, no virtual storages.
    let mut t = fig1();
    t.storage.push(StorageRow { edge: e3, customer: Fig1::CUSTOMER, wwn: other }).unwrap();
    let mut p = t.pairs[0];
    p.source = VolRef { wwn: other, lun: Lun(1) };
    t.pairs.push(p).unwrap();
    let v = check_c1(&t, FaultSet::NONE).unwrap_err();
    let mut sources = Edges::new();
    sources.extend_from_slice(&[Fig1::SE, e3]).unwrap();
    sources.sort_unstable();
    assert!(v.contains(&C1Violation::ManySources { id: Fig1::ID, edges: sources }), "{v:?}");
    assert!(v.contains(&C1Violation::NoRoute { from: other, to: Fig1::TS }), "{v:?}");
    assert!(v.contains(&C1Violation::MissingVirtual { edge: e3, storage: Fig1::TS }), "{v:?}");
    assert!(v.contains(&C1Violation::MissingVirtual { edge: Fig1::TE, storage: other }), "{v:?}");

    // A route that starts at the core.
    let mut t = fig1();
    t.routing.rows[0].route = Route::of(&[Fig1::CORE, Fig1::TE]).unwrap();
    let v = check_c1(&t, FaultSet::NONE).unwrap_err();
    assert_eq!(
        v,
        [
            C1Violation::WrongStart { from: Fig1::SS, to: Fig1::TS, expected: Fig1::SE, found: Some(Fig1::CORE) },
            C1Violation::WrongEnd { from: Fig1::TS, to: Fig1::SS, expected: Fig1::SE, found: Some(Fig1::CORE) },
        ]
    );
    let msg = v[0].to_string();
    assert!(msg.contains("starts at") && msg.contains("sending edge"), "{msg}");

    // An empty route.
    let mut t = fig1();
    t.routing.rows[0].route = Route::default();
    let v = check_c1(&t, FaultSet::NONE).unwrap_err();
    assert!(v.contains(&C1Violation::WrongStart { from: Fig1::SS, to: Fig1::TS, expected: Fig1::SE, found: None }));

    // 405 at SE admits a storage that is not attached there.
    let mut t = fig1();
    t.access[0].permitted = other;
    assert_eq!(
        check_c1(&t, FaultSet::NONE),
        Err(vec![C1Violation::AccessNotPaired { edge: Fig1::SE, virtual_wwn: Fig1::TS, permitted: other }])
    );
    // 405 at SE admits TS to the virtual storage of TS: not its pair.
    t.access[0].permitted = Fig1::TS;
    assert_eq!(
        check_c1(&t, FaultSet::NONE),
        Err(vec![C1Violation::AccessNotPaired { edge: Fig1::SE, virtual_wwn: Fig1::TS, permitted: Fig1::TS }])
    );

    // 404 at SE: a second virtual WWN for TS.
    let mut t = fig1();
    let mut twin = t.virtual_storage[0];
    twin.virtual_wwn = other;
    t.virtual_storage.push(twin).unwrap();
    assert_eq!(
        check_c1(&t, FaultSet::NONE),
        Err(vec![C1Violation::StorageTwice { edge: Fig1::SE, storage: Fig1::TS }])
    );

    // A storage on two edges.
    let mut t = fig1();
    t.storage.push(StorageRow { edge: e3, customer: Fig1::CUSTOMER, wwn: Fig1::TS }).unwrap();
    let v = check_c1(&t, FaultSet::NONE).unwrap_err();
    let mut both = Edges::new();
    both.extend_from_slice(&[Fig1::TE, e3]).unwrap();
    both.sort_unstable();
    assert!(v.contains(&C1Violation::AttachedTwice { wwn: Fig1::TS, edges: both }), "{v:?}");
    assert!(v.iter().all(|x| !x.to_string().is_empty()));
}

#[test]
fn configure_refuses_bad_input() {
    let good = Fig1::input(Reverse::WalkBack);
    let storages = [good.storages[0], StorageInput { wwn: Fig1::SS, edge: Fig1::TE }];
    let input = Input { storages: &storages, ..good };
    assert_eq!(
        Manager::configure(&input, FaultSet::NONE),
        Err(ConfigError::DuplicateStorage { wwn: Fig1::SS, first: Fig1::SE, second: Fig1::TE })
    );

    let pairs = [good.pairs[0], good.pairs[0]];
    let input = Input { pairs: &pairs, ..good };
    assert_eq!(Manager::configure(&input, FaultSet::NONE), Err(ConfigError::DuplicatePair { pair: 1, first: 0 }));

    let stranger = Wwn(0x5006_0e80_0000_0999);
    let pairs = [PairInput { source: VolRef { wwn: stranger, lun: Lun(0) }, ..good.pairs[0] }];
    let input = Input { pairs: &pairs, ..good };
    assert_eq!(Manager::configure(&input, FaultSet::NONE), Err(ConfigError::UnknownStorage { pair: 0, wwn: stranger }));

    let cores = [Fig1::CORE; MAX_HOPS - 1];
    let routes = [RouteInput { source: Fig1::SS, target: Fig1::TS, via: Via::Cores(&cores) }];
    let input = Input { routes: &routes, ..good };
    assert_eq!(
        Manager::configure(&input, FaultSet::NONE),
        Err(ConfigError::RouteTooLong { from: Fig1::SS, to: Fig1::TS, hops: MAX_HOPS + 1 })
    );

    let routes = [good.routes[0], good.routes[0]];
    let input = Input { routes: &routes, ..good };
    assert_eq!(
        Manager::configure(&input, FaultSet::NONE),
        Err(ConfigError::DuplicateRoute { from: Fig1::SS, to: Fig1::TS })
    );

    // Both storages on one edge: the virtual storage would have the WWN of a storage attached
    // there, and the direct route names the edge twice.
    let storages = [good.storages[0], StorageInput { wwn: Fig1::TS, edge: Fig1::SE }];
    let input = Input { storages: &storages, routes: &[], ..good };
    let Err(ConfigError::C1(v)) = Manager::configure(&input, FaultSet::NONE) else { panic!("C1 must refuse") };
    assert!(v.0.contains(&C1Violation::VirtualShadowsStorage { edge: Fig1::SE, virtual_wwn: Fig1::TS }), "{v}");
    assert!(v.0.contains(&C1Violation::RepeatedDevice { from: Fig1::SS, to: Fig1::TS, device: Fig1::SE }), "{v}");
    assert!(ConfigError::C1(v).to_string().starts_with("the configuration fails C1: "));
}

#[test]
fn configure_assigns_ids() {
    // Three storages on three edges; pairs S1->T twice (two volumes), S2->T once.
    let (e1, e2, e3) = (Addr(1), Addr(2), Addr(3));
    let (s1, s2, t) = (Wwn(0x11), Wwn(0x12), Wwn(0x21));
    let storages =
        [StorageInput { wwn: s1, edge: e1 }, StorageInput { wwn: s2, edge: e2 }, StorageInput { wwn: t, edge: e3 }];
    let vol = |wwn, lun| VolRef { wwn, lun: Lun(lun) };
    let pairs = [
        PairInput { source: vol(s1, 0), target: vol(t, 0), id: None },
        PairInput { source: vol(s2, 0), target: vol(t, 2), id: None },
        PairInput { source: vol(s1, 1), target: vol(t, 1), id: None },
    ];
    let input = |ids| Input {
        customer: Fig1::CUSTOMER,
        storages: &storages,
        pairs: &pairs,
        ids,
        routes: &[],
        reverse: Reverse::Configured,
    };
    let ids = |m: Manager| m.tables.pairs.iter().map(|p| p.id).collect::<Vec<_>>();
    // per (SS, TS): S1->T gets 1, S2->T gets 2.
    let m = Manager::configure(&input(IdMethod::SameStorages), FaultSet::NONE).unwrap();
    assert_eq!(ids(m), [Id(1), Id(2), Id(1)]);
    // A-2 here gives the same: each storage has its own edge.
    let m = Manager::configure(&input(IdMethod::SameEdges), FaultSet::NONE).unwrap();
    assert_eq!(ids(m), [Id(1), Id(2), Id(1)]);
    // Method B for one pair: its group follows it, and fresh IDs avoid it.
    let pairs_b = [PairInput { id: Some(Id(1)), ..pairs[1] }, pairs[0], pairs[2]];
    let input_b = Input { pairs: &pairs_b, ..input(IdMethod::SameStorages) };
    let m = Manager::configure(&input_b, FaultSet::NONE).unwrap();
    assert_eq!(ids(m), [Id(1), Id(2), Id(2)]);
    // Method B putting both sources' pairs in one ID: two SEs, refused by C1.
    let pairs_bad = [PairInput { id: Some(Id(5)), ..pairs[0] }, PairInput { id: Some(Id(5)), ..pairs[1] }];
    let input_bad = Input { pairs: &pairs_bad, ..input(IdMethod::SameStorages) };
    let Err(ConfigError::C1(v)) = Manager::configure(&input_bad, FaultSet::NONE) else { panic!("C1 must refuse") };
    assert_eq!(v.0, [C1Violation::ManySources { id: Id(5), edges: Edges::from_slice(&[e1, e2]).unwrap() }]);
}

// =============================================================================================
// Next hop against a brute-force reference
// =============================================================================================

/// Random routing information over a small universe: storages 0..3, devices 0..5, routes of
/// 0..=MAX_HOPS devices, repeats allowed.
#[derive(Clone, Debug)]
struct NextCase {
    rows: Vec<(u8, u8, Vec<u8>)>,
    walk_back: bool,
    me: u8,
    source: u8,
    target: u8,
}

impl Arbitrary for NextCase {
    fn arbitrary(g: &mut Gen) -> NextCase {
        let n = below(g, MAX_ROUTES + 1);
        let rows = (0..n)
            .map(|_| {
                let len = below(g, MAX_HOPS + 1);
                (below(g, 3) as u8, below(g, 3) as u8, (0..len).map(|_| below(g, 5) as u8).collect())
            })
            .collect();
        NextCase {
            rows,
            walk_back: bool::arbitrary(g),
            me: below(g, 6) as u8,
            source: below(g, 3) as u8,
            target: below(g, 3) as u8,
        }
    }

    fn shrink(&self) -> Box<dyn Iterator<Item = NextCase>> {
        let base = self.clone();
        Box::new((0..self.rows.len()).map(move |i| {
            let mut c = base.clone();
            c.rows.remove(i);
            c
        }))
    }
}

/// The reference: the path the entry takes (the matching row's route, or the reverse row's
/// reversed), then the device after `me`'s first place on that path.
fn reference_next(c: &NextCase) -> NextHop {
    let forward = c.rows.iter().find(|r| (r.0, r.1) == (c.source, c.target)).map(|r| r.2.clone());
    let backward = || {
        c.rows
            .iter()
            .find(|r| (r.0, r.1) == (c.target, c.source))
            .map(|r| r.2.iter().rev().copied().collect::<Vec<_>>())
    };
    let path = match forward {
        Some(p) => p,
        None if c.walk_back => match backward() {
            Some(p) => p,
            None => return NextHop::NoRoute,
        },
        None => return NextHop::NoRoute,
    };
    for i in 0..path.len() {
        if path[i] == c.me {
            return if i + 1 < path.len() { NextHop::To(Addr(u32::from(path[i + 1]))) } else { NextHop::Here };
        }
    }
    NextHop::NoRoute
}

fn prop_next_matches_reference(c: NextCase) -> TestResult {
    let rows: Vec<RouteRow> = c
        .rows
        .iter()
        .map(|(s, t, hops)| {
            let hops: Vec<Addr> = hops.iter().map(|h| Addr(u32::from(*h))).collect();
            RouteRow { source: Wwn(u64::from(*s)), target: Wwn(u64::from(*t)), route: Route::of(&hops).unwrap() }
        })
        .collect();
    let routing = Routing::new(&rows, c.walk_back).unwrap();
    let got = routing.next(Addr(u32::from(c.me)), Wwn(u64::from(c.source)), Wwn(u64::from(c.target)));
    let want = reference_next(&c);
    ensure!(got == want, "next = {got:?}, reference {want:?}");
    TestResult::passed()
}

#[test]
fn next_hop_matches_reference() {
    quickcheck(prop_next_matches_reference as fn(NextCase) -> TestResult);
}

// =============================================================================================
// C1 against a brute-force reference
// =============================================================================================

/// The reference C1: the checks of the manager's docs, written over maps and sets.
fn reference_c1(t: &Tables, b26: bool) -> BTreeSet<C1Violation> {
    let mut out = BTreeSet::new();
    let mut attached: BTreeMap<Wwn, BTreeSet<Addr>> = BTreeMap::new();
    for s in &t.storage {
        attached.entry(s.wwn).or_default().insert(s.edge);
    }
    let at = |w: Wwn, e: Addr| attached.get(&w).is_some_and(|es| es.contains(&e));
    let edge = |w: Wwn| match attached.get(&w) {
        Some(es) if es.len() == 1 => es.iter().next().copied(),
        _ => None,
    };
    let edges = |es: &BTreeSet<Addr>| Edges::from_iter(es.iter().copied());

    // 1. Attachment.
    let mut named = BTreeSet::new();
    for p in &t.pairs {
        named.insert(p.source.wwn);
        named.insert(p.target.wwn);
    }
    for v in &t.virtual_storage {
        named.insert(v.corresponding_wwn);
    }
    for w in named {
        if !attached.contains_key(&w) {
            out.insert(C1Violation::Unattached { wwn: w });
        }
    }
    for (w, es) in &attached {
        if es.len() > 1 {
            out.insert(C1Violation::AttachedTwice { wwn: *w, edges: edges(es) });
        }
    }

    // 2. One SE and one TE per ID.
    let mut ends: BTreeMap<Id, (BTreeSet<Addr>, BTreeSet<Addr>)> = BTreeMap::new();
    for p in &t.pairs {
        let e = ends.entry(p.id).or_default();
        e.0.extend(edge(p.source.wwn));
        e.1.extend(edge(p.target.wwn));
    }
    for (id, (ses, tes)) in &ends {
        if ses.len() > 1 {
            out.insert(C1Violation::ManySources { id: *id, edges: edges(ses) });
        }
        if tes.len() > 1 {
            out.insert(C1Violation::ManyTargets { id: *id, edges: edges(tes) });
        }
    }

    // 3. One row per storage pair; 4. the paths.
    let mut per_key: BTreeMap<(Wwn, Wwn), usize> = BTreeMap::new();
    for r in &t.routing.rows {
        *per_key.entry((r.source, r.target)).or_default() += 1;
    }
    for ((s, d), n) in per_key {
        if n > 1 {
            out.insert(C1Violation::DuplicateRoute { from: s, to: d });
        }
    }
    for p in &t.pairs {
        let (Some(se), Some(te)) = (edge(p.source.wwn), edge(p.target.wwn)) else { continue };
        for (from, to, a, b) in [(p.source.wwn, p.target.wwn, se, te), (p.target.wwn, p.source.wwn, te, se)] {
            let row = |s: Wwn, d: Wwn| t.routing.rows.iter().find(|r| r.source == s && r.target == d);
            let path: Vec<Addr> = match (row(from, to), t.routing.walk_back, row(to, from)) {
                (Some(r), _, _) => r.route.hops().to_vec(),
                (None, true, Some(r)) => r.route.hops().iter().rev().copied().collect(),
                _ => {
                    out.insert(C1Violation::NoRoute { from, to });
                    continue;
                }
            };
            if path.first() != Some(&a) {
                out.insert(C1Violation::WrongStart { from, to, expected: a, found: path.first().copied() });
            }
            if path.last() != Some(&b) {
                out.insert(C1Violation::WrongEnd { from, to, expected: b, found: path.last().copied() });
            }
            let repeat = (0..path.len()).find_map(|j| (0..j).any(|i| path[i] == path[j]).then_some(path[j]));
            if let (Some(device), false) = (repeat, b26) {
                out.insert(C1Violation::RepeatedDevice { from, to, device });
            }
        }
    }

    // 5. Translation.
    let mut targets: BTreeMap<(Addr, Wwn), BTreeSet<(Wwn, Addr)>> = BTreeMap::new();
    let mut virtuals: BTreeMap<(Addr, Wwn), BTreeSet<Wwn>> = BTreeMap::new();
    for v in &t.virtual_storage {
        targets.entry((v.edge, v.virtual_wwn)).or_default().insert((v.corresponding_wwn, v.corresponding_edge));
        virtuals.entry((v.edge, v.corresponding_wwn)).or_default().insert(v.virtual_wwn);
        if at(v.virtual_wwn, v.edge) {
            out.insert(C1Violation::VirtualShadowsStorage { edge: v.edge, virtual_wwn: v.virtual_wwn });
        }
        if let Some(real) = edge(v.corresponding_wwn) {
            if real != v.corresponding_edge {
                out.insert(C1Violation::WrongCorrespondingEdge {
                    edge: v.edge,
                    virtual_wwn: v.virtual_wwn,
                    storage: v.corresponding_wwn,
                    named: v.corresponding_edge,
                    attached: real,
                });
            }
        }
        let serves = t.pairs.iter().any(|p| {
            (at(p.source.wwn, v.edge) && p.target.wwn == v.corresponding_wwn)
                || (at(p.target.wwn, v.edge) && p.source.wwn == v.corresponding_wwn)
        });
        if !serves {
            out.insert(C1Violation::UnpairedVirtual { edge: v.edge, virtual_wwn: v.virtual_wwn });
        }
    }
    for ((e, v), ts) in &targets {
        if ts.len() > 1 {
            out.insert(C1Violation::VirtualTwice { edge: *e, virtual_wwn: *v });
        }
    }
    for ((e, w), vs) in &virtuals {
        if vs.len() > 1 {
            out.insert(C1Violation::StorageTwice { edge: *e, storage: *w });
        }
    }
    for p in &t.pairs {
        let (Some(se), Some(te)) = (edge(p.source.wwn), edge(p.target.wwn)) else { continue };
        for (e, w) in [(se, p.target.wwn), (te, p.source.wwn)] {
            if !virtuals.contains_key(&(e, w)) {
                out.insert(C1Violation::MissingVirtual { edge: e, storage: w });
            }
        }
    }

    // 6. Access control.
    // The two storages form a pair, in either direction (as sets: {a} only for a pair of a
    // storage with itself).
    let paired =
        |a: Wwn, b: Wwn| t.pairs.iter().any(|p| BTreeSet::from([p.source.wwn, p.target.wwn]) == BTreeSet::from([a, b]));
    for r in &t.access {
        match targets.get(&(r.edge, r.virtual_wwn)) {
            None => {
                out.insert(C1Violation::AccessUnknownVirtual { edge: r.edge, virtual_wwn: r.virtual_wwn });
            }
            Some(behind) => {
                let ok = at(r.permitted, r.edge) && behind.iter().any(|(w, _)| paired(r.permitted, *w));
                if !ok {
                    out.insert(C1Violation::AccessNotPaired {
                        edge: r.edge,
                        virtual_wwn: r.virtual_wwn,
                        permitted: r.permitted,
                    });
                }
            }
        }
    }
    out
}

/// Tables over a small universe: edges 1..=3, cores 11..=12, storages 0x100..=0x103, IDs 1..=2.
#[derive(Clone, Debug)]
struct TablesCase {
    tables: Tables,
}

const EDGES: [Addr; 3] = [Addr(1), Addr(2), Addr(3)];
const CORES: [Addr; 2] = [Addr(11), Addr(12)];
const STORAGES: [Wwn; 4] = [Wwn(0x100), Wwn(0x101), Wwn(0x102), Wwn(0x103)];

fn any_edge(g: &mut Gen) -> Addr {
    *g.choose(&EDGES).unwrap()
}

fn any_device(g: &mut Gen) -> Addr {
    if below(g, 3) == 0 {
        *g.choose(&CORES).unwrap()
    } else {
        any_edge(g)
    }
}

fn any_storage(g: &mut Gen) -> Wwn {
    *g.choose(&STORAGES).unwrap()
}

fn any_vol(g: &mut Gen) -> VolRef {
    VolRef { wwn: any_storage(g), lun: Lun(below(g, 2) as u16) }
}

fn any_route(g: &mut Gen, max: usize) -> Route {
    let hops: Vec<Addr> = (0..below(g, max + 1)).map(|_| any_device(g)).collect();
    Route::of(&hops).unwrap()
}

/// A route the customer gives: through cores, or whole (`whole`).
#[derive(Clone, Debug)]
struct GivenRoute {
    source: Wwn,
    target: Wwn,
    hops: Vec<Addr>,
    whole: bool,
}

/// An [`Input`] that owns its parts.
#[derive(Clone, Debug)]
struct InputParts {
    storages: Vec<StorageInput>,
    pairs: Vec<PairInput>,
    routes: Vec<GivenRoute>,
    ids: IdMethod,
    reverse: Reverse,
}

/// A random input for `configure`: 2..=4 storages on random edges, 1..=4 pairs, some with an
/// ID, some routes through cores (or whole routes, sometimes with a repeat).
fn any_input_parts(g: &mut Gen) -> InputParts {
    let n = 2 + below(g, 3);
    let storages: Vec<StorageInput> =
        STORAGES[..n].iter().map(|&wwn| StorageInput { wwn, edge: any_edge(g) }).collect();
    let mut pairs: Vec<PairInput> = Vec::new();
    for _ in 0..1 + below(g, 4) {
        let s = storages[below(g, n)].wwn;
        let t = storages[below(g, n)].wwn;
        let p = PairInput {
            source: VolRef { wwn: s, lun: Lun(below(g, 2) as u16) },
            target: VolRef { wwn: t, lun: Lun(below(g, 2) as u16) },
            id: if below(g, 3) == 0 { Some(Id(1 + below(g, 2) as u16)) } else { None },
        };
        if !pairs.iter().any(|q| (q.source, q.target) == (p.source, p.target)) {
            pairs.push(p);
        }
    }
    let mut routes: Vec<GivenRoute> = Vec::new();
    for p in &pairs {
        for (source, target) in [(p.source.wwn, p.target.wwn), (p.target.wwn, p.source.wwn)] {
            if below(g, 3) == 0 && !routes.iter().any(|r| (r.source, r.target) == (source, target)) {
                let whole = below(g, 4) == 0;
                let hops: Vec<Addr> = if whole {
                    (0..below(g, 6)).map(|_| any_device(g)).collect()
                } else {
                    let mut c = CORES.to_vec();
                    c.truncate(below(g, 3));
                    if bool::arbitrary(g) {
                        c.reverse();
                    }
                    c
                };
                routes.push(GivenRoute { source, target, hops, whole });
            }
        }
    }
    let ids = if bool::arbitrary(g) { IdMethod::SameStorages } else { IdMethod::SameEdges };
    let reverse = if bool::arbitrary(g) { Reverse::Configured } else { Reverse::WalkBack };
    InputParts { storages, pairs, routes, ids, reverse }
}

fn configure_parts(parts: &InputParts, faults: FaultSet) -> Result<Manager, ConfigError> {
    let routes: Vec<RouteInput<'_>> = parts
        .routes
        .iter()
        .map(|r| RouteInput {
            source: r.source,
            target: r.target,
            via: if r.whole { Via::Route(&r.hops) } else { Via::Cores(&r.hops) },
        })
        .collect();
    let input = Input {
        customer: Fig1::CUSTOMER,
        storages: &parts.storages,
        pairs: &parts.pairs,
        ids: parts.ids,
        routes: &routes,
        reverse: parts.reverse,
    };
    Manager::configure(&input, faults)
}

/// Change one thing in `t`, keeping every table within its capacity.
fn mutate(g: &mut Gen, t: &mut Tables) {
    match below(g, 10) {
        0 if !t.storage.is_empty() => {
            let i = below(g, t.storage.len());
            t.storage[i].edge = any_edge(g);
        }
        1 if !t.storage.is_full() => {
            let _ = t.storage.push(StorageRow { edge: any_edge(g), customer: Fig1::CUSTOMER, wwn: any_storage(g) });
        }
        2 if !t.pairs.is_empty() => {
            let i = below(g, t.pairs.len());
            if bool::arbitrary(g) {
                t.pairs[i].id = Id(1 + below(g, 3) as u16);
            } else {
                t.pairs[i].target = any_vol(g);
            }
        }
        3 if !t.routing.rows.is_empty() => {
            let i = below(g, t.routing.rows.len());
            let route = &mut t.routing.rows[i].route;
            // Repeat a device, reverse, or replace.
            match below(g, 3) {
                0 if !route.0.is_empty() && !route.0.is_full() => {
                    let j = below(g, route.0.len());
                    let k = 1 + below(g, route.0.len());
                    let _ = route.0.insert(k.min(route.0.len()), route.0[j]);
                }
                1 => route.0.reverse(),
                _ => *route = any_route(g, 5),
            }
        }
        4 if !t.routing.rows.is_empty() => {
            let i = below(g, t.routing.rows.len());
            t.routing.rows.remove(i);
        }
        5 => t.routing.walk_back = !t.routing.walk_back,
        6 if !t.routing.rows.is_empty() && !t.routing.rows.is_full() => {
            let mut r = t.routing.rows[below(g, t.routing.rows.len())].clone();
            r.route = any_route(g, 4);
            let _ = t.routing.rows.push(r);
        }
        7 if !t.virtual_storage.is_empty() => {
            let i = below(g, t.virtual_storage.len());
            match below(g, 3) {
                0 => t.virtual_storage[i].virtual_wwn = any_storage(g),
                1 => t.virtual_storage[i].corresponding_edge = any_edge(g),
                _ => {
                    t.virtual_storage.remove(i);
                }
            }
        }
        8 if !t.access.is_empty() => {
            let i = below(g, t.access.len());
            match below(g, 3) {
                0 => t.access[i].permitted = any_storage(g),
                1 => t.access[i].virtual_wwn = any_storage(g),
                _ => {
                    t.access.remove(i);
                }
            }
        }
        _ if !t.access.is_full() => {
            let _ =
                t.access.push(AccessRow { edge: any_edge(g), virtual_wwn: any_storage(g), permitted: any_storage(g) });
        }
        _ => {}
    }
}

/// Fully random tables (mostly invalid).
fn random_tables(g: &mut Gen) -> Tables {
    let mut t = Tables::default();
    for _ in 0..below(g, 6).min(MAX_STORAGES) {
        let _ = t.storage.push(StorageRow { edge: any_edge(g), customer: Fig1::CUSTOMER, wwn: any_storage(g) });
    }
    for _ in 0..below(g, 6).min(MAX_VIRTUAL) {
        let _ = t.virtual_storage.push(VirtualRow {
            edge: any_edge(g),
            virtual_wwn: any_storage(g),
            corresponding_edge: any_edge(g),
            corresponding_wwn: any_storage(g),
        });
    }
    for _ in 0..below(g, 5).min(MAX_ACCESS) {
        let _ = t.access.push(AccessRow { edge: any_edge(g), virtual_wwn: any_storage(g), permitted: any_storage(g) });
    }
    for _ in 0..below(g, 5).min(MAX_PAIRS) {
        let _ = t.pairs.push(PairRow {
            source: any_vol(g),
            target: any_vol(g),
            state: PairState::Simplex,
            id: Id(1 + below(g, 2) as u16),
            bitmap: Bitmap::EMPTY,
        });
    }
    for _ in 0..below(g, 6).min(MAX_ROUTES) {
        let _ =
            t.routing.rows.push(RouteRow { source: any_storage(g), target: any_storage(g), route: any_route(g, 5) });
    }
    t.routing.walk_back = bool::arbitrary(g);
    t
}

impl Arbitrary for TablesCase {
    fn arbitrary(g: &mut Gen) -> TablesCase {
        // Half the cases are configured tables with 0..=2 changes: near-valid, few violations.
        if bool::arbitrary(g) {
            // Random inputs often fail C1 (two storages on one edge, method B splitting an
            // ID): try a few.
            for _ in 0..8 {
                if let Ok(m) = configure_parts(&any_input_parts(g), FaultSet::NONE) {
                    let mut tables = m.tables;
                    for _ in 0..below(g, 3) {
                        mutate(g, &mut tables);
                    }
                    return TablesCase { tables };
                }
            }
        }
        TablesCase { tables: random_tables(g) }
    }
}

fn c1_matches_reference(t: &Tables, faults: FaultSet, b26: bool) -> TestResult {
    let got = check_c1(t, faults);
    let want = reference_c1(t, b26);
    match got {
        Ok(()) => ensure!(want.is_empty(), "C1 passed; the reference finds {want:?}"),
        Err(v) => {
            ensure!(!v.is_empty(), "an empty list of violations");
            let set: BTreeSet<C1Violation> = v.iter().cloned().collect();
            ensure!(set.len() == v.len(), "a violation reported twice: {v:?}");
            ensure!(set == want, "C1 found {set:?}\nthe reference {want:?}");
            ensure!(v.iter().all(|x| !x.to_string().is_empty()), "an empty message");
        }
    }
    TestResult::passed()
}

fn prop_c1_matches_reference(c: TablesCase) -> TestResult {
    c1_matches_reference(&c.tables, FaultSet::NONE, false)
}

#[test]
fn c1_matches_reference_on_random_tables() {
    quickcheck(prop_c1_matches_reference as fn(TablesCase) -> TestResult);
}

/// The generator reaches both verdicts, and the interesting violations, often enough.
#[test]
fn c1_generator_covers_both_verdicts() {
    let mut g = Gen::new(100);
    let (mut pass, mut repeats, mut splits) = (0, 0, 0);
    for _ in 0..2000 {
        let t = TablesCase::arbitrary(&mut g).tables;
        match check_c1(&t, FaultSet::NONE) {
            Ok(()) => pass += 1,
            Err(v) => {
                repeats += v.iter().any(|x| matches!(x, C1Violation::RepeatedDevice { .. })) as u32;
                splits +=
                    v.iter().any(|x| matches!(x, C1Violation::ManySources { .. } | C1Violation::ManyTargets { .. }))
                        as u32;
            }
        }
    }
    assert!(pass >= 150 && repeats >= 15 && splits >= 20, "pass {pass}, repeats {repeats}, splits {splits}");
}

/// What C1 is for: in tables that pass it, every pair's entries reach TE and its answers reach
/// SE, each device once (S15), and every device's partial copy gives the hop the whole 408
/// gives.
fn prop_c1_means_delivery(c: TablesCase) -> TestResult {
    let t = &c.tables;
    if check_c1(t, FaultSet::NONE).is_err() {
        return TestResult::discard();
    }
    for p in &t.pairs {
        let (se, te) = (t.source_edge(p).unwrap(), t.target_edge(p).unwrap());
        for (start, end, from, to) in [(se, te, p.source.wwn, p.target.wwn), (te, se, p.target.wwn, p.source.wwn)] {
            let (visits, how) = walk(t, start, from, to);
            ensure!(how == End::Arrived(end), "{from:?} -> {to:?} from {start:?}: {visits:?} {how:?}");
            for w in visits.windows(2) {
                ensure!(t.routing.next(w[0], from, to) == NextHop::To(w[1]), "a copy disagrees with 408 at {:?}", w[0]);
            }
        }
    }
    TestResult::passed()
}

#[test]
fn c1_means_delivery() {
    quickcheck(prop_c1_means_delivery as fn(TablesCase) -> TestResult);
}

/// A configured input either passes C1 or is refused with C1's own list.
fn prop_configure_is_c1_checked(seed: u64) -> TestResult {
    let mut g = Gen::new(50 + (seed % 50) as usize);
    let parts = any_input_parts(&mut g);
    match configure_parts(&parts, FaultSet::NONE) {
        Ok(m) => {
            ensure!(check_c1(&m.tables, FaultSet::NONE).is_ok(), "configured tables fail C1");
            ensure!(m.tables.pairs.len() == parts.pairs.len(), "one 411 row per pair");
            for (row, input) in m.tables.pairs.iter().zip(&parts.pairs) {
                ensure!(input.id.is_none_or(|id| id == row.id), "method B ID not kept");
                ensure!(row.state == PairState::Simplex && row.bitmap.is_empty(), "a fresh row");
            }
        }
        Err(ConfigError::C1(v)) => ensure!(!v.0.is_empty(), "an empty C1 refusal"),
        Err(e) => return TestResult::error(format!("refused for {e}")),
    }
    TestResult::passed()
}

#[test]
fn configure_is_c1_checked() {
    quickcheck(prop_configure_is_c1_checked as fn(u64) -> TestResult);
}

// =============================================================================================
// B26: a route that repeats a device
// =============================================================================================

/// A second core, C2 (10.0.2.3), next to Fig. 1's core 202 (C1).
const C2: Addr = Addr(u32::from_be_bytes([10, 0, 2, 3]));

/// Fig. 1 with the route [SE, C1, C2, C1, TE].
fn looping() -> Tables {
    let mut t = fig1();
    t.routing.rows[0].route = Route::of(&[Fig1::SE, Fig1::CORE, C2, Fig1::CORE, Fig1::TE]).unwrap();
    t
}

#[test]
fn c1_refuses_the_looping_route() {
    assert_eq!(
        check_c1(&looping(), FaultSet::NONE),
        Err(vec![
            C1Violation::RepeatedDevice { from: Fig1::SS, to: Fig1::TS, device: Fig1::CORE },
            C1Violation::RepeatedDevice { from: Fig1::TS, to: Fig1::SS, device: Fig1::CORE },
        ])
    );
    let hops = [Fig1::SE, Fig1::CORE, C2, Fig1::CORE, Fig1::TE];
    let routes = [RouteInput { source: Fig1::SS, target: Fig1::TS, via: Via::Route(&hops) }];
    let input = Input { routes: &routes, ..Fig1::input(Reverse::WalkBack) };
    assert!(matches!(Manager::configure(&input, FaultSet::NONE), Err(ConfigError::C1(_))));
}

#[cfg(feature = "faults")]
fn b26() -> FaultSet {
    FaultSet::NONE.with(rcopy::relay::Fault::B26 as u32).expect("built with feature faults")
}

#[cfg(feature = "faults")]
#[test]
fn b26_admits_the_looping_route_and_the_walk_loops() {
    let t = looping();
    assert_eq!(check_c1(&t, b26()), Ok(()));
    let hops = [Fig1::SE, Fig1::CORE, C2, Fig1::CORE, Fig1::TE];
    let routes = [RouteInput { source: Fig1::SS, target: Fig1::TS, via: Via::Route(&hops) }];
    let input = Input { routes: &routes, ..Fig1::input(Reverse::WalkBack) };
    let m = Manager::configure(&input, b26()).expect("B26 lets it through");
    assert_eq!(m.tables, t);

    // 1905 from SE: "the address after my own" at C1 is always C2, at C2 always C1: the entry
    // goes SE, C1, C2, C1, ... and never reaches TE.
    let (visits, how) = walk(&t, Fig1::SE, Fig1::SS, Fig1::TS);
    assert_eq!(visits, [Fig1::SE, Fig1::CORE, C2, Fig1::CORE]);
    assert_eq!(how, End::Revisited(Fig1::CORE));
    // Walked back for LE(WROK): TE, C1 (before TE), C2 (before C1's last place), C1, ...
    let (visits, how) = walk(&t, Fig1::TE, Fig1::TS, Fig1::SS);
    assert_eq!(visits, [Fig1::TE, Fig1::CORE, C2, Fig1::CORE]);
    assert_eq!(how, End::Revisited(Fig1::CORE));
}

#[cfg(feature = "faults")]
fn prop_c1_with_b26_matches_reference(c: TablesCase) -> TestResult {
    c1_matches_reference(&c.tables, b26(), true)
}

#[cfg(feature = "faults")]
#[test]
fn c1_with_b26_matches_reference_on_random_tables() {
    quickcheck(prop_c1_with_b26_matches_reference as fn(TablesCase) -> TestResult);
}

// =============================================================================================
// Item (C): entries remaining
// =============================================================================================

fn se(cc: u32, dc: u32, held: u32) -> IdReport {
    IdReport { edge: Fig1::SE, id: Fig1::ID, holds: Holds::Source { cc: Seq(cc), dc: Seq(dc), held } }
}

fn te(stored: u32) -> IdReport {
    IdReport { edge: Fig1::TE, id: Fig1::ID, holds: Holds::Target { stored } }
}

#[test]
fn entries_remain_from_reports() {
    // Fresh (CC and DC from one base) or drained: nothing remains.
    assert!(!entries_remain(&[se(1, 1, 0), te(0)]));
    assert!(!entries_remain(&[se(4, 4, 0), te(0)]));
    // SE holds seq 2 and 3 (the worked example of note 9, after WROK(1)).
    assert!(entries_remain(&[se(4, 2, 2), te(1)]));
    // TE stores an orphan (a duplicate of a reflected seq): SE says nothing remains, TE does.
    assert!(entries_remain(&[se(4, 4, 0), te(1)]));
    // B21: a duplicate WROK bumped DC while seq 2 is still held. CC - DC says none, the held
    // count says one: the report is incoherent and counts as remaining.
    let drifted = se(3, 3, 1);
    assert!(!drifted.coherent());
    assert!(entries_remain(&[drifted, te(0)]));
    // DC past CC (wrapping): shown as remaining.
    assert!(entries_remain(&[se(3, 4, 0)]));
    // What the function cannot see (S9): an SE that lost track of an entry (DC drifted and the
    // log lies) while the entry sits in a core's buffer. The answer is "none remain".
    assert!(!entries_remain(&[se(3, 3, 0), te(0)]));
    assert!(!entries_remain(&[]));
}

#[test]
fn tables_need_every_report() {
    let t = fig1();
    assert!(!t.entries_remain(&[se(1, 1, 0), te(0)]));
    // A missing TE report: entries may remain.
    assert!(t.entries_remain(&[se(1, 1, 0)]));
    // A report from the wrong edge does not count.
    let stranger = IdReport { edge: Fig1::CORE, ..te(0) };
    assert!(t.entries_remain(&[se(1, 1, 0), stranger]));
    // A report for another ID does not count.
    let other_id = IdReport { id: Id(9), ..te(0) };
    assert!(t.entries_remain(&[se(1, 1, 0), other_id]));
}
