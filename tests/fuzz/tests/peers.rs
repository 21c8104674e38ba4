//! Hostile peers for every networked check: each check that talks to a server (HTTP, the
//! PostgreSQL protocol, RabbitMQ's management API and AMQP, Zulip's API) is pointed at a peer
//! that misbehaves in one way, with `-t 2`:
//!
//! - silent: accepts and never answers;
//! - trickle: starts a plausible reply and sends one byte per second;
//! - cut: closes in the middle of a plausible reply;
//! - reset: resets the connection after the request;
//! - garbage: answers bytes of the wrong protocol, full of `|`, newlines, quotes, `=`, ANSI
//!   escapes and invalid UTF-8;
//! - huge: a 200 MB reply;
//! - unresolvable: a name in `.invalid`, which never resolves;
//! - and for HTTP(S) peers: a redirect loop, and TLS with a wrong name, an expired
//!   certificate and a self-signed one.
//!
//! Every case must end within `-t` + 0.5 s, exit with the state the README documents for it
//! (the `--timeout-result` state, UNKNOWN by default, at the deadline; CRITICAL when the
//! server cannot be reached or talked to; UNKNOWN for a reply that is not what the protocol
//! says), name the problem on line 1, keep line 1 whole and the perfdata strictly parseable,
//! print nothing on stderr and no secret, close the peer's connection, and leave no process
//! behind.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

use custos_fuzz::exec::{become_subreaper, binary, leftovers, repo, run};
use custos_harness::certs::{ServerCert, TestCa};
use custos_harness::faults::{Fault, FaultServer, TlsServer};
use custos_harness::plugin::perfdata_text;
use plugin_core::Perfdata;
use std::ffi::OsString;
use std::path::Path;
use std::time::Duration;

/// `-t` for every case.
const T: f64 = 2.0;
/// The bound past `-t`.
const SLACK: f64 = 0.5;
/// Secrets given to every check (environment and files); none may be printed.
const PASSWORD: &str = "Pg-Secret-7e1f0a";
const RABBIT_PASSWORD: &str = "Rabbit-Secret-93c2d4";
const ZULIP_KEY: &str = "Zulip-Key-51b7aa0c";

#[derive(Clone, Copy, PartialEq, Debug)]
enum Proto {
    Http,
    Pg,
    Amqp,
}

/// A check and how it is pointed at a peer.
struct Target {
    check: &'static str,
    proto: Proto,
}

const TARGETS: &[Target] = &[
    Target {
        check: "check_website_response",
        proto: Proto::Http,
    },
    Target {
        check: "check_rabbitmq_queues",
        proto: Proto::Http,
    },
    Target {
        check: "check_rabbitmq_consumers",
        proto: Proto::Http,
    },
    Target {
        check: "check_send_receive_time",
        proto: Proto::Http,
    },
    Target {
        check: "check_rabbitmq_queues",
        proto: Proto::Amqp,
    },
    Target {
        check: "check_rabbitmq_consumers",
        proto: Proto::Amqp,
    },
    Target {
        check: "check_postgres",
        proto: Proto::Pg,
    },
    Target {
        check: "check_postgres_replication_lag",
        proto: Proto::Pg,
    },
    Target {
        check: "check_postgres_backup",
        proto: Proto::Pg,
    },
    Target {
        check: "check_fts_update_log",
        proto: Proto::Pg,
    },
    Target {
        check: "check_email_deliverer_backlog",
        proto: Proto::Pg,
    },
];

/// Bytes of the wrong protocol carrying everything that could break a status line.
const GARBAGE: &[u8] =
    b"\x1b[31mSSH-2.0-not|this=1;2;3 'quoted' \"double\"\r\nsecond line\n\xff\xfe\x00\x01|perf=9\r\n\r\n";

/// The start of a reply the protocol expects, for the trickle and cut cases.
fn plausible(proto: Proto) -> Vec<u8> {
    match proto {
        Proto::Http => b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 120\r\n\r\n{\"result\": \"success\", \"msg\": \"\", \"queues\": [".to_vec(),
        // "no TLS", then the start of an AuthenticationSASL message.
        Proto::Pg => b"NR\x00\x00\x00\x17\x00\x00\x00\x0aSCRAM-SHA-256".to_vec(),
        // The start of a Connection.Start method frame.
        Proto::Amqp => b"\x01\x00\x00\x00\x00\x01\xf4\x00\x0a\x00\x0a\x00\x09\x00\x00\x01".to_vec(),
    }
}

/// A reply that claims to be, and is, 200 MB long.
fn huge(proto: Proto) -> Fault {
    const SIZE: u64 = 200 << 20;
    match proto {
        Proto::Http => Fault::Huge(SIZE),
        // No TLS, then a message of 2 GB.
        Proto::Pg => Fault::Flood(b"NR\x7f\xff\xff\xff".to_vec(), SIZE),
        // A method frame of 2 GB.
        Proto::Amqp => Fault::Flood(b"\x01\x00\x00\x7f\xff\xff\xff".to_vec(), SIZE),
    }
}

/// What a case must produce: the exit code and a word of line 1 that names the problem.
struct Expect {
    code: i32,
    words: &'static [&'static str],
}

