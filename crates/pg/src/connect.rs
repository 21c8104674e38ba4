//! Connecting and querying within the check's deadline.
//!
//! Why not the synchronous `postgres` crate: its `connect_timeout` covers only the TCP connect,
//! not the startup and authentication exchange, so a server that accepts the connection and
//! never answers hangs it forever (found by this crate's tests). libpq's `connect_timeout` covers
//! the whole establishment. So custos drives `tokio-postgres` on a small current-thread runtime
//! and bounds every step — connect, and each query — by the time the check has left; a timed-out
//! step drops its future, which closes the socket. The server also gets
//! `statement_timeout` set to the time left, so it cancels a slow query itself.

use crate::dsn::{self, Params};
use crate::settings::{resolve, Defaults, Env, Settings, SslMode};
use crate::stream::{Socket, Watched};
use plugin_core::{CheckError, Context};
use std::time::{Duration, Instant};
use tokio_postgres::tls::MakeTlsConnect;
use tokio_postgres::types::ToSql;
use tokio_postgres::Row;

/// The PostgreSQL connection options every PostgreSQL check has, with check_postgres.pl's
/// names beside libpq's (`--dbhost`, `--dbport`, `--dbuser`, `--dbservice`). Passwords belong in
/// `~/.pgpass`, `PGPASSFILE`, a service file or `PGPASSWORD`; `--dbpass` is accepted for
/// check_postgres.pl's command lines, with a warning.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct ConnArgs {
    /// Host name, IP address, or Unix-socket directory [default: PGHOST, else /var/run/postgresql]
    #[arg(
        short = 'H',
        long = "host",
        visible_alias = "dbhost",
        value_name = "HOST",
        help_heading = "Connection"
    )]
    pub host: Option<String>,

    /// Port [default: PGPORT, else 5432]
    #[arg(
        short = 'p',
        long = "port",
        visible_alias = "dbport",
        value_name = "PORT",
        help_heading = "Connection"
    )]
    pub port: Option<String>,

    /// Database name [default: PGDATABASE, else the check's default database]
    #[arg(
        short = 'd',
        long = "dbname",
        visible_alias = "db",
        value_name = "NAME",
        help_heading = "Connection"
    )]
    pub dbname: Option<String>,

    /// User name [default: PGUSER, else the OS user]
    #[arg(
        short = 'U',
        long = "user",
        visible_alias = "dbuser",
        value_name = "NAME",
        help_heading = "Connection"
    )]
    pub user: Option<String>,

    /// Service name in pg_service.conf (as PGSERVICE)
    #[arg(long = "dbservice", value_name = "NAME", help_heading = "Connection")]
    pub service: Option<String>,

    /// Password (check_postgres.pl's option; every local user can read it in ps: prefer
    /// ~/.pgpass, PGPASSWORD or a service file)
    #[arg(long = "dbpass", value_name = "PASSWORD", help_heading = "Connection")]
    pub password: Option<String>,

    /// libpq connection string or postgresql:// URI (service=, sslmode=, ...); options above win
    #[arg(long = "dsn", value_name = "DSN", help_heading = "Connection")]
    pub dsn: Option<String>,

    /// The database when nothing names one (no -d, PGDATABASE, service or DSN dbname): set by
    /// the check (`postgres` for server-wide checks, Zulip's for Zulip's), else libpq's (the
    /// user name).
    #[arg(skip)]
    pub default_dbname: Option<String>,

    /// The user when nothing names one (no -U, PGUSER, service or DSN user): set by the check
    /// (check_postgres.pl's `postgres` for check_postgres), else libpq's (the OS user).
    #[arg(skip)]
    pub default_user: Option<String>,
}

impl ConnArgs {
    /// The explicit parameters: the DSN, overridden by the individual options.
    pub fn params(&self) -> Result<Params, String> {
        let mut p = match &self.dsn {
            Some(d) => dsn::parse(d)?,
            None => Params::new(),
        };
        for (key, value) in [
            ("host", &self.host),
            ("port", &self.port),
            ("dbname", &self.dbname),
            ("user", &self.user),
            ("service", &self.service),
            ("password", &self.password),
        ] {
            if let Some(v) = value {
                p.insert(key.to_string(), v.clone());
            }
        }
        if self.password.is_some() {
            plugin_core::warn(
                "warning: --dbpass puts the password where every local user can read it (ps); \
                 use ~/.pgpass, PGPASSWORD or a service file",
            );
        }
        Ok(p)
    }

