//! Parsing of the time values the command line accepts: Influx-style
//! durations (`10s`, `1h30m`, `500ms`) and RFC 3339 timestamps
//! (`2016-01-01T00:00:00Z`), both to nanoseconds.
//!
//! Hand-written rather than pulled from a crate because the harness needs
//! only these two shapes, and nanosecond integers are what line protocol
//! carries.

use anyhow::{bail, Context, Result};

/// Nanoseconds in one second.
pub const NANOS_PER_SEC: i64 = 1_000_000_000;

/// Parses a duration made of one or more `<integer><unit>` parts, with unit
/// one of `ns`, `us`, `µs`, `ms`, `s`, `m`, `h`, `d`, `w`; returns nanoseconds.
pub fn parse_duration(text: &str) -> Result<i64> {
    let s = text.trim();
    if s.is_empty() {
        bail!("empty duration");
    }
    let mut total: i64 = 0;
    let mut rest = s;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            bail!("invalid duration {text:?}: expected a number at {rest:?}");
        }
        let number: i64 =
            rest[..digits].parse().with_context(|| format!("invalid duration {text:?}: number too large"))?;
        rest = &rest[digits..];
        let unit_len = rest.char_indices().find(|(_, c)| c.is_ascii_digit()).map_or(rest.len(), |(i, _)| i);
        let unit = &rest[..unit_len];
        rest = &rest[unit_len..];
        let scale: i64 = match unit {
            "ns" => 1,
            "us" | "µs" => 1_000,
            "ms" => 1_000_000,
            "s" => NANOS_PER_SEC,
            "m" => 60 * NANOS_PER_SEC,
            "h" => 3_600 * NANOS_PER_SEC,
            "d" => 86_400 * NANOS_PER_SEC,
            "w" => 7 * 86_400 * NANOS_PER_SEC,
            "" => bail!("invalid duration {text:?}: missing unit (e.g. 10s)"),
            other => bail!("invalid duration {text:?}: unknown unit {other:?}"),
        };
        let part = number.checked_mul(scale).with_context(|| format!("duration {text:?} overflows"))?;
        total = total.checked_add(part).with_context(|| format!("duration {text:?} overflows"))?;
    }
    Ok(total)
}

/// Parses an RFC 3339 timestamp (`YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)`)
/// into nanoseconds since the Unix epoch.
pub fn parse_rfc3339(text: &str) -> Result<i64> {
    let s = text.trim();
    let bad = || anyhow::anyhow!("invalid timestamp {text:?}: expected e.g. 2016-01-01T00:00:00Z");
    let b = s.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return Err(bad());
    }
    if b[13] != b':' || b[16] != b':' {
        return Err(bad());
    }
    // Byte-wise so that no slice can split a multi-byte character.
    let num = |range: std::ops::Range<usize>| -> Result<i64> {
        let part = b.get(range).ok_or_else(bad)?;
        if part.is_empty() || !part.iter().all(u8::is_ascii_digit) {
            return Err(bad());
        }
        Ok(part.iter().fold(0i64, |acc, d| acc * 10 + i64::from(d - b'0')))
    };
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&month)
        || day < 1
        || day > days_in_month(year, month)
        || hour > 23
        || minute > 59
        || second > 60
    {
        bail!("invalid timestamp {text:?}: field out of range");
    }
    let mut pos = 19;
    let mut fraction_ns = 0i64;
    if b.get(pos) == Some(&b'.') {
        let digits = b[pos + 1..].iter().take_while(|c| c.is_ascii_digit()).count();
        if digits == 0 || digits > 9 {
            return Err(bad());
        }
        fraction_ns = num(pos + 1..pos + 1 + digits)? * 10i64.pow(9 - digits as u32);
        pos += 1 + digits;
    }
    let offset_secs = match &b[pos..] {
        b"Z" | b"z" => 0,
        [sign @ (b'+' | b'-'), _, _, b':', _, _] => {
            let hours = num(pos + 1..pos + 3)?;
            let minutes = num(pos + 4..pos + 6)?;
            let sign = if *sign == b'-' { -1 } else { 1 };
            sign * (hours * 3_600 + minutes * 60)
        }
        _ => return Err(bad()),
    };
    let days = days_from_civil(year, month, day);
    let secs = days * 86_400 + hour * 3_600 + minute * 60 + second - offset_secs;
    secs.checked_mul(NANOS_PER_SEC)
        .and_then(|ns| ns.checked_add(fraction_ns))
        .with_context(|| format!("timestamp {text:?} is outside the nanosecond range"))
}

fn is_leap(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("10s").unwrap(), 10 * NANOS_PER_SEC);
        assert_eq!(parse_duration("500ms").unwrap(), 500_000_000);
        assert_eq!(parse_duration("1h30m").unwrap(), 5_400 * NANOS_PER_SEC);
        assert_eq!(parse_duration("7ns").unwrap(), 7);
        assert!(parse_duration("10").is_err());
        assert!(parse_duration("s").is_err());
        assert!(parse_duration("10x").is_err());
        assert!(parse_duration("").is_err());
        assert!(parse_duration("99999999999999999999h").is_err());
    }

    #[test]
    fn timestamps() {
        assert_eq!(parse_rfc3339("2016-01-01T00:00:00Z").unwrap(), 1_451_606_400 * NANOS_PER_SEC);
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z").unwrap(), 0);
        assert_eq!(parse_rfc3339("1970-01-01T01:00:00+01:00").unwrap(), 0, "offsets are subtracted");
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00.5Z").unwrap(), 500_000_000);
        assert_eq!(parse_rfc3339("2024-02-29T12:00:00Z").unwrap(), 1_709_208_000 * NANOS_PER_SEC);
        assert!(parse_rfc3339("2023-02-29T00:00:00Z").is_err());
        assert!(parse_rfc3339("2016-01-01").is_err());
        assert!(parse_rfc3339("2016-01-01T00:00:00").is_err());
        assert!(parse_rfc3339("20x6-01-01T00:00:00Z").is_err());
    }
}
