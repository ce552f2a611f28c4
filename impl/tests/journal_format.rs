//! Tests of the seed-003 on-storage formats (`rcopy::journal::format`): round trips, the
//! rejection of corrupt, torn, stale and foreign bytes, the configuration checks, and the
//! note's numbers (`shared/protocols/seed-003.md`, sections 2.3-2.6, 8 and 9).

use quickcheck::{Arbitrary, Gen, QuickCheck, TestResult};
use rcopy::journal::format::*;
use rcopy::journal::*;

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

fn layout(g: &mut Gen) -> Layout {
    *g.choose(&Layout::ALL).unwrap()
}

fn bytes(g: &mut Gen, n: usize) -> Vec<u8> {
    (0..n).map(|_| u8::arbitrary(g)).collect()
}

/// A size in `0..=3000`, often at or next to a block boundary of `layout`.
fn size(g: &mut Gen, layout: Layout) -> usize {
    if bool::arbitrary(g) {
        below(g, 3001)
    } else {
        let p = layout.payload();
        let k = below(g, 6);
        (k * p).saturating_add(below(g, 3)).saturating_sub(1).min(3000)
    }
}

// =============================================================================================
// Journals
// =============================================================================================

/// A journal: its layout, its header and its host data.
#[derive(Clone, Debug, PartialEq)]
struct Journal {
    layout: Layout,
    header: JournalHeader,
    data: Vec<u8>,
}

impl Journal {
    fn new(layout: Layout, group: u32, queue: u32, meta: JournalMeta, data: Vec<u8>) -> Journal {
        let header = JournalHeader::new(layout, 0x5a, group, queue, meta, data.len() as u32).unwrap();
        Journal { layout, header, data }
    }

    /// A journal of `data` with request id `id` and fixed other fields.
    fn simple(layout: Layout, group: u32, queue: u32, id: u32, data: Vec<u8>) -> Journal {
        let meta = JournalMeta { id: ReqId(id), ts: Ts(id.wrapping_mul(10)), volume: 3, addr: 4096, blocks: 0 };
        Journal::new(layout, group, queue, meta, data)
    }

    fn arbitrary_with(g: &mut Gen, layout: Layout, group: u32, queue: u32, id: u32) -> Journal {
        let n = size(g, layout);
        let meta = JournalMeta {
            id: ReqId(id),
            ts: Ts(u32::arbitrary(g)),
            volume: u16::arbitrary(g),
            addr: u32::arbitrary(g),
            blocks: u16::arbitrary(g), // overwritten by JournalHeader::new
        };
        let data = bytes(g, n);
        let header = JournalHeader::new(layout, u8::arbitrary(g), group, queue, meta, n as u32).unwrap();
        Journal { layout, header, data }
    }

    fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        encode_journal(self.layout, &self.header, &self.data, &mut out).unwrap();
        out
    }

    fn expect(&self) -> Expect {
        Expect { group: self.header.group, queue: self.header.queue }
    }

    fn total(&self) -> u32 {
        self.header.total_blocks()
    }
}

impl Arbitrary for Journal {
    fn arbitrary(g: &mut Gen) -> Journal {
        let l = layout(g);
        let (group, queue, id) = (u32::arbitrary(g), u32::arbitrary(g), u32::arbitrary(g));
        Journal::arbitrary_with(g, l, group, queue, id)
    }

    fn shrink(&self) -> Box<dyn Iterator<Item = Journal>> {
        let base = self.clone();
        let sizes = [0, self.data.len() / 2, self.data.len().saturating_sub(1)];
        Box::new(sizes.into_iter().filter(move |&n| n < base.data.len()).map({
            let base = self.clone();
            move |n| {
                let data = base.data[..n].to_vec();
                let header = JournalHeader::new(
                    base.layout,
                    base.header.attr,
                    base.header.group,
                    base.header.queue,
                    base.header.meta,
                    n as u32,
                )
                .unwrap();
                Journal { header, data, ..base.clone() }
            }
        }))
    }
}

/// Round trip: the encoding has the advertised length, decodes to the same header and data
/// (with or without bytes after it), and every block of it is intact at its serial.
fn prop_journal_round_trip(j: Journal) -> TestResult {
    let bytes = j.encode();
    let phys = j.layout.physical();
    let total = journal_blocks(j.layout, j.header.size_bytes);
    ensure!(total == j.total(), "journal_blocks {total} but the header says {}", j.total());
    ensure!(bytes.len() == total as usize * phys, "{} bytes for {total} blocks", bytes.len());
    ensure!(bytes.len() == j.header.encoded_len(j.layout), "encoded_len disagrees");
    ensure!(
        u32::from(j.header.meta.blocks) == data_blocks(j.layout, j.header.size_bytes),
        "meta.blocks {} for {} bytes",
        j.header.meta.blocks,
        j.header.size_bytes
    );
    ensure!(
        decode_header(j.layout, &bytes, j.expect()) == Ok(j.header),
        "decode_header: {:?}",
        decode_header(j.layout, &bytes, j.expect())
    );
    let mut longer = bytes.clone();
    longer.extend_from_slice(&[0xa5; 700]);
    for b in [&bytes, &longer] {
        match decode_journal(j.layout, b, j.expect()) {
            Ok((h, d)) => {
                ensure!(h == j.header, "header {h:?}");
                ensure!(d.len() == j.data.len() && d.is_empty() == j.data.is_empty(), "data length {}", d.len());
                ensure!(d.to_vec() == j.data, "data differs");
                let chunks: Vec<&[u8]> = d.chunks().collect();
                ensure!(chunks.len() == usize::from(h.meta.blocks), "{} chunks", chunks.len());
                ensure!(chunks.iter().all(|c| !c.is_empty() && c.len() <= j.layout.payload()), "chunk sizes");
                let mut appended = vec![1, 2, 3];
                d.copy_to(&mut appended);
                ensure!(appended[3..] == j.data[..] && appended[..3] == [1, 2, 3], "copy_to");
            }
            Err(e) => return TestResult::error(format!("decode_journal: {e}")),
        }
    }
    let tags = unit_tags(j.layout, &bytes, &j.header);
    ensure!(tags.len() == total as usize, "{} tags", tags.len());
    for (i, t) in tags.iter().enumerate() {
        ensure!(*t == UnitTag { meta: j.header.meta, serial: i as u16, intact: true }, "tag {i}: {t:?}");
    }
    // Appending to a non-empty buffer appends exactly the journal.
    let mut out = vec![9u8; 5];
    encode_journal(j.layout, &j.header, &j.data, &mut out).unwrap();
    ensure!(out[..5] == [9; 5] && out[5..] == bytes[..], "appending");
    // Read with the other layout, it is not a journal.
    let other = if j.layout == Layout::Extended { Layout::Embedded } else { Layout::Extended };
    ensure!(decode_journal(other, &bytes, j.expect()).is_err(), "decoded with the other layout");
    TestResult::passed()
}

#[test]
fn journal_round_trip() {
    QuickCheck::new().tests(400).quickcheck(prop_journal_round_trip as fn(Journal) -> TestResult);
}

