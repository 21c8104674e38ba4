//! The multi-call binary as installed: a link per name runs that check, `custos CHECK` too,
//! an unknown name is one UNKNOWN line with exit 3. (This test also makes `cargo test` build
//! target/debug/custos, which the packaging and daemon tests install and run.)

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_custos");

fn run(cmd: &mut Command) -> (i32, String) {
    let out = cmd.output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[test]
fn links_and_first_arguments_choose_the_check() {
    let (code, names) = run(Command::new(BIN).arg("--names"));
    assert_eq!(code, 0);
    let names: Vec<&str> = names.lines().collect();
    for n in [
        "check_cron_file",
        "check_postgresql_backup",
        "check_postgresql_replication_lag",
        "check_website_response.sh",
        "check_postgres_locks",
    ] {
        assert!(names.contains(&n), "{n} in {names:?}");
    }
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("none");
    for name in names {
        let link = dir.path().join(name);
        std::os::unix::fs::symlink(BIN, &link).unwrap();
        // Every check reads its options first: --version names the check and exits 3.
        let (code, out) = run(Command::new(&link).arg("--version"));
        assert_eq!(code, 3, "{name}: {out}");
        assert!(!out.contains("CUSTOS UNKNOWN"), "{name}: {out}");
    }
    let (code, out) = run(Command::new(dir.path().join("check_cron_file")).arg(&missing));
    assert_eq!(
        (code, out.lines().next()),
        (3, Some("UNKNOWN: Results file is missing"))
    );
    let (code, out) = run(Command::new(BIN).arg("check_cron_file").arg(&missing));
    assert_eq!(
        (code, out.lines().next()),
        (3, Some("UNKNOWN: Results file is missing"))
    );
    let (code, out) = run(Command::new(BIN).arg("check_nothing"));
    assert_eq!(code, 3);
    assert!(
        out.starts_with("CUSTOS UNKNOWN - no check named 'check_nothing'"),
        "{out}"
    );
    assert_eq!(out.lines().count(), 1, "{out}");
}
