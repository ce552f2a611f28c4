//! The relay wire format (seed 001, `shared/protocols/seed-001.md` 2.7 and 3.1): log entries,
//! GbE frames and reassembly, against reference computations written here.
//!
//! Decoding is checked to be truthful (an accepted record is the unique encoding of its value;
//! an error describes the bytes) on valid encodings, every single-byte mutation and truncation
//! of them, random mutations and random bytes. Framing is checked to give back every entry,
//! whole and in order; reassembly to hand up each divided entry exactly once and whole, in any
//! arrival order with duplicates, never when a fragment is missing, and within its slots.

use quickcheck::{quickcheck, Arbitrary, Gen, QuickCheck, TestResult};
use rcopy::relay::wire::{
    self, decode_entry, decode_entry_prefix, decode_frame, encode_entry, encode_frame, encode_frames, Assembled,
    Fragment, Frame, FrameEncoder, Payload, Reassembler, ReassemblyError, WireError,
};
use rcopy::relay::{Addr, Bitmap, Block, Body, Epoch, Id, Kind, LogEntry, Lun, Seq, Time, VolRef, Wwn};
use std::collections::{BTreeMap, BTreeSet};

/// Fail the property with a message unless `cond` holds.
macro_rules! ensure {
    ($cond:expr, $($fmt:tt)+) => {
        if !$cond {
            return TestResult::error(format!($($fmt)+));
        }
    };
}

/// A number in `0..n` (`n > 0`).
fn below(g: &mut Gen, n: usize) -> usize {
    usize::arbitrary(g) % n
}

/// splitmix64: the arrival orders and duplicates of a case, from the case's seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            v.swap(i, self.below(i + 1));
        }
    }
}

fn be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

// =============================================================================================
// Entries
// =============================================================================================

/// A log entry of any kind (`LogEntry` is foreign to this crate, hence the wrapper).
#[derive(Clone, PartialEq)]
struct Ent(LogEntry<Vec<u8>>);

/// The entry with its data shown by length and checksum: counterexamples stay readable.
impl std::fmt::Debug for Ent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let data = |d: &Vec<u8>| format!("<{} bytes, crc {:#010x}>", d.len(), crc32c::crc32c(d));
        let e = &self.0;
        let body = match &e.body {
            Body::Wr { block, count, data: d } => {
                format!("Wr {{ block: {block:?}, count: {count}, data: {} }}", data(d))
            }
            other => format!("{:?}", wire::borrow_entry(&LogEntry { body: other.clone(), ..e.clone() }).body),
        };
        write!(f, "{:?} -> {:?} {:?} {:?} {:?} {:?} {body}", e.source, e.target, e.id, e.epoch, e.time, e.seq)
    }
}

fn arb_vol(g: &mut Gen) -> VolRef {
    VolRef { wwn: Wwn(u64::arbitrary(g)), lun: Lun(u16::arbitrary(g)) }
}

/// Data of a few bytes mostly, sometimes a few KB (divided by small frames).
fn arb_data(g: &mut Gen) -> Vec<u8> {
    if below(g, 4) == 0 {
        let n = below(g, 5000);
        let fill = u8::arbitrary(g);
        (0..n).map(|i| fill.wrapping_add(i as u8).wrapping_mul(31)).collect()
    } else {
        Vec::arbitrary(g)
    }
}

fn arb_body(g: &mut Gen, kind: Kind) -> Body<Vec<u8>> {
    match kind {
        Kind::Wr => Body::Wr { block: Block(u32::arbitrary(g)), count: u16::arbitrary(g).max(1), data: arb_data(g) },
        Kind::Dpok => Body::Dpok(Bitmap(u64::arbitrary(g))),
        k => Body::bare(k).expect("a kind without a body"),
    }
}

fn arb_entry(g: &mut Gen, kind: Kind) -> LogEntry<Vec<u8>> {
    LogEntry {
        target: arb_vol(g),
        source: arb_vol(g),
        id: Id(u16::arbitrary(g)),
        epoch: Epoch(u16::arbitrary(g)),
        time: Time(u32::arbitrary(g)),
        seq: Seq(u32::arbitrary(g)),
        body: arb_body(g, kind),
    }
}

impl Arbitrary for Ent {
    fn arbitrary(g: &mut Gen) -> Ent {
        let kind = *g.choose(&Kind::ALL).unwrap();
        Ent(arb_entry(g, kind))
    }

    fn shrink(&self) -> Box<dyn Iterator<Item = Ent>> {
        match &self.0.body {
            Body::Wr { block, count, data } => {
                let (e, block, count) = (self.0.clone(), *block, *count);
                let shorter =
                    if data.len() > 64 { vec![data[..data.len() / 2].to_vec()] } else { data.shrink().collect() };
                Box::new(
                    shorter
                        .into_iter()
                        .map(move |data| Ent(LogEntry { body: Body::Wr { block, count, data }, ..e.clone() })),
                )
            }
            _ => Box::new(std::iter::empty()),
        }
    }
}

fn encode(e: &LogEntry<Vec<u8>>) -> Vec<u8> {
    let mut out = Vec::new();
    encode_entry(e, &mut out).expect("an encodable entry");
    out
}

/// The body length an entry's kind byte and data length declare, if the bytes reach that far.
fn declared_body(bytes: &[u8]) -> Option<usize> {
    match Kind::from_u8(*bytes.get(37)?)? {
        Kind::Wr => Some(wire::WR_FIXED + be32(bytes, 44)? as usize),
        Kind::Dpok => Some(wire::DPOK_BODY),
        _ => Some(0),
    }
}

/// Whatever `decode_entry` makes of `bytes`, it is consistent: an accepted entry is the unique
/// encoding of its value, and an error describes the bytes truthfully.
fn check_decode_entry(bytes: &[u8]) -> Result<Option<LogEntry<Vec<u8>>>, String> {
    let result = decode_entry(bytes);
    match &result {
        Ok(e) => {
            let mut again = Vec::new();
            encode_entry(e, &mut again).map_err(|err| format!("accepted {e:?}, which does not encode: {err}"))?;
            if again != bytes {
                return Err(format!("accepted {bytes:02x?} as {e:?}, which encodes differently"));
            }
        }
        Err(WireError::Truncated { needed, available }) => {
            if *available != bytes.len() || needed <= available {
                return Err(format!(
                    "Truncated {{ needed: {needed}, available: {available} }} for {} bytes",
                    bytes.len()
                ));
            }
        }
        Err(WireError::BadMagic { found }) => {
            if bytes.get(..4) != Some(&found[..]) || *found == wire::ENTRY_MAGIC {
                return Err(format!("BadMagic {found:?} for {bytes:02x?}"));
            }
        }
        Err(WireError::UnsupportedVersion { found }) => {
            if bytes.get(4) != Some(found) || *found == wire::VERSION {
                return Err(format!("UnsupportedVersion {found} for {bytes:02x?}"));
            }
        }
        Err(WireError::UnknownKind { found }) => {
            if bytes.get(37) != Some(found) || Kind::from_u8(*found).is_some() {
                return Err(format!("UnknownKind {found} for {bytes:02x?}"));
            }
        }
        Err(WireError::DataTooLarge { len, max }) => {
            let declared = be32(bytes, 44).map(u64::from);
            if *len <= *max as u64 || bytes.get(37) != Some(&(Kind::Wr as u8)) || declared != Some(*len) {
                return Err(format!("DataTooLarge {len} > {max}, declared {declared:?}"));
            }
        }
        Err(WireError::ZeroCount) => {
            let n = declared_body(bytes).map(|b| wire::ENTRY_HEADER_LEN + b);
            let crc_ok = n.is_some_and(|n| be32(bytes, n) == Some(crc32c::crc32c(&bytes[..n])));
            if bytes.get(37) != Some(&(Kind::Wr as u8)) || be16(bytes, 42) != Some(0) || !crc_ok {
                return Err(format!("ZeroCount for {bytes:02x?}"));
            }
        }
        Err(WireError::BadChecksum { expected, computed }) => {
            let n = declared_body(bytes).map(|b| wire::ENTRY_HEADER_LEN + b);
            let truthful = n.is_some_and(|n| {
                be32(bytes, n) == Some(*expected) && crc32c::crc32c(&bytes[..n]) == *computed && expected != computed
            });
            if !truthful {
                return Err(format!("BadChecksum {expected:#x} {computed:#x} for {bytes:02x?}"));
            }
        }
        Err(WireError::TrailingBytes { extra }) => {
            let prefix = decode_entry_prefix(bytes);
            if *extra == 0 || !prefix.as_ref().is_ok_and(|(_, n)| n + extra == bytes.len()) {
                return Err(format!("TrailingBytes {extra}, but decode_entry_prefix gives {prefix:?}"));
            }
        }
        Err(other) => return Err(format!("a frame's error decoding an entry: {other:?}")),
    }
    Ok(result.ok().map(|e| wire::to_owned_entry(&e)))
}

