//! API errors and their two wire shapes.
//!
//! Every failure of a handler is an [`ApiError`]; it knows its HTTP status.
//! It renders as InfluxDB 1.x does (`{"error":"..."}` plus the
//! `X-Influxdb-Error` header), or, wrapped in [`V2Error`], as the 2.x write
//! API does (`{"code":"invalid","message":"..."}`), so a handler picks the
//! dialect once, at its signature.

use augur_engine::storage::StorageError;
use augur_query::error::ParseError;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::headers::X_INFLUXDB_ERROR;

/// Seconds a client should wait after a 429 before retrying.
const RETRY_AFTER_SECS: &str = "1";
/// Longest error text repeated in the `X-Influxdb-Error` header.
const MAX_HEADER_ERROR_BYTES: usize = 1024;

/// Why a request failed.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// `/write` without `db`.
    #[error("database is required")]
    DatabaseRequired,
    /// `/api/v2/write` without `bucket`.
    #[error("bucket is required")]
    BucketRequired,
    /// A required parameter is absent (`q` of `/query`).
    #[error("missing required parameter \"{0}\"")]
    MissingParameter(&'static str),
    /// The database does not exist.
    #[error("database not found: \"{0}\"")]
    DatabaseNotFound(String),
    /// The retention policy does not exist.
    #[error("retention policy not found: {0}")]
    RetentionPolicyNotFound(String),
    /// A parameter has a value the endpoint does not accept.
    #[error("invalid {name} {value:?}: {reason}")]
    InvalidParameter {
        /// Parameter name.
        name: &'static str,
        /// The value sent.
        value: String,
        /// What is accepted.
        reason: String,
    },
    /// The body (or its decompressed form) is larger than `http.max_body_size`.
    #[error("request body too large: the limit is {limit} bytes")]
    BodyTooLarge {
        /// The limit, in bytes.
        limit: usize,
    },
    /// `Content-Encoding: gzip` with a body that is not gzip.
    #[error("invalid gzip body: {0}")]
    BadGzip(String),
    /// A `Content-Encoding` other than gzip or identity.
    #[error("unsupported Content-Encoding {0:?}: use gzip or identity")]
    UnsupportedEncoding(String),
    /// A Prometheus remote_write body that is not snappy or not protobuf.
    #[error("{0}")]
    BadRemoteWrite(String),
    /// A remote_write request whose points would take too much memory.
    #[error("{0}")]
    TooManyPoints(String),
    /// A `Content-Type` the endpoint does not read (remote_write 2.0 bodies).
    #[error("unsupported Content-Type {0:?}: {1}")]
    UnsupportedContentType(String, &'static str),
    /// The body could not be read (client went away, bad chunking).
    #[error("cannot read the request body: {0}")]
    BodyRead(String),
    /// Lines that did not parse, or points the store rejected (the rest of
    /// the write was stored). The text lists them.
    #[error("{0}")]
    PartialWrite(String),
    /// The query text does not parse.
    #[error("error parsing query: {0}")]
    QueryParse(#[from] ParseError),
    /// The `params` value is not a JSON object.
    #[error("error parsing query parameters: {0}")]
    QueryParameters(String),
    /// More writes in flight than `http.max_concurrent_writes`.
    #[error("too many concurrent writes")]
    TooManyWrites,
    /// No such route.
    #[error("not found")]
    RouteNotFound,
    /// The route exists but not for this method.
    #[error("method not allowed")]
    MethodNotAllowed,
    /// No valid credential (InfluxDB's `authorization failed`).
    #[error("{0}")]
    Unauthorized(String),
    /// Authenticated, but not allowed to do this.
    #[error("{0}")]
    Forbidden(String),
    /// Too many failed logins from this address; retry after this many seconds.
    #[error("too many failed authentication attempts: retry in {0} s")]
    TooManyAuthFailures(u64),
    /// A tenant went over one of its limits (the text names it).
    #[error("{0}")]
    TenantLimit(String),
    /// A JSON API body or value is unusable.
    #[error("{0}")]
    BadRequest(String),
    /// A named thing (user, token, tenant) does not exist, or is out of reach.
    #[error("{0}")]
    NotFound(String),
    /// A named thing already exists.
    #[error("{0}")]
    Conflict(String),
    /// The store failed.
    #[error("{0}")]
    Storage(StorageError),
    /// A blocking task panicked or was cancelled.
    #[error("internal error: {0}")]
    Internal(String),
    /// A request the framework refused before a handler ran (a path
    /// segment that is not UTF-8, a JSON body over the extractor's limit),
    /// with the status and message it gave.
    #[error("{1}")]
    Rejected(StatusCode, String),
}

impl From<StorageError> for ApiError {
    fn from(err: StorageError) -> ApiError {
        match err {
            StorageError::DatabaseNotFound(db) => ApiError::DatabaseNotFound(db),
            StorageError::RetentionPolicyNotFound { rp, .. } => ApiError::RetentionPolicyNotFound(rp),
            other => ApiError::Storage(other),
        }
    }
}

impl From<tokio::task::JoinError> for ApiError {
    fn from(err: tokio::task::JoinError) -> ApiError {
        ApiError::Internal(err.to_string())
    }
}

impl ApiError {
    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::DatabaseRequired
            | ApiError::BucketRequired
            | ApiError::MissingParameter(_)
            | ApiError::InvalidParameter { .. }
            | ApiError::BadGzip(_)
            | ApiError::BadRemoteWrite(_)
            | ApiError::BodyRead(_)
            | ApiError::PartialWrite(_)
            | ApiError::QueryParse(_)
            | ApiError::QueryParameters(_)
            | ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::TooManyAuthFailures(_) | ApiError::TenantLimit(_) => StatusCode::TOO_MANY_REQUESTS,
            ApiError::DatabaseNotFound(_) | ApiError::RetentionPolicyNotFound(_) | ApiError::RouteNotFound => {
                StatusCode::NOT_FOUND
            }
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::BodyTooLarge { .. } | ApiError::TooManyPoints(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedEncoding(_) | ApiError::UnsupportedContentType(..) => {
                StatusCode::UNSUPPORTED_MEDIA_TYPE
            }
            ApiError::TooManyWrites => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Storage(_) | ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            ApiError::Rejected(status, _) => *status,
        }
    }

    /// The InfluxDB 2.x error code for this status.
    pub fn v2_code(&self) -> &'static str {
        match self.status() {
            StatusCode::NOT_FOUND => "not found",
            StatusCode::UNAUTHORIZED => "unauthorized",
            StatusCode::FORBIDDEN => "forbidden",
            StatusCode::CONFLICT => "conflict",
            StatusCode::PAYLOAD_TOO_LARGE => "too large",
            StatusCode::TOO_MANY_REQUESTS => "too many requests",
            StatusCode::SERVICE_UNAVAILABLE => "unavailable",
            StatusCode::METHOD_NOT_ALLOWED => "method not allowed",
            StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported media type",
            s if s.is_server_error() => "internal error",
            _ => "invalid",
        }
    }

    /// Builds the response with `body`, the error header, and `Retry-After`
    /// where it applies.
    fn respond(&self, body: serde_json::Value) -> Response {
        let status = self.status();
        if status.is_server_error() {
            tracing::error!(error = %self, "request failed");
        } else {
            tracing::debug!(error = %self, %status, "request rejected");
        }
        let mut response = (status, axum::Json(body)).into_response();
        let headers = response.headers_mut();
        if let Ok(value) = HeaderValue::from_str(&header_safe(&self.to_string())) {
            headers.insert(X_INFLUXDB_ERROR, value);
        }
        if let ApiError::TooManyAuthFailures(secs) = self {
            if let Ok(value) = HeaderValue::from_str(&secs.to_string()) {
                headers.insert(header::RETRY_AFTER, value);
            }
        } else if status == StatusCode::TOO_MANY_REQUESTS {
            headers.insert(header::RETRY_AFTER, HeaderValue::from_static(RETRY_AFTER_SECS));
        }
        if status == StatusCode::UNAUTHORIZED {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Basic realm=\"augur\""));
        }
        response
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        self.respond(json!({ "error": self.to_string() }))
    }
}

