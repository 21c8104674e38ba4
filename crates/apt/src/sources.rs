//! apt's sources (`sources.list`, `sources.list.d/*.list` and `*.sources`) and the list files
//! `apt update` stored for them: only the lists of configured sources count, as in apt (stale
//! files of a removed source are ignored).

use crate::tags;
use crate::Unsupported;
use std::path::Path;

/// One `deb` source: a URI (ending in `/`), a suite, its components, and the architectures
/// it is restricted to (empty: apt's configured ones).
#[derive(Debug, Clone, PartialEq)]
pub struct Source {
    /// The URI, ending in `/`.
    pub uri: String,
    /// The suite (`bookworm-security`).
    pub suite: String,
    /// The components.
    pub components: Vec<String>,
    /// The architectures it is restricted to (empty: apt's configured ones).
    pub archs: Vec<String>,
}

impl Source {
    /// The host of the URI (`Pin: origin` matches it; empty for `file:` and `cdrom:`).
    pub fn site(&self) -> String {
        let rest = self.uri.split_once("://").map_or("", |(_, r)| r);
        let host = rest.split('/').next().unwrap_or("");
        let host = host.rsplit_once('@').map_or(host, |(_, h)| h);
        match host.strip_prefix('[') {
            Some(v6) => v6.split(']').next().unwrap_or("").to_string(),
            None => host.split(':').next().unwrap_or("").to_string(),
        }
    }

    /// The list file name apt gives to `<uri>dists/<suite>/<path>` (URItoFileName).
    pub fn list_name(&self, path: &str) -> String {
        uri_to_filename(&format!("{}dists/{}/{path}", self.uri, self.suite))
    }
}

/// apt's `URItoFileName`: the URI without scheme and credentials, a set of characters
/// %-quoted, `/` turned into `_`.
pub fn uri_to_filename(uri: &str) -> String {
    let rest = match uri.split_once(':') {
        Some((scheme, rest)) if !scheme.contains('/') => rest,
        _ => uri,
    };
    let rest = rest.strip_prefix("//").unwrap_or(rest);
    // Credentials go: user:pass@host.
    let rest = match rest.split_once('/') {
        Some((auth_host, path)) => {
            let host = auth_host.rsplit_once('@').map_or(auth_host, |(_, h)| h);
            format!("{host}/{path}")
        }
        None => rest.rsplit_once('@').map_or(rest, |(_, h)| h).to_string(),
    };
    let mut out = String::with_capacity(rest.len() + 8);
    for b in rest.bytes() {
        if b"\\|{}[]<>\"^~_=!@#$%^&*".contains(&b) || b <= 0x20 || b >= 0x7f {
            out.push_str(&format!("%{b:02x}"));
        } else if b == b'/' {
            out.push('_');
        } else {
            out.push(b as char);
        }
    }
    out
}

/// Reads the one-line and deb822 source files. Entries apt would not understand the way this
/// module does (flat repositories, variables, architecture additions) are [`Unsupported`].
pub fn read(list: &Path, parts: &Path) -> Result<Vec<Source>, Unsupported> {
    let mut out = Vec::new();
    for (name, text) in crate::main_and_parts(list, parts, |n| {
        n.ends_with(".list") || n.ends_with(".sources")
    }) {
        if name.ends_with(".sources") {
            out.extend(deb822(&text)?);
        } else {
            out.extend(one_line(&text)?);
        }
    }
    Ok(out)
}

fn one_line(text: &str) -> Result<Vec<Source>, Unsupported> {
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or("").trim();
        let Some(rest) = line.strip_prefix("deb") else {
            continue;
        };
        if !rest.starts_with([' ', '\t', '[']) {
            continue; // deb-src
        }
        let mut rest = rest.trim_start();
        let mut archs = Vec::new();
        if let Some(opts) = rest.strip_prefix('[') {
            let (opts, after) = opts
                .split_once(']')
                .ok_or_else(|| Unsupported(format!("cannot read the source line '{line}'")))?;
            for opt in opts.split_whitespace() {
                let (k, v) = opt.split_once('=').unwrap_or((opt, ""));
                match k {
                    "arch" => archs = v.split(',').map(str::to_string).collect(),
                    "arch+" | "arch-" | "lang" | "target" | "target+" | "target-" => {
                        return Err(Unsupported(format!("source option '{opt}'")))
                    }
                    _ => {}
                }
            }
            rest = after.trim_start();
        }
        let mut words = rest.split_whitespace();
        let (Some(uri), Some(suite)) = (words.next(), words.next()) else {
            continue;
        };
        out.push(source(
            uri,
            suite,
            words.map(str::to_string).collect(),
            archs,
        )?);
    }
    Ok(out)
}

