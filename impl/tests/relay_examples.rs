//! The text's examples on the relay roles: the Fig. 16 timeline, the worked example of note
//! section 9 (a drop, a resend, the legal images), the pair set-up of Figs. 10/11, the bitmaps
//! of Fig. 12, the failover of Fig. 13 with SE alive and dead, and F1's spurious give-up.

use rcopy::fault::FaultSet;
use rcopy::relay::{
    Addr, Bitmap, Block, Body, CoreConfig, CoreDevice, CoreStep, Failover, Id, Kind, LogEntry, Lun, PairRow, PairState, Reflected,
    RouteRow, Routing, Seq, SourceConfig, SourceEdge, SourceReceived, SsReply, TargetConfig, TargetEdge, TargetReceived, Time,
    Timeout, Transmit, TsAnswer, Variant, VolRef, WriteAck, Wwn,
};
use std::collections::BTreeMap;

const SE: Addr = Addr(104);
const CORE: Addr = Addr(202);
const TE: Addr = Addr(105);
const SRC: VolRef = VolRef { wwn: Wwn(0x112), lun: Lun(113) };
const TGT: VolRef = VolRef { wwn: Wwn(0x122), lun: Lun(123) };
const ID: Id = Id(1);

type Se = SourceEdge<char, 8>;
type Te = TargetEdge<char, 8>;
type Core = CoreDevice<char, 8>;

fn routing() -> Routing {
    let route = rcopy::relay::Route::of(&[SE, CORE, TE]).unwrap();
    Routing::new(&[RouteRow { source: SRC.wwn, target: TGT.wwn, route }], true).unwrap()
}

fn row(state: PairState) -> PairRow {
    PairRow { source: SRC, target: TGT, state, id: ID, bitmap: Bitmap::EMPTY }
}

fn roles(variant: Variant, state: PairState) -> (Se, Core, Te) {
    let se = SourceConfig {
        me: SE,
        variant,
        faults: FaultSet::NONE,
        r_max: 2,
        first_seq: Seq(1),
        durable: true,
        region_blocks: 1,
    };
    let te = TargetConfig { me: TE, variant, faults: FaultSet::NONE, rc0: Seq(0), durable: true, immediate: false };
    (
        Se::new(se, &[row(state)]),
        Core::new(CoreConfig { me: CORE, batching: false, faults: FaultSet::NONE }),
        Te::new(te, &[row(state)]),
    )
}

/// TS: a volume of blocks, and whether it takes RIO(WR)s.
#[derive(Default)]
struct Ts {
    vol: BTreeMap<u32, char>,
}

impl Ts {
    fn apply(&mut self, rio: &Body<char>) -> TsAnswer {
        match rio {
            Body::Wr { block, data, .. } => {
                self.vol.insert(block.0, *data);
                TsAnswer::Ok
            }
            Body::Resync => TsAnswer::Dpok(Bitmap::EMPTY),
            _ => TsAnswer::Ok,
        }
    }
}

/// SE sends what it offers first; the core forwards it. Returns what reached the core's next
/// hop (TE).
fn se_send(se: &mut Se, core: &mut Core) -> LogEntry<char> {
    let i = { se.sendable().next().expect("SE has something to send") };
    let t = se.transmit(i, &routing()).unwrap().transmit;
    assert_eq!(t.to, CORE, "1905: SE sends to the next device on the route");
    match core.receive(&routing(), t.entry) {
        CoreStep::Forward(Transmit { to, entry }) => {
            assert_eq!(to, TE);
            entry
        }
        other => panic!("the core did not forward: {other:?}"),
    }
}

/// TE reflects everything it can into TS; the answers go back through the core. Returns them
/// as SE receives them.
fn te_reflect_all(te: &mut Te, core: &mut Core, ts: &mut Ts) -> Vec<LogEntry<char>> {
    let mut back = vec![];
    loop {
        let Some(id) = te.reflectable().next() else { break };
        let Reflected::ToTs(rio) = te.reflect(id).unwrap() else { panic!("passed over") };
        let answer = ts.apply(&rio.rio);
        if let Some(a) = te.ts_answer(id, rio.seq, answer, Time(9)).unwrap() {
            let t = te.route(&routing(), a).unwrap();
            assert_eq!(t.to, CORE, "the answer goes back by the route walked back");
            match core.receive(&routing(), t.entry) {
                CoreStep::Forward(Transmit { to, entry }) => {
                    assert_eq!(to, SE);
                    back.push(entry);
                }
                other => panic!("{other:?}"),
            }
        }
    }
    back
}

