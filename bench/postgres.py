#!/usr/bin/env python3
"""Wall time, CPU (user+sys) and peak RSS of custos' PostgreSQL checks next to check_pgsql
(monitoring-plugins) and check_postgres.pl (Debian's check-postgres), on the same cluster,
over TCP with the same password (bench/common.py measures).

Run under the harness (make bench):  custos-harness run -- python3 bench/postgres.py BINDIR
"""
import json, os, sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import compare, header  # noqa: E402

bindir = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "target/release")
svc = json.load(open(os.environ["CUSTOS_SERVICES"]))["postgres"]
host, port, rport = "127.0.0.1", str(svc["primary_port"]), str(svc["replica_port"])
user, db = svc["user"], svc["dbname"]
env = dict(os.environ, PGPASSWORD=svc["password"], HOME="/nonexistent")
for k in ("PGHOST", "PGPORT", "PGUSER", "PGDATABASE", "PGSERVICE"):
    env.pop(k, None)

conn = ["-H", host, "-p", port, "-U", user, "-d", db]
pl = ["/usr/bin/check_postgres", "--host", host, "--port", port, "--dbuser", user, "--dbname", db]
groups = [
    ("connection", [
        ("custos check_postgres --action=connection", [f"{bindir}/check_postgres", *conn, "--action", "connection"]),
        ("check_pgsql", ["/usr/lib/nagios/plugins/check_pgsql", "-H", host, "-P", port, "-l", user, "-d", db]),
        ("check_postgres.pl --action=connection", [*pl, "--action=connection"]),
    ]),
    ("backends", [
        ("custos check_postgres --action=backends", [f"{bindir}/check_postgres", *conn, "--action", "backends"]),
        ("check_postgres.pl --action=backends", [*pl, "--action=backends"]),
    ]),
    ("replication lag", [
        ("custos check_postgres_replication_lag", [f"{bindir}/check_postgres_replication_lag", *conn, "--replicas-warning", "1:"]),
        ("check_postgres.pl --action=hot_standby_delay", [
            "/usr/bin/check_postgres", "--action=hot_standby_delay", "--host", f"{host},{host}",
            "--port", f"{port},{rport}", "--dbuser", user, "--dbname", db, "-w", "16777216", "-c", "83886080"]),
    ]),
]

header()
for title, cmds in groups:
    compare(title, cmds, env)
