//! Sessions, locks and transactions: connection, backends, locks, lockwait, prepared_txns,
//! query_time, txn_time, txn_idle, timesync, and the hit and commit ratios; dbstats for Cacti.
//! Each measures what check_postgres.pl measures, with its queries, so that the same command
//! line gives the same state.

use crate::thresholds::{CountTime, Kind, Rule};
use crate::{invalid, Run};
use custos_pg::RowExt;
use plugin_core::{
    sanitize_label, sanitize_line, truncate, CheckError, Dimension, Perfdata, Range, State,
    SubResult, Thresholds, Uom,
};

/// Text from the server (a query, a name) made safe and short for one line.
pub fn shown(text: &str, max: usize) -> String {
    truncate(
        &sanitize_line(&text.split_whitespace().collect::<Vec<_>>().join(" ")),
        max,
    )
}

/// UNKNOWN when filters left nothing (check_postgres.pl's words), or OK when only the user
/// filter did (as check_postgres.pl).
pub fn nothing_matched(run: &Run, what: &str) -> SubResult {
    if run.filter.users_given() && !run.filter.names_given() {
        SubResult::ok("No matching entries found due to user exclusion/inclusion options")
    } else {
        SubResult::new(
            State::Unknown,
            format!("No matching {what} found due to exclusion/inclusion options"),
        )
    }
}

/// No thresholds allowed (connection, dbstats, same_schema).
pub fn no_thresholds(run: &Run) -> Result<(), CheckError> {
    if run.warning.is_some() || run.critical.is_some() {
        return Err(CheckError::unknown(format!(
            "{}: no warning or critical options are needed",
            run.action.name
        )));
    }
    Ok(())
}

/// At least one of -w/-c (after defaults), as check_postgres.pl requires for most kinds.
pub fn required(run: &Run, t: &Thresholds, what: &str) -> Result<(), CheckError> {
    if t.warning.is_none() && t.critical.is_none() {
        return Err(CheckError::unknown(format!(
            "{}: must provide a warning and/or critical {what}",
            run.action.name
        )));
    }
    Ok(())
}

/// Connecting was the test; `SELECT version()` proves the session works.
pub fn connection(run: &Run) -> Result<SubResult, CheckError> {
    no_thresholds(run)?;
    let secs = run.client.connect_time().as_secs_f64();
    let version: String = run
        .client
        .query_one("SELECT version() AS version", &[])?
        .col("version")?;
    let short = version.split(" on ").next().unwrap_or(&version).to_string();
    Ok(SubResult::ok(format!(
        "connected to {} in {:.1} ms",
        shown(&short, 80),
        secs * 1000.0
    ))
    .perf(
        Perfdata::new("connection_time", (secs * 1e4).round() / 1e4)
            .uom(Uom::Seconds)
            .min(0.0),
    ))
}

/// One backends threshold: `N` connections, `N%` of max_connections, `-N` free slots, or a
/// Nagios range on the percentage.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Backends {
    Count(f64),
    Percent(f64),
    Free(f64),
    Range(Range),
}

impl Backends {
    fn parse(text: &str) -> Result<Backends, String> {
        let t = text.trim();
        if crate::thresholds::is_range_syntax(t) {
            return Range::parse_in(t, Dimension::Percent, 1.0)
                .map(Backends::Range)
                .map_err(|e| e.0);
        }
        let (neg, rest) = match t.strip_prefix('-') {
            Some(r) => (true, r),
            None => (false, t),
        };
        let (digits, pct) = match rest.strip_suffix('%') {
            Some(d) => (d, true),
            None => (rest, false),
        };
        if digits.is_empty() || !digits.chars().all(|c| c.is_ascii_digit()) {
            return Err(format!("'{text}' is not a number, a percentage or -N"));
        }
        let n: f64 = digits
            .parse()
            .map_err(|_| format!("'{text}' is too large"))?;
        match (neg, pct) {
            (true, true) => Err("cannot specify a negative percentage".into()),
            (true, false) => Ok(Backends::Free(n)),
            (false, true) => Ok(Backends::Percent(n)),
            (false, false) => Ok(Backends::Count(n)),
        }
    }

