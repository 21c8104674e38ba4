//! A throwaway RabbitMQ node with the management plugin: its own node name, ports (AMQP,
//! management, distribution, and its own epmd) and data directory, so the machine's own RabbitMQ
//! and epmd are never touched.

use crate::guard::{reap, stop_group_line, Guard};
use crate::util::{command_as, free_port, http, wait_until, User};
use anyhow::{Context as _, Result};
use serde::{Deserialize, Serialize};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

const SBIN: &str = "/usr/lib/rabbitmq/bin";

/// Where the test RabbitMQ is and how to log in.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RabbitMq {
    pub host: String,
    pub amqp_port: u16,
    pub api_port: u16,
    pub dist_port: u16,
    pub epmd_port: u16,
    pub nodename: String,
    pub user: String,
    pub password: String,
    /// Directory with the node's config, data, logs and Erlang cookie (its HOME).
    pub dir: PathBuf,
}

impl RabbitMq {
    /// The management API base URL.
    pub fn api_url(&self) -> String {
        format!("http://{}:{}", self.host, self.api_port)
    }

    /// An AMQP URL with credentials.
    pub fn amqp_url(&self) -> String {
        format!(
            "amqp://{}:{}@{}:{}/%2f",
            self.user, self.password, self.host, self.amqp_port
        )
    }

    /// The environment that points RabbitMQ's scripts at this node only.
    fn env(&self, cmd: &mut Command) {
        let d = &self.dir;
        cmd.env("HOME", d.join("home"))
            .env("RABBITMQ_CONF_ENV_FILE", "/dev/null")
            .env("RABBITMQ_NODENAME", &self.nodename)
            .env("RABBITMQ_NODE_IP_ADDRESS", &self.host)
            .env("RABBITMQ_NODE_PORT", self.amqp_port.to_string())
            .env("RABBITMQ_DIST_PORT", self.dist_port.to_string())
            .env("ERL_EPMD_PORT", self.epmd_port.to_string())
            .env("ERL_EPMD_ADDRESS", "127.0.0.1")
            .env("RABBITMQ_MNESIA_BASE", d.join("mnesia"))
            .env("RABBITMQ_LOG_BASE", d.join("log"))
            .env("RABBITMQ_CONFIG_FILE", d.join("rabbitmq.conf"))
            .env("RABBITMQ_ADVANCED_CONFIG_FILE", d.join("advanced.config"))
            .env("RABBITMQ_ENABLED_PLUGINS_FILE", d.join("enabled_plugins"))
            .env("RABBITMQ_PID_FILE", d.join("rabbit.pid"))
            .env(
                "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS",
                "-kernel inet_dist_use_interface {127,0,0,1}",
            );
    }

    /// Runs `rabbitmqctl` against this node (for tests that change the broker).
    pub fn ctl(&self, args: &[&str]) -> Result<String> {
        let mut cmd = command_as(Path::new(SBIN).join("rabbitmqctl"), None);
        self.env(&mut cmd);
        cmd.arg("-n").arg(&self.nodename).args(args);
        crate::util::run_ok(&mut cmd, &format!("rabbitmqctl {}", args.join(" ")))
    }

    /// A management API request with the test credentials; returns (status, body).
    pub fn api(&self, method: &str, path: &str, body: &str) -> Result<(u16, String)> {
        http(
            method,
            self.api_port,
            path,
            (&self.user, &self.password),
            body,
        )
    }
}

/// Starts a node under `base`, registering its shutdown with `guard`.
pub fn start(base: &Path, guard: &Guard) -> Result<RabbitMq> {
    let server = Path::new(SBIN).join("rabbitmq-server");
    if !server.exists() {
        anyhow::bail!("no {} (apt-get install rabbitmq-server)", server.display());
    }
    let dir = base.join("rabbitmq");
    for sub in ["home", "mnesia", "log"] {
        std::fs::create_dir_all(dir.join(sub))?;
    }
    let r = RabbitMq {
        host: "127.0.0.1".into(),
        amqp_port: free_port()?,
        api_port: free_port()?,
        dist_port: free_port()?,
        epmd_port: free_port()?,
        nodename: format!("custos{}@localhost", std::process::id()),
        user: "custos".into(),
        password: format!("rmq-{}-{}", std::process::id(), free_port()?),
        dir: dir.clone(),
    };
    std::fs::write(
        dir.join("rabbitmq.conf"),
        format!(
            "listeners.tcp.1 = 127.0.0.1:{}\nmanagement.tcp.port = {}\nmanagement.tcp.ip = 127.0.0.1\n\
             default_user = {}\ndefault_pass = {}\nloopback_users = none\n\
             log.console = false\nlog.file.level = warning\n",
            r.amqp_port, r.api_port, r.user, r.password
        ),
    )?;
    std::fs::write(dir.join("enabled_plugins"), "[rabbitmq_management].\n")?;

    // Our own epmd on our own port, so the machine's epmd (4369) is left alone.
    let epmd = Command::new("epmd")
        .args(["-port", &r.epmd_port.to_string(), "-address", "127.0.0.1"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .context("starting epmd (apt-get install erlang-base / rabbitmq-server)")?;
    guard.on_cleanup(&stop_group_line(epmd.id(), "TERM"))?;
    reap(epmd);

    let mut cmd = command_as(&server, None::<&User>);
    r.env(&mut cmd);
    let out = std::fs::File::create(dir.join("log").join("server.out"))?;
    let node = cmd
        .stdin(Stdio::null())
        .stdout(out.try_clone()?)
        .stderr(out)
        .current_dir(&dir)
        .process_group(0)
        .spawn()
        .context("starting rabbitmq-server")?;
    // beam ignores SIGTERM; throwaway data has nothing to flush, so the group is killed.
    guard.on_cleanup(&stop_group_line(node.id(), "KILL"))?;
    reap(node);

    wait_until(
        "RabbitMQ's management API",
        Duration::from_secs(90),
        || match r.api("GET", "/api/overview", "") {
            Ok((200, _)) => Some(()),
            _ => None,
        },
    )
    .with_context(|| {
        let log = std::fs::read_to_string(dir.join("log").join("server.out")).unwrap_or_default();
        format!(
            "RabbitMQ did not start; its output ends: {}",
            &log[log.len().saturating_sub(800)..]
        )
    })?;
    Ok(r)
}
