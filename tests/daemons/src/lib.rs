//! The monitoring daemons of Debian, run by the tests on the shipped definitions: a private
//! Nagios 4 instance ([`Nagios`]), an NRPE daemon ([`Nrpe`]) and an Icinga 2 instance
//! ([`Icinga`]), each in its own temporary directory on loopback ports, stopped when dropped.
//! The plugins they run are the workspace's debug builds (`make test` builds them all first).

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

use anyhow::{bail, Context as _, Result};
use custos_harness::util::{free_port, wait_until};
use std::collections::HashMap;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The repository's root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("the repository")
}

/// The custos check names (from the crates directory).
pub fn checks() -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(repo().join("crates"))
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.starts_with("check_"))
        .collect();
    v.sort();
    v
}

/// A plugin directory ($USER1$, and $USER4$ on the monitored host): the custos debug
/// binaries, the multi-call binary under every other name it answers to (Zulip's
/// `check_postgresql_*`, `check_website_response.sh`, `check_postgres_<action>`), and
/// monitoring-plugins' own plugins, as symlinks in `dir`.
pub fn plugin_dir(dir: &Path) -> Result<PathBuf> {
    let out = dir.join("plugins");
    std::fs::create_dir_all(&out)?;
    let bin = repo().join("target/debug");
    for c in checks() {
        let exe = bin.join(&c);
        if !exe.exists() {
            bail!(
                "{} is not built: run `cargo build --workspace` (make test does)",
                exe.display()
            );
        }
        std::os::unix::fs::symlink(&exe, out.join(&c))?;
    }
    let custos = bin.join("custos");
    if !custos.exists() {
        bail!(
            "{} is not built: run `cargo build --workspace`",
            custos.display()
        );
    }
    let names = Command::new(&custos).arg("--names").output()?;
    for name in String::from_utf8_lossy(&names.stdout).split_whitespace() {
        if !out.join(name).exists() {
            std::os::unix::fs::symlink(&custos, out.join(name))?;
        }
    }
    for e in std::fs::read_dir("/usr/lib/nagios/plugins")? {
        let e = e?;
        let target = out.join(e.file_name());
        if !target.exists() {
            std::os::unix::fs::symlink(e.path(), target)?;
        }
    }
    Ok(out)
}

/// A daemon in its own process group, killed with it when dropped.
struct Daemon(Child);

impl Daemon {
    fn spawn(cmd: &mut Command) -> Result<Daemon> {
        let child = cmd
            .stdin(Stdio::null())
            .process_group(0)
            .spawn()
            .with_context(|| format!("starting {cmd:?}"))?;
        Ok(Daemon(child))
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        // SAFETY: kill(2) on the group we created.
        unsafe { libc::kill(-(self.0.id() as i32), libc::SIGKILL) };
        let _ = self.0.wait();
    }
}

/// The unprivileged user the NRPE daemon runs its commands as (it refuses root): `nagios`.
pub fn nagios_user() -> custos_harness::util::User {
    custos_harness::util::User::by_name("nagios")
        .expect("the nagios user (apt-get install nagios4)")
}

/// An NRPE daemon on a loopback port, with a config of the test's making; its commands run as
/// [`nagios_user`], as on a real host.
pub struct Nrpe {
    pub port: u16,
    _daemon: Daemon,
}

impl Nrpe {
    /// Starts `nrpe` with `commands` (command[...] lines) and `env` kept for the commands.
    pub fn start(dir: &Path, commands: &str, env: &[(&str, &str)]) -> Result<Nrpe> {
        let port = free_port()?;
        let keep: Vec<&str> = env.iter().map(|(k, _)| *k).collect();
        let cfg = dir.join("nrpe.cfg");
        std::fs::write(dir.join("custos.cfg"), commands)?;
        std::fs::write(
            &cfg,
            format!(
                "log_file={d}/nrpe.log\ndebug=0\npid_file={d}/nrpe.pid\nserver_port={port}\n\
                 server_address=127.0.0.1\nnrpe_user=nagios\nnrpe_group=nagios\n\
                 allowed_hosts=127.0.0.1\ndont_blame_nrpe=0\nallow_bash_command_substitution=0\n\
                 command_timeout=60\nconnection_timeout=300\nkeep_env_vars={keep}\n\
                 include={d}/custos.cfg\n",
                d = dir.display(),
                keep = keep.join(","),
            ),
        )?;
        nagios_user().chown(dir)?;
        let mut cmd = Command::new("/usr/sbin/nrpe");
        cmd.arg("-c").arg(&cfg).arg("-f").envs(env.iter().copied());
        cmd.stdout(Stdio::null()).stderr(Stdio::null());
        let daemon = Daemon::spawn(&mut cmd)?;
        wait_until("nrpe", Duration::from_secs(15), || {
            std::net::TcpStream::connect(("127.0.0.1", port)).ok()
        })
        .with_context(|| std::fs::read_to_string(dir.join("nrpe.log")).unwrap_or_default())?;
        Ok(Nrpe {
            port,
            _daemon: daemon,
        })
    }

