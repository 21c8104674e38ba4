//! custos-zulip: a Zulip server as custos' checks need to know it, read the way Zulip reads
//! it, without Zulip's Python.
//!
//! - [`ZulipConf`]: `/etc/zulip/zulip.conf` (Python's configparser format: `[section]`,
//!   `key = value` or `key: value`, `#`/`;` comments, keys case-insensitive), with the values
//!   Zulip's own monitoring derives from it: the database name, the Tornado ports (one
//!   `notify_tornado` consumer each), the mobile notification and user activity shards, the
//!   per-queue worker counts, `skip_backups`.
//! - [`settings`]: the defaults of the Django settings Zulip's monitoring uses
//!   (`NAGIOS_SEND_BOT`, `NAGIOS_RECEIVE_BOT`, `SYSTEM_BOT_REALM`), from Zulip's
//!   `zproject/default_settings.py`; [`django`]: the string settings of `/etc/zulip/settings.py`.
//! - [`site`]: the three files together, with what Zulip's plugins derive from them (the Nagios
//!   bots, the probe's site, Django's database connection) and the bots' API keys read from
//!   Zulip's database.

#![deny(missing_docs)]

pub mod django;
pub mod site;

pub use django::DjangoSettings;
pub use site::{Site, SiteArgs};

use std::collections::BTreeMap;
use std::path::Path;

/// Where Zulip keeps its server configuration.
pub const DEFAULT_CONF: &str = "/etc/zulip/zulip.conf";

/// The values of Zulip's Django settings that its monitoring reads, as
/// `zproject/default_settings.py` defines them (Zulip 2.0 to 2025). A server can override them
/// in `/etc/zulip/settings.py`, which is Python: give the bots' emails as options then.
pub mod settings {
    /// `NAGIOS_SEND_BOT`: the bot that sends the probe message.
    pub const NAGIOS_SEND_BOT: &str = "nagios-send-bot@zulip.com";
    /// `NAGIOS_RECEIVE_BOT`: the bot that receives it.
    pub const NAGIOS_RECEIVE_BOT: &str = "nagios-receive-bot@zulip.com";
    /// `NAGIOS_STAGING_SEND_BOT`: the sender on a staging server (production servers only).
    pub const NAGIOS_STAGING_SEND_BOT: &str = "nagios-staging-send-bot@zulip.com";
    /// `NAGIOS_STAGING_RECEIVE_BOT`: the receiver on a staging server.
    pub const NAGIOS_STAGING_RECEIVE_BOT: &str = "nagios-staging-receive-bot@zulip.com";
    /// `SYSTEM_BOT_REALM`: the realm of the system bots.
    pub const SYSTEM_BOT_REALM: &str = "zulipinternal";
    /// The database schema Zulip's tables live in (`DATABASES["default"]["SCHEMA"]`).
    pub const SCHEMA: &str = "zulip";
}

/// Zulip's queues with workers (`normal_queues` of `scripts/lib/check_rabbitmq_queue.py`,
/// 2025): its cron jobs judge these by drain time and write a consumers file for each.
pub const NORMAL_QUEUES: &[&str] = &[
    "deferred_work",
    "deferred_email_senders",
    "digest_emails",
    "email_mirror",
    "email_senders",
    "embed_links",
    "embedded_bots",
    "missedmessage_emails",
    "missedmessage_mobile_notifications",
    "outgoing_webhooks",
    "thumbnail",
    "user_activity",
    "user_activity_interval",
];

/// `/etc/zulip/zulip.conf`, parsed.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ZulipConf {
    sections: BTreeMap<String, BTreeMap<String, String>>,
}

impl ZulipConf {
    /// Parses configparser text. Section names are kept as written; keys are lower-cased, as
    /// configparser's optionxform does; continuation lines are joined with a newline.
    pub fn parse(text: &str) -> ZulipConf {
        let mut conf = ZulipConf::default();
        let mut section: Option<String> = None;
        let mut last: Option<String> = None;
        for line in text.lines() {
            let trimmed = line.trim();
            if trimmed.is_empty() || trimmed.starts_with('#') || trimmed.starts_with(';') {
                continue;
            }
            if line.starts_with([' ', '\t']) {
                // A continuation of the last value.
                if let (Some(s), Some(k)) = (&section, &last) {
                    if let Some(v) = conf.sections.get_mut(s).and_then(|m| m.get_mut(k)) {
                        v.push('\n');
                        v.push_str(trimmed);
                    }
                }
                continue;
            }
            if let Some(name) = trimmed.strip_prefix('[').and_then(|r| r.strip_suffix(']')) {
                section = Some(name.to_string());
                conf.sections.entry(name.to_string()).or_default();
                last = None;
                continue;
            }
            let Some(s) = &section else { continue };
            let cut = trimmed.find(['=', ':']);
            let (key, value) = match cut {
                Some(i) => (&trimmed[..i], trimmed[i + 1..].trim()),
                None => (trimmed, ""),
            };
            let key = key.trim().to_lowercase();
            conf.sections
                .entry(s.clone())
                .or_default()
                .insert(key.clone(), value.to_string());
            last = Some(key);
        }
        conf
    }

