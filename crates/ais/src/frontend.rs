//! The decoding front end: feed bytes to [`Decoded`] messages, with every outcome counted.
//!
//! Owns the composition of the first three pipeline stages (line splitting, framing, reassembly,
//! decoding) and the [`Counters`] that account for every line. Pure: bytes and message time in,
//! values out; it never performs I/O or reads a clock, so replay is deterministic and the whole front
//! end can be fuzzed. Callers own the sockets and files.

// Input path: no index or arithmetic that can panic on hostile input (ARCHITECTURE.md,
// invariants). Where a bound is proven, a local `allow` says why it holds.
#![deny(clippy::indexing_slicing, clippy::arithmetic_side_effects)]

use crate::decode::{self, AisMessage, BitBuf, DecodeError};
use crate::framing::{self, FrameError, Line, lines::LineSplitter};
use crate::reassembly::{
    Assembly, Fragment, FragmentError, FragmentKey, Limits, Reassembler, ReassemblyStats, Tick,
};
use crate::time::UnixMillis;

/// A short identifier (tag-block source, receiving station) held inline so that carrying it with
/// every message costs no allocation. Printable ASCII only, at most 32 bytes.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Station {
    len: u8,
    buf: [u8; 32],
}

impl Station {
    /// Copies `bytes` when they are 1 to 32 printable ASCII characters; anything else is not a
    /// usable name and is dropped.
    pub fn new(bytes: &[u8]) -> Option<Self> {
        if bytes.is_empty() || bytes.len() > 32 || !bytes.iter().all(|b| b.is_ascii_graphic()) {
            return None;
        }
        let mut buf = [0; 32];
        buf.get_mut(..bytes.len())?.copy_from_slice(bytes);
        Some(Self {
            len: bytes.len() as u8,
            buf,
        })
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        let name = self.buf.get(..usize::from(self.len)).unwrap_or_default();
        std::str::from_utf8(name).unwrap_or("")
    }
}

impl std::fmt::Debug for Station {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(self.as_str(), f)
    }
}

/// What is known about a message besides its payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Meta {
    /// The feed it came from (an index the caller assigns per file or socket).
    pub feed: u32,
    /// Talker id of the (first) sentence.
    pub talker: [u8; 2],
    /// True for `VDO`, the receiver's own ship.
    pub own_ship: bool,
    /// Radio channel, 0 when not given.
    pub channel: u8,
    /// Tag-block time (`c:`).
    pub tag_time: Option<UnixMillis>,
    /// Tag-block source (`s:`).
    pub tag_source: Option<Station>,
    /// Time from a recorded log's leading or trailing timestamp.
    pub log_time: Option<UnixMillis>,
    /// Receiving station from a log's trailing fields.
    pub station: Option<Station>,
    /// The latest receiver clock (`$xxZDA`, `$xxRMC`, `$PGHP`) seen on this feed before the
    /// message: the receiver's time when the feed carries no per-sentence time.
    pub receiver_time: Option<UnixMillis>,
}

impl Meta {
    /// The message time the feed states, preferring the tag block over log conventions. `None` when
    /// the feed has no time; later stages then derive one.
    pub fn time(&self) -> Option<UnixMillis> {
        self.tag_time.or(self.log_time)
    }
}

/// A decoded message with its metadata.
#[derive(Debug, Clone, PartialEq)]
pub struct Decoded {
    /// The message.
    pub message: AisMessage,
    /// Where and when it was received.
    pub meta: Meta,
}

macro_rules! outcomes {
    ($($variant:ident => $name:literal, $doc:literal;)*) => {
        /// Every way a line (or, for fragments, a sentence) can end. Each is counted.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Outcome {
            $(#[doc = $doc] $variant,)*
        }

        impl Outcome {
            /// Every outcome, in summary order.
            pub const ALL: &'static [Outcome] = &[$(Outcome::$variant,)*];

            /// A short stable name for summaries and metrics.
            pub fn name(self) -> &'static str {
                match self { $(Outcome::$variant => $name,)* }
            }
        }
    };
}

