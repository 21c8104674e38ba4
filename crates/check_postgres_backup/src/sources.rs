//! Where the newest backup's completion time comes from: a marker file, `wal-g backup-list`,
//! `pgbackrest info`, or a directory of `pg_basebackup` outputs.

use jiff::Timestamp;
use plugin_core::{process, CheckError, Context};
use serde::Deserialize;
use std::path::Path;
use std::time::SystemTime;

/// The newest backup found.
#[derive(Debug, Clone, PartialEq)]
pub struct Backup {
    /// When it completed.
    pub finished: Timestamp,
    /// What it is, for messages (`20240101-020000F (full)`, a directory name).
    pub what: String,
    /// The WAL segment it started at, when the source says (for the gap check).
    pub start_wal: Option<String>,
}

/// Most bytes of a tool's output read (pgBackRest's info for years of backups is well below).
const OUTPUT_CAP: usize = 16 * 1024 * 1024;

/// Parses a marker file: an ISO 8601 / RFC 3339 time with a UTC offset (what Zulip's backup job
/// writes: Python's `isoformat()`, `2022-10-13T02:00:07.123456+00:00`), or Unix seconds.
pub fn parse_marker(text: &str) -> Result<Timestamp, String> {
    let t = text.trim();
    if t.is_empty() {
        return Err("the file is empty".into());
    }
    if t.bytes().all(|b| b.is_ascii_digit()) {
        let secs: i64 = t.parse().map_err(|_| format!("'{t}' is out of range"))?;
        return Timestamp::from_second(secs).map_err(|e| format!("'{t}': {e}"));
    }
    // Python's str(datetime) uses a space where isoformat() uses 'T'.
    let iso = match t.as_bytes().get(10) {
        Some(b' ') => format!("{}T{}", &t[..10], &t[11..]),
        _ => t.to_string(),
    };
    iso.parse::<Timestamp>().map_err(|e| {
        let shown: String = t.chars().take(60).collect();
        if e.to_string().contains("offset") {
            format!("'{shown}' has no UTC offset (write it with one, e.g. date -Iseconds)")
        } else {
            format!("'{shown}' is not an ISO 8601 time: {e}")
        }
    })
}

pub fn marker(path: &Path) -> Result<Backup, CheckError> {
    let text =
        plugin_core::files::read_text(path, plugin_core::files::cap::STATE_FILE).map_err(|e| {
            // Zulip's words, then why.
            CheckError::unknown(format!(
                "could not determine completion time of last PostgreSQL backup: {}: {e}",
                path.display()
            ))
        })?;
    let finished = parse_marker(&text).map_err(|e| {
        CheckError::unknown(format!(
            "could not determine completion time of last PostgreSQL backup: {}: {e}",
            path.display()
        ))
    })?;
    Ok(Backup {
        finished,
        what: format!("marker {}", path.display()),
        start_wal: None,
    })
}

/// One entry of `wal-g backup-list --json [--detail]`.
#[derive(Deserialize, Debug)]
struct WalgBackup {
    backup_name: String,
    /// Modification time of the backup's sentinel (always present).
    time: String,
    /// With --detail.
    #[serde(default)]
    finish_time: Option<String>,
    #[serde(default)]
    wal_file_name: Option<String>,
}

/// Reads wal-g's JSON backup list (the output of `wal-g backup-list --json --detail`).
pub fn parse_walg(json: &[u8]) -> Result<Option<Backup>, String> {
    let text = String::from_utf8_lossy(json);
    let list: Vec<WalgBackup> = match text.trim() {
        // wal-g prints nothing on stdout (and "No backups found" on stderr) when there are none.
        "" | "null" => Vec::new(),
        t => serde_json::from_str(t).map_err(|e| format!("unexpected JSON from wal-g: {e}"))?,
    };
    let mut newest: Option<Backup> = None;
    for b in list {
        let when = b.finish_time.as_deref().unwrap_or(&b.time);
        let finished: Timestamp = when
            .parse()
            .map_err(|e| format!("wal-g backup {}: time '{when}': {e}", b.backup_name))?;
        if newest.as_ref().is_none_or(|n| finished > n.finished) {
            let start_wal = b.wal_file_name.clone().or_else(|| {
                b.backup_name
                    .strip_prefix("base_")
                    .map(|s| s.chars().take(24).collect::<String>())
            });
            newest = Some(Backup {
                finished,
                what: b.backup_name,
                start_wal,
            });
        }
    }
    Ok(newest)
}

