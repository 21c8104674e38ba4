//! The native engine against apt itself: on this machine's own dpkg status and lists, on apt
//! roots built for the purpose (holds, pins, NotAutomatic and ButAutomaticUpgrades, security
//! origins, packages kept back by new dependencies, exact-version pairs, Breaks, Conflicts,
//! Provides, newly unmet Recommends, lz4 and gzip lists), and on hundreds of random ones. Each
//! case runs the check with `--engine native` and `--engine apt` (apt-get -s upgrade over the
//! same root) and requires the same output, word for word, apart from the engine line.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

use custos_harness::plugin::{run_plugin_with, PluginRun};
use std::io::Write as _;
use std::path::Path;
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_check_debian_packages");

fn native_arch() -> String {
    let out = Command::new("dpkg")
        .arg("--print-architecture")
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// One repository: a suite of `http://fixture.invalid/<path>`.
struct Repo {
    path: &'static str,
    suite: String,
    release: String,
    /// Stanzas (Package, Version, ...); Architecture, Filename and Size are added.
    packages: Vec<String>,
    compression: &'static str,
}

impl Repo {
    fn new(path: &'static str, suite: &str, release_fields: &str) -> Repo {
        Repo {
            path,
            suite: suite.into(),
            release: format!("Suite: {suite}\n{release_fields}"),
            packages: Vec::new(),
            compression: "",
        }
    }

    fn pkg(mut self, stanza: &str) -> Repo {
        self.packages.push(stanza.trim().to_string());
        self
    }
}

/// An apt root: sources.list, lists, preferences, dpkg status.
struct Fixture {
    dir: tempfile::TempDir,
}

impl Fixture {
    fn new(status: &[String], repos: &[Repo], preferences: &str) -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        for d in [
            "etc/apt/sources.list.d",
            "etc/apt/preferences.d",
            "lists",
            "dpkg",
        ] {
            std::fs::create_dir_all(root.join(d)).unwrap();
        }
        let arch = native_arch();
        let mut sources = String::new();
        for r in repos {
            sources.push_str(&format!(
                "deb http://fixture.invalid/{} {} main\n",
                r.path, r.suite
            ));
            let base = format!(
                "fixture.invalid_{}_dists_{}",
                r.path.replace('/', "_"),
                r.suite
            );
            std::fs::write(
                root.join(format!("lists/{base}_Release")),
                format!(
                    "{}\nComponents: main\nArchitectures: {arch} all\n",
                    r.release
                ),
            )
            .unwrap();
            let body: String = r
                .packages
                .iter()
                .map(|st| {
                    let name = st.lines().next().unwrap().trim_start_matches("Package: ");
                    let arch_line = if st.contains("\nArchitecture:") {
                        String::new()
                    } else {
                        format!("\nArchitecture: {arch}")
                    };
                    format!("{st}{arch_line}\nFilename: pool/{name}.deb\nSize: 1000\n\n")
                })
                .collect();
            let list = root.join(format!(
                "lists/{base}_main_binary-{arch}_Packages{}",
                r.compression
            ));
            let mut f = std::fs::File::create(list).unwrap();
            match r.compression {
                ".lz4" => {
                    let mut enc = lz4_flex::frame::FrameEncoder::new(f);
                    enc.write_all(body.as_bytes()).unwrap();
                    enc.finish().unwrap();
                }
                ".gz" => {
                    let mut enc = flate2::write::GzEncoder::new(f, flate2::Compression::fast());
                    enc.write_all(body.as_bytes()).unwrap();
                    enc.finish().unwrap();
                }
                _ => f.write_all(body.as_bytes()).unwrap(),
            }
        }
        std::fs::write(root.join("etc/apt/sources.list"), sources).unwrap();
        std::fs::write(root.join("etc/apt/preferences.d/fixture"), preferences).unwrap();
        let status: String = status
            .iter()
            .map(|st| {
                let arch_line = if st.contains("\nArchitecture:") {
                    String::new()
                } else {
                    format!("\nArchitecture: {arch}")
                };
                let status_line = if st.contains("\nStatus:") {
                    String::new()
                } else {
                    "\nStatus: install ok installed".into()
                };
                format!("{}{status_line}{arch_line}\n\n", st.trim())
            })
            .collect();
        std::fs::write(root.join("dpkg/status"), status).unwrap();
        Fixture { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn run(&self, engine: &str, extra: &[&str]) -> PluginRun {
        let r = self.path();
        let mut cmd = Command::new(BIN);
        for o in [
            format!("Dir::Etc={}/etc/apt", r.display()),
            format!("Dir::State::lists={}/lists", r.display()),
            format!("Dir::State::status={}/dpkg/status", r.display()),
            format!(
                "Dir::State::extended_states={}/extended_states",
                r.display()
            ),
            "Dir::Cache::pkgcache=".into(),
            "Dir::Cache::srcpkgcache=".into(),
            format!("APT::Architectures={}", native_arch()),
        ] {
            cmd.arg("--apt-option").arg(o);
        }
        cmd.args([
            "--engine",
            engine,
            "--list",
            "-v",
            "--output-limit",
            "0",
            "--max-list-age",
            "0",
            "-t",
            "30",
        ])
        .arg("--lists-dir")
        .arg(r.join("lists"))
        .arg("--reboot-file")
        .arg(r.join("none"))
        .arg("--unattended-log")
        .arg(r.join("none"))
        .args(extra);
        run_plugin_with(&mut cmd)
    }

    /// Both engines; the native answer, after checking it is apt's.
    fn compare(&self, extra: &[&str]) -> String {
        let native = self.run("native", extra);
        let apt = self.run("apt", extra);
        let strip = normalized;
        assert!(
            native.stdout.contains("engine: native\n") || native.stdout.ends_with("engine: native"),
            "the native engine did not answer:\n{}",
            native.stdout
        );
        if strip(&native.stdout) != strip(&apt.stdout) {
            // Keep the root for replaying: apt-get -s -o Dir::Etc=... upgrade.
            let kept =
                std::env::temp_dir().join(format!("custos-apt-mismatch-{}", std::process::id()));
            let _ = Command::new("cp")
                .arg("-r")
                .arg(self.path())
                .arg(&kept)
                .status();
            panic!(
                "native and apt differ on the root kept in {}:\n--- native\n{}\n--- apt\n{}",
                kept.display(),
                native.stdout,
                apt.stdout
            );
        }
        assert_eq!(native.code, apt.code);
        native.stdout
    }
}

/// The output without what depends on the moment or the engine: the engine line, and the
/// lists' age (the two runs are a second or two apart).
fn normalized(out: &str) -> String {
    out.lines()
        .filter(|l| !l.starts_with("engine: "))
        .map(|l| {
            let l = match (l.find(" (lists updated "), l.find(" ago)")) {
                (Some(a), Some(b)) if b > a => format!("{}{}", &l[..a], &l[b + 5..]),
                _ => l.to_string(),
            };
            match l.find(" list_age=") {
                Some(a) => l[..a].to_string(),
                None => l,
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn installed(name: &str, version: &str, extra: &str) -> String {
    format!("Package: {name}\nVersion: {version}\n{extra}")
}

fn offered(name: &str, version: &str, extra: &str) -> String {
    format!("Package: {name}\nVersion: {version}\n{extra}")
}

#[test]
fn this_machine_native_and_apt_agree() {
    let run = |engine: &str| {
        run_plugin_with(Command::new(BIN).args([
            "--engine",
            engine,
            "--list",
            "-v",
            "--output-limit",
            "0",
            "--max-list-age",
            "0",
            "-t",
            "60",
        ]))
    };
    let native = run("native");
    let apt = run("apt");
    let strip = normalized;
    assert!(
        native.stdout.contains("engine: native"),
        "{}",
        native.stdout
    );
    assert_eq!(strip(&native.stdout), strip(&apt.stdout));
    assert_eq!(native.code, apt.code);
}

#[test]
fn the_cases_apt_upgrade_decides() {
    let debian = Repo::new(
        "debian",
        "stable",
        "Origin: Debian\nLabel: Debian\nVersion: 12.5\nCodename: bookworm",
    )
    .pkg(&offered("alpha", "1.1-1", ""))
    .pkg(&offered("beta", "2.1-1", "Depends: alpha (>= 1.1)"))
    .pkg(&offered("gamma", "1.1", ""))
    .pkg(&offered("delta", "1.1", "Depends: newdep"))
    .pkg(&offered("newdep", "1", ""))
    .pkg(&offered("libfoo1", "1.1-1", ""))
    .pkg(&offered("breaker", "2.0", "Breaks: victim (<< 2)"))
    .pkg(&offered("conflicter", "2.0", "Conflicts: victim2"))
    .pkg(&offered(
        "virt-user",
        "2.0",
        "Depends: mail-transport-agent",
    ))
    .pkg(&offered("recommender", "2.0", "Recommends: notinstalled"))
    .pkg(&offered("anyuser", "2.0", "Depends: interp:any (>= 3)"))
    .pkg(&offered("interp", "3.1", "Multi-Arch: allowed"))
    .pkg(&offered("epoch", "1:0.5", ""))
    .pkg(&offered("tilde", "1.0~rc2", ""))
    .pkg(&offered("nodejs", "20.1", ""))
    .pkg(&offered("pinned", "2.0", ""))
    .pkg(&offered("bp", "0.9", ""));
    let security = Repo::new(
        "security",
        "stable-security",
        "Origin: Debian\nLabel: Debian-Security\nVersion: 12\nCodename: bookworm-security",
    )
    .pkg(&offered("alpha", "1.1-1", ""))
    .pkg(&offered("libfoo1", "1.2-1", ""));
    let mut backports = Repo::new(
        "debian",
        "stable-backports",
        "Origin: Debian Backports\nLabel: Debian Backports\nCodename: bookworm-backports\nNotAutomatic: yes\nButAutomaticUpgrades: yes",
    )
    .pkg(&offered("bp", "1.1~bpo12+1", ""));
    backports.compression = ".lz4";
    let mut experimental = Repo::new(
        "debian",
        "experimental",
        "Origin: Debian\nLabel: Debian\nCodename: rc-buggy\nNotAutomatic: yes",
    )
    .pkg(&offered("alpha", "9.0", ""))
    .pkg(&offered("pinned", "3.0", ""));
    experimental.compression = ".gz";
    let node = Repo::new(
        "node/node_20.x",
        "nodistro",
        "Origin: Node Source\nLabel: Node Source\nCodename: nodistro",
    )
    .pkg(&offered("nodejs", "20.0-1nodesource1", ""));
    let status = vec![
        installed("alpha", "1.0-1", "Priority: important"),
        installed("beta", "2.0-1", "Depends: alpha (>= 1.0)"),
        installed(
            "gamma",
            "1.0",
            "Status: hold ok installed\nArchitecture: all",
        ),
        installed("delta", "1.0", ""),
        installed("libfoo1", "1.0-1", ""),
        installed("libfoo-dev", "1.0-1", "Depends: libfoo1 (= 1.0-1)"),
        installed("breaker", "1.0", ""),
        installed("victim", "1.0", ""),
        installed("conflicter", "1.0", ""),
        installed("victim2", "1.0", ""),
        installed("virt-user", "1.0", ""),
        installed("postfix", "3.7", "Provides: mail-transport-agent"),
        installed("recommender", "1.0", ""),
        installed("anyuser", "1.0", ""),
        installed("interp", "3.0", "Multi-Arch: allowed"),
        installed("epoch", "2.0", ""),
        installed("tilde", "1.0~rc1", ""),
        installed("nodejs", "19.0", ""),
        installed("pinned", "1.0", ""),
        installed("bp", "1.0~bpo12+1", ""),
        installed("local-only", "1.0", ""),
    ];
    let prefs = "Package: nodejs\nPin: origin fixture.invalid\nPin-Priority: 600\n\n\
                 Package: pinned\nPin: release a=experimental\nPin-Priority: 700\n";
    let f = Fixture::new(
        &status,
        &[debian, security, backports, experimental, node],
        prefs,
    );
    let out = f.compare(&[]);
    // What apt decided, for the record: security first, kept back what needs more.
    assert!(out.contains("security: alpha 1.0-1 -> 1.1-1 (Debian:12.5/stable, Debian-Security:12/stable-security)"), "{out}");
    assert!(
        out.contains("bp 1.0~bpo12+1 -> 1.1~bpo12+1 (Debian Backports:stable-backports)"),
        "{out}"
    );
    assert!(out.contains("pinned 1.0 -> 3.0"), "{out}");
    let kept = out
        .lines()
        .find(|l| l.starts_with("kept back"))
        .unwrap_or("");
    for k in [
        "delta",
        "gamma",
        "libfoo1",
        "breaker",
        "conflicter",
        "recommender",
    ] {
        assert!(kept.contains(k), "{k} should be kept back: {out}");
    }
    // Default-Release and the preferences move candidates the same way in both.
    f.compare(&["--apt-option", "APT::Default-Release=experimental"]);
    f.compare(&["--apt-option", "APT::Install-Recommends=false"]);
    f.compare(&["--apt-option", "APT::Ignore-Hold=true"]);
}

/// A small random number generator (xorshift), so that a failing seed can be replayed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

fn random_version(r: &mut Rng) -> String {
    let mut v = format!("{}.{}", r.below(3), r.below(4));
    if r.chance(20) {
        v.push_str(&format!("~rc{}", r.below(3)));
    }
    if r.chance(30) {
        v.push_str(&format!("-{}", r.below(3)));
    }
    if r.chance(10) {
        v = format!("1:{v}");
    }
    v
}

fn random_relation(r: &mut Rng, names: &[String], versions: &[String]) -> String {
    let i = r.below(names.len() as u64) as usize;
    let mut rel = names[i].clone();
    if r.chance(50) {
        let op = [">=", "<<", "=", "<=", ">>"][r.below(5) as usize];
        rel.push_str(&format!(
            " ({op} {})",
            versions[r.below(versions.len() as u64) as usize]
        ));
    }
    rel
}

fn random_fields(r: &mut Rng, names: &[String], versions: &[String], virtuals: &[&str]) -> String {
    let mut f = String::new();
    if r.chance(40) {
        let groups: Vec<String> = (0..1 + r.below(2))
            .map(|_| {
                let mut g = random_relation(r, names, versions);
                if r.chance(25) {
                    g.push_str(&format!(" | {}", random_relation(r, names, versions)));
                }
                if r.chance(10) {
                    g = virtuals[r.below(virtuals.len() as u64) as usize].to_string();
                }
                g
            })
            .collect();
        f.push_str(&format!("Depends: {}\n", groups.join(", ")));
    }
    if r.chance(10) {
        f.push_str(&format!(
            "Breaks: {}\n",
            random_relation(r, names, versions)
        ));
    }
    if r.chance(5) {
        f.push_str(&format!(
            "Conflicts: {}\n",
            random_relation(r, names, versions)
        ));
    }
    if r.chance(10) {
        f.push_str(&format!(
            "Recommends: {}\n",
            random_relation(r, names, versions)
        ));
    }
    if r.chance(10) {
        f.push_str(&format!(
            "Provides: {}\n",
            virtuals[r.below(virtuals.len() as u64) as usize]
        ));
    }
    if r.chance(20) {
        f.push_str(
            [
                "Priority: required\n",
                "Priority: optional\n",
                "Priority: important\n",
                "Essential: yes\n",
            ][r.below(4) as usize],
        );
    }
    f
}

#[test]
fn random_roots_native_and_apt_agree() {
    // Roots are drawn until CUSTOS_APT_CASES (default 100) of them have been compared.
    let cases: u64 = std::env::var("CUSTOS_APT_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100);
    let mut compared = 0;
    let mut fell_back = Vec::new();
    for seed in 1..=cases * 10 {
        if compared >= cases {
            break;
        }
        let mut r = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
        let n = 4 + r.below(10) as usize;
        let names: Vec<String> = (0..n).map(|i| format!("p{i}")).collect();
        let virtuals = ["virt-a", "virt-b", "virt-c (= 1.0)"];
        let versions: Vec<String> = (0..6).map(|_| random_version(&mut r)).collect();
        // One stanza per package and version, as in a real archive: status and every list
        // that has the version agree on its fields.
        let mut pool: std::collections::HashMap<(String, String), String> = Default::default();
        let mut fields = |r: &mut Rng, name: &str, v: &str| -> String {
            pool.entry((name.to_string(), v.to_string()))
                .or_insert_with(|| random_fields(r, &names, &versions, &virtuals))
                .clone()
        };
        // Installed: most packages, then what their dependencies name (a system that is
        // broken already is apt's business: both engines hand it to apt).
        let mut chosen: Vec<(String, String)> = Vec::new();
        for name in &names {
            if r.chance(70) {
                chosen.push((
                    name.clone(),
                    versions[r.below(versions.len() as u64) as usize].clone(),
                ));
            }
        }
        for _ in 0..3 {
            let wanted: Vec<String> = chosen
                .iter()
                .flat_map(|(n, v)| {
                    let f = fields(&mut r, n, v);
                    f.lines()
                        .filter_map(|l| l.strip_prefix("Depends: "))
                        .flat_map(|d| {
                            d.split(',')
                                .map(|g| g.split(['|', '(']).next().unwrap().trim().to_string())
                                .collect::<Vec<_>>()
                        })
                        .collect::<Vec<_>>()
                })
                .collect();
            for w in wanted {
                if names.contains(&w) && !chosen.iter().any(|(n, _)| *n == w) {
                    chosen.push((w, versions[r.below(versions.len() as u64) as usize].clone()));
                }
            }
        }
        let mut status = Vec::new();
        for (name, v) in &chosen {
            let mut extra = fields(&mut r, name, v);
            if r.chance(5) {
                extra.push_str("Status: hold ok installed\n");
            }
            status.push(installed(name, v, &extra));
        }
        let kinds = [
            "Origin: Debian\nLabel: Debian\nVersion: 12.5\nCodename: bookworm",
            "Origin: Debian\nLabel: Debian-Security\nVersion: 12\nCodename: bookworm-security",
            "Origin: Debian Backports\nLabel: Debian Backports\nCodename: bookworm-backports\nNotAutomatic: yes\nButAutomaticUpgrades: yes",
            "Origin: Debian\nLabel: Debian\nCodename: rc-buggy\nNotAutomatic: yes",
            "Origin: Example\nLabel: Example",
        ];
        let suites = [
            "stable",
            "stable-security",
            "stable-backports",
            "experimental",
            "example",
        ];
        let paths = ["r0", "r1", "r2", "r3", "r4"];
        let mut repos = Vec::new();
        for path in paths.iter().take(1 + r.below(4) as usize) {
            let kind = r.below(kinds.len() as u64) as usize;
            let mut repo = Repo::new(path, suites[kind], kinds[kind]);
            repo.compression = ["", ".lz4", ".gz"][r.below(3) as usize];
            for name in &names {
                for _ in 0..r.below(3) {
                    let v = versions[r.below(versions.len() as u64) as usize].clone();
                    if repo
                        .packages
                        .iter()
                        .any(|p| p.starts_with(&format!("Package: {name}\nVersion: {v}\n")))
                    {
                        continue;
                    }
                    let extra = fields(&mut r, name, &v);
                    repo = repo.pkg(&offered(name, &v, &extra));
                }
            }
            repos.push(repo);
        }
        let mut prefs = String::new();
        if r.chance(30) {
            let p = [-10, 1, 100, 400, 600, 990, 1001][r.below(7) as usize];
            let target = match r.below(3) {
                0 => format!(
                    "Package: *\nPin: release a={}\n",
                    suites[r.below(suites.len() as u64) as usize]
                ),
                1 => format!(
                    "Package: {}\nPin: version {}*\n",
                    names[r.below(n as u64) as usize],
                    versions[r.below(6) as usize]
                ),
                _ => "Package: p*\nPin: origin fixture.invalid\n".to_string(),
            };
            prefs.push_str(&format!("{target}Pin-Priority: {p}\n"));
        }
        let f = Fixture::new(&status, &repos, &prefs);
        let native = f.run("native", &[]);
        if !native.stdout.contains("engine: native") {
            let why = native
                .stdout
                .lines()
                .find(|l| l.contains("does not model"))
                .unwrap_or("");
            fell_back.push(format!("seed {seed}: {why}"));
            continue;
        }
        f.compare(&[]);
        compared += 1;
    }
    // Broken starting points (random dependencies often are) go to apt, as they should.
    eprintln!(
        "random roots: {compared} compared, {} fell back to apt",
        fell_back.len()
    );
    assert!(
        compared >= cases,
        "only {compared} roots compared: {fell_back:#?}"
    );
}

/// Version ordering against dpkg itself, on random versions built from the characters that
/// matter (digits, letters, `~`, `+`, `.`, `-`, epochs).
#[test]
fn versions_order_as_dpkg_orders_them() {
    use custos_apt::version::compare;
    let mut r = Rng(0x5DEE_CE66_D1CE_4E5B);
    let part = |r: &mut Rng| -> String {
        let alphabet = b"0123456789abz~+.";
        let len = 1 + r.below(5) as usize;
        let mut s: String = (0..len)
            .map(|_| alphabet[r.below(alphabet.len() as u64) as usize] as char)
            .collect();
        // Upstream versions start with a digit.
        s.insert(0, char::from(b'0' + r.below(3) as u8));
        s
    };
    let version = |r: &mut Rng| -> String {
        let mut v = part(r);
        if r.chance(40) {
            v = format!("{v}-{}", part(r));
        }
        if r.chance(15) {
            v = format!("{}:{v}", r.below(3));
        }
        v
    };
    for _ in 0..400 {
        let (a, b) = (version(&mut r), version(&mut r));
        let ours = compare(&a, &b);
        let dpkg = |op: &str| {
            Command::new("dpkg")
                .args(["--compare-versions", &a, op, &b])
                .status()
                .unwrap()
                .success()
        };
        let theirs = if dpkg("lt") {
            std::cmp::Ordering::Less
        } else if dpkg("eq") {
            std::cmp::Ordering::Equal
        } else {
            std::cmp::Ordering::Greater
        };
        assert_eq!(ours, theirs, "{a} vs {b}");
    }
}
