//! The registered checks of the journal protocol and their expected verdicts: every seeded
//! fault has a check that expects the properties it breaks to be violated; the hardened variant
//! holds every property in every world; the faithful text's gap (an ungated takeover) is a
//! check too.

use super::config::Config;
use super::properties::{names, L1, L2, L3, L4, L5, S1, S10, S11, S12, S13, S14, S15, S16, S17, S2, L6, S3, S4, S5, S6, S7, S8, S9};
use crate::protocol::{Check, Expect, Tier};
use rcopy::journal::{Fault, Variant};

/// The one mode: failures strike in any state and are not fair.
pub const MODE: &str = "default";

/// The properties a seeded fault must break (the first is its headline), and why.
pub fn targets(fault: Fault) -> (&'static [&'static str], &'static str) {
    match fault {
        Fault::B1 => (&[S1], "P acknowledges a write before its journal is on I"),
        Fault::B2 => (&[S1], "the drain stops at the end P last published"),
        Fault::B3 => (&[S1], "a write is acknowledged while an earlier journal is still being written"),
        Fault::B4 => (&[S2], "free space ignores the head: P writes over journals S has not taken"),
        Fault::B5 => (&[L2], "P's head follows its own 631, so the ring never frees"),
        Fault::B6 => (&[S5], "P publishes its reserved next position, journals in flight included"),
        Fault::B7 => (&[S4], "the drain takes a stale journal of an earlier lap (no id or time stamp check)"),
        Fault::B8 => (&[S4], "the drain checks a journal's first unit only, and applies a torn one"),
        Fault::B9 => (&[S6], "update info dropped at acknowledgement, before S confirms"),
        Fault::B10 => (&[S7, S17], "S publishes progress when it reads, before it applies"),
        Fault::B11 => (&[S8], "P's bitmap starts at the failure: unconfirmed journals are missed"),
        Fault::B12 => (&[S13], "one unchanged heartbeat declares the peer dead"),
        Fault::B13 => (&[S13], "S's heartbeat moves only with progress: an idle S looks dead"),
        Fault::B14 => (&[S15, S1], "a coarse clock stamps alike, and the text's drain wants a greater stamp"),
        Fault::B15 => (&[S17, S3], "after a partial fetch S's head jumps to the end of the cut journal: its rest is never applied"),
        Fault::B16 => (&[L1], "P refreshes the region it publishes only on host writes"),
        Fault::B17 => (&[L4], "a failed read counts as a fresh heartbeat, so a dead I goes unnoticed"),
        Fault::B18 => (&[S9, S12], "resync by the source's bitmap alone: a block only the target's bitmap marks is never copied"),
        Fault::B19 => (&[S10, S9], "1403 with the roles swapped accepts P's bitmap that starts after S's: journals S lacks are in neither"),
        Fault::B20 => (&[S12, S9], "P's restart leaves the write whose journal the crash cut out of its bitmap"),
        Fault::B21 => (&[L5], "writes during the resync dirty their blocks again: write, copy, write, copy, forever"),
        Fault::B23 => (&[S11], "S's control area is configured onto P's, and an I without write permission takes S's records over 631"),
        Fault::B24 => (&[S2], "with two secondaries P's head follows the faster: it writes over journals the slower has not taken"),
        Fault::B25 => (&[S3, S16], "S applies a journal as it arrives from either intermediate, before the missing id"),
        Fault::B26 => (&[S16], "the resend reads the volume's current data: an older id carries a newer value"),
        Fault::B27 => (&[S16], "the resend renumbers the journal: S applies the same write twice"),
        Fault::B28 => (&[S16], "S takes an id it already applied again when it is resent"),
        Fault::B29 => (&[L6], "no resend: S waits for the failed intermediate's journal forever"),
        Fault::B30 => (&[L6], "on switching to the link P resends only what the host was not told of: an acknowledged journal S never read is lost"),
        Fault::B22 => (&[L3], "the drain waits at a journal that fails its checks for P, who is dead, to finish it"),
    }
}

