//! gpsd-compatible JSON for decoded messages: what `vesselwatch decode` prints.
//!
//! Owns the field names and scaling of `gpsdecode -j` (degrees, knots, metres) so that existing
//! tooling reads vesselwatch's output. Written by hand over `itoa`/`ryu` instead of through serde
//! because every message needs a per-type field set, `null` for "not available" and gpsd's rounding,
//! and this path has to keep up with more than a million messages a second.

use crate::decode::{AisMessage, Dimensions, Position};
use crate::frontend::Decoded;

/// Appends one JSON object (no newline) for `d` to `out`.
pub fn write_message(out: &mut Vec<u8>, d: &Decoded) {
    let mut o = Obj::new(out);
    let h = d.message.header();
    o.uint("type", h.msg_type);
    o.uint("repeat", h.repeat);
    o.uint("mmsi", h.mmsi);
    match &d.message {
        AisMessage::Position(p) => position(&mut o, p),
        AisMessage::ExtendedClassB(p, x) => {
            position(&mut o, p);
            o.str("shipname", x.shipname.as_str());
            o.uint("shiptype", x.shiptype);
            dimensions(&mut o, &x.dims);
            o.uint("epfd", x.epfd);
        }
        AisMessage::BaseStation(m) => {
            let [y, mo, da, hh, mi, s] = m.civil;
            // gpsd's "%04u-%02u-%02uT%02u:%02u:%02uZ", kept even when fields say "not available".
            let stamp = format!("{y:04}-{mo:02}-{da:02}T{hh:02}:{mi:02}:{s:02}Z");
            o.str("timestamp", &stamp);
            o.bool("accuracy", m.accuracy);
            o.float("lon", m.lon, 7);
            o.float("lat", m.lat, 7);
            o.uint("epfd", m.epfd);
            o.bool("raim", m.raim);
            o.uint("radio", m.radio);
        }
        AisMessage::StaticVoyage(m) => {
            o.uint("ais_version", m.ais_version);
            o.uint("imo", m.imo.unwrap_or(0));
            o.str("callsign", m.callsign.as_str());
            o.str("shipname", m.shipname.as_str());
            o.uint("shiptype", m.shiptype);
            dimensions(&mut o, &m.dims);
            o.uint("epfd", m.epfd);
            let [mo, da, hh, mi] = m.eta;
            let eta = format!("{mo:02}-{da:02}T{hh:02}:{mi:02}Z");
            o.str("eta", &eta);
            o.float("draught", Some(f64::from(m.draught)), 1);
            o.str("destination", m.destination.as_str());
            if let Some(dte) = m.dte {
                o.uint("dte", u8::from(dte));
            }
        }
        AisMessage::StaticPartA(m) => {
            o.str("part", "A");
            o.str("shipname", m.shipname.as_str());
        }
        AisMessage::StaticPartB(m) => {
            o.str("part", "B");
            o.uint("shiptype", m.shiptype);
            o.str("callsign", m.callsign.as_str());
            if let Some(dims) = &m.dims {
                dimensions(&mut o, dims);
            }
            if let Some(mother) = m.mothership_mmsi {
                o.uint("mothership_mmsi", mother);
            }
        }
        AisMessage::AidToNavigation(m) => {
            o.uint("aid_type", m.aid_type);
            o.str("name", m.name.as_str());
            o.float("lon", m.lon, 7);
            o.float("lat", m.lat, 7);
            o.bool("accuracy", m.accuracy);
            dimensions(&mut o, &m.dims);
            o.uint("epfd", m.epfd);
            o.uint("second", m.second);
            o.bool("off_position", m.off_position);
            o.bool("raim", m.raim);
            o.bool("virtual_aid", m.virtual_aid);
        }
        AisMessage::Other(_) => {}
    }
    let meta = &d.meta;
    if let Some(s) = &meta.tag_source {
        o.str("tag_source", s.as_str());
    }
    if let Some(t) = meta.tag_time {
        o.str("tag_time", &t.to_string());
    }
    if let Some(t) = meta.log_time {
        o.str("log_time", &t.to_string());
    }
    if let Some(s) = &meta.station {
        o.str("station", s.as_str());
    }
    o.close();
}

fn position(o: &mut Obj<'_>, p: &Position) {
    let long_range = p.header.msg_type == 27;
    if let Some(s) = p.status {
        o.uint("status", s);
    }
    if p.header.msg_type <= 3 {
        match p.turn {
            Some(t) => o.int("turn", i64::from(t)),
            None => o.null("turn"),
        }
    }
    o.float("speed", p.speed.map(f64::from), 1);
    o.bool("accuracy", p.accuracy);
    let decimals = if long_range { 4 } else { 7 };
    o.float("lon", p.lon, decimals);
    o.float("lat", p.lat, decimals);
    o.float("course", p.course.map(f64::from), 1);
    if !long_range {
        match p.heading {
            Some(h) => o.uint("heading", h),
            None => o.null("heading"),
        }
    }
    if let Some(s) = p.second {
        o.uint("second", s);
    }
    if let Some(m) = p.maneuver {
        o.uint("maneuver", m);
    }
    o.bool("raim", p.raim);
    if let Some(r) = p.radio {
        o.uint("radio", r);
    }
    if let Some(g) = p.gnss {
        o.bool("gnss", g);
    }
}

