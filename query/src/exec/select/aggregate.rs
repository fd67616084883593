//! Aggregate and selector functions: their accumulating state for one
//! bucket and how each finishes into a value.
//!
//! Why states: points arrive series by series, batch by batch, so each
//! function folds points one at a time into a small state per bucket (a
//! count, a running sum, the best point so far); only the functions that
//! need every value (`median`, `percentile`, `mode`, `distinct`) keep them.
//! Semantics follow InfluxDB 1.x: `stddev` is the sample deviation,
//! `median` of an even count averages the middle two, `percentile` picks
//! the point at rank `floor(n * p / 100 + 0.5)`, `mode` breaks ties by the
//! value seen first, `first`/`last` on equal times keep the greater value
//! (but `first` of booleans `false`), `distinct` lists values in the order
//! they were first seen.

use std::cmp::Ordering;

use super::transform::{self, Transform};
use super::SelectError;
use crate::ast::{Expr, RefKind};
use crate::exec::value::Value;

/// An aggregate function of the select list.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Func {
    /// `count(f)`
    Count,
    /// `mean(f)`
    Mean,
    /// `sum(f)`
    Sum,
    /// `min(f)`
    Min,
    /// `max(f)`
    Max,
    /// `first(f)`
    First,
    /// `last(f)`
    Last,
    /// `median(f)`
    Median,
    /// `spread(f)`
    Spread,
    /// `stddev(f)`
    Stddev,
    /// `percentile(f, p)`
    Percentile(f64),
    /// `distinct(f)`
    Distinct,
    /// `mode(f)`
    Mode,
    /// `count(distinct(f))`: the number of distinct values.
    CountDistinct,
    /// `integral(f[, unit])`: the area under the points (trapezoids), per unit (ns).
    Integral(i64),
}

/// Functions InfluxQL has that Augur does not run yet.
const NOT_YET: &[&str] = &["exponential_moving_average"];

/// One call of the select list: the function and the field it reads.
#[derive(Debug, Clone)]
pub(crate) struct Call {
    /// The function's name.
    pub name: String,
    /// The function.
    pub func: Func,
    /// The field argument.
    pub field: String,
    /// A transformation applied to the aggregate's per-bucket results
    /// (`derivative(mean(v))`).
    pub transform: Option<Transform>,
    /// `::float` etc. on the field (`mean(v::integer)`).
    pub cast: Option<RefKind>,
}

impl Func {
    /// Whether the function returns one of its points (so, without
    /// `GROUP BY time`, that point's time).
    pub(crate) fn is_selector(self) -> bool {
        matches!(self, Func::Min | Func::Max | Func::First | Func::Last | Func::Percentile(_))
    }
}

/// Whether `value` replaces `held` as `first` (`last`: `!first`) at an
/// equal time: InfluxDB keeps the greater value, except that its boolean
/// `first` keeps `false` (its reducers' tie rules; with points of more
/// than two series at one time its answer also depends on its merge order).
fn wins_tie(value: &Value, held: &Value, first: bool) -> bool {
    match (value, held) {
        (Value::Boolean(new), Value::Boolean(old)) if first => !*new && *old,
        _ => value.compare(held) == Some(Ordering::Greater),
    }
}

