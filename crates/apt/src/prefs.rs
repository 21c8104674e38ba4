//! apt_preferences(5): pins by version, release and origin, with apt's matching rules
//! (`pkgVersionMatch`): values are globs matched case-insensitively, or `/regex/`.

use crate::tags;
use crate::Unsupported;
use regex_lite::Regex;
use std::path::Path;

/// What apt knows of a package file (a Packages list, or dpkg's status file).
#[derive(Debug, Clone, Default)]
pub struct FileInfo {
    /// The Release file's `Origin`.
    pub origin: Option<String>,
    /// The Release file's `Label`.
    pub label: Option<String>,
    /// The Release file's `Suite` (apt calls it the archive).
    pub archive: Option<String>,
    /// The Release file's `Codename`.
    pub codename: Option<String>,
    /// The Release file's `Version`.
    pub version: Option<String>,
    /// The component (`main`, ...).
    pub component: Option<String>,
    /// The architecture of the list.
    pub arch: Option<String>,
    /// The source's host name; empty for dpkg's status file and local sources.
    pub site: String,
    /// `NotAutomatic: yes` (priority 1).
    pub not_automatic: bool,
    /// `ButAutomaticUpgrades: yes` (priority 100).
    pub but_automatic_upgrades: bool,
    /// dpkg's status file (apt's NotSource flag).
    pub status: bool,
}

/// `Pin-Priority: never` (only for `Package: *`).
pub const NEVER: i32 = i16::MIN as i32;

#[derive(Debug, Clone)]
/// What a preferences record's `Pin` line matches.
pub enum Match {
    /// `Pin: version PATTERN`.
    Version {
        /// The version, `*` and `?` patterns allowed.
        pattern: String,
    },
    /// `Pin: release a=...,n=...,...`.
    Release(ReleaseMatch),
    /// `Pin: origin HOST`.
    Origin {
        /// The host name of the source.
        site: String,
    },
}

#[derive(Debug, Clone, Default)]
/// The fields of a `Pin: release` line (`a=`, `n=`, `v=`, `o=`, `l=`, `c=`, `b=`).
pub struct ReleaseMatch {
    all: bool,
    version: Option<String>,
    version_prefix: bool,
    origin: Option<String>,
    archive: Option<String>,
    codename: Option<String>,
    release: Option<String>,
    label: Option<String>,
    component: Option<String>,
    arch: Option<String>,
}

/// One preferences record.
#[derive(Debug, Clone)]
pub struct Pin {
    /// `None`: `Package: *` (a default for package files); else the names (or patterns).
    pub packages: Option<Vec<String>>,
    /// Its `Pin` line.
    pub matcher: Match,
    /// Its `Pin-Priority`.
    pub priority: i32,
}

/// apt's `ExpressionMatches`: `/regex/` (extended, case-insensitive, unanchored) or an
/// fnmatch glob with case folding.
pub fn expression_matches(pattern: &str, value: Option<&str>) -> bool {
    let Some(value) = value else { return false };
    if pattern.len() >= 2 && pattern.starts_with('/') && pattern.ends_with('/') {
        return Regex::new(&format!("(?i){}", &pattern[1..pattern.len() - 1]))
            .map(|r| r.is_match(value))
            .unwrap_or(false);
    }
    glob(pattern.as_bytes(), value.as_bytes())
}

/// fnmatch(3) with FNM_CASEFOLD: `*`, `?`, `[...]` (with `!`/`^` negation and ranges), `\` escapes.
fn glob(p: &[u8], s: &[u8]) -> bool {
    let (mut pi, mut si) = (0, 0);
    let (mut star_p, mut star_s) = (None, 0);
    while si < s.len() {
        let step = if pi < p.len() {
            match p[pi] {
                b'*' => {
                    star_p = Some(pi);
                    star_s = si;
                    pi += 1;
                    continue;
                }
                b'?' => Some(pi + 1),
                b'[' => class(&p[pi..], s[si]).map(|len| pi + len),
                b'\\' if pi + 1 < p.len() => {
                    p[pi + 1].eq_ignore_ascii_case(&s[si]).then_some(pi + 2)
                }
                c => c.eq_ignore_ascii_case(&s[si]).then_some(pi + 1),
            }
        } else {
            None
        };
        match step {
            Some(next) => {
                pi = next;
                si += 1;
            }
            None => match star_p {
                Some(sp) => {
                    pi = sp + 1;
                    star_s += 1;
                    si = star_s;
                }
                None => return false,
            },
        }
    }
    p[pi..].iter().all(|&c| c == b'*')
}

