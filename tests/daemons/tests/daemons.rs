//! The shipped definitions under the real daemons of Debian 12: `nagios4 -v` accepts Zulip's
//! service sets of 2022-10 and 2025-12 with zulip-commands.cfg (and custos' commands.cfg beside
//! it), with only host definitions added; `icinga2 daemon -C` accepts the CheckCommands; an NRPE
//! daemon runs nagios/nrpe/custos.cfg for check_nrpe; a private Nagios 4 schedules Zulip's
//! 2025-12 services, reaching the "monitored hosts" with check_by_ssh through the test's own
//! sshd as Zulip does, against the test PostgreSQL pair, RabbitMQ, nginx and the Zulip test
//! server, and goes CRITICAL when the replica stops; an Icinga 2 instance runs the generated
//! CheckCommands.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

use custos_daemons::{plugin_dir, repo, Icinga, Nagios, Nrpe, ServiceStatus};
use custos_harness::zulip::ZulipServer;
use plugin_core::Perfdata;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// Zulip's Nagios configuration of `era` as a Debian Nagios 4 loads it: Debian's time periods
/// and templates, monitoring-plugins' command definitions, zulip-commands.cfg (in place of
/// Zulip's commands.cfg), custos' own commands.cfg, and the era's services and Nagios host.
fn zulip_files(era: &str) -> (Vec<PathBuf>, Vec<PathBuf>) {
    let n = repo().join("nagios/nagios4");
    (
        vec![
            PathBuf::from("/etc/nagios4/objects/timeperiods.cfg"),
            PathBuf::from("/etc/nagios4/objects/templates.cfg"),
            n.join("zulip-commands.cfg"),
            n.join("commands.cfg"),
            n.join(format!("zulip-services-{era}.cfg")),
            n.join(format!("zulip-localhost-{era}.cfg")),
        ],
        vec![PathBuf::from("/etc/nagios-plugins/config")],
    )
}

/// zulip-resource.cfg's macros with the test's values: the SSH transport, the plugins and
/// the state directory on the "monitored hosts".
fn resource(transport: &str, plugins: &Path, state: &Path) -> String {
    let shipped =
        std::fs::read_to_string(repo().join("nagios/nagios4/zulip-resource.cfg")).unwrap();
    for m in ["$USER2$=", "$USER3$=", "$USER4$=", "$USER5$="] {
        assert!(shipped.contains(m), "zulip-resource.cfg sets {m}");
    }
    format!(
        "$USER2$={transport}\n$USER3$=22\n$USER4$={}\n$USER5$={}\n",
        plugins.display(),
        state.display()
    )
}

#[test]
fn nagios_accepts_zulips_configuration_of_both_eras() {
    for (era, services, host_count, groups) in [
        (
            "2022-10",
            "Checked 182 services.",
            "Checked 12 hosts.",
            "Checked 18 host groups.",
        ),
        (
            "2025-12",
            "Checked 138 services.",
            "Checked 10 hosts.",
            "Checked 16 host groups.",
        ),
    ] {
        let d = tempfile::tempdir().unwrap();
        let plugins = plugin_dir(d.path()).unwrap();
        // Only host definitions added: the example's (its zephyr hosts in 2022-10).
        let mut hosts =
            std::fs::read_to_string(repo().join("nagios/nagios4/zulip-hosts.cfg.example")).unwrap();
        if era == "2022-10" {
            hosts = hosts
                .lines()
                .map(|l| {
                    l.strip_prefix("# ")
                        .filter(|_| {
                            l.starts_with("# define")
                                || l.starts_with("#     ")
                                || l.starts_with("# }")
                        })
                        .unwrap_or(l)
                })
                .collect::<Vec<_>>()
                .join("\n");
        }
        let example = d.path().join("zulip-hosts.cfg");
        std::fs::write(&example, hosts).unwrap();
        let (mut files, dirs) = zulip_files(era);
        files.push(example);
        let cfg = Nagios::config_with(
            d.path(),
            &plugins,
            &files,
            &dirs,
            &resource("/bin/false", &plugins, d.path()),
        )
        .unwrap();
        let out = Nagios::verify(&cfg).unwrap();
        assert!(out.contains("Total Errors:   0"), "{era}: {out}");
        assert!(out.contains("Total Warnings: 0"), "{era}: {out}");
        for s in [services, host_count, groups] {
            assert!(out.contains(s), "{era}: {s}\n{out}");
        }
    }
}

