//! The relay world as a stateright model: the actions of note 8.2 and what each feeds SE, TE
//! and the cores (through [`super::dispatch::feed`]), the world's bookkeeping on their
//! answers, and the fairness classes.

use super::config::{Config, MAX_BLOCKS};
use super::dispatch::{feed, Input, Output};
use super::state::{bit, Created, Ghost, Msg, Ss, State, Te, Ts, Wid, CORE0, SE, TE};
use rcopy::fault::FaultSet;
use rcopy::relay::shared::Reflector;
use rcopy::relay::manager::{self, CustomerId, IdMethod, Manager, PairInput, Reverse, RouteInput, StorageInput, Via};
use rcopy::relay::{
    Addr, Bitmap, Body, CoreConfig, Failover, CoreDevice, CoreStep, Id, Kind, LogEntry, Lun, PairRow, PairState, Reflected, Refused,
    Routing, Seq, SourceConfig, SourceEdge, SourceReceived, SsReply, TargetConfig, TargetEdge, TargetReceived,
    Timeout, Transmit, TsAnswer, Variant, VolRef, WriteAck, Wwn,
};
use serde::{Deserialize, Serialize};
use stateright::{Model, Property};

/// The volume pair: source volume 113 on SS, target volume 123 on TS.
pub const SRC: VolRef = VolRef { wwn: Wwn(0x112), lun: Lun(13) };
pub const TGT: VolRef = VolRef { wwn: Wwn(0x122), lun: Lun(23) };
/// The first pair's order assurance ID (a second ID, if any, is `Id(2)`).
pub const ID: Id = Id(1);

/// The second volume pair on the same storages (K3), or on a second storage pair (K2,
/// `multipath`).
const SRC2: VolRef = VolRef { wwn: Wwn(0x112), lun: Lun(14) };
const TGT2: VolRef = VolRef { wwn: Wwn(0x122), lun: Lun(24) };
const SRC2_MULTI: VolRef = VolRef { wwn: Wwn(0x212), lun: Lun(14) };
const TGT2_MULTI: VolRef = VolRef { wwn: Wwn(0x222), lun: Lun(24) };

/// The index of order assurance ID `id` in the ghost (IDs are 1 and 2).
pub fn ix(id: Id) -> u8 {
    id.0.saturating_sub(1) as u8
}

/// A step of the world.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub enum Action {
    /// SS asks for the pair's creation (1002).
    Create,
    /// SS asks for the Duplex transition (1101).
    AskDuplex,
    /// SS's host writes `block` (the next write id), and SS sends RIO(WR) (1601-1602).
    Write { block: u8 },
    /// Fault B8: SE's oldest staged write is stored and numbered.
    Commit,
    /// SE sends held entry `i`.
    Send { i: u8 },
    /// Held entry `i`'s timer fires at SE.
    Timer { i: u8 },
    /// The network delivers entry `m` in flight, on the link from device `from` to `to`.
    Deliver { m: u8, from: u8, to: u8 },
    /// The network loses entry `m`.
    Lose { m: u8 },
    /// The network duplicates entry `m`.
    Duplicate { m: u8 },
    /// Core `c`'s batch timer.
    Flush { c: u8 },
    /// TE reflects order assurance ID `Id(id + 1)`.
    Reflect { id: u8 },
    /// TE's reflector thread finds nothing to reflect and sleeps (B28: leaves the lock first).
    ReflectorIdle,
    /// B28: the reflector, out of the lock, goes to sleep.
    ReflectorSleeps,
    /// TS answers the RIO at `k` (`ok`: applied; else a transient error).
    Answer { k: u8, ok: bool },
    /// The source site fails (SS and its host stop); `se_too`: SE dies with it.
    SiteFails { se_too: bool },
    /// The target host detects it and suspends the pair (1301-1304).
    Detect,
    /// TE's failover timer expires (1306).
    Expire,
    /// The target application writes `block` (after 1312).
    AppWrite { block: u8 },
    /// The operator reads the leftovers out of TE and applies them with SCSI writes (l. 510).
    Leftovers,
    /// The route fails (for good, until the maintenance).
    Partition,
    /// The provider's maintenance mends the route (once SE gave the pair up).
    Mend,
    /// The management server tells TE of SE's give-up.
    Notify,
    /// SS resyncs the suspended pair (data 1201-1203).
    Resync,
    /// SS's differential copy sends `block`'s data (Fig. 12 (13)).
    Copy { block: u8 },
    /// Device `d` crashes (0 SE, 1 TE, 2.. cores).
    Crash { d: u8 },
    /// Device `d` restarts.
    Restart { d: u8 },
}

/// The values the target application writes: 101, 102 (above every write id).
pub const APP: Wid = 100;

/// The model of one config, variant and set of faults.
#[derive(Clone, Debug)]
pub struct RelayModel {
    pub config: Config,
    pub variant: Variant,
    pub faults: FaultSet,
    pub routing: Routing,
    /// The pair rows (411) the management server derived (step 903), in the Simplex state.
    pub rows: heapless::Vec<PairRow, 2>,
    /// C1 (without faults) holds for the tables the world runs on: `false` only where a fault
    /// (B26) let a defective route through.
    pub c1: bool,
}

/// Device `d`'s IP address.
pub fn addr(d: u8) -> Addr {
    Addr(u32::from(d) + 1)
}

/// The device at `a`.
pub fn device(a: Addr) -> u8 {
    a.0.saturating_sub(1) as u8
}

