//! Embodiment 3 of seed 003 (note `shared/protocols/seed-003.md`, section 4.11, Fig. 16,
//! [0158]-[0161]; invariants S3, S16 and L6 of section 6), run by hand through the sans-IO roles
//! of `rcopy::journal::multi`: [`Striper`] (P over several intermediates) and [`Merger`] (S with
//! its reorder buffer keyed by the global request id).
//!
//! The test plays the runtime and the intermediates I_A, I_B (101A, 101B): each is a ring of Q
//! units (`Vec<UnitTag>`) with its two control info records, 631 (written by P) and 632
//! (written by S). A journal of n blocks occupies n units (header 0 / trailer 0), serials
//! `0..n`, each unit at `pos % Q`.
//!
//! Conventions: ids from 1; "j k" is the journal with request id k; one block per bitmap region,
//! so bit b is block b. Rings are numbered 0 (I_A) and 1 (I_B).

use quickcheck::{Arbitrary, Gen, QuickCheck, TestResult};
use rcopy::fault::FaultSet;
use rcopy::journal::multi::{Data, Held, Merger, Placed, Round, Striper};
use rcopy::journal::*;

const VARIANTS: [Variant; 2] = [Variant::Faithful, Variant::Hardened];

/// Q = 4, header 0 / trailer 0: a one-block journal is one unit.
const GEO: Geometry = Geometry { queue_units: 4, header_units: 0, trailer_units: 0 };

type P = Striper<16>;
type S = Merger<16>;

fn striper(variant: Variant) -> P {
    Striper::new(GEO, 1, variant, FaultSet::default(), 2)
}

fn merger() -> S {
    Merger::new(GEO, 8, FaultSet::default(), 0, 2)
}

// =============================================================================================
// The intermediates and a hand-driven runtime
// =============================================================================================

/// One intermediate: an ordinary block store, no protocol logic.
struct Inter {
    /// Queue area 114, one tag per physical unit (zeroed: no intact unit).
    ring: Vec<UnitTag>,
    /// 631, written by P.
    c631: Option<ControlInfo>,
    /// 632, written by S.
    c632: Option<ControlInfo>,
}

impl Inter {
    fn new(q: u32) -> Inter {
        Inter { ring: vec![UnitTag::default(); q as usize], c631: None, c632: None }
    }

    fn slot(&self, pos: Pos) -> usize {
        pos.slot(self.ring.len() as u32) as usize
    }

    /// Every unit of journal `p`, each at `pos % Q`.
    fn write(&mut self, p: &Placed) {
        for s in 0..p.units {
            let at = self.slot(Pos(p.pos.0 + s));
            self.ring[at] = UnitTag { meta: p.meta, serial: s as u16, intact: true };
        }
    }

    fn read(&self, from: Pos, units: u32) -> Vec<UnitTag> {
        (0..units).map(|i| self.ring[self.slot(Pos(from.0 + i))]).collect()
    }
}

/// P, S, I_A and I_B.
struct World {
    p: P,
    s: S,
    i: [Inter; 2],
    /// The ids S's runtime applied, in order.
    applied: Vec<u32>,
}

impl World {
    fn new(variant: Variant) -> World {
        let mut w = World { p: striper(variant), s: merger(), i: [Inter::new(4), Inter::new(4)], applied: Vec::new() };
        // S's first 632 on each intermediate: nothing read, nothing applied.
        for r in 0..2u8 {
            w.i[usize::from(r)].c632 = w.s.record(r);
        }
        w
    }

    /// A host write of `blocks` blocks at `addr`, journaled on ring `ring`: P must place it
    /// at the ring's next position; it is written in full to that intermediate (not yet
    /// reported complete to P).
    fn put(&mut self, ring: u8, addr: u32, blocks: u16) -> Placed {
        let p = match self.p.host_write(ring, 0, addr, blocks) {
            Ok(Some(p)) => p,
            other => panic!("expected a journal on ring {ring}, got {other:?}"),
        };
        assert_eq!((p.ring, p.units, p.data), (ring, u32::from(blocks), Data::Host));
        self.i[usize::from(ring)].write(&p);
        p
    }

    /// Fig. 10 on `ring`: P reads 632 and writes 631 if it publishes.
    fn p_round(&mut self, ring: u8) -> Round {
        let i = &mut self.i[usize::from(ring)];
        let round = self.p.control(ring, i.c632);
        if let Round::Publish(ci) = round {
            i.c631 = Some(ci);
        }
        round
    }

    /// Fig. 12 on `ring`: S reads 631, then the units it asks for, and hands them back.
    /// Returns the ids put in the reorder buffer.
    fn s_read(&mut self, ring: u8) -> Vec<u32> {
        let i = &self.i[usize::from(ring)];
        let Some((from, units)) = self.s.poll(ring, i.c631) else { return Vec::new() };
        let tags = i.read(from, units);
        let mut held = Vec::new();
        let taken = self.s.fetched(ring, from, &tags, |h| held.push(h.meta.id.0)).expect("a read at S's read position");
        assert_eq!(taken, units, "every journal read is whole");
        held
    }

