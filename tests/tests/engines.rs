//! rcopy's explorer against stateright's checkers on every check of the tiny tier, each run
//! to the end (expectations cleared, so that neither stops at its first counterexample): the
//! same unique states, the same verdict for every property.

use rcopy_checks::registry;
use rcopy_checks::runner::{Engine, Options};
use rcopy_checks::{Check, Tier};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

fn exhaustive(check: &Check, engine: Engine) -> rcopy_checks::Outcome {
    let mut c = check.clone();
    c.expect.clear();
    let opts = Options { engine, ..Options::default() };
    let o = registry::find(&c.protocol).and_then(|p| p.run(&c, &opts)).unwrap_or_else(|e| panic!("{}: {e}", c.name()));
    assert!(o.exhaustive, "{} with {}: {}", c.name(), engine.name(), o.ended.describe());
    o
}

#[test]
fn both_engines_agree_on_every_tiny_check() {
    let checks = registry::all(Tier::Tiny);
    let next = AtomicUsize::new(0);
    let differences = Mutex::new(Vec::new());
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get()).min(checks.len());
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| {
                while let Some(check) = checks.get(next.fetch_add(1, Ordering::Relaxed)) {
                    let ours = exhaustive(check, Engine::Rcopy);
                    let theirs = exhaustive(check, Engine::Stateright);
                    let mut d = Vec::new();
                    if ours.unique != theirs.unique {
                        d.push(format!("unique states {} (rcopy) and {} (stateright)", ours.unique, theirs.unique));
                    }
                    for (a, b) in ours.properties.iter().zip(&theirs.properties) {
                        assert_eq!(a.property, b.property);
                        if a.verdict != b.verdict {
                            d.push(format!(
                                "`{}` {} (rcopy) and {} (stateright)",
                                a.property,
                                a.verdict.name(),
                                b.verdict.name()
                            ));
                        }
                    }
                    if !d.is_empty() {
                        differences.lock().unwrap().push(format!("{}: {}", check.name(), d.join("; ")));
                    }
                }
            });
        }
    });
    let differences = differences.into_inner().unwrap();
    assert!(differences.is_empty(), "the engines disagree:\n{}", differences.join("\n"));
}
