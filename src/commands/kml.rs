//! KML 2.2 (OGC 07-147r2) for the query commands: what Google Earth users open.
//!
//! Owns the KML document: a `Placemark` per track (a `LineString`, or a `Point` for one fix, as
//! the GeoJSON does) and per record with a position (events at their fix, vessels at their last
//! position), each with its time (`TimeStamp`, or a `TimeSpan` for a track) and the record's
//! fields as `ExtendedData`. Never decides what a record holds: it writes what the query gives.
//!
//! Written through quick-xml's writer, which escapes every text and attribute value (a vessel
//! named `A&B <X>` stays well-formed). Coordinates are `lon,lat` (KML 2.2 §16.9, WGS84 degrees,
//! longitude first), numbers in Rust's shortest round-trip form: the figures the JSON prints.

use std::io::{self, Write};

use quick_xml::Writer;
use quick_xml::events::{BytesDecl, BytesText, Event};
use serde_json::Value;

use crate::store::query::TrackPoint;

/// The KML 2.2 namespace (OGC 07-147r2 §6.1); without it Google Earth reads nothing.
pub const NAMESPACE: &str = "http://www.opengis.net/kml/2.2";

/// One placemark to write: where, when, what to call it and what to say about it.
pub(crate) struct Mark<'a> {
    /// The placemark's name, shown beside it on the map.
    pub name: String,
    /// A line for people, shown when it is clicked.
    pub description: String,
    /// `TimeStamp` (one time) or `TimeSpan` (first and last), RFC 3339.
    pub when: When<'a>,
    /// `ExtendedData`: field name and value, in order; empty values are left out.
    pub data: Vec<(&'a str, String)>,
    /// `(lon, lat)` positions: one is a `Point`, more a `LineString`.
    pub coordinates: Vec<(f64, f64)>,
}

/// The time of a placemark.
pub(crate) enum When<'a> {
    /// A moment (an event, a vessel last seen).
    Stamp(&'a str),
    /// A period (a track from its first fix to its last).
    Span(&'a str, &'a str),
    /// None known.
    Unknown,
}