fn prop_entry_round_trip(e: Ent) -> TestResult {
    let bytes = encode(&e.0);
    ensure!(Ok(bytes.len()) == wire::entry_len(&e.0), "entry_len disagrees: {} bytes", bytes.len());
    ensure!(bytes[..4] == wire::ENTRY_MAGIC && bytes[4] == wire::VERSION, "bad header {:?}", &bytes[..5]);
    ensure!(bytes[37] == e.0.kind() as u8, "kind byte {}", bytes[37]);
    let (body, crc) = bytes.split_at(bytes.len() - wire::CHECKSUM_LEN);
    ensure!(crc == crc32c::crc32c(body).to_be_bytes(), "the trailer is not the CRC-32C of the rest");
    let back = decode_entry(&bytes);
    ensure!(back == Ok(wire::borrow_entry(&e.0)), "decode gave {back:?}");
    ensure!(back.map(|b| wire::to_owned_entry(&b)) == Ok(e.0.clone()), "to_owned_entry differs");
    ensure!(decode_entry_prefix(&bytes).map(|(_, n)| n) == Ok(bytes.len()), "decode_entry_prefix length");
    // The WR data is borrowed from the input, at DATA_OFFSET.
    if let Ok(LogEntry { body: Body::Wr { data, .. }, .. }) = decode_entry(&bytes) {
        ensure!(
            std::ptr::eq(data.as_ptr(), bytes[wire::DATA_OFFSET..].as_ptr()),
            "the data is not borrowed from the input"
        );
    }
    // encode_entry appends.
    let mut out = b"prefix".to_vec();
    encode_entry(&e.0, &mut out).unwrap();
    ensure!(out[..6] == *b"prefix" && out[6..] == bytes[..], "encode_entry does not append");
    TestResult::passed()
}

#[test]
fn entry_round_trip() {
    QuickCheck::new().tests(500).quickcheck(prop_entry_round_trip as fn(Ent) -> TestResult);
}

fn sample(kind: Kind, data: &[u8]) -> LogEntry<Vec<u8>> {
    let body = match kind {
        Kind::Wr => Body::Wr { block: Block(u32::MAX), count: u16::MAX, data: data.to_vec() },
        Kind::Dpok => Body::Dpok(Bitmap(0x8000_0000_0000_0001)),
        k => Body::bare(k).unwrap(),
    };
    LogEntry {
        target: VolRef { wwn: Wwn(u64::MAX), lun: Lun(7) },
        source: VolRef { wwn: Wwn(0x5000_0000_0000_0001), lun: Lun(0) },
        id: Id(3),
        epoch: Epoch(u16::MAX),
        time: Time(604),
        seq: Seq(u32::MAX),
        body,
    }
}

/// Every kind, with data of several lengths (none, one byte, a frame's worth, the most).
fn samples() -> Vec<LogEntry<Vec<u8>>> {
    let mut out: Vec<_> = Kind::ALL.iter().map(|k| sample(*k, b"write data")).collect();
    out.push(sample(Kind::Wr, b""));
    out.push(sample(Kind::Wr, &[0xA5]));
    out.push(sample(Kind::Wr, &[1; 1500]));
    out
}

#[test]
fn every_kind_round_trips_with_one_encoding() {
    for e in samples().into_iter().chain([sample(Kind::Wr, &vec![0xEE; wire::MAX_DATA])]) {
        let bytes = encode(&e);
        let back = decode_entry(&bytes).unwrap();
        assert_eq!(back, wire::borrow_entry(&e), "{:?}", e.kind());
        assert_eq!(back.kind(), e.kind());
        let mut again = Vec::new();
        encode_entry(&back, &mut again).unwrap();
        assert_eq!(again, bytes, "decode then encode is the identity on {:?}", e.kind());
    }
    assert_eq!(wire::entry_len(&sample(Kind::Wr, &vec![0; wire::MAX_DATA])), Ok(wire::MAX_ENTRY_LEN));
}

#[test]
fn unencodable_entries_are_refused_and_nothing_is_appended() {
    let mut out = vec![1, 2, 3];
    let big = sample(Kind::Wr, &vec![0; wire::MAX_DATA + 1]);
    assert_eq!(
        encode_entry(&big, &mut out),
        Err(WireError::DataTooLarge { len: wire::MAX_DATA as u64 + 1, max: wire::MAX_DATA })
    );
    let zero = LogEntry { body: Body::Wr { block: Block(0), count: 0, data: vec![1] }, ..sample(Kind::Wr, b"") };
    assert_eq!(encode_entry(&zero, &mut out), Err(WireError::ZeroCount));
    assert_eq!(out, [1, 2, 3]);
}

#[test]
fn zero_count_and_oversized_data_are_refused_on_decode() {
    // A WR of count 0 with a checksum that matches.
    let mut b = encode(&sample(Kind::Wr, b"abc"));
    b[42..44].copy_from_slice(&[0, 0]);
    let n = b.len() - 4;
    let crc = crc32c::crc32c(&b[..n]);
    b[n..].copy_from_slice(&crc.to_be_bytes());
    assert_eq!(decode_entry(&b), Err(WireError::ZeroCount));
    // A declared length over MAX_DATA is refused before anything else is looked at.
    let mut b = encode(&sample(Kind::Wr, b""));
    b[44..48].copy_from_slice(&u32::MAX.to_be_bytes());
    assert_eq!(decode_entry(&b), Err(WireError::DataTooLarge { len: u64::from(u32::MAX), max: wire::MAX_DATA }));
    b[44..48].copy_from_slice(&(wire::MAX_DATA as u32).to_be_bytes());
    assert!(matches!(decode_entry(&b), Err(WireError::Truncated { .. })));
}

#[test]
fn foreign_and_unknown_entries() {
    let good = encode(&sample(Kind::Icok, b""));
    assert_eq!(decode_entry(&[]), Err(WireError::Truncated { needed: 4, available: 0 }));
    // An ordering (seed 002) frame is foreign here.
    assert_eq!(decode_entry(b"RCPY\x02\x01"), Err(WireError::BadMagic { found: *b"RCPY" }));
    let mut v = good.clone();
    v[4] = 2;
    assert_eq!(decode_entry(&v), Err(WireError::UnsupportedVersion { found: 2 }));
    for k in [0u8, 11, 255] {
        let mut v = good.clone();
        v[37] = k;
        assert_eq!(decode_entry(&v), Err(WireError::UnknownKind { found: k }));
    }
    let mut long = good.clone();
    long.extend_from_slice(&[0; 3]);
    assert_eq!(decode_entry(&long), Err(WireError::TrailingBytes { extra: 3 }));
    // An entry is not a frame, nor a frame an entry.
    assert!(matches!(decode_frame(&good), Err(WireError::BadMagic { .. })));
}

