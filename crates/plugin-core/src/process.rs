//! Running a helper program (wal-g, pgbackrest, apt-get, supervisorctl) within the check's
//! deadline: in its own process group, registered with the watchdog, output capped, and killed
//! with its whole group when the time is up, so nothing is left behind.
//!
//! The group also dies when the check itself is killed from outside (SIGKILL to the check, or to
//! its process group, as Nagios 4 does at `service_check_timeout`): the process the check starts
//! is a small guard, the leader of the helper's group, that forks the helper and waits. The
//! guard has `PR_SET_PDEATHSIG`, so the kernel tells it when the check is gone, and it then kills
//! its whole group: the helper and every process the helper started. (`PR_SET_PDEATHSIG` on the
//! helper alone would leave the helper's own children running.) The guard mirrors the helper's
//! exit status, so callers see the helper's code. It runs between `fork` and `exec` only
//! async-signal-safe system calls.

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
    /// What it wrote on stdout (at most the cap).
    pub stdout: Vec<u8>,
    /// What it wrote on stderr (at most the cap).
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

/// The guard, in the child between `fork` and `exec` (see the module doc). Returns in the
/// helper, which then execs; the guard itself never returns.
///
/// # Safety
/// Only for `pre_exec`: it forks, and uses only async-signal-safe calls.
unsafe fn become_guard(check: libc::pid_t) -> std::io::Result<()> {
    // SAFETY: see the function doc: only async-signal-safe system calls, in the child.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGCHLD);
        libc::sigaddset(&mut set, libc::SIGTERM);
        libc::sigprocmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
        if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM) != 0 {
            return Err(std::io::Error::last_os_error());
        }
        if libc::getppid() != check {
            // The check died before the death signal was armed.
            libc::_exit(126);
        }
        let guard = libc::getpid();
        let helper = libc::fork();
        if helper < 0 {
            return Err(std::io::Error::last_os_error());
        }
        if helper == 0 {
            // The helper: dies with the guard should the guard ever die first, and execs with the
            // empty signal mask std gave the child.
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            if libc::getppid() != guard {
                libc::_exit(126);
            }
            libc::sigprocmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut());
            return Ok(());
        }
        // The guard keeps no descriptor: the check's pipes end when the helper's output ends, and
        // std's exec-error pipe is left to the helper.
        if libc::syscall(libc::SYS_close_range, 0u32, u32::MAX, 0u32) != 0 {
            for fd in 0..1024 {
                libc::close(fd);
            }
        }
        loop {
            let sig = libc::sigwaitinfo(&set, std::ptr::null_mut());
            if sig == libc::SIGTERM {
                // The check is gone (or someone stops the guard): the whole group goes.
                libc::kill(0, libc::SIGKILL);
            }
            let mut status = 0;
            if libc::waitpid(helper, &mut status, libc::WNOHANG) == helper {
                if libc::WIFSIGNALED(status) {
                    let sig = libc::WTERMSIG(status);
                    libc::signal(sig, libc::SIG_DFL);
                    let mut one: libc::sigset_t = std::mem::zeroed();
                    libc::sigemptyset(&mut one);
                    libc::sigaddset(&mut one, sig);
                    libc::sigprocmask(libc::SIG_UNBLOCK, &one, std::ptr::null_mut());
                    libc::kill(libc::getpid(), sig);
                    libc::_exit(128 + sig);
                }
                libc::_exit(libc::WEXITSTATUS(status));
            }
        }
    }
}

/// Runs `cmd` (stdin closed) until it ends or the check's deadline is near, keeping at most
/// `cap` bytes of each output stream. `what` names it in messages (`wal-g backup-list`).
/// Not found / not executable / timed out are UNKNOWN: the check could not measure.
///
/// Call it from the thread that waits for the result (the check's own): the kernel's death
/// signal follows the thread that started the helper.
// About 65 lines on purpose: spawning, the readers of both pipes and the wait with its kill
// at the deadline share the child and must be read in one place.
pub fn run(ctx: &Context, cmd: &mut Command, what: &str, cap: usize) -> Result<Output, CheckError> {
    let check = std::process::id() as libc::pid_t;
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    // SAFETY: become_guard uses only async-signal-safe calls between fork and exec.
    unsafe {
        cmd.pre_exec(move || become_guard(check));
    }
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
