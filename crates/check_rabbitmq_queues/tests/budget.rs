//! 10,000 queues, every one over its limit: the status line names the worst five, the long
//! output lists problem queues worst first, and the whole output keeps the 4 KiB budget with
//! perfdata that still parses.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

use check_rabbitmq_queues::{assess, Args, Tally, PLUGIN};
use clap::Parser;
use custos_rabbitmq::Queue;
use plugin_core::render_nagios;
use plugin_core::{Findings, Perfdata};

fn queues() -> impl Iterator<Item = (String, Option<Queue>)> {
    (0..10_000u64).map(|i| {
        let name = format!("queue_{i:05}");
        let q = Queue {
            name: name.clone(),
            messages: Some(20 + i),
            ready: Some(20 + i),
            unacked: Some(0),
            consumers: Some(1),
            ..Queue::default()
        };
        (name, Some(q))
    })
}

#[test]
fn ten_thousand_queues_stay_within_the_budget() {
    let args = Args::parse_from(["check_rabbitmq_queues"]);
    let report = assess(&args, queues(), Findings::default(), 0.0, 0);
    let out = render_nagios(&PLUGIN.label(), &report, 4096);
    assert!(out.len() <= 4096, "{} bytes", out.len());
    let first = out.lines().next().unwrap();
    assert!(first.len() < 1024, "{first}");
    assert!(
        first.starts_with(
            "RABBITMQ_QUEUES CRITICAL - queue queue_09999: 10019 messages (critical > 50); queue queue_09998: 10018 messages"
        ),
        "{first}"
    );
    assert!(first.contains("; and 9995 more; 10000 queues, "), "{first}");
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines[1].ends_with("perfdata items left out: output limit 4096 bytes)"));
    assert_eq!(
        lines[2],
        "queue queue_09999: 10019 messages (critical > 50)"
    );
    assert!(lines.iter().filter(|l| l.starts_with("queue ")).count() > 30);
    assert!(lines
        .iter()
        .any(|l| l.starts_with("... ") && l.contains("more lines cut")));
    // Perfdata: whole items, totals first, and a note of how many were left out.
    let perf = lines
        .iter()
        .find(|l| l.starts_with("| "))
        .map(|l| &l[2..])
        .unwrap_or_else(|| first.split_once(" | ").map(|(_, p)| p).unwrap());
    let items = Perfdata::parse_list(perf).unwrap();
    assert_eq!(items[0].label, "queues");
    assert_eq!(items[1].label, "messages");
    assert_eq!(items[1].value, Some((20..10_020u64).sum::<u64>() as f64));
    assert!(out.contains("perfdata items left out: output limit 4096 bytes"));
}

/// Judged one at a time under the budget (as a run does, keeping only what the output can
/// carry), the output is the same as from everything kept, counts of what was left out
/// included; what is kept stays within a few times the budget.
#[test]
fn keeping_only_what_fits_prints_the_same() {
    for (argv, verbosity) in [
        (&["check_rabbitmq_queues"][..], 0),
        (&["check_rabbitmq_queues"], 1),
        (
            &["check_rabbitmq_queues", "-w", "100000", "-c", "200000"],
            0,
        ),
        (
            &["check_rabbitmq_queues", "-w", "100000", "-c", "200000"],
            1,
        ),
    ] {
        let args = Args::parse_from(argv);
        let all = assess(&args, queues(), Findings::default(), 0.0, verbosity);
        let mut tally = Tally::with_budget(&args, Findings::default(), 0.0, verbosity, Some(4096));
        for (name, q) in queues() {
            tally.add(name, q);
        }
        let kept = tally.report();
        assert_eq!(
            render_nagios(&PLUGIN.label(), &kept, 4096),
            render_nagios(&PLUGIN.label(), &all, 4096),
            "{argv:?} -v {verbosity}"
        );
        assert!(all.perfdata.len() >= 30_000, "{}", all.perfdata.len());
        assert!(kept.perfdata.len() < 4096 / 4, "{}", kept.perfdata.len());
        assert!(
            kept.details.len() <= 2 * 4096 / 16,
            "{}",
            kept.details.len()
        );
    }
}
