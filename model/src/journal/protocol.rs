//! The journal protocol as the engine sees it: one [`Protocol`] implementation, and the
//! narration of its steps.

use super::checks;
use super::config::{self, Config};
use super::model::{ring_name, side_name, Action, JournalModel};
use super::properties;
use super::state::{Multi, Side, State};
use crate::protocol::{
    Check, Event, Fairness, FaultInfo, Field, Gap, NamedConfig, Obligation, PropertyInfo, Protocol, Tier,
};
use rcopy::journal::multi::{Data, Placed};
use rcopy::journal::{Direction, Fault, Mode, Owner, PairState, ReqId, Resync, Variant};

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
    "recover-p",
    "resync",
    "copy",
    "resync-write",
    "resend",
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
        crate::protocol::fault_infos(checks::targets)
    }

    fn properties(&self) -> Vec<PropertyInfo> {
        crate::protocol::property_infos(properties::all(), properties::obligations(), properties::tags)
    }

    fn obligations(&self, _model: &JournalModel) -> Vec<Obligation<JournalModel>> {
        properties::obligations()
    }

    fn model(&self, config: &Config, variant: &str, faults: &[String], mode: &str) -> Result<JournalModel, String> {
        let variant =
            Variant::from_name(variant).ok_or(format!("unknown variant `{variant}` (valid: faithful, hardened)"))?;
        crate::protocol::known_mode(mode, &[checks::MODE])?;
        let set = crate::protocol::fault_set::<Fault>(faults)?;
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
        },
        Gap {
            name: "faithful-volatile-bitmap",
            tier: Tier::Tiny,
            check: format!("journal/resync-i/faithful/{}", checks::MODE),
            property: properties::S10,
            why: "the text keeps P's bitmap in memory: a crash after I failed loses the writes P marked, and 1403 cannot tell",
        },
        Gap {
            name: "faithful-reorder-stall",
            tier: Tier::Tiny,
            check: format!("journal/multi/faithful/{}", checks::MODE),
            property: properties::L6,
            why: "with several intermediates the text bounds each ring by its own room: later journals fill S's reorder buffer while the next id waits",
        },
        Gap {
            name: "faithful-link-switch",
            tier: Tier::Tiny,
            check: format!("journal/link/faithful/{}", checks::MODE),
            property: properties::L6,
            why: "the text does not say that P sends the unconfirmed journals over link 1701 before new writes: new ones take the room, and S waits for the old",
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
            Action::Poll { .. } => 3,
            Action::Apply { .. } => 4,
            Action::Heartbeat { .. } => 5,
            Action::Drain { .. } => 6,
            Action::CrashP => 7,
            Action::CrashS { .. } => 8,
            Action::FailI => 9,
            Action::Fence => 10,
            Action::Takeover => 11,
            Action::SecondaryWrite { .. } => 12,
            Action::RecoverP { .. } => 13,
            Action::Resync { .. } => 14,
            Action::Copy => 15,
            Action::ResyncWrite { .. } => 16,
            Action::Place { .. } => 0,
            Action::ControlAt { .. } => 2,
            Action::PollAt { .. } => 3,
            Action::Merge => 4,
            Action::FailAt { .. } => 9,
            Action::Resend => 17,
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

    fn participants(&self, model: &JournalModel) -> Vec<String> {
        let mut v: Vec<String> = ["host", "P"].map(String::from).to_vec();
        if model.multi_rings() > 0 {
            v.extend((0..model.multi_rings()).map(|r| ring_name(model.config.link, r)));
        } else {
            v.push("I".into());
        }
        v.extend((0..model.config.secondaries).map(side_name));
        v.push("console".into());
        v
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
        if recorded.multi.as_ref().map(|m| (&m.p, &m.s)) != replayed.multi.as_ref().map(|m| (&m.p, &m.s)) {
            Some("embodiment 3's P or S differs from the recorded one".into())
        } else if recorded.p != replayed.p {
            Some("P differs from the recorded one".into())
        } else if let Some(i) = (0..recorded.ss.len()).find(|&i| recorded.ss.get(i).map(|x| &x.role) != replayed.ss.get(i).map(|x| &x.role)) {
            Some(format!("{} differs from the recorded one", side_name(i as u8)))
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
    if before.multi.is_some() {
        return narrate_multi(before, action, after);
    }
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
            let acked = newly_acked(before, after);
            let mut text = format!("journal {} unit", id.0);
            if !after.i_up {
                text = format!("journal {}: I does not answer, P suspends", id.0);
            } else if !acked.is_empty() {
                text.push_str(&format!(" (journal complete; host acked: {})", acked.join(", ")));
            }
            Event::arrow("P", "I", text)
        }
        Action::Control => {
            let text = if before.p.pair == PairState::Pair && after.p.pair == PairState::Suspend && !before.i_up {
                format!("632 unreadable: suspend, bitmap {:#b}", after.p.bitmap.bits)
            } else if before.p.pair == PairState::Pair && after.p.pair == PairState::Suspend {
                format!("read 632: S declared failed; suspend, bitmap {:#b}", after.p.bitmap.bits)
            } else {
                let read: Vec<String> = before
                    .ss
                    .iter()
                    .enumerate()
                    .map(|(i, x)| format!("{}head {}, hb {}", who_of(i), x.c632.head.0, x.c632.heartbeat))
                    .collect();
                format!(
                    "read 632 ({}); head 626 := {}; 631 := head {} size {} hb {}",
                    read.join("; "),
                    after.p.head.0,
                    after.c631.head.0,
                    after.c631.size,
                    after.c631.heartbeat
                )
            };
            Event::arrow("P", "I", text)
        }
        Action::Poll { s: i } | Action::Apply { s: i } | Action::Heartbeat { s: i } | Action::Drain { s: i } => {
            let who = side_name(i);
            match (before.ss.get(usize::from(i)), after.ss.get(usize::from(i))) {
                (Some(b), Some(a)) => Event::arrow(who, "I", side_step(before, action, b, a, after)),
                _ => Event::note(who, "no such secondary"),
            }
        }
        Action::CrashP => Event::note("P", "crashes"),
        Action::CrashS { s } => Event::note(side_name(s), "crashes"),
        Action::FailI => Event::note("I", "fails"),
        Action::Fence => Event::arrow("console", "P", "block (fence) P"),
        Action::Takeover => Event::arrow("console", "S", "secondary host takes over"),
        Action::SecondaryWrite { addr } => Event::note("S", format!("secondary host writes b{addr}")),
        Action::RecoverP { lost } => Event::note(
            "P",
            format!(
                "restarts{}: suspended, bitmap {:#b} from id {}",
                if lost { " without its volume" } else { "" },
                after.p.bitmap.bits,
                after.p.bitmap.start_id.0
            ),
        ),
        Action::Resync { to_secondary } => {
            let (to, from) = if to_secondary { ("S", "P") } else { ("P", "S") };
            let plan = match after.resync {
                Some(Resync { initial: Some(why), dirty, .. }) => {
                    format!("initial copy from {from} ({why:?}): blocks {:#b}", dirty.bits)
                }
                Some(r) => format!("copy from {from}: blocks {:#b}", r.dirty.bits),
                None => String::new(),
            };
            Event::arrow(
                "console",
                to,
                format!(
                    "resync to {to} (P's bitmap {:#b} from id {}, S's {:#b} from id {}): {plan}",
                    before.p.bitmap.bits,
                    before.p.bitmap.start_id.0,
                    before.s0().role.bitmap.bits,
                    before.s0().role.bitmap.start_id.0
                ),
            )
        }
        Action::Copy => {
            let copied = match (before.resync, after.resync) {
                (Some(b), Some(a)) => b.dirty.bits & !a.dirty.bits,
                _ => 0,
            };
            let (from, to) = match after.ghost.direction {
                Some(Direction::PrimaryToSecondary) => ("P", "S"),
                _ => ("S", "P"),
            };
            Event::arrow(from, to, format!("copy blocks {copied:#b}"))
        }
        Action::ResyncWrite { addr } => Event::note("host", format!("writes b{addr} at the source during the resync")),
        Action::Place { .. }
        | Action::ControlAt { .. }
        | Action::PollAt { .. }
        | Action::Merge
        | Action::Resend
        | Action::FailAt { .. } => narrate_multi(before, action, after),
    }
}

