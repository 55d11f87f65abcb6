//! Subcommand implementations that touch files and standard streams.
//!
//! Owns the I/O edges of the command-line tools; each command composes the pure pipeline stages and
//! returns typed errors for `main` to print. Nothing here decides what a message means.

pub mod alerts;
pub mod decode;
pub mod query;
pub mod replay;
pub(crate) mod table;

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::Path;

/// Bytes read per call: large enough that per-read overhead vanishes, small enough to stay in cache.
pub(crate) const CHUNK: usize = 256 * 1024;

/// Opens `path` (or stdin for `-`), unwrapping gzip when the content starts with its magic number.
pub(crate) fn open_input(path: &Path) -> io::Result<Box<dyn Read>> {
    let raw: Box<dyn Read> = if path == Path::new("-") {
        Box::new(io::stdin().lock())
    } else {
        Box::new(File::open(path)?)
    };
    let mut reader = BufReader::with_capacity(CHUNK, raw);
    let gz = reader.fill_buf()?.starts_with(&[0x1f, 0x8b]);
    Ok(if gz {
        Box::new(flate2::bufread::MultiGzDecoder::new(reader))
    } else {
        Box::new(reader)
    })
}

/// Line counts of one input, taken before and after it, to say when it was mostly lost.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct InputTally {
    lines: u64,
    decoded: u64,
    rejected: u64,
}

impl InputTally {
    /// The tally of everything counted so far.
    pub(crate) fn of(c: &vesselwatch_ais::frontend::Counters) -> Self {
        Self {
            lines: c.total(),
            decoded: c.get(vesselwatch_ais::frontend::Outcome::Decoded),
            rejected: c.rejected(),
        }
    }

    /// A warning for the input read between `before` and `self`, when nothing decoded or most lines
    /// were rejected: an analyst must not read an empty output as "nothing happened".
    pub(crate) fn warning(self, before: InputTally, input: &Path) -> Option<String> {
        let lines = self.lines - before.lines;
        let decoded = self.decoded - before.decoded;
        let rejected = self.rejected - before.rejected;
        if lines == 0 {
            return Some(format!("warning: {}: empty input", input.display()));
        }
        if decoded == 0 {
            return Some(format!(
                "warning: {}: nothing decoded from {lines} line(s) ({rejected} rejected); is it an NMEA AIS feed?",
                input.display()
            ));
        }
        (rejected * 2 > lines).then(|| {
            format!(
                "warning: {}: most lines rejected ({rejected} of {lines}); see the counts by reason",
                input.display()
            )
        })
    }
}
