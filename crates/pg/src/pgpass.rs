//! `~/.pgpass` / `PGPASSFILE`, as libpq reads it.
//!
//! Lines are `hostname:port:database:username:password`; `*` matches anything in the first four
//! fields; `\:` and `\\` escape; lines starting with `#` are comments; the first matching line
//! wins. A host that is a Unix-socket directory matches `localhost` (libpq does the same). The
//! file is ignored, with a warning, when it is readable or writable by group or others (libpq's
//! permission rule), or when it is not a regular file.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// What to look up.
#[derive(Clone, Debug)]
pub struct Key<'a> {
    /// The host as the connection names it (a socket directory counts as localhost).
    pub host: &'a str,
    /// The port.
    pub port: &'a str,
    /// The database.
    pub dbname: &'a str,
    /// The user name.
    pub user: &'a str,
}

/// Splits a line into fields on unescaped `:`, unescaping `\:` and `\\`.
fn fields(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut field = String::new();
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => field.extend(chars.next()),
            ':' if out.len() < 4 => out.push(std::mem::take(&mut field)),
            c => field.push(c),
        }
    }
    out.push(field);
    out
}

/// The password for `key` in the content of a password file, if a line matches.
pub fn lookup(content: &str, key: &Key<'_>) -> Option<String> {
    let host = if key.host.is_empty() || key.host.starts_with('/') {
        "localhost"
    } else {
        key.host
    };
    let wanted = [host, key.port, key.dbname, key.user];
    content
        .lines()
        .map(|l| l.trim_end_matches('\r'))
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(fields)
        .filter(|f| f.len() == 5)
        .find(|f| {
            f[..4]
                .iter()
                .zip(wanted)
                .all(|(pat, want)| pat == "*" || pat == want)
        })
        .map(|f| f[4].clone())
}

/// Why a password file was not used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Skipped {
    /// There is no such file.
    Missing,
    /// It is not a regular file.
    NotAFile,
    /// Mode bits, when group or others may read or write it.
    Permissions(u32),
    /// It could not be read: the reason.
    Unreadable(String),
}

impl std::fmt::Display for Skipped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Skipped::Missing => f.write_str("does not exist"),
            Skipped::NotAFile => f.write_str("is not a regular file"),
            Skipped::Permissions(m) => write!(
                f,
                "has group or world access ({m:04o}); permissions should be u=rw (0600) or less, as libpq requires"
            ),
            Skipped::Unreadable(e) => write!(f, "cannot be read: {e}"),
        }
    }
}

/// Reads a password file under libpq's rules.
pub fn read(path: &Path) -> Result<String, Skipped> {
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(Skipped::Missing),
        Err(e) => return Err(Skipped::Unreadable(e.to_string())),
    };
    if !meta.is_file() {
        return Err(Skipped::NotAFile);
    }
    let mode = meta.permissions().mode() & 0o7777;
    // libpq: "has group or world access" when mode & (S_IRWXG | S_IRWXO).
    if mode & 0o077 != 0 {
        return Err(Skipped::Permissions(mode));
    }
    plugin_core::files::read_text(path, plugin_core::files::cap::SECRET_FILE)
        .map_err(|e| Skipped::Unreadable(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = "\
# comment line
db1.example.com:5432:zulip:nagios:first
*:5432:zulip:nagios:second
localhost:*:*:postgres:sock\\:et
*:*:*:esc:back\\\\slash:and:colons
h:5433:d:u:
";

    fn key<'a>(host: &'a str, port: &'a str, db: &'a str, user: &'a str) -> Key<'a> {
        Key {
            host,
            port,
            dbname: db,
            user,
        }
    }

    #[test]
    fn first_match_wins_with_wildcards() {
        assert_eq!(
            lookup(FILE, &key("db1.example.com", "5432", "zulip", "nagios")).as_deref(),
            Some("first")
        );
        assert_eq!(
            lookup(FILE, &key("db2", "5432", "zulip", "nagios")).as_deref(),
            Some("second")
        );
        assert_eq!(lookup(FILE, &key("db2", "5433", "zulip", "nagios")), None);
        assert_eq!(lookup(FILE, &key("db2", "5432", "other", "nagios")), None);
    }

    #[test]
    fn sockets_match_localhost_and_escapes_work() {
        assert_eq!(
            lookup(FILE, &key("/var/run/postgresql", "5432", "x", "postgres")).as_deref(),
            Some("sock:et")
        );
        assert_eq!(
            lookup(FILE, &key("", "5432", "x", "postgres")).as_deref(),
            Some("sock:et")
        );
        // Only the first four ':' split: the password keeps later ones.
        assert_eq!(
            lookup(FILE, &key("any", "1", "d", "esc")).as_deref(),
            Some("back\\slash:and:colons")
        );
        assert_eq!(
            lookup(FILE, &key("h", "5433", "d", "u")).as_deref(),
            Some("")
        );
        assert_eq!(lookup("bad:line\n", &key("bad", "line", "", "")), None);
    }

    #[test]
    fn permission_rule() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pgpass");
        std::fs::write(&path, "*:*:*:*:pw\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert_eq!(read(&path), Err(Skipped::Permissions(0o644)));
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(read(&path).unwrap(), "*:*:*:*:pw\n");
        assert_eq!(read(&dir.path().join("none")), Err(Skipped::Missing));
        assert_eq!(read(dir.path()), Err(Skipped::NotAFile));
        assert!(Skipped::Permissions(0o644).to_string().contains("0644"));
    }
}