    /// S applies every journal it may, in order, writing each ring's 632 after each.
    fn s_apply(&mut self) -> Vec<u32> {
        let mut out = Vec::new();
        while let Some(h) = self.s.next() {
            self.s.applied(h).expect("the journal next() gave is held");
            out.push(h.meta.id.0);
            for r in 0..2u8 {
                self.i[usize::from(r)].c632 = self.s.record(r);
            }
        }
        self.applied.extend(&out);
        out
    }

    /// The ids P keeps (not confirmed), in host order.
    fn kept(&self) -> Vec<u32> {
        self.p.kept.iter().map(|k| k.placed.meta.id.0).collect()
    }

    /// The ids S holds in its reorder buffer, sorted.
    fn held(&self) -> Vec<u32> {
        let mut v: Vec<u32> = self.s.held.iter().map(|h| h.meta.id.0).collect();
        v.sort_unstable();
        v
    }
}

fn p_ci(head: u32, size: u32) -> ControlInfo {
    ControlInfo { owner: Owner::Primary, head: Pos(head), size, heartbeat: 0 }
}

fn s_ci(head: u32, size: u32) -> ControlInfo {
    ControlInfo { owner: Owner::Secondary(0), head: Pos(head), size, heartbeat: 0 }
}

fn acks(from: u32, to: u32) -> Option<Acks> {
    Some(Acks { from: ReqId(from), to: ReqId(to) })
}

// =============================================================================================
// Worked examples
// =============================================================================================

/// Fig. 16 mode (2) ([0159]-[0160], note 4.11): P distributes one group's journals over I_A and
/// I_B with one consecutive id sequence; S sorts what it collects and applies in id order (S3).
/// S reads I_B first: it holds j2 but must not apply it before j1 arrives. Each ring's head
/// in 632 moves only over journals applied.
#[test]
fn fig16_mode2_sorted_apply_and_per_ring_heads() {
    for variant in VARIANTS {
        let mut w = World::new(variant);
        let j1 = w.put(0, 1, 1);
        let j2 = w.put(1, 2, 1);
        let j3 = w.put(0, 3, 1);
        // "The request ID is unique and consecutive across the whole group and across all
        // the I's": 1, 2, 3, whichever ring.
        assert_eq!([j1.meta.id, j2.meta.id, j3.meta.id], [ReqId(1), ReqId(2), ReqId(3)]);
        assert_eq!([(j1.ring, j1.pos), (j2.ring, j2.pos), (j3.ring, j3.pos)], [(0, Pos(0)), (1, Pos(0)), (0, Pos(1))]);
        assert!(j1.meta.ts < j2.meta.ts && j2.meta.ts < j3.meta.ts, "time stamps follow the ids (claims 10, 20)");
        // Completions in host order.
        assert_eq!(w.p.journal_written(ReqId(1)), acks(1, 1));
        assert_eq!(w.p.journal_written(ReqId(2)), acks(2, 2));
        assert_eq!(w.p.journal_written(ReqId(3)), acks(3, 3));
        // Fig. 10 on each intermediate: 631 covers that ring's journals.
        assert_eq!(w.p_round(0), Round::Publish(p_ci(0, 2)));
        assert_eq!(w.p_round(1), Round::Publish(p_ci(0, 1)));

        // S reads I_B first: j2 is held, but the next id is 1 (S3: no applying across a gap).
        assert_eq!(w.s_read(1), [2]);
        assert_eq!(w.s.next(), None, "j2 waits for j1");
        assert!(w.s_apply().is_empty());
        assert_eq!(w.s.applied, ReqId(0));
        // Its head on I_B stays at j2 (not applied), though it read past it.
        assert_eq!(w.s.record(1), Some(s_ci(0, 1)));
        assert_eq!(w.s.rings[1].read, Pos(1));

        // S reads I_A: j1 and j3. Now it applies j1, j2, j3 in that order.
        assert_eq!(w.s_read(0), [1, 3]);
        assert_eq!(w.held(), [1, 2, 3]);
        assert_eq!(w.s.record(0), Some(s_ci(0, 2)));
        let h1 = w.s.next().expect("j1 is next");
        assert_eq!((h1.meta.id, h1.ring, h1.pos, h1.units), (ReqId(1), 0, Pos(0), 1));
        w.s.applied(h1).unwrap();
        // After j1: I_A's head is j3 (held), I_B's is still j2.
        assert_eq!(w.s.record(0), Some(s_ci(1, 1)));
        assert_eq!(w.s.record(1), Some(s_ci(0, 1)));
        for r in 0..2u8 {
            w.i[usize::from(r)].c632 = w.s.record(r);
        }
        // P learns j1 is confirmed and forgets it (1004), and only it.
        assert_eq!(w.p_round(0), Round::Publish(p_ci(1, 1)));
        assert_eq!(w.kept(), [2, 3]);

        let h2 = w.s.next().expect("j2 is next");
        assert_eq!((h2.meta.id, h2.ring), (ReqId(2), 1));
        w.s.applied(h2).unwrap();
        assert_eq!(w.s.record(0), Some(s_ci(1, 1)), "j3 is not applied: I_A's head stays");
        assert_eq!(w.s.record(1), Some(s_ci(1, 0)));
        let h3 = w.s.next().expect("j3 is next");
        assert_eq!(h3.meta.id, ReqId(3));
        w.s.applied(h3).unwrap();
        assert_eq!(w.s.record(0), Some(s_ci(2, 0)));
        assert_eq!(w.s.next(), None);
        assert_eq!(w.s.applied, ReqId(3));
        for r in 0..2u8 {
            w.i[usize::from(r)].c632 = w.s.record(r);
        }
        // Every journal confirmed: P keeps nothing.
        assert_eq!(w.p_round(0), Round::Publish(p_ci(2, 0)));
        assert_eq!(w.p_round(1), Round::Publish(p_ci(1, 0)));
        assert!(w.kept().is_empty());
        assert_eq!(w.p.outstanding(), 0);
    }
}

