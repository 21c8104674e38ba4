#!/usr/bin/env python3
"""custos check_send_receive_time for a fast round trip against the harness' Zulip test server
(CUSTOS_ZULIP_* from custos-harness run): wall, CPU and peak RSS of the whole probe (register,
send, receive, delete the message, delete the queue). Zulip's own check cannot run here (it
needs Django and Zulip's database); a Python start-up with the libraries Zulip's plugins import
is the comparison. bench/common.py measures.

Run under the harness (make bench):  custos-harness run -- python3 bench/zulip.py BINDIR
"""
import os, sys, tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import compare, header  # noqa: E402

bindir = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "target/release")
env = dict(os.environ,
           ZULIP_SENDER_EMAIL=os.environ["CUSTOS_ZULIP_SENDER_EMAIL"],
           ZULIP_SENDER_API_KEY=os.environ["CUSTOS_ZULIP_SENDER_KEY"],
           ZULIP_RECEIVER_EMAIL=os.environ["CUSTOS_ZULIP_RECEIVER_EMAIL"],
           ZULIP_RECEIVER_API_KEY=os.environ["CUSTOS_ZULIP_RECEIVER_KEY"])
header()
compare("Zulip end-to-end probe, fast delivery", [
    ("custos check_send_receive_time",
     [f"{bindir}/check_send_receive_time", "--site", os.environ["CUSTOS_ZULIP_SITE"]]),
], env)
