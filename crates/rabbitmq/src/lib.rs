//! custos-rabbitmq: RabbitMQ as custos' checks see it — queues with their messages and
//! consumers, and the node's health — without `rabbitmqctl` (root, and an Erlang VM of about
//! 60 MiB a call: BENCHMARKS.md).
//!
//! - [`api`]: the management HTTP API over custos-http: the queues of a vhost (only the columns
//!   needed, paged), one queue, `/api/health/checks/*`. Vhost and queue names are
//!   percent-encoded as path segments; IPv6 hosts work as `http://[::1]:15672`; TLS as in
//!   every custos HTTP client (`--insecure`, `--ca-cert`).
//! - [`amqp`]: lapin, for named queues when the management plugin is off: a passive
//!   `queue.declare` answers with the ready messages and consumer counts.
//! - [`prom`]: RabbitMQ's Prometheus plugin, the cheapest listing at scale.
//! - [`ctl`]: `rabbitmqctl list_queues`, where no plugin is enabled (Zulip's stock server), as
//!   root; `--source auto` falls back to it when the API refuses the connection.
//! - [`BrokerArgs`]: the connection options every RabbitMQ check has. The password comes from
//!   `--password-file`, `RABBITMQ_PASSWORD` or the URL, never only from argv, and is never
//!   printed: URLs in messages lose their credentials.

#![deny(missing_docs)]

pub mod amqp;
pub mod api;
pub mod ctl;
pub mod items;
pub mod prom;

use clap::Args;
use custos_http::{TlsArgs, Url};
use percent_encoding::percent_decode_str;
use plugin_core::{CheckError, Context, Secret};
use std::path::PathBuf;

/// The management API of this host's broker.
pub const DEFAULT_API_URL: &str = "http://127.0.0.1:15672";

/// Environment variable holding the password.
pub const PASSWORD_ENV: &str = "RABBITMQ_PASSWORD";

/// How to reach RabbitMQ: options every RabbitMQ check has.
#[derive(Args, Debug, Clone)]
pub struct BrokerArgs {
    /// Management API base URL; user and password may be inside (http://user:pass@host:15672)
    #[arg(
        long = "api-url",
        value_name = "URL",
        default_value = DEFAULT_API_URL,
        help_heading = "Connection"
    )]
    pub api_url: String,

    /// Use AMQP instead (named queues only; no management plugin needed): amqp://user@host:5672/vhost
    #[arg(long = "amqp-url", value_name = "URL", help_heading = "Connection")]
    pub amqp_url: Option<String>,

    /// User name [default: the URL's, else guest]
    #[arg(long = "user", value_name = "NAME", help_heading = "Connection")]
    pub user: Option<String>,

    /// File whose first line is the password [default: $RABBITMQ_PASSWORD, the URL's, else guest for guest]
    #[arg(
        long = "password-file",
        value_name = "FILE",
        help_heading = "Connection"
    )]
    pub password_file: Option<PathBuf>,

    /// Virtual host (an --amqp-url's path wins)
    #[arg(
        long = "vhost",
        value_name = "VHOST",
        default_value = "/",
        help_heading = "Connection"
    )]
    pub vhost: String,

    /// Queues per management API request with --rates: page long lists (at most 500; 0: one
    /// request; each page costs the broker the whole list)
    #[arg(long = "page-size", value_name = "N", default_value_t = 0,
          value_parser = clap::value_parser!(u32).range(0..=500), help_heading = "Connection")]
    pub page_size: u32,

    /// Where the numbers come from: auto (AMQP with --amqp-url, Prometheus with
    /// --prometheus-url, else the management API, and rabbitmqctl as root when the API refuses
    /// the connection), api, prometheus, amqp, rabbitmqctl
    #[arg(
        long = "source",
        value_enum,
        default_value = "auto",
        help_heading = "Connection"
    )]
    pub source: Source,

    /// rabbitmq_prometheus' endpoint: the cheapest listing of a big broker
    #[arg(
        long = "prometheus-url",
        value_name = "URL",
        help_heading = "Connection"
    )]
    pub prometheus_url: Option<String>,

    /// With --source auto, list a single-node broker with this many queues or more (all
    /// vhosts) through its Prometheus plugin, when it has one (0: never)
    #[arg(long = "prometheus-from", value_name = "N", default_value_t = api::PROMETHEUS_FROM,
          help_heading = "Connection")]
    pub prometheus_from: u64,

    /// rabbitmqctl, as a command line (as root, or e.g. "sudo -u rabbitmq rabbitmqctl")
    #[arg(long = "rabbitmqctl", value_name = "CMD", default_value = ctl::DEFAULT_COMMAND,
          help_heading = "Connection")]
    pub rabbitmqctl: String,

    /// Ask the management API for message rates too (its statistics listing; also with -v)
    #[arg(long = "rates", help_heading = "Connection")]
    pub rates: bool,

    #[command(flatten)]
    /// Certificate verification for an https API URL or amqps.
    pub tls: TlsArgs,
}

