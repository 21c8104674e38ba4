//! check_queue_worker_errors: events Zulip's queue workers failed on.
//!
//! A worker that raises while consuming appends `<time.asctime()>\t<events as JSON>\n` to
//! `<queue>.errors` in `/var/log/zulip/queue_error`. Zulip's check only looked for such files
//! (any file: WARNING, forever, until someone deletes it; an unreadable directory: OK). This one
//! counts the failed events per queue, says when the newest was, can ignore old ones
//! (`--max-age`), and is UNKNOWN when it cannot read the directory.

use clap::Parser;
use plugin_core::{
    args, plural, CheckError, CheckResult, Context, Dimension, Findings, Perfdata, Plugin, Range,
    Report, State, Thresholds,
};
use std::path::{Path, PathBuf};

pub const PLUGIN: Plugin = Plugin::new("check_queue_worker_errors", env!("CARGO_PKG_VERSION"));

#[derive(Parser, Debug)]
#[command(about = "Check the events Zulip's queue workers failed on (*.errors files)")]
pub struct Args {
    /// Directory of the workers' *.errors files
    #[arg(
        long = "dir",
        value_name = "DIR",
        default_value = "/var/log/zulip/queue_error"
    )]
    pub dir: PathBuf,

    /// Warning range on the number of failed events [default: 0, i.e. any, as Zulip]
    #[arg(short = 'w', long = "warning", value_name = "RANGE", value_parser = args::count_range,
          default_value = "0")]
    pub warning: Range,

    /// Critical range on the number of failed events [default: none]
    #[arg(short = 'c', long = "critical", value_name = "RANGE", value_parser = args::count_range)]
    pub critical: Option<Range>,

    /// Count only events newer than this (Zulip's alert latched until the file was deleted)
    #[arg(long = "max-age", value_name = "DURATION", value_parser = args::duration)]
    pub max_age: Option<f64>,

    /// A missing directory is OK (no worker has failed yet), not UNKNOWN
    #[arg(long = "ignore-missing")]
    pub ignore_missing: bool,
}

/// What one `<queue>.errors` file holds.
#[derive(Debug, Default, PartialEq)]
pub struct Queue {
    pub name: String,
    /// Failed events counted (within `--max-age`).
    pub events: u64,
    /// Seconds since the newest event (`None`: no event with a readable time).
    pub newest_age: Option<f64>,
}

/// Seconds since the Unix epoch of a line's `time.asctime()` prefix (`Sun Nov 22 13:14:15
/// 2026`, local time, as the worker wrote it).
pub fn event_time(line: &str) -> Option<f64> {
    plugin_core::parse_asctime(line.split('\t').next()?)
}

/// The longest line kept of an errors file: its time comes first, so the rest of a long line
/// (a large event batch as JSON) is skipped unread into memory.
const MAX_LINE: usize = 4096;

/// Reads one errors file line by line (memory stays flat in the file's size): events (newer
/// than `max_age`) and the newest event's age. A line whose time cannot be read counts as an
/// event; its time falls back to the file's mtime. A FIFO or device named `*.errors` is refused.
pub fn read_queue(path: &Path, now: f64, max_age: Option<f64>) -> std::io::Result<Queue> {
    let file = plugin_core::files::open_regular(path).map_err(|e| match e {
        plugin_core::files::ReadError::Io(e) => e,
        other => std::io::Error::other(other.to_string()),
    })?;
    let mtime = file.metadata()?.modified().ok().map(plugin_core::unix_time);
    let name = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut q = Queue {
        name,
        ..Queue::default()
    };
    // Workers write events in batches with the same second: the last stamp's time is reused.
    let mut last: Option<(Vec<u8>, Option<f64>)> = None;
    plugin_core::files::for_each_line(file, MAX_LINE, |line, _cut| {
        if line.is_empty() {
            return true;
        }
        let stamp = line.split(|&b| b == b'\t').next().unwrap_or(line);
        let at = match &last {
            Some((s, at)) if s.as_slice() == stamp => *at,
            _ => {
                let at = event_time(&String::from_utf8_lossy(stamp));
                last = Some((stamp.to_vec(), at));
                at
            }
        };
        let Some(at) = at.or(mtime) else {
            q.events += 1;
            return true;
        };
        let age = (now - at).max(0.0);
        if max_age.is_some_and(|max| age > max) {
            return true;
        }
        q.events += 1;
        q.newest_age = Some(q.newest_age.map_or(age, |a: f64| a.min(age)));
        true
    })?;
    Ok(q)
}

pub fn check(args: &Args, ctx: &Context) -> CheckResult {
    let Some(paths) = errors_files(args, ctx)? else {
        return Ok(Report::ok(format!(
            "{} does not exist: no worker has failed",
            args.dir.display()
        ))
        .perf(Perfdata::new("errors", 0.0).min(0.0)));
    };
    // Whole seconds, as the workers' time stamps are.
    let now = plugin_core::unix_now().trunc();
    let mut findings = Findings::default();
    let mut queues = Vec::new();
    for path in &paths {
        ctx.stage(format!("reading {}", path.display()));
        match read_queue(path, now, args.max_age) {
            Ok(q) => queues.push(q),
            Err(e) => findings.add(
                State::Unknown,
                format!("cannot read {}: {e}", path.display()),
            ),
        }
    }
    Ok(report(args, &queues, findings))
}

