//! check_postgres_replication_lag: streaming replication health, from either side
//! (`pg_is_in_recovery()` decides).
//!
//! - Primary (`pg_stat_replication`): how many replicas (Zulip: 0 CRITICAL, 1 WARNING, 2+ OK),
//!   each must be `streaming`, and how far each is behind in write, flush and replay, in bytes
//!   from `pg_wal_lsn_diff(pg_current_wal_lsn(), ...)`: exact, where Zulip and check_postgres.pl
//!   compute `0xFF000000 * hi + lo`, which is wrong by 16 MiB per 4 GiB of WAL. Time lag from
//!   `replay_lag`, and 0 for a replica that has replayed everything (the server keeps showing
//!   the last measurement for a while on an idle primary).
//! - Replica (`pg_stat_wal_receiver`): must be streaming (else Zulip's "Replaying WAL logs from
//!   backups" or "replica is in state X"), received-but-not-replayed bytes, and the replay delay,
//!   which is 0 when everything received is replayed, so that it does not grow while the primary
//!   is idle (check_postgres.pl's `now() - pg_last_xact_replay_timestamp()` does).
//!
//! Byte thresholds default to Zulip's 16 MiB / 80 MiB. The role needs `pg_monitor` (as
//! Zulip's nagios role has) to see the LSN columns; without it the check says so.

use clap::Parser;
use custos_pg::{Client, ConnArgs, RowExt};
use plugin_core::{
    args, CheckError, CheckResult, Context, Dimension, Findings, Perfdata, Plugin, Range, Report,
    State, Thresholds, Uom,
};

pub const PLUGIN: Plugin = Plugin::new("check_postgres_replication_lag", env!("CARGO_PKG_VERSION"));

#[derive(Parser, Debug)]
#[command(about = "Check PostgreSQL streaming replication from the primary or a replica")]
pub struct Args {
    #[command(flatten)]
    pub conn: ConnArgs,

    /// Warning range on each replica's lag in bytes (write, flush, replay) [default: 16MiB]
    #[arg(short = 'w', long = "warning", value_name = "RANGE", value_parser = args::bytes_range,
          default_value = "16MiB")]
    pub warning: Range,

    /// Critical range on each replica's lag in bytes [default: 80MiB]
    #[arg(short = 'c', long = "critical", value_name = "RANGE", value_parser = args::bytes_range,
          default_value = "80MiB")]
    pub critical: Range,

    /// Warning range on the replay lag in time (e.g. 1min) [default: none]
    #[arg(long = "time-warning", value_name = "RANGE", value_parser = args::time_range)]
    pub time_warning: Option<Range>,

    /// Critical range on the replay lag in time (e.g. 5min) [default: none]
    #[arg(long = "time-critical", value_name = "RANGE", value_parser = args::time_range)]
    pub time_critical: Option<Range>,

    /// On a primary: warning range on the number of replicas [default: 2:, i.e. fewer than 2]
    #[arg(long = "replicas-warning", value_name = "RANGE", value_parser = args::count_range,
          default_value = "2:")]
    pub replicas_warning: Range,

    /// On a primary: critical range on the number of replicas [default: 1:, i.e. none]
    #[arg(long = "replicas-critical", value_name = "RANGE", value_parser = args::count_range,
          default_value = "1:")]
    pub replicas_critical: Range,
}

/// Findings and perfdata as the check goes.
struct Judge<'a> {
    args: &'a Args,
    found: Findings,
    report: Report,
}

impl Judge<'_> {
    /// Adds `label`'s perfdata (U when not measured) and, when the value alerts, the finding
    /// `{what(value in words)} ({why})`. Returns the value in words (`?` when not measured).
    fn metric(
        &mut self,
        label: String,
        value: Option<f64>,
        dim: Dimension,
        t: Thresholds,
        what: impl Fn(&str) -> String,
    ) -> String {
        let Some(v) = value else {
            self.report
                .perfdata
                .push(Perfdata::unmeasured(label).uom(Uom::of(dim)));
            return "?".to_string();
        };
        let v = v.max(0.0);
        let words = dim.human(v);
        if let Some((state, why)) = t.alert(v, dim) {
            self.found.add(state, format!("{} ({why})", what(&words)));
        }
        self.report.perfdata.push(
            Perfdata::new(label, v)
                .uom(Uom::of(dim))
                .thresholds(&t)
                .min(0.0),
        );
        words
    }

    fn bytes(&self) -> Thresholds {
        Thresholds::new(Some(self.args.warning), Some(self.args.critical))
    }

    fn time(&self) -> Thresholds {
        Thresholds::new(self.args.time_warning, self.args.time_critical)
    }

    /// The report: findings worst first, then what was measured.
    fn finish(mut self, measured: String) -> Report {
        self.report.state = self.found.state();
        self.report.summary = self.found.summary(Some(&measured));
        self.report
    }
}

