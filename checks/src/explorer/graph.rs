//! The reachable graph, kept compactly for liveness: states by id, edges as a CSR of `u32`
//! targets with the fairness class of each edge, and per state the obligations pending in it.
//! No states are kept: a counterexample's states are rebuilt by replaying the model along the
//! ids' fingerprints.

/// The class of an edge whose action is not fair (a loss, a crash, a disaster).
pub const UNFAIR: u8 = u8::MAX;

/// At most this many liveness properties (`eventually` ones and obligations together) are
/// judged on the graph (a byte of pending bits per state); the others are unknown.
pub const MAX_OBLIGATIONS: usize = 8;

/// At most this many fairness classes (an edge's class is a byte, `UNFAIR` reserved): classes
/// 0 to 254.
pub const MAX_FAIR_CLASSES: usize = 255;

/// At most this many edges: offsets are `u32`. A larger graph is not judged (liveness unknown).
pub const MAX_EDGES: u64 = u32::MAX as u64;

/// The graph of a finished exploration.
#[derive(Clone, Debug, Default)]
pub struct Graph {
    /// `offsets[s] .. offsets[s + 1]` index the edges of state `s`.
    pub offsets: Vec<u32>,
    pub targets: Vec<u32>,
    /// The fairness class of each edge, or [`UNFAIR`].
    pub classes: Vec<u8>,
    /// Per state, bit k: obligation k is pending.
    pub pending: Vec<u8>,
    /// Per state, its fingerprint (to rebuild states by replay).
    pub fps: Vec<u64>,
    /// The initial states.
    pub inits: Vec<u32>,
}

impl Graph {
    pub fn len(&self) -> usize {
        self.pending.len()
    }

    pub fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }

    /// The edges of `s`, as (target, class).
    #[inline]
    pub fn edges(&self, s: u32) -> impl Iterator<Item = (u32, u8)> + '_ {
        let (a, b) = (self.offsets[s as usize] as usize, self.offsets[s as usize + 1] as usize);
        self.targets[a..b].iter().copied().zip(self.classes[a..b].iter().copied())
    }

    /// The fair classes with an edge out of `s` (enabled in `s`), as a bitset.
    pub fn enabled(&self, s: u32) -> ClassSet {
        let mut set = ClassSet::default();
        for (_, c) in self.edges(s) {
            if c != UNFAIR {
                set.insert(c);
            }
        }
        set
    }

    /// Bytes the graph holds: offsets, edges and their classes, pending bits (the fingerprints
    /// by id are counted apart: they are the path back to real states, not the graph).
    pub fn bytes(&self) -> u64 {
        (self.offsets.capacity() * 4 + self.targets.capacity() * 4 + self.classes.capacity() + self.pending.capacity())
            as u64
    }

    pub fn edge_count(&self) -> usize {
        self.targets.len()
    }
}

/// A set of fairness classes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ClassSet([u64; 4]);

impl ClassSet {
    #[inline]
    pub fn insert(&mut self, c: u8) {
        self.0[(c >> 6) as usize] |= 1 << (c & 63);
    }

    #[inline]
    pub fn contains(&self, c: u8) -> bool {
        self.0[(c >> 6) as usize] & (1 << (c & 63)) != 0
    }

    pub fn union(&mut self, o: &ClassSet) {
        for i in 0..4 {
            self.0[i] |= o.0[i];
        }
    }

    pub fn intersect(&mut self, o: &ClassSet) {
        for i in 0..4 {
            self.0[i] &= o.0[i];
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0 == [0; 4]
    }

    pub fn all() -> ClassSet {
        ClassSet([u64::MAX; 4])
    }

    pub fn iter(&self) -> impl Iterator<Item = u8> + '_ {
        (0..=255u8).filter(move |c| self.contains(*c))
    }
}

/// What one worker recorded while it expanded states: each expanded state's edges, and each
/// state it found first (with its parent, for the shortest paths, and its pending bits).
#[derive(Default)]
pub struct Parts {
    /// (state, number of its edges), in the order of `targets`.
    pub expanded: Vec<(u32, u32)>,
    pub targets: Vec<u32>,
    pub classes: Vec<u8>,
    /// (state, fingerprint, pending bits).
    pub found: Vec<(u32, u64, u8)>,
}

impl Parts {
    pub fn bytes(&self) -> u64 {
        (self.expanded.capacity() * 8
            + self.targets.capacity() * 4
            + self.classes.capacity()
            + self.found.capacity() * 16) as u64
    }
}

/// Assemble the graph of `n` states from what the workers recorded; each part is freed once
/// copied. `None` when it has more than [`MAX_EDGES`] edges.
pub fn assemble(n: usize, inits: Vec<u32>, parts: Vec<Parts>) -> Option<Graph> {
    let mut counts = vec![0u64; n + 1];
    for p in &parts {
        for &(s, k) in &p.expanded {
            counts[s as usize + 1] = k as u64;
        }
    }
    for i in 0..n {
        counts[i + 1] += counts[i];
    }
    if counts[n] > MAX_EDGES {
        return None;
    }
    let offsets: Vec<u32> = counts.into_iter().map(|c| c as u32).collect();
    let m = offsets[n] as usize;
    let mut targets = vec![0u32; m];
    let mut classes = vec![UNFAIR; m];
    let mut pending = vec![0u8; n];
    let mut fps = vec![0u64; n];
    for p in parts {
        let mut at = 0usize;
        for &(s, k) in &p.expanded {
            let o = offsets[s as usize] as usize;
            targets[o..o + k as usize].copy_from_slice(&p.targets[at..at + k as usize]);
            classes[o..o + k as usize].copy_from_slice(&p.classes[at..at + k as usize]);
            at += k as usize;
        }
        for &(s, fp, bits) in &p.found {
            if (s as usize) < n {
                pending[s as usize] = bits;
                fps[s as usize] = fp;
            }
        }
    }
    Some(Graph { offsets, targets, classes, pending, fps, inits })
}
