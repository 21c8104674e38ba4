//! The shipped definitions under the real daemons of Debian 12: `nagios4 -v` and `icinga2
//! daemon -C` accept them; an NRPE daemon runs nagios/nrpe/custos.cfg for check_nrpe; a private
//! Nagios 4 schedules Zulip's services (nagios/nagios4/zulip-services.cfg with commands.cfg)
//! against the test PostgreSQL pair, RabbitMQ, nginx and the Zulip test server, and goes
//! CRITICAL when the replica stops; an Icinga 2 instance runs the generated CheckCommands.

use custos_daemons::{plugin_dir, repo, Icinga, Nagios, Nrpe, ServiceStatus};
use custos_harness::zulip::ZulipServer;
use plugin_core::Perfdata;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// What a test host's Nagios base config needs besides the shipped files.
fn base_cfg(dir: &Path) -> PathBuf {
    let p = dir.join("base.cfg");
    std::fs::write(
        &p,
        "define timeperiod {\n timeperiod_name 24x7\n alias always\n sunday 00:00-24:00\n monday 00:00-24:00\n\
         tuesday 00:00-24:00\n wednesday 00:00-24:00\n thursday 00:00-24:00\n friday 00:00-24:00\n saturday 00:00-24:00\n}\n\
         define command {\n command_name notify-none\n command_line /bin/true\n}\n\
         define command {\n command_name custos-test-up\n command_line /bin/true\n}\n\
         define contact {\n contact_name root\n alias root\n service_notification_period 24x7\n host_notification_period 24x7\n\
         service_notification_options w,u,c,r\n host_notification_options d,u,r\n\
         service_notification_commands notify-none\n host_notification_commands notify-none\n}\n\
         define contactgroup {\n contactgroup_name admins\n alias admins\n members root\n}\n",
    )
    .unwrap();
    p
}

/// The shipped files as a Nagios 4 install would load them.
fn shipped() -> Vec<PathBuf> {
    let n = repo().join("nagios/nagios4");
    vec![n.join("commands.cfg"), n.join("zulip-services.cfg")]
}

