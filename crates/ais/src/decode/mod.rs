//! Decoding: a complete payload to a typed [`AisMessage`].
//!
//! Owns the bit layouts of the message types vesselwatch uses (ITU-R M.1371-5), the "not available"
//! conventions and range checks. Pure: it takes a [`BitBuf`] and returns a value, never performs I/O,
//! never allocates and never panics.
//!
//! Every payload's length is checked against its message type before any field is read: each type
//! has a shortest and a longest valid length (gpsd's rules, in `bit_range`). A shorter payload is
//! refused rather than zero-filled, a longer one rather than cut, because a payload of the wrong
//! length is a broken or mis-joined message whose fields cannot be trusted: a type 27 of 348 bits
//! decodes to a fix in northern Canada at 51 knots. The one bit read past the end is gpsd's own
//! exception: a type 5 cut at 420 or 421 bits, whose last destination character is zero-padded.
//! Types 0 and 28–63 do not exist in AIS and are refused as [`DecodeError::UnknownType`], as gpsd
//! refuses them.
//!
//! Decoded by hand rather than with nmea-parser (which stays in the tests as a differential oracle)
//! because nmea-parser drops type 19, does not range-check positions and allocates about ten times
//! per sentence; see `ARCHITECTURE.md`.

// Input path: no index or arithmetic that can panic on hostile input (ARCHITECTURE.md,
// invariants). Where a bound is proven, a local `allow` says why it holds.
#![deny(clippy::indexing_slicing, clippy::arithmetic_side_effects)]

pub mod bits;
pub mod shiptype;

pub use bits::{AisText, BitBuf};
pub use shiptype::ship_type_words;

use crate::time::UnixMillis;

/// Why a payload did not decode. `Copy`, so counting one never allocates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
pub enum DecodeError {
    /// The payload field was empty.
    #[error("empty payload")]
    EmptyPayload,
    /// More armoured characters than any AIS message holds.
    #[error("payload too long")]
    PayloadTooLong,
    /// A character outside the six-bit armour set.
    #[error("invalid armour character")]
    BadArmour,
    /// Fill bits outside 0..=5 or larger than the payload.
    #[error("invalid fill bits")]
    BadFill,
    /// The payload is shorter than its message type's layout.
    #[error("payload of {bits} bits too short for message type {msg_type}")]
    TooShort {
        /// The message type.
        msg_type: u8,
        /// The payload's length in bits.
        bits: u16,
    },
    /// The payload is longer than its message type allows (or, for type 27, neither 96 nor 168
    /// bits): two messages run together, or noise that passed the checksum.
    #[error("payload of {bits} bits too long for message type {msg_type}")]
    TooLong {
        /// The message type.
        msg_type: u8,
        /// The payload's length in bits.
        bits: u16,
    },
    /// A message type AIS does not define (0 and 28–63). Refused, as gpsd refuses it: such a payload
    /// is noise or a private format, and its MMSI field cannot be trusted.
    #[error("message type {0} does not exist")]
    UnknownType(u8),
    /// Latitude outside ±90° and not the "not available" 91°.
    #[error("latitude out of range")]
    LatOutOfRange,
    /// Longitude outside ±180° and not the "not available" 181°.
    #[error("longitude out of range")]
    LonOutOfRange,
    /// A type 24 with a part number other than 0 (A) or 1 (B).
    #[error("invalid type 24 part number")]
    BadPartNumber,
}

/// A decoded message of a type vesselwatch uses, or [`AisMessage::Other`] for the rest.
#[derive(Debug, Clone, PartialEq)]
pub enum AisMessage {
    /// Types 1, 2, 3 (class A), 18 (class B) and 27 (long range).
    Position(Position),
    /// Type 19: a class B position with the ship's static data.
    ExtendedClassB(Position, ExtendedClassB),
    /// Type 4: a base station's position and UTC time.
    BaseStation(BaseStation),
    /// Type 5: class A static and voyage data.
    StaticVoyage(StaticVoyage),
    /// Type 24 part A: the class B ship name.
    StaticPartA(StaticPartA),
    /// Type 24 part B: the class B ship type, call sign and dimensions.
    StaticPartB(StaticPartB),
    /// Type 21: an aid to navigation.
    AidToNavigation(AidToNavigation),
    /// Any other type AIS defines (6–17, 20, 22, 23, 25, 26), its length checked, passed on with its
    /// header so that it can be counted and attributed.
    Other(Header),
}

