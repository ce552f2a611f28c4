//! The liveness engine on models with known answers, and its verdicts on random graphs against
//! a plain reference that tries every set of states.

use quickcheck::{Arbitrary, Gen, QuickCheck};
use rcopy_checks::explorer::graph::{assemble, Graph, Parts, UNFAIR};
use rcopy_checks::explorer::liveness::{self, Fair, Lasso};
use rcopy_checks::explorer::{Bounds, Explorer, Fairness, Obligation, Strategy, Verdict};
use stateright::{Checker, Model, Property};

// ---- Small models. ----

/// Process P toggles x forever; process Q sets `done` once, when its guard allows. Q's guard:
/// always (`only_at_zero` false), or only while x is 0.
#[derive(Clone)]
struct Starve {
    only_at_zero: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Step {
    P,
    Q,
}

impl Model for Starve {
    type State = (u8, bool);
    type Action = Step;

    fn init_states(&self) -> Vec<(u8, bool)> {
        vec![(0, false)]
    }

    fn actions(&self, s: &(u8, bool), actions: &mut Vec<Step>) {
        actions.push(Step::P);
        if !s.1 && (!self.only_at_zero || s.0 == 0) {
            actions.push(Step::Q);
        }
    }

    fn next_state(&self, s: &(u8, bool), a: Step) -> Option<(u8, bool)> {
        Some(match a {
            Step::P => ((s.0 + 1) % 2, s.1),
            Step::Q => (s.0, true),
        })
    }

    fn properties(&self) -> Vec<Property<Self>> {
        vec![Property::eventually("Q is done", |_, s: &(u8, bool)| s.1)]
    }
}

fn starve(only_at_zero: bool, fairness: Option<Fairness>) -> (Verdict, Option<usize>, usize) {
    let m = Starve { only_at_zero };
    let mut e = Explorer::new(&m);
    if let Some(f) = fairness {
        e = e.fairness(vec![Fairness::Weak, f], |a: &Step| Some(*a as usize));
    }
    let r = e.run();
    let j = r.property("Q is done").unwrap();
    (j.verdict, j.loop_index, j.path.as_ref().map_or(0, |p| p.len()))
}

#[test]
fn weak_fairness_keeps_a_process_from_starving() {
    // Without fairness per process, P's loop is a fair behaviour of "some action": Q starves.
    let (v, loop_index, _) = starve(false, None);
    assert_eq!(v, Verdict::Violated);
    assert_eq!(loop_index, Some(0), "a lasso whose cycle passes through the initial state");
    // Q weakly fair: it is enabled in every state of P's loop, so it must be taken.
    assert_eq!(starve(false, Some(Fairness::Weak)).0, Verdict::Holds);
}

#[test]
fn an_intermittently_enabled_process_needs_strong_fairness() {
    // Q enabled only while x is 0: weak fairness does not force it (it is not continuously
    // enabled), strong fairness does (it is enabled infinitely often).
    let (v, loop_index, len) = starve(true, Some(Fairness::Weak));
    assert_eq!(v, Verdict::Violated);
    assert_eq!((loop_index, len), (Some(0), 2), "x = 0, x = 1, back to x = 0");
    assert_eq!(starve(true, Some(Fairness::Strong)).0, Verdict::Holds);
}

/// Three states a, b, c in one component, and `done`. Moves a<->b, b<->c are weakly fair; the
/// finish c -> done is strongly fair. The whole component is unfair (finish enabled at c, never
/// taken inside), but a<->b, without c, is a fair cycle that never finishes: the TLC bug class.
#[derive(Clone)]
struct Nested;

impl Model for Nested {
    type State = u8;
    type Action = (u8, bool);

    fn init_states(&self) -> Vec<u8> {
        vec![0]
    }

    fn actions(&self, s: &u8, actions: &mut Vec<(u8, bool)>) {
        match s {
            0 => actions.push((1, false)),
            1 => actions.extend([(0, false), (2, false)]),
            2 => actions.extend([(1, false), (3, true)]),
            _ => {}
        }
    }

    fn next_state(&self, _: &u8, a: (u8, bool)) -> Option<u8> {
        Some(a.0)
    }

