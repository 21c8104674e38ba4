#!/usr/bin/env python3
"""custos check_rabbitmq_queues and check_rabbitmq_consumers next to `rabbitmqctl list_queues
name messages consumers` (what Zulip's cron jobs run as root) on the same throwaway broker:
a Zulip-sized vhost (15 queues with messages), then 100, 1,000 and 10,000 queues (the growth
curve). bench/common.py measures; the scale runs use fewer runs (SCALE_RUNS).

Run under the harness (make bench):  custos-harness run -- python3 bench/rabbitmq.py BINDIR
"""
import json, os, subprocess, sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import compare, header  # noqa: E402

bindir = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "target/release")
here = os.path.dirname(os.path.abspath(__file__))
harness = os.path.join(here, "..", "target", "debug", "custos-harness")
r = json.load(open(os.environ["CUSTOS_SERVICES"]))["rabbitmq"]
SCALE_RUNS = int(os.environ.get("SCALE_RUNS", "10"))

env = dict(os.environ, RABBITMQ_PASSWORD=r["password"])
# rabbitmqctl reaches the harness node through its own epmd and Erlang cookie.
ctl_env = dict(env, HOME=os.path.join(r["dir"], "home"), ERL_EPMD_PORT=str(r["epmd_port"]),
               RABBITMQ_CONF_ENV_FILE="/dev/null")
api = ["--api-url", f"http://127.0.0.1:{r['api_port']}", "--user", r["user"]]
ctl = ["/usr/lib/rabbitmq/bin/rabbitmqctl", "-n", r["nodename"], "-q"]


def run(*args):
    subprocess.run([harness, *args], env=env, check=True)


def group(title, vhost, runs, extra=()):
    cmds = [
        ("custos check_rabbitmq_queues", [f"{bindir}/check_rabbitmq_queues", *api, "--vhost", vhost, *extra]),
        ("custos check_rabbitmq_consumers", [f"{bindir}/check_rabbitmq_consumers", *api, "--vhost", vhost, *extra]),
        ("rabbitmqctl list_queues name messages consumers", [*ctl, "list_queues", "-p", vhost, "name", "messages", "consumers"]),
    ]
    # rabbitmqctl needs its environment; common.compare passes one env to all, so wrap it.
    cmds[2] = (cmds[2][0], ["env", *[f"{k}={v}" for k, v in ctl_env.items() if k in ("HOME", "ERL_EPMD_PORT", "RABBITMQ_CONF_ENV_FILE")], *cmds[2][1]])
    return compare(title, cmds, env, runs)


header()
zulip = {"deferred_work": 3, "digest_emails": 40, "email_mirror": 0, "email_senders": 2,
         "embed_links": 1, "embedded_bots": 0, "missedmessage_emails": 5,
         "missedmessage_mobile_notifications": 12, "outgoing_webhooks": 0, "user_activity": 8,
         "user_activity_interval": 0, "deferred_email_senders": 0, "thumbnail": 4,
         "notify_tornado_9800": 0, "notify_tornado_9801": 0}
for q, n in zulip.items():
    run("publish", "bench", q, str(n))
run("wait", "bench", "digest_emails", "40", "0")
group("Zulip-sized vhost: 15 queues", "bench", int(os.environ.get("RUNS", "30")))

for n in (100, 1000, 10000):
    vhost = f"scale{n}"
    run("declare-queues", vhost, "q", str(n))
    run("wait", vhost, f"q{n - 1:05}", "0", "0")
    group(f"{n} queues (paged, 500 a request)", vhost, SCALE_RUNS)
    if n == 10000:
        compare(f"{n} queues in one request (--page-size 0)", [
            ("custos check_rabbitmq_queues --page-size 0",
             [f"{bindir}/check_rabbitmq_queues", *api, "--vhost", vhost, "--page-size", "0"]),
        ], env, SCALE_RUNS)
