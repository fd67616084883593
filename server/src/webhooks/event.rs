//! What the server tells the outside world: [`Event`] and its [`EventKind`].
//!
//! An event is published by a feature (the pool manager, forecasting,
//! anomaly detection) through [`Webhooks::publish`](super::Webhooks::publish);
//! its kind names a CloudEvents `type` (`io.augur.pool.scale_up`, ...), which
//! is what subscriptions select on, exactly or by prefix
//! ([`type_matches`]).

use serde::{Deserialize, Serialize};

/// One thing that happened, before it enters the outbox.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// What happened.
    pub kind: EventKind,
    /// The tenant it belongs to (only that tenant's subscriptions receive it,
    /// and operators' subscriptions that ask for it).
    pub tenant: String,
    /// The pool it concerns, if any (part of the CloudEvents `source`).
    pub pool: Option<String>,
    /// The CloudEvents `subject`: the unit, reservation or series concerned.
    pub subject: Option<String>,
    /// The event's `data` (JSON).
    pub data: serde_json::Value,
}

/// The kinds of event; each is one CloudEvents `type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub enum EventKind {
    /// A pool decided to add units (`io.augur.pool.scale_up`).
    PoolScaleUp,
    /// A pool decided to remove units (`io.augur.pool.scale_down`).
    PoolScaleDown,
    /// A unit was requested from the infrastructure (`io.augur.pool.unit_requested`).
    PoolUnitRequested,
    /// A unit reported ready (`io.augur.pool.unit_ready`).
    PoolUnitReady,
    /// A unit was released (`io.augur.pool.unit_released`).
    PoolUnitReleased,
    /// A unit never became ready in time (`io.augur.pool.unit_timed_out`).
    PoolUnitTimedOut,
    /// Capacity was reserved for an account (`io.augur.pool.reservation`).
    PoolReservation,
    /// A pool's forecast failed and the reactive rule took over (`io.augur.pool.forecast_fallback`).
    PoolForecastFallback,
    /// A forecast crossed a threshold (`io.augur.forecast.threshold_crossed`).
    ForecastThresholdCrossed,
    /// An observed value fell outside its prediction band (`io.augur.anomaly.detected`).
    AnomalyDetected,
    /// A retrained model replaced the active one after winning a contest (`io.augur.model.swapped`).
    ModelSwapped,
    /// A ping sent by `POST /v1/webhooks/{id}/test` (`io.augur.webhook.test`).
    WebhookTest,
}

impl EventKind {
    /// Every kind, in documentation order.
    pub const ALL: [EventKind; 12] = [
        EventKind::PoolScaleUp,
        EventKind::PoolScaleDown,
        EventKind::PoolUnitRequested,
        EventKind::PoolUnitReady,
        EventKind::PoolUnitReleased,
        EventKind::PoolUnitTimedOut,
        EventKind::PoolReservation,
        EventKind::PoolForecastFallback,
        EventKind::ForecastThresholdCrossed,
        EventKind::AnomalyDetected,
        EventKind::ModelSwapped,
        EventKind::WebhookTest,
    ];

    /// The CloudEvents `type`.
    pub fn type_name(self) -> &'static str {
        match self {
            EventKind::PoolScaleUp => "io.augur.pool.scale_up",
            EventKind::PoolScaleDown => "io.augur.pool.scale_down",
            EventKind::PoolUnitRequested => "io.augur.pool.unit_requested",
            EventKind::PoolUnitReady => "io.augur.pool.unit_ready",
            EventKind::PoolUnitReleased => "io.augur.pool.unit_released",
            EventKind::PoolUnitTimedOut => "io.augur.pool.unit_timed_out",
            EventKind::PoolReservation => "io.augur.pool.reservation",
            EventKind::PoolForecastFallback => "io.augur.pool.forecast_fallback",
            EventKind::ForecastThresholdCrossed => "io.augur.forecast.threshold_crossed",
            EventKind::AnomalyDetected => "io.augur.anomaly.detected",
            EventKind::ModelSwapped => "io.augur.model.swapped",
            EventKind::WebhookTest => "io.augur.webhook.test",
        }
    }

    /// The kind whose `type` is `name`.
    pub fn from_type_name(name: &str) -> Option<EventKind> {
        EventKind::ALL.into_iter().find(|k| k.type_name() == name)
    }
}

impl From<EventKind> for String {
    fn from(kind: EventKind) -> String {
        kind.type_name().to_string()
    }
}

impl TryFrom<String> for EventKind {
    type Error = String;

    fn try_from(name: String) -> Result<EventKind, String> {
        EventKind::from_type_name(&name).ok_or_else(|| format!("unknown event type {name:?}"))
    }
}

/// Whether a subscription's type `pattern` selects `type_name`: `*` selects
/// all, `io.augur.pool.*` every type starting with `io.augur.pool.`, anything
/// else exactly that type.
pub fn type_matches(pattern: &str, type_name: &str) -> bool {
    if pattern == "*" {
        return true;
    }
    match pattern.strip_suffix('*') {
        Some(prefix) => type_name.starts_with(prefix),
        None => pattern == type_name,
    }
}

/// Checks a subscription's type pattern: `*`, a known type, or a prefix
/// ending in `.*` that selects at least one known type.
pub fn validate_pattern(pattern: &str) -> Result<(), String> {
    if pattern == "*" || EventKind::from_type_name(pattern).is_some() {
        return Ok(());
    }
    if pattern.ends_with(".*") && EventKind::ALL.iter().any(|k| type_matches(pattern, k.type_name())) {
        return Ok(());
    }
    Err(format!(
        "{pattern:?} is not an event type: use \"*\", a type such as \"io.augur.pool.scale_up\", \
         or a prefix such as \"io.augur.pool.*\""
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_names_round_trip_and_are_cloudevents_style() {
        for kind in EventKind::ALL {
            assert_eq!(EventKind::from_type_name(kind.type_name()), Some(kind));
            assert!(kind.type_name().starts_with("io.augur."));
            let json = serde_json::to_string(&kind).expect("serialize");
            assert_eq!(serde_json::from_str::<EventKind>(&json).expect("deserialize"), kind);
        }
        assert_eq!(EventKind::PoolScaleUp.type_name(), "io.augur.pool.scale_up");
        assert_eq!(EventKind::WebhookTest.type_name(), "io.augur.webhook.test");
        assert!(serde_json::from_str::<EventKind>("\"io.augur.nope\"").is_err());
    }

    #[test]
    fn patterns_select_exactly_or_by_prefix() {
        assert!(type_matches("*", "io.augur.pool.scale_up"));
        assert!(type_matches("io.augur.pool.*", "io.augur.pool.scale_up"));
        assert!(!type_matches("io.augur.pool.*", "io.augur.anomaly.detected"));
        assert!(type_matches("io.augur.anomaly.detected", "io.augur.anomaly.detected"));
        assert!(!type_matches("io.augur.pool.scale", "io.augur.pool.scale_up"));
        assert!(validate_pattern("io.augur.pool.*").is_ok());
        assert!(validate_pattern("io.augur.*").is_ok());
        assert!(validate_pattern("*").is_ok());
        assert!(validate_pattern("io.augur.pool.scale_down").is_ok());
        assert!(validate_pattern("io.augur.pool.scale").is_err());
        assert!(validate_pattern("com.example.*").is_err());
        assert!(validate_pattern("").is_err());
    }
}
