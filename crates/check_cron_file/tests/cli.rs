//! check_cron_file as Nagios runs it: the real binary, real files, stdout and exit code.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

use custos_harness::plugin::{run_plugin, PluginRun};
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

const BIN: &str = env!("CARGO_BIN_EXE_check_cron_file");

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn run<I, S>(args: I) -> PluginRun
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    run_plugin(BIN, args)
}

/// A FIFO that nobody writes: opening it for reading blocks forever.
use custos_harness::util::mkfifo;

fn write(dir: &Path, name: &str, content: impl AsRef<[u8]>) -> PathBuf {
    let p = dir.join(name);
    fs::write(&p, content).unwrap();
    p
}

#[test]
fn good_files_of_both_zulip_eras_pass_state_and_text_through() {
    let dir = tempfile::tempdir().unwrap();
    let t = now();
    // (content, expected line-1 text, expected exit code)
    let cases = [
        (
            format!("{t}|0|OK|send time was 0.4171240329742431\n"),
            "OK: send time was 0.4171240329742431",
            0,
        ),
        (
            format!("{t}|1|WARNING|send time was 4.2\n"),
            "WARNING: send time was 4.2",
            1,
        ),
        (
            format!("{t}|2|CRITICAL|Error sending Zulip, args were: x\n"),
            "CRITICAL: Error sending Zulip, args were: x",
            2,
        ),
        (
            format!("{t}|3|UNKNOWN|could not check\n"),
            "UNKNOWN: could not check",
            3,
        ),
        // atomic_nagios_write (2024+): lower-case state text, printed verbatim.
        (format!("{t}|0|ok|queues normal\n"), "ok: queues normal", 0),
        (
            format!("{t}|2|critical|notify_tornado has 0 consumers"),
            "critical: notify_tornado has 0 consumers",
            2,
        ),
        // Exit code from field 2 even when field 3 disagrees (Zulip does the same).
        (format!("{t}|1|OK|odd writer"), "OK: odd writer", 1),
        // Surrounding whitespace is stripped as Python's .strip() does.
        (format!("\n  {t}|0|OK|padded  \n\n"), "OK: padded", 0),
    ];
    for (i, (content, text, code)) in cases.iter().enumerate() {
        let f = write(dir.path(), &format!("f{i}"), content);
        let r = run([&f]);
        assert_eq!(r.text(), *text, "{content:?}");
        assert_eq!(r.code, *code, "{content:?}");
        let perf = r.perfdata();
        assert_eq!(perf.len(), 1);
        assert_eq!(perf[0].label, "age");
        assert!(perf[0].value.unwrap() <= 2.0, "fresh file");
    }
}

#[test]
fn missing_file_is_zulips_unknown() {
    let dir = tempfile::tempdir().unwrap();
    let r = run([dir.path().join("check_send_receive_state")]);
    assert_eq!(r.first_line(), "UNKNOWN: Results file is missing");
    assert_eq!(r.code, 3);
}

#[test]
fn malformed_files() {
    let dir = tempfile::tempdir().unwrap();
    let t = now();
    for (i, content) in [
        String::new(),
        "\n".to_string(),
        format!("{t}|0|OK"),
        format!("{t}|0|OK|a|b"),
        // A writer that let a pipe into its message (Zulip notes this breaks the format).
        format!("{t}|2|CRITICAL|select 1 | grep x"),
        "garbage".to_string(),
    ]
    .iter()
    .enumerate()
    {
        let f = write(dir.path(), &format!("m{i}"), content);
        let r = run([&f]);
        assert_eq!(
            r.first_line(),
            "UNKNOWN: Results file malformed",
            "{content:?}"
        );
        assert_eq!(r.code, 3);
    }
}

