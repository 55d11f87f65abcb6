//! The pipeline: chunks from the sources through the front end, the feed clocks and the movement
//! engine, into batches for the store, with acknowledgements back to the sources.
//!
//! Owns the front end and the engine. It runs on one blocking thread, so neither needs a lock, and
//! the store writer's back pressure (a full queue) stops it, and through the bounded channel the
//! sources, instead of growing memory. Live, the engine's clock is the wall clock; while a feed
//! lags (a backlog, a recording piped in) it is the feed's time. It never does I/O itself beyond
//! handing batches to the writer.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, watch};

use super::{Shared, Snapshot};
use crate::alerts;
use crate::config::WebhookConfig;
use crate::shutdown::Shutdown;
use crate::sources::{Chunk, Feeds, Position};
use crate::store::{Ack, Batch, Checkpoint, Writer, WriterStopped};
use vesselwatch_ais::frontend::{Decoded, FrontEnd};
use vesselwatch_ais::time::UnixMillis;
use vesselwatch_engine::Engine;
use vesselwatch_engine::event::Event;
use vesselwatch_engine::feedclock::{ClockSettings, FeedClocks, Mode, Now};

/// A feed whose latest message time is within this of the wall clock is live.
const LIVE_LAG: Duration = Duration::from_secs(600);
/// The store gets a batch at least this often.
const FLUSH_EVERY: Duration = Duration::from_secs(1);
/// How often time passes for the pipeline when no data arrives (dark vessels, held messages).
const TICK: Duration = Duration::from_millis(200);

/// Sends [`Chunk::Tick`] until shutdown: the pipeline's notion of time passing while the feeds
/// are quiet. A tick that finds the channel full is skipped: the pipeline is busy and turns anyway.
pub async fn tick(tx: mpsc::Sender<Chunk>, mut shutdown: Shutdown) {
    let mut every = tokio::time::interval(TICK);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        tokio::select! {
            _ = every.tick() => {}
            _ = shutdown.recv() => return,
        }
        if let Err(mpsc::error::TrySendError::Closed(_)) = tx.try_send(Chunk::Tick) {
            return;
        }
    }
}

/// Everything the pipeline owns.
pub struct Pipeline {
    /// The movement engine, restored from the store.
    pub engine: Engine,
    /// Webhooks, for routing alerts (replaced on reload).
    pub hooks: Vec<WebhookConfig>,
    /// Published state.
    pub shared: Arc<Shared>,
    /// The store's writer.
    pub writer: Arc<Writer>,
    /// Which source each feed belongs to.
    pub feeds: Arc<Feeds>,
    /// Per source: where to acknowledge what was committed.
    pub committed: Vec<watch::Sender<Option<Position>>>,
    /// New configurations from SIGHUP, validated and compiled.
    pub reloads: mpsc::Receiver<Box<crate::config::Loaded>>,
    /// Wakes the delivery worker after alerts were committed.
    pub wake: Box<dyn Fn() + Send>,
}

/// Gives `batch` to the writer, waiting for its commit when `commit` is set. Waiting on the store
/// is being alive: the flag lets the watchdog go on and `/readyz` say the store is stalled.
fn hand_over(
    shared: &Shared,
    writer: &Writer,
    batch: Batch,
    commit: bool,
) -> Result<(), WriterStopped> {
    shared.waiting_on_store.store(true, Ordering::Relaxed);
    let sent = if commit {
        writer.send_and_wait(batch)
    } else {
        writer.send(batch)
    };
    shared.waiting_on_store.store(false, Ordering::Relaxed);
    sent
}

