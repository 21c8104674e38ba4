//! check_postgres.pl as the oracle: the same command line, on the same cluster in the same
//! situation, through check_postgres.pl (Debian's check-postgres, /usr/bin/check_postgres) and
//! through custos; the exit codes must be equal, and custos' perfdata must parse strictly.
//! Every action that applies to PostgreSQL 12+ is driven into OK, WARNING and CRITICAL for
//! real (bloat from deletes, old vacuums, WAL, a prepared transaction, a long query, an idle
//! transaction, a lock wait, a paused replica...). Where custos answers differently on
//! purpose, the case says so and expects both codes; the README lists the same cases.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

use custos_harness::pgcheck::clean_command;
use custos_harness::plugin::perfdata_text;
use plugin_core::Perfdata;
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_check_postgres");
const PL: &str = "/usr/bin/check_postgres";

/// A private primary + replica for this file (it pauses replay, creates slots and prepared
/// transactions).
fn pg() -> &'static custos_harness::Postgres {
    static PG: OnceLock<custos_harness::Postgres> = OnceLock::new();
    PG.get_or_init(|| custos_harness::private_postgres("oracle"))
}

/// The test database (the per-database actions look at what the tests create there).
fn db() -> &'static str {
    &pg().dbname
}

fn sql(q: &str) {
    pg().client(false).unwrap().batch_execute(q).unwrap();
}

/// A run of one tool: exit code and output.
#[derive(Debug)]
struct Out {
    code: i32,
    text: String,
}

fn conn_args(port: u16) -> Vec<String> {
    vec![
        "--host=127.0.0.1".into(),
        format!("--port={port}"),
        format!("--dbuser={}", pg().user),
    ]
}

fn exec(bin: &str, args: &[String]) -> Out {
    let mut cmd: Command = clean_command(bin);
    cmd.args(args)
        .env("PGPASSWORD", &pg().password)
        .env("LC_ALL", "C")
        .env("LANG", "C")
        .current_dir("/tmp");
    let out = cmd.output().unwrap();
    Out {
        code: out.status.code().unwrap_or(-1),
        text: format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    }
}

/// What a case expects: the same code from both, or (on purpose) these two.
enum Expect {
    Same(i32),
    Differ {
        pl: i32,
        custos: i32,
        why: &'static str,
    },
}

/// Runs `args` (with the connection to the primary, database `db`) through both tools and
/// checks the expectation; returns custos' output.
fn case(db: &str, args: &[&str], expect: Expect) -> String {
    let mut all = conn_args(pg().primary_port);
    all.push(format!("--dbname={db}"));
    all.extend(args.iter().map(|a| a.to_string()));
    compare(&all, expect)
}

fn compare(all: &[String], expect: Expect) -> String {
    let pl = exec(PL, all);
    let us = exec(BIN, all);
    let shown = format!(
        "{all:?}\n  check_postgres.pl: {} {}\n  custos:            {} {}",
        pl.code,
        pl.text.trim_end(),
        us.code,
        us.text.trim_end()
    );
    match expect {
        Expect::Same(code) => {
            assert_eq!(pl.code, us.code, "different states for {shown}");
            assert_eq!(us.code, code, "unexpected state for {shown}");
        }
        Expect::Differ {
            pl: p,
            custos: c,
            why,
        } => {
            assert_eq!((pl.code, us.code), (p, c), "{why}: {shown}");
        }
    }
    if let Some(perf) = perfdata_text(&us.text) {
        Perfdata::parse_list(perf).unwrap_or_else(|e| panic!("{shown}: perfdata: {e}"));
    }
    us.text
}

fn same(db: &str, args: &[&str], code: i32) -> String {
    case(db, args, Expect::Same(code))
}

