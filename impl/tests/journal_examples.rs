//! The worked examples of seed 003 (note `shared/protocols/seed-003.md`, sections 2.4,
//! 4.2-4.7 and 6), run by hand through the sans-IO roles of `rcopy::journal`.
//!
//! The test itself plays the runtime and the intermediate storage I (104c): a ring of Q units
//! (`Vec<UnitTag>`, the remote-copy queue area 114) and the two control info records, 631
//! (area 301, written by P) and 632 (area 302, written by S). It writes exactly what a role asks
//! to write and hands a role exactly what it would read: a journal's units at `pos % Q` (M3),
//! 631 after [`Primary::control`] publishes it (M4), 632 after [`Secondary::applied`] or S's
//! heartbeat timer (M8); [`Secondary::poll`] is given 631 as stored (M6) and
//! [`Primary::control`] 632 as stored (M5).
//!
//! Conventions of this file:
//! - Positions are logical units from 0; ids from 1; "Data k" is the k-th journal of a test,
//!   request id k. Time stamps are P's clock, 10 per host write (Data k is stamped 10k).
//! - Unless said otherwise the geometry is header 0 / trailer 0 (the model's units: every unit
//!   carries the header's fields in its protection data), so a one-block Data k occupies exactly
//!   unit k-1. Tests 2 and 3 also use header 1 / trailer 1.
//! - Bitmaps use one block per region, so bit b is block b.

use rcopy::fault::FaultSet;
use rcopy::journal::*;

const NONE: FaultSet = FaultSet::NONE;
const VARIANTS: [Variant; 2] = [Variant::Faithful, Variant::Hardened];

type P = Primary<8, 16>;

// =============================================================================================
// The intermediate I and a hand-driven runtime
// =============================================================================================

/// I (104c): an ordinary block store. Nothing here runs any protocol logic.
struct Intermediate {
    /// Queue area 114, one tag per physical unit. Starts zeroed (no intact unit).
    ring: Vec<UnitTag>,
    /// Primary control info area 301 (owned by P).
    c631: Option<ControlInfo>,
    /// Secondary control info area 302 (owned by S).
    c632: Option<ControlInfo>,
}

impl Intermediate {
    fn new(q: u32) -> Self {
        Intermediate { ring: vec![UnitTag::default(); q as usize], c631: None, c632: None }
    }

    fn q(&self) -> u32 {
        self.ring.len() as u32
    }

    /// The physical unit of a logical position (note 2.4: `pos mod Q`).
    fn slot(&self, pos: Pos) -> usize {
        pos.slot(self.q()) as usize
    }

    /// M3 (907): the first `count` units of journal `r`, each at `pos % Q` (so a journal that
    /// crosses the end continues at the start of the area). `count < r.units` is a torn write:
    /// the other units keep whatever an earlier lap left there.
    fn write_journal(&mut self, r: &Reserved, count: u32) {
        for s in 0..count.min(r.units) {
            let at = self.slot(Pos(r.pos.0 + s));
            self.ring[at] = UnitTag { meta: r.meta, serial: s as u16, intact: true };
        }
    }

    /// M7: units `[from, from + units)`, read as the concatenation across the physical end.
    fn read(&self, from: Pos, units: u32) -> Vec<UnitTag> {
        (0..units).map(|i| self.ring[self.slot(Pos(from.0 + i))]).collect()
    }
}

/// P, S and I, with the runtime's glue between them.
struct World {
    geometry: Geometry,
    p: P,
    s: Secondary,
    i: Intermediate,
    /// Every block S's runtime copied to the secondary volume, in order (volume 0).
    applied: Vec<u32>,
    /// P's clock.
    clock: u32,
}

struct Setup {
    variant: Variant,
    q: u32,
    header: u16,
    trailer: u16,
    buffer: u32,
    threshold: u8,
    full: FullPolicy,
}

impl Setup {
    /// Header 0 / trailer 0, a large fetch buffer, threshold 3, BUSY on a full ring.
    fn plain(variant: Variant, q: u32) -> Setup {
        Setup { variant, q, header: 0, trailer: 0, buffer: 64, threshold: 3, full: FullPolicy::Busy }
    }
}

impl World {
    fn new(c: Setup) -> World {
        let geometry = Geometry { queue_units: c.q, header_units: c.header, trailer_units: c.trailer };
        let pc = PrimaryConfig {
            geometry,
            region_blocks: 1,
            threshold: c.threshold,
            heartbeat_modulus: u32::MAX,
            full: c.full,
        };
        let sc = SecondaryConfig {
            geometry,
            buffer_units: c.buffer,
            threshold: c.threshold,
            heartbeat_modulus: u32::MAX,
            region_blocks: 1,
        };
        World {
            geometry,
            p: Primary::new(pc, c.variant, NONE, Pos(0), ReqId(1)),
            s: Secondary::new(sc, c.variant, NONE, 0, Pos(0), ReqId(1)),
            i: Intermediate::new(c.q),
            applied: Vec::new(),
            clock: 0,
        }
    }

    /// Fig. 9 (901-908) for a replicated write of `blocks` blocks at `addr`: P must answer with
    /// a journal to write.
    fn reserve(&mut self, addr: u32, blocks: u16) -> Reserved {
        self.clock += 10;
        match self.p.host_write(0, addr, blocks, true, Ts(self.clock)) {
            Ok(Written::Journal(r)) => r,
            other => panic!("expected a journal for a write at {addr}, got {other:?}"),
        }
    }

    /// A host write journaled in full: 907 writes every unit to I, I answers GOOD, and P
    /// completes exactly this host write (909).
    fn write(&mut self, addr: u32, blocks: u16) -> Reserved {
        let r = self.reserve(addr, blocks);
        self.i.write_journal(&r, r.units);
        assert_eq!(self.p.journal_written(r.meta.id), Some(Acks { from: r.meta.id, to: r.meta.id }));
        r
    }

    /// Fig. 10, one round: read 632 (1001), and write 631 if P publishes (1003).
    fn p_round(&mut self) -> ControlStep {
        let step = self.p.control(self.i.c632);
        if let ControlStep::Publish(ci) = step {
            self.i.c631 = Some(ci);
        }
        step
    }

    /// S's heartbeat timer: write the record it gives as 632.
    fn s_heartbeat(&mut self) -> ControlInfo {
        let r = self.s.heartbeat();
        self.i.c632 = Some(r);
        r
    }

    /// Fig. 12, 1201-1203: S reads 631.
    fn s_poll(&mut self) -> Poll {
        self.s.poll(self.i.c631)
    }

    /// 1204-1205 (or 1304-1307 in a drain): read `[from, from + units)` from I, hand it to S
    /// and copy every unit S names to the volume. Returns (units taken, blocks copied). Each copy
    /// is checked against the unit it comes from: the unit must be a data unit of a journal
    /// whose block at that serial is the block S names.
    fn s_read(&mut self, from: Pos, units: u32) -> (u32, Vec<u32>) {
        let tags = self.i.read(from, units);
        let mut todo = Vec::new();
        let f = self.s.fetched(from, &tags, |a| todo.push(a)).expect("a read at S's head");
        assert_eq!(f.publish_early, None, "no fault: nothing is published before it is applied");
        let header = u32::from(self.geometry.header_units);
        let mut copied = Vec::new();
        for a in todo {
            let t = tags[a.index as usize];
            let serial = u32::from(t.serial);
            assert!(t.intact, "S applies only intact units: {a:?} {t:?}");
            assert_eq!(t.meta.volume, a.volume);
            assert!(serial >= header && serial < header + u32::from(t.meta.blocks), "not a data unit: {a:?} {t:?}");
            assert_eq!(t.meta.addr + (serial - header), a.addr, "the unit holds another block");
            copied.push(a.addr);
        }
        self.applied.extend(&copied);
        (f.taken, copied)
    }

