//! The `rcopy-check` command line. Exit codes: 0 when every verdict matches its expectation
//! (or every replay reproduces its trace); 1 when one does not, or a run stopped before it
//! could establish one, or the output could not be written; 2 for bad input; 130 when Ctrl-C
//! ended a run (the verdicts reached so far are printed first).

use crate::error::Error;
use crate::explorer::{self, Bounds, Strategy};
use crate::outln;
use crate::output::{self, note};
use crate::registry::{self, Registered};
use crate::render::Format;
use crate::runner::{Engine, Options, Outcome};
use crate::summary::{self, names, short};
use crate::trace::Trace;
use clap::{Parser, Subcommand};
use rcopy_model::protocol::{Check, Expect, Kind, Tier};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

#[derive(Parser, Debug)]
#[command(
    name = "rcopy-check",
    version,
    about = "Model-check storage remote-copy protocols and review their counterexamples"
)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// What to explore: registered checks, or an ad-hoc one.
#[derive(clap::Args, Debug, Clone)]
struct Select {
    /// Protocol (default: every protocol).
    protocol: Option<String>,
    /// A named config of the world (e.g. tiny, standard), or a path to a TOML file.
    #[arg(long)]
    config: Option<String>,
    /// Override one config field: --set writes=4 (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    sets: Vec<String>,
    /// faithful (the text as written) or hardened (the fixes of the notes).
    #[arg(long)]
    variant: Option<String>,
    /// A seeded fault to switch on (repeatable), e.g. --fault B1; --fault none: no fault.
    #[arg(long = "fault")]
    faults: Vec<String>,
    /// The protocol's mode (`rcopy-check list` names them).
    #[arg(long)]
    mode: Option<String>,
    /// Which registered checks when nothing else is chosen: tiny (cargo test) or standard (make check).
    #[arg(long, default_value = "standard")]
    tier: String,
}

#[derive(clap::Args, Debug, Clone)]
struct Run {
    /// rcopy (its own explorer) or stateright (its checkers, as a cross-check).
    #[arg(long, default_value = "rcopy")]
    engine: String,
    /// bfs (shortest traces), dfs, or simulation (random walks).
    #[arg(long, default_value = "bfs")]
    strategy: String,
    /// Seed of --strategy simulation.
    #[arg(long)]
    seed: Option<u64>,
    /// Explorer threads.
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Stop each run after this many seconds. Simulation without --timeout stops after 10 s.
    #[arg(long, value_name = "SECS")]
    timeout: Option<u64>,
    /// Stop each run once this many unique states are stored.
    #[arg(long)]
    max_states: Option<u64>,
    /// Do not expand states at this depth.
    #[arg(long)]
    max_depth: Option<usize>,
    /// Stop each run before the process holds this many MiB (default: 80% of what is free).
    #[arg(long, value_name = "MIB")]
    max_memory: Option<u64>,
    /// Leave liveness out: no graph is kept (leaner), and liveness properties are unknown
    /// unless a search finds one violated.
    #[arg(long)]
    no_liveness: bool,
    /// No progress line.
    #[arg(long, short)]
    quiet: bool,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// List protocols, configs and their fields, variants, modes, faults, properties, action
    /// classes and the registered checks.
    List {
        protocol: Option<String>,
        #[arg(long, default_value = "standard")]
        tier: String,
    },
    /// Run checks and print the verdict table.
    Check {
        #[command(flatten)]
        select: Select,
        #[command(flatten)]
        run: Run,
        /// Print every property's verdict and the coverage, not only the judged properties.
        #[arg(long, short)]
        verbose: bool,
        /// Print the whole result as JSON instead of the table.
        #[arg(long)]
        json: bool,
        /// Write each trace found to DIR/<check>/<property>.json.
        #[arg(long, value_name = "DIR")]
        traces: Option<String>,
    },
    /// Find the shortest counterexample (or example) of one property and write it.
    Trace {
        #[command(flatten)]
        select: Select,
        #[command(flatten)]
        run: Run,
        /// The property, by name or its first word (default: the first the check expects
        /// violated, else the first found).
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
        /// Stop serving after this many seconds.
        #[arg(long, value_name = "SECS")]
        timeout: Option<u64>,
        /// Stop before the process holds this many MiB (default: 80% of what is free): the
        /// Explorer keeps every state it has shown.
        #[arg(long, value_name = "MIB")]
        max_memory: Option<u64>,
    },
    /// Benchmarks: rcopy's explorer and stateright's on the protocols' bench configs.
    Bench {
        /// Cap each run at this many seconds.
        #[arg(long, default_value_t = 120)]
        cap: u64,
        /// Runs of each short measurement (the median is shown).
        #[arg(long, default_value_t = 3)]
        runs: usize,
    },
}

