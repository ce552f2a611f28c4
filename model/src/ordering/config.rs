//! The worlds of the ordering protocol (note section 8), as TOML.

use crate::protocol::{Field, NamedConfig};
use rcopy::ordering::{Pair, PairId, Scope, Time, Topology};
use serde::{Deserialize, Serialize};

/// A world for the ordering protocol: topology, workload, network faults, clocks. Read from
/// TOML (`configs/*.toml` ship with the protocol; a user's file works the same way).
#[derive(Clone, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// One line on what this world is for.
    #[serde(default)]
    pub about: String,
    /// The remote copy pairs: `{ lds, rds, group, remote_unit }` each; systems numbered
    /// densely from 0.
    pub pairs: Vec<Pair>,
    /// Which writes share a sequence counter: `per-pair` (Fig. 2), `per-system-pair` (Fig. 3)
    /// or `per-group-system-pair` (Fig. 4).
    pub scope: Scope,
    /// Positions per remote unit; few, so that writes overwrite each other.
    pub positions: u32,
    /// Host writes in a run (the model's bound).
    pub writes: u8,
    /// Messages the network may lose in a run: data and acks, and reports and limits too
    /// where `lossy_rounds` is set.
    pub loss: u8,
    /// Messages the network may duplicate in a run (the same kinds as `loss`).
    pub dup: u8,
    /// Loss and duplication reach M3 and M4 too (note 4.13: a lost report or limit stalls the
    /// text's slave at step 903), and, with asynchronous rounds, a hardened slave's round timer
    /// fires again, repeating its last report (note L2: "unless rounds are retried"), when
    /// nothing of its round is in flight and something of it was lost (the master lacks its
    /// last report, or it lacks the master's last limit). Off, the timer is left out: with M3
    /// and M4 never lost, a repeat changes nothing. Default false.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub lossy_rounds: bool,
    /// Per LDS: how far its own clock runs ahead of the common time base. Only fault B10 stamps
    /// from the local clock, so only B10 sees the skew. Missing entries are 0.
    #[serde(default)]
    pub skew: Vec<Time>,
    /// The host's first writes in order, as `[pair, position]`; the writes after the script
    /// (up to `writes`) may go to any pair and position (branching on every choice). Empty:
    /// no script.
    #[serde(default)]
    pub script: Vec<(PairId, u32)>,
    /// If set, a slave's round is one step: its report reaches the master and any limit the
    /// master grants reaches every slave at once (M3 and M4 are never in flight). Smaller
    /// spaces; the reordering of M3 and M4 is explored only where this is off.
    pub sync_rounds: bool,
    /// Remote disk systems that may crash in a run (a crashed RDS takes no step and receives
    /// nothing; the master waits for its reports). Default 0.
    #[serde(default)]
    pub crashes: u8,
    /// How the clock moves between writes. Unset: once, after the host's last write (hardened).
    /// `n`: up to n times at any point, so heartbeats interleave with writes.
    #[serde(default)]
    pub ticks: Option<u8>,
    /// A coarse common clock: a host write may come at the same reading as the one before, so
    /// systems stamp equal times and the tie-breaks decide (note S12). Default false.
    #[serde(default)]
    pub coarse_clock: bool,
    /// Per stream, the entries an LDS may hold before it answers a host write BUSY. Default:
    /// the role's own (large) window.
    #[serde(default)]
    pub window: Option<u32>,
    /// Per RDS, the cache entries before a new packet is refused BUSY (not stored, not acked).
    /// Default: the role's own (large) cache.
    #[serde(default)]
    pub cache: Option<u32>,
}

/// The fields of [`Config`], for `rcopy-check list`.
pub const FIELDS: &[Field] = &[
    Field { key: "about", about: "one line on what this world is for" },
    Field { key: "pairs", about: "remote copy pairs, [{ lds, rds, group, remote_unit }, ...] (at most 64)" },
    Field { key: "scope", about: "per-pair (Fig. 2), per-system-pair (Fig. 3) or per-group-system-pair (Fig. 4)" },
    Field { key: "positions", about: "positions per remote unit (1 to 64)" },
    Field { key: "writes", about: "host writes in a run (at most 32)" },
    Field {
        key: "loss",
        about: "messages the network may lose (data and acks; reports and limits too if lossy_rounds)",
    },
    Field { key: "dup", about: "messages the network may duplicate (the same kinds)" },
    Field {
        key: "lossy_rounds",
        about: "loss and duplication reach M3/M4, and hardened slaves retry rounds (default false)",
    },
    Field { key: "skew", about: "per LDS, how far its own clock runs ahead (only fault B10 reads it)" },
    Field { key: "script", about: "the host's first writes as [pair, position]; later writes go anywhere" },
    Field { key: "sync_rounds", about: "a slave's round and the master's answer in one step" },
    Field { key: "crashes", about: "remote disk systems that may crash in a run (default 0)" },
    Field { key: "ticks", about: "the clock may tick up to n times at any point (default: once after the last write)" },
    Field { key: "coarse_clock", about: "a host write may come at the reading of the one before (default false)" },
    Field { key: "window", about: "entries an LDS holds per stream before a host write is BUSY (default: large)" },
    Field { key: "cache", about: "entries an RDS caches before a new packet is BUSY (default: large)" },
];

