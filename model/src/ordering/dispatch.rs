//! The one dispatcher: what a step of the world feeds to the `rcopy` roles, and the one
//! function that feeds it. The model's `next_state` calls [`feed`]; so does replay on the roles
//! ([`OrderingModel::drive_roles`]). There is no second copy to keep in step.

use super::model::{Action, OrderingModel};
use super::state::{Node, Roles, State, Wid};
use rcopy::ordering::{
    Accepted, ClockReading, DataPacket, Destage, HostWrite, LdsId, Message, RdsId, RemoteAddr, Seq, StreamId, Ts,
};

/// One input to one role (or, for a synchronous round and a takeover, to several in one step).
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Input {
    /// Fig. 5: a host write reaches `lds`, which reads `clock`.
    HostWrite { lds: LdsId, write: HostWrite<Wid>, clock: ClockReading },
    /// Fault B9: a stamped write of `lds` becomes visible to its send process.
    Publish { lds: LdsId, index: usize },
    /// Fig. 6: the send process of `stream` sends its earliest unsent write.
    Send { stream: StreamId },
    /// Hardened: the retransmission timer of (stream, seq) fires.
    Timeout { stream: StreamId, seq: Seq },
    /// Hardened: the heartbeat timer of an idle stream fires; its LDS reads `clock`.
    Heartbeat { stream: StreamId, clock: ClockReading },
    /// Fig. 8: M1 reaches RDS `rds`.
    Data { rds: RdsId, packet: DataPacket<Wid> },
    /// Fig. 7: M2 reaches LDS `lds`.
    Ack { lds: LdsId, stream: StreamId, seq: Seq },
    /// Fig. 10: M3 reaches the master.
    Report { rds: RdsId, ts: Ts },
    /// Step 904: M4 reaches RDS `rds`.
    Limit { rds: RdsId, ts: Ts },
    /// Fig. 9: slave `rds` runs its round; with `sync`, its report reaches the master and any
    /// limit granted reaches every slave in the same step.
    Round { rds: RdsId, sync: bool },
    /// Hardened: slave `rds` retries its round, repeating its last report.
    Retry { rds: RdsId },
    /// Fig. 11: RDS `rds` destages one write.
    Destage { rds: RdsId },
    /// Note S8: every RDS drains up to the largest limit the master granted.
    Takeover,
}

/// What the roles answered.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Output {
    Accepted(Accepted),
    Published,
    /// A packet to send; `released` under fault B13.
    Sent {
        packet: DataPacket<Wid>,
        released: bool,
    },
    /// The receiver's ack (M2).
    Acked(Message<Wid>),
    /// Whether an ack released an entry.
    Released(bool),
    /// The master's answer to a report: a limit to send every slave, if it granted one; else,
    /// for a report it already held (a retried round), the limit granted, for that slave.
    Granted {
        limit: Option<Ts>,
        again: Option<Ts>,
    },
    LimitStored,
    /// A slave's report, and (synchronous rounds) the limit the master granted on it, which
    /// every slave has already stored.
    Reported {
        report: Message<Wid>,
        granted: Option<Ts>,
    },
    Destaged(Destage<Wid>),
    /// The takeover's destages per RDS, in order, and the limit they were drained to.
    TakenOver {
        limit: Option<Ts>,
        destaged: Vec<(RdsId, Destage<Wid>)>,
    },
}

fn sender(roles: &mut Roles, lds: LdsId) -> Result<&mut rcopy::ordering::Sender<Wid>, String> {
    roles.senders.get_mut(lds as usize).ok_or(format!("there is no LDS{lds}"))
}

fn receiver(roles: &mut Roles, rds: RdsId) -> Result<&mut rcopy::ordering::Receiver<Wid>, String> {
    roles.receivers.get_mut(rds as usize).ok_or(format!("there is no RDS{rds}"))
}

