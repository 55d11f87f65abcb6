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

/// `2026-04-25 09:47:25.267 +0000 UTC` (aisstream's `time_utc`).
fn time_utc(v: &Value) -> Option<UnixMillis> {
    let s = v.as_str()?;
    let head = s.split(" +").next()?;
    UnixMillis::parse_rfc3339(head.as_bytes())
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
pub fn decode(text: &str, feed: u32) -> Option<Decoded> {
    let v: Value = serde_json::from_str(text).ok()?;
    let kind = v["MessageType"].as_str()?;
    let body = &v["Message"][kind];
    let mmsi = body["UserID"]
        .as_u64()
        .or_else(|| v["MetaData"]["MMSI"].as_u64())? as u32;
    let message = match kind {
        "PositionReport" => AisMessage::Position(position(1, mmsi, body)?),
        "StandardClassBPositionReport" => AisMessage::Position(position(18, mmsi, body)?),
        "ShipStaticData" => {
            let d = &body["Dimension"];
            let dim = |k: &str| d[k].as_u64().unwrap_or(0);
            AisMessage::StaticVoyage(StaticVoyage {
                header: Header {
                    msg_type: 5,
                    repeat: 0,
                    mmsi,
                },
                ais_version: 0,
                imo: body["ImoNumber"]
                    .as_u64()
                    .filter(|&i| i != 0)
                    .map(|i| i as u32),
                callsign: AisText::from_text(body["CallSign"].as_str().unwrap_or("")),
                shipname: AisText::from_text(body["Name"].as_str().unwrap_or("")),
                shiptype: body["Type"].as_u64().unwrap_or(0) as u8,
                dims: Dimensions {
                    to_bow: dim("A") as u16,
                    to_stern: dim("B") as u16,
                    to_port: dim("C") as u8,
                    to_starboard: dim("D") as u8,
                },
                epfd: 0,
                eta: [0, 0, 24, 60],
                draught: body["MaximumStaticDraught"].as_f64().unwrap_or(0.0) as f32,
                destination: AisText::from_text(body["Destination"].as_str().unwrap_or("")),
                dte: None,
            })
        }
        _ => return None,
    };
    Some(Decoded {
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
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn position_report_maps_like_nmea() {
        let text = r#"{"MessageType":"PositionReport","MetaData":{"MMSI":273000201,"ShipName":"SPARTA","latitude":34.9,"longitude":35.86,"time_utc":"2025-01-20 11:00:00.250 +0000 UTC"},
            "Message":{"PositionReport":{"UserID":273000201,"Latitude":34.9,"Longitude":35.86,"Sog":0.1,"Cog":360,"TrueHeading":511,"NavigationalStatus":5,"Timestamp":0}}}"#;
        let d = decode(text, 3).unwrap();
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
        assert!(decode(&bad, 3).is_none());
    }
}
