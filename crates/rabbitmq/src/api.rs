//! The management HTTP API: `/api/queues/{vhost}`, `/api/queues/{vhost}/{name}`,
//! `/api/consumers/{vhost}`, `/api/health/checks/{check}`.
//!
//! By default the queue list is the lean one (`disable_stats=true&enable_queue_totals=true`):
//! live counts read from each queue, without the statistics database, in one request (about
//! half the broker's work of the statistics listing at 10,000 queues), with consumers counted
//! from `/api/consumers/{vhost}`; a broker older than these parameters (3.8) ignores them and
//! answers with its statistics, consumers included. Rates need the statistics: `--rates` (or
//! `-v`) asks for them, refreshed every `collect_statistics_interval` (5 s by default), where a
//! queue created a moment ago has no numbers yet and is reported as not measured. Paging is
//! opt-in (`--page-size`): the broker builds and sorts the whole list for every page.
//!
//! Listings are read as they arrive, one queue at a time ([`crate::items`]): no listing is
//! held whole (the consumer counts are kept, one per consumed queue).

use crate::items::ArrayItems;
use crate::{take_credentials, BrokerArgs, Credentials, Queue};
use custos_http::{Client, Method, Options, StatusCode, Url};
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use plugin_core::{CheckError, Context};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use std::collections::HashMap;

/// The columns asked for: what [`Queue`] holds.
const COLUMNS: &str = "name,messages,messages_ready,messages_unacknowledged,consumers,\
message_stats.publish_details.rate,message_stats.deliver_get_details.rate";

/// The lean listing's columns (no statistics: no rates; consumers only from a broker that
/// ignores `disable_stats`).
const LEAN_COLUMNS: &str = "name,messages,messages_ready,messages_unacknowledged,consumers";

/// Named queues read one request each, up to this many; more are read from the listing.
const PER_NAME: usize = 20;

/// Largest reply read whole (a page, one queue, a health check; the listings are streamed).
const MAX_REPLY: usize = 64 << 20;

/// The management API's client for one vhost.
pub struct Api {
    http: Client,
    /// The base URL, without credentials, ending in `/`.
    base: Url,
    creds: Credentials,
    vhost: String,
    page_size: u32,
    /// Ask for the statistics listing (rates).
    rates: bool,
    /// `--source auto`: a single-node broker with `--prometheus-from` queues or more is listed
    /// through its Prometheus plugin (the TLS options and user agent for it).
    auto: Option<(custos_http::TlsArgs, String)>,
    prometheus_from: u64,
    /// What auto chose, for the long output.
    chosen: std::cell::RefCell<Option<String>>,
}

/// From this many queues (all vhosts), `--source auto` lists a single-node broker through its
/// Prometheus plugin when it has one (`--prometheus-from`): at 1,000 queues the plugin answers
/// in half the time of the management API's lean listing, at 10,000 in 40% (BENCHMARKS.md);
/// below, the lean listing's live counts cost a few milliseconds.
pub const PROMETHEUS_FROM: u64 = 1000;

#[derive(Deserialize)]
struct Overview {
    object_totals: Option<Totals>,
    listeners: Option<Vec<Listener>>,
}

#[derive(Deserialize)]
struct Totals {
    queues: Option<u64>,
}

#[derive(Deserialize)]
struct Listener {
    node: String,
    protocol: String,
    port: u16,
}

#[derive(Deserialize)]
struct ConsumerQueue {
    name: String,
}

#[derive(Deserialize)]
struct Consumer {
    queue: ConsumerQueue,
}

#[cfg(test)]
mod tests {
    #[test]
    fn names_are_encoded_as_path_segments() {
        let args =
            <crate::tests::T as clap::Parser>::parse_from(["t", "--api-url", "http://h:1/pre"]).b;
        let ctx = plugin_core::Context::new(std::time::Duration::from_secs(1), 0);
        let api = super::Api::new(&args, &ctx, "t").unwrap();
        let url = api.url(&["queues", "zulip/odd vhost", "a.b-c_d~e|f%g h"]);
        assert_eq!(
            url.path(),
            "/pre/api/queues/zulip%2Fodd%20vhost/a.b-c_d~e%7Cf%25g%20h"
        );
    }
}

#[derive(Deserialize)]
struct Rate {
    rate: Option<f64>,
}

#[derive(Deserialize, Default)]
struct Stats {
    publish_details: Option<Rate>,
    deliver_get_details: Option<Rate>,
}