    /// The same options, with `db` as the database when nothing names one.
    pub fn with_default_dbname(&self, db: impl Into<String>) -> ConnArgs {
        ConnArgs {
            default_dbname: Some(db.into()),
            ..self.clone()
        }
    }

    /// The same options, with `user` as the role when nothing names one.
    pub fn with_default_user(&self, user: impl Into<String>) -> ConnArgs {
        ConnArgs {
            default_user: Some(user.into()),
            ..self.clone()
        }
    }

    /// Resolves the settings against the process environment.
    pub fn settings(&self, check: &str) -> Result<Settings, CheckError> {
        self.settings_in(&Env::from_process(), check)
    }

    /// Resolves the settings against a given environment (tests).
    pub fn settings_in(&self, env: &Env, check: &str) -> Result<Settings, CheckError> {
        let invalid = |e: String| CheckError::unknown(format!("invalid connection settings: {e}"));
        let params = self.params().map_err(invalid)?;
        let defaults = Defaults {
            dbname: self.default_dbname.as_deref(),
            user: self.default_user.as_deref(),
        };
        resolve(&params, env, check, defaults).map_err(invalid)
    }

    /// Resolves the settings from the process environment and connects: what every check
    /// calls first.
    pub fn open(&self, ctx: &Context, check: &str) -> Result<Client, CheckError> {
        connect(&self.settings(check)?, ctx)
    }
}

/// Reading a result column by name: a column missing or of another type (a PostgreSQL version
/// that changed a view) is UNKNOWN naming the column and both types, never a panic.
pub trait RowExt {
    /// The column `name` as `T`.
    fn col<'a, T: tokio_postgres::types::FromSql<'a>>(
        &'a self,
        name: &str,
    ) -> Result<T, CheckError>;
}

impl RowExt for Row {
    fn col<'a, T: tokio_postgres::types::FromSql<'a>>(
        &'a self,
        name: &str,
    ) -> Result<T, CheckError> {
        self.try_get(name).map_err(|e| {
            let found = self
                .columns()
                .iter()
                .find(|c| c.name() == name)
                .map(|c| format!(" (the server sent {})", c.type_()))
                .unwrap_or_default();
            CheckError::unknown(format!(
                "unexpected result column {name}{found}: {}",
                e.to_string().lines().next().unwrap_or("")
            ))
        })
    }
}

/// Time kept back from the deadline so that a timed-out step is reported by the check itself.
const MARGIN: Duration = Duration::from_millis(300);

/// A connected client whose every call ends before the check's deadline.
pub struct Client {
    rt: tokio::runtime::Runtime,
    client: tokio_postgres::Client,
    deadline: Instant,
    /// What to report when the deadline cuts a query short.
    timeout: CheckError,
    connect_time: Duration,
}

impl Client {
    /// How long connecting took (TCP or socket, TLS, authentication).
    pub fn connect_time(&self) -> Duration {
        self.connect_time
    }

    fn left(&self) -> Duration {
        self.deadline.saturating_duration_since(Instant::now())
    }

