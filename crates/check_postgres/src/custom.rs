//! Queries of the operator's: custom_query (a query's `result` column judged), query_runtime
//! (how long counting a view takes), replicate_row (a row changed on the primary, timed until
//! every replica has it: this action writes).

use crate::activity::required;
use crate::thresholds::{pl_integer, pl_size, pl_time, Kind, Rule};
use crate::{invalid, Run};
use custos_pg::RowExt;
use plugin_core::{CheckError, Dimension, Perfdata, State, SubResult, Thresholds, Uom};
use std::time::{Duration, Instant};

/// `--valtype`: what the `result` column is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ValType {
    Integer,
    String,
    Time,
    Size,
}

impl ValType {
    fn parse(text: &str) -> Result<ValType, CheckError> {
        Ok(match text.to_ascii_lowercase().as_str() {
            "integer" => ValType::Integer,
            "string" => ValType::String,
            "time" => ValType::Time,
            "size" => ValType::Size,
            other => {
                return Err(CheckError::unknown(format!(
                    "--valtype '{other}': integer, string, time or size"
                )))
            }
        })
    }

    fn number(self, text: &str) -> Result<f64, String> {
        match self {
            ValType::Integer => pl_integer(text),
            ValType::Time => pl_time(text),
            ValType::Size => pl_size(text),
            ValType::String => Err("not a number".into()),
        }
    }
}

