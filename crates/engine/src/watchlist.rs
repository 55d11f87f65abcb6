//! The watchlist: which vessels the user cares about.
//!
//! Owns matching a vessel's identifiers (MMSI, and the IMO, name and call sign learned from its
//! static reports) against `[[watch]]` entries. Names are compared normalised and exactly, so
//! `SPARTA` never matches `SPARTA IV`. Pure.

use crate::settings::WatchConfig;

/// Upper case, `@` padding removed, runs of spaces collapsed, trimmed: the form in which AIS names
/// and call signs are compared.
pub fn normalise(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for word in name
        .split(|c: char| c == '@' || c.is_whitespace())
        .filter(|w| !w.is_empty())
    {
        if !out.is_empty() {
            out.push(' ');
        }
        out.extend(word.chars().map(|c| c.to_ascii_uppercase()));
    }
    out
}

/// One compiled watch entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Watch {
    /// The label events carry.
    pub label: String,
    /// The group, for alert filters.
    pub group: Option<String>,
    mmsi: Option<u32>,
    imo: Option<u32>,
    name: Option<String>,
    callsign: Option<String>,
}

/// What is known of a vessel's identity.
#[derive(Debug, Clone, Copy, Default)]
pub struct Identity<'a> {
    /// MMSI.
    pub mmsi: u32,
    /// IMO number from its static report.
    pub imo: Option<u32>,
    /// Name from its static report, already normalised.
    pub name: Option<&'a str>,
    /// Call sign from its static report, already normalised.
    pub callsign: Option<&'a str>,
}

/// All watch entries.
#[derive(Debug, Clone, Default)]
pub struct Watchlist {
    watches: Vec<Watch>,
}

impl Watchlist {
    /// Compiles `[[watch]]` entries.
    pub fn new(entries: &[WatchConfig]) -> Self {
        Self {
            watches: entries
                .iter()
                .map(|w| Watch {
                    label: w.label.clone(),
                    group: w.group.clone(),
                    mmsi: w.mmsi,
                    imo: w.imo,
                    name: w.name.as_deref().map(normalise),
                    callsign: w.callsign.as_deref().map(normalise),
                })
                .collect(),
        }
    }

    /// The first entry any of whose identifiers matches, in config order. Identifiers a vessel has
    /// not reported yet never match.
    pub fn find(&self, id: &Identity<'_>) -> Option<usize> {
        self.watches.iter().position(|w| {
            w.mmsi == Some(id.mmsi)
                || (w.imo.is_some() && w.imo == id.imo)
                || (w.name.is_some() && w.name.as_deref() == id.name)
                || (w.callsign.is_some() && w.callsign.as_deref() == id.callsign)
        })
    }

    /// The entry at `index`.
    pub fn get(&self, index: usize) -> &Watch {
        &self.watches[index]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list() -> Watchlist {
        #[derive(serde::Deserialize)]
        struct Watches {
            watch: Vec<WatchConfig>,
        }
        let cfg: Watches = toml::from_str(
            r#"
            [[watch]]
            label = "Sparta"
            imo = 9268710
            name = "SPARTA"
            [[watch]]
            label = "Sparta IV"
            name = "sparta  iv"
            [[watch]]
            label = "Kola"
            mmsi = 273318510
            "#,
        )
        .unwrap();
        Watchlist::new(&cfg.watch)
    }

    #[test]
    fn names_match_normalised_and_exactly() {
        assert_eq!(normalise("  sparta@@@  iv  "), "SPARTA IV");
        let l = list();
        let id = |name| Identity {
            mmsi: 1,
            name: Some(name),
            ..Identity::default()
        };
        assert_eq!(l.find(&id("SPARTA")), Some(0));
        assert_eq!(l.find(&id("SPARTA IV")), Some(1));
        assert_eq!(l.find(&id("SPARTA II")), None);
    }

    #[test]
    fn imo_and_mmsi() {
        let l = list();
        let by_imo = Identity {
            mmsi: 5,
            imo: Some(9268710),
            ..Identity::default()
        };
        assert_eq!(l.find(&by_imo), Some(0));
        let by_mmsi = Identity {
            mmsi: 273318510,
            ..Identity::default()
        };
        assert_eq!(l.get(l.find(&by_mmsi).unwrap()).label, "Kola");
        assert_eq!(l.find(&Identity::default()), None);
    }
}
