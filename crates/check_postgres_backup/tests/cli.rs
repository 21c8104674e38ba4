//! check_postgres_backup against the test PostgreSQL: marker files in Zulip's format, wal-g's
//! JSON (saved outputs, wal-g is not packaged), a real pgBackRest stanza and backup, a real
//! pg_basebackup directory, failing archiving and gaps in a real WAL archive.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

use custos_harness::pgcheck::{assert_silent_peer_times_out, run_pg};
use custos_harness::util::{command_as, run_ok, wait_until};
use custos_harness::Postgres;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const BIN: &str = env!("CARGO_BIN_EXE_check_postgres_backup");

fn iso_ago(secs: i64) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let out = std::process::Command::new("date")
        .args([
            "-u",
            "-d",
            &format!("@{}", now - secs),
            "+%Y-%m-%dT%H:%M:%S.123456+00:00",
        ])
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

fn marker(dir: &Path, content: &str) -> PathBuf {
    let p = dir.join("last_postgresql_backup");
    std::fs::write(&p, content).unwrap();
    p
}

#[test]
fn zulip_marker_file() {
    let pg = custos_harness::postgres();
    let dir = tempfile::tempdir().unwrap();
    // What Zulip's pg_backup_and_purge writes: isoformat() with an offset, and a newline.
    let fresh = marker(dir.path(), &format!("{}\n", iso_ago(3 * 3600)));
    let m = fresh.to_str().unwrap();
    let run = run_pg(
        BIN,
        pg,
        false,
        &["--backups-on", "primary", "--marker-file", m],
    );
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert!(
        run.text()
            .starts_with("POSTGRES_BACKUP OK - last PostgreSQL backup completed 3h 0min ago: "),
        "{}",
        run.stdout
    );
    let age = run.perf("backup_age");
    assert!(
        (10799.0..10805.0).contains(&age.value.unwrap()),
        "{:?}",
        age
    );
    assert_eq!(age.critical.unwrap().to_string(), "90000");
    let run = run_pg(
        BIN,
        pg,
        false,
        &["--backups-on", "primary", "--marker-file", m, "-w", "2h"],
    );
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert!(
        run.text().contains("3h 0min ago (warning > 2h 0min)"),
        "{}",
        run.stdout
    );

    marker(dir.path(), &iso_ago(26 * 3600));
    let run = run_pg(
        BIN,
        pg,
        false,
        &["--backups-on", "primary", "--marker-file", m],
    );
    assert_eq!(run.code, 2, "{}", run.stdout);
    assert!(
        run.text().starts_with("POSTGRES_BACKUP CRITICAL - last PostgreSQL backup completed 1d 2h ago (critical > 1d 1h): "),
        "{}",
        run.stdout
    );

    // Zulip's Python crashed on a naive time; here it is UNKNOWN with the reason.
    marker(dir.path(), "2022-10-13T02:00:07\n");
    let run = run_pg(
        BIN,
        pg,
        false,
        &["--backups-on", "primary", "--marker-file", m],
    );
    assert_eq!(run.code, 3, "{}", run.stdout);
    assert!(
        run.text()
            .contains("could not determine completion time of last PostgreSQL backup")
            && run.text().contains("has no UTC offset"),
        "{}",
        run.stdout
    );
    let run = run_pg(
        BIN,
        pg,
        false,
        &[
            "--backups-on",
            "primary",
            "--marker-file",
            "/nonexistent/last_postgresql_backup",
        ],
    );
    assert_eq!(
        (run.code, run.text()),
        (3, "POSTGRES_BACKUP UNKNOWN - could not determine completion time of last PostgreSQL backup: /nonexistent/last_postgresql_backup: No such file or directory (os error 2)")
    );
}

