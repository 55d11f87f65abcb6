//! Alerts: which webhook wants which event, what it receives, and how it is signed.
//!
//! Owns routing (`[[webhooks]]` filters), the bodies (Standard Webhooks JSON or a Slack-style line)
//! and the Standard Webhooks signature. Pure; the HTTP side is [`delivery`], the one module that
//! makes HTTP requests.

pub mod config;
pub mod delivery;

use base64::Engine as _;
use hmac::{KeyInit, Mac};
use serde_json::{Value, json};

use secrecy::{ExposeSecret, SecretString};

use config::{WebhookConfig, WebhookFormat};
use vesselwatch_engine::event::Event;
use vesselwatch_engine::watchlist::normalise;

/// Whether webhook `h` wants event `e`: its kind, fence, watchlist group and vessel filters.
pub fn wants(h: &WebhookConfig, e: &Event) -> bool {
    let vessel = |v: &String| {
        e.label.as_deref() == Some(v.as_str())
            || e.name.as_deref() == Some(normalise(v).as_str())
            || v.parse::<u32>()
                .is_ok_and(|n| n == e.mmsi || Some(n) == e.imo)
    };
    h.events.contains(&e.kind)
        && (h.fences.is_empty() || h.fences.contains(&e.fence))
        && (h.groups.is_empty() || e.group.as_ref().is_some_and(|g| h.groups.contains(g)))
        && (h.vessels.is_empty() || h.vessels.iter().any(vessel))
}

/// The `(event id, webhook name)` alerts to queue for `events`.
pub fn route(hooks: &[WebhookConfig], events: &[Event]) -> Vec<(String, String)> {
    events
        .iter()
        .flat_map(|e| {
            hooks
                .iter()
                .filter(move |h| wants(h, e))
                .map(move |h| (e.id.clone(), h.name.clone()))
        })
        .collect()
}

/// The body for an event record (the event's JSON) in a webhook's format.
pub fn body(format: WebhookFormat, e: &Value) -> String {
    match format {
        WebhookFormat::Standard => json!({
            "type": format!("vessel.{}", e["kind"].as_str().unwrap_or("event")),
            "timestamp": e["time"],
            "data": {
                "event_id": e["id"],
                "kind": e["kind"],
                "vessel": {
                    "mmsi": e["mmsi"],
                    "imo": e["imo"],
                    "name": e["name"],
                    "callsign": e["callsign"],
                    "label": e["label"],
                    "group": e["group"],
                },
                "fence": e["fence"],
                "time": e["time"],
                "crossing_time": e["crossing_time"],
                "position": { "lat": e["lat"], "lon": e["lon"], "sog": e["sog"] },
                "inferred": e["inferred"],
                "window": { "start": e["window_start"], "end": e["window_end"] },
                "direction": e["direction"],
            },
        })
        .to_string(),
        WebhookFormat::Slack => {
            let who = e["label"]
                .as_str()
                .or(e["name"].as_str())
                .map(str::to_string)
                .unwrap_or_else(|| format!("MMSI {}", e["mmsi"]));
            let what = match e["kind"].as_str().unwrap_or("") {
                "departure" => "departed",
                "arrival" => "arrived at",
                "present" => "is at",
                "dark" => "went dark at",
                "reappeared" => "reappeared near",
                "holding" => "is holding off",
                "transit" => "transited",
                other => other,
            };
            let mut text = format!(
                "{who} {what} {} at {}",
                e["fence"].as_str().unwrap_or("?"),
                e["time"].as_str().unwrap_or("?")
            );
            if let (Some(lat), Some(lon)) = (e["lat"].as_f64(), e["lon"].as_f64()) {
                text.push_str(&format!(" ({lat:.4}, {lon:.4})"));
            }
            if e["inferred"] == true {
                text.push_str(" (inferred across an AIS gap)");
            }
            json!({ "text": text }).to_string()
        }
    }
}

/// The Standard Webhooks signature header value: `v1,` and the base64 HMAC-SHA256 of
/// `id.timestamp.body` under the secret's key (the base64 after `whsec_`).
pub fn sign(secret: &SecretString, id: &str, timestamp: i64, body: &str) -> String {
    let key = secret
        .expose_secret()
        .strip_prefix("whsec_")
        .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
        .unwrap_or_default();
    let mut mac =
        hmac::Hmac::<sha2::Sha256>::new_from_slice(&key).expect("HMAC takes any key length");
    mac.update(format!("{id}.{timestamp}.{body}").as_bytes());
    format!(
        "v1,{}",
        base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slack_body_is_one_readable_line() {
        let e = json!({"kind": "departure", "label": "Sparta II", "fence": "tartus-port",
            "time": "2025-01-27T09:00:00Z", "lat": 34.5114, "lon": 34.0539, "inferred": true});
        let v: Value = serde_json::from_str(&body(WebhookFormat::Slack, &e)).unwrap();
        assert_eq!(
            v["text"],
            "Sparta II departed tartus-port at 2025-01-27T09:00:00Z (34.5114, 34.0539) (inferred across an AIS gap)"
        );
    }

    #[test]
    fn signature_matches_the_standard_webhooks_example() {
        // The example in the Standard Webhooks specification.
        let secret = SecretString::from("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
        let sig = sign(
            &secret,
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1_614_265_330,
            r#"{"test": 2432232314}"#,
        );
        assert_eq!(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }
}

/// A webhook URL as logs and errors show it: scheme, host and port, with any path, query and user
/// info left out. Endpoint URLs often carry their credential in the path (`/services/T0/B0/XXXX`)
/// or the query (`?token=`), and logs travel further than the config file.
pub fn redact_url(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(u) => {
            let host = u.host_str().unwrap_or("");
            let port = u.port().map(|p| format!(":{p}")).unwrap_or_default();
            let rest = if u.path() != "/" || u.query().is_some() {
                "/…"
            } else {
                ""
            };
            format!("{}://{host}{port}{rest}", u.scheme())
        }
        Err(_) => "(not a URL)".to_string(),
    }
}

#[cfg(test)]
mod redact_tests {
    use super::redact_url;

    #[test]
    fn only_scheme_host_and_port_are_shown() {
        for (url, shown) in [
            (
                "https://hooks.slack.com/services/T0/B0/XXXX",
                "https://hooks.slack.com/…",
            ),
            (
                "http://user:pw@127.0.0.1:8080/hook?token=abc",
                "http://127.0.0.1:8080/…",
            ),
            ("https://example.org/", "https://example.org"),
            ("https://example.org?token=abc", "https://example.org/…"),
            ("not a url with a secret", "(not a URL)"),
        ] {
            assert_eq!(redact_url(url), shown, "{url}");
        }
    }
}
