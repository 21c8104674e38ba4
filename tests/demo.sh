#!/bin/sh
# make demo: runs every custos check against the throwaway servers that custos-harness started
# (CUSTOS_* variables), printing each command line, its output and its exit code.
# Usage: tests/demo.sh BINDIR
set -u
bindir=$(cd "${1:-target/release}" && pwd)
PATH="$bindir:$PATH"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Runs a command, prints it with its output and exit code, and records a row of the summary.
show() {
    out=$("$@" 2>&1)
    rc=$?
    printf '\n$ %s\n%s\n(exit %s)\n' "$*" "$out" "$rc" | sed "s#$work#\$DEMO#g"
    case $rc in 0) state=OK ;; 1) state=WARNING ;; 2) state=CRITICAL ;; 3) state=UNKNOWN ;; *) state="exit $rc" ;; esac
    case ${1##*/} in
        check_*) printf '%s\t%s\t%s\n' "${1##*/}" "$state" "$(printf '%s\n' "$out" | head -n 1 | sed "s#$work#\$DEMO#g")" >> "$work/summary" ;;
    esac
}
start=$(date +%s)

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

if [ -n "${CUSTOS_PG_PORT:-}" ]; then
    # Connect as the harness superuser over the Unix socket (the nagios role's way).
    export PGHOST="$CUSTOS_PG_SOCKET_DIR" PGUSER="$CUSTOS_PG_USER" PGDATABASE="$CUSTOS_PG_DBNAME"
    P="-p $CUSTOS_PG_PORT"
    R="-p $CUSTOS_PG_REPLICA_PORT"
    psql() { "$(ls -d /usr/lib/postgresql/*/bin | tail -1)/psql" -X -q $P "$@"; }
    psql -c "CREATE SCHEMA IF NOT EXISTS demo;
             DROP TABLE IF EXISTS demo.fts_update_log, demo.zerver_scheduledemail;
             CREATE TABLE demo.fts_update_log (id serial PRIMARY KEY, message_id int NOT NULL);
             INSERT INTO demo.fts_update_log (message_id) SELECT g FROM generate_series(1, 7) g;
             CREATE TABLE demo.zerver_scheduledemail (id serial PRIMARY KEY,
               scheduled_timestamp timestamptz NOT NULL, data text NOT NULL, type smallint NOT NULL);
             INSERT INTO demo.zerver_scheduledemail (scheduled_timestamp, data, type)
               VALUES (now() - interval '2 hours', 'x', 1), (now() - interval '5 minutes', 'x', 1),
                      (now() + interval '1 day', 'x', 1);" >/dev/null

    echo
    echo "== check_postgres: check_postgres.pl's actions, one connection =="
    show check_postgres $P
    show check_postgres $P --action query_time,txn_time -w 20s -c 40s
    show check_postgres $P --action autovac_freeze,backends,disabled_triggers,hitratio,locks,query_time,sequence,timesync,txn_time -w query_time=20s,txn_time=20s,locks=400,autovac_freeze=101% -c query_time=40s,txn_time=40s,locks=600,autovac_freeze=105%
    show check_postgres $P --action database_size --include "$CUSTOS_PG_DBNAME" -c 1MB
    show check_postgres $P --action bloat

    echo
    echo "== check_postgres_replication_lag: both sides =="
    show check_postgres_replication_lag $P
    show check_postgres_replication_lag $P --replicas-warning 1:
    show check_postgres_replication_lag $R

    echo
    echo "== check_postgres_backup =="
    date -Iseconds -d '-3 hours' > "$work/last_postgresql_backup"
    show check_postgres_backup $P --marker-file "$work/last_postgresql_backup" --wal-archive-dir "$CUSTOS_PG_ARCHIVE_DIR" -v
    date -Iseconds -d '-26 hours' > "$work/last_postgresql_backup"
    show check_postgres_backup $P --marker-file "$work/last_postgresql_backup"
    show check_postgres_backup $P --marker-file "$work/nothing-here"
    show check_postgres_backup $R

    echo
    echo "== check_fts_update_log and check_email_deliverer_backlog (Zulip-shaped tables) =="
    show check_fts_update_log $P --table demo.fts_update_log
    show check_fts_update_log $P --table demo.fts_update_log -c 10 -w 5
    show check_email_deliverer_backlog $P --table demo.zerver_scheduledemail
    show check_email_deliverer_backlog $P --table demo.zerver_scheduledemail --lag 1h
    show check_fts_update_log -H 127.0.0.1 -p 1 -t 3
fi

