//! The armoured six-bit payload as a bit string.
//!
//! Owns de-armouring and bit extraction. Written by hand rather than taken from nmea-parser because
//! this is the innermost loop of the program: nmea-parser builds a `BitVec` per sentence (about ten
//! allocations), while this keeps one reusable buffer and reads any field with one 8-byte load.

use super::DecodeError;

/// Most armoured characters one message may hold: nine fragments of a long sentence. Six bits each,
/// this is far beyond the longest AIS message (1008 bits); anything longer is refused.
pub const MAX_PAYLOAD_CHARS: usize = 1024;
const MAX_BYTES: usize = MAX_PAYLOAD_CHARS * 6 / 8;

/// A de-armoured payload. Reused between messages: loading overwrites only the bytes it needs.
pub struct BitBuf {
    /// 8 spare bytes so that [`BitBuf::get`] can always load 8 bytes.
    bytes: Box<[u8; MAX_BYTES + 8]>,
    len: usize,
}

impl Default for BitBuf {
    fn default() -> Self {
        Self {
            bytes: Box::new([0; MAX_BYTES + 8]),
            len: 0,
        }
    }
}

impl std::fmt::Debug for BitBuf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "BitBuf({} bits)", self.len)
    }
}

/// Six-bit value of each armour character (`0`..=`W` and `` ` ``..=`w`); 0x80 marks the rest, so
/// that a whole payload can be checked with one OR instead of a branch per character.
// Evaluated at compile time: `c` runs over 0..256, the table's indices, and the arithmetic is
// inside the ranges the conditions check; any slip would fail the build, not a feed.
#[allow(clippy::indexing_slicing, clippy::arithmetic_side_effects)]
const UNARMOUR: [u8; 256] = {
    let mut t = [0x80u8; 256];
    let mut c = 0;
    while c < 256 {
        if c >= 48 && c <= 87 {
            t[c] = (c - 48) as u8;
        } else if c >= 96 && c <= 119 {
            t[c] = (c - 56) as u8;
        }
        c += 1;
    }
    t
};

impl BitBuf {
    /// Loads an armoured payload with `fill` bits to drop at the end. Checks every character, so a
    /// corrupt payload is refused here instead of decoding to nonsense.
    // In bounds, and the hot loop kept free of checks: `UNARMOUR` has 256 entries, indexed by a
    // byte; `armoured` is at most `MAX_PAYLOAD_CHARS` (checked first), so the output offset `o`
    // stays below `MAX_BYTES`, and `bytes` has `MAX_BYTES + 8`; a remainder of 1 to 3
    // characters shifts by at most 18; `bits` is at most 6144 and `fill` is below it.
    #[allow(clippy::indexing_slicing, clippy::arithmetic_side_effects)]
    pub fn load(&mut self, armoured: &[u8], fill: u8) -> Result<(), DecodeError> {
        self.len = 0;
        if armoured.is_empty() {
            return Err(DecodeError::EmptyPayload);
        }
        if armoured.len() > MAX_PAYLOAD_CHARS {
            return Err(DecodeError::PayloadTooLong);
        }
        if fill > 5 {
            return Err(DecodeError::BadFill);
        }
        let bytes = &mut self.bytes[..];
        let mut chunks = armoured.chunks_exact(4);
        let mut o = 0;
        let mut invalid = 0u8;
        for c in &mut chunks {
            let [a, b, c, d] = [c[0], c[1], c[2], c[3]].map(|x| UNARMOUR[usize::from(x)]);
            invalid |= a | b | c | d;
            let v = u32::from(a) << 18 | u32::from(b) << 12 | u32::from(c) << 6 | u32::from(d);
            bytes[o] = (v >> 16) as u8;
            bytes[o + 1] = (v >> 8) as u8;
            bytes[o + 2] = v as u8;
            o += 3;
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut v = 0u32;
            for (i, &c) in rest.iter().enumerate() {
                let x = UNARMOUR[usize::from(c)];
                invalid |= x;
                v |= u32::from(x & 63) << (18 - 6 * i);
            }
            bytes[o] = (v >> 16) as u8;
            bytes[o + 1] = (v >> 8) as u8;
            bytes[o + 2] = v as u8;
        }
        if invalid & 0x80 != 0 {
            return Err(DecodeError::BadArmour);
        }
        let bits = armoured.len() * 6;
        if usize::from(fill) >= bits {
            return Err(DecodeError::BadFill);
        }
        self.len = bits - usize::from(fill);
        Ok(())
    }

