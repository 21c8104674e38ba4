//! check_debian_packages over saved apt outputs (Debian 12, Ubuntu with ESM and phasing,
//! backports, a held lock), the host files it reads, and the real apt of this machine: its
//! answer against `apt list --upgradable`, and apt killed at the deadline.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

use custos_harness::plugin::{run_plugin_with, PluginRun};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_check_debian_packages");

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

/// A host with fresh lists and no reboot or unattended-upgrades log, so that only apt speaks.
struct Host {
    dir: tempfile::TempDir,
}

impl Host {
    fn new() -> Host {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("lists")).unwrap();
        std::fs::write(
            dir.path()
                .join("lists/deb.debian.org_debian_dists_bookworm_InRelease"),
            "",
        )
        .unwrap();
        Host { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn run(&self, input: Option<&str>, args: &[&str]) -> PluginRun {
        let mut cmd = Command::new(BIN);
        cmd.arg("--lists-dir")
            .arg(self.path("lists"))
            .arg("--reboot-file")
            .arg(self.path("reboot-required"))
            .arg("--unattended-log")
            .arg(self.path("unattended-upgrades.log"));
        if let Some(f) = input {
            cmd.arg("--input-file").arg(data(f));
        }
        run_plugin_with(cmd.args(args))
    }
}

#[test]
fn debian_12_security_and_other_upgrades() {
    let h = Host::new();
    let run = h.run(Some("debian12-real.txt"), &[]);
    assert_eq!(run.code, 2, "{}", run.stdout);
    assert!(
        run.text().starts_with(
            "DEBIAN_PACKAGES CRITICAL - 69 new pkgs in security: apt apt-transport-https ca-certificates jq krb5-locales libaom3 libapt-pkg6.0 libbrotli-dev and 61 more; 51 new pkgs in other: appstream base-files bash "
        ),
        "{}",
        run.stdout
    );
    assert!(
        run.text()
            .contains("; 120 upgrades pending (lists updated "),
        "{}",
        run.stdout
    );
    assert_eq!(run.perf("upgrades").value, Some(120.0));
    assert_eq!(run.perf("security_upgrades").value, Some(69.0));
    assert_eq!(
        run.perf("security_upgrades").critical.unwrap().to_string(),
        "0"
    );
    // Zulip's --debug: apt's lines in the long output, as its Perl plugin echoed them.
    let run = h.run(
        Some("debian12-real.txt"),
        &["--debug", "--timeout=60", "--output-limit", "0"],
    );
    assert_eq!(run.code, 2, "{}", run.stdout);
    let apt: Vec<&str> = run
        .stdout
        .lines()
        .filter(|l| l.starts_with("APT:"))
        .collect();
    let input = std::fs::read_to_string(data("debian12-real.txt")).unwrap();
    assert_eq!(apt.len(), input.lines().count(), "{}", run.stdout);
    assert!(
        apt.iter().any(|l| l.starts_with("APT: Inst apt ")),
        "{}",
        run.stdout
    );
    // --only-security: the others no longer warn; --list shows every package, security first.
    let run = h.run(
        Some("debian12-real.txt"),
        &["--only-security", "--list", "--output-limit", "0"],
    );
    assert_eq!(run.code, 2);
    assert!(!run.text().contains("new pkgs in other"), "{}", run.stdout);
    let listed: Vec<&str> = run.stdout.lines().skip(1).collect();
    assert_eq!(listed.len(), 120, "{}", run.stdout);
    assert_eq!(
        listed[0],
        "security: apt 2.6.1 -> 2.6.2 (Debian-Security:12/oldstable-security)"
    );
    assert!(listed[69].starts_with("appstream "), "{}", listed[69]);
    // Thresholds: security upgrades must exceed 100 to be critical; any upgrade warns.
    assert_eq!(h.run(Some("debian12-real.txt"), &["-c", "100"]).code, 1);
    assert_eq!(
        h.run(Some("debian12-real.txt"), &["-c", "100", "-w", "200"])
            .code,
        0
    );
    // Include / exclude by package name.
    let run = h.run(
        Some("debian12-real.txt"),
        &["--include", "^lib(gcrypt|lzma)"],
    );
    assert!(
        run.text().starts_with(
            "DEBIAN_PACKAGES CRITICAL - 4 new pkgs in security: libgcrypt20 libgcrypt20-dev liblzma-dev liblzma5; 4 upgrades pending"
        ),
        "{}",
        run.stdout
    );
    let run = h.run(Some("debian12-real.txt"), &["--exclude", "."]);
    assert_eq!(run.code, 0, "{}", run.stdout);
}

/// Ubuntu Pro's ESM releases are security releases (check_apt's regex misses them); kept-back
/// and phased packages are reported, not counted as pending.
#[test]
fn ubuntu_esm_phasing_and_kept_back() {
    let h = Host::new();
    let run = h.run(Some("ubuntu2204-esm-phased-kept-back.txt"), &["-v"]);
    assert_eq!(run.code, 2, "{}", run.stdout);
    assert!(
        run.text().starts_with(
            "DEBIAN_PACKAGES CRITICAL - 6 new pkgs in security: libssl3 openssl python3-urllib3 vim vim-common vim-runtime; 2 new pkgs in other: snapd tzdata; 8 upgrades pending"
        ),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains(
        "kept back or deferred (not upgraded by apt-get upgrade): linux-generic, linux-headers-generic, linux-image-generic, python3-software-properties, software-properties-common"
    ));
    assert_eq!(run.perf("kept_back").value, Some(5.0));
    // Counting only Ubuntu's own -security archive, as an operator without Pro might want.
    let run = h.run(
        Some("ubuntu2204-esm-phased-kept-back.txt"),
        &["--security-regex", "^Ubuntu:[^/]*/[^-]*-security$"],
    );
    assert_eq!(run.perf("security_upgrades").value, Some(2.0));
}

#[test]
fn backports_and_new_packages_are_not_security() {
    let h = Host::new();
    let run = h.run(Some("debian12-updates-backports.txt"), &["--list"]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert!(run.text().starts_with(
        "DEBIAN_PACKAGES WARNING - 3 new pkgs in other: linux-image-6.12.9+bpo-amd64 linux-image-amd64 tzdata; 3 upgrades pending"
    ), "{}", run.stdout);
    assert!(run.stdout.contains(
        "linux-image-6.12.9+bpo-amd64 new -> 6.12.9-1~bpo12+1 (Debian Backports:bookworm-backports)"
    ));
    let run = h.run(Some("debian12-updates-backports.txt"), &["--only-security"]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert!(run.text().contains("3 upgrades pending"), "{}", run.stdout);
    let run = h.run(Some("nothing.txt"), &[]);
    assert_eq!(run.code, 0);
    assert!(run
        .text()
        .starts_with("DEBIAN_PACKAGES OK - no upgrades pending (lists updated "));
}

#[test]
fn a_held_lock_is_unknown_in_apts_words() {
    let h = Host::new();
    let run = h.run(Some("lock-error.txt"), &[]);
    assert_eq!(
        (run.code, run.text()),
        (3, "DEBIAN_PACKAGES UNKNOWN - apt: Could not get lock /var/lib/dpkg/lock-frontend. It is held by process 2419 (apt-get); Unable to acquire the dpkg frontend lock (/var/lib/dpkg/lock-frontend), is another process using it?")
    );
    let run = h.run(None, &["--input-file", "/nonexistent/apt.txt"]);
    assert_eq!(run.code, 3);
    assert!(run
        .text()
        .contains("cannot read --input-file /nonexistent/apt.txt"));
}

#[test]
fn reboot_old_lists_and_unattended_upgrades() {
    let h = Host::new();
    std::fs::write(
        h.path("reboot-required"),
        "*** System restart required ***\n",
    )
    .unwrap();
    std::fs::write(
        h.path("reboot-required.pkgs"),
        "linux-image-6.1.0-27-amd64\nlibc6\n",
    )
    .unwrap();
    let run = h.run(Some("nothing.txt"), &[]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert!(run.text().starts_with(
        "DEBIAN_PACKAGES WARNING - a reboot is required by libc6, linux-image-6.1.0-27-amd64; no upgrades pending"
    ), "{}", run.stdout);
    std::fs::remove_file(h.path("reboot-required")).unwrap();

    let old = h.path("lists/deb.debian.org_debian_dists_bookworm_InRelease");
    assert!(Command::new("touch")
        .args(["-d", "3 days ago"])
        .arg(&old)
        .status()
        .unwrap()
        .success());
    let run = h.run(Some("nothing.txt"), &[]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert!(run.text().starts_with(
        "DEBIAN_PACKAGES WARNING - the package lists are 3d 0h old (max 2d 0h): is apt update running?"
    ), "{}", run.stdout);
    assert!(run.perf("list_age").value.unwrap() > 3.0 * 86400.0 - 10.0);
    assert_eq!(
        h.run(Some("nothing.txt"), &["--max-list-age", "4d"]).code,
        0
    );
    assert_eq!(h.run(Some("nothing.txt"), &["--max-list-age", "0"]).code, 0);

    std::fs::write(
        h.path("unattended-upgrades.log"),
        "2026-11-21 06:25:03,123 INFO Starting unattended upgrades script\n\
         2026-11-21 06:25:09,001 ERROR Installing the upgrades failed!\n\
         2026-11-21 06:25:09,002 ERROR error message: installArchives() failed\n",
    )
    .unwrap();
    let run = h.run(Some("nothing.txt"), &["--max-list-age", "0"]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert!(run.text().starts_with(
        "DEBIAN_PACKAGES WARNING - unattended-upgrades failed on its last run (2026-11-21 06:25:03): Installing the upgrades failed!"
    ), "{}", run.stdout);
}

/// The real apt of this machine: the same packages as `apt list --upgradable` (plus anything
/// it keeps back).
#[test]
fn the_real_apt_agrees_with_apt_list() {
    let h = Host::new();
    let run = h.run(
        None,
        &[
            "--list",
            "--output-limit",
            "0",
            "--max-list-age",
            "0",
            "-t",
            "60",
        ],
    );
    assert!(
        run.code == 0 || run.code == 1 || run.code == 2,
        "{}",
        run.stdout
    );
    let mut ours: Vec<String> = run
        .stdout
        .lines()
        .skip(1)
        .filter(|l| l.contains(" -> "))
        .map(|l| {
            l.trim_start_matches("security: ")
                .split(' ')
                .next()
                .unwrap()
                .to_string()
        })
        .collect();
    if let Some(held) = run
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("kept back or deferred (not upgraded by apt-get upgrade): "))
    {
        ours.extend(held.split(", ").map(str::to_string));
    }
    ours.sort();
    let out = Command::new("apt")
        .args(["list", "--upgradable"])
        .env("LC_ALL", "C")
        .output()
        .unwrap();
    let mut theirs: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.contains("[upgradable from:"))
        .map(|l| l.split('/').next().unwrap().to_string())
        .collect();
    theirs.sort();
    assert_eq!(ours, theirs);
    assert_eq!(
        run.perf("upgrades").value,
        Some((ours.len() - run.perf("kept_back").value.unwrap() as usize) as f64)
    );
}

/// dpkg's status file a FIFO nobody writes: apt-get stuck (killed with its process group at
/// the deadline, nothing left behind), or the native engine stuck reading it; both end at the
/// deadline saying where.
#[test]
fn a_stuck_apt_is_killed_at_the_deadline() {
    for (engine, stage) in [
        ("apt", "running apt-get -s upgrade"),
        ("native", "reading dpkg's status and apt's lists"),
    ] {
        let h = Host::new();
        let fifo = h.path("status");
        custos_harness::util::mkfifo(&fifo);
        let opt = format!("Dir::State::status={}", fifo.display());
        let run = h.run(
            None,
            &[
                "--engine",
                engine,
                "--apt-option",
                &opt,
                "-t",
                "2",
                "--timeout-result",
                "critical",
            ],
        );
        assert!(
            run.elapsed < Duration::from_millis(2500),
            "{engine}: {:?}",
            run.elapsed
        );
        assert_eq!(
            (run.code, run.text()),
            (
                2,
                format!("DEBIAN_PACKAGES CRITICAL - timed out after 2 seconds while {stage}")
                    .as_str()
            )
        );
        std::thread::sleep(Duration::from_millis(200));
        let left: Vec<String> = std::fs::read_dir("/proc")
            .unwrap()
            .flatten()
            .filter_map(|e| std::fs::read(e.path().join("cmdline")).ok())
            .map(|c| String::from_utf8_lossy(&c).replace('\0', " "))
            .filter(|c| c.contains(&opt))
            .collect();
        assert!(left.is_empty(), "{engine}: left behind: {left:?}");
    }
}
