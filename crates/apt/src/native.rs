//! The native engine: what `apt-get -s upgrade` would upgrade, computed from dpkg's status
//! file, apt's lists (plain, lz4 or gzip), the Release files of the configured sources and
//! apt_preferences, without running apt's solver (apt takes 2-4 s on a Debian 12 host; this
//! reads only the stanzas of installed packages).
//!
//! It answers only where it models apt exactly; anything else is [`Unsupported`] and the
//! check runs apt instead, saying why: several architectures (multiarch), phased updates, an
//! external solver, packages dpkg left half-installed, a system apt already calls broken,
//! flat repositories, list compressions other than lz4 and gzip, preferences apt would refuse.
//! A test compares both engines on the test machine and on fixtures built for apt itself.

use crate::output::{Simulation, Upgrade};
use crate::{config, prefs, resolve, sources, tags, version};
use config::AptConfig;
use prefs::FileInfo;
use resolve::{Alt, Package, Priority, Provide, Universe, Version};
use std::collections::HashSet;
use std::io::Read;
use std::path::{Path, PathBuf};

/// Why the native engine cannot answer as apt would: the check falls back to apt.
#[derive(Debug, Clone, PartialEq)]
pub struct Unsupported(pub String);

impl From<std::io::Error> for Unsupported {
    fn from(e: std::io::Error) -> Self {
        Unsupported(format!("reading the lists: {e}"))
    }
}

/// What apt's configuration says, resolved.
pub struct Paths {
    /// dpkg's status file (`Dir::State::status`).
    pub status: PathBuf,
    /// The downloaded lists (`Dir::State::lists`).
    pub lists: PathBuf,
    /// `sources.list` (`Dir::Etc::sourcelist`).
    pub sourcelist: PathBuf,
    /// `sources.list.d` (`Dir::Etc::sourceparts`).
    pub sourceparts: PathBuf,
    /// `preferences` (`Dir::Etc::preferences`).
    pub preferences: PathBuf,
    /// `preferences.d` (`Dir::Etc::preferencesparts`).
    pub preferencesparts: PathBuf,
}

impl Paths {
    /// The paths as apt resolves them from its configuration (`Dir` and the keys above).
    pub fn from_config(c: &AptConfig) -> Paths {
        Paths {
            status: c
                .find_file("Dir::State::status", "var/lib/dpkg/status")
                .into(),
            lists: c.find_dir("Dir::State::lists", "var/lib/apt/lists/").into(),
            sourcelist: c
                .find_file("Dir::Etc::sourcelist", "etc/apt/sources.list")
                .into(),
            sourceparts: c
                .find_dir("Dir::Etc::sourceparts", "etc/apt/sources.list.d/")
                .into(),
            preferences: c
                .find_file("Dir::Etc::preferences", "etc/apt/preferences")
                .into(),
            preferencesparts: c
                .find_dir("Dir::Etc::preferencesparts", "etc/apt/preferences.d/")
                .into(),
        }
    }
}

