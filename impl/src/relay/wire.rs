//! The bytes of seed 001 on the wire: the log entry 211 (Fig. 8, note 2.7), the GbE frame 210
//! that carries log entries between edge and core devices (Fig. 14, note 3.1), and the
//! reassembly of a log entry that was divided into several frames.
//!
//! The note gives the fields of a log entry (801-805) and of a GbE frame (1421, 1422, 1423,
//! 1424) but no widths, no order and no checksum (3.6: the text has none). Everything below that
//! is not a numeral of the note is this module's choice. Every integer is fixed-width
//! big-endian (network order); every checksum is CRC-32C (Castagnoli, the `crc32c` crate).
//!
//! # The log entry 211, version 1
//!
//! ```text
//! offset  size  field
//! 0       4     magic "RCLE"
//! 4       1     format version (VERSION = 1)
//! 5       8     801 target storage WWN
//! 13      2     801 target volume LUN
//! 15      8     802 source storage WWN
//! 23      2     802 source volume LUN
//! 25      2     803 order assurance ID
//! 27      2     epoch (the hardened variant's; 0 in the faithful one)
//! 29      4     804 I/O time
//! 33      4     804 sequential number
//! 37      1     kind (805's RIO, explicit: Kind as u8, 1 WR .. 10 SOK)
//! 38      n     body, by kind (below)
//! 38+n    4     CRC-32C of bytes 0 .. 38+n
//!
//! WR    (1): block u32, count u16 (>= 1), len u32 (<= MAX_DATA), data[len]   n = 10 + len
//! DPOK  (8): bitmap u64 (TS's bitmap 1213)                                   n = 8
//! other:     nothing                                                         n = 0
//! ```
//!
//! An entry is self-delimiting (the kind fixes the body, whose only variable part is
//! length-prefixed), so entries can follow one another in a frame's log entry area. Every entry
//! has exactly one encoding, and [`decode_entry`] accepts only that encoding. The decoder is
//! zero-copy: a WR's data borrows from the input.
//!
//! # The GbE frame 210, version 1
//!
//! A frame is one UDP datagram. Its log entry area 1424 holds either several whole entries (the
//! plural of 1424: batching) or one fragment of one entry too large for a frame alone ("a RIO or
//! log entry may be divided into a plurality of frames", l. 352).
//!
//! ```text
//! offset  size  field
//! 0       4     magic "RCGF"
//! 4       1     format version (VERSION = 1)
//! 5       1     frame kind: 1 entries, 2 fragment
//! 6       4     1421 transfer-source IP
//! 10      4     1422 transfer-destination IP
//! 14      4     message id (1423; one per frame of entries, one per divided entry)
//! 18      m     by kind (below)
//! 18+m    4     CRC-32C of bytes 0 .. 18+m
//!
//! entries  (1): count u16 (>= 1), area length u32, area: `count` whole entries
//!               back to back, exactly filling it                          m = 6 + area
//! fragment (2): index u16, fragment count u16 (>= 2), entry length u32,
//!               chunk (its length follows from the three, below)          m = 8 + chunk
//! ```
//!
//! An entry of `L` bytes divided into `k` fragments is cut into chunks of `c = ceil(L / k)`
//! bytes, the last one possibly shorter: chunk `i` is bytes `i*c .. min((i+1)*c, L)` of the
//! encoded entry, and the last chunk must not be empty. The chunk's length is therefore not on
//! the wire, and a fragment has one encoding. [`FrameEncoder`] packs whole entries, in order, into frames
//! of at most `max_frame_len` bytes, and divides an entry only when it does not fit in a frame
//! alone, into as few fragments as fit; all fragments of an entry share one message id.
//!
//! # Decoding untrusted bytes
//!
//! [`decode_entry`] and [`decode_frame`] never panic and never copy or allocate from the input
//! (the one allocation is the box of a [`WireError::BadEntry`]). They check, in this order, the
//! magic, the version (so that a later version may change everything after it), the kind, the
//! fields that delimit the record (an entry's data length against [`MAX_DATA`]; a frame's area
//! length or fragment shape against [`MAX_FRAME_LEN`], [`MAX_ENTRY_LEN`] and
//! [`MAX_FRAGMENTS`]), that the record and its checksum are present, the checksum, and that
//! nothing follows the record. Only then are the remaining fields interpreted (a WR's count, a
//! frame's entries, each with its own checksum). The first failure is returned as a
//! [`WireError`].
//!
//! # Reassembly
//!
//! [`Reassembler`] collects the fragments of divided entries, keyed by (transfer-source IP,
//! message id), and hands up an entry only when every fragment of it is present and the whole
//! decodes as an entry (its own checksum included): never a partial entry (note 3.1). It holds
//! at most `SLOTS` partial entries of at most [`MAX_ENTRY_LEN`] bytes each; a new message that
//! finds every slot taken evicts the oldest partial entry. It ignores duplicated fragments, and
//! drops a partial entry when a fragment contradicts it.

use super::types::{Addr, Bitmap, Block, Body, Epoch, Id, Kind, LogEntry, Lun, Seq, Time, VolRef, Wwn};
use crc32c::crc32c;
use std::ops::Range;

/// The first four bytes of every encoded log entry.
pub const ENTRY_MAGIC: [u8; 4] = *b"RCLE";

/// The first four bytes of every GbE frame.
pub const FRAME_MAGIC: [u8; 4] = *b"RCGF";

/// The format version of entries and frames this module writes, and the only one it reads.
pub const VERSION: u8 = 1;

/// The most data a WR entry may carry: 1 MiB.
pub const MAX_DATA: usize = 1 << 20;

/// A trailing CRC-32C.
pub const CHECKSUM_LEN: usize = 4;

/// An entry's bytes before its body: magic, version, 801-804, epoch, kind.
pub const ENTRY_HEADER_LEN: usize = 38;

/// A WR body before its data: block, count, data length.
pub const WR_FIXED: usize = 10;

/// A DPOK body: the bitmap.
pub const DPOK_BODY: usize = 8;

/// Where a WR entry's data starts.
pub const DATA_OFFSET: usize = ENTRY_HEADER_LEN + WR_FIXED;

/// The shortest entry: a kind without a body.
pub const MIN_ENTRY_LEN: usize = ENTRY_HEADER_LEN + CHECKSUM_LEN;

/// The longest entry: a WR with [`MAX_DATA`] bytes.
pub const MAX_ENTRY_LEN: usize = DATA_OFFSET + MAX_DATA + CHECKSUM_LEN;

/// A frame's bytes before its kind's fields: magic, version, kind, 1421, 1422, message id.
pub const FRAME_HEADER_LEN: usize = 18;

