//! custos-http: the HTTP(S) client of custos' checks (the website check, the RabbitMQ
//! management API, the Zulip API).
//!
//! reqwest (async) on a current-thread tokio runtime, HTTP/1.1, rustls through
//! [`custos_tls::Verifier`]:
//! - **Start-up cost kept down** (measured, see BENCHMARKS.md): no proxy lookup, and the system
//!   trust store is read only when a TLS handshake needs it, so a plain-HTTP check never reads
//!   it. The async client on the caller's thread avoids the blocking client's extra runtime
//!   thread and channel hops.
//! - **One deadline**: a request and its body end before the check's deadline; the step
//!   (`resolving X`, `connecting to A`, `TLS handshake with X`, `waiting for the response`,
//!   `reading the body`) is kept current as the runner's substage, for the timeout message.
//! - **Our own resolver**, so that `-4`/`-6`, `--ip` (connect elsewhere, keep the name for Host
//!   and SNI) and DNS failures are ours to report, and its time is measured.
//! - **Timings** of the first connection: DNS, TCP connect, TLS handshake, first byte, transfer.
//! - **Failures in words** ([`describe`]): DNS, refused, reset, TLS (expired, wrong name, unknown
//!   CA), a server that closed without answering; all CRITICAL, the deadline its own state.
//! - **Bodies capped** (`max_body`): the rest is never read.

#![deny(missing_docs)]

mod probe;

use plugin_core::{CheckError, Context};
use probe::{Probe, Resolver, TimingLayer, TimingStore};
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub use probe::Timings;
pub use reqwest::{header, Method, RequestBuilder, StatusCode, Url, Version};
pub use url::Host;

/// TLS options of every HTTP-speaking check.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct TlsArgs {
    /// Do not verify the server's certificate (the connection is still encrypted)
    #[arg(short = 'n', long = "insecure", help_heading = "TLS")]
    pub insecure: bool,

    /// Also trust the CA certificates in FILE (PEM), besides the system's
    #[arg(long = "ca-cert", value_name = "FILE", help_heading = "TLS")]
    pub ca_cert: Option<PathBuf>,
}

/// Which address family to connect with.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Family {
    #[default]
    /// IPv4 or IPv6, as the name resolves.
    Any,
    /// IPv4 only (`-4`).
    V4,
    /// IPv6 only (`-6`).
    V6,
}

impl Family {
    fn admits(self, ip: &IpAddr) -> bool {
        match self {
            Family::Any => true,
            Family::V4 => ip.is_ipv4(),
            Family::V6 => ip.is_ipv6(),
        }
    }

    fn name(self) -> &'static str {
        match self {
            Family::Any => "IP",
            Family::V4 => "IPv4",
            Family::V6 => "IPv6",
        }
    }
}

/// How the client connects.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// Certificate verification and roots.
    pub tls: TlsArgs,
    /// The address family.
    pub family: Family,
    /// Connect to these addresses whenever the URL names this host (`--ip`); the host name is
    /// still sent in `Host` and used for SNI and the certificate check.
    pub connect_to: Option<(String, Vec<IpAddr>)>,
    /// `User-Agent`, e.g. `custos/check_website_response 0.1.0`.
    pub user_agent: String,
}

/// A response with its body read (up to the cap).
#[derive(Debug)]
pub struct Response {
    /// The URL answered.
    pub url: Url,
    /// The status code.
    pub status: StatusCode,
    /// The HTTP version of the reply.
    pub version: Version,
    /// The reply's headers.
    pub headers: header::HeaderMap,
    /// The body, up to the cap.
    pub body: Vec<u8>,
    /// The body was longer than the cap; the rest was not read.
    pub truncated: bool,
    /// The address the connection went to.
    pub remote: Option<SocketAddr>,
    /// The server's certificate (DER), for HTTPS.
    pub peer_certificate: Option<Vec<u8>>,
    /// How long each phase took (resolve, connect, TLS, first byte, body).
    pub timings: Timings,
}

impl Response {
    /// `HTTP/1.1 200 OK`
    pub fn status_line(&self) -> String {
        format!("{:?} {}", self.version, self.status)
    }
}

/// The HTTP client of one check run.
pub struct Client {
    http: reqwest::Client,
    rt: tokio::runtime::Runtime,
    probe: Arc<Probe>,
    family: Family,
}

/// Where a response's body goes.
enum Sink<'a> {
    /// Kept, up to this many bytes.
    Keep(usize),
    /// Handed over chunk by chunk (a successful response's).
    Stream(&'a mut dyn FnMut(&[u8]) -> Result<(), String>),
}

