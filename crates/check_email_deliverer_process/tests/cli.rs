//! check_email_deliverer_process against real processes, a real supervisord (Debian's) running
//! programs that are RUNNING, STOPPED, crash-looping (BACKOFF) and given up (FATAL), and the
//! real systemctl of a machine without systemd.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

use custos_harness::plugin::{run_plugin, PluginRun};
use custos_harness::supervisor::{Program, Supervisor};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command};

const BIN: &str = env!("CARGO_BIN_EXE_check_email_deliverer_process");
const MANAGE: &str = "/home/zulip/deployments/current/manage.py";

/// A process with the deliverer's command line (argv[0] `python3`, as its shebang makes it).
struct Deliverer(Child);

impl Deliverer {
    /// Zulip's deliverer with no `extra`; otherwise a look-alike Zulip's pattern does not
    /// match (so that tests running side by side do not see each other's processes).
    fn start(extra: &str) -> Deliverer {
        let mut cmd = Command::new("/usr/bin/python3");
        let command = if extra.is_empty() {
            "deliver_scheduled_emails"
        } else {
            "deliver_scheduled_emails_test"
        };
        cmd.arg0("python3")
            .args(["-c", "import time; time.sleep(600)", MANAGE, command]);
        if !extra.is_empty() {
            cmd.arg(extra);
        }
        let child = cmd.spawn().unwrap();
        custos_harness::util::wait_exec(child.id());
        Deliverer(child)
    }
}

impl Drop for Deliverer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn run(args: &[&str]) -> PluginRun {
    run_plugin(BIN, args)
}

#[test]
fn zulip_deliverer_by_process_no_privileges_needed() {
    let d = Deliverer::start("");
    std::thread::sleep(std::time::Duration::from_millis(300));
    let run = run(&[]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert!(
        run.text().starts_with(&format!(
            "EMAIL_DELIVERER_PROCESS OK - 1 process running (pid {}, up ",
            d.0.id()
        )),
        "{}",
        run.stdout
    );
    assert_eq!(run.perf("procs").value, Some(1.0));
    // The nagios user sees it too: the process table needs no privileges.
    let out = Command::new(BIN).uid(65534).gid(65534).output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn none_two_and_a_young_one() {
    let tagged =
        |tag: &str| format!(r"python.* {MANAGE} deliver_scheduled_emails_test --tag={tag}");
    let run = run(&["--cmdline", &tagged("none")]);
    assert_eq!(run.code, 2, "{}", run.stdout);
    assert_eq!(
        run.text(),
        format!(
            "EMAIL_DELIVERER_PROCESS CRITICAL - no process matches '{}' (critical < 1)",
            tagged("none")
        )
    );
    let _a = Deliverer::start("--tag=two");
    let _b = Deliverer::start("--tag=two");
    let run = self::run(&["--cmdline", &tagged("two"), "-w", "1:1"]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert!(run.text().ends_with("(warning > 1)"), "{}", run.stdout);
    // Started a moment ago: with --min-uptime, a restart (a crash loop) is a WARNING.
    let run = self::run(&[
        "--cmdline",
        &tagged("two"),
        "--min-uptime",
        "1h",
        "-c",
        "1:",
    ]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert!(
        run.text()
            .starts_with("EMAIL_DELIVERER_PROCESS WARNING - started "),
        "{}",
        run.stdout
    );
    assert!(run
        .text()
        .contains(" ago (min uptime 1h 0min): restarting?; 2 processes running"));
}

#[test]
fn supervisord_states_as_zulip_maps_them() {
    let sup = Supervisor::start(&[
        Program {
            name: "zulip_deliver_scheduled_emails",
            command: "sleep 600",
            extra: &["startsecs=0"],
        },
        Program {
            name: "stopped",
            command: "sleep 600",
            extra: &["autostart=false"],
        },
        Program {
            name: "gave_up",
            command: "false",
            extra: &["startsecs=1", "startretries=1"],
        },
        Program {
            name: "looping",
            command: "sh -c 'sleep 0.3; exit 1'",
            extra: &["startsecs=2", "startretries=100000"],
        },
    ])
    .unwrap();
    sup.wait_state("zulip_deliver_scheduled_emails", "RUNNING")
        .unwrap();
    sup.wait_state("gave_up", "FATAL").unwrap();
    let ask = |program: &str, extra: &[&str]| {
        let mut args = vec!["--supervisor", program, "--supervisorctl", &sup.ctl];
        args.extend_from_slice(extra);
        run_plugin(BIN, &args)
    };
    let run = ask("zulip_deliver_scheduled_emails", &[]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert!(
        run.text().starts_with(
            "EMAIL_DELIVERER_PROCESS OK - zulip_deliver_scheduled_emails is RUNNING (pid "
        ),
        "{}",
        run.stdout
    );
    assert!(run.perf("uptime").value.unwrap() < 60.0);
    let run = ask("zulip_deliver_scheduled_emails", &["--min-uptime", "10min"]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert_eq!(
        ask("stopped", &[]).text(),
        "EMAIL_DELIVERER_PROCESS WARNING - stopped is STOPPED (Not started)"
    );
    let run = ask("gave_up", &[]);
    assert_eq!(
        (run.code, run.text()),
        (1, "EMAIL_DELIVERER_PROCESS WARNING - gave_up is FATAL (Exited too quickly (process log may have details))")
    );
    // A crash loop is BACKOFF or STARTING, never RUNNING: WARNING either way.
    let run = ask("looping", &[]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert!(
        run.text()
            .starts_with("EMAIL_DELIVERER_PROCESS WARNING - looping is BACKOFF")
            || run
                .text()
                .starts_with("EMAIL_DELIVERER_PROCESS WARNING - looping is STARTING"),
        "{}",
        run.stdout
    );
    let run = ask("no_such_program", &[]);
    assert_eq!(
        (run.code, run.text()),
        (3, "EMAIL_DELIVERER_PROCESS UNKNOWN - supervisorctl status no_such_program: no_such_program: ERROR (no such process)")
    );
    // Why Zulip's check always failed: the nagios user may not use supervisord's socket.
    let out = Command::new(BIN)
        .args([
            "--supervisor",
            "zulip_deliver_scheduled_emails",
            "--supervisorctl",
            &sup.ctl,
        ])
        .uid(65534)
        .gid(65534)
        .output()
        .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(3), "{stdout}");
    assert!(stdout.contains("Permission denied"), "{stdout}");
    let run = run_plugin(
        BIN,
        [
            "--supervisor",
            "x",
            "--supervisorctl",
            "/nonexistent/supervisorctl",
        ],
    );
    assert_eq!(run.code, 3);
    assert!(run
        .text()
        .contains("cannot run supervisorctl status (/nonexistent/supervisorctl)"));
}

#[test]
fn systemctl_without_systemd_is_unknown_in_its_words() {
    let run = run(&["--systemd", "zulip-deliver.service"]);
    assert_eq!(run.code, 3, "{}", run.stdout);
    assert!(
        run.text().starts_with(
            "EMAIL_DELIVERER_PROCESS UNKNOWN - systemctl show zulip-deliver.service failed: "
        ),
        "{}",
        run.stdout
    );
    let run = self::run(&["--systemd", "a", "--supervisor", "b"]);
    assert_eq!(run.code, 3);
}