/// Set by Ctrl-C while a run is going; a second Ctrl-C, or one with no run going, exits.
static RUNNING: AtomicBool = AtomicBool::new(false);

fn interrupt_flag() -> Arc<AtomicBool> {
    let flag = Arc::new(AtomicBool::new(false));
    let f = flag.clone();
    // Installing can fail only if a handler exists already (a second call in tests): then
    // runs are not interruptible, which is harmless.
    let _ = ctrlc::set_handler(move || {
        if !RUNNING.load(Ordering::Relaxed) || f.swap(true, Ordering::Relaxed) {
            std::process::exit(130);
        }
    });
    flag
}

pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            // Help and version go to stdout; a closed stdout is not worth a panic.
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    match dispatch(cli.command) {
        Ok(code) => code,
        Err(e) => {
            note(&format!("error: {e}"));
            ExitCode::from(e.exit_code())
        }
    }
}

fn dispatch(cmd: Command) -> Result<ExitCode, Error> {
    match cmd {
        Command::List { protocol, tier } => list(protocol.as_deref(), parse_tier(&tier)?),
        Command::Check { select, run, verbose, json, traces } => check(&select, &run, verbose, json, traces),
        Command::Trace { select, run, property, format, out } => trace(&select, &run, property, &format, out),
        Command::Render { file, format } => {
            let format = parse_format(&format)?;
            let t = Trace::read(&file)?;
            let p = registry::find(&t.protocol)?;
            let text = p.render(&t, format).map_err(|reason| Error::BadTrace { path: file, reason })?;
            output::print(&text)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Replay { files } => replay_files(&files),
        Command::Explore { select, port, timeout, max_memory } => explore(&select, port, timeout, max_memory),
        Command::Bench { cap, runs } => crate::bench::run(cap, runs.max(1)),
    }
}

fn parse_tier(s: &str) -> Result<Tier, Error> {
    Tier::from_name(s).ok_or(Error::BadOption(format!("unknown tier `{s}` (valid: tiny, standard)")))
}

fn parse_format(s: &str) -> Result<Format, Error> {
    Format::from_name(s).ok_or(Error::BadOption(format!("unknown format `{s}` (valid: {})", names(Format::NAMES))))
}

/// The protocols a selection ranges over.
fn protocols_of(s: &Select) -> Result<Vec<&'static dyn Registered>, Error> {
    match &s.protocol {
        Some(p) => Ok(vec![registry::find(p)?]),
        None => Ok(crate::protocols::all()),
    }
}

/// Check the names a selection gives against protocol `p`.
fn validate(p: &dyn Registered, s: &Select, faults: &Option<Vec<String>>) -> Result<(), Error> {
    // Without --config, --set is checked against the config of each selected check, later.
    if let Some(c) = &s.config {
        p.config_record(c, &s.sets)?;
    }
    if let Some(v) = &s.variant {
        if !p.variants().contains(&v.as_str()) {
            return Err(Error::UnknownVariant(v.clone(), p.name().into(), names(p.variants())));
        }
    }
    if let Some(m) = &s.mode {
        if !p.modes().iter().any(|(n, _)| n == m) {
            return Err(Error::UnknownMode(m.clone(), p.name().into(), names(p.modes().iter().map(|(n, _)| *n))));
        }
    }
    for f in faults.iter().flatten() {
        if !p.faults().iter().any(|x| x.name == f) {
            return Err(Error::UnknownFault(f.clone(), p.name().into(), names(p.faults().iter().map(|x| x.name))));
        }
    }
    Ok(())
}

