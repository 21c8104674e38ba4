//! WAL, archiving, replication and the cluster: wal_files, archive_ready, replication_slots,
//! hot_standby_delay, checkpoint, cluster_id.

use crate::activity::{nothing_matched, required, shown};
use crate::thresholds::{CountTime, Kind, Rule};
use crate::{invalid, Run};
use custos_pg::{Client, RowExt};
use plugin_core::{CheckError, Dimension, Perfdata, Range, State, SubResult, Thresholds, Uom};

/// A count of files in a server directory, against check_postgres.pl's strict rule.
fn files(run: &Run, sql: &str, label: &str, what: &str) -> Result<SubResult, CheckError> {
    let t = run.thresholds(Kind::Positive, Rule::Above)?;
    let n: f64 = run.client.query_one(sql, &[])?.col("n")?;
    Ok(
        SubResult::judged(&t, n, Dimension::Count, format!("{n} {what}"))
            .perf(Perfdata::new(label, n).thresholds(&t).min(0.0)),
    )
}

/// WAL segments in pg_wal (needs pg_monitor).
pub fn wal_files(run: &Run) -> Result<SubResult, CheckError> {
    files(
        run,
        "SELECT count(*)::float8 AS n FROM pg_ls_waldir() WHERE name ~ '^[0-9A-F]{24}$'",
        "wal_files",
        "WAL files in pg_wal",
    )
}

/// WAL segments waiting for the archiver (`.ready` in pg_wal/archive_status; check_postgres.pl
/// 2.25 looks in pg_wal itself on PostgreSQL 10 and later and always finds 0).
pub fn archive_ready(run: &Run) -> Result<SubResult, CheckError> {
    files(
        run,
        "SELECT count(*)::float8 AS n FROM pg_ls_archive_statusdir() \
         WHERE name ~ '^[0-9A-F]{24}\\.ready$'",
        "archive_ready",
        "WAL segments waiting to be archived",
    )
}

/// The replication slot that retains most WAL.
pub fn replication_slots(run: &Run) -> Result<SubResult, CheckError> {
    let t = run.thresholds(Kind::Size, Rule::AtLeast)?;
    required(run, &t, "size")?;
    let rows = run.client.query(
        "SELECT slot_name::text AS name, slot_type AS kind, active, \
                coalesce(pg_wal_lsn_diff(coalesce(pg_last_wal_receive_lsn(), pg_current_wal_lsn()), \
                                         restart_lsn), 0)::float8 AS retained \
         FROM pg_replication_slots ORDER BY 4 DESC, 1",
        &[],
    )?;
    if rows.is_empty() {
        return Ok(SubResult::ok("No replication slots found"));
    }
    let mut sub = SubResult::ok("");
    let mut most: Option<(f64, String)> = None;
    for r in &rows {
        let name: String = r.col("name")?;
        if run.filter.skip(&name, None) {
            continue;
        }
        let bytes: f64 = r.col("retained")?;
        let kind: String = r.col("kind")?;
        let active: bool = r.col("active")?;
        sub.details.push(format!(
            "slot {} ({kind}, {}): retains {}",
            shown(&name, 63),
            if active { "active" } else { "inactive" },
            Dimension::Bytes.human(bytes)
        ));
        sub.perfdata.push(
            Perfdata::new(
                format!("slot_{}", plugin_core::sanitize_label(&name)),
                bytes,
            )
            .uom(Uom::Bytes)
            .thresholds(&t)
            .min(0.0),
        );
        if most.as_ref().is_none_or(|(m, _)| bytes > *m) {
            most = Some((bytes, name));
        }
    }
    let Some((bytes, name)) = most else {
        return Ok(nothing_matched(run, "replication slots"));
    };
    let judged = SubResult::judged(
        &t,
        bytes,
        Dimension::Bytes,
        format!(
            "slot {} retains {} of WAL",
            shown(&name, 63),
            Dimension::Bytes.human(bytes)
        ),
    );
    sub.state = judged.state;
    sub.summary = judged.summary;
    Ok(sub)
}

/// An LSN (`16/B374D848`) as a byte position.
fn lsn(text: &str) -> Option<f64> {
    let (hi, lo) = text.split_once('/')?;
    let hi = u64::from_str_radix(hi, 16).ok()?;
    let lo = u64::from_str_radix(lo, 16).ok()?;
    Some(((hi << 32) + lo) as f64)
}

