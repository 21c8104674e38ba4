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

mod probe;

use plugin_core::{CheckError, Context};
use probe::{Probe, Resolver, TimingLayer, TimingStore};
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub use probe::Timings;
pub use reqwest::{header, Method, StatusCode, Url, Version};
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
    Any,
    V4,
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
    pub tls: TlsArgs,
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
    pub url: Url,
    pub status: StatusCode,
    pub version: Version,
    pub headers: header::HeaderMap,
    pub body: Vec<u8>,
    /// The body was longer than the cap; the rest was not read.
    pub truncated: bool,
    /// The address the connection went to.
    pub remote: Option<SocketAddr>,
    /// The server's certificate (DER), for HTTPS.
    pub peer_certificate: Option<Vec<u8>>,
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
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| CheckError::unknown(format!("cannot start the I/O runtime: {e}")))?;
        Ok(Client {
            http,
            rt,
            probe,
            family: options.family,
        })
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
        plugin_core::runner::substage(format!("connecting to {}", host_port(&url)));
        let left = ctx.remaining().saturating_sub(MARGIN).min(limit);
        let work = async {
            let mut resp = self.http.execute(request).await?;
            let headers_at = Instant::now();
            plugin_core::runner::substage(format!("reading the body from {}", host_port(&url)));
            let mut body = Vec::new();
            let mut truncated = false;
            while let Some(chunk) = resp.chunk().await? {
                let room = max_body - body.len();
                if chunk.len() > room {
                    body.extend_from_slice(&chunk[..room]);
                    truncated = true;
                    break;
                }
                body.extend_from_slice(&chunk);
            }
            Ok::<_, reqwest::Error>((resp, headers_at, body, truncated))
        };
        let outcome = self
            .rt
            .block_on(async { tokio::time::timeout(left, work).await });
        let (resp, headers_at, body, truncated) = match outcome {
            Err(_) => return Ok(None),
            Ok(Err(e)) => {
                return Err(CheckError::critical(describe(&e, &host, &self.probe)));
            }
            Ok(Ok(done)) => done,
        };
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
