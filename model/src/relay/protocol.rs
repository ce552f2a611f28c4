//! The relay protocol as the engine sees it: one [`Protocol`] implementation, and the
//! narration of its steps.

use super::checks;
use super::config::{self, Config};
use super::model::{device_name, Action, RelayModel};
use super::properties;
use super::state::{State, CORE0};
use crate::protocol::{Check, Event, Fairness, FaultInfo, Field, Gap, NamedConfig, Obligation, PropertyInfo, Protocol, Tier};
use rcopy::relay::{Body, Fault, Kind, LogEntry, Variant};

/// Seed 001: log entries relayed hop by hop through a remote copy network.
#[derive(Clone, Copy, Debug, Default)]
pub struct Relay;

/// The action classes, for coverage, in the order [`Relay::action_class`] numbers them.
const CLASSES: &[&str] = &[
    "create", "duplex", "write", "commit", "send", "timer", "deliver", "lose", "duplicate", "flush", "reflect", "answer",
    "crash", "restart", "site-fails", "detect", "expire", "app-write", "leftovers", "partition", "mend", "notify", "resync",
    "copy", "reflector-idle", "reflector-sleeps",
];

impl Protocol for Relay {
    type Config = Config;
    type State = State;
    type Action = Action;
    type Model = RelayModel;

