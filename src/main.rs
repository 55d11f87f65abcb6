//! The `vesselwatch` command: parses arguments, sets up logging, calls the library.

use std::io::Write;

use anyhow::Context;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use vesselwatch::commands::decode::{self, DecodeOptions};
use vesselwatch::commands::replay::{self, Format, ReplayOptions, Speed};
use vesselwatch::config::DEFAULT_CONFIG;
use vesselwatch::simulate::Scenario;

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
    /// Replay recorded feeds through the pipeline and print movement events as they happen.
    ///
    /// Reads `.nmea`, `.txt`, `.log` or gzip files (or `-`), as fast as possible or at N× real
    /// time, and prints one line per event, or JSON lines with `--format jsonl`.
    Replay {
        /// Configuration file [default: config/vesselwatch.toml if present, else the built-in one].
        #[arg(long)]
        config: Option<PathBuf>,
        /// Database file to record into.
        #[arg(long)]
        db: Option<PathBuf>,
        /// `max`, or a factor of real time such as `60`.
        #[arg(long, default_value = "max")]
        speed: Speed,
        /// `text` or `jsonl`.
        #[arg(long, default_value = "text")]
        format: Format,
        /// Recorded feeds.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Write the tag-blocked NMEA feed of a scenario file (vessels following waypoints).
    Simulate {
        /// The scenario (TOML).
        scenario: PathBuf,
        /// Output file [default: standard output].
        #[arg(short, long)]
        output: Option<PathBuf>,
    },
    /// Validate a configuration file [default: config/vesselwatch.toml, else the built-in one].
    CheckConfig {
        /// The file.
        file: Option<PathBuf>,
    },
    /// Print the example configuration.
    DefaultConfig,
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
        Command::Replay {
            config,
            db,
            speed,
            format,
            files,
        } => {
            let opts = ReplayOptions {
                config,
                db,
                speed,
                format,
                inputs: files,
            };
            let stdout = std::io::stdout();
            let report = replay::run(&opts, &mut std::io::BufWriter::new(stdout.lock()))?;
            eprint!("{}", replay::format_summary(&report));
            Ok(ExitCode::SUCCESS)
        }
        Command::Simulate { scenario, output } => {
            let text = std::fs::read_to_string(&scenario)
                .with_context(|| format!("cannot read {}", scenario.display()))?;
            let feed = Scenario::parse(&text)
                .and_then(|s| s.feed())
                .with_context(|| format!("{}", scenario.display()))?;
            match output {
                Some(path) => std::fs::write(&path, feed)
                    .with_context(|| format!("cannot write {}", path.display()))?,
                None => std::io::stdout().write_all(feed.as_bytes())?,
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::CheckConfig { file } => {
            let loaded = replay::load_config(file.as_deref())?;
            println!(
                "ok: {} fences, {} watchlist entries",
                loaded.config.fences.len(),
                loaded.config.watch.len()
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::DefaultConfig => {
            print!("{DEFAULT_CONFIG}");
            Ok(ExitCode::SUCCESS)
        }
    }
}
