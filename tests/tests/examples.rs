//! Model-level sanity: the `sometimes` checks of note 6.3 are witnessed by the hardened model,
//! and a takeover driven by hand leaves the remote image equal to the history cut at the
//! largest limit the master granted (note S8).

use rcopy::fault::FaultSet;
use rcopy::ordering::{Message, RemoteAddr, StreamId, Ts, Variant};
use rcopy_checks::explorer::Verdict;
use rcopy_checks::registry;
use rcopy_checks::runner::{self, Options};
use rcopy_checks::Tier;
use rcopy_model::ordering::{Action, Config, Envelope, Node, Ordering, OrderingModel, Phase, State, Wid};
use stateright::{Expectation, Model};

#[test]
fn the_sanity_examples_are_witnessed_by_the_tiny_hardened_safety_run() {
    let check = registry::all(Tier::Tiny)
        .into_iter()
        .find(|c| c.config == "tiny" && c.variant == "hardened" && c.faults.is_empty() && c.mode == "default")
        .expect("the tiny tier has a hardened safety check");
    let outcome = runner::run(&Ordering, &check, &Options::default()).expect("the check runs");
    assert!(outcome.exhaustive, "the hardened safety run explores the whole space");
    let (model, _) = runner::model_of(&Ordering, &check).expect("the check makes a model");
    let sometimes: Vec<&str> = model
        .properties()
        .into_iter()
        .filter(|p| matches!(p.expectation, Expectation::Sometimes))
        .map(|p| p.name)
        .collect();
    assert_eq!(sometimes.len(), 6, "three sanity checks of 6.3 and N1-N3: {sometimes:?}");
    for p in &sometimes {
        assert_eq!(outcome.verdict(p), Some(Verdict::Witnessed), "`{p}` in {}", check.name());
        let example = outcome.trace(p).unwrap_or_else(|| panic!("`{p}` witnessed without an example"));
        rcopy_checks::replay::on_model(&Ordering, example).unwrap_or_else(|e| panic!("the example of `{p}`: {e}"));
    }
    for p in &outcome.properties {
        if !sometimes.contains(&p.property.as_str()) && !p.property.starts_with('L') {
            assert_eq!(p.verdict, Verdict::Holds, "`{}` in {}", p.property, check.name());
        }
    }
}

/// The tiny world with the hardened protocol, a disaster possible in every state.
fn tiny_hardened() -> OrderingModel {
    OrderingModel::new(Config::named("tiny").expect("tiny exists"), Variant::Hardened, FaultSet::NONE)
        .expect("tiny is a valid config")
}

/// Take `action`, which must be enabled, and return the state it leads to.
fn step(model: &OrderingModel, state: &State, action: Action) -> State {
    let mut enabled = Vec::new();
    model.actions(state, &mut enabled);
    assert!(enabled.contains(&action), "{action:?} is not enabled; enabled: {enabled:?}");
    model.next_state(state, action.clone()).unwrap_or_else(|| panic!("{action:?} changes nothing"))
}

/// The message in flight to `dst` that `pick` accepts; there must be exactly one.
fn in_flight(state: &State, dst: Node, pick: impl Fn(&Message<Wid>) -> bool) -> Envelope {
    let found: Vec<&Envelope> = state.net.iter().filter(|e| e.dst == dst && pick(&e.msg)).collect();
    assert_eq!(found.len(), 1, "messages to {dst:?}: {:?}", state.net);
    found[0].clone()
}

fn deliver(model: &OrderingModel, state: &State, dst: Node, pick: impl Fn(&Message<Wid>) -> bool) -> State {
    let env = in_flight(state, dst, pick);
    step(model, state, Action::Deliver(env))
}

fn is_data(m: &Message<Wid>) -> bool {
    matches!(m, Message::Data(_))
}

fn is_ack(m: &Message<Wid>) -> bool {
    matches!(m, Message::Ack { .. })
}

fn is_report(m: &Message<Wid>) -> bool {
    matches!(m, Message::Report { .. })
}

fn is_limit(m: &Message<Wid>) -> bool {
    matches!(m, Message::Limit { .. })
}

/// The history cut at `lmax`: at every written position, the latest write stamped at or before
/// it, computed from the ghost history alone.
fn cut(state: &State, lmax: Option<Ts>) -> Vec<(RemoteAddr, Wid)> {
    let g = &state.ghost;
    let mut addrs: Vec<RemoteAddr> = g.writes.iter().map(|w| w.addr).collect();
    addrs.sort();
    addrs.dedup();
    addrs
        .into_iter()
        .filter_map(|a| {
            g.writes
                .iter()
                .enumerate()
                .filter(|(_, w)| w.addr == a && Some(w.ts) <= lmax)
                .max_by_key(|(_, w)| w.ts)
                .map(|(v, _)| (a, v as Wid))
        })
        .collect()
}

