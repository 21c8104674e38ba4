//! Numbers with units: `250ms`, `5min`, `25h`, `2d`, `16MiB`, `1GB`, `90%`.
//!
//! Every metric has a [`Dimension`]; a value is converted to the dimension's base unit (seconds,
//! bytes, percent, or a plain count). A unit of another dimension is an error, so `-w 5MiB` on a
//! time metric is rejected instead of silently meaning 5.

use std::fmt;

/// What a metric measures, and so which units its values may carry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dimension {
    /// A plain number (rows, queues, processes): no unit allowed.
    Count,
    /// A duration; base unit seconds.
    Time,
    /// A size; base unit bytes.
    Bytes,
    /// A percentage; `90` and `90%` are the same.
    Percent,
}

impl Dimension {
    /// A value of this dimension in a short human form: `16MiB`, `5min 0s`, `90%`, `42`.
    pub fn human(self, v: f64) -> String {
        match self {
            Dimension::Bytes => human_bytes(v),
            Dimension::Time => human_duration(v),
            Dimension::Percent => format!("{}%", format_number(v)),
            Dimension::Count => format_number(v),
        }
    }

    /// Units accepted for this dimension, as shown in error messages.
    pub fn accepted(self) -> &'static str {
        match self {
            Dimension::Count => "a plain number",
            Dimension::Time => "a number of seconds or a duration such as 250ms, 3s, 5min, 25h, 2d",
            Dimension::Bytes => {
                "a number of bytes or a size such as 512KiB, 16MiB, 1GB (kB/MB/GB = 1000^n, KiB/MiB/GiB = 1024^n)"
            }
            Dimension::Percent => "a percentage such as 90 or 90%",
        }
    }

    /// The factor that converts one `unit` into the base unit, if the unit belongs here.
    fn factor(self, unit: &str) -> Option<f64> {
        const KI: f64 = 1024.0;
        let f = match (self, unit) {
            (Dimension::Time, "us") => 1e-6,
            (Dimension::Time, "ms") => 1e-3,
            (Dimension::Time, "s" | "sec" | "secs" | "second" | "seconds") => 1.0,
            (Dimension::Time, "m" | "min" | "mins" | "minute" | "minutes") => 60.0,
            (Dimension::Time, "h" | "hr" | "hour" | "hours") => 3600.0,
            (Dimension::Time, "d" | "day" | "days") => 86400.0,
            (Dimension::Time, "w" | "week" | "weeks") => 7.0 * 86400.0,
            (Dimension::Bytes, "B") => 1.0,
            (Dimension::Bytes, "kB" | "KB") => 1e3,
            (Dimension::Bytes, "MB") => 1e6,
            (Dimension::Bytes, "GB") => 1e9,
            (Dimension::Bytes, "TB") => 1e12,
            (Dimension::Bytes, "PB") => 1e15,
            (Dimension::Bytes, "KiB") => KI,
            (Dimension::Bytes, "MiB") => KI * KI,
            (Dimension::Bytes, "GiB") => KI * KI * KI,
            (Dimension::Bytes, "TiB") => KI * KI * KI * KI,
            (Dimension::Bytes, "PiB") => KI * KI * KI * KI * KI,
            (Dimension::Percent, "%") => 1.0,
            _ => return None,
        };
        Some(f)
    }
}

/// An error in a number or its unit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnitError(pub String);

impl fmt::Display for UnitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UnitError {}

