//! `make bench`: for each config, an exhaustive run of the hardened protocol (both modes) with
//! unique states, states per second and peak memory; then the time to each seeded fault's
//! counterexample. Figures are printed, never asserted.

use crate::error::Error;
use crate::registry::{self, Check, Tier};
use crate::runner::{self, Options, Strategy};
use rcopy::ordering::Variant;
use rcopy_model::ordering::{Config, Mode};
use std::process::ExitCode;

/// Peak resident memory of this process so far (Linux `VmHWM`), in MiB.
pub fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

fn exhaustive(config: &str, mode: Mode) -> Check {
    Check::ad_hoc(config, Variant::Hardened, vec![], mode, "benchmark")
}

/// Each exhaustive run stops after this long.
const CAP_SECS: u64 = 120;

pub fn run(configs: &[String]) -> Result<ExitCode, Error> {
    for c in configs {
        if Config::named(c).is_none() {
            return Err(Error::UnknownConfig(c.clone(), "ordering".into(), Config::NAMES.join(", ")));
        }
    }
    println!("runs of the hardened ordering protocol, 1 thread, each capped at {CAP_SECS} s");
    println!("(peak memory is this process's so far: runs go in order)");
    println!(
        "{:<34} {:>11} {:>6} {:>9} {:>12} {:>10}  finished",
        "run", "unique", "depth", "time", "unique/s", "peak MiB"
    );
    for c in configs {
        for (mode, strategy) in [(Mode::Safety, Strategy::Bfs), (Mode::Liveness, Strategy::Bfs), (Mode::Safety, Strategy::Dfs)] {
            let check = exhaustive(c, mode);
            let opts = Options {
                strategy,
                progress: true,
                timeout: Some(std::time::Duration::from_secs(CAP_SECS)),
                ..Options::default()
            };
            let o = runner::run(&check, &opts);
            let secs = o.elapsed.as_secs_f64();
            println!(
                "{:<34} {:>11} {:>6} {:>8.2}s {:>12.0} {:>10.1}  {}",
                format!("{c}/{}/{}", mode.name(), strategy.name()),
                o.unique,
                o.depth,
                secs,
                o.unique as f64 / secs.max(1e-9),
                peak_rss_mib().unwrap_or(f64::NAN),
                if o.exhaustive { "exhaustive" } else { "reached the cap: completeness unknown" }
            );
        }
    }
    println!();
    println!("time to each seeded fault's shortest counterexample (standard tier, BFS, 1 thread)");
    println!("{:<40} {:<36} {:>9} {:>6} {:>9}", "check", "property", "states", "steps", "time");
    for check in registry::all(Tier::Standard).into_iter().filter(|c| c.hunts()) {
        let o = runner::run(&check, &Options::default());
        let (p, _) = &check.expect[0];
        let steps = o.trace(p).map_or(0, |t| t.steps.len() - 1);
        println!(
            "{:<40} {:<36} {:>9} {:>6} {:>8.3}s{}",
            check.name(),
            p,
            o.unique,
            steps,
            o.elapsed.as_secs_f64(),
            if o.as_expected() { "" } else { "  (NOT FOUND)" }
        );
    }
    Ok(ExitCode::SUCCESS)
}
