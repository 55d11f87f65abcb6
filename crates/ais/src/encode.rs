//! AIS encoding: typed fields to armoured payloads and NMEA sentences, the inverse of `decode`.
//!
//! Owns the bit layouts for the messages the simulator writes (types 1/2/3, 4, 5, 18, 24 A/B) and the
//! sentence and tag-block framing with checksums. Written here because no maintained Rust crate
//! encodes AIS; the layouts are the ones `decode` reads, and a round-trip test holds them together.

use crate::time::UnixMillis;

/// Builds a payload bit by bit.
#[derive(Debug, Default, Clone)]
pub struct BitWriter {
    bits: Vec<bool>,
}

impl BitWriter {
    /// Appends the low `width` bits of `value`, most significant first.
    pub fn put(&mut self, value: u64, width: u32) -> &mut Self {
        for i in (0..width).rev() {
            self.bits.push((value >> i) & 1 == 1);
        }
        self
    }

    /// Appends a two's complement signed value.
    pub fn put_signed(&mut self, value: i64, width: u32) -> &mut Self {
        self.put((value as u64) & ((1u64 << width) - 1), width)
    }

    /// Appends `chars` six-bit characters of `text` (upper case ASCII), padded with `@`.
    pub fn put_text(&mut self, text: &str, chars: usize) -> &mut Self {
        let bytes = text.as_bytes();
        for i in 0..chars {
            let c = bytes.get(i).copied().unwrap_or(b'@').to_ascii_uppercase();
            let v = match c {
                64..=95 => c - 64,
                32..=63 => c,
                _ => 0,
            };
            self.put(u64::from(v), 6);
        }
        self
    }

    /// Bits written.
    pub fn len(&self) -> usize {
        self.bits.len()
    }

    /// True when nothing is written.
    pub fn is_empty(&self) -> bool {
        self.bits.is_empty()
    }

    /// The armoured payload and its fill bits.
    pub fn armour(&self) -> (String, u8) {
        let fill = (6 - self.bits.len() % 6) % 6;
        let mut out = String::with_capacity(self.bits.len() / 6 + 1);
        for chunk in self.bits.chunks(6) {
            let mut v = 0u8;
            for i in 0..6 {
                v = v << 1 | u8::from(chunk.get(i).copied().unwrap_or(false));
            }
            out.push(char::from(if v < 40 { v + 48 } else { v + 56 }));
        }
        (out, fill as u8)
    }
}

/// Fields of a position report (types 1, 2, 3 and 18), in the units `decode` returns.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PositionReport {
    /// 1, 2, 3 (class A) or 18 (class B).
    pub msg_type: u8,
    /// MMSI.
    pub mmsi: u32,
    /// Navigational status (class A).
    pub status: u8,
    /// Knots; `None` is "not available".
    pub speed: Option<f32>,
    /// Degrees.
    pub lat: f64,
    /// Degrees.
    pub lon: f64,
    /// Degrees; `None` is "not available".
    pub course: Option<f32>,
    /// Degrees; `None` is "not available".
    pub heading: Option<u16>,
    /// UTC second.
    pub second: u8,
}

/// Encodes a position report.
pub fn position(p: &PositionReport) -> BitWriter {
    let mut w = BitWriter::default();
    w.put(u64::from(p.msg_type), 6)
        .put(0, 2)
        .put(u64::from(p.mmsi), 30);
    if p.msg_type == 18 {
        w.put(0, 8);
    } else {
        w.put(u64::from(p.status), 4).put_signed(-128, 8);
    }
    let speed = p.speed.map_or(1023, |s| {
        (f64::from(s) * 10.0).round().clamp(0.0, 1022.0) as u64
    });
    let course = p.course.map_or(3600, |c| {
        (f64::from(c) * 10.0).round().rem_euclid(3600.0) as u64
    });
    w.put(speed, 10)
        .put(1, 1)
        .put_signed((p.lon * 600_000.0).round() as i64, 28)
        .put_signed((p.lat * 600_000.0).round() as i64, 27)
        .put(course, 12)
        .put(p.heading.map_or(511, u64::from), 9)
        .put(u64::from(p.second), 6);
    if p.msg_type == 18 {
        w.put(0, 2).put(0b11100, 5).put(0, 1).put(0, 1).put(0, 20);
    } else {
        w.put(0, 2).put(0, 3).put(0, 1).put(0, 19);
    }
    w
}

/// Fields of a static report, for type 5 (class A) or 24 A/B (class B).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaticReport {
    /// MMSI.
    pub mmsi: u32,
    /// IMO number (type 5 only).
    pub imo: Option<u32>,
    /// Call sign.
    pub callsign: String,
    /// Ship name.
    pub name: String,
    /// Ship and cargo type.
    pub shiptype: u8,
    /// Destination (type 5 only).
    pub destination: String,
    /// Metres to bow, stern, port and starboard (type 5 only); `None` for 100, 20, 8 and 8, what
    /// every report said before this field existed (so the seed fixtures' feeds stay the same).
    pub dims: Option<(u16, u16, u8, u8)>,
}

