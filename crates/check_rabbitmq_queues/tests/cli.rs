//! check_rabbitmq_queues against the harness' RabbitMQ node: real queues, real messages
//! published over AMQP, real consumers (lapin), stats files written the way Zulip's workers
//! write them; and against a broker that is down, silent or talks garbage.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

use custos_harness::faults::{Fault, FaultServer};
use custos_harness::plugin::{run_plugin_with, PluginRun};
use std::os::unix::fs::PermissionsExt;
use std::process::Command;
use std::sync::RwLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const BIN: &str = env!("CARGO_BIN_EXE_check_rabbitmq_queues");

/// The memory-alarm test blocks every publisher on the node: it runs alone.
static NODE: RwLock<()> = RwLock::new(());

fn cmd() -> Command {
    custos_harness::rabbitmq().check_command(BIN)
}

fn run(args: &[&str]) -> PluginRun {
    run_plugin_with(cmd().args(args))
}

/// A fresh vhost with `queues` = (name, messages).
fn vhost_with(vhost: &str, queues: &[(&str, usize)]) {
    let r = custos_harness::rabbitmq();
    r.add_vhost(vhost).unwrap();
    let amqp = r.amqp(vhost).unwrap();
    for (name, n) in queues {
        r.fresh_queue(vhost, name).unwrap();
        amqp.publish(name, *n).unwrap();
    }
    for (name, n) in queues {
        r.wait_for(vhost, name, *n as u64, 0).unwrap();
    }
}

fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

