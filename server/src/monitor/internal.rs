//! The `_internal` database: the server's health, per-tenant usage, webhook
//! deliveries, model accuracy and every pool cycle's KPIs, as series.
//!
//! Why a database and not only `/metrics`: the feedback loop is Augur's own
//! product. Written here, a pool's utilization or a model's live error can
//! be queried with AQL, forecast, put behind a continuous query or shown by
//! the dashboard like any tenant series. InfluxDB 1.x users know the name:
//! it keeps its own statistics in a database of that name.
//!
//! The database belongs to the default tenant (operators only when
//! authentication is on) and keeps points for `[monitor] retention` (7 days
//! by default) under its retention policy `monitor`.

use std::sync::Arc;
use std::time::Duration;

use augur_engine::model::Point;
use augur_engine::storage::{RetentionPolicy, StorageError};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::pool_accuracy::PoolAccuracy;
use super::snapshot::pool_points;
use super::Monitor;
use crate::auth::model::DEFAULT_TENANT;
use crate::clock::now_ns;
use crate::pools::demand::latest_worst;
use crate::pools::manager::PoolRecord;

/// The database's name.
pub const INTERNAL_DATABASE: &str = "_internal";

/// Its retention policy's name.
pub const INTERNAL_POLICY: &str = "monitor";

/// The `[monitor]` settings.
#[derive(Debug, Clone, PartialEq)]
pub struct MonitorConfig {
    /// Write `_internal` at all.
    pub enabled: bool,
    /// How often the server health points are written.
    pub interval: Duration,
    /// How long `_internal` keeps points (applied when the database is created).
    pub retention: Duration,
    /// The bucket of the per-tenant usage watch (`Duration::ZERO`: no
    /// watch; see [`TENANT_WATCHES`]).
    pub tenant_watch: Duration,
}

impl Default for MonitorConfig {
    fn default() -> Self {
        MonitorConfig {
            enabled: true,
            interval: Duration::from_secs(10),
            retention: Duration::from_secs(7 * 24 * 3600),
            tenant_watch: Duration::from_secs(60),
        }
    }
}

/// The continuous forecasts on `_internal` that watch every tenant's
/// usage: `(name, tenant_usage field, target measurement)`. Each forecasts
/// the per-second rate of the field per tenant, so the anomaly detector
/// ([operations](../../../docs/operations.md#anomaly-detection)) flags a
/// tenant whose ingest or query rate leaves its usual band — resource
/// abuse or a leaked credential — as `anomalies` in `_internal` and an
/// `io.augur.anomaly.detected` event for operators.
pub const TENANT_WATCHES: [(&str, &str, &str); 2] = [
    ("tenant_ingest_watch", "points_written", "tenant_ingest_forecast"),
    ("tenant_query_watch", "query_count", "tenant_query_forecast"),
];

/// The `CREATE CONTINUOUS QUERY` of one tenant watch with `bucket` ns buckets.
fn tenant_watch_statement(name: &str, field: &str, target: &str, bucket: i64) -> String {
    let b = augur_query::duration::format_duration(bucket);
    let horizon = augur_query::duration::format_duration(bucket.saturating_mul(5));
    format!(
        "CREATE CONTINUOUS QUERY {name} ON {INTERNAL_DATABASE} RESAMPLE EVERY {b} BEGIN \
         SELECT forecast(non_negative_derivative(last({field}), 1s), {horizon}, model => 'ets', level => 99) \
         INTO {target} FROM tenant_usage GROUP BY time({b}), tenant END"
    )
}

/// Writes points into `_internal`; cheap to clone.
#[derive(Clone)]
pub struct InternalWriter {
    monitor: Monitor,
    config: MonitorConfig,
    /// Pools' forecasts waiting to be scored.
    accuracy: Arc<PoolAccuracy>,
}

impl InternalWriter {
    /// Creates `_internal` (with its retention policy, owned by the default
    /// tenant) when it does not exist. Blocking: it writes the store.
    pub fn open(monitor: Monitor, config: MonitorConfig) -> Result<InternalWriter, StorageError> {
        let writer = InternalWriter { monitor, config, accuracy: Arc::new(PoolAccuracy::new()) };
        if writer.config.enabled {
            writer.ensure_database()?;
        }
        Ok(writer)
    }