fn deb822(text: &str) -> Result<Vec<Source>, Unsupported> {
    let mut out = Vec::new();
    for stanza in tags::stanzas(text, true) {
        let f = |k: &str| tags::field(&stanza, k).unwrap_or_default();
        if !f("Types").split_whitespace().any(|t| t == "deb") {
            continue;
        }
        if matches!(
            f("Enabled").to_ascii_lowercase().as_str(),
            "no" | "false" | "0"
        ) {
            continue;
        }
        for k in [
            "Architectures-Add",
            "Architectures-Remove",
            "Targets",
            "Languages",
        ] {
            if tags::field(&stanza, k).is_some() {
                return Err(Unsupported(format!("source field '{k}'")));
            }
        }
        let archs: Vec<String> = f("Architectures")
            .split_whitespace()
            .map(str::to_string)
            .collect();
        let components: Vec<String> = f("Components")
            .split_whitespace()
            .map(str::to_string)
            .collect();
        for uri in f("URIs").split_whitespace() {
            for suite in f("Suites").split_whitespace() {
                out.push(source(uri, suite, components.clone(), archs.clone())?);
            }
        }
    }
    Ok(out)
}

fn source(
    uri: &str,
    suite: &str,
    components: Vec<String>,
    archs: Vec<String>,
) -> Result<Source, Unsupported> {
    if suite.ends_with('/') || components.is_empty() {
        return Err(Unsupported(format!("flat repository {uri} {suite}")));
    }
    if suite.contains("$(") {
        return Err(Unsupported(format!("variable in suite '{suite}'")));
    }
    let mut uri = uri.to_string();
    if !uri.ends_with('/') {
        uri.push('/');
    }
    Ok(Source {
        uri,
        suite: suite.to_string(),
        components,
        archs,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_file_names_are_apts() {
        let s = Source {
            uri: "http://deb.debian.org/debian-security/".into(),
            suite: "bookworm-security".into(),
            components: vec!["main".into()],
            archs: vec![],
        };
        assert_eq!(
            s.list_name("main/binary-amd64/Packages"),
            "deb.debian.org_debian-security_dists_bookworm-security_main_binary-amd64_Packages"
        );
        assert_eq!(
            s.list_name("InRelease"),
            "deb.debian.org_debian-security_dists_bookworm-security_InRelease"
        );
        assert_eq!(s.site(), "deb.debian.org");
        assert_eq!(
            uri_to_filename("https://user:pw@ppa.launchpadcontent.net:8080/~deadsnakes/ppa_x/ubuntu/dists/jammy/Release"),
            "ppa.launchpadcontent.net:8080_%7edeadsnakes_ppa%5fx_ubuntu_dists_jammy_Release"
        );
    }

    #[test]
    fn both_formats() {
        let one = one_line(
            "# comment\ndeb [arch=amd64 signed-by=/k.gpg] https://packages.cloud.google.com/apt cloud-sdk main\n\
             deb-src http://x/debian bookworm main\ndeb http://deb.debian.org/debian bookworm main contrib # c\n",
        )
        .unwrap();
        assert_eq!(one.len(), 2);
        assert_eq!(one[0].archs, ["amd64"]);
        assert_eq!(one[0].uri, "https://packages.cloud.google.com/apt/");
        assert_eq!(one[1].components, ["main", "contrib"]);
        let d = deb822(
            "Types: deb deb-src\nURIs: http://deb.debian.org/debian\nSuites: bookworm bookworm-updates\nComponents: main\n\n\
             Types: deb\nEnabled: no\nURIs: http://off/\nSuites: x\nComponents: main\n",
        )
        .unwrap();
        assert_eq!(d.len(), 2);
        assert_eq!(d[1].suite, "bookworm-updates");
        assert!(one_line("deb http://x/ ./\n").is_err());
    }
}