/// Which queues, besides those named: regular expressions on the name.
#[derive(Args, Debug, Clone, Default)]
pub struct Filter {
    /// Only queues whose name matches RE
    #[arg(long = "include", value_name = "RE", value_parser = plugin_core::args::regex)]
    pub include: Option<regex_lite::Regex>,

    /// Leave out queues whose name matches RE
    #[arg(long = "exclude", value_name = "RE", value_parser = plugin_core::args::regex)]
    pub exclude: Option<regex_lite::Regex>,

    /// OK when no queue is left to check (default: UNKNOWN)
    #[arg(long = "allow-empty")]
    pub allow_empty: bool,
}

impl Filter {
    /// Does the filter keep the queue `name`?
    pub fn admits(&self, name: &str) -> bool {
        self.include.as_ref().is_none_or(|r| r.is_match(name))
            && !self.exclude.as_ref().is_some_and(|r| r.is_match(name))
    }
}

/// The queues a check looks at, each handed to `each` with its name as it is read: the named
/// ones (`None` for one that does not exist), or every queue of the vhost (judged as it
/// arrives, never held all at once; a source keeps only what it must join by queue name: the
/// consumer counts, or from Prometheus about 40 bytes and the name a queue); then the filter. `Ok(false)`:
/// nothing was left and `--allow-empty` allows it. Nothing left otherwise is UNKNOWN, never an
/// empty OK.
pub fn visit(
    broker: &Broker,
    ctx: &Context,
    names: &[String],
    filter: &Filter,
    vhost: &str,
    each: &mut dyn FnMut(String, Option<Queue>),
) -> Result<bool, CheckError> {
    let mut kept = 0usize;
    let mut keep = |name: String, q: Option<Queue>| {
        if filter.admits(&name) {
            kept += 1;
            each(name, q);
        }
    };
    if names.is_empty() {
        broker.each_queue(ctx, &mut |q| keep(q.name.clone(), Some(q)))?;
    } else {
        for (name, q) in broker.named_queues(ctx, names)? {
            keep(name, q);
        }
    }
    if kept > 0 {
        return Ok(true);
    }
    if filter.allow_empty {
        return Ok(false);
    }
    let mut why = format!("no queues to check in vhost '{vhost}'");
    if let Some(r) = &filter.include {
        why.push_str(&format!(", --include '{r}'"));
    }
    if let Some(r) = &filter.exclude {
        why.push_str(&format!(", --exclude '{r}'"));
    }
    Err(CheckError::unknown(format!(
        "{why} (--allow-empty makes this OK)"
    )))
}

/// The named queues from a listing (`list` hands each queue to its argument): only those named
/// are kept, `None` for one the listing does not have.
pub fn pick(
    names: &[String],
    list: impl FnOnce(&mut dyn FnMut(Queue)) -> Result<(), CheckError>,
) -> Result<Selection, CheckError> {
    let mut found: std::collections::HashMap<&str, Option<Queue>> =
        names.iter().map(|n| (n.as_str(), None)).collect();
    list(&mut |q| {
        if let Some(slot) = found.get_mut(q.name.as_str()) {
            *slot = Some(q);
        }
    })?;
    Ok(names
        .iter()
        .map(|n| (n.clone(), found.get_mut(n.as_str()).and_then(Option::take)))
        .collect())
}

/// Queues by name, each with what the broker said (`None`: it does not exist).
pub type Selection = Vec<(String, Option<Queue>)>;

/// A queue as the checks see it. `None` where the broker gave no number (the management API's
/// statistics of a queue created a moment ago).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Queue {
    /// The queue's name.
    pub name: String,
    /// Messages in the queue (ready and unacknowledged).
    pub messages: Option<u64>,
    /// Messages ready for delivery.
    pub ready: Option<u64>,
    /// Messages delivered and not yet acknowledged.
    pub unacked: Option<u64>,
    /// Consumers of the queue.
    pub consumers: Option<u64>,
    /// Messages published per second, as the management API averages them.
    pub publish_rate: Option<f64>,
    /// Messages delivered (or got) per second.
    pub deliver_rate: Option<f64>,
}

/// User and password, resolved.
#[derive(Clone, Debug)]
pub struct Credentials {
    /// The user name.
    pub user: String,
    /// The password (never printed).
    pub password: Secret,
}

