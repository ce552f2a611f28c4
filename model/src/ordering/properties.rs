//! The properties of note section 6: safety invariants S1-S12 (`always`), the sanity checks of
//! 6.3 (`sometimes`), and liveness L1-L4 of 6.2 as obligations (pending from the moment they
//! arise until met, judged under fairness). Each reads the roles and the ghost; none decides
//! anything the roles decide.

use super::model::OrderingModel;
use super::state::{Phase, State, Wid};
use crate::protocol::Obligation;
use rcopy::ordering::{EntryState, Message, Ts};
use stateright::Property;

/// Every property of the ordering model but the liveness ones, in the order the verdict table
/// shows them.
pub fn all() -> Vec<Property<OrderingModel>> {
    vec![
        Property::always("S1 seq order equals ts order", s1),
        Property::always("S2 seq density and uniqueness", s2),
        Property::always("S3 frontier soundness", s3),
        Property::always("S4 limit soundness", s4),
        Property::always("S5 destage gate", |_, s: &State| !s.ghost.bad_gate),
        Property::always("S6 no missing predecessor", |_, s: &State| !s.ghost.missing_predecessor),
        Property::always("S7 ts-ordered prefix per destager", s7),
        Property::always("S8 recoverable consistent image", s8),
        Property::always("S9 at-most-once apply", |_, s: &State| !s.ghost.bad_apply),
        Property::always("S10 remote cache uniqueness", s10),
        Property::always("S11 ack soundness", s11),
        Property::always("S12 real-order fidelity", s12),
        Property::sometimes("X1 a packet arrives out of order", out_of_order),
        Property::sometimes("X2 the limit blocks a destage", limit_blocks),
        Property::sometimes("X3 a gap is filled and the limit advances", |_, s: &State| s.ghost.gap_then_limit),
        Property::sometimes("N1 no global prefix mid-epoch", n1),
        Property::sometimes("N2 remote image lags local", n2),
        Property::sometimes("N3 a stale limit arrives", |_, s: &State| s.ghost.limit_regressed),
    ]
}

/// Liveness, note 6.2, as obligations. Each is pending only while the local site runs: once
/// the remote site has taken over (a disaster, which no fair behaviour needs to suffer), there
/// is nothing left to deliver.
pub fn obligations() -> Vec<Obligation<OrderingModel>> {
    vec![
        Obligation { name: "L1 every write destaged", pending: l1 },
        Obligation { name: "L2 limits follow the frontiers", pending: l2 },
        Obligation { name: "L3 every write acknowledged", pending: l3 },
        Obligation { name: "L4 every round completes", pending: l4 },
    ]
}

/// The areas a property belongs to (the registry's tags; `failover` for what a takeover must
/// keep).
pub fn tags(name: &str) -> &'static [&'static str] {
    match name.split(' ').next().unwrap_or("") {
        "S1" | "S2" | "S12" => &["stamping"],
        "S3" => &["frontier"],
        "S4" => &["limit"],
        "S5" | "S6" | "S7" => &["destage"],
        "S8" => &["failover"],
        "S9" | "S10" => &["dedup"],
        "S11" => &["ack"],
        "L1" | "L3" => &["progress"],
        "L2" | "L4" => &["rounds"],
        _ => &["sanity"],
    }
}

/// The names of every property, liveness included, in order.
pub fn names() -> Vec<&'static str> {
    all().iter().map(|p| p.name).chain(obligations().iter().map(|o| o.name)).collect()
}

fn ts_of(s: &State, w: Wid) -> Ts {
    s.ghost.writes[w as usize].ts
}

/// S1: within a stream, a smaller sequence number means an earlier time stamp.
fn s1(_: &OrderingModel, s: &State) -> bool {
    let sent = &s.ghost.sent;
    sent.iter().all(|a| sent.iter().all(|b| !(a.0 == b.0 && a.1 < b.1) || a.2 < b.2))
}

