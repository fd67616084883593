//! The `[monitor]` section: whether and how often the server writes its own
//! health and KPIs to the `_internal` database, and how long it keeps them.

use std::time::Duration;

use serde::Deserialize;

use super::{duration_key, invalid, ConfigError};
use crate::monitor::internal::MonitorConfig;

/// The `[monitor]` table as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MonitorSection {
    /// `enabled = true`: write `_internal` (`/metrics` is always served).
    pub enabled: Option<bool>,
    /// `interval = "10s"`: how often server health is written.
    pub interval: Option<String>,
    /// `retention = "7d"`: how long `_internal` keeps points (its default
    /// retention policy `monitor`, created with the database).
    pub retention: Option<String>,
    /// `tenant_watch = "1m"`: bucket of the continuous forecasts that watch
    /// each tenant's ingest and query rate for anomalies (`"0s"`: none).
    pub tenant_watch: Option<String>,
}

/// Validates the section.
pub(super) fn monitor_config(section: &MonitorSection) -> Result<MonitorConfig, ConfigError> {
    let d = MonitorConfig::default();
    let retention = duration_key("monitor.retention", &section.retention, d.retention)?;
    if retention < Duration::from_secs(3600) {
        return Err(invalid("monitor.retention", "must be at least 1h (as InfluxDB's shortest retention)"));
    }
    Ok(MonitorConfig {
        enabled: section.enabled.unwrap_or(d.enabled),
        interval: duration_key("monitor.interval", &section.interval, d.interval)?,
        retention,
        tenant_watch: match section.tenant_watch.as_deref().map(str::trim) {
            None => d.tenant_watch,
            Some("0" | "0s") => Duration::ZERO,
            Some(text) => {
                let bucket = duration_key("monitor.tenant_watch", &Some(text.to_string()), d.tenant_watch)?;
                if bucket < Duration::from_secs(1) {
                    return Err(invalid("monitor.tenant_watch", "must be at least 1s (or \"0s\" for none)"));
                }
                bucket
            }
        },
    })
}
