//! `WHERE`: the time range, the tag predicates pushed down to the index, and
//! the per-row evaluation of what remains.
//!
//! Why split: InfluxDB treats `time` comparisons as a range (not a row
//! filter) and evaluates tag predicates on the index; Augur does the same so
//! a query reads only the series and windows it needs. Comparisons on
//! `time` must be joined by `AND` at the top level, as in InfluxDB.

use std::cmp::Ordering;
use std::collections::{HashMap, HashSet};

use augur_engine::storage::{TagFilter, TimeRange};
use regex::Regex;

use super::super::value::Value;
use super::SelectError;
use crate::ast::{BinaryOp, Expr, RefKind};
use crate::time::parse_rfc3339;

/// A `WHERE` clause taken apart.
#[derive(Debug)]
pub(crate) struct Condition {
    /// The time range, inclusive; unbounded sides are `i64::MIN`/`MAX`.
    pub range: TimeRange,
    /// Whether a lower / upper time bound was given.
    pub bounded: (bool, bool),
    /// What remains to check per row (`None` = every row passes).
    pub residual: Option<Expr>,
    /// Regexes of the residual, compiled once.
    pub regexes: HashMap<String, Regex>,
}

impl Condition {
    /// Splits `cond` into a time range and a residual condition.
    pub(crate) fn new(cond: Option<&Expr>, now: i64) -> Result<Condition, SelectError> {
        let mut range = TimeRange::ALL;
        let mut bounded = (false, false);
        let residual = match cond {
            Some(expr) => extract_time(expr, now, &mut range, &mut bounded)?,
            None => None,
        };
        if let Some(expr) = &residual {
            if mentions_time(expr) {
                return Err(SelectError::InvalidTimeCondition);
            }
        }
        let mut regexes = HashMap::new();
        if let Some(expr) = &residual {
            compile_regexes(expr, &mut regexes)?;
        }
        Ok(Condition { range, bounded, residual, regexes })
    }

    /// Whether a row passes: `lookup` gives a variable's value in the row.
    pub(crate) fn matches(&self, lookup: &dyn Fn(&str, Option<RefKind>) -> Value) -> bool {
        match &self.residual {
            None => true,
            Some(expr) => truthy(&eval(expr, lookup, &self.regexes)),
        }
    }

    /// This condition for the rows of series that the index already picked
    /// with the target's tag filter ([`tag_filter`]): the top-level `AND`ed
    /// conjuncts made only of tag comparisons, which the filter applied
    /// exactly, are not checked again on every row (`WHERE hostname = 'a'
    /// OR hostname = 'b'` costs nothing per row). Not for subquery sources,
    /// which check tags per row.
    pub(crate) fn after_index(&self, is_tag: &dyn Fn(&str, Option<RefKind>) -> bool) -> Condition {
        Condition {
            range: self.range,
            bounded: self.bounded,
            residual: self.residual.as_ref().and_then(|e| without_pushed(e, is_tag)),
            regexes: self.regexes.clone(),
        }
    }

    /// The names the residual reads.
    pub(crate) fn names(&self) -> HashSet<String> {
        let mut out = HashSet::new();
        if let Some(expr) = &self.residual {
            collect_refs(expr, &mut out);
        }
        out
    }
}

/// A tag-only condition as an index filter, when it can be one
/// (`=`, `!=`, `=~`, `!~` against literals, joined by `AND`/`OR`).
pub(crate) fn tag_filter(expr: &Expr, is_tag: &dyn Fn(&str, Option<RefKind>) -> bool) -> Option<TagFilter> {
    match expr {
        Expr::Paren(inner) => tag_filter(inner, is_tag),
        Expr::Binary { op: BinaryOp::And, lhs, rhs } => {
            match (tag_filter(lhs, is_tag), tag_filter(rhs, is_tag)) {
                (Some(a), Some(b)) => Some(TagFilter::And(Box::new(a), Box::new(b))),
                // A conjunct that cannot be pushed down is checked per row.
                (Some(a), None) | (None, Some(a)) => Some(a),
                (None, None) => None,
            }
        }
        Expr::Binary { op: BinaryOp::Or, lhs, rhs } => {
            Some(TagFilter::Or(Box::new(tag_filter(lhs, is_tag)?), Box::new(tag_filter(rhs, is_tag)?)))
        }
        Expr::Binary { op, lhs, rhs } => {
            let Expr::VarRef { name, kind } = &**lhs else { return None };
            if !is_tag(name, *kind) {
                return None;
            }
            match (op, &**rhs) {
                (BinaryOp::Eq, Expr::String(v)) => Some(TagFilter::Eq(name.clone(), v.clone())),
                (BinaryOp::Neq, Expr::String(v)) => Some(TagFilter::NotEq(name.clone(), v.clone())),
                (BinaryOp::EqRegex, Expr::Regex(p)) => Some(TagFilter::Regex(name.clone(), Regex::new(p).ok()?)),
                (BinaryOp::NeqRegex, Expr::Regex(p)) => Some(TagFilter::NotRegex(name.clone(), Regex::new(p).ok()?)),
                _ => None,
            }
        }
        _ => None,
    }
}

