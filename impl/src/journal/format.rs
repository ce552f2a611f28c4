//! The on-storage byte formats of seed 003 (`shared/protocols/seed-003.md`, sections 2.3-2.6
//! and 9): the protection data of every block written to the intermediate storage I, the
//! journal (update request 721) in its ring, the queue control info records 631/632, and the
//! configuration info 106.
//!
//! Numerals are the note's (the patent's figures). The note leaves the widths, the order of the
//! fields, the codes' algorithm and the magic numbers open; everything below that is not a
//! numeral of the note is this module's choice (the note's section 9 is itself an
//! INTERPRETATION). Every integer is fixed-width little-endian. Every code is CRC-32C
//! (Castagnoli). Offsets and sizes are in bytes unless stated.
//!
//! # Blocks and protection data 402 (Figs. 4-5, note 2.6)
//!
//! I is addressed in blocks of [`BLOCK`] = 512 bytes. Every block of a journal carries 16 bytes
//! of protection data 402 ([`PROTECTION`]), in one of two [`Layout`]s:
//!
//! * [`Layout::Extended`] (layout (b)): the physical block grows to 528 bytes, 512 bytes of
//!   payload followed by the 16 bytes of protection data, so that addresses do not change;
//! * [`Layout::Embedded`] (layout (a)): the physical block stays 512 bytes and its last 16 bytes
//!   hold the protection data, leaving 496 bytes of payload.
//!
//! In both, a physical block is `payload | protection`:
//!
//! ```text
//! protection data 402 (16 bytes, after the payload)
//! offset  size  field
//! 0       4     request identifier 501: the journal's request id 704
//! 4       2     serial number within the request 502: 0 for the header block, 1.. for the
//!               data blocks, data_blocks + 1 for the trailer block
//! 6       2     reserved, zero
//! 8       3     tag: "RJ" and the layout, 'a' (Embedded) or 'b' (Extended)
//! 11      1     block kind: 1 header 722, 2 data 723, 3 trailer 724
//! 12      4     error-detecting code 503: CRC-32C of the block's payload followed by
//!               bytes 0..12 of the protection data
//! ```
//!
//! # The journal 721 (Fig. 7, note 2.5)
//!
//! A journal of `size_bytes` bytes of host data occupies `1 + data_blocks + 1` contiguous
//! physical blocks ([`journal_blocks`]): a header block, `data_blocks = ceil(size_bytes /
//! payload)` data blocks ([`data_blocks`]) and a trailer block. The serial numbers 502 run
//! `0..data_blocks + 2` across all of them, so a journal has at most [`MAX_DATA_BLOCKS`] data
//! blocks (the serial is 16 bits). For a 2 MiB host write in the Extended layout that is 4096
//! data blocks and 4098 blocks in all.
//!
//! ```text
//! header 722: the first 32 bytes of the header block's payload (the rest is zero)
//! offset  size  field
//! 0       4     magic "RCJH"
//! 4       1     format version (VERSION = 1)
//! 5       1     request attribute 701
//! 6       2     volume id 706
//! 8       4     group id 702
//! 12      4     queue id 703
//! 16      4     request id 704
//! 20      4     time stamp 705
//! 24      4     address within the volume 707, in 512-byte blocks
//! 28      4     size 708: bytes of host data
//!
//! data 723: the host data, `payload` bytes per block; the last data block is zero-padded.
//!
//! trailer 724: the trailer block's payload (the rest is zero)
//! offset  size  field
//! 0       32    a copy of the header 722, but with the magic "RCJT"
//! 32      4     error-detecting code 709: CRC-32C of the 32 header bytes (magic "RCJH")
//!               followed by the `size_bytes` bytes of host data (not the padding)
//! ```
//!
//! The number of data blocks is not stored: it follows from the size 708 and the layout.
//!
//! # Control info record 631/632 (note 2.4)
//!
//! One 512-byte block, [`encode_control_record`] and [`decode_control_record`] (or
//! [`encode_control`] and [`decode_control`], which leave the sequence number out):
//!
//! ```text
//! offset  size  field
//! 0       4     magic "RCJC"
//! 4       1     format version (CONTROL_VERSION = 2)
//! 5       3     reserved, zero
//! 8       4     group id 616
//! 12      4     queue id 617
//! 16      4     owner device id 618: 0 for the primary, 1 + i for secondary i
//! 20      4     head position 619 (a logical position, Pos)
//! 24      4     size 620, in units
//! 28      4     heartbeat 621
//! 32      8     sequence number of the record in its area (see below)
//! 40      468   reserved, zero
//! 508     4     CRC-32C of bytes 0..508 (the sequence number included)
//! ```
//!
//! Version 1 had no sequence number (bytes 32..508 were all reserved) and one slot per area; a
//! version-1 record is refused ([`FormatError::UnsupportedVersion`]).
//!
//! # Control info area: two slots (INTERPRETATION)
//!
//! The owner rewrites its record in place while the other side reads it, and neither a file nor
//! a device makes a read atomic with a concurrent write (a reader can see half of each), nor a
//! write atomic with a crash. So a control area (the 615 bytes at 614) holds [`CONTROL_SLOTS`]
//! = 2 slots of one [`BLOCK`] each, [`CONTROL_AREA`] bytes in all, written alternately: the
//! owner's `k`th write carries sequence number `k` and goes to slot `k % 2`
//! ([`control_slot`]), so it never touches the slot that holds the newest whole record. A reader
//! decodes both slots and takes the valid one whose sequence number is the newer
//! ([`decode_control_area`], [`seq_newer`]: serial-number order, so that the sequence may wrap
//! at 2^64): a torn slot is the one being written, and the other slot holds the record before
//! it, whole. Only if neither slot is valid is the area unreadable
//! ([`FormatError::NoValidSlot`]). An owner that restarts reads both slots first and continues
//! after the newest valid sequence number (the rewrite then goes to the other slot: the torn one
//! if it crashed mid-write).
//!
//! # Configuration info 106 (Fig. 6, note 2.3)
//!
//! A variable-length record, at most [`MAX_CONFIG_LEN`] bytes, [`encode_config`] and
//! [`decode_config`]:
//!
//! ```text
//! offset  size  field
//! 0       4     magic "RCJG"
//! 4       1     format version (CONFIG_VERSION = 2)
//! 5       3     reserved, zero
//! 8       4     length of the whole record, checksum included
//! 12      4     group id 601
//! 16      4     primary subsystem id 602
//! 20      2     number of secondaries 603 (n, at most MAX_SECONDARIES)
//! 22      2     number of queues 605 (m, at most MAX_QUEUES)
//! 24      4n    secondary subsystem ids 604
//! ..            m times the per-queue info 606:
//!   0     4       queue id 607
//!   4     1       queue type 608: 1 message, 2 data
//!   5     1       reserved, zero
//!   6     2       number of secondary infos 612 (k, at most MAX_SECONDARIES)
//!   8     8       queue head (start) position 609, a byte offset on I
//!   16    8       queue size 610, in bytes
//!   24    16      primary info 611: a control location
//!   40    16k     secondary infos 612, one per secondary, each a control location
//! end-4   4     CRC-32C of every byte before it
//!
//! control location (16 bytes)
//!   0     4     issuer subsystem id 613
//!   4     8     head position 614: the byte offset of the control info on I
//!   12    4     size 615, in bytes: the whole control area, both slots
//! ```
//!
//! INTERPRETATION: 609 and 614 are offsets in one address space of I (the note has them in two
//! areas, 113 and 114, of one device); [`ConfigInfo::validate`] rejects any two areas that
//! overlap. Version 2 is the version whose control areas hold two slots: `validate` also
//! rejects a control area under [`CONTROL_AREA`] bytes (a version-1 configuration gave 512), and
//! a version-1 record is refused ([`FormatError::UnsupportedVersion`]).
//!
//! # Decoding untrusted bytes
//!
//! Whatever I holds may be corrupt, torn (a journal write cut short by a crash), stale (an
//! older lap of the ring) or foreign (another group's, queue's or owner's). No decoder here
//! panics on any input: every read is bounds-checked, every computation on a decoded value is
//! checked, and nothing is allocated from a decoded count before that count is bounded. Every
//! decoder checks a record's code before it interprets its fields (the configuration record
//! first checks the magic, version and length that delimit it), and then the fields in the
//! order the docs of each function give; the first failure is returned as a [`FormatError`]. The decoders are canonical: whatever they accept, the
//! matching encoder turns back into the same bytes (reserved bytes and padding must be zero).
//! Bytes after the end of a record are ignored, so that a reader may hand over a larger chunk
//! (the drain's method (2) of \[0138\]).

use super::{ControlInfo, JournalMeta, Owner, Pos, ReqId, Ts, UnitTag};
use crc32c::{crc32c, crc32c_append};
use serde::{Deserialize, Serialize};
use std::fmt;

/// The block size of the intermediate storage I, in bytes (note 2.6).
pub const BLOCK: usize = 512;

/// The size of the protection data 402 of one block, in bytes.
pub const PROTECTION: usize = 16;

/// The format version written into journal headers 722 (and their trailer copies), and the
/// only one read there.
pub const VERSION: u8 = 1;

/// The format version written into control info records 631/632, and the only one read: 2, the
/// record with a sequence number, two slots per area (version 1 had neither).
pub const CONTROL_VERSION: u8 = 2;

/// The format version written into the configuration info 106, and the only one read: 2, the
/// layout whose control areas hold [`CONTROL_SLOTS`] slots.
pub const CONFIG_VERSION: u8 = 2;

/// The slots of a control info area, written alternately (see the module docs).
pub const CONTROL_SLOTS: usize = 2;

