//! Every registered check of the tiny tier runs and meets its expectations, and the registry
//! itself has the shape the note asks for: one hunting check per seeded fault, every `always`
//! and `eventually` property shown to fail somewhere, the hardened protocol expected to hold.

use rcopy::ordering::{Fault, Variant};
use rcopy_checks::registry::{self, Check, Expect, Tier};
use rcopy_checks::runner::{self, Options, Outcome, Verdict};
use rcopy_model::ordering::{properties, Mode};
use stateright::Expectation;
use std::collections::BTreeSet;

/// Run check `index` of the tiny tier and assert it is as expected.
fn run_tiny(index: usize) -> Outcome {
    let checks = registry::all(Tier::Tiny);
    let check =
        checks.get(index).unwrap_or_else(|| panic!("the tiny tier has no check {index} (it has {})", checks.len()));
    let outcome = runner::run(check, &Options::default());
    assert!(
        outcome.as_expected(),
        "check {} ({}) is not as expected: mismatches (property, expected, found) {:?}",
        check.name(),
        check.why,
        outcome.mismatches()
    );
    outcome
}

/// One `#[test]` per check of the tiny tier, so that the harness runs them in parallel and a
/// failure names its check. `TESTED` is how many there are; `the_tests_cover_the_tiny_tier`
/// fails when the registry grows and this list does not.
macro_rules! per_check {
    ($($name:ident => $index:expr),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                run_tiny($index);
            }
        )*
        const TESTED: &[usize] = &[$($index),*];
    };
}

per_check! {
    check_00 => 0,
    check_01 => 1,
    check_02 => 2,
    check_03 => 3,
    check_04 => 4,
    check_05 => 5,
    check_06 => 6,
    check_07 => 7,
    check_08 => 8,
    check_09 => 9,
    check_10 => 10,
    check_11 => 11,
    check_12 => 12,
    check_13 => 13,
    check_14 => 14,
    check_15 => 15,
    check_16 => 16,
    check_17 => 17,
    check_18 => 18,
    check_19 => 19,
    check_20 => 20,
    check_21 => 21,
}

#[test]
fn the_tests_cover_the_tiny_tier() {
    let checks = registry::all(Tier::Tiny);
    let tested: BTreeSet<usize> = TESTED.iter().copied().collect();
    assert_eq!(tested.len(), TESTED.len(), "an index is tested twice");
    assert_eq!(
        tested,
        (0..checks.len()).collect(),
        "add a `check_NN => NN` line per check: the tiny tier has {} checks",
        checks.len()
    );
    let names: BTreeSet<String> = checks.iter().map(Check::name).collect();
    assert_eq!(names.len(), checks.len(), "two checks share a name: {names:?}");
}

fn fault_checks(tier: Tier, fault: Fault) -> Vec<Check> {
    registry::all(tier).into_iter().filter(|c| c.faults.contains(&fault)).collect()
}

/// The `always` and `eventually` properties of the model (the liveness mode has them all).
fn judged_properties() -> Vec<&'static str> {
    properties::all(Mode::Liveness)
        .into_iter()
        .filter(|p| !matches!(p.expectation, Expectation::Sometimes))
        .map(|p| p.name)
        .collect()
}

#[test]
fn each_fault_has_exactly_one_hunting_check_per_tier() {
    for tier in [Tier::Tiny, Tier::Standard] {
        for fault in Fault::ALL {
            let checks = fault_checks(tier, fault);
            let hunting: Vec<&Check> = checks.iter().filter(|c| c.hunts()).collect();
            assert_eq!(
                hunting.len(),
                1,
                "{tier:?} tier: fault {} has {} checks expecting only violations: {:?}",
                fault.name(),
                hunting.len(),
                hunting.iter().map(|c| c.name()).collect::<Vec<_>>()
            );
            let check = hunting[0];
            let (targets, _) = registry::targets(fault);
            let (headline, _) = registry::target(fault);
            assert_eq!(targets.first(), Some(&headline), "{}", fault.name());
            let expected: Vec<(String, Expect)> = targets.iter().map(|t| (t.to_string(), Expect::Violated)).collect();
            assert_eq!(check.expect, expected, "{}: it must expect exactly its targets violated", check.name());
            let target = headline;
            let mode = if target.starts_with('L') { Mode::Liveness } else { Mode::Safety };
            assert_eq!(check.mode, mode, "{}: a target `{target}` needs mode {mode:?}", check.name());
        }
    }
}