/// The simulation, from apt's resolved configuration.
pub fn simulate(c: &AptConfig, security: &dyn Fn(&str) -> bool) -> Result<Simulation, Unsupported> {
    let native = c.get("APT::Architecture").unwrap_or("").to_string();
    if native.is_empty() {
        return Err(Unsupported("APT::Architecture is not set".into()));
    }
    supported(c, &native)?;
    let paths = Paths::from_config(c);
    let (mut u, current) = installed(&paths.status, &native)?;
    let sources = sources::read(&paths.sourcelist, &paths.sourceparts)?;
    read_lists(&mut u, &sources, &paths.lists, &native)?;
    finish(&mut u, current);
    let pins = prefs::read(&paths.preferences, &paths.preferencesparts)?;
    let default_release = c.get("APT::Default-Release").filter(|r| !r.is_empty());
    let settings = resolve::Settings {
        pins: &pins,
        default_release,
        native_arch: &native,
        install_recommends: c.flag("APT::Install-Recommends", true),
        ignore_hold: c.flag("APT::Ignore-Hold", false),
    };
    if let Some(rel) = default_release {
        // apt refuses a Default-Release that names no source (and says so).
        let known = (rel.len() > 2 && rel.as_bytes()[1] == b'=')
            || u.files.iter().filter(|f| !f.status).any(|f| {
                [&f.archive, &f.codename, &f.version]
                    .iter()
                    .any(|v| prefs::expression_matches(rel, v.as_deref()))
            });
        if !known {
            return Err(Unsupported(format!(
                "APT::Default-Release {rel} names no source"
            )));
        }
    }
    let cand = resolve::candidates(&u, &settings);
    for (p, c) in cand.iter().enumerate() {
        let pkg = &u.packages[p];
        if let Some(c) = *c {
            if c != pkg.current && pkg.versions[c].phased.is_some_and(|x| x < 100) {
                return Err(Unsupported(format!("phased update of {}", pkg.name)));
            }
        }
    }
    let inst = resolve::upgrade(&u, &settings, &cand).map_err(Unsupported)?;
    Ok(simulation(&u, &cand, &inst, security))
}

/// What apt's configuration asks for that this engine does not do (several architectures,
/// an external solver, upgrades that install new packages): the reason.
fn supported(c: &AptConfig, native: &str) -> Result<(), Unsupported> {
    let archs = c.list("APT::Architectures");
    if archs.iter().any(|a| a != native) {
        return Err(Unsupported(format!(
            "several architectures ({})",
            archs.join(", ")
        )));
    }
    match c.get("APT::Solver") {
        None | Some("") | Some("internal") => {}
        Some(s) => return Err(Unsupported(format!("external solver {s}"))),
    }
    if c.flag("APT::Get::Upgrade-Allow-New", false) {
        return Err(Unsupported("APT::Get::Upgrade-Allow-New".into()));
    }
    Ok(())
}

/// The upgrades of `inst` (the install decision) and the packages held back, as apt reports.
fn simulation(
    u: &Universe,
    cand: &[Option<usize>],
    inst: &[usize],
    security: &dyn Fn(&str) -> bool,
) -> Simulation {
    let mut sim = Simulation::default();
    for (p, pkg) in u.packages.iter().enumerate() {
        let cur = &pkg.versions[pkg.current];
        if inst[p] != pkg.current {
            let new = &pkg.versions[inst[p]];
            let releases = rel_strs(u, new);
            sim.upgrades.push(Upgrade {
                package: pkg.name.clone(),
                old: Some(cur.version.clone()),
                new: new.version.clone(),
                security: releases.iter().any(|r| security(r)),
                releases,
            });
        } else if cand[p].is_some_and(|c| c < pkg.current) {
            // Upgradable as apt says it: the candidate comes before the installed version in
            // the (newest first) version list.
            sim.held.push(pkg.name.clone());
        }
    }
    sim.held.sort();
    sim
}

/// `VerIterator::RelStr`: `Label:Version/Archive` of each list offering the version.
fn rel_strs(u: &Universe, v: &Version) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for &f in &v.files {
        let f = &u.files[f];
        if f.status {
            continue;
        }
        let mut s = String::new();
        if let Some(l) = &f.label {
            s.push_str(l);
            s.push(':');
        }
        match &f.archive {
            Some(a) => {
                if let Some(ver) = &f.version {
                    s.push_str(ver);
                    s.push('/');
                }
                s.push_str(a);
            }
            None => s.push_str(if f.site.is_empty() {
                "localhost"
            } else {
                &f.site
            }),
        }
        if !out.contains(&s) {
            out.push(s);
        }
    }
    out
}

