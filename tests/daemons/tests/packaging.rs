//! Packaging: `make install-files` (what `make install` runs after the build) installs the
//! multi-call binary with a link per name, every man page and configuration, the same tree when
//! run twice, and `make uninstall` removes it; `pkg/deb.sh` (`make deb`) builds a package that
//! dpkg installs into an empty root, whose checks run from the installed links, and that dpkg
//! removes again. The binary is the workspace's debug build of custos, stripped (`make test`
//! builds it first).

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

use custos_daemons::{checks, repo};
use std::collections::BTreeMap;
use std::io::Read as _;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A stripped copy of the debug build of custos (it is 150 MiB with its debug info).
fn stripped_binaries(dir: &Path) -> PathBuf {
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let exe = repo().join("target/debug/custos");
    assert!(
        exe.exists(),
        "{} is not built: run `cargo build --workspace` (make test does)",
        exe.display()
    );
    let st = Command::new("strip")
        .arg("-o")
        .arg(bin.join("custos"))
        .arg(&exe)
        .status()
        .unwrap();
    assert!(st.success(), "strip custos");
    bin
}

/// The names custos answers to (`custos --names`): a link each.
fn names(bin: &Path) -> Vec<String> {
    let out = Command::new(bin.join("custos"))
        .arg("--names")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(String::from)
        .collect()
}

fn make(args: &[&str]) -> String {
    let out = Command::new("make")
        .arg("-s")
        .arg("-C")
        .arg(repo())
        .args(args)
        .output()
        .expect("running make");
    assert!(
        out.status.success(),
        "make {args:?} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Every file and link under `root`: relative path → (mode, content hash or link target).
fn manifest(root: &Path) -> BTreeMap<String, (u32, String)> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, (u32, String)>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            let meta = std::fs::symlink_metadata(&p).unwrap();
            let rel = p.strip_prefix(root).unwrap().to_string_lossy().into_owned();
            if meta.is_dir() {
                walk(root, &p, out);
            } else if meta.file_type().is_symlink() {
                let target = std::fs::read_link(&p).unwrap();
                out.insert(rel, (0o777, format!("-> {}", target.display())));
            } else {
                let bytes = std::fs::read(&p).unwrap();
                let hash = bytes.iter().fold(0xcbf29ce484222325u64, |h, b| {
                    (h ^ u64::from(*b)).wrapping_mul(0x100000001b3)
                });
                out.insert(
                    rel,
                    (
                        meta.permissions().mode() & 0o7777,
                        format!("{hash:016x} {}", bytes.len()),
                    ),
                );
            }
        }
    }
    let mut out = BTreeMap::new();
    if root.exists() {
        walk(root, root, &mut out);
    }
    out
}

fn gunzip(path: &Path) -> String {
    let out = Command::new("gzip").arg("-dc").arg(path).output().unwrap();
    assert!(out.status.success(), "gzip -dc {}", path.display());
    String::from_utf8(out.stdout).unwrap()
}

/// What must be installed under a prefix of /usr, with the files' modes.
fn expected_files() -> Vec<(String, u32)> {
    let mut v = vec![("usr/lib/nagios/plugins/custos".to_string(), 0o755)];
    for c in checks() {
        v.push((format!("usr/share/man/man1/{c}.1.gz"), 0o644));
    }
    for d in ["nagios4", "icinga2", "nrpe", "cron", "prometheus"] {
        for e in std::fs::read_dir(repo().join("nagios").join(d)).unwrap() {
            let name = e.unwrap().file_name().into_string().unwrap();
            v.push((format!("usr/share/custos/{d}/{name}"), 0o644));
        }
    }
    v.push(("usr/share/doc/custos/README.md".into(), 0o644));
    v.push(("usr/share/doc/custos/ZULIP.md".into(), 0o644));
    for c in checks() {
        v.push((format!("usr/share/doc/custos/{c}.md"), 0o644));
    }
    for page in ["custos-pg", "custos-rabbitmq"] {
        v.push((format!("usr/share/doc/custos/{page}.md"), 0o644));
    }
    v
}

