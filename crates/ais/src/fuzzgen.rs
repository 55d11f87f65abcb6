//! Structured hostile feeds, shared by the `sentences` fuzz target and the property tests.
//!
//! Owns the generator of feeds that reach the deep code: sentences and tag blocks with valid
//! checksums around nonsense fields, lengths and fragment orders. Random bytes almost never pass a
//! checksum, so a byte fuzzer stops at framing; the `!AIVDM*57` panic (an address and a valid
//! checksum, nothing else) lived exactly where it could not reach.
//!
//! One generator for both harnesses: a [`Feed`] is built by `arbitrary` from unstructured bytes, so
//! cargo-fuzz mutates the bytes with coverage feedback and the property tests (`cargo test`) draw
//! the bytes from proptest and build the same [`Feed`] with [`Feed::from_bytes`]. [`Feed::check`]
//! holds the invariants both assert. Behind the `fuzzgen` feature, so a normal build carries
//! neither `arbitrary` nor this module. It only builds bytes and runs the public front end: no I/O.

use arbitrary::{Arbitrary, Unstructured};

use crate::decode::{self, AisMessage, BitBuf};
use crate::encode::{self, BaseStationReport, BitWriter, PositionReport, StaticReport};
use crate::frontend::{FrontEnd, FrontEndConfig, Outcome};
use crate::reassembly::Limits;
use crate::time::UnixMillis;

/// The longest line the checked front end keeps: small, so that the cap is exercised too.
pub const MAX_LINE: usize = 512;
/// The most partial messages the checked front end holds: small, so that eviction is exercised.
pub const MAX_PENDING: usize = 8;

/// A whole feed: messages cut into fragments, noise lines, a shuffle of the lines, and the chunk
/// size the bytes arrive in.
#[derive(Debug, Clone, Arbitrary)]
pub struct Feed {
    /// The messages, each rendered as one or more sentences.
    pub messages: Vec<Message>,
    /// Other lines, inserted at fuzzer-chosen places.
    pub noise: Vec<(u16, Noise)>,
    /// Pairs of line indices to swap (taken modulo the line count): fragments out of order.
    pub swaps: Vec<(u16, u16)>,
    /// Bytes per chunk handed to the front end (0 is taken as 1).
    pub chunk: u8,
}

/// One AIS message as the generator sends it.
#[derive(Debug, Clone, Arbitrary)]
pub struct Message {
    /// What the payload holds.
    pub body: Body,
    /// The talker id.
    pub talker: Talker,
    /// `VDO` instead of `VDM`.
    pub own_ship: bool,
    /// The channel byte, or an empty field.
    pub channel: Option<u8>,
    /// The sequential message id (taken modulo 10), or an empty field.
    pub seq_id: Option<u8>,
    /// Where the armoured payload is cut into fragments (positions modulo its length); at most
    /// nine fragments are made.
    pub cuts: Vec<u16>,
    /// A tag block on every fragment, with `g:` numbering when there are several.
    pub tag: Option<Tag>,
    /// Damage to single fragments: (fragment index modulo the count, damage).
    pub damage: Vec<(u8, Damage)>,
    /// How each line of the message ends.
    pub ending: Ending,
}

