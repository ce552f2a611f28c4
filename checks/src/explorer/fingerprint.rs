//! Fingerprints: a state's `Hash` stream, made platform-independent (every integer as
//! little-endian bytes, `usize` and `isize` as 8 bytes), collected into one buffer and hashed
//! once with xxh3-64. xxh3 is a specified hash, so a fingerprint is the same on every machine
//! and in every run (aHash, stateright's, is not: it differs across platforms).

use std::hash::{Hash, Hasher};
use xxhash_rust::xxh3::xxh3_64;

/// A `Hasher` that records the bytes it is fed; [`Hasher::finish`] hashes them with xxh3.
#[derive(Default)]
pub struct StableHasher {
    buf: Vec<u8>,
}

macro_rules! le {
    ($($name:ident: $t:ty),*) => {
        $(
            #[inline]
            fn $name(&mut self, n: $t) {
                self.buf.extend_from_slice(&n.to_le_bytes());
            }
        )*
    };
}

impl Hasher for StableHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    le!(write_u8: u8, write_u16: u16, write_u32: u32, write_u64: u64, write_u128: u128,
        write_i8: i8, write_i16: i16, write_i32: i32, write_i64: i64, write_i128: i128);

    #[inline]
    fn write_usize(&mut self, n: usize) {
        self.write_u64(n as u64);
    }

    #[inline]
    fn write_isize(&mut self, n: isize) {
        self.write_i64(n as i64);
    }

    fn finish(&self) -> u64 {
        xxh3_64(&self.buf)
    }
}

impl StableHasher {
    /// The fingerprint of `value`, reusing this hasher's buffer. Never 0: 0 marks "no parent"
    /// in the visited table.
    #[inline]
    pub fn fingerprint<T: Hash + ?Sized>(&mut self, value: &T) -> u64 {
        self.buf.clear();
        value.hash(self);
        self.finish().max(1)
    }
}

/// The fingerprint of `value` (allocates a buffer; explorers keep a [`StableHasher`] each).
pub fn fingerprint<T: Hash + ?Sized>(value: &T) -> u64 {
    StableHasher::default().fingerprint(value)
}

/// The probability that two of `unique` distinct states, among `generated` lookups, shared a
/// 64-bit fingerprint so that one was taken for the other (TLC's optimistic estimate:
/// each lookup of a new state compares against at most `unique` stored fingerprints).
pub fn collision_probability(unique: u64, generated: u64) -> f64 {
    (unique as f64) * (generated.max(unique) as f64) / 2f64.powi(64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Hash)]
    enum E {
        A(u8),
        B { x: Vec<u32>, s: String },
    }

    /// Known values: a change of hasher, byte order or width shows here, and would make
    /// fingerprints differ from those other machines and earlier runs computed.
    #[test]
    fn fingerprints_are_specified() {
        assert_eq!(fingerprint(&0u64), xxh3_64(&[0; 8]));
        assert_eq!(fingerprint(&7usize), xxh3_64(&7u64.to_le_bytes()));
        let v = E::B { x: vec![1, 2], s: "ab".into() };
        let mut bytes = Vec::new();
        bytes.extend_from_slice(&1i64.to_le_bytes()); // discriminant as isize
        bytes.extend_from_slice(&2u64.to_le_bytes()); // length as usize
        bytes.extend_from_slice(&1u32.to_le_bytes());
        bytes.extend_from_slice(&2u32.to_le_bytes());
        bytes.extend_from_slice(b"ab");
        bytes.push(0xff);
        assert_eq!(fingerprint(&v), xxh3_64(&bytes));
        assert_ne!(fingerprint(&E::A(1)), fingerprint(&E::A(2)));
    }

    #[test]
    fn collision_estimate() {
        assert_eq!(collision_probability(0, 0), 0.0);
        let p = collision_probability(1 << 20, 1 << 22);
        assert!(p > 2e-7 && p < 3e-7, "{p}");
    }
}
