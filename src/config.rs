//! Configuration: the TOML file users write, its validation, and the copy shipped in the binary.
//!
//! Owns parsing and validating `vesselwatch.toml` (fences, watchlist, monitor settings) and reading
//! the GeoJSON files it names. Errors name the key, the value and what is allowed. It must not build
//! runtime structures beyond what validation needs: `geofence` compiles fences, `watchlist` compiles
//! watches.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::sources::SourceConfig;
use serde::Deserialize;
use vesselwatch_engine::Engine;
use vesselwatch_engine::geofence::{FenceSet, parse_geojson};
pub use vesselwatch_engine::settings::{
    FenceConfig, FenceKind, HumanDuration, Invalid, LatLon, MonitorConfig, Vessels, WatchConfig,
    validate_fences, validate_watch,
};

/// The example configuration, shipped in the binary so that a fresh checkout runs without set-up.
pub const DEFAULT_CONFIG: &str = include_str!("../config/vesselwatch.toml");

/// The GeoJSON files the default configuration names, embedded with it.
pub const EMBEDDED_FENCES: &[(&str, &str)] = &[
    (
        "fences/tartus-naval.geojson",
        include_str!("../config/fences/tartus-naval.geojson"),
    ),
    (
        "fences/tartus-port.geojson",
        include_str!("../config/fences/tartus-port.geojson"),
    ),
    (
        "fences/tartus-outer-anchorage.geojson",
        include_str!("../config/fences/tartus-outer-anchorage.geojson"),
    ),
    (
        "fences/latakia.geojson",
        include_str!("../config/fences/latakia.geojson"),
    ),
    (
        "fences/baniyas.geojson",
        include_str!("../config/fences/baniyas.geojson"),
    ),
    (
        "fences/novorossiysk.geojson",
        include_str!("../config/fences/novorossiysk.geojson"),
    ),
    (
        "fences/sevastopol.geojson",
        include_str!("../config/fences/sevastopol.geojson"),
    ),
    (
        "fences/baltiysk.geojson",
        include_str!("../config/fences/baltiysk.geojson"),
    ),
    (
        "fences/kronstadt.geojson",
        include_str!("../config/fences/kronstadt.geojson"),
    ),
];

/// Why a configuration was refused.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The TOML does not parse or does not fit the schema (unknown key, wrong type).
    #[error("{path}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// The parser's message, which names the line and key.
        message: String,
    },
    /// A value is outside what is allowed.
    #[error(transparent)]
    Invalid(#[from] Invalid),
}

fn invalid(key: impl Into<String>, value: impl std::fmt::Display, allowed: &str) -> ConfigError {
    ConfigError::Invalid(vesselwatch_engine::settings::invalid(key, value, allowed))
}

/// How often unwatched vessels' positions are kept, or not at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sampling {
    /// Not kept.
    Off,
    /// At most one position per vessel per interval.
    Every(HumanDuration),
}

impl<'de> Deserialize<'de> for Sampling {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        if s == "off" {
            return Ok(Sampling::Off);
        }
        humantime::parse_duration(&s)
            .map(|d| Sampling::Every(HumanDuration(d)))
            .map_err(|e| {
                serde::de::Error::custom(format!(
                    "`{s}` is neither \"off\" nor a duration like \"10m\": {e}"
                ))
            })
    }
}

/// `[store]`: the SQLite database.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StoreConfig {
    /// The database file, relative to the config file; default `vesselwatch.db` beside it.
    pub path: Option<PathBuf>,
    /// Positions of vessels not on the watchlist: `"off"` or an interval (watched vessels' are all
    /// kept).
    pub sample_positions: Sampling,
    /// Positions older than this (in message time) are deleted.
    pub position_retention: HumanDuration,
}

impl Default for StoreConfig {
    fn default() -> Self {
        Self {
            path: None,
            sample_positions: Sampling::Every(HumanDuration(Duration::from_secs(600))),
            position_retention: HumanDuration(Duration::from_secs(90 * 86_400)),
        }
    }
}

/// The whole configuration file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// `[monitor]`.
    #[serde(default)]
    pub monitor: MonitorConfig,
    /// `[store]`.
    #[serde(default)]
    pub store: StoreConfig,
    /// `[[fences]]`.
    #[serde(default)]
    pub fences: Vec<FenceConfig>,
    /// `[[watch]]`.
    #[serde(default)]
    pub watch: Vec<WatchConfig>,
    /// `[[webhooks]]`.
    #[serde(default)]
    pub webhooks: Vec<WebhookConfig>,
    /// `[[sources]]`: the live feeds of `vesselwatch run`.
    #[serde(default)]
    pub sources: Vec<SourceConfig>,
    /// `[http]`: health, metrics and API endpoint of `vesselwatch run`.
    #[serde(default)]
    pub http: HttpConfig,
    /// `[log]`: what `vesselwatch run` logs and how.
    #[serde(default)]
    pub log: LogConfig,
}

