//! RabbitMQ's own Prometheus plugin (`rabbitmq_prometheus`, shipped with the broker): the
//! endpoint `/metrics/detailed?family=queue_coarse_metrics&family=queue_consumer_count&vhost=V`
//! gives each queue's messages (ready, unacknowledged) and consumers without the management
//! database: the cheapest source at scale (BENCHMARKS.md, the growth of the RabbitMQ checks).
//! No credentials (the plugin has none); node-local, so on a cluster ask every node; no rates.
//!
//! The text is read as it arrives, line by line, never whole; a queue's numbers come on
//! several lines, joined by name (about 40 bytes and the name a queue, at most `MAX_QUEUES`).
//! RabbitMQ 3.10 does not escape label values; 3.11 and later do: a name is taken from
//! `queue="` to the line's last `"}`, and unescaped when it carries escapes.

use crate::Queue;
use custos_http::{Client, Method, Options, Url};
use plugin_core::{CheckError, Context};

/// The plugin's default listener.
pub const DEFAULT_URL: &str = "http://127.0.0.1:15692";

/// Longest line kept (a queue name is at most 255 bytes).
const MAX_LINE: usize = 64 << 10;

/// What one metric line says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Metric {
    /// `rabbitmq_detailed_queue_messages`.
    Messages,
    /// `rabbitmq_detailed_queue_messages_ready`.
    Ready,
    /// `rabbitmq_detailed_queue_messages_unacked`.
    Unacked,
    /// `rabbitmq_detailed_queue_consumers`.
    Consumers,
}

/// One `rabbitmq_detailed_queue_*{vhost="V",queue="Q"} N` line of vhost `vhost`: the metric, the
/// queue and the value; `None` for any other line.
pub fn parse_line(line: &str, vhost: &str) -> Option<(Metric, String, f64)> {
    Prefixes::new(vhost).parse(line)
}

/// The label prefixes of a vhost's lines, as 3.10 writes them and escaped as later versions do
/// (made once, not for every line).
struct Prefixes {
    plain: String,
    escaped: String,
}

impl Prefixes {
    fn new(vhost: &str) -> Prefixes {
        let escaped = vhost.replace('\\', "\\\\").replace('"', "\\\"");
        Prefixes {
            plain: format!("vhost=\"{vhost}\",queue=\""),
            escaped: format!("vhost=\"{escaped}\",queue=\""),
        }
    }

    fn parse(&self, line: &str) -> Option<(Metric, String, f64)> {
        let rest = line.strip_prefix("rabbitmq_detailed_queue_")?;
        let (name, labels) = rest.split_once('{')?;
        let metric = match name {
            "messages" => Metric::Messages,
            "messages_ready" => Metric::Ready,
            "messages_unacked" => Metric::Unacked,
            "consumers" => Metric::Consumers,
            _ => return None,
        };
        let after = labels
            .strip_prefix(self.plain.as_str())
            .or_else(|| labels.strip_prefix(self.escaped.as_str()))?;
        let end = after.rfind("\"} ")?;
        let raw = &after[..end];
        let value: f64 = after[end + 3..].trim().parse().ok()?;
        Some((metric, unescape(raw), value))
    }
}

/// Prometheus' label escapes (`\\`, `\"`, `\n`); a backslash before anything else is kept. A
/// value with a bare `"` is RabbitMQ 3.10's unescaped text, kept as it is. (A 3.10 name with a
/// backslash and no quote cannot be told from an escaped one.)
fn unescape(raw: &str) -> String {
    let bare_quote = raw
        .char_indices()
        .any(|(i, c)| c == '"' && !raw[..i].ends_with('\\'));
    if !raw.contains('\\') || bare_quote {
        return raw.to_string();
    }
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, chars.peek()) {
            ('\\', Some('\\')) | ('\\', Some('"')) => out.extend(chars.next()),
            ('\\', Some('n')) => {
                chars.next();
                out.push('\n');
            }
            (c, _) => out.push(c),
        }
    }
    out
}

/// The queues from a whole text (tests, and what [`Prom::each_queue`] does chunk by chunk).
pub fn parse(text: &str, vhost: &str) -> Vec<Queue> {
    let mut acc = Accumulator::new(vhost);
    for line in text.lines() {
        if acc.line(line).is_err() {
            break;
        }
    }
    acc.into_queues().collect()
}

/// Each queue's numbers so far. The metrics come family by family (every queue's ready
/// messages, then every queue's unacknowledged ones, ...), so a queue's numbers are joined by
/// name: names in one arena, 40 bytes a queue besides (10,000 queues: about 0.6 MB with the
/// vector's room to grow), looked up by binary search once a family has been read and sorted.
struct Accumulator {
    prefixes: Prefixes,
    /// Every name read, back to back.
    arena: String,
    /// Sorted by name up to `sorted`; after it, in the order read (a name there may repeat:
    /// merged when sorted).
    entries: Vec<Entry>,
    sorted: usize,
    last: Option<Metric>,
}

