//! Every file custos reads, fed what a careless or hostile neighbour could put there: a 300 MB
//! file of lines, one line of 100 MB, `/dev/zero`, and a FIFO whose writer never stops. Each
//! check must end in its documented state, naming the problem, with its peak RSS flat in the
//! input's size (measured with wait4; the figures go to the test's output for the README).

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

use custos_fuzz::exec::{binary, run};
use std::ffi::OsString;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// Peak RSS allowed for any case, KiB: a debug build's own footprint plus room, far below the
/// inputs (the largest is 300 MB).
const MAX_RSS_KIB: i64 = 32 * 1024;

/// The inputs, made once.
struct Inputs {
    dir: tempfile::TempDir,
    /// 300 MB of Zulip-style error lines (3,000,000 of them).
    lines_300mb: PathBuf,
    /// One line of 100 MB, no newline.
    line_100mb: PathBuf,
}

const LINE: &[u8] = b"Sun Nov 22 13:14:15 2026\t[{\"type\": \"test\", \"id\": 1234567, \"data\": \"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"}]\n";

fn inputs() -> Inputs {
    let dir = tempfile::tempdir().unwrap();
    let lines_300mb = dir.path().join("lines-300mb");
    let mut chunk = Vec::with_capacity(1 << 20);
    while chunk.len() + LINE.len() <= 1 << 20 {
        chunk.extend_from_slice(LINE);
    }
    let mut f = std::io::BufWriter::new(std::fs::File::create(&lines_300mb).unwrap());
    let mut written = 0;
    while written < 300_000_000 {
        f.write_all(&chunk).unwrap();
        written += chunk.len();
    }
    f.flush().unwrap();
    let line_100mb = dir.path().join("line-100mb");
    let f = std::fs::File::create(&line_100mb).unwrap();
    let mut w = std::io::BufWriter::new(f);
    for _ in 0..100 {
        w.write_all(&[b'x'; 1 << 20]).unwrap();
    }
    w.flush().unwrap();
    Inputs {
        dir,
        lines_300mb,
        line_100mb,
    }
}

/// A FIFO with a writer that never stops (`yes`), killed when dropped.
struct EndlessFifo {
    path: PathBuf,
    writer: Child,
}