outcomes! {
    Decoded => "decoded", "A message decoded (counted by type too).";
    FragmentBuffered => "fragment_buffered", "A fragment stored until its message completes.";
    Blank => "blank", "An empty line.";
    Comment => "comment", "A `#` comment line.";
    ReceiverClock => "receiver_clock", "A receiver clock sentence (ZDA, RMC, PGHP): times what follows.";
    OtherSentence => "other_sentence", "A non-AIS NMEA sentence, skipped quietly.";
    Garbage => "garbage", "A line holding no sentence.";
    LineTooLong => "line_too_long", "A line over the length cap, dropped unread.";
    BadChecksum => "bad_checksum", "A sentence failing its checksum.";
    BadTagChecksum => "bad_tag_checksum", "A tag block failing its checksum.";
    MalformedTagBlock => "malformed_tag_block", "A tag block without checksum or closing backslash.";
    MalformedSentence => "malformed_sentence", "A sentence whose fields break the standard.";
    OrphanFragment => "orphan_fragment", "A later fragment whose first fragment was not seen.";
    FragmentMismatch => "fragment_mismatch", "A fragment that does not continue its message.";
    EmptyPayload => "empty_payload", "An empty payload.";
    PayloadTooLong => "payload_too_long", "A payload longer than any AIS message.";
    BadArmour => "bad_armour", "A payload character outside the six-bit armour.";
    BadFill => "bad_fill", "Fill bits that do not fit the payload.";
    WrongLength => "wrong_length", "A payload too short or too long for its message type.";
    UnknownType => "unknown_type", "A message type AIS does not define (0, 28–63).";
    LatOutOfRange => "lat_out_of_range", "Latitude beyond ±90°.";
    LonOutOfRange => "lon_out_of_range", "Longitude beyond ±180°.";
    BadPartNumber => "bad_part_number", "A type 24 part number other than A or B.";
}

impl From<FrameError> for Outcome {
    fn from(e: FrameError) -> Self {
        match e {
            FrameError::BadChecksum => Outcome::BadChecksum,
            FrameError::BadTagChecksum => Outcome::BadTagChecksum,
            FrameError::MalformedTagBlock => Outcome::MalformedTagBlock,
            FrameError::Malformed(_) => Outcome::MalformedSentence,
            FrameError::Garbage => Outcome::Garbage,
        }
    }
}

impl From<FragmentError> for Outcome {
    fn from(e: FragmentError) -> Self {
        match e {
            FragmentError::Orphan => Outcome::OrphanFragment,
            FragmentError::Mismatch => Outcome::FragmentMismatch,
            FragmentError::TooLong => Outcome::PayloadTooLong,
        }
    }
}

impl From<DecodeError> for Outcome {
    fn from(e: DecodeError) -> Self {
        match e {
            DecodeError::EmptyPayload => Outcome::EmptyPayload,
            DecodeError::PayloadTooLong => Outcome::PayloadTooLong,
            DecodeError::BadArmour => Outcome::BadArmour,
            DecodeError::BadFill => Outcome::BadFill,
            DecodeError::TooShort { .. } | DecodeError::TooLong { .. } => Outcome::WrongLength,
            DecodeError::UnknownType(_) => Outcome::UnknownType,
            DecodeError::LatOutOfRange => Outcome::LatOutOfRange,
            DecodeError::LonOutOfRange => Outcome::LonOutOfRange,
            DecodeError::BadPartNumber => Outcome::BadPartNumber,
        }
    }
}

/// Counts of every outcome, decoded messages by type, and reassembly drops.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Counters {
    outcomes: [u64; Outcome::ALL.len()],
    /// Decoded messages by message type (index 0–63).
    pub by_type: [u64; 64],
    /// Sentences recovered from behind unrecognised bytes (a line cut by a reconnect).
    pub garbage_prefix: u64,
    /// Decoded positions whose course was out of range (set to `None`, message kept).
    pub invalid_course: u64,
    /// Decoded positions whose heading was out of range (set to `None`, message kept).
    pub invalid_heading: u64,
    /// Partial messages dropped by the reassembler.
    pub reassembly: ReassemblyStats,
}

