//! Bounds on a run, why it ended, and the monitor that enforces time, memory and Ctrl-C and
//! draws the progress line.

use serde::{Deserialize, Serialize};
use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Limits on a run, at any thread count; a run that reaches one ends with a clear [`Ended`]
/// and is not exhaustive. The state bound stops the run within a few states of it (workers
/// count in batches of 16); the time and memory bounds within a tenth of a second or one
/// state's expansion.
#[derive(Clone, Debug, Default)]
pub struct Bounds {
    /// Stop once this many unique states are stored.
    pub max_states: Option<u64>,
    /// Do not expand states at this depth (the initial states are at depth 0).
    pub max_depth: Option<usize>,
    /// Stop after this long.
    pub timeout: Option<Duration>,
    /// Stop before the process's resident memory passes this many bytes.
    pub max_memory: Option<u64>,
}

/// Why a run ended.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Ended {
    /// Every reachable state was visited.
    Exhausted,
    /// Every property hunted was found; the rest of the space was not visited.
    Hunted,
    /// The state bound was reached.
    StateBound,
    /// States at the depth bound had successors that were not visited.
    DepthBound,
    /// The time bound passed.
    Timeout,
    /// The memory bound was reached.
    MemoryBound,
    /// Ctrl-C (or the caller's interrupt flag).
    Interrupted,
}

impl Ended {
    const ALL: [Ended; 7] = [
        Ended::Exhausted,
        Ended::Hunted,
        Ended::StateBound,
        Ended::DepthBound,
        Ended::Timeout,
        Ended::MemoryBound,
        Ended::Interrupted,
    ];

    /// Whether the whole reachable space was visited: only then may a verdict be "holds".
    pub fn exhaustive(self) -> bool {
        self == Ended::Exhausted
    }

    pub fn describe(self) -> &'static str {
        match self {
            Ended::Exhausted => "visited every reachable state",
            Ended::Hunted => "stopped once every hunted property was found",
            Ended::StateBound => "stopped at the state bound",
            Ended::DepthBound => "stopped at the depth bound",
            Ended::Timeout => "stopped at the time bound",
            Ended::MemoryBound => "stopped at the memory bound",
            Ended::Interrupted => "was interrupted",
        }
    }

    /// A word or two for a table column.
    pub fn label(self) -> &'static str {
        match self {
            Ended::Exhausted => "exhaustive",
            Ended::Hunted => "hunted",
            Ended::StateBound => "STOPPED: states",
            Ended::DepthBound => "STOPPED: depth",
            Ended::Timeout => "STOPPED: time",
            Ended::MemoryBound => "STOPPED: memory",
            Ended::Interrupted => "INTERRUPTED",
        }
    }

    fn code(self) -> u8 {
        Ended::ALL.iter().position(|e| *e == self).expect("listed") as u8 + 1
    }

    fn from_code(c: u8) -> Option<Ended> {
        c.checked_sub(1).and_then(|i| Ended::ALL.get(i as usize).copied())
    }
}

/// Resident memory of this process, in bytes (Linux; `None` elsewhere).
pub fn rss_bytes() -> Option<u64> {
    proc_status_kib("VmRSS:").map(|k| k * 1024)
}

/// Peak resident memory of this process so far, in bytes (Linux; `None` elsewhere).
pub fn peak_rss_bytes() -> Option<u64> {
    proc_status_kib("VmHWM:").map(|k| k * 1024)
}

fn proc_status_kib(key: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status.lines().find(|l| l.starts_with(key))?.split_whitespace().nth(1)?.parse().ok()
}

/// A memory bound that leaves the machine room: 80% of what is available now plus what this
/// process already holds. `None` where the system does not say.
pub fn default_max_memory() -> Option<u64> {
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    let kib: u64 = info.lines().find(|l| l.starts_with("MemAvailable:"))?.split_whitespace().nth(1)?.parse().ok()?;
    Some((kib * 1024 + rss_bytes().unwrap_or(0)) / 10 * 8)
}

/// What the progress line shows; the explorer keeps it current.
#[derive(Default)]
pub struct Counters {
    pub unique: AtomicU64,
    pub generated: AtomicU64,
    pub depth: AtomicUsize,
    pub queue: AtomicU64,
}

/// Shared by the explorer threads and the monitor: the stop flag, the bounds, the counters.
pub struct Control {
    stop: AtomicU8,
    pub start: Instant,
    deadline: Option<Instant>,
    pub bounds: Bounds,
    interrupt: Option<Arc<AtomicBool>>,
    pub counters: Counters,
    peak_rss: AtomicU64,
}

impl Control {
    pub fn new(bounds: Bounds, interrupt: Option<Arc<AtomicBool>>) -> Control {
        let start = Instant::now();
        // A deadline past what an `Instant` can hold is no deadline.
        let deadline = bounds.timeout.and_then(|t| start.checked_add(t));
        Control {
            stop: AtomicU8::new(0),
            start,
            deadline,
            bounds,
            interrupt,
            counters: Counters::default(),
            peak_rss: AtomicU64::new(0),
        }
    }

    /// Why the run must stop, if it must.
    #[inline]
    pub fn stopped(&self) -> Option<Ended> {
        Ended::from_code(self.stop.load(Ordering::Relaxed))
    }

