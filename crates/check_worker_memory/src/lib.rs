//! check_worker_memory: how much memory each queue worker uses, and whether one is leaking.
//!
//! Replaces Zulip's bash check (`pgrep -xf 'python.* .../manage.py process_queue .*'`, then
//! `ps -o vsize` of the largest worker against 600000/800000 KiB, printing the `ps` table with
//! no status line). Every matched process is judged on its own (RSS by default; PSS or VSZ),
//! the summary names the biggest, perfdata has one series per worker (labelled by its queue)
//! and the total. With `--state-dir`, samples are kept between runs and a worker that grows
//! faster than `--growth-warning` over `--window` is a WARNING: the leak that Zulip's weekly
//! restarts hide.

pub mod growth;

use clap::{Parser, ValueEnum};
use custos_procs::Process;
use plugin_core::{
    args, CheckError, CheckResult, Context, Dimension, Findings, Perfdata, Plugin, Range, Report,
    State, SubResult, Thresholds, Uom,
};
use regex_lite::Regex;
use std::path::PathBuf;

pub const PLUGIN: Plugin = Plugin::new("check_worker_memory", env!("CARGO_PKG_VERSION"));

/// Zulip's queue workers, as its check matches them.
pub const ZULIP_WORKERS: &str =
    r"python.* /home/zulip/deployments/current/manage.py process_queue .*";

const KIB: f64 = 1024.0;
const MIB: f64 = 1024.0 * 1024.0;

#[derive(Parser, Debug)]
#[command(about = "Check the memory of queue worker processes, one by one, and their growth")]
pub struct Args {
    /// Regular expression the whole command line must match (as pgrep -x -f) [default: Zulip's queue workers]
    #[arg(long = "cmdline", value_name = "RE", default_value = ZULIP_WORKERS,
          value_parser = custos_procs::cmdline_regex)]
    pub cmdline: Regex,

    /// Only processes of this user (name or uid)
    #[arg(short = 'u', long = "user", value_name = "NAME")]
    pub user: Option<String>,

    /// What to measure: rss (resident), pss (proportional, from smaps_rollup), vsz (virtual, as Zulip)
    #[arg(
        short = 'm',
        long = "metric",
        value_name = "METRIC",
        value_enum,
        default_value = "rss"
    )]
    pub metric: Metric,

    /// Warning range on each worker's memory [default: 400MiB for rss/pss, 600000KiB for vsz (Zulip)]
    #[arg(short = 'w', long = "warning", value_name = "RANGE", value_parser = args::bytes_range)]
    pub warning: Option<Range>,

    /// Critical range on each worker's memory [default: 600MiB for rss/pss, 800000KiB for vsz (Zulip)]
    #[arg(short = 'c', long = "critical", value_name = "RANGE", value_parser = args::bytes_range)]
    pub critical: Option<Range>,

    /// Fewer matching processes than this is CRITICAL [default: 0: "No workers running" is OK, as Zulip]
    #[arg(long = "min-procs", value_name = "N", default_value_t = 0)]
    pub min_procs: usize,

    /// Keep samples here between runs to detect leaks (one small file per set of options)
    #[arg(long = "state-dir", value_name = "DIR")]
    pub state_dir: Option<PathBuf>,

    /// Growth that is a leak, SIZE/DURATION (e.g. 50MiB/h); needs --state-dir
    #[arg(long = "growth-warning", value_name = "RATE", default_value = "50MiB/h",
          value_parser = args::rate)]
    pub growth_warning: f64,

    /// Time over which growth is measured; a worker is judged once its samples span a quarter of it
    #[arg(long = "window", value_name = "DURATION", default_value = "6h", value_parser = args::duration)]
    pub window: f64,
}

/// The memory measure.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Metric {
    Rss,
    Pss,
    Vsz,
}

impl Metric {
    fn name(self) -> &'static str {
        match self {
            Metric::Rss => "RSS",
            Metric::Pss => "PSS",
            Metric::Vsz => "VSZ",
        }
    }

    /// The default thresholds: Zulip's for VSZ, and for resident memory what a Python queue
    /// worker (100-250 MiB in practice) reaches only when something is wrong.
    fn default_thresholds(self) -> (f64, f64) {
        match self {
            Metric::Vsz => (600000.0 * KIB, 800000.0 * KIB),
            Metric::Rss | Metric::Pss => (400.0 * MIB, 600.0 * MIB),
        }
    }
}

/// The queue a worker serves, from `--queue_name=X` or `--queue_name X`.
pub fn queue_name(cmdline: &str) -> Option<&str> {
    let mut words = cmdline.split(' ');
    while let Some(w) = words.next() {
        if let Some(q) = w.strip_prefix("--queue_name=") {
            return Some(q).filter(|q| !q.is_empty());
        }
        if w == "--queue_name" {
            return words.next().filter(|q| !q.is_empty());
        }
    }
    None
}

