//! Nagios threshold ranges and warning/critical thresholds.
//!
//! Grammar (plugin-contract §3.3), strict:
//!
//! ```text
//! range   = [ "@" ] ( start ":" [ end ] / [ ":" ] end )        ; at least one of start/end
//! start   = "~" / quantity
//! end     = quantity
//! quantity = number [ unit ]                                    ; unit per the metric's Dimension
//! ```
//!
//! Without `@` a value alerts when it lies *outside* `[start, end]`; with `@` when it lies
//! *inside*. Both ends are inclusive. `~` is minus infinity; an omitted end is plus infinity;
//! an omitted start is 0. Empty strings, `@` or `:` alone, `~` as an end, trailing garbage
//! (`12%` on a count, `10 `), lists (`1,10`), `inf`/`nan` and start > end are rejected.

use crate::state::State;
use crate::units::{format_number, number_prefix_len, parse_quantity, Dimension};
use std::fmt;

/// A parsed threshold range; values are in the metric's base unit.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Range {
    /// Lower bound; `None` is minus infinity (`~`).
    pub start: Option<f64>,
    /// Upper bound; `None` is plus infinity.
    pub end: Option<f64>,
    /// `@`: alert when the value is inside the range.
    pub inside: bool,
}

/// A range that could not be parsed; the message says why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RangeError(pub String);

impl fmt::Display for RangeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for RangeError {}

impl Range {
    /// Parses a range of plain numbers.
    pub fn parse(text: &str) -> Result<Range, RangeError> {
        Range::parse_in(text, Dimension::Count, 1.0)
    }

