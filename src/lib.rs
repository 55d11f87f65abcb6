//! vesselwatch: a vessel-movement monitor for AIS feeds.
//!
//! The library holds everything; the `vesselwatch` binary only parses arguments and calls in. Data
//! flows one way, one module per stage (see `ARCHITECTURE.md`):
//!
//! sources ([`daemon`]) → framing, reassembly and decoding (the `vesselwatch-ais` crate) →
//! [`feedclock`] → [`tracker`] and [`geofence`] in the [`movement`] engine → [`store`] → [`alerts`]
//!
//! [`config`] is the TOML the user writes; [`commands`] holds the command-line tools' I/O.

#![warn(missing_docs)]

pub mod alerts;
pub mod commands;
pub mod config;
pub mod daemon;
pub mod event;
pub mod feedclock;
pub mod geofence;
pub mod logging;
pub mod movement;
pub mod simulate;
pub mod store;
pub mod tracker;
pub mod watchlist;
