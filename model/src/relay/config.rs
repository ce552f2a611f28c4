//! The worlds of the relay protocol (note section 8), as TOML.

use crate::protocol::{Field, NamedConfig};
use serde::{Deserialize, Serialize};

/// Host writes a run may make (write ids 1..=MAX_WRITES; 0 is "never written").
pub const MAX_WRITES: usize = 4;
/// Blocks of each volume.
pub const MAX_BLOCKS: usize = 3;
/// Core devices on the route.
pub const MAX_CORES: usize = 2;
/// Entries in flight at once: the bound of the world's array. `net` throttles what SE sends
/// and what the network duplicates; cores and TE always find room (a flush or an answer never
/// waits on SE's throttle).
pub const MAX_NET: usize = 12;

/// A world for the relay protocol: one volume pair, its route through 0-2 cores, the workload,
/// the network's loss and duplication budgets, and what may crash.
#[derive(Clone, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// One line on what this world is for.
    #[serde(default)]
    pub about: String,
    /// Host writes SS sends in a run (1 to 4).
    pub writes: u8,
    /// Writes SS may have outstanding at SE at once (1 or 2): 1 is the synchronous program
    /// (the host waits for each); 2 lets two RIO(WR) handlers run at SE at once.
    #[serde(default = "one8")]
    pub outstanding: u8,
    /// Transient errors TS may answer TE's RIO(WR) with in a run.
    #[serde(default)]
    pub ts_errors: u8,
    /// Blocks of the volumes (1 to 3).
    pub blocks: u8,
    /// Core devices on the route (0 to 2).
    #[serde(default)]
    pub cores: u8,
    /// Log entries the network may lose in a run.
    #[serde(default)]
    pub loss: u8,
    /// Log entries the network may duplicate in a run.
    #[serde(default)]
    pub dup: u8,
    /// Resends of one entry before SE gives its pair up (`r_max`, 0 to 3).
    #[serde(default = "two")]
    pub r_max: u8,
    /// The cores batch (program 420): entries wait for the batch timer.
    #[serde(default)]
    pub batching: bool,
    /// Answers find their way back by walking the forward route backwards (no reverse row).
    #[serde(default = "yes")]
    pub walk_back: bool,
    /// Log entries in flight at once (1 to 6): a send into a full network waits.
    #[serde(default = "four")]
    pub net: u8,
    /// CC's first value at SE (the text gives none, F3).
    #[serde(default = "one")]
    pub cc0: u32,
    /// RC's first value at TE.
    #[serde(default)]
    pub rc0: u32,
    /// SE's log area, in entries (1 to 4).
    #[serde(default = "four")]
    pub se_log: u8,
    /// The pair starts in Simplex: SS creates it (Figs. 10/17/21), copies, then asks for the
    /// Duplex transition (Figs. 11/18/22). Otherwise it starts in Duplex.
    #[serde(default)]
    pub setup: bool,
    /// SE may crash once (and restart).
    #[serde(default)]
    pub crash_se: bool,
    /// TE may crash once (and restart).
    #[serde(default)]
    pub crash_te: bool,
    /// A core may crash once (and restart), losing its buffer.
    #[serde(default)]
    pub crash_core: bool,
    /// The edges' logs and counters survive a crash (disk 313).
    #[serde(default = "yes")]
    pub durable: bool,
    /// The source site may fail (SS and its host stop), and the target host then suspends the
    /// pair and takes over (Fig. 13).
    #[serde(default)]
    pub failover: bool,
    /// With the source site, SE may die too (for good): only the timeout path remains.
    #[serde(default)]
    pub se_dies: bool,
    /// The failover modification of l. 510: 1310-1312 at once, leftovers read out through 501.
    #[serde(default)]
    pub immediate: bool,
    /// Writes of the target application after 1312, or while the pair is suspended after a
    /// give-up (0 to 2).
    #[serde(default)]
    pub app_writes: u8,
    /// The route may fail for good (until the provider's maintenance, which comes only once SE
    /// gave the pair up): entries in flight stay stuck, new ones are lost.
    #[serde(default)]
    pub partition: bool,
    /// Once the pair is given up and the route mended, SS resyncs it (Fig. 12), copies what
    /// the merged bitmap marks and asks for the Duplex transition.
    #[serde(default)]
    pub resync: bool,
    /// Volume pairs (1 or 2), each with `blocks` blocks; the second pair's source and target
    /// are on a second storage pair when `multipath`, else on the same storages.
    #[serde(default = "one8")]
    pub pairs: u8,
    /// Order assurance IDs (1 or 2): with 2, each pair has its own ID (K3); with 1, the pairs
    /// share one (method A-2, K2).
    #[serde(default = "one8")]
    pub ids: u8,
    /// Pair `p`'s storages are routed through core `p` alone (two routes, K2): entries of one
    /// ID race each other on two paths.
    #[serde(default)]
    pub multipath: bool,
    /// The target host's detection is false (note 5.3): the source site lives on, and its
    /// host goes on writing while TE fails the pair over.
    #[serde(default)]
    pub false_detection: bool,
    /// TE's reflector is a thread that sleeps when it finds nothing to reflect and is woken
    /// when an entry is stored or TS answers (note 7.3): `rcopy::relay::shared::Reflector`.
    #[serde(default)]
    pub reflector: bool,
    /// The route names core C1 twice, [SE, C1, C2, C1, TE] (fault B26's route): C1 refuses it.
    #[serde(default)]
    pub route_loop: bool,
}

