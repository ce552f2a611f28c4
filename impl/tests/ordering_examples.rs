//! The worked examples of the patent text (note `shared/protocols/seed-002.md`, sections 2.4,
//! 4.7 and 4.11), run through the public API of the ordering roles. Times are minutes since
//! midnight: 10:00 is 600.

use rcopy::fault::FaultSet;
use rcopy::ordering::{
    Answer, ClockReading, DataPacket, Destage, HostWrite, LimitCoordinator, Message, Pair, PairId, Receiver,
    RemoteAddr, Scope, Sender, StreamId, Topology, TopologyError, Ts, Variant,
};

type Packet = DataPacket<Vec<u8>>;

/// A time on the common clock, stamped by LDS 0.
fn at(minutes: u64) -> Ts {
    Ts::new(minutes, 0)
}

fn pair(lds: u16, rds: u16, group: u16, remote_unit: u16) -> Pair {
    Pair { lds, rds, group, remote_unit }
}

/// One LDS, one RDS, one remote copy pair: a single stream.
fn single_pair() -> (Topology, StreamId) {
    let t = Topology::new(vec![pair(0, 0, 0, 0)], Scope::PerPair).unwrap();
    let s = t.stream_of(0).unwrap();
    (t, s)
}

/// Host writes on `stream` at the given minutes, each sent at once; returns the packets.
fn write_and_send(lds: &mut Sender<Vec<u8>>, stream: StreamId, writes: &[(u64, &str)]) -> Vec<Packet> {
    writes
        .iter()
        .enumerate()
        .map(|(i, &(minutes, data))| {
            let w =
                HostWrite { stream, addr: RemoteAddr { unit: 0, pos: i as u32 }, payload: data.as_bytes().to_vec() };
            let accepted = lds.on_host_write(w, ClockReading::at(minutes)).unwrap();
            assert_eq!(accepted.ts, at(minutes));
            let (p, released) = lds.send_next(stream).unwrap();
            assert!(!released);
            p
        })
        .collect()
}

fn deliver(rds: &mut Receiver<Vec<u8>>, lds: &mut Sender<Vec<u8>>, p: &Packet) {
    let ack = rds.on_data(p.clone()).unwrap();
    assert_eq!(ack, Message::Ack { stream: p.stream, seq: p.seq });
    let Message::Ack { stream, seq } = ack else { unreachable!() };
    assert!(lds.on_ack(stream, seq), "the ack releases the entry (Fig. 7)");
}

fn data(d: &Destage<Vec<u8>>) -> &str {
    std::str::from_utf8(d.payload.as_deref().unwrap()).unwrap()
}

/// Everything the destage process would destage now, by payload.
fn drain(rds: &mut Receiver<Vec<u8>>) -> Vec<String> {
    std::iter::from_fn(|| rds.poll_destage()).map(|d| data(&d).to_owned()).collect()
}

/// [0043]-[0044]: A (10:00), B (10:02), C (10:04) are cached and the limit is 10:01. A is
/// destaged; B is then the earliest but 10:02 > 10:01, so B waits until the limit passes 10:02;
/// C waits until the limit reaches 10:04 ("equal to or earlier", step 1103).
#[test]
fn example_0043_destage_waits_for_the_limit() {
    for variant in Variant::ALL {
        let (t, s) = single_pair();
        let mut lds = Sender::new(0, &t.streams_from(0), variant, FaultSet::NONE);
        let mut rds = Receiver::new(0, &t.streams_into(0), variant, FaultSet::NONE);
        let packets = write_and_send(&mut lds, s, &[(600, "A"), (602, "B"), (604, "C")]);
        assert_eq!(packets.iter().map(|p| p.seq).collect::<Vec<_>>(), [0, 1, 2]);
        for p in &packets {
            deliver(&mut rds, &mut lds, p);
        }
        assert_eq!(rds.cache.len(), 3);
        assert!(!rds.can_destage(), "no limit yet: minus infinity");

        rds.on_limit(at(601));
        let a = rds.poll_destage().unwrap();
        assert_eq!((data(&a), a.ts, a.seq, a.addr), ("A", at(600), 0, RemoteAddr { unit: 0, pos: 0 }));
        assert!(rds.poll_destage().is_none(), "B (10:02) waits behind the limit 10:01");
        assert_eq!(rds.earliest_cached(), Some(at(602)));

        rds.on_limit(at(603));
        assert_eq!(drain(&mut rds), ["B"]);
        assert!(!rds.can_destage(), "C (10:04) waits behind the limit 10:03");

        rds.on_limit(at(604));
        assert_eq!(drain(&mut rds), ["C"], "a time stamp equal to the limit is destaged");
        assert!(rds.cache.is_empty());
        assert_eq!(rds.frontier(s), Some((2, at(604))), "the frontier survives destaging");
    }
}

