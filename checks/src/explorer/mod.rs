//! rcopy's explorer: exhaustive and random search over any [`stateright::Model`].
//!
//! - **Breadth-first** on N threads, level by level, over a shared table of fingerprint ->
//!   parent fingerprint ([`table::Visited`]). A property's counterexample (or example) is the
//!   shallowest state that shows it (the one with the smallest fingerprint among those at that
//!   depth), and its path is rebuilt by replaying the model along the parent chain: a shortest
//!   trace at any thread count.
//! - **Depth-first** on N threads (each a stack, sharing work through a pool): less memory.
//! - **Random walks**, reproducible from a seed. They never prove that a property holds.
//!
//! Each property is judged once per unique state. Every run is bounded by states, depth, time
//! and memory ([`Bounds`]) and reports why it ended ([`Ended`]); a run that did not visit
//! everything never says "holds". Fingerprints are xxh3 over a platform-independent byte
//! stream ([`fingerprint`]). A model may give a representative of each state (symmetry): the
//! explorer then stores representatives only. Coverage counts, per action class, the
//! transitions taken and the new states they found.
//!
//! Liveness (a model's `eventually` properties, and obligations: "P leads to Q" kept as a
//! pending bit) is judged over every behaviour, cycles and joins included, under fairness: the
//! explorer keeps the reachable graph compactly ([`graph`]) and looks for a fair set of pending
//! states or a pending state where the behaviour may stop ([`liveness`]); a violation is a
//! lasso. Without fairness declared, every action is one weakly fair class: a behaviour goes on
//! while any step is possible (stateright's semantics). Random walks and runs that stopped
//! early judge liveness only by what they found.

pub mod control;
pub mod fingerprint;
pub mod graph;
pub mod liveness;
pub mod packed;
mod path;
mod search;
pub mod table;

pub use control::{default_max_memory, peak_rss_bytes, rss_bytes, Bounds, Ended, Progress};
pub use path::Path;
pub use rcopy_model::protocol::{Fairness, Kind, Obligation};

use control::Control;
use serde::{Deserialize, Serialize};
use stateright::Model;
use std::fmt::Debug;
use std::hash::Hash;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

/// How to explore.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Strategy {
    /// Breadth-first: shortest counterexamples.
    Bfs,
    /// Depth-first: less memory, longer counterexamples.
    Dfs,
    /// Random walks from the initial states, reproducible from the seed.
    Walks { seed: u64 },
}

impl Strategy {
    pub fn name(self) -> String {
        match self {
            Strategy::Bfs => "bfs".into(),
            Strategy::Dfs => "dfs".into(),
            Strategy::Walks { seed } => format!("simulation(seed {seed})"),
        }
    }
}

/// What a run found for one property.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Holds,
    Violated,
    Witnessed,
    /// A `sometimes` property with no example in the whole space.
    Unwitnessed,
    /// The run did not visit the whole space, and found nothing.
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
}

/// One property's result.
#[derive(Clone, Debug)]
pub struct Judged<S, A> {
    pub name: &'static str,
    pub kind: Kind,
    pub verdict: Verdict,
    /// The counterexample or example, when there is one.
    pub path: Option<Path<S, A>>,
    /// For a liveness counterexample that cycles: the index of the path's state that its last
    /// state equals (the behaviour repeats the steps after it forever).
    pub loop_index: Option<usize>,
    /// Why a found path could not be rebuilt (a fingerprint collision, or a model whose
    /// `next_state` is not a function of its arguments).
    pub path_error: Option<String>,
}

/// Per action class: transitions taken, and new states they found.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClassCount {
    pub class: String,
    pub fired: u64,
    pub new_states: u64,
}

/// What a run established.
#[derive(Clone, Debug)]
pub struct Report<S, A> {
    pub strategy: Strategy,
    pub threads: usize,
    pub ended: Ended,
    /// Unique states stored.
    pub unique: u64,
    /// Transitions taken (successors generated).
    pub generated: u64,
    /// The deepest level reached (initial states at 0).
    pub depth: usize,
    pub elapsed: Duration,
    pub properties: Vec<Judged<S, A>>,
    pub coverage: Vec<ClassCount>,
    /// Bytes held by the visited table.
    pub table_bytes: u64,
    /// The liveness graph, when one was kept.
    pub graph: Option<GraphStats>,
    /// The largest resident memory of the process seen during the run.
    pub peak_rss: Option<u64>,
    /// The chance that a fingerprint collision hid a state ([`fingerprint::collision_probability`]).
    pub collision_probability: f64,
}

impl<S, A> Report<S, A> {
    pub fn exhaustive(&self) -> bool {
        self.ended.exhaustive()
    }

    pub fn property(&self, name: &str) -> Option<&Judged<S, A>> {
        self.properties.iter().find(|p| p.name == name)
    }
}

/// The liveness graph of a run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GraphStats {
    pub states: u64,
    pub edges: u64,
    /// Offsets, edges with their fairness class, pending bits.
    pub bytes: u64,
    /// Assembling the graph from what the workers recorded.
    pub build_time: Duration,
    /// Judging every liveness property on it (components, fairness, lassos).
    pub scc_time: Duration,
}

/// The fairness class of an action, or `None` for one no fair behaviour needs to take.
pub(crate) type FairFn<'a, A> = dyn Fn(&A) -> Option<usize> + Send + Sync + 'a;

/// A classifier of actions (coverage classes).
pub(crate) type ClassifyFn<'a, A> = dyn Fn(&A) -> usize + Send + Sync + 'a;
/// A symmetry: the representative of a state.
pub(crate) type RepresentFn<'a, S> = dyn Fn(&S) -> S + Send + Sync + 'a;

