//! The properties of note section 6 that this world judges so far: S1-S6 and S8-S14
//! (`always`), L1, L2 and L4-L6 as obligations. S7, S15, L3, L7 join with the worlds and faults
//! that can break them (a property no check shows failing is not listed). Each reads the roles,
//! TS and the ghost; none decides what a role decides.

use super::model::{RelayModel, ID};
use super::state::{bit, State, Wid};
use crate::protocol::Obligation;
use rcopy::relay::{Body, Kind, PairState, Seq};
use stateright::Property;

pub const S1: &str = "S1 unique, dense sequencing";
pub const S2: &str = "S2 dependent-write order";
pub const S3: &str = "S3 in-order, gap-free, at-most-once reflection";
pub const S4: &str = "S4 prefix image";
pub const S5: &str = "S5 an answer implies applied";
pub const S6: &str = "S6 SE deletes only what was applied";
pub const S8: &str = "S8 no acknowledged write forgotten";
pub const S9: &str = "S9 counter coherence";
pub const S10: &str = "S10 pair-state chain";
pub const S11: &str = "S11 failover fence";
pub const S12: &str = "S12 failover prefix and completeness";
pub const S13: &str = "S13 resync correctness";
pub const S14: &str = "S14 no resurrection";
pub const L1: &str = "L1 every write reflected and cleaned up";
pub const L2: &str = "L2 quiescence";
pub const L4: &str = "L4 failover terminates";
pub const L5: &str = "L5 a permanent failure leads to failure Suspend";
pub const L6: &str = "L6 resync converges";

/// Every `always` property, in the order the verdict table shows them.
pub fn all() -> Vec<Property<RelayModel>> {
    vec![
        Property::always(S1, |_, s: &State| s1(s)),
        Property::always(S2, |_, s: &State| s2(s)),
        Property::always(S3, |_, s: &State| s3(s)),
        Property::always(S4, |_, s: &State| s4(s)),
        Property::always(S5, |_, s: &State| !s.ghost.early_answer),
        Property::always(S6, |_, s: &State| !s.ghost.se_dropped),
        Property::always(S8, |_, s: &State| s8(s)),
        Property::always(S9, |_, s: &State| s9(s)),
        Property::always(S10, |_, s: &State| s10(s)),
        Property::always(S11, |_, s: &State| !s.ghost.breach),
        Property::always(S12, |_, s: &State| !s.ghost.sok_loss),
        Property::always(S13, |_, s: &State| s.ghost.ts_era == 0 || s.ts.state != PairState::Duplex || s.ts.vol == s.ss.vol),
        Property::always(S14, |_, s: &State| !s.ghost.resurrected),
    ]
}

/// Liveness as obligations (under the fairness of `RelayModel`'s classes).
pub fn obligations() -> Vec<Obligation<RelayModel>> {
    vec![
        Obligation { name: L1, pending: |m: &RelayModel, s: &State| l1(m, s) },
        Obligation { name: L2, pending: |_, s: &State| l2(s) },
        Obligation { name: L4, pending: |_, s: &State| s.ghost.detected && s.ts.state != PairState::FailureSuspend },
        Obligation {
            name: L5,
            // Pending while the route is down with something SE must deliver.
            pending: |_, s: &State| {
                s.ghost.partitioned
                    && s.se.log.iter().any(|h| h.retained)
                    && !(s.se.pairs[0].state == PairState::FailureSuspend && s.ss.state == PairState::FailureSuspend)
            },
        },
        Obligation { name: L6, pending: |_, s: &State| s.ghost.era > 0 && !(all_duplex(s) && s.ts.vol == s.ss.vol) },
    ]
}

/// Every property name, safety first, then liveness.
pub fn names() -> Vec<&'static str> {
    vec![S1, S2, S3, S4, S5, S6, S8, S9, S10, S11, S12, S13, S14, L1, L2, L4, L5, L6]
}

/// The areas a property belongs to.
pub fn tags(name: &str) -> &'static [&'static str] {
    match name.split(' ').next().unwrap_or("") {
        "S1" | "S2" | "S3" | "S4" => &["order"],
        "S5" | "S6" | "S7" | "S9" => &["ack"],
        "S8" => &["durability"],
        "S10" => &["lifecycle"],
        "S11" | "S12" | "L4" => &["failover"],
        "S13" | "S14" | "L5" | "L6" => &["failover", "resync"],
        "L1" | "L2" => &["progress"],
        _ => &[],
    }
}

/// Every copy of write `wid` anywhere (SE's log, in flight, in a core, in TE's log, at TS).
fn write_copies(s: &State) -> impl Iterator<Item = (Wid, Seq)> + '_ {
    let of = |e: &rcopy::relay::LogEntry<Wid>| match e.body {
        Body::Wr { data, .. } => Some((data, e.seq)),
        _ => None,
    };
    s.se
        .log
        .iter()
        .filter(|h| h.numbered)
        .filter_map(move |h| of(&h.entry))
        .chain(s.copies().filter_map(of))
        .chain(s.ts.inflight.iter().filter_map(|t| match t.rio {
            Body::Wr { data, .. } => Some((data, t.seq)),
            _ => None,
        }))
}

/// S1: the entries SE created in one era have distinct seqs, and every copy of a write
/// carries the seq it was created with (a resend is the same entry).
fn s1(s: &State) -> bool {
    let c = &s.ghost.created;
    let distinct = c.iter().enumerate().all(|(i, a)| c[..i].iter().all(|b| b.era != a.era || b.seq != a.seq));
    distinct
        && write_copies(s).all(|(wid, seq)| {
            let mine: Vec<&super::state::Created> = c.iter().filter(|x| x.kind == Kind::Wr && x.wid == wid).collect();
            mine.is_empty() || mine.iter().any(|x| x.seq == seq)
        })
}

