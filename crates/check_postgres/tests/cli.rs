//! check_postgres against the test PostgreSQL: every action measured on real sessions, locks,
//! sequences, triggers and slots made by the test.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

use custos_harness::pgcheck::{assert_silent_peer_times_out, clean_command, run_pg};
use custos_harness::plugin::{run_plugin_with, PluginRun};
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_check_postgres");

fn pg() -> &'static custos_harness::Postgres {
    custos_harness::postgres()
}

fn run(args: &[&str]) -> PluginRun {
    run_pg(BIN, pg(), false, args)
}

fn client() -> postgres::Client {
    pg().client(false).unwrap()
}

#[test]
fn connection_and_zulip_service_definitions() {
    let r = run(&[]);
    assert_eq!(r.code, 0, "{}", r.stdout);
    assert!(
        r.text()
            .starts_with("POSTGRES OK - connected to PostgreSQL "),
        "{}",
        r.stdout
    );
    assert!(r.perf("connection_time").value.unwrap() < 1.0);

    // Zulip's services in one run, check_postgres.pl's values: query_time and txn_time
    // 20s/40s, locks 400/600, autovac_freeze 101%/105%, the rest with the defaults.
    let r = run(&[
        "--action",
        "connection,autovac_freeze,backends,disabled_triggers,hitratio,locks,query_time,sequence,timesync,txn_time",
        "-w", "query_time=20 seconds,txn_time=20 seconds,locks=400,autovac_freeze=101%",
        "-c", "query_time=40 seconds,txn_time=40 seconds,locks=600,autovac_freeze=105%",
        // (not the sequence that another test here breaks on purpose)
        "--exclude", "~^(nearly|exact90)$",
    ]);
    assert_eq!(r.code, 0, "{}", r.stdout);
    assert!(
        r.text()
            .starts_with("POSTGRES OK - all OK (connection, autovac_freeze, backends,"),
        "{}",
        r.stdout
    );
    // check_postgres.pl values alert at the value: perfdata says so in Nagios' syntax.
    assert_eq!(r.perf("locks_total").warning.unwrap().to_string(), "@400:");
    assert_eq!(r.perf("query_time").critical.unwrap().to_string(), "@40:");
    assert_eq!(
        r.perf("autovac_freeze_custos")
            .critical
            .unwrap()
            .to_string(),
        "@105:"
    );
    assert!(
        r.stdout.contains("\nlocks: OK - "),
        "one long-output line per action: {}",
        r.stdout
    );
}

#[test]
fn nagios_ranges_keep_nagios_rules() {
    // A Nagios range alerts above its end; the same number as a check_postgres.pl value
    // alerts at it. (A sequence at exactly 90%.)
    client()
        .batch_execute("DROP SEQUENCE IF EXISTS exact90; CREATE SEQUENCE exact90 MAXVALUE 101; SELECT setval('exact90', 91)")
        .unwrap();
    let seq = |w: &str| {
        run(&[
            "--action",
            "sequence",
            "--include",
            "exact90",
            "-w",
            w,
            "-c",
            "99%",
        ])
    };
    assert_eq!(seq("90%").code, 1, "{}", seq("90%").stdout);
    assert_eq!(seq("~:90").code, 0, "{}", seq("~:90").stdout);
    assert_eq!(seq("~:89").code, 1);
    let r = run(&["--action", "hitratio", "-w", "101:"]);
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert!(r.text().ends_with("(warning < 101%)"), "{}", r.stdout);
    let r = run(&[
        "--action",
        "database_size",
        "--include",
        "custos",
        "-c",
        "~:1MiB",
    ]);
    assert_eq!(r.code, 2, "{}", r.stdout);
    assert!(
        r.text()
            .starts_with("POSTGRES CRITICAL - database custos is ")
            && r.text().ends_with("(critical > 1MiB)"),
        "{}",
        r.stdout
    );
}

#[test]
fn refused_and_silent_servers() {
    let port = custos_harness::util::free_port().unwrap();
    let r = run_plugin_with(clean_command(BIN).args([
        "-H",
        "127.0.0.1",
        "-p",
        &port.to_string(),
        "--action",
        "backends",
    ]));
    assert_eq!(r.code, 2, "{}", r.stdout);
    assert!(r.text().contains("Connection refused"), "{}", r.stdout);
    assert_silent_peer_times_out(BIN, &["--action", "connection,locks"]);
}

#[test]
fn bad_arguments_are_unknown_and_say_why() {
    let r = run(&["--action", "backends,nosuch"]);
    assert_eq!(r.code, 3);
    assert!(
        r.text().starts_with(
            "POSTGRES UNKNOWN - unknown action 'nosuch' (known: archive_ready, autovac_freeze,"
        ),
        "{}",
        r.stdout
    );
    let r = run(&["--action", "pgb_pool_cl_active"]);
    assert_eq!(
        (r.code, r.text()),
        (
            3,
            "POSTGRES UNKNOWN - action pgb_pool_cl_active is not supported: it needs pgbouncer"
        )
    );
    let r = run(&["--action", "locks", "-w", "5min"]);
    assert_eq!(r.code, 3);
    assert!(
        r.text().contains("invalid warning for locks"),
        "{}",
        r.stdout
    );
    let r = run(&["--action", "database_size"]);
    assert_eq!(
        (r.code, r.text()),
        (
            3,
            "POSTGRES UNKNOWN - database_size: must provide a warning and/or critical size"
        )
    );
    let r = run(&["--action", "hot_standby_delay", "-w", "1"]);
    assert!(r.text().contains("needs two servers"), "{}", r.stdout);
}

