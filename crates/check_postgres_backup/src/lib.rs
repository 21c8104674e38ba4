//! check_postgres_backup: are PostgreSQL backups up to date, and is WAL archiving working?
//!
//! Zulip's check (`check_postgresql_backup`, its last version): a primary with replicas is OK
//! "this is the primary, with backups taken on the replicas"; `[postgresql] skip_backups` in
//! `/etc/zulip/zulip.conf` is OK "backups are disabled on this host"; otherwise the time in
//! `/var/lib/nagios_state/last_postgresql_backup` (written by `pg_backup_and_purge` after
//! `wal-g backup-push`) must be less than 25 hours old, else CRITICAL; an unreadable file is
//! UNKNOWN "could not determine completion time of last PostgreSQL backup". (Until 2022 a
//! replica was OK "this is not the primary": `--backups-on primary`.) Kept, and extended:
//!
//! - `--source`: the marker file, `wal-g backup-list --json --detail`, `pgbackrest info
//!   --output=json`, or a directory of `pg_basebackup` outputs;
//! - `pg_stat_archiver`: archiving failing (the last failure newer than the last success) is
//!   CRITICAL with the failing file; the age of the last archived WAL has its own thresholds;
//! - `--wal-archive-dir`: segments missing from the archive since the newest backup started.

pub mod sources;
pub mod wal;

use clap::{Parser, ValueEnum};
use custos_pg::{Client, ConnArgs, RowExt};
use jiff::Timestamp;
use plugin_core::{
    args, CheckError, CheckResult, Context, Dimension, Findings, Perfdata, Plugin, Range, Report,
    State, Thresholds, Uom,
};
use sources::Backup;
use std::path::PathBuf;

pub const PLUGIN: Plugin = Plugin::new("check_postgres_backup", env!("CARGO_PKG_VERSION"));

/// Which servers take the backups, so which are judged.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum BackupsOn {
    /// Zulip's last rule: a primary with replicas is OK (the replicas take the backups);
    /// replicas and a primary without replicas are judged
    Replicas,
    /// Zulip's rule until 2022: a replica is OK ("this is not the primary"), the primary is
    /// judged
    Primary,
    /// Judge every server
    #[value(name = "every-server")]
    EveryServer,
}

/// Where the newest backup's time comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Source {
    /// A file holding the completion time (Zulip's pg_backup_and_purge writes one)
    Marker,
    /// `wal-g backup-list --json --detail`
    #[value(name = "wal-g")]
    WalG,
    /// `pgbackrest info --output=json`
    Pgbackrest,
    /// The newest pg_basebackup in --backup-dir
    Dir,
}

#[derive(Parser, Debug)]
#[command(about = "Check that PostgreSQL backups are recent and WAL archiving works")]
pub struct Args {
    #[command(flatten)]
    pub conn: ConnArgs,

    /// Where the newest backup's time comes from
    #[arg(long = "source", value_enum, default_value = "marker")]
    pub source: Source,

