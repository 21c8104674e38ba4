//! Every Zulip invocation, from Zulip's Nagios commands, services and cron jobs of every era
//! (2014 to 2025), run with custos in place of Zulip's plugins against real servers: a
//! PostgreSQL primary and replica holding a database shaped like Zulip's (schema `zulip`, the
//! system bots in `zerver_userprofile`), the RabbitMQ broker with Zulip's queues and consumers,
//! nginx, and the Zulip API test server. Each case has Zulip's exit code and Zulip's message
//! (its status line without `STATE: `), which must be inside custos' status line; the cases
//! where custos deliberately differs say so, with the reason.
//!
//! A case's command is Zulip's, with the plugin directory and `/var/lib/nagios_state` moved
//! into the test's directory; where the Zulip server's own files matter, `--zulip-conf` and
//! `--zulip-settings` point at the test's (they stand where `/etc/zulip` would), and the
//! environment's `PGHOST`/`PGPORT`/`PGUSER` stand for the database being local, reached as the
//! user Zulip's commands log in as.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

use custos_daemons::plugin_dir;
use custos_harness::zulip::ZulipServer;
use std::path::PathBuf;

const SEND_KEY: &str = "nagiossendkey0000000000000000001";
const RECEIVE_KEY: &str = "nagiosreceivekey0000000000000002";

/// Where Zulip's command runs: the primary's host, the replica's, or the front end.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Host {
    Frontend,
    Primary,
    Replica,
}

struct World {
    dir: tempfile::TempDir,
    plugins: PathBuf,
    state: PathBuf,
    pg: custos_harness::Postgres,
    zulip: ZulipServer,
    /// The world's own vhost: the two tests run at once, and each recreates its queues.
    vhost: String,
    _amqp: custos_harness::amqp::Amqp,
    _consumers: Vec<custos_harness::amqp::Consumer>,
}

impl World {
    fn path(&self, p: &str) -> PathBuf {
        self.dir.path().join(p)
    }

    /// `{P}` the plugins, `{S}` the state directory, `{Z}` the Zulip server's zulip.conf, `{R}` the
    /// broker, `{URL}` the Zulip server, `{WEB}` nginx.
    fn expand(&self, template: &str) -> String {
        let r = custos_harness::rabbitmq();
        let zulip = format!("--zulip-conf {}", self.path("zulip.conf").display());
        let broker = format!(
            "--api-url {} --user {} --vhost {}",
            r.api_url(),
            r.user,
            self.vhost
        );
        template
            .replace("{P}", &self.plugins.display().to_string())
            .replace("{S}", &self.state.display().to_string())
            .replace("{Z}", &zulip)
            .replace("{R}", &broker)
            .replace("{URL}", &self.zulip.url)
            .replace("{WEB}", &custos_harness::nginx().http_url("/"))
    }

    /// Runs a Zulip command line on `host`: (exit code, first line).
    fn run(&self, host: Host, template: &str) -> (i32, String) {
        let line = self.expand(template);
        let port = match host {
            Host::Replica => self.pg.replica_port,
            _ => self.pg.primary_port,
        };
        let out = custos_harness::pgcheck::clean_command("sh")
            .args(["-c", &line])
            .env("PGHOST", &self.pg.socket_dir)
            .env("PGPORT", port.to_string())
            .env("PGUSER", "nagios")
            .env("RABBITMQ_PASSWORD", &custos_harness::rabbitmq().password)
            .env_remove("ZULIP_SITE")
            .env_remove("ZULIP_SENDER_EMAIL")
            .env_remove("ZULIP_SENDER_API_KEY")
            .env_remove("ZULIP_RECEIVER_EMAIL")
            .env_remove("ZULIP_RECEIVER_API_KEY")
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        (
            out.status.code().unwrap_or(-1),
            text.lines().next().unwrap_or("").to_string(),
        )
    }
}

