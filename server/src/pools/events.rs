//! What the pool manager tells the outside world, and where it goes.
//!
//! Why a sink trait: every change of a pool (its state, its units) and the
//! events it causes must be written together — the transactional outbox —
//! so that a crash can neither lose an event of a change that happened nor
//! announce one that did not. The webhook outbox implements [`EventSink`]
//! by writing the events in the same RocksDB batch as the records;
//! [`StoreSink`] writes the records alone (no subscribers: library tests).

use augur_engine::storage::Store;
use serde::Serialize;

/// The kinds of pool event (CloudEvents type `io.augur.pool.<name>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PoolEventKind {
    /// Units were requested to meet predicted demand.
    ScaleUp,
    /// Units were released after demand stayed lower.
    ScaleDown,
    /// One unit was requested (the consumer should start it).
    UnitRequested,
    /// One unit reported ready.
    UnitReady,
    /// One unit was released (the consumer should stop it).
    UnitReleased,
    /// One unit did not become ready in time and was replaced.
    UnitTimedOut,
    /// A reservation's allocation changed.
    Reservation,
    /// A forecast failed; the reactive rule decides until it recovers.
    ForecastFallback,
    /// The forecast demand crossed the pool's largest capacity (`max`
    /// units): a shortage is predicted (or has ended, `"direction": "down"`).
    ThresholdCrossed,
}

impl PoolEventKind {
    /// The CloudEvents `type`.
    pub fn type_name(self) -> &'static str {
        match self {
            PoolEventKind::ScaleUp => "io.augur.pool.scale_up",
            PoolEventKind::ScaleDown => "io.augur.pool.scale_down",
            PoolEventKind::UnitRequested => "io.augur.pool.unit_requested",
            PoolEventKind::UnitReady => "io.augur.pool.unit_ready",
            PoolEventKind::UnitReleased => "io.augur.pool.unit_released",
            PoolEventKind::UnitTimedOut => "io.augur.pool.unit_timed_out",
            PoolEventKind::Reservation => "io.augur.pool.reservation",
            PoolEventKind::ForecastFallback => "io.augur.pool.forecast_fallback",
            PoolEventKind::ThresholdCrossed => "io.augur.forecast.threshold_crossed",
        }
    }
}

/// One event about a pool.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PoolEvent {
    /// What happened.
    pub kind: PoolEventKind,
    /// The pool's tenant.
    pub tenant: String,
    /// The pool.
    pub pool: String,
    /// What it is about within the pool (a unit id), if anything.
    pub subject: Option<String>,
    /// The details.
    pub data: serde_json::Value,
}

/// A change that could not be made durable.
#[derive(Debug, thiserror::Error)]
#[error("cannot store the pool change: {0}")]
pub struct SinkError(pub String);

/// Writes a pool change and its events atomically.
pub trait EventSink: Send + Sync {
    /// Stores `puts` and `deletes` (meta record keys) and `events` in one
    /// durable write; nothing is written when it fails.
    fn commit(
        &self,
        events: Vec<PoolEvent>,
        puts: Vec<(Vec<u8>, Vec<u8>)>,
        deletes: Vec<Vec<u8>>,
    ) -> Result<(), SinkError>;
}

/// A sink without subscribers: records only, events logged.
pub struct StoreSink {
    /// Where the records go.
    pub store: Store,
}

impl EventSink for StoreSink {
    fn commit(
        &self,
        events: Vec<PoolEvent>,
        puts: Vec<(Vec<u8>, Vec<u8>)>,
        deletes: Vec<Vec<u8>>,
    ) -> Result<(), SinkError> {
        for key in deletes {
            self.store.delete_meta_record(&key).map_err(|e| SinkError(e.to_string()))?;
        }
        for (key, value) in puts {
            self.store.put_meta_record(&key, &value).map_err(|e| SinkError(e.to_string()))?;
        }
        for event in events {
            tracing::info!(kind = event.kind.type_name(), tenant = %event.tenant, pool = %event.pool, subject = ?event.subject, "pool event");
        }
        Ok(())
    }
}
