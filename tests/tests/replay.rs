//! Every trace stored under `traces/ordering/` replays on the model and on the `rcopy` roles;
//! a tampered trace does not, and a trace file that is not one is rejected with a clear error.

use rcopy_checks::replay;
use rcopy_checks::trace::{Trace, FORMAT_VERSION};
use rcopy_checks::Error;
use serde_json::Value;
use std::path::{Path, PathBuf};

fn trace_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../traces/ordering")
}

/// The content of an insta snapshot: everything after its header, i.e. after the second line
/// that is exactly `---`.
fn snapshot_body(text: &str) -> &str {
    let mut rest = text;
    for _ in 0..2 {
        let mut found = false;
        let mut offset = 0;
        for line in rest.split_inclusive('\n') {
            offset += line.len();
            if line.trim_end_matches(['\n', '\r']) == "---" {
                found = true;
                break;
            }
        }
        assert!(found, "not an insta snapshot: no header delimited by `---` lines");
        rest = &rest[offset..];
    }
    rest
}

/// Every stored trace, as (file name, trace).
fn stored_traces() -> Vec<(String, Trace)> {
    let dir = trace_dir();
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .map(|e| e.expect("a directory entry").path())
        .filter(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.ends_with(".json.snap")))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            let text = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("cannot read {}: {e}", p.display()));
            let trace = Trace::from_json(&name, snapshot_body(&text)).unwrap_or_else(|e| panic!("{name}: {e}"));
            (name, trace)
        })
        .collect()
}

/// One trace to tamper with: B1's.
fn sample() -> (String, Trace) {
    stored_traces().into_iter().find(|(n, _)| n == "B1.json.snap").expect("traces/ordering/B1.json.snap exists")
}

fn tampered(trace: &Trace, f: impl FnOnce(&mut Value)) -> Trace {
    let mut value = serde_json::to_value(trace).expect("traces serialise");
    f(&mut value);
    Trace::from_json("tampered", &value.to_string()).expect("a tampered trace still parses")
}

#[test]
fn every_stored_trace_replays_on_the_model_and_the_roles() {
    let traces = stored_traces();
    let mut failures = Vec::new();
    for (name, trace) in &traces {
        match replay::on_model(trace) {
            Ok(r) => {
                assert_eq!(r.steps + 1, trace.steps.len(), "{name}");
                assert_eq!(r.property, trace.property, "{name}");
            }
            Err(e) => failures.push(format!("{name}: on_model: {e}")),
        }
        match replay::on_roles(trace) {
            Ok(n) => assert_eq!(n + 1, trace.steps.len(), "{name}"),
            Err(e) => failures.push(format!("{name}: on_roles: {e}")),
        }
    }
    assert!(failures.is_empty(), "traces that do not replay:\n{}", failures.join("\n"));
    assert!(
        traces.len() >= 16,
        "only {} traces under {}: run the snapshots test first",
        traces.len(),
        trace_dir().display()
    );
}

#[test]
fn the_snapshot_header_is_stripped() {
    let body = snapshot_body("---\nsource: x.rs\n---\n{\"a\": 1}\n");
    assert_eq!(body, "{\"a\": 1}\n");
    let body = snapshot_body("---\r\nsource: x.rs\r\n---\r\n{}");
    assert_eq!(body, "{}");
}

#[test]
fn a_tampered_last_state_fails() {
    let (name, trace) = sample();
    assert!(replay::on_model(&trace).is_ok(), "{name} replays untouched");
    let bad = tampered(&trace, |v| {
        let last = v["steps"].as_array_mut().and_then(|s| s.last_mut()).expect("a trace has steps");
        let rds0 = last["state"]["receivers"][0].as_object_mut().expect("the last state has receiver 0");
        assert!(rds0.contains_key("limit"), "receiver 0 has a `limit` field: {rds0:?}");
        rds0.insert("limit".into(), serde_json::json!({ "time": 99, "lds": 0 }));
    });
    assert_ne!(bad, trace);
    let err = replay::on_model(&bad).expect_err("a tampered last state must not replay on the model");
    assert!(err.contains("other than the recorded one"), "{err}");
    let err = replay::on_roles(&bad).expect_err("a tampered last state must not replay on the roles");
    assert!(err.contains("receivers differ"), "{err}");
}

#[test]
fn a_trace_with_a_step_removed_fails() {
    // In every stored trace, remove each step between the initial and the last state in turn:
    // the action and the state it led to. What is left must not replay: the next action starts
    // from a state other than the one it was recorded in. (Removing the last step leaves a
    // consistent path; it fails only when the trace is minimal, its property first violated
    // in its last state, which the runner does not guarantee today.)
    for (name, trace) in stored_traces() {
        for k in 1..trace.steps.len() - 1 {
            let mut bad = trace.clone();
            let removed = bad.steps.remove(k);
            assert!(
                replay::on_model(&bad).is_err(),
                "{name} without step {k} ({}) still replays on the model",
                removed.label
            );
        }
    }
}

#[test]
fn a_trace_without_its_actions_is_rejected() {
    let (_, trace) = sample();
    let bad = tampered(&trace, |v| v["steps"][1]["action"] = Value::Null);
    let err = replay::on_model(&bad).expect_err("a step without an action");
    assert!(err.contains("has no action"), "{err}");
}

#[test]
fn another_format_version_is_rejected() {
    let (_, trace) = sample();
    let mut value = serde_json::to_value(&trace).unwrap();
    value["format_version"] = Value::from(999);
    match Trace::from_json("future.json", &value.to_string()) {
        Err(Error::TraceVersion { path, found, expected }) => {
            assert_eq!(path, "future.json");
            assert_eq!(found, 999);
            assert_eq!(expected, FORMAT_VERSION);
        }
        other => panic!("expected Error::TraceVersion, got {other:?}"),
    }
}

#[test]
fn garbage_is_rejected() {
    for text in ["this is not a trace", "", "{\"format_version\": 1}", "{\"steps\": []}", "[1, 2, 3]"] {
        match Trace::from_json("garbage.json", text) {
            Err(Error::BadTrace { path, reason }) => {
                assert_eq!(path, "garbage.json");
                assert!(!reason.is_empty());
            }
            other => panic!("{text:?}: expected Error::BadTrace, got {other:?}"),
        }
    }
}
