//! The schema and the server's configuration: disabled_triggers, sequence, settings_checksum,
//! version, same_schema; and the actions PostgreSQL no longer has a meaning for.

use crate::activity::{no_thresholds, nothing_matched, shown};
use crate::thresholds::{Kind, Rule};
use crate::wal::expected;
use crate::Run;
use custos_pg::{Client, RowExt};
use plugin_core::{CheckError, Dimension, Perfdata, State, SubResult, Uom};
use std::collections::BTreeMap;

/// Disabled triggers (internal ones included, as check_postgres.pl counts them).
pub fn disabled_triggers(run: &Run) -> Result<SubResult, CheckError> {
    let t = run.thresholds(Kind::Positive, Rule::AtLeast)?;
    let rows = run.client.query(
        "SELECT tgrelid::regclass::text AS tname, tgname FROM pg_trigger \
         WHERE tgenabled = 'D' ORDER BY tgname",
        &[],
    )?;
    let names: Vec<String> = rows
        .iter()
        .map(|r| {
            Ok(format!(
                "{}=>{}",
                r.col::<String>("tname")?,
                r.col::<String>("tgname")?
            ))
        })
        .collect::<Result<_, CheckError>>()?;
    let n = names.len() as f64;
    let what = if names.is_empty() {
        "no disabled triggers".to_string()
    } else {
        format!(
            "{n} disabled trigger{}: {}",
            plugin_core::plural(names.len()),
            names
                .iter()
                .take(3)
                .map(|s| shown(s, 120))
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    let mut sub = SubResult::judged(&t, n, Dimension::Count, what).perf(
        Perfdata::new("disabled_triggers", n)
            .thresholds(&t)
            .min(0.0),
    );
    sub.details
        .extend(names.iter().map(|n| format!("disabled: {}", shown(n, 200))));
    Ok(sub)
}

/// The most used sequence, as a percentage of the values it can still give.
// About 60 lines: check_postgres.pl's check_sequence, its query and its verdict in order.
pub fn sequence(run: &Run) -> Result<SubResult, CheckError> {
    let t = run.thresholds(Kind::Percent, Rule::AtLeast)?;
    let cycled = if run.args.skipcycled {
        "CASE WHEN cycle THEN 0 ELSE round(used/slots*100) END"
    } else {
        "round(used/slots*100)"
    };
    let rows = run.client.query(
        &format!(
            "SELECT schemaname AS schema, sequencename AS name, \
                    {cycled}::float8 AS percent, \
                    (CASE WHEN slots < used THEN 0 ELSE slots - used END)::float8 AS left \
             FROM (SELECT schemaname, sequencename, cycle, \
                     ceil((max_value - min_value::numeric + 1) / increment_by::numeric) AS slots, \
                     ceil((coalesce(last_value, min_value) - min_value::numeric + 1) \
                          / increment_by::numeric) AS used \
                   FROM pg_sequences) s ORDER BY 3 DESC, 4, 1, 2"
        ),
        &[],
    )?;
    if rows.is_empty() {
        return Ok(SubResult::ok("No sequences found"));
    }
    let mut sub = SubResult::ok("");
    let mut most: Option<(f64, f64, String)> = None;
    for r in &rows {
        let schema: String = r.col("schema")?;
        let name: String = r.col("name")?;
        if run.filter.skip(&name, Some(&schema)) {
            continue;
        }
        let pct: f64 = r.col("percent")?;
        let left: f64 = r.col("left")?;
        if sub.perfdata.len() < run.args.perflimit.unwrap_or(usize::MAX) {
            sub.perfdata.push(
                Perfdata::new(format!("{schema}.{name}"), pct)
                    .uom(Uom::Percent)
                    .thresholds(&t)
                    .min(0.0)
                    .max(100.0),
            );
        }
        if most.as_ref().is_none_or(|(m, _, _)| pct > *m) {
            most = Some((pct, left, format!("{schema}.{name}")));
        }
    }
    let Some((pct, left, name)) = most else {
        return Ok(nothing_matched(run, "sequences"));
    };
    let judged = SubResult::judged(
        &t,
        pct,
        Dimension::Percent,
        format!(
            "sequence {} is {pct}% used ({left} calls left)",
            shown(&name, 120)
        ),
    );
    sub.state = judged.state;
    sub.summary = judged.summary;
    Ok(sub)
}

/// An MD5 of the server's settings (`name value` lines in name order, values right-trimmed),
/// against the expected one. Settings a session chooses (application_name, statement_timeout,
/// client_encoding, ...) are left out, so the checksum is the server's, whatever the client:
/// check_postgres.pl's includes its own session's, so the two differ.
pub fn settings_checksum(run: &Run) -> Result<SubResult, CheckError> {
    let (state, want) = expected(run)?;
    let rows = run.client.query(
        "SELECT name, coalesce(setting, '') AS setting FROM pg_settings \
         WHERE source NOT IN ('client', 'session') ORDER BY name",
        &[],
    )?;
    let mut text = String::new();
    let mut n = 0;
    for r in &rows {
        let name: String = r.col("name")?;
        if run.filter.skip(&name, None) {
            continue;
        }
        n += 1;
        let setting: String = r.col("setting")?;
        text.push_str(&format!("{name} {}\n", setting.trim_end()));
    }
    // The server's md5(): the checksum check_postgres.pl computes (an MD5), with no hashing
    // code of custos' own.
    let sum: String = run
        .client
        .query_one("SELECT md5($1::text) AS sum", &[&text])?
        .col("sum")?;
    let words = format!("checksum: {sum} ({n} settings)");
    Ok(if want == "0" {
        SubResult::new(State::Unknown, words)
    } else if !want.eq_ignore_ascii_case(&sum) {
        SubResult::new(state, format!("{words}, expected {want}"))
    } else {
        SubResult::ok(words)
    })
}

/// The server's version against the expected one: `15` (the major version) or `15.20`.
pub fn version(run: &Run) -> Result<SubResult, CheckError> {
    if run.warning.is_none() && run.critical.is_none() {
        return Err(CheckError::unknown(
            "version: give the expected version as -w and/or -c (X.Y or X.Y.Z, or the major version)",
        ));
    }
    let full: String = run
        .client
        .query_one("SELECT current_setting('server_version') AS v", &[])?
        .col("v")?;
    let full = full.split_whitespace().next().unwrap_or("").to_string();
    let major = full.split('.').next().unwrap_or("").to_string();
    let differs = |want: &str| {
        let w = want.trim();
        let valid = w.chars().next().is_some_and(|c| c.is_ascii_digit())
            && w.chars().all(|c| c.is_ascii_alphanumeric() || c == '.');
        if !valid {
            return Err(CheckError::unknown(format!(
                "version: '{want}' is not a version (X.Y or X.Y.Z)"
            )));
        }
        // A bare major (15, or 9.6 before 10) is compared with the major version.
        let is_major = !w.contains('.') || (w.starts_with('9') && w.matches('.').count() == 1);
        Ok(if is_major && !w.starts_with('9') {
            w != major
        } else {
            w != full && !(is_major && full.starts_with(&format!("{w}.")))
        })
    };
    let (state, want) = match (&run.critical, &run.warning) {
        (Some(c), _) => (State::Critical, c),
        (None, Some(w)) => (State::Warning, w),
        (None, None) => unreachable!("checked above"),
    };
    Ok(if differs(want)? {
        SubResult::new(
            state,
            format!("version {full}, but expected {}", want.trim()),
        )
    } else {
        SubResult::ok(format!("version {full}"))
    })
}

/// fsm_pages and fsm_relations: PostgreSQL has kept no free space map settings since 8.4.
pub fn gone(run: &Run) -> Result<SubResult, CheckError> {
    Ok(SubResult::new(
        State::Unknown,
        format!(
            "Cannot check {} on servers version 8.4 or greater",
            run.action.name
        ),
    ))
}

/// One database's schema, for same_schema: per kind, object name -> description.
type Schema = BTreeMap<&'static str, BTreeMap<String, String>>;

/// The catalogs same_schema compares: (kind, query returning `name` and `def`). System schemas
/// are left out.
const CATALOG: &[(&str, &str)] = &[
    (
        "Schema",
        "SELECT nspname AS name, pg_get_userbyid(nspowner) AS def FROM pg_namespace \
         WHERE nspname !~ '^pg_' AND nspname <> 'information_schema'",
    ),
    (
        "Table",
        "SELECT n.nspname || '.' || c.relname AS name, \
                c.relkind::text || ' owner ' || pg_get_userbyid(c.relowner) AS def \
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE c.relkind IN ('r','p','v','m','f') AND n.nspname !~ '^pg_' \
           AND n.nspname <> 'information_schema'",
    ),
    (
        "Column",
        "SELECT n.nspname || '.' || c.relname || '.' || a.attname AS name, \
                format_type(a.atttypid, a.atttypmod) || CASE WHEN a.attnotnull THEN ' not null' ELSE '' END \
                || coalesce(' default ' || pg_get_expr(d.adbin, d.adrelid), '') AS def \
         FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid \
         JOIN pg_namespace n ON n.oid = c.relnamespace \
         LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum \
         WHERE a.attnum > 0 AND NOT a.attisdropped AND c.relkind IN ('r','p','v','m','f') \
           AND n.nspname !~ '^pg_' AND n.nspname <> 'information_schema'",
    ),
    (
        "Index",
        "SELECT n.nspname || '.' || c.relname AS name, pg_get_indexdef(c.oid) AS def \
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE c.relkind IN ('i','I') AND n.nspname !~ '^pg_' AND n.nspname <> 'information_schema'",
    ),
    (
        "Constraint",
        "SELECT n.nspname || '.' || c.conrelid::regclass::text || '.' || c.conname AS name, \
                pg_get_constraintdef(c.oid) AS def \
         FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace \
         WHERE n.nspname !~ '^pg_' AND n.nspname <> 'information_schema'",
    ),
    (
        "Function",
        "SELECT n.nspname || '.' || p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ')' AS name, \
                pg_get_function_result(p.oid) || ' ' || md5(coalesce(p.prosrc, '')) AS def \
         FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace \
         WHERE n.nspname !~ '^pg_' AND n.nspname <> 'information_schema'",
    ),
    (
        "Trigger",
        "SELECT t.tgrelid::regclass::text || '.' || t.tgname AS name, pg_get_triggerdef(t.oid) AS def \
         FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid \
         JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE NOT t.tgisinternal AND n.nspname !~ '^pg_' AND n.nspname <> 'information_schema'",
    ),
];

fn schema_of(c: &Client, run: &Run) -> Result<Schema, CheckError> {
    let mut out = Schema::new();
    for (kind, sql) in CATALOG {
        let mut items = BTreeMap::new();
        for r in c.query(sql, &[])? {
            let name: String = r.col("name")?;
            if run.filter.skip(&name, None) {
                continue;
            }
            let def: Option<String> = r.col("def")?;
            items.insert(name, def.unwrap_or_default());
        }
        out.insert(kind, items);
    }
    Ok(out)
}

/// Tables, columns, indexes, constraints, functions, triggers and schemas, the same on two
/// servers (or databases): CRITICAL naming the differences.
pub fn same_schema(run: &Run) -> Result<SubResult, CheckError> {
    no_thresholds(run)?;
    let a = schema_of(&run.clients[0], run)?;
    let b = schema_of(&run.clients[1], run)?;
    let mut differences = Vec::new();
    let mut objects = 0;
    for (kind, items_a) in &a {
        let items_b = &b[kind];
        objects += items_a.len();
        for (name, def) in items_a {
            match items_b.get(name) {
                None => differences.push(format!("{kind} {name} exists only on server 1")),
                Some(other) if other != def => differences.push(format!(
                    "{kind} {name} differs: server 1 '{}', server 2 '{}'",
                    shown(def, 200),
                    shown(other, 200)
                )),
                Some(_) => {}
            }
        }
        for name in items_b.keys().filter(|n| !items_a.contains_key(*n)) {
            differences.push(format!("{kind} {name} exists only on server 2"));
        }
    }
    let n = differences.len();
    let mut sub = if n == 0 {
        SubResult::ok(format!(
            "All databases have identical items ({objects} compared)"
        ))
    } else {
        SubResult::new(
            State::Critical,
            format!(
                "Databases were different. Items not matched: {n}: {}",
                differences
                    .first()
                    .map(|d| shown(d, 200))
                    .unwrap_or_default()
            ),
        )
    };
    sub.details = differences;
    sub.perfdata
        .push(Perfdata::new("differences", n as f64).min(0.0));
    Ok(sub)
}