impl Default for Counters {
    fn default() -> Self {
        Self {
            outcomes: [0; Outcome::ALL.len()],
            by_type: [0; 64],
            garbage_prefix: 0,
            invalid_course: 0,
            invalid_heading: 0,
            reassembly: ReassemblyStats::default(),
        }
    }
}

impl Counters {
    /// How often `outcome` happened.
    pub fn get(&self, outcome: Outcome) -> u64 {
        // `outcomes` has one entry per outcome.
        self.outcomes.get(outcome as usize).copied().unwrap_or(0)
    }

    #[inline]
    fn add(&mut self, outcome: Outcome) {
        self.add_n(outcome, 1);
    }

    #[inline]
    fn add_n(&mut self, outcome: Outcome, n: u64) {
        if let Some(count) = self.outcomes.get_mut(outcome as usize) {
            *count = count.saturating_add(n);
        }
    }

    /// Lines refused as damaged or unusable: every outcome but a decoded message, a buffered
    /// fragment, a receiver clock, another NMEA sentence, a blank line or a comment.
    pub fn rejected(&self) -> u64 {
        let fine = [
            Outcome::Decoded,
            Outcome::FragmentBuffered,
            Outcome::ReceiverClock,
            Outcome::OtherSentence,
            Outcome::Blank,
            Outcome::Comment,
        ];
        // The fine outcomes are some of all of them: never more than the total.
        self.total()
            .saturating_sub(fine.iter().map(|o| self.get(*o)).sum::<u64>())
    }

    /// Lines and sentences accounted for, over all outcomes.
    pub fn total(&self) -> u64 {
        self.outcomes.iter().sum()
    }

    /// The non-zero counts as (name, count), in a stable order: outcomes, then decoded types, then
    /// reassembly drops. What `decode` prints and metrics export.
    pub fn summary(&self) -> Vec<(String, u64)> {
        let mut rows: Vec<(String, u64)> = Outcome::ALL
            .iter()
            .map(|o| (o.name().to_string(), self.get(*o)))
            .collect();
        rows.extend(
            self.by_type
                .iter()
                .enumerate()
                .map(|(t, n)| (format!("decoded_type_{t}"), *n)),
        );
        rows.push(("garbage_prefix_recovered".into(), self.garbage_prefix));
        rows.push(("course_out_of_range".into(), self.invalid_course));
        rows.push(("heading_out_of_range".into(), self.invalid_heading));
        rows.push(("partial_expired".into(), self.reassembly.expired));
        rows.push(("partial_evicted".into(), self.reassembly.evicted));
        rows.push(("partial_superseded".into(), self.reassembly.superseded));
        rows.retain(|(_, n)| *n > 0);
        rows
    }
}

/// Settings of a front end.
#[derive(Debug, Clone, Copy)]
pub struct FrontEndConfig {
    /// Longest line kept, in bytes.
    pub max_line: usize,
    /// Reassembly limits.
    pub limits: Limits,
}

impl Default for FrontEndConfig {
    fn default() -> Self {
        Self {
            max_line: framing::lines::DEFAULT_MAX_LINE,
            limits: Limits::default(),
        }
    }
}

/// Feed bytes or lines in, decoded messages out. One per pipeline; feeds are told apart by the
/// `feed` index so that their partial lines and fragments never mix.
#[derive(Debug)]
pub struct FrontEnd {
    config: FrontEndConfig,
    splitters: Vec<LineSplitter>,
    /// Per feed, the latest receiver clock.
    receiver_times: Vec<Option<UnixMillis>>,
    reassembler: Reassembler<Meta>,
    bits: BitBuf,
    counters: Counters,
    sentences: u64,
}

impl Default for FrontEnd {
    fn default() -> Self {
        Self::new(FrontEndConfig::default())
    }
}

