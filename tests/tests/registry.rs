//! Every registered check of the tiny tier runs and meets its expectations, and every
//! protocol's registry has the shape the engine asks of it: one hunting check per seeded fault,
//! every `always` and `eventually` property shown to fail somewhere, expectations that name
//! properties the model has; and a model in which nothing happens does not pass.

use rcopy_checks::explorer::Verdict;
use rcopy_checks::registry::{self, Registered};
use rcopy_checks::runner::{Mismatch, Options, Outcome};
use rcopy_checks::{protocols, summary, Check, Expect, Kind, Tier};
use std::collections::BTreeSet;

mod common;

fn run(check: &Check) -> Outcome {
    registry::find(&check.protocol)
        .and_then(|p| p.run(check, &Options::default()))
        .unwrap_or_else(|e| panic!("{}: {e}", check.name()))
}

/// Every check of the tiny tier, every protocol's, run on as many threads as the machine has:
/// each must meet its expectations. A failure names every check that did not.
#[test]
fn every_tiny_check_is_as_expected() {
    let checks = registry::all(Tier::Tiny);
    assert!(!checks.is_empty());
    let names: BTreeSet<String> = checks.iter().map(Check::name).collect();
    assert_eq!(names.len(), checks.len(), "two checks share a name: {names:?}");
    let failures = common::each_in_parallel(&checks, |check| {
        let o = run(check);
        (!o.as_expected()).then(|| {
            let why: Vec<String> = o.mismatches().iter().map(|m| m.to_string()).collect();
            format!("{} ({}): {}", check.name(), check.why, why.join("; "))
        })
    });
    assert!(failures.is_empty(), "checks not as expected:\n{}", failures.join("\n"));
}

fn each_protocol(f: impl Fn(&dyn Registered)) {
    for p in protocols::all() {
        f(p);
    }
}

#[test]
fn each_fault_has_exactly_one_hunting_check_per_tier() {
    each_protocol(|p| {
        for tier in Tier::ALL {
            for fault in p.faults() {
                let checks: Vec<Check> = p.checks(tier).into_iter().filter(|c| c.faults == [fault.name]).collect();
                let hunting: Vec<&Check> = checks.iter().filter(|c| c.hunts()).collect();
                assert_eq!(
                    hunting.len(),
                    1,
                    "{} {tier:?} tier: fault {} has {} checks expecting only violations: {:?}",
                    p.name(),
                    fault.name,
                    hunting.len(),
                    hunting.iter().map(|c| c.name()).collect::<Vec<_>>()
                );
                let expected: Vec<(String, Expect)> =
                    fault.breaks.iter().map(|t| (t.to_string(), Expect::Violated)).collect();
                assert_eq!(
                    hunting[0].expect,
                    expected,
                    "{}: it must expect exactly its targets violated",
                    hunting[0].name()
                );
            }
        }
    });
}

#[test]
fn every_fault_check_switches_on_one_fault() {
    for tier in Tier::ALL {
        for c in registry::all(tier) {
            assert!(c.faults.len() <= 1, "{}: faults are seeded one at a time", c.name());
        }
    }
}

#[test]
fn expectations_name_properties_of_the_model_and_verdicts_they_can_reach() {
    each_protocol(|p| {
        let listed: Vec<&str> = p.properties().iter().map(|x| x.name).collect();
        for tier in Tier::ALL {
            for c in p.checks(tier) {
                let props = p.check_properties(&c).unwrap_or_else(|e| panic!("{}: {e}", c.name()));
                for (name, _) in &props {
                    assert!(listed.contains(name), "{}: the model's `{name}` is not in the protocol's list", c.name());
                }
                for (name, e) in &c.expect {
                    let (_, kind) = props
                        .iter()
                        .find(|(n, _)| n == name)
                        .unwrap_or_else(|| panic!("{}: expects `{name}`, which its model does not have", c.name()));
                    assert!(summary::expectable(*kind, *e), "{}: `{name}` ({kind:?}) cannot be {e:?}", c.name());
                }
            }
        }
    });
}

