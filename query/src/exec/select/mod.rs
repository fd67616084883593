//! `SELECT`: resolves the sources, splits `WHERE`, groups series by the
//! `GROUP BY` tags, and hands each measurement to the raw or the
//! aggregating executor.
//!
//! Why this shape: InfluxDB answers one result series per measurement and
//! tag group, so the unit of work is "the series of one measurement in one
//! group"; both executors read those series in bounded batches
//! ([`BATCH`]) and count every point read against the query's point
//! budget, so a query that would read too much fails with a clear error
//! instead of exhausting memory.

mod aggregate;
mod cast;
mod condition;
pub mod continuous;
mod decode_ahead;
mod forecast;
mod grouped;
mod math;
mod raw;
mod raw_transform;
#[cfg(test)]
mod read_tests;
mod subquery;
mod top;
mod transform;
mod typed_fold;
mod window;

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use augur_engine::model::FieldType;
use augur_engine::storage::{MeasurementFilter, SeriesData, SeriesInfo, StorageError, Store, TimeRange};
use regex::Regex;
use serde_json::Value as Json;

pub(crate) use condition::{tag_filter, Condition};

use super::value::{column_values, Value};
use super::{page, ExecError, ExecutionContext};
use crate::ast::{Dimension, Expr, RefKind, Select, Source};
use crate::time::format_rfc3339_nano;

/// Series read from the store per call: bounds the memory of one read.
pub(crate) const BATCH: usize = 256;

/// Why a `SELECT` failed (the text is what the client reads).
#[derive(Debug, thiserror::Error)]
pub enum SelectError {
    /// A `time` comparison InfluxDB cannot turn into a range (under `OR`, `!=`, ...).
    #[error("invalid time condition: time comparisons must be joined by AND")]
    InvalidTimeCondition,
    /// A time literal that is not RFC 3339.
    #[error("invalid timestamp string: {0}")]
    InvalidTime(String),
    /// A regex that does not compile.
    #[error("invalid regex: {0}")]
    BadRegex(String),
    /// Functions and bare fields in one select list.
    #[error("mixing aggregate and non-aggregate queries is not supported")]
    Mixing,
    /// `GROUP BY time(...)` over raw fields.
    #[error("GROUP BY requires at least one aggregate function")]
    GroupByWithoutAggregate,
    /// Two `time(...)` dimensions.
    #[error("multiple time dimensions not allowed")]
    MultipleTimeDimensions,
    /// A function InfluxQL does not have.
    #[error("undefined function {0}()")]
    UndefinedFunction(String),
    /// A function InfluxQL has but Augur does not run yet.
    #[error("function {0}() is not supported yet")]
    UnsupportedFunction(String),
    /// Wrong number of arguments.
    #[error("invalid number of arguments for {name}, expected {expected}, got {got}")]
    Arity {
        /// Function.
        name: String,
        /// Expected count.
        expected: usize,
        /// Given count.
        got: usize,
    },
    /// Wrong number of arguments, for functions with optional ones.
    #[error("invalid number of arguments for {name}, expected at least {min} but no more than {max}, got {got}")]
    ArityRange {
        /// Function.
        name: String,
        /// Fewest arguments.
        min: usize,
        /// Most arguments.
        max: usize,
        /// Given count.
        got: usize,
    },
    /// Any other invalid use of a function, in InfluxDB's words.
    #[error("{0}")]
    Message(String),
    /// A function argument that must be a field (or a number) is not.
    #[error("expected {what} argument in {name}()")]
    Argument {
        /// Function.
        name: String,
        /// What was expected.
        what: &'static str,
    },
    /// A numeric function over a string or boolean field.
    #[error("unsupported {func} iterator type: {field_type}")]
    FieldType {
        /// Function.
        func: String,
        /// The field's type.
        field_type: String,
    },
    /// `distinct()` next to other fields.
    #[error("aggregate function distinct() cannot be combined with other functions or fields")]
    DistinctCombined,
    /// The point budget of the query is spent.
    #[error("max-select-point limit exceeed: ({0}/{1})")]
    TooManyPoints(u64, u64),
    /// Too many `GROUP BY time` buckets.
    #[error("max-select-buckets limit exceeded: ({0}/{1})")]
    TooManyBuckets(u64, u64),
    /// A `tz()` that names no known time zone.
    #[error("unable to find time zone {0}")]
    TimeZone(String),
    /// Any other construct not executed yet.
    #[error("not supported yet: {0}")]
    Unsupported(String),
}

