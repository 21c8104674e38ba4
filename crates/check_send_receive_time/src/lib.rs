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
use custos_zulip::{Site, SiteArgs};
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
pub const PLUGIN: Plugin = Plugin::new("check_send_receive_time", env!("CARGO_PKG_VERSION"))
    .with_default_timeout("30")
    .with_rewrite_args(rewrite);

/// Where Zulip's cron mode (`--nagios`) writes its result, for `check_cron_file`.
pub const NAGIOS_STATE_FILE: &str = "/var/lib/nagios_state/check_send_receive_state";
/// The same for the 2016-2019 `--websocket` cron line.
pub const WEBSOCKET_STATE_FILE: &str = "/var/lib/nagios_state/check_send_receive_websockets_state";

/// Zulip's `--nagios` (without `--munin`) writes Zulip's state file unless `--state-file` names
/// another.
fn rewrite(_invoked_as: &str, mut argv: Vec<std::ffi::OsString>) -> Vec<std::ffi::OsString> {
    let has = |argv: &[std::ffi::OsString], flag: &str| {
        argv.iter().skip(1).take_while(|a| *a != "--").any(|a| {
            a == flag
                || a.to_str()
                    .is_some_and(|t| t.starts_with(&format!("{flag}=")))
        })
    };
    if has(&argv, "--nagios") && !has(&argv, "--munin") && !has(&argv, "--state-file") {
        let file = if has(&argv, "--websocket") {
            WEBSOCKET_STATE_FILE
        } else {
            NAGIOS_STATE_FILE
        };
        argv.insert(1, format!("--state-file={file}").into());
    }
    argv
}

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

    /// Zulip's cron mode (2014-2024 cron lines): also write the result to
    /// /var/lib/nagios_state/check_send_receive_state (unless --state-file names another)
    #[arg(long = "nagios", help_heading = "Zulip's options")]
    pub nagios: bool,

    /// Print munin's value (sendreceive.value SECONDS), or with the argument `config` munin's
    /// graph configuration, as Zulip's plugin did
    #[arg(long = "munin", help_heading = "Zulip's options")]
    pub munin: bool,

    /// Zulip's 2016-2019 websocket probe: Zulip removed that API in 2019, so the probe uses the
    /// event queue; with --nagios the result goes to check_send_receive_websockets_state
    #[arg(long = "websocket", help_heading = "Zulip's options")]
    pub websocket: bool,

    /// Accepted for a Zulip cron line of ~2020; the probe connects to --site as given
    #[arg(long = "force-localhost", help_heading = "Zulip's options")]
    pub force_localhost: bool,

    /// `config`: with --munin, print munin's graph configuration and exit
    #[arg(value_name = "config")]
    pub config: Option<String>,

    #[command(flatten)]
    pub tls: TlsArgs,

    #[command(flatten)]
    pub zulip: SiteArgs,
}

/// `--munin config`: Zulip's graph configuration for munin, as its plugin printed it.
pub const MUNIN_CONFIG: &str = "graph_title Send-Receive times
graph_info The number of seconds it takes to send and receive a message from the server
graph_args -u 5 -l 0
graph_vlabel RTT (seconds)
sendreceive.label Send-receive round trip time
sendreceive.warning 3
sendreceive.critical 5";

/// One bot's credentials as the options, its zuliprc and the environment give them (`SENDER`
/// or `RECEIVER`): the bot, or its email when no key was found (None: not even that).
fn bot_from_options(
    role: &str,
    config: &Option<PathBuf>,
    email: &Option<String>,
    key_file: &Option<PathBuf>,
) -> Result<Result<Bot, Option<String>>, CheckError> {
    let env = |what: &str| std::env::var(format!("ZULIP_{role}_{what}")).ok();
    let from_config = config.as_deref().map(zuliprc::read).transpose()?;
    let key = match key_file {
        Some(f) => Some(plugin_core::secret::read_file(
            f,
            &format!("--{}-key-file", role.to_lowercase()),
        )?),
        None => from_config.as_ref().map(|b| b.key.clone()),
    }
    .or_else(|| env("API_KEY").map(Secret::new));
    let email = email
        .clone()
        .or_else(|| from_config.as_ref().map(|b| b.email.clone()))
        .or_else(|| env("EMAIL"));
    let (Some(email), Some(key)) = (email.clone(), key) else {
        return Ok(Err(email));
    };
    Ok(Ok(Bot {
        email,
        key,
        ..from_config.unwrap_or_else(|| Bot::new(String::new(), Secret::default()))
    }))
}