/// An entries frame's bytes before its area.
pub const ENTRIES_HEADER_LEN: usize = FRAME_HEADER_LEN + 6;

/// A fragment frame's bytes before its chunk.
pub const FRAGMENT_HEADER_LEN: usize = FRAME_HEADER_LEN + 8;

/// The smallest `max_frame_len` [`FrameEncoder`] accepts. It bounds the number of fragments of
/// an entry ([`MAX_FRAGMENTS`]).
pub const MIN_FRAME_LEN: usize = 512;

/// The largest frame: the largest UDP payload over IPv4.
pub const MAX_FRAME_LEN: usize = 65_507;

/// The most fragments of one entry: a [`MAX_ENTRY_LEN`] entry in frames of [`MIN_FRAME_LEN`].
pub const MAX_FRAGMENTS: usize = MAX_ENTRY_LEN.div_ceil(MIN_FRAME_LEN - FRAGMENT_HEADER_LEN - CHECKSUM_LEN);

/// Words of the reassembler's bitmap of received fragments.
const FRAGMENT_WORDS: usize = MAX_FRAGMENTS.div_ceil(64);

const _: () = assert!(MAX_DATA <= u32::MAX as usize, "the data length is a u32");
const _: () = assert!(MAX_ENTRY_LEN <= u32::MAX as usize, "the entry length is a u32");
const _: () = assert!(MAX_FRAGMENTS <= u16::MAX as usize, "the fragment count is a u16");
const _: () = assert!(MAX_FRAME_LEN / MIN_ENTRY_LEN <= u16::MAX as usize, "the entry count is a u16");
const _: () = assert!(ENTRIES_HEADER_LEN + MIN_ENTRY_LEN + CHECKSUM_LEN <= MIN_FRAME_LEN);
const _: () = assert!(MAX_ENTRY_LEN > MAX_FRAME_LEN, "a WR of MAX_DATA is divided");
const _: () = assert!(FRAGMENT_WORDS * 64 >= MAX_FRAGMENTS);

/// The frame kind byte.
pub mod frame_kind {
    /// Whole log entries.
    pub const ENTRIES: u8 = 1;
    /// One fragment of one log entry.
    pub const FRAGMENT: u8 = 2;
}

/// Why bytes are not an entry or a frame, or why a value cannot be encoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// The bytes end before the record does.
    #[error("truncated: {needed} bytes needed, {available} available")]
    Truncated { needed: usize, available: usize },
    /// Not [`ENTRY_MAGIC`] (decoding an entry) or [`FRAME_MAGIC`] (decoding a frame).
    #[error("bad magic {found:02x?}")]
    BadMagic { found: [u8; 4] },
    /// A format version this build does not read.
    #[error("unsupported relay wire format version {found} (this build reads version {VERSION})")]
    UnsupportedVersion { found: u8 },
    /// An entry's kind byte that is no [`Kind`].
    #[error("unknown log entry kind {found}")]
    UnknownKind { found: u8 },
    /// A frame kind byte that is none of [`frame_kind`].
    #[error("unknown frame kind {found}")]
    UnknownFrameKind { found: u8 },
    /// WR data longer than [`MAX_DATA`] (declared on decode, or given to an encoder).
    #[error("WR data of {len} bytes exceeds the maximum of {max}")]
    DataTooLarge { len: u64, max: usize },
    /// A WR of no blocks.
    #[error("WR entry with a block count of 0")]
    ZeroCount,
    /// The CRC-32C in the record does not match its contents.
    #[error("checksum mismatch: record says {expected:#010x}, contents give {computed:#010x}")]
    BadChecksum { expected: u32, computed: u32 },
    /// Bytes follow a complete record.
    #[error("{extra} bytes follow the record")]
    TrailingBytes { extra: usize },
    /// A fragment declares an entry longer than [`MAX_ENTRY_LEN`].
    #[error("fragment of an entry of {len} bytes, more than the maximum of {max}")]
    EntryTooLarge { len: u64, max: usize },
    /// A frame whose declared lengths make it longer than [`MAX_FRAME_LEN`].
    #[error("frame of {len} bytes, more than the maximum of {max}")]
    FrameTooLarge { len: u64, max: usize },
    /// A fragment's index, count and entry length that this format never produces: fewer than
    /// 2 or more than [`MAX_FRAGMENTS`] fragments, an index not below the count, an entry
    /// shorter than [`MIN_ENTRY_LEN`], or an empty last chunk (or, for [`encode_frame`], a
    /// chunk of the wrong length).
    #[error("fragment {index} of {count} of an entry of {entry_len} bytes is not a fragment of this format")]
    BadFragment { index: u16, count: u16, entry_len: u32 },
    /// An entries frame of no entries.
    #[error("entries frame without entries")]
    EmptyFrame,
    /// The entries of a frame do not fill its area exactly.
    #[error("{entries} entries do not fill an area of {area_len} bytes exactly")]
    AreaMismatch { entries: u16, area_len: u32 },
    /// Entry `index` of an entries frame is not an entry.
    #[error("entry {index} of the frame: {error}")]
    BadEntry { index: u16, error: Box<WireError> },
    /// A `max_frame_len` outside [`MIN_FRAME_LEN`] ..= [`MAX_FRAME_LEN`].
    #[error("maximum frame length {len} outside {min}..={max}")]
    MaxFrameLen { len: usize, min: usize, max: usize },
}

// ---------------------------------------------------------------------------------------------
// Log entries
// ---------------------------------------------------------------------------------------------

/// The same entry with its data mapped by `f`.
fn map_entry<A, B>(e: LogEntry<A>, f: impl FnOnce(A) -> B) -> LogEntry<B> {
    let body = match e.body {
        Body::Wr { block, count, data } => Body::Wr { block, count, data: f(data) },
        Body::Wrok => Body::Wrok,
        Body::PairCreate => Body::PairCreate,
        Body::Icok => Body::Icok,
        Body::Duplex => Body::Duplex,
        Body::Dok => Body::Dok,
        Body::Resync => Body::Resync,
        Body::Dpok(b) => Body::Dpok(b),
        Body::Suspend => Body::Suspend,
        Body::Sok => Body::Sok,
    };
    LogEntry { target: e.target, source: e.source, id: e.id, epoch: e.epoch, time: e.time, seq: e.seq, body }
}

