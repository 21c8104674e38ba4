//! The five Zulip REST endpoints the probe uses, over custos-http: register an event queue,
//! send a message, get events (long poll), delete a message, delete the queue. HTTP Basic
//! auth with the bot's email and API key; parameters form-encoded, JSON-encoded where Zulip
//! takes JSON (`event_types`, `to`), as Zulip's API documents them.

use crate::zuliprc::Bot;
use custos_http::{Client, Method, StatusCode, Url};
use plugin_core::{CheckError, Context};
use serde_json::Value;
use std::time::Duration;

/// Largest reply read: the register reply (with the state asked for) and event batches.
const MAX_REPLY: usize = 8 << 20;

pub struct Api {
    http: Client,
    /// `https://chat.example.com/api/v1/`
    base: Url,
}

/// How a call failed.
#[derive(Debug)]
pub enum Failure {
    /// Worded already: the connection, a refused login, a reply that is not Zulip's.
    Check(CheckError),
    /// Zulip answered `"result": "error"`.
    Zulip { code: Option<String>, msg: String },
}

impl From<CheckError> for Failure {
    fn from(e: CheckError) -> Failure {
        Failure::Check(e)
    }
}

impl Api {
    pub fn new(base: Url, http: Client) -> Api {
        Api { http, base }
    }

    /// Calls `path` as `bot`; `Ok(None)` when `limit` passed first (a long poll).
    fn call(
        &self,
        ctx: &Context,
        bot: &Bot,
        method: Method,
        path: &str,
        params: &[(&str, String)],
        limit: Duration,
    ) -> Result<Option<Value>, Failure> {
        let mut url = self
            .base
            .join(path)
            .map_err(|e| CheckError::unknown(format!("bad API path {path}: {e}")))?;
        let what = format!("{method} {}", url.path());
        if method == Method::GET {
            url.query_pairs_mut().extend_pairs(params);
        }
        let mut req = self
            .http
            .request(method.clone(), url)
            .basic_auth(&bot.email, Some(bot.key.expose()));
        if method != Method::GET {
            req = req.form(params);
        }
        let Some(resp) = self.http.send_within(ctx, req, MAX_REPLY, limit)? else {
            return Ok(None);
        };
        if resp.truncated {
            return Err(CheckError::unknown(format!(
                "the Zulip server's reply to {what} is larger than {} MiB",
                MAX_REPLY >> 20
            ))
            .into());
        }
        decode(resp.status, &resp.body, &bot.email, &what).map(Some)
    }

    /// `call` within the deadline.
    fn call_now(
        &self,
        ctx: &Context,
        bot: &Bot,
        method: Method,
        path: &str,
        params: &[(&str, String)],
    ) -> Result<Value, Failure> {
        self.call(ctx, bot, method, path, params, ctx.remaining())?
            .ok_or_else(|| Failure::Check(ctx.timed_out()))
    }

