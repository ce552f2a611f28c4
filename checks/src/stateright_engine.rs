//! stateright's own checkers behind the same interface, as a cross-check of rcopy's explorer
//! (`--engine stateright`). They count no coverage, and stateright cannot be stopped from
//! outside: when the time bound, the memory bound or Ctrl-C ends a run that stateright would
//! go on with, its threads are left behind (the report says so by how the run ended) and the
//! caller should not start another run in this process.

use crate::explorer::{self, Bounds, Ended, Judged, Kind, Path, Report, Strategy, Verdict};
use crate::runner::Options;
use rcopy_model::protocol::Check;
use stateright::{Checker, Expectation, HasDiscoveries, Model, UniformChooser};
use std::collections::BTreeSet;
use std::fmt::Debug;
use std::hash::Hash;
use std::num::NonZeroUsize;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// Wait for `checker`; `Some(why)` when the control says stop before it is done.
fn watch<M: Model, C: Checker<M>>(checker: &C, control: &explorer::control::Control) -> Option<Ended> {
    loop {
        if checker.is_done() {
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
        control.counters.unique.store(checker.unique_state_count() as u64, Ordering::Relaxed);
        control.counters.depth.store(checker.max_depth(), Ordering::Relaxed);
        if control.poll() {
            return control.stopped();
        }
    }
}

fn path_of<M: Model>(p: stateright::Path<M::State, M::Action>) -> Path<M::State, M::Action> {
    let mut path = Path { states: Vec::new(), actions: Vec::new() };
    for (s, a) in p.into_vec() {
        path.states.push(s);
        path.actions.extend(a);
    }
    path
}

/// Run `model` with stateright's checker for `opts.strategy`.
/// `obligations` (which stateright cannot judge) are reported unknown.
pub fn run<M>(
    model: &M,
    check: &Check,
    opts: &Options,
    hunt: &[String],
    obligations: &[&'static str],
) -> Report<M::State, M::Action>
where
    M: Model + Clone + Send + Sync + 'static,
    M::State: Hash + Clone + Debug + Send + Sync + PartialEq + 'static,
    M::Action: Clone + Debug + Send + Sync + PartialEq + 'static,
{
    let props = model.properties();
    let start = Instant::now();
    let bounds: &Bounds = &opts.bounds;
    let mut builder = model.clone().checker().threads(opts.threads.max(1));
    let hunted: BTreeSet<&'static str> =
        props.iter().filter(|p| hunt.iter().any(|h| h == p.name)).map(|p| p.name).collect();
    if !hunted.is_empty() {
        builder = builder.finish_when(HasDiscoveries::AllOf(hunted.clone()));
    }
    if let Some(n) = bounds.max_states.and_then(|n| NonZeroUsize::new(n.min(usize::MAX as u64) as usize)) {
        builder = builder.target_state_count(n.get());
    }
    // stateright counts the initial states as depth 1; rcopy counts them as depth 0.
    if let Some(d) = bounds.max_depth.and_then(|d| NonZeroUsize::new(d + 1)) {
        builder = builder.target_max_depth(d.get());
    }
    if let Some(t) = bounds.timeout {
        builder = builder.timeout(t);
    }
    let control = explorer::control::Control::new(bounds.clone(), opts.interrupt.clone());
    let progress = explorer::Progress { label: opts.progress.then(|| format!("{} (stateright)", check.name())) };
    let (abandoned, unique, generated, depth, found) = explorer::control::monitored(&control, &progress, || {
        macro_rules! drive {
            ($checker:expr) => {{
                let checker = $checker;
                match watch(&checker, &control) {
                    Some(why) => {
                        let counts = (checker.unique_state_count(), checker.state_count(), checker.max_depth());
                        let found: Vec<_> = checker.discoveries().into_iter().collect();
                        // stateright offers no way to stop its threads: leave them.
                        std::mem::forget(checker);
                        (Some(why), counts.0, counts.1, counts.2, found)
                    }
                    None => {
                        let checker = checker.join();
                        let found: Vec<_> = checker.discoveries().into_iter().collect();
                        (None, checker.unique_state_count(), checker.state_count(), checker.max_depth(), found)
                    }
                }
            }};
        }
        match opts.strategy {
            Strategy::Bfs => drive!(builder.spawn_bfs()),
            Strategy::Dfs => drive!(builder.spawn_dfs()),
            Strategy::Walks { seed } => drive!(builder.spawn_simulation(seed, UniformChooser)),
        }
    });
    let elapsed = start.elapsed();
    let depth = depth.saturating_sub(1);
    let hunted_all = !hunted.is_empty() && hunted.iter().all(|h| found.iter().any(|(n, _)| n == h));
    let ended = match abandoned {
        Some(why) => why,
        None if hunted_all => Ended::Hunted,
        None if bounds.max_states.is_some_and(|n| generated as u64 >= n || unique as u64 >= n) => Ended::StateBound,
        None if bounds.timeout.is_some_and(|t| elapsed >= t) => Ended::Timeout,
        None if bounds.max_depth.is_some_and(|d| depth >= d) => Ended::DepthBound,
        None if matches!(opts.strategy, Strategy::Walks { .. }) => Ended::Timeout,
        None => Ended::Exhausted,
    };
    let mut found = found;
    let mut properties: Vec<Judged<M::State, M::Action>> = props
        .iter()
        .map(|p| {
            let kind = Kind::of(&p.expectation);
            let sometimes = p.expectation == Expectation::Sometimes;
            let hit = found.iter().position(|(n, _)| *n == p.name).map(|i| found.swap_remove(i).1);
            let verdict = match (&hit, ended.exhaustive(), sometimes) {
                (Some(_), _, true) => Verdict::Witnessed,
                (Some(_), _, false) => Verdict::Violated,
                (None, false, _) => Verdict::Unknown,
                (None, true, true) => Verdict::Unwitnessed,
                (None, true, false) => Verdict::Holds,
            };
            Judged { name: p.name, kind, verdict, path: hit.map(path_of::<M>), loop_index: None, path_error: None }
        })
        .collect();
    properties.extend(obligations.iter().map(|name| Judged {
        name,
        kind: Kind::Liveness,
        verdict: Verdict::Unknown,
        path: None,
        loop_index: None,
        path_error: None,
    }));
    Report {
        strategy: opts.strategy,
        threads: opts.threads.max(1),
        ended,
        unique: unique as u64,
        generated: generated as u64,
        depth,
        elapsed,
        properties,
        coverage: Vec::new(),
        table_bytes: 0,
        graph: None,
        peak_rss: control.peak_rss(),
        collision_probability: explorer::fingerprint::collision_probability(unique as u64, generated as u64),
    }
}
