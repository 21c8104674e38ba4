//! 10,000 queues without consumers: a short status line, the long output worst first, the
//! whole output within the 4 KiB budget.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

use check_rabbitmq_consumers::{assess, assess_for_budget, Args, PLUGIN};
use clap::Parser;
use custos_rabbitmq::Queue;
use plugin_core::render_nagios;

fn queues() -> impl Iterator<Item = (String, Option<Queue>)> {
    (0..10_000u64).map(|i| {
        let name = format!("q{i:05}");
        // Every other queue has one consumer (short of 2), the rest none: those come first.
        let q = Queue {
            name: name.clone(),
            consumers: Some(i % 2),
            ..Queue::default()
        };
        (name, Some(q))
    })
}

#[test]
fn ten_thousand_unconsumed_queues_stay_within_the_budget() {
    let args = Args::parse_from(["check_rabbitmq_consumers", "--min-consumers", "2"]);
    let report = assess(&args, queues(), None, 0).report;
    let out = render_nagios(&PLUGIN.label(), &report, 4096);
    assert!(out.len() <= 4096, "{} bytes", out.len());
    let first = out.lines().next().unwrap();
    assert!(
        first.starts_with("RABBITMQ_CONSUMERS CRITICAL - queue q00000 has 0 consumers, needs 2; queue q00002 has 0 consumers, needs 2;"),
        "{first}"
    );
    assert!(
        first.contains("; and 9995 more; 10000 queues, 5000 consumers"),
        "{first}"
    );
    // Long output: a note on the perfdata left out, then the problem queues, worst first.
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[1],
        "(9878 perfdata items left out: output limit 4096 bytes)"
    );
    assert_eq!(lines[2], "queue q00000 has 0 consumers, needs 2");
    let listed = lines.iter().filter(|l| l.starts_with("queue ")).count();
    assert!(listed > 30, "{listed} problem queues listed");
}

/// Kept under the budget (as a run does), the output is the same as from everything kept.
#[test]
fn keeping_only_what_fits_prints_the_same() {
    for (argv, verbosity) in [
        (&["check_rabbitmq_consumers", "--min-consumers", "2"][..], 0),
        (&["check_rabbitmq_consumers", "--min-consumers", "0"], 1),
    ] {
        let args = Args::parse_from(argv);
        let all = assess(&args, queues(), None, verbosity).report;
        let kept = assess_for_budget(&args, queues(), None, verbosity, Some(4096)).report;
        assert_eq!(
            render_nagios(&PLUGIN.label(), &kept, 4096),
            render_nagios(&PLUGIN.label(), &all, 4096),
            "{argv:?} -v {verbosity}"
        );
        assert_eq!(all.perfdata.len(), 10_000);
        assert!(kept.perfdata.len() < 4096 / 4, "{}", kept.perfdata.len());
        assert!(
            kept.details.len() <= 2 * 4096 / 16,
            "{}",
            kept.details.len()
        );
    }
}
