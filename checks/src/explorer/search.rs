//! The searches: breadth-first by levels, depth-first with work sharing, random walks. They
//! share the visited table, the judging of properties and the coverage counts.

use super::control::{Control, Ended};
use super::fingerprint::{collision_probability, StableHasher};
use super::graph::{self, Graph, Parts, MAX_OBLIGATIONS, UNFAIR};
use super::liveness::{self, Fair};
use super::packed::Packing;
use super::path::rebuild;
use super::table::{Visited, NO_PARENT};
use super::{ClassCount, FairFn, GraphStats, Judged, Kind, Report, Strategy, Verdict};
use super::{ClassifyFn, RepresentFn};
use rand_core::{RngCore, SeedableRng};
use rand_pcg::Pcg64Mcg;
use rcopy_model::protocol::Obligation;
use stateright::{Expectation, Model, Property};
use std::hash::Hash;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Duration;

/// States per unit of work handed between threads.
const CHUNK: usize = 256;
/// How deep a random walk goes when the run sets no depth bound.
pub const WALK_DEPTH: usize = 10_000;
/// A random-walk run with neither a time nor a state bound stops after this long.
pub const WALK_TIME: Duration = Duration::from_secs(10);
const NOT_FOUND: usize = usize::MAX;

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A worker that panicked is re-raised by the scope that ran it; the data is still whole.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A state as the explorer holds it until it is expanded: the state itself, or its packed
/// bytes when the model's states are packed ([`super::packed`]). Boxed either way, so that a
/// queued node is a few words, not the size of a state.
enum Held<S> {
    State(Box<S>),
    Packed(Box<[u8]>),
}

/// A state to expand.
struct Node<S> {
    held: Held<S>,
    fp: u64,
    /// Liveness properties pending on the path that first reached this state: `eventually`
    /// ones not yet seen to hold, obligations pending in the state itself.
    pending: u64,
    depth: u32,
    /// The state's id in the liveness graph (0 when no graph is kept).
    id: u32,
}

/// The shallowest discovery of a property so far.
#[derive(Clone)]
struct Found {
    depth: usize,
    fp: u64,
    /// A random walk's own path (its liveness counterexample is the walk, not the tree path).
    walk: Option<Vec<u64>>,
}

/// A worker's own buffers and counts.
struct Local<S, A> {
    hasher: StableHasher,
    /// Packed states: the state being expanded (reused), and a buffer to pack into.
    base: Option<S>,
    packed: Vec<u8>,
    actions: Vec<A>,
    /// Breadth-first: new states of the next level; depth-first: the stack.
    out: Vec<Node<S>>,
    fired: Vec<u64>,
    new: Vec<u64>,
    generated: u64,
    /// New states not yet added to the shared count.
    unflushed: u64,
    /// The liveness graph this worker recorded.
    parts: Parts,
}

/// New states a worker counts before it adds them to the shared count (and checks the state
/// bound): a shared counter written on every insert would have the threads fight over it.
const FLUSH_EVERY: u64 = 16;

/// A liveness property: a model's `eventually` property (judged from the initial states) or an
/// obligation (judged wherever it arises).
enum Live<M: Model> {
    Eventually(usize),
    Obligation(Obligation<M>),
}

pub(super) struct Search<'a, M: Model> {
    model: &'a M,
    control: &'a Control,
    props: Vec<Property<M>>,
    /// The liveness properties: bit k of a node's `pending` is `live[k]`.
    live: Vec<Live<M>>,
    /// Per property, its bit among the liveness ones.
    ebit: Vec<Option<u32>>,
    all_pending: u64,
    /// The fairness class of an action (`None`: not fair), and which classes are weak or strong.
    fair_class: Option<&'a FairFn<'a, M::Action>>,
    fair: Fair,
    /// Keep the liveness graph: states by id, edges, pending bits.
    graph: bool,
    next_id: AtomicU32,
    /// The fairness classifier gave a class that was not declared.
    bad_class: AtomicBool,
    parts: Mutex<Vec<Parts>>,
    inits: Mutex<Vec<u32>>,
    table: Visited,
    classes: usize,
    classify: Option<&'a ClassifyFn<'a, M::Action>>,
    represent: Option<&'a RepresentFn<'a, M::State>>,
    packing: Option<&'a Packing<M::State>>,
    found_depth: Vec<AtomicUsize>,
    found: Mutex<Vec<Option<Found>>>,
    hunt: Vec<usize>,
    /// Depth-first and walks stop as soon as the hunt is over; breadth-first finishes its level.
    stop_on_hunt: AtomicBool,
    fired: Vec<AtomicU64>,
    new: Vec<AtomicU64>,
    generated: AtomicU64,
    unique: AtomicU64,
    depth: AtomicUsize,
    truncated: AtomicBool,
}