/// A request to send, with what following its redirects needs to know.
#[derive(Clone, Debug)]
pub struct Request {
    /// The method (a 303, or a 301/302 after anything but GET/HEAD, turns it into GET).
    pub method: Method,
    /// The URL.
    pub url: Url,
    /// Extra headers, on every hop (credentials only to the URL's own origin).
    pub headers: Vec<(header::HeaderName, header::HeaderValue)>,
    /// A body (`application/x-www-form-urlencoded` unless a Content-Type header is given).
    pub body: Option<String>,
    /// HTTP Basic credentials, sent to the URL's own origin only, never where it redirects.
    pub basic_auth: Option<(String, plugin_core::Secret)>,
}

/// What [`Client::fetch`] ended with: the last response, the redirects followed on the way,
/// and the first response's certificate and timings (the URL's own host, not where it led).
#[derive(Debug)]
pub struct Fetched {
    /// The last response (not a followed redirect).
    pub response: Response,
    /// One line per redirect followed: `301 http://a/ -> https://a/`.
    pub hops: Vec<String>,
    /// The certificate the URL's own host served (HTTPS).
    pub first_certificate: Option<Vec<u8>>,
    /// The first connection's timings.
    pub first_timings: Timings,
    /// Seconds from the first request to the last body.
    pub elapsed: f64,
}

/// A URL for messages: a password in it (`http://user:secret@host/`) is left out.
pub fn shown(url: &Url) -> String {
    let mut url = url.clone();
    if url.password().is_some() {
        let _ = url.set_password(None);
    }
    url.to_string()
}

/// Time kept back from the deadline so that the check reports the timeout itself.
const MARGIN: Duration = Duration::from_millis(50);

impl Client {
    /// A client for `options`. With `tls_now` (an https URL), bad CA files are reported now;
    /// otherwise the roots are read only if a redirect leads to https.
    pub fn new(options: &Options, tls_now: bool) -> Result<Client, CheckError> {
        let check = if options.tls.insecure {
            custos_tls::Check::Nothing
        } else {
            custos_tls::Check::ChainAndName
        };
        let mut roots = vec![PathBuf::from("system")];
        roots.extend(options.tls.ca_cert.clone());
        let verifier = custos_tls::Verifier::new(check, roots);
        if tls_now {
            verifier.load().map_err(CheckError::unknown)?;
        }
        let probe = Arc::new(Probe::default());
        let mut tls = verifier.client_config().map_err(CheckError::unknown)?;
        tls.resumption = custos_tls::rustls::client::Resumption::store(Arc::new(TimingStore::new(
            probe.clone(),
        )));
        let http = reqwest::Client::builder()
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .tls_backend_preconfigured(tls)
            .tls_info(true)
            .http1_only()
            .user_agent(options.user_agent.clone())
            .dns_resolver(Arc::new(Resolver::new(
                probe.clone(),
                options.family,
                options.connect_to.clone(),
            )))
            .connector_layer(TimingLayer(probe.clone()))
            .build()
            .map_err(|e| CheckError::unknown(format!("cannot set up the HTTP client: {e}")))?;
        let rt = plugin_core::runtime()?;
        Ok(Client {
            http,
            rt,
            probe,
            family: options.family,
        })
    }

    /// Sends `req`, following redirects by hand when `follow` (so that every hop is seen, and
    /// the certificate judged is the one the URL's own host served), at most `max_redirects`;
    /// more, a loop, or an invalid Location is CRITICAL, naming the hops.
    // About 70 lines on purpose: the redirect loop keeps its hops, the URLs seen and the first
    // certificate together, from one request to the next.
    pub fn fetch(
        &self,
        ctx: &Context,
        req: &Request,
        max_body: usize,
        follow: bool,
        max_redirects: u32,
    ) -> Result<Fetched, CheckError> {
        let started = Instant::now();
        let mut current = req.url.clone();
        let mut method = req.method.clone();
        let mut body = req.body.clone();
        // A loop is the same request again: POST /form -> 303 -> GET /form is not one.
        let mut visited: Vec<(Method, Url)> = Vec::new();
        let mut hops: Vec<String> = Vec::new();
        let mut first: Option<(Option<Vec<u8>>, Timings)> = None;
        loop {
            let resp = self.send(ctx, self.build(req, &current, &method, &body), max_body)?;
            let (first_certificate, first_timings) = first
                .get_or_insert_with(|| (resp.peer_certificate.clone(), resp.timings))
                .clone();
            let location = resp.headers.get(header::LOCATION).cloned();
            let location = match location {
                Some(l) if follow && resp.status.is_redirection() => l,
                _ => {
                    return Ok(Fetched {
                        response: resp,
                        hops,
                        first_certificate,
                        first_timings,
                        elapsed: started.elapsed().as_secs_f64(),
                    })
                }
            };
            let next = location
                .to_str()
                .ok()
                .and_then(|l| current.join(l).ok())
                .filter(|u| matches!(u.scheme(), "http" | "https"))
                .ok_or_else(|| {
                    CheckError::critical(format!(
                        "{} redirects to an invalid Location '{}'",
                        shown(&current),
                        String::from_utf8_lossy(location.as_bytes())
                    ))
                })?;
            let code = resp.status.as_u16();
            hops.push(format!("{code} {} -> {}", shown(&current), shown(&next)));
            visited.push((method.clone(), current.clone()));
            if hops.len() > max_redirects as usize {
                return Err(CheckError::critical(format!(
                    "more than {max_redirects} redirects, the last to {}",
                    shown(&next)
                ))
                .details(&hops));
            }
            // 303, and 301/302 after anything but GET/HEAD, become GET without a body (browsers).
            if code == 303
                || (matches!(code, 301 | 302) && method != Method::GET && method != Method::HEAD)
            {
                method = Method::GET;
                body = None;
            }
            if visited.contains(&(method.clone(), next.clone())) {
                return Err(CheckError::critical(format!(
                    "redirect loop: {} -> {}",
                    shown(&current),
                    shown(&next)
                ))
                .details(&hops));
            }
            current = next;
        }
    }