/// Parses `name(args)` into a [`Call`].
pub(crate) fn call(name: &str, args: &[Expr]) -> Result<Call, SelectError> {
    let arity = |expected: usize| {
        if args.len() == expected {
            Ok(())
        } else {
            Err(SelectError::Arity { name: name.to_string(), expected, got: args.len() })
        }
    };
    if transform::is_transform(name) {
        let (t, inner) = transform::parse(name, args)?;
        let Expr::Call { name: inner_name, args: inner_args, .. } = inner else {
            return Err(SelectError::Message(format!("aggregate function required inside the call to {name}")));
        };
        if transform::is_transform(inner_name) {
            return Err(SelectError::Unsupported(format!("{name}({inner_name}(...)) (nested transformations)")));
        }
        let inner = call(inner_name, inner_args)?;
        return Ok(Call { transform: Some(t), ..inner });
    }
    let func = match name {
        "count" => Func::Count,
        "mean" => Func::Mean,
        "sum" => Func::Sum,
        "min" => Func::Min,
        "max" => Func::Max,
        "first" => Func::First,
        "last" => Func::Last,
        "median" => Func::Median,
        "spread" => Func::Spread,
        "stddev" => Func::Stddev,
        "distinct" => Func::Distinct,
        "mode" => Func::Mode,
        "percentile" => {
            arity(2)?;
            let p = match &args[1] {
                Expr::Integer(n) => *n as f64,
                Expr::Number(n) => *n,
                _ => return Err(SelectError::Argument { name: name.into(), what: "float" }),
            };
            Func::Percentile(p)
        }
        "integral" => {
            if args.len() > 2 || args.is_empty() {
                return Err(SelectError::Arity { name: name.to_string(), expected: 2, got: args.len() });
            }
            let unit = match args.get(1) {
                None => 1_000_000_000,
                Some(Expr::Duration(ns)) if *ns > 0 => *ns,
                Some(_) => return Err(SelectError::Argument { name: name.into(), what: "duration" }),
            };
            Func::Integral(unit)
        }
        "top" | "bottom" | "sample" => {
            return Err(SelectError::Unsupported(format!("{name}() inside an expression or next to other functions")))
        }
        n if NOT_YET.contains(&n) => return Err(SelectError::UnsupportedFunction(n.to_string())),
        n => return Err(SelectError::UndefinedFunction(n.to_string())),
    };
    if !matches!(func, Func::Percentile(_) | Func::Integral(_)) {
        arity(1)?;
    }
    match &args[0] {
        Expr::VarRef { name: field, kind } => {
            Ok(Call { name: name.to_string(), func, field: field.clone(), transform: None, cast: *kind })
        }
        // The one nesting of aggregates InfluxQL has.
        Expr::Call { name: inner, args: inner_args, .. } if func == Func::Count && inner == "distinct" => {
            match inner_args.as_slice() {
                [Expr::VarRef { name: field, .. }] => Ok(Call {
                    name: name.to_string(),
                    func: Func::CountDistinct,
                    field: field.clone(),
                    transform: None,
                    cast: None,
                }),
                _ => Err(SelectError::Argument { name: inner.clone(), what: "field" }),
            }
        }
        Expr::Wildcard(_) | Expr::Regex(_) => Err(SelectError::Unsupported(format!("{name}() over * or a regex"))),
        Expr::Call { name: inner, .. } if super::math::is_math(inner) => {
            Err(SelectError::Argument { name: name.into(), what: "field" })
        }
        // An aggregate of an aggregate (`max(mean(v))`): InfluxQL allows
        // it only through a subquery, and says so this way.
        Expr::Call { .. } => Err(SelectError::Argument { name: name.into(), what: "field" }),
        _ => Err(SelectError::Argument { name: name.into(), what: "field" }),
    }
}

/// The running state of one call in one bucket.
#[derive(Debug, Clone)]
pub(crate) enum State {
    /// Points counted.
    Count(u64),
    /// Float sum and count.
    Mean(f64, u64),
    /// Sum so far, typed like the field; `Null` before the first point.
    Sum(Value),
    /// The best point so far: (value, time).
    Best(Option<(Value, i64)>),
    /// Every value with its time.
    All(Vec<(Value, i64)>),
    /// Minimum and maximum so far.
    Spread(Option<(Value, Value)>),
    /// A result computed across buckets (`integral` with `GROUP BY time`).
    Done(Value),
}

impl State {
    /// The empty state of a function.
    pub(crate) fn new(func: Func) -> State {
        match func {
            Func::Count => State::Count(0),
            Func::Mean => State::Mean(0.0, 0),
            Func::Sum => State::Sum(Value::Null),
            Func::Min | Func::Max | Func::First | Func::Last => State::Best(None),
            Func::Median
            | Func::Stddev
            | Func::Percentile(_)
            | Func::Distinct
            | Func::CountDistinct
            | Func::Mode
            | Func::Integral(_) => State::All(Vec::new()),
            Func::Spread => State::Spread(None),
        }
    }