/// The fields every message starts with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// Message type, 1 to 27 (payloads of other types are refused).
    pub msg_type: u8,
    /// Repeat indicator: how often the message was relayed.
    pub repeat: u8,
    /// The sender's MMSI.
    pub mmsi: u32,
}

impl AisMessage {
    /// The header of any message.
    pub fn header(&self) -> Header {
        match self {
            AisMessage::Position(p) | AisMessage::ExtendedClassB(p, _) => p.header,
            AisMessage::BaseStation(m) => m.header,
            AisMessage::StaticVoyage(m) => m.header,
            AisMessage::StaticPartA(m) => m.header,
            AisMessage::StaticPartB(m) => m.header,
            AisMessage::AidToNavigation(m) => m.header,
            AisMessage::Other(h) => *h,
        }
    }
}

/// A position report, common to types 1, 2, 3, 18, 19 and 27. Fields a type does not carry are
/// `None`, as are values the sender marked "not available".
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Position {
    /// Type, repeat and MMSI.
    pub header: Header,
    /// Navigational status (0–15; 15 is "not defined"). Types 1–3 and 27 only.
    pub status: Option<u8>,
    /// Raw rate of turn (−128 is "not available"). Types 1–3 only.
    pub turn: Option<i8>,
    /// Speed over ground in knots.
    pub speed: Option<f32>,
    /// Position accuracy flag: true for better than 10 m.
    pub accuracy: bool,
    /// Longitude in degrees, east positive.
    pub lon: Option<f64>,
    /// Latitude in degrees, north positive.
    pub lat: Option<f64>,
    /// Course over ground in degrees.
    pub course: Option<f32>,
    /// True heading in degrees.
    pub heading: Option<u16>,
    /// UTC second of the report (0–59; 60 not available, 61–63 special). Raw, because the tracker
    /// uses it to refine message time only when below 60.
    pub second: Option<u8>,
    /// Special manoeuvre indicator. Types 1–3 only.
    pub maneuver: Option<u8>,
    /// RAIM flag.
    pub raim: bool,
    /// Radio status. Types 1–3 and 18 only.
    pub radio: Option<u32>,
    /// GNSS position status (type 27: false means current, true means not current).
    pub gnss: Option<bool>,
    /// Fields that held values outside their range and were set to `None`. A bad heading (class B
    /// transmitters often send 360) does not make the position wrong, so only the field is refused.
    pub invalid: InvalidFields,
}

/// Fields of a [`Position`] refused as out of range, so that they can be counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct InvalidFields {
    /// Course above 360° (3600, "not available", is not invalid).
    pub course: bool,
    /// Heading from 360 to 510 (511, "not available", is not invalid).
    pub heading: bool,
}

/// The static part of a type 19 report.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ExtendedClassB {
    /// Ship name.
    pub shipname: AisText,
    /// Ship and cargo type code.
    pub shiptype: u8,
    /// Dimensions to the GNSS antenna.
    pub dims: Dimensions,
    /// Type of position fixing device.
    pub epfd: u8,
}

/// Distances from the position reference point to the bow, stern, port and starboard, in metres.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Dimensions {
    /// Metres to the bow.
    pub to_bow: u16,
    /// Metres to the stern.
    pub to_stern: u16,
    /// Metres to port.
    pub to_port: u8,
    /// Metres to starboard.
    pub to_starboard: u8,
}

/// Type 4, a base station report.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BaseStation {
    /// Type, repeat and MMSI.
    pub header: Header,
    /// The UTC fields as sent: year, month, day, hour, minute, second (0 or 24/60 when unavailable).
    pub civil: [u16; 6],
    /// The UTC time when every field is valid. Lets replay derive message time from the feed
    /// itself when a recording has no timestamps.
    pub utc: Option<UnixMillis>,
    /// Position accuracy flag.
    pub accuracy: bool,
    /// Longitude in degrees.
    pub lon: Option<f64>,
    /// Latitude in degrees.
    pub lat: Option<f64>,
    /// Type of position fixing device.
    pub epfd: u8,
    /// RAIM flag.
    pub raim: bool,
    /// Radio status.
    pub radio: u32,
}

