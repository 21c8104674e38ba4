#!/usr/bin/env python3
"""Growth curves: time against the size of the work.
check_worker_memory (and check_procs) over 100, 1,000 and 5,000 processes; check_postgres_backup
over a WAL archive of 1,000, 10,000 and 100,000 segment files (every segment since the oldest
is looked for); check_queue_worker_errors over 10, 100 and 1,000 error files. (RabbitMQ's curve,
15 to 10,000 queues, is in bench/rabbitmq.py.)
"""
import json, os, sys, tempfile, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import measure  # noqa: E402
from host import worker_memory  # noqa: E402

SCALE_RUNS = int(os.environ.get("SCALE_RUNS", "10"))


def wal_name(i):
    # Timeline 1, 16 MiB segments: 256 segments per "log" file number.
    return f"00000001{i // 256:08X}{i % 256:08X}"


def run(bindir):
    for n in (100, 1000, 5000):
        worker_memory(bindir, n, f"processes_{n}", "scale", SCALE_RUNS)

    svc = json.load(open(os.environ["CUSTOS_SERVICES"]))["postgres"]
    env = dict(os.environ, PGPASSWORD=svc["password"], HOME="/nonexistent")
    conn = ["-H", "127.0.0.1", "-p", str(svc["primary_port"]), "-U", svc["user"], "-d", svc["dbname"]]
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


if __name__ == "__main__":
    run(os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "target/release"))
