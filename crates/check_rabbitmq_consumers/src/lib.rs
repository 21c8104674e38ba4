//! check_rabbitmq_consumers: "is every queue being consumed?"
//!
//! Replaces Zulip's cron job (`scripts/nagios/check-rabbitmq-consumers`: `rabbitmqctl
//! list_consumers` as root, one state file per queue from a hard-coded list) with the
//! management API (or AMQP for named queues), and discovers the queues itself. Fewer consumers
//! than a queue's minimum is CRITICAL — Zulip has no WARNING here — with Zulip's message
//! `queue Q has N consumers, needs M`; `-w`/`-c` ranges are there for finer rules.
//!
//! `--zulip-grouping` counts as Zulip does: `notify_tornado_*` queues together as
//! `notify_tornado`, and `NAME_shardN` as `NAME`; each group needs what Zulip's cron job asks,
//! from `/etc/zulip/zulip.conf`. Zulip's own command lines work: `check_rabbitmq_consumers
//! QUEUE` (Nagios, 2014-2021) and `--zulip-state-dir /var/lib/nagios_state` (the cron job's
//! files, for `check_cron_file`).

use clap::Parser;
use custos_rabbitmq::{BrokerArgs, Filter, Queue};
use custos_zulip::ZulipConf;
use plugin_core::statefile::Record;
use plugin_core::{
    args, plural, CheckError, CheckResult, Context, Dimension, Findings, Perfdata, PerfdataGroups,
    Plugin, Range, Report, State, Thresholds,
};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

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

    /// Fewest consumers a queue may have (for queues without their own =MIN) [default: 1; with
    /// Zulip's grouping on a Zulip server, Zulip's targets from zulip.conf]
    #[arg(long = "min-consumers", value_name = "N")]
    pub min_consumers: Option<u64>,

    /// Warning range on each queue's consumers, e.g. 2: (fewer than 2) [default: none]
    #[arg(short = 'w', long = "warning", value_name = "RANGE", value_parser = args::count_range)]
    pub warning: Option<Range>,

    /// Critical range on each queue's consumers, instead of --min-consumers, e.g. 1:
    #[arg(short = 'c', long = "critical", value_name = "RANGE", value_parser = args::count_range)]
    pub critical: Option<Range>,

    /// Count notify_tornado_* queues as notify_tornado and NAME_shardN as NAME (Zulip's cron job)
    #[arg(long = "zulip-grouping")]
    pub zulip_grouping: bool,

    /// Zulip's command line: the queue (group) to check, Zulip's grouping implied
    /// (check_rabbitmq_consumers notify_tornado)
    #[arg(value_name = "QUEUE")]
    pub zulip_queue: Vec<String>,

    /// Zulip's server configuration: with Zulip's grouping, each group needs what Zulip's cron
    /// job asks (notify_tornado one consumer per Tornado port, missedmessage_mobile_notifications
    /// one per shard, user_activity one per shard, other queues [application_server] QUEUE_workers)
    #[arg(long = "zulip-conf", value_name = "FILE", default_value = custos_zulip::DEFAULT_CONF)]
    pub zulip_conf: PathBuf,

    /// Write Zulip's state files as its cron job does: DIR/check-rabbitmq-consumers-QUEUE for
    /// every group (Zulip's queues included, absent ones with 0 consumers)
    #[arg(long = "zulip-state-dir", value_name = "DIR")]
    pub zulip_state_dir: Option<PathBuf>,
}

impl Args {
    /// Zulip's grouping: asked for, or implied by Zulip's arguments.
    pub fn grouped(&self) -> bool {
        self.zulip_grouping || !self.zulip_queue.is_empty() || self.zulip_state_dir.is_some()
    }

    /// The queues named: --queue's, then Zulip's positional ones.
    fn named(&self) -> Vec<(String, Option<u64>)> {
        let mut named = self.queue.clone();
        named.extend(self.zulip_queue.iter().map(|q| (q.clone(), None)));
        named
    }
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
    let broker = args.broker.connect(ctx, &PLUGIN.user_agent())?;
    let names: Vec<String> = args.named().into_iter().map(|(n, _)| n).collect();
    let grouped = args.grouped();
    let zulip = if grouped {
        ZulipConf::load(&args.zulip_conf).map_err(CheckError::unknown)?
    } else {
        None
    };
    if grouped && !broker.lists() {
        return Err(CheckError::unknown(
            "--zulip-grouping needs the management API (AMQP cannot list queues)",
        ));
    }
    // With grouping, a named queue is a group: list everything and fold.
    let asked: &[String] = if grouped { &[] } else { &names };
    let mut judge = Judge::new(
        args,
        zulip.as_ref(),
        ctx.verbosity,
        plugin_core::output_budget(),
    );
    let mut counts = Counts::new();
    let any = custos_rabbitmq::visit(
        &broker,
        ctx,
        asked,
        &args.filter,
        &args.broker.vhost,
        &mut |name, q| match folds(args) {
            true => add(args, &mut counts, name, q.as_ref()),
            false => judge.add(name, consumers(q.as_ref())),
        },
    )?;
    for (name, count) in finish(args, counts) {
        judge.add(name, count);
    }
    let mut report = if any {
        judge.report()
    } else {
        Assessed {
            report: Report::ok("no queues to check"),
            zulip_lines: Vec::new(),
        }
    };
    report.report.details.extend(broker.note());
    if let Some(dir) = &args.zulip_state_dir {
        write_zulip_states(dir, &report.zulip_lines)?;
    }
    Ok(report.report)
}

