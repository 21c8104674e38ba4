//! check_website_response: an HTTP(S) probe — status, content, response time, certificate
//! expiry — replacing Zulip's `check_website_response.sh` and the stock `check_http` uses in
//! Zulip's Nagios configuration (HTTPS status with expected codes, Camo response time, certificate
//! validity, the apt repository's Release file), and a monitor's own `/status/` page.
//!
//! One page: parse the options, fetch (custos-http follows redirects by hand, so that every hop
//! is seen and the certificate checked is the one served for the URL's own host), judge status,
//! content, time and certificate, report. The client owns DNS, TLS, timings and the deadline.
//!
//! Invoked as `check_website_response.sh` (a link of that name), it also takes the old script's
//! syntax: bare `-w`/`-c` numbers are milliseconds, and `-n ARG` turns certificate checks off.

use clap::{Parser, ValueEnum};
use custos_http::{header, shown, Client, Family, Method, Options, Response, TlsArgs, Url};
use plugin_core::args;
use plugin_core::format_number;
use plugin_core::{
    CheckError, CheckResult, Context, Dimension, Findings, Perfdata, Plugin, Range, Report, Secret,
    State, SubResult, Thresholds, Uom,
};
use regex_lite::Regex;
use std::ffi::OsString;
use std::net::{IpAddr, ToSocketAddrs};
use std::path::PathBuf;

pub const PLUGIN: Plugin = Plugin::new("check_website_response", env!("CARGO_PKG_VERSION"))
    .with_rewrite_args(script_syntax);

/// The compatibility name, as Zulip's Nagios configuration called the old script.
pub const SCRIPT_NAME: &str = "check_website_response.sh";

#[derive(Parser, Debug)]
#[command(about = "Check a web site: HTTP status, content, response time and certificate expiry")]
pub struct Args {
    /// URL to request (http:// or https://; IPv6 literals as http://[::1]:8080/)
    #[arg(short = 'u', long = "url", value_name = "URL")]
    pub url: String,

    /// Connect to this address (or host name) instead, keeping the URL's host for Host and SNI
    #[arg(short = 'I', long = "ip", value_name = "ADDR")]
    pub ip: Option<String>,

    /// Connect over IPv4 only
    #[arg(short = '4', long = "ipv4", conflicts_with = "ipv6")]
    pub ipv4: bool,

    /// Connect over IPv6 only
    #[arg(short = '6', long = "ipv6")]
    pub ipv6: bool,

    /// Warning range on the response time (seconds, or 6000ms, 2s) [default: none]
    #[arg(short = 'w', long = "warning", value_name = "RANGE", value_parser = time_range_text)]
    pub warning: Option<String>,

    /// Critical range on the response time (seconds, or 12000ms, 12s) [default: none]
    #[arg(short = 'c', long = "critical", value_name = "RANGE", value_parser = time_range_text)]
    pub critical: Option<String>,

    /// Accepted status codes, e.g. 200,302,401 or 200-299 [default: 2xx and 3xx OK, 4xx WARNING, 5xx CRITICAL]
    #[arg(short = 'e', long = "expect", value_name = "LIST", value_parser = parse_expect)]
    pub expect: Option<Expect>,

    /// Text the body must contain
    #[arg(short = 's', long = "string", value_name = "TEXT")]
    pub string: Option<String>,

    /// Regular expression the body must match
    #[arg(short = 'r', long = "regex", value_name = "RE", value_parser = args::regex)]
    pub regex: Option<Regex>,

    /// CRITICAL when the body matches --regex, instead of when it does not
    #[arg(long = "invert-regex", requires = "regex")]
    pub invert_regex: bool,