/// Every single-byte change of a valid encoding is rejected (a CRC-32C detects every burst of up
/// to 32 bits), every truncation is `Truncated`, and every error is truthful.
#[test]
fn every_single_byte_mutation_and_truncation_of_an_entry_is_rejected() {
    for e in samples() {
        let bytes = encode(&e);
        for i in 0..bytes.len() {
            for v in 0..=255u8 {
                if v == bytes[i] {
                    continue;
                }
                let mut bad = bytes.clone();
                bad[i] = v;
                assert_eq!(check_decode_entry(&bad).map(|d| d.is_none()), Ok(true), "byte {i} := {v} of {e:?}");
            }
        }
        for n in 0..bytes.len() {
            let r = decode_entry(&bytes[..n]);
            assert!(matches!(r, Err(WireError::Truncated { .. })), "{n} bytes of {:?}: {r:?}", e.kind());
            check_decode_entry(&bytes[..n]).unwrap();
        }
    }
}

fn prop_decode_entry_arbitrary_bytes(bytes: Vec<u8>) -> TestResult {
    match check_decode_entry(&bytes) {
        Ok(_) => TestResult::passed(),
        Err(e) => TestResult::error(e),
    }
}

#[test]
fn decode_entry_of_arbitrary_bytes_never_panics() {
    quickcheck(prop_decode_entry_arbitrary_bytes as fn(Vec<u8>) -> TestResult);
}

/// Bytes behind a valid magic and version, so that decoding gets past them: fixed fields, a
/// kind byte (possibly unknown), a body that is the right length or not, and a checksum that
/// is right or random.
#[derive(Clone, Debug)]
struct RawEntry {
    fixed: [u8; 32],
    kind: u8,
    body: Vec<u8>,
    fix_crc: bool,
    crc: u32,
}

impl Arbitrary for RawEntry {
    fn arbitrary(g: &mut Gen) -> RawEntry {
        let kind = below(g, 13) as u8;
        let mut fixed = [0u8; 32];
        fixed.iter_mut().for_each(|b| *b = u8::arbitrary(g));
        let mut body: Vec<u8> = match (kind, below(g, 3)) {
            (1, 0 | 1) => {
                // A WR body whose length prefix agrees with the data, count 0 now and then.
                let data = Vec::<u8>::arbitrary(g);
                let count = if below(g, 4) == 0 { 0 } else { u16::arbitrary(g) };
                let mut b = u32::arbitrary(g).to_be_bytes().to_vec();
                b.extend_from_slice(&count.to_be_bytes());
                b.extend_from_slice(&(data.len() as u32).to_be_bytes());
                b.extend_from_slice(&data);
                b
            }
            (8, 0 | 1) => u64::arbitrary(g).to_be_bytes().to_vec(),
            (_, 0 | 1) => Vec::new(),
            _ => Vec::arbitrary(g),
        };
        if below(g, 8) == 0 {
            body.push(u8::arbitrary(g));
        }
        RawEntry { fixed, kind, body, fix_crc: bool::arbitrary(g), crc: u32::arbitrary(g) }
    }
}

impl RawEntry {
    fn covered(&self) -> Vec<u8> {
        let mut out = wire::ENTRY_MAGIC.to_vec();
        out.push(wire::VERSION);
        out.extend_from_slice(&self.fixed);
        out.push(self.kind);
        out.extend_from_slice(&self.body);
        out
    }

    fn bytes(&self) -> Vec<u8> {
        let mut out = self.covered();
        let crc = if self.fix_crc { crc32c::crc32c(&out) } else { self.crc };
        out.extend_from_slice(&crc.to_be_bytes());
        out
    }

    /// Whether decode must accept it: a known kind, a body of exactly the declared length, a
    /// count of at least one, a right checksum.
    fn well_formed(&self) -> bool {
        let right_crc = self.fix_crc || crc32c::crc32c(&self.covered()) == self.crc;
        let right_body = match Kind::from_u8(self.kind) {
            Some(Kind::Wr) => {
                be32(&self.body, 6).is_some_and(|n| n as usize + 10 == self.body.len())
                    && be16(&self.body, 4) != Some(0)
            }
            Some(Kind::Dpok) => self.body.len() == 8,
            Some(_) => self.body.is_empty(),
            None => false,
        };
        right_crc && right_body
    }
}

fn prop_decode_raw_entry(r: RawEntry) -> TestResult {
    let bytes = r.bytes();
    match check_decode_entry(&bytes) {
        Err(e) => TestResult::error(e),
        Ok(decoded) => {
            ensure!(
                decoded.is_some() == r.well_formed(),
                "well-formed {} but decode gave {:?}",
                r.well_formed(),
                decode_entry(&bytes)
            );
            TestResult::passed()
        }
    }
}

#[test]
fn decode_entry_of_bytes_behind_a_valid_header() {
    QuickCheck::new().tests(1000).quickcheck(prop_decode_raw_entry as fn(RawEntry) -> TestResult);
}

#[derive(Clone, Debug)]
enum Mutation {
    FlipBit(usize),
    SetByte(usize, u8),
    Truncate(usize),
    Insert(usize, u8),
    Remove(usize),
    Append(Vec<u8>),
}

impl Arbitrary for Mutation {
    fn arbitrary(g: &mut Gen) -> Mutation {
        let at = usize::arbitrary(g);
        match below(g, 6) {
            0 => Mutation::FlipBit(at),
            1 => Mutation::SetByte(at, u8::arbitrary(g)),
            2 => Mutation::Truncate(at),
            3 => Mutation::Insert(at, u8::arbitrary(g)),
            4 => Mutation::Remove(at),
            _ => Mutation::Append(Vec::arbitrary(g)),
        }
    }
}

impl Mutation {
    fn apply(&self, b: &mut Vec<u8>) {
        let n = b.len();
        match self {
            Mutation::FlipBit(i) if n > 0 => b[(i / 8) % n] ^= 1 << (i % 8),
            Mutation::SetByte(i, v) if n > 0 => b[i % n] = *v,
            Mutation::Truncate(i) => b.truncate(i % (n + 1)),
            Mutation::Insert(i, v) => b.insert(i % (n + 1), *v),
            Mutation::Remove(i) if n > 0 => {
                b.remove(i % n);
            }
            Mutation::Append(tail) => b.extend_from_slice(tail),
            _ => {}
        }
    }
}

fn prop_mutated_entries(e: Ent, mutations: Vec<Mutation>) -> TestResult {
    let good = encode(&e.0);
    let mut bytes = good.clone();
    for m in mutations.iter().take(4) {
        m.apply(&mut bytes);
    }
    match check_decode_entry(&bytes) {
        Err(err) => TestResult::error(err),
        Ok(Some(back)) if bytes == good => {
            ensure!(back == e.0, "the unmutated entry decoded to {back:?}");
            TestResult::passed()
        }
        Ok(None) if bytes == good => TestResult::error("the unmutated entry was rejected"),
        Ok(_) => TestResult::passed(),
    }
}

#[test]
fn mutated_entries_are_rejected_or_canonical() {
    QuickCheck::new().tests(1000).quickcheck(prop_mutated_entries as fn(Ent, Vec<Mutation>) -> TestResult);
}

// =============================================================================================
// Frames
// =============================================================================================

const SRC: Addr = Addr(0x0A00_0001);
const DST: Addr = Addr(0x0A00_0102);

