//! `POST /write` (InfluxDB 1.x) and `POST /api/v2/write` (2.x).
//!
//! Both endpoints share one pipeline and differ only in how they name the
//! target (`db`/`rp` versus `bucket=db/rp`), which precisions they accept,
//! and how errors are shaped. The handler takes a write slot (429 when
//! `max_concurrent_writes` are in flight), reads the body within
//! `max_body_size`, and hands the rest — decompress, parse, store — to
//! [`ingest`] on the blocking pool, because it is CPU work and fsyncs.
//!
//! Authentication happened in the layer before (see [`super::auth`]); the
//! handler only checks that the caller may write to the target database.

mod ingest;

use std::sync::Arc;

use augur_engine::model::Precision;
use augur_query::privileges::Access;
use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::Extension;

use super::body;
use super::error::{ApiError, V2Error};
use super::params::Params;
use super::AppState;
use crate::auth::model::Tenant;
use crate::auth::Principal;
use crate::clock::now_ns;
use ingest::{Admit, Ingest, Target, WritePolicy};

/// Precisions `/write` accepts, for the error message.
const V1_PRECISIONS: &str = "use n, ns, u, us, ms, s, m or h";
/// Precisions `/api/v2/write` accepts, for the error message.
const V2_PRECISIONS: &str = "use ns, us, ms or s";

