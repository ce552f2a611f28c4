//! The ordering protocol as the engine sees it: one [`Protocol`] implementation.

use super::checks;
use super::config::{self, Config};
use super::model::{Action, OrderingModel};
use super::properties;
use super::state::State;
use crate::protocol::{
    Check, Event, Fairness, FaultInfo, Field, Gap, NamedConfig, Obligation, PropertyInfo, Protocol, Tier,
};
use rcopy::ordering::{Fault, Message, Variant};

/// Seed 002: asynchronous remote copy over an out-of-order network.
#[derive(Clone, Copy, Debug, Default)]
pub struct Ordering;

/// The action classes, for coverage and fairness, in the order of [`Class`].
const CLASSES: &[&str] = &[
    "write",
    "publish",
    "send",
    "resend",
    "heartbeat",
    "tick",
    "deliver-data",
    "deliver-ack",
    "deliver-report",
    "deliver-limit",
    "lose",
    "duplicate",
    "round",
    "destage",
    "takeover",
    "crash",
    "retry",
];

/// An action class: its index in [`CLASSES`].
#[derive(Clone, Copy)]
enum Class {
    Write,
    Publish,
    Send,
    Resend,
    Heartbeat,
    Tick,
    DeliverData,
    DeliverAck,
    DeliverReport,
    DeliverLimit,
    Lose,
    Duplicate,
    Round,
    Destage,
    Takeover,
    Crash,
    Retry,
}

impl Protocol for Ordering {
    type Config = Config;
    type State = State;
    type Action = Action;
    type Model = OrderingModel;

