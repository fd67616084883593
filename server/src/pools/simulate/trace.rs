//! Demand traces: a CSV file read onto a regular time grid.
//!
//! The header names the columns, in any order: a time column (`timestamp`,
//! `timestamp_anon` or `time`) and a `value` column. Two layouts are
//! understood, told apart by the header:
//!
//! * only those two columns (the NAB traces in `../shared/data/nab/`): one
//!   value per timestamp, written `YYYY-MM-DD HH:MM:SS` (UTC), RFC 3339, or
//!   seconds since the epoch; rows that share a timestamp are averaged;
//! * more columns than those two (the Alibaba GenAI traces: `qps.csv`'s
//!   `timestamp_anon,value,container_ip,request_type`,
//!   `pod_memory_util_anon.csv.gz`'s `value,timestamp_anon,container_ip`):
//!   one row per container (or pod) and tick; the rows of a tick are
//!   summed, so the trace is the cluster's total.
//!
//! A file whose name ends in `.gz` is gunzipped first (the Alibaba memory
//! trace is shipped that way).
//!
//! Why a grid: the simulator steps a clock by a fixed interval, and the
//! elasticity metrics weigh every step alike. The step is the median gap
//! between timestamps; a timestamp is put in the nearest grid slot (slots
//! that receive several are averaged), and missing slots (gaps) are filled
//! by linear interpolation — the simulated demand must be known at every
//! step. How many slots were filled is reported.

use std::collections::BTreeMap;
use std::path::Path;

/// Why a trace cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TraceError {
    /// The file cannot be read.
    #[error("cannot read {path}")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// A line that is not `timestamp,value`.
    #[error("{path} line {line}: {message}")]
    Parse {
        /// The file.
        path: String,
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// Too few points to simulate anything.
    #[error("{path}: needs at least {need} distinct timestamps, found {got}")]
    TooShort {
        /// The file.
        path: String,
        /// Distinct timestamps found.
        got: usize,
        /// The minimum.
        need: usize,
    },
}

/// The fewest distinct timestamps a trace must have.
pub const MIN_POINTS: usize = 8;

/// The most grid slots a trace may span (about 19 years of 1-minute steps):
/// a stray timestamp far from the rest would otherwise ask for a huge grid.
pub const MAX_SLOTS: usize = 10_000_000;

/// The largest magnitude a value may have: far beyond any demand, and low
/// enough that a tick's sum, the slots' means and the interpolation
/// between them stay finite.
pub const MAX_VALUE: f64 = 1e100;

/// A demand trace on a regular grid.
#[derive(Debug, Clone, PartialEq)]
pub struct Trace {
    /// The file's name, for reports.
    pub name: String,
    /// The first slot's time (ns since the epoch).
    pub start: i64,
    /// The grid step (ns).
    pub step: i64,
    /// Demand per slot (gaps filled), never negative.
    pub values: Vec<f64>,
    /// How many slots were gaps, filled by interpolation.
    pub filled: usize,
    /// Whether rows of a tick were summed (the Alibaba layout).
    pub aggregated: bool,
}

impl Trace {
    /// The time of slot `i` (saturating at the ends of i64 time: a slot
    /// rounded past the last timestamp of a trace near them).
    pub fn time(&self, i: usize) -> i64 {
        self.start.saturating_add(self.step.saturating_mul(i64::try_from(i).unwrap_or(i64::MAX)))
    }

    /// The largest demand.
    pub fn peak(&self) -> f64 {
        self.values.iter().copied().fold(0.0, f64::max)
    }

    /// A trace from values already on a grid (tests, benchmarks).
    pub fn from_values(name: &str, start: i64, step: i64, values: Vec<f64>) -> Trace {
        Trace { name: name.to_string(), start, step, values, filled: 0, aggregated: false }
    }
}

/// Parses a timestamp cell into ns since the epoch.
fn parse_time(cell: &str) -> Option<i64> {
    let cell = cell.trim().trim_matches('"');
    if let Ok(t) = chrono::NaiveDateTime::parse_from_str(cell, "%Y-%m-%d %H:%M:%S") {
        return t.and_utc().timestamp_nanos_opt();
    }
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(cell) {
        return t.timestamp_nanos_opt();
    }
    let secs: f64 = cell.parse().ok()?;
    let ns = secs * 1e9;
    (ns.is_finite() && ns.abs() < i64::MAX as f64).then_some(ns as i64)
}

/// Reads a trace file, gunzipping a `.gz` one (see the module
/// documentation for the layouts).
pub fn load(path: &Path) -> Result<Trace, TraceError> {
    let shown = path.display().to_string();
    let io = |source| TraceError::Io { path: shown.clone(), source };
    let text = if path.extension().is_some_and(|e| e.eq_ignore_ascii_case("gz")) {
        let file = std::fs::File::open(path).map_err(io)?;
        let mut text = String::new();
        std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(file), &mut text).map_err(io)?;
        text
    } else {
        std::fs::read_to_string(path).map_err(io)?
    };
    let name = path.file_name().map_or_else(|| shown.clone(), |n| n.to_string_lossy().into_owned());
    parse(&name, &text)
}