/// The chunk of fragment `i` of `k` of an entry of `len` bytes: a reference computation of the
/// format's rule (chunks of `ceil(len / k)`, the last shorter and not empty).
fn reference_chunk(i: usize, k: usize, len: usize) -> Option<std::ops::Range<usize>> {
    if !(2..=wire::MAX_FRAGMENTS).contains(&k) || i >= k || !(wire::MIN_ENTRY_LEN..=wire::MAX_ENTRY_LEN).contains(&len)
    {
        return None;
    }
    let c = len.div_ceil(k);
    let last = len.checked_sub((k - 1) * c).filter(|l| *l > 0)?;
    Some(i * c..i * c + if i + 1 == k { last } else { c })
}

/// Where a frame's checksum sits, by its declared lengths.
fn frame_crc_at(bytes: &[u8]) -> Option<usize> {
    match *bytes.get(5)? {
        1 => Some(wire::ENTRIES_HEADER_LEN + be32(bytes, 20)? as usize),
        2 => {
            let (i, k, len) = (be16(bytes, 18)?, be16(bytes, 20)?, be32(bytes, 22)?);
            let r = reference_chunk(usize::from(i), usize::from(k), len as usize)?;
            Some(wire::FRAGMENT_HEADER_LEN + r.len())
        }
        _ => None,
    }
}

/// Whatever `decode_frame` makes of `bytes`, it is consistent: an accepted frame re-encodes to
/// the same bytes, and an error describes the bytes truthfully.
fn check_decode_frame(bytes: &[u8]) -> Result<Option<Frame<'_>>, String> {
    let result = decode_frame(bytes);
    let kind = bytes.get(5).copied();
    match &result {
        Ok(f) => {
            let mut again = Vec::new();
            encode_frame(f, &mut again).map_err(|e| format!("accepted {f:?}, which does not encode: {e}"))?;
            if again != bytes {
                return Err(format!("accepted {bytes:02x?} as {f:?}, which encodes differently"));
            }
            if let Payload::Entries(es) = &f.payload {
                if es.iter().count() != es.len() || es.is_empty() {
                    return Err(format!("{} entries iterate as {}", es.len(), es.iter().count()));
                }
            }
        }
        Err(WireError::Truncated { needed, available }) => {
            if *available != bytes.len() || needed <= available {
                return Err(format!(
                    "Truncated {{ needed: {needed}, available: {available} }} for {} bytes",
                    bytes.len()
                ));
            }
        }
        Err(WireError::BadMagic { found }) => {
            if bytes.get(..4) != Some(&found[..]) || *found == wire::FRAME_MAGIC {
                return Err(format!("BadMagic {found:?} for {bytes:02x?}"));
            }
        }
        Err(WireError::UnsupportedVersion { found }) => {
            if bytes.get(4) != Some(found) || *found == wire::VERSION {
                return Err(format!("UnsupportedVersion {found}"));
            }
        }
        Err(WireError::UnknownFrameKind { found }) => {
            if kind != Some(*found) || matches!(found, 1 | 2) {
                return Err(format!("UnknownFrameKind {found}"));
            }
        }
        Err(WireError::FrameTooLarge { len, max }) => {
            if *len <= *max as u64 || frame_crc_at(bytes).map(|n| n as u64 + 4) != Some(*len) {
                return Err(format!("FrameTooLarge {len} > {max}"));
            }
        }
        Err(WireError::EntryTooLarge { len, max }) => {
            if *len <= *max as u64 || kind != Some(2) || be32(bytes, 22).map(u64::from) != Some(*len) {
                return Err(format!("EntryTooLarge {len} > {max}"));
            }
        }
        Err(WireError::BadFragment { index, count, entry_len }) => {
            let declared = (be16(bytes, 18), be16(bytes, 20), be32(bytes, 22));
            let valid = reference_chunk(usize::from(*index), usize::from(*count), *entry_len as usize).is_some();
            if kind != Some(2) || declared != (Some(*index), Some(*count), Some(*entry_len)) || valid {
                return Err(format!("BadFragment {index} {count} {entry_len}, declared {declared:?}"));
            }
        }
        Err(WireError::BadChecksum { expected, computed }) => {
            let truthful = frame_crc_at(bytes).is_some_and(|n| {
                be32(bytes, n) == Some(*expected) && crc32c::crc32c(&bytes[..n]) == *computed && expected != computed
            });
            if !truthful {
                return Err(format!("BadChecksum {expected:#x} {computed:#x} for {bytes:02x?}"));
            }
        }
        Err(WireError::TrailingBytes { extra }) => {
            let n = frame_crc_at(bytes).map(|n| n + 4);
            if *extra == 0 || n.map(|n| n + extra) != Some(bytes.len()) {
                return Err(format!("TrailingBytes {extra} of {} bytes, the frame is {n:?}", bytes.len()));
            }
        }
        Err(WireError::EmptyFrame) => {
            if kind != Some(1) || be16(bytes, 18) != Some(0) {
                return Err("EmptyFrame of a frame with entries".into());
            }
        }
        Err(err @ (WireError::AreaMismatch { .. } | WireError::BadEntry { .. })) => {
            // The frame is sound around an area that is not exactly its entries.
            let n = frame_crc_at(bytes).unwrap_or(0);
            let sound = kind == Some(1)
                && n + 4 == bytes.len()
                && be32(bytes, n) == Some(crc32c::crc32c(&bytes[..n]))
                && be16(bytes, 18).is_some_and(|c| c > 0);
            let area = &bytes[wire::ENTRIES_HEADER_LEN.min(n)..n];
            let consistent = match err {
                WireError::AreaMismatch { entries, area_len } => {
                    be16(bytes, 18) == Some(*entries) && *area_len as usize == area.len()
                }
                WireError::BadEntry { error, .. } => !matches!(
                    **error,
                    WireError::UnknownFrameKind { .. }
                        | WireError::FrameTooLarge { .. }
                        | WireError::EntryTooLarge { .. }
                        | WireError::BadFragment { .. }
                        | WireError::EmptyFrame
                        | WireError::AreaMismatch { .. }
                        | WireError::BadEntry { .. }
                        | WireError::MaxFrameLen { .. }
                ),
                _ => false,
            };
            if !sound || !consistent {
                return Err(format!("{err:?} for {bytes:02x?}"));
            }
        }
        Err(other) => return Err(format!("an entry's or encoder's error decoding a frame: {other:?}")),
    }
    Ok(result.ok())
}

/// Entries and a frame length for framing properties.
#[derive(Clone, Debug)]
struct Batch {
    entries: Vec<Ent>,
    max_frame_len: usize,
    msg_id_start: u32,
}

impl Arbitrary for Batch {
    fn arbitrary(g: &mut Gen) -> Batch {
        let n = below(g, 24);
        let max_frame_len = match below(g, 4) {
            0 => wire::MIN_FRAME_LEN,
            1 => wire::MIN_FRAME_LEN + below(g, 1500),
            2 => 1472,
            _ => wire::MIN_FRAME_LEN + below(g, 8000),
        };
        // Message ids near the wrap now and then.
        let msg_id_start = if bool::arbitrary(g) { u32::MAX - below(g, 8) as u32 } else { u32::arbitrary(g) };
        Batch { entries: (0..n).map(|_| Ent::arbitrary(g)).collect(), max_frame_len, msg_id_start }
    }

    fn shrink(&self) -> Box<dyn Iterator<Item = Batch>> {
        let (max_frame_len, msg_id_start) = (self.max_frame_len, self.msg_id_start);
        let mut out = Vec::new();
        if self.entries.len() >= 2 {
            out.push(self.entries[..self.entries.len() / 2].to_vec());
            out.push(self.entries[self.entries.len() / 2..].to_vec());
        }
        for i in 0..self.entries.len() {
            let mut v = self.entries.clone();
            v.remove(i);
            out.push(v);
        }
        Box::new(out.into_iter().map(move |entries| Batch { entries, max_frame_len, msg_id_start }))
    }
}

