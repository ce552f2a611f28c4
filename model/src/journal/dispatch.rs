//! The one dispatcher: what a step of the world feeds to the `rcopy` roles P and S, and the
//! one function that feeds it. The model's `next_state` calls [`feed`]; so does replay on the
//! roles (`JournalModel::drive_roles`).

use super::config::MAX_QUEUE;
use super::state::{ModelPrimary, MultiPrimary, MultiSecondary, Side, MAX_RINGS, MAX_SIDES};
use rcopy::journal::multi::{Held, Placed, Round};
use rcopy::journal::{
    resync, Acks, Apply, ControlInfo, ControlStep, Direction, DuringResync, Failure, Fetched, Mode, PairState, Plan, Poll, Pos, ReqId,
    Resync, Secondary, Ts, UnitTag, Written,
};

/// The ring as read from I: every unit, in physical order.
pub type Ring = heapless::Vec<UnitTag, MAX_QUEUE>;

/// One input to P or S.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Input {
    /// Fig. 9: a host write of `blocks` blocks at `addr`; P's clock reads `reading`.
    HostWrite { addr: u8, blocks: u8, reading: Ts },
    /// 907 done: I answered GOOD for every unit of journal `id`.
    Written { id: ReqId },
    /// 907 failed: I did not answer P's journal write.
    WriteFailed,
    /// Fig. 10: P's timer; `reads[i]` is the `i`-th S's 632 as read (`None`: the read failed).
    Control { reads: heapless::Vec<Option<ControlInfo>, MAX_SIDES> },
    /// Fig. 12, 1201-1204: S `s`'s timer; `read` is 631, `ring` the ring (`None`: I did not
    /// answer).
    Poll { s: u8, read: Option<ControlInfo>, ring: Option<Ring> },
    /// 1205-1207: S `s` applied what it fetched.
    Applied { s: u8 },
    /// S `s`'s heartbeat timer.
    Heartbeat { s: u8 },
    /// Fig. 13, one read of S `s`'s drain (`None`: I did not answer).
    Drain { s: u8, ring: Option<Ring> },
    /// The console lets the secondary host take over; `fenced`: it blocked P first.
    Takeover { fenced: bool },
    /// A secondary-host write after takeover.
    SecondaryWrite { addr: u8 },
    /// P restarts after its crash.
    RecoverP,
    /// The console plans a resync in `direction` (1401-1413) over `regions` regions; `p_lost`:
    /// P lost its volume's data.
    Resync { direction: Direction, regions: u32, p_lost: bool },
    /// The source copies the next dirty region to the target, which stores it (1409 / 1412).
    Copy,
    /// A host write at the source during the resync (1410).
    ResyncWrite { addr: u8 },
}

/// What the roles answered.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Output {
    Written(Written),
    Acks(Option<Acks>),
    Failed,
    Control(ControlStep),
    /// S's poll, and if it fetched: from where, what it made of the units, and what to apply.
    Polled { poll: Poll, fetched: Option<(Pos, Fetched, heapless::Vec<Apply, MAX_QUEUE>)> },
    /// The record S publishes as 632.
    Publish(ControlInfo),
    /// A drain read: from where, what to apply; or the drain is over (S suspended).
    Drained { fetched: Option<(Pos, Fetched, heapless::Vec<Apply, MAX_QUEUE>)> },
    Done,
    /// The console's plan.
    Planned(Plan),
    /// The region copied.
    Copied(u32),
    /// Where a host write during the resync goes.
    During(DuringResync),
}

/// The units `[from, from + n)` of `ring`, wrapping at its end (note S17).
pub fn units(ring: &Ring, from: Pos, n: u32) -> Ring {
    let q = (ring.len() as u32).max(1);
    (0..n.min(MAX_QUEUE as u32))
        .map(|i| ring.get(Pos(from.0.saturating_add(i)).slot(q) as usize).copied().unwrap_or_default())
        .collect()
}

