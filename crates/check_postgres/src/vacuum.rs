//! Vacuum and freeze: autovac_freeze, txn_wraparound, last_vacuum, last_autovacuum,
//! last_analyze, last_autoanalyze, and bloat (check_postgres.pl's estimate).

use crate::activity::{nothing_matched, required, shown};
use crate::thresholds::{pl_percent, pl_size, Kind, Rule};
use crate::{invalid, Run};
use custos_pg::RowExt;
use plugin_core::{sanitize_label, CheckError, Dimension, Perfdata, State, SubResult, Uom};

/// A measured object: its name, its schema (when it has one), and the value (when there is one).
pub type Named = (String, Option<String>, Option<f64>);

/// The highest value of `(name, value)` rows (after the filter), judged, with one perfdata
/// item per row.
pub fn highest(
    run: &Run,
    rows: &[Named],
    t: &plugin_core::Thresholds,
    dim: Dimension,
    prefix: &str,
    what: impl Fn(&str, f64) -> String,
    none: &str,
) -> SubResult {
    let mut sub = SubResult::ok(none.to_string());
    let mut best: Option<(f64, &str)> = None;
    let mut kept = 0;
    for (name, schema, value) in rows {
        if run.filter.skip(name, schema.as_deref()) {
            continue;
        }
        kept += 1;
        let Some(v) = value else { continue };
        if sub.perfdata.len() < run.args.perflimit.unwrap_or(usize::MAX) {
            sub.perfdata.push(
                Perfdata::new(format!("{prefix}_{}", sanitize_label(name)), *v)
                    .uom(Uom::of(dim))
                    .thresholds(t)
                    .min(0.0),
            );
        }
        if best.is_none_or(|(b, _)| *v > b) {
            best = Some((*v, name));
        }
    }
    if kept == 0 && !rows.is_empty() {
        return nothing_matched(run, "databases");
    }
    if let Some((v, name)) = best {
        let judged = SubResult::judged(t, v, dim, what(name, v));
        sub.state = judged.state;
        sub.summary = judged.summary;
    }
    sub
}

/// Per database, the age of datfrozenxid as a percentage of autovacuum_freeze_max_age.
pub fn autovac_freeze(run: &Run) -> Result<SubResult, CheckError> {
    let t = run.thresholds(Kind::Percent, Rule::AtLeast)?;
    let rows = run.client.query(
        "SELECT datname AS name, round(100 * (age(datfrozenxid) / \
                current_setting('autovacuum_freeze_max_age')::float))::float8 AS pct \
         FROM pg_database WHERE datallowconn ORDER BY 2 DESC, 1",
        &[],
    )?;
    let rows = named(&rows, "pct")?;
    Ok(highest(
        run,
        &rows,
        &t,
        Dimension::Percent,
        "autovac_freeze",
        |n, v| {
            format!(
                "database {} is at {v}% of autovacuum_freeze_max_age",
                shown(n, 63)
            )
        },
        "no databases",
    ))
}

/// The highest age(datfrozenxid) of any database.
pub fn txn_wraparound(run: &Run) -> Result<SubResult, CheckError> {
    let t = run.thresholds(Kind::Positive, Rule::AtLeast)?;
    for (which, r) in [("warning", t.warning), ("critical", t.critical)] {
        if r.and_then(|r| r.start).is_some_and(|v| v >= 2e9) {
            return Err(invalid(run.action, which, "it must be less than 2 billion"));
        }
    }
    let rows = run.client.query(
        "SELECT datname AS name, age(datfrozenxid)::float8 AS age FROM pg_database \
         WHERE datallowconn ORDER BY 1",
        &[],
    )?;
    let rows = named(&rows, "age")?;
    Ok(highest(
        run,
        &rows,
        &t,
        Dimension::Count,
        "txn_wraparound",
        |n, v| format!("database {} is {v} transactions old", shown(n, 63)),
        "no databases",
    ))
}

/// `(name, None, value)` from rows with a `name` and a value column.
pub fn named(rows: &[custos_pg::Row], value: &str) -> Result<Vec<Named>, CheckError> {
    rows.iter()
        .map(|r| Ok((r.col::<String>("name")?, None, r.col::<Option<f64>>(value)?)))
        .collect()
}

