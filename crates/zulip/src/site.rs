//! A Zulip server as its monitoring sees it: [`ZulipConf`], the Django settings it can read
//! ([`DjangoSettings`]) and the secrets, with the values Zulip's own plugins derive from them:
//! the Nagios bots (staging or not), the probe's site, and the database connection Django
//! would open; and the bots' API keys read from Zulip's database, as Zulip's
//! check_send_receive_time read them through Django's ORM.

use crate::django::DjangoSettings;
use crate::{settings, ZulipConf};
use custos_pg::{ConnArgs, RowExt};
use plugin_core::{CheckError, Context, Secret, State};
use std::path::PathBuf;

/// Where Zulip keeps its secrets (`[secrets] postgres_password`).
pub const DEFAULT_SECRETS: &str = "/etc/zulip/zulip-secrets.conf";

/// `--zulip-conf`, `--zulip-settings`, `--zulip-secrets`: where the Zulip server's files are.
#[derive(clap::Args, Debug, Clone)]
pub struct SiteArgs {
    /// Zulip's server configuration (database, deploy type, shards, Tornado ports)
    #[arg(long = "zulip-conf", value_name = "FILE", default_value = crate::DEFAULT_CONF)]
    pub conf: PathBuf,

    /// Zulip's Django settings (string settings only: EXTERNAL_HOST, NAGIOS_*_BOT, REMOTE_POSTGRES_*)
    #[arg(long = "zulip-settings", value_name = "FILE", default_value = crate::django::DEFAULT_SETTINGS)]
    pub settings: PathBuf,

    /// Zulip's secrets ([secrets] postgres_password, for a remote database)
    #[arg(long = "zulip-secrets", value_name = "FILE", default_value = DEFAULT_SECRETS)]
    pub secrets: PathBuf,
}

/// A Zulip server's configuration.
#[derive(Clone, Debug, Default)]
pub struct Site {
    /// zulip.conf.
    pub conf: ZulipConf,
    /// settings.py's string settings.
    pub settings: DjangoSettings,
    secrets: PathBuf,
}

impl Site {
    /// Reads the files: `Ok(None)` when there is no zulip.conf (not a Zulip server).
    pub fn load(args: &SiteArgs) -> Result<Option<Site>, CheckError> {
        let unknown =
            |e: String| CheckError::unknown(format!("reading Zulip's configuration: {e}"));
        let Some(conf) = ZulipConf::load(&args.conf).map_err(unknown)? else {
            return Ok(None);
        };
        let settings = DjangoSettings::load(&args.settings)
            .map_err(unknown)?
            .unwrap_or_default();
        Ok(Some(Site {
            conf,
            settings,
            secrets: args.secrets.clone(),
        }))
    }

    /// A Django setting: settings.py's literal value, else Zulip's default.
    fn setting<'a>(&'a self, name: &str, default: &'a str) -> &'a str {
        self.settings.get(name).unwrap_or(default)
    }

    /// Is this a staging server (`[machine] deploy_type = staging`)? Zulip's plugin then uses
    /// the staging bots (its 2025 rule; in 2022 it looked for "staging" in the site's URL).
    pub fn is_staging(&self) -> bool {
        self.conf.get("machine", "deploy_type").map(str::trim) == Some("staging")
    }

    /// The emails of the sending and receiving bots, as Zulip's plugin picks them.
    pub fn nagios_bots(&self) -> (String, String) {
        let (send, receive) = if self.is_staging() {
            (
                self.setting("NAGIOS_STAGING_SEND_BOT", settings::NAGIOS_STAGING_SEND_BOT),
                self.setting(
                    "NAGIOS_STAGING_RECEIVE_BOT",
                    settings::NAGIOS_STAGING_RECEIVE_BOT,
                ),
            )
        } else {
            (
                self.setting("NAGIOS_SEND_BOT", settings::NAGIOS_SEND_BOT),
                self.setting("NAGIOS_RECEIVE_BOT", settings::NAGIOS_RECEIVE_BOT),
            )
        };
        (send.trim().to_string(), receive.trim().to_string())
    }

    /// The probe's site: `https://` and `NAGIOS_BOT_HOST` (default `EXTERNAL_HOST`), as Zulip's
    /// 2025 plugin defaults `--site`.
    pub fn bot_site(&self) -> Option<String> {
        self.settings
            .get("NAGIOS_BOT_HOST")
            .or_else(|| self.settings.get("EXTERNAL_HOST"))
            .map(|host| format!("https://{host}"))
    }