/// A queue: its name in the arena, and messages, ready, unacknowledged, consumers ([`NONE`]
/// where no line said).
struct Entry {
    start: u32,
    len: u32,
    numbers: [u64; 4],
}

/// No number (yet).
const NONE: u64 = u64::MAX;

/// Most queues read from one reply (the arena's offsets are 32-bit; a broker holds far fewer).
const MAX_QUEUES: usize = 1_000_000;

impl Accumulator {
    fn new(vhost: &str) -> Accumulator {
        Accumulator {
            prefixes: Prefixes::new(vhost),
            arena: String::new(),
            entries: Vec::new(),
            sorted: 0,
            last: None,
        }
    }

    fn line(&mut self, line: &str) -> Result<(), String> {
        let Some((metric, name, value)) = self.prefixes.parse(line) else {
            return Ok(());
        };
        if self.last != Some(metric) {
            // A new family: sort what came since the last sort when it is worth it (always
            // after the first family; amortised when families are interleaved).
            self.last = Some(metric);
            if self.entries.len() - self.sorted > self.sorted / 4 {
                self.sort();
            }
        }
        let arena = &self.arena;
        let found = self.entries[..self.sorted]
            .binary_search_by(|e| arena[e.start as usize..][..e.len as usize].cmp(&name));
        // Below NONE: a count that large is no count.
        let value = (value.max(0.0) as u64).min(NONE - 1);
        match found {
            Ok(i) => self.entries[i].numbers[metric as usize] = value,
            Err(_) => {
                if self.entries.len() >= MAX_QUEUES {
                    return Err(format!("more than {MAX_QUEUES} queues"));
                }
                let mut numbers = [NONE; 4];
                numbers[metric as usize] = value;
                self.entries.push(Entry {
                    start: self.arena.len() as u32,
                    len: name.len() as u32,
                    numbers,
                });
                self.arena.push_str(&name);
            }
        }
        Ok(())
    }

    /// Sorts every entry by name, merging repeats (in place: no second vector).
    fn sort(&mut self) {
        let arena = &self.arena;
        let name = |e: &Entry| &arena[e.start as usize..][..e.len as usize];
        self.entries.sort_by(|a, b| name(a).cmp(name(b)));
        self.entries.dedup_by(|later, kept| {
            if name(later) != name(kept) {
                return false;
            }
            for (mine, theirs) in kept.numbers.iter_mut().zip(later.numbers) {
                if theirs != NONE {
                    *mine = theirs;
                }
            }
            true
        });
        self.sorted = self.entries.len();
    }

    fn into_queues(mut self) -> impl Iterator<Item = Queue> {
        self.sort();
        let arena = self.arena;
        self.entries.into_iter().map(move |e| {
            let [messages, ready, unacked, consumers] = e.numbers.map(|n| (n != NONE).then_some(n));
            Queue {
                name: arena[e.start as usize..][..e.len as usize].to_string(),
                // ready + unacknowledged when the total line is missing.
                messages: messages.or_else(|| ready.zip(unacked).map(|(r, u)| r + u)),
                ready,
                unacked,
                consumers,
                ..Queue::default()
            }
        })
    }
}

/// The plugin's endpoint.
pub struct Prom {
    http: Client,
    base: Url,
    vhost: String,
}

impl Prom {
    /// A reader of the plugin's endpoint at `url`, for the queues of `vhost`.
    pub fn new(
        url: &str,
        vhost: &str,
        tls: &custos_http::TlsArgs,
        user_agent: &str,
    ) -> Result<Prom, CheckError> {
        let mut base = Url::parse(url)
            .map_err(|e| CheckError::unknown(format!("invalid --prometheus-url: {e}")))?;
        if !matches!(base.scheme(), "http" | "https") || base.host_str().is_none() {
            return Err(CheckError::unknown(
                "--prometheus-url must be an http:// or https:// URL with a host",
            ));
        }
        if !base.path().ends_with('/') {
            let path = format!("{}/", base.path());
            base.set_path(&path);
        }
        let http = Client::new(
            &Options {
                tls: tls.clone(),
                user_agent: user_agent.to_string(),
                ..Options::default()
            },
            base.scheme() == "https",
        )?;
        Ok(Prom {
            http,
            base,
            vhost: vhost.to_string(),
        })
    }

