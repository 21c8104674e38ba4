//! check_queue_worker_errors over real files written the way Zulip's workers write them, and a
//! directory (and a file) the check cannot read, as an unprivileged user.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

use custos_harness::plugin::{run_plugin, run_plugin_with, PluginRun};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_check_queue_worker_errors");

/// Appends a failed event `ago` seconds old, as `_handle_consume_exception` does:
/// `f"{time.asctime()}\t{orjson.dumps(events).decode()}\n"`.
fn fail(dir: &Path, queue: &str, ago: i64) {
    let at = jiff::Zoned::now().with_time_zone(jiff::tz::TimeZone::system())
        - jiff::SignedDuration::from_secs(ago);
    let line = format!(
        "{}\t[{{\"type\":\"{queue}\",\"user_profile_id\":10,\"text\":\"a | b\"}}]\n",
        at.strftime("%a %b %e %H:%M:%S %Y")
    );
    use std::io::Write;
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join(format!("{queue}.errors")))
        .unwrap()
        .write_all(line.as_bytes())
        .unwrap();
}

fn run(dir: &Path, args: &[&str]) -> PluginRun {
    run_plugin_with(Command::new(BIN).arg("--dir").arg(dir).args(args))
}

#[test]
fn counts_per_queue_with_the_newest() {
    let d = tempfile::tempdir().unwrap();
    for ago in [30, 20, 5] {
        fail(d.path(), "deferred_work", ago);
    }
    fail(d.path(), "embed_links", 2 * 86400);
    std::fs::write(d.path().join("embed_links.errors.lock"), "").unwrap();
    let run = run(d.path(), &[]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    // Time stamps have whole seconds: the newest is 5 or 6 s old by now.
    let newest = run.perf("newest_age").value.unwrap();
    assert!(newest == 5.0 || newest == 6.0, "{newest}");
    assert_eq!(
        run.text(),
        format!("QUEUE_WORKER_ERRORS WARNING - Queue errors logged in {}/deferred_work.errors and 1 more file; 4 failed events in 2 queues: deferred_work 3 (newest {newest}s ago), embed_links 1 (newest 2d 0h ago)", d.path().display())
    );
    let lines: Vec<&str> = run.stdout.lines().skip(1).collect();
    assert_eq!(
        lines,
        [
            &*format!(
                "deferred_work: 3 failed events, newest {newest}s ago ({}/deferred_work.errors)",
                d.path().display()
            ),
            &*format!(
                "embed_links: 1 failed event, newest 2d 0h ago ({}/embed_links.errors)",
                d.path().display()
            ),
        ]
    );
    let errors = run.perf("errors");
    assert_eq!(
        (errors.value, errors.warning.unwrap().to_string()),
        (Some(4.0), "0".into())
    );
    assert_eq!(run.perf("deferred_work").value, Some(3.0));
    // A critical range; old events left out.
    assert_eq!(self::run(d.path(), &["-c", "3"]).code, 2);
    let run = self::run(d.path(), &["--max-age", "1h"]);
    assert!(
        run.text().starts_with(&format!(
            "QUEUE_WORKER_ERRORS WARNING - Queue errors logged in {}/deferred_work.errors; 3 failed events in the last 1h 0min in 1 queue: deferred_work 3 (newest ",
            d.path().display()
        )),
        "{}",
        run.stdout
    );
    assert_eq!(run.perf("embed_links").value, Some(0.0));
    let run = self::run(d.path(), &["--max-age", "1s"]);
    assert_eq!(run.code, 0, "{}", run.stdout);
}

#[test]
fn nothing_failed() {
    let d = tempfile::tempdir().unwrap();
    let run = run(d.path(), &[]);
    assert_eq!(
        (run.code, run.text().to_string()),
        (
            0,
            format!(
                "QUEUE_WORKER_ERRORS OK - no failed events in {}",
                d.path().display()
            )
        )
    );
    assert_eq!(run.perf("errors").value, Some(0.0));
}

#[test]
fn a_line_without_a_readable_time_still_counts() {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(
        d.path().join("user_activity.errors"),
        "garbage line\n\nmore garbage\n",
    )
    .unwrap();
    let run = run(d.path(), &[]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert!(
        run.text().starts_with(&format!(
            "QUEUE_WORKER_ERRORS WARNING - Queue errors logged in {}/user_activity.errors; 2 failed events in 1 queue: user_activity 2 (newest ",
            d.path().display()
        )),
        "{}",
        run.stdout
    );
}

#[test]
fn missing_and_unreadable() {
    let d = tempfile::tempdir().unwrap();
    let missing = d.path().join("queue_error");
    let run = run(&missing, &[]);
    assert_eq!(run.code, 3);
    assert_eq!(
        run.text(),
        format!(
            "QUEUE_WORKER_ERRORS UNKNOWN - cannot read {}: No such file or directory (os error 2) (--ignore-missing if that is expected)",
            missing.display()
        )
    );
    let run = self::run(&missing, &["--ignore-missing"]);
    assert_eq!(run.code, 0, "{}", run.stdout);

    // Root's directory and file, read by nobody (Zulip's glob said OK here).
    let locked = d.path().join("locked");
    std::fs::create_dir(&locked).unwrap();
    fail(&locked, "deferred_work", 1);
    std::fs::set_permissions(d.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o700)).unwrap();
    let as_nobody = |dir: &Path| {
        let out = Command::new(BIN)
            .arg("--dir")
            .arg(dir)
            .uid(65534)
            .gid(65534)
            .output()
            .unwrap();
        (
            out.status.code().unwrap(),
            String::from_utf8(out.stdout).unwrap(),
        )
    };
    let (code, out) = as_nobody(&locked);
    assert_eq!(code, 3, "{out}");
    assert_eq!(
        out.trim_end(),
        format!(
            "QUEUE_WORKER_ERRORS UNKNOWN - cannot read {}: Permission denied (os error 13)",
            locked.display()
        )
    );
    // A readable directory with a file nobody may read: that file is UNKNOWN, not skipped.
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o755)).unwrap();
    let file = locked.join("deferred_work.errors");
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
    let (code, out) = as_nobody(&locked);
    assert_eq!(code, 3, "{out}");
    assert!(
        out.starts_with(&format!(
            "QUEUE_WORKER_ERRORS UNKNOWN - cannot read {}: Permission denied (os error 13); no failed events in",
            file.display()
        )),
        "{out}"
    );
    assert!(run_plugin(BIN, ["--dir", locked.to_str().unwrap()]).code == 1);
}