fn world(name: &str) -> World {
    let dir = tempfile::tempdir().unwrap();
    let plugins = plugin_dir(dir.path()).unwrap();
    let state = dir.path().join("nagios_state");
    std::fs::create_dir(&state).unwrap();

    // zulip.conf: Zulip's database, two Tornado ports, two mobile notification shards.
    std::fs::write(
        dir.path().join("zulip.conf"),
        "[machine]\npuppet_classes = zulip::profile::standalone\ndeploy_type = production\n\n\
         [postgresql]\nversion = 15\ndatabase_name = zulip\ndatabase_user = zulip\n\n\
         [tornado_sharding]\n9800 = realm1\n9801 = realm2\n\n\
         [application_server]\nmobile_notification_shards = 2\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("settings.py"),
        "EXTERNAL_HOST = \"chat.example.com\"\nZULIP_ADMINISTRATOR = \"admin@example.com\"\n",
    )
    .unwrap();

    // PostgreSQL shaped like Zulip's: schema zulip, the system bots, the nagios role.
    let pg = custos_harness::private_postgres(name);
    let mut c = pg.ensure_role("nagios", None).unwrap();
    c.batch_execute("GRANT pg_monitor TO nagios").unwrap();
    pg.ensure_role("zulip", None).unwrap();
    c.batch_execute("CREATE DATABASE zulip OWNER zulip")
        .unwrap();
    let mut z = postgres::Client::connect(
        &pg.conn_str(false)
            .replace(&format!("dbname={}", pg.dbname), "dbname=zulip"),
        postgres::NoTls,
    )
    .unwrap();
    z.batch_execute(&format!(
        "CREATE SCHEMA zulip AUTHORIZATION zulip;
         ALTER ROLE zulip SET search_path TO zulip,public;
         CREATE TABLE zulip.zerver_realm (id serial PRIMARY KEY, string_id text NOT NULL);
         CREATE TABLE zulip.zerver_userprofile (id serial PRIMARY KEY, email text NOT NULL,
             delivery_email text NOT NULL, api_key varchar(32) NOT NULL UNIQUE,
             realm_id integer NOT NULL REFERENCES zulip.zerver_realm(id), is_bot boolean NOT NULL);
         CREATE INDEX upper_userprofile_email_idx ON zulip.zerver_userprofile (UPPER(email));
         INSERT INTO zulip.zerver_realm (string_id) VALUES ('zulipinternal'), ('');
         INSERT INTO zulip.zerver_userprofile (email, delivery_email, api_key, realm_id, is_bot) VALUES
             ('nagios-send-bot@zulip.com', 'nagios-send-bot@zulip.com', '{SEND_KEY}', 1, true),
             ('nagios-receive-bot@zulip.com', 'nagios-receive-bot@zulip.com', '{RECEIVE_KEY}', 1, true),
             ('iago@zulip.com', 'iago@zulip.com', 'iagokey0000000000000000000000000', 2, false),
             -- The same email in another realm: Zulip's get_system_bot looks in its realm only.
             ('nagios-send-bot@zulip.com', 'nagios-send-bot@zulip.com', 'otherrealmkey0000000000000000003', 2, false);
         CREATE TABLE zulip.fts_update_log (id serial PRIMARY KEY, message_id integer NOT NULL);
         CREATE TABLE zulip.zerver_scheduledemail (id serial PRIMARY KEY,
             scheduled_timestamp timestamptz NOT NULL, data text NOT NULL, type smallint NOT NULL);
         GRANT ALL ON ALL TABLES IN SCHEMA zulip TO zulip;
         GRANT USAGE ON SCHEMA zulip TO nagios;
         GRANT SELECT ON ALL TABLES IN SCHEMA zulip TO nagios;
         ALTER ROLE nagios SET search_path TO public,zulip;"
    ))
    .unwrap();

    // The replica has it all before any case runs there.
    let replica = pg
        .conn_str(true)
        .replace(&format!("dbname={}", pg.dbname), "dbname=zulip");
    custos_harness::util::wait_until(
        "the replica to have Zulip's database",
        std::time::Duration::from_secs(60),
        || {
            let mut c = postgres::Client::connect(&replica, postgres::NoTls).ok()?;
            let n: i64 = c
                .query_one("SELECT count(*) FROM zulip.zerver_userprofile", &[])
                .ok()?
                .get(0);
            (n == 4).then_some(())
        },
    )
    .unwrap();

    // The Zulip server, knowing the bots by the keys in the database.
    let zulip = ZulipServer::start(&[
        ("nagios-send-bot@zulip.com", SEND_KEY),
        ("nagios-receive-bot@zulip.com", RECEIVE_KEY),
    ]);

    // RabbitMQ: Zulip's queues; two Tornado queues and one shard consumed.
    let r = custos_harness::rabbitmq();
    let vhost = format!("zulip-dropin-{name}");
    r.add_vhost(&vhost).unwrap();
    let amqp = r.amqp(&vhost).unwrap();
    let consumed = [
        "notify_tornado_9800",
        "notify_tornado_9801",
        "missedmessage_mobile_notifications_shard1",
        "deferred_work",
    ];
    let idle = ["missedmessage_mobile_notifications_shard2", "email_senders"];
    let mut consumers = Vec::new();
    for q in consumed.iter().chain(&idle) {
        r.fresh_queue(&vhost, q).unwrap();
    }
    for q in consumed {
        consumers.push(amqp.consume(q).unwrap());
    }
    for q in consumed {
        r.wait_for(&vhost, q, 0, 1).unwrap();
    }
    // The worker stats Zulip's queue workers write.
    let stats = dir.path().join("queue_stats");
    std::fs::create_dir(&stats).unwrap();
    let now = plugin_core::unix_now();
    for q in ["deferred_work", "missedmessage_mobile_notifications_shard1"] {
        std::fs::write(
            stats.join(format!("{q}.stats")),
            format!("{{\"update_time\": {now}, \"recent_average_consume_time\": 0.01}}"),
        )
        .unwrap();
    }
    World {
        dir,
        plugins,
        state,
        pg,
        zulip,
        vhost,
        _amqp: amqp,
        _consumers: consumers,
    }
}

