//! The journal protocol of seed 003 on a real, file-backed intermediate: `journal_node`
//! processes (P's writer, S's reader and drain) around a file, killed, corrupted and judged.
//!
//! The judge is the history form of the note's properties, `rcopy_model::journal::history`:
//! the writer's log gives the journaled writes (`issued`) and the acknowledged ones (`acked`),
//! S's log the applied ones, and S's volume, block by block, which write each block holds (the
//! block contents name their write and index, see `journal_node`). S1: every acknowledged write
//! is applied once the drain is over; S3: the volume is the image of a prefix of the writes in
//! id order; S4: no id applied that was never written, none twice, ids in order.
//!
//! - `sigkill_cycles`: `RCOPY_KILLS` cycles (default 200) of format, writer (and usually a
//!   concurrent reader), `SIGKILL` of the writer at a random moment, drain, judge. The seed is
//!   `RCOPY_SEED` (default fixed) and is printed on failure. The 10,000-cycle run is
//!   `RCOPY_KILLS=10000 cargo test --release -p rcopy-tests --test journal_file sigkill -- --nocapture`.
//! - `torn_and_stale_journals_stop_the_drain`: a clean run, then a flipped byte, a zeroed
//!   trailer, a truncated file, a torn journal, an old lap's journal over a slot; the drain must
//!   apply exactly the journals before the damage.
//! - `garbage_files_fail_cleanly`: random or cut files make the nodes exit 1 with one line.
//! - `one_writer_per_area`: S may not write 631 or the ring; a second P is refused.
//! - `seeded_faults_are_caught`: with seeded faults of the roles (`journal_node --fault`), the
//!   same judge reports the property each fault breaks.
//! - `clean_run_replicates_every_write`: without failures, S's volume ends equal to P's.

use rcopy::journal::file::{FileError, Intermediate, Region, UNIT};
use rcopy::journal::format::CONTROL_AREA;
use rcopy::journal::{ControlInfo, Owner, Pos};
use rcopy_model::journal::history::{check_history, History, Write};
use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

const NODE: &str = env!("CARGO_BIN_EXE_journal_node");
const BLOCK: usize = 512;
/// A volume block that holds no block of any write at its address.
const GARBAGE: u32 = u32::MAX;

// =============================================================================================
// Helpers
// =============================================================================================

/// A scratch directory under cargo's target tmp dir; removed unless the test failed.
struct Dir(PathBuf);

impl Dir {
    fn new(name: &str) -> Dir {
        let p = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("journal-file-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&p);
        fs::create_dir_all(&p).unwrap();
        Dir(p)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }

    fn s(&self, name: &str) -> String {
        self.path(name).to_string_lossy().into_owned()
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("files kept in {}", self.0.display());
        } else {
            let _ = fs::remove_dir_all(&self.0);
        }
    }
}

fn node(args: &[&str]) -> Output {
    Command::new(NODE).args(args).output().expect("run journal_node")
}

