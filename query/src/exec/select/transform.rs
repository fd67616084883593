//! Transformations: `derivative`, `non_negative_derivative`, `difference`,
//! `non_negative_difference`, `elapsed`, `moving_average` and
//! `cumulative_sum` — functions that turn a time-ordered stream of points
//! into another stream, one output point per input point at most.
//!
//! Why a module apart: the same reducers run over raw field values
//! (`derivative(v)`) and over the per-bucket results of an aggregate
//! (`derivative(mean(v), 1m) ... GROUP BY time(1m)`); both callers hand
//! over `(time, value)` points in output order (descending with
//! `ORDER BY time DESC`) and get points back. The arithmetic follows
//! InfluxDB 1.x's reducers exactly: `derivative`/`difference` skip a point
//! whose time equals the previous one (several series joined at one time
//! keep the first), `non_negative_*` drop negative results, `elapsed`
//! keeps equal times (giving 0), `moving_average` keeps a running sum and
//! reports at the window's last point, integers stay integers where
//! InfluxDB keeps them (`difference`, `cumulative_sum`, `elapsed`).

use super::SelectError;
use crate::ast::Expr;
use crate::exec::value::Value;

/// A transformation and its parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Transform {
    /// `derivative(f[, unit])` / `non_negative_derivative(...)`; `unit` in
    /// ns, `None` = the default (1s raw, the `GROUP BY time` interval over
    /// an aggregate).
    Derivative {
        /// The unit, if written.
        unit: Option<i64>,
        /// Drop negative rates.
        non_negative: bool,
    },
    /// `difference(f)` / `non_negative_difference(f)`.
    Difference {
        /// Drop negative differences.
        non_negative: bool,
    },
    /// `elapsed(f[, unit])`: time between points, in units (default 1ns).
    Elapsed {
        /// The unit in ns.
        unit: i64,
    },
    /// `moving_average(f, n)`.
    MovingAverage {
        /// The window, in points (≥ 2).
        n: usize,
    },
    /// `cumulative_sum(f)`.
    CumulativeSum,
}

/// Whether `name` is a transformation.
pub(crate) fn is_transform(name: &str) -> bool {
    matches!(
        name,
        "derivative"
            | "non_negative_derivative"
            | "difference"
            | "non_negative_difference"
            | "elapsed"
            | "moving_average"
            | "cumulative_sum"
    )
}

/// Parses the arguments of transformation `name` (see [`is_transform`])
/// and returns it with its input expression, with InfluxDB's messages.
pub(crate) fn parse<'a>(name: &str, args: &'a [Expr]) -> Result<(Transform, &'a Expr), SelectError> {
    let range = |min: usize, max: usize| {
        if (min..=max).contains(&args.len()) {
            Ok(())
        } else if min == max {
            Err(SelectError::Arity { name: name.to_string(), expected: min, got: args.len() })
        } else {
            Err(SelectError::ArityRange { name: name.to_string(), min, max, got: args.len() })
        }
    };
    let duration = |at: usize| -> Result<Option<i64>, SelectError> {
        match args.get(at) {
            None => Ok(None),
            Some(Expr::Duration(ns)) if *ns > 0 => Ok(Some(*ns)),
            Some(Expr::Duration(_)) => {
                Err(SelectError::Message(format!("duration argument must be positive, got {}", args[at])))
            }
            Some(other) => Err(SelectError::Message(format!(
                "second argument to {name} must be a duration, got {}",
                go_literal_type(other)
            ))),
        }
    };
    let transform = match name {
        "derivative" | "non_negative_derivative" => {
            range(1, 2)?;
            Transform::Derivative { unit: duration(1)?, non_negative: name.starts_with("non_negative") }
        }
        "difference" | "non_negative_difference" => {
            range(1, 1)?;
            Transform::Difference { non_negative: name.starts_with("non_negative") }
        }
        "elapsed" => {
            range(1, 2)?;
            Transform::Elapsed { unit: duration(1)?.unwrap_or(1) }
        }
        "moving_average" => {
            range(2, 2)?;
            let n = match &args[1] {
                Expr::Integer(n) if *n > 1 => usize::try_from(*n).unwrap_or(usize::MAX),
                Expr::Integer(n) => {
                    return Err(SelectError::Message(format!("moving_average window must be greater than 1, got {n}")))
                }
                other => {
                    return Err(SelectError::Message(format!(
                        "second argument for moving_average must be an integer, got {}",
                        go_literal_type(other)
                    )))
                }
            };
            Transform::MovingAverage { n }
        }
        "cumulative_sum" => {
            range(1, 1)?;
            Transform::CumulativeSum
        }
        other => return Err(SelectError::UndefinedFunction(other.to_string())),
    };
    Ok((transform, &args[0]))
}

