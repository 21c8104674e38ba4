//! Service states and exit codes.

use std::fmt;
use std::str::FromStr;

/// A Nagios service state. The discriminant is the exit code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum State {
    /// Exit code 0.
    Ok = 0,
    /// Exit code 1.
    Warning = 1,
    /// Exit code 2.
    Critical = 2,
    /// Exit code 3.
    Unknown = 3,
}

impl State {
    /// Every state, from OK to UNKNOWN.
    pub const ALL: [State; 4] = [State::Ok, State::Warning, State::Critical, State::Unknown];

    /// The process exit code for this state (always 0-3).
    pub fn code(self) -> i32 {
        self as i32
    }

    /// The state for an exit code, if it is one of 0-3.
    pub fn from_code(code: i64) -> Option<State> {
        match code {
            0 => Some(State::Ok),
            1 => Some(State::Warning),
            2 => Some(State::Critical),
            3 => Some(State::Unknown),
            _ => None,
        }
    }

    /// Upper-case name, as printed in the status line.
    pub fn name(self) -> &'static str {
        match self {
            State::Ok => "OK",
            State::Warning => "WARNING",
            State::Critical => "CRITICAL",
            State::Unknown => "UNKNOWN",
        }
    }

    /// Rank for "worst of": OK < UNKNOWN < WARNING < CRITICAL, the order of monitoring-plugins'
    /// `max_state_alt()` and Monitoring::Plugin's `max_state_alt`. An UNKNOWN sub-result never
    /// hides a WARNING or CRITICAL one, and is never hidden by an OK one.
    pub fn severity(self) -> u8 {
        match self {
            State::Ok => 0,
            State::Unknown => 1,
            State::Warning => 2,
            State::Critical => 3,
        }
    }

    /// The worse of two states (see [`State::severity`] for the order).
    pub fn worst(self, other: State) -> State {
        if other.severity() > self.severity() {
            other
        } else {
            self
        }
    }

    /// The worst state of many; `None` for an empty iterator.
    pub fn worst_of<I: IntoIterator<Item = State>>(states: I) -> Option<State> {
        states.into_iter().reduce(State::worst)
    }
}

impl PartialOrd for State {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

/// Ordered by severity, so `max()` is "worst of".
impl Ord for State {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.severity().cmp(&other.severity())
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Parse error for a state name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseStateError(pub String);

impl fmt::Display for ParseStateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid state '{}' (expected ok, warning, critical, unknown or 0-3)",
            self.0
        )
    }
}

impl std::error::Error for ParseStateError {}

/// Parses like monitoring-plugins' `mp_translate_state`: the names case-insensitively, or exactly
/// one digit 0-3 (`"00"`, `"01"`, `""` are errors).
impl FromStr for State {
    type Err = ParseStateError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let state = match s.to_ascii_lowercase().as_str() {
            "ok" | "0" => State::Ok,
            "warning" | "1" => State::Warning,
            "critical" | "2" => State::Critical,
            "unknown" | "3" => State::Unknown,
            _ => return Err(ParseStateError(s.to_string())),
        };
        Ok(state)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn worst_of_follows_max_state_alt() {
        use State::*;
        // (a, b, worst): monitoring-plugins lib/utils_base.c max_state_alt() order.
        let cases = [
            (Ok, Ok, Ok),
            (Ok, Unknown, Unknown),
            (Unknown, Warning, Warning),
            (Warning, Unknown, Warning),
            (Critical, Unknown, Critical),
            (Warning, Critical, Critical),
            (Ok, Critical, Critical),
        ];
        for (a, b, w) in cases {
            assert_eq!(a.worst(b), w, "{a} vs {b}");
            assert_eq!(b.worst(a), w, "{b} vs {a}");
        }
        assert_eq!(State::worst_of([Ok, Unknown, Ok]), Some(Unknown));
        assert_eq!(State::worst_of([]), None);
        assert_eq!([Ok, Critical, Warning].into_iter().max(), Some(Critical));
    }

    #[test]
    fn parse_like_mp_translate_state() {
        // Vectors from monitoring-plugins lib/tests/test_utils.c (mp_translate_state).
        let good = [
            ("OK", State::Ok),
            ("ok", State::Ok),
            ("Warning", State::Warning),
            ("CRITICAL", State::Critical),
            ("unknown", State::Unknown),
            ("0", State::Ok),
            ("1", State::Warning),
            ("2", State::Critical),
            ("3", State::Unknown),
        ];
        for (s, st) in good {
            assert_eq!(s.parse::<State>(), Ok(st), "{s}");
        }
        for bad in [
            "",
            "00",
            "01",
            "10",
            "4",
            "-1",
            "warningfewgw",
            " ok",
            "okay",
        ] {
            assert!(bad.parse::<State>().is_err(), "{bad:?} must be rejected");
        }
    }

    #[test]
    fn codes_round_trip() {
        for st in State::ALL {
            assert_eq!(State::from_code(st.code() as i64), Some(st));
            assert_eq!(st.name().parse::<State>(), Ok(st));
        }
        assert_eq!(State::from_code(4), None);
        assert_eq!(State::from_code(-1), None);
    }
}