/// A worker as judged: its process, label and measured memory (`None`: not readable).
struct Worker {
    process: Process,
    label: String,
    bytes: Option<f64>,
}

pub fn check(args: &Args, ctx: &Context) -> CheckResult {
    ctx.stage("reading the process table");
    let processes = custos_procs::selected(&args.cmdline, args.user.as_deref())?;
    let (dw, dc) = args.metric.default_thresholds();
    let thresholds = Thresholds::new(
        Some(args.warning.unwrap_or(Range::up_to(dw))),
        Some(args.critical.unwrap_or(Range::up_to(dc))),
    );

    let mut findings = Findings::default();
    if processes.len() < args.min_procs {
        let n = processes.len();
        let es = if n == 1 { "" } else { "es" };
        let text = format!("{n} matching process{es}, fewer than {}", args.min_procs);
        findings.push(SubResult::new(State::Critical, text).ranked(f64::INFINITY));
    }
    if processes.is_empty() {
        let text = findings.summary(Some("No workers running"));
        return Ok(Report::new(findings.state(), text).perf(Perfdata::new("workers", 0.0).min(0.0)));
    }

    let workers = label(processes, args.metric);
    findings.extend(workers.iter().filter_map(|w| judge(args, &thresholds, w)));
    let mut details = Vec::new();
    if ctx.verbosity > 0 {
        details.extend(workers.iter().flat_map(|w| describe(args, ctx, w)));
    }
    if let Some(dir) = &args.state_dir {
        leaks(args, dir, &workers, &mut findings, &mut details)?;
    }
    let measured = measured(args, &workers);
    let mut report = Report::new(findings.state(), findings.summary_top(5, Some(&measured)));
    report.details = findings.lines().into_iter().map(String::from).collect();
    report.details.extend(details);
    report.perfdata = perfdata(&workers, &thresholds);
    Ok(report)
}

/// One worker's size against the thresholds (or UNKNOWN when it cannot be read): a finding,
/// ranked by size, or none.
fn judge(args: &Args, thresholds: &Thresholds, w: &Worker) -> Option<SubResult> {
    let pid = w.process.pid;
    let metric = args.metric.name();
    let Some(b) = w.bytes else {
        let text = format!(
            "cannot read the {metric} of {} (pid {pid}): run as its user or root",
            w.label
        );
        return Some(SubResult::new(State::Unknown, text));
    };
    let (state, why) = thresholds.alert(b, Dimension::Bytes)?;
    let size = Dimension::Bytes.human(b);
    let text = format!(
        "worker {} (pid {pid}) uses {size} {metric} ({why})",
        w.label
    );
    Some(SubResult::new(state, text).ranked(b))
}

/// `-v`: each worker's sizes; `-vv`: its command line too.
fn describe(args: &Args, ctx: &Context, w: &Worker) -> Vec<String> {
    let mut lines = vec![format!(
        "{} (pid {}): RSS {}, VSZ {}{}",
        w.label,
        w.process.pid,
        Dimension::Bytes.human(w.process.rss as f64),
        Dimension::Bytes.human(w.process.vsz as f64),
        match (args.metric, w.bytes) {
            (Metric::Pss, Some(b)) => format!(", PSS {}", Dimension::Bytes.human(b)),
            _ => String::new(),
        }
    )];
    if ctx.verbosity > 1 {
        lines.push(format!("    {}", w.process.cmdline));
    }
    lines
}

