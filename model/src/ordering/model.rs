//! The actions of the ordering world (note section 7) and how each one drives the roles.

use super::config::Config;
use super::dispatch::{feed, Output};
use super::state::{set_insert, Envelope, Ghost, Node, Phase, Roles, State, Wid, WriteRec};
use rcopy::fault::FaultSet;
use rcopy::ordering::{
    ClockReading, DataPacket, Destage, LimitCoordinator, Message, PairId, RdsId, Receiver, Sender, Seq, StreamId,
    Topology, Ts, Variant,
};
use serde::{Deserialize, Serialize};
use stateright::{Model, Property};

/// The ordering protocol in a world of hosts, clocks, an unordered lossy duplicating network,
/// slave/master rounds, destage, and a local-site disaster with takeover.
#[derive(Clone, Debug)]
pub struct OrderingModel {
    pub config: Config,
    /// The config's pairs and scope, validated.
    pub topology: Topology,
    /// The topology's streams, ascending (looked up on every step for fairness).
    pub streams: Vec<StreamId>,
    pub variant: Variant,
    pub faults: FaultSet,
}

/// One step of the world.
#[derive(Clone, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub enum Action {
    /// A host writes to `pos` of `pair` (Fig. 5).
    /// With `same_time` (a coarse clock only), the clock has not moved since the last write.
    Write {
        pair: PairId,
        pos: u32,
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        same_time: bool,
    },
    /// Fault B9: a stamped write of `lds` becomes visible to its send process.
    Publish { lds: u16, index: u8 },
    /// The send process of `stream` sends its earliest unsent write (Fig. 6).
    Send { stream: StreamId },
    /// Hardened: the retransmission timer of (stream, seq) fires.
    Timeout { stream: StreamId, seq: Seq },
    /// Hardened: the heartbeat timer of an idle stream fires.
    Heartbeat { stream: StreamId },
    /// Hardened: the clock moves on once after the last host write.
    Tick,
    /// The network delivers a message.
    Deliver(Envelope),
    /// The network loses a data packet or an ack.
    Lose(Envelope),
    /// The network duplicates a data packet or an ack.
    Duplicate(Envelope),
    /// A slave's round (Fig. 9 steps 901-902).
    Report { rds: RdsId },
    /// Hardened, where M3 and M4 may be lost: a slave's round timer fires again and it repeats
    /// its last report (note L2: rounds retried).
    Retry { rds: RdsId },
    /// An RDS's destage process takes one step (Fig. 11).
    Destage { rds: RdsId },
    /// The local site is lost; the remote site fences the link and takes over, draining every
    /// RDS up to the largest limit granted (note S8). Not fair: a behaviour need not take it.
    Takeover,
    /// An RDS crashes: it takes no more steps and receives nothing. Not fair.
    Crash { rds: RdsId },
}

impl OrderingModel {
    /// The model of a config, checked: an error names what makes no sense in it.
    pub fn new(config: Config, variant: Variant, faults: FaultSet) -> Result<OrderingModel, String> {
        let topology = config.validate()?;
        let streams = topology.streams();
        Ok(OrderingModel { config, topology, streams, variant, faults })
    }

    /// What LDS `lds` reads off the clocks at common time `now` (its own clock runs `skew` ahead).
    pub fn clock(&self, lds: u16, now: u64) -> ClockReading {
        let skew = self.config.skew.get(lds as usize).copied().unwrap_or(0);
        ClockReading { common: now, local: now.saturating_add(skew) }
    }

    fn send(state: &mut State, dst: Node, msg: Message<Wid>) {
        let env = Envelope { dst, msg };
        let at = state.net.partition_point(|e| *e <= env);
        state.net.insert(at, env);
    }

    fn take(state: &mut State, env: &Envelope) -> bool {
        match state.net.binary_search(env) {
            Ok(i) => {
                state.net.remove(i);
                true
            }
            Err(_) => false,
        }
    }

    fn record_sent(state: &mut State, p: &DataPacket<Wid>) {
        set_insert(&mut state.ghost.sent, (p.stream, p.seq, p.ts, p.payload));
    }

