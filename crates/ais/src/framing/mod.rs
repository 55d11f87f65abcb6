//! Framing: bytes to checked AIS sentences.
//!
//! Owns everything between raw feed bytes and a [`Sentence`]: line splitting ([`lines`]), NMEA 4.10 tag
//! blocks ([`tagblock`]), the checksum, the `!xxVDM`/`!xxVDO` fields, and the timestamp conventions of
//! recorded logs. Pure and allocation-free: a [`Sentence`] borrows the line it came from. It must never
//! perform I/O, read a clock or panic on any input.

// Input path: no index or arithmetic that can panic on hostile input (ARCHITECTURE.md,
// invariants). Where a bound is proven, a local `allow` says why it holds.
#![deny(clippy::indexing_slicing, clippy::arithmetic_side_effects)]

pub mod lines;
pub mod receiver_clock;
pub mod tagblock;

use crate::time::UnixMillis;
pub use tagblock::{Group, TagBlock};

/// Why a line was not turned into a sentence. `Copy` and allocation-free, because bad lines are normal
/// and counting one must cost next to nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
pub enum FrameError {
    /// The sentence's `*hh` checksum does not match its content.
    #[error("sentence checksum mismatch")]
    BadChecksum,
    /// The tag block's `*hh` checksum does not match its content.
    #[error("tag block checksum mismatch")]
    BadTagChecksum,
    /// A tag block without a closing backslash or checksum.
    #[error("malformed tag block")]
    MalformedTagBlock,
    /// A `!xxVDM` sentence whose fields are not what the standard allows; the reason says which.
    #[error("malformed sentence: {0}")]
    Malformed(&'static str),
    /// A line that holds no sentence at all.
    #[error("not a sentence")]
    Garbage,
}

/// What one line held.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Line<'a> {
    /// An AIS data sentence with a good checksum.
    Sentence(Sentence<'a>),
    /// A receiver's clock (`$xxZDA`, a valid `$xxRMC`, Gatehouse `$PGHP`) with a good checksum: the
    /// time the receiver states for the sentences that follow it.
    ReceiverClock(UnixMillis),
    /// Another NMEA sentence (`$GPGGA`, `$PSHI`, `!AIABK`, ...), skipped quietly by callers.
    OtherSentence,
    /// An empty line, or only whitespace and NULs.
    Blank,
    /// A `#` comment, as in annotated test logs.
    Comment,
}

/// One checked `!xxVDM`/`!xxVDO` sentence and the metadata found on its line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sentence<'a> {
    /// The talker id (`AI`, `AB`, `BS`, ...).
    pub talker: [u8; 2],
    /// True for `VDO`: the receiver's own ship.
    pub own_ship: bool,
    /// Fragments in the message (1 to 9).
    pub total: u8,
    /// This fragment's number (1 to `total`).
    pub number: u8,
    /// The sequential message id tying fragments together, when the sender gave one.
    pub seq_id: Option<u8>,
    /// The radio channel (`A`, `B`, `1`, `2`), or 0 when the field is empty.
    pub channel: u8,
    /// The armoured six-bit payload, unchecked beyond the sentence checksum.
    pub payload: &'a [u8],
    /// Fill bits at the end of the payload (0 to 5).
    pub fill: u8,
    /// The NMEA 4.10 tag block, when the line had one.
    pub tag: TagBlock<'a>,
    /// A time from the recorded-log conventions: leading epoch or RFC 3339, or a trailing epoch.
    pub log_time: Option<UnixMillis>,
    /// A receiving station from a USCG-style trailing `r...` field.
    pub station: Option<&'a [u8]>,
    /// True when bytes that were neither a timestamp nor a tag block stood before the sentence, as
    /// when a line was cut by a reconnect and the next one was joined to it.
    pub garbage_prefix: bool,
}

/// XOR of all bytes: the NMEA checksum. Folds eight bytes at a time, since every sentence pays it.
pub(crate) fn xor_checksum(bytes: &[u8]) -> u8 {
    let mut words = bytes.chunks_exact(8);
    let mut w = 0u64;
    for c in &mut words {
        w ^= u64::from_ne_bytes(c.try_into().expect("8 bytes"));
    }
    let folded = w.to_ne_bytes().iter().fold(0, |acc, b| acc ^ b);
    words.remainder().iter().fold(folded, |acc, b| acc ^ b)
}

