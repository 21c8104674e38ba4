//! Zulip's drain-time rule (`scripts/lib/check_rabbitmq_queue.py`): a consumed queue is judged
//! by how long its workers need to clear the backlog, from the `<queue>.stats` file each worker
//! writes at least every 30 s while it runs.
//!
//! - no readable stats: UNKNOWN ("invalid or no stats data");
//! - stats older than 180 s with more than 10 messages: CRITICAL, stuck;
//! - no `recent_average_consume_time` yet: OK;
//! - otherwise `messages × recent_average_consume_time` against the queue's limits (strictly
//!   greater: WARNING, CRITICAL).

use plugin_core::State;
use serde::Deserialize;
use std::path::Path;

/// Stats older than this (seconds) ...
pub const STUCK_AFTER: f64 = 180.0;
/// ... with more messages than this: the queue is stuck.
pub const STUCK_MESSAGES: u64 = 10;

/// Zulip's limits, seconds to clear: (queue, warning, critical); others 30/60.
const ZULIP_LIMITS: &[(&str, f64, f64)] = &[
    ("digest_emails", 1200.0, 1800.0),
    ("missedmessage_mobile_notifications", 120.0, 180.0),
    ("embed_links", 60.0, 90.0),
    ("deferred_work", 600.0, 900.0),
    ("email_senders", 90.0, 300.0),
    ("deferred_email_senders", 3600.0, 4500.0),
];
const DEFAULT_LIMITS: (f64, f64) = (30.0, 60.0);

/// What a Zulip queue worker writes to `<queue>.stats`.
#[derive(Debug, Deserialize)]
pub struct Stats {
    pub update_time: f64,
    pub recent_average_consume_time: Option<f64>,
}

/// Reads `<dir>/<queue>.stats`.
pub fn read_stats(dir: &Path, queue: &str) -> Result<Stats, String> {
    let path = dir.join(format!("{queue}.stats"));
    let text = plugin_core::files::read_limited(&path, plugin_core::files::cap::CONFIG_FILE)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    serde_json::from_slice(&text).map_err(|e| format!("{}: {e}", path.display()))
}

/// A queue's limits: `--drain-limit` first, then Zulip's table (a `_shardN` queue takes its
/// base queue's limits), then 30/60 s.
pub fn limits(queue: &str, overrides: &[(String, f64, f64)]) -> (f64, f64) {
    if let Some((_, w, c)) = overrides.iter().find(|(q, _, _)| q == queue) {
        return (*w, *c);
    }
    let base = strip_shard(queue);
    ZULIP_LIMITS
        .iter()
        .find(|(q, _, _)| *q == base)
        .map(|(_, w, c)| (*w, *c))
        .unwrap_or(DEFAULT_LIMITS)
}

/// `name_shard3` → `name`.
pub fn strip_shard(queue: &str) -> &str {
    match queue.rfind("_shard") {
        Some(i) if i + 6 < queue.len() && queue[i + 6..].bytes().all(|b| b.is_ascii_digit()) => {
            &queue[..i]
        }
        _ => queue,
    }
}

/// The verdict for one queue.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    /// The queue's state.
    pub state: State,
    /// custos' words (empty when OK).
    pub text: String,
    /// Zulip's words, as `check_rabbitmq_queue.py` writes them after `queue Q problem: STATE:`
    /// (empty when OK).
    pub zulip: String,
    /// The drain time, when known.
    pub expected: Option<f64>,
}

/// A float as Python's `repr` writes it (`75.0`, `0.5`, `1700000000.25`), for Zulip's words.
pub fn py_float(v: f64) -> String {
    if v.is_finite() && v.fract() == 0.0 && v.abs() < 1e16 {
        format!("{v:.1}")
    } else {
        format!("{v}")
    }
}

/// The verdict for one queue with `messages` messages, its stats, at time `now`.
pub fn judge(
    queue: &str,
    messages: u64,
    stats: Result<Stats, String>,
    now: f64,
    overrides: &[(String, f64, f64)],
) -> Verdict {
    let stats = match stats {
        Ok(s) => s,
        Err(why) => {
            return Verdict {
                state: State::Unknown,
                text: format!("queue {queue}: invalid or no stats data ({why})"),
                zulip: "invalid or no stats data".into(),
                expected: None,
            }
        }
    };
    let age = now - stats.update_time;
    if age > STUCK_AFTER && messages > STUCK_MESSAGES {
        return Verdict {
            state: State::Critical,
            text: format!(
                "queue {queue} appears to be stuck: stats last updated {}s ago, {messages} messages",
                age.round()
            ),
            zulip: format!(
                "queue appears to be stuck, last update {}, queue size {messages}",
                py_float(stats.update_time)
            ),
            expected: None,
        };
    }
    match stats.recent_average_consume_time {
        Some(avg) => by_drain_time(queue, messages, messages as f64 * avg, overrides),
        None => Verdict::ok(None),
    }
}

impl Verdict {
    fn ok(expected: Option<f64>) -> Verdict {
        Verdict {
            state: State::Ok,
            text: String::new(),
            zulip: String::new(),
            expected,
        }
    }
}