/// Matches `c` against the bracket expression at the start of `p`: its length if it matches.
fn class(p: &[u8], c: u8) -> Option<usize> {
    let mut i = 1;
    let negate = matches!(p.get(i), Some(b'!' | b'^'));
    if negate {
        i += 1;
    }
    let mut matched = false;
    let mut first = true;
    let c = c.to_ascii_lowercase();
    while i < p.len() && (p[i] != b']' || first) {
        first = false;
        let lo = p[i].to_ascii_lowercase();
        if i + 2 < p.len() && p[i + 1] == b'-' && p[i + 2] != b']' {
            let hi = p[i + 2].to_ascii_lowercase();
            matched |= lo <= c && c <= hi;
            i += 3;
        } else {
            matched |= lo == c;
            i += 1;
        }
    }
    if i >= p.len() {
        // No closing bracket: a literal '['.
        return (c == b'[').then_some(1);
    }
    (matched != negate).then_some(i + 1)
}

/// apt's `MatchVer`: equal, or a prefix when the pin ended in `*`; case-insensitive.
fn match_ver(value: Option<&str>, pin: &str, prefix: bool) -> bool {
    let Some(v) = value else { return false };
    if (!prefix && v.len() != pin.len()) || v.len() < pin.len() {
        return false;
    }
    v.as_bytes()[..pin.len()].eq_ignore_ascii_case(pin.as_bytes())
}

impl ReleaseMatch {
    /// `Pin: release ...`: `a=stable, n=bookworm, ...`, `*`, or a bare version or release name.
    pub fn parse(data: &str) -> ReleaseMatch {
        let mut m = ReleaseMatch::default();
        if data == "*" {
            m.all = true;
            return m;
        }
        if !data.contains('=') {
            if data.starts_with(|c: char| c.is_ascii_digit()) {
                m.version = Some(data.to_string());
            } else {
                m.release = Some(data.to_string());
            }
        } else {
            for part in data.split(',') {
                let Some((k, v)) = part.split_once('=') else {
                    continue;
                };
                let v = Some(v.trim().to_string());
                match k.trim() {
                    "v" => m.version = v,
                    "o" => m.origin = v,
                    "a" => m.archive = v,
                    "n" => m.codename = v,
                    "l" => m.label = v,
                    "c" => m.component = v,
                    "b" => m.arch = v,
                    _ => {}
                }
            }
        }
        if let Some(v) = &mut m.version {
            if let Some(stripped) = v.strip_suffix('*') {
                *v = stripped.to_string();
                m.version_prefix = true;
            }
        }
        m
    }

    /// Does the package file `f` match these fields?
    pub fn file_matches(&self, f: &FileInfo) -> bool {
        if self.all {
            return true;
        }
        let em = |pat: &Option<String>, val: &Option<String>| {
            pat.as_ref()
                .is_none_or(|p| expression_matches(p, val.as_deref()))
        };
        if let Some(v) = &self.version {
            if !match_ver(f.version.as_deref(), v, self.version_prefix)
                && !expression_matches(v, f.version.as_deref())
            {
                return false;
            }
        }
        if !em(&self.origin, &f.origin)
            || !em(&self.archive, &f.archive)
            || !em(&self.codename, &f.codename)
        {
            return false;
        }
        if let Some(r) = &self.release {
            if !expression_matches(r, f.archive.as_deref())
                && !expression_matches(r, f.codename.as_deref())
            {
                return false;
            }
        }
        em(&self.label, &f.label) && em(&self.component, &f.component) && em(&self.arch, &f.arch)
    }
}

impl Match {
    /// Does the package file `f` match (a version pin matches no file)?
    pub fn file_matches(&self, f: &FileInfo) -> bool {
        match self {
            Match::Version { .. } => false,
            Match::Release(r) => r.file_matches(f),
            Match::Origin { site } => {
                if site.is_empty() && f.status {
                    return false;
                }
                expression_matches(site, Some(&f.site))
            }
        }
    }

    /// Does a version (its string and the files offering it) match?
    pub fn version_matches(&self, version: &str, files: &[&FileInfo]) -> bool {
        match self {
            Match::Version { pattern } => {
                let (pin, prefix) = match pattern.strip_suffix('*') {
                    Some(p) => (p, true),
                    None => (pattern.as_str(), false),
                };
                match_ver(Some(version), pin, prefix) || expression_matches(pattern, Some(version))
            }
            _ => files.iter().any(|f| self.file_matches(f)),
        }
    }
}

/// Reads the preferences file and the parts directory, in apt's order.
pub fn read(file: &Path, parts: &Path) -> Result<Vec<Pin>, Unsupported> {
    let mut pins = Vec::new();
    for (_, text) in
        crate::main_and_parts(file, parts, |n| !n.contains('.') || n.ends_with(".pref"))
    {
        pins.extend(parse(&text)?);
    }
    Ok(pins)
}

