//! A demand trace from a running Augur: `augur simulate --query … --db …`
//! replays a measurement that is already in the database (what a pool's
//! demand query would read) instead of a CSV file.
//!
//! Why through `/query` and not the data directory: the server keeps its
//! store open (RocksDB allows one process), and the query's `GROUP BY
//! time(…)` is exactly how a pool would see the demand. Groups (tags) are
//! summed per bucket, empty buckets become gaps that the trace fills like
//! a CSV's.

use std::collections::BTreeMap;

use serde_json::Value;

use super::trace::{self, Trace};
use super::SimulateError;
use crate::client::http::{Conn, ConnArgs};

/// Runs `query` on `db` and turns its buckets into a trace.
pub fn from_query(conn: &ConnArgs, db: &str, query: &str) -> Result<Trace, SimulateError> {
    let fail = |message: String| SimulateError::Source { message };
    let conn = Conn::new(conn).map_err(|e| fail(e.to_string()))?;
    let answer = conn.query(&[("db", db), ("q", query), ("epoch", "s")]).map_err(|e| fail(e.to_string()))?;
    let text = csv_of(&answer).map_err(fail)?;
    Ok(trace::parse(&format!("{db}: {query}"), &text)?)
}

/// The `timestamp,value` CSV of a `/query` answer: one row per bucket, the
/// sum over series; `null` buckets are left out (gaps).
fn csv_of(answer: &Value) -> Result<String, String> {
    if let Some(error) = answer.get("error").and_then(Value::as_str) {
        return Err(error.to_string());
    }
    let result = &answer["results"][0];
    if let Some(error) = result.get("error").and_then(Value::as_str) {
        return Err(error.to_string());
    }
    let mut sums: BTreeMap<i64, f64> = BTreeMap::new();
    for series in result["series"].as_array().map(Vec::as_slice).unwrap_or_default() {
        for row in series["values"].as_array().map(Vec::as_slice).unwrap_or_default() {
            if let (Some(t), Some(v)) = (row.get(0).and_then(Value::as_i64), row.get(1).and_then(Value::as_f64)) {
                *sums.entry(t).or_insert(0.0) += v;
            }
        }
    }
    if sums.is_empty() {
        return Err("the query returned no data (does it aggregate with GROUP BY time(…) over a time range?)".into());
    }
    let mut text = String::from("timestamp,value\n");
    for (t, v) in sums {
        text.push_str(&format!("{t},{v}\n"));
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_summed_over_series_and_nulls_are_gaps() {
        let answer = serde_json::json!({"results": [{"statement_id": 0, "series": [
            {"name": "u", "tags": {"host": "a"}, "columns": ["time", "sum"], "values": [[60, 1.0], [120, null], [180, 2.0]]},
            {"name": "u", "tags": {"host": "b"}, "columns": ["time", "sum"], "values": [[60, 0.5], [120, null], [180, 1.0]]}
        ]}]});
        assert_eq!(csv_of(&answer).expect("csv"), "timestamp,value\n60,1.5\n180,3\n");
        let error = serde_json::json!({"results": [{"statement_id": 0, "error": "database not found: x"}]});
        assert_eq!(csv_of(&error), Err("database not found: x".to_string()));
        let empty = serde_json::json!({"results": [{"statement_id": 0}]});
        assert!(csv_of(&empty).expect_err("empty").contains("no data"));
    }
}
