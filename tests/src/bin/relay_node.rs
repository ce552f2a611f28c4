//! `relay_node`: the relay protocol of seed 001 (`shared/protocols/seed-001.md`) run for real,
//! SE, the cores and TE as processes speaking UDP on loopback, with a writer as SS, a file as TS's
//! volume and fault-injecting proxies on the hops. The roles are the sans-IO `SourceEdge`,
//! `CoreDevice` and `TargetEdge` of `rcopy::relay`; this binary is their runtime: it moves bytes
//! (`rcopy::relay::wire`: GbE frames 210 of log entries, entries too large for a datagram divided
//! and reassembled), keeps the timers, stores the edges' state in files, and writes logs a judge
//! can read after a `SIGKILL`. Every protocol decision is a call into a role.
//!
//! ```text
//! relay_node se     --bind A --ss-listen A --me N --route N,N,.. --peer N=A.. --state F --history F
//! relay_node core   --bind A --me N --route .. --peer N=A..
//! relay_node te     --bind A --me N --route .. --peer N=A.. --state F --history F --volume F
//! relay_node proxy  --link LISTEN=DEST.. --seed S --loss P --dup P --reorder P --delay-ms D
//! relay_node writer --se A --writes N --log F
//! relay_node plain  --role se|fwd|te --bind A [--to A] [--ss-listen A] [--volume F --history F]
//! ```
//!
//! `--fault B<n>` (repeatable) switches on a seeded fault of the device's role, so that a judge
//! can be shown to catch it. `plain` is `relay_bench`'s baseline: the same places, plain
//! datagrams, no protocol.
//!
//! **Devices and addresses.** A route 714 is a list of device numbers (`rcopy::relay::Addr`), SE
//! first and TE last, the same for every device; answers walk it back. `--peer N=HOST:PORT`
//! says where a datagram for device `N` goes (the device, or the proxy in front of it). One
//! pair (SS volume `W112/113` to TS volume `W122/123`), one order assurance ID (1), the
//! hardened variant unless `--faithful`.
//!
//! **SS and SE.** The writer is SS with its host: it sends RIO(WR)s to SE over a TCP connection
//! on loopback (the FC link 220, reliable and ordered), at most `--window` unanswered, and
//! logs `issued`, `acked`, `refused` and `abandoned` (a write in flight when the connection
//! broke: SS does not retry it, so that no write is numbered twice). SE answers RIO(WROK) only
//! after its state, the new entries included, is in its state file.
//!
//! **Stored state.** SE's whole role (log storage area 413, CC, DC, pair information with
//! bitmap 727) is written to `--state` (two slots written in turn, each checksummed and
//! numbered, `fdatasync` unless `--sync none`; see `StateFile`) before SE answers SS and before
//! it sends an entry it numbered (an answer's deletion is stored with the next save: an
//! answered entry resent after a restart is answered again). TE writes its role less
//! its log of waiting entries (RC, epochs, pair and failover state) after each reflection,
//! before it sends the answer: an entry waiting at TE when it dies is lost as the network could
//! lose it, and SE resends it. A restarted edge loads its file and calls the role's `crash`
//! then `restart` (what a durable edge keeps, and what a seeded fault loses). TS writes each
//! RIO(WR) to `--volume` (`fdatasync` unless `--sync none`) before TE hears TS's answer.
//!
//! **History logs.** SE appends `created <seq> <write> <block> <count>` when an entry is numbered
//! (before SE stores its state), `acked <write>` before it answers SS, `restart <cc>` when it
//! starts from a stored state whose CC was `cc` (a creation at or above it was never stored),
//! `suspended` (1304) and `gaveup <pair> <bitmap>` (l. 446). TE appends `reflected <seq>
//! <write>` once TS wrote the entry, `answered <seq>` before it sends an answer, `restart`,
//! `suspend` (1303-1304) and `fenced sok|timeout` (1310). Every batch of lines is one `write(2)`
//! to a file opened for appending, so a `SIGKILL` loses no line written.
//!
//! **Block contents.** Block `index` of write `w` is 512 bytes: `"RCRB"`, `w`, `index`
//! (little-endian u32s), a check word `w.rotate_left(16) ^ index ^ 0x9e3779b9`, then 62 words
//! of a splitmix64 stream seeded by `(w, index)`: a volume block names the write it holds.
//!
//! **Garbage.** A datagram that is no frame, a frame for another device, a fragment that
//! contradicts its entry: each is counted and dropped, never a panic. Each device prints one
//! `stats` line when it stops (`--stop-file`), e.g. `stats te frames_in=.. rejected=..`.
//!
//! **Exit codes.** 0 stopped; 2 bad usage (clap); 1 an I/O error or a bad state file, with one
//! line on stderr.
//!
//! What the roles do not do and this runtime does: TE sends the Suspend instruction (1304) again
//! every resend interval while its failover drains (the role makes it once; note 5.1 asks
//! control entries to be resent like LE(WR)), and SE answers each copy with a new LE(SOK). SE
//! sends at most `--inflight` entries that are not answered yet, and backs its resend timer off
//! (doubling, up to 8 times the interval) for an entry resent before.

use clap::{Args, Parser, Subcommand};
use rcopy::fault::FaultSet;
use rcopy::relay::wire::{self, FrameEncoder, Payload, Reassembler};
use rcopy::relay::{
    Addr, Bitmap, Block, Body, CoreConfig, CoreDevice, CoreStep, Failover, Fault, Id, LogEntry, Lun, PairRow,
    PairState, Reflected, Refused, RouteRow, Routing, Seq, SourceConfig, SourceEdge, SourceReceived, TargetConfig,
    TargetEdge, TargetReceived, Time, Timeout, TsAnswer, Variant, VolRef, WriteAck, Wwn,
};
use rustix::event::{PollFd, PollFlags, Timespec};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The source volume 113 in SS and the target volume 123 in TS (Fig. 1).
const SRC: VolRef = VolRef { wwn: Wwn(0x112), lun: Lun(113) };
const TGT: VolRef = VolRef { wwn: Wwn(0x122), lun: Lun(123) };
/// The pair's order assurance ID.
const ID: Id = Id(1);
/// A volume block.
const BLOCK: usize = 512;
/// Entries in an edge's log storage area and in a core's batch buffer.
const LOG: usize = 256;

/// A write's data in the roles: bytes that serde writes as one byte string (postcard would
/// write a `Vec<u8>` byte by byte, which made storing SE's state the relay's bottleneck).
#[derive(Clone, PartialEq, Eq, Hash, Debug, Default)]
struct Data(Vec<u8>);

impl AsRef<[u8]> for Data {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl Serialize for Data {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(&self.0)
    }
}

impl<'de> serde::Deserialize<'de> for Data {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Data, D::Error> {
        struct Visit;
        impl<'de> serde::de::Visitor<'de> for Visit {
            type Value = Data;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a byte string")
            }
            fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<Data, E> {
                Ok(Data(v.to_vec()))
            }
            fn visit_byte_buf<E: serde::de::Error>(self, v: Vec<u8>) -> Result<Data, E> {
                Ok(Data(v))
            }
        }
        d.deserialize_byte_buf(Visit)
    }
}

/// A decoded entry with its data copied out of the datagram.
fn owned(e: &LogEntry<&[u8]>) -> LogEntry<Data> {
    let body = match e.body {
        Body::Wr { block, count, data } => Body::Wr { block, count, data: Data(data.to_vec()) },
        Body::Wrok => Body::Wrok,
        Body::PairCreate => Body::PairCreate,
        Body::Icok => Body::Icok,
        Body::Duplex => Body::Duplex,
        Body::Dok => Body::Dok,
        Body::Resync => Body::Resync,
        Body::Dpok(b) => Body::Dpok(b),
        Body::Suspend => Body::Suspend,
        Body::Sok => Body::Sok,
    };
    LogEntry { target: e.target, source: e.source, id: e.id, epoch: e.epoch, time: e.time, seq: e.seq, body }
}
type Se = SourceEdge<Data, LOG>;
type Te = TargetEdge<Data, LOG>;
type Core = CoreDevice<Data, LOG>;

#[derive(Parser)]
#[command(name = "relay_node", about = "SE, cores, TE, proxies and SS of the relay protocol over UDP on loopback")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// SE (104): takes SS's writes, numbers, stores, relays, resends.
    Se(SeArgs),
    /// A core device (202): forwards entries along the route.
    Core(CoreArgs),
    /// TE (105): stores, reflects into TS's volume in seq order, answers; failover.
    Te(TeArgs),
    /// A fault-injecting proxy: forwards datagrams with seeded loss, duplication, reordering
    /// and delay.
    Proxy(ProxyArgs),
    /// SS and its host: writes to SE over TCP.
    Writer(WriterArgs),
    /// The benchmark's baseline: the writes' bytes as plain UDP datagrams through the same
    /// places (SE's, the cores', TE's), no log entries, no protocol, no stored state.
    Plain(PlainArgs),
}