#[test]
fn journal_encoder_rejects_inconsistent_input() {
    let l = Layout::Extended;
    let j = Journal::simple(l, 1, 2, 3, vec![7; 1000]);
    let mut out = Vec::new();
    assert_eq!(
        encode_journal(l, &j.header, &j.data[..999], &mut out),
        Err(FormatError::SizeMismatch { declared: 1000, got: 999 })
    );
    let mut bad = j.header;
    bad.meta.blocks = 3;
    assert_eq!(
        encode_journal(l, &bad, &j.data, &mut out),
        Err(FormatError::BlockCountMismatch { declared: 3, expected: 2 })
    );
    // The header was written for Extended (2 data blocks); Embedded needs 3.
    assert_eq!(
        encode_journal(Layout::Embedded, &j.header, &j.data, &mut out),
        Err(FormatError::BlockCountMismatch { declared: 2, expected: 3 })
    );
    assert!(out.is_empty(), "a failed encode appends nothing");
    for l in Layout::ALL {
        let max = l.max_size_bytes();
        assert_eq!(max as usize, MAX_DATA_BLOCKS as usize * l.payload());
        let meta = JournalMeta::default();
        let h = JournalHeader::new(l, 0, 0, 0, meta, max).unwrap();
        assert_eq!(u32::from(h.meta.blocks), MAX_DATA_BLOCKS);
        assert_eq!(h.total_blocks(), u32::from(u16::MAX) + 1, "serials 0..=65535");
        assert_eq!(
            JournalHeader::new(l, 0, 0, 0, meta, max + 1),
            Err(FormatError::TooLarge { size_bytes: max + 1, max })
        );
        assert!(JournalHeader::new(l, 0, 0, 0, meta, u32::MAX).is_err());
    }
}

// =============================================================================================
// The one-pass encoder of the write path: the same bytes as encode_journal
// =============================================================================================

/// Check `encode_journal_one_pass` against `encode_journal` for one journal, appending to `out`
/// as the previous journal left it: it appends exactly the reference bytes.
fn check_one_pass(layout: Layout, header: &JournalHeader, data: &[u8], out: &mut Vec<u8>) -> Result<(), String> {
    let mut reference = Vec::new();
    encode_journal(layout, header, data, &mut reference).map_err(|e| e.to_string())?;
    let before = out.clone();
    encode_journal_one_pass(layout, header, data, out).map_err(|e| e.to_string())?;
    let (kept, appended) = out.split_at(before.len().min(out.len()));
    if *kept != before[..] {
        return Err("the bytes already in the buffer changed".into());
    }
    if *appended != reference[..] {
        let at =
            appended.iter().zip(&reference).position(|(a, b)| a != b).unwrap_or(appended.len().min(reference.len()));
        return Err(format!(
            "{layout:?}, {} bytes, id {}: encode_journal_one_pass differs from encode_journal at byte {at} (block {}), \
             lengths {} and {}",
            data.len(),
            header.meta.id.0,
            at / layout.physical(),
            appended.len(),
            reference.len()
        ));
    }
    Ok(())
}

/// A journal for the one-pass encoder, and what its output buffer held before.
#[derive(Clone, Debug)]
struct OnePass {
    journal: Journal,
    before: Vec<u8>,
}

impl Arbitrary for OnePass {
    fn arbitrary(g: &mut Gen) -> OnePass {
        let mut journal = Journal::arbitrary(g);
        // Now and then a larger journal: up to 300 blocks (serial numbers over 255).
        if below(g, 4) == 0 {
            let p = journal.layout.payload();
            let n = below(g, 300) * p + below(g, p);
            journal = Journal::arbitrary_with(g, journal.layout, journal.header.group, journal.header.queue, 0);
            journal.data = bytes(g, n);
            let h = journal.header;
            journal.header = JournalHeader::new(journal.layout, h.attr, h.group, h.queue, h.meta, n as u32).unwrap();
        }
        journal.header.meta.id = ReqId(u32::arbitrary(g));
        let before = below(g, 100);
        OnePass { journal, before: bytes(g, before) }
    }

    fn shrink(&self) -> Box<dyn Iterator<Item = OnePass>> {
        let before = self.before.clone();
        Box::new(self.journal.shrink().map(move |journal| OnePass { journal, before: before.clone() }))
    }
}

fn prop_one_pass_is_encode_journal(p: OnePass) -> TestResult {
    let j = &p.journal;
    let mut out = p.before.clone();
    match check_one_pass(j.layout, &j.header, &j.data, &mut out) {
        Ok(()) => TestResult::passed(),
        Err(e) => TestResult::error(e),
    }
}

/// The one-pass encoder appends exactly `encode_journal`'s bytes, for random sizes (0 to 300
/// blocks), ids, header fields, layouts and buffer contents.
#[test]
fn one_pass_is_encode_journal() {
    QuickCheck::new().tests(500).quickcheck(prop_one_pass_is_encode_journal as fn(OnePass) -> TestResult);
}

/// Every size from 0 to three payloads and a byte, sizes about 4 KiB, 64 KiB and 2 MiB, and the
/// largest journal (every serial number 502 up to 65535), in both layouts, with ids at the ends
/// of their range; one output buffer for all of them, cleared in between.
#[test]
fn one_pass_is_encode_journal_for_many_sizes() {
    let mut out = Vec::new();
    let mut x = 0x9e37_79b9u32;
    let data: Vec<u8> = (0..Layout::Extended.max_size_bytes())
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect();
    for l in Layout::ALL {
        let p = l.payload();
        let max = l.max_size_bytes() as usize;
        let mut sizes: Vec<usize> = (0..=3 * p + 1).collect();
        for around in [4096, 65536, 2 << 20, max] {
            sizes.extend((around - 3..=around + 3).filter(|&n| n <= max));
            sizes.extend([around - p, around + p - 1].into_iter().filter(|&n| n <= max));
        }
        for (k, &n) in sizes.iter().enumerate() {
            let id = [0, 1, u32::MAX, 0x8000_0000, (k as u32).wrapping_mul(2_654_435_761)][k % 5];
            let meta = JournalMeta { id: ReqId(id), ts: Ts(k as u32), volume: k as u16, addr: !(k as u32), blocks: 0 };
            let h = JournalHeader::new(l, k as u8, 0xdead_beef, 7, meta, n as u32).unwrap();
            // Data from another offset each time, so that equal blocks do not hide a mix-up.
            let start = (k * 97) % 4096;
            let d = &data[start.min(data.len() - n)..][..n];
            out.clear();
            if let Err(e) = check_one_pass(l, &h, d, &mut out) {
                panic!("{e}");
            }
        }
    }
}

