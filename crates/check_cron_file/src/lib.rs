//! check_cron_file: reads the one-line result a cron job wrote (`ts|code|STATE|message`, Zulip's
//! format, or any custos check run with `--state-file`) and reports it as Zulip's reader does:
//! `<STATE>: <message>`, exit code from the file.
//!
//! Zulip's rules, kept exactly: the whole file is stripped and must split into four `|` fields;
//! missing → `UNKNOWN: Results file is missing`; wrong field count → `UNKNOWN: Results file
//! malformed`; `trunc(now - ts) > max age` → `UNKNOWN: Results file is stale` (a timestamp in
//! the future is never stale). Where Zulip's Python crashed (unreadable file, non-integer
//! timestamp or code, a code outside 0-3, no argument) this reports UNKNOWN with the reason.

use clap::Parser;
use plugin_core::human_duration;
use plugin_core::{
    args, statefile, CheckError, CheckResult, Context, Perfdata, Plugin, Range, Report, State,
    Thresholds, Uom,
};
use std::path::PathBuf;

pub const PLUGIN: Plugin = Plugin {
    short_status: true,
    ..Plugin::new("check_cron_file", env!("CARGO_PKG_VERSION")).with_rewrite_args(zulip_argv)
};

/// Zulip's form, `check_cron_file FILE MAX_AGE ...`: its reader takes `argv[1]` and `argv[2]`
/// and ignores everything after them, options included (`check_cron_file FILE 120 -x`); so
/// does this one, by ending the options there.
fn zulip_argv(_invoked_as: &str, mut argv: Vec<std::ffi::OsString>) -> Vec<std::ffi::OsString> {
    let positional = |a: Option<&std::ffi::OsString>| {
        a.and_then(|a| a.to_str())
            .is_some_and(|t| !t.is_empty() && !t.starts_with('-'))
    };
    if argv.len() > 3 && positional(argv.get(1)) && positional(argv.get(2)) && argv[3] != "--" {
        argv.insert(3, "--".into());
    }
    argv
}

/// Zulip's default maximum age, in seconds.
pub const DEFAULT_MAX_AGE: f64 = 120.0;

/// Reports the result a cron job wrote to a state file.
///
/// Usage as Zulip's reader: check_cron_file FILE [MAX_AGE_SECONDS]
#[derive(Parser, Debug)]
#[command(
    about = "Report the result a cron job wrote to a state file (ts|code|STATE|message)",
    after_help = "Output is Zulip's: '<STATE>: <message>', exit code from the file. Missing, \
malformed and stale files are UNKNOWN."
)]
pub struct Args {
    /// Results file (as Zulip's reader takes it); same as --file
    #[arg(value_name = "FILE")]
    pub file_arg: Option<PathBuf>,

    /// Maximum age of the result before it is stale, in seconds; same as --max-age
    #[arg(value_name = "MAX_AGE_SECONDS", value_parser = args::duration)]
    pub max_age_arg: Option<f64>,

    /// Further arguments are ignored, as Zulip's reader ignores them (after FILE MAX_AGE,
    /// options too)
    #[arg(value_name = "IGNORED", num_args = 0.., allow_hyphen_values = false)]
    pub ignored: Vec<String>,

    /// Results file written by the cron job
    #[arg(
        short = 'f',
        long = "file",
        value_name = "PATH",
        conflicts_with = "file_arg"
    )]
    pub file: Option<PathBuf>,

    /// Maximum age before the result is stale: seconds or a duration (120, 2min, 1h) [default: 120]
    #[arg(long = "max-age", value_name = "DURATION", value_parser = args::duration,
          conflicts_with = "max_age_arg")]
    pub max_age: Option<f64>,

    /// Warning range on the result's age (seconds or a duration, e.g. 90s)
    #[arg(short = 'w', long = "warning", value_name = "RANGE", value_parser = args::time_range)]
    pub warning: Option<Range>,

    /// Critical range on the result's age (seconds or a duration, e.g. 5min)
    #[arg(short = 'c', long = "critical", value_name = "RANGE", value_parser = args::time_range)]
    pub critical: Option<Range>,
}

