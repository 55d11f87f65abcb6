//! `type = "tcp_listen"`: accepts connections from receivers that push their feed, each read as a
//! feed of its own (its own partial line and fragments).

use std::sync::Arc;
use std::sync::atomic::Ordering;

use serde::Deserialize;
use tokio::io::AsyncReadExt;

use super::{Chunk, Context, SourceError};

/// `[[sources]] type = "tcp_listen"`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TcpListenConfig {
    /// Unique name.
    pub name: String,
    /// `address:port` to bind.
    pub listen: String,
}

/// Runs until shutdown.
pub async fn run(config: TcpListenConfig, mut ctx: Context) -> Result<(), SourceError> {
    let TcpListenConfig { name, listen } = config;
    let listener = tokio::net::TcpListener::bind(&listen)
        .await
        .map_err(|source| SourceError::Bind {
            addr: listen.clone(),
            source,
        })?;
    ctx.set_up(true);
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = ctx.shutdown.recv() => return Ok(()),
        };
        let Ok((mut stream, peer)) = accepted else {
            continue;
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
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                let n = tokio::select! {
                    r = stream.read(&mut buf) => r,
                    _ = shutdown.recv() => break,
                };
                match n {
                    Ok(0) | Err(_) => {
                        stats.drops.fetch_add(1, Ordering::Relaxed);
                        tracing::info!(source = %name, %peer, "Receiver disconnected.");
                        break;
                    }
                    Ok(n) => {
                        let chunk = Chunk::Data {
                            feed,
                            bytes: buf[..n].to_vec(),
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