/// Whether the index filter of `expr` selects exactly the series whose
/// rows `expr` would pass: every part is a pushable tag comparison.
fn fully_pushed(expr: &Expr, is_tag: &dyn Fn(&str, Option<RefKind>) -> bool) -> bool {
    match expr {
        Expr::Paren(inner) => fully_pushed(inner, is_tag),
        Expr::Binary { op: BinaryOp::And | BinaryOp::Or, lhs, rhs } => {
            fully_pushed(lhs, is_tag) && fully_pushed(rhs, is_tag)
        }
        other => tag_filter(other, is_tag).is_some(),
    }
}

/// `expr` without its top-level `AND`ed conjuncts that are fully pushed
/// down (`None`: nothing is left to check per row).
fn without_pushed(expr: &Expr, is_tag: &dyn Fn(&str, Option<RefKind>) -> bool) -> Option<Expr> {
    if fully_pushed(expr, is_tag) {
        return None;
    }
    match expr {
        Expr::Paren(inner) if !matches!(**inner, Expr::Binary { op: BinaryOp::Or, .. }) => {
            without_pushed(inner, is_tag)
        }
        Expr::Binary { op: BinaryOp::And, lhs, rhs } => {
            match (without_pushed(lhs, is_tag), without_pushed(rhs, is_tag)) {
                (Some(l), Some(r)) => Some(Expr::binary(BinaryOp::And, l, r)),
                (one, None) | (None, one) => one,
            }
        }
        other => Some(other.clone()),
    }
}

fn is_time(expr: &Expr) -> bool {
    matches!(expr, Expr::VarRef { name, .. } if name.eq_ignore_ascii_case("time"))
}

fn mentions_time(expr: &Expr) -> bool {
    match expr {
        Expr::Binary { lhs, rhs, .. } => mentions_time(lhs) || mentions_time(rhs),
        Expr::Paren(inner) => mentions_time(inner),
        e => is_time(e),
    }
}

/// Removes top-level `AND`ed time comparisons from `expr`, narrowing `range`.
fn extract_time(
    expr: &Expr,
    now: i64,
    range: &mut TimeRange,
    bounded: &mut (bool, bool),
) -> Result<Option<Expr>, SelectError> {
    match expr {
        Expr::Paren(inner) if !matches!(**inner, Expr::Binary { op: BinaryOp::Or, .. }) => {
            extract_time(inner, now, range, bounded)
        }
        Expr::Binary { op: BinaryOp::And, lhs, rhs } => {
            let l = extract_time(lhs, now, range, bounded)?;
            let r = extract_time(rhs, now, range, bounded)?;
            Ok(match (l, r) {
                (Some(l), Some(r)) => Some(Expr::binary(BinaryOp::And, l, r)),
                (one, None) | (None, one) => one,
            })
        }
        Expr::Binary { op, lhs, rhs } if op.is_comparison() && (is_time(lhs) || is_time(rhs)) => {
            let (op, value) = if is_time(lhs) { (*op, rhs) } else { (flip(*op), lhs) };
            let t = time_value(value, now)?;
            match op {
                BinaryOp::Gt => narrow_start(range, bounded, t.saturating_add(1)),
                BinaryOp::Gte => narrow_start(range, bounded, t),
                BinaryOp::Lt => narrow_end(range, bounded, t.saturating_sub(1)),
                BinaryOp::Lte => narrow_end(range, bounded, t),
                BinaryOp::Eq => {
                    narrow_start(range, bounded, t);
                    narrow_end(range, bounded, t);
                }
                _ => return Err(SelectError::InvalidTimeCondition),
            }
            Ok(None)
        }
        other => Ok(Some(other.clone())),
    }
}