/// Failure of one intermediate ([0161], note 4.11, S16, L6): I_A fails while j1 is on it, not
/// confirmed (its write fails). P resends j1 through I_B with its original id and its kept
/// image, and completes the host writes in order: j2, complete earlier, is not acknowledged
/// before j1's resend completes. S applies j1 then j2.
#[test]
fn resend_through_healthy_ring_keeps_id_image_and_ack_order() {
    for variant in VARIANTS {
        let mut w = World::new(variant);
        let j1 = w.put(0, 1, 1);
        let j2 = w.put(1, 2, 1);
        assert_eq!((j2.meta.id, j2.ring, j2.pos), (ReqId(2), 1, Pos(0)));
        // j2's write completes first; j1 is still being written: nobody is acknowledged
        // (in-order completion).
        assert_eq!(w.p.journal_written(ReqId(2)), None);
        // j1's write answers an error: I_A is down.
        w.p.ring_failed(0);
        assert!(!w.p.up(0) && w.p.up(1));
        assert_eq!(w.p.pair, PairState::Pair, "one intermediate is left");
        assert_eq!(w.p.host_write(0, 0, 9, 1), Err(Refused::PathDown(0)), "no new journal on a failed intermediate");
        assert!(w.p.resend_waiting());
        assert_eq!(w.p.outstanding(), 2, "j2 on I_B plus j1 waiting");
        // The resend: same id, same metadata, the kept image, on I_B after j2.
        let r1 = w.p.resend().expect("j1 is resent");
        assert_eq!(r1, Placed { meta: j1.meta, ring: 1, pos: Pos(1), units: 1, data: Data::Kept(ReqId(1)) });
        assert_eq!(w.p.resend(), None, "nothing else waits");
        assert!(!w.p.resend_waiting());
        w.i[1].write(&r1);
        // Now j1 and j2 are acknowledged together, in host order.
        assert_eq!(w.p.journal_written(ReqId(1)), acks(1, 2));
        assert_eq!(w.p.journal_written(ReqId(1)), None, "no second completion");
        // I_A gets no more rounds; I_B's 631 covers j2 and the resent j1.
        assert_eq!(w.p_round(0), Round::Idle);
        assert_eq!(w.p_round(1), Round::Publish(p_ci(0, 2)));

        // S: the read of I_A's 631 fails, so it stops reading I_A.
        assert_eq!(w.s.poll(0, None), None);
        assert!(!w.s.reads(0));
        assert_eq!(w.s_read(0), Vec::<u32>::new());
        // I_B holds j2 then j1; S applies j1 first (L6: the gap closes through the resend).
        assert_eq!(w.s_read(1), [2, 1]);
        assert_eq!(w.s_apply(), [1, 2]);
        assert_eq!(w.s.record(1), Some(s_ci(2, 0)));
        assert_eq!(w.p_round(1), Round::Publish(p_ci(2, 0)));
        assert!(w.kept().is_empty());
    }
}

