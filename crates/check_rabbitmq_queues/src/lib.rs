//! check_rabbitmq_queues: "are the queue workers behind?" — the backlog of each RabbitMQ queue.
//!
//! Replaces Zulip's cron job (`scripts/nagios/check-rabbitmq-queue`, which runs `rabbitmqctl`
//! as root every minute) with the management API (or AMQP for named queues):
//! - count mode (default): each queue's messages against `-w 10 -c 50`, Zulip's rule for the
//!   queues it has no statistics for;
//! - drain-time mode (`--stats-dir`, Zulip's `/var/log/zulip/queue_stats`): a consumed queue is
//!   judged by the time its workers need to clear it ([`drain`]); stuck workers are CRITICAL.
//!
//! The summary names the worst queues first (at most five), the long output every problem
//! queue; perfdata per queue: messages, consumers, then ready, unacknowledged and rates.

pub mod drain;

use clap::Parser;
use custos_rabbitmq::{BrokerArgs, Filter, Queue};
use plugin_core::{
    args, plural, CheckResult, Context, Dimension, Findings, Perfdata, PerfdataGroups, Plugin,
    Range, Report, State, Thresholds, Uom,
};
use regex_lite::Regex;
use std::path::{Path, PathBuf};

pub const PLUGIN: Plugin = Plugin::new("check_rabbitmq_queues", env!("CARGO_PKG_VERSION"));

/// Problem queues named in the status line; the long output lists them all.
const NAMED_IN_SUMMARY: usize = 5;

#[derive(Parser, Debug)]
#[command(about = "Check the backlog of RabbitMQ queues: messages, or the time to drain them")]
pub struct Args {
    #[command(flatten)]
    pub broker: BrokerArgs,

    /// Queue to check (repeatable) [default: every queue of the vhost]
    #[arg(short = 'q', long = "queue", value_name = "NAME")]
    pub queue: Vec<String>,

    #[command(flatten)]
    pub filter: Filter,

    /// Warning range on each queue's messages [default: 10, i.e. more than 10, as Zulip]
    #[arg(short = 'w', long = "warning", value_name = "RANGE", value_parser = args::count_range,
          default_value = "10")]
    pub warning: Range,

    /// Critical range on each queue's messages [default: 50, i.e. more than 50, as Zulip]
    #[arg(short = 'c', long = "critical", value_name = "RANGE", value_parser = args::count_range,
          default_value = "50")]
    pub critical: Range,

    /// Zulip's queue stats directory (/var/log/zulip/queue_stats): judge consumed queues by the time to drain them
    #[arg(long = "stats-dir", value_name = "DIR")]
    pub stats_dir: Option<PathBuf>,

    /// Drain-time limits of one queue, QUEUE=WARNING,CRITICAL in seconds or durations (repeatable)
    #[arg(long = "drain-limit", value_name = "QUEUE=W,C", value_parser = drain::parse_limit)]
    pub drain_limit: Vec<(String, f64, f64)>,

    /// With --stats-dir, queues still judged by count (their consumers write no stats)
    #[arg(long = "count-only", value_name = "RE", value_parser = args::regex,
          default_value = "^notify_tornado")]
    pub count_only: Regex,

    /// Node health checks of the management API, comma-separated (alarms, local-alarms, virtual-hosts, ...; none)
    #[arg(long = "health", value_name = "LIST", default_value = "alarms")]
    pub health: String,

    /// Zulip's check-rabbitmq-queue exactly: its queues with consumers by drain time (stats in
    /// --stats-dir, default /var/log/zulip/queue_stats), the others by count, and Zulip's words
    /// (queues normal; queue Q problem: STATE:...) as the summary
    #[arg(long = "zulip")]
    pub zulip: bool,
}

/// Zulip's queue stats directory (`QUEUE_STATS_DIR`).
pub const ZULIP_STATS_DIR: &str = "/var/log/zulip/queue_stats";

/// How one queue is judged.
enum Rule<'a> {
    Count,
    Drain(&'a Path),
    /// Not at all (Zulip's mode: one of its queues without consumers is the consumers check's).
    Skip,
}

impl Args {
    /// The stats directory: `--stats-dir`, or Zulip's with `--zulip`.
    fn stats_dir(&self) -> Option<&std::path::Path> {
        match &self.stats_dir {
            Some(d) => Some(d),
            None if self.zulip => Some(std::path::Path::new(ZULIP_STATS_DIR)),
            None => None,
        }
    }