/// Writes `dir/check-rabbitmq-consumers-<queue>` for every group, Zulip's line each.
fn write_zulip_states(dir: &Path, lines: &[(String, State, String)]) -> Result<(), CheckError> {
    let now = plugin_core::unix_now() as i64;
    for (queue, state, text) in lines {
        let path = dir.join(format!("check-rabbitmq-consumers-{queue}"));
        plugin_core::statefile::write_record(&path, &Record::new(now, *state, text)).map_err(
            |e| CheckError::unknown(format!("cannot write state file {}: {e}", path.display())),
        )?;
    }
    Ok(())
}

/// The report, with Zulip's line per group (for `--zulip-state-dir`).
pub struct Assessed {
    /// The status line, long output and perfdata.
    pub report: Report,
    /// Each group's state and Zulip's words: `queue Q has N consumers, needs M`.
    pub zulip_lines: Vec<(String, State, String)>,
}

/// Consumers per queue (or group): `Err` when the queue does not exist or has no statistics.
type Counts = BTreeMap<String, Result<u64, &'static str>>;

/// Counts one queue's consumers, into its own count or its group's with Zulip's grouping
/// (about 60 bytes a queue or group: the report is made once every queue is counted).
fn add(args: &Args, counts: &mut Counts, name: String, q: Option<&Queue>) {
    let key = if args.grouped() {
        group_name(&name)
    } else {
        name
    };
    let n = consumers(q);
    let entry = counts.entry(key).or_insert(Ok(0));
    *entry = match (*entry, n) {
        (Ok(a), Ok(b)) => Ok(a + b),
        (Err(e), _) | (_, Err(e)) => Err(e),
    };
}

/// The counts to judge: with grouping, the named groups only; Zulip's queues too for its state
/// files.
fn finish(args: &Args, mut counts: Counts) -> Counts {
    let names: Vec<String> = args.named().into_iter().map(|(n, _)| n).collect();
    if args.grouped() && !names.is_empty() {
        // Named groups only; one with no member queue has 0 consumers (Zulip's cron job counts
        // consumers, so a queue nobody declared has none).
        counts.retain(|k, _| names.contains(k));
        for n in &names {
            counts.entry(n.clone()).or_insert(Ok(0));
        }
    }
    if args.zulip_state_dir.is_some() {
        // Zulip's cron job writes a file for each of its queues, present or not.
        for q in custos_zulip::NORMAL_QUEUES
            .iter()
            .chain(&["notify_tornado"])
        {
            counts.entry(q.to_string()).or_insert(Ok(0));
        }
    }
    counts
}

/// A queue's rule: its critical range, and the minimum when the range is one (for Zulip's
/// words). Its own `=MIN`, else `-c`, else `--min-consumers`, else Zulip's target (grouped, on
/// a Zulip server), else 1.
fn rule(args: &Args, name: &str, zulip: Option<&ZulipConf>) -> (Range, Option<u64>) {
    let own = args
        .named()
        .into_iter()
        .find(|(n, _)| n == name)
        .and_then(|(_, m)| m);
    match (own, args.critical) {
        (None, Some(c)) => (c, None),
        _ => {
            let minimum = own.or(args.min_consumers).unwrap_or_else(|| match zulip {
                Some(conf) if args.grouped() => conf.consumers_needed(name),
                _ => 1,
            });
            (Range::below(minimum as f64), Some(minimum))
        }
    }
}

/// Judges the queues' consumers (`zulip`: the server's zulip.conf, for Zulip's targets): the
/// report (everything kept).
pub fn assess(
    args: &Args,
    queues: impl IntoIterator<Item = (String, Option<Queue>)>,
    zulip: Option<&ZulipConf>,
    verbosity: u8,
) -> Assessed {
    assess_for_budget(args, queues, zulip, verbosity, None)
}

/// The same for an output of `budget` bytes, keeping only what it can print (as a run does).
pub fn assess_for_budget(
    args: &Args,
    queues: impl IntoIterator<Item = (String, Option<Queue>)>,
    zulip: Option<&ZulipConf>,
    verbosity: u8,
    budget: Option<usize>,
) -> Assessed {
    let mut judge = Judge::new(args, zulip, verbosity, budget);
    if folds(args) {
        let mut counts = Counts::new();
        for (name, q) in queues {
            add(args, &mut counts, name, q.as_ref());
        }
        for (name, count) in finish(args, counts) {
            judge.add(name, count);
        }
    } else {
        for (name, q) in queues {
            judge.add(name, consumers(q.as_ref()));
        }
    }
    judge.report()
}

