#!/usr/bin/env python3
"""Wall time, CPU (user+sys) and peak RSS of custos' PostgreSQL checks next to check_pgsql
(monitoring-plugins) and check_postgres.pl (Debian's check-postgres), on the same cluster,
over TCP with the same password. Runs alternate between the commands; medians of RUNS runs.
CPU comes from wait4(2)'s rusage (microseconds), wall from a monotonic clock around
fork/exec/wait, peak RSS from GNU time's %M in separate runs (the rusage of a child forked by
Python counts Python's own pages copied before exec).

Run under the harness (make bench):  custos-harness run -- python3 bench/postgres.py BINDIR
"""
import json, os, platform, statistics, subprocess, sys, time

RUNS = int(os.environ.get("RUNS", "30"))
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

def rss_kib(cmd):
    out = subprocess.run(["/usr/bin/time", "-f", "RSS %M", *cmd], env=env,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True).stderr
    return int([l for l in out.splitlines() if l.startswith("RSS ")][-1].split()[1])

def once(cmd):
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    out = p.stdout.read()
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t0
    code = os.waitstatus_to_exitcode(status)
    return wall, ru.ru_utime + ru.ru_stime, ru.ru_maxrss, code, out.decode(errors="replace")

print(f"Machine: {os.cpu_count()} cores, {platform.platform()}; {RUNS} runs each, alternating.\n")
for title, cmds in groups:
    for _, cmd in cmds:          # warm-up, and show what each prints
        _, _, _, code, out = once(cmd)
        print(f"    {os.path.basename(cmd[0])} (exit {code}): {out.splitlines()[0][:150] if out else ''}")
    samples = {name: [] for name, _ in cmds}
    rss = {name: [] for name, _ in cmds}
    for _ in range(RUNS):
        for name, cmd in cmds:
            samples[name].append(once(cmd)[:2])
            rss[name].append(rss_kib(cmd))
    print(f"\n#### {title}\n")
    print("| command | wall ms | CPU ms | peak RSS MiB | wall vs custos |")
    print("|---|---|---|---|---|")
    base = None
    for name, _ in cmds:
        s = samples[name]
        wall = statistics.median(x[0] for x in s) * 1000
        cpu = statistics.median(x[1] for x in s) * 1000
        peak = statistics.median(rss[name]) / 1024
        base = base or wall
        print(f"| {name} | {wall:.1f} | {cpu:.1f} | {peak:.1f} | {wall / base:.1f}x |")
    print()
