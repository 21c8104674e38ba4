//! The harness' servers are real: connect, query, stream, archive, speak AMQP.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

fn wait<T>(what: &str, secs: u64, mut f: impl FnMut() -> Option<T>) -> T {
    custos_harness::util::wait_until(what, Duration::from_secs(secs), &mut f).unwrap()
}

#[test]
fn postgres_replica_really_streams() {
    let pg = custos_harness::postgres();
    assert_ne!(pg.primary_port, 5432);
    let mut primary = pg.client(false).unwrap();
    let mut replica = pg.client(true).unwrap();
    let in_recovery = |c: &mut postgres::Client| {
        c.query_one("SELECT pg_is_in_recovery()", &[])
            .unwrap()
            .get::<_, bool>(0)
    };
    assert!(!in_recovery(&mut primary));
    assert!(in_recovery(&mut replica));

    let token = format!("smoke-{}-{:?}", std::process::id(), Instant::now());
    primary
        .batch_execute("CREATE TABLE IF NOT EXISTS harness_smoke (token text)")
        .unwrap();
    primary
        .execute("INSERT INTO harness_smoke VALUES ($1)", &[&token])
        .unwrap();
    wait("the row on the replica", 20, || {
        replica
            .query_opt("SELECT 1 FROM harness_smoke WHERE token = $1", &[&token])
            .ok()
            .flatten()
    });
    let row = primary
        .query_one(
            "SELECT state, application_name FROM pg_stat_replication",
            &[],
        )
        .unwrap();
    assert_eq!(row.get::<_, String>(0), "streaming");
    assert_eq!(row.get::<_, String>(1), "custos_replica");
    let receiver: String = replica
        .query_one("SELECT status FROM pg_stat_wal_receiver", &[])
        .unwrap()
        .get(0);
    assert_eq!(receiver, "streaming");
}

#[test]
fn postgres_archives_wal_to_the_directory() {
    let pg = custos_harness::postgres();
    let mut primary = pg.client(false).unwrap();
    primary
        .batch_execute(
            "CREATE TABLE IF NOT EXISTS harness_wal (x int); INSERT INTO harness_wal VALUES (1)",
        )
        .unwrap();
    let segment: String = primary
        .query_one("SELECT pg_walfile_name(pg_current_wal_lsn())", &[])
        .unwrap()
        .get(0);
    primary.query_one("SELECT pg_switch_wal()", &[]).unwrap();
    wait("the WAL segment in the archive", 30, || {
        pg.archive_dir.join(&segment).exists().then_some(())
    });
    let archived: i64 = primary
        .query_one("SELECT archived_count FROM pg_stat_archiver", &[])
        .unwrap()
        .get(0);
    assert!(archived >= 1);
}

#[test]
fn postgres_unix_socket_and_password_rules() {
    let pg = custos_harness::postgres();
    // Unix socket: trust, as Zulip's nagios role connects.
    let sock = format!(
        "host={} port={} user={} dbname=postgres",
        pg.socket_dir.display(),
        pg.primary_port,
        pg.user
    );
    let mut c = postgres::Client::connect(&sock, postgres::NoTls).unwrap();
    assert_eq!(c.query_one("SELECT 1", &[]).unwrap().get::<_, i32>(0), 1);
    // TCP needs the password.
    let wrong = format!(
        "host=127.0.0.1 port={} user={} password=wrong dbname=postgres",
        pg.primary_port, pg.user
    );
    let err = match postgres::Client::connect(&wrong, postgres::NoTls) {
        Ok(_) => panic!("a wrong password must be refused"),
        Err(e) => e,
    };
    assert!(
        err.to_string().contains("password") || format!("{err:?}").contains("28P01"),
        "{err:?}"
    );
}

#[test]
fn rabbitmq_speaks_amqp_and_management_api() {
    let r = custos_harness::rabbitmq();
    assert_ne!(r.amqp_port, 5672);
    assert!(r.nodename.starts_with("custos"));
    // AMQP 0-9-1: after the protocol header the server sends Connection.Start (class 10, method 10).
    let mut s = TcpStream::connect(("127.0.0.1", r.amqp_port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(b"AMQP\x00\x00\x09\x01").unwrap();
    let mut frame = [0u8; 11];
    s.read_exact(&mut frame).unwrap();
    assert_eq!(frame[0], 1, "method frame");
    assert_eq!(&frame[7..11], &[0, 10, 0, 10], "Connection.Start");

    let (status, body) = r.api("GET", "/api/overview", "").unwrap();
    assert_eq!(status, 200);
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["node"], r.nodename.as_str());
    // Create a queue through the API, see it through rabbitmqctl.
    let (status, _) = r
        .api(
            "PUT",
            "/api/queues/%2F/harness-smoke",
            r#"{"durable":false}"#,
        )
        .unwrap();
    assert!(status == 201 || status == 204, "status {status}");
    let listed = r.ctl(&["-q", "list_queues", "name"]).unwrap();
    assert!(
        listed.lines().any(|l| l.trim() == "harness-smoke"),
        "{listed}"
    );
    let (status, _) = r.api("GET", "/api/queues/%2F/harness-smoke", "").unwrap();
    assert_eq!(status, 200);
    let (denied, _) =
        custos_harness::util::http("GET", r.api_port, "/api/overview", (&r.user, "wrong"), "")
            .unwrap();
    assert_eq!(denied, 401);
}

#[test]
fn cleanup_runs_when_the_owner_dies() {
    let base = std::env::temp_dir().join(format!("custos-guard-selftest-{}", std::process::id()));
    std::fs::create_dir_all(&base).unwrap();
    std::fs::write(base.join("data"), "x").unwrap();
    let marker = base.with_extension("cleaned");
    let status = std::process::Command::new(env!("CARGO_BIN_EXE_custos-harness"))
        .arg("guard-selftest")
        .arg(&base)
        .status()
        .unwrap();
    assert!(!status.success(), "the owner aborts");
    wait("the watcher's cleanup", 10, || {
        (!base.exists() && marker.exists()).then_some(())
    });
    std::fs::remove_file(&marker).unwrap();
}

#[test]
fn nginx_serves_http_on_both_families_and_https() {
    let n = custos_harness::nginx();
    for host in ["127.0.0.1", "::1"] {
        let mut s = TcpStream::connect((host, n.http_port)).unwrap();
        s.write_all(b"GET /status/ HTTP/1.0\r\nHost: x\r\n\r\n")
            .unwrap();
        let mut reply = String::new();
        s.read_to_string(&mut reply).unwrap();
        assert!(reply.starts_with("HTTP/1.1 200 OK"), "{reply}");
        assert!(reply.contains("Checks running"), "{reply}");
    }
    // HTTPS picks the certificate by SNI, signed by the test CA.
    let out = std::process::Command::new("openssl")
        .args([
            "s_client",
            "-connect",
            &format!("127.0.0.1:{}", n.https_port),
        ])
        .args(["-servername", custos_harness::nginx::SOON_NAME, "-CAfile"])
        .arg(&n.ca_cert)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("CN = b.custos.test"), "{text}");
    assert!(text.contains("Verify return code: 0 (ok)"), "{text}");
}

