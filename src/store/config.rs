//! `[store]`: the section the store owns. Where the database is and what it keeps.

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use vesselwatch_engine::settings::{HumanDuration, Invalid, invalid};

/// How often unwatched vessels' positions are kept, or not at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sampling {
    /// Not kept.
    Off,
    /// At most one position per vessel per interval.
    Every(HumanDuration),
}

impl Sampling {
    /// The interval in ms, as the engine's recording takes it (`None`: off).
    pub fn millis(self) -> Option<i64> {
        match self {
            Sampling::Off => None,
            Sampling::Every(d) => Some(d.millis()),
        }
    }
}

impl<'de> Deserialize<'de> for Sampling {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        if s == "off" {
            return Ok(Sampling::Off);
        }
        humantime::parse_duration(&s)
            .map(|d| Sampling::Every(HumanDuration(d)))
            .map_err(|e| {
                serde::de::Error::custom(format!(
                    "`{s}` is neither \"off\" nor a duration like \"10m\": {e}"
                ))
            })
    }
}

/// `[store]`: the SQLite database.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StoreConfig {
    /// The database file, relative to the config file; default `vesselwatch.db` beside it.
    pub path: Option<PathBuf>,
    /// Positions of vessels not on the watchlist: `"off"` or an interval (watched vessels' are all
    /// kept).
    pub sample_positions: Sampling,
    /// Positions older than this (in message time) are deleted.
    pub position_retention: HumanDuration,
    /// How long writes may keep failing (a lock held by another process, a full disk, a file
    /// made read-only) before the daemon stops non-zero saying what it could not write. Until
    /// then intake waits: nothing accepted is dropped.
    pub give_up_after: HumanDuration,
}

impl StoreConfig {
    /// Refuses settings that would empty the store: a zero retention deletes every position at the
    /// next sweep, a zero sampling interval is "keep everything" spelled by mistake.
    pub fn validate(&self) -> Result<(), Invalid> {
        if self.position_retention.0.is_zero() {
            return Err(invalid(
                "store.position_retention",
                "0s",
                "must be longer than zero (positions older than it are deleted)",
            ));
        }
        if self.give_up_after.0.is_zero() {
            return Err(invalid(
                "store.give_up_after",
                "0s",
                "must be longer than zero (a lock held for a moment would stop the daemon)",
            ));
        }
        if self.sample_positions == Sampling::Every(HumanDuration(Duration::ZERO)) {
            return Err(invalid(
                "store.sample_positions",
                "0s",
                "must be an interval longer than zero, or \"off\"",
            ));
        }
        Ok(())
    }
}

impl StoreConfig {
    /// The writer's patience these settings ask for.
    pub fn patience(&self) -> super::Patience {
        super::Patience {
            give_up_after: self.give_up_after.0,
            ..Default::default()
        }
    }
}

impl Default for StoreConfig {
    fn default() -> Self {
        Self {
            path: None,
            sample_positions: Sampling::Every(HumanDuration(Duration::from_secs(600))),
            position_retention: HumanDuration(Duration::from_secs(90 * 86_400)),
            give_up_after: HumanDuration(super::Patience::default().give_up_after),
        }
    }
}
