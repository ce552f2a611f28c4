//! Which remote copy pairs exist and which writes share a sequence counter (note section 2.4).

use super::types::{GroupId, LdsId, PairId, RdsId, StreamId, UnitId};
use serde::{Deserialize, Serialize};

/// The stream scope: the three embodiments of the text.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Scope {
    /// Fig. 2: one sequence counter per remote copy pair (counter 207).
    PerPair,
    /// Fig. 3: one per (local disk system, remote disk system) sharing a pair (counter 300).
    PerSystemPair,
    /// Fig. 4: one per (local disk system, group, remote disk system) (counter 402).
    PerGroupSystemPair,
}

/// A remote copy pair 108: a local disk unit on `lds` copied to a remote disk unit on `rds`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pair {
    pub lds: LdsId,
    pub rds: RdsId,
    /// Data integrity pair group 109.
    pub group: GroupId,
    /// The remote disk unit 107 (remote disk address 205/208).
    pub remote_unit: UnitId,
}

/// A topology that makes no sense.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TopologyError {
    #[error("a topology needs at least one remote copy pair")]
    NoPairs,
    #[error("pairs {0} and {1} share remote unit {2}")]
    SharedRemoteUnit(PairId, PairId, UnitId),
    #[error("local disk system {0} has no pair (systems must be numbered densely from 0)")]
    IdleLds(LdsId),
    #[error("remote disk system {0} has no pair (systems must be numbered densely from 0)")]
    IdleRds(RdsId),
}

/// The remote copy pairs, indexed by [`PairId`], and the stream scope.
#[derive(Clone, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub struct Topology {
    pub pairs: Vec<Pair>,
    pub scope: Scope,
}

impl Topology {
    pub fn new(pairs: Vec<Pair>, scope: Scope) -> Result<Topology, TopologyError> {
        if pairs.is_empty() {
            return Err(TopologyError::NoPairs);
        }
        for (i, a) in pairs.iter().enumerate() {
            for (j, b) in pairs.iter().enumerate().skip(i + 1) {
                if a.remote_unit == b.remote_unit {
                    return Err(TopologyError::SharedRemoteUnit(i as PairId, j as PairId, a.remote_unit));
                }
            }
        }
        let t = Topology { pairs, scope };
        if let Some(l) = (0..t.lds_count()).find(|l| !t.pairs.iter().any(|p| p.lds == *l)) {
            return Err(TopologyError::IdleLds(l));
        }
        if let Some(r) = (0..t.rds_count()).find(|r| !t.pairs.iter().any(|p| p.rds == *r)) {
            return Err(TopologyError::IdleRds(r));
        }
        Ok(t)
    }

    pub fn lds_count(&self) -> u16 {
        self.pairs.iter().map(|p| p.lds + 1).max().unwrap_or(0)
    }

    pub fn rds_count(&self) -> u16 {
        self.pairs.iter().map(|p| p.rds + 1).max().unwrap_or(0)
    }

    pub fn pair(&self, id: PairId) -> Option<&Pair> {
        self.pairs.get(id as usize)
    }

    /// The stream a write on `pair` travels on: Fig. 2, 3 or 4.
    pub fn stream_of(&self, pair: PairId) -> Option<StreamId> {
        let p = self.pair(pair)?;
        let key = match self.scope {
            Scope::PerPair => pair,
            Scope::PerSystemPair => 0,
            Scope::PerGroupSystemPair => p.group,
        };
        Some(StreamId { lds: p.lds, rds: p.rds, key })
    }

    /// Every stream, ascending.
    pub fn streams(&self) -> Vec<StreamId> {
        let mut s: Vec<StreamId> = (0..self.pairs.len() as PairId).filter_map(|p| self.stream_of(p)).collect();
        s.sort();
        s.dedup();
        s
    }

    /// The streams an LDS sends on: its sequence counters (207, 300 or 402).
    pub fn streams_from(&self, lds: LdsId) -> Vec<StreamId> {
        self.streams().into_iter().filter(|s| s.lds == lds).collect()
    }

    /// The streams an RDS receives: what its slave inspects (steps 901, 1300, 1500).
    pub fn streams_into(&self, rds: RdsId) -> Vec<StreamId> {
        self.streams().into_iter().filter(|s| s.rds == rds).collect()
    }
}
