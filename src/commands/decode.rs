//! `vesselwatch decode`: files or standard input to gpsd-style JSON lines, like `gpsdecode -j`.
//!
//! Owns reading inputs (plain or gzip, detected by content), streaming them through one
//! [`FrontEnd`] in bounded chunks, and writing JSON to a buffered writer. Memory stays flat however
//! large the input: nothing holds more than one chunk and one output buffer.

use super::CommandError;
use std::io::{self, Write};
use std::path::PathBuf;

use super::{CHUNK, InputTally, open_input};

use vesselwatch_ais::frontend::{Counters, FrontEnd};
use vesselwatch_ais::gpsd_json;

/// Output is flushed whenever the buffer passes this.
const OUT_FLUSH: usize = 256 * 1024;

/// Options of `vesselwatch decode`.
#[derive(Debug, Clone, Default)]
pub struct DecodeOptions {
    /// Files to read in order; empty or `-` means standard input.
    pub inputs: Vec<PathBuf>,
    /// Decode everything but print only the summary, to measure decoding alone.
    pub count_only: bool,
}

/// The result of a run: the counters, and the inputs that failed (the rest were still decoded).
#[derive(Debug)]
pub struct DecodeReport {
    /// Every outcome counted over all inputs.
    pub counters: Counters,
    /// Inputs that could not be opened or read to the end.
    pub failed: Vec<CommandError>,
    /// Inputs where nothing decoded or most lines were rejected.
    pub warnings: Vec<String>,
}

/// Runs the command, writing JSON lines to `out`. Returns the counts even when some inputs failed;
/// only a failing `out` stops the run early.
pub fn run(opts: &DecodeOptions, out: &mut dyn Write) -> Result<DecodeReport, CommandError> {
    let stdin_only = [PathBuf::from("-")];
    let inputs = if opts.inputs.is_empty() {
        &stdin_only[..]
    } else {
        &opts.inputs[..]
    };
    let mut fe = FrontEnd::default();
    let mut failed = Vec::new();
    let mut warnings = Vec::new();
    let mut buf = Vec::with_capacity(OUT_FLUSH + 4096);
    let mut chunk = vec![0u8; CHUNK];
    let count_only = opts.count_only;
    let write = |buf: &mut Vec<u8>, d: vesselwatch_ais::frontend::Decoded| {
        if !count_only {
            gpsd_json::write_message(buf, &d);
            buf.push(b'\n');
        }
    };

    for (feed, path) in inputs.iter().enumerate() {
        let feed = feed as u32;
        let input_error = |source| CommandError::Input {
            path: path.clone(),
            source,
        };
        let mut reader = match open_input(path) {
            Ok(r) => r,
            Err(e) => {
                failed.push(input_error(e));
                continue;
            }
        };
        let before = InputTally::of(fe.counters());
        loop {
            let n = match super::read_some(&mut reader, &mut chunk) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) => {
                    failed.push(input_error(e));
                    break;
                }
            };
            fe.push_bytes(feed, &chunk[..n], |d| write(&mut buf, d));
            if buf.len() >= OUT_FLUSH && !flush(out, &mut buf)? {
                return Ok(DecodeReport {
                    counters: fe.counters().clone(),
                    failed,
                    warnings,
                });
            }
        }
        fe.finish_feed(feed, |d| write(&mut buf, d));
        warnings.extend(InputTally::of(fe.counters()).warning(before, path));
    }
    if flush(out, &mut buf)? {
        match out.flush() {
            Err(e) if e.kind() != io::ErrorKind::BrokenPipe => {
                return Err(CommandError::Output(e));
            }
            _ => {}
        }
    }
    Ok(DecodeReport {
        counters: fe.counters().clone(),
        failed,
        warnings,
    })
}

/// Writes and clears `buf`. Returns false when the reader went away (a closed pipe, as with
/// `| head`), which ends the run quietly.
fn flush(out: &mut dyn Write, buf: &mut Vec<u8>) -> Result<bool, CommandError> {
    let r = out.write_all(buf);
    buf.clear();
    match r {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(false),
        Err(e) => Err(CommandError::Output(e)),
    }
}

/// Formats the counts for standard error, one `name: count` per line.
pub fn format_summary(counters: &Counters) -> String {
    let rows = counters.summary();
    let width = rows.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    let mut s = String::new();
    for (k, v) in rows {
        s.push_str(&format!("{k:<width$}  {v}\n"));
    }
    s
}
