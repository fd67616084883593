//! Unquoted field values (numbers, booleans) and timestamps.
//!
//! The syntax is checked here, byte by byte, before any conversion: Rust's
//! `f64::from_str` alone would also take `inf`, `NaN` and `+1`, which
//! InfluxDB rejects. Integers are accumulated with checked arithmetic so an
//! out-of-range value is an error, never a wrap or a panic.

use super::LineErrorKind as Kind;
use super::{MAX_TIMESTAMP, MIN_TIMESTAMP};
use crate::model::{FieldValue, Precision};

/// Suffix of a signed integer field value (`42i`).
const INTEGER_SUFFIX: u8 = b'i';
/// Suffix of an unsigned integer field value (`42u`).
const UNSIGNED_SUFFIX: u8 = b'u';
/// The only sign a number may carry.
const MINUS: u8 = b'-';
/// Decimal point of a float.
const DECIMAL_POINT: u8 = b'.';

/// The accepted spellings of `true`.
const TRUE_SPELLINGS: &[&[u8]] = &[b"t", b"T", b"true", b"True", b"TRUE"];
/// The accepted spellings of `false`.
const FALSE_SPELLINGS: &[&[u8]] = &[b"f", b"F", b"false", b"False", b"FALSE"];

/// Parses an unquoted field value (`token` is non-empty and has no unescaped
/// separators).
pub(super) fn field_value(token: &[u8]) -> Result<FieldValue, Kind> {
    match token.first().copied() {
        Some(b'0'..=b'9' | MINUS | DECIMAL_POINT | b'+') => number(token),
        Some(b't' | b'T' | b'f' | b'F') => boolean(token),
        _ => Err(Kind::InvalidFieldValue),
    }
}

/// `t`, `true`, `F`, ... (see [`TRUE_SPELLINGS`] and [`FALSE_SPELLINGS`]).
fn boolean(token: &[u8]) -> Result<FieldValue, Kind> {
    if TRUE_SPELLINGS.contains(&token) {
        Ok(FieldValue::Boolean(true))
    } else if FALSE_SPELLINGS.contains(&token) {
        Ok(FieldValue::Boolean(false))
    } else {
        Err(Kind::InvalidBoolean)
    }
}

/// A float (`-1.5e3`), a signed integer (`-15i`) or an unsigned one (`15u`).
fn number(token: &[u8]) -> Result<FieldValue, Kind> {
    match token.split_last() {
        Some((&INTEGER_SUFFIX, body)) => {
            let (negative, digits) = split_sign(body);
            let magnitude = decimal_digits(digits)?.ok_or(Kind::IntegerOutOfRange)?;
            signed(negative, magnitude).map(FieldValue::Integer).ok_or(Kind::IntegerOutOfRange)
        }
        Some((&UNSIGNED_SUFFIX, body)) => {
            let (negative, digits) = split_sign(body);
            let magnitude = decimal_digits(digits)?.ok_or(Kind::UnsignedOutOfRange)?;
            if negative {
                return Err(Kind::UnsignedOutOfRange);
            }
            Ok(FieldValue::Unsigned(magnitude))
        }
        _ => float(token).map(FieldValue::Float),
    }
}

/// Splits off a leading minus sign.
fn split_sign(body: &[u8]) -> (bool, &[u8]) {
    match body.split_first() {
        Some((&MINUS, rest)) => (true, rest),
        _ => (false, body),
    }
}

/// Reads one or more ASCII digits: `Ok(None)` if they overflow `u64`,
/// [`Kind::InvalidNumber`] if `digits` is empty or has a non-digit.
fn decimal_digits(digits: &[u8]) -> Result<Option<u64>, Kind> {
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return Err(Kind::InvalidNumber);
    }
    Ok(digits.iter().try_fold(0u64, |acc, &d| acc.checked_mul(10)?.checked_add(u64::from(d - b'0'))))
}