fn fetch(
    s: &mut Secondary,
    from: Pos,
    units: &Ring,
) -> Result<(Pos, Fetched, heapless::Vec<Apply, MAX_QUEUE>), String> {
    let mut applies = heapless::Vec::new();
    let mut overflow = false;
    let f = s
        .fetched(from, units, |a| {
            if applies.push(a).is_err() {
                overflow = true;
            }
        })
        .map_err(|e| e.to_string())?;
    if overflow {
        return Err("more units to apply than the buffer holds".into());
    }
    Ok((from, f, applies))
}

fn side(ss: &mut [Side], i: u8) -> Result<&mut Secondary, String> {
    ss.get_mut(usize::from(i)).map(|x| &mut x.role).ok_or(format!("there is no secondary {i}"))
}

/// Feed one input to P, an S (the roles of `ss`) or the resync (`r`, once the console planned
/// one). An error says why the roles refused it (the step is then not enabled); callers feed a
/// copy. The console's inputs go to the first S.
pub fn feed(p: &mut ModelPrimary, ss: &mut [Side], r: &mut Option<Resync>, input: Input) -> Result<Output, String> {
    Ok(match input {
        Input::HostWrite { addr, blocks, reading } => {
            Output::Written(p.host_write(0, addr.into(), blocks.into(), true, reading).map_err(|e| e.to_string())?)
        }
        Input::Written { id } => Output::Acks(p.journal_written(id)),
        Input::WriteFailed => {
            p.fail(Failure::Io);
            Output::Failed
        }
        Input::Control { reads } => Output::Control(p.control_all(&reads)),
        Input::Poll { s, read, ring } => {
            let s = side(ss, s)?;
            let poll = s.poll(read);
            match (poll, ring) {
                (Poll::Fetch { from, units: n }, Some(ring)) => {
                    Output::Polled { poll, fetched: Some(fetch(s, from, &units(&ring, from, n))?) }
                }
                // The control info came over the direct path, but I does not answer the fetch.
                (Poll::Fetch { .. }, None) => Output::Polled { poll: s.read_failed(), fetched: None },
                _ => Output::Polled { poll, fetched: None },
            }
        }
        Input::Applied { s } => Output::Publish(side(ss, s)?.applied().map_err(|e| e.to_string())?),
        Input::Heartbeat { s } => Output::Publish(side(ss, s)?.heartbeat()),
        Input::Drain { s, ring } => {
            let s = side(ss, s)?;
            let window = s.drain_window();
            let fetched = match (window, ring) {
                (Some((from, n)), Some(ring)) => Some(fetch(s, from, &units(&ring, from, n))?),
                _ => None,
            };
            match fetched {
                Some(f) if f.1.taken > 0 => Output::Drained { fetched: Some(f) },
                // S read and found nothing to take: `fetched` decided whether the drain is over.
                Some(_) => Output::Drained { fetched: None },
                // The scan is at its bound, or I does not answer.
                None => {
                    s.finish_drain();
                    Output::Drained { fetched: None }
                }
            }
        }
        Input::Takeover { fenced } => {
            side(ss, 0)?.take_over(fenced).map_err(|e| e.to_string())?;
            Output::Done
        }
        Input::SecondaryWrite { addr } => {
            side(ss, 0)?.host_write(addr.into(), 1).map_err(|e| e.to_string())?;
            Output::Done
        }
        Input::RecoverP => {
            p.restart();
            Output::Done
        }
        Input::Resync { direction, regions, p_lost } => {
            if r.is_some() {
                return Err("a resync is already under way".into());
            }
            if p.pair != PairState::Suspend {
                return Err("P is not suspended: it has no bitmap to resync by".into());
            }
            let s = side(ss, 0)?;
            if !matches!(s.mode, Mode::Suspended | Mode::TakenOver) {
                return Err("S is not suspended: it has no bitmap to resync by".into());
            }
            let p_side = resync::Side { bitmap: Some(p.bitmap), lost_data: p_lost };
            let s_side = resync::Side { bitmap: Some(s.bitmap), lost_data: false };
            let plan = resync::plan(&p_side, &s_side, direction, p.variant, p.faults);
            *r = Some(Resync::start(&plan, regions, p.config.region_blocks, p.faults));
            Output::Planned(plan)
        }
        Input::Copy => {
            let r = r.as_mut().ok_or("no resync under way")?;
            let region = r.next().ok_or("the resync has nothing left to copy")?;
            r.copied(region);
            Output::Copied(region)
        }
        Input::ResyncWrite { addr } => {
            let r = r.as_mut().ok_or("no resync under way")?;
            Output::During(r.host_write(addr.into(), 1))
        }
    })
}

