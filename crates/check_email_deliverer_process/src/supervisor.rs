//! `supervisorctl status PROGRAM`, read as Zulip's check read it: the second word is the
//! state; RUNNING is OK; STOPPED, STARTING, BACKOFF, STOPPING, EXITED, FATAL, UNKNOWN are
//! WARNING; anything else (no such process, permission denied) is UNKNOWN with supervisorctl's
//! words.

use crate::{one_line, Finding};
use plugin_core::{CheckError, Context, State};

/// Asks supervisord; `supervisorctl` is the command to run (with its options).
pub fn status(ctx: &Context, supervisorctl: &str, program: &str) -> Result<Finding, CheckError> {
    let mut cmd = plugin_core::process::split_command(supervisorctl)?;
    cmd.args(["status", program]);
    let out = plugin_core::process::run(ctx, &mut cmd, "supervisorctl status", 64 * 1024)?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let text = if text.trim().is_empty() {
        out.complaint()
    } else {
        text
    };
    Ok(parse(program, &text))
}

/// Reads one `status` line.
pub fn parse(program: &str, output: &str) -> Finding {
    let line = output.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
    let mut words = line.split_whitespace();
    let name = words.next().unwrap_or("");
    let word = words.next().unwrap_or("");
    let rest = one_line(&words.collect::<Vec<_>>().join(" "));
    let state = match word {
        "RUNNING" => State::Ok,
        "STOPPED" | "STARTING" | "BACKOFF" | "STOPPING" | "EXITED" | "FATAL" | "UNKNOWN" => {
            State::Warning
        }
        _ => State::Unknown,
    };
    if state == State::Unknown || name != program {
        return Finding {
            state: State::Unknown,
            text: format!("supervisorctl status {program}: {}", one_line(output)),
            uptime: None,
        };
    }
    let uptime = if state == State::Ok {
        uptime(&rest)
    } else {
        None
    };
    Finding {
        state,
        text: if rest.is_empty() {
            format!("{program} is {word}")
        } else {
            format!("{program} is {word} ({rest})")
        },
        uptime,
    }
}

/// `pid 123, uptime 1 day, 2:03:04` → seconds.
fn uptime(rest: &str) -> Option<f64> {
    let up = rest.split("uptime ").nth(1)?.trim();
    let (days, clock) = match up.split_once(',') {
        Some((d, c)) => (d.split_whitespace().next()?.parse::<f64>().ok()?, c.trim()),
        None => (0.0, up),
    };
    let parts: Vec<f64> = clock.split(':').filter_map(|p| p.parse().ok()).collect();
    let [h, m, s] = parts[..] else {
        return None;
    };
    Some(days * 86400.0 + h * 3600.0 + m * 60.0 + s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zulip_state_mapping() {
        let p = "zulip_deliver_scheduled_emails";
        let f = parse(
            p,
            "zulip_deliver_scheduled_emails   RUNNING   pid 1234, uptime 1 day, 2:03:04\n",
        );
        assert_eq!(f.state, State::Ok);
        assert_eq!(f.uptime, Some(86400.0 + 2.0 * 3600.0 + 3.0 * 60.0 + 4.0));
        assert_eq!(
            f.text,
            "zulip_deliver_scheduled_emails is RUNNING (pid 1234, uptime 1 day, 2:03:04)"
        );
        assert_eq!(
            parse(p, &format!("{p} RUNNING pid 1, uptime 0:00:07")).uptime,
            Some(7.0)
        );
        for s in [
            "STOPPED   Nov 22 01:02 PM",
            "BACKOFF   Exited too quickly (process log may have details)",
            "FATAL     Exited too quickly",
            "STARTING",
            "EXITED    Nov 22 01:02 PM",
            "STOPPING",
            "UNKNOWN",
        ] {
            let f = parse(p, &format!("{p} {s}"));
            assert_eq!(f.state, State::Warning, "{s}");
            assert_eq!(f.uptime, None);
        }
        let f = parse(p, &format!("{p}: ERROR (no such process)"));
        assert_eq!(f.state, State::Unknown);
        assert_eq!(
            f.text,
            format!("supervisorctl status {p}: {p}: ERROR (no such process)")
        );
        let f = parse(p, "error: <class 'PermissionError'>, [Errno 13] Permission denied: file: /usr/lib/python3/dist-packages/supervisor/xmlrpc.py line: 560");
        assert_eq!(f.state, State::Unknown);
        assert!(f.text.contains("Permission denied"));
    }
}
