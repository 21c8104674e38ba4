#!/bin/sh
# Installs the system packages custos' tests need, when they are missing.
# As root: apt-get installs them (without starting their system services, so the machine's
# own ports stay free). Otherwise: says exactly what to install, and fails.
set -eu

# DEMO=1: only what make demo uses (the harness' servers); BENCH=1: also the peers make bench
# compares with; LIST=1: print the packages it would check, one per line, and install nothing.
missing=""
need() { # need PACKAGE TEST-COMMAND...
    pkg=$1; shift
    if [ "${LIST:-}" = 1 ]; then echo "$pkg"; return; fi
    if ! "$@" >/dev/null 2>&1; then missing="$missing $pkg"; fi
}
# PostgreSQL server binaries (initdb, pg_ctl, pg_basebackup) and the postgres OS user.
need postgresql sh -c 'ls /usr/lib/postgresql/*/bin/initdb && id postgres'
need postgresql-client sh -c 'ls /usr/lib/postgresql/*/bin/psql'
# RabbitMQ with its management plugin, and epmd.
need rabbitmq-server test -x /usr/lib/rabbitmq/bin/rabbitmq-server
need erlang-base command -v epmd
# nginx serves the HTTP(S) tests of check_website_response; openssl makes their certificates.
need nginx test -x /usr/sbin/nginx
need openssl command -v openssl
# The demo's stand-ins for Zulip's queue workers are Python processes.
need python3 test -x /usr/bin/python3
# The rest is for make test (and bench), not for make demo.
if [ "${DEMO:-}" != 1 ]; then
# pgBackRest, for check_postgres_backup's --source pgbackrest tests.
need pgbackrest command -v pgbackrest
# supervisord runs the programs check_email_deliverer_process --supervisor reads.
need supervisor test -x /usr/bin/supervisord
# The official Zulip client runs in a virtualenv against the test Zulip server.
need python3-venv python3 -c 'import ensurepip, venv'
# check_postgres.pl, the oracle of check_postgres' tests (and Date::Parse, which its
# checkpoint action needs).
need check-postgres test -x /usr/bin/check_postgres
need libtimedate-perl perl -MDate::Parse -e 1
# The monitoring daemons that run the shipped command definitions, and check_nrpe.
need nagios4 test -x /usr/sbin/nagios4
need icinga2 test -x /usr/sbin/icinga2
need nagios-nrpe-server test -x /usr/sbin/nrpe
need nagios-nrpe-plugin test -x /usr/lib/nagios/plugins/check_nrpe
# Zulip's commands reach the monitored hosts with check_by_ssh: an sshd of the test's own on
# loopback (its system service is not started), and the stock plugins Zulip's commands run.
need openssh-server test -x /usr/sbin/sshd
need openssh-client command -v ssh-keygen
need monitoring-plugins-basic test -x /usr/lib/nagios/plugins/check_by_ssh
# Prometheus (with promtool) and node_exporter read what --textfile writes and run the shipped
# alerting rules.
need prometheus test -x /usr/bin/promtool
need prometheus-node-exporter test -x /usr/bin/prometheus-node-exporter
fi
# The peers that make bench compares with (BENCH=1): check_pgsql, check_http, check_curl,
# check_procs, check_apt, check_postgres.pl, a Python with Zulip's plugins' libraries,
# hyperfine and GNU time.
if [ "${BENCH:-}" = 1 ]; then
    need monitoring-plugins-standard test -x /usr/lib/nagios/plugins/check_pgsql
    need monitoring-plugins-basic sh -c 'test -x /usr/lib/nagios/plugins/check_procs && test -x /usr/lib/nagios/plugins/check_apt'
    # check_curl needs liburiparser1, which monitoring-plugins-standard only recommends.
    need liburiparser1 sh -c 'ls /usr/lib/*/liburiparser.so.1'
    need hyperfine command -v hyperfine
    need time test -x /usr/bin/time
    need python3-requests /usr/bin/python3 -c 'import requests'
    need python3-psycopg2 /usr/bin/python3 -c 'import psycopg2'
    need python3-pika /usr/bin/python3 -c 'import pika'
fi

if [ -z "$missing" ] || [ "${LIST:-}" = 1 ]; then
    exit 0
fi
if [ "$(id -u)" != 0 ]; then
    echo "custos tests need these Debian packages:$missing" >&2
    echo "install them with: sudo apt-get install$missing" >&2
    exit 1
fi

echo "installing:$missing" >&2
# Keep package scripts from starting system services (Debian's policy-rc.d convention), unless
# the machine already has a policy of its own.
policy=/usr/sbin/policy-rc.d
own_policy=false
if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' > "$policy"
    chmod 755 "$policy"
    own_policy=true
fi
cleanup() { if $own_policy; then rm -f "$policy"; fi; }
trap cleanup EXIT
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing
