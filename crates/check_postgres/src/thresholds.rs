//! `--warning` and `--critical` as check_postgres.pl writes them, and as custos does.
//!
//! Two rules, one table (the README's "Thresholds"):
//!
//! - **A check_postgres.pl value** (`100`, `"20 seconds"`, `"1 GB"`, `90%`, `total=400`,
//!   `"5 for 10 minutes"`): check_postgres.pl's meaning and rule, so its command lines give the
//!   same states. It alerts *at* the value (`>=`), except where check_postgres.pl alerts above it
//!   (`wal_files`, `archive_ready`, `hot_standby_delay`) or at or below it (`hitratio`,
//!   `commitratio`, where lower is worse). Units as check_postgres.pl reads them: sizes are
//!   binary (`1 kB` = 1024 bytes), only the first letter of a unit word counts (`5 minutes`,
//!   `5min`, `5m`), with or without a space.
//! - **A Nagios range** (anything with `:`, `@` or `~`: `~:100`, `@10:20`, `90:`): Nagios' own
//!   rule and custos' units (`20s`, `16MiB`, `90%`).
//!
//! Where custos reads a value more carefully than check_postgres.pl 2.25 (sizes with more than
//! one decimal, `ms`, unknown unit letters), the README lists it.

use plugin_core::{Dimension, Range};

/// How a check_postgres.pl value is compared, per action.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rule {
    /// Alert when the value is at the threshold or above (check_postgres.pl's usual `>=`).
    AtLeast,
    /// Alert when the value is above the threshold (`>`: wal_files, archive_ready).
    Above,
    /// Alert when the value is at the threshold or below (`<=`: hit and commit ratios).
    AtMost,
}

impl Rule {
    /// The Nagios range that alerts as this rule does at `x`.
    pub fn range(self, x: f64) -> Range {
        match self {
            Rule::AtLeast => Range::at_least(x),
            Rule::Above => Range::above(x),
            Rule::AtMost => Range::at_most(x),
        }
    }
}

/// Is `text` written in Nagios range syntax rather than as a check_postgres.pl value?
pub fn is_range_syntax(text: &str) -> bool {
    let t = text.trim();
    t.contains(':') || t.starts_with('@') || t.starts_with('~')
}

/// check_postgres.pl's unit words: only the first letter counts, case-insensitively.
fn unit_letter(word: &str) -> Option<char> {
    word.chars().next().map(|c| c.to_ascii_lowercase())
}

/// Splits `12.5 GB` / `12.5GB` / `12` into the number and the rest (trimmed).
fn number_and_word(text: &str) -> Option<(f64, &str)> {
    let t = text.trim();
    let end = t
        .char_indices()
        .find(|(_, c)| !(c.is_ascii_digit() || *c == '.' || *c == '_'))
        .map_or(t.len(), |(i, _)| i);
    let (num, rest) = t.split_at(end);
    let num: String = num.chars().filter(|c| *c != '_').collect();
    if num.is_empty() || num.starts_with('.') || num.ends_with('.') {
        return None;
    }
    let v: f64 = num.parse().ok()?;
    v.is_finite().then_some((v, rest.trim()))
}

/// A size as check_postgres.pl writes it: `1048576`, `1 GB`, `1GB`, `1 gigabytes`, `512k`,
/// `1.5 TB` (binary: k = 1024).
pub fn pl_size(text: &str) -> Result<f64, String> {
    let bad = || format!("'{text}' is not a size (bytes, or a number with kB, MB, GB, TB, PB)");
    let (v, word) = number_and_word(text).ok_or_else(bad)?;
    if word.contains(char::is_whitespace) {
        return Err(bad());
    }
    let power = match unit_letter(word) {
        None | Some('b') => 0,
        Some('k') => 1,
        Some('m') => 2,
        Some('g') => 3,
        Some('t') => 4,
        Some('p') => 5,
        Some('e') => 6,
        _ => return Err(bad()),
    };
    Ok(v * 1024f64.powi(power))
}

/// A time as check_postgres.pl writes it: `30`, `20 seconds`, `5 minutes`, `5min`, `1h`, `2 days`,
/// `1w` (no unit: seconds). `ms` is milliseconds here (check_postgres.pl reads 5 minutes).
pub fn pl_time(text: &str) -> Result<f64, String> {
    let bad = || {
        format!(
            "'{text}' is not a time (seconds, or a number with seconds, minutes, hours, days, weeks)"
        )
    };
    let (v, word) = number_and_word(text).ok_or_else(bad)?;
    if word.contains(char::is_whitespace) {
        return Err(bad());
    }
    if word.eq_ignore_ascii_case("ms") {
        return Ok(v / 1000.0);
    }
    let factor = match unit_letter(word) {
        None | Some('s') => 1.0,
        Some('m') => 60.0,
        Some('h') => 3600.0,
        Some('d') => 86400.0,
        Some('w') => 604800.0,
        Some('y') => 31536000.0,
        _ => return Err(bad()),
    };
    Ok(v * factor)
}

/// check_postgres.pl's "seconds" (timesync, prepared_txns): a whole number, optionally followed
/// by `s`, `sec`, `secs`, `second` or `seconds`.
pub fn pl_seconds(text: &str) -> Result<f64, String> {
    let bad = || format!("'{text}' is not a number of seconds");
    let (v, word) = number_and_word(text).ok_or_else(bad)?;
    if v.fract() != 0.0 || !matches!(word, "" | "s" | "sec" | "secs" | "second" | "seconds") {
        return Err(bad());
    }
    Ok(v)
}

/// A percentage: `90%` (check_postgres.pl requires the `%`; custos also takes `90`).
pub fn pl_percent(text: &str) -> Result<f64, String> {
    let t = text.trim();
    let n = t.strip_suffix('%').unwrap_or(t).trim();
    match number_and_word(n) {
        Some((v, "")) => Ok(v),
        _ => Err(format!("'{text}' is not a percentage such as 90%")),
    }
}

/// A whole number (underscores allowed, as check_postgres.pl takes `1_300_000_000`), optionally
/// signed.
pub fn pl_integer(text: &str) -> Result<f64, String> {
    let t: String = text.trim().chars().filter(|c| *c != '_').collect();
    let digits = t.strip_prefix(['+', '-']).unwrap_or(&t);
    if digits.is_empty() || !digits.chars().all(|c| c.is_ascii_digit()) {
        return Err(format!("'{text}' is not a whole number"));
    }
    t.parse::<f64>()
        .map_err(|_| format!("'{text}' is not a whole number"))
}

/// The kind of value an action's thresholds are (check_postgres.pl's `validate_range` types).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Sizes: database_size, relation sizes, replication_slots.
    Size,
    /// Times: last_vacuum and friends, checkpoint, query_runtime, lockwait.
    Time,
    /// Whole seconds: timesync, prepared_txns.
    Seconds,
    /// Percentages: autovac_freeze, sequence, hitratio, commitratio.
    Percent,
    /// Whole numbers: custom_query.
    Integer,
    /// Whole numbers above 0 (txn_wraparound, disabled_triggers, wal_files, archive_ready).
    Positive,
}

impl Kind {
    /// The dimension of a Nagios range for this kind.
    pub fn dimension(self) -> Dimension {
        match self {
            Kind::Size => Dimension::Bytes,
            Kind::Time | Kind::Seconds => Dimension::Time,
            Kind::Percent => Dimension::Percent,
            Kind::Integer | Kind::Positive => Dimension::Count,
        }
    }

    /// Parses a check_postgres.pl value of this kind.
    pub fn parse_pl(self, text: &str) -> Result<f64, String> {
        match self {
            Kind::Size => pl_size(text),
            Kind::Time => pl_time(text),
            Kind::Seconds => pl_seconds(text),
            Kind::Percent => pl_percent(text),
            Kind::Integer => pl_integer(text),
            Kind::Positive => match pl_integer(text)? {
                v if v > 0.0 => Ok(v),
                _ => Err(format!("'{text}' is not a positive whole number")),
            },
        }
    }

    /// One threshold: a Nagios range as it is, or a check_postgres.pl value under `rule`.
    pub fn threshold(self, text: &str, rule: Rule) -> Result<Range, String> {
        if is_range_syntax(text) {
            Range::parse_in(text.trim(), self.dimension(), 1.0).map_err(|e| e.0)
        } else {
            self.parse_pl(text).map(|v| rule.range(v))
        }
    }
}

/// `-w`/`-c` of the query_time family and hot_standby_delay: a time (or, for
/// hot_standby_delay, a plain number of bytes), a signed count of sessions (`+5`), or both
/// (`"5 for 10 minutes"`, `"10 minutes for 5"`, `"1048576 and 2min"`).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct CountTime {
    /// How many sessions (or, for hot_standby_delay, bytes) alert.
    pub count: Option<f64>,
    /// After how many seconds.
    pub time: Option<f64>,
}