    /// What a redirect is: followed, or a result of its own
    #[arg(
        short = 'f',
        long = "onredirect",
        value_name = "ACTION",
        value_enum,
        default_value = "follow"
    )]
    pub onredirect: OnRedirect,

    /// Most redirects to follow
    #[arg(long = "max-redirects", value_name = "N", default_value_t = 15)]
    pub max_redirects: u32,

    /// Days before the certificate expires: WARNING below W, CRITICAL below C (e.g. 30,14)
    #[arg(short = 'C', long = "certificate", value_name = "W[,C]", value_parser = parse_cert_days)]
    pub certificate: Option<CertDays>,

    /// Request header 'Name: value' (repeatable)
    #[arg(short = 'k', long = "header", value_name = "HEADER", value_parser = parse_header)]
    pub header: Vec<(header::HeaderName, header::HeaderValue)>,

    /// Request method
    #[arg(short = 'j', long = "method", value_name = "METHOD", default_value = "GET",
          value_parser = parse_method)]
    pub method: Method,

    /// Request body (sent as application/x-www-form-urlencoded unless a Content-Type header is given)
    #[arg(long = "body", value_name = "TEXT")]
    pub body: Option<String>,

    /// File holding user:password for HTTP Basic authentication (keep it mode 0600)
    #[arg(short = 'a', long = "auth-file", value_name = "FILE")]
    pub auth_file: Option<PathBuf>,

    #[command(flatten)]
    pub tls: TlsArgs,

    /// Most bytes of the body to read; the rest is not read (size units: 512KiB, 4MiB)
    #[arg(long = "max-body", value_name = "BYTES", default_value = "1MiB", value_parser = args::size)]
    pub max_body: u64,

    /// Perfdata for the phases too: DNS, connect, TLS, first byte, transfer (also with -v)
    #[arg(long = "extended-perfdata")]
    pub extended_perfdata: bool,
}

/// What to do with a 3xx response.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum OnRedirect {
    Ok,
    Warning,
    Critical,
    Follow,
}

/// Accepted status codes: inclusive ranges.
#[derive(Clone, Debug, PartialEq)]
pub struct Expect {
    ranges: Vec<(u16, u16)>,
    text: String,
}

impl Expect {
    fn accepts(&self, code: u16) -> bool {
        self.ranges.iter().any(|&(a, b)| (a..=b).contains(&code))
    }
}

/// `200,302,401`, `200-299`; `HTTP/1.1 200` (check_http's form) is read as `200`.
pub fn parse_expect(text: &str) -> Result<Expect, String> {
    let code = |s: &str| -> Result<u16, String> {
        let s = s.trim();
        let s = s.rsplit(' ').next().unwrap_or(s);
        match s.parse::<u16>() {
            Ok(c) if (100..=999).contains(&c) => Ok(c),
            _ => Err(format!("'{s}' is not an HTTP status code")),
        }
    };
    let mut ranges = Vec::new();
    for part in text.split(',').filter(|p| !p.trim().is_empty()) {
        let range = match part.split_once('-') {
            Some((a, b)) => (code(a)?, code(b)?),
            None => (code(part)?, code(part)?),
        };
        if range.0 > range.1 {
            return Err(format!(
                "'{part}': the first code is greater than the second"
            ));
        }
        ranges.push(range);
    }
    if ranges.is_empty() {
        return Err("no status code given".into());
    }
    Ok(Expect {
        ranges,
        text: text.to_string(),
    })
}

/// Certificate thresholds in days.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CertDays {
    pub warning: f64,
    pub critical: Option<f64>,
}

/// `30,14` or `30`.
pub fn parse_cert_days(text: &str) -> Result<CertDays, String> {
    let days = |s: &str| {
        s.trim()
            .parse::<f64>()
            .ok()
            .filter(|d| d.is_finite() && *d >= 0.0)
            .ok_or_else(|| format!("'{s}' is not a number of days"))
    };
    let (w, c) = match text.split_once(',') {
        Some((w, c)) => (days(w)?, Some(days(c)?)),
        None => (days(text)?, None),
    };
    if c.is_some_and(|c| c > w) {
        return Err(format!(
            "'{text}': the critical days must not exceed the warning days"
        ));
    }
    Ok(CertDays {
        warning: w,
        critical: c,
    })
}

fn parse_header(text: &str) -> Result<(header::HeaderName, header::HeaderValue), String> {
    let (name, value) = text
        .split_once(':')
        .ok_or_else(|| format!("'{text}': expected 'Name: value'"))?;
    let name = header::HeaderName::from_bytes(name.trim().as_bytes())
        .map_err(|_| format!("'{}' is not a valid header name", name.trim()))?;
    let value = header::HeaderValue::from_str(value.trim())
        .map_err(|_| format!("the value of header {name} has invalid characters"))?;
    Ok((name, value))
}

fn parse_method(text: &str) -> Result<Method, String> {
    Method::from_bytes(text.as_bytes()).map_err(|_| format!("'{text}' is not an HTTP method"))
}

/// A time range, kept as text: its bare numbers mean seconds, or milliseconds when the binary
/// runs as `check_website_response.sh`, which is known only when the check runs.
fn time_range_text(text: &str) -> Result<String, String> {
    args::time_range(text).map(|_| text.to_string())
}

