//! check_send_receive_time: Zulip's end-to-end probe. One bot sends a direct message with a
//! random 64-bit number, another receives it through its event queue, and the round trip is
//! timed: "generally sufficient to point to the cause of any production issue".
//!
//! Zulip's version runs from cron inside Zulip's virtualenv, reads the bots' API keys from the
//! database through Django, and has no deadline. This one speaks only the REST API (see
//! [`api`]), takes the bots' credentials from zuliprc files, key files or the environment, and
//! runs from Nagios directly or from cron (`--state-file`, the file Zulip's Nagios reads).
//!
//! Flow: register the receiver's queue → send → long-poll until the number arrives → delete
//! the message (unless `--keep-message`) → delete the queue, also on failure and near the
//! deadline (a reserve of the deadline is kept for it). A heartbeat while waiting is CRITICAL,
//! as in Zulip.

pub mod api;
pub mod zuliprc;

use api::{Api, Failure};
use clap::Parser;
use custos_http::{Client, Options, TlsArgs, Url};
use plugin_core::{
    args, CheckError, CheckResult, Context, Dimension, Perfdata, Plugin, Range, Report, Secret,
    State, Thresholds, Uom,
};
use std::hash::{BuildHasher, Hasher};
use std::path::PathBuf;
use std::time::{Duration, Instant};
use zuliprc::Bot;

/// The deadline defaults to 30 s: above the 12 s critical threshold, so that a slow delivery is
/// measured (CRITICAL), not cut off (UNKNOWN).
pub const PLUGIN: Plugin =
    Plugin::new("check_send_receive_time", env!("CARGO_PKG_VERSION")).with_default_timeout("30");

#[derive(Parser, Debug)]
#[command(about = "Time a Zulip direct message from one bot to another, end to end")]
pub struct Args {
    /// Zulip server URL [default: $ZULIP_SITE, else the sender's zuliprc site]
    #[arg(long = "site", value_name = "URL")]
    pub site: Option<String>,

    /// zuliprc of the sending bot ([api] email, key, site)
    #[arg(long = "sender-config", value_name = "FILE")]
    pub sender_config: Option<PathBuf>,

    /// Email of the sending bot [default: the zuliprc's, else $ZULIP_SENDER_EMAIL]
    #[arg(long = "sender-email", value_name = "EMAIL")]
    pub sender_email: Option<String>,

    /// File whose first line is the sending bot's API key [default: the zuliprc's, else $ZULIP_SENDER_API_KEY]
    #[arg(long = "sender-key-file", value_name = "FILE")]
    pub sender_key_file: Option<PathBuf>,

    /// zuliprc of the receiving bot ([api] email, key, site)
    #[arg(long = "receiver-config", value_name = "FILE")]
    pub receiver_config: Option<PathBuf>,

    /// Email of the receiving bot [default: the zuliprc's, else $ZULIP_RECEIVER_EMAIL]
    #[arg(long = "receiver-email", value_name = "EMAIL")]
    pub receiver_email: Option<String>,

    /// File whose first line is the receiving bot's API key [default: the zuliprc's, else $ZULIP_RECEIVER_API_KEY]
    #[arg(long = "receiver-key-file", value_name = "FILE")]
    pub receiver_key_file: Option<PathBuf>,

    /// Warning range on the send-to-receive time [default: 3, i.e. more than 3 s, as Zulip]
    #[arg(short = 'w', long = "warning", value_name = "RANGE", value_parser = args::time_range,
          default_value = "3")]
    pub warning: Range,

    /// Critical range on the send-to-receive time [default: 12, i.e. more than 12 s, as Zulip]
    #[arg(short = 'c', long = "critical", value_name = "RANGE", value_parser = args::time_range,
          default_value = "12")]
    pub critical: Range,

    /// Leave the probe message in place (Zulip did until 2025)
    #[arg(long = "keep-message")]
    pub keep_message: bool,

    #[command(flatten)]
    pub tls: TlsArgs,
}

