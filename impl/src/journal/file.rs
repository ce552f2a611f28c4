//! The intermediate storage I (104c) on a plain file or a block device: the configuration info
//! area 112, the control info areas 301 (P's record 631) and 302 (one record 632 per
//! secondary), and the remote-copy queue area 114 (the journal ring), each at the byte offset
//! its configuration info 106 gives (note `shared/protocols/seed-003.md`, sections 2.2-2.6 and
//! 9). I runs no protocol logic: this module only reads and writes blocks at offsets, and every
//! byte it reads is decoded by [`super::format`].
//!
//! This is the one module of the crate that does I/O (positioned reads and writes, `fdatasync`
//! and an advisory lock); the roles stay sans-IO, and a runtime (the `journal_node` binary of
//! the integration tests) glues the two.
//!
//! # The areas on the file
//!
//! The configuration info record ([`format::encode_config`]) sits at offset 0, in an area of
//! [`CONFIG_AREA`] bytes. [`FormatOptions::config`] places the other areas, each at a multiple
//! of [`AREA_ALIGN`] bytes (so that a block device with 4 KiB sectors never shares a sector
//! between two owners):
//!
//! ```text
//! offset                  size              area (owner)
//! 0                       4096              configuration info 106 (written once, at format)
//! 4096                    1024 (in 4096)    primary control info 631 (P), two slots
//! 8192 + 4096 i           1024 (in 4096)    secondary control info 632 of secondary i (S i), two slots
//! 8192 + 4096 n           queue_units * 528 the journal ring, n = number of secondaries (P)
//! ```
//!
//! [`FileLayout::from_config`] reads the offsets back from any configuration that passes
//! [`ConfigInfo::validate`] (every control area of at least [`format::CONTROL_AREA`]
//! bytes, configuration version [`format::CONFIG_VERSION`]): the ring is its first data queue
//! (608), 631 its primary info 611 and 632 its secondary infos 612.
//!
//! # Control areas: two slots
//!
//! A control area holds two [`BLOCK`]-byte slots (the format's module docs give the record and
//! the rule). The owner's handle keeps the sequence number of its next write: its `k`th write
//! carries `k` and goes to slot `k % 2`, so a write never touches the slot that holds the newest
//! whole record, and a crash mid-write leaves that record readable. Before its first write, a
//! handle reads both slots of its area and continues after the newest valid sequence number (0
//! if neither slot is valid), so a restarted owner never overwrites its newest record either.
//! A handle's writes of its area are serialized (a mutex), so that at most one slot is in
//! flight.
//!
//! The ring is a sequence of `queue_units` units of [`UNIT`] = 528 bytes, in [`LAYOUT`]
//! ([`Layout::Extended`], layout (b) of note 2.6): each unit is a 512-byte block of payload
//! followed by its 16 bytes of protection data, so one data unit of a journal is exactly one
//! 512-byte block of the host's volume and the unit counts of [`Geometry`] (header 1, trailer 1)
//! are the format's block counts. The logical position `pos` is the unit `pos % queue_units`,
//! at byte `ring + (pos % queue_units) * 528`; a journal that crosses the end of the ring is
//! written as two positioned writes.
//!
//! # One writer per area (claim 4, note S11)
//!
//! A handle ([`Intermediate`]) is opened as an [`Owner`] and writes only the areas that owner
//! owns: P the ring and 631, secondary `i` its own 632. A write to any other area, or of a
//! control record that names another owner, is refused with [`FileError::NotOwner`] before any
//! byte reaches the file. The configuration is written only by [`Intermediate::format`].
//!
//! Across processes, the primary role is exclusive: a P handle (and a format) holds an advisory
//! `flock(LOCK_EX)` on the file for as long as it is open, and a second one is refused with
//! [`FileError::Locked`]. The kernel drops the lock when the holder dies, even by `SIGKILL`.
//! Secondaries take no lock (they may open the file while P holds it).
//!
//! # Reading what I holds
//!
//! Whatever the file holds may be corrupt, torn, stale or foreign. Reads of the configuration
//! and of the control areas need the whole record (both slots) to be on the file
//! ([`FileError::Truncated`]) and decode it with [`format::decode_config`] and
//! [`format::decode_control_area`] ([`FileError::Format`]). A control record is rewritten by
//! its owner while the other side may be reading it, and a file does not make a read atomic
//! with a concurrent write; but the write goes to the slot that does not hold the newest
//! record, so a read finds that record whole in the other slot (see
//! [`Intermediate::read_control`] for the one narrow case left and its bounded re-read,
//! [`TORN_READS`]). Reads of the ring return the bytes as
//! they are, zeros past the end of a file that was cut short, for the reader to decode journal
//! by journal ([`format::decode_header`], [`format::unit_tags`]): a truncated ring is then a
//! torn ring, not an I/O error. Nothing here panics on any content. The caller passes the
//! buffer a ring read fills, so a loop reuses it (at most `queue_units * 528` bytes).
//!
//! # S's own checkpoint
//!
//! S's head 629 is durable with S's volumes (note 4.4, S7). [`Checkpoint`] keeps it in a small
//! file of S's own (not on I): the record S is about to publish as 632 and the header block of
//! the last journal S applied (the id 704 and time stamp 705 the drain's existence test needs),
//! replaced atomically (write, `fsync`, rename, `fsync` of the directory). Both are decoded by
//! [`super::format`] too.

use super::format::{self, ConfigInfo, ControlLocation, ControlRecord, Expect, FormatError, Layout};
use super::format::{QueueInfo, QueueKind, BLOCK, CONTROL_AREA, PROTECTION};
use super::{ControlInfo, Geometry, JournalMeta, Owner, Pos};
use std::ffi::OsString;
use std::fmt;
use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::{FileExt, FileTypeExt};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

/// The layout of the protection data in the ring: layout (b), 512 bytes of payload per unit.
pub const LAYOUT: Layout = Layout::Extended;

/// The bytes of one unit of the ring (one physical block in [`LAYOUT`]).
pub const UNIT: usize = BLOCK + PROTECTION;

/// The configuration info area at offset 0, in bytes (it holds [`format::MAX_CONFIG_LEN`]).
pub const CONFIG_AREA: usize = 4096;

// The configuration record always fits its area.
const _: () = assert!(format::MAX_CONFIG_LEN <= CONFIG_AREA);

/// The alignment of the areas [`FormatOptions::config`] places.
pub const AREA_ALIGN: u64 = 4096;

/// How many times, at most, [`Intermediate::read_control`] reads a control area in one call:
/// a read that finds no valid slot for a checksum, or only a record older than one the handle
/// already returned, is read again (backing off 2, 4, 8 us) before it stands. With two slots
/// this is the rare case of a reader delayed across a whole write of its owner (see
/// [`Intermediate::read_control`]), not every read that meets a write.
pub const TORN_READS: u32 = 4;

/// The least ring: a journal of one block takes 3 units (header, data, trailer).
pub const MIN_QUEUE_UNITS: u32 = 3;

/// An area of the file.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Region {
    /// The configuration info area 112.
    Config,
    /// A control info area: 631 (`Owner::Primary`) or the 632 of a secondary.
    Control(Owner),
    /// The journal ring (queue area 114).
    Ring,
    /// S's checkpoint file (not on I).
    Checkpoint,
}

impl fmt::Display for Region {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Region::Config => write!(f, "configuration info"),
            Region::Control(Owner::Primary) => write!(f, "control info 631"),
            Region::Control(Owner::Secondary(i)) => write!(f, "control info 632 of secondary #{i}"),
            Region::Ring => write!(f, "journal ring"),
            Region::Checkpoint => write!(f, "S's checkpoint"),
        }
    }
}