#[derive(Args, Clone)]
struct Device {
    /// The UDP address to bind (127.0.0.1:0 picks a port).
    #[arg(long)]
    bind: SocketAddr,
    /// This device's number on the route.
    #[arg(long)]
    me: u32,
    /// The transit route 714: device numbers, SE first, TE last.
    #[arg(long, value_delimiter = ',', required = true)]
    route: Vec<u32>,
    /// Where datagrams for a device go: `N=HOST:PORT` (repeatable).
    #[arg(long = "peer", value_parser = parse_peer)]
    peers: Vec<(u32, SocketAddr)>,
    /// Stop (exit 0, printing the stats line) once this file exists.
    #[arg(long)]
    stop_file: Option<PathBuf>,
    /// Switch on a seeded fault of this device's role (e.g. B1, B9), to see a judge catch it.
    #[arg(long = "fault", value_parser = parse_fault)]
    faults: Vec<Fault>,
    /// The text's variant instead of the hardened one.
    #[arg(long)]
    faithful: bool,
    /// The largest datagram sent (512..=65507): larger entries are divided.
    #[arg(long, default_value_t = 65507, value_parser = clap::value_parser!(u32).range(512..=65507))]
    max_frame: u32,
    /// Write the bound address to this file once bound (for a caller that bound port 0).
    #[arg(long)]
    addr_file: Option<PathBuf>,
}

/// When stored state and the volume are flushed to the device.
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Sync {
    /// `fdatasync` each save of the state and each write of the volume.
    Fsync,
    /// Write only: survives the process's death (`SIGKILL`), not a power cut.
    None,
}

#[derive(Args)]
struct SeArgs {
    #[command(flatten)]
    dev: Device,
    /// The TCP address SS connects to.
    #[arg(long)]
    ss_listen: SocketAddr,
    /// SE's stored state (loaded at start if present).
    #[arg(long)]
    state: PathBuf,
    /// The history log (appended to).
    #[arg(long)]
    history: PathBuf,
    /// The resend interval, in milliseconds.
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u64).range(1..))]
    rto_ms: u64,
    /// Resends of one entry before the pair is given up (r_max).
    #[arg(long, default_value_t = 250)]
    r_max: u8,
    /// Entries sent and not answered yet, at most.
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..))]
    inflight: u32,
    #[arg(long, value_enum, default_value_t = Sync::Fsync)]
    sync: Sync,
}

#[derive(Args)]
struct CoreArgs {
    #[command(flatten)]
    dev: Device,
    /// Batch transfer program 420: hold entries this long, then send them together (0: off).
    #[arg(long, default_value_t = 0)]
    batch_ms: u64,
}

#[derive(Args)]
struct TeArgs {
    #[command(flatten)]
    dev: Device,
    /// TE's stored state (loaded at start if present).
    #[arg(long)]
    state: PathBuf,
    /// The history log (appended to).
    #[arg(long)]
    history: PathBuf,
    /// TS's volume (created if missing, zero-filled to `--volume-blocks`).
    #[arg(long)]
    volume: PathBuf,
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..))]
    volume_blocks: u32,
    /// The target host's Suspend instruction (1302): TE starts the failover once this exists.
    #[arg(long)]
    suspend_file: Option<PathBuf>,
    /// The failover timeout of 1306, in milliseconds.
    #[arg(long, default_value_t = 10_000)]
    failover_ms: u64,
    /// The interval at which TE sends the Suspend instruction again while it drains.
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u64).range(1..))]
    rto_ms: u64,
    #[arg(long, value_enum, default_value_t = Sync::Fsync)]
    sync: Sync,
}

#[derive(Args)]
struct ProxyArgs {
    /// `LISTEN=DEST`: datagrams arriving at LISTEN go to DEST (repeatable; one per direction).
    #[arg(long = "link", value_parser = parse_link, required = true)]
    links: Vec<(SocketAddr, SocketAddr)>,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Probability that a datagram is dropped.
    #[arg(long, default_value_t = 0.0, value_parser = parse_prob)]
    loss: f64,
    /// Probability that a datagram is sent twice.
    #[arg(long, default_value_t = 0.0, value_parser = parse_prob)]
    dup: f64,
    /// Probability that a datagram is held back behind later ones.
    #[arg(long, default_value_t = 0.0, value_parser = parse_prob)]
    reorder: f64,
    /// Each datagram is delayed uniformly in 0..=this many milliseconds.
    #[arg(long, default_value_t = 0)]
    delay_ms: u64,
    #[arg(long)]
    stop_file: Option<PathBuf>,
}

/// A place on the plain path.
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum PlainRole {
    /// Takes SS's writes over TCP, answers each at once, sends its bytes on.
    Se,
    /// Passes datagrams on.
    Fwd,
    /// Writes what arrives to the volume; logs `reflected 0 <write>` for each complete write.
    Te,
}

#[derive(Args)]
struct PlainArgs {
    #[arg(long, value_enum)]
    role: PlainRole,
    #[arg(long)]
    bind: SocketAddr,
    /// Where datagrams go next (not for `te`).
    #[arg(long)]
    to: Option<SocketAddr>,
    /// SS's TCP address (`se`).
    #[arg(long)]
    ss_listen: Option<SocketAddr>,
    /// The volume (`te`).
    #[arg(long)]
    volume: Option<PathBuf>,
    /// The log of complete writes (`te`).
    #[arg(long)]
    history: Option<PathBuf>,
    #[arg(long)]
    stop_file: Option<PathBuf>,
}

#[derive(Args)]
struct WriterArgs {
    /// SE's TCP address.
    #[arg(long)]
    se: SocketAddr,
    /// Host writes to make.
    #[arg(long)]
    writes: u32,
    /// The first write id (ids are `first..first + writes`).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    first: u32,
    /// Blocks per write (512 bytes each).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=2048))]
    blocks: u16,
    /// The volume's size in blocks (writes land anywhere in it).
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..))]
    volume_blocks: u32,
    /// Writes sent and not answered, at most.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..))]
    window: u32,
    /// A pause between writes, in microseconds.
    #[arg(long, default_value_t = 0)]
    pace_us: u64,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// The log of issued, acknowledged, refused and abandoned writes (appended to).
    #[arg(long)]
    log: Option<PathBuf>,
    /// Give up on SE (exit 1) after this long without a connection or an answer.
    #[arg(long, default_value_t = 20_000)]
    timeout_ms: u64,
}

#[derive(Debug, thiserror::Error)]
enum NodeError {
    #[error("{what} {}: {source}", path.display())]
    Io { what: &'static str, path: PathBuf, source: io::Error },
    #[error("{what}: {source}")]
    Net { what: &'static str, source: io::Error },
    #[error("{0}")]
    Bad(String),
}

fn io_err<'a>(what: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> NodeError + 'a {
    move |source| NodeError::Io { what, path: path.to_path_buf(), source }
}

fn net_err(what: &'static str) -> impl FnOnce(io::Error) -> NodeError {
    move |source| NodeError::Net { what, source }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let (name, result) = match cli.cmd {
        Cmd::Se(a) => ("se", run_se(&a)),
        Cmd::Core(a) => ("core", run_core(&a)),
        Cmd::Te(a) => ("te", run_te(&a)),
        Cmd::Proxy(a) => ("proxy", run_proxy(&a)),
        Cmd::Writer(a) => ("writer", run_writer(&a)),
        Cmd::Plain(a) => ("plain", run_plain(&a)),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("relay_node {name}: {e}");
            ExitCode::from(1)
        }
    }
}

fn parse_fault(name: &str) -> Result<Fault, String> {
    Fault::from_name(name).ok_or_else(|| format!("no seeded fault {name} of the relay (B1..B{})", Fault::ALL.len()))
}

fn parse_peer(s: &str) -> Result<(u32, SocketAddr), String> {
    let (n, a) = s.split_once('=').ok_or_else(|| format!("{s:?} is not N=HOST:PORT"))?;
    Ok((n.parse().map_err(|_| format!("{n:?} is not a device number"))?, a.parse().map_err(|e| format!("{a:?}: {e}"))?))
}

fn parse_link(s: &str) -> Result<(SocketAddr, SocketAddr), String> {
    let (l, d) = s.split_once('=').ok_or_else(|| format!("{s:?} is not LISTEN=DEST"))?;
    Ok((l.parse().map_err(|e| format!("{l:?}: {e}"))?, d.parse().map_err(|e| format!("{d:?}: {e}"))?))
}

fn parse_prob(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(p) if (0.0..=1.0).contains(&p) => Ok(p),
        _ => Err(format!("{s:?} is not a probability in 0..=1")),
    }
}