#[test]
fn icinga2_accepts_the_generated_check_commands() {
    let d = tempfile::tempdir().unwrap();
    let plugins = plugin_dir(d.path()).unwrap();
    let conf = Icinga::config(d.path(), &plugins, "").unwrap();
    let out = Icinga::validate(d.path(), &conf).unwrap();
    // The ITL's CheckCommands plus one per custos check.
    let n = custos_daemons::checks().len();
    assert!(out.contains("CheckCommands."), "{out}");
    let count: usize = out
        .lines()
        .find_map(|l| {
            l.split("Instantiated ")
                .nth(1)?
                .strip_suffix(" CheckCommands.")?
                .parse()
                .ok()
        })
        .unwrap();
    assert!(count >= n, "{count} CheckCommands for {n} checks:\n{out}");
}

/// Everything the services talk to, set up as on a Zulip installation.
struct World {
    dir: tempfile::TempDir,
    plugins: PathBuf,
    pg: custos_harness::Postgres,
    state: PathBuf,
    password_file: PathBuf,
    home: PathBuf,
    _zulip: ZulipServer,
    _amqp: custos_harness::amqp::Amqp,
    _consumers: Vec<custos_harness::amqp::Consumer>,
}

const VHOST: &str = "zulip-nagios";
const QUEUES: &[&str] = &[
    "deferred_work",
    "digest_emails",
    "email_mirror",
    "email_senders",
    "embed_links",
    "embedded_bots",
    "error_reports",
    "invites",
    "missedmessage_emails",
    "missedmessage_mobile_notifications",
    "outgoing_webhooks",
    "user_activity",
    "user_activity_interval",
    "user_presence",
    "notify_tornado_9800",
];
const CONSUMED: &[&str] = &["deferred_work", "digest_emails", "notify_tornado_9800"];

