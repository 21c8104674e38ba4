//! check_postgres: PostgreSQL health, a drop-in for Bucardo's check_postgres.pl: its actions,
//! its option names and threshold spellings, and its states, over one connection per server,
//! several actions per run (`--action backends,locks`), the worst state winning.
//!
//! The page of this crate:
//! - [`ACTIONS`], the table: every action with its family module, what it measures, its
//!   default thresholds (check_postgres.pl's) and how it reads `-w`/`-c`;
//! - [`options`]: check_postgres.pl's command line (`-db`, `--dbhost2=`, the
//!   `check_postgres_<action>` names) and the servers it names ([`options::targets`]);
//! - [`thresholds`]: its threshold spellings, and Nagios ranges, one table;
//! - [`filter`]: `--include`/`--exclude` and `--includeuser`/`--excludeuser`;
//! - the families: [`activity`] (sessions, locks, transactions, ratios), [`vacuum`] (freeze,
//!   wraparound, vacuum and analyze times, bloat), [`sizes`], [`wal`] (WAL, archiving,
//!   replication, checkpoints, the cluster), [`schema`] (triggers, sequences, settings, schema
//!   comparison, version), [`custom`] (custom_query, query_runtime, replicate_row).

pub mod activity;
pub mod custom;
pub mod filter;
pub mod options;
pub mod schema;
pub mod sizes;
pub mod thresholds;
pub mod vacuum;
pub mod wal;

use clap::Parser;
use custos_pg::{Client, ConnArgs};
use filter::Filter;
use plugin_core::{
    CheckError, CheckResult, Context, Findings, Plugin, Range, Report, State, SubResult, Thresholds,
};
use thresholds::{Kind, Rule};

pub const PLUGIN: Plugin =
    Plugin::new("check_postgres", env!("CARGO_PKG_VERSION")).with_rewrite_args(options::rewrite);

/// How an action reads `-w`/`-c` (check_postgres.pl's `validate_range` types, and its own
/// parsers where it has one).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Values {
    /// No thresholds are taken (connection, dbstats, same_schema).
    None,
    /// One value of this kind, compared by the rule; `needed`: at least one of -w/-c is
    /// required when there is no default.
    Simple(Kind, Rule, bool),
    /// backends: `N`, `N%` or `-N` (free slots).
    Backends,
    /// locks: a total, or `total=N`, `waiting=N`, `exclusive=N`, ...
    Locks,
    /// query_time, txn_time, txn_idle: seconds, a time, `+N` sessions, or `N for TIME`.
    CountTime,
    /// hot_standby_delay: bytes, a time, or `BYTES and TIME`.
    BytesTime,
    /// bloat: a size, a percentage, or `SIZE and PERCENT` / `or`.
    SizeOrPercent,
    /// An expected value (settings_checksum, cluster_id, version): exactly one of -w/-c.
    Expected,
    /// custom_query: by `--valtype`.
    Custom,
}

/// One check_postgres.pl action.
pub struct Action {
    pub name: &'static str,
    /// What is measured, for --help and the README.
    pub about: &'static str,
    /// check_postgres.pl's defaults (used only when neither -w nor -c is given).
    pub warning: Option<&'static str>,
    pub critical: Option<&'static str>,
    pub values: Values,
    /// Servers it needs: 1, or 2 (hot_standby_delay, replicate_row, same_schema).
    pub targets: usize,
    run: fn(&Run) -> Result<SubResult, CheckError>,
}