/// A payload: made by the encoder from fields of any value, or bits of any length, or bytes that
/// need not be armour at all.
#[derive(Debug, Clone, Arbitrary)]
pub enum Body {
    /// A position report (types 1, 2, 3, 18 or whatever `msg_type` says), fields unchecked.
    Position {
        /// Written as the six-bit type field.
        msg_type: u8,
        /// MMSI (low 30 bits are sent).
        mmsi: u32,
        /// Navigational status.
        status: u8,
        /// Speed, possibly NaN or huge.
        speed: Option<f32>,
        /// Latitude, possibly beyond ±90° or NaN.
        lat: f64,
        /// Longitude, possibly beyond ±180° or NaN.
        lon: f64,
        /// Course.
        course: Option<f32>,
        /// Heading, possibly 360 to 511 or beyond.
        heading: Option<u16>,
        /// UTC second, possibly 60 to 63 or beyond.
        second: u8,
    },
    /// A type 5 (or a type 24 pair's part A when `class_b`) with any texts and IMO.
    Static {
        /// Type 24 part A instead of type 5.
        class_b: bool,
        /// MMSI.
        mmsi: u32,
        /// IMO (low 30 bits are sent).
        imo: Option<u32>,
        /// Call sign.
        callsign: String,
        /// Name.
        name: String,
        /// Destination.
        destination: String,
        /// Bits kept of the encoded message (all when 0): a message cut anywhere.
        keep_bits: u16,
    },
    /// A type 4 with any time and position.
    BaseStation {
        /// MMSI.
        mmsi: u32,
        /// The stated time in ms, taken within ±10^14 (the year 5138).
        utc: Option<i64>,
        /// Latitude.
        lat: f64,
        /// Longitude.
        lon: f64,
    },
    /// Bits of any length (`bits` modulo 1100): every message type, every length.
    Bits {
        /// The bits, most significant first, zero beyond the end.
        bytes: Vec<u8>,
        /// How many bits.
        bits: u16,
    },
    /// Bytes sent as the payload field, armour or not (commas, stars, backslashes included).
    Raw(Vec<u8>),
}

/// A talker id.
#[derive(Debug, Clone, Copy, Arbitrary)]
pub enum Talker {
    /// `AI`.
    Ai,
    /// `AB`, a base station.
    Ab,
    /// `BS`.
    Bs,
    /// Any two bytes.
    Any([u8; 2]),
}

/// An NMEA 4.10 tag block's fields, with odd values allowed.
#[derive(Debug, Clone, Arbitrary)]
pub struct Tag {
    /// `s:`, the source.
    pub source: Option<String>,
    /// `c:`, the time in seconds or milliseconds, any value.
    pub time: Option<u64>,
    /// `g:`'s group id; the `n-m` part follows the fragments (or `override_group` says otherwise).
    pub group: Option<u32>,
    /// `n:`, the line count.
    pub line: Option<u32>,
    /// Any further field, verbatim.
    pub extra: Option<String>,
    /// A `g:` value written verbatim instead of the fragment numbering.
    pub override_group: Option<String>,
    /// Write a wrong tag-block checksum.
    pub bad_checksum: bool,
    /// Leave out the closing backslash.
    pub unclosed: bool,
}

/// Damage to one fragment's sentence; the checksum is still computed over the damaged text unless
/// the damage is to the checksum.
#[derive(Debug, Clone, Arbitrary)]
pub enum Damage {
    /// Replace the fragment-count field.
    Total(String),
    /// Replace the fragment-number field.
    Number(String),
    /// Replace the sequence-id field.
    Seq(String),
    /// Replace the fill-bits field.
    Fill(String),
    /// Write a wrong sentence checksum.
    BadChecksum,
    /// Cut the line after this many bytes (modulo its length), checksum and all.
    Truncate(u16),
    /// Send the fragment twice.
    Repeat,
    /// Drop the fragment.
    Drop,
    /// Put log fields after the checksum (`,<epoch>`, `,r<station>`).
    Trailing(String),
    /// Put bytes before the line (a log timestamp, or garbage from a cut line).
    Prefix(String),
}

/// A line ending.
#[derive(Debug, Clone, Copy, Arbitrary)]
pub enum Ending {
    /// `\n`.
    Lf,
    /// `\r\n`.
    CrLf,
    /// `\r` alone: the next line is joined to this one.
    Cr,
    /// NULs, then `\n`, as some receivers pad.
    NulLf,
    /// None: the next line is joined to this one.
    Joined,
}