/// The one-pass encoder refuses what `encode_journal` refuses, with the same errors in the same
/// order, and appends nothing then.
#[test]
fn one_pass_rejects_inconsistent_input() {
    let l = Layout::Extended;
    let j = Journal::simple(l, 1, 2, 3, vec![7; 1000]);
    let mut bad = j.header;
    bad.meta.blocks = 3;
    let mut big = j.header;
    big.size_bytes = l.max_size_bytes() + 1;
    let too_much = vec![0u8; big.size_bytes as usize];
    let cases = [
        (l, j.header, &j.data[..999]),
        (l, bad, &j.data[..]),
        (Layout::Embedded, j.header, &j.data[..]),
        (l, big, &too_much[..]),
        (l, big, &[][..]),
    ];
    let mut errors = Vec::new();
    for (layout, header, data) in cases {
        let mut out = vec![1, 2, 3];
        let want = encode_journal(layout, &header, data, &mut out).unwrap_err();
        assert_eq!(encode_journal_one_pass(layout, &header, data, &mut out), Err(want.clone()));
        assert_eq!(out, [1, 2, 3], "a failed encode appends nothing");
        errors.push(want);
    }
    assert!(
        matches!(
            errors[..],
            [
                FormatError::SizeMismatch { declared: 1000, got: 999 },
                FormatError::BlockCountMismatch { declared: 3, expected: 2 },
                FormatError::BlockCountMismatch { declared: 2, expected: 3 },
                FormatError::TooLarge { .. },
                FormatError::SizeMismatch { .. },
            ]
        ),
        "{errors:?}"
    );
}

// =============================================================================================
// The note's numbers
// =============================================================================================

#[test]
fn layouts_are_the_notes_blocks() {
    assert_eq!(BLOCK, 512);
    assert_eq!((Layout::Extended.physical(), Layout::Extended.payload()), (528, 512));
    assert_eq!((Layout::Embedded.physical(), Layout::Embedded.payload()), (512, 496));
    for l in Layout::ALL {
        assert_eq!(l.physical() - l.payload(), PROTECTION);
        assert_eq!(PROTECTION, 16);
        assert_eq!(journal_blocks(l, 0), 2, "an empty journal is a header and a trailer");
        assert_eq!(journal_blocks(l, 1), 3);
        assert_eq!(journal_blocks(l, l.payload() as u32), 3);
        assert_eq!(journal_blocks(l, l.payload() as u32 + 1), 4);
    }
}

#[test]
fn two_megabyte_write_needs_4096_data_blocks_plus_two() {
    let two_mb = 2 * 1024 * 1024;
    assert_eq!(data_blocks(Layout::Extended, two_mb), 4096);
    assert_eq!(journal_blocks(Layout::Extended, two_mb), 4096 + 2);
    // Embedded: 496 payload bytes a block, ceil(2097152 / 496) = 4229.
    assert_eq!(journal_blocks(Layout::Embedded, two_mb), 4229 + 2);
    let data: Vec<u8> = (0..two_mb).map(|i| (i % 251) as u8).collect();
    let j = Journal::simple(Layout::Extended, 1, 1, 77, data);
    assert_eq!(j.header.meta.blocks, 4096);
    let bytes = j.encode();
    assert_eq!(bytes.len(), 4098 * 528);
    let (h, d) = decode_journal(Layout::Extended, &bytes, j.expect()).unwrap();
    assert_eq!(h, j.header);
    assert_eq!(d.chunks().count(), 4096);
    assert!(d.chunks().zip(j.data.chunks(512)).all(|(a, b)| a == b));
}

// =============================================================================================
// Every single-bit flip is rejected
// =============================================================================================

#[test]
fn every_bit_flip_in_a_journal_is_rejected_naming_its_block() {
    for l in Layout::ALL {
        // Two data blocks, the second padded.
        let data: Vec<u8> = (0..700u32).map(|i| (i * 7 + 3) as u8).collect();
        let j = Journal::simple(l, 11, 22, 33, data);
        let bytes = j.encode();
        let phys = l.physical();
        assert_eq!(bytes.len(), 4 * phys);
        for bit in 0..bytes.len() * 8 {
            let mut m = bytes.clone();
            m[bit / 8] ^= 1 << (bit % 8);
            let block = (bit / 8 / phys) as u32;
            assert_eq!(
                decode_journal(l, &m, j.expect()).map(|(h, _)| h),
                Err(FormatError::BadCode { block }),
                "{l:?}: flip of bit {bit}"
            );
            assert_eq!(decode_header(l, &m, j.expect()).is_err(), block == 0, "{l:?}: header, bit {bit}");
            let tags = unit_tags(l, &m, &j.header);
            assert!(!tags[block as usize].intact, "{l:?}: bit {bit}: block {block} looks intact");
            for (i, t) in tags.iter().enumerate() {
                // A flipped data byte also breaks the trailer's code 709.
                if i != block as usize && i != 3 {
                    assert!(t.intact, "{l:?}: bit {bit} in block {block} broke block {i}");
                }
            }
        }
    }
}

fn control_case() -> (u32, u32, ControlInfo) {
    (5, 6, ControlInfo { owner: Owner::Secondary(2), head: Pos(1234), size: 56, heartbeat: 789 })
}

#[test]
fn every_bit_flip_in_a_control_record_is_rejected() {
    let (group, queue, info) = control_case();
    let rec = encode_control(group, queue, &info);
    assert_eq!(decode_control(&rec, group, queue, info.owner), Ok(info));
    for bit in 0..BLOCK * 8 {
        let mut m = rec;
        m[bit / 8] ^= 1 << (bit % 8);
        let r = decode_control(&m, group, queue, info.owner);
        assert!(matches!(r, Err(FormatError::BadChecksum { what: "control info", .. })), "bit {bit}: {r:?}");
    }
}

#[test]
fn every_bit_flip_in_a_config_record_is_rejected() {
    let cfg = good_config(2);
    let rec = encode_config(&cfg).unwrap();
    assert_eq!(decode_config(&rec), Ok(cfg));
    for bit in 0..rec.len() * 8 {
        let mut m = rec.clone();
        m[bit / 8] ^= 1 << (bit % 8);
        assert!(decode_config(&m).is_err(), "bit {bit} accepted");
    }
}

// =============================================================================================
// Torn journals over a stale lap
// =============================================================================================

/// A new journal written over an older lap of the ring, cut after its first `k` blocks: the
/// rest of its place still holds the older journals' blocks.
#[derive(Clone, Debug)]
struct Torn {
    new: Journal,
    /// The older journals, consecutive in the ring, with ids below the new one's.
    olds: Vec<Journal>,
    /// The new journal starts this many blocks into the first older journal.
    shift: usize,
    k: u32,
}

impl Torn {
    /// The older lap under the new journal, and the request id each of its blocks carries.
    fn old_region(&self) -> (Vec<u8>, Vec<u32>) {
        let phys = self.new.layout.physical();
        let mut bytes = Vec::new();
        let mut ids = Vec::new();
        for o in &self.olds {
            bytes.extend_from_slice(&o.encode());
            ids.extend(std::iter::repeat_n(o.header.meta.id.0, o.total() as usize));
        }
        (bytes[self.shift * phys..].to_vec(), ids[self.shift..].to_vec())
    }

    fn bytes(&self) -> Vec<u8> {
        let phys = self.new.layout.physical();
        let cut = self.k as usize * phys;
        let mut b = self.new.encode()[..cut].to_vec();
        let (old, _) = self.old_region();
        b.extend_from_slice(&old[cut..self.new.total() as usize * phys]);
        b
    }
}

