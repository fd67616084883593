//! The pool manager's [`EventSink`]: pool changes and their events written
//! through the webhook outbox, in one batch.
//!
//! The pool manager describes its events as [`PoolEvent`]s and hands them
//! with its record changes to a sink; this is the sink the server uses, so
//! every scale-up, unit request or release reaches the subscriptions that
//! ask for it, with the guarantees of [`Webhooks::publish`].

use crate::pools::events::{EventSink, PoolEvent, PoolEventKind, SinkError};

use super::{Event, EventKind, Webhooks};

/// The webhook kind of a pool event.
fn kind(kind: PoolEventKind) -> EventKind {
    match kind {
        PoolEventKind::ScaleUp => EventKind::PoolScaleUp,
        PoolEventKind::ScaleDown => EventKind::PoolScaleDown,
        PoolEventKind::UnitRequested => EventKind::PoolUnitRequested,
        PoolEventKind::UnitReady => EventKind::PoolUnitReady,
        PoolEventKind::UnitReleased => EventKind::PoolUnitReleased,
        PoolEventKind::UnitTimedOut => EventKind::PoolUnitTimedOut,
        PoolEventKind::Reservation => EventKind::PoolReservation,
        PoolEventKind::ForecastFallback => EventKind::PoolForecastFallback,
        PoolEventKind::ThresholdCrossed => EventKind::ForecastThresholdCrossed,
    }
}

impl From<PoolEvent> for Event {
    fn from(e: PoolEvent) -> Event {
        Event { kind: kind(e.kind), tenant: e.tenant, pool: Some(e.pool), subject: e.subject, data: e.data }
    }
}

impl EventSink for Webhooks {
    fn commit(
        &self,
        events: Vec<PoolEvent>,
        puts: Vec<(Vec<u8>, Vec<u8>)>,
        deletes: Vec<Vec<u8>>,
    ) -> Result<(), SinkError> {
        self.publish(events.into_iter().map(Event::from).collect(), puts, deletes)
            .map(|_| ())
            .map_err(|e| SinkError(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pool_kinds_keep_their_cloudevents_type() {
        for k in [
            PoolEventKind::ScaleUp,
            PoolEventKind::ScaleDown,
            PoolEventKind::UnitRequested,
            PoolEventKind::UnitReady,
            PoolEventKind::UnitReleased,
            PoolEventKind::UnitTimedOut,
            PoolEventKind::Reservation,
            PoolEventKind::ForecastFallback,
            PoolEventKind::ThresholdCrossed,
        ] {
            assert_eq!(kind(k).type_name(), k.type_name());
        }
    }

    #[test]
    fn a_pool_change_and_its_events_are_one_batch() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = augur_engine::storage::Store::open(dir.path(), Default::default()).expect("open");
        let hooks = Webhooks::new(store.clone(), super::super::WebhookConfig::default()).expect("webhooks");
        let event = PoolEvent {
            kind: PoolEventKind::UnitRequested,
            tenant: "acme".into(),
            pool: "web".into(),
            subject: Some("u1".into()),
            data: serde_json::json!({"shape": "small"}),
        };
        let sink: &dyn EventSink = &hooks;
        sink.commit(vec![event], vec![(b"pool/acme/web".to_vec(), b"v".to_vec())], Vec::new()).expect("commit");
        let stored = hooks.outbox.after(0, 10).expect("outbox");
        assert_eq!(stored.len(), 1);
        assert_eq!((stored[0].kind, stored[0].pool.as_deref()), (EventKind::PoolUnitRequested, Some("web")));
        assert_eq!(stored[0].source(), "/augur/tenants/acme/pools/web");
        assert!(store.get_meta_record(b"pool/acme/web").expect("get").is_some());
        // Reserved keys are refused, and nothing is written.
        let err = sink.commit(Vec::new(), vec![(b"webhook/x".to_vec(), Vec::new())], Vec::new()).expect_err("reserved");
        assert!(err.0.contains("reserved"), "{err}");
    }
}