/// Time since the least recently vacuumed (analyzed, ...) table: tables never vacuumed do not
/// count (check_postgres.pl's rule); if none ever was, UNKNOWN.
// One function, about 70 lines, on purpose: the four last_(auto)vacuum/analyze actions of
// check_postgres.pl share this one body, as its check_last_vacuum_analyze does.
fn last(run: &Run, when: &str, done: &str) -> Result<SubResult, CheckError> {
    let t = run.thresholds(Kind::Time, Rule::AtLeast)?;
    required(run, &t, "time")?;
    let rows = run.client.query(
        &format!(
            "SELECT n.nspname AS schema, c.relname AS name, r.rolname AS owner, \
                    extract(epoch FROM now() - ({when}))::float8 AS age, ({when})::text AS at \
             FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
             JOIN pg_roles r ON r.oid = c.relowner \
             WHERE c.relkind = 'r' AND n.nspname <> 'information_schema' ORDER BY 1, 2"
        ),
        &[],
    )?;
    let db: String = run
        .client
        .query_one("SELECT current_database() AS db", &[])?
        .col("db")?;
    let mut sub = SubResult::ok("");
    let mut oldest: Option<(f64, String, String)> = None;
    let mut kept = 0;
    for r in &rows {
        let schema: String = r.col("schema")?;
        let name: String = r.col("name")?;
        let owner: Option<String> = r.col("owner")?;
        if !run.filter.keeps(&name, Some(&schema), owner.as_deref()) {
            continue;
        }
        kept += 1;
        let Some(age) = r.col::<Option<f64>>("age")? else {
            continue;
        };
        let age = age.max(0.0).round();
        if sub.perfdata.len() < run.args.perflimit.unwrap_or(usize::MAX) {
            sub.perfdata.push(
                Perfdata::new(format!("{db}.{schema}.{name}"), age)
                    .uom(Uom::Seconds)
                    .thresholds(&t)
                    .min(0.0),
            );
        }
        if oldest.as_ref().is_none_or(|(a, _, _)| age > *a) {
            let at: String = r.col::<Option<String>>("at")?.unwrap_or_default();
            oldest = Some((age, format!("{schema}.{name}"), at));
        }
    }
    let Some((age, table, at)) = oldest else {
        if kept == 0 && !rows.is_empty() {
            return Ok(nothing_matched(run, "tables"));
        }
        return Ok(SubResult::new(
            State::Unknown,
            format!("No matching tables have ever been {done}"),
        ));
    };
    let judged = SubResult::judged(
        &t,
        age,
        Dimension::Time,
        format!(
            "table {} in database {} was last {done} {} ago",
            shown(&table, 120),
            shown(&db, 63),
            Dimension::Time.human(age)
        ),
    );
    sub.state = judged.state;
    sub.summary = judged.summary;
    sub.details.push(format!("{table}: {done} at {at}"));
    Ok(sub)
}

pub fn last_vacuum(run: &Run) -> Result<SubResult, CheckError> {
    last(
        run,
        "greatest(pg_stat_get_last_vacuum_time(c.oid), pg_stat_get_last_autovacuum_time(c.oid))",
        "vacuumed",
    )
}

pub fn last_autovacuum(run: &Run) -> Result<SubResult, CheckError> {
    last(
        run,
        "pg_stat_get_last_autovacuum_time(c.oid)",
        "autovacuumed",
    )
}

pub fn last_analyze(run: &Run) -> Result<SubResult, CheckError> {
    last(
        run,
        "greatest(pg_stat_get_last_analyze_time(c.oid), pg_stat_get_last_autoanalyze_time(c.oid))",
        "analyzed",
    )
}

pub fn last_autoanalyze(run: &Run) -> Result<SubResult, CheckError> {
    last(
        run,
        "pg_stat_get_last_autoanalyze_time(c.oid)",
        "autoanalyzed",
    )
}

/// A bloat threshold: wasted bytes, a bloat percentage (150% = 1.5 times the expected size),
/// or both joined by `and`/`or`; alerts at the value.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Bloat {
    Bytes(f64),
    Percent(f64),
    And(f64, f64),
    Or(f64, f64),
}

impl Bloat {
    fn parse(text: &str) -> Result<Bloat, String> {
        let t = text.trim();
        let lower = t.to_ascii_lowercase();
        for (sep, and) in [
            (" and ", true),
            (" && ", true),
            (" or ", false),
            (" || ", false),
        ] {
            if let Some(i) = lower.find(sep) {
                let (a, b) = (&t[..i], &t[i + sep.len()..]);
                let (size, pct) = match (Bloat::parse(a)?, Bloat::parse(b)?) {
                    (Bloat::Bytes(s), Bloat::Percent(p)) | (Bloat::Percent(p), Bloat::Bytes(s)) => {
                        (s, p)
                    }
                    _ => return Err(format!("'{text}': one size and one percentage")),
                };
                return Ok(if and {
                    Bloat::And(size, pct)
                } else {
                    Bloat::Or(size, pct)
                });
            }
        }
        if t.ends_with('%') {
            return pl_percent(t).map(Bloat::Percent);
        }
        pl_size(t)
            .map(Bloat::Bytes)
            .map_err(|_| format!("'{text}' is not a size or a percentage"))
    }