    /// Step 1103 as the world sees it: the remote image changes; the ghost checks S5, S6, S9.
    fn apply(&self, state: &mut State, rds: RdsId, limit: Option<Ts>, d: Destage<Wid>) {
        let g = &mut state.ghost;
        if Some(d.ts) > limit {
            g.bad_gate = true;
        }
        let Some(w) = d.payload else { return };
        let rec = g.writes[w as usize].clone();
        let missing =
            g.writes.iter().enumerate().any(|(v, o)| o.group == rec.group && o.ts < rec.ts && !g.has_arrived(v as Wid));
        if missing {
            g.missing_predecessor = true;
        }
        let older = g.image_at(d.addr).is_some_and(|v| g.writes[v as usize].ts > rec.ts);
        if g.is_destaged(w) || older {
            g.bad_apply = true;
        }
        match g.image.iter_mut().find(|(a, _)| *a == d.addr) {
            Some(slot) => slot.1 = w,
            None => set_insert(&mut g.image, (d.addr, w)),
        }
        g.destaged[rds as usize].push(w);
        match g.destaged_max.iter_mut().find(|(s, _)| *s == d.stream) {
            Some(slot) => slot.1 = slot.1.max(d.seq),
            None => set_insert(&mut g.destaged_max, (d.stream, d.seq)),
        }
    }

    /// Note S8: after takeover the remote image must be the history cut at the largest granted
    /// limit: at every position, the latest write with a time stamp at or before it.
    fn takeover_image_ok(state: &State, lmax: Option<Ts>) -> bool {
        let g = &state.ghost;
        g.writes.iter().all(|w| {
            let want = g
                .writes
                .iter()
                .enumerate()
                .filter(|(_, o)| o.addr == w.addr && Some(o.ts) <= lmax)
                .max_by_key(|(_, o)| o.ts)
                .map(|(v, _)| v as Wid);
            g.image_at(w.addr) == want
        })
    }

    /// A limit granted by the master: sent to every slave (M4), or, with synchronous rounds,
    /// already stored by every slave (the ghost notes it as if delivered; `old` are the least
    /// and the largest limit the slaves held before).
    fn granted(&self, s: &mut State, old: (Option<Ts>, Option<Ts>), limit: Option<Ts>) {
        let Some(limit) = limit else { return };
        if self.config.sync_rounds {
            Self::note_limit(s, old, limit);
            return;
        }
        for r in 0..s.roles.receivers.len() {
            Self::send(s, Node::Rds(r as RdsId), Message::Limit { ts: limit });
        }
    }

    /// Step 904 as the ghost sees it, for slaves whose limits were between `old.0` and `old.1`:
    /// a stale limit arrived (N3), or a limit advanced after a gap was filled (X3).
    fn note_limit(s: &mut State, old: (Option<Ts>, Option<Ts>), ts: Ts) {
        if old.1 > Some(ts) {
            s.ghost.limit_regressed = true;
        }
        if s.ghost.gap_filled && Some(ts) > old.0 {
            s.ghost.gap_then_limit = true;
        }
    }

    /// A packet the receiver stored: the ghost's arrival bits, and whether it filled a gap.
    fn note_arrival(s: &mut State, p: &DataPacket<Wid>) {
        let g = &mut s.ghost;
        let before = g.frontier(p.stream).map_or(0, |(k, _)| k.saturating_add(1));
        if let Some(w) = p.payload {
            g.arrived |= Ghost::write_bit(w);
        }
        if let Some(slot) = g.arrived_seqs.iter_mut().find(|(st, _)| *st == p.stream) {
            slot.1 |= 1u64 << p.seq.min(63);
        }
        let after = g.frontier(p.stream).map_or(0, |(k, _)| k.saturating_add(1));
        if after > before.saturating_add(1) {
            g.gap_filled = true;
        }
    }

    /// Guards that need no copy of the state.
    fn enabled_in(&self, s: &State, action: &Action) -> bool {
        match action {
            Action::Lose(env) | Action::Duplicate(env) | Action::Deliver(env) if s.net.binary_search(env).is_err() => {
                false
            }
            Action::Lose(_) => s.loss_left > 0,
            Action::Duplicate(_) => s.dup_left > 0,
            Action::Retry { rds } => self.may_retry(s, *rds),
            _ => true,
        }
    }

    /// `next_state`, in place, once [`OrderingModel::enabled_in`] said yes: `false` if the
    /// roles refuse the action (then `s` may be left half changed). The roles take the action's
    /// input through [`feed`]; the world then does its bookkeeping on what they answered.
    fn step(&self, s: &mut State, action: Action) -> bool {
        self.step_in(s, action).is_some()
    }