/// Zulip's rules before the marker, its last version first: a primary with replicas is OK
/// (backups run on the replicas), a replica is judged, skip_backups is OK; and its 2022 rule.
#[test]
fn which_server_is_judged() {
    let pg = custos_harness::postgres();
    let d = tempfile::tempdir().unwrap();
    let conf = d.path().join("zulip.conf");
    std::fs::write(&conf, "[postgresql]\nversion = 15\n").unwrap();
    let c = conf.to_str().unwrap();
    let gone = "/nonexistent/marker";
    let run = run_pg(BIN, pg, false, &["--marker-file", gone, "--zulip-conf", c]);
    assert_eq!(
        (run.code, run.text()),
        (
            0,
            "POSTGRES_BACKUP OK - this is the primary, with backups taken on the replicas"
        )
    );
    let run = run_pg(BIN, pg, true, &["--marker-file", gone, "--zulip-conf", c]);
    assert_eq!(run.code, 3, "{}", run.stdout);
    assert!(
        run.text().starts_with("POSTGRES_BACKUP UNKNOWN - could not determine completion time of last PostgreSQL backup"),
        "{}",
        run.stdout
    );
    std::fs::write(&conf, "[postgresql]\nskip_backups = True\n").unwrap();
    let run = run_pg(BIN, pg, true, &["--marker-file", gone, "--zulip-conf", c]);
    assert_eq!(
        (run.code, run.text()),
        (0, "POSTGRES_BACKUP OK - backups are disabled on this host")
    );
    // Until 2022: a replica is OK, the primary is judged.
    let run = run_pg(
        BIN,
        pg,
        true,
        &["--marker-file", gone, "--backups-on", "primary"],
    );
    assert_eq!(
        (run.code, run.text()),
        (0, "POSTGRES_BACKUP OK - this is not the primary")
    );
    let run = run_pg(
        BIN,
        pg,
        false,
        &["--marker-file", gone, "--backups-on", "primary"],
    );
    assert_eq!(run.code, 3, "{}", run.stdout);
    let run = run_pg(BIN, pg, false, &["--marker-file", gone, "--on-replica"]);
    assert_eq!(run.code, 3, "{}", run.stdout);
}

/// A stand-in for wal-g that prints `output` (and exits with `code`).
fn fake_tool(dir: &Path, name: &str, output: &str, code: i32) -> String {
    let data = dir.join(format!("{name}.out"));
    std::fs::write(&data, output).unwrap();
    let script = dir.join(name);
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\n# args: $*\ncat '{}'\nexit {code}\n",
            data.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    script.display().to_string()
}

fn walg_json(file: &str, new_age: i64) -> String {
    std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/data")
            .join(file),
    )
    .unwrap()
    .replace("@OLD_TIME@", &iso_ago(8 * 86400 - 60))
    .replace("@OLD_START@", &iso_ago(8 * 86400))
    .replace("@OLD_FINISH@", &iso_ago(8 * 86400 - 50))
    .replace("@NEW_TIME@", &iso_ago(new_age - 10))
    .replace("@NEW_START@", &iso_ago(new_age + 120))
    .replace("@NEW_FINISH@", &iso_ago(new_age))
}