/// A line that is not part of a message.
#[derive(Debug, Clone, Arbitrary)]
pub enum Noise {
    /// Any bytes.
    Raw(Vec<u8>),
    /// A `$GPZDA` receiver clock with any field values and a valid checksum.
    Zda {
        /// hhmmss.
        time: u32,
        /// Day.
        day: u8,
        /// Month.
        month: u8,
        /// Year.
        year: u16,
    },
    /// A sentence that is only an address and a valid checksum, like `!AIVDM*57`.
    AddressOnly(Talker),
}

/// What the front end made of a feed, for the invariants.
#[derive(Debug, Default)]
pub struct Run {
    /// Every message decoded, in order.
    pub decoded: Vec<AisMessage>,
    /// Lines the rendered bytes hold (newlines, plus a final unterminated line).
    pub lines: u64,
    /// Outcomes the front end counted, over all lines.
    pub outcomes: u64,
    /// Messages it counted as decoded.
    pub counted_decoded: u64,
}

fn checksum(bytes: &[u8]) -> u8 {
    bytes.iter().fold(0, |a, b| a ^ b)
}

fn hex(out: &mut Vec<u8>, byte: u8) {
    out.extend_from_slice(format!("{byte:02X}").as_bytes());
}

/// Bytes that cannot change how a line is split into fields: printable, and none of the
/// delimiters `,` `*` `\` `!` `$`.
fn inert(bytes: &[u8]) -> bool {
    bytes
        .iter()
        .all(|b| b.is_ascii_graphic() && !b",*\\!$".contains(b))
}

impl Talker {
    fn bytes(self) -> [u8; 2] {
        match self {
            Talker::Ai => *b"AI",
            Talker::Ab => *b"AB",
            Talker::Bs => *b"BS",
            Talker::Any(b) => b,
        }
    }
}

impl Ending {
    fn bytes(self) -> &'static [u8] {
        match self {
            Ending::Lf => b"\n",
            Ending::CrLf => b"\r\n",
            Ending::Cr => b"\r",
            Ending::NulLf => b"\0\0\n",
            Ending::Joined => b"",
        }
    }
}

impl Body {
    /// The armoured payload and its fill bits.
    fn armour(&self) -> (Vec<u8>, u8) {
        let w = match self {
            Body::Position {
                msg_type,
                mmsi,
                status,
                speed,
                lat,
                lon,
                course,
                heading,
                second,
            } => encode::position(&PositionReport {
                msg_type: *msg_type,
                mmsi: *mmsi,
                status: *status,
                speed: *speed,
                lat: *lat,
                lon: *lon,
                course: *course,
                heading: *heading,
                second: *second,
            }),
            Body::Static {
                class_b,
                mmsi,
                imo,
                callsign,
                name,
                destination,
                keep_bits,
            } => {
                let s = StaticReport {
                    dims: None,
                    mmsi: *mmsi,
                    imo: *imo,
                    callsign: callsign.clone(),
                    name: name.clone(),
                    shiptype: 70,
                    destination: destination.clone(),
                };
                let full = if *class_b {
                    encode::static_class_b(&s).0
                } else {
                    encode::static_voyage(&s)
                };
                let (armoured, fill) = full.armour();
                let keep = usize::from(*keep_bits);
                if keep == 0 || keep >= full.len() {
                    return (armoured.into_bytes(), fill);
                }
                let mut cut = BitWriter::default();
                let mut reader = BitBuf::default();
                if reader.load(armoured.as_bytes(), fill).is_ok() {
                    for i in 0..keep {
                        cut.put(reader.get(i, 1), 1);
                    }
                }
                cut
            }
            Body::BaseStation {
                mmsi,
                utc,
                lat,
                lon,
            } => encode::base_station(&BaseStationReport {
                mmsi: *mmsi,
                utc: utc.map(|t| UnixMillis(t % 100_000_000_000_000)),
                lat: *lat,
                lon: *lon,
            }),
            Body::Bits { bytes, bits } => {
                let mut w = BitWriter::default();
                for i in 0..usize::from(*bits % 1100) {
                    let byte = bytes.get(i / 8).copied().unwrap_or(0);
                    w.put(u64::from((byte >> (7 - i % 8)) & 1), 1);
                }
                w
            }
            Body::Raw(bytes) => return (bytes.clone(), 0),
        };
        let (armoured, fill) = w.armour();
        (armoured.into_bytes(), fill)
    }
}

