//! A small Zulip-compatible server for the tests of check_send_receive_time (running a real
//! Zulip here is not practical). It implements what the check and the official Python client
//! (`zulip` on PyPI, which the tests run against it unchanged) use, with Zulip's request and
//! response shapes: `GET /api/v1/server_settings`, `POST /api/v1/register`,
//! `POST /api/v1/messages`, `GET /api/v1/events` (long-poll, heartbeat), `DELETE
//! /api/v1/messages/{id}`, `DELETE /api/v1/events`; HTTP Basic auth with email and API key;
//! form-encoded parameters, JSON-encoded where Zulip takes JSON (`event_types`, `to`).
//!
//! Knobs make it misbehave: slow or lost deliveries, heartbeats, errors, garbage.

use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// How the server behaves; change with [`ZulipServer::knobs`].
#[derive(Clone, Debug)]
pub struct Knobs {
    /// A sent message reaches the recipients' queues after this long.
    pub delivery_delay: Duration,
    /// Sent messages are accepted and never delivered.
    pub lose_messages: bool,
    /// `GET /events` with nothing to return answers with a heartbeat after this long (Zulip:
    /// about 45 s).
    pub heartbeat_after: Duration,
    /// `POST /messages` fails with this message.
    pub send_error: Option<String>,
    /// `POST /register` fails with this message.
    pub register_error: Option<String>,
    /// `GET /events` answers BAD_EVENT_QUEUE_ID (the queue was garbage-collected).
    pub forget_queues: bool,
    /// Every API reply is HTML, not JSON.
    pub garbage: bool,
}

impl Default for Knobs {
    fn default() -> Knobs {
        Knobs {
            delivery_delay: Duration::ZERO,
            lose_messages: false,
            heartbeat_after: Duration::from_secs(45),
            send_error: None,
            register_error: None,
            forget_queues: false,
            garbage: false,
        }
    }
}

struct Queue {
    owner: String,
    events: Vec<Value>,
    next_event: i64,
}

#[derive(Default)]
struct State {
    /// `Authorization` header value → email.
    auth: HashMap<String, String>,
    queues: HashMap<String, Queue>,
    /// message id → sender.
    messages: HashMap<u64, String>,
    next_message: u64,
    next_queue: u64,
    deleted: Vec<u64>,
    deregistered: Vec<String>,
    knobs: Knobs,
}

/// The server, on a loopback port; requests are served until the test process ends.
pub struct ZulipServer {
    /// `http://127.0.0.1:PORT`
    pub url: String,
    shared: Arc<(Mutex<State>, Condvar)>,
}

fn basic(email: &str, key: &str) -> String {
    format!(
        "Basic {}",
        crate::util::base64(format!("{email}:{key}").as_bytes())
    )
}

type Reply = (u16, String);

fn success(mut v: Value) -> Reply {
    v["result"] = json!("success");
    v["msg"] = json!("");
    (200, v.to_string())
}

fn error(status: u16, code: &str, msg: &str) -> Reply {
    (
        status,
        json!({"result": "error", "msg": msg, "code": code}).to_string(),
    )
}