impl Arbitrary for Torn {
    fn arbitrary(g: &mut Gen) -> Torn {
        let l = layout(g);
        let (group, queue) = (u32::arbitrary(g) % 4, u32::arbitrary(g) % 4);
        let id = 1000 + below(g, 1 << 20) as u32;
        let new = Journal::arbitrary_with(g, l, group, queue, id);
        let old_id = id - 1 - below(g, 999) as u32;
        let mut olds = vec![Journal::arbitrary_with(g, l, group, queue, old_id)];
        let shift = below(g, olds[0].total() as usize);
        let mut covered = olds[0].total() as usize - shift;
        while covered < new.total() as usize {
            let old_id = id - 1 - below(g, 999) as u32;
            let o = Journal::arbitrary_with(g, l, group, queue, old_id);
            covered += o.total() as usize;
            olds.push(o);
        }
        let k = 1 + below(g, new.total() as usize - 1) as u32;
        Torn { new, olds, shift, k }
    }
}

/// The torn journal is rejected at its first stale block, and exactly the stale blocks are
/// marked non-intact relative to the new header.
fn prop_torn_journal(t: Torn) -> TestResult {
    let l = t.new.layout;
    let b = t.bytes();
    let (_, ids) = t.old_region();
    let expect = t.new.expect();
    ensure!(decode_header(l, &b, expect) == Ok(t.new.header), "the header is the new one's");
    let err = match decode_journal(l, &b, expect) {
        Ok(_) => return TestResult::error("a torn journal decoded"),
        Err(e) => e,
    };
    let want = FormatError::WrongRequest { block: t.k, expected: t.new.header.meta.id.0, found: ids[t.k as usize] };
    ensure!(err == want, "error {err:?}, want {want:?}");
    ensure!(err.block() == Some(t.k), "block() is {:?}", err.block());
    ensure!(err.to_string().contains(&format!("block {}", t.k)), "message {err}");
    let tags = unit_tags(l, &b, &t.new.header);
    ensure!(tags.len() == t.new.total() as usize, "{} tags", tags.len());
    for (i, tag) in tags.iter().enumerate() {
        ensure!(tag.intact == (i < t.k as usize), "block {i} intact = {} with k = {}", tag.intact, t.k);
        ensure!(tag.serial as usize == i && tag.meta == t.new.header.meta, "tag {i}: {tag:?}");
    }
    TestResult::passed()
}

#[test]
fn torn_journal_over_a_stale_lap() {
    QuickCheck::new().tests(300).quickcheck(prop_torn_journal as fn(Torn) -> TestResult);
}

#[test]
fn torn_journal_example() {
    // Journal 8 (3 data blocks) over journals 3 and 4 of an older lap, torn after 2 blocks.
    let l = Layout::Embedded;
    let new = Journal::simple(l, 1, 2, 8, vec![0xee; 3 * 496]);
    let olds = vec![Journal::simple(l, 1, 2, 3, vec![0x33; 100]), Journal::simple(l, 1, 2, 4, vec![0x44; 2000])];
    let t = Torn { new, olds, shift: 0, k: 2 };
    let b = t.bytes();
    // Old journal 3 is 3 blocks: the new journal's block 2 is journal 3's trailer.
    let err = decode_journal(l, &b, t.new.expect()).unwrap_err();
    assert_eq!(err, FormatError::WrongRequest { block: 2, expected: 8, found: 3 });
    assert_eq!(err.to_string(), "block 2: request identifier 501 is 3, the journal's request id is 8");
    let intact: Vec<bool> = unit_tags(l, &b, &t.new.header).iter().map(|t| t.intact).collect();
    assert_eq!(intact, [true, true, false, false, false]);
    // A whole journal of the older lap still decodes, as itself: that it is stale is the
    // drain's existence test (request id 704 not the successor), not the format's.
    let (old, _) = t.old_region();
    let (h, _) = decode_journal(l, &old, t.new.expect()).unwrap();
    assert_eq!(h.meta.id, ReqId(3));
}

// =============================================================================================
// Foreign journals and control records
// =============================================================================================

#[test]
fn foreign_journal_is_rejected() {
    for l in Layout::ALL {
        let j = Journal::simple(l, 7, 3, 42, vec![1; 600]);
        let bytes = j.encode();
        let other_group = Expect { group: 8, queue: 3 };
        let other_queue = Expect { group: 7, queue: 4 };
        let group_err = FormatError::Foreign { field: "group", expected: 8, found: 7 };
        let queue_err = FormatError::Foreign { field: "queue", expected: 4, found: 3 };
        assert_eq!(decode_header(l, &bytes, other_group), Err(group_err.clone()));
        assert_eq!(decode_journal(l, &bytes, other_group).unwrap_err(), group_err);
        assert_eq!(decode_header(l, &bytes, other_queue), Err(queue_err.clone()));
        assert_eq!(decode_journal(l, &bytes, other_queue).unwrap_err(), queue_err);
        assert_eq!(group_err.to_string(), "foreign record: group is 7, expected 8");
        assert!(decode_journal(l, &bytes, Expect { group: 7, queue: 3 }).is_ok());
    }
}

#[test]
fn control_record_of_the_wrong_owner_is_foreign() {
    let (group, queue, info) = control_case(); // written by secondary 2 (owner code 3)
    let rec = encode_control(group, queue, &info);
    assert_eq!(
        decode_control(&rec, group, queue, Owner::Secondary(0)),
        Err(FormatError::Foreign { field: "owner", expected: 1, found: 3 })
    );
    assert_eq!(
        decode_control(&rec, group, queue, Owner::Primary),
        Err(FormatError::Foreign { field: "owner", expected: 0, found: 3 })
    );
    assert_eq!(
        decode_control(&rec, group + 1, queue, info.owner),
        Err(FormatError::Foreign { field: "group", expected: group + 1, found: group })
    );
    assert_eq!(
        decode_control(&rec, group, queue + 1, info.owner),
        Err(FormatError::Foreign { field: "queue", expected: queue + 1, found: queue })
    );
    let p = ControlInfo { owner: Owner::Primary, ..info };
    let rec = encode_control(group, queue, &p);
    assert_eq!(decode_control(&rec, group, queue, Owner::Primary), Ok(p));
    assert_eq!(
        decode_control(&rec, group, queue, Owner::Secondary(2)),
        Err(FormatError::Foreign { field: "owner", expected: 3, found: 0 })
    );
    // Short and bad-magic records.
    assert_eq!(
        decode_control(&rec[..100], group, queue, Owner::Primary),
        Err(FormatError::Short { need: BLOCK, got: 100 })
    );
    // An Embedded header block has its code 503 where a control record has its checksum (over
    // the same 508 bytes): the magic tells them apart.
    let journal = Journal::simple(Layout::Embedded, group, queue, 1, vec![]).encode();
    assert_eq!(
        decode_control(&journal, group, queue, Owner::Primary),
        Err(FormatError::BadMagic { what: "control info", block: 0, found: HEADER_MAGIC })
    );
    let journal = Journal::simple(Layout::Extended, group, queue, 1, vec![]).encode();
    assert!(matches!(decode_control(&journal, group, queue, Owner::Primary), Err(FormatError::BadChecksum { .. })));
}

