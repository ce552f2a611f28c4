//! Traces as data: a counterexample (or example) with everything needed to replay it.
//!
//! Format version 2 is protocol-generic: the config as recorded values, variant and faults by
//! name, actions and states as JSON, each step labelled by the protocol's narration, and room
//! for a liveness lasso's loop index (the last state equals the state at that index).

use crate::config::ConfigRecord;
use crate::error::Error;
use rcopy_model::protocol::Kind;
use serde::{Deserialize, Serialize};

/// The trace file format this build writes and reads.
pub const FORMAT_VERSION: u32 = 2;

/// The largest trace file read: a trace is a few hundred steps, not a state space.
pub const MAX_TRACE_BYTES: u64 = 64 << 20;

/// One step: a readable label (the narration; `init` for the initial state), the action taken
/// (none for the initial state), and the state it led to.
#[derive(Clone, PartialEq, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    pub label: String,
    pub action: Option<serde_json::Value>,
    pub state: serde_json::Value,
}

/// A serialisable counterexample or example.
#[derive(Clone, PartialEq, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Trace {
    pub format_version: u32,
    pub protocol: String,
    /// The name of the check that found it.
    pub check: String,
    pub config: ConfigRecord,
    pub variant: String,
    pub faults: Vec<String>,
    pub mode: String,
    pub property: String,
    pub kind: Kind,
    /// A lasso: the last state equals the state at this index, and the run loops from there.
    #[serde(default)]
    pub loop_index: Option<usize>,
    pub steps: Vec<Step>,
}

/// The content of an insta snapshot, or the text itself: reviewed traces are stored as
/// snapshots with a `---`-delimited header.
pub fn strip_snapshot_header(text: &str) -> &str {
    if !text.starts_with("---") {
        return text;
    }
    let mut rest = text;
    for _ in 0..2 {
        let mut offset = 0;
        let mut found = false;
        for line in rest.split_inclusive('\n') {
            offset += line.len();
            if line.trim_end_matches(['\n', '\r']) == "---" {
                found = true;
                break;
            }
        }
        if !found {
            return text;
        }
        rest = &rest[offset..];
    }
    rest
}

/// The command that regenerates a version 1 trace, from what it names (not its mode: modes
/// have changed since, and the command's default is today's).
fn regenerate_v1(value: &serde_json::Value) -> String {
    let s = |k: &str| value.get(k).and_then(|v| v.as_str()).unwrap_or("?").to_string();
    let mut cmd = format!(
        "rcopy-check trace {} --config {} --variant {}",
        s("protocol"),
        s("config"),
        s("variant").to_lowercase()
    );
    let faults: Vec<String> = value
        .get("faults")
        .and_then(|f| f.as_array())
        .map(|a| a.iter().filter_map(|f| f.as_str().map(String::from)).collect())
        .unwrap_or_default();
    if faults.is_empty() {
        cmd.push_str(" --fault none");
    }
    for f in faults {
        cmd.push_str(&format!(" --fault {f}"));
    }
    if let Some(p) = value.get("property").and_then(|p| p.as_str()) {
        cmd.push_str(&format!(" --property '{}'", p.split(' ').next().unwrap_or(p)));
    }
    cmd + " -o FILE"
}

