//! `DELETE`, `DROP SERIES`, `DROP MEASUREMENT`, `ALTER|DROP RETENTION
//! POLICY`, `SHOW ... CARDINALITY` and `SHOW FIELD KEYS` with regex
//! sources: answers and error texts as InfluxDB 1.6.7 gives them.
//!
//! Why the strict `WHERE` handling here: `SELECT` may push part of a
//! condition to the index and check the rest per row, but a delete that
//! silently ignored part of its condition would remove too much. So a
//! `DELETE`/`DROP SERIES` condition must be wholly tag comparisons (plus
//! `time` for `DELETE`), or the statement fails.

use std::collections::BTreeSet;

use augur_engine::storage::{MeasurementFilter, RetentionPolicy, StorageError, Store, TagFilter};
use regex::Regex;
use serde_json::Value as Json;

use super::retention::MIN_DURATION_NS;
use super::select::{Condition, SelectError};
use super::show_tags::{key_matcher, series_matching, targets};
use super::{page, ExecError, ExecutionContext};
use crate::ast::{
    AlterRetentionPolicy, BinaryOp, CardinalityKind, DeleteSeries, Expr, ShowCardinality, ShowFieldKeysMatching, Source,
};
use crate::result::Series;
use augur_engine::storage::default_shard_duration;

/// The request's database for `DELETE`/`DROP`: InfluxDB reports a missing
/// one as `database not found: ` (empty name), not `database name required`.
fn request_db(ctx: &ExecutionContext) -> &str {
    ctx.database.as_deref().unwrap_or("")
}

/// A condition made only of tag comparisons, as an index filter.
fn strict_tag_filter(expr: &Expr) -> Result<TagFilter, ExecError> {
    let unsupported = || ExecError::Unsupported(format!("condition {expr} in DELETE or DROP SERIES"));
    match expr {
        Expr::Paren(inner) => strict_tag_filter(inner),
        Expr::Binary { op: op @ (BinaryOp::And | BinaryOp::Or), lhs, rhs } => {
            let (a, b) = (Box::new(strict_tag_filter(lhs)?), Box::new(strict_tag_filter(rhs)?));
            Ok(if *op == BinaryOp::And { TagFilter::And(a, b) } else { TagFilter::Or(a, b) })
        }
        Expr::Binary { op, lhs, rhs } => {
            let Expr::VarRef { name, .. } = &**lhs else { return Err(unsupported()) };
            let re = |p: &str| Regex::new(p).map_err(|e| ExecError::Select(SelectError::BadRegex(e.to_string())));
            match (op, &**rhs) {
                (BinaryOp::Eq, Expr::String(v)) => Ok(TagFilter::Eq(name.clone(), v.clone())),
                (BinaryOp::Neq, Expr::String(v)) => Ok(TagFilter::NotEq(name.clone(), v.clone())),
                (BinaryOp::EqRegex, Expr::Regex(p)) => Ok(TagFilter::Regex(name.clone(), re(p)?)),
                (BinaryOp::NeqRegex, Expr::Regex(p)) => Ok(TagFilter::NotRegex(name.clone(), re(p)?)),
                _ => Err(unsupported()),
            }
        }
        _ => Err(unsupported()),
    }
}

/// One `FROM` source as (database, policy, measurement filter).
fn source_filter(db: &str, source: &Source) -> Result<(String, Option<String>, MeasurementFilter), ExecError> {
    Ok(match source {
        Source::Measurement(m) => (
            m.database.clone().unwrap_or_else(|| db.to_string()),
            m.retention_policy.clone(),
            MeasurementFilter::Name(m.name.clone()),
        ),
        Source::Regex { database, retention_policy, pattern } => (
            database.clone().unwrap_or_else(|| db.to_string()),
            retention_policy.clone(),
            MeasurementFilter::Regex(Regex::new(pattern).map_err(|e| SelectError::BadRegex(e.to_string()))?),
        ),
        Source::Subquery(_) => return Err(ExecError::Unsupported("a subquery as the source of this statement".into())),
    })
}

/// Fails like InfluxDB when the condition names a field of a measurement
/// the statement covers.
fn refuse_fields(
    store: &Store,
    db: &str,
    rp: Option<&str>,
    filter: &MeasurementFilter,
    names: &BTreeSet<String>,
) -> Result<(), ExecError> {
    if names.is_empty() {
        return Ok(());
    }
    let policies: Vec<String> = match rp {
        Some(rp) => vec![rp.to_string()],
        None => store.retention_policies(db)?.into_iter().map(|p| p.name).collect(),
    };
    for rp in &policies {
        for m in store.measurements(db, Some(rp))? {
            let hit = match filter {
                MeasurementFilter::All => true,
                MeasurementFilter::Name(n) => *n == m,
                MeasurementFilter::Regex(re) => re.is_match(&m),
            };
            if hit && store.fields(db, Some(rp), &m)?.iter().any(|f| names.contains(&f.name)) {
                return Err(ExecError::Plain("fields not supported in WHERE clause during deletion".into()));
            }
        }
    }
    Ok(())
}