#[test]
fn connection_backends_and_server_wide_numbers() {
    same(db(), &["--action=connection"], 0);
    same(db(), &["--action=backends"], 0);
    same(db(), &["--action=backends", "-w", "1", "-c", "1000"], 1);
    same(db(), &["--action=backends", "-c", "1"], 2);
    same(db(), &["--action=backends", "-w", "-30", "-c", "-1"], 0);
    same(db(), &["--action=backends", "-w", "-39", "-c", "-1"], 1);
    same(db(), &["--action=backends", "-c", "-39"], 2);
    same(db(), &["--action=backends", "-w", "1%", "-c", "99%"], 1);
    same(db(), &["--action=backends", "-w", "5", "-c", "4"], 3);
    same(db(), &["--action=autovac_freeze"], 0);
    same(
        db(),
        &["--action=autovac_freeze", "-w", "0%", "-c", "101%"],
        1,
    );
    same(db(), &["--action=autovac_freeze", "-c", "0%"], 2);
    case(
        db(),
        &["--action=autovac_freeze", "-w", "90"],
        Expect::Differ {
            pl: 3,
            custos: 0,
            why: "custos also takes a percentage without its % sign",
        },
    );
    same(db(), &["--action=txn_wraparound"], 0);
    same(
        db(),
        &["--action=txn_wraparound", "-w", "1", "-c", "1999999999"],
        1,
    );
    same(db(), &["--action=txn_wraparound", "-w", "1", "-c", "2"], 2);
    same(db(), &["--action=timesync"], 0);
    same(db(), &["--action=timesync", "-w", "0", "-c", "5"], 1);
    same(db(), &["--action=timesync", "-c", "0"], 2);
    same(db(), &["--action=hitratio"], 0);
    same(db(), &["--action=hitratio", "-w", "1%"], 0);
    same(db(), &["--action=hitratio", "-w", "100%"], 1);
    same(db(), &["--action=hitratio", "-c", "100%"], 2);
    same(db(), &["--action=commitratio", "-w", "1%"], 0);
    same(db(), &["--action=commitratio", "-w", "100%", "-c", "1%"], 1);
    same(db(), &["--action=commitratio", "-c", "100%"], 2);
    same(db(), &["--action=database_size"], 3);
    same(db(), &["--action=database_size", "-w", "1TB"], 0);
    same(db(), &["--action=database_size", "-w", "1", "-c", "1TB"], 1);
    same(db(), &["--action=database_size", "-c", "1 kB"], 2);
    same(db(), &["--action=dbstats"], 0);
    same(db(), &["--action=fsm_pages"], 3);
    same(db(), &["--action=fsm_relations"], 3);
}

#[test]
fn locks_and_waits() {
    same(db(), &["--action=locks"], 0);
    same(db(), &["--action=locks", "-w", "1", "-c", "1000"], 1);
    same(db(), &["--action=locks", "-c", "1"], 2);
    same(db(), &["--action=locks", "-c", "total=1"], 2);
    same(db(), &["--action=locks", "-w", "total=1000:waiting=1"], 0);
    // A session waits for a lock another holds.
    sql("CREATE TABLE IF NOT EXISTS lockme (id int)");
    let mut holder = pg().client(false).unwrap();
    holder
        .batch_execute("BEGIN; LOCK TABLE lockme IN ACCESS EXCLUSIVE MODE")
        .unwrap();
    let conn = pg().conn_str(false);
    let waiter = std::thread::spawn(move || {
        let mut c = postgres::Client::connect(&conn, postgres::NoTls).unwrap();
        let _ = c.batch_execute("SET statement_timeout = '20s'; SELECT * FROM lockme");
    });
    custos_harness::util::wait_until("a waiting lock", Duration::from_secs(30), || {
        let n: i64 = pg()
            .client(false)
            .unwrap()
            .query_one("SELECT count(*) FROM pg_locks WHERE NOT granted", &[])
            .unwrap()
            .get(0);
        (n > 0).then_some(())
    })
    .unwrap();
    same(
        db(),
        &["--action=locks", "-w", "waiting=1", "-c", "waiting=100"],
        1,
    );
    same(db(), &["--action=locks", "-c", "total=1000:waiting=1"], 2);
    // lockwait is check_postgres.pl 2.26's; 2.25 has none: custos' own states.
    let out = exec(
        BIN,
        &[
            conn_args(pg().primary_port),
            vec![
                "--dbname=postgres".into(),
                "--action=lockwait".into(),
                "-w".into(),
                "0s".into(),
            ],
        ]
        .concat(),
    );
    assert_eq!(out.code, 1, "{}", out.text);
    assert!(
        out.text.contains("1 session waiting for locks"),
        "{}",
        out.text
    );
    holder.batch_execute("ROLLBACK").unwrap();
    waiter.join().unwrap();
}

