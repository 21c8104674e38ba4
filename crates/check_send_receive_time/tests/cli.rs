//! check_send_receive_time against the Zulip test server (proven by the official client in
//! official_client.rs): delivery times, heartbeats, Zulip's errors, garbage, a server that
//! never answers; and after each run, the probe message deleted and the queue deleted.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

use custos_harness::faults::{Fault, FaultServer};
use custos_harness::plugin::{run_plugin_with, PluginRun};
use custos_harness::zulip::ZulipServer;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_check_send_receive_time");
const SENDER: &str = "nagios-send-bot@zulip.example.com";
const RECEIVER: &str = "nagios-receive-bot@zulip.example.com";
const SENDER_KEY: &str = "Send-Key-0123456789abcdef";
const RECEIVER_KEY: &str = "Receive-Key-fedcba9876543210";

fn server() -> ZulipServer {
    ZulipServer::start(&[(SENDER, SENDER_KEY), (RECEIVER, RECEIVER_KEY)])
}

/// The check with both bots' credentials in the environment.
fn cmd(site: &str) -> Command {
    let mut c = Command::new(BIN);
    for v in [
        "ZULIP_SITE",
        "ZULIP_SENDER_EMAIL",
        "ZULIP_SENDER_API_KEY",
        "ZULIP_RECEIVER_EMAIL",
        "ZULIP_RECEIVER_API_KEY",
    ] {
        c.env_remove(v);
    }
    c.env("ZULIP_SENDER_EMAIL", SENDER)
        .env("ZULIP_SENDER_API_KEY", SENDER_KEY)
        .env("ZULIP_RECEIVER_EMAIL", RECEIVER)
        .env("ZULIP_RECEIVER_API_KEY", RECEIVER_KEY)
        .args(["--site", site]);
    c
}

fn run(server: &ZulipServer, args: &[&str]) -> PluginRun {
    run_plugin_with(cmd(&server.url).args(args))
}

/// The probe cleaned up after itself: message deleted (if one was sent), queue deleted.
fn cleaned_up(server: &ZulipServer, messages: &[u64]) {
    assert_eq!(server.deleted(), messages, "messages deleted");
    assert_eq!(server.live_queues(), 0, "queues left registered");
    assert_eq!(server.deregistered().len(), 1);
}