    /// 1206-1207: the copies are durable; S moves its head and the record is written as 632.
    fn s_applied(&mut self) -> ControlInfo {
        let r = self.s.applied().expect("something was fetched");
        self.i.c632 = Some(r);
        r
    }

    /// Both timers fire (S's heartbeat, then P's Fig. 10 round), so neither side's detector sees
    /// a silent peer; P must publish.
    fn tick(&mut self) -> ControlInfo {
        self.s_heartbeat();
        match self.p_round() {
            ControlStep::Publish(ci) => ci,
            other => panic!("P should publish, got {other:?}"),
        }
    }
}

fn ci(owner: Owner, head: u32, size: u32, heartbeat: u32) -> ControlInfo {
    ControlInfo { owner, head: Pos(head), size, heartbeat }
}

fn p_ci(head: u32, size: u32, heartbeat: u32) -> ControlInfo {
    ci(Owner::Primary, head, size, heartbeat)
}

fn s_ci(head: u32, size: u32, heartbeat: u32) -> ControlInfo {
    ci(Owner::Secondary(0), head, size, heartbeat)
}

/// The ids of P's update info 108, in order.
fn update_ids(p: &P) -> Vec<u32> {
    p.updates.iter().map(|u| u.meta.id.0).collect()
}

/// A bitmap of exactly these blocks (one block per region).
fn bits(blocks: &[u32]) -> u64 {
    blocks.iter().fold(0, |b, &x| b | (1u64 << x))
}

/// The end (first unit after) of a journal.
fn end(r: &Reserved) -> Pos {
    Pos(r.pos.0 + r.units)
}

// =============================================================================================
// 1. The worked example of Fig. 6 ([0070]-[0085], note 4.5)
// =============================================================================================

/// Block addresses of Data1..Data6 in the Fig. 6 tests: Data k writes block 4k.
fn fig6_addr(k: u32) -> u32 {
    4 * k
}

/// Reaches the state of Fig. 6 by a legal interleaving (Q = 8, header 0 / trailer 0, one block
/// per journal, so Data k occupies unit k-1):
///
/// | view | head | covers |
/// |---|---|---|
/// | 631 on I (P, earlier) | Data1 = 0 | Data1..Data4 = [0, 4) |
/// | 632 on I (S)          | Data3 = 2 | Data3 = [2, 3) |
/// | 107a in P             | 626 = 0   | 628 = 6 (after Data6) |
/// | 107b in S             | 629 = 2   | 630 = 1 (Data3) |
///
/// S learns of Data3 from a 631 it reads while its fetch of Data1-Data2 is still being applied
/// (so it does not fetch Data3 yet), and P publishes Data4 from a 632 written before S confirmed
/// Data1-Data2. Returns the world and Data1..Data6.
fn fig6_state(variant: Variant) -> (World, Vec<Reserved>) {
    let mut w = World::new(Setup::plain(variant, 8));
    let mut d = Vec::new();
    // S's heartbeat timer writes its first 632: nothing processed, nothing known.
    assert_eq!(w.s_heartbeat(), s_ci(0, 0, 1));
    d.push(w.write(fig6_addr(1), 1));
    d.push(w.write(fig6_addr(2), 1));
    // 1001-1003: P publishes 631 = (Data1, Data1..Data2).
    assert_eq!(w.p_round(), ControlStep::Publish(p_ci(0, 2, 1)));
    // 1201-1205: S fetches Data1-Data2 and copies them; not yet confirmed (1206 not run).
    assert_eq!(w.s_poll(), Poll::Fetch { from: Pos(0), units: 2 });
    assert_eq!(w.s_read(Pos(0), 2), (2, vec![fig6_addr(1), fig6_addr(2)]));
    d.push(w.write(fig6_addr(3), 1));
    // S's timer: its head is still Data1; it knows [0, 2).
    assert_eq!(w.s_heartbeat(), s_ci(0, 2, 2));
    assert_eq!(w.p_round(), ControlStep::Publish(p_ci(0, 3, 2)));
    // S reads 631 = (Data1, Data1..Data3) while still applying: it learns of Data3 only.
    assert_eq!(w.s_poll(), Poll::Idle);
    assert_eq!(w.s.end, Pos(3));
    d.push(w.write(fig6_addr(4), 1));
    assert_eq!(w.s_heartbeat(), s_ci(0, 3, 3));
    // P publishes 631 = (Data1, Data1..Data4): its head is still Data1 (632 said so).
    assert_eq!(w.p_round(), ControlStep::Publish(p_ci(0, 4, 3)));
    // 1206-1207: S confirms Data1-Data2 in 632 = (Data3, Data3).
    assert_eq!(w.s_applied(), s_ci(2, 1, 3));
    // Data5 and Data6 are written after P last published 631 ([0073]).
    d.push(w.write(fig6_addr(5), 1));
    d.push(w.write(fig6_addr(6), 1));
    for (k, r) in d.iter().enumerate() {
        assert_eq!((r.pos, r.units, r.meta.id), (Pos(k as u32), 1, ReqId(k as u32 + 1)), "Data{} is unit {k}", k + 1);
    }
    (w, d)
}

/// The four views of Fig. 6 ([0070]-[0075]) and P's round of 1001-1004 ([0076]-[0081]).
#[test]
fn fig6_four_views_and_p_round() {
    for variant in VARIANTS {
        let (mut w, d) = fig6_state(variant);
        // 631 on I: head 619 = Data1, size 620 covering Data1..Data4.
        let c631 = w.i.c631.unwrap();
        assert_eq!(c631.head, d[0].pos);
        assert_eq!(c631.end(), end(&d[3]));
        assert_eq!(c631, p_ci(0, 4, 3));
        // 632 on I: head = Data3, size covering Data3.
        let c632 = w.i.c632.unwrap();
        assert_eq!((c632.head, c632.end()), (d[2].pos, end(&d[2])));
        // 107a: 626 = Data1, 628 = after Data6, 627 = Data1..Data6.
        assert_eq!((w.p.head, w.p.next, w.p.size()), (d[0].pos, end(&d[5]), 6));
        assert_eq!(w.p.done, Pos(6), "every journal is complete");
        assert_eq!(update_ids(&w.p), [1, 2, 3, 4, 5, 6]);
        // 107b: 629 = Data3, 630 = Data3.
        assert_eq!((w.s.head, w.s.end.since(w.s.head)), (d[2].pos, 1));
        assert_eq!(w.s.last.id, ReqId(2));
        assert_eq!(w.applied, [fig6_addr(1), fig6_addr(2)]);

        // P runs 1001-1004. One unchanged heartbeat reading is not a failure (1002).
        let step = w.p_round();
        assert_eq!(w.p.detectors[0].unchanged, 1);
        // 1003: 626 := 632's head = Data3; 627 = Data3..Data6; 631 = (Data3, Data3..Data6).
        assert_eq!(step, ControlStep::Publish(p_ci(2, 4, 4)));
        assert_eq!(w.i.c631, Some(p_ci(2, 4, 4)));
        assert_eq!((w.p.head, w.p.next, w.p.size()), (d[2].pos, end(&d[5]), 4));
        // 1004: update info 108 of Data1 and Data2 dropped, Data3..Data6 kept.
        assert_eq!(update_ids(&w.p), [3, 4, 5, 6]);
        assert_eq!(w.p.updates.iter().map(|u| u.meta.addr).collect::<Vec<_>>(), [12, 16, 20, 24]);
    }
}

