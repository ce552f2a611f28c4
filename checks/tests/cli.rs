//! The `rcopy-check` binary as a user meets it: exit codes, messages, and no panic on bad input.

use std::process::{Command, Output};

fn rcopy_check(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rcopy-check")).args(args).output().expect("the binary runs")
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

fn tmp(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("rcopy-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

/// Exit 2, a message naming the problem, and no panic.
fn rejects(args: &[&str], says: &str) {
    let o = rcopy_check(args);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(2), "{args:?} should exit 2:\n{t}");
    assert!(t.contains(says), "{args:?} should say {says:?}:\n{t}");
    assert!(!t.contains("panicked"), "{args:?} panicked:\n{t}");
}

#[test]
fn unknown_names_list_the_valid_ones() {
    rejects(&["check", "paxos"], "valid: ordering");
    rejects(&["check", "--config", "huge"], "valid: single, fanin, grouped, tiny, standard, large");
    rejects(&["check", "--variant", "sloppy"], "valid: faithful, hardened");
    rejects(&["check", "--fault", "B99"], "B16");
    rejects(&["check", "--fault", "B15"], "unknown fault `B15`");
    rejects(&["check", "--mode", "fast"], "valid: safety, liveness");
    rejects(&["check", "--tier", "huge"], "valid: tiny, standard");
    rejects(&["trace", "--config", "tiny", "--fault", "B1", "--property", "S99"], "unknown property");
    rejects(&["trace", "--config", "tiny", "--fault", "B1", "--format", "png"], "valid: json, text, mermaid, dot");
}

#[test]
fn nonsensical_options_are_refused() {
    rejects(&["check", "--threads", "0"], "--threads must be at least 1");
    rejects(&["check", "--strategy", "bfs", "--seed", "3"], "--seed applies only");
    rejects(&["check", "--strategy", "magic"], "unknown strategy");
    rejects(&["check", "--fault", "B1", "--fault", "b1"], "given twice");
    rejects(&["check", "--timeout", "0"], "must be positive");
    rejects(&["trace", "--config", "tiny"], "choose one");
    rejects(&["check", "--threads", "lots"], "invalid value");
    rejects(&["frobnicate"], "unrecognized subcommand");
}

#[test]
fn bad_trace_files_are_refused() {
    let missing = tmp("missing.json");
    rejects(&["replay", missing.to_str().unwrap()], "cannot read");
    let garbage = tmp("garbage.json");
    std::fs::write(&garbage, "this is not json").unwrap();
    rejects(&["replay", garbage.to_str().unwrap()], "is not a trace file");
    let old = tmp("old.json");
    std::fs::write(&old, r#"{"format_version": 999, "steps": []}"#).unwrap();
    rejects(&["replay", old.to_str().unwrap()], "format version 999");
    let empty = tmp("empty.json");
    std::fs::write(&empty, r#"{"format_version": 2}"#).unwrap();
    rejects(&["render", empty.to_str().unwrap()], "is not a trace file");
    let v1 = tmp("v1.json");
    std::fs::write(&v1, r#"{"format_version": 1, "protocol": "ordering", "config": "tiny"}"#).unwrap();
    rejects(&["render", v1.to_str().unwrap()], "written by an older rcopy");
}

#[test]
fn a_seeded_fault_check_passes_when_its_counterexample_is_found() {
    let o = rcopy_check(&["check", "--config", "tiny", "--fault", "B8", "-q"]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(0), "{t}");
    assert!(t.contains("ordering/tiny/hardened/safety+B8"), "{t}");
    assert!(t.contains("VIOLATED S1"), "{t}");
    assert!(t.contains("every verdict as expected"), "{t}");
}

#[test]
fn an_ad_hoc_check_reports_without_judging() {
    let o = rcopy_check(&["check", "--config", "single", "--variant", "hardened", "--mode", "safety", "-q"]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(0), "{t}");
    assert!(t.contains("no expect"), "{t}");
    assert!(t.contains("holds S1"), "{t}");
}

#[test]
fn a_trace_written_by_the_cli_replays_and_renders() {
    let file = tmp("b1.json");
    let f = file.to_str().unwrap();
    let o = rcopy_check(&["trace", "--config", "tiny", "--fault", "B1", "-o", f]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let o = rcopy_check(&["replay", f]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(0), "{t}");
    assert!(t.contains("reproduced"), "{t}");
    for (format, marker) in
        [("text", "S3 frontier soundness"), ("mermaid", "sequenceDiagram"), ("dot", "digraph trace")]
    {
        let o = rcopy_check(&["render", f, "--format", format]);
        assert_eq!(o.status.code(), Some(0), "{}", text(&o));
        assert!(text(&o).contains(marker), "{format}: {}", text(&o));
    }
    // A trace whose recorded verdict the model does not reproduce: exit 1, not 0 or 2.
    let json = std::fs::read_to_string(&file).unwrap();
    let mut v: serde_json::Value = serde_json::from_str(&json).unwrap();
    v["property"] = serde_json::Value::String("S12 real-order fidelity".into());
    let wrong = tmp("wrong.json");
    std::fs::write(&wrong, v.to_string()).unwrap();
    let o = rcopy_check(&["replay", wrong.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("NOT reproduced"), "{}", text(&o));
}

#[test]
fn list_names_every_fault_and_property() {
    let o = rcopy_check(&["list"]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(0));
    for f in ["B1 ", "B9 ", "B14", "B16"] {
        assert!(t.contains(f), "{f} missing:\n{t}");
    }
    for p in ["S1 seq order", "S12 real-order", "L1 every write", "N3 a stale limit"] {
        assert!(t.contains(p), "{p} missing:\n{t}");
    }
}