#[test]
fn make_install_is_complete_idempotent_and_reversible() {
    let tmp = tempfile::tempdir().unwrap();
    let bin = stripped_binaries(tmp.path());
    let root = tmp.path().join("root");
    let destdir = format!("DESTDIR={}", root.display());
    let binaries = format!("BINARIES={}", bin.display());
    make(&["install-files", &destdir, &binaries]);
    let first = manifest(&root);
    for (path, mode) in expected_files() {
        let got = first
            .get(&path)
            .unwrap_or_else(|| panic!("make install did not install {path}"));
        assert_eq!(got.0, mode, "mode of {path}");
    }
    // A link to custos per name: every check, the compatibility names, check_postgres_<action>.
    let names = names(&bin);
    for c in checks() {
        assert!(names.contains(&c), "{c} is not installed");
    }
    for n in [
        "check_website_response.sh",
        "check_postgresql_replication_lag",
        "check_postgresql_backup",
        "check_postgres_locks",
        "check_postgres_bloat",
    ] {
        assert!(names.iter().any(|x| x == n), "{n} is not installed");
    }
    for n in &names {
        assert_eq!(
            first
                .get(&format!("usr/lib/nagios/plugins/{n}"))
                .map(|e| e.1.as_str()),
            Some("-> custos"),
            "{n} links to custos"
        );
    }
    let files = first
        .keys()
        .filter(|k| k.starts_with("usr/lib/nagios/plugins/"))
        .count();
    assert_eq!(files, names.len() + 1, "custos and its links, nothing else");
    // Man pages are the shipped ones, compressed.
    for c in checks() {
        let page = gunzip(&root.join(format!("usr/share/man/man1/{c}.1.gz")));
        assert_eq!(
            page,
            std::fs::read_to_string(repo().join(format!("man/{c}.1"))).unwrap()
        );
    }
    // Again: the same tree (nothing added, nothing changed, the link not nested).
    make(&["install-files", &destdir, &binaries]);
    assert_eq!(
        manifest(&root),
        first,
        "a second make install changed the tree"
    );
    // A check runs from the installed path.
    let out = Command::new(root.join("usr/lib/nagios/plugins/check_cron_file"))
        .arg("--version")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("check_cron_file "));
    // uninstall leaves no file behind.
    make(&["uninstall", &destdir]);
    assert_eq!(
        manifest(&root),
        BTreeMap::new(),
        "make uninstall left files"
    );
    // PREFIX moves everything but PLUGINDIR's Nagios location with it.
    let local = tmp.path().join("local");
    make(&[
        "install-files",
        &format!("DESTDIR={}", local.display()),
        "PREFIX=/usr/local",
        &binaries,
    ]);
    let m = manifest(&local);
    assert!(m.contains_key("usr/local/lib/nagios/plugins/check_postgres"));
    assert!(m.contains_key("usr/local/lib/nagios/plugins/custos"));
    assert!(m.contains_key("usr/local/share/man/man1/check_postgres.1.gz"));
    assert!(m.contains_key("usr/local/share/custos/nrpe/custos.cfg"));
}