#[test]
fn every_property_is_expected_violated_by_some_tiny_check() {
    each_protocol(|p| {
        let targeted: BTreeSet<String> = p
            .checks(Tier::Tiny)
            .iter()
            .flat_map(|c| c.expect.iter().filter(|(_, e)| *e == Expect::Violated).map(|(n, _)| n.clone()))
            .collect();
        let untargeted: Vec<&str> = p
            .properties()
            .iter()
            .filter(|x| x.kind != Kind::Example && !targeted.contains(x.name))
            .map(|x| x.name)
            .collect();
        assert!(
            untargeted.is_empty(),
            "{}: no check of the tiny tier expects these violated (every property must be shown to fail): {untargeted:?}",
            p.name()
        );
    });
}

/// The runs agree with the expectations: each `always`/`eventually` property is found
/// violated, with a trace, by at least one of the tiny tier's hunting checks.
#[test]
fn every_property_is_observed_violated_in_the_tiny_tier() {
    each_protocol(|p| {
        let mut violated = BTreeSet::new();
        for check in p.checks(Tier::Tiny).iter().filter(|c| c.hunts()) {
            let outcome = run(check);
            assert!(outcome.as_expected(), "{}: {:?}", check.name(), outcome.mismatches());
            for r in &outcome.properties {
                if r.verdict == Verdict::Violated {
                    violated.insert(r.property.clone());
                    assert!(
                        outcome.trace(&r.property).is_some(),
                        "{}: `{}` violated without a trace",
                        check.name(),
                        r.property
                    );
                }
            }
        }
        let never: Vec<&str> = p
            .properties()
            .iter()
            .filter(|x| x.kind != Kind::Example && !violated.contains(x.name))
            .map(|x| x.name)
            .collect();
        assert!(never.is_empty(), "{}: never violated in the tiny tier: {never:?}", p.name());
    });
}

/// A model in which nothing happens does not pass: with no host writes, the hardened check
/// that expects every property to hold finds them all holding, yet fails, because the actions
/// that matter never fire.
#[test]
fn a_world_where_nothing_happens_fails_its_check() {
    let mut check = registry::all(Tier::Tiny)
        .into_iter()
        .find(|c| c.protocol == "ordering" && c.config == "tiny" && c.variant == "hardened" && c.faults.is_empty())
        .expect("a hardened safety check");
    check.sets = vec!["writes=0".into()];
    let o = run(&check);
    assert!(o.exhaustive);
    assert!(!o.as_expected(), "a world without writes passed: {:?}", o.properties);
    let never: Vec<Mismatch> = o.mismatches().into_iter().filter(|m| matches!(m, Mismatch::NeverFired(_))).collect();
    assert!(never.contains(&Mismatch::NeverFired("write".into())), "{never:?}");
    assert!(never.contains(&Mismatch::NeverFired("destage".into())), "{never:?}");
}

/// Ordering: the hardened protocol is expected to keep every safety and liveness property, in
/// both tiers; every liveness property is expected violated by some check (a seeded fault, a
/// gap of the text, or a crashed slave).
#[test]
fn ordering_hardened_checks_expect_every_property_to_hold() {
    let p = registry::find("ordering").expect("ordering is registered");
    let judged: Vec<&str> = p.properties().iter().filter(|x| x.kind != Kind::Example).map(|x| x.name).collect();
    assert_eq!(judged.len(), 16, "S1-S12 and L1-L4: {judged:?}");
    for tier in Tier::ALL {
        let hardened: Vec<Check> = p
            .checks(tier)
            .into_iter()
            .filter(|c| c.variant == "hardened" && c.faults.is_empty() && c.config == tier.name())
            .collect();
        assert_eq!(hardened.len(), 1, "{tier:?}: one hardened check of the tier's own world");
        for name in &judged {
            assert!(
                hardened[0].expect.contains(&(name.to_string(), Expect::Holds)),
                "{}: `{name}` is not expected to hold",
                hardened[0].name()
            );
        }
    }
}
