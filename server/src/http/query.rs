//! `GET|POST /query`: run AQL (InfluxQL) statements.
//!
//! Parameters come from the URL and, for a POST with a form body, from the
//! body too (body first, as InfluxDB's `r.FormValue`). A query that does not
//! parse is a 400; a statement that fails is reported inside the results
//! with a 200, as InfluxDB does. GET requests are read-only: statements that
//! change state must be POSTed. `epoch=ns|u|ms|s|m|h` writes `SELECT` times
//! as integers in that unit; `chunked=true` answers one JSON document per
//! series piece of at most `chunk_size` rows, one per line, as InfluxDB's
//! chunked mode does; `params` binds `$name` parameters from a JSON object;
//! `Accept: application/csv` answers CSV (see `query_format`). The query
//! stops (between statements and batches of series) when the client
//! disconnects or `[query] timeout` passes.

use std::sync::Arc;
use std::time::Instant;

use augur_query::exec::cancel::CancelToken;
use augur_query::parser::parse_query_with_params;
use augur_query::{execute, ExecutionContext};
use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};

use super::body;
use super::error::ApiError;
use super::params::Params;
use super::query_format::{csv_error, Format};
use super::AppState;

/// The only form body type parsed for parameters.
const FORM_CONTENT_TYPE: &str = "application/x-www-form-urlencoded";

/// Cancels the query when dropped: hyper drops the handler's future when
/// the client disconnects, and this stops the executor at its next check.
struct CancelOnDrop(CancelToken);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.cancel();
    }
}

/// Runs the statements in `q`.
pub async fn handle(
    State(state): State<Arc<AppState>>,
    method: Method,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let csv = wants_csv(&headers);
    match run(state, method, query, headers, body, csv).await {
        Err(err) if csv => Ok(csv_response(err.status(), csv_error(&err.to_string()))),
        other => other,
    }
}

async fn run(
    state: Arc<AppState>,
    method: Method,
    query: Option<String>,
    headers: HeaderMap,
    body: Body,
    csv: bool,
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
    let bound = match params.non_empty("params") {
        None => serde_json::Map::new(),
        Some(json) => serde_json::from_str(json).map_err(|e| ApiError::QueryParameters(e.to_string()))?,
    };
    let parsed = parse_query_with_params(text, &bound)?;
    let cancel = CancelToken::with_deadline(state.query.timeout.map(|t| Instant::now() + t));
    let _guard = CancelOnDrop(cancel.clone());
    let epoch = params.non_empty("epoch").and_then(augur_query::exec::epoch_divisor);
    let ctx = ExecutionContext {
        database: params.non_empty("db").map(str::to_string),
        retention_policy: params.non_empty("rp").map(str::to_string),
        read_only: method == Method::GET,
        // CSV carries times as epoch nanoseconds unless `epoch` says otherwise.
        epoch: if csv { epoch.or(Some(1)) } else { epoch },
        max_select_points: state.query.max_select_points,
        max_select_buckets: state.query.max_select_buckets,
        cancel,
        ..ExecutionContext::default()
    };
    tracing::debug!(query = text, db = ?ctx.database, "query");
    let store = state.store.clone();
    let response = tokio::task::spawn_blocking(move || execute(&store, &parsed, &ctx)).await?;
    let chunk_size = params
        .non_empty("chunk_size")
        .and_then(|v| v.parse::<usize>().ok())
        .filter(|n| *n > 0)
        .unwrap_or(state.query.chunk_size);
    let format = Format { pretty: params.flag("pretty"), chunked: params.flag("chunked"), chunk_size, csv };
    let body = format.render(&response);
    Ok(if csv { csv_response(StatusCode::OK, body) } else { json_response(body) })
}

/// Whether the client asked for CSV (`Accept: application/csv`).
fn wants_csv(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|part| part.trim().starts_with("application/csv")))
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

/// InfluxDB answers CSV as `text/csv`.
fn csv_response(status: StatusCode, body: Vec<u8>) -> Response {
    let mut response = (status, body).into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/csv"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use augur_query::result::{QueryResponse, StatementResult};

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
        let chunked = Format { chunked: true, chunk_size: 10_000, ..Format::default() }.render(&two_results());
        assert_eq!(
            String::from_utf8_lossy(&chunked),
            "{\"results\":[{\"statement_id\":0}]}\n{\"results\":[{\"statement_id\":1,\"error\":\"not executed\"}]}\n"
        );
        let pretty = Format { pretty: true, ..Format::default() }.render(&QueryResponse::default());
        assert_eq!(String::from_utf8_lossy(&pretty), "{}\n");
        let pretty = Format { pretty: true, ..Format::default() }.render(&two_results());
        assert!(String::from_utf8_lossy(&pretty).contains("\n    \"results\": ["));
    }
}
