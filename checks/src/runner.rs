//! Run a check of a protocol: load its config, build its model, explore it with rcopy's
//! explorer (or stateright's checkers, as a cross-check), and judge the result against the
//! check's expectations: verdicts, coverage, traces.

use crate::config::{self, ConfigRecord};
use crate::error::Error;
use crate::explorer::{self, Bounds, ClassCount, Ended, Explorer, Judged, Kind, Strategy, Verdict};
use crate::stateright_engine;
use crate::trace::{Step, Trace, FORMAT_VERSION};
use rcopy_model::protocol::{Check, Expect, Fairness, Protocol};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Which explorer runs a check.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Engine {
    /// rcopy's own explorer.
    Rcopy,
    /// stateright's checkers (no coverage; bounds and Ctrl-C only as far as stateright honours
    /// them).
    Stateright,
}

impl Engine {
    pub const NAMES: [&'static str; 2] = ["rcopy", "stateright"];

    pub fn name(self) -> &'static str {
        match self {
            Engine::Rcopy => "rcopy",
            Engine::Stateright => "stateright",
        }
    }

    pub fn from_name(s: &str) -> Option<Engine> {
        match s {
            "rcopy" => Some(Engine::Rcopy),
            "stateright" => Some(Engine::Stateright),
            _ => None,
        }
    }
}

/// How to run.
#[derive(Clone, Debug)]
pub struct Options {
    pub engine: Engine,
    pub strategy: Strategy,
    pub threads: usize,
    pub bounds: Bounds,
    /// Draw a progress line on stderr for runs longer than two seconds.
    pub progress: bool,
    /// Set by a Ctrl-C handler: ends the run with the verdicts reached so far.
    pub interrupt: Option<Arc<AtomicBool>>,
    /// Write each trace found to `<dir>/<check>/<property>.json`.
    pub trace_dir: Option<PathBuf>,
    /// Judge liveness (keep the graph) when the check needs it. Off: liveness is unknown unless
    /// a search finds it violated, and the run is leaner.
    pub liveness: bool,
}

impl Default for Options {
    /// Breadth-first with rcopy's explorer on one thread, bounded only by memory.
    fn default() -> Options {
        Options {
            engine: Engine::Rcopy,
            strategy: Strategy::Bfs,
            threads: 1,
            bounds: Bounds { max_memory: explorer::default_max_memory(), ..Bounds::default() },
            progress: false,
            interrupt: None,
            trace_dir: None,
            liveness: true,
        }
    }
}

/// One property's result in a check.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PropertyOutcome {
    pub property: String,
    pub kind: Kind,
    pub verdict: Verdict,
    /// What the check expects, if it judges this property.
    pub expected: Option<Expect>,
    /// The counterexample's or example's length in steps.
    pub trace_steps: Option<usize>,
    /// Where the trace was written.
    pub trace_file: Option<String>,
    /// Why a discovery has no trace.
    pub trace_error: Option<String>,
}

/// The result of a check.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Outcome {
    pub check: Check,
    pub engine: Engine,
    pub strategy: String,
    pub threads: usize,
    pub ended: Ended,
    pub exhaustive: bool,
    pub unique: u64,
    pub generated: u64,
    pub depth: usize,
    /// Seconds, including rebuilding every trace.
    pub seconds: f64,
    pub properties: Vec<PropertyOutcome>,
    /// Per action class (empty with the stateright engine, which does not measure it).
    pub coverage: Vec<ClassCount>,
    /// Action classes that never fired.
    pub never_fired: Vec<String>,
    /// The classes the protocol says must fire in this check.
    pub must_fire: Vec<String>,
    /// `sometimes` properties without an example.
    pub unwitnessed: Vec<String>,
    pub table_bytes: u64,
    /// The liveness graph, when one was kept.
    pub graph: Option<GraphFigures>,
    /// The largest resident memory seen during the run.
    pub peak_rss: Option<u64>,
    /// The process's peak resident memory when the run ended (its own peak when it is the
    /// process's only run, as in `make bench`).
    pub process_peak_rss: Option<u64>,
    pub collision_probability: f64,
    #[serde(skip)]
    pub traces: Vec<Trace>,
}

/// The liveness graph of a run, for the JSON output and `make bench`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct GraphFigures {
    pub states: u64,
    pub edges: u64,
    /// Offsets, edges and their classes, pending bits.
    pub bytes: u64,
    pub build_seconds: f64,
    pub scc_seconds: f64,
}

/// Why a check is not as expected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Mismatch {
    Verdict {
        property: String,
        expected: Expect,
        found: Verdict,
    },
    NeverFired(String),
    /// A check with no expectations whose run did not visit the whole space: it established
    /// nothing beyond what it found.
    Incomplete(Ended),
}

