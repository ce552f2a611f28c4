//! Embodiment 3 (Fig. 16, \[0158\]-\[0161\], claims 9-10 and 19-20): one remote-copy group over
//! several intermediates, each with its own ring and control areas.
//!
//! - [`Striper`] is P: it puts each journal on the intermediate the caller picks, numbers
//!   journals with one id sequence across all of them, keeps every journal's image until S
//!   confirms it, and when an intermediate fails **resends** the journals S has not confirmed
//!   there through a healthy one, with their original ids and images (note S16).
//! - [`Merger`] is S: it reads every intermediate's ring into one reorder buffer keyed by id and
//!   applies only the next consecutive id (S3, L6), dropping an id it already has (S16).
//!
//! The text leaves two things open, decided here (INTERPRETATION):
//! - **The resend's data** is the journal's original image, which P keeps (not the volume's
//!   current contents: B26).
//! - **Room for the resend.** S can confirm a journal only once it applied it, and it can apply
//!   it only after every lower id; so the journals of a healthy ring may wait on one that must
//!   be resent onto that very ring. If that ring were full, nothing would move again. The
//!   hardened P therefore admits a journal only while every journal not yet confirmed, on all
//!   intermediates, fits one ring: whichever intermediate fails, the survivor can take its
//!   journals. The faithful P checks each ring's own free space only (the text's 904), and can
//!   stall (L6).
//!
//! **Embodiment 4** (Fig. 17, \[0162\]-\[0164\], claims 7-8): the direct P-S link 1701 as the
//! alternate path when I fails is the same pair of roles with [`Striper::fallback`]: path 0 is
//! I, the others are links, and P puts journals on the first path that is up, so a link
//! carries nothing until I fails. A link is modelled as a ring P writes into and S reads from:
//! P's write completes when the link takes the data, before S stores it (asynchronous remote
//! copy). On switching, P first resends every journal S has not confirmed, from its head 626
//! on (the note's INTERPRETATION), not only those the host has not been told of (B30).
//!
//! Neither role runs heartbeats here: an intermediate's failure is learnt from an I/O error
//! (a journal write, or a read of a control area, that fails).

use super::fault::Fault;
use super::primary::{Acks, Refused};
use super::secondary::Declined;
use super::types::{Bitmap, ControlInfo, Geometry, JournalMeta, Owner, PairState, Pos, ReqId, Ts, UnitTag, Variant};
use crate::fault::FaultSet;
use serde::{Deserialize, Serialize};

/// The most intermediates one group uses.
pub const MAX_INTERMEDIATES: usize = 4;

/// Where the data of a journal P writes comes from.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub enum Data {
    /// The host write's own data (a new journal).
    Host,
    /// The image P kept of the journal the host write with this id made (a resend).
    Kept(ReqId),
    /// B26: the volume's current contents at the journal's blocks.
    Volume,
}

/// A journal to write: units `[pos, pos + units)` of intermediate `ring`'s ring.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub struct Placed {
    pub meta: JournalMeta,
    pub ring: u8,
    pub pos: Pos,
    pub units: u32,
    pub data: Data,
}

/// A journal P keeps until S confirms it: its place, its state, and the host write it carries.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub struct Kept {
    pub placed: Placed,
    /// The id of the host write whose data it carries (its own id, unless B27 renumbered it).
    pub host: ReqId,
    /// Every unit is on I.
    pub complete: bool,
    /// The host has been told.
    pub acked: bool,
}

/// P's view of one intermediate's ring.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default, Serialize, Deserialize)]
pub struct RingView {
    pub up: bool,
    /// Head 626: the oldest unit S has not confirmed on this ring.
    pub head: Pos,
    /// Next position 628.
    pub next: Pos,
}

/// What a control round on one intermediate did.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub enum Round {
    /// Write this record as that intermediate's 631.
    Publish(ControlInfo),
    /// The read failed: the intermediate is down, its journals are to be resent.
    Failed,
    /// The intermediate is down already, or P is suspended.
    Idle,
}

