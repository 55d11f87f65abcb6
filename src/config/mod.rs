//! Configuration: the file users write, where it is found, and the copy shipped in the binary.
//!
//! Owns the top of `vesselwatch.toml` (which sections there are) and loading: the file, the
//! embedded default, files named relative to the config (GeoJSON, secrets). Each section belongs to
//! the component it configures and is checked there (`[monitor]`, `[[fences]]`, `[[watch]]` by the
//! engine's settings, `[[sources]]` by the sources, `[[webhooks]]` by alerts, `[store]`, `[http]`,
//! `[log]` by theirs); errors name the key, the value and what is allowed. A loaded configuration
//! holds its fences compiled once, so a start or reload reads each GeoJSON file once.

use std::path::{Path, PathBuf};
use std::sync::Arc;
#[cfg(test)]
use std::time::Duration;

use secrecy::SecretString;
use serde::Deserialize;
use vesselwatch_engine::Engine;

// The sections, each owned (defined and checked) by the component it configures.
pub use crate::alerts::config::{WebhookConfig, WebhookFormat};
pub use crate::daemon::http::HttpConfig;
pub use crate::logging::{LogConfig, LogFormat};
pub use crate::sources::SourceConfig;
pub use crate::store::config::{Sampling, StoreConfig};
use vesselwatch_engine::geofence::{FenceSet, parse_geojson};
pub use vesselwatch_engine::settings::{
    FenceConfig, FenceKind, HumanDuration, Invalid, LatLon, MonitorConfig, Vessels, WatchConfig,
    validate_fences, validate_watch,
};

/// The parser's message with secrets taken out. toml quotes the offending line of the file, which
/// may be a webhook secret or a key (`secret = "whsec_..." oops`): a line of the excerpt that names
/// a secret-like key has its value replaced, and any `whsec_` token anywhere is cut, so that
/// `check-config` and the log of a refused reload never show one.
fn redact_excerpt(message: &str) -> String {
    const SECRET_KEYS: &[&str] = &["secret", "key", "token", "password", "whsec_"];
    let mut out = String::with_capacity(message.len());
    for line in message.lines() {
        let lower = line.to_ascii_lowercase();
        let quoted = line.contains(" | ") || line.trim_start().starts_with('|');
        match line.find('=') {
            Some(eq) if quoted && SECRET_KEYS.iter().any(|k| lower.contains(k)) => {
                out.push_str(&line[..=eq]);
                out.push_str(" <redacted>");
            }
            _ => out.push_str(line),
        }
        out.push('\n');
    }
    // A `whsec_` token outside such a line (a value on a line of its own).
    while let Some(i) = out.find("whsec_") {
        let end = out[i..]
            .find(|c: char| !(c.is_ascii_alphanumeric() || "+/=_".contains(c)))
            .map_or(out.len(), |n| i + n);
        out.replace_range(i..end, "<redacted>");
    }
    out.trim_end().to_string()
}

mod embedded;
pub use embedded::{DEFAULT_CONFIG, EMBEDDED_FENCES};

/// Why a configuration was refused.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A file could not be read.
    #[error("cannot read {path}")]
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

/// The whole configuration file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// `[monitor]`.
    #[serde(default)]
    pub monitor: MonitorConfig,
    /// `[detect]`: detections beyond ports.
    #[serde(default)]
    pub detect: vesselwatch_engine::settings::DetectConfig,
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

