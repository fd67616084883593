//! `POST /write` (InfluxDB 1.x), `POST /api/v2/write` (2.x) and
//! `POST /api/v1/write` (Prometheus remote_write 1.0).
//!
//! All three share one pipeline and differ only in how they name the
//! target (`db`/`rp` versus `bucket=db/rp`), which precisions they accept,
//! how the body carries its points (`Payload`: line protocol, or a snappy
//! block of protobuf decoded by [`augur_engine::remote_write`]), and how
//! errors are shaped. The handler takes a write slot (429 when
//! `max_concurrent_writes` are in flight), reads the body within
//! `max_body_size`, and hands the rest — decompress, parse, store — to
//! `ingest` on the blocking pool, because it is CPU work and fsyncs. The
//! tenant's limits (points per second, series) and partial-write reporting
//! are the same whatever the format.
//!
//! Authentication happened in the layer before (see [`super::auth`]); the
//! handler only checks that the caller may write to the target database.

mod ingest;

use std::sync::Arc;

use augur_engine::model::Precision;
use augur_query::privileges::Access;
use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::Extension;

use super::body;
use super::error::{ApiError, V2Error};
use super::params::Params;
use super::AppState;
use crate::auth::model::Tenant;
use crate::auth::Principal;
use crate::clock::now_ns;
use ingest::{Admit, Ingest, Payload, Target, WritePolicy};

/// Precisions `/write` accepts, for the error message.
const V1_PRECISIONS: &str = "use n, ns, u, us, ms, s, m or h";
/// Precisions `/api/v2/write` accepts, for the error message.
const V2_PRECISIONS: &str = "use ns, us, ms or s";
/// What `/api/v1/write` reads, for the error message.
const REMOTE_WRITE_FORMAT: &str = "use Prometheus remote_write 1.0 (application/x-protobuf, snappy)";

/// How a body is to be read, before its headers are checked.
#[derive(Debug, Clone, Copy)]
enum Format {
    /// Line protocol in this precision; gzip or identity.
    LineProtocol(Precision),
    /// Prometheus remote_write 1.0.
    RemoteWrite,
}

/// `POST /write?db=&rp=&precision=`: 204 when every line was stored.
pub async fn v1(
    State(state): State<Arc<AppState>>,
    Extension(principal): Extension<Principal>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Result<StatusCode, ApiError> {
    let params = Params::from_query(query.as_deref());
    let target = db_target(&params)?;
    let precision = parse_precision(params.get("precision").unwrap_or(""), false)?;
    write(&state, &principal, target, Format::LineProtocol(precision), headers, body).await
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
    let target = Target { db: db.to_string(), rp: rp.map(str::to_string), account_tags };
    Ok(write(&state, &principal, target, Format::LineProtocol(precision), headers, body).await?)
}

/// `POST /api/v1/write?db=&rp=`: Prometheus remote_write 1.0. 204 when every
/// series was stored; 400 naming the series that were not (the others are
/// stored); `__name__` is the measurement, the other labels are tags, and a
/// sample's value is the float field `value`.
pub async fn remote_write(
    State(state): State<Arc<AppState>>,
    Extension(principal): Extension<Principal>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Result<StatusCode, ApiError> {
    let target = db_target(&Params::from_query(query.as_deref()))?;
    write(&state, &principal, target, Format::RemoteWrite, headers, body).await
}

/// The target named by `db=`, `rp=` and `account_tags=` (the 1.x spelling
/// `/write` and `/api/v1/write` share).
fn db_target(params: &Params) -> Result<Target, ApiError> {
    let db = params.non_empty("db").ok_or(ApiError::DatabaseRequired)?;
    let rp = params.non_empty("rp").map(str::to_string);
    Ok(Target { db: db.to_string(), rp, account_tags: params.flag("account_tags") })
}

/// Checks the headers of a remote_write request: `Content-Encoding` is
/// `snappy` (or absent), and `Content-Type` is not another protocol's, so a
/// remote_write 2.0 sender gets the 415 that makes it fall back to 1.0.
fn remote_write_payload(headers: &HeaderMap) -> Result<Payload, ApiError> {
    let text = |name: header::HeaderName| {
        headers.get(name).map(|v| String::from_utf8_lossy(v.as_bytes()).trim().to_ascii_lowercase())
    };
    if let Some(encoding) = text(header::CONTENT_ENCODING).filter(|e| !e.is_empty() && e != "snappy") {
        return Err(ApiError::UnsupportedEncoding(encoding));
    }
    if let Some(content_type) = text(header::CONTENT_TYPE) {
        let mut parts = content_type.split(';').map(str::trim);
        let media = parts.next().unwrap_or_default();
        let proto = parts.find_map(|p| p.strip_prefix("proto=")).unwrap_or("prometheus.writerequest");
        let protobuf = matches!(media, "" | "application/x-protobuf" | "application/octet-stream");
        if !protobuf || proto != "prometheus.writerequest" {
            return Err(ApiError::UnsupportedContentType(content_type, REMOTE_WRITE_FORMAT));
        }
    }
    Ok(Payload::RemoteWrite)
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
    format: Format,
    headers: HeaderMap,
    body: Body,
) -> Result<StatusCode, ApiError> {
    state.authorize(principal, Access::Write, &target.db)?;
    let _slot = state.try_write_slot()?;
    let received_at = now_ns();
    let payload = match format {
        Format::LineProtocol(precision) => {
            Payload::LineProtocol { encoding: body::content_encoding(&headers)?, precision }
        }
        Format::RemoteWrite => remote_write_payload(&headers)?,
    };
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
    let job = Ingest { store: state.store.clone(), target, raw, payload, limit, now_ns: received_at, policy };
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
        samples_skipped = report.samples_skipped,
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

    fn headers(pairs: &[(header::HeaderName, &str)]) -> HeaderMap {
        pairs.iter().map(|(k, v)| (k.clone(), v.parse().expect("value"))).collect()
    }

    #[test]
    fn remote_write_headers() {
        let ok = |pairs: &[(header::HeaderName, &str)]| remote_write_payload(&headers(pairs)).map_err(|e| e.status());
        // What Prometheus sends, and a bare request.
        let prometheus = [(header::CONTENT_ENCODING, "snappy"), (header::CONTENT_TYPE, "application/x-protobuf")];
        assert_eq!(ok(&prometheus), Ok(Payload::RemoteWrite));
        assert_eq!(ok(&[]), Ok(Payload::RemoteWrite));
        let v1 = [(header::CONTENT_TYPE, "application/x-protobuf;proto=prometheus.WriteRequest")];
        assert_eq!(ok(&v1), Ok(Payload::RemoteWrite));
        // remote_write 2.0 and other formats: 415, so a 2.0 sender falls back.
        let v2 = [(header::CONTENT_TYPE, "application/x-protobuf;proto=io.prometheus.write.v2.Request")];
        assert_eq!(ok(&v2), Err(StatusCode::UNSUPPORTED_MEDIA_TYPE));
        assert_eq!(ok(&[(header::CONTENT_TYPE, "text/plain")]), Err(StatusCode::UNSUPPORTED_MEDIA_TYPE));
        assert_eq!(ok(&[(header::CONTENT_ENCODING, "gzip")]), Err(StatusCode::UNSUPPORTED_MEDIA_TYPE));
    }
}