/// Counts points read against the query's limit (0 = unlimited).
#[derive(Debug)]
pub(crate) struct Budget {
    /// Points read so far (shared by the threads of one `SELECT`).
    used: std::sync::atomic::AtomicU64,
    max: u64,
}

impl Budget {
    /// A budget of `max` points (0 = unlimited).
    pub(crate) fn new(max: u64) -> Budget {
        Budget { used: std::sync::atomic::AtomicU64::new(0), max }
    }

    /// Accounts for `n` more points.
    pub(crate) fn take(&self, n: usize) -> Result<(), SelectError> {
        let n = n as u64;
        let used = self.used.fetch_add(n, std::sync::atomic::Ordering::Relaxed).saturating_add(n);
        if self.max > 0 && used > self.max {
            return Err(SelectError::TooManyPoints(used, self.max));
        }
        Ok(())
    }
}

/// One measurement of one database/policy, with its field types.
#[derive(Debug)]
pub(crate) struct Target {
    /// Database.
    pub db: String,
    /// Retention policy (`None` = the default).
    pub rp: Option<String>,
    /// Measurement.
    pub measurement: String,
    /// Field keys and their types.
    pub fields: BTreeMap<String, FieldType>,
}

impl Target {
    /// Whether a reference names a tag (rather than a field) here.
    pub(crate) fn is_tag(&self, name: &str, kind: Option<RefKind>) -> bool {
        match kind {
            Some(RefKind::Tag) => true,
            Some(_) => false,
            None => !self.fields.contains_key(name),
        }
    }
}

/// The series of one result group, with its tag values.
#[derive(Debug)]
pub(crate) struct Group {
    /// `GROUP BY` tag keys with their values (missing tags as `""`).
    pub tags: Vec<(String, String)>,
    /// Its series, in key order.
    pub series: Vec<SeriesInfo>,
}

/// What both executors need to know about the request.
pub(crate) struct Env<'a> {
    /// The store.
    pub store: &'a Store,
    /// The statement.
    pub select: &'a Select,
    /// `WHERE`, taken apart.
    pub cond: Condition,
    /// `now()`, ns.
    pub now: i64,
    /// `epoch=` divisor, ns per unit.
    pub epoch: Option<i64>,
    /// Bucket limit (0 = unlimited).
    pub max_buckets: u64,
    /// The rows of the `FROM (SELECT ...)` subqueries, read instead of the store.
    pub mem: Option<&'a subquery::MemSource>,
    /// `tz('...')`: bucket boundaries and printed times are in this zone.
    pub tz: Option<jiff::tz::TimeZone>,
    /// Checked between batches of series: client gone or timeout.
    pub cancel: super::cancel::CancelToken,
}

impl Env<'_> {
    /// The JSON of a time value: RFC 3339 or an integer epoch.
    pub(crate) fn time_json(&self, t: i64) -> Json {
        match self.epoch {
            Some(div) if div > 0 => Json::from(t / div),
            _ => Json::String(match &self.tz {
                Some(tz) => window::format_in_zone(t, tz),
                None => format_rfc3339_nano(t),
            }),
        }
    }
}

/// A `forecast()` answer and the history it learned from, read once
/// ([`forecast_with_history`]).
#[derive(Debug, Clone, PartialEq)]
pub struct ForecastAnswer {
    /// The statement's result series, as `/query` would answer them.
    pub forecast: Vec<crate::result::Series>,
    /// Per tag group, the buckets of the aggregate inside `forecast()`:
    /// columns `time` (always ns since the epoch) and `value` (`null` for
    /// an empty bucket), the bucket that is still open included.
    pub history: Vec<crate::result::Series>,
}

/// Runs a `SELECT forecast(…)` and also returns the history its models
/// learned from. Why: a caller that needs both the latest actual value and
/// the forecast (the pool manager's demand reading) would otherwise run the
/// same aggregate twice. Fails for a statement that is not a `forecast()`.
pub fn forecast_with_history(
    store: &Store,
    select: &Select,
    ctx: &ExecutionContext,
) -> Result<ForecastAnswer, ExecError> {
    let spec = forecast::spec(&select.fields)?
        .filter(forecast::Spec::is_forecast)
        .ok_or_else(|| SelectError::Unsupported("expected a SELECT of forecast(...)".into()))?;
    let (forecast, history) = forecast::run_keeping_history(store, select, ctx, &spec, true)?;
    Ok(ForecastAnswer { forecast, history })
}

