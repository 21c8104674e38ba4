//! `custos-harness run [--] COMMAND...`: start the test servers, run COMMAND with `CUSTOS_*`
//! variables pointing at them, stop the servers, exit with COMMAND's status.
//!
//! Under `run` (for `make demo` and `make bench`), real AMQP traffic on the test broker:
//! `custos-harness publish VHOST QUEUE N` (into a fresh queue), `custos-harness consume VHOST QUEUE SECONDS` (holds
//! one consumer), `custos-harness declare-queues VHOST PREFIX N`, `custos-harness wait VHOST
//! QUEUE MESSAGES CONSUMERS` (until the management API's statistics show them).
//!
//! For `make bench`: `custos-harness procs N MARKER` forks N idle children (sharing the
//! parent's pages, so 5,000 of them cost little memory) whose command line carries MARKER,
//! prints `ready`, and ends them all when its standard input closes.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

use anyhow::{Context as _, Result};
use custos_harness::{guard::Guard, make_base, start_all};
use std::process::Command;
use std::time::Instant;

fn run(cmd: &[String]) -> Result<i32> {
    let started = Instant::now();
    let base = make_base()?;
    let guard = Guard::new(&base)?;
    let services = match start_all(&base, &guard) {
        Ok(s) => s,
        Err(e) => {
            let _ = guard.cleanup();
            return Err(e);
        }
    };
    let json = base.join("services.json");
    std::fs::write(&json, serde_json::to_string_pretty(&services)?)?;
    // The Zulip test server lives in this process, for make demo, make bench and the daemons'
    // tests (the check's own tests start theirs, with their knobs).
    let bots = [
        ("nagios-send-bot@zulip.test", "custos-send-key"),
        ("nagios-receive-bot@zulip.test", "custos-receive-key"),
    ];
    let zulip = custos_harness::zulip::ZulipServer::start(&bots);
    eprintln!(
        "custos-harness: PostgreSQL primary :{} replica :{}, RabbitMQ amqp :{} api :{}, nginx :{} :{} (ready in {:.1}s, in {})",
        services.postgres.as_ref().map_or(0, |p| p.primary_port),
        services.postgres.as_ref().map_or(0, |p| p.replica_port),
        services.rabbitmq.as_ref().map_or(0, |r| r.amqp_port),
        services.rabbitmq.as_ref().map_or(0, |r| r.api_port),
        services.nginx.as_ref().map_or(0, |n| n.http_port),
        services.nginx.as_ref().map_or(0, |n| n.https_port),
        started.elapsed().as_secs_f64(),
        base.display()
    );
    let status = Command::new(&cmd[0])
        .args(&cmd[1..])
        .envs(services.env_vars(&json))
        .env("CUSTOS_ZULIP_SITE", &zulip.url)
        .env("CUSTOS_ZULIP_SENDER_EMAIL", bots[0].0)
        .env("CUSTOS_ZULIP_SENDER_KEY", bots[0].1)
        .env("CUSTOS_ZULIP_RECEIVER_EMAIL", bots[1].0)
        .env("CUSTOS_ZULIP_RECEIVER_KEY", bots[1].1)
        .status()
        .with_context(|| format!("running {}", cmd[0]));
    let stop = Instant::now();
    let groups = guard.cleanup()?;
    // Nothing of the servers may outlive the run: a leftover fails it, loudly.
    let left = custos_harness::guard::leftovers(&base, &groups);
    if !left.is_empty() {
        for (pid, cmd) in &left {
            eprintln!("custos-harness: LEFT RUNNING after cleanup: pid {pid}: {cmd}");
        }
        anyhow::bail!(
            "{} process(es) of the test servers survived the cleanup (see above)",
            left.len()
        );
    }
    eprintln!(
        "custos-harness: servers stopped and {} removed, no process left ({:.1}s)",
        base.display(),
        stop.elapsed().as_secs_f64()
    );
    Ok(status?.code().unwrap_or(1))
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("run") => {
            let rest: Vec<String> = args[1..]
                .iter()
                .skip_while(|a| *a == "--")
                .cloned()
                .collect();
            if rest.is_empty() {
                Err(anyhow::anyhow!(
                    "usage: custos-harness run [--] COMMAND [ARGS...]"
                ))
            } else {
                run(&rest)
            }
        }
        // For make demo and make bench, under `custos-harness run`: real AMQP traffic.
        Some("wait") if args.len() == 5 => (|| -> Result<i32> {
            let r = custos_harness::rabbitmq();
            r.wait_for(&args[1], &args[2], args[3].parse()?, args[4].parse()?)?;
            Ok(0)
        })(),
        Some(verb @ ("publish" | "consume" | "declare-queues")) if args.len() == 4 => {
            (|| -> Result<i32> {
                let r = custos_harness::rabbitmq();
                let (vhost, queue, n) = (&args[1], &args[2], &args[3]);
                r.add_vhost(vhost)?;
                let amqp = r.amqp(vhost)?;
                match verb {
                    "publish" => {
                        r.fresh_queue(vhost, queue)?;
                        amqp.publish(queue, n.parse()?)?;
                    }
                    "declare-queues" => amqp.declare_many(queue, n.parse()?)?,
                    _ => {
                        // Holds one consumer on the queue for N seconds.
                        let _c = amqp.consume(queue)?;
                        std::thread::sleep(std::time::Duration::from_secs(n.parse()?));
                    }
                }
                Ok(0)
            })()
        }
        Some("procs") if args.len() == 3 => (|| -> Result<i32> {
            let n: usize = args[1].parse()?;
            let mut children = Vec::with_capacity(n);
            for _ in 0..n {
                // SAFETY: the child only calls async-signal-safe functions (prctl, pause, _exit).
                let pid = unsafe { libc::fork() };
                match pid {
                    -1 => anyhow::bail!("fork: {}", std::io::Error::last_os_error()),
                    0 => unsafe {
                        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                        loop {
                            libc::pause();
                        }
                    },
                    pid => children.push(pid),
                }
            }
            println!("ready");
            let mut sink = String::new();
            let _ = std::io::stdin().read_line(&mut sink);
            for pid in &children {
                // SAFETY: plain syscalls on our own children.
                unsafe {
                    libc::kill(*pid, libc::SIGKILL);
                }
            }
            for pid in &children {
                unsafe {
                    libc::waitpid(*pid, std::ptr::null_mut(), 0);
                }
            }
            Ok(0)
        })(),
        // For make bench: N more streaming replicas of the run's primary, held until stdin
        // closes (then stopped, whatever happens, by this process' guard).
        Some("replicas") if args.len() == 2 => (|| -> Result<i32> {
            let n: usize = args[1].parse()?;
            let pg = custos_harness::postgres();
            for i in 0..n {
                custos_harness::add_replica(pg, &format!("bench_replica{i}"));
            }
            println!("ready");
            let mut sink = String::new();
            let _ = std::io::stdin().read_line(&mut sink);
            Ok(0)
        })(),
        // For the harness' own tests: a guard whose owner dies without cleaning up.
        Some("guard-selftest") if args.len() == 2 => (|| -> Result<i32> {
            let base = std::path::PathBuf::from(&args[1]);
            let guard = Guard::new(&base)?;
            let marker = base.with_extension("cleaned");
            guard.on_cleanup(&format!("touch '{}'", marker.display()))?;
            std::mem::forget(guard);
            std::process::abort()
        })(),
        _ => Err(anyhow::anyhow!(
            "usage: custos-harness run [--] COMMAND [ARGS...]"
        )),
    };
    match result {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            eprintln!("custos-harness: {e:#}");
            std::process::exit(2)
        }
    }
}
