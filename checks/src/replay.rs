//! Replay: a trace re-run on the model must reproduce every state and its verdict; re-run on
//! the protocol's roles (through the protocol's one dispatcher, the function the model's
//! `next_state` calls) it must reproduce every role state it records.

use crate::config;
use crate::guard::guarded;
use crate::trace::Trace;
use rcopy_model::protocol::{Kind, Protocol};
use stateright::Model;

/// What a replay established.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Replayed {
    pub steps: usize,
    pub property: String,
    pub kind: Kind,
}

/// The model a trace was made on, from the config values it recorded.
pub fn model_of<P: Protocol>(p: &P, trace: &Trace) -> Result<P::Model, String> {
    if trace.protocol != p.name() {
        return Err(format!("a trace of protocol `{}`, not `{}`", trace.protocol, p.name()));
    }
    let config: P::Config = config::from_record(&trace.config)?;
    p.model(&config, &trace.variant, &trace.faults, &trace.mode)
}

/// A trace's actions and states, typed.
pub type Typed<P> = (Vec<<P as Protocol>::Action>, Vec<<P as Protocol>::State>);

/// The trace's actions and states, typed (its shape was checked when it was read).
pub fn typed<P: Protocol>(trace: &Trace) -> Result<Typed<P>, String> {
    let mut actions = Vec::new();
    let mut states = Vec::new();
    for (i, s) in trace.steps.iter().enumerate() {
        if let Some(a) = &s.action {
            actions.push(serde_json::from_value(a.clone()).map_err(|e| format!("step {i}: action: {e}"))?);
        }
        states.push(serde_json::from_value(s.state.clone()).map_err(|e| format!("step {i}: state: {e}"))?);
    }
    if states.is_empty() || actions.len() + 1 != states.len() {
        return Err("a trace is its initial state, then a state per action".into());
    }
    Ok((actions, states))
}

fn property<M: Model>(model: &M, name: &str) -> Result<stateright::Property<M>, String> {
    model.properties().into_iter().find(|p| p.name == name).ok_or(format!("the model has no property `{name}`"))
}

/// Re-run the trace's actions on the model from its initial state: every action must be
/// enabled, every state must be the recorded one, and the verdict must be the recorded one.
pub fn on_model<P: Protocol>(p: &P, trace: &Trace) -> Result<Replayed, String> {
    guarded("replay on the model", || {
        let model = model_of(p, trace)?;
        let (actions, states) = typed::<P>(trace)?;
        if !model.init_states().contains(&states[0]) {
            return Err("the initial state is none of the model's".into());
        }
        let mut cur = states[0].clone();
        let mut enabled = Vec::new();
        for (i, a) in actions.iter().enumerate() {
            enabled.clear();
            model.actions(&cur, &mut enabled);
            if !enabled.contains(a) {
                return Err(format!("step {}: {a:?} is not enabled", i + 1));
            }
            cur = model.next_state(&cur, a.clone()).ok_or(format!("step {}: {a:?} changes nothing", i + 1))?;
            if cur != states[i + 1] {
                return Err(format!("step {}: {a:?} leads to a state other than the recorded one", i + 1));
            }
        }
        let prop = property(&model, &trace.property)?;
        let holds = |s: &P::State| (prop.condition)(&model, s);
        match (trace.kind, Kind::of(&prop.expectation)) {
            (Kind::Safety, Kind::Safety) if !holds(&cur) => {}
            (Kind::Example, Kind::Example) if holds(&cur) => {}
            (Kind::Liveness, Kind::Liveness) => {
                if let Some(i) = states.iter().position(holds) {
                    return Err(format!("`{}` holds at step {i}: no liveness counterexample", trace.property));
                }
                match trace.loop_index {
                    Some(j) if states[j] != cur => {
                        return Err(format!("the last state is not the state of step {j}: the lasso does not close"));
                    }
                    Some(_) => {}
                    None => {
                        enabled.clear();
                        model.actions(&cur, &mut enabled);
                        let next = |a| model.next_state(&cur, a).filter(|n| model.within_boundary(n));
                        if enabled.drain(..).any(|a| next(a).is_some()) {
                            return Err("the run does not end in its last state: no liveness counterexample".into());
                        }
                    }
                }
            }
            _ => {
                return Err(format!(
                    "the last state does not reproduce the {} verdict of `{}`",
                    trace.kind.name(),
                    trace.property
                ))
            }
        }
        Ok(Replayed { steps: actions.len(), property: trace.property.clone(), kind: trace.kind })
    })
}

/// Re-run each step on the roles themselves: take the state recorded before the step, feed
/// the step's input to its roles through the protocol's dispatcher, and compare with the roles
/// recorded after it. This needs no exploration: a trace stays a regression test of the
/// production code even when the world around the roles changes.
pub fn on_roles<P: Protocol>(p: &P, trace: &Trace) -> Result<usize, String> {
    guarded("replay on the roles", || {
        let model = model_of(p, trace)?;
        let (actions, states) = typed::<P>(trace)?;
        for (i, a) in actions.iter().enumerate() {
            let mut s = states[i].clone();
            p.drive_roles(&model, &mut s, a).map_err(|e| format!("step {}: {a:?}: {e}", i + 1))?;
            if let Some(d) = p.roles_differ(&states[i + 1], &s) {
                return Err(format!("step {}: {a:?}: {d}", i + 1));
            }
        }
        Ok(actions.len())
    })
}
