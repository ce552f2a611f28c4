//! The actions of the ordering world (note section 7) and how each one drives the roles.

use super::config::{Config, Mode};
use super::state::{set_insert, Envelope, Ghost, Node, Phase, State, Wid, WriteRec};
use rcopy::fault::FaultSet;
use rcopy::ordering::{
    ClockReading, DataPacket, Destage, HostWrite, LimitCoordinator, Message, PairId, RdsId, Receiver, RemoteAddr,
    Sender, Seq, StreamId, Ts, Variant,
};
use serde::{Deserialize, Serialize};
use stateright::{Model, Property};

/// The ordering protocol in a world of hosts, clocks, an unordered lossy duplicating network,
/// slave/master rounds, destage, and a local-site disaster with takeover.
#[derive(Clone, Debug)]
pub struct OrderingModel {
    pub config: Config,
    pub variant: Variant,
    pub faults: FaultSet,
    pub mode: Mode,
}

/// One step of the world.
#[derive(Clone, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub enum Action {
    /// A host writes to `pos` of `pair` (Fig. 5).
    Write { pair: PairId, pos: u32 },
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
    /// An RDS's destage process takes one step (Fig. 11).
    Destage { rds: RdsId },
    /// The local site is lost; the remote site fences the link and takes over, draining every
    /// RDS up to the largest limit granted (note S8).
    Takeover,
}

impl OrderingModel {
    pub fn new(config: Config, variant: Variant, faults: FaultSet, mode: Mode) -> OrderingModel {
        OrderingModel { config, variant, faults, mode }
    }

    /// What LDS `lds` reads off the clocks at common time `now` (its own clock runs `skew` ahead).
    pub fn clock(&self, lds: u16, now: u64) -> ClockReading {
        let skew = self.config.skew.get(lds as usize).copied().unwrap_or(0);
        ClockReading { common: now, local: now + skew }
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
        let missing = g.writes.iter().enumerate().any(|(v, o)| o.group == rec.group && o.ts < rec.ts && !g.has_arrived(v as Wid));
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

    /// Fig. 10: the master takes a report; a limit it grants goes to every slave (M4), or, with
    /// synchronous rounds, is stored by every slave at once.
    fn master_round(&self, s: &mut State, rds: RdsId, ts: Ts) -> Option<()> {
        let Some(limit) = s.master.on_report(rds, ts).ok()? else { return Some(()) };
        for r in 0..s.receivers.len() {
            if self.config.sync_rounds {
                Self::store_limit(s, r, limit);
            } else {
                Self::send(s, Node::Rds(r as RdsId), Message::Limit { ts: limit });
            }
        }
        Some(())
    }

    /// Step 904 at slave `r`, with the ghost's notes on stale and advancing limits.
    fn store_limit(s: &mut State, r: usize, ts: Ts) {
        let old = s.receivers[r].limit;
        if old > Some(ts) {
            s.ghost.limit_regressed = true;
        }
        if s.ghost.gap_filled && Some(ts) > old {
            s.ghost.gap_then_limit = true;
        }
        s.receivers[r].on_limit(ts);
    }

    fn has_in_flight(state: &State, stream: StreamId, seq: Seq) -> bool {
        state.net.iter().any(|e| match &e.msg {
            Message::Data(p) => p.stream == stream && p.seq == seq,
            Message::Ack { stream: s, seq: q } => *s == stream && *q == seq,
            _ => false,
        })
    }
}

impl Model for OrderingModel {
    type State = State;
    type Action = Action;

    fn init_states(&self) -> Vec<State> {
        let t = &self.config.topology;
        let senders = (0..t.lds_count())
            .map(|l| Sender::new(l, &t.streams_from(l), self.variant, self.faults))
            .collect();
        let receivers = (0..t.rds_count())
            .map(|r| Receiver::new(r, &t.streams_into(r), self.variant, self.faults))
            .collect();
        let ghost = Ghost {
            arrived_seqs: t.streams().into_iter().map(|s| (s, 0)).collect(),
            destaged: vec![Vec::new(); t.rds_count() as usize],
            ..Ghost::default()
        };
        vec![State {
            senders,
            receivers,
            master: LimitCoordinator::new(t.rds_count(), self.faults),
            net: Vec::new(),
            now: 0,
            ticked: false,
            loss_left: self.config.loss,
            dup_left: self.config.dup,
            phase: Phase::Running,
            ghost,
        }]
    }

    fn actions(&self, state: &State, actions: &mut Vec<Action>) {
        if state.phase != Phase::Running {
            return;
        }
        let t = &self.config.topology;
        let issued = state.ghost.writes.len() as u8;
        if let Some(script) = &self.config.script {
            if let Some(&(pair, pos)) = script.get(issued as usize) {
                actions.push(Action::Write { pair, pos });
            }
        } else if issued < self.config.writes {
            for pair in 0..t.pairs.len() as PairId {
                for pos in 0..self.config.positions {
                    actions.push(Action::Write { pair, pos });
                }
            }
        }
        for s in &state.senders {
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
                if state.ticked && s.heartbeat_due(st.id, self.clock(s.lds, state.now)) {
                    actions.push(Action::Heartbeat { stream: st.id });
                }
            }
        }
        if self.variant.hardened() && !state.ticked && issued == self.config.writes {
            actions.push(Action::Tick);
        }
        for (i, e) in state.net.iter().enumerate() {
            if i > 0 && state.net[i - 1] == *e {
                continue;
            }
            actions.push(Action::Deliver(e.clone()));
            let data_path = matches!(e.msg, Message::Data(_) | Message::Ack { .. });
            if data_path && state.loss_left > 0 {
                actions.push(Action::Lose(e.clone()));
            }
            if data_path && state.dup_left > 0 {
                actions.push(Action::Duplicate(e.clone()));
            }
        }
        for r in &state.receivers {
            if r.report_due() {
                actions.push(Action::Report { rds: r.rds });
            }
            if r.can_destage() {
                actions.push(Action::Destage { rds: r.rds });
            }
        }
        if self.mode == Mode::Safety {
            actions.push(Action::Takeover);
        }
    }

