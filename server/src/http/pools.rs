//! `/v1/pools`: define pools, watch them decide, report unit readiness,
//! and hand the load balancer its targets.
//!
//! Who may do what: everyone of a pool's tenant may read it (and its
//! targets, for service discovery); its tenant's admins (and operators)
//! create, change and delete pools; admins and writers report units ready
//! (the automation that provisions units holds a writer token). A pool's
//! demand queries may only read databases of the pool's tenant that the
//! caller may read. Operators reach other tenants with `?tenant=`; anyone
//! else naming another tenant gets 403, and another tenant's pool answers
//! 404. Pools with an `exec` provider or a HAProxy target act on the
//! server's machine (commands, a local socket), so only operators may
//! define them. Every change is audited.

use std::collections::BTreeMap;
use std::sync::Arc;

use augur_query::privileges::Access;
use augur_query::time::format_rfc3339_nano;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};

use super::auth::ClientAddr;
use super::error::ApiError;
use super::AppState;
use crate::auth::model::Role;
use crate::auth::Principal;
use crate::clock::now_ns;
use crate::pools::allocator::Decision;
use crate::pools::demand::{DemandQuery, DemandReading};
use crate::pools::exec;
use crate::pools::manager::{PoolError, PoolManager, PoolRecord, QuotaView};
use crate::pools::mix::capacity;
use crate::pools::quota::TenantQuota;
use crate::pools::reservations::{Reservation, ReservationStatus, ReservedDemand};
use crate::pools::spec::{compact_duration, DemandSource, Dimension, PoolSpec, Provider, Safety};
use crate::pools::units::{Unit, UnitState};

/// `?tenant=`: the tenant addressed (operators only; default: the caller's).
#[derive(Debug, Default, Deserialize)]
pub struct TenantParam {
    /// The tenant.
    #[serde(default)]
    pub tenant: Option<String>,
}

/// The pool manager, or 404 when the server runs without one.
fn manager(state: &AppState) -> Result<&Arc<PoolManager>, ApiError> {
    state.pools.as_ref().ok_or_else(|| ApiError::NotFound("pools are not enabled".to_string()))
}

/// The tenant a request addresses.
fn tenant_of(principal: &Principal, asked: Option<&str>) -> Result<String, ApiError> {
    match asked {
        None | Some("") => Ok(principal.tenant.clone()),
        Some(t) if t == principal.tenant || principal.is_operator() => Ok(t.to_string()),
        Some(t) => Err(ApiError::Forbidden(format!("not authorized to use pools of tenant {t}"))),
    }
}

/// A [`PoolError`] as the API answers it.
fn pool_error(err: PoolError) -> ApiError {
    match err {
        PoolError::NotFound(_)
        | PoolError::UnitNotFound(_)
        | PoolError::ReservationNotFound(_)
        | PoolError::QuotaNotFound(_) => ApiError::NotFound(err.to_string()),
        PoolError::TooManyReservations(_) => ApiError::TenantLimit(err.to_string()),
        PoolError::Exists(_) | PoolError::Transition(_) => ApiError::Conflict(err.to_string()),
        PoolError::Invalid(_) | PoolError::InvalidQuota(_) | PoolError::InvalidAddress(_) => {
            ApiError::BadRequest(err.to_string())
        }
        PoolError::TooMany { .. } => ApiError::TenantLimit(err.to_string()),
        PoolError::Storage(_) | PoolError::Corrupt { .. } => ApiError::Internal(err.to_string()),
    }
}

/// Writes one change to the audit log (when accounts are on).
fn audit(state: &AppState, principal: &Principal, client: &ClientAddr, tenant: &str, action: &str, outcome: &str) {
    if let Some(auth) = &state.auth {
        auth.audit.record(principal.name(), tenant, &client.text(), action, outcome);
    }
}

/// Refuses a change by someone who does not administer `tenant`.
fn require_admin(principal: &Principal, tenant: &str) -> Result<(), ApiError> {
    if principal.administers(tenant) {
        Ok(())
    } else {
        Err(ApiError::Forbidden(format!("not authorized to change pools of tenant {tenant}")))
    }
}

