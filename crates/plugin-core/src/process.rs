//! Running a helper program (wal-g, pgbackrest, apt-get, supervisorctl) within the check's
//! deadline: in its own process group, registered with the watchdog, output capped, and killed
//! with its whole group when the time is up, so nothing is left behind.

use crate::{CheckError, Context};
use std::io::Read;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// What a finished helper produced.
#[derive(Debug)]
pub struct Output {
    /// The exit code; `None` when a signal ended it.
    pub code: Option<i32>,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    /// True when stdout or stderr was longer than the cap (the rest was read and dropped).
    pub truncated: bool,
}

impl Output {
    /// The first non-empty line of stderr (else stdout), for messages.
    pub fn complaint(&self) -> String {
        let text = if self.stderr.iter().any(|b| !b.is_ascii_whitespace()) {
            &self.stderr
        } else {
            &self.stdout
        };
        String::from_utf8_lossy(text)
            .lines()
            .map(str::trim)
            .find(|l| !l.is_empty())
            .unwrap_or("")
            .to_string()
    }
}

/// Time kept back from the deadline so that the check reports a stuck helper itself.
const MARGIN: Duration = Duration::from_millis(200);

/// Reads at most `cap` bytes and drains the rest (so the child never blocks on a full pipe).
fn read_capped(mut r: impl Read, cap: usize) -> (Vec<u8>, bool) {
    let mut kept = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    let mut truncated = false;
    loop {
        match r.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                let room = cap.saturating_sub(kept.len());
                kept.extend_from_slice(&buf[..n.min(room)]);
                truncated |= n > room;
            }
        }
    }
    (kept, truncated)
}

/// Runs `cmd` (stdin closed) until it ends or the check's deadline is near, keeping at most
/// `cap` bytes of each output stream. `what` names it in messages (`wal-g backup-list`).
/// Not found / not executable / timed out are UNKNOWN: the check could not measure.
pub fn run(ctx: &Context, cmd: &mut Command, what: &str, cap: usize) -> Result<Output, CheckError> {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    ctx.stage(format!("running {what}"));
    let mut child = cmd.spawn().map_err(|e| {
        let program = cmd.get_program().to_string_lossy().into_owned();
        CheckError::unknown(format!("cannot run {what} ({program}): {e}"))
    })?;
    let pid = child.id();
    ctx.register_child(pid);
    let out = child
        .stdout
        .take()
        .map(|o| std::thread::spawn(move || read_capped(o, cap)));
    let err = child
        .stderr
        .take()
        .map(|e| std::thread::spawn(move || read_capped(e, cap)));
    let give_up = ctx
        .deadline()
        .checked_sub(MARGIN)
        .unwrap_or_else(Instant::now);
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if Instant::now() >= give_up => break None,
            Ok(None) => std::thread::sleep(Duration::from_millis(5)),
            Err(_) => break None,
        }
    };
    let Some(status) = status else {
        // SAFETY: kill(2) on the process group we created; no memory is involved.
        unsafe {
            libc::kill(-(pid as i32), libc::SIGKILL);
        }
        let _ = child.wait();
        ctx.unregister_child(pid);
        return Err(ctx.timed_out());
    };
    // Whatever the program left running in its group goes with it.
    // SAFETY: as above.
    unsafe {
        libc::kill(-(pid as i32), libc::SIGKILL);
    }
    ctx.unregister_child(pid);
    let join = |h: Option<std::thread::JoinHandle<(Vec<u8>, bool)>>| {
        h.and_then(|h| h.join().ok()).unwrap_or_default()
    };
    let (stdout, t1) = join(out);
    let (stderr, t2) = join(err);
    Ok(Output {
        code: status.code(),
        stdout,
        stderr,
        truncated: t1 || t2,
    })
}

/// Splits a `--command` value into program and arguments on whitespace (`sudo -u postgres
/// pgbackrest --config=/etc/x.conf`); no shell is involved.
pub fn split_command(text: &str) -> Result<Command, CheckError> {
    let mut words = text.split_whitespace();
    let program = words
        .next()
        .ok_or_else(|| CheckError::unknown("empty --command"))?;
    let mut cmd = Command::new(program);
    cmd.args(words);
    Ok(cmd)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::State;

    #[test]
    fn captures_output_and_code() {
        let ctx = Context::new(Duration::from_secs(5), 0);
        let out = run(
            &ctx,
            Command::new("sh").args(["-c", "echo out; echo err >&2; exit 3"]),
            "sh",
            1024,
        )
        .unwrap();
        assert_eq!(
            (out.code, out.stdout.as_slice(), out.complaint().as_str()),
            (Some(3), &b"out\n"[..], "err")
        );
    }

    #[test]
    fn caps_output_without_blocking_the_child() {
        let ctx = Context::new(Duration::from_secs(10), 0);
        let out = run(
            &ctx,
            Command::new("sh").args(["-c", "head -c 1000000 /dev/zero; echo done >&2"]),
            "sh",
            1000,
        )
        .unwrap();
        assert_eq!(
            (out.stdout.len(), out.truncated, out.code),
            (1000, true, Some(0))
        );
    }

    #[test]
    fn kills_the_group_at_the_deadline() {
        let dir = tempfile::tempdir().unwrap();
        let pidfile = dir.path().join("grandchild");
        let ctx = Context::new(Duration::from_millis(700), 0).with_timeout_state(State::Unknown);
        let started = Instant::now();
        let script = format!("sleep 30 & echo $! > {}; wait", pidfile.display());
        let e = run(
            &ctx,
            Command::new("sh").args(["-c", &script]),
            "sleeper",
            100,
        )
        .unwrap_err();
        assert!(started.elapsed() < Duration::from_millis(1000));
        assert_eq!(
            (e.state, e.message.as_str()),
            (State::Unknown, "timed out after 0.7 seconds")
        );
        let grandchild: i32 = std::fs::read_to_string(&pidfile)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        std::thread::sleep(Duration::from_millis(100));
        // SAFETY: signal 0 only checks for existence.
        let alive = unsafe { libc::kill(grandchild, 0) } == 0
            && !std::fs::read_to_string(format!("/proc/{grandchild}/stat"))
                .unwrap_or_default()
                .contains(") Z ");
        assert!(!alive, "the helper's own child must be killed too");
    }

    #[test]
    fn missing_program_is_unknown() {
        let ctx = Context::new(Duration::from_secs(5), 0);
        let e = run(&ctx, &mut Command::new("/nonexistent/wal-g"), "wal-g", 10).unwrap_err();
        assert!(
            e.message
                .starts_with("cannot run wal-g (/nonexistent/wal-g): No such file"),
            "{}",
            e.message
        );
        assert!(split_command("  ").is_err());
        let c = split_command("sudo -u postgres pgbackrest").unwrap();
        assert_eq!(c.get_args().count(), 3);
    }
}
