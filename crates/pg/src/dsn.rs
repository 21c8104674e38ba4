//! Connection strings as libpq reads them: `key=value` lists (values in single quotes, with
//! backslash escapes) and `postgresql://` / `postgres://` URIs.

use std::collections::BTreeMap;

/// Keyword → value, in libpq's keyword names (`host`, `port`, `dbname`, `user`, `password`,
/// `sslmode`, `sslrootcert`, `connect_timeout`, `application_name`, `service`, ...).
pub type Params = BTreeMap<String, String>;

/// The keywords custos understands; others are rejected, so that a typo is not silently ignored.
pub const KEYWORDS: &[&str] = &[
    "host",
    "hostaddr",
    "port",
    "dbname",
    "user",
    "password",
    "passfile",
    "service",
    "sslmode",
    "sslrootcert",
    "connect_timeout",
    "application_name",
    "options",
];

/// Parses a connection string: a URI if it starts with `postgresql://` or `postgres://`, else a
/// keyword/value list.
pub fn parse(text: &str) -> Result<Params, String> {
    let params = if text.starts_with("postgresql://") || text.starts_with("postgres://") {
        parse_uri(text)?
    } else {
        parse_keywords(text)?
    };
    for key in params.keys() {
        if !KEYWORDS.contains(&key.as_str()) {
            return Err(format!("unknown connection keyword '{key}'"));
        }
    }
    Ok(params)
}

/// `host=db1 port=5432 password='it''s'`: values may be quoted with `'`; inside quotes `\'`
/// and `\\` are escapes (libpq also accepts them unquoted).
pub fn parse_keywords(text: &str) -> Result<Params, String> {
    let mut params = Params::new();
    let mut chars = text.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        if chars.peek().is_none() {
            return Ok(params);
        }
        let mut key = String::new();
        while let Some(&c) = chars.peek() {
            if c == '=' || c.is_whitespace() {
                break;
            }
            key.push(c);
            chars.next();
        }
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        if chars.next() != Some('=') {
            return Err(format!("missing '=' after '{key}' in connection string"));
        }
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        let mut value = String::new();
        if chars.peek() == Some(&'\'') {
            chars.next();
            loop {
                match chars.next() {
                    None => return Err(format!("unterminated quoted value for '{key}'")),
                    Some('\\') => match chars.next() {
                        Some(c) => value.push(c),
                        None => return Err(format!("unterminated quoted value for '{key}'")),
                    },
                    Some('\'') => break,
                    Some(c) => value.push(c),
                }
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c.is_whitespace() {
                    break;
                }
                chars.next();
                if c == '\\' {
                    if let Some(n) = chars.next() {
                        value.push(n);
                    }
                } else {
                    value.push(c);
                }
            }
        }
        if key.is_empty() {
            return Err("empty keyword in connection string".into());
        }
        params.insert(key, value);
    }
}

fn percent_decode(s: &str) -> Result<String, String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| format!("invalid percent-encoding in '{s}'"))?;
            out.push(hex);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| format!("percent-encoding in '{s}' is not UTF-8"))
}

