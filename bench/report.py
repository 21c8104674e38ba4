#!/usr/bin/env python3
"""Writes BENCHMARKS.md from bench/BENCHMARKS.md.in and target/bench/results.json.

Placeholders in the template:
  {{machine}}                     the machine and versions
  {{goals}}                       every goal of the performance issue, measured, met or missed
  {{table:SECTION/GROUP}}         a group's commands: wall, CPU, peak RSS, custos ÷ command
  {{processes}} {{wal}} {{errors}} {{queues}}   growth curves
  {{sizes}}                       binary sizes, the installed suite, the .deb
  {{pg_actions}}                  every check_postgres.pl action, both tools
  {{v:SECTION/GROUP/ROW/FIELD}}   one number (wall_ms, cpu_ms, rss_mib), as the tables print it
Anything not measured yet prints as "(not measured)".
"""
import os, re, sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import load  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
MISSING = "(not measured)"
MIB = 1024 * 1024


def fmt(x, digits=1):
    if x is None:
        return MISSING
    if x >= 100:
        return f"{x:,.0f}"
    return f"{x:.{digits}f}"


def group(data, path):
    section, name = path.split("/", 1)
    return data.get(section, {}).get(name)


def row(data, path, name):
    g = group(data, path)
    return g["rows"].get(name) if g else None


def table(data, path):
    g = group(data, path)
    if not g:
        return MISSING
    rows = g["rows"]
    ref = rows[g["order"][0]]
    out = ["| command | wall ms | CPU ms | peak RSS MiB | custos ÷ this, wall | custos ÷ this, CPU |",
           "|---|---:|---:|---:|---:|---:|"]
    for name in g["order"]:
        r = rows[name]
        ratio = lambda k: f"{ref[k] / r[k]:.2f}" if r[k] else "-"
        out.append(f"| {name} | {fmt(r['wall_ms'])} | {fmt(r['cpu_ms'])} | {fmt(r['rss_mib'])} | "
                   f"{ratio('wall_ms')} | {ratio('cpu_ms')} |")
    first = rows[g["order"][0]]
    out.append("")
    for name in g["order"]:
        out.append(f"    {name} (exit {rows[name]['exit']}): {rows[name]['first_line'][:150]}")
    _ = first
    return "\n".join(out)


def machine(data):
    m = data.get("machine", {}).get("info")
    if not m:
        return MISSING
    pk = ", ".join(f"{k} {v}" for k, v in m["packages"].items())
    return (f"Measured {m['date']} on {m['cores']} cores ({m['cpu']}), {m['memory']}, Debian {m['debian']}, "
            f"Linux {m['kernel']}; {m['rustc']}; {m['hyperfine']}. Each group: {m['runs']} runs per command in "
            f"{m['rounds']} rounds (order reversed every other round), after 2 warm-up runs; peak RSS: median "
            f"of {m['rss_runs']} runs under GNU time. Versions: {pk}.")


