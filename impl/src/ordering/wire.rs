//! Versioned binary wire encoding of [`Message`] with a CRC-32C checksum.
//!
//! The note (`shared/protocols/seed-002.md`) lists the messages M1-M4 in section 3 and observes
//! that the text has no checksum (\[0003\]: IP has no error detection, and the invention adds
//! none; 4.13 "Corruption": a production system needs one). Section 9 (INTERPRETATION) sketches a
//! production wire format: `Data{ver, stream_id, seq, ts, tiebreak, unit, pos, len, crc32c,
//! payload}`, `Ack{stream_id, seq}`, `Report{slave, ts}`, `Limit{ts}` and an optional
//! `Heartbeat{stream_id, seq, ts}` that consumes a sequence number and carries no payload. This
//! module is that format for [`Message<Vec<u8>>`].
//!
//! # Layout, version 1
//!
//! Every frame is self-delimiting: the kind fixes the length of the body, and the only variable
//! part, the payload of M1, is length-prefixed. All integers are fixed-width big-endian.
//!
//! ```text
//! offset  size  field
//! 0       4     magic "RCPY"
//! 4       1     format version (VERSION = 2)
//! 5       1     kind: 1 Data, 2 Heartbeat, 3 Ack, 4 Report, 5 Limit
//! 6       n     body, by kind (below)
//! 6+n     4     CRC-32C (Castagnoli) of bytes 0 .. 6+n
//!
//! stream  = lds u16, rds u16, key u16                       (6 bytes)
//! ts      = time u64, lds u16, tie u32 (the tie-breaks, note S12)  (14 bytes)
//! addr    = unit u16, pos u32 (remote disk address 208, positioning info 209) (6 bytes)
//!
//! Data      (M1, payload Some): stream, seq u64, ts, addr, len u32, payload[len]  (38 + len)
//! Heartbeat (M1, payload None): stream, seq u64, ts, addr                         (34)
//! Ack       (M2):               stream, seq u64                                   (14)
//! Report    (M3):               rds u16, ts                                       (16)
//! Limit     (M4):               ts                                                (14)
//!
//! Version 1 had no `tie`; it is refused as an unsupported version.
//! ```
//!
//! A heartbeat has its own kind, so `Some(vec![])` (an empty write) and `None` (a heartbeat)
//! stay distinct. Every message has exactly one encoding, and [`decode`] accepts only that
//! encoding: whatever it accepts re-encodes to the same bytes.
//!
//! # Decoding untrusted bytes
//!
//! [`decode`] never panics and never allocates more than [`MAX_PAYLOAD`] bytes: it checks, in
//! this order, the magic, the version (so that a later version may change everything after the
//! version byte), the kind, the fixed fields, the payload length against [`MAX_PAYLOAD`] (before
//! allocating anything), that the payload and checksum are present, the checksum, and that
//! nothing follows the frame. A frame damaged in its kind or length therefore fails with
//! [`WireError::UnknownKind`], [`WireError::PayloadTooLarge`] or [`WireError::Truncated`]
//! rather than [`WireError::BadChecksum`]; all of them are rejections. Apart from the kind and
//! the payload length, which delimit the frame, no field is interpreted, and no payload is
//! copied, before the checksum has been verified.

use super::message::{DataPacket, Message};
use super::types::{RemoteAddr, StreamId, Ts};

/// The first four bytes of every frame.
pub const MAGIC: [u8; 4] = *b"RCPY";

/// The format version this module writes and the only one it reads.
pub const VERSION: u8 = 2;

/// The largest payload (write data 113) a Data frame may carry: 1 MiB.
pub const MAX_PAYLOAD: usize = 1 << 20;

/// Magic, version and kind.
pub const HEADER_LEN: usize = 6;

/// The trailing CRC-32C.
pub const CHECKSUM_LEN: usize = 4;

/// The largest frame [`encode`] produces and [`decode`] accepts.
pub const MAX_FRAME: usize = HEADER_LEN + DATA_FIXED + 4 + MAX_PAYLOAD + CHECKSUM_LEN;

const _: () = assert!(MAX_PAYLOAD <= u32::MAX as usize, "the length prefix is a u32");