    fn fires(self, bytes: f64, pct: f64) -> bool {
        match self {
            Bloat::Bytes(s) => bytes >= s,
            Bloat::Percent(p) => pct >= p,
            Bloat::And(s, p) => bytes >= s && pct >= p,
            Bloat::Or(s, p) => bytes >= s || pct >= p,
        }
    }
}

/// check_postgres.pl's bloat estimate (its query, from pg_stats): wasted space per table and
/// index; the worst is judged.
// One function, about 75 lines, on purpose: check_postgres.pl's check_bloat (its query,
// its size-and-percent rules, its per-object lines) in its order, to compare line by line.
pub fn bloat(run: &Run) -> Result<SubResult, CheckError> {
    let (w, c) = run.values_or_defaults();
    let parse = |t: Option<String>, which: &str| {
        t.map(|t| Bloat::parse(&t).map_err(|e| invalid(run.action, which, &e)))
            .transpose()
    };
    let (w, c) = (parse(w, "warning")?, parse(c, "critical")?);
    let limit = if run.filter.names_given() {
        String::new()
    } else {
        format!(
            " WHERE sml.relpages - otta > 0 OR ipages - iotta > 10 \
             ORDER BY totalwastedbytes DESC LIMIT {}",
            run.args.perflimit.unwrap_or(10)
        )
    };
    let rows = run.client.query(&format!("{BLOAT_SQL}{limit}"), &[])?;
    let mut sub = SubResult::ok("no relations meet the minimum bloat criteria");
    let mut worst: Option<(State, f64, String)> = None;
    let mut kept = 0;
    for r in &rows {
        let schema: String = r.col("schemaname")?;
        let table: String = r.col("tablename")?;
        if run.filter.skip(&table, Some(&schema)) {
            continue;
        }
        kept += 1;
        let items = [
            (
                format!("table {schema}.{table}"),
                r.col::<Option<f64>>("wastedbytes")?.unwrap_or(0.0),
                r.col::<Option<f64>>("tbloat")?.unwrap_or(0.0),
                format!("{schema}.{table}"),
            ),
            (
                format!("index {}", r.col::<String>("iname")?),
                r.col::<Option<f64>>("wastedibytes")?.unwrap_or(0.0),
                r.col::<Option<f64>>("ibloat")?.unwrap_or(0.0),
                r.col::<String>("iname")?,
            ),
        ];
        for (what, bytes, ratio, label) in items {
            if label == "?" || sub.perfdata.iter().any(|p| p.label == label) {
                continue;
            }
            let pct = ratio * 100.0;
            let state = if c.is_some_and(|c| c.fires(bytes, pct)) {
                State::Critical
            } else if w.is_some_and(|w| w.fires(bytes, pct)) {
                State::Warning
            } else {
                State::Ok
            };
            sub.perfdata
                .push(Perfdata::new(label, bytes).uom(Uom::Bytes).min(0.0));
            let text = format!(
                "{what} wastes {} ({ratio:.1}x its expected size)",
                Dimension::Bytes.human(bytes)
            );
            let worse = worst.as_ref().is_none_or(|(s, b, _)| {
                state.severity() > s.severity() || (state == *s && bytes > *b)
            });
            if worse {
                worst = Some((state, bytes, text));
            }
        }
    }
    if kept == 0 && !rows.is_empty() {
        return Ok(nothing_matched(run, "relations"));
    }
    if let Some((state, _, text)) = worst {
        sub.state = state;
        sub.summary = text;
    }
    Ok(sub)
}

