//! RabbitMQ's own Prometheus plugin (`rabbitmq_prometheus`, shipped with the broker): the
//! endpoint `/metrics/detailed?family=queue_coarse_metrics&family=queue_consumer_count&vhost=V`
//! gives each queue's messages (ready, unacknowledged) and consumers without the management
//! database: the cheapest source at scale (about 0.25 s for 10,000 queues where the management
//! API needs about 1 s; BENCHMARKS.md). No credentials (the plugin has none); node-local, so
//! on a cluster ask every node; no rates.
//!
//! The text is read as it arrives, line by line, never whole (memory flat in its size).
//! RabbitMQ 3.10 does not escape label values; 3.11 and later do: a name is taken from
//! `queue="` to the line's last `"}`, and unescaped when it carries escapes.

use crate::Queue;
use custos_http::{Client, Method, Options, Url};
use plugin_core::{CheckError, Context};
use std::collections::BTreeMap;

/// The plugin's default listener.
pub const DEFAULT_URL: &str = "http://127.0.0.1:15692";

/// Longest line kept (a queue name is at most 255 bytes).
const MAX_LINE: usize = 64 << 10;

/// What one metric line says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Metric {
    Messages,
    Ready,
    Unacked,
    Consumers,
}

/// One `rabbitmq_detailed_queue_*{vhost="V",queue="Q"} N` line of vhost `vhost`: the metric, the
/// queue and the value; `None` for any other line.
pub fn parse_line(line: &str, vhost: &str) -> Option<(Metric, String, f64)> {
    let rest = line.strip_prefix("rabbitmq_detailed_queue_")?;
    let (name, labels) = rest.split_once('{')?;
    let metric = match name {
        "messages" => Metric::Messages,
        "messages_ready" => Metric::Ready,
        "messages_unacked" => Metric::Unacked,
        "consumers" => Metric::Consumers,
        _ => return None,
    };
    let escaped_vhost = vhost.replace('\\', "\\\\").replace('"', "\\\"");
    let after = labels
        .strip_prefix(&format!("vhost=\"{vhost}\",queue=\""))
        .or_else(|| labels.strip_prefix(&format!("vhost=\"{escaped_vhost}\",queue=\"")))?;
    let end = after.rfind("\"} ")?;
    let raw = &after[..end];
    let value: f64 = after[end + 3..].trim().parse().ok()?;
    Some((metric, unescape(raw), value))
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

/// The queues from a whole text (tests, and what [`Prom::queues`] does chunk by chunk).
pub fn parse(text: &str, vhost: &str) -> Vec<Queue> {
    let mut acc = Accumulator::default();
    for line in text.lines() {
        acc.line(line, vhost);
    }
    acc.queues()
}

#[derive(Default)]
struct Accumulator {
    queues: BTreeMap<String, Queue>,
}

impl Accumulator {
    fn line(&mut self, line: &str, vhost: &str) {
        let Some((metric, name, value)) = parse_line(line, vhost) else {
            return;
        };
        let q = self.queues.entry(name.clone()).or_insert_with(|| Queue {
            name,
            ..Queue::default()
        });
        let v = Some(value.max(0.0) as u64);
        match metric {
            Metric::Messages => q.messages = v,
            Metric::Ready => q.ready = v,
            Metric::Unacked => q.unacked = v,
            Metric::Consumers => q.consumers = v,
        }
    }

    fn queues(self) -> Vec<Queue> {
        self.queues
            .into_values()
            .map(|mut q| {
                // ready + unacknowledged when the total line is missing.
                if q.messages.is_none() {
                    q.messages = q.ready.zip(q.unacked).map(|(r, u)| r + u);
                }
                q
            })
            .collect()
    }
}

/// The plugin's endpoint.
pub struct Prom {
    http: Client,
    base: Url,
    vhost: String,
}

impl Prom {
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

    /// Every queue of the vhost on this node.
    pub fn queues(&self, ctx: &Context) -> Result<Vec<Queue>, CheckError> {
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
        let mut acc = Accumulator::default();
        let mut carry: Vec<u8> = Vec::new();
        let vhost = self.vhost.clone();
        let mut read = |chunk: &[u8]| -> Result<(), String> {
            carry.extend_from_slice(chunk);
            let mut start = 0;
            while let Some(i) = carry[start..].iter().position(|b| *b == b'\n') {
                acc.line(&String::from_utf8_lossy(&carry[start..start + i]), &vhost);
                start += i + 1;
            }
            carry.drain(..start);
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
            acc.line(&String::from_utf8_lossy(&carry), &self.vhost);
        }
        Ok(acc.queues())
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
}
