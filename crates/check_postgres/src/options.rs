//! check_postgres.pl's command line, read as check_postgres.pl reads it.
//!
//! - Its single-dash long options (`-db postgres`, `-warning=5`) and short `-u USER`.
//! - Several servers: `--dbhost=a,b`, `--dbport=5432,5433`, or numbered options
//!   (`--dbhost2=b`, `--dbport2=5433`, `-H2=b`, `--db2=x`, `--dbuser2=u`); each list gives the
//!   i-th server its i-th value, a value carrying over to the next servers until changed.
//! - Installed as `check_postgres_<action>` (check_postgres.pl's `--symlinks`), the action comes
//!   from the name when `--action` is not given.

use custos_pg::ConnArgs;
use plugin_core::CheckError;
use std::ffi::OsString;

/// check_postgres.pl's long options that clap knows by the same name (they may come with one
/// dash: Getopt::Long takes both).
const LONG: &[&str] = &[
    "action",
    "warning",
    "critical",
    "include",
    "exclude",
    "includeuser",
    "excludeuser",
    "query",
    "valtype",
    "reverse",
    "queryname",
    "repinfo",
    "datadir",
    "assume-standby-mode",
    "assume-prod",
    "noidle",
    "skipcycled",
    "perflimit",
    "showperf",
    "showtime",
    "tempdir",
    "output",
    "timeout",
    "verbose",
    "host",
    "port",
    "dbname",
    "dbhost",
    "dbport",
    "dbuser",
    "dbpass",
    "dbservice",
    "db",
];

/// Connection options and the clap option each becomes; numbered forms (`dbhost2`) add servers.
const CONN: &[(&str, &str)] = &[
    ("H", "--host"),
    ("host", "--host"),
    ("dbhost", "--host"),
    ("p", "--port"),
    ("port", "--port"),
    ("dbport", "--port"),
    ("db", "--dbname"),
    ("dbname", "--dbname"),
    ("u", "--user"),
    ("dbuser", "--user"),
    ("dbpass", "--dbpass"),
    ("dbservice", "--dbservice"),
];

/// The clap option for a check_postgres.pl connection option name (with a server number or
/// not: `dbhost`, `dbhost1`, `dbhost2`).
fn conn_option(name: &str) -> Option<&'static str> {
    // Server numbers are 1 and 2 (`dbhost2`, `H2`); `-p5433` is a value (see `attached`).
    let base = name
        .strip_suffix(['1', '2'])
        .filter(|b| !b.ends_with(|c: char| c.is_ascii_digit()))
        .unwrap_or(name);
    CONN.iter().find(|(n, _)| *n == base).map(|(_, clap)| *clap)
}

/// `-p5433`, `-Hdb1`: a one-letter connection option (`-H`, `-p`, `-u`) with its value
/// attached, as getopt reads it; `-H2`, `-p1` stay check_postgres.pl's numbered options.
fn attached(dashes: usize, body: &str) -> Option<(&str, &str)> {
    let (letter, value) = (body.get(..1)?, body.get(1..)?);
    (dashes == 1
        && !value.is_empty()
        && !["1", "2"].contains(&value)
        && ["H", "p", "u"].contains(&letter))
    .then_some((letter, value))
}

