//! custos-procs: the processes a check looks at, as `pgrep -x -f` finds them (the whole command
//! line matches a regular expression) and optionally of one user, read from `/proc` directly.
//!
//! Thousands of processes stay cheap: a first pass reads only each process' `cmdline`; only
//! the processes that match are looked at again, for their owner (one `fstatat` of the
//! process' directory) and their `stat` line (start time, VSZ, RSS). PSS comes from
//! `/proc/<pid>/smaps_rollup` where it is readable (the process' owner, or root).
//! The check's own process and its parent (a shell, sudo) are never matched.
//!
//! Why not sysinfo (the crate this started with): with every refresh kind turned off it still
//! reads `stat` and `status`-like files of every process and stats their directories, about
//! eight `open`s per process: 455 ms of wall time for 5,000 processes here, where `check_procs`
//! (which parses `ps`) took 276 ms. Reading `/proc` as below costs three system calls per
//! process that does not match.

#![deny(missing_docs)]

use plugin_core::CheckError;
use regex_lite::Regex;

/// A matched process.
#[derive(Clone, Debug, PartialEq)]
pub struct Process {
    /// The process id.
    pub pid: u32,
    /// The command line, arguments joined by spaces (as `ps -o args` shows it).
    pub cmdline: String,
    /// The owner's uid.
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
/// owner, start time and memory (one file holds those, so they always come together).
pub fn matching(cmdline: &Regex, uid: Option<u32>) -> Result<Vec<Process>, CheckError> {
    matching_in_threads(cmdline, uid, PIDS_PER_THREAD)
}

/// What `--cmdline RE` and `--user NAME` select, as the checks take them: the user (a name
/// or a uid) resolved, then [`matching`].
pub fn selected(cmdline: &Regex, user: Option<&str>) -> Result<Vec<Process>, CheckError> {
    let uid = user.map(uid_of).transpose()?;
    matching(cmdline, uid)
}

// About 85 lines on purpose: both passes (command lines, then owner and stat of the matches)
// share the open /proc handle and the page and tick sizes, in each thread.
fn matching_in_threads(
    cmdline: &Regex,
    uid: Option<u32>,
    pids_per_thread: usize,
) -> Result<Vec<Process>, CheckError> {
    let proc = ProcDir::open()
        .map_err(|e| CheckError::unknown(format!("cannot read the process table: /proc: {e}")))?;
    let me = std::process::id();
    let parent = std::os::unix::process::parent_id();
    let boot = boot_time()
        .map_err(|e| CheckError::unknown(format!("cannot read the process table: {e}")))?;
    // SAFETY: sysconf has no preconditions.
    let (tick, page) = unsafe {
        (
            libc::sysconf(libc::_SC_CLK_TCK).max(1) as u64,
            libc::sysconf(libc::_SC_PAGESIZE).max(1) as u64,
        )
    };
    let entries = std::fs::read_dir("/proc")
        .map_err(|e| CheckError::unknown(format!("cannot read the process table: /proc: {e}")))?;
    let pids: Vec<u32> = entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&pid| pid != me && pid != parent)
        .collect();
    let look = |pids: &[u32]| {
        let mut buf = Vec::with_capacity(4096);
        let mut found = Vec::new();
        for &pid in pids {
            // A process that ends while we look is simply not there.
            if proc.read(pid, "cmdline", &mut buf).is_err() {
                continue;
            }
            let Some(line) = command_line(&buf) else {
                continue; // kernel threads and zombies have no command line
            };
            if !cmdline.is_match(&line) {
                continue;
            }
            let Ok(owner) = proc.owner(pid) else { continue };
            if uid.is_some_and(|want| owner != want) {
                continue;
            }
            if proc.read(pid, "stat", &mut buf).is_err() {
                continue;
            }
            let Some(stat) = Stat::parse(&buf) else {
                continue;
            };
            found.push(Process {
                pid,
                cmdline: line,
                uid: Some(owner),
                start_time: boot + stat.start_ticks / tick,
                rss: stat.rss_pages * page,
                vsz: stat.vsize,
            });
        }
        found
    };
    // The kernel's work (opening and reading procfs files) is most of the cost: with
    // thousands of processes, spread it over the CPUs (up to 4 threads).
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, 4)
        .min(pids.len() / pids_per_thread.max(1) + 1);
    let mut found: Vec<Process> = if threads > 1 {
        let chunk = pids.len().div_ceil(threads);
        std::thread::scope(|s| {
            let handles: Vec<_> = pids
                .chunks(chunk)
                .map(|part| s.spawn(move || look(part)))
                .collect();
            handles
                .into_iter()
                .flat_map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
                .collect()
        })
    } else {
        look(&pids)
    };
    found.sort_by_key(|p| p.pid);
    Ok(found)
}