pub fn walg(ctx: &Context, command: &str) -> Result<Option<Backup>, CheckError> {
    let mut cmd = process::split_command(command)?;
    cmd.args(["backup-list", "--json", "--detail"]);
    let out = process::run(ctx, &mut cmd, "wal-g backup-list", OUTPUT_CAP)?;
    if out.code != Some(0) {
        let why = out.complaint();
        if why.contains("No backups found") {
            return Ok(None);
        }
        return Err(CheckError::unknown(format!(
            "wal-g backup-list failed ({}): {why}",
            exit_text(out.code)
        )));
    }
    parse_walg(&out.stdout).map_err(CheckError::unknown)
}

fn exit_text(code: Option<i32>) -> String {
    code.map_or("killed by a signal".to_string(), |c| format!("exit {c}"))
}

#[derive(Deserialize, Debug)]
struct BackrestStanza {
    name: String,
    status: BackrestStatus,
    #[serde(default)]
    backup: Vec<BackrestBackup>,
}

#[derive(Deserialize, Debug)]
struct BackrestStatus {
    code: i64,
    message: String,
}

#[derive(Deserialize, Debug)]
struct BackrestBackup {
    label: String,
    #[serde(rename = "type")]
    kind: String,
    timestamp: BackrestTimes,
    #[serde(default)]
    archive: Option<BackrestArchive>,
    #[serde(default)]
    error: Option<bool>,
}

#[derive(Deserialize, Debug)]
struct BackrestTimes {
    stop: i64,
}

#[derive(Deserialize, Debug)]
struct BackrestArchive {
    start: Option<String>,
}

/// Reads `pgbackrest info --output=json`: the newest backup of `stanza` (or of the only
/// stanza). A stanza whose status is not ok (no valid backups, missing stanza data ...) is
/// reported with pgBackRest's own message.
pub fn parse_pgbackrest(
    json: &[u8],
    stanza: Option<&str>,
) -> Result<Result<Backup, String>, String> {
    let list: Vec<BackrestStanza> = serde_json::from_slice(json)
        .map_err(|e| format!("unexpected JSON from pgbackrest info: {e}"))?;
    let chosen = match stanza {
        Some(name) => list.iter().find(|s| s.name == name),
        None if list.len() == 1 => list.first(),
        None => {
            let names: Vec<&str> = list.iter().map(|s| s.name.as_str()).collect();
            return Err(format!(
                "pgbackrest knows {} stanzas ({}): choose one with --stanza",
                list.len(),
                names.join(", ")
            ));
        }
    };
    let Some(s) = chosen else {
        return Ok(Err(format!(
            "pgBackRest stanza {} not found",
            stanza.unwrap_or("")
        )));
    };
    let newest = s.backup.iter().max_by_key(|b| b.timestamp.stop);
    match newest {
        Some(b) => {
            let finished = Timestamp::from_second(b.timestamp.stop)
                .map_err(|e| format!("backup {}: stop time {}: {e}", b.label, b.timestamp.stop))?;
            let mut what = format!("{} ({}, stanza {})", b.label, b.kind, s.name);
            if b.error == Some(true) {
                what.push_str(", with page checksum errors");
            }
            Ok(Ok(Backup {
                finished,
                what,
                start_wal: b.archive.as_ref().and_then(|a| a.start.clone()),
            }))
        }
        None => Ok(Err(format!(
            "pgBackRest stanza {}: {} (status {})",
            s.name, s.status.message, s.status.code
        ))),
    }
}

/// `Ok(Ok(backup))`, `Ok(Err(why there is none))` (CRITICAL), or `Err` (could not tell).
pub fn pgbackrest(
    ctx: &Context,
    command: &str,
    stanza: Option<&str>,
) -> Result<Result<Backup, String>, CheckError> {
    let mut cmd = process::split_command(command)?;
    cmd.args(["info", "--output=json"]);
    if let Some(s) = stanza {
        cmd.arg(format!("--stanza={s}"));
    }
    let out = process::run(ctx, &mut cmd, "pgbackrest info", OUTPUT_CAP)?;
    if out.code != Some(0) {
        return Err(CheckError::unknown(format!(
            "pgbackrest info failed ({}): {}",
            exit_text(out.code),
            out.complaint()
        )));
    }
    parse_pgbackrest(&out.stdout, stanza).map_err(CheckError::unknown)
}

