//! Live feed sources: TCP client, TCP listener, UDP, a followed file and standard input.
//!
//! Owns the sockets and files of `vesselwatch run`. Each source sends raw chunks, tagged with a feed
//! id, into one bounded channel: when the pipeline falls behind, sends wait (TCP then slows the
//! sender through its window; UDP datagrams that arrive meanwhile are dropped by the kernel and
//! counted there). A reconnect sends `Reset` so that a line cut by the drop is not joined to the next.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand::RngExt;
use tokio::io::{AsyncReadExt, AsyncSeekExt};
use tokio::sync::{mpsc, watch};

use crate::config::SourceConfig;

/// What sources send to the pipeline.
#[derive(Debug)]
pub enum Chunk {
    /// Bytes from a feed.
    Data(u32, Vec<u8>),
    /// The feed's connection ended: forget its partial line.
    Reset(u32),
    /// An already decoded message (aisstream JSON).
    Message(Box<vesselwatch_ais::frontend::Decoded>),
    /// Not from a source: a new, validated configuration to switch to (SIGHUP).
    Reload(Box<crate::config::Loaded>),
}

/// Per-source counters, read by the metrics endpoint.
#[derive(Debug, Default)]
pub struct SourceStats {
    /// Bytes received.
    pub bytes: AtomicU64,
    /// Connections made (or files opened).
    pub connects: AtomicU64,
    /// Disconnects, stalls and read errors.
    pub drops: AtomicU64,
    /// Wall-clock ms of the last data, 0 before any.
    pub last_data_ms: AtomicI64,
    /// 1 while connected (or bound, or open).
    pub up: AtomicU64,
}

/// Feed ids: which source each belongs to, with ids of closed connections reused so that the
/// front end's per-feed line buffers stay bounded.
#[derive(Debug, Default)]
pub struct Feeds {
    owner: Mutex<Vec<Option<usize>>>,
}

impl Feeds {
    /// A new feed id for source `source`.
    pub fn open(&self, source: usize) -> u32 {
        let mut o = self.owner.lock().expect("not poisoned");
        match o.iter().position(Option::is_none) {
            Some(i) => {
                o[i] = Some(source);
                i as u32
            }
            None => {
                o.push(Some(source));
                (o.len() - 1) as u32
            }
        }
    }

    /// Frees a feed id.
    pub fn close(&self, feed: u32) {
        if let Some(slot) = self
            .owner
            .lock()
            .expect("not poisoned")
            .get_mut(feed as usize)
        {
            *slot = None;
        }
    }

    /// The source a feed belongs to.
    pub fn source_of(&self, feed: u32) -> Option<usize> {
        self.owner
            .lock()
            .expect("not poisoned")
            .get(feed as usize)
            .copied()
            .flatten()
    }
}

fn now_ms() -> i64 {
    crate::clock::now().0
}

/// Everything a source task needs.
pub struct Ctx {
    /// Index of the source in the config.
    pub index: usize,
    /// The config.
    pub config: SourceConfig,
    /// Where chunks go.
    pub tx: mpsc::Sender<Chunk>,
    /// Counters.
    pub stats: Arc<SourceStats>,
    /// Feed ids.
    pub feeds: Arc<Feeds>,
    /// Becomes true at shutdown.
    pub shutdown: watch::Receiver<bool>,
    /// The config file's folder, for relative paths (an API key file).
    pub config_dir: std::path::PathBuf,
}

impl Ctx {
    async fn data(&self, feed: u32, bytes: &[u8]) -> bool {
        self.stats
            .bytes
            .fetch_add(bytes.len() as u64, Ordering::Relaxed);
        self.stats.last_data_ms.store(now_ms(), Ordering::Relaxed);
        self.tx
            .send(Chunk::Data(feed, bytes.to_vec()))
            .await
            .is_ok()
    }

    fn stopping(&self) -> bool {
        *self.shutdown.borrow()
    }
}

/// Exponential backoff with jitter: 0.5 s doubling to 60 s, ±25%.
fn backoff(attempt: u32) -> Duration {
    let base = Duration::from_millis(500)
        .saturating_mul(1 << attempt.min(7))
        .min(Duration::from_secs(60));
    base.mul_f64(rand::rng().random_range(0.75..1.25))
}