impl std::fmt::Display for Mismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Mismatch::Verdict { property, expected, found } => {
                write!(f, "`{property}` expected {}, got {}", expected.name(), found.name())
            }
            Mismatch::NeverFired(c) => {
                write!(f, "action class `{c}` never fired: the model did less than the check claims")
            }
            Mismatch::Incomplete(e) => write!(f, "the run {}: what it did not find is not established", e.describe()),
        }
    }
}

impl Outcome {
    pub fn verdict(&self, property: &str) -> Option<Verdict> {
        self.properties.iter().find(|p| p.property == property).map(|p| p.verdict)
    }

    /// The expectations the run did not establish.
    pub fn mismatches(&self) -> Vec<Mismatch> {
        let mut v: Vec<Mismatch> = self
            .check
            .expect
            .iter()
            .filter_map(|(p, e)| {
                let found = self.verdict(p).unwrap_or(Verdict::Unknown);
                let meets = matches!(
                    (found, e),
                    (Verdict::Holds, Expect::Holds)
                        | (Verdict::Violated, Expect::Violated)
                        | (Verdict::Witnessed, Expect::Witnessed)
                );
                (!meets).then(|| Mismatch::Verdict { property: p.clone(), expected: *e, found })
            })
            .collect();
        v.extend(
            self.must_fire.iter().filter(|c| self.never_fired.contains(c)).map(|c| Mismatch::NeverFired(c.clone())),
        );
        if self.check.expect.is_empty() && !self.exhaustive {
            v.push(Mismatch::Incomplete(self.ended));
        }
        v
    }

    pub fn as_expected(&self) -> bool {
        self.mismatches().is_empty()
    }

    pub fn trace(&self, property: &str) -> Option<&Trace> {
        self.traces.iter().find(|t| t.property == property)
    }

    pub fn elapsed(&self) -> Duration {
        Duration::from_secs_f64(self.seconds)
    }
}

/// The config and model of a check.
pub fn model_of<P: Protocol>(p: &P, check: &Check) -> Result<(P::Model, ConfigRecord), Error> {
    let loaded = config::load::<P::Config>(p.name(), p.configs(), p.config_fields(), &check.config, &check.sets)?;
    let model = p.model(&loaded.config, &check.variant, &check.faults, &check.mode).map_err(|message| {
        let source = if check.sets.is_empty() {
            format!("config `{}`", check.config)
        } else {
            format!("config `{}` with --set {}", check.config, check.sets.join(" --set "))
        };
        Error::BadConfig { origin: source, message }
    })?;
    Ok((model, loaded.record))
}

/// The trace of a judged property's path (if it has one), each step labelled by the
/// protocol's narration.
pub fn trace_of<P: Protocol>(
    p: &P,
    model: &P::Model,
    check: &Check,
    record: &ConfigRecord,
    judged: &Judged<P::State, P::Action>,
) -> Option<Trace> {
    let path = judged.path.as_ref()?;
    let state = |s: &P::State| serde_json::to_value(s).expect("states serialise");
    let mut steps = vec![Step { label: "init".into(), action: None, state: state(&path.states[0]) }];
    for (i, a) in path.actions.iter().enumerate() {
        let label = p.narrate(model, &path.states[i], a, &path.states[i + 1]).line();
        steps.push(Step {
            label,
            action: Some(serde_json::to_value(a).expect("actions serialise")),
            state: state(&path.states[i + 1]),
        });
    }
    Some(Trace {
        format_version: FORMAT_VERSION,
        protocol: p.name().into(),
        check: check.name(),
        config: record.clone(),
        variant: check.variant.clone(),
        faults: check.faults.clone(),
        mode: check.mode.clone(),
        property: judged.name.into(),
        kind: judged.kind,
        loop_index: judged.loop_index,
        steps,
    })
}

/// A file name for a check and a property: `<protocol>-tiny-hardened-safety+B1/S3.json`.
pub fn trace_file_name(check: &Check, property: &str) -> PathBuf {
    let dir: String = check.name().chars().map(|c| if c == '/' || c == ' ' { '-' } else { c }).collect();
    let short = property.split(' ').next().unwrap_or(property);
    PathBuf::from(dir).join(format!("{short}.json"))
}

/// Whether a check needs liveness judged (and the graph kept): it expects a verdict of a
/// liveness property, or it is ad hoc and reports every property.
fn judges_liveness<P: Protocol>(p: &P, check: &Check) -> bool {
    let live: Vec<&str> = p.properties().into_iter().filter(|x| x.kind == Kind::Liveness).map(|x| x.name).collect();
    check.expect.is_empty() || check.expect.iter().any(|(n, _)| live.contains(&n.as_str()))
}