/// The entry with its data borrowed.
pub fn borrow_entry<D: AsRef<[u8]>>(e: &LogEntry<D>) -> LogEntry<&[u8]> {
    let body = match &e.body {
        Body::Wr { block, count, data } => Body::Wr { block: *block, count: *count, data },
        Body::Wrok => Body::Wrok,
        Body::PairCreate => Body::PairCreate,
        Body::Icok => Body::Icok,
        Body::Duplex => Body::Duplex,
        Body::Dok => Body::Dok,
        Body::Resync => Body::Resync,
        Body::Dpok(b) => Body::Dpok(*b),
        Body::Suspend => Body::Suspend,
        Body::Sok => Body::Sok,
    };
    let e = LogEntry { target: e.target, source: e.source, id: e.id, epoch: e.epoch, time: e.time, seq: e.seq, body };
    map_entry(e, |d: &D| d.as_ref())
}

/// A decoded entry with its data copied out of the input.
pub fn to_owned_entry(e: &LogEntry<&[u8]>) -> LogEntry<Vec<u8>> {
    map_entry(*e, <[u8]>::to_vec)
}

/// The length of `e`'s encoding, or why it has none: WR data longer than [`MAX_DATA`]
/// ([`WireError::DataTooLarge`]) or a WR count of 0 ([`WireError::ZeroCount`]).
pub fn entry_len<D: AsRef<[u8]>>(e: &LogEntry<D>) -> Result<usize, WireError> {
    let body = match &e.body {
        Body::Wr { count, data, .. } => {
            let len = data.as_ref().len();
            if len > MAX_DATA {
                return Err(WireError::DataTooLarge { len: len as u64, max: MAX_DATA });
            }
            if *count == 0 {
                return Err(WireError::ZeroCount);
            }
            WR_FIXED + len
        }
        Body::Dpok(_) => DPOK_BODY,
        _ => 0,
    };
    Ok(ENTRY_HEADER_LEN + body + CHECKSUM_LEN)
}

fn put_vol(out: &mut Vec<u8>, v: VolRef) {
    out.extend_from_slice(&v.wwn.0.to_be_bytes());
    out.extend_from_slice(&v.lun.0.to_be_bytes());
}

/// Append the encoding of `e` to `out` (layout in the module documentation). On an error
/// (see [`entry_len`]) nothing is appended.
pub fn encode_entry<D: AsRef<[u8]>>(e: &LogEntry<D>, out: &mut Vec<u8>) -> Result<(), WireError> {
    let len = entry_len(e)?;
    out.reserve(len);
    let start = out.len();
    out.extend_from_slice(&ENTRY_MAGIC);
    out.push(VERSION);
    put_vol(out, e.target);
    put_vol(out, e.source);
    out.extend_from_slice(&e.id.0.to_be_bytes());
    out.extend_from_slice(&e.epoch.0.to_be_bytes());
    out.extend_from_slice(&e.time.0.to_be_bytes());
    out.extend_from_slice(&e.seq.0.to_be_bytes());
    out.push(e.kind() as u8);
    match &e.body {
        Body::Wr { block, count, data } => {
            let data = data.as_ref();
            out.extend_from_slice(&block.0.to_be_bytes());
            out.extend_from_slice(&count.to_be_bytes());
            // Fits: entry_len checked it against MAX_DATA, which fits a u32.
            out.extend_from_slice(&(data.len() as u32).to_be_bytes());
            out.extend_from_slice(data);
        }
        Body::Dpok(bitmap) => out.extend_from_slice(&bitmap.0.to_be_bytes()),
        _ => {}
    }
    let crc = crc32c(out.get(start..).unwrap_or_default());
    out.extend_from_slice(&crc.to_be_bytes());
    debug_assert_eq!(out.len() - start, len);
    Ok(())
}

/// A bounds-checked cursor over untrusted bytes.
struct Cursor<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    fn new(bytes: &'a [u8]) -> Cursor<'a> {
        Cursor { bytes, at: 0 }
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], WireError> {
        let needed = self.at.saturating_add(n);
        match self.bytes.get(self.at..needed) {
            Some(s) => {
                self.at = needed;
                Ok(s)
            }
            None => Err(WireError::Truncated { needed, available: self.bytes.len() }),
        }
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], WireError> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N)?);
        Ok(a)
    }

    fn u8(&mut self) -> Result<u8, WireError> {
        Ok(self.take(1)?.first().copied().unwrap_or_default())
    }

    fn u16(&mut self) -> Result<u16, WireError> {
        self.array().map(u16::from_be_bytes)
    }

    fn u32(&mut self) -> Result<u32, WireError> {
        self.array().map(u32::from_be_bytes)
    }

    fn u64(&mut self) -> Result<u64, WireError> {
        self.array().map(u64::from_be_bytes)
    }

    fn vol(&mut self) -> Result<VolRef, WireError> {
        Ok(VolRef { wwn: Wwn(self.u64()?), lun: Lun(self.u16()?) })
    }

    /// Magic and version.
    fn preamble(&mut self, magic: [u8; 4]) -> Result<(), WireError> {
        let found: [u8; 4] = self.array()?;
        if found != magic {
            return Err(WireError::BadMagic { found });
        }
        match self.u8()? {
            VERSION => Ok(()),
            found => Err(WireError::UnsupportedVersion { found }),
        }
    }

    /// Read the CRC-32C that follows the bytes read so far and check it against them.
    fn checksum(&mut self) -> Result<(), WireError> {
        let covered = self.bytes.get(..self.at).unwrap_or_default();
        let expected = self.u32()?;
        let computed = crc32c(covered);
        if expected != computed {
            return Err(WireError::BadChecksum { expected, computed });
        }
        Ok(())
    }

    /// The bytes that follow a record read whole, as an error.
    fn end(&self) -> Result<(), WireError> {
        match self.bytes.len().saturating_sub(self.at) {
            0 => Ok(()),
            extra => Err(WireError::TrailingBytes { extra }),
        }
    }
}

/// Decode the entry at the start of `bytes` (entries back to back, as in a frame's area).
/// Returns the entry, whose data borrows from `bytes`, and the length of its encoding; whatever
/// follows is not looked at. Never panics and never allocates.
pub fn decode_entry_prefix(bytes: &[u8]) -> Result<(LogEntry<&[u8]>, usize), WireError> {
    let mut c = Cursor::new(bytes);
    c.preamble(ENTRY_MAGIC)?;
    let (target, source) = (c.vol()?, c.vol()?);
    let (id, epoch, time, seq) = (Id(c.u16()?), Epoch(c.u16()?), Time(c.u32()?), Seq(c.u32()?));
    let found = c.u8()?;
    let kind = Kind::from_u8(found).ok_or(WireError::UnknownKind { found })?;
    let body = match kind {
        Kind::Wr => {
            let (block, count, len) = (Block(c.u32()?), c.u16()?, c.u32()?);
            if len as u64 > MAX_DATA as u64 {
                return Err(WireError::DataTooLarge { len: u64::from(len), max: MAX_DATA });
            }
            // len <= MAX_DATA: the conversion is exact.
            Body::Wr { block, count, data: c.take(len as usize)? }
        }
        Kind::Dpok => Body::Dpok(Bitmap(c.u64()?)),
        bare => Body::bare(bare).ok_or(WireError::UnknownKind { found })?,
    };
    c.checksum()?;
    if let Body::Wr { count: 0, .. } = body {
        return Err(WireError::ZeroCount);
    }
    Ok((LogEntry { target, source, id, epoch, time, seq, body }, c.at))
}

