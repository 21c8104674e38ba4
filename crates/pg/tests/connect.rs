//! custos-pg against the harness' real PostgreSQL: every credential path, sockets, refusals,
//! timeouts. The password must never appear in what a check would print.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

use custos_pg::{connect, ConnArgs, Env};
use plugin_core::{Context, State};
use std::collections::HashMap;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

const PASSWORD: &str = "S3cret-custos-pg";
const ROLE: &str = "custos_pw";

/// A password-protected role on the harness primary (created once per test binary).
fn server() -> &'static custos_harness::Postgres {
    static READY: OnceLock<()> = OnceLock::new();
    let pg = custos_harness::postgres();
    READY.get_or_init(|| {
        pg.ensure_role(ROLE, Some(PASSWORD)).unwrap();
    });
    pg
}

fn env(vars: &[(&str, &str)], home: &Path) -> Env {
    Env {
        vars: vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<HashMap<_, _>>(),
        home: Some(home.to_path_buf()),
        os_user: "nobody-in-particular".into(),
    }
}

fn tcp_args(pg: &custos_harness::Postgres) -> ConnArgs {
    ConnArgs {
        host: Some("127.0.0.1".into()),
        port: Some(pg.primary_port.to_string()),
        dbname: Some(pg.dbname.clone()),
        user: Some(ROLE.into()),
        ..ConnArgs::default()
    }
}

/// The error of a connection that must fail.
fn refused(r: Result<custos_pg::Client, plugin_core::CheckError>) -> plugin_core::CheckError {
    match r {
        Ok(_) => panic!("the connection must fail"),
        Err(e) => e,
    }
}

fn ctx(secs: u64) -> Context {
    Context::new(Duration::from_secs(secs), 0)
}

fn current_user(client: &custos_pg::Client) -> String {
    client
        .query_one("SELECT current_user::text", &[])
        .unwrap()
        .get(0)
}

fn write_600(path: &Path, content: &str) {
    std::fs::write(path, content).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
}