/// What keeps fragment streams apart, as the generator sees it: talker, channel, sequence id
/// and tag-block group.
type Key = ([u8; 2], Option<u8>, Option<u8>, Option<u32>);

/// A rendered message: its lines, and what an honest receiver must make of it.
struct Rendered {
    lines: Vec<Vec<u8>>,
    /// The decode of the whole payload, when every fragment was sent intact and no delimiter
    /// could shift a field: the only message the front end may make of these fragments.
    expected: Option<Result<AisMessage, decode::DecodeError>>,
    /// What tells this message's fragments apart from another's (talker, channel, sequence id,
    /// group), when it has several; the station is left out, because an unnamed later fragment
    /// may continue a named first one.
    key: Option<Key>,
}

impl Message {
    fn render(&self) -> Rendered {
        let (payload, fill) = self.body.armour();
        let mut cuts: Vec<usize> = if payload.is_empty() {
            Vec::new()
        } else {
            self.cuts
                .iter()
                .map(|c| usize::from(*c) % payload.len())
                .filter(|&c| c > 0)
                .collect()
        };
        cuts.sort_unstable();
        cuts.dedup();
        cuts.truncate(8);
        let mut pieces = Vec::with_capacity(cuts.len() + 1);
        let mut from = 0;
        for c in cuts {
            pieces.push(&payload[from..c]);
            from = c;
        }
        pieces.push(&payload[from..]);
        let total = pieces.len();
        let talker = self.talker.bytes();
        let seq = self.seq_id.map(|s| s % 10);
        let mut lines = Vec::new();
        let mut honest = inert(&talker)
            && self.channel.is_none_or(|c| inert(&[c]))
            && !matches!(self.body, Body::Raw(_))
            && self.damage.is_empty();
        for (i, piece) in pieces.iter().enumerate() {
            let number = i + 1;
            let damage: Vec<&Damage> = self
                .damage
                .iter()
                .filter(|(at, _)| usize::from(*at) % total == i)
                .map(|(_, d)| d)
                .collect();
            let field = |pick: fn(&Damage) -> Option<&String>, default: String| {
                damage
                    .iter()
                    .find_map(|d| pick(d))
                    .map_or(default.into_bytes(), |s| s.clone().into_bytes())
            };
            let mut line = Vec::new();
            for d in &damage {
                if let Damage::Prefix(p) = d {
                    line.extend_from_slice(p.as_bytes());
                }
            }
            if let Some(tag) = &self.tag {
                honest &= tag.render(&mut line, number, total);
            }
            let mut body = Vec::new();
            body.extend_from_slice(&talker);
            body.extend_from_slice(if self.own_ship { b"VDO," } else { b"VDM," });
            body.extend(field(
                |d| matches!(d, Damage::Total(_)).then(|| d.text()),
                total.to_string(),
            ));
            body.push(b',');
            body.extend(field(
                |d| matches!(d, Damage::Number(_)).then(|| d.text()),
                number.to_string(),
            ));
            body.push(b',');
            body.extend(field(
                |d| matches!(d, Damage::Seq(_)).then(|| d.text()),
                seq.map_or(String::new(), |s| s.to_string()),
            ));
            body.push(b',');
            body.extend(self.channel);
            body.push(b',');
            body.extend_from_slice(piece);
            body.push(b',');
            let fill = if number == total { fill } else { 0 };
            body.extend(field(
                |d| matches!(d, Damage::Fill(_)).then(|| d.text()),
                fill.to_string(),
            ));
            line.push(b'!');
            line.extend_from_slice(&body);
            line.push(b'*');
            let bad = damage.iter().any(|d| matches!(d, Damage::BadChecksum));
            hex(&mut line, checksum(&body) ^ u8::from(bad));
            for d in &damage {
                match d {
                    Damage::Trailing(t) => {
                        line.push(b',');
                        line.extend_from_slice(t.as_bytes());
                    }
                    Damage::Truncate(n) if !line.is_empty() => {
                        line.truncate(usize::from(*n) % line.len());
                    }
                    _ => {}
                }
            }
            line.extend_from_slice(self.ending.bytes());
            let drop = damage.iter().any(|d| matches!(d, Damage::Drop));
            let repeat = damage.iter().any(|d| matches!(d, Damage::Repeat));
            if !drop {
                if repeat {
                    lines.push(line.clone());
                }
                lines.push(line);
            }
        }
        let expected = honest.then(|| {
            let mut bits = BitBuf::default();
            bits.load(&payload, fill)
                .and_then(|()| decode::decode(&bits))
        });
        let group = self
            .tag
            .as_ref()
            .filter(|t| !t.bad_checksum && !t.unclosed)
            .and_then(|t| t.group);
        let channel = self.channel;
        Rendered {
            lines,
            expected,
            key: (total > 1).then_some((talker, channel, seq, group)),
        }
    }
}

