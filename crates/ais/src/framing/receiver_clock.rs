//! Receiver clock sentences: the time a receiver interleaves with the AIS sentences it outputs.
//!
//! Owns the parsing of `$xxZDA` (time and date), `$xxRMC` (time, validity and date) and Gatehouse
//! `$PGHP` (a time before each sentence, to the millisecond). These are better clocks than base
//! stations when a feed has no tag blocks, so the front end remembers the latest one per feed.
//! Pure and allocation-free; the checksum is verified here like any sentence's.

use super::{hex_byte, xor_checksum};
use crate::time::{UnixMillis, parse_u64};

/// The time a receiver clock sentence states, or `None` when the line is not one, fails its
/// checksum, or says its time is not valid (an RMC with status `V`, empty fields, an impossible
/// date). `line` is the whole trimmed line starting at `$`.
pub fn parse(line: &[u8]) -> Option<UnixMillis> {
    let [b'$', rest @ ..] = line else {
        return None;
    };
    let star = memchr::memrchr(b'*', rest)?;
    let (body, cs) = super::split_around(rest, star)?;
    if hex_byte(cs)? != xor_checksum(body) {
        return None;
    }
    let mut fields = body.split(|&b| b == b',');
    let address = fields.next()?;
    if address == b"PGHP" {
        // $PGHP,1,yyyy,mm,dd,hh,mm,ss,ms,...: message type 1 carries the time of the next sentence.
        if fields.next()? != b"1" {
            return None;
        }
        let mut n = [0u32; 7];
        for v in &mut n {
            *v = u32::try_from(parse_u64(fields.next()?)?).ok()?;
        }
        let [y, mo, d, h, mi, s, ms] = n;
        if ms > 999 {
            return None;
        }
        // A civil time of year 9999 at most, plus under a second: far inside i64.
        return UnixMillis::from_civil(y, mo, d, h, mi, s)
            .map(|t| UnixMillis(t.0.saturating_add(i64::from(ms))));
    }
    let [_, _, kind @ ..] = address else {
        return None;
    };
    if address.len() != 5 {
        return None;
    }
    match kind {
        b"ZDA" => {
            // $xxZDA,hhmmss.ss,dd,mm,yyyy,zh,zm
            let hms = fields.next()?;
            let day = parse_u64(fields.next()?)?;
            let month = parse_u64(fields.next()?)?;
            let year = parse_u64(fields.next()?)?;
            civil_with_time(year, month, day, hms)
        }
        b"RMC" => {
            // $xxRMC,hhmmss.ss,A,lat,N,lon,E,sog,cog,ddmmyy,...: only a valid (A) fix's time counts.
            let hms = fields.next()?;
            if fields.next()? != b"A" {
                return None;
            }
            let date = fields.nth(6)?;
            let [d0, d1, m0, m1, y0, y1] = date else {
                return None;
            };
            let dd = parse_u64(&[*d0, *d1])?;
            let mm = parse_u64(&[*m0, *m1])?;
            let yy = parse_u64(&[*y0, *y1])?;
            // Two-digit years: NMEA receivers of this century; 80–99 are GPS week-rollover dates.
            // Two digits, so at most 99: no overflow.
            let year = if yy < 80 {
                yy.saturating_add(2000)
            } else {
                yy.saturating_add(1900)
            };
            civil_with_time(year, mm, dd, hms)
        }
        _ => None,
    }
}

/// `hhmmss` with optional fractional seconds, on a civil date.
fn civil_with_time(year: u64, month: u64, day: u64, hms: &[u8]) -> Option<UnixMillis> {
    let (whole, frac) = match memchr::memchr(b'.', hms) {
        Some(dot) => super::split_around(hms, dot)?,
        None => (hms, &b""[..]),
    };
    let [h0, h1, m0, m1, s0, s1] = whole else {
        return None;
    };
    let h = parse_u64(&[*h0, *h1])?;
    let m = parse_u64(&[*m0, *m1])?;
    let s = parse_u64(&[*s0, *s1])?;
    let mut ms = 0i64;
    for (d, scale) in frac.iter().zip([100, 10, 1]) {
        if !d.is_ascii_digit() {
            return None;
        }
        // At most 9 × 100 + 9 × 10 + 9: no overflow.
        ms = ms.saturating_add(i64::from(d.saturating_sub(b'0')).saturating_mul(scale));
    }
    let small = |v: u64| u32::try_from(v).ok();
    let t = UnixMillis::from_civil(
        small(year)?,
        small(month)?,
        small(day)?,
        small(h)?,
        small(m)?,
        small(s)?,
    )?;
    Some(UnixMillis(t.0.saturating_add(ms)))
}

#[cfg(test)]
// Tests index their own fixtures; a panic there is a failed test, as it should be.
#[allow(clippy::indexing_slicing, clippy::arithmetic_side_effects)]
mod tests {
    use super::*;

    fn with_checksum(body: &str) -> String {
        format!("${body}*{:02X}", xor_checksum(body.as_bytes()))
    }

    #[test]
    fn zda_rmc_and_pghp() {
        // Times read off each sentence by hand.
        assert_eq!(
            parse(b"$GPZDA,201530.00,04,07,2002,00,00*60").map(|t| t.to_string()),
            Some("2002-07-04T20:15:30Z".into())
        );
        let rmc =
            with_checksum("GNRMC,123519.50,A,4807.038,N,01131.000,E,022.4,084.4,230394,003.1,W");
        assert_eq!(
            parse(rmc.as_bytes()).map(|t| t.to_string()),
            Some("1994-03-23T12:35:19.500Z".into())
        );
        // pyais's gatehouse.nmea sample: 2008-05-09 00:00:00 and 10 ms.
        assert_eq!(
            parse(b"$PGHP,1,2008,5,9,0,0,0,10,338,2,,1,09*17").map(|t| t.to_string()),
            Some("2008-05-09T00:00:00.010Z".into())
        );
    }

    #[test]
    fn invalid_clocks_are_not_clocks() {
        let void = with_checksum("GPRMC,123519,V,,,,,,,230394,,");
        assert_eq!(parse(void.as_bytes()), None);
        let empty = with_checksum("GPZDA,,,,,,");
        assert_eq!(parse(empty.as_bytes()), None);
        assert_eq!(parse(b"$GPZDA,201530.00,04,07,2002,00,00*61"), None);
        let impossible = with_checksum("GPZDA,201530.00,31,02,2002,00,00");
        assert_eq!(parse(impossible.as_bytes()), None);
        assert_eq!(parse(b"$GPGGA"), None);
        assert_eq!(parse(b"$"), None);
    }
}
