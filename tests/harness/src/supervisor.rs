//! A throwaway supervisord (Debian's `supervisor` package) with programs of the test's choice:
//! its own config, Unix socket and logs in a temporary directory; stopped when dropped.

use crate::util::wait_until;
use anyhow::{Context as _, Result};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

pub struct Supervisor {
    dir: tempfile::TempDir,
    /// `supervisorctl -c <config>`, for the check's `--supervisorctl`.
    pub ctl: String,
    config: PathBuf,
}

/// A program: name, command, and extra `key=value` lines (autostart=false, startsecs=...).
pub struct Program<'a> {
    pub name: &'a str,
    pub command: &'a str,
    pub extra: &'a [&'a str],
}

impl Supervisor {
    /// Starts supervisord with `programs` and waits until it answers.
    pub fn start(programs: &[Program]) -> Result<Supervisor> {
        let dir = tempfile::Builder::new()
            .prefix("custos-supervisor")
            .tempdir()?;
        let d = dir.path().display();
        let mut conf = format!(
            "[unix_http_server]\nfile={d}/supervisor.sock\nchmod=0700\n\n\
             [supervisord]\nlogfile={d}/supervisord.log\npidfile={d}/supervisord.pid\n\
             childlogdir={d}\nnodaemon=false\nuser=root\n\n\
             [rpcinterface:supervisor]\n\
             supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface\n\n\
             [supervisorctl]\nserverurl=unix://{d}/supervisor.sock\n\n"
        );
        for p in programs {
            conf.push_str(&format!("[program:{}]\ncommand={}\n", p.name, p.command));
            for line in p.extra {
                conf.push_str(line);
                conf.push('\n');
            }
            conf.push('\n');
        }
        let config = dir.path().join("supervisord.conf");
        std::fs::write(&config, conf)?;
        let out = Command::new("supervisord")
            .arg("-c")
            .arg(&config)
            .output()
            .context("starting supervisord (apt-get install supervisor)")?;
        anyhow::ensure!(
            out.status.success(),
            "supervisord: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let s = Supervisor {
            ctl: format!("supervisorctl -c {}", config.display()),
            dir,
            config,
        };
        wait_until("supervisord", Duration::from_secs(15), || {
            s.ctl(&["pid"])
                .ok()
                .filter(|o| o.trim().parse::<u32>().is_ok())
        })?;
        Ok(s)
    }

    /// Runs supervisorctl with this config; its stdout.
    pub fn ctl(&self, args: &[&str]) -> Result<String> {
        let out = Command::new("supervisorctl")
            .arg("-c")
            .arg(&self.config)
            .args(args)
            .output()?;
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// Waits until `program` is in `state` (RUNNING, FATAL, ...).
    pub fn wait_state(&self, program: &str, state: &str) -> Result<()> {
        wait_until(
            &format!("{program} {state}"),
            Duration::from_secs(30),
            || {
                self.ctl(&["status", program])
                    .ok()
                    .filter(|o| o.split_whitespace().nth(1) == Some(state))
            },
        )
        .map(|_| ())
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Supervisor {
    fn drop(&mut self) {
        let _ = self.ctl(&["shutdown"]);
        // supervisord stops its programs before it exits; give it a moment.
        let pidfile = self.dir.path().join("supervisord.pid");
        let _ = wait_until("supervisord to exit", Duration::from_secs(10), || {
            (!pidfile.exists()).then_some(())
        });
    }
}