/// The faults a selection names: `None` if it names none (any), `Some([])` for `--fault none`.
fn parse_faults(p: &dyn Registered, s: &Select) -> Result<Option<Vec<String>>, Error> {
    if s.faults.is_empty() {
        return Ok(None);
    }
    if s.faults.iter().any(|f| f.eq_ignore_ascii_case("none")) {
        if s.faults.len() > 1 {
            return Err(Error::BadOption("--fault none cannot be combined with other faults".into()));
        }
        return Ok(Some(Vec::new()));
    }
    let known = p.faults();
    let mut v: Vec<String> = Vec::new();
    for f in &s.faults {
        let name = known
            .iter()
            .find(|k| k.name.eq_ignore_ascii_case(f))
            .map(|k| k.name.to_string())
            .ok_or_else(|| Error::UnknownFault(f.clone(), p.name().into(), names(known.iter().map(|k| k.name))))?;
        if v.contains(&name) {
            return Err(Error::BadOption(format!("fault {name} given twice")));
        }
        v.push(name);
    }
    let order = |n: &String| known.iter().position(|k| k.name == n);
    v.sort_by_key(order);
    Ok(Some(v))
}

/// The registered checks a selection names, or one ad-hoc check with no expectations.
fn checks_for(s: &Select) -> Result<Vec<Check>, Error> {
    let tier = parse_tier(&s.tier)?;
    let protocols = protocols_of(s)?;
    let mut out = Vec::new();
    let mut errors = Vec::new();
    for p in &protocols {
        let faults = match parse_faults(*p, s).and_then(|f| validate(*p, s, &f).map(|_| f)) {
            Ok(f) => f,
            Err(e) => {
                errors.push(e);
                continue;
            }
        };
        let mut pool = p.checks(tier);
        if s.config.is_some() {
            // A named config may be registered in the other tier only.
            let other = if tier == Tier::Tiny { Tier::Standard } else { Tier::Tiny };
            let extra: Vec<Check> = p.checks(other).into_iter().filter(|k| !pool.contains(k)).collect();
            pool.extend(extra);
        }
        let mut matching: Vec<Check> = pool
            .into_iter()
            .filter(|k| s.config.as_ref().is_none_or(|x| *x == k.config))
            .filter(|k| s.variant.as_ref().is_none_or(|v| *v == k.variant))
            .filter(|k| s.mode.as_ref().is_none_or(|m| *m == k.mode))
            .filter(|k| faults.as_ref().is_none_or(|f| *f == k.faults))
            .collect();
        if matching.is_empty() && (protocols.len() == 1 || s.protocol.is_some()) {
            let config = s.config.clone().unwrap_or_else(|| {
                let t = tier.name();
                if p.configs().iter().any(|c| c.name == t) {
                    t.to_string()
                } else {
                    p.configs()[0].name.to_string()
                }
            });
            matching.push(Check {
                protocol: p.name().into(),
                config,
                sets: Vec::new(),
                variant: s.variant.clone().unwrap_or_else(|| p.variants().last().copied().unwrap_or_default().into()),
                faults: faults.clone().unwrap_or_default(),
                mode: s.mode.clone().unwrap_or_else(|| p.modes().first().map(|m| m.0).unwrap_or_default().into()),
                expect: Vec::new(),
                why: "ad hoc: not registered, so no verdict is expected".into(),
            });
        }
        for k in &mut matching {
            k.sets.extend(s.sets.iter().cloned());
        }
        out.extend(matching);
    }
    if out.is_empty() {
        return Err(match errors.into_iter().next() {
            Some(e) => e,
            None => Error::BadOption("no registered check matches; name a protocol to run an ad-hoc check".into()),
        });
    }
    // Every check must make a model: a bad config, --set or fault is reported before any run.
    for k in &out {
        registry::find(&k.protocol)?.check_properties(k)?;
    }
    Ok(out)
}

