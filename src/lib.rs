//! vesselwatch: a vessel-movement monitor for AIS feeds.
//!
//! The library holds everything; the `vesselwatch` binary only parses arguments and calls in. Data
//! flows one way, one module per stage (see `ARCHITECTURE.md`):
//!
//! sources ([`daemon`]) → framing, reassembly and decoding (the `vesselwatch-ais` crate) → feed
//! clock, tracking, geofences and the movement engine (the `vesselwatch-engine` crate) →
//! [`store`] → [`alerts`]
//!
//! [`config`] is the TOML the user writes; [`commands`] holds the command-line tools' I/O.

#![warn(missing_docs)]

pub mod alerts;
pub mod backoff;
pub mod clock;
pub mod commands;
pub mod config;
pub mod daemon;
pub mod error;
pub mod logging;
pub mod shutdown;
pub mod simulate;
pub mod sources;
pub mod store;