/// `lon,lat` tuples separated by spaces (KML 2.2 §16.9: "no spaces within a tuple").
fn coordinates(points: &[(f64, f64)]) -> String {
    points
        .iter()
        .map(|(lon, lat)| format!("{lon},{lat}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Writes a KML document named `title` holding `marks`, in order.
pub(crate) fn write(out: &mut dyn Write, title: &str, marks: &[Mark<'_>]) -> io::Result<()> {
    let mut w = Writer::new_with_indent(out, b' ', 2);
    w.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))?;
    w.create_element("kml")
        .with_attribute(("xmlns", NAMESPACE))
        .write_inner_content(|w| {
            w.create_element("Document").write_inner_content(|w| {
                text(w, "name", title)?;
                for m in marks {
                    placemark(w, m)?;
                }
                Ok(())
            })?;
            Ok(())
        })?;
    w.into_inner().write_all(b"\n")
}

/// `<tag>text</tag>`, the text escaped.
fn text<W: Write>(w: &mut Writer<W>, tag: &str, value: &str) -> io::Result<()> {
    w.create_element(tag)
        .write_text_content(BytesText::new(value))?;
    Ok(())
}

/// One `Placemark`, its children in the order KML 2.2's schema requires (name, description,
/// TimePrimitive, ExtendedData, Geometry: §9.1.1).
fn placemark<W: Write>(w: &mut Writer<W>, m: &Mark<'_>) -> io::Result<()> {
    w.create_element("Placemark").write_inner_content(|w| {
        text(w, "name", &m.name)?;
        text(w, "description", &m.description)?;
        match m.when {
            When::Stamp(t) => {
                w.create_element("TimeStamp")
                    .write_inner_content(|w| text(w, "when", t))?;
            }
            When::Span(begin, end) => {
                w.create_element("TimeSpan").write_inner_content(|w| {
                    text(w, "begin", begin)?;
                    text(w, "end", end)
                })?;
            }
            When::Unknown => {}
        }
        let data: Vec<&(&str, String)> = m.data.iter().filter(|(_, v)| !v.is_empty()).collect();
        if !data.is_empty() {
            w.create_element("ExtendedData").write_inner_content(|w| {
                for (name, value) in data {
                    w.create_element("Data")
                        .with_attribute(("name", *name))
                        .write_inner_content(|w| text(w, "value", value))?;
                }
                Ok(())
            })?;
        }
        let geometry = if m.coordinates.len() == 1 {
            "Point"
        } else {
            "LineString"
        };
        w.create_element(geometry)
            .write_inner_content(|w| text(w, "coordinates", &coordinates(&m.coordinates)))?;
        Ok(())
    })?;
    Ok(())
}

/// A track as KML: a placemark per vessel, a `LineString` through its fixes (a `Point` for one
/// fix: a LineString needs two, §10.7.2), over the `TimeSpan` from its first fix to its last.
pub fn track(out: &mut dyn Write, points: &[TrackPoint]) -> io::Result<()> {
    let mut by_vessel: std::collections::BTreeMap<u32, Vec<&TrackPoint>> = Default::default();
    for p in points {
        by_vessel.entry(p.mmsi).or_default().push(p);
    }
    let times: Vec<(u32, String, String)> = by_vessel
        .iter()
        .filter_map(|(mmsi, pts)| {
            Some((
                *mmsi,
                pts.first()?.time.to_string(),
                pts.last()?.time.to_string(),
            ))
        })
        .collect();
    let marks: Vec<Mark<'_>> = times
        .iter()
        .map(|(mmsi, first, last)| {
            let pts = &by_vessel[mmsi];
            Mark {
                name: mmsi.to_string(),
                description: format!("MMSI {mmsi}: {} position(s), {first} to {last}", pts.len()),
                when: if pts.len() == 1 {
                    When::Stamp(first)
                } else {
                    When::Span(first, last)
                },
                data: vec![("mmsi", mmsi.to_string())],
                coordinates: pts.iter().map(|p| (p.lon, p.lat)).collect(),
            }
        })
        .collect();
    write(out, "vesselwatch track", &marks)
}

/// A field of a record as KML text: the CSV's cell (strings as they are, numbers as JSON writes
/// them, lists joined by `|`, nothing for null).
pub(crate) fn cell(record: &Value, pointer: &str) -> String {
    super::query::csv_cell(record.pointer(pointer))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Text that is XML markup is escaped (read back by roxmltree, a parser that is not the
    /// writer, it is the same text), and coordinates are lon,lat.
    #[test]
    fn names_are_escaped_and_coordinates_are_lon_lat() {
        let mut out = Vec::new();
        write(
            &mut out,
            "t",
            &[Mark {
                name: "A&B <X> \"Y\"".into(),
                description: "d".into(),
                when: When::Stamp("2025-01-20T10:55:38.452Z"),
                data: vec![("kind", "arrival".into()), ("label", String::new())],
                coordinates: vec![(35.7501, 34.9)],
            }],
        )
        .unwrap();
        let text = String::from_utf8(out).unwrap();
        let doc = roxmltree::Document::parse(&text).unwrap();
        let name = doc
            .descendants()
            .find(|n| n.has_tag_name((NAMESPACE, "Placemark")))
            .and_then(|p| p.children().find(|n| n.has_tag_name((NAMESPACE, "name"))))
            .and_then(|n| n.text());
        assert_eq!(name, Some("A&B <X> \"Y\""));
        assert!(
            text.contains("<coordinates>35.7501,34.9</coordinates>"),
            "{text}"
        );
        // The empty label is left out; the kind is kept.
        assert!(text.contains("<Data name=\"kind\">"), "{text}");
        assert!(!text.contains("\"label\""), "{text}");
        assert!(text.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>"));
    }
}