/// A device's name in traces.
pub fn device_name(d: u8) -> String {
    match d {
        SE => "SE".into(),
        TE => "TE".into(),
        c => format!("C{}", c - CORE0 + 1),
    }
}

impl RelayModel {
    pub fn new(config: Config, variant: Variant, faults: FaultSet) -> Result<RelayModel, String> {
        config.validate()?;
        if variant == Variant::Hardened && !config.durable {
            return Err("the hardened variant keeps the edges' logs and counters durable (before 1904): `durable = false` is the text's F8, run it with `--variant faithful`".into());
        }
        // Step 903: the management server derives the tables from the customer's input and
        // checks C1 (under the world's faults: B26 lets a looping route through).
        let vols = Self::vols(&config);
        let mut storages: Vec<StorageInput> = Vec::new();
        for (s, t) in &vols {
            for (wwn, edge) in [(s.wwn, addr(SE)), (t.wwn, addr(TE))] {
                if !storages.iter().any(|x| x.wwn == wwn) {
                    storages.push(StorageInput { wwn, edge });
                }
            }
        }
        let pairs: Vec<PairInput> = vols
            .iter()
            .enumerate()
            .map(|(p, (source, target))| PairInput { source: *source, target: *target, id: Some(Id(if config.ids == 2 { 1 + p as u16 } else { 1 })) })
            .collect();
        let all_cores: Vec<Addr> = (0..config.cores).map(|c| addr(CORE0 + c)).collect();
        let looped: Vec<Addr> = [addr(SE), addr(CORE0), addr(CORE0 + 1), addr(CORE0), addr(TE)].to_vec();
        let per_pair: Vec<Vec<Addr>> = (0..vols.len()).map(|p| if config.multipath { vec![addr(CORE0 + p as u8)] } else { all_cores.clone() }).collect();
        let mut routes: Vec<RouteInput> = Vec::new();
        for (p, (s, t)) in vols.iter().enumerate() {
            if routes.iter().any(|r| (r.source, r.target) == (s.wwn, t.wwn)) {
                continue;
            }
            let via = if config.route_loop { Via::Route(&looped) } else { Via::Cores(&per_pair[p]) };
            routes.push(RouteInput { source: s.wwn, target: t.wwn, via });
        }
        let input = manager::Input {
            customer: CustomerId(1),
            storages: &storages,
            pairs: &pairs,
            ids: IdMethod::SameEdges,
            routes: &routes,
            reverse: if config.walk_back { Reverse::WalkBack } else { Reverse::Configured },
        };
        let m = Manager::configure(&input, faults).map_err(|e| format!("the management server refuses this world: {e}"))?;
        let c1 = manager::check_c1(&m.tables, FaultSet::NONE).is_ok();
        let rows = m.tables.pairs.iter().copied().collect();
        Ok(RelayModel { config, variant, faults, routing: m.tables.routing, rows, c1 })
    }

    /// The volume pairs of `config`: (source, target).
    fn vols(config: &Config) -> Vec<(VolRef, VolRef)> {
        let mut v = vec![(SRC, TGT)];
        if config.pairs == 2 {
            v.push(if config.multipath { (SRC2_MULTI, TGT2_MULTI) } else { (SRC2, TGT2) });
        }
        v
    }

    /// Pair `p`'s (source, target).
    pub fn pair_vols(&self, p: u8) -> (VolRef, VolRef) {
        let r = &self.rows[usize::from(p)];
        (r.source, r.target)
    }

    /// The pair of an entry (by its 801/802, either direction), if it is one of the world's.
    pub fn pair_of(&self, e: &LogEntry<Wid>) -> Option<u8> {
        self.rows
            .iter()
            .position(|r| (r.source, r.target) == (e.source, e.target) || (r.source, r.target) == (e.target, e.source))
            .map(|p| p as u8)
    }

    /// The world's block (an index of SS's and TS's `vol`) of pair `p`'s block `local`.
    pub fn global_block(&self, p: u8, local: u32) -> usize {
        usize::from(p) * usize::from(self.config.blocks) + local as usize
    }

    /// The pair a world's block belongs to, and its block in that pair.
    pub fn local_block(&self, g: u8) -> (u8, u8) {
        (g / self.config.blocks, g % self.config.blocks)
    }

    /// The blocks of the world: `blocks` per pair.
    pub fn world_blocks(&self) -> u8 {
        self.config.blocks * self.config.pairs
    }

    /// The order assurance IDs, in order (`Id(1)`, then `Id(2)` if any).
    pub fn ids(&self) -> impl Iterator<Item = Id> {
        (1..=u16::from(self.config.ids)).map(Id)
    }

    /// The ID of pair `p`.
    pub fn id_of_pair(&self, p: u8) -> Id {
        self.rows[usize::from(p)].id
    }

    pub fn devices(&self) -> u8 {
        CORE0 + self.config.cores
    }

    /// SE's first seq: the text's configured CC, or (hardened) RC's base plus one.
    fn first_seq(&self) -> Seq {
        match self.variant {
            Variant::Faithful => Seq(self.config.cc0),
            Variant::Hardened => Seq(self.config.rc0 + 1),
        }
    }

    fn pair_state(&self) -> PairState {
        if self.config.setup {
            PairState::Simplex
        } else {
            PairState::Duplex
        }
    }