    /// How `name` (with or without consumers) is judged.
    fn rule(&self, name: &str, consumed: bool) -> Rule<'_> {
        let Some(dir) = self.stats_dir() else {
            return Rule::Count;
        };
        if self.zulip {
            // check_rabbitmq_queue.py: its queues (and their shards) by drain time when
            // consumed, never by count; every other queue by count.
            let normal = custos_zulip::NORMAL_QUEUES.contains(&drain::strip_shard(name));
            return match (normal, consumed && !name.starts_with("notify_tornado")) {
                (true, true) => Rule::Drain(dir),
                (true, false) => Rule::Skip,
                (false, _) => Rule::Count,
            };
        }
        if consumed && !self.count_only.is_match(name) {
            Rule::Drain(dir)
        } else {
            Rule::Count
        }
    }
}

pub fn check(args: &Args, ctx: &Context) -> CheckResult {
    let broker = args.broker.connect(ctx, &PLUGIN.user_agent())?;
    let mut findings = Findings::default();
    for name in args.health.split(',').map(str::trim) {
        if name.is_empty() || name == "none" {
            continue;
        }
        if let Some(reason) = broker.health(ctx, name)? {
            findings.add_ranked(
                State::Critical,
                format!("health check {name} failed: {reason}"),
                f64::INFINITY,
            );
        }
    }
    let mut tally = Tally::new(args, findings, plugin_core::unix_now(), ctx.verbosity);
    let any = custos_rabbitmq::visit(
        &broker,
        ctx,
        &args.queue,
        &args.filter,
        &args.broker.vhost,
        &mut |name, q| tally.add(name, q),
    )?;
    if !any {
        let Tally { findings, .. } = tally;
        return Ok(Report::new(
            findings.state(),
            findings.summary(Some("no queues to check")),
        ));
    }
    let mut report = tally.report();
    report.details.extend(broker.note());
    Ok(report)
}

/// What judging one queue found: custos' finding (state, words, rank), Zulip's words, and the
/// drain time's perfdata when the drain rule applied.
struct Judged {
    finding: Option<(State, String, f64)>,
    zulip: Option<(State, String)>,
    drain: Option<Perfdata>,
    counted: bool,
}

/// Judges one queue with `messages` by its rule (drain time, count, or not at all).
fn judge(args: &Args, name: &str, messages: u64, consumed: bool, now: f64) -> Judged {
    match args.rule(name, consumed) {
        Rule::Drain(dir) => by_drain(args, name, messages, dir, now),
        Rule::Count => by_count(args, name, messages),
        Rule::Skip => Judged {
            finding: None,
            zulip: None,
            drain: None,
            counted: false,
        },
    }
}

/// Zulip's rule for a queue with a stats file in `dir`: the time its backlog takes to clear.
fn by_drain(args: &Args, name: &str, messages: u64, dir: &Path, now: f64) -> Judged {
    let stats = drain::read_stats(dir, name);
    let verdict = drain::judge(name, messages, stats, now, &args.drain_limit);
    let expected = verdict.expected;
    let (zulip, finding) = if verdict.state == State::Ok {
        (None, None)
    } else {
        (
            Some((
                verdict.state,
                format!("queue {name} problem: {}:{}", verdict.state, verdict.zulip),
            )),
            Some((
                verdict.state,
                verdict.text,
                expected.unwrap_or(messages as f64),
            )),
        )
    };
    let (w, c) = drain::limits(name, &args.drain_limit);
    let drain = match expected {
        Some(e) => Perfdata::new(format!("{name}_drain"), e)
            .uom(Uom::Seconds)
            .warning(Some(Range::up_to(w)))
            .critical(Some(Range::up_to(c)))
            .min(0.0),
        None => Perfdata::unmeasured(format!("{name}_drain")).uom(Uom::Seconds),
    };
    Judged {
        finding,
        zulip,
        drain: Some(drain),
        counted: false,
    }
}

