//! `type = "websocket"`: a `ws://` or `wss://` feed carrying NMEA sentences in text or binary
//! frames, or the aisstream.io JSON feed (a subscription sent on connect, an API key from the
//! environment or a file).

use std::sync::atomic::Ordering;

use futures_util::{SinkExt, StreamExt};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use tokio_tungstenite::tungstenite::Message;

use super::{Chunk, Context, SourceError, aisstream, reconnect_delays};
use vesselwatch_engine::settings::{HumanDuration, Invalid, invalid};

/// `[[sources]] type = "websocket"`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebsocketConfig {
    /// Unique name.
    pub name: String,
    /// The URL, e.g. `wss://stream.aisstream.io/v0/stream`.
    pub url: String,
    /// `nmea` (sentences in text or binary frames) or `aisstream` (JSON, with a subscription).
    #[serde(default)]
    pub mode: WebsocketMode,
    /// aisstream: environment variable holding the API key.
    pub api_key_env: Option<String>,
    /// aisstream: file holding the API key, relative to the config.
    pub api_key_file: Option<std::path::PathBuf>,
    /// aisstream: areas, each `[[lat, lon], [lat, lon]]` corners.
    #[serde(default)]
    pub bounding_boxes: Vec<[[f64; 2]; 2]>,
    /// aisstream: only these MMSIs.
    #[serde(default)]
    pub mmsi: Vec<String>,
    /// Reconnect when nothing arrived for this long (default 5m).
    #[serde(default = "super::default_stall")]
    pub stall_timeout: HumanDuration,
}

/// What a WebSocket source carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WebsocketMode {
    /// NMEA sentences in text or binary frames.
    #[default]
    Nmea,
    /// aisstream.io JSON messages.
    Aisstream,
}

impl WebsocketConfig {
    pub(super) fn validate(&self, key: &str) -> Result<(), Invalid> {
        if !(self.url.starts_with("ws://") || self.url.starts_with("wss://")) {
            // The URL may carry a token: name the scheme only.
            let scheme = self.url.split_once(':').map_or("", |(s, _)| s);
            return Err(invalid(
                format!("{key}.url"),
                format!("{scheme:?} URL"),
                "must be a ws:// or wss:// URL",
            ));
        }
        if self.mode == WebsocketMode::Aisstream
            && self.api_key_env.is_some() == self.api_key_file.is_some()
        {
            return Err(invalid(
                format!("{key}.api_key_env|api_key_file"),
                if self.api_key_env.is_some() {
                    "both given"
                } else {
                    "neither given"
                },
                "aisstream needs exactly one of `api_key_env` or `api_key_file`",
            ));
        }
        Ok(())
    }

    /// The aisstream API key, read when the source starts (a rotated key file is read again on
    /// the next start). Kept as a secret: never in `Debug` or a log line.
    fn api_key(&self, config_dir: &std::path::Path) -> Option<SecretString> {
        match (&self.api_key_env, &self.api_key_file) {
            (Some(var), _) => std::env::var(var).ok().map(SecretString::from),
            (_, Some(f)) => std::fs::read_to_string(config_dir.join(f))
                .ok()
                .map(|k| SecretString::from(k.trim().to_string())),
            _ => None,
        }
    }
}

/// How long connecting, TLS and the upgrade may take before the attempt counts as failed.
const CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(20);

/// Frame and message size limits: a feed's message is a few hundred bytes of JSON or a batch of
/// sentences, and tungstenite's defaults (64 MiB messages) would let one peer hold that much memory.
fn limits() -> tokio_tungstenite::tungstenite::protocol::WebSocketConfig {
    tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default()
        .max_message_size(Some(1 << 20))
        .max_frame_size(Some(1 << 20))
}

