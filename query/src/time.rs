//! Parsing RFC 3339 timestamps into nanoseconds since the Unix epoch.
//!
//! Why hand-written: time literals (`'2024-01-01T00:00:00Z'` in a WHERE
//! clause, `start=`/`end=` of the export endpoint) are the only calendar
//! arithmetic Augur needs, and a strict ~60-line parser with overflow checks
//! is smaller than a date-time dependency. Accepts what InfluxDB accepts:
//! `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)` and a bare date `YYYY-MM-DD`
//! (midnight UTC).

/// Why a timestamp was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TimeError {
    /// Not RFC 3339.
    #[error("invalid RFC3339 timestamp {0:?}")]
    Invalid(String),
    /// Outside the range of i64 nanoseconds (years 1677-2262).
    #[error("timestamp {0:?} is out of range (years 1677 to 2262)")]
    OutOfRange(String),
}

/// Nanoseconds per second.
const NANOS_PER_SEC: i64 = 1_000_000_000;

/// Parses an RFC 3339 timestamp (or a bare `YYYY-MM-DD`) into nanoseconds
/// since the Unix epoch.
pub fn parse_rfc3339(s: &str) -> Result<i64, TimeError> {
    let invalid = || TimeError::Invalid(s.to_string());
    let b = s.as_bytes();
    let year = digits(b, 0, 4).ok_or_else(invalid)?;
    let month = digits(b, 5, 2).ok_or_else(invalid)?;
    let day = digits(b, 8, 2).ok_or_else(invalid)?;
    if b.get(4) != Some(&b'-') || b.get(7) != Some(&b'-') {
        return Err(invalid());
    }
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return Err(invalid());
    }
    let days = days_from_civil(year, month, day);
    if b.len() == 10 {
        return seconds_to_nanos(days * 86_400, 0).ok_or_else(|| TimeError::OutOfRange(s.to_string()));
    }
    if !matches!(b.get(10), Some(b'T' | b't' | b' ')) {
        return Err(invalid());
    }
    let hour = digits(b, 11, 2).ok_or_else(invalid)?;
    let minute = digits(b, 14, 2).ok_or_else(invalid)?;
    let second = digits(b, 17, 2).ok_or_else(invalid)?;
    if b.get(13) != Some(&b':') || b.get(16) != Some(&b':') || hour > 23 || minute > 59 || second > 60 {
        return Err(invalid());
    }
    let mut i = 19;
    let mut frac: i64 = 0;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        let n = i - start;
        if n == 0 || n > 9 {
            return Err(invalid());
        }
        frac = digits(b, start, n).ok_or_else(invalid)? * 10_i64.pow((9 - n) as u32);
    }
    let offset_secs = match b.get(i) {
        Some(b'Z' | b'z') if b.len() == i + 1 => 0,
        Some(sign @ (b'+' | b'-')) if b.len() == i + 6 && b[i + 3] == b':' => {
            let oh = digits(b, i + 1, 2).ok_or_else(invalid)?;
            let om = digits(b, i + 4, 2).ok_or_else(invalid)?;
            if oh > 23 || om > 59 {
                return Err(invalid());
            }
            let off = oh * 3600 + om * 60;
            if *sign == b'+' {
                off
            } else {
                -off
            }
        }
        _ => return Err(invalid()),
    };
    let secs = days * 86_400 + hour * 3600 + minute * 60 + second - offset_secs;
    seconds_to_nanos(secs, frac).ok_or_else(|| TimeError::OutOfRange(s.to_string()))
}

/// Formats nanoseconds since the epoch as Go's `RFC3339Nano` in UTC:
/// trailing zeros of the fraction are dropped (`2024-01-01T00:00:01.5Z`),
/// and a whole second has no fraction at all. This is how InfluxDB writes
/// the `time` column.
pub fn format_rfc3339_nano(ns: i64) -> String {
    let secs = ns.div_euclid(NANOS_PER_SEC);
    let frac = ns.rem_euclid(NANOS_PER_SEC);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    // Every `time` cell goes through here: digits are written by hand, not
    // through `format!` (which was a sixth of a small query's CPU time).
    let mut out = String::with_capacity(30);
    if (0..=9999).contains(&year) {
        push_digits(&mut out, year, 4);
    } else {
        out.push_str(&format!("{year:04}"));
    }
    for (sep, value) in [('-', month), ('-', day), ('T', rem / 3600), (':', (rem % 3600) / 60), (':', rem % 60)] {
        out.push(sep);
        push_digits(&mut out, value, 2);
    }
    if frac != 0 {
        out.push('.');
        let mut frac = frac;
        let mut width = 9;
        while frac % 10 == 0 {
            frac /= 10;
            width -= 1;
        }
        push_digits(&mut out, frac, width);
    }
    out.push('Z');
    out
}

