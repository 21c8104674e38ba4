//! Icinga 2 across machines: a master and an agent, two Icinga 2 instances on loopback (their
//! own configuration, data and run directories, API ports, and certificates made with
//! `icinga2 pki`), the shipped CheckCommands in a global zone the master syncs to the agent,
//! and services that run on the agent (`command_endpoint`) against the test servers. The
//! master records the states and perfdata; its API says the agent ran them.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

use custos_daemons::{plugin_dir, repo};
use custos_harness::util::{free_port, wait_until};
use plugin_core::Perfdata;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// An Icinga 2 instance's directories and `-D` constants.
struct Node {
    name: &'static str,
    dir: PathBuf,
}

impl Node {
    fn new(base: &Path, name: &'static str) -> Node {
        let dir = base.join(name);
        for sub in [
            "etc/zones.d",
            "lib/certs",
            "log",
            "cache",
            "spool",
            "run/icinga2",
        ] {
            std::fs::create_dir_all(dir.join(sub)).unwrap();
        }
        Node { name, dir }
    }

    fn defines(&self) -> Vec<String> {
        let d = self.dir.display();
        vec![
            format!("-DNodeName={}", self.name),
            format!("-DConfigDir={d}/etc"),
            format!("-DZonesDir={d}/etc/zones.d"),
            format!("-DDataDir={d}/lib"),
            format!("-DLogDir={d}/log"),
            format!("-DCacheDir={d}/cache"),
            format!("-DSpoolDir={d}/spool"),
            format!("-DInitRunDir={d}/run"),
            "-DRunAsUser=root".into(),
            "-DRunAsGroup=root".into(),
        ]
    }

    fn icinga2(&self, args: &[&str]) -> String {
        let out = Command::new("/usr/sbin/icinga2")
            .args(args)
            .args(self.defines())
            .output()
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.status.success(), "icinga2 {args:?}: {text}");
        text
    }

    fn start(&self) -> Daemon {
        let log = std::fs::File::create(self.dir.join("icinga2.out")).unwrap();
        let child = Command::new("/usr/sbin/icinga2")
            .args(["daemon", "-c"])
            .arg(self.dir.join("etc/icinga2.conf"))
            .args(self.defines())
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .process_group(0)
            .spawn()
            .unwrap();
        Daemon(child)
    }
}

/// A daemon's process group, killed when dropped.
struct Daemon(Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        // SAFETY: kill(2) on the group the daemon leads.
        unsafe { libc::kill(-(self.0.id() as i32), libc::SIGKILL) };
        let _ = self.0.wait();
    }
}

/// The master's API: services with their last check results.
fn services(port: u16) -> serde_json::Value {
    let out = Command::new("curl")
        .args([
            "-sk",
            "-u",
            "root:custos-test",
            "-H",
            "Accept: application/json",
        ])
        .arg(format!(
            "https://127.0.0.1:{port}/v1/objects/services?attrs=last_check_result&attrs=state"
        ))
        .output()
        .unwrap();
    serde_json::from_slice(&out.stdout).unwrap_or(serde_json::Value::Null)
}

