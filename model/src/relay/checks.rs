//! The registered checks of the relay protocol and their expected verdicts: every seeded
//! fault this world reaches has a check that expects the properties it breaks to be violated;
//! the hardened variant holds every property in every world; the faithful text's gaps are
//! checks too.

use super::config::Config;
use super::properties::{
    verdicts, C1, L1, L2, L3, L4, L5, L6, N1, N2, N3, N4, N5, N6, N7, S1, S10, S11, S12, S13, S14, S15, S2, S3, S4, S5, S6,
    S7, S8, S9,
};
use crate::protocol::{Check, Expect, Tier};
use rcopy::relay::{Fault, Variant};

/// The one mode: loss, duplication and crashes strike in any state and are not fair.
pub const MODE: &str = "default";

/// The faults this model reaches: every one of note 7.2 (and B34), each in the world of
/// `fault_config`.
pub const MODELLED: &[Fault] = &[
    Fault::B1,
    Fault::B2,
    Fault::B3,
    Fault::B4,
    Fault::B5,
    Fault::B6,
    Fault::B7,
    Fault::B8,
    Fault::B9,
    Fault::B10,
    Fault::B11,
    Fault::B12,
    Fault::B13,
    Fault::B14,
    Fault::B15,
    Fault::B16,
    Fault::B17,
    Fault::B18,
    Fault::B19,
    Fault::B20,
    Fault::B21,
    Fault::B22,
    Fault::B23,
    Fault::B24,
    Fault::B25,
    Fault::B26,
    Fault::B27,
    Fault::B28,
    Fault::B29,
    Fault::B30,
    Fault::B31,
    Fault::B32,
    Fault::B33,
    Fault::B34,
];

/// The properties a seeded fault must break (the first is its headline), and why.
pub fn targets(fault: Fault) -> (&'static [&'static str], &'static str) {
    match fault {
        Fault::B1 => (&[S6, S8, L1], "SE deletes a write as it sends it: lost in the network, it exists nowhere"),
        Fault::B2 => (&[S5], "TE answers a write when it stores it, before TS applied it"),
        Fault::B3 => (&[S5, S6, L1], "TE's WROK carries RC + 1: it names a seq TS has not applied, and SE deletes that entry (S6) and never resends it (L1)"),
        Fault::B4 => (&[S1, S3], "a resend is numbered again: the held write gets a second seq, and TS can apply it twice, out of order (S3)"),
        Fault::B5 => (&[S3], "no dedup, and both copies of RC + 1 reflected: a seq twice, then a gap"),
        Fault::B6 => (&[S6, S8], "SE matches a WROK by seq alone: the other ID's answer to the same seq deletes a write before TS applied it; if that copy is lost, nothing resends it"),
        Fault::B20 => (&[S8], "a false failover suspends SE, which still answers SS's writes with WROK but neither sends them nor marks 727: SS believes them copied, and no bitmap holds them (S13, the resync missing them, needs a resync after a failover: not in these worlds)"),
        Fault::B31 => (&[S3, S4, S7], "one pair of the ID is fenced, the other goes on: the fenced pair's entry is passed over unapplied (S7), and the other pair's next write lands across the gap (S3, S4); L1, the stall variant, is void once a failover began (the copy ends there)"),
        Fault::B28 => (&[L1], "TE's reflector looks, finds nothing, leaves the lock and then sleeps: the entry stored in between woke nobody, and it waits forever"),
        Fault::B26 => (&[C1, S15, L1], "the route check lets [SE, C1, C2, C1, TE] through: C1 sends to C2, C2 back to C1, and the entry never reaches TE"),
        Fault::B7 => (&[S3, L1], "CC starts at RC's base: the first write's seq is taken for a duplicate and never applied"),
        Fault::B8 => (&[S1], "two RIO(WR) handlers read CC before either increments it: two writes share a seq"),
        Fault::B9 => (&[S3, S4], "TE reflects in arrival order: TS applies a write before the one numbered ahead of it"),
        Fault::B10 => (&[S3, S4], "two RIOs of one ID at TS at once, answered in either order"),
        Fault::B11 => (&[S2], "SE answers WROK before numbering: the host's later write gets the lower seq"),
        Fault::B12 => (&[S3, S10, L1, L3], "control entries bypass the gate: a resent pair creation is applied again (RC counts it twice), and the Duplex transition can pass the copy's write (S10)"),
        Fault::B13 => (&[S12], "TE fences on the LE(SOK) as it comes: a write SE pushed out behind it is lost though SE was alive"),
        Fault::B14 => (&[S11], "no fence: TE goes on sending TS the pair's writes after 1310"),
        Fault::B15 => (&[S13], "1209 replaces 727 with TS's 1213 instead of their union: a block SE gave up is never copied"),
        Fault::B16 => (&[S14], "the resync resets the counters with no new epoch: an entry stuck in the network lands as the new sequence's"),
        Fault::B17 => (&[L6], "the resync keeps the old sequence: its entry waits behind the hole the give-up left, forever"),
        Fault::B30 => (&[S8], "the give-up drops the held writes without marking them in 727"),
        Fault::B34 => (&[L5], "SE resends forever and never gives up: the pair never reaches failure Suspend"),
        Fault::B18 => (&[S11], "the application restarts before the leftovers are applied: one lands over its write"),
        Fault::B19 => (&[S4], "the leftovers are applied across a gap: TS shows a write without the one before it"),
        Fault::B33 => (&[L4], "TE's failover timer is never armed: with SE dead, no SOK comes and the failover never ends"),
        Fault::B21 => (&[S9], "a duplicate WROK counts as a deletion: CC - DC no longer counts what SE holds"),
        Fault::B22 => (&[S3, S7, L1], "TE's RC and log are not durable: its crash loses a stored write it had not reflected (S7), and a late copy of a reflected write is applied again (S3)"),
        Fault::B23 => (&[S1, S8], "SE's CC is not durable: after its crash a new write takes a seq already used, and TE re-acks it unapplied (S8)"),
        Fault::B24 => (&[S8], "SE's log is volatile: a crash loses acknowledged writes and their record"),
        Fault::B25 => (&[S10], "SE moves the pair on when it sends the control entry, before TS did"),
        Fault::B27 => (&[L1], "TE's WROK is not swapped and finds no way back: SE resends until it gives the pair up"),
        Fault::B29 => (&[L1, L2], "the core flushes only a batch of two: the last write sits in its buffer forever"),
        Fault::B32 => (&[S3], "RC counted when the RIO is sent: TS's transient error leaves a gap"),
    }
}

