//! A throwaway PostgreSQL: a primary that archives WAL to a directory, and a streaming replica.

use crate::guard::Guard;
use crate::util::{command_as, free_port, run_ok, wait_until, User};
use anyhow::{bail, Context as _, Result};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Where the test PostgreSQL servers are and how to log in.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Postgres {
    pub host: String,
    pub primary_port: u16,
    pub replica_port: u16,
    /// Directory of both servers' Unix sockets (`.s.PGSQL.<port>`).
    pub socket_dir: PathBuf,
    /// A superuser with a password (host connections use scram-sha-256).
    pub user: String,
    pub password: String,
    /// A database besides `postgres`.
    pub dbname: String,
    /// Where the primary's `archive_command` copies WAL segments.
    pub archive_dir: PathBuf,
    pub primary_data: PathBuf,
    pub replica_data: PathBuf,
    pub bindir: PathBuf,
    /// The OS user the servers run as (`postgres` when the harness runs as root).
    pub os_user: Option<User>,
}

impl Postgres {
    /// A libpq keyword connection string for the primary (or the replica).
    pub fn conn_str(&self, replica: bool) -> String {
        let port = if replica {
            self.replica_port
        } else {
            self.primary_port
        };
        format!(
            "host={} port={} user={} password={} dbname={} connect_timeout=5",
            self.host, port, self.user, self.password, self.dbname
        )
    }

    /// `pg_basebackup` of the primary into `target` over TCP (fast checkpoint, no fsync), run
    /// as `user`, with `extra` options (`-R -X stream` for a replica).
    pub fn basebackup(&self, target: &Path, extra: &[&str], user: Option<&User>) -> Result<String> {
        run_ok(
            command_as(self.bindir.join("pg_basebackup"), user)
                .args([
                    "-h",
                    "127.0.0.1",
                    "-p",
                    &self.primary_port.to_string(),
                    "-U",
                    &self.user,
                ])
                .arg("-D")
                .arg(target)
                .args(["-c", "fast", "--no-sync"])
                .args(extra)
                .env("PGPASSWORD", &self.password)
                .current_dir(target.parent().unwrap_or(Path::new("/"))),
            "pg_basebackup",
        )
    }

    /// Creates a login role on the primary unless it exists (with this password, or none),
    /// and returns a client for further grants.
    pub fn ensure_role(&self, role: &str, password: Option<&str>) -> Result<postgres::Client> {
        let mut c = self.client(false)?;
        let pw = password
            .map(|p| format!(" PASSWORD '{}'", p.replace('\'', "''")))
            .unwrap_or_default();
        c.batch_execute(&format!(
            "DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{role}') THEN \
             CREATE ROLE \"{role}\" LOGIN{pw}; END IF; END $$"
        ))?;
        Ok(c)
    }

    /// A connected client (the `postgres` crate) for setting up test data.
    pub fn client(&self, replica: bool) -> Result<postgres::Client> {
        postgres::Client::connect(&self.conn_str(replica), postgres::NoTls).with_context(|| {
            format!(
                "connecting to the test {}",
                if replica { "replica" } else { "primary" }
            )
        })
    }
}

/// The newest installed server's bin directory (Debian: /usr/lib/postgresql/N/bin), or
/// `CUSTOS_PG_BINDIR`.
pub fn find_bindir() -> Result<PathBuf> {
    if let Some(d) = std::env::var_os("CUSTOS_PG_BINDIR") {
        return Ok(PathBuf::from(d));
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .context("no PostgreSQL server in /usr/lib/postgresql (apt-get install postgresql)")?
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let v = e.file_name().to_string_lossy().parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((v, bin))
        })
        .collect();
    versions.sort();
    match versions.pop() {
        Some((_, bin)) => Ok(bin),
        None => bail!("no PostgreSQL server with initdb under /usr/lib/postgresql (apt-get install postgresql)"),
    }
}

fn append(path: &Path, text: &str) -> Result<()> {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new().append(true).open(path)?;
    f.write_all(text.as_bytes())?;
    Ok(())
}

/// Cleanup lines for a data directory: immediate shutdown of its postmaster.
fn stop_line(data: &Path) -> String {
    let pidfile = data.join("postmaster.pid");
    format!(
        "if [ -f '{p}' ]; then pid=$(head -1 '{p}'); kill -QUIT $pid 2>/dev/null; \
         for i in $(seq 50); do alive $pid || break; sleep 0.1; done; kill -KILL $pid 2>/dev/null; fi",
        p = pidfile.display()
    )
}

/// Starts a primary and a streaming replica under `base`, registering their shutdown with
/// `guard`.
pub fn start(base: &Path, guard: &Guard) -> Result<Postgres> {
    start_named(base, "pg", guard)
}