    fn properties(&self) -> Vec<Property<Self>> {
        vec![]
    }
}

#[test]
fn a_fair_cycle_nested_in_an_unfair_component_is_found() {
    let r = Explorer::new(&Nested)
        .obligations(vec![Obligation { name: "finish", pending: |_, s: &u8| *s != 3 }])
        .fairness(vec![Fairness::Weak, Fairness::Strong], |a: &(u8, bool)| Some(a.1 as usize))
        .run();
    let j = r.property("finish").unwrap();
    assert_eq!(j.verdict, Verdict::Violated);
    let p = j.path.as_ref().unwrap();
    let cycle = &p.states[j.loop_index.unwrap()..];
    assert!(!cycle.contains(&2), "the fair cycle avoids c, where the strong finish is enabled: {:?}", p.states);
    // Made weak, the finish no longer forces anything: the whole component is fair.
    let r = Explorer::new(&Nested)
        .obligations(vec![Obligation { name: "finish", pending: |_, s: &u8| *s != 3 }])
        .fairness(vec![Fairness::Weak, Fairness::Weak], |a: &(u8, bool)| Some(a.1 as usize))
        .run();
    assert_eq!(r.property("finish").unwrap().verdict, Verdict::Violated);
}

/// A run that ends with the obligation pending: a deadlock counterexample.
#[test]
fn a_deadlock_with_the_obligation_pending() {
    let chain = Tree { nodes: vec![(vec![1], false), (vec![2], false), (vec![], false)] };
    let r = Explorer::new(&chain).run();
    let j = r.property("P").unwrap();
    assert_eq!(j.verdict, Verdict::Violated);
    assert_eq!(j.loop_index, None, "no cycle: the run stops");
    assert_eq!(j.path.as_ref().unwrap().states, vec![0, 1, 2]);
}

/// Unfair steps need not be taken: a state whose only steps are unfair is where a fair
/// behaviour may stop.
#[test]
fn only_unfair_steps_left_is_where_a_behaviour_may_stop() {
    let r = Explorer::new(&Nested)
        .obligations(vec![Obligation { name: "finish", pending: |_, s: &u8| *s != 3 }])
        .fairness(vec![Fairness::Weak], |a: &(u8, bool)| (!a.1).then_some(0))
        .run();
    assert_eq!(r.property("finish").unwrap().verdict, Verdict::Violated);
}

/// A random tree of states (no joins, no cycles): stateright's `eventually` is exact there, and
/// the two engines must agree.
#[derive(Clone, Debug)]
struct Tree {
    /// Per node: its children, and whether P holds in it.
    nodes: Vec<(Vec<u8>, bool)>,
}

impl Arbitrary for Tree {
    fn arbitrary(g: &mut Gen) -> Tree {
        let n = 1 + usize::arbitrary(g) % 12;
        let mut nodes: Vec<(Vec<u8>, bool)> =
            (0..n).map(|_| (Vec::new(), bool::arbitrary(g) && bool::arbitrary(g))).collect();
        for i in 1..n {
            let parent = usize::arbitrary(g) % i;
            nodes[parent].0.push(i as u8);
        }
        Tree { nodes }
    }
}

impl Model for Tree {
    type State = u8;
    type Action = u8;

    fn init_states(&self) -> Vec<u8> {
        vec![0]
    }

    fn actions(&self, s: &u8, actions: &mut Vec<u8>) {
        actions.extend(&self.nodes[*s as usize].0);
    }

    fn next_state(&self, _: &u8, a: u8) -> Option<u8> {
        Some(a)
    }

