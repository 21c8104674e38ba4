//! `--include`/`--exclude` and `--includeuser`/`--excludeuser`, with check_postgres.pl's rules.
//!
//! Names: each option may repeat, each value is a comma-separated list. A term starting with
//! `~` is a regular expression (unanchored), otherwise an exact name; a term ending with `.`
//! names a schema (`pg_catalog.`). With only `--exclude`, matches are left out; with only
//! `--include`, only matches are kept; with both, `--include` brings back what `--exclude`
//! left out, and what matches neither is kept (check_postgres.pl's rule).
//!
//! Users: `--includeuser` keeps only objects owned by (sessions of) those users; otherwise
//! `--excludeuser` leaves theirs out.

use crate::Args;
use plugin_core::CheckError;
use regex_lite::Regex;

enum Pattern {
    Exact(String),
    Regex(Regex),
}

impl Pattern {
    fn matches(&self, text: &str) -> bool {
        match self {
            Pattern::Exact(s) => s == text,
            Pattern::Regex(r) => r.is_match(text),
        }
    }
}

/// One term: against the object's name, or (trailing `.`) its schema.
struct Term {
    pattern: Pattern,
    schema: bool,
}

fn terms(values: &[String], option: &str) -> Result<Vec<Term>, CheckError> {
    let mut out = Vec::new();
    for value in values {
        for raw in value.split(',').map(str::trim).filter(|t| !t.is_empty()) {
            let (text, schema) = match raw.strip_suffix('.') {
                Some(s) => (s, true),
                None => (raw, false),
            };
            let pattern = match text.strip_prefix('~') {
                Some(re) => Pattern::Regex(Regex::new(re).map_err(|e| {
                    CheckError::unknown(format!(
                        "invalid regular expression in {option} '{raw}': {e}"
                    ))
                })?),
                None => Pattern::Exact(text.to_string()),
            };
            out.push(Term { pattern, schema });
        }
    }
    Ok(out)
}

/// The filters of one run.
pub struct Filter {
    include: Vec<Term>,
    exclude: Vec<Term>,
    users_in: Vec<String>,
    users_out: Vec<String>,
}

fn list(values: &[String]) -> Vec<String> {
    values
        .iter()
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect()
}

impl Filter {
    /// The filters the options give.
    pub fn new(args: &Args) -> Result<Filter, CheckError> {
        Ok(Filter {
            include: terms(&args.include, "--include")?,
            exclude: terms(&args.exclude, "--exclude")?,
            users_in: list(&args.includeuser),
            users_out: list(&args.excludeuser),
        })
    }

    /// True when `--include` or `--exclude` was given.
    pub fn names_given(&self) -> bool {
        !self.include.is_empty() || !self.exclude.is_empty()
    }

    /// True when `--includeuser` or `--excludeuser` was given.
    pub fn users_given(&self) -> bool {
        !self.users_in.is_empty() || !self.users_out.is_empty()
    }

    /// Is the object `name` (in `schema`) left out?
    pub fn skip(&self, name: &str, schema: Option<&str>) -> bool {
        let hit = |terms: &[Term]| {
            terms.iter().any(|t| match (t.schema, schema) {
                (true, Some(s)) => t.pattern.matches(s),
                (true, None) => false,
                (false, _) => t.pattern.matches(name),
            })
        };
        let mut stat = 0;
        if !self.exclude.is_empty() {
            stat = 1 + if hit(&self.exclude) { 2 } else { 0 };
        }
        if !self.include.is_empty() {
            stat += 4 + if hit(&self.include) { 8 } else { 0 };
        }
        matches!(stat, 3 | 4 | 7)
    }

    /// Is an object of (a session of) `user` kept?
    pub fn user_ok(&self, user: Option<&str>) -> bool {
        let user = user.unwrap_or("");
        if !self.users_in.is_empty() {
            return self.users_in.iter().any(|u| u == user);
        }
        !self.users_out.iter().any(|u| u == user)
    }

    /// Both: the name and the owner.
    pub fn keeps(&self, name: &str, schema: Option<&str>, owner: Option<&str>) -> bool {
        !self.skip(name, schema) && self.user_ok(owner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn filter(args: &[&str]) -> Filter {
        let mut argv = vec!["check_postgres"];
        argv.extend_from_slice(args);
        Filter::new(&Args::try_parse_from(argv).unwrap()).unwrap()
    }

    #[test]
    fn check_postgres_pl_rules() {
        let f = filter(&["--exclude", "template0,~^tmp"]);
        assert!(f.skip("template0", None) && f.skip("tmp_x", None));
        assert!(!f.skip("zulip", None));
        let f = filter(&["--include", "zulip"]);
        assert!(!f.skip("zulip", None) && f.skip("postgres", None));
        // Both: include brings back an excluded name; what matches neither stays.
        let f = filter(&["--exclude", "~^pg_", "--include", "pg_keep"]);
        assert!(!f.skip("pg_keep", None));
        assert!(f.skip("pg_other", None));
        assert!(!f.skip("zulip", None));
        // A trailing dot is a schema.
        let f = filter(&["--exclude", "pg_catalog.,information_schema."]);
        assert!(f.skip("pg_class", Some("pg_catalog")));
        assert!(!f.skip("t", Some("public")));
    }

    #[test]
    fn users() {
        let f = filter(&["--includeuser", "zulip", "--excludeuser", "zulip"]);
        assert!(f.user_ok(Some("zulip")) && !f.user_ok(Some("postgres")));
        let f = filter(&["--excludeuser", "postgres,bob"]);
        assert!(!f.user_ok(Some("bob")) && f.user_ok(Some("zulip")));
    }
}