/// Length of the longest prefix of `s` that is a number in the strict grammar
/// `[+-] (digits [. digits*] | . digits) [(e|E) [+-] digits]`, or 0 if there is none.
pub(crate) fn number_prefix_len(s: &str) -> usize {
    let b = s.as_bytes();
    let mut i = 0;
    if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
        i += 1;
    }
    let int_start = i;
    while i < b.len() && b[i].is_ascii_digit() {
        i += 1;
    }
    let int_digits = i - int_start;
    let mut frac_digits = 0;
    if i < b.len() && b[i] == b'.' {
        let mut j = i + 1;
        while j < b.len() && b[j].is_ascii_digit() {
            j += 1;
        }
        frac_digits = j - i - 1;
        if int_digits > 0 || frac_digits > 0 {
            i = j;
        }
    }
    if int_digits == 0 && frac_digits == 0 {
        return 0;
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        let mut j = i + 1;
        if j < b.len() && (b[j] == b'+' || b[j] == b'-') {
            j += 1;
        }
        let exp_start = j;
        while j < b.len() && b[j].is_ascii_digit() {
            j += 1;
        }
        if j > exp_start {
            i = j;
        }
    }
    i
}

/// Parses a number with an optional unit into the dimension's base unit. A bare number (no unit)
/// is multiplied by `bare_factor` (1 for the base unit; 0.001 where bare numbers mean
/// milliseconds, as `check_website_response.sh` took them).
pub fn parse_quantity(text: &str, dim: Dimension, bare_factor: f64) -> Result<f64, UnitError> {
    let n = number_prefix_len(text);
    if n == 0 {
        return Err(UnitError(format!("'{text}' is not a number")));
    }
    let (num, unit) = text.split_at(n);
    let value: f64 = num
        .parse()
        .map_err(|_| UnitError(format!("'{num}' is not a number")))?;
    let value = if unit.is_empty() {
        value * bare_factor
    } else {
        match dim.factor(unit) {
            Some(f) => value * f,
            None if dim == Dimension::Count => {
                return Err(UnitError(format!(
                    "'{text}': this value takes no unit ('{unit}' given)"
                )))
            }
            None => {
                return Err(UnitError(format!(
                    "'{text}': unit '{unit}' does not fit here; expected {}",
                    dim.accepted()
                )))
            }
        }
    };
    if !value.is_finite() {
        return Err(UnitError(format!("'{text}' is out of range")));
    }
    Ok(value)
}

/// Parses a duration (`90`, `90s`, `5min`, `2h`, `1d`) into seconds.
pub fn parse_duration(text: &str) -> Result<f64, UnitError> {
    let secs = parse_quantity(text, Dimension::Time, 1.0)?;
    if secs < 0.0 {
        return Err(UnitError(format!(
            "'{text}': a duration cannot be negative"
        )));
    }
    Ok(secs)
}

/// Formats a number the way perfdata and ranges want it: integers without a fraction, others as
/// the shortest decimal that reads back to the same `f64`, never with an exponent, `-0` as `0`.
pub fn format_number(v: f64) -> String {
    if v == 0.0 {
        return "0".to_string();
    }
    // Rust's `Display` for f64 is shortest-round-trip and never uses an exponent.
    format!("{v}")
}

/// A duration in a short human form: `0.35s`, `42s`, `5min 3s`, `2h 5min`, `3d 4h`.
pub fn human_duration(secs: f64) -> String {
    if !secs.is_finite() {
        return "?".to_string();
    }
    let neg = if secs < 0.0 { "-" } else { "" };
    let s = secs.abs();
    if s > 0.0 && s < 0.1 {
        // Below a tenth of a second, milliseconds say it better (HTTP thresholds, timings).
        return format!("{neg}{}ms", format_number((s * 1e6).round() / 1e3));
    }
    if s < 60.0 {
        let rounded = if s < 10.0 {
            (s * 100.0).round() / 100.0
        } else {
            s.round()
        };
        return format!("{neg}{}s", format_number(rounded));
    }
    let total = s.round() as u64;
    let (d, h, m, sec) = (
        total / 86400,
        total % 86400 / 3600,
        total % 3600 / 60,
        total % 60,
    );
    let text = if d > 0 {
        format!("{d}d {h}h")
    } else if h > 0 {
        format!("{h}h {m}min")
    } else {
        format!("{m}min {sec}s")
    };
    format!("{neg}{text}")
}