#[test]
fn long_queries_and_transactions() {
    same(db(), &["--action=query_time"], 3);
    same(db(), &["--action=txn_time"], 3);
    same(db(), &["--action=query_time", "-w", "1000"], 0);
    let conn = pg().conn_str(false);
    let sleeper = std::thread::spawn(move || {
        let mut c = postgres::Client::connect(&conn, postgres::NoTls).unwrap();
        c.batch_execute("SELECT pg_sleep(8)").unwrap();
    });
    let mut idle = pg().client(false).unwrap();
    idle.batch_execute("BEGIN; SELECT 1").unwrap();
    std::thread::sleep(Duration::from_secs(3));
    same(db(), &["--action=query_time", "-w", "2", "-c", "1000"], 1);
    same(
        db(),
        &["--action=query_time", "-w", "2 seconds", "-c", "1 minute"],
        1,
    );
    same(db(), &["--action=query_time", "-c", "2s"], 2);
    same(db(), &["--action=query_time", "-w", "+1"], 1);
    same(db(), &["--action=query_time", "-c", "1 for 2 seconds"], 2);
    same(db(), &["--action=query_time", "-w", "+50"], 0);
    same(db(), &["--action=txn_time", "-w", "2", "-c", "1000"], 1);
    same(db(), &["--action=txn_time", "-c", "2"], 2);
    same(db(), &["--action=txn_idle", "-w", "2", "-c", "1000"], 1);
    same(db(), &["--action=txn_idle", "-c", "2"], 2);
    same(db(), &["--action=txn_idle", "-w", "1000"], 0);
    idle.batch_execute("ROLLBACK").unwrap();
    sleeper.join().unwrap();
}

