//! check_postgres: general PostgreSQL health, the actions Zulip runs through Bucardo's
//! check_postgres.pl, several in one run over one connection (`--action backends,locks`), the
//! worst state winning.
//!
//! Each action measures one thing with one SQL query and judges it with Nagios ranges in the
//! action's unit; the defaults are check_postgres.pl's documented ones (see [`ACTIONS`]).
//! Differences from check_postgres.pl, on purpose: thresholds are Nagios ranges (`-w 100`
//! alerts above 100, where check_postgres.pl alerts at 100), with units (`20s`, `90%`, `1GB`);
//! `-w`/`-c` take one range for every selected action or `ACTION=RANGE` pairs; actions that
//! check_postgres.pl refuses to run without thresholds (txn_time, txn_idle, hitratio,
//! database_size, replication_slots) report their value and stay OK until given some.

use clap::Parser;
use custos_pg::{Client, ConnArgs};
use plugin_core::output::{sanitize_line, truncate};
use plugin_core::perfdata::sanitize_label;
use plugin_core::{
    CheckError, CheckResult, Context, Dimension, Perfdata, Plugin, Range, Report, State,
    Thresholds, Uom,
};
use std::time::{SystemTime, UNIX_EPOCH};

pub const PLUGIN: Plugin = Plugin::new("check_postgres", env!("CARGO_PKG_VERSION"));

/// An action: its name, the unit of its metric, and check_postgres.pl's default thresholds.
pub struct Action {
    pub name: &'static str,
    pub dim: Dimension,
    pub warning: Option<&'static str>,
    pub critical: Option<&'static str>,
    /// What is measured, for --help.
    pub about: &'static str,
    run: fn(&Client, &Filter, &Thresholds) -> Result<Outcome, CheckError>,
}

/// Every action, in the order of --help. Defaults are check_postgres.pl 2.25's.
pub const ACTIONS: &[Action] = &[
    Action {
        name: "connection",
        dim: Dimension::Time,
        warning: None,
        critical: None,
        about: "connect and run SELECT version()",
        run: connection,
    },
    Action {
        name: "backends",
        dim: Dimension::Percent,
        warning: Some("90%"),
        critical: Some("95%"),
        about: "client connections, % of max_connections",
        run: backends,
    },
    Action {
        name: "autovac_freeze",
        dim: Dimension::Percent,
        warning: Some("90%"),
        critical: Some("95%"),
        about: "per database, age(datfrozenxid) as % of autovacuum_freeze_max_age",
        run: autovac_freeze,
    },
    Action {
        name: "txn_wraparound",
        dim: Dimension::Count,
        warning: Some("1300000000"),
        critical: Some("1400000000"),
        about: "highest age(datfrozenxid) of any database",
        run: txn_wraparound,
    },
    Action {
        name: "locks",
        dim: Dimension::Count,
        warning: Some("100"),
        critical: Some("150"),
        about: "locks held or awaited (perfdata also: waiting)",
        run: locks,
    },
    Action {
        name: "query_time",
        dim: Dimension::Time,
        warning: Some("2min"),
        critical: Some("5min"),
        about: "longest running query",
        run: query_time,
    },
    Action {
        name: "txn_time",
        dim: Dimension::Time,
        warning: None,
        critical: None,
        about: "longest open transaction",
        run: txn_time,
    },
    Action {
        name: "txn_idle",
        dim: Dimension::Time,
        warning: None,
        critical: None,
        about: "longest idle-in-transaction session",
        run: txn_idle,
    },
    Action {
        name: "disabled_triggers",
        dim: Dimension::Count,
        warning: Some("0"),
        critical: Some("0"),
        about: "disabled triggers in the database (any is CRITICAL)",
        run: disabled_triggers,
    },
    Action {
        name: "sequence",
        dim: Dimension::Percent,
        warning: Some("85%"),
        critical: Some("95%"),
        about: "most used sequence, % of its range",
        run: sequence,
    },
    Action {
        name: "hitratio",
        dim: Dimension::Percent,
        warning: None,
        critical: None,
        about: "lowest buffer cache hit ratio of a database (use ranges like 90:)",
        run: hitratio,
    },
    Action {
        name: "timesync",
        dim: Dimension::Time,
        warning: Some("2"),
        critical: Some("5"),
        about: "difference between the server's clock and this host's",
        run: timesync,
    },
    Action {
        name: "replication_slots",
        dim: Dimension::Bytes,
        warning: None,
        critical: None,
        about: "WAL retained by the replication slot that holds most",
        run: replication_slots,
    },
    Action {
        name: "database_size",
        dim: Dimension::Bytes,
        warning: None,
        critical: None,
        about: "size of the biggest database",
        run: database_size,
    },
    Action {
        name: "archive_ready",
        dim: Dimension::Count,
        warning: Some("10"),
        critical: Some("15"),
        about: "WAL segments waiting to be archived (.ready files)",
        run: archive_ready,
    },
];