impl Batch {
    fn raw(&self) -> Vec<LogEntry<Vec<u8>>> {
        self.entries.iter().map(|e| e.0.clone()).collect()
    }

    fn frames(&self) -> Vec<Vec<u8>> {
        encode_frames(SRC, DST, &self.raw(), self.max_frame_len, self.msg_id_start).expect("encodable entries")
    }

    /// Whether an entry is divided: it does not fit in a frame alone.
    fn divided(&self, e: &LogEntry<Vec<u8>>) -> bool {
        wire::entry_len(e).unwrap() + wire::ENTRIES_HEADER_LEN + wire::CHECKSUM_LEN > self.max_frame_len
    }
}

/// The frames, in order, give back the entries, in order: whole entries from entries frames,
/// divided ones by concatenating the chunks of consecutive fragments of one message id.
/// Frames are within the length, message ids consecutive, the packing greedy and the division
/// into as few fragments as fit.
fn prop_frames_carry_the_entries_in_order(b: Batch) -> TestResult {
    let entries = b.raw();
    let frames = b.frames();
    let mut enc = FrameEncoder::new(SRC, DST, b.max_frame_len, b.msg_id_start).unwrap();
    let mut again = Vec::new();
    enc.encode(&entries, &mut again).unwrap();
    ensure!(again == frames, "FrameEncoder and encode_frames disagree");

    let mut got: Vec<LogEntry<Vec<u8>>> = Vec::new();
    let mut expect_id = b.msg_id_start;
    // The divided entry being collected: its message id, next index, count and bytes.
    let mut dividing: Option<(u32, u16, u16, Vec<u8>)> = None;
    // The length of the previous entries frame, when the one before this frame was one.
    let mut prev_entries_frame: Option<usize> = None;
    for (n, bytes) in frames.iter().enumerate() {
        ensure!(bytes.len() <= b.max_frame_len, "frame {n} of {} bytes > {}", bytes.len(), b.max_frame_len);
        let f = match check_decode_frame(bytes) {
            Ok(Some(f)) => f,
            other => return TestResult::error(format!("frame {n} does not decode: {other:?}")),
        };
        ensure!(f.src == SRC && f.dst == DST, "addresses {:?} {:?}", f.src, f.dst);
        match f.payload {
            Payload::Entries(es) => {
                ensure!(dividing.is_none(), "an entries frame inside a divided entry");
                ensure!(f.msg_id == expect_id, "msg id {} where {expect_id} was next", f.msg_id);
                expect_id = expect_id.wrapping_add(1);
                let first = es.iter().next().map(|e| wire::entry_len(&e).unwrap());
                if let (Some(prev), Some(first)) = (prev_entries_frame, first) {
                    ensure!(
                        prev + first > b.max_frame_len,
                        "frame {n}'s first entry would have fitted in the previous"
                    );
                }
                prev_entries_frame = Some(bytes.len());
                for e in &es {
                    ensure!(!b.divided(&wire::to_owned_entry(&e)), "a whole entry that does not fit");
                    got.push(wire::to_owned_entry(&e));
                }
            }
            Payload::Fragment(fr) => {
                prev_entries_frame = None;
                let (id, next, count, mut buf) = match dividing.take() {
                    None => {
                        ensure!(f.msg_id == expect_id, "msg id {} where {expect_id} was next", f.msg_id);
                        expect_id = expect_id.wrapping_add(1);
                        let most = b.max_frame_len - wire::FRAGMENT_HEADER_LEN - wire::CHECKSUM_LEN;
                        let fewest = (fr.entry_len as usize).div_ceil(most);
                        ensure!(usize::from(fr.count) == fewest, "{} fragments where {fewest} fit", fr.count);
                        (f.msg_id, 0, fr.count, Vec::new())
                    }
                    Some(d) => d,
                };
                ensure!(f.msg_id == id && fr.index == next && fr.count == count, "fragment out of order: {fr:?}");
                let r = reference_chunk(usize::from(fr.index), usize::from(fr.count), fr.entry_len as usize);
                ensure!(r.map(|r| r.len()) == Some(fr.chunk.len()), "chunk of {} bytes", fr.chunk.len());
                buf.extend_from_slice(fr.chunk);
                if next + 1 == count {
                    let e = decode_entry(&buf);
                    ensure!(e.is_ok(), "the chunks of message {id} are no entry: {e:?}");
                    let e = wire::to_owned_entry(&e.unwrap());
                    ensure!(b.divided(&e), "a divided entry that fits whole");
                    got.push(e);
                } else {
                    dividing = Some((id, next + 1, count, buf));
                }
            }
        }
    }
    ensure!(dividing.is_none(), "the frames end inside a divided entry");
    ensure!(enc.next_msg_id() == expect_id, "next_msg_id {} where {expect_id}", enc.next_msg_id());
    ensure!(got == entries, "{} entries in, {} out (or different)", entries.len(), got.len());
    TestResult::passed()
}

#[test]
fn frames_carry_the_entries_in_order() {
    QuickCheck::new().tests(500).quickcheck(prop_frames_carry_the_entries_in_order as fn(Batch) -> TestResult);
}

#[test]
fn packing_several_entries_and_dividing_a_large_one() {
    let small: Vec<_> = (0..10).map(|i| sample(Kind::ALL[i % 10], b"0123456789")).collect();
    let frames = encode_frames(SRC, DST, &small, 1472, 7).unwrap();
    assert_eq!(frames.len(), 1, "ten small entries share a frame");
    let Payload::Entries(es) = decode_frame(&frames[0]).unwrap().payload else { panic!("not an entries frame") };
    assert_eq!(es.len(), 10);
    assert_eq!(es.iter().collect::<Vec<_>>(), small.iter().map(wire::borrow_entry).collect::<Vec<_>>());

    let big = sample(Kind::Wr, &[0x5A; 4000]);
    let frames = encode_frames(SRC, DST, &[small[0].clone(), big.clone(), small[1].clone()], 1472, u32::MAX).unwrap();
    let decoded: Vec<_> = frames.iter().map(|f| decode_frame(f).unwrap()).collect();
    let ids: Vec<u32> = decoded.iter().map(|f| f.msg_id).collect();
    // 4058 bytes in chunks of at most 1442: 3 fragments; ids wrap.
    assert_eq!(ids, [u32::MAX, 0, 0, 0, 1]);
    let chunks: Vec<u8> = decoded[1..4]
        .iter()
        .flat_map(|f| match f.payload {
            Payload::Fragment(fr) => fr.chunk.to_vec(),
            Payload::Entries(_) => panic!("an entries frame among the fragments"),
        })
        .collect();
    assert_eq!(chunks, encode(&big));

    assert_eq!(
        encode_frames(SRC, DST, &small, wire::MIN_FRAME_LEN - 1, 0),
        Err(WireError::MaxFrameLen {
            len: wire::MIN_FRAME_LEN - 1,
            min: wire::MIN_FRAME_LEN,
            max: wire::MAX_FRAME_LEN
        })
    );
    assert!(encode_frames(SRC, DST, &small, wire::MAX_FRAME_LEN + 1, 0).is_err());
    assert_eq!(encode_frames::<Vec<u8>>(SRC, DST, &[], 1472, 0), Ok(vec![]));
}