/// One bot's credentials from the options and the environment (`SENDER` or `RECEIVER`).
fn bot(
    role: &str,
    config: &Option<PathBuf>,
    email: &Option<String>,
    key_file: &Option<PathBuf>,
    notes: &mut Vec<String>,
) -> Result<Bot, CheckError> {
    let env = |what: &str| std::env::var(format!("ZULIP_{role}_{what}")).ok();
    let from_config = config
        .as_deref()
        .map(|p| zuliprc::read(p, notes))
        .transpose()?;
    let key = match key_file {
        Some(f) => {
            let read =
                plugin_core::secret::read_file(f, &format!("--{}-key-file", role.to_lowercase()))?;
            notes.extend(read.warning);
            Some(read.secret)
        }
        None => from_config.as_ref().map(|b| b.key.clone()),
    }
    .or_else(|| env("API_KEY").map(Secret::new));
    let email = email
        .clone()
        .or_else(|| from_config.as_ref().map(|b| b.email.clone()))
        .or_else(|| env("EMAIL"));
    let (Some(email), Some(key)) = (email, key) else {
        let lower = role.to_lowercase();
        return Err(CheckError::unknown(format!(
            "no credentials for the {lower}: give --{lower}-config, or --{lower}-email with --{lower}-key-file, or ZULIP_{role}_EMAIL and ZULIP_{role}_API_KEY"
        )));
    };
    Ok(Bot {
        email,
        key,
        ..from_config.unwrap_or(Bot {
            email: String::new(),
            key: Secret::default(),
            site: None,
            insecure: false,
            cert_bundle: None,
        })
    })
}

/// A random 64-bit number as text (std's hasher is seeded from the OS's randomness).
fn probe_content() -> String {
    std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish()
        .to_string()
}

/// What waiting for the message ended with.
enum Wait {
    Received(f64),
    Heartbeat(f64),
    /// Nothing by the deadline's reserve, after this long.
    Nothing(f64),
}

pub fn check(args: &Args, ctx: &Context) -> CheckResult {
    let mut notes = Vec::new();
    let sender = bot(
        "SENDER",
        &args.sender_config,
        &args.sender_email,
        &args.sender_key_file,
        &mut notes,
    )?;
    let receiver = bot(
        "RECEIVER",
        &args.receiver_config,
        &args.receiver_email,
        &args.receiver_key_file,
        &mut notes,
    )?;
    let site = args
        .site
        .clone()
        .or_else(|| std::env::var("ZULIP_SITE").ok())
        .or_else(|| sender.site.clone())
        .or_else(|| receiver.site.clone())
        .ok_or_else(|| {
            CheckError::unknown("no Zulip site: give --site, ZULIP_SITE, or site in the zuliprc")
        })?;
    let base = Url::parse(&zuliprc::api_base(&site))
        .map_err(|e| CheckError::unknown(format!("invalid Zulip site '{site}': {e}")))?;
    let mut tls = args.tls.clone();
    tls.insecure |= sender.insecure;
    if tls.ca_cert.is_none() {
        tls.ca_cert = sender.cert_bundle.clone().map(PathBuf::from);
    }
    let http = Client::new(
        &Options {
            tls,
            user_agent: format!("custos/{} {}", PLUGIN.name, PLUGIN.version),
            ..Options::default()
        },
        base.scheme() == "https",
    )?;
    let api = Api::new(base, http);
    let thresholds = Thresholds::new(Some(args.warning), Some(args.critical));
    // Kept back from the deadline to delete the message and the queue.
    let reserve = ctx
        .remaining()
        .mul_f64(0.2)
        .clamp(Duration::from_millis(300), Duration::from_secs(2));

    ctx.stage(format!("registering an event queue for {}", receiver.email));
    let (queue, mut last) = api
        .register(ctx, &receiver)
        .map_err(|f| f.into_error("Error subscribing to Zulips"))?;
    let content = probe_content();
    let started = Instant::now();
    ctx.stage(format!("sending the probe message from {}", sender.email));
    let sent = api.send(ctx, &sender, &receiver.email, &content);
    let outcome = match &sent {
        Err(_) => None,
        Ok(_) => Some(wait(
            ctx, &api, &receiver, &queue, &mut last, &content, started, reserve,
        )),
    };

    // Clean up whatever happened: the message (unless kept), then the queue.
    let mut details = notes;
    if let (Ok(id), false) = (&sent, args.keep_message) {
        ctx.stage(format!("deleting the probe message {id}"));
        match api.delete_message(ctx, &sender, *id) {
            Ok(()) if ctx.verbosity > 0 => details.push(format!("probe message {id} deleted")),
            Ok(()) => {}
            Err(f) => details.push(format!(
                "could not delete the probe message {id}: {}",
                f.words()
            )),
        }
    }
    ctx.stage(format!("deleting the event queue {queue}"));
    match api.deregister(ctx, &receiver, &queue) {
        Ok(()) if ctx.verbosity > 0 => details.push(format!("event queue {queue} deleted")),
        Ok(()) => {}
        Err(f) => details.push(format!(
            "could not delete the event queue {queue}: {}",
            f.words()
        )),
    }

    let (state, summary, time) = match (sent, outcome) {
        (Err(f), _) => {
            return Err(f.into_error("Error sending Zulip").details(&details));
        }
        (Ok(_), Some(Err(f))) => {
            return Err(f
                .into_error("Error receiving Zulips, error was")
                .details(&details));
        }
        (Ok(_), Some(Ok(Wait::Received(t)))) => {
            let mut text = format!("send time was {}", seconds(t));
            if let Some((_, why)) = thresholds.alert(t, Dimension::Time) {
                text.push_str(&format!(" ({why})"));
            }
            (thresholds.evaluate(t), text, Some(t))
        }
        (Ok(_), Some(Ok(Wait::Heartbeat(t)))) => (
            State::Critical,
            format!(
                "Got heartbeat waiting for Zulip, which means get_events is hanging (after {})",
                seconds(t)
            ),
            None,
        ),
        (Ok(_), Some(Ok(Wait::Nothing(t)))) => match thresholds.violated(t) {
            // Already later than critical: that is the measurement.
            Some((State::Critical, r)) => (
                State::Critical,
                format!(
                    "the message did not arrive within {} (critical {})",
                    seconds(t),
                    r.violation_in(t, Dimension::Time)
                ),
                None,
            ),
            _ => {
                ctx.stage(format!("waiting for the probe message in queue {queue}"));
                return Err(ctx.timed_out().details(&details));
            }
        },
        (Ok(_), None) => unreachable!("sent, so waited"),
    };
    let mut report = Report::new(state, summary);
    report.details = details;
    report.perfdata.push(match time {
        Some(t) => Perfdata::new("time", (t * 1e6).round() / 1e6)
            .uom(Uom::Seconds)
            .thresholds(&thresholds)
            .min(0.0),
        None => Perfdata::unmeasured("time")
            .uom(Uom::Seconds)
            .thresholds(&thresholds),
    });
    Ok(report)
}