/// P over several intermediates, keeping at most `KEPT` journals.
#[derive(Clone, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub struct Striper<const KEPT: usize = 4096> {
    pub geometry: Geometry,
    pub region_blocks: u32,
    pub variant: Variant,
    pub faults: FaultSet,
    pub pair: PairState,
    pub rings: heapless::Vec<RingView, MAX_INTERMEDIATES>,
    pub next_id: ReqId,
    pub last_ts: Ts,
    /// Every journal not yet confirmed (update info 108 and the images), in host-write order.
    pub kept: heapless::Vec<Kept, KEPT>,
    /// Once no intermediate is left: the regions written since (Fig. 11).
    pub bitmap: Bitmap,
    /// Embodiment 4: path 0 is I and the others are fallbacks, used only once those before
    /// them failed.
    pub fallback: bool,
}

impl<const KEPT: usize> Striper<KEPT> {
    /// P at the start: `intermediates` empty rings from position 0, ids from 1.
    pub fn new(geometry: Geometry, region_blocks: u32, variant: Variant, faults: FaultSet, intermediates: u8) -> Self {
        let n = usize::from(intermediates);
        assert!((1..=MAX_INTERMEDIATES).contains(&n), "1 to {MAX_INTERMEDIATES} intermediates");
        Striper {
            geometry,
            region_blocks,
            variant,
            faults,
            pair: PairState::Pair,
            rings: (0..n).map(|_| RingView { up: true, ..RingView::default() }).collect(),
            next_id: ReqId(1),
            last_ts: Ts(0),
            kept: heapless::Vec::new(),
            bitmap: Bitmap::default(),
            fallback: false,
        }
    }

    /// Embodiment 4: path 0 is I, the others (the direct link 1701) are used only once every
    /// path before them failed.
    pub fn fallback(mut self) -> Self {
        self.fallback = true;
        self
    }

    /// Whether P may put a journal on path `ring` now: it is up and, with fallback paths, no
    /// path before it is.
    pub fn in_use(&self, ring: u8) -> bool {
        let r = usize::from(ring);
        self.up(ring) && (!self.fallback || self.rings.iter().take(r).all(|v| !v.up))
    }

    fn used(&self, r: usize) -> u32 {
        let v = self.rings[r];
        v.next.since(v.head)
    }

    /// Units not yet confirmed on the rings that are up, plus those waiting to be resent.
    pub fn outstanding(&self) -> u32 {
        let on_rings: u32 = (0..self.rings.len()).filter(|r| self.rings[*r].up).map(|r| self.used(r)).sum();
        let waiting: u32 = self.kept.iter().filter(|k| !self.up(k.placed.ring)).map(|k| k.placed.units).sum();
        on_rings + waiting
    }

    /// Whether intermediate `ring` is up, as P knows.
    pub fn up(&self, ring: u8) -> bool {
        self.rings.get(usize::from(ring)).is_some_and(|v| v.up)
    }

    /// Whether `units` more fit ring `r`: its own free space (904), and, hardened, the room
    /// rule of the module's doc.
    fn fits(&self, r: usize, units: u32) -> bool {
        let q = self.geometry.queue_units;
        let own = self.used(r) + units <= q;
        own && (self.variant == Variant::Faithful || self.outstanding() + units <= q)
    }

    fn stamp(&mut self) -> Result<(JournalMeta, ReqId), Refused> {
        let id = self.next_id;
        let after = id.next().ok_or(Refused::Spent)?;
        let ts = Ts(self.last_ts.0.checked_add(1).ok_or(Refused::Spent)?);
        self.next_id = after;
        self.last_ts = ts;
        Ok((JournalMeta { id, ts, ..JournalMeta::default() }, id))
    }

    /// Reserve `units` at ring `r`'s next position.
    fn reserve(&mut self, r: usize, units: u32) -> Result<Pos, Refused> {
        let pos = self.rings[r].next;
        self.rings[r].next = pos.plus(units).ok_or(Refused::Spent)?;
        Ok(pos)
    }

