//! Math functions: `abs, ceil, floor, round, sqrt, pow, exp, ln, log,
//! log2, log10, sin, cos, tan, asin, acos, atan, atan2`.
//!
//! Why apart: these are plain row functions (like `+` or `*`), evaluated
//! wherever an expression is — over a raw row (`abs(v)`, which may sit next
//! to bare fields) or over aggregate results (`round(mean(v))`) — so both
//! executors call [`apply`]. As in InfluxDB 1.x: `abs`, `ceil`, `floor`
//! and `round` keep integers as they are, everything else returns a float,
//! a non-number argument gives null, and NaN (`acos(2)`) prints as null.

use super::SelectError;
use crate::exec::value::Value;

/// The number of arguments of a math function, or `None` if `name` is not one.
pub(crate) fn arity(name: &str) -> Option<usize> {
    Some(match name {
        "abs" | "ceil" | "floor" | "round" | "sqrt" | "exp" | "ln" | "log2" | "log10" | "sin" | "cos" | "tan"
        | "asin" | "acos" | "atan" => 1,
        "pow" | "log" | "atan2" => 2,
        _ => return None,
    })
}

/// Whether `name` is a math function.
pub(crate) fn is_math(name: &str) -> bool {
    arity(name).is_some()
}

/// Checks the argument count of math function `name`.
pub(crate) fn check(name: &str, got: usize) -> Result<(), SelectError> {
    match arity(name) {
        Some(expected) if expected != got => Err(SelectError::Arity { name: name.to_string(), expected, got }),
        _ => Ok(()),
    }
}

/// Checks the argument counts of every math call in `expr`.
pub(crate) fn check_all(expr: &crate::ast::Expr) -> Result<(), SelectError> {
    use crate::ast::Expr;
    match expr {
        Expr::Call { name, args, .. } => {
            check(name, args.len())?;
            args.iter().try_for_each(check_all)
        }
        Expr::Binary { lhs, rhs, .. } => {
            check_all(lhs)?;
            check_all(rhs)
        }
        Expr::Paren(inner) => check_all(inner),
        _ => Ok(()),
    }
}

/// Applies math function `name` to evaluated arguments.
pub(crate) fn apply(name: &str, args: &[Value]) -> Value {
    let first = args.first().unwrap_or(&Value::Null);
    match name {
        "abs" => match first {
            Value::Integer(i) => Value::Integer(i.wrapping_abs()),
            Value::Unsigned(u) => Value::Unsigned(*u),
            v => float(v, f64::abs),
        },
        "ceil" | "floor" | "round" => match first {
            Value::Integer(_) | Value::Unsigned(_) => first.clone(),
            v => float(
                v,
                match name {
                    "ceil" => f64::ceil,
                    "floor" => f64::floor,
                    _ => f64::round,
                },
            ),
        },
        "sqrt" => float(first, f64::sqrt),
        "exp" => float(first, f64::exp),
        "ln" => float(first, f64::ln),
        "log2" => float(first, f64::log2),
        "log10" => float(first, f64::log10),
        "sin" => float(first, f64::sin),
        "cos" => float(first, f64::cos),
        "tan" => float(first, f64::tan),
        "asin" => float(first, f64::asin),
        "acos" => float(first, f64::acos),
        "atan" => float(first, f64::atan),
        "pow" | "log" | "atan2" => {
            let (Some(a), Some(b)) = (first.as_f64(), args.get(1).and_then(Value::as_f64)) else {
                return Value::Null;
            };
            Value::Float(match name {
                "pow" => a.powf(b),
                "log" => a.ln() / b.ln(),
                _ => a.atan2(b),
            })
        }
        _ => Value::Null,
    }
}

fn float(v: &Value, f: impl Fn(f64) -> f64) -> Value {
    v.as_f64().map_or(Value::Null, |x| Value::Float(f(x)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_influxdb() {
        // influxd 1.6.7 on v = 2 / i = 3 (host a of the transform data).
        let f = Value::Float;
        // (Go's math and Rust's libm may differ in the last digit: ln(3) is
        // ...096 in Go, ...098 here; see docs/query-language.md.)
        assert_eq!(apply("sin", &[f(1.0)]), f(0.8414709848078965));
        assert_eq!(apply("atan2", &[f(1.0), f(2.0)]), f(0.4636476090008061));
        assert!(matches!(apply("log", &[f(3.0), f(2.0)]), Value::Float(x) if (x - 1.584962500721156).abs() < 1e-15));
        assert_eq!(apply("exp", &[Value::Integer(3)]), f(20.085536923187668));
        assert!(
            matches!(apply("log10", &[Value::Integer(3)]), Value::Float(x) if (x - 0.4771212547196624).abs() < 1e-15)
        );
        assert_eq!(apply("abs", &[Value::Integer(-3)]), Value::Integer(3));
        assert_eq!(apply("round", &[f(2.5)]), f(3.0));
        assert_eq!(apply("round", &[f(-2.5)]), f(-3.0));
        assert_eq!(apply("abs", &[Value::String("x".into())]), Value::Null);
        assert!(matches!(apply("acos", &[Value::Integer(2)]), Value::Float(x) if x.is_nan()));
    }

    #[test]
    fn arity_errors_read_like_influxdb() {
        assert_eq!(
            check("pow", 1).err().map(|e| e.to_string()).as_deref(),
            Some("invalid number of arguments for pow, expected 2, got 1")
        );
        assert!(check("abs", 1).is_ok());
    }
}
