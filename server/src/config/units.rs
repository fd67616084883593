//! Human-friendly values in the configuration file: sizes (`32MiB`) and
//! durations (`100ms`, `2h`).
//!
//! Durations use the query language's literal syntax
//! ([`augur_query::duration`]) so that there is one duration grammar in
//! Augur; sizes accept plain bytes or a unit, binary (`KiB`, `MiB`, `GiB`)
//! or decimal (`KB`, `MB`, `GB`), case-insensitive.

use std::time::Duration;

use augur_query::duration::parse_duration;

/// Parses a size: `1048576`, `512KiB`, `32MiB`, `1GB`, `10 MB`.
pub fn parse_size(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (number, unit) = s.split_at(split);
    if number.is_empty() {
        return Err(format!("{s:?} is not a size (e.g. 1048576, 512KiB, 32MiB)"));
    }
    let n: u64 = number.parse().map_err(|_| format!("{s:?} is too large"))?;
    let multiplier: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kb" => 1_000,
        "kib" | "k" => 1 << 10,
        "mb" => 1_000_000,
        "mib" | "m" => 1 << 20,
        "gb" => 1_000_000_000,
        "gib" | "g" => 1 << 30,
        other => return Err(format!("unknown size unit {other:?} in {s:?} (use B, KB, KiB, MB, MiB, GB or GiB)")),
    };
    n.checked_mul(multiplier).ok_or_else(|| format!("{s:?} is too large"))
}

/// Parses a positive duration: `100ms`, `30m`, `2h`, `1h30m`, `7d`.
pub fn parse_positive_duration(s: &str) -> Result<Duration, String> {
    let ns = parse_duration(s.trim()).map_err(|e| format!("{s:?}: {e} (e.g. 100ms, 30s, 30m, 2h, 7d)"))?;
    if ns <= 0 {
        return Err(format!("{s:?} must be greater than zero"));
    }
    Ok(Duration::from_nanos(ns.unsigned_abs()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("1024"), Ok(1024));
        assert_eq!(parse_size("32MiB"), Ok(32 << 20));
        assert_eq!(parse_size("32 mib"), Ok(32 << 20));
        assert_eq!(parse_size("1MB"), Ok(1_000_000));
        assert_eq!(parse_size("2GiB"), Ok(2 << 30));
        assert_eq!(parse_size("8k"), Ok(8192));
        assert!(parse_size("").is_err());
        assert!(parse_size("MiB").is_err());
        assert!(parse_size("12XB").is_err());
        assert!(parse_size("-1").is_err());
        assert!(parse_size("99999999999999999999").is_err());
        assert!(parse_size("99999999999GiB").is_err());
    }

    #[test]
    fn durations() {
        assert_eq!(parse_positive_duration("100ms"), Ok(Duration::from_millis(100)));
        assert_eq!(parse_positive_duration("2h"), Ok(Duration::from_secs(7200)));
        assert_eq!(parse_positive_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert!(parse_positive_duration("0s").is_err());
        assert!(parse_positive_duration("-1s").is_err());
        assert!(parse_positive_duration("10").is_err());
        assert!(parse_positive_duration("1.5s").is_err());
    }
}