#[test]
fn password_from_pgpass() {
    let pg = server();
    let home = tempfile::tempdir().unwrap();
    let pgpass = home.path().join(".pgpass");
    write_600(
        &pgpass,
        &format!(
            "127.0.0.1:{}:{}:{ROLE}:{PASSWORD}\n",
            pg.primary_port, pg.dbname
        ),
    );
    let s = tcp_args(pg)
        .settings_in(&env(&[], home.path()), "check_test")
        .unwrap();
    assert_eq!(
        s.password_source.as_deref(),
        Some(format!("password file {}", pgpass.display()).as_str())
    );
    let c = connect(&s, &ctx(10)).unwrap();
    assert_eq!(current_user(&c), ROLE);
    let app: String = c
        .query_one(
            "SELECT application_name FROM pg_stat_activity WHERE pid = pg_backend_pid()",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(app, "custos/check_test");

    // libpq's permission rule: a group-readable file is ignored, and -v says why.
    std::fs::set_permissions(&pgpass, std::fs::Permissions::from_mode(0o644)).unwrap();
    let s = tcp_args(pg)
        .settings_in(&env(&[], home.path()), "check_test")
        .unwrap();
    let e = refused(connect(&s, &ctx(10)));
    assert_eq!(e.state, State::Critical);
    assert!(
        e.message.starts_with(&format!(
            "connection to server at \"127.0.0.1\", port {} failed: ",
            pg.primary_port
        )),
        "{}",
        e.message
    );
    assert!(
        e.details
            .iter()
            .any(|d| d.contains("has group or world access (0644)")),
        "{:?}",
        e.details
    );
}

#[test]
fn password_from_service_file_and_environment() {
    let pg = server();
    let home = tempfile::tempdir().unwrap();
    let services = home.path().join("services.conf");
    std::fs::write(
        &services,
        format!(
            "[zulip]\nhost=127.0.0.1\nport={}\ndbname={}\nuser={ROLE}\npassword={PASSWORD}\n",
            pg.primary_port, pg.dbname
        ),
    )
    .unwrap();
    let e = env(
        &[
            ("PGSERVICEFILE", services.to_str().unwrap()),
            ("PGSERVICE", "zulip"),
        ],
        home.path(),
    );
    let s = ConnArgs::default().settings_in(&e, "check_test").unwrap();
    let c = connect(&s, &ctx(10)).unwrap();
    assert_eq!(current_user(&c), ROLE);

    let e = env(
        &[
            ("PGPASSWORD", PASSWORD),
            ("PGHOST", "127.0.0.1"),
            ("PGPORT", &pg.primary_port.to_string()),
        ],
        home.path(),
    );
    let args = ConnArgs {
        user: Some(ROLE.into()),
        dbname: Some(pg.dbname.clone()),
        ..Default::default()
    };
    let s = args.settings_in(&e, "check_test").unwrap();
    assert_eq!(s.password_source.as_deref(), Some("PGPASSWORD"));
    let c = connect(&s, &ctx(10)).unwrap();
    assert_eq!(current_user(&c), ROLE);

    // --dsn as a URI.
    let args = ConnArgs {
        dsn: Some(format!(
            "postgresql://{ROLE}:{PASSWORD}@127.0.0.1:{}/{}",
            pg.primary_port, pg.dbname
        )),
        ..Default::default()
    };
    let c = connect(
        &args.settings_in(&env(&[], home.path()), "c").unwrap(),
        &ctx(10),
    )
    .unwrap();
    assert_eq!(current_user(&c), ROLE);
}

#[test]
fn unix_socket_as_the_os_user_style() {
    let pg = server();
    let home = tempfile::tempdir().unwrap();
    let args = ConnArgs {
        host: Some(pg.socket_dir.display().to_string()),
        port: Some(pg.primary_port.to_string()),
        user: Some(pg.user.clone()),
        dbname: Some("postgres".into()),
        ..ConnArgs::default()
    };
    let s = args.settings_in(&env(&[], home.path()), "c").unwrap();
    assert!(s.is_socket());
    let c = connect(&s, &ctx(10)).unwrap();
    assert_eq!(current_user(&c), pg.user);
    // A socket directory with no server: libpq's wording, CRITICAL.
    let args = ConnArgs {
        host: Some(home.path().display().to_string()),
        port: Some("5999".into()),
        ..args
    };
    let e = refused(connect(
        &args.settings_in(&env(&[], home.path()), "c").unwrap(),
        &ctx(10),
    ));
    assert_eq!(e.state, State::Critical);
    assert!(
        e.message.starts_with(&format!(
            "connection to server on socket {}/.s.PGSQL.5999 failed: ",
            home.path().display()
        )),
        "{}",
        e.message
    );
}

#[test]
fn refused_and_wrong_password_are_critical_without_the_password() {
    let pg = server();
    let home = tempfile::tempdir().unwrap();
    let wrong = "Wr0ng-pa55word";
    let e = env(&[("PGPASSWORD", wrong)], home.path());
    let err = refused(connect(
        &tcp_args(pg).settings_in(&e, "c").unwrap(),
        &ctx(10),
    ));
    assert_eq!(err.state, State::Critical);
    assert!(
        err.message.contains(&format!(
            "FATAL:  password authentication failed for user \"{ROLE}\""
        )),
        "{}",
        err.message
    );
    assert!(!err.message.contains(wrong));

    let port = custos_harness::util::free_port().unwrap();
    let args = ConnArgs {
        port: Some(port.to_string()),
        ..tcp_args(pg)
    };
    let err = refused(connect(&args.settings_in(&e, "c").unwrap(), &ctx(10)));
    assert_eq!(err.state, State::Critical);
    assert!(
        err.message.starts_with(&format!(
            "connection to server at \"127.0.0.1\", port {port} failed: "
        )),
        "{}",
        err.message
    );
    assert!(
        err.message.to_lowercase().contains("refused"),
        "{}",
        err.message
    );
}

#[test]
fn slow_statement_is_cancelled_before_the_deadline() {
    let pg = server();
    let home = tempfile::tempdir().unwrap();
    let e = env(&[("PGPASSWORD", PASSWORD)], home.path());
    let start = Instant::now();
    let c = connect(&tcp_args(pg).settings_in(&e, "c").unwrap(), &ctx(2)).unwrap();
    let err = c.query_one("SELECT pg_sleep(10)", &[]).unwrap_err();
    assert_eq!(err.state, State::Unknown);
    assert_eq!(
        err.message,
        "query failed: ERROR:  canceling statement due to statement timeout"
    );
    assert_eq!(err.details, ["query: SELECT pg_sleep(10)"]);
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "{:?}",
        start.elapsed()
    );
}

#[test]
fn a_peer_that_never_answers_ends_within_the_deadline() {
    let home = tempfile::tempdir().unwrap();
    // Accepts TCP connections and never says a word.
    let silent = custos_harness::pgcheck::SilentServer::start();
    let port = silent.port;
    let args = ConnArgs {
        host: Some("127.0.0.1".into()),
        port: Some(port.to_string()),
        user: Some("x".into()),
        dbname: Some("x".into()),
        ..ConnArgs::default()
    };
    let start = Instant::now();
    let err = refused(connect(
        &args.settings_in(&env(&[], home.path()), "c").unwrap(),
        &ctx(2),
    ));
    let took = start.elapsed();
    // The check's own deadline came: the timeout state (UNKNOWN unless --timeout-result).
    assert_eq!(
        (err.state, err.message.as_str()),
        (State::Unknown, "timed out after 2 seconds")
    );
    assert!(took < Duration::from_secs(2), "{took:?}");
    assert!(took > Duration::from_millis(1000), "{took:?}");

    // libpq's connect_timeout, shorter than the time left, expired: a connection failure.
    let start = Instant::now();
    let err = refused(connect(
        &args
            .settings_in(&env(&[("PGCONNECT_TIMEOUT", "2")], home.path()), "c")
            .unwrap(),
        &ctx(6),
    ));
    assert!(start.elapsed() < Duration::from_millis(2500));
    assert_eq!(
        (err.state, err.message),
        (
            State::Critical,
            format!("connection to server at \"127.0.0.1\", port {port} failed: timeout expired")
        )
    );
    // Both attempts gave up and closed their connection.
    assert_eq!(silent.accepted(), 2);
    assert!(silent.all_closed(Duration::from_secs(1)));
}