fn fault_set(faults: &[Fault]) -> Result<FaultSet, NodeError> {
    faults.iter().try_fold(FaultSet::NONE, |set, &f| set.with(f as u32).map_err(|e| NodeError::Bad(e.to_string())))
}

// =============================================================================================
// Shared pieces
// =============================================================================================

/// SE's clock for the I/O time of 804: milliseconds, wrapping.
fn now_time() -> Time {
    Time(SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u32))
}

fn splitmix(x: &mut u64) -> u64 {
    *x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *x;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A seeded generator (splitmix64).
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        splitmix(&mut self.0) % n.max(1)
    }

    fn chance(&mut self, p: f64) -> bool {
        p > 0.0 && (splitmix(&mut self.0) >> 11) as f64 / (1u64 << 53) as f64 <= p
    }
}

/// Fill `out` (one block) with the contents of block `index` of write `write`.
fn fill_block(write: u32, index: u32, out: &mut [u8]) {
    let check = write.rotate_left(16) ^ index ^ 0x9e37_79b9;
    for (dst, src) in
        out.chunks_exact_mut(4).zip([*b"RCRB", write.to_le_bytes(), index.to_le_bytes(), check.to_le_bytes()])
    {
        dst.copy_from_slice(&src);
    }
    let mut x = ((u64::from(write) << 32) | u64::from(index)) ^ 0x2545_f491_4f6c_dd1d;
    for word in out.get_mut(16..).unwrap_or_default().chunks_exact_mut(8) {
        word.copy_from_slice(&splitmix(&mut x).to_le_bytes());
    }
}

/// The write a WR's data is of, read from its first block's header (`u32::MAX` if none).
fn write_of(data: &[u8]) -> u32 {
    match data.get(..16) {
        Some(h) if &h[..4] == b"RCRB" => {
            let w = u32::from_le_bytes([h[4], h[5], h[6], h[7]]);
            let i = u32::from_le_bytes([h[8], h[9], h[10], h[11]]);
            let c = u32::from_le_bytes([h[12], h[13], h[14], h[15]]);
            if i == 0 && c == w.rotate_left(16) ^ 0x9e37_79b9 {
                w
            } else {
                u32::MAX
            }
        }
        _ => u32::MAX,
    }
}

/// An append-only log; each [`Log::commit`] is one `write(2)`.
struct Log {
    file: File,
    path: PathBuf,
    buf: String,
}

impl Log {
    fn open(path: &Path) -> Result<Log, NodeError> {
        let file = OpenOptions::new().create(true).append(true).open(path).map_err(io_err("cannot open log", path))?;
        Ok(Log { file, path: path.to_path_buf(), buf: String::new() })
    }

    fn push(&mut self, line: std::fmt::Arguments<'_>) {
        // Writing to a String cannot fail.
        let _ = self.buf.write_fmt(line);
        self.buf.push('\n');
    }

    fn commit(&mut self) -> Result<(), NodeError> {
        if !self.buf.is_empty() {
            self.file.write_all(self.buf.as_bytes()).map_err(io_err("cannot append to log", &self.path))?;
            self.buf.clear();
        }
        Ok(())
    }
}

/// A role's stored state, in two slots (the file and the file with `.1` appended) written in
/// turn, each with a generation number: loading takes the valid slot of the higher generation,
/// so a save cut short by the process's death leaves the one before it. A slot is `"RCRS"`,
/// version 1, the role's kind byte, the generation (u64 BE), the payload's length (u32 BE), a
/// CRC-32C (u32 BE) of all that and the payload, then the payload: the role in postcard. A save
/// overwrites the slot in place (`pwrite`; `fdatasync` unless `sync` is off): no rename, for on
/// ext4 renaming a file over another starts writing the new one out (`auto_da_alloc`), which
/// made every state save a disk write.
struct StateFile {
    paths: [PathBuf; 2],
    files: [Option<File>; 2],
    /// The slot the next save goes to, and its generation.
    next: usize,
    generation: u64,
    sync: Sync,
}

const STATE_MAGIC: [u8; 4] = *b"RCRS";
const STATE_HEADER: usize = 22;
const STATE_SE: u8 = 1;
const STATE_TE: u8 = 2;

impl StateFile {
    fn new(path: &Path, sync: Sync) -> StateFile {
        let mut other = path.as_os_str().to_owned();
        other.push(".1");
        StateFile {
            paths: [path.to_path_buf(), PathBuf::from(other)],
            files: [None, None],
            next: 0,
            generation: 1,
            sync,
        }
    }

    fn save<T: Serialize>(&mut self, kind: u8, value: &T, scratch: &mut Vec<u8>) -> Result<(), NodeError> {
        scratch.clear();
        scratch.extend_from_slice(&STATE_MAGIC);
        scratch.push(1);
        scratch.push(kind);
        scratch.extend_from_slice(&self.generation.to_be_bytes());
        scratch.extend_from_slice(&[0; 8]);
        *scratch = postcard::to_extend(value, std::mem::take(scratch))
            .map_err(|e| NodeError::Bad(format!("cannot encode the state: {e}")))?;
        let len = (scratch.len() - STATE_HEADER) as u32;
        scratch[14..18].copy_from_slice(&len.to_be_bytes());
        let crc = crc32c::crc32c_append(crc32c::crc32c(&scratch[..18]), &scratch[STATE_HEADER..]);
        scratch[18..22].copy_from_slice(&crc.to_be_bytes());
        let path = &self.paths[self.next];
        let f = match &mut self.files[self.next] {
            Some(f) => f,
            slot => slot.insert(
                OpenOptions::new()
                    .write(true)
                    .create(true)
                    .truncate(false)
                    .open(path)
                    .map_err(io_err("cannot open state file", path))?,
            ),
        };
        f.write_all_at(scratch, 0).map_err(io_err("cannot write state file", path))?;
        if self.sync == Sync::Fsync {
            f.sync_data().map_err(io_err("cannot sync state file", path))?;
        }
        self.next ^= 1;
        self.generation += 1;
        Ok(())
    }

    /// One slot: `None` if its file does not exist or is empty.
    fn slot<T: DeserializeOwned>(path: &Path, kind: u8) -> Result<Option<(u64, T)>, NodeError> {
        let bytes = match fs::read(path) {
            // A SIGKILL between the slot's creation and its first write leaves it empty: that
            // save never happened, and nothing was acknowledged on it (found by 5,000 runs).
            Ok(b) if b.is_empty() => return Ok(None),
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io_err("cannot read state file", path)(e)),
        };
        let bad = |why: String| NodeError::Bad(format!("state file {}: {why}", path.display()));
        if bytes.len() < STATE_HEADER || bytes[..4] != STATE_MAGIC {
            return Err(bad("not a relay_node state file".into()));
        }
        if bytes[4] != 1 {
            return Err(bad(format!("version {} (this build reads 1)", bytes[4])));
        }
        if bytes[5] != kind {
            return Err(bad(format!("the state of another role (kind {})", bytes[5])));
        }
        let word = |at: usize| u32::from_be_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]]);
        let generation = u64::from(word(6)) << 32 | u64::from(word(10));
        let (len, crc) = (word(14) as usize, word(18));
        // A longer state saved before may have left bytes past this one's end.
        let Some(payload) = bytes.get(STATE_HEADER..STATE_HEADER + len) else {
            return Err(bad(format!("{} bytes of state where the header says {len}", bytes.len() - STATE_HEADER)));
        };
        if crc32c::crc32c_append(crc32c::crc32c(&bytes[..18]), payload) != crc {
            return Err(bad("checksum mismatch".into()));
        }
        let value = postcard::from_bytes(payload).map_err(|e| bad(format!("cannot decode: {e}")))?;
        Ok(Some((generation, value)))
    }

    /// The stored role: the valid slot of the higher generation; `None` if there is no file;
    /// an error if no slot is valid.
    fn load<T: DeserializeOwned>(&mut self, kind: u8) -> Result<Option<T>, NodeError> {
        let a = Self::slot::<T>(&self.paths[0], kind);
        let b = Self::slot::<T>(&self.paths[1], kind);
        let best = match (a, b) {
            (Ok(None), Ok(None)) => return Ok(None),
            (Ok(Some(x)), Ok(Some(y))) => Some(if x.0 >= y.0 { (x, 1) } else { (y, 0) }),
            (Ok(Some(x)), Ok(None) | Err(_)) => Some((x, 1)),
            (Ok(None) | Err(_), Ok(Some(y))) => Some((y, 0)),
            (Err(e), _) | (Ok(None), Err(e)) => return Err(e),
        };
        Ok(best.map(|((generation, value), next)| {
            self.generation = generation + 1;
            self.next = next;
            value
        }))
    }
}