fn narrow_start(range: &mut TimeRange, bounded: &mut (bool, bool), t: i64) {
    range.start = range.start.max(t);
    bounded.0 = true;
}

fn narrow_end(range: &mut TimeRange, bounded: &mut (bool, bool), t: i64) {
    range.end = range.end.min(t);
    bounded.1 = true;
}

fn flip(op: BinaryOp) -> BinaryOp {
    match op {
        BinaryOp::Lt => BinaryOp::Gt,
        BinaryOp::Lte => BinaryOp::Gte,
        BinaryOp::Gt => BinaryOp::Lt,
        BinaryOp::Gte => BinaryOp::Lte,
        other => other,
    }
}

/// The nanosecond value of a time expression: an RFC 3339 string, an
/// integer (ns), a duration, `now()`, or `+`/`-` of those.
fn time_value(expr: &Expr, now: i64) -> Result<i64, SelectError> {
    match expr {
        Expr::Paren(inner) => time_value(inner, now),
        Expr::String(s) => parse_rfc3339(s).map_err(|_| SelectError::InvalidTime(s.clone())),
        Expr::Integer(n) | Expr::Duration(n) => Ok(*n),
        Expr::Number(f) if f.is_finite() => Ok(*f as i64),
        Expr::Call { name, args, .. } if name == "now" && args.is_empty() => Ok(now),
        Expr::Binary { op: BinaryOp::Add, lhs, rhs } => Ok(time_value(lhs, now)?.saturating_add(time_value(rhs, now)?)),
        Expr::Binary { op: BinaryOp::Sub, lhs, rhs } => Ok(time_value(lhs, now)?.saturating_sub(time_value(rhs, now)?)),
        _ => Err(SelectError::InvalidTimeCondition),
    }
}

fn compile_regexes(expr: &Expr, out: &mut HashMap<String, Regex>) -> Result<(), SelectError> {
    match expr {
        Expr::Regex(p) => {
            if !out.contains_key(p) {
                let re = Regex::new(p).map_err(|e| SelectError::BadRegex(e.to_string()))?;
                out.insert(p.clone(), re);
            }
            Ok(())
        }
        Expr::Binary { lhs, rhs, .. } => {
            compile_regexes(lhs, out)?;
            compile_regexes(rhs, out)
        }
        Expr::Paren(inner) => compile_regexes(inner, out),
        _ => Ok(()),
    }
}

fn collect_refs(expr: &Expr, out: &mut HashSet<String>) {
    match expr {
        Expr::VarRef { name, .. } => {
            out.insert(name.clone());
        }
        Expr::Binary { lhs, rhs, .. } => {
            collect_refs(lhs, out);
            collect_refs(rhs, out);
        }
        Expr::Paren(inner) => collect_refs(inner, out),
        Expr::Call { args, .. } => args.iter().for_each(|a| collect_refs(a, out)),
        _ => {}
    }
}

fn truthy(v: &Value) -> bool {
    matches!(v, Value::Boolean(true))
}