/// Encodes a type 5 (424 bits, sent as two fragments).
pub fn static_voyage(s: &StaticReport) -> BitWriter {
    let mut w = BitWriter::default();
    w.put(5, 6)
        .put(0, 2)
        .put(u64::from(s.mmsi), 30)
        .put(0, 2)
        .put(u64::from(s.imo.unwrap_or(0)), 30)
        .put_text(&s.callsign, 7)
        .put_text(&s.name, 20)
        .put(u64::from(s.shiptype), 8);
    let (bow, stern, port, starboard) = s.dims.unwrap_or((100, 20, 8, 8));
    w.put(u64::from(bow), 9)
        .put(u64::from(stern), 9)
        .put(u64::from(port), 6)
        .put(u64::from(starboard), 6)
        .put(1, 4)
        .put(0, 20)
        .put(60, 8)
        .put_text(&s.destination, 20)
        .put(0, 1)
        .put(0, 1);
    w
}

/// Encodes a type 24 part A (name) and part B (type and call sign).
pub fn static_class_b(s: &StaticReport) -> (BitWriter, BitWriter) {
    let mut a = BitWriter::default();
    a.put(24, 6)
        .put(0, 2)
        .put(u64::from(s.mmsi), 30)
        .put(0, 2)
        .put_text(&s.name, 20);
    let mut b = BitWriter::default();
    b.put(24, 6)
        .put(0, 2)
        .put(u64::from(s.mmsi), 30)
        .put(1, 2)
        .put(u64::from(s.shiptype), 8)
        .put_text("SIM", 3)
        .put(0, 4)
        .put(0, 20)
        .put_text(&s.callsign, 7)
        .put(10, 9)
        .put(5, 9)
        .put(3, 6)
        .put(3, 6)
        .put(0, 6);
    (a, b)
}

/// Fields of a type 4 base station report.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BaseStationReport {
    /// MMSI.
    pub mmsi: u32,
    /// The UTC time the station states; `None` sends the "not available" values.
    pub utc: Option<UnixMillis>,
    /// Latitude in degrees.
    pub lat: f64,
    /// Longitude in degrees.
    pub lon: f64,
}

/// Encodes a type 4 (168 bits).
pub fn base_station(b: &BaseStationReport) -> BitWriter {
    let (y, mo, d, h, mi, s) = b.utc.map_or((0, 0, 0, 24, 60, 60), UnixMillis::to_civil);
    let mut w = BitWriter::default();
    w.put(4, 6)
        .put(0, 2)
        .put(u64::from(b.mmsi), 30)
        .put(u64::from(y), 14)
        .put(u64::from(mo), 4)
        .put(u64::from(d), 5)
        .put(u64::from(h), 5)
        .put(u64::from(mi), 6)
        .put(u64::from(s), 6)
        .put(1, 1)
        .put_signed((b.lon * 600_000.0).round() as i64, 28)
        .put_signed((b.lat * 600_000.0).round() as i64, 27)
        .put(1, 4)
        .put(0, 10)
        .put(0, 1)
        .put(0, 19);
    w
}

fn checksum(s: &str) -> u8 {
    s.bytes().fold(0, |a, b| a ^ b)
}

/// Frames a payload as one or more `!AIVDM` sentences (at most 60 characters of payload each), each
/// with an NMEA 4.10 tag block carrying the source, the time and, for several fragments, the group.
pub fn sentences(
    payload: &str,
    fill: u8,
    channel: char,
    seq_id: u8,
    station: &str,
    time_s: i64,
    group_id: u32,
) -> Vec<String> {
    let pieces: Vec<&str> = payload
        .as_bytes()
        .chunks(60)
        .map(|c| std::str::from_utf8(c).expect("armour is ASCII"))
        .collect();
    let n = pieces.len();
    pieces
        .iter()
        .enumerate()
        .map(|(i, piece)| {
            let tag = if n > 1 {
                format!("g:{}-{n}-{group_id},s:{station},c:{time_s}", i + 1)
            } else {
                format!("s:{station},c:{time_s}")
            };
            let seq = if n > 1 {
                seq_id.to_string()
            } else {
                String::new()
            };
            let f = if i + 1 == n { fill } else { 0 };
            let body = format!("AIVDM,{n},{},{seq},{channel},{piece},{f}", i + 1);
            format!(
                "\\{tag}*{:02X}\\!{body}*{:02X}",
                checksum(&tag),
                checksum(&body)
            )
        })
        .collect()
}
