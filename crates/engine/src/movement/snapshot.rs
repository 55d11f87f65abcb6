//! Snapshots: a vessel's whole state with fences by name, what the store saves so that a restart
//! resumes exactly and a reload carries every vessel over. Taking, restoring and reconfiguring
//! through them; the state machine itself is in the parent module.

use std::cmp::Reverse;

use serde::{Deserialize, Serialize};

use super::{Engine, FenceState, Holding, Movement};
use crate::tracker::{Fix, StaticData, Vessel};
use vesselwatch_ais::time::UnixMillis;

/// A vessel's whole state, with fences by name: what the store saves so that a restart resumes
/// exactly (no repeated arrival, no lost departure). Names rather than indices, so that a changed
/// config drops the states of removed fences instead of misattributing them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VesselSnapshot {
    /// MMSI.
    pub mmsi: u32,
    /// Latest accepted fix.
    pub fix: Option<Fix>,
    /// Course of the latest report.
    pub cog: Option<f32>,
    /// Heading of the latest report.
    pub heading: Option<u16>,
    /// Navigational status.
    pub status: Option<u8>,
    /// Static data.
    pub statics: StaticData,
    /// Time of the latest message.
    pub last_seen: Option<UnixMillis>,
    /// Time of the first message.
    #[serde(default)]
    pub first_seen: Option<UnixMillis>,
    /// Movement state, for a monitored vessel.
    pub movement: Option<MovementSnapshot>,
}

/// The movement part of a [`VesselSnapshot`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MovementSnapshot {
    /// State per fence, by fence name.
    pub fences: Vec<(String, FenceState)>,
    /// The port where silence counts as dark.
    pub dark_zone: Option<String>,
    /// While dark: since when, and at which port.
    pub dark: Option<(UnixMillis, String)>,
    /// After reappearing, until the next fix.
    pub gap_since: Option<UnixMillis>,
    /// A holding episode: port, anchor fix, whether reported.
    pub holding: Option<(String, Fix, bool)>,
    /// A slow spell at sea (`loitering`). Absent from states saved before it existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loitering: Option<super::Loitering>,
    /// Whether the first fix has been placed.
    pub placed: bool,
}

impl Engine {
    /// Snapshots of the vessels changed since the last call, by MMSI.
    pub fn take_snapshots(&mut self) -> Vec<VesselSnapshot> {
        let mut ids: Vec<u32> = self.dirty.drain().collect();
        ids.sort_unstable();
        ids.into_iter().filter_map(|m| self.snapshot(m)).collect()
    }

    /// Swaps in a new configuration (fences, watchlist, thresholds) without losing state: every
    /// vessel is carried over through its snapshot, so fence states follow their fence by name, a
    /// removed fence's state is dropped and a new fence starts from the vessels' last fixes.
    /// `next` is a fresh engine built from the new configuration.
    pub fn reconfigure(&mut self, mut next: Engine) {
        let mut ids: Vec<u32> = self.tracker.vessels().map(|v| v.mmsi).collect();
        ids.sort_unstable();
        let snapshots = ids.into_iter().filter_map(|m| self.snapshot(m)).collect();
        next.restore(snapshots, self.clock);
        next.feed_time = self.feed_time;
        next.recording = self.recording;
        next.sample_others_ms = self.sample_others_ms;
        next.events = self.events;
        // Everything changed as far as the store is concerned.
        next.dirty = next.tracker.vessels().map(|v| v.mmsi).collect();
        next.positions = std::mem::take(&mut self.positions);
        // Meetings under way go on across a reload while the grid keeps its cell size (the same
        // `max_distance_m`): the grid's vessels are the tracker's, carried over above. A changed
        // distance starts the search afresh (pairs under way are dropped, unreported).
        let grid = |e: &Engine| e.settings.encounter.map(|c| c.max_m.to_bits());
        if grid(&next).is_some() && grid(&next) == grid(self) {
            std::mem::swap(&mut next.enc, &mut self.enc);
        }
        *self = next;
    }

    /// The state of one vessel.
    pub fn snapshot(&self, mmsi: u32) -> Option<VesselSnapshot> {
        let v = self.tracker.vessel(mmsi)?;
        let name = |id: usize| self.fences.get(id).name.clone();
        let movement = self.movement.get(&mmsi).map(|m| MovementSnapshot {
            fences: m.fences.iter().map(|(id, s)| (name(*id), *s)).collect(),
            dark_zone: m.dark_zone.map(name),
            dark: m.dark.map(|(t, f)| (t, name(f))),
            gap_since: m.gap_since,
            holding: m.holding.map(|h| (name(h.fence), h.anchor, h.emitted)),
            loitering: m.loitering,
            placed: m.placed,
        });
        Some(VesselSnapshot {
            mmsi,
            fix: v.fix,
            cog: v.cog,
            heading: v.heading,
            status: v.status,
            statics: v.statics.clone(),
            last_seen: v.last_seen,
            first_seen: v.first_seen,
            movement,
        })
    }

    /// Restores saved vessels and the engine clock, as after a restart. States of fences no longer
    /// configured are dropped; dark deadlines are rebuilt.
    pub fn restore(&mut self, snapshots: Vec<VesselSnapshot>, clock: Option<UnixMillis>) {
        self.clock = clock;
        for s in snapshots {
            self.restore_one(s);
        }
    }

    /// Puts back one saved vessel: at a restart, or when a forgotten vessel is heard again.
    pub(super) fn restore_one(&mut self, s: VesselSnapshot) {
        let mut v = Vessel::default();
        v.mmsi = s.mmsi;
        v.fix = s.fix;
        v.cog = s.cog;
        v.heading = s.heading;
        v.status = s.status;
        v.statics = s.statics;
        v.last_seen = s.last_seen;
        v.first_seen = s.first_seen;
        v.statics_version = 1;
        self.tracker.restore(v);
        let Some(ms) = s.movement else { return };
        let fences = &self.fences;
        // Fences are few: a scan by name costs less than a map built per vessel.
        let id = |n: &String| fences.fences().iter().find(|f| &f.name == n).map(|f| f.id);
        let mut m = Movement {
            watch: None,
            watch_version: None,
            fences: ms
                .fences
                .iter()
                .filter_map(|(n, st)| Some((id(n)?, *st)))
                .collect(),
            dark_zone: ms.dark_zone.as_ref().and_then(id),
            dark: ms.dark.as_ref().and_then(|(t, n)| Some((*t, id(n)?))),
            gap_since: ms.gap_since,
            heard: s.last_seen,
            queued: false,
            holding: ms.holding.as_ref().and_then(|(n, anchor, emitted)| {
                Some(Holding {
                    fence: id(n)?,
                    anchor: *anchor,
                    emitted: *emitted,
                })
            }),
            loitering: ms.loitering,
            conflict: None,
            recent: Default::default(),
            placed: ms.placed,
        };
        if let (Some(_), None, Some(seen)) = (m.dark_zone, m.dark, s.last_seen) {
            m.queued = true;
            self.dark_queue.push(Reverse((
                seen.0.saturating_add(self.settings.dark_after_ms),
                s.mmsi,
            )));
        }
        self.movement.insert(s.mmsi, m);
        // Recompute the watch match from the restored static data.
        self.monitored(s.mmsi);
    }
}
