//! `make bench`: rcopy's explorer and stateright's, side by side, on each protocol's bench
//! checks, at 1 and 2 threads: unique states, time, states per second, bytes per stored state,
//! peak memory. Each run is its own process (`rcopy-check check --json`), so that its peak
//! memory is its own. Short runs are repeated and the median shown. Then the time to each
//! seeded fault's and each gap of the text's shortest counterexample. The figures of an earlier bench
//! (`bench/previous.txt`) come first, to compare. Figures are printed, never asserted.

use crate::error::Error;
use crate::outln;
use crate::registry;
use crate::runner::{Engine, Options};
use rcopy_model::protocol::{Check, Expect, Tier};
use std::process::{Command, ExitCode};

/// Runs longer than this are not repeated.
const REPEAT_BELOW_SECS: f64 = 30.0;

/// One measured run, read from the child's JSON.
#[derive(Clone, Debug)]
struct Sample {
    unique: u64,
    seconds: f64,
    ended: String,
    table_bytes: u64,
    peak_rss: Option<u64>,
    /// The liveness graph: bytes, build and SCC seconds.
    graph: Option<(u64, f64, f64)>,
}

fn check_args(c: &Check) -> Vec<String> {
    let mut a = vec![
        c.protocol.clone(),
        "--config".into(),
        c.config.clone(),
        "--variant".into(),
        c.variant.clone(),
        "--mode".into(),
        c.mode.clone(),
    ];
    if c.faults.is_empty() {
        a.extend(["--fault".into(), "none".into()]);
    }
    for f in &c.faults {
        a.extend(["--fault".into(), f.clone()]);
    }
    for s in &c.sets {
        a.extend(["--set".into(), s.clone()]);
    }
    a
}

fn measure(
    exe: &std::path::Path,
    c: &Check,
    engine: Engine,
    threads: usize,
    cap: u64,
    liveness: bool,
) -> Result<Sample, String> {
    let out = Command::new(exe)
        .arg("check")
        .args(check_args(c))
        .args(if liveness { None } else { Some("--no-liveness") })
        .args([
            "--engine",
            engine.name(),
            "--threads",
            &threads.to_string(),
            "--timeout",
            &cap.to_string(),
            "--json",
            "-q",
        ])
        .output()
        .map_err(|e| format!("cannot run {}: {e}", exe.display()))?;
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout)
        .map_err(|_| format!("no result: {}", String::from_utf8_lossy(&out.stderr).trim()))?;
    let o = doc["checks"].get(0).ok_or("no check in the result")?;
    Ok(Sample {
        unique: o["unique"].as_u64().unwrap_or(0),
        seconds: o["seconds"].as_f64().unwrap_or(0.0),
        ended: o["ended"].as_str().unwrap_or("?").to_string(),
        table_bytes: o["table_bytes"].as_u64().unwrap_or(0),
        peak_rss: o["process_peak_rss"].as_u64(),
        graph: o["graph"].as_object().map(|g| {
            let f = |k: &str| g.get(k).and_then(|v| v.as_f64()).unwrap_or(0.0);
            (f("bytes") as u64, f("build_seconds"), f("scc_seconds"))
        }),
    })
}

fn median(mut v: Vec<Sample>) -> (Sample, usize) {
    v.sort_by(|a, b| a.seconds.total_cmp(&b.seconds));
    let n = v.len();
    (v[n / 2].clone(), n)
}

/// Up to `runs` measurements (one when it takes over [`REPEAT_BELOW_SECS`]): the median and
/// how many, or the first failure.
fn repeated(runs: usize, measure: impl Fn() -> Result<Sample, String>) -> Result<(Sample, usize), String> {
    let mut samples = Vec::new();
    for _ in 0..runs {
        let s = measure()?;
        let long = s.seconds > REPEAT_BELOW_SECS;
        samples.push(s);
        if long {
            break;
        }
    }
    Ok(median(samples))
}

/// The figures of an earlier `make bench`, kept in the repository to print beside today's.
const PREVIOUS: &str = include_str!("../../bench/previous.txt");

