//! Subqueries: `SELECT ... FROM (SELECT ...)`.
//!
//! InfluxDB semantics: every row of the inner query becomes a point of the
//! outer one — the inner result series' name is the measurement, its
//! `GROUP BY` tags are the point's tags, its columns (other than `time`)
//! are fields, null cells are absent. The outer query's time range is
//! added to the inner query's `WHERE`, so the inner one reads only what
//! the outer one can use. Subqueries nest to any depth (each level runs the
//! level below it first).
//!
//! Why in memory: the inner result is already bounded by the inner
//! query's point and bucket limits, and the outer query charges every
//! point it reads from it against its own budget, so holding it costs no
//! more than the inner query's answer; the outer executors read it through
//! the same [`super::read_rows`] / series-group path as stored data.

use std::collections::{BTreeMap, HashMap, HashSet};

use augur_engine::model::FieldType;
use augur_engine::storage::{SeriesInfo, TimeRange};
use serde_json::Value as Json;

use super::{Budget, Rows, SelectError, Target};
use crate::ast::{BinaryOp, Expr, Select};
use crate::exec::value::Value;
use crate::exec::ExecError;
use crate::result::Series;

/// The rows of the subqueries of a `FROM` clause, as series of points.
#[derive(Debug, Default)]
pub(crate) struct MemSource {
    measurements: BTreeMap<String, MemMeasurement>,
}

#[derive(Debug, Default)]
struct MemMeasurement {
    fields: BTreeMap<String, FieldType>,
    series: Vec<MemSeries>,
}

/// Timestamps and field columns of the rows of one series being built.
type Columns = (Vec<i64>, HashMap<String, Vec<Value>>);

#[derive(Debug)]
struct MemSeries {
    info: SeriesInfo,
    timestamps: Vec<i64>,
    columns: HashMap<String, Vec<Value>>,
}

impl MemSource {
    /// Adds the result series of an inner query (run with `epoch=ns`, so
    /// `time` is an integer). Columns named in `tag_columns` (tags the
    /// inner query selected) become tags of their rows, not fields.
    pub(crate) fn add(&mut self, results: Vec<Series>, tag_columns: &HashSet<String>) {
        for s in results {
            let name = s.name.clone().unwrap_or_default();
            let m = self.measurements.entry(name.clone()).or_default();
            let group_tags: Vec<(String, String)> = s.tags.clone().unwrap_or_default().into_iter().collect();
            let time_at = s.columns.iter().position(|c| c == "time");
            let mut split: BTreeMap<Vec<(String, String)>, Columns> = BTreeMap::new();
            for row in &s.values {
                let mut tags = group_tags.clone();
                for (i, col) in s.columns.iter().enumerate() {
                    if tag_columns.contains(col) {
                        if let Some(Json::String(v)) = row.get(i) {
                            tags.retain(|(k, _)| k != col);
                            tags.push((col.clone(), v.clone()));
                        }
                    }
                }
                tags.sort();
                let (timestamps, columns) = split.entry(tags).or_default();
                timestamps.push(time_at.and_then(|i| row.get(i)).and_then(Json::as_i64).unwrap_or(0));
                for (i, col) in s.columns.iter().enumerate() {
                    if Some(i) == time_at || tag_columns.contains(col) {
                        continue;
                    }
                    let v = row.get(i).map_or(Value::Null, from_json);
                    if let Some(ty) = field_type(&v) {
                        let slot = m.fields.entry(col.clone()).or_insert(ty);
                        if *slot == FieldType::Integer && ty == FieldType::Float {
                            *slot = FieldType::Float;
                        }
                    }
                    columns.entry(col.clone()).or_default().push(v);
                }
            }
            for (tags, (timestamps, mut columns)) in split {
                let mut key = name.clone();
                for (k, v) in &tags {
                    key.push_str(&format!(",{k}={v}"));
                }
                // Rows of one series in time order (ties keep their order).
                let mut order: Vec<usize> = (0..timestamps.len()).collect();
                order.sort_by_key(|&i| timestamps[i]);
                let timestamps: Vec<i64> = order.iter().map(|&i| timestamps[i]).collect();
                for values in columns.values_mut() {
                    *values = order.iter().map(|&i| values.get(i).cloned().unwrap_or_default()).collect();
                }
                let id = u32::try_from(m.series.len()).unwrap_or(u32::MAX);
                m.series.push(MemSeries {
                    info: SeriesInfo { id, key, measurement: name.clone(), tags },
                    timestamps,
                    columns,
                });
            }
        }
    }