#[test]
fn every_fault_check_switches_on_one_fault() {
    for tier in [Tier::Tiny, Tier::Standard] {
        for c in registry::all(tier) {
            assert!(c.faults.len() <= 1, "{}: faults are seeded one at a time", c.name());
        }
    }
}

#[test]
fn every_property_is_expected_violated_by_some_tiny_check() {
    let checks = registry::all(Tier::Tiny);
    let targeted: BTreeSet<&str> = checks
        .iter()
        .flat_map(|c| c.expect.iter().filter(|(_, e)| *e == Expect::Violated).map(|(n, _)| n.as_str()))
        .collect();
    let props = judged_properties();
    for p in &props {
        assert!(
            p.starts_with('S') || p.starts_with('L'),
            "`{p}`: an always/eventually property's name starts with S or L"
        );
    }
    let untargeted: Vec<&str> = props.iter().copied().filter(|p| !targeted.contains(p)).collect();
    assert!(
        untargeted.is_empty(),
        "no check of the tiny tier expects these violated (every property must be shown to fail): {untargeted:?}"
    );
    for t in &targeted {
        assert!(props.contains(t), "an expectation names `{t}`, which the model does not have");
    }
}

/// The runs agree with the expectations: each `always`/`eventually` property is found
/// violated, with a trace, by at least one of the tiny tier's hunting checks.
#[test]
fn every_property_is_observed_violated_in_the_tiny_tier() {
    let mut violated = BTreeSet::new();
    for check in registry::all(Tier::Tiny).iter().filter(|c| c.hunts()) {
        let outcome = runner::run(check, &Options::default());
        assert!(outcome.as_expected(), "{}: {:?}", check.name(), outcome.mismatches());
        for (n, v) in &outcome.verdicts {
            if *v == Verdict::Violated {
                violated.insert(n.clone());
                assert!(outcome.trace(n).is_some(), "{}: `{n}` violated without a trace", check.name());
            }
        }
    }
    let never: Vec<&str> = judged_properties().into_iter().filter(|p| !violated.contains(*p)).collect();
    assert!(never.is_empty(), "never violated in the tiny tier: {never:?}");
}

#[test]
fn hardened_checks_expect_every_safety_property_to_hold() {
    let safety: Vec<&str> = judged_properties().into_iter().filter(|p| p.starts_with('S')).collect();
    assert_eq!(safety.len(), 12, "S1-S12: {safety:?}");
    for tier in [Tier::Tiny, Tier::Standard] {
        let hardened: Vec<Check> =
            registry::all(tier).into_iter().filter(|c| c.variant == Variant::Hardened && c.faults.is_empty()).collect();
        for mode in Mode::ALL {
            assert!(hardened.iter().any(|c| c.mode == mode), "{tier:?}: no hardened check in {mode:?} mode");
        }
        for c in &hardened {
            for p in &safety {
                assert!(
                    c.expect.contains(&(p.to_string(), Expect::Holds)),
                    "{}: `{p}` is not expected to hold: {:?}",
                    c.name(),
                    c.expect
                );
            }
            // Nothing is expected violated.
            assert!(c.expect.iter().all(|(_, e)| *e != Expect::Violated), "{}", c.name());
            if c.mode == Mode::Liveness {
                assert!(c.expect.contains(&("L1 every write destaged".into(), Expect::Holds)), "{}", c.name());
            }
        }
    }
}
