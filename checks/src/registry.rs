//! The registry of checks: protocol + config + variant + faults + mode, and the expected
//! verdict of each property. Every seeded fault has a check that expects its property to be
//! violated; the hardened variant has checks that expect every property to hold.

use rcopy::fault::FaultSet;
use rcopy::ordering::{Fault, Variant};
use rcopy_model::ordering::{properties, Config, Mode};
use serde::{Deserialize, Serialize};

/// The protocols the harness knows.
pub const PROTOCOLS: [&str; 1] = ["ordering"];

/// What a check expects of one property.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub enum Expect {
    /// An `always` or `eventually` property with no counterexample in the whole space.
    Holds,
    /// A counterexample exists.
    Violated,
    /// A `sometimes` property with an example.
    Witnessed,
}

/// A check: one exploration and what it must find.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Check {
    pub protocol: String,
    pub config: String,
    pub variant: Variant,
    pub faults: Vec<Fault>,
    pub mode: Mode,
    /// The properties with an expected verdict; the others are not judged.
    pub expect: Vec<(String, Expect)>,
    /// Why this check exists.
    pub why: String,
}

impl Check {
    /// A short unique name, e.g. `ordering/tiny/hardened/safety+B1`.
    pub fn name(&self) -> String {
        let mut n = format!("{}/{}/{}/{}", self.protocol, self.config, self.variant.name(), self.mode.name());
        for f in &self.faults {
            n.push('+');
            n.push_str(f.name());
        }
        n
    }

    /// A check that is not registered: it explores and reports, and judges nothing.
    pub fn ad_hoc(config: &str, variant: Variant, faults: Vec<Fault>, mode: Mode, why: &str) -> Check {
        Check { protocol: "ordering".into(), config: config.into(), variant, faults, mode, expect: Vec::new(), why: why.into() }
    }

    pub fn fault_set(&self) -> FaultSet {
        self.faults.iter().fold(FaultSet::NONE, |s, f| s.with(*f as u32).expect("rcopy-checks builds rcopy with faults"))
    }

    /// True when every judged property is expected violated: the run may stop once they are.
    pub fn hunts(&self) -> bool {
        !self.expect.is_empty() && self.expect.iter().all(|(_, e)| *e == Expect::Violated)
    }
}

/// The properties a seeded fault must break (the first is its headline, whose shortest
/// counterexample is the fault's reviewed trace), and why (note section 6.1).
pub fn targets(fault: Fault) -> (&'static [&'static str], &'static str) {
    const S1: &str = "S1 seq order equals ts order";
    const S2: &str = "S2 seq density and uniqueness";
    const S3: &str = "S3 frontier soundness";
    const S4: &str = "S4 limit soundness";
    const S5: &str = "S5 destage gate";
    const S6: &str = "S6 no missing predecessor";
    const S7: &str = "S7 ts-ordered prefix per destager";
    const S8: &str = "S8 recoverable consistent image";
    const S9: &str = "S9 at-most-once apply";
    const S10: &str = "S10 remote cache uniqueness";
    const S11: &str = "S11 ack soundness";
    const S12: &str = "S12 real-order fidelity";
    const L1: &str = "L1 every write destaged";
    match fault {
        Fault::B1 => (&[S3, S4], "longest run anywhere, not anchored at the frontier"),
        Fault::B2 => (&[S4], "a stream with nothing cached is skipped in the minimum"),
        Fault::B3 => (&[S4, S6], "no master: each RDS trusts its own minimum"),
        Fault::B4 => (&[S4, S8], "the master proceeds without every slave"),
        Fault::B5 => (&[S5, S6], "each stream destages its own prefix, the limit ignored"),
        Fault::B6 => (&[S7], "destage in arrival order"),
        Fault::B7 => (&[S4, S3], "prior art: time stamps only, no sequence numbers"),
        Fault::B8 => (&[S1], "the sender picks the latest unsent write"),
        Fault::B9 => (&[S1], "stamping detached from enqueue"),
        Fault::B10 => (&[S12], "each LDS stamps from its own skewed clock"),
        Fault::B11 => (&[S10, S9], "no duplicate suppression: a resent packet is stored and destaged again"),
        Fault::B12 => (&[S2, S11], "a resend draws a fresh sequence number"),
        Fault::B13 => (&[S11], "the sender releases an entry when it sends it"),
        Fault::B14 => (&[L1], "strictly below the limit (claim 22) strands the write at it"),
        Fault::B16 => (&[S8], "a newer write coalesced into an older entry in place"),
    }
}

/// A fault's headline property and why.
pub fn target(fault: Fault) -> (&'static str, &'static str) {
    let (props, why) = targets(fault);
    (props[0], why)
}