/// The config a seeded fault's check runs on: the smallest world that reaches its bug.
fn fault_config(fault: Fault, tier: Tier) -> &'static str {
    match (fault, tier) {
        (Fault::B3 | Fault::B8, _) => "torn",
        (Fault::B4 | Fault::B5 | Fault::B11, _) => "full",
        (Fault::B17, _) => "i-fails",
        (Fault::B7, _) => "stale",
        (Fault::B15, _) => "partial",
        (Fault::B23, _) => "open-i",
        (Fault::B24, _) => "two-s",
        (Fault::B25, _) => "multi",
        (Fault::B26 | Fault::B27 | Fault::B28 | Fault::B29, _) => "multi-fails",
        (Fault::B30, _) => "link",
        (Fault::B18 | Fault::B19 | Fault::B20 | Fault::B21, _) => "resync",
        (_, Tier::Tiny) => "tiny",
        (_, Tier::Standard) => "standard",
    }
}

/// The action classes a run of `config` must see fire.
pub fn must_fire(config: &Config) -> Vec<&'static str> {
    if config.intermediates > 1 {
        let mut v = vec!["write", "write-unit", "control", "poll", "apply"];
        if config.fail_i {
            v.extend(["fail-i", "resend"]);
        }
        return v;
    }
    let mut v = vec!["write", "write-unit", "control", "poll", "apply", "heartbeat"];
    if config.crash_p {
        v.extend(["crash-p", "drain"]);
    }
    if config.crash_s {
        v.push("crash-s");
    }
    if config.fail_i {
        v.push("fail-i");
    }
    if config.takeover {
        v.extend(["fence", "takeover"]);
    }
    if config.secondary_writes > 0 {
        v.push("secondary-write");
    }
    if config.recover_p {
        v.push("recover-p");
    }
    if config.resync {
        v.extend(["resync", "copy"]);
    }
    if config.resync_writes {
        v.push("resync-write");
    }
    v
}

fn check(config: &str, variant: Variant, fault: Option<Fault>, expect: Vec<(String, Expect)>, why: &str) -> Check {
    assert!(Config::named(config).is_some(), "journal registers an unknown config `{config}`");
    let faults: Vec<&str> = fault.map(Fault::name).into_iter().collect();
    Check::registered("journal", config, variant.name(), &faults, MODE, expect, why)
}

fn every(f: impl Fn(&str) -> Expect) -> Vec<(String, Expect)> {
    names().into_iter().map(|n| (n.to_string(), f(n))).collect()
}