/// Type 5, class A static and voyage data.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StaticVoyage {
    /// Type, repeat and MMSI.
    pub header: Header,
    /// AIS version indicator.
    pub ais_version: u8,
    /// IMO number; `None` when 0 (not available).
    pub imo: Option<u32>,
    /// Call sign.
    pub callsign: AisText<7>,
    /// Ship name.
    pub shipname: AisText,
    /// Ship and cargo type code.
    pub shiptype: u8,
    /// Dimensions to the GNSS antenna.
    pub dims: Dimensions,
    /// Type of position fixing device.
    pub epfd: u8,
    /// ETA month, day, hour, minute as sent (0 or 24/60 when unavailable).
    pub eta: [u8; 4],
    /// Draught in metres.
    pub draught: f32,
    /// Destination.
    pub destination: AisText,
    /// Data terminal equipment flag; `None` when the sender cut the message at 420 or 422 bits.
    pub dte: Option<bool>,
}

/// Type 24 part A.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StaticPartA {
    /// Type, repeat and MMSI.
    pub header: Header,
    /// Ship name.
    pub shipname: AisText,
}

/// Type 24 part B.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StaticPartB {
    /// Type, repeat and MMSI.
    pub header: Header,
    /// Ship and cargo type code.
    pub shiptype: u8,
    /// Call sign.
    pub callsign: AisText<7>,
    /// Dimensions, absent for an auxiliary craft (MMSI 98xxxxxxx), which sends its mothership.
    pub dims: Option<Dimensions>,
    /// The mothership's MMSI, for an auxiliary craft.
    pub mothership_mmsi: Option<u32>,
}

/// Type 21, an aid to navigation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AidToNavigation {
    /// Type, repeat and MMSI.
    pub header: Header,
    /// Aid type code.
    pub aid_type: u8,
    /// Name, with the name extension appended when the name fills its 20 characters.
    pub name: AisText<{ bits::MAX_TEXT }>,
    /// Position accuracy flag.
    pub accuracy: bool,
    /// Longitude in degrees.
    pub lon: Option<f64>,
    /// Latitude in degrees.
    pub lat: Option<f64>,
    /// Dimensions.
    pub dims: Dimensions,
    /// Type of position fixing device.
    pub epfd: u8,
    /// UTC second.
    pub second: u8,
    /// Off-position indicator.
    pub off_position: bool,
    /// RAIM flag.
    pub raim: bool,
    /// Virtual aid flag: no physical aid exists.
    pub virtual_aid: bool,
}

/// No longest length: gpsd's `PERMISSIVE_LENGTH_CHECK` only logs a payload longer than the layout.
const NO_MAX: usize = usize::MAX;

/// The shortest and longest valid payload of a message type, in bits; `None` for the types AIS does
/// not define. `part` is a type 24's part number (bits 38–39), ignored for other types.
///
/// These are gpsd 3.22's rules (`ais_binary_decode` in `driver_ais.c`: `RANGE_CHECK(min, max)`, or
/// `PERMISSIVE_LENGTH_CHECK(min)` with no maximum), checked against its `gpsdecode`, except the two
/// marked "gpsd:" below, which `tests/conformance.rs` lists as deliberate differences. Type 27 is
/// further held to exactly 96 or 168 bits by [`check_length`], as gpsd holds it. (Later gpsd also
/// caps types 1–3 at 204 bits and type 14 at 960.)
fn bit_range(msg_type: u8, part: u64) -> Option<(usize, usize)> {
    Some(match msg_type {
        // gpsd: from 163, zero-filling the missing radio bits. A field is never zero-filled here.
        1..=3 => (168, NO_MAX),
        4 | 11 => (168, NO_MAX),
        // 424 in the standard; gpsd accepts from 420 ("a lot of transmitters in the wild ship with a
        // length of 420 or 422"), losing the DTE flag, the spare and at 420 the low two bits of the
        // destination's last character.
        5 => (420, NO_MAX),
        6 => (88, 1008),
        7 | 13 => (72, 168),
        8 => (56, 1008),
        9 => (168, NO_MAX),
        10 => (72, NO_MAX),
        12 => (72, 1008),
        14 => (40, 1008),
        15 => (88, 168),
        16 => (96, 168),
        17 => (80, 816),
        18 => (168, NO_MAX),
        19 => (312, NO_MAX),
        20 => (72, 186),
        21 => (272, 368),
        22 => (168, NO_MAX),
        23 => (160, NO_MAX),
        // Part A: 160 bits, some senders pad to 168.
        24 if part == 0 => (160, 168),
        // gpsd: part B from 168. Its dimensions (or mothership MMSI) end at bit 162 and only the
        // spare follows, so 162 is enough.
        24 if part == 1 => (162, NO_MAX),
        // Parts 2 and 3 do not exist: refused as `BadPartNumber` once the part can be read.
        24 => (40, NO_MAX),
        25 => (40, 168),
        26 => (60, 1004),
        // 96 bits, or a whole 168-bit slot (an implementation error seen in the wild).
        27 => (96, 168),
        _ => return None,
    })
}

