//! `CREATE RETENTION POLICY`, `SHOW RETENTION POLICIES`, and InfluxDB's
//! rules for policy durations.
//!
//! The rules (minimum duration, shard durations derived from the policy's
//! duration, `INF` as `0s`) are InfluxDB's meta-store rules; they live here,
//! in the language, because the store only keeps what it is given.

use augur_engine::storage::{default_shard_duration, RetentionPolicy, Store};
use serde_json::Value;

use super::ExecError;
use crate::ast::{CreateRetentionPolicy, RetentionPolicySpec};
use crate::duration::format_duration;
use crate::result::Series;

/// One hour in nanoseconds.
const HOUR_NS: i64 = 3_600_000_000_000;
/// The shortest finite retention (and shard) duration InfluxDB allows.
pub(super) const MIN_DURATION_NS: i64 = HOUR_NS;
/// The policy name `CREATE DATABASE ... WITH` uses when it names none.
const AUTOGEN: &str = "autogen";

/// Builds and validates a policy the way InfluxDB does: shard durations
/// below the minimum are raised to it, a finite duration must be at least
/// an hour and at least the shard duration.
fn build_policy(
    name: &str,
    duration: Option<i64>,
    replication: u32,
    shard_duration: Option<i64>,
    default: bool,
) -> Result<RetentionPolicy, ExecError> {
    let shard = match shard_duration {
        None | Some(0) => default_shard_duration(duration),
        Some(d) if d < MIN_DURATION_NS => default_shard_duration(Some(MIN_DURATION_NS)),
        Some(d) => d,
    };
    if let Some(d) = duration {
        if d < MIN_DURATION_NS {
            return Err(ExecError::DurationTooShort);
        }
        if d < shard {
            return Err(ExecError::ShorterThanShard);
        }
    }
    Ok(RetentionPolicy {
        name: name.to_string(),
        duration_ns: duration,
        shard_group_duration_ns: shard,
        replication,
        default,
    })
}

/// The default policy that `CREATE DATABASE ... WITH` asks for.
pub(super) fn policy_from_spec(spec: &RetentionPolicySpec) -> Result<RetentionPolicy, ExecError> {
    build_policy(
        spec.name.as_deref().unwrap_or(AUTOGEN),
        spec.duration.flatten(),
        spec.replication.unwrap_or(1),
        spec.shard_duration,
        true,
    )
}

/// Creates a retention policy.
pub(super) fn create(store: &Store, create: &CreateRetentionPolicy) -> Result<Vec<Series>, ExecError> {
    let policy =
        build_policy(&create.name, create.duration, create.replication, create.shard_duration, create.default)?;
    store.create_retention_policy(&create.database, policy)?;
    Ok(Vec::new())
}

/// The database's policies: one unnamed series with InfluxDB 1.8's columns.
pub(super) fn show(store: &Store, database: &str) -> Result<Vec<Series>, ExecError> {
    let mut series = Series::new(None, &["name", "duration", "shardGroupDuration", "replicaN", "default"]);
    series.values = store
        .retention_policies(database)?
        .into_iter()
        .map(|rp| {
            vec![
                Value::String(rp.name),
                Value::String(format_duration(rp.duration_ns.unwrap_or(0))),
                Value::String(format_duration(rp.shard_group_duration_ns)),
                Value::from(rp.replication),
                Value::Bool(rp.default),
            ]
        })
        .collect();
    Ok(vec![series])
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY_NS: i64 = 24 * HOUR_NS;

    #[test]
    fn shard_durations_follow_influxdb() {
        let sgd = |d: Option<i64>, s: Option<i64>| {
            build_policy("r", d, 1, s, false).map(|p| format_duration(p.shard_group_duration_ns))
        };
        assert_eq!(sgd(None, None).ok().as_deref(), Some("168h0m0s"));
        assert_eq!(sgd(Some(7 * DAY_NS), None).ok().as_deref(), Some("24h0m0s"));
        assert_eq!(sgd(Some(HOUR_NS), None).ok().as_deref(), Some("1h0m0s"));
        assert_eq!(sgd(Some(400 * DAY_NS), Some(HOUR_NS / 2)).ok().as_deref(), Some("1h0m0s"));
        assert_eq!(sgd(None, Some(HOUR_NS / 2)).ok().as_deref(), Some("1h0m0s"));
        // InfluxDB's boundaries: 2 days and 180 days belong to the longer shard.
        assert_eq!(sgd(Some(2 * DAY_NS - HOUR_NS), None).ok().as_deref(), Some("1h0m0s"));
        assert_eq!(sgd(Some(2 * DAY_NS), None).ok().as_deref(), Some("24h0m0s"));
        assert_eq!(sgd(Some(180 * DAY_NS - HOUR_NS), None).ok().as_deref(), Some("24h0m0s"));
        assert_eq!(sgd(Some(180 * DAY_NS), None).ok().as_deref(), Some("168h0m0s"));
        // A database the store creates itself reports the same (its
        // `autogen` under a default retention of exactly 180 days was 1
        // day while `CREATE RETENTION POLICY` said 7).
        assert_eq!(default_shard_duration(Some(180 * DAY_NS)), 7 * 24 * HOUR_NS);
    }

    #[test]
    fn durations_are_validated() {
        assert!(matches!(build_policy("r", Some(HOUR_NS / 2), 1, None, false), Err(ExecError::DurationTooShort)));
        assert!(matches!(
            build_policy("r", Some(90 * 60 * 1_000_000_000), 1, Some(2 * HOUR_NS), false),
            Err(ExecError::ShorterThanShard)
        ));
        assert_eq!(ExecError::DurationTooShort.to_string(), "retention policy duration must be at least 1h0m0s");
    }

    #[test]
    fn spec_defaults_to_autogen_infinite() {
        let p = policy_from_spec(&RetentionPolicySpec::default()).ok();
        assert_eq!(p.as_ref().map(|p| p.name.as_str()), Some("autogen"));
        assert_eq!(p.as_ref().and_then(|p| p.duration_ns), None);
        assert_eq!(p.map(|p| (p.replication, p.default)), Some((1, true)));
    }
}
