//! check_email_deliverer_backlog: scheduled emails that are overdue, i.e. that Zulip's
//! `deliver_scheduled_emails` worker should already have sent.
//!
//! Zulip's check (bash around `manage.py print_email_delivery_backlog`, deleted 2021 because the
//! nagios user could not run it): count `zerver_scheduledemail` rows with
//! `scheduled_timestamp <= now() - 1 minute`; 1-9 WARNING, 10 or more CRITICAL; `backlog of N`
//! or `no backlog`. Here the count is one SQL query over the PostgreSQL connection options
//! (the nagios role needs only SELECT on the table), with the age of the oldest overdue email.

use clap::Parser;
use custos_pg::{ConnArgs, RowExt};
use plugin_core::human_duration;
use plugin_core::{args, CheckResult, Context, Perfdata, Plugin, Range, Report, Thresholds, Uom};

pub const PLUGIN: Plugin = Plugin::new("check_email_deliverer_backlog", env!("CARGO_PKG_VERSION"));

#[derive(Parser, Debug)]
#[command(about = "Count scheduled emails that are overdue (Zulip's email deliverer backlog)")]
pub struct Args {
    #[command(flatten)]
    pub conn: ConnArgs,

    /// Zulip's server configuration: its database is the default database
    #[arg(long = "zulip-conf", value_name = "FILE", default_value = custos_zulip::DEFAULT_CONF)]
    pub zulip_conf: std::path::PathBuf,

    /// An email is overdue this long after its scheduled time [default: 1min, as Zulip]
    #[arg(long = "lag", value_name = "DURATION", value_parser = args::duration, default_value = "60")]
    pub lag: f64,

    /// Table of scheduled emails (TABLE or SCHEMA.TABLE)
    #[arg(
        long = "table",
        value_name = "TABLE",
        default_value = "zerver_scheduledemail"
    )]
    pub table: String,

    /// Warning range on the backlog [default: 0, i.e. 1 or more, as Zulip]
    #[arg(short = 'w', long = "warning", value_name = "RANGE", value_parser = args::count_range,
          default_value = "0")]
    pub warning: Range,

    /// Critical range on the backlog [default: 9, i.e. 10 or more, as Zulip]
    #[arg(short = 'c', long = "critical", value_name = "RANGE", value_parser = args::count_range,
          default_value = "9")]
    pub critical: Range,
}

pub fn check(args: &Args, ctx: &Context) -> CheckResult {
    // Zulip's database when nothing names one, as Zulip's own check used.
    let db =
        custos_zulip::database_name(&args.zulip_conf).map_err(plugin_core::CheckError::unknown)?;
    let client = args.conn.with_default_dbname(db).open(ctx, PLUGIN.name)?;
    let table = client.table(&args.table)?;
    // The server's clock decides what is overdue, as Django's timezone.now() on the app host
    // did in Zulip's version (both are the same host's clock there).
    let row = client.query_one(
        &format!(
            "SELECT count(*) AS backlog, \
                    extract(epoch FROM now() - min(scheduled_timestamp))::float8 AS oldest \
             FROM {table} WHERE scheduled_timestamp <= now() - make_interval(secs => $1)"
        ),
        &[&args.lag],
    )?;
    let backlog = row.col::<i64>("backlog")? as f64;
    let oldest: Option<f64> = row.col("oldest")?;
    let thresholds = Thresholds::new(Some(args.warning), Some(args.critical));
    let state = thresholds.evaluate(backlog);
    let summary = match oldest {
        Some(age) if backlog > 0.0 => format!(
            "backlog of {backlog} (oldest scheduled {} ago)",
            human_duration(age)
        ),
        _ => "no backlog".to_string(),
    };
    let mut report = Report::new(state, summary).perf(
        Perfdata::new("backlog", backlog)
            .thresholds(&thresholds)
            .min(0.0),
    );
    report.perfdata.push(
        Perfdata::new(
            "oldest",
            (oldest.unwrap_or(0.0).max(0.0) * 1000.0).round() / 1000.0,
        )
        .uom(Uom::Seconds)
        .min(0.0),
    );
    Ok(report)
}