/// The standby's replay (and receive) lag behind the primary, of two servers (either order):
/// bytes from the exact LSN difference, and seconds since the last replayed transaction.
/// check_postgres.pl's rule: alert above the bytes and (when both are given) above the time.
// One function, about 80 lines, on purpose: check_postgres.pl's check_hot_standby_delay
// step by step (both servers' positions, bytes and time, its "and" rule), so the two read side by side.
pub fn hot_standby_delay(run: &Run) -> Result<SubResult, CheckError> {
    let parse = |t: &Option<String>, which: &str| {
        t.as_deref()
            .map(|t| CountTime::parse(t, true).map_err(|e| invalid(run.action, which, &e)))
            .transpose()
    };
    let (w, c) = (
        parse(&run.warning, "warning")?,
        parse(&run.critical, "critical")?,
    );
    if w.is_none() && c.is_none() {
        return Err(CheckError::unknown(
            "hot_standby_delay: give -w and/or -c: bytes, a time, or BYTES and TIME",
        ));
    }
    let (a, b) = (&run.clients[0], &run.clients[1]);
    let (primary, standby) = match (a.in_recovery()?, b.in_recovery()?) {
        (false, true) => (a, b),
        (true, false) => (b, a),
        _ => {
            return Ok(SubResult::new(
                State::Unknown,
                "Not a primary/standby couple (one server must be in recovery, the other not)",
            ))
        }
    };
    let (receive, replay, seconds) = standby_position(standby)?;
    let current: String = primary
        .query_one("SELECT pg_current_wal_lsn()::text AS lsn", &[])?
        .col("lsn")?;
    let (Some(current), Some(receive), Some(replay)) = (lsn(&current), receive, replay) else {
        return Ok(SubResult::new(
            State::Unknown,
            "the standby reports no WAL position (is it streaming?)",
        ));
    };
    let replay_lag = (current - replay).max(0.0);
    let receive_lag = (current - receive).max(0.0);
    let fires = |ct: &Option<CountTime>| {
        ct.is_some_and(|ct| {
            (ct.count.is_some() || ct.time.is_some())
                && ct.count.is_none_or(|n| replay_lag > n)
                && ct.time.is_none_or(|t| seconds > t)
        })
    };
    let state = if fires(&c) {
        State::Critical
    } else if fires(&w) {
        State::Warning
    } else {
        State::Ok
    };
    let bytes_t = Thresholds::new(
        w.and_then(|x| x.count).map(Range::above),
        c.and_then(|x| x.count).map(Range::above),
    );
    let time_t = Thresholds::new(
        w.and_then(|x| x.time).map(Range::above),
        c.and_then(|x| x.time).map(Range::above),
    );
    Ok(SubResult::new(
        state,
        format!(
            "the standby replays {} and {} behind the primary",
            Dimension::Bytes.human(replay_lag),
            Dimension::Time.human(seconds)
        ),
    )
    .perf(
        Perfdata::new("replay_delay", replay_lag)
            .uom(Uom::Bytes)
            .thresholds(&bytes_t)
            .min(0.0),
    )
    .perf(
        Perfdata::new("receive_delay", receive_lag)
            .uom(Uom::Bytes)
            .thresholds(&bytes_t)
            .min(0.0),
    )
    .perf(
        Perfdata::new("time_delay", seconds)
            .uom(Uom::Seconds)
            .thresholds(&time_t)
            .min(0.0),
    ))
}

/// A standby's received and replayed positions, and seconds since its last replayed commit.
fn standby_position(c: &Client) -> Result<(Option<f64>, Option<f64>, f64), CheckError> {
    let row = c.query_one(
        "SELECT pg_last_wal_receive_lsn()::text AS receive, pg_last_wal_replay_lsn()::text AS replay, \
                coalesce(round(extract(epoch FROM now() - pg_last_xact_replay_timestamp())), 0)::float8 \
                  AS seconds",
        &[],
    )?;
    let receive: Option<String> = row.col("receive")?;
    let replay: Option<String> = row.col("replay")?;
    let replay = replay.as_deref().and_then(lsn);
    Ok((
        receive.as_deref().and_then(lsn).or(replay),
        replay,
        row.col("seconds")?,
    ))
}

/// What pg_controldata says of a data directory: the cluster state, the last checkpoint's time,
/// the system identifier (run within the deadline; `LC_ALL=C` for its words).
struct Control {
    state: String,
    checkpoint: Option<f64>,
    id: String,
}

/// Debian's pg_controldata for the data directory: the one of its `PG_VERSION`, else the
/// newest installed (versions compared as numbers: 16 after 9.6).
fn debian_pg_controldata(dir: &std::path::Path) -> Option<std::path::PathBuf> {
    let base = std::path::Path::new("/usr/lib/postgresql");
    let at = |v: &str| base.join(v).join("bin/pg_controldata");
    let own = plugin_core::files::read_text(&dir.join("PG_VERSION"), 64)
        .ok()
        .map(|v| at(v.trim()))
        .filter(|p| p.exists());
    own.or_else(|| {
        let mut found: Vec<(Vec<u32>, std::path::PathBuf)> = std::fs::read_dir(base)
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| {
                let name = e.file_name().into_string().ok()?;
                let number = name
                    .split('.')
                    .map(|p| p.parse().ok())
                    .collect::<Option<_>>()?;
                Some((number, at(&name)))
            })
            .filter(|(_, p)| p.exists())
            .collect();
        found.sort();
        found.pop().map(|(_, p)| p)
    })
}

