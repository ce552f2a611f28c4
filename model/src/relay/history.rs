//! The relay's safety properties S2, S3, S4, S5 and S8 (note section 6.1,
//! `shared/protocols/seed-001.md`) at the level of a history: pure functions over plain data
//! that a run leaves behind, whether the run is a state of the model or real processes on
//! loopback (the `relay_node` runs of the integration tests).
//!
//! A history is that of one order assurance ID (one sequence space, one total order; a run of
//! several IDs is judged once per ID). Writes are named by a write id (`u32`, 0 meaning "never
//! written"); a volume is, block by block, the id of the write whose data it holds.
//!
//! - [`in_order_prefix`]: S3's core, "the seqs TS was handed are a prefix of the seqs SE
//!   numbered, in order, each once".
//! - [`prefix_image`]: S4's core, "TS's volume is the image of the first `n` writes SE numbered"
//!   (and, where a crash may have cut the record of the next one, of part of the next).
//! - [`check_history`]: the whole judge. S2 as far as a history shows it (nothing acknowledged
//!   to SS before it was numbered and stored, 1904 after 1902-1903), S3, S4, S5 (no answer for
//!   a seq TS has not applied) and S8 (after a clean end or a failover through LE(SOK), every
//!   acknowledged write is at TS; after a failover's timeout, TS holds a prefix and nothing
//!   more is asked). Each violation names its property (the names of [`super::properties`]) and
//!   the write.
//!
//! None of these allocates for a volume of up to 512 blocks, except [`check_history`]'s
//! report of a violation and its indexes of a large history.

use super::properties::{S2, S3, S4, S5, S8};
use std::borrow::Borrow;
use std::collections::{HashMap, HashSet};

// =============================================================================================
// S3: the reflected seqs are a prefix of the created ones
// =============================================================================================

/// Where the reflected seqs stop being a prefix of the created ones.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct PrefixBreak {
    /// The position in the reflected list.
    pub at: usize,
    /// The seq reflected there.
    pub found: u32,
    /// The seq the created list has there (`None`: more reflected than created).
    pub expected: Option<u32>,
}

/// S3: whether `reflected` (the seqs TS was handed, in order) is a prefix of `created` (the
/// seqs SE numbered, in the order it numbered them): no gap, no repeat, no reordering. Returns
/// the prefix length, or where it breaks. Allocates nothing.
///
/// The model's S3 is `in_order_prefix(s.created_now().map(|c| c.seq.0), s.ghost.applied.iter().map(|q| q.0)).is_ok()`.
pub fn in_order_prefix<C, R>(created: C, reflected: R) -> Result<usize, PrefixBreak>
where
    C: IntoIterator,
    C::Item: Borrow<u32>,
    R: IntoIterator,
    R::Item: Borrow<u32>,
{
    let mut created = created.into_iter();
    let mut n = 0;
    for (at, r) in reflected.into_iter().enumerate() {
        let found = *r.borrow();
        match created.next() {
            Some(c) if *c.borrow() == found => n += 1,
            other => return Err(PrefixBreak { at, found, expected: other.map(|c| *c.borrow()) }),
        }
    }
    Ok(n)
}

// =============================================================================================
// S4: the volume is the image of a prefix
// =============================================================================================

/// How [`prefix_image`] treats the write after the prefix.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Next {
    /// The volume must be the image of exactly the first `n` writes (the model: TS applies an
    /// RIO and the ghost records it in one step).
    Excluded,
    /// The volume may also hold the next write, in part or whole: TS wrote it and the record of
    /// that (a log line) was cut by a crash.
    MayBePartial,
}

