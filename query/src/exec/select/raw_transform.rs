//! Transformations over raw field values: `SELECT derivative(v),
//! cumulative_sum(w) FROM cpu ...` without aggregates.
//!
//! InfluxDB semantics: the points of every series of a result group are
//! joined into one stream per call, in time order (equal times in series
//! key order; reversed with `ORDER BY time DESC`), nulls left out, and
//! each stream is transformed on its own. The output streams are then
//! zipped by time into rows: a row for each time at which some call
//! emitted a point, taking at most one point per call (so two calls that
//! both emit twice at one time give two rows), the other cells null.
//! `LIMIT`/`OFFSET` apply to those rows. Transformations cannot be mixed
//! with bare fields or aggregates (`mixing aggregate and non-aggregate
//! queries is not supported`).
//!
//! Memory: a group's points of the called fields are held while the
//! group is transformed; the query's point budget bounds them.

use serde_json::Value as Json;

use super::grouped::eval_field;
use super::transform::{self, Transform};
use super::{field_names, group_tags, math, read_rows, unique_names, Budget, Env, Group, SelectError, Target};
use crate::ast::{Expr, RefKind};
use crate::exec::value::Value;
use crate::exec::{page, ExecError};
use crate::result::Series;

/// A transformation of one field.
#[derive(Debug)]
struct RawCall {
    transform: Transform,
    field: String,
    kind: Option<RefKind>,
}

/// Collects the transformation calls of a field expression in evaluation order.
fn collect(expr: &Expr, out: &mut Vec<RawCall>) -> Result<(), SelectError> {
    match expr {
        Expr::Call { name, args, .. } if math::is_math(name) => {
            math::check(name, args.len())?;
            args.iter().try_for_each(|a| collect(a, out))
        }
        Expr::Call { name, args, .. } if transform::is_transform(name) => {
            let (t, inner) = transform::parse(name, args)?;
            match inner {
                Expr::VarRef { name: field, kind } => {
                    out.push(RawCall { transform: t, field: field.clone(), kind: *kind });
                    Ok(())
                }
                Expr::Call { .. } => Err(SelectError::Mixing),
                _ => Err(SelectError::Argument { name: name.clone(), what: "field" }),
            }
        }
        Expr::Binary { lhs, rhs, .. } => {
            collect(lhs, out)?;
            collect(rhs, out)
        }
        Expr::Paren(inner) => collect(inner, out),
        Expr::Integer(_) | Expr::Number(_) | Expr::String(_) | Expr::Boolean(_) | Expr::Duration(_) => Ok(()),
        Expr::Call { .. } | Expr::VarRef { .. } | Expr::Wildcard(_) | Expr::Regex(_) => Err(SelectError::Mixing),
    }
}

