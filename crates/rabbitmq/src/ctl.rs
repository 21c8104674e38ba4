//! `rabbitmqctl list_queues`, the way Zulip's root cron jobs read the broker: it works where
//! the management plugin is not enabled (a stock Zulip server), as root (Debian's wrapper
//! switches to the rabbitmq user) or as rabbitmq. It costs an Erlang VM: about half a second
//! and 60 MiB a run (BENCHMARKS.md), so the management API stays the default.
//!
//! custos asks for JSON (`--formatter json`), so every queue name is read exactly, where
//! Zulip's tab-separated parsing skipped names with dots or dashes.

use crate::Queue;
use plugin_core::{CheckError, Context};
use serde::Deserialize;
use std::process::Command;

/// Debian's rabbitmqctl (a wrapper that runs the real one as the rabbitmq user).
pub const DEFAULT_COMMAND: &str = "/usr/sbin/rabbitmqctl";

/// Most of rabbitmqctl's output read (10,000 queues take about 1 MB as JSON).
const MAX_OUTPUT: usize = 64 << 20;

/// rabbitmqctl, as a command line (`sudo -u rabbitmq rabbitmqctl`, `rabbitmqctl -n rabbit@db`).
pub struct Ctl {
    command: Vec<String>,
    vhost: String,
}

#[derive(Deserialize)]
struct Row {
    name: String,
    messages: Option<u64>,
    messages_ready: Option<u64>,
    messages_unacknowledged: Option<u64>,
    consumers: Option<u64>,
}

/// `rabbitmqctl list_queues --formatter json ...`'s output: the queues.
pub fn parse(output: &[u8]) -> Result<Vec<Queue>, serde_json::Error> {
    let rows: Vec<Row> = serde_json::from_slice(output)?;
    Ok(rows
        .into_iter()
        .map(|r| Queue {
            name: r.name,
            messages: r.messages,
            ready: r.messages_ready,
            unacked: r.messages_unacknowledged,
            consumers: r.consumers,
            ..Queue::default()
        })
        .collect())
}

impl Ctl {
    /// `command` is split on whitespace (no quoting).
    pub fn new(command: &str, vhost: &str) -> Result<Ctl, CheckError> {
        let command: Vec<String> = command.split_whitespace().map(String::from).collect();
        if command.is_empty() {
            return Err(CheckError::unknown("--rabbitmqctl is empty"));
        }
        Ok(Ctl {
            command,
            vhost: vhost.to_string(),
        })
    }

    /// Is the program there (for choosing it when the API refuses)?
    pub fn exists(&self) -> bool {
        std::path::Path::new(&self.command[0]).is_file()
    }

    /// Runs `rabbitmqctl -q --formatter json <args>`.
    fn run(
        &self,
        ctx: &Context,
        args: &[&str],
        what: &str,
    ) -> Result<plugin_core::process::Output, CheckError> {
        let mut cmd = Command::new(&self.command[0]);
        cmd.args(&self.command[1..])
            .args(["-q", "--formatter", "json"])
            .args(args)
            .env("LC_ALL", "C.UTF-8");
        plugin_core::process::run(ctx, &mut cmd, what, MAX_OUTPUT)
    }

    /// Every queue of the vhost, each handed to `each`. (rabbitmqctl's own output is read
    /// whole, bounded: rabbitmqctl itself takes sixty times the memory.)
    pub fn each_queue(&self, ctx: &Context, each: &mut dyn FnMut(Queue)) -> Result<(), CheckError> {
        self.queues(ctx)?.into_iter().for_each(each);
        Ok(())
    }

    /// Every queue of the vhost, with live counts and consumers.
    pub fn queues(&self, ctx: &Context) -> Result<Vec<Queue>, CheckError> {
        let args = [
            "list_queues",
            "-p",
            &self.vhost,
            "name",
            "messages",
            "messages_ready",
            "messages_unacknowledged",
            "consumers",
        ];
        let out = self.run(ctx, &args, "rabbitmqctl list_queues")?;
        let words = || out.complaint();
        if out.truncated {
            return Err(CheckError::unknown(format!(
                "rabbitmqctl list_queues printed more than {} MiB",
                MAX_OUTPUT >> 20
            )));
        }
        match out.code {
            Some(0) => {
                let queues = parse(&out.stdout).map_err(|e| {
                    CheckError::unknown(format!("invalid output from rabbitmqctl list_queues: {e}"))
                })?;
                // rabbitmqctl lists nothing for a vhost that does not exist: ask.
                if queues.is_empty() && !self.vhost_exists(ctx)? {
                    return Err(CheckError::critical(format!(
                        "vhost '{}' does not exist",
                        self.vhost
                    )));
                }
                Ok(queues)
            }
            // EX_UNAVAILABLE: the node is down or cannot be reached.
            Some(69) => Err(CheckError::critical(format!("rabbitmqctl: {}", words()))),
            _ if words().contains("does not exist") => Err(CheckError::critical(format!(
                "vhost '{}' does not exist (rabbitmqctl: {})",
                self.vhost,
                words()
            ))),
            code => Err(CheckError::unknown(format!(
                "rabbitmqctl list_queues failed ({}): {}",
                code.map_or("killed".into(), |c| format!("exit {c}")),
                words()
            ))),
        }
    }
}

impl Ctl {
    /// Is the vhost there (`rabbitmqctl list_vhosts`)?
    fn vhost_exists(&self, ctx: &Context) -> Result<bool, CheckError> {
        #[derive(Deserialize)]
        struct Vhost {
            name: String,
        }
        let out = self.run(ctx, &["list_vhosts", "name"], "rabbitmqctl list_vhosts")?;
        let vhosts: Vec<Vhost> = serde_json::from_slice(&out.stdout).map_err(|e| {
            CheckError::unknown(format!("invalid output from rabbitmqctl list_vhosts: {e}"))
        })?;
        Ok(vhosts.iter().any(|v| v.name == self.vhost))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn json_rows() {
        let out = br#"[
{"name":"q_consumed","messages":3,"messages_ready":0,"messages_unacknowledged":3,"consumers":1}
,{"name":"we\"ird\\name sp","messages":0,"messages_ready":0,"messages_unacknowledged":0,"consumers":0}
]"#;
        let q = super::parse(out).unwrap();
        assert_eq!(q.len(), 2);
        assert_eq!((q[0].messages, q[0].consumers), (Some(3), Some(1)));
        assert_eq!(q[1].name, "we\"ird\\name sp");
        assert!(super::parse(b"Error: unable to perform an operation").is_err());
    }
}
