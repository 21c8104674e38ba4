//! Running the PostgreSQL checks against the test servers, and a peer that never answers.

pub use crate::faults::SilentServer;
use crate::plugin::{run_plugin_with, PluginRun};
use crate::Postgres;
use std::process::Command;
use std::time::Duration;

/// The libpq variables a check would read from the environment; tests start without them so
/// that the machine's own settings (or the system PostgreSQL) never leak in.
pub const PG_VARS: &[&str] = &[
    "PGHOST",
    "PGHOSTADDR",
    "PGPORT",
    "PGDATABASE",
    "PGUSER",
    "PGPASSWORD",
    "PGPASSFILE",
    "PGSERVICE",
    "PGSERVICEFILE",
    "PGSYSCONFDIR",
    "PGSSLMODE",
    "PGSSLROOTCERT",
    "PGCONNECT_TIMEOUT",
    "PGAPPNAME",
];

/// `bin` with a clean libpq environment (no PG* variables, HOME without dot files).
pub fn clean_command(bin: &str) -> Command {
    let mut cmd = Command::new(bin);
    for v in PG_VARS {
        cmd.env_remove(v);
    }
    cmd.env("HOME", "/nonexistent/custos-home");
    cmd
}

/// `bin` connecting over the Unix socket to the primary (or the replica) of `pg`, as the
/// trusted superuser, then `args`.
pub fn run_pg(bin: &str, pg: &Postgres, replica: bool, args: &[&str]) -> PluginRun {
    let port = if replica {
        pg.replica_port
    } else {
        pg.primary_port
    };
    run_plugin_with(
        clean_command(bin)
            .arg("-H")
            .arg(&pg.socket_dir)
            .args(["-p", &port.to_string(), "-U", &pg.user, "-d", &pg.dbname])
            .args(args),
    )
}

/// Runs `bin -H 127.0.0.1 -p <silent> -t 2 args` and asserts the contract for a peer that
/// never answers: the run ends within the deadline (+0.5 s) with the timeout state (here
/// `--timeout-result critical`, so the state is known to come from the deadline), says it timed
/// out while connecting, and leaves no connection open.
pub fn assert_silent_peer_times_out(bin: &str, args: &[&str]) {
    let silent = SilentServer::start();
    let run = run_plugin_with(
        clean_command(bin)
            .args([
                "-H",
                "127.0.0.1",
                "-p",
                &silent.port.to_string(),
                "-U",
                "nagios",
            ])
            .args(["-d", "zulip", "-t", "2", "--timeout-result", "critical"])
            .args(args),
    );
    assert!(
        run.elapsed < Duration::from_millis(2500),
        "took {:?}: {}",
        run.elapsed,
        run.stdout
    );
    assert_eq!(run.code, 2, "{}", run.stdout);
    assert!(
        run.first_line().contains(&format!(
            "timed out after 2 seconds while connecting to 127.0.0.1:{}",
            silent.port
        )),
        "{}",
        run.stdout
    );
    assert_eq!(silent.accepted(), 1);
    assert!(
        silent.all_closed(Duration::from_secs(1)),
        "the connection was left open"
    );
}