/// The verdict on a queue whose backlog takes `expected` seconds to clear.
fn by_drain_time(
    queue: &str,
    messages: u64,
    expected: f64,
    overrides: &[(String, f64, f64)],
) -> Verdict {
    let (warning, critical) = limits(queue, overrides);
    let (state, limit) = if expected > critical {
        (State::Critical, format!("critical > {critical}s"))
    } else if expected > warning {
        (State::Warning, format!("warning > {warning}s"))
    } else {
        return Verdict::ok(Some(expected));
    };
    Verdict {
        state,
        text: format!(
            "queue {queue}: clearing the backlog will take {}s ({limit}), {messages} messages",
            plugin_core::format_number((expected * 10.0).round() / 10.0)
        ),
        zulip: format!(
            "clearing the backlog will take too long: {}s, size: {messages}",
            py_float(expected)
        ),
        expected: Some(expected),
    }
}

/// `QUEUE=W,C` (seconds, or durations such as 20min).
pub fn parse_limit(text: &str) -> Result<(String, f64, f64), String> {
    let (queue, limits) = text
        .rsplit_once('=')
        .ok_or_else(|| format!("'{text}': expected QUEUE=WARNING,CRITICAL"))?;
    let (w, c) = limits
        .split_once(',')
        .ok_or_else(|| format!("'{text}': expected QUEUE=WARNING,CRITICAL"))?;
    let w = plugin_core::args::duration(w.trim())?;
    let c = plugin_core::args::duration(c.trim())?;
    if queue.is_empty() {
        return Err(format!("'{text}': no queue name"));
    }
    if w > c {
        return Err(format!(
            "'{text}': the warning limit is above the critical one"
        ));
    }
    Ok((queue.to_string(), w, c))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stats(age: f64, avg: Option<f64>) -> Result<Stats, String> {
        Ok(Stats {
            update_time: 1000.0 - age,
            recent_average_consume_time: avg,
        })
    }

    #[test]
    fn zulip_rules() {
        // Zulip's table, shards and overrides.
        assert_eq!(limits("digest_emails", &[]), (1200.0, 1800.0));
        assert_eq!(
            limits("missedmessage_mobile_notifications_shard2", &[]),
            (120.0, 180.0)
        );
        assert_eq!(limits("user_activity", &[]), (30.0, 60.0));
        let o = vec![("user_activity".to_string(), 5.0, 9.0)];
        assert_eq!(limits("user_activity", &o), (5.0, 9.0));
        // 300 messages x 5 s = 1500 s: digest_emails warns (1200 < 1500 <= 1800).
        let v = judge("digest_emails", 300, stats(1.0, Some(5.0)), 1000.0, &[]);
        assert_eq!(v.state, State::Warning);
        assert_eq!(
            v.text,
            "queue digest_emails: clearing the backlog will take 1500s (warning > 1200s), 300 messages"
        );
        assert_eq!(
            v.zulip,
            "clearing the backlog will take too long: 1500.0s, size: 300"
        );
        assert_eq!(v.expected, Some(1500.0));
        // Strictly greater: exactly the limit is fine.
        assert_eq!(
            judge("q", 30, stats(1.0, Some(1.0)), 1000.0, &[]).state,
            State::Ok
        );
        assert_eq!(
            judge("q", 61, stats(1.0, Some(1.0)), 1000.0, &[]).state,
            State::Critical
        );
        // Stuck: old stats and more than 10 messages; 10 messages is not stuck.
        let v = judge("q", 11, stats(200.0, Some(0.001)), 1000.0, &[]);
        assert_eq!(v.state, State::Critical);
        assert_eq!(
            v.text,
            "queue q appears to be stuck: stats last updated 200s ago, 11 messages"
        );
        assert_eq!(
            v.zulip,
            "queue appears to be stuck, last update 800.0, queue size 11"
        );
        assert_eq!(
            judge("q", 10, stats(200.0, Some(0.001)), 1000.0, &[]).state,
            State::Ok
        );
        // No average yet: OK; no stats: UNKNOWN.
        assert_eq!(
            judge("q", 1000, stats(1.0, None), 1000.0, &[]).state,
            State::Ok
        );
        let v = judge("q", 1, Err("x.stats: gone".into()), 1000.0, &[]);
        assert_eq!(v.zulip, "invalid or no stats data");
        assert_eq!(
            (v.state, v.text.as_str()),
            (
                State::Unknown,
                "queue q: invalid or no stats data (x.stats: gone)"
            )
        );
    }

    #[test]
    fn shards_and_limit_options() {
        assert_eq!(strip_shard("user_activity_shard12"), "user_activity");
        assert_eq!(strip_shard("user_activity_shard"), "user_activity_shard");
        assert_eq!(strip_shard("a_shardx"), "a_shardx");
        assert_eq!(
            parse_limit("digest_emails=20min,30min"),
            Ok(("digest_emails".into(), 1200.0, 1800.0))
        );
        assert_eq!(parse_limit("a=b=1,2"), Ok(("a=b".into(), 1.0, 2.0)));
        for bad in ["x", "x=1", "=1,2", "x=2,1", "x=a,2"] {
            assert!(parse_limit(bad).is_err(), "{bad}");
        }
    }
}