/// Decode exactly one entry: `bytes` must be its whole encoding and nothing else. The WR data
/// borrows from `bytes`. Never panics and never allocates, whatever `bytes` holds.
pub fn decode_entry(bytes: &[u8]) -> Result<LogEntry<&[u8]>, WireError> {
    let (e, len) = decode_entry_prefix(bytes)?;
    match bytes.len().saturating_sub(len) {
        0 => Ok(e),
        extra => Err(WireError::TrailingBytes { extra }),
    }
}

// ---------------------------------------------------------------------------------------------
// Frames
// ---------------------------------------------------------------------------------------------

/// A decoded GbE frame 210.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Frame<'a> {
    /// 1421: the transfer-source IP.
    pub src: Addr,
    /// 1422: the transfer-destination IP.
    pub dst: Addr,
    /// The message id: of this frame's entries, or of the divided entry this fragment is of.
    pub msg_id: u32,
    /// 1424: the log entry area.
    pub payload: Payload<'a>,
}

/// What a frame's log entry area 1424 holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Payload<'a> {
    /// Whole entries.
    Entries(Entries<'a>),
    /// One fragment of one entry.
    Fragment(Fragment<'a>),
}

/// The whole entries of a decoded frame: an area checked to hold exactly `len()` valid entries,
/// decoded (again, borrowing) as they are iterated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Entries<'a> {
    area: &'a [u8],
    count: u16,
}

impl<'a> Entries<'a> {
    /// The number of entries (at least 1).
    pub fn len(&self) -> usize {
        usize::from(self.count)
    }

    /// Never true for a decoded frame.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The area's bytes: the entries' encodings back to back.
    pub fn area(&self) -> &'a [u8] {
        self.area
    }

    /// The entries, in order, their data borrowing from the frame.
    pub fn iter(&self) -> EntryIter<'a> {
        EntryIter { rest: self.area, left: self.count }
    }
}

impl<'a> IntoIterator for &Entries<'a> {
    type Item = LogEntry<&'a [u8]>;
    type IntoIter = EntryIter<'a>;

    fn into_iter(self) -> EntryIter<'a> {
        self.iter()
    }
}

/// The entries of an [`Entries`], in order.
#[derive(Clone, Debug)]
pub struct EntryIter<'a> {
    rest: &'a [u8],
    left: u16,
}

impl<'a> Iterator for EntryIter<'a> {
    type Item = LogEntry<&'a [u8]>;

    fn next(&mut self) -> Option<LogEntry<&'a [u8]>> {
        if self.left == 0 {
            return None;
        }
        // The area was checked when the frame was decoded; should it fail now, stop.
        match decode_entry_prefix(self.rest) {
            Ok((e, len)) => {
                self.rest = self.rest.get(len..).unwrap_or_default();
                self.left -= 1;
                Some(e)
            }
            Err(_) => {
                self.left = 0;
                None
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (0, Some(usize::from(self.left)))
    }
}

/// One fragment of a divided entry: chunk `index` of `count` of the entry's `entry_len` bytes
/// (see the module documentation for where each chunk starts).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fragment<'a> {
    pub index: u16,
    pub count: u16,
    pub entry_len: u32,
    pub chunk: &'a [u8],
}

impl Fragment<'_> {
    /// The bytes of the entry this fragment's chunk is, or why the fragment is not one of this
    /// format (its chunk length included).
    pub fn range(&self) -> Result<Range<usize>, WireError> {
        let range = chunk_range(self.index, self.count, self.entry_len)?;
        if range.len() != self.chunk.len() {
            return Err(self.bad());
        }
        Ok(range)
    }

    fn bad(&self) -> WireError {
        WireError::BadFragment { index: self.index, count: self.count, entry_len: self.entry_len }
    }
}

/// Bytes `i*c .. min((i+1)*c, L)` of an entry of `L = entry_len` bytes in `count` fragments of
/// `c = ceil(L / count)`, or why (`index`, `count`, `entry_len`) is not a fragment.
fn chunk_range(index: u16, count: u16, entry_len: u32) -> Result<Range<usize>, WireError> {
    let bad = WireError::BadFragment { index, count, entry_len };
    if entry_len as u64 > MAX_ENTRY_LEN as u64 {
        return Err(WireError::EntryTooLarge { len: u64::from(entry_len), max: MAX_ENTRY_LEN });
    }
    let (i, k, len) = (usize::from(index), usize::from(count), entry_len as usize);
    if !(2..=MAX_FRAGMENTS).contains(&k) || i >= k || len < MIN_ENTRY_LEN {
        return Err(bad);
    }
    let c = len.div_ceil(k);
    // No overflow: k <= MAX_FRAGMENTS and c <= len <= MAX_ENTRY_LEN.
    if (k - 1) * c >= len {
        return Err(bad);
    }
    let start = i * c;
    Ok(start..(start + c).min(len))
}

fn put_frame_header(out: &mut Vec<u8>, kind: u8, src: Addr, dst: Addr, msg_id: u32) {
    out.extend_from_slice(&FRAME_MAGIC);
    out.push(VERSION);
    out.push(kind);
    out.extend_from_slice(&src.0.to_be_bytes());
    out.extend_from_slice(&dst.0.to_be_bytes());
    out.extend_from_slice(&msg_id.to_be_bytes());
}

fn put_checksum(out: &mut Vec<u8>, start: usize) {
    let crc = crc32c(out.get(start..).unwrap_or_default());
    out.extend_from_slice(&crc.to_be_bytes());
}

/// Write the entries header's count and area length of the frame started at `start`, then its
/// checksum.
fn finish_entries(out: &mut Vec<u8>, start: usize, count: u16) {
    let area = out.len() - start - ENTRIES_HEADER_LEN;
    if let Some(h) = out.get_mut(start + FRAME_HEADER_LEN..start + ENTRIES_HEADER_LEN) {
        h[..2].copy_from_slice(&count.to_be_bytes());
        // Fits: an area is at most MAX_FRAME_LEN bytes.
        h[2..].copy_from_slice(&(area as u32).to_be_bytes());
    }
    put_checksum(out, start);
}