/// `DELETE` (`drop_series = false`) and `DROP SERIES`.
pub(super) fn delete(
    store: &Store,
    ctx: &ExecutionContext,
    d: &DeleteSeries,
    drop_series: bool,
) -> Result<Vec<Series>, ExecError> {
    let db = request_db(ctx);
    let now = ctx.now();
    let cond = Condition::new(d.condition.as_ref(), now)?;
    if drop_series && (cond.bounded.0 || cond.bounded.1) {
        return Err(ExecError::Plain("DROP SERIES doesn't support time in WHERE clause".into()));
    }
    let names: BTreeSet<String> = cond.names().into_iter().collect();
    let all = [Source::Regex { database: None, retention_policy: None, pattern: String::new() }];
    let sources = if d.sources.is_empty() { &all[..] } else { &d.sources[..] };
    if !store.database_exists(db) {
        return Err(StorageError::DatabaseNotFound(db.to_string()).into());
    }
    let mut plan = Vec::with_capacity(sources.len());
    for source in sources {
        let (db, rp, filter) = source_filter(db, source)?;
        refuse_fields(store, &db, rp.as_deref(), &filter, &names)?;
        plan.push((db, rp, filter));
    }
    let tags = cond.residual.as_ref().map(strict_tag_filter).transpose()?;
    for (db, rp, filter) in plan {
        if drop_series {
            store.drop_series(&db, &filter, tags.as_ref())?;
        } else {
            store.delete(&db, rp.as_deref(), &filter, tags.as_ref(), cond.range)?;
        }
    }
    Ok(Vec::new())
}

/// `DROP MEASUREMENT`.
pub(super) fn drop_measurement(store: &Store, ctx: &ExecutionContext, name: &str) -> Result<Vec<Series>, ExecError> {
    let db = request_db(ctx);
    if !store.database_exists(db) {
        return Err(StorageError::DatabaseNotFound(db.to_string()).into());
    }
    store.drop_measurement(db, name)?;
    Ok(Vec::new())
}

/// `ALTER RETENTION POLICY`, with InfluxDB's validation: a finite duration
/// of at least 1h, a shard duration raised to 1h (0 = derived from the
/// duration), and a duration no shorter than the shard duration.
pub(super) fn alter_retention_policy(store: &Store, alter: &AlterRetentionPolicy) -> Result<Vec<Series>, ExecError> {
    let existing =
        store.retention_policies(&alter.database)?.into_iter().find(|p| p.name == alter.name).ok_or_else(|| {
            StorageError::RetentionPolicyNotFound { db: alter.database.clone(), rp: alter.name.clone() }
        })?;
    let duration = alter.duration.unwrap_or(existing.duration_ns);
    if let Some(Some(d)) = alter.duration {
        if d < MIN_DURATION_NS {
            return Err(ExecError::DurationTooShort);
        }
    }
    let shard = match alter.shard_duration {
        None => existing.shard_group_duration_ns,
        Some(0) => default_shard_duration(duration),
        Some(s) if s < MIN_DURATION_NS => MIN_DURATION_NS,
        Some(s) => s,
    };
    if duration.is_some_and(|d| d < shard) {
        return Err(ExecError::ShorterThanShard);
    }
    let policy = RetentionPolicy {
        name: alter.name.clone(),
        duration_ns: duration,
        shard_group_duration_ns: shard,
        replication: alter.replication.unwrap_or(existing.replication),
        default: alter.default,
    };
    store.alter_retention_policy(&alter.database, &policy)?;
    Ok(Vec::new())
}

/// `DROP RETENTION POLICY` (a missing database or policy is not an error).
pub(super) fn drop_retention_policy(store: &Store, db: &str, name: &str) -> Result<Vec<Series>, ExecError> {
    store.drop_retention_policy(db, name)?;
    Ok(Vec::new())
}

fn count_series(name: Option<&str>, column: &str, n: usize) -> Series {
    let mut s = Series::new(name, &[column]);
    s.values = vec![vec![Json::from(n as u64)]];
    s
}