    pub fn initial(&self) -> State {
        let c = &self.config;
        let rows: Vec<PairRow> = self.rows.iter().map(|r| PairRow { state: self.pair_state(), ..*r }).collect();
        let se = SourceEdge::new(
            SourceConfig {
                me: addr(SE),
                variant: self.variant,
                faults: self.faults,
                r_max: c.r_max,
                first_seq: self.first_seq(),
                durable: c.durable,
                region_blocks: 1,
            },
            &rows,
        );
        let te = TargetEdge::new(
            TargetConfig {
                me: addr(TE),
                variant: self.variant,
                faults: self.faults,
                rc0: Seq(c.rc0),
                durable: c.durable,
                immediate: c.immediate,
            },
            &rows,
        );
        let cores = (0..c.cores)
            .map(|k| CoreDevice::new(CoreConfig { me: addr(CORE0 + k), batching: c.batching, faults: self.faults }))
            .collect();
        let cc_base = se.counters(ID).map_or(0, |x| x.cc.0);
        State {
            se,
            te,
            cores,
            net: heapless::Vec::new(),
            ss: Ss {
                state: self.pair_state(),
                issued: 0,
                outstanding: 0,
                before: [0; super::config::MAX_WRITES + 1],
                asked_create: false,
                asked_duplex: false,
                bitmap: Bitmap::EMPTY,
                vol: [0; MAX_BLOCKS],
                failed: false,
            },
            ts: Ts {
                state: self.pair_state(),
                vol: [0; MAX_BLOCKS],
                inflight: heapless::Vec::new(),
                errors: c.ts_errors,
                bitmap: Bitmap::EMPTY,
                app: 0,
            },
            loss: c.loss,
            dup: c.dup,
            reflector: Reflector::Awake,
            ghost: Ghost { cc_base, ..Ghost::default() },
        }
    }

    /// Whether `m` is the first of its run of equal entries in flight (equal copies are one
    /// choice).
    fn first_of_run(s: &State, m: usize) -> bool {
        m < s.net.len() && (m == 0 || s.net[m - 1] != s.net[m])
    }

    /// Whether a copy of held entry `e`, or an answer to it, is on its way: in flight, in a
    /// core's buffer, waiting in TE's log for its turn (seq above RC), or at TS. Its timer
    /// fires only when none is: the stipulated time exceeds every delay, so a timer fires only
    /// for what was lost or what TE will never answer (a copy at or below RC that the text's
    /// TE keeps without answering, F1).
    fn downstream(s: &State, e: &LogEntry<Wid>) -> bool {
        let same = |x: &LogEntry<Wid>| x.id == e.id && x.seq == e.seq && x.epoch == e.epoch;
        let waiting = |x: &&LogEntry<Wid>| same(x) && s.te.awaits(x);
        // While the route is down what is in flight is stuck: as good as lost to SE.
        (!s.ghost.partitioned && s.net.iter().any(|m| same(&m.entry)))
            || s.cores.iter().any(|c| c.buffer.iter().any(same))
            || s.te.log.iter().any(|x| waiting(&x))
            || s.ts.inflight.iter().any(|t| t.id == e.id && t.seq == e.seq)
    }

    /// The input `action` feeds the roles in `state`, read off the world; `None` for the
    /// world's own steps.
    pub fn input(&self, s: &State, action: &Action) -> Result<Option<Input>, String> {
        Ok(Some(match *action {
            Action::Create => Input::Create { source: SRC, target: TGT },
            Action::AskDuplex => Input::Duplex { source: SRC, target: TGT },
            // A suspended SS writes locally and records the block in 1211 (data 1211 (0)).
            Action::Write { .. } if s.ss.state.suspended() => return Ok(None),
            Action::Write { block } => {
                let (p, local) = self.local_block(block);
                let (source, target) = self.pair_vols(p);
                Input::Write { source, target, block: local, wid: s.ss.issued + 1 }
            }
            Action::Commit => Input::Commit,
            Action::Send { i } => Input::Send { i: i.into() },
            Action::Timer { i } => Input::Timer { i: i.into() },
            Action::Deliver { m, .. } => {
                let msg = s.net.get(usize::from(m)).ok_or(format!("nothing in flight at {m}"))?;
                match msg.to {
                    SE => Input::ToSe(msg.entry),
                    TE => Input::ToTe(msg.entry),
                    d => Input::ToCore { c: d - CORE0, entry: msg.entry },
                }
            }
            Action::Lose { .. } | Action::Duplicate { .. } => return Ok(None),
            Action::Flush { c } => Input::Flush { c },
            Action::Reflect { id } => Input::Reflect { id: Id(u16::from(id) + 1) },
            Action::ReflectorIdle => Input::ReflectorIdle,
            Action::ReflectorSleeps => Input::ReflectorSleeps,
            Action::Answer { k, ok } => {
                let t = s.ts.inflight.get(usize::from(k)).ok_or(format!("no RIO at TS at {k}"))?;
                let answer = match (ok, t.rio.kind()) {
                    (false, _) => TsAnswer::Rejected,
                    (true, Kind::Resync) => TsAnswer::Dpok(s.ts_bitmap()),
                    (true, _) => TsAnswer::Ok,
                };
                Input::Answer { id: t.id, seq: t.seq, answer }
            }
            Action::SiteFails { se_too: true } => Input::Crash { d: SE },
            Action::SiteFails { se_too: false } | Action::AppWrite { .. } => return Ok(None),
            Action::Detect => Input::Suspend,
            Action::Partition | Action::Mend => return Ok(None),
            Action::Notify => Input::GivenUp { epoch: s.ghost.gave_up_epoch },
            Action::Resync => Input::Resync { source: SRC, target: TGT },
            Action::Copy { block } => Input::Write { source: SRC, target: TGT, block, wid: s.ss.vol[usize::from(block)] },
            Action::Expire => Input::Expire,
            Action::Leftovers => Input::Leftovers,
            Action::Crash { d } => Input::Crash { d },
            Action::Restart { d } => Input::Restart { d },
        }))
    }

