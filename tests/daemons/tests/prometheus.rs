//! The checks as Prometheus sees them: every check's `--output-format openmetrics` passes
//! `promtool check metrics`; `--textfile` feeds Debian's node_exporter; a real Prometheus with
//! the shipped rules (nagios/prometheus/custos.rules.yml) scrapes it and fires the alert when
//! a check goes CRITICAL (the replica stopped), as Nagios would.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

use custos_daemons::{plugin_dir, repo, NodeExporter, Prometheus};
use custos_harness::zulip::ZulipServer;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

/// Runs `plugin args` with `--output-format openmetrics`: (exit code, the exposition).
fn metrics(plugins: &Path, plugin: &str, args: &[String], env: &[(&str, &str)]) -> (i32, String) {
    let out = custos_harness::pgcheck::clean_command(plugins.join(plugin).to_str().unwrap())
        .args(args)
        .args(["--output-format", "openmetrics"])
        .envs(env.iter().copied())
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

/// `promtool check metrics` on `text`: its exit code and what it said.
fn promtool(text: &str) -> (i32, String) {
    let mut child = Command::new("/usr/bin/promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// A check, its arguments, and the environment it needs.
type Case<'a> = (&'a str, Vec<String>, &'a [(&'a str, &'a str)]);

#[test]
fn every_checks_metrics_pass_promtool() {
    let d = tempfile::tempdir().unwrap();
    let plugins = plugin_dir(d.path()).unwrap();
    let pg = custos_harness::postgres();
    let r = custos_harness::rabbitmq();
    let web = custos_harness::nginx();
    let s = |v: &str| v.to_string();
    let conn = vec![
        s("-H"),
        pg.socket_dir.display().to_string(),
        s("-p"),
        pg.primary_port.to_string(),
        s("-U"),
        pg.user.clone(),
        s("-d"),
        pg.dbname.clone(),
    ];
    let state = d.path().join("state");
    std::fs::write(
        &state,
        format!("{}|0|OK|queues normal\n", plugin_core::unix_now() as i64),
    )
    .unwrap();
    let errors = d.path().join("errors");
    std::fs::create_dir(&errors).unwrap();
    std::fs::write(
        errors.join("deferred_work.errors"),
        "Fri Nov 27 10:00:00 2026\t[{}]\n",
    )
    .unwrap();
    let marker = d.path().join("marker");
    std::fs::write(&marker, format!("{}\n", plugin_core::unix_now() as i64)).unwrap();
    let zulip = ZulipServer::start(&[("s@z.test", "sk"), ("r@z.test", "rk")]);
    let apt = repo().join("crates/check_debian_packages/tests/data/debian12-real.txt");
    let rabbit = vec![s("--api-url"), r.api_url(), s("--user"), r.user.clone()];
    let password = [("RABBITMQ_PASSWORD", r.password.as_str())];
    let keys = [
        ("ZULIP_SENDER_API_KEY", "sk"),
        ("ZULIP_RECEIVER_API_KEY", "rk"),
    ];
    let cases: Vec<Case> = vec![
        ("check_cron_file", vec![state.display().to_string()], &[]),
        (
            "check_postgres",
            [
                conn.clone(),
                vec![s("--action"), s("connection,backends,locks")],
            ]
            .concat(),
            &[],
        ),
        ("check_postgres_replication_lag", conn.clone(), &[]),
        (
            "check_postgres_backup",
            [
                conn.clone(),
                vec![
                    s("--backups-on"),
                    s("every-server"),
                    s("--marker-file"),
                    marker.display().to_string(),
                ],
            ]
            .concat(),
            &[],
        ),
        (
            "check_fts_update_log",
            [conn.clone(), vec![s("--table"), s("pg_class")]].concat(),
            &[],
        ),
        ("check_email_deliverer_backlog", conn.clone(), &[]),
        (
            "check_rabbitmq_queues",
            [rabbit.clone(), vec![s("--allow-empty")]].concat(),
            &password,
        ),
        (
            "check_rabbitmq_consumers",
            [rabbit.clone(), vec![s("--allow-empty")]].concat(),
            &password,
        ),
        (
            "check_website_response",
            vec![s("-u"), web.http_url("/")],
            &[],
        ),
        ("check_worker_memory", vec![s("--cmdline"), s(".*")], &[]),
        (
            "check_queue_worker_errors",
            vec![s("--dir"), errors.display().to_string()],
            &[],
        ),
        (
            "check_debian_packages",
            vec![
                s("--input-file"),
                apt.display().to_string(),
                s("--max-list-age"),
                s("0"),
            ],
            &[],
        ),
        (
            "check_send_receive_time",
            vec![
                s("--site"),
                zulip.url.clone(),
                s("--sender-email"),
                s("s@z.test"),
                s("--receiver-email"),
                s("r@z.test"),
            ],
            &keys,
        ),
        ("check_email_deliverer_process", vec![], &[]),
    ];
    assert_eq!(
        cases.len(),
        custos_daemons::checks().len(),
        "a case per check"
    );
    // The metrics each check exposed, for the record (target/prometheus-metrics.md).
    let mut table = String::from(
        "| check | exit | promtool | series | perfdata labels |\n|---|---|---|---|---|\n",
    );
    for (plugin, args, env) in &cases {
        let (code, text) = metrics(&plugins, plugin, args, env);
        assert!((0..=3).contains(&code), "{plugin}: {code}\n{text}");
        let (lint, said) = promtool(&text);
        assert_eq!(
            (lint, said.as_str()),
            (0, ""),
            "{plugin}: promtool on\n{text}"
        );
        let short = plugin.strip_prefix("check_").unwrap();
        assert!(
            text.lines()
                .any(|l| l == format!("custos_check_state{{check=\"{short}\"}} {code}")),
            "{plugin}: the state series says the exit code {code}\n{text}"
        );
        assert!(text.ends_with("# EOF\n"), "{plugin}\n{text}");
        table.push_str(&summary_row(plugin, code, &text));
    }
    std::fs::write(repo().join("target/prometheus-metrics.md"), table).unwrap();
}

/// One row of the record: the metric families and the perfdata labels a check exposed.
fn summary_row(plugin: &str, code: i32, text: &str) -> String {
    let series = text.lines().filter(|l| !l.starts_with('#')).count();
    let mut families: Vec<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.split(' ').next())
        .collect();
    families.dedup();
    let mut labels: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("custos_perfdata") && !l.starts_with("custos_perfdata_threshold"))
        .filter_map(|l| l.split("label=\"").nth(1)?.split('"').next())
        .collect();
    labels.sort_unstable();
    labels.dedup();
    format!(
        "| {plugin} | {code} | clean | {series} in {} | {} |\n",
        families.join(", "),
        labels.join(", ")
    )
}

#[test]
fn prometheus_alerts_when_nagios_would() {
    let d = tempfile::tempdir().unwrap();
    let plugins = plugin_dir(d.path()).unwrap();
    let textfiles = d.path().join("textfiles");
    std::fs::create_dir(&textfiles).unwrap();
    let pg = custos_harness::private_postgres("prometheus");
    let lag = |textfile: &Path| {
        custos_harness::pgcheck::clean_command(
            plugins
                .join("check_postgresql_replication_lag")
                .to_str()
                .unwrap(),
        )
        .args([
            "-H",
            &pg.socket_dir.display().to_string(),
            "-p",
            &pg.primary_port.to_string(),
            "-U",
            &pg.user,
        ])
        .arg("--textfile")
        .arg(textfile)
        .output()
        .unwrap()
    };
    // A symlink planted where the textfile goes is replaced, never written through.
    let victim = d.path().join("victim");
    std::fs::write(&victim, "untouched\n").unwrap();
    let file = textfiles.join("custos_postgres_replication_lag.prom");
    std::os::unix::fs::symlink(&victim, &file).unwrap();
    // One replica: Zulip's WARNING "Only one replica!".
    let out = lag(&textfiles);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "untouched\n");
    assert!(!std::fs::symlink_metadata(&file)
        .unwrap()
        .file_type()
        .is_symlink());

    let node = NodeExporter::start(d.path(), &textfiles).unwrap();
    let page = node.scrape().unwrap();
    assert!(
        page.lines()
            .any(|l| l == "custos_check_state{check=\"postgres_replication_lag\"} 1"),
        "{page}"
    );
    assert!(
        page.lines().any(|l| l == "node_textfile_scrape_error 0"),
        "{page}"
    );

    // The shipped rules; `for: 1m` (two results a minute apart, as Nagios) made immediate so
    // the test needs no clock (promtool test rules proves the waiting, in
    // shipped_rules_pass_promtool).
    let shipped =
        std::fs::read_to_string(repo().join("nagios/prometheus/custos.rules.yml")).unwrap();
    assert!(shipped.contains("for: 1m"));
    let rules = d.path().join("custos.rules.yml");
    std::fs::write(&rules, shipped.replace("for: 1m", "for: 0s")).unwrap();
    let prom = Prometheus::start(d.path(), node.port, &rules).unwrap();
    let alerts = |name: &str| {
        prom.api("/api/v1/alerts")
            .map(|body| {
                body.split("\"labels\":")
                    .skip(1)
                    .filter(|a| {
                        a.contains(&format!("\"alertname\":\"{name}\""))
                            && a.contains("\"state\":\"firing\"")
                    })
                    .map(String::from)
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default()
    };
    let warning = custos_harness::util::wait_until(
        "CustosCheckWarning to fire",
        Duration::from_secs(120),
        || {
            let a = alerts("CustosCheckWarning");
            (!a.is_empty()).then_some(a)
        },
    )
    .unwrap();
    assert!(
        warning[0].contains("\"check\":\"postgres_replication_lag\""),
        "{warning:?}"
    );

    // The replica stops: the check goes CRITICAL ("No replicas!"), Prometheus fires.
    let log = d.path().join("replica-stop.log");
    custos_harness::postgres::pg_ctl(&pg, &pg.replica_data, "stop", &log).unwrap();
    let out = custos_harness::util::wait_until(
        "the primary to lose its replica",
        Duration::from_secs(60),
        || {
            let out = lag(&textfiles);
            (out.status.code() == Some(2)).then_some(out)
        },
    )
    .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("No replicas!"));
    let critical = custos_harness::util::wait_until(
        "CustosCheckCritical to fire",
        Duration::from_secs(120),
        || {
            let a = alerts("CustosCheckCritical");
            (!a.is_empty()).then_some(a)
        },
    )
    .unwrap();
    assert!(
        critical[0].contains("\"check\":\"postgres_replication_lag\""),
        "{critical:?}"
    );
    assert!(
        critical[0].contains("\"severity\":\"critical\""),
        "{critical:?}"
    );
}

#[test]
fn shipped_rules_pass_promtool() {
    let dir = repo().join("nagios/prometheus");
    let check = Command::new("/usr/bin/promtool")
        .args(["check", "rules", "custos.rules.yml"])
        .current_dir(&dir)
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stdout)
    );
    assert!(String::from_utf8_lossy(&check.stdout).contains("SUCCESS: 5 rules found"));
    let test = Command::new("/usr/bin/promtool")
        .args(["test", "rules", "custos.rules_test.yml"])
        .current_dir(&dir)
        .output()
        .unwrap();
    assert!(
        test.status.success(),
        "{}{}",
        String::from_utf8_lossy(&test.stdout),
        String::from_utf8_lossy(&test.stderr)
    );
}
