//! The shortest counterexample of every seeded fault, and of the faithful text's gaps, as
//! snapshots under `traces/ordering/`: `<NAME>.snap` is the readable text followed by a Mermaid
//! sequence diagram (it renders in code review), `<NAME>.json.snap` is the trace file that
//! `replay.rs` re-runs. BFS with one thread is deterministic, so the snapshots are stable.
//!
//! Regenerate with `INSTA_UPDATE=always cargo test -p rcopy-tests --test snapshots`.

use rcopy::ordering::{Fault, Variant};
use rcopy_checks::registry::{self, Check, Tier};
use rcopy_checks::render;
use rcopy_checks::replay;
use rcopy_checks::runner::{self, Options};
use rcopy_checks::trace::Trace;
use rcopy_model::ordering::Mode;

/// Run `check` and take its trace of `property`, which must be a fresh, replayable one.
fn trace_of(check: &Check, property: &str) -> Trace {
    let outcome = runner::run(check, &Options::default());
    assert!(outcome.as_expected(), "{}: {:?}", check.name(), outcome.mismatches());
    let trace = outcome.trace(property).unwrap_or_else(|| panic!("{}: no trace of `{property}`", check.name())).clone();
    replay::on_model(&trace)
        .unwrap_or_else(|e| panic!("{}: the trace does not replay on the model: {e}", check.name()));
    replay::on_roles(&trace)
        .unwrap_or_else(|e| panic!("{}: the trace does not replay on the roles: {e}", check.name()));
    trace
}

/// Assert the two snapshots of a trace: `<name>` (text and Mermaid) and `<name>.json`.
fn snapshot(name: &str, trace: &Trace) {
    let text = render::text(trace).unwrap_or_else(|e| panic!("{name}: render::text: {e}"));
    let mermaid = render::mermaid(trace).unwrap_or_else(|e| panic!("{name}: render::mermaid: {e}"));
    let readable = format!("{text}\n```mermaid\n{mermaid}```\n");
    let json = trace.to_json();
    insta::with_settings!({
        snapshot_path => "../../traces/ordering",
        prepend_module_to_snapshot => false,
        omit_expression => true,
    }, {
        insta::assert_snapshot!(name.to_string(), readable);
        insta::assert_snapshot!(format!("{name}.json"), json);
    });
}

fn fault_check(fault: Fault) -> Check {
    registry::all(Tier::Tiny)
        .into_iter()
        .find(|c| c.faults == [fault])
        .unwrap_or_else(|| panic!("the tiny tier has no check of fault {}", fault.name()))
}

fn fault_snapshot(fault: Fault) {
    let check = fault_check(fault);
    let (target, _) = registry::target(fault);
    let trace = trace_of(&check, target);
    assert_eq!(trace.faults, [fault]);
    assert_eq!(trace.property, target);
    snapshot(fault.name(), &trace);
}

/// One `#[test]` per seeded fault; `COVERED` lists them for `every_fault_has_a_snapshot_test`.
macro_rules! per_fault {
    ($($name:ident => $fault:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                fault_snapshot(Fault::$fault);
            }
        )*
        const COVERED: &[Fault] = &[$(Fault::$fault),*];
    };
}

per_fault! {
    b1 => B1,
    b2 => B2,
    b3 => B3,
    b4 => B4,
    b5 => B5,
    b6 => B6,
    b7 => B7,
    b8 => B8,
    b9 => B9,
    b10 => B10,
    b11 => B11,
    b12 => B12,
    b13 => B13,
    b14 => B14,
    b16 => B16,
}

#[test]
fn every_fault_has_a_snapshot_test() {
    assert_eq!(COVERED, Fault::ALL.as_slice());
}

/// Gap B15 of the faithful text: no heartbeat, so the limit is pinned by an idle stream.
#[test]
fn b15_faithful_liveness() {
    let check = registry::all(Tier::Tiny)
        .into_iter()
        .find(|c| {
            c.config == "tiny" && c.variant == Variant::Faithful && c.faults.is_empty() && c.mode == Mode::Liveness
        })
        .expect("the tiny tier has a faithful liveness check");
    let trace = trace_of(&check, "L1 every write destaged");
    snapshot("B15", &trace);
}

/// The faithful text stores a duplicate at step 800 (standard tier: the network duplicates).
#[test]
fn faithful_duplicate() {
    let check = registry::all(Tier::Standard)
        .into_iter()
        .find(|c| {
            c.config == "standard" && c.variant == Variant::Faithful && c.faults.is_empty() && c.mode == Mode::Safety
        })
        .expect("the standard tier has a faithful safety check");
    let trace = trace_of(&check, "S10 remote cache uniqueness");
    snapshot("faithful-duplicate", &trace);
}
