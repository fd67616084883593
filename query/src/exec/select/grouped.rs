//! Aggregating selects: functions over the points of each `GROUP BY` tag
//! group, per `GROUP BY time` bucket, with `FILL`.
//!
//! InfluxDB semantics: buckets are aligned to the epoch plus the offset and
//! a bucket's time is its start; without `GROUP BY time` there is one
//! bucket whose time is the query's lower bound (the epoch when there is
//! none), except that a lone selector (`max`, `first`, ...) reports its
//! point's own time. All series of a group feed the same states, so
//! `mean(x)` of a group is the mean of all its points. Without a lower
//! time bound, buckets start at the first one holding data; without an
//! upper bound, a `GROUP BY time` query ends at `now()`.

use std::collections::{BTreeMap, HashMap};

use augur_engine::model::FieldType;
use regex::Regex;
use serde_json::Value as Json;

use super::aggregate::{self, Call, Func, State};
use super::condition::{arithmetic, eval};
use super::math;
use super::transform::Transform;
use super::typed_fold;
use super::window::{Buckets, Span};
use super::{
    field_names, fold_groups, group_tags, read_columns, read_rows, unique_names, Budget, Env, Group, SelectError,
    Target,
};
use crate::ast::{Expr, Field, Fill, RefKind};
use crate::exec::value::Value;
use crate::exec::{page, ExecError};
use crate::result::Series;

/// One output row before fill: time, values, and which columns had no point.
struct Row {
    time: i64,
    values: Vec<Value>,
    empty: Vec<bool>,
}

