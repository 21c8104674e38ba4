//! plugin-core: the Monitoring Plugins contract, implemented once for every custos check.
//!
//! - [`State`]: states, exit codes, worst-of (OK < UNKNOWN < WARNING < CRITICAL).
//! - [`Range`] and [`Thresholds`]: the strict Nagios range grammar, values with units
//!   ([`units`]), critical evaluated before warning, NaN → UNKNOWN.
//! - [`Perfdata`]: formatting (and a strict parser, for tests) per plugin-contract §4.4.
//! - [`Report`] and [`output`]: the status line, long output, perfdata placement, sanitising,
//!   the output budget, JSON.
//! - [`run`]: clap parsing with [`CommonArgs`], the deadline watchdog, the panic guard, the
//!   state file, the single exit path.
//! - [`process`]: helper programs run within the deadline, killed with their process group.
//! - [`statefile`]: Zulip's `ts|code|STATE|message` files, written atomically.
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

pub mod args;
pub mod files;
pub mod output;
pub mod perfdata;
pub mod process;
pub mod range;
pub mod runner;
pub mod secret;
pub mod state;
pub mod statefile;
pub mod units;

pub use output::{Findings, Report};
pub use perfdata::{Perfdata, Uom};
pub use range::{Range, RangeError, Thresholds};
pub use runner::{run, CheckError, CheckResult, CommonArgs, Context, OutputFormat, Plugin};
pub use secret::Secret;
pub use state::State;
pub use units::Dimension;