/// Datagrams and entries a device counted.
#[derive(Default)]
struct Stats {
    frames_in: u64,
    entries_in: u64,
    rejected: u64,
    misdirected: u64,
    reassembly: u64,
    frames_out: u64,
    send_errors: u64,
    no_peer: u64,
    last_error: Option<String>,
}

impl Stats {
    fn line(&self, name: &str) -> String {
        format!(
            "stats {name} frames_in={} entries_in={} rejected={} misdirected={} reassembly_errors={} frames_out={} send_errors={} no_peer={}{}",
            self.frames_in,
            self.entries_in,
            self.rejected,
            self.misdirected,
            self.reassembly,
            self.frames_out,
            self.send_errors,
            self.no_peer,
            self.last_error.as_ref().map_or(String::new(), |e| format!(" last_error=\"{e}\""))
        )
    }
}

/// A device's UDP side: one socket, a frame encoder per destination, a reassembler.
struct Net {
    sock: UdpSocket,
    me: Addr,
    peers: HashMap<Addr, SocketAddr>,
    encoders: HashMap<Addr, FrameEncoder>,
    reasm: Reassembler<16>,
    max_frame: usize,
    first_msg_id: u32,
    stats: Stats,
    buf: Vec<u8>,
    frames: Vec<Vec<u8>>,
}

impl Net {
    fn bind(d: &Device) -> Result<Net, NodeError> {
        let sock = UdpSocket::bind(d.bind).map_err(net_err("cannot bind the UDP socket"))?;
        sock.set_nonblocking(true).map_err(net_err("cannot make the socket non-blocking"))?;
        // Room for bursts of large entries (best effort: the system may cap it).
        let _ = rustix::net::sockopt::set_socket_recv_buffer_size(&sock, 4 << 20);
        let _ = rustix::net::sockopt::set_socket_send_buffer_size(&sock, 4 << 20);
        if let Some(f) = &d.addr_file {
            let a = sock.local_addr().map_err(net_err("cannot read the bound address"))?;
            fs::write(f, a.to_string()).map_err(io_err("cannot write address file", f))?;
        }
        // Message ids from the clock: a restarted sender must not reuse the ids of its last
        // life within the receiver's memory of completed messages.
        let first_msg_id = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |t| t.subsec_nanos() ^ (t.as_secs() as u32).rotate_left(20))
            ^ std::process::id().rotate_left(8);
        Ok(Net {
            sock,
            me: Addr(d.me),
            peers: d.peers.iter().map(|&(n, a)| (Addr(n), a)).collect(),
            encoders: HashMap::new(),
            reasm: Reassembler::new(),
            max_frame: d.max_frame as usize,
            first_msg_id,
            stats: Stats::default(),
            buf: vec![0; 65536],
            frames: Vec::new(),
        })
    }

    /// Every entry in the datagrams waiting now (whole, or reassembled from fragments).
    fn recv(&mut self) -> Vec<LogEntry<Data>> {
        let mut out = Vec::new();
        loop {
            let n = match self.sock.recv_from(&mut self.buf) {
                Ok((n, _)) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                // ICMP errors of earlier sends (a peer not up yet): nothing to read.
                Err(_) => continue,
            };
            self.stats.frames_in += 1;
            let bytes = &self.buf[..n];
            let frame = match wire::decode_frame(bytes) {
                Ok(f) => f,
                Err(e) => {
                    self.stats.rejected += 1;
                    self.stats.last_error = Some(e.to_string());
                    continue;
                }
            };
            if frame.dst != self.me {
                self.stats.misdirected += 1;
                self.stats.last_error = Some(format!("a frame for {} at {}", frame.dst, self.me));
                continue;
            }
            match frame.payload {
                Payload::Entries(es) => {
                    for e in es.iter() {
                        self.stats.entries_in += 1;
                        out.push(owned(&e));
                    }
                }
                Payload::Fragment(f) => match self.reasm.push(frame.src, frame.msg_id, &f) {
                    Ok(Some(a)) => {
                        self.stats.entries_in += 1;
                        out.push(owned(&a.entry()));
                    }
                    Ok(None) => {}
                    Err(e) => {
                        self.stats.reassembly += 1;
                        self.stats.last_error = Some(e.to_string());
                    }
                },
            }
        }
        out
    }

    /// Send `entries` to device `to`, packed into frames.
    fn send(&mut self, to: Addr, entries: &[LogEntry<Data>]) {
        let Some(&dest) = self.peers.get(&to) else {
            self.stats.no_peer += 1;
            return;
        };
        let (me, max, first) = (self.me, self.max_frame, self.first_msg_id);
        let enc = match self.encoders.entry(to) {
            std::collections::hash_map::Entry::Occupied(o) => o.into_mut(),
            std::collections::hash_map::Entry::Vacant(v) => match FrameEncoder::new(me, to, max, first) {
                Ok(e) => v.insert(e),
                Err(e) => {
                    self.stats.send_errors += 1;
                    self.stats.last_error = Some(e.to_string());
                    return;
                }
            },
        };
        self.frames.clear();
        if let Err(e) = enc.encode(entries, &mut self.frames) {
            self.stats.send_errors += 1;
            self.stats.last_error = Some(e.to_string());
            return;
        }
        for f in &self.frames {
            match self.sock.send_to(f, dest) {
                Ok(_) => self.stats.frames_out += 1,
                Err(_) => self.stats.send_errors += 1,
            }
        }
    }

    /// Wait until a datagram arrives (or `extra` is readable), at most `timeout`.
    fn wait(&self, extra: &[&dyn std::os::fd::AsFd], timeout: Duration) {
        let mut fds = vec![PollFd::new(&self.sock, PollFlags::IN)];
        for e in extra {
            fds.push(PollFd::from_borrowed_fd(e.as_fd(), PollFlags::IN));
        }
        let ts = Timespec { tv_sec: timeout.as_secs() as i64, tv_nsec: i64::from(timeout.subsec_nanos()) };
        let _ = rustix::event::poll(&mut fds, Some(&ts));
    }
}

/// The routing information 408 of the one route, walked back for answers.
fn routing(d: &Device) -> Result<Routing, NodeError> {
    let hops: Vec<Addr> = d.route.iter().map(|&n| Addr(n)).collect();
    let route = rcopy::relay::Route::of(&hops)
        .ok_or_else(|| NodeError::Bad(format!("a route of at most {} devices", rcopy::relay::MAX_HOPS)))?;
    if !route.loop_free() || hops.len() < 2 {
        return Err(NodeError::Bad("the route must name at least SE and TE, each device once".into()));
    }
    if !hops.contains(&Addr(d.me)) {
        return Err(NodeError::Bad(format!("device {} is not on the route", d.me)));
    }
    Routing::new(&[RouteRow { source: SRC.wwn, target: TGT.wwn, route }], true)
        .map_err(|e| NodeError::Bad(e.to_string()))
}

fn variant(d: &Device) -> Variant {
    if d.faithful {
        Variant::Faithful
    } else {
        Variant::Hardened
    }
}

fn pair_row() -> PairRow {
    PairRow { source: SRC, target: TGT, state: PairState::Duplex, id: ID, bitmap: Bitmap::EMPTY }
}

/// Checks the stop file at most every 10 ms.
struct Stop {
    file: Option<PathBuf>,
    last: Instant,
}

impl Stop {
    fn new(file: &Option<PathBuf>) -> Stop {
        Stop { file: file.clone(), last: Instant::now() }
    }

    fn now(&mut self) -> bool {
        if self.last.elapsed() < Duration::from_millis(10) {
            return false;
        }
        self.last = Instant::now();
        self.file.as_deref().is_some_and(Path::exists)
    }
}

// =============================================================================================
// SE
// =============================================================================================

/// SS's side of the FC link, as SE sees it: a TCP connection and the bytes read so far.
struct SsConn {
    stream: TcpStream,
    inbuf: Vec<u8>,
    out: Vec<u8>,
}

/// An RIO(WR) from SS: tag 1, write id u32, block u32, count u16, length u32, data (BE).
const MSG_WR: u8 = 1;
/// SE to SS: RIO(WROK) for a write id.
const MSG_ACK: u8 = 2;
/// SE to SS: the write is refused: 1 the log is full (retry), 2 the pair is suspended, 3 other.
const MSG_REFUSED: u8 = 3;
const WR_HEADER: usize = 15;

/// Take the complete RIO(WR)s at the head of `buf`: `(write, block, count, data)`; `Err` on a
/// malformed message.
/// An RIO(WR) as SE read it: write id, block, count, data.
type SsWrite = (u32, u32, u16, Vec<u8>);

