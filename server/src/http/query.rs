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
//!
//! Where a query runs: over HTTP/1 on plain TCP, on the request's own async
//! worker, inside `block_in_place` (the worker's other tasks move to
//! another thread meanwhile). That skips the hand-off to a blocking thread
//! and back, two thread wake-ups that cost more than a one-series query
//! takes. The handler then blocks its connection's task, so hyper cannot
//! notice a client that hangs up: the query's cancellation checks ask the
//! socket instead ([`crate::hangup`]). HTTP/2 and TLS requests, and
//! `[query] inline = false`, use a blocking thread.

use std::sync::Arc;
use std::time::Instant;

use augur_engine::storage::Store;
use augur_query::ast::{Query, Statement};
use augur_query::exec::cancel::CancelToken;
use augur_query::exec::Accounts;
use augur_query::parser::parse_query_with_params;
use augur_query::privileges::{required, Requirement};
use augur_query::result::QueryResponse;
use augur_query::{execute, ExecutionContext};
use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Extension;

use super::auth::{ClientAddr, ConnectionFd};
use super::body;
use super::error::ApiError;
use super::params::Params;
use super::query_format::{csv_error, Format};
use super::AppState;
use crate::auth::statements::StatementRunner;
use crate::auth::Principal;

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
// Axum extractors are the arguments: each is one part of the request.
#[allow(clippy::too_many_arguments)]
pub async fn handle(
    State(state): State<Arc<AppState>>,
    Extension(principal): Extension<Principal>,
    client: Option<Extension<ClientAddr>>,
    socket: Option<Extension<ConnectionFd>>,
    method: Method,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let csv = wants_csv(&headers);
    let caller =
        Caller { principal, client: client.map(|c| c.0).unwrap_or(ClientAddr(None)), socket: socket.map(|s| s.0) };
    match run(state, caller, method, query, headers, body, csv).await {
        Err(err) if csv => Ok(csv_response(err.status(), csv_error(&err.to_string()))),
        other => other,
    }
}

/// Who sent the request, and over which socket (HTTP/1 on plain TCP).
struct Caller {
    principal: Principal,
    client: ClientAddr,
    socket: Option<ConnectionFd>,
}

async fn run(
    state: Arc<AppState>,
    caller: Caller,
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
    let default_db = params.non_empty("db");
    if let Err(denied) = authorize(&state, &caller.principal, &parsed, default_db) {
        audit_denied(&state, &caller, &parsed, &denied);
        return Err(denied);
    }
    claim_new_databases(&state, &caller.principal, &parsed)?;
    let limits = state.auth.as_ref().and_then(|a| a.accounts.tenant(&caller.principal.tenant)).map(|t| t.limits);
    let limits = limits.unwrap_or_default();
    let _slot = match &state.auth {
        Some(auth) => {
            auth.limits.query_slot(&caller.principal.tenant, limits.max_concurrent_queries).ok_or_else(|| {
                ApiError::TenantLimit(format!(
                    "tenant {:?} exceeds its limit of {} concurrent queries (max_concurrent_queries); retry later",
                    caller.principal.tenant, limits.max_concurrent_queries
                ))
            })?
        }
        None => None,
    };
    state.metrics.queries.with(&[&caller.principal.tenant]).inc();
    let max_select_points = match (state.query.max_select_points, limits.max_select_points) {
        (global, 0) => global,
        (0, tenant) => tenant,
        (global, tenant) => global.min(tenant),
    };
    let cancel = CancelToken::with_deadline(state.query.timeout.map(|t| Instant::now() + t));
    let _guard = CancelOnDrop(cancel.clone());
    let parsed = Arc::new(parsed);
    let _listed = state.running.register(
        Arc::clone(&parsed),
        default_db.unwrap_or_default(),
        &caller.principal.tenant,
        cancel.clone(),
    );
    let epoch = params.get("epoch").map(str::trim).filter(|e| !e.is_empty()).map(augur_query::exec::epoch_divisor);
    let ctx = ExecutionContext {
        database: params.non_empty("db").map(str::to_string),
        retention_policy: params.non_empty("rp").map(str::to_string),
        read_only: method == Method::GET,
        // CSV carries times as epoch nanoseconds unless `epoch` says otherwise.
        epoch: if csv { epoch.or(Some(1)) } else { epoch },
        max_select_points,
        max_select_buckets: state.query.max_select_buckets,
        cancel,
        accounts: state.auth.as_ref().map(|auth| {
            Accounts(Arc::new(StatementRunner {
                accounts: Arc::clone(&auth.accounts),
                principal: caller.principal.clone(),
            }))
        }),
        queries: Some(state.running.view(&caller.principal)),
        ..ExecutionContext::default()
    };
    tracing::debug!(query = text, db = ?ctx.database, "query");
    let store = state.store.clone();
    // Only the texts of administrative statements are kept for the audit
    // log (usually none: no copy of a SELECT's tree on the query path).
    let changes = audited_texts(&parsed);
    let inline_on = caller.socket.filter(|_| state.query.inline && on_multi_thread_runtime());
    let response = match inline_on {
        Some(socket) => execute_here(&store, &parsed, ctx, socket),
        None => tokio::task::spawn_blocking(move || execute(&store, &parsed, &ctx)).await?,
    };
    audit_changes(&state, &caller, &changes, &response);
    let chunk_size = params
        .non_empty("chunk_size")
        .and_then(|v| v.parse::<usize>().ok())
        .filter(|n| *n > 0)
        .unwrap_or(state.query.chunk_size);
    let format = Format { pretty: params.flag("pretty"), chunked: params.flag("chunked"), chunk_size, csv };
    let body = format.render(&response);
    Ok(if csv { csv_response(StatusCode::OK, body) } else { json_response(body) })
}