/// The note's order ([0073]-[0084]): S reads the *old* 631 (Data1..Data4) before P's round, so
/// it learns of Data4 but not of Data5/Data6; it fetches and applies Data3-Data4 and publishes
/// 632 = (after Data4, 0). Only after P's next 631 does it take Data5-Data6.
#[test]
fn fig6_s_reads_the_old_631() {
    for variant in VARIANTS {
        let (mut w, d) = fig6_state(variant);
        // 1201-1204 on the old 631.
        assert_eq!(w.s_poll(), Poll::Fetch { from: d[2].pos, units: 2 });
        assert_eq!(w.s.end, end(&d[3]), "S knows of Data4, not of Data5/Data6");
        // P's round meanwhile (reads 632 = Data3).
        assert_eq!(w.p_round(), ControlStep::Publish(p_ci(2, 4, 4)));
        // 1204-1207: Data3 and Data4 applied; 629 = 619 = after Data4, 630 = 620 = 0 ([0084]).
        assert_eq!(w.s_read(Pos(2), 2), (2, vec![fig6_addr(3), fig6_addr(4)]));
        assert_eq!(w.s_applied(), s_ci(4, 0, 3));
        assert_eq!((w.s.head, w.s.end), (end(&d[3]), end(&d[3])));
        assert_eq!(w.s.last.id, ReqId(4));
        // S's next round reads the new 631 (Data3..Data6) and takes Data5-Data6.
        assert_eq!(w.s_heartbeat(), s_ci(4, 0, 4));
        assert_eq!(w.s_poll(), Poll::Fetch { from: Pos(4), units: 2 });
        assert_eq!(w.s_read(Pos(4), 2), (2, vec![fig6_addr(5), fig6_addr(6)]));
        assert_eq!(w.s_applied(), s_ci(6, 0, 4));
        assert_eq!(w.applied, (1..=6).map(fig6_addr).collect::<Vec<_>>());
        // P's next round frees the whole ring and forgets all update info.
        assert_eq!(w.p_round(), ControlStep::Publish(p_ci(6, 0, 5)));
        assert_eq!((w.p.head, w.p.size(), w.p.free()), (Pos(6), 0, 8));
        assert!(w.p.updates.is_empty());
    }
}

/// The other order: P's round (631 = Data3..Data6) lands before S's read, so S takes Data3..Data6
/// in one fetch and publishes 632 = (after Data6, 0).
#[test]
fn fig6_s_reads_the_new_631() {
    for variant in VARIANTS {
        let (mut w, d) = fig6_state(variant);
        assert_eq!(w.p_round(), ControlStep::Publish(p_ci(2, 4, 4)));
        assert_eq!(w.s_poll(), Poll::Fetch { from: d[2].pos, units: 4 });
        assert_eq!(w.s.end, end(&d[5]));
        let (taken, copied) = w.s_read(Pos(2), 4);
        assert_eq!((taken, copied), (4, (3..=6).map(fig6_addr).collect::<Vec<_>>()));
        assert_eq!(w.s_applied(), s_ci(6, 0, 3));
        assert_eq!((w.s.head, w.s.end, w.s.last.id), (end(&d[5]), end(&d[5]), ReqId(6)));
        assert_eq!(w.applied, (1..=6).map(fig6_addr).collect::<Vec<_>>());
    }
}

/// "S busy" ([0085]): S reads the old 631 but does not fetch; its heartbeat timer publishes
/// 632 = (Data3, Data3+Data4): it admits knowing Data3-Data4 without claiming them. P's head
/// stays Data3, and S still fetches from Data3 later (L2: the busy path does fetch eventually).
/// Supported by the roles: `poll` keeps no record of an unanswered `Fetch`, and `heartbeat`
/// publishes (head, end - head).
#[test]
fn fig6_s_busy_publishes_only_its_control_info() {
    for variant in VARIANTS {
        let (mut w, d) = fig6_state(variant);
        assert_eq!(w.s_poll(), Poll::Fetch { from: d[2].pos, units: 2 });
        // The runtime does not fetch. S's timer fires.
        let c632 = w.s_heartbeat();
        assert_eq!(c632, s_ci(2, 2, 4));
        assert_eq!((c632.head, c632.end()), (d[2].pos, end(&d[3])), "629 = 619 = Data3, 630 = 620 = Data3 + Data4");
        // P's round: its head is Data3, not past it.
        assert_eq!(w.p_round(), ControlStep::Publish(p_ci(2, 4, 4)));
        assert_eq!(w.p.head, d[2].pos);
        assert_eq!(update_ids(&w.p), [3, 4, 5, 6]);
        // S (no longer busy) reads the new 631 and fetches everything from its head.
        assert_eq!(w.s_poll(), Poll::Fetch { from: d[2].pos, units: 4 });
        assert_eq!(w.s_read(Pos(2), 4).1, (3..=6).map(fig6_addr).collect::<Vec<_>>());
        assert_eq!(w.s_applied(), s_ci(6, 0, 4));
    }
}

// =============================================================================================
// 2. Partial fetch ([0128]-[0130], note 4.4 and S17)
// =============================================================================================

/// The note's numbers in units: a buffer of 10, 9 units of earlier journals (Data1..Data3, three
/// blocks each) and then Data4 of 2 units. The first fetch takes 10 units: all of Data1..Data3
/// and Data4's first block; 629 points into the middle of Data4 and 632 says so. The next fetch
/// takes the single remaining unit. Every block is applied exactly once.
#[test]
fn partial_fetch_0128_header0() {
    for variant in VARIANTS {
        let mut w = World::new(Setup { buffer: 10, ..Setup::plain(variant, 16) });
        w.s_heartbeat();
        let d1 = w.write(0, 3);
        let d2 = w.write(3, 3);
        let d3 = w.write(6, 3);
        let d4 = w.write(20, 2);
        assert_eq!((d4.pos, d4.units), (Pos(9), 2));
        assert_eq!((d1.units, d2.units, d3.units), (3, 3, 3));
        assert_eq!(w.p_round(), ControlStep::Publish(p_ci(0, 11, 1)));
        // 1204: the buffer bounds the read.
        assert_eq!(w.s_poll(), Poll::Fetch { from: Pos(0), units: 10 });
        let (taken, copied) = w.s_read(Pos(0), 10);
        assert_eq!((taken, copied), (10, vec![0, 1, 2, 3, 4, 5, 6, 7, 8, 20]));
        let cut = Current { meta: d4.meta, first: d4.pos };
        assert_eq!(w.s.pending, Some(Pending { to: Pos(10), current: Some(cut), last: d3.meta }));
        // 1206-1207: the head moves over the processed part only: into the middle of Data4.
        assert_eq!(w.s_applied(), s_ci(10, 1, 1));
        assert_eq!((w.s.head, w.s.current, w.s.last), (Pos(10), Some(cut), d3.meta));
        // P takes that head: Data4's update info stays (its end 11 is past 626 = 10).
        assert_eq!(w.tick(), p_ci(10, 1, 2));
        assert_eq!(update_ids(&w.p), [4]);
        // The next fetch finishes Data4 exactly once.
        assert_eq!(w.s_poll(), Poll::Fetch { from: Pos(10), units: 1 });
        assert_eq!(w.s_read(Pos(10), 1), (1, vec![21]));
        assert_eq!(w.s_applied(), s_ci(11, 0, 2));
        assert_eq!((w.s.head, w.s.current, w.s.last), (Pos(11), None, d4.meta));
        assert_eq!(w.applied, [0, 1, 2, 3, 4, 5, 6, 7, 8, 20, 21]);
        assert_eq!(w.tick(), p_ci(11, 0, 3));
        assert!(w.p.updates.is_empty());
        assert_eq!(w.s_poll(), Poll::Idle);
    }
}