/// Appends `value` (0 ≤ value < 10^width) as exactly `width` decimal digits.
fn push_digits(out: &mut String, value: i64, width: u32) {
    for place in (0..width).rev() {
        let digit = (value / 10i64.pow(place)) % 10;
        out.push(char::from(b'0' + digit as u8));
    }
}

/// The proleptic Gregorian date of a day count since 1970-01-01 (Howard
/// Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

fn seconds_to_nanos(secs: i64, frac: i64) -> Option<i64> {
    secs.checked_mul(NANOS_PER_SEC)?.checked_add(frac)
}

/// The decimal number in `b[at..at + len]`, if those are all digits.
fn digits(b: &[u8], at: usize, len: usize) -> Option<i64> {
    let slice = b.get(at..at + len)?;
    slice.iter().try_fold(0i64, |acc, &c| c.is_ascii_digit().then(|| acc * 10 + i64::from(c - b'0')))
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

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
/// `days_from_civil`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = if y >= 0 { y } else { y - 399 } / 400;
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
    fn parses_utc_offsets_and_fractions() {
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Ok(0));
        assert_eq!(parse_rfc3339("1970-01-01T00:00:01.5Z"), Ok(1_500_000_000));
        assert_eq!(parse_rfc3339("2000-03-01T00:00:00Z"), Ok(951_868_800 * NANOS_PER_SEC));
        assert_eq!(parse_rfc3339("2024-02-29T12:00:00+02:00"), Ok(1_709_200_800 * NANOS_PER_SEC));
        assert_eq!(parse_rfc3339("2024-02-29"), Ok(1_709_164_800 * NANOS_PER_SEC));
        assert_eq!(parse_rfc3339("1969-12-31T23:59:59.999999999Z"), Ok(-1));
        assert_eq!(parse_rfc3339("2262-04-11T23:47:16.854775807Z"), Ok(i64::MAX));
    }

    #[test]
    fn formats_like_go_rfc3339nano() {
        assert_eq!(format_rfc3339_nano(0), "1970-01-01T00:00:00Z");
        assert_eq!(format_rfc3339_nano(1_500_000_000), "1970-01-01T00:00:01.5Z");
        assert_eq!(format_rfc3339_nano(-1), "1969-12-31T23:59:59.999999999Z");
        assert_eq!(format_rfc3339_nano(1_709_200_800 * NANOS_PER_SEC), "2024-02-29T10:00:00Z");
        assert_eq!(format_rfc3339_nano(i64::MAX), "2262-04-11T23:47:16.854775807Z");
        assert_eq!(format_rfc3339_nano(i64::MIN), "1677-09-21T00:12:43.145224192Z");
        for ns in [0, 1, 123_456_789_000, -86_400 * NANOS_PER_SEC * 365 * 100 + 7] {
            assert_eq!(parse_rfc3339(&format_rfc3339_nano(ns)), Ok(ns));
        }
    }

    proptest::proptest! {
        /// The hand-written digits say what `format!` said, for every time.
        #[test]
        fn formats_as_format_did(ns in proptest::prelude::any::<i64>()) {
            let secs = ns.div_euclid(NANOS_PER_SEC);
            let frac = ns.rem_euclid(NANOS_PER_SEC);
            let rem = secs.rem_euclid(86_400);
            let (year, month, day) = civil_from_days(secs.div_euclid(86_400));
            let mut expected =
                format!("{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}", rem / 3600, (rem % 3600) / 60, rem % 60);
            if frac != 0 {
                expected.push('.');
                expected.push_str(format!("{frac:09}").trim_end_matches('0'));
            }
            expected.push('Z');
            proptest::prop_assert_eq!(format_rfc3339_nano(ns), expected);
        }
    }

    #[test]
    fn rejects_malformed_and_out_of_range() {
        for bad in [
            "",
            "2024",
            "2024-13-01T00:00:00Z",
            "2023-02-29T00:00:00Z",
            "2024-01-01T25:00:00Z",
            "2024-01-01T00:00:00",
            "2024-01-01T00:00:00.Z",
            "2024-01-01T00:00:00.1234567890Z",
            "2024-01-01T00:00:00+0200",
            "2024-01-01X00:00:00Z",
            "2024-01-01T00:00:00Zjunk",
            "１９７０-01-01",
        ] {
            assert!(matches!(parse_rfc3339(bad), Err(TimeError::Invalid(_))), "{bad}");
        }
        assert!(matches!(parse_rfc3339("2263-01-01T00:00:00Z"), Err(TimeError::OutOfRange(_))));
    }
}