/// Applies a sign to a magnitude, if the result fits `i64`.
fn signed(negative: bool, magnitude: u64) -> Option<i64> {
    if negative {
        0i64.checked_sub_unsigned(magnitude)
    } else {
        i64::try_from(magnitude).ok()
    }
}

/// `[-](digits[.digits*] | .digits)[(e|E)[+|-]digits]`, finite.
fn float(token: &[u8]) -> Result<f64, Kind> {
    let mut i = usize::from(token.first() == Some(&MINUS));
    let count_digits =
        |from: usize| token.get(from..).map_or(0, |rest| rest.iter().take_while(|b| b.is_ascii_digit()).count());
    let int_digits = count_digits(i);
    i += int_digits;
    let mut frac_digits = 0;
    if token.get(i) == Some(&DECIMAL_POINT) {
        frac_digits = count_digits(i + 1);
        i += 1 + frac_digits;
    }
    if int_digits + frac_digits == 0 {
        return Err(Kind::InvalidNumber);
    }
    if matches!(token.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(token.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        let exp_digits = count_digits(i);
        if exp_digits == 0 {
            return Err(Kind::InvalidNumber);
        }
        i += exp_digits;
    }
    if i != token.len() {
        return Err(Kind::InvalidNumber);
    }
    if let Some(v) = exact_float(token) {
        return Ok(v);
    }
    // The syntax above is a subset of what `f64::from_str` accepts, and it
    // rounds correctly; only the range is left to check.
    let text = std::str::from_utf8(token).map_err(|_| Kind::InvalidNumber)?;
    let v: f64 = text.parse().map_err(|_| Kind::InvalidNumber)?;
    if v.is_finite() {
        Ok(v)
    } else {
        Err(Kind::FloatOutOfRange)
    }
}

/// Clinger's fast path for the common short decimal (`58.13`, `-0.5`, `42`):
/// when the digits, read as an integer, fit exactly in an `f64` (at most
/// 2^53) and the power of ten is exact too (at most 10^22), one IEEE division
/// gives the correctly rounded value. `None` sends the token to the general
/// parser (`token` has already passed the syntax check).
fn exact_float(token: &[u8]) -> Option<f64> {
    /// The powers of ten that are exact in an `f64`.
    const POWERS: [f64; 23] = [
        1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19,
        1e20, 1e21, 1e22,
    ];
    const MAX_EXACT: u64 = 1 << 53;
    let (negative, body) = split_sign(token);
    if body.len() > 16 {
        return None; // 16 bytes hold at most 16 digits: below 10^16, fits u64
    }
    let mut mantissa: u64 = 0;
    let mut scale: Option<usize> = None;
    for &c in body {
        match c {
            b'0'..=b'9' => {
                mantissa = mantissa * 10 + u64::from(c - b'0');
                if let Some(s) = scale.as_mut() {
                    *s += 1;
                }
            }
            DECIMAL_POINT => scale = Some(0),
            _ => return None, // an exponent: leave it to the general parser
        }
    }
    if mantissa > MAX_EXACT {
        return None;
    }
    let power = POWERS.get(scale.unwrap_or(0))?;
    let v = mantissa as f64 / power;
    Some(if negative { -v } else { v })
}

/// Parses a timestamp (`[-]digits`) in `precision` and converts it to
/// nanoseconds within [`MIN_TIMESTAMP`]..=[`MAX_TIMESTAMP`].
pub(super) fn timestamp(token: &[u8], precision: Precision) -> Result<i64, Kind> {
    let (negative, digits) = split_sign(token);
    let magnitude = match decimal_digits(digits) {
        Ok(Some(m)) => m,
        Ok(None) => return Err(Kind::TimestampOutOfRange),
        Err(_) => return Err(Kind::InvalidTimestamp),
    };
    let nanos = signed(negative, magnitude).and_then(|t| precision.to_nanos(t)).ok_or(Kind::TimestampOutOfRange)?;
    if (MIN_TIMESTAMP..=MAX_TIMESTAMP).contains(&nanos) {
        Ok(nanos)
    } else {
        Err(Kind::TimestampOutOfRange)
    }
}