fn dimensions(o: &mut Obj<'_>, d: &Dimensions) {
    o.uint("to_bow", d.to_bow);
    o.uint("to_stern", d.to_stern);
    o.uint("to_port", d.to_port);
    o.uint("to_starboard", d.to_starboard);
}

/// A minimal JSON object writer. Keys are literals chosen here, so they need no escaping.
struct Obj<'a> {
    out: &'a mut Vec<u8>,
    first: bool,
}

impl<'a> Obj<'a> {
    fn new(out: &'a mut Vec<u8>) -> Self {
        out.push(b'{');
        Self { out, first: true }
    }

    #[inline]
    fn key(&mut self, k: &str) {
        if !self.first {
            self.out.push(b',');
        }
        self.first = false;
        self.out.push(b'"');
        self.out.extend_from_slice(k.as_bytes());
        self.out.extend_from_slice(b"\":");
    }

    fn uint(&mut self, k: &str, v: impl itoa::Integer) {
        self.key(k);
        self.out
            .extend_from_slice(itoa::Buffer::new().format(v).as_bytes());
    }

    fn int(&mut self, k: &str, v: i64) {
        self.uint(k, v);
    }

    fn null(&mut self, k: &str) {
        self.key(k);
        self.out.extend_from_slice(b"null");
    }

    fn bool(&mut self, k: &str, v: bool) {
        self.key(k);
        self.out
            .extend_from_slice(if v { b"true" } else { b"false" });
    }

    /// A float rounded to `decimals` places, as gpsd prints it; `null` when not available.
    fn float(&mut self, k: &str, v: Option<f64>, decimals: i32) {
        self.key(k);
        match v {
            Some(x) if x.is_finite() => {
                let scale = 10f64.powi(decimals);
                let r = (x * scale).round() / scale;
                self.out
                    .extend_from_slice(ryu::Buffer::new().format_finite(r).as_bytes());
            }
            _ => self.out.extend_from_slice(b"null"),
        }
    }

    fn str(&mut self, k: &str, v: &str) {
        self.key(k);
        self.out.push(b'"');
        for &c in v.as_bytes() {
            match c {
                b'"' => self.out.extend_from_slice(b"\\\""),
                b'\\' => self.out.extend_from_slice(b"\\\\"),
                c if c < 0x20 => {
                    self.out.extend_from_slice(b"\\u00");
                    self.out.push(b"0123456789abcdef"[usize::from(c >> 4)]);
                    self.out.push(b"0123456789abcdef"[usize::from(c & 15)]);
                }
                c => self.out.push(c),
            }
        }
        self.out.push(b'"');
    }

    fn close(self) {
        self.out.push(b'}');
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frontend::FrontEnd;

    fn json(line: &str) -> serde_json::Value {
        let mut fe = FrontEnd::default();
        let d = fe.push_line(0, line.as_bytes()).expect("decodes");
        let mut out = Vec::new();
        write_message(&mut out, &d);
        serde_json::from_slice(&out).expect("valid JSON")
    }

    #[test]
    fn type1_matches_gpsd_scaling() {
        let v = json("!AIVDM,1,1,,A,15RTgt0PAso;90TKcjM8h6g208CQ,0*4A");
        assert_eq!(v["mmsi"], 371_798_000);
        assert_eq!(v["speed"], 12.3);
        assert_eq!(v["lat"], 48.3816333);
        assert_eq!(v["lon"], -123.3953833);
        assert_eq!(v["course"], 224.0);
        assert_eq!(v["heading"], 215);
    }

    #[test]
    fn not_available_is_null_and_tag_fields_are_added() {
        // Type 1 with heading 511.
        let v = json(
            "\\s:rORBCOMM104,q:u,c:1418172113,T:2014-12-10 00.41.53*55\\!AIVDM,1,1,,B,13F?Vv700<DJuLEtvep`iToV0<00,0*78",
        );
        assert_eq!(v["tag_source"], "rORBCOMM104");
        assert_eq!(v["tag_time"], "2014-12-10T00:41:53Z");
        let v = json("!AIVDM,1,1,,A,16SteH0P00Jt63hHaa6SagvJ087r,0*42");
        assert!(v["heading"].is_null());
        assert!(v["turn"].is_null());
    }
}
