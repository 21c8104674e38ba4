#!/bin/sh
# The shipped profile uses panic = "abort"; plugin-core's hook must still turn a panic into
# "UNKNOWN - internal error" with exit 3 (an abort would be exit 134 / CRITICAL in Nagios).
# Usage: tests/release-panic.sh path/to/release/custos-fixture
set -u
bin=$1
fail=0
for mode in panic panic-thread; do
    out=$(RUST_BACKTRACE=1 "$bin" --mode "$mode" 2>&1)
    rc=$?
    case "$out" in
        "FIXTURE UNKNOWN - internal error: boom"*) ;;
        *) echo "release $mode: unexpected output: $out"; fail=1 ;;
    esac
    if [ "$rc" != 3 ]; then echo "release $mode: exit $rc, expected 3"; fail=1; fi
done
if [ "$fail" = 0 ]; then echo "release-panic: 2 passed, 0 failed"; else echo "release-panic: failed"; exit 1; fi
