//! [`Monitor`]: one reading of everything the server knows about itself,
//! as Prometheus text or as `_internal` points.
//!
//! Both outputs come from the same reads, so a figure on `/metrics` and the
//! same figure in `_internal` cannot disagree in meaning.

use std::collections::BTreeMap;
use std::sync::Arc;

use augur_engine::forecast::store::{ModelHead, ModelStore};
use augur_engine::model::{FieldValue, Point};

use super::metrics::{CounterFamily, Exposition, Gauge, GaugeFamily};
use super::{Metrics, Sources};
use crate::auth::model::DEFAULT_TENANT;
use crate::pools::manager::PoolRecord;

/// Reads [`Metrics`] and the subsystems; cheap to clone.
#[derive(Clone)]
pub struct Monitor {
    /// The instruments.
    pub metrics: Arc<Metrics>,
    /// The subsystems read at each scrape or snapshot.
    pub sources: Sources,
}

/// Gauges read from the subsystems at one moment.
struct Readings {
    /// Series per database.
    series: GaugeFamily,
    /// Store bytes by part.
    storage: GaugeFamily,
    /// Field values in memory.
    head_values: f64,
    /// Pool units by tenant, pool and state.
    pool_units: GaugeFamily,
    /// Tenant capacity quotas' limits, by tenant and dimension.
    quota_limits: GaugeFamily,
    /// What the tenants' pools hold under their quotas, by tenant and dimension.
    quota_held: GaugeFamily,
    /// Webhook subscriptions.
    subscriptions: f64,
    /// Model heads (continuous forecasts' models).
    models: Vec<ModelHead>,
}

impl Monitor {
    /// A monitor over these instruments and subsystems.
    pub fn new(metrics: Arc<Metrics>, sources: Sources) -> Monitor {
        Monitor { metrics, sources }
    }

    /// The tenant owning `database` (`default` without accounts or owner).
    pub fn owner_of(&self, database: &str) -> String {
        self.sources
            .auth
            .as_ref()
            .and_then(|a| a.accounts.owner(database))
            .unwrap_or_else(|| DEFAULT_TENANT.to_string())
    }

    /// Reads the subsystems (blocking: it reads the store).
    fn read(&self) -> Readings {
        let store = &self.sources.store;
        let series = GaugeFamily::new(&["database"], Gauge::default);
        for db in store.databases() {
            series.with(&[&db]).set(store.series_count(&db) as f64);
        }
        let storage = GaugeFamily::new(&["part"], Gauge::default);
        match store.disk_usage() {
            Ok(usage) => {
                for (part, bytes) in
                    [("wal", usage.wal), ("blocks", usage.blocks), ("index", usage.index), ("meta", usage.meta)]
                {
                    storage.with(&[part]).set(bytes as f64);
                }
            }
            Err(err) => tracing::warn!(error = %err, "cannot read the store's size"),
        }
        let pool_units = GaugeFamily::new(&["tenant", "pool", "state"], Gauge::default);
        for record in self.sources.pools.as_ref().map(|p| p.list(None)).unwrap_or_default() {
            for (state, n) in record.count_by_state() {
                pool_units.with(&[&record.spec.tenant, &record.spec.name, state]).set(n as f64);
            }
        }
        let quota_limits = GaugeFamily::new(&["tenant", "dimension"], Gauge::default);
        let quota_held = GaugeFamily::new(&["tenant", "dimension"], Gauge::default);
        for view in self.sources.pools.as_ref().map(|p| p.quotas()).unwrap_or_default() {
            for (dimension, limit) in &view.quota.limits {
                quota_limits.with(&[&view.tenant, dimension.name()]).set(*limit);
                let held = view.holds.get(dimension).copied().unwrap_or(0.0);
                quota_held.with(&[&view.tenant, dimension.name()]).set(held);
            }
        }
        let subscriptions = self.sources.webhooks.as_ref().map_or(0, |w| w.list().len()) as f64;
        let models = ModelStore::new(store.clone(), 1).list(None).unwrap_or_else(|err| {
            tracing::warn!(error = %err, "cannot list the models");
            Vec::new()
        });
        Readings {
            series,
            storage,
            head_values: store.head_values() as f64,
            pool_units,
            quota_limits,
            quota_held,
            subscriptions,
            models,
        }
    }

