//! The runner: argument parsing, one deadline, the panic guard, and the single exit path.
//!
//! Every check's `main` is `plugin_core::run(PLUGIN, check)`. The runner
//! - parses arguments with clap, adding the [`CommonArgs`]; `--help`, `--version` and usage
//!   errors print to stdout and exit 3;
//! - starts a watchdog thread for the deadline (`-t`), which, even while the check is blocked in
//!   a system call, kills registered child process groups, prints `... timed out after N seconds`
//!   and exits with `--timeout-result` (default UNKNOWN);
//! - ends the run on SIGTERM, SIGINT or SIGHUP the way the deadline does (helpers killed, one
//!   UNKNOWN line naming the signal and the stage, the state file written, exit 3);
//! - turns a panic anywhere into `UNKNOWN - internal error: ...` with exit 3;
//! - prints the report once (whoever finishes first, check or watchdog, is the only one to print),
//!   writes the `--state-file`, and exits 0-3. Nothing is written to stderr.

use crate::output::{render_json, render_nagios, seconds_phrase, Report, DEFAULT_OUTPUT_LIMIT};
use crate::state::State;
use crate::statefile::{write_record, Record};
use crate::units::parse_duration;
use clap::{ArgAction, Args, FromArgMatches, Parser, ValueEnum};
use std::ffi::OsString;
use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, OnceLock};
use std::thread::{self, ThreadId};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Name and version of a check binary.
#[derive(Clone, Copy, Debug)]
pub struct Plugin {
    /// The binary name, `check_<name>`.
    pub name: &'static str,
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
    fn style(&self, mut report: Report) -> Report {
        if self.short_status && report.status_text.is_none() {
            report.status_text = Some(report.state.name().to_string());
        }
        report
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
}

/// The `-t` value: seconds (or a duration such as `500ms`, `1min`), optionally `:STATE` as
/// check_nrpe takes it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Timeout {
    pub seconds: f64,
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
#[derive(Args, Clone, Debug)]
pub struct CommonArgs {
    /// More detail in the long output; repeat for more (at most 3)
    #[arg(short = 'v', long = "verbose", action = ArgAction::Count, help_heading = "Common options")]
    pub verbose: u8,

    /// Deadline for the whole run: seconds, a duration (500ms, 1min), or SECONDS:STATE
    #[arg(short = 't', long = "timeout", value_name = "SECONDS", default_value = "10",
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

    /// Write state files into a directory every user may write even without the sticky bit
    #[arg(long = "allow-world-writable-dir", help_heading = "Common options")]
    pub allow_world_writable_dir: bool,

    /// Most bytes of output; long output and perfdata share what line 1 leaves (0: no limit)
    #[arg(long = "output-limit", value_name = "BYTES", default_value_t = DEFAULT_OUTPUT_LIMIT,
          help_heading = "Common options")]
    pub output_limit: usize,
}

/// What a check knows about its run: verbosity and the time left.
#[derive(Debug)]
pub struct Context {
    pub verbosity: u8,
    deadline: Instant,
    invoked_as: String,
    timeout_seconds: f64,
    timeout_state: State,
}

impl Context {
    /// A context for calling a check's logic directly (tests, other front ends).
    pub fn new(timeout: Duration, verbosity: u8) -> Context {
        let now = Instant::now();
        Context {
            verbosity: verbosity.min(3),
            deadline: now + timeout,
            invoked_as: String::new(),
            timeout_seconds: timeout.as_secs_f64(),
            timeout_state: State::Unknown,
        }
    }

    /// The same, with the state a timeout reports (`--timeout-result`).
    pub fn with_timeout_state(mut self, state: State) -> Context {
        self.timeout_state = state;
        self
    }

    /// The error for "the deadline came while <stage>": what the watchdog would print, for a
    /// check that noticed first (a client that gave up just before the deadline).
    pub fn timed_out(&self) -> CheckError {
        CheckError::new(self.timeout_state, timeout_message(self.timeout_seconds))
    }

    /// When the run must end.
    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    /// Time left before the deadline (zero once it has passed).
    pub fn remaining(&self) -> Duration {
        self.deadline.saturating_duration_since(Instant::now())
    }

    /// The file name the binary was invoked as (`check_website_response.sh` for the link).
    pub fn invoked_as(&self) -> &str {
        &self.invoked_as
    }

    /// Names what the check is doing now; a timeout message says it (`... while reading X`).
    pub fn stage(&self, what: impl Into<String>) {
        stage(what)
    }

    /// Registers a child's process group (spawn it with `process_group(0)`): the watchdog
    /// kills it at the deadline so that nothing is left behind.
    pub fn register_child(&self, pid: u32) {
        lock(&CHILDREN).push(pid);
    }

