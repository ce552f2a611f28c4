//! Routing information 408 and the next-hop rule of step 1905, which SE, TE and every core run.

use super::types::{Addr, Route, Wwn};
use serde::{Deserialize, Serialize};

/// The most rows one device's copy of 408 holds.
pub const MAX_ROUTES: usize = 8;

/// A row of 408: source storage 711, target storage 712, transit route 714.
#[derive(Clone, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub struct RouteRow {
    pub source: Wwn,
    pub target: Wwn,
    pub route: Route,
}

/// What 1905 finds for an entry at a device.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub enum NextHop {
    /// Send it to this device.
    To(Addr),
    /// This device ends the route: the entry is for it.
    Here,
    /// No row names the entry's storages, or the row's route does not pass this device.
    NoRoute,
}

/// A device's copy of 408. An entry travelling from `source` to `target` (its 802 and 801)
/// takes the row `(source, target)`; with no such row and `walk_back`, the row `(target,
/// source)` walked backwards (4.6: the reverse route configured, or the forward one walked
/// back).
#[derive(Clone, PartialEq, Eq, Hash, Default, Debug, Serialize, Deserialize)]
pub struct Routing {
    pub rows: heapless::Vec<RouteRow, MAX_ROUTES>,
    pub walk_back: bool,
}

/// More rows than a device holds.
#[derive(Clone, Copy, PartialEq, Eq, Debug, thiserror::Error)]
#[error("routing information holds at most {MAX_ROUTES} rows")]
pub struct TooManyRoutes;

impl Routing {
    pub fn new(rows: &[RouteRow], walk_back: bool) -> Result<Routing, TooManyRoutes> {
        Ok(Routing { rows: heapless::Vec::from_slice(rows).map_err(|_| TooManyRoutes)?, walk_back })
    }

    /// The row for an entry from `source` to `target`, and whether it is walked backwards.
    pub fn row(&self, source: Wwn, target: Wwn) -> Option<(&Route, bool)> {
        if let Some(r) = self.rows.iter().find(|r| r.source == source && r.target == target) {
            return Some((&r.route, false));
        }
        if self.walk_back {
            return self.rows.iter().find(|r| r.source == target && r.target == source).map(|r| (&r.route, true));
        }
        None
    }

    /// Step 1905 at device `me` for an entry from `source` to `target`.
    pub fn next(&self, me: Addr, source: Wwn, target: Wwn) -> NextHop {
        let Some((route, back)) = self.row(source, target) else {
            return NextHop::NoRoute;
        };
        if !route.hops().contains(&me) {
            return NextHop::NoRoute;
        }
        let next = if back { route.before(me) } else { route.after(me) };
        next.map_or(NextHop::Here, NextHop::To)
    }
}