/// The least size 615 of a control info area in a version-2 layout: [`CONTROL_SLOTS`] blocks.
pub const CONTROL_AREA: usize = CONTROL_SLOTS * BLOCK;

/// The most data blocks a journal may have: its serial numbers 502 (16 bits) run across the
/// header, the data blocks and the trailer.
pub const MAX_DATA_BLOCKS: u32 = u16::MAX as u32 - 1;

/// The size of the header 722 proper, at the start of the header block's payload.
pub const HEADER_LEN: usize = 32;

/// The magic of the header 722.
pub const HEADER_MAGIC: [u8; 4] = *b"RCJH";

/// The magic of the trailer's copy of the header.
pub const TRAILER_MAGIC: [u8; 4] = *b"RCJT";

/// The magic of a control info record 631/632.
pub const CONTROL_MAGIC: [u8; 4] = *b"RCJC";

/// The magic of the configuration info 106.
pub const CONFIG_MAGIC: [u8; 4] = *b"RCJG";

/// The most secondaries 603 a configuration may name.
pub const MAX_SECONDARIES: usize = 8;

/// The most queues 605 a configuration may name.
pub const MAX_QUEUES: usize = 16;

/// The fixed part of the configuration record, before the secondary ids.
const CONFIG_FIXED: usize = 24;
/// The fixed part of one per-queue info 606, before its secondary infos.
const QUEUE_FIXED: usize = 40;
/// One control location (613-615).
const LOCATION_LEN: usize = 16;
/// A trailing CRC-32C.
const CODE_LEN: usize = 4;

/// The longest configuration record: every count at its bound.
pub const MAX_CONFIG_LEN: usize =
    CONFIG_FIXED + 4 * MAX_SECONDARIES + MAX_QUEUES * (QUEUE_FIXED + LOCATION_LEN * MAX_SECONDARIES) + CODE_LEN;

/// The first two bytes of every block's tag (protection data bytes 8..10).
const TAG_MAGIC: [u8; 2] = *b"RJ";

/// Block kinds (protection data byte 11).
const KIND_HEADER: u8 = 1;
const KIND_DATA: u8 = 2;
const KIND_TRAILER: u8 = 3;

/// Queue types 608.
const QUEUE_MESSAGE: u8 = 1;
const QUEUE_DATA: u8 = 2;

/// Where the protection data 402 of each block goes (note 2.6).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub enum Layout {
    /// Layout (b): 512 payload bytes and a 16-byte protection trailer, 528 bytes a block.
    Extended,
    /// Layout (a): the last 16 bytes of each 512-byte block are the protection data, leaving
    /// 496 bytes of payload.
    Embedded,
}

impl Layout {
    /// Both layouts.
    pub const ALL: [Layout; 2] = [Layout::Extended, Layout::Embedded];

    /// The size of a physical block on I, protection data included.
    pub fn physical(self) -> usize {
        match self {
            Layout::Extended => BLOCK + PROTECTION,
            Layout::Embedded => BLOCK,
        }
    }

    /// The payload bytes of one physical block.
    pub fn payload(self) -> usize {
        self.physical() - PROTECTION
    }

    /// The largest `size_bytes` (708) a journal may have in this layout.
    pub fn max_size_bytes(self) -> u32 {
        // 65534 * 512 < 2^32.
        MAX_DATA_BLOCKS * self.payload() as u32
    }

    /// The layout letter in the tag of every block.
    fn letter(self) -> u8 {
        match self {
            Layout::Extended => b'b',
            Layout::Embedded => b'a',
        }
    }
}

/// The data blocks of a journal of `size_bytes` bytes of host data: `ceil(size_bytes /
/// payload)`.
pub fn data_blocks(layout: Layout, size_bytes: u32) -> u32 {
    let p = layout.payload() as u32;
    size_bytes.div_ceil(p)
}

/// The physical blocks a journal of `size_bytes` bytes of host data occupies: the header, the
/// data blocks and the trailer. (A journal over [`MAX_DATA_BLOCKS`] data blocks cannot be
/// encoded; this still counts its blocks.)
pub fn journal_blocks(layout: Layout, size_bytes: u32) -> u32 {
    // At most u32::MAX / 496 + 3: no overflow.
    data_blocks(layout, size_bytes) + 2
}

/// The logical checks 702/703 a reader applies to a journal's header: a journal of another
/// group or queue is [`FormatError::Foreign`].
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub struct Expect {
    /// Group id 702 expected.
    pub group: u32,
    /// Queue id 703 expected.
    pub queue: u32,
}

/// The header 722 of a journal (701-708).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub struct JournalHeader {
    /// Request attribute 701.
    pub attr: u8,
    /// Group id 702.
    pub group: u32,
    /// Queue id 703.
    pub queue: u32,
    /// Request id 704, time stamp 705, volume id 706, address 707; `meta.blocks` is the number
    /// of data blocks (derived from the size and the layout, not stored).
    pub meta: JournalMeta,
    /// Size 708: bytes of host data.
    pub size_bytes: u32,
}

impl JournalHeader {
    /// A header for `size_bytes` bytes of host data in `layout`: `meta.blocks` is set to the
    /// number of data blocks, whatever `meta` held. Fails with [`FormatError::TooLarge`] over
    /// [`MAX_DATA_BLOCKS`] data blocks.
    pub fn new(
        layout: Layout,
        attr: u8,
        group: u32,
        queue: u32,
        meta: JournalMeta,
        size_bytes: u32,
    ) -> Result<JournalHeader, FormatError> {
        let blocks = checked_data_blocks(layout, size_bytes)?;
        Ok(JournalHeader { attr, group, queue, meta: JournalMeta { blocks, ..meta }, size_bytes })
    }

    /// The physical blocks of the journal: `meta.blocks + 2`.
    pub fn total_blocks(&self) -> u32 {
        u32::from(self.meta.blocks) + 2
    }

    /// The bytes of the encoded journal in `layout`.
    pub fn encoded_len(&self, layout: Layout) -> usize {
        self.total_blocks() as usize * layout.physical()
    }

    /// The 32 bytes of the header 722 with `magic`.
    fn bytes(&self, magic: [u8; 4]) -> [u8; HEADER_LEN] {
        let mut h = [0u8; HEADER_LEN];
        let mut w = Writer(&mut h[..]);
        w.put(&magic);
        w.put(&[VERSION, self.attr]);
        w.put(&self.meta.volume.to_le_bytes());
        w.put(&self.group.to_le_bytes());
        w.put(&self.queue.to_le_bytes());
        w.put(&self.meta.id.0.to_le_bytes());
        w.put(&self.meta.ts.0.to_le_bytes());
        w.put(&self.meta.addr.to_le_bytes());
        w.put(&self.size_bytes.to_le_bytes());
        h
    }
}

/// The data 723 of a decoded journal, borrowed from the bytes it was decoded from: the data
/// blocks' payloads, truncated to the size 708.
#[derive(Clone, Copy)]
pub struct JournalData<'a> {
    layout: Layout,
    /// The data blocks, physical bytes (protection data included).
    blocks: &'a [u8],
    size: usize,
}

impl<'a> JournalData<'a> {
    /// The bytes of host data (the size 708).
    pub fn len(&self) -> usize {
        self.size
    }

    /// Whether the journal carries no host data.
    pub fn is_empty(&self) -> bool {
        self.size == 0
    }

    /// The host data, one slice per data block, in order (the last one shorter if the data
    /// does not fill it). Nothing is copied.
    pub fn chunks(&self) -> impl Iterator<Item = &'a [u8]> + 'a {
        let payload = self.layout.payload();
        let mut left = self.size;
        self.blocks.chunks(self.layout.physical()).map_while(move |b| {
            let n = left.min(payload);
            left -= n;
            if n == 0 {
                None
            } else {
                b.get(..n)
            }
        })
    }

    /// Append the host data to `out`.
    pub fn copy_to(&self, out: &mut Vec<u8>) {
        out.reserve(self.size);
        for c in self.chunks() {
            out.extend_from_slice(c);
        }
    }

    /// The host data, copied.
    pub fn to_vec(&self) -> Vec<u8> {
        let mut v = Vec::new();
        self.copy_to(&mut v);
        v
    }
}

impl fmt::Debug for JournalData<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JournalData").field("layout", &self.layout).field("len", &self.size).finish()
    }
}

/// An area of the intermediate storage named by the configuration info, for the errors of
/// [`ConfigInfo::validate`].
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub enum Area {
    /// The ring of queue 607 `queue` (609, 610).
    Queue {
        /// Queue id 607.
        queue: u32,
    },
    /// The primary control info 611 of queue `queue`.
    PrimaryControl {
        /// Queue id 607.
        queue: u32,
    },
    /// The secondary control info 612 of the `index`th secondary, of queue `queue`.
    SecondaryControl {
        /// Queue id 607.
        queue: u32,
        /// The secondary's index in 604 (and 612).
        index: usize,
    },
}

impl fmt::Display for Area {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Area::Queue { queue } => write!(f, "the ring of queue {queue}"),
            Area::PrimaryControl { queue } => write!(f, "the primary control info 611 of queue {queue}"),
            Area::SecondaryControl { queue, index } => {
                write!(f, "the control info 612 of secondary #{index} of queue {queue}")
            }
        }
    }
}