/// S4: whether `vol` is the image of the first `n` of `writes` applied in order to `initial`
/// (with [`Next::MayBePartial`], then perhaps of part of the write after them, one block after
/// the other). A write `(start, count, value)` sets blocks `start..start + count` to `value`;
/// blocks past the volume are not compared, and neither is any block `b` with `ignore(b)` (the
/// model's blocks the target application wrote after 1312). Returns the first block that
/// differs from the image of the first `n` writes.
///
/// `initial` and `vol` must have the same length (else `Err(the shorter length)`). Needs no
/// `Clone`, and for a volume of up to 512 blocks allocates nothing: it keeps one bit per block
/// (does the image match `vol` there) and a count of the blocks that do not.
pub fn prefix_image<T, I>(
    initial: &[T],
    writes: I,
    n: usize,
    vol: &[T],
    next: Next,
    ignore: impl Fn(usize) -> bool,
) -> Result<(), usize>
where
    T: PartialEq,
    I: IntoIterator,
    I::Item: Borrow<(u32, u32, T)>,
{
    if initial.len() != vol.len() {
        return Err(initial.len().min(vol.len()));
    }
    let len = vol.len();
    let words = len.div_ceil(64);
    let mut small = [0u64; 8];
    let mut large = Vec::new();
    let differs: &mut [u64] = if words <= small.len() {
        &mut small[..words]
    } else {
        large.resize(words, 0u64);
        &mut large
    };
    let mut mismatched = 0usize;
    for (b, (x, y)) in initial.iter().zip(vol).enumerate() {
        if x != y && !ignore(b) {
            differs[b / 64] |= 1 << (b % 64);
            mismatched += 1;
        }
    }
    let mut writes = writes.into_iter();
    for w in writes.by_ref().take(n) {
        let (start, count, value) = w.borrow();
        let start = *start as usize;
        let end = start.saturating_add(*count as usize).min(len);
        for (b, want) in vol.iter().enumerate().take(end).skip(start) {
            if ignore(b) {
                continue;
            }
            let (word, bit) = (b / 64, 1u64 << (b % 64));
            let was = differs[word] & bit != 0;
            let now = value != want;
            if was != now {
                differs[word] ^= bit;
                if now {
                    mismatched += 1;
                } else {
                    mismatched -= 1;
                }
            }
        }
    }
    if mismatched == 0 {
        return Ok(());
    }
    // The first block that differs from the image of the first `n` writes.
    let first = differs.iter().position(|w| *w != 0).map_or(0, |i| i * 64 + differs[i].trailing_zeros() as usize);
    if next == Next::MayBePartial {
        if let Some(w) = writes.next() {
            let (start, count, value) = w.borrow();
            let start = *start as usize;
            let end = start.saturating_add(*count as usize).min(len);
            for (b, want) in vol.iter().enumerate().take(end).skip(start) {
                if ignore(b) {
                    continue;
                }
                let (word, bit) = (b / 64, 1u64 << (b % 64));
                let was = differs[word] & bit != 0;
                let now = value != want;
                if was != now {
                    differs[word] ^= bit;
                    if now {
                        mismatched += 1;
                    } else {
                        mismatched -= 1;
                    }
                }
                if mismatched == 0 {
                    break;
                }
            }
        }
    }
    if mismatched == 0 {
        return Ok(());
    }
    Err(first)
}

// =============================================================================================
// The whole judge
// =============================================================================================

/// An entry SE numbered: write `write` as `seq`, over `count` blocks from `block` (`count` 0:
/// a control entry, which writes nothing).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Created {
    pub seq: u32,
    pub write: u32,
    pub block: u32,
    pub count: u32,
}

/// What SE's log shows, in the order it happened at SE.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum SeEvent {
    /// SE numbered an entry (recorded before SE stored its state, so a crash may lose it: see
    /// [`SeEvent::Restart`]).
    Created(Created),
    /// SE answered SS RIO(WROK) for this write (1904).
    Acked { write: u32 },
    /// SE restarted after a crash from its stored state, whose CC was `cc`: a creation before
    /// this with a seq at or above `cc` was never stored, so it never happened (its seq is
    /// taken again).
    Restart { cc: u32 },
}