/// Two hex digits, either case. Works on bytes so that a multi-byte character is refused, not split.
pub(crate) fn hex_byte(text: &[u8]) -> Option<u8> {
    fn nibble(c: u8) -> Option<u8> {
        match c {
            b'0'..=b'9' => c.checked_sub(b'0'),
            b'a'..=b'f' => c.checked_sub(b'a' - 10),
            b'A'..=b'F' => c.checked_sub(b'A' - 10),
            _ => None,
        }
    }
    match text {
        [h, l, ..] => Some(nibble(*h)? << 4 | nibble(*l)?),
        _ => None,
    }
}

/// Splits `s` around the delimiter at `at` (an index a search returned): the bytes before it and
/// the bytes after it. `None` only when `at` is not an index of `s`.
pub(crate) fn split_around(s: &[u8], at: usize) -> Option<(&[u8], &[u8])> {
    let (before, from) = s.split_at_checked(at)?;
    Some((before, from.get(1..)?))
}

fn is_filler(c: u8) -> bool {
    c.is_ascii_whitespace() || c == 0
}

fn trim(mut s: &[u8]) -> &[u8] {
    while let [first, rest @ ..] = s {
        if is_filler(*first) {
            s = rest;
        } else {
            break;
        }
    }
    while let [rest @ .., last] = s {
        if is_filler(*last) {
            s = rest;
        } else {
            break;
        }
    }
    s
}

/// Whether `s` (from its `$` or `!`) starts like an NMEA sentence: an address of 2 to 6 printable
/// characters (`GPGGA`, `PGHP`, `AIABM`) and a comma. Without this, a `$` or `!` anywhere in a
/// binary file would count as a sentence we merely do not use, and the file would not be reported as
/// rejected.
fn has_address(s: &[u8]) -> bool {
    let address = s.iter().skip(1).take(7).position(|&c| c == b',');
    matches!(address, Some(n) if (2..=6).contains(&n)
        && s.get(1..=n).is_some_and(|a| a.iter().all(u8::is_ascii_graphic)))
}