/// The kind byte of each message.
pub mod kind {
    /// M1 with a payload.
    pub const DATA: u8 = 1;
    /// M1 without a payload (hardened heartbeat, note section 9).
    pub const HEARTBEAT: u8 = 2;
    /// M2.
    pub const ACK: u8 = 3;
    /// M3.
    pub const REPORT: u8 = 4;
    /// M4.
    pub const LIMIT: u8 = 5;
}

const STREAM_LEN: usize = 6;
const SEQ_LEN: usize = 8;
const TS_LEN: usize = 14;
const ADDR_LEN: usize = 6;
/// The fields common to Data and Heartbeat: stream, seq, ts, addr.
const DATA_FIXED: usize = STREAM_LEN + SEQ_LEN + TS_LEN + ADDR_LEN;

/// Why bytes are not a frame.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// The bytes end before the frame does.
    #[error("truncated frame: {needed} bytes needed, {available} available")]
    Truncated { needed: usize, available: usize },
    /// The frame does not start with [`MAGIC`].
    #[error("bad magic {found:02x?}")]
    BadMagic { found: [u8; 4] },
    /// A format version this build does not read.
    #[error("unsupported wire format version {found} (this build reads version {VERSION})")]
    UnsupportedVersion { found: u8 },
    /// A kind byte that is none of [`kind`].
    #[error("unknown message kind {found}")]
    UnknownKind { found: u8 },
    /// A payload longer than [`MAX_PAYLOAD`] (declared on decode, or given to [`try_encode`]).
    #[error("payload of {len} bytes exceeds the maximum of {max}")]
    PayloadTooLarge { len: u64, max: usize },
    /// The CRC-32C in the frame does not match its contents.
    #[error("checksum mismatch: frame says {expected:#010x}, contents give {computed:#010x}")]
    BadChecksum { expected: u32, computed: u32 },
    /// Bytes follow a complete frame.
    #[error("{extra} bytes follow the frame")]
    TrailingBytes { extra: usize },
}

// ---------------------------------------------------------------------------------------------
// CRC-32C
// ---------------------------------------------------------------------------------------------

/// The reflected Castagnoli polynomial 0x1EDC6F41.
const CASTAGNOLI_REFLECTED: u32 = 0x82F6_3B78;

const fn crc32c_table() -> [u32; 256] {
    let mut table = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut bit = 0;
        while bit < 8 {
            c = if c & 1 != 0 { (c >> 1) ^ CASTAGNOLI_REFLECTED } else { c >> 1 };
            bit += 1;
        }
        table[i] = c;
        i += 1;
    }
    table
}

static CRC32C_TABLE: [u32; 256] = crc32c_table();

/// CRC-32C (Castagnoli; iSCSI, ext4, SCTP): reflected, initial value and final xor all ones.
/// `crc32c(b"123456789") == 0xE306_9283`.
pub fn crc32c(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc = CRC32C_TABLE[usize::from((crc as u8) ^ b)] ^ (crc >> 8);
    }
    !crc
}

// ---------------------------------------------------------------------------------------------
// Encoding
// ---------------------------------------------------------------------------------------------

fn put_stream(out: &mut Vec<u8>, s: StreamId) {
    out.extend_from_slice(&s.lds.to_be_bytes());
    out.extend_from_slice(&s.rds.to_be_bytes());
    out.extend_from_slice(&s.key.to_be_bytes());
}

fn put_ts(out: &mut Vec<u8>, ts: Ts) {
    out.extend_from_slice(&ts.time.to_be_bytes());
    out.extend_from_slice(&ts.lds.to_be_bytes());
    out.extend_from_slice(&ts.tie.to_be_bytes());
}

fn put_addr(out: &mut Vec<u8>, a: RemoteAddr) {
    out.extend_from_slice(&a.unit.to_be_bytes());
    out.extend_from_slice(&a.pos.to_be_bytes());
}