#[derive(Deserialize)]
struct RawQueue {
    name: String,
    messages: Option<u64>,
    messages_ready: Option<u64>,
    messages_unacknowledged: Option<u64>,
    consumers: Option<u64>,
    message_stats: Option<Stats>,
}

impl From<RawQueue> for Queue {
    fn from(q: RawQueue) -> Queue {
        let stats = q.message_stats.unwrap_or_default();
        Queue {
            name: q.name,
            messages: q.messages,
            ready: q.messages_ready,
            unacked: q.messages_unacknowledged,
            consumers: q.consumers,
            publish_rate: stats.publish_details.and_then(|r| r.rate),
            deliver_rate: stats.deliver_get_details.and_then(|r| r.rate),
        }
    }
}

/// The queues of a whole `GET /api/queues/<vhost>` reply, through the splitter and parser
/// [`Api::each_queue`] reads it with chunk by chunk (tests and fuzzing).
pub fn parse_queue_list(body: &[u8]) -> Result<Vec<Queue>, String> {
    let mut out = Vec::new();
    let mut items = ArrayItems::default();
    items.feed(body, &mut |item| {
        out.push(parse_queue(item)?);
        Ok(())
    })?;
    items.finish()?;
    Ok(out)
}

/// One queue of a listing.
fn parse_queue(item: &[u8]) -> Result<Queue, String> {
    serde_json::from_slice::<RawQueue>(item)
        .map(Queue::from)
        .map_err(|e| format!("a queue of the listing: {e}"))
}

/// One page of `GET /api/queues/<vhost>?page=N`: its queues and the number of pages.
pub fn parse_queue_page(body: &[u8]) -> Result<(Vec<Queue>, u64), serde_json::Error> {
    serde_json::from_slice::<Page>(body)
        .map(|p| (p.items.into_iter().map(Queue::from).collect(), p.page_count))
}

#[derive(Deserialize)]
struct Page {
    items: Vec<RawQueue>,
    page_count: u64,
}

#[derive(Deserialize)]
struct ApiError {
    error: Option<String>,
    reason: Option<String>,
}

#[derive(Deserialize)]
struct Health {
    status: Option<String>,
    reason: Option<String>,
    alarms: Option<Vec<Alarm>>,
}

#[derive(Deserialize)]
struct Alarm {
    node: Option<String>,
    resource: Option<String>,
}

impl Health {
    /// The broker's reason, with the alarms it names (`memory alarm on rabbit@db1`).
    fn words(self) -> String {
        let alarms: Vec<String> = self
            .alarms
            .unwrap_or_default()
            .into_iter()
            .map(|a| {
                format!(
                    "{} alarm on {}",
                    a.resource.as_deref().unwrap_or("resource"),
                    a.node.as_deref().unwrap_or("a node")
                )
            })
            .collect();
        let reason = self
            .reason
            .or(self.status)
            .unwrap_or_else(|| "failed".into());
        if alarms.is_empty() {
            reason
        } else {
            format!("{} ({reason})", alarms.join(", "))
        }
    }
}

/// A reply: the value, or "not found" (404), for the caller to word.
enum Reply<T> {
    Found(T),
    NotFound,
}

impl Api {
    /// A client for the API at `--api-url`, with the credentials of `args`.
    pub fn new(args: &BrokerArgs, ctx: &Context, user_agent: &str) -> Result<Api, CheckError> {
        let mut base = Url::parse(&args.api_url)
            .map_err(|e| CheckError::unknown(format!("invalid --api-url: {e}")))?;
        if !matches!(base.scheme(), "http" | "https") || base.host_str().is_none() {
            return Err(CheckError::unknown(
                "--api-url must be an http:// or https:// URL with a host",
            ));
        }
        let (url_user, url_password) = take_credentials(&mut base);
        if !base.path().ends_with('/') {
            let path = format!("{}/", base.path());
            base.set_path(&path);
        }
        let creds = args.credentials(url_user, url_password)?;
        let http = Client::new(
            &Options {
                tls: args.tls.clone(),
                user_agent: user_agent.to_string(),
                ..Options::default()
            },
            base.scheme() == "https",
        )?;
        Ok(Api {
            http,
            base,
            creds,
            vhost: args.vhost.clone(),
            page_size: args.page_size,
            rates: args.rates || ctx.verbosity > 0,
            auto: (args.source == crate::Source::Auto && args.prometheus_from > 0)
                .then(|| (args.tls.clone(), user_agent.to_string())),
            prometheus_from: args.prometheus_from,
            chosen: std::cell::RefCell::new(None),
        })
    }

