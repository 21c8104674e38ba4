//! The command line every check shares: [`Plugin`] (name, version, how the status line looks),
//! the [`CommonArgs`], and parsing them with clap (`--help`, `--version` and usage errors print
//! to stdout and exit 3).

use crate::output::{render_nagios, Report, DEFAULT_OUTPUT_LIMIT};
use crate::state::State;
use crate::units::parse_duration;
use clap::{ArgAction, Args, FromArgMatches, Parser, ValueEnum};
use std::ffi::OsString;
use std::path::PathBuf;

/// Name and version of a check binary.
#[derive(Clone, Copy, Debug)]
pub struct Plugin {
    /// The binary name, `check_<name>`.
    pub name: &'static str,
    /// The version, for `--version`.
    pub version: &'static str,
    /// Start every status line with `<STATE>:` instead of `<LABEL> <STATE> -` (Zulip's
    /// `check_cron_file` format, kept so existing services read the same text).
    pub short_status: bool,
    /// Rewrites the command line before parsing, given the name the binary was invoked as (a
    /// compatibility name such as `check_website_response.sh` keeps its old option syntax).
    pub rewrite_args: Option<RewriteArgs>,
    /// The default of `--timeout`, seconds (10 unless the check needs longer: a probe whose
    /// critical threshold is 12 s needs its deadline above that).
    pub default_timeout: &'static str,
}

/// A command-line rewrite: `(invoked as, argv) -> argv`.
pub type RewriteArgs = fn(&str, Vec<OsString>) -> Vec<OsString>;

impl Plugin {
    /// A plugin with the standard status line.
    pub const fn new(name: &'static str, version: &'static str) -> Plugin {
        Plugin {
            name,
            version,
            short_status: false,
            rewrite_args: None,
            default_timeout: "10",
        }
    }

    /// The same, with another default for `--timeout`.
    pub const fn with_default_timeout(mut self, seconds: &'static str) -> Plugin {
        self.default_timeout = seconds;
        self
    }

    /// The same, with a command-line rewrite (see [`Plugin::rewrite_args`]).
    pub const fn with_rewrite_args(mut self, f: RewriteArgs) -> Plugin {
        self.rewrite_args = Some(f);
        self
    }

    /// Applies this plugin's status-line style to a report.
    pub(crate) fn style(&self, mut report: Report) -> Report {
        if self.short_status && report.status_text.is_none() {
            report.status_text = Some(report.state.name().to_string());
        }
        report
    }

    /// What the check calls itself to servers (HTTP User-Agent): `custos/check_x 0.1.0`.
    pub fn user_agent(&self) -> String {
        format!("custos/{} {}", self.name, self.version)
    }

    /// The status-line label: the name without `check_`, upper-cased (`CRON_FILE`).
    pub fn label(&self) -> String {
        self.name
            .strip_prefix("check_")
            .unwrap_or(self.name)
            .to_ascii_uppercase()
    }
}

/// Output formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// Status line, long output, perfdata.
    Nagios,
    /// One JSON object.
    Json,
    /// Prometheus metrics (the text format node_exporter and OpenMetrics readers take).
    Openmetrics,
}

/// The `-t` value: seconds (or a duration such as `500ms`, `1min`), optionally `:STATE` as
/// check_nrpe takes it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Timeout {
    /// The deadline, seconds.
    pub seconds: f64,
    /// The state it reports, when given as `SECONDS:STATE`.
    pub state: Option<State>,
}

/// Parses `-t SECONDS[:STATE]`.
pub fn parse_timeout(text: &str) -> Result<Timeout, String> {
    let (secs, state) = match text.rsplit_once(':') {
        Some((s, st)) => (s, Some(st.parse::<State>().map_err(|e| e.to_string())?)),
        None => (text, None),
    };
    let seconds = parse_duration(secs).map_err(|e| e.to_string())?;
    if seconds <= 0.0 {
        return Err(format!("'{text}': the timeout must be more than 0 seconds"));
    }
    Ok(Timeout { seconds, state })
}

// Options every check has. (No doc comment here: clap would use it as the check's `about`.)
#[allow(missing_docs)]
#[derive(Args, Clone, Debug)]
pub struct CommonArgs {
    /// More detail in the long output; repeat for more (at most 3)
    #[arg(short = 'v', long = "verbose", action = ArgAction::Count, help_heading = "Common options")]
    pub verbose: u8,

