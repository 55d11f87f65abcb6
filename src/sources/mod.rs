//! Live feed sources, one module per kind: [`tcp`], [`tcp_listen`], [`udp`], [`file`](mod@file), [`stdin`]
//! and [`websocket`] (raw NMEA or the [`aisstream`] JSON feed).
//!
//! Owns the sockets and files of `vesselwatch run`. Each kind has its `[[sources]]` table (a serde
//! struct in its module), checks it in `validate`, and builds its task in `run`; [`SourceConfig`]
//! gathers them under `type = "..."`. Every source sends [`Chunk`]s, tagged with a feed id, into one
//! bounded channel: when the pipeline falls behind, sends wait (TCP then slows the sender through
//! its window; UDP datagrams that arrive meanwhile are dropped by the kernel). A reconnect sends
//! `Reset` so that a line cut by the drop is not joined to the next.
//!
//! **Acknowledgements.** Each data chunk carries the source's [`Position`] after it. The pipeline
//! records the positions it has fully processed in the checkpoints of its next batch, so a
//! checkpoint is committed in the same transaction as everything read before it; once committed,
//! the source is told through its [`Committed`] receiver. A restarted file source resumes from the
//! committed checkpoint ([`Resume`]): nothing appended while the daemon was down is skipped, and
//! nothing already stored is read twice.
//!
//! Sources never decode (beyond aisstream's JSON, which has no NMEA) and never touch the store.

pub mod aisstream;
pub mod file;
pub mod stdin;
pub mod tcp;
pub mod tcp_listen;
pub mod udp;
pub mod websocket;

use std::path::PathBuf;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Deserialize;
use tokio::sync::{mpsc, watch};

use crate::shutdown::Shutdown;
use vesselwatch_engine::settings::{Invalid, invalid};

/// One live feed, by `type`. Each kind's fields are its own struct, documented in its module.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum SourceConfig {
    /// Connects out to a feed server.
    Tcp(tcp::TcpConfig),
    /// Accepts connections from receivers that push.
    TcpListen(tcp_listen::TcpListenConfig),
    /// Receives datagrams.
    Udp(udp::UdpConfig),
    /// Follows a growing file.
    File(file::FileConfig),
    /// Reads standard input.
    Stdin(stdin::StdinConfig),
    /// A WebSocket: NMEA frames or the aisstream.io JSON feed.
    Websocket(websocket::WebsocketConfig),
}

impl SourceConfig {
    /// The source's name: in every log line, metric and checkpoint of the source.
    pub fn name(&self) -> &str {
        match self {
            SourceConfig::Tcp(c) => &c.name,
            SourceConfig::TcpListen(c) => &c.name,
            SourceConfig::Udp(c) => &c.name,
            SourceConfig::File(c) => &c.name,
            SourceConfig::Stdin(c) => &c.name,
            SourceConfig::Websocket(c) => &c.name,
        }
    }

    /// Checks the kind's own fields; `key` is `sources[i]`, for messages that name the key.
    pub fn validate(&self, key: &str) -> Result<(), Invalid> {
        match self {
            SourceConfig::Tcp(c) => host_port(key, "address", &c.address),
            SourceConfig::TcpListen(c) => c.validate(key),
            SourceConfig::Udp(c) => host_port(key, "listen", &c.listen),
            SourceConfig::File(c) => c.validate(key),
            SourceConfig::Stdin(_) => Ok(()),
            SourceConfig::Websocket(c) => c.validate(key),
        }
    }

    /// Runs the source until shutdown (or, for stdin, the end of input). `Err` when it cannot
    /// work at all (its port cannot be bound, its key cannot be read): the daemon then stops with
    /// that reason rather than run on without the feed. A feed that drops is not an error: the
    /// source reconnects, and counts it.
    pub async fn run(self, ctx: Context) -> Result<(), SourceError> {
        match self {
            SourceConfig::Tcp(c) => tcp::run(c, ctx).await,
            SourceConfig::TcpListen(c) => return tcp_listen::run(c, ctx).await,
            SourceConfig::Udp(c) => return udp::run(c, ctx).await,
            SourceConfig::File(c) => file::run(c, ctx).await,
            SourceConfig::Stdin(_) => stdin::run(ctx).await,
            SourceConfig::Websocket(c) => return websocket::run(c, ctx).await,
        }
        Ok(())
    }
}