/// Parses a definition sent by `principal` for `tenant`, checking that its
/// demand queries read only databases of that tenant the caller may read.
fn parse_spec(state: &AppState, principal: &Principal, tenant: &str, body: &[u8]) -> Result<PoolSpec, ApiError> {
    let mut spec = PoolSpec::from_json(body).map_err(|e| ApiError::BadRequest(e.to_string()))?;
    if spec.tenant.is_empty() {
        spec.tenant = tenant.to_string();
    } else if spec.tenant != tenant {
        let _ = tenant_of(principal, Some(&spec.tenant))?;
    }
    spec.validate().map_err(|e| ApiError::BadRequest(e.to_string()))?;
    // Commands and load-balancer sockets act on the server's machine:
    // operators only, whoever owns the pool.
    if !principal.is_operator() {
        if matches!(spec.provider, Provider::Exec { .. }) {
            return Err(ApiError::Forbidden("provider: only operators may define exec providers".into()));
        }
        if spec.haproxy.is_some() {
            return Err(ApiError::Forbidden("haproxy: only operators may define HAProxy targets".into()));
        }
    }
    let mut sources: Vec<(String, &DemandSource)> =
        spec.demand.iter().map(|(d, source)| (format!("demand.{d}"), source)).collect();
    if let Some(latency) = &spec.latency {
        sources.push(("latency".to_string(), latency));
    }
    check_sources(state, principal, &spec.tenant, sources)?;
    Ok(spec)
}

/// Refuses demand queries that read databases outside `tenant` or that
/// the caller may not read.
/// Each source comes with the field it was given in (`demand.cpu_cores`).
fn check_sources(
    state: &AppState,
    principal: &Principal,
    tenant: &str,
    sources: Vec<(String, &DemandSource)>,
) -> Result<(), ApiError> {
    let Some(auth) = &state.auth else { return Ok(()) };
    for (field, source) in sources {
        let query = DemandQuery::parse(&source.query).map_err(|e| ApiError::BadRequest(e.to_string()))?;
        for db in query.databases(&source.database) {
            let owner = auth.accounts.owner(&db);
            if owner.as_deref() != Some(tenant) || !principal.may(Access::Read, &db, owner.as_deref()) {
                return Err(ApiError::Forbidden(format!(
                    "{field}.query: not authorized to read database {db} for tenant {tenant}"
                )));
            }
        }
    }
    Ok(())
}

/// How a pool is shown: its definition, its units, the forecast used and
/// the reasons for the last and the next action.
#[derive(Debug, Serialize)]
pub struct PoolView {
    /// The pool's name.
    pub name: String,
    /// Its tenant.
    pub tenant: String,
    /// The definition.
    pub spec: PoolSpec,
    /// Units per state.
    pub units_by_state: BTreeMap<&'static str, usize>,
    /// Capacity of the active (requested, provisioning, ready) units.
    pub capacity: BTreeMap<Dimension, f64>,
    /// Capacity of the ready units.
    pub ready_capacity: BTreeMap<Dimension, f64>,
    /// The demand readings of the last cycle: usage, forecast, errors.
    pub demand: BTreeMap<Dimension, DemandReading>,
    /// The quantile and margin applied.
    pub safety: Safety,
    /// The lead time the forecast looks ahead, as written.
    pub lead_time: String,
    /// The last decision, with its reason.
    pub last_decision: Option<Decision>,
    /// When the next decision is due (RFC 3339).
    pub next_decision_at: String,
    /// What the next decision will look at.
    pub next_action: String,
    /// A forecast is failing and the reactive rule decides.
    pub forecast_fallback: bool,
    /// Per-account reservations and what each holds.
    pub reservations: Vec<ReservationView>,
    /// The units (released ones: the most recent only).
    pub units: Vec<Unit>,
}

impl PoolView {
    fn of(record: PoolRecord) -> PoolView {
        let spec = &record.spec;
        let counts = |state: fn(UnitState) -> bool| -> Vec<u32> {
            spec.shapes
                .iter()
                .map(|s| record.units.iter().filter(|u| u.shape == s.name && state(u.state)).count() as u32)
                .collect()
        };
        let active = counts(UnitState::is_active);
        let ready = counts(|s| s == UnitState::Ready);
        let lead = compact_duration(spec.lead_time);
        let next_action = format!(
            "at {}: read demand, forecast it {} ahead at {}, add {}% and scale to cover it",
            format_rfc3339_nano(record.next_run),
            lead,
            spec.safety.quantile.map_or("the mean".to_string(), |q| format!("p{q}")),
            spec.safety.margin_pct,
        );
        PoolView {
            name: spec.name.clone(),
            tenant: spec.tenant.clone(),
            units_by_state: record.count_by_state(),
            capacity: capacity(&spec.shapes, &active, &spec.dimensions),
            ready_capacity: capacity(&spec.shapes, &ready, &spec.dimensions),
            demand: record.readings.clone(),
            safety: spec.safety.clone(),
            lead_time: compact_duration(spec.lead_time),
            last_decision: record.last_decision.clone(),
            next_decision_at: format_rfc3339_nano(record.next_run),
            next_action,
            forecast_fallback: record.in_fallback,
            reservations: ReservationView::all(&record),
            spec: record.spec.clone(),
            units: record.units,
        }
    }
}