/// The old script's syntax under its old name: `-n ARG` (getopts `n:`, so also `-nocert`)
/// means "do not check the certificate".
fn script_syntax(invoked_as: &str, argv: Vec<OsString>) -> Vec<OsString> {
    if invoked_as != SCRIPT_NAME {
        return argv;
    }
    let mut out = Vec::with_capacity(argv.len());
    let mut it = argv.into_iter();
    while let Some(arg) = it.next() {
        match arg.to_str() {
            Some("-n") => {
                it.next();
                out.push("--insecure".into());
            }
            Some(a) if a.starts_with("-n") => out.push("--insecure".into()),
            _ => out.push(arg),
        }
    }
    out
}

pub fn check(args: &Args, ctx: &Context) -> CheckResult {
    let thresholds = time_thresholds(args, ctx)?;
    let url = target_url(args)?;
    let fetched = fetch(args, ctx, &url)?;
    let resp = &fetched.response;

    let mut findings = Findings::default();
    let status = judge_status(args, resp);
    let status_is_finding = status.is_some();
    findings.extend(status);
    findings.extend(judge_body(args, resp));
    if let Some((state, why)) = thresholds.alert(fetched.elapsed, Dimension::Time) {
        let text = format!("response time {} ({why})", seconds(fetched.elapsed));
        findings.add(state, text);
    }
    let mut perf = vec![
        Perfdata::new("time", micro(fetched.elapsed))
            .uom(Uom::Seconds)
            .thresholds(&thresholds)
            .min(0.0),
        Perfdata::new("size", resp.body.len() as f64)
            .uom(Uom::Bytes)
            .min(0.0),
    ];
    let mut details = Vec::new();
    if let Some(days) = &args.certificate {
        let cert = judge_certificate(&url, fetched.first_certificate.as_deref(), days)?;
        perf.extend(cert.perfdata.iter().cloned());
        match cert.state {
            State::Ok => details.push(cert.summary),
            state => findings.add(state, cert.summary),
        }
    }
    if args.extended_perfdata || ctx.verbosity > 0 {
        perf.extend(phase_perfdata(&fetched));
    }
    details.extend(describe(args, ctx, &fetched));

    let measured = measured(&fetched, status_is_finding);
    let mut report = Report::new(findings.state(), findings.summary(Some(&measured)));
    report.details = details;
    report.perfdata = perf;
    Ok(report)
}

/// Sends the request `args` describe to `url`, following redirects with `-f follow`.
fn fetch(args: &Args, ctx: &Context, url: &Url) -> Result<custos_http::Fetched, CheckError> {
    let client = client(args, url)?;
    let request = custos_http::Request {
        method: args.method.clone(),
        url: url.clone(),
        headers: args.header.clone(),
        body: args.body.clone(),
        basic_auth: args.auth_file.as_deref().map(read_auth_file).transpose()?,
    };
    let follow = args.onredirect == OnRedirect::Follow;
    client.fetch(
        ctx,
        &request,
        args.max_body as usize,
        follow,
        args.max_redirects,
    )
}

/// What was measured, in words: the status line (unless a finding names it), the size, the
/// time and the redirects followed.
fn measured(fetched: &custos_http::Fetched, status_is_finding: bool) -> String {
    let resp = &fetched.response;
    let mut measured = format!("{} bytes in {}", resp.body.len(), seconds(fetched.elapsed));
    if !status_is_finding {
        measured = format!("{}, {measured}", resp.status_line());
    }
    if !fetched.hops.is_empty() {
        let n = fetched.hops.len();
        measured.push_str(&format!(" after {n} redirect{}", plugin_core::plural(n)));
    }
    measured
}

/// `-w`/`-c` on the response time: bare numbers are seconds, or milliseconds when invoked as
/// the old script.
fn time_thresholds(args: &Args, ctx: &Context) -> Result<Thresholds, CheckError> {
    let factor = if ctx.invoked_as() == SCRIPT_NAME {
        0.001
    } else {
        1.0
    };
    let range = |text: &Option<String>| -> Result<Option<Range>, CheckError> {
        text.as_deref()
            .map(|t| Range::parse_in(t, Dimension::Time, factor))
            .transpose()
            .map_err(|e| CheckError::unknown(e.0))
    };
    if factor != 1.0 {
        // The old script refused a warning above the critical (its usage error, its words).
        let plain = |t: &Option<String>| t.as_deref().and_then(|t| t.trim().parse::<f64>().ok());
        if let (Some(w), Some(c)) = (plain(&args.warning), plain(&args.critical)) {
            if w > c {
                return Err(CheckError::unknown(
                    "Error: Critical must be greater than Warning (check_website_response.sh -w <warning milliseconds> -c <critical milliseconds> -u <url> [ -nocert ])",
                ));
            }
        }
    }
    Ok(Thresholds::new(
        range(&args.warning)?,
        range(&args.critical)?,
    ))
}

