//! Runtime values of `SELECT`: a field's value in one row, an aggregate's
//! result, or a literal, and how they compare, combine and print.
//!
//! Why one type: rows, `WHERE` conditions and aggregate results all flow
//! through the same expression evaluator, and InfluxDB's JSON output has
//! exactly these shapes (null, number, string, bool).

use std::cmp::Ordering;

use augur_engine::block::ColumnData;
use serde_json::Value as Json;

/// One value.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Value {
    /// Absent.
    #[default]
    Null,
    /// A float.
    Float(f64),
    /// A signed integer.
    Integer(i64),
    /// An unsigned integer.
    Unsigned(u64),
    /// A boolean.
    Boolean(bool),
    /// A string.
    String(String),
}

impl Value {
    /// Whether the value is absent.
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// The value as a float, if it is a number.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Float(f) => Some(*f),
            Value::Integer(i) => Some(*i as f64),
            Value::Unsigned(u) => Some(*u as f64),
            _ => None,
        }
    }

    /// Orders two values of comparable kinds (numbers with numbers, strings
    /// with strings, booleans with booleans); `None` otherwise.
    pub fn compare(&self, other: &Value) -> Option<Ordering> {
        match (self, other) {
            (Value::Integer(a), Value::Integer(b)) => Some(a.cmp(b)),
            (Value::Unsigned(a), Value::Unsigned(b)) => Some(a.cmp(b)),
            (Value::String(a), Value::String(b)) => Some(a.cmp(b)),
            (Value::Boolean(a), Value::Boolean(b)) => Some(a.cmp(b)),
            (a, b) => a.as_f64()?.partial_cmp(&b.as_f64()?),
        }
    }

    /// Total order used for sorting values of one column (nulls first,
    /// then by kind, then by value).
    pub fn sort_cmp(&self, other: &Value) -> Ordering {
        self.compare(other).unwrap_or_else(|| self.rank().cmp(&other.rank()))
    }

    fn rank(&self) -> u8 {
        match self {
            Value::Null => 0,
            Value::Boolean(_) => 1,
            Value::Float(_) | Value::Integer(_) | Value::Unsigned(_) => 2,
            Value::String(_) => 3,
        }
    }

    /// The JSON InfluxDB writes for this value. Floats with no fraction are
    /// written without one (`2`, not `2.0`), as Go's encoder does; NaN and
    /// infinities (which JSON cannot hold) become null.
    pub fn to_json(&self) -> Json {
        match self {
            Value::Null => Json::Null,
            Value::Float(f) => float_json(*f),
            Value::Integer(i) => Json::from(*i),
            Value::Unsigned(u) => Json::from(*u),
            Value::Boolean(b) => Json::Bool(*b),
            Value::String(s) => Json::String(s.clone()),
        }
    }
}

thread_local! {
    /// Set while [`with_typed_floats`] runs (see there).
    static TYPED_FLOATS: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Runs `f` with floats written as JSON floats even when integral (`2.0`,
/// not `2`), so that a result read back from JSON keeps its types.
///
/// Why: `SELECT ... INTO` turns result rows into points, and a `mean()`
/// that happens to be integral must still be written as a float, or the
/// target field would be created as an integer and the next, fractional,
/// mean would be refused as a type conflict. The flag is per thread: a
/// `SELECT` that hands work to another thread carries it over with
/// [`typed_floats`] and [`with_typed_floats_as`].
pub(crate) fn with_typed_floats<T>(f: impl FnOnce() -> T) -> T {
    with_typed_floats_as(true, f)
}

/// Whether this thread writes floats typed (see [`with_typed_floats`]).
pub(crate) fn typed_floats() -> bool {
    TYPED_FLOATS.with(std::cell::Cell::get)
}

/// Runs `f` with the typed-floats flag set to `typed` on this thread.
pub(crate) fn with_typed_floats_as<T>(typed: bool, f: impl FnOnce() -> T) -> T {
    struct Reset(bool);
    impl Drop for Reset {
        fn drop(&mut self) {
            TYPED_FLOATS.with(|t| t.set(self.0));
        }
    }
    let _reset = Reset(TYPED_FLOATS.with(|t| t.replace(typed)));
    f()
}

/// A float as Go's JSON encoder writes it (integral values without `.0`).
fn float_json(f: f64) -> Json {
    if TYPED_FLOATS.with(std::cell::Cell::get) {
        return serde_json::Number::from_f64(f).map(Json::Number).unwrap_or(Json::Null);
    }
    if f.is_finite() && f.fract() == 0.0 && f.abs() < 1e15 {
        return Json::from(f as i64);
    }
    serde_json::Number::from_f64(f).map(Json::Number).unwrap_or(Json::Null)
}

/// Expands a stored column (present values only) into one value per row.
pub fn column_values(data: &ColumnData, presence: Option<&[bool]>, rows: usize) -> Vec<Value> {
    let present: Vec<Value> = match data {
        ColumnData::Float(v) => v.iter().map(|x| Value::Float(*x)).collect(),
        ColumnData::Integer(v) => v.iter().map(|x| Value::Integer(*x)).collect(),
        ColumnData::Unsigned(v) => v.iter().map(|x| Value::Unsigned(*x)).collect(),
        ColumnData::Boolean(v) => v.iter().map(|x| Value::Boolean(*x)).collect(),
        ColumnData::String(v) => v.iter().map(|x| Value::String(x.clone())).collect(),
    };
    let Some(presence) = presence else {
        let mut out = present;
        out.resize(rows, Value::Null);
        return out;
    };
    let mut values = present.into_iter();
    let mut out = Vec::with_capacity(rows);
    for row in 0..rows {
        if presence.get(row).copied().unwrap_or(false) {
            out.push(values.next().unwrap_or_default());
        } else {
            out.push(Value::Null);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_like_go() {
        assert_eq!(Value::Float(2.0).to_json(), serde_json::json!(2));
        assert_eq!(Value::Float(2.5).to_json(), serde_json::json!(2.5));
        assert_eq!(Value::Float(f64::NAN).to_json(), Json::Null);
        assert_eq!(Value::Integer(-3).to_json(), serde_json::json!(-3));
        let typed = with_typed_floats(|| Value::Float(2.0).to_json());
        assert!(typed.is_f64(), "{typed}");
        assert!(Value::Float(2.0).to_json().is_i64(), "the flag is reset");
    }

    #[test]
    fn compares_across_number_kinds() {
        assert_eq!(Value::Integer(2).compare(&Value::Float(2.5)), Some(Ordering::Less));
        assert_eq!(Value::String("a".into()).compare(&Value::Integer(1)), None);
    }

    #[test]
    fn expands_sparse_columns() {
        let v = column_values(&ColumnData::Integer(vec![1, 2]), Some(&[true, false, true]), 3);
        assert_eq!(v, vec![Value::Integer(1), Value::Null, Value::Integer(2)]);
        let v = column_values(&ColumnData::Boolean(vec![true]), None, 1);
        assert_eq!(v, vec![Value::Boolean(true)]);
    }
}