#[test]
fn triggers_sequences_prepared_transactions() {
    same(db(), &["--action=disabled_triggers"], 0);
    sql("CREATE TABLE IF NOT EXISTS trig (id int);
         CREATE OR REPLACE FUNCTION trig_f() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN RETURN NEW; END$$;
         DROP TRIGGER IF EXISTS trig_t ON trig;
         CREATE TRIGGER trig_t BEFORE INSERT ON trig FOR EACH ROW EXECUTE FUNCTION trig_f();
         ALTER TABLE trig DISABLE TRIGGER trig_t;");
    same(db(), &["--action=disabled_triggers"], 2);
    same(
        db(),
        &["--action=disabled_triggers", "-w", "1", "-c", "2"],
        1,
    );
    same(db(), &["--action=disabled_triggers", "-w", "0"], 3);
    sql("ALTER TABLE trig ENABLE TRIGGER trig_t");

    same(db(), &["--action=sequence"], 0);
    sql("DROP SEQUENCE IF EXISTS seq_near; CREATE SEQUENCE seq_near MAXVALUE 100; SELECT setval('seq_near', 90)");
    same(db(), &["--action=sequence"], 1);
    sql("SELECT setval('seq_near', 97)");
    same(db(), &["--action=sequence"], 2);
    same(db(), &["--action=sequence", "-w", "98%", "-c", "99%"], 0);
    sql("DROP SEQUENCE seq_near");

    same(db(), &["--action=prepared_txns"], 0);
    let mut c = pg().client(false).unwrap();
    c.batch_execute("BEGIN; CREATE TEMP TABLE IF NOT EXISTS x (i int); ROLLBACK")
        .unwrap();
    c.batch_execute("BEGIN; SELECT 1; PREPARE TRANSACTION 'oracle_gid'")
        .unwrap();
    std::thread::sleep(Duration::from_millis(2100));
    same(db(), &["--action=prepared_txns"], 1);
    same(db(), &["--action=prepared_txns", "-c", "1"], 2);
    same(
        db(),
        &["--action=prepared_txns", "-w", "100", "-c", "200"],
        0,
    );
    c.batch_execute("ROLLBACK PREPARED 'oracle_gid'").unwrap();
}

#[test]
fn sizes_and_bloat() {
    sql(
        "DROP TABLE IF EXISTS bloated; CREATE TABLE bloated (id int PRIMARY KEY, pad text);
         INSERT INTO bloated SELECT g, repeat('x', 200) FROM generate_series(1, 20000) g;
         DELETE FROM bloated WHERE id % 10 <> 0; ANALYZE bloated;",
    );
    for action in [
        "relation_size",
        "table_size",
        "index_size",
        "indexes_size",
        "total_relation_size",
    ] {
        let a = format!("--action={action}");
        same(db(), &[&a], 3);
        same(db(), &[&a, "-w", "1TB"], 0);
        same(db(), &[&a, "-w", "1", "-c", "1 TB"], 1);
        same(db(), &[&a, "-c", "100kB"], 2);
        same(db(), &[&a, "-c", "1 GB"], 0);
    }
    same(db(), &["--action=bloat"], 0);
    same(db(), &["--action=bloat", "-w", "1MB", "-c", "1TB"], 1);
    same(db(), &["--action=bloat", "-c", "1MB"], 2);
    same(db(), &["--action=bloat", "-c", "1MB and 200%"], 2);
    same(db(), &["--action=bloat", "-w", "1TB or 100000%"], 0);
}

#[test]
fn vacuum_and_analyze_times() {
    sql("CREATE TABLE IF NOT EXISTS vac (id int); INSERT INTO vac VALUES (1)");
    sql("VACUUM vac");
    sql("ANALYZE vac");
    // Older than the 1-second thresholds below (a lower bound: a busy machine only adds).
    std::thread::sleep(Duration::from_millis(2100));
    for action in ["last_vacuum", "last_analyze"] {
        let a = format!("--action={action}");
        same(db(), &[&a], 0);
        same(db(), &[&a, "-w", "1s", "-c", "1 day"], 1);
        same(db(), &[&a, "-c", "1 second"], 2);
        same(db(), &[&a, "-w", "2 days", "-c", "1 day"], 3);
    }
    // Never autovacuumed here: both UNKNOWN "no table has ever been".
    same(db(), &["--action=last_autovacuum", "-w", "1s"], 3);
}

#[test]
fn wal_slots_checkpoints_and_the_cluster() {
    same(db(), &["--action=wal_files", "-w", "1000", "-c", "2000"], 0);
    let wal: i64 = pg()
        .client(false)
        .unwrap()
        .query_one(
            "SELECT count(*) FROM pg_ls_waldir() WHERE name ~ '^[0-9A-F]{24}$'",
            &[],
        )
        .unwrap()
        .get(0);
    if wal >= 2 {
        let w = (wal - 1).to_string();
        same(db(), &["--action=wal_files", "-w", &w, "-c", "1000"], 1);
        same(db(), &["--action=wal_files", "-c", &w], 2);
    }
    same(db(), &["--action=wal_files", "-w", "0"], 3);
    same(db(), &["--action=archive_ready"], 0);
    // Two segments waiting for the archiver (files the server lists and otherwise leaves alone
    // while archive_mode is off): check_postgres.pl 2.25 looks in pg_xlog, gone since
    // PostgreSQL 10, and always counts 0.
    let status = pg().primary_data.join("pg_wal/archive_status");
    let ready: Vec<_> = [
        "0000000100000000000000F1.ready",
        "0000000100000000000000F2.ready",
    ]
    .iter()
    .map(|n| status.join(n))
    .collect();
    for f in &ready {
        std::fs::write(f, "").unwrap();
    }
    case(
        db(),
        &["--action=archive_ready", "-w", "1", "-c", "10"],
        Expect::Differ {
            pl: 0,
            custos: 1,
            why: "check_postgres.pl 2.25 counts .ready files in pg_xlog, gone since PostgreSQL 10",
        },
    );
    case(
        db(),
        &["--action=archive_ready", "-c", "1"],
        Expect::Differ {
            pl: 0,
            custos: 2,
            why: "the same, critical",
        },
    );
    for f in &ready {
        std::fs::remove_file(f).unwrap();
    }

    same(db(), &["--action=replication_slots"], 3);
    same(db(), &["--action=replication_slots", "-w", "1GB"], 0);
    sql(
        "SELECT pg_create_physical_replication_slot('oracle_slot', true);
         CREATE TABLE IF NOT EXISTS walgen AS SELECT g FROM generate_series(1, 50000) g;",
    );
    same(
        db(),
        &["--action=replication_slots", "-w", "1", "-c", "1TB"],
        1,
    );
    same(db(), &["--action=replication_slots", "-c", "1 kB"], 2);
    sql("SELECT pg_drop_replication_slot('oracle_slot')");

    // checkpoint and cluster_id read the data directory (pg_controldata), as check_postgres.pl.
    sql("CHECKPOINT");
    std::thread::sleep(Duration::from_millis(2100));
    let dir = format!("--datadir={}", pg().primary_data.display());
    same(db(), &["--action=checkpoint", &dir, "-w", "1000"], 0);
    same(
        db(),
        &["--action=checkpoint", &dir, "-w", "1", "-c", "1000"],
        1,
    );
    same(db(), &["--action=checkpoint", &dir, "-c", "1"], 2);
    same(
        db(),
        &["--action=checkpoint", &dir, "-w", "1000", "--assume-prod"],
        0,
    );
    same(
        db(),
        &[
            "--action=checkpoint",
            &dir,
            "-w",
            "1000",
            "--assume-standby-mode",
        ],
        2,
    );
    // custos also asks the server when there is no --datadir (check_postgres.pl cannot).
    let out = exec(
        BIN,
        &[
            conn_args(pg().primary_port),
            vec![
                "--dbname=postgres".into(),
                "--action=checkpoint".into(),
                "-w".into(),
                "1000".into(),
            ],
        ]
        .concat(),
    );
    assert_eq!(out.code, 0, "{}", out.text);

    let text = same(db(), &["--action=cluster_id", &dir, "-c", "0"], 3);
    let id = text
        .split("cluster_id: ")
        .nth(1)
        .unwrap()
        .split(|c: char| !c.is_ascii_digit())
        .next()
        .unwrap()
        .to_string();
    same(db(), &["--action=cluster_id", &dir, "-c", &id], 0);
    same(db(), &["--action=cluster_id", &dir, "-c", "123"], 2);
    same(db(), &["--action=cluster_id", &dir, "-w", "123"], 1);
    same(
        db(),
        &["--action=cluster_id", &dir, "-w", "1", "-c", "2"],
        3,
    );
}

#[test]
fn two_servers_and_the_schema() {
    let p = pg();
    let two = |args: &[&str], expect: Expect| {
        let mut all = vec![
            "--host=127.0.0.1".to_string(),
            format!("--port={},{}", p.primary_port, p.replica_port),
            format!("--dbuser={}", p.user),
            // The test's database: sql() writes the replicate_row table there.
            format!("--dbname={}", p.dbname),
        ];
        all.extend(args.iter().map(|a| a.to_string()));
        compare(&all, expect)
    };
    two(
        &[
            "--action=hot_standby_delay",
            "-w",
            "1000000000",
            "-c",
            "2000000000",
        ],
        Expect::Same(0),
    );
    // A size with a unit is not one of its values (bytes, a time, or both).
    two(
        &["--action=hot_standby_delay", "-w", "1GB", "-c", "2GB"],
        Expect::Same(3),
    );
    two(&["--action=hot_standby_delay"], Expect::Same(3));
    // Replay paused and WAL written on the primary: the standby falls behind.
    let mut r = p.client(true).unwrap();
    r.batch_execute("SELECT pg_wal_replay_pause()").unwrap();
    sql("CREATE TABLE IF NOT EXISTS lag AS SELECT g FROM generate_series(1, 20000) g; INSERT INTO lag SELECT * FROM lag;");
    custos_harness::util::wait_until("the standby to receive", Duration::from_secs(30), || {
        let received: bool = r
            .query_one(
                "SELECT pg_last_wal_receive_lsn() > pg_last_wal_replay_lsn()",
                &[],
            )
            .unwrap()
            .get(0);
        received.then_some(())
    })
    .unwrap();
    two(
        &["--action=hot_standby_delay", "-w", "1", "-c", "1000000000"],
        Expect::Same(1),
    );
    two(&["--action=hot_standby_delay", "-c", "1"], Expect::Same(2));
    r.batch_execute("SELECT pg_wal_replay_resume()").unwrap();

    // replicate_row: a row flipped on the primary, seen on the replica.
    sql(
        "CREATE TABLE IF NOT EXISTS reprow (id int PRIMARY KEY, val text);
         INSERT INTO reprow VALUES (1, 'a') ON CONFLICT DO NOTHING;",
    );
    custos_harness::util::wait_until("the row on the replica", Duration::from_secs(30), || {
        let n: i64 = r
            .query_one("SELECT count(*) FROM reprow", &[])
            .map(|row| row.get(0))
            .unwrap_or(0);
        (n == 1).then_some(())
    })
    .unwrap();
    two(
        &[
            "--action=replicate_row",
            "--repinfo=reprow,id,1,val,a,b",
            "-w",
            "5",
            "-c",
            "10",
        ],
        Expect::Same(0),
    );
    two(&["--action=replicate_row", "-w", "5"], Expect::Same(3));

    // same_schema: two databases of one server.
    // One statement per call: a multi-statement string is one transaction, which DROP DATABASE
    // refuses.
    for q in [
        "DROP DATABASE IF EXISTS s1",
        "DROP DATABASE IF EXISTS s2",
        "CREATE DATABASE s1",
        "CREATE DATABASE s2",
    ] {
        sql(q);
    }
    let in_db = |db: &str, q: &str| {
        let conn = p
            .conn_str(false)
            .replace(&format!("dbname={}", p.dbname), &format!("dbname={db}"));
        postgres::Client::connect(&conn, postgres::NoTls)
            .unwrap()
            .batch_execute(q)
            .unwrap();
    };
    let schema = "CREATE TABLE t (id int PRIMARY KEY, name text NOT NULL);
                  CREATE INDEX t_name ON t (name);
                  CREATE FUNCTION f(i int) RETURNS int LANGUAGE sql AS 'SELECT i + 1';";
    in_db("s1", schema);
    in_db("s2", schema);
    let both = |expect| {
        let mut all = conn_args(p.primary_port);
        all.push("--dbname=s1,s2".into());
        all.push("--action=same_schema".into());
        compare(&all, expect)
    };
    both(Expect::Differ {
        pl: 2,
        custos: 0,
        why: "identical schemas: check_postgres.pl 2.25 compares every pg_attribute column \
              (SELECT a.*), and on PostgreSQL 15 reports each column's attoptions as different",
    });
    in_db("s2", "ALTER TABLE t ADD COLUMN extra int");
    both(Expect::Same(2));
}

#[test]
fn custom_query_runtime_settings_and_version() {
    same(
        db(),
        &[
            "--action=custom_query",
            "--query=SELECT 5 AS result",
            "-w",
            "3",
            "-c",
            "10",
        ],
        1,
    );
    same(
        db(),
        &[
            "--action=custom_query",
            "--query=SELECT 5 AS result",
            "-c",
            "5",
        ],
        2,
    );
    same(
        db(),
        &[
            "--action=custom_query",
            "--query=SELECT 5 AS result, 7 AS seven",
            "-w",
            "10",
        ],
        0,
    );
    same(
        db(),
        &[
            "--action=custom_query",
            "--query=SELECT 5 AS result",
            "-w",
            "6",
            "--reverse",
        ],
        1,
    );
    same(
        db(),
        &[
            "--action=custom_query",
            "--query=SELECT 'abc'::text AS result",
            "--valtype=string",
            "-c",
            "abc",
        ],
        2,
    );
    same(
        db(),
        &["--action=custom_query", "--query=SELECT 5 AS result"],
        3,
    );
    same(
        db(),
        &[
            "--action=custom_query",
            "--query=SELECT 5 AS other",
            "-w",
            "1",
        ],
        3,
    );
    same(
        db(),
        &[
            "--action=custom_query",
            "--query=SELECT 3600 AS result",
            "--valtype=time",
            "-w",
            "30 minutes",
        ],
        1,
    );

    same(
        db(),
        &["--action=query_runtime", "--queryname=pg_class", "-w", "10"],
        0,
    );
    sql("CREATE OR REPLACE VIEW slow AS SELECT 1 AS one FROM pg_sleep(1.2)");
    same(
        db(),
        &[
            "--action=query_runtime",
            "--queryname=slow",
            "-w",
            "1",
            "-c",
            "10",
        ],
        1,
    );
    same(
        db(),
        &[
            "--action=query_runtime",
            "--queryname=slow",
            "-c",
            "1 second",
        ],
        2,
    );
    same(
        db(),
        &[
            "--action=query_runtime",
            "--queryname=pg_class",
            "-w",
            "5",
            "-c",
            "1",
        ],
        3,
    );
    same(db(), &["--action=query_runtime", "--queryname=pg_class"], 3);

    same(db(), &["--action=settings_checksum"], 3);
    same(db(), &["--action=settings_checksum", "-c", "0"], 3);
    same(
        db(),
        &[
            "--action=settings_checksum",
            "-c",
            "00000000000000000000000000000000",
        ],
        2,
    );
    // Each tool's own checksum matches itself (custos leaves session settings out).
    for bin in [PL, BIN] {
        let mut all = conn_args(pg().primary_port);
        all.extend([
            "--dbname=postgres".into(),
            "--action=settings_checksum".into(),
            "-c".into(),
            "0".into(),
        ]);
        let out = exec(bin, &all);
        let sum = out
            .text
            .split("checksum: ")
            .nth(1)
            .unwrap()
            .chars()
            .take(32)
            .collect::<String>();
        all.truncate(all.len() - 1);
        all.push(sum);
        assert_eq!(exec(bin, &all).code, 0, "{bin}: {}", out.text);
    }

    let v: String = pg()
        .client(false)
        .unwrap()
        .query_one("SELECT current_setting('server_version')", &[])
        .unwrap()
        .get(0);
    let full = v.split_whitespace().next().unwrap().to_string();
    let major = full.split('.').next().unwrap().to_string();
    same(db(), &["--action=version", "-c", &full], 0);
    same(db(), &["--action=version", "-c", "9.6"], 2);
    same(db(), &["--action=version", "-w", "9.6"], 1);
    same(db(), &["--action=version"], 3);
    // A major version alone: check_postgres.pl 2.25 reads 15.20 as major 15.2 and warns.
    let minor_two_digits = full.split('.').nth(1).is_some_and(|m| m.len() == 2);
    case(
        db(),
        &["--action=version", "-w", &major],
        if minor_two_digits {
            Expect::Differ {
                pl: 1,
                custos: 0,
                why: "check_postgres.pl misreads a two-digit minor version",
            }
        } else {
            Expect::Same(0)
        },
    );
}

#[test]
fn check_postgres_pl_command_lines_run_unchanged() {
    // Zulip's commands.cfg spelling, the ITL's argument order, symlink names, -db.
    same(
        db(),
        &[
            "--action",
            "query_time",
            "--warning=20 seconds",
            "--critical=40 seconds",
        ],
        0,
    );
    same(
        db(),
        &["--action=locks", "--warning=400", "--critical=600"],
        0,
    );
    same(
        db(),
        &[
            "--action=autovac_freeze",
            "--warning=101%",
            "--critical=105%",
        ],
        0,
    );
    same(db(), &["--action", "backends", "-w", "95%", "-c", "98%"], 0);
    let mut all = vec![
        "-H".to_string(),
        "127.0.0.1".into(),
        "-p".into(),
        pg().primary_port.to_string(),
        "-u".into(),
        pg().user.clone(),
        "-db".into(),
        "postgres".into(),
        "--action".into(),
        "connection".into(),
    ];
    compare(&all, Expect::Same(0));
    // Installed as check_postgres_<action>: the action comes from the name.
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("check_postgres_timesync");
    std::os::unix::fs::symlink(BIN, &link).unwrap();
    all.truncate(all.len() - 2);
    let out = exec(link.to_str().unwrap(), &all);
    assert_eq!(out.code, 0, "{}", out.text);
    assert!(
        out.text
            .starts_with("POSTGRES OK - server clock differs by"),
        "{}",
        out.text
    );
    // A server that is not there: check_postgres.pl says ERROR (3) for actions other than
    // connection; custos says CRITICAL (the server is down), on purpose.
    let mut gone = vec![
        "--host=127.0.0.1".to_string(),
        "--port=1".into(),
        format!("--dbuser={}", pg().user),
        "--dbname=postgres".into(),
        "--action=backends".into(),
    ];
    compare(
        &gone,
        Expect::Differ {
            pl: 3,
            custos: 2,
            why: "a server that cannot be reached is CRITICAL in custos",
        },
    );
    gone.pop();
    gone.push("--action=connection".into());
    compare(&gone, Expect::Same(2));
    // No user named anywhere (no --dbuser, PGUSER or service): both connect as postgres, a
    // role this test server does not have.
    let anon = vec![
        "--host=127.0.0.1".to_string(),
        format!("--port={}", pg().primary_port),
        "--action=connection".into(),
    ];
    let out = compare(&anon, Expect::Same(2));
    assert!(out.contains("\"postgres\""), "{out}");
}