/// The actions with what they measure and their default thresholds, for --help.
fn actions_help() -> String {
    let mut text = String::from("Actions (default warning / critical, check_postgres.pl's):\n");
    for a in ACTIONS {
        let defaults = match (a.warning, a.critical) {
            (None, None) => "none".to_string(),
            (w, c) => format!("{} / {}", w.unwrap_or("-"), c.unwrap_or("-")),
        };
        text.push_str(&format!("  {:<18} {} [{defaults}]\n", a.name, a.about));
    }
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

    /// Actions to run, comma-separated; the worst result wins
    #[arg(
        long = "action",
        value_name = "LIST",
        value_delimiter = ',',
        default_value = "connection"
    )]
    pub action: Vec<String>,

    /// Warning: one range for every action (in its unit), or ACTION=RANGE pairs, comma-separated
    #[arg(short = 'w', long = "warning", value_name = "RANGE")]
    pub warning: Option<String>,

    /// Critical: one range for every action, or ACTION=RANGE pairs, comma-separated
    #[arg(short = 'c', long = "critical", value_name = "RANGE")]
    pub critical: Option<String>,

    /// Only these databases / sequences / slots (comma-separated; ~REGEX for a pattern)
    #[arg(long = "include", value_name = "NAMES", value_delimiter = ',')]
    pub include: Vec<String>,

    /// Not these databases / sequences / slots (comma-separated; ~REGEX for a pattern)
    #[arg(long = "exclude", value_name = "NAMES", value_delimiter = ',')]
    pub exclude: Vec<String>,
}

/// What one action found.
pub struct Outcome {
    state: State,
    summary: String,
    details: Vec<String>,
    perfdata: Vec<Perfdata>,
}

/// --include/--exclude, applied by the server to an action query's `name` column.
pub struct Filter {
    include: Vec<String>,
    include_re: Vec<String>,
    exclude: Vec<String>,
    exclude_re: Vec<String>,
}

impl Filter {
    fn new(include: &[String], exclude: &[String]) -> Filter {
        let split = |list: &[String]| -> (Vec<String>, Vec<String>) {
            let (re, names): (Vec<&String>, Vec<&String>) = list
                .iter()
                .filter(|s| !s.is_empty())
                .partition(|s| s.starts_with('~'));
            (
                names.into_iter().cloned().collect(),
                re.into_iter().map(|s| s[1..].to_string()).collect(),
            )
        };
        let (include, include_re) = split(include);
        let (exclude, exclude_re) = split(exclude);
        Filter {
            include,
            include_re,
            exclude,
            exclude_re,
        }
    }

    /// Runs `inner` (a query with a `name` column) keeping the rows the filter allows.
    fn query(&self, client: &Client, inner: &str) -> Result<Vec<custos_pg::Row>, CheckError> {
        client.query(
            &format!(
                "SELECT * FROM ({inner}) q WHERE \
                 (cardinality($1::text[]) + cardinality($2::text[]) = 0 \
                  OR q.name = ANY($1) OR q.name ~ ANY($2)) \
                 AND NOT (q.name = ANY($3) OR q.name ~ ANY($4))"
            ),
            &[
                &self.include,
                &self.include_re,
                &self.exclude,
                &self.exclude_re,
            ],
        )
    }
}

