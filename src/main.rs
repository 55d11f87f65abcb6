//! The `vesselwatch` command: parses arguments, sets up logging, calls the library.

use std::io::Write;

use anyhow::Context;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use vesselwatch::commands::alerts;
use vesselwatch::commands::decode::{self, DecodeOptions};
use vesselwatch::commands::query::{self, OutputFormat, QueryOptions, TimeArg, What};
use vesselwatch::commands::replay::{self, Format, ReplayOptions, Speed};
use vesselwatch::config::{DEFAULT_CONFIG, LARGE_FENCE_VERTICES, Loaded, LogConfig, LogFormat};
use vesselwatch::simulate::Scenario;

/// Watches AIS feeds for vessel movements at ports and straits.
#[derive(Parser)]
#[command(
    version,
    about,
    after_help = "Exit status, the same for every command: 0 success; 1 a failure while running (an \
                  unreadable input, a bad or foreign database, a store that cannot write, an \
                  address in use); 2 a usage or configuration error (an unknown option, fence, \
                  event kind or vessel, an invalid config)."
)]
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
    /// Run the daemon: live sources from the config, events to the store and webhooks, HTTP
    /// health and metrics. Stops cleanly on SIGTERM or SIGINT.
    Run {
        /// Configuration file [default: config/vesselwatch.toml if present, else the built-in one].
        #[arg(long)]
        config: Option<PathBuf>,
        /// Database file [default: `[store] path`, else vesselwatch.db beside the config].
        #[arg(long)]
        db: Option<PathBuf>,
    },
    /// Replay recorded feeds through the pipeline and print movement events as they happen.
    ///
    /// Reads `.nmea`, `.txt`, `.log` or gzip files (or `-`), as fast as possible or at N× real
    /// time, and prints one line per event, or JSON lines with `--format jsonl`.
    Replay {
        /// Configuration file [default: config/vesselwatch.toml if present, else the built-in one].
        #[arg(long)]
        config: Option<PathBuf>,
        /// Database file to record into [default: `[store] path`, else vesselwatch.db beside the config].
        #[arg(long, conflicts_with = "no_store")]
        db: Option<PathBuf>,
        /// Print events only; record nothing.
        #[arg(long)]
        no_store: bool,
        /// Send the alerts this replay records to their webhooks (otherwise only recorded).
        #[arg(long, conflicts_with = "no_store")]
        send_alerts: bool,
        /// With --send-alerts: how long to wait at the end for delivery.
        #[arg(long, default_value = "60s", value_parser = humantime::parse_duration)]
        wait: std::time::Duration,
        /// `max`, or a factor of real time such as `60`.
        #[arg(long, default_value = "max")]
        speed: Speed,
        /// `table` (one line per event) or `jsonl`.
        #[arg(long, default_value = "table")]
        format: Format,
        /// No progress bar (one is drawn on standard error only when it is a terminal).
        #[arg(long)]
        no_progress: bool,
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
    /// List recorded events.
    Events {
        #[command(flatten)]
        q: QueryArgs,
        /// Only this kind (arrival, departure, present, dark, reappeared, holding, transit).
        #[arg(long)]
        kind: Option<String>,
    },
    /// List visits: arrival, departure and duration per vessel and fence.
    Visits {
        #[command(flatten)]
        q: QueryArgs,
        /// Only visits not yet ended: who is inside now (`visits --open --fence tartus-port`).
        #[arg(long)]
        open: bool,
        /// At most this many visits (the first in time order).
        #[arg(long)]
        limit: Option<usize>,
    },
    /// Serve the HTTP API (read-only) over a database: a replayed history, a copy of production.
    Serve {
        /// Database file [default: as for `replay`].
        #[arg(long)]
        db: Option<PathBuf>,
        /// Configuration naming the database.
        #[arg(long)]
        config: Option<PathBuf>,
        /// Address to serve on (loopback by default).
        #[arg(long, default_value = "127.0.0.1:9110")]
        listen: String,
    },
    /// List the fences with their kind and size, and the vessels inside each now.
    Fences {
        /// Configuration file [default: as for `replay`].
        #[arg(long)]
        config: Option<PathBuf>,
        /// Database file [default: as for `replay`].
        #[arg(long)]
        db: Option<PathBuf>,
        /// table or json.
        #[arg(long, default_value = "table")]
        format: FencesFormat,
    },
    /// List vessels seen.
    Vessels {
        #[command(flatten)]
        q: QueryArgs,
    },
    /// List the webhook outbox, or requeue alerts (`alerts retry ID` / `alerts retry --dead`).
    Alerts {
        #[command(subcommand)]
        action: Option<AlertsAction>,
        /// Only this status: pending, failed, dead or delivered.
        #[arg(long)]
        status: Option<String>,
        /// Database file [default: as for `replay`].
        #[arg(long, global = true)]
        db: Option<PathBuf>,
        /// Configuration naming the database.
        #[arg(long, global = true)]
        config: Option<PathBuf>,
    },
    /// Webhook tools.
    Webhook {
        #[command(subcommand)]
        action: WebhookAction,
    },
    /// Print a vessel's recorded positions.
    Track {
        /// NAME, MMSI or IMO.
        #[arg(value_name = "VESSEL")]
        target: String,
        #[command(flatten)]
        q: TrackArgs,
    },
}