/// Runs a `SELECT` and returns its result series.
pub(crate) fn run(
    store: &Store,
    select: &Select,
    ctx: &ExecutionContext,
) -> Result<Vec<crate::result::Series>, ExecError> {
    let tz = match &select.timezone {
        Some(name) => Some(jiff::tz::TimeZone::get(name).map_err(|_| SelectError::TimeZone(name.clone()))?),
        None => None,
    };
    if let Some(spec) = forecast::spec(&select.fields)? {
        return forecast::run(store, select, ctx, &spec);
    }
    check_time_dimensions(&select.dimensions)?;
    let now = ctx.now();
    let cond = Condition::new(select.condition.as_ref(), now)?;
    let mem = subqueries(store, select, ctx, now, &cond)?;
    let env = Env {
        store,
        select,
        cond,
        now,
        epoch: ctx.epoch,
        max_buckets: ctx.max_select_buckets,
        mem: mem.as_ref(),
        tz,
        cancel: ctx.cancel.clone(),
    };
    let targets = match &mem {
        Some(mem) => mem.targets(),
        None => resolve_sources(store, ctx, &select.sources)?,
    };
    let aggregate = select.fields.iter().any(|f| has_aggregate(&f.expr));
    let raw_transform = select.fields.iter().any(|f| has_raw_transform(&f.expr));
    let top = top::spec(&select.fields, select.limit)?;
    if !aggregate && top.is_none() && has_time_interval(&select.dimensions) {
        return Err(SelectError::GroupByWithoutAggregate.into());
    }
    let budget = Budget::new(ctx.max_select_points);
    let mut out = Vec::new();
    let all_groups = targets.iter().map(|t| groups_of(&env, t)).collect::<Result<Vec<_>, _>>()?;
    let raw = top.is_none() && !raw_transform && !aggregate;
    // `*` over several measurements: every series gets the columns of all.
    let wildcard = if raw { raw::Wildcard::of(&targets, &all_groups) } else { raw::Wildcard::default() };
    for (target, groups) in targets.iter().zip(all_groups) {
        // Rows of series the index picked need not pass its tag terms again.
        let indexed;
        let env = match env.mem {
            Some(_) => &env,
            None => {
                indexed = Env {
                    cond: env.cond.after_index(&|n, k| target.is_tag(n, k)),
                    tz: env.tz.clone(),
                    cancel: env.cancel.clone(),
                    ..env
                };
                &indexed
            }
        };
        if let Some(top) = &top {
            out.extend(top::run(env, target, &groups, &budget, top)?);
        } else if raw_transform {
            out.extend(raw_transform::run(env, target, &groups, &budget)?);
        } else if aggregate {
            out.extend(grouped::run(env, target, &groups, &budget)?);
        } else {
            out.extend(raw::run(env, target, &groups, &wildcard, &budget)?);
        }
    }
    let mut out = series_page(out, select.slimit, select.soffset);
    if select.descending {
        // InfluxDB also lists the series in reverse order (after SLIMIT).
        out.reverse();
    }
    Ok(out)
}

/// The series `SLIMIT`/`SOFFSET` keep, in their output order. InfluxDB
/// counts them in the order of its tag set identifiers (the present tag
/// keys, then their values, `\0`-separated), so a series that lacks a
/// `GROUP BY` tag comes before the others there, though it is listed in
/// tag value order like every series.
fn series_page(out: Vec<crate::result::Series>, slimit: u64, soffset: u64) -> Vec<crate::result::Series> {
    if slimit == 0 && soffset == 0 {
        return out;
    }
    let mut order: Vec<usize> = (0..out.len()).collect();
    order.sort_by_cached_key(|&i| (out[i].name.clone(), tags_id(out[i].tags.as_ref())));
    let kept: HashSet<usize> = page(order.into_iter(), slimit, soffset).collect();
    out.into_iter().enumerate().filter(|(i, _)| kept.contains(i)).map(|(_, s)| s).collect()
}

/// InfluxDB's identifier of a tag set: each present key and `\0`, then
/// the values joined by `\0` (a missing tag is an empty value here).
fn tags_id(tags: Option<&BTreeMap<String, String>>) -> Vec<u8> {
    let present: Vec<(&String, &String)> = tags.into_iter().flatten().filter(|(_, v)| !v.is_empty()).collect();
    let mut id = Vec::new();
    for (k, _) in &present {
        id.extend_from_slice(k.as_bytes());
        id.push(0);
    }
    for (i, (_, v)) in present.iter().enumerate() {
        if i > 0 {
            id.push(0);
        }
        id.extend_from_slice(v.as_bytes());
    }
    id
}

