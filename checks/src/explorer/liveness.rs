//! Liveness over the reachable graph, under fairness.
//!
//! An obligation is a set of "pending" states. It is violated when some fair behaviour stays in
//! pending states forever: it reaches a pending state in which no fair class is enabled (the
//! behaviour may stop, or stutter, there), or a set of pending states it can cycle through
//! fairly. A strongly connected set C of states is fair when every weakly fair class is taken
//! on an edge inside C or disabled in some state of C, and every strongly fair class is taken
//! inside C or disabled in every state of C: a behaviour that visits every state of C and
//! takes every edge of C infinitely often is then fair, and the states a fair behaviour visits
//! infinitely often always form such a set.
//!
//! The search for a fair set (Emerson-Lei, as for Streett automata): strongly connected
//! components of the pending states (Tarjan, iterative, so a large graph cannot overflow the
//! stack); a component in which a weakly fair class is enabled everywhere and never taken has
//! no fair subset and is dropped; one in which a strongly fair class is enabled somewhere and
//! never taken is searched again without the states where it is enabled, so that a fair set
//! nested inside an unfair component is found.
//!
//! For `eventually P` from the initial states, the pending states are those reached from an
//! initial state through states where P never held; for an obligation that may arise anywhere
//! ("P leads to Q", kept as a pending bit), every reachable pending state.

use super::graph::{ClassSet, Graph, UNFAIR};
use super::Fairness;
use std::collections::VecDeque;

/// A set of states, one bit each.
#[derive(Clone)]
pub struct Bits(Vec<u64>);

impl Bits {
    pub fn new(n: usize) -> Bits {
        Bits(vec![0; n.div_ceil(64)])
    }

    #[inline]
    pub fn get(&self, i: u32) -> bool {
        self.0[(i >> 6) as usize] & (1 << (i & 63)) != 0
    }

    #[inline]
    pub fn set(&mut self, i: u32) {
        self.0[(i >> 6) as usize] |= 1 << (i & 63);
    }

    #[inline]
    pub fn clear(&mut self, i: u32) {
        self.0[(i >> 6) as usize] &= !(1 << (i & 63));
    }
}

/// Which classes are weakly and strongly fair.
#[derive(Clone, Debug, Default)]
pub struct Fair {
    pub weak: ClassSet,
    pub strong: ClassSet,
}

impl Fair {
    /// The fairness of classes 0, 1, ...; classes past [`super::graph::MAX_FAIR_CLASSES`] are
    /// refused by the explorer before it runs.
    pub fn new(classes: &[Fairness]) -> Fair {
        let mut f = Fair::default();
        for (i, c) in classes.iter().enumerate().take(super::graph::MAX_FAIR_CLASSES) {
            match c {
                Fairness::Weak => f.weak.insert(i as u8),
                Fairness::Strong => f.strong.insert(i as u8),
            }
        }
        f
    }

    /// Whether `class` is a declared fair class.
    pub fn is_fair(&self, class: u8) -> bool {
        class != UNFAIR && (self.weak.contains(class) || self.strong.contains(class))
    }

    fn any(&self) -> ClassSet {
        let mut s = self.weak;
        s.union(&self.strong);
        s
    }
}

/// A violation: the states from an initial state to where the behaviour stays, then (for a
/// cycle) the states around the cycle, the last equal to the first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lasso {
    /// From an initial state to the entry of the cycle (or the state where the behaviour stops).
    pub prefix: Vec<u32>,
    /// Empty when the behaviour stops (no fair class enabled); otherwise the entry, the states
    /// around, and the entry again.
    pub cycle: Vec<u32>,
    /// The fairness class of each step of the cycle (`cycle[i]` to `cycle[i + 1]`): where two
    /// actions join the same states, the one the fairness argument needs.
    pub cycle_classes: Vec<u8>,
}

impl Lasso {
    /// The whole path, prefix then cycle (the entry not repeated); the class wanted for each
    /// step (none on the prefix); and the index of the state the last one equals, if it cycles.
    pub fn path(&self) -> (Vec<u32>, Vec<Option<u8>>, Option<usize>) {
        let mut p = self.prefix.clone();
        let mut classes = vec![None; self.prefix.len().saturating_sub(1)];
        if self.cycle.is_empty() {
            return (p, classes, None);
        }
        p.extend(&self.cycle[1..]);
        classes.extend(self.cycle_classes.iter().map(|c| Some(*c)));
        (p, classes, Some(self.prefix.len() - 1))
    }
}