/// Why an operation on the intermediate failed.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    /// The file could not be opened or created.
    #[error("cannot open {}: {source}", path.display())]
    Open {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: io::Error,
    },
    /// A read, write, flush or rename failed.
    #[error("{op} of the {region} at byte {offset}: {source}")]
    Io {
        /// "read", "write", "flush", "rename", "resize".
        op: &'static str,
        /// The area.
        region: Region,
        /// The byte offset of the operation.
        offset: u64,
        /// The OS error.
        source: io::Error,
    },
    /// The file ends before a record that must be read whole.
    #[error("the {region} at byte {offset} is cut short: {got} of {need} bytes on the file")]
    Truncated {
        /// The area.
        region: Region,
        /// Its byte offset.
        offset: u64,
        /// Bytes needed.
        need: usize,
        /// Bytes the file holds there.
        got: usize,
    },
    /// A record read did not decode.
    #[error("the {region}: {source}")]
    Format {
        /// The area.
        region: Region,
        /// What the decoder found.
        source: FormatError,
    },
    /// The configuration decodes but does not describe a usable file.
    #[error("the configuration info {0}")]
    BadConfig(&'static str),
    /// A write to an area the handle's owner does not own (claim 4, note S11).
    #[error("{owner:?} may not write the {region}: only its owner writes an area (claim 4)")]
    NotOwner {
        /// The area written.
        region: Region,
        /// The handle's owner.
        owner: Owner,
    },
    /// The owner is not configured (a secondary index past the number of secondaries).
    #[error("{0:?} is not configured in this intermediate")]
    NoSuchOwner(Owner),
    /// Another handle or process holds the primary role of the file.
    #[error("another process holds the primary role of this intermediate (its lock is taken)")]
    Locked,
    /// The lock could not be taken for another reason.
    #[error("cannot lock the intermediate: {0}")]
    Lock(io::Error),
    /// A ring access of more units than the ring has, or of bytes that are not whole units.
    #[error("a ring access of {bytes} bytes: not whole units of {UNIT} bytes within the {queue_units}-unit ring")]
    BadRingAccess {
        /// The bytes asked for.
        bytes: usize,
        /// The ring's size.
        queue_units: u32,
    },
    /// The format options cannot be laid out.
    #[error("cannot format: {0}")]
    BadOptions(&'static str),
}

/// What [`Intermediate::format`] lays out.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct FormatOptions {
    /// Group id 601.
    pub group: u32,
    /// Queue id 607 of the journal ring.
    pub queue: u32,
    /// Primary subsystem id 602.
    pub primary: u32,
    /// Secondary subsystem ids 604 (one 632 area each).
    pub secondaries: Vec<u32>,
    /// The ring's size in units of [`UNIT`] bytes.
    pub queue_units: u32,
}

impl FormatOptions {
    /// Group 1, queue 1, primary 1, one secondary (2), a ring of `queue_units` units.
    pub fn new(queue_units: u32) -> FormatOptions {
        FormatOptions { group: 1, queue: 1, primary: 1, secondaries: vec![2], queue_units }
    }

    /// The configuration info of these options, with the areas placed as the module docs show.
    pub fn config(&self) -> Result<ConfigInfo, FileError> {
        if self.queue_units < MIN_QUEUE_UNITS {
            return Err(FileError::BadOptions("the ring needs at least 3 units"));
        }
        if self.secondaries.is_empty() || self.secondaries.len() > format::MAX_SECONDARIES {
            return Err(FileError::BadOptions("between 1 and 8 secondaries are needed"));
        }
        let n = self.secondaries.len() as u64;
        // Two slots each (CONTROL_AREA = 1024 bytes), in an area of AREA_ALIGN bytes.
        let control = |issuer: u32, at: u64| ControlLocation { issuer, offset: at, size: CONTROL_AREA as u32 };
        let primary = control(self.primary, AREA_ALIGN);
        let secondaries =
            self.secondaries.iter().zip(0u64..).map(|(&id, i)| control(id, 2 * AREA_ALIGN + i * AREA_ALIGN)).collect();
        let queue = QueueInfo {
            id: self.queue,
            kind: QueueKind::Data,
            head: 2 * AREA_ALIGN + n * AREA_ALIGN,
            size: u64::from(self.queue_units) * UNIT as u64,
            primary,
            secondaries,
        };
        let config = ConfigInfo {
            group: self.group,
            primary: self.primary,
            secondaries: self.secondaries.clone(),
            queues: vec![queue],
        };
        config.validate().map_err(|source| FileError::Format { region: Region::Config, source })?;
        Ok(config)
    }
}

/// Where the areas of one intermediate are, read from its configuration info.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct FileLayout {
    /// Group id 601 (616 and 702 are checked against it).
    pub group: u32,
    /// Queue id 607 of the ring (617 and 703 are checked against it).
    pub queue: u32,
    /// The byte offset of 631 (611's 614).
    pub primary_control: u64,
    /// The byte offsets of each secondary's 632 (612's 614), by secondary index.
    pub secondary_controls: Vec<u64>,
    /// The byte offset of the ring (609).
    pub ring: u64,
    /// The ring's size in units (610 / [`UNIT`]).
    pub queue_units: u32,
}

impl FileLayout {
    /// The layout of a configuration: it must pass [`ConfigInfo::validate`] (two slots
    /// per control area, no two areas overlapping), have a data queue whose size is whole units
    /// (at least [`MIN_QUEUE_UNITS`]), and keep every area clear of the configuration area.
    pub fn from_config(config: &ConfigInfo) -> Result<FileLayout, FileError> {
        config.validate().map_err(|source| FileError::Format { region: Region::Config, source })?;
        let q = config
            .queues
            .iter()
            .find(|q| q.kind == QueueKind::Data)
            .ok_or(FileError::BadConfig("names no data queue (608)"))?;
        if q.size % UNIT as u64 != 0 {
            return Err(FileError::BadConfig("gives a ring size (610) that is not whole 528-byte units"));
        }
        let queue_units = u32::try_from(q.size / UNIT as u64)
            .ok()
            .filter(|&u| u >= MIN_QUEUE_UNITS)
            .ok_or(FileError::BadConfig("gives a ring (610) under 3 units or over 2^32 units"))?;
        let mut starts = std::iter::once(q.head).chain(std::iter::once(q.primary.offset));
        if starts.any(|s| s < CONFIG_AREA as u64) || q.secondaries.iter().any(|l| l.offset < CONFIG_AREA as u64) {
            return Err(FileError::BadConfig("places an area inside the configuration area"));
        }
        Ok(FileLayout {
            group: config.group,
            queue: q.id,
            primary_control: q.primary.offset,
            secondary_controls: q.secondaries.iter().map(|l| l.offset).collect(),
            ring: q.head,
            queue_units,
        })
    }

    /// The ring's geometry: a header unit and a trailer unit around the data units.
    pub fn geometry(&self) -> Geometry {
        Geometry { queue_units: self.queue_units, header_units: 1, trailer_units: 1 }
    }

    /// The logical checks a reader applies to journals and control records (702/703, 616/617).
    pub fn expect(&self) -> Expect {
        Expect { group: self.group, queue: self.queue }
    }

    /// The ring's size in bytes.
    pub fn ring_bytes(&self) -> u64 {
        u64::from(self.queue_units) * UNIT as u64
    }

    /// The bytes the areas span, from offset 0.
    pub fn len(&self) -> u64 {
        let controls = std::iter::once(self.primary_control).chain(self.secondary_controls.iter().copied());
        let control_end = controls.map(|o| o.saturating_add(CONTROL_AREA as u64)).max().unwrap_or(0);
        control_end.max(self.ring.saturating_add(self.ring_bytes())).max(CONFIG_AREA as u64)
    }

    /// Whether the areas span no bytes (never: the configuration area is always there).
    pub fn is_empty(&self) -> bool {
        false
    }