# (check, peer, language, group, custos row, peer row, kind)
# kind C: wall and CPU at most 1.2x the C peer; script: at least 20x less CPU; apt: 10x faster
# with the same answer.
PYTHON = ("peers/python_zulip_imports", "python3 -c 'import requests, psycopg2, pika'")
GOALS = [
    ("check_website_response, HTTP", "check_http", "C", "peers/http_get", "custos check_website_response", "check_http", "C"),
    ("check_website_response, HTTP", "check_curl", "C", "peers/http_get", "custos check_website_response", "check_curl", "C"),
    ("check_website_response, HTTPS", "check_http --sni", "C", "peers/https_get", "custos check_website_response (verifies)", "check_http --sni (does not verify)", "C"),
    ("check_website_response, HTTPS", "check_curl", "C", "peers/https_get", "custos check_website_response (verifies)", "check_curl -D --ca-cert (verifies)", "C"),
    ("check_postgres connection", "check_pgsql", "C", "peers/pg_connection", "custos check_postgres --action=connection", "check_pgsql", "C"),
    ("check_worker_memory (30 workers)", "check_procs --metric=RSS", "C", "peers/worker_memory_30", "custos check_worker_memory", "check_procs --metric=RSS", "C"),
    ("check_debian_packages", "check_apt", "C", "peers/debian_packages", "custos check_debian_packages", "check_apt", "apt"),
    ("check_postgres connection", "check_postgres.pl", "Perl", "peers/pg_connection", "custos check_postgres --action=connection", "check_postgres.pl --action=connection", "script"),
    ("check_postgres backends", "check_postgres.pl", "Perl", "peers/pg_backends", "custos check_postgres --action=backends", "check_postgres.pl --action=backends", "script"),
    ("check_postgres_replication_lag", "check_postgres.pl hot_standby_delay", "Perl", "peers/pg_replication_lag", "custos check_postgres_replication_lag", "check_postgres.pl --action=hot_standby_delay", "script"),
    ("check_rabbitmq_queues (15 queues)", "rabbitmqctl list_queues", "Erlang", "rabbitmq/queues_15", "custos check_rabbitmq_queues", "rabbitmqctl list_queues name messages consumers", "script"),
    ("check_rabbitmq_consumers (15 queues)", "rabbitmqctl list_queues", "Erlang", "rabbitmq/queues_15", "custos check_rabbitmq_consumers", "rabbitmqctl list_queues name messages consumers", "script"),
]
# Checks whose Zulip ancestors are Python scripts: against a Python start-up with Zulip's imports.
VS_PYTHON = [
    ("check_send_receive_time (whole probe)", "rabbitmq", "peers/zulip_probe", "custos check_send_receive_time"),
    ("check_cron_file", "", "peers/cron_file", "custos check_cron_file"),
    ("check_queue_worker_errors", "", "peers/queue_worker_errors", "custos check_queue_worker_errors"),
    ("check_email_deliverer_process", "", "peers/email_deliverer_process", "custos check_email_deliverer_process"),
    ("check_fts_update_log", "", "peers/fts_update_log", "custos check_fts_update_log"),
    ("check_email_deliverer_backlog", "", "peers/email_deliverer_backlog", "custos check_email_deliverer_backlog"),
    ("check_postgres_backup", "", "peers/postgres_backup", "custos check_postgres_backup"),
]


