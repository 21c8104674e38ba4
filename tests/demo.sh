#!/bin/sh
# make demo: runs every custos check against the throwaway servers that custos-harness started
# (CUSTOS_* variables), printing each command line, its output and its exit code.
# Usage: tests/demo.sh BINDIR
set -u
bindir=$(cd "${1:-target/release}" && pwd)
PATH="$bindir:$PATH"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

show() {
    out=$("$@" 2>&1)
    rc=$?
    printf '\n$ %s\n%s\n(exit %s)\n' "$*" "$out" "$rc" | sed "s#$work#\$DEMO#g"
}

echo "custos demo: binaries from $bindir"
echo "servers: PostgreSQL primary 127.0.0.1:${CUSTOS_PG_PORT:-?} (replica :${CUSTOS_PG_REPLICA_PORT:-?}), RabbitMQ amqp :${CUSTOS_RABBITMQ_AMQP_PORT:-?}, API ${CUSTOS_RABBITMQ_API_URL:-?}"
echo "(\$DEMO is a temporary directory: $work)"

echo
echo "== check_cron_file: results that cron jobs wrote =="
now=$(date +%s)
echo "$now|0|OK|send time was 0.4171240329742431" > "$work/check_send_receive_state"
echo "$now|0|ok|queues normal" > "$work/check-rabbitmq-results"
echo "$((now - 3000))|2|critical|notify_tornado has 0 consumers" > "$work/check-rabbitmq-consumers-notify_tornado"
echo "$((now - 600))|1|WARNING|Missed filling {active_users_audit:is_bot:day} once." > "$work/check-analytics-state"
echo "$now|2|CRITICAL|select 1 | grep" > "$work/malformed"
mkfifo "$work/fifo"
show check_cron_file "$work/check_send_receive_state"
show check_cron_file "$work/check-rabbitmq-results"
show check_cron_file "$work/check-rabbitmq-consumers-notify_tornado"
show check_cron_file "$work/check-analytics-state" 4000
show check_cron_file --file "$work/check-analytics-state" --max-age 1h -w 5min -v
show check_cron_file "$work/missing"
show check_cron_file "$work/malformed"
show check_cron_file --output-format json "$work/check_send_receive_state"
show check_cron_file -t 1 "$work/fifo"
show check_cron_file --state-file "$work/relayed" "$work/check-rabbitmq-results"
show cat "$work/relayed"
