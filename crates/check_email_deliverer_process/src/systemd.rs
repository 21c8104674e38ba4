//! `systemctl show UNIT`: active/running is OK; a unit restarting (`activating`,
//! `deactivating`, `reloading`) is WARNING; `inactive` or `failed` is CRITICAL, as no process
//! is; a unit systemd does not know, or systemctl failing, is UNKNOWN.

use crate::{one_line, Finding};
use plugin_core::{CheckError, Context, State};

const PROPERTIES: &str = "LoadState,ActiveState,SubState,ActiveEnterTimestampMonotonic,NRestarts";

/// Asks systemd about `unit`.
pub fn status(ctx: &Context, unit: &str) -> Result<Finding, CheckError> {
    let mut cmd = std::process::Command::new("systemctl");
    cmd.args(["show", unit, "--property", PROPERTIES]);
    let out = plugin_core::process::run(ctx, &mut cmd, "systemctl show", 64 * 1024)?;
    if out.code != Some(0) {
        return Err(CheckError::unknown(format!(
            "systemctl show {unit} failed: {}",
            one_line(&out.complaint())
        )));
    }
    Ok(parse(
        unit,
        &String::from_utf8_lossy(&out.stdout),
        monotonic_now(),
    ))
}

/// Seconds since boot (CLOCK_MONOTONIC, which systemd's *Monotonic timestamps use).
fn monotonic_now() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes into the timespec we own.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as f64 + ts.tv_nsec as f64 / 1e9
}

/// Reads `systemctl show` output (`Key=value` lines); `now` is the monotonic clock in seconds.
pub fn parse(unit: &str, output: &str, now: f64) -> Finding {
    let get = |key: &str| {
        output
            .lines()
            .find_map(|l| l.strip_prefix(key)?.strip_prefix('='))
            .unwrap_or("")
    };
    let (load, active, sub) = (get("LoadState"), get("ActiveState"), get("SubState"));
    if load == "not-found" {
        return Finding {
            state: State::Unknown,
            text: format!("systemd has no unit {unit}"),
            uptime: None,
        };
    }
    let state = match active {
        "active" => State::Ok,
        "activating" | "deactivating" | "reloading" => State::Warning,
        "inactive" | "failed" => State::Critical,
        _ => State::Unknown,
    };
    let restarts = get("NRestarts")
        .parse::<u64>()
        .ok()
        .filter(|n| *n > 0)
        .map(|n| format!(", {n} restarts"))
        .unwrap_or_default();
    let uptime = get("ActiveEnterTimestampMonotonic")
        .parse::<f64>()
        .ok()
        .filter(|us| *us > 0.0 && state == State::Ok)
        .map(|us| (now - us / 1e6).max(0.0));
    Finding {
        state,
        text: format!("{unit} is {active} ({sub}{restarts})"),
        uptime,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What systemd 252 (Debian 12) prints for `systemctl show UNIT --property ...`.
    #[test]
    fn units_in_their_states() {
        let running = "LoadState=loaded\nActiveState=active\nSubState=running\nActiveEnterTimestampMonotonic=5000000\nNRestarts=0\n";
        let f = parse("zulip-deliver.service", running, 65.0);
        assert_eq!((f.state, f.uptime), (State::Ok, Some(60.0)));
        assert_eq!(f.text, "zulip-deliver.service is active (running)");
        let looping = "LoadState=loaded\nActiveState=activating\nSubState=auto-restart\nActiveEnterTimestampMonotonic=0\nNRestarts=7\n";
        let f = parse("x.service", looping, 65.0);
        assert_eq!(
            (f.state, f.text.as_str()),
            (
                State::Warning,
                "x.service is activating (auto-restart, 7 restarts)"
            )
        );
        let failed = "LoadState=loaded\nActiveState=failed\nSubState=failed\nActiveEnterTimestampMonotonic=0\nNRestarts=3\n";
        assert_eq!(parse("x.service", failed, 1.0).state, State::Critical);
        let stopped = "LoadState=loaded\nActiveState=inactive\nSubState=dead\n";
        assert_eq!(parse("x.service", stopped, 1.0).state, State::Critical);
        let missing = "LoadState=not-found\nActiveState=inactive\nSubState=dead\n";
        let f = parse("nope.service", missing, 1.0);
        assert_eq!(
            (f.state, f.text.as_str()),
            (State::Unknown, "systemd has no unit nope.service")
        );
    }
}
