//! Self-monitoring: what the server counts about itself, `GET /metrics`,
//! and the `_internal` database.
//!
//! * [`metrics`]: counters, gauges, histograms and the Prometheus text format.
//! * [`Metrics`]: the instruments the HTTP layer and the background tasks
//!   count with (one shared `Arc`, created by the server).
//! * [`Monitor`]: reads [`Metrics`] and the subsystems' own state (store
//!   sizes, pools, webhook deliveries, models) into the exposition and into
//!   points.
//! * [`internal`]: writes those points, and each pool cycle's KPIs, into the
//!   `_internal` database, so the server's health and the allocation loop's
//!   results are ordinary series: queryable with AQL, forecastable, shown by
//!   the dashboard.
//!
//! Why both: Prometheus users scrape `/metrics`; everyone else, and the
//! feedback loop itself, asks Augur.

pub mod internal;
pub mod metrics;
pub mod pool_accuracy;
mod snapshot;

use std::sync::Arc;
use std::time::Instant;

use augur_engine::storage::Store;

use crate::auth::Auth;
use crate::pools::manager::PoolManager;
use crate::webhooks::Webhooks;
use metrics::{Counter, CounterFamily, Gauge, Histogram, HistogramFamily, LATENCY_BUCKETS, TRAINING_BUCKETS};

pub use snapshot::Monitor;

/// The instruments counted as things happen. Every field is cheap to update
/// from any thread.
#[derive(Debug)]
pub struct Metrics {
    /// When the server started (for the uptime).
    pub started: Instant,
    /// HTTP requests by route template, method and status code.
    pub http_requests: CounterFamily,
    /// HTTP request durations by route template, seconds.
    pub http_duration: HistogramFamily,
    /// Points stored by writes, by the owning tenant.
    pub points_written: CounterFamily,
    /// Points or lines refused by writes (parse errors, type conflicts, limits), by tenant.
    pub points_rejected: CounterFamily,
    /// Request bodies received by writes, bytes (as sent, before decompression).
    pub write_bytes: Counter,
    /// Queries run, by the caller's tenant.
    pub queries: CounterFamily,
    /// Continuous query runs.
    pub cq_runs: Counter,
    /// Continuous query runs that failed.
    pub cq_failures: Counter,
    /// How late the last continuous query run started after it was due, seconds.
    pub cq_lag_seconds: Gauge,
    /// Continuous forecast model versions trained.
    pub trainings: Counter,
    /// Time of each continuous-forecast step that trained a new version, seconds.
    pub training_seconds: Histogram,
    /// Time continuous forecasts spent per run (fitting, updating, forecasting), seconds.
    pub forecast_run_seconds: Histogram,
    /// Pool cycles run.
    pub pool_cycles: Counter,
    /// Pool cycles that failed.
    pub pool_cycle_failures: Counter,
    /// Pool cycle durations (demand queries, forecasts, decision), seconds.
    pub pool_cycle_seconds: Histogram,
    /// Points the monitor wrote to `_internal`.
    pub internal_points: Counter,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    /// Every instrument at zero.
    pub fn new() -> Metrics {
        Metrics {
            started: Instant::now(),
            http_requests: CounterFamily::new(&["route", "method", "code"], Counter::default),
            http_duration: HistogramFamily::new(&["route"], || Histogram::new(LATENCY_BUCKETS)),
            points_written: CounterFamily::new(&["tenant"], Counter::default),
            points_rejected: CounterFamily::new(&["tenant"], Counter::default),
            write_bytes: Counter::default(),
            queries: CounterFamily::new(&["tenant"], Counter::default),
            cq_runs: Counter::default(),
            cq_failures: Counter::default(),
            cq_lag_seconds: Gauge::default(),
            trainings: Counter::default(),
            forecast_run_seconds: Histogram::new(TRAINING_BUCKETS),
            training_seconds: Histogram::new(TRAINING_BUCKETS),
            pool_cycles: Counter::default(),
            pool_cycle_failures: Counter::default(),
            pool_cycle_seconds: Histogram::new(TRAINING_BUCKETS),
            internal_points: Counter::default(),
        }
    }

    /// Seconds since the server started.
    pub fn uptime_seconds(&self) -> f64 {
        self.started.elapsed().as_secs_f64()
    }
}

/// What the monitor reads from besides [`Metrics`].
#[derive(Clone)]
pub struct Sources {
    /// The store (sizes, series, models).
    pub store: Store,
    /// Accounts (who owns a database), when authentication is configured.
    pub auth: Option<Arc<Auth>>,
    /// The pools.
    pub pools: Option<Arc<PoolManager>>,
    /// The webhook subscriptions and their delivery counts.
    pub webhooks: Option<Arc<Webhooks>>,
}