// =============================================================================================
// Control records
// =============================================================================================

#[derive(Clone, Debug)]
struct Control {
    group: u32,
    queue: u32,
    info: ControlInfo,
}

fn arbitrary_owner(g: &mut Gen) -> Owner {
    if bool::arbitrary(g) {
        Owner::Primary
    } else {
        Owner::Secondary(u8::arbitrary(g))
    }
}

impl Arbitrary for Control {
    fn arbitrary(g: &mut Gen) -> Control {
        let info = ControlInfo {
            owner: arbitrary_owner(g),
            head: Pos(u32::arbitrary(g)),
            size: u32::arbitrary(g),
            heartbeat: u32::arbitrary(g),
        };
        Control { group: u32::arbitrary(g), queue: u32::arbitrary(g), info }
    }
}

fn prop_control_round_trip(c: Control) -> TestResult {
    let rec = encode_control(c.group, c.queue, &c.info);
    let back = decode_control(&rec, c.group, c.queue, c.info.owner);
    ensure!(back == Ok(c.info), "{back:?}");
    let mut longer = rec.to_vec();
    longer.extend_from_slice(&[0xff; 16]);
    ensure!(decode_control(&longer, c.group, c.queue, c.info.owner) == Ok(c.info), "with bytes after it");
    TestResult::passed()
}

#[test]
fn control_round_trip() {
    QuickCheck::new().tests(300).quickcheck(prop_control_round_trip as fn(Control) -> TestResult);
    // The extremes of the owner encoding.
    for owner in [Owner::Primary, Owner::Secondary(0), Owner::Secondary(255)] {
        let info = ControlInfo { owner, head: Pos(u32::MAX), size: u32::MAX, heartbeat: 0 };
        assert_eq!(decode_control(&encode_control(0, u32::MAX, &info), 0, u32::MAX, owner), Ok(info));
    }
}

// =============================================================================================
// Configuration info
// =============================================================================================

/// A valid configuration of the note's 1:1 case (four queues: message and data, both
/// directions) generalised to `n` secondaries: group 1, primary 10, secondaries 20.., rings of
/// 1 MiB from 1 MiB on, control infos from 0 on, two 512-byte slots each.
fn good_config(n: u32) -> ConfigInfo {
    let secondaries: Vec<u32> = (0..n).map(|i| 20 + i).collect();
    let mut next_control = 0u64;
    let mut control = |issuer: u32| {
        let loc = ControlLocation { issuer, offset: next_control, size: CONTROL_AREA as u32 };
        next_control += CONTROL_AREA as u64;
        loc
    };
    let queues = (0..4u32)
        .map(|q| QueueInfo {
            id: 100 + q,
            kind: if q % 2 == 0 { QueueKind::Message } else { QueueKind::Data },
            head: (1 + u64::from(q)) << 20,
            size: 1 << 20,
            primary: control(10),
            secondaries: secondaries.iter().map(|&s| control(s)).collect(),
        })
        .collect();
    ConfigInfo { group: 1, primary: 10, secondaries, queues }
}

#[test]
fn good_configs_pass() {
    for n in 1..=MAX_SECONDARIES as u32 {
        let cfg = good_config(n);
        assert_eq!(cfg.validate(), Ok(()), "{n} secondaries");
        let rec = encode_config(&cfg).unwrap();
        assert!(rec.len() <= MAX_CONFIG_LEN);
        let back = decode_config(&rec).unwrap();
        assert_eq!(back, cfg);
        assert_eq!(back.validate(), Ok(()));
    }
}

#[test]
fn s11_two_secondaries_with_the_same_control_offset_are_rejected() {
    let mut cfg = good_config(2);
    let q = &mut cfg.queues[1];
    q.secondaries[1].offset = q.secondaries[0].offset;
    let err = cfg.validate().unwrap_err();
    assert_eq!(
        err,
        FormatError::Overlap {
            first: Area::SecondaryControl { queue: 101, index: 0 },
            second: Area::SecondaryControl { queue: 101, index: 1 },
        }
    );
    assert_eq!(
        err.to_string(),
        "the control info 612 of secondary #0 of queue 101 overlaps the control info 612 of secondary #1 of queue 101"
    );
    // The format carries the misconfiguration faithfully: validate is what rejects it.
    assert_eq!(decode_config(&encode_config(&cfg).unwrap()).unwrap().validate(), Err(err));
    // The same offset across queues, or half a block apart, is as bad.
    let mut cfg = good_config(2);
    cfg.queues[3].secondaries[0].offset = cfg.queues[0].secondaries[1].offset + 256;
    assert_eq!(
        cfg.validate(),
        Err(FormatError::Overlap {
            first: Area::SecondaryControl { queue: 100, index: 1 },
            second: Area::SecondaryControl { queue: 103, index: 0 },
        })
    );
}

#[test]
fn bad_configs_are_rejected() {
    let check = |edit: &dyn Fn(&mut ConfigInfo), want: FormatError| {
        let mut cfg = good_config(2);
        edit(&mut cfg);
        assert_eq!(cfg.validate(), Err(want));
    };
    check(&|c| c.queues[0].primary.offset = c.queues[2].head + 4096, {
        FormatError::Overlap { first: Area::PrimaryControl { queue: 100 }, second: Area::Queue { queue: 102 } }
    });
    check(&|c| c.queues[1].head = c.queues[0].head + 1, {
        FormatError::Overlap { first: Area::Queue { queue: 100 }, second: Area::Queue { queue: 101 } }
    });
    check(&|c| c.queues[2].size = 0, FormatError::TooSmall { area: Area::Queue { queue: 102 }, size: 0, min: 1 });
    check(&|c| c.queues[0].secondaries[1].size = 0, {
        FormatError::TooSmall { area: Area::SecondaryControl { queue: 100, index: 1 }, size: 0, min: CONTROL_AREA as u64 }
    });
    check(&|c| c.queues[0].primary.size = 100, {
        FormatError::TooSmall { area: Area::PrimaryControl { queue: 100 }, size: 100, min: CONTROL_AREA as u64 }
    });
    check(&|c| c.queues[3].head = u64::MAX - 10, FormatError::OutOfRange { area: Area::Queue { queue: 103 } });
    check(
        &|c| {
            c.queues[1].secondaries.pop();
        },
        FormatError::SecondaryCount { queue: 101, expected: 2, found: 1 },
    );
    check(&|c| c.secondaries.push(30), FormatError::SecondaryCount { queue: 100, expected: 3, found: 2 });
    check(&|c| c.secondaries.clear(), FormatError::Empty { what: "secondaries" });
    check(&|c| c.queues.clear(), FormatError::Empty { what: "queues" });
    check(&|c| c.secondaries = (0..9).map(|i| 20 + i).collect(), {
        FormatError::TooMany { what: "secondaries", max: MAX_SECONDARIES, found: 9 }
    });
    check(&|c| c.queues = (0..17).map(|i| QueueInfo { id: i, ..c.queues[0].clone() }).collect(), {
        FormatError::TooMany { what: "queues", max: MAX_QUEUES, found: 17 }
    });
    check(&|c| c.secondaries[1] = 20, FormatError::DuplicateId { what: "subsystem", id: 20 });
    check(&|c| c.secondaries[0] = 10, FormatError::DuplicateId { what: "subsystem", id: 10 });
    check(&|c| c.queues[3].id = 101, FormatError::DuplicateId { what: "queue", id: 101 });
    check(&|c| c.queues[2].secondaries[0].issuer = 10, {
        FormatError::WrongIssuer { area: Area::SecondaryControl { queue: 102, index: 0 }, expected: 20, found: 10 }
    });
    check(&|c| c.queues[0].primary.issuer = 21, {
        FormatError::WrongIssuer { area: Area::PrimaryControl { queue: 100 }, expected: 10, found: 21 }
    });
    // The encoder refuses counts over the bounds.
    let mut cfg = good_config(2);
    cfg.queues[0].secondaries = vec![cfg.queues[0].primary; 9];
    assert_eq!(
        encode_config(&cfg),
        Err(FormatError::TooMany { what: "secondary infos 612", max: MAX_SECONDARIES, found: 9 })
    );
    cfg.queues = vec![cfg.queues[1].clone(); 17];
    assert_eq!(encode_config(&cfg), Err(FormatError::TooMany { what: "queues", max: MAX_QUEUES, found: 17 }));
}