const UNIT0: RemoteAddr = RemoteAddr { unit: 0, pos: 0 };
const UNIT1: RemoteAddr = RemoteAddr { unit: 1, pos: 0 };

struct Run {
    model: OrderingModel,
    s0: StreamId,
    s1: StreamId,
}

impl Run {
    fn new() -> Run {
        let model = tiny_hardened();
        let t = &model.topology;
        let (s0, s1) = (t.stream_of(0).unwrap(), t.stream_of(1).unwrap());
        assert_eq!((s0.lds, s0.rds, s1.lds, s1.rds), (0, 0, 1, 1), "tiny: LDS0 -> RDS0 and LDS1 -> RDS1");
        Run { model, s0, s1 }
    }

    fn init(&self) -> State {
        self.model.init_states().remove(0)
    }

    /// Two writes, one per pair; both sent, delivered and acknowledged; one round of both
    /// slaves, its reports and limits delivered. The limit is the earlier write's time stamp.
    fn first_round(&self) -> State {
        let m = &self.model;
        let mut s = self.init();
        s = step(m, &s, Action::Write { pair: 0, pos: 0, same_time: false });
        s = step(m, &s, Action::Write { pair: 1, pos: 0, same_time: false });
        let (ts0, ts1) = (s.ghost.writes[0].ts, s.ghost.writes[1].ts);
        assert_eq!((ts0, ts1), (Ts::new(1, 0), Ts::new(2, 1)));
        s = step(m, &s, Action::Send { stream: self.s0 });
        s = step(m, &s, Action::Send { stream: self.s1 });
        s = deliver(m, &s, Node::Rds(0), is_data);
        s = deliver(m, &s, Node::Rds(1), is_data);
        assert!(s.ghost.has_arrived(0) && s.ghost.has_arrived(1));
        s = deliver(m, &s, Node::Lds(0), is_ack);
        s = deliver(m, &s, Node::Lds(1), is_ack);
        assert!(
            s.roles.senders.iter().all(|l| l.streams.iter().all(|st| st.entries.is_empty())),
            "both writes released"
        );
        s = step(m, &s, Action::Report { rds: 0 });
        s = step(m, &s, Action::Report { rds: 1 });
        s = deliver(m, &s, Node::Master, |msg| matches!(msg, Message::Report { rds: 0, .. }));
        assert_eq!(s.roles.master.max_granted, None, "the master waits for every slave");
        s = deliver(m, &s, Node::Master, is_report);
        assert_eq!(s.roles.master.max_granted, Some(ts0), "the limit is the earliest frontier");
        s = deliver(m, &s, Node::Rds(0), is_limit);
        s = deliver(m, &s, Node::Rds(1), is_limit);
        assert!(s.net.is_empty(), "nothing left in flight: {:?}", s.net);
        assert_eq!(s.roles.receivers.iter().map(|r| r.limit).collect::<Vec<_>>(), vec![Some(ts0); 2]);
        s
    }

    fn takeover(&self, s: &State) -> State {
        let after = step(&self.model, s, Action::Takeover);
        assert_eq!(after.phase, Phase::TakenOver);
        assert!(!after.ghost.bad_takeover, "the takeover image is the history cut");
        assert!(after.roles.receivers.iter().all(|r| r.cache.is_empty()), "takeover drains or discards every cache");
        assert!(after.net.is_empty());
        let mut enabled = Vec::new();
        self.model.actions(&after, &mut enabled);
        assert!(enabled.is_empty(), "nothing happens after a takeover: {enabled:?}");
        for p in self.model.properties() {
            if matches!(p.expectation, Expectation::Always) {
                assert!((p.condition)(&self.model, &after), "`{}` after the takeover", p.name);
            }
        }
        after
    }
}

#[test]
fn takeover_after_one_round_keeps_the_prefix_at_the_limit() {
    let run = Run::new();
    let before = run.first_round();
    let after = run.takeover(&before);
    let lmax = after.roles.master.max_granted;
    assert_eq!(lmax, Some(Ts::new(1, 0)));
    // w0 (ts 1.0) is at or before the limit and destaged at RDS0; w1 (ts 2.1) is not, and RDS1
    // discards it: the remote is the local history as it was at time 1.
    assert_eq!(after.ghost.image, vec![(UNIT0, 0)]);
    assert_eq!(after.ghost.image, cut(&after, lmax));
    assert_eq!(after.ghost.destaged, vec![vec![0], vec![]]);
}

