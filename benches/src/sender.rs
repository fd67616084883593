//! The timed part of `ingest`: N concurrent workers POST the pre-generated
//! batches to an InfluxDB 1.x compatible `/write` endpoint and record each
//! request's latency and outcome.
//!
//! Workers take the next unsent batch from a shared counter, so batches
//! leave in generation order (time, then host) whatever the concurrency.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use reqwest::{Client, StatusCode, Url};

use crate::dataset::Batch;

/// Where and how to send.
#[derive(Debug, Clone)]
pub struct SendConfig {
    /// Server base URL, e.g. `http://127.0.0.1:8086`.
    pub base: Url,
    /// Target database.
    pub db: String,
    /// Concurrent requests in flight.
    pub workers: usize,
    /// Bodies are gzip-compressed (adds `Content-Encoding: gzip`).
    pub gzip: bool,
    /// Per-request timeout.
    pub timeout: Duration,
}

/// What the send phase observed.
#[derive(Debug, Default)]
pub struct SendOutcome {
    /// Wall time from the first request to the last response.
    pub elapsed: Duration,
    /// Latency of every request that got a response, in no particular order.
    pub latencies: Vec<Duration>,
    /// Batches answered 204.
    pub ok_batches: u64,
    /// Rows in those batches.
    pub ok_rows: u64,
    /// Batches answered anything else, or not answered.
    pub errors: u64,
    /// Bytes put on the wire as request bodies.
    pub wire_bytes: u64,
    /// The first error seen (status and body, or transport error).
    pub first_error: Option<String>,
}

/// Builds the HTTP client every request goes through.
pub fn client(config: &SendConfig) -> Result<Client> {
    Client::builder()
        .timeout(config.timeout)
        .pool_max_idle_per_host(config.workers)
        .tcp_nodelay(true)
        .default_headers(crate::auth::default_headers()?)
        .build()
        .context("building the HTTP client")
}

/// `POST /query?q=CREATE DATABASE "<db>"`; fails unless the server says 2xx
/// without an `error` in the body.
pub async fn create_database(client: &Client, config: &SendConfig) -> Result<()> {
    let mut url = endpoint(&config.base, "query")?;
    let statement = format!("CREATE DATABASE \"{}\"", config.db.replace('"', "\\\""));
    url.query_pairs_mut().append_pair("q", &statement);
    let response =
        client.post(url.clone()).send().await.map_err(|e| anyhow::anyhow!("POST {url}: {}", with_causes(&e)))?;
    let status = response.status();
    let body = response.text().await.unwrap_or_default();
    if !status.is_success() || body.contains("\"error\"") {
        bail!("{statement} failed: HTTP {status}: {}", body.trim());
    }
    Ok(())
}

/// Sends every batch with `config.workers` concurrent workers.
pub async fn send_batches(client: &Client, config: &SendConfig, batches: Arc<Vec<Batch>>) -> Result<SendOutcome> {
    let mut url = endpoint(&config.base, "write")?;
    url.query_pairs_mut().append_pair("db", &config.db).append_pair("precision", "ns");
    let shared = Arc::new(Shared {
        client: client.clone(),
        url,
        gzip: config.gzip,
        batches,
        next: AtomicUsize::new(0),
        first_error: Mutex::new(None),
    });
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..config.workers.max(1) {
        tasks.spawn(worker(Arc::clone(&shared)));
    }
    let mut outcome = SendOutcome::default();
    while let Some(joined) = tasks.join_next().await {
        let part = joined.context("send worker failed")?;
        outcome.latencies.extend(part.latencies);
        outcome.ok_batches += part.ok_batches;
        outcome.ok_rows += part.ok_rows;
        outcome.errors += part.errors;
        outcome.wire_bytes += part.wire_bytes;
    }
    outcome.elapsed = started.elapsed();
    outcome.first_error =
        shared.first_error.lock().map_or_else(|poisoned| poisoned.into_inner().clone(), |guard| guard.clone());
    Ok(outcome)
}

/// State the workers share.
struct Shared {
    client: Client,
    url: Url,
    gzip: bool,
    batches: Arc<Vec<Batch>>,
    next: AtomicUsize,
    first_error: Mutex<Option<String>>,
}

impl Shared {
    /// Keeps the first error and prints it (only that one) to stderr.
    fn record_error(&self, message: String) {
        let mut slot = match self.first_error.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        if slot.is_none() {
            eprintln!("first write error: {message}");
            *slot = Some(message);
        }
    }
}

async fn worker(shared: Arc<Shared>) -> SendOutcome {
    let mut outcome = SendOutcome::default();
    loop {
        let index = shared.next.fetch_add(1, Ordering::Relaxed);
        let Some(batch) = shared.batches.get(index) else {
            break;
        };
        let mut request = shared.client.post(shared.url.clone()).body(batch.body.clone());
        if shared.gzip {
            request = request.header(reqwest::header::CONTENT_ENCODING, "gzip");
        }
        outcome.wire_bytes += batch.body.len() as u64;
        let sent = Instant::now();
        match request.send().await {
            Ok(response) => {
                let status = response.status();
                // Read the whole body so that the connection can be reused.
                let body = response.text().await;
                outcome.latencies.push(sent.elapsed());
                if status == StatusCode::NO_CONTENT {
                    outcome.ok_batches += 1;
                    outcome.ok_rows += batch.rows;
                } else {
                    outcome.errors += 1;
                    let body = body.unwrap_or_else(|e| format!("<unreadable body: {e}>"));
                    shared.record_error(format!("HTTP {status}: {}", body.trim()));
                }
            }
            Err(error) => {
                outcome.errors += 1;
                shared.record_error(format!("request failed: {}", with_causes(&error)));
            }
        }
    }
    outcome
}

/// `error` followed by its chain of causes, which reqwest keeps out of `Display`.
fn with_causes(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(inner) = cause {
        text.push_str(": ");
        text.push_str(&inner.to_string());
        cause = inner.source();
    }
    text
}

/// `base` joined with `path`, keeping any path prefix `base` already has.
fn endpoint(base: &Url, path: &str) -> Result<Url> {
    let mut base = base.clone();
    if !base.path().ends_with('/') {
        let with_slash = format!("{}/", base.path());
        base.set_path(&with_slash);
    }
    base.join(path).with_context(|| format!("joining {path} to {base}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_keep_prefixes() {
        let base = Url::parse("http://127.0.0.1:8086").unwrap();
        assert_eq!(endpoint(&base, "write").unwrap().as_str(), "http://127.0.0.1:8086/write");
        let base = Url::parse("http://h:1/influx").unwrap();
        assert_eq!(endpoint(&base, "write").unwrap().as_str(), "http://h:1/influx/write");
    }
}