pub fn check(args: &Args, ctx: &Context) -> CheckResult {
    // A server-wide check: the postgres database when nothing names one (check_postgres.pl's
    // and Zulip's default).
    let client = args
        .conn
        .with_default_dbname("postgres")
        .open(ctx, PLUGIN.name)?;
    let judge = Judge {
        args,
        found: Findings::default(),
        report: Report::ok(""),
    };
    if client.in_recovery()? {
        replica(&client, judge)
    } else {
        primary(&client, judge)
    }
}

fn primary(client: &Client, mut j: Judge) -> CheckResult {
    // pg_basebackup's own WAL senders (state 'backup') are not replicas.
    let rows = client.query(
        "SELECT coalesce(nullif(application_name, ''), host(client_addr), 'local') AS name, \
                coalesce(host(client_addr), 'local') AS addr, state, \
                pg_wal_lsn_diff(pg_current_wal_lsn(), write_lsn)::float8 AS write, \
                pg_wal_lsn_diff(pg_current_wal_lsn(), flush_lsn)::float8 AS flush, \
                pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)::float8 AS replay, \
                extract(epoch FROM replay_lag)::float8 AS replay_time \
         FROM pg_stat_replication WHERE state IS DISTINCT FROM 'backup' ORDER BY 1, 2",
        &[],
    )?;
    let count = rows.len() as f64;
    let counts = Thresholds::new(
        Some(j.args.replicas_warning),
        Some(j.args.replicas_critical),
    );
    let state = counts.evaluate(count);
    if state != State::Ok {
        let text = match rows.len() {
            0 => "No replicas!".to_string(),
            1 => "Only one replica!".to_string(),
            n => format!("only {n} replicas"),
        };
        j.found.add(state, text);
    }
    j.report.perfdata.push(
        Perfdata::new("replicas", count)
            .thresholds(&counts)
            .min(0.0),
    );
    let mut streaming = 0;
    let mut max_replay: Option<(f64, String)> = None;
    for row in &rows {
        let (name, is_streaming, replay) = one_replica(row, &mut j)?;
        streaming += usize::from(is_streaming);
        if let Some(v) = replay.filter(|v| max_replay.as_ref().is_none_or(|(m, _)| v > m)) {
            max_replay = Some((v, name));
        }
    }
    let measured = match (rows.len(), max_replay) {
        (0, _) => "primary".to_string(),
        // Zulip's words ("Found N replicas"), then what custos measured.
        (n, Some((v, who))) => format!(
            "Found {n} replica{} ({streaming} streaming), replay lag at most {} ({who})",
            if n == 1 { "" } else { "s" },
            Dimension::Bytes.human(v)
        ),
        (n, None) => format!("Found {n} replicas ({streaming} streaming)"),
    };
    Ok(j.finish(measured))
}

/// One replica as the primary sees it: its state, its write, flush and replay lags in bytes
/// and its replay lag in time, judged; (its name, streaming or not, its replay lag in bytes).
fn one_replica(
    row: &custos_pg::Row,
    j: &mut Judge,
) -> Result<(String, bool, Option<f64>), CheckError> {
    let name: String = row.col("name")?;
    let addr: String = row.col("addr")?;
    let state: Option<String> = row.col("state")?;
    let lags: [Option<f64>; 3] = [row.col("write")?, row.col("flush")?, row.col("replay")?];
    let replay_time: Option<f64> = row.col("replay_time")?;
    let Some(state) = state else {
        return Err(CheckError::unknown(
            "no permission to see pg_stat_replication details: grant pg_monitor to the role",
        ));
    };
    let streaming = state == "streaming";
    if !streaming {
        j.found.add(
            State::Critical,
            format!("replica {name} is in state {state}, not streaming"),
        );
    }
    let mut line = format!("{name} ({addr}): {state}");
    for (kind, lag) in ["write", "flush", "replay"].into_iter().zip(lags) {
        let t = j.bytes();
        let words = j.metric(format!("{name}_{kind}"), lag, Dimension::Bytes, t, |w| {
            format!("replica {name} is {w} behind in {kind}")
        });
        line.push_str(&format!(", {kind} {words}"));
    }
    // A replica that has replayed everything is not behind: 0. (The server keeps showing the
    // last measured replay_lag for a while after catching up, then NULL.)
    let time = if lags[2] == Some(0.0) {
        Some(0.0)
    } else {
        replay_time
    };
    let t = j.time();
    let words = j.metric(
        format!("{name}_replay_lag"),
        time,
        Dimension::Time,
        t,
        |w| format!("replica {name} replay lag is {w}"),
    );
    line.push_str(&format!(", replay lag {words}"));
    j.report.details.push(line);
    Ok((name, streaming, lags[2]))
}

