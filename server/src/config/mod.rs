//! The server's configuration: sources, precedence, validation.
//!
//! Four sources, highest first: command-line flag, environment variable
//! (`AUGUR_DATA_DIR`, `AUGUR_LISTEN`, `AUGUR_CONFIG`), the TOML file, the
//! built-in default. [`Config::load`] takes the environment as a lookup
//! function rather than reading the process environment, so precedence is
//! unit-tested without racing other tests. Every key is documented in
//! docs/configuration.md.

mod anomaly;
mod file;
mod forecast;
mod monitor;
mod pools;
mod units;
mod webhooks;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use augur_engine::storage::{StoreOptions, WalSync};

pub use anomaly::{AnomalyConfig, AnomalySection};
pub use file::FileConfig;
use file::{SizeValue, WalSyncMode};
pub use forecast::{ForecastConfig, ForecastSection};
pub use pools::{PoolsConfig, PoolsSection, DEFAULT_EXEC_CONCURRENCY};
pub use units::{parse_positive_duration, parse_size};
pub use webhooks::WebhooksSection;

use crate::auth::AuthConfig;
use crate::cli::ServeArgs;
use crate::webhooks::WebhookConfig;

/// Environment variable for the data directory.
pub const ENV_DATA_DIR: &str = "AUGUR_DATA_DIR";
/// Environment variable for the listen address.
pub const ENV_LISTEN: &str = "AUGUR_LISTEN";
/// Environment variable for the configuration file.
pub const ENV_CONFIG: &str = "AUGUR_CONFIG";
/// Environment variable switching authentication on or off.
pub const ENV_AUTH_ENABLED: &str = "AUGUR_AUTH_ENABLED";
/// Environment variable switching the `_internal` database on or off
/// (overrides `[monitor] enabled`).
pub const ENV_MONITOR_ENABLED: &str = "AUGUR_MONITOR_ENABLED";
/// Environment variable naming the TLS certificate (PEM).
pub const ENV_TLS_CERT: &str = "AUGUR_TLS_CERT";
/// Environment variable naming the TLS private key (PEM).
pub const ENV_TLS_KEY: &str = "AUGUR_TLS_KEY";
/// Environment variable seeding the first admin's token.
pub const ENV_ADMIN_TOKEN: &str = "AUGUR_ADMIN_TOKEN";
/// Environment variable for the log filter (tracing `EnvFilter` syntax).
pub const ENV_LOG: &str = "AUGUR_LOG";

/// Default listen address (InfluxDB's port, loopback only).
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8086";
/// Default data directory.
pub const DEFAULT_DATA_DIR: &str = "./augur-data";

/// Why the configuration is unusable. Each names the file or key at fault.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The configuration file could not be read.
    #[error("cannot read config file {path}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The configuration file is not valid TOML or has unknown keys.
    #[error("invalid config file {path}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// What the TOML parser said.
        source: Box<toml::de::Error>,
    },
    /// A value is out of range or malformed.
    #[error("invalid {key}: {message}")]
    Invalid {
        /// The key (`listen`, `storage.block_window`, ...).
        key: &'static str,
        /// What is wrong with it.
        message: String,
    },
}

fn invalid(key: &'static str, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid { key, message: message.into() }
}

/// The resolved configuration the server runs with.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Address to bind.
    pub listen: SocketAddr,
    /// Where the store keeps its files.
    pub data_dir: PathBuf,
    /// Storage engine settings.
    pub storage: StorageConfig,
    /// HTTP server limits.
    pub http: HttpConfig,
    /// Query limits (`[query]`).
    pub query: QueryConfig,
    /// The continuous query scheduler.
    pub continuous_queries: ContinuousQueriesConfig,
    /// Authentication (`[auth]`).
    pub auth: AuthConfig,
    /// HTTPS certificate and key (`[tls]`); `None` = plain HTTP.
    pub tls: Option<TlsPaths>,
    /// The fit worker pool and continuous forecasts' model registry (`[forecast]`).
    pub forecast: ForecastConfig,
    /// The pool manager's limits and the pools defined in the file.
    pub pools: PoolsConfig,
    /// Webhook delivery (`[webhooks]`).
    pub webhooks: WebhookConfig,
    /// Self-monitoring (`[monitor]`).
    pub monitor: crate::monitor::internal::MonitorConfig,
    /// Anomaly detection on continuous forecasts (`[anomaly]`).
    pub anomaly: AnomalyConfig,
}

/// The PEM files of `--tls-cert` and `--tls-key`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsPaths {
    /// Certificate chain.
    pub cert: PathBuf,
    /// Private key.
    pub key: PathBuf,
}