    /// Ask the run to stop; the first reason given is the one reported.
    pub fn stop(&self, why: Ended) {
        let _ = self.stop.compare_exchange(0, why.code(), Ordering::Relaxed, Ordering::Relaxed);
    }

    /// The cheap checks a worker makes between chunks: time and interrupt.
    #[inline]
    pub fn poll(&self) -> bool {
        if self.stopped().is_some() {
            return true;
        }
        if self.interrupt.as_ref().is_some_and(|f| f.load(Ordering::Relaxed)) {
            self.stop(Ended::Interrupted);
        } else if self.deadline.is_some_and(|d| Instant::now() >= d) {
            self.stop(Ended::Timeout);
        }
        self.stopped().is_some()
    }

    /// A new unique state was stored: stop at the state bound.
    #[inline]
    pub fn count_unique(&self, unique: u64) {
        if self.bounds.max_states.is_some_and(|n| unique >= n) {
            self.stop(Ended::StateBound);
        }
    }

    /// The largest resident memory the monitor saw during this run.
    pub fn peak_rss(&self) -> Option<u64> {
        match self.peak_rss.load(Ordering::Relaxed) {
            0 => rss_bytes(),
            n => Some(n),
        }
    }

    /// The monitor's round: time, interrupt, memory.
    fn watch(&self) {
        self.poll();
        if let Some(rss) = rss_bytes() {
            self.peak_rss.fetch_max(rss, Ordering::Relaxed);
            if self.bounds.max_memory.is_some_and(|m| rss >= m) {
                self.stop(Ended::MemoryBound);
            }
        }
    }
}

/// Where the progress line goes.
#[derive(Clone, Debug, Default)]
pub struct Progress {
    /// The run's name; `None`: no progress line.
    pub label: Option<String>,
}

const PROGRESS_AFTER: Duration = Duration::from_secs(2);
const TTY_EVERY: Duration = Duration::from_millis(250);
const LOG_EVERY: Duration = Duration::from_secs(10);
const WATCH_EVERY: Duration = Duration::from_millis(50);

fn mib(b: u64) -> u64 {
    b >> 20
}

/// Run `work` while a monitor thread watches the bounds and draws the progress line (on a
/// terminal redrawn in place, in a log as whole lines every ten seconds).
pub fn monitored<T>(control: &Control, progress: &Progress, work: impl FnOnce() -> T) -> T {
    let (done, finished) = std::sync::mpsc::channel::<()>();
    std::thread::scope(|scope| {
        scope.spawn(move || {
            let tty = std::io::stderr().is_terminal();
            let mut last: Option<Instant> = None;
            let mut drawn = false;
            // Wakes every WATCH_EVERY, and at once when the work is done (the sender drops).
            while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) = finished.recv_timeout(WATCH_EVERY) {
                control.watch();
                let Some(label) = &progress.label else { continue };
                let now = Instant::now();
                let elapsed = now - control.start;
                let every = if tty { TTY_EVERY } else { LOG_EVERY };
                if elapsed < PROGRESS_AFTER || last.is_some_and(|l| now - l < every) {
                    continue;
                }
                last = Some(now);
                let c = &control.counters;
                let unique = c.unique.load(Ordering::Relaxed);
                let line = format!(
                    "{label}: {unique} states, {:.0}/s, depth {}, queue {}, {} MiB, {:.0}s",
                    unique as f64 / elapsed.as_secs_f64(),
                    c.depth.load(Ordering::Relaxed),
                    c.queue.load(Ordering::Relaxed),
                    mib(rss_bytes().unwrap_or(0)),
                    elapsed.as_secs_f64()
                );
                let mut err = std::io::stderr().lock();
                // The progress line is a courtesy: a closed stderr must not end the run.
                let _ = if tty { write!(err, "\r\x1b[K{line}") } else { writeln!(err, "{line}") };
                let _ = err.flush();
                drawn = tty;
            }
            if drawn {
                let _ = write!(std::io::stderr(), "\r\x1b[K");
            }
        });
        let out = work();
        drop(done);
        out
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_reason_to_stop_wins() {
        let c = Control::new(Bounds::default(), None);
        assert_eq!(c.stopped(), None);
        c.stop(Ended::Timeout);
        c.stop(Ended::MemoryBound);
        assert_eq!(c.stopped(), Some(Ended::Timeout));
        for e in Ended::ALL {
            assert_eq!(Ended::from_code(e.code()), Some(e));
        }
        assert_eq!(Ended::from_code(0), None);
    }

    #[test]
    fn a_huge_timeout_is_no_deadline() {
        let c = Control::new(Bounds { timeout: Some(Duration::from_secs(u64::MAX)), ..Bounds::default() }, None);
        assert!(!c.poll());
    }

    #[test]
    fn state_bound_and_interrupt_stop() {
        let c = Control::new(Bounds { max_states: Some(5), ..Bounds::default() }, None);
        c.count_unique(4);
        assert_eq!(c.stopped(), None);
        c.count_unique(5);
        assert_eq!(c.stopped(), Some(Ended::StateBound));
        let flag = Arc::new(AtomicBool::new(true));
        let c = Control::new(Bounds::default(), Some(flag));
        assert!(c.poll());
        assert_eq!(c.stopped(), Some(Ended::Interrupted));
    }
}
