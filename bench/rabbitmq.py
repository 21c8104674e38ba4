#!/usr/bin/env python3
"""custos check_rabbitmq_queues and check_rabbitmq_consumers next to `rabbitmqctl list_queues
name messages consumers` (what Zulip's cron jobs run as root) on the same throwaway broker:
a Zulip-sized vhost (15 queues with messages), then 100, 1,000 and 10,000 queues (the growth
curve; fewer runs, SCALE_RUNS).
"""
import json, os, subprocess, sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import RUNS, measure  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
HARNESS = os.path.join(HERE, "..", "target", "debug", "custos-harness")
SCALE_RUNS = int(os.environ.get("SCALE_RUNS", "10"))
ZULIP_QUEUES = {"deferred_work": 3, "digest_emails": 40, "email_mirror": 0, "email_senders": 2,
                "embed_links": 1, "embedded_bots": 0, "missedmessage_emails": 5,
                "missedmessage_mobile_notifications": 12, "outgoing_webhooks": 0, "user_activity": 8,
                "user_activity_interval": 0, "deferred_email_senders": 0, "thumbnail": 4,
                "notify_tornado_9800": 0, "notify_tornado_9801": 0}


def run(bindir):
    r = json.load(open(os.environ["CUSTOS_SERVICES"]))["rabbitmq"]
    env = dict(os.environ, RABBITMQ_PASSWORD=r["password"])
    api = ["--api-url", f"http://127.0.0.1:{r['api_port']}", "--user", r["user"]]
    # rabbitmqctl reaches the harness node through its own epmd and Erlang cookie; hyperfine
    # gives every command one environment, so its own goes through env(1).
    ctl = ["env", f"HOME={os.path.join(r['dir'], 'home')}", f"ERL_EPMD_PORT={r['epmd_port']}",
           "RABBITMQ_CONF_ENV_FILE=/dev/null", "/usr/lib/rabbitmq/bin/rabbitmqctl", "-n", r["nodename"], "-q"]

    def harness(*args):
        subprocess.run([HARNESS, *args], env=env, check=True)

    def group(key, vhost, runs):
        return measure(key, [
            ("custos check_rabbitmq_queues", [f"{bindir}/check_rabbitmq_queues", *api, "--vhost", vhost]),
            ("custos check_rabbitmq_consumers", [f"{bindir}/check_rabbitmq_consumers", *api, "--vhost", vhost]),
            ("rabbitmqctl list_queues name messages consumers", [*ctl, "list_queues", "-p", vhost, "name", "messages", "consumers"]),
        ], env, runs, section="rabbitmq")

    for q, n in ZULIP_QUEUES.items():
        harness("publish", "bench", q, str(n))
    harness("wait", "bench", "digest_emails", "40", "0")
    group("queues_15", "bench", RUNS)
    for n in (100, 1000, 10000):
        vhost = f"scale{n}"
        harness("declare-queues", vhost, "q", str(n))
        harness("wait", vhost, f"q{n - 1:05}", "0", "0")
        group(f"queues_{n}", vhost, SCALE_RUNS)
    measure("queues_10000_one_request", [
        ("custos check_rabbitmq_queues --page-size 0",
         [f"{bindir}/check_rabbitmq_queues", *api, "--vhost", "scale10000", "--page-size", "0"]),
    ], env, SCALE_RUNS, section="rabbitmq")


if __name__ == "__main__":
    run(os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "target/release"))