/// Query limits (`[query]`).
#[derive(Debug, Clone, PartialEq)]
pub struct QueryConfig {
    /// Most points one `SELECT` may read; 0 = unlimited.
    pub max_select_points: u64,
    /// Most `GROUP BY time` buckets per series; 0 = unlimited.
    pub max_select_buckets: u64,
    /// Longest a query may run; `None` = no limit.
    pub timeout: Option<Duration>,
    /// Rows per chunk for `chunked=true` without `chunk_size`.
    pub chunk_size: usize,
    /// Whether queries over HTTP/1 on plain TCP run on the request's own
    /// async worker (inside `block_in_place`) rather than on a blocking
    /// thread. Why: the hand-off to a blocking thread and back is two
    /// thread wake-ups, more than a one-series query takes; the query's
    /// checks then ask the socket whether the client hung up (see
    /// `crate::hangup`), so a disconnect still stops it.
    pub inline: bool,
}

impl Default for QueryConfig {
    fn default() -> Self {
        QueryConfig {
            max_select_points: augur_query::exec::DEFAULT_MAX_SELECT_POINTS,
            max_select_buckets: augur_query::exec::DEFAULT_MAX_SELECT_BUCKETS,
            timeout: None,
            chunk_size: 10_000,
            inline: true,
        }
    }
}

fn query_config(file: &FileConfig) -> Result<QueryConfig, ConfigError> {
    let section = &file.query;
    let defaults = QueryConfig::default();
    let timeout = match section.timeout.as_deref().map(str::trim) {
        None | Some("0") | Some("0s") => None,
        Some(text) => Some(parse_positive_duration(text).map_err(|m| invalid("query.timeout", m))?),
    };
    let chunk_size = match section.chunk_size {
        None => defaults.chunk_size,
        Some(0) => return Err(invalid("query.chunk_size", "must be at least 1")),
        Some(n) => usize::try_from(n).map_err(|_| invalid("query.chunk_size", "too large"))?,
    };
    Ok(QueryConfig {
        max_select_points: section.max_select_points.unwrap_or(defaults.max_select_points),
        max_select_buckets: section.max_select_buckets.unwrap_or(defaults.max_select_buckets),
        timeout,
        chunk_size,
        inline: section.inline.unwrap_or(defaults.inline),
    })
}

/// The continuous query scheduler (`[continuous_queries]`).
#[derive(Debug, Clone, PartialEq)]
pub struct ContinuousQueriesConfig {
    /// Whether continuous queries run at all (they can be created either way).
    pub enabled: bool,
    /// The longest the scheduler sleeps between looks at the stored queries
    /// (a new query is noticed within this time; due runs wake it earlier).
    pub run_interval: Duration,
    /// After downtime, a query catches up at most this far back.
    pub max_catch_up: Duration,
}

impl Default for ContinuousQueriesConfig {
    fn default() -> Self {
        ContinuousQueriesConfig {
            enabled: true,
            run_interval: Duration::from_secs(1),
            max_catch_up: Duration::from_secs(24 * 3600),
        }
    }
}

/// Storage engine settings (`[storage]`).
#[derive(Debug, Clone, PartialEq)]
pub struct StorageConfig {
    /// WAL durability policy.
    pub wal_sync: WalSync,
    /// Width of a sealed block's time window.
    pub block_window: Duration,
    /// Most series per database; 0 = unlimited.
    pub max_series_per_database: usize,
    /// How often expired data is dropped.
    pub retention_check_interval: Duration,
    /// Bytes of RocksDB's block cache.
    pub block_cache_size: usize,
}

/// HTTP server limits (`[http]`).
#[derive(Debug, Clone, PartialEq)]
pub struct HttpConfig {
    /// Largest request body, in bytes, after gzip decompression too.
    pub max_body_size: usize,
    /// Write requests processed at once; more get 429.
    pub max_concurrent_writes: usize,
    /// Open connections at once; more wait in the listen backlog.
    pub max_connections: usize,
    /// How long shutdown waits for in-flight requests.
    pub shutdown_timeout: Duration,
}

impl Default for StorageConfig {
    fn default() -> Self {
        StorageConfig {
            wal_sync: WalSync::Always,
            block_window: Duration::from_secs(2 * 3600),
            max_series_per_database: 1_000_000,
            retention_check_interval: Duration::from_secs(30 * 60),
            block_cache_size: 128 << 20,
        }
    }
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            max_body_size: 32 << 20,
            max_concurrent_writes: 64,
            max_connections: 1024,
            shutdown_timeout: Duration::from_secs(30),
        }
    }
}

/// Default `wal_sync_interval` when `wal_sync = "interval"`.
const DEFAULT_WAL_SYNC_INTERVAL: Duration = Duration::from_millis(100);

