//! check_postgres_replication_lag against real streaming replication: the shared cluster for
//! read-only checks, a private cluster with two replicas for real lag (replay paused while the
//! primary writes), an idle primary, a replica that cannot reach its primary, stopped replicas.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

use custos_harness::pgcheck::{assert_silent_peer_times_out, run_pg};
use custos_harness::plugin::PluginRun;
use custos_harness::util::wait_until;
use custos_harness::Postgres;
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_check_postgres_replication_lag");

fn on_port(pg: &Postgres, port: u16, args: &[&str]) -> PluginRun {
    let mut other = pg.clone();
    other.primary_port = port;
    run_pg(BIN, &other, false, args)
}

fn client_on(pg: &Postgres, port: u16) -> postgres::Client {
    let mut other = pg.clone();
    other.primary_port = port;
    other.client(false).unwrap()
}

#[test]
fn shared_cluster_both_sides() {
    let pg = custos_harness::postgres();
    let run = run_pg(BIN, pg, false, &[]);
    // One replica: Zulip's "Only one replica!" WARNING, and its lag.
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert!(
        run.text().starts_with(
            "POSTGRES_REPLICATION_LAG WARNING - Only one replica!; Found 1 replica (1 streaming)"
        ),
        "{}",
        run.stdout
    );
    assert_eq!(run.perf("replicas").value, Some(1.0));
    let replay = run.perf("custos_replica_replay");
    assert_eq!(
        (replay.uom.as_str(), replay.warning.unwrap().to_string()),
        ("B", "16777216".to_string())
    );
    assert_eq!(replay.critical.unwrap().to_string(), "83886080");

    let run = run_pg(BIN, pg, false, &["--replicas-warning", "1:"]);
    assert_eq!(run.code, 0, "{}", run.stdout);

    let run = run_pg(BIN, pg, true, &[]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert!(
        run.text().starts_with(&format!(
            "POSTGRES_REPLICATION_LAG OK - replica is 0 bytes behind in replay of WAL logs from 127.0.0.1:{} (0B), ",
            pg.primary_port
        )),
        "{}",
        run.stdout
    );
    assert_eq!(run.perf("replay").uom.as_str(), "B");
}

/// Waits until the replica on `port` has received everything the primary wrote.
fn wait_received(pg: &Postgres, primary: &mut postgres::Client, port: u16) {
    let target: String = primary
        .query_one("SELECT pg_current_wal_lsn()::text", &[])
        .unwrap()
        .get(0);
    let mut replica = client_on(pg, port);
    wait_until(
        "the replica to receive the WAL",
        Duration::from_secs(30),
        || {
            let behind: f64 = replica
                .query_one(
                    "SELECT pg_wal_lsn_diff($1::text::pg_lsn, pg_last_wal_receive_lsn())::float8",
                    &[&target],
                )
                .unwrap()
                .get(0);
            (behind <= 0.0).then_some(())
        },
    )
    .unwrap();
}

#[test]
fn real_lag_idle_primary_and_broken_replicas() {
    let pg = custos_harness::private_postgres("pg-lag");
    let (second, second_data) = custos_harness::add_replica(&pg, "second");
    let mut primary = pg.client(false).unwrap();

    // Two streaming replicas: OK, and on an idle primary the time lag stays 0.
    std::thread::sleep(Duration::from_millis(1500));
    let run = run_pg(BIN, &pg, false, &["--time-warning", "1s"]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert!(
        run.text().contains("Found 2 replicas (2 streaming)"),
        "{}",
        run.stdout
    );
    assert_eq!(run.perf("second_replay_lag").value, Some(0.0));
    let run = on_port(&pg, second, &["--time-warning", "1s"]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert_eq!(run.perf("replay_lag").value, Some(0.0), "{}", run.stdout);

    // Real lag: replay paused on `second` while the primary writes ~40 MiB of WAL (after one
    // replayed transaction, so that the replica knows when it last replayed one).
    primary
        .batch_execute("CREATE TABLE marker (t timestamptz)")
        .unwrap();
    wait_received(&pg, &mut primary, second);
    wait_until("the marker to be replayed", Duration::from_secs(30), || {
        let run = on_port(&pg, second, &[]);
        (run.perf("replay").value == Some(0.0)).then_some(())
    })
    .unwrap();
    client_on(&pg, second)
        .batch_execute("SELECT pg_wal_replay_pause()")
        .unwrap();
    primary
        .batch_execute(
            "CREATE TABLE bulk AS SELECT g, repeat('x', 1000) AS pad FROM generate_series(1, 30000) g",
        )
        .unwrap();
    wait_received(&pg, &mut primary, second);
    std::thread::sleep(Duration::from_millis(1200));

    let run = on_port(&pg, second, &["--time-warning", "1s"]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert!(
        run.text().contains("replica is ")
            && run
                .text()
                .contains("MiB behind in replay of WAL received (warning > 16MiB)"),
        "{}",
        run.stdout
    );
    assert!(run.text().contains("(replay paused)"), "{}", run.stdout);
    let gap = run.perf("replay").value.unwrap();
    assert!(gap > 16.0 * 1048576.0 && gap < 80.0 * 1048576.0, "{gap}");
    assert!(
        run.perf("replay_lag").value.unwrap() >= 1.0,
        "{}",
        run.stdout
    );

    // The primary sees the same replay lag (exact, from pg_wal_lsn_diff) and names the replica.
    let run = run_pg(BIN, &pg, false, &["-c", "20MiB"]);
    assert_eq!(run.code, 2, "{}", run.stdout);
    assert!(
        run.text()
            .starts_with("POSTGRES_REPLICATION_LAG CRITICAL - replica second is "),
        "{}",
        run.stdout
    );
    assert!(
        run.text().contains("behind in replay (critical > 20MiB)"),
        "{}",
        run.stdout
    );
    let primary_view = run.perf("second_replay").value.unwrap();
    assert!(primary_view >= gap, "{primary_view} < {gap}");
    assert_eq!(
        run.perf("custos_replica_replay").value,
        Some(0.0),
        "{}",
        run.stdout
    );

    // Resumed and caught up: back to OK, and the time lag is 0 again on the idle primary.
    client_on(&pg, second)
        .batch_execute("SELECT pg_wal_replay_resume()")
        .unwrap();
    wait_until("replay to catch up", Duration::from_secs(30), || {
        let run = on_port(&pg, second, &[]);
        (run.perf("replay").value == Some(0.0)).then_some(())
    })
    .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    let run = on_port(&pg, second, &["--time-warning", "1s"]);
    assert_eq!(
        (run.code, run.perf("replay_lag").value),
        (0, Some(0.0)),
        "{}",
        run.stdout
    );

    // A replica that cannot reach its primary is not streaming: CRITICAL on its side.
    let mut c = client_on(&pg, second);
    c.batch_execute(
        "ALTER SYSTEM SET primary_conninfo = 'host=127.0.0.1 port=1 user=nobody connect_timeout=2'",
    )
    .unwrap();
    c.batch_execute("SELECT pg_reload_conf()").unwrap();
    let run = wait_until(
        "the replica to stop streaming",
        Duration::from_secs(30),
        || {
            let run = on_port(&pg, second, &[]);
            (run.code == 2).then_some(run)
        },
    )
    .unwrap();
    assert!(
        run.text().starts_with(
            "POSTGRES_REPLICATION_LAG CRITICAL - Replaying WAL logs from backups (no WAL receiver)"
        ) || run.text().contains("not streaming"),
        "{}",
        run.stdout
    );

    // On the primary: one replica left is Zulip's WARNING; none is CRITICAL.
    let run = wait_until(
        "the primary to lose a replica",
        Duration::from_secs(30),
        || {
            let run = run_pg(BIN, &pg, false, &[]);
            (run.perf("replicas").value == Some(1.0)).then_some(run)
        },
    )
    .unwrap();
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert!(run.text().contains("Only one replica!"), "{}", run.stdout);
    for data in [&pg.replica_data, &second_data] {
        custos_harness::postgres::pg_ctl(&pg, data, "stop", &data.with_extension("log")).unwrap();
    }
    let run = wait_until(
        "the primary to lose all replicas",
        Duration::from_secs(30),
        || {
            let run = run_pg(BIN, &pg, false, &[]);
            (run.code == 2).then_some(run)
        },
    )
    .unwrap();
    assert_eq!(
        run.text(),
        "POSTGRES_REPLICATION_LAG CRITICAL - No replicas!; primary"
    );
}

#[test]
fn without_pg_monitor_it_says_what_is_missing() {
    let pg = custos_harness::postgres();
    let mut c = pg.ensure_role("lag_plain", None).unwrap();
    c.batch_execute("REVOKE pg_monitor FROM lag_plain").unwrap();
    let mut other = pg.clone();
    other.user = "lag_plain".into();
    let run = run_pg(BIN, &other, false, &[]);
    assert_eq!(run.code, 3, "{}", run.stdout);
    assert_eq!(
        run.text(),
        "POSTGRES_REPLICATION_LAG UNKNOWN - no permission to see pg_stat_replication details: grant pg_monitor to the role"
    );
    // On the replica the WAL receiver's row shows only its pid to such a role: not "no WAL
    // receiver" (a false CRITICAL), but what is missing. The role reaches the replica by
    // replication.
    wait_until("the role on the replica", Duration::from_secs(30), || {
        let run = run_pg(BIN, &other, true, &[]);
        (!run.stdout.contains("role \"lag_plain\" does not exist")).then_some(())
    })
    .unwrap();
    let run = run_pg(BIN, &other, true, &[]);
    assert_eq!(run.code, 3, "{}", run.stdout);
    assert_eq!(
        run.text(),
        "POSTGRES_REPLICATION_LAG UNKNOWN - no permission to see pg_stat_wal_receiver details: grant pg_monitor to the role"
    );
    c.batch_execute("GRANT pg_monitor TO lag_plain").unwrap();
    let run = run_pg(BIN, &other, false, &["--replicas-warning", "1:"]);
    assert_eq!(run.code, 0, "{}", run.stdout);
}

#[test]
fn silent_server_ends_at_the_deadline() {
    assert_silent_peer_times_out(BIN, &[]);
}