/// One input to embodiment 3's P or S (several intermediates).
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum MultiInput {
    /// Fig. 9: a host write of `blocks` blocks at `addr`, its journal put on intermediate `ring`.
    HostWrite { ring: u8, addr: u8, blocks: u8 },
    /// I answered GOOD for every unit of journal `id`.
    Written { id: ReqId },
    /// Intermediate `ring` did not answer P's journal write.
    WriteFailed { ring: u8 },
    /// Fig. 10 on intermediate `ring`: its 632 as read (`None`: the read failed).
    Control { ring: u8, read: Option<ControlInfo> },
    /// Fig. 12 on intermediate `ring`: its 631 and its ring (`None`: it does not answer).
    Poll { ring: u8, read: Option<ControlInfo>, units: Option<Ring> },
    /// S applies the next journal of its reorder buffer.
    Merge,
    /// P resends the next journal of a failed intermediate.
    Resend,
}

/// What embodiment 3's roles answered.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum MultiOutput {
    /// The journal to write, or `None`: P is suspended and marked the write.
    Placed(Option<Placed>),
    Acks(Option<Acks>),
    /// P rebuilt its configuration without the intermediate.
    RingFailed,
    Round(Round),
    /// S read units of a ring: the journals it took into its reorder buffer.
    Fetched { from: Pos, held: heapless::Vec<Held, 8> },
    /// S read nothing (nothing new, no room, or the intermediate is down).
    Idle,
    /// S applied this journal; write these records as each ring's 632.
    Merged { journal: Held, records: heapless::Vec<(u8, ControlInfo), MAX_RINGS> },
    Resent(Placed),
}

/// Feed one input to embodiment 3's P or S. An error says why the roles refused it.
pub fn feed_multi(p: &mut MultiPrimary, s: &mut MultiSecondary, input: MultiInput) -> Result<MultiOutput, String> {
    Ok(match input {
        MultiInput::HostWrite { ring, addr, blocks } => {
            MultiOutput::Placed(p.host_write(ring, 0, addr.into(), blocks.into()).map_err(|e| e.to_string())?)
        }
        MultiInput::Written { id } => MultiOutput::Acks(p.journal_written(id)),
        MultiInput::WriteFailed { ring } => {
            p.ring_failed(ring);
            MultiOutput::RingFailed
        }
        MultiInput::Control { ring, read } => MultiOutput::Round(p.control(ring, read)),
        MultiInput::Poll { ring, read, units: ring_units } => match (s.poll(ring, read), ring_units) {
            (Some((from, n)), Some(all)) => {
                let mut held = heapless::Vec::new();
                let mut overflow = false;
                s.fetched(ring, from, &units(&all, from, n), |h| overflow |= held.push(h).is_err())
                    .map_err(|e| e.to_string())?;
                if overflow {
                    return Err("more journals held than the model keeps".into());
                }
                MultiOutput::Fetched { from, held }
            }
            _ => MultiOutput::Idle,
        },
        MultiInput::Merge => {
            let journal = s.next().ok_or("no journal is next to apply")?;
            s.applied(journal).map_err(|e| e.to_string())?;
            let records = (0..s.rings.len() as u8).filter_map(|r| Some((r, s.record(r)?))).collect();
            MultiOutput::Merged { journal, records }
        }
        MultiInput::Resend => MultiOutput::Resent(p.resend().ok_or("nothing to resend, or no room")?),
    })
}
