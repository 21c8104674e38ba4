//! check_debian_packages: pending upgrades (security first), a reboot that is required, apt
//! lists that are too old, and unattended-upgrades' last run.
//!
//! Replaces Zulip's Perl `check_debian_packages` (2012, unchanged since), which called any
//! release with "security" in it a security update, and whose `/stable$/` test never matches
//! on modern apt. Pending upgrades come from custos-apt's native engine (dpkg's status and apt's
//! lists, as apt's policy and keep-back resolver read them), or from `apt-get -s -o
//! Debug::NoLocking=true upgrade` (no root, no lock, killed with its process group at the
//! deadline) with `--engine apt` or where the native engine does not model apt's answer;
//! security is decided per release ([`custos_apt::is_security_release`], or `--security-regex`).

pub mod host;

use clap::Parser;
use plugin_core::{
    args, plural, CheckError, CheckResult, Context, Dimension, Findings, Perfdata, Plugin, Range,
    Report, State, SubResult, Thresholds, Uom,
};
use regex_lite::Regex;
use std::path::PathBuf;
use std::process::Command;

pub const PLUGIN: Plugin = Plugin::new("check_debian_packages", env!("CARGO_PKG_VERSION"));

/// Packages named in the status line; `--list` shows them all.
const NAMED: usize = 8;

#[derive(Parser, Debug)]
#[command(about = "Check pending Debian/Ubuntu upgrades, security first, and the host's apt state")]
pub struct Args {
    /// Warning range on the number of pending upgrades [default: 0, i.e. any, as Zulip]
    #[arg(short = 'w', long = "warning", value_name = "RANGE", value_parser = args::count_range,
          default_value = "0")]
    pub warning: Range,

    /// Critical range on the number of security upgrades [default: 0, i.e. any, as Zulip]
    #[arg(short = 'c', long = "critical", value_name = "RANGE", value_parser = args::count_range,
          default_value = "0")]
    pub critical: Range,

    /// Only security upgrades matter: others are listed, not a WARNING
    #[arg(long = "only-security")]
    pub only_security: bool,

    /// A release (Label:Version/Archive, as apt prints it) is a security one when it matches RE
    #[arg(long = "security-regex", value_name = "RE", value_parser = args::regex)]
    pub security_regex: Option<Regex>,

    /// Only packages whose name matches RE
    #[arg(long = "include", value_name = "RE", value_parser = args::regex)]
    pub include: Option<Regex>,

    /// Leave out packages whose name matches RE
    #[arg(long = "exclude", value_name = "RE", value_parser = args::regex)]
    pub exclude: Option<Regex>,

    /// List every pending upgrade in the long output, security first
    #[arg(short = 'l', long = "list")]
    pub list: bool,

    /// Read apt-get -s upgrade's output from FILE instead of running apt-get (saved output)
    #[arg(long = "input-file", value_name = "FILE")]
    pub input_file: Option<PathBuf>,

    /// An option for apt, KEY=VALUE (repeatable), e.g. Dir::Etc::sourcelist=/etc/apt/x.list
    #[arg(long = "apt-option", value_name = "KEY=VALUE")]
    pub apt_option: Vec<String>,

    /// How pending upgrades are found: native (read dpkg's status and apt's lists, falling back
    /// to apt where it cannot model apt) or apt (apt-get -s upgrade)
    #[arg(
        long = "engine",
        value_name = "ENGINE",
        value_enum,
        default_value = "native"
    )]
    pub engine: Engine,

    /// WARNING when the package lists were updated longer ago than this (0: do not check)
    #[arg(long = "max-list-age", value_name = "DURATION", default_value = "2d",
          value_parser = args::duration)]
    pub max_list_age: f64,

    /// Zulip's --debug: run apt-get -s upgrade (the apt engine) and print its lines in the long
    /// output as `APT: <line>`
    #[arg(long = "debug")]
    pub debug: bool,

    /// Where apt keeps its package lists
    #[arg(
        long = "lists-dir",
        value_name = "DIR",
        default_value = "/var/lib/apt/lists"
    )]
    pub lists_dir: PathBuf,

    /// The file whose presence means a reboot is required (its .pkgs names the packages)
    #[arg(
        long = "reboot-file",
        value_name = "FILE",
        default_value = "/var/run/reboot-required"
    )]
    pub reboot_file: PathBuf,

    /// unattended-upgrades' log, for how its last run went
    #[arg(
        long = "unattended-log",
        value_name = "FILE",
        default_value = "/var/log/unattended-upgrades/unattended-upgrades.log"
    )]
    pub unattended_log: PathBuf,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq)]