/// Parses one preferences file. Records apt would refuse make the whole run unsupported (apt
/// itself would stop with an error), so the check falls back to apt and reports apt's words.
pub fn parse(text: &str) -> Result<Vec<Pin>, Unsupported> {
    let mut pins = Vec::new();
    for stanza in tags::stanzas(text, true) {
        let Some(package) = tags::field(&stanza, "Package") else {
            return Err(Unsupported("a preferences record without Package".into()));
        };
        let Some(pin) = tags::field(&stanza, "Pin") else {
            continue;
        };
        let (kind, data) = pin.split_once(char::is_whitespace).unwrap_or((&pin, ""));
        let data = data.trim();
        let general = package.trim() == "*";
        let matcher = match kind.to_ascii_lowercase().as_str() {
            "version" if !general => Match::Version {
                pattern: data.to_string(),
            },
            "release" => Match::Release(ReleaseMatch::parse(data)),
            "origin" => {
                let site = data
                    .strip_prefix('"')
                    .and_then(|d| d.strip_suffix('"'))
                    .unwrap_or(data);
                Match::Origin {
                    site: site.to_string(),
                }
            }
            _ => continue, // apt warns and ignores it
        };
        let raw = tags::field(&stanza, "Pin-Priority").unwrap_or_default();
        let priority = if raw == "never" {
            if !general {
                return Err(Unsupported("Pin-Priority never outside Package: *".into()));
            }
            NEVER
        } else {
            match raw.trim().parse::<i32>() {
                Ok(0) | Err(_) => return Err(Unsupported(format!("pin priority '{raw}'"))),
                Ok(p) if p < i32::from(i16::MIN) || p > i32::from(i16::MAX) => {
                    return Err(Unsupported(format!("pin priority '{raw}'")))
                }
                Ok(p) if p == NEVER => NEVER + 1,
                Ok(p) => p,
            }
        };
        pins.push(Pin {
            packages: (!general).then(|| package.split_whitespace().map(str::to_string).collect()),
            matcher,
            priority,
        });
    }
    Ok(pins)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_and_regexes_as_apt() {
        assert!(expression_matches("bookworm*", Some("bookworm-backports")));
        assert!(expression_matches("Stable", Some("stable")));
        assert!(!expression_matches("stable", Some("oldstable")));
        assert!(expression_matches(
            "/-security$/",
            Some("bookworm-security")
        ));
        assert!(expression_matches("/SECURITY/", Some("bookworm-security")));
        assert!(expression_matches("node?s", Some("nodejs")));
        assert!(expression_matches("lib[a-c]x*", Some("libBx1")));
        assert!(!expression_matches("lib[!a-c]x", Some("libbx")));
        assert!(!expression_matches("x", None));
    }

    #[test]
    fn pins_parse_and_match_files() {
        let pins = parse(
            "# comment\nPackage: nodejs\nPin: origin deb.nodesource.com\nPin-Priority: 600\n\n\
             Package: *\nPin: release a=bookworm-backports, o=Debian Backports\nPin-Priority: 200\n\n\
             Package: foo bar*\nPin: version 1.2*\nPin-Priority: 1001\n\n\
             Package: *\nPin: release n=sid\nPin-Priority: never\n",
        )
        .unwrap();
        assert_eq!(pins.len(), 4);
        let node = FileInfo {
            site: "deb.nodesource.com".into(),
            ..Default::default()
        };
        assert!(pins[0].matcher.file_matches(&node));
        let bpo = FileInfo {
            origin: Some("Debian Backports".into()),
            archive: Some("bookworm-backports".into()),
            ..Default::default()
        };
        assert!(pins[1].matcher.file_matches(&bpo));
        assert!(!pins[1].matcher.file_matches(&node));
        assert!(pins[2].matcher.version_matches("1.2.3-1", &[]));
        assert!(!pins[2].matcher.version_matches("1.3", &[]));
        assert_eq!(pins[3].priority, NEVER);
        assert!(parse("Package: a\nPin: version 1\nPin-Priority: never\n").is_err());
        assert!(parse("Package: a\nPin: version 1\nPin-Priority: 0\n").is_err());
        // A bare release name matches the archive or the codename.
        let m = ReleaseMatch::parse("bookworm");
        assert!(m.file_matches(&FileInfo {
            codename: Some("bookworm".into()),
            ..Default::default()
        }));
        let v = ReleaseMatch::parse("12*");
        assert!(v.file_matches(&FileInfo {
            version: Some("12.5".into()),
            ..Default::default()
        }));
    }
}