/// Runs a select of raw-field transformations for one measurement.
pub(super) fn run(env: &Env<'_>, target: &Target, groups: &[Group], budget: &Budget) -> Result<Vec<Series>, ExecError> {
    let select = env.select;
    let mut calls = Vec::new();
    for field in &select.fields {
        collect(&field.expr, &mut calls)?;
    }
    if let Some(call) = calls.first() {
        if select.dimensions.iter().any(|d| matches!(d, crate::ast::Dimension::Time { interval, .. } if *interval > 0))
        {
            let name = call.transform.name();
            return Err(SelectError::Message(format!("aggregate function required inside the call to {name}")).into());
        }
    }
    for (call, field) in calls.iter().zip(select.fields.iter().flat_map(|f| call_names(&f.expr))) {
        if let Some(ty) = super::cast::cast_type(target.fields.get(&call.field).copied(), call.kind) {
            let numeric = matches!(
                ty,
                augur_engine::model::FieldType::Float
                    | augur_engine::model::FieldType::Integer
                    | augur_engine::model::FieldType::Unsigned
            );
            if !numeric && !matches!(call.transform, Transform::Elapsed { .. }) {
                return Err(SelectError::FieldType { func: field, field_type: ty.influx_name().to_string() }.into());
            }
        }
    }
    let mut fields: Vec<String> =
        calls.iter().filter(|c| !target.is_tag(&c.field, c.kind)).map(|c| c.field.clone()).collect();
    if fields.is_empty() {
        return Ok(Vec::new());
    }
    fields.extend(env.cond.names().into_iter().filter(|n| !target.is_tag(n, None)));
    fields.sort();
    fields.dedup();
    let desc = select.descending;
    let mut columns = vec!["time".to_string()];
    columns.extend(unique_names(field_names(&select.fields)));

    let mut out = Vec::new();
    for group in groups {
        let mut points: Vec<Vec<(i64, Value)>> = calls.iter().map(|_| Vec::new()).collect();
        read_rows(env, target, &group.series, env.cond.range, &fields, budget, |data| {
            for (i, &t) in data.timestamps.iter().enumerate() {
                let lookup = |name: &str, kind: Option<RefKind>| data.lookup(target, i, name, kind);
                if !env.cond.matches(&lookup) {
                    continue;
                }
                for (call, pts) in calls.iter().zip(points.iter_mut()) {
                    let v = data.columns.get(&call.field).and_then(|c| c.get(i)).cloned().unwrap_or_default();
                    let v = super::cast::cast(v, call.kind);
                    if !v.is_null() && call.transform.accepts(&v) {
                        pts.push((t, v));
                    }
                }
            }
            Ok(())
        })?;
        let streams: Vec<Vec<(i64, Value)>> = calls
            .iter()
            .zip(points)
            .map(|(call, mut pts)| {
                // Series arrive in key order: a stable sort keeps it for equal times.
                pts.sort_by_key(|(t, _)| *t);
                if desc {
                    pts.reverse();
                }
                call.transform.apply(&pts, desc, 1_000_000_000)
            })
            .collect();
        let rows = zip(streams, desc).map(|(time, results)| {
            let mut next = 0;
            let mut row = vec![env.time_json(time)];
            row.extend(select.fields.iter().map(|f| eval_field(&f.expr, &results, &mut next).to_json()));
            row
        });
        let values: Vec<Vec<Json>> = page(rows, select.limit, select.offset).collect();
        if values.is_empty() {
            continue;
        }
        out.push(Series {
            name: Some(target.measurement.clone()),
            tags: group_tags(env, group),
            columns: columns.clone(),
            values,
        });
    }
    Ok(out)
}

/// The names of the transformation calls of an expression, in order.
fn call_names(expr: &Expr) -> Vec<String> {
    match expr {
        Expr::Call { name, .. } if transform::is_transform(name) => vec![name.clone()],
        Expr::Call { args, .. } => args.iter().flat_map(call_names).collect(),
        Expr::Binary { lhs, rhs, .. } => {
            let mut out = call_names(lhs);
            out.extend(call_names(rhs));
            out
        }
        Expr::Paren(inner) => call_names(inner),
        _ => Vec::new(),
    }
}

/// Zips time-ordered streams into rows: one row per time at which some
/// stream has a point, taking at most one point per stream (InfluxDB's
/// row building); a stream without a point at that time gives null.
pub(crate) fn zip(streams: Vec<Vec<(i64, Value)>>, descending: bool) -> impl Iterator<Item = (i64, Vec<Value>)> {
    let mut iters: Vec<std::iter::Peekable<std::vec::IntoIter<(i64, Value)>>> =
        streams.into_iter().map(|s| s.into_iter().peekable()).collect();
    std::iter::from_fn(move || {
        let heads = iters.iter_mut().filter_map(|it| it.peek().map(|(t, _)| *t));
        let time = if descending { heads.max()? } else { heads.min()? };
        let values = iters
            .iter_mut()
            .map(|it| match it.peek() {
                Some((t, _)) if *t == time => it.next().map(|(_, v)| v).unwrap_or_default(),
                _ => Value::Null,
            })
            .collect();
        Some((time, values))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zip_takes_one_point_per_stream_and_time() {
        let i = Value::Integer;
        let a = vec![(1, i(1)), (1, i(3)), (5, i(6))];
        let b = vec![(1, i(0)), (3, i(7))];
        let rows: Vec<_> = zip(vec![a, b], false).collect();
        assert_eq!(
            rows,
            vec![
                (1, vec![i(1), i(0)]),
                (1, vec![i(3), Value::Null]),
                (3, vec![Value::Null, i(7)]),
                (5, vec![i(6), Value::Null])
            ]
        );
    }
}