fn dpkg(root: &Path, args: &[&str]) -> String {
    let out = Command::new("dpkg")
        .arg(format!("--root={}", root.display()))
        .args(["--force-not-root", "--force-depends", "--log=/dev/null"])
        .args(args)
        .output()
        .expect("running dpkg");
    assert!(
        out.status.success(),
        "dpkg {args:?} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn the_debian_package_installs_runs_and_removes() {
    let tmp = tempfile::tempdir().unwrap();
    let bin = stripped_binaries(tmp.path());
    let out = Command::new("sh")
        .arg("pkg/deb.sh")
        .arg(&bin)
        .arg(tmp.path().join("out"))
        .env("DEB_COMPRESS", "gzip")
        .current_dir(repo())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "pkg/deb.sh: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let deb = PathBuf::from(String::from_utf8(out.stdout).unwrap().trim());
    assert!(
        deb.file_name()
            .unwrap()
            .to_str()
            .unwrap()
            .starts_with("custos_0."),
        "{}",
        deb.display()
    );
    assert_eq!(
        std::fs::read_dir(tmp.path().join("out")).unwrap().count(),
        1,
        "the staging tree is removed"
    );

    // The control fields.
    let field = |name: &str| {
        let o = Command::new("dpkg-deb")
            .arg("-f")
            .arg(&deb)
            .arg(name)
            .output()
            .unwrap();
        String::from_utf8(o.stdout).unwrap().trim().to_string()
    };
    assert_eq!(field("Package"), "custos");
    assert!(
        field("Depends").starts_with("libc6 (>= 2."),
        "Depends: {}",
        field("Depends")
    );
    let installed_kib: u64 = field("Installed-Size").parse().unwrap();
    assert!(installed_kib > 1000, "Installed-Size {installed_kib}");

    // dpkg installs it into an empty root.
    let root = tmp.path().join("dpkg-root");
    for d in [
        "var/lib/dpkg/info",
        "var/lib/dpkg/updates",
        "var/lib/dpkg/triggers",
    ] {
        std::fs::create_dir_all(root.join(d)).unwrap();
    }
    std::fs::write(root.join("var/lib/dpkg/status"), "").unwrap();
    std::fs::write(root.join("var/lib/dpkg/available"), "").unwrap();
    dpkg(&root, &["--install", deb.to_str().unwrap()]);
    let listed = dpkg(&root, &["--listfiles", "custos"]);
    for (path, mode) in expected_files() {
        assert!(
            listed.lines().any(|l| l == format!("/{path}")),
            "the package lacks /{path}"
        );
        let meta = std::fs::metadata(root.join(&path)).unwrap();
        assert_eq!(meta.permissions().mode() & 0o7777, mode, "mode of {path}");
    }
    // The shipped md5sums match what dpkg unpacked.
    let sums = std::fs::read_to_string(root.join("var/lib/dpkg/info/custos.md5sums")).unwrap();
    let check = Command::new("md5sum")
        .arg("--check")
        .arg("--quiet")
        .current_dir(&root)
        .stdin(std::process::Stdio::piped())
        .spawn();
    let mut child = check.unwrap();
    std::io::Write::write_all(child.stdin.as_mut().unwrap(), sums.as_bytes()).unwrap();
    drop(child.stdin.take());
    assert!(
        child.wait().unwrap().success(),
        "md5sums do not match the unpacked files"
    );

    // Two installed checks work together: one writes a cron result, the reader reports it.
    let plugins = root.join("usr/lib/nagios/plugins");
    let errors = tmp.path().join("queue_error");
    std::fs::create_dir(&errors).unwrap();
    let state = tmp.path().join("state");
    let writer = Command::new(plugins.join("check_queue_worker_errors"))
        .arg("--dir")
        .arg(&errors)
        .arg("--state-file")
        .arg(&state)
        .output()
        .unwrap();
    assert_eq!(
        writer.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&writer.stdout)
    );
    let reader = Command::new(plugins.join("check_cron_file"))
        .arg(&state)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&reader.stdout);
    assert_eq!(reader.status.code(), Some(0), "{text}");
    assert!(text.starts_with("OK: no failed events in "), "{text}");
    // The compatibility names through the installed links.
    let mut sh = std::fs::File::open(plugins.join("check_website_response.sh")).unwrap();
    let mut magic = [0u8; 4];
    sh.read_exact(&mut magic).unwrap();
    assert_eq!(&magic, b"\x7fELF");
    let out = Command::new(plugins.join("check_postgresql_backup"))
        .arg("--version")
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&out.stdout).starts_with("check_postgres_backup "),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );

    // Removal leaves none of the package's files.
    dpkg(&root, &["--purge", "custos"]);
    for (path, _) in expected_files() {
        assert!(
            !root.join(&path).exists(),
            "/{path} is left after dpkg --purge"
        );
    }
    assert!(!plugins.join("check_website_response.sh").exists());
}
