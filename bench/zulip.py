#!/usr/bin/env python3
"""custos check_send_receive_time for a fast round trip against the harness' Zulip test server
(CUSTOS_ZULIP_* from custos-harness run): the whole probe (register, send, receive, delete the
message, delete the queue). Zulip's own check cannot run here (it needs Django and Zulip's
database); bench/host.py measures the Python start-up it pays before any work.
"""
import os, sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import measure  # noqa: E402


def run(bindir):
    env = dict(os.environ,
               ZULIP_SENDER_EMAIL=os.environ["CUSTOS_ZULIP_SENDER_EMAIL"],
               ZULIP_SENDER_API_KEY=os.environ["CUSTOS_ZULIP_SENDER_KEY"],
               ZULIP_RECEIVER_EMAIL=os.environ["CUSTOS_ZULIP_RECEIVER_EMAIL"],
               ZULIP_RECEIVER_API_KEY=os.environ["CUSTOS_ZULIP_RECEIVER_KEY"])
    measure("zulip_probe", [
        ("custos check_send_receive_time",
         [f"{bindir}/check_send_receive_time", "--site", os.environ["CUSTOS_ZULIP_SITE"]]),
    ], env)


if __name__ == "__main__":
    run(os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "target/release"))