/// What a replica's WAL receiver shows.
struct Receiver {
    /// Its state (`streaming`, ...); `None`: no WAL receiver.
    status: Option<String>,
    /// The primary it streams from, in words.
    primary: String,
    /// WAL received and not yet replayed, in bytes.
    gap: Option<f64>,
    /// Seconds since the last replayed transaction was committed (0 when all is replayed).
    delay: Option<f64>,
    paused: bool,
}

/// Reads the replica's WAL receiver (one row, also without a receiver).
fn receiver(client: &Client) -> Result<Receiver, CheckError> {
    let row = client.query_one(
        "SELECT r.pid, r.status, r.sender_host, r.sender_port, \
                pg_wal_lsn_diff(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn())::float8 AS gap, \
                CASE WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0 \
                     ELSE extract(epoch FROM now() - pg_last_xact_replay_timestamp())::float8 END \
                  AS delay, \
                pg_is_wal_replay_paused() AS paused \
         FROM (SELECT 1) one LEFT JOIN pg_stat_wal_receiver r ON true",
        &[],
    )?;
    let pid: Option<i32> = row.col("pid")?;
    let status: Option<String> = row.col("status")?;
    if pid.is_some() && status.is_none() {
        // PostgreSQL shows a role without pg_read_all_stats only the receiver's pid.
        return Err(CheckError::unknown(
            "no permission to see pg_stat_wal_receiver details: grant pg_monitor to the role",
        ));
    }
    let sender_host: Option<String> = row.col("sender_host")?;
    let sender_port: Option<i32> = row.col("sender_port")?;
    let primary = match (sender_host, sender_port) {
        (Some(h), Some(p)) => format!("{h}:{p}"),
        (Some(h), None) => h,
        _ => "the primary".to_string(),
    };
    Ok(Receiver {
        status,
        primary,
        gap: row.col("gap")?,
        delay: row.col("delay")?,
        paused: row.col("paused")?,
    })
}

fn replica(client: &Client, mut j: Judge) -> CheckResult {
    let r = receiver(client)?;
    match r.status.as_deref() {
        None => j.found.add(
            State::Critical,
            "Replaying WAL logs from backups (no WAL receiver)",
        ),
        Some("streaming") => {}
        Some(s) => j.found.add(
            State::Critical,
            format!("replica is in state {s}, not streaming"),
        ),
    }
    let t = j.bytes();
    let gap = j.metric("replay".into(), r.gap, Dimension::Bytes, t, |w| {
        format!("replica is {w} behind in replay of WAL received")
    });
    let t = j.time();
    let delay_words = j.metric("replay_lag".into(), r.delay, Dimension::Time, t, |w| {
        format!("replica replay lag is {w}")
    });
    // Zulip's words: "replica is N bytes behind in replay of WAL logs from PRIMARY".
    let primary = &r.primary;
    let mut measured = match r.gap {
        Some(b) => format!(
            "replica is {} bytes behind in replay of WAL logs from {primary} ({gap})",
            b.round()
        ),
        None => format!("replica of {primary}, {gap} behind in replay"),
    };
    if r.delay.is_some() {
        measured.push_str(&format!(", replay lag {delay_words}"));
    }
    if r.paused {
        measured.push_str(" (replay paused)");
    }
    j.report.details.push(format!(
        "WAL receiver: {}",
        r.status.as_deref().unwrap_or("not running")
    ));
    Ok(j.finish(measured))
}