impl CountTime {
    /// Parses one value; `plain_is_count`: a bare unsigned number is a count (bytes for
    /// hot_standby_delay) rather than seconds.
    pub fn parse(text: &str, plain_is_count: bool) -> Result<CountTime, String> {
        let t = text.trim();
        let lower = t.to_ascii_lowercase();
        let split = [" for ", " and "]
            .iter()
            .find_map(|sep| lower.find(sep).map(|i| (i, sep.len())));
        if let Some((i, len)) = split {
            let (mut a, mut b) = (t[..i].trim(), t[i + len..].trim());
            // Either order: the side with a unit (or a sign) is the time / count.
            if a.ends_with(|c: char| c.is_ascii_alphabetic()) || b.starts_with(['+', '-']) {
                std::mem::swap(&mut a, &mut b);
            }
            let count = pl_integer(a)?.abs();
            let time = pl_time(b)?;
            return Ok(CountTime {
                count: Some(count),
                time: Some(time),
            });
        }
        let signed = t.starts_with(['+', '-']);
        let plain = !t.is_empty() && t.chars().all(|c| c.is_ascii_digit() || c == '_');
        if signed || (plain && plain_is_count) {
            return Ok(CountTime {
                count: Some(pl_integer(t)?.abs()),
                time: None,
            });
        }
        Ok(CountTime {
            count: None,
            time: Some(pl_time(t)?),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_as_check_postgres_pl() {
        for (t, v) in [
            ("5", 5.0),
            ("5b", 5.0),
            ("5 bytes", 5.0),
            ("1k", 1024.0),
            ("1 kB", 1024.0),
            ("1 kilobytes", 1024.0),
            ("1MB", 1048576.0),
            ("1 GB", 1073741824.0),
            ("1GiB", 1073741824.0),
            ("1.5G", 1610612736.0),
            ("1.25GB", 1.25 * 1073741824.0),
            ("2T", 2.0 * 1099511627776.0),
        ] {
            assert_eq!(pl_size(t), Ok(v), "{t}");
        }
        for t in ["-1", "1 G B", "1,5G", "10%", "", "1x"] {
            assert!(pl_size(t).is_err(), "{t}");
        }
    }

    #[test]
    fn times_as_check_postgres_pl() {
        for (t, v) in [
            ("30", 30.0),
            ("20 seconds", 20.0),
            ("20s", 20.0),
            ("5 minutes", 300.0),
            ("5min", 300.0),
            ("5M", 300.0),
            ("1.5h", 5400.0),
            ("2 days", 172800.0),
            ("1 day", 86400.0),
            ("1w", 604800.0),
            ("500ms", 0.5),
        ] {
            assert_eq!(pl_time(t), Ok(v), "{t}");
        }
        for t in ["-5", ".5m", "5 m s", "5x", ""] {
            assert!(pl_time(t).is_err(), "{t}");
        }
        assert_eq!(pl_seconds("5"), Ok(5.0));
        assert_eq!(pl_seconds("5 seconds"), Ok(5.0));
        for t in ["5.5", "5min", "-1"] {
            assert!(pl_seconds(t).is_err(), "{t}");
        }
    }

    #[test]
    fn percent_and_integers() {
        assert_eq!(pl_percent("101%"), Ok(101.0));
        assert_eq!(pl_percent("90"), Ok(90.0));
        assert!(pl_percent("90x").is_err());
        assert_eq!(pl_integer("1_300_000_000"), Ok(1.3e9));
        assert_eq!(pl_integer("+5"), Ok(5.0));
        assert!(pl_integer("5s").is_err());
    }

    #[test]
    fn both_rules_in_one_place() {
        // A check_postgres.pl value alerts at the threshold; a Nagios range as Nagios says.
        let at = Kind::Integer.threshold("100", Rule::AtLeast).unwrap();
        assert!(at.alerts(100.0) && !at.alerts(99.0));
        let strict = Kind::Integer.threshold("10", Rule::Above).unwrap();
        assert!(strict.alerts(11.0) && !strict.alerts(10.0));
        let low = Kind::Percent.threshold("90%", Rule::AtMost).unwrap();
        assert!(low.alerts(90.0) && !low.alerts(90.5));
        let nagios = Kind::Integer.threshold("~:100", Rule::AtLeast).unwrap();
        assert!(nagios.alerts(101.0) && !nagios.alerts(100.0));
        let t = Kind::Time.threshold("20 seconds", Rule::AtLeast).unwrap();
        assert!(t.alerts(20.0) && !t.alerts(19.9));
        let r = Kind::Time.threshold("~:20s", Rule::AtLeast).unwrap();
        assert!(r.alerts(20.5) && !r.alerts(20.0));
    }

    #[test]
    fn counts_and_times() {
        assert_eq!(
            CountTime::parse("5 for 10 minutes", false),
            Ok(CountTime {
                count: Some(5.0),
                time: Some(600.0)
            })
        );
        assert_eq!(
            CountTime::parse("10 minutes for 5", false),
            Ok(CountTime {
                count: Some(5.0),
                time: Some(600.0)
            })
        );
        assert_eq!(
            CountTime::parse("+5", false).unwrap(),
            CountTime {
                count: Some(5.0),
                time: None
            }
        );
        assert_eq!(
            CountTime::parse("20 seconds", false).unwrap().time,
            Some(20.0)
        );
        assert_eq!(CountTime::parse("20", false).unwrap().time, Some(20.0));
        assert_eq!(
            CountTime::parse("1048576", true).unwrap().count,
            Some(1048576.0)
        );
        assert_eq!(
            CountTime::parse("1048576 and 2min", true),
            Ok(CountTime {
                count: Some(1048576.0),
                time: Some(120.0)
            })
        );
    }
}