#[test]
fn an_unencodable_entry_makes_no_frame_and_takes_no_id() {
    let mut enc = FrameEncoder::new(SRC, DST, 1472, 40).unwrap();
    let mut frames = Vec::new();
    let bad = LogEntry { body: Body::Wr { block: Block(0), count: 0, data: vec![] }, ..sample(Kind::Wr, b"") };
    assert_eq!(enc.encode(&[sample(Kind::Dok, b""), bad], &mut frames), Err(WireError::ZeroCount));
    assert!(frames.is_empty());
    assert_eq!(enc.next_msg_id(), 40);
}

fn prop_decode_frame_arbitrary_bytes(bytes: Vec<u8>, header: bool) -> TestResult {
    // Half the time behind a valid magic and version, to get further.
    let bytes = if header { [&wire::FRAME_MAGIC[..], &[wire::VERSION], &bytes].concat() } else { bytes };
    match check_decode_frame(&bytes) {
        Ok(_) => TestResult::passed(),
        Err(e) => TestResult::error(e),
    }
}

#[test]
fn decode_frame_of_arbitrary_bytes_never_panics() {
    QuickCheck::new().tests(1000).quickcheck(prop_decode_frame_arbitrary_bytes as fn(Vec<u8>, bool) -> TestResult);
}

/// A frame, sound around its payload (right checksum), whose fields are arbitrary: fragment
/// shapes that are or are not of the format, areas that do or do not hold their entries.
#[derive(Clone, Debug)]
struct RawFrame {
    kind: u8,
    fields: Vec<u8>,
    tail: Vec<u8>,
}

impl Arbitrary for RawFrame {
    fn arbitrary(g: &mut Gen) -> RawFrame {
        let kind = below(g, 4) as u8;
        let (fields, tail) = match (kind, below(g, 3)) {
            (1, 0) => {
                // Entries, some of them damaged, and a count that may not match.
                let es: Vec<Vec<u8>> = (0..below(g, 4)).map(|_| encode(&Ent::arbitrary(g).0)).collect();
                let mut area = es.concat();
                if bool::arbitrary(g) && !area.is_empty() {
                    Mutation::arbitrary(g).apply(&mut area);
                }
                let count = if bool::arbitrary(g) { es.len() as u16 } else { below(g, 5) as u16 };
                let mut f = count.to_be_bytes().to_vec();
                f.extend_from_slice(&(area.len() as u32).to_be_bytes());
                (f, area)
            }
            (2, 0) => {
                // A fragment shape near the valid ones.
                let len = wire::MIN_ENTRY_LEN as u32 + below(g, 300) as u32;
                let count = 1 + below(g, 20) as u16;
                let index = below(g, usize::from(count) + 1) as u16;
                let chunk = reference_chunk(usize::from(index), usize::from(count), len as usize)
                    .map_or_else(|| below(g, 50), |r| r.len());
                let mut f = index.to_be_bytes().to_vec();
                f.extend_from_slice(&count.to_be_bytes());
                f.extend_from_slice(&len.to_be_bytes());
                (f, (0..chunk).map(|_| u8::arbitrary(g)).collect())
            }
            _ => (Vec::arbitrary(g), Vec::arbitrary(g)),
        };
        RawFrame { kind, fields, tail }
    }
}

impl RawFrame {
    fn bytes(&self) -> Vec<u8> {
        let mut out = wire::FRAME_MAGIC.to_vec();
        out.push(wire::VERSION);
        out.push(self.kind);
        out.extend_from_slice(&SRC.0.to_be_bytes());
        out.extend_from_slice(&DST.0.to_be_bytes());
        out.extend_from_slice(&9u32.to_be_bytes());
        out.extend_from_slice(&self.fields);
        out.extend_from_slice(&self.tail);
        let crc = crc32c::crc32c(&out);
        out.extend_from_slice(&crc.to_be_bytes());
        out
    }
}

fn prop_decode_raw_frame(r: RawFrame) -> TestResult {
    match check_decode_frame(&r.bytes()) {
        Ok(_) => TestResult::passed(),
        Err(e) => TestResult::error(e),
    }
}

#[test]
fn decode_frame_of_sound_frames_with_arbitrary_fields() {
    QuickCheck::new().tests(2000).quickcheck(prop_decode_raw_frame as fn(RawFrame) -> TestResult);
}

fn prop_mutated_frames(b: Batch, pick: usize, mutations: Vec<Mutation>) -> TestResult {
    let frames = b.frames();
    if frames.is_empty() {
        return TestResult::discard();
    }
    let good = &frames[pick % frames.len()];
    let mut bytes = good.clone();
    for m in mutations.iter().take(4) {
        m.apply(&mut bytes);
    }
    match check_decode_frame(&bytes) {
        Err(e) => TestResult::error(e),
        Ok(None) if bytes == *good => TestResult::error("the unmutated frame was rejected"),
        Ok(_) => TestResult::passed(),
    }
}

#[test]
fn mutated_frames_are_rejected_or_canonical() {
    QuickCheck::new().tests(500).quickcheck(prop_mutated_frames as fn(Batch, usize, Vec<Mutation>) -> TestResult);
}

#[test]
fn every_single_byte_mutation_and_truncation_of_a_frame_is_rejected() {
    let entries = [sample(Kind::Wr, b"abc"), sample(Kind::Dpok, b""), sample(Kind::Sok, b"")];
    let mut frames = encode_frames(SRC, DST, &entries, 1472, 5).unwrap();
    frames.extend(encode_frames(SRC, DST, &[sample(Kind::Wr, &[3; 700])], wire::MIN_FRAME_LEN, 6).unwrap());
    assert_eq!(frames.len(), 3, "one entries frame, two fragments");
    for bytes in &frames {
        for i in 0..bytes.len() {
            for v in 0..=255u8 {
                if v == bytes[i] {
                    continue;
                }
                let mut bad = bytes.clone();
                bad[i] = v;
                assert_eq!(check_decode_frame(&bad).map(|d| d.is_none()), Ok(true), "byte {i} := {v}");
            }
        }
        for n in 0..bytes.len() {
            assert!(matches!(decode_frame(&bytes[..n]), Err(WireError::Truncated { .. })), "{n} bytes");
            check_decode_frame(&bytes[..n]).unwrap();
        }
        let mut long = bytes.clone();
        long.push(0);
        assert_eq!(decode_frame(&long), Err(WireError::TrailingBytes { extra: 1 }));
    }
}

#[test]
fn frames_whose_lengths_do_not_add_up() {
    let frames = encode_frames(SRC, DST, &[sample(Kind::Dok, b""), sample(Kind::Icok, b"")], 1472, 0).unwrap();
    let refit = |mut f: Vec<u8>, at: usize, field: &[u8]| {
        f[at..at + field.len()].copy_from_slice(field);
        let n = f.len() - 4;
        let crc = crc32c::crc32c(&f[..n]);
        f[n..].copy_from_slice(&crc.to_be_bytes());
        f
    };
    let f = refit(frames[0].clone(), 18, &1u16.to_be_bytes());
    assert_eq!(decode_frame(&f), Err(WireError::AreaMismatch { entries: 1, area_len: 84 }));
    let f = refit(frames[0].clone(), 18, &3u16.to_be_bytes());
    assert_eq!(decode_frame(&f), Err(WireError::AreaMismatch { entries: 3, area_len: 84 }));
    let f = refit(frames[0].clone(), 18, &0u16.to_be_bytes());
    assert_eq!(decode_frame(&f), Err(WireError::EmptyFrame));
    // The second entry's own checksum broken, the frame's right.
    let mut bad = frames[0].clone();
    bad[24 + 42 + 10] ^= 1;
    let f = refit(bad, 0, b"RCGF");
    assert!(
        matches!(decode_frame(&f), Err(WireError::BadEntry { index: 1, error }) if matches!(*error, WireError::BadChecksum { .. }))
    );
    // A declared area longer than any frame.
    let f = refit(frames[0].clone(), 20, &u32::MAX.to_be_bytes());
    assert!(matches!(decode_frame(&f), Err(WireError::FrameTooLarge { .. })));
    let mut k = frames[0].clone();
    k[5] = 3;
    assert_eq!(decode_frame(&k), Err(WireError::UnknownFrameKind { found: 3 }));
}

