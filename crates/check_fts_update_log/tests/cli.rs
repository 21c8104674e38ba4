//! check_fts_update_log against the test PostgreSQL, with tables shaped like Zulip's.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

use custos_harness::pgcheck::{assert_silent_peer_times_out, clean_command, run_pg};
use custos_harness::plugin::run_plugin_with;
use std::os::unix::fs::PermissionsExt;

const BIN: &str = env!("CARGO_BIN_EXE_check_fts_update_log");

/// A schema holding an `fts_update_log` like Zulip's, with `rows` rows.
fn log_with_rows(schema: &str, rows: i32) -> String {
    let pg = custos_harness::postgres();
    let mut c = pg.client(false).unwrap();
    c.batch_execute(&format!(
        "DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema};
         CREATE TABLE {schema}.fts_update_log (id serial PRIMARY KEY, message_id integer NOT NULL);
         INSERT INTO {schema}.fts_update_log (message_id) SELECT g FROM generate_series(1, {rows}) g;"
    ))
    .unwrap();
    format!("{schema}.fts_update_log")
}

#[test]
fn zulip_threshold_more_than_five_is_critical() {
    let pg = custos_harness::postgres();
    let five = log_with_rows("fts_five", 5);
    let run = run_pg(BIN, pg, false, &["--table", &five]);
    assert_eq!(
        (run.code, run.text()),
        (
            0,
            "FTS_UPDATE_LOG OK - 5 rows in fts_five.fts_update_log table"
        )
    );
    assert_eq!(run.perf("rows").value, Some(5.0));
    assert_eq!(run.perf("rows").critical.unwrap().to_string(), "5");

    let six = log_with_rows("fts_six", 6);
    let run = run_pg(BIN, pg, false, &["--table", &six]);
    assert_eq!(
        (run.code, run.text()),
        (
            2,
            "FTS_UPDATE_LOG CRITICAL - 6 rows in fts_six.fts_update_log table"
        )
    );
    let run = run_pg(BIN, pg, false, &["--table", &six, "-w", "2", "-c", "10"]);
    assert_eq!(run.code, 1, "{}", run.stdout);
}

#[test]
fn default_table_on_the_search_path() {
    let pg = custos_harness::postgres();
    log_with_rows("fts_default", 0);
    let mut c = pg.client(false).unwrap();
    c.batch_execute("DROP TABLE IF EXISTS public.fts_update_log; CREATE TABLE public.fts_update_log (id serial, message_id int)")
        .unwrap();
    let run = run_pg(BIN, pg, false, &[]);
    assert_eq!(
        (run.code, run.text()),
        (0, "FTS_UPDATE_LOG OK - 0 rows in fts_update_log table")
    );
}

#[test]
fn missing_table_is_unknown_and_says_so() {
    let pg = custos_harness::postgres();
    let run = run_pg(
        BIN,
        pg,
        false,
        &["--table", "no_such_schema.fts_update_log"],
    );
    assert_eq!(
        (run.code, run.text()),
        (
            3,
            "FTS_UPDATE_LOG UNKNOWN - table no_such_schema.fts_update_log does not exist (or is not on the search_path)"
        )
    );
}

#[test]
fn refused_connection_is_critical_in_libpq_words() {
    let port = custos_harness::util::free_port().unwrap();
    let run =
        run_plugin_with(clean_command(BIN).args(["-H", "127.0.0.1", "-p", &port.to_string()]));
    assert_eq!(run.code, 2, "{}", run.stdout);
    assert!(
        run.text().starts_with(&format!(
            "FTS_UPDATE_LOG CRITICAL - connection to server at \"127.0.0.1\", port {port} failed: Connection refused"
        )),
        "{}",
        run.stdout
    );
}

#[test]
fn silent_server_ends_at_the_deadline() {
    assert_silent_peer_times_out(BIN, &[]);
}

/// The password-protected role reached through .pgpass, a service file and PGPASSWORD; the
/// password never appears in the output, also not with -vvv or when it is wrong.
#[test]
fn credentials_without_the_command_line() {
    let pg = custos_harness::postgres();
    let table = log_with_rows("fts_creds", 1);
    let (role, password) = ("custos_fts_pw", "Fts-S3cret-pw");
    let mut c = pg.ensure_role(role, Some(password)).unwrap();
    c.batch_execute(&format!(
        "GRANT USAGE ON SCHEMA fts_creds TO {role}; GRANT SELECT ON {table} TO {role};"
    ))
    .unwrap();
    let home = tempfile::tempdir().unwrap();
    let port = pg.primary_port.to_string();
    let tcp = [
        "-H",
        "127.0.0.1",
        "-p",
        &port,
        "-d",
        &pg.dbname,
        "-U",
        role,
        "--table",
        &table,
        "-vvv",
    ];
    let expect_ok = |run: custos_harness::plugin::PluginRun, how: &str| {
        assert_eq!(run.code, 0, "{how}: {}", run.stdout);
        assert!(!run.stdout.contains(password), "{how} printed the password");
    };

    let pgpass = home.path().join(".pgpass");
    std::fs::write(&pgpass, format!("127.0.0.1:{port}:*:{role}:{password}\n")).unwrap();
    std::fs::set_permissions(&pgpass, std::fs::Permissions::from_mode(0o600)).unwrap();
    expect_ok(
        run_plugin_with(clean_command(BIN).env("HOME", home.path()).args(tcp)),
        ".pgpass",
    );

    let services = home.path().join("services.conf");
    std::fs::write(
        &services,
        format!(
            "[zulip]\nhost=127.0.0.1\nport={port}\ndbname={}\nuser={role}\npassword={password}\n",
            pg.dbname
        ),
    )
    .unwrap();
    expect_ok(
        run_plugin_with(
            clean_command(BIN)
                .env("PGSERVICEFILE", &services)
                .env("PGSERVICE", "zulip")
                .args(["--table", &table, "-vvv"]),
        ),
        "service file",
    );

    expect_ok(
        run_plugin_with(clean_command(BIN).env("PGPASSWORD", password).args(tcp)),
        "PGPASSWORD",
    );

    let wrong = run_plugin_with(
        clean_command(BIN)
            .env("PGPASSWORD", "not-the-Fts-S3cret-pw")
            .args(tcp),
    );
    assert_eq!(wrong.code, 2, "{}", wrong.stdout);
    assert!(
        wrong.text().contains("password authentication failed"),
        "{}",
        wrong.stdout
    );
    assert!(!wrong.stdout.contains("not-the-Fts"), "{}", wrong.stdout);
}
