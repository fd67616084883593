//! The shared HTTP connection of the client subcommands.
//!
//! Every subcommand takes `--url` and `--token` (or `AUGUR_URL` /
//! `AUGUR_TOKEN`). Transport failures become "cannot reach URL: cause" and
//! 401/403 become "authentication refused", so a user sees at once whether
//! the server is down, the credentials are wrong, or the request is bad.

use std::time::Duration;

use clap::Args;
use reqwest::blocking::{Client, RequestBuilder, Response};
use reqwest::StatusCode;

use super::{ClientError, Result};

/// Where the server is and how to authenticate.
#[derive(Debug, Clone, Args)]
pub struct ConnArgs {
    /// Server URL
    #[arg(long, env = "AUGUR_URL", default_value = "http://127.0.0.1:8086", value_name = "URL")]
    pub url: String,
    /// API token, sent as `Authorization: Token <token>`
    #[arg(long, env = "AUGUR_TOKEN", value_name = "TOKEN", hide_env_values = true)]
    pub token: Option<String>,
}

/// A connection to one server.
#[derive(Debug, Clone)]
pub struct Conn {
    base: String,
    token: Option<String>,
    client: Client,
}

/// What a `/write` answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteOutcome {
    /// Every line stored.
    Ok,
    /// Some lines were rejected (the others stored); the server's message.
    Partial(String),
}

impl Conn {
    /// A connection described by the flags.
    pub fn new(args: &ConnArgs) -> Result<Conn> {
        let client = Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(None)
            .build()
            .map_err(|e| ClientError::Server(format!("cannot create an HTTP client: {e}")))?;
        let base = args.url.trim_end_matches('/').to_string();
        if !base.starts_with("http://") && !base.starts_with("https://") {
            return Err(ClientError::Input(format!("invalid --url {base:?}: expected http://host:port")));
        }
        Ok(Conn { base, token: args.token.clone().filter(|t| !t.is_empty()), client })
    }

    /// The server's base URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// A GET request to `path` with query parameters.
    pub fn get(&self, path: &str, params: &[(&str, &str)]) -> RequestBuilder {
        self.auth(self.client.get(format!("{}{path}", self.base)).query(params))
    }

    /// A POST request to `path` with query parameters.
    pub fn post(&self, path: &str, params: &[(&str, &str)]) -> RequestBuilder {
        self.auth(self.client.post(format!("{}{path}", self.base)).query(params))
    }

    fn auth(&self, req: RequestBuilder) -> RequestBuilder {
        match &self.token {
            Some(t) => req.header("Authorization", format!("Token {t}")),
            None => req,
        }
    }

    /// Sends a request; transport errors and 401/403 become messages, other
    /// statuses are returned.
    pub fn send(&self, req: RequestBuilder) -> Result<Response> {
        let resp = req.send().map_err(|e| self.unreachable(&e))?;
        match resp.status() {
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
                let status = resp.status();
                let msg = error_text(resp);
                Err(ClientError::Server(format!("authentication refused by {} ({status}): {msg}", self.base)))
            }
            _ => Ok(resp),
        }
    }

    /// Sends a request and fails on any non-2xx status.
    pub fn send_ok(&self, req: RequestBuilder) -> Result<Response> {
        let resp = self.send(req)?;
        if resp.status().is_success() {
            Ok(resp)
        } else {
            let status = resp.status();
            Err(ClientError::Server(format!("server answered {status}: {}", error_text(resp))))
        }
    }

    /// Writes one line-protocol body. Retries on 429 (too many writes).
    pub fn write(&self, params: &[(&str, &str)], body: Vec<u8>) -> Result<WriteOutcome> {
        loop {
            let resp = self.send(self.post("/write", params).body(body.clone()))?;
            match resp.status() {
                s if s.is_success() => return Ok(WriteOutcome::Ok),
                StatusCode::TOO_MANY_REQUESTS => std::thread::sleep(Duration::from_millis(200)),
                StatusCode::BAD_REQUEST => {
                    let msg = error_text(resp);
                    if msg.contains("line ") {
                        return Ok(WriteOutcome::Partial(msg));
                    }
                    return Err(ClientError::Server(format!("write refused: {msg}")));
                }
                s => return Err(ClientError::Server(format!("write failed ({s}): {}", error_text(resp)))),
            }
        }
    }

    /// Runs `/query` and returns the JSON body (errors inside results are
    /// left to the caller).
    pub fn query(&self, params: &[(&str, &str)]) -> Result<serde_json::Value> {
        let resp = self.send(self.post("/query", params))?;
        let status = resp.status();
        let text = resp.text().map_err(|e| self.unreachable(&e))?;
        match serde_json::from_str::<serde_json::Value>(&text) {
            Ok(v) if status.is_success() || v.get("error").is_some() => Ok(v),
            _ => Err(ClientError::Server(format!("query failed ({status}): {text}"))),
        }
    }

    fn unreachable(&self, e: &reqwest::Error) -> ClientError {
        ClientError::Server(format!("cannot reach {}: {}", self.base, root_cause(e)))
    }
}

/// The innermost cause of an error, lower-cased like the OS's messages.
fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cur = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    let text = cur.to_string();
    // "Connection refused (os error 111)" -> "connection refused"
    let text = text.split(" (os error").next().unwrap_or(&text).to_string();
    let mut chars = text.chars();
    match chars.next() {
        Some(c) => c.to_lowercase().collect::<String>() + chars.as_str(),
        None => text,
    }
}

/// The `error` member of a JSON error body, or the body itself.
pub fn error_text(resp: Response) -> String {
    let text = resp.text().unwrap_or_default();
    serde_json::from_str::<serde_json::Value>(&text)
        .ok()
        .and_then(|v| v.get("error").and_then(|e| e.as_str()).map(str::to_string))
        .unwrap_or(text)
}
