//! Message time as data.
//!
//! Owns the one representation of time the pure core uses ([`UnixMillis`]) and its conversions to and
//! from the forms found in feeds (Unix seconds, Unix milliseconds, RFC 3339). It must never read a
//! clock: replay is deterministic only because time arrives with the data.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch, UTC.
///
/// Integer milliseconds rather than `SystemTime` because it is `Copy`, totally ordered, cheap to
/// subtract and serialises the same on every platform, which is what replay and reassembly time limits
/// need.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(transparent)]
pub struct UnixMillis(pub i64);

/// Epoch values at or above this are taken to be milliseconds (10^11 s is the year 5138).
const MILLIS_THRESHOLD: u64 = 100_000_000_000;

impl UnixMillis {
    /// Interprets an integer epoch that may be seconds or milliseconds, as tag blocks (`c:`) and
    /// recorded logs use both. Values too large for either are refused.
    pub fn from_epoch_auto(value: u64) -> Option<Self> {
        if value >= MILLIS_THRESHOLD {
            // Milliseconds: 13 digits for the present era. Refuse absurd values (after year 5138).
            if value >= MILLIS_THRESHOLD * 1000 {
                return None;
            }
            Some(UnixMillis(value as i64))
        } else {
            Some(UnixMillis(value as i64 * 1000))
        }
    }

    /// Parses a run of ASCII digits (optionally with a fractional part of seconds, as in
    /// `1325394060.5`) as an epoch in seconds or milliseconds.
    pub fn parse_epoch(text: &[u8]) -> Option<Self> {
        let (int_part, frac_part) = match memchr::memchr(b'.', text) {
            Some(dot) => (&text[..dot], Some(&text[dot + 1..])),
            None => (text, None),
        };
        // 9 to 13 digits: 2001-09-09 onwards in seconds, or milliseconds. Anything shorter is more
        // likely a count or a station id than a time.
        if !(9..=13).contains(&int_part.len()) {
            return None;
        }
        let value = parse_u64(int_part)?;
        let mut t = Self::from_epoch_auto(value)?;
        if let Some(frac) = frac_part {
            if frac.is_empty() || !frac.iter().all(u8::is_ascii_digit) || value >= MILLIS_THRESHOLD
            {
                return None;
            }
            let mut ms = 0i64;
            for (i, d) in frac.iter().take(3).enumerate() {
                ms += i64::from(d - b'0') * [100, 10, 1][i];
            }
            t.0 += ms;
        }
        Some(t)
    }

    /// Parses an RFC 3339 UTC time such as `2024-12-02T14:00:00Z` (also with a space for `T` or
    /// fractional seconds).
    pub fn parse_rfc3339(text: &[u8]) -> Option<Self> {
        let s = std::str::from_utf8(text).ok()?;
        // Only attempt strings that look like a date, so arbitrary garbage is cheap to refuse.
        let b = s.as_bytes();
        if b.len() < 19 || !b[..4].iter().all(u8::is_ascii_digit) || b[4] != b'-' {
            return None;
        }
        let st = humantime::parse_rfc3339_weak(s.trim_end_matches('Z'))
            .or_else(|_| humantime::parse_rfc3339(s))
            .ok()?;
        Self::from_system_time(st)
    }