/// [0043] with the limit coming from the master (Fig. 10) fed by the one slave's reports
/// (Fig. 9). The network delivers C before B, so the slave's frontier stops at A, the master
/// grants 10:00, and C waits in the cache; once B arrives the limit rises to 10:04 and B, then
/// C, are destaged.
#[test]
fn example_0043_with_the_master() {
    for variant in Variant::ALL {
        let (t, s) = single_pair();
        let mut lds = Sender::new(0, &t.streams_from(0), variant, FaultSet::NONE);
        let mut rds = Receiver::new(0, &t.streams_into(0), variant, FaultSet::NONE);
        let mut master = LimitCoordinator::new(t.rds_count(), FaultSet::NONE);
        let round = |rds: &mut Receiver<Vec<u8>>, master: &mut LimitCoordinator| {
            let report = rds.report()?;
            let Message::Report { rds: slave, ts } = report else { panic!("not a report: {report:?}") };
            let limit = master.on_report(slave, ts).unwrap()?;
            rds.on_limit(limit);
            Some(limit)
        };
        let [a, b, c] =
            <[Packet; 3]>::try_from(write_and_send(&mut lds, s, &[(600, "A"), (602, "B"), (604, "C")])).unwrap();

        deliver(&mut rds, &mut lds, &c);
        assert_eq!(rds.frontier(s), None, "seq 0 has not arrived");
        assert_eq!(round(&mut rds, &mut master), None, "minus infinity is not reported");
        assert!(!rds.can_destage());

        deliver(&mut rds, &mut lds, &a);
        assert_eq!(rds.frontier(s), Some((0, at(600))), "seq 1 (B) has not arrived");
        assert_eq!(round(&mut rds, &mut master), Some(at(600)));
        assert_eq!(drain(&mut rds), ["A"]);
        assert_eq!(rds.earliest_cached(), Some(at(604)), "C waits");
        assert_eq!(round(&mut rds, &mut master), None, "nothing new to report");

        deliver(&mut rds, &mut lds, &b);
        assert_eq!(rds.frontier(s), Some((2, at(604))));
        assert_eq!(round(&mut rds, &mut master), Some(at(604)));
        assert_eq!(drain(&mut rds), ["B", "C"], "destaged in time-stamp order");
        assert_eq!((master.granted, master.max_granted), (Some(at(604)), Some(at(604))));
        assert!(lds.unacked(s).next().is_none(), "every entry was released");
    }
}

/// A small deterministic shuffle (an LCG), so the example needs no randomness.
fn shuffled<T>(mut v: Vec<T>, mut seed: u64) -> Vec<T> {
    for i in (1..v.len()).rev() {
        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        v.swap(i, (seed >> 33) as usize % (i + 1));
    }
    v
}

/// [0037]: the list `..., 11, 12, ..., 25, 26, 28, 29` gives 26, "because 27 has not yet been
/// received"; its time stamp is what the slave reports. Seqs 0..=10 were received and destaged
/// earlier (the "..."), so the cache holds exactly the list of the text.
#[test]
fn example_0037_frontier_stops_at_the_gap() {
    for variant in Variant::ALL {
        for seed in [1, 2, 3] {
            let (t, s) = single_pair();
            let mut lds = Sender::new(0, &t.streams_from(0), variant, FaultSet::NONE);
            let mut rds = Receiver::new(0, &t.streams_into(0), variant, FaultSet::NONE);
            let writes: Vec<(u64, String)> = (0..30).map(|k| (1000 + 2 * k, format!("w{k}"))).collect();
            let writes: Vec<(u64, &str)> = writes.iter().map(|(m, d)| (*m, d.as_str())).collect();
            let packets = write_and_send(&mut lds, s, &writes);
            assert!(packets.iter().enumerate().all(|(k, p)| p.seq == k as u64 && p.ts == at(1000 + 2 * k as u64)));

            // The "...": 0..=10 arrive in some order and are destaged.
            for k in shuffled((0..=10).collect(), seed) {
                deliver(&mut rds, &mut lds, &packets[k]);
            }
            rds.on_limit(rds.frontier_min().unwrap());
            assert_eq!(drain(&mut rds).len(), 11);

            let rest: Vec<usize> = (11..=26).chain([28, 29]).collect();
            for k in shuffled(rest.clone(), seed) {
                deliver(&mut rds, &mut lds, &packets[k]);
            }
            let cached: Vec<u64> = rds.cache.iter().map(|c| c.seq).collect();
            assert_eq!(cached, rest.iter().map(|&k| k as u64).collect::<Vec<_>>(), "the list of [0037]");
            assert_eq!(rds.frontier(s), Some((26, packets[26].ts)), "27 has not yet been received");
            assert_eq!(rds.frontier_min(), Some(packets[26].ts));
            assert_eq!(rds.report(), Some(Message::Report { rds: 0, ts: packets[26].ts }));

            deliver(&mut rds, &mut lds, &packets[27]);
            assert_eq!(rds.frontier(s), Some((29, packets[29].ts)));
            assert_eq!(rds.report(), Some(Message::Report { rds: 0, ts: packets[29].ts }));
        }
    }
}