/// One case: where it ran in Zulip's setup, Zulip's command line, the exit code Zulip's
/// plugin gives in this situation, and its message (inside custos' status line).
struct Case {
    origin: &'static str,
    host: Host,
    command: &'static str,
    code: i32,
    message: &'static str,
}

const fn case(
    origin: &'static str,
    host: Host,
    command: &'static str,
    code: i32,
    message: &'static str,
) -> Case {
    Case {
        origin,
        host,
        command,
        code,
        message,
    }
}

/// Zulip's invocations, in the order a run needs (cron jobs before the readers of their files).
const CASES: &[Case] = &[
    // --- check_send_receive_time: the cron job, every form, then Nagios reading its file. ---
    case("cron 2016-2019, 2022", Host::Frontend,
        "{P}/check_send_receive_time --nagios --site={URL} {Z} --state-file {S}/check_send_receive_state",
        0, "send time was "),
    case("commands.cfg 2019-2025 check_send_receive_time", Host::Frontend,
        "{P}/check_cron_file {S}/check_send_receive_state", 0, "send time was "),
    case("cron 2016-2019 (websocket)", Host::Frontend,
        "{P}/check_send_receive_time --nagios --websocket --site={URL} {Z} --state-file {S}/check_send_receive_websockets_state",
        0, "send time was "),
    case("commands.cfg 2019 check_send_receive_time_websockets", Host::Frontend,
        "{P}/check_cron_file {S}/check_send_receive_websockets_state", 0, "send time was "),
    case("cron ~2020 (force-localhost)", Host::Frontend,
        "{P}/check_send_receive_time --nagios --site={URL} --force-localhost {Z} --state-file {S}/check_send_receive_state",
        0, "send time was "),
    case("cron 2024-2025 (no --nagios: the state file is always written)", Host::Frontend,
        "{P}/check_send_receive_time --site={URL} {Z} --state-file {S}/check_send_receive_state",
        0, "send time was "),
    case("commands.cfg 2014 (run by Nagios over SSH)", Host::Frontend,
        "{P}/check_send_receive_time --nagios --site={URL} {Z} --state-file {S}/check_send_receive_state",
        0, "send time was "),
    case("munin config", Host::Frontend,
        "{P}/check_send_receive_time --munin config", 0, "graph_title Send-Receive times"),
    case("munin value", Host::Frontend,
        "{P}/check_send_receive_time --munin --site={URL} {Z}", 0, "sendreceive.value "),
    // --- RabbitMQ: Zulip's cron jobs (custos', same files), Nagios reading them, 2014-2021's
    //     direct consumers command. ---
    case("cron rabbitmq-monitoring: check-rabbitmq-consumers", Host::Frontend,
        "{P}/check_rabbitmq_consumers --zulip-state-dir {S} {R} {Z}", 2, "queue email_mirror has 0 consumers, needs 1"),
    case("commands.cfg 2022-2025 check_rabbitmq_consumers!notify_tornado", Host::Frontend,
        "{P}/check_cron_file {S}/check-rabbitmq-consumers-notify_tornado", 0, "queue notify_tornado has 2 consumers, needs 2"),
    case("commands.cfg 2022-2025 check_rabbitmq_consumers!missedmessage_mobile_notifications", Host::Frontend,
        "{P}/check_cron_file {S}/check-rabbitmq-consumers-missedmessage_mobile_notifications", 2,
        "queue missedmessage_mobile_notifications has 1 consumers, needs 2"),
    case("commands.cfg 2022-2025 check_rabbitmq_consumers!deferred_work", Host::Frontend,
        "{P}/check_cron_file {S}/check-rabbitmq-consumers-deferred_work", 0, "queue deferred_work has 1 consumers, needs 1"),
    case("commands.cfg 2014-2021 check_rabbitmq_consumers!notify_tornado", Host::Frontend,
        "{P}/check_rabbitmq_consumers notify_tornado {R} {Z}", 0, "queue notify_tornado has 2 consumers, needs 2"),
    case("commands.cfg 2014-2021 check_rabbitmq_consumers!user_activity", Host::Frontend,
        "{P}/check_rabbitmq_consumers user_activity {R} {Z}", 2, "queue user_activity has 0 consumers, needs 1"),
    case("cron rabbitmq-monitoring: check-rabbitmq-queue", Host::Frontend,
        "{P}/check_rabbitmq_queues --zulip --stats-dir {D}/queue_stats {R} --state-file {S}/check-rabbitmq-results",
        0, "queues normal"),
    case("commands.cfg 2022-2025 check_rabbitmq_queues", Host::Frontend,
        "{P}/check_cron_file {S}/check-rabbitmq-results", 0, "queues normal"),
    // --- check_cron_file itself. ---
    case("commands.cfg 2019-2025 check_analytics_state", Host::Frontend,
        "{P}/check_cron_file {S}/check-analytics-state 4000", 0, "ok: analytics counts are up to date"),
    case("check_cron_file with arguments Zulip ignores", Host::Frontend,
        "{P}/check_cron_file {S}/check-analytics-state 4000 -x extra", 0, "ok: analytics counts are up to date"),
    case("check_cron_file, no file", Host::Frontend,
        "{P}/check_cron_file {S}/check-no-such-state", 3, "Results file is missing"),
    // --- PostgreSQL: check_postgres (Bucardo's) as Zulip's services call it. ---
    case("services check_postgres!zulip!nagios!connection", Host::Primary,
        "{P}/check_postgres --dbname=zulip --dbuser=nagios --action connection", 0, "connected to PostgreSQL"),
    case("services check_postgres_alert_args!zulip!nagios!locks!400!600", Host::Primary,
        "{P}/check_postgres --dbname=zulip --dbuser=nagios --action locks --warning=\"400\" --critical=\"600\"", 0, "locks"),
    case("services check_postgres_alert_args!...!query_time!20 seconds!40 seconds", Host::Primary,
        "{P}/check_postgres --dbname=zulip --dbuser=nagios --action query_time --warning=\"20 seconds\" --critical=\"40 seconds\"",
        0, ""),
    case("services check_postgres_alert_args!...!txn_idle!20 seconds!40 seconds (commented out)", Host::Primary,
        "{P}/check_postgres --dbname=zulip --dbuser=nagios --action txn_idle --warning=\"20 seconds\" --critical=\"40 seconds\"",
        0, ""),
    case("services check_postgres_alert_args!...!autovac_freeze!101%!105%", Host::Primary,
        "{P}/check_postgres --dbname=zulip --dbuser=nagios --action autovac_freeze --warning=\"101%\" --critical=\"105%\"",
        0, ""),
    case("services check_postgres!zulip!nagios!backends on the replica", Host::Replica,
        "{P}/check_postgres --dbname=zulip --dbuser=nagios --action backends", 0, "connections"),
    case("check_postgres.pl's default database (postgres) and -db", Host::Primary,
        "{P}/check_postgres -u nagios --action connection", 0, "connected to PostgreSQL"),
    // --- Zulip's PostgreSQL plugins, by their 2020-2025 names. ---
    case("commands.cfg 2021-2025 check_postgresql_replication_lag (primary, one replica)", Host::Primary,
        "{P}/check_postgresql_replication_lag", 1, "Only one replica!"),
    case("commands.cfg 2021-2025 check_postgresql_replication_lag (replica)", Host::Replica,
        "{P}/check_postgresql_replication_lag", 0, "replica is 0 bytes behind in replay of WAL logs from "),
    case("commands.cfg 2021-2023 check_postgresql_backup (primary with a replica)", Host::Primary,
        "{P}/check_postgresql_backup {Z}", 0, "this is the primary, with backups taken on the replicas"),
    case("commands.cfg 2021-2023 check_postgresql_backup (replica, marker missing)", Host::Replica,
        "{P}/check_postgresql_backup {Z} --marker-file {S}/last_postgresql_backup", 3,
        "could not determine completion time of last PostgreSQL backup"),
    case("commands.cfg 2021-2023 check_postgresql_backup (replica, marker fresh)", Host::Replica,
        "echo \"$(date -u +%Y-%m-%dT%H:%M:%S+00:00)\" > {S}/last_postgresql_backup && {P}/check_postgresql_backup {Z} --marker-file {S}/last_postgresql_backup",
        0, "last PostgreSQL backup completed "),
    case("commands.cfg 2022 check_postgresql_backup, 2022 rule (a replica is not judged)", Host::Replica,
        "{P}/check_postgresql_backup {Z} --backups-on primary", 0, "this is not the primary"),
    case("commands.cfg 2014-2025 check_fts_update_log (database from zulip.conf)", Host::Primary,
        "{P}/check_fts_update_log --zulip-conf {D}/zulip.conf", 0, "0 rows in fts_update_log table"),
    case("commands.cfg 2014-2021 check_email_deliverer_backlog (database from zulip.conf)", Host::Primary,
        "{P}/check_email_deliverer_backlog --zulip-conf {D}/zulip.conf", 0, ""),
    // --- Host checks. ---
    case("commands.cfg 2014-2025 check_worker_memory (Zulip's VSZ rule)", Host::Frontend,
        "{P}/check_worker_memory --metric vsz -w 600000KiB -c 800000KiB", 0, "No workers running"),
    case("commands.cfg 2014-2021 check_email_deliverer_process (none running)", Host::Frontend,
        "{P}/check_email_deliverer_process", 2, ""),
    case("commands.cfg 2014-2021 check_website_response (Camo)", Host::Frontend,
        "{P}/check_website_response.sh -u {WEB} -w 6000 -c 12000", 0, ""),
    case("check_website_response.sh: a warning above the critical", Host::Frontend,
        "{P}/check_website_response.sh -u {WEB} -w 12000 -c 6000", 3, "Critical must be greater than Warning"),
];

