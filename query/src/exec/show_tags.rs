//! `SHOW MEASUREMENTS`, `SHOW SERIES`, `SHOW TAG KEYS` and `SHOW TAG
//! VALUES`: what the series index holds, shaped as InfluxDB 1.x answers.
//!
//! `SHOW SERIES` is one unnamed series with a `key` column; the tag
//! statements answer one series per measurement (`tagKey`, or `key` and
//! `value`). `WHERE` filters series by their tags (a missing tag compares
//! as `''`); `LIMIT`/`OFFSET` apply to the rows of each result series.

use std::collections::BTreeSet;

use augur_engine::storage::{MeasurementFilter, SeriesInfo, StorageError, Store};
use regex::Regex;
use serde_json::Value as Json;

use super::select::{resolve_sources, tag_filter, Condition, SelectError, Target};
use super::value::Value;
use super::{page, ExecError, ExecutionContext};
use crate::ast::{Expr, MeasurementSelector, ShowMeasurements, ShowSeries, ShowTags, Source, TagKeySelector};
use crate::result::Series;

/// `SHOW MEASUREMENTS`: one `measurements` series with a `name` column,
/// over every retention policy of the database; an unknown database lists
/// nothing (as InfluxDB 1.x does).
pub(super) fn show_measurements(
    store: &Store,
    ctx: &ExecutionContext,
    show: &ShowMeasurements,
) -> Result<Vec<Series>, ExecError> {
    let db = ctx.database(&show.database)?;
    let policies = match store.retention_policies(db) {
        Ok(policies) => policies,
        Err(StorageError::DatabaseNotFound(_)) => return Ok(Vec::new()),
        Err(err) => return Err(err.into()),
    };
    let re = match &show.with {
        Some(MeasurementSelector::Regex(p)) => Some(Regex::new(p).map_err(|e| SelectError::BadRegex(e.to_string()))?),
        _ => None,
    };
    let mut names = BTreeSet::new();
    for rp in &policies {
        for name in store.measurements(db, Some(&rp.name))? {
            let wanted = match &show.with {
                Some(MeasurementSelector::Eq(m)) => *m == name,
                Some(MeasurementSelector::Regex(_)) => re.as_ref().is_some_and(|re| re.is_match(&name)),
                None => true,
            };
            if !wanted || names.contains(&name) {
                continue;
            }
            if let Some(cond) = &show.condition {
                if series_matching(store, db, Some(&rp.name), &name, Some(cond))?.is_empty() {
                    continue;
                }
            }
            names.insert(name);
        }
    }
    let values: Vec<Vec<Json>> =
        page(names.into_iter().map(|m| vec![Json::String(m)]), show.limit, show.offset).collect();
    if values.is_empty() {
        return Ok(Vec::new());
    }
    let mut series = Series::new(Some("measurements"), &["name"]);
    series.values = values;
    Ok(vec![series])
}

/// `SHOW SERIES`.
pub(super) fn show_series(store: &Store, ctx: &ExecutionContext, show: &ShowSeries) -> Result<Vec<Series>, ExecError> {
    let mut keys = BTreeSet::new();
    for target in targets(store, ctx, &show.database, &show.sources)? {
        for s in matching_series(store, &target, show.condition.as_ref())? {
            keys.insert(s.key);
        }
    }
    let values: Vec<Vec<Json>> =
        page(keys.into_iter().map(|k| vec![Json::String(k)]), show.limit, show.offset).collect();
    if values.is_empty() {
        return Ok(Vec::new());
    }
    let mut series = Series::new(None, &["key"]);
    series.values = values;
    Ok(vec![series])
}

/// `SHOW TAG KEYS`.
pub(super) fn show_tag_keys(store: &Store, ctx: &ExecutionContext, show: &ShowTags) -> Result<Vec<Series>, ExecError> {
    let mut out = Vec::new();
    for target in targets(store, ctx, &show.database, &show.sources)? {
        let keys: BTreeSet<String> = matching_series(store, &target, show.condition.as_ref())?
            .into_iter()
            .flat_map(|s| s.tags.into_iter().map(|(k, _)| k))
            .collect();
        let values: Vec<Vec<Json>> =
            page(keys.into_iter().map(|k| vec![Json::String(k)]), show.limit, show.offset).collect();
        if !values.is_empty() {
            let mut series = Series::new(Some(&target.measurement), &["tagKey"]);
            series.values = values;
            out.push(series);
        }
    }
    Ok(out)
}