    /// Whether no point reached the state.
    pub(crate) fn is_empty(&self) -> bool {
        match self {
            State::Count(n) | State::Mean(_, n) => *n == 0,
            State::Sum(v) => v.is_null(),
            State::Best(b) => b.is_none(),
            State::All(v) => v.is_empty(),
            State::Spread(s) => s.is_none(),
            State::Done(v) => v.is_null(),
        }
    }

    /// Folds one point in.
    pub(crate) fn push(&mut self, func: Func, value: &Value, t: i64) {
        let numeric = value.as_f64().is_some();
        // min/max also order booleans (false < true), as InfluxDB does.
        let orderable = numeric || matches!(value, Value::Boolean(_));
        match self {
            State::Count(n) => *n += 1,
            State::Mean(sum, n) => {
                if let Some(x) = value.as_f64() {
                    *sum += x;
                    *n += 1;
                }
            }
            State::Sum(acc) if numeric => {
                *acc = match (&*acc, value) {
                    (Value::Null, v) => v.clone(),
                    (Value::Integer(a), Value::Integer(b)) => Value::Integer(a.wrapping_add(*b)),
                    (Value::Unsigned(a), Value::Unsigned(b)) => Value::Unsigned(a.wrapping_add(*b)),
                    (a, b) => Value::Float(a.as_f64().unwrap_or(0.0) + b.as_f64().unwrap_or(0.0)),
                };
            }
            State::Sum(_) => {}
            State::Best(best) => {
                let replace = match best {
                    None => matches!(func, Func::First | Func::Last) || orderable,
                    Some((v, bt)) => match func {
                        Func::First => t < *bt || (t == *bt && wins_tie(value, v, true)),
                        Func::Last => t > *bt || (t == *bt && wins_tie(value, v, false)),
                        Func::Min => match value.compare(v) {
                            Some(Ordering::Less) => true,
                            Some(Ordering::Equal) => t < *bt,
                            _ => false,
                        },
                        Func::Max => match value.compare(v) {
                            Some(Ordering::Greater) => true,
                            Some(Ordering::Equal) => t < *bt,
                            _ => false,
                        },
                        _ => false,
                    },
                };
                if replace {
                    *best = Some((value.clone(), t));
                }
            }
            State::All(all) => {
                let needs_number =
                    matches!(func, Func::Median | Func::Stddev | Func::Percentile(_) | Func::Integral(_));
                if !needs_number || numeric {
                    all.push((value.clone(), t));
                }
            }
            State::Spread(s) if numeric => {
                *s = Some(match s.take() {
                    None => (value.clone(), value.clone()),
                    Some((lo, hi)) => {
                        let lo = if value.compare(&lo) == Some(Ordering::Less) { value.clone() } else { lo };
                        let hi = if value.compare(&hi) == Some(Ordering::Greater) { value.clone() } else { hi };
                        (lo, hi)
                    }
                });
            }
            State::Spread(_) | State::Done(_) => {}
        }
    }

    /// The function's result, with the time of the selected point for
    /// selectors; `Value::Null` when empty (`count` gives 0).
    pub(crate) fn finish(&self, func: Func) -> (Value, Option<i64>) {
        match self {
            State::Count(n) => (Value::Integer(i64::try_from(*n).unwrap_or(i64::MAX)), None),
            State::Mean(_, 0) => (Value::Null, None),
            State::Mean(sum, n) => (Value::Float(sum / *n as f64), None),
            State::Sum(v) => (v.clone(), None),
            State::Best(best) => match best {
                Some((v, t)) => (v.clone(), Some(*t)),
                None => (Value::Null, None),
            },
            State::Spread(None) => (Value::Null, None),
            State::Spread(Some((lo, hi))) => match (lo, hi) {
                (Value::Integer(a), Value::Integer(b)) => (Value::Integer(b.wrapping_sub(*a)), None),
                (Value::Unsigned(a), Value::Unsigned(b)) => (Value::Unsigned(b.wrapping_sub(*a)), None),
                (a, b) => (Value::Float(b.as_f64().unwrap_or(0.0) - a.as_f64().unwrap_or(0.0)), None),
            },
            State::All(all) => finish_all(func, all),
            State::Done(v) => (v.clone(), None),
        }
    }