/// [0053]: LDS X has group Z with pairs RCP1..RCP5; RCP1 and RCP2 go to RDS A, RCP3 to B, RCP4
/// and RCP5 to C. With one counter per (LDS, group, RDS) (Fig. 4), X has 3 sequence numbers for
/// group Z.
#[test]
fn example_0053_three_counters_for_group_z() {
    const X: u16 = 0;
    const Z: u16 = 7;
    let (a, b, c) = (0, 1, 2);
    let pairs = vec![pair(X, a, Z, 1), pair(X, a, Z, 2), pair(X, b, Z, 3), pair(X, c, Z, 4), pair(X, c, Z, 5)];
    let t = Topology::new(pairs.clone(), Scope::PerGroupSystemPair).unwrap();
    let streams = t.streams_from(X);
    assert_eq!(streams.len(), 3);
    assert!(streams.iter().all(|s| s.key == Z && s.lds == X));
    assert_eq!(streams.iter().map(|s| s.rds).collect::<Vec<_>>(), [a, b, c]);
    assert_eq!(t.stream_of(0), t.stream_of(1), "RCP1 and RCP2 share A's counter");
    assert_eq!(t.stream_of(3), t.stream_of(4), "RCP4 and RCP5 share C's counter");
    assert_ne!(t.stream_of(0), t.stream_of(2));
    for rds in [a, b, c] {
        assert_eq!(t.streams_into(rds).len(), 1);
    }

    // The counters are independent: a write on each pair, in pair order.
    let mut lds: Sender<Vec<u8>> = Sender::new(X, &streams, Variant::Hardened, FaultSet::NONE);
    let seqs: Vec<(u16, u64)> = (0..5 as PairId)
        .map(|p| {
            let s = t.stream_of(p).unwrap();
            let w = HostWrite {
                stream: s,
                addr: RemoteAddr { unit: t.pair(p).unwrap().remote_unit, pos: 0 },
                payload: vec![],
            };
            lds.on_host_write(w, ClockReading::at(100 + u64::from(p))).unwrap();
            let (packet, _) = lds.send_next(s).unwrap();
            (s.rds, packet.seq)
        })
        .collect();
    assert_eq!(seqs, [(a, 0), (a, 1), (b, 0), (c, 0), (c, 1)]);

    // The other scopes, for contrast: one counter per pair, or per RDS.
    assert_eq!(Topology::new(pairs.clone(), Scope::PerPair).unwrap().streams_from(X).len(), 5);
    assert_eq!(Topology::new(pairs, Scope::PerSystemPair).unwrap().streams_from(X).len(), 3);
}

/// [0055]-[0056]: one LDS with 7 local units and 2 RDSs; the pairs form 2 groups, each spanning
/// both RDSs. Fig. 2 gives 7 sequence numbers, Fig. 3 gives 2, Fig. 4 gives 4 (2 groups x 2
/// RDSs).
#[test]
fn example_0055_counter_counts_per_scope() {
    let pairs = vec![
        // Group 0 (solid lines).
        pair(0, 0, 0, 0),
        pair(0, 0, 0, 1),
        pair(0, 1, 0, 2),
        // Group 1 (broken lines).
        pair(0, 0, 1, 3),
        pair(0, 1, 1, 4),
        pair(0, 1, 1, 5),
        pair(0, 1, 1, 6),
    ];
    let count = |scope| {
        let t = Topology::new(pairs.clone(), scope).unwrap();
        assert_eq!((t.lds_count(), t.rds_count()), (1, 2));
        assert_eq!(t.streams_from(0), t.streams());
        let into: usize = (0..2).map(|r| t.streams_into(r).len()).sum();
        assert_eq!(into, t.streams().len(), "every stream ends at exactly one RDS");
        t.streams().len()
    };
    assert_eq!(count(Scope::PerPair), 7);
    assert_eq!(count(Scope::PerSystemPair), 2);
    assert_eq!(count(Scope::PerGroupSystemPair), 4);
}

