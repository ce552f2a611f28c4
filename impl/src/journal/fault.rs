//! The seeded faults of note section 6, each a fault point in this module's roles: one bug of
//! the note's list for each property it names.

crate::seeded_faults! {
    /// A seeded fault of the journal protocol.
    pub enum Fault {
        /// S1.i: P acknowledges the host when it reserves ring space, before the journal is on I.
        B1 = 1,
        /// S1.ii: the drain stops at the end P last published (no scan on, 1306-1307 omitted).
        B2 = 2,
        /// S1.iv: each write is acknowledged when its own journal completes, not in id order.
        B3 = 3,
        /// S2: free space from the next position and the queue end only, ignoring the head.
        B4 = 4,
        /// S2/L2: P sets its head 626 from its own 631 instead of from S's 632.
        B5 = 5,
        /// S5: P publishes its reserved next position 628, journals still being written included.
        B6 = 6,
        /// S4: the drain omits the consecutive-id and increasing-time-stamp checks (1306).
        B7 = 7,
        /// S4: the drain checks only the first unit of a journal, not every block and the trailer.
        B8 = 8,
        /// S6: P drops a write's update info 108 when it acknowledges the host.
        B9 = 9,
        /// S7: S publishes its progress when it has read journals, before applying them.
        B10 = 10,
        /// S8: P's bitmap starts at the failure, not at the oldest unconfirmed journal.
        B11 = 11,
        /// S13.i: one unchanged heartbeat reading declares the peer dead.
        B12 = 12,
        /// S13.ii: S bumps its heartbeat only when it publishes progress, so an idle S looks dead.
        B13 = 13,
        /// S15: a coarse clock stamps consecutive journals alike (the text's drain test is
        /// "greater than").
        B14 = 14,
        /// S17: after a partial fetch S moves its head to the end of the cut journal.
        B15 = 15,
        /// L1: the region P publishes is refreshed only on host writes (1003 runs only then).
        B16 = 16,
        /// L4: a failed read of the peer's control info counts as a fresh heartbeat.
        B17 = 17,
        /// S9: resync by the source's bitmap alone, not the OR of both (1408 / 1411): blocks
        /// written on the target side after the split are never overwritten.
        B18 = 18,
        /// S10: the 1403 check with the roles swapped (S's start must not be newer than P's).
        B19 = 19,
        /// S12: P's restart rebuilds its bitmap only from journals it completed: a write stored
        /// on P's volume whose journal was cut by the crash is in no bitmap.
        B20 = 20,
        /// L5: a host write during the resync is stored at the source only and dirties its
        /// region again (no copy on write, 1410), so the copy may never catch up.
        B21 = 21,
        /// L3: the drain waits at a journal that fails its checks, as normal mode waits for
        /// one being written; P is dead, so the drain never ends.
        B22 = 22,
        /// S11: S's control area 612 is misconfigured onto P's 611, so S writes its records
        /// over 631 (where I does not enforce claim 4's write permission).
        B23 = 23,
        /// S2 (embodiment 5): P's head follows the fastest secondary, not the slowest, and
        /// frees journals a slower one has not taken.
        B24 = 24,
        /// S3 (embodiment 3): S applies a journal as it arrives from either intermediate,
        /// without waiting for the missing id before it.
        B25 = 25,
        /// S16: the resend after an intermediate fails reads the volume's current data, not the
        /// journal's image, so S gets a newer value under an older id.
        B26 = 26,
        /// S16: the resend gives the journal a new id, so S takes the same write twice.
        B27 = 27,
        /// S16: S does not drop an id it already has: a journal read from the failed
        /// intermediate before it failed and then resent is applied twice.
        B28 = 28,
        /// L6: no resend: the journals on the failed intermediate are forgotten, and S waits
        /// for the first of them forever.
        B29 = 29,
        /// L6 (embodiments 3 and 4): when a path fails, P resends only the journals the host
        /// has not been told of, not every one S has not confirmed: an acknowledged journal S
        /// had not read is lost, and S waits for it forever.
        B30 = 30,
    }
}
