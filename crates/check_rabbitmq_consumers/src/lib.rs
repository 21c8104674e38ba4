//! check_rabbitmq_consumers: "is every queue being consumed?"
//!
//! Replaces Zulip's cron job (`scripts/nagios/check-rabbitmq-consumers`: `rabbitmqctl
//! list_consumers` as root, one state file per queue from a hard-coded list) with the
//! management API (or AMQP for named queues), and discovers the queues itself. Fewer consumers
//! than a queue's minimum is CRITICAL — Zulip has no WARNING here — with Zulip's message
//! `queue Q has N consumers, needs M`; `-w`/`-c` ranges are there for finer rules.
//!
//! `--zulip-grouping` counts as Zulip does: `notify_tornado_*` queues together as
//! `notify_tornado`, and `NAME_shardN` as `NAME`.

use clap::Parser;
use custos_rabbitmq::{BrokerArgs, Filter, Queue};
use plugin_core::{
    args, CheckError, CheckResult, Context, Dimension, Findings, Perfdata, Plugin, Range, Report,
    State, Thresholds,
};
use std::collections::BTreeMap;

pub const PLUGIN: Plugin = Plugin::new("check_rabbitmq_consumers", env!("CARGO_PKG_VERSION"));

/// Problem queues named in the status line; the long output lists them all.
const NAMED_IN_SUMMARY: usize = 5;

#[derive(Parser, Debug)]
#[command(about = "Check that every RabbitMQ queue has its consumers")]
pub struct Args {
    #[command(flatten)]
    pub broker: BrokerArgs,

    /// Queue with its own minimum, NAME or NAME=MIN (repeatable) [default: every queue of the vhost]
    #[arg(short = 'q', long = "queue", value_name = "NAME[=MIN]", value_parser = parse_queue)]
    pub queue: Vec<(String, Option<u64>)>,

    #[command(flatten)]
    pub filter: Filter,

    /// Fewest consumers a queue may have (for queues without their own =MIN)
    #[arg(long = "min-consumers", value_name = "N", default_value_t = 1)]
    pub min_consumers: u64,

    /// Warning range on each queue's consumers, e.g. 2: (fewer than 2) [default: none]
    #[arg(short = 'w', long = "warning", value_name = "RANGE", value_parser = args::count_range)]
    pub warning: Option<Range>,

    /// Critical range on each queue's consumers, instead of --min-consumers, e.g. 1:
    #[arg(short = 'c', long = "critical", value_name = "RANGE", value_parser = args::count_range)]
    pub critical: Option<Range>,

    /// Count notify_tornado_* queues as notify_tornado and NAME_shardN as NAME (Zulip's cron job)
    #[arg(long = "zulip-grouping")]
    pub zulip_grouping: bool,
}

/// `NAME` or `NAME=MIN`.
fn parse_queue(text: &str) -> Result<(String, Option<u64>), String> {
    match text.rsplit_once('=') {
        Some((name, min)) if !name.is_empty() => {
            let min = min
                .trim()
                .parse::<u64>()
                .map_err(|_| format!("'{text}': the minimum after '=' must be a whole number"))?;
            Ok((name.to_string(), Some(min)))
        }
        _ if text.is_empty() => Err("empty queue name".into()),
        _ => Ok((text.to_string(), None)),
    }
}

/// Zulip's grouping: `notify_tornado_9800` → `notify_tornado`, `user_activity_shard2` →
/// `user_activity`.
pub fn group_name(queue: &str) -> String {
    if queue.starts_with("notify_tornado_") {
        return "notify_tornado".into();
    }
    // re.sub(r"_shard(\d+)", "", queue), as Zulip's cron job does.
    let mut out = String::new();
    let mut rest = queue;
    while let Some(i) = rest.find("_shard") {
        let digits = rest[i + 6..].bytes().take_while(u8::is_ascii_digit).count();
        out.push_str(&rest[..i]);
        if digits == 0 {
            out.push_str("_shard");
        }
        rest = &rest[i + 6 + digits..];
    }
    out.push_str(rest);
    out
}

pub fn check(args: &Args, ctx: &Context) -> CheckResult {
    let broker = args
        .broker
        .connect(ctx, &format!("custos/{} {}", PLUGIN.name, PLUGIN.version))?;
    let names: Vec<String> = args.queue.iter().map(|(n, _)| n.clone()).collect();
    let grouped = args.zulip_grouping;
    if grouped && matches!(broker, custos_rabbitmq::Broker::Amqp(_)) {
        return Err(CheckError::unknown(
            "--zulip-grouping needs the management API (AMQP cannot list queues)",
        ));
    }
    // With grouping, a named queue is a group: list everything and fold.
    let asked: &[String] = if grouped { &[] } else { &names };
    let mut report =
        match custos_rabbitmq::select(&broker, ctx, asked, &args.filter, &args.broker.vhost)? {
            Some(queues) => assess(args, &queues, ctx.verbosity),
            None => Report::ok("no queues to check"),
        };
    report.details.extend(broker.notes());
    Ok(report)
}