#[derive(Clone, Debug)]
struct Config(ConfigInfo);

fn arbitrary_location(g: &mut Gen) -> ControlLocation {
    ControlLocation { issuer: u32::arbitrary(g), offset: u64::arbitrary(g), size: u32::arbitrary(g) }
}

impl Arbitrary for Config {
    fn arbitrary(g: &mut Gen) -> Config {
        let n_sec = below(g, MAX_SECONDARIES + 1);
        let n_q = below(g, MAX_QUEUES + 1);
        let secondaries = (0..n_sec).map(|_| u32::arbitrary(g)).collect();
        let queues = (0..n_q)
            .map(|_| QueueInfo {
                id: u32::arbitrary(g),
                kind: if bool::arbitrary(g) { QueueKind::Message } else { QueueKind::Data },
                head: u64::arbitrary(g),
                size: u64::arbitrary(g),
                primary: arbitrary_location(g),
                secondaries: (0..below(g, MAX_SECONDARIES + 1)).map(|_| arbitrary_location(g)).collect(),
            })
            .collect();
        Config(ConfigInfo { group: u32::arbitrary(g), primary: u32::arbitrary(g), secondaries, queues })
    }
}

fn prop_config_round_trip(c: Config) -> TestResult {
    let rec = match encode_config(&c.0) {
        Ok(r) => r,
        Err(e) => return TestResult::error(format!("encode: {e}")),
    };
    ensure!(rec.len() <= MAX_CONFIG_LEN, "{} bytes", rec.len());
    ensure!(decode_config(&rec).as_ref() == Ok(&c.0), "decode: {:?}", decode_config(&rec));
    let mut longer = rec.clone();
    longer.extend_from_slice(&[7; 33]);
    ensure!(decode_config(&longer).as_ref() == Ok(&c.0), "with bytes after it");
    ensure!(decode_config(&rec[..rec.len() - 1]).is_err(), "one byte short");
    TestResult::passed()
}

#[test]
fn config_round_trip() {
    QuickCheck::new().tests(300).quickcheck(prop_config_round_trip as fn(Config) -> TestResult);
}

// =============================================================================================
// Arbitrary bytes and mutations of valid encodings never panic, and never pass for valid
// =============================================================================================

/// Decode `bytes` as each of the formats; whatever is accepted must re-encode to the bytes it
/// came from (the decoders are canonical). Returns what was accepted, for further checks.
struct Decoded {
    journal: Option<(JournalHeader, Vec<u8>)>,
    control: Option<ControlInfo>,
    config: Option<ConfigInfo>,
}

fn decode_all(l: Layout, bytes: &[u8], expect: Expect, owner: Owner) -> Result<Decoded, String> {
    let header = decode_header(l, bytes, expect);
    let journal = match decode_journal(l, bytes, expect) {
        Ok((h, d)) => {
            if header != Ok(h) {
                return Err(format!("decode_header {header:?} but decode_journal {h:?}"));
            }
            let data = d.to_vec();
            let mut again = Vec::new();
            encode_journal(l, &h, &data, &mut again).map_err(|e| e.to_string())?;
            if bytes.get(..again.len()) != Some(&again[..]) {
                return Err("a decoded journal does not re-encode to its bytes".into());
            }
            Some((h, data))
        }
        Err(_) => None,
    };
    if let Ok(h) = header {
        let tags = unit_tags(l, bytes, &h);
        if tags.len() != h.total_blocks() as usize {
            return Err(format!("{} tags for {} blocks", tags.len(), h.total_blocks()));
        }
        if journal.is_some() != tags.iter().all(|t| t.intact) {
            return Err(format!("decode_journal {} but tags {:?}", journal.is_some(), tags));
        }
    }
    let control = decode_control(bytes, expect.group, expect.queue, owner).ok();
    if let Some(c) = control {
        if bytes.get(..BLOCK) != Some(&encode_control(expect.group, expect.queue, &c)[..]) {
            return Err("a decoded control record does not re-encode to its bytes".into());
        }
    }
    let config = decode_config(bytes).ok();
    if let Some(c) = &config {
        let again = encode_config(c).map_err(|e| e.to_string())?;
        if bytes.get(..again.len()) != Some(&again[..]) {
            return Err("a decoded configuration does not re-encode to its bytes".into());
        }
    }
    Ok(Decoded { journal, control, config })
}

#[derive(Clone, Debug)]
struct Noise {
    layout: Layout,
    bytes: Vec<u8>,
    expect: Expect,
    owner: Owner,
}

impl Arbitrary for Noise {
    fn arbitrary(g: &mut Gen) -> Noise {
        let n = below(g, 4000);
        let mut b = bytes(g, n);
        // Sometimes a plausible start, so that decoders get past their first check.
        if n >= 4 && bool::arbitrary(g) {
            let magic = *g.choose(&[HEADER_MAGIC, CONTROL_MAGIC, CONFIG_MAGIC, TRAILER_MAGIC]).unwrap();
            b[..4].copy_from_slice(&magic);
        }
        Noise {
            layout: layout(g),
            bytes: b,
            expect: Expect { group: u32::arbitrary(g), queue: u32::arbitrary(g) },
            owner: arbitrary_owner(g),
        }
    }
}

fn prop_noise(n: Noise) -> TestResult {
    match decode_all(n.layout, &n.bytes, n.expect, n.owner) {
        Ok(_) => {}
        Err(e) => return TestResult::error(e),
    }
    // unit_tags with an arbitrary header, even one whose block count is not its size's.
    let meta = JournalMeta { id: ReqId(1), ts: Ts(2), volume: 3, addr: 4, blocks: u16::MAX };
    let h = JournalHeader { attr: 0, group: n.expect.group, queue: n.expect.queue, meta, size_bytes: u32::MAX };
    let tags = unit_tags(n.layout, &n.bytes, &h);
    ensure!(tags.len() == 1 << 16 && tags.iter().all(|t| !t.intact), "tags of noise");
    TestResult::passed()
}