if [ -n "${CUSTOS_NGINX_HTTP_PORT:-}" ]; then
    H="http://127.0.0.1:$CUSTOS_NGINX_HTTP_PORT"
    S="$CUSTOS_NGINX_HTTPS_PORT"
    echo
    echo "== check_website_response against the throwaway nginx =="
    show check_website_response -u "$H/" -v
    show check_website_response -u "http://[::1]:$CUSTOS_NGINX_HTTP_PORT/status/" -s 'Checks running'
    show check_website_response -u "$H/status/" -s 'Checks stopped'
    show check_website_response -u "$H/dists/stable/Release" -e 200 -s Contents-amd64
    show check_website_response -u "$H/private/" -e 200,302,401
    show check_website_response -u "$H/error"
    show check_website_response -u "$H/hop1" -v
    show check_website_response -u "$H/loop-a"
    show check_website_response -u "https://a.custos.test:$S/" -I 127.0.0.1 --ca-cert "$CUSTOS_NGINX_CA" -C 30,14 --extended-perfdata
    show check_website_response -u "https://b.custos.test:$S/" -I 127.0.0.1 --ca-cert "$CUSTOS_NGINX_CA" -C 30,14
    show check_website_response -u "https://expired.custos.test:$S/" -I 127.0.0.1 --ca-cert "$CUSTOS_NGINX_CA"
    show check_website_response -u "https://a.custos.test:$S/" -I 127.0.0.1
    ln -sf "$bindir/check_website_response" "$work/check_website_response.sh"
    show "$work/check_website_response.sh" -u "$H/" -w 6000 -c 12000
    show check_website_response -u "http://127.0.0.1:1/"
fi

if [ -n "${CUSTOS_RABBITMQ_API_URL:-}" ]; then
    echo
    echo "== check_rabbitmq_queues and check_rabbitmq_consumers against the throwaway broker =="
    harness=$(dirname "$0")/../target/debug/custos-harness
    # A Zulip-like vhost: queues with backlogs, consumers that hold (never ack) a message.
    for q in deferred_work:12 digest_emails:300 embed_links:3 notify_tornado_9800:2 user_activity:60 missedmessage_emails:0; do
        "$harness" publish zulip "${q%%:*}" "${q##*:}"
    done
    consumers=""
    for q in deferred_work digest_emails embed_links notify_tornado_9800; do
        "$harness" consume zulip "$q" 60 &
        consumers="$consumers $!"
    done
    # Until the management API's statistics show them (a consumer holds one message unacked).
    for q in deferred_work:12 digest_emails:300 embed_links:3 notify_tornado_9800:2; do
        "$harness" wait zulip "${q%%:*}" "${q##*:}" 1
    done
    now=$(date +%s)
    mkdir -p "$work/queue_stats"
    printf '{"update_time": %s, "recent_average_consume_time": 5.0, "current_queue_size": 300}\n' "$now" > "$work/queue_stats/digest_emails.stats"
    printf '{"update_time": %s, "recent_average_consume_time": 0.01}\n' "$((now - 240))" > "$work/queue_stats/deferred_work.stats"
    R="--api-url $CUSTOS_RABBITMQ_API_URL --user $CUSTOS_RABBITMQ_USER --vhost zulip"
    export RABBITMQ_PASSWORD="$CUSTOS_RABBITMQ_PASSWORD"
    show check_rabbitmq_queues $R
    show check_rabbitmq_queues $R --stats-dir "$work/queue_stats"
    show check_rabbitmq_queues $R --queue digest_emails --queue user_activity -w 100 -c 500 -v
    show check_rabbitmq_consumers $R
    show check_rabbitmq_consumers $R --zulip-grouping --queue notify_tornado --queue deferred_work --queue missedmessage_emails
    show check_rabbitmq_consumers $R --queue deferred_work --state-file "$work/check-rabbitmq-consumers-deferred_work"
    show check_cron_file "$work/check-rabbitmq-consumers-deferred_work"
    show check_rabbitmq_queues --amqp-url "amqp://127.0.0.1:$CUSTOS_RABBITMQ_AMQP_PORT/zulip" --user "$CUSTOS_RABBITMQ_USER" --queue digest_emails --queue missing
    RABBITMQ_PASSWORD=wrong show check_rabbitmq_queues $R
    show check_rabbitmq_queues --api-url http://127.0.0.1:1
    # shellcheck disable=SC2086
    kill $consumers 2>/dev/null
    wait 2>/dev/null
fi

