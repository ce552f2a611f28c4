//! Runners over stateright: breadth-first (shortest counterexamples when single-threaded),
//! depth-first, and seeded simulation; a progress line on long runs; verdicts per property.

use crate::registry::{Check, Expect};
use crate::trace::Trace;
use rcopy::fault::FaultSet;
use rcopy::ordering::{Fault, Variant};
use rcopy_model::ordering::{Config, Mode, OrderingModel};
use rcopy_model::ordering::{Action, State};
use stateright::{Checker, Expectation, HasDiscoveries, Model, Path, Property, UniformChooser};
use std::collections::{HashMap, VecDeque};
use std::hash::{Hash, Hasher};
use std::collections::BTreeSet;
use std::io::Write;
use std::time::{Duration, Instant};

/// How to explore.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Strategy {
    /// Breadth-first. Each safety or example trace is then re-searched as a shortest one.
    Bfs,
    /// Depth-first: far less memory, longer counterexamples.
    Dfs,
    /// Random walks from the initial state, reproducible from the seed. Proves nothing holds.
    Simulation { seed: u64 },
}

impl Strategy {
    pub fn name(self) -> String {
        match self {
            Strategy::Bfs => "bfs".into(),
            Strategy::Dfs => "dfs".into(),
            Strategy::Simulation { seed } => format!("simulation(seed {seed})"),
        }
    }
}

/// Run options.
#[derive(Clone, Debug)]
pub struct Options {
    pub strategy: Strategy,
    pub threads: usize,
    /// Print a progress line to stderr every few seconds.
    pub progress: bool,
    /// Stop after this long (the verdicts of what was not found become `unknown`).
    pub timeout: Option<Duration>,
    /// Stop after this many states (likewise).
    pub max_states: Option<usize>,
}

impl Default for Options {
    fn default() -> Options {
        Options { strategy: Strategy::Bfs, threads: 1, progress: false, timeout: None, max_states: None }
    }
}

/// What a run found for one property.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Verdict {
    Holds,
    Violated,
    Witnessed,
    /// A `sometimes` property with no example in the whole space.
    Unwitnessed,
    /// The run stopped before it could tell.
    Unknown,
}

impl Verdict {
    pub fn name(self) -> &'static str {
        match self {
            Verdict::Holds => "holds",
            Verdict::Violated => "VIOLATED",
            Verdict::Witnessed => "witnessed",
            Verdict::Unwitnessed => "unwitnessed",
            Verdict::Unknown => "unknown",
        }
    }

    pub fn meets(self, e: Expect) -> bool {
        matches!(
            (self, e),
            (Verdict::Holds, Expect::Holds) | (Verdict::Violated, Expect::Violated) | (Verdict::Witnessed, Expect::Witnessed)
        )
    }
}

/// The result of one run.
#[derive(Clone, Debug)]
pub struct Outcome {
    pub check: Check,
    pub strategy: Strategy,
    pub states: usize,
    pub unique: usize,
    pub depth: usize,
    pub elapsed: Duration,
    /// Whether every reachable state was visited.
    pub exhaustive: bool,
    /// Every property with its verdict, in the model's order.
    pub verdicts: Vec<(String, Verdict)>,
    /// A trace for each property with a discovery.
    pub traces: Vec<Trace>,
}

impl Outcome {
    pub fn verdict(&self, property: &str) -> Option<Verdict> {
        self.verdicts.iter().find(|(n, _)| n == property).map(|(_, v)| *v)
    }

    /// The judged properties whose verdict differs from the expectation.
    pub fn mismatches(&self) -> Vec<(String, Expect, Verdict)> {
        self.check
            .expect
            .iter()
            .filter_map(|(p, e)| {
                let v = self.verdict(p).unwrap_or(Verdict::Unknown);
                (!v.meets(*e)).then(|| (p.clone(), *e, v))
            })
            .collect()
    }

    pub fn as_expected(&self) -> bool {
        self.mismatches().is_empty()
    }

    pub fn trace(&self, property: &str) -> Option<&Trace> {
        self.traces.iter().find(|t| t.property == property)
    }
}

/// The model of a config name, variant, faults and mode: what a check explores and what a
/// trace was made on.
pub fn model_for(config: &str, variant: Variant, faults: &[Fault], mode: Mode) -> Result<OrderingModel, String> {
    let config = Config::named(config).ok_or(format!("unknown config `{config}`"))?;
    let set = faults.iter().try_fold(FaultSet::NONE, |s, f| s.with(*f as u32)).map_err(|e| e.to_string())?;
    Ok(OrderingModel::new(config, variant, set, mode))
}

/// The model a check explores.
pub fn model_of(check: &Check) -> OrderingModel {
    model_for(&check.config, check.variant, &check.faults, check.mode).expect("checks name known configs")
}

