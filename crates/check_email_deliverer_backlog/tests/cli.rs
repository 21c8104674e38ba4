//! check_email_deliverer_backlog against the test PostgreSQL, with a table shaped like Zulip's
//! `zerver_scheduledemail`.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

use custos_harness::pgcheck::{assert_silent_peer_times_out, run_pg};

const BIN: &str = env!("CARGO_BIN_EXE_check_email_deliverer_backlog");

/// A schema with a `zerver_scheduledemail` holding emails scheduled at the given offsets from
/// now (negative: in the past).
fn scheduled(schema: &str, offsets_secs: &[i64]) -> String {
    let pg = custos_harness::postgres();
    let mut c = pg.client(false).unwrap();
    let values: Vec<String> = offsets_secs
        .iter()
        .map(|s| format!("(now() + interval '{s} seconds', 'x', 1)"))
        .collect();
    let insert = if values.is_empty() {
        String::new()
    } else {
        format!(
            "INSERT INTO {schema}.zerver_scheduledemail (scheduled_timestamp, data, type) VALUES {};",
            values.join(",")
        )
    };
    c.batch_execute(&format!(
        "DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema};
         CREATE TABLE {schema}.zerver_scheduledemail (id serial PRIMARY KEY,
           scheduled_timestamp timestamptz NOT NULL, data text NOT NULL, address varchar(254),
           type smallint NOT NULL, failed boolean NOT NULL DEFAULT false, realm_id integer);
         {insert}"
    ))
    .unwrap();
    format!("{schema}.zerver_scheduledemail")
}

#[test]
fn zulip_states_none_few_many() {
    let pg = custos_harness::postgres();
    // Due 30 s ago: not yet overdue (Zulip allows one minute); due in the future: not counted.
    let none = scheduled("sched_none", &[-30, 3600]);
    let run = run_pg(BIN, pg, false, &["--table", &none]);
    assert_eq!(
        (run.code, run.text()),
        (0, "EMAIL_DELIVERER_BACKLOG OK - no backlog")
    );
    assert_eq!(run.perf("backlog").value, Some(0.0));
    assert_eq!(run.perf("oldest").value, Some(0.0));

    let few = scheduled("sched_few", &[-120, -7200, -30]);
    let run = run_pg(BIN, pg, false, &["--table", &few]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert_eq!(
        run.text(),
        "EMAIL_DELIVERER_BACKLOG WARNING - backlog of 2 (oldest scheduled 2h 0min ago)"
    );
    let oldest = run.perf("oldest").value.unwrap();
    assert!((7200.0..7260.0).contains(&oldest), "{oldest}");

    let offsets: Vec<i64> = (0..10).map(|i| -61 - i).collect();
    let many = scheduled("sched_many", &offsets);
    let run = run_pg(BIN, pg, false, &["--table", &many]);
    assert_eq!(run.code, 2, "{}", run.stdout);
    assert!(run
        .text()
        .starts_with("EMAIL_DELIVERER_BACKLOG CRITICAL - backlog of 10 "));
    assert_eq!(run.perf("backlog").critical.unwrap().to_string(), "9");
}

#[test]
fn lag_option_moves_the_cut() {
    let pg = custos_harness::postgres();
    let t = scheduled("sched_lag", &[-30, -600]);
    let run = run_pg(BIN, pg, false, &["--table", &t, "--lag", "10s"]);
    assert!(run.text().contains("backlog of 2"), "{}", run.stdout);
    let run = run_pg(BIN, pg, false, &["--table", &t, "--lag", "15min"]);
    assert!(run.text().ends_with("no backlog"), "{}", run.stdout);
}

#[test]
fn missing_table_is_unknown() {
    let pg = custos_harness::postgres();
    let run = run_pg(BIN, pg, false, &["--table", "zerver_nothing"]);
    assert_eq!(run.code, 3, "{}", run.stdout);
    assert!(run.text().contains("table zerver_nothing does not exist"));
}

#[test]
fn silent_server_ends_at_the_deadline() {
    assert_silent_peer_times_out(BIN, &[]);
}