#[test]
fn every_zulip_invocation_runs_with_zulips_states() {
    let w = world("zulip-invocations");
    // The analytics cron job's file, as Zulip's writer leaves it (2024+: lower-case state).
    std::fs::write(
        w.state.join("check-analytics-state"),
        format!(
            "{}|0|ok|analytics counts are up to date\n",
            plugin_core::unix_now() as i64
        ),
    )
    .unwrap();
    let dir = w.dir.path().display().to_string();
    let mut table = Vec::new();
    let mut failures = Vec::new();
    for c in CASES {
        let command = c.command.replace("{D}", &dir);
        let (code, line) = w.run(c.host, &command);
        let ok = code == c.code && line.contains(c.message);
        table.push(format!(
            "| {} | `{}` | {} | {} | {} |",
            c.origin,
            c.command,
            c.code,
            code,
            line.replace('|', "/")
        ));
        if !ok {
            failures.push(format!(
                "{}: `{}` gave {code} `{line}`; Zulip: {} containing `{}`",
                c.origin,
                w.expand(&command),
                c.code,
                c.message
            ));
        }
    }
    // The table goes into the closing note and the README's switching page.
    std::fs::write(
        custos_daemons::repo().join("target/zulip-invocations.md"),
        format!(
            "| origin | command | Zulip's exit | custos' exit | custos' status line |\n|---|---|---|---|---|\n{}\n",
            table.join("\n")
        ),
    )
    .unwrap();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Deliberate differences, each with its reason (the README's switching page lists them).
#[test]
fn where_custos_deliberately_differs() {
    let w = world("zulip-differences");
    let d = w.dir.path().display().to_string();
    // Zulip's queue-error check globbed /var/log/zulip/queue_error/*.errors: a missing
    // directory was OK. custos cannot tell "no errors" from "wrong path" there: UNKNOWN,
    // saying how to accept it.
    let (code, line) = w.run(
        Host::Frontend,
        &format!("{{P}}/check_queue_worker_errors --dir {d}/no-such-dir"),
    );
    assert_eq!(code, 3, "{line}");
    assert!(line.contains("--ignore-missing"), "{line}");
    // An empty .errors file: Zulip warned on the file's existence; custos counts its events.
    std::fs::create_dir(w.path("queue_error")).unwrap();
    std::fs::write(w.path("queue_error/deferred_work.errors"), "").unwrap();
    let (code, line) = w.run(
        Host::Frontend,
        &format!("{{P}}/check_queue_worker_errors --dir {d}/queue_error"),
    );
    assert_eq!(
        (code, line.contains("no failed events")),
        (0, true),
        "{line}"
    );
    // A state file with an exit code outside 0-3: Zulip's reader exited with it.
    std::fs::write(
        w.state.join("odd"),
        format!("{}|7|ok|odd\n", plugin_core::unix_now() as i64),
    )
    .unwrap();
    let (code, line) = w.run(Host::Frontend, "{P}/check_cron_file {S}/odd");
    assert_eq!(code, 3, "{line}");
    // check_fts_update_log's table missing: Zulip's Django command printed a traceback.
    let (code, line) = w.run(
        Host::Primary,
        "{P}/check_fts_update_log --table no_such_table",
    );
    assert_eq!(code, 3, "{line}");
    assert!(line.contains("does not exist"), "{line}");
    // A bot missing from Zulip's database: Zulip's plugin raised DoesNotExist (a traceback,
    // exit 1, no state file); custos is UNKNOWN and names it.
    let (code, line) = w.run(
        Host::Frontend,
        "{P}/check_send_receive_time --site={URL} {Z} --sender-email nobody@zulip.com",
    );
    assert_eq!(code, 3, "{line}");
    assert!(line.contains("has no user nobody@zulip.com"), "{line}");
    // Without a zulip.conf (not a Zulip server) and no credentials: UNKNOWN, saying what to give.
    let (code, line) = w.run(
        Host::Frontend,
        "{P}/check_send_receive_time --site={URL} --zulip-conf /nonexistent/zulip.conf",
    );
    assert_eq!(code, 3, "{line}");
    assert!(line.contains("no credentials for the sender"), "{line}");
}
