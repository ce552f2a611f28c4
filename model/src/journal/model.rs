//! The journal world as a stateright model: the actions of note section 7 and what each feeds
//! P and S (through [`super::dispatch::feed`]), the world's bookkeeping on their answers,
//! and the fairness classes.

use super::config::{Config, MAX_BLOCKS, MAX_QUEUE};
use super::dispatch::{feed, feed_multi, Input, MultiInput, MultiOutput, Output, Ring};
use super::state::{DataUnit, Ghost, ModelPrimary, Multi, MultiPrimary, MultiSecondary, Side, State, WriteRec, MAX_RINGS};
use rcopy::journal::multi::{Data, Round};
use rcopy::fault::FaultSet;
use rcopy::journal::{
    Apply, ControlStep, Failure, Fetched, Geometry, JournalMeta, Mode, Owner, PairState, Poll, Pos, PrimaryConfig,
    ReqId, Secondary, SecondaryConfig, Ts, UnitTag, Variant, Written, Direction, DuringResync, Plan, ControlInfo,
};
use serde::{Deserialize, Serialize};
use stateright::{Model, Property};

/// A step of the world.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub enum Action {
    /// A host write of `blocks` blocks at `addr` reaches P (Fig. 9).
    Write { addr: u8, blocks: u8 },
    /// P writes the next unit of journal `id` to I (907; the last unit completes it).
    WriteUnit { id: ReqId },
    /// P's control-info timer (Fig. 10).
    Control,
    /// S `s`'s fetch timer (Fig. 12, 1201-1204).
    Poll { s: u8 },
    /// S `s` applies what it fetched and publishes its progress (1205-1207).
    Apply { s: u8 },
    /// S `s`'s heartbeat timer.
    Heartbeat { s: u8 },
    /// One read of S `s`'s drain (Fig. 13).
    Drain { s: u8 },
    /// P crashes (a journal being written is left torn).
    CrashP,
    /// S `s` crashes for good.
    CrashS { s: u8 },
    /// I fails for good.
    FailI,
    /// The console blocks P (1104).
    Fence,
    /// The console lets the secondary host take over.
    Takeover,
    /// The secondary host writes block `addr`.
    SecondaryWrite { addr: u8 },
    /// P restarts after its crash; `lost`: without its volume's data.
    RecoverP { lost: bool },
    /// The console resyncs the suspended pair, aligning it to P (`to_secondary`) or to S.
    Resync { to_secondary: bool },
    /// The resync's source copies its next dirty block to the target.
    Copy,
    /// The source's host writes block `addr` during the resync.
    ResyncWrite { addr: u8 },
    /// Embodiment 3: a host write of `blocks` blocks at `addr` reaches P, which puts its
    /// journal on intermediate `ring`.
    Place { ring: u8, addr: u8, blocks: u8 },
    /// Embodiment 3: P's control-info timer on intermediate `ring` (Fig. 10).
    ControlAt { ring: u8 },
    /// Embodiment 3: S's fetch timer on intermediate `ring` (Fig. 12).
    PollAt { ring: u8 },
    /// Embodiment 3: S applies the next journal of its reorder buffer and publishes progress.
    Merge,
    /// Embodiment 3: P resends a journal of a failed intermediate through a healthy one.
    Resend,
    /// Embodiment 3: intermediate `ring` fails for good.
    FailAt { ring: u8 },
}

/// The value a host write during the resync stores (one value: the run may repeat it).
pub const RESYNC_WRITE: u8 = 250;

/// Heartbeats count modulo this in the model: with at most two firings between two readings,
/// a reading always sees a live peer's heartbeat change.
pub const HEARTBEAT_MODULUS: u32 = 3;

/// The model of one config, variant and set of faults.
#[derive(Clone, Debug)]
pub struct JournalModel {
    pub config: Config,
    pub variant: Variant,
    pub faults: FaultSet,
}

impl JournalModel {
    pub fn new(config: Config, variant: Variant, faults: FaultSet) -> Result<JournalModel, String> {
        config.validate()?;
        Ok(JournalModel { config, variant, faults })
    }

    pub fn geometry(&self) -> Geometry {
        Geometry { queue_units: self.config.queue_units, header_units: 0, trailer_units: 0 }
    }

    /// Where the ring starts: lap 1 when the ring holds an earlier lap's journals.
    pub fn start(&self) -> (Pos, ReqId) {
        if self.config.stale {
            (Pos(self.config.queue_units), ReqId(self.config.queue_units + 1))
        } else {
            (Pos(0), ReqId(1))
        }
    }

    /// P's timer runs (and S's polls are bounded by it).
    fn p_timer(s: &State) -> bool {
        s.p_up && !s.p_fenced && s.p.pair == PairState::Pair
    }