    /// Parses a range whose values may carry units of `dim`; bare numbers are multiplied by
    /// `bare_factor` (1 for the base unit).
    pub fn parse_in(text: &str, dim: Dimension, bare_factor: f64) -> Result<Range, RangeError> {
        let bad = |why: &str| RangeError(format!("invalid range '{text}': {why}"));
        let (inside, body) = match text.strip_prefix('@') {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        if body.is_empty() {
            return Err(bad("it is empty"));
        }
        let quantity = |part: &str| -> Result<f64, RangeError> {
            // Find where the number ends so that garbage is reported precisely.
            if number_prefix_len(part) == 0 {
                return Err(bad(&format!("'{part}' is not a number")));
            }
            parse_quantity(part, dim, bare_factor).map_err(|e| bad(&e.0))
        };
        let (start, end) = match body.split_once(':') {
            None => (Some(0.0), Some(quantity(body)?)),
            Some((s, e)) => {
                if e.contains(':') {
                    return Err(bad("more than one ':'"));
                }
                let start = match s {
                    "~" => None,
                    "" => Some(0.0),
                    _ => Some(quantity(s)?),
                };
                let end = match e {
                    "" => None,
                    "~" => return Err(bad("'~' means minus infinity and can only start a range")),
                    _ => Some(quantity(e)?),
                };
                if s.is_empty() && e.is_empty() {
                    return Err(bad("':' alone has neither start nor end"));
                }
                (start, end)
            }
        };
        if let (Some(s), Some(e)) = (start, end) {
            if s > e {
                return Err(bad("start is greater than end"));
            }
        }
        Ok(Range { start, end, inside })
    }

    /// `0..x`, what a bare `-w x` means: alerts above `x` (and below 0). Prints as `x`.
    pub fn up_to(x: f64) -> Range {
        Range {
            start: Some(0.0),
            end: Some(x),
            inside: false,
        }
    }

    /// Alerts above `x` (`~:x`), negative values included.
    pub fn above(x: f64) -> Range {
        Range {
            start: None,
            end: Some(x),
            inside: false,
        }
    }

    /// Alerts at `x` or above (`@x:`): "at least x" (check_postgres.pl's rule, a minimum of
    /// missing consumers reached).
    pub fn at_least(x: f64) -> Range {
        Range {
            start: Some(x),
            end: None,
            inside: true,
        }
    }

    /// Alerts below `x` (`x:`): fewer than a minimum.
    pub fn below(x: f64) -> Range {
        Range {
            start: Some(x),
            end: None,
            inside: false,
        }
    }

    /// Alerts at `x` or below (`@~:x`): "at most x" (a ratio that must stay above x).
    pub fn at_most(x: f64) -> Range {
        Range {
            start: None,
            end: Some(x),
            inside: true,
        }
    }

    /// Does `value` raise an alert against this range? NaN never does here; [`Thresholds`]
    /// turns NaN into UNKNOWN before asking.
    pub fn alerts(&self, value: f64) -> bool {
        if value.is_nan() {
            return false;
        }
        let within = self.start.is_none_or(|s| value >= s) && self.end.is_none_or(|e| value <= e);
        within == self.inside
    }

    /// Why `value` alerts, in words for a status line: `> 120`, `< 5`, `inside 10..25`
    /// (`describe()` when it does not alert).
    pub fn violation(&self, value: f64) -> String {
        self.violation_in(value, Dimension::Count)
    }

    /// The same with the bounds written in `dim`'s human form: `> 16MiB`, `> 5min 0s`.
    pub fn violation_in(&self, value: f64, dim: Dimension) -> String {
        let n = |v: f64| dim.human(v);
        match (self.inside, self.start, self.end) {
            (false, Some(s), _) if value < s => format!("< {}", n(s)),
            (false, _, Some(e)) if value > e => format!("> {}", n(e)),
            _ => self.describe_in(dim),
        }
    }

    /// Words for what this range alerts on: `outside 5..33`, `> 10`, `< 5`, `inside 10..25`.
    pub fn describe(&self) -> String {
        self.describe_in(Dimension::Count)
    }

    /// The same with the bounds written in `dim`'s human form.
    pub fn describe_in(&self, dim: Dimension) -> String {
        let n = |v: f64| dim.human(v);
        match (self.inside, self.start, self.end) {
            (false, Some(s), Some(e)) => format!("outside {}..{}", n(s), n(e)),
            (false, None, Some(e)) => format!("> {}", n(e)),
            (false, Some(s), None) => format!("< {}", n(s)),
            (false, None, None) => "never".to_string(),
            (true, Some(s), Some(e)) => format!("inside {}..{}", n(s), n(e)),
            (true, None, Some(e)) => format!("<= {}", n(e)),
            (true, Some(s), None) => format!(">= {}", n(s)),
            (true, None, None) => "always".to_string(),
        }
    }
}

/// Canonical form, which [`Range::parse`] reads back to the same range: a zero start is omitted
/// (`0:10` → `10`), `~:` for minus infinity, a trailing `:` for plus infinity, never `inf`.
impl fmt::Display for Range {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.inside {
            f.write_str("@")?;
        }
        match (self.start, self.end) {
            (None, None) => f.write_str("~:"),
            (None, Some(e)) => write!(f, "~:{}", format_number(e)),
            (Some(s), None) => write!(f, "{}:", format_number(s)),
            (Some(s), Some(e)) => {
                if s != 0.0 {
                    write!(f, "{}:", format_number(s))?;
                }
                f.write_str(&format_number(e))
            }
        }
    }
}

/// An optional warning and an optional critical range for one metric.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Thresholds {
    /// The warning range.
    pub warning: Option<Range>,
    /// The critical range.
    pub critical: Option<Range>,
}

impl Thresholds {
    /// Thresholds from optional ranges.
    pub fn new(warning: Option<Range>, critical: Option<Range>) -> Thresholds {
        Thresholds { warning, critical }
    }

    /// The state for `value`: critical is evaluated first, then warning, else OK. A NaN value
    /// could not be measured: UNKNOWN.
    pub fn evaluate(&self, value: f64) -> State {
        if value.is_nan() {
            return State::Unknown;
        }
        if self.critical.is_some_and(|r| r.alerts(value)) {
            State::Critical
        } else if self.warning.is_some_and(|r| r.alerts(value)) {
            State::Warning
        } else {
            State::Ok
        }
    }