    fn name(&self) -> &'static str {
        "relay"
    }

    fn about(&self) -> &'static str {
        "seed 001: log entries relayed hop by hop through a remote copy network, acked end to end, resent, given up"
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
        &[(checks::MODE, "loss, duplication and crashes may strike in any state; none is fair")]
    }

    fn faults(&self) -> Vec<FaultInfo> {
        checks::MODELLED
            .iter()
            .map(|&f| {
                let (breaks, why) = checks::targets(f);
                FaultInfo { name: f.name(), why, breaks }
            })
            .collect()
    }

    fn properties(&self) -> Vec<PropertyInfo> {
        crate::protocol::property_infos(properties::all(), properties::obligations(), properties::tags)
    }

    fn obligations(&self, _model: &RelayModel) -> Vec<Obligation<RelayModel>> {
        properties::obligations()
    }

    fn model(&self, config: &Config, variant: &str, faults: &[String], mode: &str) -> Result<RelayModel, String> {
        let variant =
            Variant::from_name(variant).ok_or(format!("unknown variant `{variant}` (valid: faithful, hardened)"))?;
        crate::protocol::known_mode(mode, &[checks::MODE])?;
        let set = crate::protocol::fault_set::<Fault>(faults)?;
        if let Some(f) = Fault::in_set(set).into_iter().find(|f| !checks::MODELLED.contains(f)) {
            let valid: Vec<&str> = checks::MODELLED.iter().map(|f| f.name()).collect();
            return Err(format!(
                "fault `{}` is not reached by the relay model yet (its world is still to come); modelled: {}",
                f.name(),
                valid.join(", ")
            ));
        }
        RelayModel::new(config.clone(), variant, set)
    }

    fn checks(&self, tier: Tier) -> Vec<Check> {
        checks::checks(tier)
    }

    fn gaps(&self) -> Vec<Gap> {
        let mode = checks::MODE;
        vec![
            Gap {
                name: "F1",
                tier: Tier::Tiny,
                check: format!("relay/tiny{{dup=0}}/faithful/{mode}"),
                property: properties::L1,
                why: "no re-ack of a reflected entry: after a lost WROK every resend waits in TE's log unanswered, and SE gives the pair up",
            },
            Gap {
                name: "F2",
                tier: Tier::Tiny,
                check: format!("relay/tiny/faithful/{mode}"),
                property: properties::L2,
                why: "duplicates are stored and never removed: TE's log never empties",
            },
            Gap {
                name: "F3",
                tier: Tier::Tiny,
                check: format!("relay/fig16{{cc0=0}}/faithful/{mode}"),
                property: properties::S3,
                why: "the counter bases are not given: with both at 0, seq 0 is never selected and seq 1 is applied first",
            },
            Gap {
                name: "F4",
                tier: Tier::Tiny,
                check: format!("relay/fig10-11/faithful/{mode}"),
                property: properties::S10,
                why: "control entries are not gated: the Duplex transition overtakes the copy's write and TS reaches D without it",
            },
            Gap {
                name: "F5",
                tier: Tier::Tiny,
                check: format!("relay/fig12/faithful/{mode}"),
                property: properties::L6,
                why: "the resync keeps the old sequence: the copy's writes wait behind the hole the give-up left",
            },
            Gap {
                name: "F6",
                tier: Tier::Tiny,
                check: format!("relay/fig13/faithful/{mode}"),
                property: properties::S11,
                why: "no fence after 1310: TE goes on reflecting the pair's writes into TS",
            },
            Gap {
                name: "F9",
                tier: Tier::Tiny,
                check: format!("relay/fig13/faithful/{mode}"),
                property: properties::S12,
                why: "\"no missing log entries\" is optional: TE fences on the SOK while SE's pushed-out write is behind it",
            },
            Gap {
                name: "F8",
                tier: Tier::Tiny,
                check: format!("relay/crash{{durable=false}}/faithful/{mode}"),
                property: properties::S8,
                why: "SE's memory may be volatile: its crash loses an acknowledged write and every record of it",
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
        match action {
            Action::Create => 0,
            Action::AskDuplex => 1,
            Action::Write { .. } => 2,
            Action::Commit => 3,
            Action::Send { .. } => 4,
            Action::Timer { .. } => 5,
            Action::Deliver { .. } => 6,
            Action::Lose { .. } => 7,
            Action::Duplicate { .. } => 8,
            Action::Flush { .. } => 9,
            Action::Reflect { .. } => 10,
            Action::Answer { .. } => 11,
            Action::Crash { .. } => 12,
            Action::Restart { .. } => 13,
            Action::SiteFails { .. } => 14,
            Action::Detect => 15,
            Action::Expire => 16,
            Action::AppWrite { .. } => 17,
            Action::Leftovers => 18,
            Action::Partition => 19,
            Action::Mend => 20,
            Action::Notify => 21,
            Action::Resync => 22,
            Action::Copy { .. } => 23,
            Action::ReflectorIdle => 24,
            Action::ReflectorSleeps => 25,
        }
    }

    fn must_fire(&self, model: &RelayModel) -> Vec<&'static str> {
        checks::must_fire(&model.config)
    }

    fn fair_classes(&self, model: &RelayModel) -> Vec<(String, Fairness)> {
        model.fair_classes().into_iter().map(|c| (c, Fairness::Weak)).collect()
    }

    fn fair_class(&self, model: &RelayModel, action: &Action) -> Option<usize> {
        model.fair_class(action)
    }

    fn participants(&self, model: &RelayModel) -> Vec<String> {
        let mut v = vec!["SS".to_string(), "SE".to_string()];
        v.extend((0..model.config.cores).map(|c| device_name(CORE0 + c)));
        v.extend(["TE".to_string(), "TS".to_string()]);
        v
    }

    fn narrate(&self, _model: &RelayModel, before: &State, action: &Action, after: &State) -> Event {
        narrate(before, action, after)
    }

    fn summary(&self, _model: &RelayModel, s: &State) -> Vec<String> {
        summary(s)
    }

    fn drive_roles(&self, model: &RelayModel, state: &mut State, action: &Action) -> Result<(), String> {
        model.drive_roles(state, action)
    }

    fn roles_differ(&self, recorded: &State, replayed: &State) -> Option<String> {
        if recorded.se != replayed.se {
            Some("SE differs from the recorded one".into())
        } else if recorded.te != replayed.te {
            Some("TE differs from the recorded one".into())
        } else if recorded.cores != replayed.cores {
            Some("a core differs from the recorded one".into())
        } else {
            None
        }
    }
}

/// An entry as a trace shows it: `WR#2(w1@b0)`, `WROK#2`.
pub fn entry(e: &LogEntry<u8>) -> String {
    let epoch = if e.epoch.0 > 0 { format!("e{}", e.epoch.0) } else { String::new() };
    // The second ID's entries carry its number (the first's, in one-ID worlds, do not).
    let id = if e.id.0 > 1 { format!("/id{}", e.id.0) } else { String::new() };
    match e.body {
        Body::Wr { .. } => format!("WR#{}{epoch}{id}({})", e.seq.0, entry_write(e)),
        _ => format!("{}#{}{epoch}{id}", e.kind().short(), e.seq.0),
    }
}

/// A write entry's data and block: `w1@b0`, or `w1@p2.b0` on the second volume pair.
fn entry_write(e: &LogEntry<u8>) -> String {
    let Body::Wr { block, data, .. } = e.body else { return String::new() };
    let first = [super::model::SRC, super::model::TGT];
    let pair = if first.contains(&e.source) && first.contains(&e.target) { String::new() } else { "p2.".into() };
    format!("w{data}@{pair}b{}", block.0)
}

