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

/// What a trace's property is on the model: a model property, or an obligation.
enum Judged<M: Model> {
    Property(stateright::Property<M>),
    Obligation(rcopy_model::protocol::Obligation<M>),
}

fn property<P: Protocol>(p: &P, model: &P::Model, name: &str) -> Result<Judged<P::Model>, String> {
    if let Some(x) = model.properties().into_iter().find(|x| x.name == name) {
        return Ok(Judged::Property(x));
    }
    p.obligations(model)
        .into_iter()
        .find(|o| o.name == name)
        .map(Judged::Obligation)
        .ok_or(format!("the model has no property `{name}`"))
}

/// The fair classes enabled in `state`: those of the actions with a successor in the boundary.
pub fn fair_enabled<P: Protocol>(p: &P, model: &P::Model, state: &P::State) -> Vec<usize> {
    let mut actions = Vec::new();
    model.actions(state, &mut actions);
    let mut classes: Vec<usize> = actions
        .into_iter()
        .filter_map(|a| {
            let class = p.fair_class(model, &a)?;
            model.next_state(state, a).filter(|n| model.within_boundary(n)).map(|_| class)
        })
        .collect();
    classes.sort();
    classes.dedup();
    classes
}

/// How a fair class fares on a lasso's cycle (or where a behaviour stops).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fate {
    /// Taken at this step (1-based, as the text numbers them).
    Taken(usize),
    /// Disabled in the state after this step (0: the initial state).
    Disabled(usize),
    /// Never taken, and enabled where fairness forbids it: the behaviour is not fair.
    Starved,
}

/// For each fair class of the protocol, its fate on the cycle from the state after step `j` to
/// the last (or, without a cycle, in the last state alone).
pub fn fairness_of<P: Protocol>(
    p: &P,
    model: &P::Model,
    actions: &[P::Action],
    states: &[P::State],
    loop_index: Option<usize>,
) -> Vec<(String, rcopy_model::protocol::Fairness, Fate)> {
    let j = loop_index.unwrap_or(states.len() - 1);
    let enabled: Vec<(usize, Vec<usize>)> =
        (j..states.len()).map(|i| (i, fair_enabled(p, model, &states[i]))).collect();
    p.fair_classes(model)
        .into_iter()
        .enumerate()
        .map(|(k, (name, fairness))| {
            let taken = (j..actions.len()).find(|&i| p.fair_class(model, &actions[i]) == Some(k));
            let off: Vec<usize> = enabled.iter().filter(|(_, e)| !e.contains(&k)).map(|(i, _)| *i).collect();
            let fate = match (taken, fairness) {
                (Some(i), _) if loop_index.is_some() => Fate::Taken(i + 1),
                (_, rcopy_model::protocol::Fairness::Weak) if !off.is_empty() => Fate::Disabled(off[0]),
                (_, rcopy_model::protocol::Fairness::Strong) if off.len() == enabled.len() => Fate::Disabled(off[0]),
                _ => Fate::Starved,
            };
            (name, fairness, fate)
        })
        .collect()
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
        let judged = property(p, &model, &trace.property)?;
        let kind = match &judged {
            Judged::Property(x) => Kind::of(&x.expectation),
            Judged::Obligation(_) => Kind::Liveness,
        };
        // Where the property counts against the trace: the state violates, or is pending.
        let bad = |s: &P::State| match &judged {
            Judged::Property(x) => (x.condition)(&model, s) == (kind == Kind::Example),
            Judged::Obligation(o) => (o.pending)(&model, s),
        };
        match (trace.kind, kind) {
            (Kind::Safety, Kind::Safety) | (Kind::Example, Kind::Example) if bad(&cur) => {}
            (Kind::Liveness, Kind::Liveness) => {
                // `eventually P`: P never holds on the whole trace; an obligation: pending on
                // the cycle (or where the run stops).
                let from = match (&judged, trace.loop_index) {
                    (Judged::Property(_), _) => 0,
                    (Judged::Obligation(_), Some(j)) => j,
                    (Judged::Obligation(_), None) => states.len() - 1,
                };
                if let Some(i) = (from..states.len()).find(|&i| !bad(&states[i])) {
                    return Err(format!("`{}` is met at step {i}: no liveness counterexample", trace.property));
                }
                if let Some(j) = trace.loop_index {
                    if states[j] != cur {
                        return Err(format!(
                            "the last state is not the state after step {j}: the lasso does not close"
                        ));
                    }
                }
                let starved: Vec<String> = fairness_of(p, &model, &actions, &states, trace.loop_index)
                    .into_iter()
                    .filter(|(_, _, f)| *f == Fate::Starved)
                    .map(|(n, _, _)| n)
                    .collect();
                if !starved.is_empty() {
                    let what = if trace.loop_index.is_some() {
                        "the cycle is not fair: it starves"
                    } else {
                        "the run cannot stop here: fair steps are enabled:"
                    };
                    return Err(format!("{what} {}", starved.join(", ")));
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
        if let Some(j) = trace.loop_index {
            if let Some(d) = p.roles_differ(&states[j], &states[states.len() - 1]) {
                return Err(format!("the cycle does not close on the roles: {d}"));
            }
        }
        Ok(actions.len())
    })
}
