//! How a check fails: [`CheckError`] (a state and a message, with long output), and the
//! [`CheckResult`] every check returns.

use crate::output::Report;
use crate::state::State;

/// A failure that ends the check: "could not measure" (UNKNOWN) or "the service is down"
/// (CRITICAL, or another state), with a message.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckError {
    /// The state the run ends with.
    pub state: State,
    /// The status line's summary.
    pub message: String,
    /// Long-output lines.
    pub details: Vec<String>,
}

impl CheckError {
    /// A failure with this state and message.
    pub fn new(state: State, message: impl Into<String>) -> CheckError {
        CheckError {
            state,
            message: message.into(),
            details: Vec::new(),
        }
    }

    /// The check could not measure (bad input, permissions, unexpected replies).
    pub fn unknown(message: impl Into<String>) -> CheckError {
        CheckError::new(State::Unknown, message)
    }

    /// The service is down or refused us.
    pub fn critical(message: impl Into<String>) -> CheckError {
        CheckError::new(State::Critical, message)
    }

    /// Adds a long-output line.
    pub fn detail(mut self, line: impl Into<String>) -> CheckError {
        self.details.push(line.into());
        self
    }

    /// Several long-output lines at once.
    pub fn details(mut self, lines: &[String]) -> CheckError {
        self.details.extend_from_slice(lines);
        self
    }

    /// The report this failure prints.
    pub fn into_report(self) -> Report {
        let mut r = Report::new(self.state, self.message);
        r.details = self.details;
        r
    }
}

/// Errors with context chains (`anyhow`) are "could not measure": UNKNOWN, the chain joined by
/// `: `.
impl From<anyhow::Error> for CheckError {
    fn from(e: anyhow::Error) -> CheckError {
        CheckError::unknown(format!("{e:#}"))
    }
}

/// What a check returns: its report, or why it could not finish.
pub type CheckResult = Result<Report, CheckError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_keep_their_chain() {
        use anyhow::Context as _;
        let e: CheckError = std::fs::read("/nonexistent/custos")
            .context("reading /nonexistent/custos")
            .unwrap_err()
            .into();
        assert_eq!(e.state, State::Unknown);
        assert!(
            e.message
                .starts_with("reading /nonexistent/custos: No such file"),
            "{}",
            e.message
        );
        let io: CheckError = anyhow::Error::new(std::io::Error::other("boom")).into();
        assert_eq!(io.message, "boom");
        assert_eq!(
            CheckError::critical("down").into_report().state,
            State::Critical
        );
    }
}
