//! `type = "udp"`: binds a port and reads datagrams (the common `10110` of receivers and
//! AIS-catcher's UDP output). A datagram holds whole sentences.

use serde::Deserialize;

use super::{Context, SourceError};

/// `[[sources]] type = "udp"`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UdpConfig {
    /// Unique name.
    pub name: String,
    /// `address:port` to bind.
    pub listen: String,
}

/// Runs until shutdown.
pub async fn run(config: UdpConfig, mut ctx: Context) -> Result<(), SourceError> {
    let UdpConfig { name: _, listen } = config;
    let socket = tokio::net::UdpSocket::bind(&listen)
        .await
        .map_err(SourceError::bind(&listen))?;
    ctx.set_up(true);
    let feed = ctx.feeds.open(ctx.index);
    let mut buf = vec![0u8; 65_536];
    loop {
        let r = tokio::select! {
            r = socket.recv_from(&mut buf) => r,
            _ = ctx.shutdown.recv() => return Ok(()),
        };
        if let Ok((n, _)) = r {
            // A datagram holds whole sentences; end it with a newline if the sender did not.
            let mut d = buf[..n].to_vec();
            if d.last() != Some(&b'\n') {
                d.push(b'\n');
            }
            if !ctx.data(feed, d).await {
                return Ok(());
            }
        }
    }
}