fn put_fragment(out: &mut Vec<u8>, src: Addr, dst: Addr, msg_id: u32, f: &Fragment<'_>) {
    let start = out.len();
    put_frame_header(out, frame_kind::FRAGMENT, src, dst, msg_id);
    out.extend_from_slice(&f.index.to_be_bytes());
    out.extend_from_slice(&f.count.to_be_bytes());
    out.extend_from_slice(&f.entry_len.to_be_bytes());
    out.extend_from_slice(f.chunk);
    put_checksum(out, start);
}

/// Append the encoding of a frame value to `out`: the inverse of [`decode_frame`] (a decoded
/// frame re-encodes to the same bytes). [`FrameEncoder`] is what makes frames from entries.
/// Fails, appending nothing, with [`WireError::BadFragment`] for a fragment whose chunk does not
/// fit its index, count and entry length, or [`WireError::FrameTooLarge`].
pub fn encode_frame(frame: &Frame<'_>, out: &mut Vec<u8>) -> Result<(), WireError> {
    let (src, dst, msg_id) = (frame.src, frame.dst, frame.msg_id);
    let len = match &frame.payload {
        Payload::Entries(es) => {
            if es.is_empty() {
                return Err(WireError::EmptyFrame);
            }
            ENTRIES_HEADER_LEN + es.area.len() + CHECKSUM_LEN
        }
        Payload::Fragment(f) => FRAGMENT_HEADER_LEN + f.range()?.len() + CHECKSUM_LEN,
    };
    if len > MAX_FRAME_LEN {
        return Err(WireError::FrameTooLarge { len: len as u64, max: MAX_FRAME_LEN });
    }
    match &frame.payload {
        Payload::Entries(es) => {
            let start = out.len();
            out.reserve(len);
            put_frame_header(out, frame_kind::ENTRIES, src, dst, msg_id);
            out.extend_from_slice(&[0; ENTRIES_HEADER_LEN - FRAME_HEADER_LEN]);
            let mut n = 0u16;
            for e in es {
                if let Err(err) = encode_entry(&e, out) {
                    out.truncate(start);
                    return Err(WireError::BadEntry { index: n, error: Box::new(err) });
                }
                n += 1;
            }
            if n != es.count || out.len() - start != len - CHECKSUM_LEN {
                out.truncate(start);
                return Err(WireError::AreaMismatch { entries: es.count, area_len: es.area.len() as u32 });
            }
            finish_entries(out, start, n);
        }
        Payload::Fragment(f) => put_fragment(out, src, dst, msg_id, f),
    }
    Ok(())
}

/// Decode exactly one frame (one datagram): never panics, whatever `bytes` holds, and allocates
/// nothing but the box of a [`WireError::BadEntry`]. Whole entries are checked here, each with its own checksum; a fragment's chunk is
/// not looked into (see [`Reassembler`]).
pub fn decode_frame(bytes: &[u8]) -> Result<Frame<'_>, WireError> {
    let mut c = Cursor::new(bytes);
    c.preamble(FRAME_MAGIC)?;
    let kind = c.u8()?;
    if kind != frame_kind::ENTRIES && kind != frame_kind::FRAGMENT {
        return Err(WireError::UnknownFrameKind { found: kind });
    }
    let (src, dst, msg_id) = (Addr(c.u32()?), Addr(c.u32()?), c.u32()?);
    let payload = if kind == frame_kind::ENTRIES {
        let (count, area_len) = (c.u16()?, c.u32()?);
        let len = (ENTRIES_HEADER_LEN + CHECKSUM_LEN) as u64 + u64::from(area_len);
        if len > MAX_FRAME_LEN as u64 {
            return Err(WireError::FrameTooLarge { len, max: MAX_FRAME_LEN });
        }
        // area_len < MAX_FRAME_LEN: the conversion is exact.
        let area = c.take(area_len as usize)?;
        c.checksum()?;
        c.end()?;
        check_area(area, count)?;
        Payload::Entries(Entries { area, count })
    } else {
        let (index, count, entry_len) = (c.u16()?, c.u16()?, c.u32()?);
        let range = chunk_range(index, count, entry_len)?;
        let len = FRAGMENT_HEADER_LEN + range.len() + CHECKSUM_LEN;
        if len > MAX_FRAME_LEN {
            return Err(WireError::FrameTooLarge { len: len as u64, max: MAX_FRAME_LEN });
        }
        let chunk = c.take(range.len())?;
        c.checksum()?;
        c.end()?;
        Payload::Fragment(Fragment { index, count, entry_len, chunk })
    };
    Ok(Frame { src, dst, msg_id, payload })
}

/// That `area` is exactly `count` (at least one) valid entries.
fn check_area(area: &[u8], count: u16) -> Result<(), WireError> {
    if count == 0 {
        return Err(WireError::EmptyFrame);
    }
    let mismatch = WireError::AreaMismatch { entries: count, area_len: area.len() as u32 };
    let mut rest = area;
    for index in 0..count {
        if rest.is_empty() {
            return Err(mismatch);
        }
        let (_, len) = decode_entry_prefix(rest).map_err(|e| WireError::BadEntry { index, error: Box::new(e) })?;
        rest = rest.get(len..).unwrap_or_default();
    }
    if !rest.is_empty() {
        return Err(mismatch);
    }
    Ok(())
}

/// Makes GbE frames from log entries, for one (source, destination) link, numbering messages.
#[derive(Clone, Debug)]
pub struct FrameEncoder {
    src: Addr,
    dst: Addr,
    max_frame_len: usize,
    next_msg_id: u32,
    /// The encoding of an entry being divided (kept to reuse its allocation).
    scratch: Vec<u8>,
}

impl FrameEncoder {
    /// An encoder of frames of at most `max_frame_len` bytes ([`MIN_FRAME_LEN`] ..=
    /// [`MAX_FRAME_LEN`]) from `src` to `dst`, whose first message id is `first_msg_id`.
    pub fn new(src: Addr, dst: Addr, max_frame_len: usize, first_msg_id: u32) -> Result<FrameEncoder, WireError> {
        if !(MIN_FRAME_LEN..=MAX_FRAME_LEN).contains(&max_frame_len) {
            return Err(WireError::MaxFrameLen { len: max_frame_len, min: MIN_FRAME_LEN, max: MAX_FRAME_LEN });
        }
        Ok(FrameEncoder { src, dst, max_frame_len, next_msg_id: first_msg_id, scratch: Vec::new() })
    }

    /// The message id the next message will take (ids wrap around).
    pub fn next_msg_id(&self) -> u32 {
        self.next_msg_id
    }