    /// Payload length in bits, after fill bits.
    #[inline]
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when nothing is loaded.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Unsigned field of `width` bits (1 to 56) at bit `start`. Callers check the payload length
    /// against the message layout first, so no field is ever read past the end (never zero-filled).
    // In bounds: every caller has checked the payload length against its message layout
    // (`check_length`), so `start + width <= len <= 8 * MAX_BYTES`, and the buffer holds 8
    // spare bytes past that; `width` is 1 to 56, so the shifts are below 64.
    #[inline]
    #[allow(clippy::indexing_slicing, clippy::arithmetic_side_effects)]
    pub fn get(&self, start: usize, width: u32) -> u64 {
        debug_assert!((1..=56).contains(&width));
        debug_assert!(start + width as usize <= self.len);
        let i = start / 8;
        let word = u64::from_be_bytes(self.bytes[i..i + 8].try_into().expect("8 bytes"));
        (word << (start % 8)) >> (64 - width)
    }

    /// Signed (two's complement) field.
    // `width` is 1 to 56, as for `get`: the shifts are below 64.
    #[inline]
    #[allow(clippy::arithmetic_side_effects)]
    pub fn get_signed(&self, start: usize, width: u32) -> i64 {
        let v = self.get(start, width) as i64;
        (v << (64 - width)) >> (64 - width)
    }

    /// Boolean flag.
    #[inline]
    pub fn flag(&self, start: usize) -> bool {
        self.get(start, 1) == 1
    }

    /// One six-bit character at `start`. Bits past the end read as zero, as in gpsd's zero-padded
    /// buffer: the only character ever cut is the last of a type 5's destination, which gpsd accepts
    /// at 420 bits with 4 of its 6 bits present. Every other caller stays within the length the
    /// message type was checked against.
    // `present` is 1 to 6, so `6 - present` cannot underflow.
    #[inline]
    #[allow(clippy::arithmetic_side_effects)]
    fn sixbit(&self, start: usize) -> u8 {
        let present = self.len.saturating_sub(start).min(6);
        if present == 0 {
            return 0;
        }
        (self.get(start, present as u32) << (6 - present)) as u8
    }

    /// Six-bit text of `chars` characters at `start`, without `@` padding and trailing spaces.
    pub fn text<const N: usize>(&self, start: usize, chars: usize) -> AisText<N> {
        let mut t = AisText::default();
        t.push_sixbit(self, start, chars);
        t
    }
}

/// Longest text an AIS message carries: the type 21 name (20 characters) with its extension, of
/// which a 368-bit message, the longest accepted, holds (368 − 272) / 6 = 16 whole characters. The
/// standard says 14, but gpsd 3.22 prints all 16 (later gpsd cuts at 14).
pub const MAX_TEXT: usize = 36;

/// A short AIS text (name, call sign, destination) of at most `N` characters, held inline: decoding
/// a name costs no allocation, and sizing each field to its standard length keeps messages small
/// enough to move cheaply (20 for names, 7 for call signs, [`MAX_TEXT`] for aids to navigation).
/// Always ASCII.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct AisText<const N: usize = 20> {
    len: u8,
    buf: [u8; N],
}

impl<const N: usize> Default for AisText<N> {
    fn default() -> Self {
        Self {
            len: 0,
            buf: [0; N],
        }
    }
}

