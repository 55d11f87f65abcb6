//! NMEA 4.10 tag blocks: `\s:rORBCOMM008,c:1418169601,g:1-2-1604*37\`.
//!
//! Owns the parsing of the tag-block content between the two backslashes. Pure; borrows the line.
//! Unknown keys are ignored so that a feed adding fields never breaks ingestion.

use super::{FrameError, hex_byte, split_around, xor_checksum};
use crate::time::{UnixMillis, parse_u64};

/// The fields of a tag block that vesselwatch uses.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TagBlock<'a> {
    /// `s:`, the source station (a receiver or satellite name). Part of the reassembly key, so that
    /// two receivers' fragments never mix.
    pub source: Option<&'a [u8]>,
    /// `c:`, the time the sentence was received, in seconds or milliseconds.
    pub time: Option<UnixMillis>,
    /// `g:`, the sentence group, which ties the fragments of one message together across lines.
    pub group: Option<Group>,
}

/// A tag-block sentence group (`g:n-m-id`): sentence `number` of `total`, group `id`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Group {
    /// 1-based number of this sentence in the group.
    pub number: u8,
    /// Sentences in the group.
    pub total: u8,
    /// The group id, unique per source for a while.
    pub id: u32,
}

/// Parses the text between the backslashes, checksum included (`s:x,c:1*hh`).
pub fn parse(block: &[u8]) -> Result<TagBlock<'_>, FrameError> {
    let star = memchr::memrchr(b'*', block).ok_or(FrameError::MalformedTagBlock)?;
    let (content, cs) = split_around(block, star).ok_or(FrameError::MalformedTagBlock)?;
    let expected = hex_byte(cs).ok_or(FrameError::MalformedTagBlock)?;
    if xor_checksum(content) != expected {
        return Err(FrameError::BadTagChecksum);
    }
    let mut tag = TagBlock::default();
    for field in content.split(|&b| b == b',') {
        let [key, b':', value @ ..] = field else {
            // A field without `k:` is tolerated like an unknown key; the checksum already held.
            continue;
        };
        match key {
            b's' => tag.source = (!value.is_empty()).then_some(value),
            b'c' => tag.time = parse_u64(value).and_then(UnixMillis::from_epoch_auto),
            b'g' => tag.group = parse_group(value),
            _ => {}
        }
    }
    Ok(tag)
}

fn parse_group(value: &[u8]) -> Option<Group> {
    let mut parts = value.splitn(3, |&b| b == b'-');
    let number = parse_u64(parts.next()?)?;
    let total = parse_u64(parts.next()?)?;
    let id = parse_u64(parts.next()?)?;
    if number == 0 || number > total || total > 9 || id > u64::from(u32::MAX) {
        return None;
    }
    Some(Group {
        number: number as u8,
        total: total as u8,
        id: id as u32,
    })
}

#[cfg(test)]
// Tests index their own fixtures; a panic there is a failed test, as it should be.
#[allow(clippy::indexing_slicing, clippy::arithmetic_side_effects)]
mod tests {
    use super::*;

    #[test]
    fn orbcomm_tag_block() {
        let tag = parse(b"g:1-2-1604,s:rORBCOMM008,c:1418169601,T:2014-12-10 00.00.01*37").unwrap();
        assert_eq!(tag.source, Some(&b"rORBCOMM008"[..]));
        assert_eq!(tag.time, Some(UnixMillis(1_418_169_601_000)));
        assert_eq!(
            tag.group,
            Some(Group {
                number: 1,
                total: 2,
                id: 1604
            })
        );
    }

    #[test]
    fn lower_case_checksum_and_millis() {
        let content = b"s:r1,c:1418169601123";
        let block = format!(
            "{}*{:02x}",
            std::str::from_utf8(content).unwrap(),
            xor_checksum(content)
        );
        let tag = parse(block.as_bytes()).unwrap();
        assert_eq!(tag.time, Some(UnixMillis(1_418_169_601_123)));
    }

    #[test]
    fn wrong_checksum_is_refused() {
        assert_eq!(
            parse(b"s:rORBCOMM008,c:1418169601*00"),
            Err(FrameError::BadTagChecksum)
        );
        assert_eq!(parse(b"s:x"), Err(FrameError::MalformedTagBlock));
    }
}