/// Are the queues counted together before they are judged (Zulip's grouping, its state files)?
/// Otherwise each queue is judged as it is read, and nothing is kept per queue.
fn folds(args: &Args) -> bool {
    args.grouped() || args.zulip_state_dir.is_some()
}

/// A queue's consumers as the broker said: `Err` when it does not exist or has no statistics.
fn consumers(q: Option<&Queue>) -> Result<u64, &'static str> {
    match q {
        None => Err("does not exist"),
        Some(Queue {
            consumers: Some(c), ..
        }) => Ok(*c),
        Some(_) => Err("has no statistics yet"),
    }
}

/// The queues (or groups) judged one at a time: counts, the worst findings, the perfdata and
/// long output the output can carry, and Zulip's lines (every one only for its state files).
struct Judge<'a> {
    args: &'a Args,
    zulip: Option<&'a ZulipConf>,
    verbosity: u8,
    budget: Option<usize>,
    findings: Findings,
    perf: PerfdataGroups,
    queues: u64,
    total: u64,
    fewest: Option<(String, u64)>,
    zulip_lines: Vec<(String, State, String)>,
    /// `-v`: each queue's consumers, while the output has room.
    counted: Vec<String>,
    counted_bytes: usize,
    not_listed: usize,
}

impl<'a> Judge<'a> {
    fn new(
        args: &'a Args,
        zulip: Option<&'a ZulipConf>,
        verbosity: u8,
        budget: Option<usize>,
    ) -> Judge<'a> {
        Judge {
            args,
            zulip,
            verbosity,
            budget,
            findings: Findings::for_budget(budget),
            perf: PerfdataGroups::new(1, budget),
            queues: 0,
            total: 0,
            fewest: None,
            zulip_lines: Vec::new(),
            counted: Vec::new(),
            counted_bytes: 0,
            not_listed: 0,
        }
    }

    fn add(&mut self, name: String, count: Result<u64, &'static str>) {
        self.queues += 1;
        let (critical, needs) = rule(self.args, &name, self.zulip);
        let thresholds = Thresholds::new(self.args.warning, Some(critical));
        let count = match count {
            Ok(c) => c,
            Err(why) => {
                let state = if why == "does not exist" {
                    State::Critical
                } else {
                    State::Unknown
                };
                self.findings
                    .add_ranked(state, format!("queue {name} {why}"), f64::INFINITY);
                self.perf
                    .push(0, Perfdata::unmeasured(&name).thresholds(&thresholds));
                return;
            }
        };
        self.total += count;
        if self.fewest.as_ref().is_none_or(|(_, f)| count < *f) {
            self.fewest = Some((name.clone(), count));
        }
        if let Some(m) = needs {
            // Zulip's words, whatever the state: all of them for its state files, else the
            // first (the status line when it is the only queue).
            if self.args.zulip_state_dir.is_some() || self.zulip_lines.is_empty() {
                let text = format!("queue {name} has {count} consumers, needs {m}");
                let state = thresholds.evaluate(count as f64);
                self.zulip_lines.push((name.clone(), state, text));
            }
        }
        if let Some((state, why)) = thresholds.alert(count as f64, Dimension::Count) {
            let text = match needs {
                Some(m) if state == State::Critical => {
                    format!("queue {name} has {count} consumers, needs {m}")
                }
                _ => format!("queue {name} has {count} consumers ({why})"),
            };
            self.findings.add_ranked(state, text, -(count as f64));
        }
        if self.verbosity > 0 {
            let line = format!("{name}: {count} consumers");
            if self
                .budget
                .is_some_and(|b| self.counted_bytes + line.len() > b)
            {
                self.not_listed += 1;
            } else {
                self.counted_bytes += line.len() + 1;
                self.counted.push(line);
            }
        }
        self.perf.push(
            0,
            Perfdata::new(&name, count as f64)
                .thresholds(&thresholds)
                .min(0.0),
        );
    }

    fn report(self) -> Assessed {
        let summary = self.summary();
        let mut report = Report::new(self.findings.state(), summary);
        self.findings.details_into(&mut report);
        report.details.extend(self.counted);
        report.details_left_out += self.not_listed;
        self.perf.into_report(&mut report);
        Assessed {
            report,
            zulip_lines: self.zulip_lines,
        }
    }

    /// The status line: for one queue with a minimum, Zulip's line (`queue Q has N consumers,
    /// needs M`), whatever the state; else the problems, then what was counted.
    fn summary(&self) -> String {
        if let ([(_, _, text)], 1) = (self.zulip_lines.as_slice(), self.queues) {
            return text.clone();
        }
        let what = if self.args.grouped() {
            "queue group"
        } else {
            "queue"
        };
        let n = self.queues;
        let mut measured = format!(
            "{n} {what}{}, {} consumer{}",
            plural(n),
            self.total,
            plural(self.total)
        );
        if let Some((name, f)) = self.fewest.as_ref().filter(|_| self.findings.is_empty()) {
            measured.push_str(&format!(", fewest {name} ({f})"));
        }
        self.findings.summary_top(NAMED_IN_SUMMARY, Some(&measured))
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