fn world() -> World {
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let plugins = plugin_dir(dir.path()).unwrap();
    // Owned by nagios, as on a host: NRPE's commands run as nagios and write there.
    let state = dir.path().join("nagios_state");
    std::fs::create_dir(&state).unwrap();
    let nagios = custos_daemons::nagios_user();

    // PostgreSQL: Zulip's database and the nagios role (password in ~/.pgpass).
    let pg = custos_harness::private_postgres("daemons");
    let mut c = pg.ensure_role("nagios", Some("nagios-pw")).unwrap();
    c.batch_execute("GRANT pg_monitor TO nagios").unwrap();
    c.batch_execute("CREATE DATABASE zulip").unwrap();
    let mut z = postgres::Client::connect(
        &pg.conn_str(false)
            .replace(&format!("dbname={}", pg.dbname), "dbname=zulip"),
        postgres::NoTls,
    )
    .unwrap();
    z.batch_execute(
        "CREATE TABLE fts_update_log (id serial PRIMARY KEY, message_id integer NOT NULL);
         CREATE TABLE zerver_scheduledemail (id serial PRIMARY KEY, scheduled_timestamp timestamptz NOT NULL, data text NOT NULL, type smallint NOT NULL);
         GRANT SELECT ON ALL TABLES IN SCHEMA public TO nagios;",
    )
    .unwrap();
    let home = dir.path().join("home");
    std::fs::create_dir(&home).unwrap();
    let pgpass = home.join(".pgpass");
    std::fs::write(&pgpass, "127.0.0.1:*:*:nagios:nagios-pw\n").unwrap();
    std::fs::set_permissions(&pgpass, std::fs::Permissions::from_mode(0o600)).unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    std::fs::write(state.join("last_postgresql_backup"), format!("{now}\n")).unwrap();

    // RabbitMQ: Zulip's queues, three of them consumed, a backlog on deferred_work.
    let r = custos_harness::rabbitmq();
    r.add_vhost(VHOST).unwrap();
    let amqp = r.amqp(VHOST).unwrap();
    let mut consumers = Vec::new();
    for q in QUEUES {
        r.fresh_queue(VHOST, q).unwrap();
    }
    amqp.publish("deferred_work", 60).unwrap();
    for q in CONSUMED {
        consumers.push(amqp.consume(q).unwrap());
    }
    r.wait_for(VHOST, "deferred_work", 60, 1).unwrap();
    r.wait_for(VHOST, "notify_tornado_9800", 0, 1).unwrap();
    let password_file = dir.path().join("rabbitmq-password");
    std::fs::write(&password_file, format!("{}\n", r.password)).unwrap();
    std::fs::set_permissions(&password_file, std::fs::Permissions::from_mode(0o600)).unwrap();
    nagios.chown(&password_file).unwrap();

    // The cron jobs of nagios/cron/custos, run once, with the test's paths: the probe with
    // the test server's bots (no Zulip database here), the broker through rabbitmqctl as root,
    // Zulip's drain-time rule with the workers' stats.
    let zulip = ZulipServer::start(&[
        ("send@zulip.test", "send-key"),
        ("receive@zulip.test", "receive-key"),
    ]);
    let stats = dir.path().join("queue_stats");
    std::fs::create_dir(&stats).unwrap();
    let now_f = plugin_core::unix_now();
    for (q, avg) in [("deferred_work", 20.0), ("digest_emails", 1.0)] {
        std::fs::write(
            stats.join(format!("{q}.stats")),
            format!("{{\"update_time\": {now_f}, \"recent_average_consume_time\": {avg}}}"),
        )
        .unwrap();
    }
    let cron = std::fs::read_to_string(repo().join("nagios/cron/custos")).unwrap();
    let jobs: Vec<String> = cron
        .lines()
        .filter(|l| l.starts_with("* "))
        .map(|l| l.split_whitespace().skip(6).collect::<Vec<_>>().join(" "))
        .collect();
    assert_eq!(jobs.len(), 3, "{cron}");
    for job in &jobs {
        let mut line = job
            .replace(
                "/usr/lib/nagios/plugins/",
                &format!("{}/", plugins.display()),
            )
            .replace("/var/lib/nagios_state", &state.display().to_string())
            .replace(" >/dev/null", "");
        if line.contains("check_send_receive_time") {
            line.push_str(&format!(
                " --site {} --sender-email send@zulip.test --receiver-email receive@zulip.test \
                 --zulip-conf /nonexistent/zulip.conf --state-file {}/check_send_receive_state",
                zulip.url,
                state.display()
            ));
        } else {
            line.push_str(&format!(
                " --rabbitmqctl '{}' --vhost {VHOST}",
                r.ctl_command()
            ));
        }
        if line.contains("check_rabbitmq_queues") {
            line.push_str(&format!(" --stats-dir {}", stats.display()));
        }
        let out = Command::new("sh")
            .args(["-c", &line])
            .env("ZULIP_SENDER_API_KEY", "send-key")
            .env("ZULIP_RECEIVER_API_KEY", "receive-key")
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        // The probe is OK; the queues have a backlog and email_mirror no consumer.
        let expected = if line.contains("check_send_receive_time") {
            0
        } else {
            2
        };
        assert_eq!(out.status.code(), Some(expected), "{line}: {text}");
    }

    // A worker failed once.
    let qe = dir.path().join("queue_error");
    std::fs::create_dir(&qe).unwrap();
    let stamp = Command::new("date")
        .arg("+%a %b %e %H:%M:%S %Y")
        .env("LC_ALL", "C")
        .output()
        .unwrap()
        .stdout;
    std::fs::write(
        qe.join("deferred_work.errors"),
        format!("{}\t[{{}}]\n", String::from_utf8_lossy(&stamp).trim()),
    )
    .unwrap();
    for f in std::fs::read_dir(&state).unwrap().flatten() {
        nagios.chown(&f.path()).unwrap();
    }
    nagios.chown(&state).unwrap();

    World {
        dir,
        plugins,
        pg,
        state,
        password_file,
        home,
        _zulip: zulip,
        _amqp: amqp,
        _consumers: consumers,
    }
}

impl World {
    fn path(&self, p: &str) -> PathBuf {
        self.dir.path().join(p)
    }