/// Splits credentials out of a URL (percent-decoded), leaving the URL without them.
pub fn take_credentials(url: &mut Url) -> (Option<String>, Option<String>) {
    let decode = |s: &str| percent_decode_str(s).decode_utf8_lossy().into_owned();
    let user = Some(url.username()).filter(|u| !u.is_empty()).map(decode);
    let password = url.password().map(decode);
    let _ = url.set_username("");
    let _ = url.set_password(None);
    (user, password)
}

impl BrokerArgs {
    /// The user and password: `--user` > the URL's > `guest`; `--password-file` >
    /// `$RABBITMQ_PASSWORD` > the URL's > `guest` for the user guest (RabbitMQ's default).
    pub fn credentials(
        &self,
        url_user: Option<String>,
        url_password: Option<String>,
    ) -> Result<Credentials, CheckError> {
        let user = self
            .user
            .clone()
            .or(url_user)
            .unwrap_or_else(|| "guest".to_string());
        let password = if let Some(path) = &self.password_file {
            plugin_core::secret::read_file(path, "--password-file")?
        } else if let Some(p) = std::env::var_os(PASSWORD_ENV) {
            Secret::new(p.to_string_lossy())
        } else if let Some(p) = url_password {
            Secret::new(p)
        } else if user == "guest" {
            Secret::new("guest")
        } else {
            return Err(CheckError::unknown(format!(
                "no password for RabbitMQ user '{user}': give --password-file or set {PASSWORD_ENV}"
            )));
        };
        Ok(Credentials { user, password })
    }

    /// The broker this run talks to, by `--source`.
    pub fn connect(&self, ctx: &Context, user_agent: &str) -> Result<Broker, CheckError> {
        let prom = |url: &str| prom::Prom::new(url, &self.vhost, &self.tls, user_agent);
        let amqp_url = || {
            self.amqp_url
                .as_deref()
                .ok_or_else(|| CheckError::unknown("--source amqp needs --amqp-url"))
        };
        Ok(match self.source {
            Source::Amqp => Broker::Amqp(amqp::Amqp::new(self, amqp_url()?)?),
            Source::Prometheus => Broker::Prometheus(prom(
                self.prometheus_url.as_deref().unwrap_or(prom::DEFAULT_URL),
            )?),
            Source::Rabbitmqctl => Broker::Ctl(ctl::Ctl::new(&self.rabbitmqctl, &self.vhost)?),
            Source::Api => Broker::Api(api::Api::new(self, ctx, user_agent)?, None),
            Source::Auto => match (&self.amqp_url, &self.prometheus_url) {
                (Some(url), _) => Broker::Amqp(amqp::Amqp::new(self, url)?),
                (None, Some(url)) => Broker::Prometheus(prom(url)?),
                (None, None) => {
                    // As root, rabbitmqctl is there when the management plugin is not: for
                    // the API's default address only (this host's broker), never when the
                    // API asked for is elsewhere.
                    // SAFETY: geteuid has no preconditions.
                    let root = unsafe { libc::geteuid() } == 0;
                    let ctl = ctl::Ctl::new(&self.rabbitmqctl, &self.vhost)?;
                    let local = self.api_url.trim_end_matches('/') == DEFAULT_API_URL;
                    let fallback = (root && local && ctl.exists()).then_some(ctl);
                    Broker::Api(api::Api::new(self, ctx, user_agent)?, fallback)
                }
            },
        })
    }
}

/// Where the numbers come from.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// AMQP with --amqp-url, Prometheus with --prometheus-url, else the management API (and
    /// rabbitmqctl as root when the API refuses the connection)
    Auto,
    /// The management API
    Api,
    /// rabbitmq_prometheus' detailed endpoint
    Prometheus,
    /// AMQP passive declares (named queues only)
    Amqp,
    /// rabbitmqctl list_queues
    Rabbitmqctl,
}

/// The source this run reads.
pub enum Broker {
    /// The management API, with rabbitmqctl to fall back on when it refuses the connection.
    Api(api::Api, Option<ctl::Ctl>),
    /// AMQP passive declares of the named queues.
    Amqp(amqp::Amqp),
    /// RabbitMQ's Prometheus plugin.
    Prometheus(prom::Prom),
    /// rabbitmqctl, as root.
    Ctl(ctl::Ctl),
}

/// Did the management API refuse the connection (nothing listens: the plugin is off)?
fn refused(e: &CheckError) -> bool {
    e.message.starts_with("connection refused by ")
}

