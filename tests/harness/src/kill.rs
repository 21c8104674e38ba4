//! Killing a plugin from outside, as a monitoring daemon does, and finding what it left behind.
//!
//! [`StuckHelper`] writes a program that hangs and has a child of its own (what a wedged
//! `supervisorctl` or `apt-get` looks like); every process of it carries a number in its command
//! line, so [`StuckHelper::alive`] finds them in `/proc` wherever they were re-parented.
//! [`Kill`] is one way a plugin is stopped: SIGTERM, SIGINT, SIGHUP to it (NRPE, a terminal, a
//! service manager), SIGKILL to it, or SIGKILL to its whole process group (Nagios 4 at
//! `service_check_timeout`).

use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// One way to stop a running plugin.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kill {
    /// SIGTERM to the plugin.
    Term,
    /// SIGINT to the plugin (Ctrl-C).
    Int,
    /// SIGHUP to the plugin (its terminal went away).
    Hup,
    /// SIGKILL to the plugin alone.
    Kill,
    /// SIGKILL to the plugin's process group (Nagios 4's timeout).
    KillGroup,
}

impl Kill {
    pub const ALL: [Kill; 5] = [
        Kill::Term,
        Kill::Int,
        Kill::Hup,
        Kill::Kill,
        Kill::KillGroup,
    ];

    /// The signal's name, as the plugin says it (for the catchable ones).
    pub fn signal_name(self) -> Option<&'static str> {
        match self {
            Kill::Term => Some("SIGTERM"),
            Kill::Int => Some("SIGINT"),
            Kill::Hup => Some("SIGHUP"),
            Kill::Kill | Kill::KillGroup => None,
        }
    }

    /// Sends it to `plugin` (started with [`spawn_plugin`], so it leads its own group).
    pub fn send(self, plugin: &Child) {
        let pid = plugin.id() as libc::pid_t;
        let (target, sig) = match self {
            Kill::Term => (pid, libc::SIGTERM),
            Kill::Int => (pid, libc::SIGINT),
            Kill::Hup => (pid, libc::SIGHUP),
            Kill::Kill => (pid, libc::SIGKILL),
            Kill::KillGroup => (-pid, libc::SIGKILL),
        };
        // SAFETY: kill(2) on our own child (or its group); no memory involved.
        assert_eq!(unsafe { libc::kill(target, sig) }, 0, "kill {target} {sig}");
    }
}

/// Starts a plugin in its own process group (as Nagios 4 starts a check), stdout piped.
pub fn spawn_plugin(cmd: &mut Command) -> Child {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .unwrap_or_else(|e| panic!("starting {cmd:?}: {e}"))
}

/// A program that never ends and has a child of its own.
pub struct StuckHelper {
    /// The directory the program lives in (put it first in PATH to shadow a system command).
    pub dir: PathBuf,
    /// The number every one of its processes carries in its command line.
    pub tag: String,
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

impl StuckHelper {
    /// Writes `dir/custos-stuck-<tag>/<name>`: `sh` that starts `sleep <tag>.1` in the background
    /// and waits in `sleep <tag>.2` (three processes).
    pub fn new(parent: &Path, name: &str) -> StuckHelper {
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let tag = format!("{}{:04}", 90000 + std::process::id() % 9000, n);
        let dir = parent.join(format!("custos-stuck-{tag}"));
        std::fs::create_dir_all(&dir).unwrap();
        let h = StuckHelper { dir, tag };
        h.add(name);
        h
    }

    /// Another name for the same program in the same directory.
    pub fn add(&self, name: &str) -> PathBuf {
        use std::os::unix::fs::PermissionsExt;
        let path = self.dir.join(name);
        std::fs::write(
            &path,
            format!("#!/bin/sh\nsleep {t}.1 &\nsleep {t}.2\n", t = self.tag),
        )
        .unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        path
    }

    /// The program's path under `name`.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// Its live processes (not zombies): pid and command line. (The plugin that runs it may
    /// carry the tag in its own arguments, as a path: it is not counted.)
    pub fn alive(&self) -> Vec<(u32, String)> {
        live_processes_matching(&self.tag)
            .into_iter()
            .filter(|(_, cmd)| cmd.starts_with("/bin/sh ") || cmd.starts_with("sleep "))
            .collect()
    }

    /// Waits (up to `bound`) until all three of its processes run, while `plugin` (the check
    /// that runs it) is still running: a check that ends first fails the test with its output.
    pub fn wait_running(&self, what: &str, plugin: &mut Child, bound: Duration) {
        crate::util::wait_until("the stuck helper and its child", bound, || {
            if let Ok(Some(status)) = plugin.try_wait() {
                let mut out = String::new();
                for pipe in [
                    plugin.stdout.take().map(|p| Box::new(p) as Box<dyn Read>),
                    plugin.stderr.take().map(|p| Box::new(p) as Box<dyn Read>),
                ]
                .into_iter()
                .flatten()
                {
                    let _ = pipe.take(4096).read_to_string(&mut out);
                }
                panic!("{what}: the check ended ({status}) before its helper ran: {out:?}");
            }
            (self.alive().len() >= 3).then_some(())
        })
        .unwrap_or_else(|e| panic!("{what}: {e}: {:?}", self.alive()));
    }

    /// Waits until none of its processes is left; how long that took, or what is left after
    /// `bound`.
    pub fn wait_gone(&self, bound: Duration) -> Result<Duration, Vec<(u32, String)>> {
        let start = Instant::now();
        loop {
            let left = self.alive();
            if left.is_empty() {
                return Ok(start.elapsed());
            }
            if start.elapsed() > bound {
                return Err(left);
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

impl Drop for StuckHelper {
    fn drop(&mut self) {
        // Whatever a failed test left: never let the sleepers outlive it.
        for (pid, _) in self.alive() {
            // SAFETY: kill(2) on processes carrying our tag.
            unsafe { libc::kill(pid as i32, libc::SIGKILL) };
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Live (not zombie) processes whose command line contains `needle`, but not this process.
pub fn live_processes_matching(needle: &str) -> Vec<(u32, String)> {
    let me = std::process::id();
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        if pid == me {
            continue;
        }
        let Ok(cmd) = std::fs::read(e.path().join("cmdline")) else {
            continue;
        };
        let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
        if !cmd.contains(needle) {
            continue;
        }
        let stat = std::fs::read_to_string(e.path().join("stat")).unwrap_or_default();
        if stat.contains(") Z ") || stat.is_empty() {
            continue;
        }
        out.push((pid, cmd.trim_end().to_string()));
    }
    out
}

/// What a killed plugin printed and how it ended.
#[derive(Debug)]
pub struct Ended {
    /// The exit code (`None` when a signal ended it).
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

/// Waits for a killed plugin (reading its output).
pub fn ended(plugin: Child) -> Ended {
    let out = plugin.wait_with_output().expect("waiting for the plugin");
    Ended {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}
