//! Fuzz targets: every parser that reads outside input (command-line ranges and units,
//! perfdata, state files, zuliprc, `.pgpass`, `pg_service.conf` and connection strings, apt's
//! output, dpkg's status and apt's lists, apt preferences and configuration, Debian versions,
//! RabbitMQ's management JSON, Zulip's API replies, Zulip's worker stats files, wal-g and
//! pgBackRest JSON), each fed arbitrary bytes, with the invariants it must keep beyond "does
//! not panic": a parsed range or perfdata list prints back to itself, a report rendered from
//! hostile text keeps one status line and strictly parseable perfdata, version comparison is
//! a total order.
//!
//! Run by cargo-fuzz with libFuzzer (`make fuzz`; fuzz/ holds one binary per target, all
//! from fuzz/fuzz_targets/target.rs) and, for a few seconds each, by the mutation smoke test in
//! tests/smoke.rs (`make test`), which also replays every input in `regressions/<target>/`.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

use plugin_core::render_nagios;
use plugin_core::Dimension;
use plugin_core::Range;
use plugin_core::{format_list, Perfdata};
use plugin_core::{Report, State};

pub mod exec;
pub mod mutate;

/// A fuzz target: a name (the cargo-fuzz binary), the function, and seed inputs.
pub struct Target {
    pub name: &'static str,
    pub run: fn(&[u8]),
    pub seeds: &'static [&'static [u8]],
}