    fn next_state(&self, last: &State, action: Action) -> Option<State> {
        let mut s = last.clone();
        match action {
            Action::Write { pair, pos } => {
                let t = &self.config.topology;
                let p = *t.pair(pair)?;
                let stream = t.stream_of(pair)?;
                let wid = s.ghost.writes.len() as Wid;
                s.now += 1;
                let addr = RemoteAddr { unit: p.remote_unit, pos };
                let clock = self.clock(p.lds, s.now);
                let accepted = s.senders[p.lds as usize]
                    .on_host_write(HostWrite { stream, addr, payload: wid }, clock)
                    .ok()?;
                s.ghost.writes.push(WriteRec { pair, group: p.group, stream, addr, ts: accepted.ts });
            }
            Action::Publish { lds, index } => {
                if !s.senders[lds as usize].publish(index as usize) {
                    return None;
                }
            }
            Action::Send { stream } => {
                let (packet, released) = s.senders[stream.lds as usize].send_next(stream)?;
                if released && !s.ghost.acked.contains(&(stream, packet.seq)) {
                    s.ghost.bad_release = true;
                }
                Self::record_sent(&mut s, &packet);
                Self::send(&mut s, Node::Rds(stream.rds), Message::Data(packet));
            }
            Action::Timeout { stream, seq } => {
                let packet = s.senders[stream.lds as usize].on_timeout(stream, seq)?;
                Self::record_sent(&mut s, &packet);
                Self::send(&mut s, Node::Rds(stream.rds), Message::Data(packet));
            }
            Action::Heartbeat { stream } => {
                let clock = self.clock(stream.lds, s.now);
                let packet = s.senders[stream.lds as usize].on_idle(stream, clock)?;
                Self::record_sent(&mut s, &packet);
                Self::send(&mut s, Node::Rds(stream.rds), Message::Data(packet));
            }
            Action::Tick => {
                s.now += 1;
                s.ticked = true;
            }
            Action::Lose(env) => {
                if !Self::take(&mut s, &env) || s.loss_left == 0 {
                    return None;
                }
                s.loss_left -= 1;
            }
            Action::Duplicate(env) => {
                if !s.net.contains(&env) || s.dup_left == 0 {
                    return None;
                }
                s.dup_left -= 1;
                Self::send(&mut s, env.dst, env.msg);
            }
            Action::Deliver(env) => {
                if !Self::take(&mut s, &env) {
                    return None;
                }
                match (env.dst, env.msg) {
                    (Node::Rds(r), Message::Data(p)) => {
                        let g = &mut s.ghost;
                        let before = g.frontier(p.stream).map_or(0, |(k, _)| k + 1);
                        if let Some(w) = p.payload {
                            g.arrived |= Ghost::write_bit(w);
                        }
                        if let Some(slot) = g.arrived_seqs.iter_mut().find(|(st, _)| *st == p.stream) {
                            slot.1 |= 1u64 << p.seq.min(63);
                        }
                        let after = g.frontier(p.stream).map_or(0, |(k, _)| k + 1);
                        if after > before + 1 {
                            g.gap_filled = true;
                        }
                        let ack = s.receivers[r as usize].on_data(p).ok()?;
                        let Message::Ack { stream, .. } = &ack else { return None };
                        let lds = stream.lds;
                        Self::send(&mut s, Node::Lds(lds), ack);
                    }
                    (Node::Lds(l), Message::Ack { stream, seq }) => {
                        set_insert(&mut s.ghost.acked, (stream, seq));
                        s.senders[l as usize].on_ack(stream, seq);
                    }
                    (Node::Master, Message::Report { rds, ts }) => self.master_round(&mut s, rds, ts)?,
                    (Node::Rds(r), Message::Limit { ts }) => Self::store_limit(&mut s, r as usize, ts),
                    _ => return None,
                }
            }
            Action::Report { rds } => {
                let msg = s.receivers[rds as usize].report()?;
                match msg {
                    Message::Report { rds, ts } if self.config.sync_rounds => self.master_round(&mut s, rds, ts)?,
                    msg => Self::send(&mut s, Node::Master, msg),
                }
            }
            Action::Destage { rds } => {
                let limit = s.receivers[rds as usize].limit;
                let d = s.receivers[rds as usize].poll_destage()?;
                self.apply(&mut s, rds, limit, d);
            }
            Action::Takeover => {
                let lmax = s.master.max_granted;
                for r in 0..s.receivers.len() as RdsId {
                    for d in s.receivers[r as usize].takeover(lmax) {
                        self.apply(&mut s, r, lmax, d);
                    }
                }
                s.net.clear();
                s.phase = Phase::TakenOver;
                if !Self::takeover_image_ok(&s, lmax) {
                    s.ghost.bad_takeover = true;
                }
            }
        }
        Some(s)
    }

    fn properties(&self) -> Vec<Property<Self>> {
        super::properties::all(self.mode)
    }
}