/// Above this many vertices (positions in the GeoJSON, every ring's) `check-config` warns about a
/// fence. Lookups stay O(log n) in the vertices (the engine's prepared index), but loading does
/// not: parsing and indexing grow linearly, about 250 bytes and a few microseconds a vertex, on
/// every start and SIGHUP reload. Port, anchorage and area fences need hundreds to a few thousand
/// vertices; 100,000 is well past any hand-drawn or simplified fence and is where a load starts to
/// cost tenths of a second and tens of megabytes, so a fence above it is most likely an
/// unsimplified coastline export that is worth simplifying. A warning, not an error: it works.
pub const LARGE_FENCE_VERTICES: usize = 100_000;

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
    /// The GeoJSON text of each fence (by index), as read at load: the store records it, so that
    /// an edited file is noticed without reading it again.
    pub geojson: Vec<Option<String>>,
    /// `[detect.position_conflict] land`, compiled (one polygon fence), when configured.
    pub land: Option<Arc<FenceSet>>,
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
            message: redact_excerpt(&e.to_string()),
        })?;
        let mut loaded = Self {
            config,
            origin,
            fences: Arc::new(FenceSet::default()),
            geojson: Vec::new(),
            land: None,
        };
        loaded.validate()?;
        for i in 0..loaded.config.webhooks.len() {
            loaded.webhook_secret(i)?;
        }
        // Compiling the fences reads and checks every GeoJSON file, once.
        let mut polygons = Vec::with_capacity(loaded.config.fences.len());
        let mut texts = Vec::with_capacity(loaded.config.fences.len());
        for (i, f) in loaded.config.fences.iter().enumerate() {
            let text = match &f.geojson {
                Some(path) => Some(loaded.read_relative(path)?),
                None => None,
            };
            polygons.push(match &text {
                Some(text) => Some(parse_geojson(text, &format!("fences[{i}].geojson"))?),
                None => None,
            });
            texts.push(text);
        }
        loaded.fences = Arc::new(FenceSet::build(&loaded.config.fences, polygons)?);
        loaded.geojson = texts;
        if let Some(path) = loaded.config.detect.position_conflict.land.clone() {
            let key = "detect.position_conflict.land";
            let land = parse_geojson(&loaded.read_relative(&path)?, key)?;
            let fence = vesselwatch_engine::geofence::Fence::new(
                0,
                "land".into(),
                vesselwatch_engine::settings::FenceKind::Area,
                vesselwatch_engine::geofence::Shape::Polygons(land),
                0.0,
                0.0,
                None,
            );
            loaded.land = Some(Arc::new(FenceSet::from_fences(vec![fence])));
        }
        Ok(loaded)
    }

    /// The fences with more than [`LARGE_FENCE_VERTICES`] vertices, as (name, vertices), in
    /// config order: what `check-config` warns about.
    pub fn large_fences(&self) -> Vec<(&str, usize)> {
        self.fences
            .fences()
            .iter()
            .map(|f| (f.name.as_str(), f.vertex_count()))
            .filter(|&(_, n)| n > LARGE_FENCE_VERTICES)
            .collect()
    }

    /// A fresh movement engine for this configuration.
    pub fn engine(&self) -> Engine {
        let mut e = Engine::with_parts(
            vesselwatch_engine::movement::EngineSettings::from(&self.config.monitor)
                .with_detect(&self.config.detect),
            Arc::clone(&self.fences),
            vesselwatch_engine::watchlist::Watchlist::new(&self.config.watch),
        );
        if let Some(land) = &self.land {
            let margin_m = self.config.detect.position_conflict.land_margin_km * 1000.0;
            e.set_land(Arc::clone(land), margin_m);
        }
        e
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

    /// A webhook's secret, resolved and checked (see
    /// [`WebhookConfig::resolve_secret`]).
    pub fn webhook_secret(&self, index: usize) -> Result<SecretString, ConfigError> {
        self.config.webhooks[index].resolve_secret(index, |p| self.read_relative(p))
    }

    /// The HTTP endpoint's bearer token, when `[http] token_file` or `token_env` names one.
    pub fn http_token(&self) -> Result<Option<secrecy::SecretString>, ConfigError> {
        let http = &self.config.http;
        let raw = if let Some(f) = &http.token_file {
            self.read_relative(f)?.trim().to_string()
        } else if let Some(var) = &http.token_env {
            std::env::var(var).map_err(|_| {
                ConfigError::from(vesselwatch_engine::settings::invalid(
                    "http.token_env",
                    var,
                    "names an environment variable that is not set",
                ))
            })?
        } else {
            return Ok(None);
        };
        if raw.len() < 16 {
            return Err(vesselwatch_engine::settings::invalid(
                "http.token",
                "<redacted>",
                "must be at least 16 characters",
            )
            .into());
        }
        Ok(Some(raw.into()))
    }

    /// The fences as the store records them, with the GeoJSON text read at load.
    pub fn fence_records(&self) -> Vec<crate::store::FenceRecord> {
        self.config
            .fences
            .iter()
            .zip(&self.geojson)
            .map(|(f, geojson)| {
                let kind: &'static str = f.kind.into();
                let definition = serde_json::json!({
                    "kind": kind,
                    "center": f.center.map(|c| [c.lat, c.lon]),
                    "radius_km": f.radius_km,
                    "line": f.line.as_ref().map(|l| l.iter().map(|p| [p.lat, p.lon]).collect::<Vec<_>>()),
                    "geojson": geojson,
                    "exit_margin_km": f.exit_margin_km,
                    "approach_km": f.approach_km,
                    "min_dwell_ms": f.min_dwell.map(|d| d.millis()),
                })
                .to_string();
                crate::store::FenceRecord {
                    name: f.name.clone(),
                    kind: kind.to_string(),
                    definition,
                }
            })
            .collect()
    }

    /// Opens the store for this configuration at `db` (see [`crate::store::start`]).
    pub fn start_store(
        &self,
        db: PathBuf,
        engine: &mut Engine,
    ) -> Result<crate::store::Writer, crate::store::StoreError> {
        crate::store::start(db, &self.config.store, &self.fence_records(), engine)
    }

    /// Every webhook's endpoint, secrets resolved: what a delivery worker is started with.
    pub fn endpoints(&self) -> Result<Vec<crate::alerts::delivery::Endpoint>, ConfigError> {
        (0..self.config.webhooks.len())
            .map(|i| {
                let secret = self.webhook_secret(i)?;
                Ok(crate::alerts::delivery::Endpoint::new(
                    &self.config.webhooks[i],
                    secret,
                ))
            })
            .collect()
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

    /// Each section checks its own fields (the components own their sections); the engine's
    /// sections are checked by the engine's settings.
    fn validate(&self) -> Result<(), ConfigError> {
        let c = &self.config;
        c.monitor.validate()?;
        c.detect.validate()?;
        validate_fences(&c.fences)?;
        validate_watch(&c.watch)?;
        crate::sources::validate_all(&c.sources)?;
        crate::alerts::config::validate_all(&c.webhooks, &c.fences)?;
        c.store.validate()?;
        c.http.validate()?;
        c.log.validate()?;
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
        let e = err("[store]\nposition_retention = \"0s\"\n");
        assert_eq!(
            e,
            "`store.position_retention` = 0s: must be longer than zero (positions older than it are deleted)"
        );
        let e = err(
            "[[webhooks]]\nname = \"a\"\nurl = \"http://x/\"\nsecret = \"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\" oops\n",
        );
        assert!(!e.contains("MfKQ9r8"), "{e}");
        assert!(e.contains("<redacted>"), "{e}");
        let e = err(
            "[[sources]]\ntype = \"websocket\"\nname = \"w\"\nurl = \"wss://x\"\napi_key_env = \"K\"\nbogus = 1\nmode = \"aisstream\"\n",
        );
        assert!(e.contains("unknown field"), "{e}");
        let e = err("[monitr]\n");
        assert!(e.contains("unknown field"), "{e}");
    }
}
