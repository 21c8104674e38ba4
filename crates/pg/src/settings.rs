//! Resolving the connection settings the way libpq does, from (highest first): the check's
//! options and `--dsn`, the service file section (`service=` or `PGSERVICE`), the `PG*`
//! environment, and libpq's defaults; then the password from the password file when none was
//! given. The password is kept out of `Debug` output.

use crate::dsn::Params;
use crate::{pgpass, service};
use plugin_core::Secret;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Debian's libpq default socket directory.
pub const DEFAULT_SOCKET_DIR: &str = "/var/run/postgresql";
/// Debian's libpq system configuration directory (for pg_service.conf).
pub const DEFAULT_SYSCONFDIR: &str = "/etc/postgresql-common";

/// libpq's sslmode values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SslMode {
    /// Never TLS.
    Disable,
    /// Plain first, TLS if the server insists.
    Allow,
    /// TLS if the server offers it (libpq's default).
    Prefer,
    /// TLS, the certificate not verified.
    Require,
    /// TLS, the certificate chain verified.
    VerifyCa,
    /// TLS, the chain verified and the certificate naming the host.
    VerifyFull,
}

impl SslMode {
    fn parse(s: &str) -> Result<SslMode, String> {
        Ok(match s {
            "disable" => SslMode::Disable,
            "allow" => SslMode::Allow,
            "prefer" => SslMode::Prefer,
            "require" => SslMode::Require,
            "verify-ca" => SslMode::VerifyCa,
            "verify-full" => SslMode::VerifyFull,
            other => return Err(format!("invalid sslmode value: \"{other}\"")),
        })
    }
}

/// Where the settings come from: the process environment, home directory and OS user (or, in
/// tests, anything else).
#[derive(Clone, Debug, Default)]
pub struct Env {
    /// The environment variables (`PGHOST`, `PGSERVICEFILE`, ...).
    pub vars: HashMap<String, String>,
    /// The home directory, for `~/.pgpass`, `~/.pg_service.conf` and `~/.postgresql/`.
    pub home: Option<PathBuf>,
    /// The OS user's name, libpq's default user and database.
    pub os_user: String,
}

impl Env {
    /// The real process environment.
    pub fn from_process() -> Env {
        let vars: HashMap<String, String> = std::env::vars()
            .filter(|(k, _)| k.starts_with("PG"))
            .collect();
        Env {
            vars,
            home: std::env::var_os("HOME").map(PathBuf::from),
            os_user: os_user_name(),
        }
    }

    fn var(&self, name: &str) -> Option<&str> {
        self.vars
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }
}

/// The effective user's name (libpq's default user), or `$USER` if the lookup fails.
pub fn os_user_name() -> String {
    // SAFETY: getpwuid returns NULL or a pointer to static storage; the name is copied at once.
    unsafe {
        let pw = libc::getpwuid(libc::geteuid());
        if !pw.is_null() && !(*pw).pw_name.is_null() {
            return std::ffi::CStr::from_ptr((*pw).pw_name)
                .to_string_lossy()
                .into_owned();
        }
    }
    std::env::var("USER").unwrap_or_default()
}

/// Connection settings after libpq's resolution.
#[derive(Clone, Debug, PartialEq)]
pub struct Settings {
    /// Host name, IP address, or a Unix-socket directory (absolute path).
    pub host: String,
    /// The port (5432 by default).
    pub port: u16,
    /// The database.
    pub dbname: String,
    /// The user name.
    pub user: String,
    /// The password, if any was found.
    pub password: Option<Secret>,
    /// Where the password came from, for `-v` output (never the password itself).
    pub password_source: Option<String>,
    /// The sslmode.
    pub sslmode: SslMode,
    /// The root certificates for `verify-ca`/`verify-full` (libpq's `~/.postgresql/root.crt` by default).
    pub sslrootcert: Option<PathBuf>,
    /// `connect_timeout`, bounded further by the check's deadline.
    pub connect_timeout: Option<Duration>,
    /// `application_name` (`custos/<check>` by default).
    pub application_name: String,
    /// Things worth saying with `-v` (a password file skipped for its permissions, ...).
    pub notes: Vec<String>,
}