/// Longest plain-text rejection body read back to be rewritten as JSON
/// (the framework's messages are one line).
const MAX_REJECTION_BYTES: usize = 4096;

/// Rewrites the plain-text error answers the framework's extractors give
/// (`Invalid URL: Invalid UTF-8 in `name``, `Failed to buffer the request
/// body: length limit exceeded`) into the `{"error": ...}` shape with the
/// `X-Influxdb-Error` header that every other error has, so that a client
/// parses every failure the same way. An `axum::middleware::map_response`
/// function; other responses pass untouched (and unread).
pub async fn json_rejections(response: Response) -> Response {
    let status = response.status();
    let plain = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/plain"));
    if !(plain && (status.is_client_error() || status.is_server_error())) {
        return response;
    }
    let (parts, body) = response.into_parts();
    let message = match axum::body::to_bytes(body, MAX_REJECTION_BYTES).await {
        Ok(bytes) if !bytes.is_empty() => String::from_utf8_lossy(&bytes).trim().to_string(),
        _ => status.canonical_reason().unwrap_or("request refused").to_string(),
    };
    let mut rebuilt = ApiError::Rejected(status, message).into_response();
    // Headers the rejection set (`Allow`, `Retry-After`...) are kept.
    for (name, value) in &parts.headers {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            rebuilt.headers_mut().entry(name).or_insert_with(|| value.clone());
        }
    }
    rebuilt
}