    /// How auto listed the queues when not through the API.
    pub fn note(&self) -> Option<String> {
        self.chosen.borrow().clone()
    }

    /// `base` + `api/<segments...>`, each segment percent-encoded: everything but RFC 3986's
    /// unreserved characters (`/` in a vhost, `|` or `%` in a queue name too; RabbitMQ's web
    /// server refuses a raw `|`).
    fn url(&self, segments: &[&str]) -> Url {
        const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
            .remove(b'-')
            .remove(b'.')
            .remove(b'_')
            .remove(b'~');
        let mut url = self.base.clone();
        let mut path = format!("{}api", self.base.path());
        for s in segments {
            path.push('/');
            path.extend(utf8_percent_encode(s, SEGMENT));
        }
        // `set_path` keeps `%XX` as it is (`path_segments_mut` would encode the `%` again).
        url.set_path(&path);
        url
    }

    /// GETs `url`. A refusal (401/403) is CRITICAL with the broker's reason; a reply over
    /// [`MAX_REPLY`] is UNKNOWN.
    fn fetch(&self, ctx: &Context, url: Url) -> Result<custos_http::Response, CheckError> {
        let resp = self.http.send(ctx, self.request(url.clone()), MAX_REPLY)?;
        if resp.truncated {
            return Err(CheckError::unknown(format!(
                "the management API's reply to GET {} is larger than {} MiB",
                url.path(),
                MAX_REPLY >> 20
            )));
        }
        self.refused(&resp)?;
        Ok(resp)
    }

    fn request(&self, url: Url) -> custos_http::RequestBuilder {
        self.http
            .request(Method::GET, url)
            .basic_auth(&self.creds.user, Some(self.creds.password.expose()))
    }

    /// A refusal (401/403): CRITICAL with the broker's reason.
    fn refused(&self, resp: &custos_http::Response) -> Result<(), CheckError> {
        if matches!(
            resp.status,
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN
        ) {
            return Err(CheckError::critical(format!(
                "the management API refused user '{}' ({}{})",
                self.creds.user,
                resp.status,
                reason(&resp.body)
            )));
        }
        Ok(())
    }

    /// GETs a JSON array, handing each element to `each` as it arrives (none of the reply is
    /// kept): `Ok(true)`; `Ok(false)` when not found (404); a 400 when `bad_request_is_none`
    /// is also `Ok(false)`; other failures as [`Api::get`].
    fn get_each(
        &self,
        ctx: &Context,
        url: Url,
        bad_request_is_none: bool,
        each: &mut dyn FnMut(&[u8]) -> Result<(), String>,
    ) -> Result<bool, CheckError> {
        let what = format!("GET {}", url.path());
        let invalid = |e: &str| {
            CheckError::unknown(format!(
                "invalid reply from the management API to {what}: {e}"
            ))
        };
        let mut items = ArrayItems::default();
        let mut failed = None;
        let mut read = |chunk: &[u8]| {
            items
                .feed(chunk, each)
                .inspect_err(|e| failed = Some(e.clone()))
        };
        let sent = self.http.send_streaming(ctx, self.request(url), &mut read);
        if let Some(e) = failed {
            return Err(invalid(&e));
        }
        let resp = sent?;
        self.refused(&resp)?;
        match resp.status {
            StatusCode::OK => items.finish().map(|()| true).map_err(|e| invalid(&e)),
            StatusCode::NOT_FOUND => Ok(false),
            StatusCode::BAD_REQUEST if bad_request_is_none => Ok(false),
            status => Err(CheckError::critical(format!(
                "the management API answered {what} with {status}{}",
                reason(&resp.body)
            ))),
        }
    }

    /// GETs JSON: found, not found (404), or CRITICAL with the broker's reason; a reply that is
    /// not the expected JSON is UNKNOWN.
    fn get<T: DeserializeOwned>(&self, ctx: &Context, url: Url) -> Result<Reply<T>, CheckError> {
        let what = format!("GET {}", url.path());
        let resp = self.fetch(ctx, url)?;
        match resp.status {
            StatusCode::OK => serde_json::from_slice(&resp.body)
                .map(Reply::Found)
                .map_err(|e| {
                    CheckError::unknown(format!(
                        "invalid reply from the management API to {what}: {e}"
                    ))
                }),
            StatusCode::NOT_FOUND => Ok(Reply::NotFound),
            status => Err(CheckError::critical(format!(
                "the management API answered {what} with {status}{}",
                reason(&resp.body)
            ))),
        }
    }

