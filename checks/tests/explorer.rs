//! The explorer on small models written for these tests, each with a known answer: state
//! counts, shortest counterexamples at any thread count, bounds that stop a run, symmetry,
//! `eventually` as stateright judges it, and agreement with stateright's own checkers.

use rcopy_checks::explorer::{Bounds, Ended, Explorer, Report, Strategy, Verdict};
use stateright::{Checker, Model, Property};
use std::time::Duration;

/// Two counters in 0..=N, each step raises one of them.
#[derive(Clone)]
struct Grid {
    n: u8,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Inc {
    A,
    B,
}

impl Model for Grid {
    type State = (u8, u8);
    type Action = Inc;

    fn init_states(&self) -> Vec<(u8, u8)> {
        vec![(0, 0)]
    }

    fn actions(&self, s: &(u8, u8), actions: &mut Vec<Inc>) {
        if s.0 < self.n {
            actions.push(Inc::A);
        }
        if s.1 < self.n {
            actions.push(Inc::B);
        }
    }

    fn next_state(&self, s: &(u8, u8), a: Inc) -> Option<(u8, u8)> {
        Some(match a {
            Inc::A => (s.0 + 1, s.1),
            Inc::B => (s.0, s.1 + 1),
        })
    }

    fn properties(&self) -> Vec<Property<Self>> {
        vec![
            Property::always("bounded", |m: &Grid, s: &(u8, u8)| s.0 <= m.n && s.1 <= m.n),
            Property::always("never (2, 3)", |_, s: &(u8, u8)| *s != (2, 3)),
            Property::sometimes("the corner", |m: &Grid, s: &(u8, u8)| *s == (m.n, m.n)),
            Property::sometimes("never there", |m: &Grid, s: &(u8, u8)| s.0 > m.n),
            Property::eventually("a reaches n", |m: &Grid, s: &(u8, u8)| s.0 == m.n),
        ]
    }
}

fn run<M>(m: &M, strategy: Strategy, threads: usize, bounds: Bounds) -> Report<M::State, M::Action>
where
    M: Model + Sync,
    M::State: std::hash::Hash + Clone + std::fmt::Debug + Send + Sync,
    M::Action: Clone + std::fmt::Debug + Send + Sync,
{
    Explorer::new(m).strategy(strategy).threads(threads).bounds(bounds).run()
}

fn verdict<S, A>(r: &Report<S, A>, p: &str) -> Verdict {
    r.property(p).unwrap_or_else(|| panic!("no property {p}")).verdict
}

#[test]
fn breadth_first_counts_every_state_and_finds_shortest_paths_at_any_thread_count() {
    let m = Grid { n: 6 };
    let mut last = None;
    for threads in [1, 2, 4] {
        let r = run(&m, Strategy::Bfs, threads, Bounds::default());
        assert_eq!(r.ended, Ended::Exhausted);
        assert_eq!(r.unique, 49, "(n + 1)^2 states");
        assert_eq!(r.generated, 2 * 6 * 7, "each of a and b raised from 0..6 in 7 rows");
        assert_eq!(r.depth, 12);
        assert_eq!(verdict(&r, "bounded"), Verdict::Holds);
        assert_eq!(verdict(&r, "never (2, 3)"), Verdict::Violated);
        assert_eq!(verdict(&r, "the corner"), Verdict::Witnessed);
        assert_eq!(verdict(&r, "never there"), Verdict::Unwitnessed);
        let path = r.property("never (2, 3)").unwrap().path.clone().expect("a counterexample");
        assert_eq!(path.len(), 5, "the shortest path to (2, 3)");
        assert_eq!(*path.last_state(), (2, 3));
        assert_eq!(r.property("the corner").unwrap().path.as_ref().unwrap().len(), 12);
        // The path is the same whatever the thread count: the shallowest state with the
        // smallest fingerprint, and its chain of parents.
        if let Some(prev) = last.replace(path.clone()) {
            assert_eq!(prev.states.last(), path.states.last());
        }
    }
}

#[test]
fn depth_first_and_walks_agree_with_breadth_first() {
    let m = Grid { n: 6 };
    for threads in [1, 2] {
        let r = run(&m, Strategy::Dfs, threads, Bounds::default());
        assert_eq!((r.ended, r.unique), (Ended::Exhausted, 49), "{threads} threads");
        assert_eq!(verdict(&r, "never (2, 3)"), Verdict::Violated);
        let path = r.property("never (2, 3)").unwrap().path.clone().unwrap();
        assert_eq!(*path.last_state(), (2, 3));
        assert!(path.len() >= 5);
    }
    let r = run(
        &m,
        Strategy::Walks { seed: 7 },
        2,
        Bounds { timeout: Some(Duration::from_millis(300)), ..Bounds::default() },
    );
    assert_eq!(r.ended, Ended::Timeout);
    assert_ne!(verdict(&r, "bounded"), Verdict::Holds, "random walks never prove a property holds");
    assert_eq!(verdict(&r, "the corner"), Verdict::Witnessed, "300 ms of walks reach the corner");
    assert!(r.unique <= 49);
}

#[test]
fn random_walks_are_reproducible_from_their_seed() {
    let m = Grid { n: 30 };
    let walk = |seed| {
        let r = run(&m, Strategy::Walks { seed }, 1, Bounds { max_states: Some(200), ..Bounds::default() });
        r.property("never (2, 3)").and_then(|j| j.path.clone()).map(|p| p.actions)
    };
    assert_eq!(walk(3), walk(3));
}

#[test]
fn bounds_stop_a_run_and_nothing_unfound_holds() {
    let m = Grid { n: 40 };
    let r = run(&m, Strategy::Bfs, 1, Bounds { max_states: Some(100), ..Bounds::default() });
    assert_eq!(r.ended, Ended::StateBound);
    assert!(r.unique >= 100 && r.unique < 200, "{}", r.unique);
    assert_eq!(verdict(&r, "bounded"), Verdict::Unknown);
    assert_eq!(verdict(&r, "never (2, 3)"), Verdict::Violated, "what was found stands");
    let r = run(&m, Strategy::Bfs, 2, Bounds { max_depth: Some(3), ..Bounds::default() });
    assert_eq!((r.ended, r.unique, r.depth), (Ended::DepthBound, 10, 3));
    assert_eq!(verdict(&r, "never (2, 3)"), Verdict::Unknown, "(2, 3) is at depth 5");
    // A depth bound the space never reaches leaves the run exhaustive.
    let r = run(&Grid { n: 2 }, Strategy::Bfs, 1, Bounds { max_depth: Some(10), ..Bounds::default() });
    assert_eq!(r.ended, Ended::Exhausted);
    let r = run(&m, Strategy::Dfs, 1, Bounds { max_depth: Some(3), ..Bounds::default() });
    assert_eq!(r.ended, Ended::DepthBound);
}

/// N interchangeable processes, each with one bit; a step sets or clears one. With symmetry
/// only the number of bits set matters: N + 1 representatives instead of 2^N states.
#[derive(Clone)]
struct Bits {
    n: usize,
}

impl Model for Bits {
    type State = Vec<bool>;
    type Action = usize;