    /// When `value` alerts: its state and why in words for a message, `warning > 16MiB`
    /// (bounds in `dim`'s human form).
    pub fn alert(&self, value: f64, dim: Dimension) -> Option<(State, String)> {
        self.violated(value).map(|(state, range)| {
            (
                state,
                format!(
                    "{} {}",
                    state.to_string().to_lowercase(),
                    range.violation_in(value, dim)
                ),
            )
        })
    }

    /// The range that made `value` alert, for messages.
    pub fn violated(&self, value: f64) -> Option<(State, Range)> {
        match self.evaluate(value) {
            State::Critical => self.critical.map(|r| (State::Critical, r)),
            State::Warning => self.warning.map(|r| (State::Warning, r)),
            _ => None,
        }
    }
}

/// Any valid range over numbers drawn from `num` (for property tests here and in perfdata).
#[cfg(test)]
pub(crate) fn arb_range(
    num: impl proptest::strategy::Strategy<Value = f64> + Clone,
) -> impl proptest::strategy::Strategy<Value = Range> {
    use proptest::prelude::*;
    (
        proptest::option::of(num.clone()),
        proptest::option::of(num),
        any::<bool>(),
    )
        .prop_map(|(a, b, inside)| {
            let (start, end) = match (a, b) {
                (Some(a), Some(b)) if a > b => (Some(b), Some(a)),
                other => other,
            };
            Range { start, end, inside }
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(s: &str) -> Range {
        Range::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    /// Each case: (source, range text, expected start, expected end, inside?,
    /// [(value, alerts?)]). `None` start is ~ (minus infinity), `None` end is plus infinity.
    // Values are copied verbatim from the peers' tests, precision and all.
    #[allow(clippy::type_complexity, clippy::excessive_precision)]
    const PEER_RANGES: &[(&str, &str, Option<f64>, Option<f64>, bool, &[(f64, bool)])] = &[
        // monitoring-plugins lib/tests/test_utils.c
        ("mp-c test_utils.c", "6", Some(0.0), Some(6.0), false, &[]),
        (
            "mp-c test_utils.c",
            "-7:23",
            Some(-7.0),
            Some(23.0),
            false,
            &[],
        ),
        (
            "mp-c test_utils.c",
            ":5.75",
            Some(0.0),
            Some(5.75),
            false,
            &[],
        ),
        (
            "mp-c test_utils.c",
            "~:-95.99",
            None,
            Some(-95.99),
            false,
            &[],
        ),
        (
            "mp-c test_utils.c",
            "12345678901234567890:",
            Some(12345678901234567890.0),
            None,
            false,
            &[
                (12345678901234567890.0 / 1.1, true),
                (12345678901234567890.0, false),
                (12345678901234567890.0 * 2.0, false),
            ],
        ),
        (
            "mp-c test_utils.c",
            "~:0",
            None,
            Some(0.0),
            false,
            &[(0.5, true), (-10.0, false), (0.0, false)],
        ),
        (
            "mp-c test_utils.c",
            "@0:657.8210567",
            Some(0.0),
            Some(657.8210567),
            true,
            &[
                (32.88, true),
                (-2.0, false),
                (657.8210567, true),
                (0.0, true),
            ],
        ),
        (
            "mp-c test_utils.c",
            "1:1",
            Some(1.0),
            Some(1.0),
            false,
            &[(0.5, true), (1.0, false), (5.2, true)],
        ),
        // Monitoring::Plugin t/Monitoring-Plugin-Range.t (check_range: 1 = alert)
        (
            "mp-perl Range.t",
            "@6",
            Some(0.0),
            Some(6.0),
            true,
            &[
                (-1.0, false),
                (0.0, true),
                (4.0, true),
                (6.0, true),
                (6.1, false),
                (79.999999, false),
            ],
        ),
        (
            "mp-perl Range.t",
            "@-7:23",
            Some(-7.0),
            Some(23.0),
            true,
            &[
                (-23.0, false),
                (-7.0, true),
                (-1.0, true),
                (0.0, true),
                (4.0, true),
                (23.0, true),
                (23.1, false),
                (79.999999, false),
            ],
        ),
        (
            "mp-perl Range.t",
            "@:5.75",
            Some(0.0),
            Some(5.75),
            true,
            &[
                (-1.0, false),
                (0.0, true),
                (4.0, true),
                (5.75, true),
                (5.7501, false),
                (6.0, false),
                (6.1, false),
                (79.999999, false),
            ],
        ),
        (
            "mp-perl Range.t",
            "@~:-95.99",
            None,
            Some(-95.99),
            true,
            &[
                (-1001341.0, true),
                (-96.0, true),
                (-95.999, true),
                (-95.99, true),
                (-95.989, false),
                (-95.0, false),
                (0.0, false),
                (5.7501, false),
                (79.999999, false),
            ],
        ),
        (
            "mp-perl Range.t",
            "@10:",
            Some(10.0),
            None,
            true,
            &[
                (-95.999, false),
                (-1.0, false),
                (0.0, false),
                (9.91, false),
                (10.0, true),
                (11.1, true),
                (123456789012346.0, true),
            ],
        ),
        (
            "mp-perl Range.t",
            "@123456789012345:",
            Some(123456789012345.0),
            None,
            true,
            &[
                (-95.999, false),
                (-1.0, false),
                (0.0, false),
                (123456789012344.91, false),
                (123456789012345.0, true),
                (123456789012345.61, true),
                (123456789012346.0, true),
            ],
        ),
        (
            "mp-perl Range.t",
            "@~:0",
            None,
            Some(0.0),
            true,
            &[
                (0.5, false),
                (-10.0, true),
                (0.0, true),
                (-123456789012344.91, true),
                (-1.0, true),
                (0.001, false),
                (123456789012345.0, false),
            ],
        ),
        (
            "mp-perl Range.t",
            "0:657.8210567",
            Some(0.0),
            Some(657.8210567),
            false,
            &[
                (32.88, false),
                (-2.0, true),
                (657.8210567, false),
                (0.0, false),
                (-134151.0, true),
                (-1.0, true),
                (0.001, false),
                (657.9, true),
                (123456789012345.0, true),
            ],
        ),
        (
            "mp-perl Range.t",
            "1:1",
            Some(1.0),
            Some(1.0),
            false,
            &[
                (-1.0, true),
                (0.0, true),
                (0.5, true),
                (1.0, false),
                (1.001, true),
                (5.2, true),
            ],
        ),
        // Python nagiosplugin tests/test_range.py (`in r` = no alert)
        (
            "py-np test_range.py",
            "0.5:4",
            Some(0.5),
            Some(4.0),
            false,
            &[],
        ),
        ("py-np test_range.py", "5", Some(0.0), Some(5.0), false, &[]),
        ("py-np test_range.py", "7.7:", Some(7.7), None, false, &[]),
        ("py-np test_range.py", "~:5.5", None, Some(5.5), false, &[]),
        (
            "py-np test_range.py",
            "@-9.1:2.6",
            Some(-9.1),
            Some(2.6),
            true,
            &[],
        ),
        (
            "py-np test_range.py",
            "1.7:2.5",
            Some(1.7),
            Some(2.5),
            false,
            &[(1.6, true), (1.7, false), (2.5, false), (2.6, true)],
        ),
        // plugin-contract §3.1 table
        (
            "mp-devguide",
            "10",
            Some(0.0),
            Some(10.0),
            false,
            &[(-0.1, true), (0.0, false), (10.0, false), (10.1, true)],
        ),
        (
            "mp-devguide",
            "10:",
            Some(10.0),
            None,
            false,
            &[(9.9, true), (10.0, false), (1e9, false)],
        ),
        (
            "mp-devguide",
            "~:10",
            None,
            Some(10.0),
            false,
            &[(-1e9, false), (10.0, false), (10.01, true)],
        ),
        (
            "mp-devguide",
            "10:20",
            Some(10.0),
            Some(20.0),
            false,
            &[(9.0, true), (15.0, false), (21.0, true)],
        ),
        (
            "mp-devguide",
            "@10:20",
            Some(10.0),
            Some(20.0),
            true,
            &[(9.0, false), (10.0, true), (20.0, true), (21.0, false)],
        ),
        (
            "plugin-contract §3.2",
            "~:",
            None,
            None,
            false,
            &[(-1e300, false), (1e300, false)],
        ),
        (
            "plugin-contract §3.2",
            "1e3",
            Some(0.0),
            Some(1000.0),
            false,
            &[(1000.0, false), (1000.5, true)],
        ),
        (
            "plugin-contract §3.2",
            "+5",
            Some(0.0),
            Some(5.0),
            false,
            &[],
        ),
    ];

    #[test]
    fn named_ranges() {
        let cases = [
            (Range::up_to(10.0), "10", [false, false, true]),
            (Range::above(10.0), "~:10", [false, false, true]),
            (Range::at_least(10.0), "@10:", [false, true, true]),
            (Range::below(10.0), "10:", [true, false, false]),
            (Range::at_most(10.0), "@~:10", [true, true, false]),
        ];
        for (r, text, alerts) in cases {
            assert_eq!(r.to_string(), text);
            assert_eq!(Range::parse(text).unwrap(), r, "{text}");
            let got = [9.0, 10.0, 11.0].map(|v| r.alerts(v));
            assert_eq!(got, alerts, "{text} at 9, 10, 11");
        }
    }

    #[test]
    fn peer_range_cases() {
        for &(source, text, start, end, inside, values) in PEER_RANGES {
            let range = Range::parse(text).unwrap_or_else(|e| panic!("{source}: {text}: {e}"));
            assert_eq!(range.start, start, "{source}: {text} start");
            assert_eq!(range.end, end, "{source}: {text} end");
            assert_eq!(range.inside, inside, "{source}: {text} inside");
            for &(v, alert) in values {
                assert_eq!(range.alerts(v), alert, "{source}: {text} at {v}");
            }
        }
    }

    #[test]
    fn peer_invalid_ranges() {
        let cases = [
            // Monitoring::Plugin t/Monitoring-Plugin-Range.t "garbage in"
            ("mp-perl Range.t", ":"),
            ("mp-perl Range.t", "1:~"),
            ("mp-perl Range.t", "foo"),
            ("mp-perl Range.t", "1-10"),
            ("mp-perl Range.t", "10:~"),
            ("mp-perl Range.t", "1-10:2.4"),
            ("mp-perl Range.t", "1,10"),
            ("mp-perl Range.t", "2:1"),
            // monitoring-plugins test_utils.c
            ("mp-c test_utils.c", "2:1"),
            // Python nagiosplugin test_range.py
            ("py-np test_range.py", "4:3"),
            // plugin-contract §3.2/§3.3: what we reject on purpose
            ("plugin-contract §3.3", ""),
            ("plugin-contract §3.3", "@"),
            ("plugin-contract §3.3", "@:"),
            ("plugin-contract §3.3", "1:12%"),
            ("plugin-contract §3.3", "10 "),
            (" plugin-contract §3.3", " 10"),
            ("plugin-contract §3.3", "inf"),
            ("plugin-contract §3.3", "NaN"),
            ("plugin-contract §3.3", "0x10"),
            ("plugin-contract §3.3", "1:2:3"),
            ("plugin-contract §3.3", "~"),
            ("plugin-contract §3.3", "@@5"),
            ("plugin-contract §3.3", "5:-5"),
        ];
        for (source, text) in cases {
            assert!(
                Range::parse(text).is_err(),
                "{source}: {text:?} must be rejected"
            );
        }
    }

    #[test]
    fn error_messages_say_why() {
        let e = Range::parse("2:1").unwrap_err().to_string();
        assert_eq!(e, "invalid range '2:1': start is greater than end");
        let e = Range::parse("foo").unwrap_err().to_string();
        assert_eq!(e, "invalid range 'foo': 'foo' is not a number");
        let e = Range::parse("1:12%").unwrap_err().to_string();
        assert!(e.contains("takes no unit"), "{e}");
    }

    #[test]
    fn canonical_serialisation() {
        // Monitoring::Plugin Range.t stringification and py-np RangeStrTest.
        let cases = [
            ("0:657.8210567", "657.8210567"),
            (":5.75", "5.75"),
            ("~:-95.99", "~:-95.99"),
            ("10:", "10:"),
            ("123456789012345:", "123456789012345:"),
            ("~:0", "~:0"),
            ("1:1", "1:1"),
            ("1.5:5", "1.5:5"),
            ("@3:7", "@3:7"),
            ("2800000000", "2800000000"),
            ("-6.5:", "-6.5:"),
            ("@0:10", "@10"),
            ("~:", "~:"),
            ("0:", "0:"),
            ("+5", "5"),
            ("1e3", "1000"),
        ];
        for (text, canon) in cases {
            assert_eq!(r(text).to_string(), canon, "{text}");
        }
    }

    #[test]
    fn ranges_with_units() {
        let t = Range::parse_in("~:5min", Dimension::Time, 1.0).unwrap();
        assert_eq!(t.end, Some(300.0));
        assert_eq!(t.to_string(), "~:300");
        let b = Range::parse_in("16MiB", Dimension::Bytes, 1.0).unwrap();
        assert_eq!(b.to_string(), "16777216");
        let b = Range::parse_in("@1GB:2GB", Dimension::Bytes, 1.0).unwrap();
        assert_eq!((b.start, b.end, b.inside), (Some(1e9), Some(2e9), true));
        let p = Range::parse_in("90%", Dimension::Percent, 1.0).unwrap();
        assert_eq!(p.end, Some(90.0));
        // 2h > 30min even though 2 < 30: compared in the base unit.
        assert!(Range::parse_in("2h:30min", Dimension::Time, 1.0).is_err());
        assert!(Range::parse_in("30min:2h", Dimension::Time, 1.0).is_ok());
        let e = Range::parse_in("5MiB", Dimension::Time, 1.0)
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("invalid range '5MiB': '5MiB': unit 'MiB' does not fit"),
            "{e}"
        );
        // Bare milliseconds (check_website_response.sh compatibility).
        let ms = Range::parse_in("6000", Dimension::Time, 0.001).unwrap();
        assert_eq!(ms.end, Some(6.0));
    }

    #[test]
    fn thresholds_from_peers() {
        use State::*;
        // (source, warning, critical, [(value, state)])
        #[allow(clippy::type_complexity)]
        let cases: &[(&str, Option<&str>, Option<&str>, &[(f64, State)])] = &[
            (
                "mp-c test_utils.c",
                Some("30"),
                Some("60"),
                &[(15.3, Ok), (30.0001, Warning), (69.0, Critical)],
            ),
            (
                "mp-perl Threshold.t",
                None,
                Some("80"),
                &[
                    (-1.0, Critical),
                    (4.0, Ok),
                    (79.999999, Ok),
                    (80.0, Ok),
                    (80.1, Critical),
                    (102321.0, Critical),
                ],
            ),
            (
                "mp-perl Threshold.t",
                Some("5:33"),
                None,
                &[
                    (-1.0, Warning),
                    (4.0, Warning),
                    (4.999999, Warning),
                    (5.0, Ok),
                    (14.21, Ok),
                    (33.0, Ok),
                    (33.01, Warning),
                    (10231.0, Warning),
                ],
            ),
            (
                "mp-perl Threshold.t",
                Some("~:30"),
                Some("~:60"),
                &[
                    (-1.0, Ok),
                    (4.0, Ok),
                    (29.999999, Ok),
                    (30.0, Ok),
                    (30.1, Warning),
                    (50.90, Warning),
                    (59.9, Warning),
                    (60.0, Warning),
                    (60.00001, Critical),
                    (10231.0, Critical),
                ],
            ),
            (
                "mp-perl Threshold.t",
                None,
                Some("~:25"),
                &[
                    (-1.0, Ok),
                    (4.0, Ok),
                    (10.0, Ok),
                    (14.21, Ok),
                    (25.0, Ok),
                    (25.01, Critical),
                    (31001.0, Critical),
                ],
            ),
            (
                "mp-perl Threshold.t",
                Some("10:25"),
                Some("~:25"),
                &[
                    (-1.0, Warning),
                    (4.0, Warning),
                    (9.999999, Warning),
                    (10.0, Ok),
                    (14.21, Ok),
                    (25.0, Ok),
                    (25.01, Critical),
                    (31001.0, Critical),
                ],
            ),
            (
                "mp-perl Threshold.t",
                Some("@10:25"),
                Some("10:"),
                &[
                    (-1.0, Critical),
                    (4.0, Critical),
                    (9.999999, Critical),
                    (10.0, Warning),
                    (14.21, Warning),
                    (25.0, Warning),
                    (25.01, Ok),
                    (31001.0, Ok),
                ],
            ),
            (
                "mp-devguide",
                Some("10"),
                Some("20"),
                &[
                    (-1.0, Critical),
                    (5.0, Ok),
                    (15.0, Warning),
                    (25.0, Critical),
                ],
            ),
            (
                "mp-devguide",
                Some("10:"),
                Some("20"),
                &[
                    (-1.0, Critical),
                    (5.0, Warning),
                    (15.0, Ok),
                    (25.0, Critical),
                ],
            ),
            (
                "mp-devguide",
                Some("~:0"),
                Some("10"),
                &[
                    (-1.0, Critical),
                    (0.0, Ok),
                    (5.0, Warning),
                    (11.0, Critical),
                ],
            ),
            (
                "mp-devguide",
                None,
                Some("@10:20"),
                &[(9.0, Ok), (15.0, Critical), (21.0, Ok)],
            ),
            ("no thresholds", None, None, &[(-1e300, Ok), (1e300, Ok)]),
        ];
        for &(source, w, c, values) in cases {
            let t = Thresholds::new(w.map(r), c.map(r));
            for &(v, want) in values {
                assert_eq!(t.evaluate(v), want, "{source}: w={w:?} c={c:?} v={v}");
            }
        }
    }

    #[test]
    fn nan_is_unknown() {
        let t = Thresholds::new(Some(r("10")), Some(r("20")));
        assert_eq!(t.evaluate(f64::NAN), State::Unknown);
        assert!(!r("10").alerts(f64::NAN));
    }

    #[test]
    fn violated_names_the_range() {
        let t = Thresholds::new(Some(r("10")), Some(r("20")));
        assert_eq!(t.violated(15.0), Some((State::Warning, r("10"))));
        assert_eq!(t.violated(25.0), Some((State::Critical, r("20"))));
        assert_eq!(t.violated(5.0), None);
        assert_eq!(r("10").describe(), "outside 0..10");
        assert_eq!(r("~:10").describe(), "> 10");
        assert_eq!(r("10:").describe(), "< 10");
        assert_eq!(r("@10:20").describe(), "inside 10..20");
        assert_eq!(r("120").violation(130.0), "> 120");
        assert_eq!(r("120").violation(-1.0), "< 0");
        assert_eq!(r("5:33").violation(40.0), "> 33");
        assert_eq!(r("5:33").violation(4.0), "< 5");
        assert_eq!(r("@10:20").violation(15.0), "inside 10..20");
    }

    mod props {
        use super::super::*;
        use proptest::prelude::*;

        fn finite() -> impl Strategy<Value = f64> + Clone {
            prop_oneof![
                (-1_000_000i64..1_000_000).prop_map(|i| i as f64),
                -1e15f64..1e15,
                (-1e6f64..1e6).prop_map(|f| (f * 1000.0).round() / 1000.0),
            ]
        }

        fn range() -> impl Strategy<Value = Range> {
            arb_range(finite())
        }

        proptest! {
            #[test]
            fn parse_format_is_identity(r in range()) {
                let text = r.to_string();
                let back = Range::parse(&text).map_err(|e| TestCaseError::fail(e.to_string()))?;
                prop_assert_eq!(back, r, "text {}", text);
            }

            #[test]
            fn inverted_range_alerts_exactly_opposite(r in range(), v in finite()) {
                let inv = Range { inside: !r.inside, ..r };
                prop_assert_ne!(r.alerts(v), inv.alerts(v));
            }

            #[test]
            fn parser_never_panics(s in "[-+@~:.0-9eE%a-z ]{0,12}") {
                let _ = Range::parse(&s);
                let _ = Range::parse_in(&s, Dimension::Time, 1.0);
            }
        }
    }
}
