//! Secrets, for every check that takes one and every way it can be given: the environment,
//! files (`.pgpass`, `pg_service.conf`, `--password-file`, `--*-key-file`, zuliprc,
//! `--auth-file`) and URLs or connection strings with credentials. Each source is run against
//! the real server (PostgreSQL, RabbitMQ, Zulip's API test server, nginx) once with the right
//! secret and once with a wrong one (refusals are where a secret would be echoed), at every
//! verbosity (none, -v, -vv, -vvv), as text and as JSON, writing a state file: the secret is
//! never in the output nor in the state file.
//!
//! Files holding a secret that others can read draw a warning in the long output (`.pgpass`
//! is skipped, as libpq does, and said so with -v).

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

use custos_fuzz::exec::{binary, run, temp_leftovers};
use std::ffi::OsString;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Environment variables to set.
type Env = Vec<(String, String)>;
/// A source: its name, the arguments and the environment that give the secret.
type Source<'a> = (&'a str, Vec<String>, Env);

const WRONG: &str = "Wrong-Secret-0b5e9d77";

/// One way of giving a secret to one check.
struct Case {
    check: &'static str,
    source: String,
    args: Vec<String>,
    env: Vec<(String, String)>,
    secret: String,
}

fn write(path: &Path, text: &str, mode: u32) -> String {
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    path.display().to_string()
}

const PG_CHECKS: &[&str] = &[
    "check_postgres",
    "check_postgres_replication_lag",
    "check_postgres_backup",
    "check_fts_update_log",
    "check_email_deliverer_backlog",
];

fn postgres_cases(dir: &Path) -> Vec<Case> {
    let pg = custos_harness::postgres();
    let (user, right) = ("custos_secrets", "Pg-Right-Secret-4c1a");
    pg.ensure_role(user, Some(right)).unwrap();
    let (host, port, db) = (&pg.host, pg.primary_port, &pg.dbname);
    let marker = write(&dir.join("marker"), "2026-11-22T03:00:00+00:00\n", 0o644);
    let mut cases = Vec::new();
    for (i, secret) in [right, WRONG].into_iter().enumerate() {
        let base = vec![
            "-H".to_string(),
            host.clone(),
            "-p".into(),
            port.to_string(),
            "-U".into(),
            user.into(),
            "-d".into(),
            db.clone(),
        ];
        let pgpass = write(
            &dir.join(format!("pgpass{i}")),
            &format!("{host}:{port}:*:{user}:{secret}\n"),
            0o600,
        );
        let service = write(
            &dir.join(format!("service{i}")),
            &format!(
                "[custos]\nhost={host}\nport={port}\nuser={user}\ndbname={db}\npassword={secret}\n"
            ),
            0o600,
        );
        let sources: Vec<Source> = vec![
            (
                "PGPASSWORD",
                base.clone(),
                vec![("PGPASSWORD".into(), secret.into())],
            ),
            (
                "PGPASSFILE",
                base.clone(),
                vec![("PGPASSFILE".into(), pgpass)],
            ),
            (
                "pg_service.conf",
                vec![],
                vec![
                    ("PGSERVICEFILE".into(), service),
                    ("PGSERVICE".into(), "custos".into()),
                ],
            ),
            (
                "--dsn URI",
                vec![
                    "--dsn".into(),
                    format!("postgresql://{user}:{secret}@{host}:{port}/{db}"),
                ],
                vec![],
            ),
            (
                "--dsn keywords",
                vec![
                    "--dsn".into(),
                    format!("host={host} port={port} user={user} dbname={db} password='{secret}'"),
                ],
                vec![],
            ),
        ];
        for check in PG_CHECKS {
            for (source, args, env) in &sources {
                let mut args = args.clone();
                if *check == "check_postgres_backup" {
                    args.extend(["--marker-file".into(), marker.clone()]);
                }
                cases.push(Case {
                    check,
                    source: format!("{source} ({})", if i == 0 { "right" } else { "wrong" }),
                    args,
                    env: env.clone(),
                    secret: secret.into(),
                });
            }
        }
    }
    cases
}