/// S2: per stream the sequence numbers are 0..n, each carries one write and one time stamp,
/// and a write is always resent under the sequence number it was first given.
fn s2(_: &OrderingModel, s: &State) -> bool {
    let sent = &s.ghost.sent;
    sent.iter().all(|a| {
        let dense = a.1 == 0 || sent.iter().any(|b| b.0 == a.0 && b.1.checked_add(1) == Some(a.1));
        let one = sent.iter().all(|b| !(b.0 == a.0 && b.1 == a.1) || (b.2 == a.2 && b.3 == a.3));
        let same_seq = a.3.is_none() || sent.iter().all(|b| b.3 != a.3 || (b.0 == a.0 && b.1 == a.1));
        dense && one && same_seq
    })
}

/// S3: every RDS's frontier of every stream is the true one.
fn s3(_: &OrderingModel, s: &State) -> bool {
    s.roles.receivers.iter().all(|r| r.streams.iter().all(|st| r.frontier(st.id) == s.ghost.frontier(st.id)))
}

/// S4: every limit stored, in flight or granted is sound: every write stamped at or before it
/// has arrived at the remote.
fn s4(_: &OrderingModel, s: &State) -> bool {
    let stored = s.roles.receivers.iter().filter_map(|r| r.limit);
    let in_flight = s.net.iter().filter_map(|e| match e.msg {
        Message::Limit { ts } => Some(ts),
        _ => None,
    });
    let granted = s.roles.master.max_granted;
    let sound = |l: Ts| s.ghost.writes.iter().enumerate().all(|(w, rec)| rec.ts > l || s.ghost.has_arrived(w as Wid));
    stored.chain(in_flight).chain(granted).all(sound)
}

/// S7: each RDS destages in time-stamp order, and what it destaged is exactly its writes up to
/// the last one destaged.
fn s7(m: &OrderingModel, s: &State) -> bool {
    s.ghost.destaged.iter().enumerate().all(|(r, log)| {
        let ordered = log.windows(2).all(|p| ts_of(s, p[0]) < ts_of(s, p[1]));
        let Some(&last) = log.last() else { return true };
        let upto = ts_of(s, last);
        let prefix = s.ghost.writes.iter().enumerate().all(|(w, rec)| {
            let here = m.topology.pair(rec.pair).is_some_and(|p| p.rds as usize == r);
            !here || rec.ts > upto || log.contains(&(w as Wid))
        });
        ordered && prefix
    })
}

/// S8: (a) nothing beyond the largest granted limit was destaged; (b) every write up to it has
/// arrived and is destaged or still cached; a takeover leaves the history cut at it, and (c)
/// after the takeover no receiver holds a write that could still be applied past the cut.
fn s8(_: &OrderingModel, s: &State) -> bool {
    let g = &s.ghost;
    let lmax = s.roles.master.max_granted;
    let a = g.destaged.iter().flatten().all(|&w| Some(ts_of(s, w)) <= lmax);
    let b = s.phase == Phase::TakenOver
        || g.writes.iter().enumerate().all(|(w, rec)| {
            let w = w as Wid;
            Some(rec.ts) > lmax
                || (g.has_arrived(w)
                    && (g.is_destaged(w)
                        || s.roles.receivers.iter().any(|r| r.cache.iter().any(|c| c.payload == Some(w)))))
        });
    let c = s.phase != Phase::TakenOver || s.roles.receivers.iter().all(|r| r.cache.is_empty());
    a && b && c && !g.bad_takeover
}

/// S10: no two cached entries share (stream, seq), and none is at or below a sequence number
/// already destaged on its stream.
fn s10(_: &OrderingModel, s: &State) -> bool {
    s.roles.receivers.iter().all(|r| {
        r.cache.iter().enumerate().all(|(i, c)| {
            let unique = r.cache.iter().skip(i + 1).all(|d| (d.stream, d.seq) != (c.stream, c.seq));
            let fresh = s.ghost.destaged_max.iter().all(|(st, k)| *st != c.stream || c.seq > *k);
            unique && fresh
        })
    })
}