/// Form parameters from the query string and (for other methods than GET) the body.
fn params(url: &str, body: &str) -> HashMap<String, String> {
    let query = url.split_once('?').map(|(_, q)| q).unwrap_or("");
    url::form_urlencoded::parse(query.as_bytes())
        .chain(url::form_urlencoded::parse(body.as_bytes()))
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// Zulip's `to`: a JSON list of emails, or one email, or emails separated by commas.
fn recipients(to: &str) -> Vec<String> {
    match serde_json::from_str::<Vec<Value>>(to) {
        Ok(list) => list
            .into_iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect(),
        Err(_) => to.split(',').map(|s| s.trim().to_string()).collect(),
    }
}

impl ZulipServer {
    /// Starts the server with `users` (email, API key).
    pub fn start(users: &[(&str, &str)]) -> ZulipServer {
        let server = tiny_http::Server::http("127.0.0.1:0").expect("binding the Zulip server");
        let port = server.server_addr().to_ip().expect("an IP listener").port();
        let mut state = State::default();
        for (email, key) in users {
            state.auth.insert(basic(email, key), email.to_string());
        }
        let shared = Arc::new((Mutex::new(state), Condvar::new()));
        let worker = shared.clone();
        std::thread::spawn(move || {
            for request in server.incoming_requests() {
                let shared = worker.clone();
                std::thread::spawn(move || serve(&shared, request));
            }
        });
        ZulipServer {
            url: format!("http://127.0.0.1:{port}"),
            shared,
        }
    }

    /// Changes how the server behaves.
    pub fn knobs(&self, f: impl FnOnce(&mut Knobs)) {
        f(&mut self.shared.0.lock().unwrap().knobs);
    }

    /// Message ids deleted so far.
    pub fn deleted(&self) -> Vec<u64> {
        self.shared.0.lock().unwrap().deleted.clone()
    }

    /// Queue ids deregistered so far.
    pub fn deregistered(&self) -> Vec<String> {
        self.shared.0.lock().unwrap().deregistered.clone()
    }

    /// Queues still registered.
    pub fn live_queues(&self) -> usize {
        self.shared.0.lock().unwrap().queues.len()
    }

    /// Messages sent so far (deleted or not).
    pub fn sent(&self) -> u64 {
        self.shared.0.lock().unwrap().next_message
    }
}

fn serve(shared: &Arc<(Mutex<State>, Condvar)>, mut request: tiny_http::Request) {
    let method = request.method().as_str().to_string();
    let url = request.url().to_string();
    let mut body = String::new();
    let _ = request.as_reader().read_to_string(&mut body);
    let auth = request
        .headers()
        .iter()
        .find(|h| h.field.equiv("Authorization"))
        .map(|h| h.value.as_str().to_string());
    let (status, text) = route(shared, &method, &url, &body, auth.as_deref());
    let garbage = shared.0.lock().unwrap().knobs.garbage;
    let (status, text, kind) = if garbage && url.starts_with("/api/v1/") {
        (
            200,
            "<html>\"oops\" | <b>not JSON</b>\n</html>".to_string(),
            "text/html",
        )
    } else {
        (status, text, "application/json")
    };
    let response = tiny_http::Response::from_string(text)
        .with_status_code(status)
        .with_header(tiny_http::Header::from_bytes(&b"Content-Type"[..], kind.as_bytes()).unwrap());
    let _ = request.respond(response);
}

fn route(
    shared: &Arc<(Mutex<State>, Condvar)>,
    method: &str,
    url: &str,
    body: &str,
    auth: Option<&str>,
) -> Reply {
    let path = url.split('?').next().unwrap_or("");
    let p = params(url, body);
    if (method, path) == ("GET", "/api/v1/server_settings") {
        return success(json!({
            "zulip_version": "10.0-custos-test",
            "zulip_feature_level": 300,
            "zulip_merge_base": "10.0",
            "push_notifications_enabled": false,
            "authentication_methods": {"password": true},
            "realm_uri": "http://127.0.0.1",
            "realm_url": "http://127.0.0.1",
        }));
    }
    let (lock, wake) = &**shared;
    let mut st = lock.lock().unwrap();
    let Some(user) = auth.and_then(|a| st.auth.get(a)).cloned() else {
        return if auth.is_some() {
            error(401, "INVALID_API_KEY", "Invalid API key")
        } else {
            error(
                401,
                "UNAUTHORIZED",
                "Not logged in: API authentication or user session required",
            )
        };
    };
    let bad_queue = |id: &str| {
        (
            400,
            json!({"result": "error", "msg": format!("Bad event queue ID: {id}"),
                   "code": "BAD_EVENT_QUEUE_ID", "queue_id": id})
            .to_string(),
        )
    };
    match (method, path) {
        ("POST", "/api/v1/register") => {
            if let Some(msg) = st.knobs.register_error.clone() {
                return error(400, "BAD_REQUEST", &msg);
            }
            let types = p.get("event_types").map(String::as_str).unwrap_or("null");
            if serde_json::from_str::<Option<Vec<String>>>(types).is_err() {
                return error(400, "BAD_REQUEST", "Invalid event_types");
            }
            st.next_queue += 1;
            let id = format!("1732280000:{}", st.next_queue);
            st.queues.insert(
                id.clone(),
                Queue {
                    owner: user,
                    events: Vec::new(),
                    next_event: 0,
                },
            );
            let max = st.next_message;
            success(json!({
                "queue_id": id, "last_event_id": -1, "max_message_id": max,
                "zulip_version": "10.0-custos-test", "zulip_feature_level": 300,
                "zulip_merge_base": "10.0",
            }))
        }
        ("POST", "/api/v1/messages") => {
            if let Some(msg) = st.knobs.send_error.clone() {
                return error(400, "BAD_REQUEST", &msg);
            }
            let (Some(kind), Some(to), Some(content)) =
                (p.get("type"), p.get("to"), p.get("content"))
            else {
                return error(
                    400,
                    "BAD_REQUEST",
                    "Missing 'type', 'to' or 'content' argument",
                );
            };
            if !matches!(kind.as_str(), "private" | "direct") {
                return error(400, "BAD_REQUEST", "Only direct messages here");
            }
            let to = recipients(to);
            if to.iter().any(|r| !st.auth.values().any(|u| u == r)) {
                return error(
                    400,
                    "BAD_REQUEST",
                    &format!("Invalid email '{}'", to.join(",")),
                );
            }
            st.next_message += 1;
            let id = st.next_message;
            st.messages.insert(id, user.clone());
            let message = json!({
                "id": id, "type": "private", "content": content, "content_type": "text/x-markdown",
                "sender_email": user, "sender_full_name": user, "subject": "",
                "timestamp": std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs(),
                "display_recipient": to.iter().map(|e| json!({"email": e})).collect::<Vec<_>>(),
            });
            if !st.knobs.lose_messages {
                let delay = st.knobs.delivery_delay;
                let mut audience = to.clone();
                audience.push(user);
                let shared = shared.clone();
                std::thread::spawn(move || {
                    std::thread::sleep(delay);
                    let (lock, wake) = &*shared;
                    let mut st = lock.lock().unwrap();
                    for q in st
                        .queues
                        .values_mut()
                        .filter(|q| audience.contains(&q.owner))
                    {
                        let eid = q.next_event;
                        q.next_event += 1;
                        q.events.push(json!({"type": "message", "id": eid, "flags": [], "message": message.clone()}));
                    }
                    wake.notify_all();
                });
            }
            success(json!({"id": id}))
        }
        ("GET", "/api/v1/events") => {
            let id = p.get("queue_id").cloned().unwrap_or_default();
            let last: i64 = p
                .get("last_event_id")
                .and_then(|v| v.parse().ok())
                .unwrap_or(-1);
            let dont_block = p.get("dont_block").is_some_and(|v| v == "true");
            let until = Instant::now() + st.knobs.heartbeat_after;
            loop {
                if st.knobs.forget_queues {
                    st.queues.remove(&id);
                }
                let Some(q) = st.queues.get_mut(&id) else {
                    return bad_queue(&id);
                };
                if q.owner != user {
                    return bad_queue(&id);
                }
                q.events.retain(|e| e["id"].as_i64().unwrap_or(-1) > last);
                if !q.events.is_empty() || dont_block {
                    let events = q.events.clone();
                    return success(json!({"events": events, "queue_id": id}));
                }
                let left = until.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    let eid = q.next_event;
                    q.next_event += 1;
                    let hb = json!({"type": "heartbeat", "id": eid});
                    q.events.push(hb.clone());
                    return success(json!({"events": [hb], "queue_id": id}));
                }
                st = wake.wait_timeout(st, left).unwrap().0;
            }
        }
        ("DELETE", "/api/v1/events") => {
            let id = p.get("queue_id").cloned().unwrap_or_default();
            match st.queues.get(&id) {
                Some(q) if q.owner == user => {
                    st.queues.remove(&id);
                    st.deregistered.push(id);
                    success(json!({}))
                }
                _ => bad_queue(&id),
            }
        }
        ("DELETE", m) if m.starts_with("/api/v1/messages/") => {
            let id: u64 = m.rsplit('/').next().unwrap_or("").parse().unwrap_or(0);
            match st.messages.get(&id) {
                Some(sender) if *sender == user && !st.deleted.contains(&id) => {
                    st.deleted.push(id);
                    success(json!({}))
                }
                Some(_) if !st.deleted.contains(&id) => error(
                    400,
                    "BAD_REQUEST",
                    "You don't have permission to delete this message",
                ),
                _ => error(400, "BAD_REQUEST", "Invalid message(s)"),
            }
        }
        _ => error(404, "BAD_REQUEST", "Endpoint does not exist."),
    }
}

