//! Continuous forecasts: a continuous query whose field is `forecast()`,
//! run with the model registry instead of a fit from scratch.
//!
//! ```sql
//! CREATE CONTINUOUS QUERY cf ON db BEGIN
//!   SELECT forecast(mean(v), 12) INTO demand_forecast FROM m GROUP BY time(5m), host
//! END
//! ```
//!
//! Semantics (and why they differ from an ordinary continuous query): a
//! continuous query computes the buckets of its run's range `[start, end)`;
//! a forecast made from one bucket would be worthless, and its output lies
//! *after* the range. So a continuous forecast treats `end` (the end of the
//! last closed interval) as the forecast origin: each run reads the
//! training window `[end - training, end)` (the call's own `training =>`,
//! else `settings.default_training_steps` intervals), and writes the
//! `horizon` predicted buckets after the last bucket with data into the
//! `INTO` measurement, at their future times, with the query's `GROUP BY`
//! tags and the columns `forecast()` answers (`forecast`, `lower_<level>`,
//! `upper_<level>`). The next run overwrites the times both predict (same
//! series, same timestamps: last write wins), so the target always holds
//! the newest forecast of every future bucket.
//!
//! Per series group the model lives in the registry under (database,
//! `<cq name>/<measurement>,<tag>=<value>...`, model name); each run is one
//! [`learn::step`]: score the earlier forecasts against the actuals now
//! in the window, then roll the stored model forward with the new buckets,
//! or train a new version (none yet, on schedule, or on drift). Every step
//! runs on the bounded forecast worker pool and gives up when `cancel`
//! fires (the scheduler's shutdown).
//!
//! Anomalies: when the settings' policy carries a detector, each step also
//! judges the actuals it scored (see `forecast::store::watch`); what it
//! finds is written into the `anomalies` measurement of the continuous
//! query's database and returned as [`ForecastNotice`]s, which the server
//! publishes as `io.augur.anomaly.detected` events (this crate knows
//! nothing of webhooks).

use std::sync::Arc;

use augur_engine::forecast::anomaly::Anomaly;
use augur_engine::forecast::prep;
use augur_engine::forecast::store::challenge::ChallengeRecord;
use augur_engine::forecast::store::learn::{self, Action, Grid, LearnPolicy, StepRequest};
use augur_engine::forecast::store::{ModelKey, ModelStore, ModelStoreError, DEFAULT_KEEP_VERSIONS};
use augur_engine::model::{FieldValue, Point};
use augur_engine::storage::Store;

use super::forecast::{self, run_on_pool, History};
use super::SelectError;
use crate::ast::{BinaryOp, Dimension, Expr, Field, Fill, Select};
use crate::cq::ContinuousQuery;
use crate::exec::cancel::CancelToken;
use crate::exec::{ExecError, ExecutionContext};

/// Training window of a continuous forecast without `training =>`, in intervals.
pub const DEFAULT_TRAINING_STEPS: i64 = 2016;

/// How continuous forecasts keep their models.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ContinuousForecastSettings {
    /// When to train new versions.
    pub policy: LearnPolicy,
    /// Versions kept per model, for rollback.
    pub keep_versions: usize,
    /// Training window without `training =>`, in `GROUP BY time` intervals.
    pub default_training_steps: i64,
}

impl Default for ContinuousForecastSettings {
    fn default() -> Self {
        ContinuousForecastSettings {
            policy: LearnPolicy::default(),
            keep_versions: DEFAULT_KEEP_VERSIONS,
            default_training_steps: DEFAULT_TRAINING_STEPS,
        }
    }
}

/// The measurement anomalies are written to.
pub const ANOMALIES_MEASUREMENT: &str = "anomalies";

/// Something a continuous forecast run reports to the server.
#[derive(Debug, Clone, PartialEq)]
pub enum ForecastNotice {
    /// An anomaly among the actuals a run scored.
    Anomaly(AnomalyNotice),
    /// A retrained version replaced a series group's active model.
    ModelSwapped(SwapNotice),
}