#[test]
fn arbitrary_bytes_never_panic() {
    QuickCheck::new().tests(300).quickcheck(prop_noise as fn(Noise) -> TestResult);
}

/// One edit of a byte string; positions are taken modulo the length.
#[derive(Clone, Debug)]
enum Mutation {
    Flip {
        bit: usize,
    },
    Truncate {
        len: usize,
    },
    Overwrite {
        at: usize,
        bytes: Vec<u8>,
    },
    /// Copy `len` bytes of the donor over the same offsets.
    Splice {
        at: usize,
        len: usize,
    },
    Insert {
        at: usize,
        bytes: Vec<u8>,
    },
    Delete {
        at: usize,
        len: usize,
    },
}

impl Arbitrary for Mutation {
    fn arbitrary(g: &mut Gen) -> Mutation {
        let at = usize::arbitrary(g);
        let len = below(g, 1200);
        let short = 1 + below(g, 24);
        match below(g, 6) {
            0 => Mutation::Flip { bit: usize::arbitrary(g) },
            1 => Mutation::Truncate { len: usize::arbitrary(g) },
            2 => Mutation::Overwrite { at, bytes: bytes(g, short) },
            3 => Mutation::Splice { at, len },
            4 => Mutation::Insert { at, bytes: bytes(g, short) },
            _ => Mutation::Delete { at, len: 1 + below(g, 40) },
        }
    }
}

fn mutate(target: &mut Vec<u8>, donor: &[u8], m: &Mutation) {
    let n = target.len();
    let pos = |x: usize| if n == 0 { 0 } else { x % n };
    match m {
        Mutation::Flip { bit } => {
            if n > 0 {
                let b = bit % (n * 8);
                target[b / 8] ^= 1 << (b % 8);
            }
        }
        Mutation::Truncate { len } => target.truncate(len % (n + 1)),
        Mutation::Overwrite { at, bytes } => {
            let at = pos(*at);
            for (t, b) in target.iter_mut().skip(at).zip(bytes) {
                *t = *b;
            }
        }
        Mutation::Splice { at, len } => {
            let at = pos(*at);
            let end = (at + len).min(n).min(donor.len());
            if at < end {
                target[at..end].copy_from_slice(&donor[at..end]);
            }
        }
        Mutation::Insert { at, bytes } => {
            let at = pos(*at);
            target.splice(at..at, bytes.iter().copied());
        }
        Mutation::Delete { at, len } => {
            let at = pos(*at);
            target.drain(at..(at + len).min(n));
        }
    }
}

#[derive(Clone, Debug)]
struct Mutated {
    journal: Journal,
    /// Same layout, group and queue, another request id.
    donor: Journal,
    control: Control,
    control_donor: Control,
    config: Config,
    config_donor: Config,
    edits: Vec<Mutation>,
}

impl Arbitrary for Mutated {
    fn arbitrary(g: &mut Gen) -> Mutated {
        let journal = Journal::arbitrary(g);
        let h = journal.header;
        let donor = Journal::arbitrary_with(g, journal.layout, h.group, h.queue, h.meta.id.0.wrapping_add(1));
        let edits = (0..1 + below(g, 4)).map(|_| Mutation::arbitrary(g)).collect();
        Mutated {
            journal,
            donor,
            control: Control::arbitrary(g),
            control_donor: Control::arbitrary(g),
            config: Config::arbitrary(g),
            config_donor: Config::arbitrary(g),
            edits,
        }
    }
}

/// Mutations of valid encodings: no decoder panics; whatever is still accepted re-encodes to
/// its bytes and is the original or the donor, never a chimera.
fn prop_mutations(m: Mutated) -> TestResult {
    let j = &m.journal;
    let (mut jb, donor) = (j.encode(), m.donor.encode());
    for e in &m.edits {
        mutate(&mut jb, &donor, e);
    }
    let d = match decode_all(j.layout, &jb, j.expect(), Owner::Primary) {
        Ok(d) => d,
        Err(e) => return TestResult::error(format!("journal: {e}")),
    };
    if let Some((h, data)) = d.journal {
        let ok = (h == j.header && data == j.data) || (h == m.donor.header && data == m.donor.data);
        ensure!(ok, "a mutated journal decoded as neither the original nor the donor: {h:?}");
    }
    let tags = unit_tags(j.layout, &jb, &j.header);
    ensure!(tags.len() == j.total() as usize, "{} tags", tags.len());

    let c = &m.control;
    let (mut cb, cdonor) = (encode_control(c.group, c.queue, &c.info).to_vec(), m.control_donor.clone());
    let cdonor_bytes = encode_control(cdonor.group, cdonor.queue, &cdonor.info);
    for e in &m.edits {
        mutate(&mut cb, &cdonor_bytes, e);
    }
    let d = match decode_all(j.layout, &cb, Expect { group: c.group, queue: c.queue }, c.info.owner) {
        Ok(d) => d,
        Err(e) => return TestResult::error(format!("control: {e}")),
    };
    if let Some(info) = d.control {
        ensure!(info == c.info || info == cdonor.info, "a mutated control record decoded as {info:?}");
    }

    let (mut gb, gdonor) = (encode_config(&m.config.0).unwrap(), encode_config(&m.config_donor.0).unwrap());
    for e in &m.edits {
        mutate(&mut gb, &gdonor, e);
    }
    let d = match decode_all(j.layout, &gb, j.expect(), Owner::Primary) {
        Ok(d) => d,
        Err(e) => return TestResult::error(format!("config: {e}")),
    };
    if let Some(cfg) = d.config {
        ensure!(cfg == m.config.0 || cfg == m.config_donor.0, "a mutated configuration decoded as {cfg:?}");
    }
    TestResult::passed()
}

#[test]
fn mutations_of_valid_encodings_never_panic() {
    QuickCheck::new().tests(500).quickcheck(prop_mutations as fn(Mutated) -> TestResult);
}

// =============================================================================================
// A few specific rejections and their messages
// =============================================================================================