impl<const N: usize> AisText<N> {
    /// Text from another source (aisstream JSON): upper-cased, cut at `@` and to `N` characters,
    /// trailing spaces trimmed, anything outside printable ASCII dropped, as six-bit text would be.
    // In bounds: `len` stops at `N`, the buffer's size, and is above 0 where it is decremented.
    #[allow(clippy::indexing_slicing, clippy::arithmetic_side_effects)]
    pub fn from_text(s: &str) -> Self {
        let mut t = Self::default();
        let mut len = 0;
        for c in s.bytes().take_while(|&c| c != b'@') {
            if len == N {
                break;
            }
            if (32..96).contains(&c.to_ascii_uppercase()) {
                t.buf[len] = c.to_ascii_uppercase();
                len += 1;
            }
        }
        while len > 0 && t.buf[len - 1] == b' ' {
            len -= 1;
        }
        t.len = len as u8;
        t
    }

    /// The text, trimmed.
    pub fn as_str(&self) -> &str {
        // Only six-bit ASCII characters are ever stored.
        std::str::from_utf8(&self.buf[..usize::from(self.len)]).unwrap_or("")
    }

    /// True when the text is empty (all padding).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Appends six-bit characters up to the first `@`, then trims trailing spaces.
    pub(crate) fn push_sixbit(&mut self, bits: &BitBuf, start: usize, chars: usize) {
        self.push_untrimmed(bits, start, chars);
        self.trim_end();
    }

    /// Appends up to `chars` six-bit characters, stopping at the first `@` (six-bit 0) or when full,
    /// and keeps trailing spaces. Returns true when all `chars` were appended: the type 21 name
    /// continues in its extension only then, whatever its last character (gpsd's rule).
    // In bounds: `len` stops at `N`, the buffer's size; a six-bit value below 32 plus 64 is at
    // most 95; `start + 6 * k` is a bit offset within a message (under 1024 characters).
    #[allow(clippy::indexing_slicing, clippy::arithmetic_side_effects)]
    pub(crate) fn push_untrimmed(&mut self, bits: &BitBuf, start: usize, chars: usize) -> bool {
        let mut len = usize::from(self.len);
        let mut complete = true;
        for k in 0..chars {
            let v = bits.sixbit(start + 6 * k);
            if v == 0 || len == N {
                complete = false;
                break;
            }
            self.buf[len] = if v < 32 { v + 64 } else { v };
            len += 1;
        }
        self.len = len as u8;
        complete
    }

    /// Removes trailing spaces (`@` is never stored).
    // In bounds: `len` is at most `N` and above 0 where it is decremented.
    #[allow(clippy::indexing_slicing, clippy::arithmetic_side_effects)]
    pub(crate) fn trim_end(&mut self) {
        let mut len = usize::from(self.len);
        while len > 0 && self.buf[len - 1] == b' ' {
            len -= 1;
        }
        self.len = len as u8;
    }
}

impl<const N: usize> std::fmt::Debug for AisText<N> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(self.as_str(), f)
    }
}

impl<const N: usize> std::fmt::Display for AisText<N> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl<const N: usize> serde::Serialize for AisText<N> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

#[cfg(test)]
// Tests index their own fixtures; a panic there is a failed test, as it should be.
#[allow(clippy::indexing_slicing, clippy::arithmetic_side_effects)]
mod tests {
    use super::*;

    #[test]
    fn fields_and_fill() {
        let mut b = BitBuf::default();
        b.load(b"15RTgt0PAso;90TKcjM8h6g208CQ", 0).unwrap();
        assert_eq!(b.len(), 168);
        assert_eq!(b.get(0, 6), 1);
        assert_eq!(b.get(8, 30), 371_798_000);
        assert_eq!(b.get_signed(42, 8), -127);
        b.load(b"15RTgt0PAso;90TKcjM8h6g208CQ", 5).unwrap();
        assert_eq!(b.len(), 163);
    }

    #[test]
    fn bad_armour_and_fill_are_refused() {
        let mut b = BitBuf::default();
        assert_eq!(b.load(b"15RT/", 0), Err(DecodeError::BadArmour));
        assert_eq!(b.load(b"15RTX", 0), Err(DecodeError::BadArmour));
        assert_eq!(b.load(b"1", 6), Err(DecodeError::BadFill));
        assert_eq!(b.load(b"", 0), Err(DecodeError::EmptyPayload));
    }
}
