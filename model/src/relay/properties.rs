//! The properties of note section 6: C1 and S1-S15 (`always`), L1-L6 as obligations, N1-N7
//! (`sometimes`: what the correct protocol may do and a user should see it do). L7 (bounded
//! lag) is a figure, not a verdict: TE's 735 gives the real relay's delays. Each reads the
//! roles, TS and the ghost; none decides what a role decides. Per ID where the note says so
//! (S1-S4, S9): the worlds of two IDs judge each ID's sequence on its own.

use super::history;
use super::model::{ix, RelayModel};
use super::state::{bit, State, Wid};
use crate::protocol::Obligation;
use rcopy::relay::{Body, Kind, PairState, Seq};
use stateright::Property;

pub const C1: &str = "C1 configuration well-formed";
pub const S1: &str = "S1 unique, dense sequencing";
pub const S2: &str = "S2 dependent-write order";
pub const S3: &str = "S3 in-order, gap-free, at-most-once reflection";
pub const S4: &str = "S4 prefix image";
pub const S5: &str = "S5 an answer implies applied";
pub const S6: &str = "S6 SE deletes only what was applied";
pub const S7: &str = "S7 TE deletes only what was reflected";
pub const S8: &str = "S8 no acknowledged write forgotten";
pub const S9: &str = "S9 counter coherence";
pub const S10: &str = "S10 pair-state chain";
pub const S11: &str = "S11 failover fence";
pub const S12: &str = "S12 failover prefix and completeness";
pub const S13: &str = "S13 resync correctness";
pub const S14: &str = "S14 no resurrection";
pub const S15: &str = "S15 route progress";
pub const L1: &str = "L1 every write reflected and cleaned up";
pub const L2: &str = "L2 quiescence";
pub const L3: &str = "L3 pair set-up completes";
pub const L4: &str = "L4 failover terminates";
pub const L5: &str = "L5 a permanent failure leads to failure Suspend";
pub const L6: &str = "L6 resync converges";
pub const N1: &str = "N1 TS lags SS in Duplex";
pub const N2: &str = "N2 an entry waits at TE for a gap";
pub const N3: &str = "N3 a resent copy heads for TE, which has it";
pub const N4: &str = "N4 the timeout path loses acknowledged writes";
pub const N5: &str = "N5 no order across IDs";
pub const N6: &str = "N6 the resync discards target writes";
pub const N7: &str = "N7 the literal give-up after a lost WROK";

/// Every `always` and `sometimes` property, in the order the verdict table shows them.
pub fn all() -> Vec<Property<RelayModel>> {
    vec![
        Property::always(C1, |m: &RelayModel, _: &State| m.c1),
        Property::always(S1, |m: &RelayModel, s: &State| s1(m, s)),
        Property::always(S2, |_, s: &State| s2(s)),
        Property::always(S3, |m: &RelayModel, s: &State| s3(m, s)),
        Property::always(S4, |m: &RelayModel, s: &State| s4(m, s)),
        Property::always(S5, |_, s: &State| !s.ghost.early_answer),
        Property::always(S6, |_, s: &State| !s.ghost.se_dropped),
        Property::always(S7, |_, s: &State| !s.ghost.te_dropped),
        Property::always(S8, |m: &RelayModel, s: &State| covered(m, s)),
        Property::always(S9, |m: &RelayModel, s: &State| s9(m, s)),
        Property::always(S10, |_, s: &State| s10(s)),
        Property::always(S11, |_, s: &State| !s.ghost.breach),
        Property::always(S12, |_, s: &State| !s.ghost.sok_loss),
        Property::always(S13, |_, s: &State| s.ghost.ts_era == 0 || s.ts.state != PairState::Duplex || s.ts.vol == s.ss.vol),
        Property::always(S14, |_, s: &State| !s.ghost.resurrected),
        Property::always(S15, |_, s: &State| !s.ghost.revisited),
        Property::sometimes(N1, |_, s: &State| s.ss.state == PairState::Duplex && s.ts.state == PairState::Duplex && s.ts.vol != s.ss.vol),
        Property::sometimes(N2, |_, s: &State| n2(s)),
        Property::sometimes(N3, |_, s: &State| n3(s)),
        // S4 still holds there (it is judged on every state): what is lost is a suffix.
        Property::sometimes(N4, |m: &RelayModel, s: &State| s.ghost.expired && lost_at_ts(m, s)),
        Property::sometimes(N5, |_, s: &State| s.ghost.cross_order),
        Property::sometimes(N6, |_, s: &State| s.ghost.app_overwritten),
        Property::sometimes(N7, |m: &RelayModel, s: &State| s.ghost.gave_up && !m.config.partition && !s.ghost.detected),
    ]
}

