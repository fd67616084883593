//! Casts: `v::float`, `v::integer`, `v::unsigned`, `v::string`,
//! `v::boolean` on a field reference.
//!
//! InfluxDB 1.x semantics, checked against influxd 1.6.7: numbers convert
//! between float, integer and unsigned (a float is truncated toward zero;
//! a negative float to unsigned wraps like Go's conversion, `-2.5` →
//! `18446744073709551614`); a value of another kind (a string or boolean to
//! a number, a number to a string) becomes null; `::string` and
//! `::boolean` keep values of that type only. `::field` and `::tag` only
//! say what the name refers to.

use augur_engine::model::FieldType;

use crate::ast::RefKind;
use crate::exec::value::Value;

/// `value` cast as `kind` says.
pub(crate) fn cast(value: Value, kind: Option<RefKind>) -> Value {
    match (kind, value) {
        (None | Some(RefKind::Field | RefKind::Tag), v) => v,
        (_, Value::Null) => Value::Null,
        (Some(RefKind::Float), v) => v.as_f64().map_or(Value::Null, Value::Float),
        (Some(RefKind::Integer), Value::Float(f)) => Value::Integer(f as i64),
        (Some(RefKind::Integer), Value::Unsigned(u)) => Value::Integer(u as i64),
        (Some(RefKind::Integer), v @ Value::Integer(_)) => v,
        (Some(RefKind::Unsigned), Value::Float(f)) => Value::Unsigned(f as i64 as u64),
        (Some(RefKind::Unsigned), Value::Integer(i)) => Value::Unsigned(i as u64),
        (Some(RefKind::Unsigned), v @ Value::Unsigned(_)) => v,
        (Some(RefKind::String), v @ Value::String(_)) => v,
        (Some(RefKind::Boolean), v @ Value::Boolean(_)) => v,
        _ => Value::Null,
    }
}

/// The type a field of type `ty` has after the cast (`None` when the
/// field does not exist).
pub(crate) fn cast_type(ty: Option<FieldType>, kind: Option<RefKind>) -> Option<FieldType> {
    let ty = ty?;
    Some(match kind {
        Some(RefKind::Float) => FieldType::Float,
        Some(RefKind::Integer) => FieldType::Integer,
        Some(RefKind::Unsigned) => FieldType::Unsigned,
        Some(RefKind::String) => FieldType::String,
        Some(RefKind::Boolean) => FieldType::Boolean,
        _ => ty,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn casts_like_influxdb() {
        let k = Some;
        assert_eq!(cast(Value::Float(1.7), k(RefKind::Integer)), Value::Integer(1));
        assert_eq!(cast(Value::Float(-2.5), k(RefKind::Integer)), Value::Integer(-2));
        assert_eq!(cast(Value::Float(-2.5), k(RefKind::Unsigned)), Value::Unsigned(18446744073709551614));
        assert_eq!(cast(Value::Integer(-3), k(RefKind::Float)), Value::Float(-3.0));
        assert_eq!(cast(Value::Boolean(true), k(RefKind::Integer)), Value::Null);
        assert_eq!(cast(Value::String("12".into()), k(RefKind::Float)), Value::Null);
        assert_eq!(cast(Value::Float(1.5), k(RefKind::String)), Value::Null);
        assert_eq!(cast(Value::Boolean(false), k(RefKind::Boolean)), Value::Boolean(false));
        assert_eq!(cast(Value::Float(1.5), k(RefKind::Field)), Value::Float(1.5));
    }
}
