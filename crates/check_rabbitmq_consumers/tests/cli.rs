//! check_rabbitmq_consumers against the harness' RabbitMQ node with real AMQP consumers.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

use custos_harness::plugin::{run_plugin_with, PluginRun};
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_check_rabbitmq_consumers");

fn run(args: &[&str]) -> PluginRun {
    run_plugin_with(custos_harness::rabbitmq().check_command(BIN).args(args))
}

/// A vhost with queues and how many consumers each gets; the consumers are kept in the
/// returned connection's channels until the test ends.
fn vhost_with(
    vhost: &str,
    queues: &[(&str, usize)],
) -> (
    custos_harness::amqp::Amqp,
    Vec<custos_harness::amqp::Consumer>,
) {
    let r = custos_harness::rabbitmq();
    r.add_vhost(vhost).unwrap();
    let amqp = r.amqp(vhost).unwrap();
    let mut held = Vec::new();
    for (name, consumers) in queues {
        r.fresh_queue(vhost, name).unwrap();
        for _ in 0..*consumers {
            held.push(amqp.consume(name).unwrap());
        }
    }
    for (name, consumers) in queues {
        r.wait_for(vhost, name, 0, *consumers as u64).unwrap();
    }
    (amqp, held)
}

#[test]
fn every_queue_needs_its_minimum() {
    let _held = vhost_with("cons", &[("q_a", 1), ("q_b", 0), ("q.c d", 2)]);
    let run = run(&["--vhost", "cons"]);
    assert_eq!(run.code, 2, "{}", run.stdout);
    assert_eq!(
        run.text(),
        "RABBITMQ_CONSUMERS CRITICAL - queue q_b has 0 consumers, needs 1; 3 queues, 3 consumers"
    );
    assert_eq!(
        run.stdout.lines().nth(1),
        Some("queue q_b has 0 consumers, needs 1")
    );
    let a = run.perf("q_a");
    assert_eq!(
        (a.value, a.critical.unwrap().to_string()),
        (Some(1.0), "1:".to_string())
    );
    assert_eq!(run.perf("q.c d").value, Some(2.0));

    // Per-queue minimums; --min-consumers for the rest.
    let run = self::run(&[
        "--vhost", "cons", "-q", "q_a=2", "-q", "q_b=0", "-q", "q.c d",
    ]);
    assert_eq!(
        (run.code, run.text()),
        (2, "RABBITMQ_CONSUMERS CRITICAL - queue q_a has 1 consumers, needs 2; 3 queues, 3 consumers")
    );
    let run = self::run(&["--vhost", "cons", "--min-consumers", "0"]);
    assert_eq!(
        (run.code, run.text()),
        (
            0,
            "RABBITMQ_CONSUMERS OK - 3 queues, 3 consumers, fewest q_b (0)"
        )
    );
    // Ranges: -w warns, -c replaces the minimum.
    let run = self::run(&["--vhost", "cons", "--exclude", "^q_b$", "-w", "2:"]);
    assert_eq!(
        (run.code, run.text()),
        (1, "RABBITMQ_CONSUMERS WARNING - queue q_a has 1 consumers (warning < 2); 2 queues, 3 consumers")
    );
    let run = self::run(&["--vhost", "cons", "--include", "^q_", "-c", "2:"]);
    assert_eq!(run.code, 2);
    assert_eq!(
        run.stdout.lines().skip(1).collect::<Vec<_>>(),
        [
            "queue q_b has 0 consumers (critical < 2)",
            "queue q_a has 1 consumers (critical < 2)"
        ]
    );
    // A queue that is not there has no consumers at all.
    let run = self::run(&["--vhost", "cons", "-q", "gone"]);
    assert_eq!(
        (run.code, run.text()),
        (
            2,
            "RABBITMQ_CONSUMERS CRITICAL - queue gone does not exist; 1 queue, 0 consumers"
        )
    );
}