fn yes() -> bool {
    true
}
fn one() -> u32 {
    1
}
fn one8() -> u8 {
    1
}
fn two() -> u8 {
    2
}
fn four() -> u8 {
    4
}

/// The fields of [`Config`], for `rcopy-check list`.
pub const FIELDS: &[Field] = &[
    Field { key: "about", about: "one line on what this world is for" },
    Field { key: "writes", about: "host writes SS sends (1 to 4)" },
    Field { key: "outstanding", about: "writes outstanding at SE at once (1, the synchronous program, or 2; default 1)" },
    Field { key: "ts_errors", about: "transient errors TS may answer RIO(WR)s with (default 0)" },
    Field { key: "blocks", about: "blocks of the volumes (1 to 3)" },
    Field { key: "cores", about: "core devices on the route (0 to 2; default 0)" },
    Field { key: "loss", about: "log entries the network may lose (default 0)" },
    Field { key: "dup", about: "log entries the network may duplicate (default 0)" },
    Field { key: "r_max", about: "resends of an entry before SE gives the pair up (0 to 3; default 2)" },
    Field { key: "batching", about: "cores batch entries until their timer (program 420; default false)" },
    Field { key: "walk_back", about: "answers walk the forward route backwards (default true; else a reverse row)" },
    Field { key: "net", about: "log entries in flight at once (1 to 6; default 4)" },
    Field { key: "cc0", about: "CC's first value at SE (default 1)" },
    Field { key: "rc0", about: "RC's first value at TE (default 0)" },
    Field { key: "se_log", about: "SE's log area in entries (1 to 4; default 4)" },
    Field { key: "setup", about: "the pair starts in Simplex: creation, copy, Duplex transition (default false)" },
    Field { key: "crash_se", about: "SE may crash once and restart (default false)" },
    Field { key: "crash_te", about: "TE may crash once and restart (default false)" },
    Field { key: "crash_core", about: "a core may crash once and restart, losing its buffer (default false)" },
    Field { key: "durable", about: "the edges' logs and counters survive a crash (default true)" },
    Field { key: "failover", about: "the source site may fail and the target host take over, Fig. 13 (default false)" },
    Field { key: "se_dies", about: "SE may die with the source site: only the timeout path remains (default false)" },
    Field { key: "immediate", about: "failover by the modification of l. 510: fence at once, leftovers read out (default false)" },
    Field { key: "app_writes", about: "writes of the target application after 1312 or a give-up (0 to 2; default 0)" },
    Field { key: "partition", about: "the route may fail until maintenance, which follows a give-up (default false)" },
    Field { key: "resync", about: "after a give-up and the maintenance SS resyncs, Fig. 12 (default false)" },
    Field { key: "pairs", about: "volume pairs, each of `blocks` blocks (1 or 2; default 1)" },
    Field { key: "ids", about: "order assurance IDs: 2 gives each pair its own (needs 2 pairs; default 1)" },
    Field { key: "multipath", about: "pair p on its own storages, routed through core p alone (needs 2 pairs and 2 cores)" },
    Field { key: "false_detection", about: "the target host detects a failure that did not happen; SS writes on (note 5.3; needs failover)" },
    Field { key: "reflector", about: "TE's reflector is a thread that sleeps when idle and is woken by the receiver (note 7.3; default false)" },
    Field { key: "route_loop", about: "the route is [SE, C1, C2, C1, TE]: C1 refuses it but under fault B26 (needs 2 cores)" },
];