    /// Fig. 9 with the journal put on intermediate `ring`. `Ok(None)`: P is suspended (no
    /// intermediate is left) and the write is in the bitmap; complete the host.
    pub fn host_write(&mut self, ring: u8, volume: u16, addr: u32, blocks: u16) -> Result<Option<Placed>, Refused> {
        if self.pair == PairState::Suspend {
            self.bitmap.mark_blocks(addr, blocks, self.region_blocks);
            return Ok(None);
        }
        let r = usize::from(ring);
        if !self.in_use(ring) {
            return Err(Refused::PathDown(ring));
        }
        let units = self.geometry.journal_units(blocks).ok_or(Refused::TooLarge(blocks))?;
        if !self.fits(r, units) {
            return Err(Refused::Busy);
        }
        if self.kept.is_full() {
            return Err(Refused::UpdateInfoFull(KEPT));
        }
        let (mut meta, id) = self.stamp()?;
        meta.volume = volume;
        meta.addr = addr;
        meta.blocks = blocks;
        let pos = self.reserve(r, units)?;
        let placed = Placed { meta, ring, pos, units, data: Data::Host };
        let pushed = self.kept.push(Kept { placed, host: id, complete: false, acked: false });
        debug_assert!(pushed.is_ok(), "room checked above");
        Ok(Some(placed))
    }

    /// I answered GOOD for every unit of journal `id`. Returns the host writes to complete:
    /// every one not yet told, up to the first whose journal is not complete (in host order).
    pub fn journal_written(&mut self, id: ReqId) -> Option<Acks> {
        let k = self.kept.iter_mut().find(|k| k.placed.meta.id == id && !k.complete)?;
        k.complete = true;
        self.release()
    }

    /// The host writes to tell now: every one not yet told, up to the first whose journal is
    /// not complete (in host order).
    fn release(&mut self) -> Option<Acks> {
        let mut out: Option<Acks> = None;
        for k in self.kept.iter_mut() {
            if !k.complete {
                break;
            }
            if !k.acked {
                k.acked = true;
                out = Some(Acks { from: out.map_or(k.host, |a| a.from), to: k.host });
            }
        }
        out
    }

    /// The end of the completed prefix of ring `r`: the first unit of a journal still being
    /// written there, or its next position.
    fn done(&self, r: usize) -> Pos {
        let writing = self.kept.iter().filter(|k| usize::from(k.placed.ring) == r && !k.complete).map(|k| k.placed.pos).min();
        writing.unwrap_or(self.rings[r].next)
    }

    /// Fig. 10 on intermediate `ring`: `read` is its 632 as read (`None`: the read failed).
    pub fn control(&mut self, ring: u8, read: Option<ControlInfo>) -> Round {
        let r = usize::from(ring);
        if self.pair != PairState::Pair || !self.up(ring) {
            return Round::Idle;
        }
        let Some(info) = read else {
            self.ring_failed(ring);
            return Round::Failed;
        };
        let done = self.done(r);
        let confirmed = info.head.min(done);
        if confirmed > self.rings[r].head {
            self.rings[r].head = confirmed;
        }
        let head = self.rings[r].head;
        // 1004: a journal S confirmed is S's to forget (its image with it).
        self.kept.retain(|k| !(usize::from(k.placed.ring) == r && k.complete && Pos(k.placed.pos.0.saturating_add(k.placed.units)) <= head));
        Round::Publish(ControlInfo { owner: Owner::Primary, head, size: done.since(head), heartbeat: 0 })
    }

    /// Intermediate `ring` failed (a write or a read answered an error): rebuild the
    /// configuration without it (\[0161\]). Its journals wait to be resent ([`Striper::resend`]);
    /// B29 forgets them. With no intermediate left, P suspends with a bitmap of every journal
    /// not confirmed (Fig. 11).
    pub fn ring_failed(&mut self, ring: u8) {
        let Some(v) = self.rings.get_mut(usize::from(ring)) else { return };
        if !v.up {
            return;
        }
        v.up = false;
        if Fault::B29.on(self.faults) {
            self.kept.retain(|k| k.placed.ring != ring);
        } else if Fault::B30.on(self.faults) {
            // Only what the host has not been told of is resent.
            self.kept.retain(|k| k.placed.ring != ring || !k.acked);
        }
        if self.rings.iter().all(|v| !v.up) {
            self.pair = PairState::Suspend;
            let mut bitmap = Bitmap { bits: 0, start_id: self.next_id, start_ts: self.last_ts };
            for k in &self.kept {
                if k.host < bitmap.start_id {
                    bitmap.start_id = k.host;
                    bitmap.start_ts = k.placed.meta.ts;
                }
                bitmap.mark_blocks(k.placed.meta.addr, k.placed.meta.blocks, self.region_blocks);
            }
            self.bitmap = bitmap;
        }
    }