/// What the status line says was measured: the count, the biggest worker and the total.
fn measured(args: &Args, workers: &[Worker]) -> String {
    let total: f64 = workers.iter().filter_map(|w| w.bytes).sum();
    let biggest = workers.iter().filter(|w| w.bytes.is_some()).max_by(|a, b| {
        a.bytes
            .partial_cmp(&b.bytes)
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    let mut text = format!(
        "{} worker{}",
        workers.len(),
        plugin_core::plural(workers.len())
    );
    if let Some(b) = biggest {
        text.push_str(&format!(
            ", biggest {} (pid {}) {} {}; total {}",
            b.label,
            b.process.pid,
            Dimension::Bytes.human(b.bytes.unwrap_or(0.0)),
            args.metric.name(),
            Dimension::Bytes.human(total)
        ));
    }
    text
}

/// `workers`, `total` (unmeasured when a worker could not be read: a partial total would
/// mislead), and one item per worker.
fn perfdata(workers: &[Worker], thresholds: &Thresholds) -> Vec<Perfdata> {
    let total: f64 = workers.iter().filter_map(|w| w.bytes).sum();
    let mut perf = vec![Perfdata::new("workers", workers.len() as f64).min(0.0)];
    perf.push(if workers.iter().all(|w| w.bytes.is_some()) {
        Perfdata::new("total", total).uom(Uom::Bytes).min(0.0)
    } else {
        Perfdata::unmeasured("total").uom(Uom::Bytes)
    });
    for w in workers {
        perf.push(match w.bytes {
            Some(b) => Perfdata::new(&w.label, b)
                .uom(Uom::Bytes)
                .thresholds(thresholds)
                .min(0.0),
            None => Perfdata::unmeasured(&w.label).uom(Uom::Bytes),
        });
    }
    perf
}

/// Labels (the queue, else `pid<N>`; a queue served by several workers gets `_<pid>`), and the
/// measured memory.
fn label(processes: Vec<Process>, metric: Metric) -> Vec<Worker> {
    let names: Vec<Option<String>> = processes
        .iter()
        .map(|p| queue_name(&p.cmdline).map(str::to_string))
        .collect();
    processes
        .into_iter()
        .zip(names.iter())
        .map(|(p, name)| {
            let shared = name.is_some() && names.iter().filter(|n| *n == name).count() > 1;
            let label = match name {
                Some(q) if shared => format!("{q}_{}", p.pid),
                Some(q) => q.clone(),
                None => format!("pid{}", p.pid),
            };
            let bytes = match metric {
                Metric::Rss => Some(p.rss as f64),
                Metric::Vsz => Some(p.vsz as f64),
                Metric::Pss => custos_procs::pss(p.pid).ok().map(|b| b as f64),
            };
            Worker {
                process: p,
                label,
                bytes,
            }
        })
        .collect()
}

/// Records this run's samples and judges each worker's growth.
fn leaks(
    args: &Args,
    dir: &std::path::Path,
    workers: &[Worker],
    findings: &mut Findings,
    details: &mut Vec<String>,
) -> Result<(), CheckError> {
    let path = dir.join(state_file_name(args));
    let (mut history, note): (growth::History, _) = plugin_core::statefile::load_json(&path);
    details.extend(note);
    let now = plugin_core::unix_now();
    let samples: Vec<(String, f64)> = workers
        .iter()
        .filter_map(|w| Some((growth::key(w.process.pid, w.process.start_time), w.bytes?)))
        .collect();
    history.record(now, args.window, &samples);
    plugin_core::statefile::save_json(&path, &history).map_err(|e| {
        CheckError::unknown(format!("cannot write state file {}: {e}", path.display()))
    })?;
    let per_hour = |rate: f64| format!("{}/h", Dimension::Bytes.human(rate * 3600.0));
    for w in workers {
        let key = growth::key(w.process.pid, w.process.start_time);
        let Some((rate, span)) = history.growth(&key, args.window / 4.0) else {
            continue;
        };
        let text = format!(
            "worker {} (pid {}) grew {} in {} ({}, warning > {})",
            w.label,
            w.process.pid,
            Dimension::Bytes.human(rate * span),
            Dimension::Time.human(span),
            per_hour(rate),
            per_hour(args.growth_warning)
        );
        if rate > args.growth_warning {
            findings.add_ranked(State::Warning, text, rate);
        } else {
            details.push(text);
        }
    }
    Ok(())
}

/// One state file per set of options that select workers and measure them.
fn state_file_name(args: &Args) -> String {
    // FNV-1a: stable across runs and builds (std's hasher is not).
    let mut h: u64 = 0xcbf29ce484222325;
    let text = format!(
        "{}\0{}\0{:?}",
        args.cmdline.as_str(),
        args.user.as_deref().unwrap_or(""),
        args.metric
    );
    for b in text.bytes() {
        h = (h ^ b as u64).wrapping_mul(0x100000001b3);
    }
    format!("check_worker_memory-{h:016x}.json")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queue_names_from_zulip_command_lines() {
        let zulip = "/home/zulip/deployments/current/manage.py";
        assert_eq!(
            queue_name(&format!(
                "python3 {zulip} process_queue --queue_name=deferred_work --skip-checks"
            )),
            Some("deferred_work")
        );
        assert_eq!(
            queue_name(&format!(
                "python3 {zulip} process_queue --queue_name user_activity"
            )),
            Some("user_activity")
        );
        assert_eq!(
            queue_name(&format!(
                "python3 {zulip} process_queue --multi_threaded a b"
            )),
            None
        );
        assert_eq!(queue_name("x --queue_name="), None);
    }

    #[test]
    fn zulip_default_matches_zulip_workers_only() {
        let re = custos_procs::cmdline_regex(ZULIP_WORKERS).unwrap();
        assert!(re.is_match(
            "python3 /home/zulip/deployments/current/manage.py process_queue --queue_name=x"
        ));
        // Anchored as pgrep -x: argv[0] must start with "python" (manage.py's shebang is
        // `/usr/bin/env python3`, so Zulip's workers do).
        assert!(!re.is_match(
            "/srv/zulip-py3-venv/bin/python3.11 /home/zulip/deployments/current/manage.py process_queue --queue_name=x"
        ));
        assert!(!re.is_match("python3 /home/zulip/deployments/current/manage.py runserver"));
        assert!(!re.is_match("vim /home/zulip/deployments/current/manage.py process_queue x"));
    }
}
