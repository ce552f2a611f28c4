//! Checking a protocol of your own with rcopy's engine, end to end.
//!
//! `mirror` is a small remote-copy protocol written for this example (it is none of rcopy's
//! five): a primary copies its writes, one at a time, to a backup over a network that loses
//! and duplicates messages. Each data message carries a bit; the backup applies a message
//! only when its bit is the one it expects and acknowledges every message with its bit; the
//! primary resends until the ack with the current bit comes back (the alternating-bit
//! protocol). The `naive` variant's backup applies whatever arrives, so a resent or duplicated
//! write is applied twice.
//!
//! What it shows: the roles as sans-IO state machines, a stateright model that wraps them
//! through one dispatcher, a [`Protocol`] implementation (configs as TOML, checks with expected
//! verdicts, narration, replay on the roles), and `cargo test` running the checks, writing
//! their traces to a folder and keeping one as an insta snapshot.
//!
//! Run it with `cargo run --release --example mirror` (the verdict table), or its tests with
//! `cargo test -p rcopy-checks --example mirror`.

use rcopy_checks::explorer::Kind;
use rcopy_checks::explorer::Obligation;
use rcopy_checks::runner::{self, Options};
use rcopy_checks::{Check, Event, Expect, Fairness, FaultInfo, Field, NamedConfig, PropertyInfo, Protocol, Tier};
use serde::{Deserialize, Serialize};
use stateright::{Model, Property};

// ---- The roles: what a production data path would run. ----

/// The primary: the writes still to copy, and the bit of the one in flight.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Primary {
    pub pending: Vec<u8>,
    pub bit: bool,
}

/// The backup: what it applied, and the bit it expects next.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Backup {
    pub applied: Vec<u8>,
    pub expect: bool,
    /// `false`: the naive backup, which applies every message.
    pub checks_bit: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Msg {
    Data { bit: bool, value: u8 },
    Ack { bit: bool },
}

impl Primary {
    /// Send (or resend) the write at the head.
    pub fn send(&self) -> Option<Msg> {
        self.pending.first().map(|&value| Msg::Data { bit: self.bit, value })
    }

    /// An ack: the head is copied if its bit is the current one.
    pub fn on_ack(&mut self, bit: bool) {
        if bit == self.bit && !self.pending.is_empty() {
            self.pending.remove(0);
            self.bit = !self.bit;
        }
    }
}

impl Backup {
    /// A data message: apply it if new, and acknowledge it.
    pub fn on_data(&mut self, bit: bool, value: u8) -> Msg {
        if !self.checks_bit || bit == self.expect {
            self.applied.push(value);
            self.expect = !bit;
        }
        Msg::Ack { bit }
    }
}

// ---- The model: the roles in a world of a lossy, duplicating network. ----

/// A world: how many writes, and how many messages the network may lose and duplicate.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub about: String,
    pub writes: u8,
    pub loss: u8,
    pub dup: u8,
    /// The network may lose any number of messages (`loss` is then not a budget).
    #[serde(default)]
    pub lossy: bool,
    /// Delivery is fair: a message the network keeps offering is eventually delivered. Off, a
    /// lossy network may lose every message forever.
    #[serde(default = "yes")]
    pub fair_channel: bool,
}