/// `POST /write?db=&rp=&precision=`: 204 when every line was stored.
pub async fn v1(
    State(state): State<Arc<AppState>>,
    Extension(principal): Extension<Principal>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Result<StatusCode, ApiError> {
    let params = Params::from_query(query.as_deref());
    let db = params.non_empty("db").ok_or(ApiError::DatabaseRequired)?;
    let precision = parse_precision(params.get("precision").unwrap_or(""), false)?;
    let account_tags = params.flag("account_tags");
    let target = Target { db: db.to_string(), rp: params.non_empty("rp").map(str::to_string), precision, account_tags };
    write(&state, &principal, target, headers, body).await
}

/// `POST /api/v2/write?bucket=db[/rp]&org=&precision=`: 204 when every line
/// was stored.
pub async fn v2(
    State(state): State<Arc<AppState>>,
    Extension(principal): Extension<Principal>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Result<StatusCode, V2Error> {
    let params = Params::from_query(query.as_deref());
    let bucket = params.non_empty("bucket").ok_or(ApiError::BucketRequired)?;
    let (db, rp) = match bucket.split_once('/') {
        Some((db, rp)) => (db, Some(rp).filter(|rp| !rp.is_empty())),
        None => (bucket, None),
    };
    if db.is_empty() {
        return Err(ApiError::BucketRequired.into());
    }
    let precision = parse_precision(params.get("precision").unwrap_or(""), true)?;
    let account_tags = params.flag("account_tags");
    let target = Target { db: db.to_string(), rp: rp.map(str::to_string), precision, account_tags };
    Ok(write(&state, &principal, target, headers, body).await?)
}

/// The `precision` parameter; the 2.x API accepts only `ns|us|ms|s`.
fn parse_precision(value: &str, v2: bool) -> Result<Precision, ApiError> {
    let allowed = !v2 || matches!(value, "" | "ns" | "us" | "ms" | "s");
    match Precision::parse(value).filter(|_| allowed) {
        Some(p) => Ok(p),
        None => Err(ApiError::InvalidParameter {
            name: "precision",
            value: value.to_string(),
            reason: (if v2 { V2_PRECISIONS } else { V1_PRECISIONS }).to_string(),
        }),
    }
}

/// The shared pipeline.
async fn write(
    state: &AppState,
    principal: &Principal,
    target: Target,
    headers: HeaderMap,
    body: Body,
) -> Result<StatusCode, ApiError> {
    state.authorize(principal, Access::Write, &target.db)?;
    let _slot = state.try_write_slot()?;
    let received_at = now_ns();
    let encoding = body::content_encoding(&headers)?;
    let limit = state.limits.max_body_size;
    let raw = body::read_limited(body, &headers, limit).await?;
    let tenant = state.auth.as_ref().and_then(|auth| {
        let owner = auth.accounts.owner(&target.db)?;
        auth.accounts.tenant(&owner)
    });
    let mut policy = write_policy(state, tenant.as_ref());
    if target.account_tags {
        policy.add_tags = account_tags(principal);
    }
    state.metrics.write_bytes.add(raw.len() as u64);
    let counted_tenant = tenant.as_ref().map_or_else(|| principal.tenant.clone(), |t| t.name.clone());
    let job = Ingest { store: state.store.clone(), target, raw, encoding, limit, now_ns: received_at, policy };
    let report = tokio::task::spawn_blocking(move || job.run()).await??;
    state.metrics.points_written.with(&[&counted_tenant]).add(report.points_written as u64);
    let refused = report.parse_errors.len() + report.rejected.len();
    if refused > 0 {
        state.metrics.points_rejected.with(&[&counted_tenant]).add(refused as u64);
    }
    if let (Some(auth), Some(tenant)) = (&state.auth, &tenant) {
        auth.limits.count_dropped(&tenant.name, report.tags_dropped);
    }
    if report.tags_dropped > 0 {
        tracing::debug!(dropped = report.tags_dropped, "location tags dropped (no consent)");
    }
    tracing::debug!(
        points = report.points_written,
        bad_lines = report.parse_errors.len(),
        rejected = report.rejected.len(),
        "write"
    );
    report.into_result()?;
    Ok(StatusCode::NO_CONTENT)
}

/// The owning tenant's privacy and rate rules for one write.
fn write_policy(state: &AppState, tenant: Option<&Tenant>) -> WritePolicy {
    let (Some(auth), Some(tenant)) = (&state.auth, tenant) else { return WritePolicy::default() };
    let drop_tags = if tenant.collect_location { Vec::new() } else { auth.config.location_tags.clone() };
    let rate = tenant.limits.max_points_per_second;
    let admit: Option<Admit> = (rate > 0).then(|| {
        let auth = std::sync::Arc::clone(auth);
        let name = tenant.name.clone();
        Box::new(move |points: u64| {
            if auth.limits.admit_points(&name, rate, points) {
                Ok(())
            } else {
                Err(format!(
                    "tenant {name:?} exceeds its ingest limit of {rate} points/s (max_points_per_second); retry later"
                ))
            }
        }) as Admit
    });
    let max_series = tenant.limits.max_series;
    let new_series = (max_series > 0).then(|| {
        let used: usize = auth.accounts.databases_of(&tenant.name).iter().map(|db| state.store.series_count(db)).sum();
        let budget = usize::try_from(max_series).unwrap_or(usize::MAX).saturating_sub(used);
        (
            budget,
            format!(
                "max-series-per-tenant limit exceeded: tenant {:?} allows {max_series} series (max_series)",
                tenant.name
            ),
        )
    });
    WritePolicy { drop_tags, admit, new_series, add_tags: Vec::new() }
}

/// `account_tags=true`: the writer's tenant, user and role as tags, so usage
/// can be grouped (and forecast) per account or role.
fn account_tags(principal: &Principal) -> Vec<(String, String)> {
    if principal.trusted {
        return Vec::new();
    }
    vec![
        (ACCOUNT_TAG_ROLE.to_string(), principal.role.as_str().to_string()),
        (ACCOUNT_TAG_TENANT.to_string(), principal.tenant.clone()),
        (ACCOUNT_TAG_USER.to_string(), principal.user.clone()),
    ]
}

/// Tag key of the writer's tenant with `account_tags=true`.
pub const ACCOUNT_TAG_TENANT: &str = "augur_tenant";
/// Tag key of the writer's user name with `account_tags=true`.
pub const ACCOUNT_TAG_USER: &str = "augur_user";
/// Tag key of the writer's role with `account_tags=true`.
pub const ACCOUNT_TAG_ROLE: &str = "augur_role";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn precisions() {
        assert_eq!(parse_precision("", false).ok(), Some(Precision::Nanoseconds));
        assert_eq!(parse_precision("h", false).ok(), Some(Precision::Hours));
        assert_eq!(parse_precision("us", true).ok(), Some(Precision::Microseconds));
        let err = parse_precision("h", true).expect_err("v2 has no hours");
        assert_eq!(err.to_string(), "invalid precision \"h\": use ns, us, ms or s");
        let err = parse_precision("x", false).expect_err("unknown");
        assert_eq!(err.status(), StatusCode::BAD_REQUEST);
    }
}