pub enum Engine {
    /// Read dpkg's status file and apt's lists (tens of milliseconds)
    Native,
    /// Run apt-get -s upgrade (seconds)
    Apt,
}

/// apt's configuration as apt resolves it (`apt-config dump`, with the --apt-option values).
fn apt_config(args: &Args, ctx: &Context) -> Result<custos_apt::config::AptConfig, CheckError> {
    let mut cmd = Command::new("apt-config");
    for o in &args.apt_option {
        cmd.arg("-o").arg(o);
    }
    cmd.args(["dump", "--format", "%f=%v%n"]).env("LC_ALL", "C");
    let out = plugin_core::process::run(ctx, &mut cmd, "apt-config dump", 4 << 20)?;
    if out.code != Some(0) {
        return Err(CheckError::unknown(format!(
            "apt-config: {}",
            out.complaint()
        )));
    }
    Ok(custos_apt::config::AptConfig::parse(
        &String::from_utf8_lossy(&out.stdout),
    ))
}

/// The pending upgrades, and a note on how they were found.
fn pending(
    args: &Args,
    ctx: &Context,
    security: &dyn Fn(&str) -> bool,
) -> Result<(custos_apt::Simulation, String), CheckError> {
    let mut why_apt = String::from(if args.debug {
        "--debug"
    } else {
        "--engine apt"
    });
    if args.input_file.is_none() && args.engine == Engine::Native && !args.debug {
        let config = apt_config(args, ctx)?;
        ctx.stage("reading dpkg's status and apt's lists");
        match custos_apt::simulate(&config, security) {
            Ok(sim) => return Ok((sim, "engine: native".into())),
            Err(custos_apt::Unsupported(why)) => {
                why_apt = format!("the native engine does not model {why}")
            }
        }
    }
    let output = simulate(args, ctx)?;
    let note = match &args.input_file {
        Some(f) => format!("engine: apt output from {}", f.display()),
        None => format!("engine: apt-get -s upgrade ({why_apt})"),
    };
    let mut sim = custos_apt::parse(&output, security);
    if args.debug {
        sim.debug = output.lines().map(|l| format!("APT: {l}")).collect();
    }
    Ok((sim, note))
}

/// The most of apt-get's output read (its output for thousands of upgrades is a few MiB).
const APT_OUTPUT_CAP: usize = 16 << 20;

/// Runs `apt-get -s upgrade` (or reads `--input-file`): its output.
fn simulate(args: &Args, ctx: &Context) -> Result<String, CheckError> {
    if let Some(file) = &args.input_file {
        return plugin_core::files::read_text(file, APT_OUTPUT_CAP as u64).map_err(|e| {
            CheckError::unknown(format!("cannot read --input-file {}: {e}", file.display()))
        });
    }
    let mut cmd = Command::new("apt-get");
    cmd.args(["-s", "-o", "Debug::NoLocking=true"]);
    for o in &args.apt_option {
        cmd.arg("-o").arg(o);
    }
    cmd.arg("upgrade")
        .env("LC_ALL", "C")
        .env("DEBIAN_FRONTEND", "noninteractive");
    let out = plugin_core::process::run(ctx, &mut cmd, "apt-get -s upgrade", APT_OUTPUT_CAP)?;
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    if out.code != Some(0) && !text.contains("\nE: ") && !text.starts_with("E: ") {
        return Err(CheckError::unknown(format!(
            "apt-get -s upgrade failed ({}): {}",
            out.code.map_or("killed".into(), |c| format!("exit {c}")),
            out.complaint()
        )));
    }
    Ok(text)
}