fn write(se: &mut Se, block: u32, v: char) -> Seq {
    match se.write(SRC, TGT, Block(block), 1, v, Time(1)).unwrap() {
        WriteAck::Logged { seq, .. } => seq,
        other => panic!("{other:?}"),
    }
}

#[test]
fn fig16_normal_write_through_one_core() {
    let (mut se, mut core, mut te) = roles(Variant::Hardened, PairState::Duplex);
    let mut ts = Ts::default();
    // 1602-1603: SE logs the write, numbers it from CC and answers WROK.
    assert_eq!(write(&mut se, 0, 'A'), Seq(1));
    assert_eq!(se.counters(ID).unwrap().cc, Seq(2));
    assert_eq!(se.held(ID), 1);
    // 1605-1606: sent through the core; SE keeps its copy.
    let e = se_send(&mut se, &mut core);
    assert_eq!((e.kind(), e.id, e.seq, e.source, e.target), (Kind::Wr, ID, Seq(1), SRC, TGT));
    assert_eq!(se.held(ID), 1, "1605: SE keeps the sent entry");
    // 1607-1609: TE stores, reflects (RC + 1), answers with the same ID and seq, swapped.
    assert_eq!(te.receive(&e), TargetReceived::Stored);
    let back = te_reflect_all(&mut te, &mut core, &mut ts);
    assert_eq!(ts.vol, BTreeMap::from([(0, 'A')]));
    assert_eq!(te.counters(ID).unwrap().rc, Seq(1));
    assert!(te.log.is_empty(), "2011: TE deletes the WR after the WROK is sent");
    assert_eq!(back.len(), 1);
    let wrok = &back[0];
    assert_eq!((wrok.kind(), wrok.seq, wrok.source, wrok.target), (Kind::Wrok, Seq(1), TGT, SRC));
    // 1610, (11): SE deletes the matching WR; DC + 1.
    assert_eq!(se.receive(wrok), SourceReceived::Deleted { pair: 0, reply: None });
    assert_eq!(se.held(ID), 0);
    assert_eq!(se.counters(ID).unwrap().dc, 1);
    // A duplicate WROK deletes nothing and counts nothing (B21's opposite).
    assert_eq!(se.receive(wrok), SourceReceived::Unmatched);
    assert_eq!(se.counters(ID).unwrap().dc, 1);
}

/// Note section 9's worked example: seq 2 dropped at the core, resent after the timeout; TS
/// passes only through the four legal images.
#[test]
fn worked_example_drop_and_resend() {
    let (mut se, mut core, mut te) = roles(Variant::Hardened, PairState::Duplex);
    let mut ts = Ts::default();
    let legal: Vec<BTreeMap<u32, char>> = vec![
        BTreeMap::new(),
        BTreeMap::from([(0, 'A')]),
        BTreeMap::from([(0, 'A'), (1, 'B')]),
        BTreeMap::from([(0, 'C'), (1, 'B')]),
    ];
    write(&mut se, 0, 'A');
    write(&mut se, 1, 'B');
    write(&mut se, 0, 'C');
    let e1 = se_send(&mut se, &mut core);
    let _lost = se_send(&mut se, &mut core);
    let e3 = se_send(&mut se, &mut core);
    assert_eq!(se.held(ID), 3);
    te.receive(&e3);
    te.receive(&e1);
    let back = te_reflect_all(&mut te, &mut core, &mut ts);
    assert!(legal.contains(&ts.vol));
    assert_eq!(ts.vol, BTreeMap::from([(0, 'A')]), "seq 3 waits for seq 2");
    assert_eq!(te.counters(ID).unwrap().rc, Seq(1));
    for a in &back {
        se.receive(a);
    }
    assert_eq!(se.log.iter().map(|h| h.entry.seq).collect::<Vec<_>>(), vec![Seq(2), Seq(3)]);
    // The timeout of seq 2: the same entry again.
    let i = se.log.iter().position(|h| h.entry.seq == Seq(2)).unwrap();
    assert_eq!(se.timeout(i).unwrap(), Timeout::Resend);
    let again = se_send(&mut se, &mut core);
    assert_eq!((again.seq, &again.body), (Seq(2), &Body::Wr { block: Block(1), count: 1, data: 'B' }));
    te.receive(&again);
    let back = te_reflect_all(&mut te, &mut core, &mut ts);
    assert!(legal.contains(&ts.vol));
    assert_eq!(ts.vol, BTreeMap::from([(0, 'C'), (1, 'B')]));
    assert_eq!(te.counters(ID).unwrap().rc, Seq(3));
    for a in &back {
        se.receive(a);
    }
    assert_eq!(se.held(ID), 0);
    let c = se.counters(ID).unwrap();
    assert_eq!((c.cc, c.dc), (Seq(4), 3), "CC - DC = held (note S9)");
}