/// Refuses a second `GROUP BY time(...)` after one with an interval, as
/// InfluxDB does (`time(0s)` sets none).
fn check_time_dimensions(dims: &[Dimension]) -> Result<(), SelectError> {
    let mut interval = false;
    for d in dims {
        if let Dimension::Time { interval: i, .. } = d {
            if interval {
                return Err(SelectError::MultipleTimeDimensions);
            }
            interval = *i > 0;
        }
    }
    Ok(())
}

/// Whether the dimensions group by time (`time(0s)` does not).
fn has_time_interval(dims: &[Dimension]) -> bool {
    dims.iter().any(|d| matches!(d, Dimension::Time { interval, .. } if *interval > 0))
}

/// Whether an expression calls an aggregate, selector or transformation
/// (math functions are row functions and count only through their
/// arguments).
pub(crate) fn has_aggregate(expr: &Expr) -> bool {
    match expr {
        Expr::Call { name, args, .. } if math::is_math(name) => args.iter().any(has_aggregate),
        Expr::Call { .. } => true,
        Expr::Binary { lhs, rhs, .. } => has_aggregate(lhs) || has_aggregate(rhs),
        Expr::Paren(inner) => has_aggregate(inner),
        _ => false,
    }
}

/// Whether an expression applies a transformation directly to a field
/// (`derivative(v)`, not `derivative(mean(v))`).
pub(crate) fn has_raw_transform(expr: &Expr) -> bool {
    match expr {
        Expr::Call { name, args, .. } if transform::is_transform(name) => {
            !matches!(args.first(), Some(Expr::Call { .. }))
        }
        Expr::Call { args, .. } => args.iter().any(has_raw_transform),
        Expr::Binary { lhs, rhs, .. } => has_raw_transform(lhs) || has_raw_transform(rhs),
        Expr::Paren(inner) => has_raw_transform(inner),
        _ => false,
    }
}

/// Runs the subqueries of the `FROM` clause (all of its sources, or none)
/// with the outer query's time range, and collects their rows.
fn subqueries(
    store: &Store,
    select: &Select,
    ctx: &ExecutionContext,
    now: i64,
    cond: &Condition,
) -> Result<Option<subquery::MemSource>, ExecError> {
    let inner: Vec<&Select> = select
        .sources
        .iter()
        .filter_map(|s| match s {
            Source::Subquery(q) => Some(&**q),
            _ => None,
        })
        .collect();
    if inner.is_empty() {
        return Ok(None);
    }
    if inner.len() != select.sources.len() {
        return Err(SelectError::Unsupported("measurements and subqueries in one FROM clause".into()).into());
    }
    let inner_ctx = ExecutionContext { epoch: Some(1), now: Some(now), ..ctx.clone() };
    let mut mem = subquery::MemSource::default();
    for q in inner {
        let q = subquery::with_time_range(q, cond.range, cond.bounded);
        let tags = selected_tags(store, &q, &inner_ctx);
        mem.add(run(store, &q, &inner_ctx)?, &tags);
    }
    Ok(Some(mem))
}

/// The column names of the tags a query selects (`SELECT v, host FROM
/// cpu`): in a subquery they stay tags for the outer query. A name counts
/// as a tag when it is written `::tag`, or is a field of none of the
/// query's measurements.
fn selected_tags(store: &Store, select: &Select, ctx: &ExecutionContext) -> HashSet<String> {
    let targets = resolve_sources(store, ctx, &select.sources).unwrap_or_default();
    let mut out = HashSet::new();
    let names = unique_names(field_names(&select.fields));
    for (field, column) in select.fields.iter().zip(names) {
        if let Expr::VarRef { name, kind } = &field.expr {
            let tag = match kind {
                Some(RefKind::Tag) => true,
                None => !targets.is_empty() && targets.iter().all(|t| !t.fields.contains_key(name)),
                Some(_) => false,
            };
            if tag {
                out.insert(column);
            }
        }
    }
    out
}

