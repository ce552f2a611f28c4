//! The piece production threads share: host threads stamp and enqueue writes while the sender
//! thread selects the earliest and numbers it. Assumption A1 of the note: stamping and
//! enqueueing are one critical section, so within a stream sequence order equals time-stamp
//! order. Written against the [`crate::sync`] facade, so loom checks it as compiled.

use super::message::DataPacket;
use super::sender::{HostWrite, Refused, Sender};
use super::types::{ClockReading, Seq, StreamId, Time, Ts};
use crate::sync::{AtomicU64, Mutex, Ordering};

/// The common time base: strictly increasing readings.
#[derive(Debug, Default)]
pub struct Clock(AtomicU64);

impl Clock {
    pub fn new(start: Time) -> Clock {
        Clock(AtomicU64::new(start))
    }

    /// The next reading; no two callers get the same one.
    pub fn tick(&self) -> Time {
        self.0.fetch_add(1, Ordering::SeqCst) + 1
    }
}

/// A [`Sender`] shared between host threads and the sender thread.
#[derive(Debug)]
pub struct SharedSender<P> {
    sender: Mutex<Sender<P>>,
    clock: Clock,
}

impl<P: Clone> SharedSender<P> {
    pub fn new(sender: Sender<P>, clock: Clock) -> SharedSender<P> {
        SharedSender { sender: Mutex::new(sender), clock }
    }

    /// A host thread's write (Fig. 5): the clock is read and the write enqueued under one lock.
    /// Under fault B9 the sender only stages the stamped write, and it is published in a second
    /// critical section, so another write can be stamped later and numbered first.
    pub fn host_write(&self, write: HostWrite<P>) -> Result<Ts, Refused> {
        let accepted = {
            let mut s = self.sender.lock().unwrap();
            let now = self.clock.tick();
            s.on_host_write(write, ClockReading::at(now))?
        };
        if accepted.staged {
            let mut s = self.sender.lock().unwrap();
            if let Some(i) = s.staged.iter().position(|(_, e)| e.ts == accepted.ts) {
                s.publish(i);
            }
        }
        Ok(accepted.ts)
    }

    /// The sender thread's step (Fig. 6, 600-602): the earliest unsent write of `stream`, numbered.
    pub fn send_next(&self, stream: StreamId) -> Option<DataPacket<P>> {
        self.sender.lock().unwrap().send_next(stream).map(|(p, _)| p)
    }

    /// Fig. 7: an ack arrived.
    pub fn on_ack(&self, stream: StreamId, seq: Seq) -> bool {
        self.sender.lock().unwrap().on_ack(stream, seq)
    }

    /// A copy of the sender's state, for inspection.
    pub fn snapshot(&self) -> Sender<P> {
        self.sender.lock().unwrap().clone()
    }
}