/// The Go type name InfluxDB prints for a literal of the wrong kind.
fn go_literal_type(expr: &Expr) -> &'static str {
    match expr {
        Expr::Integer(_) => "*influxql.IntegerLiteral",
        Expr::Number(_) => "*influxql.NumberLiteral",
        Expr::String(_) => "*influxql.StringLiteral",
        Expr::Boolean(_) => "*influxql.BooleanLiteral",
        Expr::Duration(_) => "*influxql.DurationLiteral",
        Expr::Regex(_) => "*influxql.RegexLiteral",
        Expr::VarRef { .. } => "*influxql.VarRef",
        Expr::Call { .. } => "*influxql.Call",
        Expr::Wildcard(_) => "*influxql.Wildcard",
        Expr::Binary { .. } => "*influxql.BinaryExpr",
        Expr::Paren(_) => "*influxql.ParenExpr",
    }
}

impl Transform {
    /// The function's name.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Transform::Derivative { non_negative: false, .. } => "derivative",
            Transform::Derivative { non_negative: true, .. } => "non_negative_derivative",
            Transform::Difference { non_negative: false } => "difference",
            Transform::Difference { non_negative: true } => "non_negative_difference",
            Transform::Elapsed { .. } => "elapsed",
            Transform::MovingAverage { .. } => "moving_average",
            Transform::CumulativeSum => "cumulative_sum",
        }
    }

    /// Whether InfluxDB reads one extra `GROUP BY time` interval before
    /// the query's range (after it, descending) for this transformation, so
    /// that the first bucket of the range already has a predecessor.
    pub(crate) fn extends_range(self) -> bool {
        !matches!(self, Transform::CumulativeSum)
    }

    /// Whether the function accepts values of this kind (numbers only,
    /// except `elapsed`, which only looks at times).
    pub(crate) fn accepts(self, value: &Value) -> bool {
        matches!(self, Transform::Elapsed { .. }) || value.as_f64().is_some()
    }

    /// Runs the transformation over non-null points in output order.
    /// `descending`: the points run backwards in time (`ORDER BY time
    /// DESC`); `default_unit`: the derivative unit when none was written.
    pub(crate) fn apply(self, points: &[(i64, Value)], descending: bool, default_unit: i64) -> Vec<(i64, Value)> {
        let mut out = Vec::new();
        match self {
            Transform::Derivative { unit, non_negative } => {
                let unit = unit.unwrap_or(default_unit).max(1) as f64;
                for_pairs(points, |(pt, pv), (t, v)| {
                    let diff = match (pv, v) {
                        (Value::Integer(a), Value::Integer(b)) => b.wrapping_sub(*a) as f64,
                        _ => v.as_f64().unwrap_or(0.0) - pv.as_f64().unwrap_or(0.0),
                    };
                    let mut elapsed = t.wrapping_sub(pt);
                    if descending {
                        elapsed = elapsed.wrapping_neg();
                    }
                    if !(non_negative && diff < 0.0) {
                        out.push((t, Value::Float(diff / (elapsed as f64 / unit))));
                    }
                });
            }
            Transform::Difference { non_negative } => {
                for_pairs(points, |(_, pv), (t, v)| {
                    let diff = match (pv, v) {
                        (Value::Integer(a), Value::Integer(b)) => Value::Integer(b.wrapping_sub(*a)),
                        (Value::Unsigned(a), Value::Unsigned(b)) => Value::Unsigned(b.wrapping_sub(*a)),
                        _ => Value::Float(v.as_f64().unwrap_or(0.0) - pv.as_f64().unwrap_or(0.0)),
                    };
                    let negative = match &diff {
                        Value::Integer(d) => *d < 0,
                        Value::Float(d) => *d < 0.0,
                        _ => false,
                    };
                    if !(non_negative && negative) {
                        out.push((t, diff));
                    }
                });
            }
            Transform::Elapsed { unit } => {
                for pair in points.windows(2) {
                    let (prev, curr) = (pair[0].0, pair[1].0);
                    out.push((curr, Value::Integer(curr.wrapping_sub(prev) / unit.max(1))));
                }
            }
            Transform::MovingAverage { n } => {
                let mut window: Vec<f64> = Vec::with_capacity(n.min(points.len()));
                let (mut pos, mut sum) = (0, 0.0);
                for (t, v) in points {
                    let x = v.as_f64().unwrap_or(0.0);
                    if window.len() < n {
                        window.push(x);
                        sum += x;
                    } else {
                        sum = sum - window[pos] + x;
                        window[pos] = x;
                    }
                    pos = (pos + 1) % n;
                    if window.len() == n {
                        out.push((*t, Value::Float(sum / n as f64)));
                    }
                }
            }
            Transform::CumulativeSum => {
                let mut acc = Value::Null;
                for (t, v) in points {
                    acc = match (&acc, v) {
                        (Value::Null, v) => v.clone(),
                        (Value::Integer(a), Value::Integer(b)) => Value::Integer(a.wrapping_add(*b)),
                        (Value::Unsigned(a), Value::Unsigned(b)) => Value::Unsigned(a.wrapping_add(*b)),
                        (a, b) => Value::Float(a.as_f64().unwrap_or(0.0) + b.as_f64().unwrap_or(0.0)),
                    };
                    out.push((*t, acc.clone()));
                }
            }
        }
        out
    }
}