fn yes() -> bool {
    true
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct State {
    pub primary: Primary,
    pub backup: Backup,
    /// Messages in flight, sorted (a multiset).
    pub net: Vec<Msg>,
    pub loss_left: u8,
    pub dup_left: u8,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Action {
    Send,
    Deliver(Msg),
    Lose(Msg),
    Duplicate(Msg),
}

#[derive(Clone, Debug)]
pub struct MirrorModel {
    pub config: Config,
    pub checks_bit: bool,
}

/// The one dispatcher: feed an action's input to the roles; the model's `next_state` and
/// replay on the roles both call it. Returns the message the roles sent, if any.
fn feed(s: &mut State, action: Action) -> Option<Option<Msg>> {
    match action {
        Action::Send => Some(Some(s.primary.send()?)),
        Action::Deliver(Msg::Data { bit, value }) => Some(Some(s.backup.on_data(bit, value))),
        Action::Deliver(Msg::Ack { bit }) => {
            s.primary.on_ack(bit);
            Some(None)
        }
        Action::Lose(_) | Action::Duplicate(_) => Some(None),
    }
}

fn put(net: &mut Vec<Msg>, m: Msg) {
    let at = net.partition_point(|x| *x <= m);
    net.insert(at, m);
}

impl Model for MirrorModel {
    type State = State;
    type Action = Action;

    fn init_states(&self) -> Vec<State> {
        vec![State {
            primary: Primary { pending: (0..self.config.writes).collect(), bit: false },
            backup: Backup { applied: Vec::new(), expect: false, checks_bit: self.checks_bit },
            net: Vec::new(),
            loss_left: self.config.loss,
            dup_left: self.config.dup,
        }]
    }

    fn actions(&self, s: &State, actions: &mut Vec<Action>) {
        // The primary's timer: resend while nothing is in flight.
        if s.net.is_empty() && s.primary.send().is_some() {
            actions.push(Action::Send);
        }
        for (i, &m) in s.net.iter().enumerate() {
            if i > 0 && s.net[i - 1] == m {
                continue;
            }
            actions.push(Action::Deliver(m));
            if s.loss_left > 0 || self.config.lossy {
                actions.push(Action::Lose(m));
            }
            if s.dup_left > 0 {
                actions.push(Action::Duplicate(m));
            }
        }
    }

    fn next_state(&self, last: &State, action: Action) -> Option<State> {
        let mut s = last.clone();
        let sent = feed(&mut s, action)?;
        match action {
            Action::Deliver(m) | Action::Lose(m) => {
                let i = s.net.binary_search(&m).ok()?;
                s.net.remove(i);
                if let (Action::Lose(_), false) = (action, self.config.lossy) {
                    s.loss_left = s.loss_left.checked_sub(1)?;
                }
            }
            Action::Duplicate(m) => {
                s.dup_left = s.dup_left.checked_sub(1)?;
                put(&mut s.net, m);
            }
            Action::Send => {}
        }
        if let Some(m) = sent {
            put(&mut s.net, m);
        }
        Some(s)
    }

    fn properties(&self) -> Vec<Property<Self>> {
        vec![
            Property::always("M1 the backup is a prefix of the writes", |_, s: &State| {
                s.backup.applied.iter().enumerate().all(|(i, v)| *v as usize == i)
            }),
            Property::sometimes("X1 every write mirrored", |m: &MirrorModel, s: &State| {
                s.backup.applied.len() == m.config.writes as usize
            }),
        ]
    }
}

// ---- The protocol, as rcopy's engine sees it. ----

#[derive(Clone, Copy, Debug, Default)]
pub struct Mirror;

const CLASSES: &[&str] = &["send", "deliver-data", "deliver-ack", "lose", "duplicate"];
const M1: &str = "M1 the backup is a prefix of the writes";
const X1: &str = "X1 every write mirrored";
const M2: &str = "M2 every write is copied";

/// M2 pending: the primary still holds a write.
fn m2(_: &MirrorModel, s: &State) -> bool {
    !s.primary.pending.is_empty()
}

fn check(config: &str, variant: &str, expect: Vec<(&str, Expect)>, why: &str) -> Check {
    Check {
        protocol: "mirror".into(),
        config: config.into(),
        sets: Vec::new(),
        variant: variant.into(),
        faults: Vec::new(),
        mode: "default".into(),
        expect: expect.into_iter().map(|(p, e)| (p.to_string(), e)).collect(),
        why: why.into(),
    }
}

impl Protocol for Mirror {
    type Config = Config;
    type State = State;
    type Action = Action;
    type Model = MirrorModel;

    fn name(&self) -> &'static str {
        "mirror"
    }
    fn about(&self) -> &'static str {
        "an example: writes copied one at a time over a lossy network (alternating bit)"
    }
    fn configs(&self) -> &'static [NamedConfig] {
        &[
            NamedConfig {
                name: "small",
                toml: "about = \"two writes, one loss, one duplicate\"\nwrites = 2\nloss = 1\ndup = 1\n",
            },
            NamedConfig {
                name: "busy",
                toml: "about = \"three writes, two losses, two duplicates\"\nwrites = 3\nloss = 2\ndup = 2\n",
            },
            NamedConfig {
                name: "lossy",
                toml: "about = \"two writes over a network that may lose any message, but delivers fairly\"\nwrites = 2\nloss = 0\ndup = 0\nlossy = true\n",
            },
            NamedConfig {
                name: "unfair",
                toml: "about = \"two writes over a network that may lose every message forever\"\nwrites = 2\nloss = 0\ndup = 0\nlossy = true\nfair_channel = false\n",
            },
        ]
    }
    fn config_fields(&self) -> &'static [Field] {
        &[
            Field { key: "about", about: "what this world is for" },
            Field { key: "writes", about: "writes to copy" },
            Field { key: "loss", about: "messages the network may lose" },
            Field { key: "dup", about: "messages the network may duplicate" },
            Field { key: "lossy", about: "the network may lose any number of messages" },
            Field { key: "fair_channel", about: "a message offered forever is delivered (default true)" },
        ]
    }
    fn variants(&self) -> &'static [&'static str] {
        &["naive", "alternating"]
    }
    fn modes(&self) -> &'static [(&'static str, &'static str)] {
        &[("default", "the only mode")]
    }
    fn faults(&self) -> Vec<FaultInfo> {
        Vec::new()
    }
    fn properties(&self) -> Vec<PropertyInfo> {
        vec![
            PropertyInfo { name: M1, kind: Kind::Safety, tags: &["apply"] },
            PropertyInfo { name: X1, kind: Kind::Example, tags: &["sanity"] },
            PropertyInfo { name: M2, kind: Kind::Liveness, tags: &["progress"] },
        ]
    }
    fn obligations(&self, _: &MirrorModel) -> Vec<Obligation<MirrorModel>> {
        vec![Obligation { name: M2, pending: m2 }]
    }
    /// Delivery over a lossy network is enabled only while a message is in flight, so weak
    /// fairness would not force it (send, lose, send, lose... is weakly fair): a fair lossy
    /// channel is strongly fair.
    fn fair_classes(&self, _: &MirrorModel) -> Vec<(String, Fairness)> {
        vec![
            ("send".into(), Fairness::Weak),
            ("deliver data".into(), Fairness::Strong),
            ("deliver ack".into(), Fairness::Strong),
        ]
    }
    fn fair_class(&self, m: &MirrorModel, a: &Action) -> Option<usize> {
        match a {
            Action::Send => Some(0),
            Action::Deliver(_) if !m.config.fair_channel => None,
            Action::Deliver(Msg::Data { .. }) => Some(1),
            Action::Deliver(Msg::Ack { .. }) => Some(2),
            Action::Lose(_) | Action::Duplicate(_) => None,
        }
    }
    fn model(&self, config: &Config, variant: &str, faults: &[String], mode: &str) -> Result<MirrorModel, String> {
        if !faults.is_empty() || mode != "default" {
            return Err("mirror has no faults and one mode".into());
        }
        let checks_bit = match variant {
            "naive" => false,
            "alternating" => true,
            v => return Err(format!("unknown variant `{v}`")),
        };
        if config.writes > 8 {
            return Err("writes: at most 8".into());
        }
        Ok(MirrorModel { config: config.clone(), checks_bit })
    }
    fn checks(&self, tier: Tier) -> Vec<Check> {
        let config = match tier {
            Tier::Tiny => "small",
            Tier::Standard => "busy",
        };
        vec![
            check(
                config,
                "alternating",
                vec![(M1, Expect::Holds), (X1, Expect::Witnessed), (M2, Expect::Holds)],
                "the bit makes a resend harmless",
            ),
            check(config, "naive", vec![(M1, Expect::Violated)], "a resent write is applied twice"),
            check(
                "lossy",
                "alternating",
                vec![(M1, Expect::Holds), (M2, Expect::Holds)],
                "resends over a fair lossy network copy every write",
            ),
            check(
                "unfair",
                "alternating",
                vec![(M1, Expect::Holds), (M2, Expect::Violated)],
                "a network that may lose every message forever copies nothing",
            ),
        ]
    }
    fn bench(&self) -> Vec<Check> {
        Vec::new()
    }
    fn action_classes(&self) -> &'static [&'static str] {
        CLASSES
    }
    fn action_class(&self, a: &Action) -> usize {
        match a {
            Action::Send => 0,
            Action::Deliver(Msg::Data { .. }) => 1,
            Action::Deliver(Msg::Ack { .. }) => 2,
            Action::Lose(_) => 3,
            Action::Duplicate(_) => 4,
        }
    }
    fn must_fire(&self, m: &MirrorModel) -> Vec<&'static str> {
        let mut v = vec!["send", "deliver-data", "deliver-ack"];
        if m.config.loss > 0 || m.config.lossy {
            v.push("lose");
        }
        if m.config.dup > 0 {
            v.push("duplicate");
        }
        v
    }
    fn participants(&self, _: &MirrorModel) -> Vec<String> {
        vec!["Primary".into(), "Backup".into()]
    }
    fn narrate(&self, _: &MirrorModel, before: &State, a: &Action, _: &State) -> Event {
        let msg = |m: &Msg| match m {
            Msg::Data { bit, value } => format!("data w{value} bit {}", *bit as u8),
            Msg::Ack { bit } => format!("ack bit {}", *bit as u8),
        };
        let from = |m: &Msg| if matches!(m, Msg::Data { .. }) { "Primary" } else { "Backup" };
        match a {
            Action::Send => {
                Event::note("Primary", before.primary.send().map_or("send".into(), |m| format!("send {}", msg(&m))))
            }
            Action::Deliver(m) => {
                let to = if from(m) == "Primary" { "Backup" } else { "Primary" };
                Event::arrow(from(m), to, msg(m))
            }
            Action::Lose(m) => Event::note(from(m), format!("LOST {}", msg(m))),
            Action::Duplicate(m) => Event::note(from(m), format!("DUPLICATED {}", msg(m))),
        }
    }
    fn summary(&self, _: &MirrorModel, s: &State) -> Vec<String> {
        vec![
            format!("Primary: pending {:?}, bit {}", s.primary.pending, s.primary.bit as u8),
            format!("Backup: applied {:?}, expects bit {}", s.backup.applied, s.backup.expect as u8),
        ]
    }
    fn drive_roles(&self, _: &MirrorModel, s: &mut State, a: &Action) -> Result<(), String> {
        feed(s, *a).map(|_| ()).ok_or_else(|| "the roles refuse this step".into())
    }
    fn roles_differ(&self, recorded: &State, replayed: &State) -> Option<String> {
        (recorded.primary != replayed.primary || recorded.backup != replayed.backup)
            .then(|| "the roles differ from the recorded ones".into())
    }
}

