//! The pieces of the edges that production threads share (note 7.3).
//!
//! - [`SharedSource`]: SE's log storage area 413 and counters behind one lock. RIO(WR) handlers
//!   (one per FC port or SS) run 1902-1904 in one critical section, so no two writes read the
//!   same CC (B8 splits it); the WROK handler, the resend timer, give-up and the Suspend
//!   instruction each run in one critical section, so an entry ends deleted or converted, never
//!   both, DC moves once per entry, and a write after 1304(B) is refused (and recorded by SS in
//!   1211), never acknowledged and dropped (B20).
//! - [`SharedTarget`]: TE's receiver stores entries while a reflector thread takes RC+1 in
//!   order. The reflector's sleep is a [`Reflector`] state under TE's lock, waited on with a
//!   condition variable: it goes to sleep in the critical section where it found nothing, and
//!   the receiver wakes it in the one where it stores (B28 checks, unlocks, then sleeps: a lost
//!   wakeup). The model drives the same [`Reflector`] (its `reflector` worlds).
//!
//! Written against the [`crate::sync`] facade (and loom's or std's condition variable), so
//! `impl/tests/loom_relay.rs` checks them as they are compiled.

use super::fault::Fault;
use super::route::Routing;
use super::source::{NotNow, Refused, SourceEdge, SourceReceived, Sent, Timeout, WriteAck};
use super::target::{Reflected, TargetEdge, TargetNotNow, TargetReceived, TsAnswer};
use super::types::{Block, Id, LogEntry, Seq, Time, VolRef};
use crate::fault::FaultSet;
use crate::sync::{Mutex, MutexGuard};
use serde::{Deserialize, Serialize};

#[cfg(loom)]
use loom::sync::Condvar;
#[cfg(not(loom))]
use std::sync::Condvar;

/// SE shared by its handlers.
#[derive(Debug)]
pub struct SharedSource<D, const LOG: usize> {
    se: Mutex<SourceEdge<D, LOG>>,
}

impl<D: Clone, const LOG: usize> SharedSource<D, LOG> {
    pub fn new(se: SourceEdge<D, LOG>) -> Self {
        SharedSource { se: Mutex::new(se) }
    }

    /// The lock (a poisoned one is taken as it is: every critical section leaves SE whole).
    pub fn lock(&self) -> MutexGuard<'_, SourceEdge<D, LOG>> {
        self.se.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// An RIO(WR) handler, 1901-1904: numbered and stored in one critical section (B8: the
    /// number is read in one and the entry stored in another).
    pub fn write(&self, source: VolRef, target: VolRef, block: Block, count: u16, data: D, now: Time) -> Result<WriteAck, Refused> {
        let ack = self.lock().write(source, target, block, count, data, now)?;
        if ack != WriteAck::Staged {
            return Ok(ack);
        }
        // B8: another handler may read the same CC between the two sections.
        let mut se = self.lock();
        let k = se.staged.len().checked_sub(1).ok_or(Refused::Down)?;
        se.commit(k).map_err(|_| Refused::Down)
    }

    /// The sender: the next entry to send, sent (1905-1906).
    pub fn transmit_next(&self, routing: &Routing) -> Option<Result<Sent<D>, NotNow>> {
        let mut se = self.lock();
        let i = se.sendable().next()?;
        Some(se.transmit(i, routing))
    }

    /// An entry arrived (WROK, ICOK, DOK, DPOK, the Suspend instruction).
    pub fn receive(&self, e: &LogEntry<D>) -> SourceReceived {
        self.lock().receive(e)
    }

    /// The resend timer of the entry `(id, seq)` fired: resent, given up, or gone already (an
    /// answer deleted it first: nothing to do).
    pub fn timeout(&self, id: Id, seq: Seq) -> Option<Timeout> {
        let mut se = self.lock();
        let i = se.log.iter().position(|h| h.retained && h.entry.key() == (id, seq))?;
        se.timeout(i).ok()
    }

    /// Give pair `pair` up (l. 446).
    pub fn give_up(&self, pair: u8) {
        self.lock().give_up(pair);
    }
}