    fn step_in(&self, s: &mut State, action: Action) -> Option<()> {
        let input = self.input(s, &action).ok()?;
        // What the world reads of the roles before they move: the limit of the RDS the action
        // is at, and the least and the largest limit over every RDS.
        let at = match &action {
            Action::Destage { rds } => Some(*rds as usize),
            Action::Deliver(env) => env_rds(env.dst),
            _ => None,
        };
        let limit_before = at.and_then(|r| s.roles.receivers.get(r)).and_then(|r| r.limit);
        let limits_before = match action {
            Action::Report { .. } if self.config.sync_rounds => {
                let limits = s.roles.receivers.iter().map(|r| r.limit);
                (limits.clone().min().flatten(), limits.max().flatten())
            }
            _ => (None, None),
        };
        let output = match input {
            Some(input) => Some(feed(&mut s.roles, input).ok()?),
            None => None,
        };
        match (action, output) {
            (Action::Write { pair, pos, same_time }, Some(Output::Accepted(accepted))) => {
                let p = *self.topology.pair(pair)?;
                let stream = self.topology.stream_of(pair)?;
                s.now = s.now.checked_add(u64::from(!same_time))?;
                let addr = rcopy::ordering::RemoteAddr { unit: p.remote_unit, pos };
                s.ghost.writes.push(WriteRec { pair, group: p.group, stream, addr, ts: accepted.ts });
            }
            (Action::Publish { .. }, Some(Output::Published)) => {}
            (
                Action::Send { stream } | Action::Timeout { stream, .. } | Action::Heartbeat { stream },
                Some(Output::Sent { packet, released }),
            ) => {
                if released && !s.ghost.acked.contains(&(stream, packet.seq)) {
                    s.ghost.bad_release = true;
                }
                Self::record_sent(s, &packet);
                Self::send(s, Node::Rds(stream.rds), Message::Data(packet));
            }
            (Action::Crash { rds }, None) => {
                if rds >= 8 || s.is_crashed(rds) {
                    return None;
                }
                s.crashed |= 1 << rds;
            }
            (Action::Tick, None) => {
                s.now = s.now.checked_add(1)?;
                s.ticks = s.ticks.checked_add(1)?;
            }
            (Action::Lose(env), None) => {
                Self::take(s, &env);
                s.loss_left -= 1;
            }
            (Action::Duplicate(env), None) => {
                s.dup_left -= 1;
                Self::send(s, env.dst, env.msg);
            }
            (Action::Deliver(env), Some(out)) => {
                Self::take(s, &env);
                match (env.msg, out) {
                    (Message::Data(p), Output::Acked(ack)) => {
                        let rds = env_rds(env.dst)?;
                        // "Arrived" means held by the role, so that a receiver that acknowledges
                        // a packet and drops it is seen.
                        if s.roles.receivers[rds].holds(p.stream, p.seq) {
                            Self::note_arrival(s, &p);
                        }
                        Self::send(s, Node::Lds(p.stream.lds), ack);
                    }
                    (Message::Ack { stream, seq }, Output::Released(_)) => {
                        set_insert(&mut s.ghost.acked, (stream, seq))
                    }
                    (Message::Report { .. }, Output::Granted { limit: Some(limit), .. }) => {
                        self.granted(s, (None, None), Some(limit))
                    }
                    // A repeated report: the limit again, to the slave that repeated it.
                    (Message::Report { rds, .. }, Output::Granted { limit: None, again: Some(ts) }) => {
                        Self::send(s, Node::Rds(rds), Message::Limit { ts })
                    }
                    (Message::Report { .. }, Output::Granted { limit: None, again: None }) => {}
                    (Message::Limit { ts }, Output::LimitStored) => {
                        env_rds(env.dst).filter(|r| *r < s.roles.receivers.len())?;
                        Self::note_limit(s, (limit_before, limit_before), ts);
                    }
                    _ => return None,
                }
            }
            (Action::Retry { .. }, Some(Output::Reported { report, .. })) => Self::send(s, Node::Master, report),
            (Action::Report { .. }, Some(Output::Reported { report, granted })) => {
                if self.config.sync_rounds {
                    self.granted(s, limits_before, granted);
                } else {
                    Self::send(s, Node::Master, report);
                }
            }
            (Action::Destage { rds }, Some(Output::Destaged(d))) => {
                self.apply(s, rds, limit_before, d);
            }
            (Action::Takeover, Some(Output::TakenOver { limit, destaged })) => {
                for (r, d) in destaged {
                    self.apply(s, r, limit, d);
                }
                s.net.clear();
                s.phase = Phase::TakenOver;
                if !Self::takeover_image_ok(s, limit) {
                    s.ghost.bad_takeover = true;
                }
            }
            _ => return None,
        }
        Some(())
    }

