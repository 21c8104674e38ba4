//! `/etc/zulip/settings.py`, the server's Django settings, read without Python: only the
//! top-level assignments of a string literal (`EXTERNAL_HOST = "chat.example.com"`), which is
//! how Zulip's settings template writes them. Anything else (an expression, a name defined in
//! an `if`) is not evaluated: the setting keeps Zulip's default, and a check that needs it
//! takes an option.

use std::collections::BTreeMap;
use std::path::Path;

/// Where a Zulip server keeps its Django settings.
pub const DEFAULT_SETTINGS: &str = "/etc/zulip/settings.py";

/// The string settings of a `settings.py`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct DjangoSettings {
    values: BTreeMap<String, String>,
}

/// A Python string literal at the start of `text` (`"..."` or `'...'`, with `\\`, `\"`, `\'`
/// escapes), and what follows it.
fn string_literal(text: &str) -> Option<(String, &str)> {
    let quote = text.chars().next().filter(|c| *c == '"' || *c == '\'')?;
    let mut out = String::new();
    let mut chars = text[1..].char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' => out.push(chars.next()?.1),
            c if c == quote => return Some((out, &text[1 + i + 1..])),
            c => out.push(c),
        }
    }
    None
}

impl DjangoSettings {
    /// Parses the top-level `NAME = "value"` lines (a trailing `# comment` is allowed).
    pub fn parse(text: &str) -> DjangoSettings {
        let mut values = BTreeMap::new();
        for line in text.lines() {
            if line.starts_with([' ', '\t']) {
                continue;
            }
            let Some((name, rest)) = line.split_once('=') else {
                continue;
            };
            let name = name.trim();
            let is_name = !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
                && !name.starts_with(|c: char| c.is_ascii_digit());
            if !is_name || rest.starts_with('=') {
                continue;
            }
            let Some((value, after)) = string_literal(rest.trim_start()) else {
                continue;
            };
            let after = after.trim();
            if after.is_empty() || after.starts_with('#') {
                values.insert(name.to_string(), value);
            }
        }
        DjangoSettings { values }
    }

    /// Reads `path`: `Ok(None)` when there is no such file.
    pub fn load(path: &Path) -> Result<Option<DjangoSettings>, String> {
        use plugin_core::files::{cap, read_text};
        match read_text(path, cap::CONFIG_FILE) {
            Ok(text) => Ok(Some(DjangoSettings::parse(&text))),
            Err(e) if e.io_kind() == Some(std::io::ErrorKind::NotFound) => Ok(None),
            Err(e) => Err(format!("{}: {e}", path.display())),
        }
    }

    /// A setting's value, when the file assigns it a string literal.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literal_assignments_only() {
        let s = DjangoSettings::parse(
            "# Zulip's settings\nEXTERNAL_HOST = \"chat.example.com\"  # the host\n\
             ZULIP_ADMINISTRATOR = 'admin@example.com'\nNAGIOS_SEND_BOT = \"a\\\"b@x\"\n\
             if True:\n    NAGIOS_RECEIVE_BOT = \"indented@x\"\nCOMPUTED = \"a\" + \"b\"\n\
             NUMBER = 5\nlower_case = \"no\"\nEQ == \"no\"\nUNTERMINATED = \"abc\n",
        );
        assert_eq!(s.get("EXTERNAL_HOST"), Some("chat.example.com"));
        assert_eq!(s.get("ZULIP_ADMINISTRATOR"), Some("admin@example.com"));
        assert_eq!(s.get("NAGIOS_SEND_BOT"), Some("a\"b@x"));
        for absent in [
            "NAGIOS_RECEIVE_BOT",
            "COMPUTED",
            "NUMBER",
            "lower_case",
            "EQ",
            "UNTERMINATED",
        ] {
            assert_eq!(s.get(absent), None, "{absent}");
        }
    }
}