/// The same with header 1 / trailer 1: Data1..Data3 are one block each (3 units each, 9 in
/// all) and Data4 two blocks (4 units). The 10-unit fetch ends on Data4's header: nothing of
/// Data4 is applied, yet S keeps its header (`current`) and the next fetch applies both blocks.
#[test]
fn partial_fetch_0128_cut_after_the_header() {
    for variant in VARIANTS {
        let mut w = World::new(Setup { header: 1, trailer: 1, buffer: 10, ..Setup::plain(variant, 16) });
        w.s_heartbeat();
        for k in 0..3 {
            let r = w.write(k, 1);
            assert_eq!((r.pos, r.units), (Pos(3 * k), 3));
        }
        let d4 = w.write(30, 2);
        assert_eq!((d4.pos, d4.units), (Pos(9), 4));
        assert_eq!(w.p_round(), ControlStep::Publish(p_ci(0, 13, 1)));
        assert_eq!(w.s_poll(), Poll::Fetch { from: Pos(0), units: 10 });
        assert_eq!(w.s_read(Pos(0), 10), (10, vec![0, 1, 2]));
        assert_eq!(w.s_applied(), s_ci(10, 3, 1));
        assert_eq!(w.s.current, Some(Current { meta: d4.meta, first: Pos(9) }));
        w.tick();
        assert_eq!(w.s_poll(), Poll::Fetch { from: Pos(10), units: 3 });
        assert_eq!(w.s_read(Pos(10), 3), (3, vec![30, 31]));
        assert_eq!(w.s_applied(), s_ci(13, 0, 2));
        assert_eq!((w.s.current, w.s.last.id), (None, ReqId(4)));
        assert_eq!(w.applied, [0, 1, 2, 30, 31]);
    }
}

// =============================================================================================
// 3. Wrap-around (907, note S17)
// =============================================================================================

/// Q = 8, header 1 / trailer 1. Data1 (2 blocks, 4 units) at [0, 4), Data2 (1 block, 3 units)
/// at [4, 7). Once S confirmed both, Data3 (2 blocks, 4 units) is reserved at logical 7 and written to physical units 7, 0, 1, 2. S reads [7, 11) as the concatenation
/// of unit 7 and units 0..3, and applies Data3's blocks; unit 3 (Data1's stale trailer) is never
/// read. With a fetch buffer of 2 the same journal is also cut at the wrap and finished once.
#[test]
fn wrap_around_s17() {
    for variant in VARIANTS {
        for buffer in [8, 2] {
            let mut w = World::new(Setup { header: 1, trailer: 1, buffer, ..Setup::plain(variant, 8) });
            w.s_heartbeat();
            let d1 = w.write(10, 2);
            let d2 = w.write(20, 1);
            assert_eq!((d1.pos, d1.units, d2.pos, d2.units), (Pos(0), 4, Pos(4), 3));
            // S catches up on Data1 and Data2 (in 8- or 2-unit reads).
            let mut windows = Vec::new();
            loop {
                w.tick();
                match w.s_poll() {
                    Poll::Fetch { from, units } => {
                        windows.push((from.0, units));
                        w.s_read(from, units);
                        w.s_applied();
                    }
                    Poll::Idle => break,
                    other => panic!("{other:?}"),
                }
            }
            let expect: &[(u32, u32)] = if buffer == 8 { &[(0, 7)] } else { &[(0, 2), (2, 2), (4, 2), (6, 1)] };
            assert_eq!(windows, expect);
            assert_eq!(w.applied, [10, 11, 20]);
            assert_eq!(w.s.head, Pos(7));
            // The last round of the loop took 632's head 7: the ring is empty, free = Q (the
            // BUSY answer before that round is `wrap_around_waits_for_room`).
            assert_eq!((w.p.head, w.p.free()), (Pos(7), 8));
            let d3 = w.write(40, 2);
            // The reservation is logical 7..11; its units land at 7, 0, 1, 2.
            assert_eq!((d3.pos, d3.units, w.p.next), (Pos(7), 4, Pos(11)));
            for (serial, slot) in [7usize, 0, 1, 2].into_iter().enumerate() {
                assert_eq!(w.i.ring[slot], UnitTag { meta: d3.meta, serial: serial as u16, intact: true });
            }
            assert_eq!(w.i.ring[3], UnitTag { meta: d1.meta, serial: 3, intact: true }, "Data1's stale trailer");
            assert_eq!(w.i.ring[4].meta, d2.meta);
            // S reads across the physical end.
            assert_eq!(w.tick(), p_ci(7, 4, w.p.heartbeat));
            if buffer == 8 {
                assert_eq!(w.s_poll(), Poll::Fetch { from: Pos(7), units: 4 });
                assert_eq!(w.s_read(Pos(7), 4), (4, vec![40, 41]));
                assert_eq!(w.s_applied().head, Pos(11));
            } else {
                // Header (unit 7) and the first block (unit 0): cut at the wrap.
                assert_eq!(w.s_poll(), Poll::Fetch { from: Pos(7), units: 2 });
                assert_eq!(w.s_read(Pos(7), 2), (2, vec![40]));
                assert_eq!(w.s_applied().head, Pos(9));
                assert_eq!(w.s.current, Some(Current { meta: d3.meta, first: Pos(7) }));
                w.tick();
                // Units 1 and 2: the second block and the trailer.
                assert_eq!(w.s_poll(), Poll::Fetch { from: Pos(9), units: 2 });
                assert_eq!(w.s_read(Pos(9), 2), (2, vec![41]));
                assert_eq!(w.s_applied().head, Pos(11));
            }
            assert_eq!((w.s.current, w.s.last.id), (None, ReqId(3)));
            assert_eq!(w.applied, [10, 11, 20, 40, 41]);
        }
    }
}

/// The BUSY answer of the wrap test above, made deterministic: with Data1 and Data2 in the ring
/// and S's confirmation not yet read by P, the 4-unit Data3 does not fit (free = 1).
#[test]
fn wrap_around_waits_for_room() {
    let mut w = World::new(Setup { header: 1, trailer: 1, ..Setup::plain(Variant::Faithful, 8) });
    w.s_heartbeat();
    w.write(10, 2);
    w.write(20, 1);
    assert_eq!((w.p.head, w.p.next, w.p.free()), (Pos(0), Pos(7), 1));
    assert_eq!(w.p.host_write(0, 40, 2, true, Ts(100)), Err(Refused::Busy));
    assert_eq!((w.p.next, w.p.next_id), (Pos(7), ReqId(3)), "a BUSY write reserves nothing");
    // A one-block journal (3 units) does not fit either; after S confirms, both fit.
    assert_eq!(w.p.host_write(0, 40, 1, true, Ts(100)), Err(Refused::Busy));
    w.tick();
    assert_eq!(w.s_poll(), Poll::Fetch { from: Pos(0), units: 7 });
    w.s_read(Pos(0), 7);
    w.s_applied();
    w.tick();
    assert_eq!(w.p.free(), 8);
    let d3 = w.write(40, 2);
    assert_eq!((d3.pos, d3.meta.id), (Pos(7), ReqId(3)));
}

// =============================================================================================
// 4. Drain after P fails (Fig. 13, [0131]-[0142], note 4.7)
// =============================================================================================

/// How the drain scenario ends on I after Data6.
#[derive(Clone, Copy, Debug, PartialEq)]
enum AfterData6 {
    /// P reserved Data7 (two blocks) and wrote only its first unit; its second unit holds
    /// Data1's unit from the earlier lap (Q = 7, so logical 7 is physical 0).
    TornData7,
    /// Nothing was written after Data6; the next unit holds Data1 from the earlier lap, intact,
    /// with a lower id (Q = 6, so logical 6 is physical 0).
    StaleData1,
}