    /// The range on the number of connections that alerts as this does, for `limit` slots (and
    /// the percentage, for a Nagios range).
    fn range(self, limit: f64) -> Range {
        match self {
            Backends::Count(n) => Range::at_least(n),
            Backends::Percent(p) => Range::at_least(p * limit / 100.0),
            Backends::Free(n) => Range::at_least(limit - n),
            Backends::Range(r) => Range {
                start: r.start.map(|s| s * limit / 100.0),
                end: r.end.map(|e| e * limit / 100.0),
                inside: r.inside,
            },
        }
    }
}

/// Connections of every database (check_postgres.pl counts every session bound to one,
/// autovacuum workers included), against max_connections.
// One function, about 85 lines, on purpose: check_postgres.pl's check_backends and its
// three threshold forms (N, N%, -N free) in its order, to compare line by line.
pub fn backends(run: &Run) -> Result<SubResult, CheckError> {
    let parse =
        |t: &str, which: &str| Backends::parse(t).map_err(|e| invalid(run.action, which, &e));
    // check_postgres.pl: warning 90% unless given, critical 95% unless given, and only -c
    // makes the warning the critical.
    let c = run
        .critical
        .as_deref()
        .map(|t| parse(t, "critical"))
        .transpose()?;
    let w = match (run.warning.as_deref(), c) {
        (Some(t), _) => parse(t, "warning")?,
        (None, Some(c)) => c,
        (None, None) => Backends::Percent(90.0),
    };
    let c = c.unwrap_or(Backends::Percent(95.0));
    match (w, c) {
        (Backends::Count(a), Backends::Count(b)) if a > b => {
            return Err(invalid(
                run.action,
                "warning",
                "the warning cannot be greater than the critical",
            ))
        }
        (Backends::Free(a), Backends::Free(b)) if a < b => {
            return Err(invalid(
                run.action,
                "warning",
                "the warning cannot be fewer free slots than the critical",
            ))
        }
        _ => {}
    }
    let idle = if run.args.noidle {
        " WHERE s.state <> 'idle'"
    } else {
        ""
    };
    let rows = run.client.query(
        &format!(
            "SELECT d.datname AS name, count(s.datid)::float8 AS current, \
                    current_setting('max_connections')::float8 AS max \
             FROM pg_database d LEFT JOIN pg_stat_activity s ON (s.datid = d.oid){idle} \
             GROUP BY d.datname ORDER BY d.datname"
        ),
        &[],
    )?;
    let mut total = 0.0;
    let mut limit = 0.0;
    let mut perf = Vec::new();
    let mut kept = 0;
    for r in &rows {
        let name: String = r.col("name")?;
        limit = r.col::<f64>("max")?.max(1.0);
        if run.filter.skip(&name, None) {
            continue;
        }
        kept += 1;
        let n: f64 = r.col("current")?;
        total += n;
        perf.push(Perfdata::new(format!("backends_{}", sanitize_label(&name)), n).min(0.0));
    }
    if kept == 0 {
        return Ok(nothing_matched(run, "databases"));
    }
    let t = Thresholds::new(Some(w.range(limit)), Some(c.range(limit)));
    let pct = (total / limit * 1000.0).round() / 10.0;
    let mut sub = SubResult::judged(
        &t,
        total,
        Dimension::Count,
        format!("{total} of {limit} connections ({pct}%)"),
    );
    sub.perfdata.push(
        Perfdata::new("backends", total)
            .thresholds(&t)
            .min(0.0)
            .max(limit),
    );
    sub.perfdata.push(
        Perfdata::new("backends_pct", pct)
            .uom(Uom::Percent)
            .min(0.0)
            .max(100.0),
    );
    sub.perfdata.extend(perf);
    Ok(sub)
}

/// locks' thresholds: per lock type (`total`, `waiting`, a mode without `lock`).
fn lock_limits(text: &str) -> Result<Vec<(String, Range)>, String> {
    let t = text.trim();
    let pairs: Vec<(String, &str)> = t
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '=' || c == '_'))
        .filter(|p| p.contains('='))
        .filter_map(|p| {
            let (n, v) = p.split_once('=')?;
            let n = n.trim().to_lowercase();
            let n = n.strip_suffix("lock").unwrap_or(&n).to_string();
            Some((n, v.trim()))
        })
        .collect();
    if !pairs.is_empty() {
        return pairs
            .into_iter()
            .map(|(n, v)| crate::thresholds::pl_integer(v).map(|x| (n, Range::at_least(x))))
            .collect();
    }
    if crate::thresholds::is_range_syntax(t) {
        return Range::parse(t)
            .map(|r| vec![("total".to_string(), r)])
            .map_err(|e| e.0);
    }
    crate::thresholds::pl_integer(t)
        .map(|x| vec![("total".to_string(), Range::at_least(x))])
        .map_err(|_| format!("'{text}': a number of locks, or TYPE=N pairs (total=400:waiting=5)"))
}