    /// nagios/nrpe/custos.cfg with its paths and addresses pointed at the test's.
    fn nrpe_commands(&self) -> String {
        let r = custos_harness::rabbitmq();
        let shipped = std::fs::read_to_string(repo().join("nagios/nrpe/custos.cfg")).unwrap();
        shipped
            .replace(
                "/usr/lib/nagios/plugins/",
                &format!("{}/", self.plugins.display()),
            )
            .replace("/var/lib/nagios_state", &self.state.display().to_string())
            .replace(
                "/var/log/zulip/queue_error",
                &self.path("queue_error").display().to_string(),
            )
            .replace(
                "/var/log/zulip/queue_stats",
                &self.path("queue_stats").display().to_string(),
            )
            .replace(
                "/etc/nagios/rabbitmq-password",
                &self.password_file.display().to_string(),
            )
            .replace("http://127.0.0.1:15672", &r.api_url())
            .replace("--user nagios", &format!("--user {}", r.user))
            .replace("--vhost /", &format!("--vhost {VHOST}"))
    }

    fn nrpe(&self) -> Nrpe {
        let nrpe_dir = self.path("nrpe");
        std::fs::create_dir_all(&nrpe_dir).unwrap();
        let port = self.pg.primary_port.to_string();
        let sock = self.pg.socket_dir.display().to_string();
        Nrpe::start(
            &nrpe_dir,
            &self.nrpe_commands(),
            &[("PGHOST", &sock), ("PGPORT", &port), ("PGUSER", "nagios")],
        )
        .unwrap()
    }

    /// Zulip's three kinds of hosts: the front end and the primary at 127.0.0.1, the replica
    /// at 127.0.0.2 (each address its own sshd, with that host's database in its environment).
    fn hosts_cfg(&self) -> PathBuf {
        let host = |name: &str, address: &str, groups: &str| {
            format!(
                "define host {{\n use zulip-generic-host\n host_name {name}\n alias {name}\n \
                 address {address}\n hostgroups {groups}\n}}\n"
            )
        };
        let text = [
            host("zulip-app", "127.0.0.1", "prod_frontends"),
            host("zulip-db1", "127.0.0.1", "postgresql_primary"),
            host("zulip-db2", "127.0.0.2", "postgresql_replica"),
        ]
        .concat();
        let p = self.path("hosts.cfg");
        std::fs::write(&p, text).unwrap();
        p
    }

    /// The test's sshd: 127.0.0.1 (front end, primary) and 127.0.0.2 (replica).
    fn sshd(&self) -> custos_daemons::Sshd {
        let env = |port: u16| {
            vec![
                (
                    "PGHOST".to_string(),
                    self.pg.socket_dir.display().to_string(),
                ),
                ("PGPORT".to_string(), port.to_string()),
                ("PGUSER".to_string(), "nagios".to_string()),
            ]
        };
        custos_daemons::Sshd::start(
            &self.path("sshd"),
            &[
                ("127.0.0.1", env(self.pg.primary_port)),
                ("127.0.0.2", env(self.pg.replica_port)),
            ],
        )
        .unwrap()
    }
}

/// The status of one service on one host.
fn find<'a>(s: &'a [ServiceStatus], host: &str, service: &str) -> &'a ServiceStatus {
    s.iter()
        .find(|x| x.host == host && x.service == service)
        .unwrap_or_else(|| panic!("no {service} on {host}"))
}

/// The state word a custos status line carries: `LABEL STATE - ...`, or check_cron_file's
/// `STATE: ...`.
fn word_state(output: &str) -> i32 {
    let mut words = output.split(' ');
    let first = words.next().unwrap_or("");
    let word = match first.strip_suffix(':') {
        Some(w) => w,
        None => words.next().unwrap_or(""),
    };
    match word.to_ascii_uppercase().as_str() {
        "OK" => 0,
        "WARNING" => 1,
        "CRITICAL" => 2,
        "UNKNOWN" => 3,
        other => panic!("no state word in {output:?} ({other})"),
    }
}