impl Trace {
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("traces serialise")
    }

    /// Parse a trace file's text (a bare JSON trace or an insta snapshot of one), checking its
    /// format version first.
    pub fn from_json(path: &str, text: &str) -> Result<Trace, Error> {
        let bad = |reason: String| Error::BadTrace { path: path.into(), reason };
        let value: serde_json::Value =
            serde_json::from_str(strip_snapshot_header(text)).map_err(|e| bad(e.to_string()))?;
        if !value.is_object() {
            return Err(bad("a trace is a JSON object".into()));
        }
        let version = value
            .get("format_version")
            .and_then(|v| v.as_u64())
            .ok_or_else(|| bad("no `format_version` field".into()))?;
        if version == 1 {
            return Err(Error::OldTrace {
                path: path.into(),
                expected: FORMAT_VERSION,
                regenerate: regenerate_v1(&value),
            });
        }
        if version != FORMAT_VERSION as u64 {
            return Err(Error::TraceVersion {
                path: path.into(),
                found: version.min(u32::MAX as u64) as u32,
                expected: FORMAT_VERSION,
            });
        }
        let trace: Trace = serde_json::from_value(value).map_err(|e| bad(e.to_string()))?;
        trace.check_shape().map_err(bad)?;
        Ok(trace)
    }

    /// What every trace must be: an initial state without an action, then steps with one; a
    /// loop index inside the trace.
    fn check_shape(&self) -> Result<(), String> {
        let first = self.steps.first().ok_or("a trace has at least its initial state")?;
        if first.action.is_some() {
            return Err("the first step must be the initial state, with no action".into());
        }
        if let Some(i) = self.steps.iter().skip(1).position(|s| s.action.is_none()) {
            return Err(format!("step {} has no action", i + 1));
        }
        if let Some(j) = self.loop_index {
            if j >= self.steps.len() - 1 {
                return Err(format!("loop index {j} is not before the last step ({})", self.steps.len() - 1));
            }
            if self.kind != Kind::Liveness {
                return Err(format!("a {} trace has no loop", self.kind.name()));
            }
        }
        Ok(())
    }

    /// Read a trace file, refusing one too large to be a trace before reading it.
    pub fn read(path: &str) -> Result<Trace, Error> {
        let text = crate::input::read_text(path, MAX_TRACE_BYTES, "a trace file")?;
        Trace::from_json(path, &text)
    }

    /// The number of actions.
    pub fn len(&self) -> usize {
        self.steps.len().saturating_sub(1)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// `plain`, or the faults joined with `+`.
    pub fn faults_label(&self) -> String {
        if self.faults.is_empty() {
            String::new()
        } else {
            format!(" + {}", self.faults.join("+"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_snapshot_header_is_stripped() {
        assert_eq!(strip_snapshot_header("---\nsource: x.rs\n---\n{\"a\": 1}\n"), "{\"a\": 1}\n");
        assert_eq!(strip_snapshot_header("---\r\nsource: x.rs\r\n---\r\n{}"), "{}");
        assert_eq!(strip_snapshot_header("{}"), "{}");
        assert_eq!(strip_snapshot_header("--- no end"), "--- no end");
    }

    #[test]
    fn a_version_1_trace_says_how_to_regenerate() {
        let v1 = r#"{"format_version": 1, "protocol": "p", "config": "tiny", "variant": "Hardened",
                    "faults": ["B1"], "mode": "Safety", "property": "S3 frontier soundness", "steps": []}"#;
        let e = Trace::from_json("old.json", v1).unwrap_err().to_string();
        assert!(e.contains("older rcopy"), "{e}");
        assert!(e.contains("rcopy-check trace p --config tiny --variant hardened --fault B1 --property 'S3'"), "{e}");
    }

    #[test]
    fn a_loop_index_must_point_inside_a_liveness_trace() {
        let step = |a: Option<u32>| serde_json::json!({ "label": "x", "action": a, "state": 0 });
        let mut t = serde_json::json!({
            "format_version": 2, "protocol": "p", "check": "c",
            "config": { "name": "c", "values": {} }, "variant": "v", "faults": [], "mode": "m",
            "property": "L1", "kind": "liveness", "steps": [step(None), step(Some(1)), step(Some(2))],
        });
        assert!(Trace::from_json("t", &t.to_string()).is_ok());
        for (j, ok) in [(0u64, true), (1, true), (2, false), (u64::MAX, false)] {
            t["loop_index"] = serde_json::json!(j);
            assert_eq!(Trace::from_json("t", &t.to_string()).is_ok(), ok, "loop index {j}");
        }
        t["loop_index"] = serde_json::json!(0);
        t["kind"] = serde_json::json!("safety");
        assert!(Trace::from_json("t", &t.to_string()).unwrap_err().to_string().contains("has no loop"));
    }

    #[test]
    fn garbage_is_refused() {
        for text in ["", "[]", "3", "{}", r#"{"format_version": 2}"#, r#"{"format_version": 99999999999}"#, "\u{0}"] {
            assert!(Trace::from_json("g", text).is_err(), "{text:?}");
        }
    }
}
