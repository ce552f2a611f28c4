//! The journal properties S1, S3 and S4 of note section 6 (`shared/protocols/seed-003.md`) at the
//! level of a history: pure functions over plain data that a run leaves behind, whether the run
//! is a state of the model or a real run against a file-backed intermediate (the
//! `journal_node` runs of the integration tests).
//!
//! - [`prefix_image`]: S3's core, "the volume is the image of a prefix of the journaled writes
//!   in id order, the last perhaps in part". The model's S3 and the real-run judge both use it.
//! - [`check_history`]: S4 (nothing applied that was not written: no id applied that was never
//!   issued, none twice, ids in order), S3 (the applied ids are a prefix of the issued ones,
//!   and the volume the image of at least that prefix) and S1 (once the drain is over, every
//!   acknowledged write is applied), each violation naming its property and the write.

use std::borrow::Borrow;
use std::collections::{HashMap, HashSet};
use std::fmt;

/// Whether `vol` is the image of a prefix of `writes` applied to `initial`: the writes in the
/// order given (id order), each write `(addr, blocks, value)` setting blocks `addr..addr +
/// blocks` to `value` one block after the other, and the prefix cut anywhere, inside a write
/// too (the last write perhaps partly applied). The empty prefix counts: `vol == initial`.
///
/// `initial` and `vol` must have the same length (else `false`); blocks at or past that length
/// are not compared (the caller compares a window of the volume). Needs no `Clone` and, for a
/// volume of up to 512 blocks, allocates nothing: it keeps one bit per block (does the image
/// match `vol` there) and a count of the blocks that do not.
///
/// The model's S3 is `prefix_image(&[0; MAX_BLOCKS][..n], journaled writes as (addr, blocks,
/// value), &vol_s[..n])`.
pub fn prefix_image<T, I>(initial: &[T], writes: I, vol: &[T]) -> bool
where
    T: PartialEq,
    I: IntoIterator,
    I::Item: Borrow<(u32, u32, T)>,
{
    if initial.len() != vol.len() {
        return false;
    }
    let n = vol.len();
    let words = n.div_ceil(64);
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
        if x != y {
            differs[b / 64] |= 1 << (b % 64);
            mismatched += 1;
        }
    }
    if mismatched == 0 {
        return true;
    }
    for w in writes {
        let (addr, blocks, value) = w.borrow();
        let start = *addr as usize;
        let end = start.saturating_add(*blocks as usize).min(n);
        for (b, want) in vol.iter().enumerate().take(end).skip(start) {
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
                return true;
            }
        }
    }
    false
}

/// One journaled host write: request id 704, the blocks it writes and the value each of its
/// blocks then holds in the volume.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Write<T> {
    pub id: u32,
    pub addr: u32,
    pub blocks: u32,
    pub value: T,
}

/// What one run leaves: P's journaled writes and acknowledgements, S's applied journals, and
/// S's volume, block by block.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct History<T> {
    /// The volume before any write.
    pub initial: Vec<T>,
    /// Every write P journaled (issued a journal for), in any order; ids are unique.
    pub issued: Vec<Write<T>>,
    /// The ids P acknowledged to the host while in PAIR.
    pub acked: Vec<u32>,
    /// The ids S applied whole, in the order S applied them.
    pub applied: Vec<u32>,
    /// S's drain after P's failure is over (S1 then requires every acknowledged write).
    pub drained: bool,
    /// S's volume at the end of the run.
    pub volume: Vec<T>,
}

pub use crate::history::Violation;

fn violation(property: &'static str, write: Option<u32>, detail: String) -> Violation {
    Violation::new(property, write, detail)
}