/// Every action, in check_postgres.pl's order. Defaults are check_postgres.pl 2.25's.
pub const ACTIONS: &[Action] = &[
    act(
        "archive_ready",
        "WAL segments waiting to be archived (.ready files)",
        Some("10"),
        Some("15"),
        Values::Simple(Kind::Positive, Rule::Above, true),
        1,
        wal::archive_ready,
    ),
    act(
        "autovac_freeze",
        "per database, age(datfrozenxid) as % of autovacuum_freeze_max_age",
        Some("90%"),
        Some("95%"),
        Values::Simple(Kind::Percent, Rule::AtLeast, true),
        1,
        vacuum::autovac_freeze,
    ),
    act(
        "backends",
        "connections, of max_connections (N, N% or -N free)",
        Some("90%"),
        Some("95%"),
        Values::Backends,
        1,
        activity::backends,
    ),
    act(
        "bloat",
        "wasted space in tables and indexes (size, %, or both)",
        Some("1 GB"),
        Some("5 GB"),
        Values::SizeOrPercent,
        1,
        vacuum::bloat,
    ),
    act(
        "checkpoint",
        "time since the last checkpoint (pg_control_checkpoint, or --datadir)",
        None,
        None,
        Values::Simple(Kind::Time, Rule::AtLeast, true),
        1,
        wal::checkpoint,
    ),
    act(
        "cluster_id",
        "the database system identifier, against the expected one",
        None,
        None,
        Values::Expected,
        1,
        wal::cluster_id,
    ),
    act(
        "commitratio",
        "lowest commit ratio of a database (lower is worse)",
        None,
        None,
        Values::Simple(Kind::Percent, Rule::AtMost, false),
        1,
        activity::commitratio,
    ),
    act(
        "connection",
        "connect and run SELECT version()",
        None,
        None,
        Values::None,
        1,
        activity::connection,
    ),
    act(
        "custom_query",
        "the result column of --query (--valtype, --reverse)",
        None,
        None,
        Values::Custom,
        1,
        custom::custom_query,
    ),
    act(
        "database_size",
        "size of the biggest database",
        None,
        None,
        Values::Simple(Kind::Size, Rule::AtLeast, true),
        1,
        sizes::database_size,
    ),
    act(
        "dbstats",
        "per-database statistics, for Cacti (no thresholds)",
        None,
        None,
        Values::None,
        1,
        activity::dbstats,
    ),
    act(
        "disabled_triggers",
        "disabled triggers in the database",
        Some("1"),
        Some("1"),
        Values::Simple(Kind::Positive, Rule::AtLeast, true),
        1,
        schema::disabled_triggers,
    ),
    act(
        "fsm_pages",
        "gone from PostgreSQL since 8.4 (UNKNOWN, as check_postgres.pl)",
        None,
        None,
        Values::None,
        1,
        schema::gone,
    ),
    act(
        "fsm_relations",
        "gone from PostgreSQL since 8.4 (UNKNOWN, as check_postgres.pl)",
        None,
        None,
        Values::None,
        1,
        schema::gone,
    ),
    act(
        "hitratio",
        "lowest buffer cache hit ratio of a database (lower is worse)",
        None,
        None,
        Values::Simple(Kind::Percent, Rule::AtMost, false),
        1,
        activity::hitratio,
    ),
    act(
        "hot_standby_delay",
        "replay lag of the standby behind the primary (two servers)",
        None,
        None,
        Values::BytesTime,
        2,
        wal::hot_standby_delay,
    ),
    act(
        "index_size",
        "size of the biggest index",
        None,
        None,
        Values::Simple(Kind::Size, Rule::AtLeast, true),
        1,
        sizes::index_size,
    ),
    act(
        "indexes_size",
        "size of the indexes of the table that has most",
        None,
        None,
        Values::Simple(Kind::Size, Rule::AtLeast, true),
        1,
        sizes::indexes_size,
    ),
    act(
        "last_analyze",
        "time since the table least recently analyzed was",
        Some("1 day"),
        Some("2 days"),
        Values::Simple(Kind::Time, Rule::AtLeast, true),
        1,
        vacuum::last_analyze,
    ),
    act(
        "last_autoanalyze",
        "time since the table least recently autoanalyzed was",
        Some("1 day"),
        Some("2 days"),
        Values::Simple(Kind::Time, Rule::AtLeast, true),
        1,
        vacuum::last_autoanalyze,
    ),
    act(
        "last_autovacuum",
        "time since the table least recently autovacuumed was",
        Some("1 day"),
        Some("2 days"),
        Values::Simple(Kind::Time, Rule::AtLeast, true),
        1,
        vacuum::last_autovacuum,
    ),
    act(
        "last_vacuum",
        "time since the table least recently vacuumed was",
        Some("1 day"),
        Some("2 days"),
        Values::Simple(Kind::Time, Rule::AtLeast, true),
        1,
        vacuum::last_vacuum,
    ),
    act(
        "locks",
        "locks held or awaited (total=, waiting=, or per mode)",
        Some("100"),
        Some("150"),
        Values::Locks,
        1,
        activity::locks,
    ),
    act(
        "lockwait",
        "longest time a session has waited for a lock another holds",
        None,
        None,
        Values::Simple(Kind::Time, Rule::AtLeast, true),
        1,
        activity::lockwait,
    ),
    act(
        "prepared_txns",
        "age of the oldest prepared transaction",
        Some("1"),
        Some("30"),
        Values::Simple(Kind::Seconds, Rule::AtLeast, true),
        1,
        activity::prepared_txns,
    ),
    act(
        "query_runtime",
        "run time of SELECT COUNT(1) FROM --queryname",
        None,
        None,
        Values::Simple(Kind::Time, Rule::AtLeast, true),
        1,
        custom::query_runtime,
    ),
    act(
        "query_time",
        "longest running query (time, +sessions, or N for TIME)",
        None,
        None,
        Values::CountTime,
        1,
        activity::query_time,
    ),
    act(
        "relation_size",
        "size of the biggest table or index",
        None,
        None,
        Values::Simple(Kind::Size, Rule::AtLeast, true),
        1,
        sizes::relation_size,
    ),
    act(
        "replicate_row",
        "time a row change takes to reach the replicas (writes; --repinfo)",
        None,
        None,
        Values::Simple(Kind::Time, Rule::Above, true),
        2,
        custom::replicate_row,
    ),
    act(
        "replication_slots",
        "WAL retained by the replication slot that holds most",
        None,
        None,
        Values::Simple(Kind::Size, Rule::AtLeast, true),
        1,
        wal::replication_slots,
    ),
    act(
        "same_schema",
        "tables, columns, indexes, constraints, functions equal on two servers",
        None,
        None,
        Values::None,
        2,
        schema::same_schema,
    ),
    act(
        "sequence",
        "most used sequence, % of its range",
        Some("85%"),
        Some("95%"),
        Values::Simple(Kind::Percent, Rule::AtLeast, true),
        1,
        schema::sequence,
    ),
    act(
        "settings_checksum",
        "checksum of the server's settings, against the expected one",
        None,
        None,
        Values::Expected,
        1,
        schema::settings_checksum,
    ),
    act(
        "table_size",
        "size of the biggest table",
        None,
        None,
        Values::Simple(Kind::Size, Rule::AtLeast, true),
        1,
        sizes::table_size,
    ),
    act(
        "timesync",
        "difference between the server's clock and this host's",
        Some("2"),
        Some("5"),
        Values::Simple(Kind::Seconds, Rule::AtLeast, true),
        1,
        activity::timesync,
    ),
    act(
        "total_relation_size",
        "size of the biggest table with its indexes and TOAST",
        None,
        None,
        Values::Simple(Kind::Size, Rule::AtLeast, true),
        1,
        sizes::total_relation_size,
    ),
    act(
        "txn_idle",
        "longest idle-in-transaction session (time, +sessions, or N for TIME)",
        None,
        None,
        Values::CountTime,
        1,
        activity::txn_idle,
    ),
    act(
        "txn_time",
        "longest open transaction (time, +sessions, or N for TIME)",
        None,
        None,
        Values::CountTime,
        1,
        activity::txn_time,
    ),
    act(
        "txn_wraparound",
        "highest age(datfrozenxid) of any database",
        Some("1300000000"),
        Some("1400000000"),
        Values::Simple(Kind::Positive, Rule::AtLeast, true),
        1,
        vacuum::txn_wraparound,
    ),
    act(
        "version",
        "the server's version, against the expected one (X.Y or X.Y.Z)",
        None,
        None,
        Values::Expected,
        1,
        schema::version,
    ),
    act(
        "wal_files",
        "WAL segments in pg_wal",
        Some("10"),
        Some("15"),
        Values::Simple(Kind::Positive, Rule::Above, true),
        1,
        wal::wal_files,
    ),
];

