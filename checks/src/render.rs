//! Renderers of a trace: readable text, a Mermaid `sequenceDiagram` (renders in code review),
//! and DOT (the path as a graph of states, built with petgraph). Each step is told by the
//! protocol's narration; a lasso's cycle is marked in each.

use crate::guard::guarded;
use crate::replay::{fairness_of, model_of, typed, Fate};
use crate::trace::Trace;
use petgraph::dot::{Config as DotConfig, Dot};
use petgraph::graph::DiGraph;
use rcopy_model::protocol::{Event, Fairness, Kind, Protocol};
use std::fmt::Write;

/// The output formats.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Format {
    Json,
    Text,
    Mermaid,
    Dot,
}

impl Format {
    pub const NAMES: [&'static str; 4] = ["json", "text", "mermaid", "dot"];

    pub fn from_name(name: &str) -> Option<Format> {
        match name {
            "json" => Some(Format::Json),
            "text" => Some(Format::Text),
            "mermaid" => Some(Format::Mermaid),
            "dot" => Some(Format::Dot),
            _ => None,
        }
    }
}

/// The title line: which check, which property, what kind of trace.
pub fn title(trace: &Trace) -> String {
    let what = match (trace.kind, trace.loop_index) {
        (Kind::Safety, _) => "violated in the last state",
        (Kind::Liveness, None) => "never held, and the run ended",
        (Kind::Liveness, Some(_)) => "never holds: the run loops forever",
        (Kind::Example, _) => "holds in the last state",
    };
    let mut config = trace.config.name.clone();
    if !trace.config.sets.is_empty() {
        config = format!("{config}{{{}}}", trace.config.sets.join(","));
    }
    format!(
        "{} / {} / {} / {}{}: \"{}\" {}",
        trace.protocol,
        config,
        trace.variant,
        trace.mode,
        trace.faults_label(),
        trace.property,
        what
    )
}

/// What the renderers need: the narration of each step, the participants, and the summary
/// of the last state.
struct Told {
    events: Vec<Event>,
    participants: Vec<String>,
    summaries: Vec<Vec<String>>,
    /// For a liveness trace: each fair class and its fate on the cycle (or where the run stops).
    fates: Vec<(String, Fairness, Fate)>,
}

fn tell<P: Protocol>(p: &P, trace: &Trace) -> Result<Told, String> {
    guarded("narrating the trace", || {
        let model = model_of(p, trace)?;
        let (actions, states) = typed::<P>(trace)?;
        let events =
            actions.iter().enumerate().map(|(i, a)| p.narrate(&model, &states[i], a, &states[i + 1])).collect();
        let summaries = states.iter().map(|s| p.summary(&model, s)).collect();
        let fates = if trace.kind == Kind::Liveness {
            fairness_of(p, &model, &actions, &states, trace.loop_index)
        } else {
            Vec::new()
        };
        Ok(Told { events, participants: p.participants(&model), summaries, fates })
    })
}

/// Readable text: the title, one numbered line per step (a lasso's cycle marked), the last
/// state.
pub fn text<P: Protocol>(p: &P, trace: &Trace) -> Result<String, String> {
    let told = tell(p, trace)?;
    let mut out = String::new();
    writeln!(out, "{}", title(trace)).unwrap();
    for (i, e) in told.events.iter().enumerate() {
        if trace.loop_index == Some(i) {
            writeln!(out, "     -- the cycle: steps {}..{} repeat forever --", i + 1, told.events.len()).unwrap();
        }
        writeln!(out, "{:3}. {}", i + 1, e.line()).unwrap();
    }
    if let Some(j) = trace.loop_index {
        writeln!(out, "     -- back to the state after step {j} --").unwrap();
    }
    if trace.kind == Kind::Liveness {
        for line in liveness_account(trace, &told) {
            writeln!(out, "{line}").unwrap();
        }
    }
    writeln!(out, "last state:").unwrap();
    for line in told.summaries.last().into_iter().flatten() {
        writeln!(out, "     {line}").unwrap();
    }
    Ok(out)
}

/// For a liveness trace: what stays pending, and where each fair class is taken or disabled.
fn liveness_account(trace: &Trace, told: &Told) -> Vec<String> {
    let mut out = Vec::new();
    match trace.loop_index {
        Some(j) => out.push(format!(
            "the behaviour repeats steps {}..{} forever, and \"{}\" stays pending",
            j + 1,
            told.events.len(),
            trace.property
        )),
        None => out.push(format!(
            "the behaviour may stop here (no fair step is enabled), with \"{}\" pending",
            trace.property
        )),
    }
    // Each fair class's fate, classes with the same fate on one line.
    let mut groups: Vec<(String, Vec<String>)> = Vec::new();
    for (name, fairness, fate) in &told.fates {
        let how = match fate {
            Fate::Taken(i) => format!("taken at step {i}"),
            Fate::Disabled(0) => "disabled in the initial state".to_string(),
            Fate::Disabled(i) => format!("disabled after step {i}"),
            Fate::Starved => "STARVED (enabled, never taken: not a fair behaviour)".to_string(),
        };
        let item = match fairness {
            Fairness::Weak => name.clone(),
            Fairness::Strong => format!("{name} (strong)"),
        };
        match groups.iter_mut().find(|(h, _)| *h == how) {
            Some((_, v)) => v.push(item),
            None => groups.push((how, vec![item])),
        }
    }
    if !groups.is_empty() {
        out.push(if trace.loop_index.is_some() { "fairness on the cycle:" } else { "fairness where it stops:" }.into());
        for (how, names) in groups {
            out.push(format!("     {how}: {}", names.join(", ")));
        }
    }
    out
}

/// Mermaid reads `#` and `;` as the start and end of an entity: write them as entities.
fn mermaid_escape(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '#' => "#35;".to_string(),
            ';' => "#59;".to_string(),
            c => c.to_string(),
        })
        .collect()
}

