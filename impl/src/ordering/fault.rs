//! The seeded faults of note section 6.1, each a fault point in this module's roles.

crate::seeded_faults! {
    /// A seeded fault of the ordering protocol. B15 (no heartbeat) is not here: it is the faithful
    /// variant itself, a gap of the text. B18-B20 are not in the note: a bug of bounded storage,
    /// one of the takeover, and the hardened rounds without their retry.
    pub enum Fault {
        /// Slave takes the longest run of sequence numbers anywhere, not the run anchored at the
        /// frontier (Fig. 9 read literally).
        B1 = 1,
        /// Slave skips streams with nothing in the cache (never received, or all destaged).
        B2 = 2,
        /// No master: each RDS takes its own minimum as its limit.
        B3 = 3,
        /// Master proceeds with a subset of the slaves' reports.
        B4 = 4,
        /// Each stream destages its contiguous prefix without consulting the limit.
        B5 = 5,
        /// Destage in arrival order instead of time-stamp order.
        B6 = 6,
        /// Prior art: no sequence numbers; a stream's bound is the largest time stamp received.
        B7 = 7,
        /// Sender picks the latest unsent write instead of the earliest (step 600).
        B8 = 8,
        /// Stamping detached from enqueue: a stamped write becomes visible to the sender later.
        B9 = 9,
        /// Each LDS stamps from its own (skewed) clock instead of the common time base.
        B10 = 10,
        /// No duplicate suppression: step 800 stores every packet, even one already destaged.
        B11 = 11,
        /// A resend draws a fresh sequence number (re-runs step 601).
        B12 = 12,
        /// The sender releases an entry when it sends it, not when the ack arrives.
        B13 = 13,
        /// Destage only strictly below the limit (claim 22's "earlier than") instead of at or below.
        B14 = 14,
        /// In-place coalescing: a host write to a position with a pending or unacked entry overwrites
        /// that entry's data and keeps its old time stamp and sequence number.
        B16 = 16,
        /// The frontier recomputed from the cache alone: after destaging, an empty cache or one
        /// that starts after a gap is taken as "no information" (minus infinity).
        B17 = 17,
        /// A packet the full cache cannot take is acknowledged anyway (and dropped): ack before store.
        B18 = 18,
        /// Takeover keeps the writes past the cut in the cache, where a later destage could apply
        /// them over the consistent image.
        B19 = 19,
        /// Rounds never retried: a hardened slave does not repeat its report, nor does the master
        /// answer a repeated one, so a lost report or limit stalls the round at step 903.
        B20 = 20,
    }
}
