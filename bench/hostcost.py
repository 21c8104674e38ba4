#!/usr/bin/env python3
"""What monitoring one Zulip server costs a minute: every service of Zulip's 2025 service set
for a standalone server (front end and PostgreSQL primary on one host), and the cron jobs that
feed them, run once each, with custos; and the same done Zulip's way. Services that run the
same stock plugin either way (disk, load, swap, NTP, SSH, HTTPS) are left out of both sums.

custos' side is measured as it runs. Zulip's side is measured where it can run here
(check_postgres.pl for the PostgreSQL actions, rabbitmqctl as its root cron jobs run it, the
worker-memory shell script, apt-get -s upgrade for the Perl apt check), and otherwise by the
start-up its Python plugins pay before any work (Python with the libraries Zulip's plugins
import; Zulip's real ones also load Django, so its side is a lower bound).
"""
import json, os, subprocess, sys, tempfile, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import measure, record  # noqa: E402
from rabbitmq import HARNESS, ZULIP_QUEUES  # noqa: E402

VHOST = "hostcost"

RUNS = int(os.environ.get("HOSTCOST_RUNS", "5"))
PY = "/usr/bin/python3"
# Zulip's queue list (check-rabbitmq-consumers writes a file for each, plus notify_tornado).
CONSUMER_FILES = 14
# PostgreSQL actions in Zulip's 2025 services (check_postgres and check_postgres_alert_args).
PG_ACTIONS = [("connection", []), ("autovac_freeze", ["-w", "101%", "-c", "105%"]), ("backends", []),
              ("disabled_triggers", []), ("hitratio", []), ("query_time", ["-w", "20 seconds", "-c", "40 seconds"]),
              ("sequence", []), ("timesync", []), ("txn_time", ["-w", "20 seconds", "-c", "40 seconds"])]
WORKER_MEMORY_SH = ("processes=$(pgrep -xf 'python.* /home/zulip/deployments/current/manage.py process_queue .*'); "
                    "[ -z \"$processes\" ] && { echo 'No workers running'; exit 0; }; ps -o vsize,size,pid,user,command $processes")