pub const TARGETS: &[Target] = &[
    Target {
        name: "ranges",
        run: ranges,
        seeds: &[
            b"10", b"10:", b"~:10", b"@10:20", b"-7:23", b"250ms", b"5min:1h", b"16MiB", b"90%",
            b"1e3", b"inf", b"0x10", b"2d", b"1.5GB:", b"5s:warning",
        ],
    },
    Target {
        name: "perfdata",
        run: perfdata,
        seeds: &[
            b"time=0.41s;6;12;0", b"'a b'=1;;;; x=U", b"q=5c;10;20;0;100 'it''s'=3B",
            b"pct=99.5%;90:;95:;0;100", b"a=1 b=2 c=3",
        ],
    },
    Target {
        name: "output",
        run: output,
        seeds: &[
            b"\x00summary | with pipe\nsecond line\xffdetail\r\x1b[31mred\xfflabel=1\xfflab'el|x",
            b"\x02\xff\xff\xff",
        ],
    },
    Target {
        name: "state_file",
        run: state_file,
        seeds: &[
            b"1700000000|0|OK|send time was 0.41\n", b"1_700|2|CRITICAL|x|y", b"  -5|+3|W|\n",
        ],
    },
    Target {
        name: "zuliprc",
        run: zuliprc,
        seeds: &[
            b"[api]\nemail=nagios-bot@example.com\nkey=abcd\nsite=https://chat.example.com\n",
            b"[api]\r\nkey : x\n [other]\nkey=y\n; comment\n#c\nsite=\n",
        ],
    },
    Target {
        name: "pgpass",
        run: pgpass,
        seeds: &[
            b"localhost:5432:zulip:zulip:secret\n*:*:*:*:pw\n",
            b"db\\:1:*:*:u:p\\:w\\\\\n#c\n",
        ],
    },
    Target {
        name: "pg_service",
        run: pg_service,
        seeds: &[
            b"[zulip]\nhost=/var/run/postgresql\ndbname=zulip\nuser=zulip\n",
            b"[a]\nport = 5433\n[zulip]\nsslmode=verify-full\n=x\n",
        ],
    },
    Target {
        name: "pg_dsn",
        run: pg_dsn,
        seeds: &[
            b"host=db1 port=5432 dbname=zulip user='nagios' password='p w'",
            b"postgresql://u:p%40@[::1]:5432,h2:5433/zulip?sslmode=require&application_name=x",
        ],
    },
    Target {
        name: "apt_output",
        run: apt_output,
        seeds: &[
            b"Inst libgcrypt20 [1.10.1-3] (1.10.1-3+deb12u1 Debian:12.15/oldstable, Debian-Security:12/oldstable-security [amd64])\n",
            b"The following packages have been kept back:\n  a b\nE: Could not get lock\nW: x\nInst x (1 Ubuntu:22.04/jammy-security [all]) []\n",
        ],
    },
    Target {
        name: "deb822",
        run: deb822,
        seeds: &[
            b"Package: a\nStatus: install ok installed\nVersion: 1:2.3-4\nDepends: b (>= 1), c | d:any\n\nPackage: b\n",
            b"Package: *\nPin: release a=bookworm-backports\nPin-Priority: 500\n\nPackage: x\nPin: version 1.*\nPin-Priority: -1\n",
            b"APT::Architecture=amd64\nAPT::Architectures::=amd64\nDir::State::status=/var/lib/dpkg/status\n",
        ],
    },
    Target {
        name: "debian_version",
        run: debian_version,
        seeds: &[b"1:2.3-4\x001.2~rc1", b"1.0\x001.0-0", b"a+b.c~d\x00a+b.c"],
    },
    Target {
        name: "rabbitmq_json",
        run: rabbitmq_json,
        seeds: &[
            br#"[{"name":"deferred_work","messages":3,"consumers":1,"message_stats":{"publish_details":{"rate":0.5}}}]"#,
            br#"{"items":[{"name":"a|b\nc","messages":60,"consumers":0}],"page_count":1}"#,
        ],
    },
    Target {
        name: "zulip_json",
        run: zulip_json,
        seeds: &[
            br#"{"result":"success","msg":"","events":[{"id":3,"type":"heartbeat"},{"id":4,"type":"message","message":{"content":"probe"}}]}"#,
            br#"{"result":"error","code":"BAD_EVENT_QUEUE_ID","msg":"Bad event queue id: 1"}"#,
        ],
    },
    Target {
        name: "worker_stats",
        run: worker_stats,
        seeds: &[
            br#"{"update_time": 1700000000.5, "recent_average_consume_time": 0.25, "current_queue_size": 3}"#,
            br#"{"update_time": 1e308}"#,
        ],
    },
    Target {
        name: "backup_json",
        run: backup_json,
        seeds: &[
            br#"[{"backup_name":"base_000000010000000000000005","time":"2026-11-22T10:00:00Z","wal_file_name":"000000010000000000000005","start_time":"2026-11-22T09:59:00Z","finish_time":"2026-11-22T10:00:00Z"}]"#,
            br#"[{"name":"main","status":{"code":0,"message":"ok"},"backup":[{"label":"x","type":"full","timestamp":{"start":1,"stop":2},"archive":{"start":"000000010000000000000001","stop":"000000010000000000000002"}}]}]"#,
            b"1700000000\n",
        ],
    },
];

/// The target of that name.
pub fn target(name: &str) -> Option<&'static Target> {
    TARGETS.iter().find(|t| t.name == name)
}

/// Runs the named target on one input (cargo-fuzz's entry point).
pub fn run(name: &str, data: &[u8]) {
    (target(name)
        .unwrap_or_else(|| panic!("no fuzz target {name}"))
        .run)(data)
}

fn text(data: &[u8]) -> String {
    String::from_utf8_lossy(data).into_owned()
}

/// Splits an input into fields at 0xFF bytes (never part of UTF-8): several strings from one.
fn fields(data: &[u8]) -> Vec<String> {
    data.split(|&b| b == 0xff).map(text).collect()
}

