//! Recording for a store: which positions are kept (every fix of a watched vessel, others sampled)
//! and handing them over. Off by default, so that a run without a store holds nothing.

use super::Engine;
use crate::tracker::Fix;

impl Engine {
    /// Every fix of a watched vessel is recorded; other vessels' at most once per sampling interval.
    pub(super) fn record_position(&mut self, mmsi: u32, fix: Fix) {
        let watched = self.movement.get(&mmsi).is_some_and(|m| m.watch.is_some());
        if !watched {
            let Some(every) = self.sample_others_ms else {
                return;
            };
            let last = self.last_sampled.entry(mmsi).or_insert(i64::MIN);
            if *last != i64::MIN && fix.time.0.saturating_sub(*last) < every {
                return;
            }
            *last = fix.time.0;
        }
        self.positions.push((mmsi, fix));
    }

    /// Starts collecting changed vessels and positions for a store (off by default, so that a run
    /// without one holds nothing). Unwatched vessels' positions are kept at most once per
    /// `sample_others_ms` (or never, with `None`); watched vessels' always.
    pub fn enable_recording(&mut self, sample_others_ms: Option<i64>) {
        self.recording = true;
        self.sample_others_ms = sample_others_ms;
    }

    /// Positions waiting for [`Engine::take_positions`].
    pub fn pending_positions(&self) -> usize {
        self.positions.len()
    }

    /// Positions recorded since the last call, in order.
    pub fn take_positions(&mut self) -> Vec<(u32, Fix)> {
        std::mem::take(&mut self.positions)
    }
}
