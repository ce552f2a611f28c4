//! The reviewed traces: for every protocol, the shortest counterexample of each seeded fault
//! (its headline property, from its tiny-tier check, and each liveness property it breaks
//! besides: `<fault>-<property>`) and of each gap of the text, as insta
//! snapshots under `traces/<protocol>/`: `<NAME>.snap` is the readable text followed by a
//! Mermaid sequence diagram (it renders in code review), `<NAME>.json.snap` is the trace file
//! that `replay.rs` re-runs and `rcopy-check replay` reads as it is. Breadth-first search on
//! one thread is deterministic, so the snapshots are stable.
//!
//! Regenerate with `make traces` (`INSTA_UPDATE=always cargo test -p rcopy-tests --test
//! snapshots`), then read the diff.

use rcopy_checks::registry::{self, Registered};
use rcopy_checks::runner::Options;
use rcopy_checks::trace::Trace;
use rcopy_checks::{protocols, render::Format, Check, Kind, Tier};

/// Run `check` and take its trace of `property`, which must be a fresh, replayable one.
fn trace_of(p: &dyn Registered, check: &Check, property: &str) -> Trace {
    let outcome = p.run(check, &Options::default()).unwrap_or_else(|e| panic!("{}: {e}", check.name()));
    assert!(outcome.as_expected(), "{}: {:?}", check.name(), outcome.mismatches());
    let trace = outcome.trace(property).unwrap_or_else(|| panic!("{}: no trace of `{property}`", check.name())).clone();
    p.replay_on_model(&trace)
        .unwrap_or_else(|e| panic!("{}: the trace does not replay on the model: {e}", check.name()));
    p.replay_on_roles(&trace)
        .unwrap_or_else(|e| panic!("{}: the trace does not replay on the roles: {e}", check.name()));
    trace
}

/// Assert the two snapshots of a trace: `<name>` (text and Mermaid) and `<name>.json`.
fn snapshot(p: &dyn Registered, name: &str, trace: &Trace) {
    let text = p.render(trace, Format::Text).unwrap_or_else(|e| panic!("{name}: text: {e}"));
    let mermaid = p.render(trace, Format::Mermaid).unwrap_or_else(|e| panic!("{name}: mermaid: {e}"));
    let readable = format!("{text}\n```mermaid\n{mermaid}```\n");
    insta::with_settings!({
        snapshot_path => format!("../../traces/{}", p.name()),
        prepend_module_to_snapshot => false,
        omit_expression => true,
    }, {
        insta::assert_snapshot!(name.to_string(), readable);
        insta::assert_snapshot!(format!("{name}.json"), trace.to_json());
    });
}

#[test]
fn every_seeded_fault_has_its_reviewed_trace() {
    for p in protocols::all() {
        for fault in p.faults() {
            let check = p
                .checks(Tier::Tiny)
                .into_iter()
                .find(|c| c.faults == [fault.name] && c.hunts())
                .unwrap_or_else(|| panic!("{}: the tiny tier has no check of fault {}", p.name(), fault.name));
            let headline = fault.breaks[0];
            let trace = trace_of(p, &check, headline);
            assert_eq!(trace.faults, [fault.name]);
            assert_eq!(trace.property, headline);
            snapshot(p, fault.name, &trace);
            // A liveness property it breaks besides its headline keeps its lasso too.
            let kinds = p.check_properties(&check).expect("the check makes a model");
            for prop in &fault.breaks[1..] {
                if kinds.iter().any(|(n, k)| n == prop && *k == Kind::Liveness) {
                    let short = prop.split(' ').next().unwrap_or(prop);
                    snapshot(p, &format!("{}-{short}", fault.name), &trace_of(p, &check, prop));
                }
            }
        }
    }
}

#[test]
fn every_gap_of_the_text_has_its_reviewed_trace() {
    for p in protocols::all() {
        for gap in p.gaps() {
            let check = registry::all(gap.tier).into_iter().find(|c| c.name() == gap.check).unwrap_or_else(|| {
                panic!("{}: gap {}: no check {} in the {:?} tier", p.name(), gap.name, gap.check, gap.tier)
            });
            assert!(check.faults.is_empty(), "{}: a gap of the text has no seeded fault", gap.name);
            let trace = trace_of(p, &check, gap.property);
            snapshot(p, gap.name, &trace);
        }
    }
}