/// S16's de-duplication: S read and applied j1 from I_A, and I_A fails before P learns it
/// (P's read of I_A's 632 fails). P resends j1 on I_B; S drops it (it has applied j1), holds
/// nothing and applies nothing, and its head on I_B moves past the duplicate once it settles.
/// j1 is applied exactly once.
#[test]
fn duplicate_from_resend_is_dropped() {
    for variant in VARIANTS {
        let mut w = World::new(variant);
        let j1 = w.put(0, 1, 1);
        assert_eq!(w.p.journal_written(ReqId(1)), acks(1, 1));
        assert_eq!(w.p_round(0), Round::Publish(p_ci(0, 1)));
        assert_eq!(w.s_read(0), [1]);
        assert_eq!(w.s_apply(), [1]);
        assert_eq!(w.s.record(0), Some(s_ci(1, 0)));
        // I_A fails before P reads that 632: P's read fails.
        assert_eq!(w.p.control(0, None), Round::Failed);
        assert!(!w.p.up(0));
        assert_eq!(w.kept(), [1], "P does not know S has j1");
        let r1 = w.p.resend().expect("j1 is resent");
        assert_eq!(r1, Placed { meta: j1.meta, ring: 1, pos: Pos(0), units: 1, data: Data::Kept(ReqId(1)) });
        w.i[1].write(&r1);
        assert_eq!(w.p.journal_written(ReqId(1)), None, "the host was told already");
        assert_eq!(w.p_round(1), Round::Publish(p_ci(0, 1)));

        // S reads the duplicate: consumed, not held, nothing to apply.
        assert_eq!(w.s.poll(1, w.i[1].c631), Some((Pos(0), 1)));
        let tags = w.i[1].read(Pos(0), 1);
        let mut held = Vec::new();
        assert_eq!(w.s.fetched(1, Pos(0), &tags, |h| held.push(h)), Ok(1));
        assert!(held.is_empty(), "the duplicate is not held");
        assert!(w.s.held.is_empty());
        assert_eq!(w.s.next(), None);
        // The settle after the fetch moves I_B's head past the duplicate.
        assert_eq!(w.s.record(1), Some(s_ci(1, 0)));
        w.i[1].c632 = w.s.record(1);

        // j2 on I_B: P's round confirms the resent j1 (S's head is past it) and forgets it.
        let j2 = w.put(1, 2, 1);
        assert_eq!(j2.pos, Pos(1));
        assert_eq!(w.p.journal_written(ReqId(2)), acks(2, 2));
        assert_eq!(w.p_round(1), Round::Publish(p_ci(1, 1)));
        assert_eq!(w.kept(), [2]);
        assert_eq!(w.s_read(1), [2]);
        assert_eq!(w.s_apply(), [2]);
        assert_eq!(w.s.record(1), Some(s_ci(2, 0)));
        assert_eq!(w.applied, [1, 2], "j1 applied exactly once");
        assert_eq!(w.p_round(1), Round::Publish(p_ci(2, 0)));
        assert!(w.kept().is_empty());
    }
}

/// The room rule (INTERPRETATION in `multi.rs`, L6): the hardened P admits a journal only while
/// every unconfirmed unit on all intermediates fits one ring (Q = 4); the faithful P checks the
/// chosen ring's own free space only (904). Then I_A fails: the hardened P's survivor takes its
/// journals and S applies all (L6); the faithful P, with both rings full, cannot resend, and S
/// waits on the gap forever.
#[test]
fn room_rule_hardened_refuses_faithful_admits() {
    let mut ws: Vec<World> = VARIANTS.iter().map(|v| World::new(*v)).collect();
    for w in ws.iter_mut() {
        w.put(0, 1, 1);
        w.put(0, 2, 1);
        w.put(1, 3, 1);
        w.put(1, 4, 1);
        assert_eq!(w.p.outstanding(), 4);
        for id in 1..=4 {
            assert_eq!(w.p.journal_written(ReqId(id)), acks(id, id));
        }
    }
    let (faithful, hardened) = ws.split_at_mut(1);
    let (f, h) = (&mut faithful[0], &mut hardened[0]);
    // Four units unconfirmed: a fifth does not fit one ring, whichever ring is chosen.
    assert_eq!(h.p.host_write(1, 0, 5, 1), Err(Refused::Busy));
    assert_eq!(h.p.host_write(0, 0, 5, 1), Err(Refused::Busy));
    assert_eq!(h.p.next_id, ReqId(5), "a refused write takes no id");
    // The faithful P checks I_B's own room: 2 + 1 <= 4.
    let j5 = f.put(1, 5, 1);
    assert_eq!((j5.meta.id, j5.pos), (ReqId(5), Pos(2)));
    f.put(1, 6, 1);
    f.put(0, 7, 1);
    f.put(0, 8, 1);
    // Both rings full: own room is refused in both variants.
    assert_eq!(f.p.host_write(0, 0, 9, 1), Err(Refused::Busy));
    assert_eq!(f.p.host_write(1, 0, 9, 1), Err(Refused::Busy));
    for id in 5..=8 {
        assert_eq!(f.p.journal_written(ReqId(id)), acks(id, id));
    }

    // I_A fails with j1, j2 on it (and, faithful, j7, j8).
    for (w, on_b) in [(&mut *f, 4), (&mut *h, 2)] {
        w.p.ring_failed(0);
        assert_eq!(w.s.poll(0, None), None);
        assert_eq!(w.p_round(1), Round::Publish(p_ci(0, on_b)));
    }
    // Hardened: I_B takes j1, j2 (original ids); S applies 1..=4 (L6).
    let r1 = h.p.resend().expect("j1 fits I_B");
    let r2 = h.p.resend().expect("j2 fits I_B");
    assert_eq!(h.p.resend(), None);
    assert_eq!(
        [(r1.meta.id, r1.ring, r1.pos), (r2.meta.id, r2.ring, r2.pos)],
        [(ReqId(1), 1, Pos(2)), (ReqId(2), 1, Pos(3))]
    );
    for r in [r1, r2] {
        h.i[1].write(&r);
        assert_eq!(h.p.journal_written(r.meta.id), None, "acknowledged already");
    }
    assert_eq!(h.p_round(1), Round::Publish(p_ci(0, 4)));
    assert_eq!(h.s_read(1), [3, 4, 1, 2]);
    assert_eq!(h.s_apply(), [1, 2, 3, 4]);
    assert_eq!(h.p_round(1), Round::Publish(p_ci(4, 0)));
    assert!(h.kept().is_empty());

    // Faithful: I_B is full of j3..j6, which S cannot apply before j1; nothing frees it, so
    // j1 is never resent (the stall L6 describes, which the room rule prevents).
    assert!(f.p.resend_waiting());
    assert_eq!(f.p.resend(), None);
    assert_eq!(f.s_read(1), [3, 4, 5, 6]);
    assert!(f.s_apply().is_empty());
    assert_eq!(f.s.record(1), Some(s_ci(0, 4)));
    assert_eq!(f.p_round(1), Round::Publish(p_ci(0, 4)));
    assert_eq!(f.p.resend(), None, "still no room: stalled");
    assert_eq!(f.p.host_write(1, 0, 9, 1), Err(Refused::Busy));
}