/// Locks on connectable databases (check_postgres.pl's count), by type and waiting.
// One function, about 80 lines, on purpose: check_postgres.pl's check_locks (total,
// waiting, per mode) in its order, to compare line by line.
pub fn locks(run: &Run) -> Result<SubResult, CheckError> {
    let (w, c) = run.values_or_defaults();
    let parse = |t: Option<String>, which: &str| {
        t.map(|t| lock_limits(&t).map_err(|e| invalid(run.action, which, &e)))
            .transpose()
            .map(Option::unwrap_or_default)
    };
    let warn = parse(w, "warning")?;
    let crit = parse(c, "critical")?;
    let rows = run.client.query(
        "SELECT d.datname AS name, l.granted, l.mode FROM pg_locks l \
         RIGHT JOIN pg_database d ON (d.oid = l.database) WHERE d.datallowconn",
        &[],
    )?;
    let mut counts: std::collections::BTreeMap<String, f64> = Default::default();
    let mut any = false;
    for r in &rows {
        let name: String = r.col("name")?;
        if run.filter.skip(&name, None) {
            continue;
        }
        any = true;
        let mode: Option<String> = r.col("mode")?;
        let Some(mode) = mode else { continue };
        let granted: Option<bool> = r.col("granted")?;
        *counts.entry("total".into()).or_default() += 1.0;
        if granted != Some(true) {
            *counts.entry("waiting".into()).or_default() += 1.0;
        }
        let m = mode.to_lowercase();
        *counts
            .entry(m.strip_suffix("lock").unwrap_or(&m).to_string())
            .or_default() += 1.0;
    }
    if !any {
        return Ok(nothing_matched(run, "databases"));
    }
    let count = |t: &str| counts.get(t).copied().unwrap_or(0.0);
    let total = count("total");
    let waiting = count("waiting");
    let mut sub = SubResult::ok(format!("{total} locks, {waiting} waiting"));
    let mut types: Vec<&str> = warn.iter().chain(&crit).map(|(n, _)| n.as_str()).collect();
    types.sort();
    types.dedup();
    let mut alerts = Vec::new();
    for ty in &types {
        let find = |list: &[(String, Range)]| list.iter().find(|(n, _)| n == ty).map(|(_, r)| *r);
        let t = Thresholds::new(find(&warn), find(&crit));
        let n = count(ty);
        let state = t.evaluate(n);
        if state != State::Ok {
            let what = if *ty == "total" {
                format!("total locks: {n}")
            } else {
                format!("total \"{ty}\" locks: {n}")
            };
            alerts.push((state, what));
        }
        sub.perfdata.push(
            Perfdata::new(format!("locks_{ty}"), n)
                .thresholds(&t)
                .min(0.0),
        );
    }
    if !types.contains(&"total") {
        sub.perfdata
            .push(Perfdata::new("locks_total", total).min(0.0));
    }
    if !types.contains(&"waiting") {
        sub.perfdata
            .push(Perfdata::new("locks_waiting", waiting).min(0.0));
    }
    alerts.sort_by_key(|(s, _)| std::cmp::Reverse(s.severity()));
    if let Some((state, _)) = alerts.first() {
        sub.state = *state;
        sub.summary = alerts
            .iter()
            .map(|(_, t)| t.as_str())
            .collect::<Vec<_>>()
            .join("; ");
    }
    Ok(sub)
}

