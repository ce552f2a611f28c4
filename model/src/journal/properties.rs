//! The properties of note section 6: S1-S17 (`always`), and L1-L6 as
//! obligations. Each reads the roles, I and the ghost; none decides what a role decides.

use super::model::JournalModel;
use super::state::{Side, State, WriteRec};
use crate::protocol::Obligation;
use rcopy::journal::{Direction, Mode, Owner, PairState, Pos};
use stateright::Property;

pub const S1: &str = "S1 no acknowledged write lost when only P fails";
pub const S2: &str = "S2 no live journal overwritten";
pub const S3: &str = "S3 prefix consistency at S";
pub const S4: &str = "S4 S never applies garbage";
pub const S5: &str = "S5 P publishes only complete journals";
pub const S6: &str = "S6 update info kept until S confirms";
pub const S7: &str = "S7 S publishes progress only after applying";
pub const S8: &str = "S8 P's bitmap complete after suspend";
pub const S9: &str = "S9 resync converges";
pub const S10: &str = "S10 1403 accepts only a resync that can converge";
pub const S11: &str = "S11 each area on I holds its owner's writes only";
pub const S12: &str = "S12 resync to P after its crash covers its unjournaled writes";
pub const S13: &str = "S13 no false failure detection";
pub const S14: &str = "S14 at most one active writer";
pub const S15: &str = "S15 time stamps increase";
pub const S16: &str = "S16 the resend through a healthy intermediate keeps order";
pub const S17: &str = "S17 S's head only over what it applied";
pub const L1: &str = "L1 eventual replication";
pub const L2: &str = "L2 ring space reclaimed";
pub const L3: &str = "L3 the drain terminates";
pub const L4: &str = "L4 failure detection complete";
pub const L5: &str = "L5 resync terminates";
pub const L6: &str = "L6 no stall on a gap with several intermediates";

/// Every `always` property, in the order the verdict table shows them.
pub fn all() -> Vec<Property<JournalModel>> {
    vec![
        Property::always(S1, s1),
        Property::always(S2, |_, s: &State| !s.ghost.overwrote),
        Property::always(S3, s3),
        Property::always(S4, |_, s: &State| !s.ghost.garbage),
        Property::always(S5, s5),
        Property::always(S6, s6),
        Property::always(S7, |_, s: &State| s.ss.iter().all(|x| x.c632.head <= x.applied_to)),
        Property::always(S8, s8),
        Property::always(S9, |_, s: &State| !s.resynced() || s.vol_p == s.s0().vol),
        Property::always(S10, |_, s: &State| !s.ghost.unsound_plan),
        Property::always(S11, |_, s: &State| {
            s.c631.owner == Owner::Primary && s.ss.iter().enumerate().all(|(i, x)| x.c632.owner == Owner::Secondary(i as u8))
        }),
        Property::always(S12, s12),
        Property::always(S13, |_, s: &State| !s.ghost.false_alarm),
        Property::always(S14, |_, s: &State| !(s.p_up && !s.p_fenced && s.s0().role.mode == Mode::TakenOver)),
        Property::always(S15, s15),
        Property::always(S16, s16),
        Property::always(S17, |_, s: &State| s.ss.iter().all(|x| x.role.head <= x.applied_to)),
    ]
}

/// Liveness, note 6, as obligations.
pub fn obligations() -> Vec<Obligation<JournalModel>> {
    vec![
        Obligation { name: L1, pending: l1 },
        Obligation { name: L2, pending: l2 },
        Obligation {
            name: L3,
            pending: |_, s: &State| s.ss.iter().any(|x| x.up && matches!(x.role.mode, Mode::Draining { .. })),
        },
        Obligation { name: L4, pending: l4 },
        Obligation { name: L5, pending: |_, s: &State| s.resyncing() },
        Obligation { name: L6, pending: l6 },
    ]
}