/// Runs one source until shutdown (or, for stdin, end of input).
pub async fn run(mut ctx: Ctx) {
    let name = ctx.config.name().to_string();
    match ctx.config.clone() {
        SourceConfig::Tcp {
            address,
            stall_timeout,
            ..
        } => {
            let feed = ctx.feeds.open(ctx.index);
            let mut attempt = 0;
            let mut buf = vec![0u8; 64 * 1024];
            while !ctx.stopping() {
                let conn = tokio::time::timeout(
                    Duration::from_secs(10),
                    tokio::net::TcpStream::connect(&address),
                )
                .await;
                let mut stream = match conn {
                    Ok(Ok(s)) => s,
                    Ok(Err(e)) => {
                        tracing::warn!(source = %name, %address, error = %e, "Feed connection failed; retrying.");
                        wait(&mut ctx, backoff(attempt)).await;
                        attempt += 1;
                        continue;
                    }
                    Err(_) => {
                        tracing::warn!(source = %name, %address, "Feed connection timed out; retrying.");
                        wait(&mut ctx, backoff(attempt)).await;
                        attempt += 1;
                        continue;
                    }
                };
                tracing::info!(source = %name, %address, "Feed connected.");
                ctx.stats.connects.fetch_add(1, Ordering::Relaxed);
                ctx.stats.up.store(1, Ordering::Relaxed);
                attempt = 0;
                loop {
                    let read = tokio::select! {
                        r = tokio::time::timeout(stall_timeout.0, stream.read(&mut buf)) => r,
                        _ = ctx.shutdown.changed() => break,
                    };
                    match read {
                        Ok(Ok(0)) => {
                            tracing::warn!(source = %name, "Feed closed by the peer; reconnecting.");
                            break;
                        }
                        Ok(Ok(n)) => {
                            if !ctx.data(feed, &buf[..n]).await {
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
                ctx.stats.up.store(0, Ordering::Relaxed);
                if !ctx.stopping() {
                    ctx.stats.drops.fetch_add(1, Ordering::Relaxed);
                }
                let _ = ctx.tx.send(Chunk::Reset(feed)).await;
                if !ctx.stopping() {
                    wait(&mut ctx, backoff(0)).await;
                }
            }
        }
        SourceConfig::TcpListen { listen, .. } => {
            let listener = match tokio::net::TcpListener::bind(&listen).await {
                Ok(l) => l,
                Err(e) => {
                    tracing::error!(source = %name, %listen, error = %e, "Cannot listen; this source is off.");
                    return;
                }
            };
            ctx.stats.up.store(1, Ordering::Relaxed);
            loop {
                let accepted = tokio::select! {
                    a = listener.accept() => a,
                    _ = ctx.shutdown.changed() => return,
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
                            _ = shutdown.changed() => break,
                        };
                        match n {
                            Ok(0) | Err(_) => {
                                stats.drops.fetch_add(1, Ordering::Relaxed);
                                tracing::info!(source = %name, %peer, "Receiver disconnected.");
                                break;
                            }
                            Ok(n) => {
                                stats.bytes.fetch_add(n as u64, Ordering::Relaxed);
                                stats.last_data_ms.store(now_ms(), Ordering::Relaxed);
                                if tx.send(Chunk::Data(feed, buf[..n].to_vec())).await.is_err() {
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
        SourceConfig::Udp { listen, .. } => {
            let socket = match tokio::net::UdpSocket::bind(&listen).await {
                Ok(s) => s,
                Err(e) => {
                    tracing::error!(source = %name, %listen, error = %e, "Cannot bind; this source is off.");
                    return;
                }
            };
            ctx.stats.up.store(1, Ordering::Relaxed);
            let feed = ctx.feeds.open(ctx.index);
            let mut buf = vec![0u8; 65_536];
            loop {
                let r = tokio::select! {
                    r = socket.recv_from(&mut buf) => r,
                    _ = ctx.shutdown.changed() => return,
                };
                if let Ok((n, _)) = r {
                    // A datagram holds whole sentences; end it with a newline if the sender did not.
                    let mut d = buf[..n].to_vec();
                    if d.last() != Some(&b'\n') {
                        d.push(b'\n');
                    }
                    if !ctx.data(feed, &d).await {
                        return;
                    }
                }
            }
        }
        SourceConfig::File {
            path, from_start, ..
        } => {
            let feed = ctx.feeds.open(ctx.index);
            let mut buf = vec![0u8; 64 * 1024];
            while !ctx.stopping() {
                let mut file = match tokio::fs::File::open(&path).await {
                    Ok(f) => f,
                    Err(e) => {
                        tracing::warn!(source = %name, path = %path.display(), error = %e, "Cannot open the followed file; retrying.");
                        wait(&mut ctx, Duration::from_secs(2)).await;
                        continue;
                    }
                };
                let mut pos = if from_start {
                    0
                } else {
                    file.seek(std::io::SeekFrom::End(0)).await.unwrap_or(0)
                };
                ctx.stats.connects.fetch_add(1, Ordering::Relaxed);
                ctx.stats.up.store(1, Ordering::Relaxed);
                loop {
                    if ctx.stopping() {
                        return;
                    }
                    match file.read(&mut buf).await {
                        Ok(0) => {
                            // At the end: wait for growth; start again if the file was truncated or replaced.
                            let len = tokio::fs::metadata(&path)
                                .await
                                .map(|m| m.len())
                                .unwrap_or(0);
                            if len < pos {
                                tracing::info!(source = %name, "Followed file was truncated or replaced; reading it again.");
                                let _ = ctx.tx.send(Chunk::Reset(feed)).await;
                                break;
                            }
                            wait(&mut ctx, Duration::from_millis(200)).await;
                        }
                        Ok(n) => {
                            pos += n as u64;
                            if !ctx.data(feed, &buf[..n]).await {
                                return;
                            }
                        }
                        Err(e) => {
                            tracing::warn!(source = %name, error = %e, "Reading the followed file failed; reopening.");
                            break;
                        }
                    }
                }
            }
        }
        SourceConfig::Websocket {
            url,
            mode,
            api_key_env,
            api_key_file,
            bounding_boxes,
            mmsi,
            stall_timeout,
            ..
        } => {
            use futures_util::{SinkExt, StreamExt};
            use tokio_tungstenite::tungstenite::Message;
            let key = match (&api_key_env, &api_key_file) {
                (Some(var), _) => std::env::var(var).ok(),
                (_, Some(f)) => std::fs::read_to_string(ctx.config_dir.join(f))
                    .ok()
                    .map(|k| k.trim().to_string()),
                _ => None,
            };
            let aisstream = mode == crate::config::WebsocketMode::Aisstream;
            if aisstream && key.is_none() {
                tracing::error!(source = %name, "No aisstream API key (api_key_env or api_key_file); this source is off.");
                return;
            }
            let feed = ctx.feeds.open(ctx.index);
            let mut attempt = 0;
            while !ctx.stopping() {
                let (mut ws, _) = match tokio_tungstenite::connect_async(url.as_str()).await {
                    Ok(c) => c,
                    Err(e) => {
                        // The URL may carry a token: log the host only.
                        tracing::warn!(source = %name, error = %e, "WebSocket connection failed; retrying.");
                        wait(&mut ctx, backoff(attempt)).await;
                        attempt += 1;
                        continue;
                    }
                };
                if let (true, Some(k)) = (aisstream, &key)
                    && ws
                        .send(Message::text(super::aisstream::subscription(
                            k,
                            &bounding_boxes,
                            &mmsi,
                        )))
                        .await
                        .is_err()
                {
                    wait(&mut ctx, backoff(attempt)).await;
                    attempt += 1;
                    continue;
                }
                tracing::info!(source = %name, "WebSocket connected.");
                ctx.stats.connects.fetch_add(1, Ordering::Relaxed);
                ctx.stats.up.store(1, Ordering::Relaxed);
                attempt = 0;
                loop {
                    let next = tokio::select! {
                        m = tokio::time::timeout(stall_timeout.0, ws.next()) => m,
                        _ = ctx.shutdown.changed() => break,
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
                    let bytes: Vec<u8> = match frame {
                        Message::Text(t) => t.as_bytes().to_vec(),
                        Message::Binary(b) => b.to_vec(),
                        _ => continue,
                    };
                    ctx.stats
                        .bytes
                        .fetch_add(bytes.len() as u64, Ordering::Relaxed);
                    ctx.stats.last_data_ms.store(now_ms(), Ordering::Relaxed);
                    let sent = if aisstream {
                        match super::aisstream::decode(&String::from_utf8_lossy(&bytes), feed) {
                            Some(d) => ctx.tx.send(Chunk::Message(Box::new(d))).await.is_ok(),
                            None => true,
                        }
                    } else {
                        let mut b = bytes;
                        if b.last() != Some(&b'\n') {
                            b.push(b'\n');
                        }
                        ctx.tx.send(Chunk::Data(feed, b)).await.is_ok()
                    };
                    if !sent {
                        return;
                    }
                }
                ctx.stats.up.store(0, Ordering::Relaxed);
                if !ctx.stopping() {
                    ctx.stats.drops.fetch_add(1, Ordering::Relaxed);
                    let _ = ctx.tx.send(Chunk::Reset(feed)).await;
                    wait(&mut ctx, backoff(0)).await;
                }
            }
        }
        SourceConfig::Stdin { .. } => {
            let feed = ctx.feeds.open(ctx.index);
            let mut stdin = tokio::io::stdin();
            let mut buf = vec![0u8; 64 * 1024];
            ctx.stats.up.store(1, Ordering::Relaxed);
            loop {
                let r = tokio::select! {
                    r = stdin.read(&mut buf) => r,
                    _ = ctx.shutdown.changed() => return,
                };
                match r {
                    Ok(0) | Err(_) => {
                        tracing::info!(source = %name, "Standard input ended.");
                        ctx.stats.up.store(0, Ordering::Relaxed);
                        return;
                    }
                    Ok(n) => {
                        if !ctx.data(feed, &buf[..n]).await {
                            return;
                        }
                    }
                }
            }
        }
    }
}

async fn wait(ctx: &mut Ctx, d: Duration) {
    tokio::select! {
        _ = tokio::time::sleep(d) => {}
        _ = ctx.shutdown.changed() => {}
    }
}