/// Parses -w/-c for `action`: one range for all, or `action=range` pairs.
fn threshold_for(text: Option<&str>, action: &Action) -> Result<Option<Range>, String> {
    let Some(text) = text.map(str::trim).filter(|t| !t.is_empty()) else {
        return Ok(None);
    };
    let (bare, pairs): (Vec<&str>, Vec<&str>) = text
        .split(',')
        .map(str::trim)
        .partition(|p| !p.contains('='));
    let chosen = if pairs.is_empty() {
        if bare.len() != 1 {
            return Err(format!("'{text}': one range, or ACTION=RANGE pairs"));
        }
        Some(bare[0])
    } else {
        if !bare.is_empty() {
            return Err(format!(
                "'{text}': mixes a bare range with ACTION=RANGE pairs"
            ));
        }
        for p in &pairs {
            let name = p.split('=').next().unwrap_or("");
            if !ACTIONS.iter().any(|a| a.name == name) {
                return Err(format!("'{p}': no action called '{name}'"));
            }
        }
        pairs.iter().find_map(|p| {
            p.strip_prefix(action.name)
                .and_then(|r| r.strip_prefix('='))
        })
    };
    match chosen {
        None => Ok(None),
        Some(r) => Range::parse_in(r, action.dim, 1.0)
            .map(Some)
            .map_err(|e| format!("{} range '{r}': {e}", action.name)),
    }
}

fn thresholds(args: &Args, action: &Action) -> Result<Thresholds, CheckError> {
    let bad = |e: String| CheckError::unknown(format!("invalid threshold: {e}"));
    let given_w = threshold_for(args.warning.as_deref(), action).map_err(bad)?;
    let given_c = threshold_for(args.critical.as_deref(), action).map_err(bad)?;
    let default =
        |d: Option<&str>| d.map(|d| Range::parse_in(d, action.dim, 1.0).expect("valid default"));
    // Either threshold given replaces both defaults (so "-c 40s" alone has no warning at 2min).
    if given_w.is_some() || given_c.is_some() {
        Ok(Thresholds::new(given_w, given_c))
    } else {
        Ok(Thresholds::new(
            default(action.warning),
            default(action.critical),
        ))
    }
}

pub fn check(args: &Args, ctx: &Context) -> CheckResult {
    let mut actions = Vec::new();
    for name in &args.action {
        let name = name.trim();
        let action = ACTIONS.iter().find(|a| a.name == name).ok_or_else(|| {
            let known: Vec<&str> = ACTIONS.iter().map(|a| a.name).collect();
            CheckError::unknown(format!(
                "unknown action '{name}' (known: {})",
                known.join(", ")
            ))
        })?;
        if !actions
            .iter()
            .any(|(a, _): &(&Action, Thresholds)| a.name == action.name)
        {
            actions.push((action, thresholds(args, action)?));
        }
    }
    let filter = Filter::new(&args.include, &args.exclude);
    let client = args.conn.open(ctx, PLUGIN.name)?;

    let mut outcomes: Vec<(&str, Outcome)> = Vec::new();
    for (action, t) in &actions {
        ctx.stage(format!("running action {}", action.name));
        outcomes.push((action.name, (action.run)(&client, &filter, t)?));
    }
    Ok(combine(outcomes))
}

/// One report from all actions: the worst state. With one action its summary is the status
/// line; with several, the status line names the problems (worst first) and counts the rest,
/// and the long output has one line per action.
fn combine(mut outcomes: Vec<(&str, Outcome)>) -> Report {
    let state = outcomes
        .iter()
        .map(|(_, o)| o.state)
        .fold(State::Ok, State::worst);
    let mut report = Report::new(state, "");
    if outcomes.len() == 1 {
        let (_, o) = outcomes.remove(0);
        report.summary = o.summary;
        report.details = o.details;
        report.perfdata = o.perfdata;
        return report;
    }
    let mut lines = Vec::new();
    for (name, o) in &outcomes {
        lines.push(format!("{name}: {} - {}", o.state, o.summary));
    }
    outcomes.sort_by_key(|(_, o)| std::cmp::Reverse(o.state.severity()));
    let ok: Vec<&str> = outcomes
        .iter()
        .filter(|(_, o)| o.state == State::Ok)
        .map(|(n, _)| *n)
        .collect();
    let mut parts: Vec<String> = outcomes
        .iter()
        .filter(|(_, o)| o.state != State::Ok)
        .map(|(name, o)| format!("{name}: {}", o.summary))
        .collect();
    if !ok.is_empty() {
        parts.push(format!(
            "{} OK ({})",
            if parts.is_empty() { "all" } else { "others" },
            ok.join(", ")
        ));
    }
    report.summary = parts.join("; ");
    report.details = lines;
    for (_, o) in outcomes {
        report.details.extend(o.details);
        report.perfdata.extend(o.perfdata);
    }
    report
}

