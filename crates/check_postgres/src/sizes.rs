//! Sizes: database_size, and the relation family (relation_size, table_size, index_size,
//! indexes_size, total_relation_size), each the biggest object against a size, as
//! check_postgres.pl measures them (all schemas, system catalogs included).

use crate::activity::{nothing_matched, required, shown};
use crate::thresholds::{Kind, Rule};
use crate::Run;
use custos_pg::RowExt;
use plugin_core::{CheckError, Dimension, Perfdata, SubResult, Uom};

/// The biggest database the role may connect to.
pub fn database_size(run: &Run) -> Result<SubResult, CheckError> {
    let t = run.thresholds(Kind::Size, Rule::AtLeast)?;
    required(run, &t, "size")?;
    let rows = run.client.query(
        "SELECT d.datname AS name, r.rolname AS owner, \
                pg_database_size(d.oid)::float8 AS size \
         FROM pg_database d LEFT JOIN pg_roles r ON (r.oid = d.datdba) \
         WHERE has_database_privilege(d.oid, 'CONNECT') ORDER BY 3 DESC, 1",
        &[],
    )?;
    let mut sub = SubResult::ok("");
    let mut biggest: Option<(f64, String)> = None;
    for r in &rows {
        let name: String = r.col("name")?;
        let owner: Option<String> = r.col("owner")?;
        if !run.filter.keeps(&name, None, owner.as_deref()) {
            continue;
        }
        let size: f64 = r.col("size")?;
        if sub.perfdata.len() < run.args.perflimit.unwrap_or(usize::MAX) {
            sub.perfdata.push(
                Perfdata::new(
                    format!("database_size_{}", plugin_core::sanitize_label(&name)),
                    size,
                )
                .uom(Uom::Bytes)
                .thresholds(&t)
                .min(0.0),
            );
        }
        if biggest.as_ref().is_none_or(|(b, _)| size > *b) {
            biggest = Some((size, name));
        }
    }
    let Some((size, name)) = biggest else {
        return Ok(nothing_matched(run, "databases"));
    };
    let judged = SubResult::judged(
        &t,
        size,
        Dimension::Bytes,
        format!(
            "database {} is {}",
            shown(&name, 63),
            Dimension::Bytes.human(size)
        ),
    );
    sub.state = judged.state;
    sub.summary = judged.summary;
    Ok(sub)
}

/// The biggest relation of `kinds` by `size_fn` (pg_relation_size, pg_table_size, ...).
fn relations(run: &Run, size_fn: &str, kinds: &str, what: &str) -> Result<SubResult, CheckError> {
    let t = run.thresholds(Kind::Size, Rule::AtLeast)?;
    required(run, &t, "size")?;
    let rows = run.client.query(
        &format!(
            "SELECT n.nspname AS schema, c.relname AS name, c.relkind::text AS kind, \
                    r.rolname AS owner, {size_fn}(c.oid)::float8 AS size \
             FROM pg_class c JOIN pg_namespace n ON (c.relnamespace = n.oid) \
             JOIN pg_roles r ON (r.oid = c.relowner) \
             WHERE c.relkind IN ({kinds}) ORDER BY 5 DESC, 1, 2"
        ),
        &[],
    )?;
    let mut sub = SubResult::ok("");
    let mut biggest: Option<(f64, String, String)> = None;
    for r in &rows {
        let schema: String = r.col("schema")?;
        let name: String = r.col("name")?;
        let owner: Option<String> = r.col("owner")?;
        if !run.filter.keeps(&name, Some(&schema), owner.as_deref()) {
            continue;
        }
        let size: f64 = r.col("size")?;
        let kind: String = r.col("kind")?;
        if sub.perfdata.len() < run.args.perflimit.unwrap_or(usize::MAX) {
            sub.perfdata.push(
                Perfdata::new(format!("{schema}.{name}"), size)
                    .uom(Uom::Bytes)
                    .thresholds(&t)
                    .min(0.0),
            );
        }
        if biggest.as_ref().is_none_or(|(b, _, _)| size > *b) {
            let noun = if kind == "i" { "index" } else { "table" };
            biggest = Some((size, format!("{schema}.{name}"), noun.to_string()));
        }
    }
    let Some((size, name, noun)) = biggest else {
        return Ok(nothing_matched(run, "relations"));
    };
    let text = what
        .replace("{noun}", &noun)
        .replace("{name}", &shown(&name, 120))
        .replace("{size}", &Dimension::Bytes.human(size));
    let judged = SubResult::judged(&t, size, Dimension::Bytes, text);
    sub.state = judged.state;
    sub.summary = judged.summary;
    Ok(sub)
}

pub fn relation_size(run: &Run) -> Result<SubResult, CheckError> {
    relations(
        run,
        "pg_relation_size",
        "'r','t','i','m'",
        "largest relation is {noun} {name}: {size}",
    )
}

pub fn table_size(run: &Run) -> Result<SubResult, CheckError> {
    relations(
        run,
        "pg_table_size",
        "'r','m'",
        "largest table is {name}: {size}",
    )
}

pub fn index_size(run: &Run) -> Result<SubResult, CheckError> {
    relations(
        run,
        "pg_relation_size",
        "'i'",
        "largest index is {name}: {size}",
    )
}

pub fn indexes_size(run: &Run) -> Result<SubResult, CheckError> {
    relations(
        run,
        "pg_indexes_size",
        "'r','t','m'",
        "table with largest indexes is {name}: {size}",
    )
}

pub fn total_relation_size(run: &Run) -> Result<SubResult, CheckError> {
    relations(
        run,
        "pg_total_relation_size",
        "'r','m'",
        "largest table is {name}: {size} with indexes and TOAST",
    )
}
