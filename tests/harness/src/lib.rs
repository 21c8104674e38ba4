//! custos-harness: real servers for custos' tests, started once per test run.
//!
//! - [`postgres()`]: a PostgreSQL primary (WAL archived to a directory) and a streaming replica.
//! - [`rabbitmq()`]: a RabbitMQ node with the management plugin.
//! - [`nginx()`]: nginx serving HTTP and HTTPS (test CA, three SNI names).
//! - [`faults`]: misbehaving peers (silent, slow, resetting, huge replies).
//!
//! Every server listens on loopback ports the kernel hands out, keeps its data in a temporary
//! directory, and runs as an unprivileged user where it refuses root. The machine's own
//! PostgreSQL (5432), RabbitMQ (5672) and epmd (4369) are neither used nor touched.
//!
//! Once per test run: `make test` runs `custos-harness run -- cargo test ...`, which starts the
//! servers, exports `CUSTOS_SERVICES` (a JSON description) and `CUSTOS_*` variables, runs the
//! tests, and stops everything. A test binary run on its own (`cargo test -p x`) starts the
//! servers it asks for itself, once per binary. Either way the servers are stopped and the
//! directory removed when the owning process ends, also on a panic, abort or Ctrl-C (see
//! [`guard`]).

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

pub mod amqp;
pub mod certs;
pub mod faults;
pub mod guard;
pub mod kill;
pub mod nginx;
pub mod pgcheck;
pub mod plugin;
pub mod postgres;
pub mod rabbitmq;
pub mod supervisor;
pub mod util;
pub mod zulip;

pub use nginx::Nginx;
pub use postgres::Postgres;
pub use rabbitmq::RabbitMq;

use anyhow::{Context as _, Result};
use guard::Guard;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

/// The servers of a run, as written to `$CUSTOS_SERVICES`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Services {
    pub base: PathBuf,
    pub postgres: Option<Postgres>,
    pub rabbitmq: Option<RabbitMq>,
    pub nginx: Option<Nginx>,
}

impl Services {
    /// Shell `export` lines for scripts (`make demo`).
    pub fn env_vars(&self, json_path: &Path) -> Vec<(String, String)> {
        let mut v = vec![(
            "CUSTOS_SERVICES".to_string(),
            json_path.display().to_string(),
        )];
        if let Some(pg) = &self.postgres {
            v.extend([
                ("CUSTOS_PG_HOST".into(), pg.host.clone()),
                ("CUSTOS_PG_PORT".into(), pg.primary_port.to_string()),
                ("CUSTOS_PG_REPLICA_PORT".into(), pg.replica_port.to_string()),
                (
                    "CUSTOS_PG_SOCKET_DIR".into(),
                    pg.socket_dir.display().to_string(),
                ),
                ("CUSTOS_PG_USER".into(), pg.user.clone()),
                ("CUSTOS_PG_DBNAME".into(), pg.dbname.clone()),
                (
                    "CUSTOS_PG_ARCHIVE_DIR".into(),
                    pg.archive_dir.display().to_string(),
                ),
            ]);
        }
        if let Some(n) = &self.nginx {
            v.extend([
                ("CUSTOS_NGINX_HTTP_PORT".into(), n.http_port.to_string()),
                ("CUSTOS_NGINX_HTTPS_PORT".into(), n.https_port.to_string()),
                ("CUSTOS_NGINX_CA".into(), n.ca_cert.display().to_string()),
            ]);
        }
        if let Some(r) = &self.rabbitmq {
            v.extend([
                ("CUSTOS_RABBITMQ_HOST".into(), r.host.clone()),
                ("CUSTOS_RABBITMQ_AMQP_PORT".into(), r.amqp_port.to_string()),
                ("CUSTOS_RABBITMQ_API_URL".into(), r.api_url()),
                ("CUSTOS_RABBITMQ_PROMETHEUS_URL".into(), r.prometheus_url()),
                ("CUSTOS_RABBITMQ_CTL".into(), r.ctl_command()),
                ("CUSTOS_RABBITMQ_USER".into(), r.user.clone()),
                ("CUSTOS_RABBITMQ_PASSWORD".into(), r.password.clone()),
            ]);
        }
        v
    }
}

/// Makes the run's temporary directory, readable by the server users.
pub fn make_base() -> Result<PathBuf> {
    let base = std::env::temp_dir().join(format!(
        "custos-harness-{}-{}",
        std::process::id(),
        util::free_port()?
    ));
    std::fs::create_dir(&base).with_context(|| format!("creating {}", base.display()))?;
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&base, std::fs::Permissions::from_mode(0o755))?;
    Ok(base)
}

