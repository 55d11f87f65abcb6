//! Byte stream to lines, with a hard cap on line length.
//!
//! Owns the only buffer between a socket or file and the sentence parser. It must never grow past
//! its cap: a peer that sends megabytes without a newline costs one counted drop, not memory.

/// Longest line kept, in bytes. A tagged AIS sentence is under 200 bytes and a USCG line with all
/// its trailing fields under 300; 1 KiB leaves room for any real log convention.
pub const DEFAULT_MAX_LINE: usize = 1024;

/// Splits a byte stream into lines at `\n`, stripping a trailing `\r`.
///
/// Lines that arrive whole inside one chunk are handed out as slices of that chunk without copying;
/// only a line split across chunks is buffered. A line longer than the cap is dropped and counted in
/// [`LineSplitter::too_long`], and the rest of it (up to the next newline) is skipped.
#[derive(Debug)]
pub struct LineSplitter {
    buf: Vec<u8>,
    max_line: usize,
    /// True while skipping the tail of an over-long line.
    discarding: bool,
    too_long: u64,
}

impl Default for LineSplitter {
    fn default() -> Self {
        Self::new(DEFAULT_MAX_LINE)
    }
}

impl LineSplitter {
    /// A splitter that keeps lines of at most `max_line` bytes (excluding the line ending).
    pub fn new(max_line: usize) -> Self {
        Self {
            buf: Vec::new(),
            max_line,
            discarding: false,
            too_long: 0,
        }
    }

    /// Lines dropped because they passed the cap.
    pub fn too_long(&self) -> u64 {
        self.too_long
    }

    /// Bytes currently held for an incomplete line; never more than the cap.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// Feeds a chunk, calling `emit` for every complete line in it.
    pub fn push(&mut self, mut chunk: &[u8], mut emit: impl FnMut(&[u8])) {
        while let Some((piece, rest)) =
            memchr::memchr(b'\n', chunk).and_then(|nl| super::split_around(chunk, nl))
        {
            chunk = rest;
            if self.discarding {
                self.discarding = false;
                self.buf.clear();
                continue;
            }
            if self.buf.is_empty() {
                if piece.len() > self.max_line {
                    self.too_long = self.too_long.saturating_add(1);
                } else {
                    emit(strip_cr(piece));
                }
            } else if self.buf.len().saturating_add(piece.len()) > self.max_line {
                self.too_long = self.too_long.saturating_add(1);
                self.buf.clear();
            } else {
                self.buf.extend_from_slice(piece);
                emit(strip_cr(&self.buf));
                self.buf.clear();
            }
        }
        if chunk.is_empty() || self.discarding {
            return;
        }
        if self.buf.len().saturating_add(chunk.len()) > self.max_line {
            self.too_long = self.too_long.saturating_add(1);
            self.buf.clear();
            self.discarding = true;
        } else {
            self.buf.extend_from_slice(chunk);
        }
    }

    /// Ends the stream: a final line without a newline is still a line.
    pub fn finish(&mut self, mut emit: impl FnMut(&[u8])) {
        if !self.discarding && !self.buf.is_empty() {
            emit(strip_cr(&self.buf));
        }
        self.buf.clear();
        self.discarding = false;
    }

    /// Forgets a partial line, as after a reconnect: the next bytes start a new line.
    pub fn reset(&mut self) {
        self.buf.clear();
        self.discarding = false;
    }
}

fn strip_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

#[cfg(test)]
// Tests index their own fixtures; a panic there is a failed test, as it should be.
#[allow(clippy::indexing_slicing, clippy::arithmetic_side_effects)]
mod tests {
    use super::*;

    fn split_all(chunks: &[&[u8]], max: usize) -> (Vec<Vec<u8>>, u64) {
        let mut s = LineSplitter::new(max);
        let mut out = Vec::new();
        for c in chunks {
            s.push(c, |l| out.push(l.to_vec()));
            assert!(s.buffered() <= max);
        }
        s.finish(|l| out.push(l.to_vec()));
        (out, s.too_long())
    }

    #[test]
    fn crlf_lf_and_chunk_boundaries() {
        let (lines, long) = split_all(&[b"ab\r\ncd", b"e\nf", b"g\r", b"\nlast"], 64);
        assert_eq!(
            lines,
            vec![
                b"ab".to_vec(),
                b"cde".to_vec(),
                b"fg".to_vec(),
                b"last".to_vec()
            ]
        );
        assert_eq!(long, 0);
    }

    #[test]
    fn over_long_line_is_dropped_and_counted_without_buffering() {
        let big = vec![b'x'; 5000];
        let (lines, long) = split_all(&[b"ok\n", &big[..2000], &big[2000..], b"tail\nnext\n"], 100);
        assert_eq!(lines, vec![b"ok".to_vec(), b"next".to_vec()]);
        assert_eq!(long, 1);
    }

    #[test]
    fn over_long_line_inside_one_chunk() {
        let mut data = vec![b'y'; 300];
        data.extend_from_slice(b"\nshort\n");
        let (lines, long) = split_all(&[&data], 100);
        assert_eq!(lines, vec![b"short".to_vec()]);
        assert_eq!(long, 1);
    }
}
