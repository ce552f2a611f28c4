//! The interface between a protocol and the rcopy engine (`rcopy-checks`).
//!
//! A protocol is one type implementing [`Protocol`]. It names its configs (TOML text shipped
//! with it), variants, modes, seeded faults and properties; builds the stateright model for a
//! choice of them; registers its checks with their expected verdicts; narrates a step for the
//! renderers; feeds one step's input to its roles for replay (through the very function its
//! model's `next_state` calls); and declares its action classes, fairness and symmetry.
//!
//! The engine knows protocols only through this trait and the one list in
//! `rcopy-checks/src/protocols.rs` that registers them.

use rcopy::fault::{FaultSet, SeededFault};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use stateright::Model;
use std::fmt::Debug;
use std::hash::Hash;

/// How the engine judges a property.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// `always`: holds in every reachable state. A counterexample is a path to a state where
    /// it fails.
    Safety,
    /// `sometimes`: holds in some reachable state (a sanity example that the model does
    /// something). A witness is a path to such a state.
    Example,
    /// `eventually`: holds at some point of every run. A counterexample is a run that never
    /// reaches it.
    Liveness,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Safety => "safety",
            Kind::Example => "example",
            Kind::Liveness => "liveness",
        }
    }

    /// The kind of a stateright property.
    pub fn of(e: &stateright::Expectation) -> Kind {
        match e {
            stateright::Expectation::Always => Kind::Safety,
            stateright::Expectation::Sometimes => Kind::Example,
            stateright::Expectation::Eventually => Kind::Liveness,
        }
    }
}

/// A property as the protocol lists it.
#[derive(Clone, Debug)]
pub struct PropertyInfo {
    /// The name the model's `properties()` gives it, e.g. `S3 frontier soundness`.
    pub name: &'static str,
    pub kind: Kind,
    /// Areas it belongs to, e.g. `failover`.
    pub tags: &'static [&'static str],
}

/// A seeded fault: a named bug of the protocol's note, compiled in with the `faults` feature.
#[derive(Clone, Debug)]
pub struct FaultInfo {
    pub name: &'static str,
    pub why: &'static str,
    /// The properties it must break; the first is its headline, whose shortest counterexample
    /// is its reviewed trace.
    pub breaks: &'static [&'static str],
}

/// A named config: TOML text that ships with the protocol.
#[derive(Clone, Copy, Debug)]
pub struct NamedConfig {
    pub name: &'static str,
    pub toml: &'static str,
}

/// A gap of the text: a counterexample of a variant as written, with no seeded fault, kept as
/// a reviewed trace `traces/<protocol>/<name>` beside the seeded faults' ones.
#[derive(Clone, Debug)]
pub struct Gap {
    /// The trace's file name, e.g. `B15`.
    pub name: &'static str,
    pub tier: Tier,
    /// The registered check (by name) whose counterexample it is.
    pub check: String,
    pub property: &'static str,
    pub why: &'static str,
}

/// A config field, for `rcopy-check list` and error messages.
#[derive(Clone, Copy, Debug)]
pub struct Field {
    pub key: &'static str,
    pub about: &'static str,
}

/// An obligation: a liveness property kept as a predicate on states, pending from the moment
/// it arises until it is met (e.g. "a write was acknowledged and is not yet destaged", a bit of
/// the ghost history). It is violated when some fair behaviour stays pending forever: it ends,
/// or cycles fairly, with the obligation pending. This is "P leads to Q" with the pending bit
/// set by P and cleared by Q.
pub struct Obligation<M: Model> {
    pub name: &'static str,
    pub pending: fn(&M, &M::State) -> bool,
}

impl<M: Model> Clone for Obligation<M> {
    fn clone(&self) -> Self {
        Obligation { name: self.name, pending: self.pending }
    }
}

impl<M: Model> std::fmt::Debug for Obligation<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Obligation({})", self.name)
    }
}

/// How an action class must be scheduled in an infinite run.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Fairness {
    /// Taken infinitely often if continuously enabled from some point on.
    Weak,
    /// Taken infinitely often if enabled infinitely often.
    Strong,
}

