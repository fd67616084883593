//! `GET /v1/audit?limit=N`: the newest audit events, newest first.

use std::sync::Arc;

use axum::extract::{RawQuery, State};
use axum::{Extension, Json};

use super::auth;
use crate::auth::audit::AuditEvent;
use crate::auth::Principal;
use crate::http::error::ApiError;
use crate::http::params::Params;
use crate::http::AppState;

/// Events returned without `limit`.
const DEFAULT_LIMIT: usize = 100;
/// Most events one request returns.
const MAX_LIMIT: usize = 10_000;

/// `GET /v1/audit`: operators see every event, a tenant's admin its tenant's.
pub async fn list(
    State(state): State<Arc<AppState>>,
    Extension(principal): Extension<Principal>,
    RawQuery(query): RawQuery,
) -> Result<Json<Vec<AuditEvent>>, ApiError> {
    let auth = auth(&state)?;
    if !principal.is_tenant_admin() {
        return Err(ApiError::Forbidden("reading the audit log requires an admin".to_string()));
    }
    let params = Params::from_query(query.as_deref());
    let limit = match params.non_empty("limit") {
        None => DEFAULT_LIMIT,
        Some(text) => text.parse::<usize>().ok().filter(|n| (1..=MAX_LIMIT).contains(n)).ok_or_else(|| {
            ApiError::InvalidParameter {
                name: "limit",
                value: text.to_string(),
                reason: format!("use 1 to {MAX_LIMIT}"),
            }
        })?,
    };
    let auth = Arc::clone(auth);
    let events = tokio::task::spawn_blocking(move || {
        auth.audit
            .list(limit, |e| principal.is_operator() || (!e.tenant.is_empty() && principal.administers(&e.tenant)))
    })
    .await?;
    Ok(Json(events))
}