/// The options of `track`: those of the other queries but the vessel (its argument) and the
/// fence (positions are not kept by fence), so that `--help` offers only what works.
#[derive(clap::Args)]
struct TrackArgs {
    #[command(flatten)]
    base: QueryBase,
    /// table, json, jsonl, csv, geojson or kml.
    #[arg(long, default_value = "table")]
    format: OutputFormat,
}

/// Output of `fences`.
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum FencesFormat {
    /// A table for people.
    Table,
    /// A JSON array.
    Json,
}

#[derive(Subcommand)]
enum AlertsAction {
    /// Put an alert, or every dead one, back in the queue (lifts a 410 disable too).
    Retry {
        /// The alert's id (see `vesselwatch alerts`).
        #[arg(required_unless_present = "dead", conflicts_with = "dead")]
        id: Option<i64>,
        /// Every dead-lettered alert.
        #[arg(long)]
        dead: bool,
    },
}

#[derive(Subcommand)]
enum WebhookAction {
    /// Send a signed test event to a configured webhook and report the response.
    Test {
        /// The webhook's name.
        name: String,
        /// Configuration file.
        #[arg(long)]
        config: Option<PathBuf>,
    },
}

/// Where to read and which period: the options every query command has.
#[derive(clap::Args)]
struct QueryBase {
    /// Database file [default: as for `replay`].
    #[arg(long)]
    db: Option<PathBuf>,
    /// Configuration naming the database.
    #[arg(long)]
    config: Option<PathBuf>,
    /// From this time: a date (2025-01-20, UTC), RFC 3339, or a duration back from now (`7d`).
    #[arg(long)]
    since: Option<TimeArg>,
    /// Until this time (same forms).
    #[arg(long)]
    until: Option<TimeArg>,
}

impl QueryBase {
    /// The query options with these, and `format`; the filters are for the caller to add.
    fn options(self, format: OutputFormat) -> QueryOptions {
        QueryOptions {
            db: self.db,
            config: self.config,
            since: self.since,
            until: self.until,
            format,
            ..QueryOptions::default()
        }
    }
}

/// Options of `events`, `visits` and `vessels`.
#[derive(clap::Args)]
struct QueryArgs {
    #[command(flatten)]
    base: QueryBase,
    /// Only this vessel: NAME, MMSI or IMO.
    #[arg(long)]
    vessel: Option<String>,
    /// Only this fence.
    #[arg(long)]
    fence: Option<String>,
    /// table, json, jsonl, csv, or geojson and kml (events and vessels).
    #[arg(long, default_value = "table")]
    format: OutputFormat,
}

impl QueryArgs {
    fn options(self, kind: Option<String>) -> QueryOptions {
        QueryOptions {
            vessel: self.vessel,
            fence: self.fence,
            kind,
            ..self.base.options(self.format)
        }
    }
}

fn query(what: What, opts: QueryOptions) -> anyhow::Result<ExitCode> {
    let now = vesselwatch::clock::now();
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    query::run(what, &opts, now, &mut out)?;
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // The daemon logs as its config says (journald under systemd by default), so its config is
    // loaded first, once, and handed on; the other commands log warnings and errors only, in the
    // human format.
    let loaded = match &cli.command {
        Command::Run { config, .. } => Some(Loaded::load(config.as_deref())),
        _ => None,
    };
    let log = match &loaded {
        Some(Ok(l)) => l.config.log.clone(),
        Some(Err(_)) => LogConfig::default(),
        None => LogConfig {
            filter: "warn".into(),
            format: LogFormat::Human,
        },
    };
    vesselwatch::logging::init(&log);
    let loaded = match loaded.transpose() {
        Ok(l) => l,
        Err(e) => {
            eprintln!("vesselwatch: {}", vesselwatch::error::Chain(&e));
            return ExitCode::from(2);
        }
    };
    match run(cli, loaded) {
        Ok(code) => code,
        // The reader went away (`| head -1`): the output is no longer wanted, which is not a
        // failure; end quietly, as other Unix tools do.
        Err(e) if broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("vesselwatch: {e:#}");
            ExitCode::from(exit_status(&e))
        }
    }
}

