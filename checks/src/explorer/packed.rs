//! Packed states: the explorer may hold the states it has yet to expand (a breadth-first
//! level, a depth-first stack) as bytes, about half the memory of the states themselves.
//!
//! The packed form is postcard's (varints, lengths before sequences): compact and canonical (a
//! function of the value; it unpacks to the same value). A state unpacks *into* the one the
//! worker expanded last, through serde's in-place deserialization (`serde_derive`'s
//! `deserialize_in_place` feature): every `Vec` keeps its allocation.
//!
//! Only new states are packed and only expanded ones unpacked (about one successor in seven on
//! the benchmark worlds); successors are still computed by `next_state` and fingerprinted from
//! their `Hash` stream. Fingerprinting the packed bytes of every successor and stepping in
//! place on an unpacked copy (no allocation per step) was measured 35% slower than this:
//! postcard (and bincode) cost more per field than `Clone` and `Hash` do (ARCHITECTURE.md).
//!
//! A state's serde form must describe it fully: a skipped field would unpack into another
//! state. The explorer checks a sample of unpacked states against their fingerprints.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// How a model's states are packed.
pub(crate) struct Packing<S> {
    pub pack: fn(&S, &mut Vec<u8>) -> usize,
    pub unpack: fn(&[u8], &mut Option<S>),
}

impl<S: Serialize + DeserializeOwned> Packing<S> {
    pub fn new() -> Self {
        Packing { pack: pack::<S>, unpack: unpack::<S> }
    }
}

/// Pack `s` into `buf` (cleared first) and return the packed length.
pub fn pack<S: Serialize>(s: &S, buf: &mut Vec<u8>) -> usize {
    buf.clear();
    match postcard::serialize_with_flavor(s, Bytes(buf)) {
        Ok(()) => buf.len(),
        // postcard refuses only what has no length up front (a sequence serialized from an
        // iterator of unknown size) or a failing custom `Serialize`: the protocol's bug.
        Err(e) => panic!("a state could not be packed ({e}): its Serialize must describe it fully"),
    }
}

/// postcard's output into a reused `Vec`. Its varints arrive as runs of 1-10 bytes: pushing
/// them one by one beats a `memcpy` call per run (measured: postcard's slice output spent 14%
/// of a run in `memmove`).
struct Bytes<'a>(&'a mut Vec<u8>);

impl postcard::ser_flavors::Flavor for Bytes<'_> {
    type Output = ();

    #[inline(always)]
    fn try_push(&mut self, b: u8) -> postcard::Result<()> {
        self.0.push(b);
        Ok(())
    }

    #[inline(always)]
    fn try_extend(&mut self, bytes: &[u8]) -> postcard::Result<()> {
        if bytes.len() <= 16 {
            for &b in bytes {
                self.0.push(b);
            }
        } else {
            self.0.extend_from_slice(bytes);
        }
        Ok(())
    }

    fn finalize(self) -> postcard::Result<()> {
        Ok(())
    }
}

/// Unpack `bytes` into `slot`, reusing the state in it (and its allocations) if there is one.
pub fn unpack<S: DeserializeOwned>(bytes: &[u8], slot: &mut Option<S>) {
    let done = match slot {
        Some(s) => {
            let mut de = postcard::Deserializer::from_bytes(bytes);
            <S as Deserialize>::deserialize_in_place(&mut de, s).map_err(|e| e.to_string())
        }
        None => postcard::from_bytes(bytes).map(|s| *slot = Some(s)).map_err(|e| e.to_string()),
    };
    if let Err(e) = done {
        // The explorer packed these bytes itself: a state that does not unpack is a protocol
        // whose Serialize and Deserialize disagree.
        panic!("a packed state did not unpack ({e}): the state's Serialize and Deserialize disagree");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, PartialEq, Debug, Serialize, Deserialize)]
    struct S {
        a: Vec<Vec<u64>>,
        b: Option<(u16, u32)>,
        c: String,
    }

    #[test]
    fn unpacks_into_a_reused_state_exactly() {
        let big = S { a: vec![vec![1, 2, 3], vec![u64::MAX]], b: Some((7, 9)), c: "x".repeat(300) };
        let small = S { a: vec![vec![]], b: None, c: String::new() };
        let mut buf = Vec::new();
        let n = pack(&big, &mut buf);
        assert!(n > 300);
        let big_bytes = buf[..n].to_vec();
        let n = pack(&small, &mut buf);
        let small_bytes = buf[..n].to_vec();
        let mut slot = None;
        unpack(&big_bytes, &mut slot);
        assert_eq!(slot.as_ref(), Some(&big));
        unpack(&small_bytes, &mut slot);
        assert_eq!(slot.as_ref(), Some(&small), "a longer state unpacked before leaves nothing behind");
        unpack(&big_bytes, &mut slot);
        assert_eq!(slot.as_ref(), Some(&big));
    }
}