/// Liveness as obligations (under the fairness of `RelayModel`'s classes).
pub fn obligations() -> Vec<Obligation<RelayModel>> {
    vec![
        Obligation { name: L1, pending: |m: &RelayModel, s: &State| l1(m, s) },
        Obligation { name: L2, pending: |_, s: &State| l2(s) },
        // Each request of the set-up completes: from SS's pair creation until all four holders
        // are at least Initial-Copying, from its Duplex request until all four are in Duplex
        // (the copy between them is the host's, which is not bound to happen). A give-up ends
        // the set-up for good: pending too, but where the route may fail for good (L5).
        Obligation { name: L3, pending: |m: &RelayModel, s: &State| l3(m, s) },
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

/// Every property name: safety, then liveness, then the `sometimes` ones.
pub fn names() -> Vec<&'static str> {
    let mut v = verdicts();
    v.extend(examples());
    v
}

/// The properties with a verdict (holds / violated): C1, S1-S15, L1-L6.
pub fn verdicts() -> Vec<&'static str> {
    vec![C1, S1, S2, S3, S4, S5, S6, S7, S8, S9, S10, S11, S12, S13, S14, S15, L1, L2, L3, L4, L5, L6]
}

/// The `sometimes` properties N1-N7.
pub fn examples() -> Vec<&'static str> {
    vec![N1, N2, N3, N4, N5, N6, N7]
}