#[derive(Clone, Debug)]
enum Peer {
    Fault(Fault),
    Unresolvable,
    Tls(&'static str),
}

fn cases(proto: Proto) -> Vec<(&'static str, Peer)> {
    let cut = plausible(proto);
    let mut v = vec![
        ("silent", Peer::Fault(Fault::Silent)),
        ("trickle", Peer::Fault(Fault::Trickle(plausible(proto)))),
        (
            "cut",
            Peer::Fault(Fault::Reply(cut[..cut.len() - 3].to_vec())),
        ),
        ("reset", Peer::Fault(Fault::Reset)),
        ("garbage", Peer::Fault(Fault::Reply(GARBAGE.to_vec()))),
        ("huge", Peer::Fault(huge(proto))),
        ("unresolvable", Peer::Unresolvable),
    ];
    if proto == Proto::Http {
        v.push((
            "redirect loop",
            Peer::Fault(Fault::Reply(
                b"HTTP/1.1 302 Found\r\nLocation: /again\r\nContent-Length: 0\r\n\r\n".to_vec(),
            )),
        ));
        v.push(("TLS wrong name", Peer::Tls("wrong-name")));
        v.push(("TLS expired", Peer::Tls("expired")));
        v.push(("TLS self-signed", Peer::Tls("self-signed")));
    }
    v
}

/// The documented outcome of each case.
fn expect(t: &Target, case: &str) -> Expect {
    let e = |code, words| Expect { code, words };
    match (t.proto, case) {
        (_, "silent" | "trickle") => e(3, &["timed out after 2 seconds"]),
        (_, "unresolvable") => e(
            2,
            &[
                "cannot resolve custos-peer.invalid",
                "failed to lookup address information",
            ],
        ),
        (Proto::Http, "TLS wrong name") => {
            e(2, &["TLS: the certificate is not valid for 127.0.0.1"])
        }
        (Proto::Http, "TLS expired") => e(2, &["TLS: the certificate of 127.0.0.1 has expired"]),
        (Proto::Http, "TLS self-signed") => e(
            2,
            &["TLS: the certificate of 127.0.0.1 is signed by an unknown CA"],
        ),
        (Proto::Http, "cut") => e(2, &["closed the connection before answering"]),
        (Proto::Http, "reset") => e(2, &["connection reset by 127.0.0.1"]),
        (Proto::Http, "garbage") => e(2, &["invalid HTTP response from 127.0.0.1"]),
        // A 200 reply: the body is read up to --max-body and the long output says so.
        (Proto::Http, "huge") if t.check == "check_website_response" => e(0, &["HTTP/1.1 200 OK"]),
        // A listing is read as it arrives: 200 MB of `x` is refused at its first byte.
        (Proto::Http, "huge") if t.check == "check_rabbitmq_consumers" => {
            e(3, &["GET /api/consumers/%2F: not a JSON array"])
        }
        (Proto::Http, "huge") => e(3, &["is larger than"]),
        (Proto::Http, "redirect loop") if t.check == "check_website_response" => {
            e(2, &["redirect loop"])
        }
        (Proto::Http, "redirect loop") => e(2, &["302 Found"]),
        (Proto::Pg, "cut") => e(2, &["server closed the connection unexpectedly"]),
        (Proto::Pg, "reset") => e(2, &["Connection reset by peer"]),
        (Proto::Pg, "garbage") => e(2, &["received invalid response to SSL negotiation: \\x1b"]),
        (Proto::Pg, "huge") => e(2, &["the server sent more than 64 MiB"]),
        (Proto::Amqp, "cut" | "reset") => e(2, &["closed the AMQP connection"]),
        (Proto::Amqp, "garbage") => e(2, &["does not speak AMQP 0-9-1"]),
        // lapin reads a frame that claims 2 GB without holding it, until the deadline.
        (Proto::Amqp, "huge") => e(3, &["timed out after 2 seconds while connecting"]),
        _ => unreachable!("no documented outcome for {} / {case}", t.check),
    }
}

/// The command line and environment that point `t` at `host:port`.
fn command(
    t: &Target,
    scheme: &str,
    host: &str,
    port: u16,
    dir: &Path,
) -> (Vec<OsString>, Vec<(String, OsString)>) {
    let mut args: Vec<String> = vec!["-t".into(), T.to_string()];
    let mut env: Vec<(String, String)> = vec![
        ("PATH".into(), "/usr/sbin:/usr/bin:/sbin:/bin".into()),
        ("HOME".into(), dir.display().to_string()),
    ];
    let url = format!("{scheme}://{host}:{port}/");
    match (t.check, t.proto) {
        ("check_website_response", _) => {
            args.extend(["-u".into(), url, "-f".into(), "follow".into()]);
        }
        ("check_send_receive_time", _) => {
            args.extend(["--site".into(), url]);
            env.extend([
                (
                    "ZULIP_SENDER_EMAIL".into(),
                    "nagios-send-bot@z.example".into(),
                ),
                ("ZULIP_SENDER_API_KEY".into(), ZULIP_KEY.into()),
                (
                    "ZULIP_RECEIVER_EMAIL".into(),
                    "nagios-receive-bot@z.example".into(),
                ),
                ("ZULIP_RECEIVER_API_KEY".into(), ZULIP_KEY.into()),
            ]);
        }
        (_, Proto::Http) => {
            args.extend(["--api-url".into(), url, "--user".into(), "custos".into()]);
            env.push(("RABBITMQ_PASSWORD".into(), RABBIT_PASSWORD.into()));
        }
        (_, Proto::Amqp) => {
            args.extend(["--amqp-url".into(), format!("amqp://{host}:{port}/%2f")]);
            args.extend([
                "--user".into(),
                "custos".into(),
                "-q".into(),
                "zulip".into(),
            ]);
            env.push(("RABBITMQ_PASSWORD".into(), RABBIT_PASSWORD.into()));
        }
        (_, Proto::Pg) => {
            args.extend([
                "-H".into(),
                host.into(),
                "-p".into(),
                port.to_string(),
                "-U".into(),
                "custos".into(),
                "-d".into(),
                "zulip".into(),
            ]);
            env.push(("PGPASSWORD".into(), PASSWORD.into()));
            if t.check == "check_postgres_backup" {
                let marker = dir.join("last_backup");
                std::fs::write(&marker, "2026-11-22T03:00:00+00:00\n").unwrap();
                args.extend(["--marker-file".into(), marker.display().to_string()]);
            }
        }
    }
    (
        args.into_iter().map(OsString::from).collect(),
        env.into_iter().map(|(k, v)| (k, v.into())).collect(),
    )
}

struct Tls {
    ca: std::path::PathBuf,
    wrong_name: ServerCert,
    expired: ServerCert,
    self_signed: ServerCert,
}

fn tls(dir: &Path) -> Tls {
    let ca = TestCa::new(dir, "peers-ca").unwrap();
    Tls {
        ca: ca.cert.clone(),
        wrong_name: ca
            .server(dir, "wrong", &["somewhere-else.example"], -1, 30)
            .unwrap(),
        expired: ca
            .server(dir, "expired", &["127.0.0.1", "localhost"], -30, -1)
            .unwrap(),
        self_signed: TestCa::self_signed(dir, "self", &["127.0.0.1", "localhost"]).unwrap(),
    }
}

#[test]
fn every_networked_check_against_every_hostile_peer() {
    become_subreaper();
    let dir = tempfile::tempdir().unwrap();
    let certs = tls(dir.path());
    let mut jobs = Vec::new();
    for t in TARGETS {
        for (case, peer) in cases(t.proto) {
            jobs.push((t, case, peer));
        }
    }
    let total = jobs.len();
    let jobs = std::sync::Mutex::new(jobs);
    let failures = std::sync::Mutex::new(Vec::<String>::new());
    let report = std::sync::Mutex::new(Vec::<String>::new());
    std::thread::scope(|s| {
        for w in 0..4 {
            let (jobs, failures, report, certs) = (&jobs, &failures, &report, &certs);
            let scratch = dir.path().join(format!("w{w}"));
            std::fs::create_dir_all(&scratch).unwrap();
            s.spawn(move || loop {
                let Some((t, case, peer)) = jobs.lock().unwrap().pop() else {
                    break;
                };
                let (line, bad) = one(t, case, &peer, certs, &scratch);
                report.lock().unwrap().push(line);
                if let Some(why) = bad {
                    failures.lock().unwrap().push(why);
                }
            });
        }
    });
    let left = leftovers();
    let mut report = report.into_inner().unwrap();
    report.sort();
    eprintln!("{total} hostile-peer cases:\n{}", report.join("\n"));
    let failures = failures.into_inner().unwrap();
    assert!(left.is_empty(), "processes left behind: {left:?}");
    assert!(
        failures.is_empty(),
        "{} of {total} cases failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    // Every networked check of the suite is in the matrix.
    let networked = ["custos-http", "custos-pg", "custos-rabbitmq"];
    for check in custos_fuzz::exec::checks() {
        let manifest =
            std::fs::read_to_string(repo().join("crates").join(&check).join("Cargo.toml")).unwrap();
        if networked.iter().any(|n| manifest.contains(n)) {
            assert!(
                TARGETS.iter().any(|t| t.check == check),
                "{check} talks to a server but is not in the hostile-peer matrix"
            );
        }
    }
}

/// Runs one case: a line for the report, and what went wrong if anything did.
fn one(
    t: &Target,
    case: &str,
    peer: &Peer,
    certs: &Tls,
    scratch: &Path,
) -> (String, Option<String>) {
    let mut server = None;
    let mut tls_server = None;
    let (scheme, host, port) = match peer {
        Peer::Fault(f) => {
            let s = FaultServer::start(f.clone());
            let port = s.port;
            server = Some(s);
            ("http", "127.0.0.1", port)
        }
        Peer::Unresolvable => ("http", "custos-peer.invalid", 80),
        Peer::Tls(which) => {
            let cert = match *which {
                "wrong-name" => &certs.wrong_name,
                "expired" => &certs.expired,
                _ => &certs.self_signed,
            };
            let s = TlsServer::start(cert);
            let port = s.port;
            tls_server = Some(s);
            ("https", "127.0.0.1", port)
        }
    };
    let (mut args, env) = command(t, scheme, host, port, scratch);
    if matches!(peer, Peer::Tls(w) if *w != "self-signed") {
        args.push("--ca-cert".into());
        args.push(certs.ca.clone().into());
    }
    let bin = binary(t.check);
    let r = run(&bin, &args, &env, scratch, Duration::from_secs(30));
    let name = format!("{} ({:?}) / {case}", t.check, t.proto);
    let first = r.first_line().to_string();
    let line = format!(
        "{name}: exit {:?} in {:.2} s, {} MiB: {first}",
        r.code,
        r.secs,
        r.max_rss_kib >> 10
    );
    let want = expect(t, case);
    let mut bad = Vec::new();
    if r.code != Some(want.code) {
        bad.push(format!("exit {:?}, documented {}", r.code, want.code));
    }
    if r.secs > T + SLACK {
        bad.push(format!("took {:.2} s with -t {T}", r.secs));
    }
    if !want.words.is_empty() && !want.words.iter().any(|w| first.contains(w)) {
        bad.push(format!("line 1 names none of {:?}", want.words));
    }
    // Nothing a peer sends makes a check hold more than its caps (64 MiB) and itself.
    if r.max_rss_kib > 100 << 10 {
        bad.push(format!("peak RSS {} MiB", r.max_rss_kib >> 10));
    }
    if !r.stderr.is_empty() {
        bad.push(format!("stderr: {}", r.stderr.trim()));
    }
    if std::str::from_utf8(&r.stdout_bytes).is_err() {
        bad.push("output is not UTF-8".into());
    }
    if r.stdout.chars().any(|c| c.is_control() && c != '\n') {
        bad.push("control characters in the output".into());
    }
    let prefix = t.check.trim_start_matches("check_").to_uppercase();
    let state = ["OK", "WARNING", "CRITICAL", "UNKNOWN"]
        .get(r.code.unwrap_or(9) as usize)
        .copied()
        .unwrap_or("?");
    if !first.starts_with(&format!("{prefix} {state} - ")) {
        bad.push(format!("line 1 is not '{prefix} {state} - ...'"));
    }
    // Perfdata: on line 1 after " | ", or on a final "| " line; strictly parsed.
    if let Some(p) = perfdata_text(&r.stdout) {
        if let Err(e) = Perfdata::parse_list(p) {
            bad.push(format!("perfdata {p:?}: {e}"));
        }
    }
    for secret in [PASSWORD, RABBIT_PASSWORD, ZULIP_KEY] {
        if r.stdout.contains(secret) {
            bad.push(format!("the secret {secret} is in the output"));
        }
    }
    if let Some(s) = &server {
        if !s.all_closed(Duration::from_millis(500)) {
            bad.push("the check left its connection open".into());
        }
    }
    drop(tls_server);
    let why = (!bad.is_empty()).then(|| format!("{line}\n  {}", bad.join("; ")));
    (line, why)
}