    fn name(&self) -> &'static str {
        "ordering"
    }

    fn about(&self) -> &'static str {
        "seed 002: async remote copy over an out-of-order network; time stamps, per-stream sequence numbers, limit time, ordered destage"
    }

    fn configs(&self) -> &'static [NamedConfig] {
        config::NAMED
    }

    fn config_fields(&self) -> &'static [Field] {
        config::FIELDS
    }

    fn variants(&self) -> &'static [&'static str] {
        &["faithful", "hardened"]
    }

    fn modes(&self) -> &'static [(&'static str, &'static str)] {
        &[(
            checks::MODE,
            "a local-site disaster and takeover may strike in any state (S8 on the takeover image); it is not fair, so L1-L4 are judged on the behaviours that go on without it",
        )]
    }

    fn faults(&self) -> Vec<FaultInfo> {
        crate::protocol::fault_infos(checks::targets)
    }

    fn properties(&self) -> Vec<PropertyInfo> {
        crate::protocol::property_infos(properties::all(), properties::obligations(), properties::tags)
    }

    fn obligations(&self, _model: &OrderingModel) -> Vec<Obligation<OrderingModel>> {
        properties::obligations()
    }

    fn model(&self, config: &Config, variant: &str, faults: &[String], mode: &str) -> Result<OrderingModel, String> {
        let variant =
            Variant::from_name(variant).ok_or(format!("unknown variant `{variant}` (valid: faithful, hardened)"))?;
        crate::protocol::known_mode(mode, &[checks::MODE])?;
        let set = crate::protocol::fault_set::<Fault>(faults)?;
        OrderingModel::new(config.clone(), variant, set)
    }

    fn checks(&self, tier: Tier) -> Vec<Check> {
        checks::checks(tier)
    }

    fn gaps(&self) -> Vec<Gap> {
        let check = |config: &str, variant: &str| format!("ordering/{config}/{variant}/{}", checks::MODE);
        vec![
            Gap {
                name: "faithful-loss",
                tier: Tier::Tiny,
                check: check("tiny", "faithful"),
                property: checks::L1,
                why: "no resend: a lost write is never acknowledged nor destaged",
            },
            Gap {
                name: "B15",
                tier: Tier::Tiny,
                check: check("fanin", "faithful"),
                property: checks::L1,
                why: "no heartbeat: an idle stream pins the limit, so a write on the busy one is never destaged",
            },
            Gap {
                name: "faithful-duplicate",
                tier: Tier::Standard,
                check: check("standard", "faithful"),
                property: checks::S10,
                why: "step 800 stores a duplicate packet, which is destaged again over newer data",
            },
            Gap {
                name: "coarse-clock",
                tier: Tier::Tiny,
                check: check("coarse", "hardened"),
                property: checks::S12,
                why: "a coarse clock: a later write on another system can stamp an equal time and sort before",
            },
            Gap {
                name: "crashed-slave-L2",
                tier: Tier::Tiny,
                check: check("crash", "hardened"),
                property: checks::L2,
                why: "a crashed slave: the master grants no further limit",
            },
            Gap {
                name: "crashed-slave-L4",
                tier: Tier::Tiny,
                check: check("crash", "hardened"),
                property: checks::L4,
                why: "a crashed slave: the round it was part of never completes",
            },
        ]
    }

    fn bench(&self) -> Vec<Check> {
        checks::bench()
    }

    fn action_classes(&self) -> &'static [&'static str] {
        CLASSES
    }

    fn action_class(&self, action: &Action) -> usize {
        (match action {
            Action::Write { .. } => Class::Write,
            Action::Publish { .. } => Class::Publish,
            Action::Send { .. } => Class::Send,
            Action::Timeout { .. } => Class::Resend,
            Action::Heartbeat { .. } => Class::Heartbeat,
            Action::Tick => Class::Tick,
            Action::Deliver(e) => match e.msg {
                Message::Data(_) => Class::DeliverData,
                Message::Ack { .. } => Class::DeliverAck,
                Message::Report { .. } => Class::DeliverReport,
                Message::Limit { .. } => Class::DeliverLimit,
            },
            Action::Lose(_) => Class::Lose,
            Action::Duplicate(_) => Class::Duplicate,
            Action::Report { .. } => Class::Round,
            Action::Destage { .. } => Class::Destage,
            Action::Takeover => Class::Takeover,
            Action::Crash { .. } => Class::Crash,
            Action::Retry { .. } => Class::Retry,
        }) as usize
    }

    fn must_fire(&self, model: &OrderingModel) -> Vec<&'static str> {
        checks::must_fire(&model.config, model.variant)
    }

    /// Note 6.2: bounded writes, fair delivery on every link, every timer and periodic process
    /// fair; a loss, a duplicate and the disaster are not.
    fn fair_classes(&self, model: &OrderingModel) -> Vec<(String, Fairness)> {
        model.fair_classes().into_iter().map(|c| (c, Fairness::Weak)).collect()
    }

    fn fair_class(&self, model: &OrderingModel, action: &Action) -> Option<usize> {
        model.fair_class(action)
    }

    fn participants(&self, model: &OrderingModel) -> Vec<String> {
        model.participants()
    }

    fn narrate(&self, model: &OrderingModel, before: &State, action: &Action, after: &State) -> Event {
        model.narrate(before, action, after)
    }

    fn summary(&self, model: &OrderingModel, state: &State) -> Vec<String> {
        model.summary(state)
    }

    fn drive_roles(&self, model: &OrderingModel, state: &mut State, action: &Action) -> Result<(), String> {
        model.drive_roles(state, action)
    }

    fn roles_differ(&self, recorded: &State, replayed: &State) -> Option<String> {
        let (a, b) = (&recorded.roles, &replayed.roles);
        if a.senders != b.senders {
            Some("the senders differ from the recorded ones".into())
        } else if a.receivers != b.receivers {
            Some("the receivers differ from the recorded ones".into())
        } else if a.master != b.master {
            Some("the master differs from the recorded one".into())
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_are_named_in_order() {
        assert_eq!(CLASSES.len(), Class::Retry as usize + 1);
        assert_eq!(CLASSES[Class::DeliverLimit as usize], "deliver-limit");
        assert_eq!(CLASSES[Class::Round as usize], "round");
        let m =
            Ordering.model(&crate::ordering::Config::named("tiny").unwrap(), "hardened", &[], checks::MODE).unwrap();
        let fair = Ordering.fair_classes(&m);
        assert_eq!(fair.len(), 2 + 2 + 2 * 5 + 2 * 4, "host, tick, a publish per LDS, 5 per stream, 4 per RDS");
        let mut names: Vec<&String> = fair.iter().map(|(n, _)| n).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), fair.len(), "fairness classes have distinct names");
        // Where rounds are retried, each slave's retry timer is a class of its own, named for it.
        let m =
            Ordering.model(&crate::ordering::Config::named("rounds").unwrap(), "hardened", &[], checks::MODE).unwrap();
        let fair = Ordering.fair_classes(&m);
        assert_eq!(fair.len(), 2 + 2 + 2 * 5 + 2 * 4 + 2, "and a retry per RDS");
        for rds in 0..2 {
            let k = Ordering.fair_class(&m, &Action::Retry { rds }).expect("a retry is fair");
            assert_eq!(fair[k].0, format!("retry RDS{rds}"));
        }
        let k = Ordering.fair_class(&m, &Action::Report { rds: 1 }).unwrap();
        assert_eq!(fair[k].0, "round RDS1");
    }
}
