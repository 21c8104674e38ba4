//! The single exit path and what ends a run: the check's result, the deadline (a watchdog
//! thread), an end signal (SIGTERM, SIGINT, SIGHUP) or a panic. Whoever comes first prints the
//! one report, writes the state file, kills registered helpers and exits 0-3; nothing goes to
//! stderr.

use crate::context::{
    lock, timeout_message, while_stage, Context, Shared, CHILDREN, FINISHER, FINISHING, SHARED,
};
use crate::error::{CheckError, CheckResult};
use crate::openmetrics;
use crate::output::{render_json, render_nagios, Report, DEFAULT_OUTPUT_LIMIT};
use crate::plugin::{parse_args, OutputFormat, Plugin};
use crate::state::State;
use crate::statefile::{write_record, Record};
use clap::Parser;
use std::ffi::OsString;
use std::io::Write;
use std::sync::atomic::Ordering;
use std::sync::Mutex;
use std::thread;
use std::time::{Duration, Instant};

pub(crate) fn write_stdout(text: &str) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes());
    let _ = out.flush();
}

fn kill_children() {
    for pid in lock(&CHILDREN).drain(..) {
        // SAFETY: kill(2) with a negative pid signals that process group; no memory involved.
        unsafe {
            libc::kill(-(pid as libc::pid_t), libc::SIGKILL);
        }
    }
}

/// `--textfile PATH`: the file itself, or `PATH/custos_<check>.prom` for a directory (the
/// name node_exporter reads: `.prom`).
fn textfile_path(path: &std::path::Path, check: &str) -> std::path::PathBuf {
    if path.is_dir() {
        let short = check.strip_prefix("check_").unwrap_or(check);
        path.join(format!("custos_{short}.prom"))
    } else {
        path.to_path_buf()
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
        // The one path for warnings every result carries (warn() keeps each once).
        report.details.extend(lock(&s.warnings).iter().cloned());
    }
    // One run time for every rendering of this result.
    let elapsed = shared.map_or(0.0, |s| s.started.elapsed().as_secs_f64());
    if let Some(path) = shared.and_then(|s| s.state_file.as_ref()) {
        let first = report.summary.lines().next().unwrap_or("").to_string();
        let now = crate::unix_now() as i64;
        if let Err(e) = write_record(path, &Record::new(now, report.state, &first)) {
            demote(
                &mut report,
                format!("cannot write state file {}: {e}", path.display()),
            );
        }
    }
    if let Some((s, path)) = shared.and_then(|s| Some((s, s.textfile.as_ref()?))) {
        let metrics = openmetrics::render(s.plugin.name, &report, elapsed);
        if let Err(e) = crate::files::write_atomic(path, metrics.as_bytes()) {
            demote(
                &mut report,
                format!("cannot write textfile {}: {e}", path.display()),
            );
        }
    }
    if let Some(s) = shared {
        report = s.plugin.style(report);
    }
    let text = match shared {
        Some(s) if s.format == OutputFormat::Json => render_json(s.plugin.name, &s.label, &report),
        Some(s) if s.format == OutputFormat::Openmetrics => {
            openmetrics::render(s.plugin.name, &report, elapsed)
        }
        Some(s) => render_nagios(&s.label, &report, s.output_limit),
        None => render_nagios("CUSTOS", &report, DEFAULT_OUTPUT_LIMIT),
    };
    write_stdout(&text);
    std::process::exit(report.state.code())
}

/// A result that could not be written where it was asked for: UNKNOWN saying so, the result
/// itself (its first line) kept as the first line of the long output.
fn demote(report: &mut Report, why: String) {
    let first = report.summary.lines().next().unwrap_or("").to_string();
    report
        .details
        .insert(0, format!("(the result was {}: {first})", report.state));
    report.summary = why;
    report.state = State::Unknown;
    report.status_text = None;
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
    let started = thread::Builder::new()
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
        });
    if let Err(e) = started {
        // Without the watchdog the deadline cannot hold: say so rather than risk a hang.
        finish(Report::new(
            State::Unknown,
            format!("cannot start the deadline thread: {e}"),
        ))
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
        textfile: common
            .textfile
            .as_ref()
            .map(|p| textfile_path(p, plugin.name)),
        started,
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