/// The measurements the `FROM` clause names, sorted by name.
pub(crate) fn resolve_sources(
    store: &Store,
    ctx: &ExecutionContext,
    sources: &[Source],
) -> Result<Vec<Target>, ExecError> {
    let mut seen = BTreeMap::new();
    for source in sources {
        let (database, rp, filter) = match source {
            Source::Measurement(m) => (&m.database, &m.retention_policy, MeasurementFilter::Name(m.name.clone())),
            Source::Regex { database, retention_policy, pattern } => {
                let re = Regex::new(pattern).map_err(|e| SelectError::BadRegex(e.to_string()))?;
                (database, retention_policy, MeasurementFilter::Regex(re))
            }
            Source::Subquery(_) => return Err(SelectError::Unsupported("a subquery here".into()).into()),
        };
        let db = ctx.database(database)?.to_string();
        let rp = rp.clone().or_else(|| ctx.retention_policy.clone());
        let names = match store.measurements(&db, rp.as_deref()) {
            Ok(names) => names,
            Err(err @ StorageError::DatabaseNotFound(_)) => return Err(err.into()),
            Err(err) => return Err(err.into()),
        };
        for name in names {
            let keep = match &filter {
                MeasurementFilter::Name(n) => *n == name,
                MeasurementFilter::Regex(re) => re.is_match(&name),
                MeasurementFilter::All => true,
            };
            if keep {
                seen.entry((name.clone(), db.clone(), rp.clone())).or_insert(());
            }
        }
    }
    let mut targets = Vec::new();
    for (measurement, db, rp) in seen.into_keys() {
        let fields =
            store.fields(&db, rp.as_deref(), &measurement)?.into_iter().map(|f| (f.name, f.field_type)).collect();
        targets.push(Target { db, rp, measurement, fields });
    }
    Ok(targets)
}

/// The series of a target that may pass `WHERE`, grouped by the `GROUP BY`
/// tags and sorted by the groups' tag values.
fn groups_of(env: &Env<'_>, target: &Target) -> Result<Vec<Group>, ExecError> {
    let filter = env.cond.residual.as_ref().and_then(|e| tag_filter(e, &|n, k| target.is_tag(n, k)));
    let mut series = match env.mem {
        // Tag conditions are checked per row, as every residual condition is.
        Some(mem) => mem.series(&target.measurement),
        None => env.store.series(
            &target.db,
            target.rp.as_deref(),
            &MeasurementFilter::Name(target.measurement.clone()),
            filter.as_ref(),
        )?,
    };
    series.sort_by(|a, b| a.key.cmp(&b.key));
    let keys = dimension_keys(&env.select.dimensions, &series)?;
    let mut groups: BTreeMap<Vec<(String, String)>, Vec<SeriesInfo>> = BTreeMap::new();
    for s in series {
        let tags = keys
            .iter()
            .map(|k| {
                let v = s.tags.iter().find(|(tk, _)| tk == k).map(|(_, v)| v.clone()).unwrap_or_default();
                (k.clone(), v)
            })
            .collect();
        groups.entry(tags).or_default().push(s);
    }
    Ok(groups.into_iter().map(|(tags, series)| Group { tags, series }).collect())
}

/// The tag keys the `GROUP BY` clause names, sorted (as InfluxDB sorts them).
fn dimension_keys(dims: &[Dimension], series: &[SeriesInfo]) -> Result<Vec<String>, SelectError> {
    let mut keys = BTreeSet::new();
    let all_keys = || series.iter().flat_map(|s| s.tags.iter().map(|(k, _)| k.clone())).collect::<BTreeSet<_>>();
    for d in dims {
        match d {
            Dimension::Tag(k) => {
                keys.insert(k.clone());
            }
            Dimension::All => keys.extend(all_keys()),
            Dimension::Regex(p) => {
                let re = Regex::new(p).map_err(|e| SelectError::BadRegex(e.to_string()))?;
                keys.extend(all_keys().into_iter().filter(|k| re.is_match(k)));
            }
            Dimension::Time { .. } => {}
        }
    }
    Ok(keys.into_iter().collect())
}

/// The rows of one series: timestamps and one value vector per field read.
pub(crate) struct Rows<'a> {
    /// The series.
    pub series: &'a SeriesInfo,
    /// Row timestamps, increasing.
    pub timestamps: Vec<i64>,
    /// Field name → one value per row.
    pub columns: HashMap<String, Vec<Value>>,
}

impl Rows<'_> {
    /// The value of a field or tag in row `i` (a missing tag is `""`, as
    /// InfluxQL compares it).
    pub(crate) fn lookup(&self, target: &Target, i: usize, name: &str, kind: Option<RefKind>) -> Value {
        if target.is_tag(name, kind) {
            let v = self.series.tags.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
            return Value::String(v.unwrap_or_default());
        }
        cast::cast(self.columns.get(name).and_then(|c| c.get(i)).cloned().unwrap_or_default(), kind)
    }
}

