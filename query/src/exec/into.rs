//! `SELECT ... INTO`: run the select, write its rows back as points.
//!
//! The select runs unchanged through the normal executor; its result
//! series are then turned into points exactly as InfluxDB does it:
//!
//! * each row is one point at the row's time; `null` columns are left out
//!   and a row without any value is not written;
//! * the measurement is the target's, or with `:MEASUREMENT` the source
//!   series' own name;
//! * the tags are the series' `GROUP BY` tags (empty values dropped); tags
//!   selected as columns without `GROUP BY` them become fields, which is
//!   InfluxDB's "tags become fields unless you `GROUP BY *`" rule;
//! * empty `GROUP BY time` buckets are not written unless `FILL` asks for a
//!   value (InfluxDB writes no `count() = 0` for an empty bucket).
//!
//! Points go through [`Store::write`], the normal durable write path (WAL,
//! field-type checks, retention). The answer is InfluxDB's
//! `{"name":"result","columns":["time","written"],"values":[[0,N]]}`.

use augur_engine::model::{FieldValue, Point};
use augur_engine::storage::Store;
use serde_json::Value as Json;

use super::value::with_typed_floats;
use super::{ExecError, ExecutionContext};
use crate::ast::{Fill, Select};
use crate::result::Series;
use crate::time::format_rfc3339_nano;

/// Points handed to the store per write call (bounds one WAL record).
const WRITE_BATCH: usize = 5_000;

/// Why an `INTO` could not write everything.
#[derive(Debug, thiserror::Error)]
pub enum IntoError {
    /// The store refused some points (type conflict, retention, series limit).
    #[error("partial write: {reason} dropped={dropped}")]
    PartialWrite {
        /// The first point's reason.
        reason: String,
        /// How many points were refused.
        dropped: usize,
    },
}

/// Runs `select` (which has an `INTO`) and writes its rows; returns the
/// `result` series with the number of points written.
pub(crate) fn run(store: &Store, select: &Select, ctx: &ExecutionContext) -> Result<Vec<Series>, ExecError> {
    let written = write_into(store, select, ctx, ctx.now())?;
    let time = match ctx.epoch {
        Some(_) => Json::from(0),
        None => Json::String(format_rfc3339_nano(0)),
    };
    let mut series = Series::new(Some("result"), &["time", "written"]);
    series.values.push(vec![time, Json::from(written)]);
    Ok(vec![series])
}

/// Runs `select` and writes its rows into its `INTO` target; returns the
/// number of points written. `now_ns` is the write time (for retention).
pub(crate) fn write_into(
    store: &Store,
    select: &Select,
    ctx: &ExecutionContext,
    now_ns: i64,
) -> Result<usize, ExecError> {
    let Some(target) = &select.into else {
        return Ok(0);
    };
    let database = ctx.database(&target.database)?.to_string();
    let rp = target.retention_policy.as_deref();
    // Fail on a missing database or policy before doing any work.
    store.fields(&database, rp, "")?;
    let mut inner = select.clone();
    inner.into = None;
    if inner.fill == Fill::Null {
        inner.fill = Fill::None;
    }
    let inner_ctx = ExecutionContext { epoch: Some(1), ..ctx.clone() };
    let results = with_typed_floats(|| super::select::run(store, &inner, &inner_ctx))?;

    let mut written = 0;
    let mut points = Vec::new();
    for series in &results {
        let floats = float_columns(series);
        let measurement = match &target.measurement {
            Some(m) => m.clone(),
            None => series.name.clone().unwrap_or_default(),
        };
        let mut tags: Vec<(String, String)> =
            series.tags.iter().flatten().filter(|(_, v)| !v.is_empty()).map(|(k, v)| (k.clone(), v.clone())).collect();
        tags.sort();
        for row in &series.values {
            let Some(time) = row.first().and_then(Json::as_i64) else { continue };
            let fields: Vec<(String, FieldValue)> = series
                .columns
                .iter()
                .zip(row)
                .zip(&floats)
                .skip(1)
                .filter_map(|((name, value), float)| field_value(value, *float).map(|v| (name.clone(), v)))
                .collect();
            if fields.is_empty() {
                continue;
            }
            points.push(Point { measurement: measurement.clone(), tags: tags.clone(), fields, timestamp: Some(time) });
            if points.len() >= WRITE_BATCH {
                written += write_batch(store, &database, rp, &points, now_ns)?;
                points.clear();
            }
        }
    }
    if !points.is_empty() {
        written += write_batch(store, &database, rp, &points, now_ns)?;
    }
    Ok(written)
}

fn write_batch(store: &Store, db: &str, rp: Option<&str>, points: &[Point], now_ns: i64) -> Result<usize, ExecError> {
    let outcome = store.write(db, rp, points, now_ns)?;
    if let Some(first) = outcome.rejected.first() {
        return Err(ExecError::Into(IntoError::PartialWrite {
            reason: first.reason.clone(),
            dropped: outcome.rejected.len(),
        }));
    }
    Ok(outcome.points_written)
}

/// For each column of `series`, whether it holds any float. Such a column
/// is a float column: its integers are fill values (`fill(0)` of a
/// `mean()`), which InfluxDB casts to the column's type.
fn float_columns(series: &Series) -> Vec<bool> {
    (0..series.columns.len()).map(|i| series.values.iter().any(|row| row.get(i).is_some_and(Json::is_f64))).collect()
}

/// A result value as a field value (`None` for null); integers become
/// floats in a float column. Floats keep their type because the select
/// ran under [`with_typed_floats`].
fn field_value(value: &Json, float_column: bool) -> Option<FieldValue> {
    match value {
        Json::Null | Json::Array(_) | Json::Object(_) => None,
        Json::Bool(b) => Some(FieldValue::Boolean(*b)),
        Json::String(s) => Some(FieldValue::String(s.clone())),
        Json::Number(n) => {
            if n.is_f64() || float_column {
                n.as_f64().map(FieldValue::Float)
            } else if let Some(i) = n.as_i64() {
                Some(FieldValue::Integer(i))
            } else {
                n.as_u64().map(FieldValue::Unsigned)
            }
        }
    }
}

#[cfg(test)]
#[path = "into_tests.rs"]
mod tests;