fn take_writes(buf: &mut Vec<u8>) -> Result<Vec<SsWrite>, String> {
    let mut out = Vec::new();
    let mut at = 0;
    while buf.len() - at >= WR_HEADER {
        let h = &buf[at..at + WR_HEADER];
        if h[0] != MSG_WR {
            return Err(format!("unknown message tag {} from SS", h[0]));
        }
        let write = u32::from_be_bytes([h[1], h[2], h[3], h[4]]);
        let block = u32::from_be_bytes([h[5], h[6], h[7], h[8]]);
        let count = u16::from_be_bytes([h[9], h[10]]);
        let len = u32::from_be_bytes([h[11], h[12], h[13], h[14]]) as usize;
        if len > wire::MAX_DATA || count == 0 {
            return Err(format!("a write of {len} bytes in {count} blocks from SS"));
        }
        if buf.len() - at < WR_HEADER + len {
            break;
        }
        out.push((write, block, count, buf[at + WR_HEADER..at + WR_HEADER + len].to_vec()));
        at += WR_HEADER + len;
    }
    buf.drain(..at);
    Ok(out)
}

struct SeNode {
    se: Box<Se>,
    routing: Routing,
    net: Net,
    history: Log,
    state: StateFile,
    scratch: Vec<u8>,
    /// The numbered writes whose `created` line is written, by (seq, write).
    logged: HashSet<(u32, u32)>,
    /// When each sent entry's resend timer fires.
    deadlines: HashMap<(Id, Seq), Instant>,
    rto: Duration,
    inflight: usize,
    dirty: bool,
}

impl SeNode {
    /// `created` lines for the numbered writes not logged yet (before the state is stored).
    fn log_created(&mut self) {
        let mut now_held = HashSet::new();
        for h in self.se.log.iter().filter(|h| h.numbered && h.retained) {
            if let Body::Wr { block, count, data } = &h.entry.body {
                let key = (h.entry.seq.0, write_of(&data.0));
                now_held.insert(key);
                if self.logged.insert(key) {
                    self.history.push(format_args!("created {} {} {} {}", key.0, key.1, block.0, count));
                }
            }
        }
        self.logged.retain(|k| now_held.contains(k));
    }

    fn persist(&mut self) -> Result<(), NodeError> {
        if self.dirty {
            self.state.save(STATE_SE, &*self.se, &mut self.scratch)?;
            self.dirty = false;
        }
        Ok(())
    }

    /// An RIO(WR) from SS (1901-1904): the answer to send SS once the state is stored.
    fn write(&mut self, block: u32, count: u16, data: Vec<u8>) -> Option<u8> {
        match self.se.write(SRC, TGT, Block(block), count, Data(data), now_time()) {
            Ok(WriteAck::Logged { .. }) | Ok(WriteAck::Dropped) => {
                self.dirty = true;
                None
            }
            Ok(WriteAck::Staged) => {
                // Fault B8 splits 1902 from 1903; one thread commits at once.
                let k = self.se.staged.len().saturating_sub(1);
                self.dirty = true;
                match self.se.commit(k) {
                    Ok(_) => None,
                    Err(_) => Some(3),
                }
            }
            Err(Refused::LogFull(_)) => Some(1),
            Err(Refused::State(_)) => Some(2),
            Err(_) => Some(3),
        }
    }

    fn timers(&mut self) -> Result<(), NodeError> {
        let now = Instant::now();
        let keys: Vec<((Id, Seq), u8)> =
            self.se.timers().map(|i| (self.se.log[i].entry.key(), self.se.log[i].resends)).collect();
        for (key, resends) in keys {
            let due = *self.deadlines.entry(key).or_insert_with(|| now + self.rto * (1 << resends.min(3)));
            if now < due {
                continue;
            }
            self.deadlines.remove(&key);
            let Some(i) = self.se.log.iter().position(|h| h.retained && h.entry.key() == key) else { continue };
            if let Ok(Timeout::GaveUp { pair }) = self.se.timeout(i) {
                // The conversion into 727 is stored before anything else happens.
                self.dirty = true;
                let bits = self.se.pairs.get(usize::from(pair)).map_or(0, |p| p.bitmap.0);
                self.history.push(format_args!("gaveup {pair} {bits:016x}"));
            }
        }
        Ok(())
    }

    /// Send what SE offers, at most `inflight` unanswered.
    fn transmit(&mut self) {
        let mut batches: Vec<(Addr, Vec<LogEntry<Data>>)> = Vec::new();
        loop {
            let out = self.se.log.iter().filter(|h| h.retained && h.sent && !h.pending).count();
            if out >= self.inflight {
                break;
            }
            let Some(i) = self.se.sendable().next() else { break };
            match self.se.transmit(i, &self.routing) {
                Ok(sent) => {
                    let t = sent.transmit;
                    let resends = self.se.log.iter().find(|h| h.entry.key() == t.entry.key()).map_or(0, |h| h.resends);
                    self.deadlines.insert(t.entry.key(), Instant::now() + self.rto * (1 << resends.min(3)));
                    match batches.iter_mut().find(|(a, _)| *a == t.to) {
                        Some((_, v)) => v.push(t.entry),
                        None => batches.push((t.to, vec![t.entry])),
                    }
                }
                Err(_) => break,
            }
        }
        for (to, entries) in batches {
            self.net.send(to, &entries);
        }
    }
}

fn run_se(a: &SeArgs) -> Result<(), NodeError> {
    let routing = routing(&a.dev)?;
    let config = SourceConfig {
        me: Addr(a.dev.me),
        variant: variant(&a.dev),
        faults: fault_set(&a.dev.faults)?,
        r_max: a.r_max,
        first_seq: Seq(1),
        durable: true,
        region_blocks: 1,
    };
    let mut state = StateFile::new(&a.state, a.sync);
    let mut history = Log::open(&a.history)?;
    let se = match state.load::<Se>(STATE_SE)? {
        Some(mut se) => {
            if se.config != config {
                return Err(NodeError::Bad(format!("state file {}: of an SE configured otherwise", a.state.display())));
            }
            let cc = se.counters(ID).map_or(0, |c| c.cc.0);
            history.push(format_args!("restart {cc}"));
            history.commit()?;
            se.crash();
            se.restart();
            Box::new(se)
        }
        None => Box::new(Se::new(config, &[pair_row()])),
    };
    let logged = se
        .log
        .iter()
        .filter(|h| h.numbered && h.retained)
        .filter_map(|h| match &h.entry.body {
            Body::Wr { data, .. } => Some((h.entry.seq.0, write_of(&data.0))),
            _ => None,
        })
        .collect();
    let listener = TcpListener::bind(a.ss_listen).map_err(net_err("cannot bind SS's TCP address"))?;
    listener.set_nonblocking(true).map_err(net_err("cannot make the listener non-blocking"))?;
    let mut n = SeNode {
        se,
        routing,
        net: Net::bind(&a.dev)?,
        history,
        state,
        scratch: Vec::new(),
        logged,
        deadlines: HashMap::new(),
        rto: Duration::from_millis(a.rto_ms),
        inflight: a.inflight as usize,
        dirty: true,
    };
    n.persist()?;
    let mut ss: Option<SsConn> = None;
    let mut stop = Stop::new(&a.dev.stop_file);
    let mut chunk = vec![0u8; 1 << 16];
    loop {
        if stop.now() {
            break;
        }
        {
            let extra: Vec<&dyn std::os::fd::AsFd> = match &ss {
                Some(c) => vec![&listener, &c.stream],
                None => vec![&listener],
            };
            let wait =
                if n.se.timers().next().is_some() { Duration::from_millis(1) } else { Duration::from_millis(10) };
            n.net.wait(&extra, wait);
        }
        // SS connects (a new connection replaces the old: SS reconnected).
        if let Ok((stream, _)) = listener.accept() {
            if stream.set_nonblocking(true).is_ok() {
                let _ = stream.set_nodelay(true);
                ss = Some(SsConn { stream, inbuf: Vec::new(), out: Vec::new() });
            }
        }
        // SS's writes.
        let mut answers: Vec<(u32, Option<u8>)> = Vec::new();
        let mut closed = false;
        if let Some(c) = ss.as_mut() {
            loop {
                match c.stream.read(&mut chunk) {
                    Ok(0) => {
                        closed = true;
                        break;
                    }
                    Ok(k) => c.inbuf.extend_from_slice(&chunk[..k]),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(_) => {
                        closed = true;
                        break;
                    }
                }
            }
            match take_writes(&mut c.inbuf) {
                Ok(ws) => {
                    for (w, block, count, data) in ws {
                        let r = n.write(block, count, data);
                        answers.push((w, r));
                    }
                }
                Err(why) => {
                    eprintln!("relay_node se: {why}; the connection is closed");
                    closed = true;
                }
            }
        }
        // Entries from the network.
        for e in n.net.recv() {
            match n.se.receive(&e) {
                // A deletion need not be stored first: an answered entry SE resends after a
                // restart is answered again.
                SourceReceived::Deleted { .. } => {
                    n.deadlines.remove(&e.key());
                }
                SourceReceived::Suspended { .. } => {
                    n.dirty = true;
                    n.history.push(format_args!("suspended"));
                }
                SourceReceived::Unmatched | SourceReceived::Ignored => {}
            }
        }
        n.timers()?;
        // 1902-1903 logged, then stored, then 1904.
        n.log_created();
        n.history.commit()?;
        n.persist()?;
        if let Some(c) = ss.as_mut() {
            for (w, r) in &answers {
                match r {
                    None => {
                        n.history.push(format_args!("acked {w}"));
                        c.out.push(MSG_ACK);
                        c.out.extend_from_slice(&w.to_be_bytes());
                    }
                    Some(why) => {
                        c.out.push(MSG_REFUSED);
                        c.out.extend_from_slice(&w.to_be_bytes());
                        c.out.push(*why);
                    }
                }
            }
            n.history.commit()?;
            if !c.out.is_empty() {
                // The answers are small; a full socket buffer means SS stopped reading.
                let _ = c.stream.set_nonblocking(false);
                if c.stream.write_all(&c.out).is_err() {
                    closed = true;
                }
                let _ = c.stream.set_nonblocking(true);
                c.out.clear();
            }
        }
        if closed {
            ss = None;
        }
        n.transmit();
        // B11 numbers entries as they are sent.
        n.log_created();
        n.history.commit()?;
    }
    println!("{}", n.net.stats.line("se"));
    Ok(())
}

