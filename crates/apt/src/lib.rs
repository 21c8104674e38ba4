//! custos-apt: what `apt-get -s upgrade` would upgrade, without running apt, and apt's own
//! output read when it does run.
//!
//! - [`native`]: the engine. dpkg's status file, apt's lists (plain, lz4, gzip), the Release
//!   files of the configured sources ([`sources`]) and apt_preferences ([`prefs`]), apt's
//!   candidate policy and its keep-back resolver ([`resolve`]), dpkg's version order
//!   ([`version`]), deb822 stanzas ([`tags`]) and `apt-config dump` ([`config`]). Where it
//!   does not model apt exactly it answers [`Unsupported`], and the caller runs apt.
//! - [`output`]: `apt-get -s upgrade`'s `Inst` lines, kept-back packages and errors.
//!
//! The engine reads only the stanzas of installed packages and streams every list, so a host
//! with 121 pending upgrades is answered in about a tenth of a second instead of apt's 2-4 s
//! (BENCHMARKS.md),
//! with apt's answer: check_debian_packages' tests compare both on this machine, on fixture
//! roots built for apt, and on 100 random roots.

#![deny(missing_docs)]

pub mod config;
pub mod native;
pub mod output;
pub mod prefs;
pub mod resolve;
pub mod sources;
pub mod tags;
pub mod version;

pub use native::{simulate, Paths, Unsupported};
pub use output::{is_security_release, parse, Simulation, Upgrade};

use std::path::Path;

/// apt's way of reading a configuration: the main file, then the files of its `.d` directory
/// in name order whose names apt accepts (letters, digits, `_`, `.`, `-`, and `wanted`'s
/// extension); unreadable files are skipped, as apt does. Returns (file name, content).
pub(crate) fn main_and_parts(
    main: &Path,
    parts: &Path,
    wanted: impl Fn(&str) -> bool,
) -> Vec<(String, String)> {
    use plugin_core::files::{cap, read_text};
    let mut out = Vec::new();
    if let Ok(text) = read_text(main, cap::CONFIG_FILE) {
        out.push((main.display().to_string(), text));
    }
    let mut files: Vec<std::path::PathBuf> = std::fs::read_dir(parts)
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    files.sort();
    for f in files {
        let name = f.file_name().and_then(|n| n.to_str()).unwrap_or("");
        // apt ignores files with other names (and says so only with -o Debug).
        let valid = name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b));
        if !valid || !wanted(name) || !f.is_file() {
            continue;
        }
        if let Ok(text) = read_text(&f, cap::CONFIG_FILE) {
            out.push((name.to_string(), text));
        }
    }
    out
}