/// One step of a trace, as a renderer shows it: an arrow `from -> to`, or a note when
/// `from == to`.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Event {
    pub from: String,
    pub to: String,
    pub text: String,
}

impl Event {
    pub fn note(who: impl Into<String>, text: impl Into<String>) -> Event {
        let who = who.into();
        Event { from: who.clone(), to: who, text: text.into() }
    }

    pub fn arrow(from: impl Into<String>, to: impl Into<String>, text: impl Into<String>) -> Event {
        Event { from: from.into(), to: to.into(), text: text.into() }
    }

    /// One line: `A -> B: text` or `A: text`.
    pub fn line(&self) -> String {
        if self.from == self.to {
            format!("{}: {}", self.from, self.text)
        } else {
            format!("{} -> {}: {}", self.from, self.to, self.text)
        }
    }
}

/// Which registered checks: `tiny` ones run in `cargo test` (seconds), `standard` ones in
/// `make check`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Tier {
    Tiny,
    Standard,
}

impl Tier {
    pub const ALL: [Tier; 2] = [Tier::Tiny, Tier::Standard];

    pub fn name(self) -> &'static str {
        match self {
            Tier::Tiny => "tiny",
            Tier::Standard => "standard",
        }
    }

    pub fn from_name(name: &str) -> Option<Tier> {
        Tier::ALL.into_iter().find(|t| t.name() == name)
    }
}

/// What a check expects of one property.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Expect {
    /// An `always` or `eventually` property with no counterexample in the whole space.
    Holds,
    /// A counterexample exists.
    Violated,
    /// A `sometimes` property with an example.
    Witnessed,
}

impl Expect {
    pub fn name(self) -> &'static str {
        match self {
            Expect::Holds => "holds",
            Expect::Violated => "violated",
            Expect::Witnessed => "witnessed",
        }
    }
}

/// A check: one exploration of one model and what it must find.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Check {
    pub protocol: String,
    /// A named config of the protocol, or a path to a TOML file.
    pub config: String,
    /// `key=value` overrides of config fields, in order.
    #[serde(default)]
    pub sets: Vec<String>,
    pub variant: String,
    pub faults: Vec<String>,
    pub mode: String,
    /// The properties with an expected verdict; the others are reported but not judged.
    pub expect: Vec<(String, Expect)>,
    /// Why this check exists.
    pub why: String,
}

impl Check {
    /// A short unique name, e.g. `ordering/tiny/hardened/safety+B1`.
    pub fn name(&self) -> String {
        let mut config = self.config_label();
        if !self.sets.is_empty() {
            config = format!("{config}{{{}}}", self.sets.join(","));
        }
        let mut n = format!("{}/{}/{}/{}", self.protocol, config, self.variant, self.mode);
        for f in &self.faults {
            n.push('+');
            n.push_str(f);
        }
        n
    }

    /// The config's name: a named config as given, a file by its stem.
    pub fn config_label(&self) -> String {
        config_label(&self.config)
    }

    /// True when every judged property is expected violated or witnessed: the run may stop
    /// once each has its trace, and need not visit the whole space.
    pub fn hunts(&self) -> bool {
        !self.expect.is_empty() && self.expect.iter().all(|(_, e)| *e != Expect::Holds)
    }

    /// The expectation of `property`, if judged.
    pub fn expects(&self, property: &str) -> Option<Expect> {
        self.expect.iter().find(|(p, _)| p == property).map(|(_, e)| *e)
    }
}

impl Check {
    /// A registered check of `protocol` with the faults `faults` switched on.
    #[allow(clippy::too_many_arguments)]
    pub fn registered(
        protocol: &str,
        config: &str,
        variant: &str,
        faults: &[&str],
        mode: &str,
        expect: Vec<(String, Expect)>,
        why: &str,
    ) -> Check {
        Check {
            protocol: protocol.into(),
            config: config.into(),
            sets: Vec::new(),
            variant: variant.into(),
            faults: faults.iter().map(|f| f.to_string()).collect(),
            mode: mode.into(),
            expect,
            why: why.into(),
        }
    }
}

