//! The worlds of the journal protocol (note sections 7 and 8), as TOML.

use crate::protocol::{Field, NamedConfig};
use rcopy::journal::FullPolicy;
use serde::{Deserialize, Serialize};

/// Units a model's ring may have: the bound of the world's fixed arrays.
pub const MAX_QUEUE: usize = 8;
/// Host writes a run may make.
pub const MAX_WRITES: usize = 6;
/// Blocks per volume.
pub const MAX_BLOCKS: usize = 8;

/// A world for the journal protocol: the ring, the workload, the failures that may strike and
/// what the console may decide.
#[derive(Clone, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// One line on what this world is for.
    #[serde(default)]
    pub about: String,
    /// Queue size 610, in units (2 to 8). A journal of n blocks takes n units: every unit
    /// carries the header's fields in its protection data, and the last one the trailer.
    pub queue_units: u32,
    /// Blocks of the volume (1 to 8); one bitmap region per block.
    pub volume_blocks: u8,
    /// Host writes to P in a run (1 to 6).
    pub writes: u8,
    /// The largest host write, in blocks (1 to 3); writes of every size up to it are explored.
    pub write_blocks: u8,
    /// Journals P may have in flight to I at once (1 to 4).
    pub inflight: u8,
    /// S's fetch buffer, in units (1 or more; fewer than a journal cuts it: \[0129\]).
    pub buffer_units: u32,
    /// Unchanged heartbeat readings that declare the peer dead (1 to 8).
    pub threshold: u8,
    /// Bounded delay (note S13): a side reads the peer's control info at most `skew + 1`
    /// times between two firings of the peer's timer, and a timer fires at most twice between
    /// two readings by the peer. Heartbeats count modulo 3.
    pub skew: u8,
    /// What P does when the ring is full: `busy` (912(a)) or `suspend` (912(b)).
    pub full: FullPolicy,
    /// The ring starts full of an earlier lap's journals (intact, with lower ids), not zeroed
    /// (note 7.5).
    #[serde(default)]
    pub stale: bool,
    /// P may crash (its journal being written is left torn).
    #[serde(default)]
    pub crash_p: bool,
    /// S may crash (for good).
    #[serde(default)]
    pub crash_s: bool,
    /// I may fail (for good).
    #[serde(default)]
    pub fail_i: bool,
    /// After the drain the console may fence P and let the secondary host take over.
    #[serde(default)]
    pub takeover: bool,
    /// Writes the secondary host makes after takeover.
    #[serde(default)]
    pub secondary_writes: u8,
    /// P may restart after a crash, with its volume or without it (1406).
    #[serde(default)]
    pub recover_p: bool,
    /// Once both sides are suspended, the console may resync in either direction (Fig. 14).
    #[serde(default)]
    pub resync: bool,
    /// The source's host may write during the resync (1410), any number of times.
    #[serde(default)]
    pub resync_writes: bool,
    /// I enforces claim 4's write permission: an area takes writes from its owner only (S11).
    #[serde(default = "yes")]
    pub write_permission: bool,
    /// Embodiment 2 (Fig. 15): control info goes over a direct P-S path, and I holds only the
    /// ring. The path does not fail in this model.
    #[serde(default)]
    pub direct_control: bool,
    /// Embodiment 5 (Fig. 18): secondaries (1 or 2), each with its own 632; P's head is the
    /// slowest's. With two, nothing is resynced, and P and an S do not both crash in one run.
    #[serde(default = "one")]
    pub secondaries: u8,
    /// Embodiment 3 (Fig. 16): intermediates (1 or 2), each with its own ring of `queue_units`
    /// and control areas; P puts each journal on either, S merges them by id, and when one
    /// fails (`fail_i`: one of them may) P resends its journals through the other. With two,
    /// nothing crashes, there is one secondary, and control info goes over I.
    #[serde(default = "one")]
    pub intermediates: u8,
    /// Embodiment 4 (Fig. 17): with two `intermediates`, the second is the direct P-S link
    /// 1701, used only once I fails (asynchronously: P's write completes when the link takes
    /// it). Only I may fail.
    #[serde(default)]
    pub link: bool,
}

