//! The HTTP API: InfluxDB 1.x-compatible endpoints on axum.
//!
//! [`router`] assembles the routes (paths in [`routes`]) with the layers
//! every response needs: request tracing, the `X-Influxdb-*` version headers,
//! and JSON errors for unknown routes and methods. Routes come in two
//! groups: probes (`/ping`, `/health`) and the dashboard's static files
//! ([`dashboard`]: they hold no data), which stay open, and everything
//! else, which passes the authentication layer ([`auth::authenticate`])
//! and then authorizes per database in its handler.

pub mod admin;
pub mod auth;
pub mod body;
pub mod dashboard;
pub mod error;
pub mod export;
pub mod headers;
pub mod metrics;
pub mod params;
pub mod ping;
pub mod pools;
pub mod query;
pub mod query_format;
pub mod routes;
pub mod running;
pub mod verify;
pub mod write;

use std::sync::Arc;

use augur_engine::storage::Store;
use axum::routing::{delete, get, post};
use axum::Router;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tower_http::trace::TraceLayer;

use crate::auth::Auth;
use crate::config::{HttpConfig, QueryConfig};
use crate::monitor::{Metrics, Monitor};
use crate::webhooks::api as hooks;
use crate::webhooks::Webhooks;
use error::ApiError;

/// What every handler shares: the store and the request limits.
pub struct AppState {
    /// The store (cheap to clone; its methods block).
    pub store: Store,
    /// Limits from `[http]`.
    pub limits: HttpConfig,
    /// One permit per write allowed in flight.
    write_slots: Arc<Semaphore>,
    /// Limits from `[query]`.
    pub query: QueryConfig,
    /// Accounts, authentication and the audit log (`None`: no accounts;
    /// every request is trusted — library tests only).
    pub auth: Option<Arc<Auth>>,
    /// The pool manager (`None`: no pools — library tests).
    pub pools: Option<Arc<crate::pools::manager::PoolManager>>,
    /// The webhook outbox and subscriptions (`None`: `/v1/webhooks` answers
    /// 404 — library tests).
    pub webhooks: Option<Arc<Webhooks>>,
    /// The instruments handlers count with (a private set in library tests).
    pub metrics: Arc<Metrics>,
    /// Reads everything for `GET /metrics` (`None`: only [`AppState::metrics`]
    /// is exposed — library tests).
    pub monitor: Option<Monitor>,
    /// The `/query` requests in flight (`SHOW QUERIES`, `KILL QUERY`).
    pub running: Arc<running::QueryRegistry>,
}

impl AppState {
    /// State for a server with these limits.
    pub fn new(store: Store, limits: &HttpConfig) -> AppState {
        AppState {
            store,
            limits: limits.clone(),
            write_slots: Arc::new(Semaphore::new(limits.max_concurrent_writes)),
            query: QueryConfig::default(),
            auth: None,
            pools: None,
            webhooks: None,
            metrics: Arc::new(Metrics::new()),
            monitor: None,
            running: Arc::default(),
        }
    }

    /// The same state with these query limits.
    pub fn with_query(mut self, query: &QueryConfig) -> AppState {
        self.query = query.clone();
        self
    }

    /// The same state with accounts.
    pub fn with_auth(mut self, auth: Arc<Auth>) -> AppState {
        self.auth = Some(auth);
        self
    }

    /// The same state with a pool manager.
    pub fn with_pools(mut self, pools: Arc<crate::pools::manager::PoolManager>) -> AppState {
        self.pools = Some(pools);
        self
    }

    /// The same state with webhooks.
    pub fn with_webhooks(mut self, webhooks: Arc<Webhooks>) -> AppState {
        self.webhooks = Some(webhooks);
        self
    }

    /// The same state counting into the monitor's instruments.
    pub fn with_monitor(mut self, monitor: Monitor) -> AppState {
        self.metrics = Arc::clone(&monitor.metrics);
        self.monitor = Some(monitor);
        self
    }