/// Why bytes are not a valid record, or a value cannot be encoded, or a configuration is not
/// valid. `block` is a block's index within its journal (0 for the header).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormatError {
    /// The bytes end before the record does.
    #[error("truncated: {need} bytes needed, {got} available")]
    Short {
        /// Bytes the record needs.
        need: usize,
        /// Bytes given.
        got: usize,
    },
    /// A magic number or a block's tag is not this format's.
    #[error("bad magic in the {what} of block {block}: found {found:02x?}")]
    BadMagic {
        /// Which magic: "protection data", "header", "control info" or "configuration info".
        what: &'static str,
        /// The block (0 for a control or configuration record).
        block: u32,
        /// The four bytes found (for protection data, its tag: magic, layout letter, kind).
        found: [u8; 4],
    },
    /// A format version this build does not read.
    #[error(
        "unsupported format version {0} (this build reads journal headers of version {VERSION}, \
         control records of version {CONTROL_VERSION}, configuration records of version {CONFIG_VERSION})"
    )]
    UnsupportedVersion(u8),
    /// A block's error-detecting code 503 does not match its contents: a media error or a torn
    /// write.
    #[error("block {block}: error-detecting code 503 does not match")]
    BadCode {
        /// The block.
        block: u32,
    },
    /// A block of the wrong kind at this place of the journal.
    #[error("block {block}: a {expected} block expected, found block kind {found}")]
    WrongKind {
        /// The block.
        block: u32,
        /// The kind expected: "header", "data" or "trailer".
        expected: &'static str,
        /// The kind byte found (1 header, 2 data, 3 trailer).
        found: u8,
    },
    /// A block's request identifier 501 is not the journal's request id 704: a block of
    /// another journal (a stale lap, a torn write) or another writer's.
    #[error("block {block}: request identifier 501 is {found}, the journal's request id is {expected}")]
    WrongRequest {
        /// The block.
        block: u32,
        /// The journal's request id 704.
        expected: u32,
        /// The block's 501.
        found: u32,
    },
    /// A block's serial number 502 is not its index within the journal.
    #[error("block {block}: serial number 502 is {found}, expected {expected}")]
    WrongSerial {
        /// The block.
        block: u32,
        /// The block's index.
        expected: u32,
        /// The block's 502.
        found: u32,
    },
    /// Reserved bytes or padding that must be zero are not.
    #[error("block {block}: reserved or padding bytes of the {what} are not zero")]
    Reserved {
        /// Which bytes: "protection data", "header", "data padding", "trailer", "control info"
        /// or "configuration info".
        what: &'static str,
        /// The block (0 for a control or configuration record).
        block: u32,
    },
    /// The trailer's copy of the header 724 differs from the header 722.
    #[error("block {block}: the trailer's copy of the header differs from the header")]
    TrailerMismatch {
        /// The trailer block.
        block: u32,
    },
    /// The trailer's error-detecting code 709 does not match the header and the data.
    #[error("trailer code 709 is {stored:#010x}, the header and data give {computed:#010x}")]
    BadTrailerCode {
        /// The code in the trailer.
        stored: u32,
        /// The code of the header and data read.
        computed: u32,
    },
    /// A record of another group, queue or owner (the logical checks 702/703, 616-618).
    #[error("foreign record: {field} is {found}, expected {expected}")]
    Foreign {
        /// "group", "queue" or "owner" (owners as encoded: 0 primary, 1 + i secondary i).
        field: &'static str,
        /// The value expected.
        expected: u32,
        /// The value found.
        found: u32,
    },
    /// The data given to the encoder is not the header's size 708.
    #[error("the header's size 708 is {declared} bytes but {got} bytes of data were given")]
    SizeMismatch {
        /// The header's size 708.
        declared: u32,
        /// The data's length.
        got: usize,
    },
    /// The header's `meta.blocks` given to the encoder is not the number of data blocks its
    /// size needs in the layout.
    #[error("the header says {declared} data blocks but its size needs {expected}")]
    BlockCountMismatch {
        /// `meta.blocks`.
        declared: u16,
        /// The data blocks the size 708 needs.
        expected: u32,
    },
    /// A journal too large for the serial numbers 502.
    #[error("a journal of {size_bytes} bytes exceeds the largest of {max} bytes in this layout")]
    TooLarge {
        /// The size 708.
        size_bytes: u32,
        /// The largest size in the layout.
        max: u32,
    },
    /// A control or configuration record's CRC-32C does not match its contents.
    #[error("{what}: checksum is {stored:#010x}, the contents give {computed:#010x}")]
    BadChecksum {
        /// "control info" or "configuration info".
        what: &'static str,
        /// The checksum in the record.
        stored: u32,
        /// The checksum of the contents.
        computed: u32,
    },
    /// Neither slot of a control info area holds a valid record ([`decode_control_area`]): what
    /// each slot's decoding found.
    #[error("neither slot of the control area holds a valid record (slot 0: {slot0}; slot 1: {slot1})")]
    NoValidSlot {
        /// Why slot 0 did not decode.
        slot0: Box<FormatError>,
        /// Why slot 1 did not decode.
        slot1: Box<FormatError>,
    },
    /// An owner device id 618 that is neither the primary (0) nor a secondary (1..=256).
    #[error("owner device id 618 is {0}, which names no device")]
    BadOwner(u32),
    /// A queue type 608 that is neither message (1) nor data (2).
    #[error("queue type 608 is {0}, neither message (1) nor data (2)")]
    BadQueueKind(u8),
    /// A configuration record's length field is out of range.
    #[error("configuration info: length field is {declared}, not within {min}..={max}")]
    BadLength {
        /// The length field.
        declared: u32,
        /// The shortest record (no secondaries, no queues).
        min: usize,
        /// The longest record, [`MAX_CONFIG_LEN`].
        max: usize,
    },
    /// A configuration record's length field disagrees with its contents (its counts).
    #[error("configuration info: length field is {declared}, the contents take {actual} bytes")]
    LengthMismatch {
        /// The length field.
        declared: u32,
        /// The bytes the contents take (at least, if they run past the length).
        actual: usize,
    },
    /// A count over its bound.
    #[error("{found} {what} exceed the maximum of {max}")]
    TooMany {
        /// "secondaries", "queues" or "secondary infos 612".
        what: &'static str,
        /// The bound.
        max: usize,
        /// The count.
        found: usize,
    },
    /// A configuration without any secondary or without any queue.
    #[error("the configuration names no {what}")]
    Empty {
        /// "secondaries" or "queues".
        what: &'static str,
    },
    /// An id given twice.
    #[error("{what} id {id} is given twice")]
    DuplicateId {
        /// "subsystem" (602/604) or "queue" (607).
        what: &'static str,
        /// The id.
        id: u32,
    },
    /// A queue's number of secondary infos 612 differs from the number of secondaries 603.
    #[error("queue {queue} has {found} secondary infos 612 but there are {expected} secondaries")]
    SecondaryCount {
        /// Queue id 607.
        queue: u32,
        /// The number of secondaries 603.
        expected: usize,
        /// The number of 612 entries.
        found: usize,
    },
    /// A control location whose issuer 613 is not the subsystem that owns it.
    #[error("{area}: issuer 613 is {found}, expected {expected}")]
    WrongIssuer {
        /// The control location.
        area: Area,
        /// The owning subsystem's id (602 or 604).
        expected: u32,
        /// The issuer 613.
        found: u32,
    },
    /// An area too small (a queue of size 0, a control location under [`CONTROL_AREA`]).
    #[error("{area} has {size} bytes, at least {min} needed")]
    TooSmall {
        /// The area.
        area: Area,
        /// Its size (610 or 615).
        size: u64,
        /// The least size accepted.
        min: u64,
    },
    /// An area whose end is past the last byte address.
    #[error("{area} ends past the last byte address")]
    OutOfRange {
        /// The area.
        area: Area,
    },
    /// Two areas overlap (note S11: e.g. two secondaries given the same 614).
    #[error("{first} overlaps {second}")]
    Overlap {
        /// The area listed first.
        first: Area,
        /// The area listed later.
        second: Area,
    },
}

impl FormatError {
    /// The journal block an error names, if it names one.
    pub fn block(&self) -> Option<u32> {
        match *self {
            FormatError::BadCode { block }
            | FormatError::WrongKind { block, .. }
            | FormatError::WrongRequest { block, .. }
            | FormatError::WrongSerial { block, .. }
            | FormatError::TrailerMismatch { block } => Some(block),
            FormatError::BadMagic { what, block, .. } | FormatError::Reserved { what, block }
                if what != "control info" && what != "configuration info" =>
            {
                Some(block)
            }
            _ => None,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Little helpers: a bounds-checked reader and a writer into a fixed buffer.

/// Reads fixed-width little-endian fields; every read is bounds-checked.
struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn new(bytes: &'a [u8]) -> Reader<'a> {
        Reader { bytes, at: 0 }
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], FormatError> {
        let got = self.bytes.len();
        let end = self.at.checked_add(n).ok_or(FormatError::Short { need: usize::MAX, got })?;
        let s = self.bytes.get(self.at..end).ok_or(FormatError::Short { need: end, got })?;
        self.at = end;
        Ok(s)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], FormatError> {
        let got = self.bytes.len();
        let s = self.take(N)?;
        <[u8; N]>::try_from(s).map_err(|_| FormatError::Short { need: N, got })
    }

    fn u8(&mut self) -> Result<u8, FormatError> {
        Ok(u8::from_le_bytes(self.array()?))
    }

    fn u16(&mut self) -> Result<u16, FormatError> {
        Ok(u16::from_le_bytes(self.array()?))
    }

    fn u32(&mut self) -> Result<u32, FormatError> {
        Ok(u32::from_le_bytes(self.array()?))
    }

    fn u64(&mut self) -> Result<u64, FormatError> {
        Ok(u64::from_le_bytes(self.array()?))
    }
}

/// Writes into a fixed buffer, from its start; the callers size the buffer to fit.
struct Writer<'a>(&'a mut [u8]);

impl Writer<'_> {
    fn put(&mut self, bytes: &[u8]) {
        let buf = std::mem::take(&mut self.0);
        let n = bytes.len().min(buf.len());
        let (head, rest) = buf.split_at_mut(n);
        head.copy_from_slice(bytes.get(..n).unwrap_or_default());
        self.0 = rest;
    }
}

fn all_zero(bytes: &[u8]) -> bool {
    bytes.iter().all(|&b| b == 0)
}

fn kind_name(kind: u8) -> &'static str {
    match kind {
        KIND_HEADER => "header",
        KIND_DATA => "data",
        _ => "trailer",
    }
}