/// A Mermaid sequence diagram; a lasso's cycle is a `loop` block.
pub fn mermaid<P: Protocol>(p: &P, trace: &Trace) -> Result<String, String> {
    let told = tell(p, trace)?;
    let mut out = String::from("sequenceDiagram\n");
    writeln!(out, "    title {}", mermaid_escape(&title(trace))).unwrap();
    let mut participants = told.participants.clone();
    for e in &told.events {
        for who in [&e.from, &e.to] {
            if !participants.contains(who) {
                participants.push(who.clone());
            }
        }
    }
    for who in &participants {
        writeln!(out, "    participant {who}").unwrap();
    }
    for (i, e) in told.events.iter().enumerate() {
        if trace.loop_index == Some(i) {
            writeln!(out, "    loop forever").unwrap();
        }
        if e.from == e.to {
            writeln!(out, "    Note over {}: {}", e.from, mermaid_escape(&e.text)).unwrap();
        } else {
            writeln!(out, "    {}->>{}: {}", e.from, e.to, mermaid_escape(&e.text)).unwrap();
        }
    }
    if trace.loop_index.is_some() {
        writeln!(out, "    end").unwrap();
    }
    if let (Kind::Liveness, Some(first), Some(end)) = (trace.kind, participants.first(), participants.last()) {
        let account = liveness_account(trace, &told);
        writeln!(out, "    Note over {first},{end}: {}", mermaid_escape(&account[0])).unwrap();
    }
    let last = told.summaries.last().cloned().unwrap_or_default();
    if let (Some(first), Some(end)) = (participants.first(), participants.last()) {
        writeln!(out, "    Note over {first},{end}: {}", mermaid_escape(&last.join("<br/>"))).unwrap();
    }
    Ok(out)
}

/// A DOT string literal's content: quotes and backslashes escaped, each line left-justified
/// (`\l`), so that Graphviz shows the text as written.
fn dot_text(lines: &[String]) -> String {
    let mut s = String::new();
    for l in lines {
        s.push_str(&l.replace('\\', "\\\\").replace('"', "\\\""));
        s.push_str("\\l");
    }
    s
}

/// The path as a DOT digraph: one node per state (a summary), one edge per step; a lasso's
/// last step goes back to the state it repeats.
pub fn dot<P: Protocol>(p: &P, trace: &Trace) -> Result<String, String> {
    let told = tell(p, trace)?;
    let mut g = DiGraph::<String, String>::new();
    let n = told.summaries.len() - if trace.loop_index.is_some() { 1 } else { 0 };
    let nodes: Vec<_> = (0..n)
        .map(|i| {
            let mut lines = vec![format!("state {i}")];
            lines.extend(told.summaries[i].iter().cloned());
            g.add_node(dot_text(&lines))
        })
        .collect();
    for (i, e) in told.events.iter().enumerate() {
        let to = if i + 1 == n { trace.loop_index.unwrap_or(i + 1) } else { i + 1 };
        let label = dot_text(&[format!("{}. {}", i + 1, e.line())]);
        g.add_edge(nodes[i], nodes[to.min(n - 1)], label);
    }
    let node_attr =
        |_: &DiGraph<String, String>, (_, w): (petgraph::graph::NodeIndex, &String)| format!("label = \"{w}\"");
    let edge_attr = |_: &DiGraph<String, String>, e: petgraph::graph::EdgeReference<'_, String>| {
        format!("label = \"{}\"", petgraph::visit::EdgeRef::weight(&e))
    };
    let body = Dot::with_attr_getters(
        &g,
        &[DotConfig::GraphContentOnly, DotConfig::NodeNoLabel, DotConfig::EdgeNoLabel],
        &edge_attr,
        &node_attr,
    );
    Ok(format!(
        "digraph trace {{\n    label = \"{}\";\n    labelloc = t;\n    node [shape = box, fontname = monospace];\n    edge [fontname = monospace];\n{body:?}}}\n",
        dot_text(&[title(trace)])
    ))
}

/// Render in a format.
pub fn render<P: Protocol>(p: &P, trace: &Trace, format: Format) -> Result<String, String> {
    match format {
        Format::Json => Ok(trace.to_json() + "\n"),
        Format::Text => text(p, trace),
        Format::Mermaid => mermaid(p, trace),
        Format::Dot => dot(p, trace),
    }
}