/// `SHOW ... CARDINALITY`. Without `EXACT`, `FROM` and `WHERE`, series and
/// measurement cardinality answer InfluxDB's `cardinality estimation`
/// column (Augur's count is exact); everything else counts per measurement.
pub(super) fn show_cardinality(
    store: &Store,
    ctx: &ExecutionContext,
    show: &ShowCardinality,
) -> Result<Vec<Series>, ExecError> {
    if !show.group_by.is_empty() {
        return super::cardinality::show_grouped(store, ctx, show);
    }
    let c = &show.clauses;
    let db = ctx.database(&c.database)?.to_string();
    let estimate = !show.exact && c.sources.is_empty() && c.condition.is_none();
    match show.kind {
        CardinalityKind::Series if estimate => {
            let mut n = 0;
            for rp in store.retention_policies(&db).unwrap_or_default() {
                n += store.series(&db, Some(&rp.name), &MeasurementFilter::All, None)?.len();
            }
            return Ok(vec![count_series(None, "cardinality estimation", n)]);
        }
        CardinalityKind::Measurement if estimate => {
            let mut names = BTreeSet::new();
            for rp in store.retention_policies(&db).unwrap_or_default() {
                names.extend(store.measurements(&db, Some(&rp.name))?);
            }
            return Ok(vec![count_series(None, "cardinality estimation", names.len())]);
        }
        _ => {}
    }
    let keep_key = key_matcher(c.key.as_ref())?;
    let mut out = Vec::new();
    let mut measurements = 0;
    for target in targets(store, ctx, &c.database, &c.sources)? {
        let n = match show.kind {
            CardinalityKind::FieldKey => target.fields.len(),
            kind => {
                let series = series_matching(
                    store,
                    &target.db,
                    target.rp.as_deref(),
                    &target.measurement,
                    c.condition.as_ref(),
                )?;
                match kind {
                    CardinalityKind::Series => series.len(),
                    CardinalityKind::Measurement => usize::from(!series.is_empty()),
                    CardinalityKind::TagKey => {
                        series.iter().flat_map(|s| s.tags.iter().map(|(k, _)| k)).collect::<BTreeSet<_>>().len()
                    }
                    _ => series
                        .iter()
                        .flat_map(|s| s.tags.iter())
                        .filter(|(k, _)| keep_key(k))
                        .collect::<BTreeSet<_>>()
                        .len(),
                }
            }
        };
        if show.kind == CardinalityKind::Measurement {
            measurements += n;
        } else if n > 0 {
            out.push(count_series(Some(&target.measurement), "count", n));
        }
    }
    if show.kind == CardinalityKind::Measurement && measurements > 0 {
        out.push(count_series(None, "count", measurements));
    }
    Ok(out)
}

/// `SHOW FIELD KEYS` with regex sources and/or `LIMIT`/`OFFSET` (applied
/// to the field keys of each measurement, as InfluxDB does).
pub(super) fn show_field_keys(
    store: &Store,
    ctx: &ExecutionContext,
    show: &ShowFieldKeysMatching,
) -> Result<Vec<Series>, ExecError> {
    let db = ctx.database(&show.database)?.to_string();
    let all = [Source::Regex { database: None, retention_policy: None, pattern: String::new() }];
    let sources = if show.sources.is_empty() { &all[..] } else { &show.sources[..] };
    let mut found: std::collections::BTreeMap<String, std::collections::BTreeMap<String, String>> = Default::default();
    for source in sources {
        let (db, rp, filter) = source_filter(&db, source)?;
        let policies: Vec<String> = match rp {
            Some(rp) => vec![rp],
            None => store.retention_policies(&db)?.into_iter().map(|p| p.name).collect(),
        };
        for rp in &policies {
            for m in store.measurements(&db, Some(rp))? {
                let hit = match &filter {
                    MeasurementFilter::All => true,
                    MeasurementFilter::Name(n) => *n == m,
                    MeasurementFilter::Regex(re) => re.is_match(&m),
                };
                if !hit {
                    continue;
                }
                let entry = found.entry(m.clone()).or_default();
                for f in store.fields(&db, Some(rp), &m)? {
                    entry.entry(f.name).or_insert_with(|| f.field_type.influx_name().to_string());
                }
            }
        }
    }
    Ok(found
        .into_iter()
        .filter_map(|(m, fields)| {
            let values: Vec<Vec<Json>> =
                page(fields.into_iter().map(|(k, t)| vec![Json::String(k), Json::String(t)]), show.limit, show.offset)
                    .collect();
            (!values.is_empty()).then(|| {
                let mut s = Series::new(Some(&m), &["fieldKey", "fieldType"]);
                s.values = values;
                s
            })
        })
        .collect())
}

#[cfg(test)]
mod tests;
