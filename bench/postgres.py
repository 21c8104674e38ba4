#!/usr/bin/env python3
"""Wall time, CPU (user+sys) and peak RSS of custos' PostgreSQL checks next to check_pgsql
(monitoring-plugins) and check_postgres.pl (Debian's check-postgres), on the same cluster,
over TCP with the same password (bench/common.py measures).

Under the harness (make bench runs it through bench/run.py).
"""
import json, os, subprocess, sys, tempfile, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import measure  # noqa: E402


# check_postgres.pl's actions with thresholds both take (its defaults where it has them);
# lockwait is check_postgres.pl 2.26's, and Debian 12 has 2.25.
ACTIONS = [
    ("archive_ready", []), ("autovac_freeze", []), ("backends", []), ("bloat", []),
    ("commitratio", ["-w", "1%"]), ("connection", []), ("database_size", ["-w", "1TB"]),
    ("dbstats", []), ("disabled_triggers", []), ("hitratio", []), ("index_size", ["-w", "1TB"]),
    ("indexes_size", ["-w", "1TB"]), ("last_analyze", []), ("last_autoanalyze", []),
    ("last_autovacuum", []), ("last_vacuum", []), ("locks", []),
    ("prepared_txns", []), ("query_time", ["-w", "1000"]), ("relation_size", ["-w", "1TB"]),
    ("replication_slots", ["-w", "1TB"]), ("sequence", []), ("table_size", ["-w", "1TB"]),
    ("timesync", []), ("total_relation_size", ["-w", "1TB"]), ("txn_idle", ["-w", "1000"]),
    ("txn_time", ["-w", "1000"]), ("txn_wraparound", []), ("version", []),
    ("wal_files", ["-w", "1000", "-c", "2000"]),
]
ACTION_RUNS = int(os.environ.get("ACTION_RUNS", "10"))


def run(bindir):
    svc = json.load(open(os.environ["CUSTOS_SERVICES"]))["postgres"]
    host, port, rport = "127.0.0.1", str(svc["primary_port"]), str(svc["replica_port"])
    user, db = svc["user"], svc["dbname"]
    env = dict(os.environ, PGPASSWORD=svc["password"], HOME="/nonexistent")
    for k in ("PGHOST", "PGPORT", "PGUSER", "PGDATABASE", "PGSERVICE"):
        env.pop(k, None)

    conn = ["-H", host, "-p", port, "-U", user, "-d", db]
    pl = ["/usr/bin/check_postgres", "--host", host, "--port", port, "--dbuser", user, "--dbname", db]
    groups = [
        ("pg_connection", [
            ("custos check_postgres --action=connection", [f"{bindir}/check_postgres", *conn, "--action", "connection"]),
            ("check_pgsql", ["/usr/lib/nagios/plugins/check_pgsql", "-H", host, "-P", port, "-l", user, "-d", db]),
            ("check_postgres.pl --action=connection", [*pl, "--action=connection"]),
        ]),
        ("pg_backends", [
            ("custos check_postgres --action=backends", [f"{bindir}/check_postgres", *conn, "--action", "backends"]),
            ("check_postgres.pl --action=backends", [*pl, "--action=backends"]),
        ]),
        ("pg_replication_lag", [
            ("custos check_postgres_replication_lag", [f"{bindir}/check_postgres_replication_lag", *conn, "--replicas-warning", "1:"]),
            ("check_postgres.pl --action=hot_standby_delay", [
                "/usr/bin/check_postgres", "--action=hot_standby_delay", "--host", f"{host},{host}",
                "--port", f"{port},{rport}", "--dbuser", user, "--dbname", db, "-w", "16777216", "-c", "83886080"]),
        ]),
    ]

    for key, cmds in groups:
        measure(key, cmds, env)

    # Every action both tools run here without a second server or a data directory, the same
    # command line through each (the states are compared case by case in
    # crates/check_postgres/tests/oracle.rs; here, the cost).
    for action, extra in ACTIONS:
        argv = [f"--action={action}", *extra]
        measure(action, [
            (f"custos check_postgres --action={action}", [f"{bindir}/check_postgres", *pl[1:], *argv]),
            (f"check_postgres.pl --action={action}", [*pl, *argv]),
        ], env, runs=ACTION_RUNS, section="pg_actions")

    # The Zulip-specific ones, alone (no peer: Zulip's are Python with Django, or gone).
    psql = sorted(p for p in os.listdir("/usr/lib/postgresql"))[-1]
    subprocess.run([f"/usr/lib/postgresql/{psql}/bin/psql", "-X", "-q", "-h", host, "-p", port, "-U", user, "-d", db, "-c",
                    "CREATE SCHEMA IF NOT EXISTS bench; "
                    "CREATE TABLE IF NOT EXISTS bench.fts_update_log (id serial PRIMARY KEY, message_id int NOT NULL); "
                    "CREATE TABLE IF NOT EXISTS bench.zerver_scheduledemail (id serial PRIMARY KEY, "
                    "scheduled_timestamp timestamptz NOT NULL, data text NOT NULL, type smallint NOT NULL);"],
                   env=env, check=True)
    with tempfile.TemporaryDirectory() as d:
        marker = os.path.join(d, "last_postgresql_backup")
        with open(marker, "w") as f:
            f.write(f"{int(time.time()) - 3600}\n")
        for key, name, argv in [
            ("fts_update_log", "custos check_fts_update_log", ["check_fts_update_log", "--table", "bench.fts_update_log"]),
            ("email_deliverer_backlog", "custos check_email_deliverer_backlog",
             ["check_email_deliverer_backlog", "--table", "bench.zerver_scheduledemail"]),
            ("postgres_backup", "custos check_postgres_backup", ["check_postgres_backup", "--marker-file", marker]),
        ]:
            measure(key, [(name, [f"{bindir}/{argv[0]}", *conn, *argv[1:]])], env)


if __name__ == "__main__":
    run(os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "target/release"))