/// No intermediate left ([0161] cannot rebuild; Fig. 11): P suspends, with a bitmap of every
/// journal not confirmed (a confirmed one is left out), starting at the oldest of them. Later
/// host writes go to the bitmap only.
#[test]
fn all_rings_failed_suspends_with_bitmap() {
    for variant in VARIANTS {
        let mut w = World::new(variant);
        // j1 (block 3) on I_A, confirmed by S.
        w.put(0, 3, 1);
        assert_eq!(w.p.journal_written(ReqId(1)), acks(1, 1));
        assert_eq!(w.p_round(0), Round::Publish(p_ci(0, 1)));
        assert_eq!(w.s_read(0), [1]);
        assert_eq!(w.s_apply(), [1]);
        assert_eq!(w.p_round(0), Round::Publish(p_ci(1, 0)));
        assert!(w.kept().is_empty());
        // j2 (block 5) on I_A, complete; j3 (blocks 9-10) on I_B, still being written.
        w.put(0, 5, 1);
        w.put(1, 9, 2);
        assert_eq!(w.p.journal_written(ReqId(2)), acks(2, 2));
        assert_eq!(w.kept(), [2, 3]);

        w.p.ring_failed(0);
        assert_eq!(w.p.pair, PairState::Pair);
        assert!(w.p.bitmap.is_empty());
        w.p.ring_failed(1);
        assert_eq!(w.p.pair, PairState::Suspend);
        assert_eq!(w.p.bitmap.bits, (1 << 5) | (1 << 9) | (1 << 10));
        assert!(!w.p.bitmap.marked(3), "j1 was confirmed");
        assert_eq!(w.p.bitmap.start_id, ReqId(2), "the oldest journal not confirmed");
        // Suspended: no resend, no rounds, host writes are marked and completed.
        assert!(!w.p.resend_waiting());
        assert_eq!(w.p.resend(), None);
        assert_eq!(w.p_round(0), Round::Idle);
        assert_eq!(w.p_round(1), Round::Idle);
        assert_eq!(w.p.host_write(1, 0, 20, 1), Ok(None));
        assert!(w.p.bitmap.marked(20));
        assert_eq!(w.p.bitmap.start_id, ReqId(2));
        // A second failure report changes nothing.
        let before = w.p.clone();
        w.p.ring_failed(1);
        assert_eq!(w.p, before);
    }
}