    /// `POST /register` for message events (raw Markdown, as Zulip's check compares it):
    /// the queue id and the last event id.
    pub fn register(&self, ctx: &Context, bot: &Bot) -> Result<(String, i64), Failure> {
        let reply = self.call_now(
            ctx,
            bot,
            Method::POST,
            "register",
            &[
                ("event_types", r#"["message"]"#.to_string()),
                ("apply_markdown", "false".to_string()),
                ("client_gravatar", "true".to_string()),
            ],
        )?;
        let queue = reply.get("queue_id").and_then(Value::as_str);
        let last = reply.get("last_event_id").and_then(Value::as_i64);
        match (queue, last) {
            (Some(q), Some(l)) => Ok((q.to_string(), l)),
            _ => Err(CheckError::unknown(
                "invalid reply from the Zulip server to POST /api/v1/register: no queue_id or last_event_id",
            )
            .into()),
        }
    }

    /// `POST /messages`: a direct message to `to`; its id.
    pub fn send(&self, ctx: &Context, bot: &Bot, to: &str, content: &str) -> Result<u64, Failure> {
        #[allow(clippy::expect_used)] // serialising a list of strings cannot fail
        let to = serde_json::to_string(&[to]).expect("a list of strings");
        let reply = self.call_now(
            ctx,
            bot,
            Method::POST,
            "messages",
            &[
                ("type", "private".to_string()),
                ("to", to),
                ("content", content.to_string()),
            ],
        )?;
        reply.get("id").and_then(Value::as_u64).ok_or_else(|| {
            CheckError::unknown(
                "invalid reply from the Zulip server to POST /api/v1/messages: no message id",
            )
            .into()
        })
    }

    /// `GET /events` after `last`, waiting at most `limit` (`None`: nothing by then).
    pub fn events(
        &self,
        ctx: &Context,
        bot: &Bot,
        queue: &str,
        last: i64,
        limit: Duration,
    ) -> Result<Option<Vec<Value>>, Failure> {
        let reply = self.call(
            ctx,
            bot,
            Method::GET,
            "events",
            &[
                ("queue_id", queue.to_string()),
                ("last_event_id", last.to_string()),
            ],
            limit,
        )?;
        let Some(reply) = reply else {
            return Ok(None);
        };
        match reply.get("events").and_then(Value::as_array) {
            Some(events) => Ok(Some(events.clone())),
            None => Err(CheckError::unknown(
                "invalid reply from the Zulip server to GET /api/v1/events: no events",
            )
            .into()),
        }
    }

    /// `DELETE /messages/{id}`.
    pub fn delete_message(&self, ctx: &Context, bot: &Bot, id: u64) -> Result<(), Failure> {
        self.call_now(ctx, bot, Method::DELETE, &format!("messages/{id}"), &[])
            .map(|_| ())
    }

    /// `DELETE /events`: the queue.
    pub fn deregister(&self, ctx: &Context, bot: &Bot, queue: &str) -> Result<(), Failure> {
        self.call_now(
            ctx,
            bot,
            Method::DELETE,
            "events",
            &[("queue_id", queue.to_string())],
        )
        .map(|_| ())
    }
}

/// A reply of Zulip's API: its JSON when `"result": "success"`; Zulip's error; CRITICAL for a
/// refused login, a server error or a redirect; UNKNOWN for anything that is not Zulip's JSON. `what`
/// names the call (`GET /api/v1/events`).
pub fn decode(status: StatusCode, body: &[u8], email: &str, what: &str) -> Result<Value, Failure> {
    let json: Option<Value> = serde_json::from_slice(body).ok();
    let field = |k: &str| {
        json.as_ref()
            .and_then(|j| j.get(k))
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    if matches!(status, StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN) {
        let msg = field("msg").map(|m| format!(": {m}")).unwrap_or_default();
        return Err(CheckError::critical(format!(
            "the Zulip server refused {} ({}{msg})",
            email, status
        ))
        .into());
    }
    match (json.as_ref(), field("result").as_deref()) {
        (Some(j), Some("success")) => Ok(j.clone()),
        (Some(_), Some("error")) => Err(Failure::Zulip {
            code: field("code"),
            msg: field("msg").unwrap_or_default(),
        }),
        _ if status.is_server_error() => Err(CheckError::critical(format!(
            "the Zulip server answered {what} with {}",
            status
        ))
        .into()),
        // The API does not redirect: --site is not the server's own URL (http for https,
        // an old name, a login page in front).
        _ if status.is_redirection() => Err(CheckError::critical(format!(
            "the Zulip server answered {what} with {status}: a redirect, so --site is not the server's own URL"
        ))
        .into()),
        _ => Err(CheckError::unknown(format!(
            "invalid reply from the Zulip server to {what} ({}): not Zulip's JSON",
            status
        ))
        .into()),
    }
}

impl Failure {
    /// The failure as the check reports it: Zulip's errors CRITICAL, in `context`'s words
    /// (`Error sending Zulip`), a vanished queue said so.
    pub fn into_error(self, context: &str) -> CheckError {
        match self {
            Failure::Check(e) => e,
            Failure::Zulip { code, msg } if code.as_deref() == Some("BAD_EVENT_QUEUE_ID") => {
                CheckError::critical(format!(
                    "the event queue is gone (BAD_EVENT_QUEUE_ID): {msg}"
                ))
            }
            Failure::Zulip { msg, .. } => CheckError::critical(format!("{context}: {msg}")),
        }
    }

    /// One line for the long output (cleanup failures).
    pub fn words(self) -> String {
        self.into_error("error").message
    }
}