/// How log lines look.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// `journald` under systemd (JOURNAL_STREAM set), else `human`.
    #[default]
    Auto,
    /// Timestamped lines, coloured on a terminal.
    Human,
    /// No timestamps of its own, levels as syslog priority prefixes (`<3>`…`<7>`).
    Journald,
    /// One JSON object per line.
    Json,
}

/// `[log]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// A tracing filter such as `info` or `vesselwatch=debug`; `RUST_LOG` overrides it.
    pub filter: String,
    /// Line format.
    pub format: LogFormat,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            filter: "info".into(),
            format: LogFormat::Auto,
        }
    }
}

/// `[http]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpConfig {
    /// Address to serve on; empty turns the endpoint off. Loopback by default: metrics and the API
    /// are not for the open internet.
    pub listen: String,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:9110".into(),
        }
    }
}

/// A webhook secret, in the Standard Webhooks `whsec_` form. Never printed: `Debug` and every error
/// show it redacted.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Secret(pub String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_empty() {
            "Secret(none)"
        } else {
            "Secret(<redacted>)"
        })
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(Secret)
    }
}

/// The body a webhook receives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WebhookFormat {
    /// Standard Webhooks: `{"type", "timestamp", "data"}`.
    #[default]
    Standard,
    /// A one-line `{"text": ...}` message for Slack, Mattermost and Discord's Slack endpoint.
    Slack,
}

/// `[[webhooks]]`: an endpoint and the alerts it wants.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    /// A unique name, used by `alerts` and `webhook test`.
    pub name: String,
    /// The endpoint.
    pub url: String,
    /// The secret itself (`whsec_...`).
    #[serde(default)]
    pub secret: Secret,
    /// A file holding the secret, relative to the config file.
    pub secret_file: Option<PathBuf>,
    /// An environment variable holding the secret.
    pub secret_env: Option<String>,
    /// Event kinds to send (default `["departure"]`).
    #[serde(default = "default_webhook_events")]
    pub events: Vec<String>,
    /// Only events at these fences (default all).
    #[serde(default)]
    pub fences: Vec<String>,
    /// Only vessels in these watchlist groups (default all).
    #[serde(default)]
    pub groups: Vec<String>,
    /// Only these vessels: watchlist labels, names, MMSIs or IMO numbers (default all).
    #[serde(default)]
    pub vessels: Vec<String>,
    /// Body format.
    #[serde(default)]
    pub format: WebhookFormat,
    /// Per-request timeout (default 10s).
    #[serde(default = "default_webhook_timeout")]
    pub timeout: HumanDuration,
    /// Give up (dead-letter) an alert older than this (default 72h).
    #[serde(default = "default_webhook_max_age")]
    pub max_age: HumanDuration,
    /// First retry delay; later ones double, with jitter (default 5s).
    #[serde(default = "default_webhook_retry")]
    pub retry_initial: HumanDuration,
}

impl std::fmt::Debug for WebhookConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookConfig")
            .field("name", &self.name)
            .field("url", &self.url)
            .field("secret", &self.secret)
            .field("events", &self.events)
            .field("format", &self.format)
            .finish_non_exhaustive()
    }
}

fn default_webhook_events() -> Vec<String> {
    vec!["departure".into()]
}
fn default_webhook_timeout() -> HumanDuration {
    HumanDuration(Duration::from_secs(10))
}
fn default_webhook_max_age() -> HumanDuration {
    HumanDuration(Duration::from_secs(72 * 3600))
}
fn default_webhook_retry() -> HumanDuration {
    HumanDuration(Duration::from_secs(5))
}

/// Where a configuration's relative files (GeoJSON) come from.
#[derive(Debug, Clone)]
pub enum Origin {
    /// A config file on disk: relative paths are resolved against its folder.
    File(PathBuf),
    /// The configuration built into the binary, with its fences.
    Embedded,
}

/// A validated configuration, where it came from, and its fences compiled once.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// The configuration.
    pub config: Config,
    /// Its origin, for resolving GeoJSON paths.
    pub origin: Origin,
    /// The fences, compiled from `config.fences` and their GeoJSON when loaded: shared with every
    /// engine built from this configuration, so a start or reload reads each file once.
    pub fences: Arc<FenceSet>,
}

