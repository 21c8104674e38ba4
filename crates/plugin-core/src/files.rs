//! Files custos reads and writes, safely under root's cron in directories other users can write.
//!
//! Writing ([`write_atomic`]): a temporary file with a random name created with `O_CREAT|O_EXCL`
//! in the target's directory (the `tempfile` crate; `O_EXCL` also refuses a symlink planted at
//! that name, so nothing is ever written through a link), flushed to disk, then renamed over the
//! target. `rename` replaces a symlink at the target itself instead of following it. A directory
//! that every user may write and that has no sticky bit is refused (anyone could swap the file
//! between our rename and the reader), unless `--allow-world-writable-dir` says it is fine.
//!
//! Reading: every input has a bound. [`read_limited`] reads a whole file up to a cap and says
//! so when the file is longer (a state file is one line, a secret file one line, a config file a
//! few KiB; `/dev/zero` or a 300 MB file must not grow the check); [`open_regular`] refuses a
//! FIFO or a device where a regular file is expected, without blocking on it; [`for_each_line`]
//! streams a file line by line with a cap per line, so memory stays flat in the file's size.

use std::fs::File;
use std::io::{self, BufRead, Read, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

/// Caps for the kinds of input custos reads whole.
pub mod cap {
    /// A cron result file (`ts|code|STATE|message`) or a marker file: one line.
    pub const STATE_FILE: u64 = 64 * 1024;
    /// A password, key or credentials file (zuliprc, .pgpass, pg_service.conf).
    pub const SECRET_FILE: u64 = 1024 * 1024;
    /// A configuration file (zulip.conf, apt preferences and sources, a stats file).
    pub const CONFIG_FILE: u64 = 4 * 1024 * 1024;
    /// A JSON state file a check keeps between runs.
    pub const JSON_STATE: u64 = 16 * 1024 * 1024;
}

static ALLOW_WORLD_WRITABLE: AtomicBool = AtomicBool::new(false);

/// Accepts directories that every user may write, without the sticky bit, for
/// [`write_atomic`] (the runner sets it from `--allow-world-writable-dir`).
pub fn allow_world_writable_dirs(allow: bool) {
    ALLOW_WORLD_WRITABLE.store(allow, Ordering::SeqCst);
}

/// The directory a file lives in (`.` for a bare name).
fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Refuses a directory that others may write without the sticky bit (unless allowed).
fn check_dir(dir: &Path) -> io::Result<()> {
    let meta = std::fs::metadata(dir)?;
    let mode = meta.permissions().mode();
    if mode & 0o002 != 0 && mode & 0o1000 == 0 && !ALLOW_WORLD_WRITABLE.load(Ordering::SeqCst) {
        return Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            format!(
                "directory {} is writable by every user and has no sticky bit (mode {:04o}); \
                 refusing to write there (chmod o-w or +t it, or --allow-world-writable-dir)",
                dir.display(),
                mode & 0o7777
            ),
        ));
    }
    Ok(())
}

/// Writes `content` to `path` atomically and without following symlinks: a new temporary file
/// (random name, `O_EXCL`, mode 0644 less the umask) beside `path`, flushed to disk, renamed over
/// `path`. On error nothing is left behind and `path` is unchanged.
pub fn write_atomic(path: &Path, content: &[u8]) -> io::Result<()> {
    let dir = parent_dir(path);
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no file name"))?;
    check_dir(&dir)?;
    let mut prefix = std::ffi::OsString::from(".");
    prefix.push(name);
    prefix.push(".");
    let mut tmp = tempfile::Builder::new()
        .prefix(&prefix)
        .suffix(".tmp")
        .permissions(std::fs::Permissions::from_mode(0o644))
        .tempfile_in(&dir)?;
    tmp.write_all(content)?;
    tmp.as_file().sync_all()?;
    // On failure the temporary file is removed when `tmp` drops.
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// Why a bounded read failed.
#[derive(Debug)]
pub enum ReadError {
    /// Opening or reading failed.
    Io(io::Error),
    /// The input is longer than the cap (bytes).
    TooLarge(u64),
    /// A regular file was expected; this is a FIFO, a device, a directory or a socket.
    NotRegular(&'static str),
}

impl ReadError {
    /// The error kind when it came from the system (`NotFound` for a missing file).
    pub fn io_kind(&self) -> Option<io::ErrorKind> {
        match self {
            ReadError::Io(e) => Some(e.kind()),
            _ => None,
        }
    }
}

impl std::fmt::Display for ReadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReadError::Io(e) => write!(f, "{e}"),
            ReadError::TooLarge(cap) => {
                write!(f, "longer than {}", crate::units::human_bytes(*cap as f64))
            }
            ReadError::NotRegular(kind) => write!(f, "not a regular file (a {kind})"),
        }
    }
}