    /// Every queue of the vhost, each handed to `each` as it is read: the consumers, then the
    /// lean listing (one request each), or with rates the statistics listing (a page at a time
    /// with `--page-size`).
    pub fn each_queue(&self, ctx: &Context, each: &mut dyn FnMut(Queue)) -> Result<(), CheckError> {
        if let (Some((tls, agent)), false, 0) = (&self.auto, self.rates, self.page_size) {
            if let Some((url, queues)) = self.prometheus_when_big(ctx, self.prometheus_from)? {
                // The plugin's answer, or the API's if the plugin fails before any queue.
                let mut read = 0usize;
                let prom = crate::prom::Prom::new(url.as_str(), &self.vhost, tls, agent)?;
                let result = prom.each_queue(ctx, &mut |q| {
                    read += 1;
                    each(q)
                });
                *self.chosen.borrow_mut() = Some(match &result {
                    Ok(()) => format!(
                        "queues read from RabbitMQ's Prometheus plugin at {url} ({queues} queues \
                         on one node; --prometheus-from {})",
                        self.prometheus_from
                    ),
                    Err(e) => format!(
                        "queues read from the management API: the Prometheus plugin at {url} \
                         failed ({})",
                        e.message
                    ),
                });
                match result {
                    Err(_) if read == 0 => {}
                    result => return result,
                }
            }
        }
        let mut url = self.url(&["queues", &self.vhost]);
        let vhost_missing =
            || CheckError::critical(format!("vhost '{}' does not exist", self.vhost));
        if self.page_size == 0 {
            let consumers = if self.rates {
                None
            } else {
                url.query_pairs_mut()
                    .append_pair("disable_stats", "true")
                    .append_pair("enable_queue_totals", "true");
                self.consumers(ctx)?
            };
            url.query_pairs_mut()
                .append_pair("columns", if self.rates { COLUMNS } else { LEAN_COLUMNS });
            ctx.stage(format!("listing the queues of vhost {}", self.vhost));
            let mut parse = |item: &[u8]| -> Result<(), String> {
                let mut q = parse_queue(item)?;
                if let (None, Some(counts)) = (q.consumers, &consumers) {
                    q.consumers = Some(counts.get(q.name.as_str()).copied().unwrap_or(0));
                }
                each(q);
                Ok(())
            };
            return match self.get_each(ctx, url, false, &mut parse)? {
                true => Ok(()),
                false => Err(vhost_missing()),
            };
        }
        // Pages: one page's queues at a time (at most 500).
        let mut page = 1;
        loop {
            let mut paged = url.clone();
            paged
                .query_pairs_mut()
                .append_pair("page", &page.to_string())
                .append_pair("page_size", &self.page_size.to_string())
                .append_pair("columns", COLUMNS);
            ctx.stage(format!(
                "listing the queues of vhost {} (page {page})",
                self.vhost
            ));
            let p = match self.get::<Page>(ctx, paged)? {
                Reply::Found(p) => p,
                Reply::NotFound => return Err(vhost_missing()),
            };
            p.items.into_iter().map(Queue::from).for_each(&mut *each);
            if page >= p.page_count {
                return Ok(());
            }
            page += 1;
        }
    }

    /// The consumers of each queue of the vhost, from `/api/consumers/{vhost}` (a queue it
    /// does not name has none): memory grows with the consumers, not the queues. `None` when
    /// the broker cannot say (statistics switched off, `management.disable_stats`: 400) or the
    /// vhost does not exist (404, which the listing then reports).
    fn consumers(&self, ctx: &Context) -> Result<Option<HashMap<String, u64>>, CheckError> {
        let mut url = self.url(&["consumers", &self.vhost]);
        url.query_pairs_mut().append_pair("columns", "queue.name");
        ctx.stage(format!("listing the consumers of vhost {}", self.vhost));
        let mut counts: HashMap<String, u64> = HashMap::new();
        let mut count = |item: &[u8]| -> Result<(), String> {
            let c: Consumer = serde_json::from_slice(item)
                .map_err(|e| format!("a consumer of the listing: {e}"))?;
            *counts.entry(c.queue.name).or_default() += 1;
            Ok(())
        };
        let found = self.get_each(ctx, url, true, &mut count)?;
        Ok(found.then_some(counts))
    }