/// Physical block `index` of `bytes`, if present in full.
fn block_at(layout: Layout, bytes: &[u8], index: u32) -> Option<&[u8]> {
    let phys = layout.physical();
    let start = (index as usize).checked_mul(phys)?;
    bytes.get(start..start.checked_add(phys)?)
}

/// Data blocks for `size_bytes`, bounded by [`MAX_DATA_BLOCKS`].
fn checked_data_blocks(layout: Layout, size_bytes: u32) -> Result<u16, FormatError> {
    let n = data_blocks(layout, size_bytes);
    match u16::try_from(n) {
        Ok(b) if n <= MAX_DATA_BLOCKS => Ok(b),
        _ => Err(FormatError::TooLarge { size_bytes, max: layout.max_size_bytes() }),
    }
}

// ---------------------------------------------------------------------------------------------
// Blocks and their protection data 402.

/// Append one physical block: `content` zero-padded to the payload, then the protection data.
fn push_block(out: &mut Vec<u8>, layout: Layout, content: &[u8], id: u32, serial: u16, kind: u8) {
    let start = out.len();
    out.extend_from_slice(content);
    out.resize(start + layout.payload(), 0);
    out.extend_from_slice(&id.to_le_bytes());
    out.extend_from_slice(&serial.to_le_bytes());
    out.extend_from_slice(&[0, 0]);
    out.extend_from_slice(&TAG_MAGIC);
    out.extend_from_slice(&[layout.letter(), kind]);
    let code = crc32c(out.get(start..).unwrap_or_default());
    out.extend_from_slice(&code.to_le_bytes());
}

/// A physical block split into its payload and its protection data, whose code 503 matched.
struct Checked<'a> {
    payload: &'a [u8],
    id: u32,
    serial: u16,
    reserved: [u8; 2],
    tag: [u8; 4],
}

/// Split block `index` (exactly one physical block) and check its code 503 and its tag's magic
/// and layout letter.
fn open_block(layout: Layout, block: &[u8], index: u32) -> Result<Checked<'_>, FormatError> {
    let p = layout.payload();
    let short = FormatError::Short { need: layout.physical(), got: block.len() };
    let payload = block.get(..p).ok_or(short.clone())?;
    let prot: [u8; PROTECTION] = block.get(p..).and_then(|s| s.try_into().ok()).ok_or(short)?;
    let mut r = Reader::new(&prot);
    let id = r.u32()?;
    let serial = r.u16()?;
    let reserved = r.array::<2>()?;
    let tag = r.array::<4>()?;
    let stored = r.u32()?;
    let covered = prot.get(..PROTECTION - CODE_LEN).unwrap_or_default();
    if crc32c_append(crc32c(payload), covered) != stored {
        return Err(FormatError::BadCode { block: index });
    }
    if tag[..2] != TAG_MAGIC || tag[2] != layout.letter() {
        return Err(FormatError::BadMagic { what: "protection data", block: index, found: tag });
    }
    Ok(Checked { payload, id, serial, reserved, tag })
}

/// The full check of block `index` of a journal whose request id is `id`: code 503, tag, then
/// request identifier 501, serial 502, kind and reserved bytes. Returns the payload.
fn check_block(layout: Layout, block: &[u8], index: u32, id: u32, kind: u8) -> Result<&[u8], FormatError> {
    let c = open_block(layout, block, index)?;
    if c.id != id {
        return Err(FormatError::WrongRequest { block: index, expected: id, found: c.id });
    }
    if u32::from(c.serial) != index {
        return Err(FormatError::WrongSerial { block: index, expected: index, found: u32::from(c.serial) });
    }
    if c.tag[3] != kind {
        return Err(FormatError::WrongKind { block: index, expected: kind_name(kind), found: c.tag[3] });
    }
    if c.reserved != [0, 0] {
        return Err(FormatError::Reserved { what: "protection data", block: index });
    }
    Ok(c.payload)
}

// ---------------------------------------------------------------------------------------------
// Journals.

/// The checks both encoders make before they append anything, in this order: `data` is the
/// header's size, the journal is not too large, the header's block count is right. Returns the
/// number of data blocks.
fn checked_journal(layout: Layout, header: &JournalHeader, data: &[u8]) -> Result<u16, FormatError> {
    if data.len() != header.size_bytes as usize {
        return Err(FormatError::SizeMismatch { declared: header.size_bytes, got: data.len() });
    }
    let n = checked_data_blocks(layout, header.size_bytes)?;
    if header.meta.blocks != n {
        return Err(FormatError::BlockCountMismatch { declared: header.meta.blocks, expected: u32::from(n) });
    }
    Ok(n)
}

/// Append the journal of `header` and `data` to `out`: exactly `journal_blocks(layout,
/// header.size_bytes)` physical blocks, the header block, the data blocks (the last one
/// zero-padded) and the trailer block, each with its protection data (serials `0..n`).
///
/// Fails, appending nothing, if `data.len()` is not `header.size_bytes`
/// ([`FormatError::SizeMismatch`]), if the journal has over [`MAX_DATA_BLOCKS`] data blocks
/// ([`FormatError::TooLarge`]), or if `header.meta.blocks` is not its number of data blocks
/// ([`FormatError::BlockCountMismatch`]; [`JournalHeader::new`] sets it).
pub fn encode_journal(
    layout: Layout,
    header: &JournalHeader,
    data: &[u8],
    out: &mut Vec<u8>,
) -> Result<(), FormatError> {
    let n = checked_journal(layout, header, data)?;
    let id = header.meta.id.0;
    out.reserve(header.encoded_len(layout));
    let hdr = header.bytes(HEADER_MAGIC);
    push_block(out, layout, &hdr, id, 0, KIND_HEADER);
    for (serial, chunk) in (1..=n).zip(data.chunks(layout.payload())) {
        push_block(out, layout, chunk, id, serial, KIND_DATA);
    }
    let code = crc32c_append(crc32c(&hdr), data);
    push_trailer(out, layout, header, code, n);
    Ok(())
}

/// Append the trailer block 724 of a journal of `n` data blocks: the header's copy and the code
/// 709 over the header and the data.
fn push_trailer(out: &mut Vec<u8>, layout: Layout, header: &JournalHeader, code: u32, n: u16) {
    let mut trailer = [0u8; HEADER_LEN + CODE_LEN];
    let mut w = Writer(&mut trailer[..]);
    w.put(&header.bytes(TRAILER_MAGIC));
    w.put(&code.to_le_bytes());
    // n <= MAX_DATA_BLOCKS = u16::MAX - 1.
    push_block(out, layout, &trailer, header.meta.id.0, n + 1, KIND_TRAILER);
}

/// Zeros: the padding of a last data block (at most a payload less one byte).
static ZEROS: [u8; BLOCK] = [0; BLOCK];

