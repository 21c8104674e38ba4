//! check_fts_update_log: how many rows wait in Zulip's `fts_update_log` (filled by a trigger on
//! message edits, drained by the `process_fts_updates` daemon). A growing log means the daemon
//! is not keeping up or not running.
//!
//! Zulip's check (`process_fts_updates --nagios-check`): `SELECT count(*) FROM fts_update_log`,
//! more than 5 rows CRITICAL, message `N rows in fts_update_log table`. Kept, with an optional
//! warning, `--table`, UNKNOWN (not a traceback) when the table is not there, and CRITICAL
//! in libpq's words when the server refuses or is down.

use clap::Parser;
use custos_pg::{ConnArgs, RowExt};
use plugin_core::{args, CheckResult, Context, Perfdata, Plugin, Range, Report, Thresholds};

pub const PLUGIN: Plugin = Plugin::new("check_fts_update_log", env!("CARGO_PKG_VERSION"));

#[derive(Parser, Debug)]
#[command(about = "Count the rows waiting in Zulip's full-text-search update log")]
pub struct Args {
    #[command(flatten)]
    pub conn: ConnArgs,

    /// Zulip's server configuration: its database is the default database
    #[arg(long = "zulip-conf", value_name = "FILE", default_value = custos_zulip::DEFAULT_CONF)]
    pub zulip_conf: std::path::PathBuf,

    /// Table to count (TABLE or SCHEMA.TABLE, resolved with the role's search_path)
    #[arg(long = "table", value_name = "TABLE", default_value = "fts_update_log")]
    pub table: String,

    /// Warning range on the row count [default: none]
    #[arg(short = 'w', long = "warning", value_name = "RANGE", value_parser = args::count_range)]
    pub warning: Option<Range>,

    /// Critical range on the row count [default: 5, i.e. more than 5 rows, as Zulip]
    #[arg(short = 'c', long = "critical", value_name = "RANGE", value_parser = args::count_range,
          default_value = "5")]
    pub critical: Range,
}

pub fn check(args: &Args, ctx: &Context) -> CheckResult {
    // Zulip's database when nothing names one, as Zulip's own check used.
    let db =
        custos_zulip::database_name(&args.zulip_conf).map_err(plugin_core::CheckError::unknown)?;
    let client = args.conn.with_default_dbname(db).open(ctx, PLUGIN.name)?;
    let table = client.table(&args.table)?;
    let rows: i64 = client
        .query_one(&format!("SELECT count(*) AS n FROM {table}"), &[])?
        .col("n")?;
    let thresholds = Thresholds::new(args.warning, Some(args.critical));
    let rows = rows as f64;
    Ok(Report::new(
        thresholds.evaluate(rows),
        format!("{rows} rows in {} table", args.table),
    )
    .perf(Perfdata::new("rows", rows).thresholds(&thresholds).min(0.0)))
}
