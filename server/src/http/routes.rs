//! Every HTTP route of the server, in one place.
//!
//! Like InfluxDB 3's `routes.rs`: a route's path is written once, here, and
//! the router, the tests and the docs (docs/http-api.md) refer to these
//! constants, so a path cannot drift between them.

/// `POST`: InfluxDB 1.x line-protocol write.
pub const WRITE: &str = "/write";
/// `POST`: InfluxDB 2.x-compatible line-protocol write (`bucket=db/rp`).
pub const API_V2_WRITE: &str = "/api/v2/write";
/// `POST`: Prometheus remote_write 1.0 (`db=`, `rp=`; snappy protobuf body).
pub const REMOTE_WRITE: &str = "/api/v1/write";
/// `GET`, `POST`: InfluxQL (AQL) queries.
pub const QUERY: &str = "/query";
/// `GET`, `HEAD`: liveness probe, as InfluxDB's.
pub const PING: &str = "/ping";
/// `GET`: health check, as InfluxDB 1.8's.
pub const HEALTH: &str = "/health";
/// `GET`: the server's metrics in the Prometheus text format (operators).
pub const METRICS: &str = "/metrics";
/// `GET`: stream a database as line protocol.
pub const EXPORT: &str = "/api/v1/export";
/// `GET`: list damaged blocks and WAL records.
pub const VERIFY: &str = "/api/v1/verify";
/// `GET`, `POST`: tenants (accounts).
pub const TENANTS: &str = "/v1/tenants";
/// `GET`, `PUT`: one tenant.
pub const TENANT: &str = "/v1/tenants/{name}";
/// `GET`, `POST`: users.
pub const USERS: &str = "/v1/users";
/// `GET`, `POST`: API tokens.
pub const TOKENS: &str = "/v1/tokens";
/// `DELETE`: revoke one API token.
pub const TOKEN: &str = "/v1/tokens/{id}";
/// `GET`: the audit log.
pub const AUDIT: &str = "/v1/audit";
/// `GET`, `POST`: resource pools.
pub const POOLS: &str = "/v1/pools";
/// `GET`, `PUT`, `DELETE`: one pool.
pub const POOL: &str = "/v1/pools/{name}";
/// `POST`: a unit of a pool reports ready (`{"address": "host:port"}`).
pub const POOL_UNIT_READY: &str = "/v1/pools/{name}/units/{id}/ready";
/// `GET`: a pool's ready units as Prometheus HTTP service-discovery targets.
pub const POOL_TARGETS: &str = "/v1/pools/{name}/targets";
/// `GET`: a pool's capacity plan (`?horizon=30d`): daily peaks ahead, and when `max` is reached.
pub const POOL_PLAN: &str = "/v1/pools/{name}/plan";
/// `GET`, `POST`: per-account reservations in a pool.
pub const POOL_RESERVATIONS: &str = "/v1/pools/{name}/reservations";
/// `DELETE`: one account's reservation.
pub const POOL_RESERVATION: &str = "/v1/pools/{name}/reservations/{account}";
/// `GET`, `PUT`, `DELETE`: a tenant's capacity quota over all its pools.
pub const TENANT_POOL_QUOTA: &str = "/v1/tenants/{name}/pool-quota";
/// `GET`, `POST`: webhook subscriptions.
pub const WEBHOOKS: &str = "/v1/webhooks";
/// `GET`, `PUT`, `DELETE`: one webhook subscription.
pub const WEBHOOK: &str = "/v1/webhooks/{id}";
/// `GET`: a subscription's recent deliveries and dead letters.
pub const WEBHOOK_DELIVERIES: &str = "/v1/webhooks/{id}/deliveries";
/// `POST`: re-deliver a subscription's dead letters, or events from a sequence.
pub const WEBHOOK_REPLAY: &str = "/v1/webhooks/{id}/replay";
/// `POST`: send a subscription an `io.augur.webhook.test` event.
pub const WEBHOOK_TEST: &str = "/v1/webhooks/{id}/test";
/// `GET`: the dashboard's page (no credentials: it holds no data; docs/dashboard.md).
pub const DASHBOARD: &str = "/";
/// `GET`: one of the dashboard's embedded files (scripts, styles, uPlot).
pub const DASHBOARD_ASSET: &str = "/ui/{file}";
