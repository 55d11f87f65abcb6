//! vesselwatch's movement engine: decoded messages in, movement events out.
//!
//! The stages after decoding, in the order data flows: [`feedclock`] gives every message a time
//! (its own, the receiver's clock, a consensus of base stations, or the arrival time the caller
//! passes); [`tracker`] keeps each vessel's latest fix and identity and rejects duplicates, stale
//! reports and impossible jumps; [`geofence`] answers which fences a fix is near; [`movement`] is
//! **where a departure is decided**, per (vessel, fence), and emits [`event::Event`]s.
//! [`settings`] is the part of the configuration these stages own, and [`vocab`] the words they
//! share.
//!
//! Pure: no I/O, no clock reads, no async runtime and no database in this crate's dependency tree.
//! The same messages and times always give the same events, with the same ids, which is what makes
//! replay exact and the engine property-testable.

#![warn(missing_docs)]

pub mod event;
pub mod feedclock;
#[cfg(feature = "fuzzgen")]
pub mod fuzzgen;
pub mod geofence;
pub mod movement;
pub mod neighbours;
pub mod settings;
pub mod tracker;
pub mod vocab;
pub mod watchlist;

pub use event::Event;
pub use movement::Engine;
pub use vocab::{Direction, EventKind, FenceKind};
