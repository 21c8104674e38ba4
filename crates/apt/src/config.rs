//! apt's configuration, as apt itself resolves it: `apt-config dump` (one small process, 6-8 ms)
//! reads apt.conf, apt.conf.d and the `-o` options with apt's own parser, and the paths are
//! then resolved as `Configuration::FindFile`/`FindDir` do (a relative value is relative to
//! its parent key's value: `Dir::State::lists` "lists/" under `Dir::State` under `Dir`).

use std::collections::HashMap;

/// The resolved configuration: scalar values and lists (`Key::` entries).
#[derive(Debug, Default, Clone)]
pub struct AptConfig {
    values: HashMap<String, String>,
    lists: HashMap<String, Vec<String>>,
}

impl AptConfig {
    /// Parses `apt-config dump --format '%f=%v%n'`.
    pub fn parse(dump: &str) -> AptConfig {
        let mut c = AptConfig::default();
        for line in dump.lines() {
            let Some((key, value)) = line.split_once('=') else {
                continue;
            };
            if let Some(list) = key.strip_suffix("::") {
                c.lists
                    .entry(list.to_ascii_lowercase())
                    .or_default()
                    .push(value.to_string());
            } else {
                c.values.insert(key.to_ascii_lowercase(), value.to_string());
            }
        }
        c
    }

    /// From explicit pairs (tests).
    pub fn from_pairs(pairs: &[(&str, &str)]) -> AptConfig {
        let text: String = pairs.iter().map(|(k, v)| format!("{k}={v}\n")).collect();
        AptConfig::parse(&text)
    }

    /// The value of `key` (apt's keys are case-insensitive).
    pub fn get(&self, key: &str) -> Option<&str> {
        self.values
            .get(&key.to_ascii_lowercase())
            .map(String::as_str)
    }

    /// The list `key` holds (`APT::Architectures`), empty when unset.
    pub fn list(&self, key: &str) -> &[String] {
        self.lists
            .get(&key.to_ascii_lowercase())
            .map_or(&[], Vec::as_slice)
    }

    /// apt's `FindB`: true/yes/on/with/enable and non-zero numbers.
    pub fn flag(&self, key: &str, default: bool) -> bool {
        match self.get(key).map(|v| v.trim().to_ascii_lowercase()) {
            None => default,
            Some(v) if v.is_empty() => default,
            Some(v) => match v.as_str() {
                "true" | "yes" | "on" | "with" | "enable" => true,
                "false" | "no" | "off" | "without" | "disable" => false,
                n => n.parse::<i64>().map(|n| n != 0).unwrap_or(default),
            },
        }
    }

    /// `Configuration::FindFile`: the value of `key`, made absolute by prefixing the values of
    /// its parents (`Dir::State::lists` → `Dir` + `Dir::State` + value) until one is absolute.
    pub fn find_file(&self, key: &str, default: &str) -> String {
        let mut root = self.get("RootDir").unwrap_or("").to_string();
        if !root.is_empty() && !root.ends_with('/') {
            root.push('/');
        }
        let mut val = match self.get(key) {
            Some(v) if !v.is_empty() => v.to_string(),
            _ => return normalize(&(root + default)),
        };
        let mut parent = key.rsplit_once("::").map(|(p, _)| p.to_string());
        while let Some(p) = parent {
            let next = p.rsplit_once("::").map(|(pp, _)| pp.to_string());
            let pval = self.get(&p).unwrap_or("");
            if pval.is_empty() {
                parent = next;
                continue;
            }
            if val.starts_with('/') {
                if val.starts_with("/dev/null") {
                    val.truncate(9);
                }
                break;
            }
            if val.starts_with("~/") || val.starts_with("./") || val.starts_with("../") {
                break;
            }
            if !pval.ends_with('/') {
                val.insert(0, '/');
            }
            val.insert_str(0, pval);
            parent = next;
        }
        normalize(&(root + &val))
    }

    /// `Configuration::FindDir`: [`find_file`](Self::find_file) ending in `/`.
    pub fn find_dir(&self, key: &str, default: &str) -> String {
        let mut d = self.find_file(key, default);
        if !d.ends_with('/') {
            d.push('/');
        }
        d
    }
}

/// Collapses `//` and `/./` as apt's flNormalize does.
fn normalize(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for (i, part) in path.split('/').enumerate() {
        if i > 0 && (part.is_empty() || part == ".") {
            continue;
        }
        if i > 0 || !part.is_empty() {
            if !out.is_empty() || i > 0 {
                out.push('/');
            }
            out.push_str(part);
        }
    }
    if path.ends_with('/') && !out.ends_with('/') {
        out.push('/');
    }
    if out.is_empty() && path.starts_with('/') {
        out.push('/');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn debian() -> AptConfig {
        AptConfig::from_pairs(&[
            ("Dir", "/"),
            ("Dir::State", "var/lib/apt"),
            ("Dir::State::lists", "lists/"),
            ("Dir::State::status", "/var/lib/dpkg/status"),
            ("Dir::Etc", "etc/apt"),
            ("Dir::Etc::sourcelist", "sources.list"),
            ("Dir::Etc::sourceparts", "sources.list.d"),
            ("Dir::Etc::preferences", "preferences"),
            ("Dir::Etc::preferencesparts", "preferences.d"),
            ("APT::Architecture", "amd64"),
            ("APT::Architectures", ""),
            ("APT::Architectures::", "amd64"),
            ("APT::Install-Recommends", "1"),
        ])
    }

    #[test]
    fn paths_resolve_as_apt_resolves_them() {
        let c = debian();
        assert_eq!(c.find_dir("Dir::State::lists", ""), "/var/lib/apt/lists/");
        assert_eq!(
            c.find_file("Dir::State::status", ""),
            "/var/lib/dpkg/status"
        );
        assert_eq!(
            c.find_file("Dir::Etc::sourcelist", ""),
            "/etc/apt/sources.list"
        );
        assert_eq!(
            c.find_dir("Dir::Etc::preferencesparts", ""),
            "/etc/apt/preferences.d/"
        );
        assert_eq!(c.list("APT::Architectures"), ["amd64"]);
        assert!(c.flag("APT::Install-Recommends", false));
        assert!(!c.flag("APT::Ignore-Hold", false));
        // An absolute Dir::Etc moves everything under it.
        let mut moved = debian();
        moved
            .values
            .insert("dir::etc".into(), "/srv/fixture/etc/apt".into());
        assert_eq!(
            moved.find_file("Dir::Etc::sourcelist", ""),
            "/srv/fixture/etc/apt/sources.list"
        );
        assert_eq!(normalize("/a//b/./c/"), "/a/b/c/");
    }
}
