//! vesselwatch: a vessel-movement monitor for AIS feeds.
//!
//! The library holds everything; the `vesselwatch` binary only parses arguments and calls in. Data
//! flows one way, one module per stage (see `ARCHITECTURE.md`):
//!
//! sources ([`daemon`]) → [`framing`] → [`reassembly`] → [`decode`] → [`feedclock`] → [`tracker`]
//! and [`geofence`] in the [`movement`] engine → [`store`] → [`alerts`]
//!
//! [`frontend`] composes the first stages into the one entry point every source uses; [`config`]
//! is the TOML the user writes; [`commands`] holds the command-line tools' I/O.

#![warn(missing_docs)]

pub mod alerts;
pub mod commands;
pub mod config;
pub mod daemon;
pub mod decode;
pub mod event;
pub mod feedclock;
pub mod framing;
pub mod frontend;
pub mod geofence;
pub mod logging;
pub mod movement;
pub mod output;
pub mod reassembly;
pub mod simulate;
pub mod store;
pub mod time;
pub mod tracker;
pub mod watchlist;

pub use decode::AisMessage;
pub use frontend::{Decoded, FrontEnd, Meta};
