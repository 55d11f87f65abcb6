//! Shutdown for the daemon's tasks, as in mini-redis: a signal every task listens for, and a
//! completion channel every task holds until it has finished.
//!
//! Owns nothing but the two channels. [`Shutdown::recv`] completes once shutdown has begun; each
//! task keeps its [`Shutdown`] (and so a clone of the completion sender) until it has drained, so
//! [`Coordinator::wait`] knows when every task is done without keeping a list of them. A task that
//! is never told cannot hold the process up forever: `wait` is bounded by its caller.

use std::time::Duration;

use tokio::sync::{mpsc, watch};

/// A task's view of shutdown: whether it has begun, and (by being alive) that the task has not
/// finished yet.
#[derive(Debug, Clone)]
pub struct Shutdown {
    signal: watch::Receiver<bool>,
    _running: mpsc::Sender<()>,
}

impl Shutdown {
    /// True once shutdown has begun: a loop checks it before starting more work.
    pub fn is_shutdown(&self) -> bool {
        *self.signal.borrow()
    }

    /// Completes once shutdown has begun (at once if it already has): the arm of a `select!` that
    /// ends a task's loop.
    pub async fn recv(&mut self) {
        // An error means the coordinator is gone, which is shutdown too.
        let _ = self.signal.wait_for(|&stop| stop).await;
    }
}

/// Starts shutdown and waits for the tasks: held by whoever runs the daemon.
#[derive(Debug)]
pub struct Coordinator {
    signal: watch::Sender<bool>,
    running_tx: Option<mpsc::Sender<()>>,
    running_rx: mpsc::Receiver<()>,
}

impl Default for Coordinator {
    fn default() -> Self {
        let (signal, _) = watch::channel(false);
        let (running_tx, running_rx) = mpsc::channel(1);
        Self {
            signal,
            running_tx: Some(running_tx),
            running_rx,
        }
    }
}

impl Coordinator {
    /// A token for one more task.
    pub fn token(&self) -> Shutdown {
        Shutdown {
            signal: self.signal.subscribe(),
            _running: self
                .running_tx
                .clone()
                .expect("tokens are handed out before shutdown"),
        }
    }

    /// Tells every task to stop.
    pub fn begin(&self) {
        self.signal.send_replace(true);
    }

    /// Tells every task to stop and waits until all have dropped their tokens, at most `limit`.
    /// Returns false if some were still running when the time was up.
    pub async fn wait(mut self, limit: Duration) -> bool {
        self.begin();
        drop(self.running_tx.take());
        tokio::time::timeout(limit, self.running_rx.recv())
            .await
            .is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn wait_returns_when_every_task_has_finished_and_not_before() {
        let c = Coordinator::default();
        let mut a = c.token();
        let b = c.token();
        let done = tokio::spawn(async move {
            a.recv().await;
            tokio::time::sleep(Duration::from_secs(3)).await;
            drop(a);
        });
        assert!(!b.is_shutdown());
        let slow = tokio::spawn(async move {
            // Holds its token past the limit.
            tokio::time::sleep(Duration::from_secs(60)).await;
            drop(b);
        });
        assert!(
            !c.wait(Duration::from_secs(10)).await,
            "one task still runs"
        );
        done.await.unwrap();
        slow.abort();
    }

    #[tokio::test(start_paused = true)]
    async fn wait_is_true_once_all_tokens_are_dropped() {
        let c = Coordinator::default();
        let mut a = c.token();
        let t = tokio::spawn(async move {
            a.recv().await;
            assert!(a.is_shutdown());
        });
        assert!(c.wait(Duration::from_secs(1)).await);
        t.await.unwrap();
    }
}
