//! One delivery attempt: a signed HTTP POST of the CloudEvent, and what its
//! answer means.
//!
//! * 2xx: delivered.
//! * 408, 429, 5xx, 3xx (redirects are not followed: the signature is for
//!   the configured URL), transport errors and timeouts: retried with
//!   backoff until `max_attempts`.
//! * any other 4xx: a permanent refusal (the consumer says the request
//!   itself is wrong, or the endpoint is gone); dead-lettered at once
//!   rather than blocking the subscription's later events for the whole
//!   retry schedule. Once the consumer is fixed, replay delivers it.

use std::time::{Duration, Instant};

use reqwest::header::{CONTENT_TYPE, USER_AGENT};

use super::cloudevent::CONTENT_TYPE as CLOUDEVENTS_JSON;
use super::deliveries::{rfc3339, AttemptResult};
use super::signature;
use crate::clock::now_ns;

/// The header carrying the attempt number (1 on the first try).
pub const ATTEMPT_HEADER: &str = "Augur-Delivery-Attempt";

/// What an attempt's result means for the delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Done.
    Delivered,
    /// Try again later.
    Retry,
    /// Give up now (dead letter).
    Permanent,
}

/// The verdict for an HTTP status.
pub fn classify(status: u16) -> Verdict {
    match status {
        200..=299 => Verdict::Delivered,
        408 | 429 => Verdict::Retry,
        400..=499 => Verdict::Permanent,
        _ => Verdict::Retry,
    }
}

/// How every delivery client is built: no redirects, bounded connect
/// time, and `roots` trusted besides the system's (`[webhooks] ca_file`).
pub fn client_builder(timeout: Duration, roots: &[reqwest::Certificate]) -> reqwest::ClientBuilder {
    let mut builder = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(timeout)
        .timeout(timeout)
        .pool_idle_timeout(Duration::from_secs(30));
    for root in roots {
        builder = builder.add_root_certificate(root.clone());
    }
    builder
}

/// POSTs `body` to `url`, signed with `secret`, as attempt `attempt`.
pub async fn attempt(
    client: &reqwest::Client,
    url: &str,
    secret: &str,
    body: &[u8],
    attempt: u32,
) -> (Verdict, AttemptResult) {
    let started = Instant::now();
    let now = now_ns();
    let t = now.div_euclid(1_000_000_000);
    let request = client
        .post(url)
        .header(CONTENT_TYPE, CLOUDEVENTS_JSON)
        .header(USER_AGENT, concat!("augur-webhooks/", env!("CARGO_PKG_VERSION")))
        .header(signature::HEADER, signature::sign(secret, t, body))
        .header(ATTEMPT_HEADER, attempt.to_string())
        .body(body.to_vec());
    let (verdict, status, error) = match request.send().await {
        Ok(response) => {
            let status = response.status().as_u16();
            let verdict = classify(status);
            let error = (verdict != Verdict::Delivered).then(|| format!("HTTP {status}"));
            (verdict, Some(status), error)
        }
        Err(err) => {
            let what = if err.is_timeout() {
                "timed out"
            } else if err.is_connect() {
                "cannot connect"
            } else {
                "request failed"
            };
            (Verdict::Retry, None, Some(format!("{what}: {}", error_chain(&err))))
        }
    };
    let duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    (verdict, AttemptResult { status, error, time: rfc3339(now), duration_ms })
}

/// The result of an attempt refused before any connection.
pub fn refused(reason: String) -> AttemptResult {
    AttemptResult { status: None, error: Some(reason), time: rfc3339(now_ns()), duration_ms: 0 }
}

/// An error with its causes, `a: b: c`.
fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_classify() {
        for s in [200, 201, 202, 204, 299] {
            assert_eq!(classify(s), Verdict::Delivered, "{s}");
        }
        for s in [408, 429, 500, 502, 503, 504, 301, 302, 100] {
            assert_eq!(classify(s), Verdict::Retry, "{s}");
        }
        for s in [400, 401, 403, 404, 410, 413, 422] {
            assert_eq!(classify(s), Verdict::Permanent, "{s}");
        }
    }
}