impl Config {
    /// Resolves the configuration from flags, the environment (`env` looks a
    /// variable up; empty values count as unset) and the file named by
    /// `--config` or `AUGUR_CONFIG`, if any.
    pub fn load(args: &ServeArgs, env: &dyn Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let env = |key: &str| env(key).filter(|v| !v.is_empty());
        let config_path = args.config.clone().or_else(|| env(ENV_CONFIG).map(PathBuf::from));
        let file = match &config_path {
            Some(path) => read_file(path)?,
            None => FileConfig::default(),
        };
        let listen = args
            .listen
            .clone()
            .or_else(|| env(ENV_LISTEN))
            .or_else(|| file.listen.clone())
            .unwrap_or_else(|| DEFAULT_LISTEN.to_string());
        let data_dir = args
            .data_dir
            .clone()
            .or_else(|| env(ENV_DATA_DIR).map(PathBuf::from))
            .or_else(|| file.data_dir.clone())
            .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR));
        let listen = parse_listen(&listen)?;
        let auth_flag = match args.auth_enabled {
            Some(b) => Some(b),
            None => match env(ENV_AUTH_ENABLED) {
                Some(text) => Some(parse_bool(&text).ok_or_else(|| {
                    invalid("auth.enabled", format!("{ENV_AUTH_ENABLED}={text:?} is not true or false"))
                })?),
                None => None,
            },
        };
        let tls_cert = args.tls_cert.clone().or_else(|| env(ENV_TLS_CERT).map(PathBuf::from)).or(file.tls.cert.clone());
        let tls_key = args.tls_key.clone().or_else(|| env(ENV_TLS_KEY).map(PathBuf::from)).or(file.tls.key.clone());
        let tls = match (tls_cert, tls_key) {
            (Some(cert), Some(key)) => Some(TlsPaths { cert, key }),
            (None, None) => None,
            (Some(_), None) => return Err(invalid("tls.key", "a certificate needs its key (--tls-key)")),
            (None, Some(_)) => return Err(invalid("tls.cert", "a key needs its certificate (--tls-cert)")),
        };
        Ok(Config {
            tls,
            auth: auth_config(&file, auth_flag, listen)?,
            listen,
            data_dir,
            storage: storage_config(&file)?,
            http: http_config(&file)?,
            query: query_config(&file)?,
            continuous_queries: continuous_queries_config(&file)?,
            forecast: forecast::forecast_config(&file.forecast)?,
            pools: pools::pools_config(&file.pools, &file.pool)?,
            webhooks: webhooks::webhooks_config(&file.webhooks)?,
            monitor: {
                let mut monitor = monitor::monitor_config(&file.monitor)?;
                if let Some(text) = env(ENV_MONITOR_ENABLED) {
                    monitor.enabled = parse_bool(&text).ok_or_else(|| {
                        invalid("monitor.enabled", format!("{ENV_MONITOR_ENABLED}={text:?} is not true or false"))
                    })?;
                }
                monitor
            },
            anomaly: anomaly::anomaly_config(&file.anomaly)?,
        })
    }

    /// The store options this configuration asks for.
    pub fn store_options(&self) -> StoreOptions {
        StoreOptions {
            wal_sync: self.storage.wal_sync,
            // Validated to fit when loaded.
            block_window_ns: i64::try_from(self.storage.block_window.as_nanos()).unwrap_or(i64::MAX),
            max_series_per_database: self.storage.max_series_per_database,
            block_cache_bytes: self.storage.block_cache_size,
            ..StoreOptions::default()
        }
    }
}

fn read_file(path: &Path) -> Result<FileConfig, ConfigError> {
    let text =
        std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.to_path_buf(), source })?;
    parse_file(path, &text)
}

/// Parses the text of a configuration file.
pub fn parse_file(path: &Path, text: &str) -> Result<FileConfig, ConfigError> {
    toml::from_str(text).map_err(|source| ConfigError::Parse { path: path.to_path_buf(), source: Box::new(source) })
}

/// `ip:port`, or `:port` for every interface (InfluxDB's spelling).
fn parse_listen(s: &str) -> Result<SocketAddr, ConfigError> {
    let full = if s.starts_with(':') { format!("0.0.0.0{s}") } else { s.to_string() };
    full.parse().map_err(|_| {
        invalid("listen", format!("{s:?} is not an address (use ip:port, e.g. 127.0.0.1:8086, [::1]:8086 or :8086)"))
    })
}

/// The duration under `key` (`default` when absent); refused when it does
/// not fit in i64 nanoseconds, the form the server computes with.
pub(super) fn duration_key(
    key: &'static str,
    value: &Option<String>,
    default: Duration,
) -> Result<Duration, ConfigError> {
    let d = match value {
        Some(s) => parse_positive_duration(s).map_err(|m| invalid(key, m))?,
        None => default,
    };
    if i64::try_from(d.as_nanos()).is_err() {
        return Err(invalid(key, "too large"));
    }
    Ok(d)
}