/// The longest wait of a session for a lock another session holds.
// About 60 lines: the query and its verdict read top to bottom.
pub fn lockwait(run: &Run) -> Result<SubResult, CheckError> {
    let t = run.thresholds(Kind::Time, Rule::AtLeast)?;
    required(run, &t, "time")?;
    let rows = run.client.query(
        "SELECT datname AS name, pid, usename, \
                extract(epoch FROM now() - coalesce(state_change, query_start))::float8 AS waited, \
                cardinality(pg_blocking_pids(pid)) AS blockers, query \
         FROM pg_stat_activity WHERE wait_event_type = 'Lock' ORDER BY 4 DESC",
        &[],
    )?;
    let mut longest: Option<(f64, String)> = None;
    let mut n = 0.0;
    for r in &rows {
        let db: Option<String> = r.col("name")?;
        let user: Option<String> = r.col("usename")?;
        if !run
            .filter
            .keeps(db.as_deref().unwrap_or(""), None, user.as_deref())
        {
            continue;
        }
        n += 1.0;
        let waited: f64 = r.col::<Option<f64>>("waited")?.unwrap_or(0.0).max(0.0);
        if longest.as_ref().is_none_or(|(w, _)| waited > *w) {
            let pid: i32 = r.col("pid")?;
            let blockers: i32 = r.col("blockers")?;
            let query: Option<String> = r.col("query")?;
            longest = Some((
                waited,
                format!(
                    "pid {pid} (database {}, user {}) waits for {blockers} session{}: {}",
                    shown(db.as_deref().unwrap_or("?"), 63),
                    shown(user.as_deref().unwrap_or("?"), 63),
                    plugin_core::plural(blockers.max(0) as u64),
                    shown(query.as_deref().unwrap_or(""), 120)
                ),
            ));
        }
    }
    let (waited, who) = longest.unwrap_or((0.0, String::new()));
    let text = if n == 0.0 {
        "no session waits for a lock".to_string()
    } else {
        format!(
            "{n} session{} waiting for locks, the longest {}",
            plugin_core::plural(n as u64),
            Dimension::Time.human(waited)
        )
    };
    let mut sub = SubResult::judged(&t, waited, Dimension::Time, text)
        .perf(
            Perfdata::new("lockwait", (waited * 1000.0).round() / 1000.0)
                .uom(Uom::Seconds)
                .thresholds(&t)
                .min(0.0),
        )
        .perf(Perfdata::new("lockwait_sessions", n).min(0.0));
    if !who.is_empty() {
        sub.details.push(who);
    }
    Ok(sub)
}

/// The oldest prepared transaction (two-phase commit), per database.
pub fn prepared_txns(run: &Run) -> Result<SubResult, CheckError> {
    let t = run.thresholds(Kind::Seconds, Rule::AtLeast)?;
    let rows = run.client.query(
        "SELECT database AS name, round(extract(epoch FROM now() - prepared))::float8 AS age, \
                prepared::text AS prepared, gid \
         FROM pg_prepared_xacts ORDER BY prepared ASC",
        &[],
    )?;
    if rows.is_empty() {
        return Ok(SubResult::ok("No prepared transactions found")
            .perf(Perfdata::new("prepared_txns", 0.0).min(0.0)));
    }
    let mut oldest: Option<(f64, String)> = None;
    let mut sub = SubResult::ok("");
    for r in &rows {
        let db: String = r.col("name")?;
        if run.filter.skip(&db, None) {
            continue;
        }
        let age: f64 = r.col("age")?;
        let gid: String = r.col("gid")?;
        sub.details.push(format!(
            "{} in database {}: {}",
            shown(&gid, 63),
            shown(&db, 63),
            Dimension::Time.human(age)
        ));
        if oldest.as_ref().is_none_or(|(a, _)| age > *a) {
            oldest = Some((age, db));
        }
    }
    let Some((age, db)) = oldest else {
        return Ok(nothing_matched(run, "databases"));
    };
    let judged = SubResult::judged(
        &t,
        age,
        Dimension::Time,
        format!(
            "{} prepared transaction{}, the oldest {} old (database {})",
            sub.details.len(),
            plugin_core::plural(sub.details.len()),
            Dimension::Time.human(age),
            shown(&db, 63)
        ),
    );
    sub.state = judged.state;
    sub.summary = judged.summary;
    sub.perfdata.push(
        Perfdata::new("prepared_txns_age", age)
            .uom(Uom::Seconds)
            .thresholds(&t)
            .min(0.0),
    );
    sub.perfdata
        .push(Perfdata::new("prepared_txns", sub.details.len() as f64).min(0.0));
    Ok(sub)
}

/// What the query_time family looks at: the session column that starts the clock, the
/// sessions counted, and the words.
struct Sessions {
    start: &'static str,
    cond: &'static str,
    label: &'static str,
    one: &'static str,
    many: &'static str,
}

