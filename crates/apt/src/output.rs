//! `apt-get -s upgrade` output: the `Inst` lines (package, installed and new version, the
//! releases it comes from), packages kept back or deferred by phasing, and apt's errors.
//!
//! An `Inst` line is `Inst NAME [OLD] (NEW RELEASES [ARCH])`, RELEASES being apt's
//! `VerIterator::RelStr()`: `Label:Version/Archive` entries joined by `, ` (just
//! `Label:Archive` when the release has no version; labels may contain spaces, as
//! `Debian Backports`).

/// One pending upgrade.
#[derive(Clone, Debug, PartialEq)]
pub struct Upgrade {
    /// The package's name.
    pub package: String,
    /// The installed version (`None`: a new package).
    pub old: Option<String>,
    /// The version it would be upgraded to.
    pub new: String,
    /// `Label:Version/Archive` of each release offering the version.
    pub releases: Vec<String>,
    /// One of its releases is a security archive.
    pub security: bool,
}

/// What one simulation said.
#[derive(Debug, Default, PartialEq)]
pub struct Simulation {
    /// The upgrades, in apt's order.
    pub upgrades: Vec<Upgrade>,
    /// Packages apt keeps back (dependencies would change) or defers (phased updates).
    pub held: Vec<String>,
    /// apt's `E:` lines.
    pub errors: Vec<String>,
    /// apt's `W:` lines.
    pub warnings: Vec<String>,
    /// `--debug`: apt's own lines, to show as they are.
    pub debug: Vec<String>,
}

/// Is a release a security one? Its label is `Debian-Security`, or its archive ends in
/// `-security` (`jammy-security`, `bookworm-security`, `jammy-apps-security` of UbuntuESMApps,
/// `jammy-infra-security` of UbuntuESM). Zulip's Perl looked for "security" anywhere; check_apt's
/// regex misses suites with more than one dash and the ESM labels.
pub fn is_security_release(release: &str) -> bool {
    let (label, rest) = release.split_once(':').unwrap_or(("", release));
    let archive = rest.rsplit('/').next().unwrap_or(rest);
    label == "Debian-Security" || archive.ends_with("-security")
}

/// Parses one `Inst` line.
fn parse_inst(line: &str, security: &dyn Fn(&str) -> bool) -> Option<Upgrade> {
    let rest = line.strip_prefix("Inst ")?;
    let (package, rest) = rest.split_once(' ')?;
    // Debian package names (and apt's `:arch` suffix): anything else is not apt's line.
    if package.is_empty()
        || !package
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+-.:_~".contains(c))
    {
        return None;
    }
    let (old, rest) = match rest.strip_prefix('[') {
        Some(r) => {
            let (old, r) = r.split_once("] ")?;
            (Some(old.to_string()), r)
        }
        None => (None, rest),
    };
    let inner = rest.strip_prefix('(')?;
    // The parenthesis closes before an optional trailing `[broken deps]`.
    let inner = &inner[..inner.rfind(')')?];
    let (new, releases) = inner.split_once(' ')?;
    // Drop the trailing ` [arch]`.
    let releases = match releases.rfind(" [") {
        Some(i) if releases.ends_with(']') => &releases[..i],
        _ => releases,
    };
    let releases: Vec<String> = releases.split(", ").map(str::to_string).collect();
    let security = releases.iter().any(|r| security(r));
    Some(Upgrade {
        package: package.to_string(),
        old,
        new: new.to_string(),
        releases,
        security,
    })
}

/// Parses the whole output; `security` classifies a release (see [`is_security_release`]).
pub fn parse(output: &str, security: &dyn Fn(&str) -> bool) -> Simulation {
    let mut sim = Simulation::default();
    let mut in_held = false;
    for line in output.lines() {
        if line.starts_with("  ") && in_held {
            sim.held.extend(line.split_whitespace().map(str::to_string));
            continue;
        }
        in_held = line.starts_with("The following packages have been kept back")
            || line.starts_with("The following upgrades have been deferred due to phasing");
        if let Some(e) = line.strip_prefix("E: ") {
            sim.errors.push(e.trim().to_string());
        } else if let Some(w) = line.strip_prefix("W: ") {
            sim.warnings.push(w.trim().to_string());
        } else if line.starts_with("Inst ") {
            match parse_inst(line, security) {
                Some(u) => sim.upgrades.push(u),
                None => sim
                    .errors
                    .push(format!("cannot read apt's line '{}'", line.trim())),
            }
        }
    }
    sim
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inst_lines_of_debian_and_ubuntu() {
        let sec = &is_security_release;
        let u = parse_inst("Inst libgcrypt20 [1.10.1-3] (1.10.1-3+deb12u1 Debian:12.15/oldstable, Debian-Security:12/oldstable-security [amd64])", sec).unwrap();
        assert_eq!(u.package, "libgcrypt20");
        assert_eq!(u.old.as_deref(), Some("1.10.1-3"));
        assert_eq!(u.new, "1.10.1-3+deb12u1");
        assert_eq!(
            u.releases,
            [
                "Debian:12.15/oldstable",
                "Debian-Security:12/oldstable-security"
            ]
        );
        assert!(u.security);
        let u = parse_inst("Inst liblzma-dev [5.4.1-1] (5.4.1-1+deb12u2 Debian-Security:12/oldstable-security [amd64]) []", sec).unwrap();
        assert!(u.security);
        let u = parse_inst(
            "Inst bash [5.2.15-2+b8] (5.2.15-2+b13 Debian:12.15/oldstable [amd64])",
            sec,
        )
        .unwrap();
        assert!(!u.security);
        let u = parse_inst("Inst linux-image-amd64 [6.1.123-1] (6.12.9-1~bpo12+1 Debian Backports:bookworm-backports [amd64])", sec).unwrap();
        assert_eq!(u.releases, ["Debian Backports:bookworm-backports"]);
        assert!(!u.security);
        let u = parse_inst("Inst libnew (1.0 Debian:12.15/oldstable [all])", sec).unwrap();
        assert_eq!((u.old, u.new.as_str()), (None, "1.0"));
        // Ubuntu: -security, -updates; ESM labels and suites with several dashes.
        for (rel, security) in [
            ("Ubuntu:22.04/jammy-security", true),
            ("Ubuntu:22.04/jammy-updates", false),
            ("UbuntuESMApps:22.04/jammy-apps-security", true),
            ("UbuntuESM:22.04/jammy-infra-security", true),
            ("Ubuntu:22.04/jammy-backports", false),
            ("PPA for Zulip:22.04/jammy", false),
            ("localhost", false),
        ] {
            assert_eq!(is_security_release(rel), security, "{rel}");
        }
        assert!(parse_inst("Inst broken", sec).is_none());
    }
}