/// Reads the given series in batches of at most [`BATCH`] and calls `each`
/// with the rows of every series that has some in `range`, in the order of
/// `series`.
///
/// Why two threads: reading a batch (RocksDB, block decoding, turning
/// columns into values) and consuming it (aggregating, evaluating) both
/// cost, in proportions that vary by query, so a helper thread decodes
/// batches ahead while this one consumes them in order, and decodes the
/// next one itself whenever the batch it needs is not ready
/// ([`decode_ahead`]): on two cores a query with several batches runs on
/// both. Decoding runs at most [`decode_ahead::AHEAD`] batches ahead, so
/// memory stays bounded; the helper stops when the consumer stops (an
/// error, the point budget) or the query is cancelled. A query that reads
/// little stays on one thread: the helper starts only once reading has
/// taken [`PARALLEL_AFTER_US`].
pub(crate) fn read_rows(
    env: &Env<'_>,
    target: &Target,
    series: &[SeriesInfo],
    range: TimeRange,
    fields: &[String],
    budget: &Budget,
    each: impl FnMut(Rows<'_>) -> Result<(), SelectError>,
) -> Result<(), ExecError> {
    read_newest_rows(env, target, series, range, fields, None, budget, each)
}

/// [`read_rows`], with `newest: Some(n)` limited to the newest `n` rows of
/// each series (see [`Store::read_newest`]): for `ORDER BY time DESC LIMIT
/// n` when every row read is a row of the answer (no per-row `WHERE`).
/// In-memory sources give every row.
#[allow(clippy::too_many_arguments)]
pub(crate) fn read_newest_rows(
    env: &Env<'_>,
    target: &Target,
    series: &[SeriesInfo],
    range: TimeRange,
    fields: &[String],
    newest: Option<usize>,
    budget: &Budget,
    mut each: impl FnMut(Rows<'_>) -> Result<(), SelectError>,
) -> Result<(), ExecError> {
    if fields.is_empty() || range.start > range.end {
        return Ok(());
    }
    if let Some(mem) = env.mem {
        return mem.read(target, series, range, fields, budget, each);
    }
    let shape = match newest {
        Some(n) => ReadShape::Newest(n),
        None => ReadShape::Merged,
    };
    read_series(env, target, series, range, fields, shape, budget, values_of, |info, (timestamps, columns)| {
        Ok(each(Rows { series: info, timestamps, columns })?)
    })
}

/// A series' columns as one [`Value`] per row.
fn values_of(data: SeriesData) -> (Vec<i64>, HashMap<String, Vec<Value>>) {
    let rows = data.timestamps.len();
    let columns =
        data.columns.iter().map(|c| (c.name.clone(), column_values(&c.data, c.presence.as_deref(), rows))).collect();
    (data.timestamps, columns)
}

/// [`read_rows`] for consumers that take the store's typed columns as they
/// are (no [`Value`] per point): the aggregate fast path. Not for
/// in-memory sources (subqueries); callers check `env.mem` first.
///
/// A series' rows may come in several calls, in time order (see
/// [`Store::read_pieces`]): `each` must fold them as one run.
pub(crate) fn read_columns(
    env: &Env<'_>,
    target: &Target,
    series: &[SeriesInfo],
    range: TimeRange,
    fields: &[String],
    budget: &Budget,
    mut each: impl FnMut(&SeriesData) -> Result<(), SelectError>,
) -> Result<(), ExecError> {
    if fields.is_empty() || range.start > range.end {
        return Ok(());
    }
    read_series(env, target, series, range, fields, ReadShape::Pieces, budget, |data| data, |_, data| Ok(each(&data)?))
}

/// The batched, decode-ahead loop of [`read_rows`] and [`read_columns`]:
/// `convert` runs with the decoding, on whichever thread decodes a batch
/// (so converting overlaps consuming), `each` on the caller's, in the
/// order of `series`; `shape`: which rows of
/// each series, and in what shape.
#[allow(clippy::too_many_arguments)]
fn read_series<T: Send>(
    env: &Env<'_>,
    target: &Target,
    series: &[SeriesInfo],
    range: TimeRange,
    fields: &[String],
    shape: ReadShape,
    budget: &Budget,
    convert: impl Fn(SeriesData) -> T + Sync,
    mut each: impl FnMut(&SeriesInfo, T) -> Result<(), ExecError>,
) -> Result<(), ExecError> {
    let batches: Vec<&[SeriesInfo]> = series.chunks(batch_size(series.len())).collect();
    let read = |batch: &[SeriesInfo]| read_batch(env, target, batch, (range, shape), fields, &convert);
    let mut consume = |batch: &[SeriesInfo], decoded: Vec<Decoded<T>>| -> Result<(), ExecError> {
        for d in decoded {
            budget.take(d.rows)?;
            let Some(info) = batch.get(d.index) else { continue };
            each(info, d.data)?;
        }
        Ok(())
    };
    // Batches are read here until they prove slow enough to be worth a
    // second thread (see `PARALLEL_AFTER_US`).
    let started = std::time::Instant::now();
    let mut inline = 0;
    while let Some(batch) = batches.get(inline) {
        if inline > 0 && worth_a_second_thread(started) {
            break;
        }
        env.cancel.check()?;
        consume(batch, read(batch)?)?;
        inline += 1;
    }
    let batches = batches.get(inline..).unwrap_or_default();
    if batches.is_empty() {
        return Ok(());
    }
    // Both threads decode from here on; this one consumes in order (see
    // `decode_ahead`).
    let ahead = decode_ahead::DecodeAhead::new(batches.len());
    let decode = |i: usize| -> Result<Vec<Decoded<T>>, ExecError> {
        env.cancel.check()?;
        read(batches.get(i).copied().unwrap_or_default())
    };
    std::thread::scope(|scope| {
        // (A helper that cannot start leaves every batch to this thread.)
        let _helper = std::thread::Builder::new()
            .stack_size(crate::QUERY_STACK_BYTES)
            .spawn_scoped(scope, || ahead.run_helper(&decode));
        let mut consumed = Ok(());
        for (i, batch) in batches.iter().enumerate() {
            consumed = ahead.take(i, &decode).and_then(|decoded| consume(batch, decoded));
            if consumed.is_err() {
                break;
            }
        }
        ahead.stop();
        consumed
    })
}

/// Runs `fold` on every group and returns the results in group order,
/// on up to two threads when there are several groups.
///
/// Why: a `GROUP BY <tag>` query is many independent groups (one per host,
/// say), each read and folded on its own; sharing them between two
/// workers uses both cores. The point budget is shared (atomic), the
/// workers stop taking groups after an error, and the error reported is
/// that of the first failing group in group order, as a sequential run
/// would report. The helper starts only once folding has taken
/// [`PARALLEL_AFTER_US`], so small queries stay on one thread.
pub(crate) fn fold_groups<T: Send>(
    groups: &[Group],
    fold: impl Fn(&Group) -> Result<T, ExecError> + Sync,
) -> Result<Vec<T>, ExecError> {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    if groups.len() < 2 {
        return groups.iter().map(&fold).collect();
    }
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    // Folds the next group not taken yet, if any is left and none failed.
    let fold_next = || -> Option<(usize, Result<T, ExecError>)> {
        if failed.load(Ordering::Relaxed) {
            return None;
        }
        let i = next.fetch_add(1, Ordering::Relaxed);
        let result = fold(groups.get(i)?);
        if result.is_err() {
            failed.store(true, Ordering::Relaxed);
        }
        Some((i, result))
    };
    let work = || std::iter::from_fn(fold_next).collect::<Vec<_>>();
    // Groups are folded here until they prove slow enough to be worth a
    // second thread (see `PARALLEL_AFTER_US`).
    let started = std::time::Instant::now();
    let mut results: Vec<(usize, Result<T, ExecError>)> = Vec::new();
    while results.is_empty() || !worth_a_second_thread(started) {
        match fold_next() {
            Some(done) => results.push(done),
            None => break,
        }
    }
    if next.load(Ordering::Relaxed) < groups.len() && !failed.load(Ordering::Relaxed) {
        // The helper writes JSON as this thread would (`SELECT ... INTO`).
        let typed = super::value::typed_floats();
        let rest: Vec<(usize, Result<T, ExecError>)> = std::thread::scope(|scope| {
            let helper = std::thread::Builder::new()
                .stack_size(crate::QUERY_STACK_BYTES)
                .spawn_scoped(scope, || super::value::with_typed_floats_as(typed, work));
            let mut mine = work();
            // A panic in the helper is a bug: report it as an error, not a
            // crash; a helper that could not start leaves its share here.
            match helper.map(|h| h.join()) {
                Ok(Ok(theirs)) => mine.extend(theirs),
                Ok(Err(_)) => mine.push((0, Err(ExecError::Plain("query worker failed".to_string())))),
                Err(_) => mine.extend(work()),
            }
            mine
        });
        results.extend(rest);
    }
    results.sort_by_key(|(i, _)| *i);
    let mut out = Vec::with_capacity(groups.len());
    for (_, result) in results {
        out.push(result?);
    }
    Ok(out)
}

/// How long (µs) a query's reading or folding runs on one thread before a
/// second one joins ([`read_series`], [`fold_groups`]): starting a thread
/// costs tens of microseconds, more than a small query takes in all
/// (TSBS `single-groupby-1-8-1` went from 0.40 to 0.2x ms). Tests set it to
/// 0 to exercise the two-thread paths on small data.
pub(crate) static PARALLEL_AFTER_US: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(300);

/// Whether work started at `started` has run long enough for a second thread.
fn worth_a_second_thread(started: std::time::Instant) -> bool {
    let after = PARALLEL_AFTER_US.load(std::sync::atomic::Ordering::Relaxed);
    started.elapsed() >= std::time::Duration::from_micros(after)
}

/// Series per read: [`BATCH`], or fewer so that a query over a few dozen
/// series still has several batches to overlap (at least 4 series each).
fn batch_size(series: usize) -> usize {
    (series / 8).clamp(4, BATCH)
}

/// Which rows of each series a read gives, and how.
#[derive(Clone, Copy)]
enum ReadShape {
    /// All rows in range, merged into one [`SeriesData`] per series.
    Merged,
    /// Only the newest `n` rows ([`Store::read_newest`]).
    Newest(usize),
    /// All rows in range, possibly in several pieces per series
    /// ([`Store::read_pieces`]).
    Pieces,
}

/// One series of a batch, read and converted.
struct Decoded<T> {
    /// Its position in the batch.
    index: usize,
    /// Its rows (points) in the range, for the point budget.
    rows: usize,
    data: T,
}

/// Reads one batch of series and converts each with `convert`.
fn read_batch<T>(
    env: &Env<'_>,
    target: &Target,
    batch: &[SeriesInfo],
    (range, shape): (TimeRange, ReadShape),
    fields: &[String],
    convert: &impl Fn(SeriesData) -> T,
) -> Result<Vec<Decoded<T>>, ExecError> {
    let (db, rp) = (&target.db, target.rp.as_deref());
    let read = match shape {
        ReadShape::Merged => env.store.read(db, rp, batch, range, Some(fields))?,
        ReadShape::Newest(n) => env.store.read_newest(db, rp, batch, range, Some(fields), n)?,
        ReadShape::Pieces => env.store.read_pieces(db, rp, batch, range, Some(fields))?,
    };
    for damage in &read.damaged {
        tracing::warn!(series = %damage.series_key, reason = %damage.reason, "damaged block skipped by query");
    }
    let mut out = Vec::with_capacity(read.series.len());
    for data in read.series {
        let Some(index) = batch.iter().position(|s| s.id == data.series.id) else { continue };
        let rows = data.timestamps.len();
        out.push(Decoded { index, rows, data: convert(data) });
    }
    Ok(out)
}

/// Tags of a group as the result's `tags` object (`None` without `GROUP BY` tags).
pub(crate) fn group_tags(env: &Env<'_>, group: &Group) -> Option<BTreeMap<String, String>> {
    let has_tag_dims = env.select.dimensions.iter().any(|d| !matches!(d, Dimension::Time { .. }));
    has_tag_dims.then(|| group.tags.iter().cloned().collect())
}

/// Makes column names unique the way InfluxDB does: aliases (`AS x`, the
/// `true` ones) keep their names, then every other name is taken in
/// order, a repeat getting the first free `_N` suffix (`mean`, `mean_1`;
/// `v, v, v AS v` gives `v_1, v_2, v`).
pub(crate) fn unique_names(names: Vec<(String, bool)>) -> Vec<String> {
    let mut taken: HashMap<String, usize> = HashMap::new();
    for (name, aliased) in &names {
        if *aliased {
            taken.insert(name.clone(), 1);
        }
    }
    names
        .into_iter()
        .map(|(name, aliased)| {
            if aliased {
                return name;
            }
            let resolved = match taken.get(&name).copied() {
                None => name,
                Some(mut count) => loop {
                    let candidate = format!("{name}_{count}");
                    if !taken.contains_key(&candidate) {
                        taken.insert(name, count + 1);
                        break candidate;
                    }
                    count += 1;
                },
            };
            *taken.entry(resolved.clone()).or_insert(0) += 1;
            resolved
        })
        .collect()
}

/// The column names of the select list, with whether each is an alias
/// (the input of [`unique_names`]).
pub(crate) fn field_names(fields: &[crate::ast::Field]) -> Vec<(String, bool)> {
    fields.iter().map(|f| (f.column_name(), f.alias.is_some())).collect()
}