pub fn query_time(run: &Run) -> Result<SubResult, CheckError> {
    sessions(
        run,
        &Sessions {
            start: "state_change",
            cond: "state_change IS NOT NULL AND (state NOT LIKE 'idle%' OR state IS NULL)",
            label: "query_time",
            one: "running query",
            many: "queries",
        },
    )
}

pub fn txn_time(run: &Run) -> Result<SubResult, CheckError> {
    sessions(
        run,
        &Sessions {
            start: "xact_start",
            cond: "xact_start IS NOT NULL",
            label: "txn_time",
            one: "open transaction",
            many: "transactions",
        },
    )
}

pub fn txn_idle(run: &Run) -> Result<SubResult, CheckError> {
    sessions(
        run,
        &Sessions {
            start: "state_change",
            cond: "(state = 'idle in transaction' OR state IS NULL)",
            label: "txn_idle",
            one: "idle transaction",
            many: "idle transactions",
        },
    )
}

/// The `-w`/`-c` of the query_time family (a time, `+N` sessions, or `N for TIME`); one of
/// them is needed.
fn count_time(run: &Run) -> Result<(CountTime, CountTime), CheckError> {
    let parse = |t: &Option<String>, which: &str| {
        t.as_deref()
            .map(|t| CountTime::parse(t, false).map_err(|e| invalid(run.action, which, &e)))
            .transpose()
    };
    let w = parse(&run.warning, "warning")?;
    let c = parse(&run.critical, "critical")?;
    if w.is_none() && c.is_none() {
        return Err(CheckError::unknown(format!(
            "{}: give -w and/or -c: an integer (seconds), a time, +N sessions, or N for TIME",
            run.action.name
        )));
    }
    Ok((w.unwrap_or_default(), c.unwrap_or_default()))
}

/// The longest session: its age in seconds, who runs it, and its query (shortened).
type Longest = (f64, String, String);

/// The sessions of a kind the filter keeps: how many, and the longest.
fn longest_session(run: &Run, s: &Sessions) -> Result<(f64, Option<Longest>), CheckError> {
    let rows = run.client.query(
        &format!(
            "SELECT datname AS name, pid, usename, client_addr::text AS addr, query, state, \
                    coalesce(round(extract(epoch FROM now() - {start})), 0)::float8 AS seconds \
             FROM pg_stat_activity WHERE backend_type = 'client backend' AND ({cond}) \
             ORDER BY {start}, pid DESC",
            start = s.start,
            cond = s.cond
        ),
        &[],
    )?;
    let mut count = 0.0;
    let mut max: Option<Longest> = None;
    for r in &rows {
        let db: Option<String> = r.col("name")?;
        let user: Option<String> = r.col("usename")?;
        if !run
            .filter
            .keeps(db.as_deref().unwrap_or(""), None, user.as_deref())
        {
            continue;
        }
        let query: Option<String> = r.col("query")?;
        if query.as_deref() == Some("<insufficient privilege>") {
            return Err(CheckError::unknown(
                "cannot see other users' sessions: grant pg_monitor (or pg_read_all_stats) to the role",
            ));
        }
        count += 1.0;
        let secs: f64 = r.col("seconds")?;
        if max.as_ref().is_none_or(|(m, _, _)| secs >= *m) {
            let pid: i32 = r.col("pid")?;
            let who = format!(
                "pid {pid}, database {}, user {}",
                shown(db.as_deref().unwrap_or("?"), 63),
                shown(user.as_deref().unwrap_or("?"), 63)
            );
            max = Some((secs, who, shown(query.as_deref().unwrap_or(""), 200)));
        }
    }
    Ok((count, max))
}

