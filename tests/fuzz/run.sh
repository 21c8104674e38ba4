#!/bin/sh
# make fuzz: runs every cargo-fuzz target (fuzz/) with libFuzzer for FUZZ_SECONDS each, on
# the nightly toolchain cargo-fuzz needs for its sanitizer flags, and prints a table of
# executions. A crash is copied into tests/fuzz/regressions/<target>/ (replayed by make test
# from then on) and fails the run.
#   sh tests/fuzz/run.sh SECONDS [TARGET...]
set -eu
cd "$(dirname "$0")/../.."
seconds=${1:-60}
shift || true
targets=${*:-$(sed -n 's/^name = "\([a-z0-9_]*\)"$/\1/p' fuzz/Cargo.toml | grep -v '^custos')}

if ! rustup toolchain list | grep -q '^nightly'; then
    echo "make fuzz needs a nightly toolchain for cargo-fuzz: rustup toolchain install nightly" >&2
    exit 1
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "installing cargo-fuzz" >&2
    cargo install --locked cargo-fuzz
fi

mkdir -p target/fuzz
report=target/fuzz/report.md
printf '| target | seconds | executions | executions/s | corpus |\n|---|---:|---:|---:|---:|\n' > "$report"
failed=""
for t in $targets; do
    log=target/fuzz/$t.log
    mkdir -p "fuzz/corpus/$t"
    if cargo +nightly fuzz run --fuzz-dir fuzz "$t" -- -max_total_time="$seconds" \
            -print_final_stats=1 -max_len=65536 >"$log" 2>&1; then
        :
    else
        failed="$failed $t"
        mkdir -p "tests/fuzz/regressions/$t"
        for a in fuzz/artifacts/"$t"/*; do
            [ -f "$a" ] && cp "$a" "tests/fuzz/regressions/$t/"
        done
        tail -40 "$log" >&2
    fi
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    corpus=$(find "fuzz/corpus/$t" -type f | wc -l)
    rate=$(( ${execs:-0} / seconds ))
    printf '| %s | %s | %s | %s | %s |\n' "$t" "$seconds" "${execs:-?}" "$rate" "$corpus" >> "$report"
done
cat "$report"
if [ -n "$failed" ]; then
    echo "crashes in:$failed (inputs copied to tests/fuzz/regressions/)" >&2
    exit 1
fi
