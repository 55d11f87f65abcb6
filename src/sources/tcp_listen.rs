//! `type = "tcp_listen"`: accepts connections from receivers that push their feed, each read as a
//! feed of its own (its own partial line and fragments).
//!
//! Limits at the door, as mini-redis: at most `max_connections` at once (a semaphore; the next
//! connection waits in the kernel's backlog until one ends), a connection silent for
//! `idle_timeout` is closed, a failed accept (out of descriptors) is retried after a growing pause
//! instead of at once, and a connection's read buffer (8 KiB) exists only while data is there: it
//! is allocated when the socket is readable and handed on as the chunk, so idle connections hold
//! none.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use serde::Deserialize;
use tokio::sync::Semaphore;

use super::{Chunk, Context, SourceError};
use vesselwatch_engine::settings::{HumanDuration, Invalid, invalid};

/// `[[sources]] type = "tcp_listen"`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TcpListenConfig {
    /// Unique name.
    pub name: String,
    /// `address:port` to bind.
    pub listen: String,
    /// Connections open at once (default 256); more wait until one ends.
    #[serde(default = "default_max_connections")]
    pub max_connections: usize,
    /// A connection that sends nothing for this long is closed (default 5m).
    #[serde(default = "super::default_stall")]
    pub idle_timeout: HumanDuration,
}

fn default_max_connections() -> usize {
    256
}

impl TcpListenConfig {
    pub(super) fn validate(&self, key: &str) -> Result<(), Invalid> {
        super::host_port(key, "listen", &self.listen)?;
        if !(1..=65_536).contains(&self.max_connections) {
            return Err(invalid(
                format!("{key}.max_connections"),
                self.max_connections,
                "must be between 1 and 65536",
            ));
        }
        if self.idle_timeout.0.is_zero() {
            return Err(invalid(
                format!("{key}.idle_timeout"),
                "0s",
                "must be longer than zero",
            ));
        }
        Ok(())
    }
}

/// Bytes read per call on one connection.
const READ: usize = 8 * 1024;

/// Runs until shutdown.
pub async fn run(config: TcpListenConfig, mut ctx: Context) -> Result<(), SourceError> {
    let TcpListenConfig {
        name,
        listen,
        max_connections,
        idle_timeout,
    } = config;
    let listener = tokio::net::TcpListener::bind(&listen)
        .await
        .map_err(SourceError::bind(&listen))?;
    ctx.set_up(true);
    let slots = Arc::new(Semaphore::new(max_connections));
    let mut pause = Duration::from_millis(100);
    let mut full_said: Option<std::time::Instant> = None;
    loop {
        let permit = match Arc::clone(&slots).try_acquire_owned() {
            Ok(p) => p,
            Err(_) => {
                // At the cap: counted, and said at most once a minute.
                ctx.stats.full.fetch_add(1, Ordering::Relaxed);
                if full_said
                    .is_none_or(|t: std::time::Instant| t.elapsed() >= Duration::from_secs(60))
                {
                    full_said = Some(std::time::Instant::now());
                    tracing::warn!(source = %name, max_connections, idle_timeout = ?idle_timeout.0,
                        "At max_connections: new receivers wait until a connection ends or falls idle.");
                }
                tokio::select! {
                    p = Arc::clone(&slots).acquire_owned() => p.expect("the semaphore is never closed"),
                    _ = ctx.shutdown.recv() => return Ok(()),
                }
            }
        };
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = ctx.shutdown.recv() => return Ok(()),
        };
        let (stream, peer) = match accepted {
            Ok(a) => {
                pause = Duration::from_millis(100);
                a
            }
            Err(e) => {
                // Out of descriptors (EMFILE) or memory: retrying at once would spin a core.
                let n = ctx.stats.rejected.fetch_add(1, Ordering::Relaxed) + 1;
                if n.is_power_of_two() {
                    tracing::warn!(source = %name, error = %e, failed = n, pause = ?pause, "Accepting a connection failed; pausing.");
                }
                ctx.wait(pause).await;
                pause = (pause * 2).min(Duration::from_secs(1));
                continue;
            }
        };
        ctx.stats.connects.fetch_add(1, Ordering::Relaxed);
        tracing::info!(source = %name, %peer, "Receiver connected.");
        let feed = ctx.feeds.open(ctx.index);
        let (tx, stats, feeds, mut shutdown, name) = (
            ctx.tx.clone(),
            Arc::clone(&ctx.stats),
            Arc::clone(&ctx.feeds),
            ctx.shutdown.clone(),
            name.clone(),
        );
        tokio::spawn(async move {
            let _permit = permit;
            loop {
                // The buffer is allocated once data is there and travels on as the chunk: an
                // idle connection holds no buffer (1,000 of them at 64 KiB each once stayed
                // resident), and nothing is copied.
                let mut buf = Vec::new();
                let n = tokio::select! {
                    r = tokio::time::timeout(idle_timeout.0, async {
                        stream.readable().await?;
                        buf.reserve_exact(READ);
                        loop {
                            match stream.try_read_buf(&mut buf) {
                                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                                    stream.readable().await?
                                }
                                r => return r,
                            }
                        }
                    }) => r,
                    _ = shutdown.recv() => break,
                };
                match n {
                    Err(_) => {
                        stats.drops.fetch_add(1, Ordering::Relaxed);
                        tracing::info!(source = %name, %peer, idle = ?idle_timeout.0, "Receiver silent too long; closed.");
                        break;
                    }
                    Ok(Ok(0) | Err(_)) => {
                        stats.drops.fetch_add(1, Ordering::Relaxed);
                        tracing::info!(source = %name, %peer, "Receiver disconnected.");
                        break;
                    }
                    Ok(Ok(n)) => {
                        if buf.capacity() > 4 * n {
                            buf.shrink_to_fit();
                        }
                        let chunk = Chunk::Data {
                            feed,
                            bytes: buf,
                            position: stats.received(n),
                        };
                        if tx.send(chunk).await.is_err() {
                            break;
                        }
                    }
                }
            }
            let _ = tx.send(Chunk::Reset(feed)).await;
            feeds.close(feed);
        });
    }
}