    /// The next journal to resend: the oldest one on a failed intermediate, put on the first
    /// healthy one with room, with its id and its kept image (B27: a new id; B26: the volume's
    /// data). `None` when nothing waits, or nothing fits yet (a control round frees room).
    pub fn resend(&mut self) -> Option<Placed> {
        if self.pair != PairState::Pair {
            return None;
        }
        let i = self.kept.iter().position(|k| !self.up(k.placed.ring))?;
        let units = self.kept[i].placed.units;
        let to = (0..self.rings.len()).find(|r| self.in_use(*r as u8) && self.used(*r) + units <= self.geometry.queue_units)?;
        let pos = self.reserve(to, units).ok()?;
        let k = &mut self.kept[i];
        let host = k.host;
        k.placed.ring = to as u8;
        k.placed.pos = pos;
        k.placed.data = if Fault::B26.on(self.faults) { Data::Volume } else { Data::Kept(host) };
        k.complete = false;
        if Fault::B27.on(self.faults) {
            let (mut meta, _) = self.stamp().ok()?;
            let old = self.kept[i].placed.meta;
            meta.volume = old.volume;
            meta.addr = old.addr;
            meta.blocks = old.blocks;
            self.kept[i].placed.meta = meta;
        }
        Some(self.kept[i].placed)
    }

    /// Journals wait to be resent.
    pub fn resend_waiting(&self) -> bool {
        self.pair == PairState::Pair && self.kept.iter().any(|k| !self.up(k.placed.ring))
    }
}

/// S's view of one intermediate's ring.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default, Serialize, Deserialize)]
pub struct Reader {
    pub up: bool,
    /// The next unit to read.
    pub read: Pos,
    /// The end P published in this ring's 631.
    pub end: Pos,
    /// Head 629 on this ring: the first unit of a journal not yet applied (or `read`).
    pub head: Pos,
}

/// A whole journal in S's reorder buffer: read from `ring` at `pos`, not yet applied.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub struct Held {
    pub meta: JournalMeta,
    pub ring: u8,
    pub pos: Pos,
    pub units: u32,
    /// A second copy (a resend) of a journal S holds and has not applied: its data is not
    /// kept, it is never applied, and it goes when the journal is applied. It holds its ring's
    /// head back meanwhile, so that no 632 confirms a journal S has not applied (S7).
    pub copy: bool,
}

/// S over several intermediates, with a reorder buffer of at most `HELD` journals and
/// `buffer_units` units.
#[derive(Clone, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub struct Merger<const HELD: usize = 64> {
    pub geometry: Geometry,
    pub buffer_units: u32,
    pub faults: FaultSet,
    pub me: u8,
    pub rings: heapless::Vec<Reader, MAX_INTERMEDIATES>,
    /// The last id applied (durable with the volumes).
    pub applied: ReqId,
    pub held: heapless::Vec<Held, HELD>,
}

impl<const HELD: usize> Merger<HELD> {
    pub fn new(geometry: Geometry, buffer_units: u32, faults: FaultSet, me: u8, intermediates: u8) -> Self {
        let n = usize::from(intermediates);
        assert!((1..=MAX_INTERMEDIATES).contains(&n), "1 to {MAX_INTERMEDIATES} intermediates");
        assert!(buffer_units >= 1, "the buffer must hold a unit");
        Merger {
            geometry,
            buffer_units,
            faults,
            me,
            rings: (0..n).map(|_| Reader { up: true, ..Reader::default() }).collect(),
            applied: ReqId(0),
            held: heapless::Vec::new(),
        }
    }

    /// Units of data the buffer keeps (copies keep none).
    fn held_units(&self) -> u32 {
        self.held.iter().filter(|h| !h.copy).map(|h| h.units).sum()
    }

    /// Fig. 12 on intermediate `ring`: `read` is its 631 (`None`: the read failed, and S stops
    /// reading that intermediate). `Some((from, units))`: read those units of its ring, then
    /// call [`Merger::fetched`].
    pub fn poll(&mut self, ring: u8, read: Option<ControlInfo>) -> Option<(Pos, u32)> {
        let v = self.rings.get_mut(usize::from(ring))?;
        if !v.up {
            return None;
        }
        let Some(info) = read else {
            v.up = false;
            return None;
        };
        if info.end() > v.end {
            v.end = info.end();
        }
        let room = self.buffer_units.saturating_sub(self.held_units());
        let v = self.rings[usize::from(ring)];
        let units = v.end.since(v.read).min(room);
        (units > 0).then_some((v.read, units))
    }