    fn ensure_database(&self) -> Result<(), StorageError> {
        let store = &self.monitor.sources.store;
        if !store.database_exists(INTERNAL_DATABASE) {
            let day = 24 * 3600 * 1_000_000_000;
            let rp = RetentionPolicy {
                name: INTERNAL_POLICY.to_string(),
                duration_ns: Some(i64::try_from(self.config.retention.as_nanos()).unwrap_or(i64::MAX)),
                shard_group_duration_ns: day,
                replication: 1,
                default: true,
            };
            store.create_database_with_policy(INTERNAL_DATABASE, rp)?;
            tracing::info!(database = INTERNAL_DATABASE, retention = ?self.config.retention, "created the monitoring database");
        }
        self.ensure_tenant_watches();
        if let Some(auth) = &self.monitor.sources.auth {
            if auth.accounts.owner(INTERNAL_DATABASE).is_none() {
                if let Err(err) = auth.accounts.claim(INTERNAL_DATABASE, DEFAULT_TENANT) {
                    tracing::error!(error = %err, "cannot give _internal to the default tenant");
                }
            }
        }
        Ok(())
    }

    /// Creates the continuous forecasts that watch each tenant's usage
    /// ([`TENANT_WATCHES`]) when they do not exist yet. An operator may drop
    /// or replace them; a dropped one comes back at the next start unless
    /// `[monitor] tenant_watch = "0s"`.
    fn ensure_tenant_watches(&self) {
        let bucket = i64::try_from(self.config.tenant_watch.as_nanos()).unwrap_or(i64::MAX);
        if bucket <= 0 {
            return;
        }
        let store = &self.monitor.sources.store;
        let existing: Vec<String> = match augur_query::cq::list_database(store, INTERNAL_DATABASE) {
            Ok(list) => list.iter().map(|q| q.name().to_string()).collect(),
            Err(err) => {
                tracing::warn!(error = %err, "cannot list _internal's continuous queries");
                return;
            }
        };
        for (name, field, target) in TENANT_WATCHES {
            if existing.iter().any(|e| e == name) {
                continue;
            }
            let text = tenant_watch_statement(name, field, target, bucket);
            let outcome = augur_query::parse_query(&text).map_err(|e| e.to_string()).and_then(|query| {
                let ctx = augur_query::ExecutionContext {
                    database: Some(INTERNAL_DATABASE.to_string()),
                    now: Some(now_ns()),
                    ..Default::default()
                };
                let response = augur_query::execute(store, &query, &ctx);
                match response.results.into_iter().find_map(|r| r.error) {
                    Some(error) => Err(error),
                    None => Ok(()),
                }
            });
            match outcome {
                Ok(()) => tracing::info!(cq = name, "watching every tenant's usage for anomalies"),
                Err(err) => tracing::warn!(cq = name, error = %err, "cannot create the tenant usage watch"),
            }
        }
    }

    /// The monitor it writes from.
    pub fn monitor(&self) -> &Monitor {
        &self.monitor
    }

    /// Writes `points` (blocking); failures are logged, never raised: the
    /// monitor must not take anything else down.
    pub fn write(&self, points: &[Point]) {
        if !self.config.enabled || points.is_empty() {
            return;
        }
        match self.monitor.sources.store.write(INTERNAL_DATABASE, None, points, now_ns()) {
            Ok(_) => self.monitor.metrics.internal_points.add(points.len() as u64),
            Err(err) => tracing::warn!(error = %err, "cannot write to _internal"),
        }
    }

    /// Writes one pool's KPIs after its cycle at `now_ns` (blocking; it
    /// runs the pool's latency query, if it has one).
    pub fn record_pool(&self, record: &PoolRecord, now_ns: i64) {
        let latency = record.spec.latency.as_ref().and_then(|source| {
            latest_worst(&self.monitor.sources.store, source, now_ns)
                .map_err(|err| {
                    tracing::warn!(tenant = %record.spec.tenant, pool = %record.spec.name, error = %err, "latency KPI query failed")
                })
                .ok()
                .flatten()
        });
        let mut points = pool_points(record, latency, now_ns);
        points.extend(self.accuracy.observe(record, now_ns));
        self.write(&points);
    }

    /// Writes the server's health every `interval` until `shutdown`.
    pub fn spawn(self: Arc<Self>, shutdown: watch::Receiver<bool>) -> JoinHandle<()> {
        let interval = self.config.interval;
        tokio::spawn(async move {
            if !self.config.enabled {
                return;
            }
            crate::shutdown::every(interval, shutdown, || {
                let writer = Arc::clone(&self);
                async move {
                    let job = tokio::task::spawn_blocking(move || {
                        let points = writer.monitor.points(now_ns());
                        writer.write(&points);
                    });
                    if let Err(err) = job.await {
                        tracing::error!(error = %err, "the monitor's snapshot failed");
                    }
                }
            })
            .await
        })
    }
}