    /// Parses a time a person or a client typed (a command-line option, an API parameter): the
    /// whole of RFC 3339 and nothing else, `Z` or a numeric offset required (a time without one is
    /// ambiguous, not UTC), fractional seconds allowed. Feeds use the lenient [`parse_rfc3339`];
    /// this one refuses `...Zjunk`, `...Z%00` and `2025-01-01T00:00:00`.
    ///
    /// [`parse_rfc3339`]: UnixMillis::parse_rfc3339
    pub fn parse_rfc3339_strict(s: &str) -> Option<Self> {
        let digits = |b: &[u8]| !b.is_empty() && b.iter().all(u8::is_ascii_digit);
        let (base, offset_min) = match s.strip_suffix(['Z', 'z']) {
            Some(base) => (base, 0i64),
            None => {
                let split = s.len().checked_sub(6)?;
                let (base, off) = (s.get(..split)?, s.get(split..)?.as_bytes());
                let sign = match off.first()? {
                    b'+' => 1,
                    b'-' => -1,
                    _ => return None,
                };
                if off.get(3) != Some(&b':') || !digits(&off[1..3]) || !digits(&off[4..6]) {
                    return None;
                }
                let h = i64::from((off[1] - b'0') * 10 + (off[2] - b'0'));
                let m = i64::from((off[4] - b'0') * 10 + (off[5] - b'0'));
                if h > 23 || m > 59 {
                    return None;
                }
                (base, sign * (h * 60 + m))
            }
        };
        let b = base.as_bytes();
        let shape = b.len() >= 19
            && digits(&b[0..4])
            && b[4] == b'-'
            && digits(&b[5..7])
            && b[7] == b'-'
            && digits(&b[8..10])
            && matches!(b[10], b'T' | b't' | b' ')
            && digits(&b[11..13])
            && b[13] == b':'
            && digits(&b[14..16])
            && b[16] == b':'
            && digits(&b[17..19])
            && (b.len() == 19 || (b[19] == b'.' && digits(&b[20..]) && b.len() <= 29));
        if !shape {
            return None;
        }
        let t = Self::from_system_time(humantime::parse_rfc3339_weak(base).ok()?)?;
        t.0.checked_sub(offset_min * 60_000).map(UnixMillis)
    }

    /// Converts from a `SystemTime`; times before 1970 are refused because no AIS feed has them.
    pub fn from_system_time(t: SystemTime) -> Option<Self> {
        let d = t.duration_since(UNIX_EPOCH).ok()?;
        i64::try_from(d.as_millis()).ok().map(UnixMillis)
    }

    /// Builds a time from civil UTC fields, as carried by AIS type 4 reports. Returns `None` for the
    /// "not available" values (year 0, month 0, hour 24, minute 60, second 60) and impossible dates.
    pub fn from_civil(
        year: u32,
        month: u32,
        day: u32,
        hour: u32,
        minute: u32,
        second: u32,
    ) -> Option<Self> {
        if !(1970..=9999).contains(&year)
            || !(1..=12).contains(&month)
            || day == 0
            || day > days_in_month(year, month)
            || hour > 23
            || minute > 59
            || second > 59
        {
            return None;
        }
        let days = days_from_civil(year as i64, month as i64, day as i64);
        let secs = days * 86_400 + i64::from(hour * 3600 + minute * 60 + second);
        Some(UnixMillis(secs * 1000))
    }

    /// The civil UTC fields (year, month, day, hour, minute, second) of a time from 1970 on, as a
    /// type 4 report carries them; the inverse of [`UnixMillis::from_civil`].
    pub fn to_civil(self) -> (u32, u32, u32, u32, u32, u32) {
        let secs = self.0.div_euclid(1000);
        let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
        // Howard Hinnant's `civil_from_days`.
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let d = doy - (153 * mp + 2) / 5 + 1;
        let m = if mp < 10 { mp + 3 } else { mp - 9 };
        let y = yoe + era * 400 + i64::from(m <= 2);
        (
            y as u32,
            m as u32,
            d as u32,
            (rem / 3600) as u32,
            (rem % 3600 / 60) as u32,
            (rem % 60) as u32,
        )
    }

    /// Milliseconds from `earlier` to `self` (negative when `self` is earlier).
    pub fn millis_since(self, earlier: UnixMillis) -> i64 {
        self.0 - earlier.0
    }
}

impl fmt::Display for UnixMillis {
    /// RFC 3339 UTC, with milliseconds only when they are not zero, so that second-resolution feeds
    /// print as people write them.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 < 0 {
            return write!(f, "{}ms", self.0);
        }
        let st = UNIX_EPOCH + Duration::from_millis(self.0 as u64);
        if self.0 % 1000 == 0 {
            write!(f, "{}", humantime::format_rfc3339_seconds(st))
        } else {
            write!(f, "{}", humantime::format_rfc3339_millis(st))
        }
    }
}

/// Parses ASCII digits into a `u64`, refusing empty input, non-digits and overflow.
pub(crate) fn parse_u64(text: &[u8]) -> Option<u64> {
    if text.is_empty() || text.len() > 19 {
        return None;
    }
    let mut v: u64 = 0;
    for &c in text {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v * 10 + u64::from(c - b'0');
    }
    Some(v)
}

