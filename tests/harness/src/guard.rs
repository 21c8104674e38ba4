//! Cleanup that happens however the test process ends.
//!
//! A small `sh` watcher runs in its own process group with a pipe on its stdin; the harness
//! keeps the write end. When the harness process exits, for any reason (tests done, a panic,
//! `abort`, Ctrl-C, SIGKILL), the kernel closes the pipe, `read` returns, and the watcher runs
//! the cleanup script that the harness filled in as it started servers: stop them, remove the
//! temporary directory. Commands in the script are idempotent, so running it twice is harmless.

use anyhow::{Context as _, Result};
use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};

pub struct Guard {
    script: PathBuf,
    watcher: Child,
    pipe: Option<ChildStdin>,
    /// Servers start in parallel: the script's read-modify-write is one at a time (without it
    /// two servers adding their lines at once could lose one's, and leave it running).
    writing: std::sync::Mutex<()>,
    /// The process groups the script stops (from its `kill -KILL -PGID` lines), to check that
    /// nothing of them is left.
    groups: std::sync::Mutex<Vec<u32>>,
}

impl Guard {
    /// Starts the watcher for a base directory (removed last).
    pub fn new(base: &Path) -> Result<Guard> {
        let script = base.join("cleanup.sh");
        std::fs::write(&script, "# written by custos-harness\n")?;
        let watcher = Command::new("sh")
            .arg("-c")
            .arg(concat!(
                // alive PID: running and not a zombie (kill -0 succeeds on zombies).
                r#"alive() { [ -r /proc/$1/stat ] && ! grep -q ') Z ' /proc/$1/stat 2>/dev/null; }; "#,
                // sweep DIR: SIGKILL to every process that still names DIR in its command line
                // or environment (a server's child in a session of its own, an epmd a broker
                // daemonised), until none is left or 5 s have passed.
                r#"sweep() { i=0; while :; do found=; for p in /proc/[0-9]*; do pid=${p#/proc/}; [ "$pid" = "$$" ] && continue; if grep -qsF -- "$1" "$p/cmdline" "$p/environ" && alive "$pid"; then kill -KILL "$pid" 2>/dev/null; found=1; fi; done; [ -z "$found" ] && return; i=$((i+1)); [ $i -ge 50 ] && return; sleep 0.1; done; }; "#,
                r#"read _ignored; . "$0" >/dev/null 2>&1; sweep "$1"; rm -rf "$1""#
            ))
            .arg(&script)
            .arg(base)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .context("starting the cleanup watcher (sh)")?;
        let mut guard = Guard {
            script,
            watcher,
            pipe: None,
            writing: std::sync::Mutex::new(()),
            groups: std::sync::Mutex::new(Vec::new()),
        };
        guard.pipe = guard.watcher.stdin.take();
        Ok(guard)
    }

    /// Adds shell lines to run at cleanup (before the directory is removed). Later additions
    /// run first, so servers stop in the reverse order of their start.
    pub fn on_cleanup(&self, lines: &str) -> Result<()> {
        let _one_at_a_time = self.writing.lock().unwrap_or_else(|e| e.into_inner());
        let mut groups = self.groups.lock().unwrap_or_else(|e| e.into_inner());
        groups.extend(lines.split("kill -KILL -").skip(1).filter_map(|rest| {
            rest.split(|c: char| !c.is_ascii_digit())
                .next()?
                .parse::<u32>()
                .ok()
        }));
        let old = std::fs::read_to_string(&self.script)?;
        let mut f = OpenOptions::new()
            .write(true)
            .truncate(true)
            .open(&self.script)?;
        write!(f, "{lines}\n{old}")?;
        Ok(())
    }

    /// Cleans up now and waits for it to finish; returns the process groups it stopped.
    pub fn cleanup(mut self) -> Result<Vec<u32>> {
        drop(self.pipe.take());
        self.watcher.wait().context("waiting for cleanup")?;
        let groups = self
            .groups
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        Ok(groups)
    }
}

/// Live processes (not zombies, not this one) that name `base` in their command line or
/// environment, or belong to one of `groups` (the servers' process groups: an nginx worker or
/// an epmd names neither): what a cleanup left behind.
pub fn leftovers(base: &Path, groups: &[u32]) -> Vec<(u32, String)> {
    let needle = base.as_os_str().as_encoded_bytes();
    let me = std::process::id();
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        if pid == me {
            continue;
        }
        let cmdline = std::fs::read(e.path().join("cmdline")).unwrap_or_default();
        let environ = std::fs::read(e.path().join("environ")).unwrap_or_default();
        let names = |b: &[u8]| b.windows(needle.len()).any(|w| w == needle);
        let stat = std::fs::read_to_string(e.path().join("stat")).unwrap_or_default();
        // The fifth field of stat, after the command in parentheses, is the process group.
        let pgid = stat
            .rsplit_once(") ")
            .and_then(|(_, rest)| rest.split(' ').nth(2)?.parse::<u32>().ok());
        let in_group = pgid.is_some_and(|g| groups.contains(&g));
        if !(names(&cmdline) || names(&environ) || in_group) {
            continue;
        }
        if stat.is_empty() || stat.contains(") Z ") {
            continue;
        }
        out.push((pid, String::from_utf8_lossy(&cmdline).replace('\0', " ")));
    }
    out
}

/// A shell line that stops the process group led by `pgid`: `signal` (TERM, or KILL for
/// servers that ignore TERM), up to 5 s for the leader to go, then KILL.
pub fn stop_group_line(pgid: u32, signal: &str) -> String {
    format!(
        "kill -{signal} -{pgid} 2>/dev/null; for i in $(seq 50); do alive {pgid} || break; sleep 0.1; done; kill -KILL -{pgid} 2>/dev/null"
    )
}

/// Waits for a child in the background so that it never lingers as a zombie (which would look
/// alive to the cleanup script) while the harness process runs.
pub fn reap(mut child: std::process::Child) {
    std::thread::spawn(move || {
        let _ = child.wait();
    });
}