impl Damage {
    fn text(&self) -> &String {
        match self {
            Damage::Total(s)
            | Damage::Number(s)
            | Damage::Seq(s)
            | Damage::Fill(s)
            | Damage::Trailing(s)
            | Damage::Prefix(s) => s,
            _ => unreachable!("only called for the field damages"),
        }
    }
}

impl Tag {
    /// Writes `\...*hh\` for fragment `number` of `total`; returns whether the tag block leaves the
    /// fragment's key as the generator computes it (no delimiter in a value, checksum good).
    fn render(&self, line: &mut Vec<u8>, number: usize, total: usize) -> bool {
        let mut fields: Vec<Vec<u8>> = Vec::new();
        let mut clean = true;
        if let Some(id) = self.group {
            match &self.override_group {
                Some(g) => {
                    fields.push(format!("g:{g}").into_bytes());
                    clean = false;
                }
                None if total > 1 => fields.push(format!("g:{number}-{total}-{id}").into_bytes()),
                None => {}
            }
        }
        if let Some(s) = &self.source {
            clean &= inert(s.as_bytes()) && !s.is_empty();
            fields.push(format!("s:{s}").into_bytes());
        }
        if let Some(c) = self.time {
            fields.push(format!("c:{c}").into_bytes());
        }
        if let Some(n) = self.line {
            fields.push(format!("n:{n}").into_bytes());
        }
        if let Some(x) = &self.extra {
            clean &= inert(x.as_bytes());
            fields.push(x.clone().into_bytes());
        }
        let content = fields.join(&b',');
        line.push(b'\\');
        line.extend_from_slice(&content);
        line.push(b'*');
        hex(line, checksum(&content) ^ u8::from(self.bad_checksum));
        if !self.unclosed {
            line.push(b'\\');
        }
        clean && !self.bad_checksum && !self.unclosed
    }
}

impl Noise {
    fn render(&self) -> (Vec<u8>, bool) {
        let (mut line, inert) = match self {
            Noise::Raw(b) => (b.clone(), false),
            Noise::Zda {
                time,
                day,
                month,
                year,
            } => {
                let body = format!("GPZDA,{time:06}.00,{day:02},{month:02},{year},00,00");
                (
                    format!("${body}*{:02X}", checksum(body.as_bytes())).into_bytes(),
                    true,
                )
            }
            Noise::AddressOnly(t) => {
                let mut body = t.bytes().to_vec();
                body.extend_from_slice(b"VDM");
                let mut line = vec![b'!'];
                line.extend_from_slice(&body);
                line.push(b'*');
                hex(&mut line, checksum(&body));
                (line, inert(&t.bytes()))
            }
        };
        line.push(b'\n');
        (line, inert)
    }
}

