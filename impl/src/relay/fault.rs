//! The seeded faults of note section 7.2 (and B34), each a fault point in this module's roles.
//! F1-F9 of section 7.1 are not fault points: they are the faithful variant itself.

crate::seeded_faults! {
    /// A seeded fault of the relay protocol.
    pub enum Fault {
        /// S6, S8, L1: SE deletes an LE(WR) when it sends it, not when its LE(WROK) arrives.
        B1 = 1,
        /// S5, S7, S8: TE sends LE(WROK) when it stores an LE(WR), before reflecting it.
        B2 = 2,
        /// S5, S6, L1: TE's LE(WROK) takes its seq from RC after the increment plus one, not
        /// from the WR it answers.
        B3 = 3,
        /// S1, S3/S4, L1: a resend runs 1902-1903 again: the held write gets a new seq.
        B4 = 4,
        /// S3: TE stores every copy and reflects each copy of seq RC+1 it found (RC += 1 each).
        B5 = 5,
        /// S6, S8: SE matches an LE(WROK) to its entry by seq alone, ignoring the ID.
        B6 = 6,
        /// S3, L1: the counter bases are off by one: CC starts at RC's base (seq = RC).
        B7 = 7,
        /// S1, S3: 1902 and 1903 are not one step: two RIO(WR) handlers read CC before either
        /// increments it (the shared SE; in the model, SE's sequencing in two steps).
        B8 = 8,
        /// S3, S4: TE reflects entries in arrival order, no RC+1 gate.
        B9 = 9,
        /// S3, S4: TE sends TS the next RIO(WR) of an ID before TS answered the last one.
        B10 = 10,
        /// S2: SE answers RIO(WROK) to SS before it numbers the entry: the entry is numbered
        /// when it is sent.
        B11 = 11,
        /// S3, S10, L1, L3: control entries (pair creation, Duplex transition) bypass the RC+1
        /// gate, as the literal 2104 / 2204.
        B12 = 12,
        /// S12(b): TE fences on any LE(SOK), without "no missing log entries".
        B13 = 13,
        /// S11: TE goes on reflecting the pair's entries after 1310 (no fence).
        B14 = 14,
        /// S13, S8: "combine" replaces the bitmap instead of ORing it (data 1209).
        B15 = 15,
        /// S14, S4: resync resets the counters with no epoch: a stale entry of the old
        /// sequence can be reflected, and its WROK delete a new entry.
        B16 = 16,
        /// L6, L1: resync without re-basing: the hole give-up left stays, and the resync and
        /// everything after it wait at 2003 forever.
        B17 = 17,
        /// S11: leftovers read out through 501 are applied after the application restarted.
        B18 = 18,
        /// S4: leftovers are applied across a gap (every retrieved entry, in seq order).
        B19 = 19,
        /// S8, S13: after 1304(B) SE still answers RIO(WR) with WROK, neither sending the
        /// entry nor recording it in 727.
        B20 = 20,
        /// S9: DC += 1 even when no held entry matches (a duplicate WROK, ICOK or DOK).
        B21 = 21,
        /// S3, L1: RC is not durable: TE restarts with RC at its base.
        B22 = 22,
        /// S1, S8, S14: CC is not durable while TE re-acks seq <= RC: SE restarts with CC at
        /// its base, and TE re-acks the new writes without applying them.
        B23 = 23,
        /// S8, S13: SE's log is volatile: a crash loses acknowledged entries and 727.
        B24 = 24,
        /// S10: SE goes to IC or D (and tells SS) when it sends the control entry, not when
        /// ICOK / DOK arrives.
        B25 = 25,
        /// S15, L1: the route check admits a repeated device, and "next after own" loops.
        B26 = 26,
        /// S15, L1: TE's LE(WROK) copies 801/802 instead of swapping them, so it is routed
        /// toward TE again.
        B27 = 27,
        /// L1: lost wakeup: TE's reflector checks for RC+1, then sleeps without re-checking.
        B28 = 28,
        /// L1, L2: a core flushes its batch only when it holds at least two entries, not
        /// after the fixed time.
        B29 = 29,
        /// S8, S13: give-up drops the held entries without ORing them into 727.
        B30 = 30,
        /// S4, L1: failover fences one pair of a multi-pair ID while another pair of the ID
        /// keeps reflecting.
        B31 = 31,
        /// S3: TE counts RC += 1 when it sends TS the RIO(WR), before TS answers; a rejected
        /// write is never retried.
        B32 = 32,
        /// L4: TE's failover timer is never armed (1305 omitted): with SE dead, TE drains
        /// forever.
        B33 = 33,
        /// L5: SE resends forever and never gives up.
        B34 = 34,
    }
}
