//! rcopy's explorer against stateright's checkers on every check of the tiny tier, each run
//! to the end (expectations cleared, so that neither stops at its first counterexample): the
//! same unique states, the same verdict for every property stateright can judge (it knows no
//! obligations, and no fairness).

use rcopy_checks::registry;
use rcopy_checks::runner::{Engine, Options};
use rcopy_checks::{Check, Tier};

mod common;

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
    let differences = common::each_in_parallel(&checks, |check| {
        let ours = exhaustive(check, Engine::Rcopy);
        let theirs = exhaustive(check, Engine::Stateright);
        let mut d = Vec::new();
        if ours.unique != theirs.unique {
            d.push(format!("unique states {} (rcopy) and {} (stateright)", ours.unique, theirs.unique));
        }
        for (a, b) in ours.properties.iter().zip(&theirs.properties) {
            assert_eq!(a.property, b.property);
            // stateright judges no obligations (it reports them unknown).
            let stateright_judges =
                !(a.kind == rcopy_checks::Kind::Liveness && b.verdict == rcopy_checks::explorer::Verdict::Unknown);
            if stateright_judges && a.verdict != b.verdict {
                d.push(format!("`{}` {} (rcopy) and {} (stateright)", a.property, a.verdict.name(), b.verdict.name()));
            }
        }
        (!d.is_empty()).then(|| format!("{}: {}", check.name(), d.join("; ")))
    });
    assert!(differences.is_empty(), "the engines disagree:\n{}", differences.join("\n"));
}