/// The faults named in `names`, as one set of a protocol's list `F`; an unknown name is an
/// error that lists the valid ones.
pub fn fault_set<F: SeededFault>(names: &[String]) -> Result<FaultSet, String> {
    let mut set = FaultSet::NONE;
    for n in names {
        let fault = F::all().iter().copied().find(|f| f.name().eq_ignore_ascii_case(n)).ok_or_else(|| {
            let valid: Vec<&str> = F::all().iter().map(|f| f.name()).collect();
            format!("unknown fault `{n}` (valid: {})", valid.join(", "))
        })?;
        set = set.with(fault.number()).map_err(|e| e.to_string())?;
    }
    Ok(set)
}

/// A protocol's fault list `F` for `rcopy-check list`, with what each must break and why.
pub fn fault_infos<F: SeededFault>(targets: impl Fn(F) -> (&'static [&'static str], &'static str)) -> Vec<FaultInfo> {
    F::all()
        .iter()
        .map(|&f| {
            let (breaks, why) = targets(f);
            FaultInfo { name: f.name(), why, breaks }
        })
        .collect()
}

/// A protocol's properties for `rcopy-check list`: its `always` properties, then its
/// obligations (liveness), each with its tags.
pub fn property_infos<M: Model>(
    always: Vec<stateright::Property<M>>,
    obligations: Vec<Obligation<M>>,
    tags: impl Fn(&str) -> &'static [&'static str],
) -> Vec<PropertyInfo> {
    let mut v: Vec<PropertyInfo> = always
        .into_iter()
        .map(|p| PropertyInfo { name: p.name, kind: Kind::of(&p.expectation), tags: tags(p.name) })
        .collect();
    v.extend(obligations.into_iter().map(|o| PropertyInfo { name: o.name, kind: Kind::Liveness, tags: tags(o.name) }));
    v
}

/// `mode` if it is one of `valid`, else an error naming them.
pub fn known_mode(mode: &str, valid: &[&str]) -> Result<(), String> {
    if valid.contains(&mode) {
        Ok(())
    } else {
        Err(format!("unknown mode `{mode}` (valid: {})", valid.join(", ")))
    }
}

/// Named config `name` of a protocol's `configs`, parsed. A shipped config that does not parse
/// is a bug of the protocol, not bad input: it panics (the registry tests parse every one).
pub fn parse_named<C: DeserializeOwned>(protocol: &str, configs: &[NamedConfig], name: &str) -> Option<C> {
    let c = configs.iter().find(|c| c.name == name)?;
    Some(toml::from_str(c.toml).unwrap_or_else(|e| panic!("{protocol} config `{name}` does not parse: {e}")))
}

/// Config field `key`'s value `v` within `lo..=hi`, or an error naming the field.
pub fn in_range(key: &str, v: u32, lo: u32, hi: u32) -> Result<(), String> {
    if v < lo || v > hi {
        Err(format!("`{key}` is {v}: it must be {lo} to {hi}"))
    } else {
        Ok(())
    }
}

/// A config argument's label: a path `dir/x.toml` is `x`, a name is itself.
pub fn config_label(config: &str) -> String {
    if config.ends_with(".toml") || config.contains('/') {
        std::path::Path::new(config)
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| config.to_string())
    } else {
        config.to_string()
    }
}

