//! What happened to deliveries: the per-subscription log of finished
//! deliveries, dead letters, and the attempt in progress.
//!
//! A delivery is one event to one subscription, made of one or more
//! attempts. When it finishes (delivered, or dead-lettered after the last
//! attempt) a [`DeliveryRecord`] is written in the same batch that moves
//! the subscription's cursor; the newest [`LOG_KEEP`] stay. A dead letter
//! keeps a copy of the event, so it can be replayed after the outbox has
//! pruned the original. The attempt in progress is kept in memory only
//! ([`Pending`]): after a restart it starts again from attempt 1.

use augur_query::time::format_rfc3339_nano;
use serde::{Deserialize, Serialize};

use super::cloudevent::StoredEvent;

/// Finished deliveries kept per subscription.
pub const LOG_KEEP: usize = 100;

/// How a delivery ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// A 2xx answer.
    Delivered,
    /// Attempts exhausted, or a permanent refusal: moved to the dead letters.
    DeadLettered,
}

/// The result of one attempt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttemptResult {
    /// The HTTP status, when an answer came.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// Why it failed, when it did (transport error, timeout, status).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// When it was made, RFC 3339.
    pub time: String,
    /// How long it took, in milliseconds.
    pub duration_ms: u64,
}

/// One finished delivery, as logged.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeliveryRecord {
    /// The event's outbox sequence.
    pub sequence: u64,
    /// The CloudEvents id.
    pub event_id: String,
    /// The CloudEvents type.
    #[serde(rename = "type")]
    pub kind: String,
    /// How it ended.
    pub outcome: Outcome,
    /// Attempts made.
    pub attempts: u32,
    /// Whether it was a replay (of a dead letter).
    #[serde(default)]
    pub replay: bool,
    /// The last attempt.
    pub last: AttemptResult,
}

/// A dead letter: an event a subscription gave up on, with why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeadLetter {
    /// What was tried last.
    pub record: DeliveryRecord,
    /// When it was given up, RFC 3339.
    pub dead_at: String,
    /// The event itself (for replay, independent of outbox pruning).
    pub event: StoredEvent,
}

/// The delivery in progress of one subscription (memory only).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Pending {
    /// The event's sequence.
    pub sequence: u64,
    /// The CloudEvents type.
    #[serde(rename = "type")]
    pub kind: String,
    /// Attempts made so far, the one in flight included.
    pub attempts: u32,
    /// The last finished attempt, if any: while attempt `attempts` is in
    /// flight, the one before it (so a retried delivery always shows why).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last: Option<AttemptResult>,
    /// When the next attempt is due, RFC 3339 (absent: now).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_attempt: Option<String>,
}

/// A dead letter as listed: the record and the event as it is sent.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeadLetterView {
    /// What was tried last.
    #[serde(flatten)]
    pub record: DeliveryRecord,
    /// When it was given up.
    pub dead_at: String,
    /// The CloudEvent (as delivered).
    pub event: serde_json::Value,
}

impl From<DeadLetter> for DeadLetterView {
    fn from(d: DeadLetter) -> DeadLetterView {
        let event = serde_json::from_slice(&d.event.body()).unwrap_or(serde_json::Value::Null);
        DeadLetterView { record: d.record, dead_at: d.dead_at, event }
    }
}

/// The answer of `GET /v1/webhooks/{id}/deliveries`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeliveriesView {
    /// The subscription.
    pub subscription: String,
    /// The last outbox sequence it finished.
    pub cursor: u64,
    /// The last sequence published (to anyone).
    pub head: u64,
    /// The delivery in progress.
    pub pending: Option<Pending>,
    /// Dead letters queued for re-delivery.
    pub replay_queued: usize,
    /// Finished deliveries, newest first.
    pub recent: Vec<DeliveryRecord>,
    /// Dead letters, oldest first.
    pub dead_letters: Vec<DeadLetterView>,
}

/// Now as RFC 3339.
pub fn rfc3339(ns: i64) -> String {
    format_rfc3339_nano(ns)
}