    fn init_states(&self) -> Vec<Vec<bool>> {
        vec![vec![false; self.n]]
    }

    fn actions(&self, _: &Vec<bool>, actions: &mut Vec<usize>) {
        actions.extend(0..self.n);
    }

    fn next_state(&self, s: &Vec<bool>, i: usize) -> Option<Vec<bool>> {
        let mut t = s.clone();
        t[i] = !t[i];
        Some(t)
    }

    fn properties(&self) -> Vec<Property<Self>> {
        vec![
            Property::always("fewer than three set", |_, s: &Vec<bool>| s.iter().filter(|b| **b).count() < 3),
            Property::sometimes("all set", |_, s: &Vec<bool>| s.iter().all(|b| *b)),
        ]
    }
}

#[test]
fn symmetry_stores_representatives_and_rebuilds_real_paths() {
    let m = Bits { n: 8 };
    let plain = run(&m, Strategy::Bfs, 1, Bounds::default());
    assert_eq!(plain.unique, 256);
    let sym = Explorer::new(&m)
        .symmetry(|s: &Vec<bool>| {
            let mut t = s.clone();
            t.sort();
            t
        })
        .threads(2)
        .run();
    assert_eq!(sym.unique, 9, "one representative per number of bits set");
    assert_eq!(verdict(&sym, "fewer than three set"), Verdict::Violated);
    assert_eq!(verdict(&sym, "all set"), Verdict::Witnessed);
    let path = sym.property("fewer than three set").unwrap().path.clone().unwrap();
    assert_eq!(path.len(), 3);
    // Real transitions of the model: each step flips one bit of the state before it.
    for (i, a) in path.actions.iter().enumerate() {
        assert_eq!(m.next_state(&path.states[i], *a).as_ref(), Some(&path.states[i + 1]));
    }
}

#[test]
fn coverage_counts_each_class() {
    let m = Grid { n: 3 };
    let r = Explorer::new(&m).classes(vec!["a".into(), "b".into()], |a: &Inc| *a as usize).run();
    assert_eq!(r.coverage.len(), 2);
    assert_eq!((r.coverage[0].class.as_str(), r.coverage[0].fired), ("a", 12));
    assert_eq!(r.coverage[0].new_states + r.coverage[1].new_states, 15, "every state but the initial one");
    let r = Explorer::new(&m).classes(vec!["a".into()], |a: &Inc| *a as usize).run();
    assert_eq!(r.coverage.last().unwrap().class, "unclassified", "a class out of range is counted, not lost");
}

/// A model whose runs end: a branch that never sets `done`, and one that does. stateright's
/// `eventually` and rcopy's agree on acyclic models like this one.
#[derive(Clone)]
struct Branches;

impl Model for Branches {
    type State = (u8, bool);
    type Action = bool;

