//! `journal_bench`: the throughput of P's write path through a file-backed journal ring
//! (`rcopy::journal::file`), next to a plain sequential write of the same host bytes to a file
//! in the same directory (the physical limit of that file system).
//!
//! For each host write size and flush mode it measures, as the median of `--reps` runs:
//!
//! - **ring**: `Primary::host_write` (ring space, id, time stamp),
//!   `format::encode_journal_one_pass` (header block, the data blocks each with its 16 bytes of
//!   protection data and CRC-32C 503, trailer block with the header's copy and CRC-32C 709 over
//!   header and data: the bytes of `format::encode_journal`, with one copy of the data and one
//!   CRC-32C pass over it), one positioned write of the journal to the ring (two where it wraps),
//!   `fdatasync` per journal when flushing, `Primary::journal_written` (in-order
//!   acknowledgement), and P's Fig. 10 round (read 632, publish 631) every 64 journals, with a
//!   stand-in S that confirms everything written so that the ring never fills;
//! - **plain**: `pwrite` of the same host bytes at sequential offsets of a file of the ring's
//!   size (wrapping like the ring), `fdatasync` per write when flushing;
//! - **encode**: the encoding alone, no I/O (where the CPU of the ring goes).
//!
//! Both files are laid out and written over once before the runs (no run allocates blocks, as
//! on a block device), then reused by every run.
//!
//! MB/s are of host data (10^6 bytes a second) in every column, so the ratio is what the ring
//! costs a host.
//!
//! # What costs the rest
//!
//! - **Bytes.** Beyond the host's bytes the ring writes two 528-byte blocks (header and
//!   trailer) and 16 bytes of protection data per 512-byte block: `(blocks + 2) * 528 / (blocks
//!   * 512)`, 1.29x the bytes for 4 KiB writes, 1.047x for 64 KiB ones.
//! - **CPU.** The encoding copies the data into the journal buffer and checksums it once
//!   (code 709 is combined from the blocks' CRCs, see `format::encode_journal_one_pass`), then the
//!   journal is written: the encoding is in series with the write. Without a flush, the plain
//!   write is a copy into the page cache (about 12 us per 64 KiB on the development machine),
//!   and the CRC-32C pass alone (the SSE4.2 instruction, 8 bytes a cycle at best, about 3 us per
//!   64 KiB there) is a quarter of it: the `encode share` column is the part of the ring's time
//!   that encoding alone takes (measured apart, so an estimate). With the reference encoder
//!   `format::encode_journal` (a copy and two CRC passes) the ring reached a median 51% of the
//!   plain write at 64 KiB without flush, with this one 66% (13 interleaved runs each; 4 KiB:
//!   81% and 95%). Two things were tried and measured slower:
//!   writing the journal without copying the data, as `pwritev` of its slices (the host data's
//!   512-byte runs between 16-byte protection data, 258 slices for 64 KiB: the kernel's copy of
//!   each slice has its own setup cost, more than one copy in user space), and encoding on
//!   another thread while the last journal is written (on a 2-vCPU machine each hand-off costs
//!   a wake-up of the other thread). In the note's design the host adapter adds the protection
//!   data in hardware (note 2.6, \[0055\]), which takes this cost off the CPU.
//! - **Flush.** With an `fdatasync` per journal both sides wait for the device, and the ratio
//!   tends to 1 (the extra bytes aside); such figures vary with the device from run to run.
//!
//! ```text
//! journal_bench [--dir DIR] [--reps 5] [--mib 256] [--flush-writes 300] [--ring-mib 64] [--sizes-kib 4,64]
//! ```

use clap::Parser;
use rcopy::fault::FaultSet;
use rcopy::journal::file::{FormatOptions, Intermediate, LAYOUT, UNIT};
use rcopy::journal::format::{self, JournalHeader, BLOCK};
use rcopy::journal::{
    ControlInfo, ControlStep, FullPolicy, JournalMeta, Owner, Pos, Primary, PrimaryConfig, Refused, ReqId, Ts, Variant,
    Written,
};
use std::fs::OpenOptions;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

