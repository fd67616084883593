//! The configuration file's schema (TOML), exactly as written by the user:
//! every key optional, values still unparsed strings where they carry units.
//!
//! Kept apart from the resolved [`Config`](super::Config) so that "what the
//! file said" and "what the server uses" are different types: the file is
//! only one of three sources, and unknown keys are errors here (a typo must
//! not silently fall back to a default).

use std::path::PathBuf;

use serde::Deserialize;

/// The whole file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// `listen = "127.0.0.1:8086"`
    pub listen: Option<String>,
    /// `data_dir = "./augur-data"`
    pub data_dir: Option<PathBuf>,
    /// `[storage]`
    #[serde(default)]
    pub storage: StorageSection,
    /// `[http]`
    #[serde(default)]
    pub http: HttpSection,
    /// `[query]`
    #[serde(default)]
    pub query: QuerySection,
    /// `[continuous_queries]`
    #[serde(default)]
    pub continuous_queries: ContinuousQueriesSection,
    /// `[auth]`
    #[serde(default)]
    pub auth: AuthSection,
    /// `[privacy]`
    #[serde(default)]
    pub privacy: PrivacySection,
    /// `[tls]`
    #[serde(default)]
    pub tls: TlsSection,
    /// `[forecast]`
    #[serde(default)]
    pub forecast: super::forecast::ForecastSection,
    /// `[pools]`
    #[serde(default)]
    pub pools: super::pools::PoolsSection,
    /// `[[pool]]`: pools defined in the file.
    #[serde(default)]
    pub pool: Vec<crate::pools::spec::PoolSpec>,
    /// `[webhooks]`
    #[serde(default)]
    pub webhooks: super::webhooks::WebhooksSection,
    /// `[monitor]`
    #[serde(default)]
    pub monitor: super::monitor::MonitorSection,
    /// `[anomaly]`
    #[serde(default)]
    pub anomaly: super::anomaly::AnomalySection,
}

/// The `[tls]` table.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsSection {
    /// `cert = "/etc/augur/cert.pem"`: PEM certificate chain.
    pub cert: Option<PathBuf>,
    /// `key = "/etc/augur/key.pem"`: PEM private key.
    pub key: Option<PathBuf>,
}

/// The `[privacy]` table.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrivacySection {
    /// `location_tags = ["geo", "country", "region_geo", "lat", "lon", "ip"]`
    pub location_tags: Option<Vec<String>>,
}

/// The `[auth]` table.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthSection {
    /// `enabled = true`
    pub enabled: Option<bool>,
    /// `max_failures = 10`: failed logins per client address per window (0 = no limit).
    pub max_failures: Option<u32>,
    /// `failure_window = "1m"`
    pub failure_window: Option<String>,
}

/// The `[query]` table.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuerySection {
    /// `max_select_points = 50000000` (0 = unlimited)
    pub max_select_points: Option<u64>,
    /// `max_select_buckets = 1000000` (0 = unlimited)
    pub max_select_buckets: Option<u64>,
    /// `timeout = "0s"` (0 = none)
    pub timeout: Option<String>,
    /// `chunk_size = 10000`: rows per chunk when a request asks for
    /// `chunked=true` without `chunk_size`.
    pub chunk_size: Option<u64>,
    /// `inline = true`: run queries on the request's own thread (HTTP/1
    /// over plain TCP) instead of handing them to a blocking thread.
    pub inline: Option<bool>,
}

/// The `[continuous_queries]` table.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContinuousQueriesSection {
    /// `enabled = true`
    pub enabled: Option<bool>,
    /// `run_interval = "1s"`: how often the scheduler looks for new queries.
    pub run_interval: Option<String>,
    /// `max_catch_up = "24h"`: how far back a run after downtime reaches.
    pub max_catch_up: Option<String>,
}

/// The `[storage]` table.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StorageSection {
    /// `wal_sync = "always" | "interval"`
    pub wal_sync: Option<WalSyncMode>,
    /// `wal_sync_interval = "100ms"` (with `wal_sync = "interval"`)
    pub wal_sync_interval: Option<String>,
    /// `block_window = "2h"`
    pub block_window: Option<String>,
    /// `max_series_per_database = 1000000` (0 = unlimited)
    pub max_series_per_database: Option<u64>,
    /// `retention_check_interval = "30m"`
    pub retention_check_interval: Option<String>,
    /// `block_cache_size = "128MiB"` or a number of bytes
    pub block_cache_size: Option<SizeValue>,
}

/// When the WAL is fsynced, as spelled in the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WalSyncMode {
    /// Before every write is acknowledged.
    Always,
    /// In the background every `wal_sync_interval`.
    Interval,
}

/// The `[http]` table.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpSection {
    /// `max_body_size = "32MiB"` or a number of bytes.
    pub max_body_size: Option<SizeValue>,
    /// `max_concurrent_writes = 64`
    pub max_concurrent_writes: Option<u64>,
    /// `max_connections = 1024`
    pub max_connections: Option<u64>,
    /// `shutdown_timeout = "30s"`
    pub shutdown_timeout: Option<String>,
}

/// A size given as a number of bytes or as text with a unit.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum SizeValue {
    /// `max_body_size = 1048576`
    Bytes(u64),
    /// `max_body_size = "32MiB"`
    Text(String),
}