// =============================================================================================
// Core
// =============================================================================================

fn run_core(a: &CoreArgs) -> Result<(), NodeError> {
    let routing = routing(&a.dev)?;
    let mut net = Net::bind(&a.dev)?;
    let mut core = Box::new(Core::new(CoreConfig {
        me: Addr(a.dev.me),
        batching: a.batch_ms > 0,
        faults: fault_set(&a.dev.faults)?,
    }));
    let batch = Duration::from_millis(a.batch_ms);
    let mut first_buffered: Option<Instant> = None;
    let mut dropped = 0u64;
    let mut stop = Stop::new(&a.dev.stop_file);
    loop {
        if stop.now() {
            break;
        }
        let wait = first_buffered.map_or(Duration::from_millis(10), |t| batch.saturating_sub(t.elapsed()));
        net.wait(&[], wait);
        let mut out: Vec<(Addr, Vec<LogEntry<Data>>)> = Vec::new();
        let mut put = |to: Addr, e: LogEntry<Data>| match out.iter_mut().find(|(a, _)| *a == to) {
            Some((_, v)) => v.push(e),
            None => out.push((to, vec![e])),
        };
        for e in net.recv() {
            match core.receive(&routing, e) {
                CoreStep::Forward(t) => put(t.to, t.entry),
                CoreStep::Buffered => {
                    first_buffered.get_or_insert_with(Instant::now);
                }
                CoreStep::Dropped => dropped += 1,
            }
        }
        // Program 420: a fixed time after the first entry of the batch, send them all.
        if first_buffered.is_some_and(|t| t.elapsed() >= batch) && core.batch_due() {
            for t in core.flush(&routing) {
                put(t.to, t.entry);
            }
            first_buffered = None;
        }
        for (to, entries) in out {
            net.send(to, &entries);
        }
    }
    println!("{} dropped={dropped}", net.stats.line("core"));
    Ok(())
}

// =============================================================================================
// TE
// =============================================================================================

struct TeNode {
    te: Box<Te>,
    routing: Routing,
    net: Net,
    history: Log,
    state: StateFile,
    scratch: Vec<u8>,
    vol: File,
    vol_path: PathBuf,
    vol_bytes: u64,
    sync: Sync,
    rejected_writes: u64,
    /// L7: the worst reflection delay TE's 735 recorded (ms from SE's I/O time to TS's answer).
    worst_delay_ms: u32,
}

impl TeNode {
    /// TE's state, less its log of waiting entries (SE resends what a crash loses of it).
    fn persist(&mut self) -> Result<(), NodeError> {
        let log = std::mem::take(&mut self.te.log);
        let r = self.state.save(STATE_TE, &*self.te, &mut self.scratch);
        self.te.log = log;
        r
    }

    /// Send an entry TE made back toward SE.
    fn answer(&mut self, e: LogEntry<Data>) {
        if let Ok(t) = self.te.route(&self.routing, e) {
            self.net.send(t.to, &[t.entry]);
        }
    }

    /// TS takes an RIO(WR): the volume written (and flushed) before TS answers.
    fn ts_write(&mut self, block: Block, data: &[u8]) -> Result<TsAnswer, NodeError> {
        let at = u64::from(block.0) * BLOCK as u64;
        if at.saturating_add(data.len() as u64) > self.vol_bytes {
            self.rejected_writes += 1;
            return Ok(TsAnswer::Rejected);
        }
        self.vol.write_all_at(data, at).map_err(io_err("cannot write volume", &self.vol_path))?;
        if self.sync == Sync::Fsync {
            self.vol.sync_data().map_err(io_err("cannot sync volume", &self.vol_path))?;
        }
        Ok(TsAnswer::Ok)
    }

    /// 2003-2011 for everything reflectable: one entry at a time, each stored before the next.
    fn reflect(&mut self) -> Result<(), NodeError> {
        loop {
            let Some(id) = self.te.reflectable().next() else { break };
            let rio = match self.te.reflect(id) {
                Ok(Reflected::ToTs(t)) => t,
                Ok(Reflected::PassedOver { .. }) => continue,
                Err(_) => break,
            };
            let answer = match &rio.rio {
                Body::Wr { block, data, .. } => {
                    let answer = self.ts_write(*block, &data.0)?;
                    if answer == TsAnswer::Ok {
                        self.history.push(format_args!("reflected {} {}", rio.seq.0, write_of(&data.0)));
                    }
                    answer
                }
                Body::Resync => TsAnswer::Dpok(Bitmap::EMPTY),
                _ => {
                    self.history.push(format_args!("reflected {} 0", rio.seq.0));
                    TsAnswer::Ok
                }
            };
            self.history.commit()?;
            let reply = self.te.ts_answer(id, rio.seq, answer, now_time()).ok().flatten();
            if reply.is_some() {
                // 735, the delay of the reflection just confirmed (note L7).
                let delay = self.te.counters(id).map_or(0, |c| c.delay);
                self.worst_delay_ms = self.worst_delay_ms.max(delay);
            }
            self.persist()?;
            if answer == TsAnswer::Rejected {
                break;
            }
            if let Some(e) = reply {
                self.history.push(format_args!("answered {}", e.seq.0));
                self.history.commit()?;
                self.answer(e);
            }
        }
        Ok(())
    }
}