/// The count rule: the number of messages against -w/-c.
fn by_count(args: &Args, name: &str, messages: u64) -> Judged {
    let counts = Thresholds::new(Some(args.warning), Some(args.critical));
    let alert = counts.alert(messages as f64, Dimension::Count);
    let (zulip, finding) = match alert {
        None => (None, None),
        Some((state, why)) => {
            let level = if state == State::Critical {
                "critical"
            } else {
                "warning"
            };
            (
                Some((
                    state,
                    format!("queue {name} problem: {state}:count {level}: {messages}"),
                )),
                Some((
                    state,
                    format!("queue {name}: {messages} messages ({why})"),
                    messages as f64,
                )),
            )
        }
    };
    Judged {
        finding,
        zulip,
        drain: None,
        counted: true,
    }
}

/// Judges the queues (with what the health checks found) at time `now`: the report.
pub fn assess(
    args: &Args,
    queues: impl IntoIterator<Item = (String, Option<Queue>)>,
    findings: Findings,
    now: f64,
    verbosity: u8,
) -> Report {
    let mut tally = Tally::new(args, findings, now, verbosity);
    for (name, q) in queues {
        tally.add(name, q);
    }
    tally.report()
}

/// Perfdata groups, most useful first (the output budget keeps whole items from the front):
/// totals, messages per queue, consumers, drain times, then ready, unacknowledged and rates.
const TOTALS: usize = 0;
const MESSAGES: usize = 1;
const CONSUMERS: usize = 2;
const DRAINS: usize = 3;
const READY: usize = 4;
const UNACKED: usize = 5;
const PUBLISH: usize = 6;
const DELIVER: usize = 7;

/// Zulip's words kept for the status line (the worst first; it is cut at 400 bytes anyway).
const ZULIP_LINES: usize = 50;

/// The queues judged one at a time, as they are read: counts, the worst findings, and the
/// perfdata and long output the output can carry. Memory does not grow with the number of
/// queues (10,000 queues: BENCHMARKS.md).
pub struct Tally<'a> {
    args: &'a Args,
    now: f64,
    verbosity: u8,
    findings: Findings,
    queues: u64,
    total: u64,
    largest: Option<(String, u64)>,
    perf: PerfdataGroups,
    /// The output's byte budget (`None`: everything is printed).
    budget: Option<usize>,
    /// `-v`: each queue's numbers, while the output has room.
    details: Vec<String>,
    details_bytes: usize,
    not_listed: u64,
    /// Zulip's words per problem queue: (state, "queue Q problem: STATE:message").
    zulip: Vec<(State, String)>,
}

impl<'a> Tally<'a> {
    /// Nothing judged yet; `findings` holds what the health checks found.
    pub fn new(args: &'a Args, findings: Findings, now: f64, verbosity: u8) -> Tally<'a> {
        Tally::with_budget(args, findings, now, verbosity, plugin_core::output_budget())
    }

    /// The same for an output of `budget` bytes (`None`: everything is kept).
    pub fn with_budget(
        args: &'a Args,
        findings: Findings,
        now: f64,
        verbosity: u8,
        budget: Option<usize>,
    ) -> Tally<'a> {
        let mut all = Findings::for_budget(budget);
        all.extend(findings.into_subs());
        Tally {
            args,
            now,
            verbosity,
            findings: all,
            queues: 0,
            total: 0,
            largest: None,
            perf: PerfdataGroups::new(8, budget),
            budget,
            details: Vec::new(),
            details_bytes: 0,
            not_listed: 0,
            zulip: Vec::new(),
        }
    }

    /// Judges one queue (`None`: it does not exist).
    pub fn add(&mut self, name: String, queue: Option<Queue>) {
        self.queues += 1;
        let Some(q) = queue else {
            self.findings
                .add_ranked(State::Critical, format!("queue {name} does not exist"), 0.0);
            self.perf.push(MESSAGES, Perfdata::unmeasured(&name));
            return;
        };
        let Some(messages) = q.messages else {
            self.findings
                .add(State::Unknown, format!("queue {name}: no statistics yet"));
            self.perf.push(MESSAGES, Perfdata::unmeasured(&name));
            return;
        };
        self.total += messages;
        if self.largest.as_ref().is_none_or(|(_, m)| messages > *m) {
            self.largest = Some((name.clone(), messages));
        }
        let args = self.args;
        let j = judge(
            args,
            &name,
            messages,
            q.consumers.unwrap_or(0) > 0,
            self.now,
        );
        if let Some((state, text, rank)) = j.finding {
            self.findings.add_ranked(state, text, rank);
        }
        if let Some(z) = j.zulip {
            self.zulip.push(z);
            if self.zulip.len() >= 2 * ZULIP_LINES {
                self.zulip
                    .sort_by_key(|(state, _)| std::cmp::Reverse(state.severity()));
                self.zulip.truncate(ZULIP_LINES);
            }
        }
        if let Some(d) = j.drain {
            self.perf.push(DRAINS, d);
        }
        self.perfdata(&name, &q, j.counted);
        if self.verbosity > 0 {
            let line = describe(&q);
            if self
                .budget
                .is_some_and(|b| self.details_bytes + line.len() > b)
            {
                self.not_listed += 1;
            } else {
                self.details_bytes += line.len() + 1;
                self.details.push(line);
            }
        }
    }

