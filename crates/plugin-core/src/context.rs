//! What a check knows about its run ([`Context`]: verbosity, the time left, the name it was
//! invoked as), the stage it names for messages, and the state the exit path shares with it.

use crate::error::CheckError;
use crate::output::seconds_phrase;
use crate::plugin::{OutputFormat, Plugin};
use crate::state::State;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::{Mutex, OnceLock};
use std::thread::ThreadId;
use std::time::{Duration, Instant};

/// What a check knows about its run: verbosity and the time left.
#[derive(Debug)]
pub struct Context {
    /// How much detail the long output gets (`-v` count, at most 3).
    pub verbosity: u8,
    pub(crate) deadline: Instant,
    pub(crate) invoked_as: String,
    pub(crate) timeout_seconds: f64,
    pub(crate) timeout_state: State,
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

/// Bytes this run's output can carry: the Nagios output's byte budget; `None` when everything
/// is printed (JSON, OpenMetrics, a `--textfile`, `--output-limit 0`) or outside a run (tests).
/// [`crate::PerfdataGroups`] and [`crate::Findings::for_budget`] keep no more than this.
pub fn output_budget() -> Option<usize> {
    let shared = SHARED.get()?;
    let unlimited = shared.format != crate::OutputFormat::Nagios
        || shared.textfile.is_some()
        || shared.output_limit == 0;
    (!unlimited).then_some(shared.output_limit)
}

/// What the exit path needs to know, set once before the check starts.
pub(crate) struct Shared {
    pub(crate) plugin: Plugin,
    pub(crate) label: String,
    pub(crate) format: OutputFormat,
    pub(crate) output_limit: usize,
    pub(crate) state_file: Option<PathBuf>,
    /// `--textfile`: where the metrics go, resolved to a file.
    pub(crate) textfile: Option<PathBuf>,
    /// When the run started (for the metrics' duration).
    pub(crate) started: std::time::Instant,
    /// The stage and the step within it.
    pub(crate) stage: Mutex<(Option<String>, Option<String>)>,
    /// Warnings every result carries in its long output (see [`warn`]).
    pub(crate) warnings: Mutex<Vec<String>>,
}

pub(crate) static SHARED: OnceLock<Shared> = OnceLock::new();
pub(crate) static FINISHING: AtomicBool = AtomicBool::new(false);
pub(crate) static FINISHER: Mutex<Option<ThreadId>> = Mutex::new(None);
pub(crate) static CHILDREN: Mutex<Vec<u32>> = Mutex::new(Vec::new());

/// Locks a mutex even if a panicking thread poisoned it (the exit path must always work).
pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// `timed out after 10 seconds while <stage>`: the one wording of a deadline, for the watchdog
/// and for a check whose client gave up just before it.
pub(crate) fn timeout_message(seconds: f64) -> String {
    format!(
        "timed out after {}{}",
        seconds_phrase(seconds),
        while_stage()
    )
}

/// ` while <stage>: <step>`, or nothing before the check has named a stage.
pub(crate) fn while_stage() -> String {
    match SHARED.get().map(|s| lock(&s.stage).clone()) {
        Some((Some(stage), Some(step))) => format!(" while {stage}: {step}"),
        Some((Some(what), None)) | Some((None, Some(what))) => format!(" while {what}"),
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