/// Breadth-first from the initial states, through states in `within` (all if `None`):
/// distance and parent of each state reached (`u32::MAX` where not reached).
pub fn bfs(g: &Graph, within: Option<&Bits>) -> (Vec<u32>, Vec<u32>) {
    let n = g.len();
    let mut dist = vec![u32::MAX; n];
    let mut parent = vec![u32::MAX; n];
    let mut q = VecDeque::new();
    for &i in &g.inits {
        if within.is_none_or(|w| w.get(i)) && dist[i as usize] == u32::MAX {
            dist[i as usize] = 0;
            q.push_back(i);
        }
    }
    while let Some(s) = q.pop_front() {
        for (t, _) in g.edges(s) {
            if dist[t as usize] == u32::MAX && within.is_none_or(|w| w.get(t)) {
                dist[t as usize] = dist[s as usize] + 1;
                parent[t as usize] = s;
                q.push_back(t);
            }
        }
    }
    (dist, parent)
}

/// The path from an initial state to `s` along `parent`.
pub fn chain(parent: &[u32], s: u32) -> Vec<u32> {
    let mut p = vec![s];
    let mut at = s;
    while parent[at as usize] != u32::MAX && p.len() <= parent.len() {
        at = parent[at as usize];
        p.push(at);
    }
    p.reverse();
    p
}

const NONE: u32 = u32::MAX;

/// A number per state: an array over the whole graph for a large region, a map for a small one
/// (the refinement searches small components of a large graph, often).
enum Slots {
    Dense(Vec<u32>),
    Sparse(std::collections::HashMap<u32, u32>),
}

impl Slots {
    fn new(n: usize, region: usize) -> Slots {
        if region >= n / 8 {
            Slots::Dense(vec![NONE; n])
        } else {
            Slots::Sparse(std::collections::HashMap::with_capacity(region))
        }
    }

    #[inline]
    fn get(&self, s: u32) -> u32 {
        match self {
            Slots::Dense(v) => v[s as usize],
            Slots::Sparse(m) => m.get(&s).copied().unwrap_or(NONE),
        }
    }

    #[inline]
    fn set(&mut self, s: u32, x: u32) {
        match self {
            Slots::Dense(v) => v[s as usize] = x,
            Slots::Sparse(m) => {
                m.insert(s, x);
            }
        }
    }
}

/// The strongly connected components of the subgraph induced by `region`, reached from
/// `nodes`, each as its states. Iterative Tarjan.
pub fn sccs(g: &Graph, region: &Bits, nodes: &[u32]) -> Vec<Vec<u32>> {
    let n = g.len();
    let mut index = Slots::new(n, nodes.len());
    let mut low = Slots::new(n, nodes.len());
    let mut on_stack = Bits::new(n);
    let mut stack: Vec<u32> = Vec::new();
    let mut out = Vec::new();
    let mut next = 0u32;
    // The call stack: (state, position in its edge list).
    let mut calls: Vec<(u32, u32)> = Vec::new();
    for &root in nodes {
        if index.get(root) != NONE || !region.get(root) {
            continue;
        }
        calls.push((root, g.offsets[root as usize]));
        index.set(root, next);
        low.set(root, next);
        next += 1;
        stack.push(root);
        on_stack.set(root);
        while let Some(&mut (v, ref mut pos)) = calls.last_mut() {
            let end = g.offsets[v as usize + 1];
            let mut descended = false;
            while *pos < end {
                let w = g.targets[*pos as usize];
                *pos += 1;
                if !region.get(w) {
                    continue;
                }
                if index.get(w) == NONE {
                    index.set(w, next);
                    low.set(w, next);
                    next += 1;
                    stack.push(w);
                    on_stack.set(w);
                    calls.push((w, g.offsets[w as usize]));
                    descended = true;
                    break;
                } else if on_stack.get(w) {
                    low.set(v, low.get(v).min(index.get(w)));
                }
            }
            if descended {
                continue;
            }
            calls.pop();
            if let Some(&(u, _)) = calls.last() {
                low.set(u, low.get(u).min(low.get(v)));
            }
            if low.get(v) == index.get(v) {
                let mut c = Vec::new();
                loop {
                    let w = stack.pop().expect("the root is on the stack");
                    on_stack.clear(w);
                    c.push(w);
                    if w == v {
                        break;
                    }
                }
                out.push(c);
            }
        }
    }
    out
}

/// Whether component `c` (within `member`) has an edge inside it: more than one state, or a
/// self-loop.
fn cyclic(g: &Graph, c: &[u32]) -> bool {
    c.len() > 1 || g.edges(c[0]).any(|(t, _)| t == c[0])
}

