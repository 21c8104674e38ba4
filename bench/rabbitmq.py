#!/usr/bin/env python3
"""custos check_rabbitmq_queues and check_rabbitmq_consumers next to `rabbitmqctl list_queues
name messages consumers` (what Zulip's cron jobs run as root) on the same throwaway broker, for
every source custos can read: the default (`--source auto`: the management API's lean listing,
live counts in one request plus /api/consumers, and from 1,000 queues on the broker its
Prometheus plugin), the lean listing alone (`--source api`), the statistics listing (`--rates`),
RabbitMQ's Prometheus plugin (`--source prometheus`), rabbitmqctl itself (`--source
rabbitmqctl`), and AMQP passive declares for named queues. The vhosts are made one after the
other, so the broker holds 115 queues at the 100-queue size and 1,115 at the 1,000-queue one. A Zulip-sized vhost (15 queues with messages), then 100, 1,000 and
10,000 queues (the growth curve; fewer runs, SCALE_RUNS).
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
CTL = "rabbitmqctl list_queues name messages consumers"


def run(bindir):
    r = json.load(open(os.environ["CUSTOS_SERVICES"]))["rabbitmq"]
    env = dict(os.environ, RABBITMQ_PASSWORD=r["password"])
    api = ["--api-url", f"http://127.0.0.1:{r['api_port']}", "--user", r["user"]]
    prom = ["--source", "prometheus", "--prometheus-url", f"http://127.0.0.1:{r['prom_port']}"]
    # rabbitmqctl reaches the harness node through its own epmd and Erlang cookie; hyperfine
    # gives every command one environment, so its own goes through env(1).
    ctl = ["env", f"HOME={os.path.join(r['dir'], 'home')}", f"ERL_EPMD_PORT={r['epmd_port']}",
           "RABBITMQ_CONF_ENV_FILE=/dev/null", "/usr/lib/rabbitmq/bin/rabbitmqctl", "-n", r["nodename"]]
    ctl_cmd = " ".join(ctl)

    def harness(*args):
        subprocess.run([HARNESS, *args], env=env, check=True)

    def group(key, vhost, runs):
        queues = f"{bindir}/check_rabbitmq_queues"
        # Count limits the sizes never reach: every source does the same whole-vhost work.
        limits = ["--vhost", vhost, "-w", "1000000", "-c", "2000000", "--health", "none"]
        return measure(key, [
            ("custos check_rabbitmq_queues", [queues, *api, *limits]),
            ("custos check_rabbitmq_queues --source api", [queues, *api, *limits, "--source", "api"]),
            ("custos check_rabbitmq_consumers", [f"{bindir}/check_rabbitmq_consumers", *api, "--vhost", vhost,
                                                 "--min-consumers", "0"]),
            ("custos check_rabbitmq_queues --source prometheus", [queues, *prom, *limits]),
            ("custos check_rabbitmq_queues --rates", [queues, *api, *limits, "--rates"]),
            ("custos check_rabbitmq_queues --source rabbitmqctl",
             [queues, "--source", "rabbitmqctl", "--rabbitmqctl", ctl_cmd, *limits]),
            (CTL, [*ctl, "-q", "list_queues", "-p", vhost, "name", "messages", "consumers"]),
        ], env, runs, section="rabbitmq")

    for q, n in ZULIP_QUEUES.items():
        harness("publish", "bench", q, str(n))
    harness("wait", "bench", "digest_emails", "40", "0")
    group("queues_15", "bench", RUNS)
    # Zulip's queues by name over AMQP (no management plugin, no listing).
    named = [a for q in ZULIP_QUEUES for a in ("--queue", q)]
    url = f"amqp://{r['user']}@127.0.0.1:{r['amqp_port']}/bench"
    measure("queues_15_named", [
        ("custos check_rabbitmq_queues --amqp-url (15 named)",
         [f"{bindir}/check_rabbitmq_queues", "--amqp-url", url, *named, "-w", "1000000", "-c", "2000000"]),
        ("custos check_rabbitmq_queues --queue (15 named, API)",
         [f"{bindir}/check_rabbitmq_queues", *api, "--vhost", "bench", *named, "-w", "1000000", "-c", "2000000",
          "--health", "none"]),
    ], env, RUNS, section="rabbitmq")
    for n in (100, 1000, 10000):
        vhost = f"scale{n}"
        harness("declare-queues", vhost, "q", str(n))
        harness("wait", vhost, f"q{n - 1:05}", "0", "0")
        group(f"queues_{n}", vhost, SCALE_RUNS)


if __name__ == "__main__":
    run(os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "target/release"))
