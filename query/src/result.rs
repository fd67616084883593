//! Query results in InfluxDB 1.x's JSON shape.
//!
//! Why a module of its own: the shape is a compatibility contract (client
//! libraries, Grafana and the `influx` CLI decode it), including which keys
//! are left out when empty, so it is written down once, as serde types.
//! `{"results":[{"statement_id":0,"series":[{"name":"databases","columns":["name"],"values":[["db1"]]}]}]}`

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

/// The body of a `/query` response.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct QueryResponse {
    /// One result per statement, in order (absent when there were none,
    /// which InfluxDB renders as `{}`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub results: Vec<StatementResult>,
}

/// The result of one statement: series, or an error.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct StatementResult {
    /// Index of the statement in the request.
    pub statement_id: usize,
    /// Result rows, grouped by series.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub series: Vec<Series>,
    /// Informational messages (warnings).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub messages: Vec<Message>,
    /// Why the statement failed (the request itself still answers 200).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl StatementResult {
    /// A successful result with these series.
    pub fn ok(statement_id: usize, series: Vec<Series>) -> StatementResult {
        StatementResult { statement_id, series, ..StatementResult::default() }
    }

    /// A failed result.
    pub fn error(statement_id: usize, error: impl Into<String>) -> StatementResult {
        StatementResult { statement_id, error: Some(error.into()), ..StatementResult::default() }
    }
}

/// A table of rows: a series name, optional tags, columns and values.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Series {
    /// Series (measurement) name; absent for `SHOW RETENTION POLICIES`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The tag values of a `GROUP BY` group; absent without one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tags: Option<BTreeMap<String, String>>,
    /// Column names.
    pub columns: Vec<String>,
    /// Rows; absent when empty (as InfluxDB does for `SHOW DATABASES` with
    /// no databases).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<Vec<Value>>,
}

impl Series {
    /// A series with a name and columns, and no rows yet.
    pub fn new(name: Option<&str>, columns: &[&str]) -> Series {
        Series {
            name: name.map(str::to_string),
            tags: None,
            columns: columns.iter().map(|c| c.to_string()).collect(),
            values: Vec::new(),
        }
    }
}

/// A message attached to a statement result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Message {
    /// `warning` or `info`.
    pub level: String,
    /// The text.
    pub text: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_parts_are_left_out() {
        let r = QueryResponse { results: vec![StatementResult::ok(0, vec![])] };
        assert_eq!(serde_json::to_string(&r).ok().as_deref(), Some(r#"{"results":[{"statement_id":0}]}"#));
        assert_eq!(serde_json::to_string(&QueryResponse::default()).ok().as_deref(), Some("{}"));
        let r = QueryResponse { results: vec![StatementResult::error(1, "database not found: x")] };
        assert_eq!(
            serde_json::to_string(&r).ok().as_deref(),
            Some(r#"{"results":[{"statement_id":1,"error":"database not found: x"}]}"#)
        );
        let s = Series::new(Some("databases"), &["name"]);
        assert_eq!(serde_json::to_string(&s).ok().as_deref(), Some(r#"{"name":"databases","columns":["name"]}"#));
    }
}