/// The journals whose host writes were acknowledged by the step from `before` to `after`.
fn newly_acked(before: &State, after: &State) -> Vec<String> {
    after
        .ghost
        .writes
        .iter()
        .zip(before.ghost.writes.iter())
        .filter(|(a, b)| a.acked && !b.acked)
        .filter_map(|(a, _)| a.journal.map(|(m, _)| m.id.0.to_string()))
        .collect()
}

/// What P made of intermediate `ring`'s failure, in `after`.
fn dropped(after: &Multi, ring: u8) -> String {
    let ring_name = |r: u8| ring_name(after.p.fallback, r);
    let waiting: Vec<String> =
        after.p.kept.iter().filter(|k| k.placed.ring == ring).map(|k| k.placed.meta.id.0.to_string()).collect();
    if waiting.is_empty() {
        format!("P drops {}, keeping none of its journals", ring_name(ring))
    } else {
        format!("P drops {}; journal(s) {} wait to be resent", ring_name(ring), waiting.join(", "))
    }
}

/// Embodiment 3's steps. Total on any pair of states.
fn narrate_multi(before: &State, action: &Action, after: &State) -> Event {
    let (Some(b), Some(a)) = (before.multi.as_deref(), after.multi.as_deref()) else {
        return Event::note("P", "not a world of several intermediates");
    };
    let ring_name = |r: u8| ring_name(a.p.fallback, r);
    let placed = |id: ReqId| a.writing.iter().find(|w| w.0.meta.id == id).map(|w| w.0);
    let at = |p: &Placed| {
        let data = match p.data {
            Data::Host => String::new(),
            Data::Kept(h) => format!(", the image of write {}", h.0),
            Data::Volume => ", the volume's current data".into(),
        };
        format!("journal {} at {}..{}{data}", p.meta.id.0, p.pos.0, p.pos.0 + p.units)
    };
    match *action {
        Action::Place { ring, addr, blocks } => {
            let text = match after.ghost.writes.last() {
                Some(w) if after.ghost.writes.len() > before.ghost.writes.len() => match w.journal.and_then(|(m, _)| placed(m.id)) {
                    Some(p) => format!("write b{addr}+{blocks}: {} on {}", at(&p), ring_name(ring)),
                    None => format!("write b{addr}+{blocks}"),
                },
                _ => format!("write b{addr}+{blocks}"),
            };
            Event::arrow("host", "P", text)
        }
        Action::WriteUnit { id } => {
            let Some(p) = b.writing.iter().find(|w| w.0.meta.id == id).map(|w| w.0) else {
                return Event::note("P", format!("journal {} is not being written", id.0));
            };
            let to = ring_name(p.ring);
            if a.writing.len() < b.writing.len() && !a.p.up(p.ring) && b.p.up(p.ring) {
                return Event::arrow("P", to, format!("journal {}: no answer; {}", id.0, dropped(a, p.ring)));
            }
            let acked = newly_acked(before, after);
            let mut text = format!("journal {} unit", id.0);
            if !acked.is_empty() {
                text.push_str(&format!(" (host acked: {})", acked.join(", ")));
            }
            Event::arrow("P", to, text)
        }
        Action::ControlAt { ring } => {
            let r = usize::from(ring);
            let text = if b.p.up(ring) && !a.p.up(ring) {
                format!("632 unreadable; {}", dropped(a, ring))
            } else {
                format!("read 632 (head {}); 631 := head {} size {}", b.c632[r].head.0, a.c631[r].head.0, a.c631[r].size)
            };
            Event::arrow("P", ring_name(ring), text)
        }
        Action::PollAt { ring } => {
            let r = usize::from(ring);
            let got: Vec<String> = a.held.iter().filter(|h| !b.held.contains(h)).map(|(h, _)| h.meta.id.0.to_string()).collect();
            let text = if b.s.reads(ring) && !a.s.reads(ring) {
                format!("631 unreadable: S stops reading {}", ring_name(ring))
            } else if got.is_empty() {
                format!("read 631 (end {}): nothing to take", b.c631[r].end().0)
            } else {
                format!("read 631 (end {}); take journal(s) {} into the reorder buffer", b.c631[r].end().0, got.join(", "))
            };
            Event::arrow("S", ring_name(ring), text)
        }
        Action::Merge => {
            let done: Vec<String> = b.held.iter().filter(|h| !a.held.contains(h)).map(|(h, d)| format!("{} (b{} := {})", h.meta.id.0, h.meta.addr, d[0])).collect();
            Event::note("S", format!("apply journal {}; 632s := heads {}", done.join(", "), a.c632.iter().map(|c| c.head.0.to_string()).collect::<Vec<_>>().join(", ")))
        }
        Action::Resend => {
            let new: Vec<String> = a.writing.iter().filter(|w| !b.writing.contains(w)).map(|w| format!("{} on {}", at(&w.0), ring_name(w.0.ring))).collect();
            Event::arrow("P", "P", format!("resend {}", new.join(", ")))
        }
        Action::FailAt { ring } => Event::note(ring_name(ring), "fails"),
        _ => Event::note("P", "not a step of several intermediates"),
    }
}

