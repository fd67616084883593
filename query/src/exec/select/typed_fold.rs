//! The aggregate fast path: folds a series' typed columns, as the store
//! returns them, into the per-bucket aggregate states a run of points at a
//! time, with no [`Value`] per point.
//!
//! Why: the general path ([`super::grouped`]) turns every point into a
//! 32-byte `Value`, casts it, checks the row against `WHERE` and looks its
//! bucket up, ~30 ns per value; a full scan at 200 M values/s on two cores
//! leaves ~10 ns. When there is nothing to check per row (no `WHERE` left
//! after the index and the time range) and no field is read next to a lone
//! selector, a series' rows (their timestamps strictly increase) split into
//! runs that share a bucket, and each call folds a run of a dense float
//! column as a plain loop over an `f64` slice.
//!
//! The loops add and compare in the order [`State::push`] would, with the
//! same tie rules, so the results are bit for bit those of the general
//! path. Anything else (integer, string or sparse columns, casts, functions
//! that keep every value, a state another series left holding an integer)
//! goes through `State::push` point by point, still without the per-row
//! condition and bucket lookup.

use std::collections::BTreeMap;
use std::ops::Range;

use augur_engine::block::{Column, ColumnData};
use augur_engine::storage::{SeriesData, TimeRange};

use super::aggregate::{Call, Func, State};
use super::cast::cast;
use super::transform::Transform;
use super::window::Buckets;
use crate::ast::RefKind;
use crate::exec::value::{column_values, Value};

/// A call's column in one series.
enum View<'a> {
    /// Every row has a float and the call does not cast it.
    Floats(&'a [f64]),
    /// Anything else: one value per row (`Null` where absent), cast per point.
    Values(Vec<Value>),
}

