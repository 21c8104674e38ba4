//! Small helpers: free ports, waiting, running as the service user, a tiny HTTP client.

use anyhow::{bail, Context as _, Result};
use std::ffi::CString;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::process::Command;
use std::time::{Duration, Instant};

/// Makes a FIFO (a file nobody writes: reading it blocks, for deadline tests).
pub fn mkfifo(path: &std::path::Path) {
    let c = std::ffi::CString::new(path.to_str().expect("a UTF-8 path")).expect("no NUL");
    // SAFETY: plain mkfifo(3) on a NUL-terminated path.
    assert_eq!(
        unsafe { libc::mkfifo(c.as_ptr(), 0o644) },
        0,
        "mkfifo {}",
        path.display()
    );
}

/// A loopback port nobody listens on now (the kernel picks it).
pub fn free_port() -> Result<u16> {
    let l = TcpListener::bind("127.0.0.1:0").context("binding a free loopback port")?;
    Ok(l.local_addr()?.port())
}

/// Polls `f` every 100 ms until it returns `Some`, or fails after `timeout` naming `what`.
pub fn wait_until<T>(what: &str, timeout: Duration, mut f: impl FnMut() -> Option<T>) -> Result<T> {
    let start = Instant::now();
    loop {
        if let Some(v) = f() {
            return Ok(v);
        }
        if start.elapsed() > timeout {
            bail!("timed out after {timeout:?} waiting for {what}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Waits until a just-spawned process shows its command line. `spawn` returns once the
/// child has begun `execve`, but the kernel sets up the new command line a moment later
/// (`/proc/<pid>/cmdline` reads empty until then): a process check run at once could miss it.
pub fn wait_exec(pid: u32) {
    let path = format!("/proc/{pid}/cmdline");
    wait_until(&path, Duration::from_secs(10), || {
        std::fs::read(&path).ok().filter(|b| !b.is_empty())
    })
    .unwrap();
}

/// An OS user to run a server as.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct User {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
}

impl User {
    /// Looks a user up by name.
    pub fn by_name(name: &str) -> Result<User> {
        let c = CString::new(name)?;
        // SAFETY: getpwnam returns a pointer into static storage or NULL; we copy out at once
        // and the harness does not call it from several threads at the same moment.
        let pw = unsafe { libc::getpwnam(c.as_ptr()) };
        if pw.is_null() {
            bail!("no OS user '{name}'");
        }
        // SAFETY: pw is non-null and points to a valid passwd record.
        let (uid, gid) = unsafe { ((*pw).pw_uid, (*pw).pw_gid) };
        Ok(User {
            name: name.to_string(),
            uid,
            gid,
        })
    }

    /// The user to run `server` as: `preferred` when we are root (servers such as PostgreSQL
    /// refuse root), else whoever we are.
    pub fn for_server(preferred: &str) -> Result<Option<User>> {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } == 0 {
            Ok(Some(User::by_name(preferred).with_context(|| {
                format!("running as root, the test servers need the unprivileged user '{preferred}' (install the server's Debian package)")
            })?))
        } else {
            Ok(None)
        }
    }

    /// Gives a path to this user.
    pub fn chown(&self, path: &std::path::Path) -> Result<()> {
        std::os::unix::fs::chown(path, Some(self.uid), Some(self.gid))
            .with_context(|| format!("chown {} to {}", path.display(), self.name))
    }
}

/// A command that runs as `user` (if any), with libpq's and RabbitMQ's environment cleared so
/// that the developer's own settings cannot leak into the test servers.
pub fn command_as(program: impl AsRef<std::ffi::OsStr>, user: Option<&User>) -> Command {
    let mut cmd = Command::new(program);
    for (k, _) in std::env::vars_os() {
        let k = k.to_string_lossy();
        if k.starts_with("PG") || k.starts_with("RABBITMQ_") || k.starts_with("ERL_") {
            cmd.env_remove(k.as_ref());
        }
    }
    if let Some(u) = user {
        cmd.uid(u.uid).gid(u.gid);
    }
    cmd
}

/// Runs a command to completion; fails with its output when it fails.
pub fn run_ok(cmd: &mut Command, what: &str) -> Result<String> {
    let out = cmd.output().with_context(|| format!("starting {what}"))?;
    if !out.status.success() {
        bail!(
            "{what} failed ({}): {}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

pub fn base64(input: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in input.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (b[0] as u32) << 16 | (b[1] as u32) << 8 | b[2] as u32;
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(T[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// A minimal HTTP/1.0 request on loopback with Basic auth; returns (status, body). Only for the
/// harness' own readiness checks: the checks themselves use the real clients.
pub fn http(
    method: &str,
    port: u16,
    path: &str,
    auth: (&str, &str),
    body: &str,
) -> Result<(u16, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    let cred = base64(format!("{}:{}", auth.0, auth.1).as_bytes());
    write!(
        s,
        "{method} {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\nAuthorization: Basic {cred}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )?;
    let mut resp = String::new();
    s.read_to_string(&mut resp)?;
    let status = resp
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .context("no HTTP status")?;
    let body = resp
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    Ok((status, body))
}

#[cfg(test)]
mod tests {
    #[test]
    fn base64_matches_rfc4648() {
        for (i, o) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(super::base64(i.as_bytes()), o);
        }
    }
}
