//! The visited table: fingerprint -> parent fingerprint, shared by every explorer thread.
//!
//! Sharded: a fixed number of mutex-guarded open-addressing tables, a state's shard chosen by
//! the low bits of its fingerprint and its slot by the high bits (a fingerprint is already a
//! uniform hash). A slot is 16 bytes (fingerprint, value); fingerprint 0 marks an empty slot
//! (fingerprints are never 0). Linear probing; a shard grows by half when it is 80% full, so it
//! is between 53% and 80% full once it holds more than a few states: 20 to 30 bytes per stored
//! state. hashbrown, the table before, doubles at 7/8 full: 18 to 39 bytes per state. So this
//! one is not always smaller (on a graph that stops just past a growth it is larger: 28.8
//! against 20.5 bytes on the benchmark graph timed against SPIN) but its worst case is under
//! the 32 bytes the compact-worlds issue set, and linear probing at 80% costs more probes per
//! new state.

use std::sync::Mutex;

/// The parent of an initial state.
pub const NO_PARENT: u64 = 0;

const SHARDS: usize = 64;
/// Slots a shard starts with.
const INITIAL: usize = 64;
/// A shard grows when `len * 5 > slots * 4` (80% full).
const FULL_NUM: usize = 4;
const FULL_DEN: usize = 5;

/// One shard: (fingerprint, value) slots, fingerprint 0 where empty.
#[derive(Default)]
struct Table {
    slots: Vec<(u64, u64)>,
    len: usize,
}

impl Table {
    /// The slot a fingerprint starts probing at: its high bits scaled to the table's size.
    #[inline]
    fn home(&self, fp: u64) -> usize {
        ((fp as u128 * self.slots.len() as u128) >> 64) as usize
    }

    /// The slot holding `fp`, or the empty slot where it would go.
    #[inline]
    fn find(&self, fp: u64) -> usize {
        debug_assert!(fp != 0 && !self.slots.is_empty());
        let n = self.slots.len();
        let mut i = self.home(fp);
        loop {
            let k = self.slots[i].0;
            if k == fp || k == 0 {
                return i;
            }
            i += 1;
            if i == n {
                i = 0;
            }
        }
    }

    fn grow(&mut self) {
        let slots = (self.slots.len() + self.slots.len() / 2).max(INITIAL);
        let old = std::mem::replace(&mut self.slots, vec![(0, 0); slots]);
        for (k, v) in old.into_iter().filter(|(k, _)| *k != 0) {
            let i = self.find(k);
            self.slots[i] = (k, v);
        }
    }

    /// Insert `fp` with `value()` unless present: its value, and whether it is new.
    #[inline]
    fn insert_with(&mut self, fp: u64, value: impl FnOnce() -> u64) -> (u64, bool) {
        if self.slots.is_empty() {
            self.grow();
        }
        let mut i = self.find(fp);
        if self.slots[i].0 == fp {
            return (self.slots[i].1, false);
        }
        // New: grow first if it would fill the table past 80% (there is always an empty slot).
        if (self.len + 1) * FULL_DEN > self.slots.len() * FULL_NUM {
            self.grow();
            i = self.find(fp);
        }
        let v = value();
        self.slots[i] = (fp, v);
        self.len += 1;
        (v, true)
    }

    fn get(&self, fp: u64) -> Option<u64> {
        if self.slots.is_empty() || fp == 0 {
            return None;
        }
        let i = self.find(fp);
        (self.slots[i].0 == fp).then_some(self.slots[i].1)
    }
}

/// A shard on cache lines of its own: two threads locking neighbouring shards must not fight
/// over one line.
#[repr(align(128))]
struct Shard(Mutex<Table>);

/// Fingerprint -> parent fingerprint, for every state found.
pub struct Visited {
    shards: Box<[Shard]>,
}

impl Default for Visited {
    fn default() -> Visited {
        Visited { shards: (0..SHARDS).map(|_| Shard(Mutex::new(Table::default()))).collect() }
    }
}