/// Every property name, safety first, then liveness.
pub fn names() -> Vec<&'static str> {
    vec![S1, S2, S3, S4, S5, S6, S7, S8, S9, S10, S11, S12, S13, S14, S15, S16, S17, L1, L2, L3, L4, L5, L6]
}

/// The areas a property belongs to.
pub fn tags(name: &str) -> &'static [&'static str] {
    match name.split(' ').next().unwrap_or("") {
        "S1" | "S8" | "S14" => &["failover"],
        "S9" | "S10" | "S12" | "L5" => &["failover", "resync"],
        "S2" | "S5" | "S6" | "S11" | "L2" => &["ring"],
        "S3" | "S4" | "S7" | "S17" | "S15" | "L1" => &["apply"],
        "S13" | "L4" => &["detection"],
        "L3" => &["failover"],
        "S16" | "L6" => &["failover", "intermediates"],
        _ => &[],
    }
}

fn journaled(s: &State) -> impl Iterator<Item = &WriteRec> {
    s.ghost.writes.iter().filter(|w| w.journal.is_some())
}

/// S1 (RPO 0): while I answers, every acknowledged journaled write is applied at each S or the
/// part of its journal from that S's head on is intact on I; once P is down and an S's drain is
/// over, it is applied there.
fn s1(_: &JournalModel, s: &State) -> bool {
    // Embodiment 3's world has no P failure: S16 and L6 judge it.
    if !s.i_up || s.multi.is_some() {
        return true;
    }
    s.ss.iter().enumerate().all(|(i, x)| {
        let drained = !s.p_up && matches!(x.role.mode, Mode::Suspended | Mode::TakenOver);
        journaled(s)
            .filter(|w| w.acked)
            .all(|w| State::applied_at(w, i) || (s.live_from(w, x.role.head) && !drained))
    })
}

/// S3: each S's volume is the image of a prefix of the journals in id order, the last of them
/// perhaps in part (before the secondary host writes to it, or a resync copies to it).
fn s3(m: &JournalModel, s: &State) -> bool {
    s.ss.iter().enumerate().all(|(i, x)| {
        let exempt = i == 0 && (x.role.mode == Mode::TakenOver || s.resync.is_some());
        exempt || prefix_image(m, s, &x.vol)
    })
}

/// S3's judgement, by the same code that judges a real run's history
/// ([`super::history::prefix_image`]).
fn prefix_image(m: &JournalModel, s: &State, vol: &[u8]) -> bool {
    let n = usize::from(m.config.volume_blocks);
    let writes = journaled(s).map(|w| (u32::from(w.addr), u32::from(w.blocks), w.value));
    super::history::prefix_image(&[0u8; super::config::MAX_BLOCKS][..n], writes, &vol[..n])
}

/// The end of the contiguous prefix of journals P wrote in full.
fn complete_end(m: &JournalModel, s: &State) -> Pos {
    let mut end = m.start().0;
    for w in journaled(s) {
        match w.journal {
            Some((meta, pos)) if w.complete && pos == end => end = Pos(pos.0 + u32::from(meta.blocks)),
            _ => break,
        }
    }
    end
}

/// S5: 631 covers only journals P wrote in full.
fn s5(m: &JournalModel, s: &State) -> bool {
    s.c631.end() <= complete_end(m, s)
}

/// S6: while P is in PAIR, every journal from its head on has its update info.
fn s6(_: &JournalModel, s: &State) -> bool {
    // Embodiment 3's P keeps a journal until S confirms it by construction (`Striper::kept`).
    if !s.p_up || s.p.pair != PairState::Pair || s.multi.is_some() {
        return true;
    }
    journaled(s).all(|w| {
        let (meta, pos) = w.journal.expect("journaled");
        pos.0 + u32::from(meta.blocks) <= s.p.head.0 || s.p.updates.iter().any(|u| u.meta.id == meta.id)
    })
}