fn rabbitmq_cases(dir: &Path) -> Vec<Case> {
    let r = custos_harness::rabbitmq();
    let (user, right) = ("custos_secrets", "Rabbit-Right-Secret-8d2f");
    r.add_user(user, right, "monitoring", "/").unwrap();
    r.fresh_queue("/", "custos_secrets").unwrap();
    let mut cases = Vec::new();
    for check in ["check_rabbitmq_queues", "check_rabbitmq_consumers"] {
        for (i, secret) in [right, WRONG].into_iter().enumerate() {
            let file = write(
                &dir.join(format!("rabbit{i}")),
                &format!("{secret}\n"),
                0o600,
            );
            let api = vec![
                "--api-url".to_string(),
                r.api_url(),
                "--user".into(),
                user.into(),
                "-q".into(),
                "custos_secrets".into(),
            ];
            let mut with_file = api.clone();
            with_file.extend(["--password-file".into(), file]);
            let in_url = vec![
                "--api-url".into(),
                format!("http://{user}:{secret}@{}:{}/", r.host, r.api_port),
                "-q".into(),
                "custos_secrets".into(),
            ];
            let amqp = vec![
                "--amqp-url".into(),
                format!("amqp://{user}:{secret}@{}:{}/%2f", r.host, r.amqp_port),
                "-q".into(),
                "custos_secrets".into(),
            ];
            let sources: Vec<Source> = vec![
                (
                    "RABBITMQ_PASSWORD",
                    api,
                    vec![("RABBITMQ_PASSWORD".into(), secret.into())],
                ),
                ("--password-file", with_file, vec![]),
                ("--api-url with credentials", in_url, vec![]),
                ("--amqp-url with credentials", amqp, vec![]),
            ];
            for (source, args, env) in sources {
                cases.push(Case {
                    check,
                    source: format!("{source} ({})", if i == 0 { "right" } else { "wrong" }),
                    args,
                    env,
                    secret: secret.into(),
                });
            }
        }
    }
    cases
}

fn zulip_cases(dir: &Path, server: &custos_harness::zulip::ZulipServer) -> Vec<Case> {
    let (sender, receiver) = ("nagios-send-bot@z.example", "nagios-receive-bot@z.example");
    let (right, right2) = ("Zulip-Right-Key-1a2b", "Zulip-Right-Key-3c4d");
    let mut cases = Vec::new();
    for (i, (k1, k2)) in [(right, right2), (WRONG, WRONG)].into_iter().enumerate() {
        let site = vec!["--site".to_string(), server.url.clone()];
        let f1 = write(&dir.join(format!("zk1-{i}")), &format!("{k1}\n"), 0o600);
        let f2 = write(&dir.join(format!("zk2-{i}")), &format!("{k2}\n"), 0o600);
        let rc = |name: &str, email: &str, key: &str| {
            write(
                &dir.join(format!("{name}-{i}")),
                &format!("[api]\nemail={email}\nkey={key}\nsite={}\n", server.url),
                0o600,
            )
        };
        let emails = [
            "--sender-email".to_string(),
            sender.into(),
            "--receiver-email".into(),
            receiver.into(),
        ];
        let env = vec![
            ("ZULIP_SENDER_EMAIL".to_string(), sender.to_string()),
            ("ZULIP_SENDER_API_KEY".into(), k1.into()),
            ("ZULIP_RECEIVER_EMAIL".into(), receiver.into()),
            ("ZULIP_RECEIVER_API_KEY".into(), k2.into()),
        ];
        let key_files = [
            site.clone(),
            emails.to_vec(),
            vec![
                "--sender-key-file".into(),
                f1,
                "--receiver-key-file".into(),
                f2,
            ],
        ]
        .concat();
        let zuliprc = vec![
            "--sender-config".to_string(),
            rc("sender.rc", sender, k1),
            "--receiver-config".into(),
            rc("receiver.rc", receiver, k2),
        ];
        let which = if i == 0 { "right" } else { "wrong" };
        for (source, args, env) in [
            ("ZULIP_*_API_KEY", site.clone(), env),
            ("--*-key-file", key_files, vec![]),
            ("zuliprc", zuliprc, vec![]),
        ] {
            for secret in [k1, k2] {
                cases.push(Case {
                    check: "check_send_receive_time",
                    source: format!("{source} ({which})"),
                    args: args.clone(),
                    env: env.clone(),
                    secret: secret.into(),
                });
            }
        }
    }
    cases
}

