//! `GET|POST /v1/webhooks`, `GET|PUT|DELETE /v1/webhooks/{id}`.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::{Extension, Json};
use serde::{Deserialize, Deserializer, Serialize};

use super::{audit, blocking, hooks, outcome, owned, parse_body, require_admin, webhook_error, SubscriptionView};
use crate::auth::Principal;
use crate::http::auth::ClientAddr;
use crate::http::error::ApiError;
use crate::http::AppState;
use crate::webhooks::{NewSubscription, SubscriptionPatch};

/// The body of `POST /v1/webhooks`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateBody {
    /// Delivery URL (required).
    #[serde(default)]
    pub url: Option<String>,
    /// Type patterns (absent: `["*"]`; an empty list is refused).
    #[serde(default)]
    pub types: Option<Vec<String>>,
    /// HMAC secret (default: generated).
    #[serde(default)]
    pub secret: Option<String>,
    /// Only this pool's events.
    #[serde(default)]
    pub pool: Option<String>,
    /// Events of this tenant or `*` (operators only).
    #[serde(default)]
    pub tenant: Option<String>,
    /// Default true.
    #[serde(default)]
    pub enabled: Option<bool>,
    /// Free text.
    #[serde(default)]
    pub description: String,
}

/// `Some(None)` for an explicit `null`, `Some(Some(v))` for a value
/// (`None`, via `default`, when the field is absent).
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// The body of `PUT /v1/webhooks/{id}`: absent fields stay as they are;
/// `null` removes a filter.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateBody {
    /// New URL.
    #[serde(default)]
    pub url: Option<String>,
    /// New type patterns.
    #[serde(default)]
    pub types: Option<Vec<String>>,
    /// New pool filter.
    #[serde(default, deserialize_with = "present")]
    pub pool: Option<Option<String>>,
    /// New tenant filter (operators only).
    #[serde(default, deserialize_with = "present")]
    pub tenant: Option<Option<String>>,
    /// Enable or disable deliveries.
    #[serde(default)]
    pub enabled: Option<bool>,
    /// New description.
    #[serde(default)]
    pub description: Option<String>,
}

/// The answer to `POST /v1/webhooks`: the view plus the secret, once.
#[derive(Debug, Serialize)]
pub struct CreatedSubscription {
    /// The HMAC secret: shown only in this answer.
    pub secret: String,
    /// The subscription.
    #[serde(flatten)]
    pub view: SubscriptionView,
}

/// The tenant filter a caller may set: operators any (`*` for all);
/// others only their own tenant, which is the default anyway.
fn tenant_filter(principal: &Principal, tenant: Option<String>) -> Result<Option<String>, ApiError> {
    match tenant {
        None => Ok(None),
        Some(t) if !principal.is_operator() && t == principal.tenant => Ok(None),
        Some(_) if !principal.is_operator() => Err(ApiError::Forbidden(
            "invalid tenant: only operators may subscribe to other tenants' events".to_string(),
        )),
        Some(t) => Ok(Some(t)),
    }
}

/// `GET /v1/webhooks`: the subscriptions the caller manages.
pub async fn list(
    State(state): State<Arc<AppState>>,
    Extension(principal): Extension<Principal>,
) -> Result<Json<Vec<SubscriptionView>>, ApiError> {
    let hooks = hooks(&state)?;
    require_admin(&principal)?;
    Ok(Json(hooks.list().into_iter().filter(|s| principal.administers(&s.owner)).map(SubscriptionView::from).collect()))
}

/// `POST /v1/webhooks`: 201 with the subscription and its secret.
pub async fn create(
    State(state): State<Arc<AppState>>,
    Extension(principal): Extension<Principal>,
    Extension(client): Extension<ClientAddr>,
    body: Bytes,
) -> Result<(StatusCode, Json<CreatedSubscription>), ApiError> {
    let hooks = Arc::clone(hooks(&state)?);
    require_admin(&principal)?;
    let body: CreateBody = parse_body(&body)?;
    let url = body.url.ok_or_else(|| ApiError::BadRequest("invalid url: missing field `url`".to_string()))?;
    let types = match body.types {
        None => vec!["*".to_string()],
        Some(types) if types.is_empty() => {
            return Err(ApiError::BadRequest("invalid types: at least one type or \"*\" is required".to_string()))
        }
        Some(types) => types,
    };
    let new = NewSubscription {
        owner: principal.tenant.clone(),
        url,
        types,
        secret: body.secret,
        pool: body.pool,
        tenant: tenant_filter(&principal, body.tenant)?,
        enabled: body.enabled.unwrap_or(true),
        description: body.description,
    };
    let result = blocking(move || hooks.create(new)).await?;
    let action = match &result {
        Ok(s) => format!("create webhook {} to {}", s.id, s.url),
        Err(_) => "create webhook".to_string(),
    };
    audit(&state, &principal, &client, &principal.tenant, &action, &outcome(&result));
    let sub = result.map_err(webhook_error)?;
    Ok((StatusCode::CREATED, Json(CreatedSubscription { secret: sub.secret.clone(), view: sub.into() })))
}

/// `GET /v1/webhooks/{id}`.
pub async fn get(
    State(state): State<Arc<AppState>>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<Json<SubscriptionView>, ApiError> {
    let hooks = hooks(&state)?;
    Ok(Json(owned(hooks, &principal, &id)?.into()))
}

/// `PUT /v1/webhooks/{id}`: changes URL, types, filters, enabled, description.
pub async fn update(
    State(state): State<Arc<AppState>>,
    Extension(principal): Extension<Principal>,
    Extension(client): Extension<ClientAddr>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<SubscriptionView>, ApiError> {
    let hooks = Arc::clone(hooks(&state)?);
    let sub = owned(&hooks, &principal, &id)?;
    let body: UpdateBody = parse_body(&body)?;
    let tenant = match body.tenant {
        None => None,
        Some(t) => Some(tenant_filter(&principal, t)?),
    };
    let patch = SubscriptionPatch {
        url: body.url,
        types: body.types,
        pool: body.pool,
        tenant,
        enabled: body.enabled,
        description: body.description,
    };
    let id_owned = id.clone();
    let result = blocking(move || hooks.update(&id_owned, patch)).await?;
    audit(&state, &principal, &client, &sub.owner, &format!("update webhook {id}"), &outcome(&result));
    Ok(Json(result.map_err(webhook_error)?.into()))
}

/// `DELETE /v1/webhooks/{id}`: 204; its log and dead letters go with it.
pub async fn delete(
    State(state): State<Arc<AppState>>,
    Extension(principal): Extension<Principal>,
    Extension(client): Extension<ClientAddr>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let hooks = hooks(&state)?;
    let sub = owned(hooks, &principal, &id)?;
    let result = hooks.delete(&id).await;
    audit(&state, &principal, &client, &sub.owner, &format!("delete webhook {id}"), &outcome(&result));
    result.map_err(webhook_error)?;
    Ok(StatusCode::NO_CONTENT)
}