/// Below this many processes per thread, one thread is faster than starting more.
const PIDS_PER_THREAD: usize = 1000;

/// `/proc`, held open so that each file is opened relative to it.
struct ProcDir(std::os::fd::OwnedFd);

impl ProcDir {
    fn open() -> std::io::Result<ProcDir> {
        use std::os::fd::FromRawFd;
        // SAFETY: a constant NUL-terminated path; the returned descriptor is owned below.
        let fd = unsafe {
            libc::open(
                c"/proc".as_ptr(),
                libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC,
            )
        };
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: fd was just opened and is not owned elsewhere.
        Ok(ProcDir(unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) }))
    }

    /// `/proc/<pid>/<file>` into `buf` (replacing its contents).
    fn read(&self, pid: u32, file: &str, buf: &mut Vec<u8>) -> std::io::Result<()> {
        use std::io::Read;
        use std::os::fd::{AsRawFd, FromRawFd};
        #[allow(clippy::expect_used)] // a number and a file name of ours: no NUL byte
        let path = std::ffi::CString::new(format!("{pid}/{file}")).expect("no NUL");
        // SAFETY: path is NUL-terminated; the descriptor is owned by the File below.
        let fd = unsafe {
            libc::openat(
                self.0.as_raw_fd(),
                path.as_ptr(),
                libc::O_RDONLY | libc::O_CLOEXEC,
            )
        };
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: fd was just opened and is not owned elsewhere.
        let mut f = unsafe { std::fs::File::from_raw_fd(fd) };
        buf.clear();
        // procfs fills a read as far as the data goes: a short read is the end (this saves
        // the final empty read on every file).
        loop {
            let len = buf.len();
            buf.resize(len + 4096, 0);
            let n = loop {
                match f.read(&mut buf[len..]) {
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    r => break r?,
                }
            };
            buf.truncate(len + n);
            if n < 4096 {
                return Ok(());
            }
        }
    }

    /// The owner of a process: the owner of its `/proc` directory.
    fn owner(&self, pid: u32) -> std::io::Result<u32> {
        use std::os::fd::AsRawFd;
        #[allow(clippy::expect_used)] // a number: no NUL byte
        let path = std::ffi::CString::new(pid.to_string()).expect("no NUL");
        let mut st: libc::stat = unsafe { std::mem::zeroed() };
        // SAFETY: path is NUL-terminated and st is a valid stat buffer.
        let rc = unsafe { libc::fstatat(self.0.as_raw_fd(), path.as_ptr(), &mut st, 0) };
        if rc != 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(st.st_uid)
    }
}

/// The arguments of a `cmdline` file joined by spaces, as `ps -o args` shows them; `None` when
/// there are none.
fn command_line(raw: &[u8]) -> Option<String> {
    let mut end = raw.len();
    while end > 0 && raw[end - 1] == 0 {
        end -= 1;
    }
    if end == 0 {
        return None;
    }
    let joined: Vec<u8> = raw[..end]
        .iter()
        .map(|&b| if b == 0 { b' ' } else { b })
        .collect();
    Some(match String::from_utf8(joined) {
        Ok(s) => s,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    })
}

/// The fields of `/proc/<pid>/stat` a check uses.
#[derive(Debug, PartialEq)]
struct Stat {
    start_ticks: u64,
    vsize: u64,
    rss_pages: u64,
}

impl Stat {
    /// `pid (comm) state ppid ...`: the command name may hold spaces and parentheses, so the
    /// fields are counted from the last `)`.
    fn parse(raw: &[u8]) -> Option<Stat> {
        let close = raw.iter().rposition(|&b| b == b')')?;
        let rest = std::str::from_utf8(&raw[close + 1..]).ok()?;
        let f: Vec<&str> = rest.split_ascii_whitespace().collect();
        // After the name: state is field 3 of proc(5), so field N is f[N - 3].
        let num = |n: usize| f.get(n - 3)?.parse::<u64>().ok();
        Some(Stat {
            start_ticks: num(22)?,
            vsize: num(23)?,
            rss_pages: num(24)?,
        })
    }
}

/// The most of a /proc text file read (they are a few KiB; /proc/stat grows with the CPUs).
const PROC_FILE_CAP: u64 = 4 << 20;

/// The boot time, seconds since the Unix epoch (`btime` in `/proc/stat`).
fn boot_time() -> Result<u64, String> {
    let text = plugin_core::files::read_text("/proc/stat".as_ref(), PROC_FILE_CAP)
        .map_err(|e| format!("/proc/stat: {e}"))?;
    text.lines()
        .find_map(|l| l.strip_prefix("btime "))
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(|| "/proc/stat: no btime line".to_string())
}