    /// Marker file with the last backup's completion time (ISO 8601 with offset, or Unix seconds)
    #[arg(
        long = "marker-file",
        value_name = "PATH",
        default_value = "/var/lib/nagios_state/last_postgresql_backup"
    )]
    pub marker_file: PathBuf,

    /// Directory of pg_basebackup outputs (--source dir)
    #[arg(long = "backup-dir", value_name = "DIR")]
    pub backup_dir: Option<PathBuf>,

    /// The wal-g or pgbackrest command, with arguments (e.g. "pgbackrest --config=/etc/x.conf")
    #[arg(long = "command", value_name = "CMD")]
    pub command: Option<String>,

    /// pgBackRest stanza [default: the only one]
    #[arg(long = "stanza", value_name = "NAME")]
    pub stanza: Option<String>,

    /// Warning range on the newest backup's age (e.g. 25h) [default: none]
    #[arg(short = 'w', long = "warning", value_name = "RANGE", value_parser = args::time_range)]
    pub warning: Option<Range>,

    /// Critical range on the newest backup's age [default: 25h, as Zulip]
    #[arg(short = 'c', long = "critical", value_name = "RANGE", value_parser = args::time_range,
          default_value = "25h")]
    pub critical: Range,

    /// Warning range on the age of the last archived WAL segment (e.g. 1h) [default: none]
    #[arg(long = "archive-warning", value_name = "RANGE", value_parser = args::time_range)]
    pub archive_warning: Option<Range>,

    /// Critical range on the age of the last archived WAL segment [default: none]
    #[arg(long = "archive-critical", value_name = "RANGE", value_parser = args::time_range)]
    pub archive_critical: Option<Range>,

    /// WAL archive directory to search for missing segments since the newest backup
    #[arg(long = "wal-archive-dir", value_name = "DIR")]
    pub wal_archive_dir: Option<PathBuf>,

    /// Which servers take backups: replicas (Zulip's last rule), primary, every-server
    #[arg(
        long = "backups-on",
        value_enum,
        value_name = "WHERE",
        default_value = "replicas"
    )]
    pub backups_on: BackupsOn,

    /// Judge this server whatever its role (the same as --backups-on every-server)
    #[arg(long = "on-replica")]
    pub on_replica: bool,

    /// Zulip's server configuration: `[postgresql] skip_backups` makes the check OK
    #[arg(long = "zulip-conf", value_name = "FILE", default_value = custos_zulip::DEFAULT_CONF)]
    pub zulip_conf: PathBuf,
}

/// Zulip's rules before any backup is looked at: an OK saying why this server is not judged.
fn not_judged(args: &Args, client: &Client) -> Result<Option<Report>, CheckError> {
    let on = if args.on_replica {
        BackupsOn::EveryServer
    } else {
        args.backups_on
    };
    match on {
        BackupsOn::Replicas => {
            let n: i64 = client
                .query_one("SELECT count(*) AS n FROM pg_stat_replication", &[])?
                .col("n")?;
            if n > 0 {
                return Ok(Some(
                    Report::ok("this is the primary, with backups taken on the replicas")
                        .perf(Perfdata::new("replicas", n as f64).min(0.0)),
                ));
            }
        }
        BackupsOn::Primary if client.in_recovery()? => {
            return Ok(Some(Report::ok("this is not the primary")))
        }
        _ => {}
    }
    let conf = custos_zulip::ZulipConf::load(&args.zulip_conf).map_err(CheckError::unknown)?;
    if conf.is_some_and(|c| c.skip_backups()) {
        return Ok(Some(Report::ok("backups are disabled on this host")));
    }
    Ok(None)
}

pub fn check(args: &Args, ctx: &Context) -> CheckResult {
    // A server-wide check: the postgres database when nothing names one (check_postgres.pl's
    // and Zulip's default).
    let client = args
        .conn
        .with_default_dbname("postgres")
        .open(ctx, PLUGIN.name)?;
    if let Some(report) = not_judged(args, &client)? {
        return Ok(report);
    }
    let replica = client.in_recovery()?;
    let mut f = Findings::default();
    let mut report = Report::ok("");

    // 1. The newest backup.
    ctx.stage("finding the newest backup");
    let newest = newest_backup(args, ctx, &mut f)?;
    let measured = backup_age(args, newest.as_ref(), &mut f, &mut report);

    // 2. WAL archiving (on the primary; a replica archives only with archive_mode=always).
    let last_archived = if replica {
        None
    } else {
        archiver(args, &client, &mut f, &mut report)?
    };

    // 3. Gaps in the archive.
    if let Some(dir) = &args.wal_archive_dir {
        ctx.stage(format!("reading the WAL archive {}", dir.display()));
        gaps(
            &client,
            dir,
            newest.as_ref(),
            last_archived.as_deref(),
            &mut f,
            &mut report,
        )?;
    }

    report.state = f.state();
    report.summary = f.summary(measured.as_deref());
    Ok(report)
}