/// S2: a write the host was told of before it issued another has the lower seq (the host's
/// writes: the resync's copy re-sends them in whatever order the bitmap gives).
fn s2(s: &State) -> bool {
    let writes = || s.ghost.created.iter().filter(|c| c.kind == Kind::Wr && c.era == 0);
    writes().all(|b| {
        let before = s.ss.before[usize::from(b.wid)];
        writes().filter(|a| a.era == b.era && before & bit(a.wid) != 0).all(|a| a.seq < b.seq)
    })
}

/// S3: what TS applied in its era is a prefix of what SE created in it, in order.
fn s3(s: &State) -> bool {
    let a = &s.ghost.applied;
    let mut created = s.created_now();
    a.iter().all(|x| created.next().is_some_and(|c| c.seq == *x))
}

/// S4: TS's volume is the image of the first writes SE created, as many as TS applied (but
/// for the blocks the target application wrote after 1312).
fn s4(s: &State) -> bool {
    if s.ghost.ts_era > 0 {
        // The resync's copy is not an ordered history: S13 judges where it ends.
        return true;
    }
    let mut img = [0 as Wid; super::config::MAX_BLOCKS];
    for c in s.created_now().take(s.ghost.applied.len()) {
        if c.kind == Kind::Wr {
            if let Some(v) = img.get_mut(usize::from(c.block)) {
                *v = c.wid;
            }
        }
    }
    (0..img.len()).all(|b| s.ghost.app_blocks & (1 << b) != 0 || img[b] == s.ts.vol[b])
}

/// S8: the last acknowledged write of every block is at TS, held by SE, or marked in 727,
/// 1211 or 1213 (a block the target wrote is copied back at the resync).
fn s8(s: &State) -> bool {
    if s.ghost.se_dead || s.ghost.expired {
        // The timeout path of failover (SE dead, or TE's timer expired): what TS lacks is the
        // accepted loss of note 4.9 (N4).
        return true;
    }
    let marked = s.se.pairs[0].bitmap.union(s.ss.bitmap).union(s.ts.bitmap);
    (0..s.ss.vol.len()).all(|b| {
        let w = s.ss.vol[b];
        if w == 0 || s.ghost.acked & bit(w) == 0 {
            return true;
        }
        let applied = s.ts.vol[b] == w;
        let held = s.se.log.iter().chain(s.se.staged.iter()).any(|h| matches!(h.entry.body, Body::Wr { data, .. } if data == w));
        applied || held || marked.marked(b as u32)
    })
}

/// S9: CC - DC = the entries SE holds (numbered), and SE deleted no more than TS applied.
fn s9(s: &State) -> bool {
    let Some(c) = s.se.counters(ID) else { return true };
    let held = s.se.log.iter().filter(|h| h.retained && h.numbered).count() as u32;
    let created = c.cc.0.wrapping_sub(s.ghost.cc_base);
    let coherent = created.wrapping_sub(c.dc) == held;
    let converted = s.ghost.converted.count_ones();
    coherent && c.dc <= s.ghost.applied.len() as u32 + converted
}

/// S10: SS <= SE <= TE <= TS in the chain X < IC < D, and nobody in D before everything
/// numbered ahead of the Duplex transition is applied.
fn s10(s: &State) -> bool {
    let ranks = [s.ss.state.rank(), s.se.pairs[0].state.rank(), s.te.pairs[0].row.state.rank(), s.ts.state.rank()];
    let chain = ranks.windows(2).all(|w| match (w[0], w[1]) {
        (Some(a), Some(b)) => a <= b,
        _ => true,
    });
    let duplex = s.created_now().find(|c| c.kind == Kind::Duplex).map(|c| c.seq);
    let anyone_d = [s.ss.state, s.se.pairs[0].state, s.te.pairs[0].row.state, s.ts.state].contains(&PairState::Duplex);
    let complete = match duplex {
        Some(d) => s.created_now().filter(|c| c.seq < d).all(|c| s.applied(c.seq)),
        None => true,
    };
    chain && (!anyone_d || complete)
}

/// L1 pending: a write SE created is not yet applied, SE or TE still holds a write, or the
/// pair was given up (there is no permanent failure in these worlds); not after the source
/// site failed (then L4).
fn l1(m: &RelayModel, s: &State) -> bool {
    if s.ss.failed {
        return false;
    }
    let unapplied = s.ghost.created.iter().any(|c| c.kind == Kind::Wr && c.era == s.ghost.ts_era && !s.applied(c.seq));
    let se_holds = s.se.log.iter().any(|h| h.retained && h.entry.kind() == Kind::Wr);
    let te_holds = s.te.log.iter().any(|e| e.kind() == Kind::Wr);
    // Where the route may fail for good, a give-up is the design (L5, then L6 judge it).
    unapplied || se_holds || te_holds || (s.ghost.gave_up && !m.config.partition)
}

/// All four holders in Duplex.
fn all_duplex(s: &State) -> bool {
    [s.ss.state, s.se.pairs[0].state, s.te.pairs[0].row.state, s.ts.state].iter().all(|x| *x == PairState::Duplex)
}

/// L2 pending: anything is in a log, a core's buffer or the network (while the source site
/// lives).
fn l2(s: &State) -> bool {
    if s.ss.failed {
        return false;
    }
    !s.se.log.is_empty() || !s.te.log.is_empty() || !s.net.is_empty() || s.cores.iter().any(|c| !c.buffer.is_empty())
}
