//! The data model shared by every layer: points, series keys, field types.
//!
//! Augur follows InfluxDB 1.x: a *database* holds *retention policies*; a
//! *series* is a measurement plus a sorted tag set; each point of a series
//! carries one or more typed *fields* at a nanosecond timestamp. A field's type
//! is fixed per measurement, so a conflicting write is rejected.

use std::fmt;

/// The type of a field, fixed per measurement once the first point sets it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FieldType {
    /// 64-bit IEEE float (`1`, `1.5`, `-3e4` in line protocol).
    Float,
    /// Signed 64-bit integer (`1i`).
    Integer,
    /// Unsigned 64-bit integer (`1u`).
    Unsigned,
    /// Boolean (`t`, `true`, `F`, ...).
    Boolean,
    /// UTF-8 string (`"text"`).
    String,
}

impl FieldType {
    /// Stable one-byte tag used in on-disk formats (WAL, blocks, catalog).
    pub fn to_byte(self) -> u8 {
        match self {
            FieldType::Float => 1,
            FieldType::Integer => 2,
            FieldType::Unsigned => 3,
            FieldType::Boolean => 4,
            FieldType::String => 5,
        }
    }

    /// Inverse of [`FieldType::to_byte`]; `None` for an unknown tag.
    pub fn from_byte(b: u8) -> Option<FieldType> {
        Some(match b {
            1 => FieldType::Float,
            2 => FieldType::Integer,
            3 => FieldType::Unsigned,
            4 => FieldType::Boolean,
            5 => FieldType::String,
            _ => return None,
        })
    }

    /// The name InfluxQL uses in `SHOW FIELD KEYS` and error messages.
    pub fn influx_name(self) -> &'static str {
        match self {
            FieldType::Float => "float",
            FieldType::Integer => "integer",
            FieldType::Unsigned => "unsigned",
            FieldType::Boolean => "boolean",
            FieldType::String => "string",
        }
    }
}

impl fmt::Display for FieldType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.influx_name())
    }
}

/// One typed field value.
#[derive(Debug, Clone, PartialEq)]
pub enum FieldValue {
    /// A float value.
    Float(f64),
    /// A signed integer value.
    Integer(i64),
    /// An unsigned integer value.
    Unsigned(u64),
    /// A boolean value.
    Boolean(bool),
    /// A string value.
    String(String),
}

impl FieldValue {
    /// The type of this value.
    pub fn field_type(&self) -> FieldType {
        match self {
            FieldValue::Float(_) => FieldType::Float,
            FieldValue::Integer(_) => FieldType::Integer,
            FieldValue::Unsigned(_) => FieldType::Unsigned,
            FieldValue::Boolean(_) => FieldType::Boolean,
            FieldValue::String(_) => FieldType::String,
        }
    }
}

/// A parsed point, as line protocol describes it.
///
/// `tags` are sorted by key and unique; `fields` are unique by name (the last
/// occurrence in a line wins, as in InfluxDB). `timestamp` is in nanoseconds
/// since the Unix epoch; `None` means "server time at receipt".
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    /// Measurement name.
    pub measurement: String,
    /// Tag pairs, sorted by key, keys unique.
    pub tags: Vec<(String, String)>,
    /// Field pairs, names unique, at least one.
    pub fields: Vec<(String, FieldValue)>,
    /// Nanoseconds since the epoch, or `None` for "now".
    pub timestamp: Option<i64>,
}

impl Point {
    /// The canonical series key of this point (see [`series_key`]).
    pub fn series_key(&self) -> String {
        series_key(&self.measurement, &self.tags)
    }
}

/// Builds the canonical series key: `measurement,k1=v1,k2=v2` with tags sorted
/// by key and line-protocol escaping applied, so that two points of the same
/// series always produce byte-identical keys and the key can be printed back
/// as valid line protocol.
pub fn series_key(measurement: &str, tags: &[(String, String)]) -> String {
    series_key_of(measurement, tags.iter().map(|(k, v)| (k.as_str(), v.as_str())))
}

/// [`series_key`] of borrowed tag pairs (sorted by key).
pub fn series_key_of<'t>(measurement: &str, tags: impl Iterator<Item = (&'t str, &'t str)> + Clone) -> String {
    let len = measurement.len() + tags.clone().map(|(k, v)| k.len() + v.len() + 2).sum::<usize>();
    let mut key = String::with_capacity(len);
    escape_into(&mut key, measurement, MEASUREMENT_SPECIALS);
    for (k, v) in tags {
        key.push(',');
        escape_into(&mut key, k, TAG_SPECIALS);
        key.push('=');
        escape_into(&mut key, v, TAG_SPECIALS);
    }
    key
}

/// Characters a measurement name must escape in line protocol.
pub const MEASUREMENT_SPECIALS: &[char] = &[',', ' '];
/// Characters tag keys, tag values and field keys must escape in line protocol.
pub const TAG_SPECIALS: &[char] = &[',', '=', ' '];