/// check_postgres.pl's check_txn_idle: the longest session of a kind (this check's own
/// included, as check_postgres.pl counts it), judged by its age, by how many sessions there
/// are (`+N`), or both (`N for TIME`).
fn sessions(run: &Run, s: &Sessions) -> Result<SubResult, CheckError> {
    let (w, c) = count_time(run)?;
    let (count, max) = longest_session(run, s)?;
    let label = s.label;
    let time_t = Thresholds::new(w.time.map(Range::at_least), c.time.map(Range::at_least));
    let count_t = Thresholds::new(w.count.map(Range::at_least), c.count.map(Range::at_least));
    let perf = |secs: f64, count: f64| {
        [
            Perfdata::new(label, secs)
                .uom(Uom::Seconds)
                .thresholds(&time_t)
                .min(0.0),
            Perfdata::new(format!("{label}_count"), count)
                .thresholds(&count_t)
                .min(0.0),
        ]
    };
    let Some((secs, who, query)) = max else {
        let mut sub = SubResult::ok(format!("no {}", s.many));
        sub.perfdata.extend(perf(0.0, 0.0));
        return Ok(sub);
    };
    let fires = |ct: &CountTime| -> bool {
        match (ct.time, ct.count) {
            (Some(t), Some(n)) => secs >= t && count >= n,
            (Some(t), None) => secs >= t,
            (None, Some(n)) => count >= n,
            (None, None) => false,
        }
    };
    let state = if fires(&c) {
        State::Critical
    } else if fires(&w) {
        State::Warning
    } else {
        State::Ok
    };
    let mut text = format!(
        "longest {} {} ({who}); {count} {} in all",
        s.one,
        Dimension::Time.human(secs),
        s.many
    );
    if state != State::Ok {
        let ct = if state == State::Critical { &c } else { &w };
        let why = match (ct.time, ct.count) {
            (Some(t), Some(n)) => format!("{n} or more for {} or more", Dimension::Time.human(t)),
            (Some(t), None) => format!(">= {}", Dimension::Time.human(t)),
            (None, Some(n)) => format!("{n} or more {}", s.many),
            (None, None) => String::new(),
        };
        text.push_str(&format!(" ({} {why})", state.name().to_lowercase()));
    }
    let mut sub = SubResult::new(state, text);
    if !query.is_empty() {
        sub.details.push(format!("longest: {query}"));
    }
    sub.perfdata.extend(perf(secs, count));
    Ok(sub)
}

/// The lowest ratio of a database (lower is worse): hit or commit ratio.
fn ratio(
    run: &Run,
    expr: &str,
    nonzero: &str,
    label: &str,
    what: &str,
) -> Result<SubResult, CheckError> {
    let t = run.thresholds(Kind::Percent, Rule::AtMost)?;
    let rows = run.client.query(
        &format!(
            "SELECT d.datname AS name, r.rolname AS owner, \
                    round(100. * {expr}, 2)::float8 AS ratio \
             FROM pg_stat_database sd JOIN pg_database d ON (d.oid = sd.datid) \
             JOIN pg_roles r ON (r.oid = d.datdba) WHERE {nonzero} <> 0 ORDER BY 3, 1"
        ),
        &[],
    )?;
    let mut lowest: Option<(f64, String)> = None;
    let mut sub = SubResult::ok("");
    for r in &rows {
        let name: String = r.col("name")?;
        let owner: Option<String> = r.col("owner")?;
        if !run.filter.keeps(&name, None, owner.as_deref()) {
            continue;
        }
        let v: f64 = r.col("ratio")?;
        sub.perfdata.push(
            Perfdata::new(format!("{label}_{}", sanitize_label(&name)), v)
                .uom(Uom::Percent)
                .thresholds(&t)
                .min(0.0)
                .max(100.0),
        );
        if lowest.as_ref().is_none_or(|(l, _)| v < *l) {
            lowest = Some((v, name));
        }
    }
    let Some((v, name)) = lowest else {
        return Ok(nothing_matched(run, "databases"));
    };
    let judged = SubResult::judged(
        &t,
        v,
        Dimension::Percent,
        format!("database {} {what} {v}%", shown(&name, 63)),
    );
    sub.state = judged.state;
    sub.summary = judged.summary;
    Ok(sub)
}

pub fn hitratio(run: &Run) -> Result<SubResult, CheckError> {
    ratio(
        run,
        "sd.blks_hit / (sd.blks_read + sd.blks_hit)",
        "sd.blks_read + sd.blks_hit",
        "hitratio",
        "hit ratio",
    )
}

pub fn commitratio(run: &Run) -> Result<SubResult, CheckError> {
    ratio(
        run,
        "sd.xact_commit / (sd.xact_commit + sd.xact_rollback)",
        "sd.xact_commit + sd.xact_rollback",
        "commitratio",
        "commit ratio",
    )
}