/// F1 (faithful): a lost WROK is never answered again, so SE gives up; hardened re-acks.
#[test]
fn lost_wrok_gives_up_in_faithful_and_is_reacked_in_hardened() {
    for variant in [Variant::Faithful, Variant::Hardened] {
        let (mut se, mut core, mut te) = roles(variant, PairState::Duplex);
        let mut ts = Ts::default();
        write(&mut se, 0, 'A');
        let e = se_send(&mut se, &mut core);
        te.receive(&e);
        let _lost_wrok = te_reflect_all(&mut te, &mut core, &mut ts);
        let mut outcome = None;
        for _ in 0..3 {
            let i = { se.timers().next().expect("the entry is still held") };
            match se.timeout(i).unwrap() {
                Timeout::Resend => {
                    let again = se_send(&mut se, &mut core);
                    match te.receive(&again) {
                        TargetReceived::Reack(a) => {
                            assert_eq!((a.kind(), a.seq), (Kind::Wrok, Seq(1)));
                            assert_eq!(se.receive(&a), SourceReceived::Deleted { pair: 0, reply: None });
                            outcome = Some("reacked");
                            break;
                        }
                        TargetReceived::Stored => assert!(te_reflect_all(&mut te, &mut core, &mut ts).is_empty()),
                        other => panic!("{other:?}"),
                    }
                }
                Timeout::GaveUp { pair } => {
                    assert_eq!(pair, 0);
                    outcome = Some("gave up");
                    break;
                }
            }
        }
        match variant {
            Variant::Faithful => {
                assert_eq!(outcome, Some("gave up"), "F1: the spurious failure Suspend");
                assert_eq!(se.pairs[0].state, PairState::FailureSuspend);
                assert!(se.pairs[0].bitmap.marked(0), "the held write is converted into 727");
                assert_eq!(te.log.len(), 2, "F2: the resends stay in TE's log forever");
            }
            Variant::Hardened => {
                assert_eq!(outcome, Some("reacked"));
                assert_eq!(se.held(ID), 0);
                assert!(te.log.is_empty());
            }
        }
    }
}

/// Figs. 10/11 (17, 18, 21, 22): pair creation and the Duplex transition move the four
/// holders in order, and the hardened TE gates the Duplex transition behind the initial copy.
#[test]
fn pair_setup_and_duplex_after_the_initial_copy() {
    let (mut se, mut core, mut te) = roles(Variant::Hardened, PairState::Simplex);
    let mut ts = Ts::default();
    assert_eq!(se.pair_create(SRC, TGT, Time(0)).unwrap(), Seq(1));
    let pc = se_send(&mut se, &mut core);
    assert_eq!(te.receive(&pc), TargetReceived::Stored);
    let back = te_reflect_all(&mut te, &mut core, &mut ts);
    assert_eq!(te.state(0), Some(PairState::InitialCopying), "2108 after TS's ICOK");
    assert_eq!(se.pairs[0].state, PairState::Simplex, "SE moves only on LE(ICOK)");
    assert_eq!(se.receive(&back[0]), SourceReceived::Deleted { pair: 0, reply: Some(SsReply::Icok) });
    assert_eq!(se.pairs[0].state, PairState::InitialCopying);
    // The initial copy (1801) and the Duplex transition, which overtakes it in the network.
    write(&mut se, 0, 'A');
    se.duplex(SRC, TGT, Time(2)).unwrap();
    let wr = se_send(&mut se, &mut core);
    let dx = se_send(&mut se, &mut core);
    assert_eq!((wr.seq, dx.seq), (Seq(2), Seq(3)));
    te.receive(&dx);
    assert!(te_reflect_all(&mut te, &mut core, &mut ts).is_empty(), "the Duplex transition waits for seq 2");
    assert_eq!(te.state(0), Some(PairState::InitialCopying));
    te.receive(&wr);
    let back = te_reflect_all(&mut te, &mut core, &mut ts);
    assert_eq!(te.state(0), Some(PairState::Duplex));
    assert_eq!(ts.vol, BTreeMap::from([(0, 'A')]));
    for a in &back {
        se.receive(a);
    }
    assert_eq!(se.pairs[0].state, PairState::Duplex);
    assert_eq!(se.held(ID), 0);
}