impl Settings {
    /// True when the connection goes through a Unix socket.
    pub fn is_socket(&self) -> bool {
        self.host.starts_with('/')
    }

    /// `host:port` or `socket dir (port)`, for messages.
    pub fn target(&self) -> String {
        if self.is_socket() {
            format!(
                "socket {}/.s.PGSQL.{}",
                self.host.trim_end_matches('/'),
                self.port
            )
        } else if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

const ENV_KEYS: &[(&str, &str)] = &[
    ("host", "PGHOST"),
    ("hostaddr", "PGHOSTADDR"),
    ("port", "PGPORT"),
    ("dbname", "PGDATABASE"),
    ("user", "PGUSER"),
    ("password", "PGPASSWORD"),
    ("passfile", "PGPASSFILE"),
    ("sslmode", "PGSSLMODE"),
    ("sslrootcert", "PGSSLROOTCERT"),
    ("connect_timeout", "PGCONNECT_TIMEOUT"),
    ("application_name", "PGAPPNAME"),
];

fn service_files(env: &Env) -> Vec<PathBuf> {
    let user_file = env
        .var("PGSERVICEFILE")
        .map(PathBuf::from)
        .or_else(|| env.home.as_ref().map(|h| h.join(".pg_service.conf")));
    let sys =
        Path::new(env.var("PGSYSCONFDIR").unwrap_or(DEFAULT_SYSCONFDIR)).join("pg_service.conf");
    user_file.into_iter().chain(std::iter::once(sys)).collect()
}

/// A check's own defaults, used when nothing names the database or the user (no option, DSN,
/// service or environment variable): libpq's are the OS user, and a database of its name.
#[derive(Clone, Copy, Debug, Default)]
pub struct Defaults<'a> {
    /// `postgres` for the server-wide checks, Zulip's database for Zulip's.
    pub dbname: Option<&'a str>,
    /// check_postgres.pl's `postgres` for check_postgres.
    pub user: Option<&'a str>,
}

impl<'a> From<Option<&'a str>> for Defaults<'a> {
    /// A default database only.
    fn from(dbname: Option<&'a str>) -> Self {
        Defaults { dbname, user: None }
    }
}

/// Resolves `explicit` (options and `--dsn`, already merged) for a check called `check`: the
/// service file section fills what the options left unset, then the environment, then the
/// check's [`Defaults`], then libpq's (the OS user; a database named as the user); the
/// password, when none was given, comes from the password file.
// About 70 lines on purpose: libpq's order of precedence (options, service, environment,
// the check's defaults, libpq's) reads top to bottom in one place.
pub fn resolve<'a>(
    explicit: &Params,
    env: &Env,
    check: &str,
    defaults: impl Into<Defaults<'a>>,
) -> Result<Settings, String> {
    let defaults = defaults.into();
    let mut p = explicit.clone();
    let mut sources: HashMap<String, String> = p
        .keys()
        .map(|k| (k.clone(), "the connection options".to_string()))
        .collect();
    apply_service(&mut p, &mut sources, env)?;
    apply_env(&mut p, &mut sources, env);
    let get = |k: &str| p.get(k).filter(|v| !v.is_empty());
    let host = get("host")
        .or(get("hostaddr"))
        .cloned()
        .unwrap_or_else(|| DEFAULT_SOCKET_DIR.to_string());
    if host.contains(',') {
        return Err("several hosts are not supported; give one".into());
    }
    let port: u16 = match get("port") {
        None => 5432,
        Some(v) => v
            .parse()
            .ok()
            .filter(|&n| n > 0)
            .ok_or_else(|| format!("invalid port number: \"{v}\""))?,
    };
    let user = get("user")
        .cloned()
        .or(defaults.user.map(String::from))
        .unwrap_or_else(|| env.os_user.clone());
    if user.is_empty() {
        return Err("no user name: give --user or PGUSER".into());
    }
    let dbname = get("dbname")
        .cloned()
        .or(defaults.dbname.map(String::from))
        .unwrap_or_else(|| user.clone());
    let sslmode = SslMode::parse(p.get("sslmode").map(String::as_str).unwrap_or("prefer"))?;
    let connect_timeout = connect_timeout(get("connect_timeout"))?;
    let mut notes = Vec::new();
    let key = pgpass::Key {
        host: &host,
        port: &port.to_string(),
        dbname: &dbname,
        user: &user,
    };
    let (password, password_source) = password(&p, &sources, env, &key, &mut notes);
    Ok(Settings {
        application_name: get("application_name")
            .cloned()
            .unwrap_or_else(|| format!("custos/{check}")),
        // libpq's default root certificate file; whether it must exist depends on sslmode.
        sslrootcert: p
            .get("sslrootcert")
            .map(PathBuf::from)
            .or_else(|| env.home.as_ref().map(|h| h.join(".postgresql/root.crt"))),
        host,
        port,
        dbname,
        user,
        password,
        password_source,
        sslmode,
        connect_timeout,
        notes,
    })
}