/// P journals Data1..Data6 (one block each, Data k at block 4k). S applied Data1-Data2; P
/// published 631 = (Data3, Data3..Data4) from S's 632; then P writes Data5, Data6 (complete) and,
/// in the torn case, Data7, and dies: S reads 631 with an unchanged heartbeat `threshold` times.
/// `caught_up`: S fetched Data3-Data4 on its first reading of that 631 (else it was busy,
/// [0085], and the drain itself takes them in bulk as in [0142]).
fn drain_scenario(variant: Variant, after: AfterData6, caught_up: bool) -> (World, Vec<Reserved>) {
    let q = match after {
        AfterData6::TornData7 => 7,
        AfterData6::StaleData1 => 6,
    };
    let mut w = World::new(Setup::plain(variant, q));
    let mut d = Vec::new();
    w.s_heartbeat();
    d.push(w.write(4, 1));
    d.push(w.write(8, 1));
    assert_eq!(w.p_round(), ControlStep::Publish(p_ci(0, 2, 1)));
    assert_eq!(w.s_poll(), Poll::Fetch { from: Pos(0), units: 2 });
    w.s_read(Pos(0), 2);
    assert_eq!(w.s_applied(), s_ci(2, 0, 1));
    d.push(w.write(12, 1));
    d.push(w.write(16, 1));
    // P's last round: 631 = (Data3, Data3..Data4).
    assert_eq!(w.tick(), p_ci(2, 2, 2));
    // S's first reading of that 631 (a new heartbeat).
    assert_eq!(w.s_poll(), Poll::Fetch { from: Pos(2), units: 2 });
    if caught_up {
        assert_eq!(w.s_read(Pos(2), 2), (2, vec![12, 16]));
        assert_eq!(w.s_applied(), s_ci(4, 0, 2));
    }
    d.push(w.write(20, 1));
    d.push(w.write(24, 1));
    if after == AfterData6::TornData7 {
        // Data7 fits (head 2, next 6: free 3) and goes to logical 6..8 = physical 6, 0.
        let r = w.reserve(28, 2);
        assert_eq!((r.pos, r.units, r.meta.id), (Pos(6), 2, ReqId(7)));
        w.i.write_journal(&r, 1);
        d.push(r);
    }
    // The unit after the last complete journal, or Data7's second unit: Data1, stale and intact.
    assert_eq!(w.i.ring[0], UnitTag { meta: d[0].meta, serial: 0, intact: true });
    // P is dead: no more rounds. Two unchanged readings of 631 are not a failure ...
    for unchanged in 1..=2 {
        let poll = w.s_poll();
        if caught_up {
            assert_eq!(poll, Poll::Idle);
        } else {
            // Busy S is offered Data3-Data4 again and again declines.
            assert_eq!(poll, Poll::Fetch { from: Pos(2), units: 2 });
        }
        assert_eq!((w.s.mode, w.s.detector.unchanged), (Mode::Normal, unchanged));
    }
    // ... the third is (1202 -> 1209 -> 1301): I answers, so S drains from its head.
    assert_eq!(w.s_poll(), Poll::PeerFailed(Failure::PeerSilent));
    let head = if caught_up { 4 } else { 2 };
    assert_eq!(w.s.mode, Mode::Draining { start: Pos(head) });
    (w, d)
}

/// The runtime's drain loop: read each window S asks for, copy, confirm, until S takes nothing
/// (S then ends the drain itself: 1308/1309) or has no window left (the runtime ends it).
/// Returns the windows read.
fn run_drain(w: &mut World) -> Vec<(u32, u32, u32)> {
    let mut windows = Vec::new();
    while let Some((from, units)) = w.s.drain_window() {
        let (taken, _) = w.s_read(from, units);
        windows.push((from.0, units, taken));
        if taken == 0 {
            assert_eq!(w.s.mode, Mode::Suspended, "a read that takes nothing ends the drain");
            return windows;
        }
        w.s_applied();
    }
    w.s.finish_drain();
    windows
}

/// [0142]: S takes Data5 and Data6 past the end P published (1306-1307), stops at Data7 whose
/// second unit is stale (1307: every block must carry Data7's tag), suspends with its bitmap
/// starting at id 7 (the id after the last applied).
#[test]
fn drain_takes_complete_journals_and_stops_at_a_torn_one() {
    for variant in VARIANTS {
        for caught_up in [true, false] {
            let (mut w, d) = drain_scenario(variant, AfterData6::TornData7, caught_up);
            let windows = run_drain(&mut w);
            if caught_up {
                // From 4: Data5, Data6, Data7(unit 0), Data1(stale) ... -> 2 units taken.
                assert_eq!(windows, [(4, 7, 2), (6, 5, 0)]);
            } else {
                // From 2: Data3, Data4 (within 631: 1304), Data5, Data6 (past it: 1306-1307).
                assert_eq!(windows, [(2, 7, 4), (6, 3, 0)]);
            }
            assert_eq!(w.applied, [4, 8, 12, 16, 20, 24], "Data5 and Data6 applied, Data7 (28, 29) not");
            assert_eq!(w.i.c632, Some(s_ci(6, 0, 2)), "S published its progress over Data6");
            assert_eq!(w.s.mode, Mode::Suspended);
            assert_eq!((w.s.head, w.s.current, w.s.last), (end(&d[5]), None, d[5].meta));
            assert_eq!(w.s.bitmap, Bitmap { bits: 0, start_id: ReqId(7), start_ts: d[5].meta.ts });
            assert_eq!(w.s.drain_window(), None);
            assert_eq!(w.s_poll(), Poll::Idle, "a suspended S no longer polls");
        }
    }
}

/// [0139], S4, L3: right after Data6 the ring holds Data1 of the earlier lap, intact but with
/// id 1, not 7: the existence test fails and the drain ends after Data6, without applying it.
#[test]
fn drain_stops_at_a_stale_journal_of_an_earlier_lap() {
    for variant in VARIANTS {
        for caught_up in [true, false] {
            let (mut w, d) = drain_scenario(variant, AfterData6::StaleData1, caught_up);
            let windows = run_drain(&mut w);
            if caught_up {
                // From 4, one ring at most (to 4 + 6 = 10): Data5, Data6, Data1(stale) ...
                assert_eq!(windows, [(4, 6, 2), (6, 4, 0)]);
            } else {
                assert_eq!(windows, [(2, 6, 4), (6, 2, 0)]);
            }
            assert_eq!(w.applied, [4, 8, 12, 16, 20, 24], "block 4 (stale Data1) applied once only");
            assert_eq!(w.s.mode, Mode::Suspended);
            assert_eq!(w.s.head, Pos(6));
            assert_eq!(w.s.bitmap.start_id, ReqId(7));
            assert_eq!(w.s.bitmap.start_ts, d[5].meta.ts);
        }
    }
}

// =============================================================================================
// 5. P's failure processing (Fig. 11, 1106-1107, [0112]-[0120])
// =============================================================================================