    /// One target per measurement, sorted by name.
    pub(crate) fn targets(&self) -> Vec<Target> {
        self.measurements
            .iter()
            .map(|(name, m)| Target {
                db: String::new(),
                rp: None,
                measurement: name.clone(),
                fields: m.fields.clone(),
            })
            .collect()
    }

    /// The series of a measurement.
    pub(crate) fn series(&self, measurement: &str) -> Vec<SeriesInfo> {
        self.measurements
            .get(measurement)
            .map(|m| m.series.iter().map(|s| s.info.clone()).collect())
            .unwrap_or_default()
    }

    /// Calls `each` with the rows of every series that has some in `range`,
    /// charging them to `budget`.
    pub(crate) fn read(
        &self,
        target: &Target,
        series: &[SeriesInfo],
        range: TimeRange,
        fields: &[String],
        budget: &Budget,
        mut each: impl FnMut(Rows<'_>) -> Result<(), SelectError>,
    ) -> Result<(), ExecError> {
        let Some(m) = self.measurements.get(&target.measurement) else { return Ok(()) };
        for info in series {
            let Some(s) = m.series.iter().find(|s| s.info.id == info.id) else { continue };
            let keep: Vec<usize> = (0..s.timestamps.len())
                .filter(|&i| s.timestamps[i] >= range.start && s.timestamps[i] <= range.end)
                .collect();
            if keep.is_empty() {
                continue;
            }
            budget.take(keep.len())?;
            let columns = fields
                .iter()
                .filter_map(|f| {
                    let col = s.columns.get(f)?;
                    Some((f.clone(), keep.iter().map(|&i| col.get(i).cloned().unwrap_or_default()).collect()))
                })
                .collect();
            let timestamps = keep.iter().map(|&i| s.timestamps[i]).collect();
            each(Rows { series: info, timestamps, columns })?;
        }
        Ok(())
    }
}

/// A JSON cell back as a value (floats without a fraction come back as
/// integers, which print the same).
fn from_json(v: &Json) -> Value {
    match v {
        Json::Null => Value::Null,
        Json::Bool(b) => Value::Boolean(*b),
        Json::String(s) => Value::String(s.clone()),
        Json::Number(n) => {
            if let Some(i) = n.as_i64() {
                Value::Integer(i)
            } else if let Some(u) = n.as_u64() {
                Value::Unsigned(u)
            } else {
                n.as_f64().map_or(Value::Null, Value::Float)
            }
        }
        Json::Array(_) | Json::Object(_) => Value::Null,
    }
}

fn field_type(v: &Value) -> Option<FieldType> {
    Some(match v {
        Value::Null => return None,
        Value::Float(_) => FieldType::Float,
        Value::Integer(_) => FieldType::Integer,
        Value::Unsigned(_) => FieldType::Unsigned,
        Value::Boolean(_) => FieldType::Boolean,
        Value::String(_) => FieldType::String,
    })
}

/// The inner query with the outer query's time range added to its `WHERE`.
pub(crate) fn with_time_range(inner: &Select, range: TimeRange, bounded: (bool, bool)) -> Select {
    let mut inner = inner.clone();
    let time = || Expr::VarRef { name: "time".into(), kind: None };
    let mut conds = Vec::new();
    if bounded.0 {
        conds.push(Expr::binary(BinaryOp::Gte, time(), Expr::Integer(range.start)));
    }
    if bounded.1 {
        conds.push(Expr::binary(BinaryOp::Lte, time(), Expr::Integer(range.end)));
    }
    for c in conds {
        inner.condition = Some(match inner.condition.take() {
            None => c,
            Some(existing) => Expr::binary(BinaryOp::And, Expr::Paren(Box::new(existing)), c),
        });
    }
    inner
}
