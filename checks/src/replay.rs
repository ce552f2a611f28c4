//! Replay: a trace file re-run on the model must reproduce its verdict, and re-run against the
//! `rcopy` roles directly must reproduce every role state it records.

use crate::render::model_of;
use crate::trace::{Kind, Trace};
use rcopy::ordering::{HostWrite, Message, RemoteAddr};
use rcopy_model::ordering::{Action, Node, OrderingModel, State};
use stateright::{Expectation, Model};

/// What a replay established.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Replayed {
    pub steps: usize,
    pub property: String,
    pub kind: Kind,
}

fn property_holds(model: &OrderingModel, name: &str, state: &State) -> Result<(bool, Expectation), String> {
    let p = model
        .properties()
        .into_iter()
        .find(|p| p.name == name)
        .ok_or(format!("the model has no property `{name}`"))?;
    Ok(((p.condition)(model, state), p.expectation))
}

/// Re-run the trace's actions on the model from its initial state: every action must be
/// enabled, every state must be the recorded one, and the verdict must be the recorded one.
pub fn on_model(trace: &Trace) -> Result<Replayed, String> {
    let model = model_of(trace)?;
    let (actions, states) = trace.typed()?;
    let init = model.init_states().into_iter().next().ok_or("the model has no initial state")?;
    if init != states[0] {
        return Err("the initial state differs from the model's".into());
    }
    let mut cur = init;
    for (i, a) in actions.iter().enumerate() {
        let mut enabled = Vec::new();
        model.actions(&cur, &mut enabled);
        if !enabled.contains(a) {
            return Err(format!("step {}: {a:?} is not enabled", i + 1));
        }
        cur = model.next_state(&cur, a.clone()).ok_or(format!("step {}: {a:?} changes nothing", i + 1))?;
        if cur != states[i + 1] {
            return Err(format!("step {}: {a:?} leads to a state other than the recorded one", i + 1));
        }
    }
    let (holds, expectation) = property_holds(&model, &trace.property, &cur)?;
    match (trace.kind, expectation) {
        (Kind::Safety, Expectation::Always) if !holds => {}
        (Kind::Example, Expectation::Sometimes) if holds => {}
        (Kind::Liveness, Expectation::Eventually) => {
            for (i, s) in states.iter().enumerate() {
                if property_holds(&model, &trace.property, s)?.0 {
                    return Err(format!("`{}` holds at step {i}: no liveness counterexample", trace.property));
                }
            }
            let mut enabled = Vec::new();
            model.actions(&cur, &mut enabled);
            if enabled.into_iter().any(|a| model.next_state(&cur, a).is_some()) {
                return Err("the run does not end in its last state: no liveness counterexample".into());
            }
        }
        _ => return Err(format!("the last state does not reproduce the {:?} verdict of `{}`", trace.kind, trace.property)),
    }
    Ok(Replayed { steps: actions.len(), property: trace.property.clone(), kind: trace.kind })
}

/// Re-run each step against the roles themselves: take the roles as recorded before the step,
/// feed them the step's input through the `rcopy` API, and compare with the roles recorded
/// after it. This needs no model: a trace stays a regression test of the production code.
pub fn on_roles(trace: &Trace) -> Result<usize, String> {
    let model = model_of(trace)?;
    let (actions, states) = trace.typed()?;
    for (i, a) in actions.iter().enumerate() {
        let (before, after) = (&states[i], &states[i + 1]);
        let mut s = before.clone();
        drive(&model, &mut s, a).map_err(|e| format!("step {}: {a:?}: {e}", i + 1))?;
        if s.senders != after.senders {
            return Err(format!("step {}: {a:?}: the senders differ from the recorded ones", i + 1));
        }
        if s.receivers != after.receivers {
            return Err(format!("step {}: {a:?}: the receivers differ from the recorded ones", i + 1));
        }
        if s.master != after.master {
            return Err(format!("step {}: {a:?}: the master differs from the recorded one", i + 1));
        }
    }
    Ok(actions.len())
}

/// Feed one step's input to the roles of `s`; the world (network, ghost) is not touched.
fn drive(model: &OrderingModel, s: &mut State, a: &Action) -> Result<(), String> {
    let t = &model.config.topology;
    let clock = |lds: u16, now: u64| model.clock(lds, now);
    match a {
        Action::Write { pair, pos } => {
            let p = t.pair(*pair).ok_or("no such pair")?;
            let stream = t.stream_of(*pair).ok_or("no such pair")?;
            let write = HostWrite { stream, addr: RemoteAddr { unit: p.remote_unit, pos: *pos }, payload: s.ghost.writes.len() as u8 };
            s.senders[p.lds as usize].on_host_write(write, clock(p.lds, s.now + 1)).map_err(|e| e.to_string())?;
        }
        Action::Publish { lds, index } => {
            s.senders[*lds as usize].publish(*index as usize).then_some(()).ok_or("nothing to publish")?;
        }
        Action::Send { stream } => {
            s.senders[stream.lds as usize].send_next(*stream).ok_or("nothing to send")?;
        }
        Action::Timeout { stream, seq } => {
            s.senders[stream.lds as usize].on_timeout(*stream, *seq).ok_or("nothing to resend")?;
        }
        Action::Heartbeat { stream } => {
            s.senders[stream.lds as usize].on_idle(*stream, clock(stream.lds, s.now)).ok_or("no heartbeat due")?;
        }
        Action::Deliver(e) => match (e.dst, &e.msg) {
            (Node::Rds(r), Message::Data(p)) => {
                s.receivers[r as usize].on_data(p.clone()).map_err(|e| e.to_string())?;
            }
            (Node::Lds(l), Message::Ack { stream, seq }) => {
                s.senders[l as usize].on_ack(*stream, *seq);
            }
            (Node::Master, Message::Report { rds, ts }) => {
                s.master.on_report(*rds, *ts).map_err(|e| e.to_string())?;
            }
            (Node::Rds(r), Message::Limit { ts }) => s.receivers[r as usize].on_limit(*ts),
            _ => return Err("a message at the wrong node".into()),
        },
        Action::Report { rds } => {
            let msg = s.receivers[*rds as usize].report().ok_or("nothing to report")?;
            if let (true, Message::Report { rds, ts }) = (model.config.sync_rounds, msg) {
                if let Some(limit) = s.master.on_report(rds, ts).map_err(|e| e.to_string())? {
                    s.receivers.iter_mut().for_each(|r| r.on_limit(limit));
                }
            }
        }
        Action::Destage { rds } => {
            s.receivers[*rds as usize].poll_destage().ok_or("nothing to destage")?;
        }
        Action::Takeover => {
            let lmax = s.master.max_granted;
            for r in &mut s.receivers {
                r.takeover(lmax);
            }
        }
        // The world's own steps: no role takes an input.
        Action::Tick | Action::Lose(_) | Action::Duplicate(_) => {}
    }
    Ok(())
}
