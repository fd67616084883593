//! Parsing of the time values the command line accepts: durations (`10s`,
//! `1h30m`, `500ms`) and RFC 3339 timestamps (`2016-01-01T00:00:00Z`), both
//! to nanoseconds.
//!
//! Delegates to the query crate's parsers, so the harness reads times exactly
//! as AQL does and the calendar arithmetic lives in one place.

use anyhow::{bail, Context, Result};

/// Nanoseconds in one second.
pub const NANOS_PER_SEC: i64 = 1_000_000_000;

/// Parses a positive duration made of one or more `<integer><unit>` parts
/// (units `ns`, `us`/`µs`, `ms`, `s`, `m`, `h`, `d`, `w`); returns nanoseconds.
pub fn parse_duration(text: &str) -> Result<i64> {
    let ns = augur_query::duration::parse_duration(text.trim())
        .with_context(|| format!("invalid duration {text:?} (expected e.g. 10s or 1h30m)"))?;
    if ns < 0 {
        bail!("invalid duration {text:?}: must not be negative");
    }
    Ok(ns)
}

/// Parses an RFC 3339 timestamp (`YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)`)
/// into nanoseconds since the Unix epoch.
pub fn parse_rfc3339(text: &str) -> Result<i64> {
    augur_query::time::parse_rfc3339(text.trim())
        .with_context(|| format!("invalid timestamp {text:?}: expected e.g. 2016-01-01T00:00:00Z"))
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
        assert!(parse_duration("-1s").is_err());
        assert!(parse_duration("99999999999999999999h").is_err());
    }

    #[test]
    fn timestamps() {
        assert_eq!(parse_rfc3339("2016-01-01T00:00:00Z").unwrap(), 1_451_606_400 * NANOS_PER_SEC);
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z").unwrap(), 0);
        assert_eq!(parse_rfc3339("1970-01-01T01:00:00+01:00").unwrap(), 0, "offsets are subtracted");
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00.5Z").unwrap(), 500_000_000);
        assert_eq!(parse_rfc3339("2024-02-29T12:00:00Z").unwrap(), 1_709_208_000 * NANOS_PER_SEC);
        assert!(parse_rfc3339("20x6-01-01T00:00:00Z").is_err());
    }
}