    /// Runs `check_nrpe -c command`: (exit code, output).
    pub fn ask(&self, command: &str) -> (i32, String) {
        let out = Command::new("/usr/lib/nagios/plugins/check_nrpe")
            .args([
                "-H",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-t",
                "60",
                "-c",
                command,
            ])
            .output()
            .expect("check_nrpe");
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    }
}

/// One service as Nagios' status file records it.
#[derive(Clone, Debug, Default)]
pub struct ServiceStatus {
    pub host: String,
    pub service: String,
    pub state: i32,
    pub checked: bool,
    pub output: String,
    pub long_output: String,
    pub perfdata: String,
    /// Unix time of the last check (`0` before the first).
    pub last_check: String,
}

/// A private Nagios 4: its own nagios.cfg, status file, check result and command paths, run as
/// root. Intervals are real minutes and concurrency is unlimited, so every service is checked
/// once at start-up (no inter-check delay) and not again within a test: nothing queues behind
/// anything, however busy the machine is. Later checks are forced ([`Nagios::check_now`]).
pub struct Nagios {
    pub dir: PathBuf,
    _daemon: Daemon,
}

impl Nagios {
    /// The main config: `cfg_files` (the shipped ones and the test's), `$USER1$` = `plugins`.
    pub fn config(dir: &Path, plugins: &Path, cfg_files: &[PathBuf]) -> Result<PathBuf> {
        Self::config_with(dir, plugins, cfg_files, &[], "")
    }

    /// The same, with `cfg_dir`s (Debian's `/etc/nagios-plugins/config`) and more resource
    /// macros (`$USER2$=...` lines).
    pub fn config_with(
        dir: &Path,
        plugins: &Path,
        cfg_files: &[PathBuf],
        cfg_dirs: &[PathBuf],
        resource: &str,
    ) -> Result<PathBuf> {
        std::fs::create_dir_all(dir.join("checkresults"))?;
        let d = dir.display();
        std::fs::write(
            dir.join("resource.cfg"),
            format!("$USER1$={}\n{resource}", plugins.display()),
        )?;
        let mut cfg = format!(
            "log_file={d}/nagios.log\nresource_file={d}/resource.cfg\n\
             object_cache_file={d}/objects.cache\nprecached_object_file={d}/objects.precache\n\
             status_file={d}/status.dat\nstatus_update_interval=1\n\
             nagios_user=root\nnagios_group=root\ncheck_external_commands=1\n\
             command_file={d}/nagios.cmd\nlock_file={d}/nagios.pid\ntemp_file={d}/nagios.tmp\n\
             temp_path={d}\ncheck_result_path={d}/checkresults\nretain_state_information=0\n\
             state_retention_file={d}/retention.dat\ninterval_length=60\n\
             service_inter_check_delay_method=n\nhost_inter_check_delay_method=n\n\
             max_service_check_spread=1\nmax_host_check_spread=1\ncheck_result_reaper_frequency=1\n\
             max_check_result_reaper_time=1\nservice_check_timeout=60\nhost_check_timeout=10\n\
             enable_notifications=0\nenable_flap_detection=0\nuse_syslog=0\ndebug_level=0\n\
             allow_empty_hostgroup_assignment=1\nmax_concurrent_checks=0\n\
             illegal_macro_output_chars=`~$&|'\"<>\n"
        );
        for f in cfg_files {
            cfg.push_str(&format!("cfg_file={}\n", f.display()));
        }
        for d in cfg_dirs {
            cfg.push_str(&format!("cfg_dir={}\n", d.display()));
        }
        let path = dir.join("nagios.cfg");
        std::fs::write(&path, cfg)?;
        Ok(path)
    }