/// The fair sets inside the strongly connected component `c`: `c` itself if it is fair, else
/// the fair components of what remains once the states that make it unfair are removed.
fn fair_sets(g: &Graph, fair: &Fair, c: Vec<u32>, member: &mut Bits, out: &mut Vec<Vec<u32>>) {
    let mut work = vec![c];
    while let Some(c) = work.pop() {
        if !cyclic(g, &c) {
            continue;
        }
        for &s in &c {
            member.set(s);
        }
        let mut taken = ClassSet::default();
        let mut everywhere = ClassSet::all();
        let mut somewhere = ClassSet::default();
        for &s in &c {
            let mut enabled = ClassSet::default();
            for (t, k) in g.edges(s) {
                if k == UNFAIR {
                    continue;
                }
                enabled.insert(k);
                if member.get(t) {
                    taken.insert(k);
                }
            }
            everywhere.intersect(&enabled);
            somewhere.union(&enabled);
        }
        let weak_starved = fair.weak.iter().any(|k| everywhere.contains(k) && !taken.contains(k));
        let strong_starved: Vec<u8> =
            fair.strong.iter().filter(|&k| somewhere.contains(k) && !taken.contains(k)).collect();
        if weak_starved {
            // Every cycle inside c keeps that class enabled and never takes it.
            for &s in &c {
                member.clear(s);
            }
            continue;
        }
        if strong_starved.is_empty() {
            for &s in &c {
                member.clear(s);
            }
            out.push(c);
            continue;
        }
        // A fair cycle inside c avoids every state where a starved strong class is enabled.
        let keep: Vec<u32> = c
            .iter()
            .copied()
            .filter(|&s| {
                let e = g.enabled(s);
                !strong_starved.iter().any(|k| e.contains(*k))
            })
            .collect();
        for &s in &c {
            member.clear(s);
        }
        // `member` is clear again: use it as the region of the remaining states.
        for &s in &keep {
            member.set(s);
        }
        work.extend(sccs(g, member, &keep));
        for &s in &keep {
            member.clear(s);
        }
    }
}

/// A cycle through the fair set `c`, from and back to `entry`, that takes an edge of every fair
/// class taken inside `c` and visits a state where each weakly fair class not taken in `c` is
/// disabled: a fair behaviour. Goals the cycle already meets on its way are skipped. Returns
/// the states and the class of each step.
fn fair_cycle(g: &Graph, fair: &Fair, c: &[u32], entry: u32) -> (Vec<u32>, Vec<u8>) {
    let mut member = Bits::new(g.len());
    for &s in c {
        member.set(s);
    }
    let any = fair.any();
    let mut taken_inside = ClassSet::default();
    for &s in c {
        for (t, k) in g.edges(s) {
            if k != UNFAIR && any.contains(k) && member.get(t) {
                taken_inside.insert(k);
            }
        }
    }
    // Breadth-first inside c from `from` to the first state `goal` accepts (`from` itself,
    // with no step, only if `allow_here`; else reached again through c): the states after
    // `from`, and each step's class.
    let path_to = |from: u32, goal: &dyn Fn(u32) -> bool, allow_here: bool| -> (Vec<u32>, Vec<u8>) {
        if allow_here && goal(from) {
            return (Vec::new(), Vec::new());
        }
        let mut parent: std::collections::HashMap<u32, (u32, u8)> = std::collections::HashMap::new();
        let mut q = VecDeque::from([from]);
        while let Some(s) = q.pop_front() {
            for (t, k) in g.edges(s) {
                if !member.get(t) {
                    continue;
                }
                if goal(t) {
                    let (mut states, mut classes) = (vec![t], vec![k]);
                    let mut at = s;
                    while at != from {
                        let (up, kk) = parent[&at];
                        states.push(at);
                        classes.push(kk);
                        at = up;
                    }
                    states.reverse();
                    classes.reverse();
                    return (states, classes);
                }
                if t != from && !parent.contains_key(&t) {
                    parent.insert(t, (s, k));
                    q.push_back(t);
                }
            }
        }
        unreachable!("a strongly connected set connects every pair of its states")
    };
    let mut states = vec![entry];
    let mut classes: Vec<u8> = Vec::new();
    let extend = |states: &mut Vec<u32>, classes: &mut Vec<u8>, (s, k): (Vec<u32>, Vec<u8>)| {
        states.extend(s);
        classes.extend(k);
    };
    // One edge of each fair class taken inside c.
    for k in taken_inside.iter() {
        if classes.contains(&k) {
            continue;
        }
        let cur = *states.last().expect("the cycle has its entry");
        // A state of c with an edge of class k inside c, then that edge.
        let has_k = |s: u32| g.edges(s).any(|(t, x)| x == k && member.get(t));
        extend(&mut states, &mut classes, path_to(cur, &has_k, true));
        let at = *states.last().expect("a state");
        let t = g.edges(at).find(|(t, x)| *x == k && member.get(*t)).map(|(t, _)| t).expect("the goal has the edge");
        states.push(t);
        classes.push(k);
    }
    // A state where each weakly fair class not taken inside c is disabled.
    for k in fair.weak.iter().filter(|k| !taken_inside.contains(*k)) {
        let off = |s: u32| !g.enabled(s).contains(k);
        if states.iter().any(|&s| off(s)) {
            continue;
        }
        let cur = *states.last().expect("a state");
        extend(&mut states, &mut classes, path_to(cur, &off, false));
    }
    // Back to the entry (a cycle has at least one step).
    let cur = *states.last().expect("a state");
    let back = path_to(cur, &|s| s == entry, states.len() > 1);
    extend(&mut states, &mut classes, back);
    (states, classes)
}

