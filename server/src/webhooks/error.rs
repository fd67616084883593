//! Why a webhook operation failed.

use augur_engine::storage::StorageError;

use super::subscription::InvalidField;

/// Why a webhook operation failed.
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    /// The store failed (nothing was written).
    #[error("webhook storage: {0}")]
    Storage(#[from] StorageError),
    /// A record could not be encoded.
    #[error("cannot encode a webhook record: {0}")]
    Encode(String),
    /// A stored record does not decode.
    #[error("corrupt webhook record {0}")]
    Corrupt(String),
    /// A caller's record key is under `webhook/`, which this module owns.
    #[error("record key {0:?} is reserved for webhooks")]
    ReservedKey(String),
    /// A subscription field is invalid (400, naming the field).
    #[error(transparent)]
    Invalid(#[from] InvalidField),
    /// No such subscription (or not the caller's).
    #[error("webhook subscription not found: {0}")]
    NotFound(String),
    /// The tenant already has as many subscriptions as allowed.
    #[error("tenant {tenant:?} already has {limit} webhook subscriptions (webhooks.max_subscriptions_per_tenant)")]
    TooManySubscriptions {
        /// The tenant.
        tenant: String,
        /// The limit.
        limit: usize,
    },
    /// The HTTP client could not be built.
    #[error("cannot build the webhook HTTP client: {0}")]
    Client(String),
    /// A background task failed.
    #[error("webhook task failed: {0}")]
    Task(String),
}
