//! The results of an `ingest` run: the derived rates and latency
//! percentiles, printed for people (`--output text`) or as one JSON object
//! on one line for scripts (`--output json`).

use std::time::Duration;

use serde_json::{json, Value};

use crate::sender::SendOutcome;

/// Number of fields per row.
pub const VALUES_PER_ROW: u64 = 10;

/// Output format of the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    /// Aligned `name: value` lines.
    Text,
    /// One JSON object on one line.
    Json,
}

/// The run's parameters that the report repeats, so a saved result says
/// what produced it.
#[derive(Debug, Clone)]
pub struct RunInfo {
    /// Server base URL.
    pub url: String,
    /// Target database.
    pub db: String,
    /// `tsbs` or `distinct`.
    pub series_mode: String,
    /// Hosts or distinct series.
    pub hosts: u64,
    /// Interval as given on the command line.
    pub interval: String,
    /// Concurrent workers.
    pub workers: usize,
    /// Rows per batch.
    pub batch: u64,
    /// Bodies gzip-compressed.
    pub gzip: bool,
}

/// Everything an `ingest` run reports.
#[derive(Debug)]
pub struct IngestReport {
    /// Parameters.
    pub info: RunInfo,
    /// Rows generated (and sent).
    pub rows: u64,
    /// Batches generated.
    pub batches: u64,
    /// Uncompressed line-protocol bytes.
    pub bytes: u64,
    /// Time spent generating (and compressing) before the send.
    pub generation: Duration,
    /// What the send phase observed.
    pub outcome: SendOutcome,
}

impl IngestReport {
    fn secs(&self) -> f64 {
        self.outcome.elapsed.as_secs_f64()
    }

    /// Successfully written rows per second of send time.
    pub fn rows_per_sec(&self) -> f64 {
        rate(self.outcome.ok_rows, self.secs())
    }

    /// Successfully written field values per second of send time.
    pub fn values_per_sec(&self) -> f64 {
        rate(self.outcome.ok_rows * VALUES_PER_ROW, self.secs())
    }

    /// Latency percentile `p` (0..=100) in milliseconds, 0 when none.
    pub fn latency_ms(&self, p: f64) -> f64 {
        percentile(&self.outcome.latencies, p).as_secs_f64() * 1e3
    }

    /// The report as one JSON object.
    pub fn to_json(&self) -> Value {
        let o = &self.outcome;
        json!({
            "url": self.info.url,
            "db": self.info.db,
            "series_mode": self.info.series_mode,
            "hosts": self.info.hosts,
            "interval": self.info.interval,
            "workers": self.info.workers,
            "batch": self.info.batch,
            "gzip": self.info.gzip,
            "rows": self.rows,
            "values": self.rows * VALUES_PER_ROW,
            "batches": self.batches,
            "bytes": self.bytes,
            "wire_bytes": o.wire_bytes,
            "generation_secs": round3(self.generation.as_secs_f64()),
            "elapsed_secs": round3(self.secs()),
            "rows_ok": o.ok_rows,
            "values_ok": o.ok_rows * VALUES_PER_ROW,
            "rows_per_sec": round2(self.rows_per_sec()),
            "values_per_sec": round2(self.values_per_sec()),
            "latency_p50_ms": round2(self.latency_ms(50.0)),
            "latency_p99_ms": round2(self.latency_ms(99.0)),
            "latency_max_ms": round2(self.latency_ms(100.0)),
            "errors": o.errors,
            "first_error": o.first_error,
        })
    }

    /// The report as aligned text lines.
    pub fn to_text(&self) -> String {
        let o = &self.outcome;
        let mut lines = vec![
            format!("target:          {} db={}", self.info.url, self.info.db),
            format!(
                "data:            {} rows ({} values) in {} batches of {}, {:.1} MiB{}",
                self.rows,
                self.rows * VALUES_PER_ROW,
                self.batches,
                self.info.batch,
                self.bytes as f64 / (1u64 << 20) as f64,
                if self.info.gzip {
                    format!(" ({:.1} MiB gzip)", o.wire_bytes as f64 / (1u64 << 20) as f64)
                } else {
                    String::new()
                }
            ),
            format!("generation:      {:.3} s (not timed below)", self.generation.as_secs_f64()),
            format!("workers:         {}", self.info.workers),
            format!("elapsed:         {:.3} s", self.secs()),
            format!("rows written:    {}", o.ok_rows),
            format!("rows/s:          {:.0}", self.rows_per_sec()),
            format!("values/s:        {:.0}", self.values_per_sec()),
            format!(
                "batch latency:   p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
                self.latency_ms(50.0),
                self.latency_ms(99.0),
                self.latency_ms(100.0)
            ),
            format!("errors:          {} batches", o.errors),
        ];
        if let Some(error) = &o.first_error {
            lines.push(format!("first error:     {error}"));
        }
        lines.join("\n")
    }
}

fn rate(count: u64, secs: f64) -> f64 {
    if secs > 0.0 {
        count as f64 / secs
    } else {
        0.0
    }
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// Nearest-rank percentile `p` (0..=100) of `samples`; zero when empty.
pub fn percentile(samples: &[Duration], p: f64) -> Duration {
    if samples.is_empty() {
        return Duration::ZERO;
    }
    let mut sorted = samples.to_vec();
    sorted.sort_unstable();
    let rank = ((p.clamp(0.0, 100.0) / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(v: &[u64]) -> Vec<Duration> {
        v.iter().map(|&m| Duration::from_millis(m)).collect()
    }

    #[test]
    fn percentiles_nearest_rank() {
        let samples = ms(&[5, 1, 4, 2, 3, 6, 7, 8, 9, 10]);
        assert_eq!(percentile(&samples, 50.0), Duration::from_millis(5));
        assert_eq!(percentile(&samples, 99.0), Duration::from_millis(10));
        assert_eq!(percentile(&samples, 0.0), Duration::from_millis(1));
        assert_eq!(percentile(&samples, 100.0), Duration::from_millis(10));
        assert_eq!(percentile(&[], 50.0), Duration::ZERO);
    }

    #[test]
    fn json_has_the_rates() {
        let report = IngestReport {
            info: RunInfo {
                url: "http://127.0.0.1:8086".into(),
                db: "benchmark".into(),
                series_mode: "tsbs".into(),
                hosts: 2,
                interval: "10s".into(),
                workers: 1,
                batch: 2,
                gzip: false,
            },
            rows: 4,
            batches: 2,
            bytes: 100,
            generation: Duration::from_millis(1),
            outcome: SendOutcome {
                elapsed: Duration::from_secs(2),
                latencies: ms(&[10, 20]),
                ok_batches: 2,
                ok_rows: 4,
                ..SendOutcome::default()
            },
        };
        let json = report.to_json();
        assert_eq!(json["rows_per_sec"], 2.0);
        assert_eq!(json["values_per_sec"], 20.0);
        assert_eq!(json["latency_p50_ms"], 10.0);
        assert_eq!(json["errors"], 0);
        assert!(report.to_text().contains("values/s:        20"));
    }
}