def goals(data):
    out = ["| check | peer | custos wall / CPU / RSS | peer wall / CPU / RSS | custos ÷ peer, wall / CPU | goal | met |",
           "|---|---|---|---|---|---|---|"]

    def line(check, peer, c, p, goal, met):
        cw = f"{fmt(c['wall_ms'])} ms / {fmt(c['cpu_ms'])} ms / {fmt(c['rss_mib'])} MiB" if c else MISSING
        pw = f"{fmt(p['wall_ms'])} ms / {fmt(p['cpu_ms'])} ms / {fmt(p['rss_mib'])} MiB" if p else MISSING
        ratio = f"{c['wall_ms'] / p['wall_ms']:.2f} / {c['cpu_ms'] / p['cpu_ms']:.2f}" if c and p else MISSING
        verdict = MISSING if met is None else ("yes" if met else "**no**")
        out.append(f"| {check} | {peer} | {cw} | {pw} | {ratio} | {goal} | {verdict} |")

    for check, peer, lang, path, cname, pname, kind in GOALS:
        c, p = row(data, path, cname), row(data, path, pname)
        met = None
        if c and p:
            if kind == "C":
                goal = "≤ 1.2x wall and CPU"
                met = c["wall_ms"] <= 1.2 * p["wall_ms"] and c["cpu_ms"] <= 1.2 * p["cpu_ms"]
            elif kind == "apt":
                same = data.get("facts", {}).get("debian_packages_same_answer", {})
                agree = same.get("custos") is not None and same.get("custos") == same.get("check_apt")
                answer = f"both: {same['custos'][0]} upgrades, {same['custos'][1]} security" if agree else f"answers differ: {same}"
                goal = f"≥ 10x faster, same answer ({answer})"
                met = p["wall_ms"] >= 10 * c["wall_ms"] and agree
            else:
                goal = "≥ 20x less CPU"
                met = p["cpu_ms"] >= 20 * c["cpu_ms"]
        else:
            goal = {"C": "≤ 1.2x wall and CPU", "apt": "≥ 10x faster, same answer"}.get(kind, "≥ 20x less CPU")
        line(check, f"{peer} ({lang})", c, p, goal, met)
    py = row(data, *PYTHON)
    for check, _, path, cname in VS_PYTHON:
        c = row(data, path, cname)
        met = (py["cpu_ms"] >= 20 * c["cpu_ms"]) if c and py else None
        line(check, "Python start-up with Zulip's imports", c, py, "≥ 20x less CPU", met)

    # Memory: every custos command on Zulip-sized work (the peers section and the 15-queue
    # vhost); `--engine apt` is apt's memory (its child), not custos'. The scale runs are
    # listed apart.
    worst, over = None, []
    for section, groups in data.items():
        if section in ("machine", "size", "facts", "build", "hostcost"):
            continue
        for gname, g in groups.items():
            for name, r in g["rows"].items():
                # `--engine apt` and `--source rabbitmqctl` are apt's and rabbitmqctl's memory
                # (their child, which GNU time counts), not custos'.
                if not name.startswith("custos") or "--engine apt" in name or "--source rabbitmqctl" in name:
                    continue
                at_scale = section == "scale" or (section == "rabbitmq" and not gname.startswith("queues_15"))
                if at_scale:
                    if r["rss_mib"] > 8:
                        over.append(f"{fmt(r['rss_mib'])} MiB ({name}, {gname})")
                elif worst is None or r["rss_mib"] > worst[0]:
                    worst = (r["rss_mib"], name, f"{section}/{gname}")
    out.append("")
    out.append("| goal | measured | met |")
    out.append("|---|---|---|")
    if worst:
        out.append(f"| peak RSS ≤ 8 MiB for every check | largest on Zulip-sized work: {fmt(worst[0])} MiB ({worst[1]}, {worst[2]}); "
                   f"over 8 MiB at scale: {', '.join(over) or 'none'} | {'yes' if worst[0] <= 8 else '**no**'} |")
    # RabbitMQ at scale: the default at 10,000 queues (and every source beside it), the default
    # against rabbitmqctl at every size, and the default's memory at 10,000.
    sources = [n for n in data.get("rabbitmq", {}).get("queues_10000", {}).get("order", []) if n.startswith("custos check_rabbitmq_queues")]
    rows10k = [(n, row(data, "rabbitmq/queues_10000", n)) for n in sources]
    rows10k = [(n, r) for n, r in rows10k if r]
    d = row(data, "rabbitmq/queues_10000", "custos check_rabbitmq_queues")
    if d:
        out.append(f"| 10,000 queues under 300 ms (broker's time included; default source) | {fmt(d['wall_ms'])} ms; other sources: "
                   + ", ".join(f"{fmt(r['wall_ms'])} ms `{n[len('custos check_rabbitmq_queues'):].strip()}`" for n, r in rows10k[1:])
                   + f" | {'yes' if d['wall_ms'] < 300 else '**no**'} |")
    faster = []
    for n in (15, 100, 1000, 10000):
        c = row(data, f"rabbitmq/queues_{n}", "custos check_rabbitmq_queues")
        k = row(data, f"rabbitmq/queues_{n}", "rabbitmqctl list_queues name messages consumers")
        if c and k:
            faster.append((n, c["wall_ms"], k["wall_ms"]))
    if faster:
        out.append("| faster than `rabbitmqctl list_queues` at every size (default source) | "
                   + ", ".join(f"{n:,}: {fmt(a)} vs {fmt(b)} ms" for n, a, b in faster)
                   + f" | {'yes' if all(a < b for _, a, b in faster) else '**no**'} |")
    q = row(data, "rabbitmq/queues_10000", "custos check_rabbitmq_queues")
    c = row(data, "rabbitmq/queues_10000", "custos check_rabbitmq_consumers")
    if q and c:
        out.append(f"| peak RSS ≤ 8 MiB at 10,000 queues (default source) | check_rabbitmq_queues {fmt(q['rss_mib'])} MiB, "
                   f"check_rabbitmq_consumers {fmt(c['rss_mib'])} MiB | {'yes' if max(q['rss_mib'], c['rss_mib']) <= 8 else '**no**'} |")
    pr = row(data, "scale/processes_5000", "custos check_worker_memory")
    if pr:
        out.append(f"| 5,000 processes under 100 ms | {fmt(pr['wall_ms'])} ms | {'yes' if pr['wall_ms'] < 100 else '**no**'} |")
    inst = data.get("size", {}).get("installed_bytes")
    if inst:
        out.append(f"| whole suite installed ≤ 12 MB | {inst / 1e6:.1f} MB | {'yes' if inst <= 12e6 else '**no**'} |")
    b = data.get("build", {}).get("multi-fat")
    if b:
        out.append(f"| clean `make build` ≤ 6 minutes | {b['seconds'] / 60:.1f} min ({b['seconds']:.0f} s) | {'yes' if b['seconds'] <= 360 else '**no**'} |")
    st = data.get("build", {}).get("startup_cron_file")
    if st:
        m, sep = st["rows"].get("custos (multi-call) check_cron_file"), st["rows"].get("check_cron_file (its own binary)")
        if m and sep:
            ok = m["wall_ms"] <= 1.05 * sep["wall_ms"] and m["cpu_ms"] <= 1.05 * sep["cpu_ms"]
            out.append(f"| start-up no worse than a check's own binary by more than 5% | multi-call {fmt(m['wall_ms'])} ms / {fmt(m['cpu_ms'])} ms CPU, "
                       f"own binary {fmt(sep['wall_ms'])} ms / {fmt(sep['cpu_ms'])} ms CPU | {'yes' if ok else '**no**'} |")
    hc = data.get("hostcost", {}).get("summary")
    if hc and "custos_ctl_cpu_ms" in hc:
        worst = max(hc["custos_cpu_ms"], hc["custos_ctl_cpu_ms"])
        out.append(f"| monitoring one Zulip host costs less with custos | custos {fmt(hc['custos_ctl_cpu_ms'])} ms CPU a minute "
                   f"as shipped for a stock Zulip server (rabbitmqctl; {hc['zulip_cpu_ms'] / hc['custos_ctl_cpu_ms']:.1f}x less), "
                   f"{fmt(hc['custos_cpu_ms'])} ms with the management API ({hc['zulip_cpu_ms'] / hc['custos_cpu_ms']:.0f}x less); "
                   f"Zulip's way {fmt(hc['zulip_cpu_ms'])} ms | {'yes' if worst < hc['zulip_cpu_ms'] else '**no**'} |")
    return "\n".join(out)