/// F4 (faithful): the Duplex transition is not gated: TS reaches D before the initial copy,
/// and RC skips the write's seq, which then waits forever.
#[test]
fn faithful_duplex_overtakes_the_initial_copy() {
    let (mut se, mut core, mut te) = roles(Variant::Faithful, PairState::InitialCopying);
    let mut ts = Ts::default();
    write(&mut se, 0, 'A');
    se.duplex(SRC, TGT, Time(2)).unwrap();
    let wr = se_send(&mut se, &mut core);
    let dx = se_send(&mut se, &mut core);
    te.receive(&dx);
    te_reflect_all(&mut te, &mut core, &mut ts);
    assert_eq!(te.state(0), Some(PairState::Duplex), "D before the initial copy's data");
    assert_eq!(te.counters(ID).unwrap().rc, Seq(1), "RC counted seq 3 as seq 1");
    te.receive(&wr);
    assert!(te_reflect_all(&mut te, &mut core, &mut ts).is_empty());
    assert!(ts.vol.is_empty(), "seq 2 is never reflected");
}

/// Fig. 12's bitmaps: 1211 = {b0} at SS, 727 = {b1} at SE, 1213 = {b2} at TS give 1209 =
/// {b1, b2} and the new 1211 = {b0, b1, b2}.
#[test]
fn fig12_resync_bitmaps() {
    let (mut se, mut core, mut te) = roles(Variant::Hardened, PairState::Duplex);
    write(&mut se, 1, 'B');
    let _lost = se_send(&mut se, &mut core);
    se.give_up(0);
    assert_eq!(se.pairs[0].bitmap, Bitmap(0b010), "727 = {{b1}}");
    assert_eq!(se.pairs[0].state, PairState::FailureSuspend);
    let seq = se.resync(SRC, TGT, Time(5)).unwrap();
    assert_eq!(seq, Seq(1), "hardened: the sequence is re-based");
    let rs = se_send(&mut se, &mut core);
    assert_eq!(rs.epoch.0, 1, "in a new epoch");
    te.receive(&rs);
    let Reflected::ToTs(rio) = te.reflect(ID).unwrap() else { panic!() };
    assert_eq!(rio.rio, Body::Resync);
    let dpok = te.ts_answer(ID, rio.seq, TsAnswer::Dpok(Bitmap(0b100)), Time(6)).unwrap().unwrap();
    assert_eq!(te.state(0), Some(PairState::DuplexPending));
    let SourceReceived::Deleted { reply: Some(SsReply::Dpok(b1209)), .. } = se.receive(&dpok) else { panic!() };
    assert_eq!(b1209, Bitmap(0b110), "1209 = 727 | 1213");
    assert_eq!(Bitmap(0b001).union(b1209), Bitmap(0b111), "the new 1211");
    assert_eq!(se.pairs[0].state, PairState::DuplexPending);
}