pub fn check(args: &Args, ctx: &Context) -> CheckResult {
    let security = |release: &str| match &args.security_regex {
        Some(re) => re.is_match(release),
        None => custos_apt::is_security_release(release),
    };
    let (sim, engine) = pending(args, ctx, &security)?;
    if !sim.errors.is_empty() {
        // A lock held, lists that cannot be read: apt could not answer.
        let mut details = sim.warnings.clone();
        details.push(engine);
        return Err(
            CheckError::unknown(format!("apt: {}", sim.errors.join("; "))).details(&details),
        );
    }
    let upgrades = Upgrades::new(args, &sim);
    let mut findings = Findings::default();
    findings.extend(upgrades.judge(args));
    let list_age = host::lists_age(&args.lists_dir);
    let (host_findings, mut details) = judge_host(args, list_age);
    findings.extend(host_findings);

    let measured = upgrades.measured(args, list_age, findings.state());
    let mut report = Report::new(findings.state(), findings.summary(Some(&measured)));
    if ctx.verbosity > 0 || engine.contains("does not model") {
        details.push(engine);
    }
    if !sim.held.is_empty() {
        details.push(format!(
            "kept back or deferred (not upgraded by apt-get upgrade): {}",
            sim.held.join(", ")
        ));
    }
    details.extend(sim.warnings.iter().map(|w| format!("apt: {w}")));
    if args.list {
        details.extend(upgrades.list.iter().map(|u| describe(u)));
    }
    details.extend(sim.debug.iter().cloned());
    report.details = details;
    report.perfdata = upgrades.perfdata(sim.held.len());
    if let Some(age) = list_age {
        report.perfdata.push(
            Perfdata::new("list_age", age.round())
                .uom(Uom::Seconds)
                .warning((args.max_list_age > 0.0).then_some(Range::up_to(args.max_list_age)))
                .min(0.0),
        );
    }
    Ok(report)
}

/// One upgrade for `--list`: `security: openssl 3.0.14-1 -> 3.0.15-1 (Debian-Security:12/...)`.
fn describe(u: &custos_apt::Upgrade) -> String {
    format!(
        "{}{} {} -> {} ({})",
        if u.security { "security: " } else { "" },
        u.package,
        u.old.as_deref().unwrap_or("new"),
        u.new,
        u.releases.join(", ")
    )
}

/// The upgrades that count (`--include`/`--exclude`), security first, and their thresholds.
struct Upgrades<'a> {
    list: Vec<&'a custos_apt::Upgrade>,
    security: usize,
    /// `-c` on the security upgrades.
    security_t: Thresholds,
    /// `-w` on all upgrades.
    all_t: Thresholds,
}