fn main() {
    let tier = if std::env::args().any(|a| a == "--standard") { Tier::Standard } else { Tier::Tiny };
    let dir = std::env::temp_dir().join("mirror-traces");
    let opts = Options { trace_dir: Some(dir.clone()), ..Options::default() };
    let outcomes: Vec<_> = Mirror
        .checks(tier)
        .iter()
        .map(|c| runner::run(&Mirror, c, &opts).unwrap_or_else(|e| panic!("{}: {e}", c.name())))
        .collect();
    print!("{}", rcopy_checks::summary::table(&outcomes, true));
    println!("{}", rcopy_checks::summary::verdict_line(&outcomes));
    println!("traces in {}", dir.display());
    if !outcomes.iter().all(|o| o.as_expected()) {
        std::process::exit(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rcopy_checks::explorer::Verdict;

    fn run(check: &Check, opts: &Options) -> rcopy_checks::Outcome {
        runner::run(&Mirror, check, opts).unwrap_or_else(|e| panic!("{}: {e}", check.name()))
    }

    #[test]
    fn every_check_is_as_expected_in_both_tiers() {
        for tier in Tier::ALL {
            for c in Mirror.checks(tier) {
                let o = run(&c, &Options::default());
                assert!(o.as_expected(), "{}: {:?}", c.name(), o.mismatches());
            }
        }
    }

    #[test]
    fn traces_are_written_replayed_and_reviewed() {
        let dir = std::env::temp_dir().join(format!("mirror-traces-{}", std::process::id()));
        let naive = Mirror.checks(Tier::Tiny).into_iter().find(|c| c.variant == "naive").unwrap();
        let o = run(&naive, &Options { trace_dir: Some(dir.clone()), ..Options::default() });
        assert_eq!(o.verdict(M1), Some(Verdict::Violated));
        let file = o.properties[0].trace_file.clone().expect("the trace was written");
        let trace = rcopy_checks::trace::Trace::read(&file).expect("it reads back");
        rcopy_checks::replay::on_model(&Mirror, &trace).expect("it replays on the model");
        rcopy_checks::replay::on_roles(&Mirror, &trace).expect("it replays on the roles");
        insta::assert_snapshot!("naive-duplicate", rcopy_checks::render::text(&Mirror, &trace).unwrap());
    }

    /// A liveness counterexample that loops: the primary sends, the network loses, forever.
    #[test]
    fn a_lasso_is_found_replayed_and_reviewed() {
        let unfair = Mirror.checks(Tier::Tiny).into_iter().find(|c| c.config == "unfair").unwrap();
        let o = run(&unfair, &Options::default());
        assert!(o.as_expected(), "{:?}", o.mismatches());
        let trace = o.trace(M2).expect("a lasso").clone();
        assert_eq!(trace.loop_index, Some(0), "the cycle starts in the initial state");
        rcopy_checks::replay::on_model(&Mirror, &trace).expect("it replays on the model");
        rcopy_checks::replay::on_roles(&Mirror, &trace).expect("the cycle closes on the roles");
        let text = rcopy_checks::render::text(&Mirror, &trace).unwrap();
        let mermaid = rcopy_checks::render::mermaid(&Mirror, &trace).unwrap();
        let dot = rcopy_checks::render::dot(&Mirror, &trace).unwrap();
        assert!(mermaid.contains("loop forever"), "{mermaid}");
        insta::assert_snapshot!("unfair-lasso", format!("{text}\n{mermaid}\n{dot}"));
        // Made fair, the same network copies every write.
        let lossy = Mirror.checks(Tier::Tiny).into_iter().find(|c| c.config == "lossy").unwrap();
        assert!(run(&lossy, &Options::default()).as_expected());
    }

    #[test]
    fn a_world_with_nothing_to_copy_fails_its_check() {
        let mut c = Mirror.checks(Tier::Tiny).remove(0);
        c.sets = vec!["writes=0".into()];
        let o = run(&c, &Options::default());
        assert!(!o.as_expected(), "with no writes nothing is sent, and the check must fail");
    }
}