impl<'a> View<'a> {
    fn of(column: &'a Column, rows: usize, kind: Option<RefKind>) -> View<'a> {
        let keeps_floats = matches!(kind, None | Some(RefKind::Field | RefKind::Tag | RefKind::Float));
        match (&column.data, &column.presence) {
            (ColumnData::Float(values), None) if keeps_floats && values.len() == rows => View::Floats(values),
            (data, presence) => View::Values(column_values(data, presence.as_deref(), rows)),
        }
    }
}

/// Folds the points of one series into `buckets` (bucket start → one state
/// per call), as the general path does: points outside `range` (read only
/// for transformations that look one interval further) feed only the
/// calls whose transformation extends the range, but still open their
/// bucket.
pub(super) fn fold_series(
    data: &SeriesData,
    calls: &[Call],
    buckets_of: &Buckets,
    range: TimeRange,
    buckets: &mut BTreeMap<i64, Vec<State>>,
) {
    let ts = data.timestamps.as_slice();
    let rows = ts.len();
    let views: Vec<Option<View<'_>>> = calls
        .iter()
        .map(|call| data.columns.iter().find(|c| c.name == call.field).map(|c| View::of(c, rows, call.cast)))
        .collect();
    let lo = ts.partition_point(|&t| t < range.start);
    let hi = ts.partition_point(|&t| t <= range.end).max(lo);
    for (segment, in_range) in [(0..lo, false), (lo..hi, true), (hi..rows, false)] {
        let mut i = segment.start;
        while i < segment.end {
            let start = buckets_of.start_of(ts[i]);
            let end = run_end(buckets_of, ts, i, segment.end, start);
            let states = buckets.entry(start).or_insert_with(|| calls.iter().map(|c| State::new(c.func)).collect());
            let folded = if end - i >= MEANS_TOGETHER_AFTER {
                fold_means_together(calls, states, &views, i..end, in_range)
            } else {
                Vec::new()
            };
            for (k, ((call, state), view)) in calls.iter().zip(states.iter_mut()).zip(&views).enumerate() {
                if folded.get(k).copied().unwrap_or(false) {
                    continue;
                }
                if !in_range && !call.transform.is_some_and(Transform::extends_range) {
                    continue;
                }
                if let Some(view) = view {
                    fold_run(call, state, view, i..end, ts);
                }
            }
            i = end;
        }
    }
}

/// Rows a run needs before its `mean` calls are folded together
/// ([`fold_means_together`]); shorter runs (a `GROUP BY time(1m)`
/// bucket) are not worth gathering the lanes.
const MEANS_TOGETHER_AFTER: usize = 64;

/// Folds the `mean` calls over dense float columns of one run in step,
/// several columns per loop; returns, per call, whether it was folded
/// here (nothing when fewer than two such calls).
///
/// Why: a sum is a chain of dependent additions, one per ~4 cycles;
/// `mean(*)` over ten columns summed one after another waits on that chain
/// ten times, while summed in step the additions of different columns
/// overlap. Each column is still added in row order, so every sum is bit
/// for bit what [`State::push`] gives.
fn fold_means_together(
    calls: &[Call],
    states: &mut [State],
    views: &[Option<View<'_>>],
    rows: Range<usize>,
    in_range: bool,
) -> Vec<bool> {
    let mut lanes: Vec<(usize, &mut f64, &mut u64, &[f64])> = Vec::new();
    for (k, ((call, state), view)) in calls.iter().zip(states.iter_mut()).zip(views).enumerate() {
        if !in_range && !call.transform.is_some_and(Transform::extends_range) {
            continue;
        }
        if let (State::Mean(sum, n), Some(View::Floats(xs))) = (state, view) {
            if let Some(xs) = xs.get(rows.clone()) {
                lanes.push((k, sum, n, xs));
            }
        }
    }
    if lanes.len() < 2 {
        return Vec::new();
    }
    let mut folded = vec![false; calls.len()];
    for chunk in lanes.chunks_mut(8) {
        let columns: Vec<&[f64]> = chunk.iter().map(|lane| lane.3).collect();
        let start: Vec<f64> = chunk.iter().map(|lane| *lane.1).collect();
        let sums = match chunk.len() {
            ..=4 => add_in_step::<4>(&columns, &start),
            _ => add_in_step::<8>(&columns, &start),
        };
        for (lane, sum) in chunk.iter_mut().zip(sums) {
            *lane.1 = sum;
            *lane.2 += lane.3.len() as u64;
            if let Some(done) = folded.get_mut(lane.0) {
                *done = true;
            }
        }
    }
    folded
}

/// Adds each column (all of one length) to its starting sum, in row
/// order, `W` columns per loop; fewer columns than `W` are padded with
/// copies of the first, whose sums are dropped.
fn add_in_step<const W: usize>(columns: &[&[f64]], start: &[f64]) -> Vec<f64> {
    let rows = columns.iter().map(|c| c.len()).min().unwrap_or(0);
    let lane: [&[f64]; W] = std::array::from_fn(|k| {
        let column = columns.get(k).or(columns.first()).copied().unwrap_or_default();
        column.get(..rows).unwrap_or_default()
    });
    let mut sums: [f64; W] = std::array::from_fn(|k| start.get(k).copied().unwrap_or(0.0));
    for row in 0..rows {
        for (sum, column) in sums.iter_mut().zip(&lane) {
            *sum += column.get(row).copied().unwrap_or_default();
        }
    }
    sums.into_iter().take(columns.len()).collect()
}

/// The end (exclusive) of the run of rows from `i` that fall in the bucket
/// starting at `start`, at most `end`.
fn run_end(buckets_of: &Buckets, ts: &[i64], i: usize, end: usize, start: i64) -> usize {
    let Some(rest) = ts.get(i..end) else { return end };
    if buckets_of.dim.is_none() {
        return end;
    }
    if buckets_of.tz.is_none() {
        let next = buckets_of.next(start);
        let candidate = i + rest.partition_point(|&t| t < next).max(1);
        // Buckets clamped at the ends of time are not `interval` wide:
        // trust `start_of` there.
        if ts.get(candidate - 1).is_some_and(|&t| buckets_of.start_of(t) == start) {
            return candidate;
        }
    }
    i + 1 + rest.iter().skip(1).take_while(|&&t| buckets_of.start_of(t) == start).count()
}

/// Folds rows `rows` of one column into one call's state.
fn fold_run(call: &Call, state: &mut State, view: &View<'_>, rows: Range<usize>, ts: &[i64]) {
    let (Some(times), Some(values)) = (ts.get(rows.clone()), rows_of(view, rows)) else { return };
    match values {
        Run::Floats(xs) => {
            if !fold_floats(call.func, state, xs, times) {
                for (&x, &t) in xs.iter().zip(times) {
                    state.push(call.func, &Value::Float(x), t);
                }
            }
        }
        Run::Values(vs) => {
            for (v, &t) in vs.iter().zip(times) {
                let v = cast(v.clone(), call.cast);
                if !v.is_null() {
                    state.push(call.func, &v, t);
                }
            }
        }
    }
}

/// A run's values.
enum Run<'a> {
    Floats(&'a [f64]),
    Values(&'a [Value]),
}

fn rows_of<'a>(view: &'a View<'_>, rows: Range<usize>) -> Option<Run<'a>> {
    match view {
        View::Floats(xs) => xs.get(rows).map(Run::Floats),
        View::Values(vs) => vs.get(rows).map(Run::Values),
    }
}

/// Folds a run of floats (times strictly increasing) the way
/// [`State::push`] would, point by point in order; `false` when this state
/// needs the general path.
fn fold_floats(func: Func, state: &mut State, xs: &[f64], ts: &[i64]) -> bool {
    match state {
        State::Count(n) => *n += xs.len() as u64,
        State::Mean(sum, n) => {
            for &x in xs {
                *sum += x;
            }
            *n += xs.len() as u64;
        }
        State::Sum(acc) => {
            let mut rest = xs.iter();
            let mut total = match acc {
                Value::Float(a) => *a,
                // `push` starts a sum with its first value (so `-0.0` stays `-0.0`).
                Value::Null => match rest.next() {
                    Some(&x) => x,
                    None => return true,
                },
                _ => return false,
            };
            for &x in rest {
                total += x;
            }
            *acc = Value::Float(total);
        }
        State::Best(best) => {
            let mut held = match best {
                None => None,
                Some((Value::Float(v), t)) => Some((*v, *t)),
                Some(_) => return false,
            };
            let better: fn(f64, i64, f64, i64) -> bool = match func {
                Func::Min => |x, t, v, bt| x < v || (x == v && t < bt),
                Func::Max => |x, t, v, bt| x > v || (x == v && t < bt),
                // On equal times InfluxDB keeps the greater value.
                Func::First => |x, t, v, bt| t < bt || (t == bt && x > v),
                Func::Last => |x, t, v, bt| t > bt || (t == bt && x > v),
                _ => return false,
            };
            for (&x, &t) in xs.iter().zip(ts) {
                held = match held {
                    Some((v, bt)) if !better(x, t, v, bt) => Some((v, bt)),
                    _ => Some((x, t)),
                };
            }
            if let Some((v, t)) = held {
                *best = Some((Value::Float(v), t));
            }
        }
        State::Spread(spread) => {
            let mut bounds = match spread {
                None => None,
                Some((Value::Float(lo), Value::Float(hi))) => Some((*lo, *hi)),
                Some(_) => return false,
            };
            for &x in xs {
                bounds = Some(match bounds {
                    None => (x, x),
                    Some((lo, hi)) => (if x < lo { x } else { lo }, if x > hi { x } else { hi }),
                });
            }
            if let Some((lo, hi)) = bounds {
                *spread = Some((Value::Float(lo), Value::Float(hi)));
            }
        }
        State::All(_) | State::Done(_) => return false,
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn call(func: Func) -> Call {
        Call { name: String::new(), func, field: "v".into(), transform: None, cast: None }
    }

    const FUNCS: [Func; 8] =
        [Func::Count, Func::Mean, Func::Sum, Func::Min, Func::Max, Func::First, Func::Last, Func::Spread];

    fn same(a: &(Value, Option<i64>), b: &(Value, Option<i64>)) -> bool {
        match (&a.0, &b.0) {
            (Value::Float(x), Value::Float(y)) => x.to_bits() == y.to_bits() && a.1 == b.1,
            _ => a == b,
        }
    }

    proptest! {
        /// Runs of floats fold to exactly what `State::push` gives point by
        /// point, whatever the state already holds (ties, -0.0, NaN included).
        #[test]
        fn float_runs_fold_like_push(
            runs in proptest::collection::vec(
                proptest::collection::vec((prop_oneof![
                    4 => -5i32..5,
                    1 => Just(i32::MIN),   // stands for NaN
                    1 => Just(i32::MAX),   // stands for -0.0
                ], -3i64..3), 0..12),
                1..5),
        ) {
            let float = |n: i32| match n {
                i32::MIN => f64::NAN,
                i32::MAX => -0.0,
                n => f64::from(n) / 2.0,
            };
            for func in FUNCS {
                let mut fast = State::new(func);
                let mut slow = State::new(func);
                for run in &runs {
                    // Times increase within a run (one series); runs overlap in time.
                    let mut t = 0;
                    let (xs, ts): (Vec<f64>, Vec<i64>) = run.iter().map(|&(x, dt)| { t += dt.abs() + 1; (float(x), t) }).unzip();
                    prop_assert!(fold_floats(func, &mut fast, &xs, &ts));
                    for (&x, &t) in xs.iter().zip(&ts) {
                        slow.push(func, &Value::Float(x), t);
                    }
                }
                prop_assert!(same(&fast.finish(func), &slow.finish(func)), "{:?}: {:?} vs {:?}", func, fast.finish(func), slow.finish(func));
                prop_assert_eq!(fast.is_empty(), slow.is_empty());
            }
        }
    }

    proptest! {
        /// `mean` calls folded in step give, bit for bit, what folding each
        /// column alone gives, for any number of columns (padding lanes
        /// included) and whatever the states already held.
        #[test]
        fn means_folded_together_match_one_by_one(
            columns in 1usize..12,
            rows in proptest::collection::vec(proptest::collection::vec(-1.0e6f64..1.0e6, 12), 0..150),
            held in proptest::collection::vec((-1.0e3f64..1.0e3, 0u64..5), 12),
        ) {
            let data: Vec<Column> = (0..columns)
                .map(|c| Column {
                    name: format!("f{c}"),
                    data: ColumnData::Float(rows.iter().map(|r| r[c]).collect()),
                    presence: None,
                })
                .collect();
            let calls: Vec<Call> = (0..columns).map(|c| Call { field: format!("f{c}"), ..call(Func::Mean) }).collect();
            let views: Vec<Option<View<'_>>> = data.iter().map(|c| Some(View::of(c, rows.len(), None))).collect();
            let ts: Vec<i64> = (0..rows.len() as i64).collect();
            let start = || -> Vec<State> { held.iter().take(columns).map(|&(s, n)| State::Mean(s, n)).collect() };
            let mut together = start();
            let folded = fold_means_together(&calls, &mut together, &views, 0..rows.len(), true);
            prop_assert_eq!(folded.iter().filter(|f| **f).count(), if columns >= 2 { columns } else { 0 });
            let mut alone = start();
            for (k, state) in alone.iter_mut().enumerate() {
                if folded.get(k).copied().unwrap_or(false) {
                    fold_run(&calls[k], state, views[k].as_ref().unwrap(), 0..rows.len(), &ts);
                }
            }
            for (a, b) in together.iter().zip(&alone) {
                prop_assert!(same(&a.finish(Func::Mean), &b.finish(Func::Mean)), "{:?} vs {:?}", a.finish(Func::Mean), b.finish(Func::Mean));
            }
        }
    }

    #[test]
    fn states_holding_other_types_take_the_general_path() {
        let mut sum = State::Sum(Value::Integer(3));
        assert!(!fold_floats(Func::Sum, &mut sum, &[1.5], &[1]));
        let c = call(Func::Sum);
        let column = Column { name: "v".into(), data: ColumnData::Float(vec![1.5, 2.0]), presence: None };
        let view = View::of(&column, 2, None);
        fold_run(&c, &mut sum, &view, 0..2, &[1, 2]);
        assert_eq!(sum.finish(Func::Sum).0, Value::Float(6.5));
    }

    #[test]
    fn sparse_and_cast_columns_are_folded_per_point() {
        let column = Column {
            name: "v".into(),
            data: ColumnData::Float(vec![1.7, -2.5]),
            presence: Some(vec![true, false, true]),
        };
        let view = View::of(&column, 3, None);
        assert!(matches!(view, View::Values(_)));
        let mut count = State::new(Func::Count);
        fold_run(&call(Func::Count), &mut count, &view, 0..3, &[1, 2, 3]);
        assert_eq!(count.finish(Func::Count).0, Value::Integer(2));

        let dense = Column { name: "v".into(), data: ColumnData::Float(vec![1.7, -2.5]), presence: None };
        let as_int = Call { cast: Some(RefKind::Integer), ..call(Func::Sum) };
        let view = View::of(&dense, 2, as_int.cast);
        let mut sum = State::new(Func::Sum);
        fold_run(&as_int, &mut sum, &view, 0..2, &[1, 2]);
        assert_eq!(sum.finish(Func::Sum).0, Value::Integer(-1));
    }
}
