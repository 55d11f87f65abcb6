//! `type = "stdin"`: reads standard input until it ends (a recording piped in, `nc` from a
//! receiver).

use serde::Deserialize;
use tokio::io::AsyncReadExt;

use super::Context;

/// `[[sources]] type = "stdin"`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StdinConfig {
    /// Unique name.
    pub name: String,
}

/// Runs until shutdown or the end of input.
pub async fn run(mut ctx: Context) {
    let feed = ctx.feeds.open(ctx.index);
    let mut stdin = tokio::io::stdin();
    let mut buf = vec![0u8; 64 * 1024];
    ctx.set_up(true);
    loop {
        let r = tokio::select! {
            r = stdin.read(&mut buf) => r,
            _ = ctx.shutdown.recv() => return,
        };
        match r {
            Ok(0) | Err(_) => {
                tracing::info!(source = %ctx.name, "Standard input ended.");
                ctx.set_up(false);
                return;
            }
            Ok(n) => {
                if !ctx.data(feed, buf[..n].to_vec()).await {
                    return;
                }
            }
        }
    }
}
