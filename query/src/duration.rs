//! Duration literals: parsing InfluxQL's (`7d`, `1h30m`, `100ms`) and
//! printing durations the way InfluxDB prints them (Go's
//! `time.Duration.String`: `168h0m0s`, `1h30m0s`, `1.5s`, `100ms`, `0s`).
//!
//! Why here: the language needs both directions (`DURATION 7d` in, `168h0m0s`
//! out in `SHOW RETENTION POLICIES`), and the server's configuration file
//! uses the same literal syntax, so there is exactly one grammar for
//! durations in Augur.

/// Nanoseconds per microsecond.
const US: i64 = 1_000;
/// Nanoseconds per millisecond.
const MS: i64 = 1_000_000;
/// Nanoseconds per second.
const S: i64 = 1_000_000_000;
/// Nanoseconds per minute.
const M: i64 = 60 * S;
/// Nanoseconds per hour.
const H: i64 = 60 * M;
/// Nanoseconds per day.
const D: i64 = 24 * H;
/// Nanoseconds per week.
const W: i64 = 7 * D;

/// Why a duration literal was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    /// Not `<digits><unit>` repeated, or an unknown unit.
    #[error("invalid duration")]
    Invalid,
    /// Larger than about 292 years (does not fit in i64 nanoseconds).
    #[error("overflowed duration")]
    Overflow,
}

/// Parses an InfluxQL duration literal into nanoseconds.
///
/// The literal is one or more `<integer><unit>` segments, optionally
/// preceded by `-`; units are `ns`, `u`/`µ`/`us` (microseconds), `ms`, `s`,
/// `m`, `h`, `d`, `w`. A bare number (`10`) is not a duration.
pub fn parse_duration(s: &str) -> Result<i64, DurationError> {
    let (negative, mut rest) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s),
    };
    if rest.is_empty() {
        return Err(DurationError::Invalid);
    }
    let mut total: i64 = 0;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(DurationError::Invalid);
        }
        let n: i64 = rest[..digits].parse().map_err(|_| DurationError::Overflow)?;
        rest = &rest[digits..];
        let (unit, len) = if rest.starts_with("ns") {
            (1, 2)
        } else if rest.starts_with("us") {
            (US, 2)
        } else if rest.starts_with("µs") {
            (US, "µs".len())
        } else if rest.starts_with('µ') {
            (US, 'µ'.len_utf8())
        } else if rest.starts_with("ms") {
            (MS, 2)
        } else {
            match rest.as_bytes().first() {
                Some(b'u') => (US, 1),
                Some(b's') => (S, 1),
                Some(b'm') => (M, 1),
                Some(b'h') => (H, 1),
                Some(b'd') => (D, 1),
                Some(b'w') => (W, 1),
                _ => return Err(DurationError::Invalid),
            }
        };
        rest = &rest[len..];
        let segment = n.checked_mul(unit).ok_or(DurationError::Overflow)?;
        total = total.checked_add(segment).ok_or(DurationError::Overflow)?;
    }
    Ok(if negative { -total } else { total })
}

/// Formats nanoseconds as Go's `time.Duration.String` does, which is what
/// InfluxDB 1.x clients expect to read (`168h0m0s`, `0s`, `1.5s`, `100ms`).
pub fn format_duration(ns: i64) -> String {
    if ns == 0 {
        return "0s".to_string();
    }
    let sign = if ns < 0 { "-" } else { "" };
    let u = ns.unsigned_abs();
    let (us, ms, s) = (US as u64, MS as u64, S as u64);
    if u < s {
        let (unit, div) = if u < us {
            ("ns", 1)
        } else if u < ms {
            ("µs", us)
        } else {
            ("ms", ms)
        };
        return format!("{sign}{}{unit}", fixed(u / div, u % div, div));
    }
    let hours = u / (H as u64);
    let minutes = (u / (M as u64)) % 60;
    let seconds = fixed((u / s) % 60, u % s, s);
    if hours > 0 {
        format!("{sign}{hours}h{minutes}m{seconds}s")
    } else if minutes > 0 {
        format!("{sign}{minutes}m{seconds}s")
    } else {
        format!("{sign}{seconds}s")
    }
}