def run(bindir):
    svc = json.load(open(os.environ["CUSTOS_SERVICES"]))
    pg, rmq = svc["postgres"], svc["rabbitmq"]
    env = dict(os.environ, PGPASSWORD=pg["password"], HOME="/nonexistent", RABBITMQ_PASSWORD=rmq["password"],
               ZULIP_SENDER_EMAIL=os.environ["CUSTOS_ZULIP_SENDER_EMAIL"],
               ZULIP_SENDER_API_KEY=os.environ["CUSTOS_ZULIP_SENDER_KEY"],
               ZULIP_RECEIVER_EMAIL=os.environ["CUSTOS_ZULIP_RECEIVER_EMAIL"],
               ZULIP_RECEIVER_API_KEY=os.environ["CUSTOS_ZULIP_RECEIVER_KEY"])
    conn = ["-H", "127.0.0.1", "-p", str(pg["primary_port"]), "-U", pg["user"], "-d", pg["dbname"]]
    pl = ["/usr/bin/check_postgres", "--host", "127.0.0.1", "--port", str(pg["primary_port"]),
          "--dbuser", pg["user"], "--dbname", pg["dbname"]]
    api = ["--api-url", f"http://127.0.0.1:{rmq['api_port']}", "--user", rmq["user"], "--vhost", VHOST]
    # Zulip's queues with a few messages each, as on a live server.
    for q, n in ZULIP_QUEUES.items():
        subprocess.run([HARNESS, "publish", VHOST, q, str(n)], env=env, check=True)
    subprocess.run([HARNESS, "wait", VHOST, "digest_emails", "40", "0"], env=env, check=True)
    ctl = ["env", f"HOME={os.path.join(rmq['dir'], 'home')}", f"ERL_EPMD_PORT={rmq['epmd_port']}",
           "RABBITMQ_CONF_ENV_FILE=/dev/null", "/usr/lib/rabbitmq/bin/rabbitmqctl", "-n", rmq["nodename"], "-q"]
    with tempfile.TemporaryDirectory() as d:
        state = os.path.join(d, "state")
        with open(state, "w") as f:
            f.write(f"{int(time.time()) + 365 * 86400}|0|OK|queues normal\n")
        errors = os.path.join(d, "queue_error")
        os.mkdir(errors)
        stats = os.path.join(d, "stats")
        os.mkdir(stats)
        # (name, argv, runs a minute)
        custos = [
            ("send/receive probe (cron)", [f"{bindir}/check_send_receive_time", "--site", os.environ["CUSTOS_ZULIP_SITE"],
                                           "--state-file", os.path.join(d, "srs")], 1),
            ("queues, Zulip's rule (cron)", [f"{bindir}/check_rabbitmq_queues", "--zulip", "--stats-dir", stats, *api,
                                            "--state-file", os.path.join(d, "rq")], 1),
            ("consumers, every file (cron)", [f"{bindir}/check_rabbitmq_consumers", "--zulip-state-dir", d,
                                             "--zulip-conf", "/nonexistent", *api], 1),
            ("check_cron_file (send/receive, queues, 14 consumers, analytics)", [f"{bindir}/check_cron_file", state],
             2 + CONSUMER_FILES + 1),
            ("worker memory", [f"{bindir}/check_worker_memory", "--metric", "vsz", "-w", "600000KiB", "-c", "800000KiB"], 1),
            ("queue worker errors", [f"{bindir}/check_queue_worker_errors", "--dir", errors], 1),
            ("Debian packages", [f"{bindir}/check_debian_packages", "--max-list-age", "0"], 1),
            ("FTS update log", [f"{bindir}/check_fts_update_log", *conn, "--table", "pg_class", "-c", "100000000"], 1),
            ("replication lag", [f"{bindir}/check_postgres_replication_lag", *conn], 1),
        ] + [(f"check_postgres {a}", [f"{bindir}/check_postgres", *conn, "--action", a, *extra], 1) for a, extra in PG_ACTIONS]
        # As nagios/cron/custos ships them for a stock Zulip server (no management plugin): the
        # two RabbitMQ cron jobs through rabbitmqctl, the rest the same.
        rabbitmqctl = ["--source", "rabbitmqctl", "--rabbitmqctl", os.environ["CUSTOS_RABBITMQ_CTL"], "--vhost", VHOST]
        shipped = [
            ("queues, Zulip's rule, rabbitmqctl (cron)", [f"{bindir}/check_rabbitmq_queues", "--zulip", "--stats-dir", stats,
                                                         *rabbitmqctl, "--state-file", os.path.join(d, "rq")], 1),
            ("consumers, every file, rabbitmqctl (cron)", [f"{bindir}/check_rabbitmq_consumers", "--zulip-state-dir", d,
                                                          "--zulip-conf", "/nonexistent", *rabbitmqctl], 1),
        ] + [c for c in custos if "(cron)" not in c[0] or c[0].startswith("send/receive")]
        zulip = [
            ("send/receive probe (Python, before Django)", [PY, "-c", "import requests, psycopg2, pika"], 1),
            ("check-rabbitmq-queue (rabbitmqctl list_queues)", [*ctl, "list_queues", "-p", VHOST, "name", "messages", "consumers"], 1),
            ("check-rabbitmq-queue (Python)", [PY, "-c", "import json, re, subprocess"], 1),
            ("check-rabbitmq-consumers (rabbitmqctl list_consumers)", [*ctl, "list_consumers", "-p", VHOST], 1),
            ("check-rabbitmq-consumers (Python)", [PY, "-c", "import re, subprocess"], 1),
            ("check_cron_file (Python)", [PY, "-c", "import sys, time"], 2 + CONSUMER_FILES + 1),
            ("worker memory (bash, pgrep, ps)", ["bash", "-c", WORKER_MEMORY_SH], 1),
            ("queue worker errors (Python)", [PY, "-c", "import glob, os"], 1),
            ("Debian packages (Perl, apt-get -s upgrade)", ["sh", "-c", "perl -e 1 && apt-get -s upgrade >/dev/null"], 1),
            ("FTS update log (Python, psycopg2)", [PY, "-c", "import psycopg2"], 1),
            ("replication lag (Python and psql)", ["sh", "-c", f"{PY} -c 'import subprocess' && PGPASSWORD={pg['password']} "
                                                   f"psql -X -q -h 127.0.0.1 -p {pg['primary_port']} -U {pg['user']} -d {pg['dbname']} "
                                                   "-c 'SELECT pg_is_in_recovery()' >/dev/null"], 1),
        ] + [(f"check_postgres.pl {a}", [*pl, f"--action={a}", *extra], 1) for a, extra in PG_ACTIONS]

        totals = {}
        for side, cmds in (("custos", custos), ("custos_ctl", shipped), ("zulip", zulip)):
            cpu = wall = 0.0
            peak = 0.0
            for name, argv, per_minute in cmds:
                r = measure(f"{side}: {name}", [(name, argv)], env, RUNS, section="hostcost_runs")[name]
                cpu += r["cpu_ms"] * per_minute
                wall += r["wall_ms"] * per_minute
                peak = max(peak, r["rss_mib"])
            totals[side] = (cpu, wall, peak)
    summary = {"custos_cpu_ms": totals["custos"][0], "custos_wall_ms": totals["custos"][1], "custos_peak_mib": totals["custos"][2],
               "custos_ctl_cpu_ms": totals["custos_ctl"][0], "custos_ctl_wall_ms": totals["custos_ctl"][1],
               "custos_ctl_peak_mib": totals["custos_ctl"][2], "custos_ctl_runs": sum(n for *_, n in shipped),
               "zulip_cpu_ms": totals["zulip"][0], "zulip_wall_ms": totals["zulip"][1], "zulip_peak_mib": totals["zulip"][2],
               "custos_runs": sum(n for *_, n in custos), "zulip_runs": sum(n for *_, n in zulip)}
    record("hostcost", "summary", summary)
    print(f"  a minute: custos {summary['custos_cpu_ms']:.0f} ms CPU (API), {summary['custos_ctl_cpu_ms']:.0f} ms "
          f"(rabbitmqctl, as shipped), Zulip's way {summary['zulip_cpu_ms']:.0f} ms CPU")


if __name__ == "__main__":
    run(os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "target/release"))