/// Appends `s` to `out`, backslash-escaping every character in `specials`.
pub fn escape_into(out: &mut String, s: &str, specials: &[char]) {
    // Fast path: most names and values need no escaping at all. Every
    // special character is ASCII, so a byte scan decides.
    if !s.bytes().any(|b| matches!(b, b',' | b'=' | b' ') && specials.contains(&(b as char))) {
        out.push_str(s);
        return;
    }
    for c in s.chars() {
        if specials.contains(&c) {
            out.push('\\');
        }
        out.push(c);
    }
}

/// Splits a canonical series key back into measurement and tags.
///
/// Returns `None` if the key is malformed (it never is for keys Augur made).
pub fn parse_series_key(key: &str) -> Option<(String, Vec<(String, String)>)> {
    let mut parts = split_unescaped(key, ',').into_iter();
    let measurement = unescape(parts.next()?);
    let mut tags = Vec::new();
    for part in parts {
        let mut kv = split_unescaped(part, '=').into_iter();
        let k = unescape(kv.next()?);
        let v = unescape(kv.next()?);
        if kv.next().is_some() {
            return None;
        }
        tags.push((k, v));
    }
    Some((measurement, tags))
}

fn split_unescaped(s: &str, sep: char) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut escaped = false;
    let mut chars = s.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if escaped {
            escaped = false;
        } else if c == '\\' {
            // A backslash escapes only a character special in keys.
            escaped = chars.peek().is_some_and(|(_, n)| TAG_SPECIALS.contains(n));
        } else if c == sep {
            out.push(&s[start..i]);
            start = i + c.len_utf8();
        }
    }
    out.push(&s[start..]);
    out
}

fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(&n) = chars.peek() {
                if n == ',' || n == '=' || n == ' ' {
                    out.push(n);
                    chars.next();
                    continue;
                }
            }
        }
        out.push(c);
    }
    out
}

/// Timestamp precision of a write request (`precision=` parameter).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Precision {
    /// Nanoseconds (the default).
    #[default]
    Nanoseconds,
    /// Microseconds (`u` or `us`).
    Microseconds,
    /// Milliseconds (`ms`).
    Milliseconds,
    /// Seconds (`s`).
    Seconds,
    /// Minutes (`m`).
    Minutes,
    /// Hours (`h`).
    Hours,
}

impl Precision {
    /// Parses the `precision` query parameter as InfluxDB 1.x and 2.x accept it.
    pub fn parse(s: &str) -> Option<Precision> {
        Some(match s {
            "" | "n" | "ns" => Precision::Nanoseconds,
            "u" | "us" | "µ" | "µs" => Precision::Microseconds,
            "ms" => Precision::Milliseconds,
            "s" => Precision::Seconds,
            "m" => Precision::Minutes,
            "h" => Precision::Hours,
            _ => return None,
        })
    }

    /// Nanoseconds per unit of this precision.
    pub fn nanos_per_unit(self) -> i64 {
        match self {
            Precision::Nanoseconds => 1,
            Precision::Microseconds => 1_000,
            Precision::Milliseconds => 1_000_000,
            Precision::Seconds => 1_000_000_000,
            Precision::Minutes => 60_000_000_000,
            Precision::Hours => 3_600_000_000_000,
        }
    }

    /// Converts a timestamp in this precision to nanoseconds; `None` on overflow.
    pub fn to_nanos(self, t: i64) -> Option<i64> {
        t.checked_mul(self.nanos_per_unit())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn series_key_round_trips_with_escapes() {
        let tags = vec![("a b".to_string(), "x,y=z".to_string()), ("host".to_string(), "web-1".to_string())];
        let key = series_key("cpu load", &tags);
        assert_eq!(key, "cpu\\ load,a\\ b=x\\,y\\=z,host=web-1");
        let (m, t) = parse_series_key(&key).unwrap();
        assert_eq!(m, "cpu load");
        assert_eq!(t, tags);
    }

    #[test]
    fn backslashes_before_ordinary_characters_are_literal() {
        let tags = vec![("t".to_string(), "x\\,y".to_string()), ("u".to_string(), "v\\".to_string())];
        let key = series_key("m", &tags);
        let (m, t) = parse_series_key(&key).unwrap();
        assert_eq!((m.as_str(), t), ("m", tags));
    }

    #[test]
    fn precision_parses_all_units() {
        for (s, n) in [
            ("ns", 1),
            ("u", 1_000),
            ("us", 1_000),
            ("ms", 1_000_000),
            ("s", 1_000_000_000),
            ("m", 60_000_000_000),
            ("h", 3_600_000_000_000),
        ] {
            assert_eq!(Precision::parse(s).unwrap().nanos_per_unit(), n);
        }
        assert!(Precision::parse("x").is_none());
        assert_eq!(Precision::Hours.to_nanos(i64::MAX), None);
    }
}
