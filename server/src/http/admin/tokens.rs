//! `GET|POST /v1/tokens`, `DELETE /v1/tokens/{id}`.

use std::sync::Arc;

use augur_query::time::format_rfc3339_nano;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};

use super::{account_error, audit_change, auth, parse_body};
use crate::auth::model::Token;
use crate::auth::{Auth, Principal};
use crate::clock::now_ns;
use crate::config::parse_positive_duration;
use crate::http::auth::ClientAddr;
use crate::http::error::ApiError;
use crate::http::AppState;

/// The body of `POST /v1/tokens`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenBody {
    /// The user it acts as (default: the caller).
    #[serde(default)]
    pub user: Option<String>,
    /// What it is for.
    #[serde(default)]
    pub description: String,
    /// Lifetime (`"30d"`, `"12h"`); absent = no expiry.
    #[serde(default)]
    pub expires_in: Option<String>,
}

/// A token as listed (never the secret).
#[derive(Debug, Serialize)]
pub struct TokenView {
    /// Public id (for `DELETE /v1/tokens/{id}`).
    pub id: String,
    /// The user it acts as.
    pub user: String,
    /// What it is for.
    pub description: String,
    /// Created, RFC 3339.
    pub created: String,
    /// Expiry, RFC 3339 (absent: never).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires: Option<String>,
    /// Revocation time, RFC 3339 (absent: live).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revoked: Option<String>,
}

impl From<Token> for TokenView {
    fn from(t: Token) -> TokenView {
        TokenView {
            id: t.id,
            user: t.user,
            description: t.description,
            created: format_rfc3339_nano(t.created_ns),
            expires: t.expires_ns.map(format_rfc3339_nano),
            revoked: t.revoked_ns.map(format_rfc3339_nano),
        }
    }
}

/// The answer to `POST /v1/tokens`: the view plus the secret, once.
#[derive(Debug, Serialize)]
pub struct CreatedToken {
    /// The token itself: shown only in this answer.
    pub token: String,
    /// Its record.
    #[serde(flatten)]
    pub view: TokenView,
}

/// Whether `principal` may manage `user`'s tokens.
fn may_manage(auth: &Auth, principal: &Principal, user: &str) -> bool {
    (!principal.trusted && principal.user == user)
        || auth.accounts.user(user).is_some_and(|u| principal.administers(&u.tenant))
}

/// `GET /v1/tokens`: the tokens the caller may manage.
pub async fn list(
    State(state): State<Arc<AppState>>,
    Extension(principal): Extension<Principal>,
) -> Result<Json<Vec<TokenView>>, ApiError> {
    let auth = auth(&state)?;
    Ok(Json(
        auth.accounts
            .tokens()
            .into_iter()
            .filter(|t| may_manage(auth, &principal, &t.user))
            .map(TokenView::from)
            .collect(),
    ))
}

/// `POST /v1/tokens`: 201 with the token (shown once).
pub async fn create(
    State(state): State<Arc<AppState>>,
    Extension(principal): Extension<Principal>,
    Extension(client): Extension<ClientAddr>,
    body: Bytes,
) -> Result<(StatusCode, Json<CreatedToken>), ApiError> {
    let auth = auth(&state)?;
    let body: TokenBody = if body.is_empty() { TokenBody::default() } else { parse_body(&body)? };
    let user = match body.user {
        Some(user) => user,
        None if principal.trusted => {
            return Err(ApiError::BadRequest("missing field `user` (authentication is off)".to_string()))
        }
        None => principal.user.clone(),
    };
    if !may_manage(auth, &principal, &user) {
        return Err(ApiError::NotFound("user not found".to_string()));
    }
    let expires_ns = match body.expires_in.as_deref() {
        None => None,
        Some(text) => {
            let d =
                parse_positive_duration(text).map_err(|m| ApiError::BadRequest(format!("invalid expires_in: {m}")))?;
            Some(now_ns().saturating_add(i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)))
        }
    };
    let tenant = auth.accounts.user(&user).map(|u| u.tenant).unwrap_or_default();
    let result = auth.accounts.create_token(&user, &body.description, expires_ns);
    let outcome = result.as_ref().map_or_else(|e| format!("failed: {e}"), |(t, _)| format!("ok: id {}", t.id));
    audit_change(auth, &principal, &client, &tenant, &format!("create token for {user}"), &outcome);
    let (token, secret) = result.map_err(account_error)?;
    Ok((StatusCode::CREATED, Json(CreatedToken { token: secret, view: TokenView::from(token) })))
}

/// `DELETE /v1/tokens/{id}`: revokes it.
pub async fn revoke(
    State(state): State<Arc<AppState>>,
    Extension(principal): Extension<Principal>,
    Extension(client): Extension<ClientAddr>,
    Path(id): Path<String>,
) -> Result<Json<TokenView>, ApiError> {
    let auth = auth(&state)?;
    let token = auth.accounts.token_by_id(&id).filter(|t| may_manage(auth, &principal, &t.user));
    let Some(token) = token else {
        return Err(ApiError::NotFound("token not found".to_string()));
    };
    let tenant = auth.accounts.user(&token.user).map(|u| u.tenant).unwrap_or_default();
    let result = auth.accounts.revoke_token(&id);
    let outcome = result.as_ref().map_or_else(|e| format!("failed: {e}"), |_| "ok".to_string());
    audit_change(auth, &principal, &client, &tenant, &format!("revoke token {id} of {}", token.user), &outcome);
    Ok(Json(TokenView::from(result.map_err(account_error)?)))
}