impl EndlessFifo {
    fn new(path: PathBuf) -> EndlessFifo {
        custos_harness::util::mkfifo(&path);
        let writer = Command::new("sh")
            .arg("-c")
            .arg("exec yes custos > \"$0\"")
            .arg(&path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        EndlessFifo { path, writer }
    }
}

impl Drop for EndlessFifo {
    fn drop(&mut self) {
        let _ = self.writer.kill();
        let _ = self.writer.wait();
    }
}

fn link(dir: &Path, name: &str, to: &Path) -> PathBuf {
    let p = dir.join(name);
    let _ = std::fs::remove_file(&p);
    std::os::unix::fs::symlink(to, &p).unwrap();
    p
}

struct Case {
    what: String,
    check: &'static str,
    args: Vec<OsString>,
    code: i32,
    /// Line 1 contains this.
    says: String,
}

fn case(what: &str, check: &'static str, args: &[&dyn AsRef<std::ffi::OsStr>]) -> Case {
    Case {
        what: what.to_string(),
        check,
        args: args.iter().map(|a| a.as_ref().to_owned()).collect(),
        code: 3,
        says: String::new(),
    }
}

impl Case {
    fn expect(mut self, code: i32, says: &str) -> Case {
        self.code = code;
        self.says = says.to_string();
        self
    }
}

#[test]
fn every_file_reader_is_bounded() {
    let inp = inputs();
    let d = inp.dir.path();
    let zero = Path::new("/dev/zero");
    let big = &inp.lines_300mb;
    let long = &inp.line_100mb;
    let fifo_dir = d.join("fifos");
    std::fs::create_dir(&fifo_dir).unwrap();
    // One FIFO per case that reads one (a writer is used up by one reader).
    let fifo = |n: &str| EndlessFifo::new(fifo_dir.join(n));

    // Queue error directories: one file each.
    let qe = |name: &str, content: &Path| -> PathBuf {
        let dir = d.join(format!("qe-{name}"));
        std::fs::create_dir(&dir).unwrap();
        link(&dir, "deferred_work.errors", content);
        dir
    };
    let qe_big = qe("big", big);
    let qe_long = qe("long", long);
    let qe_zero = qe("zero", zero);
    let f_qe = fifo("qe");
    let qe_fifo = qe("fifo", &f_qe.path);

    // A valid apt output for the checks whose other inputs are tested.
    let apt_out = d.join("apt-output");
    std::fs::write(&apt_out, "Reading package lists...\n").unwrap();
    let reboot = d.join("reboot-required");
    std::fs::write(&reboot, "*** System restart required ***\n").unwrap();
    link(d, "reboot-required.pkgs", big);

    // A check_worker_memory state directory whose state file is 300 MB (a worker to sample:
    // a sleep with a number of its own).
    let mut worker = Command::new("sleep").arg("4321.5678").spawn().unwrap();
    custos_harness::util::wait_exec(worker.id());
    let wm = d.join("worker-memory");
    std::fs::create_dir(&wm).unwrap();
    let wm_args = [
        OsString::from("--cmdline"),
        "^sleep 4321\\.5678$".into(),
        "--state-dir".into(),
        wm.clone().into(),
    ];
    let first = run(
        &binary("check_worker_memory"),
        &wm_args,
        &[],
        d,
        Duration::from_secs(30),
    );
    assert!(first.code.is_some(), "{}", first.stdout);
    let state = std::fs::read_dir(&wm)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "json"))
        .expect("check_worker_memory wrote its state file");
    std::fs::copy(big, &state).unwrap();

    let f_cron = fifo("cron");
    let f_secret = fifo("secret");
    let f_zuliprc = fifo("zuliprc");
    let cases = vec![
        case("300 MB of lines", "check_cron_file", &[big]).expect(3, "longer than 64KiB"),
        case("a 100 MB line", "check_cron_file", &[long]).expect(3, "longer than 64KiB"),
        case("/dev/zero", "check_cron_file", &[&zero]).expect(3, "not a regular file"),
        case("an endless FIFO", "check_cron_file", &[&f_cron.path])
            .expect(3, "not a regular file (a FIFO)"),
        case(
            "300 MB of lines",
            "check_queue_worker_errors",
            &[&"--dir", &qe_big, &"-t", &"120"],
        )
        .expect(1, "failed events"),
        case(
            "a 100 MB line",
            "check_queue_worker_errors",
            &[&"--dir", &qe_long],
        )
        .expect(1, "1 failed event"),
        case(
            "/dev/zero",
            "check_queue_worker_errors",
            &[&"--dir", &qe_zero],
        )
        .expect(3, "not a regular file (a character device)"),
        case(
            "an endless FIFO",
            "check_queue_worker_errors",
            &[&"--dir", &qe_fifo],
        )
        .expect(3, "not a regular file (a FIFO)"),
        case(
            "300 MB state file",
            "check_worker_memory",
            &[&wm_args[0], &wm_args[1], &wm_args[2], &wm_args[3]],
        )
        .expect(0, "WORKER_MEMORY OK"),
        case(
            "300 MB --input-file",
            "check_debian_packages",
            &[&"--input-file", big],
        )
        .expect(3, "longer than 16MiB"),
        case(
            "300 MB unattended-upgrades log",
            "check_debian_packages",
            &[
                &"--input-file",
                &apt_out,
                &"--unattended-log",
                big,
                &"--reboot-file",
                &"/nonexistent",
            ],
        )
        .expect(0, "DEBIAN_PACKAGES OK"),
        case(
            "300 MB reboot-required.pkgs",
            "check_debian_packages",
            &[&"--input-file", &apt_out, &"--reboot-file", &reboot],
        )
        .expect(1, "a reboot is required"),
        case(
            "/dev/zero as --password-file",
            "check_rabbitmq_queues",
            &[&"--password-file", &zero],
        )
        .expect(3, "longer than 1MiB"),
        case(
            "an endless FIFO as --password-file",
            "check_rabbitmq_queues",
            &[&"--password-file", &f_secret.path],
        )
        .expect(3, "longer than 1MiB"),
        case(
            "/dev/zero as zuliprc",
            "check_send_receive_time",
            &[
                &"--site",
                &"http://127.0.0.1:9",
                &"--sender-config",
                &zero,
                &"--receiver-config",
                &zero,
            ],
        )
        .expect(3, "longer than 1MiB"),
        case(
            "an endless FIFO as zuliprc",
            "check_send_receive_time",
            &[
                &"--site",
                &"http://127.0.0.1:9",
                &"--sender-config",
                &f_zuliprc.path,
                &"--receiver-config",
                &f_zuliprc.path,
            ],
        )
        .expect(3, "longer than 1MiB"),
    ];

    let mut table = Vec::new();
    let mut failures = Vec::new();
    for c in &cases {
        let env = vec![("PATH".to_string(), OsString::from("/usr/bin:/bin"))];
        let r = run(&binary(c.check), &c.args, &env, d, Duration::from_secs(150));
        let line = r.first_line().to_string();
        table.push(format!(
            "{:<26} {:<32} {:>6.1} MiB  {:.2} s  {}",
            c.check,
            c.what,
            r.max_rss_kib as f64 / 1024.0,
            r.secs,
            line
        ));
        if r.code != Some(c.code) || !line.contains(&c.says) {
            failures.push(format!(
                "{} / {}: exit {:?}, wanted {} with {:?}: {line}",
                c.check, c.what, r.code, c.code, c.says
            ));
        }
        if r.max_rss_kib > MAX_RSS_KIB {
            failures.push(format!(
                "{} / {}: peak RSS {} KiB over {MAX_RSS_KIB} KiB",
                c.check, c.what, r.max_rss_kib
            ));
        }
        if !r.stderr.is_empty() {
            failures.push(format!("{} / {}: stderr {:?}", c.check, c.what, r.stderr));
        }
    }
    let _ = worker.kill();
    let _ = worker.wait();
    eprintln!("{}", table.join("\n"));
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Cron mode into a directory other users can write: symlinks planted at the state file and at
/// every temporary name the old scheme used (`.NAME.<pid>.tmp`) are never written through; a
/// directory every user may write without the sticky bit is refused unless allowed.
#[test]
fn state_files_never_follow_planted_symlinks() {
    use std::os::unix::fs::PermissionsExt;
    let d = tempfile::tempdir().unwrap();
    let dir = d.path().join("nagios_state");
    std::fs::create_dir(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o774)).unwrap();
    let victim = d.path().join("victim");
    std::fs::write(&victim, "precious\n").unwrap();
    let state = dir.join("check-result");
    link(&dir, "check-result", &victim);
    // The next pids' predictable names, as an attacker would plant them.
    let next = std::fs::read_to_string("/proc/sys/kernel/ns_last_pid")
        .ok()
        .and_then(|s| s.trim().parse::<u32>().ok())
        .unwrap_or(1000);
    for pid in next..next + 200 {
        link(&dir, &format!(".check-result.{pid}.tmp"), &victim);
    }
    let args = |extra: &[&str]| -> Vec<OsString> {
        let mut v: Vec<OsString> = ["--dir", "/nonexistent", "--ignore-missing", "--state-file"]
            .iter()
            .map(OsString::from)
            .collect();
        v.push(state.clone().into());
        v.extend(extra.iter().map(OsString::from));
        v
    };
    for _ in 0..5 {
        let r = run(
            &binary("check_queue_worker_errors"),
            &args(&[]),
            &[],
            d.path(),
            Duration::from_secs(30),
        );
        assert_eq!(r.code, Some(0), "{}", r.stdout);
    }
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious\n");
    let meta = std::fs::symlink_metadata(&state).unwrap();
    assert!(meta.file_type().is_file(), "the planted link was replaced");
    assert!(std::fs::read_to_string(&state).unwrap().contains("|0|OK|"));

    // check_worker_memory's JSON state: its file name planted as a link too.
    let wm = d.path().join("wm");
    std::fs::create_dir(&wm).unwrap();
    let mut worker = Command::new("sleep").arg("4321.8765").spawn().unwrap();
    custos_harness::util::wait_exec(worker.id());
    let wm_args: Vec<OsString> = vec![
        "--cmdline".into(),
        "^sleep 4321\\.8765$".into(),
        "--state-dir".into(),
        wm.clone().into(),
    ];
    let r = run(
        &binary("check_worker_memory"),
        &wm_args,
        &[],
        d.path(),
        Duration::from_secs(30),
    );
    assert_eq!(r.code, Some(0), "{}", r.stdout);
    let json = std::fs::read_dir(&wm)
        .unwrap()
        .flatten()
        .next()
        .unwrap()
        .path();
    std::fs::remove_file(&json).unwrap();
    std::os::unix::fs::symlink(&victim, &json).unwrap();
    let r = run(
        &binary("check_worker_memory"),
        &wm_args,
        &[],
        d.path(),
        Duration::from_secs(30),
    );
    let _ = worker.kill();
    let _ = worker.wait();
    assert_eq!(r.code, Some(0), "{}", r.stdout);
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious\n");
    assert!(std::fs::symlink_metadata(&json)
        .unwrap()
        .file_type()
        .is_file());

    // Every user may write: refused, with the reason and the option; allowed with it.
    let open = d.path().join("open");
    std::fs::create_dir(&open).unwrap();
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).unwrap();
    let mut a: Vec<OsString> = ["--dir", "/nonexistent", "--ignore-missing", "--state-file"]
        .iter()
        .map(OsString::from)
        .collect();
    a.push(open.join("s").into());
    let r = run(
        &binary("check_queue_worker_errors"),
        &a,
        &[],
        d.path(),
        Duration::from_secs(30),
    );
    assert_eq!(r.code, Some(3), "{}", r.stdout);
    assert!(
        r.first_line()
            .contains("is writable by every user and has no sticky bit")
            && r.first_line().contains("--allow-world-writable-dir"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("(the result was OK: "), "{}", r.stdout);
    assert_eq!(std::fs::read_dir(&open).unwrap().count(), 0);
    a.push("--allow-world-writable-dir".into());
    let r = run(
        &binary("check_queue_worker_errors"),
        &a,
        &[],
        d.path(),
        Duration::from_secs(30),
    );
    assert_eq!(r.code, Some(0), "{}", r.stdout);
    assert!(open.join("s").is_file());
}
