//! The visited table: fingerprint -> parent fingerprint, shared by every explorer thread.
//!
//! Sharded: a fixed number of `Mutex<HashMap>`s, a state's shard chosen by bits 40..46 of its
//! fingerprint. The maps hash with the identity (a fingerprint is already a good hash); the
//! shard bits sit where hashbrown looks at neither for the bucket (low bits) nor for its
//! control byte (top 7 bits), so every shard's table stays evenly spread.

use std::collections::hash_map::Entry;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Mutex;

/// The parent of an initial state.
pub const NO_PARENT: u64 = 0;

const SHARDS: usize = 64;
const SHARD_SHIFT: u32 = 40;

/// Hashes a `u64` key to itself.
#[derive(Default, Clone, Copy)]
pub struct Identity(u64);

impl Hasher for Identity {
    fn write(&mut self, bytes: &[u8]) {
        // Only `u64` keys are hashed; anything else folds its bytes in.
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ b as u64;
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

type Map = HashMap<u64, u64, BuildHasherDefault<Identity>>;

/// A shard on cache lines of its own: two threads locking neighbouring shards must not fight
/// over one line.
#[repr(align(128))]
struct Shard(Mutex<Map>);

/// Fingerprint -> parent fingerprint, for every state found.
pub struct Visited {
    shards: Box<[Shard]>,
}

impl Default for Visited {
    fn default() -> Visited {
        Visited { shards: (0..SHARDS).map(|_| Shard(Mutex::new(Map::default()))).collect() }
    }
}

impl Visited {
    fn shard(&self, fp: u64) -> std::sync::MutexGuard<'_, Map> {
        let i = (fp >> SHARD_SHIFT) as usize % SHARDS;
        // A poisoned shard means an explorer thread panicked mid-insert; the map itself is
        // intact (an insert either happened or not), so carry on with it.
        self.shards[i].0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Record `fp`, reached from `parent`: true if it is new (if not, the first parent
    /// recorded stays).
    #[inline]
    pub fn insert(&self, fp: u64, parent: u64) -> bool {
        match self.shard(fp).entry(fp) {
            Entry::Occupied(_) => false,
            Entry::Vacant(v) => {
                v.insert(parent);
                true
            }
        }
    }

    /// Record `fp` with the value `new()` gives, if it is not there yet: its value, and whether
    /// it is new. (The liveness graph keeps a state's id as its value.)
    #[inline]
    pub fn insert_with(&self, fp: u64, new: impl FnOnce() -> u64) -> (u64, bool) {
        match self.shard(fp).entry(fp) {
            Entry::Occupied(o) => (*o.get(), false),
            Entry::Vacant(v) => {
                let x = new();
                v.insert(x);
                (x, true)
            }
        }
    }

    /// The value recorded for `fp` (its parent's fingerprint, [`NO_PARENT`] for an initial
    /// state; or, when the liveness graph is kept, its id), `None` if not found.
    pub fn value(&self, fp: u64) -> Option<u64> {
        self.shard(fp).get(&fp).copied()
    }

    pub fn contains(&self, fp: u64) -> bool {
        self.shard(fp).contains_key(&fp)
    }

    /// States recorded (locks every shard in turn: not for a hot loop).
    pub fn len(&self) -> u64 {
        self.shards.iter().map(|s| s.0.lock().unwrap_or_else(|e| e.into_inner()).len() as u64).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes the table holds (buckets of key and parent, plus a control byte each).
    pub fn bytes(&self) -> u64 {
        let per_bucket = (2 * std::mem::size_of::<u64>() + 1) as u64;
        self.shards
            .iter()
            .map(|s| {
                let cap = s.0.lock().unwrap_or_else(|e| e.into_inner()).capacity() as u64;
                // hashbrown keeps at most 7/8 of its buckets full, in power-of-two tables.
                let buckets = if cap == 0 { 0 } else { (cap * 8 / 7).next_power_of_two() };
                buckets * per_bucket
            })
            .sum()
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
    fn shards_spread_fingerprints() {
        let t = Visited::default();
        for i in 1..=10_000u64 {
            assert!(t.insert(super::super::fingerprint::fingerprint(&i), NO_PARENT));
        }
        assert_eq!(t.len(), 10_000);
        let busiest = t.shards.iter().map(|s| s.0.lock().unwrap().len()).max().unwrap();
        assert!(busiest < 10_000 / SHARDS * 2, "one shard holds {busiest}");
    }
}