/// A value judged against thresholds, with its words.
fn judged(t: &Thresholds, value: f64, dim: Dimension, what: String) -> (State, String) {
    match t.alert(value, dim) {
        Some((state, why)) => (state, format!("{what} ({why})")),
        None => (State::Ok, what),
    }
}

fn outcome(state: State, summary: String) -> Outcome {
    Outcome {
        state,
        summary,
        details: Vec::new(),
        perfdata: Vec::new(),
    }
}

/// Text from the server (a query, a name) made safe and short for one line.
fn shown(text: &str, max: usize) -> String {
    truncate(
        &sanitize_line(
            text.split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
                .as_str(),
        ),
        max,
    )
}

/// Connecting was the test; `SELECT version()` proves the session works.
fn connection(client: &Client, _: &Filter, _: &Thresholds) -> Result<Outcome, CheckError> {
    let secs = client.connect_time().as_secs_f64();
    let version: String = client.query_one("SELECT version()", &[])?.get(0);
    let short = version.split(" on ").next().unwrap_or(&version).to_string();
    let mut o = outcome(
        State::Ok,
        format!(
            "connected to {} in {:.1} ms",
            shown(&short, 80),
            secs * 1000.0
        ),
    );
    o.perfdata.push(
        Perfdata::new("connection_time", (secs * 1e4).round() / 1e4)
            .uom(Uom::Seconds)
            .min(0.0),
    );
    Ok(o)
}

fn backends(c: &Client, f: &Filter, t: &Thresholds) -> Result<Outcome, CheckError> {
    let rows = f.query(
        c,
        "SELECT d.datname AS name, count(a.pid)::float8 AS n, \
                current_setting('max_connections')::float8 AS max FROM pg_database d \
         LEFT JOIN pg_stat_activity a ON a.datid = d.oid AND a.backend_type = 'client backend' \
         WHERE d.datallowconn GROUP BY d.datname ORDER BY 2 DESC, 1",
    )?;
    let Some(max) = rows.first().map(|r| r.get::<_, f64>(2).max(1.0)) else {
        return Ok(outcome(State::Ok, "no databases matched".into()));
    };
    let total: f64 = rows.iter().fold(0.0, |a, r| a + r.get::<_, f64>(1));
    let pct = (total / max * 1000.0).round() / 10.0;
    let (state, text) = judged(
        t,
        pct,
        Dimension::Percent,
        format!("{total} of {max} connections ({pct}%)"),
    );
    let mut o = outcome(state, text);
    o.perfdata
        .push(Perfdata::new("backends", total).min(0.0).max(max));
    o.perfdata.push(
        Perfdata::new("backends_pct", pct)
            .uom(Uom::Percent)
            .thresholds(t)
            .min(0.0)
            .max(100.0),
    );
    for r in &rows {
        let name: String = r.get(0);
        o.perfdata.push(
            Perfdata::new(
                format!("backends_{}", sanitize_label(&name)),
                r.get::<_, f64>(1),
            )
            .min(0.0),
        );
    }
    Ok(o)
}

/// The row with the highest (or lowest) value of column 1 among `(name, value)` rows, judged.
fn worst_named(
    rows: &[custos_pg::Row],
    t: &Thresholds,
    dim: Dimension,
    prefix: &str,
    lowest: bool,
    what: impl Fn(&str, f64) -> String,
    none: &str,
) -> Outcome {
    let mut o = outcome(State::Ok, none.to_string());
    let mut pick: Option<(String, f64)> = None;
    let mut worst_state = State::Ok;
    for r in rows {
        let name: String = r.get(0);
        let value: Option<f64> = r.get(1);
        let Some(value) = value else { continue };
        let state = t.evaluate(value);
        o.perfdata.push(
            Perfdata::new(format!("{prefix}_{}", sanitize_label(&name)), value)
                .uom(Uom::of(dim))
                .thresholds(t)
                .min(0.0),
        );
        let better = pick.as_ref().is_none_or(|(_, v)| {
            state.severity() > worst_state.severity()
                || (state == worst_state && if lowest { value < *v } else { value > *v })
        });
        if better {
            worst_state = state;
            pick = Some((name, value));
        }
    }
    if let Some((name, value)) = pick {
        let (state, text) = judged(t, value, dim, what(&name, value));
        o.state = state;
        o.summary = text;
    }
    o
}