    /// Feed `action`'s input to the roles of `state`; the world is not touched. Replay on the
    /// roles calls this.
    pub fn drive_roles(&self, state: &mut State, action: &Action) -> Result<(), String> {
        if let Some(input) = self.input(state, action)? {
            feed(&mut state.se, &mut state.te, &mut state.cores, &mut state.reflector, &self.routing, input)?;
        }
        Ok(())
    }

    fn up(s: &State, d: u8) -> bool {
        match d {
            SE => s.se.up,
            TE => s.te.up,
            c => s.cores.get(usize::from(c - CORE0)).is_some_and(|x| x.up),
        }
    }

    fn may_crash(&self, d: u8) -> bool {
        match d {
            SE => self.config.crash_se,
            TE => self.config.crash_te,
            _ => self.config.crash_core && d < self.devices(),
        }
    }

    /// Whether `action` may be taken in `s` (the world's guards; the roles decide the rest).
    fn enabled(&self, s: &State, action: &Action) -> bool {
        let c = &self.config;
        let room = s.net.len() < usize::from(c.net);
        match *action {
            // A world of false detection is one where the source site does not fail.
            Action::SiteFails { se_too } => {
                c.failover && !c.false_detection && !s.ss.failed && (!se_too || (c.se_dies && s.se.up))
            }
            Action::Detect => c.failover && (s.ss.failed || c.false_detection) && !s.ghost.detected && s.te.up,
            Action::Expire => s.te.can_expire(0),
            Action::AppWrite { block } => {
                block < c.blocks
                    && s.ts.app < c.app_writes
                    && s.ts.state == PairState::FailureSuspend
                    && (s.te.app_may_restart(0) || (c.partition && s.ghost.notified && s.ghost.era == 0))
            }
            Action::Leftovers => {
                c.immediate && s.te.up && s.te.pairs[0].failover == Failover::Done && !s.te.pairs[0].leftovers_taken
            }
            Action::Partition => c.partition && !s.ghost.partitioned && !s.ghost.mended,
            Action::Mend => s.ghost.partitioned && s.se.pairs[0].state == PairState::FailureSuspend,
            Action::Notify => c.partition && s.ghost.gave_up && !s.ghost.notified && s.te.up,
            Action::Resync => {
                c.resync
                    && s.ghost.mended
                    && s.ghost.era == 0
                    && s.se.up
                    && s.se.pairs[0].state.suspended()
                    && s.ss.state.suspended()
                    && s.ss.outstanding == 0
            }
            Action::Copy { block } => {
                block < c.blocks
                    && s.ss.state == PairState::DuplexPending
                    && s.ss.bitmap.marked(block.into())
                    && s.ss.outstanding == 0
                    && s.se.up
            }
            Action::Create => c.setup && s.ss.state == PairState::Simplex && !s.ss.asked_create && s.se.up,
            // After the resync's copy: DP -> D by the Fig. 11 handshake (note 4.8).
            Action::AskDuplex if s.ss.state == PairState::DuplexPending => {
                c.resync && s.ss.bitmap.is_empty() && !s.ss.asked_duplex && s.ss.outstanding == 0 && s.se.up
            }
            Action::AskDuplex => {
                c.setup
                    && s.ss.state == PairState::InitialCopying
                    && !s.ss.asked_duplex
                    && s.ss.outstanding == 0
                    && s.ss.issued >= 1
                    && s.se.up
            }
            Action::Write { block } => {
                block < self.world_blocks()
                    && !s.ss.failed
                    && s.ghost.era == 0
                    && s.ss.issued < c.writes
                    && (s.ss.outstanding.count_ones() as u8) < c.outstanding
                    && (s.ss.state.copying() || s.ss.state.suspended())
                    && s.se.up
            }
            Action::Commit => !s.se.staged.is_empty() && s.se.up,
            Action::Send { i } => room && s.se.sendable().any(|j| j == usize::from(i)),
            Action::Timer { i } => {
                s.se.timers().any(|j| j == usize::from(i))
                    && s.se.log.get(usize::from(i)).is_some_and(|h| !Self::downstream(s, &h.entry))
            }
            // An entry for a device that is down waits for it (what its crash loses is what it
            // held, not what was still on the wire).
            Action::Deliver { m, from, to } => {
                Self::first_of_run(s, m.into())
                    && s.net.get(usize::from(m)).is_some_and(|x| x.from == from && x.to == to)
                    && Self::up(s, to)
                    && !s.ghost.partitioned
                    && (to < CORE0 || s.cores.get(usize::from(to - CORE0)).is_some_and(|c| !c.buffer.is_full()))
            }
            Action::Lose { m } => s.loss > 0 && Self::first_of_run(s, m.into()),
            Action::Duplicate { m } => s.dup > 0 && room && Self::first_of_run(s, m.into()),
            Action::Flush { c: k } => s
                .cores
                .get(usize::from(k))
                .is_some_and(|x| x.batch_due() && s.net.len() + x.buffer.len() <= super::config::MAX_NET),
            Action::Reflect { id } => {
                id < c.ids
                    && s.reflector == Reflector::Awake
                    && !s.ts.inflight.is_full()
                    && s.te.reflectable().any(|x| x == Id(u16::from(id) + 1))
            }
            // TE's reflector thread, where the world has one: it sleeps when it finds nothing.
            Action::ReflectorIdle => {
                c.reflector && s.te.up && s.reflector == Reflector::Awake && s.te.reflectable().next().is_none()
            }
            Action::ReflectorSleeps => s.te.up && s.reflector == Reflector::Checked,
            Action::Answer { k, ok } => usize::from(k) < s.ts.inflight.len() && (ok || s.ts.errors > 0),
            Action::Crash { d } => self.may_crash(d) && s.ghost.crashed & (1 << d) == 0 && Self::up(s, d),
            Action::Restart { d } => d < self.devices() && !Self::up(s, d) && !(d == SE && s.ghost.se_dead),
        }
    }