    /// Deadline for the whole run: seconds, a duration (500ms, 1min), or SECONDS:STATE
    // The default is each check's (Plugin::default_timeout), set by command().
    #[arg(short = 't', long = "timeout", value_name = "SECONDS",
          value_parser = parse_timeout, help_heading = "Common options")]
    pub timeout: Timeout,

    /// State when the deadline passes: ok, warning, critical, unknown (or 0-3)
    #[arg(long = "timeout-result", value_name = "STATE", value_parser = crate::args::state,
          help_heading = "Common options")]
    pub timeout_result: Option<State>,

    /// Output format
    #[arg(
        long = "output-format",
        value_name = "FORMAT",
        value_enum,
        default_value = "nagios",
        help_heading = "Common options"
    )]
    pub output_format: OutputFormat,

    /// Cron mode: also write the result to PATH as one line ts|code|STATE|message (atomically)
    #[arg(
        long = "state-file",
        value_name = "PATH",
        help_heading = "Common options"
    )]
    pub state_file: Option<PathBuf>,

    /// Cron mode for Prometheus: also write the result as metrics to PATH (a .prom file, or a
    /// directory for custos_<check>.prom) for node_exporter's textfile collector (atomically)
    #[arg(
        long = "textfile",
        value_name = "PATH",
        help_heading = "Common options"
    )]
    pub textfile: Option<PathBuf>,

    /// Write state files into a directory every user may write even without the sticky bit
    #[arg(long = "allow-world-writable-dir", help_heading = "Common options")]
    pub allow_world_writable_dir: bool,

    /// Most bytes of output; long output and perfdata share what line 1 leaves (0: no limit)
    #[arg(long = "output-limit", value_name = "BYTES", default_value_t = DEFAULT_OUTPUT_LIMIT,
          help_heading = "Common options")]
    pub output_limit: usize,
}

/// Nagios ranges start with `-` as often as not (`-w -7:23`, `-c -5:`): `--warning`,
/// `--critical` and every option whose value is a `RANGE` take hyphen values, and every option that takes a value takes negative
/// numbers. Applied to all checks here so that none can forget it.
fn allow_negative_values(arg: clap::Arg) -> clap::Arg {
    if !arg.get_action().takes_values() || arg.is_positional() {
        return arg;
    }
    let is_range = arg
        .get_value_names()
        .is_some_and(|names| names.iter().any(|n| n.as_str() == "RANGE"))
        || matches!(arg.get_long(), Some("warning" | "critical"));
    let arg = arg.allow_negative_numbers(true);
    if is_range {
        arg.allow_hyphen_values(true)
    } else {
        arg
    }
}

/// The full command line of a check: its own arguments `A` plus the [`CommonArgs`], as the
/// runner parses it. Also used to check the docs and to generate command definitions.
pub fn command<A: clap::CommandFactory>(plugin: &Plugin) -> clap::Command {
    CommonArgs::augment_args(A::command())
        .name(plugin.name)
        .bin_name(plugin.name)
        .version(plugin.version)
        .term_width(80)
        .mut_args(|a| {
            let a = allow_negative_values(a);
            if a.get_id() == "timeout" {
                a.default_value(plugin.default_timeout).required(false)
            } else {
                a
            }
        })
}

/// Parses arguments into the check's own `A` and the [`CommonArgs`]; on `--help`, `--version`
/// or a usage error, prints to stdout and exits 3.
pub(crate) fn parse_args<A: Parser>(
    plugin: &Plugin,
    label: &str,
    argv: Vec<OsString>,
) -> (A, CommonArgs, String) {
    let invoked_as = argv
        .first()
        .and_then(|a| std::path::Path::new(a).file_name())
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| plugin.name.to_string());
    let argv = match plugin.rewrite_args {
        Some(rewrite) => rewrite(&invoked_as, argv),
        None => argv,
    };
    let parsed = command::<A>(plugin)
        .try_get_matches_from(argv)
        .and_then(|m| Ok((A::from_arg_matches(&m)?, CommonArgs::from_arg_matches(&m)?)));
    match parsed {
        Ok((a, c)) => (a, c, invoked_as),
        Err(e) => {
            use clap::error::ErrorKind::*;
            let text = e.render().to_string();
            if matches!(
                e.kind(),
                DisplayHelp | DisplayVersion | DisplayHelpOnMissingArgumentOrSubcommand
            ) {
                crate::exit::write_stdout(&text);
                std::process::exit(State::Unknown.code());
            }
            let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
            let first = lines.next().unwrap_or("invalid arguments");
            let mut report = plugin.style(Report::new(
                State::Unknown,
                first.strip_prefix("error: ").unwrap_or(first),
            ));
            report.details = lines.map(String::from).collect();
            crate::exit::write_stdout(&render_nagios(label, &report, DEFAULT_OUTPUT_LIMIT));
            std::process::exit(State::Unknown.code());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeout_values() {
        assert_eq!(
            parse_timeout("10"),
            Ok(Timeout {
                seconds: 10.0,
                state: None
            })
        );
        assert_eq!(parse_timeout("500ms").unwrap().seconds, 0.5);
        assert_eq!(parse_timeout("1min").unwrap().seconds, 60.0);
        assert_eq!(
            parse_timeout("30:critical"),
            Ok(Timeout {
                seconds: 30.0,
                state: Some(State::Critical)
            })
        );
        assert_eq!(parse_timeout("5:2").unwrap().state, Some(State::Critical));
        for bad in ["0", "-1", "", "abc", "10:maybe", "10s:", "1e999"] {
            assert!(parse_timeout(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn labels() {
        let p = Plugin::new("check_postgres_backup", "0");
        assert_eq!(p.label(), "POSTGRES_BACKUP");
    }
}
