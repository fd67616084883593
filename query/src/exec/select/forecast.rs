//! `forecast()`, `holt_winters()` and `holt_winters_with_fit()`: predicted
//! points after the last `GROUP BY time` bucket of an aggregate.
//!
//! How it runs: the call's first argument (an aggregate such as
//! `mean(v)`) is evaluated by the ordinary aggregating executor as an
//! inner `SELECT` with the same sources, `WHERE` and `GROUP BY`, so every
//! tag group yields a regular grid of bucket values (empty buckets become
//! gaps the models handle). Each group's grid is then fitted by the chosen
//! model of [`augur_engine::forecast`] and its next steps are emitted as
//! rows, one result series per group.
//!
//! Why through the inner select: the history a model learns is exactly what
//! a user sees when running the aggregate alone, and `WHERE time < t`
//! makes an "as of `t`" forecast for backtests and replays.
//!
//! `forecast()` keeps each group's fitted model in the process-wide fit
//! cache ([`cache`]): asked again over a window that only slid forward, it
//! rolls the model forward over the new buckets instead of fitting anew,
//! and the model's bands are recalibrated online on those buckets
//! ([`Calibrated`]). `holt_winters()` always fits, as InfluxDB's does.
//!
//! `forecast()` ignores a last bucket that is still open (its end is after
//! the query's upper bound or `now()`): a partial sum or count would read
//! as a sudden drop. `holt_winters()` keeps InfluxDB's behaviour and uses
//! every bucket.

use std::collections::BTreeMap;

use augur_engine::forecast::cache;
use augur_engine::forecast::calibrate::Calibrated;
use augur_engine::forecast::pool::{self, PoolError};
use augur_engine::forecast::{registry, FitOptions, ForecastError, Forecaster, Prediction};
use augur_engine::storage::Store;
use serde_json::Value as Json;

use super::condition::Condition;
use super::{Env, SelectError};
use crate::ast::{BinaryOp, Dimension, Expr, Field, Fill, Select};
use crate::exec::cancel::{CancelToken, Cancelled};
use crate::exec::{page, ExecError, ExecutionContext};
use crate::result::Series;

/// The band level `forecast()` reports when none is asked for.
pub(crate) const DEFAULT_LEVEL: f64 = 95.0;

/// The model `forecast()` uses when none is asked for.
pub(crate) const DEFAULT_MODEL: &str = "auto";

/// Most steps one forecast may predict: bounds the rows of one answer.
pub(crate) const MAX_HORIZON: usize = 100_000;

/// Which function asked for the prediction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// `forecast(agg, horizon, ...)`: mean and one band.
    Forecast,
    /// `holt_winters(agg, N, S)`: N predicted points (InfluxDB 1.x).
    HoltWinters,
    /// `holt_winters_with_fit(agg, N, S)`: the fitted history, then N points.
    HoltWintersWithFit,
}

/// How far ahead to predict.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Horizon {
    /// A number of buckets.
    Steps(i64),
    /// A duration, rounded up to whole buckets.
    Duration(i64),
}

/// A parsed prediction call.
#[derive(Debug, Clone)]
pub(crate) struct Spec {
    /// The function.
    pub kind: Kind,
    /// The aggregate whose buckets are the history.
    inner: Expr,
    /// How far ahead.
    horizon: Horizon,
    /// Model name (`auto`, `ets`, ...).
    model: String,
    /// Band level, percent.
    level: f64,
    /// Seasonal period: `Some(0)` = none, as a duration in ns when from `season =>`.
    season: Option<Season>,
    /// Training window in ns (`training => 14d`).
    training: Option<i64>,
    /// The column name of the predicted values.
    column: String,
}

/// A seasonal period as given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Season {
    /// In buckets (`holt_winters`' third argument).
    Steps(i64),
    /// As a duration (`season => 1d`).
    Duration(i64),
}