#[allow(clippy::too_many_arguments)] // a table row, one field per column
const fn act(
    name: &'static str,
    about: &'static str,
    warning: Option<&'static str>,
    critical: Option<&'static str>,
    values: Values,
    targets: usize,
    run: fn(&Run) -> Result<SubResult, CheckError>,
) -> Action {
    Action {
        name,
        about,
        warning,
        critical,
        values,
        targets,
        run,
    }
}

/// check_postgres.pl actions custos does not run, and why (the README says so too).
pub const NOT_RUN: &[(&str, &str)] = &[
    (
        "disk_space",
        "it runs df on the database host: use check_disk there",
    ),
    (
        "logfile",
        "it needs the server's log file on this host: use a log monitor",
    ),
    ("listener", "pg_listener is gone since PostgreSQL 9.0"),
    ("new_version_bc", "it asks bucardo.org about Bucardo"),
    ("new_version_box", "it asks bucardo.org about boxinfo"),
    (
        "new_version_cp",
        "it asks bucardo.org about check_postgres.pl itself",
    ),
    (
        "new_version_pg",
        "it needs Internet access to postgresql.org",
    ),
    ("new_version_tnm", "it asks bucardo.org about tail_n_mail"),
    ("pgagent_jobs", "it needs pgAgent"),
    ("pgb_pool_cl_active", "it needs pgbouncer"),
    ("pgb_pool_cl_waiting", "it needs pgbouncer"),
    ("pgb_pool_sv_active", "it needs pgbouncer"),
    ("pgb_pool_sv_idle", "it needs pgbouncer"),
    ("pgb_pool_sv_used", "it needs pgbouncer"),
    ("pgb_pool_sv_tested", "it needs pgbouncer"),
    ("pgb_pool_sv_login", "it needs pgbouncer"),
    ("pgb_pool_maxwait", "it needs pgbouncer"),
    ("pgbouncer_backends", "it needs pgbouncer"),
    ("pgbouncer_checksum", "it needs pgbouncer"),
    ("slony_status", "it needs Slony-I"),
];

