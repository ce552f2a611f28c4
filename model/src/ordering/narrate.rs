//! Who did what in one step: the vocabulary of the trace renderers.

use super::model::{Action, OrderingModel};
use super::state::{Node, State};
use crate::protocol::Event;
use rcopy::ordering::{DataPacket, Message, Ts};

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
        let t = &self.topology;
        let mut v = vec!["Host".to_string()];
        v.extend((0..t.lds_count()).map(|l| format!("LDS{l}")));
        v.extend((0..t.rds_count()).map(|r| format!("RDS{r}")));
        v.push("Master".to_string());
        v
    }

    /// What `action`, taken in `before` and leading to `after`, looks like. Total: the states
    /// may come from a hand-edited trace, so nothing here indexes without checking.
    pub fn narrate(&self, before: &State, action: &Action, after: &State) -> Event {
        let note = |who: String, text: String| Event::note(who, text);
        match action {
            Action::Write { pair, pos, .. } => {
                let lds = self.topology.pair(*pair).map_or(0, |p| p.lds);
                let text = match after.ghost.writes.last() {
                    Some(w) => {
                        format!("write w{} pair {} pos {} -> ts={}", after.ghost.writes.len() - 1, pair, pos, w.ts)
                    }
                    None => format!("write pair {pair} pos {pos}"),
                };
                Event::arrow("Host", format!("LDS{lds}"), text)
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
            Action::Crash { rds } => note(format!("RDS{rds}"), "CRASHES: no more steps, receives nothing".into()),
            Action::Deliver(e) => Event::arrow(node(source(&e.msg)), node(e.dst), message(&e.msg)),
            Action::Lose(e) => note(node(source(&e.msg)), format!("LOST {}", message(&e.msg))),
            Action::Duplicate(e) => note(node(source(&e.msg)), format!("DUPLICATED {}", message(&e.msg))),
            Action::Report { rds } => {
                let reported = after.roles.receivers.get(*rds as usize).and_then(|r| r.reported);
                note(format!("RDS{rds}"), format!("slave round: report ts={}", fmt_limit(reported)))
            }
            Action::Retry { rds } => {
                let reported = after.roles.receivers.get(*rds as usize).and_then(|r| r.reported);
                note(format!("RDS{rds}"), format!("round retried: report ts={} again", fmt_limit(reported)))
            }
            Action::Destage { rds } => {
                let r = *rds as usize;
                let (log, old) = (after.ghost.destaged.get(r), before.ghost.destaged.get(r));
                let limit = before.roles.receivers.get(r).and_then(|x| x.limit);
                let text = match (log, old) {
                    (Some(log), Some(old)) if log.len() > old.len() => match log.last() {
                        Some(w) => {
                            let ts = after.ghost.writes.get(*w as usize).map_or("?".into(), |x| x.ts.to_string());
                            format!("destage w{w} (ts={ts}) under limit {}", fmt_limit(limit))
                        }
                        None => "destage".into(),
                    },
                    _ => "destage".to_string(),
                };
                note(format!("RDS{rds}"), text)
            }
            Action::Takeover => {
                let grown = |(a, b): (&Vec<u8>, &Vec<u8>)| a.get(b.len()..).unwrap_or(&[]).to_vec();
                let drained: Vec<String> = after
                    .ghost
                    .destaged
                    .iter()
                    .zip(&before.ghost.destaged)
                    .map(grown)
                    .enumerate()
                    .filter(|(_, ws)| !ws.is_empty())
                    .map(|(r, ws)| {
                        let ws: Vec<String> = ws.iter().map(|w| format!("w{w}")).collect();
                        format!("RDS{r} destages {}", ws.join(", "))
                    })
                    .collect();
                let destaged: usize =
                    after.ghost.destaged.iter().zip(&before.ghost.destaged).map(|p| grown(p).len()).sum();
                let cached: usize = before.roles.receivers.iter().map(|r| r.cache.len()).sum();
                let kept: usize = after.roles.receivers.iter().map(|r| r.cache.len()).sum();
                let kept_text = if kept > 0 { format!(", {kept} STILL CACHED") } else { String::new() };
                note(
                    "Master".into(),
                    format!(
                        "DISASTER at the local site, takeover drains to limit {}: {}, {} cached discarded{kept_text}",
                        fmt_limit(after.roles.master.max_granted),
                        if drained.is_empty() { "nothing destaged".to_string() } else { drained.join("; ") },
                        cached.saturating_sub(destaged + kept),
                    ),
                )
            }
        }
    }

    /// A summary of a state: what each role holds, and the history.
    pub fn summary(&self, s: &State) -> Vec<String> {
        let mut out = Vec::new();
        for snd in &s.roles.senders {
            for st in &snd.streams {
                let entries: Vec<String> = st
                    .entries
                    .iter()
                    .map(|e| {
                        let what = e.payload.map_or("hb".to_string(), |w| format!("w{w}"));
                        format!("{what}@{}:{:?}", e.ts, e.state)
                    })
                    .collect();
                out.push(format!(
                    "LDS{} {}: next seq {}, pending [{}]",
                    snd.lds,
                    st.id,
                    st.next_seq,
                    entries.join(", ")
                ));
            }
        }
        for r in &s.roles.receivers {
            let fr: Vec<String> = r
                .streams
                .iter()
                .map(|st| {
                    format!(
                        "{} frontier {}",
                        st.id,
                        r.frontier(st.id).map_or("-inf".into(), |(k, t)| format!("#{k}@{t}"))
                    )
                })
                .collect();
            let cache: Vec<String> = r
                .cache
                .iter()
                .map(|c| {
                    format!("{}#{}@{}:{}", c.stream, c.seq, c.ts, c.payload.map_or("hb".into(), |w| format!("w{w}")))
                })
                .collect();
            out.push(format!(
                "RDS{}: limit {}, {}, cache [{}]",
                r.rds,
                fmt_limit(r.limit),
                fr.join(", "),
                cache.join(", ")
            ));
        }
        out.push(format!("Master: granted {}", fmt_limit(s.roles.master.max_granted)));
        let h: Vec<String> = s
            .ghost
            .writes
            .iter()
            .enumerate()
            .map(|(w, r)| {
                let w = w as u8;
                let mark = if s.ghost.is_destaged(w) {
                    "destaged"
                } else if s.ghost.arrived & (1u64 << (w % 64)) != 0 {
                    "arrived"
                } else {
                    "not arrived"
                };
                format!("w{w}@{} {mark}", r.ts)
            })
            .collect();
        out.push(format!("History: {}", h.join(", ")));
        out
    }
}

fn fmt_limit(l: Option<Ts>) -> String {
    l.map_or("-inf".to_string(), |t| t.to_string())
}