/// Checks the payload's length against its type's [`bit_range`], so that no field is ever read
/// past the end.
fn check_length(b: &BitBuf) -> Result<(), DecodeError> {
    let bits = b.len();
    let msg_type = if bits >= 6 { b.get(0, 6) as u8 } else { 0 };
    let short = DecodeError::TooShort {
        msg_type,
        bits: bits as u16,
    };
    if bits < 6 || (msg_type == 24 && bits < 40) {
        return Err(short);
    }
    let part = if msg_type == 24 { b.get(38, 2) } else { 0 };
    let (min, max) = bit_range(msg_type, part).ok_or(DecodeError::UnknownType(msg_type))?;
    if bits < min {
        Err(short)
    } else if bits > max || (msg_type == 27 && bits != 96 && bits != 168) {
        Err(DecodeError::TooLong {
            msg_type,
            bits: bits as u16,
        })
    } else {
        Ok(())
    }
}

/// A coordinate from a signed field in 1/`scale` minutes: `None` for the "not available" value
/// (`limit` + 1 degrees: 91 for latitude, 181 for longitude), `err` beyond ±`limit` degrees.
#[inline]
fn coordinate(
    raw: i64,
    scale: f64,
    limit: f64,
    err: DecodeError,
) -> Result<Option<f64>, DecodeError> {
    let deg = raw as f64 / (60.0 * scale);
    if raw == ((limit + 1.0) * 60.0 * scale) as i64 {
        Ok(None)
    } else if !(-limit..=limit).contains(&deg) {
        Err(err)
    } else {
        Ok(Some(deg))
    }
}

/// Latitude: `None` for 91°, an error beyond ±90°.
#[inline]
fn latitude(raw: i64, scale: f64) -> Result<Option<f64>, DecodeError> {
    coordinate(raw, scale, 90.0, DecodeError::LatOutOfRange)
}

/// Longitude: `None` for 181°, an error beyond ±180°.
#[inline]
fn longitude(raw: i64, scale: f64) -> Result<Option<f64>, DecodeError> {
    coordinate(raw, scale, 180.0, DecodeError::LonOutOfRange)
}

/// Speed in 1/10 knot: 1023 is "not available".
#[inline]
fn speed(raw: u64) -> Option<f32> {
    (raw != 1023).then(|| raw as f32 / 10.0)
}

/// Course and heading with their range checks: course in 1/10 degree (`scale` 10) or whole degrees
/// (type 27, `scale` 1), where 3600 (or 511) means "not available"; heading in degrees, 511 "not
/// available" and 360–510 invalid. Invalid values become `None` and are flagged.
#[inline]
fn course_heading(
    course_raw: u64,
    course_na: u64,
    course_scale: f32,
    heading_raw: Option<u64>,
) -> (Option<f32>, Option<u16>, InvalidFields) {
    let mut invalid = InvalidFields::default();
    let limit = (360.0 * course_scale) as u64;
    let course = if course_raw < limit {
        Some(course_raw as f32 / course_scale)
    } else {
        invalid.course = course_raw != course_na;
        None
    };
    let heading = match heading_raw {
        Some(h @ 0..360) => Some(h as u16),
        Some(h) => {
            invalid.heading = h != 511;
            None
        }
        None => None,
    };
    (course, heading, invalid)
}

#[inline]
// No overflow: `start` is a bit offset from a message layout (under 300) at every call.
#[allow(clippy::arithmetic_side_effects)]
fn dims(b: &BitBuf, start: usize) -> Dimensions {
    Dimensions {
        to_bow: b.get(start, 9) as u16,
        to_stern: b.get(start + 9, 9) as u16,
        to_port: b.get(start + 18, 6) as u8,
        to_starboard: b.get(start + 24, 6) as u8,
    }
}