/// check_postgres.pl 2.25's bloat estimate, as it sends it to PostgreSQL 12 and later.
const BLOAT_SQL: &str = "SELECT current_database() AS db, schemaname, tablename, \
  reltuples::bigint AS tups, relpages::bigint AS pages, otta, \
  ROUND(CASE WHEN otta=0 OR sml.relpages=0 OR sml.relpages=otta THEN 0.0 ELSE sml.relpages/otta::numeric END,1)::float8 AS tbloat, \
  (CASE WHEN relpages < otta THEN 0 ELSE bs*(sml.relpages-otta)::bigint END)::float8 AS wastedbytes, \
  iname, \
  ROUND(CASE WHEN iotta=0 OR ipages=0 OR ipages=iotta THEN 0.0 ELSE ipages/iotta::numeric END,1)::float8 AS ibloat, \
  (CASE WHEN ipages < iotta THEN 0 ELSE bs*(ipages-iotta) END)::float8 AS wastedibytes, \
  CASE WHEN relpages < otta THEN CASE WHEN ipages < iotta THEN 0 ELSE bs*(ipages-iotta::bigint) END \
    ELSE CASE WHEN ipages < iotta THEN bs*(relpages-otta::bigint) \
      ELSE bs*(relpages-otta::bigint + ipages-iotta::bigint) END END AS totalwastedbytes \
FROM ( SELECT nn.nspname AS schemaname, cc.relname AS tablename, COALESCE(cc.reltuples,0) AS reltuples, \
    COALESCE(cc.relpages,0) AS relpages, COALESCE(bs,0) AS bs, \
    COALESCE(CEIL((cc.reltuples*((datahdr+ma-(CASE WHEN datahdr%ma=0 THEN ma ELSE datahdr%ma END))+nullhdr2+4))/(bs-20::float)),0) AS otta, \
    COALESCE(c2.relname,'?') AS iname, COALESCE(c2.reltuples,0) AS ituples, COALESCE(c2.relpages,0) AS ipages, \
    COALESCE(CEIL((c2.reltuples*(datahdr-12))/(bs-20::float)),0) AS iotta \
  FROM pg_class cc JOIN pg_namespace nn ON cc.relnamespace = nn.oid AND nn.nspname <> 'information_schema' \
  LEFT JOIN ( SELECT ma,bs,foo.nspname,foo.relname, \
      (datawidth+(hdr+ma-(case when hdr%ma=0 THEN ma ELSE hdr%ma END)))::numeric AS datahdr, \
      (maxfracsum*(nullhdr+ma-(case when nullhdr%ma=0 THEN ma ELSE nullhdr%ma END))) AS nullhdr2 \
    FROM ( SELECT ns.nspname, tbl.relname, hdr, ma, bs, \
        SUM((1-coalesce(null_frac,0))*coalesce(avg_width, 2048)) AS datawidth, \
        MAX(coalesce(null_frac,0)) AS maxfracsum, \
        hdr+( SELECT 1+count(*)/8 FROM pg_stats s2 WHERE null_frac<>0 AND s2.schemaname = ns.nspname AND s2.tablename = tbl.relname ) AS nullhdr \
      FROM pg_attribute att JOIN pg_class tbl ON att.attrelid = tbl.oid \
      JOIN pg_namespace ns ON ns.oid = tbl.relnamespace \
      LEFT JOIN pg_stats s ON s.schemaname=ns.nspname AND s.tablename = tbl.relname AND s.inherited=false AND s.attname=att.attname, \
      ( SELECT (SELECT current_setting('block_size')::numeric) AS bs, 23 AS hdr, \
          CASE WHEN v ~ 'mingw32' OR v ~ '64-bit' THEN 8 ELSE 4 END AS ma \
        FROM (SELECT version() AS v) AS foo ) AS constants \
      WHERE att.attnum > 0 AND tbl.relkind='r' GROUP BY 1,2,3,4,5 ) AS foo ) AS rs \
  ON cc.relname = rs.relname AND nn.nspname = rs.nspname \
  LEFT JOIN pg_index i ON indrelid = cc.oid LEFT JOIN pg_class c2 ON c2.oid = i.indexrelid ) AS sml";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bloat_values() {
        assert_eq!(Bloat::parse("1 GB"), Ok(Bloat::Bytes(1073741824.0)));
        assert_eq!(Bloat::parse("150%"), Ok(Bloat::Percent(150.0)));
        assert_eq!(
            Bloat::parse("1T and 150%"),
            Ok(Bloat::And(1099511627776.0, 150.0))
        );
        assert_eq!(
            Bloat::parse("150% or 10M"),
            Ok(Bloat::Or(10485760.0, 150.0))
        );
        assert!(Bloat::parse("1G and 2G").is_err());
        assert!(Bloat::And(10.0, 150.0).fires(10.0, 150.0));
        assert!(!Bloat::And(10.0, 150.0).fires(10.0, 149.0));
        assert!(Bloat::Or(10.0, 150.0).fires(0.0, 150.0));
    }
}