/// Finds a prediction call in the select list; it must be the only field.
pub(crate) fn spec(fields: &[Field]) -> Result<Option<Spec>, SelectError> {
    let found = fields.iter().find_map(|f| match &f.expr {
        Expr::Call { name, args, named } => {
            let kind = match name.as_str() {
                "forecast" => Kind::Forecast,
                "holt_winters" => Kind::HoltWinters,
                "holt_winters_with_fit" => Kind::HoltWintersWithFit,
                _ => return None,
            };
            Some((kind, name, args, named, f))
        }
        _ => None,
    });
    let Some((kind, name, args, named, field)) = found else {
        if fields.iter().any(|f| mentions_prediction(&f.expr)) {
            return Err(SelectError::Unsupported(
                "forecast() and holt_winters() must be the whole field, not part of an expression".into(),
            ));
        }
        return Ok(None);
    };
    if fields.len() != 1 {
        return Err(SelectError::Unsupported(format!("{name}() cannot be combined with other fields")));
    }
    let expected = if kind == Kind::Forecast { 2 } else { 3 };
    if args.len() != expected {
        return Err(SelectError::Arity { name: name.clone(), expected, got: args.len() });
    }
    let inner = args[0].clone();
    if !matches!(inner, Expr::Call { .. }) {
        return Err(SelectError::Unsupported(format!("must use aggregate function with {name}")));
    }
    let horizon = match (&args[1], kind) {
        (Expr::Integer(n), _) if *n > 0 => Horizon::Steps(*n),
        (Expr::Duration(d), Kind::Forecast) if *d > 0 => Horizon::Duration(*d),
        _ => {
            let what = if kind == Kind::Forecast { "positive integer or duration" } else { "positive integer" };
            return Err(SelectError::Argument { name: name.clone(), what });
        }
    };
    let mut spec = Spec {
        kind,
        inner,
        horizon,
        model: if kind == Kind::Forecast { DEFAULT_MODEL.to_string() } else { "ets".to_string() },
        level: DEFAULT_LEVEL,
        season: None,
        training: None,
        column: field.alias.clone().unwrap_or_else(|| name.clone()),
    };
    if kind != Kind::Forecast {
        match &args[2] {
            Expr::Integer(n) if *n >= 0 => spec.season = Some(Season::Steps(*n)),
            _ => return Err(SelectError::Argument { name: name.clone(), what: "non-negative integer" }),
        }
        if !named.is_empty() {
            return Err(SelectError::Unsupported(format!("{name}() takes no named arguments")));
        }
    }
    for (key, value) in named {
        apply_named(&mut spec, key, value)?;
    }
    Ok(Some(spec))
}

/// Applies one `name => value` argument of `forecast()`.
fn apply_named(spec: &mut Spec, key: &str, value: &Expr) -> Result<(), SelectError> {
    let bad = |what: &'static str| SelectError::Argument { name: format!("forecast {key} =>"), what };
    match key {
        "model" => match value {
            Expr::String(s) => spec.model = s.to_ascii_lowercase(),
            _ => return Err(bad("string")),
        },
        "level" => {
            let level = match value {
                Expr::Integer(n) => *n as f64,
                Expr::Number(n) => *n,
                _ => return Err(bad("number")),
            };
            if !(level > 0.0 && level < 100.0) {
                return Err(SelectError::Unsupported(format!("forecast level must be between 0 and 100, got {level}")));
            }
            spec.level = level;
        }
        "season" => match value {
            Expr::Duration(d) if *d >= 0 => spec.season = Some(Season::Duration(*d)),
            Expr::Integer(n) if *n >= 0 => spec.season = Some(Season::Steps(*n)),
            _ => return Err(bad("duration or number of buckets")),
        },
        "training" => match value {
            Expr::Duration(d) if *d > 0 => spec.training = Some(*d),
            _ => return Err(bad("duration")),
        },
        other => return Err(SelectError::Unsupported(format!("unknown forecast argument {other}"))),
    }
    Ok(())
}

/// Whether an expression calls a prediction function anywhere.
fn mentions_prediction(expr: &Expr) -> bool {
    match expr {
        Expr::Call { name, args, .. } => {
            matches!(name.as_str(), "forecast" | "holt_winters" | "holt_winters_with_fit")
                || args.iter().any(mentions_prediction)
        }
        Expr::Binary { lhs, rhs, .. } => mentions_prediction(lhs) || mentions_prediction(rhs),
        Expr::Paren(inner) => mentions_prediction(inner),
        _ => false,
    }
}

/// One output row: its time and its cells after `time`.
type OutputRow = (i64, Vec<f64>);

/// One tag group's history: bucket starts and values (`NaN` = empty).
pub(crate) struct History {
    pub(crate) name: Option<String>,
    pub(crate) tags: Option<BTreeMap<String, String>>,
    pub(crate) times: Vec<i64>,
    pub(crate) values: Vec<f64>,
}

/// Runs a select whose only field is a prediction call.
pub(crate) fn run(
    store: &Store,
    select: &Select,
    ctx: &ExecutionContext,
    spec: &Spec,
) -> Result<Vec<Series>, ExecError> {
    run_keeping_history(store, select, ctx, spec, false).map(|(forecasts, _)| forecasts)
}

