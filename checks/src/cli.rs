//! The `rcopy-check` command line. Exit codes: 0 when every verdict matches its expectation
//! (or a replay reproduces its trace), 1 when one does not, 2 for bad input.

use crate::error::Error;
use crate::registry::{self, Check, Expect, Tier, PROTOCOLS};
use crate::render::{self, Format};
use crate::replay;
use crate::runner::{self, Options, Outcome, Strategy, Verdict};
use crate::trace::Trace;
use clap::{Parser, Subcommand};
use rcopy::ordering::{Fault, Variant};
use rcopy_model::ordering::{properties, Config, Mode};
use std::process::ExitCode;
use std::time::Duration;

/// The budget of a simulation given no bound.
const SIMULATION_SECS: u64 = 10;

#[derive(Parser, Debug)]
#[command(name = "rcopy-check", version, about = "Model-check storage remote-copy protocols and review their counterexamples")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// What to explore: a registered check, or an ad-hoc one.
#[derive(clap::Args, Debug, Clone)]
struct Select {
    /// Protocol (default: every protocol).
    protocol: Option<String>,
    /// Named config of the world (e.g. tiny, standard).
    #[arg(long)]
    config: Option<String>,
    /// faithful (the text as written) or hardened (the fixes of the notes).
    #[arg(long)]
    variant: Option<String>,
    /// A seeded fault to switch on (repeatable), e.g. --fault B1.
    #[arg(long = "fault")]
    faults: Vec<String>,
    /// safety (disaster and takeover possible) or liveness (no disaster; L1 checked).
    #[arg(long)]
    mode: Option<String>,
    /// Which registered checks when nothing else is chosen: tiny (cargo test) or standard (make check).
    #[arg(long, default_value = "standard")]
    tier: String,
}

#[derive(clap::Args, Debug, Clone)]
struct Run {
    /// bfs (shortest traces with one thread), dfs, or simulation.
    #[arg(long, default_value = "bfs")]
    strategy: String,
    /// Seed of --strategy simulation.
    #[arg(long)]
    seed: Option<u64>,
    /// Checker threads (BFS traces are shortest only with 1).
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Stop each run after this many seconds (unfound verdicts become `unknown`). Simulation
    /// without --timeout or --max-states stops after 10 s.
    #[arg(long)]
    timeout: Option<u64>,
    /// Stop each run after this many states.
    #[arg(long)]
    max_states: Option<usize>,
    /// No progress line.
    #[arg(long, short)]
    quiet: bool,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// List protocols, configs, variants, faults, properties and the registered checks.
    List {
        #[arg(long, default_value = "standard")]
        tier: String,
    },
    /// Run checks and print the verdict table.
    Check {
        #[command(flatten)]
        select: Select,
        #[command(flatten)]
        run: Run,
        /// Print every property's verdict, not only the judged ones.
        #[arg(long, short)]
        verbose: bool,
    },
    /// Find a counterexample (shortest: BFS, one thread) and write it to a file.
    Trace {
        #[command(flatten)]
        select: Select,
        /// The property (default: the first the check expects violated, else the first found).
        #[arg(long)]
        property: Option<String>,
        /// json (replayable), text, mermaid or dot.
        #[arg(long, default_value = "json")]
        format: String,
        /// Output file (default: standard output).
        #[arg(long, short)]
        out: Option<String>,
    },
    /// Render a trace file in another format.
    Render {
        file: String,
        #[arg(long, default_value = "text")]
        format: String,
    },
    /// Re-run trace files on the model and on the roles; exit 0 only if each reproduces.
    Replay {
        #[arg(required = true)]
        files: Vec<String>,
    },
    /// Serve stateright's Explorer for a model on 127.0.0.1.
    Explore {
        #[command(flatten)]
        select: Select,
        #[arg(long, default_value_t = 3000)]
        port: u16,
    },
    /// Benchmarks: unique states, states per second, peak memory, time to each counterexample.
    Bench {
        /// Configs to explore exhaustively.
        #[arg(long, default_values_t = ["standard".to_string(), "large".to_string()])]
        config: Vec<String>,
    },
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match dispatch(cli.command) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}