fn pg_controldata(run: &Run, dir: &std::path::Path) -> Result<Control, CheckError> {
    let program = std::env::var_os("PGCONTROLDATA")
        .map(std::path::PathBuf::from)
        .or_else(|| debian_pg_controldata(dir))
        .unwrap_or_else(|| "pg_controldata".into());
    let mut cmd = std::process::Command::new(program);
    cmd.arg(dir).env("LC_ALL", "C");
    let out = plugin_core::process::run(run.ctx, &mut cmd, "pg_controldata", 1 << 20)?;
    if out.code != Some(0) {
        return Err(CheckError::unknown(format!(
            "pg_controldata {}: {}",
            dir.display(),
            out.complaint()
        )));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .map(|v| v.trim().to_string())
    };
    let checkpoint =
        field("Time of latest checkpoint:").and_then(|t| plugin_core::parse_asctime(&t));
    Ok(Control {
        state: field("Database cluster state:").unwrap_or_default(),
        checkpoint,
        id: field("Database system identifier:").unwrap_or_default(),
    })
}

/// Time since the last checkpoint, from the server (`pg_control_checkpoint()`) or, with
/// `--datadir`, from pg_controldata; `--assume-standby-mode` / `--assume-prod` also require
/// the server to be a standby / a primary.
pub fn checkpoint(run: &Run) -> Result<SubResult, CheckError> {
    let t = run.thresholds(Kind::Time, Rule::AtLeast)?;
    required(run, &t, "time")?;
    let (age, standby) = match &run.args.datadir {
        Some(dir) => {
            let c = pg_controldata(run, dir)?;
            let at = c.checkpoint.ok_or_else(|| {
                CheckError::unknown("pg_controldata shows no time of the latest checkpoint")
            })?;
            (
                plugin_core::unix_now() - at,
                c.state.contains("in archive recovery"),
            )
        }
        None => {
            let row = run.client.query_one(
                "SELECT extract(epoch FROM now() - checkpoint_time)::float8 AS age, \
                        pg_is_in_recovery() AS standby FROM pg_control_checkpoint()",
                &[],
            )?;
            (row.col("age")?, row.col("standby")?)
        }
    };
    let age = age.max(0.0).round();
    let mut sub = SubResult::judged(
        &t,
        age,
        Dimension::Time,
        format!("last checkpoint was {} ago", Dimension::Time.human(age)),
    )
    .perf(
        Perfdata::new("checkpoint_age", age)
            .uom(Uom::Seconds)
            .thresholds(&t)
            .min(0.0),
    );
    let wrong = if run.args.assume_standby_mode && !standby {
        Some("the server is not a standby (--assume-standby-mode)")
    } else if run.args.assume_prod && standby {
        Some("the server is not a primary (--assume-prod)")
    } else {
        None
    };
    if let Some(why) = wrong {
        sub.state = State::Critical;
        sub.summary = format!("{}; {why}", sub.summary);
    }
    Ok(sub)
}

/// The expected value of -w/-c (exactly one), for cluster_id and settings_checksum: `0` shows
/// the value (UNKNOWN) so that it can be put into the configuration.
pub fn expected(run: &Run) -> Result<(State, String), CheckError> {
    match (&run.warning, &run.critical) {
        (Some(_), Some(_)) => Err(CheckError::unknown(format!(
            "{}: give -w or -c (the expected value), not both",
            run.action.name
        ))),
        (None, None) => Err(CheckError::unknown(format!(
            "{}: give the expected value as -w or -c (0 shows the current one)",
            run.action.name
        ))),
        (Some(w), None) => Ok((State::Warning, w.trim().to_string())),
        (None, Some(c)) => Ok((State::Critical, c.trim().to_string())),
    }
}

/// The cluster's system identifier against the expected one.
pub fn cluster_id(run: &Run) -> Result<SubResult, CheckError> {
    let (state, want) = expected(run)?;
    let id = match &run.args.datadir {
        Some(dir) => pg_controldata(run, dir)?.id,
        None => run
            .client
            .query_one(
                "SELECT system_identifier::text AS id FROM pg_control_system()",
                &[],
            )?
            .col("id")?,
    };
    Ok(if want == "0" {
        SubResult::new(State::Unknown, format!("cluster_id: {id}"))
    } else if want != id {
        SubResult::new(state, format!("cluster_id: {id}, expected {want}"))
    } else {
        SubResult::ok(format!("cluster_id: {id}"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lsn_positions_are_exact() {
        assert_eq!(lsn("0/0"), Some(0.0));
        assert_eq!(lsn("1/0"), Some(4294967296.0));
        assert_eq!(
            lsn("16/B374D848"),
            Some((0x16u64 << 32 | 0xB374D848) as f64)
        );
        assert_eq!(lsn("x"), None);
    }
}