impl std::error::Error for ReadError {}

impl From<io::Error> for ReadError {
    fn from(e: io::Error) -> ReadError {
        ReadError::Io(e)
    }
}

fn kind_name(ft: std::fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if ft.is_dir() {
        "directory"
    } else if ft.is_fifo() {
        "FIFO"
    } else if ft.is_char_device() {
        "character device"
    } else if ft.is_block_device() {
        "block device"
    } else if ft.is_socket() {
        "socket"
    } else {
        "special file"
    }
}

/// Opens `path` for reading only if it is a regular file: a FIFO is opened without waiting for
/// a writer and refused, as are devices (`/dev/zero`) and directories.
pub fn open_regular(path: &Path) -> Result<File, ReadError> {
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)?;
    let meta = file.metadata()?;
    if !meta.file_type().is_file() {
        return Err(ReadError::NotRegular(kind_name(meta.file_type())));
    }
    // Back to blocking reads (a regular file never blocks, but keep the usual semantics).
    // SAFETY: fcntl on a descriptor we own; no memory is involved.
    unsafe {
        use std::os::fd::AsRawFd;
        let fd = file.as_raw_fd();
        let flags = libc::fcntl(fd, libc::F_GETFL);
        if flags >= 0 {
            libc::fcntl(fd, libc::F_SETFL, flags & !libc::O_NONBLOCK);
        }
    }
    Ok(file)
}

/// Reads at most `cap` bytes from `r`; more is [`ReadError::TooLarge`].
pub fn read_to_cap(r: impl Read, cap: u64) -> Result<Vec<u8>, ReadError> {
    let mut buf = Vec::new();
    r.take(cap.saturating_add(1)).read_to_end(&mut buf)?;
    if buf.len() as u64 > cap {
        return Err(ReadError::TooLarge(cap));
    }
    Ok(buf)
}

/// Reads the whole of `path` if it is at most `cap` bytes (FIFOs and devices are read up to the
/// cap too: a secret may come from `<(...)`).
pub fn read_limited(path: &Path, cap: u64) -> Result<Vec<u8>, ReadError> {
    let file = File::open(path)?;
    if let Ok(meta) = file.metadata() {
        if meta.is_file() && meta.size() > cap {
            return Err(ReadError::TooLarge(cap));
        }
    }
    read_to_cap(file, cap)
}

/// [`read_limited`], as text (invalid UTF-8 replaced).
pub fn read_text(path: &Path, cap: u64) -> Result<String, ReadError> {
    read_limited(path, cap).map(|b| String::from_utf8_lossy(&b).into_owned())
}