/// What TE handed TS, in order (2005, with TS's write done).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum TeEvent {
    /// TS was handed seq `seq`, write `write` (0 for a control entry).
    Reflected { seq: u32, write: u32 },
    /// TE sent an answer (LE(WROK), ICOK, DOK, DPOK) naming `seq` (2008-2010, or a re-ack).
    Answered { seq: u32 },
    /// TE restarted after a crash: the RIO whose answer the crash lost may be handed to TS
    /// once more, the same write with nothing between (the model's `unconfirmed`), which is
    /// not a second reflection.
    Restart,
}

/// How the run ended.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum End {
    /// Cut off: what is in flight may still arrive (S8 is not judged).
    Open,
    /// Quiesced with every process up: every acknowledged write must be at TS.
    Drained,
    /// A failover (Fig. 13) that TE ended on SE's LE(SOK) with "no missing log entries": SE was
    /// alive and pushed out everything, so every acknowledged write must be at TS.
    FailoverSok,
    /// A failover that TE ended on its timeout (SE dead): TS holds a prefix (S3, S4) and the
    /// rest is the accepted loss of note 4.9.
    FailoverTimeout,
}

/// One ID's run.
#[derive(Clone, Copy, Debug)]
pub struct History<'a> {
    pub se: &'a [SeEvent],
    pub te: &'a [TeEvent],
    /// Writes whose blocks SE converted into bitmap 727 at a give-up (S8's coverage: the
    /// resync will copy them).
    pub covered: &'a [u32],
    /// TS's volume before the run, and at its end (write ids, block by block).
    pub initial: &'a [u32],
    pub volume: &'a [u32],
    pub end: End,
}

pub use crate::history::Violation;

fn violation(property: &'static str, write: Option<u32>, detail: String) -> Violation {
    Violation::new(property, write, detail)
}

/// The creations that happened: SE's `Created` events less those a later `Restart` shows were
/// never stored, in order.
pub fn stored_creations(se: &[SeEvent]) -> Vec<Created> {
    let mut out: Vec<Created> = Vec::new();
    for e in se {
        match *e {
            SeEvent::Created(c) => out.push(c),
            SeEvent::Restart { cc } => out.retain(|c| c.seq < cc),
            SeEvent::Acked { .. } => {}
        }
    }
    out
}

/// The reflections that happened: TE's `Reflected` events less the one re-apply after each
/// restart (the same seq and write again, right after), in order.
pub fn reflections(te: &[TeEvent]) -> Vec<(u32, u32)> {
    let mut out: Vec<(u32, u32)> = Vec::new();
    let mut redo = false;
    for e in te {
        match *e {
            TeEvent::Reflected { seq, write } => {
                let again = redo && out.last() == Some(&(seq, write));
                redo = false;
                if !again {
                    out.push((seq, write));
                }
            }
            TeEvent::Restart => redo = true,
            TeEvent::Answered { .. } => {}
        }
    }
    out
}