#[test]
fn nagios_accepts_the_shipped_configuration() {
    let d = tempfile::tempdir().unwrap();
    let plugins = plugin_dir(d.path()).unwrap();
    let example = d.path().join("zulip-hosts.cfg");
    let mut hosts =
        std::fs::read_to_string(repo().join("nagios/nagios4/zulip-hosts.cfg.example")).unwrap();
    hosts.push_str("define host {\n use zulip-host\n host_name localhost\n address 127.0.0.1\n}\n");
    std::fs::write(&example, hosts).unwrap();
    let mut files = vec![base_cfg(d.path())];
    files.extend(shipped());
    files.push(repo().join("nagios/nagios4/zulip-localhost.cfg"));
    files.push(example);
    let cfg = Nagios::config(d.path(), &plugins, &files).unwrap();
    let out = Nagios::verify(&cfg).unwrap();
    assert!(out.contains("Total Errors:   0"), "{out}");
    // Every service of Zulip's 2022-10 services.cfg that custos serves, on the example hosts:
    // the front end 21, the primary 14, the replica 13, localhost 4.
    assert!(out.contains("Total Warnings: 0"), "{out}");
    for s in [
        "Checked 52 services.",
        "Checked 4 hosts.",
        "Checked 7 host groups.",
    ] {
        assert!(out.contains(s), "{s}\n{out}");
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

fn bin(name: &str) -> PathBuf {
    repo().join("target/debug").join(name)
}

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

    // The cron jobs of nagios/cron/custos, run once.
    let zulip = ZulipServer::start(&[
        ("send@zulip.test", "send-key"),
        ("receive@zulip.test", "receive-key"),
    ]);
    let st = |f: &str| state.join(f).display().to_string();
    let out = Command::new(bin("check_send_receive_time"))
        .args([
            "--site",
            &zulip.url,
            "--sender-email",
            "send@zulip.test",
            "--receiver-email",
            "receive@zulip.test",
        ])
        .env("ZULIP_SENDER_API_KEY", "send-key")
        .env("ZULIP_RECEIVER_API_KEY", "receive-key")
        .args(["--state-file", &st("check_send_receive_state")])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let out = Command::new(bin("check_rabbitmq_queues"))
        .args([
            "--api-url",
            &r.api_url(),
            "--user",
            &r.user,
            "--vhost",
            VHOST,
        ])
        .arg("--password-file")
        .arg(&password_file)
        .args(["--state-file", &st("check-rabbitmq-results")])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );

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
    std::fs::create_dir(dir.path().join("queue_stats")).unwrap();
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

    /// Zulip's three kinds of hosts, on loopback, pointing at the test servers.
    fn hosts_cfg(&self, nrpe_port: u16) -> PathBuf {
        let r = custos_harness::rabbitmq();
        let web = custos_harness::nginx();
        let common = format!(
            " use zulip-host\n address 127.0.0.1\n check_command custos-test-up\n _NRPE_PORT {nrpe_port}\n _PGHOST 127.0.0.1\n"
        );
        let text = format!(
            "define host {{\n host_name zulip-app\n hostgroups prod_frontends,staging_frontends\n{common}\
             _PGPORT {primary}\n _ZULIP_URL http://127.0.0.1:{http}\n _RABBITMQ_API {api}\n _RABBITMQ_USER {user}\n\
             _RABBITMQ_PASSWORD_FILE {pw}\n _RABBITMQ_VHOST {VHOST}\n}}\n\
             define host {{\n host_name zulip-db1\n hostgroups postgresql_primary\n{common} _PGPORT {primary}\n}}\n\
             define host {{\n host_name zulip-db2\n hostgroups postgresql_replica\n{common} _PGPORT {replica}\n}}\n",
            primary = self.pg.primary_port,
            replica = self.pg.replica_port,
            http = web.http_port,
            api = r.api_url(),
            user = r.user,
            pw = self.password_file.display(),
        );
        let p = self.path("hosts.cfg");
        std::fs::write(&p, text).unwrap();
        p
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
        ("check_queue_worker_errors", 1, "QUEUE_WORKER_ERRORS WARNING - 1 failed event in the last 1d 0h in 1 queue: deferred_work 1"),
        ("check_send_receive_time", 0, "OK: send time was "),
        ("check_rabbitmq_queues", 2, "CRITICAL: queue deferred_work: 60 messages (critical > 50)"),
        ("check_rabbitmq_consumers", 2, "RABBITMQ_CONSUMERS CRITICAL - queue email_mirror has 0 consumers, needs 1"),
        ("check_postgres_connection", 0, "POSTGRES OK - connected"),
        ("check_fts_update_log", 0, "FTS_UPDATE_LOG OK - 0 rows in fts_update_log table"),
        ("check_postgres_backup", 0, "POSTGRES_BACKUP OK - last PostgreSQL backup completed "),
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

    // --- Nagios 4: Zulip's services, scheduled every second. -------------------------------
    let ndir = w.path("nagios");
    std::fs::create_dir(&ndir).unwrap();
    let mut files = vec![base_cfg(&ndir)];
    files.extend(shipped());
    files.push(w.hosts_cfg(nrpe.port));
    let cfg = Nagios::config(&ndir, &w.plugins, &files).unwrap();
    let out = Nagios::verify(&cfg).unwrap();
    assert!(out.contains("Total Errors:   0"), "{out}");
    // Nagios runs its checks with its own environment: HOME has the nagios role's .pgpass.
    let nagios = Nagios::start(&ndir, &cfg, &w.home).unwrap();
    let all = nagios
        .wait_for(
            "every service checked",
            Duration::from_secs(120),
            Nagios::checked_progress,
            |s| s.len() >= 40 && s.iter().all(|x| x.checked),
        )
        .unwrap();
    let app = "zulip-app";
    let expect: &[(&str, &str, i32, &str)] = &[
        (
            app,
            "HTTPS",
            0,
            "WEBSITE_RESPONSE OK - HTTP/1.1 200 OK, 43 bytes in ",
        ),
        (app, "Check send receive time", 0, "OK: send time was "),
        // Nagios writes a plugin output's ';' as ':' (its external command format).
        (
            app,
            "Check RabbitMQ queue sizes",
            2,
            "CRITICAL: queue deferred_work: 60 messages (critical > 50): 15 queues, 60 messages",
        ),
        (
            app,
            "Check RabbitMQ notify_tornado consumers",
            0,
            "RABBITMQ_CONSUMERS OK - 1 queue group, 1 consumer",
        ),
        (
            app,
            "Check RabbitMQ deferred_work consumers",
            0,
            "RABBITMQ_CONSUMERS OK - 1 queue group, 1 consumer",
        ),
        (
            app,
            "Check RabbitMQ email_mirror consumers",
            2,
            "RABBITMQ_CONSUMERS CRITICAL - queue email_mirror has 0 consumers, needs 1",
        ),
        (
            app,
            "Check worker memory usage",
            0,
            "WORKER_MEMORY OK - No workers running",
        ),
        (
            app,
            "Check for queue worker errors.",
            1,
            "QUEUE_WORKER_ERRORS WARNING - 1 failed event",
        ),
        (
            app,
            "Check email deliverer process",
            2,
            "EMAIL_DELIVERER_PROCESS CRITICAL - no process matches",
        ),
        (
            app,
            "Check email deliverer backlog",
            0,
            "EMAIL_DELIVERER_BACKLOG OK - no backlog",
        ),
        (
            "zulip-db1",
            "Check PostgreSQL connection",
            0,
            "POSTGRES OK - connected",
        ),
        (
            "zulip-db2",
            "Check PostgreSQL connection",
            0,
            "POSTGRES OK - connected",
        ),
        (
            "zulip-db1",
            "Check FTS update log length",
            0,
            "FTS_UPDATE_LOG OK - 0 rows in fts_update_log table",
        ),
        (
            "zulip-db1",
            "Check PostgreSQL replication lag",
            1,
            "POSTGRES_REPLICATION_LAG WARNING - ",
        ),
        (
            "zulip-db2",
            "Check PostgreSQL replication lag",
            0,
            "POSTGRES_REPLICATION_LAG OK - ",
        ),
        (
            "zulip-db1",
            "Check last PostgreSQL backup time",
            0,
            "POSTGRES_BACKUP OK - ",
        ),
    ];
    for (host, service, state, start) in expect {
        let s = find(&all, host, service);
        assert_eq!(s.state, *state, "{host}/{service}: {s:?}");
        assert!(s.output.starts_with(start), "{host}/{service}: {s:?}");
    }
    // Every service: a custos status line whose state Nagios recorded, and perfdata that a
    // strict parser reads back, as Nagios parsed it.
    for s in &all {
        assert_eq!(word_state(&s.output), s.state, "{s:?}");
        assert!(!s.perfdata.is_empty(), "no perfdata: {s:?}");
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
            .starts_with("POSTGRES CRITICAL - connection to server at \"127.0.0.1\""),
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
         object Service \"errors\" {{ import \"fast\"; check_command = \"queue_worker_errors\"; vars.queue_worker_errors_dir = \"{qe}\" }}\n",
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
            (r.len() >= 5).then_some(r)
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
        ("cron", "OK", "OK: send time was "),
        (
            "errors",
            "WARNING",
            "QUEUE_WORKER_ERRORS WARNING - 1 failed event in 1 queue",
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