/// Decodes a loaded payload. The payload's length is checked against its type first.
pub fn decode(b: &BitBuf) -> Result<AisMessage, DecodeError> {
    check_length(b)?;
    let header = Header {
        msg_type: b.get(0, 6) as u8,
        repeat: b.get(6, 2) as u8,
        mmsi: b.get(8, 30) as u32,
    };
    let t = header.msg_type;
    Ok(match t {
        1..=3 => {
            let (course, heading, invalid) =
                course_heading(b.get(116, 12), 3600, 10.0, Some(b.get(128, 9)));
            AisMessage::Position(Position {
                header,
                status: Some(b.get(38, 4) as u8),
                turn: Some(b.get_signed(42, 8) as i8).filter(|&r| r != -128),
                speed: speed(b.get(50, 10)),
                accuracy: b.flag(60),
                lon: longitude(b.get_signed(61, 28), 10_000.0)?,
                lat: latitude(b.get_signed(89, 27), 10_000.0)?,
                course,
                heading,
                second: Some(b.get(137, 6) as u8),
                maneuver: Some(b.get(143, 2) as u8),
                raim: b.flag(148),
                radio: Some(b.get(149, 19) as u32),
                gnss: None,
                invalid,
            })
        }
        18 | 19 => {
            let (course, heading, invalid) =
                course_heading(b.get(112, 12), 3600, 10.0, Some(b.get(124, 9)));
            let pos = Position {
                header,
                status: None,
                turn: None,
                speed: speed(b.get(46, 10)),
                accuracy: b.flag(56),
                lon: longitude(b.get_signed(57, 28), 10_000.0)?,
                lat: latitude(b.get_signed(85, 27), 10_000.0)?,
                course,
                heading,
                second: Some(b.get(133, 6) as u8),
                maneuver: None,
                raim: b.flag(if t == 18 { 147 } else { 305 }),
                radio: (t == 18).then(|| b.get(148, 20) as u32),
                gnss: None,
                invalid,
            };
            if t == 18 {
                AisMessage::Position(pos)
            } else {
                AisMessage::ExtendedClassB(
                    pos,
                    ExtendedClassB {
                        shipname: b.text(143, 20),
                        shiptype: b.get(263, 8) as u8,
                        dims: dims(b, 271),
                        epfd: b.get(301, 4) as u8,
                    },
                )
            }
        }
        27 => {
            let (course, _, invalid) = course_heading(b.get(85, 9), 511, 1.0, None);
            AisMessage::Position(Position {
                header,
                status: Some(b.get(40, 4) as u8),
                turn: None,
                speed: Some(b.get(79, 6)).filter(|&s| s != 63).map(|s| s as f32),
                accuracy: b.flag(38),
                lon: longitude(b.get_signed(44, 18), 10.0)?,
                lat: latitude(b.get_signed(62, 17), 10.0)?,
                course,
                heading: None,
                second: None,
                maneuver: None,
                raim: b.flag(39),
                radio: None,
                gnss: Some(b.flag(94)),
                invalid,
            })
        }
        4 => {
            let civil = [
                b.get(38, 14) as u16,
                b.get(52, 4) as u16,
                b.get(56, 5) as u16,
                b.get(61, 5) as u16,
                b.get(66, 6) as u16,
                b.get(72, 6) as u16,
            ];
            let [y, mo, d, h, mi, s] = civil.map(u32::from);
            AisMessage::BaseStation(BaseStation {
                header,
                civil,
                utc: UnixMillis::from_civil(y, mo, d, h, mi, s),
                accuracy: b.flag(78),
                lon: longitude(b.get_signed(79, 28), 10_000.0)?,
                lat: latitude(b.get_signed(107, 27), 10_000.0)?,
                epfd: b.get(134, 4) as u8,
                raim: b.flag(148),
                radio: b.get(149, 19) as u32,
            })
        }
        5 => AisMessage::StaticVoyage(StaticVoyage {
            header,
            ais_version: b.get(38, 2) as u8,
            imo: Some(b.get(40, 30) as u32).filter(|&i| i != 0),
            callsign: b.text(70, 7),
            shipname: b.text(112, 20),
            shiptype: b.get(232, 8) as u8,
            dims: dims(b, 240),
            epfd: b.get(270, 4) as u8,
            eta: [
                b.get(274, 4) as u8,
                b.get(278, 5) as u8,
                b.get(283, 5) as u8,
                b.get(288, 6) as u8,
            ],
            draught: b.get(294, 8) as f32 / 10.0,
            // At 420 bits the last character has 4 of its 6 bits; read as gpsd reads it.
            destination: b.text(302, 20),
            dte: (b.len() > 422).then(|| b.flag(422)),
        }),
        24 => match b.get(38, 2) {
            0 => AisMessage::StaticPartA(StaticPartA {
                header,
                shipname: b.text(40, 20),
            }),
            1 => {
                let auxiliary = header.mmsi / 10_000_000 == 98;
                AisMessage::StaticPartB(StaticPartB {
                    header,
                    shiptype: b.get(40, 8) as u8,
                    callsign: b.text(90, 7),
                    dims: (!auxiliary).then(|| dims(b, 132)),
                    mothership_mmsi: auxiliary.then(|| b.get(132, 30) as u32),
                })
            }
            _ => return Err(DecodeError::BadPartNumber),
        },
        21 => {
            // gpsd's rule: the name is read up to its first `@`; a name that fills all 20
            // characters continues in the extension (bits 272 on, whole characters, again up to an
            // `@`), even when its 20th character is a space. Trailing spaces go last.
            let mut name = AisText::default();
            if name.push_untrimmed(b, 43, 20) {
                name.push_untrimmed(b, 272, b.len().saturating_sub(272) / 6);
            }
            name.trim_end();
            AisMessage::AidToNavigation(AidToNavigation {
                header,
                aid_type: b.get(38, 5) as u8,
                name,
                accuracy: b.flag(163),
                lon: longitude(b.get_signed(164, 28), 10_000.0)?,
                lat: latitude(b.get_signed(192, 27), 10_000.0)?,
                dims: dims(b, 219),
                epfd: b.get(249, 4) as u8,
                second: b.get(253, 6) as u8,
                off_position: b.flag(259),
                raim: b.flag(268),
                virtual_aid: b.flag(269),
            })
        }
        _ => AisMessage::Other(header),
    })
}