/// The official Zulip Python client, in a virtualenv under `target/zulip-venv` made on first
/// use (`pip install zulip==ZULIP_CLIENT_VERSION`, from PyPI): the path of its python.
pub fn official_client_python() -> anyhow::Result<std::path::PathBuf> {
    use anyhow::Context as _;
    let target = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target");
    let venv = target.join("zulip-venv");
    let python = venv.join("bin/python");
    let ready = venv.join(format!(".custos-zulip-{ZULIP_CLIENT_VERSION}"));
    if ready.exists() {
        return Ok(python);
    }
    // One test process at a time builds it.
    std::fs::create_dir_all(&target)?;
    let lock = std::fs::File::create(target.join("zulip-venv.lock"))?;
    use std::os::fd::AsRawFd;
    // SAFETY: flock on a file we hold open.
    unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX) };
    if !ready.exists() {
        crate::util::run_ok(
            std::process::Command::new("python3")
                .arg("-m")
                .arg("venv")
                .arg(&venv),
            "python3 -m venv (apt-get install python3-venv)",
        )?;
        crate::util::run_ok(
            std::process::Command::new(venv.join("bin/pip"))
                .args(["install", "--quiet", "--disable-pip-version-check"])
                .arg(format!("zulip=={ZULIP_CLIENT_VERSION}")),
            "pip install zulip",
        )
        .context("installing the official Zulip client from PyPI")?;
        std::fs::write(&ready, "")?;
    }
    Ok(python)
}

/// The version of the official client the tests use.
pub const ZULIP_CLIENT_VERSION: &str = "0.9.1";
