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
//! `eventually` properties are judged as stateright judges them: on paths that end in a state
//! with no successor, each state's pending set taken from the first path that reached it.
//! Runs that loop forever, and joins of paths, are the liveness engine's work.

pub mod control;
pub mod fingerprint;
mod path;
mod search;
pub mod table;

pub use control::{default_max_memory, peak_rss_bytes, rss_bytes, Bounds, Ended, Progress};
pub use path::Path;
pub use rcopy_model::protocol::Kind;

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

    /// Symmetry: store only `representative(state)` of each state.
    pub fn symmetry(mut self, representative: impl Fn(&M::State) -> M::State + Send + Sync + 'a) -> Self {
        self.representative = Some(Box::new(representative));
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
            &self.hunt,
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
