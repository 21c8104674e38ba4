//! Every check binary, run with random argument vectors (its own options from `--help`, with
//! values that break parsers, junk words, invalid UTF-8) and a random environment: every run
//! exits 0-3, prints a first line on stdout and nothing on stderr, and ends within its
//! deadline (`-t 3` is always given first; a second `-t` is a usage error).
//!
//! The test process is a child subreaper: a process a check started and left behind (apt-get,
//! supervisorctl, systemctl, wal-g...) becomes its child, and the test fails if any is alive
//! at the end.
//!
//! CUSTOS_ARGV_RUNS (default 2000) runs in all, over the debug binaries `cargo test` builds;
//! CUSTOS_ARGV_SEED repeats a run. The checks run in a scratch directory with HOME there,
//! PGHOST pointing nowhere and no network peers: nothing outside is touched.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

use custos_fuzz::exec::{become_subreaper, binary, checks, leftovers, run, temp_leftovers};
use custos_fuzz::mutate::{env_or, seed, Rng};
use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

const DEADLINE: f64 = 3.0;
/// Start-up of a debug binary and the check's own cleanup, beyond the deadline.
const SLACK: f64 = 1.5;

/// The options `--help` lists: `--long` and `-s` words.
fn options(bin: &Path) -> Vec<String> {
    let out = Command::new(bin).arg("--help").output().unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    let mut opts: Vec<String> = help
        .split(|c: char| c.is_whitespace() || c == ',' || c == '[' || c == ']' || c == '=')
        .filter(|w| {
            (w.starts_with("--")
                && w.len() > 3
                && w[2..]
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'))
                || (w.len() == 2 && w.starts_with('-') && w.as_bytes()[1].is_ascii_alphabetic())
        })
        .map(str::to_string)
        .collect();
    opts.sort();
    opts.dedup();
    assert!(opts.len() > 5, "{}: no options in --help", bin.display());
    opts
}

fn value(rng: &mut Rng) -> OsString {
    const VALUES: &[&str] = &[
        "",
        "0",
        "-1",
        "10",
        "1:5",
        "@1:2",
        "~:",
        "10:",
        "1e999",
        "NaN",
        "inf",
        "abc",
        "5s",
        "250ms",
        "1GiB",
        "99%",
        "ok",
        "critical",
        "unknown",
        "--",
        "-",
        "|",
        "a\nb",
        "a|b=c'd\"",
        "\u{1b}[31mred",
        "/nonexistent/x",
        "state",
        "127.0.0.1",
        "::1",
        "[::1]",
        "http://127.0.0.1:1/",
        "https://[::1]:1/x",
        "localhost:1",
        "1",
        "65536",
        "18446744073709551616",
        "3:warning",
        "0.001",
        "zulip",
        "/",
        "%2F",
        "postgresql://u:p@127.0.0.1:1/db",
        "amqp://u:p@127.0.0.1:1/%2f",
        "json",
        "text",
        "apt",
        "native",
        "rss",
        "pss",
        "vsz",
        ".*",
        "(",
        "[a-",
        "main",
        "deferred_work",
        "x=1",
        "\u{fffd}",
    ];
    match rng.below(12) {
        0 => OsString::from_vec(vec![b'a', 0xff, 0xfe, b'z']),
        1 => OsString::from("x".repeat(1 + rng.below(5000))),
        2 => OsString::from((rng.next_u64() as i64 >> rng.below(64)).to_string()),
        _ => OsString::from(VALUES[rng.below(VALUES.len())]),
    }
}

fn argv(rng: &mut Rng, opts: &[String]) -> Vec<OsString> {
    let mut v: Vec<OsString> = vec!["-t".into(), "3".into()];
    for _ in 0..rng.below(7) {
        match rng.below(10) {
            0 => v.push(value(rng)),
            1 => {
                // --opt=value
                let o = &opts[rng.below(opts.len())];
                let mut s = OsString::from(format!("{o}="));
                s.push(value(rng));
                v.push(s);
            }
            2..=5 => {
                v.push(opts[rng.below(opts.len())].clone().into());
                v.push(value(rng));
            }
            _ => v.push(opts[rng.below(opts.len())].clone().into()),
        }
    }
    // Never the second -t's wait: a usage error is the answer to it.
    v
}

fn env(rng: &mut Rng, scratch: &Path) -> Vec<(String, OsString)> {
    let mut e = vec![
        (
            "PATH".to_string(),
            OsString::from("/usr/sbin:/usr/bin:/sbin:/bin"),
        ),
        ("HOME".to_string(), scratch.as_os_str().to_owned()),
        ("PGHOST".to_string(), OsString::from("/nonexistent")),
        ("PGPORT".to_string(), OsString::from("1")),
    ];
    const KEYS: &[&str] = &[
        "PGPASSWORD",
        "PGPASSFILE",
        "PGSERVICE",
        "PGSERVICEFILE",
        "PGDATABASE",
        "PGUSER",
        "PGCONNECT_TIMEOUT",
        "RABBITMQ_PASSWORD",
        "ZULIP_SENDER_API_KEY",
        "ZULIP_RECEIVER_API_KEY",
        "ZULIP_SENDER_EMAIL",
        "LANG",
        "LC_ALL",
        "TZ",
        "COLUMNS",
        "NO_COLOR",
        "http_proxy",
        "HTTPS_PROXY",
        "SSL_CERT_FILE",
        "PGSSLMODE",
    ];
    for _ in 0..rng.below(4) {
        e.push((KEYS[rng.below(KEYS.len())].to_string(), value(rng)));
    }
    e
}

#[test]
fn random_argument_vectors_always_get_a_plugin_answer() {
    let total: usize = env_or("CUSTOS_ARGV_RUNS", 2000);
    let seed = seed("CUSTOS_ARGV_SEED");
    become_subreaper();
    let checks = checks();
    let bins: Vec<(String, PathBuf, Vec<String>)> = checks
        .iter()
        .map(|c| {
            let b = binary(c);
            let o = options(&b);
            (c.clone(), b, o)
        })
        .collect();
    let scratch = std::env::temp_dir().join(format!("custos-argv-{}", std::process::id()));
    std::fs::create_dir_all(&scratch).unwrap();
    let threads = 2;
    let mut totals = [0usize; 4];
    let failures: Vec<String> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let bins = &bins;
                let scratch = scratch.join(t.to_string());
                s.spawn(move || {
                    std::fs::create_dir_all(&scratch).unwrap();
                    let mut rng = Rng::new(seed.wrapping_add(t as u64 * 0x9e37_79b9));
                    let mut failures = Vec::new();
                    let mut codes = [0usize; 4];
                    for i in 0..total / threads {
                        let (name, bin, opts) = &bins[(i * threads + t) % bins.len()];
                        let args = argv(&mut rng, opts);
                        let env = env(&mut rng, &scratch);
                        // Hard stop far past the deadline: a hang fails the test.
                        let limit = Duration::from_secs_f64(DEADLINE + 20.0);
                        let r = run(bin, &args, &env, &scratch, limit);
                        let first = r.stdout.lines().next().unwrap_or("");
                        if let Some(c @ 0..=3) = r.code {
                            codes[c as usize] += 1;
                        }
                        let bad = if !matches!(r.code, Some(0..=3)) {
                            Some(format!("exit {:?}", r.code))
                        } else if first.trim().is_empty() {
                            Some("no first line on stdout".to_string())
                        } else if !r.stderr.is_empty() {
                            Some(format!("stderr: {}", r.stderr.trim()))
                        } else if r.secs > DEADLINE + SLACK {
                            Some(format!("took {:.2} s with -t {DEADLINE}", r.secs))
                        } else {
                            None
                        };
                        if let Some(why) = bad {
                            failures.push(format!(
                                "{name} {args:?} env {env:?}: {why}\n  stdout: {}",
                                r.stdout.chars().take(300).collect::<String>()
                            ));
                        }
                    }
                    (failures, codes)
                })
            })
            .collect();
        let mut all = Vec::new();
        for h in handles {
            let (f, c) = h.join().unwrap();
            all.extend(f);
            for (t, n) in totals.iter_mut().zip(c) {
                *t += n;
            }
        }
        all
    });
    let temp = temp_leftovers(&scratch);
    let _ = std::fs::remove_dir_all(&scratch);
    let left = leftovers();
    assert!(temp.is_empty(), "temporary files left behind: {temp:?}");
    eprintln!(
        "{} random argument vectors over {} checks (seed {seed}): exits 0/1/2/3: {totals:?}, {} failures",
        total / threads * threads,
        bins.len(),
        failures.len()
    );
    assert!(
        left.is_empty(),
        "processes left behind by the checks: {left:?}"
    );
    // The vectors reach the checks' work, not only clap's usage errors.
    assert!(
        totals[0] + totals[1] + totals[2] > 0,
        "every run was UNKNOWN: {totals:?}"
    );
    assert!(
        failures.is_empty(),
        "seed {seed}: {} of {total} runs failed:\n{}",
        failures.len(),
        failures
            .iter()
            .take(10)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}
