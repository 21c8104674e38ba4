//! What a request went through, and when: the resolver, the TLS session store (asked for a
//! session when the ClientHello is built, right after the TCP connect), and a connector layer
//! (the connection ready). They also keep the timeout stage current.

use crate::Family;
use custos_tls::rustls::client::{
    ClientSessionMemoryCache, ClientSessionStore, Tls12ClientSessionValue, Tls13ClientSessionValue,
};
use custos_tls::rustls::pki_types::ServerName;
use custos_tls::rustls::NamedGroup;
use plugin_core::substage as stage;
use std::future::Future;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

/// Durations of one request (the first connection it needed).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Timings {
    /// Name resolution (`None`: an address in the URL, or a reused connection).
    pub dns: Option<Duration>,
    /// TCP connect.
    pub connect: Option<Duration>,
    /// TLS handshake (`None` for plain HTTP).
    pub tls: Option<Duration>,
    /// From the start to the response headers (time to first byte).
    pub first_byte: Duration,
    /// Reading the body.
    pub transfer: Duration,
}

#[derive(Default, Debug)]
struct Marks {
    dns_start: Option<Instant>,
    dns_end: Option<Instant>,
    /// The resolver returned (a lookup or an `--ip` override): the TCP connect starts.
    connect_start: Option<Instant>,
    tls_start: Option<Instant>,
    connected: Option<Instant>,
    /// Where the connection goes (addresses after resolution, or host:port).
    target: String,
    /// What was going on, for error messages: `while connecting`.
    phase: &'static str,
}

/// Shared by the resolver, the session store and the connector layer of one client.
#[derive(Default, Debug)]
pub struct Probe(Mutex<Marks>);

impl Probe {
    fn marks(&self) -> std::sync::MutexGuard<'_, Marks> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A new request to `target` (host:port) starts: forget the previous one's marks.
    pub(crate) fn start(&self, target: String) {
        *self.marks() = Marks {
            target,
            phase: "before answering",
            ..Marks::default()
        };
    }

    /// Where the connection went, for messages.
    pub fn target(&self) -> String {
        let m = self.marks();
        if m.target.is_empty() {
            "the server".into()
        } else {
            m.target.clone()
        }
    }

    /// What was going on: `during the TLS handshake`, `before answering`.
    pub fn phase(&self) -> &'static str {
        self.marks().phase
    }

    pub(crate) fn timings(&self, start: Instant, headers: Instant, end: Instant) -> Timings {
        let m = self.marks();
        let since = |a: Option<Instant>, b: Option<Instant>| Some(b?.saturating_duration_since(a?));
        let tcp_done = m.tls_start.or(m.connected);
        Timings {
            dns: since(m.dns_start, m.dns_end),
            connect: since(m.connect_start.or(Some(start)), tcp_done),
            tls: since(m.tls_start, m.connected),
            first_byte: headers.saturating_duration_since(start),
            transfer: end.saturating_duration_since(headers),
        }
    }
}

/// A failed name resolution, worded for the status line.
#[derive(Debug)]
pub struct DnsError(pub String);

impl std::fmt::Display for DnsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for DnsError {}

/// The system resolver (getaddrinfo), with `--ip` overrides and the `-4`/`-6` filter.
pub(crate) struct Resolver {
    probe: Arc<Probe>,
    family: Family,
    connect_to: Option<(String, Vec<IpAddr>)>,
}

impl Resolver {
    pub(crate) fn new(
        probe: Arc<Probe>,
        family: Family,
        connect_to: Option<(String, Vec<IpAddr>)>,
    ) -> Resolver {
        Resolver {
            probe,
            family,
            connect_to,
        }
    }

    fn lookup(&self, name: &str) -> Result<Vec<SocketAddr>, DnsError> {
        if let Some((host, ips)) = &self.connect_to {
            if host.eq_ignore_ascii_case(name) {
                return Ok(ips.iter().map(|ip| SocketAddr::new(*ip, 0)).collect());
            }
        }
        // getaddrinfo blocks; a resolver that hangs is cut off by the deadline's watchdog,
        // which reports this stage.
        let all: Vec<SocketAddr> = (name, 0)
            .to_socket_addrs()
            .map_err(|e| DnsError(format!("cannot resolve {name}: {}", gai_words(&e))))?
            .collect();
        let kept: Vec<SocketAddr> = all
            .iter()
            .copied()
            .filter(|a| self.family.admits(&a.ip()))
            .collect();
        if kept.is_empty() {
            return Err(DnsError(format!(
                "{name} has no {} address",
                self.family.name()
            )));
        }
        Ok(kept)
    }
}