/// Append the journal of `header` and `data` to `out`: the same bytes as [`encode_journal`]
/// (which stays the reference, and against which the tests check this one), with one CRC-32C
/// pass over the data, in the same pass as its one copy into `out`. This is the encoder of the
/// write path (a journal is then written in one piece, [`Intermediate::write_units`]).
///
/// Each data block's payload is checksummed once, and both codes follow from that checksum by
/// the linearity of CRC-32C. The block's code 503 is the CRC of its payload followed by 12 bytes
/// of protection data, `crc(payload || p) = Z12(crc(payload)) ^ crc(p)`, where `Z12` is the
/// effect on the CRC register of 12 zero bytes; `crc(p)` differs from one block to the next only
/// by the serial number 502, two bytes whose effect is a table lookup each. The trailer's code
/// 709 over the header and the data is built block by block, `crc(a || b) = Zn(crc(a)) ^
/// crc(b)` with `n` the payload (the zlib `crc32_combine` identity, with the operator
/// tabulated); only the last data block, if the data does not fill it, is checksummed a second
/// time (less than a payload).
///
/// Fails, appending nothing, as [`encode_journal`] does, with the same errors in the same order:
/// [`FormatError::SizeMismatch`], [`FormatError::TooLarge`], [`FormatError::BlockCountMismatch`].
///
/// (A zero-copy variant, the journal as slices of the host data and of a scratch buffer of
/// protection data written with `pwritev`, was measured slower on Linux/ext4 than this copy: the
/// kernel copies each of the `2 n + 2` slices with its own setup, which costs more than one copy
/// of the data in user space.)
///
/// [`Intermediate::write_units`]: super::file::Intermediate::write_units
pub fn encode_journal_one_pass(
    layout: Layout,
    header: &JournalHeader,
    data: &[u8],
    out: &mut Vec<u8>,
) -> Result<(), FormatError> {
    let n = checked_journal(layout, header, data)?;
    let id = header.meta.id.0;
    let payload = layout.payload();
    let shift = match layout {
        Layout::Extended => &SHIFT_EXTENDED,
        Layout::Embedded => &SHIFT_EMBEDDED,
    };
    out.reserve(header.encoded_len(layout));
    let hdr = header.bytes(HEADER_MAGIC);
    push_block(out, layout, &hdr, id, 0, KIND_HEADER);
    // The protection data of a data block, serial 0 and no code yet; the CRC of its first 12
    // bytes.
    let mut prot = [0u8; PROTECTION];
    let mut w = Writer(&mut prot[..]);
    w.put(&id.to_le_bytes());
    w.put(&[0, 0, 0, 0]);
    w.put(&TAG_MAGIC);
    w.put(&[layout.letter(), KIND_DATA]);
    let covered0 = crc32c(prot.get(..COVERED).unwrap_or_default());
    let mut code = crc32c(&hdr);
    for (serial, chunk) in (1..=n).zip(data.chunks(payload)) {
        let pad = ZEROS.get(..payload.saturating_sub(chunk.len())).unwrap_or_default();
        out.extend_from_slice(chunk);
        out.extend_from_slice(pad);
        let mut crc = crc32c(chunk);
        if pad.is_empty() {
            code = shift.apply(code) ^ crc;
        } else {
            // The last block, not filled: 709 covers the data, 503 the padding too.
            code = crc32c_append(code, chunk);
            crc = crc32c_append(crc, pad);
        }
        let [lo, hi] = serial.to_le_bytes();
        let covered = covered0 ^ SERIAL_LOW[usize::from(lo)] ^ SERIAL_HIGH[usize::from(hi)];
        let block_code = SHIFT_COVERED.apply(crc) ^ covered;
        if let Some(s) = prot.get_mut(4..6) {
            s.copy_from_slice(&[lo, hi]);
        }
        if let Some(c) = prot.get_mut(COVERED..) {
            c.copy_from_slice(&block_code.to_le_bytes());
        }
        out.extend_from_slice(&prot);
    }
    push_trailer(out, layout, header, code, n);
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// CRC-32C arithmetic of the one-pass encoder.
//
// CRC-32C (reflected, initial value and final XOR all ones) is affine in the message: for two
// messages `a` and `b`, `crc(a || b) = Z(|b|)(crc(a)) ^ crc(b)`, where `Z(k)` is the linear map
// that `k` zero bytes apply to the bare CRC register (no initial value, no final XOR), and for
// two messages of one length, `crc(a) ^ crc(b)` is the bare register of `a ^ b`. The tables below
// are those maps, computed at compile time; the tests check them against `crc32c`.

/// The CRC-32C polynomial, reflected.
const POLY: u32 = 0x82F6_3B78;

/// The bytes of the protection data its code 503 covers (after the payload).
const COVERED: usize = PROTECTION - CODE_LEN;

/// The bare CRC-32C register `x` after `n` zero bytes.
const fn zero_bytes(mut x: u32, n: usize) -> u32 {
    let mut bit = 0;
    while bit < 8 * n {
        x = if x & 1 == 1 { (x >> 1) ^ POLY } else { x >> 1 };
        bit += 1;
    }
    x
}

/// A linear map on CRC-32C registers, tabulated by byte: the map of `x` is the XOR of the maps
/// of its four bytes.
struct Shift([[u32; 256]; 4]);

impl Shift {
    /// The map of `n` zero bytes, `Z(n)`.
    const fn zeros(n: usize) -> Shift {
        let mut column = [0u32; 32];
        let mut i = 0;
        while i < 32 {
            column[i] = zero_bytes(1 << i, n);
            i += 1;
        }
        let mut t = [[0u32; 256]; 4];
        let mut k = 0;
        while k < 4 {
            let mut b = 0;
            while b < 256 {
                let mut x = 0;
                let mut j = 0;
                while j < 8 {
                    if (b >> j) & 1 == 1 {
                        x ^= column[8 * k + j];
                    }
                    j += 1;
                }
                t[k][b] = x;
                b += 1;
            }
            k += 1;
        }
        Shift(t)
    }

    fn apply(&self, x: u32) -> u32 {
        let [a, b, c, d] = x.to_le_bytes();
        let [ta, tb, tc, td] = &self.0;
        ta[usize::from(a)] ^ tb[usize::from(b)] ^ tc[usize::from(c)] ^ td[usize::from(d)]
    }
}

/// The contribution to the bare register of one byte, each value, followed by `after` bytes.
const fn byte_then_zeros(after: usize) -> [u32; 256] {
    let mut t = [0u32; 256];
    let mut b = 0;
    while b < 256 {
        t[b] = zero_bytes(b as u32, after + 1);
        b += 1;
    }
    t
}

/// `Z(512)`: a full data block's payload in [`Layout::Extended`].
static SHIFT_EXTENDED: Shift = Shift::zeros(BLOCK);
/// `Z(496)`: a full data block's payload in [`Layout::Embedded`].
static SHIFT_EMBEDDED: Shift = Shift::zeros(BLOCK - PROTECTION);
/// `Z(12)`: the protection data a block's code 503 covers.
static SHIFT_COVERED: Shift = Shift::zeros(COVERED);
/// What the serial number's low byte (protection data byte 4 of 12 covered) adds to the CRC of
/// the covered protection data.
static SERIAL_LOW: [u32; 256] = byte_then_zeros(COVERED - 5);
/// What the serial number's high byte (byte 5) adds.
static SERIAL_HIGH: [u32; 256] = byte_then_zeros(COVERED - 6);

/// Decode the header 722 from the header block, the first physical block of `block` (which
/// may be longer: only its first block is read, the drain's method (1) of \[0138\]).
///
/// Checks, in this order: the length, the code 503, the tag's magic and layout letter, the kind
/// (header), the header's magic and version, the reserved bytes, the request identifier 501
/// against the header's request id 704, the serial 502 (0), the group 702 and queue 703 against
/// `expect` ([`FormatError::Foreign`]), and that the size 708 fits [`MAX_DATA_BLOCKS`].
pub fn decode_header(layout: Layout, block: &[u8], expect: Expect) -> Result<JournalHeader, FormatError> {
    let phys = layout.physical();
    let first = block.get(..phys).ok_or(FormatError::Short { need: phys, got: block.len() })?;
    let c = open_block(layout, first, 0)?;
    if c.tag[3] != KIND_HEADER {
        return Err(FormatError::WrongKind { block: 0, expected: "header", found: c.tag[3] });
    }
    let mut r = Reader::new(c.payload);
    let magic = r.array::<4>()?;
    if magic != HEADER_MAGIC {
        return Err(FormatError::BadMagic { what: "header", block: 0, found: magic });
    }
    let version = r.u8()?;
    if version != VERSION {
        return Err(FormatError::UnsupportedVersion(version));
    }
    let attr = r.u8()?;
    let volume = r.u16()?;
    let group = r.u32()?;
    let queue = r.u32()?;
    let id = r.u32()?;
    let ts = r.u32()?;
    let addr = r.u32()?;
    let size_bytes = r.u32()?;
    if c.reserved != [0, 0] {
        return Err(FormatError::Reserved { what: "protection data", block: 0 });
    }
    if !all_zero(c.payload.get(HEADER_LEN..).unwrap_or_default()) {
        return Err(FormatError::Reserved { what: "header", block: 0 });
    }
    if c.id != id {
        return Err(FormatError::WrongRequest { block: 0, expected: id, found: c.id });
    }
    if c.serial != 0 {
        return Err(FormatError::WrongSerial { block: 0, expected: 0, found: u32::from(c.serial) });
    }
    if group != expect.group {
        return Err(FormatError::Foreign { field: "group", expected: expect.group, found: group });
    }
    if queue != expect.queue {
        return Err(FormatError::Foreign { field: "queue", expected: expect.queue, found: queue });
    }
    let meta = JournalMeta { id: ReqId(id), ts: Ts(ts), volume, addr, blocks: 0 };
    JournalHeader::new(layout, attr, group, queue, meta, size_bytes)
}

/// Decode a whole journal from the start of `bytes` (bytes after its end are ignored).
///
/// Checks the header as [`decode_header`] does, that all its blocks are present
/// ([`FormatError::Short`]), then every further block in order: its code 503, tag, request
/// identifier 501 (the header's request id), serial 502 (the block's index), kind and reserved
/// bytes; then the padding of the last data block (zero), the trailer's copy of the header
/// ([`FormatError::TrailerMismatch`]), its code 709 ([`FormatError::BadTrailerCode`]) and the
/// rest of the trailer block (zero). The first failure names the first bad block.
pub fn decode_journal<'a>(
    layout: Layout,
    bytes: &'a [u8],
    expect: Expect,
) -> Result<(JournalHeader, JournalData<'a>), FormatError> {
    let header = decode_header(layout, bytes, expect)?;
    let total = header.total_blocks();
    let need = header.encoded_len(layout);
    if bytes.len() < need {
        return Err(FormatError::Short { need, got: bytes.len() });
    }
    let id = header.meta.id.0;
    let hdr = header.bytes(HEADER_MAGIC);
    let mut code = crc32c(&hdr);
    let mut left = header.size_bytes as usize;
    for index in 1..total - 1 {
        let block = block_at(layout, bytes, index).ok_or(FormatError::Short { need, got: bytes.len() })?;
        let payload = check_block(layout, block, index, id, KIND_DATA)?;
        let n = left.min(payload.len());
        let (data, padding) = payload.split_at(n);
        if !all_zero(padding) {
            return Err(FormatError::Reserved { what: "data padding", block: index });
        }
        code = crc32c_append(code, data);
        left -= n;
    }
    let last = total - 1;
    let block = block_at(layout, bytes, last).ok_or(FormatError::Short { need, got: bytes.len() })?;
    let payload = check_block(layout, block, last, id, KIND_TRAILER)?;
    check_trailer(payload, &header, code, last)?;
    let phys = layout.physical();
    let data_end = (last as usize).checked_mul(phys).unwrap_or(need);
    let blocks = bytes.get(phys..data_end).unwrap_or_default();
    Ok((header, JournalData { layout, blocks, size: header.size_bytes as usize }))
}