    /// The connection Django opens to Zulip's database (`DATABASES["default"]` of
    /// `zproject/computed_settings.py`): `[postgresql] database_name` and `database_user`
    /// (both `zulip` by default) over the local socket with peer authentication; or
    /// `REMOTE_POSTGRES_HOST`/`_PORT`/`_SSLMODE` (default `verify-full`) with
    /// `postgres_password` from the secrets file. The environment (`PGHOST`, `PGPORT`) applies
    /// as for any custos-pg connection where the settings leave the host unset.
    pub fn database(&self) -> Result<ConnArgs, CheckError> {
        let get = |k: &str| {
            self.conf
                .get("postgresql", k)
                .map(str::trim)
                .filter(|v| !v.is_empty())
        };
        let mut conn = ConnArgs {
            dbname: Some(self.conf.database_name()),
            user: Some(get("database_user").unwrap_or("zulip").to_string()),
            ..ConnArgs::default()
        };
        if let Some(host) = self
            .settings
            .get("REMOTE_POSTGRES_HOST")
            .filter(|h| !h.is_empty())
        {
            conn.host = Some(host.to_string());
            conn.port = self.settings.get("REMOTE_POSTGRES_PORT").map(String::from);
            let sslmode = self
                .settings
                .get("REMOTE_POSTGRES_SSLMODE")
                .filter(|m| !m.is_empty())
                .unwrap_or("verify-full");
            let mut dsn = format!("sslmode={sslmode}");
            if let Some(pw) = self.postgres_password()? {
                // A libpq keyword value, quoted: the password stays out of every output.
                dsn.push_str(&format!(
                    " password='{}'",
                    pw.expose().replace('\\', "\\\\").replace('\'', "\\'")
                ));
            }
            conn.dsn = Some(dsn);
        }
        Ok(conn)
    }

    /// `[secrets] postgres_password`, when the secrets file has one.
    fn postgres_password(&self) -> Result<Option<Secret>, CheckError> {
        let secrets = ZulipConf::load(&self.secrets)
            .map_err(|e| CheckError::unknown(format!("reading Zulip's secrets: {e}")))?;
        Ok(secrets
            .and_then(|s| s.get("secrets", "postgres_password").map(String::from))
            .map(Secret::new))
    }

    /// The API keys of `emails` from Zulip's database, as `get_system_bot` finds them: the
    /// system bot realm must exist, and each email matches exactly one user of that realm,
    /// case-insensitively (`UPPER(email) = UPPER(%s)`, Django's `email__iexact`).
    pub fn bot_keys(
        &self,
        ctx: &Context,
        check: &str,
        emails: &[&str],
    ) -> Result<Vec<Secret>, CheckError> {
        let conn = self.database()?;
        ctx.stage("reading the bots' API keys from Zulip's database");
        // Not reaching the database is "could not measure" for this check (its subject is the
        // message path), except the deadline, which keeps its own state.
        let client = conn.open(ctx, check).map_err(|mut e| {
            if e.state == State::Critical {
                e.state = State::Unknown;
                e.message = format!(
                    "cannot read the bots' API keys from Zulip's database: {}",
                    e.message
                );
            }
            e
        })?;
        let schema = settings::SCHEMA;
        let realm = self.setting("SYSTEM_BOT_REALM", settings::SYSTEM_BOT_REALM);
        let realms = client.query(
            &format!("SELECT id::int8 AS id FROM {schema}.zerver_realm WHERE string_id = $1"),
            &[&realm],
        )?;
        let Some(realm_id) = realms.first() else {
            return Err(CheckError::unknown(format!(
                "Zulip's database has no realm '{realm}' (SYSTEM_BOT_REALM): are its system bots created?"
            )));
        };
        let realm_id: i64 = realm_id.col("id")?;
        let mut keys = Vec::new();
        for email in emails {
            let rows = client.query(
                &format!(
                    "SELECT email, api_key FROM {schema}.zerver_userprofile \
                     WHERE UPPER(email) = UPPER($1) AND realm_id::int8 = $2"
                ),
                &[email, &realm_id],
            )?;
            match rows.as_slice() {
                [row] => keys.push(Secret::new(row.col::<String>("api_key")?)),
                [] => {
                    return Err(CheckError::unknown(format!(
                        "Zulip's database has no user {email} (give --sender-email/--receiver-email, or zuliprc files)"
                    )))
                }
                more => {
                    return Err(CheckError::unknown(format!(
                        "Zulip's database has {} users {email}",
                        more.len()
                    )))
                }
            }
        }
        Ok(keys)
    }
}