impl Feed {
    /// Builds a feed from unstructured bytes, as the fuzz target's `arbitrary` does: the property
    /// tests call this with proptest's bytes so that both run one generator.
    pub fn from_bytes(bytes: &[u8]) -> arbitrary::Result<Self> {
        Feed::arbitrary_take_rest(Unstructured::new(bytes))
    }

    /// The feed as bytes, with what an honest receiver may decode from it: `Some(expected)` when
    /// every line is intact and every multi-fragment message has its own key, so that each
    /// decoded message must be the decode of one whole generated message.
    pub fn render(&self) -> (Vec<u8>, Option<Vec<AisMessage>>) {
        let mut lines = Vec::new();
        let mut expected = Some(Vec::new());
        let mut keys = Vec::new();
        for m in &self.messages {
            let r = m.render();
            lines.extend(r.lines);
            match (r.expected, &mut expected) {
                (Some(Ok(msg)), Some(list)) => list.push(msg),
                (Some(_), _) => {}
                (None, _) => expected = None,
            }
            if let Some(k) = r.key {
                if keys.contains(&k) {
                    expected = None;
                }
                keys.push(k);
            }
        }
        for (at, noise) in &self.noise {
            let (line, inert) = noise.render();
            if !inert {
                expected = None;
            }
            let at = usize::from(*at) % (lines.len() + 1);
            lines.insert(at, line);
        }
        let n = lines.len();
        if n > 1 {
            for (a, b) in &self.swaps {
                lines.swap(usize::from(*a) % n, usize::from(*b) % n);
            }
        }
        (lines.concat(), expected)
    }

    /// Runs the rendered feed through a front end with small caps, checking the caps after every
    /// chunk, and checks the invariants; `Err` says which broke.
    pub fn check(&self) -> Result<Run, String> {
        let (bytes, expected) = self.render();
        let mut fe = FrontEnd::new(FrontEndConfig {
            max_line: MAX_LINE,
            limits: Limits {
                max_pending: MAX_PENDING,
                ..Limits::default()
            },
        });
        let mut run = Run {
            lines: bytes.iter().filter(|&&b| b == b'\n').count() as u64
                + u64::from(bytes.last().is_some_and(|&b| b != b'\n')),
            ..Run::default()
        };
        for chunk in bytes.chunks(usize::from(self.chunk.max(1))) {
            fe.push_bytes(0, chunk, |d| run.decoded.push(d.message));
            if fe.buffered_bytes() > MAX_LINE {
                return Err(format!("{} bytes buffered", fe.buffered_bytes()));
            }
            if fe.pending_fragments() > MAX_PENDING {
                return Err(format!("{} partial messages", fe.pending_fragments()));
            }
        }
        fe.finish_feed(0, |d| run.decoded.push(d.message));
        run.outcomes = fe.counters().total();
        run.counted_decoded = fe.counters().get(Outcome::Decoded);
        if run.outcomes > run.lines {
            return Err(format!("{} outcomes for {} lines", run.outcomes, run.lines));
        }
        if run.counted_decoded != run.decoded.len() as u64 {
            return Err(format!(
                "{} decoded, {} counted",
                run.decoded.len(),
                run.counted_decoded
            ));
        }
        for m in &run.decoded {
            let h = m.header();
            // Six bits of type, of which AIS defines 1 to 27; thirty bits of MMSI. (An MMSI
            // above 999,999,999 fits in thirty bits and is passed on, as gpsd passes it.)
            if !(1..=27).contains(&h.msg_type) || h.mmsi >= 1 << 30 {
                return Err(format!("impossible header {h:?}"));
            }
        }
        if let Some(mut unused) = expected {
            // Fragments of different messages never mix: every message decoded is one whole
            // generated message, each at most once.
            for m in &run.decoded {
                let Some(i) = unused.iter().position(|e| e == m) else {
                    return Err(format!("decoded a message nobody sent: {m:?}"));
                };
                unused.swap_remove(i);
            }
        }
        Ok(run)
    }
}