    /// `nagios4 -v`: Ok with its output when the configuration is accepted.
    pub fn verify(cfg: &Path) -> Result<String> {
        let out = Command::new("/usr/sbin/nagios4")
            .arg("-v")
            .arg(cfg)
            .output()?;
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        if !out.status.success() {
            bail!("nagios4 -v refused the configuration:\n{text}");
        }
        Ok(text)
    }

    /// Starts Nagios (in the foreground, in its own process group) with `home` as the HOME of
    /// the checks it runs (their ~/.pgpass), and no PG*/RABBITMQ_* variables of the caller.
    pub fn start(dir: &Path, cfg: &Path, home: &Path) -> Result<Nagios> {
        let mut cmd = Command::new("/usr/sbin/nagios4");
        for (k, _) in std::env::vars_os() {
            let k = k.to_string_lossy();
            if k.starts_with("PG") || k.starts_with("RABBITMQ_") || k.starts_with("ZULIP_") {
                cmd.env_remove(k.as_ref());
            }
        }
        cmd.arg(cfg)
            .env("HOME", home)
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let daemon = Daemon::spawn(&mut cmd)?;
        Ok(Nagios {
            dir: dir.to_path_buf(),
            _daemon: daemon,
        })
    }

    /// The services in the status file (copied first: Nagios rewrites it every second and
    /// deletes it when it stops).
    pub fn status(&self) -> Vec<ServiceStatus> {
        let text = std::fs::read_to_string(self.dir.join("status.dat")).unwrap_or_default();
        parse_status(&text)
    }