    /// Takes a write slot, or fails with 429 when all are taken (clients
    /// retry after `Retry-After`; queueing would only grow memory).
    pub fn try_write_slot(&self) -> Result<OwnedSemaphorePermit, ApiError> {
        self.write_slots.clone().try_acquire_owned().map_err(|_| ApiError::TooManyWrites)
    }
}

/// The complete router.
pub fn router(state: Arc<AppState>) -> Router {
    let counted = || axum::middleware::from_fn_with_state(state.clone(), metrics::count_requests);
    let probes = Router::new()
        .route(routes::PING, get(ping::ping))
        .route(routes::HEALTH, get(ping::health))
        .route(routes::DASHBOARD, get(dashboard::index))
        .route(routes::DASHBOARD_ASSET, get(dashboard::asset))
        .route_layer(counted());
    let data = Router::new()
        .route(routes::WRITE, post(write::v1))
        .route(routes::API_V2_WRITE, post(write::v2))
        .route(routes::REMOTE_WRITE, post(write::remote_write))
        .route(routes::QUERY, get(query::handle).post(query::handle))
        .route(routes::EXPORT, get(export::handle))
        .route(routes::METRICS, get(metrics::handle))
        .route(routes::VERIFY, get(verify::handle))
        .route(routes::TENANTS, get(admin::list_tenants).post(admin::create_tenant))
        .route(routes::TENANT, get(admin::get_tenant).put(admin::update_tenant))
        .route(routes::USERS, get(admin::list_users).post(admin::create_user))
        .route(routes::TOKENS, get(admin::list_tokens).post(admin::create_token))
        .route(routes::TOKEN, delete(admin::revoke_token))
        .route(routes::AUDIT, get(admin::audit))
        .route(routes::POOLS, get(pools::list).post(pools::create))
        .route(routes::POOL, get(pools::get).put(pools::replace).delete(pools::delete))
        .route(routes::POOL_UNIT_READY, post(pools::unit_ready))
        .route(routes::POOL_TARGETS, get(pools::targets))
        .route(routes::POOL_PLAN, get(pools::plan))
        .route(routes::POOL_RESERVATIONS, get(pools::list_reservations).post(pools::reserve))
        .route(routes::POOL_RESERVATION, delete(pools::unreserve))
        .route(routes::TENANT_POOL_QUOTA, get(pools::get_quota).put(pools::put_quota).delete(pools::delete_quota))
        .route(routes::WEBHOOKS, get(hooks::list).post(hooks::create))
        .route(routes::WEBHOOK, get(hooks::get).put(hooks::update).delete(hooks::delete))
        .route(routes::WEBHOOK_DELIVERIES, get(hooks::deliveries))
        .route(routes::WEBHOOK_REPLAY, post(hooks::replay))
        .route(routes::WEBHOOK_TEST, post(hooks::test))
        .route_layer(axum::middleware::from_fn_with_state(state.clone(), auth::authenticate))
        .route_layer(counted());
    Router::new()
        .merge(probes)
        .merge(data)
        .fallback(|| async { ApiError::RouteNotFound })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .with_state(state)
        .layer(axum::middleware::map_response(error::json_rejections))
        .layer(axum::middleware::map_response(headers::add_version_headers))
        .layer(TraceLayer::new_for_http())
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(handler_panicked))
}

/// The answer when a handler panics: a `500` with a JSON error, and the
/// panic in the log. Why: a panic is a bug, but the client deserves an
/// answer rather than a dropped connection, and the operator a log line
/// that names it (the connection's other requests are unaffected either
/// way: each request runs in its own task).
fn handler_panicked(panic: Box<dyn std::any::Any + Send + 'static>) -> axum::response::Response {
    let message = panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or("(no message)");
    tracing::error!(panic = message, "a request handler panicked");
    axum::response::IntoResponse::into_response(ApiError::Internal("the request handler failed".into()))
}

#[cfg(test)]
mod tests;