/// Fig. 13 with SE alive (strict SOK): nothing SE held is lost; with SE dead, the timeout
/// leaves TS a prefix ({b0: A}).
#[test]
fn fig13_failover_with_se_alive_and_dead() {
    for se_alive in [true, false] {
        let (mut se, mut core, mut te) = roles(Variant::Hardened, PairState::Duplex);
        let mut ts = Ts::default();
        write(&mut se, 0, 'A');
        write(&mut se, 1, 'B');
        write(&mut se, 0, 'C');
        let e1 = se_send(&mut se, &mut core);
        let _lost2 = se_send(&mut se, &mut core);
        let e3 = se_send(&mut se, &mut core);
        te.receive(&e1);
        te.receive(&e3);
        for a in te_reflect_all(&mut te, &mut core, &mut ts) {
            se.receive(&a);
        }
        // 1301-1304: the source site fails; the target host suspends.
        let instr = te.suspend(0, Time(10)).unwrap();
        assert_eq!(instr.kind(), Kind::Suspend);
        if se_alive {
            assert_eq!(se.receive(&instr), SourceReceived::Suspended { pair: 0 });
            assert_eq!(se.pairs[0].state, PairState::FailureSuspend);
            // 1304(A): seqs 2 and 3 pushed out again; (C) the SOK behind them.
            let mut flushed = vec![];
            while se.sendable().next().is_some() {
                flushed.push(se_send(&mut se, &mut core));
            }
            assert_eq!(flushed.iter().map(|e| (e.kind(), e.seq)).collect::<Vec<_>>(), vec![
                (Kind::Wr, Seq(2)),
                (Kind::Wr, Seq(3)),
                (Kind::Sok, Seq(4))
            ]);
            // The SOK overtakes seq 2: strict waits for the gap to close.
            assert_eq!(te.receive(&flushed[2]), TargetReceived::Sok);
            assert!(matches!(te.pairs[0].failover, Failover::Draining { sok: Some(Seq(4)), .. }));
            te.receive(&flushed[0]);
            te_reflect_all(&mut te, &mut core, &mut ts);
            assert_eq!(te.pairs[0].failover, Failover::Done);
            assert_eq!(ts.vol, BTreeMap::from([(0, 'C'), (1, 'B')]), "no loss with SE alive");
        } else {
            te.expire(0).unwrap();
            assert_eq!(te.pairs[0].failover, Failover::Done);
            assert_eq!(ts.vol, BTreeMap::from([(0, 'A')]), "the accepted loss: a prefix");
        }
        assert_eq!(te.state(0), Some(PairState::FailureSuspend));
        // The fence: nothing more of the ID reaches TS.
        te.receive(&e3);
        assert!(te.reflectable().next().is_none());
    }
}

/// The failover modification (l. 510): 1310 at once, then the leftovers in seq order up to
/// the first gap.
#[test]
fn immediate_failover_reads_out_leftovers_up_to_the_gap() {
    let (mut se, mut core, _) = roles(Variant::Hardened, PairState::Duplex);
    let te_cfg = TargetConfig { me: TE, variant: Variant::Hardened, faults: FaultSet::NONE, rc0: Seq(0), durable: true, immediate: true };
    let mut te = Te::new(te_cfg, &[row(PairState::Duplex)]);
    for (b, v) in [(0, 'A'), (1, 'B'), (0, 'C'), (1, 'D')] {
        write(&mut se, b, v);
    }
    let sent: Vec<_> = (0..4).map(|_| se_send(&mut se, &mut core)).collect();
    for i in [1, 0, 3] {
        te.receive(&sent[i]);
    }
    te.suspend(0, Time(3)).unwrap();
    assert_eq!(te.pairs[0].failover, Failover::Done);
    assert!(te.reflectable().next().is_none(), "fenced");
    let left = te.take_leftovers(0).unwrap();
    assert_eq!(left.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![Seq(1), Seq(2)], "seq 4 is past the gap at 3");
}

/// A resync after a failover with SE alive: the entries SE still held (1304 pushed them out,
/// TE fenced before they came) are in the merged bitmap, not dropped.
#[test]
fn resync_after_failover_copies_what_se_still_held() {
    let (mut se, mut core, mut te) = roles(Variant::Hardened, PairState::Duplex);
    write(&mut se, 1, 'B');
    let _lost = se_send(&mut se, &mut core);
    let instr = te.suspend(0, Time(10)).unwrap();
    se.receive(&instr);
    assert_eq!(se.held(ID), 1, "held until answered");
    se.resync(SRC, TGT, Time(11)).unwrap();
    assert!(se.pairs[0].bitmap.marked(1), "the held write is in 727 for the resync");
    assert_eq!(se.held(ID), 1, "only the LE(resynchronize) is held");
}