#[test]
fn shipped_definitions_under_the_real_daemons() {
    let w = world();

    // --- NRPE: the shipped command lines, for check_nrpe; perfdata comes through. -----------
    let nrpe = w.nrpe();
    for (command, state, start) in [
        ("check_worker_memory", 0, "WORKER_MEMORY OK - No workers running"),
        ("check_queue_worker_errors", 1, "QUEUE_WORKER_ERRORS WARNING - Queue errors logged in "),
        ("check_send_receive_time", 0, "OK: send time was "),
        ("check_rabbitmq_queues", 2, "CRITICAL: queue deferred_work problem: CRITICAL:clearing the backlog will take too long: 1200.0s, size: 60"),
        ("check_rabbitmq_consumers", 2, "RABBITMQ_CONSUMERS CRITICAL - queue email_mirror has 0 consumers, needs 1"),
        ("check_postgres_connection", 0, "POSTGRES OK - connected"),
        ("check_fts_update_log", 0, "FTS_UPDATE_LOG OK - 0 rows in fts_update_log table"),
        ("check_postgres_backup", 0, "POSTGRES_BACKUP OK - this is the primary, with backups taken on the replicas"),
        ("check_email_deliverer_process", 2, "EMAIL_DELIVERER_PROCESS CRITICAL - no process matches"),
    ] {
        let (code, out) = nrpe.ask(command);
        assert_eq!(code, state, "{command}: {out}");
        assert!(out.starts_with(start), "{command}: {out}");
        let perf = out.lines().next().unwrap().split_once(" | ").map(|(_, p)| p).unwrap_or_else(|| {
            out.lines().last().unwrap().strip_prefix("| ").unwrap_or_else(|| panic!("{command}: no perfdata in {out}"))
        });
        assert!(!Perfdata::parse_list(perf).unwrap().is_empty(), "{command}: {out}");
    }
    let (code, out) = nrpe.ask("no_such_command");
    assert_eq!(
        (code, out.trim()),
        (3, "NRPE: Command 'no_such_command' not defined")
    );

    // --- Nagios 4: Zulip's 2025-12 services, scheduled every minute, over SSH. -----------
    let sshd = w.sshd();
    let ndir = w.path("nagios");
    std::fs::create_dir(&ndir).unwrap();
    let (mut files, dirs) = zulip_files("2025-12");
    files.push(w.hosts_cfg());
    let cfg = Nagios::config_with(
        &ndir,
        &w.plugins,
        &files,
        &dirs,
        &resource(&sshd.transport(&w.plugins), &w.plugins, &w.state),
    )
    .unwrap();
    let out = Nagios::verify(&cfg).unwrap();
    assert!(out.contains("Total Errors:   0"), "{out}");
    let nagios = Nagios::start(&ndir, &cfg, &w.home).unwrap();
    let all = nagios
        .wait_for(
            "every service checked",
            Duration::from_secs(120),
            Nagios::checked_progress,
            |s| s.len() >= 30 && s.iter().all(|x| x.checked),
        )
        .unwrap();
    let app = "zulip-app";
    // Zulip's own checks, done by custos (the rest are monitoring-plugins', as in Zulip).
    let expect: &[(&str, &str, i32, &str)] = &[
        (app, "Check send receive time", 0, "OK: send time was "),
        (
            app,
            "Check RabbitMQ queue sizes",
            2,
            "CRITICAL: queue deferred_work problem: CRITICAL:clearing the backlog will take too long: 1200.0s, size: 60",
        ),
        (app, "Check RabbitMQ notify_tornado consumers", 0, "OK: queue notify_tornado has 1 consumers, needs 1"),
        (app, "Check RabbitMQ deferred_work consumers", 0, "OK: queue deferred_work has 1 consumers, needs 1"),
        (app, "Check RabbitMQ email_mirror consumers", 2, "CRITICAL: queue email_mirror has 0 consumers, needs 1"),
        (app, "Check analytics state", 3, "UNKNOWN: Results file is missing"),
        (app, "Check worker memory usage", 0, "WORKER_MEMORY OK - No workers running"),
        // /var/log/zulip/queue_error does not exist here: Zulip's glob said OK, custos says it
        // cannot read the directory (the switching page lists this difference).
        (app, "Check for queue worker errors.", 3, "QUEUE_WORKER_ERRORS UNKNOWN - cannot read /var/log/zulip/queue_error"),
        ("zulip-db1", "Check PostgreSQL connection", 0, "POSTGRES OK - connected"),
        ("zulip-db2", "Check PostgreSQL connection", 0, "POSTGRES OK - connected"),
        ("zulip-db1", "Check PostgreSQL locks", 0, "POSTGRES OK - "),
        ("zulip-db1", "Check FTS update log length", 0, "FTS_UPDATE_LOG OK - 0 rows in fts_update_log table"),
        ("zulip-db1", "Check PostgreSQL replication lag", 1, "POSTGRES_REPLICATION_LAG WARNING - Only one replica!"),
        ("zulip-db2", "Check PostgreSQL replication lag", 0, "POSTGRES_REPLICATION_LAG OK - replica is "),
    ];
    for (host, service, state, start) in expect {
        let s = all
            .iter()
            .find(|x| x.host == *host && x.service == *service);
        let Some(s) = s else {
            // A service the 2025 set has only commented out (locks) is not required.
            assert_eq!(*service, "Check PostgreSQL locks", "no {service} on {host}");
            continue;
        };
        assert_eq!(s.state, *state, "{host}/{service}: {s:?}");
        assert!(s.output.starts_with(start), "{host}/{service}: {s:?}");
        // A custos status line whose state Nagios recorded; perfdata a strict parser reads back.
        assert_eq!(word_state(&s.output), s.state, "{s:?}");
        Perfdata::parse_list(&s.perfdata).unwrap_or_else(|e| panic!("{s:?}: {e}"));
    }
    let summary: Vec<String> = all
        .iter()
        .map(|s| format!("{} / {}: {} {}", s.host, s.service, s.state, s.output))
        .collect();
    std::fs::write(
        repo().join("target/nagios-e2e-states.txt"),
        summary.join("\n"),
    )
    .unwrap();

    // Break one service: the replica stops; Nagios sees it.
    let log = w.path("replica-stop.log");
    custos_harness::postgres::pg_ctl(&w.pg, &w.pg.replica_data, "stop", &log).unwrap();
    for (host, service) in [
        ("zulip-db2", "Check PostgreSQL connection"),
        ("zulip-db1", "Check PostgreSQL replication lag"),
    ] {
        nagios.check_now(host, service).unwrap();
    }
    let after = nagios
        .wait_for(
            "the replica's loss",
            Duration::from_secs(120),
            Nagios::checked_progress,
            |s| {
                find(s, "zulip-db2", "Check PostgreSQL connection").state == 2
                    && find(s, "zulip-db1", "Check PostgreSQL replication lag").state == 2
            },
        )
        .unwrap();
    let conn = find(&after, "zulip-db2", "Check PostgreSQL connection");
    assert!(
        conn.output
            .starts_with("POSTGRES CRITICAL - connection to server on socket "),
        "{conn:?}"
    );
    let lag = find(&after, "zulip-db1", "Check PostgreSQL replication lag");
    assert!(
        lag.output
            .starts_with("POSTGRES_REPLICATION_LAG CRITICAL - No replicas!"),
        "{lag:?}"
    );
    drop(nagios);

    // --- Icinga 2: the generated CheckCommands run by a real instance. -----------------------
    let idir = w.path("icinga2");
    std::fs::create_dir(&idir).unwrap();
    let r = custos_harness::rabbitmq();
    let web = custos_harness::nginx();
    let objects = format!(
        "object Host \"zulip\" {{ check_command = \"dummy\"; address = \"127.0.0.1\"; check_interval = 1s }}\n\
         template Service \"fast\" {{ host_name = \"zulip\"; check_interval = 1s; retry_interval = 1s }}\n\
         object Service \"https\" {{ import \"fast\"; check_command = \"website_response\"; vars.website_response_url = \"http://127.0.0.1:{http}/\"; vars.website_response_expect = \"200,302,401\" }}\n\
         object Service \"consumers\" {{ import \"fast\"; check_command = \"rabbitmq_consumers\"; vars.rabbitmq_consumers_api_url = \"{api}\"; vars.rabbitmq_consumers_user = \"{user}\"; vars.rabbitmq_consumers_password = \"{pw}\"; vars.rabbitmq_consumers_vhost = \"{VHOST}\"; vars.rabbitmq_consumers_zulip_grouping = true; vars.rabbitmq_consumers_queue = [ \"deferred_work\", \"notify_tornado\" ] }}\n\
         object Service \"pg\" {{ import \"fast\"; check_command = \"custos_postgres\"; vars.custos_postgres_host = \"127.0.0.1\"; vars.custos_postgres_port = \"{port}\"; vars.custos_postgres_dbname = \"zulip\"; vars.custos_postgres_user = \"nagios\"; vars.custos_postgres_password = \"nagios-pw\"; vars.custos_postgres_action = \"connection,backends\" }}\n\
         object Service \"cron\" {{ import \"fast\"; check_command = \"cron_file\"; vars.cron_file_file = \"{state}/check_send_receive_state\"; vars.cron_file_max_age = \"1h\" }}\n\
         object Service \"errors\" {{ import \"fast\"; check_command = \"queue_worker_errors\"; vars.queue_worker_errors_dir = \"{qe}\" }}\n\
         {itl}\n\
         object Service \"itl-pg\" {{ import \"fast\"; check_command = \"itl_postgres_on_custos\"; vars.postgres_host = \"127.0.0.1\"; vars.postgres_port = \"{port}\"; vars.postgres_dbname = \"zulip\"; vars.postgres_dbuser = \"nagios\"; vars.postgres_dbpass = \"nagios-pw\"; vars.postgres_action = \"backends\"; vars.postgres_warning = \"90%\"; vars.postgres_critical = \"95%\"; vars.postgres_tempdir = \"/tmp\" }}\n",
        itl = itl_postgres_on(&w.plugins),
        http = web.http_port,
        api = r.api_url(),
        user = r.user,
        pw = r.password,
        port = w.pg.primary_port,
        state = w.state.display(),
        qe = w.path("queue_error").display(),
    );
    let conf = Icinga::config(&idir, &w.plugins, &objects).unwrap();
    Icinga::validate(&idir, &conf).unwrap();
    let icinga = Icinga::start(&idir, &conf).unwrap();
    let results = custos_harness::util::wait_until(
        "Icinga's check results",
        Duration::from_secs(300),
        || {
            let r = icinga.results();
            (r.len() >= 6).then_some(r)
        },
    )
    .unwrap_or_else(|e| {
        panic!(
            "{e}: {}",
            std::fs::read_to_string(idir.join("icinga2.out")).unwrap_or_default()
        )
    });
    for (service, state, start) in [
        ("https", "OK", "WEBSITE_RESPONSE OK - HTTP/1.1 200 OK"),
        (
            "consumers",
            "OK",
            "RABBITMQ_CONSUMERS OK - 2 queue groups, 2 consumers",
        ),
        ("pg", "OK", "POSTGRES OK - "),
        // The ITL's own `postgres` CheckCommand (check_postgres.pl's arguments) on custos.
        ("itl-pg", "OK", "POSTGRES OK - "),
        ("cron", "OK", "OK: send time was "),
        (
            "errors",
            "WARNING",
            "QUEUE_WORKER_ERRORS WARNING - Queue errors logged in ",
        ),
    ] {
        let (got, output, perf) = &results[service];
        assert_eq!(got, state, "{service}: {output}");
        assert!(output.starts_with(start), "{service}: {output}");
        Perfdata::parse_list(perf).unwrap_or_else(|e| panic!("{service}: {perf}: {e}"));
        assert!(!perf.is_empty(), "{service}: {output:?} {perf:?}");
        assert!(
            !output.contains("nagios-pw") && !output.contains(&r.password),
            "{output}"
        );
    }
    drop(icinga);
}

/// The Icinga Template Library's `postgres` CheckCommand (its arguments, vars and defaults, as
/// Debian's icinga2 ships it for check_postgres.pl), renamed and with custos' check_postgres in
/// place of `/usr/bin/check_postgres`: what an operator gets by pointing the ITL at custos.
fn itl_postgres_on(plugins: &std::path::Path) -> String {
    let itl =
        std::fs::read_to_string("/usr/share/icinga2/include/plugins-contrib.d/databases.conf")
            .unwrap();
    let start = itl
        .find("object CheckCommand \"postgres\" {")
        .expect("the ITL's postgres");
    let end = start + itl[start..].find("\n}\n").expect("its end") + 3;
    let block = &itl[start..end];
    assert!(
        block.contains("command = [ \"/usr/bin/check_postgres\" ]"),
        "{block}"
    );
    block
        .replace(
            "object CheckCommand \"postgres\"",
            "object CheckCommand \"itl_postgres_on_custos\"",
        )
        .replace(
            "[ \"/usr/bin/check_postgres\" ]",
            &format!("[ \"{}/check_postgres\" ]", plugins.display()),
        )
}