/// Check a trailer block's payload against the header and the code 709 of the header and data.
fn check_trailer(payload: &[u8], header: &JournalHeader, code: u32, block: u32) -> Result<(), FormatError> {
    let mut r = Reader::new(payload);
    let copy = r.array::<HEADER_LEN>()?;
    if copy != header.bytes(TRAILER_MAGIC) {
        return Err(FormatError::TrailerMismatch { block });
    }
    let stored = r.u32()?;
    if stored != code {
        return Err(FormatError::BadTrailerCode { stored, computed: code });
    }
    if !all_zero(payload.get(HEADER_LEN + CODE_LEN..).unwrap_or_default()) {
        return Err(FormatError::Reserved { what: "trailer", block });
    }
    Ok(())
}

/// What a reader learns of each physical block of the journal of `header` at the start of
/// `bytes`: one [`UnitTag`] per block, `header.meta.blocks + 2` of them (at most 65536, the
/// serial numbers 502), each with `meta: header.meta` and `serial` its index.
///
/// A block is `intact` when it is present in full, its code 503 and tag match, its request
/// identifier 501 is the header's request id, its serial 502 its index, and its kind and
/// reserved bytes are right; the header block must moreover hold `header` itself, the last
/// data block zero padding, and the trailer block a matching copy of the header and code 709
/// (over the header and the data blocks as read). A stale block of an older lap, a block of a
/// torn write, or a corrupt one is therefore not intact, and only blocks after it may be.
///
/// For a `header` that [`decode_header`] returned from the same bytes, every block is intact if
/// and only if [`decode_journal`] accepts them. This is the view of the ring the protocol's
/// model has, built from real bytes.
pub fn unit_tags(layout: Layout, bytes: &[u8], header: &JournalHeader) -> Vec<UnitTag> {
    let id = header.meta.id.0;
    let hdr = header.bytes(HEADER_MAGIC);
    let total = header.total_blocks();
    let last = total - 1;
    let mut code = crc32c(&hdr);
    let mut data_whole = true;
    let mut left = header.size_bytes as usize;
    let mut tags = Vec::with_capacity(total.min(1 << 16) as usize);
    for index in 0..total {
        let Ok(serial) = u16::try_from(index) else { break };
        let block = block_at(layout, bytes, index);
        let intact = if index == 0 {
            block.and_then(|b| check_block(layout, b, index, id, KIND_HEADER).ok()).is_some_and(|p| {
                p.get(..HEADER_LEN) == Some(&hdr[..]) && all_zero(p.get(HEADER_LEN..).unwrap_or_default())
            })
        } else if index == last {
            let p = block.and_then(|b| check_block(layout, b, index, id, KIND_TRAILER).ok());
            data_whole && p.is_some_and(|p| check_trailer(p, header, code, index).is_ok())
        } else {
            // The data bytes of this block count towards 709 whether or not the block is intact.
            let n = left.min(layout.payload());
            left -= n;
            match block.and_then(|b| b.get(..layout.payload())) {
                Some(p) => {
                    let (data, padding) = p.split_at(n);
                    code = crc32c_append(code, data);
                    all_zero(padding) && block.is_some_and(|b| check_block(layout, b, index, id, KIND_DATA).is_ok())
                }
                None => {
                    data_whole = false;
                    false
                }
            }
        };
        tags.push(UnitTag { meta: header.meta, serial, intact });
    }
    tags
}

// ---------------------------------------------------------------------------------------------
// Control info records 631/632.

fn owner_code(owner: Owner) -> u32 {
    match owner {
        Owner::Primary => 0,
        Owner::Secondary(i) => 1 + u32::from(i),
    }
}

fn owner_from_code(code: u32) -> Result<Owner, FormatError> {
    match code {
        0 => Ok(Owner::Primary),
        c => c.checked_sub(1).and_then(|i| u8::try_from(i).ok()).map(Owner::Secondary).ok_or(FormatError::BadOwner(c)),
    }
}

/// A control info record with the sequence number of its write in its area (see the module
/// docs: the record of sequence number `seq` lives in slot [`control_slot`]`(seq)`).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct ControlRecord {
    /// The sequence number: the owner's `seq`th write of the area (wrapping at 2^64).
    pub seq: u64,
    /// The record proper (616-621 less group and queue).
    pub info: ControlInfo,
}

/// The slot of a control area (0 or 1) that the write of sequence number `seq` goes to.
pub fn control_slot(seq: u64) -> usize {
    (seq % CONTROL_SLOTS as u64) as usize
}

/// Whether sequence number `a` is newer than `b`, in serial-number order (RFC 1982 style): `a`
/// follows `b` by less than 2^63 writes, modulo 2^64. The two slots of an area hold sequence
/// numbers one apart, so the order is always decided, across a wrap too.
pub fn seq_newer(a: u64, b: u64) -> bool {
    let ahead = a.wrapping_sub(b);
    ahead != 0 && ahead < 1 << 63
}

/// The control info record of `info` for group 616 `group` and queue 617 `queue`, with
/// sequence number 0: one block ([`encode_control_record`]). For a record that does not live in
/// a two-slot area (S's checkpoint), or the first record of an area.
pub fn encode_control(group: u32, queue: u32, info: &ControlInfo) -> [u8; BLOCK] {
    encode_control_record(group, queue, &ControlRecord { seq: 0, info: *info })
}

/// The control info record `rec` for group 616 `group` and queue 617 `queue`: one block.
pub fn encode_control_record(group: u32, queue: u32, rec: &ControlRecord) -> [u8; BLOCK] {
    let info = &rec.info;
    let mut b = [0u8; BLOCK];
    let mut w = Writer(&mut b[..]);
    w.put(&CONTROL_MAGIC);
    w.put(&[CONTROL_VERSION, 0, 0, 0]);
    w.put(&group.to_le_bytes());
    w.put(&queue.to_le_bytes());
    w.put(&owner_code(info.owner).to_le_bytes());
    w.put(&info.head.0.to_le_bytes());
    w.put(&info.size.to_le_bytes());
    w.put(&info.heartbeat.to_le_bytes());
    w.put(&rec.seq.to_le_bytes());
    let (body, code) = b.split_at_mut(BLOCK - CODE_LEN);
    code.copy_from_slice(&crc32c(body).to_le_bytes());
    b
}

/// Decode a control info record from the first [`BLOCK`] bytes of `bytes`, without its sequence
/// number ([`decode_control_record`], which this is, gives the checks and their order). It
/// accepts a record of any sequence number; what it accepts, [`encode_control_record`] with the
/// sequence number it drops turns back into the same bytes ([`encode_control`] if that is 0).
pub fn decode_control(bytes: &[u8], group: u32, queue: u32, expected_owner: Owner) -> Result<ControlInfo, FormatError> {
    decode_control_record(bytes, group, queue, expected_owner).map(|r| r.info)
}

/// Decode a control info record and its sequence number from the first [`BLOCK`] bytes of
/// `bytes`, checking, in this order: the length, the checksum (which covers the sequence
/// number), the magic, the version ([`CONTROL_VERSION`] only: a version-1 record is refused),
/// the reserved bytes, the owner code, then the group 616, queue 617 and owner 618 against
/// `group`, `queue` and `expected_owner` ([`FormatError::Foreign`]: a record written by another
/// device, or for another queue).
pub fn decode_control_record(
    bytes: &[u8],
    group: u32,
    queue: u32,
    expected_owner: Owner,
) -> Result<ControlRecord, FormatError> {
    let rec = bytes.get(..BLOCK).ok_or(FormatError::Short { need: BLOCK, got: bytes.len() })?;
    let (body, code) = rec.split_at(BLOCK - CODE_LEN);
    let stored = Reader::new(code).u32()?;
    let computed = crc32c(body);
    if stored != computed {
        return Err(FormatError::BadChecksum { what: "control info", stored, computed });
    }
    let mut r = Reader::new(body);
    let magic = r.array::<4>()?;
    if magic != CONTROL_MAGIC {
        return Err(FormatError::BadMagic { what: "control info", block: 0, found: magic });
    }
    let version = r.u8()?;
    if version != CONTROL_VERSION {
        return Err(FormatError::UnsupportedVersion(version));
    }
    let reserved = r.array::<3>()?;
    let g = r.u32()?;
    let q = r.u32()?;
    let o = r.u32()?;
    let head = r.u32()?;
    let size = r.u32()?;
    let heartbeat = r.u32()?;
    let seq = r.u64()?;
    if reserved != [0; 3] || !all_zero(body.get(r.at..).unwrap_or_default()) {
        return Err(FormatError::Reserved { what: "control info", block: 0 });
    }
    let owner = owner_from_code(o)?;
    if g != group {
        return Err(FormatError::Foreign { field: "group", expected: group, found: g });
    }
    if q != queue {
        return Err(FormatError::Foreign { field: "queue", expected: queue, found: q });
    }
    if owner != expected_owner {
        return Err(FormatError::Foreign { field: "owner", expected: owner_code(expected_owner), found: o });
    }
    Ok(ControlRecord { seq, info: ControlInfo { owner, head: Pos(head), size, heartbeat } })
}

/// Decode a control info area: its first [`CONTROL_AREA`] bytes, slot 0 then slot 1, each
/// decoded with [`decode_control_record`] (bytes after the two slots are ignored). Returns the
/// valid record whose sequence number is the newer ([`seq_newer`]; slot 0's if both have the
/// same, which a correct writer never leaves); a slot that does not decode (torn by a write in
/// progress or by a crash, never written, foreign) is passed over. Errors: the bytes hold less
/// than both slots ([`FormatError::Short`]), or neither slot is valid
/// ([`FormatError::NoValidSlot`], with each slot's error).
pub fn decode_control_area(
    bytes: &[u8],
    group: u32,
    queue: u32,
    expected_owner: Owner,
) -> Result<ControlRecord, FormatError> {
    let area = bytes.get(..CONTROL_AREA).ok_or(FormatError::Short { need: CONTROL_AREA, got: bytes.len() })?;
    let (first, second) = area.split_at(BLOCK);
    let slot0 = decode_control_record(first, group, queue, expected_owner);
    let slot1 = decode_control_record(second, group, queue, expected_owner);
    match (slot0, slot1) {
        (Ok(a), Ok(b)) => Ok(if seq_newer(b.seq, a.seq) { b } else { a }),
        (Ok(a), Err(_)) => Ok(a),
        (Err(_), Ok(b)) => Ok(b),
        (Err(e0), Err(e1)) => Err(FormatError::NoValidSlot { slot0: Box::new(e0), slot1: Box::new(e1) }),
    }
}

