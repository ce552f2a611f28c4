//! A core device 202: it forwards log entries to the next device on their route (1905, arrows
//! 1606 and 1610), at once or in batches (batch transfer program 420: it waits a fixed time
//! from the receipt of an entry, then sends everything it accumulated). It keeps nothing for
//! resending, acknowledges nothing and inspects no seq; its buffer is volatile (2.5).

use super::fault::Fault;
use super::route::{NextHop, Routing};
use super::source::Transmit;
use super::types::{Addr, LogEntry};
use crate::fault::FaultSet;
use serde::{Deserialize, Serialize};

/// A core's settings.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub struct CoreConfig {
    pub me: Addr,
    /// Program 420 runs: entries wait in the buffer for the batch timer.
    pub batching: bool,
    pub faults: FaultSet,
}

/// What a core did with an entry it received.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub enum CoreStep<D> {
    /// Sent on at once.
    Forward(Transmit<D>),
    /// Held for the next batch.
    Buffered,
    /// Lost: no room in the buffer, no route through this core, or the core is down.
    Dropped,
}

/// A core device with a batch buffer of `BUF` entries.
#[derive(Clone, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub struct CoreDevice<D, const BUF: usize> {
    pub config: CoreConfig,
    pub buffer: heapless::Vec<LogEntry<D>, BUF>,
    pub up: bool,
}

impl<D: Clone, const BUF: usize> CoreDevice<D, BUF> {
    pub fn new(config: CoreConfig) -> Self {
        CoreDevice { config, buffer: heapless::Vec::new(), up: true }
    }

    /// 1905 at this core: where `e` goes next.
    pub fn next(&self, routing: &Routing, e: &LogEntry<D>) -> Option<Addr> {
        match routing.next(self.config.me, e.source.wwn, e.target.wwn) {
            NextHop::To(a) => Some(a),
            NextHop::Here | NextHop::NoRoute => None,
        }
    }

    /// An entry arrived.
    pub fn receive(&mut self, routing: &Routing, e: LogEntry<D>) -> CoreStep<D> {
        if !self.up {
            return CoreStep::Dropped;
        }
        let Some(to) = self.next(routing, &e) else {
            return CoreStep::Dropped;
        };
        if !self.config.batching {
            return CoreStep::Forward(Transmit { to, entry: e });
        }
        match self.buffer.push(e) {
            Ok(()) => CoreStep::Buffered,
            Err(_) => CoreStep::Dropped,
        }
    }

    /// Whether the batch timer has anything to send (B29: only a batch of two or more).
    pub fn batch_due(&self) -> bool {
        let least = if Fault::B29.on(self.config.faults) { 2 } else { 1 };
        self.up && self.buffer.len() >= least
    }

    /// The batch timer: every buffered entry, in arrival order, with its next hop.
    pub fn flush(&mut self, routing: &Routing) -> heapless::Vec<Transmit<D>, BUF> {
        let mut out = heapless::Vec::new();
        if !self.batch_due() {
            return out;
        }
        for e in core::mem::take(&mut self.buffer) {
            if let Some(to) = self.next(routing, &e) {
                let _ = out.push(Transmit { to, entry: e });
            }
        }
        out
    }

    /// A crash: the buffer is lost (l. 444).
    pub fn crash(&mut self) {
        self.up = false;
        self.buffer.clear();
    }

    pub fn restart(&mut self) {
        self.up = true;
    }
}
