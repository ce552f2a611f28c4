//! `relay_bench`: the throughput of the real relay (`relay_node` processes on loopback: a
//! writer as SS, SE, zero to two cores, TE with a file as TS's volume) next to plain UDP between
//! the same processes (`relay_node plain`: the writes' bytes as datagrams through the same
//! places, no log entries, no acknowledgement, no resend, no stored state).
//!
//! For each write size, number of cores and loss rate it measures, as the median of `--reps`
//! runs, the writes TS received whole per second and the MB/s of their data (10^6 bytes a
//! second), from the writer's start to the last write's arrival at TS. With a loss rate, a
//! fault-injecting proxy (`relay_node proxy`) sits on every hop, both directions, for both
//! paths; without one the devices talk directly. The relay delivers every write (it resends);
//! plain UDP delivers what survives, and the table says how much that was.
//!
//! What a relay write costs beyond plain UDP: SE stores its state (the role with every held
//! entry, in postcard, over the older of two slots) once per batch of writes before answering
//! SS and before sending; TE stores its state (without its waiting entries) after every
//! reflection; both with `--sync none` by default (a write, which survives the process's death,
//! not a power cut; `--sync fsync` adds the device's flush to each); each
//! entry is encoded with its CRC-32C and decoded at every device; TE reflects one entry at a
//! time and answers each; SE keeps at most `--inflight` entries unanswered. The bench asserts
//! nothing about speed.
//!
//! ```text
//! relay_bench [--dir DIR] [--reps 3] [--mib 32] [--sizes-kib 4,64] [--cores 0,1,2] [--loss 0,1]
//!             [--window 16] [--inflight 64] [--sync none|fsync]
//! ```

use clap::Parser;
use std::fs;
use std::io::Read;
use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::path::PathBuf;
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

#[derive(Parser)]
#[command(name = "relay_bench", about = "The real relay's throughput next to plain UDP between the same processes")]
struct Cli {
    /// Where the runs' files go (default: the system's temporary directory).
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Runs of each measurement (the median is shown).
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..))]
    reps: u32,
    /// Data written per run, in MiB.
    #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u64).range(1..))]
    mib: u64,
    #[arg(long, value_delimiter = ',', default_value = "4,64")]
    sizes_kib: Vec<u32>,
    #[arg(long, value_delimiter = ',', default_value = "0,1,2")]
    cores: Vec<usize>,
    /// Loss per hop and direction, in percent.
    #[arg(long, value_delimiter = ',', default_value = "0,1")]
    loss: Vec<f64>,
    /// Writes SS has unanswered, at most.
    #[arg(long, default_value_t = 16)]
    window: u32,
    /// Entries SE has sent and not seen answered, at most.
    #[arg(long, default_value_t = 64)]
    inflight: u32,
    /// `none` or `fsync` (see `relay_node`).
    #[arg(long, default_value = "none")]
    sync: String,
    /// The `relay_node` binary (default: next to this one).
    #[arg(long)]
    node: Option<PathBuf>,
}

/// The volume's size in 512-byte blocks (writes land anywhere in it).
const VOLUME_BLOCKS: u32 = 16384;
const SE: u32 = 104;
const TE: u32 = 105;
const CORES: [u32; 2] = [202, 203];

/// One measurement: writes whole at TS, out of how many, in how long.
#[derive(Clone, Copy)]
struct Sample {
    delivered: u64,
    writes: u64,
    secs: f64,
    /// L7: the worst reflection delay TE's 735 recorded in the run, in ms (relay runs only).
    worst_delay_ms: Option<u64>,
}

impl Sample {
    fn per_sec(&self) -> f64 {
        self.delivered as f64 / self.secs
    }
}

struct Bench {
    node: PathBuf,
    dir: PathBuf,
    cli: Cli,
}

/// Free UDP addresses on loopback and a TCP one.
fn free_addrs(n: usize) -> (Vec<SocketAddr>, SocketAddr) {
    let socks: Vec<UdpSocket> = (0..n).map(|_| UdpSocket::bind("127.0.0.1:0").expect("bind a UDP port")).collect();
    let tcp = TcpListener::bind("127.0.0.1:0").expect("bind a TCP port");
    (socks.iter().map(|s| s.local_addr().expect("bound")).collect(), tcp.local_addr().expect("bound"))
}

impl Bench {
    fn spawn(&self, name: &str, args: &[String]) -> Child {
        let out = fs::File::create(self.dir.join(format!("{name}.out"))).expect("create an output file");
        let err = fs::File::create(self.dir.join(format!("{name}.err"))).expect("create an output file");
        Command::new(&self.node)
            .args(args)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .expect("spawn relay_node")
    }

    fn s(&self, name: &str) -> String {
        self.dir.join(name).to_string_lossy().into_owned()
    }