/// Long-polls the receiver's queue until the probe arrives, a heartbeat comes, or only the
/// reserve is left.
#[allow(clippy::too_many_arguments)]
fn wait(
    ctx: &Context,
    api: &Api,
    receiver: &Bot,
    queue: &str,
    last: &mut i64,
    content: &str,
    started: Instant,
    reserve: Duration,
) -> Result<Wait, Failure> {
    loop {
        let left = ctx.remaining().saturating_sub(reserve);
        ctx.stage(format!("waiting for the probe message in queue {queue}"));
        let elapsed = || started.elapsed().as_secs_f64();
        if left.is_zero() {
            return Ok(Wait::Nothing(elapsed()));
        }
        let Some(events) = api.events(ctx, receiver, queue, *last, left)? else {
            return Ok(Wait::Nothing(elapsed()));
        };
        match scan_events(&events, last, content) {
            Seen::Probe => return Ok(Wait::Received(elapsed())),
            Seen::Heartbeat => return Ok(Wait::Heartbeat(elapsed())),
            Seen::Nothing => {}
        }
    }
}

/// What a batch of events held, for the probe.
#[derive(Debug, PartialEq, Eq)]
pub enum Seen {
    /// A message event whose content is the probe's.
    Probe,
    /// A heartbeat (and not the probe).
    Heartbeat,
    Nothing,
}

/// Reads a batch of events (any JSON Zulip may send): the probe, a heartbeat, or nothing;
/// `last` moves to the largest event id seen.
pub fn scan_events(events: &[serde_json::Value], last: &mut i64, content: &str) -> Seen {
    let mut seen = Seen::Nothing;
    for e in events {
        if let Some(id) = e.get("id").and_then(serde_json::Value::as_i64) {
            *last = (*last).max(id);
        }
        match e.get("type").and_then(serde_json::Value::as_str) {
            Some("message")
                if e.pointer("/message/content")
                    .and_then(serde_json::Value::as_str)
                    == Some(content) =>
            {
                return Seen::Probe;
            }
            Some("heartbeat") => seen = Seen::Heartbeat,
            _ => {}
        }
    }
    seen
}

/// `0.417s`, `12.502s`.
fn seconds(s: f64) -> String {
    format!("{s:.3}s")
}