    /// RabbitMQ's Prometheus plugin on this broker, when the broker is big enough for it to be
    /// the cheaper listing: `/api/overview` (a few milliseconds, 17 ms at 10,000 queues) gives
    /// the queue count (all vhosts) and the listeners. `None` below `min_queues`, without the
    /// plugin, on a cluster (the plugin is node-local: the management API sees every node), or
    /// when the overview is not to be had.
    pub fn prometheus_when_big(
        &self,
        ctx: &Context,
        min_queues: u64,
    ) -> Result<Option<(Url, u64)>, CheckError> {
        let mut url = self.url(&["overview"]);
        url.query_pairs_mut()
            .append_pair("columns", "object_totals.queues,listeners");
        ctx.stage("asking the broker's size");
        // Only a failure to reach the API counts here; any answer that is not the overview
        // leaves the choice to the listing, which reports it in its own words.
        let resp = self.http.send(ctx, self.request(url), MAX_REPLY)?;
        let o = match serde_json::from_slice::<Overview>(&resp.body) {
            Ok(o) if resp.status == StatusCode::OK => o,
            _ => return Ok(None),
        };
        let queues = o.object_totals.and_then(|t| t.queues).unwrap_or(0);
        let listeners = o.listeners.unwrap_or_default();
        let single = listeners.iter().all(|l| l.node == listeners[0].node);
        if queues < min_queues || !single {
            return Ok(None);
        }
        Ok(listeners.iter().find_map(|l| {
            let scheme = l.protocol.strip_suffix("/prometheus")?;
            let mut url = self.base.clone();
            url.set_scheme(scheme).ok()?;
            url.set_port(Some(l.port)).ok()?;
            url.set_path("/");
            url.set_query(None);
            Some((url, queues))
        }))
    }

    /// The named queues: one request each when they are few, else from the listing.
    pub fn named(&self, ctx: &Context, names: &[String]) -> Result<crate::Selection, CheckError> {
        if names.len() <= PER_NAME {
            return names
                .iter()
                .map(|n| Ok((n.clone(), self.queue(ctx, n)?)))
                .collect();
        }
        // Many names: the listing, keeping only the queues named.
        crate::pick(names, |each| self.each_queue(ctx, each))
    }

    /// One queue; `None` when it does not exist (or its vhost does not).
    pub fn queue(&self, ctx: &Context, name: &str) -> Result<Option<Queue>, CheckError> {
        let mut url = self.url(&["queues", &self.vhost, name]);
        url.query_pairs_mut().append_pair("columns", COLUMNS);
        ctx.stage(format!("reading queue {name}"));
        Ok(match self.get::<RawQueue>(ctx, url)? {
            Reply::Found(q) => Some(q.into()),
            Reply::NotFound => None,
        })
    }

    /// `/api/health/checks/<check>`: `None` when it passes, the broker's reason when not (503).
    pub fn health(&self, ctx: &Context, check: &str) -> Result<Option<String>, CheckError> {
        let segments: Vec<&str> = ["health", "checks"]
            .into_iter()
            .chain(check.split('/'))
            .collect();
        ctx.stage(format!("asking the node's health ({check})"));
        let resp = self.fetch(ctx, self.url(&segments))?;
        match resp.status {
            StatusCode::OK => Ok(None),
            StatusCode::SERVICE_UNAVAILABLE => Ok(Some(
                serde_json::from_slice::<Health>(&resp.body)
                    .map(Health::words)
                    .unwrap_or_else(|_| "failed".to_string()),
            )),
            StatusCode::NOT_FOUND => Err(CheckError::unknown(format!(
                "the management API has no health check '{check}'"
            ))),
            status => Err(CheckError::critical(format!(
                "the management API answered health check {check} with {status}{}",
                reason(&resp.body)
            ))),
        }
    }
}

/// `: <reason>` from the API's error body, if it has one.
fn reason(body: &[u8]) -> String {
    serde_json::from_slice::<ApiError>(body)
        .ok()
        .and_then(|e| e.reason.or(e.error))
        .map(|r| format!(": {r}"))
        .unwrap_or_default()
}