/// A champion/challenger contest the challenger won.
#[derive(Debug, Clone, PartialEq)]
pub struct SwapNotice {
    /// The continuous query.
    pub cq: String,
    /// The model's key (database, series group, model name).
    pub key: ModelKey,
    /// The new active version.
    pub version: u32,
    /// Why the challenger was trained (`drift` or `schedule`).
    pub reason: String,
    /// The contest.
    pub contest: ChallengeRecord,
}

/// An anomaly in one series of a continuous forecast.
#[derive(Debug, Clone, PartialEq)]
pub struct AnomalyNotice {
    /// The database of the series (where `anomalies` is written).
    pub database: String,
    /// The continuous query.
    pub cq: String,
    /// The source measurement.
    pub measurement: String,
    /// The source field.
    pub field: String,
    /// The series group's tags.
    pub tags: Vec<(String, String)>,
    /// What was found.
    pub anomaly: Anomaly,
}

impl AnomalyNotice {
    /// The `anomalies` point of this notice (schema in docs/operations.md).
    pub fn point(&self) -> Point {
        let a = &self.anomaly;
        let mut tags = vec![
            ("measurement".to_string(), self.measurement.clone()),
            ("field".to_string(), self.field.clone()),
            ("kind".to_string(), a.kind.as_str().to_string()),
        ];
        tags.extend(self.tags.iter().filter(|(k, _)| !matches!(k.as_str(), "measurement" | "field" | "kind")).cloned());
        let mut fields: Vec<(String, FieldValue)> =
            [("value", a.value), ("expected", a.expected), ("lower", a.lower), ("upper", a.upper), ("score", a.score)]
                .into_iter()
                .filter(|(_, v)| v.is_finite())
                .map(|(k, v)| (k.to_string(), FieldValue::Float(v)))
                .collect();
        fields.push(("steps".to_string(), FieldValue::Integer(i64::try_from(a.steps).unwrap_or(i64::MAX))));
        Point { measurement: ANOMALIES_MEASUREMENT.to_string(), tags, fields, timestamp: Some(a.time_ns) }
    }
}

/// What one continuous forecast run did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ForecastRun {
    /// Points written into the target.
    pub written: usize,
    /// Series groups whose model was trained (a new version).
    pub trained: usize,
    /// Series groups whose stored model was rolled forward.
    pub updated: usize,
    /// Series groups that could not be forecast (too short, ...).
    pub failed: usize,
    /// Per series group that trained a new version: how long its step took
    /// (fit, backtest, contest, forecast), seconds.
    pub training_seconds: Vec<f64>,
    /// What the server should publish (anomalies found).
    pub notices: Vec<ForecastNotice>,
}

/// Whether a select is a `forecast()` (a continuous forecast when it is a
/// continuous query's).
pub fn is_forecast(select: &Select) -> bool {
    matches!(forecast::spec(&select.fields), Ok(Some(spec)) if spec.is_forecast())
}

/// The field a forecast reads: the first variable of its inner
/// expression (`v` of `mean(v)`), else `value`.
fn source_field(expr: &Expr) -> String {
    fn first(expr: &Expr) -> Option<&str> {
        match expr {
            Expr::VarRef { name, .. } => Some(name),
            Expr::Call { args, .. } => args.iter().find_map(first),
            Expr::Binary { lhs, rhs, .. } => first(lhs).or_else(|| first(rhs)),
            Expr::Paren(inner) => first(inner),
            _ => None,
        }
    }
    first(expr).unwrap_or("value").to_string()
}

/// The registry group of a result series: `<cq>/<measurement>,k=v,...`.
fn group_key(cq: &str, history: &History) -> String {
    let mut key = format!("{cq}/{}", history.name.as_deref().unwrap_or_default());
    for (k, v) in history.tags.iter().flatten() {
        key.push_str(&format!(",{k}={v}"));
    }
    key
}

