//! Output formats for decoded messages.
//!
//! Owns how messages look to the outside (JSON records). Pure: writes into a caller's buffer and
//! never does I/O itself.

pub mod gpsd_json;