    /// S polls (and P's timer is bounded by it).
    fn s_polls(x: &Side) -> bool {
        x.up && x.role.mode == Mode::Normal
    }

    fn side<'s>(&self, s: &'s State, i: u8) -> Option<&'s Side> {
        s.ss.get(usize::from(i))
    }

    /// Control info can be exchanged: over I (embodiment 1), or over the direct path
    /// (embodiment 2), which does not fail in this model.
    pub fn control_up(&self, s: &State) -> bool {
        self.config.direct_control || s.i_up
    }

    fn ring_if_up(s: &State) -> Option<Ring> {
        s.i_up.then(|| s.ring.clone())
    }

    /// The input `action` feeds the roles in `state`, read off the world; `None` for the
    /// world's own steps. An error when the action makes no sense here.
    pub fn input(&self, s: &State, action: &Action) -> Result<Option<Input>, String> {
        if s.multi.is_some() {
            return Err("embodiment 3's world takes its inputs from `multi_input`".into());
        }
        Ok(Some(match *action {
            Action::Write { addr, blocks } => Input::HostWrite { addr, blocks, reading: Ts(0) },
            Action::WriteUnit { id } => {
                let (meta, _, done) =
                    s.writing.iter().find(|w| w.0.id == id).ok_or(format!("journal {} is not being written", id.0))?;
                if !s.i_up {
                    Input::WriteFailed
                } else if u32::from(*done) + 1 >= u32::from(meta.blocks) {
                    Input::Written { id }
                } else {
                    return Ok(None);
                }
            }
            Action::Control => {
                Input::Control { reads: s.ss.iter().map(|x| self.control_up(s).then_some(x.c632)).collect() }
            }
            Action::Poll { s: i } => {
                Input::Poll { s: i, read: self.control_up(s).then_some(s.c631), ring: Self::ring_if_up(s) }
            }
            Action::Apply { s } => Input::Applied { s },
            Action::Heartbeat { s } => Input::Heartbeat { s },
            Action::Drain { s: i } => Input::Drain { s: i, ring: Self::ring_if_up(s) },
            Action::Takeover => Input::Takeover { fenced: s.p_fenced },
            Action::SecondaryWrite { addr } => Input::SecondaryWrite { addr },
            Action::RecoverP { .. } => Input::RecoverP,
            Action::Resync { to_secondary } => Input::Resync {
                direction: if to_secondary { Direction::PrimaryToSecondary } else { Direction::SecondaryToPrimary },
                regions: self.config.volume_blocks.into(),
                p_lost: s.p_lost,
            },
            Action::Copy => Input::Copy,
            Action::ResyncWrite { addr } => Input::ResyncWrite { addr },
            Action::CrashP | Action::CrashS { .. } | Action::FailI | Action::Fence => return Ok(None),
            Action::Place { .. }
            | Action::ControlAt { .. }
            | Action::PollAt { .. }
            | Action::Merge
            | Action::Resend
            | Action::FailAt { .. } => return Err("an action of embodiment 3's world".into()),
        }))
    }

    /// The input `action` feeds embodiment 3's roles in `m`, read off the world; `None` for the
    /// world's own steps.
    pub fn multi_input(&self, m: &Multi, action: &Action) -> Result<Option<MultiInput>, String> {
        let ring_up = |r: u8| m.up.get(usize::from(r)).copied().unwrap_or(false);
        Ok(Some(match *action {
            Action::Place { ring, addr, blocks } => MultiInput::HostWrite { ring, addr, blocks },
            Action::WriteUnit { id } => {
                let (placed, done) =
                    m.writing.iter().find(|w| w.0.meta.id == id).ok_or(format!("journal {} is not being written", id.0))?;
                if !ring_up(placed.ring) {
                    MultiInput::WriteFailed { ring: placed.ring }
                } else if u32::from(*done) + 1 >= placed.units {
                    MultiInput::Written { id }
                } else {
                    return Ok(None);
                }
            }
            Action::ControlAt { ring } => {
                MultiInput::Control { ring, read: ring_up(ring).then(|| m.c632[usize::from(ring)]) }
            }
            Action::PollAt { ring } => {
                let up = ring_up(ring);
                let units = up.then(|| m.rings[usize::from(ring)].iter().map(|u| u.tag).collect());
                MultiInput::Poll { ring, read: up.then(|| m.c631[usize::from(ring)]), units }
            }
            Action::Merge => MultiInput::Merge,
            Action::Resend => MultiInput::Resend,
            Action::FailAt { .. } => return Ok(None),
            _ => return Err("not an action of embodiment 3's world".into()),
        }))
    }

    /// Feed `action`'s input to the roles of `state`; the world is not touched. Replay on the
    /// roles calls this.
    pub fn drive_roles(&self, state: &mut State, action: &Action) -> Result<(), String> {
        if let Some(m) = state.multi.as_deref_mut() {
            if let Some(input) = self.multi_input(m, action)? {
                feed_multi(&mut m.p, &mut m.s, input)?;
            }
            return Ok(());
        }
        if let Some(input) = self.input(state, action)? {
            feed(&mut state.p, &mut state.ss, &mut state.resync, input)?;
        }
        Ok(())
    }

    /// Whether `action` may be taken in `s` before its input is fed (guards of the world).
    fn enabled_in(&self, s: &State, action: &Action) -> bool {
        let c = &self.config;
        if let Some(m) = s.multi.as_deref() {
            return self.multi_enabled(s, m, action);
        }
        // Once the console planned a resync, only the resync moves (failures during it are not
        // modelled); once it is over, the run ends.
        if s.resync.is_some() {
            return match *action {
                Action::Copy => s.resyncing(),
                Action::ResyncWrite { addr } => c.resync_writes && s.resyncing() && addr < c.volume_blocks,
                _ => false,
            };
        }
        match *action {
            Action::Write { addr, blocks } => {
                s.p_up
                    && !s.p_fenced
                    && s.ghost.writes.len() < usize::from(c.writes)
                    && blocks >= 1
                    && blocks <= c.write_blocks
                    && u32::from(addr) + u32::from(blocks) <= u32::from(c.volume_blocks)
            }
            Action::WriteUnit { id } => s.p_up && s.writing.iter().any(|w| w.0.id == id),
            Action::Control => {
                Self::p_timer(s)
                    && s.ss.iter().all(|x| (x.p_fired < 2 || !Self::s_polls(x)) && (x.p_read <= c.skew || !x.up))
            }
            Action::Poll { s: i } => self.side(s, i).is_some_and(|x| {
                Self::s_polls(x) && x.role.pending.is_none() && (x.polled <= c.skew || !Self::p_timer(s))
            }),
            Action::Apply { s: i } => self.side(s, i).is_some_and(|x| x.up && x.role.pending.is_some()),
            // Only while P reads 632: otherwise nobody reads what the timer writes (a resync
            // uses the bitmaps), and a timer that changes nothing observable is left out.
            Action::Heartbeat { s: i } => {
                self.side(s, i).is_some_and(|x| x.up && x.beat < 2) && self.control_up(s) && Self::p_timer(s)
            }
            Action::Drain { s: i } => self
                .side(s, i)
                .is_some_and(|x| x.up && matches!(x.role.mode, Mode::Draining { .. }) && x.role.pending.is_none()),
            // P crashes at most once a run (it may restart once, with `recover_p`).
            Action::CrashP => c.crash_p && s.p_up && !s.ghost.p_crashed,
            Action::CrashS { s: i } => c.crash_s && self.side(s, i).is_some_and(|x| x.up),
            Action::FailI => c.fail_i && s.i_up,
            Action::Fence => c.takeover && !s.p_fenced && s.s0().up && s.s0().role.mode == Mode::Suspended,
            Action::Takeover => c.takeover && s.s0().up && s.s0().role.mode == Mode::Suspended,
            Action::SecondaryWrite { addr } => {
                s.s0().up
                    && s.s0().role.mode == Mode::TakenOver
                    && s.ghost.secondary_writes < c.secondary_writes
                    && addr < c.volume_blocks
            }
            Action::RecoverP { lost } => c.recover_p && !s.p_up && (!lost || c.resync),
            Action::Resync { .. } => {
                c.resync
                    && s.p_up
                    && s.p.pair == PairState::Suspend
                    && s.s0().up
                    && matches!(s.s0().role.mode, Mode::Suspended | Mode::TakenOver)
                    && s.writing.is_empty()
                    && s.s0().role.pending.is_none()
            }
            Action::Copy
            | Action::ResyncWrite { .. }
            | Action::Place { .. }
            | Action::ControlAt { .. }
            | Action::PollAt { .. }
            | Action::Merge
            | Action::Resend
            | Action::FailAt { .. } => false,
        }
    }

    /// Embodiment 3's guards: the roles decide the rest (a refused step is no step).
    fn multi_enabled(&self, s: &State, m: &Multi, action: &Action) -> bool {
        let c = &self.config;
        let ring = |r: u8| r < c.intermediates;
        match *action {
            Action::Place { ring: r, addr, blocks } => {
                ring(r)
                    && m.p.in_use(r)
                    && s.ghost.writes.len() < usize::from(c.writes)
                    && blocks >= 1
                    && blocks <= c.write_blocks
                    && u32::from(addr) + u32::from(blocks) <= u32::from(c.volume_blocks)
            }
            Action::WriteUnit { id } => m.writing.iter().any(|w| w.0.meta.id == id),
            Action::ControlAt { ring: r } => ring(r) && m.p.up(r) && m.p.pair == PairState::Pair,
            Action::PollAt { ring: r } => ring(r) && m.s.reads(r),
            Action::Merge => m.s.next().is_some(),
            Action::Resend => m.p.resend_waiting(),
            // One intermediate at most fails: the other is the healthy path.
            // With the link (embodiment 4) only I fails.
            Action::FailAt { ring: r } => {
                c.fail_i && ring(r) && (!c.link || r == 0) && m.up.iter().take(c.intermediates.into()).all(|u| *u)
            }
            _ => false,
        }
    }

    /// S `i` fetched: keep what it is to apply (address, value, and whether the unit is part of
    /// a journal P wrote in full, at that place) in its buffer.
    fn buffer(&self, s: &mut State, i: u8, from: Pos, f: &Fetched, applies: &heapless::Vec<Apply, MAX_QUEUE>) {
        let mut buffer = heapless::Vec::new();
        for a in applies {
            let u = s.unit(Pos(from.0.saturating_add(a.index)));
            let whole = s.ghost.writes.iter().any(|w| match w.journal {
                Some((meta, _)) => meta == u.meta && w.complete,
                None => false,
            });
            let ok = u.intact && whole && a.addr == u.meta.addr + u32::from(u.serial);
            let _ = buffer.push(ApplyRec { index: a.index as u8, addr: a.addr as u8, value: u.meta.id.0 as u8, ok });
        }
        if let Some(x) = s.ss.get_mut(usize::from(i)) {
            x.fetched_from = from;
            x.to_apply = buffer;
        }
        if let Some(rec) = f.publish_early {
            self.s_writes_control(s, i, rec);
        }
    }

    /// S writes its control info record to the area it was configured with (612): its own,
    /// 632. An area of another owner takes the write only where I does not enforce claim 4's
    /// write permission (S11); where it does, I refuses it and nothing is stored.
    fn s_writes_control(&self, s: &mut State, i: u8, rec: ControlInfo) {
        if !self.control_up(s) {
            return;
        }
        let Some(area) = s.ss.get(usize::from(i)).map(|x| x.role.control_area()) else { return };
        match area {
            Owner::Primary if self.config.write_permission => {}
            Owner::Primary => s.c631 = rec,
            Owner::Secondary(k) => {
                if let Some(x) = s.ss.get_mut(usize::from(k)) {
                    x.c632 = rec;
                }
            }
        }
    }

    fn step(&self, s: &mut State, action: Action) -> Option<()> {
        if s.multi.is_some() {
            return self.multi_step(s, action);
        }
        let input = self.input(s, &action).ok()?;
        let out = match input {
            Some(i) => Some(feed(&mut s.p, &mut s.ss, &mut s.resync, i).ok()?),
            None => None,
        };
        match (action, out) {
            (Action::Write { addr, blocks }, Some(Output::Written(w))) => {
                let n = s.ghost.writes.len() as u8;
                let rec = match w {
                    Written::Journal(r) => {
                        s.writing.push((r.meta, r.pos, 0)).ok()?;
                        WriteRec {
                            addr,
                            blocks,
                            value: r.meta.id.0 as u8,
                            journal: Some((r.meta, r.pos)),
                            complete: false,
                            acked: r.ack_now,
                            applied: [0; super::state::MAX_SIDES],
                        }
                    }
                    Written::Marked { .. } | Written::Local => {
                        WriteRec {
                            addr,
                            blocks,
                            value: 200 + n,
                            journal: None,
                            complete: false,
                            acked: true,
                            applied: [0; super::state::MAX_SIDES],
                        }
                    }
                };
                for b in addr..addr + blocks {
                    s.vol_p[usize::from(b)] = rec.value;
                }
                s.ghost.writes.push(rec).ok()?;
            }
            (Action::WriteUnit { id }, out) => {
                let i = s.writing.iter().position(|w| w.0.id == id)?;
                if matches!(out, Some(Output::Failed)) {
                    s.writing.clear();
                    return Some(());
                }
                let (meta, pos, done) = s.writing[i];
                let at = Pos(pos.0 + u32::from(done));
                let q = self.config.queue_units;
                if s.ss.iter().any(|x| x.up && x.role.mode == Mode::Normal && at.0 >= x.role.head.0.saturating_add(q)) {
                    s.ghost.overwrote = true;
                }
                s.ring[at.slot(q) as usize] = UnitTag { meta, serial: u16::from(done), intact: true };
                s.writing[i].2 += 1;
                if u32::from(done) + 1 >= u32::from(meta.blocks) {
                    s.writing.remove(i);
                    let w = s.ghost.writes.iter_mut().find(|w| matches!(w.journal, Some((m, _)) if m.id == id))?;
                    w.complete = true;
                    if let Some(Output::Acks(Some(acks))) = out {
                        for w in s.ghost.writes.iter_mut() {
                            if let Some((m, _)) = w.journal {
                                if acks.contains(m.id) {
                                    w.acked = true;
                                }
                            }
                        }
                    }
                }
            }
            (Action::Control, Some(Output::Control(step))) => {
                match step {
                    ControlStep::Publish(rec) => {
                        if self.control_up(s) {
                            s.c631 = rec;
                        }
                    }
                    ControlStep::PeerFailed(Failure::PeerSilent) => {
                        if s.ss.iter().all(|x| x.up) && self.control_up(s) {
                            s.ghost.false_alarm = true;
                        }
                    }
                    _ => {}
                }
                let skew = self.config.skew;
                for x in s.ss.iter_mut() {
                    x.p_fired = (x.p_fired + 1).min(2);
                    x.polled = 0;
                    x.p_read = (x.p_read + 1).min(skew + 1);
                    x.beat = 0;
                }
            }
            (Action::Poll { s: i }, Some(Output::Polled { poll, fetched })) => {
                if poll == Poll::PeerFailed(Failure::PeerSilent) && Self::p_timer(s) && self.control_up(s) {
                    s.ghost.false_alarm = true;
                }
                if let Some((from, f, applies)) = fetched {
                    self.buffer(s, i, from, &f, &applies);
                }
                let x = s.ss.get_mut(usize::from(i))?;
                x.polled = (x.polled + 1).min(self.config.skew + 1);
                x.p_fired = 0;
            }
            (Action::Drain { s: i }, Some(Output::Drained { fetched })) => {
                if let Some((from, f, applies)) = fetched {
                    self.buffer(s, i, from, &f, &applies);
                }
            }
            (Action::Apply { s: i }, Some(Output::Publish(rec))) => {
                let k = usize::from(i);
                let x = s.ss.get_mut(k)?;
                let from = x.fetched_from;
                let applies = std::mem::take(&mut x.to_apply);
                for a in &applies {
                    x.vol[usize::from(a.addr)] = a.value;
                    if !a.ok {
                        s.ghost.garbage = true;
                    }
                    if let Some(w) = s.ghost.writes.iter_mut().find(|w| w.journal.is_some() && w.value == a.value) {
                        w.applied[k] = w.applied[k].saturating_add(1);
                    }
                    let end = Pos(from.0 + u32::from(a.index) + 1);
                    if end > x.applied_to {
                        x.applied_to = end;
                    }
                }
                self.s_writes_control(s, i, rec);
            }
            (Action::Heartbeat { s: i }, Some(Output::Publish(rec))) => {
                self.s_writes_control(s, i, rec);
                let x = s.ss.get_mut(usize::from(i))?;
                x.beat = (x.beat + 1).min(2);
                x.p_read = 0;
            }
            (Action::CrashP, None) => {
                s.p_up = false;
                s.ghost.p_crashed = true;
                s.writing.clear();
                s.ghost.failed = true;
            }
            (Action::CrashS { s: i }, None) => {
                let x = s.ss.get_mut(usize::from(i))?;
                x.up = false;
                x.to_apply.clear();
                s.ghost.failed = true;
            }
            (Action::FailI, None) => {
                s.i_up = false;
                s.ghost.failed = true;
            }
            (Action::Fence, None) => s.p_fenced = true,
            (Action::RecoverP { lost }, Some(Output::Done)) => {
                s.p_up = true;
                if lost {
                    s.p_lost = true;
                    s.vol_p = Default::default();
                }
            }
            (Action::Resync { .. }, Some(Output::Planned(plan))) => {
                s.ghost.direction = Some(plan.direction());
                if let Plan::Resync { .. } = plan {
                    // S10's judgement: the two bitmaps, whatever the plan made of them, cover
                    // every block the sides differ in.
                    let both = s.p.bitmap.bits | s.s0().role.bitmap.bits;
                    let blocks = usize::from(self.config.volume_blocks);
                    if (0..blocks).any(|b| s.vol_p[b] != s.s0().vol[b] && both & (1u64 << b) == 0) {
                        s.ghost.unsound_plan = true;
                    }
                }
            }
            (Action::Copy, Some(Output::Copied(region))) => {
                let b = usize::try_from(region).ok().filter(|b| *b < usize::from(self.config.volume_blocks))?;
                match s.ghost.direction? {
                    Direction::PrimaryToSecondary => s.ss[0].vol[b] = s.vol_p[b],
                    Direction::SecondaryToPrimary => s.vol_p[b] = s.ss[0].vol[b],
                }
            }
            (Action::ResyncWrite { addr }, Some(Output::During(during))) => {
                let (src, dst) = match s.ghost.direction? {
                    Direction::PrimaryToSecondary => (&mut s.vol_p, &mut s.ss[0].vol),
                    Direction::SecondaryToPrimary => (&mut s.ss[0].vol, &mut s.vol_p),
                };
                src[usize::from(addr)] = RESYNC_WRITE;
                if during == DuringResync::Mirror {
                    dst[usize::from(addr)] = RESYNC_WRITE;
                }
            }
            (Action::Takeover, Some(Output::Done)) => {}
            (Action::SecondaryWrite { addr }, Some(Output::Done)) => {
                s.ghost.secondary_writes += 1;
                s.ss[0].vol[usize::from(addr)] = 100 + s.ghost.secondary_writes;
            }
            _ => return None,
        }
        // A bounded-delay counter means nothing once the timers it relates no longer both run:
        // reset it, so that states differing only in it are one.
        let (p_timer, control) = (Self::p_timer(s), self.control_up(s));
        for x in s.ss.iter_mut() {
            if !Self::s_polls(x) {
                x.p_fired = 0;
            }
            if !p_timer {
                x.polled = 0;
                x.beat = 0;
            }
            if !x.up || !control {
                x.p_read = 0;
            }
        }
        Some(())
    }

    /// Embodiment 3's world as it starts: every intermediate's ring zeroed, nothing published.
    fn multi_world(&self) -> Multi {
        let c = &self.config;
        let geometry = self.geometry();
        Multi {
            p: {
                let p = MultiPrimary::new(geometry, 1, self.variant, self.faults, c.intermediates);
                if c.link {
                    p.fallback()
                } else {
                    p
                }
            },
            s: MultiSecondary::new(geometry, c.buffer_units, self.faults, 0, c.intermediates),
            rings: std::array::from_fn(|_| (0..c.queue_units).map(|_| DataUnit::default()).collect()),
            c631: [State::blank(Owner::Primary, Pos(0)); MAX_RINGS],
            c632: [State::blank(Owner::Secondary(0), Pos(0)); MAX_RINGS],
            up: [true; MAX_RINGS],
            writing: heapless::Vec::new(),
            held: heapless::Vec::new(),
            applied: heapless::Vec::new(),
        }
    }

    /// Embodiment 3's step: feed the roles, then keep the world's books on their answer.
    fn multi_step(&self, s: &mut State, action: Action) -> Option<()> {
        let mut m = s.multi.take()?;
        let out = match self.multi_input(&m, &action).ok()? {
            Some(input) => Some(feed_multi(&mut m.p, &mut m.s, input).ok()?),
            None => None,
        };
        let q = self.config.queue_units;
        match (action, out) {
            (Action::Place { addr, blocks, .. }, Some(MultiOutput::Placed(Some(placed)))) => {
                m.writing.push((placed, 0)).ok()?;
                let value = placed.meta.id.0 as u8;
                for b in addr..addr + blocks {
                    s.vol_p[usize::from(b)] = value;
                }
                s.ghost.writes.push(WriteRec {
                    addr,
                    blocks,
                    value,
                    journal: Some((placed.meta, placed.pos)),
                    complete: false,
                    acked: false,
                    applied: [0; super::state::MAX_SIDES],
                }).ok()?;
            }
            (Action::WriteUnit { id }, Some(MultiOutput::RingFailed)) => {
                let ring = m.writing.iter().find(|w| w.0.meta.id == id)?.0.ring;
                m.writing.retain(|w| w.0.ring != ring);
            }
            (Action::WriteUnit { id }, out) => {
                let i = m.writing.iter().position(|w| w.0.meta.id == id)?;
                let (placed, done) = m.writing[i];
                let at = Pos(placed.pos.0 + u32::from(done));
                let r = usize::from(placed.ring);
                if m.s.reads(placed.ring) && at.0 >= m.s.rings[r].head.0.saturating_add(q) {
                    s.ghost.overwrote = true;
                }
                let block = usize::from(placed.meta.addr as u8 + done);
                let value = match placed.data {
                    Data::Host => placed.meta.id.0 as u8,
                    Data::Kept(host) => host.0 as u8,
                    Data::Volume => s.vol_p[block.min(MAX_BLOCKS - 1)],
                };
                let slot = at.slot(q) as usize;
                *m.rings[r].get_mut(slot)? = DataUnit { tag: UnitTag { meta: placed.meta, serial: u16::from(done), intact: true }, value };
                m.writing[i].1 += 1;
                if u32::from(done) + 1 >= placed.units {
                    m.writing.remove(i);
                    let host = match placed.data {
                        Data::Kept(host) => host,
                        Data::Host | Data::Volume => placed.meta.id,
                    };
                    let acks = match out {
                        Some(MultiOutput::Acks(acks)) => acks,
                        _ => return None,
                    };
                    for w in s.ghost.writes.iter_mut() {
                        let Some((meta, _)) = w.journal else { continue };
                        if meta.id == host {
                            w.complete = true;
                        }
                        if acks.is_some_and(|a| a.contains(meta.id)) {
                            w.acked = true;
                        }
                    }
                }
            }
            (Action::ControlAt { ring }, Some(MultiOutput::Round(round))) => match round {
                Round::Publish(rec) => m.c631[usize::from(ring)] = rec,
                Round::Failed => m.writing.retain(|w| w.0.ring != ring),
                Round::Idle => {}
            },
            (Action::PollAt { ring }, Some(MultiOutput::Fetched { held, .. })) => {
                for h in held {
                    let mut data = [0u8; 3];
                    for (k, d) in data.iter_mut().enumerate().take(h.units as usize) {
                        *d = m.unit(ring, Pos(h.pos.0 + k as u32)).value;
                    }
                    m.held.push((h, data)).ok()?;
                }
            }
            (Action::PollAt { .. }, Some(MultiOutput::Idle)) => {}
            (Action::Merge, Some(MultiOutput::Merged { journal, records })) => {
                let i = m.held.iter().position(|(h, _)| *h == journal)?;
                let (h, data) = m.held.remove(i);
                for k in 0..usize::from(h.meta.blocks) {
                    let b = (h.meta.addr as usize + k).min(MAX_BLOCKS - 1);
                    s.ss[0].vol[b] = data[k.min(2)];
                }
                let _ = m.applied.push(h.meta.id.0 as u8);
                for w in s.ghost.writes.iter_mut() {
                    if matches!(w.journal, Some((meta, _)) if meta.id == h.meta.id) {
                        w.applied[0] = w.applied[0].saturating_add(w.blocks);
                    }
                }
                for (r, rec) in records {
                    if m.up.get(usize::from(r)).copied().unwrap_or(false) {
                        m.c632[usize::from(r)] = rec;
                    }
                }
            }
            (Action::Resend, Some(MultiOutput::Resent(placed))) => m.writing.push((placed, 0)).ok()?,
            (Action::FailAt { ring }, None) => {
                *m.up.get_mut(usize::from(ring))? = false;
                s.ghost.failed = true;
            }
            _ => return None,
        }
        s.multi = Some(m);
        Some(())
    }

    /// The fairness classes: each timer and each periodic process, weakly fair. Host writes,
    /// crashes, failures and the console's decisions are not fair.
    pub fn fair_classes(&self) -> Vec<String> {
        let n = self.multi_rings();
        if n > 0 {
            let mut v = vec!["P writes journals".to_string()];
            for r in 0..n {
                let name = ring_name(self.config.link, r);
                v.extend([format!("P control {name}"), format!("S poll {name}")]);
            }
            v.extend(["S merge".to_string(), "P resend".to_string()]);
            return v;
        }
        let mut v = vec!["P writes journals".to_string(), "P control timer".to_string()];
        for i in 0..self.config.secondaries {
            let who = side_name(i);
            v.extend([format!("{who} poll timer"), format!("{who} apply"), format!("{who} heartbeat"), format!("{who} drain")]);
        }
        v.push("resync copy".into());
        v
    }

    /// The intermediates of embodiment 3's world (0 in the others).
    pub fn multi_rings(&self) -> u8 {
        if self.config.intermediates > 1 {
            self.config.intermediates
        } else {
            0
        }
    }

    pub fn fair_class(&self, action: &Action) -> Option<usize> {
        let per_side = |s: u8, k: usize| 2 + 4 * usize::from(s) + k;
        match *action {
            Action::WriteUnit { .. } => Some(0),
            Action::Control => Some(1),
            Action::Poll { s } => Some(per_side(s, 0)),
            Action::Apply { s } => Some(per_side(s, 1)),
            Action::Heartbeat { s } => Some(per_side(s, 2)),
            Action::Drain { s } => Some(per_side(s, 3)),
            Action::Copy => Some(per_side(self.config.secondaries, 0)),
            Action::ControlAt { ring } => Some(1 + 2 * usize::from(ring)),
            Action::PollAt { ring } => Some(2 + 2 * usize::from(ring)),
            Action::Merge => Some(1 + 2 * usize::from(self.multi_rings())),
            Action::Resend => Some(2 + 2 * usize::from(self.multi_rings())),
            _ => None,
        }
    }
}

