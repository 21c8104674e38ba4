//! What the host says besides apt's simulation: a reboot that is required, how old the package
//! lists are, and how unattended-upgrades' last run went.

use std::path::Path;
use std::time::SystemTime;

/// `/var/run/reboot-required` exists: the packages that asked for it (from `.pkgs`), if any.
pub fn reboot_required(file: &Path) -> Option<Vec<String>> {
    if !file.exists() {
        return None;
    }
    let mut pkgs = file.as_os_str().to_owned();
    pkgs.push(".pkgs");
    let mut names: Vec<String> =
        plugin_core::files::read_text(pkgs.as_ref(), plugin_core::files::cap::CONFIG_FILE)
            .unwrap_or_default()
            .split_whitespace()
            .map(str::to_string)
            .collect();
    names.sort();
    names.dedup();
    Some(names)
}

fn age(t: SystemTime) -> f64 {
    SystemTime::now()
        .duration_since(t)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// Seconds since the lists were last updated: the newest `*Release` file in `dir`, or APT's
/// `update-success-stamp` beside it if that is newer. `None`: no lists at all.
pub fn lists_age(dir: &Path) -> Option<f64> {
    let mut newest: Option<SystemTime> = None;
    let mut note = |t: SystemTime| {
        if newest.is_none_or(|n| t > n) {
            newest = Some(t);
        }
    };
    for entry in std::fs::read_dir(dir).ok()?.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.ends_with("_InRelease") || name.ends_with("_Release") {
            if let Ok(m) = entry.metadata().and_then(|m| m.modified()) {
                note(m);
            }
        }
    }
    let stamp = dir.join("../periodic/update-success-stamp");
    if let Ok(m) = std::fs::metadata(stamp).and_then(|m| m.modified()) {
        note(m);
    }
    newest.map(age)
}

/// How unattended-upgrades' last run went, from its log.
#[derive(Debug, PartialEq)]
pub struct LastRun {
    /// When it started (the log's local time), as written.
    pub started: String,
    /// Its ERROR lines.
    pub errors: Vec<String>,
    /// Its last INFO line (`All upgrades installed`, `No packages found ...`).
    pub outcome: Option<String>,
}

/// The most ERROR lines of one run kept (a run that failed on every package says the same
/// thing many times).
const MAX_ERRORS: usize = 20;

/// The last run in unattended-upgrades' log (`None`: no log, or no run in it). The log is
/// streamed line by line: memory does not grow with the log's size.
pub fn unattended_last_run(log: &Path) -> Option<LastRun> {
    let file = plugin_core::files::open_regular(log).ok()?;
    let mut last: Option<LastRun> = None;
    plugin_core::files::for_each_line(file, 4096, |line, _| {
        let line = String::from_utf8_lossy(line);
        if line.contains("Starting unattended upgrades script") {
            last = Some(LastRun {
                started: line.split(',').next().unwrap_or("").trim().to_string(),
                errors: Vec::new(),
                outcome: None,
            });
        }
        let Some(run) = last.as_mut() else {
            return true;
        };
        // `2026-11-21 06:25:10,456 LEVEL message`
        let Some((_, rest)) = line.split_once(' ').and_then(|(_, r)| r.split_once(' ')) else {
            return true;
        };
        if let Some(e) = rest.strip_prefix("ERROR ") {
            if run.errors.len() < MAX_ERRORS {
                run.errors.push(e.trim().to_string());
            }
        } else if let Some(i) = rest.strip_prefix("INFO ") {
            run.outcome = Some(i.trim().to_string());
        }
        true
    })
    .ok()?;
    last
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reboot_and_unattended_logs() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("reboot-required");
        assert_eq!(reboot_required(&f), None);
        std::fs::write(&f, "*** System restart required ***\n").unwrap();
        assert_eq!(reboot_required(&f), Some(vec![]));
        std::fs::write(
            d.path().join("reboot-required.pkgs"),
            "linux-image-amd64\nlibc6\nlibc6\n",
        )
        .unwrap();
        assert_eq!(
            reboot_required(&f),
            Some(vec!["libc6".into(), "linux-image-amd64".into()])
        );

        let log = d.path().join("unattended-upgrades.log");
        std::fs::write(&log, "2026-11-20 06:10:01,100 INFO Starting unattended upgrades script\n\
            2026-11-20 06:10:09,000 ERROR Installing the upgrades failed!\n\
            2026-11-21 06:25:03,123 INFO Starting unattended upgrades script\n\
            2026-11-21 06:25:04,000 INFO Allowed origins are: origin=Debian,codename=bookworm-security\n\
            2026-11-21 06:25:10,456 INFO All upgrades installed\n").unwrap();
        let run = unattended_last_run(&log).unwrap();
        assert_eq!(run.started, "2026-11-21 06:25:03");
        assert!(
            run.errors.is_empty(),
            "the earlier run's error is not this run's"
        );
        assert_eq!(run.outcome.as_deref(), Some("All upgrades installed"));
        assert_eq!(unattended_last_run(&d.path().join("none")), None);
    }
}