fn dispatch(cmd: Command) -> Result<ExitCode, Error> {
    match cmd {
        Command::List { tier } => list(parse_tier(&tier)?),
        Command::Check { select, run, verbose } => check(&select, &run, verbose),
        Command::Trace { select, property, format, out } => trace(&select, property, &format, out),
        Command::Render { file, format } => {
            let format = parse_format(&format)?;
            let t = Trace::read(&file)?;
            let text = render::render(&t, format).map_err(|reason| Error::BadTrace { path: file, reason })?;
            print!("{text}");
            Ok(ExitCode::SUCCESS)
        }
        Command::Replay { files } => replay_files(&files),
        Command::Explore { select, port } => explore(&select, port),
        Command::Bench { config } => crate::bench::run(&config),
    }
}

fn names<T: AsRef<str>>(v: impl IntoIterator<Item = T>) -> String {
    v.into_iter().map(|s| s.as_ref().to_string()).collect::<Vec<_>>().join(", ")
}

fn parse_tier(s: &str) -> Result<Tier, Error> {
    Tier::from_name(s).ok_or(Error::BadOption(format!("unknown tier `{s}` (valid: tiny, standard)")))
}

fn parse_format(s: &str) -> Result<Format, Error> {
    Format::from_name(s).ok_or(Error::BadOption(format!("unknown format `{s}` (valid: {})", names(Format::NAMES))))
}

fn parse_protocol(p: &Option<String>) -> Result<(), Error> {
    match p {
        Some(p) if !PROTOCOLS.contains(&p.as_str()) => Err(Error::UnknownProtocol(p.clone(), names(PROTOCOLS))),
        _ => Ok(()),
    }
}

/// The parsed choices of a [`Select`]; `None` where nothing was chosen.
struct Choice {
    config: Option<String>,
    variant: Option<Variant>,
    faults: Option<Vec<Fault>>,
    mode: Option<Mode>,
    tier: Tier,
}

fn parse_select(s: &Select) -> Result<Choice, Error> {
    parse_protocol(&s.protocol)?;
    let protocol = s.protocol.clone().unwrap_or_else(|| "ordering".into());
    if let Some(c) = &s.config {
        if Config::named(c).is_none() {
            return Err(Error::UnknownConfig(c.clone(), protocol, names(Config::NAMES)));
        }
    }
    let variant = match &s.variant {
        Some(v) => Some(Variant::from_name(v).ok_or(Error::UnknownVariant(v.clone(), "faithful, hardened".into()))?),
        None => None,
    };
    let mode = match &s.mode {
        Some(m) => Some(Mode::from_name(m).ok_or(Error::UnknownMode(m.clone(), "safety, liveness".into()))?),
        None => None,
    };
    let mut faults = Vec::new();
    for f in &s.faults {
        let fault = Fault::from_name(f).ok_or_else(|| {
            Error::UnknownFault(f.clone(), protocol.clone(), names(Fault::ALL.iter().map(|f| f.name())))
        })?;
        if faults.contains(&fault) {
            return Err(Error::BadOption(format!("fault {} given twice", fault.name())));
        }
        faults.push(fault);
    }
    faults.sort();
    Ok(Choice {
        config: s.config.clone(),
        variant,
        faults: (!s.faults.is_empty()).then_some(faults),
        mode,
        tier: parse_tier(&s.tier)?,
    })
}

/// The registered checks a choice names, or one ad-hoc check with no expectations.
fn checks_for(c: &Choice) -> Vec<Check> {
    let mut pool = registry::all(c.tier);
    if c.config.is_some() {
        // A named config may be registered in the other tier only.
        let other = if c.tier == Tier::Tiny { Tier::Standard } else { Tier::Tiny };
        let extra: Vec<Check> = registry::all(other).into_iter().filter(|k| !pool.contains(k)).collect();
        pool.extend(extra);
    }
    let matching: Vec<Check> = pool
        .into_iter()
        .filter(|k| c.config.as_ref().is_none_or(|x| *x == k.config))
        .filter(|k| c.variant.is_none_or(|v| v == k.variant))
        .filter(|k| c.mode.is_none_or(|m| m == k.mode))
        .filter(|k| c.faults.as_ref().is_none_or(|f| *f == k.faults))
        .collect();
    if !matching.is_empty() {
        return matching;
    }
    let config = c.config.clone().unwrap_or_else(|| if c.tier == Tier::Tiny { "tiny".into() } else { "standard".into() });
    vec![Check::ad_hoc(
        &config,
        c.variant.unwrap_or(Variant::Hardened),
        c.faults.clone().unwrap_or_default(),
        c.mode.unwrap_or(Mode::Safety),
        "ad hoc: not registered, so no verdict is expected",
    )]
}

