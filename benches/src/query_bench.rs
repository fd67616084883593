//! The timed part of `augur-bench query`: sends each generated query as
//! TSBS's influx runner does (`GET /query?q=...&db=...`, one at a time),
//! reads the whole body, and records its latency; then the full-scan
//! aggregation a few times. Also `query-table`, which puts two saved reports
//! side by side.
//!
//! A query counts only if the answer is a 200 whose JSON has no `error`
//! (top level or per statement): an error is a failure, never a fast result.
//! The series and rows each answer holds are summed per type, so that two
//! servers can be checked to return the same amount of data.

use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use reqwest::blocking::Client;
use reqwest::{StatusCode, Url};
use serde_json::{json, Value};

use crate::report::{percentile, VALUES_PER_ROW};

/// Where to send and how long to wait.
#[derive(Debug, Clone)]
pub struct Target {
    /// `<base>/query`.
    pub query_url: Url,
    /// The `db` parameter.
    pub db: String,
}

impl Target {
    /// The target for server `base` and database `db`.
    pub fn new(base: &Url, db: &str) -> Result<Self> {
        let mut base = base.clone();
        if !base.path().ends_with('/') {
            let with_slash = format!("{}/", base.path());
            base.set_path(&with_slash);
        }
        let query_url = base.join("query").with_context(|| format!("joining query to {base}"))?;
        Ok(Target { query_url, db: db.to_string() })
    }
}

/// What one successful answer held.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Answer {
    /// Series in all results.
    pub series: u64,
    /// Value rows in all series.
    pub rows: u64,
}

/// Sends `q` once; returns the latency (request sent to last body byte
/// read) and what came back, or an error message.
pub fn send(client: &Client, target: &Target, q: &str) -> Result<(Duration, Answer), String> {
    let started = Instant::now();
    let response = client
        .get(target.query_url.clone())
        .query(&[("db", target.db.as_str()), ("q", q)])
        .send()
        .map_err(|e| format!("request failed: {e}"))?;
    let status = response.status();
    let body = response.bytes().map_err(|e| format!("reading the body: {e}"))?;
    let latency = started.elapsed();
    if status != StatusCode::OK {
        return Err(format!("HTTP {status}: {}", String::from_utf8_lossy(&body).trim()));
    }
    let answer = inspect(&body)?;
    Ok((latency, answer))
}

/// Checks an Influx JSON answer for errors and counts its series and rows.
pub fn inspect(body: &[u8]) -> Result<Answer, String> {
    let value: Value = serde_json::from_slice(body).map_err(|e| format!("answer is not JSON: {e}"))?;
    if let Some(error) = value.get("error") {
        return Err(format!("error: {error}"));
    }
    let results = value.get("results").and_then(Value::as_array).ok_or("answer has no results array")?;
    let mut answer = Answer::default();
    for result in results {
        if let Some(error) = result.get("error") {
            return Err(format!("statement error: {error}"));
        }
        for series in result.get("series").and_then(Value::as_array).into_iter().flatten() {
            answer.series += 1;
            answer.rows += series.get("values").and_then(Value::as_array).map_or(0, |v| v.len() as u64);
        }
    }
    Ok(answer)
}

/// The measurements of one query type (or of the full scan).
#[derive(Debug, Clone, Default)]
pub struct TypeResult {
    /// Query type name.
    pub name: String,
    /// Queries that succeeded.
    pub ok: u64,
    /// Queries that failed.
    pub errors: u64,
    /// Latency of every successful query (warm-up excluded).
    pub latencies: Vec<Duration>,
    /// Series summed over the successful answers.
    pub series: u64,
    /// Rows summed over the successful answers.
    pub rows: u64,
    /// The first failure and its query.
    pub first_error: Option<String>,
}

impl TypeResult {
    fn ms(&self, p: f64) -> f64 {
        percentile(&self.latencies, p).as_secs_f64() * 1e3
    }

    /// Mean latency in milliseconds, 0 when none.
    pub fn mean_ms(&self) -> f64 {
        if self.latencies.is_empty() {
            return 0.0;
        }
        self.latencies.iter().map(Duration::as_secs_f64).sum::<f64>() * 1e3 / self.latencies.len() as f64
    }

