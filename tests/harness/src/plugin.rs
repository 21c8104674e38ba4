//! Running a check binary the way Nagios does, checking the plugin contract on every run:
//! nothing on stderr (Icinga 2 mixes it into the output), an exit code of 0-3 (not a signal),
//! UTF-8 output; perfdata read back with plugin-core's strict parser.

use plugin_core::Perfdata;
use std::ffi::OsStr;
use std::process::Command;
use std::time::{Duration, Instant};

/// One finished run of a plugin.
#[derive(Debug)]
pub struct PluginRun {
    pub code: i32,
    pub stdout: String,
    pub elapsed: Duration,
}

impl PluginRun {
    pub fn first_line(&self) -> &str {
        self.stdout.lines().next().unwrap_or("")
    }

    /// Line 1 without its perfdata.
    pub fn text(&self) -> &str {
        self.first_line().split(" | ").next().unwrap_or("")
    }

    /// All perfdata items, from line 1 or from the final `| ` line, parsed strictly (a parse
    /// error fails the test).
    pub fn perfdata(&self) -> Vec<Perfdata> {
        let text = perfdata_text(&self.stdout).unwrap_or("");
        Perfdata::parse_list(text).unwrap_or_else(|e| panic!("perfdata of {:?}: {e}", self.stdout))
    }

    /// The perfdata item with this label.
    pub fn perf(&self, label: &str) -> Perfdata {
        self.perfdata()
            .into_iter()
            .find(|p| p.label == label)
            .unwrap_or_else(|| panic!("no perfdata '{label}' in {:?}", self.stdout))
    }
}

/// A plugin output's perfdata text: after ` | ` on line 1, or on a final `| ` line.
pub fn perfdata_text(stdout: &str) -> Option<&str> {
    let first = stdout.lines().next().unwrap_or("");
    let on_line1 = first.split_once(" | ").map(|(_, p)| p);
    let on_last = stdout
        .lines()
        .skip(1)
        .last()
        .and_then(|l| l.strip_prefix("| "));
    on_line1.or(on_last)
}

/// Runs `bin` with `args` (and `RUST_BACKTRACE=1`, which must not make any difference).
pub fn run_plugin<I, S>(bin: &str, args: I) -> PluginRun
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    run_plugin_with(Command::new(bin).args(args))
}

/// Runs a prepared command (extra environment, working directory).
pub fn run_plugin_with(cmd: &mut Command) -> PluginRun {
    let start = Instant::now();
    let out = cmd
        .env("RUST_BACKTRACE", "1")
        .output()
        .unwrap_or_else(|e| panic!("running {cmd:?}: {e}"));
    let elapsed = start.elapsed();
    assert!(
        out.stderr.is_empty(),
        "nothing may go to stderr, got {:?}",
        String::from_utf8_lossy(&out.stderr)
    );
    let code = out
        .status
        .code()
        .unwrap_or_else(|| panic!("{cmd:?} was killed: {}", out.status));
    assert!((0..=3).contains(&code), "exit code {code} outside 0-3");
    let stdout = String::from_utf8(out.stdout).expect("UTF-8 output");
    PluginRun {
        code,
        stdout,
        elapsed,
    }
}