impl Visited {
    fn shard(&self, fp: u64) -> std::sync::MutexGuard<'_, Table> {
        let i = fp as usize % SHARDS;
        // A poisoned shard means an explorer thread panicked mid-insert; the map itself is
        // intact (an insert either happened or not), so carry on with it.
        self.shards[i].0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Record `fp`, reached from `parent`: true if it is new (if not, the first parent
    /// recorded stays).
    #[inline]
    pub fn insert(&self, fp: u64, parent: u64) -> bool {
        assert!(fp != 0, "fingerprint 0 marks an empty slot");
        self.shard(fp).insert_with(fp, || parent).1
    }

    /// Record `fp` with the value `new()` gives, if it is not there yet: its value, and whether
    /// it is new. (The liveness graph keeps a state's id as its value.)
    #[inline]
    pub fn insert_with(&self, fp: u64, new: impl FnOnce() -> u64) -> (u64, bool) {
        assert!(fp != 0, "fingerprint 0 marks an empty slot");
        self.shard(fp).insert_with(fp, new)
    }

    /// The value recorded for `fp` (its parent's fingerprint, [`NO_PARENT`] for an initial
    /// state; or, when the liveness graph is kept, its id), `None` if not found.
    pub fn value(&self, fp: u64) -> Option<u64> {
        self.shard(fp).get(fp)
    }

    pub fn contains(&self, fp: u64) -> bool {
        self.shard(fp).get(fp).is_some()
    }

    /// States recorded (locks every shard in turn: not for a hot loop).
    pub fn len(&self) -> u64 {
        self.shards.iter().map(|s| s.0.lock().unwrap_or_else(|e| e.into_inner()).len as u64).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes the table holds: its slots.
    pub fn bytes(&self) -> u64 {
        let slot = std::mem::size_of::<(u64, u64)>() as u64;
        self.shards.iter().map(|s| s.0.lock().unwrap_or_else(|e| e.into_inner()).slots.len() as u64 * slot).sum()
    }

    /// The path of fingerprints from an initial state to `fp`, following parents; `None` if a
    /// link is missing or the chain is longer than the number of states (a cycle of parents,
    /// which only a fingerprint collision could make).
    pub fn chain(&self, fp: u64) -> Option<Vec<u64>> {
        let len = self.len();
        let mut out = vec![fp];
        let mut at = fp;
        loop {
            let up = self.value(at)?;
            if up == NO_PARENT {
                break;
            }
            if out.len() as u64 > len {
                return None;
            }
            out.push(up);
            at = up;
        }
        out.reverse();
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insert_once_and_follow_parents() {
        let t = Visited::default();
        assert!(t.insert(10, NO_PARENT));
        assert!(!t.insert(10, 99), "a second insert is refused");
        assert!(t.insert(11, 10));
        assert!(t.insert(12, 11));
        assert_eq!(t.len(), 3);
        assert_eq!(t.value(12), Some(11));
        assert_eq!(t.chain(12), Some(vec![10, 11, 12]));
        assert_eq!(t.chain(13), None);
        assert!(t.bytes() > 0);
    }

    #[test]
    fn a_growing_table_keeps_every_entry_and_stays_between_53_and_80_percent_full() {
        let t = Visited::default();
        let n = 200_000u64;
        for i in 1..=n {
            assert!(t.insert(super::super::fingerprint::fingerprint(&i), i));
        }
        for i in 1..=n {
            let fp = super::super::fingerprint::fingerprint(&i);
            assert_eq!(t.value(fp), Some(i));
            assert!(!t.insert(fp, 0), "present: refused");
        }
        assert_eq!(t.value(super::super::fingerprint::fingerprint(&(n + 1))), None);
        let per_state = t.bytes() as f64 / n as f64;
        assert!((16.0 / 0.8..=16.0 / 0.53).contains(&per_state), "{per_state} bytes per state");
    }

    #[test]
    fn shards_spread_fingerprints() {
        let t = Visited::default();
        for i in 1..=10_000u64 {
            assert!(t.insert(super::super::fingerprint::fingerprint(&i), NO_PARENT));
        }
        assert_eq!(t.len(), 10_000);
        let busiest = t.shards.iter().map(|s| s.0.lock().unwrap().len).max().unwrap();
        assert!(busiest < 10_000 / SHARDS * 2, "one shard holds {busiest}");
    }
}