#[test]
fn where_zulip_crashed_we_say_why() {
    let dir = tempfile::tempdir().unwrap();
    let t = now();
    let cases = [
        (
            "abc|0|OK|m".to_string(),
            "UNKNOWN: Results file malformed: timestamp 'abc' is not a whole number",
        ),
        (
            "1.5e9|0|OK|m".to_string(),
            "UNKNOWN: Results file malformed: timestamp '1.5e9' is not a whole number",
        ),
        (
            format!("{t}|zero|OK|m"),
            "UNKNOWN: Results file malformed: exit code 'zero' is not a whole number",
        ),
        (
            format!("{t}|7|OK|m"),
            "UNKNOWN: Results file has exit code 7, outside 0-3 (OK: m)",
        ),
        (
            format!("{t}|-1|OK|m"),
            "UNKNOWN: Results file has exit code -1, outside 0-3 (OK: m)",
        ),
        (
            format!("{t}|255|CRITICAL|m"),
            "UNKNOWN: Results file has exit code 255, outside 0-3 (CRITICAL: m)",
        ),
    ];
    for (i, (content, want)) in cases.iter().enumerate() {
        let f = write(dir.path(), &format!("c{i}"), content);
        let r = run([&f]);
        assert_eq!(r.first_line(), *want, "{content:?}");
        assert_eq!(r.code, 3);
    }
    // No argument at all (Zulip: IndexError, exit 1).
    let r = run::<[&str; 0], &str>([]);
    assert_eq!(
        r.first_line(),
        "UNKNOWN: no results file given (check_cron_file FILE [MAX_AGE_SECONDS], or --file)"
    );
    assert_eq!(r.code, 3);
    // Unreadable: a directory where the file should be (permission bits do not stop root).
    let r = run([dir.path()]);
    assert!(
        r.first_line()
            .starts_with("UNKNOWN: Results file is unreadable: "),
        "{}",
        r.stdout
    );
    assert!(
        r.first_line().ends_with("not a regular file (a directory)"),
        "{}",
        r.stdout
    );
    assert_eq!(r.code, 3);
}

#[test]
fn staleness_truncates_like_zulip() {
    let dir = tempfile::tempdir().unwrap();
    let t = now();
    let old = write(dir.path(), "old", format!("{}|0|OK|fine", t - 130));
    let r = run([&old]);
    assert_eq!(r.first_line(), "UNKNOWN: Results file is stale");
    assert_eq!(r.code, 3);
    // Positional max age, as in check_analytics_state!22: check_cron_file FILE 4000.
    let r = run([old.as_os_str(), "4000".as_ref()]);
    assert_eq!(r.text(), "OK: fine");
    assert_eq!(r.code, 0);
    // --max-age takes a duration.
    let r = run(["--max-age".as_ref(), "2min".as_ref(), old.as_os_str()]);
    assert_eq!(r.first_line(), "UNKNOWN: Results file is stale");
    let r = run([
        "--max-age".as_ref(),
        "1h".as_ref(),
        "--file".as_ref(),
        old.as_os_str(),
    ]);
    assert_eq!(r.code, 0);
    // 100 s old is within the default 120.
    let ok = write(dir.path(), "ok", format!("{}|2|CRITICAL|down", t - 100));
    let r = run([&ok]);
    assert_eq!(r.text(), "CRITICAL: down");
    assert_eq!(r.code, 2);
    let age = r.perfdata()[0].value.unwrap();
    assert!((100.0..=102.0).contains(&age), "age {age}");
    // A timestamp in the future is never stale.
    let future = write(
        dir.path(),
        "future",
        format!("{}|0|OK|from the future", t + 3600),
    );
    let r = run([&future]);
    assert_eq!(r.text(), "OK: from the future");
    assert_eq!(r.perfdata()[0].value, Some(0.0));
    // Extra arguments are ignored, as Zulip's reader ignores them.
    let r = run([future.as_os_str(), "120".as_ref(), "extra".as_ref()]);
    assert_eq!(r.code, 0);
    // Options too, after FILE MAX_AGE (Zulip's reader only reads argv[1] and argv[2]).
    let r = run([
        future.as_os_str(),
        "120".as_ref(),
        "-x".as_ref(),
        "--bogus".as_ref(),
    ]);
    assert_eq!(r.code, 0, "{}", r.stdout);
    assert_eq!(r.text(), "OK: from the future");
    // Not in Zulip's form, an unknown option is still refused.
    let r = run(["-x".as_ref(), future.as_os_str()]);
    assert_eq!(r.code, 3, "{}", r.stdout);
}