// =============================================================================================
// Reassembly
// =============================================================================================

/// Divided entries (and whole ones between them), their frames, and the seed of an arrival
/// order with duplicates.
#[derive(Clone, Debug)]
struct Divided {
    batch: Batch,
    seed: u64,
}

impl Arbitrary for Divided {
    fn arbitrary(g: &mut Gen) -> Divided {
        let mut entries = Vec::new();
        for _ in 0..1 + below(g, 8) {
            let mut e = arb_entry(g, Kind::Wr);
            let n = 600 + below(g, 6000);
            let fill = u8::arbitrary(g);
            e.body =
                Body::Wr { block: Block(u32::arbitrary(g)), count: 1, data: (0..n).map(|i| fill ^ i as u8).collect() };
            entries.push(Ent(e));
            if bool::arbitrary(g) {
                entries.push(Ent::arbitrary(g));
            }
        }
        let max_frame_len = wire::MIN_FRAME_LEN + below(g, 1500);
        Divided { batch: Batch { entries, max_frame_len, msg_id_start: u32::arbitrary(g) }, seed: u64::arbitrary(g) }
    }

    fn shrink(&self) -> Box<dyn Iterator<Item = Divided>> {
        let seed = self.seed;
        Box::new(self.batch.shrink().map(move |batch| Divided { batch, seed }))
    }
}

/// A fragment frame's decoded fields, owned.
#[derive(Clone, Debug)]
struct Frag {
    msg_id: u32,
    index: u16,
    bytes: Vec<u8>,
}

/// The fragments of the divided entries, and the divided entries by message id.
fn fragments(b: &Batch) -> (Vec<Frag>, BTreeMap<u32, LogEntry<Vec<u8>>>) {
    let mut frags = Vec::new();
    let mut divided = BTreeMap::new();
    for bytes in b.frames() {
        let f = decode_frame(&bytes).unwrap();
        if let Payload::Fragment(fr) = f.payload {
            frags.push(Frag { msg_id: f.msg_id, index: fr.index, bytes: bytes.clone() });
        }
    }
    let mut ids = frags.iter().map(|f| f.msg_id).collect::<Vec<_>>();
    ids.dedup();
    let big = b.raw().into_iter().filter(|e| b.divided(e));
    for (id, e) in ids.into_iter().zip(big) {
        divided.insert(id, e);
    }
    (frags, divided)
}

/// Feed one fragment frame to the reassembler.
fn push<const S: usize, const D: usize>(
    r: &mut Reassembler<S, D>,
    bytes: &[u8],
) -> Result<Option<Assembled>, ReassemblyError> {
    let f = decode_frame(bytes).expect("a valid frame");
    match f.payload {
        Payload::Fragment(fr) => r.push(f.src, f.msg_id, &fr),
        Payload::Entries(_) => panic!("not a fragment"),
    }
}

/// In any arrival order, with every fragment duplicated up to twice, each divided entry is
/// handed up exactly once, whole, and only once all its fragments have arrived.
fn prop_reassembly_in_any_order(d: Divided, missing: Option<usize>) -> TestResult {
    let (frags, divided) = fragments(&d.batch);
    let mut rng = Rng(d.seed);
    if frags.is_empty() {
        return TestResult::discard();
    }
    let mut arrivals: Vec<&Frag> = Vec::new();
    // Leave out every copy of one fragment, when `missing` says so.
    let left_out = missing.map(|m| m % frags.len());
    for (i, f) in frags.iter().enumerate() {
        if Some(i) != left_out {
            for _ in 0..1 + rng.below(3) {
                arrivals.push(f);
            }
        }
    }
    rng.shuffle(&mut arrivals);
    // A slot for every message (at most 16 entries): no eviction here.
    let mut r: Reassembler<16> = Reassembler::new();
    let mut arrived: BTreeMap<u32, BTreeSet<u16>> = BTreeMap::new();
    let mut handed: BTreeMap<u32, usize> = BTreeMap::new();
    for f in arrivals {
        arrived.entry(f.msg_id).or_default().insert(f.index);
        match push(&mut r, &f.bytes) {
            Err(e) => return TestResult::error(format!("{e}")),
            Ok(None) => {}
            Ok(Some(a)) => {
                let id = a.msg_id();
                let want = &divided[&id];
                let count = frags.iter().filter(|g| g.msg_id == id).count();
                ensure!(arrived[&id].len() == count, "message {id} handed up with {:?} of {count}", arrived[&id]);
                ensure!(a.src() == SRC, "source {:?}", a.src());
                ensure!(a.entry() == wire::borrow_entry(want), "message {id} handed up as {:?}", a.entry());
                ensure!(a.bytes() == encode(want), "the bytes of message {id}");
                *handed.entry(id).or_default() += 1;
            }
        }
        ensure!(r.in_progress() <= 16, "{} partial entries", r.in_progress());
    }
    let lost = left_out.map(|i| frags[i].msg_id);
    for id in divided.keys() {
        let n = handed.get(id).copied().unwrap_or(0);
        let want = usize::from(Some(*id) != lost);
        ensure!(n == want, "message {id} handed up {n} times, not {want}");
    }
    ensure!(r.evictions() == 0 && r.conflicts() == 0, "evictions {} conflicts {}", r.evictions(), r.conflicts());
    ensure!(r.in_progress() == usize::from(lost.is_some()), "{} left in progress", r.in_progress());
    TestResult::passed()
}

#[test]
fn reassembly_in_any_order_with_duplicates_hands_up_each_entry_once_and_whole() {
    QuickCheck::new()
        .tests(300)
        .quickcheck((|d: Divided| prop_reassembly_in_any_order(d, None)) as fn(Divided) -> TestResult);
}

#[test]
fn a_missing_fragment_never_hands_up_its_entry() {
    QuickCheck::new().tests(300).quickcheck(
        (|d: Divided, m: usize| prop_reassembly_in_any_order(d, Some(m))) as fn(Divided, usize) -> TestResult,
    );
}

/// With few slots and many messages interleaved, the reassembler agrees with a reference: slots
/// taken oldest-first eviction, completions and evictions counted the same, never more than
/// `SLOTS` partial entries, and what it hands up whole.
fn prop_eviction_bound(d: Divided) -> TestResult {
    const SLOTS: usize = 3;
    let (frags, divided) = fragments(&d.batch);
    let mut arrivals: Vec<&Frag> = frags.iter().collect();
    Rng(d.seed).shuffle(&mut arrivals);
    let counts: BTreeMap<u32, usize> =
        divided.keys().map(|id| (*id, frags.iter().filter(|f| f.msg_id == *id).count())).collect();

    let mut r: Reassembler<SLOTS> = Reassembler::new();
    // The reference: message id -> (born, indices held); completed ids; evictions.
    let mut slots: BTreeMap<u32, (usize, BTreeSet<u16>)> = BTreeMap::new();
    let mut completed = BTreeSet::new();
    let mut evictions = 0u64;
    for (t, f) in arrivals.into_iter().enumerate() {
        let expect_done = if completed.contains(&f.msg_id) {
            false
        } else {
            if !slots.contains_key(&f.msg_id) && slots.len() == SLOTS {
                let oldest = *slots.iter().min_by_key(|(_, (born, _))| *born).unwrap().0;
                slots.remove(&oldest);
                evictions += 1;
            }
            let (_, held) = slots.entry(f.msg_id).or_insert((t, BTreeSet::new()));
            held.insert(f.index);
            if held.len() == counts[&f.msg_id] {
                slots.remove(&f.msg_id);
                completed.insert(f.msg_id);
                true
            } else {
                false
            }
        };
        match push(&mut r, &f.bytes) {
            Err(e) => return TestResult::error(format!("{e}")),
            Ok(got) => {
                ensure!(
                    got.is_some() == expect_done,
                    "fragment {} of {}: handed up {}",
                    f.index,
                    f.msg_id,
                    got.is_some()
                );
                if let Some(a) = got {
                    ensure!(a.entry() == wire::borrow_entry(&divided[&f.msg_id]), "message {} not whole", f.msg_id);
                }
            }
        }
        ensure!(r.in_progress() == slots.len(), "{} in progress, the reference {}", r.in_progress(), slots.len());
        ensure!(r.in_progress() <= SLOTS, "{} partial entries", r.in_progress());
        ensure!(r.evictions() == evictions, "{} evictions, the reference {evictions}", r.evictions());
    }
    TestResult::passed()
}