/// `SHOW TAG VALUES ... WITH KEY ...`.
pub(super) fn show_tag_values(
    store: &Store,
    ctx: &ExecutionContext,
    show: &ShowTags,
) -> Result<Vec<Series>, ExecError> {
    let keep = key_matcher(show.key.as_ref())?;
    let mut out = Vec::new();
    for target in targets(store, ctx, &show.database, &show.sources)? {
        let pairs: BTreeSet<(String, String)> = matching_series(store, &target, show.condition.as_ref())?
            .into_iter()
            .flat_map(|s| s.tags.into_iter())
            .filter(|(k, _)| keep(k))
            .collect();
        let values: Vec<Vec<Json>> =
            page(pairs.into_iter().map(|(k, v)| vec![Json::String(k), Json::String(v)]), show.limit, show.offset)
                .collect();
        if !values.is_empty() {
            let mut series = Series::new(Some(&target.measurement), &["key", "value"]);
            series.values = values;
            out.push(series);
        }
    }
    Ok(out)
}

/// A predicate over tag keys.
pub(super) type KeyMatcher = Box<dyn Fn(&str) -> bool>;

/// Which tag keys a `WITH KEY` clause keeps.
pub(super) fn key_matcher(selector: Option<&TagKeySelector>) -> Result<KeyMatcher, SelectError> {
    let compile = |p: &str| Regex::new(p).map_err(|e| SelectError::BadRegex(e.to_string()));
    Ok(match selector.cloned() {
        None => Box::new(|_| true),
        Some(TagKeySelector::Eq(k)) => Box::new(move |key| key == k),
        Some(TagKeySelector::Neq(k)) => Box::new(move |key| key != k),
        Some(TagKeySelector::In(keys)) => Box::new(move |key| keys.iter().any(|k| k == key)),
        Some(TagKeySelector::Regex(p)) => {
            let re = compile(&p)?;
            Box::new(move |key| re.is_match(key))
        }
        Some(TagKeySelector::NotRegex(p)) => {
            let re = compile(&p)?;
            Box::new(move |key| !re.is_match(key))
        }
    })
}

/// The measurements of the `FROM` clause (every one when there is none).
pub(super) fn targets(
    store: &Store,
    ctx: &ExecutionContext,
    database: &Option<String>,
    sources: &[Source],
) -> Result<Vec<Target>, ExecError> {
    let db = ctx.database(database)?.to_string();
    let all = [Source::Regex { database: None, retention_policy: None, pattern: String::new() }];
    let sources = if sources.is_empty() { &all[..] } else { sources };
    // Unqualified sources read the statement's `ON` database.
    let ctx = ExecutionContext { database: Some(db), ..ctx.clone() };
    resolve_sources(store, &ctx, sources)
}

/// The series of a target whose tags pass `condition`.
fn matching_series(store: &Store, target: &Target, condition: Option<&Expr>) -> Result<Vec<SeriesInfo>, ExecError> {
    series_matching(store, &target.db, target.rp.as_deref(), &target.measurement, condition)
}

/// The series of a measurement whose tags pass `condition` (a missing tag
/// compares as `''`).
pub(super) fn series_matching(
    store: &Store,
    db: &str,
    rp: Option<&str>,
    measurement: &str,
    condition: Option<&Expr>,
) -> Result<Vec<SeriesInfo>, ExecError> {
    let cond = Condition::new(condition, 0)?;
    let filter = cond.residual.as_ref().and_then(|e| tag_filter(e, &|_, _| true));
    let series = store.series(db, rp, &MeasurementFilter::Name(measurement.to_string()), filter.as_ref())?;
    Ok(series
        .into_iter()
        .filter(|s| {
            cond.matches(&|name, _| {
                Value::String(s.tags.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()).unwrap_or_default())
            })
        })
        .collect())
}