/// The areas a property belongs to.
pub fn tags(name: &str) -> &'static [&'static str] {
    match name.split(' ').next().unwrap_or("") {
        "C1" | "S15" => &["config", "routing"],
        "S1" | "S2" | "S3" | "S4" | "N2" | "N5" => &["order"],
        "S5" | "S6" | "S7" | "S9" | "N3" | "N7" => &["ack"],
        "S8" | "N1" => &["durability"],
        "S10" | "L3" => &["lifecycle"],
        "S11" | "S12" | "L4" | "N4" => &["failover"],
        "S13" | "S14" | "L5" | "L6" | "N6" => &["failover", "resync"],
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

/// S1: the entries SE created in one era of one ID have distinct seqs, and every copy of a
/// write carries the seq it was created with (a resend is the same entry).
fn s1(_m: &RelayModel, s: &State) -> bool {
    let c = &s.ghost.created;
    let distinct =
        c.iter().enumerate().all(|(i, a)| c[..i].iter().all(|b| b.era != a.era || b.id != a.id || b.seq != a.seq));
    distinct
        && write_copies(s).all(|(wid, seq)| {
            let mine: Vec<&super::state::Created> = c.iter().filter(|x| x.kind == Kind::Wr && x.wid == wid).collect();
            mine.is_empty() || mine.iter().any(|x| x.seq == seq)
        })
}

/// S2: a write the host was told of before it issued another of the same ID has the lower
/// seq (the host's writes: the resync's copy re-sends them in whatever order the bitmap gives).
fn s2(s: &State) -> bool {
    let writes = || s.ghost.created.iter().filter(|c| c.kind == Kind::Wr && c.era == 0);
    writes().all(|b| {
        let before = s.ss.before[usize::from(b.wid)];
        writes().filter(|a| a.era == b.era && a.id == b.id && before & bit(a.wid) != 0).all(|a| a.seq < b.seq)
    })
}

/// S3: per ID, what TS applied in its era is a prefix of what SE created in it, in order
/// (the history judge's [`history::in_order_prefix`], which the real relay's runs use too).
fn s3(m: &RelayModel, s: &State) -> bool {
    m.ids().all(|id| {
        let i = ix(id);
        let created = s.created_now().filter(|c| c.id == i).map(|c| c.seq.0);
        let applied = s.ghost.applied.iter().filter(|(j, _)| *j == i).map(|(_, q)| q.0);
        history::in_order_prefix(created, applied).is_ok()
    })
}

/// S4: per ID, TS's volumes of the ID's pairs are the image of the first writes SE created
/// for it, as many as TS applied (but for the blocks the target application wrote after
/// 1312).
fn s4(m: &RelayModel, s: &State) -> bool {
    if s.ghost.ts_era > 0 {
        // The resync's copy is not an ordered history: S13 judges where it ends.
        return true;
    }
    // Per ID, on the blocks of its pairs, by the history judge's [`history::prefix_image`]:
    // the first writes SE created for the ID, as many as TS applied of its entries.
    let initial = [0 as Wid; super::config::MAX_BLOCKS];
    let others_or_app = |i: u8, b: usize| {
        let theirs = (b as u8) < m.world_blocks() && ix(m.id_of_pair(m.local_block(b as u8).0)) == i;
        s.ghost.app_blocks & (1 << b) != 0 || ((b as u8) < m.world_blocks() && !theirs)
    };
    m.ids().all(|id| {
        let i = ix(id);
        let mine = || s.created_now().filter(move |c| c.id == i);
        let n = mine().take(s.applied_count(i)).filter(|c| c.kind == Kind::Wr).count();
        let writes = mine().filter(|c| c.kind == Kind::Wr).map(|c| (u32::from(c.block), 1, c.wid));
        history::prefix_image(&initial, writes, n, &s.ts.vol, history::Next::Excluded, |b| others_or_app(i, b)).is_ok()
    })
}

/// S8's coverage: the last acknowledged write of every block is at TS, held by SE, or marked
/// in its pair's 727, or in 1211 or 1213 (a block the target wrote is copied back at the
/// resync). Not judged: the writes acknowledged when failover's timeout path began (SE dead,
/// or TE's timer expired): what TS lacks of them is the accepted loss of note 4.9 (N4).
fn covered(m: &RelayModel, s: &State) -> bool {
    (0..m.world_blocks()).all(|g| {
        let w = s.ss.vol[usize::from(g)];
        if w == 0 || s.ghost.acked & bit(w) == 0 || s.ghost.accepted & bit(w) != 0 {
            return true;
        }
        let (p, local) = m.local_block(g);
        let applied = s.ts.vol[usize::from(g)] == w;
        let held = s.se.log.iter().chain(s.se.staged.iter()).any(|h| matches!(h.entry.body, Body::Wr { data, .. } if data == w));
        // 727 is per pair (its blocks are the pair's); the model keeps 1211 and 1213 by the
        // world's block.
        let marked = s.se.pairs.get(usize::from(p)).is_some_and(|r| r.bitmap.marked(local.into()))
            || s.ss.bitmap.union(s.ts.bitmap).marked(g.into());
        applied || held || marked
    })
}

/// N4's loss: the last acknowledged write of some block is not at TS (nor did the target
/// application write the block since).
fn lost_at_ts(m: &RelayModel, s: &State) -> bool {
    (0..m.world_blocks()).any(|g| {
        let w = s.ss.vol[usize::from(g)];
        w != 0 && s.ghost.acked & bit(w) != 0 && s.ghost.app_blocks & (1 << g) == 0 && s.ts.vol[usize::from(g)] != w
    })
}

/// L3 pending: a set-up request of SS is not done at all four holders, or was given up.
fn l3(m: &RelayModel, s: &State) -> bool {
    let holders = [s.ss.state, s.se.pairs[0].state, s.te.pairs[0].row.state, s.ts.state];
    let copying = holders.iter().all(|x| matches!(x, PairState::InitialCopying | PairState::Duplex));
    let undone = (s.ss.asked_create && !copying) || (s.ss.asked_duplex && !all_duplex(s));
    if s.ghost.gave_up {
        // A give-up that cut the set-up short (not one after the pair reached Duplex).
        return s.ss.asked_create && !s.ghost.setup_done && !m.config.partition;
    }
    undone
}

/// S9: per ID, CC - DC = the entries SE holds (numbered), and SE deleted no more than TS
/// applied (or SE converted).
fn s9(m: &RelayModel, s: &State) -> bool {
    m.ids().all(|id| {
        let Some(c) = s.se.counters(id) else { return true };
        let held = s.se.log.iter().filter(|h| h.retained && h.numbered && h.entry.id == id).count() as u32;
        let created = c.cc.0.wrapping_sub(s.ghost.cc_base);
        let coherent = created.wrapping_sub(c.dc) == held;
        let given_up = s.ghost.given_up.get(usize::from(ix(id))).copied().unwrap_or(0);
        coherent && c.dc <= s.applied_count(ix(id)) as u32 + u32::from(given_up)
    })
}

/// S10: SS <= SE <= TE <= TS in the chain X < IC < D, and nobody in D before everything
/// numbered ahead of the Duplex transition is applied (the worlds with set-up have one pair).
fn s10(s: &State) -> bool {
    let ranks = [s.ss.state.rank(), s.se.pairs[0].state.rank(), s.te.pairs[0].row.state.rank(), s.ts.state.rank()];
    let chain = ranks.windows(2).all(|w| match (w[0], w[1]) {
        (Some(a), Some(b)) => a <= b,
        _ => true,
    });
    let duplex = s.created_now().find(|c| c.kind == Kind::Duplex).map(|c| (c.id, c.seq));
    let anyone_d = [s.ss.state, s.se.pairs[0].state, s.te.pairs[0].row.state, s.ts.state].contains(&PairState::Duplex);
    let complete = match duplex {
        Some((i, d)) => s.created_now().filter(|c| c.id == i && c.seq < d).all(|c| s.applied(c.id, c.seq)),
        None => true,
    };
    chain && (!anyone_d || complete)
}

/// N2: TE holds an entry above RC + 1 of its ID: it waits for the gap below it.
fn n2(s: &State) -> bool {
    s.te.log.iter().any(|e| e.kind().sequenced() && s.te.counters(e.id).is_some_and(|c| e.seq.0 > c.rc.0 + 1))
}

/// N3: SE resent an entry, and a copy of it is on its way to a TE that stored or reflected it
/// already (TE drops it, or answers it again). Judged on the state, not a ghost flag, so that
/// witnessing it splits no state.
fn n3(s: &State) -> bool {
    s.net.iter().any(|m| {
        let e = &m.entry;
        let resent = s.se.log.iter().any(|h| h.resends > 0 && h.entry == *e);
        m.to == super::state::TE
            && resent
            && e.kind().sequenced()
            && (s.te.log.contains(e) || s.te.counters(e.id).is_some_and(|c| c.epoch == e.epoch && e.seq.0 <= c.rc.0))
    })
}

/// L1 pending: a write SE created is not yet applied, SE or TE still holds a write, or the
/// pair was given up (there is no permanent failure in these worlds); not after the source
/// site failed or the target host took over (a failover ends the copy: L4 judges it).
fn l1(m: &RelayModel, s: &State) -> bool {
    if s.ss.failed || s.ghost.detected {
        return false;
    }
    let unapplied =
        s.ghost.created.iter().any(|c| c.kind == Kind::Wr && c.era == s.ghost.ts_era && !s.applied(c.id, c.seq));
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
/// lives and no failover began).
fn l2(s: &State) -> bool {
    if s.ss.failed || s.ghost.detected {
        return false;
    }
    !s.se.log.is_empty() || !s.te.log.is_empty() || !s.net.is_empty() || s.cores.iter().any(|c| !c.buffer.is_empty())
}