fn parse_run(r: &Run) -> Result<Options, Error> {
    if r.threads == 0 {
        return Err(Error::BadOption("--threads must be at least 1".into()));
    }
    if r.threads > 256 {
        return Err(Error::BadOption(format!("--threads {} is more than anyone needs here (at most 256)", r.threads)));
    }
    let engine = Engine::from_name(&r.engine).ok_or(Error::BadOption(format!(
        "unknown engine `{}` (valid: {})",
        r.engine,
        names(Engine::NAMES)
    )))?;
    let strategy = match (r.strategy.as_str(), r.seed) {
        ("bfs", None) => Strategy::Bfs,
        ("dfs", None) => Strategy::Dfs,
        ("simulation", seed) => Strategy::Walks { seed: seed.unwrap_or(0) },
        ("bfs" | "dfs", Some(_)) => {
            return Err(Error::BadOption("--seed applies only to --strategy simulation".into()))
        }
        (s, _) => return Err(Error::BadOption(format!("unknown strategy `{s}` (valid: bfs, dfs, simulation)"))),
    };
    if r.timeout == Some(0) || r.max_states == Some(0) || r.max_memory == Some(0) {
        return Err(Error::BadOption("--timeout, --max-states and --max-memory must be positive".into()));
    }
    // Random walks without a time bound get the explorer's budget (ten seconds).
    let timeout = r.timeout;
    let max_memory = match r.max_memory {
        Some(mib) => Some(mib.saturating_mul(1 << 20)),
        None => explorer::default_max_memory(),
    };
    Ok(Options {
        engine,
        strategy,
        threads: r.threads,
        bounds: Bounds {
            max_states: r.max_states,
            max_depth: r.max_depth,
            timeout: timeout.map(Duration::from_secs),
            max_memory,
        },
        progress: !r.quiet,
        interrupt: None,
        trace_dir: None,
        liveness: !r.no_liveness,
    })
}