def growth(data, key):
    if key == "processes":
        out = ["| processes | custos wall ms | custos CPU ms | custos RSS MiB | check_procs wall ms | check_procs CPU ms | check_procs RSS MiB |",
               "|---:|---:|---:|---:|---:|---:|---:|"]
        for n in (30, 100, 1000, 5000, 20000):
            path = "peers/worker_memory_30" if n == 30 else f"scale/processes_{n}"
            c, p = row(data, path, "custos check_worker_memory"), row(data, path, "check_procs --metric=RSS")
            if c and p:
                out.append(f"| {n:,} | {fmt(c['wall_ms'])} | {fmt(c['cpu_ms'])} | {fmt(c['rss_mib'])} | "
                           f"{fmt(p['wall_ms'])} | {fmt(p['cpu_ms'])} | {fmt(p['rss_mib'])} |")
        return "\n".join(out)
    if key == "queues":
        names = [("custos check_rabbitmq_queues", "custos, default (auto)"),
                 ("custos check_rabbitmq_queues --source api", "custos, lean API"),
                 ("custos check_rabbitmq_consumers", "custos consumers"),
                 ("custos check_rabbitmq_queues --source prometheus", "custos, Prometheus"),
                 ("custos check_rabbitmq_queues --rates", "custos, API statistics (--rates)"),
                 ("custos check_rabbitmq_queues --source rabbitmqctl", "custos, rabbitmqctl"),
                 ("rabbitmqctl list_queues name messages consumers", "rabbitmqctl list_queues")]
        out = ["| queues | " + " | ".join(f"{label} wall ms (RSS MiB)" for _, label in names) + " |",
               "|---:|" + "---:|" * len(names)]
        for n in (15, 100, 1000, 10000):
            cells = []
            for name, _ in names:
                r = row(data, f"rabbitmq/queues_{n}", name)
                cells.append(f"{fmt(r['wall_ms'])} ({fmt(r['rss_mib'])})" if r else MISSING)
            out.append(f"| {n:,} | " + " | ".join(cells) + " |")
        return "\n".join(out)
    if key == "pg":
        out = ["| work | custos wall ms | CPU ms | RSS MiB | check_postgres.pl wall ms | CPU ms | RSS MiB |", "|---|---:|---:|---:|---:|---:|---:|"]
        for gname, label in [("pg_databases_1000", "database_size over 1,000 databases"), ("pg_tables_10000", "table_size over 10,000 tables"),
                             ("pg_replicas_8", "replication lag with 8 replicas (custos: replication lag; check_postgres.pl: hot_standby_delay to one)")]:
            g = data.get("scale", {}).get(gname)
            if not g:
                continue
            rows = [g["rows"][n] for n in g["order"]]
            c = rows[0]
            p = rows[1] if len(rows) > 1 else None
            out.append(f"| {label} | {fmt(c['wall_ms'])} | {fmt(c['cpu_ms'])} | {fmt(c['rss_mib'])} | "
                       + (f"{fmt(p['wall_ms'])} | {fmt(p['cpu_ms'])} | {fmt(p['rss_mib'])} |" if p else "| | |"))
        return "\n".join(out)
    spec = {"wal": ("WAL segment files", "scale/wal_{n}", "custos check_postgres_backup --wal-archive-dir", (1000, 10000, 100000)),
            "errors": ("error files", "scale/error_files_{n}", "custos check_queue_worker_errors", (10, 100, 1000))}[key]
    out = [f"| {spec[0]} | wall ms | CPU ms | peak RSS MiB |", "|---:|---:|---:|---:|"]
    for n in spec[3]:
        r = row(data, spec[1].format(n=n), spec[2])
        if r:
            out.append(f"| {n:,} | {fmt(r['wall_ms'])} | {fmt(r['cpu_ms'])} | {fmt(r['rss_mib'])} |")
    return "\n".join(out)


