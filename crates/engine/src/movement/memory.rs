//! Memory per vessel: forgetting vessels that have fallen silent (and, past `max_vessels`, the
//! longest-silent ones early), and recalling a forgotten vessel's state from the store when it is
//! heard again. Every map keyed by vessel (tracker, movement, sampling) shrinks together, so the
//! engine's memory follows the vessels heard lately, not every MMSI ever heard.

use super::{Engine, SWEEP_EVERY_MS};
use vesselwatch_ais::time::UnixMillis;

impl Engine {
    /// Looks for `mmsi` in the store (through [`super::Recall`]) before it is treated as new: a
    /// vessel forgotten for its silence comes back with its fences, dark state and names.
    pub(super) fn recall(&mut self, mmsi: u32) {
        let found = self.recall.as_mut().and_then(|r| r.0.recall(mmsi));
        if let Some(s) = found.filter(|s| s.mmsi == mmsi) {
            self.recalled = self.recalled.saturating_add(1);
            self.restore_one(s);
        }
    }

    /// Forgets vessels not heard for `forget_after`, once per [`SWEEP_EVERY_MS`] of engine time.
    pub(super) fn sweep(&mut self, now: UnixMillis) {
        if now.0 < self.next_sweep {
            return;
        }
        self.next_sweep = now.0.saturating_add(SWEEP_EVERY_MS);
        let before = now.0.saturating_sub(self.settings.forget_after_ms);
        let silent: Vec<u32> = self
            .tracker
            .vessels()
            .filter(|v| v.last_seen.is_none_or(|t| t.0 < before))
            .map(|v| v.mmsi)
            .collect();
        let n = silent.iter().filter(|m| self.forget(**m)).count();
        self.forgotten_silent = self.forgotten_silent.saturating_add(n as u64);
        self.trim_dark_queue();
        // Many gone at once (a burst of made-up MMSIs has aged out): give the memory back.
        if n > 0 && n.saturating_mul(4) > self.tracker.len() {
            self.shrink();
        }
    }

    /// Past `max_vessels`: forgets the longest-silent tenth of the vessels whose state the store
    /// has (never `keep`, the vessel being heard), so that the cost of finding them is spread over
    /// many new vessels. When none can go yet (all changed since the last batch), it tries again
    /// only after a hundredth more have come, not at every message.
    pub(super) fn forget_for_room(&mut self, keep: u32) {
        let mut by_age: Vec<(i64, u32)> = self
            .tracker
            .vessels()
            .filter(|v| v.mmsi != keep && !self.dirty.contains(&v.mmsi))
            .map(|v| (v.last_seen.map_or(i64::MIN, |t| t.0), v.mmsi))
            .collect();
        let room = (self.settings.max_vessels / 10).max(1).min(by_age.len());
        let Some(last) = room.checked_sub(1) else {
            self.room_retry_at = self
                .tracker
                .len()
                .saturating_add(self.settings.max_vessels / 100);
            return;
        };
        by_age.select_nth_unstable(last);
        let oldest: Vec<u32> = by_age.iter().take(room).map(|(_, m)| *m).collect();
        let n = oldest.iter().filter(|m| self.forget(**m)).count() as u64;
        self.forgotten_cap = self.forgotten_cap.saturating_add(n);
        self.room_retry_at = 0;
        self.trim_dark_queue();
    }

    /// Drops the dark queue's entries for vessels no longer held once they outnumber the vessels
    /// two to one: forgotten vessels leave their entry behind, and a flood of MMSIs near a port
    /// would otherwise grow the queue past `max_vessels`.
    fn trim_dark_queue(&mut self) {
        if self.dark_queue.len() > self.movement.len().saturating_mul(2).max(1_024) {
            let movement = &self.movement;
            self.dark_queue
                .retain(|std::cmp::Reverse((_, m))| movement.get(m).is_some_and(|v| v.queued));
        }
    }

    /// Drops one vessel from every map, unless its latest change has not been handed to the store
    /// yet (it would be lost): then it stays until a later sweep. Whether it was forgotten.
    fn forget(&mut self, mmsi: u32) -> bool {
        if self.dirty.contains(&mmsi) {
            return false;
        }
        let last = self.tracker.vessel(mmsi).and_then(|v| v.fix);
        let max_sog_kn = self.settings.encounter.map_or(0.0, |e| e.max_sog_kn);
        self.enc.forget(mmsi, last, max_sog_kn);
        self.tracker.forget(mmsi);
        self.movement.remove(&mmsi);
        self.last_sampled.remove(&mmsi);
        true
    }

    /// Releases the capacity the maps kept after many vessels were forgotten.
    pub fn shrink(&mut self) {
        self.tracker.shrink();
        self.movement.shrink_to_fit();
        self.last_sampled.shrink_to_fit();
        self.dirty.shrink_to_fit();
    }
}