    /// The result as a JSON object.
    pub fn to_json(&self) -> Value {
        json!({
            "name": self.name,
            "ok": self.ok,
            "errors": self.errors,
            "p50_ms": round3(self.ms(50.0)),
            "p99_ms": round3(self.ms(99.0)),
            "mean_ms": round3(self.mean_ms()),
            "min_ms": round3(self.ms(0.0)),
            "max_ms": round3(self.ms(100.0)),
            "series": self.series,
            "rows": self.rows,
            "first_error": self.first_error,
        })
    }
}

/// Runs `queries` in order (the first `warmup` untimed), one at a time.
pub fn run_type(client: &Client, target: &Target, name: &str, queries: &[String], warmup: usize) -> TypeResult {
    let mut result = TypeResult { name: name.to_string(), ..TypeResult::default() };
    for q in queries.iter().take(warmup) {
        // A failing warm-up query fails again below, where it is counted.
        let _ = send(client, target, q);
    }
    for q in queries {
        match send(client, target, q) {
            Ok((latency, answer)) => {
                result.ok += 1;
                result.latencies.push(latency);
                result.series += answer.series;
                result.rows += answer.rows;
            }
            Err(message) => {
                result.errors += 1;
                if result.first_error.is_none() {
                    eprintln!("{name}: first error: {message} (query: {q})");
                    result.first_error = Some(format!("{message} (query: {q})"));
                }
            }
        }
    }
    result
}

/// Scan rate of the full-scan aggregation: values read per second at the
/// median latency.
pub fn scan_values_per_sec(scan: &TypeResult, data_rows: u64) -> f64 {
    let secs = percentile(&scan.latencies, 50.0).as_secs_f64();
    if secs > 0.0 {
        (data_rows * VALUES_PER_ROW) as f64 / secs
    } else {
        0.0
    }
}

/// One side of a comparison, read back from a saved `query --output json`.
struct Side {
    label: String,
    types: Vec<Value>,
    scan: Option<Value>,
}

impl Side {
    fn read(path: &std::path::Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let value: Value =
            serde_json::from_str(text.trim()).with_context(|| format!("{} is not a query report", path.display()))?;
        let types = value.get("types").and_then(Value::as_array).cloned().unwrap_or_default();
        if types.is_empty() && value.get("full_scan").is_none() {
            bail!("{} has neither query types nor a full scan", path.display());
        }
        Ok(Side {
            label: value.get("label").and_then(Value::as_str).unwrap_or("?").to_string(),
            types,
            scan: value.get("full_scan").filter(|s| !s.is_null()).cloned(),
        })
    }

    fn find(&self, name: &str) -> Option<&Value> {
        self.types.iter().find(|t| t.get("name").and_then(Value::as_str) == Some(name))
    }
}

fn num(value: Option<&Value>, key: &str) -> Option<f64> {
    value.and_then(|v| v.get(key)).and_then(Value::as_f64)
}

fn cell(x: Option<f64>, decimals: usize) -> String {
    x.map_or_else(|| "–".to_string(), |x| format!("{x:.decimals$}"))
}

fn ratio(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(a), Some(b)) if b > 0.0 => Some(a / b),
        _ => None,
    }
}