/// Classifies and parses one line (without its line ending).
pub fn parse_line(line: &[u8]) -> Result<Line<'_>, FrameError> {
    let line = trim(line);
    let Some(&first) = line.first() else {
        return Ok(Line::Blank);
    };
    if first == b'#' {
        return Ok(Line::Comment);
    }
    // The last `!` starts the sentence: neither payload armour, tag blocks nor trailing log fields
    // contain one, and taking the last one recovers a good sentence joined to a cut one.
    let Some(bang) = memchr::memrchr(b'!', line) else {
        return match memchr::memchr(b'$', line).and_then(|dollar| line.get(dollar..)) {
            Some(from_dollar) if has_address(from_dollar) => {
                Ok(receiver_clock::parse(from_dollar)
                    .map_or(Line::OtherSentence, Line::ReceiverClock))
            }
            _ => Err(FrameError::Garbage),
        };
    };
    let Some((mut prefix, sentence)) = line.split_at_checked(bang) else {
        return Err(FrameError::Garbage);
    };
    if !matches!(sentence.get(3..6), Some(b"VDM" | b"VDO")) {
        return if has_address(sentence) {
            Ok(Line::OtherSentence)
        } else {
            Err(FrameError::Garbage)
        };
    }

    let mut tag = TagBlock::default();
    if let [before @ .., b'\\'] = prefix {
        let open = memchr::memrchr(b'\\', before).ok_or(FrameError::MalformedTagBlock)?;
        let (rest, block) = split_around(before, open).ok_or(FrameError::MalformedTagBlock)?;
        tag = tagblock::parse(block)?;
        prefix = rest;
    }
    let (log_time, garbage_prefix) = parse_prefix(prefix);

    let star = memchr::memchr(b'*', sentence).ok_or(FrameError::Malformed("no checksum"))?;
    if star < 6 {
        return Err(FrameError::Malformed("bad address field"));
    }
    let (head, checksum) =
        split_around(sentence, star).ok_or(FrameError::Malformed("no checksum"))?;
    // `head` starts with the `!`.
    let body = head.get(1..).unwrap_or_default();
    // `!AIVDM*hh`: an address and nothing else. Checked before any field is taken.
    let [t0, t1, _, _, kind, comma, fields @ ..] = body else {
        return Err(FrameError::Malformed("wrong field count"));
    };
    let expected = hex_byte(checksum).ok_or(FrameError::Malformed("bad checksum field"))?;
    if xor_checksum(body) != expected {
        return Err(FrameError::BadChecksum);
    }
    // Two hex digits were read, so the trailing fields start two bytes on.
    let (trailing_time, station) = parse_trailing(checksum.get(2..).unwrap_or_default());

    // Any two printable characters: national networks use talkers outside the standard list
    // (`!BYVDM`, `!=IVDM`), and the checksum, not the talker, is what protects the data.
    let talker = [*t0, *t1];
    if !talker.iter().all(u8::is_ascii_graphic) {
        return Err(FrameError::Malformed("bad talker"));
    }
    // `comma` is the byte after the address field. The four short fields are taken from the
    // front and the fill bits from the back, so the payload itself is never scanned for commas: a
    // comma inside it is caught as bad armour by the decoder.
    if *comma != b',' {
        return Err(FrameError::Malformed("bad address field"));
    }
    let malformed = FrameError::Malformed("wrong field count");
    let (total, rest) = short_field(fields).ok_or(malformed)?;
    let (number, rest) = short_field(rest).ok_or(malformed)?;
    let (seq, rest) = short_field(rest).ok_or(malformed)?;
    let (channel, rest) = short_field(rest).ok_or(malformed)?;
    let comma = memchr::memrchr(b',', rest).ok_or(malformed)?;
    let (payload, fill) = split_around(rest, comma).ok_or(malformed)?;
    let total = single_digit(total).ok_or(FrameError::Malformed("bad fragment count"))?;
    let number = single_digit(number).ok_or(FrameError::Malformed("bad fragment number"))?;
    if total == 0 || number == 0 || number > total {
        return Err(FrameError::Malformed("fragment number out of range"));
    }
    let seq_id = match seq {
        [] => None,
        _ => Some(single_digit(seq).ok_or(FrameError::Malformed("bad sequence id"))?),
    };
    // Any channel value (`A`, `B`, `1`, `2`, `0`, `X`, ...): receivers disagree on the convention
    // and it only separates fragment streams. The first character stands for a longer value.
    let channel = match channel {
        [] => 0,
        [c, ..] if c.is_ascii_graphic() => *c,
        _ => return Err(FrameError::Malformed("bad channel")),
    };
    let fill = match fill {
        [] => 0,
        _ => match single_digit(fill) {
            Some(f) if f <= 5 => f,
            _ => return Err(FrameError::Malformed("bad fill bits")),
        },
    };
    Ok(Line::Sentence(Sentence {
        talker,
        own_ship: *kind == b'O',
        total,
        number,
        seq_id,
        channel,
        payload,
        fill,
        tag,
        log_time: log_time.or(trailing_time),
        station,
        garbage_prefix,
    }))
}

/// Splits off a field of at most three bytes and its comma; longer fields are malformed here.
fn short_field(s: &[u8]) -> Option<(&[u8], &[u8])> {
    let i = s.iter().take(4).position(|&b| b == b',')?;
    split_around(s, i)
}

fn single_digit(field: &[u8]) -> Option<u8> {
    match field {
        [d] if d.is_ascii_digit() => d.checked_sub(b'0'),
        _ => None,
    }
}

/// A leading log timestamp: `1735826400 !AIVDM...` or `2024-12-02T14:00:00Z !AIVDM...`, optionally
/// followed by `:` or `;`. Returns the time and whether unrecognised bytes stood there.
fn parse_prefix(prefix: &[u8]) -> (Option<UnixMillis>, bool) {
    let mut p = trim(prefix);
    while let [rest @ .., b':' | b';' | b',' | b'|'] = p {
        p = trim(rest);
    }
    if p.is_empty() {
        return (None, false);
    }
    let t = if p.first().is_some_and(u8::is_ascii_digit) {
        UnixMillis::parse_epoch(p).or_else(|| UnixMillis::parse_rfc3339(p))
    } else {
        None
    };
    (t, t.is_none())
}