/// The URL, which must be http(s) with a host (and https for `--certificate`).
fn target_url(args: &Args) -> Result<Url, CheckError> {
    let url = Url::parse(&args.url)
        .map_err(|e| CheckError::unknown(format!("invalid URL '{}': {e}", args.url)))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(CheckError::unknown(format!(
            "'{}' is not an http:// or https:// URL with a host",
            args.url
        )));
    }
    if args.certificate.is_some() && url.scheme() != "https" {
        return Err(CheckError::unknown("--certificate needs an https:// URL"));
    }
    Ok(url)
}

/// The client: address family, `--ip`, TLS options (roots read now only for an https URL).
fn client(args: &Args, url: &Url) -> Result<Client, CheckError> {
    let family = match (args.ipv4, args.ipv6) {
        (true, _) => Family::V4,
        (_, true) => Family::V6,
        _ => Family::Any,
    };
    let connect_to = match &args.ip {
        Some(ip) => Some(connect_to(url, ip, family)?),
        None => None,
    };
    Client::new(
        &Options {
            tls: args.tls.clone(),
            family,
            connect_to,
            user_agent: PLUGIN.user_agent(),
        },
        url.scheme() == "https",
    )
}

/// Days left on the certificate the URL's host served, against `-C W,C`: the sub-result says
/// "expires in N days" (or "expired N days ago") and carries `cert_days`.
fn judge_certificate(
    url: &Url,
    certificate: Option<&[u8]>,
    days: &CertDays,
) -> Result<SubResult, CheckError> {
    let host = url.host_str().unwrap_or("");
    let der = certificate
        .ok_or_else(|| CheckError::unknown(format!("{host} sent no certificate to check")))?;
    let left = certificate_days(der).map_err(CheckError::unknown)?;
    let thresholds = Thresholds::new(
        Some(Range::below(days.warning)),
        days.critical.map(Range::below),
    );
    let whole = left.trunc();
    let days_text = |d: f64| match d.abs() {
        1.0 => "1 day".to_string(),
        n => format!("{} days", format_number(n)),
    };
    let text = if left < 0.0 {
        format!("the certificate of {host} expired {} ago", days_text(whole))
    } else {
        format!("the certificate of {host} expires in {}", days_text(whole))
    };
    Ok(SubResult::new(thresholds.evaluate(left), text)
        .perf(Perfdata::new("cert_days", whole).thresholds(&thresholds)))
}

/// The phases of the first connection and the last transfer, as perfdata.
fn phase_perfdata(fetched: &custos_http::Fetched) -> Vec<Perfdata> {
    let t = fetched.first_timings;
    [
        ("time_dns", t.dns),
        ("time_connect", t.connect),
        ("time_tls", t.tls),
        ("time_firstbyte", Some(t.first_byte)),
        ("time_transfer", Some(fetched.response.timings.transfer)),
    ]
    .into_iter()
    .filter_map(|(label, d)| {
        Some(
            Perfdata::new(label, micro(d?.as_secs_f64()))
                .uom(Uom::Seconds)
                .min(0.0),
        )
    })
    .collect()
}

/// Long output: a cut body, then more with each `-v` (redirects and the address, headers, the
/// body's start).
fn describe(args: &Args, ctx: &Context, fetched: &custos_http::Fetched) -> Vec<String> {
    let resp = &fetched.response;
    let mut details = Vec::new();
    if resp.truncated {
        details.push(format!(
            "the body is longer than --max-body {}; only that much was read",
            Dimension::Bytes.human(args.max_body as f64)
        ));
    }
    if ctx.verbosity >= 1 {
        details.extend(fetched.hops.iter().map(|h| format!("redirect: {h}")));
        if let Some(addr) = resp.remote {
            details.push(format!("{} answered from {addr}", shown(&resp.url)));
        }
    }
    if ctx.verbosity >= 2 {
        for (name, value) in &resp.headers {
            details.push(format!(
                "{name}: {}",
                String::from_utf8_lossy(value.as_bytes())
            ));
        }
    }
    if ctx.verbosity >= 3 {
        let start = &resp.body[..resp.body.len().min(1000)];
        details.push(format!("body: {}", String::from_utf8_lossy(start)));
    }
    details
}