    /// Record the entries SE numbered since the last step (note 6.0's `H`).
    fn record_created(&self, s: &mut State) {
        for h in s.se.log.iter() {
            if !h.retained || !h.numbered || !h.entry.kind().sequenced() {
                continue;
            }
            let pair = self.pair_of(&h.entry).unwrap_or(0);
            let (block, wid) = match h.entry.body {
                Body::Wr { block, data, .. } => (self.global_block(pair, block.0) as u8, data),
                _ => (0, 0),
            };
            let kind = h.entry.kind();
            let era = s.ghost.era;
            let id = ix(h.entry.id);
            let known = s.ghost.created.iter().any(|c| c.era == era && c.id == id && c.kind == kind && (kind != Kind::Wr || c.wid == wid));
            if !known {
                let _ = s.ghost.created.push(Created { seq: h.entry.seq, kind, block, wid, era, id });
            }
        }
    }

    /// SS on SE's answer.
    fn ss_hears(s: &mut State, reply: SsReply) {
        match reply {
            SsReply::Icok => s.ss.state = PairState::InitialCopying,
            SsReply::Dok => s.ss.state = PairState::Duplex,
            SsReply::Dpok(b) => {
                s.ss.bitmap = s.ss.bitmap.union(b);
                s.ss.state = PairState::DuplexPending;
            }
            SsReply::FailureSuspend => s.ss.state = PairState::FailureSuspend,
            SsReply::Wrok => {}
        }
    }

    /// Put an entry a device sent in flight. `None` when the network is full.
    fn put(s: &mut State, from: u8, visited: u8, t: Transmit<Wid>) -> Option<()> {
        if s.ghost.partitioned {
            // The route is down: what is sent now is lost.
            return Some(());
        }
        s.send(Msg { to: device(t.to), from, visited: visited | (1 << from), entry: t.entry }).then_some(())
    }

    /// An answer TE sent: S5 wants its seq applied.
    fn te_answers(s: &mut State, t: Option<Transmit<Wid>>) -> Option<()> {
        let Some(t) = t else { return Some(()) };
        if !s.applied(ix(t.entry.id), t.entry.seq) {
            s.ghost.early_answer = true;
        }
        Self::put(s, TE, 0, t)
    }

    /// S7: entries that left TE's log since `before` were reflected (or are duplicates of
    /// reflected ones), or are of an epoch TE left behind (a resync's re-base drops them: SE
    /// converted them into its bitmap at the give-up).
    fn te_removed(s: &mut State, before: &Te) {
        for e in before.log.iter() {
            let still = s.te.log.iter().filter(|x| *x == e).count();
            let was = before.log.iter().filter(|x| *x == e).count();
            let stale = s.te.counters(e.id).is_some_and(|c| c.epoch > e.epoch);
            if still < was && !stale && !s.applied(ix(e.id), e.seq) {
                s.ghost.te_dropped = true;
            }
        }
    }