#[test]
fn age_thresholds_can_make_it_worse_but_not_better() {
    let dir = tempfile::tempdir().unwrap();
    let t = now();
    let f = write(dir.path(), "f", format!("{}|0|ok|queues normal", t - 90));
    let r = run([
        "-w".as_ref(),
        "60".as_ref(),
        "-c".as_ref(),
        "5min".as_ref(),
        f.as_os_str(),
    ]);
    assert_eq!(r.code, 1);
    assert!(
        r.text().starts_with("WARNING: Results file is "),
        "{}",
        r.stdout
    );
    assert!(
        r.text().ends_with("old (warning > 60s); ok: queues normal"),
        "{}",
        r.stdout
    );
    let perf = &r.perfdata()[0];
    assert_eq!(perf.warning.unwrap().to_string(), "60");
    assert_eq!(perf.critical.unwrap().to_string(), "300");
    // A CRITICAL result stays CRITICAL with its own text when the age only warns.
    let f = write(dir.path(), "g", format!("{}|2|CRITICAL|down", t - 90));
    let r = run(["-w".as_ref(), "60".as_ref(), f.as_os_str()]);
    assert_eq!((r.code, r.text()), (2, "CRITICAL: down"));
    // A unit that does not fit an age is refused.
    let r = run(["-w".as_ref(), "5MiB".as_ref(), f.as_os_str()]);
    assert_eq!(r.code, 3);
    assert!(
        r.first_line().contains("unit 'MiB' does not fit"),
        "{}",
        r.stdout
    );
}

#[test]
fn messages_with_newlines_and_bad_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let t = now();
    let f = write(
        dir.path(),
        "nl",
        format!("{t}|1|WARNING|first line\nsecond line\n"),
    );
    let r = run(["-v".as_ref(), f.as_os_str()]);
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(r.text(), "WARNING: first line");
    assert_eq!(lines[1], "second line");
    assert!(lines[2].contains("written at"), "{}", r.stdout);
    let mut bytes = format!("{t}|0|OK|bad ").into_bytes();
    bytes.extend_from_slice(&[0xff, 0xfe, 0x1b]);
    bytes.extend_from_slice(b"[31mred");
    let f = write(dir.path(), "bytes", bytes);
    let r = run([&f]);
    assert_eq!(r.code, 0);
    assert_eq!(r.text(), "OK: bad \u{fffd}\u{fffd} [31mred");
}

#[test]
fn fifos_devices_and_huge_files_are_refused_unread() {
    // A results file is one line: a FIFO is refused without waiting for a writer, a device is
    // not read, and a file longer than 64 KiB is not read into memory.
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("fifo");
    mkfifo(&fifo);
    let r = run(["-t".as_ref(), "30".as_ref(), fifo.as_os_str()]);
    assert_eq!(
        (r.code, r.first_line().to_string()),
        (
            3,
            format!(
                "UNKNOWN: Results file is unreadable: {}: not a regular file (a FIFO)",
                fifo.display()
            )
        )
    );
    let r = run(["/dev/zero"]);
    assert_eq!(
        (r.code, r.first_line()),
        (
            3,
            "UNKNOWN: Results file is unreadable: /dev/zero: not a regular file (a character device)"
        )
    );
    let big = dir.path().join("big");
    let f = fs::File::create(&big).unwrap();
    f.set_len(300 << 20).unwrap();
    let r = run([&big]);
    assert_eq!(
        (r.code, r.first_line().to_string()),
        (
            3,
            format!(
                "UNKNOWN: Results file is unreadable: {}: longer than 64KiB",
                big.display()
            )
        )
    );
    // Exactly at the cap is still read (and malformed here).
    fs::write(&big, vec![b'x'; 64 * 1024]).unwrap();
    assert_eq!(run([&big]).first_line(), "UNKNOWN: Results file malformed");
}