/// Starts every server (in parallel) under `base`.
pub fn start_all(base: &Path, guard: &Guard) -> Result<Services> {
    let (pg, rabbit, web) = std::thread::scope(|s| {
        let pg = s.spawn(|| postgres::start(base, guard));
        let rabbit = s.spawn(|| rabbitmq::start(base, guard));
        let web = s.spawn(|| nginx::start(base, guard));
        (pg.join(), rabbit.join(), web.join())
    });
    let pg = pg.map_err(|_| anyhow::anyhow!("PostgreSQL start-up panicked"))??;
    let rabbit = rabbit.map_err(|_| anyhow::anyhow!("RabbitMQ start-up panicked"))??;
    let web = web.map_err(|_| anyhow::anyhow!("nginx start-up panicked"))??;
    Ok(Services {
        base: base.to_path_buf(),
        postgres: Some(pg),
        rabbitmq: Some(rabbit),
        nginx: Some(web),
    })
}

/// The servers started by `custos-harness run`, if this process runs under it.
fn from_run() -> Option<&'static Services> {
    static FROM_ENV: OnceLock<Option<Services>> = OnceLock::new();
    FROM_ENV
        .get_or_init(|| {
            let path = std::env::var_os("CUSTOS_SERVICES")?;
            let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
                panic!("reading CUSTOS_SERVICES={}: {e}", path.to_string_lossy())
            });
            Some(serde_json::from_str(&text).expect("CUSTOS_SERVICES holds a services description"))
        })
        .as_ref()
}

/// This process' own servers (no `custos-harness run` around it): one directory and guard,
/// kept until the process exits.
fn own() -> &'static (PathBuf, Mutex<Guard>) {
    static OWN: OnceLock<(PathBuf, Mutex<Guard>)> = OnceLock::new();
    OWN.get_or_init(|| {
        // Under `custos-harness run`, inside the run's directory: the run's cleanup removes it
        // even when its sweep stops this process' own watcher first.
        let base = match from_run() {
            Some(run) => {
                let dir = run.base.join(format!("own-{}", std::process::id()));
                std::fs::create_dir_all(&dir).expect("creating the harness directory");
                dir
            }
            None => make_base().expect("creating the harness directory"),
        };
        let guard = Guard::new(&base).expect("starting the harness cleanup watcher");
        (base, Mutex::new(guard))
    })
}

fn start_own<T>(start: fn(&Path, &Guard) -> Result<T>, what: &str) -> T {
    let (base, guard) = own();
    let guard = guard.lock().unwrap_or_else(|e| e.into_inner());
    start(base, &guard).unwrap_or_else(|e| panic!("starting the test {what}: {e:#}"))
}

/// The test PostgreSQL (primary + streaming replica), started on first use.
pub fn postgres() -> &'static Postgres {
    if let Some(s) = from_run() {
        return s
            .postgres
            .as_ref()
            .expect("custos-harness run started PostgreSQL");
    }
    static PG: OnceLock<Postgres> = OnceLock::new();
    PG.get_or_init(|| start_own(postgres::start, "PostgreSQL"))
}

/// A private primary + replica for a test that breaks things (pauses replay, stops the
/// replica, makes archiving fail), in this process' own directory, stopped when it exits.
/// Each call starts a new cluster (5-6 s).
pub fn private_postgres(name: &str) -> Postgres {
    let (base, guard) = own();
    let guard = guard.lock().unwrap_or_else(|e| e.into_inner());
    postgres::start_named(base, name, &guard)
        .unwrap_or_else(|e| panic!("starting the private PostgreSQL {name}: {e:#}"))
}

/// One more streaming replica of `pg` (named `app_name`); returns its port and data directory.
pub fn add_replica(pg: &Postgres, app_name: &str) -> (u16, PathBuf) {
    let (_, guard) = own();
    let guard = guard.lock().unwrap_or_else(|e| e.into_inner());
    let data = pg
        .primary_data
        .parent()
        .expect("data directories live in the cluster directory")
        .join(app_name);
    let port = util::free_port().expect("a free port");
    postgres::add_replica(pg, &data, port, app_name, &guard)
        .unwrap_or_else(|e| panic!("starting replica {app_name}: {e:#}"));
    (port, data)
}

/// The test nginx, started on first use.
pub fn nginx() -> &'static Nginx {
    if let Some(s) = from_run() {
        return s.nginx.as_ref().expect("custos-harness run started nginx");
    }
    static WEB: OnceLock<Nginx> = OnceLock::new();
    WEB.get_or_init(|| start_own(nginx::start, "nginx"))
}

/// The test RabbitMQ node, started on first use.
pub fn rabbitmq() -> &'static RabbitMq {
    if let Some(s) = from_run() {
        return s
            .rabbitmq
            .as_ref()
            .expect("custos-harness run started RabbitMQ");
    }
    static RABBIT: OnceLock<RabbitMq> = OnceLock::new();
    RABBIT.get_or_init(|| start_own(rabbitmq::start, "RabbitMQ"))
}