/// The actions with what they measure and their default thresholds, for --help.
fn actions_help() -> String {
    let mut text = String::from("Actions (default warning / critical, check_postgres.pl's):\n");
    for a in ACTIONS {
        let defaults = match (a.warning, a.critical) {
            (None, None) => "none".to_string(),
            (w, c) => format!("{} / {}", w.unwrap_or("-"), c.unwrap_or("-")),
        };
        text.push_str(&format!("  {:<20} {} [{defaults}]\n", a.name, a.about));
    }
    text.push_str(
        "\n-w/-c: a check_postgres.pl value (alerts at it: 100, \"20 seconds\", \"1 GB\", 90%) or a \
         Nagios range (~:100, @10:20, 90:); ACTION=VALUE pairs for several actions.\n\
         Also run as check_postgres_<action> (check_postgres.pl's --symlinks names).",
    );
    text
}

#[derive(Parser, Debug)]
#[command(
    about = "Check PostgreSQL health: check_postgres.pl's actions, several per connection",
    after_help = actions_help()
)]
pub struct Args {
    #[command(flatten)]
    pub conn: ConnArgs,

    /// Actions to run, comma-separated; the worst result wins [default: connection, or the
    /// action in the program name]
    #[arg(long = "action", value_name = "LIST", value_delimiter = ',')]
    pub action: Vec<String>,

    /// Warning: a check_postgres.pl value, a Nagios range, or ACTION=VALUE pairs (comma-separated)
    #[arg(short = 'w', long = "warning", value_name = "RANGE")]
    pub warning: Option<String>,

    /// Critical: a check_postgres.pl value, a Nagios range, or ACTION=VALUE pairs
    #[arg(short = 'c', long = "critical", value_name = "RANGE")]
    pub critical: Option<String>,

    /// Only these databases / tables / sequences / slots (comma-separated, repeatable; ~REGEX for
    /// a pattern, a trailing dot for a schema)
    #[arg(long = "include", value_name = "NAMES")]
    pub include: Vec<String>,

    /// Not these (same syntax; with --include, what --include names is kept anyway)
    #[arg(long = "exclude", value_name = "NAMES")]
    pub exclude: Vec<String>,

    /// Only objects owned by (sessions of) these users, comma-separated
    #[arg(long = "includeuser", value_name = "USERS")]
    pub includeuser: Vec<String>,

    /// Not objects owned by (sessions of) these users
    #[arg(long = "excludeuser", value_name = "USERS")]
    pub excludeuser: Vec<String>,

    /// custom_query: the SQL (its column `result` is judged, another column is the perfdata)
    #[arg(long = "query", value_name = "SQL")]
    pub query: Option<String>,

    /// custom_query: what `result` is: integer, string, time or size
    #[arg(long = "valtype", value_name = "TYPE", default_value = "integer")]
    pub valtype: String,

