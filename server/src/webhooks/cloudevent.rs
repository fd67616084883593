//! Events as stored in the outbox and as sent: CloudEvents 1.0 structured
//! JSON.
//!
//! A [`StoredEvent`] is an [`Event`] with what the outbox adds: its
//! sequence, a unique id and the publication time. [`StoredEvent::body`]
//! renders it as the CloudEvents JSON object (`specversion`, `id`, `source`,
//! `type`, `subject`, `time`, `datacontenttype`, the `augursequence`
//! extension attribute, `data`), byte-identical on every attempt, so a
//! consumer can deduplicate redeliveries by `id` and order by
//! `augursequence`.

use augur_query::time::format_rfc3339_nano;
use rand::RngCore as _;
use serde::{Deserialize, Serialize};

use super::event::{Event, EventKind};
use super::signature::hex;

/// The content type of a structured-mode CloudEvent over HTTP.
pub const CONTENT_TYPE: &str = "application/cloudevents+json";

/// An event in the outbox.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredEvent {
    /// Its place in the global order (`augursequence`).
    pub sequence: u64,
    /// CloudEvents `id`: unique, the same on every redelivery.
    pub id: String,
    /// Publication time, ns since the epoch (`time`).
    pub time_ns: i64,
    /// What happened (`type`).
    pub kind: EventKind,
    /// Its tenant.
    pub tenant: String,
    /// Its pool, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pool: Option<String>,
    /// CloudEvents `subject`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// CloudEvents `data`.
    pub data: serde_json::Value,
    /// Only this subscription receives it (test pings); `None`: every
    /// subscription that matches.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub only: Option<String>,
}

/// The wire shape, in the order the fields are written.
#[derive(Serialize)]
struct CloudEvent<'a> {
    specversion: &'static str,
    id: &'a str,
    source: String,
    #[serde(rename = "type")]
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    subject: Option<&'a str>,
    time: String,
    datacontenttype: &'static str,
    augursequence: u64,
    data: &'a serde_json::Value,
}

/// A fresh random event id (128 bits, UUID-shaped, version 4).
pub fn new_id() -> String {
    let mut b = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex(&b);
    format!("{}-{}-{}-{}-{}", &h[0..8], &h[8..12], &h[12..16], &h[16..20], &h[20..32])
}

/// Percent-encodes a path segment (everything but RFC 3986 unreserved bytes).
fn segment(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

impl StoredEvent {
    /// `event` as the outbox stores it, at `sequence`, published at `time_ns`.
    pub fn new(event: Event, sequence: u64, time_ns: i64, only: Option<String>) -> StoredEvent {
        StoredEvent {
            sequence,
            id: new_id(),
            time_ns,
            kind: event.kind,
            tenant: event.tenant,
            pool: event.pool,
            subject: event.subject,
            data: event.data,
            only,
        }
    }

    /// CloudEvents `source`: `/augur/tenants/{tenant}` plus `/pools/{pool}`
    /// for pool events.
    pub fn source(&self) -> String {
        match &self.pool {
            Some(pool) => format!("/augur/tenants/{}/pools/{}", segment(&self.tenant), segment(pool)),
            None => format!("/augur/tenants/{}", segment(&self.tenant)),
        }
    }

    /// The request body: the CloudEvents structured-mode JSON object.
    pub fn body(&self) -> Vec<u8> {
        let event = CloudEvent {
            specversion: "1.0",
            id: &self.id,
            source: self.source(),
            kind: self.kind.type_name(),
            subject: self.subject.as_deref(),
            time: format_rfc3339_nano(self.time_ns),
            datacontenttype: "application/json",
            augursequence: self.sequence,
            data: &self.data,
        };
        // Serializing a struct of strings, numbers and a Value cannot fail.
        serde_json::to_vec(&event).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event(pool: Option<&str>, subject: Option<&str>) -> StoredEvent {
        let e = Event {
            kind: EventKind::PoolScaleUp,
            tenant: "acme".into(),
            pool: pool.map(str::to_string),
            subject: subject.map(str::to_string),
            data: json!({"from": 2, "to": 5}),
        };
        StoredEvent::new(e, 42, 1_700_000_000_500_000_000, None)
    }

    #[test]
    fn renders_cloudevents_structured_json() {
        let e = event(Some("web"), Some("unit-7"));
        let body = e.body();
        let v: serde_json::Value = serde_json::from_slice(&body).expect("json");
        assert_eq!(
            v,
            json!({
                "specversion": "1.0",
                "id": e.id,
                "source": "/augur/tenants/acme/pools/web",
                "type": "io.augur.pool.scale_up",
                "subject": "unit-7",
                "time": "2023-11-14T22:13:20.5Z",
                "datacontenttype": "application/json",
                "augursequence": 42,
                "data": {"from": 2, "to": 5},
            })
        );
        // Field order is fixed: the same bytes on every attempt.
        assert!(std::str::from_utf8(&body).expect("utf8").starts_with("{\"specversion\":\"1.0\",\"id\":"));
        assert_eq!(body, e.body());
        // Without a pool or subject.
        let v: serde_json::Value = serde_json::from_slice(&event(None, None).body()).expect("json");
        assert_eq!(v["source"], "/augur/tenants/acme");
        assert!(v.get("subject").is_none());
        // Odd characters are escaped in the source.
        let mut odd = event(Some("a b/c"), None);
        odd.tenant = "t%".into();
        assert_eq!(odd.source(), "/augur/tenants/t%25/pools/a%20b%2Fc");
    }

    #[test]
    fn ids_are_unique_uuid_shaped_and_survive_storage() {
        let (a, b) = (event(None, None), event(None, None));
        assert_ne!(a.id, b.id);
        assert_eq!(a.id.len(), 36);
        assert_eq!(a.id.as_bytes()[14], b'4');
        let stored = serde_json::to_vec(&a).expect("store");
        let back: StoredEvent = serde_json::from_slice(&stored).expect("load");
        assert_eq!(back, a);
        assert_eq!(back.body(), a.body());
    }
}
