//! Every check that runs a helper program, killed from outside while the helper hangs: SIGTERM,
//! SIGINT and SIGHUP to the check (NRPE, a terminal, a service manager), SIGKILL to the check,
//! and SIGKILL to the check's process group (Nagios 4 at `service_check_timeout`). The helper
//! is a program that hangs with a child of its own; after each kill, nothing of it may be left
//! after one second, and a catchable signal gives one UNKNOWN line naming the signal and what
//! the check was doing.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

use custos_fuzz::exec::binary;
use custos_harness::kill::{ended, spawn_plugin, Kill, StuckHelper};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

/// A helper-running check: how to point it at the stuck helper, and the stage it is in.
struct Case {
    check: &'static str,
    label: &'static str,
    /// The helper's name (as the check runs it).
    helper: &'static str,
    /// Other names for a pass-through to the real program (in the same directory).
    passthrough: &'static [&'static str],
    /// The check's arguments; `{helper}` is the helper's path.
    args: &'static [&'static str],
    /// Put the helper's directory first in PATH (for helpers found by name).
    shadow_path: bool,
    stage: &'static str,
}

const CASES: &[Case] = &[
    Case {
        check: "check_email_deliverer_process",
        label: "EMAIL_DELIVERER_PROCESS",
        helper: "supervisorctl",
        passthrough: &[],
        args: &[
            "--supervisor",
            "zulip-workers:zulip_deliver_scheduled_emails",
            "--supervisorctl",
            "{helper}",
        ],
        shadow_path: false,
        stage: "running supervisorctl status",
    },
    Case {
        check: "check_email_deliverer_process",
        label: "EMAIL_DELIVERER_PROCESS",
        helper: "systemctl",
        passthrough: &[],
        args: &["--systemd", "zulip-deliver.service"],
        shadow_path: true,
        stage: "running systemctl show",
    },
    Case {
        check: "check_debian_packages",
        label: "DEBIAN_PACKAGES",
        helper: "apt-config",
        passthrough: &[],
        args: &[],
        shadow_path: true,
        stage: "running apt-config dump",
    },
    Case {
        check: "check_debian_packages",
        label: "DEBIAN_PACKAGES",
        helper: "apt-get",
        passthrough: &["apt-config"],
        args: &["--engine", "apt"],
        shadow_path: true,
        stage: "running apt-get -s upgrade",
    },
    Case {
        check: "check_postgres_backup",
        label: "POSTGRES_BACKUP",
        helper: "wal-g",
        passthrough: &[],
        args: &[
            "--source",
            "wal-g",
            "--command",
            "{helper}",
            "--backups-on",
            "every-server",
        ],
        shadow_path: false,
        stage: "running wal-g backup-list",
    },
    Case {
        check: "check_postgres_backup",
        label: "POSTGRES_BACKUP",
        helper: "pgbackrest",
        passthrough: &[],
        args: &[
            "--source",
            "pgbackrest",
            "--command",
            "{helper}",
            "--backups-on",
            "every-server",
        ],
        shadow_path: false,
        stage: "running pgbackrest info",
    },
];

fn command(case: &Case, helper: &StuckHelper) -> Command {
    let mut cmd = Command::new(binary(case.check));
    cmd.env_clear().env("LC_ALL", "C").args(["-t", "120"]).args(
        case.args
            .iter()
            .map(|a| a.replace("{helper}", &helper.path(case.helper).display().to_string())),
    );
    let path = if case.shadow_path {
        format!("{}:/usr/sbin:/usr/bin:/sbin:/bin", helper.dir.display())
    } else {
        "/usr/sbin:/usr/bin:/sbin:/bin".to_string()
    };
    cmd.env("PATH", path);
    if case.check == "check_postgres_backup" {
        // The backup check asks the server first (primary or replica) before its helper.
        let pg = custos_harness::postgres();
        cmd.arg("--dsn").arg(pg.conn_str(false));
    }
    cmd
}

fn passthrough(dir: &Path, name: &str) {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join(name);
    std::fs::write(&path, format!("#!/bin/sh\nexec /usr/bin/{name} \"$@\"\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

#[test]
fn helpers_die_with_the_check_however_it_is_killed() {
    let dir = tempfile::tempdir().unwrap();
    let mut slowest = Duration::ZERO;
    for case in CASES {
        for kill in Kill::ALL {
            let what = format!("{} ({}) {kill:?}", case.check, case.helper);
            let helper = StuckHelper::new(dir.path(), case.helper);
            for p in case.passthrough {
                passthrough(&helper.dir, p);
            }
            let mut plugin = spawn_plugin(&mut command(case, &helper));
            helper.wait_running(&what, &mut plugin, Duration::from_secs(60));
            kill.send(&plugin);
            let e = ended(plugin);
            assert_eq!(e.stderr, "", "{what}");
            match kill.signal_name() {
                Some(name) => assert_eq!(
                    (e.code, e.stdout.as_str()),
                    (
                        Some(3),
                        format!(
                            "{} UNKNOWN - stopped by {name} while {}\n",
                            case.label, case.stage
                        )
                        .as_str()
                    ),
                    "{what}"
                ),
                None => assert_eq!(e.code, None, "{what}: {e:?}"),
            }
            let took = helper
                .wait_gone(Duration::from_secs(1))
                .unwrap_or_else(|left| panic!("{what}: left running after 1 s: {left:?}"));
            slowest = slowest.max(took);
        }
    }
    eprintln!(
        "{} kills: every helper gone at most {slowest:?} after its check ended",
        CASES.len() * Kill::ALL.len()
    );
}