    fn take_msg_id(&mut self) -> u32 {
        let id = self.next_msg_id;
        self.next_msg_id = id.wrapping_add(1);
        id
    }

    /// Append to `frames` the frames of `entries`, in order: whole entries packed greedily into
    /// frames of at most `max_frame_len` bytes (a frame's message id is its own), and every
    /// entry that does not fit in a frame alone divided into fragments under one message id.
    /// If an entry cannot be encoded (see [`entry_len`]), nothing is appended and no message id
    /// is taken.
    pub fn encode<D: AsRef<[u8]>>(
        &mut self,
        entries: &[LogEntry<D>],
        frames: &mut Vec<Vec<u8>>,
    ) -> Result<(), WireError> {
        for e in entries {
            entry_len(e)?;
        }
        let whole_max = self.max_frame_len - ENTRIES_HEADER_LEN - CHECKSUM_LEN;
        // The frame being filled, and its number of entries.
        let mut open: Option<(Vec<u8>, u16)> = None;
        for e in entries {
            let len = entry_len(e)?;
            if len > whole_max {
                if let Some((frame, n)) = open.take() {
                    frames.push(Self::finish(frame, n));
                }
                self.divide(e, frames)?;
                continue;
            }
            if let Some((frame, n)) = open.take_if(|(f, _)| f.len() + len + CHECKSUM_LEN > self.max_frame_len) {
                frames.push(Self::finish(frame, n));
            }
            let (frame, n) = match &mut open {
                Some(o) => o,
                None => {
                    let mut f = Vec::with_capacity(self.max_frame_len);
                    put_frame_header(&mut f, frame_kind::ENTRIES, self.src, self.dst, self.take_msg_id());
                    f.extend_from_slice(&[0; ENTRIES_HEADER_LEN - FRAME_HEADER_LEN]);
                    open.insert((f, 0))
                }
            };
            encode_entry(e, frame)?;
            *n += 1;
        }
        if let Some((frame, n)) = open {
            frames.push(Self::finish(frame, n));
        }
        Ok(())
    }

    fn finish(mut frame: Vec<u8>, n: u16) -> Vec<u8> {
        finish_entries(&mut frame, 0, n);
        frame
    }

    /// The fragments of one entry too large for a frame alone.
    fn divide<D: AsRef<[u8]>>(&mut self, e: &LogEntry<D>, frames: &mut Vec<Vec<u8>>) -> Result<(), WireError> {
        let mut bytes = std::mem::take(&mut self.scratch);
        bytes.clear();
        encode_entry(e, &mut bytes)?;
        let len = bytes.len();
        let most = self.max_frame_len - FRAGMENT_HEADER_LEN - CHECKSUM_LEN;
        // count <= MAX_FRAGMENTS (most >= MIN_FRAME_LEN - 30, len <= MAX_ENTRY_LEN) and
        // count >= 2 (the entry did not fit whole, so len > most).
        let count = len.div_ceil(most) as u16;
        let msg_id = self.take_msg_id();
        for index in 0..count {
            let range = chunk_range(index, count, len as u32)?;
            let chunk = bytes.get(range).unwrap_or_default();
            let f = Fragment { index, count, entry_len: len as u32, chunk };
            let mut frame = Vec::with_capacity(FRAGMENT_HEADER_LEN + chunk.len() + CHECKSUM_LEN);
            put_fragment(&mut frame, self.src, self.dst, msg_id, &f);
            frames.push(frame);
        }
        self.scratch = bytes;
        Ok(())
    }
}

/// The frames of `entries` from `src` to `dst`, message ids from `msg_id_start` (see
/// [`FrameEncoder::encode`]).
pub fn encode_frames<D: AsRef<[u8]>>(
    src: Addr,
    dst: Addr,
    entries: &[LogEntry<D>],
    max_frame_len: usize,
    msg_id_start: u32,
) -> Result<Vec<Vec<u8>>, WireError> {
    let mut frames = Vec::new();
    FrameEncoder::new(src, dst, max_frame_len, msg_id_start)?.encode(entries, &mut frames)?;
    Ok(frames)
}

// ---------------------------------------------------------------------------------------------
// Reassembly
// ---------------------------------------------------------------------------------------------

/// Why a fragment did not go into reassembly, or why the entry it completed was dropped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReassemblyError {
    /// The fragment is not one of this format (only a fragment made by hand, not one
    /// [`decode_frame`] returned).
    #[error("bad fragment: {0}")]
    BadFragment(WireError),
    /// The fragment contradicts the partial entry of its message: another fragment count or
    /// entry length, or other bytes at the same index. The partial entry is dropped.
    #[error("fragment {index} of message {msg_id} from {src} contradicts the one held; the partial entry is dropped")]
    Conflict { src: Addr, msg_id: u32, index: u16 },
    /// Every fragment is present, but together they are not an entry. Dropped.
    #[error("message {msg_id} from {src} reassembled into no entry: {error}")]
    BadEntry { src: Addr, msg_id: u32, error: WireError },
}

/// A reassembled entry: its bytes, checked to be exactly one entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Assembled {
    src: Addr,
    msg_id: u32,
    bytes: Vec<u8>,
    /// The entry, its data as a range of `bytes`.
    entry: LogEntry<Range<usize>>,
}

impl Assembled {
    fn new(src: Addr, msg_id: u32, bytes: Vec<u8>) -> Result<Assembled, WireError> {
        let entry = map_entry(decode_entry(&bytes)?, |d| DATA_OFFSET..DATA_OFFSET + d.len());
        Ok(Assembled { src, msg_id, bytes, entry })
    }

    /// The entry, its data borrowing from [`Assembled::bytes`].
    pub fn entry(&self) -> LogEntry<&[u8]> {
        map_entry(self.entry.clone(), |r| self.bytes.get(r).unwrap_or_default())
    }

    /// The entry's encoding.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    pub fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }

    /// The transfer-source IP of its frames.
    pub fn src(&self) -> Addr {
        self.src
    }

    pub fn msg_id(&self) -> u32 {
        self.msg_id
    }
}

/// A partial entry in reassembly.
#[derive(Clone, Debug)]
struct Partial {
    src: Addr,
    msg_id: u32,
    count: u16,
    entry_len: u32,
    received: u16,
    /// Which fragments are in `buf`.
    have: [u64; FRAGMENT_WORDS],
    /// When reassembly started, on the reassembler's clock: the oldest is evicted first.
    born: u64,
    /// The entry's bytes, `entry_len` of them; the fragments not yet received are zero.
    buf: Vec<u8>,
}

