//! clap value parsers for the option types every check uses: states, ranges with units,
//! durations. Their errors become `UNKNOWN - invalid value ... : <why>` lines.

use crate::range::Range;
use crate::state::State;
use crate::units::{parse_duration, Dimension};

/// A state name or 0-3.
pub fn state(text: &str) -> Result<State, String> {
    text.parse::<State>().map_err(|e| e.to_string())
}

/// A range of plain numbers.
pub fn count_range(text: &str) -> Result<Range, String> {
    Range::parse_in(text, Dimension::Count, 1.0).map_err(|e| e.0)
}

/// A range of durations; bare numbers are seconds.
pub fn time_range(text: &str) -> Result<Range, String> {
    Range::parse_in(text, Dimension::Time, 1.0).map_err(|e| e.0)
}

/// A range of sizes; bare numbers are bytes.
pub fn bytes_range(text: &str) -> Result<Range, String> {
    Range::parse_in(text, Dimension::Bytes, 1.0).map_err(|e| e.0)
}

/// A range of percentages.
pub fn percent_range(text: &str) -> Result<Range, String> {
    Range::parse_in(text, Dimension::Percent, 1.0).map_err(|e| e.0)
}

/// A duration in seconds (`120`, `90s`, `5min`, `2h`, `1d`).
pub fn duration(text: &str) -> Result<f64, String> {
    parse_duration(text).map_err(|e| e.0)
}