impl<'a, M> Search<'a, M>
where
    M: Model + Sync,
    M::State: Hash + Clone + Send + Sync,
    M::Action: Clone + Send + Sync,
{
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        model: &'a M,
        control: &'a Control,
        classes: usize,
        classify: Option<&'a ClassifyFn<'a, M::Action>>,
        represent: Option<&'a RepresentFn<'a, M::State>>,
        packing: Option<&'a Packing<M::State>>,
        hunt: &[String],
        obligations: Vec<Obligation<M>>,
        fairness: (Fair, Option<&'a FairFn<'a, M::Action>>),
        liveness: bool,
    ) -> Self {
        let props = model.properties();
        let mut live: Vec<Live<M>> = Vec::new();
        let ebit: Vec<Option<u32>> = props
            .iter()
            .enumerate()
            .map(|(i, p)| {
                // At most 64 liveness properties are tracked while searching; the rest stay unknown.
                (p.expectation == Expectation::Eventually && live.len() < 64).then(|| {
                    live.push(Live::Eventually(i));
                    live.len() as u32 - 1
                })
            })
            .collect();
        live.extend(obligations.into_iter().take(64 - live.len()).map(Live::Obligation));
        let all_pending = if live.len() == 64 { u64::MAX } else { (1u64 << live.len()) - 1 };
        let hunt = hunt.iter().filter_map(|h| Self::index_of(&props, &live, h)).collect();
        // One more slot than classes: actions a classifier puts out of range.
        let slots = classes + 1;
        let total = props.len() + live.iter().filter(|l| matches!(l, Live::Obligation(_))).count();
        Search {
            model,
            control,
            found_depth: (0..total).map(|_| AtomicUsize::new(NOT_FOUND)).collect(),
            found: Mutex::new(vec![None; total]),
            graph: liveness && !live.is_empty() && represent.is_none(),
            props,
            live,
            ebit,
            all_pending,
            fair_class: fairness.1,
            fair: fairness.0,
            next_id: AtomicU32::new(0),
            bad_class: AtomicBool::new(false),
            parts: Mutex::new(Vec::new()),
            inits: Mutex::new(Vec::new()),
            table: Visited::default(),
            classes,
            classify,
            represent,
            packing,
            hunt,
            stop_on_hunt: AtomicBool::new(false),
            fired: (0..slots).map(|_| AtomicU64::new(0)).collect(),
            new: (0..slots).map(|_| AtomicU64::new(0)).collect(),
            generated: AtomicU64::new(0),
            unique: AtomicU64::new(0),
            depth: AtomicUsize::new(0),
            truncated: AtomicBool::new(false),
        }
    }

    /// The index of a property by name in the report's list: the model's properties, then the
    /// obligations.
    fn index_of(props: &[Property<M>], live: &[Live<M>], name: &str) -> Option<usize> {
        props.iter().position(|p| p.name == name).or_else(|| {
            live.iter()
                .filter_map(|l| match l {
                    Live::Obligation(o) => Some(o.name),
                    Live::Eventually(_) => None,
                })
                .position(|n| n == name)
                .map(|k| props.len() + k)
        })
    }

    /// The report index of liveness property `k`.
    fn live_index(&self, k: usize) -> usize {
        match &self.live[k] {
            Live::Eventually(i) => *i,
            Live::Obligation(_) => {
                self.props.len() + self.live[..k].iter().filter(|l| matches!(l, Live::Obligation(_))).count()
            }
        }
    }

    fn local(&self) -> Local<M::State, M::Action> {
        Local {
            hasher: StableHasher::default(),
            base: None,
            packed: Vec::new(),
            actions: Vec::new(),
            out: Vec::new(),
            fired: vec![0; self.classes + 1],
            new: vec![0; self.classes + 1],
            generated: 0,
            unflushed: 0,
            parts: Parts::default(),
        }
    }

    /// A worker stored a new state: count it, and now and then add the count to the shared one
    /// and check the state bound.
    #[inline]
    fn count_new(&self, l: &mut Local<M::State, M::Action>) {
        l.unflushed += 1;
        if l.unflushed >= FLUSH_EVERY {
            self.flush(l);
        }
    }

    fn flush(&self, l: &mut Local<M::State, M::Action>) {
        if l.unflushed > 0 {
            let unique = self.unique.fetch_add(l.unflushed, Ordering::Relaxed) + l.unflushed;
            l.unflushed = 0;
            self.control.count_unique(unique);
            self.control.counters.unique.store(unique, Ordering::Relaxed);
        }
    }

    fn merge(&self, mut l: Local<M::State, M::Action>) {
        self.flush(&mut l);
        if self.graph {
            lock(&self.parts).push(std::mem::take(&mut l.parts));
        }
        for (k, n) in l.fired.iter().enumerate() {
            self.fired[k].fetch_add(*n, Ordering::Relaxed);
        }
        for (k, n) in l.new.iter().enumerate() {
            self.new[k].fetch_add(*n, Ordering::Relaxed);
        }
        self.generated.fetch_add(l.generated, Ordering::Relaxed);
        self.control.counters.generated.fetch_add(l.generated, Ordering::Relaxed);
    }

    /// Run `work` on `threads` workers, each with its own buffers, and merge their counts.
    fn parallel(&self, threads: usize, work: impl Fn(&mut Local<M::State, M::Action>) + Sync) {
        if threads <= 1 {
            let mut l = self.local();
            work(&mut l);
            self.merge(l);
            return;
        }
        std::thread::scope(|scope| {
            let handles: Vec<_> = (0..threads)
                .map(|_| {
                    scope.spawn(|| {
                        let mut l = self.local();
                        work(&mut l);
                        l
                    })
                })
                .collect();
            for h in handles {
                match h.join() {
                    Ok(l) => self.merge(l),
                    Err(panic) => std::panic::resume_unwind(panic),
                }
            }
        });
    }

    fn represent(&self, s: M::State) -> M::State {
        match self.represent {
            Some(r) => r(&s),
            None => s,
        }
    }

    /// How to hold `s` until it is expanded: packed, or itself.
    fn hold(&self, packed: &mut Vec<u8>, s: M::State) -> Held<M::State> {
        match self.packing {
            Some(p) => {
                let n = (p.pack)(&s, packed);
                Held::Packed(packed[..n].into())
            }
            None => Held::State(Box::new(s)),
        }
    }

    /// The state `held` stands for: itself, or unpacked into `slot`. A packed state's
    /// fingerprint `fp` is checked on one state in 64 (on every one in a debug build): a state
    /// whose serde form does not describe it fully (a skipped field) would unpack into another
    /// state, and the search would cover another graph.
    fn load<'s>(
        &self,
        held: &'s Held<M::State>,
        fp: u64,
        slot: &'s mut Option<M::State>,
        hasher: &mut StableHasher,
    ) -> &'s M::State {
        match (held, self.packing) {
            (Held::State(s), _) => s,
            (Held::Packed(bytes), Some(p)) => {
                (p.unpack)(bytes, slot);
                let s = slot.as_ref().expect("unpack fills the slot");
                if cfg!(debug_assertions) || fp & 63 == 0 {
                    let again = hasher.fingerprint(s);
                    assert_eq!(
                        again, fp,
                        "a packed state unpacked into another state: the state's Serialize and Deserialize must describe it fully (no skipped fields)"
                    );
                }
                s
            }
            (Held::Packed(_), None) => unreachable!("states are packed only with a packing"),
        }
    }

    fn class(&self, a: &M::Action) -> usize {
        self.classify.map_or(0, |f| f(a).min(self.classes))
    }

    /// A property shows in state `fp` at `depth`: keep the shallowest, then the smallest
    /// fingerprint, so that the choice does not depend on the order threads ran in.
    fn hit(&self, i: usize, depth: usize, fp: u64, walk: Option<Vec<u64>>) {
        let mut found = lock(&self.found);
        let better = found[i].as_ref().is_none_or(|o| (depth, fp) < (o.depth, o.fp));
        if better {
            found[i] = Some(Found { depth, fp, walk });
            self.found_depth[i].fetch_min(depth, Ordering::Relaxed);
        }
        if self.stop_on_hunt.load(Ordering::Relaxed) && self.hunted_in(&found) {
            self.control.stop(Ended::Hunted);
        }
    }

    fn hunted_in(&self, found: &[Option<Found>]) -> bool {
        !self.hunt.is_empty() && self.hunt.iter().all(|&i| found[i].is_some())
    }

    fn hunted(&self) -> bool {
        self.hunted_in(&lock(&self.found))
    }

    /// Judge the properties in `state`: `always` and `sometimes` once per unique state (`new`),
    /// unless found at a shallower depth. Returns the liveness properties still pending on the
    /// path (an `eventually` one until it holds; an obligation while pending in the state), and
    /// the state's own pending bits for the graph (an `eventually` one where it does not hold).
    fn judge(&self, state: &M::State, fp: u64, depth: usize, mut pending: u64, new: bool) -> (u64, u8) {
        let mut bad = 0u8;
        for (i, p) in self.props.iter().enumerate() {
            if p.expectation == Expectation::Eventually || !new || self.found_depth[i].load(Ordering::Relaxed) < depth {
                continue;
            }
            let holds = (p.condition)(self.model, state);
            if holds == (p.expectation == Expectation::Sometimes) {
                self.hit(i, depth, fp, None);
            }
        }
        for (k, l) in self.live.iter().enumerate() {
            let bit = 1u64 << k;
            let in_state = match l {
                Live::Eventually(i) => {
                    // Only needed where the path still waits for it, or for the graph.
                    if pending & bit == 0 && !self.graph {
                        continue;
                    }
                    !(self.props[*i].condition)(self.model, state)
                }
                Live::Obligation(o) => (o.pending)(self.model, state),
            };
            match l {
                Live::Eventually(_) if !in_state => pending &= !bit,
                Live::Eventually(_) => {}
                Live::Obligation(_) if in_state => pending |= bit,
                Live::Obligation(_) => pending &= !bit,
            }
            if in_state && k < MAX_OBLIGATIONS {
                bad |= 1 << k;
            }
        }
        (pending, bad)
    }

    /// A behaviour may stop in `fp` (no fair step is enabled there) with liveness properties
    /// still pending: each is violated.
    fn ended_pending(&self, fp: u64, depth: usize, pending: u64, walk: Option<&Vec<u64>>) {
        for k in 0..self.live.len() {
            if pending & (1 << k) != 0 {
                self.hit(self.live_index(k), depth, fp, walk.cloned());
            }
        }
    }

    /// The fairness class of an action's edge. A class the classifier gives that was not
    /// declared is a bug of the protocol: the liveness verdicts are then unknown.
    fn fair_of(&self, a: &M::Action) -> u8 {
        let Some(f) = self.fair_class else { return 0 };
        match f(a) {
            None => UNFAIR,
            Some(c) => match u8::try_from(c) {
                Ok(c) if self.fair.is_fair(c) => c,
                _ => {
                    self.bad_class.store(true, Ordering::Relaxed);
                    UNFAIR
                }
            },
        }
    }

    /// A new state: its id in the graph, when one is kept. The ids stop short of `u32::MAX`;
    /// the run stops there (not exhaustive).
    fn new_id(&self) -> u64 {
        let id =
            self.next_id.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |i| (i < u32::MAX - 1).then_some(i + 1));
        match id {
            Ok(id) => id as u64,
            Err(_) => {
                self.control.stop(Ended::StateBound);
                (u32::MAX - 1) as u64
            }
        }
    }

    /// Store `fp` reached from `parent` (a fingerprint, or an id when a graph is kept): its id
    /// and whether it is new.
    #[inline]
    fn store(&self, fp: u64, parent: &Node<M::State>) -> (u32, bool) {
        if self.graph {
            let (id, new) = self.table.insert_with(fp, || self.new_id());
            (id as u32, new)
        } else {
            (0, self.table.insert(fp, parent.fp))
        }
    }

    fn has_successor(&self, s: &M::State) -> bool {
        let mut actions = Vec::new();
        self.model.actions(s, &mut actions);
        actions.into_iter().any(|a| self.model.next_state(s, a).is_some_and(|n| self.model.within_boundary(&n)))
    }

    /// The initial states, stored and judged, in chunks.
    fn initial(&self) -> Vec<Vec<Node<M::State>>> {
        let mut l = self.local();
        let mut nodes = Vec::new();
        for s in self.model.init_states() {
            if !self.model.within_boundary(&s) {
                continue;
            }
            let s = self.represent(s);
            let fp = l.hasher.fingerprint(&s);
            let (id, new) = if self.graph {
                let (id, new) = self.table.insert_with(fp, || self.new_id());
                (id as u32, new)
            } else {
                (0, self.table.insert(fp, NO_PARENT))
            };
            if new {
                self.count_new(&mut l);
                let (pending, bad) = self.judge(&s, fp, 0, self.all_pending, true);
                if self.graph {
                    l.parts.found.push((id, fp, bad));
                    lock(&self.inits).push(id);
                }
                let held = self.hold(&mut l.packed, s);
                nodes.push(Node { held, fp, pending, depth: 0, id });
            }
        }
        self.merge(l);
        let mut chunks = Vec::new();
        while !nodes.is_empty() {
            let rest = nodes.split_off(nodes.len().min(CHUNK));
            chunks.push(std::mem::replace(&mut nodes, rest));
        }
        chunks
    }

    /// Expand `node`: its new successors go to `local.out`, and, when a graph is kept, its
    /// edges to the graph. A state at the depth bound is not expanded (and marks the run
    /// truncated if it has successors).
    fn expand(&self, node: Node<M::State>, l: &mut Local<M::State, M::Action>) {
        let mut base = l.base.take();
        self.expand_with(&node, &mut base, l);
        l.base = base;
    }

    fn expand_with(&self, node: &Node<M::State>, base_slot: &mut Option<M::State>, l: &mut Local<M::State, M::Action>) {
        let base = self.load(&node.held, node.fp, base_slot, &mut l.hasher);
        if self.control.bounds.max_depth.is_some_and(|m| node.depth as usize >= m) {
            if self.has_successor(base) {
                self.truncated.store(true, Ordering::Relaxed);
            } else if node.pending != 0 {
                // A run that ends here, at the bound, still ends with these pending.
                self.ended_pending(node.fp, node.depth as usize, node.pending, None);
            }
            return;
        }
        let depth = node.depth as usize + 1;
        let mut actions = std::mem::take(&mut l.actions);
        self.model.actions(base, &mut actions);
        let mut fair_step = false;
        let mut edges = 0u32;
        for a in actions.drain(..) {
            let class = self.class(&a);
            let fair = self.fair_of(&a);
            let Some(next) = self.model.next_state(base, a) else { continue };
            if !self.model.within_boundary(&next) {
                continue;
            }
            fair_step |= self.fair.is_fair(fair);
            l.generated += 1;
            l.fired[class] += 1;
            let next = self.represent(next);
            let fp = l.hasher.fingerprint(&next);
            let (id, new) = self.store(fp, node);
            if self.graph {
                l.parts.targets.push(id);
                l.parts.classes.push(fair);
                edges += 1;
            }
            if new {
                l.new[class] += 1;
                self.count_new(l);
                let (pending, bad) = self.judge(&next, fp, depth, node.pending, true);
                if self.graph {
                    l.parts.found.push((id, fp, bad));
                }
                let held = self.hold(&mut l.packed, next);
                l.out.push(Node { held, fp, pending, depth: depth as u32, id });
            }
        }
        l.actions = actions;
        if self.graph {
            l.parts.expanded.push((node.id, edges));
        }
        if !fair_step && node.pending != 0 {
            self.ended_pending(node.fp, node.depth as usize, node.pending, None);
        }
    }

    fn note_depth(&self, depth: usize) {
        self.depth.fetch_max(depth, Ordering::Relaxed);
        self.control.counters.depth.fetch_max(depth, Ordering::Relaxed);
    }

    /// Breadth-first, one level at a time: every state of depth d is expanded before any of
    /// depth d + 1, so the first level that shows a property holds its shortest paths.
    pub fn bfs(&self, threads: usize) -> Ended {
        let mut level = self.initial();
        let mut depth = 0;
        loop {
            let count: usize = level.iter().map(Vec::len).sum();
            if count == 0 {
                break;
            }
            self.note_depth(depth);
            self.control.counters.queue.store(count as u64, Ordering::Relaxed);
            if let Some(why) = self.control.stopped() {
                return why;
            }
            let current = Mutex::new(level);
            let next: Mutex<Vec<Vec<Node<M::State>>>> = Mutex::new(Vec::new());
            self.parallel(threads, |l| {
                loop {
                    // Not `while let`: the guard would live through the loop body.
                    let chunk = lock(&current).pop();
                    let Some(chunk) = chunk else { break };
                    for node in chunk {
                        if self.control.stopped().is_some() {
                            break;
                        }
                        self.expand(node, l);
                        if l.out.len() >= CHUNK {
                            lock(&next).push(std::mem::replace(&mut l.out, Vec::with_capacity(CHUNK)));
                        }
                    }
                    self.flush(l);
                    if self.control.poll() {
                        break;
                    }
                }
                if !l.out.is_empty() {
                    lock(&next).push(std::mem::take(&mut l.out));
                }
            });
            level = next.into_inner().unwrap_or_else(|e| e.into_inner());
            if !level.is_empty() {
                self.note_depth(depth + 1);
            }
            if let Some(why) = self.control.stopped() {
                return why;
            }
            if self.hunted() {
                return Ended::Hunted;
            }
            depth += 1;
        }
        self.finished()
    }

    fn finished(&self) -> Ended {
        match self.control.stopped() {
            Some(why) => why,
            None if self.truncated.load(Ordering::Relaxed) => Ended::DepthBound,
            None => Ended::Exhausted,
        }
    }

    /// Depth-first: each worker pops its own stack; a worker with a deep stack gives its
    /// oldest states to the pool when another is idle.
    pub fn dfs(&self, threads: usize) -> Ended {
        self.stop_on_hunt.store(true, Ordering::Relaxed);
        let pool = Mutex::new(Pool { chunks: self.initial(), idle: 0 });
        if self.hunted() {
            return Ended::Hunted;
        }
        self.parallel(threads, |l| {
            let mut steps = 0u64;
            loop {
                let Some(node) = l.out.pop() else {
                    match self.take(&pool, threads) {
                        Some(chunk) => {
                            l.out = chunk;
                            continue;
                        }
                        None => break,
                    }
                };
                self.note_depth(node.depth as usize);
                self.expand(node, l);
                steps += 1;
                if steps & 63 == 0 {
                    self.control.counters.queue.store(l.out.len() as u64, Ordering::Relaxed);
                    if self.control.poll() {
                        break;
                    }
                    if l.out.len() > 2 * CHUNK {
                        let mut p = lock(&pool);
                        if p.idle > 0 && p.chunks.is_empty() {
                            p.chunks.push(l.out.drain(..CHUNK).collect());
                        }
                    }
                }
            }
        });
        self.note_depth(0);
        self.finished()
    }

    /// Work from the pool, or `None` when every worker is idle and the pool is empty (or the
    /// run was stopped).
    fn take(&self, pool: &Mutex<Pool<M::State>>, threads: usize) -> Option<Vec<Node<M::State>>> {
        let mut idle = false;
        loop {
            {
                let mut p = lock(pool);
                if let Some(c) = p.chunks.pop() {
                    if idle {
                        p.idle -= 1;
                    }
                    return Some(c);
                }
                if !idle {
                    p.idle += 1;
                    idle = true;
                }
                if p.idle == threads {
                    return None;
                }
            }
            if self.control.poll() {
                return None;
            }
            std::thread::sleep(Duration::from_micros(50));
        }
    }

    /// Random walks: from a random initial state, a random enabled action at each step, until
    /// a state with no successor or the depth bound. Walk `w` draws from its own generator,
    /// seeded from (seed, w), so a run is reproducible.
    pub fn walks(&self, seed: u64, threads: usize) -> Ended {
        self.stop_on_hunt.store(true, Ordering::Relaxed);
        let inits: Vec<Node<M::State>> = self.initial().into_iter().flatten().collect();
        if inits.is_empty() {
            return Ended::Exhausted;
        }
        if self.hunted() {
            return Ended::Hunted;
        }
        let max_depth = self.control.bounds.max_depth.unwrap_or(WALK_DEPTH);
        let walk_no = AtomicU64::new(0);
        self.parallel(threads, |l| {
            while !self.control.poll() {
                let w = walk_no.fetch_add(1, Ordering::Relaxed);
                let mut rng = Pcg64Mcg::seed_from_u64(seed ^ w.wrapping_mul(0x9e37_79b9_7f4a_7c15));
                self.walk(&inits, &mut rng, max_depth, l);
            }
        });
        self.finished()
    }

    fn walk(&self, inits: &[Node<M::State>], rng: &mut Pcg64Mcg, max_depth: usize, l: &mut Local<M::State, M::Action>) {
        let start = &inits[(rng.next_u64() % inits.len() as u64) as usize];
        let mut cur = self.load(&start.held, start.fp, &mut None, &mut l.hasher).clone();
        let mut fp = start.fp;
        let mut pending = start.pending;
        let mut trail = vec![fp];
        let mut actions = std::mem::take(&mut l.actions);
        for depth in 1..=max_depth {
            if depth & 63 == 0 && self.control.poll() {
                break;
            }
            self.model.actions(&cur, &mut actions);
            let mut step = None;
            while !actions.is_empty() {
                let a = actions.swap_remove((rng.next_u64() % actions.len() as u64) as usize);
                let class = self.class(&a);
                if let Some(next) = self.model.next_state(&cur, a).filter(|n| self.model.within_boundary(n)) {
                    l.fired[class] += 1;
                    step = Some((next, class));
                    break;
                }
            }
            actions.clear();
            let Some((next, class)) = step else {
                if pending != 0 {
                    self.ended_pending(fp, depth - 1, pending, Some(&trail));
                }
                break;
            };
            l.generated += 1;
            let next = self.represent(next);
            let next_fp = l.hasher.fingerprint(&next);
            let new = self.table.insert(next_fp, fp);
            if new {
                l.new[class] += 1;
                self.count_new(l);
            }
            pending = self.judge(&next, next_fp, depth, pending, new).0;
            self.note_depth(depth);
            trail.push(next_fp);
            cur = next;
            fp = next_fp;
        }
        l.actions = actions;
    }

    /// The graph the workers recorded (`None` past its edge bound).
    fn assemble(&self) -> Option<Graph> {
        let parts = std::mem::take(&mut *lock(&self.parts));
        let inits = lock(&self.inits).clone();
        graph::assemble(self.next_id.load(Ordering::Relaxed) as usize, inits, parts)
    }

    /// The names and kinds of every property the report judges: the model's, then the
    /// obligations.
    fn judged(&self) -> Vec<(&'static str, Kind, Option<usize>)> {
        let mut v: Vec<(&'static str, Kind, Option<usize>)> = self
            .props
            .iter()
            .enumerate()
            .map(|(i, p)| (p.name, Kind::of(&p.expectation), self.ebit[i].map(|b| b as usize)))
            .collect();
        for (k, l) in self.live.iter().enumerate() {
            if let Live::Obligation(o) = l {
                v.push((o.name, Kind::Liveness, Some(k)));
            }
        }
        v
    }

    /// The run's results: each property's verdict and path, coverage, figures.
    pub fn report(
        &self,
        strategy: Strategy,
        threads: usize,
        ended: Ended,
        elapsed: Duration,
        classes: &[String],
    ) -> Report<M::State, M::Action> {
        let found = lock(&self.found).clone();
        let built = std::time::Instant::now();
        let graph = if self.graph { self.assemble() } else { None };
        // Why liveness could not be judged on the whole graph, if it could not.
        let unjudged = if !self.graph {
            None
        } else if graph.is_none() {
            Some(format!("the graph has more than {} edges", graph::MAX_EDGES))
        } else if self.bad_class.load(Ordering::Relaxed) {
            Some("the fairness classifier gave a class the protocol did not declare".to_string())
        } else {
            None
        };
        let build_time = built.elapsed();
        // Shortest paths by id, for what the search found, when ids stand for fingerprints.
        let parents = graph.as_ref().map(|g| liveness::bfs(g, None).1);
        let path_of_ids = |ids: &[u32], g: &Graph| -> Vec<u64> { ids.iter().map(|&i| g.fps[i as usize]).collect() };
        let scc_start = std::time::Instant::now();
        let properties = self
            .judged()
            .into_iter()
            .zip(found)
            .map(|((name, kind, live), f)| {
                let tracked = live.is_some_and(|k| k < MAX_OBLIGATIONS);
                // Liveness on the whole graph: exact, for every behaviour.
                if let (Some(k), Some(g), true, true, None) = (live, &graph, ended.exhaustive(), tracked, &unjudged) {
                    let from_init = matches!(self.live[k], Live::Eventually(_));
                    return match liveness::check(g, k, from_init, &self.fair) {
                        None => Judged {
                            name,
                            kind,
                            verdict: Verdict::Holds,
                            path: None,
                            loop_index: None,
                            path_error: None,
                        },
                        Some(lasso) => {
                            let (ids, classes, loop_index) = lasso.path();
                            let hints = self.fair_class.map(|f| (classes.as_slice(), f));
                            let (path, path_error) = match rebuild(self.model, &path_of_ids(&ids, g), None, hints) {
                                Ok(p) => (Some(p), None),
                                Err(e) => (None, Some(e)),
                            };
                            Judged { name, kind, verdict: Verdict::Violated, path, loop_index, path_error }
                        }
                    };
                }
                let sometimes = kind == Kind::Example;
                // With a fairness classifier that broke its declaration, no liveness claim stands.
                let bad_class = self.bad_class.load(Ordering::Relaxed);
                if kind == Kind::Liveness && bad_class {
                    let path_error = unjudged.clone();
                    return Judged { name, kind, verdict: Verdict::Unknown, path: None, loop_index: None, path_error };
                }
                // Here a liveness property was not judged on a whole graph: only what the search
                // found counts.
                let Some(f) = f else {
                    let verdict = match (ended.exhaustive() && kind != Kind::Liveness, sometimes) {
                        (false, _) => Verdict::Unknown,
                        (true, true) => Verdict::Unwitnessed,
                        (true, false) => Verdict::Holds,
                    };
                    return Judged { name, kind, verdict, path: None, loop_index: None, path_error: None };
                };
                let verdict = if sometimes { Verdict::Witnessed } else { Verdict::Violated };
                let fps = match (f.walk, &graph, &parents) {
                    (Some(w), _, _) => Some(w),
                    (None, Some(g), Some(parents)) => self.table.value(f.fp).and_then(|id| {
                        let id = id as u32;
                        match live.map(|k| (k, &self.live[k])) {
                            // An `eventually` property's path must run through states where it
                            // never held: the shortest such path, if the graph tracks it.
                            Some((k, Live::Eventually(_))) if k < MAX_OBLIGATIONS => {
                                let mut region = liveness::Bits::new(g.len());
                                (0..g.len() as u32).filter(|&s| g.pending[s as usize] & (1 << k) != 0).for_each(|s| region.set(s));
                                let (dist, parent) = liveness::bfs(g, Some(&region));
                                (dist[id as usize] != u32::MAX).then(|| path_of_ids(&liveness::chain(&parent, id), g))
                            }
                            Some((_, Live::Eventually(_))) => None,
                            _ => Some(path_of_ids(&liveness::chain(parents, id), g)),
                        }
                    }),
                    _ => self.table.chain(f.fp),
                };
                let path = fps
                    .ok_or_else(|| match &unjudged {
                        Some(why) => format!("no path kept: {why}"),
                        None => "no path kept for it (a fingerprint collision, or more liveness properties than the graph tracks)".to_string(),
                    })
                    .and_then(|fps| rebuild(self.model, &fps, self.represent, None));
                let (path, path_error) = match path {
                    Ok(p) => (Some(p), None),
                    Err(e) => (None, Some(e)),
                };
                Judged { name, kind, verdict, path, loop_index: None, path_error }
            })
            .collect();
        let graph_stats = graph.as_ref().map(|g| GraphStats {
            states: g.len() as u64,
            edges: g.edge_count() as u64,
            bytes: g.bytes(),
            build_time,
            scc_time: scc_start.elapsed(),
        });
        let mut coverage: Vec<ClassCount> = (0..=self.classes)
            .map(|k| ClassCount {
                class: classes.get(k).cloned().unwrap_or_else(|| "unclassified".into()),
                fired: self.fired[k].load(Ordering::Relaxed),
                new_states: self.new[k].load(Ordering::Relaxed),
            })
            .collect();
        if coverage.last().is_some_and(|c| c.fired == 0) {
            coverage.pop();
        }
        let unique = self.unique.load(Ordering::Relaxed);
        let generated = self.generated.load(Ordering::Relaxed);
        Report {
            strategy,
            threads,
            ended,
            unique,
            generated,
            depth: self.depth.load(Ordering::Relaxed),
            elapsed,
            properties,
            coverage,
            table_bytes: self.table.bytes(),
            graph: graph_stats,
            peak_rss: self.control.peak_rss(),
            collision_probability: collision_probability(unique, generated),
        }
    }
}

struct Pool<S> {
    chunks: Vec<Vec<Node<S>>>,
    idle: usize,
}
