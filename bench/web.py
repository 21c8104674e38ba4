#!/usr/bin/env python3
"""custos check_website_response next to monitoring-plugins' check_http and check_curl on the
same URLs of the harness' nginx: one plain-HTTP GET, and one HTTPS GET with the test CA
(custos and check_curl verify the certificate against it; check_http cannot verify and does not).
"""
import json, os, sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import measure  # noqa: E402


def run(bindir):
    web = json.load(open(os.environ["CUSTOS_SERVICES"]))["nginx"]
    http, https, ca = web["http_port"], web["https_port"], web["ca_cert"]
    mp = "/usr/lib/nagios/plugins"
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    custos = f"{bindir}/check_website_response"
    measure("http_get", [
        ("custos check_website_response", [custos, "-u", f"http://127.0.0.1:{http}/"]),
        ("check_http", [f"{mp}/check_http", "-H", "127.0.0.1", "-p", str(http), "-u", "/"]),
        ("check_curl", [f"{mp}/check_curl", "-H", "127.0.0.1", "-p", str(http), "-u", "/"]),
    ], env)
    measure("https_get", [
        ("custos check_website_response (verifies)",
         [custos, "-u", f"https://a.custos.test:{https}/", "-I", "127.0.0.1", "--ca-cert", ca]),
        ("check_http --sni (does not verify)",
         [f"{mp}/check_http", "-H", "a.custos.test", "-I", "127.0.0.1", "-p", str(https), "-S", "--sni", "-u", "/"]),
        ("check_curl -D --ca-cert (verifies)",
         [f"{mp}/check_curl", "-H", "a.custos.test", "-I", "127.0.0.1", "-p", str(https), "-S", "-D",
          "--ca-cert", ca, "-u", "/"]),
    ], env)


if __name__ == "__main__":
    run(os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "target/release"))