/// [`run`], also handing back the history when `keep_history`: the inner
/// aggregate's series as read (per group, `time` in ns and `value`, the
/// bucket still open included), so a caller that needs both reads once.
pub(crate) fn run_keeping_history(
    store: &Store,
    select: &Select,
    ctx: &ExecutionContext,
    spec: &Spec,
    keep_history: bool,
) -> Result<(Vec<Series>, Vec<Series>), ExecError> {
    let interval = select
        .dimensions
        .iter()
        .find_map(|d| match d {
            Dimension::Time { interval, .. } if *interval > 0 => Some(*interval),
            _ => None,
        })
        .ok_or_else(|| SelectError::Unsupported(format!("{}() requires a GROUP BY time interval", spec_name(spec))))?;
    let now = ctx.now();
    let cond = Condition::new(select.condition.as_ref(), now)?;
    // The last instant the history may cover (inclusive).
    let end = if cond.bounded.1 { cond.range.end } else { now };

    let mut inner = select.clone();
    inner.fields = vec![Field { expr: spec.inner.clone(), alias: Some("value".to_string()) }];
    inner.fill = Fill::Null;
    inner.descending = false;
    (inner.limit, inner.offset, inner.slimit, inner.soffset) = (0, 0, 0, 0);
    let cache_key = cache_key(store, &inner, cond.residual.as_ref(), ctx, spec, interval);
    if let Some(training) = spec.training {
        let from = end.saturating_sub(training);
        let bound = Expr::binary(BinaryOp::Gte, Expr::VarRef { name: "time".into(), kind: None }, Expr::Integer(from));
        inner.condition = Some(match inner.condition.take() {
            Some(c) => Expr::binary(BinaryOp::And, Expr::Paren(Box::new(c)), bound),
            None => bound,
        });
    }
    let inner_ctx = ExecutionContext { epoch: Some(1), now: Some(now), ..ctx.clone() };
    let read = super::run(store, &inner, &inner_ctx)?;
    let histories = read.iter().map(history).collect::<Vec<_>>();
    let kept = if keep_history { read } else { Vec::new() };

    let env = Env {
        store,
        select,
        cond,
        now,
        epoch: ctx.epoch,
        max_buckets: ctx.max_select_buckets,
        mem: None,
        tz: match &select.timezone {
            Some(name) => Some(jiff::tz::TimeZone::get(name).map_err(|_| SelectError::TimeZone(name.clone()))?),
            None => None,
        },
        cancel: ctx.cancel.clone(),
    };
    let mut out = Vec::new();
    for mut h in histories {
        if spec.kind == Kind::Forecast {
            // Drop a last bucket that has not closed yet.
            while h.times.last().is_some_and(|t| t.saturating_add(interval).saturating_sub(1) > end) {
                h.times.pop();
                h.values.pop();
            }
        }
        trim_gaps(&mut h);
        if h.values.is_empty() {
            continue;
        }
        let key = format!("{cache_key}\u{0}{:?}\u{0}{:?}", h.name, h.tags);
        let rows = match predict(spec, &h, interval, &key, &ctx.cancel)? {
            Some(rows) => rows,
            None => continue,
        };
        let mut values: Vec<Vec<Json>> = rows
            .into_iter()
            .map(|(t, cells)| {
                let mut row = vec![env.time_json(t)];
                row.extend(cells.into_iter().map(float_json));
                row
            })
            .collect();
        if select.descending {
            values.reverse();
        }
        let values: Vec<Vec<Json>> = page(values.into_iter(), select.limit, select.offset).collect();
        if values.is_empty() {
            continue;
        }
        out.push(Series { name: h.name, tags: h.tags, columns: columns(spec), values });
    }
    let skip = usize::try_from(select.soffset).unwrap_or(usize::MAX);
    let take = if select.slimit == 0 { usize::MAX } else { usize::try_from(select.slimit).unwrap_or(usize::MAX) };
    let mut out: Vec<_> = out.into_iter().skip(skip).take(take).collect();
    if select.descending {
        out.reverse();
    }
    Ok((out, kept))
}

/// The function's name, for messages.
fn spec_name(spec: &Spec) -> &'static str {
    match spec.kind {
        Kind::Forecast => "forecast",
        Kind::HoltWinters => "holt_winters",
        Kind::HoltWintersWithFit => "holt_winters_with_fit",
    }
}

/// The result columns.
fn columns(spec: &Spec) -> Vec<String> {
    let mut columns = vec!["time".to_string(), spec.column.clone()];
    if spec.kind == Kind::Forecast {
        let level = format_level(spec.level);
        columns.push(format!("lower_{level}"));
        columns.push(format!("upper_{level}"));
    }
    columns
}

