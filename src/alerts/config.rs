//! `[[webhooks]]`: the section alerts own. An endpoint, the alerts it wants, and its secret.
//!
//! The secret is held as a `secrecy` string: it is never in `Debug` output, an error message or a
//! log line, and is exposed only to sign a request.

use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine as _;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use vesselwatch_engine::EventKind;
use vesselwatch_engine::settings::{FenceConfig, HumanDuration, Invalid, invalid};

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
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    /// A unique name, used by `alerts` and `webhook test`.
    pub name: String,
    /// The endpoint.
    pub url: String,
    /// The secret itself (`whsec_...`).
    pub secret: Option<SecretString>,
    /// A file holding the secret, relative to the config file.
    pub secret_file: Option<PathBuf>,
    /// An environment variable holding the secret.
    pub secret_env: Option<String>,
    /// Event kinds to send (default `["departure"]`); an unknown kind is a parse error that lists
    /// the known ones.
    #[serde(default = "default_events")]
    pub events: Vec<EventKind>,
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
    #[serde(default = "default_timeout")]
    pub timeout: HumanDuration,
    /// Give up (dead-letter) an alert older than this (default 72h).
    #[serde(default = "default_max_age")]
    pub max_age: HumanDuration,
    /// First retry delay; later ones double, with jitter (default 5s).
    #[serde(default = "default_retry")]
    pub retry_initial: HumanDuration,
}

fn default_events() -> Vec<EventKind> {
    vec![EventKind::Departure]
}
fn default_timeout() -> HumanDuration {
    HumanDuration(Duration::from_secs(10))
}
fn default_max_age() -> HumanDuration {
    HumanDuration(Duration::from_secs(72 * 3600))
}
fn default_retry() -> HumanDuration {
    HumanDuration(Duration::from_secs(5))
}

/// Checks the whole `[[webhooks]]` list against the fences it may name.
pub fn validate_all(hooks: &[WebhookConfig], fences: &[FenceConfig]) -> Result<(), Invalid> {
    let mut names = std::collections::HashSet::new();
    for (i, h) in hooks.iter().enumerate() {
        let key = |k: &str| format!("webhooks[{i}].{k}");
        if h.name.trim().is_empty() || !names.insert(h.name.as_str()) {
            return Err(invalid(
                key("name"),
                format!("{:?}", h.name),
                "must be non-empty and unique among webhooks",
            ));
        }
        if !(h.url.starts_with("http://") || h.url.starts_with("https://")) {
            return Err(invalid(
                key("url"),
                super::redact_url(&h.url),
                "must be an http:// or https:// URL",
            ));
        }
        let given = [
            h.secret.is_some(),
            h.secret_file.is_some(),
            h.secret_env.is_some(),
        ]
        .iter()
        .filter(|&&s| s)
        .count();
        if given != 1 {
            return Err(invalid(
                key("secret|secret_file|secret_env"),
                format!("{given} given"),
                "a webhook needs exactly one of `secret`, `secret_file` or `secret_env`",
            ));
        }
        for f in &h.fences {
            if !fences.iter().any(|x| &x.name == f) {
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

impl WebhookConfig {
    /// The secret, from `secret`, `secret_file` (read by `read`, relative to the config) or
    /// `secret_env`, checked to be in the `whsec_<base64>` form. `index` names the key in errors,
    /// which never contain the secret.
    pub fn resolve_secret<E: From<Invalid>>(
        &self,
        index: usize,
        read: impl Fn(&Path) -> Result<String, E>,
    ) -> Result<SecretString, E> {
        let raw: SecretString = if let Some(s) = &self.secret {
            s.clone()
        } else if let Some(f) = &self.secret_file {
            read(f)?.trim().into()
        } else if let Some(var) = &self.secret_env {
            std::env::var(var)
                .map_err(|_| {
                    invalid(
                        format!("webhooks[{index}].secret_env"),
                        var,
                        "names an environment variable that is not set",
                    )
                })?
                .into()
        } else {
            "".into()
        };
        let ok = raw.expose_secret().strip_prefix("whsec_").is_some_and(|b| {
            base64::engine::general_purpose::STANDARD
                .decode(b)
                .is_ok_and(|k| !k.is_empty())
        });
        if !ok {
            return Err(invalid(
                format!("webhooks[{index}].secret"),
                "<redacted>",
                "must be `whsec_` followed by base64 (Standard Webhooks form)",
            )
            .into());
        }
        Ok(raw)
    }
}
