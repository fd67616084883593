//! The version headers every response carries.
//!
//! InfluxDB clients (the `influx` CLI, client libraries, Telegraf) read
//! `X-Influxdb-Version` to decide which API dialect to speak; announcing
//! 1.8.10 makes them use the 1.x API that Augur implements.

use axum::http::HeaderValue;
use axum::response::Response;

/// The InfluxDB version Augur's API is compatible with.
pub const INFLUXDB_VERSION: &str = "1.8.10";
/// The InfluxDB build flavour announced.
pub const INFLUXDB_BUILD: &str = "OSS";
/// Header naming the InfluxDB version.
pub const X_INFLUXDB_VERSION: &str = "x-influxdb-version";
/// Header naming the InfluxDB build.
pub const X_INFLUXDB_BUILD: &str = "x-influxdb-build";
/// Header repeating an error message (as InfluxDB sends it).
pub const X_INFLUXDB_ERROR: &str = "x-influxdb-error";

/// Adds the version headers to a response (an `axum::middleware::map_response` function).
pub async fn add_version_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(X_INFLUXDB_VERSION, HeaderValue::from_static(INFLUXDB_VERSION));
    headers.insert(X_INFLUXDB_BUILD, HeaderValue::from_static(INFLUXDB_BUILD));
    response
}