#[test]
fn specific_rejections() {
    let l = Layout::Extended;
    let j = Journal::simple(l, 1, 2, 3, vec![5; 1500]);
    let bytes = j.encode();
    let phys = l.physical();
    // Truncated.
    assert_eq!(decode_header(l, &bytes[..100], j.expect()), Err(FormatError::Short { need: phys, got: 100 }));
    assert_eq!(
        decode_journal(l, &bytes[..bytes.len() - 1], j.expect()).unwrap_err(),
        FormatError::Short { need: bytes.len(), got: bytes.len() - 1 }
    );
    // A data block where the header should be.
    assert_eq!(
        decode_header(l, &bytes[phys..], j.expect()),
        Err(FormatError::WrongKind { block: 0, expected: "header", found: 2 })
    );
    // Blocks swapped: block 1 and block 2 (both data blocks of the journal).
    let mut swapped = bytes.clone();
    let (a, b) = swapped.split_at_mut(2 * phys);
    a[phys..].swap_with_slice(&mut b[..phys]);
    assert_eq!(
        decode_journal(l, &swapped, j.expect()).unwrap_err(),
        FormatError::WrongSerial { block: 1, expected: 1, found: 2 }
    );
    // The trailer block of another journal with the same request id and size: its protection
    // data passes, its copy of the header does not.
    let twin = Journal::simple(l, 1, 2, 3, vec![6; 1500]);
    let mut torn = bytes.clone();
    let last = bytes.len() - phys;
    torn[last..].copy_from_slice(&twin.encode()[last..]);
    assert_eq!(
        decode_journal(l, &torn, j.expect()).unwrap_err(),
        FormatError::BadTrailerCode {
            stored: u32::from_le_bytes(twin.encode()[last + 32..last + 36].try_into().unwrap()),
            computed: u32::from_le_bytes(bytes[last + 32..last + 36].try_into().unwrap()),
        }
    );
    let other_ts = Journal::new(l, 1, 2, JournalMeta { ts: Ts(999), ..j.header.meta }, j.data.clone());
    let mut torn = bytes.clone();
    torn[last..].copy_from_slice(&other_ts.encode()[last..]);
    let err = decode_journal(l, &torn, j.expect()).unwrap_err();
    assert_eq!(err, FormatError::TrailerMismatch { block: 4 });
    assert_eq!(err.block(), Some(4));
    let intact: Vec<bool> = unit_tags(l, &torn, &j.header).iter().map(|t| t.intact).collect();
    assert_eq!(intact, [true, true, true, true, false]);
    // Not a journal at all.
    let ctl = encode_control(1, 2, &control_case().2);
    assert_eq!(
        decode_header(Layout::Embedded, &ctl, j.expect()),
        Err(FormatError::BadMagic { what: "protection data", block: 0, found: [0; 4] })
    );
    assert_eq!(
        decode_header(Layout::Extended, &[&ctl[..], &[0; 16]].concat(), j.expect()),
        Err(FormatError::BadCode { block: 0 })
    );
    assert_eq!(FormatError::BadCode { block: 7 }.to_string(), "block 7: error-detecting code 503 does not match");
    // Control and config version and magic.
    let (group, queue, info) = control_case();
    let mut rec = encode_control(group, queue, &info);
    rec[4] = 9;
    let code = rcrc(&rec[..BLOCK - 4]);
    rec[BLOCK - 4..].copy_from_slice(&code.to_le_bytes());
    assert_eq!(decode_control(&rec, group, queue, info.owner), Err(FormatError::UnsupportedVersion(9)));
    assert_eq!(
        decode_config(b"RCJX"),
        Err(FormatError::BadMagic { what: "configuration info", block: 0, found: *b"RCJX" })
    );
    assert_eq!(decode_config(&[]), Err(FormatError::Short { need: 4, got: 0 }));
    // Configuration records with a forged length or counts, and a right checksum.
    let forge = |edit: &dyn Fn(&mut Vec<u8>)| {
        let mut rec = encode_config(&good_config(1)).unwrap();
        edit(&mut rec);
        let n = rec.len();
        let code = rcrc(&rec[..n - 4]);
        rec[n - 4..].copy_from_slice(&code.to_le_bytes());
        decode_config(&rec)
    };
    assert_eq!(forge(&|_| {}), Ok(good_config(1)));
    assert_eq!(
        forge(&|r| r[8..12].copy_from_slice(&10u32.to_le_bytes())),
        Err(FormatError::BadLength { declared: 10, min: 28, max: MAX_CONFIG_LEN })
    );
    let len = encode_config(&good_config(1)).unwrap().len();
    // One more queue than the record holds: its contents run past the length.
    assert!(matches!(
        forge(&|r| r[22] = 5),
        Err(FormatError::LengthMismatch { declared, actual }) if declared as usize == len && actual > len
    ));
    // One queue fewer: the contents end before the checksum.
    assert!(matches!(
        forge(&|r| r[22] = 3),
        Err(FormatError::LengthMismatch { declared, actual }) if declared as usize == len && actual < len
    ));
    assert_eq!(forge(&|r| r[20] = 9), Err(FormatError::TooMany { what: "secondaries", max: 8, found: 9 }));
    assert_eq!(forge(&|r| r[28 + 4] = 7), Err(FormatError::BadQueueKind(7)));
}

/// Forged blocks: valid codes 503 over contents a correct writer never produces.
#[test]
fn forged_blocks_are_rejected() {
    for l in Layout::ALL {
        let j = Journal::simple(l, 1, 2, 3, vec![5; 1500]);
        let bytes = j.encode();
        let (phys, pay) = (l.physical(), l.payload());
        let total = j.total() as usize;
        let last_data = total - 2;
        // Set byte `at` of block `block` to `value`, then reseal the block's code 503.
        let forge = |block: usize, at: usize, value: u8| {
            let mut b = bytes.clone();
            let blk = &mut b[block * phys..(block + 1) * phys];
            blk[at] = value;
            let code = rcrc(&blk[..phys - 4]);
            blk[phys - 4..].copy_from_slice(&code.to_le_bytes());
            b
        };
        let cases = [
            // Padding after the data in the last data block.
            (last_data, pay - 1, 1, FormatError::Reserved { what: "data padding", block: last_data as u32 }),
            // The reserved bytes of the protection data.
            (2, pay + 6, 1, FormatError::Reserved { what: "protection data", block: 2 }),
            // A trailer's kind on a data block.
            (1, pay + 11, 3, FormatError::WrongKind { block: 1, expected: "data", found: 3 }),
            // Another layout's letter.
            (1, pay + 10, b'z', FormatError::BadMagic { what: "protection data", block: 1, found: *b"RJz\x02" }),
            // The zero tail of the header and of the trailer.
            (0, 40, 1, FormatError::Reserved { what: "header", block: 0 }),
            (total - 1, 40, 1, FormatError::Reserved { what: "trailer", block: total as u32 - 1 }),
            // The header's version and magic.
            (0, 4, 2, FormatError::UnsupportedVersion(2)),
            (0, 3, b'X', FormatError::BadMagic { what: "header", block: 0, found: *b"RCJX" }),
        ];
        for (block, at, value, want) in cases {
            let b = forge(block, at, value);
            assert_eq!(decode_journal(l, &b, j.expect()).unwrap_err(), want, "{l:?}: block {block} byte {at}");
            let tags = unit_tags(l, &b, &j.header);
            for (i, t) in tags.iter().enumerate() {
                assert_eq!(t.intact, i != block, "{l:?}: forged block {block}, tag {i}");
            }
        }
    }
}

/// CRC-32C, computed here independently (bitwise, reflected polynomial 0x82f63b78), to forge
/// records with a right checksum.
fn rcrc(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 { (crc >> 1) ^ 0x82f6_3b78 } else { crc >> 1 };
        }
    }
    !crc
}