/// Why a source cannot work at all.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// Its address cannot be bound (in use, not permitted, not an address of this host).
    #[error("cannot bind {addr}")]
    Bind {
        /// The address.
        addr: String,
        /// Why.
        source: std::io::Error,
    },
    /// The aisstream API key cannot be read from where the configuration says.
    #[error("the aisstream API key cannot be read ({0})")]
    NoKey(String),
}

impl SourceError {
    /// The error for a failed bind of `addr`, for `map_err`.
    fn bind(addr: &str) -> impl FnOnce(std::io::Error) -> Self + '_ {
        move |source| SourceError::Bind {
            addr: addr.to_string(),
            source,
        }
    }
}

/// Checks the whole `[[sources]]` list: unique names, then each kind's fields.
pub fn validate_all(sources: &[SourceConfig]) -> Result<(), Invalid> {
    let mut names = std::collections::HashSet::new();
    for (i, src) in sources.iter().enumerate() {
        let key = format!("sources[{i}]");
        if src.name().trim().is_empty() || !names.insert(src.name()) {
            return Err(invalid(
                format!("{key}.name"),
                format!("{:?}", src.name()),
                "must be non-empty and unique among sources",
            ));
        }
        src.validate(&key)?;
    }
    Ok(())
}

fn host_port(key: &str, field: &str, value: &str) -> Result<(), Invalid> {
    if value
        .rsplit_once(':')
        .is_none_or(|(_, p)| p.parse::<u16>().is_err())
    {
        return Err(invalid(
            format!("{key}.{field}"),
            format!("{value:?}"),
            "must be host:port",
        ));
    }
    Ok(())
}

/// Reconnect when nothing arrived for this long, unless the source says otherwise.
pub(crate) fn default_stall() -> vesselwatch_engine::settings::HumanDuration {
    vesselwatch_engine::settings::HumanDuration(Duration::from_secs(300))
}

/// Where a source is in its input: what a checkpoint records and an acknowledgement reports.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Position {
    /// Bytes: the offset in a file, or the bytes received so far on a stream.
    pub offset: u64,
    /// Which file the offset is in (device and inode), so that a checkpoint of a file since
    /// rotated away is not applied to its successor. `None` for streams.
    pub file_id: Option<String>,
}

/// What a source finds committed when it starts: its last checkpoint.
pub type Resume = Option<Position>;

/// The committed position of a source, as the store last confirmed it.
pub type Committed = watch::Receiver<Option<Position>>;

/// What sources send to the pipeline.
#[derive(Debug)]
pub enum Chunk {
    /// Bytes from a feed, and the source's position after them.
    Data {
        /// The feed (connection) they came on.
        feed: u32,
        /// Whole lines where the source can tell (files), else what one read returned.
        bytes: Vec<u8>,
        /// The source's position after these bytes.
        position: Position,
    },
    /// The feed's connection ended: forget its partial line.
    Reset(u32),
    /// An already decoded message (aisstream JSON), and the source's position after it.
    Message(Box<vesselwatch_ais::frontend::Decoded>, Position),
    /// Not from a source: time passed (the pipeline's tick, so that silence is noticed).
    Tick,
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
    /// Messages received but unusable (aisstream JSON malformed or out of range), and connections
    /// a listener failed to accept (out of descriptors).
    pub rejected: AtomicU64,
    /// Wall-clock ms of the last data, 0 before any.
    pub last_data_ms: AtomicI64,
    /// 1 while connected (or bound, or open).
    pub up: AtomicU64,
    /// Times a listener reached its `max_connections`: the next connections then wait in the
    /// kernel's backlog until one ends (a sign of too low a cap, or of idle clients holding it).
    pub full: AtomicU64,
}