    /// A queue's perfdata, each number in its group: messages (with the count thresholds when
    /// the count rule judged it), consumers, ready, unacknowledged and rates.
    fn perfdata(&mut self, name: &str, q: &Queue, counted: bool) {
        let item = Perfdata::new(name, q.messages.unwrap_or(0) as f64).min(0.0);
        let counts = Thresholds::new(Some(self.args.warning), Some(self.args.critical));
        self.perf.push(
            MESSAGES,
            if counted {
                item.thresholds(&counts)
            } else {
                item
            },
        );
        let per_queue = [
            (CONSUMERS, "consumers", q.consumers.map(|c| c as f64)),
            (READY, "ready", q.ready.map(|c| c as f64)),
            (UNACKED, "unacked", q.unacked.map(|c| c as f64)),
            (PUBLISH, "publish_rate", q.publish_rate),
            (DELIVER, "deliver_rate", q.deliver_rate),
        ];
        for (group, what, value) in per_queue {
            if let Some(v) = value {
                self.perf
                    .push(group, Perfdata::new(format!("{name}_{what}"), v).min(0.0));
            }
        }
    }

    /// The report of everything judged.
    pub fn report(self) -> Report {
        let Tally {
            args,
            findings,
            queues,
            total,
            largest,
            mut perf,
            details,
            not_listed,
            zulip,
            ..
        } = self;
        let mut measured = format!(
            "{queues} queue{}, {total} message{}",
            plural(queues),
            plural(total)
        );
        if let Some((name, m)) = largest.filter(|_| findings.is_empty()) {
            measured.push_str(&format!(", largest {name} ({m})"));
        }
        let mut report = Report::new(
            findings.state(),
            findings.summary_top(NAMED_IN_SUMMARY, Some(&measured)),
        );
        findings.details_into(&mut report);
        if args.zulip {
            in_zulips_words(&mut report, zulip, !findings.is_empty(), measured);
        }
        report.details.extend(details);
        report.details_left_out += not_listed as usize;
        perf.push(TOTALS, Perfdata::new("queues", queues as f64).min(0.0));
        perf.push(TOTALS, Perfdata::new("messages", total as f64).min(0.0));
        perf.into_report(&mut report);
        report
    }
}

/// `--zulip`: Zulip's line is the summary (what its state file said), custos' words follow.
fn in_zulips_words(
    report: &mut Report,
    mut zulip: Vec<(State, String)>,
    found: bool,
    measured: String,
) {
    zulip.sort_by_key(|(state, _)| std::cmp::Reverse(state.severity()));
    let mut lines: Vec<String> = Vec::new();
    if found && zulip.is_empty() {
        // Only custos' own findings (a health check, a missing queue): its summary.
        lines.push(report.summary.clone());
    }
    lines.extend(zulip.into_iter().map(|(_, text)| text));
    report.summary = if lines.is_empty() {
        "queues normal".to_string()
    } else {
        lines.join("; ")
    };
    report.details.insert(0, measured);
}

/// One queue's numbers for `-v`.
fn describe(q: &Queue) -> String {
    let n = |v: Option<u64>| v.map_or("?".to_string(), |v| v.to_string());
    format!(
        "{}: {} message{} ({} ready, {} unacknowledged), {} consumer{}",
        q.name,
        n(q.messages),
        plural(q.messages.unwrap_or(0)),
        n(q.ready),
        n(q.unacked),
        n(q.consumers),
        plural(q.consumers.unwrap_or(0))
    )
}