/// The newest `pg_basebackup` under `dir` (the directory itself, or one level of
/// subdirectories): plain format is a directory with `backup_manifest` (PostgreSQL 13+) or
/// `backup_label`, whose modification time is the completion time; tar format is a
/// `base.tar*` file. The start WAL comes from `backup_label` when it can be read.
pub fn basebackup_dir(dir: &Path) -> Result<Option<Backup>, CheckError> {
    let unreadable = |e: std::io::Error| {
        CheckError::unknown(format!(
            "cannot read backup directory {}: {e}",
            dir.display()
        ))
    };
    let mut candidates = vec![dir.to_path_buf()];
    for entry in std::fs::read_dir(dir).map_err(unreadable)? {
        let entry = entry.map_err(unreadable)?;
        if entry.file_type().map(|t| t.is_dir()).unwrap_or(false) {
            candidates.push(entry.path());
        }
    }
    let mut newest: Option<Backup> = None;
    for c in candidates {
        let Some((finished, marker)) = completion(&c) else {
            continue;
        };
        if newest.as_ref().is_none_or(|n| finished > n.finished) {
            let start_wal = plugin_core::files::read_text(
                &c.join("backup_label"),
                plugin_core::files::cap::STATE_FILE,
            )
            .ok()
            .and_then(|label| start_wal_from_label(&label));
            newest = Some(Backup {
                finished,
                what: format!("{} ({marker})", c.display()),
                start_wal,
            });
        }
    }
    Ok(newest)
}

fn completion(dir: &Path) -> Option<(Timestamp, &'static str)> {
    for marker in [
        "backup_manifest",
        "backup_label",
        "base.tar",
        "base.tar.gz",
        "base.tar.zst",
        "base.tar.lz4",
    ] {
        if let Ok(meta) = std::fs::metadata(dir.join(marker)) {
            let modified = meta.modified().ok()?;
            return Some((to_timestamp(modified)?, marker));
        }
    }
    None
}

fn to_timestamp(t: SystemTime) -> Option<Timestamp> {
    Timestamp::try_from(t).ok()
}

/// `START WAL LOCATION: 0/2000028 (file 000000010000000000000002)` → the file name.
pub fn start_wal_from_label(label: &str) -> Option<String> {
    let line = label
        .lines()
        .find(|l| l.starts_with("START WAL LOCATION:"))?;
    let file = line.split("(file ").nth(1)?.trim_end_matches(')').trim();
    (file.len() == 24).then(|| file.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marker_formats() {
        let zulip = parse_marker("2022-10-13T02:00:07.123456+00:00\n").unwrap();
        assert_eq!(zulip.to_string(), "2022-10-13T02:00:07.123456Z");
        // Python's str(datetime), other offsets, Z, Unix seconds.
        assert_eq!(
            parse_marker("2022-10-13 02:00:07+00:00")
                .unwrap()
                .as_second(),
            1665626407
        );
        assert_eq!(
            parse_marker("2022-10-13T04:00:07+02:00")
                .unwrap()
                .as_second(),
            1665626407
        );
        assert_eq!(
            parse_marker("2022-10-13T02:00:07Z").unwrap().as_second(),
            1665626407
        );
        assert_eq!(parse_marker("1665626407").unwrap().as_second(), 1665626407);
        let naive = parse_marker("2022-10-13T02:00:07").unwrap_err();
        assert!(naive.contains("has no UTC offset"), "{naive}");
        assert_eq!(parse_marker("  \n").unwrap_err(), "the file is empty");
        assert!(parse_marker("yesterday")
            .unwrap_err()
            .contains("is not an ISO 8601 time"));
    }

    #[test]
    fn backup_label_start_wal() {
        let label = "START WAL LOCATION: 0/2000028 (file 000000010000000000000002)\n\
                     CHECKPOINT LOCATION: 0/2000060\nBACKUP METHOD: streamed\n";
        assert_eq!(
            start_wal_from_label(label).as_deref(),
            Some("000000010000000000000002")
        );
        assert_eq!(start_wal_from_label("garbage"), None);
    }
}