    /// Everything, in the Prometheus text exposition format.
    pub fn render(&self) -> String {
        let r = self.read();
        let m = &self.metrics;
        let mut e = Exposition::new();
        e.gauge("augur_uptime_seconds", "Seconds since the server started.", m.uptime_seconds());
        let build = GaugeFamily::new(&["version"], Gauge::default);
        build.with(&[env!("CARGO_PKG_VERSION")]).set(1.0);
        e.gauge_family("augur_build_info", "The running version (always 1).", &build);
        e.counter_family(
            "augur_http_requests_total",
            "HTTP requests by route, method and status code.",
            &m.http_requests,
        );
        e.histogram_family(
            "augur_http_request_duration_seconds",
            "HTTP request durations by route (route=\"/query\" is query latency).",
            &m.http_duration,
        );
        e.counter_family("augur_points_written_total", "Points stored by writes, by owning tenant.", &m.points_written);
        e.counter_family(
            "augur_points_rejected_total",
            "Lines or points refused by writes (parse errors, type conflicts, limits), by tenant.",
            &m.points_rejected,
        );
        e.counter("augur_write_bytes_total", "Write request bodies received, bytes as sent.", m.write_bytes.get());
        e.counter_family("augur_queries_total", "Queries run, by the caller's tenant.", &m.queries);
        e.gauge_family("augur_series", "Series per database.", &r.series);
        e.gauge_family("augur_storage_bytes", "Store size by part (wal, blocks, index, meta), bytes.", &r.storage);
        e.gauge("augur_head_values", "Field values held in memory, not yet sealed into blocks.", r.head_values);
        e.counter("augur_cq_runs_total", "Continuous query runs.", m.cq_runs.get());
        e.counter("augur_cq_failures_total", "Continuous query runs that failed.", m.cq_failures.get());
        e.gauge(
            "augur_cq_lag_seconds",
            "How late the last continuous query run started after it was due, seconds.",
            m.cq_lag_seconds.get(),
        );
        e.counter("augur_model_trainings_total", "Model versions trained by continuous forecasts.", m.trainings.get());
        e.histogram(
            "augur_model_training_duration_seconds",
            "Time of each continuous-forecast step that trained a new model version (fit, backtest, contest), seconds.",
            &m.training_seconds,
        );
        e.histogram(
            "augur_forecast_run_duration_seconds",
            "Time per continuous forecast run (training, updating, forecasting), seconds.",
            &m.forecast_run_seconds,
        );
        let accuracy = self.accuracy_gauges(&r.models);
        e.gauge_family("augur_model_live_mase", "Live MASE of each continuous forecast model.", &accuracy.live_mase);
        e.gauge_family(
            "augur_model_backtest_mase",
            "Backtest MASE of each model's active version.",
            &accuracy.backtest,
        );
        e.gauge_family("augur_model_coverage95", "Share of actuals inside each model's 95% band.", &accuracy.coverage);
        e.counter("augur_pool_cycles_total", "Pool allocation cycles run.", m.pool_cycles.get());
        e.counter(
            "augur_pool_cycle_failures_total",
            "Pool allocation cycles that failed.",
            m.pool_cycle_failures.get(),
        );
        e.histogram("augur_pool_cycle_duration_seconds", "Pool cycle durations, seconds.", &m.pool_cycle_seconds);
        e.gauge_family("augur_pool_units", "Pool units by state.", &r.pool_units);
        e.gauge_family(
            "augur_tenant_pool_quota_limit",
            "A tenant's capacity quota over all its pools, by dimension.",
            &r.quota_limits,
        );
        e.gauge_family(
            "augur_tenant_pool_quota_held",
            "The capacity a quota'd tenant's pools hold (active units), by dimension.",
            &r.quota_held,
        );
        e.gauge("augur_webhook_subscriptions", "Webhook subscriptions.", r.subscriptions);
        let empty = crate::webhooks::counters::DeliveryCounters::default();
        let hooks = self.sources.webhooks.as_ref().map_or(&empty, |w| &w.counters);
        e.counter_family("augur_webhook_deliveries_total", "Webhook events delivered.", &hooks.delivered);
        e.counter_family(
            "augur_webhook_failed_attempts_total",
            "Webhook delivery attempts that failed.",
            &hooks.failed_attempts,
        );
        e.counter_family("augur_webhook_dead_letters_total", "Webhook events given up on.", &hooks.dead_lettered);
        e.counter("augur_internal_points_total", "Points written to the _internal database.", m.internal_points.get());
        e.finish()
    }