/// The frame of `msg`, or [`WireError::PayloadTooLarge`] when its payload exceeds
/// [`MAX_PAYLOAD`] (the only message that cannot be encoded).
pub fn try_encode(msg: &Message<Vec<u8>>) -> Result<Vec<u8>, WireError> {
    let body = match msg {
        Message::Data(p) => DATA_FIXED + p.payload.as_ref().map_or(0, |d| 4 + d.len()),
        Message::Ack { .. } => STREAM_LEN + SEQ_LEN,
        Message::Report { .. } => 2 + TS_LEN,
        Message::Limit { .. } => TS_LEN,
    };
    if let Message::Data(DataPacket { payload: Some(d), .. }) = msg {
        if d.len() > MAX_PAYLOAD {
            return Err(WireError::PayloadTooLarge { len: d.len() as u64, max: MAX_PAYLOAD });
        }
    }
    let mut out = Vec::with_capacity(HEADER_LEN + body + CHECKSUM_LEN);
    out.extend_from_slice(&MAGIC);
    out.push(VERSION);
    match msg {
        Message::Data(p) => {
            out.push(if p.payload.is_some() { kind::DATA } else { kind::HEARTBEAT });
            put_stream(&mut out, p.stream);
            out.extend_from_slice(&p.seq.to_be_bytes());
            put_ts(&mut out, p.ts);
            put_addr(&mut out, p.addr);
            if let Some(d) = &p.payload {
                // Fits: checked against MAX_PAYLOAD above, which fits a u32.
                out.extend_from_slice(&(d.len() as u32).to_be_bytes());
                out.extend_from_slice(d);
            }
        }
        Message::Ack { stream, seq } => {
            out.push(kind::ACK);
            put_stream(&mut out, *stream);
            out.extend_from_slice(&seq.to_be_bytes());
        }
        Message::Report { rds, ts } => {
            out.push(kind::REPORT);
            out.extend_from_slice(&rds.to_be_bytes());
            put_ts(&mut out, *ts);
        }
        Message::Limit { ts } => {
            out.push(kind::LIMIT);
            put_ts(&mut out, *ts);
        }
    }
    let crc = crc32c(&out);
    out.extend_from_slice(&crc.to_be_bytes());
    debug_assert_eq!(out.len(), HEADER_LEN + body + CHECKSUM_LEN);
    Ok(out)
}

/// The frame of `msg` (layout in the module documentation).
///
/// # Panics
///
/// If a Data payload is longer than [`MAX_PAYLOAD`]; use [`try_encode`] when that can happen.
pub fn encode(msg: &Message<Vec<u8>>) -> Vec<u8> {
    match try_encode(msg) {
        Ok(frame) => frame,
        Err(e) => panic!("cannot encode message: {e}"),
    }
}

// ---------------------------------------------------------------------------------------------
// Decoding
// ---------------------------------------------------------------------------------------------

/// A cursor over untrusted bytes: every read is bounds-checked and fails with `Truncated`.
struct Reader<'a> {
    all: &'a [u8],
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    fn new(all: &'a [u8]) -> Reader<'a> {
        Reader { all, rest: all }
    }

    /// Bytes consumed so far (`rest` is always a suffix of `all`).
    fn offset(&self) -> usize {
        self.all.len() - self.rest.len()
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], WireError> {
        match self.rest.split_at_checked(n) {
            Some((head, tail)) => {
                self.rest = tail;
                Ok(head)
            }
            None => Err(WireError::Truncated { needed: self.offset().saturating_add(n), available: self.all.len() }),
        }
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], WireError> {
        let available = self.all.len();
        let needed = self.offset().saturating_add(N);
        let bytes = self.take(N)?;
        <[u8; N]>::try_from(bytes).map_err(|_| WireError::Truncated { needed, available })
    }

    fn u8(&mut self) -> Result<u8, WireError> {
        Ok(u8::from_be_bytes(self.array()?))
    }

    fn u16(&mut self) -> Result<u16, WireError> {
        Ok(u16::from_be_bytes(self.array()?))
    }

    fn u32(&mut self) -> Result<u32, WireError> {
        Ok(u32::from_be_bytes(self.array()?))
    }

    fn u64(&mut self) -> Result<u64, WireError> {
        Ok(u64::from_be_bytes(self.array()?))
    }

    fn stream(&mut self) -> Result<StreamId, WireError> {
        Ok(StreamId { lds: self.u16()?, rds: self.u16()?, key: self.u16()? })
    }

    fn ts(&mut self) -> Result<Ts, WireError> {
        Ok(Ts { time: self.u64()?, lds: self.u16()?, tie: self.u32()? })
    }

    fn addr(&mut self) -> Result<RemoteAddr, WireError> {
        Ok(RemoteAddr { unit: self.u16()?, pos: self.u32()? })
    }
}