def sizes(data):
    s = data.get("size")
    if not s:
        return MISSING
    out = ["| what | bytes | MB |", "|---|---:|---:|"]
    for name, n in sorted(s["binaries"].items()):
        out.append(f"| {name} (every check, one binary) | {n:,} | {n / 1e6:.1f} |")
    out.append(f"| installed suite (`make install`: the binary and its links, man pages, definitions, docs) | {s['installed_bytes']:,} | "
               f"{s['installed_bytes'] / 1e6:.1f} |")
    out.append(f"| Debian package (`make deb`, xz) | {s['deb_bytes']:,} | {s['deb_bytes'] / 1e6:.1f} |")
    b = data.get("build", {})
    designs = [k for k in ("multi-fat", "multi-thin", "multi-nolto", "multi-static", "multi-nopie", "separate-fat") if k in b]
    if designs:
        out.append("")
        out.append("| build design | clean build (s) | binaries (bytes) |")
        out.append("|---|---:|---:|")
        for k in designs:
            out.append(f"| {b[k]['label']} | {b[k]['seconds']:.0f} | {b[k]['bytes']:,} |")
    return "\n".join(out)


def value(data, spec):
    parts = spec.split("/")
    if parts[0] == "hostcost":
        v = data.get("hostcost", {}).get(parts[1], {}).get(parts[2])
        return (f"{v:,}" if isinstance(v, int) else fmt(v)) if v is not None else MISSING
    path, field = spec.rsplit("/", 1)
    section, gname, name = path.split("/", 2)
    r = row(data, f"{section}/{gname}", name)
    return fmt(r[field]) if r else MISSING


def pg_actions(data):
    """One row per check_postgres.pl action: both tools' wall and CPU, the ratios, the exits."""
    groups = data.get("pg_actions", {})
    if not groups:
        return MISSING
    out = ["| action | custos wall / CPU ms | check_postgres.pl wall / CPU ms | custos ÷ check_postgres.pl, wall / CPU | exit custos / check_postgres.pl |",
           "|---|---:|---:|---:|---|"]
    for action, g in groups.items():
        us, pl = (g["rows"][n] for n in g["order"])
        same = "same" if us["exit"] == pl["exit"] else "**differ**"
        out.append(f"| {action} | {fmt(us['wall_ms'])} / {fmt(us['cpu_ms'])} | {fmt(pl['wall_ms'])} / "
                   f"{fmt(pl['cpu_ms'])} | {us['wall_ms'] / pl['wall_ms']:.2f} / {us['cpu_ms'] / pl['cpu_ms']:.2f} | "
                   f"{us['exit']} / {pl['exit']} ({same}) |")
    return "\n".join(out)


def render(template, data):
    def sub(m):
        key = m.group(1)
        if key == "machine":
            return machine(data)
        if key == "goals":
            return goals(data)
        if key == "sizes":
            return sizes(data)
        if key in ("processes", "wal", "errors", "queues", "pg"):
            return growth(data, key)
        if key == "pg_actions":
            return pg_actions(data)
        if key.startswith("table:"):
            return table(data, key[6:])
        if key.startswith("v:"):
            return value(data, key[2:])
        raise SystemExit(f"unknown placeholder {{{{{key}}}}}")
    return re.sub(r"\{\{([^}]+)\}\}", sub, template)


def main():
    root = os.path.join(HERE, "..")
    template = open(os.path.join(HERE, "BENCHMARKS.md.in")).read()
    text = render(template, load())
    with open(os.path.join(root, "BENCHMARKS.md"), "w") as f:
        f.write(text)
    print("BENCHMARKS.md written")


if __name__ == "__main__":
    main()