/// Markdown table of a `baseline` and a `candidate` report: p50, p99 and
/// mean per query type and server, the candidate/baseline p50 ratio, whether
/// it meets `target_ratio`, and whether both returned the same rows.
pub fn compare_table(baseline: &std::path::Path, candidate: &std::path::Path, target_ratio: f64) -> Result<String> {
    let base = Side::read(baseline)?;
    let cand = Side::read(candidate)?;
    let (b, c) = (&base.label, &cand.label);
    let mut out = String::new();
    out.push_str(&format!(
        "| query type | {b} p50 ms | {b} p99 ms | {b} mean ms | {c} p50 ms | {c} p99 ms | {c} mean ms | \
         {c}/{b} p50 | ≤ {target_ratio:.2}? | rows {b} / {c} | errors {b} / {c} |\n"
    ));
    out.push_str("|---|---:|---:|---:|---:|---:|---:|---:|:-:|---:|---:|\n");
    let mut names: Vec<String> =
        base.types.iter().filter_map(|t| t.get("name").and_then(Value::as_str).map(str::to_string)).collect();
    for t in &cand.types {
        if let Some(name) = t.get("name").and_then(Value::as_str) {
            if !names.iter().any(|n| n == name) {
                names.push(name.to_string());
            }
        }
    }
    for name in &names {
        let (bt, ct) = (base.find(name), cand.find(name));
        let r = ratio(num(ct, "p50_ms"), num(bt, "p50_ms"));
        let errors = (num(bt, "errors").unwrap_or(0.0), num(ct, "errors").unwrap_or(0.0));
        let met = match r {
            _ if errors.1 > 0.0 => "no (errors)",
            Some(r) if r <= target_ratio => "yes",
            Some(_) => "no",
            None => "–",
        };
        let rows = (num(bt, "rows"), num(ct, "rows"));
        let rows_cell = match rows {
            (Some(x), Some(y)) if x == y => format!("{x:.0} (same)"),
            (x, y) => format!("{} / {}", cell(x, 0), cell(y, 0)),
        };
        out.push_str(&format!(
            "| {name} | {} | {} | {} | {} | {} | {} | **{}** | {met} | {rows_cell} | {:.0} / {:.0} |\n",
            cell(num(bt, "p50_ms"), 2),
            cell(num(bt, "p99_ms"), 2),
            cell(num(bt, "mean_ms"), 2),
            cell(num(ct, "p50_ms"), 2),
            cell(num(ct, "p99_ms"), 2),
            cell(num(ct, "mean_ms"), 2),
            cell(r, 2),
            errors.0,
            errors.1,
        ));
    }
    if base.scan.is_some() || cand.scan.is_some() {
        let (bs, cs) = (base.scan.as_ref(), cand.scan.as_ref());
        let (bv, cv) = (num(bs, "values_per_sec"), num(cs, "values_per_sec"));
        out.push_str(&format!(
            "\nfull scan `{}`: {b} p50 {} ms = {} M values/s; {c} p50 {} ms = {} M values/s; {c}/{b} {}×\n",
            crate::tsbs_queries::FULL_SCAN,
            cell(num(bs, "p50_ms"), 1),
            cell(bv.map(|v| v / 1e6), 1),
            cell(num(cs, "p50_ms"), 1),
            cell(cv.map(|v| v / 1e6), 1),
            cell(ratio(cv, bv), 2),
        ));
    }
    Ok(out)
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_counted_and_errors_caught() {
        let ok = br#"{"results":[{"statement_id":0,"series":[{"name":"cpu","columns":["time","max"],"values":[[1,2],[3,4]]},{"name":"cpu","columns":["time","max"],"values":[[1,2]]}]}]}"#;
        assert_eq!(inspect(ok), Ok(Answer { series: 2, rows: 3 }));
        let empty = br#"{"results":[{"statement_id":0}]}"#;
        assert_eq!(inspect(empty), Ok(Answer::default()));
        assert!(inspect(br#"{"results":[{"statement_id":0,"error":"boom"}]}"#).is_err());
        assert!(inspect(br#"{"error":"bad query"}"#).is_err());
        assert!(inspect(b"not json").is_err());
        assert!(inspect(br#"{"x":1}"#).is_err());
    }

    #[test]
    fn query_url_keeps_prefixes() {
        let t = Target::new(&Url::parse("http://h:1/influx").expect("url"), "db").expect("target");
        assert_eq!(t.query_url.as_str(), "http://h:1/influx/query");
    }

    #[test]
    fn table_has_ratios_and_flags() {
        let dir = std::env::temp_dir().join(format!("augur-bench-table-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let write = |name: &str, label: &str, p50: f64, rows: u64, errors: u64| {
            let path = dir.join(name);
            let report = json!({
                "label": label,
                "types": [{"name": "lastpoint", "p50_ms": p50, "p99_ms": p50, "mean_ms": p50, "rows": rows, "errors": errors}],
                "full_scan": {"p50_ms": 100.0, "values_per_sec": 1e8},
            });
            std::fs::write(&path, report.to_string()).expect("write");
            path
        };
        let a = write("a.json", "InfluxDB", 30.0, 100, 0);
        let b = write("b.json", "Augur", 6.0, 100, 0);
        let table = compare_table(&a, &b, 1.0 / 3.0).expect("table");
        assert!(table.contains("| lastpoint | 30.00 |"), "{table}");
        assert!(table.contains("**0.20** | yes | 100 (same)"), "{table}");
        assert!(table.contains("100.0 M values/s"), "{table}");
        let c = write("c.json", "Augur", 1.0, 0, 100);
        let table = compare_table(&a, &c, 1.0 / 3.0).expect("table");
        assert!(table.contains("no (errors)"), "{table}");
        std::fs::remove_dir_all(&dir).expect("cleanup");
    }
}
