//! The subscription API under `/v1/webhooks`, as JSON.
//!
//! Who may call it: a tenant's admins manage their tenant's subscriptions,
//! operators (admins of the default tenant) anyone's; writers and readers
//! get 403. Another tenant's subscription answers 404, as if it did not
//! exist. Every change is written to the audit log. The secret is shown
//! only in the answer to the `POST` that created the subscription.

mod deliveries;
mod subscriptions;

pub use deliveries::{deliveries, replay, test};
pub use subscriptions::{create, delete, get, list, update};

use std::sync::Arc;

use serde::Serialize;

use super::{Subscription, WebhookError, Webhooks};
use crate::auth::Principal;
use crate::http::auth::ClientAddr;
use crate::http::error::ApiError;
use crate::http::AppState;

/// A subscription as listed (never the secret).
#[derive(Debug, Serialize)]
pub struct SubscriptionView {
    /// Public id.
    pub id: String,
    /// The owning tenant.
    pub owner: String,
    /// Delivery URL.
    pub url: String,
    /// Type patterns.
    pub types: Vec<String>,
    /// Pool filter.
    pub pool: Option<String>,
    /// Tenant filter (operators' subscriptions).
    pub tenant: Option<String>,
    /// Whether deliveries run.
    pub enabled: bool,
    /// Free text.
    pub description: String,
    /// Created, RFC 3339.
    pub created: String,
}

impl From<Subscription> for SubscriptionView {
    fn from(s: Subscription) -> SubscriptionView {
        SubscriptionView {
            id: s.id,
            owner: s.owner,
            url: s.url,
            types: s.types,
            pool: s.pool,
            tenant: s.tenant,
            enabled: s.enabled,
            description: s.description,
            created: augur_query::time::format_rfc3339_nano(s.created_ns),
        }
    }
}

/// The webhook service, or 404 when the server runs without (library tests).
fn hooks(state: &AppState) -> Result<&Arc<Webhooks>, ApiError> {
    state.webhooks.as_ref().ok_or_else(|| ApiError::NotFound("webhooks are not enabled".to_string()))
}

/// 403 unless the caller administers a tenant.
fn require_admin(principal: &Principal) -> Result<(), ApiError> {
    if principal.is_tenant_admin() {
        Ok(())
    } else {
        Err(ApiError::Forbidden(format!("{:?} user may not manage webhooks: it requires an admin", principal.name())))
    }
}

/// The subscription `id` if the caller may manage it; 404 otherwise.
fn owned(hooks: &Webhooks, principal: &Principal, id: &str) -> Result<Subscription, ApiError> {
    require_admin(principal)?;
    hooks
        .get(id)
        .filter(|s| principal.administers(&s.owner))
        .ok_or_else(|| ApiError::NotFound(format!("webhook subscription not found: {id}")))
}

/// A [`WebhookError`] as the API answers it.
fn webhook_error(err: WebhookError) -> ApiError {
    match err {
        WebhookError::Invalid(field) => ApiError::BadRequest(field.to_string()),
        WebhookError::NotFound(_) => ApiError::NotFound(err.to_string()),
        WebhookError::TooManySubscriptions { .. } => ApiError::TenantLimit(err.to_string()),
        WebhookError::ReservedKey(_) => ApiError::BadRequest(err.to_string()),
        WebhookError::Storage(e) => ApiError::Storage(e),
        WebhookError::Encode(_) | WebhookError::Corrupt(_) | WebhookError::Client(_) | WebhookError::Task(_) => {
            ApiError::Internal(err.to_string())
        }
    }
}

/// Writes one change to the audit log (when the server has accounts).
fn audit(state: &AppState, principal: &Principal, client: &ClientAddr, tenant: &str, action: &str, outcome: &str) {
    if let Some(auth) = &state.auth {
        auth.audit.record(principal.name(), tenant, &client.text(), action, outcome);
    }
}

/// The audit outcome of a result.
fn outcome<T>(result: &Result<T, WebhookError>) -> String {
    result.as_ref().map_or_else(|e| format!("failed: {e}"), |_| "ok".to_string())
}

/// A JSON object body, or 400 naming the field at fault.
fn parse_body<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    crate::http::body::json_object(body, "JSON body")
}

/// Runs blocking webhook work (fsync) off the async workers.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, WebhookError> + Send + 'static,
) -> Result<Result<T, WebhookError>, ApiError> {
    Ok(tokio::task::spawn_blocking(f).await?)
}