/// Both bots: from the options, zuliprc files and the environment; on a Zulip server, what is
/// missing comes from Zulip itself, as Zulip's plugin took it (the bots named by Zulip's
/// settings, their keys from Zulip's database).
fn bots(args: &Args, site: Option<&Site>, ctx: &Context) -> Result<(Bot, Bot), CheckError> {
    let sender = bot_from_options(
        "SENDER",
        &args.sender_config,
        &args.sender_email,
        &args.sender_key_file,
    )?;
    let receiver = bot_from_options(
        "RECEIVER",
        &args.receiver_config,
        &args.receiver_email,
        &args.receiver_key_file,
    )?;
    if let (Ok(s), Ok(r)) = (&sender, &receiver) {
        return Ok((s.clone(), r.clone()));
    }
    let Some(site) = site else {
        let lower = if sender.is_err() {
            "sender"
        } else {
            "receiver"
        };
        let upper = lower.to_uppercase();
        return Err(CheckError::unknown(format!(
            "no credentials for the {lower}: give --{lower}-config, or --{lower}-email with --{lower}-key-file, or ZULIP_{upper}_EMAIL and ZULIP_{upper}_API_KEY (on a Zulip server they come from Zulip; {} is not there)",
            args.zulip.conf.display()
        )));
    };
    let (send_default, receive_default) = site.nagios_bots();
    let email = |b: &Result<Bot, Option<String>>, default: String| match b {
        Ok(bot) => bot.email.clone(),
        Err(email) => email.clone().unwrap_or(default),
    };
    let emails = [
        email(&sender, send_default),
        email(&receiver, receive_default),
    ];
    let keys = site.bot_keys(ctx, PLUGIN.name, &[&emails[0], &emails[1]])?;
    let pick = |b: Result<Bot, Option<String>>, email: &str, key: &Secret| {
        b.unwrap_or_else(|_| Bot::new(email.to_string(), key.clone()))
    };
    Ok((
        pick(sender, &emails[0], &keys[0]),
        pick(receiver, &emails[1], &keys[1]),
    ))
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
    if args.munin && args.config.as_deref() == Some("config") {
        return Ok(Report::ok(MUNIN_CONFIG).as_plain());
    }
    if let Some(other) = args.config.as_deref().filter(|c| *c != "config") {
        return Err(CheckError::unknown(format!(
            "unexpected argument '{other}' (the only argument is munin's 'config')"
        )));
    }
    let zulip = Site::load(&args.zulip)?;
    let (sender, receiver) = bots(args, zulip.as_ref(), ctx)?;
    let site = args
        .site
        .clone()
        .or_else(|| std::env::var("ZULIP_SITE").ok())
        .or_else(|| sender.site.clone())
        .or_else(|| receiver.site.clone())
        .or_else(|| zulip.as_ref().and_then(Site::bot_site))
        .ok_or_else(|| {
            CheckError::unknown("no Zulip site: give --site, ZULIP_SITE, or site in the zuliprc")
        })?;
    let report = probe(args, ctx, &site, &sender, &receiver)?;
    if args.munin && report.state == State::Ok {
        // Munin reads the value alone (Zulip printed Python's repr of the float).
        let value = report
            .perfdata
            .first()
            .and_then(|p| p.value)
            .unwrap_or_default();
        return Ok(Report::ok(format!("sendreceive.value {value}")).as_plain());
    }
    Ok(report)
}

/// The API client for `site`, with TLS as the options and the sender's zuliprc say.
fn api(args: &Args, site: &str, sender: &Bot) -> Result<Api, CheckError> {
    let base = Url::parse(&zuliprc::api_base(site))
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
    Ok(Api::new(base, http))
}