    /// Whether S still reads intermediate `ring`.
    pub fn reads(&self, ring: u8) -> bool {
        self.rings.get(usize::from(ring)).is_some_and(|v| v.up)
    }

    /// The units read from `ring` at `from`. Every whole journal whose units check out goes to
    /// the reorder buffer (`hold` is called for it, to keep its data), unless S has it already
    /// or applied it (B28 keeps those too); a journal cut by the read's end waits for the next.
    /// Returns the units consumed.
    pub fn fetched(&mut self, ring: u8, from: Pos, units: &[UnitTag], mut hold: impl FnMut(Held)) -> Result<u32, Declined> {
        let r = usize::from(ring);
        let v = *self.rings.get(r).ok_or(Declined::NothingPending)?;
        if from != v.read {
            return Err(Declined::StaleRead { head: v.read, got: from });
        }
        let mut at = 0usize;
        while let Some(first) = units.get(at) {
            let Some(n) = self.geometry.journal_units(first.meta.blocks) else { break };
            let n = n as usize;
            let Some(journal) = units.get(at..at + n) else { break };
            let whole = journal.iter().enumerate().all(|(k, u)| u.intact && u.meta == first.meta && usize::from(u.serial) == k);
            if !whole || first.meta.id.0 == 0 {
                break;
            }
            let done = first.meta.id <= self.applied;
            let held = self.held.iter().any(|h| h.meta.id == first.meta.id);
            let pos = Pos(from.0.saturating_add(at as u32));
            if (!done && !held) || Fault::B28.on(self.faults) {
                if self.held.is_full() || self.held_units() + n as u32 > self.buffer_units {
                    break;
                }
                let h = Held { meta: first.meta, ring, pos, units: n as u32, copy: false };
                let pushed = self.held.push(h);
                debug_assert!(pushed.is_ok(), "room checked above");
                hold(h);
            } else if !done && !self.held.iter().any(|h| h.meta.id == first.meta.id && h.ring == ring) {
                // Held from another ring, not applied: keep a copy that pins this ring's head
                // until it is (one per ring is enough: later ones lie after it).
                if self.held.push(Held { meta: first.meta, ring, pos, units: n as u32, copy: true }).is_err() {
                    break;
                }
            }
            at += n;
        }
        let consumed = at as u32;
        self.rings[r].read = Pos(from.0.saturating_add(consumed));
        self.settle();
        Ok(consumed)
    }

    /// The journal to apply next: the held one with the lowest id, if it is the next id (B25:
    /// whatever it is; B28 keeps duplicates, whose id is lower).
    pub fn next(&self) -> Option<Held> {
        let h = *self.held.iter().filter(|h| !h.copy).min_by_key(|h| h.meta.id)?;
        let next = ReqId(self.applied.0.saturating_add(1));
        (h.meta.id <= next || Fault::B25.on(self.faults)).then_some(h)
    }

    /// `h`'s data is applied to the volumes (durably): drop it from the buffer and move every
    /// ring's head over what is applied. Then write [`Merger::record`] as each ring's 632.
    pub fn applied(&mut self, h: Held) -> Result<(), Declined> {
        let i = self.held.iter().position(|x| *x == h && !x.copy).ok_or(Declined::NothingPending)?;
        self.held.remove(i);
        if h.meta.id > self.applied {
            self.applied = h.meta.id;
        }
        let applied = self.applied;
        self.held.retain(|x| !(x.copy && x.meta.id <= applied));
        self.settle();
        Ok(())
    }

    /// Each ring's head: its first journal still held (a copy too), or where S reads next.
    fn settle(&mut self) {
        for (r, v) in self.rings.iter_mut().enumerate() {
            let held = self.held.iter().filter(|h| usize::from(h.ring) == r).map(|h| h.pos).min();
            v.head = held.unwrap_or(v.read);
        }
    }

    /// The record to write as intermediate `ring`'s 632.
    pub fn record(&self, ring: u8) -> Option<ControlInfo> {
        let v = self.rings.get(usize::from(ring))?;
        Some(ControlInfo { owner: Owner::Secondary(self.me), head: v.head, size: v.end.since(v.head), heartbeat: 0 })
    }
}