    fn accuracy_gauges(&self, models: &[ModelHead]) -> Accuracy {
        let labels: &'static [&'static str] = &["tenant", "database", "key", "model"];
        let a = Accuracy {
            live_mase: GaugeFamily::new(labels, Gauge::default),
            backtest: GaugeFamily::new(labels, Gauge::default),
            coverage: GaugeFamily::new(labels, Gauge::default),
        };
        for h in models {
            let tenant = self.owner_of(&h.key.database);
            let l = [tenant.as_str(), h.key.database.as_str(), h.key.group.as_str(), h.key.model.as_str()];
            if let Some(v) = h.live_mase() {
                a.live_mase.with(&l).set(v);
            }
            if let Some(v) = h.backtest.mase {
                a.backtest.with(&l).set(v);
            }
            if let Some(v) = h.live.coverage95() {
                a.coverage.with(&l).set(v);
            }
        }
        a
    }

    /// The server-health, per-tenant, webhook and model-accuracy points of
    /// this moment, for `_internal` (see docs/operations.md for the schema).
    pub fn points(&self, now_ns: i64) -> Vec<Point> {
        let r = self.read();
        let m = &self.metrics;
        let mut out = Vec::new();
        let int = |v: u64| FieldValue::Integer(i64::try_from(v).unwrap_or(i64::MAX));
        let sum = |f: &CounterFamily| f.members().iter().map(|(_, c)| c.get()).sum::<u64>();
        let (queries_total, query_seconds) =
            m.http_duration.get(&[crate::http::routes::QUERY]).map_or((0, 0.0), |h| (h.count(), h.sum()));
        let storage = |part: &str| r.storage.get(&[part]).map_or(0.0, |g| g.get());
        let mut server = vec![
            ("uptime_seconds".to_string(), FieldValue::Float(m.uptime_seconds())),
            ("points_written".to_string(), int(sum(&m.points_written))),
            ("points_rejected".to_string(), int(sum(&m.points_rejected))),
            ("write_bytes".to_string(), int(m.write_bytes.get())),
            ("query_count".to_string(), int(sum(&m.queries))),
            ("query_seconds".to_string(), FieldValue::Float(query_seconds)),
            ("query_requests".to_string(), int(queries_total)),
            ("series_count".to_string(), int(r.series.members().iter().map(|(_, g)| g.get() as u64).sum())),
            ("head_values".to_string(), int(r.head_values as u64)),
            ("wal_bytes".to_string(), int(storage("wal") as u64)),
            ("block_bytes".to_string(), int(storage("blocks") as u64)),
            ("index_bytes".to_string(), int(storage("index") as u64)),
            ("cq_runs".to_string(), int(m.cq_runs.get())),
            ("cq_failures".to_string(), int(m.cq_failures.get())),
            ("cq_lag_seconds".to_string(), FieldValue::Float(m.cq_lag_seconds.get())),
            ("model_trainings".to_string(), int(m.trainings.get())),
            ("forecast_run_seconds".to_string(), FieldValue::Float(m.forecast_run_seconds.sum())),
            ("training_seconds".to_string(), FieldValue::Float(m.training_seconds.sum())),
            ("pool_cycles".to_string(), int(m.pool_cycles.get())),
            ("pool_cycle_failures".to_string(), int(m.pool_cycle_failures.get())),
        ];
        server.sort_by(|a, b| a.0.cmp(&b.0));
        out.push(point("server", vec![], server, now_ns));

        let mut tenants: BTreeMap<String, Vec<(String, FieldValue)>> = BTreeMap::new();
        for (field, family) in [
            ("points_written", &m.points_written),
            ("points_rejected", &m.points_rejected),
            ("query_count", &m.queries),
        ] {
            for (labels, c) in family.members() {
                if let Some(tenant) = labels.into_iter().next() {
                    tenants.entry(tenant).or_default().push((field.to_string(), int(c.get())));
                }
            }
        }
        for (tenant, fields) in tenants {
            out.push(point("tenant_usage", vec![("tenant".into(), tenant)], fields, now_ns));
        }

        if let Some(hooks) = &self.sources.webhooks {
            let count = |f: &CounterFamily, id: &str| f.get(&[id]).map_or(0, |c| c.get());
            for sub in hooks.list() {
                let c = &hooks.counters;
                let fields = vec![
                    ("dead_letters".to_string(), int(count(&c.dead_lettered, &sub.id))),
                    ("delivered".to_string(), int(count(&c.delivered, &sub.id))),
                    ("failed".to_string(), int(count(&c.failed_attempts, &sub.id))),
                ];
                let tenant = sub.tenant.clone().unwrap_or_else(|| sub.owner.clone());
                out.push(point(
                    "webhooks",
                    vec![("tenant".into(), tenant), ("webhook".into(), sub.id.clone())],
                    fields,
                    now_ns,
                ));
            }
        }

        for h in &r.models {
            let mut fields = vec![("version".to_string(), FieldValue::Integer(i64::from(h.active)))];
            let mut float = |name: &str, v: Option<f64>| {
                if let Some(v) = v.filter(|v| v.is_finite()) {
                    fields.push((name.to_string(), FieldValue::Float(v)));
                }
            };
            float("live_mase", h.live_mase());
            float("backtest_mase", h.backtest.mase);
            float("abs_error", (h.live.points > 0).then(|| h.live.abs_err / h.live.points as f64));
            float("coverage95", h.live.coverage95());
            fields.push(("scored".to_string(), int(h.live.points)));
            fields.sort_by(|a, b| a.0.cmp(&b.0));
            let tags = vec![
                ("database".to_string(), h.key.database.clone()),
                ("key".to_string(), h.key.group.clone()),
                ("model".to_string(), h.key.model.clone()),
                ("tenant".to_string(), self.owner_of(&h.key.database)),
            ];
            out.push(point("forecast_accuracy", tags, fields, now_ns));
        }
        out
    }
}

