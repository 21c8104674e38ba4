//! Bot credentials: a zuliprc file (`[api]` with `email`, `key`, `site`, as Zulip's own client
//! reads it), an email with a key file, or the environment. Keys never go on the command line
//! and never into any output.

use plugin_core::{CheckError, Secret};
use std::collections::HashMap;
use std::path::Path;

/// One bot's credentials.
#[derive(Clone, Debug)]
pub struct Bot {
    pub email: String,
    pub key: Secret,
    /// The zuliprc's `site`, if it has one.
    pub site: Option<String>,
    /// The zuliprc's `insecure = true`.
    pub insecure: bool,
    /// The zuliprc's `cert_bundle`.
    pub cert_bundle: Option<String>,
}

impl Bot {
    /// A bot known by its email and key alone.
    pub fn new(email: String, key: Secret) -> Bot {
        Bot {
            email,
            key,
            site: None,
            insecure: false,
            cert_bundle: None,
        }
    }
}

/// The `[api]` section of an INI file (ConfigParser's rules: `key = value` or `key: value`,
/// `#`/`;` comments, section and key names case-insensitive for keys, values trimmed).
pub fn parse_api_section(text: &str) -> Result<HashMap<String, String>, String> {
    let mut section: Option<String> = None;
    let mut api = HashMap::new();
    for (n, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[') {
            let name = name
                .strip_suffix(']')
                .ok_or_else(|| format!("line {}: unterminated section header", n + 1))?;
            section = Some(name.trim().to_string());
            continue;
        }
        let split = line
            .find(['=', ':'])
            .ok_or_else(|| format!("line {}: expected key = value", n + 1))?;
        if section.is_none() {
            return Err(format!("line {}: a value before any [section]", n + 1));
        }
        if section.as_deref() == Some("api") {
            api.insert(
                line[..split].trim().to_ascii_lowercase(),
                line[split + 1..].trim().to_string(),
            );
        }
    }
    Ok(api)
}

/// Reads a zuliprc; when others can read it, every result says so (plugin-core's one path for
/// readable secret files).
pub fn read(path: &Path) -> Result<Bot, CheckError> {
    let bad = |why: String| CheckError::unknown(format!("zuliprc {}: {why}", path.display()));
    let text = plugin_core::files::read_text(path, plugin_core::files::cap::SECRET_FILE)
        .map_err(|e| CheckError::unknown(format!("cannot read zuliprc {}: {e}", path.display())))?;
    plugin_core::secret::warn_if_readable(path, "an API key");
    let api = parse_api_section(&text).map_err(bad)?;
    let field = |k: &str| api.get(k).filter(|v| !v.is_empty()).cloned();
    let email = field("email").ok_or_else(|| bad("no email in [api]".into()))?;
    let key = field("key").ok_or_else(|| bad("no key in [api]".into()))?;
    let insecure = match field("insecure")
        .as_deref()
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        None | Some("false") => false,
        Some("true") => true,
        Some(other) => {
            return Err(bad(format!(
                "insecure is '{other}', it must be true or false"
            )))
        }
    };
    Ok(Bot {
        email,
        key: Secret::new(key),
        site: field("site"),
        insecure,
        cert_bundle: field("cert_bundle"),
    })
}

/// Zulip's client's rules for a site: `localhost...` is http, no scheme is https, no trailing
/// `/`, and the API lives under `/api`. Returns the API base, ending in `/api/v1/`.
pub fn api_base(site: &str) -> String {
    let site = site.trim();
    let site = if site.starts_with("localhost") {
        format!("http://{site}")
    } else if !site.starts_with("http") {
        format!("https://{site}")
    } else {
        site.to_string()
    };
    let site = site.trim_end_matches('/');
    let base = if site.ends_with("/api") {
        site.to_string()
    } else {
        format!("{site}/api")
    };
    format!("{base}/v1/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zuliprc_as_zulips_client_reads_it() {
        let api = parse_api_section(
            "# comment\n[api]\nemail = nagios-send-bot@zulip.com\nkey=abc123\nSite: https://chat.example.com/\n\n[other]\nkey = nope\n",
        )
        .unwrap();
        assert_eq!(api["email"], "nagios-send-bot@zulip.com");
        assert_eq!(api["key"], "abc123");
        assert_eq!(api["site"], "https://chat.example.com/");
        assert!(parse_api_section("key = v\n").is_err());
        assert!(parse_api_section("[api\nkey = v\n").is_err());
        assert!(parse_api_section("[api]\njunk\n").is_err());
    }

    #[test]
    fn sites_as_zulips_client_normalises_them() {
        assert_eq!(
            api_base("chat.example.com"),
            "https://chat.example.com/api/v1/"
        );
        assert_eq!(api_base("localhost:9991"), "http://localhost:9991/api/v1/");
        assert_eq!(
            api_base("http://127.0.0.1:8080/"),
            "http://127.0.0.1:8080/api/v1/"
        );
        assert_eq!(
            api_base("https://z.example.com/api"),
            "https://z.example.com/api/v1/"
        );
    }
}