impl<'a> Upgrades<'a> {
    fn new(args: &Args, sim: &'a custos_apt::Simulation) -> Upgrades<'a> {
        let wanted = |name: &str| {
            args.include.as_ref().is_none_or(|r| r.is_match(name))
                && !args.exclude.as_ref().is_some_and(|r| r.is_match(name))
        };
        let mut list: Vec<&custos_apt::Upgrade> =
            sim.upgrades.iter().filter(|u| wanted(&u.package)).collect();
        list.sort_by(|a, b| b.security.cmp(&a.security).then(a.package.cmp(&b.package)));
        let security = list.iter().filter(|u| u.security).count();
        Upgrades {
            list,
            security,
            security_t: Thresholds::new(None, Some(args.critical)),
            all_t: Thresholds::new(Some(args.warning), None),
        }
    }

    fn others(&self) -> usize {
        self.list.len() - self.security
    }

    /// The names of the security (or other) upgrades, the first few and how many more.
    fn names(&self, security: bool) -> String {
        let list: Vec<&str> = self
            .list
            .iter()
            .filter(|u| u.security == security)
            .map(|u| u.package.as_str())
            .collect();
        let more = list.len().saturating_sub(NAMED);
        let mut text = list
            .iter()
            .take(NAMED)
            .copied()
            .collect::<Vec<_>>()
            .join(" ");
        if more > 0 {
            text.push_str(&format!(" and {more} more"));
        }
        text
    }

    /// Security upgrades against `-c`, all upgrades against `-w` (named as the others).
    fn judge(&self, args: &Args) -> Vec<SubResult> {
        let mut found = Vec::new();
        let n = self.security;
        if let Some((state, _)) = self.security_t.violated(n as f64) {
            // Zulip's words (its Perl plugin's add_info).
            let text = format!("{n} new pkgs in security: {}", self.names(true));
            found.push(SubResult::new(state, text));
        }
        let others = self.others();
        if !args.only_security && others > 0 {
            if let Some((state, _)) = self.all_t.violated(self.list.len() as f64) {
                // Zulip's plugin printed every non-security upgrade under "other" (its test
                // for "stable" never matched apt's release text).
                let text = format!("{others} new pkgs in other: {}", self.names(false));
                found.push(SubResult::new(state, text));
            }
        }
        found
    }

    /// What was measured, for the status line: the count, the lists' age, and the names of
    /// the other upgrades when nothing alerts.
    fn measured(&self, args: &Args, list_age: Option<f64>, state: State) -> String {
        let n = self.list.len();
        let mut text = if n == 0 {
            "no upgrades pending".to_string()
        } else {
            format!("{n} upgrade{} pending", plural(n))
        };
        if let Some(age) = list_age {
            text.push_str(&format!(
                " (lists updated {} ago)",
                Dimension::Time.human(age)
            ));
        }
        if !args.only_security && self.others() > 0 && state == State::Ok {
            text.push_str(&format!(": {}", self.names(false)));
        }
        text
    }

    fn perfdata(&self, kept_back: usize) -> Vec<Perfdata> {
        vec![
            Perfdata::new("upgrades", self.list.len() as f64)
                .thresholds(&self.all_t)
                .min(0.0),
            Perfdata::new("security_upgrades", self.security as f64)
                .thresholds(&self.security_t)
                .min(0.0),
            Perfdata::new("kept_back", kept_back as f64).min(0.0),
        ]
    }
}

/// The host's side: a reboot required, the package lists' age, unattended-upgrades' last run.
/// Findings, and long-output lines.
fn judge_host(args: &Args, list_age: Option<f64>) -> (Vec<SubResult>, Vec<String>) {
    let mut found = Vec::new();
    let mut details = Vec::new();
    if let Some(pkgs) = host::reboot_required(&args.reboot_file) {
        let why = if pkgs.is_empty() {
            String::new()
        } else {
            format!(" by {}", pkgs.join(", "))
        };
        found.push(SubResult::new(
            State::Warning,
            format!("a reboot is required{why}"),
        ));
    }
    match list_age {
        Some(age) if args.max_list_age > 0.0 && age > args.max_list_age => {
            found.push(SubResult::new(
                State::Warning,
                format!(
                    "the package lists are {} old (max {}): is apt update running?",
                    Dimension::Time.human(age),
                    Dimension::Time.human(args.max_list_age)
                ),
            ))
        }
        None if args.max_list_age > 0.0 && args.input_file.is_none() => found.push(SubResult::new(
            State::Warning,
            format!(
                "no package lists in {}: apt update has never run",
                args.lists_dir.display()
            ),
        )),
        _ => {}
    }
    if let Some(run) = host::unattended_last_run(&args.unattended_log) {
        match run.errors.first() {
            Some(e) => found.push(SubResult::new(
                State::Warning,
                format!(
                    "unattended-upgrades failed on its last run ({}): {e}",
                    run.started
                ),
            )),
            None => details.push(format!(
                "unattended-upgrades last ran at {}: {}",
                run.started,
                run.outcome.as_deref().unwrap_or("no outcome logged")
            )),
        }
    }
    (found, details)
}