/// S8: once P suspended, its bitmap marks every block of every write S does not have.
fn s8(_: &JournalModel, s: &State) -> bool {
    if !s.p_up || s.p.pair != PairState::Suspend {
        return true;
    }
    s.ghost
        .writes
        .iter()
        .filter(|w| !s.applied_everywhere(w))
        .all(|w| (w.addr..w.addr + w.blocks).all(|b| s.p.bitmap.marked(b.into())))
}

/// S12: after P crashed, a resync that aligned P to S leaves P's volume equal to S's.
fn s12(_: &JournalModel, s: &State) -> bool {
    let to_p = s.ghost.direction == Some(Direction::SecondaryToPrimary);
    !(s.resynced() && to_p && s.ghost.p_crashed) || s.vol_p == s.s0().vol
}

/// S16 (embodiment 3): S applied journals `1, 2, ..., k` in that order, each once, each the
/// journal of a host write, and its volume is exactly their image: a resend neither skipped,
/// repeated, renumbered nor changed a write.
fn s16(m: &JournalModel, s: &State) -> bool {
    let Some(w) = s.multi.as_deref() else { return true };
    let in_order = w.applied.iter().enumerate().all(|(k, id)| usize::from(*id) == k + 1);
    let k = w.applied.len();
    let hosts = w.applied.iter().all(|id| journaled(s).any(|x| x.journal.is_some_and(|(meta, _)| meta.id.0 == u32::from(*id))));
    let n = usize::from(m.config.volume_blocks);
    let mut image = [0u8; super::config::MAX_BLOCKS];
    for x in journaled(s).filter(|x| x.journal.is_some_and(|(meta, _)| meta.id.0 as usize <= k)) {
        for b in x.addr..x.addr + x.blocks {
            image[usize::from(b)] = x.value;
        }
    }
    in_order && hosts && image[..n] == s.s0().vol[..n]
}

/// S15: successive journals' time stamps strictly increase.
fn s15(_: &JournalModel, s: &State) -> bool {
    let ts: Vec<_> = journaled(s).filter_map(|w| w.journal.map(|(m, _)| m.ts)).collect();
    ts.windows(2).all(|w| w[0] < w[1])
}

/// L1: with no failure, an acknowledged write not yet applied at S.
fn l1(_: &JournalModel, s: &State) -> bool {
    !s.ghost.failed && journaled(s).any(|w| w.acked && !s.applied_everywhere(w))
}

/// L6 (embodiment 3): a journaled write not yet applied at S, whatever intermediate failed.
fn l6(_: &JournalModel, s: &State) -> bool {
    s.multi.is_some() && journaled(s).any(|w| !State::applied_at(w, 0))
}

/// L2: with no failure, P in PAIR with writes to make and no room in the ring for a block.
fn l2(m: &JournalModel, s: &State) -> bool {
    !s.ghost.failed
        && s.p_up
        && !s.p_fenced
        && s.p.pair == PairState::Pair
        && s.ghost.writes.len() < usize::from(m.config.writes)
        && s.p.free() < 1
}

/// L4: a side that should notice a failure has not yet.
fn l4(m: &JournalModel, s: &State) -> bool {
    let p_watching = s.p_up && !s.p_fenced && s.p.pair == PairState::Pair;
    let watching = |x: &Side| x.up && x.role.mode == Mode::Normal;
    let control = m.control_up(s);
    // I's failure is noticed on a read of I: with control info over I, every round reads it;
    // over the direct path (embodiment 2) only P's journal writes and S's fetches do.
    let direct = m.config.direct_control;
    let p_reads_i = !direct || !s.writing.is_empty();
    let reads_i = |x: &Side| !direct || x.role.end > x.role.head;
    (!s.p_up && control && s.ss.iter().any(watching))
        || (!s.i_up && ((p_watching && p_reads_i) || s.ss.iter().any(|x| watching(x) && reads_i(x))))
        || (s.ss.iter().any(|x| !x.up) && p_watching)
}