impl Partial {
    fn has(&self, index: u16) -> bool {
        let i = usize::from(index);
        self.have.get(i / 64).is_some_and(|w| w & (1 << (i % 64)) != 0)
    }

    fn set(&mut self, index: u16) {
        let i = usize::from(index);
        if let Some(w) = self.have.get_mut(i / 64) {
            *w |= 1 << (i % 64);
        }
    }
}

/// Reassembly of divided entries from fragments (module documentation, "Reassembly"): at most
/// `SLOTS` partial entries at once, each of at most [`MAX_ENTRY_LEN`] bytes, so at most
/// `SLOTS` * [`MAX_ENTRY_LEN`] bytes of buffers. The `DONE` most recently completed messages
/// are remembered, so that a late duplicate of one of their fragments is ignored rather than
/// starting the message over; a fragment of a message completed before those may start it
/// over. A sender must therefore not reuse a message id within that window (the hardened
/// receiver's (ID, seq) dedup covers what is older).
#[derive(Clone, Debug)]
pub struct Reassembler<const SLOTS: usize, const DONE: usize = 64> {
    slots: [Option<Partial>; SLOTS],
    /// (source, message id) of the last `DONE` completed messages, a ring.
    done: [Option<(Addr, u32)>; DONE],
    done_next: usize,
    clock: u64,
    evictions: u64,
    duplicates: u64,
    conflicts: u64,
}

impl<const SLOTS: usize, const DONE: usize> Default for Reassembler<SLOTS, DONE> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const SLOTS: usize, const DONE: usize> Reassembler<SLOTS, DONE> {
    pub fn new() -> Self {
        const { assert!(SLOTS > 0, "a reassembler needs a slot") };
        Reassembler {
            slots: [const { None }; SLOTS],
            done: [None; DONE],
            done_next: 0,
            clock: 0,
            evictions: 0,
            duplicates: 0,
            conflicts: 0,
        }
    }

    /// Partial entries held now (at most `SLOTS`).
    pub fn in_progress(&self) -> usize {
        self.slots.iter().flatten().count()
    }

    /// Partial entries evicted by a new message that found every slot taken.
    pub fn evictions(&self) -> u64 {
        self.evictions
    }

    /// Fragments ignored as duplicates: of a fragment held, or of a message completed.
    pub fn duplicates(&self) -> u64 {
        self.duplicates
    }

    /// Partial entries dropped for a contradicting fragment.
    pub fn conflicts(&self) -> u64 {
        self.conflicts
    }

    /// Take the fragment `frag` of message `msg_id` from `src` (a [`Payload::Fragment`] of a
    /// decoded [`Frame`], with its `src` and `msg_id`). Returns the entry once its last
    /// fragment arrives, `None` while it is incomplete or if the fragment is a duplicate.
    /// Never panics.
    pub fn push(&mut self, src: Addr, msg_id: u32, frag: &Fragment<'_>) -> Result<Option<Assembled>, ReassemblyError> {
        let range = frag.range().map_err(ReassemblyError::BadFragment)?;
        if self.done.contains(&Some((src, msg_id))) {
            self.duplicates += 1;
            return Ok(None);
        }
        let i = match self.slots.iter().position(|s| s.as_ref().is_some_and(|p| p.src == src && p.msg_id == msg_id)) {
            Some(i) => i,
            None => self.open(src, msg_id, frag),
        };
        let Some(slot) = self.slots.get_mut(i) else { return Ok(None) };
        let Some(p) = slot.as_mut() else { return Ok(None) };
        let conflict = ReassemblyError::Conflict { src, msg_id, index: frag.index };
        if p.count != frag.count || p.entry_len != frag.entry_len {
            *slot = None;
            self.conflicts += 1;
            return Err(conflict);
        }
        let had = p.has(frag.index);
        let Some(held) = p.buf.get_mut(range) else {
            *slot = None;
            return Err(ReassemblyError::BadFragment(frag.bad()));
        };
        if had {
            if held == frag.chunk {
                self.duplicates += 1;
                return Ok(None);
            }
            *slot = None;
            self.conflicts += 1;
            return Err(conflict);
        }
        // Same length: `range` was checked against the chunk.
        held.copy_from_slice(frag.chunk);
        p.set(frag.index);
        p.received += 1;
        if p.received < p.count {
            return Ok(None);
        }
        let Some(p) = slot.take() else { return Ok(None) };
        if let Some(d) = self.done.get_mut(self.done_next) {
            *d = Some((src, msg_id));
            self.done_next = (self.done_next + 1) % DONE;
        }
        Assembled::new(src, msg_id, p.buf).map(Some).map_err(|error| ReassemblyError::BadEntry { src, msg_id, error })
    }