/// The second secondary's 632 is shown as `632/S_2`; the first's as plain `632`.
fn area_of(i: usize) -> String {
    if i == 0 {
        String::new()
    } else {
        format!("/{}", side_name(i as u8))
    }
}

fn who_of(i: usize) -> String {
    if i == 0 {
        String::new()
    } else {
        format!("{}: ", side_name(i as u8))
    }
}

/// The text of S's own steps (`b` and `a`: that S before and after).
fn side_step(before: &State, action: &Action, b: &Side, a: &Side, after: &State) -> String {
    match *action {
        Action::Poll { .. } => match a.role.mode {
            Mode::Draining { .. } if b.role.mode == Mode::Normal => "631 unchanged: P declared failed, drain".into(),
            Mode::Suspended if b.role.mode == Mode::Normal => "631 unreadable: suspend".into(),
            _ if !a.to_apply.is_empty() && b.to_apply.is_empty() => format!(
                "read 631 (end {}); fetch from {}: {} unit(s) to apply",
                before.c631.end().0,
                a.fetched_from.0,
                a.to_apply.len()
            ),
            _ => format!("read 631 (end {}, hb {}): nothing new", before.c631.end().0, before.c631.heartbeat),
        },
        Action::Apply { .. } => {
            format!("apply {} unit(s); 632 := head {} hb {}", b.to_apply.len(), a.c632.head.0, a.c632.heartbeat)
        }
        Action::Heartbeat { .. } => match a.role.control_area() {
            Owner::Secondary(_) => format!("heartbeat: 632 hb {}", a.c632.heartbeat),
            Owner::Primary if after.c631 != before.c631 => {
                format!("heartbeat: written over P's 631 (its area is misconfigured): hb {}", after.c631.heartbeat)
            }
            Owner::Primary => "heartbeat to P's area 631: I refuses the write (not the owner)".into(),
        },
        _ => {
            if a.role.mode == Mode::Suspended {
                format!("drain over at {}: suspend", a.role.head.0)
            } else {
                format!("drain: read from {}, {} unit(s) valid to apply", a.fetched_from.0, a.to_apply.len())
            }
        }
    }
}