/// P with Data1..Data6 unconfirmed (626 = Data1, as in Fig. 6) fails: 1106 suspends and 1107
/// starts the bitmap at the oldest journal S has not confirmed ([0118]): exactly the blocks of
/// Data1..Data6 (from update info 108), start id 1. Later host writes are marked (910) and
/// complete normally; non-replicated ones are local (902).
#[test]
fn failure_processing_marks_every_unconfirmed_journal() {
    for variant in VARIANTS {
        let mut w = World::new(Setup::plain(variant, 8));
        w.s_heartbeat();
        let d: Vec<Reserved> = (1..=6).map(|k| w.write(fig6_addr(k), 1)).collect();
        assert_eq!((w.p.head, w.p.next), (Pos(0), Pos(6)));
        w.p.fail(Failure::Io);
        assert_eq!(w.p.pair, PairState::Suspend);
        let data16 = bits(&[4, 8, 12, 16, 20, 24]);
        assert_eq!(w.p.bitmap, Bitmap { bits: data16, start_id: ReqId(1), start_ts: d[0].meta.ts });
        // 910: a later replicated write in SUSPEND is marked and completed.
        assert_eq!(w.p.host_write(0, 50, 2, true, Ts(100)), Ok(Written::Marked { suspended_now: false }));
        assert_eq!(w.p.bitmap.bits, data16 | bits(&[50, 51]));
        // 902: a volume without the remote-copy attribute is a plain local write.
        assert_eq!(w.p.host_write(1, 60, 1, false, Ts(110)), Ok(Written::Local));
        assert_eq!(w.p.bitmap.bits, data16 | bits(&[50, 51]));
        assert_eq!(w.p.bitmap.start_id, ReqId(1));
        // Nothing is journaled any more; Fig. 10 has nothing to exchange.
        assert_eq!((w.p.next, w.p.next_id), (Pos(6), ReqId(7)));
        assert_eq!(w.p.control(w.i.c632), ControlStep::Idle);
        // A second failure does not restart the bitmap.
        w.p.fail(Failure::PeerSilent);
        assert_eq!(w.p.bitmap.bits, data16 | bits(&[50, 51]));
    }
}

/// The same from the Fig. 6 state after P's round (626 = Data3) and through Fig. 10: the read
/// of 632 fails (I gone, 1006), with Data7 reserved but still being written. The bitmap starts
/// at Data3 (the tight bound of 1403) and covers Data3..Data6 and the in-flight Data7 (S6: 108
/// exists from the write's reception), not Data1-Data2.
#[test]
fn failure_processing_from_fig6_after_p_round() {
    for variant in VARIANTS {
        let (mut w, d) = fig6_state(variant);
        w.p_round();
        assert_eq!(w.p.head, d[2].pos);
        let d7 = w.reserve(28, 2);
        assert_eq!(d7.meta.id, ReqId(7));
        assert_eq!(w.p.control(None), ControlStep::PeerFailed(Failure::Io));
        assert_eq!(w.p.pair, PairState::Suspend);
        assert_eq!(w.p.bitmap, Bitmap { bits: bits(&[12, 16, 20, 24, 28, 29]), start_id: ReqId(3), start_ts: d[2].meta.ts });
    }
}

// =============================================================================================
// 6. A full ring: BUSY (912(a)) or suspend (912(b), [0101], [0115])
// =============================================================================================

fn full_ring(full: FullPolicy) -> World {
    let mut w = World::new(Setup { full, ..Setup::plain(Variant::Faithful, 4) });
    w.s_heartbeat();
    for k in 1..=4 {
        w.write(k, 1);
    }
    assert_eq!((w.p.head, w.p.next, w.p.size(), w.p.free()), (Pos(0), Pos(4), 4, 0));
    w
}

#[test]
fn full_ring_busy_912a() {
    let mut w = full_ring(FullPolicy::Busy);
    assert_eq!(w.p.host_write(0, 9, 1, true, Ts(100)), Err(Refused::Busy));
    // Nothing changed: no reservation, no id, no update info, still PAIR.
    assert_eq!((w.p.next, w.p.next_id, w.p.updates.len(), w.p.pair), (Pos(4), ReqId(5), 4, PairState::Pair));
    assert!(w.p.bitmap.is_empty());
    // A journal that could never fit is refused as such.
    assert_eq!(w.p.host_write(0, 9, 5, true, Ts(100)), Err(Refused::TooLarge(5)));
    // L2: once S confirms, the retried write succeeds, at logical 4 = physical 0.
    assert_eq!(w.p_round(), ControlStep::Publish(p_ci(0, 4, 1)));
    assert_eq!(w.s_poll(), Poll::Fetch { from: Pos(0), units: 4 });
    assert_eq!(w.s_read(Pos(0), 4).1, [1, 2, 3, 4]);
    w.s_applied();
    w.tick();
    assert_eq!(w.p.free(), 4);
    let r = w.write(9, 1);
    assert_eq!((r.pos, r.meta.id), (Pos(4), ReqId(5)));
    assert_eq!(w.i.ring[0].meta, r.meta);
}

#[test]
fn full_ring_suspends_912b() {
    let mut w = full_ring(FullPolicy::Suspend);
    // 912(b): failure processing, then the write is marked and completed normally.
    assert_eq!(w.p.host_write(0, 9, 1, true, Ts(100)), Ok(Written::Marked { suspended_now: true }));
    assert_eq!(w.p.pair, PairState::Suspend);
    // Every unconfirmed write (Data1..Data4 at blocks 1..4) plus this one.
    assert_eq!(w.p.bitmap.bits, bits(&[1, 2, 3, 4, 9]));
    assert_eq!(w.p.bitmap.start_id, ReqId(1));
    assert_eq!((w.p.next, w.p.next_id), (Pos(4), ReqId(5)), "nothing journaled");
    // The next write finds the pair already suspended.
    assert_eq!(w.p.host_write(0, 12, 2, true, Ts(110)), Ok(Written::Marked { suspended_now: false }));
    assert_eq!(w.p.bitmap.bits, bits(&[1, 2, 3, 4, 9, 12, 13]));
    assert_eq!(w.p.control(w.i.c632), ControlStep::Idle);
}

// =============================================================================================
// 7. Heartbeat detection (1002 / 1202, [0106]-[0107], note S13, L4)
// =============================================================================================

#[test]
fn detector_threshold_three() {
    let mut det = Detector::default();
    assert!(!det.silent(5, 3, NONE), "the first reading is news");
    assert!(!det.silent(5, 3, NONE));
    assert!(!det.silent(5, 3, NONE));
    assert_eq!(det.unchanged, 2, "two unchanged readings: not dead");
    assert!(det.silent(5, 3, NONE), "the third unchanged reading declares the peer dead");
    assert_eq!(det, Detector { seen: Some(5), unchanged: 3 });

    let mut det = Detector::default();
    for hb in [5, 5, 5] {
        assert!(!det.silent(hb, 3, NONE));
    }
    assert!(!det.silent(6, 3, NONE), "a change resets the count");
    assert_eq!(det, Detector { seen: Some(6), unchanged: 0 });
    assert!(!det.silent(6, 3, NONE));
    assert!(!det.silent(6, 3, NONE));
    assert!(det.silent(6, 3, NONE));
}

/// P's side (1002 -> 1006): S's 632 heartbeat unchanged three times suspends P, with the
/// unconfirmed Data1 in its bitmap; a changed reading resets; a failed read is a failure at once.
#[test]
fn detection_at_p() {
    for variant in VARIANTS {
        let mut w = World::new(Setup::plain(variant, 8));
        w.s_heartbeat();
        w.write(7, 1);
        assert_eq!(w.p_round(), ControlStep::Publish(p_ci(0, 1, 1)));
        assert_eq!(w.p_round(), ControlStep::Publish(p_ci(0, 1, 2)));
        assert_eq!(w.p_round(), ControlStep::Publish(p_ci(0, 1, 3)));
        assert_eq!(w.p.detectors[0].unchanged, 2);
        w.s_heartbeat();
        assert_eq!(w.p_round(), ControlStep::Publish(p_ci(0, 1, 4)));
        assert_eq!(w.p.detectors[0].unchanged, 0, "reset by S's new heartbeat");
        assert_eq!(w.p_round(), ControlStep::Publish(p_ci(0, 1, 5)));
        assert_eq!(w.p_round(), ControlStep::Publish(p_ci(0, 1, 6)));
        assert_eq!(w.p.pair, PairState::Pair);
        assert_eq!(w.p_round(), ControlStep::PeerFailed(Failure::PeerSilent));
        assert_eq!(w.p.pair, PairState::Suspend);
        assert_eq!(w.p.bitmap, Bitmap { bits: bits(&[7]), start_id: ReqId(1), start_ts: Ts(10) });
        assert_eq!(w.i.c631, Some(p_ci(0, 1, 6)), "no 631 written on the failing round");

        // A failed read of 632 is a failure at once, whatever the detector's count.
        let mut w = World::new(Setup::plain(variant, 8));
        w.s_heartbeat();
        assert_eq!(w.p_round(), ControlStep::Publish(p_ci(0, 0, 1)));
        assert_eq!(w.p.control(None), ControlStep::PeerFailed(Failure::Io));
        assert_eq!(w.p.pair, PairState::Suspend);
        assert_eq!(w.p.bitmap, Bitmap { bits: 0, start_id: ReqId(1), start_ts: Ts(0) });
    }
}

