//! Connection service files (`pg_service.conf`), as libpq reads them: INI sections `[name]` with
//! `keyword=value` lines; `#` comments. Looked up in `PGSERVICEFILE` (or `~/.pg_service.conf`)
//! first, then `PGSYSCONFDIR/pg_service.conf` (Debian's libpq: /etc/postgresql-common).

use crate::dsn::{Params, KEYWORDS};

/// The parameters of service `name` in a file's content; `Ok(None)` when the file has no such
/// section.
pub fn lookup(content: &str, name: &str) -> Result<Option<Params>, String> {
    let mut found: Option<Params> = None;
    let mut in_section = false;
    for (n, raw) in content.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(section) = line.strip_prefix('[') {
            let section = section
                .strip_suffix(']')
                .ok_or_else(|| format!("line {}: unterminated section header", n + 1))?;
            if found.is_some() && in_section {
                break; // libpq stops at the next section once it found its service
            }
            in_section = section == name;
            if in_section {
                found = Some(Params::new());
            }
            continue;
        }
        if !in_section {
            continue;
        }
        let (k, v) = line
            .split_once('=')
            .ok_or_else(|| format!("line {}: syntax error (expected keyword=value)", n + 1))?;
        let k = k.trim();
        if k == "service" {
            return Err(format!(
                "line {}: nested service specifications are not supported",
                n + 1
            ));
        }
        if !KEYWORDS.contains(&k) {
            return Err(format!("line {}: unknown keyword '{k}'", n + 1));
        }
        if let Some(params) = found.as_mut() {
            params.insert(k.to_string(), v.trim().to_string());
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = "\
# custos test services
[zulip]
host=db.example.com
port=5433
dbname=zulip
user=nagios

[other]
host = /var/run/postgresql
password=secret
";

    #[test]
    fn finds_the_named_section() {
        let z = lookup(FILE, "zulip").unwrap().unwrap();
        assert_eq!(z["host"], "db.example.com");
        assert_eq!(z["port"], "5433");
        assert_eq!(z.len(), 4);
        let o = lookup(FILE, "other").unwrap().unwrap();
        assert_eq!(o["host"], "/var/run/postgresql");
        assert_eq!(o["password"], "secret");
        assert_eq!(lookup(FILE, "missing").unwrap(), None);
    }

    #[test]
    fn syntax_errors_name_the_line() {
        assert_eq!(
            lookup("[a]\nhost\n", "a").unwrap_err(),
            "line 2: syntax error (expected keyword=value)"
        );
        assert!(lookup("[a]\nbogus=1\n", "a")
            .unwrap_err()
            .contains("unknown keyword 'bogus'"));
        assert!(lookup("[a\n", "a").is_err());
        // Errors in other sections do not matter (libpq reads only the wanted one).
        assert_eq!(
            lookup("[b]\nbogus=1\n[a]\nport=1\n", "a").unwrap().unwrap()["port"],
            "1"
        );
    }
}