    fn step(&self, s: &mut State, action: Action) -> Option<()> {
        let input = self.input(s, &action).ok()?;
        let se_before = s.se.clone();
        let te_before = s.te.clone();
        let staged_wid = s.se.staged.first().and_then(|h| match h.entry.body {
            Body::Wr { data, .. } => Some(data),
            _ => None,
        });
        let out = match input {
            Some(i) => Some(feed(&mut s.se, &mut s.te, &mut s.cores, &mut s.reflector, &self.routing, i).ok()?),
            None => None,
        };
        match (action, out) {
            (Action::Create, Some(Output::Control(r))) => {
                r.ok()?;
                s.ss.asked_create = true;
            }
            (Action::AskDuplex, Some(Output::Control(r))) => {
                r.ok()?;
                s.ss.asked_duplex = true;
            }
            (Action::Write { block }, Some(Output::Write(r))) => {
                let wid = s.ss.issued + 1;
                match r {
                    Ok(WriteAck::Logged { .. } | WriteAck::Dropped) => s.ghost.acked |= bit(wid),
                    Ok(WriteAck::Staged) => s.ss.outstanding |= bit(wid),
                    Err(Refused::State(_)) => {
                        // SS fails over to failure Suspend and records the write in 1211.
                        s.ss.state = PairState::FailureSuspend;
                        s.ss.bitmap.mark(rcopy::relay::Block(block.into()), 1, 1);
                        s.ghost.acked |= bit(wid);
                    }
                    Err(_) => return None,
                }
                s.ss.before[usize::from(wid)] = s.ghost.acked & !bit(wid);
                s.ss.issued = wid;
                s.ss.vol[usize::from(block)] = wid;
            }
            (Action::Write { block }, None) => {
                let wid = s.ss.issued + 1;
                s.ss.bitmap.mark(rcopy::relay::Block(block.into()), 1, 1);
                s.ghost.acked |= bit(wid);
                s.ss.before[usize::from(wid)] = s.ghost.acked & !bit(wid);
                s.ss.issued = wid;
                s.ss.vol[usize::from(block)] = wid;
            }
            (Action::Commit, Some(Output::Write(Ok(_)))) => {
                let wid = staged_wid?;
                s.ss.outstanding &= !bit(wid);
                s.ghost.acked |= bit(wid);
            }
            (Action::Send { .. }, Some(Output::Sent(sent))) => {
                if s.se.log.iter().filter(|h| h.retained).count() < se_before.log.iter().filter(|h| h.retained).count() {
                    // B1: the entry left SE's log as it was sent.
                    s.ghost.se_dropped = true;
                }
                if let Some((_, reply)) = sent.reply {
                    Self::ss_hears(s, reply);
                }
                Self::put(s, SE, 0, sent.transmit)?;
            }
            (Action::Timer { .. }, Some(Output::Timer(t))) => {
                if let Timeout::GaveUp { .. } = t {
                    s.ghost.gave_up = true;
                    s.ghost.gave_up_epoch = se_before.counters(ID).map_or(Default::default(), |c| c.epoch);
                    for h in se_before.log.iter() {
                        if s.se.log.iter().any(|x| x.entry == h.entry) {
                            continue;
                        }
                        if let Body::Wr { data, .. } = h.entry.body {
                            s.ghost.converted |= bit(data);
                        }
                        if h.retained && h.numbered {
                            if let Some(n) = s.ghost.given_up.get_mut(usize::from(ix(h.entry.id))) {
                                *n += 1;
                            }
                        }
                    }
                    Self::ss_hears(s, SsReply::FailureSuspend);
                }
            }
            (Action::Deliver { m, .. }, Some(out)) => {
                let msg = s.net.remove(usize::from(m));
                if msg.visited & (1 << msg.to) != 0 {
                    s.ghost.revisited = true;
                }
                match out {
                    Output::AtSe(SourceReceived::Deleted { reply, .. }) => {
                        // S6: what an answer deleted was applied at TS.
                        for h in se_before.log.iter() {
                            if h.retained && !s.se.log.iter().any(|x| x.entry == h.entry) && !s.applied(ix(h.entry.id), h.entry.seq) {
                                s.ghost.se_dropped = true;
                            }
                        }
                        if let Some(r) = reply {
                            Self::ss_hears(s, r);
                        }
                    }
                    Output::AtSe(_) => {}
                    Output::AtTe(got, answer) => {
                        if got == TargetReceived::Sok && s.ghost.sok.is_none() {
                            s.ghost.sok = Some((ix(msg.entry.id), msg.entry.seq));
                        }
                        Self::te_answers(s, answer)?;
                        Self::te_removed(s, &te_before);
                    }
                    Output::AtCore(CoreStep::Forward(t)) => Self::put(s, msg.to, msg.visited, t)?,
                    Output::AtCore(_) => {}
                    _ => return None,
                }
            }
            (Action::Lose { m }, None) => {
                s.net.remove(usize::from(m));
                s.loss -= 1;
            }
            (Action::Duplicate { m }, None) => {
                let copy = s.net[usize::from(m)];
                s.send(copy).then_some(())?;
                s.dup -= 1;
            }
            (Action::Flush { c }, Some(Output::Flushed(ts))) => {
                for t in ts {
                    Self::put(s, CORE0 + c, 0, t)?;
                }
            }
            (Action::Reflect { .. }, Some(Output::Reflected(r))) => match r {
                Reflected::ToTs(t) => {
                    if te_before.pairs.get(usize::from(t.pair)).is_some_and(|p| p.failover == Failover::Done) && t.rio.kind() == Kind::Wr {
                        // S11: a write from the RCN goes to TS after 1310.
                        s.ghost.breach = true;
                    }
                    s.ts.inflight.push(t).ok()?
                }
                // B31: TE dropped the fenced pair's entry unapplied (S7 judges it).
                Reflected::PassedOver { .. } => Self::te_removed(s, &te_before),
            },
            (Action::Answer { k, ok }, Some(Output::Answered(answer))) => {
                let t = s.ts.inflight.remove(usize::from(k));
                if ok {
                    self.ts_applies(s, &t);
                } else {
                    s.ts.errors -= 1;
                }
                Self::te_answers(s, answer)?;
                Self::te_removed(s, &te_before);
            }
            (Action::Partition, None) => s.ghost.partitioned = true,
            (Action::Mend, None) => {
                s.ghost.partitioned = false;
                s.ghost.mended = true;
            }
            (Action::Notify, Some(Output::Done)) => {
                // TE tells TS to enter failure Suspend: TS records target writes in 1213.
                s.ghost.notified = true;
                if s.te.pairs[0].row.state == PairState::FailureSuspend {
                    s.ts.state = PairState::FailureSuspend;
                }
            }
            (Action::Resync, Some(Output::Control(r))) => {
                r.ok()?;
                // A new era of SE's sequence (re-based when hardened): what it creates from
                // now on is judged against what TS applies once it took the resync.
                s.ghost.era += 1;
                let era = s.ghost.era;
                for c in s.ghost.created.iter_mut().filter(|c| c.kind == Kind::Resync) {
                    c.era = era;
                }
            }
            (Action::Copy { block }, Some(Output::Write(r))) => match r {
                Ok(WriteAck::Logged { .. }) => s.ss.bitmap.0 &= !(1u64 << block),
                _ => return None,
            },
            (Action::SiteFails { se_too }, _) => {
                s.ss.failed = true;
                if se_too {
                    s.ghost.se_dead = true;
                    s.ghost.crashed |= 1 << SE;
                    s.ghost.accepted = s.ghost.acked;
                }
            }
            (Action::Detect, Some(Output::Suspended(t))) => {
                s.ghost.detected = true;
                if let Some(t) = t {
                    Self::put(s, TE, 0, t)?;
                }
            }
            (Action::Expire, Some(Output::Done)) => {
                s.ghost.expired = true;
                s.ghost.accepted = s.ghost.acked;
            }
            (Action::AppWrite { block }, None) => {
                s.ts.app += 1;
                s.ts.vol[usize::from(block)] = APP + s.ts.app;
                s.ts.bitmap.mark(rcopy::relay::Block(block.into()), 1, 1);
                s.ghost.app_blocks |= 1 << block;
            }
            (Action::Leftovers, Some(Output::Leftovers(left))) => {
                for e in left.iter() {
                    if let Body::Wr { block, data, .. } = e.body {
                        if s.ghost.app_blocks & (1 << block.0) != 0 {
                            s.ghost.breach = true;
                        }
                        if let Some(v) = s.ts.vol.get_mut(block.0 as usize) {
                            *v = data;
                        }
                        let _ = s.ghost.applied.push((ix(e.id), e.seq));
                    }
                }
            }
            (Action::Crash { d }, Some(Output::Done)) => {
                s.ghost.crashed |= 1 << d;
                if d == TE {
                    // S7: a volatile log (B22, or the text's optional disk 313 left out) loses
                    // what TE stored and had not reflected.
                    Self::te_removed(s, &te_before);
                    // The FC link resets: TS finishes the RIOs the dead TE had sent it (their
                    // answers are lost) before it takes any from the restarted TE.
                    let pending = core::mem::take(&mut s.ts.inflight);
                    for t in pending.iter() {
                        self.ts_applies(s, t);
                    }
                    s.ghost.unconfirmed = pending.last().map(|t| (ix(t.id), t.seq));
                }
            }
            (Action::Restart { .. } | Action::ReflectorIdle | Action::ReflectorSleeps, Some(Output::Done)) => {}
            _ => return None,
        }
        self.record_created(s);
        if !s.ghost.setup_done && self.config.setup && [s.ss.state, s.se.pairs[0].state, s.te.pairs[0].row.state, s.ts.state].iter().all(|x| *x == PairState::Duplex) {
            s.ghost.setup_done = true;
        }
        if te_before.pairs[0].failover != Failover::Done && s.te.pairs[0].failover == Failover::Done {
            self.fenced(s);
        }
        Some(())
    }