#[test]
fn count_mode_with_zulip_defaults() {
    let _node = NODE.read().unwrap_or_else(|e| e.into_inner());
    vhost_with(
        "count",
        &[
            ("a_small", 5),
            ("b_warn", 11),
            ("c_crit", 60),
            ("d_ten", 10),
        ],
    );
    let run = run(&["--vhost", "count"]);
    assert_eq!(run.code, 2, "{}", run.stdout);
    assert_eq!(
        run.text(),
        "RABBITMQ_QUEUES CRITICAL - queue c_crit: 60 messages (critical > 50); queue b_warn: 11 messages (warning > 10); 4 queues, 86 messages"
    );
    let lines: Vec<&str> = run.stdout.lines().skip(1).collect();
    assert_eq!(
        lines,
        [
            "queue c_crit: 60 messages (critical > 50)",
            "queue b_warn: 11 messages (warning > 10)"
        ]
    );
    let c = run.perf("c_crit");
    assert_eq!(c.value, Some(60.0));
    assert_eq!(
        (
            c.warning.unwrap().to_string(),
            c.critical.unwrap().to_string()
        ),
        ("10".into(), "50".into())
    );
    assert_eq!(run.perf("d_ten").value, Some(10.0));
    assert_eq!(run.perf("messages").value, Some(86.0));
    assert_eq!(run.perf("queues").value, Some(4.0));
    assert_eq!(run.perf("a_small_consumers").value, Some(0.0));
    assert_eq!(run.perf("b_warn_ready").value, Some(11.0));
    assert_eq!(run.perf("b_warn_unacked").value, Some(0.0));

    // Thresholds, include/exclude, named queues.
    let run = self::run(&["--vhost", "count", "-w", "100", "-c", "200"]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert_eq!(
        run.text(),
        "RABBITMQ_QUEUES OK - 4 queues, 86 messages, largest c_crit (60)"
    );
    let run = self::run(&["--vhost", "count", "--exclude", "^c_"]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    let run = self::run(&["--vhost", "count", "--include", "small|ten"]);
    assert_eq!(
        run.text(),
        "RABBITMQ_QUEUES OK - 2 queues, 15 messages, largest d_ten (10)"
    );
    let run = self::run(&["--vhost", "count", "-q", "a_small", "-q", "c_crit"]);
    assert_eq!(run.code, 2);
    assert!(
        run.text().ends_with("; 2 queues, 65 messages"),
        "{}",
        run.stdout
    );
    let run = self::run(&["--vhost", "count", "--queue", "no_such_queue"]);
    assert_eq!(
        run.text(),
        "RABBITMQ_QUEUES CRITICAL - queue no_such_queue does not exist; 1 queue, 0 messages"
    );
    assert_eq!(
        run.perf("no_such_queue").value,
        None,
        "U for a queue that is not there"
    );
}

#[test]
fn names_with_dots_dashes_spaces_and_pipes_in_an_odd_vhost() {
    let _node = NODE.read().unwrap_or_else(|e| e.into_inner());
    let vhost = "zulip/odd vhost";
    let name = "events.queue-1 with|pipe";
    vhost_with(vhost, &[(name, 12)]);
    for args in [&["--vhost", vhost][..], &["--vhost", vhost, "-q", name]] {
        let run = run(args);
        assert_eq!(run.code, 1, "{args:?}: {}", run.stdout);
        assert_eq!(
            run.text(),
            "RABBITMQ_QUEUES WARNING - queue events.queue-1 with/pipe: 12 messages (warning > 10); 1 queue, 12 messages"
        );
        assert_eq!(run.first_line().matches('|').count(), 1);
        // The label keeps the name, minus the character perfdata cannot carry.
        assert_eq!(run.perf("events.queue-1 with_pipe").value, Some(12.0));
    }
}

#[test]
fn an_empty_selection_is_a_clear_result() {
    let _node = NODE.read().unwrap_or_else(|e| e.into_inner());
    custos_harness::rabbitmq().add_vhost("empty").unwrap();
    let run = run(&["--vhost", "empty"]);
    assert_eq!(
        (run.code, run.text()),
        (3, "RABBITMQ_QUEUES UNKNOWN - no queues to check in vhost 'empty' (--allow-empty makes this OK)")
    );
    let run = self::run(&["--vhost", "empty", "--allow-empty"]);
    assert_eq!(
        (run.code, run.text()),
        (0, "RABBITMQ_QUEUES OK - no queues to check")
    );
    let run = self::run(&["--vhost", "no-such-vhost"]);
    assert_eq!(
        (run.code, run.text()),
        (
            2,
            "RABBITMQ_QUEUES CRITICAL - vhost 'no-such-vhost' does not exist"
        )
    );
}

/// Zulip's drain-time rule over stats files, with real consumers holding real messages.
#[test]
fn drain_time_mode_with_zulip_stats_files() {
    let _node = NODE.read().unwrap_or_else(|e| e.into_inner());
    let r = custos_harness::rabbitmq();
    let vhost = "drain";
    r.add_vhost(vhost).unwrap();
    let amqp = r.amqp(vhost).unwrap();
    let queues = [
        ("digest_emails", 300),      // 300 x 5 s = 1500 s: warning (1200/1800)
        ("deferred_work", 12),       // stats 200 s old, > 10 messages: stuck
        ("embed_links", 3),          // consumed, no stats: UNKNOWN
        ("notify_tornado_9800", 60), // consumed, count rule: critical
        ("user_activity", 20),       // not consumed: count rule, warning
        ("email_senders", 4),        // 4 x 0.5 s: fine
    ];
    let mut consumers = Vec::new();
    for (name, n) in queues {
        r.fresh_queue(vhost, name).unwrap();
        amqp.publish(name, n).unwrap();
        if name != "user_activity" {
            consumers.push(amqp.consume(name).unwrap());
        }
    }
    for (name, n) in queues {
        r.wait_for(vhost, name, n as u64, u64::from(name != "user_activity"))
            .unwrap();
    }
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, age: f64, avg: Option<f64>| {
        // The shape Zulip's QueueProcessingWorker.update_statistics writes.
        let stats = serde_json::json!({
            "update_time": now() - age,
            "current_queue_size": 0,
            "queue_last_emptied_timestamp": now() - 3600.0,
            "consumed_since_last_emptied": 0,
            "recent_average_consume_time": avg,
        });
        std::fs::write(dir.path().join(format!("{name}.stats")), stats.to_string()).unwrap();
    };
    write("digest_emails", 5.0, Some(5.0));
    write("deferred_work", 200.0, Some(0.01));
    write("email_senders", 1.0, Some(0.5));
    let stats_dir = dir.path().to_str().unwrap();

    let run = run(&["--vhost", vhost, "--stats-dir", stats_dir]);
    assert_eq!(run.code, 2, "{}", run.stdout);
    // Long output (the perfdata, too long for line 1, is the last line).
    let lines: Vec<&str> = run
        .stdout
        .lines()
        .skip(1)
        .filter(|l| !l.starts_with("| "))
        .collect();
    assert_eq!(
        lines[0],
        "queue notify_tornado_9800: 60 messages (critical > 50)"
    );
    assert!(
        lines[1].starts_with("queue deferred_work appears to be stuck: stats last updated 20"),
        "{}",
        run.stdout
    );
    assert!(lines[1].ends_with("s ago, 12 messages"), "{}", run.stdout);
    assert_eq!(
        lines[2],
        "queue digest_emails: clearing the backlog will take 1500s (warning > 1200s), 300 messages"
    );
    assert_eq!(lines[3], "queue user_activity: 20 messages (warning > 10)");
    assert!(
        lines[4].starts_with("queue embed_links: invalid or no stats data ("),
        "{}",
        run.stdout
    );
    assert_eq!(lines.len(), 5, "{}", run.stdout);
    assert!(run.text().starts_with(
        "RABBITMQ_QUEUES CRITICAL - queue notify_tornado_9800: 60 messages (critical > 50); queue deferred_work appears to be stuck"
    ));
    let drain = run.perf("digest_emails_drain");
    assert_eq!(drain.value, Some(1500.0));
    assert_eq!(drain.uom.as_str(), "s");
    assert_eq!(drain.warning.unwrap().to_string(), "1200");
    assert_eq!(run.perf("email_senders_drain").value, Some(2.0));
    assert_eq!(run.perf("embed_links_drain").value, None);
    assert_eq!(run.perf("digest_emails_consumers").value, Some(1.0));
    assert_eq!(run.perf("digest_emails_unacked").value, Some(1.0));

    // Overrides, and stats for the rest: only what is left.
    write("embed_links", 1.0, None);
    write("deferred_work", 1.0, Some(0.01));
    let run = self::run(&[
        "--vhost",
        vhost,
        "--stats-dir",
        stats_dir,
        "--drain-limit",
        "digest_emails=30min,1h",
        "--exclude",
        "notify_tornado|user_activity",
    ]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert_eq!(
        run.perf("digest_emails_drain").warning.unwrap().to_string(),
        "1800"
    );
    for c in consumers {
        amqp.stop(c).unwrap();
    }
}

#[test]
fn a_memory_alarm_fails_the_health_check() {
    let _alone = NODE.write().unwrap_or_else(|e| e.into_inner());
    let r = custos_harness::rabbitmq();
    r.ctl(&["set_vm_memory_high_watermark", "0.000001"])
        .unwrap();
    let run = run(&["--vhost", "/", "--allow-empty"]);
    r.ctl(&["set_vm_memory_high_watermark", "0.4"]).unwrap();
    assert_eq!(run.code, 2, "{}", run.stdout);
    assert!(
        run.text().starts_with(&format!(
            "RABBITMQ_QUEUES CRITICAL - health check alarms failed: memory alarm on {} (There are alarms in effect in the cluster)",
            r.nodename
        )),
        "{}",
        run.stdout
    );
    let run = self::run(&[
        "--vhost",
        "/",
        "--allow-empty",
        "--health",
        "alarms,virtual-hosts",
    ]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    let run = self::run(&["--allow-empty", "--health", "no-such-check"]);
    assert_eq!(
        (run.code, run.text()),
        (
            3,
            "RABBITMQ_QUEUES UNKNOWN - the management API has no health check 'no-such-check'"
        )
    );
}

#[test]
fn wrong_password_is_critical_and_never_printed() {
    let r = custos_harness::rabbitmq();
    for v in ["", "-v", "-vvv"] {
        let mut c = cmd();
        c.env("RABBITMQ_PASSWORD", "wrong-Secret-42");
        if !v.is_empty() {
            c.arg(v);
        }
        let run = run_plugin_with(&mut c);
        assert_eq!(
            (run.code, run.text()),
            (2, &*format!("RABBITMQ_QUEUES CRITICAL - the management API refused user '{}' (401 Unauthorized: Login failed)", r.user))
        );
        assert!(!run.stdout.contains("wrong-Secret-42"));
    }
    // From a file; and inside the URL, which messages never show.
    let dir = tempfile::tempdir().unwrap();
    let pw = dir.path().join("pw");
    std::fs::write(&pw, format!("{}\n", r.password)).unwrap();
    let run = run_plugin_with(
        Command::new(BIN)
            .env_remove("RABBITMQ_PASSWORD")
            .args([
                "--api-url",
                &r.api_url(),
                "--user",
                &r.user,
                "--allow-empty",
                "--vhost",
                "empty",
            ])
            .arg("--password-file")
            .arg(&pw),
    );
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert!(
        run.stdout
            .contains("holds a secret and is readable by others"),
        "{}",
        run.stdout
    );
    let url = format!(
        "http://{}:{}@127.0.0.1:{}/",
        r.user, "url-Secret-7", r.api_port
    );
    let run = run_plugin_with(Command::new(BIN).env_remove("RABBITMQ_PASSWORD").args([
        "--api-url",
        &url,
        "-vvv",
    ]));
    assert_eq!(run.code, 2);
    assert!(!run.stdout.contains("url-Secret-7"), "{}", run.stdout);
    let run = run_plugin_with(Command::new(BIN).env_remove("RABBITMQ_PASSWORD").args([
        "--api-url",
        &r.api_url(),
        "--user",
        "nagios",
    ]));
    assert_eq!(
        (run.code, run.text()),
        (3, "RABBITMQ_QUEUES UNKNOWN - no password for RabbitMQ user 'nagios': give --password-file or set RABBITMQ_PASSWORD")
    );
}

#[test]
fn broker_down_silent_or_talking_garbage() {
    let port = custos_harness::util::free_port().unwrap();
    let run =
        run_plugin_with(Command::new(BIN).args(["--api-url", &format!("http://127.0.0.1:{port}")]));
    assert_eq!(
        (run.code, run.text()),
        (
            2,
            &*format!("RABBITMQ_QUEUES CRITICAL - connection refused by 127.0.0.1:{port}")
        )
    );
    // IPv6 literal in the URL.
    let run =
        run_plugin_with(Command::new(BIN).args(["--api-url", &format!("http://[::1]:{port}/")]));
    assert_eq!(
        run.text(),
        format!("RABBITMQ_QUEUES CRITICAL - connection refused by [::1]:{port}")
    );

    let silent = FaultServer::start(Fault::Silent);
    let run = run_plugin_with(Command::new(BIN).args([
        "--api-url",
        &format!("http://127.0.0.1:{}", silent.port),
        "-t",
        "2",
    ]));
    assert!(
        run.elapsed < Duration::from_millis(2500),
        "{:?}",
        run.elapsed
    );
    assert_eq!(
        (run.code, run.text()),
        (3, &*format!("RABBITMQ_QUEUES UNKNOWN - timed out after 2 seconds while asking the node's health (alarms): waiting for the response from 127.0.0.1:{}", silent.port))
    );
    assert!(silent.all_closed(Duration::from_secs(1)));

    let body = "<html>not json | at all</html>";
    let garbage = FaultServer::start(Fault::Reply(
        format!(
            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .into_bytes(),
    ));
    let run = run_plugin_with(Command::new(BIN).args([
        "--api-url",
        &format!("http://127.0.0.1:{}", garbage.port),
        "--health",
        "none",
    ]));
    assert_eq!(run.code, 3, "{}", run.stdout);
    assert!(
        run.text().starts_with(
            "RABBITMQ_QUEUES UNKNOWN - invalid reply from the management API to GET /api/consumers/%2F: not a JSON array"
        ),
        "{}",
        run.stdout
    );
}

/// Named queues over AMQP, as a user the management API refuses (no management tag).
#[test]
fn amqp_path_without_management_rights() {
    let _node = NODE.read().unwrap_or_else(|e| e.into_inner());
    let r = custos_harness::rabbitmq();
    vhost_with("amqp", &[("plain", 7), ("busy", 70)]);
    r.add_user("amqponly", "amqp-pw", "", "amqp").unwrap();
    let amqp = r.amqp("amqp").unwrap();
    let consumer = amqp.consume("plain").unwrap();
    r.wait_for("amqp", "plain", 7, 1).unwrap();
    let api = run_plugin_with(Command::new(BIN).env("RABBITMQ_PASSWORD", "amqp-pw").args([
        "--api-url",
        &r.api_url(),
        "--user",
        "amqponly",
        "--vhost",
        "amqp",
    ]));
    assert_eq!(api.code, 2);
    assert!(
        api.text()
            .contains("the management API refused user 'amqponly'"),
        "{}",
        api.stdout
    );

    let url = format!("amqp://amqponly@127.0.0.1:{}/amqp", r.amqp_port);
    let amqp_run = |args: &[&str], password: &str| {
        run_plugin_with(
            Command::new(BIN)
                .env("RABBITMQ_PASSWORD", password)
                .args(["--amqp-url", &url])
                .args(args),
        )
    };
    let run = amqp_run(&["-q", "plain", "-q", "busy", "-q", "missing"], "amqp-pw");
    assert_eq!(run.code, 2, "{}", run.stdout);
    assert_eq!(
        run.text(),
        "RABBITMQ_QUEUES CRITICAL - queue busy: 70 messages (critical > 50); queue missing does not exist; 3 queues, 76 messages"
    );
    // A passive declare counts ready messages (the consumer holds one unacknowledged).
    assert_eq!(run.perf("plain").value, Some(6.0));
    assert_eq!(run.perf("plain_consumers").value, Some(1.0));
    let run = amqp_run(&["-q", "plain"], "wrong-amqp-pw");
    assert_eq!(run.code, 2);
    assert!(
        run.text().starts_with("RABBITMQ_QUEUES CRITICAL - RabbitMQ refused the login of user 'amqponly' (AMQP): ACCESS_REFUSED"),
        "{}",
        run.stdout
    );
    assert!(!run.stdout.contains("wrong-amqp-pw"));
    let run = amqp_run(&[], "amqp-pw");
    assert_eq!(
        (run.code, run.text()),
        (3, "RABBITMQ_QUEUES UNKNOWN - AMQP cannot list queues: name them with --queue, or use the management API")
    );
    amqp.stop(consumer).unwrap();
}

/// `--zulip`: Zulip's check-rabbitmq-queue, its rules and its words, so the state file its
/// Nagios service reads says what it said: Zulip's queues with consumers by drain time, its
/// queues without consumers left to the consumers check, every other queue by count.
#[test]
fn zulip_mode_says_what_zulips_cron_job_said() {
    let _node = NODE.read().unwrap_or_else(|e| e.into_inner());
    let r = custos_harness::rabbitmq();
    let vhost = "zulipmode";
    r.add_vhost(vhost).unwrap();
    let amqp = r.amqp(vhost).unwrap();
    let queues = [
        ("custom_queue", 60, false),  // not Zulip's: count rule, critical
        ("digest_emails", 300, true), // 300 x 5 s = 1500 s: warning
        ("user_activity", 20, false), // Zulip's, no consumer: not judged here
        ("email_senders", 4, true),   // 4 x 0.5 s: fine
    ];
    let mut consumers = Vec::new();
    for (name, n, consumed) in queues {
        r.fresh_queue(vhost, name).unwrap();
        amqp.publish(name, n).unwrap();
        if consumed {
            consumers.push(amqp.consume(name).unwrap());
        }
    }
    for (name, n, consumed) in queues {
        r.wait_for(vhost, name, n as u64, u64::from(consumed))
            .unwrap();
    }
    let dir = tempfile::tempdir().unwrap();
    for (name, avg) in [("digest_emails", 5.0), ("email_senders", 0.5)] {
        let stats =
            serde_json::json!({"update_time": now() - 1.0, "recent_average_consume_time": avg});
        std::fs::write(dir.path().join(format!("{name}.stats")), stats.to_string()).unwrap();
    }
    let state = dir.path().join("check-rabbitmq-results");
    let args = [
        "--vhost",
        vhost,
        "--zulip",
        "--stats-dir",
        dir.path().to_str().unwrap(),
        "--state-file",
        state.to_str().unwrap(),
    ];
    let run = run(&args);
    assert_eq!(run.code, 2, "{}", run.stdout);
    let zulip = "queue custom_queue problem: CRITICAL:count critical: 60; \
                 queue digest_emails problem: WARNING:clearing the backlog will take too long: 1500.0s, size: 300";
    assert_eq!(run.text(), format!("RABBITMQ_QUEUES CRITICAL - {zulip}"));
    let line = std::fs::read_to_string(&state).unwrap();
    assert!(line.ends_with(&format!("|2|CRITICAL|{zulip}\n")), "{line}");
    // Nothing wrong: Zulip's "queues normal".
    let run = self::run(&[&args[..], &["--exclude", "custom_queue|digest_emails"]].concat());
    assert_eq!(
        run.text(),
        "RABBITMQ_QUEUES OK - queues normal",
        "{}",
        run.stdout
    );
    for c in consumers {
        amqp.stop(c).unwrap();
    }
}

/// The same vhost through every source: the management API (lean and with rates), the
/// Prometheus plugin, rabbitmqctl and AMQP give the same messages and consumers (AMQP counts
/// ready messages only, as the protocol's declare-ok does).
#[test]
fn every_source_gives_the_same_numbers() {
    let _node = NODE.read().unwrap_or_else(|e| e.into_inner());
    let r = custos_harness::rabbitmq();
    let vhost = "sources";
    r.add_vhost(vhost).unwrap();
    let amqp = r.amqp(vhost).unwrap();
    for (name, n) in [("s_consumed", 3), ("s_ready", 7), ("s_empty", 0)] {
        r.fresh_queue(vhost, name).unwrap();
        amqp.publish(name, n).unwrap();
    }
    let consumer = amqp.consume("s_consumed").unwrap();
    r.wait_for(vhost, "s_consumed", 3, 1).unwrap();
    r.wait_for(vhost, "s_ready", 7, 0).unwrap();
    let numbers = |run: &PluginRun| -> Vec<(Option<f64>, Option<f64>)> {
        ["s_consumed", "s_ready", "s_empty"]
            .iter()
            .map(|q| (run.perf(q).value, run.perf(&format!("{q}_consumers")).value))
            .collect()
    };
    let expected = vec![
        (Some(3.0), Some(1.0)),
        (Some(7.0), Some(0.0)),
        (Some(0.0), Some(0.0)),
    ];
    let base = [
        "--vhost", vhost, "-w", "100", "-c", "200", "--health", "none",
    ];
    let prom = r.prometheus_url();
    let ctl = r.ctl_command();
    for source in [
        vec!["--source", "api"],
        vec!["--source", "api", "--rates"],
        vec!["--source", "prometheus", "--prometheus-url", &prom],
        vec!["--prometheus-url", &prom],
        // auto on a broker this big (all vhosts) or more: its Prometheus plugin, found in the
        // overview's listeners.
        vec!["--prometheus-from", "1"],
        vec!["--source", "rabbitmqctl", "--rabbitmqctl", &ctl],
    ] {
        // Prometheus and the statistics are refreshed every collect_statistics_interval.
        let run = custos_harness::util::wait_until(
            &format!("{source:?} to report the queues"),
            Duration::from_secs(30),
            || {
                let run = self::run(&[&base[..], &source[..]].concat());
                (numbers(&run) == expected).then_some(run)
            },
        )
        .unwrap_or_else(|e| {
            panic!(
                "{source:?}: {e}: {}",
                self::run(&[&base[..], &source[..]].concat()).stdout
            )
        });
        assert_eq!(run.code, 0, "{source:?}: {}", run.stdout);
        assert!(
            run.text()
                .ends_with("3 queues, 10 messages, largest s_ready (7)"),
            "{}",
            run.stdout
        );
        let auto = source[0] == "--prometheus-from";
        assert_eq!(
            run.stdout.contains(&format!(
                "\nqueues read from RabbitMQ's Prometheus plugin at {prom}/ ("
            )),
            auto,
            "{source:?}: {}",
            run.stdout
        );
    }
    // Below --prometheus-from (the default, 1,000 queues), auto reads the management API.
    let api = run(&base);
    assert!(!api.stdout.contains("Prometheus"), "{}", api.stdout);
    let url = format!("amqp://{}@{}:{}/{vhost}", r.user, r.host, r.amqp_port);
    let run = run(&[
        "--amqp-url",
        &url,
        "--queue",
        "s_consumed",
        "--queue",
        "s_ready",
        "--queue",
        "s_empty",
        "-w",
        "100",
        "-c",
        "200",
    ]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    // One of s_consumed's three is delivered, unacknowledged: declare-ok counts the other two.
    assert_eq!(
        numbers(&run),
        vec![
            (Some(2.0), Some(1.0)),
            (Some(7.0), Some(0.0)),
            (Some(0.0), Some(0.0))
        ]
    );
    // A source that cannot answer says so.
    let run = self::run(&[
        "--vhost",
        vhost,
        "--source",
        "prometheus",
        "--prometheus-url",
        "http://127.0.0.1:1",
    ]);
    assert_eq!(run.code, 2, "{}", run.stdout);
    let run = self::run(&[
        "--vhost",
        vhost,
        "--source",
        "rabbitmqctl",
        "--rabbitmqctl",
        "/nonexistent/rabbitmqctl",
    ]);
    assert_eq!(run.code, 3, "{}", run.stdout);
    assert!(
        run.text().contains("cannot run rabbitmqctl list_queues"),
        "{}",
        run.stdout
    );
    let run = self::run(&[
        "--vhost",
        "no-such-vhost",
        "--source",
        "rabbitmqctl",
        "--rabbitmqctl",
        &ctl,
    ]);
    assert_eq!(run.code, 2, "{}", run.stdout);
    // A rabbitmqctl that prints 70 MB: read up to the cap, then UNKNOWN saying so.
    let dir = tempfile::tempdir().unwrap();
    let endless = dir.path().join("rabbitmqctl");
    std::fs::write(&endless, "#!/bin/sh\nexec head -c 70000000 /dev/zero\n").unwrap();
    std::fs::set_permissions(&endless, std::fs::Permissions::from_mode(0o755)).unwrap();
    let run = self::run(&[
        "--vhost",
        vhost,
        "--source",
        "rabbitmqctl",
        "--rabbitmqctl",
        endless.to_str().unwrap(),
    ]);
    assert_eq!(run.code, 3, "{}", run.stdout);
    assert!(
        run.text()
            .contains("rabbitmqctl list_queues printed more than 64 MiB"),
        "{}",
        run.stdout
    );
    amqp.stop(consumer).unwrap();
}