/// The status against `--expect`, or the default mapping: a finding, or none when it is fine.
fn judge_status(args: &Args, resp: &Response) -> Option<SubResult> {
    let code = resp.status.as_u16();
    let status = resp.status_line();
    if let Some(expect) = &args.expect {
        return (!expect.accepts(code)).then(|| {
            SubResult::new(
                State::Critical,
                format!("{status} (expected {})", expect.text),
            )
        });
    }
    let state = match code {
        200..=299 => State::Ok,
        300..=399 => match args.onredirect {
            OnRedirect::Ok => State::Ok,
            OnRedirect::Warning => State::Warning,
            OnRedirect::Critical => State::Critical,
            // Followed unless it had no Location.
            OnRedirect::Follow => {
                let text = format!("{status} without a Location header");
                return Some(SubResult::new(State::Warning, text));
            }
        },
        400..=499 => State::Warning,
        _ => State::Critical,
    };
    (state != State::Ok).then(|| SubResult::new(state, status))
}

/// `--string` and `--regex` against the body (what was read of it): the findings.
fn judge_body(args: &Args, resp: &Response) -> Vec<SubResult> {
    let where_ = if resp.truncated {
        format!(
            " in the first {} of the body",
            Dimension::Bytes.human(resp.body.len() as f64)
        )
    } else {
        String::new()
    };
    let text = String::from_utf8_lossy(&resp.body);
    let mut found = Vec::new();
    if let Some(s) = &args.string {
        if !text.contains(s.as_str()) {
            found.push(format!("'{s}' not found{where_}"));
        }
    }
    if let Some(re) = &args.regex {
        match (re.is_match(&text), args.invert_regex) {
            (true, true) => found.push(format!("regex '{re}' matched{where_}")),
            (false, false) => found.push(format!("regex '{re}' did not match{where_}")),
            _ => {}
        }
    }
    found
        .into_iter()
        .map(|t| SubResult::new(State::Critical, t))
        .collect()
}

/// Days (fractional) until the certificate's notAfter; negative once expired.
fn certificate_days(der: &[u8]) -> Result<f64, String> {
    let not_after = custos_tls::not_after(der)?;
    let now = jiff::Timestamp::now().as_second();
    Ok((not_after - now) as f64 / 86400.0)
}

/// `user:password` from the first line of FILE; a file others can read is noted.
fn read_auth_file(path: &std::path::Path) -> Result<(String, Secret), CheckError> {
    let secret = plugin_core::secret::read_file(path, "--auth-file")?;
    let (user, password) = secret.expose().split_once(':').ok_or_else(|| {
        CheckError::unknown(format!(
            "--auth-file {}: expected user:password on its first line",
            path.display()
        ))
    })?;
    Ok((user.to_string(), Secret::new(password)))
}

/// `--ip`: an address, or a name resolved now; the URL must name a host to keep.
fn connect_to(url: &Url, ip: &str, family: Family) -> Result<(String, Vec<IpAddr>), CheckError> {
    let host = match url.host() {
        Some(custos_http::Host::Domain(h)) => h.to_string(),
        _ => {
            return Err(CheckError::unknown(
                "--ip needs a host name in the URL (it already names an address)",
            ))
        }
    };
    let bare = ip.trim_start_matches('[').trim_end_matches(']');
    let ips: Vec<IpAddr> = match bare.parse::<IpAddr>() {
        Ok(a) => vec![a],
        Err(_) => {
            plugin_core::substage(format!("resolving {ip}"));
            (ip, 0)
                .to_socket_addrs()
                .map_err(|e| CheckError::critical(format!("cannot resolve --ip {ip}: {e}")))?
                .map(|a| a.ip())
                .collect()
        }
    };
    let ips: Vec<IpAddr> = ips
        .into_iter()
        .filter(|a| match family {
            Family::V4 => a.is_ipv4(),
            Family::V6 => a.is_ipv6(),
            Family::Any => true,
        })
        .collect();
    if ips.is_empty() {
        return Err(CheckError::unknown(format!(
            "--ip {ip} has no address of the chosen family"
        )));
    }
    Ok((host, ips))
}

/// Seconds rounded to the microsecond, for perfdata.
fn micro(s: f64) -> f64 {
    (s * 1e6).round() / 1e6
}

/// `4.2 ms`, `1.250 s`: response times as people read them.
fn seconds(s: f64) -> String {
    if s < 1.0 {
        format!("{:.1} ms", s * 1000.0)
    } else {
        format!("{s:.3} s")
    }
}