/// Calls `each(previous, current)` for successive points, skipping a point
/// whose time equals the current one (InfluxDB keeps the first point of a
/// time when several series are joined).
fn for_pairs<'a>(points: &'a [(i64, Value)], mut each: impl FnMut((i64, &'a Value), (i64, &'a Value))) {
    let mut curr: Option<(i64, &Value)> = None;
    for (t, v) in points {
        match curr {
            Some((ct, _)) if ct == *t => continue,
            Some(prev) => each(prev, (*t, v)),
            None => {}
        }
        curr = Some((*t, v));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: i64 = 1_000_000_000;

    fn pts(p: &[(i64, f64)]) -> Vec<(i64, Value)> {
        p.iter().map(|(t, v)| (*t * S, Value::Float(*v))).collect()
    }

    fn ints(p: &[(i64, i64)]) -> Vec<(i64, Value)> {
        p.iter().map(|(t, v)| (*t * S, Value::Integer(*v))).collect()
    }

    // Host a of the transform test data: i = 1, 3, 8, 2, 5, 9 at 0, 30, 60, 180, 190, 300 s.
    fn host_a() -> Vec<(i64, Value)> {
        ints(&[(0, 1), (30, 3), (60, 8), (180, 2), (190, 5), (300, 9)])
    }

    fn values(out: Vec<(i64, Value)>) -> Vec<Value> {
        out.into_iter().map(|(_, v)| v).collect()
    }

    #[test]
    fn derivatives_match_influxdb() {
        // influxd: derivative(i, 10s), non_negative_derivative(i) of host a.
        let d = Transform::Derivative { unit: Some(10 * S), non_negative: false }.apply(&host_a(), false, S);
        let f = |x: f64| Value::Float(x);
        assert_eq!(
            values(d),
            vec![f(0.6666666666666666), f(1.6666666666666667), f(-0.5), f(3.0), f(0.36363636363636365)]
        );
        let nn = Transform::Derivative { unit: None, non_negative: true }.apply(&host_a(), false, S);
        assert_eq!(nn.len(), 4);
        assert_eq!(nn[0], (30 * S, f(0.06666666666666667)));
        // Equal times: the first point of a time wins (cpu a=1, b=2 at 1s, a=3 at 61s).
        let joined = pts(&[(1, 1.0), (1, 2.0), (61, 3.0), (200, 5.0)]);
        let d = Transform::Derivative { unit: None, non_negative: false }.apply(&joined, false, S);
        assert_eq!(values(d), vec![f(0.03333333333333333), f(0.014388489208633094)]);
    }

    #[test]
    fn differences_sums_and_averages_match_influxdb() {
        let i = Value::Integer;
        let d = Transform::Difference { non_negative: false }.apply(&host_a(), false, S);
        assert_eq!(values(d), vec![i(2), i(5), i(-6), i(3), i(4)]);
        let nn = Transform::Difference { non_negative: true }.apply(&host_a(), false, S);
        assert_eq!(values(nn), vec![i(2), i(5), i(3), i(4)]);
        let c = Transform::CumulativeSum.apply(&host_a(), false, S);
        assert_eq!(values(c), vec![i(1), i(4), i(12), i(14), i(19), i(28)]);
        let m = Transform::MovingAverage { n: 3 }.apply(&host_a(), false, S);
        let f = Value::Float;
        assert_eq!(values(m), vec![f(4.0), f(4.333333333333333), f(5.0), f(5.333333333333333)]);
        let e = Transform::Elapsed { unit: S }.apply(&host_a(), false, S);
        assert_eq!(values(e), vec![i(30), i(30), i(120), i(10), i(110)]);
        // Equal times give 0 for elapsed.
        let e = Transform::Elapsed { unit: 1 }.apply(&pts(&[(1, 1.0), (1, 2.0)]), false, S);
        assert_eq!(e, vec![(S, i(0))]);
    }

    #[test]
    fn descending_derivative_uses_positive_elapsed_time() {
        // influxd: ORDER BY time DESC, derivative(i) over 6 then 12 (going back in time).
        let p = ints(&[(300, 12), (240, 6)]);
        let d = Transform::Derivative { unit: Some(60 * S), non_negative: false }.apply(&p, true, S);
        assert_eq!(d, vec![(240 * S, Value::Float(-6.0))]);
    }

    #[test]
    fn argument_errors_read_like_influxdb() {
        let v = Expr::VarRef { name: "v".into(), kind: None };
        let err = |name: &str, args: Vec<Expr>| parse(name, &args).err().map(|e| e.to_string()).unwrap_or_default();
        assert_eq!(
            err("derivative", vec![v.clone(), Expr::Duration(S), Expr::Integer(2)]),
            "invalid number of arguments for derivative, expected at least 1 but no more than 2, got 3"
        );
        assert_eq!(
            err("derivative", vec![v.clone(), Expr::String("x".into())]),
            "second argument to derivative must be a duration, got *influxql.StringLiteral"
        );
        assert_eq!(
            err("moving_average", vec![v.clone()]),
            "invalid number of arguments for moving_average, expected 2, got 1"
        );
        assert_eq!(
            err("moving_average", vec![v.clone(), Expr::Integer(1)]),
            "moving_average window must be greater than 1, got 1"
        );
        assert_eq!(
            err("moving_average", vec![v.clone(), Expr::Number(1.5)]),
            "second argument for moving_average must be an integer, got *influxql.NumberLiteral"
        );
        assert_eq!(
            err("cumulative_sum", vec![v.clone(), Expr::Integer(2)]),
            "invalid number of arguments for cumulative_sum, expected 1, got 2"
        );
    }
}