    /// One hop of `req`: its headers, credentials (the URL's own origin only: Basic auth, and
    /// the `Authorization`, `Proxy-Authorization` and `Cookie` headers, as curl and browsers
    /// drop them on a redirect elsewhere) and body.
    fn build(
        &self,
        req: &Request,
        url: &Url,
        method: &Method,
        body: &Option<String>,
    ) -> reqwest::RequestBuilder {
        let mut b = self.request(method.clone(), url.clone());
        let same_origin = url.origin() == req.url.origin();
        for (name, value) in &req.headers {
            let credential = [
                header::AUTHORIZATION,
                header::PROXY_AUTHORIZATION,
                header::COOKIE,
            ]
            .contains(name);
            if same_origin || !credential {
                b = b.header(name, value);
            }
        }
        if let Some((user, password)) = &req.basic_auth {
            if same_origin {
                b = b.basic_auth(user, Some(password.expose()));
            }
        }
        if let Some(text) = body {
            if !req.headers.iter().any(|(n, _)| n == header::CONTENT_TYPE) {
                b = b.header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
            }
            b = b.body(text.clone());
        }
        b
    }

    /// A request to build on (headers, auth, body), sent with [`Client::send`].
    pub fn request(&self, method: Method, url: Url) -> reqwest::RequestBuilder {
        self.http.request(method, url)
    }

    /// Sends a request and reads at most `max_body` bytes of the body, within the deadline.
    /// Failures are CRITICAL with what failed; the deadline gives the timeout state.
    pub fn send(
        &self,
        ctx: &Context,
        request: reqwest::RequestBuilder,
        max_body: usize,
    ) -> Result<Response, CheckError> {
        self.send_within(ctx, request, max_body, ctx.remaining())?
            .ok_or_else(|| ctx.timed_out())
    }

    /// The same, giving up after `limit` (a long poll that must leave time for cleaning up):
    /// `Ok(None)` when the limit (or the deadline) passed first.
    pub fn send_within(
        &self,
        ctx: &Context,
        request: reqwest::RequestBuilder,
        max_body: usize,
        limit: Duration,
    ) -> Result<Option<Response>, CheckError> {
        self.send_to(ctx, request, Sink::Keep(max_body), limit)
    }

    /// Sends `request` and hands a successful response's body to `read` chunk by chunk, as it
    /// arrives, holding none of it: memory stays flat whatever the body's size. `read` returns
    /// an error to stop (UNKNOWN with its words). The response's `body` holds at most 64 KiB of
    /// an unsuccessful reply (for its reason), and nothing of a successful one.
    pub fn send_streaming(
        &self,
        ctx: &Context,
        request: reqwest::RequestBuilder,
        read: &mut dyn FnMut(&[u8]) -> Result<(), String>,
    ) -> Result<Response, CheckError> {
        self.send_to(ctx, request, Sink::Stream(read), ctx.remaining())?
            .ok_or_else(|| ctx.timed_out())
    }

