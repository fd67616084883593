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
mod condition;
mod forecast;
mod grouped;
mod raw;
mod top;
mod window;

use std::collections::{BTreeMap, BTreeSet, HashMap};

use augur_engine::model::FieldType;
use augur_engine::storage::{MeasurementFilter, SeriesInfo, StorageError, Store, TimeRange};
use regex::Regex;
use serde_json::Value as Json;

pub(crate) use condition::{tag_filter, Condition};

use super::value::{column_values, Value};
use super::{ExecError, ExecutionContext};
use crate::ast::{Dimension, RefKind, Select, Source};
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
    /// A `tz()` other than UTC.
    #[error("tz({0:?}) is not supported yet: only UTC")]
    TimeZone(String),
    /// Any other construct not executed yet.
    #[error("not supported yet: {0}")]
    Unsupported(String),
}

/// Counts points read against the query's limit (0 = unlimited).
#[derive(Debug)]
pub(crate) struct Budget {
    used: u64,
    max: u64,
}

impl Budget {
    /// Accounts for `n` more points.
    pub(crate) fn take(&mut self, n: usize) -> Result<(), SelectError> {
        self.used = self.used.saturating_add(n as u64);
        if self.max > 0 && self.used > self.max {
            return Err(SelectError::TooManyPoints(self.used, self.max));
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
            Some(RefKind::Field) => false,
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
}

impl Env<'_> {
    /// The JSON of a time value: RFC 3339 or an integer epoch.
    pub(crate) fn time_json(&self, t: i64) -> Json {
        match self.epoch {
            Some(div) if div > 0 => Json::from(t / div),
            _ => Json::String(format_rfc3339_nano(t)),
        }
    }
}

/// Runs a `SELECT` and returns its result series.
pub(crate) fn run(
    store: &Store,
    select: &Select,
    ctx: &ExecutionContext,
) -> Result<Vec<crate::result::Series>, ExecError> {
    if let Some(tz) = &select.timezone {
        if !matches!(tz.as_str(), "UTC" | "Etc/UTC" | "utc") {
            return Err(SelectError::TimeZone(tz.clone()).into());
        }
    }
    if let Some(spec) = forecast::spec(&select.fields)? {
        return forecast::run(store, select, ctx, &spec);
    }
    let now = ctx.now();
    let env = Env {
        store,
        select,
        cond: Condition::new(select.condition.as_ref(), now)?,
        now,
        epoch: ctx.epoch,
        max_buckets: ctx.max_select_buckets,
    };
    let targets = resolve_sources(store, ctx, &select.sources)?;
    let aggregate = select.fields.iter().any(|f| f.expr.has_call());
    let top = top::spec(&select.fields)?;
    let mut budget = Budget { used: 0, max: ctx.max_select_points };
    let mut out = Vec::new();
    for target in &targets {
        let groups = groups_of(&env, target)?;
        if let Some(top) = &top {
            out.extend(top::run(&env, target, &groups, &mut budget, top)?);
        } else if aggregate {
            out.extend(grouped::run(&env, target, &groups, &mut budget)?);
        } else {
            out.extend(raw::run(&env, target, &groups, &mut budget)?);
        }
    }
    let skip = usize::try_from(select.soffset).unwrap_or(usize::MAX);
    let take = if select.slimit == 0 { usize::MAX } else { usize::try_from(select.slimit).unwrap_or(usize::MAX) };
    let mut out: Vec<_> = out.into_iter().skip(skip).take(take).collect();
    if select.descending {
        // InfluxDB also lists the series in reverse order (after SLIMIT).
        out.reverse();
    }
    Ok(out)
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
    let mut series = env.store.series(
        &target.db,
        target.rp.as_deref(),
        &MeasurementFilter::Name(target.measurement.clone()),
        filter.as_ref(),
    )?;
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
        self.columns.get(name).and_then(|c| c.get(i)).cloned().unwrap_or_default()
    }
}

/// Reads the given series in batches of [`BATCH`] and calls `each` with
/// the rows of every series that has some in `range`.
pub(crate) fn read_rows(
    env: &Env<'_>,
    target: &Target,
    series: &[SeriesInfo],
    range: TimeRange,
    fields: &[String],
    budget: &mut Budget,
    mut each: impl FnMut(Rows<'_>) -> Result<(), SelectError>,
) -> Result<(), ExecError> {
    if fields.is_empty() || range.start > range.end {
        return Ok(());
    }
    for batch in series.chunks(BATCH) {
        let read = env.store.read(&target.db, target.rp.as_deref(), batch, range, Some(fields))?;
        for damage in &read.damaged {
            tracing::warn!(series = %damage.series_key, reason = %damage.reason, "damaged block skipped by query");
        }
        for data in read.series {
            budget.take(data.timestamps.len())?;
            let rows = data.timestamps.len();
            let columns = data
                .columns
                .iter()
                .map(|c| (c.name.clone(), column_values(&c.data, c.presence.as_deref(), rows)))
                .collect();
            let Some(info) = batch.iter().find(|s| s.id == data.series.id) else { continue };
            each(Rows { series: info, timestamps: data.timestamps, columns })?;
        }
    }
    Ok(())
}

/// Tags of a group as the result's `tags` object (`None` without `GROUP BY` tags).
pub(crate) fn group_tags(env: &Env<'_>, group: &Group) -> Option<BTreeMap<String, String>> {
    let has_tag_dims = env.select.dimensions.iter().any(|d| !matches!(d, Dimension::Time { .. }));
    has_tag_dims.then(|| group.tags.iter().cloned().collect())
}

/// Makes column names unique the way InfluxDB does (`mean`, `mean_1`).
pub(crate) fn unique_names(names: Vec<String>) -> Vec<String> {
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut out = Vec::with_capacity(names.len());
    for name in names {
        let n = seen.entry(name.clone()).or_insert(0);
        if *n == 0 {
            out.push(name);
        } else {
            out.push(format!("{name}_{n}"));
        }
        *n += 1;
    }
    out
}