/// Judge a history, returning the first violation, checked in this order:
///
/// 1. S2: every write acknowledged to SS was numbered (and the number stored) before the
///    acknowledgement, in SE's log (1904 after 1902-1903; fault B11 answers first).
/// 2. S3: the seqs TS was handed are a prefix of the stored creations' seqs in order
///    ([`in_order_prefix`]), each carrying the write SE numbered under it.
/// 3. S5: every answer TE sent names a seq TS was handed before it.
/// 4. S4: TS's volume is the image of that prefix of writes, and perhaps part of the next
///    ([`prefix_image`] with [`Next::MayBePartial`]: a crash between TS's write and its record).
/// 5. S8: unless the run is [`End::Open`] or [`End::FailoverTimeout`], every acknowledged
///    write is at TS or converted into 727 (`covered`).
pub fn check_history(h: &History<'_>) -> Result<(), Violation> {
    let created = stored_creations(h.se);
    // S2.
    let mut numbered: HashSet<u32> = HashSet::new();
    let mut acked: Vec<u32> = Vec::new();
    let mut live: Vec<Created> = Vec::new();
    for e in h.se {
        match *e {
            SeEvent::Created(c) => {
                numbered.insert(c.write);
                live.push(c);
            }
            SeEvent::Restart { cc } => {
                live.retain(|c| c.seq < cc);
                numbered = live.iter().map(|c| c.write).collect();
            }
            SeEvent::Acked { write } => {
                if !numbered.contains(&write) {
                    let detail = "acknowledged to SS before SE numbered and stored it (1904 before 1902-1903)".into();
                    return Err(violation(S2, Some(write), detail));
                }
                acked.push(write);
            }
        }
    }
    // S3.
    let reflected = reflections(h.te);
    let n = match in_order_prefix(created.iter().map(|c| c.seq), reflected.iter().map(|r| r.0)) {
        Ok(n) => n,
        Err(b) => {
            let write = reflected.get(b.at).map(|r| r.1).filter(|w| *w != 0);
            let detail = match b.expected {
                Some(e) if reflected[..b.at].iter().any(|r| r.0 == b.found) => {
                    format!("seq {} handed to TS a second time, where seq {e} was next", b.found)
                }
                Some(e) => format!("seq {} handed to TS where seq {e} was next (a gap or a reordering)", b.found),
                None => format!("seq {} handed to TS, but SE numbered only {} entries", b.found, created.len()),
            };
            return Err(violation(S3, write, detail));
        }
    };
    for (c, r) in created.iter().zip(&reflected) {
        if c.write != r.1 {
            let detail = format!(
                "seq {} handed to TS with write {}, but SE numbered write {} as seq {}",
                c.seq, r.1, c.write, c.seq
            );
            return Err(violation(S3, Some(r.1), detail));
        }
    }
    // S5.
    let mut handed: HashSet<u32> = HashSet::new();
    for e in h.te {
        match *e {
            TeEvent::Reflected { seq, .. } => {
                handed.insert(seq);
            }
            TeEvent::Answered { seq } if !handed.contains(&seq) => {
                let write = created.iter().find(|c| c.seq == seq).map(|c| c.write);
                return Err(violation(S5, write, format!("TE answered seq {seq} before TS was handed it")));
            }
            _ => {}
        }
    }
    // S4.
    let writes = created.iter().map(|c| (c.block, c.count, c.write));
    if let Err(b) = prefix_image(h.initial, writes, n, h.volume, Next::MayBePartial, |_| false) {
        let image = created[..n]
            .iter()
            .rev()
            .find(|c| c.count > 0 && (c.block..c.block.saturating_add(c.count)).contains(&(b as u32)));
        let want = image.map_or_else(|| h.initial.get(b).copied().unwrap_or(0), |c| c.write);
        let detail = format!(
            "TS's volume is not the image of the {n} writes handed to it (or of those and part of the next): block {b} holds {:?}, the image {want}",
            h.volume.get(b)
        );
        let write = h.volume.get(b).copied().filter(|w| *w != 0).or(image.map(|c| c.write));
        return Err(violation(S4, write, detail));
    }
    // S8.
    if matches!(h.end, End::Drained | End::FailoverSok) {
        let at_ts: HashMap<u32, u32> = reflected.iter().map(|r| (r.1, r.0)).collect();
        if let Some(&w) = acked.iter().find(|w| !at_ts.contains_key(w) && !h.covered.contains(w)) {
            let when = if h.end == End::Drained {
                "the run ended with every process up"
            } else {
                "the failover ended on LE(SOK) with SE alive"
            };
            return Err(violation(S8, Some(w), format!("acknowledged to SS, but {when} and TS never got it")));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(seq: u32, write: u32, block: u32, count: u32) -> SeEvent {
        SeEvent::Created(Created { seq, write, block, count })
    }

    fn ack(write: u32) -> SeEvent {
        SeEvent::Acked { write }
    }

    fn r(seq: u32, write: u32) -> TeEvent {
        TeEvent::Reflected { seq, write }
    }

    fn a(seq: u32) -> TeEvent {
        TeEvent::Answered { seq }
    }

    /// The worked example of note section 9: w1(b0), w2(b1), w3(b0) as seqs 1-3 (writes 1-3),
    /// on a volume of 3 blocks.
    fn se() -> Vec<SeEvent> {
        vec![c(1, 1, 0, 1), ack(1), c(2, 2, 1, 1), ack(2), c(3, 3, 0, 1), ack(3)]
    }

    fn te() -> Vec<TeEvent> {
        vec![r(1, 1), a(1), r(2, 2), a(2), r(3, 3), a(3)]
    }

    fn judge(se: &[SeEvent], te: &[TeEvent], volume: &[u32], end: End) -> Result<(), Violation> {
        check_history(&History { se, te, covered: &[], initial: &[0; 3], volume, end })
    }

    fn fails(result: Result<(), Violation>, property: &str, write: Option<u32>) {
        match result {
            Err(v) => {
                assert_eq!((v.property, v.write), (property, write), "{v}");
                assert!(v.to_string().starts_with(property), "{v}");
            }
            Ok(()) => panic!("expected a violation of {property}"),
        }
    }

    #[test]
    fn prefixes() {
        assert_eq!(in_order_prefix([1u32, 2, 3], [1u32, 2]), Ok(2));
        assert_eq!(in_order_prefix([1u32, 2, 3], [0u32; 0]), Ok(0));
        assert_eq!(in_order_prefix(&[1u32, 2, 3], &[1u32, 2, 3]), Ok(3));
        assert_eq!(in_order_prefix([1u32, 2, 3], [1u32, 3]), Err(PrefixBreak { at: 1, found: 3, expected: Some(2) }));
        assert_eq!(in_order_prefix([1u32, 2, 3], [1u32, 1]), Err(PrefixBreak { at: 1, found: 1, expected: Some(2) }));
        assert_eq!(in_order_prefix([1u32], [1u32, 2]), Err(PrefixBreak { at: 1, found: 2, expected: None }));
        assert_eq!(in_order_prefix([1u32, 2], [2u32]), Err(PrefixBreak { at: 0, found: 2, expected: Some(1) }));
    }

    #[test]
    fn images() {
        // Note section 9's writes: b0 = A(1), b1 = B(2), b0 = C(3).
        let writes = [(0u32, 1u32, 1u8), (1, 1, 2), (0, 1, 3)];
        let init = [0u8; 2];
        let none = |_| false;
        for (n, vol) in [(0, [0, 0]), (1, [1, 0]), (2, [1, 2]), (3, [3, 2])] {
            assert_eq!(prefix_image(&init, writes, n, &vol, Next::Excluded, none), Ok(()), "{n} {vol:?}");
        }
        // The illegal images of note section 9: {b1: B} and {b0: C} alone.
        for vol in [[0, 2], [3, 0]] {
            assert!((0..=3).all(|n| prefix_image(&init, writes, n, &vol, Next::Excluded, none).is_err()), "{vol:?}");
        }
        // One write behind, one ahead.
        assert_eq!(prefix_image(&init, writes, 2, &[1, 0], Next::Excluded, none), Err(1));
        assert_eq!(prefix_image(&init, writes, 1, &[1, 2], Next::Excluded, none), Err(1));
        // Ahead by the next write: only if it may be there.
        assert_eq!(prefix_image(&init, writes, 1, &[1, 2], Next::MayBePartial, none), Ok(()));
        assert_eq!(prefix_image(&init, writes, 1, &[3, 2], Next::MayBePartial, none), Err(0));
        // Part of the next write (blocks 1-3 of a 4-block write), not of the one after.
        let multi = [(0u32, 2u32, 1u8), (1, 3, 2), (0, 1, 3)];
        assert_eq!(prefix_image(&[0u8; 4], multi, 1, &[1, 2, 2, 0], Next::MayBePartial, none), Ok(()));
        assert_eq!(prefix_image(&[0u8; 4], multi, 1, &[1, 1, 2, 0], Next::MayBePartial, none), Err(2));
        assert_eq!(prefix_image(&[0u8; 4], multi, 1, &[1, 1, 2, 0], Next::Excluded, none), Err(2));
        // Ignored blocks (the target application's), lengths, blocks past the volume.
        assert_eq!(prefix_image(&init, writes, 1, &[1, 9], Next::Excluded, |b| b == 1), Ok(()));
        assert_eq!(prefix_image(&init, writes, 1, &[1u8], Next::Excluded, none), Err(1));
        assert_eq!(prefix_image(&init, [(1u32, 9u32, 7u8)], 1, &[0, 7], Next::Excluded, none), Ok(()));
        // A large volume (the heap bitset) and owned items.
        let big_init = vec![0u16; 1000];
        let mut big = big_init.clone();
        big[900..950].fill(4);
        assert_eq!(
            prefix_image(&big_init, (0..5u16).map(|v| (900u32, 50u32, v)), 5, &big, Next::Excluded, none),
            Ok(())
        );
        assert_eq!(
            prefix_image(&big_init, (0..5u16).map(|v| (900u32, 50u32, v)), 4, &big, Next::Excluded, none),
            Err(900)
        );
    }

    /// `prefix_image` with `Next::Excluded` against a naive image buffer on small random cases.
    #[test]
    fn images_agree_with_a_naive_image() {
        let mut x = 0x2545_f491_4f6c_dd1du64;
        let mut next = |n: u64| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x % n) as u8
        };
        let (mut yes, mut no) = (0, 0);
        for _ in 0..20_000 {
            let blocks = 1 + usize::from(next(4));
            let writes: Vec<(u32, u32, u8)> = (0..next(5))
                .map(|i| {
                    let start = next(blocks as u64);
                    (u32::from(start), u32::from(1 + next((blocks as u8 - start) as u64)), i + 1)
                })
                .collect();
            let n = usize::from(next(writes.len() as u64 + 1));
            let mut vol = vec![0u8; blocks];
            for v in vol.iter_mut() {
                *v = next(4);
            }
            let mut image = vec![0u8; blocks];
            for &(s, k, v) in &writes[..n] {
                for b in s..s + k {
                    image[b as usize] = v;
                }
            }
            let expected = image == vol;
            let got = prefix_image(&vec![0u8; blocks], &writes, n, &vol, Next::Excluded, |_| false).is_ok();
            assert_eq!(got, expected, "{writes:?} {n} {vol:?}");
            if expected {
                yes += 1;
            } else {
                no += 1;
            }
        }
        assert!(yes > 1000 && no > 1000, "{yes} {no}");
    }

    #[test]
    fn a_good_history_passes() {
        judge(&se(), &te(), &[3, 2, 0], End::Drained).unwrap();
        judge(&se(), &te(), &[3, 2, 0], End::FailoverSok).unwrap();
        // Cut off after seq 1: only a prefix, and nothing is asked of the rest.
        judge(&se(), &te()[..2], &[1, 0, 0], End::Open).unwrap();
        judge(&se(), &te()[..2], &[1, 0, 0], End::FailoverTimeout).unwrap();
        // TS wrote seq 2 and the record of it was cut.
        judge(&se(), &te()[..2], &[1, 2, 0], End::Open).unwrap();
        // A creation a crash lost (seq 3, never stored, taken again by write 4).
        let lost = [
            c(1, 1, 0, 1),
            ack(1),
            c(2, 2, 1, 1),
            ack(2),
            c(3, 3, 0, 1),
            SeEvent::Restart { cc: 3 },
            c(3, 4, 2, 1),
            ack(4),
        ];
        let te4 = [r(1, 1), a(1), r(2, 2), a(2), r(3, 4), a(3)];
        judge(&lost, &te4, &[1, 2, 4], End::Drained).unwrap();
        // TE's crash lost TS's answer to seq 2: the restarted TE hands it again.
        let redo = [r(1, 1), a(1), r(2, 2), TeEvent::Restart, r(2, 2), a(2), r(3, 3), a(3)];
        judge(&se(), &redo, &[3, 2, 0], End::Drained).unwrap();
        // A give-up converted write 3 into 727.
        let h = History {
            se: &se(),
            te: &te()[..4],
            covered: &[3],
            initial: &[0; 3],
            volume: &[1, 2, 0],
            end: End::Drained,
        };
        check_history(&h).unwrap();
    }

    #[test]
    fn an_early_ack_to_ss_breaks_s2() {
        // B11: the acknowledgement before the number.
        let se = [c(1, 1, 0, 1), ack(1), ack(2), c(2, 2, 1, 1)];
        fails(judge(&se, &te()[..4], &[1, 2, 0], End::Drained), S2, Some(2));
        // Acknowledged, numbered, but the number was never stored (lost in a crash).
        let se = [c(1, 1, 0, 1), ack(1), c(2, 2, 1, 1), ack(2), SeEvent::Restart { cc: 2 }, ack(3)];
        fails(judge(&se, &te()[..2], &[1, 0, 0], End::Open), S2, Some(3));
    }

    #[test]
    fn a_gap_a_repeat_or_a_reordering_breaks_s3() {
        // A gap (B9: arrival order).
        fails(judge(&se(), &[r(1, 1), r(3, 3)], &[3, 0, 0], End::Open), S3, Some(3));
        // Reordered.
        fails(judge(&se(), &[r(2, 2), r(1, 1)], &[1, 2, 0], End::Open), S3, Some(2));
        // Twice (B22: RC lost in TE's crash, an old seq handed again after another).
        fails(judge(&se(), &[r(1, 1), r(2, 2), TeEvent::Restart, r(1, 1)], &[1, 2, 0], End::Open), S3, Some(1));
        // Twice with no restart between.
        fails(judge(&se(), &[r(1, 1), r(1, 1)], &[1, 0, 0], End::Open), S3, Some(1));
        // More than was created.
        fails(judge(&se()[..2], &[r(1, 1), r(2, 2)], &[1, 2, 0], End::Open), S3, Some(2));
        // The right seq with another write under it.
        fails(judge(&se(), &[r(1, 1), r(2, 3)], &[3, 0, 0], End::Open), S3, Some(3));
    }

    #[test]
    fn an_answer_before_the_apply_breaks_s5() {
        // B2: the WROK sent when the entry is stored.
        fails(judge(&se(), &[r(1, 1), a(1), a(2), r(2, 2)], &[1, 2, 0], End::Open), S5, Some(2));
    }

    #[test]
    fn a_volume_that_is_no_prefix_image_breaks_s4() {
        // Seq 3's write at TS, though only seqs 1 and 2 were handed to it: not the next write
        // in part, it overwrote seq 1's block (and seq 2's block is missing).
        fails(judge(&se(), &te()[..2], &[3, 0, 0], End::Open), S4, Some(3));
        // Behind what TS was handed.
        fails(judge(&se(), &te(), &[1, 2, 0], End::Drained), S4, Some(1));
        // Garbage.
        fails(judge(&se(), &te(), &[3, 2, 9], End::Drained), S4, Some(9));
    }

    #[test]
    fn a_lost_acknowledged_write_breaks_s8() {
        fails(judge(&se(), &te()[..4], &[1, 2, 0], End::Drained), S8, Some(3));
        // B13: the failover ended on LE(SOK) though seq 3 was still on its way.
        fails(judge(&se(), &te()[..4], &[1, 2, 0], End::FailoverSok), S8, Some(3));
        // B24: SE's crash lost its log; the write never reached TS.
        let se = [c(1, 1, 0, 1), ack(1), SeEvent::Restart { cc: 2 }];
        fails(judge(&se, &[], &[0, 0, 0], End::Drained), S8, Some(1));
    }
}