impl FrontEnd {
    /// A front end with the given limits.
    pub fn new(config: FrontEndConfig) -> Self {
        Self {
            config,
            splitters: Vec::new(),
            receiver_times: Vec::new(),
            reassembler: Reassembler::new(config.limits),
            bits: BitBuf::default(),
            counters: Counters::default(),
            sentences: 0,
        }
    }

    /// Everything counted so far.
    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    /// Partial messages held now.
    pub fn pending_fragments(&self) -> usize {
        self.reassembler.pending()
    }

    /// Partial messages held now for one feed.
    pub fn pending_fragments_of(&self, feed: u32) -> usize {
        self.reassembler.pending_for(feed)
    }

    /// Bytes held for incomplete lines, over all feeds; each feed holds at most `max_line`.
    pub fn buffered_bytes(&self) -> usize {
        self.splitters.iter().map(LineSplitter::buffered).sum()
    }

    fn splitter(&mut self, feed: u32) -> &mut LineSplitter {
        let i = feed as usize;
        if self.splitters.len() <= i {
            let max = self.config.max_line;
            self.splitters
                .resize_with(i.saturating_add(1), || LineSplitter::new(max));
        }
        // In bounds: resized above to hold index `i` (a `u32`, so `i + 1` cannot overflow).
        #[allow(clippy::indexing_slicing)]
        &mut self.splitters[i]
    }

    /// Feeds a chunk of raw bytes from `feed`, calling `emit` for each decoded message.
    pub fn push_bytes(&mut self, feed: u32, chunk: &[u8], mut emit: impl FnMut(Decoded)) {
        // The splitter is taken out while it runs, because its callback needs `&mut self`; an
        // empty `LineSplitter` allocates nothing, so this costs two moves per chunk.
        let mut splitter = std::mem::take(self.splitter(feed));
        let before = splitter.too_long();
        splitter.push(chunk, |line| {
            if let Some(d) = self.push_line(feed, line) {
                emit(d);
            }
        });
        // The splitter's count only grows.
        self.count_too_long(splitter.too_long().saturating_sub(before));
        *self.splitter(feed) = splitter;
    }

    /// Ends `feed`'s stream (end of file): a last line without a newline is still decoded.
    pub fn finish_feed(&mut self, feed: u32, mut emit: impl FnMut(Decoded)) {
        let mut splitter = std::mem::take(self.splitter(feed));
        splitter.finish(|line| {
            if let Some(d) = self.push_line(feed, line) {
                emit(d);
            }
        });
        *self.splitter(feed) = splitter;
    }

    /// Forgets `feed`'s partial line and receiver clock, as after a reconnect.
    pub fn reset_feed(&mut self, feed: u32) {
        self.splitter(feed).reset();
        if let Some(t) = self.receiver_times.get_mut(feed as usize) {
            *t = None;
        }
    }

    fn receiver_time(&self, feed: u32) -> Option<UnixMillis> {
        self.receiver_times.get(feed as usize).copied().flatten()
    }

    fn count_too_long(&mut self, n: u64) {
        self.counters.add_n(Outcome::LineTooLong, n);
    }

    /// Processes one line (without line ending) from `feed`.
    pub fn push_line(&mut self, feed: u32, line: &[u8]) -> Option<Decoded> {
        match self.line(feed, line) {
            Ok(d) => Some(d),
            Err(outcome) => {
                self.counters.add(outcome);
                None
            }
        }
    }

