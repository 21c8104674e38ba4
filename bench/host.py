#!/usr/bin/env python3
"""The checks that look at the machine, next to their peers on the same work:
check_worker_memory and monitoring-plugins' check_procs --metric=RSS over the same 30 worker
processes; check_debian_packages (native engine, and --engine apt) and check_apt on this
machine's real packages, recording that they find the same upgrades; the checks without a C
peer (check_cron_file, check_queue_worker_errors, check_email_deliverer_process) alone; and the
reference costs: a Python start-up with the libraries Zulip's plugins import (requests,
psycopg2, pika), a bare Python start-up, and /bin/true.
"""
import os, re, subprocess, sys, tempfile, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import measure, record  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
HARNESS = os.path.join(HERE, "..", "target", "debug", "custos-harness")
MP = "/usr/lib/nagios/plugins"
MARKER = "custos-bench-worker"


class Workers:
    """N idle processes whose command line carries MARKER (custos-harness procs)."""

    def __init__(self, n):
        self.p = subprocess.Popen([HARNESS, "procs", str(n), MARKER], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, text=True)
        assert self.p.stdout.readline().strip() == "ready"

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.p.stdin.close()
        self.p.wait()


def worker_memory(bindir, n, key, section, runs=None):
    with Workers(n):
        return measure(key, [
            ("custos check_worker_memory", [f"{bindir}/check_worker_memory", "--cmdline", f".*{MARKER}.*",
                                            "-w", "1GiB", "-c", "2GiB"]),
            ("check_procs --metric=RSS", [f"{MP}/check_procs", "--metric=RSS", "-w", "1048576", "-c", "2097152",
                                          "-a", MARKER]),
        ], dict(os.environ), runs, section=section)


def debian_answers(bindir, env):
    """Records the upgrades and security upgrades each side found (from the whole output:
    the tables keep only the start of the first line)."""
    def out(argv):
        return subprocess.run(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                              text=True).stdout
    ours = re.search(r"upgrades=(\d+);.*security_upgrades=(\d+);",
                     out([f"{bindir}/check_debian_packages", "--max-list-age", "0"]))
    theirs = re.search(r"available_upgrades=(\d+);;;0 critical_updates=(\d+)", out([f"{MP}/check_apt", "-t", "60"]))
    record("facts", "debian_packages_same_answer", {
        "custos": [int(x) for x in ours.groups()] if ours else None,
        "check_apt": [int(x) for x in theirs.groups()] if theirs else None,
    })


def run(bindir):
    env = dict(os.environ)
    py = "/usr/bin/python3"
    measure("python_zulip_imports", [
        ("python3 -c 'import requests, psycopg2, pika'", [py, "-c", "import requests, psycopg2, pika"]),
    ], env)
    measure("python_bare", [("python3 -c pass", [py, "-c", "pass"])], env)
    measure("true", [("/bin/true", ["/bin/true"])], env)

    worker_memory(bindir, 30, "worker_memory_30", "peers")

    apt_env = dict(env, LC_ALL="C")
    res = measure("debian_packages", [
        ("custos check_debian_packages", [f"{bindir}/check_debian_packages", "--max-list-age", "0"]),
        ("custos check_debian_packages --engine apt", [f"{bindir}/check_debian_packages", "--engine", "apt",
                                                       "--max-list-age", "0", "-t", "60"]),
        ("check_apt", [f"{MP}/check_apt", "-t", "60"]),
    ], apt_env, int(os.environ.get("APT_RUNS", "10")))
    debian_answers(bindir, apt_env)

    with tempfile.TemporaryDirectory() as d:
        now = int(time.time())
        state = os.path.join(d, "check_send_receive_state")
        with open(state, "w") as f:
            f.write(f"{now}|0|OK|send time was 0.41\n")
        errors = os.path.join(d, "queue_error")
        os.mkdir(errors)
        for q in ("deferred_work", "embed_links", "missedmessage_emails"):
            with open(os.path.join(errors, f"{q}.errors"), "w") as f:
                for i in range(5):
                    f.write(f"{time.asctime()}\t[{{\"id\": {i}}}]\n")
        measure("cron_file", [("custos check_cron_file", [f"{bindir}/check_cron_file", state, "600"])], env)
        measure("queue_worker_errors", [("custos check_queue_worker_errors",
                                         [f"{bindir}/check_queue_worker_errors", "--dir", errors])], env)
    with Workers(1):
        measure("email_deliverer_process", [("custos check_email_deliverer_process",
                                             [f"{bindir}/check_email_deliverer_process", "--cmdline", f".*{MARKER}.*"])], env)


if __name__ == "__main__":
    run(os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "target/release"))
