//! Every trace stored under `traces/<protocol>/` replays, as it is stored (insta header and
//! all), on the model and on the protocol's roles; a tampered trace does not, and a file that
//! is not a trace is rejected with a clear error.

use rcopy_checks::registry::{self, Registered};
use rcopy_checks::trace::{Trace, FORMAT_VERSION};
use rcopy_checks::{protocols, Error};
use serde_json::Value;
use std::path::{Path, PathBuf};

fn traces_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../traces")
}

/// Every stored trace, as (protocol, file name, trace), read as `rcopy-check replay` reads it.
fn stored_traces() -> Vec<(&'static dyn Registered, String, Trace)> {
    let mut out = Vec::new();
    for p in protocols::all() {
        let dir = traces_root().join(p.name());
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        let mut files: Vec<PathBuf> = entries
            .map(|e| e.expect("a directory entry").path())
            .filter(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.ends_with(".json.snap")))
            .collect();
        files.sort();
        for f in files {
            let name = format!("{}/{}", p.name(), f.file_name().unwrap().to_string_lossy());
            let trace = Trace::read(f.to_str().unwrap()).unwrap_or_else(|e| panic!("{name}: {e}"));
            out.push((p, name, trace));
        }
    }
    out
}

/// One trace to tamper with: ordering's B1.
fn sample() -> (&'static dyn Registered, Trace) {
    stored_traces()
        .into_iter()
        .find(|(_, n, _)| n == "ordering/B1.json.snap")
        .map(|(p, _, t)| (p, t))
        .expect("traces/ordering/B1.json.snap exists")
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
    for (p, name, trace) in &traces {
        match p.replay_on_model(trace) {
            Ok(r) => {
                assert_eq!(r.steps, trace.len(), "{name}");
                assert_eq!(r.property, trace.property, "{name}");
            }
            Err(e) => failures.push(format!("{name}: on the model: {e}")),
        }
        match p.replay_on_roles(trace) {
            Ok(n) => assert_eq!(n, trace.len(), "{name}"),
            Err(e) => failures.push(format!("{name}: on the roles: {e}")),
        }
        assert_eq!(registry::find(&trace.protocol).map(|q| q.name()).ok(), Some(p.name()), "{name}");
    }
    assert!(failures.is_empty(), "traces that do not replay:\n{}", failures.join("\n"));
    let ordering = traces.iter().filter(|(p, _, _)| p.name() == "ordering").count();
    assert!(ordering >= 20, "only {ordering} ordering traces under {}: run `make traces`", traces_root().display());
}

#[test]
fn a_tampered_last_state_fails() {
    let (p, trace) = sample();
    assert!(p.replay_on_model(&trace).is_ok(), "B1 replays untouched");
    let bad = tampered(&trace, |v| {
        let last = v["steps"].as_array_mut().and_then(|s| s.last_mut()).expect("a trace has steps");
        let rds0 = last["state"]["roles"]["receivers"][0].as_object_mut().expect("the last state has receiver 0");
        assert!(rds0.contains_key("limit"), "receiver 0 has a `limit` field: {rds0:?}");
        rds0.insert("limit".into(), serde_json::json!({ "time": 99, "lds": 0 }));
    });
    assert_ne!(bad, trace);
    let err = p.replay_on_model(&bad).expect_err("a tampered last state must not replay on the model");
    assert!(err.contains("other than the recorded one"), "{err}");
    let err = p.replay_on_roles(&bad).expect_err("a tampered last state must not replay on the roles");
    assert!(err.contains("receivers differ"), "{err}");
}

#[test]
fn a_trace_with_a_step_removed_fails() {
    // In every stored trace, remove each step between the initial and the last state in turn:
    // the action and the state it led to. What is left must not replay: the next action starts
    // from a state other than the one it was recorded in.
    for (p, name, trace) in stored_traces() {
        for k in 1..trace.steps.len() - 1 {
            let mut bad = trace.clone();
            let removed = bad.steps.remove(k);
            assert!(
                p.replay_on_model(&bad).is_err(),
                "{name} without step {k} ({}) still replays on the model",
                removed.label
            );
        }
    }
}

#[test]
fn a_forged_action_is_an_error_not_a_panic() {
    // An action naming a system that does not exist: replay and rendering say so.
    let (p, trace) = sample();
    let bad = tampered(&trace, |v| v["steps"][1]["action"] = serde_json::json!({ "Destage": { "rds": 9 } }));
    assert!(p.replay_on_model(&bad).unwrap_err().contains("not enabled"));
    let err = p.replay_on_roles(&bad).unwrap_err();
    assert!(err.contains("RDS9"), "{err}");
    let bad = tampered(&trace, |v| {
        v["steps"][1]["state"]["roles"]["receivers"] = serde_json::json!([]);
        v["steps"][2]["action"] = serde_json::json!({ "Report": { "rds": 7 } });
    });
    assert!(p.replay_on_model(&bad).is_err());
    assert!(p.replay_on_roles(&bad).is_err());
    for f in rcopy_checks::render::Format::NAMES {
        let _ = p.render(&bad, rcopy_checks::render::Format::from_name(f).unwrap());
    }
}

#[test]
fn a_trace_of_another_protocol_or_format_is_refused() {
    let (p, trace) = sample();
    let mut other = trace.clone();
    other.protocol = "journal".into();
    assert!(p.replay_on_model(&other).unwrap_err().contains("not `ordering`"));
    let mut value = serde_json::to_value(&trace).unwrap();
    value["format_version"] = Value::from(999);
    match Trace::from_json("future.json", &value.to_string()) {
        Err(Error::TraceVersion { path, found, expected }) => {
            assert_eq!((path.as_str(), found, expected), ("future.json", 999, FORMAT_VERSION));
        }
        other => panic!("expected Error::TraceVersion, got {other:?}"),
    }
}

#[test]
fn garbage_is_rejected() {
    for text in ["this is not a trace", "", "{\"format_version\": 2}", "{\"steps\": []}", "[1, 2, 3]"] {
        match Trace::from_json("garbage.json", text) {
            Err(Error::BadTrace { path, reason }) => {
                assert_eq!(path, "garbage.json");
                assert!(!reason.is_empty());
            }
            other => panic!("{text:?}: expected Error::BadTrace, got {other:?}"),
        }
    }
}