fn count_key(key: &'static str, value: Option<u64>, default: usize, min: u64) -> Result<usize, ConfigError> {
    match value {
        None => Ok(default),
        Some(n) if n < min => Err(invalid(key, format!("must be at least {min}"))),
        Some(n) => usize::try_from(n).map_err(|_| invalid(key, "too large")),
    }
}

fn storage_config(file: &FileConfig) -> Result<StorageConfig, ConfigError> {
    let section = &file.storage;
    let defaults = StorageConfig::default();
    let interval = duration_key("storage.wal_sync_interval", &section.wal_sync_interval, DEFAULT_WAL_SYNC_INTERVAL)?;
    let wal_sync = match section.wal_sync.unwrap_or(WalSyncMode::Always) {
        WalSyncMode::Always => WalSync::Always,
        WalSyncMode::Interval => WalSync::Interval(interval),
    };
    let block_window = duration_key("storage.block_window", &section.block_window, defaults.block_window)?;
    if i64::try_from(block_window.as_nanos()).is_err() {
        return Err(invalid("storage.block_window", "too large"));
    }
    Ok(StorageConfig {
        wal_sync,
        block_window,
        max_series_per_database: count_key(
            "storage.max_series_per_database",
            section.max_series_per_database,
            defaults.max_series_per_database,
            0,
        )?,
        retention_check_interval: duration_key(
            "storage.retention_check_interval",
            &section.retention_check_interval,
            defaults.retention_check_interval,
        )?,
        block_cache_size: size_key("storage.block_cache_size", &section.block_cache_size, defaults.block_cache_size)?,
    })
}

fn continuous_queries_config(file: &FileConfig) -> Result<ContinuousQueriesConfig, ConfigError> {
    let section = &file.continuous_queries;
    let defaults = ContinuousQueriesConfig::default();
    let max_catch_up = duration_key("continuous_queries.max_catch_up", &section.max_catch_up, defaults.max_catch_up)?;
    if i64::try_from(max_catch_up.as_nanos()).is_err() {
        return Err(invalid("continuous_queries.max_catch_up", "too large"));
    }
    Ok(ContinuousQueriesConfig {
        enabled: section.enabled.unwrap_or(defaults.enabled),
        run_interval: duration_key("continuous_queries.run_interval", &section.run_interval, defaults.run_interval)?,
        max_catch_up,
    })
}

fn parse_bool(text: &str) -> Option<bool> {
    match text.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Some(true),
        "false" | "0" | "no" | "off" => Some(false),
        _ => None,
    }
}

/// `[auth]`; switching it off is refused beyond loopback.
fn auth_config(file: &FileConfig, flag: Option<bool>, listen: SocketAddr) -> Result<AuthConfig, ConfigError> {
    let section = &file.auth;
    let defaults = AuthConfig::default();
    let enabled = flag.or(section.enabled).unwrap_or(defaults.enabled);
    if !enabled && !listen.ip().is_loopback() {
        return Err(invalid(
            "auth.enabled",
            format!("authentication is required when listening beyond loopback ({listen}); it can be off only on 127.0.0.1 or ::1"),
        ));
    }
    Ok(AuthConfig {
        enabled,
        max_failures: section.max_failures.unwrap_or(defaults.max_failures),
        failure_window: duration_key("auth.failure_window", &section.failure_window, defaults.failure_window)?,
        location_tags: file.privacy.location_tags.clone().unwrap_or(defaults.location_tags),
    })
}

/// A size setting (`"32MiB"` or a number of bytes), at least 1 byte.
fn size_key(key: &'static str, value: &Option<SizeValue>, default: usize) -> Result<usize, ConfigError> {
    let Some(value) = value else { return Ok(default) };
    let bytes = match value {
        SizeValue::Bytes(n) => *n,
        SizeValue::Text(s) => parse_size(s).map_err(|m| invalid(key, m))?,
    };
    if bytes == 0 {
        return Err(invalid(key, "must be at least 1 byte"));
    }
    usize::try_from(bytes).map_err(|_| invalid(key, "too large"))
}

fn http_config(file: &FileConfig) -> Result<HttpConfig, ConfigError> {
    let section = &file.http;
    let defaults = HttpConfig::default();
    let max_body_size = size_key("http.max_body_size", &section.max_body_size, defaults.max_body_size)?;
    Ok(HttpConfig {
        max_body_size,
        max_concurrent_writes: count_key(
            "http.max_concurrent_writes",
            section.max_concurrent_writes,
            defaults.max_concurrent_writes,
            1,
        )?,
        max_connections: count_key("http.max_connections", section.max_connections, defaults.max_connections, 1)?,
        shutdown_timeout: duration_key("http.shutdown_timeout", &section.shutdown_timeout, defaults.shutdown_timeout)?,
    })
}

#[cfg(test)]
mod tests;