fn website_cases(dir: &Path) -> Vec<Case> {
    let n = custos_harness::nginx();
    let mut cases = Vec::new();
    for (i, secret) in [n.password.as_str(), WRONG].into_iter().enumerate() {
        let which = if i == 0 { "right" } else { "wrong" };
        let file = write(
            &dir.join(format!("auth{i}")),
            &format!("{}:{secret}\n", n.user),
            0o600,
        );
        let with_creds = |path: &str| {
            n.http_url(path)
                .replacen("://", &format!("://{}:{secret}@", n.user), 1)
        };
        for (source, args) in [
            (
                "--auth-file",
                vec!["-u".to_string(), n.http_url("/private/"), "-a".into(), file],
            ),
            (
                "URL with credentials",
                vec!["-u".into(), with_creds("/private/")],
            ),
            // Every URL of the loop goes into the message.
            (
                "URL with credentials, redirect loop",
                vec![
                    "-u".into(),
                    with_creds("/loop-a"),
                    "-f".into(),
                    "follow".into(),
                ],
            ),
            (
                "URL with credentials, redirect followed",
                vec![
                    "-u".into(),
                    with_creds("/hop1"),
                    "-f".into(),
                    "follow".into(),
                ],
            ),
        ] {
            cases.push(Case {
                check: "check_website_response",
                source: format!("{source} ({which})"),
                args,
                env: vec![],
                secret: secret.into(),
            });
        }
    }
    cases
}

