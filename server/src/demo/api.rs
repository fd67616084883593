//! The demo's HTTP client of the server it started: every step of the
//! demo goes through the public API (`/write`, `/query`, `/v1/pools`,
//! `/v1/webhooks`), exactly as a user's scripts would.

use std::net::SocketAddr;
use std::time::Duration;

use serde_json::Value;

/// A failed API call: what was attempted and what the server said.
#[derive(Debug, thiserror::Error)]
#[error("{what}: {message}")]
pub struct ApiError {
    /// The call.
    pub what: String,
    /// The status and body, or the transport error.
    pub message: String,
}

/// A client of one server.
#[derive(Debug, Clone)]
pub struct Api {
    base: String,
    client: reqwest::Client,
}

impl Api {
    /// A client of `http://addr`.
    pub fn new(addr: SocketAddr) -> Result<Api, ApiError> {
        let client = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(30))
            .build()
            .map_err(|e| ApiError { what: "HTTP client".into(), message: e.to_string() })?;
        Ok(Api { base: format!("http://{addr}"), client })
    }

    /// Sends a request; the body of a 2xx answer as JSON (`null` when empty).
    async fn send(&self, what: &str, request: reqwest::RequestBuilder) -> Result<Value, ApiError> {
        let err = |message: String| ApiError { what: what.to_string(), message };
        let response = request.send().await.map_err(|e| err(e.to_string()))?;
        let status = response.status();
        let body = response.text().await.map_err(|e| err(e.to_string()))?;
        if !status.is_success() {
            return Err(err(format!("{status}: {}", body.trim())));
        }
        if body.trim().is_empty() {
            return Ok(Value::Null);
        }
        serde_json::from_str(&body).map_err(|e| err(format!("answer is not JSON ({e})")))
    }

    /// `GET /ping` answered 204.
    pub async fn ping(&self) -> bool {
        self.send("ping", self.client.get(format!("{}/ping", self.base))).await.is_ok()
    }

    /// Writes line protocol with second precision.
    pub async fn write(&self, db: &str, lines: String) -> Result<(), ApiError> {
        let url = format!("{}/write", self.base);
        let request = self.client.post(url).query(&[("db", db), ("precision", "s")]).body(lines);
        self.send(&format!("write to {db}"), request).await.map(|_| ())
    }

    /// Runs one statement (POST, so it may change things); an error the
    /// statement itself reports is an error too.
    pub async fn query(&self, db: Option<&str>, q: &str) -> Result<Value, ApiError> {
        let mut form = vec![("q", q)];
        if let Some(db) = db {
            form.push(("db", db));
        }
        let url = format!("{}/query", self.base);
        let answer = self.send(q, self.client.post(url).form(&form)).await?;
        if let Some(message) = answer["results"][0]["error"].as_str() {
            return Err(ApiError { what: q.to_string(), message: message.to_string() });
        }
        Ok(answer)
    }

    /// `POST path` with a JSON body.
    pub async fn post_json(&self, path: &str, body: &Value) -> Result<Value, ApiError> {
        let request = self.client.post(format!("{}{path}", self.base)).json(body);
        self.send(&format!("POST {path}"), request).await
    }

    /// `GET path`, as JSON.
    pub async fn get_json(&self, path: &str) -> Result<Value, ApiError> {
        self.send(&format!("GET {path}"), self.client.get(format!("{}{path}", self.base))).await
    }
}