/// getaddrinfo's message without Rust's decoration.
fn gai_words(e: &std::io::Error) -> String {
    let text = e.to_string();
    text.strip_prefix("failed to lookup address information: ")
        .unwrap_or(&text)
        .to_string()
}

impl reqwest::dns::Resolve for Resolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let name = name.as_str().to_string();
        stage(format!("resolving {name}"));
        let overridden = self
            .connect_to
            .as_ref()
            .is_some_and(|(host, _)| host.eq_ignore_ascii_case(&name));
        let started = Instant::now();
        let result = self.lookup(&name);
        {
            let mut m = self.probe.marks();
            let now = Instant::now();
            if !overridden {
                // An --ip override asks no one: no DNS time to report.
                m.dns_start = Some(started);
                m.dns_end = Some(now);
            }
            m.connect_start = Some(now);
            if let Ok(addrs) = &result {
                let ips: Vec<String> = addrs.iter().map(|a| a.ip().to_string()).collect();
                m.target = format!("{} ({})", m.target, ips.join(", "));
                m.phase = "while connecting";
                stage(format!("connecting to {}", m.target));
            }
        }
        let result = result
            .map(|addrs| Box::new(addrs.into_iter()) as reqwest::dns::Addrs)
            .map_err(|e| Box::new(e) as Box<dyn std::error::Error + Send + Sync>);
        Box::pin(std::future::ready(result))
    }
}

/// A TLS session store that notes when rustls first asks it: while building the ClientHello,
/// right after the TCP connect. Sessions are kept in memory (redirects to the same host resume).
#[derive(Debug)]
pub(crate) struct TimingStore {
    probe: Arc<Probe>,
    inner: ClientSessionMemoryCache,
}

impl TimingStore {
    pub(crate) fn new(probe: Arc<Probe>) -> TimingStore {
        TimingStore {
            probe,
            inner: ClientSessionMemoryCache::new(8),
        }
    }

    fn handshake_starts(&self, name: &ServerName<'_>) {
        let mut m = self.probe.marks();
        if m.tls_start.is_none() {
            m.tls_start = Some(Instant::now());
            m.phase = "during the TLS handshake";
            stage(format!("TLS handshake with {}", name.to_str()));
        }
    }
}

impl ClientSessionStore for TimingStore {
    fn set_kx_hint(&self, server_name: ServerName<'static>, group: NamedGroup) {
        self.inner.set_kx_hint(server_name, group)
    }

    fn kx_hint(&self, server_name: &ServerName<'_>) -> Option<NamedGroup> {
        self.handshake_starts(server_name);
        self.inner.kx_hint(server_name)
    }

    fn set_tls12_session(&self, server_name: ServerName<'static>, value: Tls12ClientSessionValue) {
        self.inner.set_tls12_session(server_name, value)
    }

    fn tls12_session(&self, server_name: &ServerName<'_>) -> Option<Tls12ClientSessionValue> {
        self.handshake_starts(server_name);
        self.inner.tls12_session(server_name)
    }

    fn remove_tls12_session(&self, server_name: &ServerName<'static>) {
        self.inner.remove_tls12_session(server_name)
    }

    fn insert_tls13_ticket(
        &self,
        server_name: ServerName<'static>,
        value: Tls13ClientSessionValue,
    ) {
        self.inner.insert_tls13_ticket(server_name, value)
    }

    fn take_tls13_ticket(
        &self,
        server_name: &ServerName<'static>,
    ) -> Option<Tls13ClientSessionValue> {
        self.handshake_starts(server_name);
        self.inner.take_tls13_ticket(server_name)
    }
}

/// Wraps reqwest's connector (TCP, then TLS) to note when the connection is ready.
#[derive(Clone)]
pub(crate) struct TimingLayer(pub(crate) Arc<Probe>);

impl<S> tower_layer::Layer<S> for TimingLayer {
    type Service = Timed<S>;

    fn layer(&self, inner: S) -> Timed<S> {
        Timed {
            inner,
            probe: self.0.clone(),
        }
    }
}

#[derive(Clone)]
pub(crate) struct Timed<S> {
    inner: S,
    probe: Arc<Probe>,
}

impl<S, R> tower_service::Service<R> for Timed<S>
where
    S: tower_service::Service<R>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: R) -> Self::Future {
        let connecting = self.inner.call(req);
        let probe = self.probe.clone();
        Box::pin(async move {
            let conn = connecting.await;
            if conn.is_ok() {
                let mut m = probe.marks();
                m.connected = Some(Instant::now());
                m.phase = "before answering";
                let target = m.target.clone();
                drop(m);
                stage(format!("waiting for the response from {target}"));
            }
            conn
        })
    }
}