#[test]
fn takeover_after_a_heartbeat_round_keeps_both_writes() {
    let run = Run::new();
    let m = &run.model;
    let mut s = run.first_round();
    // RDS0 destages w0 under the first limit; RDS1 is blocked, its write is after the limit.
    s = step(m, &s, Action::Destage { rds: 0 });
    assert_eq!(s.ghost.image, vec![(UNIT0, 0)]);
    let mut enabled = Vec::new();
    m.actions(&s, &mut enabled);
    assert!(!enabled.contains(&Action::Destage { rds: 1 }), "the limit blocks w1 at RDS1");
    // The clock moves on and idle stream 0 sends a heartbeat: its frontier passes w1's stamp.
    s = step(m, &s, Action::Tick);
    s = step(m, &s, Action::Heartbeat { stream: run.s0 });
    s = deliver(m, &s, Node::Rds(0), is_data);
    s = deliver(m, &s, Node::Lds(0), is_ack);
    s = step(m, &s, Action::Report { rds: 0 });
    s = deliver(m, &s, Node::Master, is_report);
    let ts1 = s.ghost.writes[1].ts;
    assert_eq!(s.roles.master.max_granted, Some(ts1), "the limit is now RDS1's frontier, w1's stamp");
    s = deliver(m, &s, Node::Rds(0), is_limit);
    s = deliver(m, &s, Node::Rds(1), is_limit);
    assert!(s.net.is_empty(), "nothing left in flight: {:?}", s.net);
    // The disaster strikes before RDS1 destages: the takeover drains w1.
    let after = run.takeover(&s);
    let lmax = after.roles.master.max_granted;
    assert_eq!(after.ghost.image, vec![(UNIT0, 0), (UNIT1, 1)]);
    assert_eq!(after.ghost.image, cut(&after, lmax));
    assert_eq!(after.ghost.destaged, vec![vec![0], vec![1]]);
}

#[test]
fn takeover_between_two_writes_to_one_position_keeps_the_older() {
    // Both writes go to pair 0's one position. The limit is granted while only the first has
    // arrived; the second arrives later. The cut at the limit holds w0, not the newer w1.
    let run = Run::new();
    let m = &run.model;
    let mut s = run.init();
    s = step(m, &s, Action::Write { pair: 0, pos: 0, same_time: false });
    s = step(m, &s, Action::Send { stream: run.s0 });
    s = step(m, &s, Action::Write { pair: 0, pos: 0, same_time: false });
    s = step(m, &s, Action::Send { stream: run.s0 });
    let (ts0, ts1) = (s.ghost.writes[0].ts, s.ghost.writes[1].ts);
    assert_eq!((ts0, ts1), (Ts::new(1, 0), Ts::new(2, 0)));
    s = deliver(m, &s, Node::Rds(0), |msg| matches!(msg, Message::Data(p) if p.seq == 0));
    s = step(m, &s, Action::Report { rds: 0 });
    s = deliver(m, &s, Node::Master, is_report);
    assert_eq!(s.roles.master.max_granted, None, "RDS1 has received nothing and has not reported");
    // Stream 1 is idle: after the clock ticks it sends a heartbeat, and RDS1 can report.
    s = step(m, &s, Action::Tick);
    s = step(m, &s, Action::Heartbeat { stream: run.s1 });
    s = deliver(m, &s, Node::Rds(1), is_data);
    s = step(m, &s, Action::Report { rds: 1 });
    s = deliver(m, &s, Node::Master, is_report);
    assert_eq!(s.roles.master.max_granted, Some(ts0), "RDS0's frontier, w0, is the earlier report");
    s = deliver(m, &s, Node::Rds(0), is_limit);
    s = deliver(m, &s, Node::Rds(1), is_limit);
    // w1 arrives after the limit was granted: cached at RDS0, beyond the limit.
    s = deliver(m, &s, Node::Rds(0), |msg| matches!(msg, Message::Data(p) if p.seq == 1));
    assert!(s.ghost.has_arrived(1));
    assert_eq!(s.roles.receivers[0].cache.len(), 2);
    let after = run.takeover(&s);
    assert_eq!(after.roles.master.max_granted, Some(ts0));
    assert_eq!(after.ghost.image, vec![(UNIT0, 0)], "the image holds w0: w1 is after the cut");
    assert_eq!(after.ghost.image, cut(&after, after.roles.master.max_granted));
    assert_eq!(after.ghost.destaged, vec![vec![0], vec![]]);
}