/// Bad input is answered, never a panic: a read not at S's read position, a journal applied
/// that is not held (or twice), an intermediate index out of range, torn units.
#[test]
fn bad_input_is_declined_not_panicking() {
    let mut w = World::new(Variant::Hardened);
    w.put(0, 1, 1);
    w.put(0, 2, 1);
    assert_eq!(w.p.journal_written(ReqId(1)), acks(1, 1));
    assert_eq!(w.p.journal_written(ReqId(2)), acks(2, 2));
    assert_eq!(w.p_round(0), Round::Publish(p_ci(0, 2)));

    // fetched at a position that is not S's read position (0).
    let tags = w.i[0].read(Pos(1), 1);
    assert_eq!(
        w.s.fetched(0, Pos(1), &tags, |_| panic!("nothing held")),
        Err(Declined::StaleRead { head: Pos(0), got: Pos(1) })
    );
    assert_eq!(w.s.rings[0].read, Pos(0), "a declined read changes nothing");
    // fetched on an intermediate S does not have.
    assert_eq!(w.s.fetched(7, Pos(0), &tags, |_| panic!("nothing held")), Err(Declined::NothingPending));

    // A torn journal (its second unit's code does not match) is not taken.
    let torn_meta = JournalMeta { id: ReqId(1), ts: Ts(1), volume: 0, addr: 0, blocks: 2 };
    let torn =
        [UnitTag { meta: torn_meta, serial: 0, intact: true }, UnitTag { meta: torn_meta, serial: 1, intact: false }];
    assert_eq!(w.s.fetched(1, Pos(0), &torn, |_| panic!("a torn journal is not held")), Ok(0));
    // Units of no journal (zeroed) are not taken either.
    assert_eq!(w.s.fetched(1, Pos(0), &[UnitTag::default(); 2], |_| panic!("id 0 is no journal")), Ok(0));
    assert_eq!(w.s.rings[1].read, Pos(0));

    // applied of a journal not held.
    let ghost = Held { meta: JournalMeta { id: ReqId(1), ..JournalMeta::default() }, ring: 0, pos: Pos(0), units: 1, copy: false };
    assert_eq!(w.s.applied(ghost), Err(Declined::NothingPending));
    assert_eq!(w.s.applied, ReqId(0));
    // A real one, then the same one again.
    assert_eq!(w.s_read(0), [1, 2]);
    let h1 = w.s.next().unwrap();
    assert_eq!(w.s.applied(h1), Ok(()));
    assert_eq!(w.s.applied(h1), Err(Declined::NothingPending));
    assert_eq!(w.s.applied, ReqId(1));
    assert_eq!(w.held(), [2]);

    // Out-of-range intermediate indexes.
    assert_eq!(w.s.poll(2, Some(p_ci(0, 4))), None);
    assert_eq!(w.s.poll(255, None), None);
    assert!(!w.s.reads(9));
    assert_eq!(w.s.record(9), None);
    assert_eq!(w.p.control(2, Some(s_ci(0, 0))), Round::Idle);
    assert_eq!(w.p.control(255, None), Round::Idle);
    assert!(!w.p.up(4));
    assert_eq!(w.p.host_write(3, 0, 1, 1), Err(Refused::PathDown(3)));
    w.p.ring_failed(200);
    assert_eq!(w.p.pair, PairState::Pair);
    assert!(w.p.up(0) && w.p.up(1));
    // A completion for an id P never issued.
    assert_eq!(w.p.journal_written(ReqId(99)), None);
    // A journal larger than the ring.
    assert_eq!(w.p.host_write(1, 0, 1, 5), Err(Refused::TooLarge(5)));
    // A 632 claiming a head beyond what P wrote confirms only what P completed.
    assert_eq!(w.p.control(0, Some(s_ci(100, 0))), Round::Publish(p_ci(2, 0)));
}

