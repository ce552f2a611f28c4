//! Versioned binary wire encoding of [`Message`](super::Message) with a checksum.
//! (Written by the wire-codec task; see the tests in `impl/tests/`.)