fn run_te(a: &TeArgs) -> Result<(), NodeError> {
    let routing = routing(&a.dev)?;
    let config = TargetConfig {
        me: Addr(a.dev.me),
        variant: variant(&a.dev),
        faults: fault_set(&a.dev.faults)?,
        rc0: Seq(0),
        durable: true,
        immediate: false,
    };
    let mut state = StateFile::new(&a.state, a.sync);
    let mut history = Log::open(&a.history)?;
    let te = match state.load::<Te>(STATE_TE)? {
        Some(mut te) => {
            if te.config != config {
                return Err(NodeError::Bad(format!("state file {}: of a TE configured otherwise", a.state.display())));
            }
            history.push(format_args!("restart"));
            history.commit()?;
            te.crash();
            te.restart();
            Box::new(te)
        }
        None => Box::new(Te::new(config, &[pair_row()])),
    };
    let vol = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&a.volume)
        .map_err(io_err("cannot open volume", &a.volume))?;
    let vol_bytes = u64::from(a.volume_blocks) * BLOCK as u64;
    if vol.metadata().map_err(io_err("cannot stat volume", &a.volume))?.len() < vol_bytes {
        vol.set_len(vol_bytes).map_err(io_err("cannot size volume", &a.volume))?;
    }
    let mut n = TeNode {
        te,
        routing,
        net: Net::bind(&a.dev)?,
        history,
        state,
        scratch: Vec::new(),
        vol,
        vol_path: a.volume.clone(),
        vol_bytes,
        sync: a.sync,
        rejected_writes: 0,
        worst_delay_ms: 0,
    };
    n.persist()?;
    let rto = Duration::from_millis(a.rto_ms);
    // The failover: the Suspend instruction, when it was last sent, the 1306 deadline.
    let mut instruction: Option<(LogEntry<Data>, Instant)> = None;
    let mut deadline: Option<Instant> = None;
    let mut expired = false;
    let mut fenced = n.te.pairs[0].failover == Failover::Done;
    let mut stop = Stop::new(&a.dev.stop_file);
    let mut last_check = Instant::now();
    loop {
        if stop.now() {
            break;
        }
        n.net.wait(&[], if instruction.is_some() { Duration::from_millis(1) } else { Duration::from_millis(10) });
        for e in n.net.recv() {
            match n.te.receive(&e) {
                TargetReceived::Reack(ans) | TargetReceived::StoredAndAcked(ans) => {
                    n.history.push(format_args!("answered {}", ans.seq.0));
                    n.history.commit()?;
                    n.answer(ans);
                }
                _ => {}
            }
        }
        n.reflect()?;
        // 1302-1305: the target host's Suspend instruction.
        if instruction.is_none() && !fenced && last_check.elapsed() >= Duration::from_millis(5) {
            last_check = Instant::now();
            if a.suspend_file.as_deref().is_some_and(Path::exists) {
                if let Ok(e) = n.te.suspend(0, now_time()) {
                    n.persist()?;
                    n.history.push(format_args!("suspend"));
                    n.history.commit()?;
                    deadline = Some(Instant::now() + Duration::from_millis(a.failover_ms));
                    n.answer(e.clone());
                    instruction = Some((e, Instant::now()));
                }
            }
        }
        if let Some((e, sent)) = instruction.as_mut() {
            if matches!(n.te.pairs[0].failover, Failover::Draining { .. }) && sent.elapsed() >= rto {
                *sent = Instant::now();
                let e = e.clone();
                n.answer(e);
            }
        }
        // 1306: the timeout.
        if deadline.is_some_and(|d| Instant::now() >= d) && n.te.can_expire(0) && n.te.expire(0).is_ok() {
            expired = true;
        }
        n.reflect()?;
        if !fenced && n.te.pairs[0].failover == Failover::Done {
            fenced = true;
            instruction = None;
            n.persist()?;
            n.history.push(format_args!("fenced {}", if expired { "timeout" } else { "sok" }));
            n.history.commit()?;
        }
    }
    println!("{} rejected_writes={} worst_delay_ms={}", n.net.stats.line("te"), n.rejected_writes, n.worst_delay_ms);
    Ok(())
}

// =============================================================================================
// Proxy
// =============================================================================================

fn run_proxy(a: &ProxyArgs) -> Result<(), NodeError> {
    let mut socks = Vec::new();
    for (listen, _) in &a.links {
        let s = UdpSocket::bind(listen).map_err(net_err("cannot bind a proxy link"))?;
        s.set_nonblocking(true).map_err(net_err("cannot make the socket non-blocking"))?;
        let _ = rustix::net::sockopt::set_socket_recv_buffer_size(&s, 4 << 20);
        let _ = rustix::net::sockopt::set_socket_send_buffer_size(&s, 4 << 20);
        socks.push(s);
    }
    let mut rngs: Vec<Rng> =
        (0..a.links.len() as u64).map(|k| Rng(a.seed ^ (k + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15))).collect();
    // Datagrams held back: (release time, arrival number, link, bytes), released in order.
    let mut held: Vec<(Instant, u64, usize, Vec<u8>)> = Vec::new();
    let mut arrivals = 0u64;
    let (mut forwarded, mut dropped, mut duplicated, mut reordered) = (0u64, 0u64, 0u64, 0u64);
    let mut buf = vec![0u8; 65536];
    let mut stop = Stop::new(&a.stop_file);
    loop {
        if stop.now() {
            break;
        }
        let now = Instant::now();
        let wait = held.iter().map(|h| h.0.saturating_duration_since(now)).min().unwrap_or(Duration::from_millis(10));
        {
            let mut fds: Vec<PollFd<'_>> = socks.iter().map(|s| PollFd::new(s, PollFlags::IN)).collect();
            let ts = Timespec { tv_sec: wait.as_secs() as i64, tv_nsec: i64::from(wait.subsec_nanos()) };
            let _ = rustix::event::poll(&mut fds, Some(&ts));
        }
        for (k, s) in socks.iter().enumerate() {
            loop {
                let n = match s.recv_from(&mut buf) {
                    Ok((n, _)) => n,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(_) => continue,
                };
                let rng = &mut rngs[k];
                if rng.chance(a.loss) {
                    dropped += 1;
                    continue;
                }
                let copies = if rng.chance(a.dup) {
                    duplicated += 1;
                    2
                } else {
                    1
                };
                for _ in 0..copies {
                    let mut delay = Duration::from_micros(rng.below(a.delay_ms * 1000 + 1));
                    if rng.chance(a.reorder) {
                        reordered += 1;
                        delay += Duration::from_micros(500 + rng.below(2000 + a.delay_ms * 2000));
                    }
                    arrivals += 1;
                    held.push((Instant::now() + delay, arrivals, k, buf[..n].to_vec()));
                }
            }
        }
        let now = Instant::now();
        held.sort_by_key(|h| (h.0, h.1));
        let due = held.iter().take_while(|h| h.0 <= now).count();
        for (_, _, k, bytes) in held.drain(..due) {
            let _ = socks[k].send_to(&bytes, a.links[k].1);
            forwarded += 1;
        }
    }
    println!(
        "stats proxy forwarded={forwarded} dropped={dropped} duplicated={duplicated} reordered={reordered} held={}",
        held.len()
    );
    Ok(())
}

// =============================================================================================
// Writer: SS and its host
// =============================================================================================

/// The answers SE sent on one connection, read by a thread of their own.
/// An answer of SE: its tag, the write, why it was refused.
type Answer = (u8, u32, u8);

fn answers(mut stream: TcpStream, tx: mpsc::Sender<Answer>) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let k = match stream.read(&mut chunk) {
            Ok(0) | Err(_) => return,
            Ok(k) => k,
        };
        buf.extend_from_slice(&chunk[..k]);
        let mut at = 0;
        while let Some(&tag) = buf.get(at) {
            let len = if tag == MSG_REFUSED { 6 } else { 5 };
            let Some(m) = buf.get(at..at + len) else { break };
            let w = u32::from_be_bytes([m[1], m[2], m[3], m[4]]);
            let why = if tag == MSG_REFUSED { m[5] } else { 0 };
            if tx.send((tag, w, why)).is_err() {
                return;
            }
            at += len;
        }
        buf.drain(..at);
    }
}