#[test]
fn backends_forms() {
    let _held: Vec<postgres::Client> = (0..3).map(|_| client()).collect();
    let r = run(&["--action", "backends", "-w", "5%", "-c", "50%"]);
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert!(r.text().contains(" of 40 connections ("), "{}", r.stdout);
    assert!(
        r.text().ends_with("(warning >= 2)"),
        "5% of 40: {}",
        r.stdout
    );
    assert!(r.perf("backends").value.unwrap() >= 4.0);
    assert_eq!(r.perf("backends").max, Some(40.0));
    let r = run(&["--action", "backends", "-c", "-38"]);
    assert_eq!(r.code, 2, "38 or fewer free slots: {}", r.stdout);
    let r = run(&["--action", "backends", "--include", "no_such_db"]);
    assert_eq!(
        (r.code, r.text()),
        (
            3,
            "POSTGRES UNKNOWN - No matching databases found due to exclusion/inclusion options"
        )
    );
}

#[test]
fn freeze_and_wraparound_with_filters() {
    let r = run(&["--action", "autovac_freeze,txn_wraparound"]);
    assert_eq!(r.code, 0, "{}", r.stdout);
    let r = run(&[
        "--action",
        "txn_wraparound",
        "-c",
        "1",
        "--include",
        "custos",
    ]);
    assert_eq!(r.code, 2, "{}", r.stdout);
    assert!(
        r.text()
            .starts_with("POSTGRES CRITICAL - database custos is "),
        "{}",
        r.stdout
    );
    assert_eq!(
        r.perfdata().len(),
        1,
        "--include keeps one database: {}",
        r.stdout
    );
    let r = run(&[
        "--action",
        "autovac_freeze",
        "-w",
        "@0:100",
        "--exclude",
        "~^template",
    ]);
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert!(!r.stdout.contains("template1"), "{}", r.stdout);
}

#[test]
fn long_queries_and_transactions() {
    let sleeper = std::thread::spawn(|| {
        client().batch_execute("SELECT pg_sleep(4)").unwrap();
    });
    let mut idle = client();
    idle.batch_execute("BEGIN; SELECT 1").unwrap();
    std::thread::sleep(Duration::from_millis(2100));
    let r = run(&[
        "--action",
        "query_time,txn_time,txn_idle",
        "-w",
        "query_time=1,txn_idle=1",
        "-c",
        "txn_time=1",
    ]);
    assert_eq!(r.code, 2, "{}", r.stdout);
    assert!(
        r.text()
            .starts_with("POSTGRES CRITICAL - txn_time: longest open transaction "),
        "worst first: {}",
        r.stdout
    );
    assert!(
        r.text().contains("query_time: longest running query 2"),
        "{}",
        r.stdout
    );
    assert!(r.text().contains("(pid "), "{}", r.stdout);
    assert!(
        r.text().contains("txn_idle: longest idle transaction "),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("SELECT pg_sleep(4)"),
        "the query is in the long output: {}",
        r.stdout
    );
    let r = run(&["--action", "query_time,txn_time", "-w", "20s", "-c", "40s"]);
    assert_eq!(r.code, 0, "{}", r.stdout);
    idle.batch_execute("ROLLBACK").unwrap();
    sleeper.join().unwrap();
}

#[test]
fn sequences_near_their_end() {
    let mut c = client();
    c.batch_execute("DROP SEQUENCE IF EXISTS nearly; CREATE SEQUENCE nearly MAXVALUE 101; SELECT setval('nearly', 91)")
        .unwrap();
    let r = run(&["--action", "sequence", "--include", "nearly"]);
    assert_eq!(
        (r.code, r.text()),
        (
            1,
            "POSTGRES WARNING - sequence public.nearly is 90% used (10 calls left) (warning >= 85%)"
        )
    );
    c.batch_execute("SELECT setval('nearly', 98)").unwrap();
    let r = run(&["--action", "sequence", "--include", "~^near"]);
    assert_eq!(r.code, 2, "{}", r.stdout);
    assert_eq!(r.perf("public.nearly").value, Some(97.0));
}

#[test]
fn output_simple_and_showperf() {
    let r = run(&[
        "--action",
        "database_size",
        "--include",
        "custos",
        "-w",
        "1TB",
        "--output=simple",
    ]);
    assert_eq!(r.code, 0, "{}", r.stdout);
    assert!(
        r.stdout.trim().parse::<u64>().is_ok_and(|n| n > 1_000_000),
        "the size alone: {}",
        r.stdout
    );
    let r = run(&["--action", "timesync", "--showperf=0"]);
    assert_eq!(r.code, 0);
    assert!(!r.stdout.contains('|'), "{}", r.stdout);
}

#[test]
fn help_lists_every_action_with_its_defaults() {
    let r = custos_harness::plugin::run_plugin(BIN, ["--help"]);
    assert_eq!(r.code, 3);
    for a in check_postgres::ACTIONS {
        let line = r
            .stdout
            .lines()
            .find(|l| l.trim_start().starts_with(&format!("{} ", a.name)))
            .unwrap_or_else(|| panic!("--help does not list {}: {}", a.name, r.stdout));
        for d in [a.warning, a.critical].into_iter().flatten() {
            assert!(line.contains(d), "{}: {line}", a.name);
        }
    }
    assert!(r.stdout.contains(
        "  locks                locks held or awaited (total=, waiting=, or per mode) [100 / 150]"
    ));
}
