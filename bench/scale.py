#!/usr/bin/env python3
"""Growth curves: time against the size of the work.
check_worker_memory (and check_procs) over 100, 1,000, 5,000 and 20,000 processes; check_postgres
over 1,000 databases and 10,000 tables next to check_postgres.pl on the same cluster;
check_postgres_replication_lag with 8 streaming replicas; check_postgres_backup
over a WAL archive of 1,000, 10,000 and 100,000 segment files (every segment since the oldest
is looked for); check_queue_worker_errors over 10, 100 and 1,000 error files. (RabbitMQ's curve,
15 to 10,000 queues, is in bench/rabbitmq.py.)
"""
import json, os, subprocess, sys, tempfile, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import measure  # noqa: E402
from host import worker_memory  # noqa: E402

SCALE_RUNS = int(os.environ.get("SCALE_RUNS", "10"))


def wal_name(i):
    # Timeline 1, 16 MiB segments: 256 segments per "log" file number.
    return f"00000001{i // 256:08X}{i % 256:08X}"


def run(bindir):
    for n in (100, 1000, 5000, 20000):
        worker_memory(bindir, n, f"processes_{n}", "scale", SCALE_RUNS)

    svc = json.load(open(os.environ["CUSTOS_SERVICES"]))["postgres"]
    env = dict(os.environ, PGPASSWORD=svc["password"], HOME="/nonexistent")
    conn = ["-H", "127.0.0.1", "-p", str(svc["primary_port"]), "-U", svc["user"], "-d", svc["dbname"]]
    postgres_growth(bindir, svc, env, conn)
    for n in (1000, 10000, 100000):
        with tempfile.TemporaryDirectory() as d:
            archive = os.path.join(d, "wal")
            os.mkdir(archive)
            for i in range(1, n + 1):
                open(os.path.join(archive, wal_name(i)), "w").close()
            marker = os.path.join(d, "marker")
            with open(marker, "w") as f:
                f.write(f"{int(time.time()) - 3600}\n")
            measure(f"wal_{n}", [("custos check_postgres_backup --wal-archive-dir", [
                f"{bindir}/check_postgres_backup", *conn, "--marker-file", marker, "--wal-archive-dir", archive,
            ])], env, SCALE_RUNS, section="scale")

    for n in (10, 100, 1000):
        with tempfile.TemporaryDirectory() as d:
            for q in range(n):
                with open(os.path.join(d, f"queue{q}.errors"), "w") as f:
                    for i in range(5):
                        f.write(f"{time.asctime()}\t[{{\"id\": {i}}}]\n")
            measure(f"error_files_{n}", [("custos check_queue_worker_errors",
                                          [f"{bindir}/check_queue_worker_errors", "--dir", d, "--output-limit", "4096"])],
                    dict(os.environ), SCALE_RUNS, section="scale")


def psql(svc, env, script):
    """Runs `script` (statements one per line, each its own transaction) through one psql."""
    version = sorted(os.listdir("/usr/lib/postgresql"))[-1]
    subprocess.run([f"/usr/lib/postgresql/{version}/bin/psql", "-X", "-q", "-h", "127.0.0.1", "-p", str(svc["primary_port"]),
                    "-U", svc["user"], "-d", svc["dbname"], "-v", "ON_ERROR_STOP=1", "-f", "-"],
                   env=env, check=True, input=script, text=True, stdout=subprocess.DEVNULL)


def postgres_growth(bindir, svc, env, conn):
    """The replication lag check with 8 replicas (the harness adds 7 to its one), then
    check_postgres over 1,000 databases and 10,000 tables (vs check_postgres.pl). The replicas
    come first, while the cluster is small (each is a base backup), and the databases are
    dropped afterwards (each is a copy of template0, about 7.5 MB, on the replica too)."""
    pl = ["/usr/bin/check_postgres", "--host", "127.0.0.1", "--port", str(svc["primary_port"]),
          "--dbuser", svc["user"], "--dbname", svc["dbname"]]
    harness = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "target", "debug", "custos-harness")
    replicas = subprocess.Popen([harness, "replicas", "7"], env=env, stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, text=True)
    try:
        if replicas.stdout.readline().strip() != "ready":
            raise SystemExit("custos-harness replicas 7 did not start its replicas")
        measure("pg_replicas_8", [
            ("custos check_postgres_replication_lag (8 replicas)", [f"{bindir}/check_postgres_replication_lag", *conn]),
            ("check_postgres.pl --action=hot_standby_delay (one replica)", [
                "/usr/bin/check_postgres", "--action=hot_standby_delay", "--host", "127.0.0.1,127.0.0.1",
                "--port", f"{svc['primary_port']},{svc['replica_port']}", "--dbuser", svc["user"], "--dbname", svc["dbname"],
                "-w", "16777216", "-c", "83886080"]),
        ], env, SCALE_RUNS, section="scale")
    finally:
        replicas.stdin.close()
        replicas.wait()
    names = [f"growth{i}" for i in range(1000)]
    # FILE_COPY: a few WAL records a database, not its 7.5 MB.
    psql(svc, env, "".join(f"CREATE DATABASE {n} TEMPLATE template0 STRATEGY FILE_COPY;\n" for n in names))
    try:
        measure("pg_databases_1000", [
            ("custos check_postgres --action=database_size", [f"{bindir}/check_postgres", *conn, "--action", "database_size", "-w", "1TB"]),
            ("check_postgres.pl --action=database_size", [*pl, "--action=database_size", "-w", "1TB"]),
        ], env, SCALE_RUNS, section="scale")
    finally:
        psql(svc, env, "".join(f"DROP DATABASE IF EXISTS {n};\n" for n in names))
    # A thousand tables a transaction (each holds a lock until it commits).
    psql(svc, env, "CREATE SCHEMA IF NOT EXISTS growth;\n" + "".join(
        f"DO $$ BEGIN FOR i IN {k}..{k + 999} LOOP EXECUTE format('CREATE TABLE growth.t%s (id int)', i); END LOOP; END $$;\n"
        for k in range(0, 10000, 1000)))
    try:
        measure("pg_tables_10000", [
            ("custos check_postgres --action=table_size", [f"{bindir}/check_postgres", *conn, "--action", "table_size", "-w", "1TB"]),
            ("check_postgres.pl --action=table_size", [*pl, "--action=table_size", "-w", "1TB"]),
        ], env, SCALE_RUNS, section="scale")
    finally:
        psql(svc, env, "".join(
            f"DROP TABLE IF EXISTS {', '.join(f'growth.t{i}' for i in range(k, k + 1000))};\n" for k in range(0, 10000, 1000))
             + "DROP SCHEMA growth;\n")


if __name__ == "__main__":
    run(os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "target/release"))
