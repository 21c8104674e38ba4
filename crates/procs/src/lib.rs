//! custos-procs: the processes a check looks at, as `pgrep -x -f` finds them (the whole command
//! line matches a regular expression) and optionally of one user, with sysinfo.
//!
//! Thousands of processes stay cheap: a first pass reads only each process' `stat` and
//! `cmdline` (sysinfo always reads `stat`; tasks, environment, paths are never read), and only
//! the processes that match are read again for memory and owner. PSS comes from
//! `/proc/<pid>/smaps_rollup` where it is readable (the process' owner, or root).
//! The check's own process and its parent (a shell, sudo) are never matched.

use plugin_core::CheckError;
use regex_lite::Regex;
use sysinfo::{Pid, ProcessRefreshKind, ProcessesToUpdate, System, UpdateKind};

/// A matched process.
#[derive(Clone, Debug, PartialEq)]
pub struct Process {
    pub pid: u32,
    /// The command line, arguments joined by spaces (as `ps -o args` shows it).
    pub cmdline: String,
    pub uid: Option<u32>,
    /// Start time, seconds since the Unix epoch.
    pub start_time: u64,
    /// Resident set size, bytes.
    pub rss: u64,
    /// Virtual size, bytes.
    pub vsz: u64,
}

/// A `--cmdline` value: the regular expression must match the whole command line.
pub fn cmdline_regex(text: &str) -> Result<Regex, String> {
    plugin_core::args::regex(text)?;
    plugin_core::args::regex(&format!("^(?:{text})$"))
}

/// The uid of a user name (or a number).
pub fn uid_of(name: &str) -> Result<u32, CheckError> {
    if let Ok(uid) = name.parse::<u32>() {
        return Ok(uid);
    }
    let c = std::ffi::CString::new(name)
        .map_err(|_| CheckError::unknown(format!("invalid user name '{name}'")))?;
    let mut pw: libc::passwd = unsafe { std::mem::zeroed() };
    let mut buf = vec![0 as libc::c_char; 16384];
    let mut out: *mut libc::passwd = std::ptr::null_mut();
    // SAFETY: getpwnam_r writes into `pw` and `buf`, which outlive the call; `out` is set to
    // `&mut pw` on success or null.
    let rc =
        unsafe { libc::getpwnam_r(c.as_ptr(), &mut pw, buf.as_mut_ptr(), buf.len(), &mut out) };
    if rc != 0 || out.is_null() {
        return Err(CheckError::unknown(format!(
            "no user '{name}' on this host"
        )));
    }
    Ok(pw.pw_uid)
}

/// The processes whose whole command line matches `cmdline` (and of user `uid`), with their
/// memory when `memory` is true.
pub fn matching(
    cmdline: &Regex,
    uid: Option<u32>,
    memory: bool,
) -> Result<Vec<Process>, CheckError> {
    let mut sys = System::new()
        .map_err(|e| CheckError::unknown(format!("cannot read the process table: {e}")))?;
    let me = std::process::id();
    let parent = std::os::unix::process::parent_id();
    sys.refresh_processes_specifics(
        ProcessesToUpdate::All,
        true,
        ProcessRefreshKind::nothing()
            .without_tasks()
            .with_cmd(UpdateKind::Always),
    );
    let mut pids: Vec<Pid> = Vec::new();
    let mut found: Vec<Process> = Vec::new();
    for (pid, p) in sys.processes() {
        let n = pid.as_u32();
        if n == me || n == parent || p.cmd().is_empty() {
            continue;
        }
        let line = p
            .cmd()
            .iter()
            .map(|a| a.to_string_lossy())
            .collect::<Vec<_>>()
            .join(" ");
        if !cmdline.is_match(&line) {
            continue;
        }
        pids.push(*pid);
        found.push(Process {
            pid: n,
            cmdline: line,
            uid: None,
            start_time: p.start_time(),
            rss: 0,
            vsz: 0,
        });
    }
    if found.is_empty() {
        return Ok(found);
    }
    // Second pass: only the matched processes, for owner and memory.
    let mut kind = ProcessRefreshKind::nothing()
        .without_tasks()
        .with_user(UpdateKind::Always);
    if memory {
        kind = kind.with_memory();
    }
    sys.refresh_processes_specifics(ProcessesToUpdate::Some(&pids), true, kind);
    let mut kept = Vec::with_capacity(found.len());
    for mut f in found {
        // A process that ended between the passes is gone from the table.
        let Some(p) = sys.process(Pid::from_u32(f.pid)) else {
            continue;
        };
        f.uid = p.user_id().map(|u| **u);
        if uid.is_some_and(|want| f.uid != Some(want)) {
            continue;
        }
        f.rss = p.memory();
        f.vsz = p.virtual_memory();
        kept.push(f);
    }
    kept.sort_by_key(|p| p.pid);
    Ok(kept)
}