/// A JSON value as text (strings without quotes).
fn json_text(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// The `result` column of every row of `--query`, judged: at or above the threshold (or at or
/// below with `--reverse`), or for strings equal (or, with `--reverse`, different). Any other
/// column is the perfdata label and value.
// One function, about 95 lines, on purpose: check_postgres.pl's check_custom_query (the
// --valtype cases, --reverse, the result column and the perfdata column) in its order.
pub fn custom_query(run: &Run) -> Result<SubResult, CheckError> {
    let valtype = ValType::parse(&run.args.valtype)?;
    let (w, c) = (run.warning.clone(), run.critical.clone());
    if w.is_none() && c.is_none() {
        return Err(CheckError::unknown(
            "custom_query: must provide a 'warning' or 'critical' option",
        ));
    }
    let num = |t: &Option<String>, which: &str| -> Result<Option<f64>, CheckError> {
        match (t, valtype) {
            (Some(t), v) if v != ValType::String => v
                .number(t)
                .map(Some)
                .map_err(|e| invalid(run.action, which, &e)),
            _ => Ok(None),
        }
    };
    let (wn, cn) = (num(&w, "warning")?, num(&c, "critical")?);
    if let (Some(a), Some(b)) = (wn, cn) {
        if (!run.args.reverse && a > b) || (run.args.reverse && a < b) {
            return Err(invalid(
                run.action,
                "warning",
                "the warning is beyond the critical",
            ));
        }
    }
    let query = run
        .args
        .query
        .as_deref()
        .ok_or_else(|| CheckError::unknown("custom_query: give --query"))?;
    let inner = query.trim().trim_end_matches(';');
    let rows = run.client.query(
        &format!("SELECT to_jsonb(q)::text AS row FROM ({inner}) q"),
        &[],
    )?;
    if rows.is_empty() {
        return Ok(SubResult::new(State::Unknown, "No rows returned"));
    }
    let reverse = run.args.reverse;
    let fires = |value: &str, limit: &Option<String>, n: Option<f64>| -> bool {
        match (valtype, limit) {
            (_, None) => false,
            (ValType::String, Some(l)) => (value == l) != reverse,
            (_, Some(_)) => match (valtype.number(value), n) {
                (Ok(v), Some(n)) => {
                    if reverse {
                        v <= n
                    } else {
                        v >= n
                    }
                }
                _ => false,
            },
        }
    };
    let mut sub = SubResult::ok("");
    let mut results = Vec::new();
    let mut worst = State::Ok;
    for r in &rows {
        let text: String = r.col("row")?;
        let row: serde_json::Map<String, serde_json::Value> = serde_json::from_str(&text)
            .map_err(|e| CheckError::unknown(format!("custom_query: unreadable row: {e}")))?;
        let result = row.get("result").map(json_text).ok_or_else(|| {
            CheckError::unknown("Invalid format returned by custom query: no column named result")
        })?;
        let state = if fires(&result, &c, cn) {
            State::Critical
        } else if fires(&result, &w, wn) {
            State::Warning
        } else {
            State::Ok
        };
        worst = worst.worst(state);
        results.push(result.clone());
        if let Some((label, value)) = row.iter().find(|(k, _)| k.as_str() != "result") {
            if let Ok(v) = json_text(value).parse::<f64>() {
                sub.perfdata.push(Perfdata::new(label, v));
            }
        }
        if valtype != ValType::String {
            if let Ok(v) = valtype.number(&result) {
                sub.perfdata.push(Perfdata::new("result", v));
            }
        }
    }
    sub.state = worst;
    sub.summary = format!(
        "result {}",
        results
            .iter()
            .map(|r| crate::activity::shown(r, 60))
            .collect::<Vec<_>>()
            .join(", ")
    );
    Ok(sub)
}

/// How long `SELECT COUNT(1) FROM --queryname` runs (EXPLAIN ANALYZE's execution time).
pub fn query_runtime(run: &Run) -> Result<SubResult, CheckError> {
    let t = run.thresholds(Kind::Time, Rule::AtLeast)?;
    required(run, &t, "time")?;
    let name =
        run.args.queryname.as_deref().ok_or_else(|| {
            CheckError::unknown("query_runtime: give --queryname (a view or table)")
        })?;
    let ok = !name.is_empty()
        && name
            .trim_end_matches("()")
            .chars()
            .all(|c| c.is_alphanumeric() || c == '_' || c == '.');
    if !ok {
        return Err(CheckError::unknown(format!(
            "query_runtime: --queryname '{name}' must be a simple view or table name"
        )));
    }
    let rows = run
        .client
        .query(&format!("EXPLAIN ANALYZE SELECT COUNT(1) FROM {name}"), &[])?;
    let mut ms = None;
    for r in &rows {
        let line: String = r.col("QUERY PLAN")?;
        if let Some(v) = line.trim().strip_prefix("Execution Time:") {
            ms = v.trim().trim_end_matches("ms").trim().parse::<f64>().ok();
        }
    }
    // In hundredths of a second, as check_postgres.pl judges it.
    let secs = ms.ok_or_else(|| CheckError::unknown("EXPLAIN ANALYZE gave no execution time"))?;
    let secs = (secs / 10.0).round() / 100.0;
    Ok(SubResult::judged(
        &t,
        secs,
        Dimension::Time,
        format!("query runtime: {secs:.2} seconds"),
    )
    .perf(
        Perfdata::new("query_runtime", secs)
            .uom(Uom::Seconds)
            .thresholds(&t)
            .min(0.0),
    ))
}

/// `"schema"."table"` from `schema.table`.
fn quote_ident(name: &str) -> String {
    name.split('.')
        .map(|p| format!("\"{}\"", p.replace('"', "\"\"")))
        .collect::<Vec<_>>()
        .join(".")
}

fn quote_literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// `--repinfo`: table, primary key column, id, column, and the two values.
struct RepInfo<'a> {
    table: &'a str,
    pk: &'a str,
    id: &'a str,
    col: &'a str,
    values: [&'a str; 2],
}

impl<'a> RepInfo<'a> {
    fn parse(run: &'a Run) -> Result<RepInfo<'a>, CheckError> {
        let info = run.args.repinfo.as_deref().ok_or_else(|| {
            CheckError::unknown("replicate_row: give --repinfo table,pk,id,column,value1,value2")
        })?;
        let parts: Vec<&str> = info.split(',').map(str::trim).collect();
        let [table, pk, id, col, v1, v2] = parts[..] else {
            return Err(CheckError::unknown(
                "replicate_row: --repinfo expects 6 comma-separated values",
            ));
        };
        if v1 == v2 {
            return Err(CheckError::unknown(
                "replicate_row: the two values must differ to test replication",
            ));
        }
        Ok(RepInfo {
            table,
            pk,
            id,
            col,
            values: [v1, v2],
        })
    }

    /// The row's value on one server.
    fn value_on(&self, c: &custos_pg::Client) -> Result<Option<String>, CheckError> {
        let select = format!(
            "SELECT {}::text AS v FROM {} WHERE {}::text = {}",
            quote_ident(self.col),
            quote_ident(self.table),
            quote_ident(self.pk),
            quote_literal(self.id)
        );
        Ok(c.query(&select, &[])?
            .first()
            .map(|r| r.col("v"))
            .transpose()?
            .flatten())
    }

    /// Sets the row's value on the first server.
    fn set(&self, c: &custos_pg::Client, value: &str) -> Result<(), CheckError> {
        c.execute(
            &format!(
                "UPDATE {} SET {} = {} WHERE {}::text = {}",
                quote_ident(self.table),
                quote_ident(self.col),
                quote_literal(value),
                quote_ident(self.pk),
                quote_literal(self.id)
            ),
            &[],
        )?;
        Ok(())
    }
}

/// `--repinfo table,pk,id,column,value1,value2`: flips the row's column between the two values
/// on the first server and times how long the others (replicas) take to show it.
pub fn replicate_row(run: &Run) -> Result<SubResult, CheckError> {
    let t = run.thresholds(Kind::Time, Rule::Above)?;
    required(run, &t, "time")?;
    let info = RepInfo::parse(run)?;
    let now = info.value_on(run.client)?;
    let replicas = &run.clients[1..];
    for c in replicas {
        if info.value_on(c)? != now {
            return Ok(SubResult::new(
                State::Unknown,
                "Cannot test replication: values are not the same on every server",
            ));
        }
    }
    let [v1, v2] = info.values;
    let new = match now.as_deref() {
        Some(v) if v == v1 => v2,
        Some(v) if v == v2 => v1,
        other => {
            return Ok(SubResult::new(
                State::Unknown,
                format!(
                    "Cannot test replication: the value is {:?}, neither {v1} nor {v2}",
                    other.unwrap_or("missing")
                ),
            ))
        }
    };
    info.set(run.client, new)?;
    wait_for_replicas(run, &info, new, &t)
}

/// Polls the replicas until all show `new`, the thresholds' largest end passes, or the
/// deadline nears: the time it took, judged.
fn wait_for_replicas(
    run: &Run,
    info: &RepInfo,
    new: &str,
    t: &Thresholds,
) -> Result<SubResult, CheckError> {
    let replicas = &run.clients[1..];
    let started = Instant::now();
    let limit = [t.warning, t.critical]
        .iter()
        .flatten()
        .filter_map(|r| r.end.or(r.start))
        .fold(0.0f64, f64::max);
    run.ctx.stage("waiting for the row on the replicas");
    let mut pending: Vec<usize> = (0..replicas.len()).collect();
    loop {
        let mut still = Vec::new();
        for &i in &pending {
            if info.value_on(&replicas[i])?.as_deref() != Some(new) {
                still.push(i);
            }
        }
        pending = still;
        let elapsed = started.elapsed().as_secs_f64();
        let out_of_time = run.ctx.remaining() < Duration::from_millis(400);
        if pending.is_empty() || elapsed > limit || out_of_time {
            let mut sub = SubResult::judged(
                t,
                elapsed,
                Dimension::Time,
                if pending.is_empty() {
                    format!("Row was replicated in {}", Dimension::Time.human(elapsed))
                } else {
                    format!(
                        "Row not replicated to {} of {} replicas after {}",
                        pending.len(),
                        replicas.len(),
                        Dimension::Time.human(elapsed)
                    )
                },
            );
            if !pending.is_empty() && sub.state == State::Ok {
                // The deadline came first: not replicated is not OK.
                sub.state = run.ctx.timed_out().state;
            }
            return Ok(sub.perf(
                Perfdata::new("replicate_row", (elapsed * 1000.0).round() / 1000.0)
                    .uom(Uom::Seconds)
                    .thresholds(t)
                    .min(0.0),
            ));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}