/// The newest backup's age against `-w`/`-c`: a finding when it alerts (or there is none),
/// else what the summary says of it (Zulip's words: `last PostgreSQL backup completed ...`).
fn backup_age(
    args: &Args,
    newest: Option<&Backup>,
    f: &mut Findings,
    report: &mut Report,
) -> Option<String> {
    let Some(b) = newest else {
        report
            .perfdata
            .push(Perfdata::unmeasured("backup_age").uom(Uom::Seconds));
        return None;
    };
    let age_thresholds = Thresholds::new(args.warning, Some(args.critical));
    let now = Timestamp::now();
    let age = ((now.as_millisecond() - b.finished.as_millisecond()) as f64 / 1000.0).max(0.0);
    let when = b.finished.round(jiff::Unit::Second).unwrap_or(b.finished);
    let alert = age_thresholds.alert(age, Dimension::Time);
    let why = alert
        .as_ref()
        .map(|(_, why)| format!(" ({why})"))
        .unwrap_or_default();
    let text = format!(
        "last PostgreSQL backup completed {} ago{why}: {when}",
        Dimension::Time.human(age)
    );
    report.details.push(format!("newest backup: {}", b.what));
    report.perfdata.push(
        Perfdata::new("backup_age", age.round())
            .uom(Uom::Seconds)
            .thresholds(&age_thresholds)
            .min(0.0),
    );
    match alert {
        Some((state, _)) => {
            f.add(state, text);
            None
        }
        None => Some(text),
    }
}

fn newest_backup(
    args: &Args,
    ctx: &Context,
    f: &mut Findings,
) -> Result<Option<Backup>, CheckError> {
    let none = |f: &mut Findings, why: String| {
        f.add(State::Critical, why);
        None
    };
    Ok(match args.source {
        Source::Marker => Some(sources::marker(&args.marker_file)?),
        Source::WalG => {
            let cmd = args.command.as_deref().unwrap_or("wal-g");
            match sources::walg(ctx, cmd)? {
                Some(b) => Some(b),
                None => none(f, "no backup found: wal-g lists no backups".into()),
            }
        }
        Source::Pgbackrest => {
            let cmd = args.command.as_deref().unwrap_or("pgbackrest");
            match sources::pgbackrest(ctx, cmd, args.stanza.as_deref())? {
                Ok(b) => Some(b),
                Err(why) => none(f, format!("no backup found: {why}")),
            }
        }
        Source::Dir => {
            let dir = args
                .backup_dir
                .as_ref()
                .ok_or_else(|| CheckError::unknown("--source dir needs --backup-dir DIR"))?;
            match sources::basebackup_dir(dir)? {
                Some(b) => Some(b),
                None => none(
                    f,
                    format!(
                        "no backup found: no pg_basebackup output in {}",
                        dir.display()
                    ),
                ),
            }
        }
    })
}

/// `pg_stat_archiver`: failing archiving, age of the last archived segment. Returns the last
/// archived segment's name.
fn archiver(
    args: &Args,
    client: &Client,
    f: &mut Findings,
    report: &mut Report,
) -> Result<Option<String>, CheckError> {
    let row = client.query_one(
        "SELECT current_setting('archive_mode') AS mode, archived_count, last_archived_wal, \
                extract(epoch FROM now() - last_archived_time)::float8 AS archive_age, \
                failed_count, last_failed_wal, \
                extract(epoch FROM now() - last_failed_time)::float8 AS failed_age, \
                coalesce(last_failed_time > coalesce(last_archived_time, '-infinity'), false) \
                  AS failing \
         FROM pg_stat_archiver",
        &[],
    )?;
    let mode: String = row.col("mode")?;
    if mode == "off" {
        report
            .details
            .push("WAL archiving is off (archive_mode = off)".into());
        return Ok(None);
    }
    let archived: i64 = row.col("archived_count")?;
    let last_wal: Option<String> = row.col("last_archived_wal")?;
    let archive_age: Option<f64> = row.col("archive_age")?;
    let failed: i64 = row.col("failed_count")?;
    let failed_wal: Option<String> = row.col("last_failed_wal")?;
    let failed_age: Option<f64> = row.col("failed_age")?;
    let failing: bool = row.col("failing")?;
    if failing {
        f.add(
            State::Critical,
            format!(
                "WAL archiving is failing: {} failed {} ago ({failed} failures since the statistics reset)",
                failed_wal.as_deref().unwrap_or("?"),
                Dimension::Time.human(failed_age.unwrap_or(0.0).max(0.0))
            ),
        );
    }
    archive_age_judged(args, archive_age, f, report);
    report.perfdata.push(
        Perfdata::new("archive_failed", failed as f64)
            .uom(Uom::Counter)
            .min(0.0),
    );
    report.details.push(format!(
        "archiver: {archived} archived, last {}; {failed} failed{}",
        last_wal.as_deref().unwrap_or("none"),
        failed_wal
            .map(|w| format!(", last {w}"))
            .unwrap_or_default()
    ));
    Ok(last_wal)
}