#[derive(Parser)]
#[command(name = "journal_bench", about = "P's journal write path on a file-backed ring vs a plain sequential write")]
struct Cli {
    /// The directory of the ring and the plain file (default: the system's temporary directory).
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Repetitions of each measurement (the median is shown).
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..))]
    reps: u32,
    /// Host data per run without flush, in MiB.
    #[arg(long, default_value_t = 256, value_parser = clap::value_parser!(u64).range(1..))]
    mib: u64,
    /// Host writes per run with a flush per write.
    #[arg(long, default_value_t = 300, value_parser = clap::value_parser!(u64).range(1..))]
    flush_writes: u64,
    /// The ring's size (and the plain file's), in MiB.
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u64).range(1..=4096))]
    ring_mib: u64,
    /// Host write sizes, in KiB (multiples of 0.5).
    #[arg(long, value_delimiter = ',', default_values_t = [4u32, 64])]
    sizes_kib: Vec<u32>,
}

type P = Primary<64, 4096>;

#[derive(Debug, thiserror::Error)]
enum BenchError {
    #[error("{0}")]
    File(#[from] rcopy::journal::file::FileError),
    #[error("{0}")]
    Format(#[from] format::FormatError),
    #[error("{what} {}: {source}", path.display())]
    Io { what: &'static str, path: PathBuf, source: std::io::Error },
    #[error("{0}")]
    Protocol(String),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(&cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("journal_bench: {e}");
            ExitCode::from(1)
        }
    }
}

/// One measured configuration: seconds per run of each kind.
struct Row {
    kib: u32,
    flush: bool,
    writes: u64,
    ring: Vec<f64>,
    plain: Vec<f64>,
    encode: Vec<f64>,
}

fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    s[s.len() / 2]
}

fn run(cli: &Cli) -> Result<(), BenchError> {
    let dir = cli.dir.clone().unwrap_or_else(std::env::temp_dir);
    let ring_path = dir.join(format!("journal-bench-{}.ring", std::process::id()));
    let plain_path = dir.join(format!("journal-bench-{}.plain", std::process::id()));
    let queue_units = u32::try_from(cli.ring_mib * (1 << 20) / UNIT as u64)
        .map_err(|_| BenchError::Protocol("the ring is too large".into()))?;
    let mut rows = Vec::new();
    for &kib in &cli.sizes_kib {
        if kib == 0 || u64::from(kib) * 1024 > cli.ring_mib * (1 << 20) / 4 {
            return Err(BenchError::Protocol(format!("a {kib} KiB write does not suit a {} MiB ring", cli.ring_mib)));
        }
        for flush in [false, true] {
            let writes = if flush { cli.flush_writes } else { (cli.mib << 10) / u64::from(kib) };
            let mut row = Row { kib, flush, writes, ring: vec![], plain: vec![], encode: vec![] };
            // Both files are laid out and written over once, so that no run allocates blocks
            // (as on a block device); the runs then reuse them.
            let layout = Intermediate::format(&ring_path, &FormatOptions::new(queue_units))?;
            preallocate(&ring_path, layout.ring, layout.ring_bytes())?;
            preallocate(&plain_path, 0, cli.ring_mib << 20)?;
            // The two paths take turns, a chunk of writes each, so that both see the device in
            // the same state (its flush latency drifts).
            let chunk = if flush { 10 } else { 1024 };
            for _ in 0..cli.reps {
                let mut ring = RingPath::new(&ring_path, queue_units, kib)?;
                let mut plain = PlainPath::new(&plain_path, cli.ring_mib << 20, kib)?;
                let (mut ring_secs, mut plain_secs, mut done) = (0.0, 0.0, 0);
                while done < writes {
                    let n = chunk.min(writes - done);
                    ring_secs += ring.run(n, flush)?;
                    plain_secs += plain.run(n, flush)?;
                    done += n;
                }
                ring.check(writes)?;
                row.ring.push(ring_secs);
                row.plain.push(plain_secs);
                row.encode.push(encode_run(kib, writes.min(20_000))? * writes as f64 / writes.min(20_000) as f64);
            }
            let _ = std::fs::remove_file(&ring_path);
            let _ = std::fs::remove_file(&plain_path);
            eprintln!("journal_bench: {kib} KiB, flush {flush}: done");
            rows.push(row);
        }
    }
    print_table(cli, &dir, &rows);
    Ok(())
}

fn print_table(cli: &Cli, dir: &Path, rows: &[Row]) {
    println!(
        "journal ring vs plain sequential write, in {} ({} MiB ring, median of {} runs; MB/s of host data)",
        dir.display(),
        cli.ring_mib,
        cli.reps
    );
    println!(
        "{:>9} {:>7} {:>7} {:>11} {:>10} {:>11} {:>10} {:>12} {:>13} {:>11}",
        "write",
        "flush",
        "writes",
        "journals/s",
        "ring MB/s",
        "plain MB/s",
        "ring/plain",
        "encode MB/s",
        "encode share",
        "ring bytes"
    );
    for r in rows {
        let mb = r.writes as f64 * f64::from(r.kib) * 1024.0 / 1e6;
        let (ring, plain, encode) = (median(&r.ring), median(&r.plain), median(&r.encode));
        let blocks = u64::from(r.kib) * 1024 / BLOCK as u64;
        let bytes = ((blocks + 2) * UNIT as u64) as f64 / (blocks * BLOCK as u64) as f64;
        println!(
            "{:>5} KiB {:>7} {:>7} {:>11.0} {:>10.1} {:>11.1} {:>9.0}% {:>12.0} {:>12.0}% {:>10.3}x",
            r.kib,
            if r.flush { "journal" } else { "none" },
            r.writes,
            r.writes as f64 / ring,
            mb / ring,
            mb / plain,
            100.0 * plain / ring,
            mb / encode,
            100.0 * encode / ring,
            bytes
        );
    }
    println!(
        "ring: P's path on one thread (reserve, encode, pwrite to the ring, [fdatasync,] in-order \
         ack, Fig. 10 every 64); plain: pwrite of the host bytes [+ fdatasync]; encode: \
         encode_journal_one_pass alone; encode share: the part of the ring's time that encoding takes; \
         ring bytes: bytes the ring writes per host byte."
    );
}

/// Host data of `kib` KiB, not all zeros (so that nothing can cheat on it).
fn host_data(kib: u32) -> Vec<u8> {
    let mut x = 0x1234_5678_9abc_def0u64;
    (0..kib as usize * 1024)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// P's write path on one thread, with a stand-in S, on a laid-out ring.
struct RingPath {
    i: Intermediate,
    s: Intermediate,
    p: Box<P>,
    group: u32,
    queue: u32,
    data: Vec<u8>,
    blocks: u16,
    journal: Vec<u8>,
    heartbeat: u32,
    written: u64,
    acked: u64,
}

impl RingPath {
    /// P afresh at position 0 of the ring at `path` (its old bytes are overwritten, never read).
    fn new(path: &Path, queue_units: u32, kib: u32) -> Result<RingPath, BenchError> {
        let i = Intermediate::open(path, Owner::Primary)?;
        let layout = i.layout().clone();
        if layout.queue_units != queue_units {
            return Err(BenchError::Protocol("the ring is not the one laid out".into()));
        }
        i.write_control(Owner::Primary, &ControlInfo { owner: Owner::Primary, head: Pos(0), size: 0, heartbeat: 0 })?;
        let data = host_data(kib);
        let blocks = u16::try_from(data.len() / BLOCK).map_err(|_| BenchError::Protocol("write too large".into()))?;
        let config = PrimaryConfig {
            geometry: layout.geometry(),
            region_blocks: 1,
            threshold: u8::MAX,
            heartbeat_modulus: u32::MAX,
            full: FullPolicy::Busy,
        };
        Ok(RingPath {
            s: Intermediate::open(path, Owner::Secondary(0))?,
            i,
            p: Box::new(Primary::new(config, Variant::Hardened, FaultSet::NONE, Pos(0), ReqId(1))),
            group: layout.group,
            queue: layout.queue,
            journal: Vec::with_capacity(data.len() + 4 * UNIT),
            data,
            blocks,
            heartbeat: 0,
            written: 0,
            acked: 0,
        })
    }

    /// The stand-in S confirms everything P wrote, then P runs its Fig. 10 round.
    fn round(&mut self) -> Result<(), BenchError> {
        self.heartbeat += 1;
        let rec = ControlInfo { owner: Owner::Secondary(0), head: self.p.done, size: 0, heartbeat: self.heartbeat };
        self.s.write_control(Owner::Secondary(0), &rec)?;
        match self.p.control(Some(self.i.read_control(Owner::Secondary(0))?)) {
            ControlStep::Publish(r) => Ok(self.i.write_control(Owner::Primary, &r)?),
            other => Err(BenchError::Protocol(format!("P's round gave {other:?}"))),
        }
    }

    /// `count` more host writes: seconds.
    fn run(&mut self, count: u64, flush: bool) -> Result<f64, BenchError> {
        let t0 = Instant::now();
        let end = self.written + count;
        while self.written < end {
            let n = self.written;
            let addr = (n as u32).wrapping_mul(u32::from(self.blocks)) % (1 << 20);
            let r = match self.p.host_write(0, addr, self.blocks, true, Ts(n as u32 + 1)) {
                Ok(Written::Journal(r)) => r,
                Err(Refused::Busy | Refused::UpdateInfoFull(_)) => {
                    self.round()?;
                    continue;
                }
                other => return Err(BenchError::Protocol(format!("P answered {other:?}"))),
            };
            let header = JournalHeader::new(LAYOUT, 0, self.group, self.queue, r.meta, self.data.len() as u32)?;
            self.journal.clear();
            format::encode_journal_one_pass(LAYOUT, &header, &self.data, &mut self.journal)?;
            self.i.write_units(r.pos, &self.journal)?;
            if flush {
                self.i.flush()?;
            }
            if let Some(a) = self.p.journal_written(r.meta.id) {
                self.acked += u64::from(a.to.0 - a.from.0 + 1);
            }
            self.written += 1;
            if self.written & 63 == 0 {
                self.round()?;
            }
        }
        Ok(t0.elapsed().as_secs_f64())
    }

    /// Every write was acknowledged.
    fn check(&self, writes: u64) -> Result<(), BenchError> {
        if self.acked != writes {
            return Err(BenchError::Protocol(format!("{} of {writes} writes acknowledged", self.acked)));
        }
        Ok(())
    }
}

/// The same host bytes written sequentially to a plain file, wrapping at its size.
struct PlainPath {
    f: std::fs::File,
    path: PathBuf,
    size: u64,
    data: Vec<u8>,
    at: u64,
}

impl PlainPath {
    fn new(path: &Path, size: u64, kib: u32) -> Result<PlainPath, BenchError> {
        let f = OpenOptions::new().write(true).open(path).map_err(|source| BenchError::Io {
            what: "cannot open",
            path: path.to_path_buf(),
            source,
        })?;
        Ok(PlainPath { f, path: path.to_path_buf(), size, data: host_data(kib), at: 0 })
    }

    /// `count` more writes: seconds.
    fn run(&mut self, count: u64, flush: bool) -> Result<f64, BenchError> {
        let len = self.data.len() as u64;
        let t0 = Instant::now();
        for _ in 0..count {
            if self.at + len > self.size {
                self.at = 0;
            }
            let r =
                self.f.write_all_at(&self.data, self.at).and_then(|()| if flush { self.f.sync_data() } else { Ok(()) });
            r.map_err(|source| BenchError::Io { what: "cannot write", path: self.path.clone(), source })?;
            self.at += len;
        }
        Ok(t0.elapsed().as_secs_f64())
    }
}

/// Write zeros over `len` bytes of `path` from `at` (creating it) and make them durable.
fn preallocate(path: &Path, at: u64, len: u64) -> Result<(), BenchError> {
    let io = |what| move |source| BenchError::Io { what, path: path.to_path_buf(), source };
    let f = OpenOptions::new().write(true).create(true).truncate(false).open(path).map_err(io("cannot open"))?;
    let zeros = vec![0u8; 1 << 20];
    let mut done = 0u64;
    while done < len {
        let n = (len - done).min(zeros.len() as u64) as usize;
        f.write_all_at(&zeros[..n], at + done).map_err(io("cannot write"))?;
        done += n as u64;
    }
    f.sync_all().map_err(io("cannot flush"))
}

/// The encoding alone, `writes` times: seconds.
fn encode_run(kib: u32, writes: u64) -> Result<f64, BenchError> {
    let data = host_data(kib);
    let meta = JournalMeta { id: ReqId(1), ts: Ts(1), volume: 0, addr: 0, blocks: 0 };
    let layout = LAYOUT;
    let mut journal = Vec::with_capacity(data.len() + 4 * UNIT);
    let t0 = Instant::now();
    for n in 0..writes {
        let meta = JournalMeta { id: ReqId(n as u32 + 1), ..meta };
        let header = JournalHeader::new(layout, 0, 1, 1, meta, data.len() as u32)?;
        journal.clear();
        format::encode_journal_one_pass(layout, &header, &data, &mut journal)?;
        std::hint::black_box(&journal);
    }
    Ok(t0.elapsed().as_secs_f64().max(Duration::from_nanos(1).as_secs_f64()))
}