    /// Runs a query; errors are UNKNOWN (the check could not measure), with the server's words.
    pub fn query(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Vec<Row>, CheckError> {
        match bounded(&self.rt, self.left(), self.client.query(sql, params)) {
            Ok(Ok(rows)) => Ok(rows),
            Ok(Err(e)) => Err(query_error(sql, &e)),
            Err(_) => Err(self.timed_out(sql)),
        }
    }

    /// The deadline came during `sql`: the check's timeout state and message.
    fn timed_out(&self, sql: &str) -> CheckError {
        self.timeout
            .clone()
            .detail(format!("query: {}", first_line(sql)))
    }

    /// A query that must return exactly one row.
    pub fn query_one(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Row, CheckError> {
        let mut rows = self.query(sql, params)?;
        match rows.len() {
            1 => Ok(rows.remove(0)),
            n => Err(CheckError::unknown(format!(
                "expected one row, got {n}: {}",
                first_line(sql)
            ))),
        }
    }

    /// Runs a statement that returns no rows (an UPDATE): how many rows it touched.
    pub fn execute(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<u64, CheckError> {
        match bounded(&self.rt, self.left(), self.client.execute(sql, params)) {
            Ok(Ok(n)) => Ok(n),
            Ok(Err(e)) => Err(query_error(sql, &e)),
            Err(_) => Err(self.timed_out(sql)),
        }
    }

    /// `pg_is_in_recovery()`: true on a replica (a standby replaying WAL).
    pub fn in_recovery(&self) -> Result<bool, CheckError> {
        self.query_one("SELECT pg_is_in_recovery() AS in_recovery", &[])?
            .col("in_recovery")
    }

    /// A table name as the server resolves it (search_path, `schema.table`), quoted safely for
    /// use in SQL; UNKNOWN when there is no such table.
    pub fn table(&self, name: &str) -> Result<String, CheckError> {
        let found: Option<String> = self
            .query_one("SELECT to_regclass($1)::text AS name", &[&name])?
            .col("name")?;
        found.ok_or_else(|| {
            CheckError::unknown(format!(
                "table {name} does not exist (or is not on the search_path)"
            ))
        })
    }

    /// Statements without results (test setup, SET).
    pub fn batch_execute(&self, sql: &str) -> Result<(), CheckError> {
        match bounded(&self.rt, self.left(), self.client.batch_execute(sql)) {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(query_error(sql, &e)),
            Err(_) => Err(self.timed_out(sql)),
        }
    }
}

/// Runs `fut` on the runtime for at most `limit`; `Err` when the time ran out (the future is
/// dropped, closing what it had open).
fn bounded<F: std::future::Future>(
    rt: &tokio::runtime::Runtime,
    limit: Duration,
    fut: F,
) -> Result<F::Output, tokio::time::error::Elapsed> {
    rt.block_on(async move { tokio::time::timeout(limit, fut).await })
}

fn first_line(sql: &str) -> &str {
    sql.trim().lines().next().unwrap_or("")
}

fn query_error(sql: &str, e: &tokio_postgres::Error) -> CheckError {
    CheckError::unknown(format!("query failed: {}", pg_message(e)))
        .detail(format!("query: {}", first_line(sql)))
}

/// The innermost error message (the one that says what really happened).
fn deepest(e: &(dyn std::error::Error + 'static)) -> String {
    let mut msg = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        msg = s.to_string();
        source = s.source();
    }
    msg
}

/// Connects with `settings` within the time the check has left (bounded further by
/// `connect_timeout`). Failing to reach or log in to the server is CRITICAL, worded like libpq;
/// the password never appears.
// About 85 lines on purpose: the deadline, the socket custos opens itself, TLS and the
// handshake are one sequence that shares the time left.
pub fn connect(settings: &Settings, ctx: &Context) -> Result<Client, CheckError> {
    let deadline = ctx
        .deadline()
        .checked_sub(MARGIN)
        .unwrap_or_else(Instant::now);
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        return Err(CheckError::unknown("no time left to connect"));
    }
    let connect_for = settings.connect_timeout.map_or(left, |t| t.min(left));
    let mut cfg = tokio_postgres::Config::new();
    cfg.host(&settings.host)
        .port(settings.port)
        .user(&settings.user)
        .dbname(&settings.dbname)
        .application_name(&settings.application_name)
        .connect_timeout(connect_for)
        // A slow query cannot outlive the check: the server cancels it 250 ms before the
        // client would give up, so the message is the server's ("canceling statement due to
        // statement timeout") rather than a bare client timeout.
        .options(format!(
            "-c statement_timeout={}",
            left.saturating_sub(Duration::from_millis(250))
                .max(left / 2)
                .as_millis()
                .max(1)
        ));
    if let Some(pw) = &settings.password {
        cfg.password(pw.expose().as_bytes());
    }
    let tls = crate::tls::connector(settings)
        .map_err(|e| CheckError::unknown(format!("TLS settings: {e}")))?;
    cfg.ssl_mode(match (settings.sslmode, &tls) {
        (_, None) => tokio_postgres::config::SslMode::Disable,
        (SslMode::Prefer, Some(_)) => tokio_postgres::config::SslMode::Prefer,
        (_, Some(_)) => tokio_postgres::config::SslMode::Require,
    });
    let rt = plugin_core::runtime()?;
    ctx.stage(format!("connecting to {}", settings.target()));
    let started = Instant::now();
    // custos opens the socket (see `stream`), tokio-postgres speaks the protocol over it; the
    // connection task runs whenever the client blocks on the runtime.
    let with_tls = tls.is_some();
    let attempt = bounded(&rt, connect_for, async {
        let socket = Socket::open(&settings.host, settings.port)
            .await
            .map_err(|e| e.to_string())?;
        let stream = Watched::new(socket, with_tls);
        let client = match tls {
            None => {
                let (client, conn) = cfg
                    .connect_raw(stream, tokio_postgres::NoTls)
                    .await
                    .map_err(|e| pg_message(&e))?;
                tokio::spawn(async move { drop(conn.await) });
                client
            }
            Some(mut make) => {
                let tls = MakeTlsConnect::<Watched>::make_tls_connect(&mut make, &settings.host)
                    .map_err(|e| format!("TLS: {e}"))?;
                let (client, conn) = cfg
                    .connect_raw(stream, tls)
                    .await
                    .map_err(|e| pg_message(&e))?;
                tokio::spawn(async move { drop(conn.await) });
                client
            }
        };
        Ok::<_, String>(client)
    });
    let client = match attempt {
        Ok(Ok(client)) => client,
        Ok(Err(e)) => return Err(connect_error(settings, &e)),
        // libpq's connect_timeout (shorter than the time left) expired: the server did not
        // answer in time, a connection failure. Otherwise the check's own deadline came.
        Err(_) if connect_for < left => return Err(connect_error(settings, "timeout expired")),
        Err(_) => return Err(ctx.timed_out()),
    };
    ctx.stage(format!("querying {}", settings.target()));
    Ok(Client {
        rt,
        client,
        deadline,
        timeout: ctx.timed_out(),
        connect_time: started.elapsed(),
    })
}

/// What went wrong, as psql would print it: the server's `SEVERITY:  message`
/// (`FATAL:  password authentication failed ...`, `ERROR:  canceling statement ...`), or the
/// innermost client-side error (`Connection refused (os error 111)`).
fn pg_message(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{}:  {}", db.severity(), db.message()),
        // tokio-util's words for a stream that ended inside a message.
        None if deepest(e) == "bytes remaining on stream" => {
            "server closed the connection unexpectedly".to_string()
        }
        None => deepest(e),
    }
}

/// libpq-like wording: `connection to server at "h", port 5432 failed: <reason>`.
pub fn connect_error(settings: &Settings, reason: &str) -> CheckError {
    let place = if settings.is_socket() {
        format!("connection to server on {} failed", settings.target())
    } else {
        format!(
            "connection to server at \"{}\", port {} failed",
            settings.host, settings.port
        )
    };
    let mut reason = reason.to_string();
    if let Some(pw) = settings
        .password
        .as_ref()
        .filter(|p| !p.expose().is_empty())
    {
        reason = reason.replace(pw.expose(), "***");
    }
    let mut err = CheckError::critical(format!("{place}: {reason}"));
    for note in &settings.notes {
        err = err.detail(note.clone());
    }
    err
}

#[cfg(test)]
mod tests {
    use super::*;
    use plugin_core::State;

