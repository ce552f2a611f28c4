//! Renderers of a trace: readable text, a Mermaid `sequenceDiagram` (renders in code review),
//! and DOT (the path as a graph of states, built with petgraph).

use crate::trace::{Kind, Trace};
use petgraph::dot::{Config as DotConfig, Dot};
use petgraph::graph::DiGraph;
use rcopy_model::ordering::narrate::Event;
use rcopy_model::ordering::{OrderingModel, State};
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

/// The model a trace was made on.
pub fn model_of(trace: &Trace) -> Result<OrderingModel, String> {
    crate::runner::model_for(&trace.config, trace.variant, &trace.faults, trace.mode)
}

fn events(trace: &Trace) -> Result<(OrderingModel, Vec<Event>, Vec<State>), String> {
    let model = model_of(trace)?;
    let (actions, states) = trace.typed()?;
    let events = actions.iter().enumerate().map(|(i, a)| model.narrate(&states[i], a, &states[i + 1])).collect();
    Ok((model, events, states))
}

/// The title line: which check, which property, what kind of trace.
pub fn title(trace: &Trace) -> String {
    let faults: Vec<&str> = trace.faults.iter().map(|f| f.name()).collect();
    let what = match trace.kind {
        Kind::Safety => "violated in the last state",
        Kind::Liveness => "never held, and the run ended",
        Kind::Example => "holds in the last state",
    };
    format!(
        "{} / {} / {} / {}{}{}: \"{}\" {}",
        trace.protocol,
        trace.config,
        trace.variant.name(),
        trace.mode.name(),
        if faults.is_empty() { "" } else { " + " },
        faults.join("+"),
        trace.property,
        what
    )
}

/// A summary of the last state: what each role holds.
pub fn summary(s: &State) -> Vec<String> {
    let mut out = Vec::new();
    for snd in &s.senders {
        for st in &snd.streams {
            let entries: Vec<String> = st
                .entries
                .iter()
                .map(|e| {
                    let what = e.payload.map_or("hb".to_string(), |w| format!("w{w}"));
                    format!("{what}@{}:{:?}", e.ts, e.state)
                })
                .collect();
            out.push(format!("LDS{} {}: next seq {}, pending [{}]", snd.lds, st.id, st.next_seq, entries.join(", ")));
        }
    }
    for r in &s.receivers {
        let fr: Vec<String> = r
            .streams
            .iter()
            .map(|st| format!("{} frontier {}", st.id, r.frontier(st.id).map_or("-inf".into(), |(k, t)| format!("#{k}@{t}"))))
            .collect();
        let cache: Vec<String> = r
            .cache
            .iter()
            .map(|c| format!("{}#{}@{}:{}", c.stream, c.seq, c.ts, c.payload.map_or("hb".into(), |w| format!("w{w}"))))
            .collect();
        out.push(format!(
            "RDS{}: limit {}, {}, cache [{}]",
            r.rds,
            r.limit.map_or("-inf".into(), |t| t.to_string()),
            fr.join(", "),
            cache.join(", ")
        ));
    }
    out.push(format!("Master: granted {}", s.master.max_granted.map_or("-inf".into(), |t| t.to_string())));
    let h: Vec<String> = s
        .ghost
        .writes
        .iter()
        .enumerate()
        .map(|(w, r)| {
            let mark = if s.ghost.is_destaged(w as u8) {
                "destaged"
            } else if s.ghost.has_arrived(w as u8) {
                "arrived"
            } else {
                "not arrived"
            };
            format!("w{w}@{} {mark}", r.ts)
        })
        .collect();
    out.push(format!("History: {}", h.join(", ")));
    out
}

/// Readable text: the title, one numbered line per step, and the last state.
pub fn text(trace: &Trace) -> Result<String, String> {
    let (_, events, states) = events(trace)?;
    let mut out = String::new();
    writeln!(out, "{}", title(trace)).unwrap();
    for (i, e) in events.iter().enumerate() {
        if e.from == e.to {
            writeln!(out, "{:3}. {}: {}", i + 1, e.from, e.text).unwrap();
        } else {
            writeln!(out, "{:3}. {} -> {}: {}", i + 1, e.from, e.to, e.text).unwrap();
        }
    }
    writeln!(out, "last state:").unwrap();
    for line in summary(states.last().expect("a trace has a state")) {
        writeln!(out, "     {line}").unwrap();
    }
    Ok(out)
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

/// A Mermaid sequence diagram.
pub fn mermaid(trace: &Trace) -> Result<String, String> {
    let (model, events, states) = events(trace)?;
    let mut out = String::from("sequenceDiagram\n");
    writeln!(out, "    title {}", mermaid_escape(&title(trace))).unwrap();
    for p in model.participants() {
        writeln!(out, "    participant {p}").unwrap();
    }
    for e in &events {
        if e.from == e.to {
            writeln!(out, "    Note over {}: {}", e.from, mermaid_escape(&e.text)).unwrap();
        } else {
            writeln!(out, "    {}->>{}: {}", e.from, e.to, mermaid_escape(&e.text)).unwrap();
        }
    }
    let last = summary(states.last().expect("a trace has a state"));
    let first = model.participants().first().cloned().unwrap_or_default();
    let end = model.participants().last().cloned().unwrap_or_default();
    writeln!(out, "    Note over {first},{end}: {}", mermaid_escape(&last.join("<br/>"))).unwrap();
    Ok(out)
}

/// The path as a DOT digraph: one node per state (a summary), one edge per step.
pub fn dot(trace: &Trace) -> Result<String, String> {
    let (_, events, states) = events(trace)?;
    let mut g = DiGraph::<String, String>::new();
    let nodes: Vec<_> = states.iter().enumerate().map(|(i, s)| g.add_node(format!("state {i}\n{}", summary(s).join("\n")))).collect();
    for (i, e) in events.iter().enumerate() {
        let label = if e.from == e.to { format!("{}: {}", e.from, e.text) } else { format!("{} -> {}: {}", e.from, e.to, e.text) };
        g.add_edge(nodes[i], nodes[i + 1], label);
    }
    let label = title(trace).replace('"', "'");
    Ok(format!(
        "digraph trace {{\n    label=\"{label}\";\n    node [shape=box, fontname=monospace];\n{:?}}}\n",
        Dot::with_config(&g, &[DotConfig::GraphContentOnly])
    ))
}

/// Render in a format.
pub fn render(trace: &Trace, format: Format) -> Result<String, String> {
    match format {
        Format::Json => Ok(trace.to_json() + "\n"),
        Format::Text => text(trace),
        Format::Mermaid => mermaid(trace),
        Format::Dot => dot(trace),
    }
}