    // One function, about 85 lines, on purpose: the request, the headers and the body are one
    // async block under one timeout, so that the deadline covers them together.
    fn send_to(
        &self,
        ctx: &Context,
        request: reqwest::RequestBuilder,
        mut sink: Sink<'_>,
        limit: Duration,
    ) -> Result<Option<Response>, CheckError> {
        let request = request
            .build()
            .map_err(|e| CheckError::unknown(format!("invalid request: {e}")))?;
        let url = request.url().clone();
        if let Some(ip) = literal_ip(&url) {
            if !self.family.admits(&ip) {
                return Err(CheckError::unknown(format!(
                    "{url} names an address that is not {}",
                    self.family.name()
                )));
            }
        }
        let host = url.host_str().unwrap_or("").to_string();
        let started = Instant::now();
        self.probe.start(host_port(&url));
        plugin_core::substage(format!("connecting to {}", host_port(&url)));
        let left = ctx.remaining().saturating_sub(MARGIN).min(limit);
        let work = async {
            let mut resp = self.http.execute(request).await?;
            let headers_at = Instant::now();
            plugin_core::substage(format!("reading the body from {}", host_port(&url)));
            let mut body = Vec::new();
            let mut truncated = false;
            let mut refused = None;
            let max_body = match &sink {
                Sink::Keep(n) => *n,
                Sink::Stream(_) => 64 << 10,
            };
            while let Some(chunk) = resp.chunk().await? {
                if let (Sink::Stream(read), true) = (&mut sink, resp.status().is_success()) {
                    if let Err(e) = read(&chunk) {
                        refused = Some(e);
                        break;
                    }
                    continue;
                }
                let room = max_body - body.len();
                if chunk.len() > room {
                    body.extend_from_slice(&chunk[..room]);
                    truncated = true;
                    break;
                }
                body.extend_from_slice(&chunk);
            }
            Ok::<_, reqwest::Error>((resp, headers_at, body, truncated, refused))
        };
        let outcome = self
            .rt
            .block_on(async { tokio::time::timeout(left, work).await });
        let (resp, headers_at, body, truncated, refused) = match outcome {
            Err(_) => return Ok(None),
            Ok(Err(e)) => {
                return Err(CheckError::critical(describe(&e, &host, &self.probe)));
            }
            Ok(Ok(done)) => done,
        };
        if let Some(why) = refused {
            return Err(CheckError::unknown(format!(
                "unexpected reply from {}: {why}",
                host_port(&url)
            )));
        }
        let finished = Instant::now();
        let peer_certificate = resp
            .extensions()
            .get::<reqwest::tls::TlsInfo>()
            .and_then(|t| t.peer_certificate())
            .map(<[u8]>::to_vec);
        Ok(Some(Response {
            url,
            status: resp.status(),
            version: resp.version(),
            remote: resp.remote_addr(),
            headers: resp.headers().clone(),
            body,
            truncated,
            peer_certificate,
            timings: self.probe.timings(started, headers_at, finished),
        }))
    }
}

/// The URL's host if it is an IP address (`[::1]` included).
fn literal_ip(url: &Url) -> Option<IpAddr> {
    match url.host()? {
        url::Host::Ipv4(a) => Some(IpAddr::V4(a)),
        url::Host::Ipv6(a) => Some(IpAddr::V6(a)),
        url::Host::Domain(_) => None,
    }
}

/// `host:port` of a URL (`[::1]:8080` for IPv6), for messages.
pub fn host_port(url: &Url) -> String {
    let host = match url.host() {
        Some(url::Host::Ipv6(a)) => format!("[{a}]"),
        Some(h) => h.to_string(),
        None => String::new(),
    };
    match url.port_or_known_default() {
        Some(p) => format!("{host}:{p}"),
        None => host,
    }
}

/// What went wrong with a request, in words for a status line.
pub fn describe(e: &reqwest::Error, host: &str, probe: &Probe) -> String {
    use std::error::Error;
    let mut cur: Option<&(dyn Error + 'static)> = Some(e);
    let mut last = e.to_string();
    while let Some(err) = cur {
        if let Some(d) = err.downcast_ref::<probe::DnsError>() {
            return d.0.clone();
        }
        if let Some(t) = err.downcast_ref::<custos_tls::rustls::Error>() {
            return custos_tls::describe_error(t, host);
        }
        if let Some(h) = err.downcast_ref::<hyper::Error>() {
            if h.is_incomplete_message() {
                return format!("{} closed the connection {}", probe.target(), probe.phase());
            }
            if h.is_parse() {
                return format!("invalid HTTP response from {}: {h}", probe.target());
            }
        }
        last = err.to_string();
        cur = match err.downcast_ref::<std::io::Error>() {
            Some(io) => {
                if let Some(words) = io_words(io, probe) {
                    return words;
                }
                // io::Error::source() skips the error it wraps: descend into it.
                io.get_ref().map(|inner| inner as &(dyn Error + 'static))
            }
            None => err.source(),
        };
    }
    format!("request to {host} failed: {last}")
}

/// The connection failures that have a name.
fn io_words(io: &std::io::Error, probe: &Probe) -> Option<String> {
    use std::io::ErrorKind as K;
    let target = probe.target();
    Some(match io.kind() {
        K::ConnectionRefused => format!("connection refused by {target}"),
        K::ConnectionReset => format!("connection reset by {target} {}", probe.phase()),
        K::ConnectionAborted | K::UnexpectedEof | K::BrokenPipe => {
            format!("{target} closed the connection {}", probe.phase())
        }
        K::NetworkUnreachable | K::HostUnreachable => format!("cannot reach {target}: {io}"),
        _ => return None,
    })
}