/// Accuracy gauges of every model head.
struct Accuracy {
    live_mase: GaugeFamily,
    backtest: GaugeFamily,
    coverage: GaugeFamily,
}

/// A point with sorted tags (callers pass them sorted) and sorted fields.
pub(super) fn point(
    measurement: &str,
    tags: Vec<(String, String)>,
    fields: Vec<(String, FieldValue)>,
    now_ns: i64,
) -> Point {
    Point { measurement: measurement.to_string(), tags, fields, timestamp: Some(now_ns) }
}

/// The KPI points of one pool after a cycle: per dimension `pool`, the
/// pool's `pool_units` (with the service's `latency` when the pool names
/// a latency query and it had a value), and a `pool_action` when the fleet
/// changed.
pub fn pool_points(record: &PoolRecord, latency: Option<f64>, now_ns: i64) -> Vec<Point> {
    let spec = &record.spec;
    let base = vec![("pool".to_string(), spec.name.clone()), ("tenant".to_string(), spec.tenant.clone())];
    let mut out = Vec::new();
    let shape_of = |name: &str| spec.shapes.iter().find(|s| s.name == name);
    for dimension in spec.demand.keys() {
        let (mut allocated, mut ready) = (0.0, 0.0);
        for unit in &record.units {
            let Some(shape) = shape_of(&unit.shape) else { continue };
            let capacity = shape.capacity_of(*dimension);
            if unit.state.is_active() {
                allocated += capacity;
            }
            if unit.state == crate::pools::units::UnitState::Ready {
                ready += capacity;
            }
        }
        let reading = record.readings.get(dimension);
        let usage = reading.and_then(|r| r.usage);
        let mut fields = vec![
            ("allocated".to_string(), FieldValue::Float(allocated)),
            ("ready".to_string(), FieldValue::Float(ready)),
        ];
        let mut float = |name: &str, v: Option<f64>| {
            if let Some(v) = v.filter(|v| v.is_finite()) {
                fields.push((name.to_string(), FieldValue::Float(v)));
            }
        };
        float("usage", usage);
        float("forecast", reading.and_then(|r| r.forecast));
        float("required", record.last_decision.as_ref().and_then(|d| d.required.get(dimension).copied()));
        float("unmet", usage.map(|u| (u - ready).max(0.0)));
        float("utilization", usage.filter(|_| allocated > 0.0).map(|u| u / allocated));
        fields.sort_by(|a, b| a.0.cmp(&b.0));
        let mut tags = base.clone();
        tags.insert(0, ("dimension".to_string(), dimension.name().to_string()));
        out.push(point("pool", tags, fields, now_ns));
    }
    let counts = record.count_by_state();
    let n = |state: &str| FieldValue::Integer(counts.get(state).copied().unwrap_or(0) as i64);
    let active: usize = record.units.iter().filter(|u| u.state.is_active()).count();
    let starting = counts.get("requested").copied().unwrap_or(0) + counts.get("provisioning").copied().unwrap_or(0);
    let cost: f64 = record
        .units
        .iter()
        .filter(|u| u.state.is_active())
        .filter_map(|u| shape_of(&u.shape))
        .map(|s| s.hourly_cost)
        .sum();
    let mut fields = vec![
        ("active".to_string(), FieldValue::Integer(active as i64)),
        ("cost_per_hour".to_string(), FieldValue::Float(cost)),
        ("ready".to_string(), n("ready")),
        ("starting".to_string(), FieldValue::Integer(starting as i64)),
    ];
    if let Some(latency) = latency.filter(|l| l.is_finite()) {
        fields.insert(2, ("latency".to_string(), FieldValue::Float(latency)));
    }
    out.push(point("pool_units", base.clone(), fields, now_ns));
    if let Some(d) = record.last_decision.as_ref().filter(|d| d.at == now_ns) {
        for (action, units) in
            [("scale_up", d.scale_up.iter().sum::<u32>()), ("scale_down", d.release.iter().sum::<u32>())]
        {
            if units > 0 {
                let mut tags = vec![("action".to_string(), action.to_string())];
                tags.extend(base.clone());
                let fields = vec![
                    ("reason".to_string(), FieldValue::String(d.reason.clone())),
                    ("units".to_string(), FieldValue::Integer(i64::from(units))),
                ];
                out.push(point("pool_action", tags, fields, now_ns));
            }
        }
    }
    out
}