impl Broker {
    /// Every queue of the vhost, each handed to `each` as it is read; AMQP cannot list queues.
    pub fn each_queue(&self, ctx: &Context, each: &mut dyn FnMut(Queue)) -> Result<(), CheckError> {
        match self {
            Broker::Api(api, fallback) => match (api.each_queue(ctx, each), fallback) {
                (Err(e), Some(ctl)) if refused(&e) => ctl.each_queue(ctx, each),
                (result, _) => result,
            },
            Broker::Prometheus(p) => p.each_queue(ctx, each),
            Broker::Ctl(ctl) => ctl.each_queue(ctx, each),
            Broker::Amqp(_) => Err(CheckError::unknown(
                "AMQP cannot list queues: name them with --queue, or use the management API",
            )),
        }
    }

    /// The named queues; `None` for a queue that does not exist.
    pub fn named_queues(&self, ctx: &Context, names: &[String]) -> Result<Selection, CheckError> {
        match self {
            Broker::Api(api, fallback) => match (api.named(ctx, names), fallback) {
                (Err(e), Some(ctl)) if refused(&e) => pick(names, |each| ctl.each_queue(ctx, each)),
                (result, _) => result,
            },
            Broker::Amqp(amqp) => amqp.queues(ctx, names),
            Broker::Prometheus(_) | Broker::Ctl(_) => {
                pick(names, |each| self.each_queue(ctx, each))
            }
        }
    }

    /// How `--source auto` chose to list the queues when not as asked (a big broker through
    /// its Prometheus plugin): a line for the long output.
    pub fn note(&self) -> Option<String> {
        match self {
            Broker::Api(api, _) => api.note(),
            _ => None,
        }
    }

    /// Can this source list every queue (AMQP cannot)?
    pub fn lists(&self) -> bool {
        !matches!(self, Broker::Amqp(_))
    }

    /// A node health check (`alarms`, `local-alarms`, `virtual-hosts`, ...): `None` when it
    /// passes, the broker's reason when it fails. Only the management API has them: the
    /// other sources answer `None`, as does an API that refused the connection when
    /// rabbitmqctl is there to fall back on.
    pub fn health(&self, ctx: &Context, check: &str) -> Result<Option<String>, CheckError> {
        match self {
            Broker::Api(api, fallback) => match api.health(ctx, check) {
                Err(e) if fallback.is_some() && refused(&e) => Ok(None),
                result => result,
            },
            _ => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    pub(crate) struct T {
        #[command(flatten)]
        pub(crate) b: BrokerArgs,
    }

    fn args(argv: &[&str]) -> BrokerArgs {
        T::parse_from(std::iter::once("t").chain(argv.iter().copied())).b
    }

    #[test]
    fn credentials_come_out_of_urls_decoded() {
        let mut url = Url::parse("http://mon%40itor:p%3Ass@[::1]:15672/").unwrap();
        let (u, p) = take_credentials(&mut url);
        assert_eq!(
            (u.as_deref(), p.as_deref()),
            (Some("mon@itor"), Some("p:ss"))
        );
        assert_eq!(url.as_str(), "http://[::1]:15672/");
    }

    #[test]
    fn password_precedence() {
        // Tests in this process do not set RABBITMQ_PASSWORD; the CLI tests cover it.
        assert!(std::env::var_os(PASSWORD_ENV).is_none());
        let a = args(&[]);
        let c = a.credentials(None, None).unwrap();
        assert_eq!((c.user.as_str(), c.password.expose()), ("guest", "guest"));
        let c = a
            .credentials(Some("nagios".into()), Some("fromurl".into()))
            .unwrap();
        assert_eq!(
            (c.user.as_str(), c.password.expose()),
            ("nagios", "fromurl")
        );
        let e = args(&["--user", "nagios"])
            .credentials(None, None)
            .unwrap_err();
        assert_eq!(
            e.message,
            "no password for RabbitMQ user 'nagios': give --password-file or set RABBITMQ_PASSWORD"
        );
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("pw");
        std::fs::write(&f, "fromfile\n").unwrap();
        let a = args(&["--user", "nagios", "--password-file", f.to_str().unwrap()]);
        let c = a
            .credentials(Some("x".into()), Some("fromurl".into()))
            .unwrap();
        assert_eq!(
            (c.user.as_str(), c.password.expose()),
            ("nagios", "fromfile")
        );
    }

    #[test]
    fn page_size_is_bounded() {
        let r = T::try_parse_from(["t", "--page-size", "501"]);
        assert!(r.is_err());
        assert_eq!(args(&["--page-size", "0"]).page_size, 0);
        assert_eq!(args(&[]).page_size, 0);
    }
}
