//! Fast, allocation-free AIS decoding for NMEA 0183 feeds.
//!
//! Bytes from a socket or file go in; typed [`AisMessage`]s come out, each with what the feed said
//! about it ([`Meta`]: tag-block time and source, log time, receiving station, the receiver's own
//! clock). Every line ends in exactly one [`frontend::Outcome`] and is counted, so a caller can
//! always say what was lost and why.
//!
//! The stages, one module each, in the order data flows:
//!
//! [`framing`] (lines, checksums, tag blocks, receiver clocks) → [`reassembly`] (multi-sentence
//! messages, bounded) → [`decode`] (payload bits to fields, lengths checked against gpsd's rules)
//! → [`gpsd_json`] (gpsd's `gpsdecode -j` output). [`FrontEnd`] composes them into the one entry
//! point; [`encode`] is the inverse, for tests and simulators.
//!
//! This crate does no I/O, reads no clock and never panics on any input: time enters as data
//! (tag blocks, log stamps, receiver sentences), so the same bytes always decode the same way.
//!
//! ```
//! use vesselwatch_ais::{AisMessage, FrontEnd};
//!
//! // A tagged satellite report (from libais's test data) and a line with a wrong checksum.
//! let feed = concat!(
//!     "\\s:rORBCOMM104,q:u,c:1418172113,T:2014-12-10 00.41.53*55\\",
//!     "!AIVDM,1,1,,B,13F?Vv700<DJuLEtvep`iToV0<00,0*78\n",
//!     "!AIVDM,1,1,,B,13F?Vv700<DJuLEtvep`iToV0<00,0*79\n",
//! );
//! let mut front = FrontEnd::default();
//! let mut positions = Vec::new();
//! front.push_bytes(0, feed.as_bytes(), |d| {
//!     if let AisMessage::Position(p) = &d.message {
//!         positions.push((p.header.mmsi, p.lat, p.lon, d.meta.time()));
//!     }
//! });
//! front.finish_feed(0, |_| {});
//! let (mmsi, lat, lon, time) = positions[0];
//! // libais decodes it as MMSI 224651000 at -5.27792, -161.88266.
//! assert_eq!(mmsi, 224_651_000);
//! assert!((lat.unwrap() + 5.27792).abs() < 1e-5 && (lon.unwrap() + 161.88266).abs() < 1e-5);
//! assert_eq!(time.unwrap().to_string(), "2014-12-10T00:41:53Z");
//! // The bad line is counted, not silently dropped.
//! assert_eq!(positions.len(), 1);
//! assert_eq!(front.counters().rejected(), 1);
//! ```

#![warn(missing_docs)]

pub mod decode;
pub mod encode;
pub mod framing;
pub mod frontend;
#[cfg(feature = "fuzzgen")]
pub mod fuzzgen;
pub mod gpsd_json;
pub mod mid;
pub mod reassembly;
pub mod time;

pub use decode::AisMessage;
pub use frontend::{Decoded, FrontEnd, Meta};
pub use time::UnixMillis;