// ---------------------------------------------------------------------------------------------
// Configuration info 106.

/// Queue type 608.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub enum QueueKind {
    /// A message queue (303, 304).
    Message,
    /// A data queue (305, 306): the journal ring.
    Data,
}

/// Where a control info record lives on I, and who writes it (613-615).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub struct ControlLocation {
    /// Issuer subsystem id 613: the only writer.
    pub issuer: u32,
    /// Head position 614: the byte offset of the record on I.
    pub offset: u64,
    /// Size 615, in bytes: the whole area, at least one [`BLOCK`] ([`ConfigInfo::validate`]),
    /// and at least [`CONTROL_AREA`] (two slots) in a version-2 layout
    /// ([`ConfigInfo::validate`]).
    pub size: u32,
}

/// Per-queue info 606 (607-612).
#[derive(Clone, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub struct QueueInfo {
    /// Queue id 607.
    pub id: u32,
    /// Queue type 608.
    pub kind: QueueKind,
    /// Queue head (start) position 609: the byte offset of the ring on I.
    pub head: u64,
    /// Queue size 610, in bytes.
    pub size: u64,
    /// Primary info 611: where P's control info 631 of this queue lives.
    pub primary: ControlLocation,
    /// Secondary infos 612: where each secondary's control info 632 lives, in the order of the
    /// secondaries 604.
    pub secondaries: Vec<ControlLocation>,
}

/// Configuration info 106 of one remote-copy group (601-615).
#[derive(Clone, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub struct ConfigInfo {
    /// Group id 601.
    pub group: u32,
    /// Primary subsystem id 602.
    pub primary: u32,
    /// Secondary subsystem ids 604 (their number is 603), at most [`MAX_SECONDARIES`].
    pub secondaries: Vec<u32>,
    /// Per-queue infos 606 (their number is 605), at most [`MAX_QUEUES`].
    pub queues: Vec<QueueInfo>,
}

impl ConfigInfo {
    /// Check that the configuration is usable, returning the first problem found, in this
    /// order: at least one and at most [`MAX_SECONDARIES`] secondaries; at least one and at
    /// most [`MAX_QUEUES`] queues; no subsystem id twice (602 and 604); no queue id twice;
    /// for each queue in order, one secondary info 612 per secondary, each control location
    /// issued by its owner (611 by the primary, 612's `i`th by the `i`th secondary), a queue
    /// of at least one byte, control locations of at least one [`BLOCK`], no area ending past
    /// the last byte address; and last, no two areas (rings and control locations, of all
    /// queues) overlapping, which is how two secondaries given the same 614 (the S11
    /// misconfiguration) show.
    ///
    /// Control locations must hold [`CONTROL_SLOTS`] slots: at least [`CONTROL_AREA`] bytes
    /// ([`FormatError::TooSmall`] otherwise), so the overlap check covers both slots of every
    /// area. The file-backed intermediate formats and opens only layouts that pass this.
    pub fn validate(&self) -> Result<(), FormatError> {
        self.check(CONTROL_AREA as u64)
    }

    /// The checks of [`ConfigInfo::validate`], with control areas of at least `min_control`
    /// bytes (one place for the rule, should a layout ever need another minimum).
    fn check(&self, min_control: u64) -> Result<(), FormatError> {
        bounded("secondaries", self.secondaries.len(), MAX_SECONDARIES)?;
        bounded("queues", self.queues.len(), MAX_QUEUES)?;
        let mut ids = vec![self.primary];
        for &s in &self.secondaries {
            if ids.contains(&s) {
                return Err(FormatError::DuplicateId { what: "subsystem", id: s });
            }
            ids.push(s);
        }
        let mut queue_ids = Vec::with_capacity(self.queues.len());
        for q in &self.queues {
            if queue_ids.contains(&q.id) {
                return Err(FormatError::DuplicateId { what: "queue", id: q.id });
            }
            queue_ids.push(q.id);
        }
        let mut areas: Vec<(Area, u64, u64)> = Vec::new();
        for q in &self.queues {
            if q.secondaries.len() != self.secondaries.len() {
                return Err(FormatError::SecondaryCount {
                    queue: q.id,
                    expected: self.secondaries.len(),
                    found: q.secondaries.len(),
                });
            }
            let ring = Area::Queue { queue: q.id };
            areas.push(area(ring, q.head, q.size, 1)?);
            let owners = std::iter::once(self.primary).chain(self.secondaries.iter().copied());
            let places = std::iter::once(q.primary).chain(q.secondaries.iter().copied());
            for (i, (owner, loc)) in owners.zip(places).enumerate() {
                let which = match i.checked_sub(1) {
                    None => Area::PrimaryControl { queue: q.id },
                    Some(index) => Area::SecondaryControl { queue: q.id, index },
                };
                if loc.issuer != owner {
                    return Err(FormatError::WrongIssuer { area: which, expected: owner, found: loc.issuer });
                }
                areas.push(area(which, loc.offset, u64::from(loc.size), min_control)?);
            }
        }
        for (i, &(first, a0, a1)) in areas.iter().enumerate() {
            for &(second, b0, b1) in areas.iter().skip(i + 1) {
                if a0 < b1 && b0 < a1 {
                    return Err(FormatError::Overlap { first, second });
                }
            }
        }
        Ok(())
    }
}

fn bounded(what: &'static str, n: usize, max: usize) -> Result<(), FormatError> {
    if n == 0 {
        return Err(FormatError::Empty { what });
    }
    if n > max {
        return Err(FormatError::TooMany { what, max, found: n });
    }
    Ok(())
}

/// The byte range of an area, checked for its least size and its end.
fn area(which: Area, start: u64, size: u64, min: u64) -> Result<(Area, u64, u64), FormatError> {
    if size < min {
        return Err(FormatError::TooSmall { area: which, size, min });
    }
    let end = start.checked_add(size).ok_or(FormatError::OutOfRange { area: which })?;
    Ok((which, start, end))
}

fn put_location(out: &mut Vec<u8>, loc: &ControlLocation) {
    out.extend_from_slice(&loc.issuer.to_le_bytes());
    out.extend_from_slice(&loc.offset.to_le_bytes());
    out.extend_from_slice(&loc.size.to_le_bytes());
}

fn read_location(r: &mut Reader<'_>) -> Result<ControlLocation, FormatError> {
    Ok(ControlLocation { issuer: r.u32()?, offset: r.u64()?, size: r.u32()? })
}

/// Encode the configuration info. Fails with [`FormatError::TooMany`] if a count is over its
/// bound ([`MAX_SECONDARIES`] secondaries or secondary infos 612 of a queue, [`MAX_QUEUES`]
/// queues); it does not otherwise [`ConfigInfo::validate`] it.
pub fn encode_config(config: &ConfigInfo) -> Result<Vec<u8>, FormatError> {
    let too_many = |what, max, found| if found > max { Err(FormatError::TooMany { what, max, found }) } else { Ok(()) };
    too_many("secondaries", MAX_SECONDARIES, config.secondaries.len())?;
    too_many("queues", MAX_QUEUES, config.queues.len())?;
    for q in &config.queues {
        too_many("secondary infos 612", MAX_SECONDARIES, q.secondaries.len())?;
    }
    // Within bounds, every count fits a u16 and the length a u32 (MAX_CONFIG_LEN).
    let mut out = Vec::with_capacity(MAX_CONFIG_LEN);
    out.extend_from_slice(&CONFIG_MAGIC);
    out.extend_from_slice(&[CONFIG_VERSION, 0, 0, 0]);
    out.extend_from_slice(&[0; 4]); // the length, below
    out.extend_from_slice(&config.group.to_le_bytes());
    out.extend_from_slice(&config.primary.to_le_bytes());
    out.extend_from_slice(&(config.secondaries.len() as u16).to_le_bytes());
    out.extend_from_slice(&(config.queues.len() as u16).to_le_bytes());
    for s in &config.secondaries {
        out.extend_from_slice(&s.to_le_bytes());
    }
    for q in &config.queues {
        out.extend_from_slice(&q.id.to_le_bytes());
        let kind = match q.kind {
            QueueKind::Message => QUEUE_MESSAGE,
            QueueKind::Data => QUEUE_DATA,
        };
        out.extend_from_slice(&[kind, 0]);
        out.extend_from_slice(&(q.secondaries.len() as u16).to_le_bytes());
        out.extend_from_slice(&q.head.to_le_bytes());
        out.extend_from_slice(&q.size.to_le_bytes());
        put_location(&mut out, &q.primary);
        for loc in &q.secondaries {
            put_location(&mut out, loc);
        }
    }
    let len = (out.len() + CODE_LEN) as u32;
    if let Some(field) = out.get_mut(8..12) {
        field.copy_from_slice(&len.to_le_bytes());
    }
    let code = crc32c(&out);
    out.extend_from_slice(&code.to_le_bytes());
    Ok(out)
}