/// Run a check.
pub fn run(check: &Check, opts: &Options) -> Outcome {
    let model = model_of(check);
    let props = model.properties();
    let mut builder = model.clone().checker().threads(opts.threads.max(1));
    let hunted: BTreeSet<&'static str> = props
        .iter()
        .filter(|p| check.expect.iter().any(|(n, e)| n == p.name && *e == Expect::Violated))
        .map(|p| p.name)
        .collect();
    if check.hunts() {
        builder = builder.finish_when(HasDiscoveries::AllOf(hunted.clone()));
    }
    if let Some(t) = opts.timeout {
        builder = builder.timeout(t);
    }
    if let Some(n) = opts.max_states {
        builder = builder.target_state_count(n);
    }
    let start = Instant::now();
    let (states, unique, depth, discoveries) = match opts.strategy {
        Strategy::Bfs => drive(builder.spawn_bfs(), opts, &check.name(), start),
        Strategy::Dfs => drive(builder.spawn_dfs(), opts, &check.name(), start),
        Strategy::Simulation { seed } => drive(builder.spawn_simulation(seed, UniformChooser), opts, &check.name(), start),
    };
    let elapsed = start.elapsed();
    let stopped_early = (check.hunts() && hunted.iter().all(|h| discoveries.iter().any(|(n, _)| n == h)))
        || matches!(opts.strategy, Strategy::Simulation { .. })
        || opts.timeout.is_some_and(|t| elapsed >= t)
        || opts.max_states.is_some_and(|n| unique >= n);
    let exhaustive = !stopped_early;
    let mut verdicts = Vec::new();
    let mut traces = Vec::new();
    for p in &props {
        let found = discoveries.iter().find(|(n, _)| *n == p.name);
        let v = match (found, p.expectation.clone()) {
            (Some(_), Expectation::Sometimes) => Verdict::Witnessed,
            (Some(_), _) => Verdict::Violated,
            (None, _) if !exhaustive => Verdict::Unknown,
            (None, Expectation::Sometimes) => Verdict::Unwitnessed,
            (None, _) => Verdict::Holds,
        };
        verdicts.push((p.name.to_string(), v));
        if let Some((_, path)) = found {
            // stateright keeps the last hit of an `always` or `sometimes` property, not the
            // first: search the shortest path to it ourselves (breadth-first, parent pointers).
            let path = match p.expectation {
                Expectation::Eventually => path.clone(),
                _ => shortest(&model, p).unwrap_or_else(|| path.clone()),
            };
            traces.push(Trace::from_path(check, p.name, p.expectation.clone(), path));
        }
    }
    Outcome { check: check.clone(), strategy: opts.strategy, states, unique, depth, elapsed, exhaustive, verdicts, traces }
}

/// The shortest path from the initial state to a state where `property` is violated (`always`)
/// or witnessed (`sometimes`): a breadth-first search with parent pointers, stopping at the
/// first hit. `None` for `eventually` properties, or when no state hits.
pub fn shortest(model: &OrderingModel, property: &Property<OrderingModel>) -> Option<Path<State, Action>> {
    let cond = property.condition;
    let hit = |s: &State| match property.expectation {
        Expectation::Always => !cond(model, s),
        Expectation::Sometimes => cond(model, s),
        Expectation::Eventually => false,
    };
    if property.expectation == Expectation::Eventually {
        return None;
    }
    let fp = |s: &State| {
        let mut h = FxHasher(0);
        s.hash(&mut h);
        h.finish()
    };
    let init = model.init_states().into_iter().next()?;
    let mut parent: HashMap<u64, Option<(u64, Action)>> = HashMap::new();
    parent.insert(fp(&init), None);
    let mut queue = VecDeque::from([init.clone()]);
    let mut goal = hit(&init).then(|| fp(&init));
    let mut actions = Vec::new();
    while goal.is_none() {
        let state = queue.pop_front()?;
        let here = fp(&state);
        model.actions(&state, &mut actions);
        for a in actions.drain(..) {
            let Some(next) = model.next_state(&state, a.clone()) else { continue };
            let id = fp(&next);
            if parent.contains_key(&id) {
                continue;
            }
            parent.insert(id, Some((here, a)));
            if hit(&next) {
                goal = Some(id);
                break;
            }
            queue.push_back(next);
        }
    }
    let mut steps = Vec::new();
    let mut at = goal?;
    while let Some(Some((up, a))) = parent.get(&at) {
        steps.push(a.clone());
        at = *up;
    }
    steps.reverse();
    Path::from_actions(model, init, steps.iter())
}

/// A fast non-cryptographic hasher (the Fx multiply-rotate mix) for the fingerprints of
/// [`shortest`]: SipHash dominated its profile. A collision can only hide a state, so a trace
/// might come out longer than shortest; it is rebuilt by replaying its actions, so it is real.
struct FxHasher(u64);

impl Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.write_u64(u64::from_le_bytes(word));
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }

    fn write_u8(&mut self, n: u8) {
        self.write_u64(n as u64);
    }

    fn write_u16(&mut self, n: u16) {
        self.write_u64(n as u64);
    }

    fn write_u32(&mut self, n: u32) {
        self.write_u64(n as u64);
    }

    fn write_usize(&mut self, n: usize) {
        self.write_u64(n as u64);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

type Found = Vec<(&'static str, stateright::Path<<OrderingModel as Model>::State, <OrderingModel as Model>::Action>)>;

fn drive(checker: impl Checker<OrderingModel>, opts: &Options, name: &str, start: Instant) -> (usize, usize, usize, Found) {
    let mut last = Instant::now();
    while !checker.is_done() {
        std::thread::sleep(Duration::from_millis(20));
        if opts.progress && last.elapsed() >= Duration::from_secs(2) {
            last = Instant::now();
            let secs = start.elapsed().as_secs_f64();
            let u = checker.unique_state_count();
            eprint!(
                "\r  {name}: {u} unique states, depth {}, {:.0}/s, {secs:.0}s   ",
                checker.max_depth(),
                u as f64 / secs.max(1e-9)
            );
            let _ = std::io::stderr().flush();
        }
    }
    if opts.progress && start.elapsed() >= Duration::from_secs(2) {
        eprint!("\r{:80}\r", "");
    }
    let checker = checker.join();
    let mut found: Found = checker.discoveries().into_iter().collect();
    found.sort_by_key(|(n, _)| *n);
    (checker.state_count(), checker.unique_state_count(), checker.max_depth(), found)
}