/// Every way a range or a unit is read from the command line; a range that parses prints
/// back to a text that parses to the same range.
pub fn ranges(data: &[u8]) {
    let s = text(data);
    if let Ok(r) = Range::parse(&s) {
        let again = Range::parse(&r.to_string()).expect("a printed range parses");
        assert_eq!(again, r, "{s:?} printed as {r}");
    }
    for (dim, factor) in [
        (Dimension::Count, 1.0),
        (Dimension::Time, 1.0),
        (Dimension::Time, 0.001),
        (Dimension::Bytes, 1.0),
        (Dimension::Percent, 1.0),
    ] {
        if let Ok(r) = Range::parse_in(&s, dim, factor) {
            assert!(
                !r.start.is_some_and(f64::is_nan) && !r.end.is_some_and(f64::is_nan),
                "{s:?}: {r:?}"
            );
            let again = Range::parse(&r.to_string()).expect("a printed range parses");
            assert_eq!(again, r, "{s:?} in {dim:?} printed as {r}");
        }
    }
    use plugin_core::args;
    for f in [args::duration, args::rate] {
        if let Ok(v) = f(&s) {
            assert!(v.is_finite() && v >= 0.0, "{s:?} -> {v}");
        }
    }
    let _ = args::size(&s);
    let _ = args::state(&s);
    let _ = plugin_core::parse_timeout(&s);
}

/// A perfdata list that parses formats back to a list that parses to the same items.
pub fn perfdata(data: &[u8]) {
    let s = text(data);
    if let Ok(items) = Perfdata::parse_list(&s) {
        let printed = format_list(&items);
        let again = Perfdata::parse_list(&printed)
            .unwrap_or_else(|e| panic!("{s:?} printed as {printed:?}, which does not parse: {e}"));
        assert_eq!(again, items, "{s:?} printed as {printed:?}");
    }
}

/// A report built from hostile text (summary, details, perfdata labels: `|`, newlines,
/// quotes, `=`, escapes, invalid UTF-8) renders as plugin output that keeps its shape.
pub fn output(data: &[u8]) {
    let Some((&first, rest)) = data.split_first() else {
        return;
    };
    let state = [State::Ok, State::Warning, State::Critical, State::Unknown][first as usize % 4];
    let f = fields(rest);
    let mut report = Report::new(state, f[0].clone());
    for (i, field) in f.iter().enumerate().skip(1) {
        if i % 2 == 1 {
            report = report.detail(field.clone());
        } else {
            report = report.perf(Perfdata::new(field, i as f64 * 1.5));
        }
    }
    let limit = [0, 200, 4096][(first as usize / 4) % 3];
    let out = render_nagios("FUZZ", &report, limit);
    check_plugin_output(&out, "FUZZ", state, limit);
    let json = plugin_core::render_json("check_fuzz", "FUZZ", &report);
    let v: serde_json::Value = serde_json::from_str(&json).expect("JSON output parses");
    assert_eq!(v["state"], state.name());
}

/// The shape every custos text output keeps, whatever went into it: one status line starting
/// with the label and the state, no control characters, `|` only as the perfdata separator,
/// perfdata that parses strictly, within the byte budget (beyond line 1).
pub fn check_plugin_output(out: &str, label: &str, state: State, limit: usize) {
    assert!(out.ends_with('\n'), "{out:?}");
    let mut lines = out.lines();
    let line1 = lines.next().expect("a first line");
    assert!(
        line1.starts_with(&format!("{label} {}", state.name())),
        "{line1:?}"
    );
    assert!(
        !out.chars().any(|c| c.is_control() && c != '\n'),
        "control character in {out:?}"
    );
    let (text1, perf1) = match line1.split_once(" | ") {
        Some((t, p)) => (t, Some(p)),
        None => (line1, None),
    };
    assert!(!text1.contains('|'), "| in the status text: {line1:?}");
    let mut perf = Vec::new();
    if let Some(p) = perf1 {
        perf.extend(Perfdata::parse_list(p).unwrap_or_else(|e| panic!("{p:?}: {e}")));
    }
    let rest: Vec<&str> = lines.collect();
    for (i, line) in rest.iter().enumerate() {
        if let Some(p) = line.strip_prefix("| ") {
            assert_eq!(i, rest.len() - 1, "perfdata line not last: {out:?}");
            assert!(perf1.is_none(), "perfdata twice: {out:?}");
            perf.extend(Perfdata::parse_list(p).unwrap_or_else(|e| panic!("{p:?}: {e}")));
        } else {
            assert!(!line.contains('|'), "| in long output: {line:?}");
        }
    }
    if limit > 0 {
        assert!(
            out.len() <= limit.max(line1.len() + 1),
            "{} bytes over a budget of {limit}",
            out.len()
        );
    }
}