    /// custom_query: alert when the result is at or below the thresholds (strings: differs)
    #[arg(long = "reverse")]
    pub reverse: bool,

    /// query_runtime: the view or table to count
    #[arg(long = "queryname", value_name = "NAME")]
    pub queryname: Option<String>,

    /// replicate_row: table,primary key column,id,column,value1,value2
    #[arg(long = "repinfo", value_name = "INFO")]
    pub repinfo: Option<String>,

    /// checkpoint, cluster_id: read pg_controldata of this data directory instead of asking the
    /// server
    #[arg(long = "datadir", value_name = "DIR")]
    pub datadir: Option<std::path::PathBuf>,

    /// On a standby (in recovery), every action is OK "Server in standby mode"; checkpoint is
    /// CRITICAL unless the server is a standby
    #[arg(long = "assume-standby-mode")]
    pub assume_standby_mode: bool,

    /// checkpoint: CRITICAL unless the server is a primary (in production)
    #[arg(long = "assume-prod")]
    pub assume_prod: bool,

    /// backends: count only sessions that are not idle
    #[arg(long = "noidle")]
    pub noidle: bool,

    /// sequence: leave out sequences that cycle
    #[arg(long = "skipcycled")]
    pub skipcycled: bool,

    /// Most perfdata items per action
    #[arg(long = "perflimit", value_name = "N")]
    pub perflimit: Option<usize>,

    /// 0: no perfdata (check_postgres.pl's --showperf)
    #[arg(long = "showperf", value_name = "0|1", default_value_t = 1)]
    pub showperf: u8,

    /// Accepted for check_postgres.pl's command lines: the run time is always in the perfdata
    #[arg(long = "showtime", value_name = "0|1", default_value_t = 1)]
    pub showtime: u8,

    /// Accepted for check_postgres.pl's command lines (the Icinga Template Library passes it):
    /// custos writes no temporary files
    #[arg(long = "tempdir", value_name = "DIR")]
    pub tempdir: Option<std::path::PathBuf>,

    /// nagios (default), or simple: print only the action's main value (exit 0)
    #[arg(long = "output", value_name = "FORMAT", default_value = "nagios",
          value_parser = ["nagios", "simple"], ignore_case = true)]
    pub output: String,
}

/// What an action runs with: the options, the servers (one connection each), the filter, and
/// this action's own -w/-c text.
pub struct Run<'a> {
    pub args: &'a Args,
    pub action: &'a Action,
    pub ctx: &'a Context,
    /// The first server (every action runs here).
    pub client: &'a Client,
    /// Every server named, the first included (two-server actions use the second).
    pub clients: &'a [Client],
    pub filter: &'a Filter,
    pub warning: Option<String>,
    pub critical: Option<String>,
}

impl Run<'_> {
    /// -w/-c of a simple action: given values, else check_postgres.pl's defaults (only when
    /// neither is given: one given drops the other default, as check_postgres.pl does).
    pub fn thresholds(&self, kind: Kind, rule: Rule) -> Result<Thresholds, CheckError> {
        let (w, c) = self.values_or_defaults();
        let parse = |t: Option<&str>, which: &str| -> Result<Option<Range>, CheckError> {
            t.map(|t| kind.threshold(t, rule))
                .transpose()
                .map_err(|e| invalid(self.action, which, &e))
        };
        let (wr, cr) = (
            parse(w.as_deref(), "warning")?,
            parse(c.as_deref(), "critical")?,
        );
        // check_postgres.pl refuses a warning beyond the critical (percentages aside).
        let plain = |t: &Option<String>| {
            t.as_deref()
                .is_some_and(|t| !thresholds::is_range_syntax(t))
        };
        if kind != Kind::Percent && rule != Rule::AtMost && plain(&w) && plain(&c) {
            let at = |r: Option<Range>| r.and_then(|r| r.start.or(r.end));
            if let (Some(a), Some(b)) = (at(wr), at(cr)) {
                if a > b {
                    return Err(invalid(
                        self.action,
                        "warning",
                        "the warning cannot be greater than the critical",
                    ));
                }
            }
        }
        Ok(Thresholds::new(wr, cr))
    }

    /// The -w/-c texts, or the defaults when neither is given.
    pub fn values_or_defaults(&self) -> (Option<String>, Option<String>) {
        if self.warning.is_none() && self.critical.is_none() {
            (
                self.action.warning.map(String::from),
                self.action.critical.map(String::from),
            )
        } else {
            (self.warning.clone(), self.critical.clone())
        }
    }
}