/// A run to be made: the model, how to search, and its bounds.
pub struct Explorer<'a, M: Model> {
    model: &'a M,
    strategy: Strategy,
    threads: usize,
    bounds: Bounds,
    progress: Progress,
    interrupt: Option<Arc<AtomicBool>>,
    hunt: Vec<String>,
    classes: Vec<String>,
    classify: Option<Box<ClassifyFn<'a, M::Action>>>,
    representative: Option<Box<RepresentFn<'a, M::State>>>,
    packing: Option<packed::Packing<M::State>>,
    obligations: Vec<Obligation<M>>,
    fairness: Vec<Fairness>,
    fair_class: Option<Box<FairFn<'a, M::Action>>>,
    liveness: bool,
}

impl<'a, M> Explorer<'a, M>
where
    M: Model + Sync,
    M::State: Hash + Clone + Debug + Send + Sync,
    M::Action: Clone + Debug + Send + Sync,
{
    /// Breadth-first on one thread, with no bounds but the default memory bound.
    pub fn new(model: &'a M) -> Self {
        Explorer {
            model,
            strategy: Strategy::Bfs,
            threads: 1,
            bounds: Bounds { max_memory: default_max_memory(), ..Bounds::default() },
            progress: Progress::default(),
            interrupt: None,
            hunt: Vec::new(),
            classes: vec!["any".into()],
            classify: None,
            representative: None,
            packing: None,
            obligations: Vec::new(),
            fairness: vec![Fairness::Weak],
            fair_class: None,
            liveness: true,
        }
    }

    pub fn strategy(mut self, s: Strategy) -> Self {
        self.strategy = s;
        self
    }

    /// Worker threads (at least 1).
    pub fn threads(mut self, n: usize) -> Self {
        self.threads = n.max(1);
        self
    }

    pub fn bounds(mut self, b: Bounds) -> Self {
        self.bounds = b;
        self
    }

    /// Draw a progress line on stderr for runs longer than two seconds.
    pub fn progress(mut self, label: impl Into<String>) -> Self {
        self.progress = Progress { label: Some(label.into()) };
        self
    }

    /// Stop (as [`Ended::Interrupted`]) when `flag` is set, e.g. by a Ctrl-C handler.
    pub fn interrupt(mut self, flag: Arc<AtomicBool>) -> Self {
        self.interrupt = Some(flag);
        self
    }

    /// Stop once each of these properties has its counterexample (or example).
    pub fn hunt(mut self, properties: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.hunt = properties.into_iter().map(Into::into).collect();
        self
    }

    /// Count coverage per action class: `names[classify(action)]`.
    pub fn classes(mut self, names: Vec<String>, classify: impl Fn(&M::Action) -> usize + Send + Sync + 'a) -> Self {
        self.classes = names;
        self.classify = Some(Box::new(classify));
        self
    }

    /// Obligations to judge besides the model's `eventually` properties.
    pub fn obligations(mut self, obligations: Vec<Obligation<M>>) -> Self {
        self.obligations = obligations;
        self
    }

    /// Fairness: `classes[k]` is the fairness of class k, and `class_of(action)` an action's
    /// class (`None`: not fair). Without it, every action is one weakly fair class. At most
    /// [`graph::MAX_FAIR_CLASSES`] classes: with more, liveness is not judged (unknown).
    pub fn fairness(
        mut self,
        classes: Vec<Fairness>,
        class_of: impl Fn(&M::Action) -> Option<usize> + Send + Sync + 'a,
    ) -> Self {
        self.fairness = classes;
        self.fair_class = Some(Box::new(class_of));
        self
    }

    /// Judge liveness (keep the graph) when the model has any (default true). Off, liveness
    /// properties are unknown unless a search finds one violated, and the run is leaner.
    pub fn liveness(mut self, on: bool) -> Self {
        self.liveness = on;
        self
    }

    /// Symmetry: store only `representative(state)` of each state.
    pub fn symmetry(mut self, representative: impl Fn(&M::State) -> M::State + Send + Sync + 'a) -> Self {
        self.representative = Some(Box::new(representative));
        self
    }

    /// Hold the states to expand packed ([`packed`]): about half the memory.
    pub fn packed(mut self) -> Self
    where
        M::State: serde::Serialize + serde::de::DeserializeOwned,
    {
        self.packing = Some(packed::Packing::new());
        self
    }

    /// Explore, and judge every property of the model.
    ///
    /// Random walks without a time bound stop after ten seconds (a state bound alone may never
    /// be reached: walks revisit states).
    pub fn run(self) -> Report<M::State, M::Action> {
        let mut bounds = self.bounds.clone();
        if matches!(self.strategy, Strategy::Walks { .. }) && bounds.timeout.is_none() {
            bounds.timeout = Some(search::WALK_TIME);
        }
        let control = Control::new(bounds, self.interrupt.clone());
        let search = search::Search::new(
            self.model,
            &control,
            self.classes.len().max(1),
            self.classify.as_deref(),
            self.representative.as_deref(),
            self.packing.as_ref(),
            &self.hunt,
            self.obligations.clone(),
            (liveness::Fair::new(&self.fairness), self.fair_class.as_deref()),
            self.liveness
                && !matches!(self.strategy, Strategy::Walks { .. })
                && self.fairness.len() <= graph::MAX_FAIR_CLASSES,
        );
        let ended = control::monitored(&control, &self.progress, || match self.strategy {
            Strategy::Bfs => search.bfs(self.threads),
            Strategy::Dfs => search.dfs(self.threads),
            Strategy::Walks { seed } => search.walks(seed, self.threads),
        });
        let elapsed = control.start.elapsed();
        search.report(self.strategy, self.threads, ended, elapsed, &self.classes)
    }
}