    /// The numeric points an `All` state holds, as (time, value), in arrival order.
    pub(crate) fn points(&self) -> Vec<(i64, f64)> {
        match self {
            State::All(all) => all.iter().filter_map(|(v, t)| Some((*t, v.as_f64()?))).collect(),
            _ => Vec::new(),
        }
    }

    /// `distinct()`'s values in the order InfluxDB gives them: by the time
    /// each was first seen (then by value).
    pub(crate) fn distinct(&self) -> Vec<Value> {
        let State::All(all) = self else { return Vec::new() };
        let mut sorted: Vec<&(Value, i64)> = all.iter().collect();
        sorted.sort_by(|a, b| a.0.sort_cmp(&b.0).then(a.1.cmp(&b.1)));
        sorted.dedup_by(|later, first| later.0 == first.0);
        let mut firsts: Vec<(Value, i64)> = sorted.into_iter().cloned().collect();
        firsts.sort_by(|a, b| a.1.cmp(&b.1).then_with(|| a.0.sort_cmp(&b.0)));
        firsts.into_iter().map(|(v, _)| v).collect()
    }
}

/// InfluxDB's `integral` over time-sorted points cut into windows
/// (`window(t)` = its window's start and end): the area between the last
/// point of a window and the first of the next is split at the window end,
/// with the value there interpolated linearly; points at an equal time keep
/// the later one. Returns (window start, area / unit) for every window that
/// holds a point.
pub(crate) fn integral_windows(
    points: &[(i64, f64)],
    unit: i64,
    window: impl Fn(i64) -> (i64, i64),
) -> Vec<(i64, f64)> {
    let mut out = Vec::new();
    let Some(&(t0, v0)) = points.first() else { return out };
    let unit = unit.max(1) as f64;
    let (mut prev_t, mut prev_v) = (t0, v0);
    let (mut start, mut end) = window(t0);
    let mut sum = 0.0;
    for &(t, v) in &points[1..] {
        if t == prev_t {
            prev_v = v;
            continue;
        }
        if t >= end {
            if prev_t != end {
                // InfluxDB's linearFloat: slope * elapsed + start.
                let slope = (v - prev_v) / t.saturating_sub(prev_t) as f64;
                let at_end = slope * end.saturating_sub(prev_t) as f64 + prev_v;
                sum += 0.5 * (at_end + prev_v) * ((end as f64 - prev_t as f64) / unit);
                prev_v = at_end;
                prev_t = end;
            }
            out.push((start, sum));
            (start, end) = window(t);
            sum = 0.0;
        }
        sum += 0.5 * (v + prev_v) * ((t as f64 - prev_t as f64) / unit);
        prev_t = t;
        prev_v = v;
    }
    // InfluxDB drops the last window when its last point is at the
    // window's start: there is no area in it.
    if prev_t != start {
        out.push((start, sum));
    }
    out
}