/// Decode a configuration info record from the start of `bytes` (bytes after its length are
/// ignored). Checks, in this order: the magic, the version ([`CONFIG_VERSION`] only), the
/// reserved bytes, the length
/// field (at least the fixed part, at most [`MAX_CONFIG_LEN`]), that the bytes hold that
/// length, the checksum, then the counts against their bounds (before allocating anything),
/// the queue types, reserved bytes, and that the contents end exactly at the checksum. It does
/// not [`ConfigInfo::validate`] the result.
pub fn decode_config(bytes: &[u8]) -> Result<ConfigInfo, FormatError> {
    let mut r = Reader::new(bytes);
    let magic = r.array::<4>()?;
    if magic != CONFIG_MAGIC {
        return Err(FormatError::BadMagic { what: "configuration info", block: 0, found: magic });
    }
    let version = r.u8()?;
    if version != CONFIG_VERSION {
        return Err(FormatError::UnsupportedVersion(version));
    }
    if r.array::<3>()? != [0; 3] {
        return Err(FormatError::Reserved { what: "configuration info", block: 0 });
    }
    let declared = r.u32()?;
    let len = declared as usize;
    if !(CONFIG_FIXED + CODE_LEN..=MAX_CONFIG_LEN).contains(&len) {
        return Err(FormatError::BadLength { declared, min: CONFIG_FIXED + CODE_LEN, max: MAX_CONFIG_LEN });
    }
    let rec = bytes.get(..len).ok_or(FormatError::Short { need: len, got: bytes.len() })?;
    let (body, code) = rec.split_at(len - CODE_LEN);
    let stored = Reader::new(code).u32()?;
    let computed = crc32c(body);
    if stored != computed {
        return Err(FormatError::BadChecksum { what: "configuration info", stored, computed });
    }
    // The contents claiming more bytes than the length field gives is a length mismatch.
    parse_config_body(body).map_err(|e| match e {
        FormatError::Short { need, .. } => {
            FormatError::LengthMismatch { declared, actual: need.saturating_add(CODE_LEN) }
        }
        e => e,
    })
}

/// The fields of a configuration record whose length and checksum have been checked (`body`:
/// the record less its checksum).
fn parse_config_body(body: &[u8]) -> Result<ConfigInfo, FormatError> {
    let mut r = Reader::new(body);
    r.take(8)?; // magic, version, reserved: checked by the caller
    let declared = r.u32()?;
    let group = r.u32()?;
    let primary = r.u32()?;
    let n_sec = usize::from(r.u16()?);
    let n_queues = usize::from(r.u16()?);
    if n_sec > MAX_SECONDARIES {
        return Err(FormatError::TooMany { what: "secondaries", max: MAX_SECONDARIES, found: n_sec });
    }
    if n_queues > MAX_QUEUES {
        return Err(FormatError::TooMany { what: "queues", max: MAX_QUEUES, found: n_queues });
    }
    let mut secondaries = Vec::with_capacity(n_sec);
    for _ in 0..n_sec {
        secondaries.push(r.u32()?);
    }
    let mut queues = Vec::with_capacity(n_queues);
    for _ in 0..n_queues {
        let id = r.u32()?;
        let kind = match r.u8()? {
            QUEUE_MESSAGE => QueueKind::Message,
            QUEUE_DATA => QueueKind::Data,
            k => return Err(FormatError::BadQueueKind(k)),
        };
        if r.u8()? != 0 {
            return Err(FormatError::Reserved { what: "configuration info", block: 0 });
        }
        let k = usize::from(r.u16()?);
        if k > MAX_SECONDARIES {
            return Err(FormatError::TooMany { what: "secondary infos 612", max: MAX_SECONDARIES, found: k });
        }
        let head = r.u64()?;
        let size = r.u64()?;
        let primary = read_location(&mut r)?;
        let mut locs = Vec::with_capacity(k);
        for _ in 0..k {
            locs.push(read_location(&mut r)?);
        }
        queues.push(QueueInfo { id, kind, head, size, primary, secondaries: locs });
    }
    if r.at != body.len() {
        return Err(FormatError::LengthMismatch { declared, actual: r.at + CODE_LEN });
    }
    Ok(ConfigInfo { group, primary, secondaries, queues })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(seq: u64, heartbeat: u32) -> ControlRecord {
        ControlRecord { seq, info: ControlInfo { owner: Owner::Secondary(1), head: Pos(3), size: 4, heartbeat } }
    }

    fn area(a: &[u8], b: &[u8]) -> Vec<u8> {
        [a, b].concat()
    }

    /// The tabulated maps are those of CRC-32C: `Z(n)` is `crc32c_combine`'s operator, and the
    /// serial tables give the CRC of protection data with any serial number.
    #[test]
    fn crc_tables_are_crc32c() {
        let mut x = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let bytes: Vec<u8> = (0..2048).map(|_| next() as u8).collect();
        for (shift, n) in [(&SHIFT_EXTENDED, BLOCK), (&SHIFT_EMBEDDED, BLOCK - PROTECTION), (&SHIFT_COVERED, COVERED)] {
            for a in [0, 1, 7, 100, 1000] {
                let (head, tail) = (&bytes[..a], &bytes[a..a + n]);
                let whole = crc32c(&bytes[..a + n]);
                assert_eq!(shift.apply(crc32c(head)) ^ crc32c(tail), whole, "Z({n}) after {a} bytes");
                assert_eq!(crc32c::crc32c_combine(crc32c(head), crc32c(tail), n), whole);
            }
            for _ in 0..100 {
                let r = next() as u32;
                assert_eq!(shift.apply(r), crc32c::crc32c_combine(r, 0, n));
            }
        }
        let mut p = [0u8; COVERED];
        p.copy_from_slice(&bytes[..COVERED]);
        p[4..6].fill(0);
        let base = crc32c(&p);
        for serial in (0..=u16::MAX).step_by(251).chain([u16::MAX, 1, 256]) {
            let [lo, hi] = serial.to_le_bytes();
            p[4..6].copy_from_slice(&[lo, hi]);
            assert_eq!(
                base ^ SERIAL_LOW[usize::from(lo)] ^ SERIAL_HIGH[usize::from(hi)],
                crc32c(&p),
                "serial {serial}"
            );
        }
    }

    #[test]
    fn the_sequence_number_round_trips_under_the_checksum() {
        let r = rec(0x0102_0304_0506_0708, 9);
        let b = encode_control_record(5, 6, &r);
        assert_eq!(b[4], CONTROL_VERSION);
        assert_eq!(b[32..40], r.seq.to_le_bytes());
        assert_eq!(decode_control_record(&b, 5, 6, r.info.owner), Ok(r));
        assert_eq!(decode_control(&b, 5, 6, r.info.owner), Ok(r.info));
        for bit in 32 * 8..40 * 8 {
            let mut m = b;
            m[bit / 8] ^= 1 << (bit % 8);
            assert!(matches!(decode_control_record(&m, 5, 6, r.info.owner), Err(FormatError::BadChecksum { .. })));
        }
        assert_eq!(encode_control(5, 6, &r.info), encode_control_record(5, 6, &ControlRecord { seq: 0, ..r }));
    }

    #[test]
    fn the_area_gives_the_newer_valid_slot() {
        let owner = Owner::Secondary(1);
        let (a, b) = (encode_control_record(5, 6, &rec(7, 1)), encode_control_record(5, 6, &rec(8, 2)));
        assert_eq!(decode_control_area(&area(&a, &b), 5, 6, owner), Ok(rec(8, 2)));
        assert_eq!(decode_control_area(&area(&b, &a), 5, 6, owner), Ok(rec(8, 2)));
        assert_eq!(decode_control_area(&area(&a, &[0; BLOCK]), 5, 6, owner), Ok(rec(7, 1)));
        assert_eq!(decode_control_area(&area(&[0xff; BLOCK], &b), 5, 6, owner), Ok(rec(8, 2)));
        // Across the wrap, and with bytes after the area.
        let (x, y) = (encode_control_record(5, 6, &rec(u64::MAX, 1)), encode_control_record(5, 6, &rec(0, 2)));
        assert_eq!(decode_control_area(&[&y[..], &x[..], &[1; 9]].concat(), 5, 6, owner), Ok(rec(0, 2)));
        // Short, and neither slot valid.
        assert_eq!(decode_control_area(&a, 5, 6, owner), Err(FormatError::Short { need: CONTROL_AREA, got: BLOCK }));
        let err = decode_control_area(&area(&a, &b), 5, 7, owner).unwrap_err();
        let foreign = |found| Box::new(FormatError::Foreign { field: "queue", expected: 7, found });
        assert_eq!(err, FormatError::NoValidSlot { slot0: foreign(6), slot1: foreign(6) });
    }

    #[test]
    fn control_decoders_are_total() {
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        };
        let good = encode_control_record(5, 6, &rec(3, 3));
        for len in 0..=CONTROL_AREA + 8 {
            for prefix in [&[][..], &CONTROL_MAGIC[..], &good[..40]] {
                let mut b: Vec<u8> = (0..len).map(|_| next()).collect();
                let n = prefix.len().min(len);
                b[..n].copy_from_slice(&prefix[..n]);
                assert!(decode_control_record(&b, 5, 6, Owner::Secondary(1)).is_err());
                assert!(decode_control_area(&b, 5, 6, Owner::Secondary(1)).is_err());
            }
        }
        // A version-1 record (no sequence number) with a right checksum is refused.
        let mut v1 = good;
        v1[4] = 1;
        v1[32..40].fill(0);
        let code = crc32c(&v1[..BLOCK - CODE_LEN]);
        v1[BLOCK - CODE_LEN..].copy_from_slice(&code.to_le_bytes());
        assert_eq!(decode_control(&v1, 5, 6, Owner::Secondary(1)), Err(FormatError::UnsupportedVersion(1)));
    }
}