/// How traces name path `r` of embodiment 3 (intermediates 101A, 101B in Fig. 16: `I_A`,
/// `I_B`) or 4 (`I`, then the direct link `L1701`).
pub fn ring_name(link: bool, r: u8) -> String {
    match (link, r) {
        (true, 0) => "I".into(),
        (true, _) => "L1701".into(),
        (false, _) => format!("I_{}", char::from(b'A' + r.min(25))),
    }
}

/// How traces name the `i`-th secondary: `S`, then `S_2` (not `S2`, which is a property).
pub fn side_name(i: u8) -> String {
    if i == 0 {
        "S".into()
    } else {
        format!("S_{}", i + 1)
    }
}

/// A unit in S's buffer, to apply: where, the value it carries, and whether it is part of a
/// journal P wrote in full at that place (the ghost's S4 judgement).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub struct ApplyRec {
    pub index: u8,
    pub addr: u8,
    pub value: u8,
    pub ok: bool,
}

impl Model for JournalModel {
    type State = State;
    type Action = Action;

    fn init_states(&self) -> Vec<State> {
        let c = &self.config;
        let (start, first) = self.start();
        let geometry = self.geometry();
        let p = ModelPrimary::new(
            PrimaryConfig { geometry, region_blocks: 1, threshold: c.threshold, heartbeat_modulus: HEARTBEAT_MODULUS, full: c.full },
            self.variant,
            self.faults,
            start,
            first,
        );
        let ss = (0..c.secondaries)
            .map(|me| Side {
                role: Secondary::new(
                    SecondaryConfig {
                        geometry,
                        buffer_units: c.buffer_units,
                        threshold: c.threshold,
                        heartbeat_modulus: HEARTBEAT_MODULUS,
                        region_blocks: 1,
                    },
                    self.variant,
                    self.faults,
                    me,
                    start,
                    first,
                ),
                up: true,
                c632: State::blank(Owner::Secondary(me), start),
                fetched_from: start,
                to_apply: heapless::Vec::new(),
                vol: Default::default(),
                applied_to: start,
                p_fired: 0,
                polled: 0,
                beat: 0,
                p_read: 0,
            })
            .collect();
        let ring = (0..c.queue_units)
            .map(|k| {
                if c.stale {
                    // An earlier lap's journal: intact, a lower id, an older stamp.
                    let meta = JournalMeta { id: ReqId(k + 1), ts: Ts(0), volume: 0, addr: k % u32::from(c.volume_blocks), blocks: 1 };
                    UnitTag { meta, serial: 0, intact: true }
                } else {
                    UnitTag::default()
                }
            })
            .collect();
        vec![State {
            p,
            ss,
            ring,
            c631: State::blank(Owner::Primary, start),
            writing: heapless::Vec::new(),
            vol_p: Default::default(),
            p_up: true,
            i_up: true,
            p_fenced: false,
            p_lost: false,
            resync: None,
            multi: (c.intermediates > 1).then(|| Box::new(self.multi_world())),
            ghost: Ghost::default(),
        }]
    }