/// `GET /v1/pools`: the tenant's pools.
pub async fn list(
    State(state): State<Arc<AppState>>,
    Extension(principal): Extension<Principal>,
    Query(param): Query<TenantParam>,
) -> Result<Json<Vec<PoolView>>, ApiError> {
    let manager = manager(&state)?;
    let tenant = tenant_of(&principal, param.tenant.as_deref())?;
    Ok(Json(manager.list(Some(&tenant)).into_iter().map(PoolView::of).collect()))
}

/// `POST /v1/pools`: 201 with the new pool.
pub async fn create(
    State(state): State<Arc<AppState>>,
    Extension(principal): Extension<Principal>,
    Extension(client): Extension<ClientAddr>,
    Query(param): Query<TenantParam>,
    body: Bytes,
) -> Result<(StatusCode, Json<PoolView>), ApiError> {
    let manager = manager(&state)?;
    let tenant = tenant_of(&principal, param.tenant.as_deref())?;
    let spec = parse_spec(&state, &principal, &tenant, &body)?;
    require_admin(&principal, &spec.tenant)?;
    let (pool_tenant, name) = (spec.tenant.clone(), spec.name.clone());
    let result = manager.create(spec, now_ns());
    let outcome = result.as_ref().map_or_else(|e| format!("failed: {e}"), |_| "ok".to_string());
    audit(&state, &principal, &client, &pool_tenant, &format!("create pool {name}"), &outcome);
    Ok((StatusCode::CREATED, Json(PoolView::of(result.map_err(pool_error)?))))
}

/// `GET /v1/pools/{name}`: the pool and why it has what it has.
pub async fn get(
    State(state): State<Arc<AppState>>,
    Extension(principal): Extension<Principal>,
    Path(name): Path<String>,
    Query(param): Query<TenantParam>,
) -> Result<Json<PoolView>, ApiError> {
    let record = addressed_pool(&state, &principal, &name, param.tenant.as_deref())?;
    Ok(Json(PoolView::of(record)))
}

fn not_found(name: &str) -> ApiError {
    ApiError::NotFound(format!("pool not found: {name}"))
}

/// The manager and the tenant a request on pool `name` addresses; naming
/// another tenant without being an operator looks like a missing pool.
fn addressed<'a>(
    state: &'a AppState,
    principal: &Principal,
    name: &str,
    asked: Option<&str>,
) -> Result<(&'a Arc<PoolManager>, String), ApiError> {
    let manager = manager(state)?;
    let tenant = tenant_of(principal, asked).map_err(|_| not_found(name))?;
    Ok((manager, tenant))
}

/// The pool `name` a request addresses, or 404.
fn addressed_pool(
    state: &AppState,
    principal: &Principal,
    name: &str,
    asked: Option<&str>,
) -> Result<PoolRecord, ApiError> {
    let (manager, tenant) = addressed(state, principal, name, asked)?;
    manager.get(&tenant, name).ok_or_else(|| not_found(name))
}

/// `PUT /v1/pools/{name}`: replaces the definition (units are kept).
pub async fn replace(
    State(state): State<Arc<AppState>>,
    Extension(principal): Extension<Principal>,
    Extension(client): Extension<ClientAddr>,
    Path(name): Path<String>,
    Query(param): Query<TenantParam>,
    body: Bytes,
) -> Result<Json<PoolView>, ApiError> {
    let (manager, tenant) = addressed(&state, &principal, &name, param.tenant.as_deref())?;
    require_admin(&principal, &tenant)?;
    if manager.get(&tenant, &name).is_none() {
        return Err(not_found(&name));
    }
    let mut spec = parse_spec(&state, &principal, &tenant, &body)?;
    if spec.name != name {
        return Err(ApiError::BadRequest(format!("name: the body names {:?}, the path {name:?}", spec.name)));
    }
    spec.tenant = tenant.clone();
    let result = manager.replace(spec, now_ns());
    let outcome = result.as_ref().map_or_else(|e| format!("failed: {e}"), |_| "ok".to_string());
    audit(&state, &principal, &client, &tenant, &format!("change pool {name}"), &outcome);
    Ok(Json(PoolView::of(result.map_err(pool_error)?)))
}

