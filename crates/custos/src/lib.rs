//! custos, the multi-call binary: every check in one executable, chosen by the name it is
//! invoked as (`/usr/lib/nagios/plugins/check_cron_file` is a link to `custos`), or by its
//! first argument (`custos check_cron_file FILE`). Each check keeps its own crate and its own
//! binary target (`cargo install` of one check still works); this crate only dispatches.
//!
//! Why one binary: the checks share most of their code (the runner, TLS, HTTP, PostgreSQL and
//! AMQP clients, tokio). Fourteen fat-LTO binaries carried fourteen copies of it (34 MB
//! installed) and took fourteen LTO links to build; one binary carries one copy and links
//! once. The figures are in BENCHMARKS.md ("Build and size").

use std::ffi::OsString;

/// A check's entry point: runs it with this command line and exits.
pub type Main = fn(Vec<OsString>) -> !;

macro_rules! entry {
    ($krate:ident) => {
        (
            stringify!($krate),
            (|argv| plugin_core::run_with_args($krate::PLUGIN, $krate::check, argv)) as Main,
        )
    };
}

/// Every name custos answers to: each check's own name, then the compatibility names of the
/// plugins it replaces.
pub const CHECKS: &[(&str, Main)] = &[
    entry!(check_cron_file),
    entry!(check_debian_packages),
    entry!(check_email_deliverer_backlog),
    entry!(check_email_deliverer_process),
    entry!(check_fts_update_log),
    entry!(check_postgres),
    entry!(check_postgres_backup),
    entry!(check_postgres_replication_lag),
    entry!(check_queue_worker_errors),
    entry!(check_rabbitmq_consumers),
    entry!(check_rabbitmq_queues),
    entry!(check_send_receive_time),
    entry!(check_website_response),
    entry!(check_worker_memory),
];

/// Compatibility names: (installed name, the check it runs). The check sees the name it was
/// invoked as (`check_website_response.sh` keeps the old script's option syntax).
pub const ALIASES: &[(&str, &str)] = &[
    ("check_website_response.sh", "check_website_response"),
    // Zulip's names since 2020.
    (
        "check_postgresql_replication_lag",
        "check_postgres_replication_lag",
    ),
    ("check_postgresql_backup", "check_postgres_backup"),
];

/// The check for a name: a check's own name, an alias, or check_postgres.pl's
/// `check_postgres_<action>` (the action comes from the name).
pub fn lookup(name: &str) -> Option<Main> {
    let name = ALIASES
        .iter()
        .find(|(alias, _)| *alias == name)
        .map_or(name, |(_, check)| check);
    if let Some((_, m)) = CHECKS.iter().find(|(n, _)| *n == name) {
        return Some(*m);
    }
    let action = name.strip_prefix("check_postgres_")?;
    check_postgres::ACTIONS
        .iter()
        .any(|a| a.name == action)
        .then(|| lookup("check_postgres"))
        .flatten()
}

/// Every name `make install` links to custos: the checks, the aliases, and one
/// `check_postgres_<action>` per check_postgres action (check_postgres.pl's `--symlinks`).
pub fn installed_names() -> Vec<String> {
    let mut names: Vec<String> = CHECKS.iter().map(|(n, _)| n.to_string()).collect();
    names.extend(ALIASES.iter().map(|(a, _)| a.to_string()));
    names.extend(
        check_postgres::ACTIONS
            .iter()
            .map(|a| format!("check_postgres_{}", a.name)),
    );
    names
}

fn basename(arg: &OsString) -> String {
    std::path::Path::new(arg)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Runs the check named by `argv[0]`, or by `argv[1]` when invoked as `custos`.
pub fn main(argv: Vec<OsString>) -> ! {
    let name = argv.first().map(basename).unwrap_or_default();
    if let Some(run) = lookup(&name) {
        run(argv)
    }
    let first = argv.get(1).map(basename).unwrap_or_default();
    if first == "--names" {
        // For make install and the .deb: the links to make.
        println!("{}", installed_names().join("\n"));
        std::process::exit(0)
    }
    if let Some(run) = lookup(&first) {
        run(argv[1..].to_vec())
    }
    let mut names: Vec<&str> = CHECKS.iter().map(|(n, _)| *n).collect();
    names.extend(ALIASES.iter().map(|(a, _)| *a));
    let what = if first.is_empty() {
        "no check named".to_string()
    } else {
        format!("no check named '{first}'")
    };
    // The plugin contract even here: one line on stdout, exit 3.
    println!(
        "CUSTOS UNKNOWN - {what}: run as one of {} (a link to custos), or custos CHECK [ARGS]",
        names.join(", ")
    );
    std::process::exit(3)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_resolves() {
        for (n, _) in CHECKS {
            assert!(lookup(n).is_some(), "{n}");
        }
        for (a, c) in ALIASES {
            assert!(lookup(a).is_some() && lookup(c).is_some(), "{a}");
        }
        assert!(lookup("check_nothing").is_none());
        assert!(lookup("check_postgres_locks").is_some());
        assert!(lookup("check_postgres_nothing").is_none());
        let names = installed_names();
        let mut unique = names.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), names.len(), "no name twice");
    }
}
