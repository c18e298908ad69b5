//! Server configuration: a TOML file, then environment overrides, then command-line flags.
//!
//! ```toml
//! [http]
//! listen = "127.0.0.1:7880"
//!
//! [database]
//! url = "./switchboard.db"        # or "postgres://user@host:5432/db"
//!
//! [keys]                           # API key = secret
//! mykey = "a-long-random-secret"
//!
//! [routing]
//! accept_trunkless_calls = false
//!
//! [webhooks]                       # see docs/operations.md, "Webhooks"
//! urls = ["https://hooks.example/switchboard"]
//! secret = "shared-hmac-secret"    # required when urls are set
//!
//! [dashboard]                      # see docs/operations.md, "Dashboard"
//! admin_password = "a-long-password"  # optional: log in as admin (besides key + secret)
//! session_secret = "…"             # optional: session cookie key (default: from the keys)
//! session_hours = 12
//! secure_cookie = false            # true when served over HTTPS
//! ```
//!
//! The call path's sections (`[sip]`, `[media]`, `[node]`) are described in [`call_path`].
//!
//! Environment: `SWITCHBOARD_HTTP_LISTEN`, `SWITCHBOARD_DATABASE_URL`,
//! `SWITCHBOARD_KEYS` (`key:secret,key2:secret2`), `SWITCHBOARD_ACCEPT_TRUNKLESS_CALLS`,
//! `SWITCHBOARD_DASHBOARD_PASSWORD`.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

pub mod call_path;

pub use call_path::{CallPathOverrides, CallPathSettings};

/// The development defaults of `serve --dev`.
pub const DEV_KEY: &str = "devkey";
pub const DEV_SECRET: &str = "secret";
pub const DEV_DATABASE: &str = "./switchboard.db";
pub const DEFAULT_LISTEN: &str = "127.0.0.1:7880";

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub http: HttpConfig,
    pub database: DatabaseConfig,
    pub keys: BTreeMap<String, String>,
    pub routing: RoutingConfig,
    pub sip: call_path::SipConfig,
    pub media: call_path::MediaSection,
    pub node: call_path::NodeConfig,
    pub webhooks: WebhooksConfig,
    pub dashboard: DashboardConfig,
}

#[derive(Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DashboardConfig {
    pub admin_password: Option<String>,
    pub session_secret: Option<String>,
    pub session_hours: Option<u32>,
    pub secure_cookie: bool,
}