/// The fields of a frame, checked for shape but not yet for integrity.
enum Body<'a> {
    Data { stream: StreamId, seq: u64, ts: Ts, addr: RemoteAddr, payload: Option<&'a [u8]> },
    Ack { stream: StreamId, seq: u64 },
    Report { rds: u16, ts: Ts },
    Limit { ts: Ts },
}

/// Decode the frame at the start of `bytes`, for a transport that carries frames back to back
/// (a TCP or QUIC stream, note section 9). Returns the message and the length of its frame;
/// whatever follows is not looked at.
pub fn decode_prefix(bytes: &[u8]) -> Result<(Message<Vec<u8>>, usize), WireError> {
    let mut r = Reader::new(bytes);
    let magic: [u8; 4] = r.array()?;
    if magic != MAGIC {
        return Err(WireError::BadMagic { found: magic });
    }
    let version = r.u8()?;
    if version != VERSION {
        return Err(WireError::UnsupportedVersion { found: version });
    }
    let body = match r.u8()? {
        k @ (kind::DATA | kind::HEARTBEAT) => {
            let (stream, seq, ts, addr) = (r.stream()?, r.u64()?, r.ts()?, r.addr()?);
            let payload = if k == kind::DATA {
                let len = r.u32()?;
                if len as u64 > MAX_PAYLOAD as u64 {
                    return Err(WireError::PayloadTooLarge { len: u64::from(len), max: MAX_PAYLOAD });
                }
                // len <= MAX_PAYLOAD, so the conversion is exact.
                Some(r.take(len as usize)?)
            } else {
                None
            };
            Body::Data { stream, seq, ts, addr, payload }
        }
        kind::ACK => Body::Ack { stream: r.stream()?, seq: r.u64()? },
        kind::REPORT => Body::Report { rds: r.u16()?, ts: r.ts()? },
        kind::LIMIT => Body::Limit { ts: r.ts()? },
        found => return Err(WireError::UnknownKind { found }),
    };
    let covered = r.offset();
    let expected = r.u32()?;
    let computed = crc32c(bytes.get(..covered).unwrap_or_default());
    if expected != computed {
        return Err(WireError::BadChecksum { expected, computed });
    }
    let msg = match body {
        Body::Data { stream, seq, ts, addr, payload } => {
            // Allocation bounded by MAX_PAYLOAD, and only after the checksum matched.
            Message::Data(DataPacket { stream, seq, ts, addr, payload: payload.map(<[u8]>::to_vec) })
        }
        Body::Ack { stream, seq } => Message::Ack { stream, seq },
        Body::Report { rds, ts } => Message::Report { rds, ts },
        Body::Limit { ts } => Message::Limit { ts },
    };
    Ok((msg, r.offset()))
}

