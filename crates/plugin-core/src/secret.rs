//! Secrets (passwords, API keys): kept off the command line, read from files or the
//! environment, and never printed — not even by `Debug`.

use crate::CheckError;
use std::fmt;
use std::path::Path;

/// A password or key. `Debug` shows `Secret(***)`; the only way to the text is [`Secret::expose`].
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// A secret from its text.
    pub fn new(text: impl Into<String>) -> Secret {
        Secret(text.into())
    }

    /// The secret itself, to hand to a client; never to a message.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// Reads a secret from the first line of `path` (`what` names it in messages: `--password-file`).
/// Unreadable or empty is UNKNOWN; a file readable by group or others is read, and
/// [`warn_if_readable`] says so in the long output of whatever result the run ends with.
pub fn read_file(path: &Path, what: &str) -> Result<Secret, CheckError> {
    let text = crate::files::read_text(path, crate::files::cap::SECRET_FILE)
        .map_err(|e| CheckError::unknown(format!("cannot read {what} {}: {e}", path.display())))?;
    let line = text.lines().next().unwrap_or("").trim_end_matches('\r');
    if line.is_empty() {
        return Err(CheckError::unknown(format!(
            "{what} {} is empty",
            path.display()
        )));
    }
    warn_if_readable(path, "a secret");
    Ok(Secret::new(line))
}

/// The one path for "this file holds a secret and others can read it": a warning registered
/// with [`crate::warn`], so every result carries it (also when the check then fails), once.
/// `holds` names what the file holds (`a secret`, `an API key`). Returns the warning.
pub fn warn_if_readable(path: &Path, holds: &str) -> Option<String> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path)
        .map(|m| m.permissions().mode() & 0o777)
        .unwrap_or(0);
    let warning = (mode & 0o077 != 0).then(|| {
        format!(
            "warning: {} holds {holds} and is readable by others (mode {mode:04o}); chmod 600 it",
            path.display()
        )
    })?;
    crate::context::warn(warning.clone());
    Some(warning)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn first_line_permissions_and_debug() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("pw");
        std::fs::write(&f, "s3cret\r\nignored\n").unwrap();
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o600)).unwrap();
        let got = read_file(&f, "--password-file").unwrap();
        assert_eq!(got.expose(), "s3cret");
        assert!(warn_if_readable(&f, "a secret").is_none());
        assert_eq!(format!("{got:?}"), "Secret(***)");
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert_eq!(read_file(&f, "--password-file").unwrap().expose(), "s3cret");
        assert!(warn_if_readable(&f, "a secret")
            .unwrap()
            .contains("holds a secret and is readable by others (mode 0644)"));
        std::fs::write(&f, "\n").unwrap();
        assert!(read_file(&f, "--password-file")
            .unwrap_err()
            .message
            .ends_with("is empty"));
        let e = read_file(&dir.path().join("none"), "--key-file").unwrap_err();
        assert!(
            e.message.starts_with("cannot read --key-file "),
            "{}",
            e.message
        );
    }
}
