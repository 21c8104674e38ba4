//! Cron-mode result files in Zulip's format: one line `unix_ts|code|STATE|message`.
//!
//! Written atomically and never through a symlink ([`crate::files::write_atomic`]), so a reader
//! never sees half a file; read back by `check_cron_file` with Zulip's rules.

use crate::output::sanitize_line;
use crate::state::State;
use std::path::Path;

/// One result record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    /// Unix time in whole seconds.
    pub timestamp: i64,
    /// The exit code the reader will exit with.
    pub code: i64,
    /// The state text, printed verbatim by the reader (`OK` up to 2024, `ok` after, in Zulip).
    pub state_text: String,
    /// The message; may contain newlines when a foreign writer put them there.
    pub message: String,
}

/// Why a file's content is not a record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ParseError {
    /// Not exactly four `|`-separated fields (Zulip: "Results file malformed").
    FieldCount(usize),
    /// The timestamp is not an integer.
    Timestamp(String),
    /// The exit code is not an integer.
    Code(String),
}

impl std::fmt::Display for ParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ParseError::FieldCount(n) => write!(
                f,
                "{n} fields instead of 4 (timestamp, code, state, message, separated by pipes)"
            ),
            ParseError::Timestamp(s) => write!(f, "timestamp '{s}' is not a whole number"),
            ParseError::Code(s) => write!(f, "exit code '{s}' is not a whole number"),
        }
    }
}

/// Python's `int()` on a field: surrounding whitespace, an optional sign, digits (with single
/// underscores between digits, as Python allows).
fn python_int(field: &str) -> Option<i64> {
    let t = field.trim();
    let (neg, digits) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    if digits.is_empty()
        || digits.starts_with('_')
        || digits.ends_with('_')
        || digits.contains("__")
        || !digits.chars().all(|c| c.is_ascii_digit() || c == '_')
    {
        return None;
    }
    let v: i64 = digits.replace('_', "").parse().ok()?;
    Some(if neg { -v } else { v })
}

impl Record {
    /// A record for a result now.
    pub fn new(timestamp: i64, state: State, message: &str) -> Record {
        Record {
            timestamp,
            code: state.code() as i64,
            state_text: state.name().to_string(),
            message: message.to_string(),
        }
    }

    /// Parses file content with Zulip's `check_cron_file` rules: strip the whole content, split
    /// on `|`, require exactly four fields; the timestamp and code must be integers.
    pub fn parse(content: &str) -> Result<Record, ParseError> {
        let pieces: Vec<&str> = content.trim().split('|').collect();
        if pieces.len() != 4 {
            return Err(ParseError::FieldCount(pieces.len()));
        }
        let timestamp =
            python_int(pieces[0]).ok_or_else(|| ParseError::Timestamp(pieces[0].to_string()))?;
        let code = python_int(pieces[1]).ok_or_else(|| ParseError::Code(pieces[1].to_string()))?;
        Ok(Record {
            timestamp,
            code,
            state_text: pieces[2].to_string(),
            message: pieces[3].to_string(),
        })
    }

    /// The line as written: `|` and line breaks in the text are replaced so that the record stays
    /// one line of four fields.
    pub fn to_line(&self) -> String {
        format!(
            "{}|{}|{}|{}\n",
            self.timestamp,
            self.code,
            sanitize_line(&self.state_text),
            sanitize_line(&self.message)
        )
    }
}

pub use crate::files::write_atomic;

/// Writes a record to `path` atomically.
pub fn write_record(path: &Path, record: &Record) -> std::io::Result<()> {
    write_atomic(path, record.to_line().as_bytes())
}

/// What a check keeps between runs (leak-detection samples), as JSON. A missing file is a
/// first run; a file that cannot be read as `T` is replaced, with a note saying so, never a
/// failure of the check.
pub fn load_json<T: serde::de::DeserializeOwned + Default>(path: &Path) -> (T, Option<String>) {
    match crate::files::read_limited(path, crate::files::cap::JSON_STATE) {
        Err(e) if e.io_kind() == Some(std::io::ErrorKind::NotFound) => (T::default(), None),
        Err(e) => (
            T::default(),
            Some(format!(
                "cannot read state file {}: {e}; starting anew",
                path.display()
            )),
        ),
        Ok(bytes) => match serde_json::from_slice(&bytes) {
            Ok(v) => (v, None),
            Err(e) => (
                T::default(),
                Some(format!(
                    "state file {} was not valid ({e}); starting anew",
                    path.display()
                )),
            ),
        },
    }
}