fn is_leap(y: u32) -> bool {
    (y.is_multiple_of(4) && !y.is_multiple_of(100)) || y.is_multiple_of(400)
}

fn days_in_month(y: u32, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(y) => 29,
        _ => 28,
    }
}

/// Days since 1970-01-01 for a proleptic Gregorian date (Howard Hinnant's `days_from_civil`).
/// Written here because it is six lines and the type 4 path should not allocate or parse strings.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epoch_seconds_and_millis_are_told_apart() {
        assert_eq!(
            UnixMillis::parse_epoch(b"1418169601"),
            Some(UnixMillis(1_418_169_601_000))
        );
        assert_eq!(
            UnixMillis::parse_epoch(b"1418169601123"),
            Some(UnixMillis(1_418_169_601_123))
        );
        assert_eq!(
            UnixMillis::parse_epoch(b"1325394060.25"),
            Some(UnixMillis(1_325_394_060_250))
        );
        assert_eq!(UnixMillis::parse_epoch(b"36310"), None);
        assert_eq!(UnixMillis::parse_epoch(b"14181x9601"), None);
    }

    #[test]
    fn rfc3339_round_trips() {
        let t = UnixMillis::parse_rfc3339(b"2024-12-02T14:00:00Z").unwrap();
        assert_eq!(t, UnixMillis(1_733_148_000_000));
        assert_eq!(t.to_string(), "2024-12-02T14:00:00Z");
        assert_eq!(
            UnixMillis(1_733_148_000_250).to_string(),
            "2024-12-02T14:00:00.250Z"
        );
        assert_eq!(UnixMillis::parse_rfc3339(b"hello world, not a time"), None);
    }

    #[test]
    fn civil_matches_rfc3339_and_refuses_not_available() {
        let t = UnixMillis::from_civil(2007, 5, 14, 19, 57, 39).unwrap();
        assert_eq!(t.to_string(), "2007-05-14T19:57:39Z");
        assert_eq!(
            UnixMillis::from_civil(2024, 2, 29, 0, 0, 0)
                .unwrap()
                .to_string(),
            "2024-02-29T00:00:00Z"
        );
        assert_eq!(UnixMillis::from_civil(2023, 2, 29, 0, 0, 0), None);
        // The inverse, against dates written by hand.
        assert_eq!(t.to_civil(), (2007, 5, 14, 19, 57, 39));
        assert_eq!(
            UnixMillis(951_782_400_000).to_civil(),
            (2000, 2, 29, 0, 0, 0)
        );
        assert_eq!(UnixMillis(0).to_civil(), (1970, 1, 1, 0, 0, 0));
        assert_eq!(UnixMillis::from_civil(0, 0, 0, 24, 60, 60), None);
    }
}

#[cfg(test)]
mod strict_tests {
    use super::UnixMillis;

    #[test]
    fn strict_rfc3339_takes_offsets_and_refuses_junk_and_missing_offsets() {
        let t = |s: &str| UnixMillis::parse_rfc3339_strict(s).map(|t| t.to_string());
        assert_eq!(
            t("2025-01-25T00:00:00Z").as_deref(),
            Some("2025-01-25T00:00:00Z")
        );
        // The same instant written in Syria's offset.
        assert_eq!(
            t("2025-01-25T03:00:00+03:00").as_deref(),
            Some("2025-01-25T00:00:00Z")
        );
        assert_eq!(
            t("2025-01-24T19:30:00-04:30").as_deref(),
            Some("2025-01-25T00:00:00Z")
        );
        assert_eq!(
            t("2025-01-25T00:00:00.250Z").as_deref(),
            Some("2025-01-25T00:00:00.250Z")
        );
        for bad in [
            "2025-01-25T00:00:00Zjunk",
            "2025-01-25T00:00:00Z\0",
            "2025-01-25T00:00:00",
            "2025-01-25T00:00:00+3:00",
            "2025-01-25T00:00:00+24:00",
            "2025-13-25T00:00:00Z",
            " 2025-01-25T00:00:00Z",
            "2025-01-25",
            "",
        ] {
            assert_eq!(t(bad), None, "{bad:?}");
        }
    }
}