/// The same in `base/name`: a private cluster for tests that break things (pause replay, stop
/// the replica, fail archiving) without disturbing the shared one.
pub fn start_named(base: &Path, name: &str, guard: &Guard) -> Result<Postgres> {
    let bindir = find_bindir()?;
    let os_user = User::for_server("postgres")?;
    let root = base.join(name);
    let socket_dir = root.join("sock");
    let archive_dir = root.join("archive");
    for d in [&root, &socket_dir, &archive_dir] {
        std::fs::create_dir_all(d)?;
        if let Some(u) = &os_user {
            u.chown(d)?;
        }
    }
    let password = format!("pw-{}-{}", std::process::id(), free_port()?);
    let pwfile = root.join("pwfile");
    std::fs::write(&pwfile, &password)?;
    if let Some(u) = &os_user {
        u.chown(&pwfile)?;
    }
    let pg = Postgres {
        host: "127.0.0.1".into(),
        primary_port: free_port()?,
        replica_port: free_port()?,
        socket_dir: socket_dir.clone(),
        user: "custos".into(),
        password,
        dbname: "custos".into(),
        archive_dir: archive_dir.clone(),
        primary_data: root.join("primary"),
        replica_data: root.join("replica"),
        bindir: bindir.clone(),
        os_user: os_user.clone(),
    };
    let u = os_user.as_ref();
    let bin = |name: &str| bindir.join(name);

    run_ok(
        command_as(bin("initdb"), u)
            .arg("-D")
            .arg(&pg.primary_data)
            .args([
                "-U",
                &pg.user,
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-sync",
            ])
            .arg(format!("--pwfile={}", pwfile.display()))
            .current_dir(&root),
        "initdb",
    )?;
    // max_wal_senders and max_locks_per_transaction: room for make bench's eight replicas and
    // a query over 10,000 tables (pg_relation_size locks each one).
    append(
        &pg.primary_data.join("postgresql.conf"),
        &format!(
            "\n# custos test harness\nlisten_addresses = '127.0.0.1'\nport = {port}\n\
             unix_socket_directories = '{sock}'\nmax_connections = 40\nshared_buffers = 16MB\n\
             fsync = off\nfull_page_writes = off\nwal_level = replica\nmax_wal_senders = 12\n\
             wal_keep_size = 64MB\nhot_standby = on\narchive_mode = on\n\
             archive_command = 'test ! -f {arch}/%f && cp %p {arch}/%f'\narchive_timeout = 0\n\
             logging_collector = off\nmax_prepared_transactions = 5\n\
             max_locks_per_transaction = 256\n",
            port = pg.primary_port,
            sock = socket_dir.display(),
            arch = archive_dir.display(),
        ),
    )?;
    std::fs::write(
        pg.primary_data.join("pg_hba.conf"),
        "local all all trust\nlocal replication all trust\n\
         host all all 127.0.0.1/32 scram-sha-256\nhost replication all 127.0.0.1/32 scram-sha-256\n\
         host all all ::1/128 scram-sha-256\nhost replication all ::1/128 scram-sha-256\n",
    )?;
    guard.on_cleanup(&stop_line(&pg.primary_data))?;
    pg_ctl(&pg, &pg.primary_data, "start", &root.join("primary.log"))?;
    run_ok(
        command_as(bin("psql"), u)
            .args(["-X", "-q", "-h"])
            .arg(&socket_dir)
            .args([
                "-p",
                &pg.primary_port.to_string(),
                "-U",
                &pg.user,
                "-d",
                "postgres",
                "-c",
                "CREATE DATABASE custos",
            ])
            .current_dir(&root),
        "creating the test database",
    )?;

    let replica_data = pg.replica_data.clone();
    add_replica(&pg, &replica_data, pg.replica_port, "custos_replica", guard)?;
    Ok(pg)
}

/// Starts one more streaming replica of `pg`'s primary in `data`, listening on `port`, named
/// `app_name` in `pg_stat_replication`; waits until it streams.
pub fn add_replica(
    pg: &Postgres,
    data: &Path,
    port: u16,
    app_name: &str,
    guard: &Guard,
) -> Result<()> {
    let u = pg.os_user.as_ref();
    let root = data.parent().context("replica directory has a parent")?;
    pg.basebackup(data, &["-R", "-X", "stream"], u)?;

    append(
        &data.join("postgresql.conf"),
        &format!("\nport = {port}\narchive_mode = off\n"),
    )?;
    // Name the replica in pg_stat_replication (application_name).
    append(
        &data.join("postgresql.auto.conf"),
        &format!(
            "primary_conninfo = 'host=127.0.0.1 port={} user={} password={} application_name={app_name}'\n",
            pg.primary_port, pg.user, pg.password
        ),
    )?;
    guard.on_cleanup(&stop_line(data))?;
    let name = data
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    pg_ctl(pg, data, "start", &root.join(format!("{name}.log")))?;
    let mut client = pg.client(false)?;
    wait_until("the replica to stream", Duration::from_secs(30), || {
        client
            .query_opt(
                "SELECT 1 FROM pg_stat_replication WHERE state = 'streaming' AND application_name = $1",
                &[&app_name],
            )
            .ok()
            .flatten()
    })?;
    Ok(())
}

/// `pg_ctl ACTION` on a data directory, waiting for it (start: until it accepts connections).
pub fn pg_ctl(pg: &Postgres, data: &Path, action: &str, log: &Path) -> Result<String> {
    let root = data.parent().context("data directory has a parent")?;
    run_ok(
        command_as(pg.bindir.join("pg_ctl"), pg.os_user.as_ref())
            .arg("-D")
            .arg(data)
            .arg("-l")
            .arg(log)
            .args(["-w", "-t", "60", "-m", "fast", action])
            .current_dir(root),
        &format!("pg_ctl {action} ({})", data.display()),
    )
}