/// S's side (1202 -> 1209): 631 unchanged three times starts the drain from S's head; a changed
/// reading resets; a failed read of 631 (I not accessible, 1302 -> 1308/1309) suspends at once,
/// the bitmap from the journal after the last applied.
#[test]
fn detection_at_s() {
    for variant in VARIANTS {
        let mut w = World::new(Setup::plain(variant, 8));
        w.s_heartbeat();
        w.write(7, 1);
        assert_eq!(w.tick(), p_ci(0, 1, 1));
        assert_eq!(w.s_poll(), Poll::Fetch { from: Pos(0), units: 1 });
        assert_eq!(w.s_read(Pos(0), 1).1, [7]);
        w.s_applied();
        assert_eq!(w.s_poll(), Poll::Idle);
        assert_eq!(w.s_poll(), Poll::Idle);
        assert_eq!((w.s.detector.unchanged, w.s.mode), (2, Mode::Normal));
        w.tick();
        assert_eq!(w.s_poll(), Poll::Idle);
        assert_eq!(w.s.detector.unchanged, 0, "reset by P's new heartbeat");
        assert_eq!(w.s_poll(), Poll::Idle);
        assert_eq!(w.s_poll(), Poll::Idle);
        assert_eq!(w.s_poll(), Poll::PeerFailed(Failure::PeerSilent));
        assert_eq!(w.s.mode, Mode::Draining { start: Pos(1) });

        let mut w = World::new(Setup::plain(variant, 8));
        w.s_heartbeat();
        w.write(7, 1);
        w.tick();
        assert_eq!(w.s_poll(), Poll::Fetch { from: Pos(0), units: 1 });
        w.s_read(Pos(0), 1);
        w.s_applied();
        assert_eq!(w.s.poll(None), Poll::PeerFailed(Failure::Io));
        assert_eq!(w.s.mode, Mode::Suspended);
        assert_eq!(w.s.bitmap, Bitmap { bits: 0, start_id: ReqId(2), start_ts: Ts(10) });
        assert_eq!(w.s.drain_window(), None, "no drain without I");
    }
}

// =============================================================================================
// 8. Takeover (note 4.7 end, S14; claim 6)
// =============================================================================================

fn suspended_secondary(variant: Variant) -> Secondary {
    let mut w = World::new(Setup::plain(variant, 8));
    w.s.peer_failed(Failure::PeerSilent);
    assert_eq!(w.s.mode, Mode::Draining { start: Pos(0) });
    // Not before the drain is over.
    assert_eq!(w.s.take_over(true), Err(Declined::NotSuspended));
    assert_eq!(w.s.host_write(3, 1), Err(Declined::NotWritable));
    w.s.finish_drain();
    assert_eq!(w.s.mode, Mode::Suspended);
    w.s
}

#[test]
fn takeover_hardened_needs_fencing() {
    let mut s = suspended_secondary(Variant::Hardened);
    assert_eq!(s.take_over(false), Err(Declined::NotFenced));
    assert_eq!(s.mode, Mode::Suspended);
    assert_eq!(s.host_write(5, 2), Err(Declined::NotWritable), "no secondary-host write before takeover");
    assert!(s.bitmap.is_empty());
    assert_eq!(s.take_over(true), Ok(()));
    assert_eq!(s.mode, Mode::TakenOver);
    assert_eq!(s.host_write(5, 2), Ok(()));
    assert_eq!(s.host_write(40, 1), Ok(()));
    assert_eq!(s.bitmap, Bitmap { bits: bits(&[5, 6, 40]), start_id: ReqId(1), start_ts: Ts(0) });
}

#[test]
fn takeover_faithful_is_not_gated() {
    for fenced in [false, true] {
        let mut s = suspended_secondary(Variant::Faithful);
        assert_eq!(s.host_write(5, 2), Err(Declined::NotWritable));
        assert_eq!(s.take_over(fenced), Ok(()));
        assert_eq!(s.mode, Mode::TakenOver);
        assert_eq!(s.host_write(5, 2), Ok(()));
        assert_eq!(s.bitmap.bits, bits(&[5, 6]));
    }
    // A normal (not suspended) S refuses takeover either way.
    let mut w = World::new(Setup::plain(Variant::Faithful, 8));
    assert_eq!(w.s.take_over(true), Err(Declined::NotSuspended));
    assert_eq!(w.s.host_write(5, 2), Err(Declined::NotWritable));
}

// =============================================================================================
// 9. Resync (Fig. 14, [0143]-[0154]; S9, S10, S12, L5)
// =============================================================================================

fn side(bits: u64, start: u32) -> Side {
    Side { bitmap: Some(Bitmap { bits, start_id: ReqId(start), start_ts: Ts(10 * start) }), lost_data: false }
}

/// Run a resync's copy to the end, returning the regions in the order copied.
fn copy_all(r: &mut Resync) -> Vec<u32> {
    let mut copied = Vec::new();
    while let Some(region) = r.next() {
        r.copied(region);
        copied.push(region);
        assert!(copied.len() <= 64, "the copy does not terminate");
    }
    assert!(r.done());
    copied
}

/// The Fig. 6 state, I fails after P's round (626 = Data3): P's bitmap starts at Data3 and marks
/// Data3..Data6 (blocks 12, 16, 20, 24); S applied Data1-Data2, so its bitmap starts at Data3,
/// and its secondary host then wrote block 40. 1403 passes (3 <= 3). In either direction, 1408
/// or 1411 makes the OR of both bitmaps, so the copy covers Data3..Data6 and block 40.
#[test]
fn resync_after_fig6_ors_both_bitmaps() {
    let (mut w, d) = fig6_state(Variant::Hardened);
    w.p_round();
    w.p.fail(Failure::Io);
    let p = Side { bitmap: Some(w.p.bitmap), lost_data: false };
    assert_eq!(p.bitmap.unwrap().start_id, d[2].meta.id);
    let s = side(bits(&[40]), 3);
    for direction in [Direction::PrimaryToSecondary, Direction::SecondaryToPrimary] {
        let plan = resync::plan(&p, &s, direction, Variant::Hardened, NONE);
        let Plan::Resync { bitmap, .. } = plan else { panic!("1403 passes, yet {plan:?}") };
        assert_eq!(bitmap.bits, bits(&[12, 16, 20, 24, 40]));
        assert_eq!(bitmap.start_id, ReqId(3));
        let mut r = Resync::start(&plan, 64, 1, NONE);
        assert_eq!(r.direction, direction);
        assert_eq!(copy_all(&mut r), vec![12, 16, 20, 24, 40]);
    }
}