/// `DELETE /v1/pools/{name}`: releases its units and forgets it.
pub async fn delete(
    State(state): State<Arc<AppState>>,
    Extension(principal): Extension<Principal>,
    Extension(client): Extension<ClientAddr>,
    Path(name): Path<String>,
    Query(param): Query<TenantParam>,
) -> Result<StatusCode, ApiError> {
    let (manager, tenant) = addressed(&state, &principal, &name, param.tenant.as_deref())?;
    require_admin(&principal, &tenant)?;
    let timeout = manager.get(&tenant, &name).map(|r| r.spec.unit_timeout).unwrap_or_default();
    let result = manager.delete(&tenant, &name, now_ns());
    let outcome = result.as_ref().map_or_else(|e| format!("failed: {e}"), |_| "ok".to_string());
    audit(&state, &principal, &client, &tenant, &format!("delete pool {name}"), &outcome);
    for job in result.map_err(pool_error)? {
        tokio::spawn(exec::run(Arc::clone(manager), job, std::time::Duration::from_nanos(timeout.unsigned_abs())));
    }
    Ok(StatusCode::NO_CONTENT)
}

/// The body of a readiness report.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReadyBody {
    /// Where the unit serves: `host:port`.
    pub address: String,
}

/// `POST /v1/pools/{name}/units/{id}/ready`: the unit serves at `address`.
pub async fn unit_ready(
    State(state): State<Arc<AppState>>,
    Extension(principal): Extension<Principal>,
    Path((name, id)): Path<(String, String)>,
    Query(param): Query<TenantParam>,
    body: Bytes,
) -> Result<Json<Unit>, ApiError> {
    let (manager, tenant) = addressed(&state, &principal, &name, param.tenant.as_deref())?;
    let allowed = principal.administers(&tenant) || (principal.tenant == tenant && principal.role == Role::Writer);
    if !allowed {
        return Err(ApiError::Forbidden(format!("not authorized to report units of tenant {tenant}")));
    }
    let body: ReadyBody = parse_body(&body, "JSON body")?;
    let unit = manager.unit_ready(&tenant, &name, &id, &body.address, now_ns()).map_err(pool_error)?;
    Ok(Json(unit))
}

/// One target group of Prometheus HTTP service discovery.
#[derive(Debug, Serialize)]
pub struct TargetGroup {
    /// `host:port` of each ready unit.
    pub targets: Vec<String>,
    /// Labels of the group.
    pub labels: BTreeMap<String, String>,
}