    /// The fairness classes (note 6.2): the host's writes, the clock's tick, each LDS's
    /// publishing (B9), per stream its send, resend and heartbeat timers and the delivery on
    /// its link each way, per RDS its slave round, its destage, and the delivery of its report
    /// and of the limits to it. Losses, duplicates and the disaster have none.
    pub fn fair_classes(&self) -> Vec<String> {
        let mut v = vec!["host writes".to_string(), "tick".to_string()];
        v.extend((0..self.topology.lds_count()).map(|l| format!("publish LDS{l}")));
        for s in &self.streams {
            v.push(format!("send {s}"));
            v.push(format!("resend {s}"));
            v.push(format!("heartbeat {s}"));
            v.push(format!("deliver LDS{}->RDS{} on {s}", s.lds, s.rds));
            v.push(format!("deliver RDS{}->LDS{} on {s}", s.rds, s.lds));
        }
        for r in 0..self.topology.rds_count() {
            v.push(format!("round RDS{r}"));
            v.push(format!("destage RDS{r}"));
            v.push(format!("deliver RDS{r}->Master"));
            v.push(format!("deliver Master->RDS{r}"));
        }
        if self.retries() {
            v.extend((0..self.topology.rds_count()).map(|r| format!("retry RDS{r}")));
        }
        v
    }

    /// The fairness class of an action: its index in [`OrderingModel::fair_classes`].
    pub fn fair_class(&self, action: &Action) -> Option<usize> {
        let lds = self.topology.lds_count() as usize;
        let streams = 2 + lds;
        let rds_base = streams + 5 * self.streams.len();
        let stream = |s: &StreamId| self.streams.iter().position(|x| x == s).map(|i| streams + 5 * i);
        match action {
            Action::Write { .. } => Some(0),
            Action::Tick => Some(1),
            Action::Publish { lds, .. } => Some(2 + *lds as usize),
            Action::Send { stream: s } => stream(s),
            Action::Timeout { stream: s, .. } => stream(s).map(|b| b + 1),
            Action::Heartbeat { stream: s } => stream(s).map(|b| b + 2),
            Action::Deliver(e) => match (&e.msg, e.dst) {
                (Message::Data(p), _) => stream(&p.stream).map(|b| b + 3),
                (Message::Ack { stream: s, .. }, _) => stream(s).map(|b| b + 4),
                (Message::Report { rds, .. }, _) => Some(rds_base + 4 * *rds as usize + 2),
                (Message::Limit { .. }, Node::Rds(r)) => Some(rds_base + 4 * r as usize + 3),
                (Message::Limit { .. }, _) => None,
            },
            Action::Report { rds } => Some(rds_base + 4 * *rds as usize),
            Action::Retry { rds } => Some(rds_base + 4 * self.topology.rds_count() as usize + *rds as usize),
            Action::Destage { rds } => Some(rds_base + 4 * *rds as usize + 1),
            Action::Lose(_) | Action::Duplicate(_) | Action::Takeover | Action::Crash { .. } => None,
        }
    }

    /// Whether slaves retry their rounds: hardened, where M3 and M4 may be lost.
    fn retries(&self) -> bool {
        self.config.rounds_retried(self.variant)
    }

    /// Whether slave `rds`'s round timer fires again: slaves retry, it has reported, nothing of
    /// its round is in flight, and something of it was lost (the master does not hold its last
    /// report, or it does not hold the master's last limit). A retry where nothing was lost
    /// changes nothing; leaving it out keeps the world from circling.
    fn may_retry(&self, state: &State, rds: RdsId) -> bool {
        let (Some(r), true) = (state.roles.receivers.get(rds as usize), self.retries()) else { return false };
        let master = &state.roles.master;
        let lost = master.reports.get(rds as usize).copied().flatten() < r.reported || r.limit < master.granted;
        r.report_again().is_some() && lost && !Self::round_in_flight(state, rds)
    }

    /// A report of `rds` or a limit to it is in flight: its round timer waits for it.
    fn round_in_flight(state: &State, rds: RdsId) -> bool {
        state.net.iter().any(|e| match (&e.msg, e.dst) {
            (Message::Report { rds: r, .. }, _) => *r == rds,
            (Message::Limit { .. }, Node::Rds(r)) => r == rds,
            _ => false,
        })
    }

    fn has_in_flight(state: &State, stream: StreamId, seq: Seq) -> bool {
        state.net.iter().any(|e| match &e.msg {
            Message::Data(p) => p.stream == stream && p.seq == seq,
            Message::Ack { stream: s, seq: q } => *s == stream && *q == seq,
            _ => false,
        })
    }
}

fn env_rds(n: Node) -> Option<usize> {
    match n {
        Node::Rds(r) => Some(r as usize),
        _ => None,
    }
}

impl Model for OrderingModel {
    type State = State;
    type Action = Action;