#[test]
fn fast_delivery_is_ok_and_cleans_up() {
    let s = server();
    let run = run(&s, &["-v"]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert!(
        run.text()
            .starts_with("SEND_RECEIVE_TIME OK - send time was 0.0"),
        "{}",
        run.stdout
    );
    let time = run.perf("time");
    assert!(time.value.unwrap() < 1.0);
    assert_eq!(
        (
            time.warning.unwrap().to_string(),
            time.critical.unwrap().to_string()
        ),
        ("3".into(), "12".into())
    );
    assert!(
        run.stdout.contains("probe message 1 deleted"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("event queue 1732280000:1 deleted"),
        "{}",
        run.stdout
    );
    cleaned_up(&s, &[1]);
    // --keep-message leaves it.
    let s = server();
    assert_eq!(self::run(&s, &["--keep-message"]).code, 0);
    assert_eq!(s.deleted(), Vec::<u64>::new());
    assert_eq!(s.live_queues(), 0);
}

#[test]
fn four_seconds_is_a_warning() {
    let s = server();
    s.knobs(|k| k.delivery_delay = Duration::from_secs(4));
    let run = run(&s, &[]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert!(
        run.text()
            .starts_with("SEND_RECEIVE_TIME WARNING - send time was 4.0"),
        "{}",
        run.stdout
    );
    assert!(run.text().ends_with("s (warning > 3s)"), "{}", run.stdout);
    cleaned_up(&s, &[1]);
}

#[test]
fn over_critical_is_critical() {
    let s = server();
    s.knobs(|k| k.delivery_delay = Duration::from_millis(1300));
    let run = run(&s, &["-w", "500ms", "-c", "1"]);
    assert_eq!(run.code, 2, "{}", run.stdout);
    assert!(run.text().contains("s (critical > 1s)"), "{}", run.stdout);
    assert!(run.perf("time").value.unwrap() >= 1.3);
    cleaned_up(&s, &[1]);
}

#[test]
fn a_heartbeat_while_waiting_is_critical() {
    let s = server();
    s.knobs(|k| {
        k.lose_messages = true;
        k.heartbeat_after = Duration::from_millis(800);
    });
    let run = run(&s, &[]);
    assert_eq!(run.code, 2, "{}", run.stdout);
    assert!(
        run.text().starts_with(
            "SEND_RECEIVE_TIME CRITICAL - Got heartbeat waiting for Zulip, which means get_events is hanging (after 0.8"
        ),
        "{}",
        run.stdout
    );
    assert_eq!(run.perf("time").value, None);
    cleaned_up(&s, &[1]);
}

#[test]
fn zulips_errors_are_critical_with_zulips_words() {
    let s = server();
    s.knobs(|k| {
        k.send_error = Some("You can't send direct messages outside your organization.".into())
    });
    let run = run(&s, &[]);
    assert_eq!(
        (run.code, run.text()),
        (2, "SEND_RECEIVE_TIME CRITICAL - Error sending Zulip: You can't send direct messages outside your organization.")
    );
    cleaned_up(&s, &[]);

    let s = server();
    s.knobs(|k| k.register_error = Some("Invalid narrow".into()));
    let run = self::run(&s, &[]);
    assert_eq!(
        (run.code, run.text()),
        (
            2,
            "SEND_RECEIVE_TIME CRITICAL - Error subscribing to Zulips: Invalid narrow"
        )
    );
    assert_eq!(s.live_queues(), 0);

    // The queue garbage-collected under us (Tornado restarted): said so.
    let s = server();
    s.knobs(|k| k.forget_queues = true);
    let run = self::run(&s, &[]);
    assert_eq!(
        (run.code, run.text()),
        (2, "SEND_RECEIVE_TIME CRITICAL - the event queue is gone (BAD_EVENT_QUEUE_ID): Bad event queue ID: 1732280000:1")
    );
    assert_eq!(s.deleted(), [1], "the probe message is still deleted");
    assert!(
        run.stdout
            .contains("could not delete the event queue 1732280000:1"),
        "{}",
        run.stdout
    );
}

#[test]
fn a_wrong_key_is_critical_and_never_shown() {
    let s = server();
    for v in ["-v", "-vvv"] {
        let run = run_plugin_with(
            cmd(&s.url)
                .env("ZULIP_RECEIVER_API_KEY", "Wrong-Key-xyz")
                .arg(v),
        );
        assert_eq!(
            (run.code, run.text()),
            (2, &*format!("SEND_RECEIVE_TIME CRITICAL - the Zulip server refused {RECEIVER} (401 Unauthorized: Invalid API key)"))
        );
        for key in ["Wrong-Key-xyz", SENDER_KEY, RECEIVER_KEY] {
            assert!(!run.stdout.contains(key), "{}", run.stdout);
        }
    }
    assert_eq!(s.sent(), 0);
    let run = run_plugin_with(
        cmd(&s.url)
            .args(["--output-format", "json"])
            .env("ZULIP_SENDER_API_KEY", "bad"),
    );
    assert_eq!(run.code, 2);
    assert!(!run.stdout.contains(RECEIVER_KEY) && !run.stdout.contains("bad\""));
}

#[test]
fn garbage_is_unknown_and_silence_is_the_deadline() {
    let s = server();
    s.knobs(|k| k.garbage = true);
    let run = run(&s, &[]);
    assert_eq!(
        (run.code, run.text()),
        (3, "SEND_RECEIVE_TIME UNKNOWN - invalid reply from the Zulip server to POST /api/v1/register (200 OK): not Zulip's JSON")
    );

    let silent = FaultServer::start(Fault::Silent);
    let site = format!("http://127.0.0.1:{}", silent.port);
    let run = run_plugin_with(cmd(&site).args(["-t", "2"]));
    assert!(
        run.elapsed < Duration::from_millis(2500),
        "{:?}",
        run.elapsed
    );
    assert_eq!(
        (run.code, run.text()),
        (3, &*format!("SEND_RECEIVE_TIME UNKNOWN - timed out after 2 seconds while registering an event queue for {RECEIVER}: waiting for the response from 127.0.0.1:{}", silent.port))
    );
    assert!(silent.all_closed(Duration::from_secs(1)));
    let port = custos_harness::util::free_port().unwrap();
    let run = run_plugin_with(&mut cmd(&format!("http://127.0.0.1:{port}")));
    assert_eq!(
        run.text(),
        format!("SEND_RECEIVE_TIME CRITICAL - connection refused by 127.0.0.1:{port}")
    );
}

/// A message that never comes, no heartbeat: at the deadline's reserve the wait stops; later
/// than critical is CRITICAL, else the timeout state. The queue is deleted either way.
#[test]
fn a_lost_message_at_the_deadline() {
    let s = server();
    s.knobs(|k| k.lose_messages = true);
    let run = run(&s, &["-t", "3", "-w", "500ms", "-c", "1"]);
    assert!(
        run.elapsed < Duration::from_millis(3500),
        "{:?}",
        run.elapsed
    );
    assert_eq!(run.code, 2, "{}", run.stdout);
    assert!(
        run.text()
            .starts_with("SEND_RECEIVE_TIME CRITICAL - the message did not arrive within 2."),
        "{}",
        run.stdout
    );
    assert!(run.text().ends_with("s (critical > 1s)"), "{}", run.stdout);
    cleaned_up(&s, &[1]);

    let s = server();
    s.knobs(|k| k.lose_messages = true);
    let run = self::run(&s, &["-t", "2"]);
    assert!(
        run.elapsed < Duration::from_millis(2500),
        "{:?}",
        run.elapsed
    );
    assert_eq!(
        (run.code, run.text()),
        (3, "SEND_RECEIVE_TIME UNKNOWN - timed out after 2 seconds while waiting for the probe message in queue 1732280000:1")
    );
    cleaned_up(&s, &[1]);
}

fn zuliprc(dir: &Path, name: &str, email: &str, key: &str, site: &str) -> String {
    let p = dir.join(name);
    std::fs::write(
        &p,
        format!("[api]\nemail={email}\nkey={key}\nsite={site}\n"),
    )
    .unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
    p.display().to_string()
}

#[test]
fn credentials_from_zuliprc_and_key_files() {
    let s = server();
    let d = tempfile::tempdir().unwrap();
    let send = zuliprc(d.path(), "send.zuliprc", SENDER, SENDER_KEY, &s.url);
    let recv = zuliprc(
        d.path(),
        "recv.zuliprc",
        RECEIVER,
        RECEIVER_KEY,
        "ignored.example.com",
    );
    // No --site: the sender's zuliprc names it.
    let run = run_plugin_with(Command::new(BIN).env_remove("ZULIP_SITE").args([
        "--sender-config",
        &send,
        "--receiver-config",
        &recv,
    ]));
    assert_eq!(run.code, 0, "{}", run.stdout);
    let key = d.path().join("receive.key");
    std::fs::write(&key, format!("{RECEIVER_KEY}\n")).unwrap();
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let run = run_plugin_with(
        Command::new(BIN)
            .args([
                "--site",
                &s.url,
                "--sender-config",
                &send,
                "--receiver-email",
                RECEIVER,
            ])
            .arg("--receiver-key-file")
            .arg(&key),
    );
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert!(
        run.stdout
            .contains("holds a secret and is readable by others (mode 0644)"),
        "{}",
        run.stdout
    );
    let run = run_plugin_with(
        Command::new(BIN)
            .env_remove("ZULIP_RECEIVER_EMAIL")
            .env_remove("ZULIP_RECEIVER_API_KEY")
            .args(["--site", &s.url, "--sender-config", &send]),
    );
    assert_eq!(
        (run.code, run.text()),
        (3, "SEND_RECEIVE_TIME UNKNOWN - no credentials for the receiver: give --receiver-config, or --receiver-email with --receiver-key-file, or ZULIP_RECEIVER_EMAIL and ZULIP_RECEIVER_API_KEY (on a Zulip server they come from Zulip; /etc/zulip/zulip.conf is not there)")
    );
    std::fs::write(d.path().join("broken"), "email = x\n").unwrap();
    let run = run_plugin_with(
        Command::new(BIN)
            .args(["--sender-config"])
            .arg(d.path().join("broken"))
            .args(["--receiver-config", &recv]),
    );
    assert_eq!(run.code, 3);
    assert!(
        run.text().contains("a value before any [section]"),
        "{}",
        run.stdout
    );
}

/// Cron mode: the file Zulip's Nagios reads with check_cron_file.
#[test]
fn cron_mode_writes_zulips_state_file() {
    let s = server();
    let d = tempfile::tempdir().unwrap();
    let state = d.path().join("check_send_receive_state");
    let run = run(&s, &["--state-file", state.to_str().unwrap()]);
    assert_eq!(run.code, 0);
    let line = std::fs::read_to_string(&state).unwrap();
    let fields: Vec<&str> = line.trim_end().split('|').collect();
    assert_eq!(fields.len(), 4, "{line}");
    assert_eq!((fields[1], fields[2]), ("0", "OK"));
    assert!(fields[3].starts_with("send time was 0.0"), "{line}");
}