/// `GET /v1/pools/{name}/targets`: the ready units, in Prometheus HTTP
/// service-discovery JSON (one group per shape).
pub async fn targets(
    State(state): State<Arc<AppState>>,
    Extension(principal): Extension<Principal>,
    Path(name): Path<String>,
    Query(param): Query<TenantParam>,
) -> Result<Json<Vec<TargetGroup>>, ApiError> {
    let record = addressed_pool(&state, &principal, &name, param.tenant.as_deref())?;
    let mut groups = Vec::new();
    for shape in &record.spec.shapes {
        let targets: Vec<String> = record
            .units
            .iter()
            .filter(|u| u.shape == shape.name && u.state == UnitState::Ready)
            .filter_map(|u| u.address.clone())
            .collect();
        if targets.is_empty() {
            continue;
        }
        let labels = [
            ("augur_tenant", record.spec.tenant.as_str()),
            ("augur_pool", name.as_str()),
            ("augur_shape", shape.name.as_str()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        groups.push(TargetGroup { targets, labels });
    }
    Ok(Json(groups))
}

/// `?horizon=30d&history=28d` of a capacity plan.
#[derive(Debug, Default, Deserialize)]
pub struct PlanParams {
    /// The tenant (operators only).
    #[serde(default)]
    pub tenant: Option<String>,
    /// How far ahead, in whole days (default `30d`).
    #[serde(default)]
    pub horizon: Option<String>,
    /// How much history to learn from (default `90d`).
    #[serde(default)]
    pub history: Option<String>,
}

/// Parses a duration parameter.
fn duration_param(name: &str, value: Option<&str>, default: i64) -> Result<i64, ApiError> {
    match value {
        None => Ok(default),
        Some(text) => augur_query::duration::parse_duration(text.trim())
            .ok()
            .filter(|ns| *ns > 0)
            .ok_or_else(|| ApiError::BadRequest(format!("invalid {name}: {text:?} (e.g. 30d)"))),
    }
}

/// `GET /v1/pools/{name}/plan`: forecast daily peaks over the horizon and
/// the day `max` is reached.
pub async fn plan(
    State(state): State<Arc<AppState>>,
    Extension(principal): Extension<Principal>,
    Path(name): Path<String>,
    Query(params): Query<PlanParams>,
) -> Result<Json<crate::pools::plan::Plan>, ApiError> {
    use crate::pools::plan::DAY;
    let record = addressed_pool(&state, &principal, &name, params.tenant.as_deref())?;
    let horizon = duration_param("horizon", params.horizon.as_deref(), 30 * DAY)?;
    let history = duration_param("history", params.history.as_deref(), 90 * DAY)?;
    let horizon_days = (horizon + DAY - 1) / DAY;
    let store = state.store.clone();
    tokio::task::spawn_blocking(move || crate::pools::plan::plan(&store, &record.spec, horizon_days, history, now_ns()))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?
        .map(Json)
        .map_err(|e| ApiError::BadRequest(e.to_string()))
}

/// A reservation and what it holds.
#[derive(Debug, Serialize)]
pub struct ReservationView {
    /// The reservation as defined.
    #[serde(flatten)]
    pub reservation: Reservation,
    /// What it held after the last cycle (absent before its first cycle).
    pub status: Option<ReservationStatus>,
}

impl ReservationView {
    fn all(record: &PoolRecord) -> Vec<ReservationView> {
        record
            .reservations
            .values()
            .map(|r| ReservationView {
                reservation: r.clone(),
                status: record.reservation_status.get(&r.account).cloned(),
            })
            .collect()
    }
}

/// `GET /v1/pools/{name}/reservations`: the reservations and their shares.
pub async fn list_reservations(
    State(state): State<Arc<AppState>>,
    Extension(principal): Extension<Principal>,
    Path(name): Path<String>,
    Query(param): Query<TenantParam>,
) -> Result<Json<Vec<ReservationView>>, ApiError> {
    let record = addressed_pool(&state, &principal, &name, param.tenant.as_deref())?;
    Ok(Json(ReservationView::all(&record)))
}

/// `POST /v1/pools/{name}/reservations`: adds or replaces an account's reservation.
pub async fn reserve(
    State(state): State<Arc<AppState>>,
    Extension(principal): Extension<Principal>,
    Extension(client): Extension<ClientAddr>,
    Path(name): Path<String>,
    Query(param): Query<TenantParam>,
    body: Bytes,
) -> Result<(StatusCode, Json<Vec<ReservationView>>), ApiError> {
    let (manager, tenant) = addressed(&state, &principal, &name, param.tenant.as_deref())?;
    require_admin(&principal, &tenant)?;
    if manager.get(&tenant, &name).is_none() {
        return Err(not_found(&name));
    }
    let reservation: Reservation = parse_body(&body, "reservation")?;
    let sources: Vec<(String, &DemandSource)> = reservation
        .demand
        .iter()
        .filter_map(|(d, r)| match r {
            ReservedDemand::Forecast(source) => Some((format!("demand.{d}"), source)),
            ReservedDemand::Fixed { .. } => None,
        })
        .collect();
    check_sources(&state, &principal, &tenant, sources)?;
    let account = reservation.account.clone();
    let result = manager.reserve(&tenant, &name, reservation, now_ns());
    let outcome = result.as_ref().map_or_else(|e| format!("failed: {e}"), |_| "ok".to_string());
    audit(&state, &principal, &client, &tenant, &format!("reserve {account} in pool {name}"), &outcome);
    let record = result.map_err(pool_error)?;
    Ok((StatusCode::CREATED, Json(ReservationView::all(&record))))
}

/// `DELETE /v1/pools/{name}/reservations/{account}`.
pub async fn unreserve(
    State(state): State<Arc<AppState>>,
    Extension(principal): Extension<Principal>,
    Extension(client): Extension<ClientAddr>,
    Path((name, account)): Path<(String, String)>,
    Query(param): Query<TenantParam>,
) -> Result<StatusCode, ApiError> {
    let (manager, tenant) = addressed(&state, &principal, &name, param.tenant.as_deref())?;
    require_admin(&principal, &tenant)?;
    let result = manager.unreserve(&tenant, &name, &account, now_ns());
    let outcome = result.as_ref().map_or_else(|e| format!("failed: {e}"), |_| "ok".to_string());
    audit(&state, &principal, &client, &tenant, &format!("release reservation {account} in pool {name}"), &outcome);
    result.map_err(pool_error)?;
    Ok(StatusCode::NO_CONTENT)
}

/// A JSON body as `T`, or 400 naming the field at fault (`invalid quota:
/// limits.cpu_cores: ...`).
fn parse_body<T: serde::de::DeserializeOwned>(body: &[u8], what: &str) -> Result<T, ApiError> {
    super::body::json_object(body, what)
}

/// Refuses a change to `tenant`'s quota by anyone but an operator (a
/// tenant does not set its own budget); `verb` says what was refused.
fn quota_change(state: &AppState, principal: &Principal, tenant: &str, verb: &str) -> Result<(), ApiError> {
    quota_tenant(state, principal, tenant)?;
    if principal.is_operator() {
        Ok(())
    } else {
        Err(ApiError::Forbidden(format!("only operators may {verb} a tenant's pool quota")))
    }
}

/// The tenant a quota request names: members read their own tenant's
/// quota, operators any; a tenant the accounts do not know is 404.
fn quota_tenant(state: &AppState, principal: &Principal, tenant: &str) -> Result<(), ApiError> {
    tenant_of(principal, Some(tenant)).map_err(|_| ApiError::NotFound(format!("tenant not found: {tenant}")))?;
    if let Some(auth) = &state.auth {
        if auth.accounts.tenant(tenant).is_none() {
            return Err(ApiError::NotFound(format!("tenant not found: {tenant}")));
        }
    }
    Ok(())
}

/// `GET /v1/tenants/{name}/pool-quota`: the tenant's capacity quota and
/// what each of its pools wants, holds and may hold under it.
pub async fn get_quota(
    State(state): State<Arc<AppState>>,
    Extension(principal): Extension<Principal>,
    Path(tenant): Path<String>,
) -> Result<Json<QuotaView>, ApiError> {
    let manager = manager(&state)?;
    quota_tenant(&state, &principal, &tenant)?;
    manager.quota(&tenant).map(Json).ok_or_else(|| pool_error(PoolError::QuotaNotFound(tenant)))
}

/// `PUT /v1/tenants/{name}/pool-quota`: sets the tenant's capacity quota
/// (operators only: a tenant does not set its own budget).
pub async fn put_quota(
    State(state): State<Arc<AppState>>,
    Extension(principal): Extension<Principal>,
    Extension(client): Extension<ClientAddr>,
    Path(tenant): Path<String>,
    body: Bytes,
) -> Result<Json<QuotaView>, ApiError> {
    let manager = manager(&state)?;
    quota_change(&state, &principal, &tenant, "set")?;
    let quota: TenantQuota = parse_body(&body, "quota")?;
    let result = manager.set_quota(&tenant, quota, now_ns());
    let outcome = result.as_ref().map_or_else(|e| format!("failed: {e}"), |_| "ok".to_string());
    audit(&state, &principal, &client, &tenant, "set pool quota", &outcome);
    Ok(Json(result.map_err(pool_error)?))
}

/// `DELETE /v1/tenants/{name}/pool-quota`: lifts the tenant's capacity quota.
pub async fn delete_quota(
    State(state): State<Arc<AppState>>,
    Extension(principal): Extension<Principal>,
    Extension(client): Extension<ClientAddr>,
    Path(tenant): Path<String>,
) -> Result<StatusCode, ApiError> {
    let manager = manager(&state)?;
    quota_change(&state, &principal, &tenant, "lift")?;
    let result = manager.delete_quota(&tenant);
    let outcome = result.as_ref().map_or_else(|e| format!("failed: {e}"), |_| "ok".to_string());
    audit(&state, &principal, &client, &tenant, "lift pool quota", &outcome);
    result.map_err(pool_error)?;
    Ok(StatusCode::NO_CONTENT)
}