impl Pipeline {
    /// Runs until every sender of `rx` is gone, then commits what is left. `Err` when the store's
    /// writer stops: nothing read after that could be stored, so the pipeline stops too (the
    /// daemon then exits non-zero with the writer's reason) instead of dropping what it reads.
    pub fn run(mut self, mut rx: mpsc::Receiver<Chunk>) -> Result<(), WriterStopped> {
        let mut fe = FrontEnd::default();
        let mut clocks = FeedClocks::new(ClockSettings::new(Mode::Live));
        let live = |wall: UnixMillis| Now {
            arrival: Some(wall),
            latest: None,
        };
        let engine = &mut self.engine;
        let mut events: Vec<Event> = Vec::new();
        let mut unsaved: Vec<Event> = Vec::new();
        let sources = self.shared.source_names.len();
        let mut by_source: Vec<u64> = vec![0; sources];
        // Per source: the position after the last chunk processed, and whether it has changed
        // since the last batch.
        let mut read: Vec<Option<Position>> = vec![None; sources];
        let mut moved = vec![false; sources];
        // Per source: the feed its last chunk came on (a file has one; a listener the latest).
        let mut last_feed: Vec<Option<u32>> = vec![None; sources];
        let mut last_flush = Instant::now();
        let mut cap_logged: (u64, Option<Instant>) = (0, None);
        loop {
            let msg = rx.blocking_recv();
            let closed = msg.is_none();
            let wall = crate::clock::now();
            let reload = self.reloads.try_recv().ok();
            let mut on_message = |d: Decoded, t: UnixMillis| engine.on_message(&d, t, &mut events);
            match msg {
                Some(Chunk::Data {
                    feed,
                    bytes,
                    position,
                }) => {
                    let source = self.feeds.source_of(feed);
                    fe.push_bytes(feed, &bytes, |d| {
                        if let Some(s) = source {
                            by_source[s] += 1;
                        }
                        clocks.push(d, live(wall), &mut on_message);
                    });
                    if let Some(s) = source {
                        read[s] = Some(position);
                        moved[s] = true;
                        last_feed[s] = Some(feed);
                    }
                }
                Some(Chunk::Message(d, position)) => {
                    if let Some(s) = self.feeds.source_of(d.meta.feed) {
                        by_source[s] += 1;
                        read[s] = Some(position);
                        moved[s] = true;
                        last_feed[s] = Some(d.meta.feed);
                    }
                    clocks.push(*d, live(wall), &mut on_message);
                }
                Some(Chunk::Reset(feed)) => {
                    fe.reset_feed(feed);
                    clocks.finish_feed(feed, &mut on_message);
                }
                // Validated and compiled when it was loaded: the engine cannot refuse it.
                Some(Chunk::Tick) => {}
                None => clocks.finish(&mut on_message),
            }
            // New feeds that waited long enough for a clock of their own take the arrival time.
            clocks.release_due(live(wall), &mut on_message);
            if let Some(new) = &reload {
                engine.reconfigure(new.engine());
                self.hooks = new.config.webhooks.clone();
            }
            let reloaded_fences = reload.map(|new| new.fence_records());
            // Live, the engine's clock is the wall clock, so that silence becomes `dark` on
            // time. But while the feed itself lags (a backlog, a delayed satellite feed, a
            // recording piped in), the clock follows the feed's time instead: a vessel is not
            // dark because its reports have not been read yet.
            if let Some(feed) = engine.feed_time() {
                let clock = if wall.0 - feed.0 <= LIVE_LAG.as_millis() as i64 {
                    wall
                } else {
                    feed
                };
                engine.tick(clock, &mut events);
            }
            // Each event is a log line, so that `journalctl -u vesselwatch` tells the story.
            for e in &events {
                let who = e.label.as_deref().or(e.name.as_deref()).unwrap_or("");
                tracing::info!(kind = e.kind.as_str(), mmsi = e.mmsi, vessel = who, fence = %e.fence,
                    time = %e.time, inferred = e.inferred,
                    "{}: {who} ({}) at {}, {}", e.kind.as_str(), e.mmsi, e.fence, e.time);
            }
            unsaved.append(&mut events);
            let urgent = !unsaved.is_empty() || reloaded_fences.is_some();
            if urgent || last_flush.elapsed() >= FLUSH_EVERY || closed {
                let alerts = alerts::route(&self.hooks, &unsaved);
                // A checkpoint claims everything read before it is in this batch's state, which
                // is untrue while the source's feed still holds the first fragments of a message
                // or messages waiting for a clock: then the checkpoint waits for a later batch.
                let mut checkpoints = Vec::new();
                let mut acks = Vec::new();
                for s in 0..sources {
                    let settled = last_feed[s]
                        .is_none_or(|f| fe.pending_fragments_of(f) == 0 && clocks.held_of(f) == 0);
                    if !moved[s] {
                        continue;
                    }
                    if !settled {
                        tracing::trace!(
                            source = s,
                            "Checkpoint deferred: the feed holds fragments or messages waiting for a clock."
                        );
                        continue;
                    }
                    let Some(at) = read[s].clone() else { continue };
                    moved[s] = false;
                    tracing::trace!(
                        source = s,
                        offset = at.offset,
                        "Checkpoint in the next batch."
                    );
                    checkpoints.push(Checkpoint {
                        feed: self.shared.source_names[s].clone(),
                        position: at.offset,
                        file_id: at.file_id.clone(),
                        message_time: engine.clock(),
                    });
                    let tell = self.committed[s].clone();
                    acks.push(Ack::new(move || {
                        tell.send_replace(Some(at));
                    }));
                }
                let mut batch =
                    Batch::decided(engine, std::mem::take(&mut unsaved), alerts, checkpoints);
                batch.acks = acks;
                batch.fences = reloaded_fences;
                if urgent || closed {
                    // Events (and their alerts) are committed at once, then sent.
                    hand_over(&self.shared, &self.writer, batch, true)?;
                    (self.wake)();
                } else {
                    hand_over(&self.shared, &self.writer, batch, false)?;
                }
                last_flush = Instant::now();
                let stats = engine.stats();
                // The cap on vessels in memory is a limit reached: said, at most once a minute
                // (the counter has every one).
                if stats.forgotten_cap > cap_logged.0
                    && cap_logged
                        .1
                        .is_none_or(|t: Instant| t.elapsed() >= Duration::from_secs(60))
                {
                    tracing::warn!(
                        forgotten = stats.forgotten_cap,
                        tracked = engine.tracker().len(),
                        max = engine.settings().max_vessels,
                        "Vessels in memory at [monitor] max_vessels: the longest-silent are forgotten early (their state stays in the store)."
                    );
                    cap_logged = (stats.forgotten_cap, Some(Instant::now()));
                }
                *self.shared.snapshot.lock().expect("not poisoned") = Snapshot {
                    counters: fe.counters().clone(),
                    engine: stats,
                    vessels: engine.tracker().len(),
                    fragments_pending: fe.pending_fragments(),
                    messages_by_source: by_source.clone(),
                    feed_time: engine.feed_time(),
                    clocks: clocks.stats(),
                };
            }
            self.shared.heartbeat.store(wall.0, Ordering::Relaxed);
            if closed {
                return Ok(());
            }
        }
    }
}
