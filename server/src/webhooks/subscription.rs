//! Subscriptions: where to send which events, and their validation.
//!
//! A subscription belongs to one tenant (its owner) and receives only that
//! tenant's events, unless it is an operator's (owner `default`) with a
//! `tenant` filter naming another tenant or `*` for all. It may narrow by
//! event types (exact, `*`, or a prefix like `io.augur.pool.*`) and by pool.
//! The secret signs every delivery; it is stored (it must be, to sign) and
//! shown only in the answer that created it.

use rand::RngCore as _;
use serde::{Deserialize, Serialize};

use super::cloudevent::StoredEvent;
use super::event::{type_matches, validate_pattern};
use super::signature::hex;
use crate::auth::model::DEFAULT_TENANT;

/// Longest accepted URL.
const MAX_URL_LEN: usize = 2048;
/// Shortest and longest accepted secret.
const SECRET_LEN: std::ops::RangeInclusive<usize> = 16..=256;
/// Most type patterns per subscription.
const MAX_TYPES: usize = 64;

/// One subscription, as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Subscription {
    /// Public id (`wh_` and 16 hex digits).
    pub id: String,
    /// The owning tenant.
    pub owner: String,
    /// Where events are POSTed (http or https).
    pub url: String,
    /// Type patterns (`*`, a type, or a prefix ending in `.*`).
    pub types: Vec<String>,
    /// Only events of this pool.
    #[serde(default)]
    pub pool: Option<String>,
    /// Events of this tenant (`*`: all) instead of the owner's; operators only.
    #[serde(default)]
    pub tenant: Option<String>,
    /// The HMAC key of `Augur-Signature`.
    pub secret: String,
    /// Whether deliveries run (a disabled subscription keeps its place and
    /// resumes where it stopped).
    pub enabled: bool,
    /// Free text.
    #[serde(default)]
    pub description: String,
    /// Creation time, ns since the epoch.
    pub created_ns: i64,
}

impl Subscription {
    /// Whether this subscription receives `event`.
    pub fn receives(&self, event: &StoredEvent) -> bool {
        if let Some(only) = &event.only {
            return *only == self.id;
        }
        let tenant_ok = match self.tenant.as_deref() {
            // Only operators' subscriptions reach beyond their tenant.
            Some(filter) if self.owner == DEFAULT_TENANT => filter == "*" || filter == event.tenant,
            _ => event.tenant == self.owner,
        };
        tenant_ok
            && self.pool.as_ref().is_none_or(|p| event.pool.as_ref() == Some(p))
            && self.types.iter().any(|t| type_matches(t, event.kind.type_name()))
    }
}

/// A new subscription id.
pub fn new_id() -> String {
    let mut b = [0u8; 8];
    rand::rngs::OsRng.fill_bytes(&mut b);
    format!("wh_{}", hex(&b))
}

/// A new secret (`whsec_` and 64 hex digits: 256 random bits).
pub fn new_secret() -> String {
    let mut b = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut b);
    format!("whsec_{}", hex(&b))
}

/// A field that failed validation: its name and why (the API answers 400
/// with both).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {field}: {reason}")]
pub struct InvalidField {
    /// The JSON field (`url`, `types[1]`, ...).
    pub field: String,
    /// What is wrong.
    pub reason: String,
}

fn invalid(field: impl Into<String>, reason: impl Into<String>) -> InvalidField {
    InvalidField { field: field.into(), reason: reason.into() }
}

/// Checks a delivery URL: absolute http or https with a host, no
/// credentials, bounded length.
pub fn validate_url(url: &str) -> Result<(), InvalidField> {
    if url.len() > MAX_URL_LEN {
        return Err(invalid("url", format!("longer than {MAX_URL_LEN} bytes")));
    }
    let parsed = reqwest::Url::parse(url).map_err(|e| invalid("url", format!("{url:?} is not a URL: {e}")))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(invalid("url", format!("scheme {:?} is not http or https", parsed.scheme())));
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(invalid("url", "has no host"));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(invalid("url", "must not carry credentials (the signature authenticates Augur)"));
    }
    Ok(())
}

/// Checks the type patterns (at least one).
pub fn validate_types(types: &[String]) -> Result<(), InvalidField> {
    if types.is_empty() {
        return Err(invalid("types", "at least one type or \"*\" is required"));
    }
    if types.len() > MAX_TYPES {
        return Err(invalid("types", format!("at most {MAX_TYPES} patterns")));
    }
    for (i, t) in types.iter().enumerate() {
        validate_pattern(t).map_err(|reason| invalid(format!("types[{i}]"), reason))?;
    }
    Ok(())
}