/// Evaluates a condition or arithmetic expression over one row.
pub(crate) fn eval(
    expr: &Expr,
    lookup: &dyn Fn(&str, Option<RefKind>) -> Value,
    regexes: &HashMap<String, Regex>,
) -> Value {
    match expr {
        Expr::VarRef { name, kind } => lookup(name, *kind),
        Expr::Integer(n) => Value::Integer(*n),
        Expr::Number(n) => Value::Float(*n),
        Expr::String(s) => Value::String(s.clone()),
        Expr::Boolean(b) => Value::Boolean(*b),
        Expr::Duration(ns) => Value::Integer(*ns),
        Expr::Paren(inner) => eval(inner, lookup, regexes),
        Expr::Binary { op: BinaryOp::And, lhs, rhs } => {
            Value::Boolean(truthy(&eval(lhs, lookup, regexes)) && truthy(&eval(rhs, lookup, regexes)))
        }
        Expr::Binary { op: BinaryOp::Or, lhs, rhs } => {
            Value::Boolean(truthy(&eval(lhs, lookup, regexes)) || truthy(&eval(rhs, lookup, regexes)))
        }
        Expr::Binary { op: op @ (BinaryOp::EqRegex | BinaryOp::NeqRegex), lhs, rhs } => {
            let Expr::Regex(p) = &**rhs else { return Value::Boolean(false) };
            let Some(re) = regexes.get(p) else { return Value::Boolean(false) };
            let text = match eval(lhs, lookup, regexes) {
                Value::String(s) => s,
                Value::Null => String::new(),
                _ => return Value::Boolean(false),
            };
            Value::Boolean(re.is_match(&text) == (*op == BinaryOp::EqRegex))
        }
        Expr::Binary { op, lhs, rhs } if op.is_comparison() => {
            let (l, r) = (eval(lhs, lookup, regexes), eval(rhs, lookup, regexes));
            let ord = l.compare(&r);
            Value::Boolean(match op {
                BinaryOp::Eq => ord == Some(Ordering::Equal),
                BinaryOp::Neq => ord.is_some_and(|o| o != Ordering::Equal),
                BinaryOp::Lt => ord == Some(Ordering::Less),
                BinaryOp::Lte => matches!(ord, Some(Ordering::Less | Ordering::Equal)),
                BinaryOp::Gt => ord == Some(Ordering::Greater),
                BinaryOp::Gte => matches!(ord, Some(Ordering::Greater | Ordering::Equal)),
                _ => false,
            })
        }
        Expr::Binary { op, lhs, rhs } => arithmetic(*op, &eval(lhs, lookup, regexes), &eval(rhs, lookup, regexes)),
        Expr::Call { name, args, .. } if super::math::is_math(name) => {
            let args: Vec<Value> = args.iter().map(|a| eval(a, lookup, regexes)).collect();
            super::math::apply(name, &args)
        }
        Expr::Wildcard(_) | Expr::Regex(_) | Expr::Call { .. } => Value::Null,
    }
}

/// `+ - * /` on two values: integers stay integers (except `/`, which is
/// always a float division, as in InfluxDB); a null operand gives null.
pub(crate) fn arithmetic(op: BinaryOp, l: &Value, r: &Value) -> Value {
    match (l, r) {
        (Value::Integer(a), Value::Integer(b)) => match op {
            BinaryOp::Add => Value::Integer(a.wrapping_add(*b)),
            BinaryOp::Sub => Value::Integer(a.wrapping_sub(*b)),
            BinaryOp::Mul => Value::Integer(a.wrapping_mul(*b)),
            BinaryOp::Div if *b == 0 => Value::Float(0.0),
            BinaryOp::Div => Value::Float(*a as f64 / *b as f64),
            _ => Value::Null,
        },
        _ => {
            let (Some(a), Some(b)) = (l.as_f64(), r.as_f64()) else { return Value::Null };
            match op {
                BinaryOp::Add => Value::Float(a + b),
                BinaryOp::Sub => Value::Float(a - b),
                BinaryOp::Mul => Value::Float(a * b),
                BinaryOp::Div if b == 0.0 => Value::Float(0.0),
                BinaryOp::Div => Value::Float(a / b),
                _ => Value::Null,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ast::Statement;

    /// The per-row residual left after the index applied the tag terms of
    /// `where_clause` (tags are `host` and `dc`), printed.
    fn after_index(where_clause: &str) -> Option<String> {
        let query = crate::parser::parse_query(&format!("SELECT v FROM m WHERE {where_clause}")).ok()?;
        let Some(Statement::Select(select)) = query.statements.into_iter().next() else { return None };
        let cond = Condition::new(select.condition.as_ref(), 0).ok()?;
        let is_tag = |name: &str, _: Option<RefKind>| name == "host" || name == "dc";
        cond.after_index(&is_tag).residual.map(|e| e.to_string())
    }

    #[test]
    fn index_applied_tag_terms_are_not_checked_again() {
        assert_eq!(after_index("host = 'a' OR host = 'b'"), None);
        assert_eq!(after_index("(host = 'a' OR host =~ /b/) AND v > 1"), Some("v > 1".into()));
        assert_eq!(after_index("dc != 'x' AND v > 1 AND host = 'a'"), Some("v > 1".into()));
        assert_eq!(after_index("time > 0 AND host = 'a'"), None);
    }

    #[test]
    fn terms_the_index_only_narrows_stay() {
        // The index keeps host 'a' or 'b' series; the field term still decides rows.
        assert_eq!(after_index("host = 'a' OR v > 1"), Some("host = 'a' OR v > 1".into()));
        assert_eq!(
            after_index("(host = 'a' AND v > 1) OR host = 'b'"),
            Some("(host = 'a' AND v > 1) OR host = 'b'".into())
        );
        assert_eq!(after_index("v > 1"), Some("v > 1".into()));
    }
}