/// Fields after the checksum: an exactEarth/AMSA `,<epoch>` or `,<epoch ms>`, and the USCG fields
/// (`,s36310,d-081,T59.0,r08TPHI1,1242958962`). The first epoch-like field is the receive time.
fn parse_trailing(rest: &[u8]) -> (Option<UnixMillis>, Option<&[u8]>) {
    let rest = trim(rest);
    let Some(rest) = rest.strip_prefix(b",") else {
        return (None, None);
    };
    let (mut time, mut station) = (None, None);
    for field in rest.split(|&b| b == b',') {
        match field.first() {
            Some(b'0'..=b'9') if time.is_none() => time = UnixMillis::parse_epoch(field),
            Some(b'r') if field.len() > 1 && station.is_none() => station = field.get(1..),
            _ => {}
        }
    }
    (time, station)
}

#[cfg(test)]
// Tests index their own fixtures; a panic there is a failed test, as it should be.
#[allow(clippy::indexing_slicing, clippy::arithmetic_side_effects)]
mod tests {
    use super::*;

    fn sentence(line: &str) -> Sentence<'_> {
        match parse_line(line.as_bytes()) {
            Ok(Line::Sentence(s)) => s,
            other => panic!("{line}: {other:?}"),
        }
    }

    #[test]
    fn plain_sentence() {
        let s = sentence("!AIVDM,1,1,,A,15RTgt0PAso;90TKcjM8h6g208CQ,0*4A");
        assert_eq!(&s.talker, b"AI");
        assert!(!s.own_ship);
        assert_eq!(
            (s.total, s.number, s.seq_id, s.channel, s.fill),
            (1, 1, None, b'A', 0)
        );
        assert_eq!(s.payload, b"15RTgt0PAso;90TKcjM8h6g208CQ");
        assert_eq!(s.log_time, None);
        assert!(!s.garbage_prefix);
    }

    #[test]
    fn checksum_either_case_and_mismatch() {
        // 0x4A written lower case still matches.
        assert!(matches!(
            parse_line(b"!AIVDM,1,1,,A,15RTgt0PAso;90TKcjM8h6g208CQ,0*4a"),
            Ok(Line::Sentence(_))
        ));
        assert_eq!(
            parse_line(b"!AIVDM,1,1,,A,15RTgt0PAso;90TKcjM8h6g208CQ,0*4B"),
            Err(FrameError::BadChecksum)
        );
        // A multi-byte character in the checksum field is refused, not a panic.
        assert_eq!(
            parse_line("!AIVDM,1,1,,A,15RTgt0PAso;90TKcjM8h6g208CQ,0*é".as_bytes()),
            Err(FrameError::Malformed("bad checksum field"))
        );
    }

    #[test]
    fn other_talkers_and_vdo() {
        let body = "BSVDO,1,1,,B,15RTgt0PAso;90TKcjM8h6g208CQ,0";
        let line = format!("!{body}*{:02X}", xor_checksum(body.as_bytes()));
        let s = sentence(&line);
        assert_eq!(&s.talker, b"BS");
        assert!(s.own_ship);
    }

    #[test]
    fn any_printable_talker_and_any_channel() {
        // Seen on national feeds: talkers outside the standard list, channels 0, X or none.
        for (talker, channel, want) in [
            ("=I", "A", b'A'),
            ("BY", "0", b'0'),
            ("AB", "X", b'X'),
            ("AI", "", 0),
            ("AI", "AB", b'A'),
        ] {
            let body = format!("{talker}VDM,1,1,,{channel},15RTgt0PAso;90TKcjM8h6g208CQ,0");
            let line = format!("!{body}*{:02X}", xor_checksum(body.as_bytes()));
            let s = sentence(&line);
            assert_eq!(s.talker, talker.as_bytes(), "{line}");
            assert_eq!(s.channel, want, "{line}");
        }
        let body = "A VDM,1,1,,A,15RTgt0PAso;90TKcjM8h6g208CQ,0";
        let line = format!("!{body}*{:02X}", xor_checksum(body.as_bytes()));
        assert_eq!(
            parse_line(line.as_bytes()),
            Err(FrameError::Malformed("bad talker"))
        );
    }

    #[test]
    fn address_without_fields_is_malformed_not_a_panic() {
        // Regression: `!AIVDM*57` indexed past the end of the address field.
        assert_eq!(
            parse_line(b"!AIVDM*57"),
            Err(FrameError::Malformed("wrong field count"))
        );
        assert_eq!(
            parse_line(b"!AIVDM,*7B"),
            Err(FrameError::Malformed("wrong field count"))
        );
    }

    #[test]
    fn receiver_clock_lines() {
        assert_eq!(
            parse_line(b"$GPZDA,201530.00,04,07,2002,00,00*60"),
            Ok(Line::ReceiverClock(UnixMillis(1_025_813_730_000)))
        );
        assert_eq!(
            parse_line(b"$GPZDA,201530.00,04,07,2002,00,00*61"),
            Ok(Line::OtherSentence)
        );
    }

    #[test]
    fn leading_and_trailing_timestamps() {
        let s = sentence("1735826400 !AIVDM,1,1,,A,15RTgt0PAso;90TKcjM8h6g208CQ,0*4A");
        assert_eq!(s.log_time, Some(UnixMillis(1_735_826_400_000)));
        let s = sentence("2024-12-02T14:00:00Z !AIVDM,1,1,,A,15RTgt0PAso;90TKcjM8h6g208CQ,0*4A");
        assert_eq!(s.log_time.unwrap().to_string(), "2024-12-02T14:00:00Z");
        let s = sentence("!AIVDM,1,1,,A,15RTgt0PAso;90TKcjM8h6g208CQ,0*4A,1735826400123");
        assert_eq!(s.log_time, Some(UnixMillis(1_735_826_400_123)));
        let s = sentence(
            "!AIVDM,1,1,,B,;4R33:1uUK2F`q?mOt@@GoQ00000,0*5D,s28089,d-103,T39.44353985,x147521,r08TPHI1,1242958962",
        );
        assert_eq!(s.log_time, Some(UnixMillis(1_242_958_962_000)));
        assert_eq!(s.station, Some(&b"08TPHI1"[..]));
    }

    #[test]
    fn tag_block_with_sentence() {
        let s = sentence(
            "\\g:1-2-1604,s:rORBCOMM008,c:1418169601,T:2014-12-10 00.00.01*37\\!AIVDM,2,1,6,A,53@o0E000001Q0CG37U8u<Tp4q@D00000000000018330400000000000000,0*63",
        );
        assert_eq!(s.tag.source, Some(&b"rORBCOMM008"[..]));
        assert_eq!(s.tag.group.unwrap().id, 1604);
        assert_eq!((s.total, s.number, s.seq_id), (2, 1, Some(6)));
    }

    #[test]
    fn cut_line_recovers_the_good_sentence() {
        let s = sentence("!AIVDM,1,1,,A,15RT\0\0!AIVDM,1,1,,A,15RTgt0PAso;90TKcjM8h6g208CQ,0*4A");
        assert!(s.garbage_prefix);
        assert_eq!(s.payload, b"15RTgt0PAso;90TKcjM8h6g208CQ");
    }

    #[test]
    fn other_lines() {
        assert_eq!(
            parse_line(b"$GPGSA,A,3,,,,,,,,,,,,,,,*1C"),
            Ok(Line::OtherSentence)
        );
        assert_eq!(parse_line(b"\0\0  \r"), Ok(Line::Blank));
        assert_eq!(parse_line(b"# comment"), Ok(Line::Comment));
        assert_eq!(parse_line(b"hello"), Err(FrameError::Garbage));
        // A `$` or `!` in noise is not a sentence.
        assert_eq!(parse_line(b"x\x93$\x01\xff,,"), Err(FrameError::Garbage));
        assert_eq!(parse_line(b"abc!de"), Err(FrameError::Garbage));
        assert_eq!(parse_line(b"!AIABM,1,1,0,,,0*hh"), Ok(Line::OtherSentence));
        assert_eq!(parse_line(b"$PGHP,9"), Ok(Line::OtherSentence));
        let body = "AIVDM,1,2,,A,15RTgt0PAso;90TKcjM8h6g208CQ,0";
        let line = format!("!{body}*{:02X}", xor_checksum(body.as_bytes()));
        assert_eq!(
            parse_line(line.as_bytes()),
            Err(FrameError::Malformed("fragment number out of range"))
        );
        assert_eq!(
            parse_line(b"!*IVDM"),
            Err(FrameError::Malformed("bad address field"))
        );
    }
}
