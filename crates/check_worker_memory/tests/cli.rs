//! check_worker_memory against real processes whose command lines look like Zulip's queue
//! workers (python3 with the worker's arguments) and that hold or grow known amounts of memory.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

use custos_harness::plugin::{run_plugin, run_plugin_with, PluginRun};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_check_worker_memory");
const MANAGE: &str = "/home/zulip/deployments/current/manage.py";
const MIB: f64 = 1048576.0;

/// A fake worker for `queue` ("": no --queue_name) holding `mib` MiB, growing by `grow` MiB every 0.25 s (up to
/// 400 MiB); killed when dropped. `tag` keeps tests apart: it is in the command line.
struct Worker(Child);

impl Worker {
    fn start(tag: &str, queue: &str, mib: u32, grow: u32) -> Worker {
        // One line (a command line with newlines would not match `.*`): the loop is exec'd.
        let code = r"import os, time; hold = [b'\x01' * (int(os.environ['MIB']) << 20)]; print('ready', flush=True); exec('while True:\n time.sleep(0.25)\n if int(os.environ[\'GROW\']) and len(hold) < 400: hold.append(b\'\\x01\' * (int(os.environ[\'GROW\']) << 20))')";
        // argv[0] "python3", as `/usr/bin/env python3` (manage.py's shebang) runs Zulip's workers.
        let mut child = Command::new("/usr/bin/python3")
            .arg0("python3")
            .args(["-c", code, MANAGE, "process_queue"])
            .args((!queue.is_empty()).then(|| format!("--queue_name={queue}")))
            .arg(format!("--tag={tag}"))
            .env("MIB", mib.to_string())
            .env("GROW", grow.to_string())
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3");
        // Wait until the memory is really held.
        let mut line = String::new();
        use std::io::BufRead;
        std::io::BufReader::new(child.stdout.as_mut().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert_eq!(line.trim(), "ready");
        Worker(child)
    }

    fn pid(&self) -> u32 {
        self.0.id()
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Only this test's workers: Zulip's pattern with the test's tag.
fn pattern(tag: &str) -> String {
    format!(r"python.* {MANAGE} process_queue .*--tag={tag}")
}

fn run(tag: &str, args: &[&str]) -> PluginRun {
    let mut all = vec!["--cmdline".to_string(), pattern(tag)];
    all.extend(args.iter().map(|s| s.to_string()));
    run_plugin(BIN, &all)
}

#[test]
fn each_worker_against_the_thresholds_biggest_named() {
    let small = Worker::start("sizes", "deferred_work", 30, 0);
    let big = Worker::start("sizes", "embed_links", 80, 0);
    let run = run("sizes", &["-w", "50MiB", "-c", "200MiB"]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    let text = run.text();
    assert!(
        text.starts_with(&format!(
            "WORKER_MEMORY WARNING - worker embed_links (pid {}) uses 8",
            big.pid()
        )),
        "{text}"
    );
    assert!(
        text.contains("MiB RSS (warning > 50MiB); 2 workers, biggest embed_links"),
        "{text}"
    );
    let e = run.perf("embed_links");
    let d = run.perf("deferred_work");
    assert_eq!(e.uom.as_str(), "B");
    let (e, d) = (e.value.unwrap(), d.value.unwrap());
    assert!(e > 80.0 * MIB && e < 120.0 * MIB, "{e}");
    assert!(d > 30.0 * MIB && d < 70.0 * MIB, "{d}");
    assert_eq!(run.perf("total").value, Some(e + d));
    assert_eq!(run.perf("workers").value, Some(2.0));
    assert_eq!(
        run.perf("embed_links").warning.unwrap().to_string(),
        "52428800"
    );

    // Defaults for RSS (400/600 MiB): fine.
    let run = self::run("sizes", &["-v"]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert!(run
        .stdout
        .contains(&format!("deferred_work (pid {}): RSS ", small.pid())));
    // Zulip's VSZ rule (600000/800000 KiB): fine; a low VSZ limit is not.
    let run = self::run("sizes", &["--metric", "vsz"]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert_eq!(
        run.perf("embed_links").warning.unwrap().to_string(),
        "614400000"
    );
    assert_eq!(self::run("sizes", &["-m", "vsz", "-c", "60MiB"]).code, 2);
    // PSS never exceeds RSS.
    let rss = self::run("sizes", &[]).perf("embed_links").value.unwrap();
    let pss = self::run("sizes", &["--metric", "pss"])
        .perf("embed_links")
        .value
        .unwrap();
    assert!(pss > 70.0 * MIB && pss <= rss * 1.05, "pss {pss} rss {rss}");
}

#[test]
fn no_workers_is_ok_unless_a_minimum_is_asked() {
    let _w = Worker::start("nobody-owns", "x", 1, 0);
    let run = run("none-at-all", &[]);
    assert_eq!(
        (run.code, run.text()),
        (0, "WORKER_MEMORY OK - No workers running")
    );
    let run = self::run("none-at-all", &["--min-procs", "1"]);
    assert_eq!(
        (run.code, run.text()),
        (
            2,
            "WORKER_MEMORY CRITICAL - 0 matching processes, fewer than 1; No workers running"
        )
    );
    // Workers of another user do not count.
    let run = self::run("nobody-owns", &["--user", "nobody"]);
    assert_eq!(run.text(), "WORKER_MEMORY OK - No workers running");
    assert_eq!(
        self::run("nobody-owns", &["--user", "root"])
            .perf("workers")
            .value,
        Some(1.0)
    );
    let run = self::run("x", &["--user", "no-such-user-here"]);
    assert_eq!(
        (run.code, run.text()),
        (
            3,
            "WORKER_MEMORY UNKNOWN - no user 'no-such-user-here' on this host"
        )
    );
}

/// A worker of root seen by an unprivileged check: its PSS cannot be read, and says so.
#[test]
fn unreadable_pss_is_unknown_not_zero() {
    let w = Worker::start("pss-denied", "q", 1, 0);
    let out = Command::new(BIN)
        .args(["--cmdline", &pattern("pss-denied"), "--metric", "pss"])
        .uid(65534)
        .gid(65534)
        .output()
        .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(3), "{stdout}");
    assert!(
        stdout.starts_with(&format!(
            "WORKER_MEMORY UNKNOWN - cannot read the PSS of q (pid {}): run as its user or root",
            w.pid()
        )),
        "{stdout}"
    );
    // Not measured: U, and no partial total either.
    assert!(
        stdout.lines().next().unwrap().ends_with("total=U q=U"),
        "{stdout}"
    );
}

/// A worker that grows 16 MiB/s next to a steady one, sampled over a few seconds.
#[test]
fn leaks_are_found_over_the_window_and_restarts_start_anew() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().to_str().unwrap();
    let steady = Worker::start("leak", "steady", 20, 0);
    let grower = Worker::start("leak", "grower", 20, 4);
    let leak_args = [
        "--state-dir",
        state,
        "--window",
        "8s",
        "--growth-warning",
        "4MiB/s",
    ];
    // First runs: not enough history yet (a quarter of the window).
    let first = run("leak", &leak_args);
    assert_eq!(first.code, 0, "{}", first.stdout);
    let mut last = first;
    for _ in 0..4 {
        std::thread::sleep(Duration::from_millis(800));
        last = run("leak", &leak_args);
    }
    assert_eq!(last.code, 1, "{}", last.stdout);
    let text = last.text();
    assert!(
        text.starts_with(&format!(
            "WORKER_MEMORY WARNING - worker grower (pid {}) grew ",
            grower.pid()
        )),
        "{text}"
    );
    assert!(text.contains("/h, warning > 14.1GiB/h)"), "{text}");
    assert!(!text.contains("steady (pid"), "{text}");
    // One small file, with both series, pruned to the window.
    let files: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&files[0]).unwrap()).unwrap();
    let series = json["series"].as_object().unwrap();
    assert_eq!(series.len(), 2);
    assert!(series
        .keys()
        .any(|k| k.starts_with(&format!("{}:", steady.pid()))));
    let samples = series.values().next().unwrap().as_array().unwrap();
    let first_t = samples[0][0].as_f64().unwrap();
    let last_t = samples.last().unwrap()[0].as_f64().unwrap();
    assert!(last_t - first_t <= 8.0 && samples.len() == 5, "{samples:?}");

    // The grower restarts: a new process, a new series, no verdict yet.
    drop(grower);
    let again = Worker::start("leak", "grower", 20, 4);
    let run = run("leak", &leak_args);
    assert_eq!(run.code, 0, "{}", run.stdout);
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&files[0]).unwrap()).unwrap();
    let keys: Vec<&String> = json["series"].as_object().unwrap().keys().collect();
    assert_eq!(keys.len(), 2, "the old grower's series is gone: {keys:?}");
    assert!(keys
        .iter()
        .any(|k| k.starts_with(&format!("{}:", again.pid()))));

    // A corrupt state file is replaced, not fatal.
    std::fs::write(&files[0], "{ garbage").unwrap();
    let run = self::run("leak", &leak_args);
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert!(run.stdout.contains("was not valid"), "{}", run.stdout);
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&files[0]).unwrap()).unwrap();
    assert_eq!(json["series"].as_object().unwrap().len(), 2);
}

#[test]
fn several_workers_of_one_queue_and_workers_without_a_queue() {
    let a = Worker::start("labels", "deferred_work", 1, 0);
    let b = Worker::start("labels", "deferred_work", 1, 0);
    let run = run_plugin_with(Command::new(BIN).args([
        "--cmdline",
        &format!(r"python.* {MANAGE} process_queue .*--tag=labels"),
    ]));
    assert_eq!(run.code, 0, "{}", run.stdout);
    run.perf(&format!("deferred_work_{}", a.pid()));
    run.perf(&format!("deferred_work_{}", b.pid()));
    let c = Worker::start("nolabel", "", 1, 0);
    let run = self::run("nolabel", &[]);
    run.perf(&format!("pid{}", c.pid()));
    assert_eq!(run.code, 0, "{}", run.stdout);
}
