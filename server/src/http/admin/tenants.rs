//! `GET|POST /v1/tenants`, `GET|PUT /v1/tenants/{name}`.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::{Extension, Json};
use serde::Deserialize;

use super::{account_error, audit_change, auth, parse_body};
use crate::auth::model::{Tenant, TenantLimits};
use crate::auth::Principal;
use crate::http::auth::ClientAddr;
use crate::http::error::ApiError;
use crate::http::AppState;

/// The body of `POST /v1/tenants` and `PUT /v1/tenants/{name}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantBody {
    /// Name (POST only; ignored by PUT).
    #[serde(default)]
    pub name: Option<String>,
    /// Consent to keep location tags.
    #[serde(default)]
    pub collect_location: bool,
    /// Limits (absent = unlimited).
    #[serde(default)]
    pub limits: TenantLimits,
}

/// `GET /v1/tenants`: operators see all, a tenant's admin its own.
pub async fn list(
    State(state): State<Arc<AppState>>,
    Extension(principal): Extension<Principal>,
) -> Result<Json<Vec<Tenant>>, ApiError> {
    let auth = auth(&state)?;
    if !principal.is_tenant_admin() {
        return Err(ApiError::Forbidden("listing tenants requires an admin".to_string()));
    }
    Ok(Json(auth.accounts.tenants().into_iter().filter(|t| principal.administers(&t.name)).collect()))
}

/// `GET /v1/tenants/{name}`: the tenant and `location_tags_dropped`, the
/// location tags dropped at ingest since the server started.
pub async fn get(
    State(state): State<Arc<AppState>>,
    Extension(principal): Extension<Principal>,
    Path(name): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let auth = auth(&state)?;
    match auth.accounts.tenant(&name) {
        Some(tenant) if principal.administers(&tenant.name) => {
            let mut view = serde_json::to_value(&tenant).map_err(|e| ApiError::Internal(e.to_string()))?;
            if let Some(object) = view.as_object_mut() {
                object.insert("location_tags_dropped".into(), auth.limits.dropped(&tenant.name).into());
            }
            Ok(Json(view))
        }
        _ => Err(ApiError::NotFound(format!("tenant not found: {name}"))),
    }
}

/// `POST /v1/tenants` (operators): 201 with the tenant.
pub async fn create(
    State(state): State<Arc<AppState>>,
    Extension(principal): Extension<Principal>,
    Extension(client): Extension<ClientAddr>,
    body: Bytes,
) -> Result<(StatusCode, Json<Tenant>), ApiError> {
    let auth = auth(&state)?;
    state.require_operator(&principal)?;
    let body: TenantBody = parse_body(&body)?;
    let name = body.name.ok_or_else(|| ApiError::BadRequest("missing field `name`".to_string()))?;
    let result = auth.accounts.create_tenant(&name, body.collect_location, body.limits);
    let outcome = result.as_ref().map_or_else(|e| format!("failed: {e}"), |_| "ok".to_string());
    audit_change(auth, &principal, &client, &name, &format!("create tenant {name}"), &outcome);
    Ok((StatusCode::CREATED, Json(result.map_err(account_error)?)))
}

/// `PUT /v1/tenants/{name}` (operators): replaces consent and limits.
pub async fn update(
    State(state): State<Arc<AppState>>,
    Extension(principal): Extension<Principal>,
    Extension(client): Extension<ClientAddr>,
    Path(name): Path<String>,
    body: Bytes,
) -> Result<Json<Tenant>, ApiError> {
    let auth = auth(&state)?;
    state.require_operator(&principal)?;
    let body: TenantBody = parse_body(&body)?;
    let result = auth.accounts.update_tenant(&name, body.collect_location, body.limits);
    let outcome = result.as_ref().map_or_else(|e| format!("failed: {e}"), |_| "ok".to_string());
    audit_change(auth, &principal, &client, &name, &format!("update tenant {name}"), &outcome);
    Ok(Json(result.map_err(account_error)?))
}