/// Run a node that must succeed; returns its stdout.
fn node_ok(args: &[&str]) -> String {
    let out = node(args);
    assert!(out.status.success(), "journal_node {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Spawn a node with its stdout and stderr in files of `dir` named after `name`.
fn spawn(dir: &Dir, name: &str, args: &[&str]) -> Child {
    let out = fs::File::create(dir.path(&format!("{name}.out"))).unwrap();
    let err = fs::File::create(dir.path(&format!("{name}.err"))).unwrap();
    Command::new(NODE).args(args).stdin(Stdio::null()).stdout(out).stderr(err).spawn().expect("spawn journal_node")
}

fn wait_for(child: &mut Child, limit: Duration) -> ExitStatus {
    let t0 = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if t0.elapsed() > limit {
            let _ = child.kill();
            panic!("a journal_node did not finish within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

fn splitmix(x: &mut u64) -> u64 {
    *x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *x;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        splitmix(&mut self.0) % n
    }
}

/// The block and write a volume block names, if it is one of `journal_node`'s blocks (the
/// same layout as its `fill_block`, checked independently here).
fn decode_block(b: &[u8]) -> Option<(u32, u32)> {
    let word = |k: usize| u32::from_le_bytes(b[4 * k..4 * k + 4].try_into().unwrap());
    if &b[..4] != b"RCVB" {
        return None;
    }
    let (id, index) = (word(1), word(2));
    if word(3) != id.rotate_left(16) ^ index ^ 0x9e37_79b9 {
        return None;
    }
    let mut expected = [0u8; BLOCK];
    fill_block(id, index, &mut expected);
    (b == expected).then_some((id, index))
}

/// One journaled write, from the writer's log.
#[derive(Clone, Copy, Debug)]
struct Issued {
    id: u32,
    addr: u32,
    blocks: u32,
}

/// The writer's log: issued writes in order, and acknowledged ids.
fn writer_log(path: &Path) -> (Vec<Issued>, Vec<u32>) {
    let text = fs::read_to_string(path).unwrap_or_default();
    let (mut issued, mut acked) = (Vec::new(), Vec::new());
    for line in text.lines() {
        let f: Vec<&str> = line.split(' ').collect();
        let n = |k: usize| f[k].parse::<u32>().unwrap_or_else(|_| panic!("bad writer log line {line:?}"));
        match f[0] {
            "issued" if f.len() == 4 => issued.push(Issued { id: n(1), addr: n(2), blocks: n(3) }),
            "acked" if f.len() == 2 => acked.push(n(1)),
            "done" | "suspended" => {}
            _ => panic!("bad writer log line {line:?}"),
        }
    }
    (issued, acked)
}

/// S's log: applied ids in order, with the digest of the data S applied from each.
fn s_log(path: &Path) -> Vec<(u32, u64)> {
    let text = fs::read_to_string(path).unwrap_or_default();
    text.lines()
        .map(|line| {
            let f: Vec<&str> = line.split(' ').collect();
            match f[..] {
                ["applied", id, digest] => (
                    id.parse().unwrap_or_else(|_| panic!("bad S log line {line:?}")),
                    u64::from_str_radix(digest, 16).unwrap_or_else(|_| panic!("bad S log line {line:?}")),
                ),
                _ => panic!("bad S log line {line:?}"),
            }
        })
        .collect()
}

fn applied_log(path: &Path) -> Vec<u32> {
    s_log(path).into_iter().map(|(id, _)| id).collect()
}

/// FNV-1a over the data P wrote for `w` (the node's digest of what S applied).
fn digest(w: &Issued) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325u64;
    let mut block = [0u8; BLOCK];
    for index in 0..w.blocks {
        fill_block(w.id, index, &mut block);
        for &b in &block {
            h = (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    h
}

/// The contents `journal_node` gives block `index` of write `id` (its `fill_block`, rewritten
/// here so that the judge does not trust the code it judges).
fn fill_block(id: u32, index: u32, out: &mut [u8; BLOCK]) {
    out[..4].copy_from_slice(b"RCVB");
    out[4..8].copy_from_slice(&id.to_le_bytes());
    out[8..12].copy_from_slice(&index.to_le_bytes());
    out[12..16].copy_from_slice(&(id.rotate_left(16) ^ index ^ 0x9e37_79b9).to_le_bytes());
    let mut x = ((u64::from(id) << 32) | u64::from(index)) ^ 0x2545_f491_4f6c_dd1d;
    for w in out[16..].chunks_exact_mut(8) {
        w.copy_from_slice(&splitmix(&mut x).to_le_bytes());
    }
}

/// S4 byte for byte: every journal S applied carried exactly the data P wrote for that id.
fn check_digests(issued: &[Issued], slog: &Path) -> Result<(), String> {
    let by_id: BTreeMap<u32, Issued> = issued.iter().map(|w| (w.id, *w)).collect();
    for (id, d) in s_log(slog) {
        if by_id.get(&id).is_some_and(|w| digest(w) != d) {
            return Err(format!("S4 violated by write {id}: S applied data that P did not write for it"));
        }
    }
    Ok(())
}

/// S's volume, block by block: 0 for a block never written, the write's id for a block of a
/// write at its place, [`GARBAGE`] otherwise.
fn volume_ids(path: &Path, blocks: usize, issued: &[Issued]) -> Vec<u32> {
    let mut bytes = fs::read(path).unwrap_or_default();
    assert!(bytes.len() <= blocks * BLOCK, "S's volume grew past its {blocks} blocks");
    bytes.resize(blocks * BLOCK, 0);
    let by_id: BTreeMap<u32, Issued> = issued.iter().map(|w| (w.id, *w)).collect();
    bytes
        .chunks_exact(BLOCK)
        .enumerate()
        .map(|(b, block)| {
            if block.iter().all(|&x| x == 0) {
                return 0;
            }
            match decode_block(block).and_then(|(id, index)| Some((by_id.get(&id)?, index))) {
                Some((w, index)) if index < w.blocks && w.addr as usize + index as usize == b => w.id,
                _ => GARBAGE,
            }
        })
        .collect()
}

/// The files of one run.
struct Files {
    i: PathBuf,
    wlog: PathBuf,
    svol: PathBuf,
    slog: PathBuf,
}

impl Files {
    fn new(dir: &Dir) -> Files {
        Files { i: dir.path("I"), wlog: dir.path("w.log"), svol: dir.path("S.vol"), slog: dir.path("s.log") }
    }

    /// Remove S's and the writer's files (and S's checkpoint).
    fn reset(&self) {
        for p in [&self.wlog, &self.svol, &self.slog] {
            let _ = fs::remove_file(p);
        }
        let _ = fs::remove_file(format!("{}.ckpt", self.svol.display()));
    }

    /// The history of the run; `acked_upto` drops acknowledgements of ids above it (the writes
    /// a test destroyed on I itself, where S1's premise, "only P fails", does not hold).
    fn history(&self, volume_blocks: usize, drained: bool, acked_upto: u32) -> History<u32> {
        let (issued, acked) = writer_log(&self.wlog);
        let volume = volume_ids(&self.svol, volume_blocks, &issued);
        History {
            initial: vec![0; volume_blocks],
            issued: issued.iter().map(|w| Write { id: w.id, addr: w.addr, blocks: w.blocks, value: w.id }).collect(),
            acked: acked.into_iter().filter(|&id| id <= acked_upto).collect(),
            applied: applied_log(&self.slog),
            drained,
            volume,
        }
    }

    /// Judge the run: S4 by the digests, then [`check_history`].
    fn judge(&self, h: &History<u32>) -> Result<(), String> {
        check_digests(&writer_log(&self.wlog).0, &self.slog)?;
        check_history(h).map_err(|v| v.to_string())
    }

    fn drain(&self) -> String {
        node_ok(&["drain", &s(&self.i), "--volume", &s(&self.svol), "--log", &s(&self.slog)])
    }
}

fn s(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

/// The exact image of the writes `..=upto` (ids), in id order, on a zeroed volume.
fn image(issued: &[Issued], blocks: usize, upto: u32) -> Vec<u32> {
    let mut v = vec![0; blocks];
    for w in issued.iter().filter(|w| w.id <= upto) {
        v[w.addr as usize..(w.addr + w.blocks) as usize].fill(w.id);
    }
    v
}

// =============================================================================================
// SIGKILL cycles
// =============================================================================================

const VOLUME_BLOCKS: usize = 64;

/// What one kill cycle saw.
#[derive(Default)]
struct Seen {
    acked: usize,
    applied: usize,
    by_drain: usize,
    unacked_applied: usize,
    with_reader: usize,
    wrapped: usize,
}

/// The files of the kill cycles and the faults to seed.
struct Cycles<'a> {
    dir: &'a Dir,
    f: Files,
    writer_faults: &'a [&'a str],
    drain_faults: &'a [&'a str],
    /// Fixed writer settings (ring units, in flight, flush) instead of random ones.
    fixed: Option<(u32, u64, &'a str)>,
}

impl Cycles<'_> {
    /// Format, start a writer (and, 4 times in 5, a reader), `SIGKILL` the writer after a
    /// random delay, stop the reader, drain, judge.
    fn run(&self, rng: &mut Rng, seen: &mut Seen) -> Result<(), String> {
        let (dir, f) = (self.dir, &self.f);
        let stop = dir.path("STOP");
        f.reset();
        let _ = fs::remove_file(&stop);
        let (q, inflight, flush) = self.fixed.unwrap_or_else(|| {
            let q = [40u32, 64, 96, 160][rng.below(4) as usize];
            (q, 1 + rng.below(6), ["none", "none", "batch", "journal"][rng.below(4) as usize])
        });
        node_ok(&["format", &s(&f.i), "--queue-units", &q.to_string()]);
        let reader = rng.below(5) != 0;
        let (inflight, wseed, vb) = (inflight.to_string(), rng.below(1 << 40).to_string(), VOLUME_BLOCKS.to_string());
        #[rustfmt::skip]
        let mut args = vec![
            "writer", &s(&f.i), "--volume", &dir.s("P.vol"), "--log", &s(&f.wlog), "--writes", "1000000",
            "--seed", &wseed, "--volume-blocks", &vb, "--max-blocks", "8", "--inflight", &inflight,
            "--flush", flush, "--publish-ms", "1",
        ].into_iter().map(String::from).collect::<Vec<_>>();
        args.extend(self.writer_faults.iter().flat_map(|b| ["--fault".to_string(), b.to_string()]));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let mut writer = spawn(dir, "writer", &args);
        let mut reader = reader.then(|| {
            seen.with_reader += 1;
            #[rustfmt::skip]
            let r = spawn(dir, "reader", &[
                "reader", &s(&f.i), "--volume", &s(&f.svol), "--log", &s(&f.slog),
                "--stop-file", &s(&stop), "--poll-ms", "1",
            ]);
            r
        });
        std::thread::sleep(Duration::from_micros(rng.below(25_000)));
        writer.kill().unwrap(); // SIGKILL
        writer.wait().unwrap();
        if let Some(r) = reader.as_mut() {
            fs::write(&stop, b"").unwrap();
            let status = wait_for(r, Duration::from_secs(30));
            let err = fs::read_to_string(dir.path("reader.err")).unwrap_or_default();
            assert!(status.success(), "the reader failed: {err}");
        }
        let before = applied_log(&f.slog).len();
        let mut drain = vec!["drain".to_string(), s(&f.i), "--volume".into(), s(&f.svol), "--log".into(), s(&f.slog)];
        drain.extend(self.drain_faults.iter().flat_map(|b| ["--fault".to_string(), b.to_string()]));
        node_ok(&drain.iter().map(String::as_str).collect::<Vec<_>>());
        let h = f.history(VOLUME_BLOCKS, true, u32::MAX);
        f.judge(&h)?;
        seen.acked += h.acked.len();
        seen.applied += h.applied.len();
        seen.unacked_applied += h.applied.iter().filter(|id| !h.acked.contains(id)).count();
        seen.by_drain += h.applied.len() - before;
        let units: u32 = writer_log(&f.wlog).0.iter().filter(|w| h.applied.contains(&w.id)).map(|w| w.blocks + 2).sum();
        seen.wrapped += usize::from(units > q);
        Ok(())
    }
}

fn cycle_rng(seed: u64, cycle: u32) -> Rng {
    Rng(seed ^ u64::from(cycle).wrapping_mul(0x2545_f491_4f6c_dd1d))
}

#[test]
fn sigkill_cycles() {
    let kills: u32 = std::env::var("RCOPY_KILLS").ok().and_then(|v| v.parse().ok()).unwrap_or(200);
    let seed: u64 = std::env::var("RCOPY_SEED").ok().and_then(|v| v.parse().ok()).unwrap_or(0x5eed_0003);
    let dir = Dir::new("kill");
    let cycles = Cycles { dir: &dir, f: Files::new(&dir), writer_faults: &[], drain_faults: &[], fixed: None };
    let mut seen = Seen::default();
    let t0 = Instant::now();
    for cycle in 0..kills {
        if let Err(v) = cycles.run(&mut cycle_rng(seed, cycle), &mut seen) {
            panic!("cycle {cycle} (RCOPY_SEED={seed}, RCOPY_KILLS={kills}): {v}");
        }
    }
    let secs = t0.elapsed().as_secs_f64();
    println!(
        "{kills} SIGKILL cycles in {secs:.1} s ({:.1} kills/s), seed {seed}: {} with a concurrent reader, \
         {} past a ring wrap; {} writes acknowledged, {} applied ({} by the drain, {} never acknowledged)",
        f64::from(kills) / secs,
        seen.with_reader,
        seen.wrapped,
        seen.acked,
        seen.applied,
        seen.by_drain,
        seen.unacked_applied
    );
    if kills >= 50 {
        assert!(
            seen.acked > 0 && seen.by_drain > 0 && seen.unacked_applied > 0 && seen.wrapped > 0,
            "the cycles covered too little"
        );
    }
}

// =============================================================================================
// Torn and stale journals
// =============================================================================================

/// A clean writer run of `n` journals (no S, no wrap) and where its journals are.
struct Pristine {
    bytes: Vec<u8>,
    wlog: Vec<u8>,
    issued: Vec<Issued>,
    /// Unit of the first byte of each journal (index k - 1 for id k), and its units.
    pos: Vec<usize>,
    units: Vec<usize>,
    ring: usize,
}

impl Pristine {
    fn new(dir: &Dir, f: &Files, n: u32) -> Pristine {
        node_ok(&["format", &s(&f.i), "--queue-units", "512"]);
        #[rustfmt::skip]
        node_ok(&[
            "writer", &s(&f.i), "--volume", &dir.s("P.vol"), "--log", &s(&f.wlog), "--writes", &n.to_string(),
            "--seed", "3", "--volume-blocks", "64", "--max-blocks", "8", "--publish-ms", "60000",
        ]);
        let (issued, acked) = writer_log(&f.wlog);
        assert_eq!(acked, (1..=n).collect::<Vec<_>>());
        let units: Vec<usize> = issued.iter().map(|w| w.blocks as usize + 2).collect();
        let pos = units.iter().scan(0, |at, u| Some(std::mem::replace(at, *at + u))).collect();
        let ring = Intermediate::open(&f.i, Owner::Secondary(0)).unwrap().layout().ring as usize;
        Pristine { bytes: fs::read(&f.i).unwrap(), wlog: fs::read(&f.wlog).unwrap(), issued, pos, units, ring }
    }

    /// The byte offset of unit `unit` in the file.
    fn at(&self, unit: usize) -> usize {
        self.ring + unit * UNIT
    }

    /// The bytes of journal `k` (its id).
    fn journal(&self, k: usize) -> Vec<u8> {
        self.bytes[self.at(self.pos[k - 1])..self.at(self.pos[k - 1] + self.units[k - 1])].to_vec()
    }

    /// The unit after the last journal.
    fn end(&self) -> usize {
        self.pos.last().unwrap() + self.units.last().unwrap()
    }

    /// Damage a copy of the run's file, drain it with S's `faults` from scratch; returns the
    /// drain's output and the history with acknowledgements up to `acked_upto`.
    fn drain(
        &self,
        f: &Files,
        damage: &dyn Fn(&mut Vec<u8>),
        faults: &[&str],
        acked_upto: u32,
    ) -> (String, History<u32>) {
        f.reset();
        let mut bytes = self.bytes.clone();
        damage(&mut bytes);
        fs::write(&f.i, &bytes).unwrap();
        fs::write(&f.wlog, &self.wlog).unwrap();
        let mut args = vec!["drain".to_string(), s(&f.i), "--volume".into(), s(&f.svol), "--log".into(), s(&f.slog)];
        args.extend(faults.iter().flat_map(|b| ["--fault".to_string(), b.to_string()]));
        let out = node_ok(&args.iter().map(String::as_str).collect::<Vec<_>>());
        (out, f.history(64, true, acked_upto))
    }
}

#[test]
fn torn_and_stale_journals_stop_the_drain() {
    let dir = Dir::new("torn");
    let f = Files::new(&dir);
    let n = 24u32;
    let p = Pristine::new(&dir, &f, n);
    let j = 10usize;
    let (pj, uj) = (p.pos[j - 1], p.units[j - 1]);
    let (at_j, at_half, at_end) = (p.at(pj), p.at(pj + uj / 2), p.at(pj + uj));
    let (data, trailer) = (p.at(pj + 1), p.at(pj + uj - 1));
    let (old, later, first, next) = (p.journal(3), p.journal(12), p.journal(1), p.at(p.end()));
    type Damage<'a> = Box<dyn Fn(&mut Vec<u8>) + 'a>;
    let cases: Vec<(&str, u32, Damage)> = vec![
        ("a flipped byte in a data block", 9, Box::new(|b| b[data + 100] ^= 0x40)),
        ("a flipped byte of a data block's protection data", 9, Box::new(|b| b[data + BLOCK + 5] ^= 1)),
        ("a flipped byte in the header", 9, Box::new(|b| b[at_j + 20] ^= 0x01)),
        ("a zeroed trailer", 9, Box::new(|b| b[trailer..at_end].fill(0))),
        ("a torn journal (its second half never written)", 9, Box::new(|b| b[at_half..at_end].fill(0))),
        ("the file truncated inside the journal", 9, Box::new(|b| b.truncate(at_half + 100))),
        ("an old lap's journal over its slot", 9, Box::new(|b| b[at_j..at_j + old.len()].copy_from_slice(&old))),
        ("a later journal over its slot", 9, Box::new(|b| b[at_j..at_j + later.len()].copy_from_slice(&later))),
        ("an old lap's journal at the next slot", n, Box::new(|b| b[next..next + first.len()].copy_from_slice(&first))),
    ];
    for (what, expect, damage) in &cases {
        let (out, h) = p.drain(&f, damage, &[], *expect);
        assert_eq!(h.applied, (1..=*expect).collect::<Vec<_>>(), "{what}: {out}");
        if let Err(v) = f.judge(&h) {
            panic!("{what}: {v}");
        }
        assert_eq!(h.volume, image(&p.issued, 64, *expect), "{what}: the volume holds more than journals ..={expect}");
        let stop = if *expect == n { p.end() } else { pj };
        assert!(out.contains(&format!("stopped at position {stop}")), "{what}: {out}");
    }
}

// =============================================================================================
// The judge catches the seeded faults
// =============================================================================================

/// Each seeded fault that the file runtime can reach makes the judge report its property:
/// B2 (the drain stops at 631's end), B7 (no id check: an old lap applied), B8 (only the header
/// checked: a torn journal applied) deterministically, and B1 (acknowledged before written)
/// and B3 (acknowledged out of id order) within some kill cycles.
#[test]
fn seeded_faults_are_caught() {
    let dir = Dir::new("faults");
    let f = Files::new(&dir);
    let n = 24u32;
    let p = Pristine::new(&dir, &f, n);
    let judged = |h: &History<u32>| f.judge(h).map_err(|v| v[..2].to_string());
    // B2: P died before publishing the tail (631 as formatted: both of its slots, or the slot
    // not overwritten would still show a record P published); the drain must scan past it.
    let formatted_631 = {
        let g = Files::new(&dir);
        let fresh = dir.path("fresh");
        node_ok(&["format", &s(&fresh), "--queue-units", "512"]);
        let l = Intermediate::open(&fresh, Owner::Secondary(0)).unwrap().layout().clone();
        let at = l.primary_control as usize;
        drop(g);
        (at, fs::read(&fresh).unwrap()[at..at + CONTROL_AREA].to_vec())
    };
    let unpublished =
        |b: &mut Vec<u8>| b[formatted_631.0..formatted_631.0 + CONTROL_AREA].copy_from_slice(&formatted_631.1);
    let (_, h) = p.drain(&f, &unpublished, &[], n);
    assert_eq!(judged(&h), Ok(()), "without the fault, the drain scans past 631's end");
    assert_eq!(h.applied.len(), n as usize);
    let (_, h) = p.drain(&f, &unpublished, &["B2"], n);
    assert_eq!(judged(&h), Err("S1".into()), "B2");
    // B7: an old lap's journal after the last one.
    let (first, next) = (p.journal(1), p.at(p.end()));
    let (_, h) = p.drain(&f, &|b| b[next..next + first.len()].copy_from_slice(&first), &["B7"], n);
    assert_eq!(judged(&h), Err("S4".into()), "B7");
    // B8: a flipped byte in a data block, of journal 10 (S4 by the digest, whether or not a
    // later write covers the block) and of the last journal (S3 too: the volume shows it).
    for (k, property) in [(10, "S4"), (n as usize, "S4")] {
        let data = p.at(p.pos[k - 1] + 1);
        let (_, h) = p.drain(&f, &|b| b[data + 100] ^= 0x40, &["B8"], k as u32 - 1);
        assert_eq!(judged(&h), Err(property.into()), "B8, journal {k}");
        if k == n as usize {
            assert_eq!(check_history(&h).map_err(|v| v.property), Err("S3"), "B8, the last journal");
        }
    }

    // B1 and B3 need a kill inside a batch: many journals in flight, each flushed. Without a
    // fault, the same cycles pass.
    let fixed = Some((2048, 64, "journal"));
    let control = Cycles { dir: &dir, f: Files::new(&dir), writer_faults: &[], drain_faults: &[], fixed };
    for cycle in 0..5 {
        control.run(&mut cycle_rng(77, cycle), &mut Seen::default()).unwrap();
    }
    for fault in ["B1", "B3"] {
        let cycles = Cycles { dir: &dir, f: Files::new(&dir), writer_faults: &[fault], drain_faults: &[], fixed };
        let mut seen = Seen::default();
        let caught =
            (0..60).find_map(|cycle| cycles.run(&mut cycle_rng(77, cycle), &mut seen).err().map(|v| (cycle, v)));
        match caught {
            Some((cycle, v)) => {
                assert!(v.starts_with("S1"), "{fault}: {v}");
                println!("{fault} caught at cycle {cycle}: {v}");
            }
            None => panic!("{fault} was not caught in 60 kill cycles"),
        }
    }
}

// =============================================================================================
// Garbage
// =============================================================================================

/// Runs `journal_node` expecting exit 1 and one clear line on stderr.
fn fails_cleanly(args: &[&str], mentions: &str) {
    let out = node(args);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
    assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
    assert!(err.starts_with("journal_node ") && err.contains(mentions), "{args:?}: {err}");
}

fn random_bytes(seed: u64, n: usize) -> Vec<u8> {
    let mut x = seed;
    (0..n).map(|_| splitmix(&mut x) as u8).collect()
}

#[test]
fn garbage_files_fail_cleanly() {
    let dir = Dir::new("garbage");
    let f = Files::new(&dir);
    let (i, vol, log) = (s(&f.i), s(&f.svol), s(&f.slog));
    let drain = ["drain", i.as_str(), "--volume", vol.as_str(), "--log", log.as_str()];
    let reader = ["reader", i.as_str(), "--volume", vol.as_str(), "--log", log.as_str(), "--max-ms", "100"];
    let writer = ["writer", i.as_str(), "--volume", vol.as_str(), "--log", log.as_str(), "--writes", "5"];

    fs::write(&f.i, random_bytes(1, 1 << 18)).unwrap();
    fails_cleanly(&drain, "configuration info");
    fails_cleanly(&reader, "configuration info");
    fails_cleanly(&writer, "configuration info");
    fs::write(&f.i, b"").unwrap();
    fails_cleanly(&drain, "cut short");
    fs::remove_file(&f.i).unwrap();
    fails_cleanly(&drain, "cannot open");

    // A valid layout whose ring is random: nothing is applied.
    node_ok(&["format", &i, "--queue-units", "64"]);
    let layout = Intermediate::open(&f.i, Owner::Secondary(0)).unwrap().layout().clone();
    let file = fs::OpenOptions::new().write(true).open(&f.i).unwrap();
    file.write_all_at(&random_bytes(2, layout.ring_bytes() as usize), layout.ring).unwrap();
    f.drain();
    assert!(applied_log(&f.slog).is_empty());
    // 631 damaged: the drain does not need it. 632 damaged: S does not know where it is.
    file.write_all_at(&[0xee], layout.primary_control + 30).unwrap();
    f.reset();
    f.drain();
    file.write_all_at(&[0xee], layout.secondary_controls[0] + 30).unwrap();
    f.reset();
    fails_cleanly(&drain, "632");
    // One byte of the configuration.
    node_ok(&["format", &i, "--queue-units", "64"]);
    file.write_all_at(&[0x01], 13).unwrap();
    fails_cleanly(&drain, "checksum");

    // A used intermediate cut anywhere, or random bytes over any part: exit 0 or 1, no panic.
    node_ok(&["format", &i, "--queue-units", "64"]);
    #[rustfmt::skip]
    node_ok(&["writer", &i, "--volume", &dir.s("P.vol"), "--log", &dir.s("w.log"), "--writes", "6",
              "--volume-blocks", "64", "--publish-ms", "60000"]);
    let used = fs::read(&f.i).unwrap();
    let mut rng = Rng(9);
    for k in 0..40 {
        let mut bytes = used.clone();
        if k % 2 == 0 {
            bytes.truncate(rng.below(used.len() as u64) as usize);
        } else {
            let start = rng.below(used.len() as u64) as usize;
            let len = (1 + rng.below(2000) as usize).min(used.len() - start);
            bytes[start..start + len].copy_from_slice(&random_bytes(k, len));
        }
        fs::write(&f.i, &bytes).unwrap();
        f.reset();
        let out = node(&drain);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(matches!(out.status.code(), Some(0 | 1)) && !err.contains("panicked"), "case {k}: {err}");
        let h = Files::new(&dir).history(64, false, 0);
        assert!(h.applied.iter().copied().eq(1..=h.applied.len() as u32), "case {k}: {:?}", h.applied);
    }
}

// =============================================================================================
// Ownership
// =============================================================================================

#[test]
fn one_writer_per_area() {
    let dir = Dir::new("owner");
    let f = Files::new(&dir);
    let i = s(&f.i);
    node_ok(&["format", &i, "--queue-units", "32"]);
    let sh = Intermediate::open(&f.i, Owner::Secondary(0)).unwrap();
    let mine = ControlInfo { owner: Owner::Secondary(0), head: Pos(0), size: 0, heartbeat: 5 };
    let theirs = ControlInfo { owner: Owner::Primary, ..mine };
    for (r, region) in [
        (sh.write_control(Owner::Primary, &mine), Region::Control(Owner::Primary)),
        (sh.write_control(Owner::Primary, &theirs), Region::Control(Owner::Primary)),
        (sh.write_units(Pos(0), &[0; UNIT]), Region::Ring),
    ] {
        assert!(
            matches!(r, Err(FileError::NotOwner { region: got, owner: Owner::Secondary(0) }) if got == region),
            "{r:?}"
        );
    }
    sh.write_control(Owner::Secondary(0), &mine).unwrap();
    assert_eq!(sh.read_control(Owner::Primary).unwrap().heartbeat, 0, "631 untouched");
    assert!(matches!(Intermediate::open(&f.i, Owner::Secondary(1)), Err(FileError::NoSuchOwner(_))));

    let p = Intermediate::open(&f.i, Owner::Primary).unwrap();
    let r = p.write_control(Owner::Secondary(0), &mine);
    assert!(matches!(r, Err(FileError::NotOwner { region: Region::Control(Owner::Secondary(0)), .. })), "{r:?}");
    assert!(matches!(Intermediate::open(&f.i, Owner::Primary), Err(FileError::Locked)));
    drop(p);

    // Across processes: a writer holds P's role (it fills the ring, then waits for an S).
    #[rustfmt::skip]
    let writer_args = ["writer", i.as_str(), "--volume", &dir.s("P.vol"), "--log", &s(&f.wlog), "--writes", "1000",
                       "--volume-blocks", "64", "--publish-ms", "60000"];
    let mut w = spawn(&dir, "writer", &writer_args);
    let t0 = Instant::now();
    while writer_log(&f.wlog).0.is_empty() {
        assert!(t0.elapsed() < Duration::from_secs(10), "the writer did not start");
        std::thread::sleep(Duration::from_millis(2));
    }
    assert!(matches!(Intermediate::open(&f.i, Owner::Primary), Err(FileError::Locked)));
    let second = ["writer", i.as_str(), "--volume", &dir.s("P2.vol"), "--log", &dir.s("w2.log"), "--writes", "1"];
    fails_cleanly(&second, "primary role");
    fails_cleanly(&["format", &i, "--queue-units", "32"], "primary role");
    // S's handles coexist with P's.
    Intermediate::open(&f.i, Owner::Secondary(0)).unwrap().read_control(Owner::Primary).unwrap();
    w.kill().unwrap();
    w.wait().unwrap();
    // The kernel released the lock of the killed process.
    Intermediate::open(&f.i, Owner::Primary).unwrap();
}

// =============================================================================================
// A clean run
// =============================================================================================

#[test]
fn clean_run_replicates_every_write() {
    let dir = Dir::new("clean");
    let f = Files::new(&dir);
    let (i, pvol) = (s(&f.i), dir.s("P.vol"));
    node_ok(&["format", &i, "--queue-units", "48"]);
    let stop = dir.s("STOP");
    #[rustfmt::skip]
    let mut r = spawn(&dir, "reader", &["reader", &i, "--volume", &s(&f.svol), "--log", &s(&f.slog), "--stop-file", &stop]);
    #[rustfmt::skip]
    node_ok(&["writer", &i, "--volume", &pvol, "--log", &s(&f.wlog), "--writes", "400", "--seed", "11",
              "--volume-blocks", "64", "--inflight", "8", "--flush", "batch"]);
    // Let S catch up, then stop it; the drain finds nothing further.
    let t0 = Instant::now();
    while applied_log(&f.slog).len() < 400 {
        assert!(t0.elapsed() < Duration::from_secs(20), "S did not catch up");
        std::thread::sleep(Duration::from_millis(5));
    }
    fs::write(&stop, b"").unwrap();
    assert!(wait_for(&mut r, Duration::from_secs(20)).success());
    f.drain();
    let h = f.history(64, true, u32::MAX);
    f.judge(&h).unwrap();
    assert_eq!(h.applied, (1..=400).collect::<Vec<_>>());
    let (issued, _) = writer_log(&f.wlog);
    assert_eq!(h.volume, image(&issued, 64, 400));
    assert!(fs::read(&f.svol).unwrap() == fs::read(&pvol).unwrap(), "S's volume differs from P's");
}