/// S11: an ack exists only for a packet that arrived; an entry is released only on its ack; an
/// unacked packet stays available for resend.
fn s11(_: &OrderingModel, s: &State) -> bool {
    let g = &s.ghost;
    let acks_sound = s.net.iter().all(|e| match e.msg {
        Message::Ack { stream, seq } => g.seqs_arrived(stream) & (1u64 << seq.min(63)) != 0,
        _ => true,
    });
    let retained = s.phase == Phase::TakenOver
        || g.sent.iter().all(|&(stream, seq, _, w)| {
            w.is_none()
                || g.acked.contains(&(stream, seq))
                || s.roles.senders[stream.lds as usize]
                    .stream(stream)
                    .is_some_and(|st| st.entries.iter().any(|e| e.state == EntryState::Sent { seq }))
        });
    acks_sound && retained && !g.bad_release
}

/// S12: a write completed to its host before another was accepted has the earlier time stamp.
/// Every write completes at once (step 504), so accept order must be time-stamp order.
fn s12(_: &OrderingModel, s: &State) -> bool {
    s.ghost.writes.windows(2).all(|p| p[0].ts < p[1].ts)
}

fn out_of_order(_: &OrderingModel, s: &State) -> bool {
    s.roles.receivers.iter().any(|r| {
        r.cache.iter().any(|c| {
            let next = r
                .streams
                .iter()
                .find(|st| st.id == c.stream)
                .and_then(|st| st.contiguous)
                .map_or(0, |(k, _)| k.saturating_add(1));
            c.seq > next
        })
    })
}

fn limit_blocks(_: &OrderingModel, s: &State) -> bool {
    s.roles.receivers.iter().any(|r| r.limit.is_some() && r.earliest_cached() > r.limit)
}

/// N1: the union of the remote images is not a time-stamp prefix of the history.
fn n1(_: &OrderingModel, s: &State) -> bool {
    let g = &s.ghost;
    g.destaged
        .iter()
        .flatten()
        .any(|&w| g.writes.iter().enumerate().any(|(v, rec)| rec.ts < ts_of(s, w) && !g.is_destaged(v as Wid)))
}

/// N2: the remote image differs from the local one (asynchronous copy: RPO > 0).
fn n2(_: &OrderingModel, s: &State) -> bool {
    let g = &s.ghost;
    g.writes.iter().enumerate().any(|(w, rec)| {
        let latest = g.writes.iter().enumerate().rev().find(|(_, o)| o.addr == rec.addr).map(|(v, _)| v);
        latest == Some(w) && g.image_at(rec.addr) != Some(w as Wid)
    })
}

/// L1 pending: an accepted write is not yet destaged.
fn l1(_: &OrderingModel, s: &State) -> bool {
    s.phase == Phase::Running && (0..s.ghost.writes.len()).any(|w| !s.ghost.is_destaged(w as Wid))
}

/// L2 pending: a running slave's stored limit is below the earliest true frontier over every
/// stream ("if every stream's frontier passes t, every slave's limit eventually passes t").
fn l2(m: &OrderingModel, s: &State) -> bool {
    if s.phase != Phase::Running {
        return false;
    }
    // The earliest frontier; a stream with nothing contiguous is minus infinity.
    let Some(Some(target)) = m.streams.iter().map(|st| s.ghost.frontier(*st).map(|(_, ts)| ts)).min() else {
        return false;
    };
    s.roles.receivers.iter().any(|r| !s.is_crashed(r.rds) && r.limit < Some(target))
}

/// L3 pending: an accepted write is not yet acknowledged (its entry is still held by the LDS).
fn l3(_: &OrderingModel, s: &State) -> bool {
    s.phase == Phase::Running
        && s.roles.senders.iter().any(|snd| {
            !snd.staged.is_empty() || snd.streams.iter().any(|st| st.entries.iter().any(|e| e.payload.is_some()))
        })
}

/// L4 pending: a round is open: the master holds a report from some slave and waits for
/// another's (steps 1000-1001 need every slave's report before a limit is granted).
fn l4(_: &OrderingModel, s: &State) -> bool {
    let reports = &s.roles.master.reports;
    s.phase == Phase::Running && reports.iter().any(Option::is_some) && reports.iter().any(Option::is_none)
}