/// TE's reflector thread between its look for RC+1 (2003) and its sleep: state guarded by TE's
/// lock, so that a wakeup is never lost between the look and the sleep (note 7.3).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default, Serialize, Deserialize)]
pub enum Reflector {
    /// Working: it looks for the next entry to reflect.
    #[default]
    Awake,
    /// B28: it looked, found nothing and left the lock; it is not asleep yet, so a wakeup now
    /// is lost.
    Checked,
    /// Asleep until the receiver stores an entry or TS answers.
    Asleep,
}

impl Reflector {
    /// It found nothing to reflect (under the lock). It goes to sleep in the same critical
    /// section; under B28 it leaves the lock first.
    pub fn found_nothing(&mut self, faults: FaultSet) {
        *self = if Fault::B28.on(faults) { Reflector::Checked } else { Reflector::Asleep };
    }

    /// B28's second critical section: the reflector goes to sleep, whatever happened since it
    /// looked.
    pub fn sleep(&mut self) {
        if *self == Reflector::Checked {
            *self = Reflector::Asleep;
        }
    }

    /// An entry was stored or TS answered (under the lock): a sleeping reflector wakes; one
    /// that is awake will look again anyway; one between its look and its sleep (B28) misses it.
    pub fn wake(&mut self) {
        if *self == Reflector::Asleep {
            *self = Reflector::Awake;
        }
    }

    /// It restarts with TE (after a crash), awake.
    pub fn restart(&mut self) {
        *self = Reflector::Awake;
    }
}

/// TE shared by its receiver and its reflector.
#[derive(Debug)]
pub struct SharedTarget<D, const LOG: usize> {
    te: Mutex<Inner<D, LOG>>,
    /// Notified when an entry is stored or the receiver closes.
    stored: Condvar,
}

#[derive(Debug)]
struct Inner<D, const LOG: usize> {
    te: TargetEdge<D, LOG>,
    reflector: Reflector,
    closed: bool,
}

/// What the reflector got to send TS.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Next<D> {
    Reflect(Reflected<D>),
    /// The receiver closed and nothing more is reflectable.
    Closed,
}

impl<D: Clone + PartialEq, const LOG: usize> SharedTarget<D, LOG> {
    pub fn new(te: TargetEdge<D, LOG>) -> Self {
        SharedTarget { te: Mutex::new(Inner { te, reflector: Reflector::Awake, closed: false }), stored: Condvar::new() }
    }

    fn lock(&self) -> MutexGuard<'_, Inner<D, LOG>> {
        self.te.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Read TE under the lock.
    pub fn with<R>(&self, f: impl FnOnce(&TargetEdge<D, LOG>) -> R) -> R {
        f(&self.lock().te)
    }

    /// The receiver (2001-2002): store, then wake the reflector.
    pub fn receive(&self, e: &LogEntry<D>) -> TargetReceived<D> {
        let r = {
            let mut g = self.lock();
            g.reflector.wake();
            g.te.receive(e)
        };
        self.stored.notify_all();
        r
    }

    /// The receiver is done (shutting down): the reflector returns once nothing is left.
    pub fn close(&self) {
        self.lock().closed = true;
        self.stored.notify_all();
    }

    /// The reflector (2003-2005): the next RIO for TS, waiting until there is one.
    pub fn next(&self) -> Next<D> {
        let mut g = self.lock();
        let faults = g.te.config.faults;
        loop {
            let ready = g.te.reflectable().next();
            if let Some(id) = ready {
                match g.te.reflect(id) {
                    Ok(r) => return Next::Reflect(r),
                    Err(_) => continue,
                }
            }
            if g.closed {
                return Next::Closed;
            }
            g.reflector.found_nothing(faults);
            if g.reflector == Reflector::Checked {
                // B28: the look above and the sleep below are two critical sections; an entry
                // stored (and its wakeup) between them is missed until the next wakeup.
                drop(g);
                g = self.lock();
                g.reflector.sleep();
            }
            while g.reflector == Reflector::Asleep && !g.closed {
                g = self.stored.wait(g).unwrap_or_else(|p| p.into_inner());
            }
            g.reflector.wake();
        }
    }

    /// TS answered (2006-2011).
    pub fn ts_answer(&self, id: Id, seq: Seq, answer: TsAnswer, now: Time) -> Result<Option<LogEntry<D>>, TargetNotNow> {
        let r = {
            let mut g = self.lock();
            g.reflector.wake();
            g.te.ts_answer(id, seq, answer, now)
        };
        // The ID's slot at TS is free: the reflector may take the next entry.
        self.stored.notify_all();
        r
    }
}
