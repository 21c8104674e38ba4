//! Running the PostgreSQL checks against the test servers, and a peer that never answers.

use crate::plugin::{run_plugin_with, PluginRun};
use crate::Postgres;
use std::io::Read;
use std::net::{TcpListener, TcpStream};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

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

/// A TCP peer that accepts connections and never says a word; it notes when each connection
/// is closed by the client.
pub struct SilentServer {
    pub port: u16,
    open: Arc<Mutex<Vec<TcpStream>>>,
}

impl SilentServer {
    pub fn start() -> SilentServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("binding a silent server");
        let port = listener.local_addr().unwrap().port();
        let open = Arc::new(Mutex::new(Vec::new()));
        let keep = open.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                keep.lock().unwrap().push(stream);
            }
        });
        SilentServer { port, open }
    }

    /// How many connections were accepted.
    pub fn accepted(&self) -> usize {
        self.open.lock().unwrap().len()
    }

    /// True once every accepted connection has been closed by the client (EOF), waiting up to
    /// `within`.
    pub fn all_closed(&self, within: Duration) -> bool {
        let until = Instant::now() + within;
        let streams = self.open.lock().unwrap();
        streams.iter().all(|s| {
            let mut s = s;
            let mut buf = [0u8; 256];
            loop {
                let left = until.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return false;
                }
                s.set_read_timeout(Some(left)).unwrap();
                match s.read(&mut buf) {
                    Ok(0) => return true,
                    Ok(_) => continue,
                    Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return true,
                    Err(_) => return false,
                }
            }
        })
    }
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
