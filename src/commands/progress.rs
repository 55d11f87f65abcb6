//! The progress bar of a long `replay`, on a terminal only (indicatif).
//!
//! Owns whether a bar is shown and what it says: how far through the input (bytes read of the
//! files' sizes, hence an ETA; none for standard input), lines per second, and the message time
//! reached. Shown only when standard error is a terminal and the user did not turn it off: a
//! pipe, a log file or a test gets nothing but the summary, byte for byte as before.
//!
//! When standard output is the same terminal, events are printed with the bar lifted
//! (`ProgressBar::suspend`), so an event line is never drawn over by the bar or cut by it.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use vesselwatch_ais::time::UnixMillis;

/// The replay's bar, or nothing when hidden.
pub(crate) struct Progress {
    /// `None` when hidden: every call is then a no-op, at the cost of a branch.
    bar: Option<ProgressBar>,
    /// Whether standard output is a terminal too, so printing must lift the bar.
    interleaved: bool,
    started: Instant,
    /// The last line count given, for a message updated with only a new time.
    lines: std::cell::Cell<u64>,
}

impl Progress {
    /// A bar on standard error when `wanted` and standard error is a terminal; hidden otherwise.
    /// `total` is the inputs' size in bytes when every input is a file (an ETA), else `None` (a
    /// spinner: standard input has no end to measure against).
    pub(crate) fn on_stderr(wanted: bool, total: Option<u64>) -> Self {
        let shown = wanted && std::io::stderr().is_terminal();
        let bar = shown.then(|| {
            let bar = ProgressBar::with_draw_target(total, ProgressDrawTarget::stderr_with_hz(10));
            let style = match total {
                Some(_) => ProgressStyle::with_template("{bar:30} {percent:>3}%  {msg}  ETA {eta}"),
                None => ProgressStyle::with_template("{spinner} {bytes}  {msg}"),
            };
            if let Ok(style) = style {
                bar.set_style(style);
            }
            bar.enable_steady_tick(Duration::from_millis(250));
            bar
        });
        Progress {
            bar,
            interleaved: shown && std::io::stdout().is_terminal(),
            started: Instant::now(),
            lines: std::cell::Cell::new(0),
        }
    }

    /// Whether a bar is drawn: callers skip work that only feeds it.
    pub(crate) fn is_shown(&self) -> bool {
        self.bar.is_some()
    }

    /// After a chunk: `bytes` of the inputs read in all, `lines` counted, the time `reached`.
    pub(crate) fn update(&self, bytes: u64, lines: u64, reached: Option<UnixMillis>) {
        if let Some(bar) = &self.bar {
            self.lines.set(lines);
            bar.set_position(bytes);
            bar.set_message(message(lines, self.started.elapsed(), reached));
        }
    }

    /// A new message time between chunks (a paced replay is slow within one).
    pub(crate) fn reached(&self, reached: Option<UnixMillis>) {
        if let Some(bar) = &self.bar {
            bar.set_message(message(self.lines.get(), self.started.elapsed(), reached));
        }
    }

    /// Runs `print` (which writes and flushes standard output) with the bar lifted when both
    /// streams are the same terminal; just runs it otherwise.
    pub(crate) fn print<R>(&self, print: impl FnOnce() -> R) -> R {
        match &self.bar {
            Some(bar) if self.interleaved => bar.suspend(print),
            _ => print(),
        }
    }

    /// Whether standard output must be flushed after each event (it shares the terminal).
    pub(crate) fn interleaved(&self) -> bool {
        self.interleaved
    }

    /// Removes the bar, so that the summary starts on a clean line.
    pub(crate) fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

impl Drop for Progress {
    /// An error ends the replay early: the bar must not stay drawn over the error message.
    fn drop(&mut self) {
        self.finish();
    }
}

/// The bar's message: lines read, lines per second over `elapsed`, and the message time reached
/// (`-` before the first timed message), whole seconds.
pub(crate) fn message(lines: u64, elapsed: Duration, reached: Option<UnixMillis>) -> String {
    let secs = elapsed.as_secs_f64();
    let rate = if secs > 0.0 {
        (lines as f64 / secs).round() as u64
    } else {
        0
    };
    let at = reached.map_or_else(
        || "-".to_string(),
        |t| UnixMillis(t.0 - t.0.rem_euclid(1000)).to_string(),
    );
    format!("{lines} lines  {rate} lines/s  at {at}")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 1,200,000 lines in 4 s is 300,000 a second; 2025-01-20T10:55:38.452Z is shown to the
    /// second (1737370538 s since the epoch is that time: date -u -d @1737370538).
    #[test]
    fn the_message_says_lines_rate_and_time_reached() {
        assert_eq!(
            message(
                1_200_000,
                Duration::from_secs(4),
                Some(UnixMillis(1_737_370_538_452))
            ),
            "1200000 lines  300000 lines/s  at 2025-01-20T10:55:38Z"
        );
        assert_eq!(message(0, Duration::ZERO, None), "0 lines  0 lines/s  at -");
    }

    /// In tests standard error is not a terminal: the bar is hidden whatever is asked.
    #[test]
    fn hidden_when_stderr_is_not_a_terminal() {
        if std::io::stderr().is_terminal() {
            return; // run by hand on a terminal: nothing to check
        }
        assert!(!Progress::on_stderr(true, Some(10)).is_shown());
        assert!(!Progress::on_stderr(false, None).is_shown());
    }
}