/// Runs the statements on this async worker (see the module docs), with a
/// cancel token that also asks `socket` whether the client hung up.
fn execute_here(store: &Store, query: &Query, ctx: ExecutionContext, socket: ConnectionFd) -> QueryResponse {
    // The probe is disarmed when this function returns: the connection's
    // task (blocked here) keeps the socket open until then.
    let (probe, _disarm) = crate::hangup::SocketProbe::new(socket.0);
    let ctx = ExecutionContext { cancel: ctx.cancel.with_hangup_probe(move || probe.client_gone()), ..ctx };
    tokio::task::block_in_place(|| execute(store, query, &ctx))
}

/// `block_in_place` needs a multi-threaded runtime (the server's); a
/// current-thread runtime (some tests) uses the blocking pool.
fn on_multi_thread_runtime() -> bool {
    tokio::runtime::Handle::try_current()
        .is_ok_and(|handle| handle.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread)
}

/// Checks every statement's requirements before any runs, as InfluxDB
/// does: one denied statement refuses the whole request with 403.
fn authorize(state: &AppState, principal: &Principal, query: &Query, default_db: Option<&str>) -> Result<(), ApiError> {
    for statement in &query.statements {
        for requirement in required(statement, default_db) {
            let denied = match &requirement {
                Requirement::Database { database: None, .. } => None,
                Requirement::Database { access, database: Some(db) } => {
                    (!state.may(principal, *access, db)).then(|| format!("{} on {db}", access.as_str()))
                }
                Requirement::UserAdmin => {
                    (state.auth.is_some() && !principal.is_tenant_admin()).then(|| "admin privilege".to_string())
                }
                Requirement::SelfOrUserAdmin(user) => (state.auth.is_some()
                    && !principal.is_tenant_admin()
                    && (principal.trusted || principal.user != *user))
                    .then(|| "admin privilege".to_string()),
            };
            if let Some(needs) = denied {
                return Err(ApiError::Forbidden(format!(
                    "error authorizing query: {} not authorized to execute statement '{statement}', requires {needs}",
                    principal.name()
                )));
            }
        }
    }
    Ok(())
}

/// `CREATE DATABASE` of a name no tenant owns makes it the caller's
/// tenant's (recorded before the statement runs, so a crash in between
/// leaves the name reserved, never unowned).
fn claim_new_databases(state: &AppState, principal: &Principal, query: &Query) -> Result<(), ApiError> {
    let Some(auth) = &state.auth else { return Ok(()) };
    for statement in &query.statements {
        if let Statement::CreateDatabase(create) = statement {
            if auth.accounts.owner(&create.name).is_none() {
                auth.accounts.claim(&create.name, &principal.tenant).map_err(|e| ApiError::Internal(e.to_string()))?;
            }
        }
    }
    Ok(())
}

/// Whether a statement is an administrative change the audit log keeps.
fn audited(statement: &Statement) -> bool {
    statement.is_write() && !matches!(statement, Statement::Select(_))
}

/// `(index, text)` of the statements the audit log keeps.
fn audited_texts(query: &Query) -> Vec<(usize, String)> {
    query.statements.iter().enumerate().filter(|(_, s)| audited(s)).map(|(i, s)| (i, s.to_string())).collect()
}

fn audit_changes(state: &AppState, caller: &Caller, changes: &[(usize, String)], response: &QueryResponse) {
    let Some(auth) = &state.auth else { return };
    let p = &caller.principal;
    for (index, text) in changes {
        let outcome = match response.results.get(*index).and_then(|r| r.error.as_ref()) {
            Some(error) => format!("failed: {error}"),
            None => "ok".to_string(),
        };
        auth.audit.record(p.name(), &p.tenant, &caller.client.text(), text, &outcome);
    }
}

fn audit_denied(state: &AppState, caller: &Caller, query: &Query, denied: &ApiError) {
    let Some(auth) = &state.auth else { return };
    let p = &caller.principal;
    for (_, text) in audited_texts(query) {
        auth.audit.record(p.name(), &p.tenant, &caller.client.text(), &text, &format!("denied: {denied}"));
    }
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