#[test]
fn topology_rejects_bad_topologies() {
    assert_eq!(Topology::new(vec![], Scope::PerPair), Err(TopologyError::NoPairs));
    assert_eq!(
        Topology::new(vec![pair(0, 0, 0, 4), pair(0, 0, 0, 5), pair(0, 1, 0, 4)], Scope::PerSystemPair),
        Err(TopologyError::SharedRemoteUnit(0, 2, 4))
    );
    assert_eq!(Topology::new(vec![pair(1, 0, 0, 0)], Scope::PerPair), Err(TopologyError::IdleLds(0)));
    assert_eq!(
        Topology::new(vec![pair(0, 0, 0, 0), pair(2, 0, 0, 1)], Scope::PerGroupSystemPair),
        Err(TopologyError::IdleLds(1))
    );
    assert_eq!(Topology::new(vec![pair(0, 1, 0, 0)], Scope::PerPair), Err(TopologyError::IdleRds(0)));
    assert_eq!(Topology::new(vec![pair(0, 0, 0, 0), pair(0, 2, 0, 1)], Scope::PerPair), Err(TopologyError::IdleRds(1)));
    assert!(Topology::new(vec![pair(0, 0, 3, 9)], Scope::PerGroupSystemPair).is_ok());
    assert!(!TopologyError::SharedRemoteUnit(0, 2, 4).to_string().is_empty());
}

/// Roles refuse streams that are not theirs (the error types are not re-exported, so only the
/// outcome is checked).
#[test]
fn roles_reject_foreign_streams() {
    let t = Topology::new(vec![pair(0, 0, 0, 0), pair(1, 1, 0, 1)], Scope::PerPair).unwrap();
    let mine = t.stream_of(0).unwrap();
    let theirs = t.stream_of(1).unwrap();
    let mut lds: Sender<Vec<u8>> = Sender::new(0, &t.streams_from(0), Variant::Hardened, FaultSet::NONE);
    let mut rds: Receiver<Vec<u8>> = Receiver::new(0, &t.streams_into(0), Variant::Hardened, FaultSet::NONE);
    let w = HostWrite { stream: theirs, addr: RemoteAddr { unit: 1, pos: 0 }, payload: vec![1] };
    assert!(lds.on_host_write(w, ClockReading::at(1)).is_err());
    assert!(lds.send_next(theirs).is_none());
    let p =
        DataPacket { stream: theirs, seq: 0, ts: at(1), addr: RemoteAddr { unit: 1, pos: 0 }, payload: Some(vec![1]) };
    assert!(rds.on_data(p).is_err());
    assert!(rds.cache.is_empty() && rds.frontier(mine).is_none());
    let mut master = LimitCoordinator::new(t.rds_count(), FaultSet::NONE);
    assert!(master.on_report(2, at(1)).is_err());
}

/// Note L2, "unless rounds are retried": a hardened slave repeats its last report when its round
/// timer fires again, and the master answers a report it already holds with the limit it
/// granted, so a lost M3 or M4 no longer stalls the round. The text's slave (faithful) and B20
/// never repeat.
#[test]
fn a_retried_round_recovers_a_lost_report_or_limit() {
    let (t, s) = single_pair();
    let slave = |variant, faults| Receiver::<Vec<u8>>::new(0, &t.streams_into(0), variant, faults);
    let mut rds = slave(Variant::Hardened, FaultSet::NONE);
    assert_eq!(rds.report_again(), None, "nothing reported yet");
    let p = DataPacket { stream: s, seq: 0, ts: at(600), addr: RemoteAddr { unit: 0, pos: 0 }, payload: Some(vec![1]) };
    rds.on_data(p.clone()).unwrap();
    let report = rds.report().expect("a first report");
    assert_eq!(report, Message::Report { rds: 0, ts: at(600) });
    assert_eq!(rds.report(), None, "an unchanged frontier is not reported twice by a round");
    // The report was lost: the retry carries the same value, and the master grants on it.
    assert_eq!(rds.report_again(), Some(report.clone()));
    let mut master = LimitCoordinator::new(1, FaultSet::NONE);
    let answer = |grant, again| Ok(Answer { grant, again });
    assert_eq!(master.on_round_report(0, at(600)), answer(Some(at(600)), None), "new: a grant for every slave");
    // The limit was lost: the next retry is a report the master holds, answered again.
    assert_eq!(master.on_round_report(0, at(600)), answer(None, Some(at(600))), "held: the limit again");
    assert_eq!(master.on_round_report(0, at(599)), answer(None, None), "an older report is not the one held");
    assert!(master.on_round_report(1, at(600)).is_err(), "no such slave");
    rds.on_limit(at(600));
    assert!(rds.can_destage());
    // The text's slave reports once per round and waits; so does B20.
    let mut cases = vec![(Variant::Faithful, FaultSet::NONE)];
    // B20 is there in a build with seeded faults (the workspace's tests have them).
    cases.extend(FaultSet::NONE.with(rcopy::ordering::Fault::B20 as u32).ok().map(|b20| (Variant::Hardened, b20)));
    for (variant, faults) in cases {
        let mut r = slave(variant, faults);
        r.on_data(p.clone()).unwrap();
        assert!(r.report().is_some());
        assert_eq!(r.report_again(), None, "{variant:?} {faults:?}");
    }
}