/// A duration as InfluxQL prints it: the largest unit that divides it
/// (`1h`, `90m`, `1500ms`), as `influxql.FormatDuration` does.
pub fn format_influxql_duration(ns: i64) -> String {
    const UNITS: [(i64, &str); 7] = [
        (7 * 24 * 3_600_000_000_000, "w"),
        (24 * 3_600_000_000_000, "d"),
        (3_600_000_000_000, "h"),
        (60_000_000_000, "m"),
        (1_000_000_000, "s"),
        (1_000_000, "ms"),
        (1_000, "u"),
    ];
    if ns == 0 {
        return "0s".to_string();
    }
    for (unit, suffix) in UNITS {
        if ns % unit == 0 {
            return format!("{}{suffix}", ns / unit);
        }
    }
    format!("{ns}ns")
}

/// `whole.frac` with the fraction's trailing zeros (and a bare dot) removed.
fn fixed(whole: u64, frac: u64, denominator: u64) -> String {
    if frac == 0 {
        return whole.to_string();
    }
    let width = denominator.ilog10() as usize;
    let digits = format!("{frac:0width$}");
    format!("{whole}.{}", digits.trim_end_matches('0'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_influxql_literals() {
        assert_eq!(parse_duration("7d"), Ok(7 * D));
        assert_eq!(parse_duration("1h30m"), Ok(H + 30 * M));
        assert_eq!(parse_duration("100ms"), Ok(100 * MS));
        assert_eq!(parse_duration("10u"), Ok(10 * US));
        assert_eq!(parse_duration("10µ"), Ok(10 * US));
        assert_eq!(parse_duration("10µs"), Ok(10 * US));
        assert_eq!(parse_duration("10us"), Ok(10 * US));
        assert_eq!(parse_duration("5ns"), Ok(5));
        assert_eq!(parse_duration("2w"), Ok(2 * W));
        assert_eq!(parse_duration("-1s"), Ok(-S));
    }

    #[test]
    fn rejects_bad_literals() {
        for bad in ["", "-", "10", "h", "1x", "1h1", "1.5s", "1 h"] {
            assert_eq!(parse_duration(bad), Err(DurationError::Invalid), "{bad}");
        }
        assert_eq!(parse_duration("99999999999999999999s"), Err(DurationError::Overflow));
        assert_eq!(parse_duration("9999999w"), Err(DurationError::Overflow));
    }

    #[test]
    fn formats_like_influxql() {
        assert_eq!(format_influxql_duration(1_000_000_000), "1s");
        assert_eq!(format_influxql_duration(3_600_000_000_000), "1h");
        assert_eq!(format_influxql_duration(90 * 60_000_000_000), "90m");
        assert_eq!(format_influxql_duration(1_500_000_000), "1500ms");
        assert_eq!(format_influxql_duration(14 * 24 * 3_600_000_000_000), "2w");
        assert_eq!(format_influxql_duration(7), "7ns");
    }

    #[test]
    fn formats_like_go() {
        assert_eq!(format_duration(0), "0s");
        assert_eq!(format_duration(7 * D), "168h0m0s");
        assert_eq!(format_duration(H), "1h0m0s");
        assert_eq!(format_duration(90 * S), "1m30s");
        assert_eq!(format_duration(1_500 * MS), "1.5s");
        assert_eq!(format_duration(100 * MS), "100ms");
        assert_eq!(format_duration(1_500 * US), "1.5ms");
        assert_eq!(format_duration(7), "7ns");
        assert_eq!(format_duration(-S), "-1s");
        assert_eq!(format_duration(400 * D), "9600h0m0s");
        assert_eq!(format_duration(i64::MIN), "-2562047h47m16.854775808s");
    }
}