/// The config a seeded fault's check runs on.
fn fault_config(fault: Fault, tier: Tier) -> &'static str {
    match (fault, tier) {
        // B14 needs a world where the faithful text is otherwise live: one stream, no loss.
        (Fault::B14, _) => "single",
        // B2 needs an RDS that receives a quiet stream beside a busy one.
        (Fault::B2, _) => "fanin",
        (_, Tier::Tiny) => "tiny",
        (_, Tier::Standard) => "standard",
    }
}

/// Which configs a registry holds: `tiny` for `cargo test`, `standard` for `make check`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Tier {
    Tiny,
    Standard,
}

impl Tier {
    pub fn from_name(name: &str) -> Option<Tier> {
        match name {
            "tiny" => Some(Tier::Tiny),
            "standard" => Some(Tier::Standard),
            _ => None,
        }
    }
}

fn every(mode: Mode, f: impl Fn(&str) -> Option<Expect>) -> Vec<(String, Expect)> {
    properties::names(mode).into_iter().filter_map(|n| f(n).map(|e| (n.to_string(), e))).collect()
}

fn is_sometimes(name: &str) -> bool {
    name.starts_with('X') || name.starts_with('N')
}

/// The registered checks of the ordering protocol at a tier.
pub fn ordering(tier: Tier) -> Vec<Check> {
    let base = match tier {
        Tier::Tiny => "tiny",
        Tier::Standard => "standard",
    };
    let mk = |config: &str, variant, faults: Vec<Fault>, mode, expect, why: &str| Check {
        protocol: "ordering".into(),
        config: config.into(),
        variant,
        faults,
        mode,
        expect,
        why: why.into(),
    };
    let mut v = Vec::new();
    // The hardened protocol: every safety property holds, every sanity example shows up (a
    // stale limit can arrive only where rounds are asynchronous)...
    let async_rounds = Config::named(base).is_some_and(|c| !c.sync_rounds);
    v.push(mk(
        base,
        Variant::Hardened,
        vec![],
        Mode::Safety,
        every(Mode::Safety, |n| match n {
            "N3 a stale limit arrives" if !async_rounds => None,
            n if is_sometimes(n) => Some(Expect::Witnessed),
            _ => Some(Expect::Holds),
        }),
        "hardened: S1-S12 hold under loss, duplication, reordering and takeover",
    ));
    // ...and every write is eventually destaged.
    v.push(mk(
        base,
        Variant::Hardened,
        vec![],
        Mode::Liveness,
        every(Mode::Liveness, |n| (!is_sometimes(n)).then_some(Expect::Holds)),
        "hardened: resend, dedup and heartbeats make L1 hold",
    ));
    // The faithful text: safe where the network does not duplicate; where it does, step 800
    // stores the duplicate and it is destaged again, over newer data (B11 is the text itself).
    let duplicates = Config::named(base).is_some_and(|c| c.dup > 0);
    v.push(mk(
        base,
        Variant::Faithful,
        vec![],
        Mode::Safety,
        every(Mode::Safety, |n| match n {
            "S7 ts-ordered prefix per destager" | "S9 at-most-once apply" | "S10 remote cache uniqueness"
                if duplicates =>
            {
                Some(Expect::Violated)
            }
            n if is_sometimes(n) => None,
            _ => Some(Expect::Holds),
        }),
        if duplicates {
            "faithful gap: step 800 stores a duplicate, which is destaged again over newer data"
        } else {
            "faithful: without duplicates the text is safe"
        },
    ));
    // ...but not live: an idle stream pins the limit (B15), a lost packet is never resent.
    v.push(mk(
        base,
        Variant::Faithful,
        vec![],
        Mode::Liveness,
        vec![("L1 every write destaged".into(), Expect::Violated)],
        "faithful gap B15: no heartbeat, no resend",
    ));
    // In the simplest world the faithful text is live.
    v.push(mk(
        "single",
        Variant::Faithful,
        vec![],
        Mode::Liveness,
        every(Mode::Liveness, |n| (!is_sometimes(n)).then_some(Expect::Holds)),
        "faithful, one stream, no network faults: every property holds, L1 included",
    ));
    // Fig. 4 streams: pairs that share a sequence counter, in both modes.
    for mode in Mode::ALL {
        v.push(mk(
            "grouped",
            Variant::Hardened,
            vec![],
            mode,
            every(mode, |n| (!is_sometimes(n)).then_some(Expect::Holds)),
            "hardened, Fig. 4 scope: two pairs share one stream's counter",
        ));
    }
    for f in Fault::ALL {
        let (props, why) = targets(f);
        let mode = if props[0].starts_with('L') { Mode::Liveness } else { Mode::Safety };
        let variant = if f == Fault::B14 { Variant::Faithful } else { Variant::Hardened };
        let expect = props.iter().map(|p| (p.to_string(), Expect::Violated)).collect();
        v.push(mk(fault_config(f, tier), variant, vec![f], mode, expect, why));
    }
    v
}

/// Every registered check at a tier.
pub fn all(tier: Tier) -> Vec<Check> {
    ordering(tier)
}