/// The server's clock against this host's, in seconds.
pub fn timesync(run: &Run) -> Result<SubResult, CheckError> {
    let t = run.thresholds(Kind::Seconds, Rule::AtLeast)?;
    let before = plugin_core::unix_now();
    let server: f64 = run
        .client
        .query_one(
            "SELECT extract(epoch FROM clock_timestamp())::float8 AS now",
            &[],
        )?
        .col("now")?;
    let local = (before + plugin_core::unix_now()) / 2.0;
    let diff = ((server - local).abs() * 1000.0).round() / 1000.0;
    Ok(SubResult::judged(
        &t,
        diff,
        Dimension::Time,
        format!("server clock differs by {}", Dimension::Time.human(diff)),
    )
    .perf(
        Perfdata::new("timesync", diff)
            .uom(Uom::Seconds)
            .thresholds(&t)
            .min(0.0),
    ))
}

/// Statistics per database for Cacti, one line each as check_postgres.pl prints them
/// (`backends:N commits:N ... dbname:NAME`); no thresholds, always OK.
pub fn dbstats(run: &Run) -> Result<SubResult, CheckError> {
    no_thresholds(run)?;
    let rows = run.client.query(
        "SELECT coalesce(datname, '') AS name, numbackends::int8 AS backends, \
                xact_commit AS commits, xact_rollback AS rollbacks, blks_read AS read, \
                blks_hit AS hit, \
                coalesce((SELECT sum(idx_scan) FROM pg_stat_user_indexes), 0)::int8 AS idxscan, \
                coalesce((SELECT sum(idx_tup_read) FROM pg_stat_user_indexes), 0)::int8 AS idxtupread, \
                coalesce((SELECT sum(idx_tup_fetch) FROM pg_stat_user_indexes), 0)::int8 AS idxtupfetch, \
                coalesce((SELECT sum(idx_blks_read) FROM pg_statio_user_indexes), 0)::int8 AS idxblksread, \
                coalesce((SELECT sum(idx_blks_hit) FROM pg_statio_user_indexes), 0)::int8 AS idxblkshit, \
                coalesce((SELECT sum(seq_scan) FROM pg_stat_user_tables), 0)::int8 AS seqscan, \
                coalesce((SELECT sum(seq_tup_read) FROM pg_stat_user_tables), 0)::int8 AS seqtupread, \
                tup_returned AS ret, tup_fetched AS fetch, tup_inserted AS ins, \
                tup_updated AS upd, tup_deleted AS del \
         FROM pg_stat_database ORDER BY 1",
        &[],
    )?;
    const COLS: &[&str] = &[
        "backends",
        "commits",
        "rollbacks",
        "read",
        "hit",
        "idxscan",
        "idxtupread",
        "idxtupfetch",
        "idxblksread",
        "idxblkshit",
        "seqscan",
        "seqtupread",
        "ret",
        "fetch",
        "ins",
        "upd",
        "del",
    ];
    let mut lines = Vec::new();
    for r in &rows {
        let name: String = r.col("name")?;
        if run.filter.skip(&name, None) {
            continue;
        }
        let mut line = String::new();
        for c in COLS {
            let v: Option<i64> = r.col(c)?;
            line.push_str(&format!("{c}:{} ", v.unwrap_or(0)));
        }
        line.push_str(&format!("dbname:{}", sanitize_line(&name)));
        lines.push(line);
    }
    let mut sub = SubResult::ok(lines.first().cloned().unwrap_or_default());
    sub.details = lines.into_iter().skip(1).collect();
    Ok(sub)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backends_forms() {
        assert_eq!(Backends::parse("90%"), Ok(Backends::Percent(90.0)));
        assert_eq!(Backends::parse("5"), Ok(Backends::Count(5.0)));
        assert_eq!(Backends::parse("-10"), Ok(Backends::Free(10.0)));
        assert!(Backends::parse("-5%").is_err());
        assert!(Backends::parse("x").is_err());
        let r = Backends::Free(10.0).range(100.0);
        assert!(r.alerts(90.0) && !r.alerts(89.0));
        let r = Backends::Percent(90.0).range(200.0);
        assert!(r.alerts(180.0) && !r.alerts(179.0));
    }

    #[test]
    fn lock_limit_spellings() {
        assert_eq!(lock_limits("400").unwrap()[0].0, "total");
        let l = lock_limits("total=400:waiting=5;ExclusiveLock=2").unwrap();
        let names: Vec<&str> = l.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["total", "waiting", "exclusive"]);
        assert!(l[0].1.alerts(400.0) && !l[0].1.alerts(399.0));
        assert!(lock_limits("many").is_err());
    }
}