fn one() -> u8 {
    1
}

fn yes() -> bool {
    true
}

/// The fields of [`Config`], for `rcopy-check list`.
pub const FIELDS: &[Field] = &[
    Field { key: "about", about: "one line on what this world is for" },
    Field { key: "queue_units", about: "queue size 610 in units (2 to 8); a journal of n blocks takes n units" },
    Field { key: "volume_blocks", about: "blocks of the volume (1 to 8)" },
    Field { key: "writes", about: "host writes to P in a run (1 to 6)" },
    Field { key: "write_blocks", about: "the largest host write in blocks (1 to 3)" },
    Field { key: "inflight", about: "journals P may have in flight at once (1 to 4)" },
    Field { key: "buffer_units", about: "S's fetch buffer in units (fewer than a journal cuts it, [0129])" },
    Field { key: "threshold", about: "unchanged heartbeat readings that declare the peer dead (1 to 8)" },
    Field { key: "skew", about: "readings of the peer's control info between two of its timer firings, less one" },
    Field { key: "full", about: "a full ring: busy (912(a)) or suspend (912(b))" },
    Field { key: "stale", about: "the ring starts full of an earlier lap's journals (default false)" },
    Field { key: "crash_p", about: "P may crash, leaving a journal torn (default false)" },
    Field { key: "crash_s", about: "S may crash for good (default false)" },
    Field { key: "fail_i", about: "I may fail for good (default false)" },
    Field { key: "takeover", about: "the console may fence P and let the secondary host take over (default false)" },
    Field { key: "secondary_writes", about: "writes of the secondary host after takeover (default 0)" },
    Field { key: "recover_p", about: "P may restart after a crash, with or without its volume (default false)" },
    Field { key: "resync", about: "the console may resync both suspended sides in either direction, Fig. 14 (default false)" },
    Field { key: "resync_writes", about: "the source's host may write during the resync, 1410 (default false)" },
    Field { key: "write_permission", about: "I takes an area's writes from its owner only, claim 4 (default true)" },
    Field { key: "secondaries", about: "embodiment 5: secondaries, 1 or 2, each with its own 632 (default 1)" },
    Field { key: "intermediates", about: "embodiment 3: intermediates, 1 or 2, journals on either, merged by id at S (default 1)" },
    Field { key: "link", about: "embodiment 4: with two intermediates, the second is the direct link 1701, used once I fails (default false)" },
    Field { key: "direct_control", about: "embodiment 2: control info over a direct P-S path, I holds the ring only (default false)" },
];

/// The named configs.
pub const NAMED: &[NamedConfig] = &[
    NamedConfig { name: "tiny", toml: include_str!("configs/tiny.toml") },
    NamedConfig { name: "standard", toml: include_str!("configs/standard.toml") },
    NamedConfig { name: "large", toml: include_str!("configs/large.toml") },
    NamedConfig { name: "torn", toml: include_str!("configs/torn.toml") },
    NamedConfig { name: "stale", toml: include_str!("configs/stale.toml") },
    NamedConfig { name: "full", toml: include_str!("configs/full.toml") },
    NamedConfig { name: "partial", toml: include_str!("configs/partial.toml") },
    NamedConfig { name: "failures", toml: include_str!("configs/failures.toml") },
    NamedConfig { name: "i-fails", toml: include_str!("configs/i-fails.toml") },
    NamedConfig { name: "resync", toml: include_str!("configs/resync.toml") },
    NamedConfig { name: "resync-i", toml: include_str!("configs/resync-i.toml") },
    NamedConfig { name: "open-i", toml: include_str!("configs/open-i.toml") },
    NamedConfig { name: "direct", toml: include_str!("configs/direct.toml") },
    NamedConfig { name: "two-s", toml: include_str!("configs/two-s.toml") },
    NamedConfig { name: "multi", toml: include_str!("configs/multi.toml") },
    NamedConfig { name: "multi-fails", toml: include_str!("configs/multi-fails.toml") },
    NamedConfig { name: "multi-large", toml: include_str!("configs/multi-large.toml") },
    NamedConfig { name: "link", toml: include_str!("configs/link.toml") },
    NamedConfig { name: "two-s-failover", toml: include_str!("configs/two-s-failover.toml") },
    NamedConfig { name: "two-s-failover-3", toml: include_str!("configs/two-s-failover-3.toml") },
    NamedConfig { name: "two-s-crash", toml: include_str!("configs/two-s-crash.toml") },
];