/// The named configs: the worlds of the two tiers and of the benchmarks, then the small ones
/// that each exercise one thing (a crash, back-pressure, crossing streams, ...).
pub const NAMED: &[NamedConfig] = &[
    NamedConfig { name: "single", toml: include_str!("configs/single.toml") },
    NamedConfig { name: "fanin", toml: include_str!("configs/fanin.toml") },
    NamedConfig { name: "grouped", toml: include_str!("configs/grouped.toml") },
    NamedConfig { name: "tiny", toml: include_str!("configs/tiny.toml") },
    NamedConfig { name: "standard", toml: include_str!("configs/standard.toml") },
    NamedConfig { name: "large", toml: include_str!("configs/large.toml") },
    NamedConfig { name: "scripted", toml: include_str!("configs/scripted.toml") },
    NamedConfig { name: "crash", toml: include_str!("configs/crash.toml") },
    NamedConfig { name: "busy", toml: include_str!("configs/busy.toml") },
    NamedConfig { name: "cross", toml: include_str!("configs/cross.toml") },
    NamedConfig { name: "coarse", toml: include_str!("configs/coarse.toml") },
    NamedConfig { name: "dupes", toml: include_str!("configs/dupes.toml") },
    NamedConfig { name: "ticking", toml: include_str!("configs/ticking.toml") },
    NamedConfig { name: "rounds", toml: include_str!("configs/rounds.toml") },
    NamedConfig { name: "rounds-dup", toml: include_str!("configs/rounds-dup.toml") },
];

impl Config {
    /// Whether hardened slaves retry their rounds in this world: reports and limits may be
    /// lost, on asynchronous rounds.
    pub fn rounds_retried(&self, variant: rcopy::ordering::Variant) -> bool {
        variant.hardened() && self.lossy_rounds && !self.sync_rounds
    }
}

/// The largest `writes`: write ids index 64-bit ghost sets, and each write may add packets.
pub const MAX_WRITES: u8 = 32;
/// The largest `positions` and number of pairs: an unscripted write branches on every pair and
/// position, and a model checker has no use for more.
pub const MAX_POSITIONS: u32 = 64;
pub const MAX_PAIRS: usize = 64;

impl Config {
    /// A named config, parsed from the TOML that ships with the protocol.
    pub fn named(name: &str) -> Option<Config> {
        crate::protocol::parse_named("ordering", NAMED, name)
    }

    /// The names of the named configs.
    pub fn names() -> Vec<&'static str> {
        NAMED.iter().map(|c| c.name).collect()
    }

    /// Check that the world makes sense; the topology it describes.
    pub fn validate(&self) -> Result<Topology, String> {
        let topology = Topology::new(self.pairs.clone(), self.scope).map_err(|e| format!("pairs: {e}"))?;
        if self.positions == 0 || self.positions > MAX_POSITIONS {
            return Err(format!("positions: from 1 to {MAX_POSITIONS} (got {})", self.positions));
        }
        if self.pairs.len() > MAX_PAIRS {
            return Err(format!("pairs: at most {MAX_PAIRS} (got {})", self.pairs.len()));
        }
        if self.writes > MAX_WRITES {
            return Err(format!("writes: at most {MAX_WRITES} (got {})", self.writes));
        }
        if self.skew.len() > topology.lds_count() as usize {
            return Err(format!("skew: {} entries for {} LDSs", self.skew.len(), topology.lds_count()));
        }
        if self.script.len() > self.writes as usize {
            return Err(format!("script: {} writes, more than writes = {}", self.script.len(), self.writes));
        }
        if self.crashes as u16 > topology.rds_count() {
            return Err(format!("crashes: at most the {} RDSs (got {})", topology.rds_count(), self.crashes));
        }
        if self.crashes > 0 && topology.rds_count() > 8 {
            return Err("crashes: only in worlds of at most 8 RDSs".into());
        }
        for (i, (pair, pos)) in self.script.iter().enumerate() {
            if topology.pair(*pair).is_none() {
                return Err(format!("script[{i}]: there is no pair {pair} ({} pairs)", self.pairs.len()));
            }
            if *pos >= self.positions {
                return Err(format!("script[{i}]: position {pos} is not below positions = {}", self.positions));
            }
        }
        Ok(topology)
    }
}