#[test]
fn services_run_on_the_agent_and_the_master_records_them() {
    let base = tempfile::tempdir().unwrap();
    let plugins = plugin_dir(base.path()).unwrap();
    let master = Node::new(base.path(), "master");
    let agent = Node::new(base.path(), "agent");
    let (master_port, agent_port) = (free_port().unwrap(), free_port().unwrap());

    // Certificates: the master's CA signs both nodes' certificates (icinga2 pki).
    master.icinga2(&["pki", "new-ca"]);
    for node in [&master, &agent] {
        let certs = node.dir.join("lib/certs");
        let (key, csr, crt) = (
            certs.join(format!("{}.key", node.name)),
            certs.join(format!("{}.csr", node.name)),
            certs.join(format!("{}.crt", node.name)),
        );
        master.icinga2(&[
            "pki",
            "new-cert",
            "--cn",
            node.name,
            "--key",
            key.to_str().unwrap(),
            "--csr",
            csr.to_str().unwrap(),
        ]);
        master.icinga2(&[
            "pki",
            "sign-csr",
            "--csr",
            csr.to_str().unwrap(),
            "--cert",
            crt.to_str().unwrap(),
        ]);
        std::fs::copy(master.dir.join("lib/ca/ca.crt"), certs.join("ca.crt")).unwrap();
    }
    let verified = agent.icinga2(&[
        "pki",
        "verify",
        "--cn",
        "agent",
        "--cert",
        agent.dir.join("lib/certs/agent.crt").to_str().unwrap(),
        "--cacert",
        agent.dir.join("lib/certs/ca.crt").to_str().unwrap(),
    ]);
    assert!(
        verified.contains("OK: CN 'agent' matches certificate CN 'agent'"),
        "{verified}"
    );

    // What both nodes share: the plugins, the zones and endpoints (the agent connects).
    let common = base.path().join("common.conf");
    std::fs::write(
        &common,
        format!(
            "const PluginDir = \"{p}\"\nconst ManubulonPluginDir = \"{p}\"\nconst PluginContribDir = \"{p}\"\n\
             const ZoneName = NodeName\nconst TicketSalt = \"\"\n\
             include <itl>\ninclude <plugins>\ninclude <plugins-contrib>\n\
             object FileLogger \"main-log\" {{ severity = \"information\"; path = LogDir + \"/icinga2.log\" }}\n\
             object Endpoint \"master\" {{ host = \"127.0.0.1\"; port = {master_port} }}\n\
             object Endpoint \"agent\" {{ }}\n\
             object Zone \"master\" {{ endpoints = [ \"master\" ] }}\n\
             object Zone \"agent\" {{ endpoints = [ \"agent\" ]; parent = \"master\" }}\n\
             object Zone \"global-templates\" {{ global = true }}\n",
            p = plugins.display()
        ),
    )
    .unwrap();
    let api = |port: u16, accept_config: bool| {
        format!(
            "include \"{}\"\nobject CheckerComponent \"checker\" {{ }}\n\
             object ApiListener \"api\" {{ bind_host = \"127.0.0.1\"; bind_port = {port}; \
             accept_commands = true; accept_config = {accept_config} }}\n",
            common.display()
        )
    };
    std::fs::write(
        master.dir.join("etc/icinga2.conf"),
        api(master_port, false)
            + "object ApiUser \"root\" { password = \"custos-test\"; permissions = [ \"*\" ] }\n",
    )
    .unwrap();
    std::fs::write(agent.dir.join("etc/icinga2.conf"), api(agent_port, true)).unwrap();

    // The shipped CheckCommands in the global zone (the master syncs them to the agent).
    let global = master.dir.join("etc/zones.d/global-templates");
    std::fs::create_dir_all(&global).unwrap();
    for e in std::fs::read_dir(repo().join("nagios/icinga2")).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), global.join(e.file_name())).unwrap();
    }
    // The services, in the master's zone, each run on the agent.
    let pg = custos_harness::postgres();
    let r = custos_harness::rabbitmq();
    r.add_vhost("icinga-agent").unwrap();
    r.fresh_queue("icinga-agent", "deferred_work").unwrap();
    let amqp = r.amqp("icinga-agent").unwrap();
    let _consumer = amqp.consume("deferred_work").unwrap();
    r.wait_for("icinga-agent", "deferred_work", 0, 1).unwrap();
    let web = custos_harness::nginx();
    let state = base.path().join("cron-state");
    std::fs::write(
        &state,
        format!("{}|0|OK|queues normal\n", plugin_core::unix_now() as i64),
    )
    .unwrap();
    let hosts = master.dir.join("etc/zones.d/master");
    std::fs::create_dir_all(&hosts).unwrap();
    std::fs::write(
        hosts.join("agent.conf"),
        format!(
            "object Host \"agent\" {{ check_command = \"dummy\"; vars.dummy_state = 0; check_interval = 10s }}\n\
             template Service \"on-agent\" {{ host_name = \"agent\"; command_endpoint = \"agent\"; check_interval = 2s; retry_interval = 2s }}\n\
             object Service \"website\" {{ import \"on-agent\"; check_command = \"website_response\"; vars.website_response_url = \"{url}\" }}\n\
             object Service \"postgres\" {{ import \"on-agent\"; check_command = \"custos_postgres\"; vars.custos_postgres_host = \"{sock}\"; \
             vars.custos_postgres_port = \"{port}\"; vars.custos_postgres_user = \"{user}\"; vars.custos_postgres_dbname = \"{db}\"; \
             vars.custos_postgres_action = \"connection,backends\" }}\n\
             object Service \"consumers\" {{ import \"on-agent\"; check_command = \"rabbitmq_consumers\"; vars.rabbitmq_consumers_api_url = \"{api}\"; \
             vars.rabbitmq_consumers_user = \"{ruser}\"; vars.rabbitmq_consumers_password = \"{rpw}\"; vars.rabbitmq_consumers_vhost = \"icinga-agent\" }}\n\
             object Service \"cron\" {{ import \"on-agent\"; check_command = \"cron_file\"; vars.cron_file_file = \"{state}\"; vars.cron_file_max_age = \"1h\" }}\n",
            url = web.http_url("/"),
            sock = pg.socket_dir.display(),
            port = pg.primary_port,
            user = pg.user,
            db = pg.dbname,
            api = r.api_url(),
            ruser = r.user,
            rpw = r.password,
            state = state.display(),
        ),
    )
    .unwrap();
    let checked = master.icinga2(&[
        "daemon",
        "-C",
        "-c",
        master.dir.join("etc/icinga2.conf").to_str().unwrap(),
    ]);
    assert!(
        checked.contains("Finished validating the configuration"),
        "{checked}"
    );

    // The master first (so the agent's first connection succeeds), then the agent.
    let _m = master.start();
    wait_until("the master's API", Duration::from_secs(60), || {
        std::net::TcpStream::connect(("127.0.0.1", master_port)).ok()
    })
    .unwrap();
    let _a = agent.start();
    let names = ["website", "postgres", "consumers", "cron"];
    let results = wait_until(
        "every service checked on the agent",
        Duration::from_secs(180),
        || {
            let v = services(master_port);
            let all: Vec<&serde_json::Value> = v["results"].as_array()?.iter().collect();
            let done: Vec<(String, serde_json::Value)> = all
                .iter()
                .filter(|s| s["attrs"]["last_check_result"]["check_source"] == "agent")
                // Until the agent has the global zone, its results say the command is unknown.
                .filter(|s| {
                    !s["attrs"]["last_check_result"]["output"]
                        .as_str()
                        .unwrap_or("")
                        .starts_with("Check command ")
                })
                .map(|s| {
                    (
                        s["name"].as_str().unwrap_or("").to_string(),
                        s["attrs"]["last_check_result"].clone(),
                    )
                })
                .collect();
            (done.len() == names.len()).then_some(done)
        },
    )
    .unwrap_or_else(|e| {
        panic!(
            "{e}\nmaster: {}\nagent: {}",
            std::fs::read_to_string(master.dir.join("log/icinga2.log")).unwrap_or_default(),
            std::fs::read_to_string(agent.dir.join("log/icinga2.log")).unwrap_or_default()
        )
    });
    for (service, state, start) in [
        ("website", 0, "WEBSITE_RESPONSE OK - HTTP/1.1 200 OK"),
        ("postgres", 0, "POSTGRES OK - "),
        (
            "consumers",
            0,
            "RABBITMQ_CONSUMERS OK - queue deferred_work has 1 consumers, needs 1",
        ),
        ("cron", 0, "OK: queues normal"),
    ] {
        let (_, cr) = results
            .iter()
            .find(|(n, _)| n == &format!("agent!{service}"))
            .unwrap_or_else(|| panic!("no {service} in {results:?}"));
        let output = cr["output"].as_str().unwrap_or("");
        assert_eq!(
            cr["state"].as_f64(),
            Some(f64::from(state)),
            "{service}: {cr}"
        );
        assert!(output.starts_with(start), "{service}: {cr}");
        assert!(!output.contains(&r.password), "{service}: {cr}");
        let perf: Vec<&str> = cr["performance_data"]
            .as_array()
            .map(|a| a.iter().filter_map(|p| p.as_str()).collect())
            .unwrap_or_default();
        assert!(!perf.is_empty(), "{service}: {cr}");
        Perfdata::parse_list(&perf.join(" ")).unwrap_or_else(|e| panic!("{service}: {e}: {cr}"));
    }
    // The agent has the global zone's commands, synced from the master.
    assert!(agent
        .dir
        .join("lib/api/zones/global-templates/_etc/custos_postgres.conf")
        .exists());
}