    /// Forgets a child that has been waited for.
    pub fn unregister_child(&self, pid: u32) {
        lock(&CHILDREN).retain(|&p| p != pid);
    }
}

/// Names what the check is doing now, from code that holds no [`Context`]: `... timed out
/// after N seconds while <what>`. Clears the [`substage`].
pub fn stage(what: impl Into<String>) {
    if let Some(shared) = SHARED.get() {
        *lock(&shared.stage) = (Some(what.into()), None);
    }
}

/// A warning for the long output of whatever result the run ends with (OK, an error, the
/// deadline): a secret file that others can read must be said even when the check then fails.
pub fn warn(line: impl Into<String>) {
    if let Some(shared) = SHARED.get() {
        let line = line.into();
        let mut w = lock(&shared.warnings);
        if !w.contains(&line) {
            w.push(line);
        }
    }
}

/// Names the step within the stage, from a client (`waiting for the response from A`): the
/// timeout message says both, `while registering a queue: waiting for the response from A`.
pub fn substage(what: impl Into<String>) {
    if let Some(shared) = SHARED.get() {
        lock(&shared.stage).1 = Some(what.into());
    }
}

/// A failure that ends the check: "could not measure" (UNKNOWN) or "the service is down"
/// (CRITICAL, or another state), with a message.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckError {
    pub state: State,
    pub message: String,
    pub details: Vec<String>,
}

impl CheckError {
    pub fn new(state: State, message: impl Into<String>) -> CheckError {
        CheckError {
            state,
            message: message.into(),
            details: Vec::new(),
        }
    }

    /// The check could not measure (bad input, permissions, unexpected replies).
    pub fn unknown(message: impl Into<String>) -> CheckError {
        CheckError::new(State::Unknown, message)
    }

    /// The service is down or refused us.
    pub fn critical(message: impl Into<String>) -> CheckError {
        CheckError::new(State::Critical, message)
    }

    pub fn detail(mut self, line: impl Into<String>) -> CheckError {
        self.details.push(line.into());
        self
    }

    /// Several long-output lines at once.
    pub fn details(mut self, lines: &[String]) -> CheckError {
        self.details.extend_from_slice(lines);
        self
    }

    pub fn into_report(self) -> Report {
        let mut r = Report::new(self.state, self.message);
        r.details = self.details;
        r
    }
}

/// Errors with context chains (`anyhow`) are "could not measure": UNKNOWN, the chain joined by
/// `: `.
impl From<anyhow::Error> for CheckError {
    fn from(e: anyhow::Error) -> CheckError {
        CheckError::unknown(format!("{e:#}"))
    }
}

pub type CheckResult = Result<Report, CheckError>;

/// What the exit path needs to know, set once before the check starts.
struct Shared {
    plugin: Plugin,
    label: String,
    format: OutputFormat,
    output_limit: usize,
    state_file: Option<PathBuf>,
    /// The stage and the step within it.
    stage: Mutex<(Option<String>, Option<String>)>,
    /// Warnings every result carries in its long output (see [`warn`]).
    warnings: Mutex<Vec<String>>,
}

static SHARED: OnceLock<Shared> = OnceLock::new();
static FINISHING: AtomicBool = AtomicBool::new(false);
static FINISHER: Mutex<Option<ThreadId>> = Mutex::new(None);
static CHILDREN: Mutex<Vec<u32>> = Mutex::new(Vec::new());

/// Locks a mutex even if a panicking thread poisoned it (the exit path must always work).
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn write_stdout(text: &str) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes());
    let _ = out.flush();
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

fn kill_children() {
    for pid in lock(&CHILDREN).drain(..) {
        // SAFETY: kill(2) with a negative pid signals that process group; no memory involved.
        unsafe {
            libc::kill(-(pid as libc::pid_t), libc::SIGKILL);
        }
    }
}

