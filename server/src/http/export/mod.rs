//! `GET /api/v1/export`: a database (or one measurement) as line protocol.
//!
//! Streams, so memory stays flat whatever the database's size: a blocking
//! task reads `SERIES_PER_READ` series at a time from the store, renders
//! them (`render`) and sends ~64 KiB chunks through a bounded channel to
//! the response body; a slow client slows the reader down instead of
//! buffering. Parameters are checked before the first byte is sent, so they
//! still get proper status codes. Once streaming, a damaged block is logged
//! and skipped (the rest of the export goes on); a store failure ends the
//! body abruptly so the client sees an incomplete response, not a silently
//! short one.
//!
//! The time range is `[start, end)`: `start` inclusive, `end` exclusive,
//! each RFC 3339 or integer nanoseconds since the epoch.

mod render;

use std::sync::Arc;

use augur_engine::storage::{MeasurementFilter, SeriesInfo, Store, TimeRange};
use augur_query::privileges::Access;
use augur_query::time::parse_rfc3339;
use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use bytes::Bytes;
use tokio::sync::mpsc;

use super::error::ApiError;
use super::params::Params;
use super::AppState;
use crate::auth::Principal;

/// Series read from the store per call.
const SERIES_PER_READ: usize = 256;
/// Bytes buffered before a chunk is sent.
const CHUNK_BYTES: usize = 64 * 1024;
/// Chunks in flight between the reader and the client.
const CHANNEL_CHUNKS: usize = 4;

/// What to export.
#[derive(Debug, Clone)]
struct ExportRequest {
    db: String,
    rp: Option<String>,
    range: TimeRange,
}

/// Streams the export.
pub async fn handle(
    State(state): State<Arc<AppState>>,
    Extension(principal): Extension<Principal>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let params = Params::from_query(query.as_deref());
    let db = params.non_empty("db").ok_or(ApiError::DatabaseRequired)?.to_string();
    state.authorize(&principal, Access::Read, &db)?;
    let rp = params.non_empty("rp").map(str::to_string);
    let filter = match params.non_empty("measurement") {
        Some(m) => MeasurementFilter::Name(m.to_string()),
        None => MeasurementFilter::All,
    };
    let range = time_range(params.non_empty("start"), params.non_empty("end"))?;
    let request = ExportRequest { db, rp, range };

    let store = state.store.clone();
    let req = request.clone();
    let series = tokio::task::spawn_blocking(move || select_series(&store, &req, &filter)).await??;
    tracing::info!(db = %request.db, series = series.len(), "export started");

    let (tx, rx) = mpsc::channel(CHANNEL_CHUNKS);
    let store = state.store.clone();
    tokio::task::spawn_blocking(move || stream_series(&store, &request, &series, &tx));
    let body = futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|chunk| (chunk, rx)) });
    let mut response = (StatusCode::OK, Body::from_stream(body)).into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
    Ok(response)
}

/// Checks the database and policy exist and lists the series to export.
fn select_series(store: &Store, req: &ExportRequest, filter: &MeasurementFilter) -> Result<Vec<SeriesInfo>, ApiError> {
    if !store.database_exists(&req.db) {
        return Err(ApiError::DatabaseNotFound(req.db.clone()));
    }
    if let Some(rp) = &req.rp {
        if !store.retention_policies(&req.db)?.iter().any(|p| &p.name == rp) {
            return Err(ApiError::RetentionPolicyNotFound(rp.clone()));
        }
    }
    Ok(store.series(&req.db, req.rp.as_deref(), filter, None)?)
}

/// The blocking reader: reads, renders and sends chunks until done, the
/// store fails, or the client goes away.
fn stream_series(
    store: &Store,
    req: &ExportRequest,
    series: &[SeriesInfo],
    tx: &mpsc::Sender<Result<Bytes, std::io::Error>>,
) {
    let mut buf = String::with_capacity(CHUNK_BYTES * 2);
    let mut lines = 0usize;
    for chunk in series.chunks(SERIES_PER_READ) {
        let result = match store.read(&req.db, req.rp.as_deref(), chunk, req.range, None) {
            Ok(result) => result,
            Err(err) => {
                tracing::error!(db = %req.db, error = %err, "export aborted: read failed");
                let _ = tx.blocking_send(Err(std::io::Error::other(err.to_string())));
                return;
            }
        };
        for damage in &result.damaged {
            tracing::error!(
                db = %req.db,
                series = %damage.series_key,
                window_start = damage.position,
                reason = %damage.reason,
                "export: skipping damaged block"
            );
        }
        for data in &result.series {
            lines += render::series(&mut buf, data);
            if buf.len() >= CHUNK_BYTES && !send(tx, &mut buf) {
                tracing::info!(db = %req.db, "export: client went away");
                return;
            }
        }
    }
    if !buf.is_empty() && !send(tx, &mut buf) {
        return;
    }
    tracing::info!(db = %req.db, lines, "export finished");
}

/// Sends the buffer as one chunk; `false` if the client is gone.
fn send(tx: &mpsc::Sender<Result<Bytes, std::io::Error>>, buf: &mut String) -> bool {
    let chunk = Bytes::from(std::mem::take(buf));
    tx.blocking_send(Ok(chunk)).is_ok()
}

/// `[start, end)` from the parameters (each RFC 3339 or integer ns).
fn time_range(start: Option<&str>, end: Option<&str>) -> Result<TimeRange, ApiError> {
    let start = start.map(|s| parse_time("start", s)).transpose()?.unwrap_or(i64::MIN);
    let end = match end {
        Some(s) => {
            parse_time("end", s)?.checked_sub(1).ok_or_else(|| bad_time("end", s, "must be after start".into()))?
        }
        None => i64::MAX,
    };
    if end < start {
        return Err(ApiError::InvalidParameter {
            name: "time range",
            value: format!("{start}..{}", end.saturating_add(1)),
            reason: "end must be after start".into(),
        });
    }
    Ok(TimeRange { start, end })
}

fn parse_time(name: &'static str, value: &str) -> Result<i64, ApiError> {
    if let Ok(ns) = value.parse::<i64>() {
        return Ok(ns);
    }
    parse_rfc3339(value).map_err(|e| bad_time(name, value, format!("{e}; use RFC 3339 or integer nanoseconds")))
}

fn bad_time(name: &'static str, value: &str, reason: String) -> ApiError {
    ApiError::InvalidParameter { name, value: value.to_string(), reason }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_ranges_are_half_open() {
        let r = time_range(None, None).expect("all");
        assert_eq!(r, TimeRange::ALL);
        let r = time_range(Some("10"), Some("20")).expect("ns");
        assert_eq!((r.start, r.end), (10, 19));
        let r = time_range(Some("1970-01-01T00:00:01Z"), Some("1970-01-01T00:00:02Z")).expect("rfc3339");
        assert_eq!((r.start, r.end), (1_000_000_000, 1_999_999_999));
        assert!(time_range(Some("20"), Some("20")).is_err());
        assert!(time_range(None, Some(&i64::MIN.to_string())).is_err());
        let err = time_range(Some("yesterday"), None).expect_err("bad");
        assert_eq!(err.status(), StatusCode::BAD_REQUEST);
        assert!(err.to_string().starts_with("invalid start \"yesterday\""), "{err}");
    }
}
