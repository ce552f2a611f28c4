//! Named configurations of the ordering world (note section 8).

use rcopy::ordering::{Pair, Scope, Time, Topology};
use serde::{Deserialize, Serialize};

/// Safety or liveness phase (TigerBeetle's VOPR split).
///
/// - `Safety`: a local-site disaster followed by takeover may strike in any state (S8 is checked
///   on the takeover image). The liveness property is not evaluated: with a disaster always
///   possible no run ends without one.
/// - `Liveness`: no disaster; every run is finite (all losses, duplicates and timers are
///   bounded), so L1 is checked on every run's final state, as far as stateright's `eventually`
///   reaches (acyclic paths only).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub enum Mode {
    Safety,
    Liveness,
}

impl Mode {
    pub const ALL: [Mode; 2] = [Mode::Safety, Mode::Liveness];

    pub fn name(self) -> &'static str {
        match self {
            Mode::Safety => "safety",
            Mode::Liveness => "liveness",
        }
    }

    pub fn from_name(name: &str) -> Option<Mode> {
        Mode::ALL.into_iter().find(|m| m.name() == name)
    }
}

/// A world for the ordering protocol: topology, workload, network faults, clocks.
#[derive(Clone, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub struct Config {
    pub name: String,
    pub topology: Topology,
    /// Positions per remote unit; few, so that writes overwrite each other.
    pub positions: u32,
    /// Host writes in a run (the model's bound).
    pub writes: u8,
    /// Data or ack packets the network may lose in a run.
    pub loss: u8,
    /// Data or ack packets the network may duplicate in a run.
    pub dup: u8,
    /// Per LDS: how far its own clock runs ahead of the common time base. Only fault B10 stamps
    /// from the local clock, so only B10 sees the skew.
    pub skew: Vec<Time>,
    /// If set, the host's writes in order as (pair, position); otherwise each write may go to
    /// any pair and position (branching on every choice).
    pub script: Option<Vec<(u16, u32)>>,
    /// If set, a slave's round is one step: its report reaches the master and any limit the
    /// master grants reaches every slave at once (M3 and M4 are never in flight). Smaller
    /// spaces; the reordering of M3 and M4 is explored only where this is off.
    pub sync_rounds: bool,
}

fn pair(lds: u16, rds: u16, group: u16, remote_unit: u16) -> Pair {
    Pair { lds, rds, group, remote_unit }
}

impl Config {
    /// The names [`Config::named`] knows, smallest first.
    pub const NAMES: [&'static str; 6] = ["single", "fanin", "grouped", "tiny", "standard", "large"];

    /// A named configuration.
    pub fn named(name: &str) -> Option<Config> {
        let (pairs, scope, positions, writes, loss, dup, skew) = match name {
            // One pair, no network faults: the faithful text works here, so it isolates B14.
            "single" => (vec![pair(0, 0, 0, 0)], Scope::PerPair, 1, 2, 0, 0, vec![0]),
            // Fig. 4: two pairs of one group between the same LDS and RDS share one sequence
            // counter, and a third pair of another group has its own.
            "grouped" => (
                vec![pair(0, 0, 0, 0), pair(0, 0, 0, 1), pair(0, 0, 1, 2)],
                Scope::PerGroupSystemPair,
                1,
                2,
                1,
                0,
                vec![0],
            ),
            // Two LDSs into one RDS: a quiet stream next to a busy one (B2).
            "fanin" => (vec![pair(0, 0, 0, 0), pair(1, 0, 0, 1)], Scope::PerPair, 1, 2, 0, 0, vec![0, 0]),
            // Two LDSs, two RDSs, one group spanning both, two writes and one loss (duplicates come
            // from resends): every seeded fault but B2 and B14 shows here, in seconds.
            "tiny" => (
                vec![pair(0, 0, 0, 0), pair(1, 1, 0, 1)],
                Scope::PerPair,
                1,
                2,
                1,
                0,
                vec![2, 0],
            ),
            // Note 8 / the issue: 2 LDSs, 2 RDSs, a group spanning both, 3 writes, one loss, one duplicate.
            "standard" => (
                vec![pair(0, 0, 0, 0), pair(1, 1, 0, 1)],
                Scope::PerPair,
                1,
                3,
                1,
                1,
                vec![2, 0],
            ),
            // For benchmarks: a fourth write.
            "large" => (
                vec![pair(0, 0, 0, 0), pair(0, 1, 0, 1), pair(1, 1, 0, 2)],
                Scope::PerPair,
                1,
                4,
                1,
                1,
                vec![2, 0],
            ),
            _ => return None,
        };
        let topology = Topology::new(pairs, scope).expect("named topologies are valid");
        let script = match name {
            // Both systems written, and the first pair overwritten.
            "standard" => Some(vec![(0, 0), (1, 0), (0, 0)]),
            "large" => Some(vec![(0, 0), (1, 0), (0, 0), (1, 0)]),
            _ => None,
        };
        let sync_rounds = matches!(name, "standard" | "large");
        Some(Config { name: name.to_string(), topology, positions, writes, loss, dup, skew, script, sync_rounds })
    }
}
