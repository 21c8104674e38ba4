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

/// A size in bytes (`1048576`, `512KiB`, `1MiB`, `1GB`), not negative.
pub fn size(text: &str) -> Result<u64, String> {
    let bytes = crate::units::parse_quantity(text, Dimension::Bytes, 1.0).map_err(|e| e.0)?;
    if bytes < 0.0 {
        return Err(format!("'{text}': a size cannot be negative"));
    }
    Ok(bytes as u64)
}

/// A regular expression (regex-lite syntax: Perl-like, without Unicode classes).
pub fn regex(text: &str) -> Result<regex_lite::Regex, String> {
    regex_lite::Regex::new(text).map_err(|e| {
        let why = e.to_string();
        format!(
            "invalid regular expression: {}",
            why.lines().last().unwrap_or(&why).trim()
        )
    })
}

/// A rate of growth, SIZE/DURATION (`50MiB/h`, `1GB/day`, `10MiB/30min`), in bytes per second.
pub fn rate(text: &str) -> Result<f64, String> {
    let (size, per) = text
        .split_once('/')
        .ok_or_else(|| format!("'{text}': expected SIZE/DURATION, e.g. 50MiB/h"))?;
    let bytes = crate::units::parse_quantity(size, Dimension::Bytes, 1.0).map_err(|e| e.0)?;
    // `h` alone is one hour.
    let per = if per.starts_with(|c: char| c.is_ascii_alphabetic()) {
        format!("1{per}")
    } else {
        per.to_string()
    };
    let secs = parse_duration(&per).map_err(|e| e.0)?;
    if secs <= 0.0 || bytes < 0.0 {
        return Err(format!(
            "'{text}': the size and the duration must be positive"
        ));
    }
    Ok(bytes / secs)
}

#[cfg(test)]
mod tests {
    #[test]
    fn sizes_and_regexes() {
        assert_eq!(super::size("1MiB"), Ok(1048576));
        assert_eq!(super::size("1kB"), Ok(1000));
        assert_eq!(super::size("12"), Ok(12));
        assert!(super::size("-1").is_err());
        assert!(super::size("5min").is_err());
        assert!(super::regex("^a.*b$").unwrap().is_match("axxb"));
        assert_eq!(super::rate("36MiB/h"), Ok(36.0 * 1048576.0 / 3600.0));
        assert_eq!(super::rate("1KiB/2s"), Ok(512.0));
        assert_eq!(super::rate("1GB/day"), Ok(1e9 / 86400.0));
        for bad in ["50MiB", "x/h", "1MiB/0s", "1MiB/x", "5min/h"] {
            assert!(super::rate(bad).is_err(), "{bad}");
        }
        let e = super::regex("a(").unwrap_err();
        assert!(e.starts_with("invalid regular expression: "), "{e}");
    }
}