    /// TE did 1310: RIO(SOK) to TS, which enters failure Suspend and tells its host (1311).
    /// S12(b): on the SOK path (not the timeout's), everything SE numbered before the SOK is
    /// applied.
    fn fenced(&self, s: &mut State) {
        s.ts.state = PairState::FailureSuspend;
        if let (Some((id, sok)), false) = (s.ghost.sok, s.ghost.expired) {
            let missing = s.created_now().any(|c| c.id == id && c.seq < sok && !s.applied(c.id, c.seq));
            if missing {
                s.ghost.sok_loss = true;
            }
        }
    }

    /// TS takes TE's RIO (1608, 2106, 2206): the pair state it moves to, the block it writes.
    fn ts_applies(&self, s: &mut State, t: &rcopy::relay::ToTs<Wid>) {
        let id = ix(t.id);
        match t.rio {
            Body::Wr { block, data, .. } => {
                let g = self.global_block(t.pair, block.0);
                if s.ghost.ts_era > 0 && s.ghost.app_blocks & (1 << g) != 0 {
                    // N6: the resync's copy overwrites what the target application wrote.
                    s.ghost.app_overwritten = true;
                }
                if let Some(v) = s.ts.vol.get_mut(g) {
                    *v = data;
                }
            }
            Body::PairCreate => s.ts.state = PairState::InitialCopying,
            Body::Duplex => {
                s.ts.state = PairState::Duplex;
                s.ts.bitmap = Bitmap::EMPTY;
            }
            // Data 1206: DP, and 1213 goes out in the DPOK. TS is in the resync's era now.
            // (1213 stays until the pair is back in Duplex: the resync covers it.)
            Body::Resync => {
                s.ts.state = PairState::DuplexPending;
                s.ghost.ts_era = s.ghost.era;
                s.ghost.applied.clear();
                s.ghost.unconfirmed = None;
            }
            _ => {}
        }
        if let (Body::Wr { data, .. }, true) = (t.rio, s.ghost.ts_era > 0) {
            // S14: what TS takes after the resync is of the resync's sequence.
            if !s.created_now().any(|c| c.kind == Kind::Wr && c.id == id && c.seq == t.seq && c.wid == data) {
                s.ghost.resurrected = true;
            }
        }
        // A re-apply of the RIO whose answer TE's crash lost (the restarted TE sends it again,
        // the same data to the same block, nothing between) is not a new application.
        if s.ghost.unconfirmed.take() == Some((id, t.seq)) && s.ghost.applied.last() == Some(&(id, t.seq)) {
            return;
        }
        // N5: an entry of another ID numbered after this one was applied before it.
        let rank = |i: u8, q: Seq| s.created_now().position(|c| c.id == i && c.seq == q);
        if let Some(mine) = rank(id, t.seq) {
            if s.ghost.applied.iter().any(|&(j, q)| j != id && rank(j, q).is_some_and(|r| r > mine)) {
                s.ghost.cross_order = true;
            }
        }
        let _ = s.ghost.applied.push((id, t.seq));
    }
}

