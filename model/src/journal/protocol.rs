//! The journal protocol as the engine sees it: one [`Protocol`] implementation, and the
//! narration of its steps.

use super::checks;
use super::config::{self, Config};
use super::model::{Action, JournalModel};
use super::properties;
use super::state::State;
use crate::protocol::{
    Check, Event, Fairness, FaultInfo, Field, Gap, Kind, NamedConfig, Obligation, PropertyInfo, Protocol, Tier,
};
use rcopy::fault::FaultSet;
use rcopy::journal::{Fault, Mode, PairState, Variant};

/// Seed 003: a journal ring on a plain intermediate storage.
#[derive(Clone, Copy, Debug, Default)]
pub struct Journal;

/// The action classes, for coverage, in the order [`Journal::action_class`] numbers them.
const CLASSES: &[&str] = &[
    "write",
    "write-unit",
    "control",
    "poll",
    "apply",
    "heartbeat",
    "drain",
    "crash-p",
    "crash-s",
    "fail-i",
    "fence",
    "takeover",
    "secondary-write",
];

impl Protocol for Journal {
    type Config = Config;
    type State = State;
    type Action = Action;
    type Model = JournalModel;

    fn name(&self) -> &'static str {
        "journal"
    }

    fn about(&self) -> &'static str {
        "seed 003: a journal ring and control info on a plain intermediate storage; drain on failure, bitmaps"
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
        &[(checks::MODE, "crashes of P and S, a failure of I, and the console's decisions may come in any state; none is fair")]
    }

    fn faults(&self) -> Vec<FaultInfo> {
        Fault::ALL
            .into_iter()
            .map(|f| {
                let (breaks, why) = checks::targets(f);
                FaultInfo { name: f.name(), why, breaks }
            })
            .collect()
    }

    fn properties(&self) -> Vec<PropertyInfo> {
        let mut v: Vec<PropertyInfo> = properties::all()
            .into_iter()
            .map(|p| PropertyInfo { name: p.name, kind: Kind::of(&p.expectation), tags: properties::tags(p.name) })
            .collect();
        v.extend(properties::obligations().into_iter().map(|o| PropertyInfo {
            name: o.name,
            kind: Kind::Liveness,
            tags: properties::tags(o.name),
        }));
        v
    }

    fn obligations(&self, _model: &JournalModel) -> Vec<Obligation<JournalModel>> {
        properties::obligations()
    }

    fn model(&self, config: &Config, variant: &str, faults: &[String], mode: &str) -> Result<JournalModel, String> {
        let variant =
            Variant::from_name(variant).ok_or(format!("unknown variant `{variant}` (valid: faithful, hardened)"))?;
        if mode != checks::MODE {
            return Err(format!("unknown mode `{mode}` (valid: {})", checks::MODE));
        }
        let mut set = FaultSet::NONE;
        for f in faults {
            let fault = Fault::from_name(f).ok_or_else(|| {
                let valid: Vec<&str> = Fault::ALL.iter().map(|f| f.name()).collect();
                format!("unknown fault `{f}` (valid: {})", valid.join(", "))
            })?;
            set = set.with(fault as u32).map_err(|e| e.to_string())?;
        }
        JournalModel::new(config.clone(), variant, set)
    }

    fn checks(&self, tier: Tier) -> Vec<Check> {
        checks::checks(tier)
    }

    fn gaps(&self) -> Vec<Gap> {
        vec![Gap {
            name: "faithful-takeover",
            tier: Tier::Tiny,
            check: format!("journal/i-fails/faithful/{}", checks::MODE),
            property: properties::S14,
            why: "the text does not gate takeover on fencing P: P and the secondary host both write",
        }]
    }

    fn bench(&self) -> Vec<Check> {
        checks::bench()
    }

    fn action_classes(&self) -> &'static [&'static str] {
        CLASSES
    }

    fn action_class(&self, action: &Action) -> usize {
        match action {
            Action::Write { .. } => 0,
            Action::WriteUnit { .. } => 1,
            Action::Control => 2,
            Action::Poll => 3,
            Action::Apply => 4,
            Action::Heartbeat => 5,
            Action::Drain => 6,
            Action::CrashP => 7,
            Action::CrashS => 8,
            Action::FailI => 9,
            Action::Fence => 10,
            Action::Takeover => 11,
            Action::SecondaryWrite { .. } => 12,
        }
    }

    fn must_fire(&self, model: &JournalModel) -> Vec<&'static str> {
        checks::must_fire(&model.config)
    }

    fn fair_classes(&self, model: &JournalModel) -> Vec<(String, Fairness)> {
        model.fair_classes().into_iter().map(|c| (c, Fairness::Weak)).collect()
    }

    fn fair_class(&self, model: &JournalModel, action: &Action) -> Option<usize> {
        model.fair_class(action)
    }

    fn participants(&self, _model: &JournalModel) -> Vec<String> {
        ["host", "P", "I", "S", "console"].map(String::from).to_vec()
    }

    fn narrate(&self, _model: &JournalModel, before: &State, action: &Action, after: &State) -> Event {
        narrate(before, action, after)
    }

    fn summary(&self, _model: &JournalModel, s: &State) -> Vec<String> {
        summary(s)
    }

    fn drive_roles(&self, model: &JournalModel, state: &mut State, action: &Action) -> Result<(), String> {
        model.drive_roles(state, action)
    }

    fn roles_differ(&self, recorded: &State, replayed: &State) -> Option<String> {
        if recorded.p != replayed.p {
            Some("P differs from the recorded one".into())
        } else if recorded.s != replayed.s {
            Some("S differs from the recorded one".into())
        } else {
            None
        }
    }
}