    /// The byte offset of the control area of `owner` (its slot 0; slot 1 follows, [`BLOCK`]
    /// bytes on).
    pub fn control_offset(&self, owner: Owner) -> Result<u64, FileError> {
        match owner {
            Owner::Primary => Ok(self.primary_control),
            Owner::Secondary(i) => {
                self.secondary_controls.get(usize::from(i)).copied().ok_or(FileError::NoSuchOwner(owner))
            }
        }
    }

    /// The byte offset of the unit of logical position `pos`.
    pub fn unit_offset(&self, pos: Pos) -> u64 {
        self.ring + u64::from(pos.slot(self.queue_units)) * UNIT as u64
    }
}

/// The control areas a handle may read: 631 and at most [`format::MAX_SECONDARIES`] 632s.
const AREAS: usize = 1 + format::MAX_SECONDARIES;

/// A handle on the intermediate, opened as one owner.
#[derive(Debug)]
pub struct Intermediate {
    file: File,
    layout: FileLayout,
    owner: Owner,
    /// The sequence number of the next write of the owner's control area; `None` until the
    /// first write reads it from the area. Held across that write: one slot in flight at most.
    next_seq: Mutex<Option<u64>>,
    /// The newest sequence number [`Intermediate::read_control`] returned, per area (631, then
    /// each 632 by index).
    seen: Mutex<[Option<u64>; AREAS]>,
}

/// The index of `owner`'s area in [`Intermediate::seen`]: 0 for 631, `1 + i` for a 632.
fn area_index(owner: Owner) -> usize {
    match owner {
        Owner::Primary => 0,
        Owner::Secondary(i) => 1 + usize::from(i),
    }
}

/// A mutex's guard, poisoned or not (the data is a plain number: a panic elsewhere while it was
/// held leaves it valid).
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Intermediate {
    /// Lay out a fresh intermediate at `path` (as the console does at 803): create the file (or
    /// use the block device), zero it over every area (a ring left from an earlier use could
    /// otherwise hold journals that pass the drain's checks), write the configuration info and
    /// the first 631 and 632 records (head 0, size 0, heartbeat 0). Takes the primary lock for
    /// the duration: a file a P is using is not formatted ([`FileError::Locked`]).
    pub fn format(path: &Path, options: &FormatOptions) -> Result<FileLayout, FileError> {
        let config = options.config()?;
        let layout = FileLayout::from_config(&config)?;
        let bytes =
            format::encode_config(&config).map_err(|source| FileError::Format { region: Region::Config, source })?;
        if bytes.len() > CONFIG_AREA {
            return Err(FileError::BadOptions("the configuration record does not fit its area"));
        }
        let open_err = |source| FileError::Open { path: path.to_path_buf(), source };
        let file =
            OpenOptions::new().read(true).write(true).create(true).truncate(false).open(path).map_err(open_err)?;
        lock_primary(&file)?;
        let kind = file.metadata().map_err(open_err)?.file_type();
        let io = |op, region, offset| move |source| FileError::Io { op, region, offset, source };
        if kind.is_block_device() {
            // A device keeps its size: write zeros over the areas.
            let zeros = vec![0u8; 1 << 20];
            let mut at = 0u64;
            while at < layout.len() {
                let n = (layout.len() - at).min(zeros.len() as u64) as usize;
                file.write_all_at(&zeros[..n], at).map_err(io("write", Region::Ring, at))?;
                at += n as u64;
            }
        } else {
            file.set_len(0).map_err(io("resize", Region::Ring, 0))?;
            file.set_len(layout.len()).map_err(io("resize", Region::Ring, layout.len()))?;
        }
        file.write_all_at(&bytes, 0).map_err(io("write", Region::Config, 0))?;
        let handle = Intermediate::new(file, layout, Owner::Primary);
        // The first record of every area: sequence number 0, in slot 0 (slot 1 stays zeros, which
        // no decoder accepts, until the owner's first write).
        let first = |owner| ControlRecord { seq: 0, info: ControlInfo { owner, head: Pos(0), size: 0, heartbeat: 0 } };
        handle.put_record(Owner::Primary, &first(Owner::Primary))?;
        for i in 0..handle.layout.secondary_controls.len() {
            // At most MAX_SECONDARIES (8): the index fits a u8.
            let s = Owner::Secondary(i as u8);
            handle.put_record(s, &first(s))?;
        }
        handle.flush()?;
        Ok(handle.layout)
    }

    /// Open the intermediate at `path` as `owner`: read and decode its configuration info. A P
    /// handle takes the primary lock ([`FileError::Locked`] if another holds it).
    pub fn open(path: &Path, owner: Owner) -> Result<Intermediate, FileError> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)
            .map_err(|source| FileError::Open { path: path.to_path_buf(), source })?;
        if owner == Owner::Primary {
            lock_primary(&file)?;
        }
        let mut bytes = [0u8; CONFIG_AREA];
        read_whole(&file, 0, &mut bytes, Region::Config)?;
        let config =
            format::decode_config(&bytes).map_err(|source| FileError::Format { region: Region::Config, source })?;
        let layout = FileLayout::from_config(&config)?;
        layout.control_offset(owner)?;
        Ok(Intermediate::new(file, layout, owner))
    }

    fn new(file: File, layout: FileLayout, owner: Owner) -> Intermediate {
        Intermediate { file, layout, owner, next_seq: Mutex::new(None), seen: Mutex::new([None; AREAS]) }
    }

    /// Where the areas are.
    pub fn layout(&self) -> &FileLayout {
        &self.layout
    }

    /// The owner this handle writes as.
    pub fn owner(&self) -> Owner {
        self.owner
    }

    /// The ring's geometry.
    pub fn geometry(&self) -> Geometry {
        self.layout.geometry()
    }

    /// Read and decode the control record of `whose` (631 for P, 632 for a secondary), checking
    /// its group, queue and owner (616-618): the valid slot of its area with the newer sequence
    /// number ([`format::decode_control_area`]). Neither slot valid is
    /// [`FileError::Format`] with [`FormatError::NoValidSlot`].
    ///
    /// Both slots are read with one positioned read. The owner writes the slot that does not
    /// hold its newest record, so a read that meets a write finds the torn slot and, in the
    /// other, the record before it, whole; no re-read is needed for that. What is left is a
    /// reader delayed in the middle of its read (preempted, a page fault) for as long as a whole
    /// write of the owner and into the next: it can then see both slots torn, or the older
    /// record whole next to the newer one torn. The first shows as no valid slot with a
    /// checksum error, the second as a sequence number older than one this handle already
    /// returned for the area; either is read again, up to [`TORN_READS`] reads in all, backing
    /// off in between, after which the read stands (an older record is then returned: the area
    /// went back, e.g. it was formatted again). So the records one handle returns for an area do
    /// not go back while its owner writes, however fast.
    pub fn read_control(&self, whose: Owner) -> Result<ControlInfo, FileError> {
        let region = Region::Control(whose);
        let mut bytes = [0u8; CONTROL_AREA];
        let mut reads = 0;
        loop {
            self.read_area(whose, &mut bytes)?;
            reads += 1;
            let got = format::decode_control_area(&bytes, self.layout.group, self.layout.queue, whose);
            let mut seen = lock(&self.seen);
            let last = seen.get(area_index(whose)).copied().flatten();
            let raced = match &got {
                Ok(rec) => last.is_some_and(|last| format::seq_newer(last, rec.seq)),
                Err(FormatError::NoValidSlot { slot0, slot1 }) => {
                    [slot0, slot1].iter().any(|e| matches!(***e, FormatError::BadChecksum { .. }))
                }
                Err(_) => false,
            };
            if raced && reads < TORN_READS {
                drop(seen);
                std::thread::sleep(std::time::Duration::from_micros(1 << reads));
                continue;
            }
            return match got {
                Ok(rec) => {
                    if let Some(s) = seen.get_mut(area_index(whose)) {
                        *s = Some(rec.seq);
                    }
                    Ok(rec.info)
                }
                Err(source) => Err(FileError::Format { region, source }),
            };
        }
    }

    /// Write `info` into the control area of `area` (the area a role names, e.g.
    /// [`Secondary::control_area`](super::Secondary::control_area)). Only the area's owner may,
    /// and only a record of its own ([`FileError::NotOwner`]).
    ///
    /// The record goes to the slot that does not hold the newest record, with the next sequence
    /// number (see the module docs); the first write of a handle reads the area to find it. A
    /// write that fails leaves the sequence number as it was: the next write goes to the same
    /// slot, and the other one still holds the newest whole record.
    pub fn write_control(&self, area: Owner, info: &ControlInfo) -> Result<(), FileError> {
        if area != self.owner || info.owner != self.owner {
            return Err(FileError::NotOwner { region: Region::Control(area), owner: self.owner });
        }
        let mut next = lock(&self.next_seq);
        let seq = match *next {
            Some(seq) => seq,
            None => self.resume_seq(area)?,
        };
        self.put_record(area, &ControlRecord { seq, info: *info })?;
        *next = Some(seq.wrapping_add(1));
        Ok(())
    }

    /// The sequence number a writer of `area` continues with: one past the newest valid record
    /// on the area, or 0 if neither slot is valid (nothing whole to keep).
    fn resume_seq(&self, area: Owner) -> Result<u64, FileError> {
        let mut bytes = [0u8; CONTROL_AREA];
        self.read_area(area, &mut bytes)?;
        Ok(format::decode_control_area(&bytes, self.layout.group, self.layout.queue, area)
            .map_or(0, |newest| newest.seq.wrapping_add(1)))
    }

    /// Read both slots of the control area of `whose`.
    fn read_area(&self, whose: Owner, bytes: &mut [u8; CONTROL_AREA]) -> Result<(), FileError> {
        let at = self.layout.control_offset(whose)?;
        read_whole(&self.file, at, bytes, Region::Control(whose))
    }

    /// Write `rec` into its slot of the control area of `area` (no ownership check).
    fn put_record(&self, area: Owner, rec: &ControlRecord) -> Result<(), FileError> {
        let at = self.layout.control_offset(area)?.saturating_add((format::control_slot(rec.seq) * BLOCK) as u64);
        let bytes = format::encode_control_record(self.layout.group, self.layout.queue, rec);
        self.file.write_all_at(&bytes, at).map_err(|source| FileError::Io {
            op: "write",
            region: Region::Control(area),
            offset: at,
            source,
        })
    }

    /// Write whole units (an encoded journal) to the ring from logical position `pos`, wrapping
    /// at the ring's end (two writes then). Only P may ([`FileError::NotOwner`]).
    pub fn write_units(&self, pos: Pos, bytes: &[u8]) -> Result<(), FileError> {
        if self.owner != Owner::Primary {
            return Err(FileError::NotOwner { region: Region::Ring, owner: self.owner });
        }
        let q = self.layout.queue_units as usize;
        let units = bytes.len() / UNIT;
        if units * UNIT != bytes.len() || units > q {
            return Err(FileError::BadRingAccess { bytes: bytes.len(), queue_units: self.layout.queue_units });
        }
        let slot = pos.slot(self.layout.queue_units) as usize;
        let (first, second) = bytes.split_at((q - slot).min(units) * UNIT);
        for (part, at) in [(first, self.layout.unit_offset(pos)), (second, self.layout.ring)] {
            if !part.is_empty() {
                self.file.write_all_at(part, at).map_err(|source| FileError::Io {
                    op: "write",
                    region: Region::Ring,
                    offset: at,
                    source,
                })?;
            }
        }
        Ok(())
    }

    /// Read `units` units of the ring from logical position `from` into `buf` (cleared first,
    /// then `units * UNIT` bytes), the concatenation across the ring's end. Bytes past the end
    /// of the file read as zeros. Any owner may read.
    pub fn read_units(&self, from: Pos, units: u32, buf: &mut Vec<u8>) -> Result<(), FileError> {
        let q = self.layout.queue_units;
        if units > q {
            return Err(FileError::BadRingAccess { bytes: (units as usize).saturating_mul(UNIT), queue_units: q });
        }
        let n = units as usize;
        buf.clear();
        buf.resize(n * UNIT, 0);
        let slot = from.slot(q) as usize;
        let (first, second) = buf.split_at_mut((q as usize - slot).min(n) * UNIT);
        for (part, at) in [(first, self.layout.unit_offset(from)), (second, self.layout.ring)] {
            read_upto(&self.file, at, part).map_err(|source| FileError::Io {
                op: "read",
                region: Region::Ring,
                offset: at,
                source,
            })?;
        }
        Ok(())
    }

    /// Make every write so far durable (`fdatasync`).
    pub fn flush(&self) -> Result<(), FileError> {
        self.file.sync_data().map_err(|source| FileError::Io { op: "flush", region: Region::Ring, offset: 0, source })
    }
}