#[cfg(test)]
// Tests index their own fixtures; a panic there is a failed test, as it should be.
#[allow(clippy::indexing_slicing, clippy::arithmetic_side_effects)]
mod tests {
    use super::*;
    use crate::encode::BitWriter;

    fn dec(payload: &str, fill: u8) -> Result<AisMessage, DecodeError> {
        let mut b = BitBuf::default();
        b.load(payload.as_bytes(), fill)?;
        decode(&b)
    }

    /// Decodes a payload built bit by bit with the simulator's encoder: the expected values below
    /// are the fields written here and gpsd's length rules, not what the decoder produced.
    fn dec_bits(w: &BitWriter) -> Result<AisMessage, DecodeError> {
        let (payload, fill) = w.armour();
        dec(&payload, fill)
    }

    /// A message of `msg_type` with a header and `bits` bits in all, the rest zero.
    fn sized(msg_type: u8, bits: usize) -> BitWriter {
        let mut w = BitWriter::default();
        w.put(msg_type.into(), 6).put(0, 2).put(244_000_001, 30);
        for _ in 38..bits {
            w.put(0, 1);
        }
        w
    }

    /// A 96-bit type 27: status 0, 12 kn, course 270°, at 36.9° N 35.8° E (1/10 minute units).
    fn type27() -> BitWriter {
        let mut w = BitWriter::default();
        w.put(27, 6).put(0, 2).put(271_000_001, 30);
        w.put(0, 6); // accuracy, RAIM, status
        w.put_signed(35 * 600 + 480, 18);
        w.put_signed(36 * 600 + 540, 17);
        w.put(12, 6).put(270, 9);
        w.put(0, 2); // GNSS, spare
        w
    }