    #[test]
    fn options_override_the_dsn() {
        let args = ConnArgs {
            host: Some("opthost".into()),
            dsn: Some("host=dsnhost port=6543 dbname=zulip".into()),
            ..Default::default()
        };
        let p = args.params().unwrap();
        assert_eq!(
            (p["host"].as_str(), p["port"].as_str(), p["dbname"].as_str()),
            ("opthost", "6543", "zulip")
        );
        let bad = ConnArgs {
            dsn: Some("hots=x".into()),
            ..Default::default()
        };
        let e = bad.settings_in(&Env::default(), "c").unwrap_err();
        assert_eq!(
            (e.state, e.message.as_str()),
            (
                State::Unknown,
                "invalid connection settings: unknown connection keyword 'hots'"
            )
        );
    }

    #[test]
    fn verify_modes_need_a_root_certificate() {
        let args = ConnArgs {
            dsn: Some(
                "host=127.0.0.1 user=u sslmode=verify-full sslrootcert=/nonexistent/root.crt"
                    .into(),
            ),
            ..Default::default()
        };
        let s = args.settings_in(&Env::default(), "c").unwrap();
        let e = match connect(&s, &Context::new(Duration::from_secs(5), 0)) {
            Ok(_) => panic!("verify-full must not connect without a root certificate"),
            Err(e) => e,
        };
        assert_eq!(
            (e.state, e.message.as_str()),
            (
                State::Unknown,
                "TLS settings: root certificate file \"/nonexistent/root.crt\" does not exist; provide it, use sslrootcert=system, or change sslmode"
            )
        );
    }
}