/// The config a seeded fault's check runs on: the smallest world that reaches its bug.
fn fault_config(fault: Fault, tier: Tier) -> &'static str {
    match (fault, tier) {
        (Fault::B8, _) => "concurrent",
        (Fault::B12 | Fault::B25, _) => "fig10-11",
        (Fault::B22 | Fault::B23 | Fault::B24, _) => "crash",
        (Fault::B29, _) => "batch",
        (Fault::B32, _) => "ts-error",
        (Fault::B13 | Fault::B14 | Fault::B33, _) => "fig13",
        (Fault::B18 | Fault::B19, _) => "fig13-immediate",
        (Fault::B15 | Fault::B16 | Fault::B17 | Fault::B30 | Fault::B34, _) => "fig12",
        (Fault::B11 | Fault::B10, _) => "fig16",
        (Fault::B9, _) => "multipath",
        (Fault::B6, _) => "two-ids",
        (Fault::B26, _) => "loop",
        (Fault::B20, _) => "false-failover",
        (Fault::B31, _) => "id-failover",
        (Fault::B28, _) => "reflector",
        (_, Tier::Tiny) => "tiny",
        (_, Tier::Standard) => "standard",
    }
}

/// The action classes a run of `config` must see fire.
pub fn must_fire(config: &Config) -> Vec<&'static str> {
    let mut v = vec!["write", "send", "deliver", "reflect", "answer"];
    if config.loss > 0 {
        v.extend(["lose", "timer"]);
    }
    if config.dup > 0 {
        v.push("duplicate");
    }
    if config.batching {
        v.push("flush");
    }
    if config.reflector {
        v.push("reflector-idle");
    }
    if config.setup {
        v.extend(["create", "duplex"]);
    }
    if config.failover {
        v.push("detect");
        if !config.false_detection {
            v.push("site-fails");
        }
    }
    if config.se_dies {
        v.push("expire");
    }
    if config.immediate {
        v.push("leftovers");
    }
    if config.app_writes > 0 {
        v.push("app-write");
    }
    if config.partition {
        v.extend(["partition", "mend", "notify"]);
    }
    if config.resync {
        v.extend(["resync", "copy", "duplex"]);
    }
    if config.crash_se || config.crash_te || config.crash_core {
        v.extend(["crash", "restart"]);
    }
    v
}

fn check(config: &str, variant: Variant, fault: Option<Fault>, expect: Vec<(String, Expect)>, why: &str) -> Check {
    assert!(Config::named(config).is_some(), "relay registers an unknown config `{config}`");
    let faults: Vec<&str> = fault.map(Fault::name).into_iter().collect();
    Check::registered("relay", config, variant.name(), &faults, MODE, expect, why)
}