/// The PG* environment variables fill what the options and the service left unset.
fn apply_env(p: &mut Params, sources: &mut HashMap<String, String>, env: &Env) {
    for (key, var) in ENV_KEYS {
        if !p.contains_key(*key) {
            if let Some(v) = env.var(var) {
                p.insert(key.to_string(), v.to_string());
                sources.insert(key.to_string(), var.to_string());
            }
        }
    }
}

/// The password and where it came from: given (an empty one counts as none, as in libpq, so
/// an empty PGPASSWORD falls through to the file), else the password file's entry for `key`.
fn password(
    p: &Params,
    sources: &HashMap<String, String>,
    env: &Env,
    key: &pgpass::Key,
    notes: &mut Vec<String>,
) -> (Option<Secret>, Option<String>) {
    match p.get("password").filter(|v| !v.is_empty()) {
        Some(pw) => (
            Some(Secret::new(pw.clone())),
            sources.get("password").cloned(),
        ),
        None => {
            let file = p
                .get("passfile")
                .map(PathBuf::from)
                .or_else(|| env.home.as_ref().map(|h| h.join(".pgpass")));
            file.map(|f| password_from_file(&f, key, notes))
                .unwrap_or((None, None))
        }
    }
}

/// The service file section (`service=` or `PGSERVICE`) fills what the options left unset.
fn apply_service(
    p: &mut Params,
    sources: &mut HashMap<String, String>,
    env: &Env,
) -> Result<(), String> {
    let Some(name) = p
        .get("service")
        .cloned()
        .or_else(|| env.var("PGSERVICE").map(String::from))
    else {
        return Ok(());
    };
    let mut found = None;
    for file in service_files(env) {
        let Ok(content) =
            plugin_core::files::read_text(&file, plugin_core::files::cap::SECRET_FILE)
        else {
            continue;
        };
        if let Some(params) =
            service::lookup(&content, &name).map_err(|e| format!("{}: {e}", file.display()))?
        {
            found = Some((file, params));
            break;
        }
    }
    let (file, params) =
        found.ok_or_else(|| format!("definition of service \"{name}\" not found"))?;
    for (k, v) in params {
        if let std::collections::btree_map::Entry::Vacant(slot) = p.entry(k.clone()) {
            slot.insert(v);
            sources.insert(k, format!("service \"{name}\" in {}", file.display()));
        }
    }
    Ok(())
}

/// libpq's `connect_timeout`: below 2 seconds is raised to 2; 0 or less means none.
fn connect_timeout(value: Option<&String>) -> Result<Option<Duration>, String> {
    let Some(v) = value else {
        return Ok(None);
    };
    let secs: i64 = v.trim().parse().map_err(|_| {
        format!("invalid integer value \"{v}\" for connection option \"connect_timeout\"")
    })?;
    Ok((secs > 0).then(|| Duration::from_secs(secs.max(2) as u64)))
}