/// Judges the queues' consumers: the report.
pub fn assess(args: &Args, queues: &[(String, Option<Queue>)], verbosity: u8) -> Report {
    let names: Vec<String> = args.queue.iter().map(|(n, _)| n.clone()).collect();
    let grouped = args.zulip_grouping;
    // Consumers per queue (or group); None: the queue does not exist or has no statistics.
    let mut counts: BTreeMap<String, Result<u64, &'static str>> = BTreeMap::new();
    for (name, q) in queues {
        let key = if grouped {
            group_name(name)
        } else {
            name.clone()
        };
        let n: Result<u64, &'static str> = match q {
            None => Err("does not exist"),
            Some(Queue {
                consumers: Some(c), ..
            }) => Ok(*c),
            Some(_) => Err("has no statistics yet"),
        };
        let entry = counts.entry(key).or_insert(Ok(0));
        *entry = match (*entry, n) {
            (Ok(a), Ok(b)) => Ok(a + b),
            (Err(e), _) | (_, Err(e)) => Err(e),
        };
    }
    if grouped && !names.is_empty() {
        // Named groups only; one with no member queue does not exist.
        counts.retain(|k, _| names.contains(k));
        for n in &names {
            counts.entry(n.clone()).or_insert(Err("does not exist"));
        }
    }

    let mut findings = Findings::default();
    let mut perf = Vec::new();
    let mut total = 0;
    let mut fewest: Option<(&str, u64)> = None;
    for (name, count) in &counts {
        let own = args
            .queue
            .iter()
            .find(|(n, _)| n == name)
            .and_then(|(_, m)| *m);
        // A queue's own minimum, else -c, else --min-consumers.
        let (critical, needs) = match (own, args.critical) {
            (None, Some(c)) => (c, None),
            _ => {
                let minimum = own.unwrap_or(args.min_consumers);
                (at_least(minimum), Some(minimum))
            }
        };
        let thresholds = Thresholds::new(args.warning, Some(critical));
        let count = match count {
            Ok(c) => *c,
            Err(why) => {
                let state = if *why == "does not exist" {
                    State::Critical
                } else {
                    State::Unknown
                };
                findings.add_ranked(state, format!("queue {name} {why}"), f64::INFINITY);
                perf.push(Perfdata::unmeasured(name).thresholds(&thresholds));
                continue;
            }
        };
        total += count;
        if fewest.is_none_or(|(_, f)| count < f) {
            fewest = Some((name, count));
        }
        if let Some((state, why)) = thresholds.alert(count as f64, Dimension::Count) {
            let text = match needs {
                Some(m) if state == State::Critical => {
                    format!("queue {name} has {count} consumers, needs {m}")
                }
                _ => format!("queue {name} has {count} consumers ({why})"),
            };
            findings.add_ranked(state, text, -(count as f64));
        }
        perf.push(
            Perfdata::new(name, count as f64)
                .thresholds(&thresholds)
                .min(0.0),
        );
    }

    let what = if grouped { "queue group" } else { "queue" };
    let mut measured = format!(
        "{} {what}{}, {total} consumer{}",
        counts.len(),
        if counts.len() == 1 { "" } else { "s" },
        if total == 1 { "" } else { "s" }
    );
    if let Some((name, n)) = fewest.filter(|_| findings.is_empty()) {
        measured.push_str(&format!(", fewest {name} ({n})"));
    }
    let mut report = Report::new(
        findings.state(),
        findings.summary_top(NAMED_IN_SUMMARY, Some(&measured)),
    );
    report.details = findings.lines().into_iter().map(String::from).collect();
    if verbosity > 0 {
        for (name, count) in &counts {
            if let Ok(c) = count {
                report.details.push(format!("{name}: {c} consumers"));
            }
        }
    }
    report.perfdata = perf;
    report
}

/// Alerts below `n`: the range `n:`.
fn at_least(n: u64) -> Range {
    Range {
        start: Some(n as f64),
        end: None,
        inside: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zulip_grouping() {
        assert_eq!(group_name("notify_tornado_9800"), "notify_tornado");
        assert_eq!(group_name("notify_tornado"), "notify_tornado");
        assert_eq!(group_name("user_activity_shard2"), "user_activity");
        assert_eq!(
            group_name("missedmessage_mobile_notifications_shard10"),
            "missedmessage_mobile_notifications"
        );
        assert_eq!(group_name("a_shard1_b_shard22"), "a_b");
        assert_eq!(group_name("odd_shard"), "odd_shard");
        assert_eq!(group_name("deferred_work"), "deferred_work");
    }

    #[test]
    fn queue_minimums() {
        assert_eq!(parse_queue("q"), Ok(("q".into(), None)));
        assert_eq!(
            parse_queue("notify_tornado=4"),
            Ok(("notify_tornado".into(), Some(4)))
        );
        assert!(parse_queue("q=x").is_err());
        assert!(parse_queue("").is_err());
    }
}