/// The installed packages, from dpkg's status file (file 0 of the universe). Their versions
/// are added to the packages after the lists' ([`finish`]), as apt reads the status file last.
fn installed(status: &Path, native: &str) -> Result<(Universe, Vec<Version>), Unsupported> {
    let file = std::fs::File::open(status)
        .map_err(|e| Unsupported(format!("cannot read {}: {e}", status.display())))?;
    let mut u = Universe {
        files: vec![FileInfo {
            status: true,
            archive: Some("now".into()),
            ..Default::default()
        }],
        ..Default::default()
    };
    let mut current = Vec::new();
    let mut err = None;
    tags::each_stanza::<_, Unsupported>(file, |st| {
        let st = String::from_utf8_lossy(st);
        let field = |k: &str| tags::field(&st, k);
        let name = field("Package").unwrap_or_default();
        let status = field("Status").unwrap_or_default();
        let mut words = status.split_whitespace();
        let (want, flag, state) = (
            words.next().unwrap_or(""),
            words.next().unwrap_or(""),
            words.next().unwrap_or(""),
        );
        match state {
            "not-installed" | "config-files" => return Ok(()),
            "installed" | "triggers-pending" | "triggers-awaited" if flag == "ok" => {}
            _ => {
                err.get_or_insert(Unsupported(format!("dpkg's state of {name}: {status}")));
                return Ok(());
            }
        }
        let arch = field("Architecture").unwrap_or_default();
        if arch != native && arch != "all" {
            err.get_or_insert(Unsupported(format!(
                "{name}:{arch} installed (several architectures)"
            )));
            return Ok(());
        }
        let Some(v) = version_of(&st, &name, arch) else {
            return Ok(());
        };
        u.index.insert(name.clone(), u.packages.len());
        // apt marks itself important (and essential).
        let apt = name == "apt";
        u.packages.push(Package {
            name,
            hold: want == "hold",
            essential: apt,
            important: apt,
            versions: Vec::new(),
            current: 0,
        });
        current.push(v);
        Ok(())
    })?;
    match err {
        Some(e) => Err(e),
        None => Ok((u, current)),
    }
}

/// Adds the installed versions, last, and notes which one is current.
fn finish(u: &mut Universe, current: Vec<Version>) {
    let first = u.packages.iter().map(|p| p.versions.len()).sum::<usize>();
    for (created, (pkg, mut v)) in (first..).zip(u.packages.iter_mut().zip(current)) {
        v.created = created;
        pkg.use_flags(&v);
        if pkg.name == "apt" {
            pkg.essential = true;
            pkg.important = true;
        }
        pkg.current = pkg.add(v, 0);
    }
}

/// A version from a stanza (status file or Packages list).
fn version_of(st: &str, name: &str, arch: String) -> Option<Version> {
    let field = |k: &str| tags::field(st, k);
    let flag = |k: &str| field(k).map(|v| v.trim().eq_ignore_ascii_case("yes"));
    let source = field("Source")
        .map(|s| s.split_whitespace().next().unwrap_or("").to_string())
        .unwrap_or_else(|| name.to_string());
    let deps = |k: &str| field(k).map(|v| parse_deps(&v)).unwrap_or_default();
    let mut depends = deps("Pre-Depends");
    depends.extend(deps("Depends"));
    let identity = {
        use std::hash::Hasher;
        // FNV-1a over the fields' bytes, as apt's VersionHash feeds them (deterministic, unlike
        // std's RandomState).
        let mut h = Fnv1a::default();
        for k in [
            "Installed-Size",
            "Depends",
            "Pre-Depends",
            "Conflicts",
            "Breaks",
            "Replaces",
        ] {
            if let Some(v) = field(k) {
                for b in v.bytes() {
                    if !b.is_ascii_whitespace() && b != b'=' {
                        h.write_u8(b.to_ascii_lowercase());
                    }
                }
            }
        }
        h.finish()
    };
    Some(Version {
        version: field("Version")?,
        files: Vec::new(),
        depends,
        recommends: deps("Recommends"),
        conflicts: deps("Conflicts").into_iter().flatten().collect(),
        breaks: deps("Breaks").into_iter().flatten().collect(),
        provides: field("Provides")
            .map(|v| parse_provides(&v))
            .unwrap_or_default(),
        multi_arch_allowed: field("Multi-Arch").is_some_and(|m| m == "allowed"),
        phased: field("Phased-Update-Percentage").and_then(|p| p.trim().parse().ok()),
        priority: match field("Priority").as_deref() {
            Some("required") => Priority::Required,
            Some("important") => Priority::Important,
            Some("standard") => Priority::Standard,
            Some("optional") => Priority::Optional,
            Some("extra") => Priority::Extra,
            _ => Priority::Unknown,
        },
        essential: flag("Essential"),
        important: match (flag("Important"), flag("Protected")) {
            (None, None) => None,
            (a, b) => Some(a == Some(true) || b == Some(true)),
        },
        source,
        arch,
        identity,
        size: field("Size")
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(0),
        multi_arch: field("Multi-Arch").unwrap_or_default(),
        created: 0,
    })
}

