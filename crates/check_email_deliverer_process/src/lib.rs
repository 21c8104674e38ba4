//! check_email_deliverer_process: is Zulip's scheduled-email deliverer running?
//!
//! Zulip's check ran `supervisorctl status`, which the nagios user may not use (the socket is
//! the zulip user's, mode 0700), so it always failed and was deleted in 2021. This one looks
//! for the process itself by default — the process table needs no privileges — and can still
//! ask supervisord (`--supervisor`, Zulip's state mapping) or systemd (`--systemd`).
//! `--min-uptime` turns a crash loop, which looks "running" most of the time, into a WARNING.

pub mod supervisor;
pub mod systemd;

use clap::Parser;
use plugin_core::{
    args, CheckResult, Context, Dimension, Perfdata, Plugin, Range, Report, State, Thresholds,
};
use regex_lite::Regex;

pub const PLUGIN: Plugin = Plugin::new("check_email_deliverer_process", env!("CARGO_PKG_VERSION"));

/// Zulip's deliverer, as supervisord runs it (`manage.py deliver_scheduled_emails`, whose
/// shebang makes argv[0] `python3`).
pub const ZULIP_DELIVERER: &str =
    r"python.* /home/zulip/deployments/current/manage.py deliver_scheduled_emails( .*)?";

#[derive(Parser, Debug)]
#[command(about = "Check that Zulip's scheduled-email deliverer is running")]
pub struct Args {
    /// Regular expression the whole command line must match (as pgrep -x -f) [default: Zulip's deliverer]
    #[arg(long = "cmdline", value_name = "RE", default_value = ZULIP_DELIVERER,
          value_parser = custos_procs::cmdline_regex)]
    pub cmdline: Regex,

    /// Only processes of this user (name or uid)
    #[arg(short = 'u', long = "user", value_name = "NAME")]
    pub user: Option<String>,

    /// Warning range on the number of matching processes [default: none]
    #[arg(short = 'w', long = "warning", value_name = "RANGE", value_parser = args::count_range)]
    pub warning: Option<Range>,

    /// Critical range on the number of matching processes [default: 1:, i.e. none running]
    #[arg(short = 'c', long = "critical", value_name = "RANGE", value_parser = args::count_range,
          default_value = "1:")]
    pub critical: Range,

    /// Ask supervisord about this program instead (Zulip: zulip_deliver_scheduled_emails)
    #[arg(
        long = "supervisor",
        value_name = "PROGRAM",
        conflicts_with = "systemd"
    )]
    pub supervisor: Option<String>,

    /// The supervisorctl to run, with its options (e.g. "sudo -u zulip supervisorctl")
    #[arg(
        long = "supervisorctl",
        value_name = "COMMAND",
        default_value = "supervisorctl"
    )]
    pub supervisorctl: String,

    /// Ask systemd about this unit instead
    #[arg(long = "systemd", value_name = "UNIT")]
    pub systemd: Option<String>,

    /// WARNING when it started less than this ago: a crash loop looks running (e.g. 5min)
    #[arg(long = "min-uptime", value_name = "DURATION", value_parser = args::duration)]
    pub min_uptime: Option<f64>,
}

/// What was found: a state, a message, and how long it has been up (if known).
pub struct Finding {
    pub state: State,
    pub text: String,
    pub uptime: Option<f64>,
}

pub fn check(args: &Args, ctx: &Context) -> CheckResult {
    let found = if let Some(program) = &args.supervisor {
        supervisor::status(ctx, &args.supervisorctl, program)?
    } else if let Some(unit) = &args.systemd {
        systemd::status(ctx, unit)?
    } else {
        return by_process(args, ctx);
    };
    let mut report = Report::new(found.state, found.text);
    young(args, found.uptime, &mut report);
    if let Some(up) = found.uptime {
        report.perfdata.push(
            Perfdata::new("uptime", up.round())
                .uom(plugin_core::Uom::Seconds)
                .min(0.0),
        );
    }
    Ok(report)
}

/// The default: matching processes, counted against the ranges.
fn by_process(args: &Args, ctx: &Context) -> CheckResult {
    ctx.stage("reading the process table");
    let procs = custos_procs::selected(&args.cmdline, args.user.as_deref())?;
    let thresholds = Thresholds::new(args.warning, Some(args.critical));
    let n = procs.len();
    let now = now();
    // The youngest process decides about restarts.
    let uptime = procs
        .iter()
        .map(|p| (now - p.start_time as f64).max(0.0))
        .reduce(f64::min);
    let text = match procs.as_slice() {
        [] => format!(
            "no process matches '{}'",
            args.cmdline
                .as_str()
                .trim_start_matches("^(?:")
                .trim_end_matches(")$")
        ),
        [p] => format!(
            "1 process running (pid {}, up {})",
            p.pid,
            Dimension::Time.human(uptime.unwrap_or(0.0))
        ),
        _ => format!(
            "{n} processes running (pids {})",
            procs
                .iter()
                .map(|p| p.pid.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    let mut report = Report::new(thresholds.evaluate(n as f64), text);
    if let Some((_, why)) = thresholds.alert(n as f64, Dimension::Count) {
        report.summary.push_str(&format!(" ({why})"));
    }
    young(args, uptime, &mut report);
    if ctx.verbosity > 0 {
        report
            .details
            .extend(procs.iter().map(|p| format!("{}: {}", p.pid, p.cmdline)));
    }
    report.perfdata.push(
        Perfdata::new("procs", n as f64)
            .thresholds(&thresholds)
            .min(0.0),
    );
    Ok(report)
}

/// `--min-uptime`: a process (or program) that started too recently is a WARNING.
fn young(args: &Args, uptime: Option<f64>, report: &mut Report) {
    let (Some(min), Some(up)) = (args.min_uptime, uptime) else {
        return;
    };
    if up < min && report.state != State::Critical {
        report.state = report.state.worst(State::Warning);
        report.summary = format!(
            "started {} ago (min uptime {}): restarting?; {}",
            Dimension::Time.human(up),
            Dimension::Time.human(min),
            report.summary
        );
    }
}

fn now() -> f64 {
    plugin_core::unix_now()
}

/// Helper output in one line for messages.
pub(crate) fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}