    /// One run: `plain` or the relay, `cores` cores, `loss` percent per hop, writes of `kib`.
    fn run(&self, plain: bool, cores: usize, loss: f64, kib: u32) -> Result<Sample, String> {
        for f in ["se.state", "se.state.1", "te.state", "te.state.1", "se.log", "te.log", "vol", "stop"] {
            let _ = fs::remove_file(self.dir.join(f));
        }
        let devices = cores + 2;
        let proxied = loss > 0.0;
        let (addrs, ss) = free_addrs(devices + if proxied { 2 * (devices - 1) } else { 0 });
        let dev = &addrs[..devices];
        // Where device k sends to reach device k + 1 (forward) and k - 1 (back).
        let fwd = |k: usize| if proxied { addrs[devices + 2 * k] } else { dev[k + 1] };
        let back = |k: usize| if proxied { addrs[devices + 2 * (k - 1) + 1] } else { dev[k - 1] };
        let mut route = vec![SE];
        route.extend(&CORES[..cores]);
        route.push(TE);
        let route_s = route.iter().map(u32::to_string).collect::<Vec<_>>().join(",");
        let stop = self.s("stop");
        let mut children = Vec::new();
        if proxied {
            for h in 0..devices - 1 {
                let args = vec![
                    "proxy".into(),
                    "--link".into(),
                    format!("{}={}", fwd(h), dev[h + 1]),
                    "--link".into(),
                    format!("{}={}", back(h + 1), dev[h]),
                    "--seed".into(),
                    (h as u64 + 1).to_string(),
                    "--loss".into(),
                    (loss / 100.0).to_string(),
                    "--stop-file".into(),
                    stop.clone(),
                ];
                children.push(self.spawn(&format!("proxy{h}"), &args));
            }
        }
        let device = |k: usize| -> Vec<String> {
            let mut a = vec![
                "--bind".into(),
                dev[k].to_string(),
                "--me".into(),
                route[k].to_string(),
                "--route".into(),
                route_s.clone(),
                "--stop-file".into(),
                stop.clone(),
            ];
            if k > 0 {
                a.extend(["--peer".into(), format!("{}={}", route[k - 1], back(k))]);
            }
            if k + 1 < devices {
                a.extend(["--peer".into(), format!("{}={}", route[k + 1], fwd(k))]);
            }
            a
        };
        let sync = self.cli.sync.clone();
        let vb = VOLUME_BLOCKS.to_string();
        if plain {
            let te = [
                "plain",
                "--role",
                "te",
                "--bind",
                &dev[devices - 1].to_string(),
                "--volume",
                &self.s("vol"),
                "--history",
                &self.s("te.log"),
                "--stop-file",
                &stop,
            ];
            children.push(self.spawn("te", &te.map(str::to_owned)));
            for c in 0..cores {
                let a = [
                    "plain",
                    "--role",
                    "fwd",
                    "--bind",
                    &dev[c + 1].to_string(),
                    "--to",
                    &fwd(c + 1).to_string(),
                    "--stop-file",
                    &stop,
                ];
                children.push(self.spawn(&format!("core{c}"), &a.map(str::to_owned)));
            }
            let se = [
                "plain",
                "--role",
                "se",
                "--bind",
                &dev[0].to_string(),
                "--to",
                &fwd(0).to_string(),
                "--ss-listen",
                &ss.to_string(),
                "--stop-file",
                &stop,
            ];
            children.push(self.spawn("se", &se.map(str::to_owned)));
        } else {
            let mut te = vec!["te".to_owned()];
            te.extend(device(devices - 1));
            te.extend(
                [
                    "--state",
                    &self.s("te.state"),
                    "--history",
                    &self.s("te.log"),
                    "--volume",
                    &self.s("vol"),
                    "--volume-blocks",
                    &vb,
                    "--sync",
                    &sync,
                ]
                .map(str::to_owned),
            );
            children.push(self.spawn("te", &te));
            for c in 0..cores {
                let mut a = vec!["core".to_owned()];
                a.extend(device(c + 1));
                children.push(self.spawn(&format!("core{c}"), &a));
            }
            let mut se = vec!["se".to_owned()];
            se.extend(device(0));
            let inflight = self.cli.inflight.to_string();
            se.extend(
                [
                    "--ss-listen",
                    &ss.to_string(),
                    "--state",
                    &self.s("se.state"),
                    "--history",
                    &self.s("se.log"),
                    "--inflight",
                    &inflight,
                    "--sync",
                    &sync,
                ]
                .map(str::to_owned),
            );
            children.push(self.spawn("se", &se));
        }
        std::thread::sleep(Duration::from_millis(100));
        let writes = (self.cli.mib << 20) / (u64::from(kib) << 10);
        let blocks = (kib * 2).to_string();
        let writer = [
            "writer",
            "--se",
            &ss.to_string(),
            "--writes",
            &writes.to_string(),
            "--blocks",
            &blocks,
            "--volume-blocks",
            &vb,
            "--window",
            &self.cli.window.to_string(),
            "--timeout-ms",
            "60000",
        ];
        let t0 = Instant::now();
        let mut w = self.spawn("writer", &writer.map(str::to_owned));
        // Count the writes TS has whole, from TE's log, until all or no progress for 2 s.
        let mut log: Option<fs::File> = None;
        let (mut count, mut last, mut carry) = (0u64, t0, String::new());
        let mut buf = vec![0u8; 1 << 16];
        while count < writes && last.elapsed() < Duration::from_secs(2) {
            std::thread::sleep(Duration::from_micros(500));
            if log.is_none() {
                log = fs::File::open(self.dir.join("te.log")).ok();
            }
            let Some(f) = log.as_mut() else { continue };
            let n = f.read(&mut buf).unwrap_or(0);
            if n == 0 {
                continue;
            }
            carry.push_str(&String::from_utf8_lossy(&buf[..n]));
            let cut = carry.rfind('\n').map_or(0, |i| i + 1);
            let seen = carry[..cut].lines().filter(|l| l.starts_with("reflected ")).count() as u64;
            carry.drain(..cut);
            if seen > 0 {
                count += seen;
                last = Instant::now();
            }
        }
        let secs = last.duration_since(t0).as_secs_f64();
        let _ = fs::write(self.dir.join("stop"), b"");
        let deadline = Instant::now() + Duration::from_secs(10);
        for c in children.iter_mut().chain(std::iter::once(&mut w)) {
            while c.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(5));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
        if count == 0 {
            return Err(format!("nothing arrived (see {})", self.dir.display()));
        }
        if !plain && count < writes {
            return Err(format!("the relay delivered {count} of {writes} writes (see {})", self.dir.display()));
        }
        // TE's stats line, printed as it stopped: `... worst_delay_ms=N`.
        let worst_delay_ms = fs::read_to_string(self.dir.join("te.out")).ok().and_then(|out| {
            out.split_whitespace().find_map(|w| w.strip_prefix("worst_delay_ms=").and_then(|v| v.parse().ok()))
        });
        Ok(Sample { delivered: count, writes, secs, worst_delay_ms })
    }