pub fn run(cap: u64, runs: usize) -> Result<ExitCode, Error> {
    outln!("{}", PREVIOUS.trim_end())?;
    outln!()?;
    let exe =
        std::env::current_exe().map_err(|source| Error::Io { path: "the rcopy-check executable".into(), source })?;
    outln!("rcopy's explorer and stateright's on the same models, breadth-first; each run its own process, capped at {cap} s")?;
    outln!("(time: median of up to {runs} runs, one run when it takes over {REPEAT_BELOW_SECS} s)")?;
    outln!("(speed-up: over 1 thread of the same engine; vs stateright: rcopy's rate over stateright's at the same")?;
    outln!(" thread count; table B/st: the visited table's bytes per stored state; RSS B/st: peak memory per state)")?;
    outln!(
        "{:<42} {:<10} {:>3} {:>11} {:>9} {:>11} {:>8} {:>13} {:>10} {:>9} {:>9}  {}",
        "run",
        "engine",
        "thr",
        "unique",
        "time",
        "states/s",
        "speed-up",
        "vs stateright",
        "table B/st",
        "RSS B/st",
        "peak MiB",
        "ended"
    )?;
    for p in crate::protocols::all() {
        for c in p.bench() {
            // Rates by (engine, threads), for the ratio columns.
            let mut rates: Vec<((Engine, usize), f64)> = Vec::new();
            let rate_of = |rates: &[((Engine, usize), f64)], k: (Engine, usize)| {
                rates.iter().find(|(x, _)| *x == k).map(|(_, r)| *r)
            };
            for threads in [1, 2] {
                for engine in [Engine::Stateright, Engine::Rcopy] {
                    // Both engines judge the same properties: stateright knows no obligations.
                    let name = c.name();
                    let (s, n) = match repeated(runs, || measure(&exe, &c, engine, threads, cap, false)) {
                        Ok(x) => x,
                        Err(e) => {
                            outln!("{name:<42} {:<10} {threads:>3}  failed: {e}", engine.name())?;
                            continue;
                        }
                    };
                    let rate = s.unique as f64 / s.seconds.max(1e-9);
                    rates.push(((engine, threads), rate));
                    let speedup = match (threads, rate_of(&rates, (engine, 1))) {
                        (2, Some(one)) => format!("{:.2}x", rate / one),
                        _ => "-".into(),
                    };
                    let vs = match (engine, rate_of(&rates, (Engine::Stateright, threads))) {
                        (Engine::Rcopy, Some(sr)) => format!("{:.2}x", rate / sr),
                        _ => "-".into(),
                    };
                    let per_state = if s.table_bytes > 0 {
                        format!("{:.1}", s.table_bytes as f64 / s.unique.max(1) as f64)
                    } else {
                        "-".into()
                    };
                    outln!(
                        "{name:<42} {:<10} {threads:>3} {:>11} {:>8.2}s {:>11.0} {:>8} {:>13} {:>10} {:>9} {:>9}  {}{}",
                        engine.name(),
                        s.unique,
                        s.seconds,
                        rate,
                        speedup,
                        vs,
                        per_state,
                        s.peak_rss.map_or("-".into(), |b| format!("{:.0}", b as f64 / s.unique.max(1) as f64)),
                        s.peak_rss.map_or("-".into(), |b| (b >> 20).to_string()),
                        s.ended,
                        if n > 1 { format!(", median of {n}") } else { String::new() },
                    )?;
                }
            }
        }
    }
    outln!()?;
    outln!(
        "liveness: the same runs with every liveness property judged (the graph kept) and left out (rcopy, 1 thread)"
    )?;
    outln!(
        "{:<42} {:>11} {:>10} {:>10} {:>7} {:>10} {:>9} {:>8} {:>9}",
        "run",
        "unique",
        "safety",
        "+liveness",
        "ratio",
        "graph B/st",
        "build s",
        "SCC s",
        "peak MiB"
    )?;
    for p in crate::protocols::all() {
        for c in p.bench() {
            let median_of = |liveness: bool| {
                repeated(runs, || measure(&exe, &c, Engine::Rcopy, 1, cap, liveness)).ok().map(|x| x.0)
            };
            let (Some(safety), Some(live)) = (median_of(false), median_of(true)) else {
                outln!("{:<42}  failed", c.name())?;
                continue;
            };
            let (bytes, build, scc) = live.graph.unwrap_or((0, 0.0, 0.0));
            outln!(
                "{:<42} {:>11} {:>9.2}s {:>9.2}s {:>6.2}x {:>10.1} {:>9.3} {:>8.3} {:>9}  {}",
                c.name(),
                live.unique,
                safety.seconds,
                live.seconds,
                live.seconds / safety.seconds.max(1e-9),
                bytes as f64 / live.unique.max(1) as f64,
                build,
                scc,
                live.peak_rss.map_or("-".into(), |b| (b >> 20).to_string()),
                live.ended
            )?;
            if live.unique > 0 && bytes > 0 {
                let per_state = (bytes + live.table_bytes) as f64 / live.unique as f64 + 8.0;
                outln!(
                    "{:<42} (graph, table and an id's fingerprint: {per_state:.0} B/state, so about {:.0} million states fit in 24 GiB)",
                    "",
                    24.0 * (1u64 << 30) as f64 / per_state / 1e6
                )?;
            }
        }
    }
    outln!()?;
    outln!("time to each seeded fault's and each gap of the text's headline counterexample, hunted alone (standard tier,")?;
    outln!("rcopy, breadth-first, 1 thread)")?;
    outln!("{:<44} {:<36} {:>9} {:>6} {:>9}", "check", "property", "states", "steps", "time")?;
    // Every hunting check whose headline is a violation: a seeded fault's, or a faithful
    // variant's gap (no fault switched on).
    let headline_violated = |c: &Check| c.expect.first().is_some_and(|(_, e)| *e == Expect::Violated);
    for mut check in registry::all(Tier::Standard).into_iter().filter(|c| c.hunts() && headline_violated(c)) {
        // The headline property alone: the run stops once it is found (the check's other
        // properties, a liveness one above all, may need the whole space).
        check.expect.truncate(1);
        let o = registry::find(&check.protocol)?.run(&check, &Options::default())?;
        let (prop, _) = &check.expect[0];
        let steps = o.trace(prop).map_or("-".into(), |t| t.len().to_string());
        outln!(
            "{:<44} {:<36} {:>9} {:>6} {:>8.3}s{}",
            check.name(),
            prop,
            o.unique,
            steps,
            o.seconds,
            if o.as_expected() { "" } else { "  (NOT FOUND)" }
        )?;
    }
    Ok(ExitCode::SUCCESS)
}
