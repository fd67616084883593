//! Writing points as line protocol (export, and the parser's tests).
//!
//! The output is what [`parse`](super::parse) (and InfluxDB 1.x) reads back
//! into the identical point: each element's specials escaped with a
//! backslash, floats in the shortest form that round-trips exactly, `i`/`u`
//! suffixes on integers, strings quoted with `"` and `\` escaped. Integers
//! are formatted by hand and nothing is allocated besides the output buffer.
//!
//! Line protocol cannot carry everything a [`Point`] can hold; rather than
//! emit a line that reads back as something else (or swallows the next
//! line), the writer follows Telegraf's serializer: it leaves out what has no
//! representation and says so in [`write_point`]'s documentation.

use std::fmt::Write as _;

use super::{COMMENT, ESCAPE, KEY_SPECIALS, MEASUREMENT_SPECIALS};
use crate::model::{FieldValue, Point};

/// Appends `p` to `out` as one line of line protocol, ending with `\n`, and
/// returns `true`; or appends nothing and returns `false` if the point has
/// nothing line protocol can express (see below).
///
/// The line parses back (in nanosecond precision) to a point equal to `p`
/// whenever `p` keeps the model's invariants (non-empty names, tags sorted
/// and unique, field keys unique), its timestamp is within
/// [`MIN_TIMESTAMP`](super::MIN_TIMESTAMP)..=[`MAX_TIMESTAMP`](super::MAX_TIMESTAMP),
/// its strings are at most [`MAX_STRING_LEN`](super::MAX_STRING_LEN) bytes,
/// and its names avoid what line protocol cannot express:
///
/// * a name ending with a backslash (it would escape the delimiter after it):
///   the trailing backslashes are dropped, and a tag or field whose key or
///   value is left empty is left out;
/// * a newline in a name: written as the two characters `\n`;
/// * a measurement starting with `#` (the line would be a comment): the
///   point is not written;
/// * a tab starting the measurement or the first field key: written, but
///   skipped as whitespace when read back;
/// * NaN and infinite floats: the field is left out; a point left without
///   fields is not written.
///
/// Points parsed from line protocol never hit any of these.
pub fn write_point(out: &mut String, p: &Point) -> bool {
    let start = out.len();
    if p.measurement.starts_with(char::from(COMMENT)) || !write_name(out, &p.measurement, MEASUREMENT_SPECIALS) {
        out.truncate(start);
        return false;
    }
    for (key, value) in &p.tags {
        let tag_start = out.len();
        out.push(',');
        let written = write_name(out, key, KEY_SPECIALS) && {
            out.push('=');
            write_name(out, value, KEY_SPECIALS)
        };
        if !written {
            out.truncate(tag_start);
        }
    }
    let mut separator = ' ';
    for (key, value) in &p.fields {
        if matches!(value, FieldValue::Float(f) if !f.is_finite()) {
            continue;
        }
        let field_start = out.len();
        out.push(separator);
        if !write_name(out, key, KEY_SPECIALS) {
            out.truncate(field_start);
            continue;
        }
        out.push('=');
        write_value(out, value);
        separator = ',';
    }
    if separator == ' ' {
        // No field could be written.
        out.truncate(start);
        return false;
    }
    if let Some(ts) = p.timestamp {
        out.push(' ');
        write_i64(out, ts);
    }
    out.push('\n');
    true
}

/// Appends a name with its `specials` escaped; `false` (with `out` left
/// partly written) if nothing is left of it once trailing backslashes are
/// dropped.
fn write_name(out: &mut String, name: &str, specials: &[u8]) -> bool {
    let name = name.trim_end_matches(char::from(ESCAPE));
    if name.is_empty() {
        return false;
    }
    let needs_escape = |b: &u8| specials.contains(b) || *b == b'\n';
    if !name.as_bytes().iter().any(needs_escape) {
        out.push_str(name);
        return true;
    }
    let mut copied = 0;
    for (i, b) in name.bytes().enumerate() {
        if needs_escape(&b) {
            // `i` is at an ASCII byte, so both slices end on char boundaries.
            out.push_str(name.get(copied..i).unwrap_or_default());
            out.push('\\');
            if b == b'\n' {
                out.push('n');
                copied = i + 1;
            } else {
                copied = i;
            }
        }
    }
    out.push_str(name.get(copied..).unwrap_or_default());
    true
}

/// Appends one field value.
fn write_value(out: &mut String, value: &FieldValue) {
    match value {
        FieldValue::Float(v) => write_float(out, *v),
        FieldValue::Integer(v) => {
            write_i64(out, *v);
            out.push('i');
        }
        FieldValue::Unsigned(v) => {
            write_u64(out, *v);
            out.push('u');
        }
        FieldValue::Boolean(v) => out.push_str(if *v { "true" } else { "false" }),
        FieldValue::String(s) => {
            out.push('"');
            let mut copied = 0;
            for (i, c) in s.bytes().enumerate() {
                if c == b'"' || c == b'\\' {
                    // `i` is at an ASCII byte, so both slices end on char boundaries.
                    out.push_str(s.get(copied..i).unwrap_or_default());
                    out.push('\\');
                    copied = i;
                }
            }
            out.push_str(s.get(copied..).unwrap_or_default());
            out.push('"');
        }
    }
}

/// Appends a finite float in the shortest decimal form that parses back to
/// the same value: plain notation for ordinary magnitudes, scientific
/// notation (`1e300`, `5e-324`) at the extremes.
fn write_float(out: &mut String, v: f64) {
    let magnitude = v.abs();
    // Writing to a `String` cannot fail.
    let _ =
        if magnitude == 0.0 || (1e-5..1e16).contains(&magnitude) { write!(out, "{v}") } else { write!(out, "{v:e}") };
}

/// Appends a signed decimal integer.
fn write_i64(out: &mut String, v: i64) {
    if v < 0 {
        out.push('-');
    }
    write_u64(out, v.unsigned_abs());
}

/// Appends an unsigned decimal integer.
fn write_u64(out: &mut String, mut v: u64) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    loop {
        at -= 1;
        if let Some(d) = digits.get_mut(at) {
            *d = b'0' + (v % 10) as u8;
        }
        v /= 10;
        if v == 0 || at == 0 {
            break;
        }
    }
    if let Ok(text) = std::str::from_utf8(digits.get(at..).unwrap_or_default()) {
        out.push_str(text);
    }
}