/// Calls `f(line, cut)` for each line of `r` (without its `\n`), keeping at most `max_line`
/// bytes of a line in memory: `cut` is true when the line was longer and its rest was skipped.
/// Memory stays at one line's cap whatever the input's size. `f` returns false to stop early.
pub fn for_each_line(
    r: impl Read,
    max_line: usize,
    mut f: impl FnMut(&[u8], bool) -> bool,
) -> io::Result<()> {
    let mut reader = io::BufReader::with_capacity(64 * 1024, r);
    let mut line: Vec<u8> = Vec::new();
    let mut cut = false;
    loop {
        let buf = match reader.fill_buf() {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if buf.is_empty() {
            if (!line.is_empty() || cut) && !f(&line, cut) {
                return Ok(());
            }
            return Ok(());
        }
        let (chunk, end) = match memchr::memchr(b'\n', buf) {
            Some(i) => (&buf[..i], Some(i + 1)),
            None => (buf, None),
        };
        let room = max_line.saturating_sub(line.len());
        line.extend_from_slice(&chunk[..chunk.len().min(room)]);
        cut |= chunk.len() > room;
        let used = end.unwrap_or(buf.len());
        reader.consume(used);
        if end.is_some() {
            if !f(&line, cut) {
                return Ok(());
            }
            line.clear();
            cut = false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn never_writes_through_a_symlink_at_the_target() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        std::fs::write(&victim, "precious\n").unwrap();
        let target = dir.path().join("state");
        symlink(&victim, &target).unwrap();
        write_atomic(&target, b"new\n").unwrap();
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious\n");
        let meta = std::fs::symlink_metadata(&target).unwrap();
        assert!(meta.file_type().is_file(), "the link is replaced by a file");
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "new\n");
        assert_eq!(meta.permissions().mode() & 0o022, 0);
        assert_eq!(names(dir.path()), ["state", "victim"]);
    }

    #[test]
    fn planted_temporary_names_are_not_used() {
        // Whatever name a neighbour predicts (the old scheme was .NAME.<pid>.tmp), a symlink
        // there is never opened: names are random and created with O_EXCL.
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        std::fs::write(&victim, "precious\n").unwrap();
        let me = std::process::id();
        for pid in me.saturating_sub(50)..me + 50 {
            symlink(&victim, dir.path().join(format!(".state.{pid}.tmp"))).unwrap();
        }
        for _ in 0..20 {
            write_atomic(&dir.path().join("state"), b"x\n").unwrap();
        }
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious\n");
        // Only the planted links, the victim and the state file remain.
        assert_eq!(names(dir.path()).len(), 102);
    }

    #[test]
    fn world_writable_directories_without_sticky_bit_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let open = dir.path().join("open");
        std::fs::create_dir(&open).unwrap();
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).unwrap();
        let e = write_atomic(&open.join("s"), b"x").unwrap_err();
        assert!(e.to_string().contains("writable by every user"), "{e}");
        assert!(names(&open).is_empty());
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o1777)).unwrap();
        write_atomic(&open.join("s"), b"x").unwrap();
        // Group-writable (Zulip's root:zulip 0774) is fine.
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o774)).unwrap();
        write_atomic(&open.join("s"), b"y").unwrap();
    }

    #[test]
    fn bounded_reads() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("f");
        std::fs::write(&f, vec![b'a'; 100]).unwrap();
        assert_eq!(read_limited(&f, 100).unwrap().len(), 100);
        assert!(matches!(read_limited(&f, 99), Err(ReadError::TooLarge(99))));
        // A device reads up to the cap and stops.
        assert!(matches!(
            read_limited(Path::new("/dev/zero"), 4096),
            Err(ReadError::TooLarge(4096))
        ));
        assert!(matches!(
            open_regular(Path::new("/dev/zero")),
            Err(ReadError::NotRegular("character device"))
        ));
        assert!(matches!(
            open_regular(dir.path()),
            Err(ReadError::NotRegular("directory"))
        ));
        let e = read_limited(&dir.path().join("missing"), 10).unwrap_err();
        assert_eq!(e.io_kind(), Some(io::ErrorKind::NotFound));
    }

    #[test]
    fn fifo_is_refused_without_waiting_for_a_writer() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        // SAFETY: mkfifo with a valid C string.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        assert!(matches!(
            open_regular(&fifo),
            Err(ReadError::NotRegular("FIFO"))
        ));
    }

    #[test]
    fn lines_are_streamed_with_a_cap() {
        let mut input = b"one\n".to_vec();
        input.extend(std::iter::repeat_n(b'x', 300_000));
        input.extend(b"\nthree");
        let mut seen = Vec::new();
        for_each_line(&input[..], 10, |l, cut| {
            seen.push((String::from_utf8_lossy(l).into_owned(), cut));
            true
        })
        .unwrap();
        assert_eq!(
            seen,
            [
                ("one".to_string(), false),
                ("xxxxxxxxxx".to_string(), true),
                ("three".to_string(), false)
            ]
        );
        let mut n = 0;
        for_each_line(&b"a\nb\nc\n"[..], 10, |_, _| {
            n += 1;
            n < 2
        })
        .unwrap();
        assert_eq!(n, 2);
    }
}