fn parse_run(r: &Run, trace: bool) -> Result<Options, Error> {
    if r.threads == 0 {
        return Err(Error::BadOption("--threads must be at least 1".into()));
    }
    if r.threads > 256 {
        return Err(Error::BadOption(format!("--threads {} is more than anyone needs here (at most 256)", r.threads)));
    }
    let strategy = match (r.strategy.as_str(), r.seed) {
        ("bfs", None) => Strategy::Bfs,
        ("dfs", None) => Strategy::Dfs,
        ("simulation", seed) => Strategy::Simulation { seed: seed.unwrap_or(0) },
        ("bfs" | "dfs", Some(_)) => return Err(Error::BadOption("--seed applies only to --strategy simulation".into())),
        (s, _) => return Err(Error::BadOption(format!("unknown strategy `{s}` (valid: bfs, dfs, simulation)"))),
    };
    if r.timeout == Some(0) || r.max_states == Some(0) {
        return Err(Error::BadOption("--timeout and --max-states must be positive".into()));
    }
    if trace && r.threads > 1 {
        return Err(Error::BadOption("a trace is searched with one thread, so that it is a shortest one".into()));
    }
    // Random walks never run out of states: without a bound, give them a budget.
    let timeout = match (strategy, r.timeout, r.max_states) {
        (Strategy::Simulation { .. }, None, None) => Some(SIMULATION_SECS),
        (_, t, _) => t,
    };
    Ok(Options {
        strategy,
        threads: r.threads,
        progress: !r.quiet,
        timeout: timeout.map(Duration::from_secs),
        max_states: r.max_states,
    })
}

fn list(tier: Tier) -> Result<ExitCode, Error> {
    println!("protocols: {}", names(PROTOCOLS));
    println!("configs:   {}", names(Config::NAMES));
    println!("variants:  faithful, hardened");
    println!("modes:     safety, liveness");
    println!("faults:");
    for f in Fault::ALL {
        let (p, why) = registry::target(f);
        println!("  {:4} {why} (breaks {p})", f.name());
    }
    println!("properties:");
    for p in properties::names(Mode::Liveness) {
        println!("  {p}");
    }
    println!("checks ({} tier):", if tier == Tier::Tiny { "tiny" } else { "standard" });
    for c in registry::all(tier) {
        println!("  {:45} {}", c.name(), c.why);
    }
    Ok(ExitCode::SUCCESS)
}

fn short(p: &str) -> &str {
    p.split(' ').next().unwrap_or(p)
}

/// The judged verdicts, grouped: `holds S1 S2 ... | VIOLATED S3`.
fn summary(o: &Outcome, verbose: bool) -> String {
    let mut groups: Vec<(Verdict, Vec<&str>)> = Vec::new();
    for (p, v) in &o.verdicts {
        if !verbose && !o.check.expect.iter().any(|(n, _)| n == p) {
            continue;
        }
        match groups.iter_mut().find(|(g, _)| g == v) {
            Some((_, list)) => list.push(short(p)),
            None => groups.push((*v, vec![short(p)])),
        }
    }
    groups.iter().map(|(v, l)| format!("{} {}", v.name(), l.join(" "))).collect::<Vec<_>>().join(" | ")
}

fn check(select: &Select, run: &Run, verbose: bool) -> Result<ExitCode, Error> {
    let choice = parse_select(select)?;
    let opts = parse_run(run, false)?;
    let checks = checks_for(&choice);
    let mut outcomes = Vec::new();
    for c in &checks {
        let o = runner::run(c, &opts);
        if !run.quiet {
            eprintln!("  {:45} {}", c.name(), if o.as_expected() { "as expected" } else { "MISMATCH" });
        }
        outcomes.push(o);
    }
    print_table(&outcomes, verbose);
    let bad: Vec<&Outcome> = outcomes.iter().filter(|o| !o.as_expected()).collect();
    for o in &bad {
        for (p, e, v) in o.mismatches() {
            println!("MISMATCH {}: `{p}` expected {e:?}, got {}", o.check.name(), v.name());
        }
    }
    if bad.is_empty() {
        println!("{} checks, every verdict as expected", outcomes.len());
        Ok(ExitCode::SUCCESS)
    } else {
        println!("{} of {} checks differ from their expectations", bad.len(), outcomes.len());
        Ok(ExitCode::from(1))
    }
}

