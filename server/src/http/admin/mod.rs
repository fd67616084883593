//! The account API under `/v1`: tenants, users, tokens and the audit log,
//! as JSON.
//!
//! Why JSON next to InfluxQL's `CREATE USER`: InfluxQL has no tenants and
//! no tokens, and operators script these calls (curl, Terraform, CI) more
//! than they type them. Each change is written to the audit log. Who may
//! call what:
//! * tenants: operators create and change them; a tenant's admin may read its own;
//! * users: a tenant's admin creates users in its tenant, operators in any;
//! * tokens: anyone creates tokens for themselves; admins for their tenant's users;
//! * audit: a tenant's admin reads its tenant's events, operators all.

mod audit;
mod tenants;
mod tokens;
mod users;

pub use audit::list as audit;
pub use tenants::{create as create_tenant, get as get_tenant, list as list_tenants, update as update_tenant};
pub use tokens::{create as create_token, list as list_tokens, revoke as revoke_token};
pub use users::{create as create_user, list as list_users};

use std::sync::Arc;

use super::auth::ClientAddr;
use super::error::ApiError;
use super::AppState;
use crate::auth::{AccountError, Auth, Principal};

/// The accounts of the server, or 404 when it runs without (library tests).
fn auth(state: &AppState) -> Result<&Arc<Auth>, ApiError> {
    state.auth.as_ref().ok_or_else(|| ApiError::NotFound("accounts are not enabled".to_string()))
}

/// An [`AccountError`] as the API answers it.
fn account_error(err: AccountError) -> ApiError {
    match err {
        AccountError::UserNotFound | AccountError::TenantNotFound(_) | AccountError::TokenNotFound => {
            ApiError::NotFound(err.to_string())
        }
        AccountError::UserExists | AccountError::TenantExists(_) => ApiError::Conflict(err.to_string()),
        AccountError::InvalidName { .. } | AccountError::WeakPassword | AccountError::LastOperator => {
            ApiError::BadRequest(err.to_string())
        }
        AccountError::Hash(_) | AccountError::Storage(_) | AccountError::Corrupt { .. } => {
            ApiError::Internal(err.to_string())
        }
    }
}

/// Writes one change to the audit log.
fn audit_change(auth: &Auth, principal: &Principal, client: &ClientAddr, tenant: &str, action: &str, outcome: &str) {
    auth.audit.record(principal.name(), tenant, &client.text(), action, outcome);
}

/// A JSON object body, or 400 naming the field at fault.
fn parse_body<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    crate::http::body::json_object(body, "JSON body")
}
