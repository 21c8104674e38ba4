#!/usr/bin/env python3
"""custos check_website_response next to monitoring-plugins' check_http and check_curl on the
same URLs of the harness' nginx: one plain-HTTP GET, and one HTTPS GET with the test CA
(custos and check_curl verify the certificate against it; check_http cannot verify and does not).
bench/common.py measures.

Run under the harness (make bench):  custos-harness run -- python3 bench/http.py BINDIR
"""
import json, os, sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import compare, header  # noqa: E402

bindir = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "target/release")
web = json.load(open(os.environ["CUSTOS_SERVICES"]))["nginx"]
http, https, ca = web["http_port"], web["https_port"], web["ca_cert"]
mp = "/usr/lib/nagios/plugins"
env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
custos = f"{bindir}/check_website_response"

header()
compare("HTTP GET of a 43-byte page", [
    ("custos check_website_response", [custos, "-u", f"http://127.0.0.1:{http}/"]),
    ("check_http", [f"{mp}/check_http", "-H", "127.0.0.1", "-p", str(http), "-u", "/"]),
    ("check_curl", [f"{mp}/check_curl", "-H", "127.0.0.1", "-p", str(http), "-u", "/"]),
], env)
compare("HTTPS GET with SNI (TLS 1.3)", [
    ("custos check_website_response (verifies)",
     [custos, "-u", f"https://a.custos.test:{https}/", "-I", "127.0.0.1", "--ca-cert", ca]),
    ("check_http --sni (does not verify)",
     [f"{mp}/check_http", "-H", "a.custos.test", "-I", "127.0.0.1", "-p", str(https), "-S", "--sni", "-u", "/"]),
    ("check_curl -D --ca-cert (verifies)",
     [f"{mp}/check_curl", "-H", "a.custos.test", "-I", "127.0.0.1", "-p", str(https), "-S", "-D",
      "--ca-cert", ca, "-u", "/"]),
], env)