/// The single exit path: the first thread to get here prints and exits; any other waits for it.
fn finish(mut report: Report) -> ! {
    if FINISHING.swap(true, Ordering::SeqCst) {
        // Someone else is printing. If that someone is this very thread (a panic while
        // finishing), bail out at once; otherwise let the other thread exit the process.
        if *lock(&FINISHER) == Some(thread::current().id()) {
            write_stdout("UNKNOWN - internal error while writing the result\n");
            // SAFETY: _exit ends the process immediately; nothing is touched afterwards.
            unsafe { libc::_exit(3) }
        }
        loop {
            thread::sleep(Duration::from_secs(3600));
        }
    }
    *lock(&FINISHER) = Some(thread::current().id());
    let shared = SHARED.get();
    if let Some(s) = shared {
        for w in lock(&s.warnings).iter() {
            if !report.details.contains(w) {
                report.details.push(w.clone());
            }
        }
    }
    if let Some(path) = shared.and_then(|s| s.state_file.as_ref()) {
        let first = report.summary.lines().next().unwrap_or("").to_string();
        if let Err(e) = write_record(path, &Record::new(unix_now(), report.state, &first)) {
            report
                .details
                .insert(0, format!("(the result was {}: {first})", report.state));
            report.summary = format!("cannot write state file {}: {e}", path.display());
            report.state = State::Unknown;
            report.status_text = None;
        }
    }
    if let Some(s) = shared {
        report = s.plugin.style(report);
    }
    let text = match shared {
        Some(s) if s.format == OutputFormat::Json => render_json(s.plugin.name, &s.label, &report),
        Some(s) => render_nagios(&s.label, &report, s.output_limit),
        None => render_nagios("CUSTOS", &report, DEFAULT_OUTPUT_LIMIT),
    };
    write_stdout(&text);
    std::process::exit(report.state.code())
}

fn panic_message(info: &std::panic::PanicHookInfo<'_>) -> String {
    let payload = info.payload();
    let msg = payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "panic".to_string());
    match info.location() {
        Some(loc) => format!("internal error: {msg} (at {}:{})", loc.file(), loc.line()),
        None => format!("internal error: {msg}"),
    }
}

fn install_panic_hook(plugin: Plugin) {
    let label = plugin.label();
    std::panic::set_hook(Box::new(move |info| {
        let message = panic_message(info);
        if SHARED.get().is_none() {
            // Before arguments were parsed: no format chosen yet.
            let report = plugin.style(Report::new(State::Unknown, message));
            write_stdout(&render_nagios(&label, &report, 0));
            // SAFETY: immediate exit with a valid plugin code.
            unsafe { libc::_exit(3) }
        }
        kill_children();
        finish(Report::new(State::Unknown, message))
    }));
}

/// `timed out after 10 seconds while <stage>`: the one wording of a deadline, for the watchdog
/// and for a check whose client gave up just before it.
fn timeout_message(seconds: f64) -> String {
    format!(
        "timed out after {}{}",
        seconds_phrase(seconds),
        while_stage()
    )
}

/// ` while <stage>: <step>`, or nothing before the check has named a stage.
fn while_stage() -> String {
    match SHARED.get().map(|s| lock(&s.stage).clone()) {
        Some((Some(stage), Some(step))) => format!(" while {stage}: {step}"),
        Some((Some(what), None)) | Some((None, Some(what))) => format!(" while {what}"),
        _ => String::new(),
    }
}

/// The signals that end a run the way the deadline does: what a daemon, a service manager or
/// a terminal sends before it resorts to SIGKILL.
const END_SIGNALS: [(libc::c_int, &str); 3] = [
    (libc::SIGTERM, "SIGTERM"),
    (libc::SIGINT, "SIGINT"),
    (libc::SIGHUP, "SIGHUP"),
];

fn end_signal_set() -> libc::sigset_t {
    // SAFETY: sigemptyset/sigaddset initialise and fill a sigset_t we own.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for (sig, _) in END_SIGNALS {
            libc::sigaddset(&mut set, sig);
        }
        set
    }
}

/// Blocks the end signals in the calling thread, and so in every thread started after it: they
/// stay pending until [`start_signal_thread`] takes them. Called first thing in [`run`], before
/// any thread exists. (Helpers start with an empty mask: std resets it in the child.)
fn block_end_signals() {
    let set = end_signal_set();
    // SAFETY: pthread_sigmask with a valid set; the old mask is not needed.
    unsafe {
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
    }
}

/// A thread that waits for an end signal with `sigwait` and ends the run: helpers killed, one
/// UNKNOWN line naming the signal and the stage, state file written, exit 3. `sigwait` in a
/// thread of its own, rather than a handler (or the signal-hook crate's self-pipe, which also
/// needs a thread to act), keeps the exit path out of signal context entirely.
fn start_signal_thread() {
    let set = end_signal_set();
    let _ = thread::Builder::new()
        .name("custos-signals".into())
        .spawn(move || loop {
            let mut sig: libc::c_int = 0;
            // SAFETY: sigwait with a valid set and out-pointer; the signals are blocked in
            // every thread, so they are delivered here.
            if unsafe { libc::sigwait(&set, &mut sig) } != 0 {
                continue;
            }
            let name = END_SIGNALS
                .iter()
                .find(|(s, _)| *s == sig)
                .map_or("a signal", |(_, n)| n);
            kill_children();
            finish(Report::new(
                State::Unknown,
                format!("stopped by {name}{}", while_stage()),
            ))
        });
}

