//! The verdict table a person reads, and the JSON document a CI reads.

use crate::explorer::{Kind, Verdict};
use crate::runner::{Mismatch, Outcome};
use rcopy_model::protocol::Expect;
use serde::Serialize;
use std::fmt::Write;

/// A property's first word: `S3` for `S3 frontier soundness`.
pub fn short(p: &str) -> &str {
    p.split(' ').next().unwrap_or(p)
}

/// Names joined for a message: `a, b, c`.
pub fn names<T: AsRef<str>>(v: impl IntoIterator<Item = T>) -> String {
    v.into_iter().map(|s| s.as_ref().to_string()).collect::<Vec<_>>().join(", ")
}

/// The verdicts, grouped: `holds S1 S2 | VIOLATED S3 (9 steps) | witnessed X1`. Only the
/// judged properties unless `all`.
fn verdicts(o: &Outcome, all: bool) -> String {
    let mut groups: Vec<(Verdict, Vec<String>)> = Vec::new();
    for p in &o.properties {
        if !all && p.expected.is_none() {
            continue;
        }
        let mut item = short(&p.property).to_string();
        if let (Some(n), Verdict::Violated) = (p.trace_steps, p.verdict) {
            item.push_str(&format!(" ({n} steps)"));
        }
        match groups.iter_mut().find(|(g, _)| *g == p.verdict) {
            Some((_, l)) => l.push(item),
            None => groups.push((p.verdict, vec![item])),
        }
    }
    groups.iter().map(|(v, l)| format!("{} {}", v.name(), l.join(" "))).collect::<Vec<_>>().join(" | ")
}

fn result(o: &Outcome) -> &'static str {
    if o.check.expect.is_empty() {
        if o.exhaustive {
            "no expect"
        } else {
            "INCOMPLETE"
        }
    } else if o.as_expected() {
        "as expected"
    } else if o.mismatches().iter().all(|m| matches!(m, Mismatch::Verdict { found: Verdict::Unknown, .. })) {
        "NOT ESTABLISHED"
    } else {
        "MISMATCH"
    }
}

/// The verdict table: one row per check, and under a row what else to know (traces written,
/// coverage gaps, mismatches).
pub fn table(outcomes: &[Outcome], verbose: bool) -> String {
    let mut out = String::new();
    let width = outcomes.iter().map(|o| o.check.name().len()).max().unwrap_or(5).max(5);
    writeln!(
        out,
        "{:<width$} {:>10} {:>5} {:>8}  {:<16} {:<15} verdicts (judged properties)",
        "check", "states", "depth", "time", "run", "result"
    )
    .unwrap();
    for o in outcomes {
        writeln!(
            out,
            "{:<width$} {:>10} {:>5} {:>7.2}s  {:<16} {:<15} {}",
            o.check.name(),
            o.unique,
            o.depth,
            o.seconds,
            o.ended.label(),
            result(o),
            verdicts(o, verbose || o.check.expect.is_empty())
        )
        .unwrap();
        let pad = " ".repeat(4);
        let files: Vec<&str> = o
            .properties
            .iter()
            .filter(|p| verbose || p.expected.is_some() || o.check.expect.is_empty())
            .filter_map(|p| p.trace_file.as_deref())
            .collect();
        if let Some(first) = files.first() {
            let dir = std::path::Path::new(first).parent().map(|d| d.display().to_string()).unwrap_or_default();
            let names: Vec<&str> = files.iter().map(|f| f.rsplit('/').next().unwrap_or(f)).collect();
            writeln!(out, "{pad}traces in {dir}/: {}", names.join(" ")).unwrap();
        }
        for p in o.properties.iter().filter(|p| p.trace_error.is_some()) {
            writeln!(out, "{pad}no trace of {}: {}", short(&p.property), p.trace_error.as_deref().unwrap_or(""))
                .unwrap();
        }
        if o.exhaustive && !o.coverage.is_empty() && (verbose || !o.never_fired.is_empty()) {
            let fired: Vec<String> = o
                .coverage
                .iter()
                .filter(|c| c.fired > 0)
                .map(|c| format!("{} {}/{}", c.class, c.fired, c.new_states))
                .collect();
            if verbose {
                writeln!(out, "{pad}coverage (fired/new states): {}", fired.join(", ")).unwrap();
            }
            if !o.never_fired.is_empty() {
                writeln!(out, "{pad}never fired: {}", o.never_fired.join(", ")).unwrap();
            }
        }
        let judged_unwitnessed: Vec<&str> =
            o.unwitnessed.iter().filter(|p| verbose || o.check.expects(p).is_some()).map(|p| short(p)).collect();
        if o.exhaustive && !judged_unwitnessed.is_empty() {
            writeln!(out, "{pad}unwitnessed: {}", judged_unwitnessed.join(", ")).unwrap();
        }
        for m in o.mismatches() {
            writeln!(out, "{pad}MISMATCH: {m}").unwrap();
        }
    }
    out
}

/// How likely it is that a fingerprint collision hid a state, in the run most exposed to it.
pub fn collision_line(outcomes: &[Outcome]) -> String {
    let worst = outcomes.iter().map(|o| o.collision_probability).fold(0.0, f64::max);
    let name = outcomes.iter().find(|o| o.collision_probability == worst).map(|o| o.check.name()).unwrap_or_default();
    format!("fingerprints: 64-bit xxh3; the chance that a collision hid a state is at most {worst:.1e} ({name})")
}

/// The last line: how many checks, and whether every expectation was established.
pub fn verdict_line(outcomes: &[Outcome]) -> String {
    let bad = outcomes.iter().filter(|o| !o.as_expected()).count();
    if bad == 0 {
        format!("{} checks, every verdict as expected", outcomes.len())
    } else {
        format!("{bad} of {} checks differ from their expectations or did not establish them", outcomes.len())
    }
}

#[derive(Serialize)]
struct Document<'a> {
    rcopy_check: &'static str,
    as_expected: bool,
    checks: Vec<Entry<'a>>,
}

#[derive(Serialize)]
struct Entry<'a> {
    name: String,
    as_expected: bool,
    mismatches: Vec<String>,
    #[serde(flatten)]
    outcome: &'a Outcome,
}

/// The whole result as JSON, for CI.
pub fn json(outcomes: &[Outcome]) -> String {
    let doc = Document {
        rcopy_check: env!("CARGO_PKG_VERSION"),
        as_expected: outcomes.iter().all(Outcome::as_expected),
        checks: outcomes
            .iter()
            .map(|o| Entry {
                name: o.check.name(),
                as_expected: o.as_expected(),
                mismatches: o.mismatches().iter().map(|m| m.to_string()).collect(),
                outcome: o,
            })
            .collect(),
    };
    serde_json::to_string_pretty(&doc).expect("outcomes serialise")
}

/// Is `e` the verdict a property of `kind` can be expected to reach? (Registry sanity.)
pub fn expectable(kind: Kind, e: Expect) -> bool {
    matches!(
        (kind, e),
        (Kind::Example, Expect::Witnessed) | (Kind::Safety | Kind::Liveness, Expect::Holds | Expect::Violated)
    )
}