impl Config {
    /// A named config, parsed.
    pub fn named(name: &str) -> Option<Config> {
        crate::protocol::parse_named("journal", NAMED, name)
    }

    /// Whether the world is within the model's bounds; an error names the field.
    pub fn validate(&self) -> Result<(), String> {
        let range = crate::protocol::in_range;
        range("queue_units", self.queue_units, 2, MAX_QUEUE as u32)?;
        range("volume_blocks", self.volume_blocks.into(), 1, MAX_BLOCKS as u32)?;
        range("writes", self.writes.into(), 1, MAX_WRITES as u32)?;
        range("write_blocks", self.write_blocks.into(), 1, 3)?;
        range("write_blocks", self.write_blocks.into(), 1, self.volume_blocks.into())?;
        range("write_blocks", self.write_blocks.into(), 1, self.queue_units)?;
        range("inflight", self.inflight.into(), 1, 4)?;
        range("buffer_units", self.buffer_units, 1, MAX_QUEUE as u32)?;
        range("threshold", self.threshold.into(), 1, 8)?;
        range("skew", self.skew.into(), 0, 4)?;
        range("secondary_writes", self.secondary_writes.into(), 0, 4)?;
        if self.secondary_writes > 0 && !self.takeover {
            return Err("`secondary_writes` needs `takeover = true`".into());
        }
        if self.recover_p && !self.crash_p {
            return Err("`recover_p` needs `crash_p = true`".into());
        }
        range("secondaries", self.secondaries.into(), 1, super::state::MAX_SIDES as u32)?;
        if self.secondaries > 1 && self.resync {
            return Err("with two `secondaries`, nothing is resynced (not modelled)".into());
        }
        if self.secondaries > 1 && self.crash_p && self.crash_s {
            // P suspends the pair when one S fails (Fig. 11 as embodiment 5 leaves it); the
            // surviving S then reads P's silence as P's death and drains early, so S1's premise
            // (only P fails) would not hold. A P that carries on with the survivors is not
            // modelled.
            return Err("with two `secondaries`, `crash_p` and `crash_s` together are not modelled".into());
        }
        range("intermediates", self.intermediates.into(), 1, super::state::MAX_RINGS as u32)?;
        if self.intermediates > 1 {
            let others = self.secondaries > 1
                || self.crash_p
                || self.crash_s
                || self.takeover
                || self.resync
                || self.stale
                || self.direct_control
                || self.full != FullPolicy::Busy;
            if others {
                return Err("with two `intermediates`: one secondary, control info over I, a zeroed ring, `full = \"busy\"`, and no crash, takeover or resync (not modelled)".into());
            }
            if self.buffer_units < self.queue_units {
                return Err("with two `intermediates`, `buffer_units` must be at least `queue_units`: S reads ahead of a missing id".into());
            }
        }
        if self.link && self.intermediates != 2 {
            return Err("`link` needs `intermediates = 2`: I and the direct link 1701".into());
        }
        if self.resync_writes && !self.resync {
            return Err("`resync_writes` needs `resync = true`".into());
        }
        Ok(())
    }
}