fn start_watchdog(deadline: Instant, seconds: f64, state: State) {
    thread::Builder::new()
        .name("custos-deadline".into())
        .spawn(move || {
            loop {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    break;
                }
                thread::sleep(left);
            }
            kill_children();
            if FINISHING.load(Ordering::SeqCst) {
                // The check is already printing; give it a moment, then end the run regardless.
                thread::sleep(Duration::from_millis(500));
                // SAFETY: immediate exit with a valid plugin code.
                unsafe { libc::_exit(state.code()) }
            }
            finish(Report::new(state, timeout_message(seconds)))
        })
        .expect("start the deadline thread");
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
                a.default_value(plugin.default_timeout)
            } else {
                a
            }
        })
}

/// Parses arguments into the check's own `A` and the [`CommonArgs`]; on `--help`, `--version`
/// or a usage error, prints to stdout and exits 3.
fn parse_args<A: Parser>(plugin: &Plugin, label: &str, argv: Vec<OsString>) -> (A, CommonArgs, String) {
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
                write_stdout(&text);
                std::process::exit(State::Unknown.code());
            }
            let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
            let first = lines.next().unwrap_or("invalid arguments");
            let mut report = plugin.style(Report::new(
                State::Unknown,
                first.strip_prefix("error: ").unwrap_or(first),
            ));
            report.details = lines.map(String::from).collect();
            write_stdout(&render_nagios(label, &report, DEFAULT_OUTPUT_LIMIT));
            std::process::exit(State::Unknown.code());
        }
    }
}

/// Runs a check as a plugin process and exits with its state. Never returns.
pub fn run<A, F>(plugin: Plugin, check: F) -> !
where
    A: Parser,
    F: FnOnce(&A, &Context) -> CheckResult,
{
    run_with_args(plugin, check, std::env::args_os().collect())
}

/// [`run`] with the command line given: `argv[0]` is the name the check was invoked as (the
/// multi-call binary passes `custos CHECK ARGS...` on without `custos`).
pub fn run_with_args<A, F>(plugin: Plugin, check: F, argv: Vec<OsString>) -> !
where
    A: Parser,
    F: FnOnce(&A, &Context) -> CheckResult,
{
    let started = Instant::now();
    block_end_signals();
    let label = plugin.label();
    install_panic_hook(plugin);
    let (args, common, invoked_as) = parse_args::<A>(&plugin, &label, argv);

    let timeout_state = common
        .timeout_result
        .or(common.timeout.state)
        .unwrap_or(State::Unknown);
    let deadline = started + Duration::from_secs_f64(common.timeout.seconds.min(1e9));
    let _ = SHARED.set(Shared {
        plugin,
        label,
        format: common.output_format,
        output_limit: common.output_limit,
        state_file: common.state_file.clone(),
        stage: Mutex::new((None, None)),
        warnings: Mutex::new(Vec::new()),
    });
    crate::files::allow_world_writable_dirs(common.allow_world_writable_dir);
    start_signal_thread();
    start_watchdog(deadline, common.timeout.seconds, timeout_state);

    let ctx = Context {
        verbosity: common.verbose.min(3),
        deadline,
        invoked_as,
        timeout_seconds: common.timeout.seconds,
        timeout_state,
    };
    let report = check(&args, &ctx).unwrap_or_else(CheckError::into_report);
    finish(report)
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

    #[test]
    fn errors_keep_their_chain() {
        use anyhow::Context as _;
        let e: CheckError = std::fs::read("/nonexistent/custos")
            .context("reading /nonexistent/custos")
            .unwrap_err()
            .into();
        assert_eq!(e.state, State::Unknown);
        assert!(
            e.message
                .starts_with("reading /nonexistent/custos: No such file"),
            "{}",
            e.message
        );
        let io: CheckError = anyhow::Error::new(std::io::Error::other("boom")).into();
        assert_eq!(io.message, "boom");
        assert_eq!(
            CheckError::critical("down").into_report().state,
            State::Critical
        );
    }

    #[test]
    fn context_time_left() {
        let ctx = Context::new(Duration::from_secs(5), 9);
        assert_eq!(ctx.verbosity, 3);
        assert!(ctx.remaining() <= Duration::from_secs(5));
        assert!(ctx.remaining() > Duration::from_secs(4));
        let gone = Context::new(Duration::ZERO, 0);
        assert_eq!(gone.remaining(), Duration::ZERO);
    }
}
