//! Subcommand implementations that touch files and standard streams.
//!
//! Owns the I/O edges of the command-line tools; each command composes the pure pipeline stages and
//! returns typed errors for `main` to print. Nothing here decides what a message means.

pub mod alerts;
pub mod decode;
pub mod query;
pub mod replay;

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