/// What each side holds in `s`.
pub fn summary(s: &State) -> Vec<String> {
    let vol = |v: &[u8]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>().join(" ");
    let c632: Vec<String> =
        s.ss.iter().enumerate().map(|(i, x)| format!("632{} head {} size {} hb {}", area_of(i), x.c632.head.0, x.c632.size, x.c632.heartbeat)).collect();
    let mut lines = vec![
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
            "I {}: 631 head {} size {} hb {}; {}",
            up(s.i_up),
            s.c631.head.0,
            s.c631.size,
            s.c631.heartbeat,
            c632.join("; ")
        ),
    ];
    for (i, x) in s.ss.iter().enumerate() {
        lines.push(format!(
            "{} {}: {:?} head {} end {}; buffer {}; volume {}",
            side_name(i as u8),
            up(x.up),
            x.role.mode,
            x.role.head.0,
            x.role.end.0,
            x.to_apply.len(),
            vol(&x.vol)
        ));
    }
    lines.push(format!("P volume {}", vol(&s.vol_p)));
    if let Some(r) = s.resync {
        lines.push(format!("resync {:?}: blocks to copy {:#b}", r.direction, r.dirty.bits));
    }
    if let Some(m) = s.multi.as_deref() {
        return summary_multi(s, m);
    }
    lines
}

/// What each side holds in embodiment 3's world.
fn summary_multi(s: &State, m: &Multi) -> Vec<String> {
    let ring_name = |r: u8| ring_name(m.p.fallback, r);
    let vol = |v: &[u8]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>().join(" ");
    let kept: Vec<String> = m.p.kept.iter().map(|k| format!("{}@{}", k.placed.meta.id.0, ring_name(k.placed.ring))).collect();
    let mut lines = vec![format!("P {:?}: next id {}; kept {}", m.p.pair, m.p.next_id.0, kept.join(" "))];
    for (r, v) in m.p.rings.iter().enumerate() {
        let name = ring_name(r as u8);
        lines.push(format!(
            "{name} {}: 631 head {} size {}; 632 head {}; P sees it {}, head {} next {}; S sees it {}, reads from {}, head {}",
            up(m.up[r]),
            m.c631[r].head.0,
            m.c631[r].size,
            m.c632[r].head.0,
            up(v.up),
            v.head.0,
            v.next.0,
            up(m.s.rings[r].up),
            m.s.rings[r].read.0,
            m.s.rings[r].head.0
        ));
    }
    let held: Vec<String> = m.held.iter().map(|(h, _)| h.meta.id.0.to_string()).collect();
    let applied: Vec<String> = m.applied.iter().map(|i| i.to_string()).collect();
    lines.push(format!("S: applied {}; buffer {}; volume {}", applied.join(" "), held.join(" "), vol(&s.ss[0].vol)));
    lines.push(format!("P volume {}", vol(&s.vol_p)));
    lines
}