    #[test]
    fn too_long_is_refused_for_range_checked_types() {
        // gpsd's RANGE_CHECK(88, 168) for type 15 and (272, 368) for type 21.
        assert!(matches!(
            dec_bits(&sized(15, 168)),
            Ok(AisMessage::Other(h)) if h.msg_type == 15
        ));
        assert_eq!(
            dec_bits(&sized(15, 174)),
            Err(DecodeError::TooLong {
                msg_type: 15,
                bits: 174
            })
        );
        assert_eq!(
            dec_bits(&sized(15, 84)),
            Err(DecodeError::TooShort {
                msg_type: 15,
                bits: 84
            })
        );
        assert_eq!(
            dec_bits(&sized(21, 372)),
            Err(DecodeError::TooLong {
                msg_type: 21,
                bits: 372
            })
        );
        // A type 24 part A is 160 to 168 bits; part B has no maximum.
        assert!(matches!(
            dec_bits(&sized(24, 174)),
            Err(DecodeError::TooLong { msg_type: 24, .. })
        ));
        let mut part_b = sized(24, 38);
        part_b.put(1, 2);
        for _ in 40..174 {
            part_b.put(0, 1);
        }
        assert!(matches!(dec_bits(&part_b), Ok(AisMessage::StaticPartB(_))));
    }

    #[test]
    fn type27_is_96_or_168_bits_only() {
        let AisMessage::Position(p) = dec_bits(&type27()).unwrap() else {
            panic!()
        };
        assert_eq!((p.lat, p.lon), (Some(36.9), Some(35.8)));
        assert_eq!((p.speed, p.course), (Some(12.0), Some(270.0)));
        // A whole 168-bit slot: gpsd accepts it ("oversized 168-bit type 27").
        let mut slot = type27();
        slot.put(0, 36).put(0, 36);
        assert_eq!(slot.len(), 168);
        assert_eq!(dec_bits(&slot), dec_bits(&type27()));
        // Anything else is refused, however plausible its first 96 bits.
        for extra in [1, 6, 252] {
            let mut w = type27();
            for _ in 0..extra {
                w.put(1, 1);
            }
            assert_eq!(
                dec_bits(&w),
                Err(DecodeError::TooLong {
                    msg_type: 27,
                    bits: 96 + extra as u16
                })
            );
        }
    }

    #[test]
    fn types_ais_does_not_define_are_refused() {
        for t in [0, 28, 41, 63] {
            assert_eq!(dec_bits(&sized(t, 168)), Err(DecodeError::UnknownType(t)));
        }
    }

    /// A 424-bit type 5 whose destination's last character, `Y` (six-bit 011001), loses its low
    /// two bits when the message is cut at 420.
    fn type5() -> BitWriter {
        let mut w = BitWriter::default();
        w.put(5, 6).put(0, 2).put(244_000_002, 30);
        w.put(0, 2).put(9_123_456, 30).put_text("PD1234", 7);
        w.put_text("NORDIC STAR", 20).put(70, 8);
        w.put(100, 9).put(20, 9).put(5, 6).put(10, 6).put(1, 4);
        w.put(6, 4).put(15, 5).put(14, 5).put(30, 6).put(85, 8);
        w.put_text("ROTTERDAM EUROPOORTY", 20).put(1, 1).put(0, 1);
        assert_eq!(w.len(), 424);
        w
    }

    #[test]
    fn type5_of_420_and_422_bits_is_accepted_without_dte() {
        let (full, _) = type5().armour();
        let AisMessage::StaticVoyage(m) = dec(&full, 2).unwrap() else {
            panic!()
        };
        assert_eq!(m.destination.as_str(), "ROTTERDAM EUROPOORTY");
        assert_eq!(m.dte, Some(true));
        let AisMessage::StaticVoyage(m) = dec(&full, 4).unwrap() else {
            panic!()
        };
        assert_eq!(
            (m.destination.as_str(), m.dte),
            ("ROTTERDAM EUROPOORTY", None)
        );
        // 420 bits, 70 whole characters: gpsd reads the 4 bits of the last character that exist,
        // zero-padded, so `Y` (011001) becomes `X` (011000).
        let AisMessage::StaticVoyage(m) = dec(&full[..70], 0).unwrap() else {
            panic!()
        };
        assert_eq!(m.shipname.as_str(), "NORDIC STAR");
        assert_eq!(m.callsign.as_str(), "PD1234");
        assert_eq!(m.draught, 8.5);
        assert_eq!(
            (m.destination.as_str(), m.dte),
            ("ROTTERDAM EUROPOORTX", None)
        );
        assert_eq!(
            dec(&full[..70], 1),
            Err(DecodeError::TooShort {
                msg_type: 5,
                bits: 419
            })
        );
    }