    /// Reads `path`: `Ok(None)` when there is no such file (not a Zulip server).
    pub fn load(path: &Path) -> Result<Option<ZulipConf>, String> {
        use plugin_core::files::{cap, read_text};
        match read_text(path, cap::CONFIG_FILE) {
            Ok(text) => Ok(Some(ZulipConf::parse(&text))),
            Err(e) if e.io_kind() == Some(std::io::ErrorKind::NotFound) => Ok(None),
            Err(e) => Err(format!("{}: {e}", path.display())),
        }
    }

    /// A value.
    pub fn get(&self, section: &str, key: &str) -> Option<&str> {
        self.sections
            .get(section)?
            .get(&key.to_lowercase())
            .map(String::as_str)
    }

    /// A boolean as Zulip's puppet reads one (`1`, `y`, `t`, `yes`, `true`, `enable`,
    /// `enabled`, any case).
    pub fn get_bool(&self, section: &str, key: &str) -> bool {
        self.get(section, key).is_some_and(|v| {
            matches!(
                v.trim().to_lowercase().as_str(),
                "1" | "y" | "t" | "yes" | "true" | "enable" | "enabled"
            )
        })
    }

    /// The keys of a section.
    pub fn keys(&self, section: &str) -> Vec<&str> {
        self.sections
            .get(section)
            .map(|m| m.keys().map(String::as_str).collect())
            .unwrap_or_default()
    }

    /// `[postgresql] database_name`, else `zulip`.
    pub fn database_name(&self) -> String {
        self.get("postgresql", "database_name")
            .filter(|v| !v.is_empty())
            .unwrap_or("zulip")
            .to_string()
    }

    /// The Tornado ports, as `scripts/lib/zulip_tools.py: get_tornado_ports` finds them: the
    /// keys of `[tornado_sharding]` (`9800`, `9801_9802`, `9803_regex`), else 9800 alone.
    pub fn tornado_ports(&self) -> Vec<u16> {
        let mut ports: Vec<u16> = self
            .keys("tornado_sharding")
            .into_iter()
            .flat_map(|k| k.trim_end_matches("_regex").split('_'))
            .filter_map(|p| p.parse().ok())
            .collect();
        ports.sort_unstable();
        ports.dedup();
        if ports.is_empty() {
            ports.push(9800);
        }
        ports
    }

    /// A count in `[application_server]` (shards, workers); 1 when absent or not a number.
    fn count(&self, key: &str) -> u64 {
        self.get("application_server", key)
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(1)
    }

    /// How many consumers a queue needs, as Zulip's check-rabbitmq-consumers counts them:
    /// `notify_tornado` one per Tornado port, `missedmessage_mobile_notifications` one per
    /// mobile notification shard, `user_activity` one per user activity shard, any other
    /// queue `[application_server] <queue>_workers` (1 unless set).
    pub fn consumers_needed(&self, queue: &str) -> u64 {
        match queue {
            "notify_tornado" => self.tornado_ports().len() as u64,
            "missedmessage_mobile_notifications" => self.count("mobile_notification_shards"),
            "user_activity" => self.count("user_activity_shards"),
            other => self.count(&format!("{other}_workers")),
        }
    }

    /// `[postgresql] skip_backups`: this host takes no backups.
    pub fn skip_backups(&self) -> bool {
        self.get_bool("postgresql", "skip_backups")
    }
}

/// Zulip's database name from `conf` (a path to zulip.conf): its `[postgresql] database_name`,
/// else `zulip` (also when there is no zulip.conf).
pub fn database_name(conf: &Path) -> Result<String, String> {
    Ok(ZulipConf::load(conf)?
        .map(|c| c.database_name())
        .unwrap_or_else(|| "zulip".to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONF: &str =
        "[machine]\npuppet_classes = zulip::profile::standalone\ndeploy_type = production\n\n\
        [postgresql]\nversion = 15\ndatabase_name = zulipdb\nskip_backups = True\n\n\
        [tornado_sharding]\n9800 = realm1\n9801_9802 = realm2 realm3\n9803_regex = ^x.*\n\n\
        [application_server]\nmobile_notification_shards = 3\nembed_links_workers: 2\n\
        ; a comment\n# another\n";

    #[test]
    fn zulip_conf_as_zulip_reads_it() {
        let c = ZulipConf::parse(CONF);
        assert_eq!(c.database_name(), "zulipdb");
        assert!(c.skip_backups());
        assert_eq!(c.tornado_ports(), [9800, 9801, 9802, 9803]);
        assert_eq!(c.consumers_needed("notify_tornado"), 4);
        assert_eq!(c.consumers_needed("missedmessage_mobile_notifications"), 3);
        assert_eq!(c.consumers_needed("embed_links"), 2);
        assert_eq!(c.consumers_needed("user_activity"), 1);
        assert_eq!(c.consumers_needed("deferred_work"), 1);
        // Section names are case-sensitive (configparser), keys are not.
        assert_eq!(c.get("MACHINE", "deploy_type"), None);
        assert_eq!(c.get("machine", "DEPLOY_TYPE"), Some("production"));
    }

    #[test]
    fn defaults_without_a_conf() {
        let c = ZulipConf::parse("");
        assert_eq!(c.database_name(), "zulip");
        assert_eq!(c.tornado_ports(), [9800]);
        assert!(!c.skip_backups());
        let d = tempfile::tempdir().unwrap();
        assert_eq!(database_name(&d.path().join("none")).unwrap(), "zulip");
        std::fs::write(d.path().join("z"), CONF).unwrap();
        assert_eq!(database_name(&d.path().join("z")).unwrap(), "zulipdb");
    }
}
