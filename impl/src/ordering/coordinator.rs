//! The master limit time schedule process 117, Fig. 10.

use super::fault::Fault;
use super::types::{RdsId, Ts};
use crate::fault::FaultSet;
use serde::{Deserialize, Serialize};

/// The master: the latest report of every slave, and the limits it granted.
#[derive(Clone, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub struct LimitCoordinator {
    pub faults: FaultSet,
    /// The latest report of each slave, indexed by RDS.
    pub reports: Vec<Option<Ts>>,
    /// The limit last sent to the slaves.
    pub granted: Option<Ts>,
    /// The largest limit ever granted: the recovery point of a takeover (note S8).
    pub max_granted: Option<Ts>,
}

/// The master's answer to a report (M3).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Answer {
    /// A new limit time, for every slave (M4).
    pub grant: Option<Ts>,
    /// The report was the one held from that slave (a retried round, or a duplicate M3): the
    /// limit granted before, for that slave again, as it may have lost it.
    pub again: Option<Ts>,
}

/// A report from a slave the master does not know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("remote disk system {0} is not a slave of this master")]
pub struct UnknownSlave(pub RdsId);

impl LimitCoordinator {
    pub fn new(slaves: u16, faults: FaultSet) -> LimitCoordinator {
        LimitCoordinator { faults, reports: vec![None; slaves as usize], granted: None, max_granted: None }
    }

    /// Fig. 10 on a report (M3) from slave `rds`: [`LimitCoordinator::on_report`], and, for a
    /// report equal to the one held from that slave (a retried round, or a duplicate), the
    /// limit granted before, to send it that slave again (the master answers a round with the
    /// limit). Nothing again if the report is new, if nothing was granted yet, or under B20.
    pub fn on_round_report(&mut self, rds: RdsId, ts: Ts) -> Result<Answer, UnknownSlave> {
        let again = self.repeat_for(rds, ts);
        let grant = self.on_report(rds, ts)?;
        Ok(Answer { grant, again: if grant.is_some() { None } else { again } })
    }

    fn repeat_for(&self, rds: RdsId, ts: Ts) -> Option<Ts> {
        if Fault::B20.on(self.faults) {
            return None;
        }
        (*self.reports.get(rds as usize)? == Some(ts)).then_some(self.granted).flatten()
    }

    /// Steps 1000-1001: record slave `rds`'s report (the largest it sent); once every slave has reported, the earliest
    /// report is the limit time, sent to every slave when it differs from the last one sent.
    /// Never proceeds without every slave (fault B4 proceeds with those that reported).
    pub fn on_report(&mut self, rds: RdsId, ts: Ts) -> Result<Option<Ts>, UnknownSlave> {
        let slot = self.reports.get_mut(rds as usize).ok_or(UnknownSlave(rds))?;
        // A slave's frontier only grows, so an older report that arrives late (M3 messages
        // reorder) says nothing new: keep the largest. Storing it would pull the limit back and,
        // since nothing changes after it, stall the limit for good.
        *slot = (*slot).max(Some(ts));
        let limit = if Fault::B4.on(self.faults) {
            self.reports.iter().flatten().min().copied()
        } else {
            self.reports.iter().copied().collect::<Option<Vec<Ts>>>().and_then(|v| v.into_iter().min())
        };
        match limit {
            Some(l) if self.granted != Some(l) => {
                self.granted = Some(l);
                self.max_granted = self.max_granted.max(Some(l));
                Ok(Some(l))
            }
            _ => Ok(None),
        }
    }
}