#[test]
fn eviction_bound_holds() {
    QuickCheck::new().tests(500).quickcheck(prop_eviction_bound as fn(Divided) -> TestResult);
}

/// The fragments of one divided entry, decoded into owned parts.
fn divided_frames(e: &LogEntry<Vec<u8>>, max_frame_len: usize, msg_id: u32) -> Vec<Vec<u8>> {
    let frames = encode_frames(SRC, DST, std::slice::from_ref(e), max_frame_len, msg_id).unwrap();
    assert!(frames.len() >= 2);
    frames
}

fn fragment_of(bytes: &[u8]) -> Fragment<'_> {
    match decode_frame(bytes).unwrap().payload {
        Payload::Fragment(fr) => fr,
        Payload::Entries(_) => panic!("not a fragment"),
    }
}

#[test]
fn a_conflicting_fragment_drops_the_partial_entry() {
    let e = sample(Kind::Wr, &[0x11; 2000]);
    let frames = divided_frames(&e, 600, 70);
    let mut r: Reassembler<4> = Reassembler::new();
    assert_eq!(push(&mut r, &frames[0]).unwrap(), None);
    assert_eq!(push(&mut r, &frames[1]).unwrap(), None);
    assert_eq!(push(&mut r, &frames[1]).unwrap(), None, "a duplicate is ignored");
    assert_eq!(r.duplicates(), 1);

    // Same index, other bytes.
    let f1 = fragment_of(&frames[1]);
    let other: Vec<u8> = f1.chunk.iter().map(|b| b ^ 0xFF).collect();
    let forged = Fragment { chunk: &other, ..f1 };
    assert_eq!(r.push(SRC, 70, &forged), Err(ReassemblyError::Conflict { src: SRC, msg_id: 70, index: 1 }));
    assert_eq!((r.in_progress(), r.conflicts()), (0, 1));
    // The rest of the fragments start it over, and without the dropped ones it never completes.
    for f in &frames[2..] {
        assert_eq!(push(&mut r, f).unwrap(), None);
    }
    assert_eq!(r.in_progress(), 1);

    // Another fragment count (or entry length) for the same message.
    let mut r: Reassembler<4> = Reassembler::new();
    assert_eq!(push(&mut r, &frames[0]).unwrap(), None);
    let coarser = divided_frames(&e, 1472, 70);
    let f = fragment_of(&coarser[1]);
    assert_eq!(r.push(SRC, 70, &f), Err(ReassemblyError::Conflict { src: SRC, msg_id: 70, index: 1 }));
    assert_eq!(r.in_progress(), 0);

    // The same message id from another source is another message.
    let mut r: Reassembler<4> = Reassembler::new();
    for f in &frames[1..] {
        assert_eq!(r.push(Addr(99), 70, &fragment_of(f)), Ok(None));
    }
    let got: Vec<_> = frames.iter().filter_map(|f| push(&mut r, f).unwrap()).collect();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].entry(), wire::borrow_entry(&e));
    assert_eq!(r.in_progress(), 1, "the other source's message is still partial");
}

#[test]
fn hand_made_fragments_are_checked() {
    let mut r: Reassembler<2> = Reassembler::new();
    let chunk = [0u8; 10];
    let bad = Fragment { index: 0, count: 2, entry_len: 100, chunk: &chunk };
    assert_eq!(
        r.push(SRC, 1, &bad),
        Err(ReassemblyError::BadFragment(WireError::BadFragment { index: 0, count: 2, entry_len: 100 }))
    );
    let one = Fragment { index: 0, count: 1, entry_len: 100, chunk: &[0; 100] };
    assert!(matches!(r.push(SRC, 1, &one), Err(ReassemblyError::BadFragment(_))));
    let huge = Fragment { index: 0, count: 2, entry_len: u32::MAX, chunk: &[] };
    assert!(matches!(r.push(SRC, 1, &huge), Err(ReassemblyError::BadFragment(WireError::EntryTooLarge { .. }))));
    assert_eq!(r.in_progress(), 0);

    // Fragments of the format whose whole is no entry: dropped, not handed up.
    let junk = [0x42u8; 100];
    let (a, b) = (
        Fragment { index: 0, count: 2, entry_len: 100, chunk: &junk[..50] },
        Fragment { index: 1, count: 2, entry_len: 100, chunk: &junk[50..] },
    );
    assert_eq!(r.push(SRC, 2, &a), Ok(None));
    assert_eq!(
        r.push(SRC, 2, &b),
        Err(ReassemblyError::BadEntry { src: SRC, msg_id: 2, error: WireError::BadMagic { found: [0x42; 4] } })
    );
    assert_eq!(r.in_progress(), 0);
}

#[test]
fn a_late_duplicate_of_a_completed_message_is_ignored_within_the_window() {
    let e = sample(Kind::Wr, &[0x22; 1000]);
    let frames = divided_frames(&e, 600, 5);
    let mut r: Reassembler<2, 4> = Reassembler::new();
    let handed: Vec<_> = frames.iter().filter_map(|f| push(&mut r, f).unwrap()).collect();
    assert_eq!(handed.len(), 1);
    for f in &frames {
        assert_eq!(push(&mut r, f).unwrap(), None);
    }
    assert_eq!((r.in_progress(), r.duplicates()), (0, frames.len() as u64));

    // Without the window (DONE = 0), a whole second copy is a second hand-up: the documented
    // limit (the receiver's (ID, seq) dedup covers it).
    let mut r: Reassembler<2, 0> = Reassembler::new();
    let handed = frames.iter().chain(&frames).filter_map(|f| push(&mut r, f).unwrap()).count();
    assert_eq!(handed, 2);
}

#[test]
fn the_largest_entry_in_the_smallest_frames_reassembles_in_reverse() {
    let e = sample(Kind::Wr, &(0..wire::MAX_DATA).map(|i| (i * 7 % 251) as u8).collect::<Vec<_>>());
    let frames = encode_frames(SRC, DST, std::slice::from_ref(&e), wire::MIN_FRAME_LEN, 0).unwrap();
    assert_eq!(frames.len(), wire::MAX_FRAGMENTS);
    assert!(frames.iter().all(|f| f.len() <= wire::MIN_FRAME_LEN));
    let mut r: Reassembler<1> = Reassembler::new();
    let mut got = None;
    for (i, f) in frames.iter().enumerate().rev() {
        let out = push(&mut r, f).unwrap();
        assert_eq!(out.is_some(), i == 0, "handed up at fragment {i}");
        got = out.or(got);
    }
    assert_eq!(got.unwrap().entry(), wire::borrow_entry(&e));
}