/// Runs the continuous forecast `cq` for the run that ends at `end`
/// (`start` is the scheduler's range; only `end` matters here, see the
/// module docs) and writes the forecasts.
pub fn run_window(
    store: &Store,
    cq: &ContinuousQuery,
    end: i64,
    now_ns: i64,
    settings: &ContinuousForecastSettings,
    cancel: &CancelToken,
) -> Result<ForecastRun, ExecError> {
    let select = &*cq.statement.select;
    let spec = forecast::spec(&select.fields)?
        .filter(|s| s.is_forecast())
        .ok_or_else(|| SelectError::Unsupported("not a continuous forecast".into()))?;
    let interval = select
        .dimensions
        .iter()
        .find_map(|d| match d {
            Dimension::Time { interval, .. } if *interval > 0 => Some(*interval),
            _ => None,
        })
        .filter(|i| *i > 0)
        .ok_or_else(|| SelectError::Unsupported("forecast() requires a GROUP BY time interval".into()))?;
    let horizon = spec.steps(interval)?;
    spec.model()?;
    let training = spec.training().unwrap_or(settings.default_training_steps.max(2).saturating_mul(interval));
    let steps = training / interval + i64::from(training % interval != 0);
    let from = end.saturating_sub(steps.saturating_mul(interval));

    let mut inner = select.clone();
    inner.into = None;
    inner.fields = vec![Field { expr: spec.inner().clone(), alias: Some("value".to_string()) }];
    inner.fill = Fill::Null;
    inner.descending = false;
    (inner.limit, inner.offset, inner.slimit, inner.soffset) = (0, 0, 0, 0);
    let time = || Expr::VarRef { name: "time".into(), kind: None };
    let range = Expr::binary(
        BinaryOp::And,
        Expr::binary(BinaryOp::Gte, time(), Expr::Integer(from)),
        Expr::binary(BinaryOp::Lt, time(), Expr::Integer(end)),
    );
    inner.condition = Some(match inner.condition.take().and_then(crate::cq::without_time) {
        Some(rest) => Expr::binary(BinaryOp::And, Expr::Paren(Box::new(rest)), range),
        None => range,
    });
    let ctx = ExecutionContext {
        database: Some(cq.database().to_string()),
        now: Some(now_ns),
        epoch: Some(1),
        cancel: cancel.clone(),
        ..ExecutionContext::default()
    };
    let histories: Vec<History> = super::run(store, &inner, &ctx)?.iter().map(forecast::history).collect();

    let target =
        select.into.as_ref().ok_or_else(|| SelectError::Unsupported("continuous forecast without INTO".into()))?;
    let database = ctx.database(&target.database)?.to_string();
    let rp = target.retention_policy.clone();
    let columns = spec.value_columns();
    let models = ModelStore::new(store.clone(), settings.keep_versions);
    let levels = Arc::new([spec.level()]);
    let mut run = ForecastRun::default();
    let mut first_error = None;
    let mut points = Vec::new();
    let mut anomaly_points = Vec::new();
    for history in histories {
        let Some(grid) = grid(&history, interval) else { continue };
        let key = ModelKey {
            database: cq.database().to_string(),
            group: group_key(cq.name(), &history),
            model: spec.model_name().to_string(),
        };
        let (models, policy, levels, seasons) =
            (models.clone(), settings.policy, Arc::clone(&levels), spec.fit_seasons(interval));
        let job_key = key.clone();
        let job = move || {
            let req = StepRequest { key: &job_key, seasons, horizon, levels: &levels[..], grid, now_ns };
            let started = std::time::Instant::now();
            learn::step(&models, &policy, &req).map(|outcome| (outcome, started.elapsed().as_secs_f64()))
        };
        let outcome = match run_on_pool(job, cancel)? {
            Ok((outcome, seconds)) => {
                if matches!(outcome.action, Action::Trained(_)) {
                    run.training_seconds.push(seconds);
                }
                outcome
            }
            Err(err) => {
                tracing::warn!(model = %key, error = %err, "continuous forecast failed for a series group");
                run.failed += 1;
                first_error.get_or_insert(err);
                continue;
            }
        };
        if let (Some(contest), Action::Trained(reason)) = (outcome.challenge.filter(|c| c.swapped), &outcome.action) {
            run.notices.push(ForecastNotice::ModelSwapped(SwapNotice {
                cq: cq.name().to_string(),
                key: key.clone(),
                version: outcome.head.active,
                reason: reason.clone(),
                contest,
            }));
        }
        match outcome.action {
            Action::Trained(_) => run.trained += 1,
            Action::Updated(_) => run.updated += 1,
        }
        let measurement = match &target.measurement {
            Some(m) => m.clone(),
            None => history.name.clone().unwrap_or_default(),
        };
        let tags: Vec<(String, String)> =
            history.tags.iter().flatten().filter(|(_, v)| !v.is_empty()).map(|(k, v)| (k.clone(), v.clone())).collect();
        for anomaly in &outcome.anomalies {
            let notice = AnomalyNotice {
                database: cq.database().to_string(),
                cq: cq.name().to_string(),
                measurement: history.name.clone().unwrap_or_default(),
                field: source_field(spec.inner()),
                tags: tags.clone(),
                anomaly: *anomaly,
            };
            anomaly_points.push(notice.point());
            run.notices.push(ForecastNotice::Anomaly(notice));
        }
        let band = outcome.prediction.bands.first();
        for (k, mean) in outcome.prediction.mean.iter().enumerate() {
            let cells =
                [Some(*mean), band.and_then(|b| b.lower.get(k).copied()), band.and_then(|b| b.upper.get(k).copied())];
            let fields: Vec<(String, FieldValue)> = columns
                .iter()
                .zip(cells)
                .filter_map(|(c, v)| v.filter(|v| v.is_finite()).map(|v| (c.clone(), FieldValue::Float(v))))
                .collect();
            if fields.is_empty() {
                continue;
            }
            let time = outcome.first_ns.saturating_add(interval.saturating_mul(k as i64));
            points.push(Point { measurement: measurement.clone(), tags: tags.clone(), fields, timestamp: Some(time) });
        }
    }
    if !points.is_empty() {
        let outcome = store.write(&database, rp.as_deref(), &points, now_ns)?;
        if let Some(first) = outcome.rejected.first() {
            tracing::warn!(reason = %first.reason, dropped = outcome.rejected.len(), "continuous forecast points rejected");
        }
        run.written = outcome.points_written;
    }
    if !anomaly_points.is_empty() {
        // Into the source database's default retention policy, next to the series.
        match store.write(cq.database(), None, &anomaly_points, now_ns) {
            Ok(outcome) if outcome.rejected.is_empty() => {}
            Ok(outcome) => {
                tracing::warn!(dropped = outcome.rejected.len(), "anomaly points rejected")
            }
            Err(err) => tracing::warn!(error = %err, "cannot write anomaly points"),
        }
    }
    match first_error {
        Some(err) if run.written == 0 && run.trained + run.updated == 0 => Err(model_error(err)),
        _ => Ok(run),
    }
}

fn model_error(err: ModelStoreError) -> ExecError {
    match err {
        ModelStoreError::Storage(e) => ExecError::Storage(e),
        other => ExecError::Select(SelectError::Unsupported(format!("forecast: {other}"))),
    }
}

/// A history's buckets on a regular grid from its first bucket (`None`
/// when it has no value at all).
fn grid(h: &History, interval: i64) -> Option<Grid> {
    let first = *h.times.first()?;
    let last = *h.times.last()?;
    let len = usize::try_from(last.checked_sub(first)? / interval + 1).ok()?;
    let values = prep::on_grid(h.times.iter().copied().zip(h.values.iter().copied()), first, interval, len);
    values.iter().any(|v| v.is_finite()).then_some(Grid { start_ns: first, step_ns: interval, values })
}
