//! The `[webhooks]` section: delivery retries, timeouts, limits, how long
//! delivered events stay in the outbox, which addresses tenants may target
//! and which extra CAs `https://` receivers may use.
//!
//! Kept in its own file so the section, its defaults and its validation sit
//! together; the resolved settings are [`WebhookConfig`], which the webhook
//! module owns.

use std::time::Duration;

use serde::Deserialize;

use super::{duration_key, invalid, parse_positive_duration, ConfigError};
use crate::webhooks::targets::{PrivateTargets, TargetPolicy};
use crate::webhooks::WebhookConfig;

/// The `[webhooks]` table as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhooksSection {
    /// `max_attempts = 12`: attempts per event before it is dead-lettered.
    pub max_attempts: Option<u64>,
    /// `initial_backoff = "1s"`: the first retry's backoff ceiling.
    pub initial_backoff: Option<String>,
    /// `max_backoff = "60s"`: the largest backoff ceiling.
    pub max_backoff: Option<String>,
    /// `timeout = "10s"`: per delivery attempt.
    pub timeout: Option<String>,
    /// `max_subscriptions_per_tenant = 20`
    pub max_subscriptions_per_tenant: Option<u64>,
    /// `outbox_retention = "7d"`: how long delivered events are kept (for replay).
    pub outbox_retention: Option<String>,
    /// `retry_for = "1h"`: an event is dead-lettered only after
    /// `max_attempts` **and** this long since its first attempt (`"0s"`:
    /// attempts alone decide).
    pub retry_for: Option<String>,
    /// `private_targets = "operators"`: whose subscriptions may target
    /// internal addresses (`"operators"`: the default tenant's; `"all"`;
    /// `"none"`).
    pub private_targets: Option<String>,
    /// `allowed_networks = ["10.20.0.0/16"]`: internal networks every
    /// tenant's subscriptions may target.
    pub allowed_networks: Option<Vec<String>>,
    /// `ca_file = "/etc/augur/webhook-ca.pem"`: extra trusted CA
    /// certificates (PEM) for `https://` receivers.
    pub ca_file: Option<std::path::PathBuf>,
}

/// Validates the section.
pub(super) fn webhooks_config(section: &WebhooksSection) -> Result<WebhookConfig, ConfigError> {
    let d = WebhookConfig::default();
    let max_attempts = match section.max_attempts {
        None => d.max_attempts,
        Some(0) => return Err(invalid("webhooks.max_attempts", "must be at least 1")),
        Some(n) if n > 1000 => return Err(invalid("webhooks.max_attempts", "must be at most 1000")),
        Some(n) => u32::try_from(n).unwrap_or(1000),
    };
    let initial_backoff = duration_key("webhooks.initial_backoff", &section.initial_backoff, d.initial_backoff)?;
    let max_backoff = duration_key("webhooks.max_backoff", &section.max_backoff, d.max_backoff)?;
    if max_backoff < initial_backoff {
        return Err(invalid("webhooks.max_backoff", "must be at least webhooks.initial_backoff"));
    }
    let max_subscriptions_per_tenant = match section.max_subscriptions_per_tenant {
        None => d.max_subscriptions_per_tenant,
        Some(0) => return Err(invalid("webhooks.max_subscriptions_per_tenant", "must be at least 1")),
        Some(n) => usize::try_from(n).map_err(|_| invalid("webhooks.max_subscriptions_per_tenant", "too large"))?,
    };
    Ok(WebhookConfig {
        max_attempts,
        initial_backoff,
        max_backoff,
        timeout: duration_key("webhooks.timeout", &section.timeout, d.timeout)?,
        max_subscriptions_per_tenant,
        outbox_retention: duration_key("webhooks.outbox_retention", &section.outbox_retention, d.outbox_retention)?,
        retry_for: match section.retry_for.as_deref().map(str::trim) {
            None => d.retry_for,
            Some("0" | "0s") => Duration::ZERO,
            Some(text) => parse_positive_duration(text).map_err(|m| invalid("webhooks.retry_for", m))?,
        },
        targets: TargetPolicy {
            private_targets: match section.private_targets.as_deref() {
                None => PrivateTargets::default(),
                Some(text) => text.parse().map_err(|m| invalid("webhooks.private_targets", m))?,
            },
            allowed_networks: section
                .allowed_networks
                .iter()
                .flatten()
                .map(|net| {
                    net.parse()
                        .map_err(|e| invalid("webhooks.allowed_networks", format!("{net:?} is not a network: {e}")))
                })
                .collect::<Result<_, _>>()?,
        },
        ca_file: section.ca_file.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load_text(text: &str) -> Result<WebhookConfig, ConfigError> {
        let file = super::super::parse_file(std::path::Path::new("augur.toml"), text)?;
        webhooks_config(&file.webhooks)
    }

    #[test]
    fn webhooks_section() {
        assert_eq!(load_text("").expect("loads"), WebhookConfig::default());
        let d = WebhookConfig::default();
        assert_eq!((d.max_attempts, d.max_subscriptions_per_tenant), (12, 20));
        assert_eq!((d.initial_backoff, d.max_backoff), (Duration::from_secs(1), Duration::from_secs(60)));
        assert_eq!((d.timeout, d.outbox_retention), (Duration::from_secs(10), Duration::from_secs(7 * 86_400)));
        let c = load_text(
            "[webhooks]\nmax_attempts = 3\ninitial_backoff = \"50ms\"\nmax_backoff = \"200ms\"\ntimeout = \"2s\"\n\
             max_subscriptions_per_tenant = 5\noutbox_retention = \"1h\"\n",
        )
        .expect("loads");
        assert_eq!((c.max_attempts, c.max_subscriptions_per_tenant), (3, 5));
        assert_eq!((c.initial_backoff, c.max_backoff), (Duration::from_millis(50), Duration::from_millis(200)));
        assert_eq!((c.timeout, c.outbox_retention), (Duration::from_secs(2), Duration::from_secs(3600)));
        for (text, key) in [
            ("[webhooks]\nmax_attempts = 0\n", "webhooks.max_attempts"),
            ("[webhooks]\ninitial_backoff = \"2m\"\n", "webhooks.max_backoff"),
            ("[webhooks]\ntimeout = \"never\"\n", "webhooks.timeout"),
            ("[webhooks]\nmax_subscriptions_per_tenant = 0\n", "webhooks.max_subscriptions_per_tenant"),
            ("[webhooks]\nprivate_targets = \"some\"\n", "webhooks.private_targets"),
            ("[webhooks]\nallowed_networks = [\"10.0.0.0/33\"]\n", "webhooks.allowed_networks"),
        ] {
            let err = load_text(text).expect_err(text);
            assert!(err.to_string().contains(key), "{text}: {err}");
        }
        assert!(matches!(load_text("[webhooks]\nretries = 2\n"), Err(ConfigError::Parse { .. })));
        let c = load_text(
            "[webhooks]\nprivate_targets = \"none\"\nallowed_networks = [\"10.20.0.0/16\", \"fd00::/8\"]\n\
             ca_file = \"/etc/augur/ca.pem\"\n",
        )
        .expect("loads");
        assert_eq!(c.targets.private_targets, PrivateTargets::None);
        assert_eq!(c.targets.allowed_networks.len(), 2);
        assert_eq!(c.ca_file.as_deref(), Some(std::path::Path::new("/etc/augur/ca.pem")));
    }
}