/// Checks a caller-chosen secret: 16 to 256 printable ASCII characters.
pub fn validate_secret(secret: &str) -> Result<(), InvalidField> {
    if !SECRET_LEN.contains(&secret.len()) {
        return Err(invalid("secret", "must be 16 to 256 characters"));
    }
    if !secret.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(invalid("secret", "must be printable ASCII without spaces"));
    }
    Ok(())
}

/// Checks a pool or tenant filter value: a non-empty name.
pub fn validate_name(field: &str, value: &str) -> Result<(), InvalidField> {
    if value.is_empty() || value.len() > 256 || value.chars().any(char::is_control) {
        return Err(invalid(field, "must be a non-empty name of at most 256 characters"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::webhooks::event::{Event, EventKind};

    fn sub(owner: &str, types: &[&str], pool: Option<&str>, tenant: Option<&str>) -> Subscription {
        Subscription {
            id: "wh_1".into(),
            owner: owner.into(),
            url: "http://127.0.0.1:1/".into(),
            types: types.iter().map(|t| t.to_string()).collect(),
            pool: pool.map(str::to_string),
            tenant: tenant.map(str::to_string),
            secret: new_secret(),
            enabled: true,
            description: String::new(),
            created_ns: 0,
        }
    }

    fn event(kind: EventKind, tenant: &str, pool: Option<&str>) -> StoredEvent {
        let e = Event { kind, tenant: tenant.into(), pool: pool.map(str::to_string), subject: None, data: 1.into() };
        StoredEvent::new(e, 1, 0, None)
    }

    #[test]
    fn receives_own_tenant_matching_types_and_pool() {
        let s = sub("acme", &["io.augur.pool.*"], Some("web"), None);
        assert!(s.receives(&event(EventKind::PoolScaleUp, "acme", Some("web"))));
        assert!(!s.receives(&event(EventKind::PoolScaleUp, "acme", Some("db"))), "other pool");
        assert!(!s.receives(&event(EventKind::PoolScaleUp, "acme", None)), "no pool");
        assert!(!s.receives(&event(EventKind::AnomalyDetected, "acme", Some("web"))), "other type");
        assert!(!s.receives(&event(EventKind::PoolScaleUp, "globex", Some("web"))), "other tenant");
    }

    #[test]
    fn only_operators_reach_other_tenants() {
        let all = sub(DEFAULT_TENANT, &["*"], None, Some("*"));
        assert!(all.receives(&event(EventKind::PoolScaleUp, "globex", None)));
        let one = sub(DEFAULT_TENANT, &["*"], None, Some("globex"));
        assert!(one.receives(&event(EventKind::PoolScaleUp, "globex", None)));
        assert!(!one.receives(&event(EventKind::PoolScaleUp, "acme", None)));
        assert!(!sub(DEFAULT_TENANT, &["*"], None, None).receives(&event(EventKind::PoolScaleUp, "acme", None)));
        // A tenant's filter cannot widen it, even if stored by mistake.
        let sneaky = sub("acme", &["*"], None, Some("*"));
        assert!(!sneaky.receives(&event(EventKind::PoolScaleUp, "globex", None)));
    }

    #[test]
    fn targeted_events_reach_only_their_subscription() {
        let s = sub("acme", &["io.augur.pool.*"], None, None);
        let mut ping = event(EventKind::WebhookTest, "other", None);
        ping.only = Some("wh_1".into());
        assert!(s.receives(&ping), "a ping ignores type and tenant filters");
        ping.only = Some("wh_2".into());
        assert!(!s.receives(&ping));
    }

    #[test]
    fn validation_names_the_field() {
        assert!(validate_url("https://hooks.example.com/augur?x=1").is_ok());
        assert!(validate_url("http://127.0.0.1:8080/").is_ok());
        for (url, why) in [
            ("ftp://example.com/", "scheme"),
            ("not a url", "not a URL"),
            ("http://user:pw@example.com/", "credentials"),
            ("file:///etc/passwd", "scheme"),
        ] {
            let err = validate_url(url).expect_err(url);
            assert_eq!(err.field, "url");
            assert!(err.reason.contains(why), "{url}: {err}");
        }
        assert_eq!(validate_types(&[]).expect_err("empty").field, "types");
        let err = validate_types(&["*".into(), "io.augur.nope".into()]).expect_err("unknown");
        assert_eq!(err.field, "types[1]");
        assert_eq!(validate_secret("short").expect_err("short").field, "secret");
        assert!(validate_secret("with a space 0123456789").is_err());
        assert!(validate_secret(&new_secret()).is_ok());
        assert!(new_id().starts_with("wh_") && new_id().len() == 19 && new_id() != new_id());
    }
}
