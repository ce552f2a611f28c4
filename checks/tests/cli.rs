//! The `rcopy-check` binary as a user meets it: exit codes, messages, and no panic on bad input.

use std::io::Read;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn rcopy_check(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rcopy-check")).args(args).output().expect("the binary runs")
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

/// A path no one can write, root included: below a regular file.
fn unwritable(name: &str) -> String {
    let file = tmp("a-regular-file");
    std::fs::write(&file, "").unwrap();
    file.join(name).to_str().unwrap().to_string()
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
    rejects(&["check", "ordering", "--config", "huge"], "valid: single, fanin, grouped, tiny, standard, large");
    rejects(&["check", "ordering", "--variant", "sloppy"], "valid: faithful, hardened");
    rejects(&["check", "ordering", "--fault", "B99"], "B16");
    rejects(&["check", "ordering", "--fault", "B15"], "unknown fault `B15`");
    rejects(&["check", "ordering", "--mode", "fast"], "valid: default");
    rejects(&["check", "ordering", "--tier", "huge"], "valid: tiny, standard");
    rejects(&["trace", "ordering", "--config", "tiny", "--fault", "B1", "--property", "S99"], "unknown property");
    rejects(&["trace", "ordering", "--config", "tiny", "--fault", "B1", "--format", "png"], "valid: json, text, mermaid, dot");
}

#[test]
fn nonsensical_options_are_refused() {
    rejects(&["check", "ordering", "--threads", "0"], "--threads must be at least 1");
    rejects(&["check", "ordering", "--strategy", "bfs", "--seed", "3"], "--seed applies only");
    rejects(&["check", "ordering", "--strategy", "magic"], "unknown strategy");
    rejects(&["check", "ordering", "--fault", "B1", "--fault", "b1"], "given twice");
    rejects(&["check", "ordering", "--timeout", "0"], "must be positive");
    rejects(&["trace", "ordering", "--config", "tiny"], "choose one");
    rejects(&["check", "ordering", "--threads", "lots"], "invalid value");
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
    let o = rcopy_check(&["check", "ordering", "--config", "tiny", "--fault", "B8", "-q"]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(0), "{t}");
    assert!(t.contains("ordering/tiny/hardened/default+B8"), "{t}");
    assert!(t.contains("VIOLATED S1"), "{t}");
    assert!(t.contains("every verdict as expected"), "{t}");
}

#[test]
fn an_ad_hoc_check_reports_without_judging() {
    let o = rcopy_check(&["check", "ordering", "--config", "single", "--variant", "hardened", "-q"]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(0), "{t}");
    assert!(t.contains("no expect"), "{t}");
    assert!(t.contains("holds S1"), "{t}");
}

#[test]
fn a_trace_written_by_the_cli_replays_and_renders() {
    let file = tmp("b1.json");
    let f = file.to_str().unwrap();
    let o = rcopy_check(&["trace", "ordering", "--config", "tiny", "--fault", "B1", "-o", f]);
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

/// A bounded run never says "holds": its verdicts are unknown, the table says where it
/// stopped, and it exits 1 because nothing beyond what it found is established.
#[test]
fn a_bounded_run_never_says_holds() {
    let o = rcopy_check(&["check", "ordering", "--config", "large", "--max-states", "200000", "-q"]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(1), "{t}");
    assert!(t.contains("STOPPED: states") && t.contains("unknown S1"), "{t}");
    assert!(!t.contains("holds S"), "{t}");
    let o = rcopy_check(&["check", "ordering", "--config", "tiny", "--fault", "B1", "--max-states", "5000", "-q"]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(1), "{t}");
    assert!(t.contains("unknown S4") && !t.contains("holds S"), "{t}");
    assert!(t.contains("expected violated, got unknown"), "{t}");
    let o = rcopy_check(&[
        "check",
        "ordering",
        "--config",
        "tiny",
        "--variant",
        "hardened",
        "--fault",
        "none",
        "--max-depth",
        "5",
        "-q",
    ]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(1), "{t}");
    assert!(t.contains("STOPPED: depth") && !t.contains("holds S"), "{t}");
}

/// The time bound holds with one thread (a `large` run takes minutes unbounded), a memory
/// bound stops a run before it grows, and a timeout too large for a clock is no deadline.
#[test]
fn time_and_memory_bounds_hold() {
    let start = Instant::now();
    let o = rcopy_check(&["check", "ordering", "--config", "large", "--timeout", "2", "-q"]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(1), "{t}");
    assert!(t.contains("STOPPED: time"), "{t}");
    assert!(start.elapsed() < Duration::from_secs(60), "a 2 s time bound took {:?}", start.elapsed());
    let o = rcopy_check(&["check", "ordering", "--config", "large", "--max-memory", "64", "--threads", "2", "-q"]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(1), "{t}");
    assert!(t.contains("STOPPED: memory"), "{t}");
    let o = rcopy_check(&["check", "ordering", "--config", "tiny", "--fault", "B8", "--timeout", "18446744073709551615", "-q"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
}

/// Ctrl-C ends a run: the verdicts so far, and exit 130.
#[test]
fn ctrl_c_ends_a_run_with_the_verdicts_so_far() {
    let child = Command::new(env!("CARGO_BIN_EXE_rcopy-check"))
        .args(["check", "ordering", "--config", "large", "-q"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary runs");
    std::thread::sleep(Duration::from_millis(1500));
    let killed = Command::new("kill").args(["-INT", &child.id().to_string()]).status().expect("kill runs");
    assert!(killed.success());
    let o = child.wait_with_output().expect("the run ends");
    let t = text(&o);
    assert_eq!(o.status.code(), Some(130), "{t}");
    assert!(t.contains("INTERRUPTED") && t.contains("unknown S1") && t.contains("interrupted"), "{t}");
}

/// Output that cannot be written (a closed pipe, a full disk) ends the command with a message
/// and exit 1, not a panic.
#[test]
fn output_that_cannot_be_written_is_an_error_not_a_panic() {
    // A trace larger than a pipe's buffer: the write fails however soon the reader goes.
    let big = concat!(env!("CARGO_MANIFEST_DIR"), "/../traces/ordering/B6.json.snap");
    assert!(std::fs::metadata(big).unwrap().len() > 1 << 16, "larger than a 64 KiB pipe buffer");
    let mut child = Command::new(env!("CARGO_BIN_EXE_rcopy-check"))
        .args(["render", big, "--format", "json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary runs");
    drop(child.stdout.take());
    let mut err = String::new();
    child.stderr.take().unwrap().read_to_string(&mut err).unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(1), "{err}");
    assert!(err.contains("cannot write to standard output") && !err.contains("panicked"), "{err}");
    if std::path::Path::new("/dev/full").exists() {
        for args in [&["list"][..], &["check", "ordering", "--config", "tiny", "--fault", "B8", "-q"][..]] {
            let full = std::fs::OpenOptions::new().write(true).open("/dev/full").unwrap();
            let o = Command::new(env!("CARGO_BIN_EXE_rcopy-check")).args(args).stdout(full).output().unwrap();
            let t = text(&o);
            assert_eq!(o.status.code(), Some(1), "{args:?}: {t}");
            assert!(t.contains("No space left") && !t.contains("panicked"), "{args:?}: {t}");
        }
    }
}

/// The Explorer serves until its time bound, then stops with a message.
#[test]
fn explore_stops_at_its_time_bound() {
    let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = free.local_addr().unwrap().port().to_string();
    drop(free);
    let o = rcopy_check(&["explore", "ordering", "--config", "tiny", "--fault", "B1", "--port", &port, "--timeout", "1"]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(0), "{t}");
    assert!(t.contains("Explorer for ordering/tiny/hardened/default+B1") && t.contains("time bound passed"), "{t}");
}

#[test]
fn explore_on_a_port_in_use_is_refused() {
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = busy.local_addr().unwrap().port().to_string();
    rejects(&["explore", "ordering", "--config", "tiny", "--fault", "B1", "--port", &port], "cannot serve the Explorer");
}

/// `trace -o` to a path that cannot be written fails before the search (this search, for a
/// property that holds on `large`, would take minutes).
#[test]
fn trace_to_an_unwritable_file_fails_before_searching() {
    let start = Instant::now();
    let out = unwritable("x.json");
    rejects(
        &["trace", "ordering", "--config", "large", "--variant", "hardened", "--fault", "none", "--property", "S1", "-o", &out],
        &format!("cannot write {out}"),
    );
    assert!(start.elapsed() < Duration::from_secs(30));
}

#[test]
fn a_huge_trace_file_is_refused_by_its_size() {
    let big = tmp("big.json");
    std::fs::File::create(&big).unwrap().set_len(200 << 20).unwrap();
    rejects(&["replay", big.to_str().unwrap()], "more than a trace file may be");
    rejects(&["render", big.to_str().unwrap()], "more than a trace file may be");
}

/// `replay` reports each file, good or bad, and exits with the worst outcome.
#[test]
fn replay_reports_every_file() {
    let good = concat!(env!("CARGO_MANIFEST_DIR"), "/../traces/ordering/B1.json.snap");
    let garbage = tmp("replay-garbage.json");
    std::fs::write(&garbage, "not json").unwrap();
    let missing = tmp("replay-missing.json");
    let o = rcopy_check(&["replay", garbage.to_str().unwrap(), good, missing.to_str().unwrap()]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(2), "{t}");
    assert!(t.contains("B1.json.snap: reproduced"), "{t}");
    assert!(
        t.contains("replay-garbage.json: cannot replay") && t.contains("replay-missing.json: cannot replay"),
        "{t}"
    );
}

/// A stored (insta) trace replays and renders as it is; a forged action is reported, not a
/// panic.
#[test]
fn stored_traces_replay_and_render_as_they_are() {
    let good = concat!(env!("CARGO_MANIFEST_DIR"), "/../traces/ordering/B4.json.snap");
    let o = rcopy_check(&["render", good, "--format", "text"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let json = std::fs::read_to_string(good).unwrap();
    let body = &json[json.find('{').unwrap()..];
    let mut v: serde_json::Value = serde_json::from_str(body).unwrap();
    v["steps"][1]["action"] = serde_json::json!({ "Destage": { "rds": 42 } });
    let forged = tmp("forged.json");
    std::fs::write(&forged, v.to_string()).unwrap();
    let o = rcopy_check(&["replay", forged.to_str().unwrap()]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(1), "{t}");
    assert!(t.contains("NOT reproduced") && t.contains("RDS42") && !t.contains("panicked"), "{t}");
    let o = rcopy_check(&["render", forged.to_str().unwrap()]);
    assert!(!text(&o).contains("panicked"), "{}", text(&o));
}

/// DOT that Graphviz reads as intended: labels are quoted strings with escaped quotes and
/// left-justified lines, not Rust debug strings.
#[test]
fn dot_output_renders_as_intended() {
    let good = concat!(env!("CARGO_MANIFEST_DIR"), "/../traces/ordering/B13.json.snap");
    let o = rcopy_check(&["render", good, "--format", "dot"]);
    let dot = String::from_utf8_lossy(&o.stdout).to_string();
    assert_eq!(o.status.code(), Some(0), "{dot}");
    assert!(dot.contains("label = \"state 0\\lLDS0"), "{dot}");
    assert!(!dot.contains(r#"\\""#) && !dot.contains(r"\n"), "escaped twice: {dot}");
    assert!(dot.contains("\\\"S11 ack soundness\\\""), "the title's quotes are escaped: {dot}");
    let graphviz = Command::new("dot").arg("-V").output().is_ok_and(|o| o.status.success());
    if graphviz {
        let mut child = Command::new("dot").arg("-Tsvg").stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().unwrap();
        std::io::Write::write_all(&mut child.stdin.take().unwrap(), dot.as_bytes()).unwrap();
        let svg = child.wait_with_output().unwrap();
        let svg = String::from_utf8_lossy(&svg.stdout);
        assert!(svg.contains(">state 0</text>"), "{svg}");
        assert!(svg.contains(": send M1 L"), "the step labels: {svg}");
    }
}

/// `check --json` gives the whole result; `--traces` writes each trace and the table names it.
#[test]
fn json_and_trace_files_for_ci() {
    let dir = tmp("traces-out");
    let o = rcopy_check(&["check", "ordering", "--config", "tiny", "--fault", "B3", "--json", "--traces", dir.to_str().unwrap()]);
    let t = String::from_utf8_lossy(&o.stdout).to_string();
    assert_eq!(o.status.code(), Some(0), "{t}");
    let v: serde_json::Value = serde_json::from_str(&t).expect("--json prints JSON");
    assert_eq!(v["as_expected"], true);
    let c = &v["checks"][0];
    assert_eq!(c["name"], "ordering/tiny/hardened/default+B3");
    assert_eq!(c["ended"], "hunted");
    let file = c["properties"].as_array().unwrap().iter().find_map(|p| p["trace_file"].as_str()).expect("a trace file");
    let o = rcopy_check(&["replay", file]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let o = rcopy_check(&["check", "ordering", "--config", "tiny", "--fault", "B3", "-q", "--traces", dir.to_str().unwrap()]);
    let t = text(&o);
    assert!(t.contains("traces in ") && t.contains("S4.json") && t.contains("(5 steps)"), "{t}");
}

/// `--fault none` selects a variant's plain check; a config file and `--set` tune the world.
#[test]
fn plain_checks_config_files_and_overrides() {
    let o = rcopy_check(&["trace", "ordering", "--config", "tiny", "--variant", "faithful", "--fault", "none", "--format", "text"]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(0), "{t}");
    assert!(t.contains("L1 every write destaged"), "{t}");
    let file = tmp("world.toml");
    std::fs::write(
        &file,
        "pairs = [{ lds = 0, rds = 0, group = 0, remote_unit = 0 }]\nscope = \"per-pair\"\npositions = 1\nwrites = 1\nloss = 0\ndup = 0\nsync_rounds = false\n",
    )
    .unwrap();
    let f = file.to_str().unwrap();
    let o = rcopy_check(&["check", "ordering", "--config", f, "--variant", "faithful", "-q"]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(0), "{t}");
    assert!(t.contains("ordering/world/faithful/default") && t.contains("holds") && t.contains("L1"), "{t}");
    let o = rcopy_check(&[
        "check",
        "ordering",
        "--config",
        f,
        "--set",
        "writes=2",
        "--set",
        "loss=1",
        "--variant",
        "faithful",
        "-q",
    ]);
    let t = text(&o);
    assert!(t.contains("world{writes=2,loss=1}") && t.contains("VIOLATED L1"), "{t}");
    rejects(&["check", "ordering", "--config", "tiny", "--set", "wrtes=4"], "unknown key `wrtes` (valid: about, pairs");
    rejects(&["check", "ordering", "--config", "tiny", "--set", "writes=99"], "writes: at most 32");
    std::fs::write(&file, "writes = 2\nbogus = 1\n").unwrap();
    rejects(&["check", "ordering", "--config", f], "line 2");
}

/// Review findings, each a test: a stopped run lists no `sometimes` property as unwitnessed in
/// its JSON; a world too wide to enumerate is refused; an unwritable trace folder fails before
/// the search.
#[test]
fn stopped_runs_and_oversized_worlds() {
    let o = rcopy_check(&[
        "check",
        "ordering",
        "--config",
        "tiny",
        "--variant",
        "hardened",
        "--fault",
        "none",
        "--max-states",
        "10",
        "--json",
    ]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("JSON");
    assert_eq!(v["checks"][0]["ended"], "state-bound");
    assert_eq!(v["checks"][0]["unwitnessed"], serde_json::json!([]), "{v}");
    rejects(
        &["check", "ordering", "--config", "tiny", "--set", "script=[]", "--set", "positions=4000000000"],
        "positions: from 1 to 64",
    );
    let dir = unwritable("traces");
    rejects(&["check", "ordering", "--config", "large", "--fault", "none", "--traces", &dir], &format!("cannot write {dir}"));
}
