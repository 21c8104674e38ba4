//! AMQP (lapin) for named queues: a passive `queue.declare` answers with the queue's message
//! and consumer counts, or NOT_FOUND. Works where the management plugin is off, or for a user
//! without management rights. Plain AMQP only; for TLS use the management API over https.

use crate::{BrokerArgs, Credentials, Queue};
use lapin::options::QueueDeclareOptions;
use lapin::types::FieldTable;
use lapin::{Connection, ConnectionProperties, ErrorKind};
use plugin_core::{CheckError, Context};
use std::time::Duration;

/// The broker over AMQP 0-9-1 (lapin): where and as whom to connect, for passive declares of
/// named queues.
pub struct Amqp {
    /// Host and port, for messages.
    target: String,
    vhost: String,
    creds: Credentials,
    rt: tokio::runtime::Runtime,
}

/// Time kept back from the deadline so that the check reports the timeout itself.
const MARGIN: Duration = Duration::from_millis(50);

/// Percent-encodes a URI component (userinfo, vhost).
fn pct(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

impl Amqp {
    /// The broker at `url` (`amqp://` or `amqps://`), with the credentials of `args`.
    pub fn new(args: &BrokerArgs, url: &str) -> Result<Amqp, CheckError> {
        let mut parsed = custos_http::Url::parse(url)
            .map_err(|e| CheckError::unknown(format!("invalid --amqp-url: {e}")))?;
        match parsed.scheme() {
            "amqp" => {}
            "amqps" => {
                return Err(CheckError::unknown(
                    "amqps:// is not supported; use the management API over https (--api-url)",
                ))
            }
            _ => return Err(CheckError::unknown("--amqp-url must be an amqp:// URL")),
        }
        let host = parsed
            .host_str()
            .ok_or_else(|| CheckError::unknown("--amqp-url has no host"))?
            .to_string();
        let (url_user, url_password) = crate::take_credentials(&mut parsed);
        let creds = args.credentials(url_user, url_password)?;
        let vhost = match parsed.path() {
            "" | "/" => args.vhost.clone(),
            path => percent_encoding::percent_decode_str(&path[1..])
                .decode_utf8_lossy()
                .into_owned(),
        };
        let rt = plugin_core::runtime()?;
        Ok(Amqp {
            target: format!("{host}:{}", parsed.port().unwrap_or(5672)),
            vhost,
            creds,
            rt,
        })
    }

    fn uri(&self) -> String {
        format!(
            "amqp://{}:{}@{}/{}",
            pct(&self.creds.user),
            pct(self.creds.password.expose()),
            self.target,
            pct(&self.vhost)
        )
    }

    /// Messages and consumers of each named queue (`None`: it does not exist).
    pub fn queues(&self, ctx: &Context, names: &[String]) -> Result<crate::Selection, CheckError> {
        let left = ctx.remaining().saturating_sub(MARGIN);
        ctx.stage(format!("connecting to {} (AMQP)", self.target));
        let work = async {
            let conn = Connection::connect(&self.uri(), ConnectionProperties::default())
                .await
                .map_err(|e| self.describe(&e))?;
            let mut out = Vec::new();
            let mut channel = None;
            for name in names {
                plugin_core::stage(format!("declaring queue {name} (passive)"));
                let ch = match &channel {
                    Some(ch) => ch,
                    None => {
                        channel.insert(conn.create_channel().await.map_err(|e| self.describe(&e))?)
                    }
                };
                let passive = QueueDeclareOptions {
                    passive: true,
                    ..QueueDeclareOptions::default()
                };
                match ch
                    .queue_declare(name.as_str().into(), passive, FieldTable::default())
                    .await
                {
                    Ok(q) => out.push((
                        name.clone(),
                        Some(Queue {
                            name: name.clone(),
                            messages: Some(q.message_count() as u64),
                            ready: Some(q.message_count() as u64),
                            consumers: Some(q.consumer_count() as u64),
                            ..Queue::default()
                        }),
                    )),
                    Err(e) if is_not_found(&e) => {
                        // The broker closed the channel: the next queue needs a new one.
                        channel = None;
                        out.push((name.clone(), None));
                    }
                    Err(e) => return Err(self.describe(&e)),
                }
            }
            let _ = conn.close(200, "custos done".into()).await;
            Ok(out)
        };
        match self
            .rt
            .block_on(async { tokio::time::timeout(left, work).await })
        {
            Ok(result) => result,
            Err(_) => Err(ctx.timed_out()),
        }
    }

    /// An AMQP failure in words: refused connections and logins are CRITICAL.
    fn describe(&self, e: &lapin::Error) -> CheckError {
        let target = &self.target;
        let text = match e.kind() {
            ErrorKind::IOError(io) => match io.kind() {
                std::io::ErrorKind::ConnectionRefused => {
                    format!("connection refused by {target} (AMQP)")
                }
                std::io::ErrorKind::ConnectionReset
                | std::io::ErrorKind::ConnectionAborted
                | std::io::ErrorKind::UnexpectedEof => {
                    format!("{target} closed the AMQP connection: {io}")
                }
                _ => format!("AMQP connection to {target} failed: {io}"),
            },
            ErrorKind::ProtocolError(p) => {
                let message = p.get_message().to_string();
                if message.contains("ACCESS_REFUSED") || message.contains("Login was refused") {
                    format!(
                        "RabbitMQ refused the login of user '{}' (AMQP): {message}",
                        self.creds.user
                    )
                } else if message.contains("NOT_ALLOWED") && message.contains("vhost") {
                    format!("RabbitMQ refused vhost '{}' (AMQP): {message}", self.vhost)
                } else {
                    format!("AMQP error from {target}: {message}")
                }
            }
            // lapin's parser error prints its internals (`ParserErrors { error: Nom(MapOpt) }`).
            ErrorKind::ParsingError(_) => {
                format!("{target} does not speak AMQP 0-9-1: its reply is not an AMQP frame")
            }
            ErrorKind::InvalidConnectionState(_) => format!(
                "{target} closed the AMQP connection (refused login or vhost '{}'?)",
                self.vhost
            ),
            _ => format!("AMQP error from {target}: {e}"),
        };
        CheckError::critical(text)
    }
}

fn is_not_found(e: &lapin::Error) -> bool {
    matches!(e.kind(), ErrorKind::ProtocolError(p) if p.get_message().as_str().contains("NOT_FOUND"))
}
