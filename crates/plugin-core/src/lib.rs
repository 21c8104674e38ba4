//! plugin-core: the Monitoring Plugins contract, implemented once for every custos check.
//!
//! - [`State`]: states, exit codes, worst-of (OK < UNKNOWN < WARNING < CRITICAL).
//! - [`Range`] and [`Thresholds`]: the strict Nagios range grammar, values with units
//!   ([`units`]), critical evaluated before warning, NaN → UNKNOWN.
//! - [`Perfdata`]: formatting (and a strict parser, for tests) per plugin-contract §4.4.
//! - [`Report`], [`SubResult`] and [`Findings`]: what a check found and how it prints (status
//!   line, long output, perfdata placement, sanitising, the output budget, JSON).
//! - [`run`]: clap parsing with [`CommonArgs`] ([`Plugin`]), the deadline watchdog, end
//!   signals, the panic guard, the state file, the single exit path; [`Context`] and the
//!   stage named in messages; [`CheckError`].
//! - [`process`]: helper programs run within the deadline, killed with their process group.
//! - [`statefile`]: Zulip's `ts|code|STATE|message` files, written atomically.
//! - [`render_openmetrics`]: the result as Prometheus metrics (`--output-format openmetrics`,
//!   `--textfile` for node_exporter).
//! - [`files`]: writes that never follow a symlink, reads with a bound.
//! - [`secret`]: passwords and keys from files, never printed.
//!
//! # Why not the `nagiosplugin` crate
//!
//! The design card names the `nagiosplugin` crate (0.7.1, passively maintained). It is not used:
//! it has no range syntax at all (only greater/less triggers, and a value *equal* to the
//! threshold alerts, where Nagios' `-w 30` is OK at 30), no timeout, no argument handling, no
//! sanitising of perfdata labels or of `|` in text (so `a | b` corrupts the output), and it
//! reports NaN and an empty check as OK. Each of these is a rule of the contract, so custos keeps
//! its own small core instead of wrapping the crate's types; nothing in it would survive the
//! fixes. The `nagios-range` and `perfdata` crates were rejected for the reasons in
//! plugin-contract §3.2/§4.3 (`inf`/`NaN` accepted, `@10:` printed as `@10:~`, `2:1` silently
//! swapped).

#![deny(missing_docs)]

pub mod args;
mod context;
mod error;
mod exit;
pub mod files;
mod openmetrics;
mod output;
mod perfdata;
mod plugin;
pub mod process;
mod range;
pub mod secret;
mod state;
pub mod statefile;
mod units;

pub use context::{output_budget, stage, substage, warn, Context};
pub use error::{CheckError, CheckResult};
pub use exit::{run, run_with_args};
pub use openmetrics::render as render_openmetrics;
pub use output::{
    render_json, render_nagios, sanitize_line, seconds_phrase, truncate, Findings, Report,
    SubResult, DEFAULT_OUTPUT_LIMIT, LINE1_LIMIT, SUMMARY_LIMIT,
};
pub use perfdata::{format_list, sanitize_label, Perfdata, PerfdataGroups, Uom};
pub use plugin::{command, parse_timeout, CommonArgs, OutputFormat, Plugin, RewriteArgs, Timeout};
pub use range::{Range, RangeError, Thresholds};
pub use secret::Secret;
pub use state::State;
pub use units::{
    format_number, human_bytes, human_duration, parse_duration, parse_quantity, Dimension,
    UnitError,
};

/// Seconds since the Unix epoch, now (0 if the clock is before 1970).
pub fn unix_now() -> f64 {
    unix_time(std::time::SystemTime::now())
}

/// Seconds since the Unix epoch of a file time or clock reading (0 before 1970).
pub fn unix_time(t: std::time::SystemTime) -> f64 {
    t.duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// Seconds since the Unix epoch of a C library `asctime` stamp in local time (`Sun Nov 22
/// 13:14:15 2026`): what Python's `time.asctime()` writes in Zulip's queue error files and
/// `pg_controldata` prints for the latest checkpoint. `None` when `text` is not one.
pub fn parse_asctime(text: &str) -> Option<f64> {
    let tm = jiff::fmt::strtime::parse("%a %b %e %H:%M:%S %Y", text.trim()).ok()?;
    let zoned = tm
        .to_datetime()
        .ok()?
        .to_zoned(jiff::tz::TimeZone::system())
        .ok()?;
    Some(zoned.timestamp().as_millisecond() as f64 / 1000.0)
}

/// `""` for one, `"s"` otherwise: `format!("{n} queue{}", plural(n))`.
pub fn plural(n: impl TryInto<u64>) -> &'static str {
    match n.try_into() {
        Ok(1) => "",
        _ => "s",
    }
}

/// The I/O runtime every network client drives its requests on: the check's own thread, with
/// the I/O and time drivers (clients bound each step by the deadline themselves).
#[cfg(feature = "runtime")]
pub fn runtime() -> Result<tokio::runtime::Runtime, CheckError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| CheckError::unknown(format!("cannot start the I/O runtime: {e}")))
}