/// The named configs.
pub const NAMED: &[NamedConfig] = &[
    NamedConfig { name: "tiny", toml: include_str!("configs/tiny.toml") },
    NamedConfig { name: "standard", toml: include_str!("configs/standard.toml") },
    NamedConfig { name: "large", toml: include_str!("configs/large.toml") },
    NamedConfig { name: "fig16", toml: include_str!("configs/fig16.toml") },
    NamedConfig { name: "core", toml: include_str!("configs/core.toml") },
    NamedConfig { name: "fig10-11", toml: include_str!("configs/fig10-11.toml") },
    NamedConfig { name: "crash", toml: include_str!("configs/crash.toml") },
    NamedConfig { name: "concurrent", toml: include_str!("configs/concurrent.toml") },
    NamedConfig { name: "batch", toml: include_str!("configs/batch.toml") },
    NamedConfig { name: "ts-error", toml: include_str!("configs/ts-error.toml") },
    NamedConfig { name: "fig13", toml: include_str!("configs/fig13.toml") },
    NamedConfig { name: "fig13-immediate", toml: include_str!("configs/fig13-immediate.toml") },
    NamedConfig { name: "fig12", toml: include_str!("configs/fig12.toml") },
    NamedConfig { name: "multipath", toml: include_str!("configs/multipath.toml") },
    NamedConfig { name: "two-ids", toml: include_str!("configs/two-ids.toml") },
    NamedConfig { name: "loop", toml: include_str!("configs/loop.toml") },
    NamedConfig { name: "false-failover", toml: include_str!("configs/false-failover.toml") },
    NamedConfig { name: "id-failover", toml: include_str!("configs/id-failover.toml") },
    NamedConfig { name: "reflector", toml: include_str!("configs/reflector.toml") },
];

impl Config {
    /// A named config, parsed.
    pub fn named(name: &str) -> Option<Config> {
        crate::protocol::parse_named("relay", NAMED, name)
    }

    /// Whether the world is within the model's bounds; an error names the field.
    pub fn validate(&self) -> Result<(), String> {
        let range = crate::protocol::in_range;
        range("writes", self.writes.into(), 1, MAX_WRITES as u32)?;
        range("outstanding", self.outstanding.into(), 1, 2)?;
        range("ts_errors", self.ts_errors.into(), 0, 2)?;
        range("pairs", self.pairs.into(), 1, 2)?;
        range("ids", self.ids.into(), 1, self.pairs.into())?;
        range("blocks", self.blocks.into(), 1, (MAX_BLOCKS / usize::from(self.pairs)) as u32)?;
        range("cores", self.cores.into(), 0, MAX_CORES as u32)?;
        range("loss", self.loss.into(), 0, 3)?;
        range("dup", self.dup.into(), 0, 3)?;
        range("r_max", self.r_max.into(), 0, 3)?;
        range("net", self.net.into(), 1, 6)?;
        range("se_log", self.se_log.into(), 1, 4)?;
        range("cc0", self.cc0, 0, 1000)?;
        range("rc0", self.rc0, 0, 1000)?;
        if self.batching && self.cores == 0 {
            return Err("`batching` needs a core (`cores` at least 1)".into());
        }
        if self.crash_core && self.cores == 0 {
            return Err("`crash_core` needs a core (`cores` at least 1)".into());
        }
        range("app_writes", self.app_writes.into(), 0, 2)?;
        if (self.se_dies || self.immediate) && !self.failover {
            return Err("`se_dies` and `immediate` need `failover = true`".into());
        }
        if self.app_writes > 0 && !(self.failover || self.partition) {
            return Err("`app_writes` need `failover` or `partition`".into());
        }
        if self.resync && !self.partition {
            return Err("`resync` needs `partition` (a give-up to resync from)".into());
        }
        if self.partition && (self.failover || self.setup || self.cores > 0) {
            return Err("`partition` with `failover`, `setup` or cores is not modelled".into());
        }
        if self.failover && self.setup {
            return Err("`failover` with `setup` is not modelled: the pair starts in Duplex".into());
        }
        if self.false_detection && !self.failover {
            return Err("`false_detection` needs `failover = true`".into());
        }
        if self.multipath && !(self.pairs == 2 && self.cores == 2) {
            return Err("`multipath` routes pair p through core p: it needs `pairs = 2` and `cores = 2`".into());
        }
        if self.route_loop && (self.cores != 2 || self.pairs != 1) {
            return Err("`route_loop` is [SE, C1, C2, C1, TE]: it needs `cores = 2` and one pair".into());
        }
        if self.pairs > 1 && (self.setup || self.partition || self.crash_se || self.crash_te) {
            return Err("two pairs with `setup`, `partition` or an edge's crash are not modelled: both pairs start in Duplex".into());
        }
        if self.pairs > 1 && self.failover && (self.se_dies || self.immediate || self.app_writes > 0 || !self.false_detection || self.ids > 1) {
            return Err("two pairs fail over only in one ID, by a false detection of the first pair's target host, SE alive, no application writes".into());
        }
        if !self.durable && !(self.crash_se || self.crash_te) {
            return Err("`durable = false` matters only with `crash_se` or `crash_te`".into());
        }
        Ok(())
    }
}