/// A protocol, as the engine sees it.
pub trait Protocol: Send + Sync + 'static {
    /// A config, deserialized from TOML (unknown keys must be refused:
    /// `#[serde(deny_unknown_fields)]`).
    type Config: Serialize + DeserializeOwned + Clone + Debug + Send + Sync + 'static;
    /// A state of the world. Its serde form must describe it fully (no skipped fields): the
    /// explorer holds queued states packed and unpacks them (checking a sample against their
    /// fingerprints), and traces record states as JSON.
    type State: Clone + Hash + Eq + Debug + Serialize + DeserializeOwned + Send + Sync + 'static;
    type Action: Clone + Hash + Eq + Debug + Serialize + DeserializeOwned + Send + Sync + 'static;
    type Model: Model<State = Self::State, Action = Self::Action> + Clone + Send + Sync + 'static;

    /// The protocol's name: one word, the module name in every crate.
    fn name(&self) -> &'static str;
    /// One line: what it is and where it comes from.
    fn about(&self) -> &'static str;

    /// The named configs (`rcopy-check list` shows them in this order).
    fn configs(&self) -> &'static [NamedConfig];
    /// The fields of a config.
    fn config_fields(&self) -> &'static [Field];
    /// The variants, the text as written first (e.g. `faithful`), the most hardened last: a
    /// check nobody registered runs the last one unless told otherwise.
    fn variants(&self) -> &'static [&'static str];
    /// The modes, with what each means; the first is the default.
    fn modes(&self) -> &'static [(&'static str, &'static str)];
    /// The seeded faults.
    fn faults(&self) -> Vec<FaultInfo>;
    /// Every property of the protocol, in the order the verdict table shows them.
    fn properties(&self) -> Vec<PropertyInfo>;

    /// The model of a config, variant, faults and mode; an error names what is wrong.
    fn model(&self, config: &Self::Config, variant: &str, faults: &[String], mode: &str)
        -> Result<Self::Model, String>;

    /// The registered checks of a tier, with their expected verdicts.
    fn checks(&self, tier: Tier) -> Vec<Check>;
    /// The gaps of the text whose counterexamples are reviewed traces.
    fn gaps(&self) -> Vec<Gap> {
        Vec::new()
    }
    /// The exhaustive runs `make bench` times.
    fn bench(&self) -> Vec<Check>;

    /// The action classes, for coverage (and fairness): a short name each.
    fn action_classes(&self) -> &'static [&'static str];
    /// The class of an action: an index into [`Protocol::action_classes`].
    fn action_class(&self, action: &Self::Action) -> usize;
    /// The action classes a run of `model` must see fire: what its world can do. A check that
    /// expects properties to hold fails when one of them never fires, so a model in which
    /// nothing happens cannot pass.
    fn must_fire(&self, model: &Self::Model) -> Vec<&'static str>;
    /// The obligations of `model` (liveness properties kept as pending bits), besides its
    /// `eventually` properties. Listed in [`Protocol::properties`] with kind liveness.
    fn obligations(&self, _model: &Self::Model) -> Vec<Obligation<Self::Model>> {
        Vec::new()
    }
    /// The fairness classes of `model` (e.g. each link's delivery, each timer, each periodic
    /// process), each weakly or strongly fair; at most 254. The default, one weakly fair class
    /// of every action, is stateright's semantics: a run goes on while any step is possible.
    fn fair_classes(&self, _model: &Self::Model) -> Vec<(String, Fairness)> {
        vec![("any action".into(), Fairness::Weak)]
    }
    /// The fairness class of an action (an index into [`Protocol::fair_classes`]), or `None`
    /// for an action no fair behaviour needs to take: a loss, a crash, a disaster.
    fn fair_class(&self, _model: &Self::Model, _action: &Self::Action) -> Option<usize> {
        Some(0)
    }
    /// Symmetry: the representative of `state`'s class (interchangeable systems permuted into
    /// a canonical order). `None`, the default, means the protocol declares no symmetry.
    fn representative(&self, _model: &Self::Model, _state: &Self::State) -> Option<Self::State> {
        None
    }
    /// Whether [`Protocol::representative`] is implemented.
    fn has_symmetry(&self) -> bool {
        false
    }

    /// The participants of a sequence diagram, in order.
    fn participants(&self, model: &Self::Model) -> Vec<String>;
    /// What `action`, taken in `before` and leading to `after`, looks like. Must not panic on
    /// any states (they may come from a hand-edited trace file).
    fn narrate(&self, model: &Self::Model, before: &Self::State, action: &Self::Action, after: &Self::State) -> Event;
    /// A few lines on what each role holds in `state`.
    fn summary(&self, model: &Self::Model, state: &Self::State) -> Vec<String>;

    /// Feed `action`'s input to the roles in `state`, leaving the world around them alone:
    /// the same function the model's `next_state` calls. Replay uses it to check a trace
    /// against the production roles.
    fn drive_roles(&self, model: &Self::Model, state: &mut Self::State, action: &Self::Action) -> Result<(), String>;
    /// How the roles of `replayed` differ from those of `recorded`, if they do.
    fn roles_differ(&self, recorded: &Self::State, replayed: &Self::State) -> Option<String>;
}