/// Judge a history, returning the first violation found, checked in this order:
///
/// 1. S4: every applied id was issued, none is applied twice, and each is above the one before
///    (the issued list naming an id twice is an S4 violation too: two journals of one id);
/// 2. S3: the applied ids are the lowest issued ids, none skipped (a prefix in id order); the
///    volume has the size of `initial` and is the image of the applied writes followed by a
///    prefix of the later ones ([`prefix_image`]: S may have applied part or all of a journal
///    it had not yet recorded);
/// 3. S1: if the drain is over, every acknowledged id is applied.
pub fn check_history<T: PartialEq + Clone + fmt::Debug>(h: &History<T>) -> Result<(), Violation> {
    let mut by_id: HashMap<u32, &Write<T>> = HashMap::with_capacity(h.issued.len());
    for w in &h.issued {
        if by_id.insert(w.id, w).is_some() {
            return Err(violation("S4", Some(w.id), "two journaled writes have this id".into()));
        }
    }
    // S4.
    let mut seen = HashSet::with_capacity(h.applied.len());
    let mut prev: Option<u32> = None;
    for &id in &h.applied {
        if !by_id.contains_key(&id) {
            return Err(violation("S4", Some(id), "applied, but no journal of this id was ever written".into()));
        }
        if !seen.insert(id) {
            return Err(violation("S4", Some(id), "applied twice".into()));
        }
        if let Some(p) = prev.filter(|&p| id < p) {
            return Err(violation("S4", Some(id), format!("applied after write {p}: out of id order")));
        }
        prev = Some(id);
    }
    // S3: the applied ids are a prefix of the issued ids.
    let mut order: Vec<&Write<T>> = h.issued.iter().collect();
    order.sort_by_key(|w| w.id);
    for (k, &id) in h.applied.iter().enumerate() {
        if let Some(w) = order.get(k).filter(|w| w.id != id) {
            return Err(violation("S3", Some(w.id), format!("skipped: write {id} was applied without it")));
        }
    }
    // S3: the volume.
    if h.volume.len() != h.initial.len() {
        let detail = format!("the volume has {} blocks, {} expected", h.volume.len(), h.initial.len());
        return Err(violation("S3", None, detail));
    }
    let done = h.applied.len().min(order.len());
    let mut base = h.initial.clone();
    let mut writer: Vec<Option<u32>> = vec![None; base.len()];
    for w in &order[..done] {
        let start = w.addr as usize;
        let end = start.saturating_add(w.blocks as usize).min(base.len());
        for b in start..end {
            base[b] = w.value.clone();
            writer[b] = Some(w.id);
        }
    }
    let later = order[done..].iter().map(|w| (w.addr, w.blocks, w.value.clone()));
    if !prefix_image(&base, later, &h.volume) {
        let b = base.iter().zip(&h.volume).position(|(x, y)| x != y).unwrap_or(0);
        let detail = format!(
            "the volume is not the image of a prefix of the writes in id order that covers the {} applied: \
             block {b} holds {:?}, the applied writes leave {:?} there",
            done,
            h.volume.get(b),
            base.get(b)
        );
        let about = writer.get(b).copied().flatten().or_else(|| order.get(done).map(|w| w.id));
        return Err(violation("S3", about, detail));
    }
    // S1.
    if h.drained {
        if let Some(&id) = h.acked.iter().find(|id| !seen.contains(id)) {
            return Err(violation(
                "S1",
                Some(id),
                "acknowledged to the host but not applied once the drain is over".into(),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(id: u32, addr: u32, blocks: u32) -> Write<u32> {
        Write { id, addr, blocks, value: id }
    }

    /// Writes 1: blocks 0-1, 2: blocks 1-3, 3: block 0, on a volume of 5 blocks (value = id).
    fn history() -> History<u32> {
        History {
            initial: vec![0; 5],
            issued: vec![w(1, 0, 2), w(2, 1, 3), w(3, 0, 1)],
            acked: vec![1, 2],
            applied: vec![1, 2],
            drained: true,
            volume: vec![1, 2, 2, 2, 0],
        }
    }

    #[test]
    fn prefix_images() {
        let writes = [(0u32, 2u32, 1u8), (1, 3, 2), (0, 1, 3)];
        let init = [0u8; 5];
        for vol in [
            [0, 0, 0, 0, 0], // the empty prefix
            [1, 0, 0, 0, 0], // write 1 in part
            [1, 1, 0, 0, 0],
            [1, 2, 2, 0, 0], // write 2 in part
            [1, 2, 2, 2, 0],
            [3, 2, 2, 2, 0], // all
        ] {
            assert!(prefix_image(&init, writes.as_slice(), &vol), "{vol:?}");
        }
        for vol in [
            [0, 1, 0, 0, 0], // write 1's second block without its first
            [0, 2, 2, 2, 0], // write 2 without write 1
            [3, 0, 0, 0, 0], // write 3 without 1 and 2
            [1, 1, 0, 0, 9], // a value no write holds
            [3, 1, 0, 0, 0], // write 3 before write 2
        ] {
            assert!(!prefix_image(&init, writes.as_slice(), &vol), "{vol:?}");
        }
        // Lengths must agree; blocks past the volume are not compared.
        assert!(!prefix_image(&init, writes.as_slice(), &[0u8; 4]));
        assert!(prefix_image(&[0u8; 2], [(1u32, 9u32, 7u8)], &[0, 7]));
        assert!(prefix_image(&[0u8; 2], [(u32::MAX, u32::MAX, 7u8)], &[0, 0]));
        // Owned items (an iterator, as the model passes) and a large volume.
        let big_init = vec![0u16; 1000];
        let mut big = big_init.clone();
        big[900..950].fill(4);
        assert!(prefix_image(&big_init, (0..5u16).map(|v| (900u32, 50u32, v)), &big));
        assert!(!prefix_image(&big_init, (0..3u16).map(|v| (900u32, 50u32, v)), &big));
    }

    /// The model's S3 as it is written in `properties.rs` (an image buffer, compared after
    /// every block): `prefix_image` must agree with it on every small case.
    fn naive(blocks: usize, writes: &[(u8, u8, u8)], vol: &[u8; 8]) -> bool {
        let mut image = [0u8; 8];
        if image[..blocks] == vol[..blocks] {
            return true;
        }
        for &(addr, n, value) in writes {
            for k in 0..n {
                image[usize::from(addr + k)] = value;
                if image[..blocks] == vol[..blocks] {
                    return true;
                }
            }
        }
        false
    }

    #[test]
    fn agrees_with_the_models_s3() {
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = |n: u64| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x % n) as u8
        };
        let (mut yes, mut no) = (0, 0);
        for _ in 0..20_000 {
            let blocks = 1 + usize::from(next(4));
            let writes: Vec<(u8, u8, u8)> = (0..next(5))
                .map(|i| {
                    let addr = next(blocks as u64);
                    (addr, 1 + next((blocks as u8 - addr) as u64), i + 1)
                })
                .collect();
            let mut vol = [0u8; 8];
            for v in vol.iter_mut().take(blocks) {
                *v = next(4);
            }
            let expected = naive(blocks, &writes, &vol);
            let got = prefix_image(
                &[0u8; 8][..blocks],
                writes.iter().map(|&(a, n, v)| (u32::from(a), u32::from(n), v)),
                &vol[..blocks],
            );
            assert_eq!(got, expected, "{blocks} {writes:?} {vol:?}");
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
        check_history(&history()).unwrap();
        // Write 3 applied to the volume but not yet recorded as applied: still a prefix.
        let mut h = history();
        h.volume = vec![3, 2, 2, 2, 0];
        check_history(&h).unwrap();
        // Not drained: an acknowledged write may still be on I.
        let mut h = history();
        h.applied = vec![1];
        h.volume = vec![1, 1, 0, 0, 0];
        h.drained = false;
        check_history(&h).unwrap();
    }

    fn fails(h: &History<u32>, property: &str, write: Option<u32>) {
        match check_history(h) {
            Err(v) => {
                assert_eq!((v.property, v.write), (property, write), "{v}");
                assert!(v.to_string().starts_with(property));
            }
            Ok(()) => panic!("expected a violation of {property}"),
        }
    }

    #[test]
    fn a_lost_ack_breaks_s1() {
        let mut h = history();
        h.acked = vec![1, 2, 3];
        fails(&h, "S1", Some(3));
        let mut h = history();
        h.applied = vec![1];
        h.volume = vec![1, 1, 0, 0, 0];
        fails(&h, "S1", Some(2));
    }

    #[test]
    fn a_non_prefix_volume_breaks_s3() {
        let mut h = history();
        h.volume = vec![1, 2, 2, 9, 0]; // garbage
        fails(&h, "S3", Some(2));
        let mut h = history();
        h.volume = vec![1, 1, 0, 0, 0]; // behind what S says it applied
        fails(&h, "S3", Some(2));
        let mut h = history();
        h.volume = vec![0; 4];
        fails(&h, "S3", None);
        // A skipped id.
        let mut h = history();
        h.applied = vec![1, 3];
        h.acked = vec![1];
        fails(&h, "S3", Some(2));
    }

    #[test]
    fn bad_applied_ids_break_s4() {
        let mut h = history();
        h.applied = vec![1, 2, 2];
        fails(&h, "S4", Some(2));
        let mut h = history();
        h.applied = vec![2, 1];
        fails(&h, "S4", Some(1));
        let mut h = history();
        h.applied = vec![1, 2, 7];
        fails(&h, "S4", Some(7));
        let mut h = history();
        h.issued.push(w(2, 4, 1));
        fails(&h, "S4", Some(2));
    }
}