fn finish_all(func: Func, all: &[(Value, i64)]) -> (Value, Option<i64>) {
    if all.is_empty() {
        return (Value::Null, None);
    }
    let mut sorted: Vec<&(Value, i64)> = all.iter().collect();
    sorted.sort_by(|a, b| a.0.sort_cmp(&b.0).then(a.1.cmp(&b.1)));
    let n = sorted.len();
    match func {
        Func::Median => {
            let mid = |i: usize| sorted.get(i).and_then(|(v, _)| v.as_f64()).unwrap_or(0.0);
            if n % 2 == 1 {
                (Value::Float(mid(n / 2)), None)
            } else {
                (Value::Float((mid(n / 2 - 1) + mid(n / 2)) / 2.0), None)
            }
        }
        Func::Stddev => {
            if n < 2 {
                return (Value::Null, None);
            }
            let xs: Vec<f64> = all.iter().filter_map(|(v, _)| v.as_f64()).collect();
            let mean = xs.iter().sum::<f64>() / n as f64;
            let var = xs.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / (n - 1) as f64;
            (Value::Float(var.sqrt()), None)
        }
        Func::Percentile(p) => {
            let rank = (n as f64 * p / 100.0 + 0.5).floor() as i64 - 1;
            match usize::try_from(rank).ok().and_then(|i| sorted.get(i)) {
                Some((v, t)) => (v.clone(), Some(*t)),
                None => (Value::Null, None),
            }
        }
        Func::Mode => {
            // The most frequent value; ties go to the value seen first.
            let mut best: Option<(&Value, usize, i64)> = None;
            let mut i = 0;
            while i < n {
                let mut j = i;
                while j < n && sorted[j].0 == sorted[i].0 {
                    j += 1;
                }
                let (count, first_seen) = (j - i, sorted[i].1);
                if best.is_none_or(|(_, c, t)| count > c || (count == c && first_seen < t)) {
                    best = Some((&sorted[i].0, count, first_seen));
                }
                i = j;
            }
            (best.map(|(v, _, _)| v.clone()).unwrap_or_default(), None)
        }
        Func::Distinct => (sorted[0].0.clone(), None),
        Func::CountDistinct => {
            let mut values: Vec<&Value> = sorted.iter().map(|(v, _)| v).collect();
            values.dedup();
            (Value::Integer(i64::try_from(values.len()).unwrap_or(i64::MAX)), None)
        }
        Func::Integral(unit) => {
            let mut by_time: Vec<(i64, f64)> = all.iter().filter_map(|(v, t)| Some((*t, v.as_f64()?))).collect();
            by_time.sort_by_key(|(t, _)| *t);
            let area: f64 = by_time.windows(2).map(|w| (w[1].0 as f64 - w[0].0 as f64) * (w[0].1 + w[1].1) / 2.0).sum();
            (Value::Float(area / unit as f64), None)
        }
        _ => (Value::Null, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(func: Func, values: &[Value]) -> Value {
        let mut s = State::new(func);
        for (i, v) in values.iter().enumerate() {
            s.push(func, v, i as i64);
        }
        s.finish(func).0
    }

    #[test]
    fn matches_influxdb_on_a_small_set() {
        // Verified against InfluxDB 1.6.7 on the values 1, 2, 3, 5.
        let v: Vec<Value> = [1.0, 2.0, 3.0, 5.0].into_iter().map(Value::Float).collect();
        assert_eq!(run(Func::Median, &v), Value::Float(2.5));
        assert_eq!(run(Func::Percentile(50.0), &v), Value::Float(2.0));
        assert_eq!(run(Func::Mode, &v), Value::Float(1.0));
        assert_eq!(run(Func::Mean, &v), Value::Float(2.75));
        let Value::Float(sd) = run(Func::Stddev, &v) else { panic!("stddev") };
        assert!((sd - 1.707825127659933).abs() < 1e-12);
        let ints = [Value::Integer(10), Value::Integer(20)];
        assert_eq!(run(Func::Spread, &ints), Value::Integer(10));
        assert_eq!(run(Func::Sum, &ints), Value::Integer(30));
        assert_eq!(run(Func::Count, &[]), Value::Integer(0));
        assert_eq!(run(Func::Stddev, &[Value::Float(1.0)]), Value::Null);
        assert_eq!(run(Func::Percentile(0.0), &v), Value::Null);
    }

    #[test]
    fn integral_windows_follow_influxdb_reducer() {
        let window = |t: i64| (t - t.rem_euclid(10), t - t.rem_euclid(10) + 10);
        // The area from 5 to 15 is split at 10 (value 2 there).
        assert_eq!(integral_windows(&[(5, 1.0), (15, 3.0)], 1, window), [(0, 7.5), (10, 12.5)]);
        // A last window whose only point is at its start holds no area: no window.
        assert_eq!(integral_windows(&[(5, 1.0), (10, 2.0)], 1, window), [(0, 7.5)]);
    }
}
