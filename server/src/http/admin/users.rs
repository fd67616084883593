//! `GET|POST /v1/users`.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};

use super::{account_error, audit_change, auth, parse_body};
use crate::auth::model::{Grant, Role, User};
use crate::auth::Principal;
use crate::http::auth::ClientAddr;
use crate::http::error::ApiError;
use crate::http::AppState;

/// The body of `POST /v1/users`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserBody {
    /// Name (unique across tenants).
    pub name: String,
    /// Password (absent: the user logs in with tokens only).
    #[serde(default)]
    pub password: Option<String>,
    /// Tenant (default: the caller's).
    #[serde(default)]
    pub tenant: Option<String>,
    /// `admin`, `writer` (default) or `reader`.
    #[serde(default)]
    pub role: Option<String>,
}

/// A user as the API shows it (never the password hash).
#[derive(Debug, Serialize)]
pub struct UserView {
    /// Name.
    pub name: String,
    /// Tenant.
    pub tenant: String,
    /// Role.
    pub role: Role,
    /// Whether a password is set.
    pub has_password: bool,
    /// Grants.
    pub grants: BTreeMap<String, Grant>,
}

impl From<User> for UserView {
    fn from(u: User) -> UserView {
        UserView {
            has_password: u.password_hash.is_some(),
            name: u.name,
            tenant: u.tenant,
            role: u.role,
            grants: u.grants,
        }
    }
}

/// `GET /v1/users`: the users the caller administers.
pub async fn list(
    State(state): State<Arc<AppState>>,
    Extension(principal): Extension<Principal>,
) -> Result<Json<Vec<UserView>>, ApiError> {
    let auth = auth(&state)?;
    if !principal.is_tenant_admin() {
        return Err(ApiError::Forbidden("listing users requires an admin".to_string()));
    }
    Ok(Json(
        auth.accounts.users().into_iter().filter(|u| principal.administers(&u.tenant)).map(UserView::from).collect(),
    ))
}

/// `POST /v1/users`: 201 with the user.
pub async fn create(
    State(state): State<Arc<AppState>>,
    Extension(principal): Extension<Principal>,
    Extension(client): Extension<ClientAddr>,
    body: Bytes,
) -> Result<(StatusCode, Json<UserView>), ApiError> {
    let auth = auth(&state)?;
    let body: UserBody = parse_body(&body)?;
    let tenant = body.tenant.unwrap_or_else(|| principal.tenant.clone());
    if !principal.administers(&tenant) {
        return Err(ApiError::Forbidden(format!(
            "{:?} user cannot create users in tenant {tenant:?}",
            principal.name()
        )));
    }
    let role = match body.role.as_deref() {
        None => Role::Writer,
        Some(text) => Role::parse(text)
            .ok_or_else(|| ApiError::BadRequest(format!("invalid role {text:?}: use admin, writer or reader")))?,
    };
    let accounts = Arc::clone(&auth.accounts);
    let (name, password, t) = (body.name.clone(), body.password, tenant.clone());
    let result =
        tokio::task::spawn_blocking(move || accounts.create_user(&name, &t, role, password.as_deref())).await?;
    let outcome = result.as_ref().map_or_else(|e| format!("failed: {e}"), |_| "ok".to_string());
    let action = format!("create user {} (role {}, tenant {tenant})", body.name, role.as_str());
    audit_change(auth, &principal, &client, &tenant, &action, &outcome);
    Ok((StatusCode::CREATED, Json(UserView::from(result.map_err(account_error)?))))
}