/// Runs the aggregating select for one measurement.
pub(super) fn run(env: &Env<'_>, target: &Target, groups: &[Group], budget: &Budget) -> Result<Vec<Series>, ExecError> {
    let select = env.select;
    let select_fields = expand_calls(&select.fields, target)?;
    if select_fields.is_empty() {
        return Ok(Vec::new());
    }
    let mut calls = Vec::new();
    // Fields without a function next to a lone selector: read at its point.
    let mut aux: Vec<(usize, Expr)> = Vec::new();
    for (i, field) in select_fields.iter().enumerate() {
        if is_aux(&field.expr) {
            aux.push((i, field.expr.clone()));
        } else {
            collect_calls(&field.expr, &mut calls)?;
        }
    }
    for call in &calls {
        check_type(call, target)?;
    }
    let distinct = calls.iter().any(|c| c.func == Func::Distinct);
    if distinct && (calls.len() != 1 || select_fields.len() != 1 || !matches!(select_fields[0].expr, Expr::Call { .. }))
    {
        return Err(SelectError::DistinctCombined.into());
    }
    if !aux.is_empty() {
        check_aux(&calls, &aux)?;
    }
    let buckets_of = Buckets::new(env);
    let range = buckets_of.range;
    if let Some(call) = calls.iter().find(|c| c.transform.is_some()) {
        if buckets_of.dim.is_none() {
            let name = call.transform.map(Transform::name).unwrap_or_default();
            return Err(SelectError::Message(format!("{name} aggregate requires a GROUP BY interval")).into());
        }
    }
    if buckets_of.dim.is_some()
        && calls.iter().any(|c| c.transform.is_some())
        && !select.descending
        && !env.cond.bounded.0
    {
        // InfluxDB 1.x answers nothing here: it moves the (absent) lower
        // bound one interval earlier, past the smallest time.
        return Ok(Vec::new());
    }
    let extended = Extension::of(env, &buckets_of, &calls);
    let mut fields: Vec<String> = calls.iter().map(|c| c.field.clone()).filter(|f| !target.is_tag(f, None)).collect();
    for (_, expr) in &aux {
        let mut names = Vec::new();
        var_refs(expr, &mut names);
        fields.extend(names.into_iter().filter(|(n, k)| !target.is_tag(n, *k)).map(|(n, _)| n));
    }
    for name in env.cond.names() {
        if !target.is_tag(&name, None) {
            fields.push(name);
        }
    }
    fields.sort();
    fields.dedup();

    // Nothing to check per row and no field read at a selector's point:
    // the typed fast path folds whole runs of each column (`typed_fold`).
    let typed = env.mem.is_none() && env.cond.residual.is_none() && aux.is_empty();
    // Fold every group's points into per-bucket states (groups run on
    // both cores; see `fold_groups`).
    let folded_groups = fold_groups(groups, |group| {
        let mut buckets: BTreeMap<i64, Vec<State>> = BTreeMap::new();
        let mut aux_points: BTreeMap<i64, AuxPoints> = BTreeMap::new();
        if typed {
            read_columns(env, target, &group.series, extended.range, &fields, budget, |data| {
                typed_fold::fold_series(data, &calls, &buckets_of, range, &mut buckets);
                Ok(())
            })?;
            integrate_across_buckets(&calls, &buckets_of, &mut buckets);
            return Ok((buckets, aux_points));
        }
        read_rows(env, target, &group.series, extended.range, &fields, budget, |data| {
            let values: Vec<Option<&Vec<Value>>> = calls.iter().map(|c| data.columns.get(&c.field)).collect();
            for (i, &t) in data.timestamps.iter().enumerate() {
                let lookup = |name: &str, kind: Option<RefKind>| data.lookup(target, i, name, kind);
                if !env.cond.matches(&lookup) {
                    continue;
                }
                // Points of the extra interval feed only the transformations.
                let in_range = t >= range.start && t <= range.end;
                let states = buckets
                    .entry(buckets_of.start_of(t))
                    .or_insert_with(|| calls.iter().map(|c| State::new(c.func)).collect());
                for ((call, state), column) in calls.iter().zip(states.iter_mut()).zip(&values) {
                    if !in_range && !call.transform.is_some_and(Transform::extends_range) {
                        continue;
                    }
                    let v = column.and_then(|c| c.get(i)).cloned().unwrap_or_default();
                    let v = super::cast::cast(v, call.cast);
                    if !v.is_null() {
                        state.push(call.func, &v, t);
                        if !aux.is_empty() && in_range {
                            let values = || aux.iter().map(|(_, e)| eval(e, &lookup, &env.cond.regexes)).collect();
                            let start = buckets_of.start_of(t);
                            aux_points.entry(start).or_default().offer(call.func, state, v, t, values);
                        }
                    }
                }
            }
            Ok(())
        })?;
        integrate_across_buckets(&calls, &buckets_of, &mut buckets);
        Ok((buckets, aux_points))
    })?;
    let (folded, folded_aux): (Vec<_>, Vec<_>) = folded_groups.into_iter().unzip();

    let span = buckets_of.span(env, folded.iter().filter_map(|b| b.keys().next().copied()).min())?;
    if span == Span::Empty {
        return Ok(Vec::new());
    }

    let names = unique_names(field_names(&select_fields));
    let mut columns = vec!["time".to_string()];
    columns.extend(names);
    let lone_selector = calls.len() == 1
        && select_fields.len() == 1 + aux.len()
        && calls[0].func.is_selector()
        && calls[0].transform.is_none();

    let parts: Vec<IntegralPart> = select_fields.iter().map(|f| IntegralPart::of(&f.expr)).collect();
    // Without GROUP BY time, float integral() cells move to a row at time 0.
    let split_parts: Vec<IntegralPart> = select_fields
        .iter()
        .zip(&parts)
        .map(|(f, part)| if IntegralPart::at_time_zero(&f.expr, target) { *part } else { IntegralPart::Without })
        .collect();
    // InfluxDB fills integral() cells (but not by fill(linear)), yet a row
    // only integral() cells would hold is not made up.
    let fillable: Vec<bool> = select_fields
        .iter()
        .zip(&parts)
        .map(|(f, part)| {
            let mut calls = Vec::new();
            !is_aux(&f.expr)
                && collect_calls(&f.expr, &mut calls).is_ok()
                && (*part != IntegralPart::Only || select.fill != Fill::Linear)
                && !calls.iter().any(|c| c.transform.is_some())
        })
        .collect();
    let makes_rows = fillable.iter().zip(&parts).any(|(f, part)| *f && *part != IntegralPart::Only);
    let kinds: Vec<Option<FieldType>> = select_fields.iter().map(|f| result_type(&f.expr, target)).collect();
    // InfluxDB fills an empty count() bucket with 0 under fill(null) only
    // (its fill iterator turns fill(null) into fill(0) for count).
    let count_empty =
        if buckets_of.dim.is_some() && select.fill == Fill::Null { Value::Integer(0) } else { Value::Null };
    let mut out = Vec::new();
    for ((group, buckets), aux_points) in groups.iter().zip(folded).zip(folded_aux) {
        if buckets.is_empty() {
            continue;
        }
        let transformed = transform_calls(&calls, &buckets, span, &buckets_of, &extended, select);
        let mut rows = Vec::new();
        let base = if env.cond.bounded.0 { range.start } else { 0 };
        for b in buckets_of.starts(span) {
            let states = buckets.get(&b);
            let aux_values = match (states.and_then(|s| s.first()), calls.first(), aux_points.get(&b)) {
                (Some(state), Some(call), Some(points)) => points.selected(state.finish(call.func)),
                _ => None,
            };
            let bucket = Bucket { states, transformed: &transformed, aux: &aux, aux_values, count_empty: &count_empty };
            match span {
                Span::Single => push_rows(&select_fields, &calls, bucket, base, lone_selector, distinct, &mut rows),
                _ => push_rows(&select_fields, &calls, bucket, b, false, distinct, &mut rows),
            }
        }
        if span == Span::Single {
            rows = split_integral(rows, &split_parts);
            // Without GROUP BY time nothing is filled: a group whose
            // functions selected no point has no row (InfluxDB).
            rows.retain(|r: &Row| !r.empty.iter().all(|e| *e));
        }
        // Fill runs in output order: with DESC, "previous" is the later bucket.
        if select.descending {
            rows.reverse();
        }
        let rows = fill(rows, select.fill, &fillable, makes_rows, &kinds);
        let values: Vec<Vec<Json>> = page(rows.into_iter(), select.limit, select.offset)
            .map(|r| {
                let mut row = vec![env.time_json(r.time)];
                row.extend(r.values.iter().map(Value::to_json));
                row
            })
            .collect();
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

/// With `GROUP BY time`, `integral` spans bucket edges (InfluxDB splits
/// the area between neighbouring points at the edge), so it is computed
/// over all buckets of a group at once.
fn integrate_across_buckets(calls: &[Call], buckets_of: &Buckets, buckets: &mut BTreeMap<i64, Vec<State>>) {
    let Some((interval, _)) = buckets_of.dim else { return };
    for (k, call) in calls.iter().enumerate() {
        let Func::Integral(unit) = call.func else { continue };
        let mut points: Vec<(i64, f64)> =
            buckets.values().flat_map(|states| states.get(k).map(State::points).unwrap_or_default()).collect();
        points.sort_by_key(|(t, _)| *t);
        let window = |t: i64| {
            let start = buckets_of.start_of(t);
            (start, if buckets_of.tz.is_some() { buckets_of.next(start) } else { start.saturating_add(interval) })
        };
        // A bucket InfluxDB emits no window for has no integral.
        for states in buckets.values_mut() {
            if let Some(state) = states.get_mut(k) {
                *state = State::Done(Value::Null);
            }
        }
        for (start, area) in aggregate::integral_windows(&points, unit, window) {
            if let Some(state) = buckets.get_mut(&start).and_then(|states| states.get_mut(k)) {
                *state = State::Done(Value::Float(area));
            }
        }
    }
}

/// One bucket's inputs: its aggregate states (`None` when no point fell
/// in it) and every transformation's output points.
struct Bucket<'a> {
    states: Option<&'a Vec<State>>,
    transformed: &'a [Option<HashMap<i64, Value>>],
    /// The fields read at the lone selector's point (index in the select
    /// list, expression).
    aux: &'a [(usize, Expr)],
    /// Their values at the selected point of this bucket.
    aux_values: Option<Vec<Value>>,
    /// What an empty `count()` shows (0 under `fill(null)`, else null).
    count_empty: &'a Value,
}

/// Appends the row(s) of one bucket. `selected`: report the lone
/// selector's point time instead of `time`.
fn push_rows(
    fields: &[Field],
    calls: &[Call],
    bucket: Bucket<'_>,
    time: i64,
    selected: bool,
    distinct: bool,
    rows: &mut Vec<Row>,
) {
    let width = fields.len();
    if distinct {
        if let Some(states) = bucket.states {
            for v in states.first().map(State::distinct).unwrap_or_default() {
                rows.push(Row { time, values: vec![v], empty: vec![false] });
            }
            return;
        }
    }
    // An empty bucket: count() shows 0, everything else null.
    let blank: Vec<State>;
    let states = match bucket.states {
        Some(states) => states,
        None => {
            blank = calls.iter().map(|c| State::new(c.func)).collect();
            &blank
        }
    };
    let mut finished: Vec<(Value, Option<i64>)> = calls
        .iter()
        .zip(states)
        .map(|(c, s)| match c.func {
            Func::Count | Func::CountDistinct if s.is_empty() => (bucket.count_empty.clone(), None),
            _ => s.finish(c.func),
        })
        .collect();
    let mut call_empty: Vec<bool> = states.iter().map(State::is_empty).collect();
    // A percentile whose rank falls outside the points selects none.
    for ((call, (value, _)), empty) in calls.iter().zip(&finished).zip(call_empty.iter_mut()) {
        if matches!(call.func, Func::Percentile(_)) && value.is_null() {
            *empty = true;
        }
    }
    for (k, out) in bucket.transformed.iter().enumerate() {
        if let Some(points) = out {
            let v = points.get(&time).cloned();
            call_empty[k] = v.is_none();
            finished[k] = (v.unwrap_or_default(), None);
        }
    }
    let results: Vec<Value> = finished.iter().map(|(v, _)| v.clone()).collect();
    let row_time = match finished.first() {
        Some((_, Some(t))) if selected => *t,
        _ => time,
    };
    let mut next = 0;
    let mut values = Vec::with_capacity(width);
    let mut empty = Vec::with_capacity(width);
    let selector_empty = call_empty.first().copied().unwrap_or(true);
    for (i, field) in fields.iter().enumerate() {
        if let Some(k) = bucket.aux.iter().position(|(at, _)| *at == i) {
            values.push(bucket.aux_values.as_ref().and_then(|v| v.get(k).cloned()).unwrap_or_default());
            empty.push(selector_empty);
            continue;
        }
        let first_call = next;
        values.push(eval_field(&field.expr, &results, &mut next));
        empty.push(call_empty[first_call..next].iter().all(|e| *e));
    }
    rows.push(Row { time: row_time, values, empty });
}

/// How far a query with transformations over aggregates reads: InfluxDB
/// reads one `GROUP BY time` interval more (before a lower time bound, or
/// after the end with `ORDER BY time DESC`) so that the first bucket of
/// the answer has a predecessor.
struct Extension {
    /// The range read.
    range: augur_engine::storage::TimeRange,
    /// The extra bucket before the first (ascending).
    before: bool,
    /// The extra bucket after the last (descending).
    after: bool,
}

impl Extension {
    fn of(env: &Env<'_>, buckets_of: &Buckets, calls: &[Call]) -> Extension {
        let mut range = buckets_of.range;
        let extends = calls.iter().any(|c| c.transform.is_some_and(Transform::extends_range));
        let (Some((interval, _)), true) = (buckets_of.dim, extends) else {
            return Extension { range, before: false, after: false };
        };
        let desc = env.select.descending;
        let before = !desc && env.cond.bounded.0;
        if before {
            range.start = range.start.saturating_sub(interval);
        }
        if desc {
            range.end = range.end.saturating_add(interval);
        }
        Extension { range, before, after: desc }
    }
}

/// Runs every transformation call over its aggregate's per-bucket results
/// (filled as `FILL` says, in output order, nulls left out): the points it
/// emits, by bucket start; `None` for calls without a transformation.
fn transform_calls(
    calls: &[Call],
    buckets: &BTreeMap<i64, Vec<State>>,
    span: Span,
    buckets_of: &Buckets,
    extended: &Extension,
    select: &crate::ast::Select,
) -> Vec<Option<HashMap<i64, Value>>> {
    let Span::Range { first, last, interval } = span else {
        return calls.iter().map(|_| None).collect();
    };
    calls
        .iter()
        .enumerate()
        .map(|(k, call)| {
            let t = call.transform?;
            let extend = t.extends_range();
            let first = if extend && extended.before { buckets_of.prev(first) } else { first };
            let last = if extend && extended.after { buckets_of.next(last) } else { last };
            let mut rows: Vec<Row> = buckets_of
                .starts(Span::Range { first, last, interval })
                .into_iter()
                .map(|b| {
                    let blank = State::new(call.func);
                    let state = buckets.get(&b).and_then(|s| s.get(k)).unwrap_or(&blank);
                    Row { time: b, values: vec![state.finish(call.func).0], empty: vec![state.is_empty()] }
                })
                .collect();
            if select.descending {
                rows.reverse();
            }
            let points: Vec<(i64, Value)> = fill(rows, select.fill, &[true], true, &[None])
                .into_iter()
                .filter_map(|r| r.values.into_iter().next().filter(|v| !v.is_null()).map(|v| (r.time, v)))
                .filter(|(_, v)| t.accepts(v))
                .collect();
            Some(t.apply(&points, select.descending, interval).into_iter().collect())
        })
        .collect()
}

/// Expands `f(*)` and `f(/re/)` into one call per matching field the
/// function accepts, named `f_field` (InfluxDB's naming).
fn expand_calls(fields: &[Field], target: &Target) -> Result<Vec<Field>, SelectError> {
    let mut out = Vec::with_capacity(fields.len());
    for field in fields {
        let Expr::Call { name, args, named } = &field.expr else {
            out.push(field.clone());
            continue;
        };
        let re = match args.first() {
            Some(Expr::Wildcard(_)) => None,
            Some(Expr::Regex(p)) => Some(Regex::new(p).map_err(|e| SelectError::BadRegex(e.to_string()))?),
            _ => {
                out.push(field.clone());
                continue;
            }
        };
        let prefix = field.alias.clone().unwrap_or_else(|| name.clone());
        for (key, ty) in &target.fields {
            if re.as_ref().is_some_and(|re| !re.is_match(key)) {
                continue;
            }
            let probe = aggregate::call(name, &replace_first(args, key))?;
            if !accepts(probe.func, *ty) {
                continue;
            }
            out.push(Field {
                expr: Expr::Call { name: name.clone(), args: replace_first(args, key), named: named.clone() },
                alias: Some(format!("{prefix}_{key}")),
            });
        }
    }
    Ok(out)
}

/// `args` with the first one replaced by a reference to `field`.
fn replace_first(args: &[Expr], field: &str) -> Vec<Expr> {
    let mut args = args.to_vec();
    if let Some(first) = args.first_mut() {
        *first = Expr::VarRef { name: field.to_string(), kind: Some(RefKind::Field) };
    }
    args
}

/// Whether a function accepts values of a field type.
fn accepts(func: Func, ty: FieldType) -> bool {
    let numeric = matches!(ty, FieldType::Float | FieldType::Integer | FieldType::Unsigned);
    numeric
        || matches!(func, Func::Count | Func::CountDistinct | Func::First | Func::Last | Func::Distinct | Func::Mode)
        || (ty == FieldType::Boolean && matches!(func, Func::Min | Func::Max))
}

/// Refuses a numeric function over a string or boolean field, as InfluxDB does.
fn check_type(call: &Call, target: &Target) -> Result<(), SelectError> {
    match super::cast::cast_type(target.fields.get(&call.field).copied(), call.cast) {
        Some(ty) if !accepts(call.func, ty) => {
            Err(SelectError::FieldType { func: call.name.clone(), field_type: ty.influx_name().to_string() })
        }
        _ => Ok(()),
    }
}

/// Collects the calls of a field expression, in evaluation order.
fn collect_calls(expr: &Expr, out: &mut Vec<Call>) -> Result<(), SelectError> {
    match expr {
        Expr::Call { name, args, .. } if math::is_math(name) => {
            math::check(name, args.len())?;
            args.iter().try_for_each(|a| collect_calls(a, out))
        }
        Expr::Call { name, args, .. } => {
            out.push(aggregate::call(name, args)?);
            Ok(())
        }
        Expr::Binary { lhs, rhs, .. } => {
            collect_calls(lhs, out)?;
            collect_calls(rhs, out)
        }
        Expr::Paren(inner) => collect_calls(inner, out),
        Expr::VarRef { .. } | Expr::Wildcard(_) | Expr::Regex(_) => Err(SelectError::Mixing),
        Expr::Integer(_) | Expr::Number(_) | Expr::String(_) | Expr::Boolean(_) | Expr::Duration(_) => Ok(()),
    }
}

/// Evaluates a field expression with each call replaced by its result
/// (math functions are applied to their evaluated arguments).
pub(super) fn eval_field(expr: &Expr, results: &[Value], next: &mut usize) -> Value {
    match expr {
        Expr::Call { name, args, .. } if math::is_math(name) => {
            let args: Vec<Value> = args.iter().map(|a| eval_field(a, results, next)).collect();
            math::apply(name, &args)
        }
        Expr::Call { .. } => {
            let v = results.get(*next).cloned().unwrap_or_default();
            *next += 1;
            v
        }
        Expr::Binary { op, lhs, rhs } => {
            let l = eval_field(lhs, results, next);
            let r = eval_field(rhs, results, next);
            arithmetic(*op, &l, &r)
        }
        Expr::Paren(inner) => eval_field(inner, results, next),
        Expr::Integer(n) => Value::Integer(*n),
        Expr::Number(n) => Value::Float(*n),
        Expr::String(s) => Value::String(s.clone()),
        Expr::Boolean(b) => Value::Boolean(*b),
        Expr::Duration(d) => Value::Integer(*d),
        Expr::VarRef { .. } | Expr::Wildcard(_) | Expr::Regex(_) => Value::Null,
    }
}

/// Applies `FILL` to the empty cells of the rows of one group. Columns
/// that are not `fillable` (`integral()` under `fill(linear)`) stay null,
/// and a row whose cells are all empty goes unless a column that
/// `makes_rows` may be filled (`fill(none)`, or only `integral()` cells).
/// A `fill(<number>)` is cast to each column's type (`kinds`, when known),
/// as InfluxDB's fill iterators cast it: truncated for integers, `""` for
/// strings, `false` for booleans.
fn fill(mut rows: Vec<Row>, mode: Fill, fillable: &[bool], makes_rows: bool, kinds: &[Option<FieldType>]) -> Vec<Row> {
    let drop_empty = mode == Fill::None || !makes_rows;
    if drop_empty {
        rows.retain(|r| !r.empty.iter().all(|e| *e));
    }
    for r in &mut rows {
        for (empty, can) in r.empty.iter_mut().zip(fillable) {
            if !can && *empty {
                // Leave it null and out of fill's reach.
                *empty = false;
            }
        }
    }
    match mode {
        Fill::Null | Fill::None => rows,
        Fill::Number(_) | Fill::Integer(_) => {
            let v = match mode {
                Fill::Integer(n) => Value::Integer(n),
                Fill::Number(n) => Value::Float(n),
                _ => Value::Null,
            };
            let per_column: Vec<Value> = (0..rows.first().map_or(0, |r| r.values.len()))
                .map(|c| cast_fill(&v, kinds.get(c).copied().flatten()))
                .collect();
            for r in &mut rows {
                for ((value, empty), v) in r.values.iter_mut().zip(&r.empty).zip(&per_column) {
                    if *empty {
                        *value = v.clone();
                    }
                }
            }
            rows
        }
        Fill::Previous => {
            let width = rows.first().map_or(0, |r| r.values.len());
            let mut prev = vec![Value::Null; width];
            for r in &mut rows {
                for (c, (value, empty)) in r.values.iter_mut().zip(&r.empty).enumerate() {
                    if *empty {
                        *value = prev.get(c).cloned().unwrap_or_default();
                    } else if let Some(p) = prev.get_mut(c) {
                        *p = value.clone();
                    }
                }
            }
            rows
        }
        Fill::Linear => {
            linear(&mut rows);
            rows
        }
    }
}

/// Linear interpolation of empty cells between their non-empty neighbours
/// (no extrapolation at either end).
fn linear(rows: &mut [Row]) {
    let width = rows.first().map_or(0, |r| r.values.len());
    for c in 0..width {
        let known: Vec<usize> = (0..rows.len()).filter(|&i| !rows[i].empty.get(c).copied().unwrap_or(true)).collect();
        for pair in known.windows(2) {
            let (a, b) = (pair[0], pair[1]);
            let (ta, tb) = (rows[a].time, rows[b].time);
            let (va, vb) = (rows[a].values[c].clone(), rows[b].values[c].clone());
            for row in &mut rows[a + 1..b] {
                // InfluxDB's formula: slope * elapsed + start, then (for
                // integers) truncated.
                let elapsed = row.time.saturating_sub(ta) as f64;
                let span = tb.saturating_sub(ta) as f64;
                row.values[c] = match (&va, &vb) {
                    (Value::Integer(x), Value::Integer(y)) => {
                        Value::Integer((y.wrapping_sub(*x) as f64 / span * elapsed + *x as f64) as i64)
                    }
                    (Value::Unsigned(x), Value::Unsigned(y)) => {
                        Value::Unsigned((y.wrapping_sub(*x) as f64 / span * elapsed + *x as f64) as u64)
                    }
                    _ => match (va.as_f64(), vb.as_f64()) {
                        (Some(x), Some(y)) => Value::Float((y - x) / span * elapsed + x),
                        _ => Value::Null,
                    },
                };
            }
        }
    }
}

/// The fill value `v` as a column of type `kind` holds it.
fn cast_fill(v: &Value, kind: Option<FieldType>) -> Value {
    let n = v.as_f64().unwrap_or(0.0);
    match (kind, v) {
        (Some(FieldType::Float), _) => Value::Float(n),
        (Some(FieldType::Integer), Value::Integer(i)) => Value::Integer(*i),
        (Some(FieldType::Integer), _) => Value::Integer(n as i64),
        (Some(FieldType::Unsigned), Value::Integer(i)) => Value::Unsigned(*i as u64),
        (Some(FieldType::Unsigned), _) => Value::Unsigned(n as u64),
        (Some(FieldType::String), _) => Value::String(String::new()),
        (Some(FieldType::Boolean), _) => Value::Boolean(false),
        (None, v) => v.clone(),
    }
}

/// The type of a select field that is one function call (`None` for
/// expressions, transformations and anything else).
fn result_type(expr: &Expr, target: &Target) -> Option<FieldType> {
    let expr = match expr {
        Expr::Paren(inner) => inner,
        e => e,
    };
    let Expr::Call { name, args, .. } = expr else { return None };
    if math::is_math(name) {
        return None;
    }
    let call = aggregate::call(name, args).ok()?;
    if call.transform.is_some() {
        return None;
    }
    let field = || super::cast::cast_type(target.fields.get(&call.field).copied(), call.cast);
    match call.func {
        Func::Count | Func::CountDistinct => Some(FieldType::Integer),
        Func::Mean | Func::Median | Func::Stddev | Func::Integral(_) => Some(FieldType::Float),
        Func::Sum
        | Func::Spread
        | Func::Min
        | Func::Max
        | Func::First
        | Func::Last
        | Func::Percentile(_)
        | Func::Mode
        | Func::Distinct => field(),
    }
}

/// Whether a select field reads the point's fields or tags without any
/// function (`host` in `SELECT max(v), host`).
fn is_aux(expr: &Expr) -> bool {
    if super::has_aggregate(expr) {
        return false;
    }
    let mut names = Vec::new();
    var_refs(expr, &mut names);
    !names.is_empty()
}

/// The variables an expression references, with their `::` kinds.
fn var_refs(expr: &Expr, out: &mut Vec<(String, Option<RefKind>)>) {
    match expr {
        Expr::VarRef { name, kind } => out.push((name.clone(), *kind)),
        Expr::Call { args, .. } => args.iter().for_each(|a| var_refs(a, out)),
        Expr::Binary { lhs, rhs, .. } => {
            var_refs(lhs, out);
            var_refs(rhs, out);
        }
        Expr::Paren(inner) => var_refs(inner, out),
        _ => {}
    }
}

/// Fields and tags may sit next to one selector only, as in InfluxDB.
fn check_aux(calls: &[Call], aux: &[(usize, Expr)]) -> Result<(), SelectError> {
    let selectors = calls.iter().all(|c| c.func.is_selector() && c.transform.is_none());
    if !selectors || calls.is_empty() {
        return Err(SelectError::Mixing);
    }
    if calls.len() > 1 {
        return Err(SelectError::Message(
            "mixing multiple selector functions with tags or fields is not supported".into(),
        ));
    }
    let _ = aux;
    Ok(())
}

/// The values of the fields read next to a lone selector, at the points
/// that may be selected in one bucket.
#[derive(Default)]
enum AuxPoints {
    /// Nothing offered yet.
    #[default]
    None,
    /// At the point `min`/`max`/`first`/`last` holds now.
    Best(Vec<Value>),
    /// At every point (`percentile` picks its point at the end).
    All(Vec<(Value, i64, Vec<Value>)>),
}

impl AuxPoints {
    /// Records the values at the point (`v`, `t`) just folded into `state`.
    fn offer(&mut self, func: Func, state: &State, v: Value, t: i64, values: impl FnOnce() -> Vec<Value>) {
        if let Func::Percentile(_) = func {
            if !matches!(self, AuxPoints::All(_)) {
                *self = AuxPoints::All(Vec::new());
            }
            if let AuxPoints::All(all) = self {
                all.push((v, t, values()));
            }
        } else if state.finish(func) == (v, Some(t)) {
            *self = AuxPoints::Best(values());
        }
    }

    /// The values at the selected point `(value, time)`.
    fn selected(&self, (value, time): (Value, Option<i64>)) -> Option<Vec<Value>> {
        match self {
            AuxPoints::None => None,
            AuxPoints::Best(values) => Some(values.clone()),
            AuxPoints::All(all) => {
                all.iter().find(|(v, t, _)| *v == value && Some(*t) == time).map(|(_, _, values)| values.clone())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(time: i64, v: Value) -> Row {
        let empty = v.is_null();
        Row { time, values: vec![v], empty: vec![empty] }
    }

    #[test]
    fn linear_truncates_integers_as_influxdb() {
        // influxd: between 10 and 3, half way is int64(6.5) = 6.
        let mut rows = vec![row(0, Value::Integer(10)), row(60, Value::Null), row(120, Value::Integer(3))];
        linear(&mut rows);
        assert_eq!(rows[1].values[0], Value::Integer(6));
        let mut rows = vec![row(0, Value::Float(1.0)), row(1, Value::Null), row(4, Value::Float(3.0))];
        linear(&mut rows);
        assert_eq!(rows[1].values[0], Value::Float(1.5));
    }

    #[test]
    fn fill_numbers_are_cast_to_the_column_type() {
        let v = Value::Float(-1.5);
        assert_eq!(cast_fill(&v, Some(FieldType::Integer)), Value::Integer(-1));
        assert_eq!(cast_fill(&v, Some(FieldType::Float)), Value::Float(-1.5));
        assert_eq!(cast_fill(&v, Some(FieldType::String)), Value::String(String::new()));
        assert_eq!(cast_fill(&Value::Integer(100), Some(FieldType::Boolean)), Value::Boolean(false));
        assert_eq!(cast_fill(&Value::Integer(100), Some(FieldType::Float)), Value::Float(100.0));
        assert_eq!(cast_fill(&v, None), v);
    }
}

/// How a select field relates to `integral()`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum IntegralPart {
    /// Its functions are all `integral()`.
    Only,
    /// It calls no `integral()` (or nothing at all).
    Without,
    /// It mixes `integral()` with other functions.
    Mixed,
}

impl IntegralPart {
    fn of(expr: &Expr) -> IntegralPart {
        let mut calls = Vec::new();
        if collect_calls(expr, &mut calls).is_err() || calls.is_empty() {
            return IntegralPart::Without;
        }
        let integral = calls.iter().filter(|c| matches!(c.func, Func::Integral(_)) && c.transform.is_none()).count();
        match integral {
            0 => IntegralPart::Without,
            n if n == calls.len() => IntegralPart::Only,
            _ => IntegralPart::Mixed,
        }
    }

    /// Whether, without `GROUP BY time`, the field is reported at time 0:
    /// InfluxDB's float integral does that, its integer and unsigned ones
    /// report at the query's start like every other function.
    fn at_time_zero(expr: &Expr, target: &Target) -> bool {
        let mut calls = Vec::new();
        if collect_calls(expr, &mut calls).is_err() {
            return false;
        }
        calls.iter().any(|c| {
            let ty = super::cast::cast_type(target.fields.get(&c.field).copied(), c.cast);
            matches!(c.func, Func::Integral(_)) && !matches!(ty, Some(FieldType::Integer | FieldType::Unsigned))
        })
    }
}

/// Without `GROUP BY time`, InfluxDB reports `integral()` of a float at
/// time 0 while the other functions report the query's start: with a lower
/// time bound that makes two rows (integral cells in the first, the others
/// in the second; a field mixing both is null in each).
fn split_integral(rows: Vec<Row>, parts: &[IntegralPart]) -> Vec<Row> {
    if !parts.iter().any(|p| *p != IntegralPart::Without) {
        return rows;
    }
    let others = parts.iter().any(|p| *p != IntegralPart::Only);
    let mut out = Vec::with_capacity(rows.len() * 2);
    for row in rows {
        if !others || row.time == 0 {
            out.push(Row { time: 0, ..row });
            continue;
        }
        let keep = |want: IntegralPart| {
            let mut values = Vec::with_capacity(parts.len());
            let mut empty = Vec::with_capacity(parts.len());
            for ((v, e), part) in row.values.iter().zip(&row.empty).zip(parts) {
                let kept = *part == want;
                values.push(if kept { v.clone() } else { Value::Null });
                empty.push(if kept { *e } else { true });
            }
            (values, empty)
        };
        let (values, empty) = keep(IntegralPart::Only);
        out.push(Row { time: 0, values, empty });
        let (values, empty) = keep(IntegralPart::Without);
        out.push(Row { time: row.time, values, empty });
    }
    out
}