    fn actions(&self, s: &State, actions: &mut Vec<Action>) {
        let c = &self.config;
        let mut candidates: Vec<Action> = Vec::new();
        if let Some(m) = s.multi.as_deref() {
            for ring in 0..c.intermediates {
                for blocks in 1..=c.write_blocks {
                    for addr in 0..=c.volume_blocks.saturating_sub(blocks) {
                        candidates.push(Action::Place { ring, addr, blocks });
                    }
                }
            }
            candidates.extend(m.writing.iter().map(|w| Action::WriteUnit { id: w.0.meta.id }));
            for ring in 0..c.intermediates {
                candidates.extend([Action::ControlAt { ring }, Action::PollAt { ring }, Action::FailAt { ring }]);
            }
            candidates.extend([Action::Merge, Action::Resend]);
            actions.extend(candidates.into_iter().filter(|a| self.enabled_in(s, a)));
            return;
        }
        for blocks in 1..=c.write_blocks {
            for addr in 0..=c.volume_blocks.saturating_sub(blocks) {
                candidates.push(Action::Write { addr, blocks });
            }
        }
        candidates.extend(s.writing.iter().map(|w| Action::WriteUnit { id: w.0.id }));
        candidates.push(Action::Control);
        for s in 0..c.secondaries {
            candidates.extend([Action::Poll { s }, Action::Apply { s }, Action::Heartbeat { s }, Action::Drain { s }]);
        }
        candidates.push(Action::CrashP);
        candidates.extend((0..c.secondaries).map(|s| Action::CrashS { s }));
        candidates.extend([
            Action::FailI,
            Action::Fence,
            Action::Takeover,
            Action::RecoverP { lost: false },
            Action::RecoverP { lost: true },
            Action::Resync { to_secondary: true },
            Action::Resync { to_secondary: false },
            Action::Copy,
        ]);
        candidates.extend((0..c.volume_blocks).map(|addr| Action::SecondaryWrite { addr }));
        candidates.extend((0..c.volume_blocks).map(|addr| Action::ResyncWrite { addr }));
        actions.extend(candidates.into_iter().filter(|a| self.enabled_in(s, a)));
    }

    fn next_state(&self, last: &State, action: Action) -> Option<State> {
        if !self.enabled_in(last, &action) {
            return None;
        }
        let mut s = last.clone();
        self.step(&mut s, action).map(|()| s)
    }

    fn properties(&self) -> Vec<Property<Self>> {
        super::properties::all()
    }
}