/// The registered checks at a tier.
pub fn checks(tier: Tier) -> Vec<Check> {
    let base = tier.name();
    let mut v = vec![check(
        base,
        Variant::Hardened,
        None,
        every(|_| Expect::Holds),
        "hardened: every property holds; L1, L2 and L4 under fairness of the timers",
    )];
    v.push(check(base, Variant::Faithful, None, every(|_| Expect::Holds), "faithful: where P fails only by crashing, the text holds"));
    // The text's takeover is not gated by fencing P: when I fails, P suspends and goes on
    // serving its host while S, unable to read 631, suspends and lets the secondary host write.
    v.push(check(
        "i-fails",
        Variant::Faithful,
        None,
        vec![(S14.to_string(), Expect::Violated)],
        "faithful: takeover without fencing P, so both hosts write (S14)",
    ));
    // The text keeps update info and the bitmap in memory 205: when P crashes after it
    // suspended, its restart forgets the writes it marked, and 1403 cannot tell.
    v.push(check(
        "resync-i",
        Variant::Faithful,
        None,
        vec![(S10.to_string(), Expect::Violated)],
        "faithful: P's bitmap is in memory; a crash after I failed loses the writes it marked, and resync misses them (S10)",
    ));
    // Where P crashes only while in PAIR, the text's 1403 refuses every resync that would
    // miss a journal: an initial copy instead. P's restart has forgotten what S lacks, though.
    v.push(check(
        "resync",
        Variant::Faithful,
        None,
        every(|p| if p == S8 || p == S14 { Expect::Violated } else { Expect::Holds }),
        "faithful: P's restart forgets update info (S8), yet 1403 refuses to resync by its late bitmap (S9, S10, S12 hold); the ungated takeover lets P, restarted, write beside S (S14)",
    ));
    // With claim 4's write permission, I refuses S's misdirected records: 631 stays P's.
    v.push(check(
        base,
        Variant::Hardened,
        Some(Fault::B23),
        vec![(S11.to_string(), Expect::Holds)],
        "B23 where I enforces write permission: S's writes to P's area are refused (S11 holds)",
    ));
    // Worlds that each exercise one thing; `failures` (every failure and the console, 1.9
    // million states) and `two-s-crash` in the standard tier only.
    let mut worlds =
        vec!["torn", "stale", "full", "partial", "i-fails", "resync", "resync-i", "open-i", "direct", "two-s", "two-s-failover"];
    if tier == Tier::Standard {
        // Two secondaries, either may crash: 18 million states, 45 s. P's crash and takeover
        // with two secondaries and three writes: 1.6 million states.
        worlds.extend(["failures", "two-s-crash", "two-s-failover-3"]);
    }
    for world in worlds {
        v.push(check(
            world,
            Variant::Hardened,
            None,
            every(|_| Expect::Holds),
            "hardened: every property holds in this world too",
        ));
    }
    // Embodiment 3: what its world judges (the other properties are about one intermediate).
    let multi = || [S2, S3, S15, S16, L1, L6].iter().map(|p| (p.to_string(), Expect::Holds)).collect::<Vec<_>>();
    let mut multi_worlds = vec!["multi", "multi-fails", "link"];
    if tier == Tier::Standard {
        // Two-block journals, four writes: 11.8 million states, about a minute.
        multi_worlds.push("multi-large");
    }
    for world in multi_worlds {
        v.push(check(
            world,
            Variant::Hardened,
            None,
            multi(),
            "hardened, two paths (intermediates, or I and the link 1701): S merges by id, and a failed path's journals are resent in order (S16, L6)",
        ));
    }
    // The text bounds each intermediate's ring by its own free space only: the journals P has
    // out can outgrow what S can hold while it waits for a missing id.
    v.push(check(
        "multi",
        Variant::Faithful,
        None,
        [S2, S3, S15, S16, L1, L6]
            .iter()
            .map(|p| (p.to_string(), if *p == L1 || *p == L6 { Expect::Violated } else { Expect::Holds }))
            .collect(),
        "faithful, two intermediates: each ring's own room lets later journals fill S's reorder buffer while the next id waits on the other intermediate (L1, L6)",
    ));
    // The text does not say that, on switching to link 1701, P sends the unconfirmed journals
    // before new writes.
    v.push(check(
        "link",
        Variant::Faithful,
        None,
        [S2, S3, S15, S16, L1, L6]
            .iter()
            .map(|p| (p.to_string(), if *p == L6 { Expect::Violated } else { Expect::Holds }))
            .collect(),
        "faithful, link 1701 as the fallback: new writes take the link's room before the unconfirmed journals are resent, and S waits for them (L6)",
    ));
    for &f in Fault::ALL {
        let (props, why) = targets(f);
        // B14 needs the text's "greater than"; B19 the text's forgetful restart, which makes a
        // bitmap start late (the hardened P's never does, so its 1403 cannot be wrong).
        let variant = if matches!(f, Fault::B14 | Fault::B19) { Variant::Faithful } else { Variant::Hardened };
        let expect = props.iter().map(|p| (p.to_string(), Expect::Violated)).collect();
        v.push(check(fault_config(f, tier), variant, Some(f), expect, why));
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
