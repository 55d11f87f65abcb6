//! The aisstream.io JSON feed, mapped to the messages decoded NMEA gives.
//!
//! Owns the subscription message and the mapping of `PositionReport`, `StandardClassBPositionReport`
//! and `ShipStaticData` to [`AisMessage`]s, with the same "not available" and range rules as the
//! NMEA decoder. Pure: JSON text in, a [`Decoded`] (or nothing) out.

use serde_json::{Value, json};

use vesselwatch_ais::decode::{
    AisMessage, AisText, Dimensions, Header, InvalidFields, Position, StaticVoyage,
};
use vesselwatch_ais::frontend::{Decoded, Meta};
use vesselwatch_ais::time::UnixMillis;

/// The message aisstream expects right after connecting.
pub fn subscription(api_key: &str, boxes: &[[[f64; 2]; 2]], mmsi: &[String]) -> String {
    let boxes: Vec<Value> = if boxes.is_empty() {
        vec![json!([[-90.0, -180.0], [90.0, 180.0]])]
    } else {
        boxes.iter().map(|b| json!(b)).collect()
    };
    let mut sub = json!({
        "APIKey": api_key,
        "BoundingBoxes": boxes,
        "FilterMessageTypes": ["PositionReport", "StandardClassBPositionReport", "ShipStaticData"],
    });
    if !mmsi.is_empty() {
        sub["FiltersShipMMSI"] = json!(mmsi);
    }
    sub.to_string()
}

/// `2026-04-25 09:47:25.267 +0000 UTC` (aisstream's `time_utc`). Only a time that can be real:
/// from 2000 to 2100 (AIS itself is younger; 9999-12-31 is a placeholder, not a time). Anything
/// else leaves the message to be timed by its arrival.
fn time_utc(v: &Value) -> Option<UnixMillis> {
    const Y2000: i64 = 946_684_800_000;
    const Y2100: i64 = 4_102_444_800_000;
    let s = v.as_str()?;
    let head = s.split(" +").next()?;
    UnixMillis::parse_rfc3339(head.as_bytes()).filter(|t| (Y2000..Y2100).contains(&t.0))
}

/// Why an aisstream message was not used (counted per source).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejected {
    /// Not JSON, or not the shape aisstream sends.
    Malformed,
    /// The MMSI is missing or not a 9-digit number (AIS has 30 bits for it; larger values would
    /// wrap into another ship's number).
    Mmsi,
    /// A position out of range.
    Position,
}

/// A number from the feed that must fit `max`, else it is "not available": never truncated into
/// another value (`2^32 + 9268710` must not become IMO 9268710).
fn bounded(v: &Value, max: u64) -> Option<u64> {
    v.as_u64().filter(|&n| n <= max)
}

fn coord(v: &Value, limit: f64) -> Result<Option<f64>, ()> {
    match v.as_f64() {
        Some(x) if x == limit + 1.0 => Ok(None),
        Some(x) if (-limit..=limit).contains(&x) => Ok(Some(x)),
        Some(_) => Err(()),
        None => Ok(None),
    }
}

fn position(msg_type: u8, mmsi: u32, p: &Value) -> Option<Position> {
    let lat = coord(&p["Latitude"], 90.0).ok()?;
    let lon = coord(&p["Longitude"], 180.0).ok()?;
    let sog = p["Sog"].as_f64().filter(|&s| s < 102.3).map(|s| s as f32);
    let cog = p["Cog"]
        .as_f64()
        .filter(|&c| (0.0..360.0).contains(&c))
        .map(|c| c as f32);
    let heading = p["TrueHeading"]
        .as_u64()
        .filter(|&h| h < 360)
        .map(|h| h as u16);
    Some(Position {
        header: Header {
            msg_type,
            repeat: 0,
            mmsi,
        },
        status: (msg_type != 18).then(|| p["NavigationalStatus"].as_u64().unwrap_or(15) as u8),
        turn: None,
        speed: sog,
        accuracy: p["PositionAccuracy"].as_bool().unwrap_or(false),
        lon,
        lat,
        course: cog,
        heading,
        second: p["Timestamp"].as_u64().map(|s| s as u8),
        maneuver: None,
        raim: p["Raim"].as_bool().unwrap_or(false),
        radio: None,
        gnss: None,
        invalid: InvalidFields::default(),
    })
}