    fn init_states(&self) -> Vec<(u8, bool)> {
        vec![(0, false)]
    }

    fn actions(&self, s: &(u8, bool), actions: &mut Vec<bool>) {
        if s.0 < 3 {
            actions.extend([false, true]);
        }
    }

    fn next_state(&self, s: &(u8, bool), set: bool) -> Option<(u8, bool)> {
        Some((s.0 + 1, s.1 || (set && s.0 == 1)))
    }

    fn properties(&self) -> Vec<Property<Self>> {
        vec![
            Property::eventually("done", |_, s: &(u8, bool)| s.1),
            Property::eventually("three steps", |_, s: &(u8, bool)| s.0 == 3),
        ]
    }
}

#[test]
fn eventually_is_judged_on_runs_that_end_and_agrees_with_stateright() {
    let r = run(&Branches, Strategy::Bfs, 1, Bounds::default());
    assert_eq!(verdict(&r, "done"), Verdict::Violated);
    assert_eq!(verdict(&r, "three steps"), Verdict::Holds);
    let path = r.property("done").unwrap().path.clone().unwrap();
    assert_eq!(path.len(), 3, "a run of three steps that never sets done");
    assert!(path.states.iter().all(|s| !s.1));
    let sr = Branches.checker().spawn_bfs().join();
    assert!(sr.discovery("done").is_some());
    assert!(sr.discovery("three steps").is_none());
    let g = run(&Grid { n: 3 }, Strategy::Bfs, 2, Bounds::default());
    assert_eq!(verdict(&g, "a reaches n"), Verdict::Holds, "every run ends in the corner, where a = n");
    assert!(Grid { n: 3 }.checker().spawn_bfs().join().discovery("a reaches n").is_none());
}

#[test]
fn agrees_with_stateright_on_state_counts() {
    for m in [Grid { n: 5 }, Grid { n: 9 }] {
        let ours = run(&m, Strategy::Bfs, 2, Bounds::default());
        let theirs = m.clone().checker().spawn_bfs().join();
        assert_eq!(ours.unique as usize, theirs.unique_state_count());
    }
    let ours = run(&Bits { n: 6 }, Strategy::Dfs, 1, Bounds::default());
    assert_eq!(ours.unique as usize, Bits { n: 6 }.checker().spawn_dfs().join().unique_state_count());
}

/// A run cut by the depth bound at a state with no successor still ends there: an `eventually`
/// property pending at that dead end is violated, not held.
#[test]
fn a_dead_end_at_the_depth_bound_is_still_a_run_that_ends() {
    let r = run(&Branches, Strategy::Bfs, 1, Bounds { max_depth: Some(3), ..Bounds::default() });
    assert_eq!(verdict(&r, "done"), Verdict::Violated);
}

/// Random walks over a space smaller than their state bound stop at their time budget.
#[test]
fn walks_stop_even_when_the_state_bound_is_never_reached() {
    let start = std::time::Instant::now();
    let r = run(
        &Grid { n: 2 },
        Strategy::Walks { seed: 1 },
        1,
        Bounds { max_states: Some(1000), timeout: Some(Duration::from_millis(200)), ..Bounds::default() },
    );
    assert_eq!(r.ended, Ended::Timeout);
    assert!(start.elapsed() < Duration::from_secs(5));
    let r = Explorer::new(&Grid { n: 2 })
        .strategy(Strategy::Walks { seed: 1 })
        .bounds(Bounds { max_states: Some(1000), ..Bounds::default() })
        .run();
    assert_eq!(r.ended, Ended::Timeout, "without a time bound, the walks' own budget ends them");
}

/// The verdicts and figures of a run, to compare two runs of one graph.
fn figures<S, A>(r: &Report<S, A>) -> (Ended, u64, u64, usize, Vec<(&'static str, Verdict)>) {
    (r.ended, r.unique, r.generated, r.depth, r.properties.iter().map(|j| (j.name, j.verdict)).collect())
}

#[test]
fn packed_states_explore_the_same_graph() {
    let m = Grid { n: 6 };
    for (strategy, threads) in [(Strategy::Bfs, 1), (Strategy::Bfs, 2), (Strategy::Dfs, 2)] {
        let plain = run(&m, strategy, threads, Bounds::default());
        let packed = Explorer::new(&m).strategy(strategy).threads(threads).packed().run();
        assert_eq!(figures(&plain), figures(&packed), "{strategy:?} on {threads} threads");
        let last = |r: &Report<(u8, u8), Inc>| r.property("never (2, 3)").unwrap().path.clone().unwrap().states;
        assert_eq!(last(&packed).last(), Some(&(2, 3)));
        if strategy == Strategy::Bfs {
            assert_eq!(last(&plain), last(&packed), "the same shortest path");
        }
    }
}

/// A state whose serde form skips a field unpacks into another state; the explorer must not
/// go on exploring another graph.
#[derive(Clone, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
struct Lossy {
    a: u8,
    #[serde(skip)]
    b: u8,
}

struct Skips;

impl Model for Skips {
    type State = Lossy;
    type Action = ();

    fn init_states(&self) -> Vec<Lossy> {
        vec![Lossy { a: 0, b: 0 }]
    }

    fn actions(&self, s: &Lossy, actions: &mut Vec<()>) {
        if s.a < 3 {
            actions.push(());
        }
    }

    fn next_state(&self, s: &Lossy, _: ()) -> Option<Lossy> {
        Some(Lossy { a: s.a + 1, b: s.b + 1 })
    }
}

#[test]
fn a_state_that_does_not_unpack_to_itself_stops_the_run() {
    assert_eq!(Explorer::new(&Skips).run().unique, 4, "unpacked, the model is fine");
    let packed = std::panic::catch_unwind(|| Explorer::new(&Skips).packed().run());
    let message = packed.err().and_then(|e| e.downcast_ref::<String>().cloned()).expect("the packed run panics");
    assert!(message.contains("unpacked into another state"), "{message}");
}