fn run_writer(a: &WriterArgs) -> Result<(), NodeError> {
    if u32::from(a.blocks) > a.volume_blocks {
        return Err(NodeError::Bad("--blocks exceeds --volume-blocks".into()));
    }
    let mut log = match &a.log {
        Some(p) => Some(Log::open(p)?),
        None => None,
    };
    let mut rng = Rng(a.seed);
    let timeout = Duration::from_millis(a.timeout_ms);
    let end = a.first.saturating_add(a.writes);
    let mut next = a.first;
    // Refused because SE's log was full: sent again.
    let mut retry: Vec<u32> = Vec::new();
    let mut outstanding: HashSet<u32> = HashSet::new();
    let mut extent: HashMap<u32, u32> = HashMap::new();
    let (mut acked, mut refused, mut abandoned) = (0u64, 0u64, 0u64);
    let mut data = vec![0u8; usize::from(a.blocks) * BLOCK];
    let mut msg = Vec::with_capacity(WR_HEADER + data.len());
    let t0 = Instant::now();
    let mut conn: Option<(TcpStream, mpsc::Receiver<Answer>)> = None;
    let mut last_progress = Instant::now();
    let note = |log: &mut Option<Log>, line: std::fmt::Arguments<'_>| {
        if let Some(l) = log.as_mut() {
            l.push(line);
        }
    };
    while next < end || !outstanding.is_empty() || !retry.is_empty() {
        if last_progress.elapsed() > timeout {
            return Err(NodeError::Bad(format!("no progress with SE for {} ms", a.timeout_ms)));
        }
        let Some((stream, rx)) = conn.as_mut() else {
            match TcpStream::connect_timeout(&a.se, Duration::from_millis(200)) {
                Ok(s) => {
                    let _ = s.set_nodelay(true);
                    let (tx, rx) = mpsc::channel();
                    let reader = s.try_clone().map_err(net_err("cannot clone the connection"))?;
                    std::thread::spawn(move || answers(reader, tx));
                    conn = Some((s, rx));
                }
                Err(_) => std::thread::sleep(Duration::from_millis(5)),
            }
            continue;
        };
        let mut broken = false;
        // Send while the window has room.
        while outstanding.len() < a.window as usize && (next < end || !retry.is_empty()) {
            let w = match (!retry.is_empty()).then(|| retry.remove(0)) {
                Some(w) => w,
                None => {
                    let w = next;
                    next += 1;
                    let block = rng.below(u64::from(a.volume_blocks - u32::from(a.blocks)) + 1) as u32;
                    extent.insert(w, block);
                    note(&mut log, format_args!("issued {w} {block} {}", a.blocks));
                    w
                }
            };
            let block = extent.get(&w).copied().unwrap_or(0);
            for (i, b) in data.chunks_exact_mut(BLOCK).enumerate() {
                fill_block(w, i as u32, b);
            }
            msg.clear();
            msg.push(MSG_WR);
            msg.extend_from_slice(&w.to_be_bytes());
            msg.extend_from_slice(&block.to_be_bytes());
            msg.extend_from_slice(&a.blocks.to_be_bytes());
            msg.extend_from_slice(&(data.len() as u32).to_be_bytes());
            msg.extend_from_slice(&data);
            outstanding.insert(w);
            if stream.write_all(&msg).is_err() {
                broken = true;
                break;
            }
            if a.pace_us > 0 {
                std::thread::sleep(Duration::from_micros(a.pace_us));
            }
        }
        if let Some(l) = log.as_mut() {
            l.commit()?;
        }
        if !broken {
            match rx.recv_timeout(Duration::from_millis(50)) {
                Ok(first) => {
                    let mut got = vec![first];
                    got.extend(rx.try_iter());
                    for (tag, w, why) in got {
                        if !outstanding.remove(&w) {
                            continue;
                        }
                        last_progress = Instant::now();
                        match (tag, why) {
                            (MSG_ACK, _) => {
                                acked += 1;
                                note(&mut log, format_args!("acked {w}"));
                            }
                            (_, 1) => {
                                retry.push(w);
                                std::thread::sleep(Duration::from_millis(1));
                            }
                            _ => {
                                refused += 1;
                                note(&mut log, format_args!("refused {w} {why}"));
                            }
                        }
                    }
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => broken = true,
            }
        }
        if broken {
            // SE went away: what it had not answered is abandoned, not sent again.
            for w in outstanding.drain() {
                abandoned += 1;
                note(&mut log, format_args!("abandoned {w}"));
            }
            conn = None;
        }
        if let Some(l) = log.as_mut() {
            l.commit()?;
        }
    }
    if let Some(l) = log.as_mut() {
        l.push(format_args!("done"));
        l.commit()?;
    }
    let secs = t0.elapsed().as_secs_f64();
    println!(
        "writer: {} writes, {acked} acknowledged, {refused} refused, {abandoned} abandoned in {secs:.3} s ({:.0} writes/s, {:.1} MB/s)",
        a.writes,
        acked as f64 / secs,
        acked as f64 * data.len() as f64 / secs / 1e6
    );
    Ok(())
}

// =============================================================================================
// Plain: the benchmark's baseline
// =============================================================================================

/// A plain datagram's header: write id, block, offset in the write, the write's length (u32 BE).
const PLAIN_HEADER: usize = 16;

fn run_plain(a: &PlainArgs) -> Result<(), NodeError> {
    let need = |what: &str| NodeError::Bad(format!("--role needs --{what}"));
    let sock = UdpSocket::bind(a.bind).map_err(net_err("cannot bind the UDP socket"))?;
    sock.set_nonblocking(true).map_err(net_err("cannot make the socket non-blocking"))?;
    let _ = rustix::net::sockopt::set_socket_recv_buffer_size(&sock, 4 << 20);
    let _ = rustix::net::sockopt::set_socket_send_buffer_size(&sock, 4 << 20);
    let listener = match (a.role, a.ss_listen) {
        (PlainRole::Se, Some(l)) => {
            let l = TcpListener::bind(l).map_err(net_err("cannot bind SS's TCP address"))?;
            l.set_nonblocking(true).map_err(net_err("cannot make the listener non-blocking"))?;
            Some(l)
        }
        (PlainRole::Se, None) => return Err(need("ss-listen")),
        _ => None,
    };
    if a.role != PlainRole::Te && a.to.is_none() {
        return Err(need("to"));
    }
    let (vol, mut history) = match (a.role, &a.volume, &a.history) {
        (PlainRole::Te, Some(v), Some(h)) => {
            let f = OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(false)
                .open(v)
                .map_err(io_err("cannot open volume", v))?;
            (Some(f), Some(Log::open(h)?))
        }
        (PlainRole::Te, _, _) => return Err(need("volume and --history")),
        _ => (None, None),
    };
    let mut ss: Option<SsConn> = None;
    let mut got: HashMap<u32, u32> = HashMap::new();
    let (mut frames_in, mut frames_out, mut complete) = (0u64, 0u64, 0u64);
    let mut buf = vec![0u8; 65536];
    let mut chunk = vec![0u8; 1 << 16];
    let mut out = Vec::with_capacity(65536);
    let mut stop = Stop::new(&a.stop_file);
    loop {
        if stop.now() {
            break;
        }
        {
            let mut fds = vec![PollFd::new(&sock, PollFlags::IN)];
            if let Some(l) = &listener {
                fds.push(PollFd::new(l, PollFlags::IN));
            }
            if let Some(c) = &ss {
                fds.push(PollFd::new(&c.stream, PollFlags::IN));
            }
            let ts = Timespec { tv_sec: 0, tv_nsec: 10_000_000 };
            let _ = rustix::event::poll(&mut fds, Some(&ts));
        }
        if let Some((stream, _)) = listener.as_ref().and_then(|l| l.accept().ok()) {
            if stream.set_nonblocking(true).is_ok() {
                let _ = stream.set_nodelay(true);
                ss = Some(SsConn { stream, inbuf: Vec::new(), out: Vec::new() });
            }
        }
        let mut closed = false;
        if let (Some(c), Some(to)) = (ss.as_mut(), a.to) {
            loop {
                match c.stream.read(&mut chunk) {
                    Ok(0) => {
                        closed = true;
                        break;
                    }
                    Ok(k) => c.inbuf.extend_from_slice(&chunk[..k]),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(_) => {
                        closed = true;
                        break;
                    }
                }
            }
            let writes = take_writes(&mut c.inbuf).map_err(NodeError::Bad)?;
            for (w, block, _, data) in writes {
                for (k, piece) in data.chunks(wire::MAX_FRAME_LEN - PLAIN_HEADER).enumerate() {
                    out.clear();
                    out.extend_from_slice(&w.to_be_bytes());
                    out.extend_from_slice(&block.to_be_bytes());
                    out.extend_from_slice(&((k * (wire::MAX_FRAME_LEN - PLAIN_HEADER)) as u32).to_be_bytes());
                    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
                    out.extend_from_slice(piece);
                    if sock.send_to(&out, to).is_ok() {
                        frames_out += 1;
                    }
                }
                c.out.push(MSG_ACK);
                c.out.extend_from_slice(&w.to_be_bytes());
            }
            let _ = c.stream.set_nonblocking(false);
            if c.stream.write_all(&c.out).is_err() {
                closed = true;
            }
            let _ = c.stream.set_nonblocking(true);
            c.out.clear();
        }
        if closed {
            ss = None;
        }
        loop {
            let n = match sock.recv_from(&mut buf) {
                Ok((n, _)) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(_) => continue,
            };
            frames_in += 1;
            if let Some(to) = a.to {
                if sock.send_to(&buf[..n], to).is_ok() {
                    frames_out += 1;
                }
                continue;
            }
            let Some(h) = buf.get(..PLAIN_HEADER) else { continue };
            let word = |k: usize| u32::from_be_bytes([h[4 * k], h[4 * k + 1], h[4 * k + 2], h[4 * k + 3]]);
            let (w, block, offset, total) = (word(0), word(1), word(2), word(3));
            let piece = &buf[PLAIN_HEADER..n];
            if let Some(v) = &vol {
                let at = u64::from(block) * BLOCK as u64 + u64::from(offset);
                v.write_all_at(piece, at)
                    .map_err(io_err("cannot write volume", a.volume.as_deref().unwrap_or(Path::new(""))))?;
            }
            let have = got.entry(w).or_insert(0);
            *have += piece.len() as u32;
            if *have >= total {
                got.remove(&w);
                complete += 1;
                if let Some(l) = history.as_mut() {
                    l.push(format_args!("reflected 0 {w}"));
                }
            }
        }
        if let Some(l) = history.as_mut() {
            l.commit()?;
        }
    }
    println!("stats plain frames_in={frames_in} frames_out={frames_out} complete={complete}");
    Ok(())
}
