//! A tiny webhook receiver inside the demo: it accepts Augur's CloudEvents
//! on loopback, checks each `Augur-Signature` with the same code the docs
//! point consumers to ([`crate::webhooks::signature::verify`]) and prints
//! one line per event, so the terminal shows the loop as it happens.
//!
//! It is an ordinary HTTP consumer: the server delivers to it over TCP
//! exactly as it would to any subscriber.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::watch;

use super::output::Output;
use crate::clock::now_ns;
use crate::webhooks::signature;

/// Seconds a signature's timestamp may differ from now.
const TOLERANCE_S: i64 = 300;

/// What the receiver counted.
#[derive(Debug, Default)]
pub struct Counts {
    /// Events with a valid signature.
    pub verified: AtomicU64,
    /// Events whose signature did not verify (answered 401).
    pub rejected: AtomicU64,
}

struct ReceiverState {
    secret: String,
    out: Output,
    counts: Arc<Counts>,
}

/// A running receiver.
pub struct Receiver {
    /// Where it listens.
    pub addr: SocketAddr,
    /// What it counted.
    pub counts: Arc<Counts>,
    task: tokio::task::JoinHandle<()>,
}

impl Receiver {
    /// Binds 127.0.0.1 on a free port and serves until `stop` turns true.
    pub async fn start(secret: String, out: Output, stop: watch::Receiver<bool>) -> std::io::Result<Receiver> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let counts = Arc::new(Counts::default());
        let state = Arc::new(ReceiverState { secret, out, counts: Arc::clone(&counts) });
        let app = Router::new().route("/events", post(receive)).with_state(state);
        let task = tokio::spawn(async move {
            let mut stop = stop;
            let shutdown = async move {
                let _ = stop.wait_for(|s| *s).await;
            };
            if let Err(err) = axum::serve(listener, app).with_graceful_shutdown(shutdown).await {
                tracing::warn!(error = %err, "demo webhook receiver stopped");
            }
        });
        Ok(Receiver { addr, counts, task })
    }

    /// Waits for the receiver to stop (after its stop signal).
    pub async fn join(self) {
        let _ = self.task.await;
    }
}

async fn receive(State(state): State<Arc<ReceiverState>>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let header = headers.get(signature::HEADER).and_then(|v| v.to_str().ok()).unwrap_or_default();
    if !signature::verify(&state.secret, header, &body, now_ns() / 1_000_000_000, TOLERANCE_S) {
        state.counts.rejected.fetch_add(1, Ordering::Relaxed);
        state.out.line(&format!("event REJECTED: bad or missing {} header", signature::HEADER));
        return StatusCode::UNAUTHORIZED;
    }
    state.counts.verified.fetch_add(1, Ordering::Relaxed);
    match serde_json::from_slice::<Value>(&body) {
        Ok(event) => state.out.line(&describe(&event)),
        Err(_) => state.out.line("event (signed, but not JSON)"),
    }
    StatusCode::NO_CONTENT
}

/// One line for an event: its type, subject and the gist of its data.
pub fn describe(event: &Value) -> String {
    let kind = event["type"].as_str().unwrap_or("?");
    let data = &event["data"];
    let source = event["source"].as_str().unwrap_or_default();
    let pool = source.rsplit_once("/pools/").map(|(_, p)| p.to_string());
    let subject = event["subject"].as_str().map(str::to_string);
    let who = match (pool, subject) {
        (Some(p), Some(s)) => format!("{p}/{s}"),
        (Some(p), None) => p,
        (None, Some(s)) => s,
        (None, None) => String::new(),
    };
    let gist = match kind {
        "io.augur.pool.scale_up" | "io.augur.pool.scale_down" => text(&data["reason"]),
        "io.augur.pool.unit_ready" => format!("at {}", text(&data["address"])),
        "io.augur.pool.unit_requested" | "io.augur.pool.unit_released" | "io.augur.pool.unit_timed_out" => {
            format!("shape {}", text(&data["shape"]))
        }
        "io.augur.forecast.threshold_crossed" => {
            format!("forecast {} the pool's max of {} units", direction(&data["direction"]), data["max_units"])
        }
        "io.augur.anomaly.detected" => format!(
            "{} {}.{} = {} (expected {})",
            text(&data["database"]),
            text(&data["measurement"]),
            text(&data["field"]),
            number(&data["value"]),
            number(&data["expected"])
        ),
        _ => short(data),
    };
    format!("event {kind:<36} {who:<14} {gist}")
}

fn direction(v: &Value) -> &'static str {
    if v.as_str() == Some("down") {
        "fell back under"
    } else {
        "crossed"
    }
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "-".to_string(),
        other => other.to_string(),
    }
}

fn number(v: &Value) -> String {
    v.as_f64().map_or_else(|| text(v), |x| format!("{x:.2}"))
}

/// The data as compact JSON, cut to about 100 characters.
fn short(data: &Value) -> String {
    let s = data.to_string();
    match s.char_indices().nth(100) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_name_the_pool_unit_and_gist() {
        let e = serde_json::json!({"type": "io.augur.pool.unit_ready", "source": "/augur/tenants/default/pools/web",
            "subject": "u000003", "data": {"address": "127.0.0.1:9000", "shape": "core4"}});
        let line = describe(&e);
        assert!(line.contains("io.augur.pool.unit_ready") && line.contains("web/u000003"), "{line}");
        assert!(line.contains("at 127.0.0.1:9000"), "{line}");
        let e = serde_json::json!({"type": "io.augur.model.swapped", "source": "/augur/tenants/default",
            "data": {"x": "y".repeat(300)}});
        assert!(describe(&e).chars().count() < 200);
    }
}