/// Zulip's state file format: what parses writes back as one line that parses the same.
pub fn state_file(data: &[u8]) {
    let s = text(data);
    if let Ok(r) = plugin_core::statefile::Record::parse(&s) {
        let line = r.to_line();
        assert_eq!(line.matches('\n').count(), 1, "{line:?}");
        let again = plugin_core::statefile::Record::parse(&line)
            .unwrap_or_else(|e| panic!("{s:?} written as {line:?}: {e:?}"));
        assert_eq!((again.timestamp, again.code), (r.timestamp, r.code));
    }
}

pub fn zuliprc(data: &[u8]) {
    if let Ok(map) = check_send_receive_time::zuliprc::parse_api_section(&text(data)) {
        for (k, v) in &map {
            assert!(!k.contains('\n') && !v.contains('\n'), "{k:?}={v:?}");
        }
        if let Some(site) = map.get("site") {
            let _ = check_send_receive_time::zuliprc::api_base(site);
        }
    }
}

pub fn pgpass(data: &[u8]) {
    use custos_pg::pgpass::{lookup, Key};
    let s = text(data);
    for key in [
        Key {
            host: "localhost",
            port: "5432",
            dbname: "zulip",
            user: "zulip",
        },
        Key {
            host: "/var/run/postgresql",
            port: "5432",
            dbname: "postgres",
            user: "nagios",
        },
        Key {
            host: "db:1",
            port: "*",
            dbname: "",
            user: "",
        },
    ] {
        if let Some(pw) = lookup(&s, &key) {
            assert!(!pw.contains('\n'), "{pw:?}");
        }
    }
}

pub fn pg_service(data: &[u8]) {
    let f = fields(data);
    let name = f.get(1).map_or("zulip", String::as_str);
    let _ = custos_pg::service::lookup(&f[0], name);
}

pub fn pg_dsn(data: &[u8]) {
    let _ = custos_pg::dsn::parse(&text(data));
}

/// apt's simulation output: every upgrade has a name without spaces and a new version.
pub fn apt_output(data: &[u8]) {
    use custos_apt::output as apt;
    let sim = apt::parse(&text(data), &apt::is_security_release);
    for u in &sim.upgrades {
        assert!(
            !u.package.is_empty() && !u.package.contains(char::is_whitespace),
            "{u:?}"
        );
        assert!(!u.new.contains('\n'), "{u:?}");
    }
}

/// dpkg's status file and apt's lists (streamed stanzas, fields), apt preferences and
/// `apt-config dump`.
pub fn deb822(data: &[u8]) {
    use custos_apt::{config, prefs, tags};
    let mut n = 0usize;
    let streamed = tags::each_stanza::<_, std::io::Error>(data, |st| {
        n += 1;
        assert!(!st.is_empty() && !st.starts_with(b"\n") && !st.ends_with(b"\n"));
        let _ = tags::first_field(st, b"Package");
        let _ = tags::first_field(st, b"Version");
        Ok(())
    });
    assert!(streamed.is_ok());
    let s = text(data);
    for st in tags::stanzas(&s, true) {
        if let Some(v) = tags::field(&st, "Depends") {
            let _ = custos_apt::native::parse_deps(&v);
        }
        let _ = tags::field(&st, "Package");
    }
    let _ = prefs::parse(&s);
    let c = config::AptConfig::parse(&s);
    let _ = c.list("APT::Architectures");
}