    fn median(&self, plain: bool, cores: usize, loss: f64, kib: u32) -> Result<Sample, String> {
        let mut samples = Vec::new();
        for _ in 0..self.cli.reps {
            samples.push(self.run(plain, cores, loss, kib)?);
        }
        samples.sort_by(|a, b| a.per_sec().total_cmp(&b.per_sec()));
        Ok(samples[samples.len() / 2])
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let node = match &cli.node {
        Some(p) => p.clone(),
        None => match std::env::current_exe() {
            Ok(p) => p.with_file_name("relay_node"),
            Err(e) => {
                eprintln!("relay_bench: cannot find relay_node: {e}");
                return ExitCode::from(1);
            }
        },
    };
    if !node.exists() {
        eprintln!(
            "relay_bench: no relay_node at {} (build it: cargo build --release -p rcopy-tests --bin relay_node)",
            node.display()
        );
        return ExitCode::from(1);
    }
    if cli.sync != "none" && cli.sync != "fsync" {
        eprintln!("relay_bench: --sync is none or fsync");
        return ExitCode::from(2);
    }
    let dir = cli.dir.clone().unwrap_or_else(std::env::temp_dir).join(format!("relay-bench-{}", std::process::id()));
    if let Err(e) = fs::create_dir_all(&dir) {
        eprintln!("relay_bench: cannot create {}: {e}", dir.display());
        return ExitCode::from(1);
    }
    let b = Bench { node, dir: dir.clone(), cli };
    println!(
        "relay_bench: {} MiB per run, median of {} runs, window {}, SE in flight {}, state sync {}",
        b.cli.mib, b.cli.reps, b.cli.window, b.cli.inflight, b.cli.sync
    );
    println!(
        "{:>5} {:>5} {:>5} | {:>12} {:>8} {:>10} | {:>12} {:>8} {:>9} | {:>7}",
        "write", "cores", "loss", "relay ent/s", "MB/s", "L7 max ms", "plain ent/s", "MB/s", "delivered", "ratio"
    );
    println!("(L7 max ms: the worst reflection delay TE's 735 recorded in the median run, SE's I/O time to TS's answer)");
    for &kib in &b.cli.sizes_kib {
        for &cores in &b.cli.cores {
            for &loss in &b.cli.loss {
                let relay = b.median(false, cores, loss, kib);
                let plain = b.median(true, cores, loss, kib);
                let mb = |s: &Sample| s.per_sec() * f64::from(kib) * 1024.0 / 1e6;
                match (relay, plain) {
                    (Ok(r), Ok(p)) => println!(
                        "{:>4}K {:>5} {:>4}% | {:>12.0} {:>8.1} {:>10} | {:>12.0} {:>8.1} {:>8.1}% | {:>6.1}%",
                        kib,
                        cores,
                        loss,
                        r.per_sec(),
                        mb(&r),
                        r.worst_delay_ms.map_or("-".into(), |d| d.to_string()),
                        p.per_sec(),
                        mb(&p),
                        100.0 * p.delivered as f64 / p.writes as f64,
                        100.0 * r.per_sec() / p.per_sec()
                    ),
                    (r, p) => println!("{kib:>4}K {cores:>5} {loss:>4}% | relay: {:?} plain: {:?}", r.err(), p.err()),
                }
            }
        }
    }
    let _ = fs::remove_dir_all(&dir);
    ExitCode::SUCCESS
}