    /// Every queue of the vhost on this node, each handed to `each` (in name order, once the
    /// whole text is read: the metrics come family by family).
    pub fn each_queue(&self, ctx: &Context, each: &mut dyn FnMut(Queue)) -> Result<(), CheckError> {
        let mut url = self
            .base
            .join("metrics/detailed")
            .map_err(|e| CheckError::unknown(format!("invalid --prometheus-url: {e}")))?;
        url.query_pairs_mut()
            .append_pair("family", "queue_coarse_metrics")
            .append_pair("family", "queue_consumer_count")
            .append_pair("vhost", &self.vhost);
        ctx.stage(format!(
            "reading the queues of vhost {} from {}",
            self.vhost, self.base
        ));
        let mut acc = Accumulator::new(&self.vhost);
        // Lines are read from each chunk where they are; only a line cut by the chunk's end
        // is carried over (never a whole chunk).
        let mut carry: Vec<u8> = Vec::new();
        let mut read = |chunk: &[u8]| -> Result<(), String> {
            let mut rest = chunk;
            while let Some(i) = rest.iter().position(|b| *b == b'\n') {
                if carry.is_empty() {
                    acc.line(&String::from_utf8_lossy(&rest[..i]))?;
                } else {
                    carry.extend_from_slice(&rest[..i]);
                    acc.line(&String::from_utf8_lossy(&carry))?;
                    carry.clear();
                }
                rest = &rest[i + 1..];
            }
            carry.extend_from_slice(rest);
            if carry.len() > MAX_LINE {
                return Err(format!("a line longer than {} KiB", MAX_LINE >> 10));
            }
            Ok(())
        };
        let resp = self.http.send_streaming(
            ctx,
            self.http.request(Method::GET, url.clone()),
            &mut read,
        )?;
        if !resp.status.is_success() {
            return Err(CheckError::critical(format!(
                "the Prometheus endpoint answered GET {} with {}",
                url.path(),
                resp.status
            )));
        }
        if !carry.is_empty() {
            acc.line(&String::from_utf8_lossy(&carry))
                .map_err(|e| CheckError::unknown(format!("the Prometheus endpoint lists {e}")))?;
        }
        acc.into_queues().for_each(each);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_of_3_10_and_later() {
        let text = "# TYPE rabbitmq_detailed_queue_messages_ready gauge\n\
            rabbitmq_detailed_queue_messages_ready{vhost=\"/\",queue=\"q_consumed\"} 0\n\
            rabbitmq_detailed_queue_messages_ready{vhost=\"/\",queue=\"q_ready\"} 5\n\
            rabbitmq_detailed_queue_messages_unacked{vhost=\"/\",queue=\"q_consumed\"} 3\n\
            rabbitmq_detailed_queue_messages{vhost=\"/\",queue=\"q_consumed\"} 3\n\
            rabbitmq_detailed_queue_messages{vhost=\"/\",queue=\"q_ready\"} 5\n\
            rabbitmq_detailed_queue_process_reductions_total{vhost=\"/\",queue=\"q_consumed\"} 11990\n\
            rabbitmq_detailed_queue_consumers{vhost=\"/\",queue=\"q_consumed\"} 1\n\
            rabbitmq_detailed_queue_consumers{vhost=\"/\",queue=\"q_ready\"} 0\n\
            rabbitmq_detailed_queue_consumers{vhost=\"/\",queue=\"we\"ird\\name sp\"} 0\n\
            rabbitmq_detailed_queue_consumers{vhost=\"/\",queue=\"esc\\\"aped\"} 2\n\
            rabbitmq_detailed_queue_consumers{vhost=\"other\",queue=\"elsewhere\"} 7\n\
            rabbitmq_build_info{rabbitmq_version=\"3.10.8\"} 1\n";
        let q = parse(text, "/");
        let names: Vec<&str> = q.iter().map(|q| q.name.as_str()).collect();
        assert_eq!(
            names,
            ["esc\"aped", "q_consumed", "q_ready", "we\"ird\\name sp"]
        );
        let c = &q[1];
        assert_eq!(
            (c.messages, c.ready, c.unacked, c.consumers),
            (Some(3), Some(0), Some(3), Some(1))
        );
        assert_eq!(q[2].messages, Some(5));
        assert_eq!(q[0].consumers, Some(2));
        assert_eq!(parse_line("garbage", "/"), None);
    }

    #[test]
    fn families_in_any_order_give_the_same_queues() {
        let names: Vec<String> = (0..500).map(|i| format!("q{}", (i * 7919) % 500)).collect();
        let families = [
            "messages_ready",
            "messages_unacked",
            "messages",
            "consumers",
        ];
        let line = |f: &str, q: &str, v: usize| {
            format!("rabbitmq_detailed_queue_{f}{{vhost=\"/\",queue=\"{q}\"}} {v}\n")
        };
        let mut grouped = String::new();
        for (k, f) in families.iter().enumerate() {
            for (i, q) in names.iter().enumerate() {
                grouped.push_str(&line(f, q, i * 10 + k));
            }
        }
        let mut interleaved = String::new();
        for (i, q) in names.iter().enumerate() {
            for (k, f) in families.iter().enumerate() {
                interleaved.push_str(&line(f, q, i * 10 + k));
            }
        }
        let a = parse(&grouped, "/");
        assert_eq!(a.len(), 500);
        assert_eq!(a, parse(&interleaved, "/"));
        let q0 = a.iter().find(|q| q.name == "q0").unwrap();
        assert_eq!(
            (q0.ready, q0.unacked, q0.messages, q0.consumers),
            (Some(0), Some(1), Some(2), Some(3))
        );
        assert!(a.windows(2).all(|w| w[0].name < w[1].name), "in name order");
    }
}