fn autovac_freeze(c: &Client, f: &Filter, t: &Thresholds) -> Result<Outcome, CheckError> {
    let rows = f.query(
        c,
        "SELECT datname AS name, round(100.0 * age(datfrozenxid) / \
           current_setting('autovacuum_freeze_max_age')::float8)::float8 AS pct \
         FROM pg_database WHERE datallowconn ORDER BY 2 DESC, 1",
    )?;
    Ok(worst_named(
        &rows,
        t,
        Dimension::Percent,
        "autovac_freeze",
        false,
        |n, v| {
            format!(
                "database {} is at {v}% of autovacuum_freeze_max_age",
                shown(n, 63)
            )
        },
        "no databases matched",
    ))
}

fn txn_wraparound(c: &Client, f: &Filter, t: &Thresholds) -> Result<Outcome, CheckError> {
    let rows = f.query(
        c,
        "SELECT datname AS name, age(datfrozenxid)::float8 AS age FROM pg_database \
         WHERE datallowconn ORDER BY 2 DESC, 1",
    )?;
    Ok(worst_named(
        &rows,
        t,
        Dimension::Count,
        "txn_wraparound",
        false,
        |n, v| format!("database {} is {v} transactions old", shown(n, 63)),
        "no databases matched",
    ))
}

fn locks(c: &Client, f: &Filter, t: &Thresholds) -> Result<Outcome, CheckError> {
    let rows = f.query(
        c,
        "SELECT coalesce(d.datname, '') AS name, count(*)::float8 AS total, \
                count(*) FILTER (WHERE NOT l.granted)::float8 AS waiting \
         FROM pg_locks l LEFT JOIN pg_database d ON d.oid = l.database \
         WHERE l.pid IS DISTINCT FROM pg_backend_pid() GROUP BY 1",
    )?;
    // fold from +0: an empty f64 sum is -0.
    let total: f64 = rows.iter().fold(0.0, |a, r| a + r.get::<_, f64>(1));
    let waiting: f64 = rows.iter().fold(0.0, |a, r| a + r.get::<_, f64>(2));
    let (state, text) = judged(
        t,
        total,
        Dimension::Count,
        format!("{total} locks, {waiting} waiting"),
    );
    let mut o = outcome(state, text);
    o.perfdata
        .push(Perfdata::new("locks", total).thresholds(t).min(0.0));
    o.perfdata
        .push(Perfdata::new("locks_waiting", waiting).min(0.0));
    Ok(o)
}

/// The longest of something in pg_stat_activity (other sessions only).
fn longest(
    c: &Client,
    f: &Filter,
    t: &Thresholds,
    since: &str,
    cond: &str,
    label: &str,
    what: &str,
) -> Result<Outcome, CheckError> {
    let rows = f.query(
        c,
        &format!(
            "SELECT datname AS name, extract(epoch FROM now() - {since})::float8 AS secs, pid, \
                    usename, query FROM pg_stat_activity \
             WHERE pid <> pg_backend_pid() AND backend_type = 'client backend' AND datname IS NOT NULL \
               AND {since} IS NOT NULL AND {cond} ORDER BY 2 DESC"
        ),
    )?;
    let count = rows.len() as f64;
    let mut o = match rows.first() {
        None => {
            let mut o = outcome(State::Ok, format!("no {what}"));
            o.perfdata.push(
                Perfdata::new(label, 0.0)
                    .uom(Uom::Seconds)
                    .thresholds(t)
                    .min(0.0),
            );
            o
        }
        Some(r) => {
            let secs: f64 = r.get::<_, f64>(1).max(0.0);
            let pid: i32 = r.get(2);
            let db: String = r.get(0);
            let user: Option<String> = r.get(3);
            let query: Option<String> = r.get(4);
            let (state, text) = judged(
                t,
                secs,
                Dimension::Time,
                format!(
                    "longest {what} {} (pid {pid}, database {}, user {})",
                    Dimension::Time.human(secs),
                    shown(&db, 63),
                    shown(user.as_deref().unwrap_or("?"), 63)
                ),
            );
            let mut o = outcome(state, text);
            o.details.push(format!(
                "pid {pid}: {}",
                shown(query.as_deref().unwrap_or(""), 200)
            ));
            o.perfdata.push(
                Perfdata::new(label, (secs * 1000.0).round() / 1000.0)
                    .uom(Uom::Seconds)
                    .thresholds(t)
                    .min(0.0),
            );
            o
        }
    };
    o.perfdata
        .push(Perfdata::new(format!("{label}_count"), count).min(0.0));
    Ok(o)
}

