//! A path through a model, and how the explorer rebuilds one from fingerprints by replay.

use super::fingerprint::StableHasher;
use stateright::Model;
use std::hash::Hash;

/// States `s0 .. sn` and the actions between them (`actions[i]` leads from `states[i]` to
/// `states[i + 1]`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Path<S, A> {
    pub states: Vec<S>,
    pub actions: Vec<A>,
}

impl<S, A> Path<S, A> {
    /// The number of steps (actions).
    pub fn len(&self) -> usize {
        self.actions.len()
    }

    pub fn is_empty(&self) -> bool {
        self.actions.is_empty()
    }

    pub fn last_state(&self) -> &S {
        self.states.last().expect("a path has its initial state")
    }
}

/// For each step, the fairness class it must have (if any), and the classifier.
pub type Hints<'a, A> = (&'a [Option<u8>], &'a super::FairFn<'a, A>);

/// The path whose states fingerprint to `fps` (of their representatives, if `represent` is
/// given): from the initial state with the first fingerprint, at each step the first action
/// whose successor has the next one. Real states and real transitions of the model, whatever
/// the table held.
///
/// `hints`, for a lasso's cycle: the fairness class each step must have (where several
/// actions lead to the same state, the one its fairness argument took), and the classifier.
pub fn rebuild<M>(
    model: &M,
    fps: &[u64],
    represent: Option<&super::RepresentFn<'_, M::State>>,
    hints: Option<Hints<'_, M::Action>>,
) -> Result<Path<M::State, M::Action>, String>
where
    M: Model,
    M::State: Hash + Clone,
    M::Action: Clone,
{
    let mut hasher = StableHasher::default();
    let mut fp = |s: &M::State| match represent {
        Some(r) => hasher.fingerprint(&r(s)),
        None => hasher.fingerprint(s),
    };
    let first = *fps.first().ok_or("an empty path")?;
    let mut cur = model
        .init_states()
        .into_iter()
        .find(|s| fp(s) == first)
        .ok_or("no initial state has the path's first fingerprint")?;
    let mut path = Path { states: vec![cur.clone()], actions: Vec::new() };
    let mut actions = Vec::new();
    for (i, &target) in fps.iter().enumerate().skip(1) {
        model.actions(&cur, &mut actions);
        let wanted = hints.and_then(|(h, f)| h.get(i - 1).copied().flatten().map(|k| (k, f)));
        let class_ok = |a: &M::Action| match wanted {
            Some((k, f)) => f(a).and_then(|c| u8::try_from(c).ok()).unwrap_or(super::graph::UNFAIR) == k,
            None => true,
        };
        let step = actions.drain(..).filter(|a| class_ok(a)).find_map(|a| {
            let next = model.next_state(&cur, a.clone())?;
            (fp(&next) == target).then_some((a, next))
        });
        let (a, next) = step.ok_or(format!("step {i}: no action leads to the state the explorer recorded"))?;
        path.actions.push(a);
        path.states.push(next.clone());
        cur = next;
    }
    Ok(path)
}