#[test]
fn state_file_round_trip_through_a_custos_writer() {
    let dir = tempfile::tempdir().unwrap();
    let t = now();
    let src = write(
        dir.path(),
        "src",
        format!("{t}|2|CRITICAL|replica is not streaming"),
    );
    let out = dir.path().join("check-cron-results");
    // custos' own writer: any check with --state-file.
    let r = run(["--state-file".as_ref(), out.as_os_str(), src.as_os_str()]);
    assert_eq!(r.code, 2);
    let written = fs::read_to_string(&out).unwrap();
    let fields: Vec<&str> = written.trim_end().split('|').collect();
    assert_eq!(fields.len(), 4, "{written:?}");
    assert!((fields[0].parse::<i64>().unwrap() - t).abs() <= 2);
    assert_eq!(&fields[1..], ["2", "CRITICAL", "replica is not streaming"]);
    let back = run([&out]);
    assert_eq!(back.text(), "CRITICAL: replica is not streaming");
    assert_eq!(back.code, 2);
    // No temporary file is left beside it.
    let mut names: Vec<String> = fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["check-cron-results", "src"]);

    // A run that could not read its input records why, so the reader sees it instead of a
    // stale file.
    let fifo = dir.path().join("fifo");
    mkfifo(&fifo);
    let r = run(["--state-file".as_ref(), out.as_os_str(), fifo.as_os_str()]);
    assert_eq!(r.code, 3);
    let back = run([&out]);
    assert_eq!(back.code, 3);
    assert_eq!(
        back.text(),
        format!(
            "UNKNOWN: Results file is unreadable: {}: not a regular file (a FIFO)",
            fifo.display()
        )
    );
}

#[test]
fn state_file_as_a_bare_name_lands_in_the_working_directory() {
    let dir = tempfile::tempdir().unwrap();
    let src = write(dir.path(), "src", format!("{}|1|WARNING|slow", now()));
    let r = custos_harness::plugin::run_plugin_with(
        std::process::Command::new(BIN)
            .args(["--state-file", "relayed", "src"])
            .current_dir(dir.path()),
    );
    assert_eq!(r.code, 1);
    let written = fs::read_to_string(dir.path().join("relayed")).unwrap();
    assert!(written.ends_with("|1|WARNING|slow\n"), "{written:?}");
    let mut names: Vec<String> = fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["relayed", "src"], "no temporary file left");
    drop(src);
}

#[test]
fn json_output() {
    let dir = tempfile::tempdir().unwrap();
    let f = write(dir.path(), "f", format!("{}|1|warning|slow", now()));
    let r = run(["--output-format".as_ref(), "json".as_ref(), f.as_os_str()]);
    assert_eq!(r.code, 1);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).expect("one JSON object");
    assert_eq!(v["check"], "check_cron_file");
    assert_eq!(v["state"], "WARNING");
    assert_eq!(v["code"], 1);
    assert_eq!(v["status_text"], "warning");
    assert_eq!(v["summary"], "slow");
    assert_eq!(v["perfdata"][0]["label"], "age");
    assert_eq!(v["perfdata"][0]["uom"], "s");
}

#[test]
fn help_version_and_usage_errors_exit_3_on_stdout() {
    let r = run(["--help"]);
    assert_eq!(r.code, 3);
    for opt in [
        "--file",
        "--max-age",
        "--warning",
        "--critical",
        "--verbose",
        "--timeout",
        "--timeout-result",
        "--output-format",
        "--state-file",
        "--output-limit",
        "--help",
        "--version",
    ] {
        assert!(r.stdout.contains(opt), "--help lacks {opt}");
    }
    let r = run(["-V"]);
    assert_eq!(
        (r.code, r.stdout.trim()),
        (
            3,
            format!("check_cron_file {}", env!("CARGO_PKG_VERSION")).as_str()
        )
    );
    let r = run(["--no-such-option"]);
    assert_eq!(r.code, 3);
    assert_eq!(
        r.first_line(),
        "UNKNOWN: unexpected argument '--no-such-option' found"
    );
    let r = run(["-t", "0", "x"]);
    assert_eq!(r.code, 3);
    assert!(
        r.first_line()
            .contains("the timeout must be more than 0 seconds"),
        "{}",
        r.stdout
    );
    let r = run(["--timeout-result", "maybe", "x"]);
    assert_eq!(r.code, 3);
    assert!(
        r.first_line().contains("invalid state 'maybe'"),
        "{}",
        r.stdout
    );
}