/// `95` for 95.0, `97.5` for 97.5.
fn format_level(level: f64) -> String {
    if level.fract() == 0.0 {
        format!("{}", level as i64)
    } else {
        format!("{level}")
    }
}

/// A float cell: `null` for a value that is not finite.
fn float_json(v: f64) -> Json {
    serde_json::Number::from_f64(v).map_or(Json::Null, Json::Number)
}

/// Reads the inner select's series (epoch ns times, one value column).
pub(crate) fn history(series: &Series) -> History {
    let mut times = Vec::with_capacity(series.values.len());
    let mut values = Vec::with_capacity(series.values.len());
    for row in &series.values {
        let Some(t) = row.first().and_then(Json::as_i64) else { continue };
        times.push(t);
        values.push(row.get(1).and_then(Json::as_f64).unwrap_or(f64::NAN));
    }
    History { name: series.name.clone(), tags: series.tags.clone(), times, values }
}

/// Drops empty buckets before the first and after the last value.
fn trim_gaps(h: &mut History) {
    let Some(first) = h.values.iter().position(|v| v.is_finite()) else {
        h.times.clear();
        h.values.clear();
        return;
    };
    let last = h.values.iter().rposition(|v| v.is_finite()).unwrap_or(first);
    h.times.truncate(last + 1);
    h.values.truncate(last + 1);
    h.times.drain(..first);
    h.values.drain(..first);
}

/// What identifies one group's model in the fit cache ([`cache`]), less the
/// group itself: the store, the database and policy the statement reads by
/// default, the history's query without its time bounds (they slide from
/// call to call; the cache checks the histories themselves), the model,
/// the seasons, the grid step and the training window.
fn cache_key(
    store: &Store,
    inner: &Select,
    residual: Option<&Expr>,
    ctx: &ExecutionContext,
    spec: &Spec,
    interval: i64,
) -> String {
    let mut untimed = inner.clone();
    untimed.condition = residual.cloned();
    format!(
        "{}\u{0}{:?}\u{0}{:?}\u{0}{untimed}\u{0}{}\u{0}{:?}\u{0}{interval}\u{0}{:?}",
        store.instance_id(),
        ctx.database,
        ctx.retention_policy,
        spec.model,
        spec.fit_seasons(interval),
        spec.training,
    )
}

/// Fits the model on one history (or, for `forecast()`, rolls forward the
/// model the [fit cache](cache) holds under `key`) and builds the output
/// rows: `(time, cells)`. `None` when the history is too short for
/// InfluxDB's `holt_winters` (it answers nothing then). The fit and the
/// forecast run on the bounded forecast worker pool ([`pool::global`]),
/// never on the caller's thread, and stop waiting when the query is
/// cancelled.
fn predict(
    spec: &Spec,
    h: &History,
    interval: i64,
    key: &str,
    cancel: &CancelToken,
) -> Result<Option<Vec<OutputRow>>, ExecError> {
    let steps = spec.steps(interval)?;
    let season_steps = spec.season_steps(interval);
    if spec.kind != Kind::Forecast {
        // InfluxDB answers nothing for fewer than two points or fewer points than a season.
        let points = h.values.iter().filter(|v| v.is_finite()).count();
        if points < 2 || season_steps.unwrap_or(0) > h.values.len() {
            return Ok(None);
        }
    }
    let mut model = spec.model()?;
    let start = h.times.first().map_or(0, |t| t.div_euclid(interval));
    let options = FitOptions {
        seasons: spec.fit_seasons(interval),
        origin_index: Some(start),
        step_ns: Some(interval),
        ..Default::default()
    };
    let levels = [spec.level];
    let values = h.values.clone();
    let with_fit = spec.kind == Kind::HoltWintersWithFit;
    let cached = spec.kind == Kind::Forecast;
    let key = key.to_string();
    let job = move || -> Result<(Prediction, Option<Vec<f64>>), ForecastError> {
        if cached {
            let calibrated = || -> Box<dyn Forecaster> { Box::new(Calibrated::new(model)) };
            let (prediction, _) =
                cache::global().forecast(&key, start, values, calibrated, &options, steps, &levels)?;
            return Ok((prediction, None));
        }
        model.fit(&values, &options)?;
        let prediction = model.predict(steps, &levels)?;
        Ok((prediction, if with_fit { model.fitted() } else { None }))
    };
    let (prediction, fitted) =
        run_on_pool(job, cancel)?.map_err(|e| SelectError::Unsupported(format!("{}: {e}", spec_name(spec))))?;
    let last = h.times.last().copied().unwrap_or(0);
    let at = |k: usize| last.saturating_add(interval.saturating_mul(i64::try_from(k).unwrap_or(i64::MAX)));
    let mut rows = Vec::with_capacity(steps + h.values.len());
    if with_fit {
        let fitted = fitted.unwrap_or_else(|| h.values.clone());
        for (t, v) in h.times.iter().zip(fitted) {
            rows.push((*t, vec![zero_if_not_finite(v)]));
        }
    }
    for (k, mean) in prediction.mean.iter().enumerate() {
        let time = at(k + 1);
        match spec.kind {
            Kind::Forecast => {
                let band = prediction.bands.first();
                let lower = band.and_then(|b| b.lower.get(k)).copied().unwrap_or(f64::NAN);
                let upper = band.and_then(|b| b.upper.get(k)).copied().unwrap_or(f64::NAN);
                rows.push((time, vec![*mean, lower, upper]));
            }
            // InfluxDB writes 0 for a prediction that is not finite.
            Kind::HoltWinters | Kind::HoltWintersWithFit => rows.push((time, vec![zero_if_not_finite(*mean)])),
        }
    }
    Ok(Some(rows))
}