    fn line(&mut self, feed: u32, line: &[u8]) -> Result<Decoded, Outcome> {
        let s = match framing::parse_line(line)? {
            Line::Sentence(s) => s,
            Line::ReceiverClock(t) => {
                let i = feed as usize;
                if self.receiver_times.len() <= i {
                    self.receiver_times.resize(i.saturating_add(1), None);
                }
                if let Some(slot) = self.receiver_times.get_mut(i) {
                    *slot = Some(t);
                }
                return Err(Outcome::ReceiverClock);
            }
            Line::OtherSentence => return Err(Outcome::OtherSentence),
            Line::Blank => return Err(Outcome::Blank),
            Line::Comment => return Err(Outcome::Comment),
        };
        self.sentences = self.sentences.saturating_add(1);
        if s.garbage_prefix {
            self.counters.garbage_prefix = self.counters.garbage_prefix.saturating_add(1);
        }
        let meta = Meta {
            feed,
            talker: s.talker,
            own_ship: s.own_ship,
            channel: s.channel,
            tag_time: s.tag.time,
            tag_source: s.tag.source.and_then(Station::new),
            log_time: s.log_time,
            station: s.station.and_then(Station::new),
            receiver_time: self.receiver_time(feed),
        };
        let (meta, loaded) = if s.total == 1 {
            (meta, self.bits.load(s.payload, s.fill))
        } else {
            let key = FragmentKey {
                feed,
                station: FragmentKey::station_hash(s.tag.source.or(s.station)),
                talker: s.talker,
                channel: s.channel,
                seq_id: s.seq_id,
                group: s.tag.group.map(|g| g.id),
            };
            let now = Tick {
                time: meta.time(),
                sentence: self.sentences,
            };
            let pushed = self.reassembler.push(
                key,
                Fragment {
                    total: s.total,
                    number: s.number,
                    payload: s.payload,
                    fill: s.fill,
                },
                now,
                meta,
            );
            let loaded = match pushed {
                Assembly::Complete {
                    payload,
                    fill,
                    meta,
                } => Ok((meta, self.bits.load(payload, fill))),
                Assembly::Pending => Err(Outcome::FragmentBuffered),
                Assembly::Rejected(e) => Err(e.into()),
            };
            self.counters.reassembly = self.reassembler.stats();
            loaded?
        };
        loaded?;
        let message = decode::decode(&self.bits)?;
        self.counters.add(Outcome::Decoded);
        let c = &mut self.counters;
        if let Some(n) = c
            .by_type
            .get_mut(usize::from(message.header().msg_type & 63))
        {
            *n = n.saturating_add(1);
        }
        if let AisMessage::Position(p) | AisMessage::ExtendedClassB(p, _) = &message {
            c.invalid_course = c.invalid_course.saturating_add(u64::from(p.invalid.course));
            c.invalid_heading = c
                .invalid_heading
                .saturating_add(u64::from(p.invalid.heading));
        }
        Ok(Decoded { message, meta })
    }
}

#[cfg(test)]
// Tests index their own fixtures; a panic there is a failed test, as it should be.
#[allow(clippy::indexing_slicing, clippy::arithmetic_side_effects)]
mod tests {
    use super::*;

    fn decode_all(text: &str) -> (Vec<Decoded>, FrontEnd) {
        let mut fe = FrontEnd::default();
        let mut out = Vec::new();
        fe.push_bytes(0, text.as_bytes(), |d| out.push(d));
        fe.finish_feed(0, |d| out.push(d));
        (out, fe)
    }

    #[test]
    fn multi_fragment_with_tag_blocks_keeps_first_fragment_meta() {
        let (out, fe) = decode_all(concat!(
            "\\g:1-2-1604,s:rORBCOMM008,c:1418169601,T:2014-12-10 00.00.01*37\\!AIVDM,2,1,6,A,53@o0E000001Q0CG37U8u<Tp4q@D00000000000018330400000000000000,0*63\n",
            "\\g:2-2-1604,s:rORBCOMM008,c:1418169601,T:2014-12-10 00.00.01*34\\!AIVDM,2,2,6,A,00000000008,2*2A\n",
        ));
        assert_eq!(out.len(), 1);
        let AisMessage::StaticVoyage(m) = &out[0].message else {
            panic!("{out:?}")
        };
        assert_eq!(m.shipname.as_str(), "ROSINANTE");
        assert_eq!(out[0].meta.tag_source.unwrap().as_str(), "rORBCOMM008");
        assert_eq!(out[0].meta.time(), Some(UnixMillis(1_418_169_601_000)));
        assert_eq!(fe.counters().get(Outcome::FragmentBuffered), 1);
        assert_eq!(fe.counters().by_type[5], 1);
    }