impl std::fmt::Debug for DashboardConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DashboardConfig")
            .field(
                "admin_password",
                &self.admin_password.as_ref().map(|_| "***"),
            )
            .field(
                "session_secret",
                &self.session_secret.as_ref().map(|_| "***"),
            )
            .field("session_hours", &self.session_hours)
            .field("secure_cookie", &self.secure_cookie)
            .finish()
    }
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WebhooksConfig {
    pub urls: Vec<String>,
    pub secret: Option<String>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HttpConfig {
    pub listen: Option<String>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DatabaseConfig {
    pub url: Option<String>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RoutingConfig {
    pub accept_trunkless_calls: bool,
}

/// Command-line overrides.
#[derive(Clone, Debug, Default)]
pub struct Overrides {
    pub dev: bool,
    pub listen: Option<String>,
    pub database: Option<String>,
    pub call_path: CallPathOverrides,
}

/// The settings `serve` runs with.
#[derive(Clone, Debug)]
pub struct Settings {
    pub listen: String,
    pub database_url: String,
    pub keys: BTreeMap<String, String>,
    pub accept_trunkless_calls: bool,
    pub dev: bool,
    pub call_path: CallPathSettings,
    pub webhooks: crate::webhooks::WebhookSettings,
    pub dashboard: crate::dashboard::DashboardSettings,
}

impl Config {
    /// Reads a TOML file; errors name the file and the problem.
    pub fn from_file(path: &Path) -> Result<Config, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read config file {}: {e}", path.display()))?;
        Config::from_toml(&text).map_err(|e| format!("config file {}: {e}", path.display()))
    }

    pub fn from_toml(text: &str) -> Result<Config, String> {
        toml::from_str(text).map_err(|e| e.to_string())
    }

    /// Applies environment overrides from `env` (a lookup, so tests need no real environment).
    pub fn with_env(mut self, env: impl Fn(&str) -> Option<String>) -> Result<Config, String> {
        if let Some(v) = env("SWITCHBOARD_HTTP_LISTEN") {
            self.http.listen = Some(v);
        }
        if let Some(v) = env("SWITCHBOARD_DATABASE_URL") {
            self.database.url = Some(v);
        }
        if let Some(v) = env("SWITCHBOARD_KEYS") {
            self.keys = parse_keys(&v)?;
        }
        if let Some(v) = env("SWITCHBOARD_DASHBOARD_PASSWORD") {
            self.dashboard.admin_password = Some(v).filter(|v| !v.is_empty());
        }
        if let Some(v) = env("SWITCHBOARD_ACCEPT_TRUNKLESS_CALLS") {
            self.routing.accept_trunkless_calls = match v.to_ascii_lowercase().as_str() {
                "1" | "true" | "yes" | "on" => true,
                "0" | "false" | "no" | "off" | "" => false,
                other => {
                    return Err(format!(
                        "SWITCHBOARD_ACCEPT_TRUNKLESS_CALLS={other:?} is not a boolean; use true or false"
                    ));
                }
            };
        }
        Ok(self)
    }

    /// Final settings after flags; refuses a configuration without API keys.
    pub fn settings(self, o: &Overrides) -> Result<Settings, String> {
        let mut keys = self.keys;
        if keys.is_empty() && o.dev {
            keys.insert(DEV_KEY.to_string(), DEV_SECRET.to_string());
        }
        if keys.is_empty() {
            return Err(
                "no API keys are configured: run `switchboard serve --dev` for the development defaults, or set [keys] in the config file (--config) or SWITCHBOARD_KEYS=key:secret".into(),
            );
        }
        for (k, s) in &keys {
            if k.is_empty() || s.is_empty() {
                return Err("an API key and its secret must both be non-empty".into());
            }
        }
        let database_url = o
            .database
            .clone()
            .or(self.database.url)
            .or_else(|| o.dev.then(|| DEV_DATABASE.to_string()))
            .ok_or_else(|| {
                "no database is configured: set [database] url in the config file, SWITCHBOARD_DATABASE_URL, or --database (a SQLite file path or a postgres:// URL)".to_string()
            })?;
        let listen = o
            .listen
            .clone()
            .or(self.http.listen)
            .unwrap_or_else(|| DEFAULT_LISTEN.to_string());
        let mut cp = o.call_path.clone();
        cp.dev = o.dev;
        let call_path = call_path::resolve(self.sip, self.media, self.node, &cp)?;
        let webhooks = webhook_settings(self.webhooks)?;
        let dashboard = dashboard_settings(self.dashboard)?;
        Ok(Settings {
            dashboard,
            webhooks,
            call_path,
            listen,
            database_url,
            keys,
            accept_trunkless_calls: self.routing.accept_trunkless_calls,
            dev: o.dev,
        })
    }
}

/// Checks `[webhooks]`: http(s) URLs, and a secret whenever there are URLs.
fn webhook_settings(c: WebhooksConfig) -> Result<crate::webhooks::WebhookSettings, String> {
    for url in &c.urls {
        let lower = url.to_ascii_lowercase();
        if !(lower.starts_with("http://") || lower.starts_with("https://")) {
            return Err(format!(
                "[webhooks] urls entry {url:?} is not an http:// or https:// URL"
            ));
        }
    }
    let secret = c.secret.unwrap_or_default();
    if !c.urls.is_empty() && secret.is_empty() {
        return Err(
            "[webhooks] secret is required when [webhooks] urls are set: deliveries are signed with it (X-Switchboard-Signature)".into(),
        );
    }
    Ok(crate::webhooks::WebhookSettings {
        urls: c.urls,
        secret,
    })
}

/// Checks `[dashboard]`: a usable password and secret, a session lifetime of 1 to 720 h.
fn dashboard_settings(c: DashboardConfig) -> Result<crate::dashboard::DashboardSettings, String> {
    if let Some(p) = &c.admin_password
        && p.chars().count() < 12
    {
        return Err(
            "[dashboard] admin_password is shorter than 12 characters; choose a longer one (or remove it and log in with an API key and secret)".into(),
        );
    }
    if let Some(s) = &c.session_secret
        && s.len() < 16
    {
        return Err(
            "[dashboard] session_secret is shorter than 16 characters; use a long random string (or remove it to derive the key from the API keys)".into(),
        );
    }
    let hours = c
        .session_hours
        .unwrap_or(crate::dashboard::DEFAULT_SESSION_HOURS);
    if !(1..=720).contains(&hours) {
        return Err(format!(
            "[dashboard] session_hours = {hours} is out of range; use 1 to 720"
        ));
    }
    Ok(crate::dashboard::DashboardSettings {
        admin_password: c.admin_password,
        session_secret: c.session_secret,
        session_hours: hours,
        secure_cookie: c.secure_cookie,
    })
}

/// Parses `key:secret,key2:secret2`.
pub fn parse_keys(s: &str) -> Result<BTreeMap<String, String>, String> {
    let mut out = BTreeMap::new();
    for pair in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (k, v) = pair
            .split_once(':')
            .ok_or_else(|| format!("API key entry {pair:?} is not key:secret"))?;
        out.insert(k.trim().to_string(), v.trim().to_string());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dev_defaults() {
        let s = Config::default()
            .settings(&Overrides {
                dev: true,
                ..Default::default()
            })
            .unwrap();
        assert_eq!(s.listen, "127.0.0.1:7880");
        assert_eq!(s.database_url, "./switchboard.db");
        assert_eq!(s.keys["devkey"], "secret");
        assert_eq!(s.call_path.invites_per_source_per_sec, 0);
        let prod = Config::from_toml("[keys]\nk = \"s\"\n[database]\nurl = \"a.db\"\n")
            .unwrap()
            .settings(&Overrides::default())
            .unwrap();
        assert_eq!(prod.call_path.invites_per_source_per_sec, 500);
    }

    #[test]
    fn file_env_and_flags_in_order() {
        let c = Config::from_toml(
            "[http]\nlisten = \"0.0.0.0:1\"\n[database]\nurl = \"a.db\"\n[keys]\nk = \"s\"\n",
        )
        .unwrap();
        let env = |k: &str| (k == "SWITCHBOARD_DATABASE_URL").then(|| "b.db".to_string());
        let s = c
            .with_env(env)
            .unwrap()
            .settings(&Overrides {
                listen: Some("127.0.0.1:2".into()),
                ..Default::default()
            })
            .unwrap();
        assert_eq!(s.listen, "127.0.0.1:2");
        assert_eq!(s.database_url, "b.db");
        assert_eq!(s.keys["k"], "s");
    }

    #[test]
    fn bad_input_is_explained() {
        let e = Config::from_toml("[http]\nlisten = 5\n").unwrap_err();
        assert!(e.contains("listen"), "{e}");
        let e = Config::from_toml("[nope]\n").unwrap_err();
        assert!(e.contains("nope"), "{e}");
        let e = Config::default()
            .settings(&Overrides::default())
            .unwrap_err();
        assert!(e.contains("--dev"), "{e}");
        assert!(parse_keys("k").is_err());
        let e = Config::default()
            .with_env(|k| (k == "SWITCHBOARD_ACCEPT_TRUNKLESS_CALLS").then(|| "maybe".into()))
            .unwrap_err();
        assert!(e.contains("true or false"), "{e}");
        let base = "[keys]\nk = \"s\"\n[database]\nurl = \"a.db\"\n[webhooks]\n";
        let e = Config::from_toml(&format!("{base}urls = [\"http://h/x\"]\n"))
            .unwrap()
            .settings(&Overrides::default())
            .unwrap_err();
        assert!(e.contains("secret is required"), "{e}");
        let e = Config::from_toml(&format!("{base}urls = [\"ftp://h\"]\nsecret = \"x\"\n"))
            .unwrap()
            .settings(&Overrides::default())
            .unwrap_err();
        assert!(e.contains("ftp://h"), "{e}");
        let s = Config::from_toml(&format!("{base}urls = [\"http://h/x\"]\nsecret = \"x\"\n"))
            .unwrap()
            .settings(&Overrides::default())
            .unwrap();
        assert_eq!(s.webhooks.urls, ["http://h/x"]);
        assert_eq!(s.webhooks.secret, "x");
    }

    #[test]
    fn dashboard_section() {
        let base = "[keys]\nk = \"s\"\n[database]\nurl = \"a.db\"\n[dashboard]\n";
        let settings = |extra: &str| {
            Config::from_toml(&format!("{base}{extra}"))
                .and_then(|c| c.settings(&Overrides::default()))
        };
        let s =
            settings("admin_password = \"correct horse battery\"\nsession_hours = 2\n").unwrap();
        assert_eq!(
            s.dashboard.admin_password.as_deref(),
            Some("correct horse battery")
        );
        assert_eq!(s.dashboard.session_hours, 2);
        assert!(!format!("{:?}", s.dashboard).contains("horse"));
        assert!(
            settings("admin_password = \"short\"\n")
                .unwrap_err()
                .contains("12")
        );
        assert!(
            settings("session_hours = 0\n")
                .unwrap_err()
                .contains("1 to 720")
        );
        assert!(
            settings("session_secret = \"x\"\n")
                .unwrap_err()
                .contains("16")
        );
        assert!(settings("colour = 1\n").is_err());
        let d = settings("").unwrap();
        assert_eq!(d.dashboard.session_hours, 12);
        assert!(d.dashboard.admin_password.is_none());
    }
}
