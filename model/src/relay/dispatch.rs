//! The one dispatcher: what a step of the world feeds SE, TE and the cores, and what they
//! answer. The model's `next_state` calls [`feed`] and then does the world's
//! bookkeeping on the answer; replay on the roles calls the same function.

use super::state::{Core, Se, Te, Wid};
use rcopy::relay::shared::Reflector;
use rcopy::relay::{
    CoreStep, Id, LogEntry, Reflected, Refused, Routing, Sent, Seq, SourceReceived, TargetReceived, Time, Timeout, Transmit,
    TsAnswer, WriteAck, VolRef, Block,
};

/// One input to the roles.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Input {
    /// SS's RIO(pair creation) to SE (1701).
    Create { source: VolRef, target: VolRef },
    /// SS's RIO(Duplex transition) to SE (1802).
    Duplex { source: VolRef, target: VolRef },
    /// SS's RIO(WR) of write `wid` to `block` (1901).
    Write { source: VolRef, target: VolRef, block: u8, wid: Wid },
    /// B8's second step of SE's oldest staged write.
    Commit,
    /// SE sends held entry `i` (1905-1906).
    Send { i: usize },
    /// Held entry `i`'s timer fires at SE.
    Timer { i: usize },
    /// An entry arrives at SE.
    ToSe(LogEntry<Wid>),
    /// An entry arrives at TE.
    ToTe(LogEntry<Wid>),
    /// An entry arrives at core `c`.
    ToCore { c: u8, entry: LogEntry<Wid> },
    /// Core `c`'s batch timer.
    Flush { c: u8 },
    /// TE reflects the next entry of `id` (2003-2005).
    Reflect { id: Id },
    /// TE's reflector thread found nothing to reflect (it sleeps; under B28 it first leaves
    /// the lock).
    ReflectorIdle,
    /// B28: the reflector's second critical section, its sleep.
    ReflectorSleeps,
    /// TS answers the RIO of `(id, seq)`.
    Answer { id: Id, seq: Seq, answer: TsAnswer },
    /// The target host's Suspend instruction reaches TE through TS (1303).
    Suspend,
    /// TE's failover timer expires (1306).
    Expire,
    /// The leftovers are read out of TE and applied (l. 510).
    Leftovers,
    /// The management server tells TE of SE's give-up in `epoch` (l. 446, over network 150).
    GivenUp { epoch: rcopy::relay::Epoch },
    /// SS's RIO(resynchronize) to SE (data 1202).
    Resync { source: VolRef, target: VolRef },
    /// Device `d` crashes / restarts (0 SE, 1 TE, 2.. cores).
    Crash { d: u8 },
    Restart { d: u8 },
}

/// What the roles answered.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Output {
    /// A control request SE took (the entry's seq) or refused.
    Control(Result<Seq, Refused>),
    Write(Result<WriteAck, Refused>),
    Sent(Sent<Wid>),
    Timer(Timeout),
    AtSe(SourceReceived),
    /// What TE did, and the answer it sends back (if it made one and has a route for it).
    AtTe(TargetReceived<Wid>, Option<Transmit<Wid>>),
    AtCore(CoreStep<Wid>),
    Flushed(heapless::Vec<Transmit<Wid>, { super::state::BUF }>),
    Reflected(Reflected<Wid>),
    /// TE's LE(Suspend instruction) toward SE (if routable).
    Suspended(Option<Transmit<Wid>>),
    /// The leftovers, in the order to apply them.
    Leftovers(heapless::Vec<LogEntry<Wid>, { super::state::LOG }>),
    /// TE took TS's answer (its answer toward SE, if any and routable), or could not (it
    /// crashed since it sent the RIO: the answer is lost).
    Answered(Option<Transmit<Wid>>),
    Done,
}

/// Feed `input` to the roles. An error when the roles refuse a step the world offered.
///
/// `reflector` is TE's reflector thread ([`Reflector`]): a stored entry and TS's answer wake
/// it, as [`rcopy::relay::shared::SharedTarget`] does under TE's lock.
pub fn feed(se: &mut Se, te: &mut Te, cores: &mut [Core], reflector: &mut Reflector, routing: &Routing, input: Input) -> Result<Output, String> {
    let now = Time(0);
    Ok(match input {
        Input::Create { source, target } => Output::Control(se.pair_create(source, target, now)),
        Input::Duplex { source, target } => Output::Control(se.duplex(source, target, now)),
        Input::Write { source, target, block, wid } => {
            Output::Write(se.write(source, target, Block(u32::from(block)), 1, wid, now))
        }
        Input::Commit => Output::Write(Ok(se.commit(0).map_err(|e| e.to_string())?)),
        Input::Send { i } => Output::Sent(se.transmit(i, routing).map_err(|e| e.to_string())?),
        Input::Timer { i } => Output::Timer(se.timeout(i).map_err(|e| e.to_string())?),
        Input::ToSe(e) => Output::AtSe(se.receive(&e)),
        Input::ToTe(e) => {
            reflector.wake();
            let got = te.receive(&e);
            let answer = match got {
                TargetReceived::Reack(a) | TargetReceived::StoredAndAcked(a) => te.route(routing, a).ok(),
                _ => None,
            };
            Output::AtTe(got, answer)
        }
        Input::ToCore { c, entry } => {
            let core = cores.get_mut(usize::from(c)).ok_or(format!("no core {c}"))?;
            Output::AtCore(core.receive(routing, entry))
        }
        Input::Flush { c } => {
            let core = cores.get_mut(usize::from(c)).ok_or(format!("no core {c}"))?;
            Output::Flushed(core.flush(routing))
        }
        Input::Reflect { id } => Output::Reflected(te.reflect(id).map_err(|e| e.to_string())?),
        Input::ReflectorIdle => {
            if te.reflectable().next().is_some() {
                return Err("the reflector has something to reflect".into());
            }
            reflector.found_nothing(te.config.faults);
            Output::Done
        }
        Input::ReflectorSleeps => {
            reflector.sleep();
            Output::Done
        }
        Input::Answer { id, seq, answer } => match {
            reflector.wake();
            te.ts_answer(id, seq, answer, now)
        } {
            Ok(a) => Output::Answered(a.and_then(|a| te.route(routing, a).ok())),
            Err(_) => Output::Answered(None),
        },
        Input::Suspend => {
            let e = te.suspend(0, now).map_err(|e| e.to_string())?;
            Output::Suspended(te.route(routing, e).ok())
        }
        Input::Expire => {
            te.expire(0).map_err(|e| e.to_string())?;
            Output::Done
        }
        Input::Leftovers => Output::Leftovers(te.take_leftovers(0).map_err(|e| e.to_string())?),
        Input::GivenUp { epoch } => {
            te.given_up(0, epoch).map_err(|e| e.to_string())?;
            Output::Done
        }
        Input::Resync { source, target } => Output::Control(se.resync(source, target, now)),
        Input::Crash { d } => {
            match d {
                0 => se.crash(),
                1 => te.crash(),
                c => cores.get_mut(usize::from(c - 2)).ok_or(format!("no device {d}"))?.crash(),
            }
            Output::Done
        }
        Input::Restart { d } => {
            match d {
                0 => se.restart(),
                1 => {
                    te.restart();
                    reflector.restart();
                }
                c => cores.get_mut(usize::from(c - 2)).ok_or(format!("no device {d}"))?.restart(),
            }
            Output::Done
        }
    })
}