    #[test]
    fn every_line_is_counted_once() {
        let (out, fe) = decode_all(concat!(
            "!AIVDM,1,1,,A,15RTgt0PAso;90TKcjM8h6g208CQ,0*4A\r\n",
            "!AIVDM,1,1,,A,15RTgt0PAso;90TKcjM8h6g208CQ,0*4B\n",
            "$GPZDA,201530.00,04,07,2002,00,00*60\n",
            "$GPGSA,A,3,,,,,,,,,,,,,,,*1C\n",
            "\n",
            "junk\n",
            "!AIVDM,2,2,4,A,UPP8k;JvOeD,2*7F\n",
            "!AIVDM,1,1,,A,13aIkM@P00PJ@qPNL=e@0?wJ28JO,5*63\n",
        ));
        assert_eq!(out.len(), 1);
        let c = fe.counters();
        for (o, n) in [
            (Outcome::Decoded, 1),
            (Outcome::BadChecksum, 1),
            (Outcome::ReceiverClock, 1),
            (Outcome::OtherSentence, 1),
            (Outcome::Blank, 1),
            (Outcome::Garbage, 1),
            (Outcome::OrphanFragment, 1),
            (Outcome::WrongLength, 1),
        ] {
            assert_eq!(c.get(o), n, "{o:?}");
        }
        assert_eq!(c.total(), 8);
    }

    #[test]
    fn receiver_clock_times_the_sentences_after_it_on_its_feed() {
        let mut fe = FrontEnd::default();
        let mut out = Vec::new();
        let text = concat!(
            "!AIVDM,1,1,,A,15RTgt0PAso;90TKcjM8h6g208CQ,0*4A\n",
            "$PGHP,1,2008,5,9,0,0,0,10,338,2,,1,09*17\n",
            "!AIVDM,1,1,,A,15RTgt0PAso;90TKcjM8h6g208CQ,0*4A\n",
        );
        fe.push_bytes(0, text.as_bytes(), |d| out.push(d));
        fe.push_bytes(1, &text.as_bytes()[..50], |d| out.push(d));
        let times: Vec<_> = out
            .iter()
            .map(|d| d.meta.receiver_time.map(|t| t.to_string()))
            .collect();
        assert_eq!(
            times,
            [None, Some("2008-05-09T00:00:00.010Z".to_string()), None]
        );
        fe.reset_feed(0);
        let mut after = Vec::new();
        fe.push_bytes(0, &text.as_bytes()[..50], |d| after.push(d));
        assert_eq!(after[0].meta.receiver_time, None);
    }

    #[test]
    fn uscg_groups_reassemble_when_later_lines_carry_only_the_group() {
        // The NAIS format: the second line of a group has `g:` and `n:` but no `s:` or `c:`.
        let line = |tag: &str, body: &str| {
            let cs = |t: &str| framing::xor_checksum(t.as_bytes());
            format!("\\{tag}*{:02X}\\!{body}*{:02X}\n", cs(tag), cs(body))
        };
        let text = line(
            "g:1-2-73874,n:157036,s:r003669945,c:1241544035",
            "AIVDM,2,1,6,A,53@o0E000001Q0CG37U8u<Tp4q@D00000000000018330400000000000000,0",
        ) + &line("g:2-2-73874,n:157037", "AIVDM,2,2,6,A,00000000008,2");
        let (out, fe) = decode_all(&text);
        assert_eq!(fe.counters().get(Outcome::OrphanFragment), 0);
        assert_eq!(out.len(), 1, "{:?}", fe.counters().summary());
        let AisMessage::StaticVoyage(m) = &out[0].message else {
            panic!("{out:?}")
        };
        assert_eq!(m.shipname.as_str(), "ROSINANTE");
        assert_eq!(out[0].meta.tag_source.unwrap().as_str(), "r003669945");
        assert_eq!(out[0].meta.time(), Some(UnixMillis(1_241_544_035_000)));
    }
}
