//! One HTTP endpoint speaking the InfluxDB 1.x API — Augur or `influxd`.
//!
//! The conformance and differential suites send the very same requests to
//! both servers, so they talk to a [`Target`] (a base URL and a client)
//! rather than to [`crate::Server`] or [`crate::influxd::Influxd`]
//! directly.

use std::time::Duration;

use reqwest::blocking::Client;
use reqwest::header::CONTENT_TYPE;

use crate::{encode, into_reply, Reply, REQUEST_TIMEOUT};

/// Options of one `/query` request besides `q`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueryOptions {
    /// `db` (none when `None`).
    pub db: Option<String>,
    /// `rp`.
    pub rp: Option<String>,
    /// `epoch` (`ns`, `u`, `ms`, `s`, `m`, `h`).
    pub epoch: Option<String>,
    /// `params` (a JSON object, as text).
    pub params: Option<String>,
    /// `chunked=true`.
    pub chunked: bool,
    /// `chunk_size=N` (with `chunked`).
    pub chunk_size: Option<u32>,
    /// Sends `Accept: application/csv`.
    pub csv: bool,
    /// Sends `GET /query?...` instead of a form `POST`.
    pub get: bool,
}

/// An InfluxDB 1.x HTTP endpoint.
#[derive(Debug, Clone)]
pub struct Target {
    base: String,
    client: Client,
}

impl Target {
    /// The endpoint at `base` (`http://127.0.0.1:PORT`).
    pub fn new(base: &str) -> Target {
        let client =
            Client::builder().timeout(REQUEST_TIMEOUT).no_proxy().build().expect("cannot build the HTTP client");
        Target { base: base.trim_end_matches('/').to_string(), client }
    }

    /// The base URL.
    pub fn base_url(&self) -> &str {
        &self.base
    }

    /// Whether `GET /ping` answers 204.
    pub fn ping(&self) -> bool {
        self.client
            .get(format!("{}/ping", self.base))
            .timeout(Duration::from_secs(2))
            .send()
            .map(|r| r.status().as_u16() == 204)
            .unwrap_or(false)
    }

    /// Runs `q` with `options`; panics on transport errors only.
    pub fn query(&self, q: &str, options: &QueryOptions) -> Reply {
        let mut form = format!("q={}", encode(q));
        let mut add = |k: &str, v: &str| form.push_str(&format!("&{k}={}", encode(v)));
        if let Some(db) = &options.db {
            add("db", db);
        }
        if let Some(rp) = &options.rp {
            add("rp", rp);
        }
        if let Some(epoch) = &options.epoch {
            add("epoch", epoch);
        }
        if let Some(params) = &options.params {
            add("params", params);
        }
        if options.chunked {
            add("chunked", "true");
        }
        if let Some(n) = options.chunk_size {
            add("chunk_size", &n.to_string());
        }
        let request = if options.get {
            self.client.get(format!("{}/query?{form}", self.base))
        } else {
            self.client
                .post(format!("{}/query", self.base))
                .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(form)
        };
        let request = if options.csv { request.header(reqwest::header::ACCEPT, "application/csv") } else { request };
        let response = request.send().unwrap_or_else(|e| panic!("query {q:?} to {}: {e}", self.base));
        into_reply(response)
    }

    /// Runs `q` against database `db` (form `POST`).
    pub fn query_db(&self, q: &str, db: &str) -> Reply {
        self.query(q, &QueryOptions { db: Some(db.to_string()), ..QueryOptions::default() })
    }

    /// `POST /write?db=DB[&rp=RP]&precision=P` with a line-protocol body.
    pub fn write(&self, db: &str, rp: Option<&str>, precision: &str, body: &str) -> Reply {
        let mut url = format!("{}/write?db={}&precision={}", self.base, encode(db), encode(precision));
        if let Some(rp) = rp {
            url.push_str(&format!("&rp={}", encode(rp)));
        }
        let response = self
            .client
            .post(url)
            .body(body.to_string())
            .send()
            .unwrap_or_else(|e| panic!("write to {}: {e}", self.base));
        into_reply(response)
    }

    /// Runs a statement that must succeed (200 and no `error` in any
    /// result); panics with the reply otherwise.
    #[track_caller]
    pub fn must(&self, q: &str, db: Option<&str>) {
        let reply = self.query(q, &QueryOptions { db: db.map(str::to_string), ..QueryOptions::default() });
        assert!(reply.status == 200 && !reply.body.contains("\"error\""), "{q:?} failed on {}: {reply}", self.base);
    }

    /// Drops every database (`SHOW DATABASES`, then `DROP DATABASE` each).
    pub fn drop_all_databases(&self) {
        let reply = self.query("SHOW DATABASES", &QueryOptions::default());
        let json: serde_json::Value = serde_json::from_str(&reply.body).unwrap_or_default();
        for name in crate::column_values(&json, 0) {
            self.must(&format!("DROP DATABASE \"{}\"", name.replace('"', "\\\"")), None);
        }
    }
}