/// The `*.errors` files of the directory, sorted; `None` when it is missing and
/// `--ignore-missing` says that is fine.
fn errors_files(args: &Args, ctx: &Context) -> Result<Option<Vec<PathBuf>>, CheckError> {
    ctx.stage(format!("reading {}", args.dir.display()));
    let entries = match std::fs::read_dir(&args.dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && args.ignore_missing => {
            return Ok(None);
        }
        Err(e) => {
            let hint = if e.kind() == std::io::ErrorKind::NotFound {
                " (--ignore-missing if that is expected)"
            } else {
                ""
            };
            return Err(CheckError::unknown(format!(
                "cannot read {}: {e}{hint}",
                args.dir.display()
            )));
        }
    };
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "errors"))
        .collect();
    paths.sort();
    Ok(Some(paths))
}

/// `deferred_work 3 (newest 5s ago)`.
fn describe(q: &Queue) -> String {
    match q.newest_age {
        Some(age) => format!(
            "{} {} (newest {} ago)",
            q.name,
            q.events,
            Dimension::Time.human(age)
        ),
        None => format!("{} {}", q.name, q.events),
    }
}

/// The status line: Zulip's words for the first file with events, then the count, the window
/// and the queues with the most events.
fn summary(args: &Args, failing: &[&Queue], total: u64) -> String {
    let window = args
        .max_age
        .map(|m| format!(" in the last {}", Dimension::Time.human(m)))
        .unwrap_or_default();
    let Some(first) = failing.first() else {
        return format!("no failed events{window} in {}", args.dir.display());
    };
    let named: Vec<String> = failing.iter().take(5).map(|q| describe(q)).collect();
    let more = failing.len().saturating_sub(5);
    // Zulip's words first (its plugin printed one such line per file), then the count.
    let others = failing.len() - 1;
    format!(
        "Queue errors logged in {}{}; {total} failed event{}{window} in {} queue{}: {}{}",
        args.dir.join(format!("{}.errors", first.name)).display(),
        if others > 0 {
            format!(" and {others} more file{}", plural(others as u64))
        } else {
            String::new()
        },
        plural(total),
        failing.len(),
        plural(failing.len() as u64),
        named.join(", "),
        if more > 0 {
            format!(" and {more} more")
        } else {
            String::new()
        }
    )
}

/// The report: the count against the thresholds (files that could not be read first, as
/// UNKNOWN), a line per queue with events, perfdata.
fn report(args: &Args, queues: &[Queue], findings: Findings) -> Report {
    let total: u64 = queues.iter().map(|q| q.events).sum();
    let thresholds = Thresholds::new(Some(args.warning), args.critical);
    let mut failing: Vec<&Queue> = queues.iter().filter(|q| q.events > 0).collect();
    failing.sort_by(|a, b| b.events.cmp(&a.events).then(a.name.cmp(&b.name)));
    let state = thresholds.evaluate(total as f64).worst(findings.state());
    let mut report = Report::new(
        state,
        findings.summary(Some(&summary(args, &failing, total))),
    );
    report.details = findings.lines().into_iter().map(String::from).collect();
    report.details.extend(failing.iter().map(|q| {
        format!(
            "{}: {} failed event{}{} ({})",
            q.name,
            q.events,
            plural(q.events),
            q.newest_age
                .map(|a| format!(", newest {} ago", Dimension::Time.human(a)))
                .unwrap_or_default(),
            args.dir.join(format!("{}.errors", q.name)).display()
        )
    }));
    report.perfdata.push(
        Perfdata::new("errors", total as f64)
            .thresholds(&thresholds)
            .min(0.0),
    );
    if let Some(newest) = queues.iter().filter_map(|q| q.newest_age).reduce(f64::min) {
        report.perfdata.push(
            Perfdata::new("newest_age", newest.round())
                .uom(plugin_core::Uom::Seconds)
                .min(0.0),
        );
    }
    for q in queues {
        report
            .perfdata
            .push(Perfdata::new(&q.name, q.events as f64).min(0.0));
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn asctime_in_local_time() {
        // What time.asctime() prints, read back in the system's time zone.
        let now = jiff::Zoned::now().with_time_zone(jiff::tz::TimeZone::system());
        let line = format!(
            "{}\t[{{\"type\":\"x\"}}]",
            now.strftime("%a %b %e %H:%M:%S %Y")
        );
        let t = event_time(&line).unwrap();
        assert!(
            (t - now.timestamp().as_second() as f64).abs() < 1.0,
            "{line}"
        );
        assert_eq!(event_time("not a time\t[]"), None);
        assert_eq!(event_time(""), None);
    }
}
