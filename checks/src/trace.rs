//! Traces as data: a counterexample (or example) path with everything needed to replay it.

use crate::error::Error;
use crate::registry::Check;
use rcopy::ordering::{Fault, Variant};
use rcopy_model::ordering::{Action, Mode, State};
use serde::{Deserialize, Serialize};
use stateright::{Expectation, Path};

/// The trace file format this build writes and reads.
pub const FORMAT_VERSION: u32 = 1;

/// What a trace shows.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub enum Kind {
    /// An `always` property fails in the last state.
    Safety,
    /// An `eventually` property never held, and the run ended (terminal state) without it.
    Liveness,
    /// A `sometimes` property holds in the last state.
    Example,
}

/// One step: the action taken (none for the initial state), a readable label, and the state
/// the action led to.
#[derive(Clone, PartialEq, Debug, Serialize, Deserialize)]
pub struct Step {
    pub label: String,
    pub action: Option<serde_json::Value>,
    pub state: serde_json::Value,
}

/// A serialisable counterexample.
#[derive(Clone, PartialEq, Debug, Serialize, Deserialize)]
pub struct Trace {
    pub format_version: u32,
    pub protocol: String,
    pub config: String,
    pub variant: Variant,
    pub faults: Vec<Fault>,
    pub mode: Mode,
    pub property: String,
    pub kind: Kind,
    pub steps: Vec<Step>,
}

fn kind_of(e: Expectation) -> Kind {
    match e {
        Expectation::Always => Kind::Safety,
        Expectation::Eventually => Kind::Liveness,
        Expectation::Sometimes => Kind::Example,
    }
}

fn label(a: &Action) -> String {
    format!("{a:?}")
}

impl Trace {
    /// A trace from a stateright path.
    pub fn from_path(
        check: &Check,
        property: &str,
        expectation: Expectation,
        path: Path<State, Action>,
    ) -> Trace {
        let mut steps = Vec::new();
        let mut pending: Option<Action> = None;
        for (state, action) in path.into_vec() {
            steps.push(Step {
                label: pending.as_ref().map_or("init".to_string(), label),
                action: pending.as_ref().map(|a| serde_json::to_value(a).expect("actions serialise")),
                state: serde_json::to_value(&state).expect("states serialise"),
            });
            pending = action;
        }
        Trace {
            format_version: FORMAT_VERSION,
            protocol: check.protocol.clone(),
            config: check.config.clone(),
            variant: check.variant,
            faults: check.faults.clone(),
            mode: check.mode,
            property: property.to_string(),
            kind: kind_of(expectation),
            steps,
        }
    }

    /// The actions and states, typed.
    pub fn typed(&self) -> Result<(Vec<Action>, Vec<State>), String> {
        let mut actions = Vec::new();
        let mut states = Vec::new();
        for (i, s) in self.steps.iter().enumerate() {
            if i > 0 {
                let a = s.action.as_ref().ok_or(format!("step {i} has no action"))?;
                actions.push(serde_json::from_value(a.clone()).map_err(|e| format!("step {i}: action: {e}"))?);
            } else if s.action.is_some() {
                return Err("the first step must be the initial state, with no action".into());
            }
            states.push(serde_json::from_value(s.state.clone()).map_err(|e| format!("step {i}: state: {e}"))?);
        }
        if states.is_empty() {
            return Err("a trace has at least its initial state".into());
        }
        Ok((actions, states))
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("traces serialise")
    }

    /// Parse a trace file's text, checking its format version first.
    pub fn from_json(path: &str, text: &str) -> Result<Trace, Error> {
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(|e| Error::BadTrace { path: path.into(), reason: e.to_string() })?;
        let version = value.get("format_version").and_then(|v| v.as_u64()).ok_or_else(|| Error::BadTrace {
            path: path.into(),
            reason: "no `format_version` field".into(),
        })?;
        if version != FORMAT_VERSION as u64 {
            return Err(Error::TraceVersion { path: path.into(), found: version as u32, expected: FORMAT_VERSION });
        }
        serde_json::from_value(value).map_err(|e| Error::BadTrace { path: path.into(), reason: e.to_string() })
    }

    /// Read a trace file.
    pub fn read(path: &str) -> Result<Trace, Error> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::Io { path: path.into(), source })?;
        Trace::from_json(path, &text)
    }
}