/// Decode exactly one frame: `bytes` must be one whole frame and nothing else (a datagram, note
/// section 9). Never panics, whatever `bytes` holds.
pub fn decode(bytes: &[u8]) -> Result<Message<Vec<u8>>, WireError> {
    let (msg, len) = decode_prefix(bytes)?;
    match bytes.len().saturating_sub(len) {
        0 => Ok(msg),
        extra => Err(WireError::TrailingBytes { extra }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(payload: Option<Vec<u8>>) -> Message<Vec<u8>> {
        Message::Data(DataPacket {
            stream: StreamId { lds: 1, rds: 2, key: 3 },
            seq: 27,
            ts: Ts::new(604, 1),
            addr: RemoteAddr { unit: 5, pos: 0xDEAD_BEEF },
            payload,
        })
    }

    fn samples() -> Vec<Message<Vec<u8>>> {
        vec![
            data(Some(b"write data 113".to_vec())),
            data(Some(Vec::new())),
            data(None),
            Message::Ack { stream: StreamId { lds: 0, rds: 1, key: 2 }, seq: u64::MAX },
            Message::Report { rds: 7, ts: Ts::new(601, 0) },
            Message::Limit { ts: Ts::new(u64::MAX, u16::MAX) },
        ]
    }

    #[test]
    fn crc32c_check_value() {
        assert_eq!(crc32c(b"123456789"), 0xE306_9283);
        assert_eq!(crc32c(b""), 0);
        // RFC 3720 B.4: 32 bytes of zeros.
        assert_eq!(crc32c(&[0u8; 32]), 0x8A91_36AA);
    }

    #[test]
    fn round_trip_and_lengths() {
        let expected_len = [6 + 38 + 14 + 4, 6 + 38 + 4, 6 + 34 + 4, 6 + 14 + 4, 6 + 16 + 4, 6 + 14 + 4];
        for (m, len) in samples().into_iter().zip(expected_len) {
            let frame = encode(&m);
            assert_eq!(frame.len(), len, "{m:?}");
            assert_eq!(&frame[..4], &MAGIC);
            assert_eq!(frame[4], VERSION);
            assert_eq!(decode(&frame), Ok(m.clone()));
            assert_eq!(decode_prefix(&frame), Ok((m, len)));
        }
    }

    #[test]
    fn empty_payload_is_not_a_heartbeat() {
        assert_ne!(encode(&data(Some(Vec::new())))[5], encode(&data(None))[5]);
    }

    #[test]
    fn every_flipped_bit_is_rejected() {
        for m in samples() {
            let frame = encode(&m);
            for i in 0..frame.len() * 8 {
                let mut bad = frame.clone();
                bad[i / 8] ^= 1 << (i % 8);
                assert!(decode(&bad).is_err(), "bit {i} of {m:?}");
            }
        }
        let mut bad = encode(&data(Some(vec![9; 100])));
        bad[50] ^= 0x10;
        assert!(matches!(decode(&bad), Err(WireError::BadChecksum { .. })));
    }

    #[test]
    fn wrong_version_is_rejected() {
        let mut frame = encode(&Message::Limit { ts: Ts::new(1, 0) });
        frame[4] = VERSION + 1;
        // Even with a checksum that matches, the version is checked first.
        let n = frame.len() - CHECKSUM_LEN;
        let crc = crc32c(&frame[..n]);
        frame[n..].copy_from_slice(&crc.to_be_bytes());
        assert_eq!(decode(&frame), Err(WireError::UnsupportedVersion { found: VERSION + 1 }));
    }

    #[test]
    fn malformed_frames() {
        let frame = encode(&data(Some(vec![1, 2, 3])));
        assert_eq!(decode(&[]), Err(WireError::Truncated { needed: 4, available: 0 }));
        assert!(matches!(decode(&frame[..frame.len() - 1]), Err(WireError::Truncated { .. })));
        assert_eq!(decode(b"XXXX\x01\x01"), Err(WireError::BadMagic { found: *b"XXXX" }));
        let mut k = frame.clone();
        k[5] = 0;
        assert_eq!(decode(&k), Err(WireError::UnknownKind { found: 0 }));
        let mut long = frame.clone();
        long.push(0);
        assert_eq!(decode(&long), Err(WireError::TrailingBytes { extra: 1 }));
        assert_eq!(decode_prefix(&long).map(|(_, n)| n), Ok(frame.len()));
    }

    #[test]
    fn oversized_length_is_rejected_before_allocating() {
        let mut frame = encode(&data(Some(Vec::new())));
        let at = HEADER_LEN + DATA_FIXED;
        frame[at..at + 4].copy_from_slice(&u32::MAX.to_be_bytes());
        assert_eq!(decode(&frame), Err(WireError::PayloadTooLarge { len: u64::from(u32::MAX), max: MAX_PAYLOAD }));
        // The largest allowed length with no bytes behind it is merely truncated.
        frame[at..at + 4].copy_from_slice(&(MAX_PAYLOAD as u32).to_be_bytes());
        assert!(matches!(decode(&frame), Err(WireError::Truncated { .. })));
    }

    #[test]
    fn payload_limit_on_encode() {
        let max = data(Some(vec![0; MAX_PAYLOAD]));
        let frame = encode(&max);
        assert_eq!(frame.len(), MAX_FRAME);
        assert_eq!(decode(&frame), Ok(max));
        let over = data(Some(vec![0; MAX_PAYLOAD + 1]));
        assert_eq!(
            try_encode(&over),
            Err(WireError::PayloadTooLarge { len: MAX_PAYLOAD as u64 + 1, max: MAX_PAYLOAD })
        );
    }
}
