#!/usr/bin/env python3
"""The machine and the versions the numbers were measured with."""
import datetime, os, platform, subprocess, sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import ROUNDS, RSS_RUNS, RUNS, record  # noqa: E402


def out(*argv):
    try:
        return subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True).stdout.strip()
    except OSError:
        return ""


def package(name):
    return out("dpkg-query", "-W", "-f", "${Version}", name) or "not installed"


def run(bindir):
    cpu = ""
    for line in open("/proc/cpuinfo"):
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem = ""
    for line in open("/proc/meminfo"):
        if line.startswith("MemTotal"):
            mem = f"{int(line.split()[1]) // 1024 // 1024 + 1} GiB"
    record("machine", "info", {
        "date": datetime.date.today().isoformat(),
        "cores": os.cpu_count(),
        "cpu": cpu,
        "memory": mem,
        "kernel": platform.release(),
        "debian": open("/etc/debian_version").read().strip(),
        "rustc": out("rustc", "-V"),
        "hyperfine": out("hyperfine", "--version"),
        "runs": RUNS, "rounds": ROUNDS, "rss_runs": RSS_RUNS,
        "packages": {p: package(p) for p in (
            "monitoring-plugins-basic", "monitoring-plugins-standard", "check-postgres", "postgresql-15",
            "rabbitmq-server", "nginx", "apt", "python3", "python3-requests", "python3-psycopg2", "python3-pika")},
    })


if __name__ == "__main__":
    run(os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "target/release"))