    fn properties(&self) -> Vec<Property<Self>> {
        vec![Property::eventually("P", |m: &Tree, s: &u8| m.nodes[*s as usize].1)]
    }
}

#[test]
fn agrees_with_stateright_on_trees() {
    fn prop(t: Tree) -> bool {
        let ours = Explorer::new(&t).run().property("P").unwrap().verdict;
        let theirs = t.clone().checker().spawn_bfs().join().discovery("P").is_some();
        (ours == Verdict::Violated) == theirs && matches!(ours, Verdict::Violated | Verdict::Holds)
    }
    QuickCheck::new().tests(300).quickcheck(prop as fn(Tree) -> bool);
}

#[test]
fn without_a_graph_liveness_is_unknown_unless_found() {
    let m = Starve { only_at_zero: false };
    let r = Explorer::new(&m)
        .liveness(false)
        .fairness(vec![Fairness::Weak, Fairness::Weak], |a: &Step| Some(*a as usize))
        .run();
    assert_eq!(
        r.property("Q is done").unwrap().verdict,
        Verdict::Unknown,
        "a cycle cannot be judged without the graph"
    );
    let r = Explorer::new(&Nested)
        .strategy(Strategy::Bfs)
        .bounds(Bounds { max_depth: Some(1), ..Bounds::default() })
        .obligations(vec![Obligation { name: "finish", pending: |_, s: &u8| *s != 3 }])
        .run();
    assert_eq!(r.property("finish").unwrap().verdict, Verdict::Unknown, "a bounded run judges no cycle");
}

// ---- Random graphs against a reference. ----

/// A small graph: edges with classes (0..3, or unfair), the fairness of each class, the pending
/// states, and whether the obligation counts only from the initial state.
#[derive(Clone, Debug)]
struct Case {
    n: u32,
    edges: Vec<(u32, u32, u8)>,
    fairness: Vec<Fairness>,
    pending: Vec<bool>,
    from_init: bool,
}

impl Arbitrary for Case {
    fn arbitrary(g: &mut Gen) -> Case {
        let n = 1 + u32::arbitrary(g) % 7;
        let m = usize::arbitrary(g) % (3 * n as usize + 1);
        let mut edges: Vec<(u32, u32, u8)> = (0..m)
            .map(|_| {
                let c = u8::arbitrary(g) % 4;
                (u32::arbitrary(g) % n, u32::arbitrary(g) % n, if c == 3 { UNFAIR } else { c })
            })
            .collect();
        edges.sort();
        edges.dedup();
        let fairness = (0..3).map(|_| if bool::arbitrary(g) { Fairness::Weak } else { Fairness::Strong }).collect();
        let pending = (0..n).map(|_| u8::arbitrary(g) % 4 != 0).collect();
        Case { n, edges, fairness, pending, from_init: bool::arbitrary(g) }
    }
}

fn graph_of(c: &Case) -> Graph {
    let mut p = Parts::default();
    for s in 0..c.n {
        let out: Vec<_> = c.edges.iter().filter(|e| e.0 == s).collect();
        p.expanded.push((s, out.len() as u32));
        for e in out {
            p.targets.push(e.1);
            p.classes.push(e.2);
        }
        p.found.push((s, s as u64 + 1, c.pending[s as usize] as u8));
    }
    assemble(c.n as usize, vec![0], vec![p]).expect("a small graph")
}

fn enabled(c: &Case, s: u32) -> Vec<u8> {
    c.edges.iter().filter(|e| e.0 == s && e.2 != UNFAIR).map(|e| e.2).collect()
}

/// The states that count: reached through pending states from 0 (from_init), or pending and
/// reachable at all.
fn region(c: &Case) -> Vec<bool> {
    let mut seen = vec![false; c.n as usize];
    let ok = |s: u32| !c.from_init || c.pending[s as usize];
    let mut stack = Vec::new();
    if ok(0) {
        seen[0] = true;
        stack.push(0);
    }
    while let Some(s) = stack.pop() {
        for e in c.edges.iter().filter(|e| e.0 == s) {
            if !seen[e.1 as usize] && ok(e.1) {
                seen[e.1 as usize] = true;
                stack.push(e.1);
            }
        }
    }
    (0..c.n as usize).map(|s| seen[s] && c.pending[s]).collect()
}

/// The reference: some state of the region with no fair class enabled, or some set of region
/// states, strongly connected by its own edges, in which a behaviour that visits every state
/// and takes every edge forever is fair.
fn reference(c: &Case) -> bool {
    let r = region(c);
    let states: Vec<u32> = (0..c.n).filter(|s| r[*s as usize]).collect();
    if states.iter().any(|&s| enabled(c, s).is_empty()) {
        return true;
    }
    for mask in 1u32..(1 << states.len()) {
        let set: Vec<u32> = states.iter().enumerate().filter(|(i, _)| mask & (1 << i) != 0).map(|(_, s)| *s).collect();
        let inside: Vec<&(u32, u32, u8)> =
            c.edges.iter().filter(|e| set.contains(&e.0) && set.contains(&e.1)).collect();
        if inside.is_empty() {
            continue;
        }
        let reach = |from: u32| {
            let mut seen = vec![from];
            let mut i = 0;
            while i < seen.len() {
                for e in &inside {
                    if e.0 == seen[i] && !seen.contains(&e.1) {
                        seen.push(e.1);
                    }
                }
                i += 1;
            }
            seen
        };
        if !set.iter().all(|&a| {
            let r = reach(a);
            set.iter().all(|b| r.contains(b))
        }) {
            continue;
        }
        let fair = (0..3u8).all(|k| {
            let taken = inside.iter().any(|e| e.2 == k);
            let on: Vec<bool> = set.iter().map(|&s| enabled(c, s).contains(&k)).collect();
            match c.fairness[k as usize] {
                Fairness::Weak => taken || on.iter().any(|x| !x),
                Fairness::Strong => taken || on.iter().all(|x| !x),
            }
        });
        if fair {
            return true;
        }
    }
    false
}

/// A lasso is a real path of the graph through the region, and what it claims: its last state
/// enables no fair class, or its cycle is fair.
fn valid(c: &Case, l: &Lasso) -> Result<(), String> {
    let r = region(c);
    let edge = |a: u32, b: u32| c.edges.iter().any(|e| e.0 == a && e.1 == b);
    if l.prefix.first() != Some(&0) {
        return Err("the prefix does not start at the initial state".into());
    }
    if !l.prefix.windows(2).all(|w| edge(w[0], w[1])) {
        return Err("the prefix is not a path".into());
    }
    let entry = *l.prefix.last().unwrap();
    if !r[entry as usize] {
        return Err("the lasso's state does not count".into());
    }
    if l.cycle.is_empty() {
        return if enabled(c, entry).is_empty() {
            Ok(())
        } else {
            Err("it stops where a fair class is enabled".into())
        };
    }
    if l.cycle.first() != Some(&entry) || l.cycle.last() != Some(&entry) || l.cycle.len() < 2 {
        return Err("the cycle does not close at its entry".into());
    }
    if !l.cycle.windows(2).all(|w| edge(w[0], w[1]) && r[w[1] as usize]) {
        return Err("the cycle is not a path through the region".into());
    }
    let steps: Vec<(u32, u32)> = l.cycle.windows(2).map(|w| (w[0], w[1])).collect();
    for k in 0..3u8 {
        let taken = steps.iter().any(|&(a, b)| c.edges.iter().any(|e| e.0 == a && e.1 == b && e.2 == k));
        let on: Vec<bool> = l.cycle.iter().map(|&s| enabled(c, s).contains(&k)).collect();
        let ok = match c.fairness[k as usize] {
            Fairness::Weak => taken || on.iter().any(|x| !x),
            Fairness::Strong => taken || on.iter().all(|x| !x),
        };
        if !ok {
            return Err(format!("class {k} is starved on the cycle"));
        }
    }
    Ok(())
}

#[test]
fn verdicts_on_random_graphs_match_the_reference() {
    fn prop(c: Case) -> bool {
        let g = graph_of(&c);
        let found = liveness::check(&g, 0, c.from_init, &Fair::new(&c.fairness));
        let expected = reference(&c);
        match &found {
            Some(l) => expected && valid(&c, l).map_err(|e| eprintln!("{c:?}: {e}: {l:?}")).is_ok(),
            None => !expected,
        }
    }
    QuickCheck::new().tests(3000).quickcheck(prop as fn(Case) -> bool);
}

// ---- Review findings. ----

/// 0 -> A (P holds) and 0 -> B (it does not); both -> C, a dead end. `eventually P` is violated
/// by 0, B, C. A search that stops at that violation must show that path, not one through A.
#[derive(Clone)]
struct Join;

impl Model for Join {
    type State = u8;
    type Action = u8;