/// The probe itself: register, send, wait, clean up, judge.
fn probe(args: &Args, ctx: &Context, site: &str, sender: &Bot, receiver: &Bot) -> CheckResult {
    let api = api(args, site, sender)?;
    // Kept back from the deadline to delete the message and the queue.
    let reserve = ctx
        .remaining()
        .mul_f64(0.2)
        .clamp(Duration::from_millis(300), Duration::from_secs(2));
    ctx.stage(format!("registering an event queue for {}", receiver.email));
    let (queue, last) = api
        .register(ctx, receiver)
        .map_err(|f| f.into_error("Error subscribing to Zulips"))?;
    let content = probe_content();
    let started = Instant::now();
    ctx.stage(format!("sending the probe message from {}", sender.email));
    let sent = api.send(ctx, sender, &receiver.email, &content);
    let outcome = sent.as_ref().ok().map(|_| {
        Waiting {
            api: &api,
            receiver,
            queue: &queue,
            content: &content,
            started,
            reserve,
        }
        .wait(ctx, last)
    });
    let details = clean_up(
        args,
        ctx,
        &api,
        (sender, receiver),
        sent.as_ref().ok(),
        &queue,
    );
    let outcome = match (sent, outcome) {
        (Err(f), _) => return Err(f.into_error("Error sending Zulip").details(&details)),
        (Ok(_), Some(Err(f))) => {
            return Err(f
                .into_error("Error receiving Zulips, error was")
                .details(&details))
        }
        (Ok(_), Some(Ok(wait))) => wait,
        (Ok(_), None) => unreachable!("sent, so waited"),
    };
    let mut report = judge(args, ctx, outcome, &queue).map_err(|e| e.details(&details))?;
    report.details = details;
    Ok(report)
}

/// Deletes the probe message (unless kept) and the event queue, whatever happened: the long
/// output lines about it.
fn clean_up(
    args: &Args,
    ctx: &Context,
    api: &Api,
    (sender, receiver): (&Bot, &Bot),
    sent: Option<&u64>,
    queue: &str,
) -> Vec<String> {
    let mut details = Vec::new();
    if let (Some(id), false) = (sent, args.keep_message) {
        ctx.stage(format!("deleting the probe message {id}"));
        match api.delete_message(ctx, sender, *id) {
            Ok(()) if ctx.verbosity > 0 => details.push(format!("probe message {id} deleted")),
            Ok(()) => {}
            Err(f) => details.push(format!(
                "could not delete the probe message {id}: {}",
                f.words()
            )),
        }
    }
    ctx.stage(format!("deleting the event queue {queue}"));
    match api.deregister(ctx, receiver, queue) {
        Ok(()) if ctx.verbosity > 0 => details.push(format!("event queue {queue} deleted")),
        Ok(()) => {}
        Err(f) => details.push(format!(
            "could not delete the event queue {queue}: {}",
            f.words()
        )),
    }
    details
}

/// What the wait ended with, judged: Zulip's `send time was ...` against the thresholds, a
/// heartbeat CRITICAL, a message not there past the critical CRITICAL, else the deadline.
fn judge(args: &Args, ctx: &Context, outcome: Wait, queue: &str) -> CheckResult {
    let thresholds = Thresholds::new(Some(args.warning), Some(args.critical));
    let (state, summary, time) = match outcome {
        Wait::Received(t) => {
            let mut text = format!("send time was {}", seconds(t));
            if let Some((_, why)) = thresholds.alert(t, Dimension::Time) {
                text.push_str(&format!(" ({why})"));
            }
            (thresholds.evaluate(t), text, Some(t))
        }
        Wait::Heartbeat(t) => (
            State::Critical,
            format!(
                "Got heartbeat waiting for Zulip, which means get_events is hanging (after {})",
                seconds(t)
            ),
            None,
        ),
        Wait::Nothing(t) => match thresholds.violated(t) {
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
                return Err(ctx.timed_out());
            }
        },
    };
    let mut report = Report::new(state, summary);
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

/// A probe on its way: what waiting for it needs.
struct Waiting<'a> {
    api: &'a Api,
    receiver: &'a Bot,
    queue: &'a str,
    content: &'a str,
    started: Instant,
    /// Kept back from the deadline for the clean-up.
    reserve: Duration,
}

impl Waiting<'_> {
    /// Long-polls the receiver's queue from event `last` until the probe arrives, a heartbeat
    /// comes, or only the reserve is left.
    fn wait(&self, ctx: &Context, mut last: i64) -> Result<Wait, Failure> {
        let elapsed = || self.started.elapsed().as_secs_f64();
        loop {
            let left = ctx.remaining().saturating_sub(self.reserve);
            ctx.stage(format!(
                "waiting for the probe message in queue {}",
                self.queue
            ));
            if left.is_zero() {
                return Ok(Wait::Nothing(elapsed()));
            }
            let Some(events) = self
                .api
                .events(ctx, self.receiver, self.queue, last, left)?
            else {
                return Ok(Wait::Nothing(elapsed()));
            };
            match scan_events(&events, &mut last, self.content) {
                Seen::Probe => return Ok(Wait::Received(elapsed())),
                Seen::Heartbeat => return Ok(Wait::Heartbeat(elapsed())),
                Seen::Nothing => {}
            }
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