/// The age of the last archived segment against `--archive-warning`/`--archive-critical`.
fn archive_age_judged(
    args: &Args,
    archive_age: Option<f64>,
    f: &mut Findings,
    report: &mut Report,
) {
    let t = Thresholds::new(args.archive_warning, args.archive_critical);
    match archive_age {
        Some(age) => {
            let age = age.max(0.0);
            if let Some((state, why)) = t.alert(age, Dimension::Time) {
                f.add(
                    state,
                    format!(
                        "last WAL segment archived {} ago ({why})",
                        Dimension::Time.human(age)
                    ),
                );
            }
            report.perfdata.push(
                Perfdata::new("archive_age", age.round())
                    .uom(Uom::Seconds)
                    .thresholds(&t)
                    .min(0.0),
            );
        }
        None => {
            if t.warning.is_some() || t.critical.is_some() {
                f.add(State::Warning, "no WAL segment has been archived yet");
            }
            report
                .perfdata
                .push(Perfdata::unmeasured("archive_age").uom(Uom::Seconds));
        }
    }
}

/// Segments missing from `dir` between the newest backup's start (else the oldest segment
/// there) and the newest segment archived (there, or per pg_stat_archiver).
// One function, about 80 lines, on purpose: the walk from the first segment to the last
// (timeline, log and segment numbers) keeps its counters in one place.
fn gaps(
    client: &Client,
    dir: &std::path::Path,
    newest: Option<&Backup>,
    last_archived: Option<&str>,
    f: &mut Findings,
    report: &mut Report,
) -> Result<(), CheckError> {
    let size: i64 = client
        .query_one(
            "SELECT pg_size_bytes(current_setting('wal_segment_size')) AS size",
            &[],
        )?
        .col("size")?;
    let size = size.max(1) as u64;
    let archive = wal::scan(dir, size).map_err(|e| {
        CheckError::unknown(format!(
            "cannot read the WAL archive {}: {e}",
            dir.display()
        ))
    })?;
    let start = newest
        .and_then(|b| b.start_wal.as_deref())
        .and_then(|w| wal::parse(w, size))
        .or(archive.newest_backup_start)
        .or(archive.oldest);
    let end = [
        archive.newest,
        last_archived.and_then(|w| wal::parse(w, size)),
    ]
    .into_iter()
    .flatten()
    .max_by_key(|s| s.number);
    let (Some(start), Some(end)) = (start, end) else {
        report
            .details
            .push(format!("WAL archive {}: no segments", dir.display()));
        report
            .perfdata
            .push(Perfdata::new("wal_missing", 0.0).min(0.0));
        return Ok(());
    };
    let (listed, count) = wal::missing(&archive, start.number, end.number, 5);
    report
        .perfdata
        .push(Perfdata::new("wal_missing", count as f64).min(0.0));
    let span = format!(
        "{} to {}",
        wal::name(start.timeline, start.number, size),
        wal::name(end.timeline, end.number, size)
    );
    if count > 0 {
        let names: Vec<String> = listed
            .iter()
            .map(|n| wal::name(end.timeline, *n, size))
            .collect();
        f.add(
            State::Critical,
            format!(
                "{count} WAL segment{} missing from {} since the newest backup (first: {})",
                if count == 1 { "" } else { "s" },
                dir.display(),
                names.first().cloned().unwrap_or_default()
            ),
        );
        report.details.push(format!(
            "missing WAL segments: {}{}",
            names.join(", "),
            if count as usize > names.len() {
                ", ..."
            } else {
                ""
            }
        ));
    }
    report.details.push(format!(
        "WAL archive {}: {} segment files, {span} checked",
        dir.display(),
        archive.files
    ));
    Ok(())
}