    fn init_states(&self) -> Vec<u8> {
        vec![0]
    }

    fn actions(&self, s: &u8, actions: &mut Vec<u8>) {
        match s {
            0 => actions.extend([1, 2]),
            1 | 2 => actions.push(3),
            _ => {}
        }
    }

    fn next_state(&self, _: &u8, a: u8) -> Option<u8> {
        Some(a)
    }

    fn properties(&self) -> Vec<Property<Self>> {
        vec![Property::eventually("P", |_, s: &u8| *s == 1)]
    }
}

#[test]
fn a_path_found_by_the_search_runs_through_pending_states() {
    for strategy in [Strategy::Bfs, Strategy::Dfs] {
        for hunt in [true, false] {
            let mut e = Explorer::new(&Join).strategy(strategy);
            if hunt {
                e = e.hunt(["P"]);
            }
            let r = e.run();
            let j = r.property("P").unwrap();
            assert_eq!(j.verdict, Verdict::Violated, "{strategy:?}, hunt {hunt}");
            let path = j.path.as_ref().unwrap_or_else(|| panic!("{strategy:?}: {:?}", j.path_error));
            assert_eq!(path.states, vec![0, 2, 3], "{strategy:?}, hunt {hunt}");
        }
    }
}

#[test]
fn fairness_classes_past_the_limit_or_undeclared_leave_liveness_unknown() {
    let m = Starve { only_at_zero: false };
    let r = Explorer::new(&m).fairness(vec![Fairness::Weak; 300], |a: &Step| Some(*a as usize)).run();
    assert_eq!(r.property("Q is done").unwrap().verdict, Verdict::Unknown, "300 classes do not fit a byte");
    let r = Explorer::new(&m).fairness(vec![Fairness::Weak], |a: &Step| Some(*a as usize + 5)).run();
    assert_eq!(r.property("Q is done").unwrap().verdict, Verdict::Unknown, "class 5 was never declared");
}
