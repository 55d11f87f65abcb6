//! `type = "tcp"`: connects out to a feed server (AIS-catcher, rtl-ais, AISHub, a kplex or gpsd
//! relay) and reads; reconnects with backoff, and when the feed is silent for `stall_timeout`.

use std::sync::atomic::Ordering;
use std::time::Duration;

use serde::Deserialize;
use tokio::io::AsyncReadExt;

use super::{Chunk, Context, reconnect_delays};
use vesselwatch_engine::settings::HumanDuration;

/// `[[sources]] type = "tcp"`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TcpConfig {
    /// Unique name.
    pub name: String,
    /// `host:port` of the feed.
    pub address: String,
    /// Reconnect when nothing arrived for this long (default 5m): a half-open connection reads
    /// nothing forever otherwise.
    #[serde(default = "super::default_stall")]
    pub stall_timeout: HumanDuration,
}

/// How long a connection attempt may take before it counts as failed.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Runs until shutdown.
pub async fn run(config: TcpConfig, mut ctx: Context) {
    let TcpConfig {
        name,
        address,
        stall_timeout,
    } = config;
    let feed = ctx.feeds.open(ctx.index);
    let mut delays = reconnect_delays();
    let mut buf = vec![0u8; 64 * 1024];
    while !ctx.stopping() {
        let conn =
            tokio::time::timeout(CONNECT_TIMEOUT, tokio::net::TcpStream::connect(&address)).await;
        let mut stream = match conn {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => {
                tracing::warn!(source = %name, %address, error = %e, "Feed connection failed; retrying.");
                ctx.wait(delays.next().unwrap_or_default()).await;
                continue;
            }
            Err(_) => {
                tracing::warn!(source = %name, %address, "Feed connection timed out; retrying.");
                ctx.wait(delays.next().unwrap_or_default()).await;
                continue;
            }
        };
        tracing::info!(source = %name, %address, "Feed connected.");
        ctx.stats.connects.fetch_add(1, Ordering::Relaxed);
        ctx.set_up(true);
        delays = reconnect_delays();
        loop {
            let read = tokio::select! {
                r = tokio::time::timeout(stall_timeout.0, stream.read(&mut buf)) => r,
                _ = ctx.shutdown.recv() => break,
            };
            match read {
                Ok(Ok(0)) => {
                    tracing::warn!(source = %name, "Feed closed by the peer; reconnecting.");
                    break;
                }
                Ok(Ok(n)) => {
                    if !ctx.data(feed, buf[..n].to_vec()).await {
                        return;
                    }
                }
                Ok(Err(e)) => {
                    tracing::warn!(source = %name, error = %e, "Feed read failed; reconnecting.");
                    break;
                }
                Err(_) => {
                    tracing::warn!(source = %name, stall = ?stall_timeout.0, "Feed silent too long; reconnecting.");
                    break;
                }
            }
        }
        ctx.set_up(false);
        if !ctx.send(Chunk::Reset(feed)).await || ctx.stopping() {
            return;
        }
        ctx.stats.drops.fetch_add(1, Ordering::Relaxed);
        ctx.wait(delays.next().unwrap_or_default()).await;
    }
}
