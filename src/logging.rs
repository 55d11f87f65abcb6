//! Log output: tracing subscribers for a terminal, for journald, and as JSON.
//!
//! Owns how log lines look. Under systemd, journald adds its own timestamps and reads the level from
//! a `<N>` syslog priority prefix, so the journald format prints neither timestamp nor level word.

use std::fmt;
use std::io::IsTerminal;

use tracing::{Event, Level, Subscriber};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

use serde::Deserialize;

use vesselwatch_engine::settings::{Invalid, invalid};

/// How log lines look.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// `journald` under systemd (JOURNAL_STREAM set), else `human`.
    #[default]
    Auto,
    /// Timestamped lines, coloured on a terminal.
    Human,
    /// No timestamps of its own, levels as syslog priority prefixes (`<3>`…`<7>`).
    Journald,
    /// One JSON object per line.
    Json,
}

/// `[log]`: the section logging owns.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// A tracing filter such as `info` or `vesselwatch=debug`; `RUST_LOG` overrides it.
    pub filter: String,
    /// Line format.
    pub format: LogFormat,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            filter: "info".into(),
            format: LogFormat::Auto,
        }
    }
}

impl LogConfig {
    /// Checks that the filter parses, so that a typo is refused at load rather than silently
    /// logging at the default level.
    pub fn validate(&self) -> Result<(), Invalid> {
        EnvFilter::try_new(&self.filter).map(drop).map_err(|e| {
            invalid(
                "log.filter",
                format!("{:?}", self.filter),
                &format!("must be a tracing filter such as \"info\": {e}"),
            )
        })
    }
}

/// journald's format: `<priority>target: message key=value ...`.
struct Journald;

impl<S, N> FormatEvent<S, N> for Journald
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut w: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let priority = match *event.metadata().level() {
            Level::ERROR => 3,
            Level::WARN => 4,
            Level::INFO => 6,
            Level::DEBUG | Level::TRACE => 7,
        };
        write!(w, "<{priority}>{}: ", event.metadata().target())?;
        ctx.field_format().format_fields(w.by_ref(), event)?;
        writeln!(w)
    }
}

/// The format `auto` resolves to here: journald when systemd connected stderr to the journal.
pub fn resolve(format: LogFormat) -> LogFormat {
    match format {
        LogFormat::Auto if std::env::var_os("JOURNAL_STREAM").is_some() => LogFormat::Journald,
        LogFormat::Auto => LogFormat::Human,
        f => f,
    }
}

/// Installs the global subscriber, writing to standard error. `RUST_LOG` overrides the filter.
pub fn init(cfg: &LogConfig) {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(&cfg.filter))
        .unwrap_or_else(|_| EnvFilter::new("info"))
        // The WebSocket library logs whole frames at trace level, and the aisstream subscription
        // frame carries the API key: its logs stop at debug whatever the filter asks.
        .add_directive("tungstenite=debug".parse().expect("a valid directive"))
        .add_directive(
            "tokio_tungstenite=debug"
                .parse()
                .expect("a valid directive"),
        );
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match resolve(cfg.format) {
        LogFormat::Journald => builder.event_format(Journald).try_init(),
        LogFormat::Json => builder.json().try_init(),
        _ => builder
            .with_ansi(std::io::stderr().is_terminal())
            .try_init(),
    };
}
