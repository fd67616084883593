//! `GET /metrics` (Prometheus text format) and the layer that counts every
//! request by route, method and status.
//!
//! `/metrics` names tenants, pools and databases, so it answers operators
//! only when authentication is on (Prometheus sends the token with
//! `authorization: {type: Token, credentials: ...}` or as a bearer token).

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::header::CONTENT_TYPE;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Extension;

use super::error::ApiError;
use super::AppState;
use crate::auth::Principal;
use crate::monitor::metrics::{Exposition, EXPOSITION_CONTENT_TYPE};

/// The route label of requests that matched no route (so unknown paths
/// cannot create label sets).
pub const UNMATCHED_ROUTE: &str = "unmatched";

/// `GET /metrics`.
pub async fn handle(State(state): State<Arc<AppState>>, Extension(principal): Extension<Principal>) -> Response {
    if !principal.is_operator() {
        return ApiError::Forbidden("reading /metrics requires an operator (an admin of the default tenant)".into())
            .into_response();
    }
    let text = match state.monitor.clone() {
        // It reads the store: off the async workers.
        Some(monitor) => match tokio::task::spawn_blocking(move || monitor.render()).await {
            Ok(text) => text,
            Err(err) => return ApiError::from(err).into_response(),
        },
        None => {
            let mut e = Exposition::new();
            let m = &state.metrics;
            e.counter_family(
                "augur_http_requests_total",
                "HTTP requests by route, method and status code.",
                &m.http_requests,
            );
            e.finish()
        }
    };
    ([(CONTENT_TYPE, EXPOSITION_CONTENT_TYPE)], text).into_response()
}

/// Counts the request and its duration under its route template.
pub async fn count_requests(State(state): State<Arc<AppState>>, request: Request, next: Next) -> Response {
    let route = request.extensions().get::<MatchedPath>().map_or(UNMATCHED_ROUTE, |p| p.as_str()).to_string();
    let method = request.method().as_str().to_string();
    let started = Instant::now();
    let response = next.run(request).await;
    let code = response.status().as_u16().to_string();
    state.metrics.http_requests.with(&[&route, &method, &code]).inc();
    state.metrics.http_duration.with(&[&route]).observe(started.elapsed().as_secs_f64());
    response
}