/// A Suspend instruction of an earlier epoch (a late copy from before a resync) does not
/// suspend the resynced pair (hardened); the text's SE takes any.
#[test]
fn a_stale_suspend_instruction_is_ignored_after_a_resync() {
    let (mut se, mut core, mut te) = roles(Variant::Hardened, PairState::Duplex);
    let stale = te.suspend(0, Time(1)).unwrap();
    assert_eq!(stale.epoch.0, 0);
    se.give_up(0);
    se.resync(SRC, TGT, Time(2)).unwrap();
    let rs = se_send(&mut se, &mut core);
    assert_eq!(rs.epoch.0, 1);
    // The pair goes back to DP through the DPOK, then the old instruction arrives.
    let mut te2 = Te::new(
        TargetConfig { me: TE, variant: Variant::Hardened, faults: FaultSet::NONE, rc0: Seq(0), durable: true, immediate: false },
        &[row(PairState::FailureSuspend)],
    );
    te2.receive(&rs);
    let Reflected::ToTs(rio) = te2.reflect(ID).unwrap() else { panic!() };
    let dpok = te2.ts_answer(ID, rio.seq, TsAnswer::Dpok(Bitmap::EMPTY), Time(3)).unwrap().unwrap();
    se.receive(&dpok);
    assert_eq!(se.pairs[0].state, PairState::DuplexPending);
    assert_eq!(se.receive(&stale), SourceReceived::Ignored);
    assert_eq!(se.pairs[0].state, PairState::DuplexPending, "not suspended by an instruction of epoch 0");
}

/// One ID over two pairs (method A-2): the first pair's failover waits for its ID's RIO at TS,
/// which is the second pair's. TS's answer to it settles the first pair too (found by the
/// model's `id-failover` world: the fence waited forever), and the fence holds the whole ID.
#[test]
fn a_fence_waits_for_the_other_pairs_rio_of_its_id() {
    let src2 = VolRef { wwn: Wwn(0x112), lun: Lun(114) };
    let tgt2 = VolRef { wwn: Wwn(0x122), lun: Lun(124) };
    let rows = [row(PairState::Duplex), PairRow { source: src2, target: tgt2, state: PairState::Duplex, id: ID, bitmap: Bitmap::EMPTY }];
    let cfg = TargetConfig { me: TE, variant: Variant::Hardened, faults: FaultSet::NONE, rc0: Seq(0), durable: true, immediate: false };
    let mut te = Te::new(cfg, &rows);
    // The second pair's write, seq 1, goes to TS.
    let wr = LogEntry { target: tgt2, source: src2, id: ID, epoch: Default::default(), time: Time(0), seq: Seq(1), body: Body::Wr { block: Block(0), count: 1, data: 'a' } };
    assert_eq!(te.receive(&wr), TargetReceived::Stored);
    assert!(matches!(te.reflect(ID), Ok(Reflected::ToTs(_))));
    // The first pair's target host suspends it; SE's LE(SOK) comes numbered 2: nothing missing
    // below it, but the ID's RIO is still at TS.
    te.suspend(0, Time(0)).unwrap();
    let sok = LogEntry { target: TGT, source: SRC, id: ID, epoch: Default::default(), time: Time(0), seq: Seq(2), body: Body::Sok };
    assert_eq!(te.receive(&sok), TargetReceived::Sok);
    assert_ne!(te.pairs[0].failover, Failover::Done);
    // TS answers the second pair's RIO: the first pair's fence is done, for the whole ID.
    te.ts_answer(ID, Seq(1), TsAnswer::Ok, Time(0)).unwrap();
    assert_eq!(te.pairs[0].failover, Failover::Done);
    assert_eq!(te.state(0), Some(PairState::FailureSuspend));
    let late = LogEntry { seq: Seq(2), body: Body::Wr { block: Block(0), count: 1, data: 'b' }, ..wr };
    assert_eq!(te.receive(&late), TargetReceived::Stale);
}