/// Where the time and value cells sit in a row, read from the header.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Columns {
    /// Index of the time column.
    time: usize,
    /// Index of the `value` column.
    value: usize,
    /// How many columns the header names.
    count: usize,
}

impl Columns {
    /// Finds the columns in a header line; `None` if it lacks either.
    fn of(header: &str) -> Option<Columns> {
        let names: Vec<String> = header
            .trim_start_matches('\u{feff}')
            .split(',')
            .map(|c| c.trim().trim_matches('"').to_ascii_lowercase())
            .collect();
        let time = names.iter().position(|n| n.starts_with("timestamp") || n == "time")?;
        let value = names.iter().position(|n| n == "value")?;
        Some(Columns { time, value, count: names.len() })
    }

    /// Whether rows are per entity (container, pod) and a tick's are summed.
    fn aggregated(&self) -> bool {
        self.count > 2
    }
}

/// Parses trace text; `name` labels errors and the report.
pub fn parse(name: &str, text: &str) -> Result<Trace, TraceError> {
    let err = |line: usize, message: String| TraceError::Parse { path: name.to_string(), line, message };
    let mut lines = text.lines().enumerate();
    let header = lines.next().map(|(_, h)| h).unwrap_or_default();
    let columns = Columns::of(header).ok_or_else(|| {
        err(1, format!("expected a header naming a `timestamp` and a `value` column, found {header:?}"))
    })?;
    let aggregated = columns.aggregated();
    // Per distinct timestamp: (sum, rows).
    let mut ticks: BTreeMap<i64, (f64, usize)> = BTreeMap::new();
    for (i, line) in lines {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let cells: Vec<&str> = line.split(',').collect();
        let (Some(t), Some(v)) = (cells.get(columns.time), cells.get(columns.value)) else {
            return Err(err(
                i + 1,
                format!("expected {} columns as in the header, found {}", columns.count, cells.len()),
            ));
        };
        let t = parse_time(t).ok_or_else(|| err(i + 1, format!("cannot read the timestamp {t:?}")))?;
        let v: f64 = v.trim().parse().map_err(|_| err(i + 1, format!("cannot read the value {v:?}")))?;
        if !v.is_finite() {
            return Err(err(i + 1, format!("value {v} is not a finite number")));
        }
        if v.abs() > MAX_VALUE {
            return Err(err(i + 1, format!("value {v} is beyond ±{MAX_VALUE:e}")));
        }
        let e = ticks.entry(t).or_insert((0.0, 0));
        e.0 += v;
        e.1 += 1;
    }
    if ticks.len() < MIN_POINTS {
        return Err(TraceError::TooShort { path: name.to_string(), got: ticks.len(), need: MIN_POINTS });
    }
    // One value per tick: the sum of its rows (Alibaba) or their mean.
    let points: Vec<(i64, f64)> =
        ticks.into_iter().map(|(t, (sum, n))| (t, if aggregated { sum } else { sum / n as f64 }.max(0.0))).collect();
    // (Times are sorted; a gap between the ends of i64 saturates.)
    let mut gaps: Vec<i64> = points.windows(2).map(|w| w[1].0.saturating_sub(w[0].0)).collect();
    gaps.sort_unstable();
    let step = gaps[gaps.len() / 2].max(1);
    let start = points[0].0;
    let offset = |t: i64| (i128::from(t) - i128::from(start)) as f64 / step as f64;
    let span = offset(points[points.len() - 1].0);
    if !(span.is_finite() && span < MAX_SLOTS as f64) {
        return Err(err(0, format!("the timestamps span more than {MAX_SLOTS} steps of the median gap")));
    }
    let slots = span.round() as usize + 1;
    let mut sums = vec![(0.0, 0usize); slots];
    for (t, v) in &points {
        let i = (offset(*t).round() as usize).min(slots - 1);
        sums[i].0 += v;
        sums[i].1 += 1;
    }
    let raw: Vec<f64> = sums.iter().map(|(s, n)| if *n == 0 { f64::NAN } else { s / *n as f64 }).collect();
    let filled = raw.iter().filter(|v| v.is_nan()).count();
    let values = augur_engine::forecast::prep::fill_linear(&raw);
    Ok(Trace { name: name.to_string(), start, step, values, filled, aggregated })
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: i64 = 60_000_000_000;

    #[test]
    fn nab_layout_with_a_gap() {
        let text = "timestamp,value\n2014-02-14 14:30:00,1\n2014-02-14 14:35:00,2\n2014-02-14 14:45:00,4\n\
                    2014-02-14 14:50:00,5\n2014-02-14 14:55:00,6\n2014-02-14 15:00:00,7\n2014-02-14 15:05:00,8\n\
                    2014-02-14 15:10:00,9\n";
        let t = parse("t.csv", text).expect("parses");
        assert_eq!(t.step, 5 * MIN);
        assert_eq!(t.values, vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0]);
        assert_eq!(t.filled, 1);
        assert!(!t.aggregated);
        assert_eq!(t.time(2) - t.start, 10 * MIN);
    }

    /// A per-container file: `header`, then `rows(t)` for 10 ticks 57 s
    /// apart (epoch seconds), as in the Alibaba traces.
    fn ticks(header: &str, rows: impl Fn(i64) -> String) -> String {
        let mut text = format!("{header}\n");
        for tick in 0..10 {
            text.push_str(&rows(1662859176 + tick * 57));
        }
        text
    }

    #[test]
    fn alibaba_layout_sums_a_tick() {
        let text = ticks("timestamp_anon,value,container_ip,request_type", |t| {
            format!("{t}.0,1.5,a,API Requests\n{t}.0,2.5,b,Generative Requests\n")
        });
        let t = parse("qps.csv", &text).expect("parses");
        assert!(t.aggregated);
        assert_eq!(t.step, 57_000_000_000);
        assert_eq!(t.values, vec![4.0; 10]);
    }

    #[test]
    fn columns_in_any_order_and_gzip() {
        let text = ticks("value,timestamp_anon,container_ip", |t| format!("0.25,{t}.0,a\n0.5,{t}.0,b\n"));
        let t = parse("mem.csv", &text).expect("parses");
        assert!(t.aggregated);
        assert_eq!(t.values, vec![0.75; 10]);

        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("mem.csv.gz");
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        std::io::Write::write_all(&mut gz, text.as_bytes()).expect("gzip");
        std::fs::write(&path, gz.finish().expect("gzip")).expect("write");
        let loaded = load(&path).expect("loads");
        assert_eq!(loaded.values, t.values);
        assert_eq!(loaded.name, "mem.csv.gz");
        std::fs::write(&path, text.as_bytes()).expect("write");
        assert!(matches!(load(&path), Err(TraceError::Io { .. })), "a .gz that is not gzip is an error");
    }

    mod props {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(256))]
            /// Any text, and any rows of extreme timestamps and values, give a
            /// trace or an error, never a panic; a trace has finite values on
            /// a positive step.
            #[test]
            fn arbitrary_traces_never_panic(
                junk in "\\PC{0,200}",
                rows in proptest::collection::vec(
                    (prop_oneof![
                        1 => any::<f64>().prop_map(|t| t.to_string()),
                        4 => (-9.3e9f64..9.3e9).prop_map(|t| t.to_string()),
                        4 => (0i64..20).prop_map(|t| (1_400_000_000 + 300 * t).to_string()),
                        1 => any::<i64>().prop_map(|t| t.to_string()),
                        1 => Just("2014-02-14 14:30:00".to_string()),
                    ], prop_oneof![
                        1 => any::<f64>(),
                        1 => -1e101f64..1e101,
                        8 => -1e6f64..1e6,
                    ]),
                    0..40,
                ),
            ) {
                let _ = parse("junk.csv", &junk);
                let mut text = String::from("timestamp,value\n");
                for (t, v) in &rows {
                    text.push_str(&format!("{t},{v}\n"));
                }
                if let Ok(trace) = parse("rows.csv", &text) {
                    prop_assert!(trace.step > 0);
                    prop_assert!(trace.time(trace.values.len() - 1) >= trace.start);
                    prop_assert!(trace.values.iter().all(|v| v.is_finite()), "{:?}", trace.values);
                }
                let _ = parse("rows.csv", &text.replace("timestamp,value", "timestamp,value,pod"));
            }
        }
    }

    #[test]
    fn bad_traces_say_where() {
        let e = parse("t.csv", "when,value\n").expect_err("bad header");
        assert!(e.to_string().contains("header"), "{e}");
        let e = parse("t.csv", "timestamp,value\n2014-02-14 14:30:00,x\n").expect_err("bad value");
        assert!(e.to_string().contains("line 2"), "{e}");
        let e = parse("t.csv", "value,timestamp,pod\n1\n").expect_err("short row");
        assert!(e.to_string().contains("line 2") && e.to_string().contains("3 columns"), "{e}");
        let e = parse("t.csv", "timestamp,value\n2014-02-14 14:30:00,1\n").expect_err("short");
        assert!(matches!(e, TraceError::TooShort { got: 1, .. }), "{e}");
        // Times near both ends of what nanoseconds hold: the span is too
        // long, not an overflow (it panicked in debug builds).
        let mut text = "timestamp,value\n-9200000000,1\n".to_string();
        text.extend((0..8).map(|i| format!("{},1\n", 9_200_000_000i64 - i)));
        let e = parse("t.csv", &text).expect_err("span");
        assert!(e.to_string().contains("span more than"), "{e}");
        // A value too large to sum and interpolate safely.
        let e = parse("t.csv", "timestamp,value\n2014-02-14 14:30:00,1e300\n").expect_err("huge");
        assert!(e.to_string().contains("line 2") && e.to_string().contains("beyond"), "{e}");
    }
}