pub fn check(args: &Args, ctx: &Context) -> CheckResult {
    check_at(args, ctx, plugin_core::unix_now())
}

/// The check at time `now`.
fn check_at(args: &Args, ctx: &Context, now: f64) -> CheckResult {
    let path = args
        .file
        .as_ref()
        .or(args.file_arg.as_ref())
        .ok_or_else(|| {
            CheckError::unknown(
                "no results file given (check_cron_file FILE [MAX_AGE_SECONDS], or --file)",
            )
        })?;
    let max_age = args.max_age.or(args.max_age_arg).unwrap_or(DEFAULT_MAX_AGE);
    let record = read_record(ctx, path)?;
    // Zulip: int(time.time() - timestamp), so 120.9 s is not stale at max age 120.
    let age = (now - record.timestamp as f64).trunc();
    if age > max_age {
        return Err(CheckError::unknown("Results file is stale").detail(format!(
            "{}: written {} ago, max age {}",
            path.display(),
            human_duration(age),
            human_duration(max_age)
        )));
    }
    let state = State::from_code(record.code).ok_or_else(|| {
        CheckError::unknown(format!(
            "Results file has exit code {}, outside 0-3 ({}: {})",
            record.code,
            record.state_text,
            record.message.lines().next().unwrap_or("")
        ))
    })?;
    let mut report = report(args, &record, state, age);
    if ctx.verbosity > 0 {
        report.details.push(format!(
            "{}: written at {} ({} ago), max age {}",
            path.display(),
            record.timestamp,
            human_duration(age.max(0.0)),
            human_duration(max_age)
        ));
        if age < 0.0 {
            report.details.push(format!(
                "the timestamp is {} in the future (clock skew?)",
                human_duration(-age)
            ));
        }
    }
    Ok(report)
}

/// Reads and parses the results file, in Zulip's words when it cannot.
fn read_record(ctx: &Context, path: &std::path::Path) -> Result<statefile::Record, CheckError> {
    ctx.stage(format!("reading {}", path.display()));
    // One line is expected: a FIFO or device is refused without blocking, and a file longer
    // than 64 KiB is not read into memory.
    let bytes = match plugin_core::files::open_regular(path)
        .and_then(|f| plugin_core::files::read_to_cap(f, plugin_core::files::cap::STATE_FILE))
    {
        Ok(b) => b,
        Err(e) if e.io_kind() == Some(std::io::ErrorKind::NotFound) => {
            return Err(CheckError::unknown("Results file is missing")
                .detail(format!("no file at {}", path.display())))
        }
        Err(e) => {
            return Err(CheckError::unknown(format!(
                "Results file is unreadable: {}: {e}",
                path.display()
            )))
        }
    };
    ctx.stage("parsing the results file");
    let content = String::from_utf8_lossy(&bytes);
    statefile::Record::parse(&content).map_err(|e| match e {
        statefile::ParseError::FieldCount(_) => {
            CheckError::unknown("Results file malformed").detail(format!("{}: {e}", path.display()))
        }
        other => CheckError::unknown(format!("Results file malformed: {other}"))
            .detail(format!("{}", path.display())),
    })
}

/// The file's state and message, made worse (never better) by `-w`/`-c` on its age.
fn report(args: &Args, record: &statefile::Record, state: State, age: f64) -> Report {
    let thresholds = Thresholds::new(args.warning, args.critical);
    let shown_age = age.max(0.0);
    let mut report = Report::new(state, record.message.clone());
    report.status_text = Some(record.state_text.clone());
    report.perfdata.push(
        Perfdata::new("age", shown_age)
            .uom(Uom::Seconds)
            .thresholds(&thresholds)
            .min(0.0),
    );
    if let Some((age_state, range)) = thresholds.violated(shown_age) {
        if age_state.worst(state) != state {
            report.summary = format!(
                "Results file is {} old ({} {}s); {}: {}",
                human_duration(shown_age),
                age_state.name().to_lowercase(),
                range.violation(shown_age),
                record.state_text,
                record.message
            );
            report.status_text = Some(age_state.name().to_string());
            report.state = age_state;
        }
    }
    report
}