    /// A slot for a new message: a free one, or the oldest partial entry's, evicted. The buffer
    /// is allocated here, its length bounded by [`MAX_ENTRY_LEN`] (checked by `Fragment::range`).
    fn open(&mut self, src: Addr, msg_id: u32, frag: &Fragment<'_>) -> usize {
        let i = match self.slots.iter().position(Option::is_none) {
            Some(i) => i,
            None => {
                self.evictions += 1;
                self.slots
                    .iter()
                    .enumerate()
                    .min_by_key(|(_, s)| s.as_ref().map_or(0, |p| p.born))
                    .map_or(0, |(i, _)| i)
            }
        };
        let p = Partial {
            src,
            msg_id,
            count: frag.count,
            entry_len: frag.entry_len,
            received: 0,
            have: [0; FRAGMENT_WORDS],
            born: self.clock,
            buf: vec![0; frag.entry_len as usize],
        };
        self.clock += 1;
        if let Some(s) = self.slots.get_mut(i) {
            *s = Some(p);
        }
        i
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vol(wwn: u64, lun: u16) -> VolRef {
        VolRef { wwn: Wwn(wwn), lun: Lun(lun) }
    }

    fn entry(body: Body<&[u8]>) -> LogEntry<&[u8]> {
        LogEntry {
            target: vol(0x1122_3344_5566_7788, 0x99AA),
            source: vol(0x0102_0304_0506_0708, 0x090A),
            id: Id(0x0B0C),
            epoch: Epoch(0x0D0E),
            time: Time(0x1516_1718),
            seq: Seq(0x2526_2728),
            body,
        }
    }

    #[test]
    fn entry_layout() {
        let e = entry(Body::Wr { block: Block(0x3132_3334), count: 0x3536, data: b"xyz" });
        let mut b = Vec::new();
        encode_entry(&e, &mut b).unwrap();
        assert_eq!(b.len(), entry_len(&e).unwrap());
        assert_eq!(b.len(), DATA_OFFSET + 3 + CHECKSUM_LEN);
        assert_eq!(&b[0..4], b"RCLE");
        assert_eq!(b[4], VERSION);
        assert_eq!(b[5..13], 0x1122_3344_5566_7788u64.to_be_bytes());
        assert_eq!(b[13..15], [0x99, 0xAA]);
        assert_eq!(b[15..23], 0x0102_0304_0506_0708u64.to_be_bytes());
        assert_eq!(b[23..25], [0x09, 0x0A]);
        assert_eq!(b[25..27], [0x0B, 0x0C]);
        assert_eq!(b[27..29], [0x0D, 0x0E]);
        assert_eq!(b[29..33], [0x15, 0x16, 0x17, 0x18]);
        assert_eq!(b[33..37], [0x25, 0x26, 0x27, 0x28]);
        assert_eq!(b[37], Kind::Wr as u8);
        assert_eq!(ENTRY_HEADER_LEN, 38);
        assert_eq!(b[38..42], [0x31, 0x32, 0x33, 0x34]);
        assert_eq!(b[42..44], [0x35, 0x36]);
        assert_eq!(b[44..48], [0, 0, 0, 3]);
        assert_eq!(DATA_OFFSET, 48);
        assert_eq!(&b[48..51], b"xyz");
        assert_eq!(b[51..], crc32c(&b[..51]).to_be_bytes());
        assert_eq!(decode_entry(&b), Ok(e));

        let mut b = Vec::new();
        encode_entry(&entry(Body::Dpok(Bitmap(0x4142_4344_4546_4748))), &mut b).unwrap();
        assert_eq!(b.len(), ENTRY_HEADER_LEN + DPOK_BODY + CHECKSUM_LEN);
        assert_eq!(b[37], 8);
        assert_eq!(b[38..46], 0x4142_4344_4546_4748u64.to_be_bytes());

        for k in Kind::ALL {
            let Some(body) = Body::<&[u8]>::bare(k) else { continue };
            let mut b = Vec::new();
            encode_entry(&entry(body), &mut b).unwrap();
            assert_eq!(b.len(), MIN_ENTRY_LEN, "{k:?}");
            assert_eq!(b[37], k as u8);
        }
    }

    #[test]
    fn size_constants() {
        assert_eq!(MIN_ENTRY_LEN, 42);
        assert_eq!(MAX_ENTRY_LEN, 48 + (1 << 20) + 4);
        assert_eq!((ENTRIES_HEADER_LEN, FRAGMENT_HEADER_LEN), (24, 26));
        // The most fragments: every chunk as small as the smallest frame allows.
        let most = MIN_FRAME_LEN - FRAGMENT_HEADER_LEN - CHECKSUM_LEN;
        assert_eq!(MAX_FRAGMENTS, 2176);
        assert!((MAX_FRAGMENTS - 1) * most < MAX_ENTRY_LEN && MAX_FRAGMENTS * most >= MAX_ENTRY_LEN);
        // The encoder's largest division is one the decoder accepts.
        let count = MAX_ENTRY_LEN.div_ceil(most) as u16;
        assert!(chunk_range(count - 1, count, MAX_ENTRY_LEN as u32).is_ok());
    }

    #[test]
    fn frame_layout() {
        let e = entry(Body::Sok);
        let frames = encode_frames(Addr(0x0A00_0001), Addr(0x0A00_0002), &[e, e], 512, 0x5152_5354).unwrap();
        assert_eq!(frames.len(), 1);
        let f = &frames[0];
        assert_eq!(f.len(), ENTRIES_HEADER_LEN + 2 * MIN_ENTRY_LEN + CHECKSUM_LEN);
        assert_eq!(&f[0..4], b"RCGF");
        assert_eq!(f[4], VERSION);
        assert_eq!(f[5], frame_kind::ENTRIES);
        assert_eq!(f[6..10], [0x0A, 0, 0, 1]);
        assert_eq!(f[10..14], [0x0A, 0, 0, 2]);
        assert_eq!(f[14..18], [0x51, 0x52, 0x53, 0x54]);
        assert_eq!(f[18..20], [0, 2]);
        assert_eq!(f[20..24], (2 * MIN_ENTRY_LEN as u32).to_be_bytes());
        assert_eq!(&f[24..28], b"RCLE");
        let n = f.len() - CHECKSUM_LEN;
        assert_eq!(f[n..], crc32c(&f[..n]).to_be_bytes());

        let data = [7u8; 1000];
        let big = entry(Body::Wr { block: Block(1), count: 2, data: &data });
        let len = entry_len(&big).unwrap();
        let frames = encode_frames(Addr(1), Addr(2), &[big], 512, 9).unwrap();
        // 1052 bytes in chunks of at most 482: 3 fragments of ceil(1052 / 3) = 351, last 350.
        assert_eq!(len, 1052);
        assert_eq!(frames.len(), 3);
        for (i, f) in frames.iter().enumerate() {
            assert_eq!(f[5], frame_kind::FRAGMENT);
            assert_eq!(f[14..18], 9u32.to_be_bytes());
            assert_eq!(f[18..20], (i as u16).to_be_bytes());
            assert_eq!(f[20..22], [0, 3]);
            assert_eq!(f[22..26], (len as u32).to_be_bytes());
            let chunk = if i < 2 { 351 } else { 350 };
            assert_eq!(f.len(), FRAGMENT_HEADER_LEN + chunk + CHECKSUM_LEN);
        }
    }

    #[test]
    fn chunk_ranges() {
        assert_eq!(chunk_range(0, 3, 100), Ok(0..34));
        assert_eq!(chunk_range(2, 3, 100), Ok(68..100));
        // 26 fragments of ceil(100 / 26) = 4 bytes: the 26th would be empty.
        assert_eq!(chunk_range(0, 26, 100), Err(WireError::BadFragment { index: 0, count: 26, entry_len: 100 }));
        assert_eq!(chunk_range(33, 34, 100), Ok(99..100));
        assert_eq!(chunk_range(99, 100, 100), Ok(99..100));
        assert!(chunk_range(0, 1, 100).is_err());
        assert!(chunk_range(3, 3, 100).is_err());
        assert!(chunk_range(0, 2, MIN_ENTRY_LEN as u32 - 1).is_err());
        assert_eq!(
            chunk_range(0, 2, MAX_ENTRY_LEN as u32 + 1),
            Err(WireError::EntryTooLarge { len: MAX_ENTRY_LEN as u64 + 1, max: MAX_ENTRY_LEN })
        );
        assert!(chunk_range(0, MAX_FRAGMENTS as u16 + 1, MAX_ENTRY_LEN as u32).is_err());
    }
}
