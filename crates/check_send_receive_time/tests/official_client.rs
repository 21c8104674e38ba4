//! The test server is faithful to Zulip: the official Python bindings (`zulip` from PyPI, in a
//! virtualenv) run register, send_message, get_events, delete_message and deregister against
//! it unchanged, and see Zulip's errors (a wrong key, a queue that is gone) as Zulip's.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

use custos_harness::zulip::{official_client_python, ZulipServer};
use std::process::Command;

const SCRIPT: &str = r#"
import sys, zulip
site, s_email, s_key, r_email, r_key = sys.argv[1:]
sender = zulip.Client(email=s_email, api_key=s_key, site=site)
receiver = zulip.Client(email=r_email, api_key=r_key, site=site)
assert sender.zulip_version == "10.0-custos-test", sender.zulip_version

reg = receiver.register(event_types=["message"], apply_markdown=False)
assert reg["result"] == "success" and reg["last_event_id"] == -1, reg
sent = sender.send_message({"type": "private", "to": [r_email], "content": "probe 42"})
assert sent["result"] == "success", sent
ev = receiver.get_events(queue_id=reg["queue_id"], last_event_id=reg["last_event_id"])
assert ev["result"] == "success", ev
msgs = [e["message"] for e in ev["events"] if e["type"] == "message"]
assert [m["content"] for m in msgs] == ["probe 42"], ev
assert msgs[0]["id"] == sent["id"] and msgs[0]["sender_email"] == s_email, msgs
last = max(e["id"] for e in ev["events"])
# Nothing new: the server answers with a heartbeat (after its heartbeat interval).
hb = receiver.get_events(queue_id=reg["queue_id"], last_event_id=last)
assert [e["type"] for e in hb["events"]] == ["heartbeat"], hb
d = sender.delete_message(sent["id"])
assert d["result"] == "success", d
again = sender.delete_message(sent["id"])
assert again["result"] == "error" and again["code"] == "BAD_REQUEST", again
dr = receiver.deregister(reg["queue_id"])
assert dr["result"] == "success", dr
gone = receiver.get_events(queue_id=reg["queue_id"], last_event_id=last)
assert gone["result"] == "error" and gone["code"] == "BAD_EVENT_QUEUE_ID", gone
bad = zulip.Client(email=s_email, api_key="wrong", site=site).register(event_types=["message"])
assert bad["result"] == "error" and bad["code"] == "INVALID_API_KEY", bad
print("official client: ok")
"#;

#[test]
fn the_official_python_client_works_unchanged() {
    let python = official_client_python().expect("the official Zulip client");
    let server = ZulipServer::start(&[
        ("nagios-send-bot@example.com", "send-key-1"),
        ("nagios-receive-bot@example.com", "receive-key-2"),
    ]);
    server.knobs(|k| k.heartbeat_after = std::time::Duration::from_millis(500));
    let out = Command::new(python)
        .args(["-c", SCRIPT, &server.url])
        .args(["nagios-send-bot@example.com", "send-key-1"])
        .args(["nagios-receive-bot@example.com", "receive-key-2"])
        .env_remove("ZULIP_CONFIG")
        .env("HOME", "/nonexistent")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.trim() == "official client: ok",
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(server.deleted(), [1]);
    assert_eq!(server.deregistered().len(), 1);
    assert_eq!(server.live_queues(), 0);
}