    /// A type 21 with a 20-character name and `ext` as the name extension.
    fn type21(name: &str, ext: &str) -> BitWriter {
        let mut w = BitWriter::default();
        w.put(21, 6).put(0, 2).put(994_131_001, 30);
        w.put(1, 5); // aid type
        w.put_text(name, 20);
        w.put(0, 1); // accuracy
        w.put_signed(118 * 600_000 + 42 * 10_000, 28);
        w.put_signed(24 * 600_000 + 48 * 10_000, 27);
        w.put(0, 30); // dimensions
        w.put(1, 4).put(60, 6); // EPFD, second
        w.put(0, 13); // off position, regional, RAIM, virtual, assigned, spare
        assert_eq!(w.len(), 272);
        w.put_text(ext, ext.len());
        // Spare bits to the byte boundary, as the standard pads the extension.
        while w.len() % 8 != 0 {
            w.put(0, 1);
        }
        w
    }

    fn aid_name(w: &BitWriter) -> String {
        let Ok(AisMessage::AidToNavigation(m)) = dec_bits(w) else {
            panic!("{:?}", dec_bits(w))
        };
        m.name.as_str().to_string()
    }

    #[test]
    fn type21_name_continues_in_extension_even_after_a_space() {
        // Regression: the extension was appended only when the trimmed name had 20 characters,
        // so a name whose 20th character is a space lost it. gpsd prints the joined name.
        let name = "QUAN ZHOU WAN 5 HAO ";
        assert_eq!(name.len(), 20);
        assert_eq!(
            aid_name(&type21(name, "DENG FU")),
            "QUAN ZHOU WAN 5 HAO DENG FU"
        );
        // A name ending in `@` padding does not continue, whatever the extension bits hold.
        assert_eq!(aid_name(&type21("BUOY 1", "XYZ")), "BUOY 1");
        // Trailing spaces of the joined name are trimmed, and no extension leaves the name alone.
        assert_eq!(
            aid_name(&type21("FORT PIERCE INLET LB", " 6  ")),
            "FORT PIERCE INLET LB 6"
        );
        assert_eq!(aid_name(&type21(name, "")), "QUAN ZHOU WAN 5 HAO");
        // At the 368-bit maximum the extension holds 16 characters; gpsd 3.22 prints all 36.
        assert_eq!(
            aid_name(&type21("ABCDEFGHIJKLMNOPQRST", "0123456789ABCDEF")),
            "ABCDEFGHIJKLMNOPQRST0123456789ABCDEF"
        );
    }

    #[test]
    fn type1_fields() {
        let AisMessage::Position(p) = dec("15RTgt0PAso;90TKcjM8h6g208CQ", 0).unwrap() else {
            panic!()
        };
        assert_eq!(p.header.mmsi, 371_798_000);
        assert_eq!(p.speed, Some(12.3));
        assert!((p.lat.unwrap() - 48.381_633_3).abs() < 1e-6);
        assert!((p.lon.unwrap() + 123.395_383_3).abs() < 1e-6);
        assert_eq!(p.course, Some(224.0));
        assert_eq!(p.heading, Some(215));
        assert_eq!(p.turn, Some(-127));
    }

    #[test]
    fn short_payload_is_refused_not_zero_filled() {
        // gpsd's sample: the same type 1 with 5 fill bits is 163 bits long.
        assert_eq!(
            dec("13aIkM@P00PJ@qPNL=e@0?wJ28JO", 5),
            Err(DecodeError::TooShort {
                msg_type: 1,
                bits: 163
            })
        );
    }

    #[test]
    fn base_station_not_available_and_out_of_range() {
        let AisMessage::BaseStation(m) = dec("403OviQuMGCqWrRO9>E6fE700@GO", 0).unwrap() else {
            panic!()
        };
        assert_eq!(m.utc.unwrap().to_string(), "2007-05-14T19:57:39Z");
        // gpsd's sample with lon 205° and lat 109°: rejected with a reason.
        assert_eq!(
            dec("4>O7m7Iu@<9qUfbtm`vSnwvH20S8", 0),
            Err(DecodeError::LonOutOfRange)
        );
    }
}
