//! Everything the demo sets up through the API before the live workload:
//! the databases, a backfilled history, the continuous forecasts, the
//! webhook subscription and the pool.
//!
//! Time is compressed: one trace step is one `step` of wall time (1 s by
//! default), so every duration below is a number of steps. The history
//! ends one step before the first live tick, at step-aligned times, so the
//! backfill and the live points form one regular series.

use serde_json::{json, Value};

use super::api::{Api, ApiError};
use super::traces::Service;

/// Trace steps written as history before the live replay (a week of the
/// 30-minute NYC taxi trace).
pub const BACKFILL_STEPS: usize = 336;
/// How far ahead the pool forecasts (its lead time), in steps.
pub const LEAD_STEPS: u64 = 10;
/// How long a unit takes to start (the exec start command sleeps), in steps.
pub const PROVISION_STEPS: u64 = 3;
/// Buckets each continuous forecast writes ahead.
pub const HORIZON_STEPS: u64 = 30;
/// How often the continuous forecasts run, in steps.
pub const FORECAST_EVERY_STEPS: u64 = 5;
/// The pool's name.
pub const POOL: &str = "web";
/// The measurement the continuous forecasts write.
pub const FORECAST_MEASUREMENT: &str = "usage_forecast";
/// Cores per unit.
pub const UNIT_CORES: u64 = 4;
/// Most units.
pub const MAX_UNITS: u64 = 10;

/// The databases of the services, each once, in order.
pub fn databases(services: &[Service]) -> Vec<&'static str> {
    let mut dbs: Vec<&'static str> = Vec::new();
    for s in services {
        if !dbs.contains(&s.database) {
            dbs.push(s.database);
        }
    }
    dbs
}

/// One line of line protocol: a service's cores at `t` (seconds).
pub fn line(service: &Service, k: usize, t: i64) -> String {
    format!("usage,service={} cpu={:.4} {t}\n", service.name, service.cores(k))
}

/// Creates the databases and writes `BACKFILL_STEPS` of every trace, the
/// last at `first_tick - step` (seconds).
pub async fn backfill(api: &Api, services: &[Service], first_tick: i64, step_s: i64) -> Result<(), ApiError> {
    for db in databases(services) {
        api.query(None, &format!("CREATE DATABASE {db}")).await?;
        let mut body = String::new();
        for s in services.iter().filter(|s| s.database == db) {
            for k in 0..BACKFILL_STEPS {
                let t = first_tick - (BACKFILL_STEPS - k) as i64 * step_s;
                body.push_str(&line(s, k, t));
            }
        }
        api.write(db, body).await?;
    }
    Ok(())
}

/// The continuous forecast of one database: every service's mean CPU,
/// `HORIZON_STEPS` ahead with a 95% band, rerun every `FORECAST_EVERY_STEPS`.
pub fn forecast_query(db: &str, step_s: u64) -> String {
    format!(
        "CREATE CONTINUOUS QUERY {FORECAST_MEASUREMENT} ON {db} RESAMPLE EVERY {every}s BEGIN \
         SELECT forecast(mean(cpu), {HORIZON_STEPS}, level => 95) INTO {FORECAST_MEASUREMENT} FROM usage \
         GROUP BY time({step_s}s), service END",
        every = FORECAST_EVERY_STEPS * step_s,
    )
}

/// Creates one continuous forecast per database.
pub async fn continuous_forecasts(api: &Api, services: &[Service], step_s: u64) -> Result<(), ApiError> {
    for db in databases(services) {
        api.query(Some(db), &forecast_query(db, step_s)).await?;
    }
    Ok(())
}

/// Subscribes the receiver at `url` to every event, with `secret`.
pub async fn subscribe(api: &Api, url: &str, secret: &str) -> Result<Value, ApiError> {
    let body = json!({"url": url, "types": ["*"], "secret": secret, "description": "augur demo: prints every event"});
    api.post_json("/v1/webhooks", &body).await
}

/// The pool: cores for acme's `web` service, forecast `LEAD_STEPS` ahead
/// at p95, units started by the `exec` provider. A unit is simulated: its
/// start command sleeps `PROVISION_STEPS` (provisioning) and reports
/// `unit_address` (the demo's receiver) as its address.
pub fn pool_definition(step_s: u64, unit_address: &str) -> Value {
    let s = |steps: u64| format!("{}s", steps * step_s);
    json!({
        "name": POOL,
        "dimensions": ["cpu_cores"],
        "shapes": [{"name": format!("core{UNIT_CORES}"), "capacity": {"cpu_cores": UNIT_CORES}, "hourly_cost": 0.2}],
        "min": 1, "max": MAX_UNITS,
        "lead_time": s(LEAD_STEPS),
        "interval": s(1),
        "history": s(600),
        "unit_timeout": s(60),
        "safety": {"quantile": 95, "margin_pct": 10},
        "scale_up_cooldown": s(2),
        "scale_down_stabilization": s(4),
        "demand": {"cpu_cores": {"database": "acme",
            "query": format!("SELECT sum(cpu) FROM usage WHERE service = 'web' GROUP BY time({step_s}s)")}},
        "provider": {"kind": "exec",
            "start": ["sh", "-c", format!("sleep {}; echo {unit_address}", PROVISION_STEPS * step_s)],
            "stop": ["true"]},
    })
}

/// Creates the pool.
pub async fn pool(api: &Api, step_s: u64, unit_address: &str) -> Result<Value, ApiError> {
    api.post_json("/v1/pools", &pool_definition(step_s, unit_address)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn definitions_scale_with_the_step() {
        let q = forecast_query("acme", 2);
        assert!(q.contains("RESAMPLE EVERY 10s") && q.contains("GROUP BY time(2s), service"), "{q}");
        assert!(augur_query::parse_query(&q).is_ok(), "{q}");
        let p = pool_definition(2, "127.0.0.1:9");
        assert_eq!(p["lead_time"], "20s");
        assert_eq!(p["provider"]["start"][2], "sleep 6; echo 127.0.0.1:9");
        let spec = crate::pools::spec::PoolSpec::from_json(p.to_string().as_bytes()).expect("decodes");
        spec.validate().expect("a valid pool");
    }
}