impl Loaded {
    /// Reads `path`, parses and validates it, and checks that every GeoJSON file loads.
    pub fn from_file(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_str(&text, Origin::File(path.to_path_buf()))
    }

    /// Loads `path`, else `config/vesselwatch.toml` in the working directory (a checkout), else
    /// the copy built into the binary: the lookup every command shares.
    pub fn load(path: Option<&Path>) -> Result<Self, ConfigError> {
        match path {
            Some(p) => Self::from_file(p),
            None if Path::new("config/vesselwatch.toml").exists() => {
                Self::from_file(Path::new("config/vesselwatch.toml"))
            }
            None => Ok(Self::embedded()),
        }
    }

    /// The configuration built into the binary.
    pub fn embedded() -> Self {
        Self::from_str(DEFAULT_CONFIG, Origin::Embedded).expect("the shipped config is valid")
    }

    /// Parses and validates `text`.
    pub fn from_str(text: &str, origin: Origin) -> Result<Self, ConfigError> {
        let path = match &origin {
            Origin::File(p) => p.clone(),
            Origin::Embedded => PathBuf::from("<embedded config>"),
        };
        let config: Config = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path,
            message: e.to_string(),
        })?;
        let mut loaded = Self {
            config,
            origin,
            fences: Arc::new(FenceSet::default()),
        };
        loaded.validate()?;
        for i in 0..loaded.config.webhooks.len() {
            loaded.webhook_secret(i)?;
        }
        // Compiling the fences reads and checks every GeoJSON file, once.
        let mut polygons = Vec::with_capacity(loaded.config.fences.len());
        for (i, f) in loaded.config.fences.iter().enumerate() {
            polygons.push(match &f.geojson {
                Some(path) => Some(parse_geojson(
                    &loaded.read_relative(path)?,
                    &format!("fences[{i}].geojson"),
                )?),
                None => None,
            });
        }
        loaded.fences = Arc::new(FenceSet::build(&loaded.config.fences, polygons)?);
        Ok(loaded)
    }

    /// A fresh movement engine for this configuration.
    pub fn engine(&self) -> Engine {
        Engine::new(
            &self.config.monitor,
            Arc::clone(&self.fences),
            &self.config.watch,
        )
    }

    /// The database file: `[store] path` relative to the config file, else `vesselwatch.db` beside
    /// it; for the built-in config, `vesselwatch.db` in the working directory.
    pub fn db_path(&self) -> PathBuf {
        let base = match &self.origin {
            Origin::File(cfg) => cfg.parent().unwrap_or(Path::new(".")).to_path_buf(),
            Origin::Embedded => PathBuf::from("."),
        };
        base.join(
            self.config
                .store
                .path
                .as_deref()
                .unwrap_or(Path::new("vesselwatch.db")),
        )
    }

    /// A webhook's secret, from `secret`, `secret_file` (relative to the config) or `secret_env`,
    /// checked to be in the `whsec_<base64>` form. The error never contains the secret.
    pub fn webhook_secret(&self, index: usize) -> Result<Secret, ConfigError> {
        let h = &self.config.webhooks[index];
        let key = format!("webhooks[{index}].secret");
        let raw = if !h.secret.0.is_empty() {
            h.secret.0.clone()
        } else if let Some(f) = &h.secret_file {
            self.read_relative(f)?.trim().to_string()
        } else if let Some(var) = &h.secret_env {
            std::env::var(var).map_err(|_| {
                invalid(
                    format!("webhooks[{index}].secret_env"),
                    var,
                    "names an environment variable that is not set",
                )
            })?
        } else {
            String::new()
        };
        use base64::Engine as _;
        let ok = raw.strip_prefix("whsec_").is_some_and(|b| {
            base64::engine::general_purpose::STANDARD
                .decode(b)
                .is_ok_and(|k| !k.is_empty())
        });
        if !ok {
            return Err(invalid(
                key,
                "<redacted>",
                "must be `whsec_` followed by base64 (Standard Webhooks form)",
            ));
        }
        Ok(Secret(raw))
    }

    /// Reads a file named by the configuration, relative to the config file.
    pub fn read_relative(&self, relative: &Path) -> Result<String, ConfigError> {
        match &self.origin {
            Origin::File(cfg) => {
                let full = cfg.parent().unwrap_or(Path::new(".")).join(relative);
                std::fs::read_to_string(&full)
                    .map_err(|source| ConfigError::Io { path: full, source })
            }
            Origin::Embedded => EMBEDDED_FENCES
                .iter()
                .find(|(p, _)| Path::new(p) == relative)
                .map(|(_, text)| (*text).to_string())
                .ok_or_else(|| ConfigError::Io {
                    path: relative.to_path_buf(),
                    source: std::io::Error::new(std::io::ErrorKind::NotFound, "not embedded"),
                }),
        }
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let c = &self.config;
        c.monitor.validate()?;
        validate_fences(&c.fences)?;
        validate_watch(&c.watch)?;
        crate::sources::validate_all(&c.sources)?;
        if let Err(e) = tracing_subscriber::EnvFilter::try_new(&c.log.filter) {
            return Err(invalid(
                "log.filter",
                format!("{:?}", c.log.filter),
                &format!("must be a tracing filter such as \"info\": {e}"),
            ));
        }
        if !c.http.listen.is_empty() && c.http.listen.parse::<std::net::SocketAddr>().is_err() {
            return Err(invalid(
                "http.listen",
                format!("{:?}", c.http.listen),
                "must be address:port, or empty to turn it off",
            ));
        }
        let mut hooks = std::collections::HashSet::new();
        for (i, h) in c.webhooks.iter().enumerate() {
            let key = |k: &str| format!("webhooks[{i}].{k}");
            if h.name.trim().is_empty() || !hooks.insert(h.name.as_str()) {
                return Err(invalid(
                    key("name"),
                    format!("{:?}", h.name),
                    "must be non-empty and unique among webhooks",
                ));
            }
            if !(h.url.starts_with("http://") || h.url.starts_with("https://")) {
                return Err(invalid(
                    key("url"),
                    &h.url,
                    "must be an http:// or https:// URL",
                ));
            }
            let sources = [
                !h.secret.0.is_empty(),
                h.secret_file.is_some(),
                h.secret_env.is_some(),
            ]
            .iter()
            .filter(|&&s| s)
            .count();
            if sources != 1 {
                return Err(invalid(
                    key("secret|secret_file|secret_env"),
                    format!("{sources} given"),
                    "a webhook needs exactly one of `secret`, `secret_file` or `secret_env`",
                ));
            }
            for e in &h.events {
                if !vesselwatch_engine::EventKind::ALL
                    .iter()
                    .any(|k| k.as_str() == e)
                {
                    return Err(invalid(
                        key("events"),
                        format!("{e:?}"),
                        "kinds are present, arrival, departure, dark, reappeared, holding, transit",
                    ));
                }
            }
            for f in &h.fences {
                if !c.fences.iter().any(|x| &x.name == f) {
                    return Err(invalid(
                        key("fences"),
                        format!("{f:?}"),
                        "must name a configured fence",
                    ));
                }
            }
            if h.timeout.0.is_zero() || h.max_age.0.is_zero() || h.retry_initial.0.is_zero() {
                return Err(invalid(
                    key("timeout|max_age|retry_initial"),
                    "0s",
                    "must be longer than zero",
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> String {
        Loaded::from_str(text, Origin::Embedded)
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn shipped_config_is_valid() {
        let l = Loaded::embedded();
        assert!(l.config.fences.iter().any(|f| f.name == "tartus-naval"));
        assert!(l.config.watch.iter().any(|w| w.label == "Yelnya"));
        assert_eq!(l.config.monitor.dark_after.0, Duration::from_secs(4 * 3600));
    }

    #[test]
    fn errors_name_key_value_and_what_is_allowed() {
        let e = err(
            "[[fences]]\nname = \"x\"\nkind = \"port\"\ncenter = { lat = 34.9, lon = 35.8 }\nradius_km = -1\n",
        );
        assert_eq!(
            e,
            "`fences[0].radius_km` = -1: must be between 0 and 500 km"
        );
        let e = err(
            "[[fences]]\nname = \"g\"\nkind = \"gate\"\nline = [{ lat = 36.0, lon = -5.58 }]\n",
        );
        assert!(e.contains("`fences[0].line` = 1 points"), "{e}");
        let e = err("[[watch]]\nlabel = \"x\"\nimo = 12\n");
        assert!(
            e.contains("`watch[0].imo` = 12: an IMO number has 7 digits"),
            "{e}"
        );
        let e = err("[monitor]\ndark_after = \"soon\"\n");
        assert!(e.contains("not a duration"), "{e}");
        let e = err("[monitor]\nvessels = \"some\"\n");
        assert!(e.contains("vessels"), "{e}");
        let e = err("[monitr]\n");
        assert!(e.contains("unknown field"), "{e}");
    }
}