/// A size in a short human form with binary prefixes: `512B`, `1.5KiB`, `16MiB`.
pub fn human_bytes(bytes: f64) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut v = bytes;
    let mut i = 0;
    while v.abs() >= 1024.0 && i < UNITS.len() - 1 {
        v /= 1024.0;
        i += 1;
    }
    let v = if i == 0 {
        v.round()
    } else {
        (v * 10.0).round() / 10.0
    };
    format!("{}{}", format_number(v), UNITS[i])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_convert_to_base() {
        use Dimension::*;
        let cases: &[(&str, Dimension, f64)] = &[
            ("250ms", Time, 0.25),
            ("3s", Time, 3.0),
            ("5min", Time, 300.0),
            ("5m", Time, 300.0),
            ("25h", Time, 90000.0),
            ("2d", Time, 172800.0),
            ("1.5h", Time, 5400.0),
            ("500us", Time, 0.0005),
            ("120", Time, 120.0),
            ("512KiB", Bytes, 524288.0),
            ("16MiB", Bytes, 16777216.0),
            ("1GB", Bytes, 1e9),
            ("1kB", Bytes, 1000.0),
            ("80MiB", Bytes, 83886080.0),
            ("4096", Bytes, 4096.0),
            ("90%", Percent, 90.0),
            ("90", Percent, 90.0),
            ("7", Count, 7.0),
            ("-7.5", Count, -7.5),
            ("1e3", Count, 1000.0),
            ("+5", Count, 5.0),
        ];
        for &(text, dim, want) in cases {
            let got = parse_quantity(text, dim, 1.0).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert!((got - want).abs() < 1e-9, "{text}: got {got}, want {want}");
        }
    }

    #[test]
    fn bare_factor_applies_only_without_unit() {
        assert_eq!(parse_quantity("6000", Dimension::Time, 0.001), Ok(6.0));
        assert_eq!(parse_quantity("6s", Dimension::Time, 0.001), Ok(6.0));
    }

    #[test]
    fn units_of_another_dimension_are_errors() {
        use Dimension::*;
        for (text, dim) in [
            ("5MiB", Time),
            ("5s", Bytes),
            ("90%", Time),
            ("5s", Count),
            ("16M", Bytes),
            ("1K", Bytes),
            ("5 s", Time),
            ("s", Time),
            ("", Time),
            ("1e999", Count),
            ("nan", Count),
            ("inf", Count),
            ("0x10", Count),
        ] {
            assert!(
                parse_quantity(text, dim, 1.0).is_err(),
                "{text:?} as {dim:?}"
            );
        }
        let msg = parse_quantity("5MiB", Time, 1.0).unwrap_err().to_string();
        assert!(msg.contains("unit 'MiB' does not fit"), "{msg}");
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("4000"), Ok(4000.0));
        assert_eq!(parse_duration("2h"), Ok(7200.0));
        assert!(parse_duration("-1").is_err());
        assert_eq!(human_duration(0.4171), "0.42s");
        assert_eq!(human_duration(0.0015), "1.5ms");
        assert_eq!(human_duration(0.05), "50ms");
        assert_eq!(human_duration(0.0), "0s");
        assert_eq!(human_duration(42.4), "42s");
        assert_eq!(human_duration(303.0), "5min 3s");
        assert_eq!(human_duration(7500.0), "2h 5min");
        assert_eq!(human_duration(3.0 * 86400.0 + 4.0 * 3600.0), "3d 4h");
        assert_eq!(human_bytes(16777216.0), "16MiB");
        assert_eq!(human_bytes(1536.0), "1.5KiB");
        assert_eq!(human_bytes(100.0), "100B");
    }

    #[test]
    fn numbers_format_without_exponent() {
        assert_eq!(format_number(5.0), "5");
        assert_eq!(format_number(-0.0), "0");
        assert_eq!(format_number(1e21), "1000000000000000000000");
        assert_eq!(format_number(1e-7), "0.0000001");
        assert_eq!(format_number(657.8210567), "657.8210567");
        assert_eq!(format_number(0.1 + 0.2), "0.30000000000000004");
    }
}