impl SourceStats {
    /// Counts `n` bytes received now; the stream position after them (bytes so far).
    pub fn received(&self, n: usize) -> Position {
        let total = self.bytes.fetch_add(n as u64, Ordering::Relaxed) + n as u64;
        self.last_data_ms
            .store(crate::clock::now().0, Ordering::Relaxed);
        Position {
            offset: total,
            file_id: None,
        }
    }
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

/// Everything a source task needs, built by the daemon.
pub struct Context {
    /// Index of the source in the config.
    pub index: usize,
    /// The source's name, for log lines.
    pub name: String,
    /// Where chunks go.
    pub tx: mpsc::Sender<Chunk>,
    /// Counters.
    pub stats: Arc<SourceStats>,
    /// Feed ids.
    pub feeds: Arc<Feeds>,
    /// Tells the task to stop; held until it has.
    pub shutdown: Shutdown,
    /// The config file's folder, for relative paths (an API key file).
    pub config_dir: PathBuf,
    /// The checkpoint committed by an earlier run, if any.
    pub resume: Resume,
    /// What the store has committed of this source, updated after each commit.
    pub committed: Committed,
}

impl Context {
    /// Counts `n` bytes received; the source's stream position after them.
    fn count(&self, n: usize) -> Position {
        self.stats.received(n)
    }

    /// Counts `bytes` and sends them; false when the pipeline has gone (shutdown).
    async fn data(&self, feed: u32, bytes: Vec<u8>) -> bool {
        let position = self.count(bytes.len());
        self.send(Chunk::Data {
            feed,
            bytes,
            position,
        })
        .await
    }

    /// Sends a chunk; false when the pipeline has gone.
    async fn send(&self, chunk: Chunk) -> bool {
        self.tx.send(chunk).await.is_ok()
    }

    fn stopping(&self) -> bool {
        self.shutdown.is_shutdown()
    }

    /// Sleeps for `d`, or less if shutdown begins.
    async fn wait(&mut self, d: Duration) {
        tokio::select! {
            _ = tokio::time::sleep(d) => {}
            _ = self.shutdown.recv() => {}
        }
    }

    fn set_up(&self, up: bool) {
        self.stats.up.store(u64::from(up), Ordering::Relaxed);
    }
}

/// Reconnection delays: 0.5 s doubling to 60 s, jittered, endless (a feed is worth waiting for).
/// Built afresh after each successful connection.
pub(crate) fn reconnect_delays() -> impl Iterator<Item = Duration> {
    crate::backoff::delays(Duration::from_millis(500), Duration::from_secs(60))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_must_be_unique_and_addresses_host_port() {
        let parse = |t: &str| -> Vec<SourceConfig> {
            #[derive(Deserialize)]
            struct S {
                sources: Vec<SourceConfig>,
            }
            toml::from_str::<S>(t).unwrap().sources
        };
        let dup = parse(
            "[[sources]]\ntype = \"udp\"\nname = \"a\"\nlisten = \"0.0.0.0:1\"\n[[sources]]\ntype = \"stdin\"\nname = \"a\"\n",
        );
        assert_eq!(
            validate_all(&dup).unwrap_err().to_string(),
            "`sources[1].name` = \"a\": must be non-empty and unique among sources"
        );
        let port = parse("[[sources]]\ntype = \"tcp\"\nname = \"a\"\naddress = \"host\"\n");
        assert_eq!(
            validate_all(&port).unwrap_err().to_string(),
            "`sources[0].address` = \"host\": must be host:port"
        );
        let unknown: Result<toml::Value, _> = toml::from_str("x = 1");
        assert!(unknown.is_ok());
        let e = toml::from_str::<S2>(
            "[[sources]]\ntype = \"udp\"\nname = \"a\"\nlisten = \"0.0.0.0:1\"\nbogus = 1\n",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("unknown field `bogus`"), "{e}");
        #[derive(Deserialize, Debug)]
        struct S2 {
            #[allow(dead_code)]
            sources: Vec<SourceConfig>,
        }
    }
}
