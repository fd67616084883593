//! Where the webhook module keeps its records in the store's `meta` family
//! (all under `webhook/`; the store prefixes them with `record/`).
//!
//! | key                                   | value                                  |
//! |---------------------------------------|----------------------------------------|
//! | `webhook/next_seq`                    | next outbox sequence, 8 bytes BE       |
//! | `webhook/outbox/{seq:020}`            | a [`StoredEvent`](super::cloudevent::StoredEvent), JSON |
//! | `webhook/sub/{id}`                    | a subscription, JSON (with its secret) |
//! | `webhook/cursor/{id}`                 | last sequence the subscription finished, decimal |
//! | `webhook/replay/{id}/{seq:020}`       | an event queued for re-delivery, JSON  |
//! | `webhook/dead/{id}/{seq:020}`         | a dead letter, JSON                    |
//! | `webhook/log/{id}/{seq:020}`          | the outcome of a finished delivery, JSON |
//!
//! Sequences are zero-padded decimal so key order is sequence order and the
//! keys stay readable in a dump. Subscription ids never contain `/`.

/// Everything of this module.
pub const ROOT: &[u8] = b"webhook/";
/// The sequence counter.
pub const NEXT_SEQ: &[u8] = b"webhook/next_seq";
/// The outbox.
pub const OUTBOX: &[u8] = b"webhook/outbox/";
/// Subscriptions.
pub const SUBS: &[u8] = b"webhook/sub/";

/// Key of an outbox event.
pub fn outbox(seq: u64) -> Vec<u8> {
    format!("webhook/outbox/{seq:020}").into_bytes()
}

/// The sequence of an outbox key.
pub fn outbox_seq(key: &[u8]) -> Option<u64> {
    std::str::from_utf8(key.strip_prefix(OUTBOX)?).ok()?.parse().ok()
}

/// Key of a subscription.
pub fn sub(id: &str) -> Vec<u8> {
    format!("webhook/sub/{id}").into_bytes()
}

/// Key of a subscription's cursor.
pub fn cursor(id: &str) -> Vec<u8> {
    format!("webhook/cursor/{id}").into_bytes()
}

/// Prefix of a subscription's replay queue.
pub fn replay_prefix(id: &str) -> Vec<u8> {
    format!("webhook/replay/{id}/").into_bytes()
}

/// Key of an event in a subscription's replay queue.
pub fn replay(id: &str, seq: u64) -> Vec<u8> {
    format!("webhook/replay/{id}/{seq:020}").into_bytes()
}

/// Prefix of a subscription's dead letters.
pub fn dead_prefix(id: &str) -> Vec<u8> {
    format!("webhook/dead/{id}/").into_bytes()
}

/// Key of a dead letter.
pub fn dead(id: &str, seq: u64) -> Vec<u8> {
    format!("webhook/dead/{id}/{seq:020}").into_bytes()
}

/// Prefix of a subscription's delivery log.
pub fn log_prefix(id: &str) -> Vec<u8> {
    format!("webhook/log/{id}/").into_bytes()
}

/// Key of a delivery log entry.
pub fn log(id: &str, seq: u64) -> Vec<u8> {
    format!("webhook/log/{id}/{seq:020}").into_bytes()
}

/// The sequence at the end of a `.../{seq:020}` key.
pub fn trailing_seq(key: &[u8]) -> Option<u64> {
    let text = std::str::from_utf8(key).ok()?;
    text.rsplit('/').next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_sort_by_sequence_and_parse_back() {
        assert!(outbox(9) < outbox(10));
        assert!(outbox(u64::MAX - 1) < outbox(u64::MAX));
        assert_eq!(outbox_seq(&outbox(42)), Some(42));
        assert_eq!(outbox_seq(b"webhook/outbox/x"), None);
        assert_eq!(trailing_seq(&dead("wh_1", 7)), Some(7));
        assert!(dead("wh_1", 7).starts_with(&dead_prefix("wh_1")));
        assert!(!dead("wh_10", 7).starts_with(&dead_prefix("wh_1")), "ids end at the slash");
        assert!(log("a", 1).starts_with(ROOT) && sub("a").starts_with(SUBS) && NEXT_SEQ.starts_with(ROOT));
    }
}