    fn init_states(&self) -> Vec<State> {
        let t = &self.topology;
        let window = |s: Sender<Wid>| match self.config.window {
            Some(w) => s.with_window(w),
            None => s,
        };
        let cache = |r: Receiver<Wid>| match self.config.cache {
            Some(c) => r.with_cache(c),
            None => r,
        };
        let senders =
            (0..t.lds_count()).map(|l| window(Sender::new(l, &t.streams_from(l), self.variant, self.faults))).collect();
        let receivers = (0..t.rds_count())
            .map(|r| cache(Receiver::new(r, &t.streams_into(r), self.variant, self.faults)))
            .collect();
        let ghost = Ghost {
            arrived_seqs: t.streams().into_iter().map(|s| (s, 0)).collect(),
            destaged: vec![Vec::new(); t.rds_count() as usize],
            ..Ghost::default()
        };
        vec![State {
            roles: Roles { senders, receivers, master: LimitCoordinator::new(t.rds_count(), self.faults) },
            net: Vec::new(),
            now: 0,
            ticks: 0,
            loss_left: self.config.loss,
            dup_left: self.config.dup,
            crashed: 0,
            phase: Phase::Running,
            ghost,
        }]
    }

    fn actions(&self, state: &State, actions: &mut Vec<Action>) {
        if state.phase != Phase::Running {
            return;
        }
        let t = &self.topology;
        let issued = state.ghost.writes.len();
        // On a coarse clock a write may come at the reading of the last one.
        let times: &[bool] = if self.config.coarse_clock && issued > 0 { &[false, true] } else { &[false] };
        if let Some(&(pair, pos)) = self.config.script.get(issued) {
            actions.extend(times.iter().map(|&same_time| Action::Write { pair, pos, same_time }));
        } else if issued < self.config.writes as usize {
            for pair in 0..t.pairs.len() as PairId {
                for pos in 0..self.config.positions {
                    actions.extend(times.iter().map(|&same_time| Action::Write { pair, pos, same_time }));
                }
            }
        }
        for s in &state.roles.senders {
            for index in 0..s.staged.len() as u8 {
                actions.push(Action::Publish { lds: s.lds, index });
            }
            for st in &s.streams {
                if s.has_unsent(st.id) {
                    actions.push(Action::Send { stream: st.id });
                }
                for (seq, _) in s.unacked(st.id) {
                    if self.variant.hardened() && !Self::has_in_flight(state, st.id, seq) {
                        actions.push(Action::Timeout { stream: st.id, seq });
                    }
                }
                if state.ticks > 0 && s.heartbeat_due(st.id, self.clock(s.lds, state.now)) {
                    actions.push(Action::Heartbeat { stream: st.id });
                }
            }
        }
        let may_tick = match self.config.ticks {
            // Once, after the host's last write (hardened: it lets idle streams send heartbeats).
            None => self.variant.hardened() && state.ticks == 0 && issued == self.config.writes as usize,
            // Up to n times, at any point: heartbeats interleave with writes.
            Some(n) => state.ticks < n,
        };
        if may_tick {
            actions.push(Action::Tick);
        }
        for (i, e) in state.net.iter().enumerate() {
            if i > 0 && state.net[i - 1] == *e {
                continue;
            }
            if !matches!(e.dst, Node::Rds(r) if state.is_crashed(r)) {
                actions.push(Action::Deliver(e.clone()));
            }
            let data_path = self.config.lossy_rounds || matches!(e.msg, Message::Data(_) | Message::Ack { .. });
            if data_path && state.loss_left > 0 {
                actions.push(Action::Lose(e.clone()));
            }
            if data_path && state.dup_left > 0 {
                actions.push(Action::Duplicate(e.clone()));
            }
        }
        let may_crash = state.crashed.count_ones() < self.config.crashes as u32;
        for r in &state.roles.receivers {
            if state.is_crashed(r.rds) {
                continue;
            }
            if r.report_due() {
                actions.push(Action::Report { rds: r.rds });
            }
            if self.may_retry(state, r.rds) {
                actions.push(Action::Retry { rds: r.rds });
            }
            if r.can_destage() {
                actions.push(Action::Destage { rds: r.rds });
            }
            if may_crash {
                actions.push(Action::Crash { rds: r.rds });
            }
        }
        actions.push(Action::Takeover);
    }

    /// A copy of `last`, stepped in place (`step`: the roles take the input through [`feed`],
    /// the world does its bookkeeping on what they answered).
    fn next_state(&self, last: &State, action: Action) -> Option<State> {
        if !self.enabled_in(last, &action) {
            return None;
        }
        let mut s = last.clone();
        self.step(&mut s, action).then_some(s)
    }

    fn properties(&self) -> Vec<Property<Self>> {
        super::properties::all()
    }
}