/// S16 ("none is skipped") and the Merger's own doc of `Reader::head` ("the first unit of a
/// journal not yet applied"), with three intermediates: S holds j2 (read from I_A) and waits for
/// j1 (on I_C, not read yet). I_A fails; P resends j2 on I_B. S drops that copy as a duplicate,
/// but its settle then moves I_B's head past it, though j2 is not applied. P reads that 632,
/// takes j2 as confirmed and forgets it. If I_C and I_B then fail, P suspends with a bitmap
/// that lacks j2's block, while S never applied j2 (it cannot: j1 never arrived, and the
/// reorder buffer is not durable): a resync from that bitmap leaves j2's block stale at S.
/// (Found by this test; the Merger now keeps such a copy in its buffer, without data, pinning
/// the ring's head until j2 is applied.)
#[test]
fn head_stays_at_copy_of_unapplied_journal() {
    let mut p: Striper<16> = Striper::new(GEO, 1, Variant::Hardened, FaultSet::default(), 3);
    let mut s: Merger<16> = Merger::new(GEO, 8, FaultSet::default(), 0, 3);
    let mut i = [Inter::new(4), Inter::new(4), Inter::new(4)];
    // j1 (block 1) on I_C, j2 (block 2) on I_A; both complete.
    let j1 = p.host_write(2, 0, 1, 1).unwrap().unwrap();
    let j2 = p.host_write(0, 0, 2, 1).unwrap().unwrap();
    i[2].write(&j1);
    i[0].write(&j2);
    assert_eq!(p.journal_written(ReqId(1)), acks(1, 1));
    assert_eq!(p.journal_written(ReqId(2)), acks(2, 2));
    // P publishes I_A's 631; S reads I_A and holds j2 (it waits for j1).
    let Round::Publish(c631) = p.control(0, s.record(0)) else { panic!("P publishes") };
    assert_eq!(s.poll(0, Some(c631)), Some((Pos(0), 1)));
    assert_eq!(s.fetched(0, Pos(0), &i[0].read(Pos(0), 1), |_| {}), Ok(1));
    assert_eq!(s.next(), None);
    // I_A fails (P's read of its 632 fails): j2 is resent on I_B.
    assert_eq!(p.control(0, None), Round::Failed);
    let r2 = p.resend().expect("j2 is resent");
    assert_eq!((r2.meta.id, r2.ring, r2.pos), (ReqId(2), 1, Pos(0)));
    i[1].write(&r2);
    assert_eq!(p.journal_written(ReqId(2)), None);
    let Round::Publish(c631) = p.control(1, s.record(1)) else { panic!("P publishes") };
    // S reads the copy and drops it (it holds j2 already).
    assert_eq!(s.poll(1, Some(c631)), Some((Pos(0), 1)));
    assert_eq!(s.fetched(1, Pos(0), &i[1].read(Pos(0), 1), |_| panic!("a duplicate")), Ok(1));
    assert_eq!(s.next(), None, "the copy is never applied on its own");
    assert_eq!(s.applied, ReqId(0), "S has applied nothing");
    // Intent: S's head on I_B stays at j2's copy while j2 is not applied, so P keeps j2.
    let rec = s.record(1).unwrap();
    let _ = p.control(1, Some(rec));
    let kept: Vec<u32> = p.kept.iter().map(|k| k.placed.meta.id.0).collect();
    assert_eq!(kept, [1, 2], "P forgot j2 though S has not applied it (632 on I_B: {rec:?})");
    // And with I_C and I_B failing next, P's bitmap covers j2's block.
    p.ring_failed(2);
    p.ring_failed(1);
    assert_eq!(p.pair, PairState::Suspend);
    assert!(p.bitmap.marked(2), "j2's block is missing from P's bitmap: {:?}", p.bitmap);
}

// =============================================================================================
// Property: the Merger against a naive reference
// =============================================================================================

/// A delivery schedule over two rings: journals 1..=n (one unit each, n = `ring.len()`, 1 to
/// 8), `ring[k]` the ring of id k+1; `steps` interleave the rings' reads and inject duplicates
/// of delivered journals.
#[derive(Clone, Debug)]
struct Case {
    ring: Vec<bool>,
    /// `(dup, on_ring1, pick, join)`: deliver the next original journal of a ring (`dup`
    /// false; the ring of `on_ring1` if it has one left, else the other), or append to ring
    /// `on_ring1` a copy of the `pick`-th delivered journal (`dup` true; skipped while none
    /// is delivered). `join`: read in the same fetch as the previous delivery if that was on
    /// the same ring.
    steps: Vec<(bool, bool, u8, bool)>,
}

impl Case {
    fn n(&self) -> u32 {
        self.ring.len() as u32
    }
}

impl Arbitrary for Case {
    fn arbitrary(g: &mut Gen) -> Case {
        let n = 1 + usize::arbitrary(g) % 8;
        let ring = (0..n).map(|_| bool::arbitrary(g)).collect();
        let len = usize::arbitrary(g) % 25;
        let steps = (0..len).map(|_| <(bool, bool, u8, bool)>::arbitrary(g)).collect();
        Case { ring, steps }
    }

    /// Shorter or simpler vectors (every candidate is strictly smaller, so shrinking ends).
    fn shrink(&self) -> Box<dyn Iterator<Item = Case>> {
        let tuple = (self.ring.clone(), self.steps.clone());
        Box::new(tuple.shrink().filter(|(ring, _)| !ring.is_empty()).map(|(ring, steps)| Case { ring, steps }))
    }
}

/// One unit: journal `id`, one block.
fn unit(id: u32) -> UnitTag {
    UnitTag { meta: JournalMeta { id: ReqId(id), ts: Ts(id), volume: 0, addr: id, blocks: 1 }, serial: 0, intact: true }
}

/// The deliveries of a case, in order: (ring, id, join).
fn deliveries(c: &Case) -> Vec<(u8, u32, bool)> {
    let n = c.n();
    let mut queues: [Vec<u32>; 2] = [Vec::new(), Vec::new()];
    for id in 1..=n {
        queues[usize::from(c.ring[id as usize - 1])].push(id);
    }
    let mut taken = [0usize; 2];
    let mut delivered: Vec<u32> = Vec::new();
    let mut out = Vec::new();
    for &(dup, r1, pick, join) in &c.steps {
        if dup {
            if delivered.is_empty() || out.len() >= 24 {
                continue;
            }
            let id = delivered[usize::from(pick) % delivered.len()];
            out.push((u8::from(r1), id, join));
        } else {
            let pref = usize::from(r1);
            let r = if taken[pref] < queues[pref].len() {
                pref
            } else if taken[1 - pref] < queues[1 - pref].len() {
                1 - pref
            } else {
                continue;
            };
            let id = queues[r][taken[r]];
            taken[r] += 1;
            delivered.push(id);
            out.push((r as u8, id, join));
        }
    }
    // The rest of the originals, ring 0 first.
    for r in 0..2 {
        for &id in &queues[r][taken[r]..] {
            out.push((r as u8, id, false));
        }
    }
    out
}