/// Maps one aisstream message; other message types, and malformed or out-of-range ones, give `None`.
pub fn decode(text: &str, feed: u32) -> Result<Option<Decoded>, Rejected> {
    let v: Value = serde_json::from_str(text).map_err(|_| Rejected::Malformed)?;
    let kind = v["MessageType"].as_str().ok_or(Rejected::Malformed)?;
    let body = &v["Message"][kind];
    let mmsi = bounded(&body["UserID"], 999_999_999)
        .or_else(|| bounded(&v["MetaData"]["MMSI"], 999_999_999))
        .filter(|&m| m > 0)
        .ok_or(Rejected::Mmsi)? as u32;
    let message = match kind {
        "PositionReport" => {
            AisMessage::Position(position(1, mmsi, body).ok_or(Rejected::Position)?)
        }
        "StandardClassBPositionReport" => {
            AisMessage::Position(position(18, mmsi, body).ok_or(Rejected::Position)?)
        }
        "ShipStaticData" => {
            let d = &body["Dimension"];
            // Each dimension has its field width in AIS (9 bits fore and aft, 6 athwart).
            let dim = |k: &str, max: u64| bounded(&d[k], max).unwrap_or(0);
            AisMessage::StaticVoyage(StaticVoyage {
                header: Header {
                    msg_type: 5,
                    repeat: 0,
                    mmsi,
                },
                ais_version: 0,
                imo: bounded(&body["ImoNumber"], 999_999_999)
                    .filter(|&i| i != 0)
                    .map(|i| i as u32),
                callsign: AisText::from_text(body["CallSign"].as_str().unwrap_or("")),
                shipname: AisText::from_text(body["Name"].as_str().unwrap_or("")),
                shiptype: bounded(&body["Type"], 255).unwrap_or(0) as u8,
                dims: Dimensions {
                    to_bow: dim("A", 511) as u16,
                    to_stern: dim("B", 511) as u16,
                    to_port: dim("C", 63) as u8,
                    to_starboard: dim("D", 63) as u8,
                },
                epfd: 0,
                eta: [0, 0, 24, 60],
                draught: body["MaximumStaticDraught"]
                    .as_f64()
                    .filter(|d| (0.0..=25.5).contains(d))
                    .unwrap_or(0.0) as f32,
                destination: AisText::from_text(body["Destination"].as_str().unwrap_or("")),
                dte: None,
            })
        }
        // Other message types are not subscribed to; one that comes anyway is not an error.
        _ => return Ok(None),
    };
    Ok(Some(Decoded {
        message,
        meta: Meta {
            feed,
            talker: *b"AI",
            own_ship: false,
            channel: 0,
            tag_time: None,
            tag_source: None,
            log_time: time_utc(&v["MetaData"]["time_utc"]),
            station: None,
            receiver_time: None,
        },
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn position_report_maps_like_nmea() {
        let text = r#"{"MessageType":"PositionReport","MetaData":{"MMSI":273000201,"ShipName":"SPARTA","latitude":34.9,"longitude":35.86,"time_utc":"2025-01-20 11:00:00.250 +0000 UTC"},
            "Message":{"PositionReport":{"UserID":273000201,"Latitude":34.9,"Longitude":35.86,"Sog":0.1,"Cog":360,"TrueHeading":511,"NavigationalStatus":5,"Timestamp":0}}}"#;
        let d = decode(text, 3).unwrap().unwrap();
        let AisMessage::Position(p) = d.message else {
            panic!()
        };
        assert_eq!(
            (p.header.mmsi, p.lat, p.lon, p.course, p.heading),
            (273_000_201, Some(34.9), Some(35.86), None, None)
        );
        assert_eq!(
            d.meta.time().unwrap().to_string(),
            "2025-01-20T11:00:00.250Z"
        );
        let bad = text.replace("\"Latitude\":34.9", "\"Latitude\":95");
        assert_eq!(decode(&bad, 3).unwrap_err(), Rejected::Position);
    }

    /// Regression (issue 11, item 10): numbers beyond their AIS field were truncated into other
    /// values: `UserID` 2^32 + 244000555 became MMSI 244000555, `ImoNumber` 2^32 + 9268710 became
    /// Sparta's IMO, and a `time_utc` of 9999-12-31 was taken as the message time.
    #[test]
    fn numbers_beyond_their_field_are_refused_or_not_available_never_wrapped() {
        let pos = |user: &str, time: &str| {
            format!(
                r#"{{"MessageType":"PositionReport","MetaData":{{"MMSI":{user},"time_utc":"{time}"}},
                "Message":{{"PositionReport":{{"UserID":{user},"Latitude":34.9,"Longitude":35.86,"Sog":0.1}}}}}}"#
            )
        };
        let wrapped = (1u64 << 32) + 244_000_555;
        assert_eq!(
            decode(
                &pos(&wrapped.to_string(), "2025-01-20 11:00:00 +0000 UTC"),
                0
            )
            .unwrap_err(),
            Rejected::Mmsi
        );
        let far = decode(&pos("244000555", "9999-12-31 23:59:59 +0000 UTC"), 0)
            .unwrap()
            .unwrap();
        assert_eq!(far.meta.time(), None, "timed by arrival instead");
        let imo = (1u64 << 32) + 9_268_710;
        let stat = format!(
            r#"{{"MessageType":"ShipStaticData","MetaData":{{"MMSI":273000201}},
            "Message":{{"ShipStaticData":{{"UserID":273000201,"ImoNumber":{imo},"Name":"X","Type":999,
            "Dimension":{{"A":100000,"B":20,"C":5,"D":5}}}}}}}}"#
        );
        let d = decode(&stat, 0).unwrap().unwrap();
        let AisMessage::StaticVoyage(s) = d.message else {
            panic!()
        };
        assert_eq!(
            (s.imo, s.shiptype, s.dims.to_bow, s.dims.to_stern),
            (None, 0, 0, 20)
        );
        assert_eq!(decode("{not json", 0).unwrap_err(), Rejected::Malformed);
    }
}