fn query_time(c: &Client, f: &Filter, t: &Thresholds) -> Result<Outcome, CheckError> {
    longest(
        c,
        f,
        t,
        "query_start",
        "state = 'active'",
        "query_time",
        "running query",
    )
}

fn txn_time(c: &Client, f: &Filter, t: &Thresholds) -> Result<Outcome, CheckError> {
    longest(
        c,
        f,
        t,
        "xact_start",
        "true",
        "txn_time",
        "open transaction",
    )
}

fn txn_idle(c: &Client, f: &Filter, t: &Thresholds) -> Result<Outcome, CheckError> {
    longest(
        c,
        f,
        t,
        "state_change",
        "state LIKE 'idle in transaction%'",
        "txn_idle",
        "idle transaction",
    )
}

fn disabled_triggers(c: &Client, f: &Filter, t: &Thresholds) -> Result<Outcome, CheckError> {
    let rows = f.query(
        c,
        "SELECT tgrelid::regclass::text || '.' || tgname AS name FROM pg_trigger \
         WHERE tgenabled = 'D' AND NOT tgisinternal ORDER BY 1",
    )?;
    let names: Vec<String> = rows
        .iter()
        .map(|r| shown(&r.get::<_, String>(0), 120))
        .collect();
    let n = names.len() as f64;
    let what = if names.is_empty() {
        "no disabled triggers".to_string()
    } else {
        format!(
            "{n} disabled trigger{}: {}",
            if names.len() == 1 { "" } else { "s" },
            names.iter().take(3).cloned().collect::<Vec<_>>().join(", ")
        )
    };
    let (state, text) = judged(t, n, Dimension::Count, what);
    let mut o = outcome(state, text);
    o.details
        .extend(names.iter().map(|n| format!("disabled: {n}")));
    o.perfdata
        .push(Perfdata::new("disabled_triggers", n).thresholds(t).min(0.0));
    Ok(o)
}

fn sequence(c: &Client, f: &Filter, t: &Thresholds) -> Result<Outcome, CheckError> {
    let rows = f.query(
        c,
        "SELECT schemaname || '.' || sequencename AS name, \
           round((CASE WHEN increment_by > 0 \
                       THEN (coalesce(last_value, start_value)::numeric - min_value) / (max_value::numeric - min_value) \
                       ELSE (max_value::numeric - coalesce(last_value, start_value)) / (max_value::numeric - min_value) END) \
                 * 100, 2)::float8 AS pct \
         FROM pg_sequences ORDER BY 2 DESC, 1",
    )?;
    Ok(worst_named(
        &rows,
        t,
        Dimension::Percent,
        "sequence",
        false,
        |n, v| format!("sequence {} is {v}% used", shown(n, 120)),
        "no sequences",
    ))
}

fn hitratio(c: &Client, f: &Filter, t: &Thresholds) -> Result<Outcome, CheckError> {
    let rows = f.query(
        c,
        "SELECT d.datname AS name, \
           round(100.0 * s.blks_hit / nullif(s.blks_read + s.blks_hit, 0), 2)::float8 AS ratio \
         FROM pg_stat_database s JOIN pg_database d ON d.oid = s.datid \
         WHERE d.datallowconn ORDER BY 2, 1",
    )?;
    Ok(worst_named(
        &rows,
        t,
        Dimension::Percent,
        "hitratio",
        true,
        |n, v| format!("database {} hit ratio {v}%", shown(n, 63)),
        "no database statistics yet",
    ))
}

fn timesync(c: &Client, _: &Filter, t: &Thresholds) -> Result<Outcome, CheckError> {
    let before = SystemTime::now();
    let server: f64 = c
        .query_one("SELECT extract(epoch FROM clock_timestamp())::float8", &[])?
        .get(0);
    let after = SystemTime::now();
    let secs = |s: SystemTime| {
        s.duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or(0.0)
    };
    let local = (secs(before) + secs(after)) / 2.0;
    let diff = ((server - local).abs() * 1000.0).round() / 1000.0;
    let (state, text) = judged(
        t,
        diff,
        Dimension::Time,
        format!("server clock differs by {}", Dimension::Time.human(diff)),
    );
    let mut o = outcome(state, text);
    o.perfdata.push(
        Perfdata::new("timesync", diff)
            .uom(Uom::Seconds)
            .thresholds(t)
            .min(0.0),
    );
    Ok(o)
}