/// An expectation for every property with a verdict (C1, S1-S15, L1-L6).
fn every(f: impl Fn(&str) -> Expect) -> Vec<(String, Expect)> {
    verdicts().into_iter().map(|n| (n.to_string(), f(n))).collect()
}

/// The `sometimes` properties a world's hardened check must see happen (note 6.3).
fn witnessed(world: &str) -> &'static [&'static str] {
    match world {
        "tiny" | "standard" | "large" => &[N1, N2, N3],
        "two-ids" => &[N1, N5],
        "fig13" => &[N4],
        "false-failover" => &[N1, N4],
        "fig12" => &[N6],
        _ => &[],
    }
}

fn violated(props: &[&str]) -> Vec<(String, Expect)> {
    props.iter().map(|p| (p.to_string(), Expect::Violated)).collect()
}

/// The registered checks at a tier.
pub fn checks(tier: Tier) -> Vec<Check> {
    let base = tier.name();
    let holds = |world: &str| {
        let mut e = every(|_| Expect::Holds);
        e.extend(witnessed(world).iter().map(|n| (n.to_string(), Expect::Witnessed)));
        e
    };
    let mut v = vec![check(base, Variant::Hardened, None, holds(base), "hardened: every property holds; L1-L6 under fairness of delivery per link, the timers, reflection and TS; N1-N3 happen")];
    // Note 8.3's K0-K7, then the worlds of single steps and faults.
    let mut worlds = vec!["fig16", "multipath", "two-ids", "fig10-11", "fig13", "fig12", "crash", "concurrent", "batch", "ts-error", "fig13-immediate", "false-failover", "id-failover", "reflector"];
    if tier == Tier::Standard {
        worlds.insert(1, "core");
    }
    for world in worlds {
        let c = check(world, Variant::Hardened, None, holds(world), "hardened: every property holds in this world too");
        // K3's four writes with a loss are 0.4 million states: the standard tier's; the tiny
        // tier (run by both engines in `cargo test`) takes three.
        v.push(if world == "two-ids" && tier == Tier::Tiny { c.with_set("writes=3") } else { c });
    }
    // The faithful text's gaps (note 7.1).
    let mut f1 = violated(&[L1]);
    f1.push((N7.to_string(), Expect::Witnessed));
    v.push(
        check("tiny", Variant::Faithful, None, f1, "F1: a lost WROK is never answered again: the resends wait at TE, and SE gives the pair up (N7)")
            .with_set("dup=0"),
    );
    v.push(check("tiny", Variant::Faithful, None, violated(&[L2]), "F2: a duplicate is stored and never removed: TE's log never empties"));
    v.push(check("fig10-11", Variant::Faithful, None, violated(&[S3, S10]), "F4: the Duplex transition is not gated: TS in D before the copy's write, RC skips it"));
    v.push(check("crash", Variant::Faithful, None, violated(&[S8]), "F8 with a volatile edge: SE's crash loses an acknowledged write and its record").with_set("durable=false"));
    v.push(check("fig16", Variant::Faithful, None, violated(&[S3]), "F3: CC and RC both start at 0: seq 0 is never selected, seq 1 is applied first").with_set("cc0=0"));
    v.push(check(
        "fig13",
        Variant::Faithful,
        None,
        violated(&[S11, S12]),
        "F6, F9: no fence after 1310 (TE sends TS writes after it), and the literal SOK (TE fences while a write SE pushed out is missing)",
    ));
    v.push(check("fig12", Variant::Faithful, None, violated(&[L6]), "F5: the resync keeps the old sequence: the copy's writes wait behind the hole the give-up left (the text's ungated control entries let the resync and the Duplex transition through)"));
    v.push(check("fig13-immediate", Variant::Faithful, None, violated(&[S11]), "the text's modification: with no fence TE still sends TS writes after 1310 (F6 again); its restart before the leftovers (F7) is B18's check, where the fence exists"));
    for &f in MODELLED {
        let (props, why) = targets(f);
        v.push(check(fault_config(f, tier), Variant::Hardened, Some(f), violated(props), why));
    }
    v
}

/// The runs of `make bench`.
pub fn bench() -> Vec<Check> {
    ["standard", "large"]
        .into_iter()
        .map(|c| check(c, Variant::Hardened, None, every(|_| Expect::Holds), "benchmark"))
        .collect()
}

trait WithSet {
    fn with_set(self, set: &str) -> Self;
}

impl WithSet for Check {
    fn with_set(mut self, set: &str) -> Check {
        self.sets.push(set.to_string());
        self
    }
}
