//! Printing an error with its causes, once each.
//!
//! The library's error types follow one rule: a variant's message says what failed (`cannot read
//! fences/x.geojson`), and the cause is its `#[source]`, never repeated in the message. A reader
//! then sees each cause once, whether it prints the chain with `{:#}` (anyhow, in `main`) or
//! logs it through [`Chain`]; before this rule the same cause could appear two or three times
//! (`No such file or directory (os error 2): No such file or directory (os error 2)`).

use std::fmt;

/// Displays an error and its sources, joined by `: `. For log fields:
/// `tracing::error!(error = %Chain(&e), ...)`.
pub struct Chain<'a>(pub &'a (dyn std::error::Error + 'static));

impl fmt::Display for Chain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)?;
        let mut cause = self.0.source();
        while let Some(c) = cause {
            write!(f, ": {c}")?;
            cause = c.source();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{ConfigError, Loaded};

    #[test]
    fn each_cause_is_said_once() {
        let e =
            Loaded::from_file(std::path::Path::new("/nonexistent/vesselwatch.toml")).unwrap_err();
        let text = Chain(&e).to_string();
        assert!(matches!(e, ConfigError::Io { .. }));
        assert_eq!(
            text.matches("No such file or directory").count(),
            1,
            "{text}"
        );
        assert!(
            text.starts_with("cannot read /nonexistent/vesselwatch.toml: "),
            "{text}"
        );
        // anyhow's `{:#}`, as `main` prints, gives the same.
        assert_eq!(format!("{:#}", anyhow::Error::new(e)), text);
    }

    #[test]
    fn not_a_database_is_said_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("junk.db");
        std::fs::write(&path, vec![b'x'; 8192]).unwrap();
        let e = crate::store::open(&path).unwrap_err();
        let text = format!("{:#}", anyhow::Error::new(e));
        assert_eq!(text.matches("file is not a database").count(), 1, "{text}");
        assert!(text.contains(&path.display().to_string()), "{text}");
    }
}
