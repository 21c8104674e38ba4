//! Running the check binaries from the black-box tests (random argument vectors, hostile
//! peers): find or build them, run one with a hard stop far past its deadline, and find the
//! processes the checks left behind (the test process is a child subreaper, so an orphaned
//! grandchild becomes its child).

use std::ffi::OsString;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Every check crate's name, sorted.
pub fn checks() -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(repo().join("crates"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("check_"))
        .collect();
    v.sort();
    v
}

/// The debug binary, built if `cargo test` has not built it yet.
pub fn binary(check: &str) -> PathBuf {
    let path = repo().join("target/debug").join(check);
    if !path.exists() {
        let ok = Command::new(env!("CARGO"))
            .args(["build", "-q", "-p", check])
            .current_dir(repo())
            .status()
            .unwrap()
            .success();
        assert!(ok, "cannot build {check}");
    }
    path
}

/// One run of a check.
pub struct Run {
    /// None when a signal ended it.
    pub code: Option<i32>,
    pub stdout: String,
    /// Raw, to check that output is valid UTF-8.
    pub stdout_bytes: Vec<u8>,
    pub stderr: String,
    pub secs: f64,
    /// Peak resident set size, KiB (from wait4's rusage).
    pub max_rss_kib: i64,
}

impl Run {
    pub fn first_line(&self) -> &str {
        self.stdout.lines().next().unwrap_or("")
    }
}

/// Runs `bin` with exactly `env` (the rest cleared) in `cwd`, stdin closed; killed after
/// `limit` so that a hang fails the test instead of blocking it.
pub fn run(
    bin: &Path,
    args: &[OsString],
    env: &[(String, OsString)],
    cwd: &Path,
    limit: Duration,
) -> Run {
    let started = Instant::now();
    // Reaped below with wait4 (which std does not know about), hence the allow.
    #[allow(clippy::zombie_processes)]
    let mut child = Command::new(bin)
        .args(args)
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k, v)))
        .current_dir(cwd)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = err.read_to_end(&mut s);
        s
    });
    let mut stdout = Vec::new();
    let _ = out.read_to_end(&mut stdout);
    // wait4 rather than Child::wait: it also gives the child's peak RSS.
    let pid = child.id() as libc::pid_t;
    let (status, rusage) = loop {
        let mut status = 0;
        // SAFETY: a zeroed rusage is a valid out-parameter.
        let mut rusage: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: waits for our own child; both out-pointers are valid.
        let rc = unsafe { libc::wait4(pid, &mut status, libc::WNOHANG, &mut rusage) };
        if rc == pid {
            break (status, rusage);
        }
        if started.elapsed() > limit {
            let _ = child.kill();
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let stderr = reader.join().unwrap();
    Run {
        code: libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status)),
        max_rss_kib: rusage.ru_maxrss,
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stdout_bytes: stdout,
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
        secs: started.elapsed().as_secs_f64(),
    }
}

/// Makes this process the reaper of its orphaned descendants.
pub fn become_subreaper() {
    // SAFETY: prctl with PR_SET_CHILD_SUBREAPER takes an integer flag.
    assert_eq!(
        unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) },
        0
    );
}

/// Live processes whose parent is this (subreaper) test process, after reaping the dead.
/// Only meaningful once every child the test itself started has ended.
pub fn leftovers() -> Vec<String> {
    std::thread::sleep(Duration::from_millis(200));
    // SAFETY: waitpid on any child without blocking; the status is discarded.
    while unsafe { libc::waitpid(-1, std::ptr::null_mut(), libc::WNOHANG) } > 0 {}
    let me = std::process::id().to_string();
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(stat) = std::fs::read_to_string(e.path().join("stat")) else {
            continue;
        };
        let Some(close) = stat.rfind(')') else {
            continue;
        };
        let f: Vec<&str> = stat[close + 1..].split_whitespace().collect();
        if f.get(1) == Some(&me.as_str()) && f.first() != Some(&"Z") {
            let cmd = std::fs::read(e.path().join("cmdline")).unwrap_or_default();
            out.push(String::from_utf8_lossy(&cmd).replace('\0', " "));
        }
    }
    out
}

/// Temporary files (plugin-core's `.<name>.<pid>.tmp`, written beside a state file and renamed
/// over it) left anywhere below `dir`.
pub fn temp_leftovers(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut dirs = vec![dir.to_path_buf()];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let path = e.path();
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                dirs.push(path);
            } else if path.to_string_lossy().ends_with(".tmp") {
                found.push(path);
            }
        }
    }
    found
}