fn up(b: bool) -> &'static str {
    if b {
        "up"
    } else {
        "down"
    }
}

/// One step as a renderer shows it. Total on any pair of states.
pub fn narrate(before: &State, action: &Action, after: &State) -> Event {
    match *action {
        Action::Write { addr, blocks } => {
            let text = match after.ghost.writes.last() {
                Some(w) if after.ghost.writes.len() > before.ghost.writes.len() => match w.journal {
                    Some((m, pos)) => format!(
                        "write b{addr}+{blocks}: journal {} ts {} at {}..{}{}",
                        m.id.0,
                        m.ts.0,
                        pos.0,
                        pos.0 + u32::from(m.blocks),
                        if w.acked { ", acked now" } else { "" }
                    ),
                    None => format!("write b{addr}+{blocks}: suspended, bitmap marked, completed"),
                },
                _ => format!("write b{addr}+{blocks}"),
            };
            Event::arrow("host", "P", text)
        }
        Action::WriteUnit { id } => {
            let acked: Vec<String> = after
                .ghost
                .writes
                .iter()
                .zip(before.ghost.writes.iter())
                .filter(|(a, b)| a.acked && !b.acked)
                .filter_map(|(a, _)| a.journal.map(|(m, _)| m.id.0.to_string()))
                .collect();
            let mut text = format!("journal {} unit", id.0);
            if !after.i_up {
                text = format!("journal {}: I does not answer, P suspends", id.0);
            } else if !acked.is_empty() {
                text.push_str(&format!(" (journal complete; host acked: {})", acked.join(", ")));
            }
            Event::arrow("P", "I", text)
        }
        Action::Control => {
            let text = if before.p.pair == PairState::Pair && after.p.pair == PairState::Suspend {
                format!("read 632: S declared failed; suspend, bitmap {:#b}", after.p.bitmap.bits)
            } else {
                format!(
                    "read 632 (head {}, hb {}); head 626 := {}; 631 := head {} size {} hb {}",
                    before.c632.head.0,
                    before.c632.heartbeat,
                    after.p.head.0,
                    after.c631.head.0,
                    after.c631.size,
                    after.c631.heartbeat
                )
            };
            Event::arrow("P", "I", text)
        }
        Action::Poll => {
            let text = match after.s.mode {
                Mode::Draining { .. } if before.s.mode == Mode::Normal => "631 unchanged: P declared failed, drain".into(),
                Mode::Suspended if before.s.mode == Mode::Normal => "631 unreadable: suspend".into(),
                _ if !after.to_apply.is_empty() && before.to_apply.is_empty() => format!(
                    "read 631 (end {}); fetch from {}: {} unit(s) to apply",
                    before.c631.end().0,
                    after.fetched_from.0,
                    after.to_apply.len()
                ),
                _ => format!("read 631 (end {}, hb {}): nothing new", before.c631.end().0, before.c631.heartbeat),
            };
            Event::arrow("S", "I", text)
        }
        Action::Apply => Event::arrow(
            "S",
            "I",
            format!("apply {} unit(s); 632 := head {} hb {}", before.to_apply.len(), after.c632.head.0, after.c632.heartbeat),
        ),
        Action::Heartbeat => Event::arrow("S", "I", format!("heartbeat: 632 hb {}", after.c632.heartbeat)),
        Action::Drain => {
            let text = if after.s.mode == Mode::Suspended {
                format!("drain over at {}: suspend", after.s.head.0)
            } else {
                format!("drain: read from {}, {} unit(s) valid to apply", after.fetched_from.0, after.to_apply.len())
            };
            Event::arrow("S", "I", text)
        }
        Action::CrashP => Event::note("P", "crashes"),
        Action::CrashS => Event::note("S", "crashes"),
        Action::FailI => Event::note("I", "fails"),
        Action::Fence => Event::arrow("console", "P", "block (fence) P"),
        Action::Takeover => Event::arrow("console", "S", "secondary host takes over"),
        Action::SecondaryWrite { addr } => Event::note("S", format!("secondary host writes b{addr}")),
    }
}

/// What each side holds in `s`.
pub fn summary(s: &State) -> Vec<String> {
    let vol = |v: &[u8]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>().join(" ");
    vec![
        format!(
            "P {}: {:?} head {} next {} done {}; in flight {}; 108 {}; bitmap {:#b}{}",
            up(s.p_up),
            s.p.pair,
            s.p.head.0,
            s.p.next.0,
            s.p.done.0,
            s.p.inflight.len(),
            s.p.updates.len(),
            s.p.bitmap.bits,
            if s.p_fenced { "; fenced" } else { "" }
        ),
        format!(
            "I {}: 631 head {} size {} hb {}; 632 head {} size {} hb {}",
            up(s.i_up),
            s.c631.head.0,
            s.c631.size,
            s.c631.heartbeat,
            s.c632.head.0,
            s.c632.size,
            s.c632.heartbeat
        ),
        format!(
            "S {}: {:?} head {} end {}; buffer {}; volume {}",
            up(s.s_up),
            s.s.mode,
            s.s.head.0,
            s.s.end.0,
            s.to_apply.len(),
            vol(&s.vol_s)
        ),
        format!("P volume {}", vol(&s.vol_p)),
    ]
}