/// Runs until shutdown.
pub async fn run(config: WebsocketConfig, mut ctx: Context) -> Result<(), SourceError> {
    let name = config.name.clone();
    let aisstream = config.mode == WebsocketMode::Aisstream;
    let key = config.api_key(&ctx.config_dir);
    if aisstream && key.is_none() {
        let from = match (&config.api_key_env, &config.api_key_file) {
            (Some(var), _) => format!("environment variable {var} is not set"),
            (_, Some(f)) => format!("file {} is unreadable", ctx.config_dir.join(f).display()),
            _ => "neither api_key_env nor api_key_file is given".into(),
        };
        return Err(SourceError::NoKey(from));
    }
    let feed = ctx.feeds.open(ctx.index);
    let mut delays = reconnect_delays();
    while !ctx.stopping() {
        // The TCP connect, TLS and the HTTP upgrade together: a server that accepts and never
        // answers the upgrade would otherwise hold the source for ever, deaf to shutdown.
        let connect = tokio::time::timeout(
            CONNECT_TIMEOUT,
            tokio_tungstenite::connect_async_with_config(
                config.url.as_str(),
                Some(limits()),
                false,
            ),
        );
        let connected = tokio::select! {
            c = connect => c,
            _ = ctx.shutdown.recv() => return Ok(()),
        };
        let (mut ws, _) = match connected {
            Ok(Ok(c)) => c,
            Err(_) => {
                tracing::warn!(source = %name, timeout = ?CONNECT_TIMEOUT, "WebSocket handshake timed out; retrying.");
                ctx.wait(delays.next().unwrap_or_default()).await;
                continue;
            }
            Ok(Err(e)) => {
                // The URL may carry a token: it is not logged.
                tracing::warn!(source = %name, error = %crate::error::Chain(&e), "WebSocket connection failed; retrying.");
                ctx.wait(delays.next().unwrap_or_default()).await;
                continue;
            }
        };
        if let (true, Some(k)) = (aisstream, &key) {
            let sub =
                aisstream::subscription(k.expose_secret(), &config.bounding_boxes, &config.mmsi);
            if let Err(e) = ws.send(Message::text(sub)).await {
                tracing::warn!(source = %name, error = %e, "aisstream subscription failed; retrying.");
                ctx.wait(delays.next().unwrap_or_default()).await;
                continue;
            }
        }
        tracing::info!(source = %name, "WebSocket connected.");
        ctx.stats.connects.fetch_add(1, Ordering::Relaxed);
        ctx.set_up(true);
        delays = reconnect_delays();
        loop {
            let next = tokio::select! {
                m = tokio::time::timeout(config.stall_timeout.0, ws.next()) => m,
                _ = ctx.shutdown.recv() => break,
            };
            let frame = match next {
                Ok(Some(Ok(f))) => f,
                Ok(Some(Err(e))) => {
                    tracing::warn!(source = %name, error = %e, "WebSocket read failed; reconnecting.");
                    break;
                }
                Ok(None) => {
                    tracing::warn!(source = %name, "WebSocket closed; reconnecting.");
                    break;
                }
                Err(_) => {
                    tracing::warn!(source = %name, "WebSocket silent too long; reconnecting.");
                    break;
                }
            };
            let mut bytes: Vec<u8> = match frame {
                Message::Text(t) => t.as_bytes().to_vec(),
                Message::Binary(b) => b.to_vec(),
                _ => continue,
            };
            let sent = if aisstream {
                let at = ctx.count(bytes.len());
                match aisstream::decode(&String::from_utf8_lossy(&bytes), feed) {
                    Ok(Some(d)) => ctx.send(Chunk::Message(Box::new(d), at)).await,
                    Ok(None) => true,
                    Err(why) => {
                        let n = ctx.stats.rejected.fetch_add(1, Ordering::Relaxed) + 1;
                        // Rate-limited: the 1st, 2nd, 4th, 8th... so a broken feed cannot flood
                        // the log; the counter has the whole figure.
                        if n.is_power_of_two() {
                            tracing::warn!(source = %name, ?why, rejected = n, "aisstream message not used.");
                        }
                        true
                    }
                }
            } else {
                // A frame holds whole sentences; end it with a newline if the sender did not.
                if bytes.last() != Some(&b'\n') {
                    bytes.push(b'\n');
                }
                ctx.data(feed, bytes).await
            };
            if !sent {
                return Ok(());
            }
        }
        ctx.set_up(false);
        if !ctx.send(Chunk::Reset(feed)).await || ctx.stopping() {
            return Ok(());
        }
        ctx.stats.drops.fetch_add(1, Ordering::Relaxed);
        ctx.wait(delays.next().unwrap_or_default()).await;
    }
    Ok(())
}