/// Proportional set size from `/proc/<pid>/smaps_rollup`, bytes.
pub fn pss(pid: u32) -> Result<u64, String> {
    let path = format!("/proc/{pid}/smaps_rollup");
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{path}: {e}"))?;
    text.lines()
        .find_map(|l| l.strip_prefix("Pss:"))
        .and_then(|v| v.trim().strip_suffix("kB"))
        .and_then(|kb| kb.trim().parse::<u64>().ok())
        .map(|kb| kb * 1024)
        .ok_or_else(|| format!("{path}: no Pss line"))
}

/// The user name of a uid, for messages.
pub fn user_name(uid: u32) -> Option<String> {
    let mut pw: libc::passwd = unsafe { std::mem::zeroed() };
    let mut buf = vec![0 as libc::c_char; 16384];
    let mut out: *mut libc::passwd = std::ptr::null_mut();
    // SAFETY: as in `uid_of`.
    let rc = unsafe { libc::getpwuid_r(uid, &mut pw, buf.as_mut_ptr(), buf.len(), &mut out) };
    if rc != 0 || out.is_null() {
        return None;
    }
    // SAFETY: pw_name points into `buf`, a NUL-terminated string set by getpwuid_r.
    let name = unsafe { std::ffi::CStr::from_ptr(pw.pw_name) };
    Some(name.to_string_lossy().into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    #[test]
    fn finds_a_child_by_its_whole_command_line() {
        let mut child = Command::new("sleep").arg("37.123").spawn().unwrap();
        let re = cmdline_regex(r"sleep 37\.123").unwrap();
        let found = matching(&re, None, true).unwrap();
        assert_eq!(found.len(), 1, "{found:?}");
        let p = &found[0];
        assert_eq!(p.pid, child.id());
        assert_eq!(p.cmdline, "sleep 37.123");
        assert!(p.rss > 0 && p.vsz >= p.rss, "{p:?}");
        assert_eq!(p.uid, Some(unsafe { libc::getuid() }));
        let pss = pss(p.pid).unwrap();
        assert!(pss > 0 && pss <= p.rss, "{pss} vs {}", p.rss);
        // Anchored: a part of the line is not enough; another user does not match.
        assert!(matching(&cmdline_regex("sleep").unwrap(), None, false)
            .unwrap()
            .iter()
            .all(|p| p.pid != child.id()));
        let other = unsafe { libc::getuid() } + 1;
        assert!(matching(&re, Some(other), false).unwrap().is_empty());
        child.kill().unwrap();
        child.wait().unwrap();
    }

    #[test]
    fn users() {
        assert_eq!(uid_of("root").unwrap(), 0);
        assert_eq!(uid_of("0").unwrap(), 0);
        assert_eq!(user_name(0).as_deref(), Some("root"));
        assert!(uid_of("no-such-user-custos").is_err());
        assert!(cmdline_regex("a(").is_err());
    }
}