/// 2 for what the user asked wrongly (usage, configuration, names the database does not know), 1
/// for what failed while running: the same in every command (`--help` says so).
fn exit_status(e: &anyhow::Error) -> u8 {
    use vesselwatch::commands::CommandError as C;
    use vesselwatch::config::ConfigError;
    use vesselwatch::daemon::DaemonError;
    let usage = e.chain().any(|c| {
        c.downcast_ref::<ConfigError>().is_some()
            || c.downcast_ref::<C>().is_some_and(|c| {
                matches!(
                    c,
                    C::Config(_)
                        | C::Unknown { .. }
                        | C::UnknownVessel(_)
                        | C::Filter(_)
                        | C::NoPosition(_)
                        | C::NoWebhook(_)
                )
            })
            || c.downcast_ref::<DaemonError>()
                .is_some_and(|d| matches!(d, DaemonError::Config(_)))
    });
    if usage { 2 } else { 1 }
}

/// Completes at SIGTERM or SIGINT: how `run` and `serve` are told to stop.
async fn stop_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).expect("install a SIGTERM handler");
    let mut int = signal(SignalKind::interrupt()).expect("install a SIGINT handler");
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
}

/// Whether `e` was caused by writing to a pipe whose reader has closed it.
fn broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

fn run(cli: Cli, loaded: Option<Loaded>) -> anyhow::Result<ExitCode> {
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
            for w in &report.warnings {
                eprintln!("vesselwatch: {w}");
            }
            for e in &report.failed {
                eprintln!("vesselwatch: {}", vesselwatch::error::Chain(e));
            }
            Ok(if report.failed.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        Command::Run { config, db } => {
            let opts = vesselwatch::daemon::RunOptions { config, db, loaded };
            vesselwatch::daemon::run(&opts, stop_signal())?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Replay {
            config,
            db,
            no_store,
            send_alerts,
            wait,
            speed,
            format,
            no_progress,
            files,
        } => {
            let opts = ReplayOptions {
                config,
                db,
                no_store,
                send_alerts,
                wait,
                speed,
                format,
                inputs: files,
                progress: !no_progress,
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
            let loaded = Loaded::load(file.as_deref())?;
            for (name, vertices) in loaded.large_fences() {
                eprintln!(
                    "warning: fence `{name}` has {vertices} vertices, more than {LARGE_FENCE_VERTICES}: \
                     each start and reload parses and indexes them all (fixes near it stay fast); \
                     consider simplifying it"
                );
            }
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
        Command::Events { q, kind } => query(What::Events, q.options(kind)),
        Command::Alerts {
            action,
            status,
            db,
            config,
        } => {
            match action {
                None => {
                    let stdout = std::io::stdout();
                    alerts::list(db, config.as_deref(), status.as_deref(), &mut stdout.lock())?;
                }
                Some(AlertsAction::Retry { id, .. }) => {
                    let n = alerts::retry(db, config.as_deref(), id)?;
                    println!("{n} alert(s) requeued");
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Webhook {
            action: WebhookAction::Test { name, config },
        } => {
            println!("{}", alerts::test(config.as_deref(), &name)?);
            Ok(ExitCode::SUCCESS)
        }
        Command::Visits { q, open, limit } => {
            let mut opts = q.options(None);
            opts.open = open;
            opts.limit = limit;
            query(What::Visits, opts)
        }
        Command::Vessels { q } => query(What::Vessels, q.options(None)),
        Command::Serve { db, config, listen } => {
            let loaded = Loaded::load(config.as_deref())?;
            let db = db.unwrap_or_else(|| loaded.db_path());
            vesselwatch::daemon::serve_database(&loaded, db, listen, stop_signal())?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Fences { config, db, format } => {
            let stdout = std::io::stdout();
            vesselwatch::commands::fences::list(
                config.as_deref(),
                db,
                format == FencesFormat::Json,
                &mut stdout.lock(),
            )?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Track { target, q } => query(
            What::Track,
            QueryOptions {
                vessel: Some(target),
                ..q.base.options(q.format)
            },
        ),
    }
}