/// The verdict table.
pub fn print_table(outcomes: &[Outcome], verbose: bool) {
    println!(
        "{:<45} {:>10} {:>5} {:>8}  {:<11} verdicts (judged properties)",
        "check", "states", "depth", "time", "result"
    );
    for o in outcomes {
        let result = if o.check.expect.is_empty() {
            "no expect"
        } else if o.as_expected() {
            "as expected"
        } else {
            "MISMATCH"
        };
        println!(
            "{:<45} {:>10} {:>5} {:>7.2}s  {:<11} {}",
            o.check.name(),
            o.unique,
            o.depth,
            o.elapsed.as_secs_f64(),
            result,
            summary(o, verbose || o.check.expect.is_empty())
        );
    }
}

fn trace(select: &Select, property: Option<String>, format: &str, out: Option<String>) -> Result<ExitCode, Error> {
    let format = parse_format(format)?;
    let choice = parse_select(select)?;
    let checks = checks_for(&choice);
    if checks.len() != 1 {
        let list = names(checks.iter().map(|c| c.name()));
        return Err(Error::BadOption(format!(
            "a trace comes from one check; these {} match, choose one with --config/--variant/--fault/--mode: {list}",
            checks.len()
        )));
    }
    let check = &checks[0];
    let all = properties::names(check.mode);
    if let Some(p) = &property {
        if !all.iter().any(|n| n == p || short(n) == p) {
            return Err(Error::UnknownProperty(p.clone(), names(all.iter().map(|n| short(n)))));
        }
    }
    let wanted = property.map(|p| all.iter().find(|n| **n == p || short(n) == p).expect("checked").to_string());
    // Hunt only the property wanted, so the search stops at its shortest trace.
    let mut hunt = check.clone();
    if let Some(p) = &wanted {
        hunt.expect = vec![(p.clone(), Expect::Violated)];
    }
    let o = runner::run(&hunt, &Options { progress: true, ..Options::default() });
    let t = match &wanted {
        Some(p) => o.trace(p),
        None => hunt
            .expect
            .iter()
            .find(|(_, e)| *e == Expect::Violated)
            .and_then(|(p, _)| o.trace(p))
            .or_else(|| o.traces.iter().find(|t| t.kind != crate::trace::Kind::Example)),
    };
    let Some(t) = t else {
        eprintln!("no counterexample in {} ({} states explored)", check.name(), o.unique);
        return Ok(ExitCode::from(1));
    };
    let text = render::render(t, format).map_err(Error::BadOption)?;
    match out {
        Some(path) => {
            std::fs::write(&path, text).map_err(|source| Error::Io { path: path.clone(), source })?;
            eprintln!("wrote {} ({} steps, \"{}\")", path, t.steps.len() - 1, t.property);
        }
        None => print!("{text}"),
    }
    Ok(ExitCode::SUCCESS)
}

fn replay_files(files: &[String]) -> Result<ExitCode, Error> {
    let mut failed = 0;
    for f in files {
        let t = Trace::read(f)?;
        let model = replay::on_model(&t);
        let roles = replay::on_roles(&t);
        match (&model, &roles) {
            (Ok(r), Ok(_)) => println!("{f}: reproduced: {} steps, `{}` ({:?}), on the model and on the roles", r.steps, r.property, r.kind),
            _ => {
                failed += 1;
                if let Err(e) = model {
                    println!("{f}: NOT reproduced on the model: {e}");
                }
                if let Err(e) = roles {
                    println!("{f}: NOT reproduced on the roles: {e}");
                }
            }
        }
    }
    Ok(if failed == 0 { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

fn explore(select: &Select, port: u16) -> Result<ExitCode, Error> {
    use stateright::Model;
    let choice = parse_select(select)?;
    let checks = checks_for(&choice);
    let check = &checks[0];
    if checks.len() > 1 {
        eprintln!("exploring {} (the first of {} matching checks)", check.name(), checks.len());
    }
    let addr = format!("127.0.0.1:{port}");
    eprintln!("Explorer for {} on http://{addr}/ (Ctrl-C to stop)", check.name());
    runner::model_of(check).checker().serve(addr.as_str());
    Ok(ExitCode::SUCCESS)
}