/// UNKNOWN for a threshold that does not parse.
pub fn invalid(action: &Action, which: &str, why: &str) -> CheckError {
    CheckError::unknown(format!("invalid {which} for {}: {why}", action.name))
}

/// Parses -w/-c for `action`: one value for all, or `action=value` pairs (a value may itself
/// contain `=`, as locks' `total=400`, so pairs are recognised by a known action name).
pub fn value_for(text: Option<&str>, action: &Action) -> Result<Option<String>, String> {
    let Some(text) = text.map(str::trim).filter(|t| !t.is_empty()) else {
        return Ok(None);
    };
    let is_pair = |p: &str| {
        p.split_once('=')
            .is_some_and(|(n, _)| ACTIONS.iter().any(|a| a.name == n.trim()))
    };
    let parts: Vec<&str> = text.split(',').map(str::trim).collect();
    if !parts.iter().any(|p| is_pair(p)) {
        return Ok(Some(text.to_string()));
    }
    if let Some(p) = parts.iter().find(|p| !is_pair(p)) {
        return Err(format!(
            "'{text}': mixes '{p}' with ACTION=VALUE pairs (give every action its pair)"
        ));
    }
    Ok(parts.iter().find_map(|p| {
        let (n, v) = p.split_once('=')?;
        (n.trim() == action.name).then(|| v.trim().to_string())
    }))
}

/// The actions asked for: `--action`, else the one in the program name
/// (`check_postgres_locks`), else `connection`.
fn selected(args: &Args) -> Result<Vec<&'static Action>, CheckError> {
    let names: Vec<String> = if args.action.is_empty() {
        vec!["connection".to_string()]
    } else {
        args.action
            .iter()
            .map(|a| a.trim().to_lowercase().replace('-', "_"))
            .collect()
    };
    let mut out: Vec<&Action> = Vec::new();
    for name in &names {
        if let Some((_, why)) = NOT_RUN.iter().find(|(n, _)| n == name) {
            return Err(CheckError::unknown(format!(
                "action {name} is not supported: {why}"
            )));
        }
        let action = ACTIONS.iter().find(|a| a.name == name).ok_or_else(|| {
            let known: Vec<&str> = ACTIONS.iter().map(|a| a.name).collect();
            CheckError::unknown(format!(
                "unknown action '{name}' (known: {})",
                known.join(", ")
            ))
        })?;
        if !out.iter().any(|a| a.name == action.name) {
            out.push(action);
        }
    }
    Ok(out)
}

// About 70 lines: parse every action's thresholds, connect once per server, run the
// actions, combine; each step is one call.
pub fn check(args: &Args, ctx: &Context) -> CheckResult {
    let actions = selected(args)?;
    let mut values = Vec::new();
    for a in &actions {
        let bad = |e: String| CheckError::unknown(format!("invalid threshold: {e}"));
        let w = value_for(args.warning.as_deref(), a).map_err(bad)?;
        let c = value_for(args.critical.as_deref(), a).map_err(bad)?;
        values.push((w, c));
    }
    let filter = Filter::new(args)?;
    // check_postgres.pl's defaults when nothing names them: database and user postgres.
    let conn = args
        .conn
        .with_default_dbname("postgres")
        .with_default_user("postgres");
    let targets = options::targets(&conn)?;
    let needed = actions.iter().map(|a| a.targets).max().unwrap_or(1);
    if targets.len() < needed {
        let names: Vec<&str> = actions
            .iter()
            .filter(|a| a.targets > 1)
            .map(|a| a.name)
            .collect();
        return Err(CheckError::unknown(format!(
            "{} needs two servers: give two --dbhost or --dbport values (--dbhost=a,b or --dbhost2=b)",
            names.join(", ")
        )));
    }
    let mut clients = Vec::new();
    for t in &targets {
        clients.push(t.open(ctx, PLUGIN.name)?);
    }
    if args.assume_standby_mode
        && clients[0].in_recovery()?
        && !actions.iter().any(|a| a.name == "checkpoint")
    {
        return Ok(Report::ok("Server in standby mode"));
    }

    let mut results: Vec<(&Action, SubResult)> = Vec::new();
    for (action, (w, c)) in actions.iter().zip(values) {
        ctx.stage(format!("running action {}", action.name));
        let run = Run {
            args,
            action,
            ctx,
            client: &clients[0],
            clients: &clients,
            filter: &filter,
            warning: w,
            critical: c,
        };
        results.push((action, (action.run)(&run)?));
    }
    if args.output.eq_ignore_ascii_case("simple") {
        return Ok(simple(&results));
    }
    if let [(action, sub)] = results.as_slice() {
        if action.name == "dbstats" {
            // Cacti reads dbstats' lines as they are.
            let mut r = Report::ok(sub.summary.clone());
            r.details = sub.details.clone();
            r.plain = true;
            return Ok(r);
        }
    }
    let mut report = combine(results);
    if args.showperf == 0 {
        report.perfdata.clear();
    }
    Ok(report)
}