/// Feed one input to the roles. An error says why the roles refused it (the step is then not
/// enabled); the roles are left as they were, or partly changed if the input was refused
/// midway, so callers feed a copy.
pub fn feed(roles: &mut Roles, input: Input) -> Result<Output, String> {
    Ok(match input {
        Input::HostWrite { lds, write, clock } => {
            Output::Accepted(sender(roles, lds)?.on_host_write(write, clock).map_err(|e| e.to_string())?)
        }
        Input::Publish { lds, index } => {
            if !sender(roles, lds)?.publish(index) {
                return Err(format!("LDS{lds} has no staged write #{index}"));
            }
            Output::Published
        }
        Input::Send { stream } => {
            let (packet, released) = sender(roles, stream.lds)?.send_next(stream).ok_or("nothing to send")?;
            Output::Sent { packet, released }
        }
        Input::Timeout { stream, seq } => {
            let packet = sender(roles, stream.lds)?.on_timeout(stream, seq).ok_or("nothing to resend")?;
            Output::Sent { packet, released: false }
        }
        Input::Heartbeat { stream, clock } => {
            let packet = sender(roles, stream.lds)?.on_idle(stream, clock).ok_or("no heartbeat due")?;
            Output::Sent { packet, released: false }
        }
        Input::Data { rds, packet } => Output::Acked(receiver(roles, rds)?.on_data(packet).map_err(|e| e.to_string())?),
        Input::Ack { lds, stream, seq } => Output::Released(sender(roles, lds)?.on_ack(stream, seq)),
        Input::Report { rds, ts } => {
            let answer = roles.master.on_round_report(rds, ts).map_err(|e| e.to_string())?;
            Output::Granted { limit: answer.grant, again: answer.again }
        }
        Input::Limit { rds, ts } => {
            receiver(roles, rds)?.on_limit(ts);
            Output::LimitStored
        }
        Input::Round { rds, sync } => {
            let report = receiver(roles, rds)?.report().ok_or("nothing to report")?;
            let mut granted = None;
            if let (true, Message::Report { rds, ts }) = (sync, &report) {
                granted = roles.master.on_report(*rds, *ts).map_err(|e| e.to_string())?;
                if let Some(limit) = granted {
                    roles.receivers.iter_mut().for_each(|r| r.on_limit(limit));
                }
            }
            Output::Reported { report, granted }
        }
        Input::Retry { rds } => {
            let report = receiver(roles, rds)?.report_again().ok_or("nothing to repeat")?;
            Output::Reported { report, granted: None }
        }
        Input::Destage { rds } => Output::Destaged(receiver(roles, rds)?.poll_destage().ok_or("nothing to destage")?),
        Input::Takeover => {
            let limit = roles.master.max_granted;
            let mut destaged = Vec::new();
            for r in roles.receivers.iter_mut() {
                let rds = r.rds;
                destaged.extend(r.takeover(limit).into_iter().map(|d| (rds, d)));
            }
            Output::TakenOver { limit, destaged }
        }
    })
}

impl OrderingModel {
    /// The input `action` feeds to the roles in `state`, read off the world (the clock, the
    /// history, the message delivered); `None` for the world's own steps (a tick, a loss, a
    /// duplicate), which no role sees. An error when the action makes no sense here.
    pub fn input(&self, state: &State, action: &Action) -> Result<Option<Input>, String> {
        Ok(Some(match action {
            Action::Write { pair, pos, same_time } => {
                let p = self.topology.pair(*pair).ok_or(format!("there is no pair {pair}"))?;
                let stream = self.topology.stream_of(*pair).ok_or(format!("there is no pair {pair}"))?;
                let wid = Wid::try_from(state.ghost.writes.len()).map_err(|_| "too many writes")?;
                let write = HostWrite { stream, addr: RemoteAddr { unit: p.remote_unit, pos: *pos }, payload: wid };
                let now = if *same_time { Some(state.now) } else { state.now.checked_add(1) };
                let now = now.ok_or("the clock has no later reading")?;
                Input::HostWrite { lds: p.lds, write, clock: self.clock(p.lds, now) }
            }
            Action::Publish { lds, index } => Input::Publish { lds: *lds, index: *index as usize },
            Action::Send { stream } => Input::Send { stream: *stream },
            Action::Timeout { stream, seq } => Input::Timeout { stream: *stream, seq: *seq },
            Action::Heartbeat { stream } => {
                Input::Heartbeat { stream: *stream, clock: self.clock(stream.lds, state.now) }
            }
            Action::Deliver(e) => match (e.dst, &e.msg) {
                (Node::Rds(rds), Message::Data(packet)) => Input::Data { rds, packet: packet.clone() },
                (Node::Lds(lds), Message::Ack { stream, seq }) => Input::Ack { lds, stream: *stream, seq: *seq },
                (Node::Master, Message::Report { rds, ts }) => Input::Report { rds: *rds, ts: *ts },
                (Node::Rds(rds), Message::Limit { ts }) => Input::Limit { rds, ts: *ts },
                _ => return Err("a message at the wrong node".into()),
            },
            Action::Report { rds } => Input::Round { rds: *rds, sync: self.config.sync_rounds },
            Action::Retry { rds } => Input::Retry { rds: *rds },
            Action::Destage { rds } => Input::Destage { rds: *rds },
            Action::Takeover => Input::Takeover,
            Action::Tick | Action::Lose(_) | Action::Duplicate(_) | Action::Crash { .. } => return Ok(None),
        }))
    }

    /// Feed `action`'s input to the roles of `state`; the world (network, clock, ghost) is not
    /// touched. Replay on the roles calls this.
    pub fn drive_roles(&self, state: &mut State, action: &Action) -> Result<(), String> {
        if let Some(input) = self.input(state, action)? {
            feed(&mut state.roles, input)?;
        }
        Ok(())
    }
}