fn list(protocol: Option<&str>, tier: Tier) -> Result<ExitCode, Error> {
    let protocols = match protocol {
        Some(p) => vec![registry::find(p)?],
        None => crate::protocols::all(),
    };
    outln!("protocols: {}", names(crate::protocols::all().iter().map(|p| p.name())))?;
    for p in protocols {
        outln!()?;
        outln!("{}: {}", p.name(), p.about())?;
        outln!("  variants: {}", names(p.variants()))?;
        outln!("  modes:")?;
        for (m, about) in p.modes() {
            outln!("    {m:10} {about}")?;
        }
        outln!("  configs (--config NAME or FILE.toml; --set KEY=VALUE):")?;
        for c in p.configs() {
            let record = p.config_record(c.name, &[])?;
            let about = record.values.get("about").and_then(|a| a.as_str()).unwrap_or("");
            outln!("    {}: {about}", c.name)?;
            let fields: Vec<String> = record
                .values
                .as_object()
                .into_iter()
                .flatten()
                .filter(|(k, _)| k.as_str() != "about")
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            outln!("      {}", fields.join(" "))?;
        }
        outln!("  config fields:")?;
        for f in p.config_fields() {
            outln!("    {:12} {}", f.key, f.about)?;
        }
        outln!("  faults:")?;
        for f in p.faults() {
            outln!("    {:4} {} (breaks {})", f.name, f.why, names(f.breaks.iter().map(|b| short(b))))?;
        }
        outln!("  properties:")?;
        for prop in p.properties() {
            outln!("    {:45} {:8} {}", prop.name, prop.kind.name(), names(prop.tags))?;
        }
        outln!("  action classes: {}", names(p.action_classes()))?;
        if let Some(c) = p.checks(tier).into_iter().next() {
            let fair: Vec<String> =
                p.fair_classes(&c)?.iter().map(|(n, f)| format!("{n} ({})", format!("{f:?}").to_lowercase())).collect();
            outln!("  fairness classes (config {}): {}", c.config, fair.join(", "))?;
        }
        outln!("  symmetry: {}", if p.has_symmetry() { "declared" } else { "none declared" })?;
        outln!("  checks ({} tier):", tier.name())?;
        for c in p.checks(tier) {
            outln!("    {:45} {}", c.name(), c.why)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Run `checks` in order; a Ctrl-C ends the current one and skips the rest.
fn run_all(checks: &[Check], opts: &Options, quiet: bool) -> Result<(Vec<Outcome>, bool), Error> {
    let mut outcomes = Vec::new();
    let interrupted = opts.interrupt.clone().unwrap_or_default();
    RUNNING.store(true, Ordering::Relaxed);
    for c in checks {
        let o = registry::find(&c.protocol)?.run(c, opts);
        let o = match o {
            Ok(o) => o,
            Err(e) => {
                RUNNING.store(false, Ordering::Relaxed);
                return Err(e);
            }
        };
        if !quiet {
            note(&format!("  {:45} {}", c.name(), if o.as_expected() { "as expected" } else { "NOT as expected" }));
        }
        let abandoned = opts.engine == Engine::Stateright && !o.exhaustive && o.ended != explorer::Ended::Hunted;
        outcomes.push(o);
        if interrupted.load(Ordering::Relaxed) {
            break;
        }
        if abandoned && outcomes.len() < checks.len() {
            note("the stateright engine cannot stop a run it was asked to end: the remaining checks are skipped");
            break;
        }
    }
    RUNNING.store(false, Ordering::Relaxed);
    Ok((outcomes, interrupted.load(Ordering::Relaxed)))
}

fn check(select: &Select, run: &Run, verbose: bool, json: bool, traces: Option<String>) -> Result<ExitCode, Error> {
    let checks = checks_for(select)?;
    let mut opts = parse_run(run)?;
    opts.interrupt = Some(interrupt_flag());
    if let Some(dir) = &traces {
        // Fail before the search, not after it.
        let probe = std::path::Path::new(dir).join(".rcopy-write-test");
        std::fs::create_dir_all(dir)
            .and_then(|_| std::fs::write(&probe, b""))
            .and_then(|_| std::fs::remove_file(&probe))
            .map_err(|source| Error::CannotWrite { path: dir.clone(), source })?;
    }
    opts.trace_dir = traces.map(Into::into);
    let (outcomes, interrupted) = run_all(&checks, &opts, run.quiet || json)?;
    if json {
        outln!("{}", summary::json(&outcomes))?;
    } else {
        output::print(&summary::table(&outcomes, verbose))?;
        if outcomes.len() < checks.len() {
            outln!("{} of {} checks not run", checks.len() - outcomes.len(), checks.len())?;
        }
        outln!("{}", summary::collision_line(&outcomes))?;
        outln!("{}", summary::verdict_line(&outcomes))?;
    }
    if interrupted {
        note("interrupted: the verdicts above are those reached so far");
        return Ok(ExitCode::from(130));
    }
    let all_ran = outcomes.len() == checks.len();
    Ok(if all_ran && outcomes.iter().all(Outcome::as_expected) { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

/// The output of `trace -o`: checked writable before the search, removed if nothing is found
/// and it did not exist before.
struct OutFile {
    path: String,
    existed: bool,
}

impl OutFile {
    fn open(path: &str) -> Result<OutFile, Error> {
        let existed = std::path::Path::new(path).exists();
        std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(path)
            .map_err(|source| Error::CannotWrite { path: path.into(), source })?;
        Ok(OutFile { path: path.into(), existed })
    }

    fn discard(&self) {
        if !self.existed {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

fn trace(
    select: &Select,
    run: &Run,
    property: Option<String>,
    format: &str,
    out: Option<String>,
) -> Result<ExitCode, Error> {
    let format = parse_format(format)?;
    let checks = checks_for(select)?;
    if checks.len() != 1 {
        let list = names(checks.iter().map(|c| c.name()));
        return Err(Error::BadOption(format!(
            "a trace comes from one check; these {} match, choose one with --config/--variant/--fault/--mode (--fault none: no fault): {list}",
            checks.len()
        )));
    }
    let check = &checks[0];
    let p = registry::find(&check.protocol)?;
    let props = p.check_properties(check)?;
    let wanted = match &property {
        Some(w) => Some(
            props
                .iter()
                .find(|(n, _)| n == w || short(n) == w)
                .ok_or_else(|| Error::UnknownProperty(w.clone(), names(props.iter().map(|(n, _)| short(n)))))?,
        ),
        None => None,
    };
    let mut opts = parse_run(run)?;
    opts.interrupt = Some(interrupt_flag());
    let file = out.as_deref().map(OutFile::open).transpose()?;
    // Hunt only what is wanted, so that the search stops at its shortest trace.
    let mut hunt = check.clone();
    match wanted {
        Some((name, kind)) => {
            let e = if *kind == Kind::Example { Expect::Witnessed } else { Expect::Violated };
            hunt.expect = vec![(name.to_string(), e)];
        }
        None if hunt.hunts() => {}
        None => hunt.expect.retain(|(_, e)| *e == Expect::Violated),
    }
    let (outcomes, interrupted) = run_all(std::slice::from_ref(&hunt), &opts, true)?;
    let o = outcomes.first();
    let t = o.and_then(|o| match wanted {
        Some((name, _)) => o.trace(name),
        None => hunt
            .expect
            .iter()
            .find_map(|(n, _)| o.trace(n))
            .or_else(|| o.traces.iter().find(|t| t.kind != Kind::Example)),
    });
    let Some(t) = t else {
        if let Some(f) = &file {
            f.discard();
        }
        let how = o.map_or("not run".to_string(), |o| format!("{} states, {}", o.unique, o.ended.describe()));
        note(&format!("no counterexample in {} ({how})", check.name()));
        return Ok(ExitCode::from(if interrupted { 130 } else { 1 }));
    };
    let text = p.render(t, format).map_err(Error::BadOption)?;
    match file {
        Some(f) => {
            std::fs::write(&f.path, text).map_err(|source| Error::CannotWrite { path: f.path.clone(), source })?;
            note(&format!("wrote {} ({} steps, \"{}\")", f.path, t.len(), t.property));
        }
        None => output::print(&text)?,
    }
    Ok(ExitCode::SUCCESS)
}

fn replay_files(files: &[String]) -> Result<ExitCode, Error> {
    let mut worst = 0u8;
    for f in files {
        let t = match Trace::read(f).and_then(|t| registry::find(&t.protocol).map(|p| (t, p))) {
            Ok(x) => x,
            Err(e) => {
                outln!("{f}: cannot replay: {e}")?;
                worst = worst.max(e.exit_code());
                continue;
            }
        };
        let (t, p) = t;
        let model = p.replay_on_model(&t);
        let roles = p.replay_on_roles(&t);
        match (&model, &roles) {
            (Ok(r), Ok(_)) => outln!(
                "{f}: reproduced: {} steps, `{}` ({}), on the model and on the roles",
                r.steps,
                r.property,
                r.kind.name()
            )?,
            _ => {
                worst = worst.max(1);
                if let Err(e) = model {
                    outln!("{f}: NOT reproduced on the model: {e}")?;
                }
                if let Err(e) = roles {
                    outln!("{f}: NOT reproduced on the roles: {e}")?;
                }
            }
        }
    }
    Ok(ExitCode::from(worst))
}

/// Watch the Explorer's process: the time and memory bounds end it with a message (the
/// Explorer's server cannot be stopped from inside).
fn watchdog(timeout: Option<u64>, max_memory: Option<u64>) {
    let deadline = timeout.and_then(|t| std::time::Instant::now().checked_add(Duration::from_secs(t)));
    std::thread::spawn(move || loop {
        std::thread::sleep(Duration::from_millis(200));
        if deadline.is_some_and(|d| std::time::Instant::now() >= d) {
            note("explore: the time bound passed; stopping");
            std::process::exit(0);
        }
        if max_memory.is_some_and(|m| explorer::rss_bytes().is_some_and(|r| r >= m)) {
            note("explore: the memory bound was reached; stopping");
            std::process::exit(1);
        }
    });
}

fn explore(select: &Select, port: u16, timeout: Option<u64>, max_memory: Option<u64>) -> Result<ExitCode, Error> {
    if timeout == Some(0) || max_memory == Some(0) {
        return Err(Error::BadOption("--timeout and --max-memory must be positive".into()));
    }
    let checks = checks_for(select)?;
    let check = &checks[0];
    if checks.len() > 1 {
        note(&format!("exploring {} (the first of {} matching checks)", check.name(), checks.len()));
    }
    let addr = format!("127.0.0.1:{port}");
    let p = registry::find(&check.protocol)?;
    interrupt_flag();
    let max_memory = max_memory.map(|m| m.saturating_mul(1 << 20)).or_else(explorer::default_max_memory);
    let ready = || {
        note(&format!("Explorer for {} on http://{addr}/ (Ctrl-C to stop)", check.name()));
        watchdog(timeout, max_memory);
    };
    p.serve(check, &addr, &ready)?;
    Ok(ExitCode::SUCCESS)
}

/// Parse `rcopy-check` arguments (the first is the program name) without running anything:
/// for tests that the parser never panics.
pub fn parse(args: &[String]) -> Result<(), String> {
    Cli::try_parse_from(args).map(|_| ()).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_parser_accepts_the_documented_forms() {
        let ok = |a: &str| parse(&a.split(' ').map(String::from).collect::<Vec<_>>());
        assert!(ok("rcopy-check check some-protocol --config tiny --set writes=3 --fault none").is_ok());
        assert!(ok("rcopy-check trace --config tiny --fault B1 --format dot -o x.dot").is_ok());
        assert!(ok("rcopy-check check --threads lots").is_err());
    }
}