/// `postgresql://[user[:password]@][host][:port][/dbname][?key=value&...]`. The host may be an
/// IPv6 literal in brackets or a percent-encoded socket directory (`%2Fvar%2Frun%2Fpostgresql`).
pub fn parse_uri(text: &str) -> Result<Params, String> {
    let rest = text
        .strip_prefix("postgresql://")
        .or_else(|| text.strip_prefix("postgres://"))
        .ok_or_else(|| format!("'{text}' is not a postgresql:// URI"))?;
    let mut params = Params::new();
    let (main, query) = match rest.split_once('?') {
        Some((m, q)) => (m, Some(q)),
        None => (rest, None),
    };
    let (authority, path) = match main.split_once('/') {
        Some((a, p)) => (a, Some(p)),
        None => (main, None),
    };
    let hostport = match authority.rsplit_once('@') {
        Some((userinfo, hp)) => {
            let (user, password) = match userinfo.split_once(':') {
                Some((u, p)) => (u, Some(p)),
                None => (userinfo, None),
            };
            if !user.is_empty() {
                params.insert("user".into(), percent_decode(user)?);
            }
            if let Some(p) = password {
                params.insert("password".into(), percent_decode(p)?);
            }
            hp
        }
        None => authority,
    };
    let (host, port) = if let Some(v6) = hostport.strip_prefix('[') {
        let (h, after) = v6
            .split_once(']')
            .ok_or_else(|| format!("unterminated '[' in '{text}'"))?;
        (h.to_string(), after.strip_prefix(':'))
    } else {
        match hostport.rsplit_once(':') {
            Some((h, p)) => (percent_decode(h)?, Some(p)),
            None => (percent_decode(hostport)?, None),
        }
    };
    if host.contains(',') {
        return Err("several hosts in one URI are not supported".into());
    }
    if !host.is_empty() {
        params.insert("host".into(), host);
    }
    if let Some(p) = port.filter(|p| !p.is_empty()) {
        params.insert("port".into(), p.to_string());
    }
    if let Some(db) = path.filter(|p| !p.is_empty()) {
        params.insert("dbname".into(), percent_decode(db)?);
    }
    for pair in query
        .into_iter()
        .flat_map(|q| q.split('&'))
        .filter(|p| !p.is_empty())
    {
        let (k, v) = pair
            .split_once('=')
            .ok_or_else(|| format!("'{pair}' in the URI query has no '='"))?;
        params.insert(percent_decode(k)?, percent_decode(v)?);
    }
    Ok(params)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(pairs: &[(&str, &str)]) -> Params {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn keyword_strings() {
        // Examples from the libpq documentation (34.1.1) and its quoting rules.
        assert_eq!(
            parse("host=localhost port=5432 dbname=mydb connect_timeout=10").unwrap(),
            p(&[
                ("host", "localhost"),
                ("port", "5432"),
                ("dbname", "mydb"),
                ("connect_timeout", "10")
            ])
        );
        assert_eq!(
            parse("password='a b' user = bob").unwrap(),
            p(&[("password", "a b"), ("user", "bob")])
        );
        assert_eq!(
            parse(r"password='it\'s \\ here'").unwrap(),
            p(&[("password", r"it's \ here")])
        );
        assert_eq!(parse("password=''").unwrap(), p(&[("password", "")]));
        assert_eq!(parse("").unwrap(), Params::new());
        assert!(parse("host").is_err());
        assert!(parse("password='open").is_err());
        assert!(parse("hots=x")
            .unwrap_err()
            .contains("unknown connection keyword 'hots'"));
    }

    #[test]
    fn uris() {
        // libpq documentation 34.1.1.2 examples.
        assert_eq!(parse("postgresql://").unwrap(), Params::new());
        assert_eq!(
            parse("postgresql://localhost").unwrap(),
            p(&[("host", "localhost")])
        );
        assert_eq!(
            parse("postgresql://localhost:5433").unwrap(),
            p(&[("host", "localhost"), ("port", "5433")])
        );
        assert_eq!(
            parse("postgresql://localhost/mydb").unwrap(),
            p(&[("host", "localhost"), ("dbname", "mydb")])
        );
        assert_eq!(
            parse("postgresql://user@localhost").unwrap(),
            p(&[("user", "user"), ("host", "localhost")])
        );
        assert_eq!(
            parse("postgresql://user:secret@localhost").unwrap(),
            p(&[
                ("user", "user"),
                ("password", "secret"),
                ("host", "localhost")
            ])
        );
        assert_eq!(
            parse("postgresql://other@localhost/otherdb?connect_timeout=10&application_name=myapp")
                .unwrap(),
            p(&[
                ("user", "other"),
                ("host", "localhost"),
                ("dbname", "otherdb"),
                ("connect_timeout", "10"),
                ("application_name", "myapp")
            ])
        );
        assert_eq!(
            parse("postgresql://[::1]:5433/db?sslmode=require").unwrap(),
            p(&[
                ("host", "::1"),
                ("port", "5433"),
                ("dbname", "db"),
                ("sslmode", "require")
            ])
        );
        assert_eq!(
            parse("postgresql://%2Fvar%2Frun%2Fpostgresql/dbname").unwrap(),
            p(&[("host", "/var/run/postgresql"), ("dbname", "dbname")])
        );
        assert_eq!(
            parse("postgres://u:p%40ss@h/d").unwrap()["password"],
            "p@ss"
        );
        assert!(parse("postgresql://h1,h2/db").is_err());
        assert!(parse("postgresql://h/db?bogus=1").is_err());
        assert!(parse("postgresql://h/%zz").is_err());
    }
}