#[test]
fn no_secret_at_any_verbosity_in_text_json_or_state_files() {
    let dir = tempfile::tempdir().unwrap();
    let files = dir.path().join("files");
    std::fs::create_dir(&files).unwrap();
    let zulip = custos_harness::zulip::ZulipServer::start(&[
        ("nagios-send-bot@z.example", "Zulip-Right-Key-1a2b"),
        ("nagios-receive-bot@z.example", "Zulip-Right-Key-3c4d"),
    ]);
    let mut cases = postgres_cases(&files);
    cases.extend(rabbitmq_cases(&files));
    cases.extend(zulip_cases(&files, &zulip));
    cases.extend(website_cases(&files));
    let variants: Vec<Vec<&str>> = ["", "-v", "-vv", "-vvv"]
        .iter()
        .flat_map(|v| {
            [vec![*v], vec![*v, "--output-format", "json"]]
                .into_iter()
                .map(|a| a.into_iter().filter(|s| !s.is_empty()).collect())
        })
        .collect();
    let runs = std::sync::atomic::AtomicUsize::new(0);
    let states = std::sync::Mutex::new([0usize; 4]);
    let failures = std::sync::Mutex::new(Vec::<String>::new());
    let queue = std::sync::Mutex::new(cases.iter().collect::<Vec<_>>());
    std::thread::scope(|s| {
        for w in 0..4 {
            let (queue, failures, runs, variants, states) =
                (&queue, &failures, &runs, &variants, &states);
            let scratch = dir.path().join(format!("w{w}"));
            std::fs::create_dir(&scratch).unwrap();
            s.spawn(move || loop {
                let Some(case) = queue.lock().unwrap().pop() else {
                    break;
                };
                for extra in variants {
                    let state_file = scratch.join("state");
                    let _ = std::fs::remove_file(&state_file);
                    let r = one(case, extra, &state_file, &scratch);
                    runs.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    if let Some(c @ 0..=3) = r.0 {
                        states.lock().unwrap()[c as usize] += 1;
                    }
                    if let Some(why) = r.1 {
                        failures
                            .lock()
                            .unwrap()
                            .push(format!("{} / {} {extra:?}: {why}", case.check, case.source));
                    }
                }
            });
        }
    });
    let failures = failures.into_inner().unwrap();
    let states = states.into_inner().unwrap();
    eprintln!(
        "{} secret sources over {} checks, {} runs: exits 0/1/2/3 {states:?}, {} failures",
        cases.len(),
        cases
            .iter()
            .map(|c| c.check)
            .collect::<std::collections::BTreeSet<_>>()
            .len(),
        runs.into_inner(),
        failures.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    let temp = temp_leftovers(dir.path());
    assert!(temp.is_empty(), "temporary files left behind: {temp:?}");
    // The right secrets got in somewhere: not every run a refusal.
    assert!(states[0] + states[1] > 0, "{states:?}");
}

/// One run: its exit code, and what went wrong.
fn one(
    case: &Case,
    extra: &[&str],
    state_file: &Path,
    cwd: &Path,
) -> (Option<i32>, Option<String>) {
    let mut args: Vec<OsString> = ["-t", "10"].iter().map(OsString::from).collect();
    args.extend(case.args.iter().map(OsString::from));
    args.extend(extra.iter().map(OsString::from));
    args.push("--state-file".into());
    args.push(state_file.into());
    let mut env: Vec<(String, OsString)> = vec![
        ("PATH".into(), "/usr/sbin:/usr/bin:/sbin:/bin".into()),
        ("HOME".into(), cwd.into()),
    ];
    env.extend(case.env.iter().map(|(k, v)| (k.clone(), OsString::from(v))));
    let r = run(
        &binary(case.check),
        &args,
        &env,
        cwd,
        Duration::from_secs(30),
    );
    let state = std::fs::read_to_string(state_file).unwrap_or_default();
    let why = if r.stdout.contains(&case.secret) {
        Some(format!("the secret is in the output:\n{}", r.stdout))
    } else if r.stderr.contains(&case.secret) {
        Some("the secret is on stderr".into())
    } else if state.contains(&case.secret) {
        Some(format!("the secret is in the state file: {state}"))
    } else if state.is_empty() {
        Some(format!("no state file written: {}", r.first_line()))
    } else if !matches!(r.code, Some(0..=3)) {
        Some(format!("exit {:?}", r.code))
    } else {
        None
    };
    (r.code, why)
}

/// Secret files that others can read: read, with a warning in the long output (`.pgpass`:
/// skipped, as libpq does, and said with -v).
#[test]
fn secret_files_readable_by_others_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let n = custos_harness::nginx();
    let r = custos_harness::rabbitmq();
    let pg = custos_harness::postgres();
    let open = |name: &str, text: &str| -> PathBuf {
        let p = dir.path().join(name);
        write(&p, text, 0o644);
        p
    };
    let auth = open("auth", &format!("{}:{}\n", n.user, n.password));
    let rabbit = open("rabbit", &format!("{}\n", r.password));
    let key = open("key", "Some-Key\n");
    let pgpass = open("pgpass", &format!("*:*:*:{}:{}\n", pg.user, pg.password));
    let cases: Vec<(&str, Vec<String>, Env, String)> = vec![
        (
            "check_website_response",
            vec![
                "-u".into(),
                n.http_url("/private/"),
                "-a".into(),
                auth.display().to_string(),
            ],
            vec![],
            format!(
                "warning: {} holds a secret and is readable by others (mode 0644); chmod 600 it",
                auth.display()
            ),
        ),
        (
            "check_rabbitmq_queues",
            vec![
                "--api-url".into(),
                r.api_url(),
                "--user".into(),
                r.user.clone(),
                "--password-file".into(),
                rabbit.display().to_string(),
            ],
            vec![],
            format!(
                "warning: {} holds a secret and is readable by others (mode 0644); chmod 600 it",
                rabbit.display()
            ),
        ),
        (
            "check_send_receive_time",
            vec![
                "--site".into(),
                "http://127.0.0.1:1".into(),
                "--sender-email".into(),
                "a@z.example".into(),
                "--sender-key-file".into(),
                key.display().to_string(),
                "--receiver-email".into(),
                "b@z.example".into(),
                "--receiver-key-file".into(),
                key.display().to_string(),
            ],
            vec![],
            format!(
                "warning: {} holds a secret and is readable by others (mode 0644); chmod 600 it",
                key.display()
            ),
        ),
        (
            "check_postgres",
            vec![
                "-H".into(),
                pg.host.clone(),
                "-p".into(),
                pg.primary_port.to_string(),
                "-U".into(),
                pg.user.clone(),
                "-v".into(),
            ],
            vec![("PGPASSFILE".into(), pgpass.display().to_string())],
            format!("{}", pgpass.display()),
        ),
    ];
    for (check, args, env, want) in cases {
        let env: Vec<(String, OsString)> = [
            ("PATH".to_string(), OsString::from("/usr/bin:/bin")),
            ("HOME".into(), dir.path().into()),
        ]
        .into_iter()
        .chain(env.into_iter().map(|(k, v)| (k, v.into())))
        .collect();
        let args: Vec<OsString> = args.into_iter().map(OsString::from).collect();
        let r = run(
            &binary(check),
            &args,
            &env,
            dir.path(),
            Duration::from_secs(30),
        );
        assert!(
            r.stdout.contains(&want),
            "{check}: {want:?} not in:\n{}",
            r.stdout
        );
    }
}
