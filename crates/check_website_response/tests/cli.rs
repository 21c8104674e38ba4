//! check_website_response against a real nginx (HTTP, HTTPS with a test CA and three SNI names
//! on one port, redirects, auth, errors) and against misbehaving peers (silent, a byte per
//! second, resets, closes, hostile bodies, 100 MB).

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

use custos_harness::faults::{Fault, FaultServer};
use custos_harness::nginx::{EXPIRED_NAME, GOOD_NAME, SOON_NAME};
use custos_harness::plugin::{run_plugin, run_plugin_with, PluginRun};
use std::os::unix::fs::PermissionsExt;
use std::process::Command;
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_check_website_response");

fn web(args: &[&str]) -> PluginRun {
    run_plugin(BIN, args)
}

fn ca() -> String {
    custos_harness::nginx().ca_cert.display().to_string()
}

/// `(exit code, line 1 without perfdata)`, for compact assertions.
fn result(run: &PluginRun) -> (i32, &str) {
    (run.code, run.text())
}

#[test]
fn plain_http_ok_with_time_and_size() {
    let n = custos_harness::nginx();
    let run = web(&["-u", &n.http_url("/")]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert!(
        run.text()
            .starts_with("WEBSITE_RESPONSE OK - HTTP/1.1 200 OK, 43 bytes in "),
        "{}",
        run.stdout
    );
    let time = run.perf("time");
    assert_eq!(time.uom.as_str(), "s");
    assert_eq!(time.min, Some(0.0));
    assert!(time.value.unwrap() > 0.0 && time.value.unwrap() < 1.0);
    assert_eq!(run.perf("size").value, Some(43.0));
    assert_eq!(run.perf("size").uom.as_str(), "B");
    // No phase perfdata unless asked for.
    assert!(run.perfdata().iter().all(|p| !p.label.starts_with("time_")));
}

#[test]
fn ipv6_literal_urls_work() {
    let n = custos_harness::nginx();
    let url = format!("http://[::1]:{}/status/", n.http_port);
    let run = web(&["-u", &url, "-s", "Checks running", "-v"]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert!(
        run.stdout
            .contains(&format!("answered from [::1]:{}", n.http_port)),
        "{}",
        run.stdout
    );
    // -4 cannot reach an IPv6 literal: a usage problem, not a server problem.
    let run = web(&["-u", &url, "-4"]);
    assert_eq!(
        result(&run),
        (
            3,
            &*format!("WEBSITE_RESPONSE UNKNOWN - {url} names an address that is not IPv4")
        )
    );
}

#[test]
fn cabot_status_page_string() {
    let n = custos_harness::nginx();
    let url = n.http_url("/status/");
    assert_eq!(web(&["-u", &url, "-s", "Checks running"]).code, 0);
    let run = web(&["-u", &url, "-s", "Checks stopped"]);
    assert_eq!(run.code, 2, "{}", run.stdout);
    assert!(
        run.text().starts_with(
            "WEBSITE_RESPONSE CRITICAL - 'Checks stopped' not found; HTTP/1.1 200 OK, 22 bytes in "
        ),
        "{}",
        run.stdout
    );
    // Regex, and its inversion.
    assert_eq!(web(&["-u", &url, "-r", "Checks (running|paused)"]).code, 0);
    let run = web(&["-u", &url, "-r", "Checks r.nning", "--invert-regex"]);
    assert_eq!(run.code, 2);
    assert!(
        run.text().contains("regex 'Checks r.nning' matched"),
        "{}",
        run.stdout
    );
    let run = web(&["-u", &url, "-r", "paused"]);
    assert!(
        run.text().contains("regex 'paused' did not match"),
        "{}",
        run.stdout
    );
    // A bad regex is a usage error.
    let run = web(&["-u", &url, "-r", "a("]);
    assert_eq!(run.code, 3);
    assert!(
        run.text().contains("invalid regular expression"),
        "{}",
        run.stdout
    );
}

#[test]
fn zulip_apt_repository_release_file() {
    let n = custos_harness::nginx();
    let url = n.http_url("/dists/stable/Release");
    let run = web(&["-u", &url, "--expect", "200", "-s", "Contents-amd64"]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    let run = web(&["-u", &n.http_url("/dists/unstable/Release"), "-e", "200"]);
    assert_eq!(run.code, 2, "{}", run.stdout);
    assert!(
        run.text().starts_with(
            "WEBSITE_RESPONSE CRITICAL - HTTP/1.1 404 Not Found (expected 200); 153 bytes in"
        ),
        "{}",
        run.stdout
    );
}

#[test]
fn status_codes_map_to_states() {
    let n = custos_harness::nginx();
    let run = web(&["-u", &n.http_url("/missing")]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert!(run
        .text()
        .starts_with("WEBSITE_RESPONSE WARNING - HTTP/1.1 404 Not Found; "));
    let run = web(&["-u", &n.http_url("/error")]);
    assert_eq!(run.code, 2, "{}", run.stdout);
    assert!(run
        .text()
        .starts_with("WEBSITE_RESPONSE CRITICAL - HTTP/1.1 500 Internal Server Error; 5 bytes in"));
    // Zulip's HTTPS check accepts 200, 302 and 401.
    let private = n.http_url("/private/");
    assert_eq!(web(&["-u", &private]).code, 1);
    assert_eq!(web(&["-u", &private, "-e", "200,302,401"]).code, 0);
    assert_eq!(web(&["-u", &private, "-e", "200-299"]).code, 2);
    let run = web(&["-u", &n.http_url("/unavailable"), "-e", "200,302,401"]);
    assert!(
        run.text().starts_with(
            "WEBSITE_RESPONSE CRITICAL - HTTP/1.1 503 Service Unavailable (expected 200,302,401)"
        ),
        "{}",
        run.stdout
    );
    for bad in ["abc", "99", "300-200", ""] {
        let run = web(&["-u", &private, "-e", bad]);
        assert_eq!(run.code, 3, "{bad}: {}", run.stdout);
    }
}

#[test]
fn redirects_followed_counted_and_judged() {
    let n = custos_harness::nginx();
    let run = web(&["-u", &n.http_url("/redirect"), "-v"]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert!(
        run.text().ends_with(" ms after 1 redirect"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains(&format!(
        "redirect: 301 {} -> {}",
        n.http_url("/redirect"),
        n.http_url("/index.html")
    )));
    let run = web(&["-u", &n.http_url("/hop1")]);
    assert!(
        run.text().ends_with(" ms after 3 redirects"),
        "{}",
        run.stdout
    );
    // Not followed: the redirect is the result.
    let run = web(&["-u", &n.http_url("/redirect"), "-f", "ok"]);
    assert_eq!(run.code, 0);
    assert!(
        run.text().contains("301 Moved Permanently"),
        "{}",
        run.stdout
    );
    let run = web(&["-u", &n.http_url("/redirect"), "--onredirect", "critical"]);
    assert_eq!(run.code, 2);
    let run = web(&["-u", &n.http_url("/redirect"), "-f", "warning"]);
    assert_eq!(run.code, 1);
    // Too many, and loops.
    let run = web(&["-u", &n.http_url("/hop1"), "--max-redirects", "2"]);
    assert_eq!(
        result(&run),
        (
            2,
            &*format!(
                "WEBSITE_RESPONSE CRITICAL - more than 2 redirects, the last to {}",
                n.http_url("/index.html")
            )
        )
    );
    assert_eq!(
        run.stdout.lines().count(),
        4,
        "every hop listed: {}",
        run.stdout
    );
    let run = web(&["-u", &n.http_url("/loop-a")]);
    assert_eq!(
        result(&run),
        (
            2,
            &*format!(
                "WEBSITE_RESPONSE CRITICAL - redirect loop: {} -> {}",
                n.http_url("/loop-b"),
                n.http_url("/loop-a")
            )
        )
    );
}

#[test]
fn https_with_sni_and_certificate_days() {
    let n = custos_harness::nginx();
    let ca = ca();
    let tls = |name: &str, extra: &[&str]| {
        let url = n.https_url(name, "/");
        let mut args = vec!["-u", &url, "-I", "127.0.0.1", "--ca-cert", &ca];
        args.extend_from_slice(extra);
        web(&args)
    };
    let run = tls(GOOD_NAME, &["-C", "30,14", "-v"]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert!(run.stdout.contains(&format!(
        "the certificate of {GOOD_NAME} expires in 59 days"
    )));
    let cert = run.perf("cert_days");
    assert_eq!(cert.value, Some(59.0));
    assert_eq!(cert.warning.unwrap().to_string(), "30:");
    assert_eq!(cert.critical.unwrap().to_string(), "14:");
    // Same port, the other SNI name: the other certificate (10 days left).
    let run = tls(SOON_NAME, &["-C", "30,14"]);
    assert_eq!(run.code, 2, "{}", run.stdout);
    assert!(run.text().starts_with(&format!(
        "WEBSITE_RESPONSE CRITICAL - the certificate of {SOON_NAME} expires in 9 days; HTTP/1.1 200 OK"
    )));
    assert_eq!(run.perf("cert_days").value, Some(9.0));
    assert_eq!(tls(SOON_NAME, &["-C", "20,5"]).code, 1);
    assert_eq!(tls(SOON_NAME, &["--certificate", "5"]).code, 0);
    // Phase timings with --extended-perfdata: TCP connect and TLS, no DNS (--ip asks no one).
    let run = tls(GOOD_NAME, &["--extended-perfdata"]);
    for label in [
        "time_connect",
        "time_tls",
        "time_firstbyte",
        "time_transfer",
    ] {
        let v = run.perf(label).value.unwrap();
        assert!((0.0..1.0).contains(&v), "{label}={v}");
    }
    assert!(run.perfdata().iter().all(|p| p.label != "time_dns"));
    assert!(run.perf("time_tls").value < run.perf("time_firstbyte").value);
}

#[test]
fn tls_failures_say_what_failed() {
    let n = custos_harness::nginx();
    let ca = ca();
    let good = n.https_url(GOOD_NAME, "/");
    // The test CA is not in the system store.
    let run = web(&["-u", &good, "-I", "127.0.0.1"]);
    assert_eq!(
        result(&run),
        (
            2,
            "WEBSITE_RESPONSE CRITICAL - TLS: the certificate of a.custos.test is signed by an unknown CA"
        )
    );
    let expired = n.https_url(EXPIRED_NAME, "/");
    let run = web(&["-u", &expired, "-I", "127.0.0.1", "--ca-cert", &ca]);
    assert_eq!(
        result(&run),
        (
            2,
            "WEBSITE_RESPONSE CRITICAL - TLS: the certificate of expired.custos.test has expired"
        )
    );
    // Not verified, the expiry is still judged.
    let run = web(&[
        "-u",
        &expired,
        "-I",
        "127.0.0.1",
        "--insecure",
        "-C",
        "30,14",
    ]);
    assert_eq!(run.code, 2);
    assert!(run.text().starts_with(
        "WEBSITE_RESPONSE CRITICAL - the certificate of expired.custos.test expired 1 day ago; HTTP/1.1 200 OK"
    ), "{}", run.stdout);
    // A name the server has no certificate for: the default one (a.custos.test) is wrong.
    let wrong = n.https_url("wrong.custos.test", "/");
    let run = web(&["-u", &wrong, "-I", "127.0.0.1", "--ca-cert", &ca]);
    assert_eq!(
        result(&run),
        (
            2,
            "WEBSITE_RESPONSE CRITICAL - TLS: the certificate is not valid for wrong.custos.test (it names a.custos.test)"
        )
    );
    // TLS to a plain-HTTP port.
    let run = web(&["-u", &format!("https://127.0.0.1:{}/", n.http_port)]);
    assert_eq!(run.code, 2);
    assert!(
        run.text().contains("the server does not speak TLS"),
        "{}",
        run.stdout
    );
    // A CA file that is not there is the operator's problem: UNKNOWN, before connecting.
    let run = web(&["-u", &good, "--ca-cert", "/nonexistent/ca.crt"]);
    assert_eq!(
        result(&run),
        (
            3,
            "WEBSITE_RESPONSE UNKNOWN - root certificate file \"/nonexistent/ca.crt\" does not exist"
        )
    );
    // ... but a plain-HTTP check never reads CA files (nor the system store).
    let run = web(&["-u", &n.http_url("/"), "--ca-cert", "/nonexistent/ca.crt"]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    let run = web(&["-u", &n.http_url("/"), "-C", "30"]);
    assert_eq!(
        result(&run),
        (
            3,
            "WEBSITE_RESPONSE UNKNOWN - --certificate needs an https:// URL"
        )
    );
}

#[test]
fn redirect_from_http_to_https_keeps_the_ip_override() {
    let n = custos_harness::nginx();
    let url = format!("http://{GOOD_NAME}:{}/to-https", n.http_port);
    let run = web(&[
        "-u",
        &url,
        "-I",
        "127.0.0.1",
        "--ca-cert",
        &ca(),
        "-s",
        "Checks running",
    ]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert!(run.text().ends_with("after 1 redirect"), "{}", run.stdout);
}

#[test]
fn credentials_stay_with_the_urls_own_origin_and_post_redirect_get_is_no_loop() {
    let n = custos_harness::nginx();
    let creds = [
        "-k",
        "Authorization: Bearer s3cret",
        "-k",
        "Cookie: session=c00kie",
        "-k",
        "X-Custos: kept",
    ];
    // The same origin: every header reaches the page.
    let (same, other) = (n.http_url("/to-same-host"), n.http_url("/to-other-host"));
    let mut args = vec!["-u", same.as_str()];
    args.extend(creds);
    args.extend([
        "-s",
        "authorization=Bearer s3cret cookie=session=c00kie x-custos=kept",
    ]);
    let run = web(&args);
    assert_eq!(run.code, 0, "{}", run.stdout);
    // Another host (the same server as [::1]): credentials are not sent, other headers are.
    let mut args = vec!["-u", other.as_str()];
    args.extend(creds);
    args.extend(["-s", "authorization= cookie= x-custos=kept"]);
    let run = web(&args);
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert!(!run.stdout.contains("s3cret") && !run.stdout.contains("c00kie"));
    // POST, 303 to the same URL, GET: a form's usual answer, not a loop.
    let run = web(&[
        "-u",
        &n.http_url("/form"),
        "-j",
        "POST",
        "--body",
        "a=1",
        "-s",
        "form method=GET",
    ]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert!(run.text().ends_with("after 1 redirect"), "{}", run.stdout);
}

#[test]
fn headers_method_body_and_basic_auth() {
    let n = custos_harness::nginx();
    // Zulip's Camo check sends Accept-Encoding: identity.
    let run = web(&[
        "-u",
        &n.http_url("/echo"),
        "-k",
        "Accept-Encoding: identity",
        "--header",
        "X-Custos: hello",
        "-j",
        "POST",
        "--body",
        "a=1",
        "-s",
        "method=POST x-custos=hello accept-encoding=identity",
    ]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    for bad in [
        &["-k", "no colon"][..],
        &["-k", "Bad Name: x"],
        &["-j", "GE T"],
    ] {
        let mut args = vec!["-u", "http://127.0.0.1/"];
        args.extend_from_slice(bad);
        assert_eq!(web(&args).code, 3, "{bad:?}");
    }

    let dir = tempfile::tempdir().unwrap();
    let auth = dir.path().join("auth");
    std::fs::write(&auth, format!("{}:{}\n", n.user, n.password)).unwrap();
    std::fs::set_permissions(&auth, std::fs::Permissions::from_mode(0o600)).unwrap();
    let private = n.http_url("/private/");
    let run = web(&["-u", &private, "-a", auth.to_str().unwrap(), "-vvv"]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert!(
        !run.stdout.contains(&n.password),
        "the password never shows"
    );
    assert!(!run.stdout.contains("readable by others"));
    std::fs::set_permissions(&auth, std::fs::Permissions::from_mode(0o644)).unwrap();
    let run = web(&["-u", &private, "--auth-file", auth.to_str().unwrap()]);
    assert_eq!(run.code, 0);
    assert!(run
        .stdout
        .contains("holds a secret and is readable by others (mode 0644)"));
    // Wrong password: the server's 401, a WARNING by default.
    std::fs::write(&auth, format!("{}:wrong\n", n.user)).unwrap();
    assert_eq!(web(&["-u", &private, "-a", auth.to_str().unwrap()]).code, 1);
    std::fs::write(&auth, "no colon here\n").unwrap();
    let run = web(&["-u", &private, "-a", auth.to_str().unwrap()]);
    assert_eq!(run.code, 3);
    assert!(run
        .text()
        .ends_with("expected user:password on its first line"));
    let run = web(&["-u", &private, "-a", "/nonexistent/auth"]);
    assert_eq!(run.code, 3);
    assert!(run
        .text()
        .contains("cannot read --auth-file /nonexistent/auth"));
}

#[test]
fn response_time_thresholds_in_seconds_or_units() {
    let n = custos_harness::nginx();
    let url = n.http_url("/");
    let run = web(&["-u", &url, "-w", "6", "-c", "12s"]);
    assert_eq!(run.code, 0);
    let time = run.perf("time");
    assert_eq!(time.warning.unwrap().to_string(), "6");
    assert_eq!(time.critical.unwrap().to_string(), "12");
    let run = web(&["-u", &url, "-w", "1us"]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert!(run.text().contains("(warning > 0.001ms)"), "{}", run.stdout);
    assert!(
        run.text().contains(" ms ("),
        "sub-second times in ms: {}",
        run.stdout
    );
    assert_eq!(web(&["-u", &url, "-c", "1us"]).code, 2);
    assert_eq!(web(&["-u", &url, "-w", "5MiB"]).code, 3);
}

/// The old script's name: bare numbers are milliseconds, `-n ARG` skips certificate checks.
#[test]
fn invoked_as_the_old_script() {
    let n = custos_harness::nginx();
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("check_website_response.sh");
    std::os::unix::fs::symlink(BIN, &link).unwrap();
    let url = n.http_url("/");
    let run = run_plugin(
        link.to_str().unwrap(),
        ["-u", &url, "-w", "6000", "-c", "12000"],
    );
    assert_eq!(run.code, 0, "{}", run.stdout);
    let time = run.perf("time");
    assert_eq!(time.warning.unwrap().to_string(), "6");
    assert_eq!(time.critical.unwrap().to_string(), "12");
    // 0.001 ms (1 µs) is exceeded by any real request: bare numbers are ms.
    let run = run_plugin(link.to_str().unwrap(), ["-u", &url, "-w", "0.001"]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert_eq!(run.perf("time").warning.unwrap().to_string(), "0.000001");
    // A warning above the critical is the old script's usage error; under its own name a
    // Nagios range pair is not compared that way.
    let run = run_plugin(
        link.to_str().unwrap(),
        ["-u", &url, "-w", "12000", "-c", "6000"],
    );
    assert_eq!(run.code, 3, "{}", run.stdout);
    assert!(
        run.text()
            .contains("Error: Critical must be greater than Warning"),
        "{}",
        run.stdout
    );
    let run = run_plugin(
        link.to_str().unwrap(),
        ["-u", &url, "-w", "6000", "-c", "6000"],
    );
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert_eq!(web(&["-u", &url, "-w", "12", "-c", "6"]).code, 0);
    // Under its own name, the same numbers are seconds.
    let run = web(&["-u", &url, "-w", "0.001"]);
    assert_eq!(run.perf("time").warning.unwrap().to_string(), "0.001");
    let https = n.https_url(GOOD_NAME, "/");
    for nocert in [&["-n", "yes"][..], &["-nocert"]] {
        let mut args = vec!["-u", &https, "-I", "127.0.0.1"];
        args.extend_from_slice(nocert);
        let run = run_plugin(link.to_str().unwrap(), &args);
        assert_eq!(run.code, 0, "{nocert:?}: {}", run.stdout);
    }
}

#[test]
fn refused_and_unresolvable() {
    let port = custos_harness::util::free_port().unwrap();
    let run = web(&["-u", &format!("http://127.0.0.1:{port}/")]);
    assert_eq!(
        result(&run),
        (
            2,
            &*format!("WEBSITE_RESPONSE CRITICAL - connection refused by 127.0.0.1:{port}")
        )
    );
    let run = web(&["-u", "http://custos-no-such-host.invalid/"]);
    assert_eq!(run.code, 2, "{}", run.stdout);
    assert!(
        run.text().starts_with(
            "WEBSITE_RESPONSE CRITICAL - cannot resolve custos-no-such-host.invalid: "
        ),
        "{}",
        run.stdout
    );
    for (url, why) in [
        (
            "ftp://example.org/",
            "is not an http:// or https:// URL with a host",
        ),
        ("not a url", "invalid URL 'not a url'"),
    ] {
        let run = web(&["-u", url]);
        assert_eq!(run.code, 3);
        assert!(run.text().contains(why), "{}", run.stdout);
    }
}

/// A peer that accepts and never answers, one that answers a byte per second: the run ends
/// within -t + 0.5 s with the timeout state, says where it was, and closes its connection.
#[test]
fn deadline_against_silent_and_trickling_peers() {
    let trickle = Fault::Trickle(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok".to_vec());
    for fault in [Fault::Silent, trickle] {
        let peer = FaultServer::start(fault.clone());
        let url = format!("http://127.0.0.1:{}/", peer.port);
        let run = web(&["-u", &url, "-t", "2"]);
        assert!(
            run.elapsed < Duration::from_millis(2500),
            "{fault:?}: {:?}",
            run.elapsed
        );
        assert_eq!(
            result(&run),
            (
                3,
                &*format!(
                    "WEBSITE_RESPONSE UNKNOWN - timed out after 2 seconds while waiting for the response from 127.0.0.1:{}",
                    peer.port
                )
            ),
            "{fault:?}"
        );
        assert!(
            peer.all_closed(Duration::from_secs(1)),
            "{fault:?}: left open"
        );
        let run = web(&["-u", &url, "-t", "1", "--timeout-result", "critical"]);
        assert_eq!(run.code, 2);
        assert!(
            run.elapsed < Duration::from_millis(1500),
            "{:?}",
            run.elapsed
        );
    }
}

#[test]
fn resets_and_closes_are_named() {
    let reset = FaultServer::start(Fault::Reset);
    let run = web(&["-u", &format!("http://127.0.0.1:{}/", reset.port)]);
    assert_eq!(
        result(&run),
        (
            2,
            &*format!(
                "WEBSITE_RESPONSE CRITICAL - connection reset by 127.0.0.1:{} before answering",
                reset.port
            )
        )
    );
    let close = FaultServer::start(Fault::Close);
    let run = web(&["-u", &format!("http://127.0.0.1:{}/", close.port)]);
    assert_eq!(
        result(&run),
        (
            2,
            &*format!(
                "WEBSITE_RESPONSE CRITICAL - 127.0.0.1:{} closed the connection before answering",
                close.port
            )
        )
    );
    let garbage = FaultServer::start(Fault::Reply(b"SSH-2.0-OpenSSH_9.2\r\n\r\n".to_vec()));
    let run = web(&["-u", &format!("http://127.0.0.1:{}/", garbage.port)]);
    assert_eq!(run.code, 2, "{}", run.stdout);
    assert!(
        run.text().starts_with(&format!(
            "WEBSITE_RESPONSE CRITICAL - invalid HTTP response from 127.0.0.1:{}",
            garbage.port
        )),
        "{}",
        run.stdout
    );
}

/// A body of `|`, newlines, quotes and escapes never splits line 1 or corrupts perfdata.
#[test]
fn hostile_bodies_stay_in_their_place() {
    let body = "a|b\nCRITICAL - fake | fake=1;2;3\r\n'\"\x1b[31m|=|\n";
    let reply = format!(
        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nX-Evil: a|b\r\n\r\n{body}",
        body.len()
    );
    let peer = FaultServer::start(Fault::Reply(reply.into_bytes()));
    let url = format!("http://127.0.0.1:{}/", peer.port);
    let run = web(&["-u", &url, "-s", "absent", "-vvv"]);
    assert_eq!(run.code, 2, "{}", run.stdout);
    assert_eq!(run.first_line().matches(" | ").count(), 1, "{}", run.stdout);
    assert!(run
        .text()
        .starts_with("WEBSITE_RESPONSE CRITICAL - 'absent' not found; HTTP/1.1 200 OK"));
    // Only the perfdata separator carries a |; the body shows in long output, made safe.
    assert_eq!(run.stdout.matches('|').count(), 1, "{}", run.stdout);
    assert!(run.stdout.contains("x-evil: a/b"), "{}", run.stdout);
    assert!(!run.stdout.contains('\x1b'));
    assert_eq!(run.perf("size").value, Some(body.len() as f64));
    // time, size, and with -v the phases (no DNS for an address, no TLS for http).
    assert_eq!(run.perfdata().len(), 5);
}

#[test]
fn a_huge_body_is_read_only_up_to_max_body() {
    let peer = FaultServer::start(Fault::Huge(100 * 1024 * 1024));
    let url = format!("http://127.0.0.1:{}/", peer.port);
    let run = web(&["-u", &url, "-t", "5"]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert!(run.elapsed < Duration::from_secs(2), "{:?}", run.elapsed);
    assert_eq!(run.perf("size").value, Some(1048576.0));
    assert!(run
        .stdout
        .contains("the body is longer than --max-body 1MiB; only that much was read"));
    let run = web(&["-u", &url, "--max-body", "64KiB", "-s", "needle"]);
    assert_eq!(run.code, 2);
    assert!(
        run.text().starts_with(
            "WEBSITE_RESPONSE CRITICAL - 'needle' not found in the first 64KiB of the body"
        ),
        "{}",
        run.stdout
    );
    assert!(peer.all_closed(Duration::from_secs(2)));
}

#[test]
fn json_output_and_help() {
    let n = custos_harness::nginx();
    let run = web(&["-u", &n.http_url("/"), "--output-format", "json"]);
    let v: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(v["state"], "OK");
    assert_eq!(v["perfdata"][1]["label"], "size");
    assert_eq!(v["perfdata"][1]["value"], 43);
    let help = run_plugin_with(Command::new(BIN).arg("--help"));
    assert_eq!(help.code, 3);
    for opt in [
        "--url",
        "--ip",
        "--expect",
        "--certificate",
        "--insecure",
        "--ca-cert",
        "--max-body",
    ] {
        assert!(help.stdout.contains(opt), "{opt}");
    }
}
