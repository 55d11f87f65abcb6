//! Subcommand implementations that touch files and standard streams.
//!
//! Owns the I/O edges of the command-line tools; each command composes the pure pipeline stages and
//! returns typed errors for `main` to print. Nothing here decides what a message means.

pub mod alerts;
pub mod decode;
pub mod fences;
pub mod kml;
pub(crate) mod progress;
pub mod query;
pub mod replay;
pub(crate) mod table;

use std::cell::Cell;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::rc::Rc;

use crate::config::ConfigError;
use crate::store::{SqliteError, StoreError};

/// Why a command failed: one type for every command, since they fail the same ways (a config, a
/// database, an input or the output) and `main` prints them all alike. Each message says what
/// failed; the cause follows as the source, said once. Bad input lines are never errors: they are
/// counted.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    /// The configuration is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The store could not be opened or written.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A query on an open database failed.
    #[error("query failed")]
    Query(#[source] SqliteError),
    /// The database file does not exist.
    #[error("{0}: no such database (run `vesselwatch replay` or the daemon first, or pass --db)")]
    NoDatabase(PathBuf),
    /// A map format (GeoJSON, KML) was asked of visits, which have no position of their own; the
    /// format asked for.
    #[error("--format {0} is for `track`, `events` and `vessels` (visits have no position)")]
    NoPosition(&'static str),
    /// A name the database does not know: a fence, an event kind. Says what there is instead.
    #[error("no {what} named {given:?} (known: {})", known.join(", "))]
    Unknown {
        /// What was looked for ("fence", "event kind").
        what: &'static str,
        /// What was given.
        given: String,
        /// What exists.
        known: Vec<String>,
    },
    /// A vessel the database has never heard.
    #[error("no vessel {0:?} in this database (by name, former name, MMSI or IMO)")]
    UnknownVessel(String),
    /// A filter this command cannot apply: refused rather than ignored.
    #[error("{0}")]
    Filter(String),
    /// No such webhook in the configuration.
    #[error("no webhook named {0:?} in the configuration")]
    NoWebhook(String),
    /// No alert with this id (or it was delivered already).
    #[error("no undelivered alert with id {0}")]
    NoAlert(i64),
    /// The webhook test request was not accepted.
    #[error("the endpoint did not accept the test event: {0}")]
    TestFailed(String),
    /// An input could not be opened or read.
    #[error("cannot read {path}")]
    Input {
        /// The input's path (`-` for standard input).
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// Standard output failed for a reason other than a closed pipe.
    #[error("cannot write output")]
    Output(#[from] io::Error),
    /// The webhook worker could not start.
    #[error("cannot start webhook delivery")]
    Delivery(#[from] crate::alerts::delivery::StartError),
    /// The async runtime for webhook delivery could not start.
    #[error("cannot start the async runtime")]
    Runtime(#[source] io::Error),
}

impl From<rusqlite::Error> for CommandError {
    fn from(e: rusqlite::Error) -> Self {
        CommandError::Query(SqliteError(e))
    }
}

/// Bytes read per call: large enough that per-read overhead vanishes, small enough to stay in cache.
pub(crate) const CHUNK: usize = 256 * 1024;

/// One read from an input, retried when a signal interrupted it: 0 is the end of the input.
pub(crate) fn read_some(input: &mut dyn Read, buf: &mut [u8]) -> io::Result<usize> {
    loop {
        match input.read(buf) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            r => return r,
        }
    }
}

/// Opens `path` (or stdin for `-`), unwrapping gzip when the content starts with its magic number.
pub(crate) fn open_input(path: &Path) -> io::Result<Box<dyn Read>> {
    open_input_counted(path, Rc::default())
}

/// [`open_input`], adding to `read` every byte read from the file itself (compressed, for gzip):
/// what the replay's progress bar measures against the file's size.
pub(crate) fn open_input_counted(path: &Path, read: Rc<Cell<u64>>) -> io::Result<Box<dyn Read>> {
    let raw: Box<dyn Read> = if path == Path::new("-") {
        Box::new(Counted {
            inner: io::stdin().lock(),
            read,
        })
    } else {
        Box::new(Counted {
            inner: File::open(path)?,
            read,
        })
    };
    let mut reader = BufReader::with_capacity(CHUNK, raw);
    let gz = reader.fill_buf()?.starts_with(&[0x1f, 0x8b]);
    Ok(if gz {
        Box::new(flate2::bufread::MultiGzDecoder::new(reader))
    } else {
        Box::new(reader)
    })
}

/// A reader that counts the bytes read through it.
struct Counted<R> {
    inner: R,
    read: Rc<Cell<u64>>,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read.set(self.read.get() + n as u64);
        Ok(n)
    }
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
