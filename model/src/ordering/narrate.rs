//! Who did what in one step: the vocabulary of the trace renderers.

use super::model::{Action, OrderingModel};
use super::state::{Node, State};
use rcopy::ordering::{DataPacket, Message};

/// One step of a trace as an arrow (`from` -> `to`) or, when `from == to`, a note.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Event {
    pub from: String,
    pub to: String,
    pub text: String,
}

fn node(n: Node) -> String {
    match n {
        Node::Lds(l) => format!("LDS{l}"),
        Node::Rds(r) => format!("RDS{r}"),
        Node::Master => "Master".to_string(),
    }
}

fn packet(p: &DataPacket<u8>) -> String {
    match p.payload {
        Some(w) => format!("M1 {}#{} ts={} w{}", p.stream, p.seq, p.ts, w),
        None => format!("M1 {}#{} ts={} heartbeat", p.stream, p.seq, p.ts),
    }
}

/// A message, briefly.
pub fn message(m: &Message<u8>) -> String {
    match m {
        Message::Data(p) => packet(p),
        Message::Ack { stream, seq } => format!("M2 ack {stream}#{seq}"),
        Message::Report { rds, ts } => format!("M3 report RDS{rds} ts={ts}"),
        Message::Limit { ts } => format!("M4 limit={ts}"),
    }
}

fn source(m: &Message<u8>) -> Node {
    match m {
        Message::Data(p) => Node::Lds(p.stream.lds),
        Message::Ack { stream, .. } => Node::Rds(stream.rds),
        Message::Report { rds, .. } => Node::Rds(*rds),
        Message::Limit { .. } => Node::Master,
    }
}

impl OrderingModel {
    /// The participants of a sequence diagram, in order.
    pub fn participants(&self) -> Vec<String> {
        let t = &self.config.topology;
        let mut v = vec!["Host".to_string()];
        v.extend((0..t.lds_count()).map(|l| format!("LDS{l}")));
        v.extend((0..t.rds_count()).map(|r| format!("RDS{r}")));
        v.push("Master".to_string());
        v
    }

    /// What `action`, taken in `before` and leading to `after`, looks like.
    pub fn narrate(&self, before: &State, action: &Action, after: &State) -> Event {
        let note = |who: String, text: String| Event { from: who.clone(), to: who, text };
        match action {
            Action::Write { pair, pos } => {
                let lds = self.config.topology.pair(*pair).map_or(0, |p| p.lds);
                let w = after.ghost.writes.last();
                let text = match w {
                    Some(w) => format!("write w{} pair {} pos {} -> ts={}", after.ghost.writes.len() - 1, pair, pos, w.ts),
                    None => format!("write pair {pair} pos {pos}"),
                };
                Event { from: "Host".into(), to: format!("LDS{lds}"), text }
            }
            Action::Publish { lds, index } => note(format!("LDS{lds}"), format!("publish staged write #{index} (B9)")),
            Action::Send { stream } | Action::Heartbeat { stream } | Action::Timeout { stream, .. } => {
                let what = match action {
                    Action::Send { .. } => "send",
                    Action::Heartbeat { .. } => "heartbeat",
                    _ => "resend",
                };
                let sent = after.net.iter().find(|e| !before.net.contains(e) && matches!(e.msg, Message::Data(_)));
                let text = sent.map_or(format!("{what} on {stream}"), |e| format!("{what} {}", message(&e.msg)));
                note(format!("LDS{}", stream.lds), text)
            }
            Action::Tick => note("Host".into(), format!("clock ticks to {}", after.now)),
            Action::Deliver(e) => Event { from: node(source(&e.msg)), to: node(e.dst), text: message(&e.msg) },
            Action::Lose(e) => note(node(source(&e.msg)), format!("LOST {}", message(&e.msg))),
            Action::Duplicate(e) => note(node(source(&e.msg)), format!("DUPLICATED {}", message(&e.msg))),
            Action::Report { rds } => {
                let r = &after.receivers[*rds as usize];
                note(format!("RDS{rds}"), format!("slave round: report ts={}", r.reported.map_or("-inf".into(), |t| t.to_string())))
            }
            Action::Destage { rds } => {
                let log = &after.ghost.destaged[*rds as usize];
                let text = match log.last() {
                    Some(w) if log.len() > before.ghost.destaged[*rds as usize].len() => {
                        format!("destage w{} (ts={}) under limit {}", w, after.ghost.writes[*w as usize].ts, fmt_limit(before.receivers[*rds as usize].limit))
                    }
                    _ => "destage".to_string(),
                };
                note(format!("RDS{rds}"), text)
            }
            Action::Takeover => {
                let drained: Vec<String> = after
                    .ghost
                    .destaged
                    .iter()
                    .zip(&before.ghost.destaged)
                    .enumerate()
                    .filter(|(_, (a, b))| a.len() > b.len())
                    .map(|(r, (a, b))| {
                        let ws: Vec<String> = a[b.len()..].iter().map(|w| format!("w{w}")).collect();
                        format!("RDS{r} destages {}", ws.join(", "))
                    })
                    .collect();
                let discarded: usize = before.receivers.iter().map(|r| r.cache.len()).sum::<usize>()
                    - after.ghost.destaged.iter().zip(&before.ghost.destaged).map(|(a, b)| a.len() - b.len()).sum::<usize>();
                note(
                    "Master".into(),
                    format!(
                        "DISASTER at the local site, takeover drains to limit {}: {}{} discarded",
                        fmt_limit(after.master.max_granted),
                        if drained.is_empty() { "nothing destaged".to_string() } else { drained.join("; ") },
                        format_args!(", {discarded} cached"),
                    ),
                )
            }
        }
    }
}

fn fmt_limit(l: Option<rcopy::ordering::Ts>) -> String {
    l.map_or("-inf".to_string(), |t| t.to_string())
}