    /// Waits until `pred` holds for the status; returns the status then. The bound is not a
    /// fixed clock: the wait fails only when Nagios has made no progress (no service newly
    /// checked or changed, by `progress`) for `stall`, so a slow machine only takes longer.
    pub fn wait_for(
        &self,
        what: &str,
        stall: Duration,
        progress: impl Fn(&[ServiceStatus]) -> String,
        pred: impl Fn(&[ServiceStatus]) -> bool,
    ) -> Result<Vec<ServiceStatus>> {
        let mut last = String::new();
        let mut since = std::time::Instant::now();
        loop {
            let s = self.status();
            if !s.is_empty() && pred(&s) {
                return Ok(s);
            }
            let now = progress(&s);
            if now != last {
                last = now;
                since = std::time::Instant::now();
            } else if since.elapsed() > stall {
                let log = std::fs::read_to_string(self.dir.join("nagios.log")).unwrap_or_default();
                let pending: Vec<String> = s
                    .iter()
                    .filter(|x| !x.checked)
                    .map(|x| format!("{}/{}", x.host, x.service))
                    .collect();
                bail!(
                    "no progress towards {what} for {stall:?} (progress: {last}; not checked: \
                     {pending:?}); Nagios' log ends: {}",
                    &log[log.len().saturating_sub(2000)..]
                );
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// How many services Nagios has checked, and their last check times: changes whenever it
    /// records a result (for [`Nagios::wait_for`]).
    pub fn checked_progress(s: &[ServiceStatus]) -> String {
        let checked = s.iter().filter(|x| x.checked).count();
        let mut stamps: Vec<&str> = s.iter().map(|x| x.last_check.as_str()).collect();
        stamps.sort();
        format!("{checked} of {} checked, {}", s.len(), stamps.join(","))
    }

    /// Asks Nagios to check a service now (external command).
    pub fn check_now(&self, host: &str, service: &str) -> Result<()> {
        use std::io::Write;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)?
            .as_secs();
        let mut pipe = std::fs::OpenOptions::new()
            .write(true)
            .open(self.dir.join("nagios.cmd"))?;
        writeln!(
            pipe,
            "[{now}] SCHEDULE_FORCED_SVC_CHECK;{host};{service};{now}"
        )?;
        Ok(())
    }
}

/// Parses `servicestatus { ... }` blocks of a Nagios status file.
pub fn parse_status(text: &str) -> Vec<ServiceStatus> {
    let mut out = Vec::new();
    let mut fields: Option<HashMap<String, String>> = None;
    for line in text.lines() {
        let line = line.trim();
        if line == "servicestatus {" {
            fields = Some(HashMap::new());
        } else if line == "}" {
            if let Some(f) = fields.take() {
                let get = |k: &str| f.get(k).cloned().unwrap_or_default();
                out.push(ServiceStatus {
                    host: get("host_name"),
                    service: get("service_description"),
                    state: get("current_state").parse().unwrap_or(-1),
                    checked: get("has_been_checked") == "1",
                    output: get("plugin_output"),
                    long_output: get("long_plugin_output").replace("\\n", "\n"),
                    perfdata: get("performance_data"),
                    last_check: get("last_check"),
                });
            }
        } else if let (Some(f), Some((k, v))) = (fields.as_mut(), line.split_once('=')) {
            f.insert(k.to_string(), v.to_string());
        }
    }
    out
}

/// An Icinga 2 instance with the shipped CheckCommands: its own directories, run as root, a
/// PerfdataWriter recording each check's state, output and perfdata.
pub struct Icinga {
    pub dir: PathBuf,
    _daemon: Daemon,
}

impl Icinga {
    fn defines(dir: &Path) -> Vec<String> {
        let d = dir.display();
        vec![
            format!("-DConfiguration.CacheDir={d}/cache"),
            format!("-DConfiguration.DataDir={d}/data"),
            format!("-DConfiguration.LogDir={d}/log"),
            format!("-DConfiguration.InitRunDir={d}/run"),
            "-DConfiguration.RunAsUser=root".into(),
            "-DConfiguration.RunAsGroup=root".into(),
        ]
    }

    /// Writes `icinga2.conf` with the Template Library as Debian's icinga2.conf includes it, the
    /// shipped CheckCommands, `objects`, the checker and the
    /// PerfdataWriter; returns its path.
    pub fn config(dir: &Path, plugins: &Path, objects: &str) -> Result<PathBuf> {
        for sub in ["cache", "data", "log", "run/icinga2", "spool"] {
            std::fs::create_dir_all(dir.join(sub))?;
        }
        let conf = dir.join("icinga2.conf");
        std::fs::write(
            &conf,
            format!(
                "const PluginDir = \"/usr/lib/nagios/plugins\"\n\
                 const ManubulonPluginDir = \"/usr/lib/nagios/plugins\"\n\
                 const PluginContribDir = \"{plugins}\"\n\
                 include <itl>\ninclude <plugins>\ninclude <plugins-contrib>\ninclude <manubulon>\n\
                 include <windows-plugins>\ninclude <nscp>\n\
                 include \"{repo}/nagios/icinga2/*.conf\"\n\
                 object CheckerComponent \"checker\" {{ }}\n\
                 object PerfdataWriter \"perfdata\" {{\n  host_perfdata_path = \"{d}/spool/host\"\n  \
                 service_perfdata_path = \"{d}/spool/service\"\n  rotation_interval = 1s\n  \
                 service_format_template = \"SERVICE::$service.name$\\tSTATE::$service.state$\\tOUTPUT::$service.output$\\tPERF::$service.perfdata$\"\n}}\n\
                 {objects}\n",
                plugins = plugins.display(),
                repo = repo().display(),
                d = dir.display(),
            ),
        )?;
        Ok(conf)
    }

    /// `icinga2 daemon -C`: Ok with its output when the configuration is accepted.
    pub fn validate(dir: &Path, conf: &Path) -> Result<String> {
        let out = Command::new("/usr/sbin/icinga2")
            .args(["daemon", "-C", "-c"])
            .arg(conf)
            .args(Self::defines(dir))
            .output()?;
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        if !out.status.success() {
            bail!("icinga2 daemon -C refused the configuration:\n{text}");
        }
        Ok(text)
    }

    pub fn start(dir: &Path, conf: &Path) -> Result<Icinga> {
        let log = std::fs::File::create(dir.join("icinga2.out"))?;
        let mut cmd = Command::new("/usr/sbin/icinga2");
        cmd.args(["daemon", "-c"])
            .arg(conf)
            .args(Self::defines(dir))
            .stdout(log.try_clone()?)
            .stderr(log);
        Ok(Icinga {
            dir: dir.to_path_buf(),
            _daemon: Daemon::spawn(&mut cmd)?,
        })
    }

    /// The latest result per service the PerfdataWriter recorded: (state, output, perfdata).
    pub fn results(&self) -> HashMap<String, (String, String, String)> {
        let mut out = HashMap::new();
        let mut files: Vec<PathBuf> = std::fs::read_dir(self.dir.join("spool"))
            .map(|d| d.flatten().map(|e| e.path()).collect())
            .unwrap_or_default();
        files.sort();
        for f in files
            .iter()
            .filter(|f| f.to_string_lossy().contains("/service"))
        {
            let text = std::fs::read_to_string(f).unwrap_or_default();
            // One record per check; an output with long output spans several lines.
            for record in text.split("SERVICE::").filter(|r| !r.trim().is_empty()) {
                let field = |k: &str| {
                    record
                        .split('\t')
                        .find_map(|p| p.strip_prefix(k))
                        .unwrap_or("")
                        .trim_end_matches('\n')
                        .to_string()
                };
                let name = record.split('\t').next().unwrap_or("").to_string();
                out.insert(name, (field("STATE::"), field("OUTPUT::"), field("PERF::")));
            }
        }
        out
    }
}

/// OpenSSH's sshd on loopback, for the Zulip commands that run their plugin on the monitored
/// host through `check_by_ssh`: one daemon per address (the same port), each with its own
/// environment for the commands it runs (`SetEnv`: the host's database, as `PGHOST`/`PGPORT`),
/// a key that only this test knows, and root logins by that key only. Nagios starts dozens of
/// checks at once: sshd takes all their handshakes (`MaxStartups`), as a monitored host must.
pub struct Sshd {
    /// The port every address listens on.
    pub port: u16,
    /// The client's private key (`check_by_ssh -i`).
    pub key: PathBuf,
    _daemons: Vec<Daemon>,
}

impl Sshd {
    /// Starts sshd on each `(address, environment)`.
    pub fn start(dir: &Path, listeners: &[(&str, Vec<(String, String)>)]) -> Result<Sshd> {
        std::fs::create_dir_all(dir)?;
        // sshd's privilege separation directory (Debian's package creates it at boot).
        std::fs::create_dir_all("/run/sshd")?;
        let key = dir.join("client_key");
        let host_key = dir.join("host_key");
        for k in [&key, &host_key] {
            let out = Command::new("ssh-keygen")
                .args(["-q", "-t", "ed25519", "-N", "", "-f"])
                .arg(k)
                .output()?;
            if !out.status.success() {
                bail!("ssh-keygen: {}", String::from_utf8_lossy(&out.stderr));
            }
        }
        std::fs::copy(key.with_extension("pub"), dir.join("authorized_keys"))?;
        let port = free_port()?;
        let mut daemons = Vec::new();
        for (address, env) in listeners {
            let setenv: Vec<String> = env.iter().map(|(k, v)| format!("{k}={v}")).collect();
            let cfg = dir.join(format!("sshd_config-{address}"));
            std::fs::write(
                &cfg,
                format!(
                    "Port {port}\nListenAddress {address}\nHostKey {hk}\nPidFile {d}/sshd-{address}.pid\n\
                     AuthorizedKeysFile {d}/authorized_keys\nStrictModes no\nPermitRootLogin prohibit-password\n\
                     PubkeyAuthentication yes\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n\
                     UsePAM no\nX11Forwarding no\nPrintMotd no\nLogLevel ERROR\nMaxStartups 1000\nSetEnv {}\n",
                    setenv.join(" "),
                    hk = host_key.display(),
                    d = dir.display(),
                ),
            )?;
            let log = std::fs::File::create(dir.join(format!("sshd-{address}.log")))?;
            daemons.push(Daemon::spawn(
                Command::new("/usr/sbin/sshd")
                    .args(["-D", "-e", "-f"])
                    .arg(&cfg)
                    .stdout(Stdio::null())
                    .stderr(log),
            )?);
            wait_until(
                &format!("sshd on {address}:{port}"),
                Duration::from_secs(30),
                || std::net::TcpStream::connect((*address, port)).ok(),
            )?;
        }
        Ok(Sshd {
            port,
            key,
            _daemons: daemons,
        })
    }

    /// `$USER2$` of zulip-resource.cfg for this daemon: check_by_ssh as root with the test's
    /// key and port (`-o Port=` comes first, so it wins over the `-p 22` of Zulip's commands).
    pub fn transport(&self, plugins: &Path) -> String {
        format!(
            "{}/check_by_ssh -l root -t 30 -i {} -o Port={} -o StrictHostKeyChecking=no \
             -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR",
            plugins.display(),
            self.key.display(),
            self.port
        )
    }
}

/// Debian's node_exporter with only its textfile collector, reading `textfiles`, on loopback.
pub struct NodeExporter {
    /// Its listening port.
    pub port: u16,
    _daemon: Daemon,
}

impl NodeExporter {
    /// Starts it; returns once it answers.
    pub fn start(dir: &Path, textfiles: &Path) -> Result<NodeExporter> {
        let port = free_port()?;
        let log = std::fs::File::create(dir.join("node_exporter.log"))?;
        let daemon = Daemon::spawn(
            Command::new("/usr/bin/prometheus-node-exporter")
                .args(["--collector.disable-defaults", "--collector.textfile"])
                .arg(format!(
                    "--collector.textfile.directory={}",
                    textfiles.display()
                ))
                .arg(format!("--web.listen-address=127.0.0.1:{port}"))
                .stdout(Stdio::null())
                .stderr(log),
        )?;
        wait_until("node_exporter to answer", Duration::from_secs(30), || {
            custos_harness::util::http("GET", port, "/metrics", ("", ""), "")
                .ok()
                .filter(|(status, _)| *status == 200)
        })?;
        Ok(NodeExporter {
            port,
            _daemon: daemon,
        })
    }

    /// Its metrics page.
    pub fn scrape(&self) -> Result<String> {
        let (status, body) =
            custos_harness::util::http("GET", self.port, "/metrics", ("", ""), "")?;
        if status != 200 {
            bail!("node_exporter answered {status}");
        }
        Ok(body)
    }
}

/// Debian's Prometheus on loopback, scraping `target` every second and evaluating `rules`
/// every second, with its own data directory.
pub struct Prometheus {
    /// Its listening port.
    pub port: u16,
    _daemon: Daemon,
}

impl Prometheus {
    /// Starts it; returns once it is ready.
    pub fn start(dir: &Path, target: u16, rules: &Path) -> Result<Prometheus> {
        let port = free_port()?;
        let cfg = dir.join("prometheus.yml");
        std::fs::write(
            &cfg,
            format!(
                "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n\
                 rule_files:\n  - {}\nscrape_configs:\n  - job_name: node\n    static_configs:\n\
                 \x20     - targets: ['127.0.0.1:{target}']\n",
                rules.display()
            ),
        )?;
        let check = Command::new("/usr/bin/promtool")
            .args(["check", "config"])
            .arg(&cfg)
            .output()?;
        if !check.status.success() {
            bail!(
                "promtool check config: {}{}",
                String::from_utf8_lossy(&check.stdout),
                String::from_utf8_lossy(&check.stderr)
            );
        }
        let log = std::fs::File::create(dir.join("prometheus.log"))?;
        let daemon = Daemon::spawn(
            Command::new("/usr/bin/prometheus")
                .arg(format!("--config.file={}", cfg.display()))
                .arg(format!(
                    "--storage.tsdb.path={}",
                    dir.join("data").display()
                ))
                .arg(format!("--web.listen-address=127.0.0.1:{port}"))
                .stdout(Stdio::null())
                .stderr(log),
        )?;
        wait_until("Prometheus to be ready", Duration::from_secs(60), || {
            custos_harness::util::http("GET", port, "/-/ready", ("", ""), "")
                .ok()
                .filter(|(status, _)| *status == 200)
        })?;
        Ok(Prometheus {
            port,
            _daemon: daemon,
        })
    }

    /// A GET on its API: the JSON body.
    pub fn api(&self, path_and_query: &str) -> Result<String> {
        let (status, body) =
            custos_harness::util::http("GET", self.port, path_and_query, ("", ""), "")?;
        if status != 200 {
            bail!("Prometheus answered {status} to {path_and_query}: {body}");
        }
        Ok(body)
    }
}