/// Rewrites check_postgres.pl's command line into custos' (see the module doc).
// One function, about 95 lines, on purpose: a single pass over argv whose state (the
// connection values seen so far, whether --action came) carries from one argument to the next.
pub fn rewrite(invoked_as: &str, argv: Vec<OsString>) -> Vec<OsString> {
    let mut out: Vec<OsString> = Vec::with_capacity(argv.len() + 1);
    // Connection values in order of appearance, per clap option: several servers are joined.
    let mut conn: Vec<(&'static str, Vec<String>)> = Vec::new();
    let mut it = argv.into_iter();
    if let Some(first) = it.next() {
        out.push(first);
    }
    let mut has_action = false;
    while let Some(arg) = it.next() {
        let Some(text) = arg.to_str().map(str::to_string) else {
            out.push(arg);
            continue;
        };
        if text == "--" {
            out.push(arg);
            out.extend(it.by_ref());
            break;
        }
        let dashes = if text.starts_with("--") {
            2
        } else if text.starts_with('-') && text.len() > 1 {
            1
        } else {
            0
        };
        if dashes == 0 {
            out.push(arg);
            continue;
        }
        let body = &text[dashes..];
        let (name, inline) = match body.split_once('=') {
            Some((n, v)) => (n, Some(v.to_string())),
            None => match attached(dashes, body) {
                // `-p5433`: a one-letter option with its value attached, as getopt reads it.
                Some((letter, value)) => (letter, Some(value.to_string())),
                None => (body, None),
            },
        };
        // A connection option, numbered or not, long or short: collected.
        let conn_target = conn_option(name);
        if let Some(clap) = conn_target {
            let value = match inline {
                Some(v) => Some(v),
                None => it.next().and_then(|v| v.into_string().ok()),
            };
            if let Some(v) = value {
                match conn.iter_mut().find(|(c, _)| *c == clap) {
                    Some((_, vs)) => vs.push(v),
                    None => conn.push((clap, vec![v])),
                }
            }
            continue;
        }
        if name == "action" {
            has_action = true;
        }
        // `-warning=5`, `-action backends`: one dash for a long option.
        if dashes == 1 && name.len() > 1 && LONG.contains(&name) {
            let mut fixed = format!("--{name}");
            if let Some(v) = inline {
                fixed.push('=');
                fixed.push_str(&v);
            }
            out.push(fixed.into());
            continue;
        }
        // Getopt::Long's unique abbreviations that check_postgres.pl's users write.
        if dashes == 2 {
            let full = match name {
                "warn" => Some("warning"),
                "crit" => Some("critical"),
                _ => None,
            };
            if let Some(full) = full {
                let mut fixed = format!("--{full}");
                if let Some(v) = inline {
                    fixed.push('=');
                    fixed.push_str(&v);
                }
                out.push(fixed.into());
                continue;
            }
        }
        out.push(arg);
    }
    for (clap, values) in conn {
        out.push(format!("{clap}={}", values.join(",")).into());
    }
    if !has_action {
        if let Some(action) = invoked_as
            .strip_prefix("check_postgres_")
            .filter(|a| !a.is_empty())
        {
            out.push(format!("--action={action}").into());
        }
    }
    out
}

/// The servers a command line names: each comma-separated list gives the i-th server its
/// i-th value, the last value carrying over (check_postgres.pl's rule); at least one.
pub fn targets(conn: &ConnArgs) -> Result<Vec<ConnArgs>, CheckError> {
    let split = |v: &Option<String>| -> Vec<String> {
        v.as_deref()
            .map(|s| s.split(',').map(|p| p.trim().to_string()).collect())
            .unwrap_or_default()
    };
    let hosts = split(&conn.host);
    let ports = split(&conn.port);
    let dbs = split(&conn.dbname);
    let users = split(&conn.user);
    let services = split(&conn.service);
    let n = [
        hosts.len(),
        ports.len(),
        dbs.len(),
        users.len(),
        services.len(),
    ]
    .into_iter()
    .max()
    .unwrap_or(0)
    .max(1);
    let pick = |list: &[String], i: usize| -> Option<String> {
        list.get(i)
            .or(list.last())
            .filter(|v| !v.is_empty())
            .cloned()
    };
    Ok((0..n)
        .map(|i| ConnArgs {
            host: pick(&hosts, i),
            port: pick(&ports, i),
            dbname: pick(&dbs, i),
            user: pick(&users, i),
            service: pick(&services, i),
            ..conn.clone()
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(v: &[&str]) -> Vec<OsString> {
        v.iter().map(OsString::from).collect()
    }

    fn text(v: Vec<OsString>) -> Vec<String> {
        v.into_iter().map(|s| s.into_string().unwrap()).collect()
    }

    #[test]
    fn check_postgres_pl_spellings() {
        let got = text(rewrite(
            "check_postgres",
            words(&[
                "check_postgres",
                "-db",
                "zulip",
                "-u",
                "nagios",
                "--dbhost=10.0.0.1",
                "-warning=5",
                "--action",
                "query_time",
                "--crit=40",
            ]),
        ));
        assert_eq!(
            got,
            [
                "check_postgres",
                "--warning=5",
                "--action",
                "query_time",
                "--critical=40",
                "--dbname=zulip",
                "--user=nagios",
                "--host=10.0.0.1"
            ]
        );
    }

    #[test]
    fn numbered_servers_and_symlink_names() {
        let got = text(rewrite(
            "check_postgres_hot_standby_delay",
            words(&[
                "x",
                "--dbhost=a",
                "--dbhost2=b",
                "-p",
                "5432",
                "--dbport2=5433",
            ]),
        ));
        assert_eq!(
            got,
            [
                "x",
                "--host=a,b",
                "--port=5432,5433",
                "--action=hot_standby_delay"
            ]
        );
        // --action wins over the name; custos' own names are untouched.
        let got = text(rewrite(
            "check_postgres_locks",
            words(&["x", "--action=backends", "-w", "5", "-H", "h"]),
        ));
        assert_eq!(got, ["x", "--action=backends", "-w", "5", "--host=h"]);
    }

    #[test]
    fn attached_short_values_and_numbered_short_options() {
        // `-p5433 -d zulip`: the port attached, as getopt (and clap) read it.
        let got = text(rewrite(
            "check_postgres",
            words(&["x", "-p5433", "-Hdb1", "-unagios", "-d", "zulip"]),
        ));
        assert_eq!(
            got,
            [
                "x",
                "-d",
                "zulip",
                "--port=5433",
                "--host=db1",
                "--user=nagios"
            ]
        );
        // `-H2=b`: check_postgres.pl's second server.
        let got = text(rewrite(
            "check_postgres",
            words(&["x", "-H", "a", "-H2=b", "--dbport12=7"]),
        ));
        assert_eq!(got, ["x", "--dbport12=7", "--host=a,b"]);
    }

    #[test]
    fn targets_carry_over() {
        let c = ConnArgs {
            host: Some("a,b".into()),
            port: Some("5433".into()),
            dbname: Some("c,d".into()),
            ..ConnArgs::default()
        };
        let t = targets(&c).unwrap();
        assert_eq!(t.len(), 2);
        assert_eq!(
            (
                t[1].host.as_deref(),
                t[1].port.as_deref(),
                t[1].dbname.as_deref()
            ),
            (Some("b"), Some("5433"), Some("d"))
        );
        assert_eq!(targets(&ConnArgs::default()).unwrap().len(), 1);
    }
}