/// Proportional set size from `/proc/<pid>/smaps_rollup`, bytes.
pub fn pss(pid: u32) -> Result<u64, String> {
    let path = format!("/proc/{pid}/smaps_rollup");
    let text = plugin_core::files::read_text(path.as_ref(), PROC_FILE_CAP)
        .map_err(|e| format!("{path}: {e}"))?;
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
    use std::process::{Child, Command};

    /// `spawn`, then wait until the kernel has set up the child's command line (it reads
    /// empty for a moment after `spawn` returns, and the child would not match yet).
    fn start(cmd: &mut Command) -> Child {
        let mut child = cmd.spawn().unwrap();
        let path = format!("/proc/{}/cmdline", child.id());
        for _ in 0..1000 {
            if std::fs::read(&path).is_ok_and(|b| !b.is_empty()) {
                return child;
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        let _ = child.kill();
        let _ = child.wait();
        panic!("{path} stayed empty");
    }

    #[test]
    fn finds_a_child_by_its_whole_command_line() {
        let mut child = start(Command::new("sleep").arg("37.123"));
        let re = cmdline_regex(r"sleep 37\.123").unwrap();
        let found = matching(&re, None).unwrap();
        assert_eq!(found.len(), 1, "{found:?}");
        let p = &found[0];
        assert_eq!(p.pid, child.id());
        assert_eq!(p.cmdline, "sleep 37.123");
        assert!(p.rss > 0 && p.vsz >= p.rss, "{p:?}");
        assert_eq!(p.uid, Some(unsafe { libc::getuid() }));
        let pss = pss(p.pid).unwrap();
        assert!(pss > 0 && pss <= p.rss, "{pss} vs {}", p.rss);
        // Anchored: a part of the line is not enough; another user does not match.
        assert!(matching(&cmdline_regex("sleep").unwrap(), None)
            .unwrap()
            .iter()
            .all(|p| p.pid != child.id()));
        let other = unsafe { libc::getuid() } + 1;
        assert!(matching(&re, Some(other)).unwrap().is_empty());
        child.kill().unwrap();
        child.wait().unwrap();
    }

    #[test]
    fn stat_lines_and_command_lines() {
        let line = b"4242 (a) b (c)) S 1 4242 4242 0 -1 4194560 100 0 0 0 5 3 0 0 20 0 1 0 987654 12345678 321 18446744073709551615 1 1 0 0 0 0 0 4096 0 0 0 0 17 1 0 0 0 0 0\n";
        assert_eq!(
            Stat::parse(line),
            Some(Stat {
                start_ticks: 987654,
                vsize: 12345678,
                rss_pages: 321
            })
        );
        assert_eq!(Stat::parse(b"4242 (x) S 1 2"), None);
        assert_eq!(
            command_line(b"python3\0-m\0zerver --queue_name=a b\0").as_deref(),
            Some("python3 -m zerver --queue_name=a b")
        );
        // setproctitle pads with NULs; an empty cmdline is a kernel thread.
        assert_eq!(
            command_line(b"postgres: walsender\0\0\0").as_deref(),
            Some("postgres: walsender")
        );
        assert_eq!(command_line(b""), None);
        assert_eq!(command_line(b"a\xff\0").as_deref(), Some("a\u{fffd}"));
    }

    #[test]
    fn start_time_is_this_process_start() {
        // This test process: started after boot, not in the future, within the last hour.
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let mut child = start(Command::new("sleep").arg("37.321"));
        let found = matching(&cmdline_regex(r"sleep 37\.321").unwrap(), None).unwrap();
        child.kill().unwrap();
        child.wait().unwrap();
        assert_eq!(found.len(), 1);
        let age = now as i64 - found[0].start_time as i64;
        assert!(
            (-2..3600).contains(&age),
            "start {} now {now}",
            found[0].start_time
        );
    }

    #[test]
    fn threads_find_what_one_thread_finds() {
        let mut children: Vec<_> = (0..24)
            .map(|i| start(Command::new("sleep").arg(format!("38.{i:03}"))))
            .collect();
        let re = cmdline_regex(r"sleep 38\.0\d\d").unwrap();
        let one = matching_in_threads(&re, None, usize::MAX).unwrap();
        // A few processes per thread: four threads over this machine's process table.
        let many = matching_in_threads(&re, None, 3).unwrap();
        for c in &mut children {
            c.kill().unwrap();
            c.wait().unwrap();
        }
        let pids = |v: &[Process]| v.iter().map(|p| p.pid).collect::<Vec<_>>();
        let mut want: Vec<u32> = children.iter().map(|c| c.id()).collect();
        want.sort();
        assert_eq!(pids(&one), want);
        assert_eq!(pids(&many), want);
        assert_eq!(one, many);
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