fn replication_slots(c: &Client, f: &Filter, t: &Thresholds) -> Result<Outcome, CheckError> {
    let rows = f.query(
        c,
        "SELECT slot_name::text AS name, \
           pg_wal_lsn_diff(CASE WHEN pg_is_in_recovery() THEN pg_last_wal_receive_lsn() \
                                ELSE pg_current_wal_lsn() END, restart_lsn)::float8 AS retained, \
           active, slot_type FROM pg_replication_slots ORDER BY 2 DESC NULLS LAST, 1",
    )?;
    let mut o = worst_named(
        &rows,
        t,
        Dimension::Bytes,
        "slot",
        false,
        |n, v| {
            format!(
                "slot {} retains {} of WAL",
                shown(n, 63),
                Dimension::Bytes.human(v)
            )
        },
        "no replication slots",
    );
    for r in &rows {
        let name: String = r.get(0);
        let active: bool = r.get(2);
        let kind: String = r.get(3);
        o.details.push(format!(
            "slot {} ({kind}): {}",
            shown(&name, 63),
            if active { "active" } else { "inactive" }
        ));
    }
    Ok(o)
}

fn database_size(c: &Client, f: &Filter, t: &Thresholds) -> Result<Outcome, CheckError> {
    let rows = f.query(
        c,
        "SELECT datname AS name, pg_database_size(oid)::float8 AS size FROM pg_database \
         WHERE datallowconn AND has_database_privilege(oid, 'CONNECT') ORDER BY 2 DESC, 1",
    )?;
    Ok(worst_named(
        &rows,
        t,
        Dimension::Bytes,
        "database_size",
        false,
        |n, v| format!("database {} is {}", shown(n, 63), Dimension::Bytes.human(v)),
        "no databases matched",
    ))
}

fn archive_ready(c: &Client, _: &Filter, t: &Thresholds) -> Result<Outcome, CheckError> {
    let n: f64 = c
        .query_one(
            "SELECT count(*)::float8 FROM pg_ls_archive_statusdir() WHERE name LIKE '%.ready'",
            &[],
        )?
        .get(0);
    let (state, text) = judged(
        t,
        n,
        Dimension::Count,
        format!("{n} WAL segments waiting to be archived"),
    );
    let mut o = outcome(state, text);
    o.perfdata
        .push(Perfdata::new("archive_ready", n).thresholds(t).min(0.0));
    Ok(o)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn action(name: &str) -> &'static Action {
        ACTIONS.iter().find(|a| a.name == name).unwrap()
    }

    #[test]
    fn thresholds_for_all_or_per_action() {
        let qt = action("query_time");
        let locks = action("locks");
        assert_eq!(
            threshold_for(Some("20s"), qt).unwrap().unwrap().to_string(),
            "20"
        );
        assert_eq!(
            threshold_for(Some("query_time=20s,locks=400"), qt)
                .unwrap()
                .unwrap()
                .to_string(),
            "20"
        );
        assert_eq!(
            threshold_for(Some("query_time=20s,locks=400"), locks)
                .unwrap()
                .unwrap()
                .to_string(),
            "400"
        );
        assert_eq!(threshold_for(Some("query_time=20s"), locks).unwrap(), None);
        assert!(threshold_for(Some("20s,locks=4"), qt)
            .unwrap_err()
            .contains("mixes"));
        assert!(threshold_for(Some("lock=4"), qt)
            .unwrap_err()
            .contains("no action called 'lock'"));
        // A unit from another dimension is refused with the action named.
        assert!(threshold_for(Some("locks=4MiB"), locks)
            .unwrap_err()
            .starts_with("locks range '4MiB'"));
        assert_eq!(
            threshold_for(Some("@90%"), action("backends"))
                .unwrap()
                .unwrap()
                .to_string(),
            "@90"
        );
    }

    #[test]
    fn every_default_parses_in_its_unit() {
        for a in ACTIONS {
            for d in [a.warning, a.critical].into_iter().flatten() {
                Range::parse_in(d, a.dim, 1.0).unwrap_or_else(|e| panic!("{}: {d}: {e}", a.name));
            }
        }
    }
}