#[test]
fn fault_servers_misbehave_as_told() {
    use custos_harness::faults::{Fault, FaultServer};
    let reset = FaultServer::start(Fault::Reset);
    let mut s = TcpStream::connect(("127.0.0.1", reset.port)).unwrap();
    s.write_all(b"GET / HTTP/1.0\r\n\r\n").unwrap();
    let mut buf = [0u8; 16];
    let err = s.read(&mut buf).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::ConnectionReset);

    let trickle = FaultServer::start(Fault::Trickle(b"HTTP/1.1 200 OK\r\n".to_vec()));
    let mut s = TcpStream::connect(("127.0.0.1", trickle.port)).unwrap();
    s.write_all(b"GET / HTTP/1.0\r\n\r\n").unwrap();
    let start = Instant::now();
    let mut got = Vec::new();
    while got.len() < 3 {
        let n = s.read(&mut buf).unwrap();
        got.extend_from_slice(&buf[..n]);
    }
    assert!(
        start.elapsed() >= Duration::from_millis(1900),
        "{:?}",
        start.elapsed()
    );
    drop(s);
    assert!(trickle.all_closed(Duration::from_secs(2)));
    assert_eq!(trickle.accepted(), 1);
}

/// A broker holding 10,000 queues (slow to stop, busy collecting statistics) is gone, with its
/// epmd and every process of it, once its guard cleans up; nothing names its directory after.
#[test]
fn a_broker_with_10000_queues_leaves_nothing_behind() {
    let base = custos_harness::make_base().unwrap();
    let guard = custos_harness::guard::Guard::new(&base).unwrap();
    let r = custos_harness::rabbitmq::start(&base, &guard).unwrap();
    let amqp = r.amqp("/").unwrap();
    amqp.declare_many("scale-", 10_000).unwrap();
    let (status, body) = r
        .api("GET", "/api/queues/%2F?columns=name&page=1&page_size=1", "")
        .unwrap();
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"total_count\":10000"), "{body}");
    assert!(
        !custos_harness::guard::leftovers(&base, &[]).is_empty(),
        "the broker runs before the cleanup"
    );
    drop(amqp);
    let stop = std::time::Instant::now();
    let groups = guard.cleanup().unwrap();
    let left = custos_harness::guard::leftovers(&base, &groups);
    assert!(left.is_empty(), "left running: {left:?}");
    assert!(!base.exists());
    eprintln!(
        "10,000-queue broker stopped, nothing left, in {:.1}s",
        stop.elapsed().as_secs_f64()
    );
}

/// Servers start in parallel and each adds its stop lines to the cleanup script: none may be
/// lost (a lost line left an nginx worker and an epmd running after a run), and the groups
/// they stop are known for the leftover check.
#[test]
fn cleanup_lines_added_at_once_are_all_kept() {
    let base = custos_harness::make_base().unwrap();
    let guard = custos_harness::guard::Guard::new(&base).unwrap();
    // Process groups above the kernel's PID_MAX_LIMIT (4,194,304): none can exist, so the
    // cleanup's kills reach nothing.
    const NONE: u32 = 4_194_400;
    std::thread::scope(|s| {
        for i in 0..32u32 {
            let guard = &guard;
            s.spawn(move || {
                guard
                    .on_cleanup(&custos_harness::guard::stop_group_line(NONE + i, "TERM"))
                    .unwrap()
            });
        }
    });
    let script = std::fs::read_to_string(base.join("cleanup.sh")).unwrap();
    for i in 0..32u32 {
        assert!(
            script.contains(&format!("kill -TERM -{}", NONE + i)),
            "{script}"
        );
    }
    let mut groups = guard.cleanup().unwrap();
    groups.sort_unstable();
    assert_eq!(groups, (0..32).map(|i| NONE + i).collect::<Vec<u32>>());
    assert!(!base.exists());
}