/// Zulip's cron job folds notify_tornado_<port> and <queue>_shard<N>.
#[test]
fn zulip_grouping_of_tornado_and_shard_queues() {
    let _held = vhost_with(
        "zulipgroups",
        &[
            ("notify_tornado_9800", 1),
            ("notify_tornado_9801", 1),
            ("user_activity_shard1", 1),
            ("user_activity_shard2", 0),
            ("deferred_work", 1),
        ],
    );
    let run = run(&["--vhost", "zulipgroups", "--zulip-grouping"]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert_eq!(
        run.text(),
        "RABBITMQ_CONSUMERS OK - 3 queue groups, 4 consumers, fewest deferred_work (1)"
    );
    assert_eq!(run.perf("notify_tornado").value, Some(2.0));
    assert_eq!(run.perf("user_activity").value, Some(1.0));
    // Zulip's targets: one per Tornado process.
    let run = self::run(&[
        "--vhost",
        "zulipgroups",
        "--zulip-grouping",
        "-q",
        "notify_tornado=3",
        "-q",
        "user_activity",
    ]);
    assert_eq!(
        (run.code, run.text()),
        (2, "RABBITMQ_CONSUMERS CRITICAL - queue notify_tornado has 2 consumers, needs 3; 2 queue groups, 3 consumers")
    );
    // Without grouping the group name is no queue.
    let run = self::run(&["--vhost", "zulipgroups", "-q", "notify_tornado"]);
    assert_eq!(
        run.text(),
        "RABBITMQ_CONSUMERS CRITICAL - queue notify_tornado does not exist; 1 queue, 0 consumers"
    );
}

#[test]
fn amqp_counts_consumers_of_named_queues() {
    let r = custos_harness::rabbitmq();
    let _held = vhost_with("consamqp", &[("served", 2), ("idle", 0)]);
    let url = format!("amqp://127.0.0.1:{}/consamqp", r.amqp_port);
    let run = run_plugin_with(
        Command::new(BIN)
            .env("RABBITMQ_PASSWORD", &r.password)
            .args([
                "--amqp-url",
                &url,
                "--user",
                &r.user,
                "-q",
                "served=2",
                "-q",
                "idle",
            ]),
    );
    assert_eq!(
        (run.code, run.text()),
        (2, "RABBITMQ_CONSUMERS CRITICAL - queue idle has 0 consumers, needs 1; 2 queues, 2 consumers")
    );
    let run = run_plugin_with(
        Command::new(BIN)
            .env("RABBITMQ_PASSWORD", &r.password)
            .args(["--amqp-url", &url, "--user", &r.user, "--zulip-grouping"]),
    );
    assert_eq!(
        (run.code, run.text()),
        (3, "RABBITMQ_CONSUMERS UNKNOWN - --zulip-grouping needs the management API (AMQP cannot list queues)")
    );
}

/// Zulip's command line (`check_rabbitmq_consumers QUEUE`), its targets from zulip.conf
/// (Tornado ports, mobile notification shards), its words, and its cron job's state files.
#[test]
fn zulips_queue_argument_targets_and_state_files() {
    let _held = vhost_with(
        "zcons",
        &[
            ("notify_tornado_9800", 1),
            ("notify_tornado_9801", 1),
            ("missedmessage_mobile_notifications_shard1", 1),
            ("missedmessage_mobile_notifications_shard2", 0),
            ("deferred_work", 1),
        ],
    );
    let d = tempfile::tempdir().unwrap();
    let conf = d.path().join("zulip.conf");
    std::fs::write(
        &conf,
        "[machine]\ndeploy_type = production\n\n[tornado_sharding]\n9800 = realm1\n9801 = realm2\n\n\
         [application_server]\nmobile_notification_shards = 2\n",
    )
    .unwrap();
    let c = conf.to_str().unwrap();
    let base = ["--vhost", "zcons", "--zulip-conf", c];
    for (queue, code, text) in [
        (
            "notify_tornado",
            0,
            "queue notify_tornado has 2 consumers, needs 2",
        ),
        (
            "missedmessage_mobile_notifications",
            2,
            "queue missedmessage_mobile_notifications has 1 consumers, needs 2",
        ),
        (
            "deferred_work",
            0,
            "queue deferred_work has 1 consumers, needs 1",
        ),
        (
            "email_mirror",
            2,
            "queue email_mirror has 0 consumers, needs 1",
        ),
    ] {
        let run = self::run(&[&base[..], &[queue]].concat());
        assert_eq!(
            (run.code, run.text()),
            (
                code,
                &*format!(
                    "RABBITMQ_CONSUMERS {} - {text}",
                    ["OK", "", "CRITICAL"][code as usize]
                )
            )
        );
    }
    // Without zulip.conf, every group needs one (Zulip's default).
    let run = self::run(&[
        "--vhost",
        "zcons",
        "--zulip-conf",
        "/nonexistent/zulip.conf",
        "notify_tornado",
    ]);
    assert_eq!(
        run.text(),
        "RABBITMQ_CONSUMERS OK - queue notify_tornado has 2 consumers, needs 1"
    );
    // The cron job: a file per group, Zulip's queues included, in Zulip's words.
    let state = d.path().join("state");
    std::fs::create_dir(&state).unwrap();
    let run = self::run(&[&base[..], &["--zulip-state-dir", state.to_str().unwrap()]].concat());
    assert_eq!(run.code, 2, "{}", run.stdout);
    let read = |q: &str| {
        let line =
            std::fs::read_to_string(state.join(format!("check-rabbitmq-consumers-{q}"))).unwrap();
        line.split_once('|').unwrap().1.trim_end().to_string()
    };
    assert_eq!(
        read("notify_tornado"),
        "0|OK|queue notify_tornado has 2 consumers, needs 2"
    );
    assert_eq!(
        read("missedmessage_mobile_notifications"),
        "2|CRITICAL|queue missedmessage_mobile_notifications has 1 consumers, needs 2"
    );
    assert_eq!(
        read("thumbnail"),
        "2|CRITICAL|queue thumbnail has 0 consumers, needs 1"
    );
    assert_eq!(
        read("deferred_work"),
        "0|OK|queue deferred_work has 1 consumers, needs 1"
    );
    // The same through rabbitmqctl, as Zulip's root cron job reads it.
    let r = custos_harness::rabbitmq();
    let run = self::run(
        &[
            &base[..],
            &[
                "--source",
                "rabbitmqctl",
                "--rabbitmqctl",
                &r.ctl_command(),
                "notify_tornado",
            ],
        ]
        .concat(),
    );
    assert_eq!(
        run.text(),
        "RABBITMQ_CONSUMERS OK - queue notify_tornado has 2 consumers, needs 2",
        "{}",
        run.stdout
    );
}