/// Take the primary lock on `file`, without waiting.
fn lock_primary(file: &File) -> Result<(), FileError> {
    use rustix::fs::{flock, FlockOperation};
    match flock(file, FlockOperation::NonBlockingLockExclusive) {
        Ok(()) => Ok(()),
        Err(e) if e == rustix::io::Errno::WOULDBLOCK => Err(FileError::Locked),
        Err(e) => Err(FileError::Lock(e.into())),
    }
}

/// Read into `buf` from `offset` until it is full or the file ends; the bytes past the end are
/// left as they were. Returns the bytes read.
fn read_upto(file: &File, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
    let mut done = 0;
    while let Some(rest) = buf.get_mut(done..).filter(|r| !r.is_empty()) {
        match file.read_at(rest, offset + done as u64) {
            Ok(0) => break,
            Ok(n) => done += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(done)
}

/// Read all of `buf` from `offset` ([`FileError::Truncated`] if the file ends first).
fn read_whole(file: &File, offset: u64, buf: &mut [u8], region: Region) -> Result<(), FileError> {
    let got = read_upto(file, offset, buf).map_err(|source| FileError::Io { op: "read", region, offset, source })?;
    if got < buf.len() {
        return Err(FileError::Truncated { region, offset, need: buf.len(), got });
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// S's checkpoint.

/// What S's checkpoint holds: the record S published last (its head 629 and size 630) and the
/// last journal S applied whole (`None` before the first).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Saved {
    /// The record of 632 S published (or was about to) when it saved.
    pub record: ControlInfo,
    /// The header fields of the last journal applied: its id and time stamp are the reference
    /// of the drain's existence test (1306).
    pub last: Option<JournalMeta>,
}

/// S's checkpoint file: one [`BLOCK`]-byte control record ([`format::encode_control`]) and one
/// [`UNIT`]-byte header block of the last journal applied (as read from the ring, decoded with
/// [`format::decode_header`]; all zeros before the first journal).
#[derive(Debug)]
pub struct Checkpoint {
    path: PathBuf,
    tmp: PathBuf,
    dir: PathBuf,
    /// The header block of the last journal applied, and whether there is one.
    last: [u8; UNIT],
    has_last: bool,
}

impl Checkpoint {
    /// The checkpoint at `path` (its temporary file is `path` with `.tmp` appended).
    pub fn new(path: &Path) -> Checkpoint {
        let mut tmp = OsString::from(path.as_os_str());
        tmp.push(".tmp");
        let dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        Checkpoint { path: path.to_path_buf(), tmp: PathBuf::from(tmp), dir, last: [0; UNIT], has_last: false }
    }

    /// Read the checkpoint: `None` if there is no file; the record must be `me`'s, for the
    /// intermediate's group and queue, and the header block a valid header of its journals.
    pub fn load(&mut self, layout: &FileLayout, me: Owner) -> Result<Option<Saved>, FileError> {
        let region = Region::Checkpoint;
        let file = match File::open(&self.path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(FileError::Open { path: self.path.clone(), source }),
        };
        let mut bytes = [0u8; BLOCK + UNIT];
        read_whole(&file, 0, &mut bytes, region)?;
        let (record, last) = bytes.split_at(BLOCK);
        let record = format::decode_control(record, layout.group, layout.queue, me)
            .map_err(|source| FileError::Format { region, source })?;
        self.last.copy_from_slice(last);
        self.has_last = last.iter().any(|&b| b != 0);
        let last = if self.has_last {
            let h = format::decode_header(LAYOUT, last, layout.expect())
                .map_err(|source| FileError::Format { region, source })?;
            Some(h.meta)
        } else {
            None
        };
        Ok(Some(Saved { record, last }))
    }

    /// The last journal applied is now the one whose header block is `block` (its first
    /// [`UNIT`] bytes); saved with the next [`Checkpoint::save`].
    pub fn set_last(&mut self, block: &[u8]) {
        if let Some(b) = block.get(..UNIT) {
            self.last.copy_from_slice(b);
            self.has_last = true;
        }
    }

    /// Replace the checkpoint with `record` and the last journal set: write a temporary file,
    /// `fsync` it, rename it over the checkpoint and `fsync` the directory.
    pub fn save(&self, layout: &FileLayout, record: &ControlInfo) -> Result<(), FileError> {
        let region = Region::Checkpoint;
        let io = |op, offset| move |source| FileError::Io { op, region, offset, source };
        let mut bytes = [0u8; BLOCK + UNIT];
        bytes[..BLOCK].copy_from_slice(&format::encode_control(layout.group, layout.queue, record));
        if self.has_last {
            bytes[BLOCK..].copy_from_slice(&self.last);
        }
        let file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&self.tmp)
            .map_err(|source| FileError::Open { path: self.tmp.clone(), source })?;
        file.write_all_at(&bytes, 0).map_err(io("write", 0))?;
        file.sync_all().map_err(io("flush", 0))?;
        std::fs::rename(&self.tmp, &self.path).map_err(io("rename", 0))?;
        let dir = File::open(&self.dir).map_err(|source| FileError::Open { path: self.dir.clone(), source })?;
        dir.sync_all().map_err(io("flush", 0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::format::{encode_journal, JournalHeader};
    use crate::journal::{ReqId, Ts};
    use std::sync::atomic::{AtomicU32, Ordering};

    /// A fresh path in the system's temporary directory; removed on drop.
    struct Temp(PathBuf);

    impl Temp {
        fn new(name: &str) -> Temp {
            static N: AtomicU32 = AtomicU32::new(0);
            let n = N.fetch_add(1, Ordering::Relaxed);
            Temp(std::env::temp_dir().join(format!("rcopy-file-{}-{n}-{name}", std::process::id())))
        }
    }

    impl Drop for Temp {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }

    fn journal(id: u32, pos_blocks: u16) -> Vec<u8> {
        let meta = JournalMeta { id: ReqId(id), ts: Ts(id), volume: 0, addr: 7, blocks: 0 };
        let data = vec![id as u8; usize::from(pos_blocks) * BLOCK];
        let h = JournalHeader::new(LAYOUT, 0, 1, 1, meta, data.len() as u32).unwrap();
        let mut out = Vec::new();
        encode_journal(LAYOUT, &h, &data, &mut out).unwrap();
        out
    }

    #[test]
    fn unit_is_the_layout_block() {
        assert_eq!(UNIT, LAYOUT.physical());
        assert_eq!(LAYOUT.payload(), BLOCK);
    }

    #[test]
    fn format_then_open_reads_the_first_records() {
        let t = Temp::new("fmt");
        let layout = Intermediate::format(&t.0, &FormatOptions::new(16)).unwrap();
        assert_eq!(layout.queue_units, 16);
        assert_eq!(layout.ring, 3 * AREA_ALIGN);
        assert_eq!(std::fs::metadata(&t.0).unwrap().len(), layout.len());
        let s = Intermediate::open(&t.0, Owner::Secondary(0)).unwrap();
        assert_eq!(s.layout(), &layout);
        let p631 = s.read_control(Owner::Primary).unwrap();
        assert_eq!(p631, ControlInfo { owner: Owner::Primary, head: Pos(0), size: 0, heartbeat: 0 });
        assert_eq!(s.read_control(Owner::Secondary(0)).unwrap().owner, Owner::Secondary(0));
        assert!(matches!(s.read_control(Owner::Secondary(1)), Err(FileError::NoSuchOwner(_))));
    }

    #[test]
    fn ring_writes_wrap_and_read_back() {
        let t = Temp::new("wrap");
        Intermediate::format(&t.0, &FormatOptions::new(8)).unwrap();
        let p = Intermediate::open(&t.0, Owner::Primary).unwrap();
        let j = journal(1, 3); // 5 units
        p.write_units(Pos(6), &j).unwrap(); // units 6, 7, 0, 1, 2
        let s = Intermediate::open(&t.0, Owner::Secondary(0)).unwrap();
        let mut buf = Vec::new();
        s.read_units(Pos(14), 5, &mut buf).unwrap(); // 14 % 8 = 6
        assert_eq!(buf, j);
        let h = format::decode_header(LAYOUT, &buf, s.layout().expect()).unwrap();
        assert!(format::unit_tags(LAYOUT, &buf, &h).iter().all(|u| u.intact));
        // Too many units, or bytes that are not whole units.
        assert!(matches!(s.read_units(Pos(0), 9, &mut buf), Err(FileError::BadRingAccess { .. })));
        assert!(matches!(p.write_units(Pos(0), &j[..UNIT + 1]), Err(FileError::BadRingAccess { .. })));
    }

    #[test]
    fn only_owners_write_their_areas() {
        let t = Temp::new("own");
        Intermediate::format(&t.0, &FormatOptions::new(8)).unwrap();
        let s = Intermediate::open(&t.0, Owner::Secondary(0)).unwrap();
        let s_rec = ControlInfo { owner: Owner::Secondary(0), head: Pos(0), size: 0, heartbeat: 1 };
        let p_rec = ControlInfo { owner: Owner::Primary, ..s_rec };
        let not_owner = |r: Result<(), FileError>, region| match r {
            Err(FileError::NotOwner { region: got, .. }) => assert_eq!(got, region),
            other => panic!("expected NotOwner for {region}, got {other:?}"),
        };
        not_owner(s.write_control(Owner::Primary, &s_rec), Region::Control(Owner::Primary));
        not_owner(s.write_control(Owner::Primary, &p_rec), Region::Control(Owner::Primary));
        not_owner(s.write_control(Owner::Secondary(0), &p_rec), Region::Control(Owner::Secondary(0)));
        not_owner(s.write_units(Pos(0), &journal(1, 1)), Region::Ring);
        s.write_control(Owner::Secondary(0), &s_rec).unwrap();
        let p = Intermediate::open(&t.0, Owner::Primary).unwrap();
        not_owner(p.write_control(Owner::Secondary(0), &s_rec), Region::Control(Owner::Secondary(0)));
        p.write_control(Owner::Primary, &ControlInfo { heartbeat: 9, ..p_rec }).unwrap();
        assert_eq!(s.read_control(Owner::Primary).unwrap().heartbeat, 9);
        assert_eq!(p.read_control(Owner::Secondary(0)).unwrap().heartbeat, 1);
        // A second primary, and a format, are refused while the first is open.
        assert!(matches!(Intermediate::open(&t.0, Owner::Primary), Err(FileError::Locked)));
        assert!(matches!(Intermediate::format(&t.0, &FormatOptions::new(8)), Err(FileError::Locked)));
        drop(p);
        Intermediate::open(&t.0, Owner::Primary).unwrap();
    }

    /// A record read while its owner rewrites it can read torn (no atomicity between a read and a
    /// write of a file): `read_control` reads again, so a reader never sees an error for it.
    #[test]
    fn control_reads_survive_concurrent_rewrites() {
        let t = Temp::new("race");
        Intermediate::format(&t.0, &FormatOptions::new(8)).unwrap();
        let p = Intermediate::open(&t.0, Owner::Primary).unwrap();
        let s = Intermediate::open(&t.0, Owner::Secondary(0)).unwrap();
        let stop = std::sync::atomic::AtomicBool::new(false);
        std::thread::scope(|scope| {
            scope.spawn(|| {
                let mut hb = 0u32;
                while !stop.load(Ordering::Relaxed) {
                    hb = hb.wrapping_add(1);
                    // Records that differ in many bytes, so that a torn read shows.
                    let head = Pos(if hb % 2 == 0 { 0 } else { u32::MAX / 3 });
                    let rec =
                        ControlInfo { owner: Owner::Primary, head, size: hb, heartbeat: hb.wrapping_mul(0x9e37_79b9) };
                    p.write_control(Owner::Primary, &rec).unwrap();
                }
            });
            let mut last = 0;
            let mut failure = None;
            for _ in 0..100_000 {
                match s.read_control(Owner::Primary) {
                    Ok(r) if r.size >= last => last = r.size,
                    Ok(r) => failure = Some(format!("records go back: {} after {last}", r.size)),
                    Err(e) => failure = Some(e.to_string()),
                }
                if failure.is_some() {
                    break;
                }
            }
            stop.store(true, Ordering::Relaxed);
            assert_eq!(failure, None);
        });
    }

    /// The bytes of slot `slot` of `owner`'s control area, read past the handles.
    fn slot(path: &Path, layout: &FileLayout, owner: Owner, slot: usize) -> [u8; BLOCK] {
        let mut b = [0u8; BLOCK];
        let at = layout.control_offset(owner).unwrap() + (slot * BLOCK) as u64;
        File::open(path).unwrap().read_exact_at(&mut b, at).unwrap();
        b
    }

    /// Overwrite the start of slot `slot` of `owner`'s control area with `bytes`, past the
    /// handles (a write torn by a crash, or garbage).
    fn put_slot(path: &Path, layout: &FileLayout, owner: Owner, slot: usize, bytes: &[u8]) {
        let at = layout.control_offset(owner).unwrap() + (slot * BLOCK) as u64;
        OpenOptions::new().write(true).open(path).unwrap().write_all_at(bytes, at).unwrap();
    }

    /// The sequence number a slot holds, if it holds a valid record.
    fn slot_seq(path: &Path, layout: &FileLayout, owner: Owner, i: usize) -> Option<u64> {
        let b = slot(path, layout, owner, i);
        format::decode_control_record(&b, layout.group, layout.queue, owner).ok().map(|r| r.seq)
    }

    fn p_rec(heartbeat: u32) -> ControlInfo {
        ControlInfo { owner: Owner::Primary, head: Pos(heartbeat.wrapping_mul(7)), size: heartbeat, heartbeat }
    }

    #[test]
    fn writes_alternate_between_the_two_slots() {
        let t = Temp::new("slots");
        let layout = Intermediate::format(&t.0, &FormatOptions::new(8)).unwrap();
        // As formatted: the first record, sequence 0, in slot 0; slot 1 never written.
        assert_eq!(slot_seq(&t.0, &layout, Owner::Primary, 0), Some(0));
        assert_eq!(slot(&t.0, &layout, Owner::Primary, 1), [0; BLOCK]);
        let p = Intermediate::open(&t.0, Owner::Primary).unwrap();
        let s = Intermediate::open(&t.0, Owner::Secondary(0)).unwrap();
        for hb in 1..=5u32 {
            p.write_control(Owner::Primary, &p_rec(hb)).unwrap();
            assert_eq!(s.read_control(Owner::Primary).unwrap(), p_rec(hb));
            // Write k (sequence k) went to slot k % 2; the other slot holds write k - 1.
            let k = u64::from(hb);
            assert_eq!(slot_seq(&t.0, &layout, Owner::Primary, (k % 2) as usize), Some(k));
            assert_eq!(slot_seq(&t.0, &layout, Owner::Primary, ((k + 1) % 2) as usize), Some(k - 1));
        }
        // The other areas are untouched by P's writes.
        assert_eq!(slot_seq(&t.0, &layout, Owner::Secondary(0), 0), Some(0));
        assert_eq!(slot(&t.0, &layout, Owner::Secondary(0), 1), [0; BLOCK]);
    }

    /// (1) A write torn in the slot being rewritten (garbage, or the first half of the new
    /// record over the old one) reads as the record before it, whole in the other slot.
    #[test]
    fn a_torn_slot_reads_as_the_previous_record() {
        let t = Temp::new("torn1");
        let layout = Intermediate::format(&t.0, &FormatOptions::new(8)).unwrap();
        let p = Intermediate::open(&t.0, Owner::Primary).unwrap();
        p.write_control(Owner::Primary, &p_rec(1)).unwrap(); // sequence 1, slot 1
        p.write_control(Owner::Primary, &p_rec(2)).unwrap(); // sequence 2, slot 0
        let s = Intermediate::open(&t.0, Owner::Secondary(0)).unwrap();
        assert_eq!(s.read_control(Owner::Primary).unwrap(), p_rec(2));
        // Write 3 goes to slot 1. Torn: its first half over write 1's record.
        let third =
            format::encode_control_record(layout.group, layout.queue, &ControlRecord { seq: 3, info: p_rec(3) });
        for torn in [&third[..BLOCK / 2], &third[..BLOCK - 1], &[0xa5; BLOCK][..], &[0; BLOCK][..]] {
            put_slot(&t.0, &layout, Owner::Primary, 1, torn);
            assert_eq!(slot_seq(&t.0, &layout, Owner::Primary, 1), None);
            // A fresh reader, and one that read record 2 already, both get record 2.
            assert_eq!(s.read_control(Owner::Primary).unwrap(), p_rec(2));
            let fresh = Intermediate::open(&t.0, Owner::Secondary(0)).unwrap();
            assert_eq!(fresh.read_control(Owner::Primary).unwrap(), p_rec(2));
        }
        // The other half lands: record 3.
        put_slot(&t.0, &layout, Owner::Primary, 1, &third);
        assert_eq!(s.read_control(Owner::Primary).unwrap(), p_rec(3));
        // Torn the other way round: slot 0 (record 2) is torn while record 3 is whole.
        put_slot(&t.0, &layout, Owner::Primary, 0, &[0x5a; 100]);
        assert_eq!(s.read_control(Owner::Primary).unwrap(), p_rec(3));
        // A slot holding an old-version (1) record, or another owner's, or another queue's, is
        // passed over too.
        let mut v1 = format::encode_control(layout.group, layout.queue, &p_rec(9));
        v1[4] = 1;
        let code = crc32c::crc32c(&v1[..BLOCK - 4]);
        v1[BLOCK - 4..].copy_from_slice(&code.to_le_bytes());
        let s_rec = ControlInfo { owner: Owner::Secondary(0), ..p_rec(9) };
        let others = [
            v1,
            format::encode_control_record(layout.group, layout.queue, &ControlRecord { seq: 4, info: s_rec }),
            format::encode_control_record(layout.group, layout.queue + 1, &ControlRecord { seq: 4, info: p_rec(9) }),
        ];
        for other in others {
            put_slot(&t.0, &layout, Owner::Primary, 0, &other);
            assert_eq!(s.read_control(Owner::Primary).unwrap(), p_rec(3));
        }
    }

    /// (2) Both slots torn (or never valid): a typed error naming each slot's problem.
    #[test]
    fn both_slots_torn_is_an_error() {
        let t = Temp::new("torn2");
        let layout = Intermediate::format(&t.0, &FormatOptions::new(8)).unwrap();
        let p = Intermediate::open(&t.0, Owner::Primary).unwrap();
        p.write_control(Owner::Primary, &p_rec(1)).unwrap();
        let s = Intermediate::open(&t.0, Owner::Secondary(0)).unwrap();
        assert_eq!(s.read_control(Owner::Primary).unwrap(), p_rec(1));
        let half = format::encode_control_record(layout.group, layout.queue, &ControlRecord { seq: 9, info: p_rec(9) });
        put_slot(&t.0, &layout, Owner::Primary, 0, &half[..BLOCK / 2]);
        put_slot(&t.0, &layout, Owner::Primary, 1, &[0xc3; BLOCK]);
        match s.read_control(Owner::Primary) {
            Err(FileError::Format { region: Region::Control(Owner::Primary), source }) => {
                let FormatError::NoValidSlot { slot0, slot1 } = &source else { panic!("{source:?}") };
                assert!(matches!(**slot0, FormatError::BadChecksum { .. }), "{slot0:?}");
                assert!(matches!(**slot1, FormatError::BadChecksum { .. }), "{slot1:?}");
                assert!(source.to_string().contains("neither slot"), "{source}");
            }
            other => panic!("expected NoValidSlot, got {other:?}"),
        }
        // Old-version records in both slots: the same error, each slot saying why.
        let mut v1 = format::encode_control(layout.group, layout.queue, &p_rec(9));
        v1[4] = 1;
        let code = crc32c::crc32c(&v1[..BLOCK - 4]);
        v1[BLOCK - 4..].copy_from_slice(&code.to_le_bytes());
        put_slot(&t.0, &layout, Owner::Primary, 0, &v1);
        put_slot(&t.0, &layout, Owner::Primary, 1, &v1);
        let err = s.read_control(Owner::Primary).unwrap_err();
        assert!(
            matches!(
                &err,
                FileError::Format { source: FormatError::NoValidSlot { slot0, slot1 }, .. }
                    if **slot0 == FormatError::UnsupportedVersion(1) && **slot1 == FormatError::UnsupportedVersion(1)
            ),
            "{err:?}"
        );
        // P's next write makes the area readable again (both slots were invalid: it starts
        // over at sequence 0, slot 0, there being nothing whole to keep).
        drop(p);
        let p = Intermediate::open(&t.0, Owner::Primary).unwrap();
        p.write_control(Owner::Primary, &p_rec(10)).unwrap();
        assert_eq!(slot_seq(&t.0, &layout, Owner::Primary, 0), Some(0));
        assert_eq!(s.read_control(Owner::Primary).unwrap(), p_rec(10));
    }

    /// (3) A restarted writer continues after the newest valid record: it never overwrites it,
    /// whether its last write was whole or torn by the crash.
    #[test]
    fn a_new_writer_resumes_after_the_newest_record() {
        let t = Temp::new("resume");
        let layout = Intermediate::format(&t.0, &FormatOptions::new(8)).unwrap();
        let p = Intermediate::open(&t.0, Owner::Primary).unwrap();
        for hb in 1..=4 {
            p.write_control(Owner::Primary, &p_rec(hb)).unwrap(); // 4 ends in slot 0
        }
        drop(p);
        // Restart after a whole write: sequence 5, slot 1.
        let p = Intermediate::open(&t.0, Owner::Primary).unwrap();
        let newest = slot(&t.0, &layout, Owner::Primary, 0);
        p.write_control(Owner::Primary, &p_rec(5)).unwrap();
        assert_eq!(slot(&t.0, &layout, Owner::Primary, 0), newest, "the newest record was overwritten");
        assert_eq!(slot_seq(&t.0, &layout, Owner::Primary, 1), Some(5));
        // A crash in the middle of write 6 (slot 0): record 5 stands, and the restarted writer
        // rewrites slot 0 with sequence 6, leaving record 5 alone.
        let sixth =
            format::encode_control_record(layout.group, layout.queue, &ControlRecord { seq: 6, info: p_rec(6) });
        put_slot(&t.0, &layout, Owner::Primary, 0, &sixth[..200]);
        drop(p);
        let s = Intermediate::open(&t.0, Owner::Secondary(0)).unwrap();
        assert_eq!(s.read_control(Owner::Primary).unwrap(), p_rec(5));
        let p = Intermediate::open(&t.0, Owner::Primary).unwrap();
        let fifth = slot(&t.0, &layout, Owner::Primary, 1);
        p.write_control(Owner::Primary, &p_rec(66)).unwrap();
        assert_eq!(slot(&t.0, &layout, Owner::Primary, 1), fifth);
        assert_eq!(slot_seq(&t.0, &layout, Owner::Primary, 0), Some(6));
        assert_eq!(s.read_control(Owner::Primary).unwrap(), p_rec(66));
        // A secondary's 632 likewise.
        let me = Owner::Secondary(0);
        let s_rec = |hb| ControlInfo { owner: me, head: Pos(hb), size: 0, heartbeat: hb };
        s.write_control(me, &s_rec(1)).unwrap();
        drop(s);
        let s = Intermediate::open(&t.0, me).unwrap();
        s.write_control(me, &s_rec(2)).unwrap();
        assert_eq!((slot_seq(&t.0, &layout, me, 0), slot_seq(&t.0, &layout, me, 1)), (Some(2), Some(1)));
        assert_eq!(p.read_control(me).unwrap(), s_rec(2));
    }

    /// (3) The sequence number wraps at 2^64: the record after `u64::MAX` (sequence 0, slot 0)
    /// is the newer one, for a restarted writer and for a reader that saw `u64::MAX`.
    #[test]
    fn sequence_numbers_wrap() {
        let t = Temp::new("wrapseq");
        let layout = Intermediate::format(&t.0, &FormatOptions::new(8)).unwrap();
        let rec = |seq, hb| {
            format::encode_control_record(layout.group, layout.queue, &ControlRecord { seq, info: p_rec(hb) })
        };
        put_slot(&t.0, &layout, Owner::Primary, 0, &rec(u64::MAX - 1, 1));
        put_slot(&t.0, &layout, Owner::Primary, 1, &rec(u64::MAX, 2));
        let s = Intermediate::open(&t.0, Owner::Secondary(0)).unwrap();
        assert_eq!(s.read_control(Owner::Primary).unwrap(), p_rec(2));
        let p = Intermediate::open(&t.0, Owner::Primary).unwrap();
        p.write_control(Owner::Primary, &p_rec(3)).unwrap();
        assert_eq!(slot_seq(&t.0, &layout, Owner::Primary, 0), Some(0));
        assert_eq!(slot_seq(&t.0, &layout, Owner::Primary, 1), Some(u64::MAX));
        assert_eq!(s.read_control(Owner::Primary).unwrap(), p_rec(3));
        p.write_control(Owner::Primary, &p_rec(4)).unwrap();
        assert_eq!(slot_seq(&t.0, &layout, Owner::Primary, 1), Some(1));
        assert_eq!(s.read_control(Owner::Primary).unwrap(), p_rec(4));
        // The order itself.
        assert!(format::seq_newer(0, u64::MAX) && !format::seq_newer(u64::MAX, 0));
        assert!(format::seq_newer(5, 4) && !format::seq_newer(4, 5) && !format::seq_newer(4, 4));
    }

    /// (4) One thread rewrites 631 as fast as it can while another reads it 10,000 times: no
    /// read fails and no heartbeat goes back (with one slot, a read every few hundred met a
    /// torn record and needed re-reading).
    #[test]
    fn heartbeats_never_go_back_under_nonstop_rewrites() {
        let t = Temp::new("hb");
        Intermediate::format(&t.0, &FormatOptions::new(8)).unwrap();
        let p = Intermediate::open(&t.0, Owner::Primary).unwrap();
        let s = Intermediate::open(&t.0, Owner::Secondary(0)).unwrap();
        let stop = std::sync::atomic::AtomicBool::new(false);
        let written = AtomicU32::new(0);
        std::thread::scope(|scope| {
            scope.spawn(|| {
                let mut hb = 0u32;
                while !stop.load(Ordering::Relaxed) {
                    hb += 1;
                    // Records that differ in many bytes, so that a torn slot shows.
                    let head = Pos(if hb & 1 == 0 { 0 } else { u32::MAX / 3 });
                    let rec = ControlInfo { owner: Owner::Primary, head, size: !hb, heartbeat: hb };
                    p.write_control(Owner::Primary, &rec).unwrap();
                    written.store(hb, Ordering::Relaxed);
                }
            });
            // Reads start once the writer runs.
            while written.load(Ordering::Relaxed) < 10 {
                std::thread::yield_now();
            }
            let (mut last, mut changes, mut mark) = (0u32, 0u32, 0u32);
            let mut failure = None;
            for n in 0..10_000 {
                if n % 100 == 0 {
                    // On a loaded machine the writer may not be running: let it write between
                    // every hundred reads, so that the reads do meet writes.
                    while written.load(Ordering::Relaxed) == mark {
                        std::thread::yield_now();
                    }
                    mark = written.load(Ordering::Relaxed);
                }
                match s.read_control(Owner::Primary) {
                    Ok(r) if r.size != !r.heartbeat => failure = Some(format!("read {n}: a mixed record {r:?}")),
                    Ok(r) if r.heartbeat < last => {
                        failure = Some(format!("read {n}: heartbeat {} after {last}", r.heartbeat))
                    }
                    Ok(r) => {
                        changes += u32::from(r.heartbeat != last);
                        last = r.heartbeat;
                    }
                    Err(e) => failure = Some(format!("read {n}: {e}")),
                }
                if failure.is_some() {
                    break;
                }
            }
            stop.store(true, Ordering::Relaxed);
            assert_eq!(failure, None);
            assert!(changes >= 50, "the reads saw only {changes} different heartbeats: no race exercised");
        });
    }

    #[test]
    fn corrupt_and_short_files_give_typed_errors() {
        let t = Temp::new("bad");
        std::fs::write(&t.0, b"").unwrap();
        assert!(matches!(
            Intermediate::open(&t.0, Owner::Secondary(0)),
            Err(FileError::Truncated { region: Region::Config, .. })
        ));
        std::fs::write(&t.0, vec![0xa5; 3 * CONFIG_AREA]).unwrap();
        assert!(matches!(
            Intermediate::open(&t.0, Owner::Secondary(0)),
            Err(FileError::Format { region: Region::Config, .. })
        ));
        let layout = Intermediate::format(&t.0, &FormatOptions::new(8)).unwrap();
        // A flipped bit in 631's only record (slot 1 was never written).
        let f = OpenOptions::new().write(true).open(&t.0).unwrap();
        f.write_all_at(&[0xff], layout.primary_control + 20).unwrap();
        let s = Intermediate::open(&t.0, Owner::Secondary(0)).unwrap();
        assert!(matches!(
            s.read_control(Owner::Primary),
            Err(FileError::Format { source: FormatError::NoValidSlot { .. }, .. })
        ));
        // Cut in the middle of the ring: the rest reads as zeros.
        f.set_len(layout.ring + 2 * UNIT as u64 + 100).unwrap();
        let mut buf = Vec::new();
        s.read_units(Pos(0), 8, &mut buf).unwrap();
        assert_eq!(buf.len(), 8 * UNIT);
        assert!(buf.iter().all(|&b| b == 0));
        assert!(format::decode_header(LAYOUT, &buf, layout.expect()).is_err());
        // Cut in 632's second slot, or before 632: both slots must be on the file.
        f.set_len(layout.secondary_controls[0] + BLOCK as u64 + 10).unwrap();
        assert!(matches!(s.read_control(Owner::Secondary(0)), Err(FileError::Truncated { .. })));
        f.set_len(layout.secondary_controls[0] + 10).unwrap();
        assert!(matches!(s.read_control(Owner::Secondary(0)), Err(FileError::Truncated { .. })));
        // The writer cannot resume on a cut area either: a typed error, nothing written.
        let s_rec = ControlInfo { owner: Owner::Secondary(0), head: Pos(0), size: 0, heartbeat: 1 };
        let s0 = Intermediate::open(&t.0, Owner::Secondary(0)).unwrap();
        assert!(matches!(s0.write_control(Owner::Secondary(0), &s_rec), Err(FileError::Truncated { .. })));
    }

    #[test]
    fn foreign_configs_are_refused() {
        let mut c = FormatOptions::new(8).config().unwrap();
        c.queues[0].size += 1;
        assert!(matches!(FileLayout::from_config(&c), Err(FileError::BadConfig(_))));
        let mut c = FormatOptions::new(8).config().unwrap();
        c.queues[0].primary.offset = 0;
        assert!(matches!(FileLayout::from_config(&c), Err(FileError::BadConfig(_))));
        let mut c = FormatOptions::new(8).config().unwrap();
        c.queues[0].kind = QueueKind::Message;
        assert!(matches!(FileLayout::from_config(&c), Err(FileError::BadConfig(_))));
        // A control area of one slot (a version-1 layout), or one whose second slot is another
        // area's first.
        let mut c = FormatOptions::new(8).config().unwrap();
        assert_eq!(c.queues[0].primary.size as usize, CONTROL_AREA);
        c.queues[0].secondaries[0].size = BLOCK as u32;
        let too_small = FormatError::TooSmall {
            area: format::Area::SecondaryControl { queue: 1, index: 0 },
            size: BLOCK as u64,
            min: CONTROL_AREA as u64,
        };
        assert_eq!(c.validate(), Err(too_small.clone()));
        assert!(matches!(FileLayout::from_config(&c), Err(FileError::Format { source, .. }) if source == too_small));
        let mut c = FormatOptions::new(8).config().unwrap();
        c.queues[0].secondaries[0].offset = c.queues[0].primary.offset + BLOCK as u64;
        assert!(matches!(
            FileLayout::from_config(&c),
            Err(FileError::Format { source: FormatError::Overlap { .. }, .. })
        ));
        // A version-1 configuration record is refused.
        let mut bytes = format::encode_config(&FormatOptions::new(8).config().unwrap()).unwrap();
        bytes[4] = 1;
        assert_eq!(format::decode_config(&bytes), Err(FormatError::UnsupportedVersion(1)));
        assert!(matches!(FormatOptions::new(2).config(), Err(FileError::BadOptions(_))));
    }

    #[test]
    fn checkpoint_round_trip() {
        let t = Temp::new("ck");
        let tmp_name = Temp(PathBuf::from(format!("{}.tmp", t.0.display())));
        let layout = FormatOptions::new(8).config().map(|c| FileLayout::from_config(&c).unwrap()).unwrap();
        let me = Owner::Secondary(0);
        let mut c = Checkpoint::new(&t.0);
        assert_eq!(c.load(&layout, me).unwrap(), None);
        let rec = ControlInfo { owner: me, head: Pos(12), size: 3, heartbeat: 4 };
        c.save(&layout, &rec).unwrap();
        assert_eq!(Checkpoint::new(&t.0).load(&layout, me).unwrap(), Some(Saved { record: rec, last: None }));
        let j = journal(5, 2);
        c.set_last(&j);
        c.save(&layout, &rec).unwrap();
        let got = Checkpoint::new(&t.0).load(&layout, me).unwrap().unwrap();
        assert_eq!(got.last.map(|m| (m.id, m.blocks)), Some((ReqId(5), 2)));
        // Another owner's, or a damaged, checkpoint is refused.
        assert!(Checkpoint::new(&t.0).load(&layout, Owner::Secondary(1)).is_err());
        std::fs::write(&t.0, [1u8; 10]).unwrap();
        assert!(matches!(Checkpoint::new(&t.0).load(&layout, me), Err(FileError::Truncated { .. })));
        drop(tmp_name);
    }
}
