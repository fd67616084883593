//! `GET|HEAD /ping` and `GET /health`: liveness for load balancers and
//! for clients probing which InfluxDB version they talk to.

use axum::extract::RawQuery;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use super::headers::INFLUXDB_VERSION;
use super::params::Params;

/// 204, or with `?verbose=true` 200 `{"version":"1.8.10"}`.
pub async fn ping(RawQuery(query): RawQuery) -> Response {
    if Params::from_query(query.as_deref()).flag("verbose") {
        (StatusCode::OK, Json(json!({ "version": INFLUXDB_VERSION }))).into_response()
    } else {
        StatusCode::NO_CONTENT.into_response()
    }
}

/// 200 with InfluxDB 1.8's health document.
pub async fn health() -> Json<serde_json::Value> {
    Json(json!({
        "name": "augur",
        "message": "ready for queries and writes",
        "status": "pass",
        "checks": [],
        "version": INFLUXDB_VERSION,
    }))
}