/// An [`ApiError`] rendered the InfluxDB 2.x way:
/// `{"code":"invalid","message":"...","error":"..."}` (`error` repeats the
/// message for 1.x-minded clients).
#[derive(Debug)]
pub struct V2Error(pub ApiError);

impl From<ApiError> for V2Error {
    fn from(err: ApiError) -> V2Error {
        V2Error(err)
    }
}

impl IntoResponse for V2Error {
    fn into_response(self) -> Response {
        let message = self.0.to_string();
        self.0.respond(json!({
            "code": self.0.v2_code(),
            "message": message,
            "error": message,
        }))
    }
}

/// The message made fit for a header: control characters (the newlines of
/// multi-line parse errors) become spaces, and it is cut to a bounded length
/// on a character boundary.
fn header_safe(message: &str) -> String {
    let mut out = String::with_capacity(message.len().min(MAX_HEADER_ERROR_BYTES));
    for c in message.chars() {
        if out.len() + c.len_utf8() > MAX_HEADER_ERROR_BYTES {
            break;
        }
        out.push(if c.is_control() { ' ' } else { c });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt as _;

    async fn body_json(response: Response) -> serde_json::Value {
        let bytes = response.into_body().collect().await.expect("body").to_bytes();
        serde_json::from_slice(&bytes).expect("json")
    }

    #[tokio::test]
    async fn v1_shape_and_header() {
        let response = ApiError::DatabaseNotFound("x".into()).into_response();
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        assert_eq!(response.headers()[X_INFLUXDB_ERROR], "database not found: \"x\"");
        assert_eq!(body_json(response).await, json!({"error": "database not found: \"x\""}));
    }

    #[tokio::test]
    async fn v2_shape() {
        let response = V2Error(ApiError::BodyTooLarge { limit: 10 }).into_response();
        assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
        let message = "request body too large: the limit is 10 bytes";
        assert_eq!(body_json(response).await, json!({"code": "too large", "message": message, "error": message}));
        let response = V2Error(ApiError::DatabaseRequired).into_response();
        assert_eq!(body_json(response).await["code"], "invalid");
        let response = V2Error(ApiError::RetentionPolicyNotFound("rp".into())).into_response();
        assert_eq!(body_json(response).await["code"], "not found");
    }

    #[tokio::test]
    async fn too_many_writes_says_when_to_retry() {
        let response = ApiError::TooManyWrites.into_response();
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(response.headers()[header::RETRY_AFTER], "1");
        let response = V2Error(ApiError::TooManyWrites).into_response();
        assert_eq!(response.headers()[header::RETRY_AFTER], "1");
        assert_eq!(body_json(response).await["code"], "too many requests");
    }

    #[test]
    fn storage_errors_map_to_statuses() {
        let err: ApiError = StorageError::DatabaseNotFound("db".into()).into();
        assert_eq!((err.status(), err.to_string()), (StatusCode::NOT_FOUND, "database not found: \"db\"".into()));
        let err: ApiError = StorageError::RetentionPolicyNotFound { db: "db".into(), rp: "rp".into() }.into();
        assert_eq!((err.status(), err.to_string()), (StatusCode::NOT_FOUND, "retention policy not found: rp".into()));
        let err: ApiError = StorageError::Engine("disk full".into()).into();
        assert_eq!(err.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(err.v2_code(), "internal error");
    }

    #[test]
    fn header_text_is_single_line_and_bounded() {
        assert_eq!(header_safe("a\nb\tc"), "a b c");
        let long = "é".repeat(2000);
        let cut = header_safe(&long);
        assert!(cut.len() <= MAX_HEADER_ERROR_BYTES);
        assert!(cut.chars().all(|c| c == 'é'));
    }
}