/// Saves `value` as JSON to `path`, atomically.
pub fn save_json<T: serde::Serialize>(path: &Path, value: &T) -> std::io::Result<()> {
    let bytes = serde_json::to_vec(value).map_err(std::io::Error::other)?;
    write_atomic(path, &bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    #[test]
    fn json_state_survives_and_corruption_is_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("state.json");
        let (v, note): (Vec<u32>, _) = load_json(&f);
        assert_eq!((v, note), (vec![], None));
        save_json(&f, &vec![1u32, 2]).unwrap();
        let (v, note): (Vec<u32>, _) = load_json(&f);
        assert_eq!((v, note), (vec![1, 2], None));
        std::fs::write(&f, "{not json").unwrap();
        let (v, note): (Vec<u32>, _) = load_json(&f);
        assert!(v.is_empty());
        assert!(note.unwrap().contains("was not valid"));
        // Nothing but the state file is left behind.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn parses_both_zulip_eras() {
        // Upper-case writers up to 2024, atomic_nagios_write (lower case) after.
        let old = Record::parse("1700000000|0|OK|send time was 0.41\n").unwrap();
        assert_eq!(
            old,
            Record {
                timestamp: 1700000000,
                code: 0,
                state_text: "OK".into(),
                message: "send time was 0.41".into()
            }
        );
        let new = Record::parse("1765000000|0|ok|queues normal\n").unwrap();
        assert_eq!(new.state_text, "ok");
        // Whole-content strip, as Python's .strip(); inner newlines stay in the message.
        let multi = Record::parse("  \n1|2|CRITICAL|line one\nline two\n\n").unwrap();
        assert_eq!(multi.message, "line one\nline two");
    }

    #[test]
    fn malformed_and_non_integer_fields() {
        assert_eq!(Record::parse(""), Err(ParseError::FieldCount(1)));
        assert_eq!(Record::parse("1|0|OK"), Err(ParseError::FieldCount(3)));
        assert_eq!(Record::parse("1|0|OK|a|b"), Err(ParseError::FieldCount(5)));
        assert_eq!(
            Record::parse("x|0|OK|m"),
            Err(ParseError::Timestamp("x".into()))
        );
        assert_eq!(
            Record::parse("1.5|0|OK|m"),
            Err(ParseError::Timestamp("1.5".into()))
        );
        assert_eq!(
            Record::parse("1|ok|OK|m"),
            Err(ParseError::Code("ok".into()))
        );
        assert_eq!(Record::parse("1| |OK|m"), Err(ParseError::Code(" ".into())));
        // What Python's int() accepts.
        assert_eq!(Record::parse(" 17 |+2|CRITICAL|m").unwrap().code, 2);
        assert_eq!(Record::parse("1_700|-1|X|m").unwrap().timestamp, 1700);
        assert!(Record::parse("1__7|0|OK|m").is_err());
    }

    #[test]
    fn written_lines_stay_four_fields() {
        let rec = Record::new(1700000000, State::Warning, "a|b\nc");
        assert_eq!(rec.to_line(), "1700000000|1|WARNING|a/b c\n");
        assert_eq!(Record::parse(&rec.to_line()).unwrap().message, "a/b c");
    }

    #[test]
    fn atomic_write_replaces_and_leaves_no_temp() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("check_send_receive_state");
        write_record(&path, &Record::new(1, State::Ok, "first")).unwrap();
        write_record(&path, &Record::new(2, State::Critical, "second")).unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), "2|2|CRITICAL|second\n");
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(
            names,
            [std::ffi::OsString::from("check_send_receive_state")]
        );
    }

    #[test]
    fn atomic_write_error_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        // The target is a directory: rename fails, the temp file must be gone.
        let target = dir.path().join("taken");
        fs::create_dir(&target).unwrap();
        fs::write(target.join("x"), "x").unwrap();
        assert!(write_atomic(&target, b"data").is_err());
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, [std::ffi::OsString::from("taken")]);
        assert!(write_atomic(&dir.path().join("missing/dir/file"), b"x").is_err());
    }
}
