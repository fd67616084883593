//! `GET|POST /query`: run AQL (InfluxQL) statements.
//!
//! Parameters come from the URL and, for a POST with a form body, from the
//! body too (body first, as InfluxDB's `r.FormValue`). A query that does not
//! parse is a 400; a statement that fails is reported inside the results
//! with a 200, as InfluxDB does. GET requests are read-only: statements that
//! change state must be POSTed. `epoch=ns|u|ms|s|m|h` writes `SELECT` times
//! as integers in that unit; `chunked=true` answers one JSON document per statement,
//! one per line, as InfluxDB's chunked mode does.

use std::sync::Arc;

use augur_query::result::QueryResponse;
use augur_query::{execute, parse_query, ExecutionContext};
use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::body;
use super::error::ApiError;
use super::params::Params;
use super::AppState;

/// The only form body type parsed for parameters.
const FORM_CONTENT_TYPE: &str = "application/x-www-form-urlencoded";

/// Runs the statements in `q`.
pub async fn handle(
    State(state): State<Arc<AppState>>,
    method: Method,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let mut params = Params::default();
    if method == Method::POST && is_form(&headers) {
        let raw = body::read_limited(body, &headers, state.limits.max_body_size).await?;
        let encoding = body::content_encoding(&headers)?;
        let form = body::decode(raw, encoding, state.limits.max_body_size)?;
        params.extend(&form);
    }
    if let Some(q) = &query {
        params.extend(q.as_bytes());
    }
    let text = params.get("q").map(str::trim).unwrap_or_default();
    if text.is_empty() {
        return Err(ApiError::MissingParameter("q"));
    }
    let parsed = parse_query(text)?;
    let ctx = ExecutionContext {
        database: params.non_empty("db").map(str::to_string),
        retention_policy: params.non_empty("rp").map(str::to_string),
        read_only: method == Method::GET,
        epoch: params.non_empty("epoch").and_then(augur_query::exec::epoch_divisor),
        ..ExecutionContext::default()
    };
    tracing::debug!(query = text, db = ?ctx.database, "query");
    let store = state.store.clone();
    let response = tokio::task::spawn_blocking(move || execute(&store, &parsed, &ctx)).await?;
    let format = Format { pretty: params.flag("pretty"), chunked: params.flag("chunked") };
    Ok(json_response(format.render(&response)))
}

fn is_form(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim_start().starts_with(FORM_CONTENT_TYPE))
}

fn json_response(body: Vec<u8>) -> Response {
    let mut response = (StatusCode::OK, body).into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

/// How results are written out.
#[derive(Debug, Clone, Copy, Default)]
struct Format {
    /// Indented (4 spaces, as InfluxDB).
    pretty: bool,
    /// One `{"results":[...]}` document per statement, one per line.
    chunked: bool,
}

impl Format {
    fn render(self, response: &QueryResponse) -> Vec<u8> {
        let mut out = Vec::new();
        if self.chunked && !response.results.is_empty() {
            for result in &response.results {
                let chunk = QueryResponse { results: vec![result.clone()] };
                self.write_one(&mut out, &chunk);
            }
        } else {
            self.write_one(&mut out, response);
        }
        out
    }

    fn write_one(self, out: &mut Vec<u8>, value: &impl Serialize) {
        let written = if self.pretty {
            let formatter = serde_json::ser::PrettyFormatter::with_indent(b"    ");
            let mut serializer = serde_json::Serializer::with_formatter(&mut *out, formatter);
            value.serialize(&mut serializer)
        } else {
            serde_json::to_writer(&mut *out, value)
        };
        if let Err(err) = written {
            // Serializing plain data into memory cannot fail; say so loudly if it does.
            tracing::error!(error = %err, "cannot serialize query results");
        }
        out.push(b'\n');
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use augur_query::result::StatementResult;

    fn two_results() -> QueryResponse {
        QueryResponse { results: vec![StatementResult::ok(0, vec![]), StatementResult::error(1, "not executed")] }
    }

    #[test]
    fn plain_chunked_and_pretty() {
        let plain = Format::default().render(&two_results());
        assert_eq!(
            String::from_utf8_lossy(&plain),
            "{\"results\":[{\"statement_id\":0},{\"statement_id\":1,\"error\":\"not executed\"}]}\n"
        );
        let chunked = Format { chunked: true, pretty: false }.render(&two_results());
        assert_eq!(
            String::from_utf8_lossy(&chunked),
            "{\"results\":[{\"statement_id\":0}]}\n{\"results\":[{\"statement_id\":1,\"error\":\"not executed\"}]}\n"
        );
        let pretty = Format { pretty: true, chunked: false }.render(&QueryResponse::default());
        assert_eq!(String::from_utf8_lossy(&pretty), "{}\n");
        let pretty = Format { pretty: true, chunked: false }.render(&two_results());
        assert!(String::from_utf8_lossy(&pretty).contains("\n    \"results\": ["));
    }
}
