#!/usr/bin/env bash
# reqwest's blocking client (its own runtime thread, requests over a channel) against its async
# client on a current-thread runtime, on the same local URL: the start-up cost that decided
# custos-http's design. Prints hyperfine's summary and the binary sizes.
# Usage: bench/reqwest-mode.sh URL   (e.g. under the harness: http://127.0.0.1:$CUSTOS_NGINX_HTTP_PORT/)
set -euo pipefail
cd "$(dirname "$0")/reqwest-mode"
url=${1:?URL}
cargo build -q --release --target-dir ../../target/reqwest-mode
bin=../../target/reqwest-mode/release
ls -l "$bin/blocking" "$bin/async" | awk '{print $5, $9}'
hyperfine -N --warmup 20 --min-runs 200 "$bin/blocking $url" "$bin/async $url"