/// The reference: the longest gap-free prefix 1..=k of the delivered ids.
fn prefix(delivered: &[bool]) -> u32 {
    delivered.iter().skip(1).take_while(|d| **d).count() as u32
}

fn prop_merger_applies_gap_free_prefix(c: Case) -> TestResult {
    let list = deliveries(&c);
    let geometry = Geometry { queue_units: 64, header_units: 0, trailer_units: 0 };
    let mut m: Merger<16> = Merger::new(geometry, 64, FaultSet::default(), 0, 2);
    // The rings as written (P writes everything up front; S reads in the schedule's order).
    let mut rings: [Vec<UnitTag>; 2] = [Vec::new(), Vec::new()];
    for &(r, id, _) in &list {
        rings[usize::from(r)].push(unit(id));
    }
    // The reads: runs of deliveries on one ring, split where `join` is false.
    let mut batches: Vec<(u8, u32)> = Vec::new();
    for &(r, _, join) in &list {
        match batches.last_mut() {
            Some((br, units)) if join && *br == r => *units += 1,
            _ => batches.push((r, 1)),
        }
    }
    let mut read = [0u32; 2];
    let mut delivered = vec![false; c.n() as usize + 1];
    let mut held_ever: Vec<u32> = Vec::new();
    let mut applied: Vec<u32> = Vec::new();
    for (r, units) in batches {
        let ri = usize::from(r);
        let written = rings[ri].len() as u32;
        let ci = ControlInfo { owner: Owner::Primary, head: Pos(0), size: written, heartbeat: 0 };
        let polled = m.poll(r, Some(ci));
        if polled != Some((Pos(read[ri]), written - read[ri])) {
            return TestResult::error(format!("poll of ring {r} gave {polled:?}, read {} written {written}", read[ri]));
        }
        let from = read[ri] as usize;
        let slice = &rings[ri][from..from + units as usize];
        let mut held = Vec::new();
        match m.fetched(r, Pos(read[ri]), slice, |h| held.push(h)) {
            Ok(t) if t == units => {}
            other => return TestResult::error(format!("fetched {units} units of ring {r}: {other:?}")),
        }
        for h in &held {
            if h.ring != r || h.units != 1 || h.pos.0 < read[ri] || h.pos.0 >= read[ri] + units {
                return TestResult::error(format!("held {h:?} is not where it was read (ring {r}, {read:?}, {units})"));
            }
            if held_ever.contains(&h.meta.id.0) {
                return TestResult::error(format!("id {} held twice", h.meta.id.0));
            }
            held_ever.push(h.meta.id.0);
        }
        read[ri] += units;
        for u in slice {
            delivered[u.meta.id.0 as usize] = true;
        }
        while let Some(h) = m.next() {
            if m.applied(h).is_err() {
                return TestResult::error(format!("applied({h:?}) declined"));
            }
            applied.push(h.meta.id.0);
        }
        let k = prefix(&delivered);
        let want: Vec<u32> = (1..=k).collect();
        if applied != want {
            return TestResult::error(format!("applied {applied:?}, reference {want:?}"));
        }
        if m.applied != ReqId(k) {
            return TestResult::error(format!("Merger::applied {:?}, reference {k}", m.applied));
        }
        // Each ring's published head moves only over applied journals, copies included (see
        // `head_stays_at_copy_of_unapplied_journal`), and not past the read.
        for q in 0..2u8 {
            let rec = m.record(q).expect("two rings");
            let qi = usize::from(q);
            let passed = |u: &UnitTag| u.meta.id.0 > k;
            if rec.head.0 > read[qi] || rings[qi][..rec.head.0 as usize].iter().any(passed) {
                return TestResult::error(format!(
                    "ring {q}'s head {:?} passes an unapplied journal (read {})",
                    rec.head, read[qi]
                ));
            }
        }
    }
    // Every original was delivered by the end: all of 1..=n applied, each once.
    if applied != (1..=c.n()).collect::<Vec<_>>() || !m.held.is_empty() {
        return TestResult::error(format!("at the end applied {applied:?}, held {:?}", m.held));
    }
    TestResult::passed()
}

#[test]
fn merger_applies_exactly_the_gap_free_prefix() {
    QuickCheck::new().tests(2000).quickcheck(prop_merger_applies_gap_free_prefix as fn(Case) -> TestResult);
}
