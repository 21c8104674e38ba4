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
    /// rabbitmq_prometheus' listener.
    pub prom_port: u16,
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

    /// rabbitmq_prometheus' base URL.
    pub fn prometheus_url(&self) -> String {
        format!("http://{}:{}", self.host, self.prom_port)
    }

    /// A `--rabbitmqctl` command line for custos that reaches this node (its cookie, its
    /// epmd), as `rabbitmqctl` reaches the machine's own broker.
    pub fn ctl_command(&self) -> String {
        format!(
            "env HOME={} ERL_EPMD_PORT={} RABBITMQ_CONF_ENV_FILE=/dev/null {}/rabbitmqctl -n {}",
            self.dir.join("home").display(),
            self.epmd_port,
            SBIN,
            self.nodename
        )
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

    /// A management API request that must succeed (2xx).
    fn api_ok(&self, method: &str, path: &str, body: &str) -> Result<String> {
        let (status, reply) = self.api(method, path, body)?;
        anyhow::ensure!(
            (200..300).contains(&status),
            "{method} {path}: {status} {reply}"
        );
        Ok(reply)
    }

    /// Creates a vhost (if missing) and gives the test user every permission on it.
    pub fn add_vhost(&self, vhost: &str) -> Result<()> {
        self.api_ok("PUT", &format!("/api/vhosts/{}", pct(vhost)), "")?;
        self.api_ok(
            "PUT",
            &format!("/api/permissions/{}/{}", pct(vhost), pct(&self.user)),
            r#"{"configure":".*","write":".*","read":".*"}"#,
        )?;
        Ok(())
    }

    /// Creates a user with `tags` ("" for none: no management API access) and full permissions
    /// on `vhost`.
    pub fn add_user(&self, name: &str, password: &str, tags: &str, vhost: &str) -> Result<()> {
        let body = serde_json::json!({"password": password, "tags": tags}).to_string();
        self.api_ok("PUT", &format!("/api/users/{}", pct(name)), &body)?;
        self.api_ok(
            "PUT",
            &format!("/api/permissions/{}/{}", pct(vhost), pct(name)),
            r#"{"configure":".*","write":".*","read":".*"}"#,
        )?;
        Ok(())
    }

    /// Declares a non-durable queue (deleting any old one of that name first).
    pub fn fresh_queue(&self, vhost: &str, queue: &str) -> Result<()> {
        let path = format!("/api/queues/{}/{}", pct(vhost), pct(queue));
        let _ = self.api("DELETE", &path, "");
        self.api_ok("PUT", &path, r#"{"durable":false}"#)?;
        Ok(())
    }

    /// Deletes a queue if it exists.
    pub fn delete_queue(&self, vhost: &str, queue: &str) -> Result<()> {
        let _ = self.api(
            "DELETE",
            &format!("/api/queues/{}/{}", pct(vhost), pct(queue)),
            "",
        );
        Ok(())
    }

    /// Waits until the management API's statistics show `messages` messages and `consumers`
    /// consumers on a queue (they are refreshed every 0.5 s here), and `/api/consumers` lists
    /// as many.
    pub fn wait_for(&self, vhost: &str, queue: &str, messages: u64, consumers: u64) -> Result<()> {
        let path = format!(
            "/api/queues/{}/{}?columns=messages,consumers",
            pct(vhost),
            pct(queue)
        );
        wait_until(
            &format!("{queue}: {messages} messages, {consumers} consumers"),
            Duration::from_secs(30),
            || {
                let (_, body) = self.api("GET", &path, "").ok()?;
                let v: serde_json::Value = serde_json::from_str(&body).ok()?;
                (v["messages"] == messages
                    && v["consumers"] == consumers
                    && self.consumers_listed(vhost, queue)? == consumers)
                    .then_some(())
            },
        )
    }

    /// The consumers of `queue` in `/api/consumers/{vhost}`, the listing the checks read (it
    /// can lag behind the queue's own count by a moment).
    fn consumers_listed(&self, vhost: &str, queue: &str) -> Option<u64> {
        let (_, body) = self
            .api("GET", &format!("/api/consumers/{}", pct(vhost)), "")
            .ok()?;
        let v: serde_json::Value = serde_json::from_str(&body).ok()?;
        let n = v
            .as_array()?
            .iter()
            .filter(|c| c["queue"]["name"] == queue)
            .count();
        Some(n as u64)
    }

    /// `bin` pointed at this broker's management API as the test user, the password in
    /// `RABBITMQ_PASSWORD` (and no other RabbitMQ variable from the caller's environment).
    pub fn check_command(&self, bin: &str) -> Command {
        let mut cmd = command_as(bin, None);
        cmd.args(["--api-url", &self.api_url(), "--user", &self.user])
            .env("RABBITMQ_PASSWORD", &self.password);
        cmd
    }

    /// An AMQP connection to `vhost` as the test user.
    pub fn amqp(&self, vhost: &str) -> Result<crate::amqp::Amqp> {
        crate::amqp::Amqp::connect(&format!(
            "amqp://{}:{}@{}:{}/{}",
            pct(&self.user),
            pct(&self.password),
            self.host,
            self.amqp_port,
            pct(vhost)
        ))
    }
}

/// Percent-encodes everything but unreserved characters (vhosts, queue names, user names).
pub fn pct(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// How often the node refreshes the management API's statistics: 500 ms for the tests (so they
/// wait less), `CUSTOS_RABBITMQ_STATS_MS` to change it (`make bench` uses RabbitMQ's default,
/// 5000, as production does).
fn stats_interval_ms() -> u64 {
    std::env::var("CUSTOS_RABBITMQ_STATS_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(500)
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
        prom_port: free_port()?,
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
             prometheus.tcp.port = {}\nprometheus.tcp.ip = 127.0.0.1\n\
             default_user = {}\ndefault_pass = {}\nloopback_users = none\n\
             log.console = false\nlog.file.level = warning\n\
             collect_statistics_interval = {}\n",
            r.amqp_port, r.api_port, r.prom_port, r.user, r.password, stats_interval_ms()
        ),
    )?;
    std::fs::write(
        dir.join("enabled_plugins"),
        "[rabbitmq_management,rabbitmq_prometheus].\n",
    )?;

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
    // Until our epmd listens, the broker (and rabbitmqctl) would daemonise one of their own,
    // outside every process group we stop.
    wait_until("the test epmd", Duration::from_secs(30), || {
        std::net::TcpStream::connect(("127.0.0.1", r.epmd_port)).ok()
    })?;

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
    // Throwaway data has nothing to flush, and a broker with 10,000 queues takes minutes to
    // stop gracefully: the group is killed at once (the guard's sweep catches any process of
    // it in a session of its own).
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