/// 64-bit FNV-1a.
struct Fnv1a(u64);

impl Default for Fnv1a {
    fn default() -> Self {
        Fnv1a(0xcbf2_9ce4_8422_2325)
    }
}

impl std::hash::Hasher for Fnv1a {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

/// `a (>= 1) | b, c:any` → groups of alternatives. Architecture restrictions (`[amd64]`) and
/// build profiles do not appear in binary packages' fields.
pub fn parse_deps(field: &str) -> Vec<Vec<Alt>> {
    field
        .split(',')
        .filter(|g| !g.trim().is_empty())
        .map(|g| g.split('|').filter_map(parse_alt).collect())
        .filter(|g: &Vec<Alt>| !g.is_empty())
        .collect()
}

fn parse_alt(s: &str) -> Option<Alt> {
    let s = s.trim();
    let (name, rel) = match s.split_once('(') {
        Some((n, r)) => (n.trim(), Some(r.trim_end().trim_end_matches(')').trim())),
        None => (s, None),
    };
    if name.is_empty() {
        return None;
    }
    let (name, any) = match name.split_once(':') {
        Some((n, q)) => (n, q == "any"),
        None => (name, false),
    };
    let rel = rel.and_then(|r| {
        let op_len = r.find(|c: char| !"<>=".contains(c)).unwrap_or(r.len());
        let op = version::Op::parse(&r[..op_len])?;
        Some((op, r[op_len..].trim().to_string()))
    });
    Some(Alt {
        name: name.to_string(),
        any,
        rel,
    })
}

fn parse_provides(field: &str) -> Vec<Provide> {
    parse_deps(field)
        .into_iter()
        .flatten()
        .map(|a| Provide {
            name: a.name,
            version: a
                .rel
                .filter(|(op, _)| *op == version::Op::Eq)
                .map(|(_, v)| v),
        })
        .collect()
}

/// The Release information of a source's suite, from its InRelease or Release file.
fn release_info(lists: &Path, src: &sources::Source) -> Result<Option<FileInfo>, Unsupported> {
    for name in ["InRelease", "Release"] {
        let path = lists.join(src.list_name(name));
        // Release files are tens of KiB; a huge one is not apt's either.
        let Ok(text) = plugin_core::files::read_text(&path, 64 << 20) else {
            continue;
        };
        // InRelease: the signed message between the armor lines.
        let body = match text.find("-----BEGIN PGP SIGNED MESSAGE-----") {
            Some(_) => {
                let start = text.find("\n\n").map_or(0, |i| i + 2);
                let end = text
                    .find("-----BEGIN PGP SIGNATURE-----")
                    .unwrap_or(text.len());
                text[start..end.max(start)].to_string()
            }
            None => text,
        };
        let first = tags::stanzas(&body, false)
            .into_iter()
            .next()
            .unwrap_or_default();
        let f = |k: &str| tags::field(&first, k).filter(|v| !v.is_empty());
        let yes = |k: &str| f(k).is_some_and(|v| v.eq_ignore_ascii_case("yes"));
        return Ok(Some(FileInfo {
            origin: f("Origin"),
            label: f("Label"),
            archive: f("Suite"),
            codename: f("Codename"),
            version: f("Version"),
            site: src.site(),
            not_automatic: yes("NotAutomatic"),
            but_automatic_upgrades: yes("NotAutomatic") && yes("ButAutomaticUpgrades"),
            ..Default::default()
        }));
    }
    Ok(None)
}

/// Opens a list file in whatever compression apt stored it.
fn open_list(lists: &Path, name: &str) -> Result<Option<Box<dyn Read>>, Unsupported> {
    for ext in ["", ".lz4", ".gz", ".xz", ".zst", ".bz2", ".lzma"] {
        let path = lists.join(format!("{name}{ext}"));
        let file = match std::fs::File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(Unsupported(format!("cannot read {}: {e}", path.display()))),
        };
        return Ok(Some(match ext {
            "" => Box::new(file),
            ".lz4" => Box::new(lz4_flex::frame::FrameDecoder::new(std::io::BufReader::new(
                file,
            ))),
            ".gz" => Box::new(flate2::read::MultiGzDecoder::new(std::io::BufReader::new(
                file,
            ))),
            other => return Err(Unsupported(format!("lists compressed as {other}"))),
        }));
    }
    Ok(None)
}

