//! The `vesselwatch` command: parses arguments, sets up logging, calls the library.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use vesselwatch::commands::decode::{self, DecodeOptions};

/// Watches AIS feeds for vessel movements at ports and straits.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Decode AIS sentences to JSON lines with gpsd's field names (like `gpsdecode -j`).
    ///
    /// Reads NMEA 0183 `!AIVDM`/`!AIVDO` lines, with or without tag blocks or log timestamps, from
    /// files (gzip is detected) or standard input. A summary of counts goes to standard error. Bad
    /// lines are counted, not fatal: the exit status is non-zero only for I/O or usage errors.
    Decode {
        /// Input files; `-` or none for standard input.
        files: Vec<PathBuf>,
        /// Print only the summary (measures decoding alone).
        #[arg(long)]
        count: bool,
    },
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    match run(Cli::parse()) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("vesselwatch: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Decode { files, count } => {
            let opts = DecodeOptions {
                inputs: files,
                count_only: count,
            };
            let stdout = std::io::stdout();
            let mut out = stdout.lock();
            let report = decode::run(&opts, &mut out)?;
            out.flush().ok();
            eprint!("{}", decode::format_summary(&report.counters));
            for e in &report.failed {
                eprintln!("vesselwatch: {e}");
            }
            Ok(if report.failed.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
    }
}