/// Debian version comparison is a total order on whatever it is given.
pub fn debian_version(data: &[u8]) {
    use custos_apt::version::compare;
    use std::cmp::Ordering;
    let f = fields(
        &data
            .iter()
            .map(|&b| if b == 0 { 0xff } else { b })
            .collect::<Vec<_>>(),
    );
    let a = &f[0];
    let b = f.get(1).map_or("", String::as_str);
    let c = f.get(2).map_or("1.0", String::as_str);
    assert_eq!(compare(a, a), Ordering::Equal, "{a:?}");
    assert_eq!(compare(a, b), compare(b, a).reverse(), "{a:?} {b:?}");
    let (ab, bc, ac) = (compare(a, b), compare(b, c), compare(a, c));
    if ab != Ordering::Greater && bc != Ordering::Greater {
        assert_ne!(ac, Ordering::Greater, "{a:?} <= {b:?} <= {c:?}");
    }
}

/// The management API's queue list, then the check's judgement and output from it.
pub fn rabbitmq_json(data: &[u8]) {
    use clap::Parser;
    let queues = match custos_rabbitmq::api::parse_queue_list(data) {
        Ok(q) => q,
        Err(_) => match custos_rabbitmq::api::parse_queue_page(data) {
            Ok((q, _)) => q,
            Err(_) => return,
        },
    };
    let args = check_rabbitmq_queues::Args::try_parse_from(["check_rabbitmq_queues"])
        .expect("default arguments");
    let named: Vec<_> = queues
        .into_iter()
        .map(|q| (q.name.clone(), Some(q)))
        .collect();
    let report =
        check_rabbitmq_queues::assess(&args, named, plugin_core::Findings::default(), 1.7e9, 3);
    let out = render_nagios("RABBITMQ_QUEUES", &report, 4096);
    check_plugin_output(&out, "RABBITMQ_QUEUES", report.state, 4096);
}

/// A Zulip API reply (any status), then the events in it.
pub fn zulip_json(data: &[u8]) {
    use check_send_receive_time::api::{decode, Failure};
    use check_send_receive_time::{scan_events, Seen};
    let Some((&first, body)) = data.split_first() else {
        return;
    };
    let status = [200u16, 400, 401, 403, 404, 500, 502][first as usize % 7];
    let status = custos_http::StatusCode::from_u16(status).expect("a valid status");
    match decode(status, body, "bot@example.com", "GET /api/v1/events") {
        Ok(v) => {
            if let Some(events) = v.get("events").and_then(|e| e.as_array()) {
                let mut last = -1;
                let seen = scan_events(events, &mut last, "probe");
                if seen == Seen::Probe {
                    assert!(events.iter().any(|e| e.to_string().contains("probe")));
                }
            }
        }
        Err(Failure::Check(e)) => assert!(!e.message.contains('\n') || e.message.len() < 10_000),
        Err(Failure::Zulip { .. }) => {}
    }
}

/// A Zulip worker's stats file, judged as the drain-time mode does.
pub fn worker_stats(data: &[u8]) {
    use check_rabbitmq_queues::drain;
    let stats = serde_json::from_slice::<drain::Stats>(data).map_err(|e| e.to_string());
    let v = drain::judge("deferred_work", 120, stats, 1.7e9, &[]);
    assert!(!v.text.contains('\n') && !v.zulip.contains('\n'), "{v:?}");
    if let Some(t) = v.expected {
        assert!(!t.is_nan(), "{v:?}");
    }
}

/// What wal-g and pgBackRest print, and the backup marker file.
pub fn backup_json(data: &[u8]) {
    use check_postgres_backup::sources;
    let _ = sources::parse_walg(data);
    let _ = sources::parse_pgbackrest(data, None);
    let _ = sources::parse_pgbackrest(data, Some("main"));
    let _ = sources::parse_marker(&text(data));
    let _ = sources::start_wal_from_label(&text(data));
}