/// Run `check` of protocol `p`.
pub fn run<P: Protocol>(p: &P, check: &Check, opts: &Options) -> Result<Outcome, Error> {
    let start = Instant::now();
    let (model, record) = model_of(p, check)?;
    let hunt: Vec<String> =
        if check.hunts() { check.expect.iter().map(|(n, _)| n.clone()).collect() } else { Vec::new() };
    let report = match opts.engine {
        Engine::Rcopy => {
            let classes: Vec<String> = p.action_classes().iter().map(|c| c.to_string()).collect();
            let mut ex = Explorer::new(&model)
                .strategy(opts.strategy)
                .threads(opts.threads)
                .bounds(opts.bounds.clone())
                .hunt(hunt)
                .classes(classes, |a| p.action_class(a));
            if opts.progress {
                ex = ex.progress(check.name());
            }
            if let Some(flag) = &opts.interrupt {
                ex = ex.interrupt(flag.clone());
            }
            let fair: Vec<Fairness> = p.fair_classes(&model).into_iter().map(|(_, f)| f).collect();
            if fair.len() > explorer::graph::MAX_FAIR_CLASSES {
                return Err(Error::BadConfig {
                    origin: check.name(),
                    message: format!(
                        "{} fairness classes, more than the {} the engine keeps apart",
                        fair.len(),
                        explorer::graph::MAX_FAIR_CLASSES
                    ),
                });
            }
            let m = &model;
            ex = ex
                .obligations(p.obligations(&model))
                .fairness(fair, move |a| p.fair_class(m, a))
                .liveness(opts.liveness && judges_liveness(p, check));
            ex = ex.packed();
            if p.has_symmetry() {
                let m = &model;
                ex = ex.symmetry(move |s| p.representative(m, s).unwrap_or_else(|| s.clone()));
            }
            ex.run()
        }
        Engine::Stateright => {
            let obligations: Vec<&'static str> = p.obligations(&model).iter().map(|o| o.name).collect();
            stateright_engine::run(&model, check, opts, &hunt, &obligations)
        }
    };
    let mut properties = Vec::new();
    let mut traces = Vec::new();
    for j in &report.properties {
        let mut out = PropertyOutcome {
            property: j.name.into(),
            kind: j.kind,
            verdict: j.verdict,
            expected: check.expects(j.name),
            trace_steps: None,
            trace_file: None,
            trace_error: j.path_error.clone(),
        };
        if let Some(t) = trace_of(p, &model, check, &record, j) {
            out.trace_steps = Some(t.len());
            if let Some(dir) = &opts.trace_dir {
                let file = dir.join(trace_file_name(check, j.name));
                match write_trace(&file, &t) {
                    Ok(()) => out.trace_file = Some(file.display().to_string()),
                    // The verdict stands; the table says why the file is missing.
                    Err(e) => out.trace_error = Some(e.to_string()),
                }
            }
            traces.push(t);
        }
        properties.push(out);
    }
    let mut o = outcome(p, &model, check, opts, &report, properties, traces);
    o.seconds = start.elapsed().as_secs_f64();
    Ok(o)
}

fn outcome<P: Protocol>(
    p: &P,
    model: &P::Model,
    check: &Check,
    opts: &Options,
    report: &explorer::Report<P::State, P::Action>,
    properties: Vec<PropertyOutcome>,
    traces: Vec<Trace>,
) -> Outcome {
    let measured = opts.engine == Engine::Rcopy;
    let judged_holds = check.expect.iter().any(|(_, e)| *e != Expect::Violated);
    // A check that hunts counterexamples shows activity by finding them; one that expects
    // properties to hold must also show that the world did what it can do.
    let must_fire =
        if measured && judged_holds { p.must_fire(model).into_iter().map(String::from).collect() } else { Vec::new() };
    let never_fired = if measured {
        report.coverage.iter().filter(|c| c.fired == 0).map(|c| c.class.clone()).collect()
    } else {
        Vec::new()
    };
    let unwitnessed =
        properties.iter().filter(|p| p.verdict == Verdict::Unwitnessed).map(|p| p.property.clone()).collect();
    Outcome {
        check: check.clone(),
        engine: opts.engine,
        strategy: report.strategy.name(),
        threads: report.threads,
        ended: report.ended,
        exhaustive: report.exhaustive(),
        unique: report.unique,
        generated: report.generated,
        depth: report.depth,
        seconds: report.elapsed.as_secs_f64(),
        properties,
        coverage: report.coverage.clone(),
        never_fired,
        must_fire,
        unwitnessed,
        table_bytes: report.table_bytes,
        graph: report.graph.as_ref().map(|g| GraphFigures {
            states: g.states,
            edges: g.edges,
            bytes: g.bytes,
            build_seconds: g.build_time.as_secs_f64(),
            scc_seconds: g.scc_time.as_secs_f64(),
        }),
        peak_rss: report.peak_rss,
        process_peak_rss: explorer::peak_rss_bytes(),
        collision_probability: report.collision_probability,
        traces,
    }
}

/// Write a trace file, creating its folder.
pub fn write_trace(file: &std::path::Path, t: &Trace) -> Result<(), Error> {
    let err = |source| Error::CannotWrite { path: file.display().to_string(), source };
    if let Some(dir) = file.parent() {
        std::fs::create_dir_all(dir).map_err(err)?;
    }
    std::fs::write(file, t.to_json() + "\n").map_err(err)
}