if [ -n "${CUSTOS_ZULIP_SITE:-}" ]; then
    echo
    echo "== check_send_receive_time against the Zulip test server =="
    umask 077
    printf '[api]\nemail=%s\nkey=%s\nsite=%s\n' "$CUSTOS_ZULIP_SENDER_EMAIL" "$CUSTOS_ZULIP_SENDER_KEY" "$CUSTOS_ZULIP_SITE" > "$work/zuliprc-send"
    printf '[api]\nemail=%s\nkey=%s\n' "$CUSTOS_ZULIP_RECEIVER_EMAIL" "$CUSTOS_ZULIP_RECEIVER_KEY" > "$work/zuliprc-receive"
    umask 022
    Z="--sender-config $work/zuliprc-send --receiver-config $work/zuliprc-receive"
    show check_send_receive_time $Z -v
    show check_send_receive_time $Z --state-file "$work/check_send_receive_state"
    show check_cron_file "$work/check_send_receive_state"
    printf 'wrong-key\n' > "$work/bad.key"
    chmod 600 "$work/bad.key"
    show check_send_receive_time $Z --receiver-email "$CUSTOS_ZULIP_RECEIVER_EMAIL" --receiver-key-file "$work/bad.key"
    show check_send_receive_time --site http://127.0.0.1:1 $Z
fi

echo
echo "== host checks: worker memory, the email deliverer, queue worker errors, pending upgrades =="
manage=/home/zulip/deployments/current/manage.py
# Processes whose command lines are Zulip's (python3 ... manage.py process_queue --queue_name=Q),
# each holding a known amount of memory until it is killed.
hold='import os, sys, time; x = b"\1" * (int(os.environ["MIB"]) << 20); open(os.environ["READY"], "w").close(); time.sleep(300)'
# argv[0] is "python3", as when manage.py's "#!/usr/bin/env python3" starts them.
as_python3='import os, sys; os.execv("/usr/bin/python3", ["python3"] + sys.argv[1:])'
workers=""
for q in user_activity:40 embed_links:12 deferred_work:8; do
    MIB=${q##*:} READY="$work/ready-${q%%:*}" /usr/bin/python3 -c "$as_python3" -c "$hold" "$manage" process_queue "--queue_name=${q%%:*}" &
    workers="$workers $!"
done
MIB=1 READY="$work/ready-deliverer" /usr/bin/python3 -c "$as_python3" -c "$hold" "$manage" deliver_scheduled_emails &
deliverer=$!
for i in $(seq 50); do
    [ "$(ls "$work"/ready-* 2>/dev/null | wc -l)" -ge 4 ] && break
    sleep 0.1
done
show check_worker_memory
show check_worker_memory -w 32MiB -c 200MiB
show check_worker_memory --metric pss -v
show check_worker_memory --cmdline "$manage process_queue --queue_name=missedmessage_emails" --min-procs 1
show check_email_deliverer_process
show check_email_deliverer_process --min-uptime 1h
kill $deliverer
wait $deliverer 2>/dev/null
show check_email_deliverer_process
# shellcheck disable=SC2086
kill $workers
wait 2>/dev/null

mkdir "$work/queue_error"
printf '%s\t[{"type": "embed", "message_id": 17}]\n' "$(date -d '-2 days' '+%a %b %e %H:%M:%S %Y')" > "$work/queue_error/embed_links.errors"
for i in 1 2; do
    printf '%s\t[{"type": "digest", "user_profile_id": %s}]\n' "$(date -d '-3 minutes' '+%a %b %e %H:%M:%S %Y')" "$i"
done > "$work/queue_error/deferred_work.errors"
show check_queue_worker_errors --dir "$work/queue_error"
show check_queue_worker_errors --dir "$work/queue_error" --max-age 1d
show check_queue_worker_errors --dir "$work/queue_error" --max-age 1min
show check_queue_worker_errors --dir "$work/nothing-here"

data=$(cd "$(dirname "$0")/../crates/check_debian_packages/tests/data" && pwd)
show check_debian_packages --max-list-age 0
show check_debian_packages --input-file "$data/ubuntu2204-esm-phased-kept-back.txt" --list --max-list-age 0
show check_debian_packages --input-file "$data/debian12-updates-backports.txt" --only-security --max-list-age 0
show check_debian_packages --input-file "$data/lock-error.txt"

echo
echo "== summary: $(wc -l < "$work/summary") runs in $(( $(date +%s) - start )) s =="
printf "%-32s %-9s %s\n" check state "first line"
awk -F '\t' '{ line = $3; if (length(line) > 110) line = substr(line, 1, 107) "..."; printf "%-32s %-9s %s\n", $1, $2, line }' "$work/summary"