/// What `action` looks like. Total on any states (they may come from a hand-edited trace).
pub fn narrate(before: &State, action: &Action, after: &State) -> Event {
    match *action {
        Action::Create => Event::arrow("SS", "SE", "RIO(pair creation)"),
        Action::AskDuplex => Event::arrow("SS", "SE", "RIO(Duplex transition)"),
        Action::Write { block } => {
            let wid = before.ss.issued.saturating_add(1);
            let acked = after.ghost.acked & (1u8 << wid.min(7)) != 0 && after.ss.outstanding == before.ss.outstanding;
            if before.ss.state.suspended() {
                Event::note("SS", format!("w{wid}@b{block} written locally, marked in 1211"))
            } else {
                // The block as the entry names it (its pair's volume), where SE logged one.
                let logged = after.se.log.iter().chain(after.se.staged.iter()).find(|h| matches!(h.entry.body, Body::Wr { data, .. } if data == wid));
                let at = logged.map_or(format!("w{wid}@b{block}"), |h| entry_write(&h.entry));
                Event::arrow("SS", "SE", format!("RIO(WR) {at}{}", if acked { "; SE answers WROK" } else { "" }))
            }
        }
        Action::Commit => Event::note("SE", "stores the staged write with the CC it read (B8)"),
        Action::Send { i } => match sent(before, after) {
            Some(m) => {
                let again = before.se.log.get(usize::from(i)).is_some_and(|h| h.sent);
                Event::arrow("SE", device_name(m.to), format!("{}{}", entry(&m.entry), if again { " (again)" } else { "" }))
            }
            None => match before.se.log.get(usize::from(i)) {
                Some(h) if after.ghost.partitioned => Event::note("SE", format!("sends {} into the failed route: lost", entry(&h.entry))),
                _ => Event::note("SE", format!("sends entry {i}")),
            },
        },
        Action::Timer { i } => match before.se.log.get(usize::from(i)) {
            Some(h) => {
                // A resend keeps the entry; a give-up converts the pair's entries.
                let gave_up = after.se.log.iter().filter(|h| h.retained).count() < before.se.log.iter().filter(|h| h.retained).count();
                Event::note("SE", format!("timer of {}: {}", entry(&h.entry), if gave_up { "gives the pair up (727)" } else { "resend" }))
            }
            None => Event::note("SE", "a timer fires"),
        },
        Action::Deliver { m, from, to } => match before.net.get(usize::from(m)) {
            Some(x) => Event::arrow(device_name(from), device_name(to), format!("{} arrives", entry(&x.entry))),
            None => Event::note("network", "delivers"),
        },
        Action::Lose { m } => match before.net.get(usize::from(m)) {
            Some(x) => Event::note("network", format!("loses {} ({}->{})", entry(&x.entry), device_name(x.from), device_name(x.to))),
            None => Event::note("network", "loses an entry"),
        },
        Action::Duplicate { m } => match before.net.get(usize::from(m)) {
            Some(x) => Event::note("network", format!("duplicates {}", entry(&x.entry))),
            None => Event::note("network", "duplicates an entry"),
        },
        Action::Flush { c } => Event::note(device_name(CORE0 + c), "batch timer: sends its buffer"),
        Action::Reflect { .. } => match after.ts.inflight.last() {
            Some(t) if after.ts.inflight.len() > before.ts.inflight.len() => {
                let id = if t.id.0 > 1 { format!("/id{}", t.id.0) } else { String::new() };
                Event::arrow("TE", "TS", format!("RIO #{}{id} {}", t.seq.0, t.rio.kind().short()))
            }
            _ => match before.te.log.iter().find(|e| !after.te.log.contains(e)) {
                Some(e) => Event::note("TE", format!("passes {} over: its pair is fenced, its ID is not (B31)", entry(e))),
                None => Event::note("TE", "passes an entry over"),
            },
        },
        Action::Answer { k, ok } => match before.ts.inflight.get(usize::from(k)) {
            Some(t) => {
                let answer = match (ok, t.rio.kind()) {
                    (false, _) => "error",
                    (true, Kind::PairCreate) => "RIO(ICOK)",
                    (true, Kind::Duplex) => "RIO(DOK)",
                    (true, Kind::Resync) => "RIO(DPOK)",
                    (true, _) => "RIO(WROK)",
                };
                let id = if t.id.0 > 1 { format!("/id{}", t.id.0) } else { String::new() };
                Event::arrow("TS", "TE", format!("{answer} #{}{id}", t.seq.0))
            }
            None => Event::note("TS", "answers"),
        },
        Action::SiteFails { se_too } => Event::note("SS", if se_too { "the source site fails, SE with it" } else { "the source site fails" }),
        Action::Detect => Event::arrow("TE", "SE", "LE(Suspend instruction) (1301-1304)"),
        Action::Expire => Event::note("TE", "failover timer expires (1306)"),
        Action::AppWrite { block } => Event::note("TS", format!("the target application writes b{block}")),
        Action::Leftovers => Event::note("TE", format!("leftovers read out and applied: {}", after.ghost.applied.len().saturating_sub(before.ghost.applied.len()))),
        Action::Partition => Event::note("network", "the route fails"),
        Action::Mend => Event::note("network", "maintenance mends the route"),
        Action::Notify => Event::note("TE", "told of SE's give-up (network 150): failure Suspend, TS too"),
        Action::Resync => Event::arrow("SS", "SE", "RIO(resynchronize)"),
        Action::Copy { block } => Event::arrow("SS", "SE", format!("copy of b{block}: RIO(WR) w{}", before.ss.vol.get(usize::from(block)).copied().unwrap_or(0))),
        Action::ReflectorIdle => Event::note(
            "TE",
            if after.reflector == rcopy::relay::shared::Reflector::Checked {
                "the reflector finds nothing and leaves the lock (B28: not asleep yet)"
            } else {
                "the reflector finds nothing and sleeps"
            },
        ),
        Action::ReflectorSleeps => Event::note("TE", "the reflector goes to sleep (a wakeup since it looked is lost)"),
        Action::Crash { d } => Event::note(device_name(d), "crashes"),
        Action::Restart { d } => Event::note(device_name(d), "restarts"),
    }
}