#[test]
fn walg_json_from_saved_outputs() {
    let pg = custos_harness::postgres();
    let dir = tempfile::tempdir().unwrap();
    let tool = fake_tool(
        dir.path(),
        "wal-g",
        &walg_json("walg-backup-list-detail.json", 7200),
        0,
    );
    let run = run_pg(
        BIN,
        pg,
        false,
        &[
            "--backups-on",
            "primary",
            "--source",
            "wal-g",
            "--command",
            &tool,
            "-v",
        ],
    );
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert!(
        run.text().contains("completed 2h 0min ago"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("newest backup: base_000000010000000000000007"),
        "{}",
        run.stdout
    );

    // Without --detail fields: the sentinel time.
    let tool = fake_tool(
        dir.path(),
        "wal-g",
        &walg_json("walg-backup-list.json", 30 * 3600),
        0,
    );
    let run = run_pg(
        BIN,
        pg,
        false,
        &[
            "--backups-on",
            "primary",
            "--source",
            "wal-g",
            "--command",
            &tool,
        ],
    );
    assert_eq!(run.code, 2, "{}", run.stdout);

    // No backups: wal-g says so on stderr and fails.
    let none = dir.path().join("wal-g-none");
    std::fs::write(
        &none,
        "#!/bin/sh\necho 'ERROR: 2024/01/01 02:00:00.000000 No backups found' >&2\nexit 1\n",
    )
    .unwrap();
    std::fs::set_permissions(&none, std::fs::Permissions::from_mode(0o755)).unwrap();
    let run = run_pg(
        BIN,
        pg,
        false,
        &[
            "--backups-on",
            "primary",
            "--source",
            "wal-g",
            "--command",
            none.to_str().unwrap(),
        ],
    );
    assert_eq!(
        (run.code, run.text()),
        (
            2,
            "POSTGRES_BACKUP CRITICAL - no backup found: wal-g lists no backups"
        )
    );

    // Garbage and failures are UNKNOWN with what went wrong.
    let tool = fake_tool(dir.path(), "wal-g", "<html>502</html>", 0);
    let run = run_pg(
        BIN,
        pg,
        false,
        &[
            "--backups-on",
            "primary",
            "--source",
            "wal-g",
            "--command",
            &tool,
        ],
    );
    assert_eq!(run.code, 3, "{}", run.stdout);
    assert!(
        run.text().contains("unexpected JSON from wal-g"),
        "{}",
        run.stdout
    );
    let tool = fake_tool(dir.path(), "wal-g", "", 1);
    let run = run_pg(
        BIN,
        pg,
        false,
        &[
            "--backups-on",
            "primary",
            "--source",
            "wal-g",
            "--command",
            &format!("{tool} --config /x"),
        ],
    );
    assert_eq!(run.code, 3, "{}", run.stdout);
    assert!(
        run.text().contains("wal-g backup-list failed (exit 1)"),
        "{}",
        run.stdout
    );
    let run = run_pg(
        BIN,
        pg,
        false,
        &[
            "--backups-on",
            "primary",
            "--source",
            "wal-g",
            "--command",
            "/nonexistent/wal-g",
        ],
    );
    assert!(
        run.text()
            .contains("cannot run wal-g backup-list (/nonexistent/wal-g)"),
        "{}",
        run.stdout
    );
}

/// A wal-g that never finishes (and starts a child of its own): the check ends at its deadline
/// and neither process is left.
#[test]
fn stuck_tool_is_killed_with_its_children() {
    let pg = custos_harness::postgres();
    let dir = tempfile::tempdir().unwrap();
    let pidfile = dir.path().join("child.pid");
    let script = dir.path().join("wal-g");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\nsleep 60 &\necho $! > {}\nwait\n",
            pidfile.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let run = run_pg(
        BIN,
        pg,
        false,
        &[
            "--backups-on",
            "primary",
            "--source",
            "wal-g",
            "--command",
            script.to_str().unwrap(),
            "-t",
            "2",
        ],
    );
    assert!(
        run.elapsed < Duration::from_millis(2500),
        "{:?}",
        run.elapsed
    );
    assert_eq!(run.code, 3, "{}", run.stdout);
    assert!(
        run.text()
            .contains("timed out after 2 seconds while running wal-g backup-list"),
        "{}",
        run.stdout
    );
    let child = std::fs::read_to_string(&pidfile).unwrap();
    std::thread::sleep(Duration::from_millis(200));
    let stat = std::fs::read_to_string(format!("/proc/{}/stat", child.trim())).unwrap_or_default();
    assert!(
        stat.is_empty() || stat.contains(") Z "),
        "the tool's child survived: {stat}"
    );
}

/// pgBackRest from Debian: a real stanza and full backup of the shared primary, read through
/// `pgbackrest info --output=json`; a second stanza without backups.
#[test]
fn pgbackrest_real_stanza() {
    let pg = custos_harness::postgres();
    let dir = tempfile::Builder::new()
        .prefix("custos-pgbr")
        .tempdir()
        .unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let root = dir.path();
    for d in ["repo", "log", "lock"] {
        std::fs::create_dir(root.join(d)).unwrap();
        if let Some(u) = &pg.os_user {
            u.chown(&root.join(d)).unwrap();
        }
    }
    let conf = root.join("pgbackrest.conf");
    let stanza = |name: &str| {
        format!(
            "[{name}]\npg1-path={}\npg1-port={}\npg1-socket-path={}\npg1-user={}\n",
            pg.primary_data.display(),
            pg.primary_port,
            pg.socket_dir.display(),
            pg.user
        )
    };
    std::fs::write(
        &conf,
        format!(
            "[global]\nrepo1-path={r}/repo\nlog-path={r}/log\nlock-path={r}/lock\nlog-level-console=warn\n\
             log-level-file=off\nstart-fast=y\narchive-check=n\ncompress-type=none\n\n{}\n{}",
            stanza("custos"),
            stanza("empty"),
            r = root.display()
        ),
    )
    .unwrap();
    let pgbr = |args: &[&str]| {
        run_ok(
            command_as("pgbackrest", pg.os_user.as_ref())
                .arg(format!("--config={}", conf.display()))
                .args(args)
                .current_dir(root),
            &format!("pgbackrest {args:?}"),
        )
        .unwrap();
    };
    pgbr(&["--stanza=custos", "stanza-create"]);
    pgbr(&["--stanza=empty", "stanza-create"]);
    pgbr(&["--stanza=custos", "--type=full", "backup"]);
    let command = format!("pgbackrest --config={}", conf.display());

    let run = run_pg(
        BIN,
        pg,
        false,
        &[
            "--backups-on",
            "primary",
            "--source",
            "pgbackrest",
            "--command",
            &command,
            "--stanza",
            "custos",
            "-v",
        ],
    );
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert!(
        run.text().contains("last PostgreSQL backup completed"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("F (full, stanza custos)"),
        "{}",
        run.stdout
    );
    assert!(
        run.perf("backup_age").value.unwrap() < 120.0,
        "{}",
        run.stdout
    );

    let run = run_pg(
        BIN,
        pg,
        false,
        &[
            "--backups-on",
            "primary",
            "--source",
            "pgbackrest",
            "--command",
            &command,
            "--stanza",
            "empty",
        ],
    );
    assert_eq!(run.code, 2, "{}", run.stdout);
    assert!(
        run.text().starts_with("POSTGRES_BACKUP CRITICAL - no backup found: pgBackRest stanza empty: no valid backups (status 2)"),
        "{}",
        run.stdout
    );
    // Two stanzas and none chosen: the check cannot guess.
    let run = run_pg(
        BIN,
        pg,
        false,
        &[
            "--backups-on",
            "primary",
            "--source",
            "pgbackrest",
            "--command",
            &command,
        ],
    );
    assert_eq!(run.code, 3, "{}", run.stdout);
    assert!(
        run.text().contains("choose one with --stanza"),
        "{}",
        run.stdout
    );
}

/// pg_basebackup into a directory (plain format, with backup_manifest and backup_label).
#[test]
fn basebackup_directory() {
    let pg = custos_harness::postgres();
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("2026-11-22");
    pg.basebackup(&target, &["-X", "none"], None).unwrap();
    let d = dir.path().to_str().unwrap();
    let run = run_pg(
        BIN,
        pg,
        false,
        &[
            "--backups-on",
            "primary",
            "--source",
            "dir",
            "--backup-dir",
            d,
            "-v",
        ],
    );
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert!(
        run.stdout.contains("2026-11-22 (backup_manifest)"),
        "{}",
        run.stdout
    );

    // Two days old: CRITICAL.
    run_ok(
        std::process::Command::new("touch")
            .args(["-d", "2 days ago"])
            .arg(target.join("backup_manifest")),
        "touch",
    )
    .unwrap();
    let run = run_pg(
        BIN,
        pg,
        false,
        &[
            "--backups-on",
            "primary",
            "--source",
            "dir",
            "--backup-dir",
            d,
        ],
    );
    assert_eq!(run.code, 2, "{}", run.stdout);
    assert!(run.text().contains("completed 2d 0h ago"), "{}", run.stdout);

    let empty = tempfile::tempdir().unwrap();
    let run = run_pg(
        BIN,
        pg,
        false,
        &[
            "--backups-on",
            "primary",
            "--source",
            "dir",
            "--backup-dir",
            empty.path().to_str().unwrap(),
        ],
    );
    assert_eq!(run.code, 2, "{}", run.stdout);
    assert!(
        run.text()
            .contains("no backup found: no pg_basebackup output in"),
        "{}",
        run.stdout
    );
    let run = run_pg(
        BIN,
        pg,
        false,
        &["--backups-on", "primary", "--source", "dir"],
    );
    assert_eq!(
        (run.code, run.text()),
        (
            3,
            "POSTGRES_BACKUP UNKNOWN - --source dir needs --backup-dir DIR"
        )
    );
}

fn switch_wal(c: &mut postgres::Client, n: usize) {
    for i in 0..n {
        c.batch_execute(&format!(
            "CREATE TABLE IF NOT EXISTS churn (i int); INSERT INTO churn VALUES ({i}); SELECT pg_switch_wal()"
        ))
        .unwrap();
    }
}

fn archived_count(c: &mut postgres::Client) -> i64 {
    c.query_one("SELECT archived_count FROM pg_stat_archiver", &[])
        .unwrap()
        .get(0)
}

/// A private cluster: segments archived, one removed (a gap), then archiving made to fail.
#[test]
fn archive_gaps_and_failing_archiving() {
    let pg: Postgres = custos_harness::private_postgres("pg-archive");
    let mut c = pg.client(false).unwrap();
    let before = archived_count(&mut c);
    switch_wal(&mut c, 4);
    wait_until("four segments archived", Duration::from_secs(30), || {
        (archived_count(&mut c) >= before + 4).then_some(())
    })
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let m = marker(dir.path(), &iso_ago(60));
    let m = m.to_str().unwrap();
    let archive = pg.archive_dir.to_str().unwrap();

    let run = run_pg(
        BIN,
        &pg,
        false,
        &[
            "--backups-on",
            "primary",
            "--marker-file",
            m,
            "--wal-archive-dir",
            archive,
            "-v",
        ],
    );
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert_eq!(run.perf("wal_missing").value, Some(0.0));
    assert_eq!(run.perf("archive_failed").value, Some(0.0));

    // Remove one archived segment in the middle: a gap since the backup's start.
    let mut segments: Vec<String> = std::fs::read_dir(&pg.archive_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.len() == 24)
        .collect();
    segments.sort();
    let victim = segments[segments.len() - 2].clone();
    std::fs::remove_file(pg.archive_dir.join(&victim)).unwrap();
    let run = run_pg(
        BIN,
        &pg,
        false,
        &[
            "--backups-on",
            "primary",
            "--marker-file",
            m,
            "--wal-archive-dir",
            archive,
        ],
    );
    assert_eq!(run.code, 2, "{}", run.stdout);
    assert!(
        run.text().starts_with(&format!(
            "POSTGRES_BACKUP CRITICAL - 1 WAL segment missing from {archive} since the newest backup (first: {victim})"
        )),
        "{}",
        run.stdout
    );
    assert_eq!(run.perf("wal_missing").value, Some(1.0));

    // Archive age thresholds.
    std::thread::sleep(Duration::from_millis(1100));
    let run = run_pg(
        BIN,
        &pg,
        false,
        &[
            "--backups-on",
            "primary",
            "--marker-file",
            m,
            "--archive-critical",
            "1s",
        ],
    );
    assert_eq!(run.code, 2, "{}", run.stdout);
    assert!(
        run.text().contains("last WAL segment archived"),
        "{}",
        run.stdout
    );

    // Archiving that fails: CRITICAL, naming the segment.
    c.batch_execute("ALTER SYSTEM SET archive_command = 'false'")
        .unwrap();
    c.batch_execute("SELECT pg_reload_conf()").unwrap();
    std::thread::sleep(Duration::from_millis(300));
    switch_wal(&mut c, 1);
    let run = wait_until("archiving to fail", Duration::from_secs(30), || {
        let run = run_pg(
            BIN,
            &pg,
            false,
            &["--backups-on", "primary", "--marker-file", m],
        );
        (run.code == 2).then_some(run)
    })
    .unwrap();
    assert!(
        run.text().starts_with(
            "POSTGRES_BACKUP CRITICAL - WAL archiving is failing: 0000000100000000000000"
        ),
        "{}",
        run.stdout
    );
    assert!(run.perf("archive_failed").value.unwrap() >= 1.0);
}

#[test]
fn silent_server_ends_at_the_deadline() {
    assert_silent_peer_times_out(BIN, &[]);
}