impl RelayModel {
    /// The fairness classes: each link's delivery, each timer and process (SE's sender and
    /// its timers, each core's batch timer, TE's reflection, TS's answer, SS's program, a
    /// crashed device's restart). Loss, duplication, crashes and host writes are not fair.
    pub fn fair_classes(&self) -> Vec<String> {
        let n = self.devices();
        let mut v: Vec<String> =
            ["SE sends", "SE timers", "TE reflects", "TS answers", "SS program", "SE commits", "target host", "TE failover timer", "operator", "maintenance", "management server"]
                .map(String::from)
                .to_vec();
        v.extend((0..self.config.cores).map(|c| format!("{} batch timer", device_name(CORE0 + c))));
        v.extend((0..n).map(|d| format!("{} restarts", device_name(d))));
        for from in 0..n {
            for to in 0..n {
                v.push(format!("link {}->{}", device_name(from), device_name(to)));
            }
        }
        v
    }

    pub fn fair_class(&self, action: &Action) -> Option<usize> {
        let n = usize::from(self.devices());
        let cores = usize::from(self.config.cores);
        match *action {
            Action::Send { .. } => Some(0),
            Action::Timer { .. } => Some(1),
            Action::Reflect { .. } | Action::ReflectorIdle | Action::ReflectorSleeps => Some(2),
            Action::Answer { ok: true, .. } => Some(3),
            Action::Create | Action::AskDuplex | Action::Resync | Action::Copy { .. } => Some(4),
            Action::Commit => Some(5),
            Action::Detect => Some(6),
            Action::Expire => Some(7),
            Action::Leftovers => Some(8),
            Action::Mend => Some(9),
            Action::Notify => Some(10),
            Action::Flush { c } => Some(11 + usize::from(c)),
            Action::Restart { d } => Some(11 + cores + usize::from(d)),
            Action::Deliver { from, to, .. } => Some(11 + cores + n + usize::from(from) * n + usize::from(to)),
            Action::Answer { ok: false, .. }
            | Action::Write { .. }
            | Action::Lose { .. }
            | Action::Duplicate { .. }
            | Action::Crash { .. }
            | Action::SiteFails { .. }
            | Action::Partition
            | Action::AppWrite { .. } => None,
        }
    }
}

impl State {
    /// TS's bitmap 1213.
    pub fn ts_bitmap(&self) -> Bitmap {
        self.ts.bitmap
    }
}

impl Model for RelayModel {
    type State = State;
    type Action = Action;

    fn init_states(&self) -> Vec<State> {
        vec![self.initial()]
    }

    fn actions(&self, s: &State, actions: &mut Vec<Action>) {
        let c = &self.config;
        let mut cands: Vec<Action> = vec![Action::Create, Action::AskDuplex, Action::Commit];
        cands.extend((0..c.ids).map(|id| Action::Reflect { id }));
        cands.extend([Action::ReflectorIdle, Action::ReflectorSleeps]);
        cands.extend((0..self.world_blocks()).map(|block| Action::Write { block }));
        for i in 0..s.se.log.len() as u8 {
            cands.push(Action::Send { i });
            cands.push(Action::Timer { i });
        }
        for (m, x) in s.net.iter().enumerate() {
            let m = m as u8;
            cands.extend([Action::Deliver { m, from: x.from, to: x.to }, Action::Lose { m }, Action::Duplicate { m }]);
        }
        cands.extend((0..c.cores).map(|c| Action::Flush { c }));
        for k in 0..s.ts.inflight.len() as u8 {
            cands.extend([Action::Answer { k, ok: true }, Action::Answer { k, ok: false }]);
        }
        for d in 0..self.devices() {
            cands.extend([Action::Crash { d }, Action::Restart { d }]);
        }
        cands.extend([Action::SiteFails { se_too: false }, Action::SiteFails { se_too: true }, Action::Detect, Action::Expire, Action::Leftovers]);
        cands.extend([Action::Partition, Action::Mend, Action::Notify, Action::Resync]);
        cands.extend((0..c.blocks).map(|block| Action::Copy { block }));
        cands.extend((0..c.blocks).map(|block| Action::AppWrite { block }));
        actions.extend(cands.into_iter().filter(|a| self.enabled(s, a)));
    }

    fn next_state(&self, s: &State, action: Action) -> Option<State> {
        if !self.enabled(s, &action) {
            return None;
        }
        let mut next = s.clone();
        self.step(&mut next, action)?;
        Some(next)
    }

    fn properties(&self) -> Vec<Property<Self>> {
        super::properties::all()
    }
}