/// `--output=simple`: the first action's main value (its first perfdata item), OK.
fn simple(results: &[(&Action, SubResult)]) -> Report {
    let value = results
        .first()
        .and_then(|(_, s)| s.perfdata.first())
        .and_then(|p| p.value)
        .map(plugin_core::format_number)
        .unwrap_or_default();
    let mut r = Report::ok(value);
    r.plain = true;
    r
}

/// One report from all actions: the worst state. With one action its sub-result is the report;
/// with several, the status line names the problems (worst first) and the actions that are OK,
/// and the long output has one line per action.
fn combine(mut results: Vec<(&Action, SubResult)>) -> Report {
    if results.len() == 1 {
        let (_, sub) = results.remove(0);
        let mut report = Report::new(sub.state, sub.summary);
        report.details = sub.details;
        report.perfdata = sub.perfdata;
        return report;
    }
    let ok: Vec<&str> = results
        .iter()
        .filter(|(_, s)| s.state == State::Ok)
        .map(|(a, _)| a.name)
        .collect();
    let mut findings = Findings::default();
    let mut lines = Vec::new();
    let mut details = Vec::new();
    let mut perfdata = Vec::new();
    for (action, sub) in results {
        lines.push(format!("{}: {} - {}", action.name, sub.state, sub.summary));
        details.extend(sub.details);
        perfdata.extend(sub.perfdata);
        if sub.state != State::Ok {
            findings.add(sub.state, format!("{}: {}", action.name, sub.summary));
        }
    }
    let others = if ok.is_empty() {
        None
    } else {
        Some(format!(
            "{} OK ({})",
            if findings.is_empty() { "all" } else { "others" },
            ok.join(", ")
        ))
    };
    let mut report = Report::new(findings.state(), findings.summary(others.as_deref()));
    report.details = lines;
    report.details.extend(details);
    report.perfdata = perfdata;
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    fn action(name: &str) -> &'static Action {
        ACTIONS.iter().find(|a| a.name == name).unwrap()
    }

    #[test]
    fn values_for_all_or_per_action() {
        let qt = action("query_time");
        let locks = action("locks");
        assert_eq!(value_for(Some("20s"), qt).unwrap().unwrap(), "20s");
        assert_eq!(
            value_for(Some("query_time=20s,locks=400"), locks)
                .unwrap()
                .unwrap(),
            "400"
        );
        assert_eq!(value_for(Some("query_time=20s"), locks).unwrap(), None);
        // A value with '=' of its own is not a pair.
        assert_eq!(
            value_for(Some("total=400:waiting=5"), locks)
                .unwrap()
                .unwrap(),
            "total=400:waiting=5"
        );
        assert!(value_for(Some("20s,locks=4"), qt)
            .unwrap_err()
            .contains("mixes"));
    }

    #[test]
    fn every_default_parses() {
        for a in ACTIONS {
            if let Values::Simple(kind, rule, _) = a.values {
                for d in [a.warning, a.critical].into_iter().flatten() {
                    kind.threshold(d, rule)
                        .unwrap_or_else(|e| panic!("{}: {d}: {e}", a.name));
                }
            }
        }
    }

    #[test]
    fn actions_are_listed_once_in_order() {
        let names: Vec<&str> = ACTIONS.iter().map(|a| a.name).collect();
        let mut sorted = names.clone();
        sorted.sort();
        assert_eq!(names, sorted);
        for (n, _) in NOT_RUN {
            assert!(!names.contains(n), "{n}");
        }
    }
}
