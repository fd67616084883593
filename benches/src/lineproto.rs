//! Rendering of one row as InfluxDB line protocol: the pre-built series key,
//! the ten usage fields and the nanosecond timestamp. Numbers are written by
//! hand (no `format!`) because generation must stay far faster than any
//! server can ingest.

use crate::tsbs::FIELD_KEYS;

/// How the usage fields are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FieldFormat {
    /// Floats with exactly two decimals (`usage_user=58.13`).
    Float,
    /// Integers, truncated like current TSBS's `ToPointAllInt64` (`usage_user=58i`).
    Int,
}

/// Appends `<series_key> <fields> <timestamp>\n` to `out`.
pub fn append_row(out: &mut Vec<u8>, series_key: &str, usage: &[f64; 10], ts: i64, format: FieldFormat) {
    out.extend_from_slice(series_key.as_bytes());
    for (i, (key, value)) in FIELD_KEYS.iter().zip(usage).enumerate() {
        out.push(if i == 0 { b' ' } else { b',' });
        out.extend_from_slice(key.as_bytes());
        out.push(b'=');
        match format {
            FieldFormat::Float => append_fixed2(out, *value),
            FieldFormat::Int => {
                append_i64(out, *value as i64);
                out.push(b'i');
            }
        }
    }
    out.push(b' ');
    append_i64(out, ts);
    out.push(b'\n');
}

/// Appends `value` rounded to two decimals, always with both decimals.
pub fn append_fixed2(out: &mut Vec<u8>, value: f64) {
    let cents = (value * 100.0).round();
    // Saturating cast; the walks never leave [0, 100] anyway.
    let cents = cents as i64;
    if cents < 0 {
        out.push(b'-');
    }
    let abs = cents.unsigned_abs();
    append_u64(out, abs / 100);
    out.push(b'.');
    let frac = (abs % 100) as u8;
    out.push(b'0' + frac / 10);
    out.push(b'0' + frac % 10);
}

/// Appends a signed decimal integer.
pub fn append_i64(out: &mut Vec<u8>, value: i64) {
    if value < 0 {
        out.push(b'-');
    }
    append_u64(out, value.unsigned_abs());
}

fn append_u64(out: &mut Vec<u8>, mut value: u64) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (value % 10) as u8;
        value /= 10;
        if value == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[at..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixed2(v: f64) -> String {
        let mut out = Vec::new();
        append_fixed2(&mut out, v);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn two_decimals() {
        assert_eq!(fixed2(0.0), "0.00");
        assert_eq!(fixed2(100.0), "100.00");
        assert_eq!(fixed2(58.126), "58.13");
        assert_eq!(fixed2(3.1), "3.10");
        assert_eq!(fixed2(0.004), "0.00");
        assert_eq!(fixed2(-1.5), "-1.50");
        assert_eq!(fixed2(-0.25), "-0.25");
    }

    #[test]
    fn integers() {
        let mut out = Vec::new();
        append_i64(&mut out, 1_451_606_400_000_000_000);
        out.push(b' ');
        append_i64(&mut out, -12);
        out.push(b' ');
        append_i64(&mut out, i64::MIN);
        assert_eq!(String::from_utf8(out).unwrap(), "1451606400000000000 -12 -9223372036854775808");
    }

    #[test]
    fn whole_row() {
        let mut out = Vec::new();
        let usage = [1.0, 2.5, 3.333, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 99.999];
        append_row(&mut out, "cpu,hostname=host_0", &usage, 10, FieldFormat::Float);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "cpu,hostname=host_0 usage_user=1.00,usage_system=2.50,usage_idle=3.33,\
             usage_nice=4.00,usage_iowait=5.00,usage_irq=6.00,usage_softirq=7.00,\
             usage_steal=8.00,usage_guest=9.00,usage_guest_nice=100.00 10\n"
        );
        let mut out = Vec::new();
        append_row(&mut out, "cpu,hostname=host_0", &usage, 10, FieldFormat::Int);
        assert!(String::from_utf8(out)
            .unwrap()
            .starts_with("cpu,hostname=host_0 usage_user=1i,usage_system=2i,usage_idle=3i,"));
    }
}