/// Adds the versions the lists offer for installed packages.
fn read_lists(
    u: &mut Universe,
    sources: &[sources::Source],
    lists: &Path,
    native: &str,
) -> Result<(), Unsupported> {
    let names: HashSet<Vec<u8>> = u
        .packages
        .iter()
        .map(|p| p.name.as_bytes().to_vec())
        .collect();
    let mut seen_files: HashSet<String> = HashSet::new();
    let mut created = 0;
    for src in sources {
        let info = release_info(lists, src)?;
        for component in &src.components {
            let archs: Vec<&str> = if src.archs.is_empty() {
                vec![native, "all"]
            } else {
                src.archs
                    .iter()
                    .map(String::as_str)
                    .filter(|a| *a == native || *a == "all")
                    .collect()
            };
            for arch in archs {
                let name = src.list_name(&format!("{component}/binary-{arch}/Packages"));
                // A source listed twice is read once, as apt does.
                if !seen_files.insert(name.clone()) {
                    continue;
                }
                let Some(reader) = open_list(lists, &name)? else {
                    continue;
                };
                let Some(mut file) = info.clone() else {
                    return Err(Unsupported(format!(
                        "no Release file for {}",
                        src.list_name("")
                    )));
                };
                file.component = Some(component.clone());
                file.arch = Some(arch.to_string());
                let id = u.files.len();
                u.files.push(file);
                let mut found: Vec<(usize, Version)> = Vec::new();
                tags::each_stanza::<_, Unsupported>(reader, |st| {
                    let Some(pkg) = tags::first_field(st, b"Package") else {
                        return Ok(());
                    };
                    if !names.contains(pkg) {
                        return Ok(());
                    }
                    let st = String::from_utf8_lossy(st);
                    let name = String::from_utf8_lossy(pkg).into_owned();
                    let arch = tags::field(&st, "Architecture").unwrap_or_default();
                    if arch != native && arch != "all" {
                        return Ok(());
                    }
                    if let (Some(&p), Some(v)) = (u.index.get(&name), version_of(&st, &name, arch))
                    {
                        found.push((p, v));
                    }
                    Ok(())
                })?;
                for (p, mut v) in found {
                    v.created = created;
                    created += 1;
                    u.packages[p].use_flags(&v);
                    u.packages[p].add(v, id);
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dependency_fields() {
        let d = parse_deps("libc6 (>= 2.34), python3:any | python3-minimal (<< 3.12~), debconf (>= 0.5) | debconf-2.0");
        assert_eq!(d.len(), 3);
        assert_eq!(d[0][0].rel, Some((version::Op::Ge, "2.34".into())));
        assert!(d[1][0].any);
        assert_eq!(d[1][1].rel, Some((version::Op::Lt, "3.12~".into())));
        assert_eq!(d[2][1].name, "debconf-2.0");
        let p = parse_provides("awk, mail-transport-agent, libfoo (= 1.2-1)");
        assert_eq!(p[2].version.as_deref(), Some("1.2-1"));
        assert_eq!(p[0].version, None);
    }
}
