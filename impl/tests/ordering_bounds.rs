//! Bounded roles: a full window or cache is a typed BUSY, never a silent drop or a panic, and
//! room made by an ack or a destage takes the next one.

use rcopy::fault::FaultSet;
use rcopy::ordering::{
    Clock, ClockReading, DataPacket, HostWrite, Message, NotStored, Receiver, Refused, RemoteAddr, Sender,
    SharedSender, StreamId, Ts, Variant, DEFAULT_CACHE, DEFAULT_WINDOW,
};

const S: StreamId = StreamId { lds: 0, rds: 0, key: 0 };
const ADDR: RemoteAddr = RemoteAddr { unit: 0, pos: 0 };

fn write(payload: u8) -> HostWrite<u8> {
    HostWrite { stream: S, addr: ADDR, payload }
}

#[test]
fn a_full_window_answers_busy_until_an_ack_makes_room() {
    let s: Sender<u8> = Sender::new(0, &[S], Variant::Hardened, FaultSet::NONE);
    assert_eq!(s.window, DEFAULT_WINDOW);
    let mut s = s.clone().with_window(2);
    s.on_host_write(write(1), ClockReading::at(1)).unwrap();
    s.on_host_write(write(2), ClockReading::at(2)).unwrap();
    assert_eq!(s.on_host_write(write(3), ClockReading::at(3)), Err(Refused::Busy(S, 2)));
    assert_eq!(s.stream(S).unwrap().entries.len(), 2, "the refused write is not stamped or kept");
    let (p, _) = s.send_next(S).unwrap();
    assert!(!s.heartbeat_due(S, ClockReading::at(9)), "no heartbeat into a full window");
    assert!(s.on_ack(S, p.seq));
    let accepted = s.on_host_write(write(3), ClockReading::at(4)).unwrap();
    assert_eq!(accepted.ts, Ts::new(4, 0));
    assert_eq!(s.clone().with_window(0).window, 1, "a window holds at least one entry");
}

#[test]
fn the_shared_sender_passes_busy_to_the_host() {
    let sender = Sender::new(0, &[S], Variant::Hardened, FaultSet::NONE).with_window(1);
    let shared = SharedSender::new(sender, Clock::new(10));
    shared.host_write(write(1)).unwrap();
    assert!(matches!(shared.host_write(write(2)), Err(Refused::Busy(..))));
}

fn packet(seq: u64) -> DataPacket<u8> {
    DataPacket { stream: S, seq, ts: Ts::new(seq + 1, 0), addr: ADDR, payload: Some(seq as u8) }
}

#[test]
fn a_full_cache_neither_stores_nor_acknowledges() {
    let r: Receiver<u8> = Receiver::new(0, &[S], Variant::Hardened, FaultSet::NONE);
    assert_eq!(r.capacity, DEFAULT_CACHE);
    let mut r = r.with_cache(1);
    assert_eq!(r.on_data(packet(0)), Ok(Message::Ack { stream: S, seq: 0 }));
    assert_eq!(r.on_data(packet(1)), Err(NotStored::Busy(1)));
    assert_eq!(r.frontier(S), Some((0, Ts::new(1, 0))), "the refused packet did not move the frontier");
    assert_eq!(r.on_data(packet(0)), Ok(Message::Ack { stream: S, seq: 0 }), "a duplicate is re-acked, full or not");
    r.on_limit(Ts::new(5, 0));
    assert!(r.poll_destage().is_some());
    assert_eq!(r.on_data(packet(1)), Ok(Message::Ack { stream: S, seq: 1 }), "a destage made room");
}

/// A coarse clock: writes at the same reading get strictly increasing stamps, one tie apart.
#[test]
fn equal_readings_are_ordered_by_their_tie() {
    let mut s: Sender<u8> = Sender::new(0, &[S], Variant::Hardened, FaultSet::NONE);
    let a = s.on_host_write(write(1), ClockReading::at(7)).unwrap().ts;
    let b = s.on_host_write(write(2), ClockReading::at(7)).unwrap().ts;
    let c = s.on_host_write(write(3), ClockReading::at(8)).unwrap().ts;
    assert!(a < b && b < c, "{a} {b} {c}");
    assert_eq!((b.time, b.tie, c.tie), (7, 1, 0));
    assert_eq!(format!("{a} {b}"), "7.0 7.0.1");
    let (p, _) = s.send_next(S).unwrap();
    let (q, _) = s.send_next(S).unwrap();
    assert!(p.seq < q.seq && p.ts < q.ts, "S1 holds across a tie");
}