/// The password for `key` from a password file, and where it came from; a file skipped (for
/// its permissions) is noted, as libpq warns.
fn password_from_file(
    file: &Path,
    key: &pgpass::Key<'_>,
    notes: &mut Vec<String>,
) -> (Option<Secret>, Option<String>) {
    match pgpass::read(file) {
        Ok(content) => match pgpass::lookup(&content, key) {
            Some(pw) => (
                Some(Secret::new(pw)),
                Some(format!("password file {}", file.display())),
            ),
            None => (None, None),
        },
        Err(pgpass::Skipped::Missing) => (None, None),
        Err(why) => {
            notes.push(format!(
                "WARNING: password file \"{}\" {why}",
                file.display()
            ));
            (None, None)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn env(vars: &[(&str, &str)], home: Option<&Path>) -> Env {
        Env {
            vars: vars
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            home: home.map(Path::to_path_buf),
            os_user: "nagios".into(),
        }
    }

    #[test]
    fn a_checks_default_database_only_when_nothing_names_one() {
        let e = env(&[], None);
        let s = resolve(&params(&[]), &e, "x", Some("postgres")).unwrap();
        assert_eq!(s.dbname, "postgres");
        let s = resolve(&params(&[("dbname", "zulip")]), &e, "x", Some("postgres")).unwrap();
        assert_eq!(s.dbname, "zulip");
        let s = resolve(
            &params(&[]),
            &env(&[("PGDATABASE", "envdb")], None),
            "x",
            Some("postgres"),
        )
        .unwrap();
        assert_eq!(s.dbname, "envdb");
        let s = resolve(&params(&[]), &e, "x", None).unwrap();
        assert_eq!(s.dbname, "nagios", "libpq's default: the user name");
    }

    fn params(pairs: &[(&str, &str)]) -> Params {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn write_600(path: &Path, content: &str) {
        std::fs::write(path, content).unwrap();
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
    }

    #[test]
    fn defaults_are_libpqs_on_debian() {
        let s = resolve(&Params::new(), &env(&[], None), "check_postgres", None).unwrap();
        assert_eq!(s.host, "/var/run/postgresql");
        assert!(s.is_socket());
        assert_eq!(s.port, 5432);
        assert_eq!(s.user, "nagios"); // the OS user, as Zulip's nagios role connects
        assert_eq!(s.dbname, "nagios");
        assert_eq!(s.sslmode, SslMode::Prefer);
        assert_eq!(s.application_name, "custos/check_postgres");
        assert_eq!(s.password, None);
        assert_eq!(s.target(), "socket /var/run/postgresql/.s.PGSQL.5432");
    }

    #[test]
    fn options_beat_environment() {
        let e = env(
            &[
                ("PGHOST", "envhost"),
                ("PGPORT", "6000"),
                ("PGUSER", "envuser"),
                ("PGDATABASE", "envdb"),
                ("PGAPPNAME", "mine"),
            ],
            None,
        );
        let s = resolve(&params(&[("host", "opthost")]), &e, "x", None).unwrap();
        assert_eq!(
            (s.host.as_str(), s.port, s.user.as_str(), s.dbname.as_str()),
            ("opthost", 6000, "envuser", "envdb")
        );
        assert_eq!(s.application_name, "mine");
        assert_eq!(s.target(), "opthost:6000");
        let s = resolve(&params(&[("host", "::1")]), &e, "x", None).unwrap();
        assert_eq!(s.target(), "[::1]:6000");
    }

    #[test]
    fn service_file_sits_between_options_and_environment() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join(".pg_service.conf"),
            "[zulip]\nhost=svchost\nport=5433\ndbname=zulip\n",
        )
        .unwrap();
        let e = env(
            &[
                ("PGSERVICE", "zulip"),
                ("PGHOST", "envhost"),
                ("PGUSER", "envuser"),
            ],
            Some(dir.path()),
        );
        let s = resolve(&params(&[("dbname", "optdb")]), &e, "x", None).unwrap();
        assert_eq!(
            (s.host.as_str(), s.port, s.dbname.as_str(), s.user.as_str()),
            ("svchost", 5433, "optdb", "envuser")
        );
        // PGSERVICEFILE and PGSYSCONFDIR are honoured; a missing service is libpq's error.
        let sys = tempfile::tempdir().unwrap();
        std::fs::write(sys.path().join("pg_service.conf"), "[sys]\nport=7000\n").unwrap();
        let e = env(
            &[("PGSYSCONFDIR", sys.path().to_str().unwrap())],
            Some(dir.path()),
        );
        assert_eq!(
            resolve(&params(&[("service", "sys")]), &e, "x", None)
                .unwrap()
                .port,
            7000
        );
        assert_eq!(
            resolve(&params(&[("service", "nope")]), &e, "x", None).unwrap_err(),
            "definition of service \"nope\" not found"
        );
    }

    #[test]
    fn root_certificate_file_default_and_override() {
        let home = Path::new("/home/nagios");
        let s = resolve(&params(&[]), &env(&[], Some(home)), "c", None).unwrap();
        assert_eq!(s.sslrootcert, Some(home.join(".postgresql/root.crt")));
        let s = resolve(
            &params(&[]),
            &env(&[("PGSSLROOTCERT", "/etc/ssl/db-ca.crt")], Some(home)),
            "c",
            None,
        )
        .unwrap();
        assert_eq!(s.sslrootcert, Some(PathBuf::from("/etc/ssl/db-ca.crt")));
        let s = resolve(&params(&[]), &env(&[], None), "c", None).unwrap();
        assert_eq!(s.sslrootcert, None);
    }

    #[test]
    fn password_sources_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let pgpass = dir.path().join(".pgpass");
        write_600(
            &pgpass,
            "localhost:5432:nagios:nagios:from-pgpass\ndb:*:*:*:remote\n",
        );
        // Given explicitly: wins, and its source is named.
        let s = resolve(
            &params(&[("password", "opt")]),
            &env(&[("PGPASSWORD", "envpw")], Some(dir.path())),
            "x",
            None,
        )
        .unwrap();
        assert_eq!(s.password, Some(Secret::new("opt")));
        // PGPASSWORD before the file.
        let s = resolve(
            &Params::new(),
            &env(&[("PGPASSWORD", "envpw")], Some(dir.path())),
            "x",
            None,
        )
        .unwrap();
        assert_eq!(
            (s.password, s.password_source.as_deref()),
            (Some(Secret::new("envpw")), Some("PGPASSWORD"))
        );
        // ~/.pgpass: the default socket connection matches "localhost".
        let s = resolve(&Params::new(), &env(&[], Some(dir.path())), "x", None).unwrap();
        assert_eq!(s.password, Some(Secret::new("from-pgpass")));
        assert!(s.password_source.unwrap().starts_with("password file "));
        // PGPASSFILE elsewhere.
        let other = dir.path().join("other");
        write_600(&other, "*:*:*:*:other-file\n");
        let s = resolve(
            &params(&[("host", "db")]),
            &env(&[("PGPASSFILE", other.to_str().unwrap())], Some(dir.path())),
            "x",
            None,
        )
        .unwrap();
        assert_eq!(s.password, Some(Secret::new("other-file")));
        // A group-readable file is skipped with a note.
        std::fs::set_permissions(&pgpass, std::fs::Permissions::from_mode(0o640)).unwrap();
        let s = resolve(&Params::new(), &env(&[], Some(dir.path())), "x", None).unwrap();
        assert_eq!(s.password, None);
        assert!(
            s.notes[0].contains("has group or world access (0640)"),
            "{:?}",
            s.notes
        );
    }

    #[test]
    fn bad_values_say_what_is_wrong() {
        let e = env(&[], None);
        assert_eq!(
            resolve(&params(&[("port", "x")]), &e, "c", None).unwrap_err(),
            "invalid port number: \"x\""
        );
        assert_eq!(
            resolve(&params(&[("sslmode", "sure")]), &e, "c", None).unwrap_err(),
            "invalid sslmode value: \"sure\""
        );
        assert!(
            resolve(&params(&[("connect_timeout", "soon")]), &e, "c", None)
                .unwrap_err()
                .contains("connect_timeout")
        );
        assert_eq!(
            resolve(&params(&[("connect_timeout", "1")]), &e, "c", None)
                .unwrap()
                .connect_timeout,
            Some(Duration::from_secs(2))
        );
        assert_eq!(
            resolve(&params(&[("connect_timeout", "0")]), &e, "c", None)
                .unwrap()
                .connect_timeout,
            None
        );
        assert!(resolve(&params(&[("host", "a,b")]), &e, "c", None).is_err());
    }

    #[test]
    fn password_never_prints() {
        let s = resolve(
            &params(&[("password", "hunter2")]),
            &env(&[], None),
            "c",
            None,
        )
        .unwrap();
        assert!(!format!("{s:?}").contains("hunter2"));
    }
}