/// [0146]-[0147]: P's bitmap starts only after Data6 (the "logical fault" of the text) while S
/// lacks Data3 onwards: 1403 finds the inconsistency and the plan is an initial copy of every
/// region (1414 / 1413). With P's start at Data1 or at the tight bound Data3 it passes.
#[test]
fn resync_1403_refuses_a_bitmap_that_starts_too_late() {
    let s = side(0, 3);
    let late = side(0, 7);
    for direction in [Direction::PrimaryToSecondary, Direction::SecondaryToPrimary] {
        let plan = resync::plan(&late, &s, direction, Variant::Faithful, NONE);
        assert_eq!(plan, Plan::InitialCopy { direction, why: Why::Inconsistent { p_start: ReqId(7), s_start: ReqId(3) } });
        let mut r = Resync::start(&plan, 4, 1, NONE);
        assert_eq!(copy_all(&mut r), vec![0, 1, 2, 3], "an initial copy copies every region");
        for start in [1, 3] {
            assert!(matches!(resync::plan(&side(0b1, start), &s, direction, Variant::Faithful, NONE), Plan::Resync { .. }));
        }
    }
}

/// 1406: a side that lost data (or its bitmap) gets an initial copy, whatever the bitmaps say.
#[test]
fn resync_lost_data_means_an_initial_copy() {
    let s = side(0b10, 3);
    let mut lost = side(0b1, 1);
    lost.lost_data = true;
    let plan = resync::plan(&lost, &s, Direction::SecondaryToPrimary, Variant::Hardened, NONE);
    assert_eq!(plan, Plan::InitialCopy { direction: Direction::SecondaryToPrimary, why: Why::LostData });
    let forgot = Side { bitmap: None, lost_data: false };
    let plan = resync::plan(&side(0b1, 1), &forgot, Direction::PrimaryToSecondary, Variant::Hardened, NONE);
    assert_eq!(plan, Plan::InitialCopy { direction: Direction::PrimaryToSecondary, why: Why::NoBitmap });
}

/// 1410: a host write during the resync is mirrored (it never dirties a region again), so the
/// copy ends after exactly the planned regions (L5).
#[test]
fn resync_host_writes_are_mirrored() {
    let plan = resync::plan(&side(0b101, 1), &side(0b10, 2), Direction::PrimaryToSecondary, Variant::Hardened, NONE);
    let mut r = Resync::start(&plan, 8, 1, NONE);
    assert_eq!(r.next(), Some(0));
    r.copied(0);
    assert_eq!(r.host_write(0, 1), DuringResync::Mirror);
    assert_eq!(r.host_write(5, 2), DuringResync::Mirror);
    assert_eq!(copy_all(&mut r), vec![1, 2]);
}

/// P's restart (note S12): the hardened P keeps update info 108 on disk, so a write stored on
/// its volume whose journal the crash cut is in its bitmap; the text's P keeps 108 in memory and
/// restarts with an empty bitmap that starts after every journal it issued, which 1403 then
/// refuses against an S that lacks one.
#[test]
fn restart_bitmap_hardened_and_faithful() {
    for variant in VARIANTS {
        let mut w = World::new(Setup::plain(variant, 8));
        w.s_heartbeat();
        let d1 = w.write(4, 1);
        let d2 = w.reserve(8, 2);
        assert_eq!((d1.meta.id, d2.meta.id), (ReqId(1), ReqId(2)));
        w.p.restart();
        assert_eq!(w.p.pair, PairState::Suspend);
        assert!(w.p.inflight.is_empty());
        let s = side(0, 1);
        match variant {
            Variant::Hardened => {
                assert_eq!(w.p.bitmap.bits, bits(&[4, 8, 9]));
                assert_eq!(w.p.bitmap.start_id, ReqId(1));
                let p = Side { bitmap: Some(w.p.bitmap), lost_data: false };
                let plan = resync::plan(&p, &s, Direction::SecondaryToPrimary, variant, NONE);
                assert!(matches!(plan, Plan::Resync { bitmap, .. } if bitmap.bits == bits(&[4, 8, 9])));
            }
            Variant::Faithful => {
                assert_eq!(w.p.bitmap, Bitmap { bits: 0, start_id: ReqId(3), start_ts: d2.meta.ts });
                assert!(w.p.updates.is_empty());
                let p = Side { bitmap: Some(w.p.bitmap), lost_data: false };
                let plan = resync::plan(&p, &s, Direction::SecondaryToPrimary, variant, NONE);
                assert!(matches!(plan, Plan::InitialCopy { why: Why::Inconsistent { .. }, .. }));
            }
        }
    }
}

// =============================================================================================
// 10. Embodiment 2: control info over a direct path (Fig. 15, [0155]-[0157])
// =============================================================================================

/// With control info exchanged directly, S learns of Data1-Data2 from P's record, but I does not
/// answer the fetch: S finds I inaccessible only then (1302) and suspends (1308-1309), with its
/// bitmap from the first journal it lacks. A later failed read changes nothing.
#[test]
fn direct_control_path_fetch_fails() {
    for variant in VARIANTS {
        let mut w = World::new(Setup::plain(variant, 8));
        w.s_heartbeat();
        w.write(4, 1);
        w.write(8, 1);
        let rec = match w.p.control(w.i.c632) {
            ControlStep::Publish(rec) => rec,
            other => panic!("P's round: {other:?}"),
        };
        // The record goes over the direct path: S is handed it, not I's 631.
        assert_eq!(w.s.poll(Some(rec)), Poll::Fetch { from: Pos(0), units: 2 });
        assert_eq!(w.s.read_failed(), Poll::PeerFailed(Failure::Io));
        assert_eq!(w.s.mode, Mode::Suspended);
        assert_eq!(w.s.bitmap.start_id, ReqId(1));
        assert_eq!(w.s.read_failed(), Poll::Idle);
        assert_eq!(w.s.mode, Mode::Suspended);
    }
}

// =============================================================================================
// 11. Embodiment 5: several secondaries (Fig. 18, [0165]-[0168])
// =============================================================================================

/// P reads every S's 632 and moves its head 626 to the slowest S's head (1003); update info
/// 108 is kept for what the slowest has not confirmed. One silent S is a failure (Fig. 11),
/// and the bitmap starts at the slowest S's head.
#[test]
fn several_secondaries_head_is_the_slowest() {
    for variant in VARIANTS {
        let mut w = World::new(Setup::plain(variant, 8));
        let d: Vec<Reserved> = (1..=4).map(|k| w.write(fig6_addr(k), 1)).collect();
        let fast = s_ci(3, 0, 1);
        let slow = ci(Owner::Secondary(1), 1, 0, 1);
        assert!(matches!(w.p.control_all(&[Some(fast), Some(slow)]), ControlStep::Publish(_)));
        assert_eq!(w.p.head, d[1].pos, "the slowest S is at Data2");
        assert_eq!(update_ids(&w.p), vec![2, 3, 4]);
        // The fast S moves on; the slow one stops heartbeating: after the threshold, P fails
        // over with a bitmap from the slowest S's head.
        let mut step = ControlStep::Idle;
        for hb in 2..10 {
            step = w.p.control_all(&[Some(s_ci(4, 0, hb)), Some(slow)]);
            if matches!(step, ControlStep::PeerFailed(_)) {
                break;
            }
            assert_eq!(w.p.head, d[1].pos, "the slow S holds the head back");
        }
        assert_eq!(step, ControlStep::PeerFailed(Failure::PeerSilent));
        assert_eq!(w.p.bitmap.start_id, ReqId(2));
        assert_eq!(w.p.bitmap.bits, bits(&[fig6_addr(2), fig6_addr(3), fig6_addr(4)]));
    }
}
