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

use crate::{take_credentials, BrokerArgs, Credentials, Queue};
use custos_http::{Client, Method, Options, StatusCode, Url};
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use plugin_core::{CheckError, Context};
use serde::de::DeserializeOwned;
use serde::Deserialize;

/// The columns asked for: what [`Queue`] holds.
const COLUMNS: &str = "name,messages,messages_ready,messages_unacknowledged,consumers,\
message_stats.publish_details.rate,message_stats.deliver_get_details.rate";

/// The lean listing's columns (no statistics: no rates; consumers only from a broker that
/// ignores `disable_stats`).
const LEAN_COLUMNS: &str = "name,messages,messages_ready,messages_unacknowledged,consumers";

/// Named queues read one request each, up to this many; more are read from the listing.
const PER_NAME: usize = 20;

/// Largest reply read (10,000 queues with these columns take about 2 MB).
const MAX_REPLY: usize = 64 << 20;

pub struct Api {
    http: Client,
    /// The base URL, without credentials, ending in `/`.
    base: Url,
    creds: Credentials,
    vhost: String,
    page_size: u32,
    /// Ask for the statistics listing (rates).
    rates: bool,
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

/// The queues of `GET /api/queues/<vhost>` without paging (what [`Api::queues`] reads with
/// `--page-size 0`).
pub fn parse_queue_list(body: &[u8]) -> Result<Vec<Queue>, serde_json::Error> {
    serde_json::from_slice::<Vec<RawQueue>>(body).map(|v| v.into_iter().map(Queue::from).collect())
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
        })
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
        let req = self
            .http
            .request(Method::GET, url.clone())
            .basic_auth(&self.creds.user, Some(self.creds.password.expose()));
        let resp = self.http.send(ctx, req, MAX_REPLY)?;
        if resp.truncated {
            return Err(CheckError::unknown(format!(
                "the management API's reply to GET {} is larger than {} MiB",
                url.path(),
                MAX_REPLY >> 20
            )));
        }
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
        Ok(resp)
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

    /// Every queue of the vhost: the lean listing and the consumers (one request each), or
    /// with rates the statistics listing (a page at a time with `--page-size`).
    pub fn queues(&self, ctx: &Context) -> Result<Vec<Queue>, CheckError> {
        let mut url = self.url(&["queues", &self.vhost]);
        let vhost_missing =
            || CheckError::critical(format!("vhost '{}' does not exist", self.vhost));
        if !self.rates && self.page_size == 0 {
            url.query_pairs_mut()
                .append_pair("disable_stats", "true")
                .append_pair("enable_queue_totals", "true")
                .append_pair("columns", LEAN_COLUMNS);
            ctx.stage(format!("listing the queues of vhost {}", self.vhost));
            let mut queues: Vec<Queue> = match self.get::<Vec<RawQueue>>(ctx, url)? {
                Reply::Found(items) => items.into_iter().map(Queue::from).collect(),
                Reply::NotFound => return Err(vhost_missing()),
            };
            if queues.iter().any(|q| q.consumers.is_none()) {
                self.count_consumers(ctx, &mut queues)?;
            }
            return Ok(queues);
        }
        if self.page_size == 0 {
            url.query_pairs_mut().append_pair("columns", COLUMNS);
            ctx.stage(format!("listing the queues of vhost {}", self.vhost));
            return match self.get::<Vec<RawQueue>>(ctx, url)? {
                Reply::Found(items) => Ok(items.into_iter().map(Queue::from).collect()),
                Reply::NotFound => Err(vhost_missing()),
            };
        }
        let mut queues = Vec::new();
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
            queues.extend(p.items.into_iter().map(Queue::from));
            if page >= p.page_count {
                return Ok(queues);
            }
            page += 1;
        }
    }

    /// Fills in the consumers of `queues` from `/api/consumers/{vhost}` (a queue it does not
    /// name has none). A broker with statistics switched off (`management.disable_stats`)
    /// cannot say: the consumers stay unknown.
    fn count_consumers(&self, ctx: &Context, queues: &mut [Queue]) -> Result<(), CheckError> {
        let mut url = self.url(&["consumers", &self.vhost]);
        url.query_pairs_mut().append_pair("columns", "queue.name");
        ctx.stage(format!("listing the consumers of vhost {}", self.vhost));
        let what = format!("GET {}", url.path());
        let resp = self.fetch(ctx, url)?;
        if resp.status == StatusCode::BAD_REQUEST {
            return Ok(());
        }
        if resp.status != StatusCode::OK {
            return Err(CheckError::critical(format!(
                "the management API answered {what} with {}{}",
                resp.status,
                reason(&resp.body)
            )));
        }
        let consumers: Vec<Consumer> = serde_json::from_slice(&resp.body).map_err(|e| {
            CheckError::unknown(format!(
                "invalid reply from the management API to {what}: {e}"
            ))
        })?;
        let mut counts: std::collections::HashMap<&str, u64> = std::collections::HashMap::new();
        for c in &consumers {
            *counts.entry(c.queue.name.as_str()).or_default() += 1;
        }
        for q in queues.iter_mut().filter(|q| q.consumers.is_none()) {
            q.consumers = Some(counts.get(q.name.as_str()).copied().unwrap_or(0));
        }
        Ok(())
    }

    /// The named queues: one request each when they are few, else from the listing.
    pub fn named(&self, ctx: &Context, names: &[String]) -> Result<crate::Selection, CheckError> {
        if names.len() <= PER_NAME {
            return names
                .iter()
                .map(|n| Ok((n.clone(), self.queue(ctx, n)?)))
                .collect();
        }
        let all = self.queues(ctx)?;
        Ok(names
            .iter()
            .map(|n| (n.clone(), all.iter().find(|q| &q.name == n).cloned()))
            .collect())
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