/// The entry a step put in flight (the first one in `after` that `before` had fewer of).
fn sent<'a>(before: &State, after: &'a State) -> Option<&'a super::state::Msg> {
    after.net.iter().find(|m| after.net.iter().filter(|x| x == m).count() > before.net.iter().filter(|x| x == m).count())
}

/// A few lines on what each role holds.
pub fn summary(s: &State) -> Vec<String> {
    let list = |v: Vec<String>| if v.is_empty() { "-".to_string() } else { v.join(" ") };
    let se_c = s.se.counters(super::model::ID);
    let te_c = s.te.counters(super::model::ID);
    // A second ID's counters, in the worlds that have one.
    let id2 = rcopy::relay::Id(2);
    let se2 = s.se.counters(id2).map_or(String::new(), |c| format!(" (id2 CC {} DC {})", c.cc.0, c.dc));
    let te2 = s.te.counters(id2).map_or(String::new(), |c| format!(" (id2 RC {})", c.rc.0));
    // The second pair's state, in the worlds that have one.
    let se_p2 = s.se.pairs.get(1).map_or(String::new(), |r| format!(" (p2 {:?})", r.state));
    let te_p2 = s.te.pairs.get(1).map_or(String::new(), |r| format!(" (p2 {:?})", r.row.state));
    vec![
        format!(
            "SE {} {:?}{se_p2} CC {} DC {}{se2} log {}",
            if s.se.up { "up" } else { "down" },
            s.se.pairs[0].state,
            se_c.map_or(0, |c| c.cc.0),
            se_c.map_or(0, |c| c.dc),
            list(s.se.log.iter().map(|h| entry(&h.entry)).collect())
        ),
        format!(
            "TE {} {:?}{te_p2} RC {}{te2} log {}",
            if s.te.up { "up" } else { "down" },
            s.te.pairs[0].row.state,
            te_c.map_or(0, |c| c.rc.0),
            list(s.te.log.iter().map(entry).collect())
        ),
        format!("net {}", list(s.net.iter().map(|m| format!("{}->{}:{}", device_name(m.from), device_name(m.to), entry(&m.entry))).collect())),
        format!(
            "TS {:?} vol {:?} applied [{}]",
            s.ts.state,
            s.ts.vol,
            s.ghost.applied.iter().map(|(i, q)| if *i > 0 { format!("{}/id{}", q.0, i + 1) } else { q.0.to_string() }).collect::<Vec<_>>().join(", ")
        ),
        format!("SS {:?} vol {:?} 1211 {:?}", s.ss.state, s.ss.vol, s.ss.bitmap),
    ]
}