/// Whether obligation `k` is violated, and how: the violation with the shortest prefix.
/// `from_init`: `eventually` semantics (only states reached through pending states count).
pub fn check(g: &Graph, k: usize, from_init: bool, fair: &Fair) -> Option<Lasso> {
    let n = g.len();
    let mut pending = Bits::new(n);
    for s in 0..n as u32 {
        if g.pending[s as usize] & (1 << k) != 0 {
            pending.set(s);
        }
    }
    // The region: pending states that count, and the distance to each.
    let (dist, parent) = if from_init { bfs(g, Some(&pending)) } else { bfs(g, None) };
    let mut region = Bits::new(n);
    let mut nodes = Vec::new();
    for s in 0..n as u32 {
        if pending.get(s) && dist[s as usize] != u32::MAX {
            region.set(s);
            nodes.push(s);
        }
    }
    let any = fair.any();
    let mut best: Option<(u32, u32, Option<Vec<u32>>)> = None; // (distance, entry, fair set)
    let consider = |d: u32, s: u32, set: Option<Vec<u32>>, best: &mut Option<(u32, u32, Option<Vec<u32>>)>| {
        if best.as_ref().is_none_or(|(bd, bs, _)| (d, s) < (*bd, *bs)) {
            *best = Some((d, s, set));
        }
    };
    // A pending state where no fair class is enabled: the behaviour may stop there.
    for &s in &nodes {
        let mut e = g.enabled(s);
        e.intersect(&any);
        if e.is_empty() {
            consider(dist[s as usize], s, None, &mut best);
        }
    }
    // A fair set of pending states.
    let mut member = Bits::new(n);
    let mut sets = Vec::new();
    for c in sccs(g, &region, &nodes) {
        fair_sets(g, fair, c, &mut member, &mut sets);
    }
    for set in sets {
        let entry = *set.iter().min_by_key(|&&s| (dist[s as usize], s)).expect("a set is not empty");
        consider(dist[entry as usize], entry, Some(set), &mut best);
    }
    let (_, entry, set) = best?;
    let prefix = chain(&parent, entry);
    let (cycle, cycle_classes) = match set {
        Some(set) => fair_cycle(g, fair, &set, entry),
        None => (Vec::new(), Vec::new()),
    };
    Some(Lasso { prefix, cycle, cycle_classes })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::explorer::graph::{assemble, Parts};

    /// A graph from edges (from, to, class), state 0 initial, `pending` states.
    fn graph(n: u32, edges: &[(u32, u32, u8)], pending: &[u32]) -> Graph {
        let mut p = Parts::default();
        for s in 0..n {
            let out: Vec<_> = edges.iter().filter(|e| e.0 == s).collect();
            p.expanded.push((s, out.len() as u32));
            for e in out {
                p.targets.push(e.1);
                p.classes.push(e.2);
            }
            p.found.push((s, s as u64 + 1, pending.contains(&s) as u8));
        }
        assemble(n as usize, vec![0], vec![p]).expect("a small graph")
    }

    #[test]
    fn tarjan_finds_components() {
        let g = graph(5, &[(0, 1, 0), (1, 2, 0), (2, 1, 0), (2, 3, 0), (3, 3, 0), (3, 4, 0)], &[]);
        let mut all = Bits::new(5);
        (0..5).for_each(|s| all.set(s));
        let mut c: Vec<Vec<u32>> = sccs(&g, &all, &[0])
            .into_iter()
            .map(|mut c| {
                c.sort();
                c
            })
            .collect();
        c.sort();
        assert_eq!(c, vec![vec![0], vec![1, 2], vec![3], vec![4]]);
    }

    #[test]
    fn a_long_chain_does_not_overflow_the_stack() {
        let n = 100_000u32;
        let edges: Vec<(u32, u32, u8)> = (0..n - 1).map(|s| (s, s + 1, 0)).chain([(n - 1, 0, 0)]).collect();
        let g = graph(n, &edges, &(0..n).collect::<Vec<_>>());
        let mut all = Bits::new(n as usize);
        (0..n).for_each(|s| all.set(s));
        assert_eq!(sccs(&g, &all, &[0]).len(), 1);
        let l = check(&g, 0, false, &Fair::new(&[Fairness::Weak])).expect("the ring is a fair cycle");
        assert_eq!(l.cycle.len() as u32, n + 1);
    }
}