/// Runs `job` on the forecast worker pool, giving up when `cancel` fires.
pub(crate) fn run_on_pool<T: Send + 'static>(
    job: impl FnOnce() -> T + Send + 'static,
    cancel: &CancelToken,
) -> Result<T, ExecError> {
    pool::global().run(job, &|| cancel.check().is_err()).map_err(|e| match e {
        PoolError::Cancelled => ExecError::Cancelled(cancel.check().err().unwrap_or(Cancelled::Interrupted)),
        PoolError::Failed => ExecError::Select(SelectError::Unsupported("forecast: the model failed".into())),
    })
}

impl Spec {
    /// Whether this is `forecast()` (not a `holt_winters` call).
    pub(crate) fn is_forecast(&self) -> bool {
        self.kind == Kind::Forecast
    }

    /// The model name asked for.
    pub(crate) fn model_name(&self) -> &str {
        &self.model
    }

    /// The band level asked for.
    pub(crate) fn level(&self) -> f64 {
        self.level
    }

    /// The aggregate whose buckets are the history.
    pub(crate) fn inner(&self) -> &Expr {
        &self.inner
    }

    /// The training window asked for (`training =>`), ns.
    pub(crate) fn training(&self) -> Option<i64> {
        self.training
    }

    /// The output columns after `time`.
    pub(crate) fn value_columns(&self) -> Vec<String> {
        columns(self).into_iter().skip(1).collect()
    }

    /// A fresh model of the asked kind, or a clear error naming the known ones.
    pub(crate) fn model(&self) -> Result<Box<dyn Forecaster>, SelectError> {
        registry::by_name(&self.model).ok_or_else(|| {
            SelectError::Unsupported(format!(
                "unknown forecast model '{}' (expected one of: {})",
                self.model,
                registry::NAMES.join(", ")
            ))
        })
    }

    /// The horizon in buckets of `interval`.
    pub(crate) fn steps(&self, interval: i64) -> Result<usize, SelectError> {
        let steps = match self.horizon {
            Horizon::Steps(n) => n,
            Horizon::Duration(d) => d / interval + i64::from(d % interval != 0),
        };
        let steps = usize::try_from(steps).unwrap_or(usize::MAX);
        if steps > MAX_HORIZON {
            return Err(SelectError::Unsupported(format!("forecast horizon of {steps} steps exceeds {MAX_HORIZON}")));
        }
        Ok(steps)
    }

    /// The seasonal period in buckets, if one was given.
    fn season_steps(&self, interval: i64) -> Option<usize> {
        match self.season {
            None => None,
            Some(Season::Steps(n)) => Some(usize::try_from(n).unwrap_or(0)),
            Some(Season::Duration(d)) => Some(usize::try_from(d / interval).unwrap_or(0)),
        }
    }

    /// The seasons to give the model: a period below 2 means "not
    /// seasonal" and is passed on as given so the model does not detect
    /// one on its own; none given = detect.
    pub(crate) fn fit_seasons(&self, interval: i64) -> Vec<usize> {
        self.season_steps(interval).map(|m| vec![m.max(1)]).unwrap_or_default()
    }
}

/// InfluxDB's `holt_winters` replaces NaN and infinities by 0.
fn zero_if_not_finite(v: f64) -> f64 {
    if v.is_finite() {
        v
    } else {
        0.0
    }
}
